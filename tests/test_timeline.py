"""One timeline, rendered by every format: the text walkthrough and the HTML ladder show the same steps, every
CertificateRequest's CA names and every client chain, and a certificate's validity is decided by one
function that the rules ask too."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from adversarial import (
    CHANGE_CIPHER_SPEC,
    SERVER_HELLO_DONE,
    Conversation,
    PcapWriter,
    certificate,
    certificate_request,
    client_hello,
    client_key_exchange,
    encrypted_finished,
    make_chain,
    records,
    server_hello,
)
from cryptography import x509
from cryptography.x509.oid import NameOID
from golden_cases import ROOT, GoldenRun, golden_runs

from tlscap.analysis import timeline
from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import Connection, Report
from tlscap.pki.truststore import load_truststore
from tlscap.report.html_ladder import ladder_arrows, ladder_svg
from tlscap.report.html_report import render_html
from tlscap.report.safe_text import safe
from tlscap.report.text_report import render_text, walkthrough
from tlscap.tls.keylog import load_keylog_file

SAMPLES = ROOT / "samples"
_LINE = re.compile(r"^  frame +(\d+)  \+(\S+)  (C→S|S→C)  (.*)$")
_DIRECTION = {"C→S": "client", "S→C": "server"}


def _name(cn: str) -> bytes:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]).public_bytes()


def _two_requests(path: Path) -> Connection:
    """A TLS 1.2 handshake whose server asks twice (frames 5 and 6), the second time with two CA names."""
    chain = make_chain(2)
    with PcapWriter(path) as writer:
        conv = Conversation(writer)
        conv.open()
        conv.send(True, records(22, client_hello()))
        first = certificate_request([_name("First CA")])
        conv.send(False, records(22, server_hello() + certificate(chain[1:]) + first))
        conv.send(False, records(22, certificate_request([_name("Second CA A"), _name("Second CA B")])
                                 + SERVER_HELLO_DONE))
        conv.send(True, records(22, certificate(chain) + client_key_exchange()) + CHANGE_CIPHER_SPEC
                  + encrypted_finished())
        conv.send(False, CHANGE_CIPHER_SPEC + encrypted_finished())
        conv.close()
    (conn,) = analyze_capture(str(path)).connections
    return conn


def test_both_certificate_requests_show_their_ca_names_in_text_and_html(tmp_path: Path) -> None:
    conn = _two_requests(tmp_path / "two-requests.pcap")
    assert [r.frame for r in conn.certificate_requests] == [5, 6]
    report = Report(captures=[analyze_capture(str(tmp_path / "two-requests.pcap"))])

    text = render_text(report, show_all=True)
    assert "S→C  CertificateRequest — 1 acceptable CA name:\n" in text
    assert "S→C  CertificateRequest — 2 acceptable CA names:\n" in text
    for name in ("1. CN=First CA", "1. CN=Second CA A", "2. CN=Second CA B"):
        assert name in text

    notes = {a.frame: a.notes for a in ladder_arrows(conn)}
    assert notes[5] == ["1 acceptable CA name: CN=First CA"]
    assert notes[6] == ["2 acceptable CA names: CN=Second CA A; CN=Second CA B"]
    page = render_html(report, show_all=True)
    assert ">1 acceptable CA name: CN=First CA</text>" in page
    assert ">2 acceptable CA names: CN=Second CA A; CN=Second CA B</text>" in page
    assert "  2. CN=Second CA B" in page  # the second request's names in its arrow's hover text too


def _runs() -> list[GoldenRun]:
    """Every sample run of the goldens (alone, with its key log, with its truststore) and the client-stack
    and TLS 1.3 stack samples with their key logs."""
    runs = golden_runs()
    for folder in ("client-stacks", "tls13-stacks"):
        for capture in sorted((SAMPLES / folder).glob("*.pcap")):
            keylog = capture.with_suffix(".keylog")
            runs.append(GoldenRun(capture.relative_to(ROOT), keylog.relative_to(ROOT) if keylog.exists() else None))
    return runs


def _analyze(run: GoldenRun) -> list[Connection]:
    options = AnalysisOptions(keylog=load_keylog_file(ROOT / run.keylog) if run.keylog else None,
                              truststore=load_truststore([str(ROOT / run.truststore)]) if run.truststore else None)
    return analyze_capture(str(ROOT / run.capture), options).connections


def _same_steps(conn: Connection) -> None:
    text_lines = walkthrough(conn)
    lines = [m for line in text_lines if (m := _LINE.match(line))]
    arrows = ladder_arrows(conn)
    # One arrow per frame and direction: the text's consecutive lines of one frame and direction.
    groups: list[tuple[int, str, str, list[str]]] = []
    for m in lines:
        frame, offset, sender, words = int(m[1]), m[2], _DIRECTION[m[3]], m[4]
        if groups and groups[-1][:3] == (frame, offset, sender):
            groups[-1][3].append(words)
        else:
            groups.append((frame, offset, sender, [words]))
    assert [(g[0], g[1], g[2]) for g in groups] == [(a.frame, f"{a.offset_s:.3f}", a.sender) for a in arrows]
    svg = ladder_svg(conn)
    assert svg.count('<g class="ev') == len(arrows)
    for (frame, _, _, words), arrow in zip(groups, arrows, strict=True):
        shown = ", ".join(words)
        at = 0
        for item in arrow.items:  # each of the arrow's items, in the text's words, in the same order
            found = shown.find(safe(item), at)
            assert found >= 0, (frame, item, shown)
            at = found + len(safe(item))
        hover = "\n".join(arrow.details)
        for detail in _details_of(text_lines, frame):
            assert detail in hover, (frame, detail)


def _details_of(text_lines: list[str], frame: int) -> list[str]:
    """The CA names and the certificates (subject, issuer, validity) the text lists under the lines of `frame`."""
    out: list[str] = []
    current = None
    for line in text_lines:
        if (m := _LINE.match(line)) is not None:
            current = int(m[1])
        elif current == frame and line.startswith(" " * 28):
            detail = line.strip()
            if (name := re.match(r"\d+\. (.*?)(  \((NOT )?in the truststore\))?$", detail)) is not None:
                out.append(name[1])
            elif (cert := re.match(r"\[\d+\] (.*?)( \(self-signed\))?$", detail)) is not None:
                out.append(cert[1])
            elif detail.startswith(("issued by ", "valid ")):  # with the validity mark
                out.append(detail)
    return [d for d in out if d == safe(d)]  # names with escapes are compared in test_output_safety


@pytest.mark.parametrize("run", _runs(), ids=str)
def test_text_and_html_show_the_same_steps(run: GoldenRun) -> None:
    for conn in _analyze(run):
        _same_steps(conn)


def test_the_same_steps_with_a_second_request(tmp_path: Path) -> None:
    _same_steps(_two_requests(tmp_path / "two-requests.pcap"))


def test_validity_is_judged_by_one_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever `timeline.judge_validity` says, the finding, the walkthrough and the ladder follow."""
    valid, expired = SAMPLES / "tls12-success.pcap", SAMPLES / "tls12-expired-client-cert.pcap"

    def shown(path: Path) -> tuple[set[str], str, str]:
        report = Report(captures=[analyze_capture(str(path))])
        (conn,) = report.captures[0].connections
        ladder = html.unescape(ladder_svg(conn))
        return {f.code for f in conn.findings}, "\n".join(walkthrough(conn)), ladder

    codes, text, ladder = shown(valid)
    assert "client-cert-expired" not in codes and "EXPIRED" not in text and "EXPIRED" not in ladder
    codes, text, ladder = shown(expired)
    assert "client-cert-expired" in codes and "EXPIRED at capture time" in text and "EXPIRED at capture time" in ladder

    monkeypatch.setattr(timeline, "judge_validity", lambda cert, when: timeline.Validity(expired=True))
    codes, text, ladder = shown(valid)
    assert "client-cert-expired" in codes and "EXPIRED at capture time" in text and "EXPIRED at capture time" in ladder

    monkeypatch.setattr(timeline, "judge_validity", lambda cert, when: timeline.Validity(not_yet_valid=True))
    codes, text, ladder = shown(expired)
    assert "client-cert-expired" not in codes and "client-cert-not-yet-valid" in codes
    assert "EXPIRED" not in text and "NOT YET VALID at capture time" in text
    assert "EXPIRED" not in ladder and "NOT YET VALID at capture time" in ladder
