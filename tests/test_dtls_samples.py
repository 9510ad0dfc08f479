"""The DTLS samples (samples/dtls, made by samples/make_dtls.sh with openssl s_server/s_client -dtls1_2 on
loopback) get the diagnosis each was built to show; MANIFEST.tsv says which, from how they were made."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tlscap.analysis.engine import analyze_capture

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "dtls"
MANIFEST = list(csv.DictReader((SAMPLES / "MANIFEST.tsv").open(), delimiter="\t"))


def test_every_sample_is_in_the_manifest():
    assert sorted(p.name for p in SAMPLES.glob("*.pcap")) == sorted(row["file"] for row in MANIFEST)
    assert len(MANIFEST) == 6


@pytest.mark.parametrize("row", MANIFEST, ids=[row["file"] for row in MANIFEST])
def test_dtls_sample_verdict(row):
    report = analyze_capture(str(SAMPLES / row["file"]))
    (conn,) = report.connections
    assert conn.transport == "udp" and conn.id == 0
    assert conn.version_code == int(row["tshark_version"], 16)
    assert conn.diagnosis is not None and conn.diagnosis.cause == row["built_to_show"]
    (request,) = conn.certificate_requests
    assert len(request.ca_names) == int(row["tshark_ca_names"])
    (sent,) = conn.client_certificates
    assert f"frame {sent.frame}:" in row["tshark_client_certificates"]
    alerts = [f"frame {a.frame}: {a.description_code}" for a in conn.alerts if not a.encrypted]
    assert (",".join(alerts) or "-") == row["tshark_alerts"]
