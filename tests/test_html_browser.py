"""The HTML report in a real browser (headless Chromium, Debian's `chromium`): it loads with no console
message at all (no script error, no CSP refusal), its script runs, a failing connection's ladder diagram is
drawn (screenshot kept in build/), and a certificate subject `<script>alert(1)</script>` stays text."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from pki_factory import issue, name
from test_reports_formats import SCRIPT, connection

from tlscap.analysis.engine import analyze_capture
from tlscap.analysis.model import CaptureReport, Report
from tlscap.report.html_report import render_html

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
MULTI = ROOT / "samples" / "multi-connection.pcap"
BLUE = (0x09, 0x69, 0xDA)  # the ladder's CertificateRequest / Certificate arrows
RED = (0xCF, 0x22, 0x2E)  # its alert arrows


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "headless Chromium is missing: apt-get install chromium (make test installs it)"
    return path


def run_chromium(chromium: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open `page` once in headless Chromium, offline, with console messages logged on stderr."""
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--disable-extensions", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=3000", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )


def console_messages(stderr: str) -> list[str]:
    """Chromium logs every console message (errors, CSP refusals, console.*) as a `:CONSOLE` line."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line or "Refused" in line]


def decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and unfiltered rows of an 8-bit RGB(A), non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, bpp = 8, [], 0, 0, 3
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and color in (2, 6), (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def pixel_counts(png: bytes) -> tuple[int, int, int]:
    """(non-white pixels, ladder-blue pixels, alert-red pixels) of a screenshot."""
    _, _, bpp, rows = decode_png(png)
    blue, red = bytes(BLUE), bytes(RED)
    nonwhite = blues = reds = 0
    for row in rows:
        for i in range(0, len(row), bpp):
            px = row[i : i + 3]
            if px != b"\xff\xff\xff":
                nonwhite += 1
                if px == blue:
                    blues += 1
                elif px == red:
                    reds += 1
    return nonwhite, blues, reds


def test_console_check_catches_errors(chromium, tmp_path):
    """The check below would see a script error and a CSP refusal: it is not blind."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\""
                   "default-src 'none'; script-src 'unsafe-inline'\"></head><body><img src=\"data:,\">"
                   "<script>nosuch();</script></body></html>")
    messages = console_messages(run_chromium(chromium, bad, tmp_path / "profile", "--dump-dom").stderr)
    assert any("nosuch" in m for m in messages) and any("Content Security Policy" in m for m in messages)


def test_html_report_renders_its_ladder_without_console_errors(chromium, tmp_path):
    BUILD.mkdir(exist_ok=True)
    cap = analyze_capture(str(MULTI))
    assert any(c.findings for c in cap.connections)
    page = BUILD / "report-multi-connection.html"
    page.write_text(render_html(Report(captures=[cap])), encoding="utf-8")
    dom = run_chromium(chromium, page, tmp_path / "profile1", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    assert 'data-tlscap-ready="1"' in dom.stdout  # the script ran, and it is the page's only script
    assert re.search(r'id="conn-count"[^>]*>3 of 3 connections<', dom.stdout)
    shot = BUILD / "report-multi-connection.png"
    shot.unlink(missing_ok=True)
    result = run_chromium(chromium, page, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1400,2000",
                          "--hide-scrollbars")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    nonwhite, blues, reds = pixel_counts(shot.read_bytes())
    assert nonwhite > 50_000, "the page looks blank"
    # The first failing connection's ladder is on the first screen: its certificate arrows (blue) and
    # alert arrows (red) are drawn, each several hundred pixels long.
    assert blues > 1000 and reds > 1000, (blues, reds)


def test_table_sorts_and_filters(chromium, tmp_path):
    """The page's script, driven by a test script added to a copy of the page (without its CSP)."""
    page = render_html(Report(captures=[analyze_capture(str(MULTI))]))
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    driver = """<script>
      var t = document.getElementById("conn-table"), heads = t.tHead.rows[0].cells;
      heads[1].click(); heads[1].click();
      var ids = [].map.call(t.tBodies[0].rows, function (r) { return r.cells[1].textContent; }).join(",");
      var f = document.getElementById("conn-filter"); f.value = "ISSUER"; f.dispatchEvent(new Event("input"));
      var shown = [].filter.call(t.tBodies[0].rows, function (r) { return !r.hidden; }).length;
      document.documentElement.setAttribute("data-test",
        ids + "|" + heads[1].getAttribute("aria-sort") + "|" + shown + "|" +
        document.getElementById("conn-count").textContent);
    </script>"""
    copy = tmp_path / "driven.html"
    copy.write_text(page.replace("</body>", driver + "</body>"), encoding="utf-8")
    dom = run_chromium(chromium, copy, tmp_path / "profile", "--dump-dom")
    assert console_messages(dom.stderr) == []
    assert 'data-test="3,2,1|descending|1|1 of 3 connections"' in dom.stdout


def test_script_in_a_certificate_subject_shows_as_text(chromium, tmp_path):
    conn = connection(0, ca_names=(f"CN={SCRIPT}",), message=f"the client certificate {SCRIPT} expired",
                      sni=f"{SCRIPT}.example")
    # RFC 4514 would print such a name as CN=\<script\>…: the subject is set as a capture could hold it.
    cert = replace(issue(name("x")).summary, subject_rfc4514=SCRIPT, issuer_rfc4514=SCRIPT)
    conn.client_certificates = [replace(conn.client_certificates[0], chain=(cert,))]
    page = tmp_path / "hostile.html"
    page.write_text(render_html(Report(captures=[CaptureReport(path=f"{SCRIPT}.pcap", connections=[conn])])),
                    encoding="utf-8")
    dom = run_chromium(chromium, page, tmp_path / "profile", "--dump-dom")
    assert console_messages(dom.stderr) == []
    assert 'data-tlscap-ready="1"' in dom.stdout  # still only the page's own script element
    assert dom.stdout.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout
