#!/usr/bin/env python3
"""Measure tlscap against tshark on benchmark captures: wall time, peak RSS, agreement.

For each capture, ``--runs`` times each, taking turns (median reported):

    tlscap analyze FILE --format json -o /dev/null
    tshark -n -r FILE -T fields -e frame.number -e tcp.stream -e tls.handshake.type \\
           -e tls.alert_message.desc -e tls.record.content_type -e ... (FACT_FIELDS) \\
           -Y 'tls.record.content_type in {20, 21, 22} or tcp.flags.fin==1 or tcp.flags.reset==1'
    tshark -n -r FILE -T fields -e frame.number -e tcp.stream -e tls.handshake.type \\
           -e tls.alert_message.desc -e tls.record.content_type \\
           -Y 'tls.handshake.type or tls.record.content_type==21'

    ssldump -n -N -r FILE                  (only when ssldump is installed)

The first tshark command extracts the facts tlscap's report holds (endpoints, times, versions,
cipher suite, SNI, the CertificateRequest's names, algorithms and types, each certificate's
names, serial, validity, algorithms, SANs and EKUs, alerts, FIN and RST frames): the ratio is
taken against it. The second extracts only the frame numbers the agreement check compares; it is
timed too, as the lower bound of tshark's work. ssldump, a TLS dissector written in C, is a
reference for what compiled code does on the same file: it decodes every handshake message and,
with ``-N``, the certificates' names, but judges nothing and lists no CA names. It is timed, not
compared.

Each run is a fresh child process; its peak RSS is the ``ru_maxrss`` that ``wait4`` returns
for it (the number GNU ``/usr/bin/time -v`` prints as "Maximum resident set size"), its
wall time is measured around it. The first tlscap run writes its JSON to a temporary file
instead of /dev/null (the report is serialised either way), which is then compared with
tshark's fields: the sets of (tcp.stream, frame) that carry a CertificateRequest, a
Certificate and an alert record must be the same.

Results are printed as a table and written as JSON beside each capture
(``<capture>.results.json``); ``--report`` prints the table again from those files.

    python3 benchmarks/measure.py --size 10M --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("TLSCAP_BENCH_CACHE", "/var/tmp/tlscap-bench"))
# The agreement check reads these five columns, first in both commands.
TSHARK_FIELDS = ["frame.number", "tcp.stream", "tls.handshake.type", "tls.alert_message.desc",
                 "tls.record.content_type"]
TSHARK_FILTER = "tls.handshake.type or tls.record.content_type==21"
# The rest of what tlscap reports of each connection, as tshark 4.0 fields.
FACT_FIELDS = [
    "frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
    "tcp.flags.fin", "tcp.flags.reset", "tls.record.version", "tls.handshake.version",
    "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite",
    "tls.handshake.extensions_server_name", "tls.handshake.sig_hash_alg", "tls.handshake.cert_type",
    "x509if.type", "x509sat.printableString", "x509sat.uTF8String", "x509af.serialNumber",
    "x509af.utcTime", "x509af.generalizedTime", "x509af.algorithm.id", "x509ce.dNSName",
    "x509ce.iPAddress", "x509ce.KeyPurposeId", "tls.alert_message.level",
]
FACT_FILTER = "tls.record.content_type in {20, 21, 22} or tcp.flags.fin==1 or tcp.flags.reset==1"
HANDSHAKE_TYPES = {"CertificateRequest": "13", "Certificate": "11"}
KINDS = ("CertificateRequest", "Certificate", "alert")
TLSCAP_OK_EXIT = {0, 1}  # 1 = findings at --fail-on level, a normal outcome here


@dataclass(slots=True)
class Run:
    """One timed run of one tool."""

    wall_s: float
    max_rss_kb: int
    exit_code: int
    timed_out: bool


def run_measured(cmd: list[str], stdout_path: str, stderr_path: str, timeout_s: float) -> Run:
    """Run cmd in its own session; wall time and the child's peak RSS (wait4 rusage).

    On timeout the whole process group is killed and the run is marked timed_out.
    """
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        began = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return Run(round(wall, 3), int(usage.ru_maxrss), proc.returncode, timed_out.is_set())


def count_packets(path: Path) -> int:
    """Packets in a classic pcap, by walking the record headers (fast, no decoding)."""
    with open(path, "rb") as f:
        head = f.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        rec = struct.Struct(endian + "IIII")
        n = 0
        while True:
            hdr = f.read(16)
            if len(hdr) < 16:
                return n
            f.seek(rec.unpack(hdr)[2], os.SEEK_CUR)
            n += 1


def tshark_facts(fields_path: str) -> dict[str, set[tuple[int, int]]]:
    """(stream, frame) sets per kind from tshark's tab-separated fields."""
    facts: dict[str, set[tuple[int, int]]] = {k: set() for k in KINDS}
    with open(fields_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 5 or not cols[1]:
                continue
            key = (int(cols[1]), int(cols[0]))
            types = set(cols[2].split(",")) if cols[2] else set()
            for kind, code in HANDSHAKE_TYPES.items():
                if code in types:
                    facts[kind].add(key)
            if "21" in cols[4].split(","):
                facts["alert"].add(key)
    return facts


def tlscap_facts(report_path: str) -> tuple[dict[str, set[tuple[int, int]]], int, int]:
    """(stream, frame) sets per kind from tlscap's JSON; also its frame and connection counts.

    Handshake entries marked "encrypted" are left out: tshark shows no type for them.
    """
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    facts: dict[str, set[tuple[int, int]]] = {k: set() for k in KINDS}
    frames = connections = 0
    for capture in report.get("captures", []):
        frames += int(capture.get("frames") or 0)
        for conn in capture.get("connections", []):
            connections += 1
            cid = int(conn["id"])
            for entry in conn.get("handshake", []):
                if entry.get("message") in HANDSHAKE_TYPES and not entry.get("encrypted"):
                    facts[entry["message"]].add((cid, int(entry["frame"])))
            for alert in conn.get("alerts", []):
                facts["alert"].add((cid, int(alert["frame"])))
    return facts, frames, connections


def compare(ts: dict[str, set[tuple[int, int]]], tc: dict[str, set[tuple[int, int]]]) -> dict[str, Any]:
    """Per kind: counts, and a few examples of what only one tool found."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        only_ts, only_tc = sorted(ts[kind] - tc[kind]), sorted(tc[kind] - ts[kind])
        out[kind] = {"tshark": len(ts[kind]), "tlscap": len(tc[kind]), "both": len(ts[kind] & tc[kind]),
                     "only_tshark": len(only_ts), "only_tlscap": len(only_tc),
                     "only_tshark_examples": [list(x) for x in only_ts[:5]],
                     "only_tlscap_examples": [list(x) for x in only_tc[:5]]}
    out["agree"] = all(not (ts[k] ^ tc[k]) for k in KINDS)
    return out


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Median, min and max of the runs that finished."""
    done = [r for r in runs if not r.timed_out]
    if not done:
        return {"runs": [asdict(r) for r in runs], "completed": 0}
    walls, rss = [r.wall_s for r in done], [r.max_rss_kb for r in done]
    return {"runs": [asdict(r) for r in runs], "completed": len(done),
            "wall_s_median": round(statistics.median(walls), 3), "wall_s_min": min(walls), "wall_s_max": max(walls),
            "max_rss_kb_median": int(statistics.median(rss)), "max_rss_kb_max": max(rss)}


def tool_versions(tlscap_cmd: list[str]) -> dict[str, str]:
    """tshark, tlscap and ssldump versions, first line each."""
    def first_line(cmd: list[str]) -> str:
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            return (res.stdout or res.stderr).splitlines()[0].strip()
        except (OSError, IndexError, subprocess.SubprocessError):
            return "unknown"
    return {"tshark": first_line(["tshark", "--version"]), "tlscap": first_line([*tlscap_cmd, "--version"]),
            "ssldump": first_line(["ssldump", "-v"]) if shutil.which("ssldump") else "not installed"}


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform's answer."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(capture: Path, runs: int, tlscap_cmd: list[str], keylog: Path | None,
            timeout_s: float, check: bool, workdir: Path, ssldump: bool = True) -> dict[str, Any]:
    """All runs of both tools on one capture, and the agreement check."""
    manifest_path = capture.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    packets = int(manifest.get("packets") or count_packets(capture))
    size = capture.stat().st_size
    log(f"{capture.name}: {size:,} bytes, {packets:,} packets")

    tshark_base = ["tshark", "-n", "-r", str(capture)]
    tlscap_args = [*tlscap_cmd, "analyze", str(capture), "--format", "json"]
    if keylog:
        tshark_base += ["-o", f"tls.keylog_file:{keylog}"]
        tlscap_args += ["--keylog", str(keylog)]
    tshark_cmd = [*tshark_base, "-T", "fields", *[a for f in TSHARK_FIELDS + FACT_FIELDS for a in ("-e", f)],
                  "-Y", FACT_FILTER]
    frames_cmd = [*tshark_base, "-T", "fields", *[a for f in TSHARK_FIELDS for a in ("-e", f)], "-Y", TSHARK_FILTER]

    fd, report_tmp = tempfile.mkstemp(prefix="tlscap-report-", suffix=".json", dir=workdir)
    os.close(fd)
    fields_tmp = str(workdir / f"tshark-fields-{os.getpid()}.tsv")
    err_tmp = str(workdir / f"stderr-{os.getpid()}.txt")
    # name -> (command, stdout, exit codes that count as success)
    tools: dict[str, tuple[list[str], str, set[int]]] = {
        "tlscap": (tlscap_args, os.devnull, TLSCAP_OK_EXIT),
        "tshark": (tshark_cmd, fields_tmp, {0}),
        "tshark_frames": (frames_cmd, os.devnull, {0}),
    }
    ssldump_cmd = ["ssldump", "-n", "-N", "-r", str(capture)]
    if ssldump and shutil.which("ssldump") and not keylog:
        tools["ssldump"] = (ssldump_cmd, os.devnull, {0})
    runs_of: dict[str, list[Run]] = {name: [] for name in tools}
    failed: set[str] = set()
    errors: list[str] = []
    result: dict[str, Any] = {}
    try:
        # The tools take turns (tlscap, tshark, tshark frames only, tlscap, ...), so that a machine that
        # slows down or speeds up during the bench weighs on all alike and the ratios stay fair.
        for i in range(runs):
            for name, (cmd, out, ok) in tools.items():
                if name in failed:
                    continue
                if name == "tlscap":
                    cmd = [*cmd, "-o", report_tmp if (i == 0 and check) else os.devnull]
                r = run_measured(cmd, out, err_tmp, timeout_s)
                runs_of[name].append(r)
                log(f"  {name} run {i + 1}: {r.wall_s:.2f} s, {r.max_rss_kb / 1024:.0f} MiB, exit {r.exit_code}"
                    + (" TIMED OUT" if r.timed_out else ""))
                if r.timed_out or r.exit_code not in ok:
                    detail = f"exit {r.exit_code}: {Path(err_tmp).read_text(errors='replace')[-2000:]}"
                    errors.append(f"{name} run {i + 1}: " + ("timed out" if r.timed_out else detail))
                    failed.add(name)  # a timeout or crash will not get better on the next run
        tlscap_runs, tshark_runs = runs_of["tlscap"], runs_of["tshark"]
        if check and tlscap_runs and tshark_runs and not tlscap_runs[0].timed_out \
                and tlscap_runs[0].exit_code in TLSCAP_OK_EXIT and not tshark_runs[-1].timed_out:
            result["tlscap_report_bytes"] = Path(report_tmp).stat().st_size
            tc, tc_frames, tc_conns = tlscap_facts(report_tmp)
            result["agreement"] = compare(tshark_facts(fields_tmp), tc)
            result["tlscap_frames"] = tc_frames
            result["tlscap_connections"] = tc_conns
            # every replicated connection is TLS, so tlscap should list each of them
            result["agreement"]["connections"] = {"written": manifest.get("connections"), "tlscap": tc_conns}
            result["agreement"]["frames"] = {"written": packets, "tlscap": tc_frames}
    finally:
        for path in (report_tmp, fields_tmp, err_tmp):
            Path(path).unlink(missing_ok=True)

    summaries = {name: summarize(runs_of[name]) for name in tools}
    summaries.setdefault("ssldump", {})
    for summary in summaries.values():
        if summary.get("wall_s_median"):
            summary["packets_per_s"] = int(packets / float(summary["wall_s_median"]))
            summary["mbytes_per_s"] = round(size / 1e6 / float(summary["wall_s_median"]), 2)
    tl, ts, tf = summaries["tlscap"], summaries["tshark"], summaries["tshark_frames"]
    ratios = {}
    if tl.get("wall_s_median") and ts.get("wall_s_median"):
        ratios = {"wall_tshark_over_tlscap": round(float(ts["wall_s_median"]) / float(tl["wall_s_median"]), 3),
                  "rss_tshark_over_tlscap": round(int(ts["max_rss_kb_median"]) / int(tl["max_rss_kb_median"]), 3)}
    if tl.get("wall_s_median") and tf.get("wall_s_median"):
        ratios["wall_tshark_frames_over_tlscap"] = round(float(tf["wall_s_median"]) / float(tl["wall_s_median"]), 3)
    sd = summaries["ssldump"]
    if sd.get("wall_s_median") and ts.get("wall_s_median"):
        ratios["wall_tshark_over_ssldump"] = round(float(ts["wall_s_median"]) / float(sd["wall_s_median"]), 3)
    return {"capture": str(capture), "bytes": size, "packets": packets,
            "connections": manifest.get("connections"), "keylog": str(keylog) if keylog else None,
            "timeout_s": timeout_s, "tlscap": {"command": tlscap_args + ["-o", "/dev/null"], **tl},
            "tshark": {"command": tshark_cmd, **ts}, "tshark_frames": {"command": frames_cmd, **tf},
            "ssldump": {"command": ssldump_cmd, **sd} if sd else {},
            "ratios": ratios, **result, "errors": errors}


def fmt_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table, one row per capture."""
    head = ["capture", "MB", "packets", "tlscap s", "tlscap MiB", "tlscap pkt/s",
            "tshark s", "tshark MiB", "tshark pkt/s", "tshark/tlscap time",
            "tshark frames-only s", "frames-only/tlscap", "ssldump (C) s", "tshark/ssldump", "agree"]
    rows = [head]
    for r in results:
        tl, ts = r["tlscap"], r["tshark"]

        def cell(d: dict[str, Any], key: str, scale: float = 1.0, fmt: str = "{:.2f}") -> str:
            return fmt.format(d[key] / scale) if d.get(key) else ("timeout" if d.get("runs") else "-")

        agreement = r.get("agreement")
        agree = "-" if not agreement else ("yes" if agreement["agree"] else "NO: " + ", ".join(
            f"{k} {agreement[k]['only_tshark']}/{agreement[k]['only_tlscap']}"
            for k in KINDS if agreement[k]["only_tshark"] or agreement[k]["only_tlscap"]))
        rows.append([Path(r["capture"]).name, f"{r['bytes'] / 1e6:.1f}", f"{r['packets']:,}",
                     cell(tl, "wall_s_median"), cell(tl, "max_rss_kb_median", 1024, "{:.0f}"),
                     cell(tl, "packets_per_s", 1, "{:,.0f}"),
                     cell(ts, "wall_s_median"), cell(ts, "max_rss_kb_median", 1024, "{:.0f}"),
                     cell(ts, "packets_per_s", 1, "{:,.0f}"),
                     f"{r['ratios']['wall_tshark_over_tlscap']:.2f}" if r.get("ratios") else "-",
                     cell(r.get("tshark_frames", {}), "wall_s_median"),
                     f"{r['ratios']['wall_tshark_frames_over_tlscap']:.2f}"
                     if "wall_tshark_frames_over_tlscap" in r.get("ratios", {}) else "-",
                     cell(r.get("ssldump", {}), "wall_s_median"),
                     f"{r['ratios']['wall_tshark_over_ssldump']:.2f}"
                     if "wall_tshark_over_ssldump" in r.get("ratios", {}) else "-", agree])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[measure] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("captures", nargs="*", type=Path, help="pcap files (or use --size)")
    p.add_argument("--size", action="append", default=[], help="cached capture by size label: 10M, 100M, 1G")
    p.add_argument("--cache", type=Path, default=CACHE, help=f"cache dir (default {CACHE})")
    p.add_argument("--runs", type=int, default=3, help="runs per tool (default 3; the median is reported)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per run before it is killed (default 900)")
    p.add_argument("--keylog", type=Path, help="give both tools this key log (e.g. CACHE/seed.keylog)")
    p.add_argument("--tlscap", default=os.environ.get("TLSCAP_CMD", f"{PROJECT / '.venv/bin/python'} -m tlscap"),
                   help="command that runs tlscap (default: the project venv's python -m tlscap)")
    p.add_argument("--no-check", action="store_true", help="skip the agreement check")
    p.add_argument("--no-ssldump", action="store_true",
                   help="do not time ssldump (it skips connections whose SYN is not in the file)")
    p.add_argument("--report", action="store_true", help="only print the table from the saved results")
    args = p.parse_args(argv)

    captures = [*args.captures, *[args.cache / f"tlscap-bench-{s.upper()}.pcap" for s in args.size]]
    if not captures:
        p.error("give capture files or --size")
    results: list[dict[str, Any]] = []
    for capture in captures:
        out_path = capture.with_name(capture.name + ".results.json")
        if args.report:
            if out_path.is_file():
                results.append(json.loads(out_path.read_text()))
            else:
                log(f"no results for {capture}")
            continue
        if not capture.is_file():
            log(f"missing capture {capture} (build it with benchmarks/replicate.py)")
            return 2
        res = measure(capture, args.runs, args.tlscap.split(), args.keylog, args.timeout,
                      not args.no_check, capture.parent, not args.no_ssldump)
        res.update({"measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "host": {
            "cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
            **tool_versions(args.tlscap.split())}})
        out_path.write_text(json.dumps(res, indent=2) + "\n")
        log(f"results: {out_path}")
        results.append(res)
    if results:
        print(fmt_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
