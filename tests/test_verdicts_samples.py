"""The verdict on every sample equals what the sample was built to show (samples/README.md, and
samples/verdict/MANIFEST.tsv for the verdict set), with the evidence each run is given.

The tables are written from how each capture was made -- which certificate the client sent, which CA
file the server had loaded, which file it was configured with -- not from tlscap's output. A run is
`plain` (the capture alone), `keys` (with the key log of the same basename) or `trust` (key log and
the truststore the server was configured with).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.server_log import LogParser, ServerLog
from tlscap.pki.truststore import load_truststore
from tlscap.tls.keylog import load_keylog_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
VERDICT = SAMPLES / "verdict"

OK_LIKELY = ("ok", "none", "likely")  # asked for a certificate, handshake done, HTTP answer unreadable
OK = ("ok", "none", "certain")
EXPIRED = ("client-cert-expired", "client", "certain")
NOT_YET = ("client-cert-not-yet-valid", "client", "certain")
NOT_SENT = ("client-cert-not-sent", "client", "certain")
WRONG_CA_LIKELY = ("client-cert-wrong-ca", "client", "likely")  # an issuer of another organization
INCOMPLETE_LIKELY = ("client-chain-incomplete", "client", "likely")  # an issuer of the listed root's organization
INCOMPLETE = ("client-chain-incomplete", "client", "certain")  # another connection carries the intermediate
NOT_LOADED = ("server-ca-not-loaded", "server", "certain")
NOT_LOADED_LIKELY = ("server-ca-not-loaded", "server", "likely")  # a newer generation of the listed CA
USAGE = ("client-cert-wrong-usage", "client", "certain")
USAGE_LIKELY = ("client-cert-wrong-usage", "client", "likely")  # the server's refusal is not readable
REKEYED = ("ca-rekeyed", "server", "certain")
REJECTED = ("client-cert-rejected", "unknown", "certain")  # HTTP 400 readable, its reason not visible
TRUNCATED = ("capture-incomplete", "capture", "certain")
HIDDEN = ("not-visible", "unknown", "undecided")  # a TLS 1.2 renegotiation without keys
# TLS 1.3 without keys, from record sizes: an empty client Certificate has one exact size; a refusal (an
# alert-sized record and the close without a ticket, or nginx closing first after its answer) is likely.
SIZES_NOT_SENT = ("client-cert-not-sent", "client", "certain")
SIZES_REJECTED = ("client-cert-rejected", "unknown", "likely")
SIZES_OK = ("ok", "none", "likely")

# samples/*.pcap: capture -> {run: verdict per connection}
CLASSIC: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "tls12-success.pcap": {"plain": [OK_LIKELY], "keys": [OK]},
    "tls12-full-chain.pcap": {"plain": [OK_LIKELY], "keys": [OK]},
    "tls12-expired-client-cert.pcap": {"plain": [EXPIRED], "keys": [EXPIRED]},
    "tls12-expired-client-cert-any.pcap": {"plain": [EXPIRED], "keys": [EXPIRED]},
    "tls12-expired-client-cert-any-sll.pcap": {"plain": [EXPIRED], "keys": [EXPIRED]},
    "tls12-unlisted-ca.pcap": {"plain": [WRONG_CA_LIKELY], "keys": [WRONG_CA_LIKELY]},
    "tls12-no-client-cert.pcap": {"plain": [NOT_SENT], "keys": [NOT_SENT]},
    "tls12-missing-intermediate.pcap": {"plain": [INCOMPLETE_LIKELY], "keys": [INCOMPLETE_LIKELY]},
    "tls12-alert-expired-client-cert.pcap": {"plain": [EXPIRED], "keys": [EXPIRED]},
    "tls12-alert-unlisted-ca.pcap": {"plain": [WRONG_CA_LIKELY], "keys": [WRONG_CA_LIKELY]},
    "tls12-alert-no-client-cert.pcap": {"plain": [NOT_SENT], "keys": [NOT_SENT]},
    "tls12-alert-missing-intermediate.pcap": {"plain": [INCOMPLETE_LIKELY], "keys": [INCOMPLETE_LIKELY]},
    "tls12-renegotiation-client-cert.pcap": {"plain": [HIDDEN], "keys": [EXPIRED]},
    "tls13-success.pcap": {"plain": [SIZES_OK], "keys": [OK]},
    "tls13-full-chain.pcap": {"plain": [SIZES_OK], "keys": [OK]},
    "tls13-expired-client-cert.pcap": {"plain": [SIZES_REJECTED], "keys": [EXPIRED]},
    "tls13-expired-client-cert-dsb.pcapng": {"plain": [EXPIRED]},  # its key log is inside the file
    "tls13-unlisted-ca.pcap": {"plain": [SIZES_REJECTED], "keys": [WRONG_CA_LIKELY]},
    "tls13-no-client-cert.pcap": {"plain": [SIZES_NOT_SENT], "keys": [NOT_SENT]},
    "tls13-missing-intermediate.pcap": {"plain": [SIZES_REJECTED], "keys": [INCOMPLETE_LIKELY]},
    "tls13-alert-expired-client-cert.pcap": {"plain": [SIZES_REJECTED], "keys": [EXPIRED]},
    "tls13-alert-unlisted-ca.pcap": {"plain": [SIZES_REJECTED], "keys": [WRONG_CA_LIKELY]},
    "tls13-alert-no-client-cert.pcap": {"plain": [SIZES_NOT_SENT], "keys": [NOT_SENT]},
    "tls13-alert-missing-intermediate.pcap": {"plain": [SIZES_REJECTED], "keys": [INCOMPLETE_LIKELY]},
    # the main handshake asks for no certificate; the request after it is encrypted, and the client closes
    # first with the server's close_notify right after, which a refusal and an ordinary end both show
    "tls13-post-handshake-auth.pcap": {"plain": [HIDDEN], "keys": [EXPIRED]},
    "snaplen-truncated.pcap": {"plain": [TRUNCATED], "keys": [TRUNCATED]},
    # success, expired client-markw, client-bob from Partner Root CA, no certificate
    "multi-connection.pcap": {"plain": [OK_LIKELY, EXPIRED, WRONG_CA_LIKELY, NOT_SENT],
                              "keys": [OK, EXPIRED, WRONG_CA_LIKELY, NOT_SENT]},
    # nginx loaded bundle-A (Capture Lab root); bundle-AB (+ Partner Root CA) was on disk, not loaded
    "stale-truststore/stale-truststore.pcap": {"plain": [WRONG_CA_LIKELY], "keys": [WRONG_CA_LIKELY],
                                               "trust:bundle-AB.pem": [NOT_LOADED]},
    "stale-truststore/stale-truststore-reloaded.pcap": {"plain": [OK_LIKELY], "keys": [OK],
                                                        "trust:bundle-AB.pem": [OK]},
    # TLS 1.3 without keys: client-alice, client-markw (expired), client-bob (Partner Root CA), no certificate;
    # the server's log names the reasons the sizes cannot. Apache's success ends as a refusal would.
    "server-log/nginx-tls13.pcap": {
        "plain": [SIZES_OK, SIZES_REJECTED, SIZES_REJECTED, SIZES_NOT_SENT],
        "log:nginx-error.log": [SIZES_OK, EXPIRED, WRONG_CA_LIKELY, NOT_SENT]},
    "server-log/apache-tls13.pcap": {
        "plain": [HIDDEN, SIZES_REJECTED, SIZES_REJECTED, SIZES_NOT_SENT],
        "log:apache-error.log": [HIDDEN, EXPIRED, WRONG_CA_LIKELY, NOT_SENT]},
}

# samples/verdict/: (TLS 1.2 verdicts by run, TLS 1.3 verdicts by run); TLS 1.3 without keys is HIDDEN.
VERDICT_SET: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "success": {"plain": [OK_LIKELY], "keys": [OK], "trust": [OK]},
    "expired": {"plain": [EXPIRED], "keys": [EXPIRED], "trust": [EXPIRED]},
    "not-yet-valid": {"plain": [NOT_YET], "keys": [NOT_YET], "trust": [NOT_YET]},
    "wrong-usage": {"plain": [USAGE_LIKELY], "keys": [USAGE], "trust": [USAGE]},
    "no-cert": {"plain": [NOT_SENT], "keys": [NOT_SENT], "trust": [NOT_SENT]},
    "foreign-ca": {"plain": [WRONG_CA_LIKELY], "keys": [WRONG_CA_LIKELY], "trust": [WRONG_CA_LIKELY]},
    "missing-intermediate": {"plain": [INCOMPLETE_LIKELY], "keys": [INCOMPLETE_LIKELY],
                             "trust": [INCOMPLETE_LIKELY]},
    # the leaf names the listed CN=Example Client CA, signed by a new key of that name
    "rekeyed-ca": {"plain": [OK_LIKELY], "keys": [REJECTED], "trust": [REKEYED]},
    # nginx loaded G1 only; the configured file holds G1 and G2; the client's CA is G2
    "stale-truststore": {"plain": [NOT_LOADED_LIKELY], "keys": [NOT_LOADED_LIKELY], "trust": [NOT_LOADED]},
    # client-ok with its intermediate, then client-dave without it
    "multi-connection": {"plain": [OK_LIKELY, INCOMPLETE], "keys": [OK, INCOMPLETE], "trust": [OK, INCOMPLETE]},
    "alert-foreign-ca": {"plain": [WRONG_CA_LIKELY], "keys": [WRONG_CA_LIKELY], "trust": [WRONG_CA_LIKELY]},
    "alert-wrong-usage": {"plain": [USAGE], "keys": [USAGE], "trust": [USAGE]},
    "alert-not-yet-valid": {"plain": [NOT_YET], "keys": [NOT_YET], "trust": [NOT_YET]},
}
# TLS 1.3 without keys, from record sizes (the TLS 1.2 "plain" runs read the plaintext handshake).
TLS13_WITHOUT_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "success": [SIZES_OK], "no-cert": [SIZES_NOT_SENT], "multi-connection": [SIZES_OK, SIZES_REJECTED],
    **{name: [SIZES_REJECTED] for name in (
        "expired", "not-yet-valid", "wrong-usage", "foreign-ca", "missing-intermediate", "rekeyed-ca",
        "stale-truststore", "alert-foreign-ca", "alert-wrong-usage", "alert-not-yet-valid")},
}
# samples/client-stacks/ (MANIFEST.tsv): Java, Go and other clients against nginx. An empty Certificate from a
# client that picks its certificate by the CA list (Java, Go, wget/GnuTLS, browsers) is "not sent", but only
# likely "none configured"; curl, s_client, Python and gnutls-cli sent a chain from the unlisted Partner root.
SELECTED_OUT = ("client-cert-not-sent", "client", "likely")
# The browsers opened spare connections and closed them after the server's flight, without a word.
GAVE_UP = ("handshake-failed", "unknown", "likely")
CLIENT_STACKS: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    **{f"{client}-{version}-success.pcap": {"plain": [OK_LIKELY], "keys": [OK]}
       for client in ("java", "go") for version in ("tls12",)},
    # TLS 1.3 without keys: the client closed first and nginx closed right after, as it does after a 400
    # too, so the sizes cannot tell an answer from a refusal.
    **{f"{client}-tls13-success.pcap": {"plain": [HIDDEN], "keys": [OK]} for client in ("java", "go")},
    **{f"{client}-{version}-{case}.pcap": {"plain": [SELECTED_OUT], "keys": [SELECTED_OUT]}
       for client in ("java", "go") for version in ("tls12", "tls13")
       for case in ("unlisted-ca", "leaf-without-intermediate", "no-keystore")},
    **{f"{client}-unlisted-ca.pcap": {"plain": [HIDDEN], "keys": [WRONG_CA_LIKELY]}
       for client in ("curl", "openssl-s_client", "python-ssl-system", "python-ssl-venv", "gnutls-cli")},
    "wget-unlisted-ca.pcap": {"plain": [SELECTED_OUT], "keys": [SELECTED_OUT]},
    # wget closed first and nginx did not close after it: the connection went on
    "wget-success.pcap": {"plain": [SIZES_OK], "keys": [OK]},
    # two spare connections, the request with an empty Certificate, then a resumed session (no
    # CertificateRequest) that nginx answers "400 No required SSL certificate was sent"; without keys
    # that refusal after the resumed handshake is all the sizes show
    "chromium-no-keystore.pcap": {"plain": [GAVE_UP, GAVE_UP, SELECTED_OUT, ("handshake-failed", "unknown", "likely")],
                                  "keys": [GAVE_UP, GAVE_UP, SELECTED_OUT, NOT_SENT]},
    "firefox-unlisted-ca.pcap": {"plain": [GAVE_UP, GAVE_UP, SELECTED_OUT], "keys": [GAVE_UP, GAVE_UP, SELECTED_OUT]},
}
# The truststore each verdict-set server was configured with (samples/verdict/MANIFEST.tsv).
CONFIGURED = {
    "missing-intermediate": "pki/trust-root-only.pem",
    "multi-connection": "pki/trust-root-only.pem",
    "stale-truststore": "pki/trust-g1-g2.pem",
}
DEFAULT_TRUST = "pki/trust-root-and-client-ca.pem"


def _runs() -> list[tuple[Path, str, list[tuple[str, str, str]]]]:
    out = []
    for name, runs in CLASSIC.items():
        for run, expected in runs.items():
            out.append((SAMPLES / name, run, expected))
    for scenario, runs in VERDICT_SET.items():
        trust = "trust:" + CONFIGURED.get(scenario, DEFAULT_TRUST)
        for version in ("tls12", "tls13"):
            capture = VERDICT / f"{version}-{scenario}.pcap"
            for run, expected in runs.items():
                if version == "tls13" and run == "plain":
                    expected = TLS13_WITHOUT_KEYS[scenario]
                out.append((capture, trust if run == "trust" else run, expected))
    for name, runs in CLIENT_STACKS.items():
        for run, expected in runs.items():
            out.append((SAMPLES / "client-stacks" / name, run, expected))
    return out


RUNS = _runs()


def analyze(capture: Path, run: str):
    keylog = truststore = server_log = None
    if run.startswith("log:"):  # the server's error log of the same run (written in UTC), no key log
        parser = LogParser(timedelta(0))
        lines = (capture.parent / run.split(":", 1)[1]).read_text().splitlines()
        messages = [m for n, line in enumerate(lines, 1) if (m := parser.parse(line, f"log:{n}")) is not None]
        server_log = ServerLog(messages, timedelta(0))
    elif run != "plain":
        keylog = load_keylog_file(capture.with_suffix(".keylog"))
    if run.startswith("trust:"):
        truststore = load_truststore([str(capture.parent / run.split(":", 1)[1])])
    return analyze_capture(str(capture), AnalysisOptions(keylog=keylog, truststore=truststore, server_log=server_log))


@pytest.mark.parametrize(("capture", "run", "expected"), RUNS,
                         ids=[f"{c.relative_to(SAMPLES)}-{r.split(':')[0]}" for c, r, _ in RUNS])
def test_verdict_is_what_the_sample_was_built_to_show(capture, run, expected):
    report = analyze(capture, run)
    got = [(c.diagnosis.cause, c.diagnosis.side, c.diagnosis.certainty) for c in report.connections]
    assert got == expected


def test_every_sample_is_in_a_table():
    listed = {SAMPLES / name for name in CLASSIC} | {c for c, _, _ in RUNS} | set(STACKS)
    listed |= set((SAMPLES / "dtls").glob("*.pcap"))  # held to their MANIFEST.tsv by test_dtls_samples.py
    present = {*SAMPLES.rglob("*.pcap"), *SAMPLES.rglob("*.pcapng")}
    assert present == listed


# samples/tls13-stacks/: one TLS 1.3 connection per file, by server, client and scenario (MANIFEST.tsv).
# With its key log, each reads as its scenario was built: the good client's chain, no certificate, a
# client certificate from a CA the server does not trust (another organization), an expired one, and a
# server that asks for none.
STACK_VERDICTS = {
    "ok": ("ok", "none", "certain"),
    "norequest": ("ok", "none", "certain"),
    "nocert": ("client-cert-not-sent", "client", "certain"),
    "rejected": ("client-cert-wrong-ca", "client", "likely"),
    # the Python ssl server lists no CA names: its unknown_ca alert is the only reason shown
    "python:rejected": ("client-cert-rejected", "unknown", "certain"),
    "expired": ("client-cert-expired", "client", "certain"),
}


def _stacks() -> dict[Path, str]:
    manifest = SAMPLES / "tls13-stacks" / "MANIFEST.tsv"  # a missing one fails the collection, naming it
    rows = [line.split("\t") for line in manifest.read_text().splitlines()[1:]]
    return {SAMPLES / "tls13-stacks" / row[0]: row[3] for row in rows}


STACKS = _stacks()


@pytest.mark.parametrize("capture", sorted(STACKS), ids=[p.name for p in sorted(STACKS)])
def test_every_tls13_stack_sample_reads_as_built_with_its_key_log(capture):
    (conn,) = analyze(capture, "keys").connections
    assert conn.decrypted
    server, scenario = capture.name.split("-")[1], STACKS[capture]
    expected = STACK_VERDICTS.get(f"{server}:{scenario}", STACK_VERDICTS[scenario])
    assert (conn.diagnosis.cause, conn.diagnosis.side, conn.diagnosis.certainty) == expected


def test_the_tls13_stacks_are_there():
    servers = {p.name.split("-")[1] for p in STACKS}
    assert {"nginx", "apache", "haproxy", "sserver", "gnutls", "python"} <= servers


def test_the_tables_follow_the_manifest():
    """MANIFEST.tsv records what each verdict sample was built to show and which file the server was configured
    with; the table above must say the same."""
    rows = [line.split("\t") for line in (VERDICT / "MANIFEST.tsv").read_text().splitlines()[1:]]
    built = {}
    for row in rows:
        built.setdefault(row[0], []).append(row[3])
        scenario = row[0].split("-", 1)[1].removesuffix(".pcap")
        assert row[4] == CONFIGURED.get(scenario, DEFAULT_TRUST), row[0]
    for file, causes in built.items():
        scenario = file.split("-", 1)[1].removesuffix(".pcap")
        expected = [c for c, _, _ in VERDICT_SET[scenario]["trust"]]
        assert [c if c.startswith(("ok", "client", "server")) else "ca-rekeyed" for c in causes] == expected, file


@pytest.mark.parametrize("version", ["tls12", "tls13"])
def test_foreign_ca_is_never_told_to_send_an_intermediate(version):
    for name in ("foreign-ca", "alert-foreign-ca"):
        capture = VERDICT / f"{version}-{name}.pcap"
        for run in ("keys", "trust:" + DEFAULT_TRUST):
            (conn,) = analyze(capture, run).connections
            words = [conn.diagnosis.fix, conn.diagnosis.summary, *(f.fix for f in conn.findings)]
            assert not any("intermediate" in w for w in words), (capture.name, run, words)
            assert "client-chain-incomplete" not in conn.diagnosis.alternatives


@pytest.mark.parametrize("version", ["tls12", "tls13"])
def test_incomplete_chain_names_the_intermediate_another_connection_carries(version):
    first, second = analyze(VERDICT / f"{version}-multi-connection.pcap", "keys").connections
    sent = first.client_certificate.chain[1]  # client-ok's chain: leaf, then CN=Example Client CA
    d = second.diagnosis
    assert sent.subject_rfc4514 == "CN=Example Client CA,O=Example Corp,C=US"
    assert f"send the intermediate {sent.subject_rfc4514}" in d.fix
    assert "which another connection (or capture) shows" in d.summary


def test_stale_truststore_fix_reloads_the_server():
    (conn,) = analyze(VERDICT / "tls12-stale-truststore.pcap", "trust:pki/trust-g1-g2.pem").connections
    d = conn.diagnosis
    assert d.fix.startswith("Server side: make the server load the truststore that holds "
                            "CN=Example Client CA G2,O=Example Corp,C=US")
    assert "nginx -s reload" in d.fix and d.alternatives == () and d.decide_with is None
    assert [f.code for f in conn.findings][:2] == ["client-cert-issuer-not-requested",
                                                   "ca-list-differs-from-truststore"]


def test_symptoms_are_evidence_not_causes():
    """nginx's HTTP 400 after an expired certificate, and s_server's handshake_failure after an empty
    Certificate, are evidence of the cause, listed in `evidence`."""
    (conn,) = analyze(SAMPLES / "tls12-expired-client-cert.pcap", "keys").connections
    codes = [f.code for f in conn.findings]
    assert codes == ["client-cert-expired", "http-error-after-handshake"]
    assert conn.diagnosis.evidence == (0, 1)
    (conn,) = analyze(SAMPLES / "tls12-alert-no-client-cert.pcap", "plain").connections
    alert = next(f for f in conn.findings if f.code == "handshake-alert")
    assert "got none" in alert.message and "configure the client with its certificate" in alert.fix
    assert conn.diagnosis.cause == "client-cert-not-sent"


def test_json_summary_counts_each_connection_once():
    from tlscap.analysis.model import Report
    from tlscap.report.json_report import render_json

    report = Report(captures=[analyze(VERDICT / "tls12-multi-connection.pcap", "keys")])
    summary = json.loads(render_json(report))["summary"]
    assert summary["connections_by_cause"] == {"ok": 1, "client-chain-incomplete": 1}


def test_scan_settles_an_incomplete_chain_with_another_capture(tmp_path):
    """Alone, a leaf without its intermediate is only likely an incomplete chain; in a scan where another
    capture carries that intermediate (client-ok sends it), the verdict is certain."""
    import shutil
    import subprocess
    import sys

    for name in ("tls12-missing-intermediate.pcap", "tls12-success.pcap"):
        shutil.copy(VERDICT / name, tmp_path / name)
    alone = analyze(tmp_path / "tls12-missing-intermediate.pcap", "plain").connections[0].diagnosis
    assert (alone.cause, alone.certainty) == ("client-chain-incomplete", "likely")
    for fmt in ("json", "jsonl"):
        out = subprocess.run([sys.executable, "-m", "tlscap", "scan", str(tmp_path), "--format", fmt, "--quiet",
                              "--fail-on", "never", "--jobs", "2"], capture_output=True, text=True, check=True,
                             cwd=ROOT, timeout=120).stdout
        if fmt == "json":
            conns = [(cap["path"], c) for cap in json.loads(out)["captures"] for c in cap["connections"]]
        else:
            conns = [(c["capture"], c) for c in map(json.loads, out.splitlines())]
        verdicts = {Path(path).name: (c["diagnosis"]["cause"], c["diagnosis"]["certainty"]) for path, c in conns}
        # JSON Lines streams each file as it finishes, judged with its own certificates alone.
        settled = "certain" if fmt == "json" else "likely"
        assert verdicts == {"tls12-missing-intermediate.pcap": ("client-chain-incomplete", settled),
                            "tls12-success.pcap": ("ok", "likely")}, fmt
    # analyze with several captures judges them together, as the scan does
    out = subprocess.run([sys.executable, "-m", "tlscap", "analyze", *sorted(map(str, tmp_path.iterdir())),
                          "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    first = json.loads(out)["captures"][0]
    assert first["path"].endswith("tls12-missing-intermediate.pcap")
    assert first["connections"][0]["diagnosis"]["certainty"] == "certain"
