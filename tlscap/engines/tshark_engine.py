"""The tshark engine (`--engine tshark`): tlscap's connections from what Wireshark's tshark dissects.

The native engine reads the link layers, tunnels and protocols listed in the README; tshark reads
thousands more. This engine lets tshark do the transport: read the file, find the TCP conversations
(its `tcp.stream` numbers, which are the report's connection ids anyway), reassemble them, and find
the TLS records in them — behind any encapsulation or plaintext protocol it dissects. Each record's
raw bytes are then fed to tlscap's own sans-IO TLS session in the pieces each frame carried, so the
handshake messages, certificates (full DER), CA names, alerts and decryption are read by the same
code, and `build_connection` and the rules run unchanged: the result is the same `Connection`
objects the native engine makes, and every report format works on it.

How tshark is run: two processes at once over the file, both two-pass (`-2`: a reassembled
message shows in the frame that completes it, as in Wireshark's window), read as streams and
merged by frame number, so memory stays bounded by the open connections:

- pass A, `-T fields`, every frame: time, `tcp.stream`, addresses, ports, flags, payload length,
  and the versions and lengths of its TLS records (application data needs no bytes: the report
  only names its frame).
- pass B, `-T json -x`, only the frames with a TLS record other than application data (every TLS
  frame when there are keys to decrypt with): each record's raw bytes with its offset, and
  `tcp.segments`, which says which frame carried which bytes of a reassembled PDU.

Out-of-order reassembly (`tcp.reassemble_out_of_order`, off by default in tshark 4.0) is switched
on: that is how the native engine credits frames (docs/decisions.md), and how Wireshark does with
it on. But tshark then waits forever for bytes the capture never got, and shows nothing after them
in that direction. So it stays off for captures with frames cut by the snap length, and for those
where a light first pass finds bytes lost for good (an "ACKed unseen segment": the receiver
acknowledged bytes the capture lacks) and no out-of-order segment. The user's other tshark
preferences (decode-as rules, ports) are kept.

Key logs: the `keylogs` files, `options.keylog`, and the secrets inside the capture (pcapng
Decryption Secrets Blocks, key-log lines in comments) are given to tlscap's session, as in the
native engine, so decryption and its reporting are the same. tshark is not given them: its own
decryption would only add output this engine does not read.

tshark is run directly, not through pyshark: pyshark has no `-T fields` stream for pass A (its
JSON for every frame would be many times larger), and on pass B's JSON it only adds its objects
around the same dictionaries (1.08 s of CPU instead of 0.78 s on PcapPlusPlus/tls2.pcap), with an
asyncio loop per capture in the threads that run several captures at once.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

from tlscap import limits
from tlscap.analysis.collector import ConnectionCollector, ConnectionSink
from tlscap.analysis.engine import KEYLOG_MARKERS, AnalysisOptions, record_capture_info
from tlscap.analysis.model import CaptureReport, Connection
from tlscap.analysis.tracker import ConnectionTracker, TcpEnd
from tlscap.capture.reader import open_capture
from tlscap.capture.source import CaptureInfo
from tlscap.engines.tshark_output import FIELDS, Row, TlsRecord, application_data_record, json_packets, parse_row
from tlscap.errors import CaptureIssue, CaptureOpenError, TlscapError
from tlscap.side import Side
from tlscap.signals import die_with_parent
from tlscap.tls.keylog import KeyLog, load_keylog_file, parse_keylog
from tlscap.tls.session import TlsSession

__all__ = ["MIN_VERSION", "EngineUnavailable", "analyze_capture_tshark", "find_tshark", "tshark_version"]

MIN_VERSION = (3, 6)  # `~=` in display filters, `--no-duplicate-keys`, reassembly fields as read here
PREFERENCES = (
    "tcp.desegment_tcp_streams:TRUE",
    "tls.desegment_ssl_records:TRUE",
    "tls.desegment_ssl_application_data:TRUE",
)
OUT_OF_ORDER = "tcp.reassemble_out_of_order:TRUE"
# Frames with a record that is not application data (SSLv2 records have no content type).
RECORD_FILTER = "tls.record.content_type ~= 23 or tls.record.version == 0x0002"
ALL_RECORDS_FILTER = "tls.record"
# -j, not -J: these layers and their direct children only (the records' raw bytes; not the
# messages, certificates and extensions below them, which would quadruple the output)
JSON_LAYERS = "frame tcp.segments tls"
_ROOT_WARNING = "Running as user"
WAIT_SECONDS = 600  # for tshark to exit once its output was read
# Limits on each tshark child (kept here, not in limits.py, as they bind the external program only).
TSHARK_MAX_MEMORY = 8 << 30  # bytes of address space; real multi-GB captures stay well under it
TSHARK_MAX_CPU_SECONDS = 4 * 3600
TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10


class EngineUnavailable(TlscapError):
    """tshark cannot be used: not installed, not runnable, or older than MIN_VERSION."""


# --------------------------------------------------------------------------------------------
# Finding tshark


def find_tshark() -> str:
    """The tshark to run (from PATH), checked to be MIN_VERSION or later; else EngineUnavailable."""
    path = shutil.which("tshark")
    if path is None:
        raise EngineUnavailable(
            "tshark is not installed (or not on PATH): install Wireshark's tshark "
            f"{'.'.join(map(str, MIN_VERSION))} or later (Debian/Ubuntu: apt-get install tshark), "
            "or use --engine native"
        )
    version = tshark_version(path)
    if version[:2] < MIN_VERSION:
        raise EngineUnavailable(
            f"{path} is tshark {'.'.join(map(str, version))}; --engine tshark needs "
            f"{'.'.join(map(str, MIN_VERSION))} or later (or use --engine native)"
        )
    return path


@lru_cache(maxsize=8)
def tshark_version(tshark: str) -> tuple[int, int, int]:
    """The version `tshark --version` prints on its first line, e.g. (4, 0, 17)."""
    try:
        done = subprocess.run([tshark, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineUnavailable(f"{tshark} cannot be run: {exc}") from None
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", done.stdout.split("\n", 1)[0])
    if done.returncode != 0 or match is None:
        raise EngineUnavailable(f"{tshark} --version did not say which version it is: {_first_line(done.stderr)}")
    return int(match[1]), int(match[2]), int(match[3])


# --------------------------------------------------------------------------------------------
# The analysis


def analyze_capture_tshark(
    path: str,
    options: AnalysisOptions | None = None,
    *,
    keylogs: Sequence[str] = (),
    on_connection: ConnectionSink | None = None,
) -> CaptureReport:
    """Analyze one capture with tshark doing the transport; the same report as `analyze_capture`.

    Raises EngineUnavailable (tshark missing or too old) and KeyLogError (a `keylogs` file that
    cannot be used); bad data never raises. Capture-level facts (format, link types, frame count,
    times, damage) come from tlscap's capture reader when it can read the file, so they match the
    native engine's; a format only tshark reads still gets its connections.
    """
    options = options or AnalysisOptions()
    tshark = find_tshark()
    keylog = KeyLog()
    if options.keylog is not None:
        keylog.merge(options.keylog)
    for name in keylogs:
        keylog.merge(load_keylog_file(name))
    report = CaptureReport(path=str(path))
    info, truncated, problem = _capture_info(path)
    if info is None and not Path(path).is_file():
        report.unreadable = True
        report.errors.append(CaptureIssue(code="unreadable", message=problem or "no such file"))
        return report
    if info is not None:
        _take_embedded_secrets(keylog, info)
    sink = on_connection or report.connections.append

    def emit(conn: Connection) -> None:
        report.stats.add(conn)
        sink(conn)

    run = _Run(options, keylog, emit)
    outcome = _run_tshark(tshark, str(path), run, full=len(keylog) > 0, reorder=not truncated,
                          max_frames=_frame_limit(info))
    run.finish()
    report.excluded = run.collector.excluded
    if info is not None:
        record_capture_info(report, info)
        if outcome.error and not info.issues:
            report.errors.append(CaptureIssue(code="tshark-error", message=outcome.error))
    elif outcome.frames:  # a format tlscap's reader does not know, read by tshark
        report.frames = outcome.frames
        report.first_time_ns, report.last_time_ns = outcome.first_time_ns, outcome.last_time_ns
        if outcome.error:
            report.errors.append(CaptureIssue(code="tshark-error", message=outcome.error))
    else:
        report.unreadable = True
        report.errors.append(CaptureIssue(code="unreadable", message=problem or outcome.error or "not a capture"))
    if outcome.internal is not None:
        report.errors.append(outcome.internal)
    if outcome.skipped_packets:
        report.errors.append(CaptureIssue(
            code="tshark-output",
            message=f"{outcome.skipped_packets} packets of tshark's JSON output could not be read",
        ))
    return report


def _capture_info(path: str) -> tuple[CaptureInfo | None, bool, str | None]:
    """The capture's own facts, read by tlscap's reader (fast: no decoding), and whether a frame
    was cut by the snap length; None and the reason when the reader cannot read the file."""
    try:
        reader = open_capture(path)
    except CaptureOpenError as exc:
        return None, False, exc.reason
    truncated = False
    with reader:
        for frame in reader:
            truncated = truncated or frame.truncated
        return reader.info, truncated, None


def _frame_limit(info: CaptureInfo | None) -> int | None:
    """How many frames tshark may read: those tlscap's reader read before its decompression limit
    stopped it (a gzip bomb), so that tshark does not decompress past it; None: no limit."""
    if info is None or not any(issue.code == "decompression-limit" for issue in info.issues):
        return None
    return max(1, info.frames)


def _tshark_limits() -> None:
    """In each tshark child, before exec: die with tlscap (PR_SET_PDEATHSIG), and a memory and CPU
    time limit (a decompression bomb tlscap's reader did not see, a pathological capture)."""
    die_with_parent()
    for resource_id, value in ((resource.RLIMIT_AS, TSHARK_MAX_MEMORY), (resource.RLIMIT_CPU, TSHARK_MAX_CPU_SECONDS)):
        try:
            soft, hard = resource.getrlimit(resource_id)
            if hard == resource.RLIM_INFINITY or hard > value:
                resource.setrlimit(resource_id, (value, value if hard == resource.RLIM_INFINITY else min(hard, value)))
        except (OSError, ValueError):
            pass


def _take_embedded_secrets(keylog: KeyLog, info: CaptureInfo) -> None:
    """As the native engine does: pcapng Decryption Secrets Blocks and key-log lines in comments."""
    for secret in info.secrets:
        keylog.merge(parse_keylog(secret, source="pcapng DSB"))
    for comment in info.comments:
        if any(marker in comment for marker in KEYLOG_MARKERS):
            keylog.merge(parse_keylog(comment, source="pcapng comment"))


# --------------------------------------------------------------------------------------------
# Per-connection state, as analysis.engine keeps it


class _Run:
    """Conversations open, connections waiting to be handed on: analysis.engine._Run's policy
    (when a connection is finalized, judged with the certificates seen so far, and handed on, in
    stream order), kept the same so both engines judge and emit alike."""

    def __init__(self, options: AnalysisOptions, keylog: KeyLog, emit: ConnectionSink) -> None:
        self.options = options
        self.keylog = keylog
        self.open: dict[int, ConnectionTracker] = {}
        self.finalized: set[int] = set()  # TLS conversations already finalized (late segments go on)
        self.fin_sides: dict[int, set[Side]] = {}  # per open stream: the sides that sent a FIN
        self.plaintext: dict[int, int] = {}  # per open stream without TLS yet: payload bytes seen
        self.collector = ConnectionCollector(options, emit)

    def on_frame(self, row: Row, records: list[TlsRecord], *, cut: int = 0) -> None:
        """One frame of the capture, with the TLS records tshark credits to it (`cut`: bytes the
        snap length cut off its end, which the session reads as a gap)."""
        self.collector.now_ns = row.time_ns
        stream = row.stream
        if stream is None:
            return
        if stream in self.finalized:
            self.collector.late_segment(stream, frame=row.frame, time_ns=row.time_ns, src=row.src,
                                        fin=bool(row.flags & TCP_FIN), rst=bool(row.flags & TCP_RST))
            return
        tracker = self.open.get(stream)
        if tracker is None:
            tracker = ConnectionTracker(
                stream=stream,
                endpoints=(row.dst, row.src),  # indexed by side: [Side.FIRST] is row.src
                tunnel=row.tunnel(),
                first_frame=row.frame,
                first_time_ns=row.time_ns,
                session=TlsSession(self.keylog if len(self.keylog) else None),
            )
            self.open[stream] = tracker
            self.collector.opened(stream)
        if self._on_segment(tracker, row, records, cut) or self._given_up(tracker, row):
            self._finalize(tracker)
            self.collector.hand_on()

    def _given_up(self, tracker: ConnectionTracker, row: Row) -> bool:
        """As the native engine gives up a conversation after limits.MAX_PLAINTEXT_BEFORE_TLS bytes without
        TLS (so it stops holding back the connections after it)."""
        if tracker.session.is_tls or not row.payload:
            return False
        seen = self.plaintext.get(tracker.stream, 0) + row.payload
        self.plaintext[tracker.stream] = seen
        return seen > limits.MAX_PLAINTEXT_BEFORE_TLS

    def _on_segment(self, tracker: ConnectionTracker, row: Row, records: list[TlsRecord], cut: int) -> bool:
        """What ConnectionTracker.on_segment does, with tshark's records instead of reassembly;
        True when the connection is closed (a reset, or a FIN from both sides)."""
        side = Side.FIRST if row.src == tracker.endpoints[Side.FIRST] else Side.SECOND
        tracker.last_frame = row.frame
        tracker.last_time_ns = row.time_ns
        if row.flags & TCP_SYN and not row.flags & TCP_ACK and tracker.syn_side is None:
            tracker.syn_side = side
        if row.payload and len(tracker.carrier_times_ns) < limits.MAX_CARRIER_TIMES:
            tracker.carrier_times_ns[row.frame] = row.time_ns
        session = tracker.session
        for record in records:
            for carrier, data in record.chunks:
                session.feed(side, data, carrier, row.frame)
        if cut and row.payload:
            session.gap(side, cut, row.frame, truncated=True)
        tracker.note_event_times()
        if not row.flags & (TCP_FIN | TCP_RST):
            return False
        tracker.ends.append(TcpEnd(row.frame, side, "RST" if row.flags & TCP_RST else "FIN"))
        tracker.frame_times_ns[row.frame] = row.time_ns
        fin_sides = self.fin_sides.setdefault(tracker.stream, set())
        fin_sides.add(side)
        return bool(row.flags & TCP_RST) or len(fin_sides) == 2

    def _finalize(self, tracker: ConnectionTracker) -> None:
        del self.open[tracker.stream]
        self.fin_sides.pop(tracker.stream, None)
        self.plaintext.pop(tracker.stream, None)
        if self.collector.finalize(tracker):
            self.finalized.add(tracker.stream)

    def finish(self) -> None:
        for tracker in list(self.open.values()):
            self._finalize(tracker)
        self.collector.hand_on(everything=True)


# --------------------------------------------------------------------------------------------
# Running tshark


@dataclass(slots=True)
class _Outcome:
    frames: int = 0
    first_time_ns: int | None = None
    last_time_ns: int | None = None
    error: str | None = None
    skipped_packets: int = 0
    frame: int = 0  # the last frame read
    internal: CaptureIssue | None = None

    def skip_packet(self) -> None:
        """Count a packet of pass B's JSON that could not be read."""
        self.skipped_packets += 1


def _run_tshark(tshark: str, path: str, run: _Run, *, full: bool, reorder: bool,
                max_frames: int | None = None) -> _Outcome:
    """Run both passes at once and feed `run` frame by frame; what tshark could not read is `error`.

    With `reorder`, they start with out-of-order reassembly on while `_reorder_pays` decides (its
    light pass runs while theirs read the file), and start again without it if it does not pay.
    """
    outcome = _Outcome()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err_a, \
            tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err_b:
        proc_a, proc_b = _start_passes(tshark, path, err_a, err_b, full=full, reorder=reorder,
                                        max_frames=max_frames)
        try:
            if reorder and not _reorder_pays(tshark, path, max_frames):
                _stop(proc_a)
                _stop(proc_b)
                proc_a, proc_b = _start_passes(tshark, path, err_a, err_b, full=full, reorder=False,
                                                max_frames=max_frames)
            try:
                _merge(proc_a, proc_b, run, outcome)
            except Exception as exc:  # a bug must not cost the user what was read before it
                outcome.internal = CaptureIssue(
                    code="internal-error", frame=outcome.frame,
                    message=f"tlscap stopped at frame {outcome.frame} on an internal error ({type(exc).__name__}: "
                            f"{exc}); the frames before it are analyzed. Please report this capture.",
                )
            else:
                for proc in (proc_a, proc_b):
                    proc.wait(timeout=WAIT_SECONDS)
        finally:
            _stop(proc_a)
            _stop(proc_b)
        codes = (proc_a.returncode, proc_b.returncode)
        if any(codes) and outcome.internal is None:
            outcome.error = "tshark: " + (_stderr(err_a) or _stderr(err_b) or f"exit status {max(codes)}")
    return outcome


def _start_passes(
    tshark: str, path: str, err_a: IO[str], err_b: IO[str], *, full: bool, reorder: bool,
    max_frames: int | None = None,
) -> tuple[subprocess.Popen[str], subprocess.Popen[str]]:
    """Start pass A (fields of every frame) and pass B (JSON of the frames whose records are read)."""
    common = [tshark, "-n", "-2", "-r", path, "-o", "tls.keylog_file:"]
    if max_frames is not None:
        common += ["-c", str(max_frames)]
    for pref in [*PREFERENCES, OUT_OF_ORDER] if reorder else PREFERENCES:
        common += ["-o", pref]
    pass_a = [*common, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"]
    for name in FIELDS:
        pass_a += ["-e", name]
    pass_b = [*common, "-Y", ALL_RECORDS_FILTER if full else RECORD_FILTER,
              "-T", "json", "-x", "--no-duplicate-keys", "-j", JSON_LAYERS]
    for err in (err_a, err_b):
        err.seek(0)
        err.truncate()
    proc_a = _start(pass_a, err_a)
    try:
        return proc_a, _start(pass_b, err_b)
    except BaseException:
        _stop(proc_a)
        raise


def _merge(proc_a: subprocess.Popen[str], proc_b: subprocess.Popen[str], run: _Run, outcome: _Outcome) -> None:
    """Feed `run` every frame of pass A in order, with the records pass B read for it (pass B
    lists a subset of the frames, in the same order)."""
    assert proc_a.stdout is not None and proc_b.stdout is not None
    packets = json_packets(proc_b.stdout, outcome.skip_packet)
    pending = next(packets, None)
    for line in proc_a.stdout:
        row = parse_row(line)
        if row is None:
            continue
        outcome.frames += 1
        outcome.frame = row.frame
        if outcome.first_time_ns is None or row.time_ns < outcome.first_time_ns:
            outcome.first_time_ns = row.time_ns
        if outcome.last_time_ns is None or row.time_ns > outcome.last_time_ns:
            outcome.last_time_ns = row.time_ns
        while pending is not None and pending.frame < row.frame:
            pending = next(packets, None)
        if pending is not None and pending.frame == row.frame:
            run.on_frame(row, pending.records, cut=pending.cut)
            pending = next(packets, None)
        else:
            run.on_frame(row, [application_data_record(row.frame, v, n) for v, n in row.records])
    for _ in packets:
        pass


def _reorder_pays(tshark: str, path: str, max_frames: int | None = None) -> bool:
    """Whether out-of-order reassembly should be on: tshark's TCP analysis finds an out-of-order
    segment, or no bytes lost for good (an "ACKed unseen segment"). A light single pass (no
    reassembly, no TLS) that stops at the first out-of-order segment."""
    cmd = [tshark, "-n", "-r", path, "-o", "tcp.desegment_tcp_streams:FALSE", "--disable-protocol", "tls",
           "-Y", "tcp.analysis.out_of_order or tcp.analysis.ack_lost_segment",
           "-T", "fields", "-e", "tcp.analysis.out_of_order"]
    if max_frames is not None:
        cmd[1:1] = ["-c", str(max_frames)]
    lost = False
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        proc = _start(cmd, err)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.strip():
                    return True  # an out-of-order segment
                lost = True
        finally:
            _stop(proc)
    return not lost


def _start(cmd: list[str], err: IO[str]) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
                                encoding="utf-8", errors="replace", bufsize=1 << 16, preexec_fn=_tshark_limits)
    except OSError as exc:
        raise EngineUnavailable(f"{cmd[0]} cannot be run: {exc.strerror or exc}") from None


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    if proc.stdout is not None:
        proc.stdout.close()
    proc.wait()


def _stderr(err: IO[str]) -> str:
    err.seek(0)
    lines = [line.strip() for line in err.read().splitlines()]
    return _first_line("\n".join(line for line in lines if line and not line.startswith(_ROOT_WARNING)))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
