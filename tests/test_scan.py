"""`tlscap scan`: discovery by content, parallel analysis, damaged files, time limits, Ctrl-C, Dask."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from process_watch import children, descendants, has_open, wait_until

from tlscap.analysis.engine import analyze_capture
from tlscap.analysis.model import Report
from tlscap.report.json_report import capture_dict, connection_dict, connection_json, render_json
from tlscap.report.text_report import connection_text
from tlscap.scan import cli_scan, file_task, runner
from tlscap.scan.cli_scan import EXIT_INTERRUPTED, add_scan_parser, cmd_scan
from tlscap.scan.discovery import Candidate, Problem, capture_kind, discover, named_like_capture
from tlscap.scan.progress import Progress, wants_bar

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MULTI = SAMPLES / "multi-connection.pcap"
EXPIRED = SAMPLES / "tls12-expired-client-cert.pcap"


def scan(*argv: str) -> int:
    """Run `tlscap scan ARGV` in this process, as tlscap.cli would."""
    parser = argparse.ArgumentParser(prog="tlscap")
    add_scan_parser(parser.add_subparsers(dest="command", required=True))
    return cmd_scan(parser.parse_args(["scan", *argv]))


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file() and capture_kind(p.read_bytes()[:4096]))


def syn_flood_pcap(path: Path, packets: int) -> Path:
    """A valid pcap of `packets` TCP SYNs on distinct ports: slow to analyze, quick to write."""
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(packets):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0, bytes([10, 0, (i >> 16) & 255, 1]),
                         bytes([10, 0, 0, 2]))
        tcp = struct.pack("!HHIIBBHHH", 1024 + (i % 60000), 443, i, 0, 0x50, 0x02, 65535, 0, 0)
        frame = eth + ip + tcp
        out.append(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000, len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


# --------------------------------------------------------------------------- discovery


def test_capture_kind_by_magic_number():
    assert capture_kind(b"\xd4\xc3\xb2\xa1rest") == "pcap"
    assert capture_kind(b"\xa1\xb2\xc3\xd4rest") == "pcap"
    assert capture_kind(b"\x4d\x3c\xb2\xa1rest") == "pcap"
    assert capture_kind(b"\xa1\xb2\x3c\x4drest") == "pcap"
    assert capture_kind(b"\x0a\x0d\x0d\x0arest") == "pcapng"
    assert capture_kind(gzip.compress(MULTI.read_bytes()[:100])) == "gzip-pcap"
    assert capture_kind(gzip.compress(b"hello world")) is None
    assert capture_kind(b"\x1f\x8bnot gzip at all") is None
    assert capture_kind(b"") is None and capture_kind(b"hello") is None


def test_capture_names():
    for name in ("x.pcap", "X.PCAPNG", "a.cap", "a.pcap.gz", "a.pcapng.gz"):
        assert named_like_capture(name), name
    for name in ("x.txt", "x.gz", "pcap", "x.keylog", "x.pcap.txt"):
        assert not named_like_capture(name), name


def test_discovery_finds_captures_by_content(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(MULTI, tmp_path / "sub" / "deeper" / "no-extension")
    (tmp_path / "b.pcap.gz").write_bytes(gzip.compress(EXPIRED.read_bytes()))
    (tmp_path / "notes.txt").write_text("not a capture")
    (tmp_path / "README").write_bytes(b"")
    (tmp_path / "empty.pcap").write_bytes(b"")
    os.mkfifo(tmp_path / "fifo.pcap")  # never opened: it would block the scan
    found = discover([str(tmp_path)])
    paths = [os.path.relpath(e.path, tmp_path) for e in found.entries]
    assert paths == ["b.pcap.gz", "empty.pcap", "sub/deeper/no-extension"]
    assert all(isinstance(e, Candidate) for e in found.entries)


def test_discovery_survives_symlink_loops_and_reports_problems(tmp_path):
    shutil.copy(MULTI, tmp_path / "a.pcap")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")  # a loop: sub/up/sub/up/...
    (tmp_path / "again.pcap").symlink_to("a.pcap")  # the same file twice: analyzed once
    (tmp_path / "dangling.pcap").symlink_to("missing.pcap")
    (tmp_path / "self").symlink_to("self")
    found = discover([str(tmp_path), str(tmp_path / "a.pcap"), str(tmp_path / "nothing-here")])
    got = [(os.path.relpath(e.path, tmp_path), e.code if isinstance(e, Problem) else "capture") for e in found.entries]
    assert got == [("a.pcap", "capture"), ("dangling.pcap", "broken-symlink"), ("self", "symlink-loop"),
                   ("sub/up", "symlink-loop"), ("nothing-here", "unreadable")]


def test_discovery_reports_folders_it_cannot_list(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    shutil.copy(MULTI, tmp_path / "a.pcap")
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # root reads every folder: a real chmod 000 proves nothing
    found = discover([str(tmp_path)])
    assert [(Path(e.path).name, getattr(e, "code", "")) for e in found.entries] == [
        ("a.pcap", ""), ("locked", "unreadable")]
    assert "permission denied" in found.problems[0].message


def test_include_and_exclude(tmp_path):
    for rel in ("routers/r1/a.pcap", "routers/r2/b.pcapng", "clients/c.pcap", "routers/r1/old/d.pcap"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MULTI, tmp_path / rel)

    def names(**kw):
        return sorted(os.path.relpath(c.path, tmp_path) for c in discover([str(tmp_path)], **kw).candidates)

    assert names(include=["*.pcap"]) == ["clients/c.pcap", "routers/r1/a.pcap", "routers/r1/old/d.pcap"]
    assert names(include=["routers/*"]) == ["routers/r1/a.pcap", "routers/r1/old/d.pcap", "routers/r2/b.pcapng"]
    assert names(exclude=["old"]) == ["clients/c.pcap", "routers/r1/a.pcap", "routers/r2/b.pcapng"]
    assert names(include=["*.pcap"], exclude=["clients"]) == ["routers/r1/a.pcap", "routers/r1/old/d.pcap"]
    out = tmp_path.parent / f"{tmp_path.name}.json"
    assert scan(str(tmp_path), "--format", "json", "-o", str(out), "--include", "*.pcapng", "--quiet") == 1
    assert [c["path"] for c in json.loads(out.read_text())["captures"]] == [str(tmp_path / "routers/r2/b.pcapng")]


# --------------------------------------------------------------------------- the bars


def test_scan_of_samples_equals_analyze_of_each_file(tmp_path):
    files = sample_files()
    assert MULTI in files and any(p.parent.name == "stale-truststore" for p in files)
    jsonl = tmp_path / "scan.jsonl"
    assert scan(str(SAMPLES), "--format", "jsonl", "-o", str(jsonl), "--jobs", "2") == 1
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    scanned = scan(str(SAMPLES), "--format", "json", "-o", str(tmp_path / "scan.json"), "--jobs", "2")
    assert scanned == 1
    doc = json.loads((tmp_path / "scan.json").read_text())
    assert [c["path"] for c in doc["captures"]] == [str(p) for p in files]
    analyzed = subprocess.run([sys.executable, "-m", "tlscap", "analyze", *map(str, files), "--format", "json"],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
    expected = json.loads(analyzed.stdout)
    assert doc["captures"] == expected["captures"] and doc["summary"] == expected["summary"]
    # JSON Lines streams each file as it finishes, judged with its own certificates alone (no file is
    # analyzed again with the others' CA certificates): each line is the file's own analysis.
    per_file = {c["path"]: c["connections"] for c in expected["captures"]}
    assert len(lines) == sum(len(v) for v in per_file.values())
    for path in per_file:
        alone = json.loads(render_json(Report(captures=[analyze_capture(path)])))["captures"][0]["connections"]
        mine = sorted((d for d in lines if d["capture"] == path), key=lambda d: d["id"])
        assert [{k: v for k, v in d.items() if k != "capture"} for d in mine] == alone, path


def test_a_folder_of_bad_files_scans_to_completion(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    data = EXPIRED.read_bytes()
    (bad / "cut.pcap").write_bytes(data[: len(data) * 2 // 3])
    (bad / "empty.pcap").write_bytes(b"")
    (bad / "x.pcap").write_text("this is a text file, not a capture\n")
    (bad / "loop").symlink_to(".")
    shutil.copy(MULTI, bad / "good.pcapng.renamed")  # found by content
    out = tmp_path / "report.json"
    assert scan(str(bad), "--format", "json", "-o", str(out), "--jobs", "2") == 1
    caps = {Path(c["path"]).name: c for c in json.loads(out.read_text())["captures"]}
    assert set(caps) == {"cut.pcap", "empty.pcap", "good.pcapng.renamed", "loop", "x.pcap"}
    assert caps["cut.pcap"]["errors"][0]["code"] == "truncated-file" and caps["cut.pcap"]["frames"] > 0
    assert caps["empty.pcap"]["errors"] == [{"code": "unreadable", "message": "empty file"}]
    assert caps["x.pcap"]["errors"][0]["code"] == "unreadable"
    assert "not a pcap or pcapng capture" in caps["x.pcap"]["errors"][0]["message"]
    assert caps["loop"]["errors"][0]["code"] == "symlink-loop"
    assert len(caps["good.pcapng.renamed"]["connections"]) == 4
    err = capsys.readouterr().err
    for name in ("cut.pcap", "empty.pcap", "x.pcap", "loop"):
        assert f"{bad / name}:" in err
    # Every format renders such a scan, and the text report lists the capture errors.
    for fmt in ("text", "md", "html", "csv"):
        target = tmp_path / f"report.{fmt}"
        assert scan(str(bad), "--format", fmt, "-o", str(target), "--quiet") == 1
        assert "empty file" in target.read_text()


def test_keylog_dir_and_truststore_apply_to_every_file(tmp_path):
    """--keylog-dir: every key log of the folder, each capture decrypted by the secrets of its own randoms;
    the result equals `analyze` with each capture's own --keylog. --truststore applies to every file."""
    names = ["tls12-expired-client-cert", "tls13-expired-client-cert", "multi-connection"]
    keys = tmp_path / "keys"
    keys.mkdir()
    for n in names:
        shutil.copy(SAMPLES / f"{n}.keylog", keys / f"{n}.keylog")
    (keys / "notes.txt").write_text("not a key log\n")
    out = tmp_path / "scan.json"
    assert scan(*(str(SAMPLES / f"{n}.pcap") for n in names), "--keylog-dir", str(keys), "--format", "json",
                "-o", str(out), "--quiet") == 1
    scanned = json.loads(out.read_text())["captures"]
    for n, cap in zip(names, scanned, strict=True):
        analyzed = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(SAMPLES / f"{n}.pcap"), "--keylog",
                                   str(SAMPLES / f"{n}.keylog"), "--format", "json"],
                                  capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert json.loads(analyzed.stdout)["captures"] == [cap], n
        assert all(c["decrypted"] for c in cap["connections"])
    stale = SAMPLES / "stale-truststore" / "stale-truststore.pcap"
    bundle = SAMPLES / "stale-truststore" / "bundle-A.pem"
    assert scan(str(stale), "--truststore", str(bundle), "--format", "json", "-o", str(out), "--quiet") == 1
    analyzed = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(stale), "--truststore", str(bundle),
                               "--format", "json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert json.loads(out.read_text())["captures"] == json.loads(analyzed.stdout)["captures"]


def test_exit_status_when_nothing_is_readable(tmp_path):
    (tmp_path / "empty.pcap").write_bytes(b"")
    assert scan(str(tmp_path), "--format", "json", "-o", str(tmp_path / "r.json"), "--quiet") == 2
    (tmp_path / "empty.pcap").unlink()
    assert scan(str(tmp_path), "--format", "json", "-o", str(tmp_path / "r.json"), "--quiet") == 2
    assert json.loads((tmp_path / "r.json").read_text())["captures"] == []
    assert scan(str(SAMPLES / "tls12-success.pcap"), "--format", "json", "-o", str(tmp_path / "r.json")) == 0
    assert scan(str(EXPIRED), "--format", "json", "-o", str(tmp_path / "r.json"), "--fail-on", "never") == 0


def test_usage_errors(tmp_path):
    from tlscap.cli_options import UsageError

    with pytest.raises(UsageError, match="needs --scheduler"):
        scan(str(MULTI), "--executor", "dask")
    with pytest.raises(UsageError, match="only for|is for --executor dask"):
        scan(str(MULTI), "--scheduler", "tcp://127.0.0.1:1")
    with pytest.raises(SystemExit):
        scan(str(MULTI), "--jobs", "0")
    with pytest.raises(SystemExit):
        scan(str(MULTI), "--file-timeout", "-1")


def test_file_timeout_stops_only_that_file(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    syn_flood_pcap(folder / "huge.pcap", 120_000)
    shutil.copy(MULTI, folder / "small.pcap")
    out = tmp_path / "r.json"
    # No bound on the wall time (a loaded machine may take long): the timeout error below is what shows
    # that huge.pcap was stopped at its limit rather than read to its end.
    status = scan(str(folder), "--format", "json", "-o", str(out), "--jobs", "2", "--file-timeout", "0.5", "--quiet")
    assert status == 1
    caps = {Path(c["path"]).name: c for c in json.loads(out.read_text())["captures"]}
    assert caps["huge.pcap"]["errors"][0]["code"] == "timeout"
    assert "0.5 s time limit" in caps["huge.pcap"]["errors"][0]["message"]
    assert len(caps["small.pcap"]["connections"]) == 4 and caps["small.pcap"]["errors"] == []


def test_a_killed_worker_is_a_capture_error_and_the_scan_goes_on(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    syn_flood_pcap(folder / "a-huge.pcap", 150_000)
    shutil.copy(MULTI, folder / "b-small.pcap")
    shutil.copy(EXPIRED, folder / "c-small.pcap")
    candidates = discover([str(folder)]).candidates

    def kill_the_worker() -> None:  # as the kernel's out-of-memory killer would, inside a-huge.pcap
        wait_until(lambda: any(has_open(pid, folder / "a-huge.pcap") for pid in _workers()), 60,
                   "a scan worker reading a-huge.pcap")
        for pid in _workers():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    got = list(runner.LocalRunner(jobs=1).run(candidates, runner.AnalysisOptions()))
    killer.join()
    assert [Path(r.capture.path).name for r in got] == ["a-huge.pcap", "b-small.pcap", "c-small.pcap"]
    (error,) = got[0].capture.errors
    assert error.code == "worker-crashed" and "SIGKILL" in error.message
    assert all(not r.capture.errors and r.capture.connections for r in got[1:])


def _workers() -> list[int]:
    """The processes that this test process's multiprocessing forkserver started: the scan's workers."""
    def forkserver(pid: int) -> bool:
        try:
            return b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    return [w for c in children(os.getpid()) if forkserver(c) for w in children(c)]


def test_ctrl_c_writes_the_report_of_the_files_done(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    shutil.copy(MULTI, folder / "a-small.pcap")
    syn_flood_pcap(folder / "b-huge.pcap", 300_000)
    syn_flood_pcap(folder / "c-huge.pcap", 300_000)
    jsonl, report = tmp_path / "r.jsonl", tmp_path / "r.json"
    procs = []
    for fmt, out in (("jsonl", jsonl), ("json", report)):
        procs.append((out, subprocess.Popen(
            [sys.executable, "-m", "tlscap.scan", str(folder), "--format", fmt, "-o", str(out), "--jobs", "1"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))

    def inside_b_huge(proc: subprocess.Popen) -> bool:
        # The scan hands a worker its next file only once the file before is in the report (with --jobs 1,
        # a-small.pcap): a worker holding b-huge.pcap open means a-small is done and b-huge is not.
        return any(has_open(pid, folder / "b-huge.pcap") for pid in descendants(proc.pid))

    wait_until(lambda: all(inside_b_huge(proc) for _, proc in procs), 60, "both scans' workers reading b-huge.pcap")
    for _, proc in procs:
        proc.send_signal(signal.SIGINT)
    for _out, proc in procs:
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == EXIT_INTERRUPTED, err
        assert "interrupted: the report covers 1 of 3 files" in err
        assert "Traceback" not in err
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [d["id"] for d in lines] == [0, 1, 2, 3] and all(d["capture"].endswith("a-small.pcap") for d in lines)
    doc = json.loads(report.read_text())
    assert [Path(c["path"]).name for c in doc["captures"]] == ["a-small.pcap"]


def test_local_workers_spool_each_files_connections(tmp_path):
    """With a spool folder, a worker hands back the report without its connections (they wait on disk,
    counted in `stats`) and reading them removes the spool: memory does not grow with the file."""
    spool = tmp_path / "spool"
    spool.mkdir()
    candidates = discover([str(MULTI), str(EXPIRED)]).candidates
    got = sorted(runner.LocalRunner(jobs=2, spool_dir=str(spool)).run(candidates, runner.AnalysisOptions()),
                 key=lambda r: r.index)
    assert all(r.capture.connections == [] and r.spool is not None for r in got)
    assert len(list(spool.iterdir())) == 2
    for result, path in zip(got, (MULTI, EXPIRED), strict=True):
        expected = analyze_capture(str(path)).connections
        assert result.capture.stats.connections == len(expected)
        assert [connection_dict(c) for c in result.connections()] == [connection_dict(c) for c in expected]
    assert list(spool.iterdir()) == []


def test_for_the_json_reports_workers_spool_each_connections_json_text(tmp_path):
    """With render="json", the worker renders each connection (the parent only copies the text): the same
    text `analyze` writes, one connection per line, and the spool is removed once read."""
    spool = tmp_path / "spool"
    spool.mkdir()
    candidates = discover([str(MULTI), str(EXPIRED)]).candidates
    local = runner.LocalRunner(jobs=2, spool_dir=str(spool), render="json")
    got = sorted(local.run(candidates, runner.AnalysisOptions()), key=lambda r: r.index)
    assert all(r.capture.connections == [] and r.render == "json" for r in got)
    for result, path in zip(got, (MULTI, EXPIRED), strict=True):
        expected = analyze_capture(str(path)).connections
        with pytest.raises(TypeError, match="spooled rendered"):
            next(result.connections())
        assert list(result.connection_json()) == [connection_json(c) for c in expected]
    assert list(spool.iterdir()) == []


def test_scan_json_holds_the_same_connections_as_analyze(tmp_path):
    """The scan's JSON, rendered in the workers, and analyze's JSON agree connection for connection."""
    scanned, analyzed = tmp_path / "scan.json", tmp_path / "analyze.json"
    assert scan(str(MULTI), str(EXPIRED), "--format", "json", "-o", str(scanned), "--jobs", "2") == 1
    done = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(MULTI), str(EXPIRED), "--format", "json",
                           "-o", str(analyzed)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    by_path = {c["path"]: c["connections"] for c in json.loads(analyzed.read_text())["captures"]}
    got = {c["path"]: c["connections"] for c in json.loads(scanned.read_text())["captures"]}
    assert got == by_path and sum(len(v) for v in got.values()) > 4


@pytest.mark.parametrize("fmt", ["text", "md", "html", "csv"])
@pytest.mark.parametrize("extra", [(), ("--all",), ("--at", "2030-01-01"),
                                   ("--truststore", str(SAMPLES / "pki" / "trust-root-and-client-ca.pem"))],
                         ids=["plain", "all", "at", "truststore"])
def test_scan_rendered_in_the_workers_is_the_same_report(tmp_path, monkeypatch, fmt, extra):
    """For the text, Markdown, HTML and CSV reports the workers spool each connection's part of the
    report (`file_task.connection_renderer`); the report must be byte for byte the one the parent makes from
    the connections themselves. A missing path goes first, so that the files' places in the report
    (HTML anchors) are not their places among the files; the samples are named relative to the working
    folder, as the report shows them, while the workers open them by absolute path."""
    monkeypatch.chdir(ROOT)
    rendered, whole = tmp_path / "rendered", tmp_path / "whole"
    args = (str(tmp_path / "missing"), "samples", "--format", fmt, "--jobs", "2", "--fail-on", "never",
            "--quiet", *extra)
    assert scan(*args, "-o", str(rendered)) == 0
    real_runner = cli_scan._runner
    monkeypatch.setattr(cli_scan, "_runner", lambda args, spool_dir=None, *, render=None: real_runner(
        args, spool_dir, render=None))
    assert scan(*args, "-o", str(whole)) == 0
    text = rendered.read_text()
    assert text == whole.read_text() and "samples/multi-connection.pcap" in text and str(ROOT) not in text
    if fmt == "html":  # entry 0 is the missing path
        places = set(re.findall(r'<article class="conn" id="c-(\d+)-', text))
        assert places and "0" not in places


def test_text_spool_holds_what_analyze_renders(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    candidates = discover([str(EXPIRED)]).candidates
    (result,) = runner.LocalRunner(jobs=1, spool_dir=str(spool), render="text-all").run(
        candidates, runner.AnalysisOptions())
    expected = [connection_text(c, show_all=True) for c in analyze_capture(str(EXPIRED)).connections]
    make = file_task.connection_renderer("text-all", path=str(EXPIRED), position=0, at=None)
    assert list(result.rendered("text-all", make)) == expected and expected
    assert list(spool.iterdir()) == []


def test_a_spool_that_cannot_be_opened_is_reported_as_such(tmp_path):
    """No silent fallback to holding the file's connections in memory; the scan stops on it
    (cmd_scan turns this capture error into exit 2 naming the spool)."""
    candidates = discover([str(MULTI)]).candidates
    (result,) = runner.LocalRunner(jobs=1, spool_dir=str(tmp_path / "missing")).run(
        candidates, runner.AnalysisOptions())
    (error,) = result.capture.errors
    assert error.code == file_task.SPOOL_WRITE_ERROR and "No such file or directory" in error.message
    assert str(tmp_path / "missing") in error.message


def test_a_scan_leaves_no_spool_behind(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "r.txt"
    done = subprocess.run([sys.executable, "-m", "tlscap", "scan", str(MULTI), str(EXPIRED), "--format", "text",
                           "-o", str(out), "--jobs", "2", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TMPDIR": str(temp)})
    assert done.returncode == 1, done.stderr
    assert "causes" in out.read_text() and list(temp.iterdir()) == []


def test_capture_reports_pickle_with_their_certificate_names():
    cap = analyze_capture(str(MULTI))
    back = file_task.load_result(file_task.analyze_to_bytes(str(MULTI), runner.AnalysisOptions()), str(MULTI))
    assert capture_dict(back) == capture_dict(cap)
    for a, b in zip(cap.connections, back.connections, strict=True):
        for x, y in zip(a.client_certificates, b.client_certificates, strict=True):
            assert [c.subject_name for c in x.chain] == [c.subject_name for c in y.chain]
    assert pickle.loads(pickle.dumps(cap)).connections[1].client_certificate.chain[0].subject_name is not None


def test_progress_bar_only_on_a_terminal(tmp_path):
    class Tty:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> int:
            self.text += s
            return len(s)

        def flush(self) -> None:
            pass

    tty = Tty()
    assert wants_bar(tty, quiet=False) and not wants_bar(tty, quiet=True)
    with open(tmp_path / "f", "w") as f:
        assert not wants_bar(f, quiet=False)
    cap = analyze_capture(str(MULTI))
    progress = Progress(total_files=2, total_bytes=2 * MULTI.stat().st_size, bar=True, quiet=False, stream=tty)
    progress.done(cap, MULTI.stat().st_size)
    progress.message("tlscap: x.pcap: empty file")
    progress.close()
    assert "1/2 files, 4 connections, 3 findings" in tty.text and "tlscap: x.pcap: empty file" in tty.text
    quiet = Tty()
    silent = Progress(total_files=1, total_bytes=1, bar=False, quiet=True, stream=quiet)
    silent.done(cap, 1)
    silent.message("nothing")
    silent.close()
    assert quiet.text == ""


# --------------------------------------------------------------------------- Dask


def test_dask_executor_gives_byte_identical_json(tmp_path):
    import distributed

    local_out, dask_out = tmp_path / "local.json", tmp_path / "dask.json"
    assert scan(str(SAMPLES), "--format", "json", "-o", str(local_out), "--quiet") == 1
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        assert scan(str(SAMPLES), "--format", "json", "-o", str(dask_out), "--quiet", "--executor", "dask",
                    "--scheduler", cluster.scheduler_address) == 1
        timeout_out = tmp_path / "timeout.json"
        folder = tmp_path / "caps"
        folder.mkdir()
        syn_flood_pcap(folder / "huge.pcap", 120_000)
        shutil.copy(MULTI, folder / "small.pcap")
        assert scan(str(folder), "--format", "json", "-o", str(timeout_out), "--quiet", "--executor", "dask",
                    "--scheduler", cluster.scheduler_address, "--file-timeout", "0.5") == 1
    assert dask_out.read_bytes() == local_out.read_bytes()
    caps = {Path(c["path"]).name: c for c in json.loads(timeout_out.read_text())["captures"]}
    assert caps["huge.pcap"]["errors"][0]["code"] == "timeout" and len(caps["small.pcap"]["connections"]) == 4


def test_dask_scheduler_unreachable_is_a_usage_error(monkeypatch):
    from tlscap.cli_options import UsageError

    monkeypatch.setattr(runner.DaskRunner, "CONNECT_TIMEOUT", 1.0)

    with pytest.raises(UsageError, match="cannot connect to the Dask scheduler"):
        scan(str(MULTI), "--format", "json", "--quiet", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
             "-o", os.devnull)
