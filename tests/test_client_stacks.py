"""The client's TLS stack, recognized from its ClientHello, and what the verdict makes of an empty Certificate.

Truth comes from samples/client-stacks/MANIFEST.tsv, written from how each capture was made: which program
was the client (`stack`), what it held (`client_held`), and what it did with it (`observed`, read with
tshark and the key log). The other samples were made with curl, openssl s_client, Python's ssl and
gnutls-cli (samples/README.md, samples/tls13-stacks/MANIFEST.tsv).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport
from tlscap.tls.client_stacks import KNOWN_HELLOS
from tlscap.tls.keylog import load_keylog_file

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STACKS_DIR = SAMPLES / "client-stacks"
ROWS = list(csv.DictReader((STACKS_DIR / "MANIFEST.tsv").open(newline=""), delimiter="\t"))
# The manifest's client programs, and the family each belongs to.
FAMILY = {
    "java-jsse-17": "java-jsse", "go-1.19": "go", "curl-openssl": "openssl", "openssl-s_client": "openssl",
    "python-ssl": "openssl", "gnutls": "gnutls", "wget": "gnutls", "chromium": "boringssl", "firefox": "nss",
}
# The words a verdict uses for "this stack left its certificate out because of the CA list".
MECHANISM = "only when its chain reaches one of the CA names the server lists"


def _analyze(capture: Path, keys: bool) -> CaptureReport:
    keylog = load_keylog_file(capture.with_suffix(".keylog")) if keys else None
    return analyze_capture(str(capture), AnalysisOptions(keylog=keylog))


def _verdict_text(conn) -> str:
    d = conn.diagnosis
    return " ".join([d.summary, d.fix, *d.alternatives, d.decide_with or ""])


def test_every_client_of_the_samples_is_recognized() -> None:
    missed = []
    for row in ROWS:
        for conn in _analyze(STACKS_DIR / row["file"], keys=False).connections:
            match = conn.client_stack
            if match is None or match.stack.family != FAMILY[row["stack"]]:
                missed.append(f"{row['file']} conn {conn.id}: {row['stack']} read as "
                              f"{match.stack.family if match else None}")
    assert missed == []


@pytest.mark.parametrize("row", [r for r in ROWS if r["case"] == "unlisted-ca" and "(unlisted)" in r["client_held"]
                                 or r["case"] == "unlisted-ca" and r["set"] == "java-go"],
                         ids=lambda r: r["file"])
def test_what_the_table_says_of_a_stack_is_what_it_did_with_an_unlisted_certificate(row) -> None:
    """A client that held a certificate from an unlisted CA either sent it or an empty Certificate: the
    table's `selects_by_ca_list` must say which."""
    filtered = row["observed"].startswith("held a certificate, sent an empty Certificate")
    conns = _analyze(STACKS_DIR / row["file"], keys=False).connections
    answered = [c for c in conns if c.client_stack is not None]
    assert answered and all(c.client_stack.stack.selects_by_ca_list == filtered for c in answered)


FILTERED = [r for r in ROWS if r["set"] == "java-go" and r["case"] in ("unlisted-ca", "leaf-without-intermediate")]


@pytest.mark.parametrize("keys", [True, False], ids=["keys", "plain"])
@pytest.mark.parametrize("row", FILTERED, ids=lambda r: r["file"])
def test_a_certificate_filtered_out_by_the_ca_list_is_named_so(row, keys) -> None:
    """Java and Go held a certificate and sent an empty Certificate: the verdict names the selection by CA
    list and the CAs the server listed (in TLS 1.3 without keys the list is encrypted, and it says so)."""
    assert row["client_certificate"] == "empty"
    conn = _analyze(STACKS_DIR / row["file"], keys).connections[0]
    d = conn.diagnosis
    assert (d.cause, d.side, d.certainty) == ("client-cert-not-sent", "client", "likely")
    text = _verdict_text(conn)
    assert MECHANISM in text
    assert {"client-cert-wrong-ca", "client-chain-incomplete"} <= set(d.alternatives)
    assert "keytool -list -v" in d.decide_with if row["stack"].startswith("java") else "LoadX509KeyPair" in d.fix
    if keys or row["tls"] == "TLS 1.2":
        for name in row["ca_names"].split("; "):
            assert name in text
    else:
        assert "encrypted here" in text


# Empty Certificates from clients that send what they are given: curl, openssl s_client, Python ssl, gnutls-cli.
OPENSSL_EMPTY = [
    "tls12-no-client-cert.pcap", "tls13-no-client-cert.pcap", "tls12-alert-no-client-cert.pcap",
    "tls13-alert-no-client-cert.pcap", "verdict/tls12-no-cert.pcap", "verdict/tls13-no-cert.pcap",
    *(f"tls13-stacks/tls13-{server}-{client}-nocert.pcap" for server in ("nginx", "apache", "haproxy", "gnutls",
                                                                        "python", "sserver")
      for client in ("curl", "sclient", "python", "gnutls")),
]


@pytest.mark.parametrize("relative", OPENSSL_EMPTY)
def test_an_empty_certificate_from_curl_or_openssl_is_not_put_on_the_ca_list(relative) -> None:
    capture = SAMPLES / relative
    assert capture.is_file(), f"the sample {capture} is missing"
    conns = _analyze(capture, keys=capture.with_suffix(".keylog").exists()).connections
    empty = [c for c in conns if c.diagnosis.cause == "client-cert-not-sent"]
    assert empty, "the sample was built with an empty client Certificate"
    for conn in empty:
        assert conn.client_stack is not None and not conn.client_stack.stack.selects_by_ca_list
        text = _verdict_text(conn)
        assert MECHANISM not in text and "not issued by a listed CA" not in text
        assert "has no certificate configured" in text


def test_the_sample_lists_name_real_files() -> None:
    assert [r for r in OPENSSL_EMPTY if not (SAMPLES / r).is_file()] == []


def test_every_table_entry_is_a_distinct_hello() -> None:
    parts = list(KNOWN_HELLOS)
    assert len(parts) == len(set(parts))


def test_a_truststore_holding_an_unlisted_ca_adds_the_server_side_reading(tmp_path) -> None:
    """The server was meant to trust the partner root too (a truststore of root, client CA and partner root)
    but lists only the first two: server-ca-not-loaded joins the alternatives, and the fix says to reload."""
    from tlscap.pki.truststore import load_truststore

    pki = STACKS_DIR / "pki"
    bundle = tmp_path / "configured.pem"
    bundle.write_text("".join((pki / n).read_text() for n in ("root-ca.pem", "client-ca.pem", "partner-root-ca.pem")))
    capture = STACKS_DIR / "java-tls12-unlisted-ca.pcap"
    report = analyze_capture(str(capture), AnalysisOptions(
        keylog=load_keylog_file(capture.with_suffix(".keylog")), truststore=load_truststore([str(bundle)])))
    d = report.connections[0].diagnosis
    assert (d.cause, d.certainty) == ("client-cert-not-sent", "likely")
    assert "server-ca-not-loaded" in d.alternatives
    assert "Stack Partner Root CA" in d.summary and "reload the server" in d.fix


def test_every_client_in_every_sample_is_in_the_table() -> None:
    """Every sample was made by a client the project ran (curl, openssl s_client, Python, GnuTLS, Java, Go,
    the browsers; samples/README.md and the MANIFESTs say which): each of their hellos is recognized."""
    missed = [f"{path.relative_to(SAMPLES)} conn {conn.id}: {conn.client_fingerprint.ja4}"
              for path in sorted(SAMPLES.rglob("*.pcap*"))
              for conn in analyze_capture(str(path)).connections
              if conn.client_fingerprint is not None and conn.client_stack is None]
    assert missed == []
