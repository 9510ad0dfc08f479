"""tlscap never destroys an input, never leaves a broken report, and ends cleanly on
signals and I/O errors. Every input is built here (struct-level pcap writers); ENOSPC comes from a
small tmpfs mounted by the test (or /dev/full), signals are real ones sent to a real process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import adversarial as A
import pytest
from process_watch import descendants, has_open, read_position, wait_until
from test_scan import syn_flood_pcap

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("json", "jsonl", "text", "md", "html", "csv")


def failing_capture(path: Path, connections: int = 3) -> Path:
    """A capture whose connections each end on a fatal handshake_failure alert: findings at `error`."""
    with A.PcapWriter(path) as writer:
        for i in range(connections):
            conv = A.Conversation(writer, client=("10.0.0.1", 40000 + i))
            conv.open()
            conv.send(True, A.records(22, A.client_hello(random=i.to_bytes(4, "big") * 8)))
            conv.send(False, A.records(22, A.server_hello()))
            conv.send(False, A.records(21, b"\x02\x28"))
            conv.close()
    return path


def tlscap(*argv: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlscap", *argv], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, check=False, **kwargs)  # type: ignore[call-overload]


@contextlib.contextmanager
def full_tmpfs(path: Path, size: str = "256k", *, filled: bool = True) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path`, filled up to its last byte (or empty)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (needs root): {done.stderr!r}")
    try:
        if filled:
            fill(path / "filler")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write zeros to `path` until the file system is full."""
    with open(path, "wb", buffering=0) as f, contextlib.suppress(OSError):
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)


def no_temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tlscap-tmp")]


# -------------------------------------------------------------------------------------- -o naming an input


def test_analyze_refuses_an_output_that_is_its_input(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    before = cap.read_bytes()
    done = tlscap("analyze", str(cap), "-o", str(cap))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert str(cap) in done.stderr and "one of the inputs" in done.stderr
    assert cap.read_bytes() == before


def test_analyze_refuses_an_input_reached_through_links(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    before = cap.read_bytes()
    (tmp_path / "soft.json").symlink_to(cap)
    os.link(cap, tmp_path / "hard.json")
    for name in ("soft.json", "hard.json"):
        done = tlscap("analyze", str(cap), "-o", str(tmp_path / name))
        assert done.returncode == 2 and "one of the inputs" in done.stderr, done.stderr
        assert cap.read_bytes() == before


def test_scan_refuses_an_output_among_the_captures_it_scans(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    failing_capture(folder / "a.pcap")
    target = failing_capture(folder / "x.pcap")
    before = target.read_bytes()
    done = tlscap("scan", str(folder), "-o", str(target), "--format", "json")
    assert done.returncode == 2 and "one of the inputs" in done.stderr
    assert target.read_bytes() == before


def test_analyze_refuses_its_key_log_as_output(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    keylog = tmp_path / "keys.txt"
    keylog.write_text("CLIENT_RANDOM " + "00" * 32 + " " + "11" * 48 + "\n")
    done = tlscap("analyze", str(cap), "--keylog", str(keylog), "-o", str(keylog))
    assert done.returncode == 2 and "one of the inputs" in done.stderr
    assert keylog.read_text().startswith("CLIENT_RANDOM")


# ----------------------------------------------------------------------------------------- a full disk


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_disk_leaves_the_old_report_and_no_temporary_file(tmp_path, fmt):
    cap = failing_capture(tmp_path / "x.pcap", connections=40)
    with full_tmpfs(tmp_path / "full") as full:
        target = full / f"report.{fmt}"
        # The old report is there before the disk fills up (written over the filler's last bytes).
        (full / "filler").unlink()
        target.write_text("old report\n")
        fill(full / "filler")
        done = tlscap("analyze", str(cap), "--format", fmt, "--all", "-o", str(target))
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "internal error" not in done.stderr
        assert str(target) in done.stderr and "No space left on device" in done.stderr
        assert target.read_text() == "old report\n"
        assert no_temp_files(full) == []


def test_dev_full_is_a_users_error_naming_the_file(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    done = tlscap("analyze", str(cap), "--format", "json", "-o", "/dev/full")
    assert done.returncode == 2 and "internal error" not in done.stderr
    assert "/dev/full" in done.stderr and "No space left on device" in done.stderr


def test_a_read_only_file_system_is_a_users_error(tmp_path):
    """(Root passes permission bits, so the refusal comes from a read-only tmpfs: EROFS.)"""
    cap = failing_capture(tmp_path / "x.pcap")
    locked = tmp_path / "ro"
    locked.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(locked)], check=False).returncode:
        pytest.fail("cannot mount a read-only tmpfs (needs root)")
    try:
        done = tlscap("analyze", str(cap), "-o", str(locked / "r.json"))
    finally:
        subprocess.run(["umount", "-l", str(locked)], check=False)
    assert done.returncode == 2 and "internal error" not in done.stderr
    assert "r.json" in done.stderr and "Read-only file system" in done.stderr


def without_dac_override(argv: list[str]) -> list[str]:
    """`argv` run as root without the capabilities that let root pass permission bits (setpriv drops
    them from the bounding set before exec), so a folder root does not own refuses it as any user."""
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *argv]


@pytest.mark.parametrize("command", ["analyze", "scan", "certs"])
def test_permission_denied_is_a_users_error_naming_the_path(tmp_path, command):
    """EACCES: the report (or the certificates' folder) in a folder of another user's, read-only to us."""
    cap = failing_capture(tmp_path / "x.pcap")
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chown(locked, 65534, 65534)
    locked.chmod(0o555)
    target = locked / ("certs" if command == "certs" else "r.json")
    argv = {"analyze": ["analyze", str(cap), "-o", str(target)],
            "scan": ["scan", str(cap), "--format", "json", "-o", str(target), "--jobs", "1"],
            "certs": ["certs", str(cap), "--out", str(target)]}[command]
    done = subprocess.run(without_dac_override([sys.executable, "-m", "tlscap", *argv]), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert str(target) in done.stderr and "Permission denied" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert list(locked.iterdir()) == []


EIO_FSYNC = ("import errno, os, runpy, sys\n"
             "def failing_fsync(fd):\n"
             "    raise OSError(errno.EIO, os.strerror(errno.EIO))\n"
             "os.fsync = failing_fsync\n"
             "sys.argv = ['tlscap', *sys.argv[1:]]\n"
             "runpy.run_module('tlscap', run_name='__main__')\n")


def test_an_input_output_error_on_the_report_leaves_the_old_one(tmp_path):
    """EIO, as a disk reports it when the data reaches it (at fsync): no device here fails on demand, so
    the fault is injected at os.fsync in tlscap's own process."""
    cap = failing_capture(tmp_path / "x.pcap")
    out = tmp_path / "r.json"
    out.write_text("old\n")
    done = subprocess.run([sys.executable, "-c", EIO_FSYNC, "analyze", str(cap), "-o", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert str(out) in done.stderr and "Input/output error" in done.stderr
    assert out.read_text() == "old\n" and no_temp_files(tmp_path) == []


# ------------------------------------------------------------------------------ $TMPDIR full in a scan


def test_scan_with_a_full_tmpdir_stops_cleanly(tmp_path):
    """$TMPDIR has room to start (Python's tempfile falls back to another folder when it has none) but
    the workers' spools fill it."""
    folder = tmp_path / "caps"
    folder.mkdir()
    for name in "abc":
        failing_capture(folder / f"{name}.pcap", connections=400)
    out = tmp_path / "r.json"
    with full_tmpfs(tmp_path / "tmp", size="128k", filled=False) as tmp:
        done = tlscap("scan", str(folder), "--format", "json", "-o", str(out), "--jobs", "2",
                      env={"TMPDIR": str(tmp)})
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "worker-crashed" not in done.stderr
        assert "No space left on device" in done.stderr and str(tmp) in done.stderr
        assert not out.exists() and no_temp_files(tmp_path) == []
        assert list(tmp.iterdir()) == []  # no spool left


# ---------------------------------------------------------------- nothing written before a usage error


def test_an_overflowing_file_timeout_is_a_usage_error(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    failing_capture(folder / "a.pcap")
    done = tlscap("scan", str(folder), "--format", "json", "--file-timeout", "1e308")
    assert done.returncode == 2 and done.stdout == ""
    assert "--file-timeout" in done.stderr and "internal error" not in done.stderr


def test_dask_missing_exits_2_before_writing_anything(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    failing_capture(folder / "a.pcap")
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('distributed is not installed')\n")
    env = {"PYTHONPATH": f"{shadow.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = tlscap("scan", str(folder), "--format", "json", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                  env=env)
    assert done.returncode == 2 and done.stdout == "" and "pip install" in done.stderr
    out = tmp_path / "r.json"
    done = tlscap("scan", str(folder), "-o", str(out), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                  env=env)
    assert done.returncode == 2 and not out.exists()


def test_an_error_midway_leaves_the_output_file_as_it_was(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    out = tmp_path / "r.json"
    out.write_text("old\n")
    done = tlscap("analyze", str(cap), str(tmp_path / "missing.pcap"), "-o", str(out), "--engine", "tshark",
                  env={"PATH": "/nonexistent"})
    assert done.returncode == 2 and out.read_text() == "old\n" and no_temp_files(tmp_path) == []


# ------------------------------------------------------------------------------------- standard output


def test_closed_stdout_is_one_line_and_exit_2(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    done = subprocess.run(f"{sys.executable} -m tlscap analyze {cap} --format json >&-", shell=True, cwd=ROOT,
                          capture_output=False, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "standard output" in done.stderr and "closed" in done.stderr and "internal error" not in done.stderr


def test_a_closed_pipe_never_turns_findings_into_exit_0(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap", connections=200)
    full = tlscap("analyze", str(cap), "--format", "json")
    assert full.returncode == 1  # findings
    done = subprocess.run(f"{sys.executable} -m tlscap analyze {cap} --format json --all | head -c 10 >/dev/null;"
                          " exit ${{PIPESTATUS[0]}}".replace("{{", "{").replace("}}", "}"),
                          shell=True, executable="/bin/bash", cwd=ROOT, stderr=subprocess.PIPE, text=True,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert "standard output" in done.stderr and "pipe" in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_stdout_on_a_full_device(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "tlscap", "analyze", str(cap), "--format", "json"], cwd=ROOT,
                              stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 2 and "No space left on device" in done.stderr
    assert "Exception ignored" not in done.stderr and "internal error" not in done.stderr
    assert "standard output" in done.stderr


# --------------------------------------------------------------------------------------------- signals


def _group_alive(pgid: int) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def test_sigint_during_the_imports_is_not_a_traceback(tmp_path):
    cap = failing_capture(tmp_path / "x.pcap")
    for delay in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6):
        proc = subprocess.Popen([sys.executable, "-m", "tlscap", "analyze", str(cap), "--format", "json"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert "Traceback" not in err, (delay, err)
        # 130, or killed by the signal itself (-2, which a shell shows as 130 too) when it lands while the
        # interpreter shuts down after the run; 1 when the run ended before the signal.
        assert proc.returncode in (130, -signal.SIGINT, 1), (delay, proc.returncode, err)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("to_group", [True, False])
def test_a_signal_ends_a_scan_with_its_report_and_nothing_left(tmp_path, sig, status, to_group):
    folder = tmp_path / "caps"
    folder.mkdir()
    failing_capture(folder / "a-small.pcap")
    syn_flood_pcap(folder / "b-huge.pcap", 300_000)
    syn_flood_pcap(folder / "c-huge.pcap", 300_000)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "tlscap", "scan", str(folder), "--format", "json", "-o", str(out),
                             "--jobs", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True)
    # The scan hands a worker its next file only once the file before is in the report: a worker reading
    # c-huge.pcap means a-small is done, and the other one is reading b-huge.pcap.
    huge = (folder / "b-huge.pcap", folder / "c-huge.pcap")
    wait_until(lambda: all(any(has_open(pid, h) for pid in descendants(proc.pid)) for h in huge), 60,
               "the scan's two workers reading b-huge.pcap and c-huge.pcap")
    if to_group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_alive(proc.pid) == []
    assert list(tmp.iterdir()) == []  # no spool
    doc = json.loads(out.read_text())
    assert [Path(c["path"]).name for c in doc["captures"]] == ["a-small.pcap"]
    assert no_temp_files(tmp_path) == []


def test_sigterm_during_analyze_leaves_the_old_report(tmp_path):
    big = tmp_path / "big.pcap"
    syn_flood_pcap(big, 400_000)
    out = tmp_path / "r.json"
    out.write_text("old\n")
    proc = subprocess.Popen([sys.executable, "-m", "tlscap", "analyze", str(big), "-o", str(out)], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_until(lambda: (read_position(proc.pid, big) or 0) > 0, 60, "analyze reading big.pcap")
    assert proc.poll() is None, "the analysis ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err
    assert out.read_text() == "old\n" and no_temp_files(tmp_path) == []


@pytest.mark.parametrize(("fmt", "sig", "status"), [("json", signal.SIGINT, 130), ("json", signal.SIGTERM, 143),
                                                   ("jsonl", signal.SIGINT, 130), ("text", signal.SIGTERM, 143)])
def test_a_report_on_standard_output_interrupted_midway_is_a_whole_document(tmp_path, fmt, sig, status):
    """Standard output cannot be taken back: an interrupted analyze ends the report there with the
    connections finished so far and an `interrupted` error, instead of leaving half a document."""
    from memory_captures import short_connections

    capture = short_connections(tmp_path / "many.pcap", 100_000)
    out = tmp_path / "stdout"
    with open(out, "w") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "tlscap", "analyze", str(capture), "--format", fmt],
                                cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True, start_new_session=True)
        if fmt == "text":  # the text report is written at the end (verdict tables first): midway through
            # the capture, nothing is written yet
            wait_until(lambda: (read_position(proc.pid, capture) or 0) > 0, 60, "analyze reading the capture")
            assert out.stat().st_size == 0
        else:
            deadline = time.monotonic() + 60
            while out.stat().st_size < 200_000 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)  # connections are being written
        assert proc.poll() is None, "the analysis ended before it could be interrupted"
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == status and "Traceback" not in err, err
    text = out.read_text()
    if fmt == "json":
        report = json.loads(text)
        cap = report["captures"][0]
        assert 0 < len(cap["connections"]) < 100_000
        assert [e["code"] for e in cap["errors"]] == ["interrupted"]
        assert report["summary"]["connections"] == len(cap["connections"])
    elif fmt == "jsonl":
        lines = text.splitlines()
        assert lines and all(json.loads(line)["capture"] == str(capture) for line in lines)
    else:
        assert "was interrupted by SIGTERM" in text and text.endswith("\n")


# ------------------------------------------------------------------------------- the key log in memory


def million_line_keylog(path: Path) -> Path:
    """1,000,000 CLIENT_RANDOM lines, 176 MB: a key log as large as a busy server's."""
    with open(path, "w") as f:
        for _ in range(100):
            blob = os.urandom(80 * 10_000)
            f.write("".join(f"CLIENT_RANDOM {blob[i:i + 32].hex()} {blob[i + 32:i + 80].hex()}\n"
                            for i in range(0, len(blob), 80)))
    return path


def peak_rss_mib(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a process and measure its peak RSS from outside (RUSAGE_CHILDREN of a fresh helper)."""
    code = ("import resource, subprocess, sys, json\n"
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
            "print(json.dumps([peak, done.returncode, done.stderr]))\n")
    helper = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True,
                            check=True, timeout=600)
    peak, status, err = json.loads(helper.stdout)
    return peak, subprocess.CompletedProcess(argv, status, "", err)


def test_a_million_line_key_log_stays_under_200_mb(tmp_path):
    keylog = million_line_keylog(tmp_path / "big.keylog")
    assert keylog.stat().st_size == 176_000_000
    cap = failing_capture(tmp_path / "x.pcap")
    peak, done = peak_rss_mib([sys.executable, "-m", "tlscap", "analyze", str(cap), "--keylog", str(keylog),
                               "--format", "json", "-o", str(tmp_path / "r.json")])
    assert done.returncode == 1, done.stderr  # the capture's findings
    assert peak <= 200, f"peak RSS {peak:.0f} MiB"


def test_scan_workers_hold_no_more_than_the_key_log_file(tmp_path):
    keylog = million_line_keylog(tmp_path / "big.keylog")
    folder = tmp_path / "caps"
    folder.mkdir()
    for name in "ab":
        failing_capture(folder / f"{name}.pcap")
    peak, done = peak_rss_mib([sys.executable, "-m", "tlscap", "scan", str(folder), "--keylog", str(keylog),
                               "--jobs", "2", "--format", "json", "-o", str(tmp_path / "r.json")])
    assert done.returncode == 1, done.stderr
    # The largest of tlscap and its workers (RUSAGE_CHILDREN: the largest descendant waited for); the
    # workers map the parsed key log from one file.
    assert peak <= 200, f"peak RSS {peak:.0f} MiB"


# ----------------------------------------------------------------------------------- a byte-order mark


def test_a_key_log_with_a_byte_order_mark_keeps_its_first_line(tmp_path):
    from tlscap.tls.keylog import load_keylog_file, parse_keylog

    random = bytes(range(32))
    text = f"CLIENT_RANDOM {random.hex()} {'ab' * 48}\n"
    path = tmp_path / "bom.keylog"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    for keylog in (load_keylog_file(path), parse_keylog(b"\xef\xbb\xbf" + text.encode()),
                   parse_keylog("\ufeff" + text)):
        assert keylog.bad_lines == 0 and keylog.for_random(random) == {"CLIENT_RANDOM": bytes.fromhex("ab" * 48)}


# --------------------------------------------------------------------------------------- damaged files


def damaged_first_record(path: Path) -> Path:
    """A pcap whose first record header claims 2 GiB: nothing can be read."""
    import struct

    good = failing_capture(path.with_suffix(".good.pcap")).read_bytes()
    path.write_bytes(good[:24] + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 0x7FFFFFFF) + good[40:])
    return path


def test_a_file_damaged_from_its_first_record_exits_2(tmp_path):
    cap = damaged_first_record(tmp_path / "d.pcap")
    for argv in (["analyze", str(cap), "--format", "json"], ["scan", str(cap), "--format", "json"]):
        done = tlscap(*argv)
        assert done.returncode == 2, (argv, done.stderr)
        assert "damaged" in done.stderr


def test_compare_on_a_damaged_file_says_so(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(failing_capture(tmp_path / "x.pcap").read_bytes()[:-30])
    done = tlscap("compare", str(cut))
    assert "engines agree" not in done.stdout and "damaged" in done.stdout
    assert "ends inside record" in done.stderr and done.returncode == 1
    done = tlscap("compare", str(damaged_first_record(tmp_path / "d.pcap")))
    assert done.returncode == 2 and "engines agree" not in done.stdout and "damaged" in done.stderr


def test_compare_on_an_empty_file_exits_2_with_a_message(tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    done = tlscap("compare", str(empty))
    assert done.returncode == 2 and "empty file" in done.stderr and done.stdout == ""


# ----------------------------------------------------------------------------------- the tshark engine


def gzip_bomb(path: Path, frames: int = 400_000) -> Path:
    """A gzip-compressed pcap of identical frames: ~560 MiB decompressed from well under 2 MiB."""
    import gzip
    import struct

    frame = A.tcp_frame("10.0.0.1", "10.0.0.2", 40000, 443, 1, 1, 0x10, b"\0" * 1400)
    record = struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for _ in range(frames // 1000):
            out.write(record * 1000)
    return path


def test_tshark_reads_no_further_than_the_decompression_limit(tmp_path):
    bomb = gzip_bomb(tmp_path / "bomb.pcap.gz")
    assert bomb.stat().st_size < 2 << 20
    out = tmp_path / "r.json"
    done = tlscap("analyze", str(bomb), "--engine", "tshark", "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    cap = json.loads(out.read_text())["captures"][0]
    assert [e["code"] for e in cap["errors"]] == ["decompression-limit"]
    native = json.loads(tlscap("analyze", str(bomb), "--format", "json").stdout)["captures"][0]
    assert cap["frames"] == native["frames"] < 400_000
    # What tshark itself read: its CPU time, against a capture of the frames before the limit alone.
    limit = tmp_path / "limit.pcap"
    import gzip
    import struct

    with gzip.open(bomb) as source:
        head = source.read(24)
        record = source.read(16)
        size = struct.unpack("<I", record[8:12])[0]
        limit.write_bytes(head + (record + source.read(size)) * native["frames"])
    bomb_cpu = tshark_cpu(["analyze", str(bomb), "--engine", "tshark", "--format", "json"])
    limit_cpu = tshark_cpu(["analyze", str(limit), "--engine", "tshark", "--format", "json"])
    assert bomb_cpu < 1.5 * limit_cpu + 1, (bomb_cpu, limit_cpu)


def tshark_cpu(argv: list[str]) -> float:
    """User + system CPU seconds of tlscap and its children (tshark), measured from outside."""
    code = ("import resource, subprocess, sys\n"
            "subprocess.run(sys.argv[1:], capture_output=True)\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(u.ru_utime + u.ru_stime)\n")
    done = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "tlscap", *argv], cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=600)
    return float(done.stdout)


def _tshark_children() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("tshark", "dumpcap"):
                    found.add(int(entry.name))
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_tshark_children_end_with_tlscap(tmp_path, sig):
    big = syn_flood_pcap(tmp_path / "big.pcap", 600_000)
    before = _tshark_children()
    proc = subprocess.Popen([sys.executable, "-m", "tlscap", "analyze", str(big), "--engine", "tshark",
                             "-o", str(tmp_path / "r.json")], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (_tshark_children() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    children = _tshark_children() - before
    assert children, "tshark did not start"
    time.sleep(0.5)
    proc.send_signal(sig)  # to tlscap alone, not to its process group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert "Traceback" not in err
    # At once: a tshark pass whose filter matches nothing writes nothing, so no broken pipe would stop it.
    deadline = time.monotonic() + 1.5
    while children & _tshark_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not children & _tshark_children()


# -------------------------------------------------------------------------------------- --file-timeout


def slow_tail_capture(path: Path, connections: int = 20, syns: int = 300_000) -> Path:
    """`connections` failing handshakes, then a long SYN flood that keeps the analysis busy. The flood
    starts 6 s of capture time later, past the collector's grace period, so the handshakes are handed on
    within the first frames of the flood however slowly the machine reads it."""
    with A.PcapWriter(path) as writer:
        for i in range(connections):
            conv = A.Conversation(writer, client=("10.0.0.1", 40000 + i))
            conv.open()
            conv.send(True, A.records(22, A.client_hello(random=i.to_bytes(4, "big") * 8)))
            conv.send(False, A.records(22, A.server_hello()))
            conv.send(False, A.records(21, b"\x02\x28"))
            conv.close()
        for i in range(syns):
            writer.write(A.tcp_frame(f"10.1.{(i >> 8) & 255}.{i & 255}", "10.0.0.2", 1024 + i % 60000, 443, i, 0,
                                     0x02), step_us=6_000_000 if i == 0 else 100)
    return path


def test_file_timeout_reports_what_was_finished_before_the_limit(tmp_path):
    folder = tmp_path / "caps"
    folder.mkdir()
    slow_tail_capture(folder / "slow.pcap")
    out = tmp_path / "r.json"
    started = time.monotonic()
    done = tlscap("scan", str(folder), "--format", "json", "-o", str(out), "--file-timeout", "2", "--quiet")
    assert time.monotonic() - started < 20
    assert done.returncode == 1, done.stderr  # the connections read before the limit have findings
    (cap,) = json.loads(out.read_text())["captures"]
    assert [e["code"] for e in cap["errors"]] == ["timeout"]
    assert len(cap["connections"]) == 20 and "20 connections finished before it" in cap["errors"][0]["message"]


def test_file_timeout_keeps_the_frame_count_of_what_was_read(tmp_path):
    """The file cut by --file-timeout keeps what the engine read before the limit: its frame count (more than
    the 20 handshakes, fewer than the whole file), format and link type, and the timeout error says at which
    frame it stopped. Before, the file showed 0 frames."""
    folder = tmp_path / "caps"
    folder.mkdir()
    total = 20 * 9 + 300_000  # each handshake: SYN, SYN/ACK, ACK, 3 data segments, 2 FINs, ACK
    slow_tail_capture(folder / "slow.pcap")
    out = tmp_path / "r.json"
    done = tlscap("scan", str(folder), "--format", "json", "-o", str(out), "--file-timeout", "2", "--quiet")
    assert done.returncode == 1, done.stderr
    (cap,) = json.loads(out.read_text())["captures"]
    assert 20 * 9 < cap["frames"] < total and cap["format"] == "pcap" and cap["link_types"]
    (error,) = cap["errors"]
    assert error["code"] == "timeout"
    assert f"stopped at frame {cap['frames']:,} by the 2 s time limit" in error["message"]


# --------------------------------------------------------------------------- temporary files and certs


def test_a_full_tmpdir_under_the_report_spool_is_a_users_error(tmp_path, monkeypatch):
    import tempfile

    from tlscap.output import OutputError
    from tlscap.report import spool

    with full_tmpfs(tmp_path / "tmp", size="64k", filled=False) as tmp:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        monkeypatch.setattr(spool, "IN_MEMORY_CHARS", 1000)
        text = spool.TextSpool()
        with pytest.raises(OutputError) as raised:
            for _ in range(1000):
                text.write("x" * 999 + "\n")
        text.close()
    assert str(tmp) in str(raised.value) and "No space left on device" in str(raised.value)


def test_certs_on_a_full_disk_is_a_users_error(tmp_path):
    import shutil as sh

    sample = next((ROOT / "samples").glob("tls12-*.pcap"))
    cap = sh.copy(sample, tmp_path / "x.pcap")
    with full_tmpfs(tmp_path / "full") as full:
        done = tlscap("certs", str(cap), "--out", str(full / "pem"))
        assert done.returncode == 2 and "internal error" not in done.stderr, done.stderr
        assert "No space left on device" in done.stderr
        assert [p for p in (full / "pem").iterdir() if p.stat().st_size == 0] == []


# ------------------------------------------------------------------------------ even/odd segment order


def _even_odd(path: Path, *, connections: int, mss: int, sni: str, syn: bool, whole_capture: bool) -> None:
    import struct

    with A.PcapWriter(path) as writer:
        for i in range(connections):
            conv = A.Conversation(writer, client=("10.0.0.1", 40000 + i))
            if syn:
                conv.open()
            data = A.records(22, A.client_hello(sni=sni, random=i.to_bytes(4, "big") * 8))
            base = conv.seq[True]
            segments = [(base + s, data[s : s + mss]) for s in range(0, len(data), mss)]
            for seq, piece in segments if whole_capture else segments[0::2] + segments[1::2]:
                writer.write(conv._frame(True, A.PSH | A.ACK, piece, seq=seq))
            conv.seq[True] += len(data)
            conv.send(False, A.records(22, A.server_hello()) + A.records(22, A.certificate([b"x" * 3000])), mss=mss)
            conv.send(False, A.records(21, b"\x02\x28"))
            conv.close()
    if whole_capture:  # every frame of the file: the even ones first, then the odd ones
        raw = path.read_bytes()
        records, pos = [], 24
        while pos < len(raw):
            size = struct.unpack("<I", raw[pos + 8 : pos + 12])[0]
            records.append(raw[pos : pos + 16 + size])
            pos += 16 + size
        path.write_bytes(raw[:24] + b"".join(records[0::2] + records[1::2]))


def _tshark_client_hello_frames(path: Path) -> list[int]:
    """The frames tshark credits each ClientHello to, with its out-of-order reassembly on."""
    done = subprocess.run(["tshark", "-o", "tcp.reassemble_out_of_order:TRUE", "-r", str(path), "-Y",
                           "tls.handshake.type == 1", "-T", "fields", "-e", "frame.number"],
                          capture_output=True, text=True, timeout=120, check=True)
    return [int(line) for line in done.stdout.split()]


@pytest.mark.parametrize(("mss", "sni", "syn", "whole_capture"), [
    (100, "server.example", True, False),
    # 1-byte segments, even ones first: over 1,000 wait at once (once lost past 256 waiting segments).
    (1, "a" * 2000, True, False),
    (1, "a" * 2000, False, False),
    (1460, "server.example", True, True),
    # Every frame of the file even-then-odd: the server's ACK passes the client's holes before the odd
    # segments come (once declared lost there).
    (50, "server.example", True, True),
    (50, "server.example", False, True),
])
def test_even_odd_segment_order_loses_no_connection(tmp_path, mss, sni, syn, whole_capture):
    """Every connection is reported, each with its ClientHello, whatever the even/odd order, credited to
    the frame tshark's out-of-order reassembly credits it to (the one that completes it)."""
    from tlscap.analysis.engine import analyze_capture

    path = tmp_path / "eo.pcap"
    _even_odd(path, connections=4, mss=mss, sni=sni, syn=syn, whole_capture=whole_capture)
    cap = analyze_capture(str(path))
    assert sorted(c.client.port for c in cap.connections) == [40000, 40001, 40002, 40003]
    hellos = sorted(h.frame for c in cap.connections for h in c.handshake if h.message == "ClientHello")
    assert len(hellos) == 4 and hellos == sorted(_tshark_client_hello_frames(path))
    assert not [f for c in cap.connections for f in c.findings if f.code == "capture-gap"]


def test_lost_start_of_a_direction_is_a_capture_gap(tmp_path):
    """The client's first segment (the start of its ClientHello) is not in the capture, its second is, and
    the server answers: the connection is reported, with a capture-gap finding that names the client and the
    first frame after the hole (tshark reads no ClientHello there either)."""
    from tlscap.analysis.engine import analyze_capture

    path = tmp_path / "lost-start.pcap"
    hello = A.records(22, A.client_hello(sni="a" * 300))
    with A.PcapWriter(path) as writer:
        conv = A.Conversation(writer)
        conv.open()
        conv.seq[True] += 100  # the first 100 bytes of the ClientHello: never captured
        (after_hole,) = conv.send(True, hello[100:])
        conv.send(False, A.records(22, A.server_hello()) + A.records(22, A.certificate([b"x" * 300])))
        conv.send(False, A.records(21, b"\x02\x28"))
        conv.close()
    assert _tshark_client_hello_frames(path) == []
    (conn,) = analyze_capture(str(path)).connections
    (gap,) = [f for f in conn.findings if f.code == "capture-gap"]
    assert gap.frames == (after_hole,)
    assert f"from the client (frame {after_hole}: 100 bytes missing before the first TLS record)" in gap.message
