"""The Markdown, HTML and CSV writers stream: they keep counts, the cause tally and rendered text (in a
`TextSpool` that moves to a temporary file when large), never the connections, so `analyze` and `scan`
memory does not grow with the number of connections in these formats either."""

from __future__ import annotations

import csv
import gc
import io
import re
import types
from dataclasses import replace

import pytest
from pki_factory import issue, name
from test_reports_formats import MULTI, T0, connection

from tlscap import limits
from tlscap.analysis.engine import analyze_capture
from tlscap.analysis.model import CaptureReport, Connection, Report
from tlscap.cli_options import make_writer
from tlscap.errors import CaptureIssue
from tlscap.report import spool
from tlscap.report.markdown_report import render_markdown
from tlscap.report.spool import TextSpool
from tlscap.report.writer import write_report

WHOLE_REPORT_FORMATS = ("md", "html", "csv")


def _reaches_a_connection(root: object) -> bool:
    """Whether any Connection can be reached from `root` through object references (types, modules and
    functions are not followed: they lead to everything)."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            continue
        seen.add(id(obj))
        if isinstance(obj, Connection):
            return True
        todo.extend(gc.get_referents(obj))
    return False


@pytest.mark.parametrize("fmt", WHOLE_REPORT_FORMATS)
def test_the_writers_keep_no_connection(fmt: str):
    cap = analyze_capture(str(MULTI))
    assert cap.connections
    writer = make_writer(fmt, io.StringIO(), show_all=True)
    writer.begin_capture(cap.path)
    for conn in cap.connections:
        writer.connection(conn)
    writer.end_capture(replace(cap, connections=[]))  # as analyze and scan hand it over
    assert not _reaches_a_connection(writer)
    writer.finish(Report())


def test_the_reachability_check_finds_a_kept_connection():
    holder = {"kept": [connection(0)]}
    assert _reaches_a_connection(holder) and not _reaches_a_connection({"kept": []})


@pytest.mark.parametrize("fmt", WHOLE_REPORT_FORMATS)
def test_streamed_output_equals_the_render_of_the_whole_report(fmt: str):
    """What analyze writes (captures handed over without their connections) is what the report in
    memory renders to."""
    caps = [analyze_capture(str(MULTI)), analyze_capture(str(MULTI))]
    whole = io.StringIO()
    write_report(make_writer(fmt, whole, show_all=True), Report(captures=caps))
    streamed = io.StringIO()
    writer = make_writer(fmt, streamed, show_all=True)
    for cap in caps:
        writer.begin_capture(cap.path)
        for conn in cap.connections:
            writer.connection(conn)
        writer.end_capture(replace(cap, connections=[]))
    writer.finish(Report())
    assert streamed.getvalue() == whole.getvalue()
    if fmt == "html":  # each capture's connections are anchored by the capture's index
        ids = re.findall(r'<article class="conn" id="(c-\d+-\d+)"', whole.getvalue())
        assert ids == [f"c-{ci}-{c.id}" for ci, cap in enumerate(caps) for c in cap.connections]


def test_csv_writes_each_capture_when_it_ends_with_its_errors_first():
    out = io.StringIO()
    writer = make_writer("csv", out)
    writer.begin_capture("a.pcap")
    writer.connection(connection(0))
    assert out.getvalue().count("\n") == 1  # the header only: the capture's errors are not known yet
    writer.end_capture(CaptureReport(path="a.pcap", errors=[CaptureIssue(code="truncated-file", message="cut")]))
    rows = list(csv.reader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))
    assert [(r[0], r[1], r[8]) for r in rows[1:]] == [("a.pcap", "", "truncated-file"),
                                                      ("a.pcap", "0", "client-cert-expired")]
    writer.begin_capture("b.pcap")
    writer.connection(connection(1))
    writer.end_capture(CaptureReport(path="b.pcap"))
    writer.finish(Report())
    assert [r[:2] for r in csv.reader(io.StringIO(out.getvalue().removeprefix("\ufeff")))][3:] == [["b.pcap", "1"]]


def test_markdown_cause_rows_and_examples_follow_the_groups_largest_first():
    """A cause's section lists its first limits.MAX_ROWS_PER_CAUSE connections taken group by group (largest group
    first) and one example per group, though the writer learns the group sizes only at the end."""
    small_leaf, big_leaf = issue(name("client-small")).summary, issue(name("client-big")).summary
    small = [connection(i, chain=(small_leaf,), at_ns=T0 + i) for i in range(30)]
    big = [connection(100 + i, chain=(big_leaf,), at_ns=T0 + 100 + i) for i in range(40)]
    report = Report(captures=[CaptureReport(path="x.pcap", connections=[*small[:10], *big, *small[10:]])])
    text = render_markdown(report)
    section = text.split("## `client-cert-expired` (client side, certain) — 70 connections")[1]
    listed = [int(m) for m in re.findall(r"^\| x\.pcap \| (\d+) \|", section.split("… and")[0], re.M)]
    assert listed == [*(c.id for c in big), *(c.id for c in small)][:limits.MAX_ROWS_PER_CAUSE]
    assert f"… and {70 - limits.MAX_ROWS_PER_CAUSE} more connections" in section
    examples = re.findall(r"Example: capture x\.pcap, connection (\d+)", section)
    assert examples == ["100", "0"]


def test_spool_moves_to_a_file_when_large_and_copies_everything(monkeypatch):
    monkeypatch.setattr(spool, "IN_MEMORY_CHARS", 64)
    parts = ["a,b\r\n", "é€ ", "x" * 1000, "\n", "\ud800", "end"]
    s = TextSpool()
    assert s.empty
    for part in parts:
        s.write(part)
    assert not s.empty and s.on_disk
    out = io.StringIO(newline="")
    s.copy_to(out)
    s.write("!")
    again = io.StringIO(newline="")
    s.copy_to(again)
    s.close()
    assert out.getvalue() == "".join(parts) and again.getvalue() == "".join(parts) + "!"


def test_spool_stays_in_memory_where_no_temporary_file_can_be_made(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(spool, "IN_MEMORY_CHARS", 4)
    monkeypatch.setattr(spool.tempfile, "TemporaryFile", refuse)
    s = TextSpool()
    for part in ("abc", "defgh", "ij\r\n"):
        s.write(part)
    assert not s.on_disk
    out = io.StringIO(newline="")
    s.copy_to(out)
    assert out.getvalue() == "abcdefghij\r\n"
