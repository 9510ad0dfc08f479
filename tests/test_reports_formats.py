"""The md, html and csv reports and the grouping behind their summaries, on models built in the test
(hostile strings included) and on the real samples."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from connection_pieces import handshake_entry
from pki_factory import issue, name

from tlscap.analysis.diagnosis import CAUSE_SIDES
from tlscap.analysis.engine import analyze_capture
from tlscap.analysis.model import (
    AlertEntry,
    CaptureReport,
    CertificateChainInfo,
    CertificateRequestInfo,
    Connection,
    Diagnosis,
    Endpoint,
    Finding,
    Report,
    TcpEndEntry,
)
from tlscap.errors import CaptureIssue
from tlscap.report.csv_report import BOM, HEADER, neutralize, render_csv
from tlscap.report.grouping import group_causes, render_groups_text
from tlscap.report.html_ladder import ladder_arrows, ladder_svg
from tlscap.report.html_report import render_html
from tlscap.report.markdown_report import md, render_markdown
from tlscap.tls.constants import HandshakeType

ROOT = Path(__file__).resolve().parents[1]
MULTI = ROOT / "samples" / "multi-connection.pcap"
T0 = int(datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC).timestamp()) * 1_000_000_000
SCRIPT = "<script>alert(1)</script>"
EVIL_SNI = '"><img src=x onerror=alert(2)>'


def connection(
    conn_id: int,
    *,
    client_ip: str = "10.0.0.5",
    server: tuple[str, int] = ("203.0.113.10", 443),
    chain: tuple = (),
    ca_names: tuple[str, ...] = ("CN=My Company Client CA,O=My Company,C=US",),
    code: str = "client-cert-expired",
    message: str = "the client certificate expired",
    sni: str | None = "api.example.com",
    at_ns: int = T0,
) -> Connection:
    """A failed TLS 1.2 mutual-TLS connection: hello, CertificateRequest, client Certificate, alert, RST."""
    frames = {1: at_ns, 2: at_ns + 1_000_000, 3: at_ns + 2_000_000, 4: at_ns + 3_000_000, 5: at_ns + 4_000_000}
    return Connection(
        id=conn_id, client=Endpoint(ip=client_ip, port=50000 + conn_id), server=Endpoint(ip=server[0], port=server[1]),
        first_frame=1, last_frame=5, first_time_ns=at_ns, last_time_ns=at_ns + 4_000_000, sni=sni, version="TLS 1.2",
        version_code=0x0303,
        handshake=[
            handshake_entry(1, "client", HandshakeType.CLIENT_HELLO),
            handshake_entry(2, "server", HandshakeType.SERVER_HELLO),
            handshake_entry(2, "server", HandshakeType.CERTIFICATE_REQUEST),
            handshake_entry(3, "client", HandshakeType.CERTIFICATE),
        ],
        certificate_requests=[CertificateRequestInfo(
            frame=2, frames=(2,), ca_names=ca_names, ca_names_der=(), signature_algorithms=("rsa_pss_rsae_sha256",),
            signature_algorithm_codes=(0x0804,), certificate_types=("rsa_sign",), certificate_type_codes=(1,))],
        client_certificates=[CertificateChainInfo(frame=3, frames=(3,), sender="client", chain=chain)],
        alerts=[AlertEntry(frame=4, frames=(4,), sender="server", level="fatal", description="certificate_expired",
                           encrypted=False)],
        tcp_ends=[TcpEndEntry(frame=5, sender="server", kind="RST")],
        frame_times_ns=frames, outcome="failed",
        findings=[Finding(code=code, severity="error", frames=(3,), message=message, fix="issue a new certificate")],
        diagnosis=Diagnosis(cause=code, side=CAUSE_SIDES.get(code, "unknown"), certainty="certain", summary=message,
                            fix="issue a new certificate", frames=(2, 3), evidence=(0,)),
    )


@pytest.fixture(scope="module")
def hostile() -> Report:
    """A report whose capture strings try to break out of every format."""
    ca = issue(name("Evil CA", o="Evil | Corp *bold* [x](javascript:alert(3))"), ca=True)
    leaf = issue(name("client", o="=cmd|' /C calc'!A0"), ca)
    # RFC 4514 would print the name as CN=\<script\>...: the subject is set as a capture could hold it.
    leaf_summary = replace(leaf.summary, subject_rfc4514=SCRIPT, issuer_rfc4514=ca.summary.subject_rfc4514)
    conn = connection(0, chain=(leaf_summary, ca.summary), ca_names=(f"CN={SCRIPT}", "CN=a|b,O=`tick```"),
                      message=f"the client certificate {SCRIPT} expired | ``` [x](javascript:alert(3))", sni=EVIL_SNI)
    cap = CaptureReport(path="captures/<b>x|y</b>.pcap", format="pcap", link_types=["ETHERNET"],
                        link_titles=["Ethernet"], frames=5, first_time_ns=T0, last_time_ns=T0 + 4_000_000,
                        connections=[conn],
                        errors=[CaptureIssue(code="truncated-file", message="cut after =1+2 frames <i>")])
    return Report(captures=[cap])


# --------------------------------------------------------------------------- grouping


def test_37_clients_with_one_expired_certificate_against_3_routers_is_one_group():
    leaf = issue(name("client-markw")).summary
    routers = [("192.0.2.1", 443), ("192.0.2.2", 443), ("192.0.2.3", 443)]
    conns = [connection(i, client_ip=f"10.0.{i // 200}.{i % 200 + 1}", server=routers[i % 3], chain=(leaf,),
                        at_ns=T0 + i * 60_000_000_000) for i in range(37)]
    other = connection(99, chain=(), code="client-cert-not-sent", at_ns=T0 + 5)
    report = Report(captures=[CaptureReport(path="a.pcap", connections=conns[:20]),
                              CaptureReport(path="b.pcap", connections=[*conns[20:], other])])
    causes = group_causes(report)
    assert [c.code for c in causes] == ["client-cert-expired", "client-cert-not-sent"]
    (group,) = causes[0].groups
    assert group.connections == 37 and len(group.clients) == 37 and len(group.servers) == 3
    assert group.client_cert == leaf.sha256_hex and len(group.captures) == 2
    assert group.first_ns == T0 and group.last_ns == T0 + 36 * 60_000_000_000
    assert causes[1].groups[0].client_cert == "none"
    text = render_groups_text(report)
    rows = [line for line in text.splitlines() if line.startswith("client-cert-expired")]
    assert len(rows) == 2  # one in the causes table, one in the groups table
    assert "3 servers:" in text and all(f"192.0.2.{i}:443" in text for i in (1, 2, 3))
    assert "2026-11-20 09:14:03Z" in text and "2026-11-20 09:50:03Z" in text


def test_groups_split_by_advertised_ca_list_and_skip_info_findings():
    leaf = issue(name("client-a")).summary
    a = connection(0, chain=(leaf,), ca_names=("CN=A",))
    b = connection(1, chain=(leaf,), ca_names=("CN=B",))
    info = connection(2, chain=(leaf,))
    info.findings = [Finding(code="ca-list-empty", severity="info", frames=(2,), message="m", fix="f")]
    info.diagnosis = Diagnosis(cause="ok", side="none", certainty="certain", summary="ok", fix="Nothing to fix.")
    causes = group_causes(Report(captures=[CaptureReport(path="x.pcap", connections=[a, b, info])]))
    assert [(c.code, len(c.groups)) for c in causes] == [("client-cert-expired", 2)]


# --------------------------------------------------------------------------- csv


def test_csv_has_one_row_per_finding_and_capture_error():
    report = Report(captures=[analyze_capture(str(MULTI))])
    rows = list(csv.reader(io.StringIO(render_csv(report).removeprefix(BOM))))
    assert tuple(rows[0]) == HEADER
    findings = [(c.id, f.code) for c in report.captures[0].connections for f in c.findings]
    assert [(int(r[1]), r[8]) for r in rows[1:]] == findings
    first = rows[1]
    assert first[0] == str(MULTI) and first[2].startswith("127.0.0.1:") and first[4] == "localhost"
    # connection 1 of the sample: curl sent the expired client-markw
    assert first[5:8] == ["client-cert-expired", "client", "certain"]
    assert first[9] == "error" and first[10] and first[11] and first[12]


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_neutralizes_formulas(cell):
    assert neutralize(cell) == "'" + cell
    assert neutralize("a" + cell) == "a" + cell


def test_csv_cells_from_a_capture_never_start_a_formula(hostile):
    rows = list(csv.reader(io.StringIO(render_csv(hostile).removeprefix(BOM))))
    assert len(rows) == 3  # header, the capture error, the finding
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert rows[1][9] == "capture-error" and rows[1][8] == "truncated-file"
    evil = Report(captures=[CaptureReport(path="=HYPERLINK(\"http://x\")", connections=[
        connection(0, sni="@evil", message="-2+3")])])
    (row,) = list(csv.reader(io.StringIO(render_csv(evil).removeprefix(BOM))))[1:]
    assert row[0] == "'=HYPERLINK(\"http://x\")" and row[4] == "'@evil" and row[11] == "'-2+3"


# --------------------------------------------------------------------------- markdown


def _cells(line: str) -> list[str]:
    """Split a GFM table row on its unescaped pipes."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_md_escapes_markdown_in_capture_strings(hostile):
    out = render_markdown(hostile)
    outside_code = re.sub(r"^(`{3,})text$.*?^\1$", "", out, flags=re.M | re.S)
    assert SCRIPT not in outside_code and "<b>" not in outside_code
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in out
    assert "[x](javascript" not in outside_code and "\\[x\\]\\(javascript" in out
    # every row of a table has as many cells as its header
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*out.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert tables
    for table in tables:
        width = len(_cells(table[0]))
        assert all(len(_cells(row)) == width for row in table), table


def test_md_walkthrough_fence_outlasts_backticks_in_the_capture(hostile):
    out = render_markdown(hostile)
    fences = re.findall(r"^(`{3,})text$", out, flags=re.M)
    assert fences and all(len(f) >= 4 for f in fences)  # the CA name holds a run of three backticks
    assert "✗ client-cert-expired (frame 3)" in out


def test_md_escape_function():
    assert md("a|b*c_d`e<f>&g[h](i)#j!k~l$m\\n") == "a\\|b\\*c\\_d\\`e\\<f\\>\\&g\\[h\\]\\(i\\)\\#j\\!k\\~l\\$m\\\\n"
    assert md("line\nbreak") == "line\\\\x0abreak"


def test_md_report_of_multi_connection_sample():
    out = render_markdown(Report(captures=[analyze_capture(str(MULTI))]), show_all=True)
    assert out.startswith("# tlscap report\n")
    assert "## Causes" in out and "## Groups" in out and "## All connections" in out
    # The sample's failing connections: expired client-markw, client-bob from Partner Root CA, no certificate.
    for code, words in (("client-cert-expired", "client side, certain"),
                        ("client-cert-wrong-ca", "client side, likely"),
                        ("client-cert-not-sent", "client side, certain")):
        assert f"## `{code}` ({words}) — 1 connection" in out
    assert "CertificateRequest — 2 acceptable CA names:" in out  # a walkthrough in a code block


# --------------------------------------------------------------------------- html


def test_html_escapes_every_capture_string(hostile):
    out = render_html(hostile, show_all=True)
    assert SCRIPT not in out and EVIL_SNI not in out and "<b>x|y</b>" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in out
    assert out.count("<script") == 1 and out.count("</script>") == 1  # only the page's own
    assert "onerror=" not in out.replace("onerror=alert(2)&gt;", "")


def test_html_is_self_contained_with_a_csp(hostile):
    out = render_html(hostile, show_all=True)
    without_ns = out.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for needle in ("http://", "https://", "//cdn", "@import", "url(", "<link", "<iframe", "<img", "<object"):
        assert needle not in without_ns, needle
    for tag in re.findall(r"<[a-zA-Z][^>]*>", out):
        assert not re.search(r"\s(src|srcset|action|formaction|background|on[a-z]+)=", tag), tag
        assert not re.search(r'\shref="(?!#)', tag), tag
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', out)
    assert csp, "no CSP meta"
    policy = csp.group(1).replace("&#x27;", "'")
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    style = re.search(r"<style>(.*?)</style>", out, flags=re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", out, flags=re.S).group(1)
    for source, directive in ((style, "style-src"), (script, "script-src")):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy


def test_html_ladder_has_one_arrow_per_frame(hostile):
    conn = hostile.captures[0].connections[0]
    arrows = ladder_arrows(conn)
    assert [(a.frame, a.sender) for a in arrows] == [(1, "client"), (2, "server"), (3, "client"), (4, "server"),
                                                     (5, "server")]
    assert arrows[1].items == ["ServerHello", "CertificateRequest"] and arrows[1].kind == "cert"
    assert any("CN=a|b" in d for d in arrows[1].details)
    assert arrows[2].notes[0] == f"chain of 2: {SCRIPT}"  # valid at the capture's time
    assert any(SCRIPT in d for d in arrows[2].details)
    assert arrows[3].kind == "alert" and arrows[4].items == ["RST"] and arrows[4].kind == "end"
    svg = ladder_svg(conn)
    assert svg.count('<g class="ev') == 5 and svg.count("<title>") == 5


def test_html_report_of_multi_connection_sample():
    cap = analyze_capture(str(MULTI))
    out = render_html(Report(captures=[cap]))
    failing = [c for c in cap.connections if c.findings]
    assert out.count('<article class="conn"') == len(failing) and out.count('<svg class="ladder"') == len(failing)
    assert 'id="conn-table"' in out and out.count('data-severity="error"') == len(failing)
    assert "frame 23" in out and "EXPIRED at capture time" in out
    all_out = render_html(Report(captures=[cap]), show_all=True)
    assert all_out.count('<article class="conn"') == len(cap.connections)


def test_markdown_html_and_csv_render_every_connection():
    report = Report(captures=[analyze_capture(str(MULTI))])
    conns = report.captures[0].connections
    failing = [c for c in conns if c.findings]
    at = datetime.now(UTC) + timedelta(days=1)
    assert render_html(report, show_all=True, at=at).count('<article class="conn"') == len(conns)
    assert f"**{len(conns)}** TLS connections · **{len(failing)}** with findings" in render_markdown(report)
    rows = list(csv.reader(io.StringIO(render_csv(report).removeprefix(BOM))))
    assert rows[0] == list(HEADER) and {int(r[1]) for r in rows[1:]} == {c.id for c in failing}
    assert "**0** TLS connections" in render_markdown(Report())
    assert render_csv(Report()).splitlines() == [BOM + ",".join(HEADER)]
    assert '<article class="conn"' not in render_html(Report())
