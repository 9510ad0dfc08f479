"""Output safety: what a capture says cannot act on the reader's terminal, browser or spreadsheet.

The bar's capture, tests/data/hostile-mtls.pcap, is real: openssl s_client and s_server over 127.0.0.1
under tcpdump (tests/make_hostile_capture.py makes it; one test below makes it again from nothing).
Its client certificate's CN is `<script>alert(1)</script>`, its O holds an ANSI clear-screen sequence
(ESC [2J ESC [H), its OU a right-to-left override, its L a NUL; the CA name carries an `<iframe>` and
an OSC title sequence; the SNI is a spreadsheet formula with HTML; the HTTP title mixes all three.

- text: every such character is shown as a visible escape (`\\x1b[2J`), none reaches the terminal;
- HTML: everything is escaped; headless Chromium runs no script but the page's own, logs nothing;
- CSV: control characters are escaped and a cell starting like a formula gets a `'`;
- Markdown: HTML and Markdown syntax are escaped;
- JSON: the strings are kept as they are (JSON escapes controls), and the output is valid UTF-8 even
  when a string holds a lone surrogate (a file name with an undecodable byte).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import make_hostile_capture as H
import pytest
from test_html_browser import chromium, console_messages, run_chromium  # noqa: F401 - fixture

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.analysis.model import CaptureReport, Report
from tlscap.report.csv_report import neutralize, render_csv
from tlscap.report.html_report import render_html
from tlscap.report.json_report import render_json, render_jsonl
from tlscap.report.markdown_report import md, render_markdown
from tlscap.report.safe_text import safe, without_surrogates
from tlscap.report.text_report import render_text
from tlscap.tls.keylog import load_keylog_file

DATA = Path(__file__).resolve().parent / "data"
PCAP = DATA / "hostile-mtls.pcap"
KEYLOG = DATA / "hostile-mtls.keylog"
ROOT = Path(__file__).resolve().parents[1]

# Characters no report for people may carry raw: C0/C1 controls (but newline), DEL, bidi controls.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _analyze(pcap: Path = PCAP, keylog: Path = KEYLOG) -> Report:
    cap = analyze_capture(str(pcap), AnalysisOptions(keylog=load_keylog_file(keylog)))
    return Report(captures=[cap])


@pytest.fixture(scope="module")
def report() -> Report:
    return _analyze()


def _conn(report: Report):
    [conn] = report.connections()
    return conn


def test_the_capture_holds_the_hostile_strings(report):
    """JSON keeps the data as sent: the reports below are tested against the real strings."""
    document = json.loads(render_json(report))
    [conn] = document["captures"][0]["connections"]
    leaf = conn["client_certificate"]["chain"][0]
    assert "CN=\\<script\\>alert(1)\\</script\\>" in leaf["subject"]  # RFC 4514, as cryptography prints it
    assert f"O={H.CLIENT_O}" in leaf["subject"] and H.CLIENT_OU in leaf["subject"]
    assert f"DNS:{H.CLIENT_SAN_DNS}" in leaf["subject_alt_names"]
    assert f"email:{H.CLIENT_SAN_EMAIL}" in leaf["subject_alt_names"]
    assert conn["sni"] == H.SNI
    assert conn["http"]["title"] == H.TITLE and conn["http"]["status"] == 200
    assert any("iframe" in name and "\x1b]0" in name for name in conn["certificate_request"]["ca_names"])
    assert [f["code"] for f in conn["findings"]] == ["client-cert-expired"]
    assert conn["outcome"] == "established" and conn["decrypted"] is True


def test_json_escapes_controls_and_is_utf8(report):
    text = render_json(report)
    assert "\x1b" not in text and "\x00" not in text and "\\u001b[2J" in text
    text.encode("utf-8")
    for line in render_jsonl(report).splitlines():
        assert json.loads(line)["sni"] == H.SNI


def test_terminal_report_shows_escapes_visibly(report):
    text = render_text(report, show_all=True)
    assert _UNSAFE.search(text) is None, repr(_UNSAFE.search(text))
    assert "O=Evil\\x1b[2J\\x1b[HCorp" in text  # the clear-screen sequence, visible
    assert "\\u202egnp.exe" in text and "\\x1b]0\\;pwned\\x07Org" in text
    assert "HTTP 200 “<script>alert(4)</script>\\x1b[2J\\u202eeltit”" in text
    assert "CN=\\<script\\>alert(1)\\</script\\>" in text


def test_csv_cells_are_neutralized(report):
    output = render_csv(report)
    assert _UNSAFE.search(output.replace("\r\n", "\n")) is None
    rows = list(csv.DictReader(io.StringIO(output.removeprefix("\ufeff"))))
    assert [row["code"] for row in rows] == ["client-cert-expired"]
    assert rows[0]["sni"] == "'" + H.SNI  # a formula no more
    assert "CN=\\<script\\>alert(1)\\</script\\>" in rows[0]["message"]


@pytest.mark.parametrize(("cell", "shown"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "\\x09=1+1"), ("\r=1+1", "\\x0d=1+1"), ("\n=1+1", "\\x0a=1+1"),
    (" =1+1", "' =1+1"), ("\u00a0=1+1", "'\u00a0=1+1"), ("\uff1dcmd", "'\uff1dcmd"),
    ("a=b", "a=b"), ("x\x1b[2J", "x\\x1b[2J"), ("caf\udce9", "caf\\xe9"),
])
def test_csv_cell(cell, shown):
    from tlscap.report.csv_report import _cell
    assert _cell(cell) == shown


def test_neutralize_leaves_text_alone():
    assert neutralize("client-cert-expired") == "client-cert-expired"


def _outside_fences(markdown: str) -> str:
    """The Markdown outside its fenced code blocks, checking each fence is closed by its own opener."""
    out, fence = [], None
    for line in markdown.splitlines():
        opener = re.match(r"(`{3,})", line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None:
            assert fence not in line or line == fence, f"a capture string closes the fence: {line!r}"
            if line == fence:
                fence = None
        else:
            out.append(line)
    assert fence is None
    return "\n".join(out)


def test_markdown_escapes_html_and_controls(report):
    text = render_markdown(report, show_all=True)
    assert _UNSAFE.search(text) is None
    outside = _outside_fences(text)  # inside a fence, Markdown renders text literally
    # Outside the fences every '<' is escaped: preceded by an odd number of backslashes.
    unescaped = re.search(r"(?<!\\)(?:\\\\)*<", outside)
    assert unescaped is None, outside[max(0, unescaped.start() - 40) : unescaped.end() + 40]
    assert md("CN=\\<script\\>alert(1)\\</script\\>") in outside  # RFC 4514's backslashes, escaped


def test_html_escapes_everything(report):
    page = render_html(report, show_all=True)
    assert _UNSAFE.search(page) is None
    assert page.count("<script") == 1  # the page's own
    for raw in ("<script>alert", "<iframe", "<img", "<b>x"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(4)&lt;/script&gt;\\x1b[2J" in page
    assert "\\&lt;script\\&gt;alert(1)\\&lt;/script\\&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


def test_html_in_chromium_runs_no_capture_script(report, chromium, tmp_path):  # noqa: F811 - fixture
    page = tmp_path / "hostile.html"
    page.write_text(render_html(report, show_all=True), encoding="utf-8")
    dom = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []  # no script error, no CSP refusal: nothing else tried to run
    assert 'data-tlscap-ready="1"' in dom.stdout  # the page's own script ran
    assert dom.stdout.count("<script") == 1 and "<iframe" not in dom.stdout and "<img" not in dom.stdout
    # The text is there, literally, as the reader sees it.
    assert "\\&lt;script\\&gt;alert(1)\\&lt;/script\\&gt;" in dom.stdout
    assert "O=Evil\\x1b[2J\\x1b[HCorp" in dom.stdout


def test_the_capture_is_made_again_with_real_openssl(tmp_path):
    """The committed capture is what tests/make_hostile_capture.py makes: run it (root, tcpdump, openssl)."""
    assert os.geteuid() == 0 and shutil.which("tcpdump") and shutil.which("openssl"), "needs root, tcpdump, openssl"
    pcap, keylog = H.make(tmp_path)
    conn = _conn(_analyze(pcap, keylog))
    assert conn.sni == H.SNI and conn.http is not None and conn.http.title == H.TITLE
    assert H.CLIENT_O in conn.client_certificate.chain[0].subject_rfc4514
    text = render_text(_analyze(pcap, keylog), show_all=True)
    assert _UNSAFE.search(text) is None and "\\x1b[2J" in text


# --------------------------------------------------------------------------- invalid UTF-8, surrogates


def test_safe_shows_surrogates_as_the_bytes_they_stand_for():
    assert safe("caf\udce9") == "caf\\xe9"
    assert safe("a\ud800b") == "a\\ud800b"
    assert without_surrogates("caf\udce9 \ud83d x\x1b") == "caf\\xe9 \\ud83d x\x1b"
    assert without_surrogates("plain é") == "plain é"


def test_json_with_a_lone_surrogate_is_valid_utf8():
    cap = CaptureReport(path="caf\udce9 \ud800.pcap")
    report = Report(captures=[cap])
    for text in (render_json(report), render_jsonl(report) or "{}", render_text(report), render_html(report),
                 render_markdown(report), render_csv(report)):
        text.encode("utf-8")
    assert json.loads(render_json(report))["captures"][0]["path"] == "caf\\xe9 \\ud800.pcap"


def test_json_lines_stay_lines_with_unicode_line_separators():
    """U+0085, U+2028 and U+2029 (an SNI can carry them) are line breaks to str.splitlines: escaped."""
    report = Report(captures=[CaptureReport(path="a\x85b\u2028c\u2029d.pcap")])
    text = render_json(report)
    assert "\\u0085" in text and "\\u2028" in text and "\x85" not in text
    assert json.loads(text)["captures"][0]["path"] == "a\x85b\u2028c\u2029d.pcap"


def test_cli_with_an_undecodable_file_name(tmp_path):
    """A capture named with a byte that is not UTF-8 (os.fsdecode gives a surrogate): every format works."""
    folder = os.fsencode(str(tmp_path))
    name = folder + b"/caf\xe9-\x1b[2J.pcap"
    with open(name, "wb") as out:
        out.write(PCAP.read_bytes())
    for fmt in ("json", "jsonl", "text", "csv", "md", "html"):
        result = subprocess.run([sys.executable, "-m", "tlscap", "analyze", name, "--keylog", str(KEYLOG),
                                 "--format", fmt, "--fail-on", "never"], capture_output=True, cwd=ROOT, timeout=120)
        assert result.returncode == 0, (fmt, result.stderr.decode(errors="replace"))
        output = result.stdout.decode("utf-8")  # strict: valid UTF-8
        assert "\x1b" not in output, fmt
        if fmt == "json":
            assert json.loads(output)["captures"][0]["path"].endswith("caf\\xe9-\u001b[2J.pcap")
        if fmt == "text":
            assert "caf\\xe9-\\x1b[2J.pcap" in output
