"""--truststore on the real samples: a server that never loaded the new CA, and chains that do not verify.
The same verdicts whatever the truststore's format."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.pki.truststore import load_truststore

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
STALE = SAMPLES / "stale-truststore"
PARTNER = "CN=Partner Root CA,O=Partner Inc,C=US"


def certificates(pem: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.read_bytes())


def as_der_folder(pem: Path, folder: Path) -> Path:
    folder.mkdir()
    for i, cert in enumerate(certificates(pem)):
        (folder / f"ca{i}.cer").write_bytes(cert.public_bytes(Encoding.DER))
    return folder


def as_pkcs12(pem: Path, path: Path) -> Path:
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"truststore", None, None, certificates(pem), BestAvailableEncryption(b"changeit")))
    return path


def as_jks(pem: Path, path: Path) -> Path:
    for i, cert in enumerate(certificates(pem)):
        one = path.parent / f"jks-ca{i}.pem"
        one.write_bytes(cert.public_bytes(Encoding.PEM))
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", f"ca{i}", "-file", str(one),
                        "-keystore", str(path), "-storepass", "changeit", "-storetype", "JKS"],
                       check=True, capture_output=True, timeout=120)
    return path


FORMATS = {
    "pem": lambda pem, tmp: pem,
    "der-folder": lambda pem, tmp: as_der_folder(pem, tmp / "folder"),
    "pkcs12": lambda pem, tmp: as_pkcs12(pem, tmp / "truststore.p12"),
    "jks": lambda pem, tmp: as_jks(pem, tmp / "truststore.jks"),
}


def findings(capture: Path, truststore_pem: Path, fmt: str, tmp_path: Path) -> dict[str, str]:
    path = FORMATS[fmt](truststore_pem, tmp_path)
    truststore = load_truststore([str(path)], password="changeit")
    (conn,) = analyze_capture(str(capture), AnalysisOptions(truststore=truststore)).connections
    return {f.code: f.message for f in conn.findings}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_stale_truststore_is_recognized(fmt, tmp_path):
    found = findings(STALE / "stale-truststore.pcap", STALE / "bundle-AB.pem", fmt, tmp_path)
    message = found["ca-list-differs-from-truststore"]
    assert PARTNER in message and "did not advertise" in message
    assert "client-cert-untrusted" not in found  # the client is fine: the server is the problem


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_after_the_reload_nothing_differs(fmt, tmp_path):
    found = findings(STALE / "stale-truststore-reloaded.pcap", STALE / "bundle-AB.pem", fmt, tmp_path)
    assert found == {}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_missing_intermediate_is_named(fmt, tmp_path):
    found = findings(SAMPLES / "tls12-missing-intermediate.pcap", SAMPLES / "pki" / "trust-root-only.pem", fmt,
                     tmp_path)
    message = found["client-cert-untrusted"]
    assert "CN=Capture Lab Client CA" in message and "intermediate" in message


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_full_chain_is_trusted(fmt, tmp_path):
    found = findings(SAMPLES / "tls12-full-chain.pcap", SAMPLES / "pki" / "trust-root-only.pem", fmt, tmp_path)
    assert "client-cert-untrusted" not in found and "client-chain-broken" not in found


def test_without_truststore_behaviour_is_unchanged():
    (conn,) = analyze_capture(str(STALE / "stale-truststore.pcap")).connections
    assert {f.code for f in conn.findings} == {"client-cert-issuer-not-requested"}


def test_text_report_marks_advertised_names_and_explains_the_stale_list():
    r = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(STALE / "stale-truststore.pcap"),
                        "--truststore", str(STALE / "bundle-AB.pem"), "--format", "text"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "(in the truststore)" in r.stdout
    assert "in the truststore but not advertised" in r.stdout and PARTNER in r.stdout
    assert "older truststore" in r.stdout


def test_cli_truststore_errors_are_one_line(tmp_path):
    p12 = as_pkcs12(STALE / "bundle-AB.pem", tmp_path / "t.p12")
    for extra in (["--truststore", str(p12), "--truststore-password", "wrong"],
                  ["--truststore", str(tmp_path / "missing.pem")]):
        r = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(STALE / "stale-truststore.pcap"), *extra],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert r.stderr.count("\n") == 1


def test_expired_anchor_is_reported():
    truststore = load_truststore([str(STALE / "bundle-AB.pem")])
    capture = str(STALE / "stale-truststore-reloaded.pcap")
    (now,) = analyze_capture(capture, AnalysisOptions(truststore=truststore)).connections
    assert "truststore-cert-expired" not in {f.code for f in now.findings}
    later = AnalysisOptions(truststore=truststore, at=datetime(2040, 1, 1, tzinfo=UTC))
    (conn,) = analyze_capture(capture, later).connections
    (f,) = [f for f in conn.findings if f.code == "truststore-cert-expired"]
    assert "CN=Capture Lab Root CA" in f.message and "2038-01-01" in f.message
