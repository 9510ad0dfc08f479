"""Open a capture file of any supported kind and stream its frames.

The format is found from the magic number, never the file name: pcap (µs or ns, either byte
order), pcapng, or either of them gzip-compressed (decompressed as a stream). `open_capture`
raises `CaptureOpenError` only when nothing can be read; damage met later becomes one
`CaptureIssue` in `CaptureReader.info.issues` and iteration simply stops.

A gzip stream is a decompression bomb when it expands more than `limits.GZIP_MAX_RATIO` times (judged
past `limits.GZIP_RATIO_FLOOR` of output) or past `limits.GZIP_MAX_OUTPUT`: reading stops there with a
`decompression-limit` issue, and the frames read before it are analyzed.
"""

from __future__ import annotations

import gzip
import os
import select
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from tlscap.capture import pcap, pcapng
from tlscap.capture.frame import Frame
from tlscap.capture.source import CHUNK_SIZE, CaptureInfo, Source, one_line, one_line_text
from tlscap.errors import CaptureOpenError

_GZIP_MAGIC = b"\x1f\x8b"
# The capture name that means standard input (`tcpdump -w - | tlscap analyze -`).
STDIN_NAME = "-"
# Seconds without new bytes on standard input after which the reader's idle callback runs (a live pipe:
# the analysis hands on the connections that have closed instead of waiting for the next packet).
IDLE_SECONDS = 1.0


class CaptureReader:
    """The frames of one capture, in file order; `info` is filled in while they are read.

    Iterate it once (it is its own iterator); use it as a context manager, or call `close`,
    to close the file early. Iteration closes the file when it reaches the end.
    """

    __slots__ = ("info", "_frames", "_source")

    def __init__(self, info: CaptureInfo, frames: Iterator[Frame], source: Source) -> None:
        self.info = info
        self._frames = frames
        self._source = source

    def __iter__(self) -> Iterator[Frame]:
        return self._frames

    def __next__(self) -> Frame:
        return next(self._frames)

    def on_idle(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever standard input has been silent for IDLE_SECONDS (between frames, so
        the analysis's state is consistent); files never wait, so it is never called for them."""
        self._source.idle = callback

    def close(self) -> None:
        """Stop reading and close the file."""
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()
        self._source.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class StdinStream:
    """Standard input as a capture stream: read as it comes, never sought, never copied whole.

    `read(n)` returns the bytes there are (at least one, up to n; b"" at the end) instead of waiting for
    n, so a live pipe (`tcpdump -U -w -`) delivers each packet when it is written. While it waits, it
    calls `idle` (set by the reader's Source) every IDLE_SECONDS. `peek` serves the magic-number check.
    """

    def __init__(self, fd: int, source_idle: Callable[[], Callable[[], None] | None]) -> None:
        self.fd = fd
        self._idle = source_idle
        self._head = b""

    def peek(self, size: int) -> bytes:
        while len(self._head) < size:
            chunk = self._read_some(size - len(self._head))
            if not chunk:
                break
            self._head += chunk
        return self._head

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._read_some(size)

    read1 = read

    def _read_some(self, size: int) -> bytes:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], IDLE_SECONDS)
            except (OSError, ValueError):
                ready = [self.fd]  # not selectable: a plain blocking read
            if ready:
                return os.read(self.fd, max(1, size))
            idle = self._idle()
            if idle is not None:
                idle()

    def tell(self) -> int:
        raise OSError("standard input has no position")

    def close(self) -> None:
        pass  # standard input stays open: it is not tlscap's to close


def open_capture(path: str | Path) -> CaptureReader:
    """Open a pcap or pcapng file, gzip-compressed or not, found by its magic number; `-` (STDIN_NAME)
    reads standard input as a stream.

    Raises CaptureOpenError with a one-line reason when the file cannot be read as a capture.
    """
    name = str(path)
    if name == STDIN_NAME:
        return _open_stdin()
    raw = _open_file(name)
    try:
        source, head, compressed = _start(name, raw)
        return _reader(name, source, head, compressed)
    except CaptureOpenError:
        raw.close()
        raise


def _open_stdin() -> CaptureReader:
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        raise CaptureOpenError(STDIN_NAME, "standard input is closed") from None
    holder: list[Source] = []
    stream = StdinStream(fd, lambda: holder[0].idle if holder else None)
    try:
        source, head, compressed = _start(STDIN_NAME, stream, holder)
        return _reader(STDIN_NAME, source, head, compressed)
    except OSError as exc:
        raise CaptureOpenError(STDIN_NAME, one_line(exc)) from None
    except CaptureOpenError as exc:
        raise CaptureOpenError(STDIN_NAME, exc.reason.replace("empty file", "standard input is empty")) from None


def open_blocks(path: str) -> tuple[Source, bytes]:
    """A capture file's bytes (decompressed when gzip) as a Source and its first bytes, for code that
    copies its blocks (`capture.annotate`); the same errors as `open_capture`."""
    raw = _open_file(path)
    try:
        source, head, _compressed = _start(path, raw)
    except CaptureOpenError:
        raw.close()
        raise
    return source, head


def _open_file(name: str) -> BinaryIO:
    try:
        return open(name, "rb", buffering=CHUNK_SIZE)  # closed by Source.close
    except FileNotFoundError:
        raise CaptureOpenError(name, "no such file") from None
    except IsADirectoryError:
        raise CaptureOpenError(name, "is a directory") from None
    except PermissionError:
        raise CaptureOpenError(name, "permission denied") from None
    except OSError as exc:
        raise CaptureOpenError(name, one_line(exc)) from None


def _start(name: str, raw: BinaryIO | StdinStream,
           holder: list[Source] | None = None) -> tuple[Source, bytes, bool]:
    """Build the byte source (decompressing if needed) and read the file's first bytes; `holder`, when
    given, gets the source before any read (standard input's stream asks it for its idle callback)."""
    try:
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    except OSError as exc:
        raise CaptureOpenError(name, one_line(exc)) from None
    if magic == _GZIP_MAGIC:
        stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[arg-type]
        source = Source(stream.read1, [stream.close, raw.close], gzip_=True, compressed_position=raw.tell)
    else:
        source = Source(raw.read1 if isinstance(raw, StdinStream) else raw.read, [raw.close], gzip_=False)
    if holder is not None:
        holder.append(source)
    head = source.more(b"", 0, 64)
    compressed = magic == _GZIP_MAGIC
    if source.error is not None and len(head) < 4:
        raise CaptureOpenError(name, "corrupt gzip data" if compressed else one_line_text(source.error))
    if not head:
        raise CaptureOpenError(
            name, "empty file" if not compressed else "empty file (after gzip decompression)"
        )
    return source, head, compressed


def _reader(name: str, source: Source, head: bytes, compressed: bool) -> CaptureReader:
    """Pick the parser from the magic number."""
    if head[:4] == pcapng.SHB_MAGIC:
        reason = pcapng.check_start(head)
        if reason is not None:
            raise CaptureOpenError(name, reason)
        info = CaptureInfo(path=name, format="pcapng", gzip=compressed)
        return CaptureReader(info, pcapng.iter_frames(source, info, head), source)
    if pcap.is_pcap_magic(head):
        try:
            header = pcap.parse_header(head)
        except ValueError as exc:
            raise CaptureOpenError(name, str(exc)) from None
        info = CaptureInfo(path=name, format="pcap", gzip=compressed)
        return CaptureReader(info, pcap.iter_frames(source, info, header, head), source)
    what = "not a pcap or pcapng capture"
    if compressed:
        what = "gzip-compressed, but " + what
    raise CaptureOpenError(name, f"{what} (starts with {_describe(head[:8])})")


def _describe(start: bytes) -> str:
    """Show a file's first bytes as text when they are printable, else as hex."""
    if all(0x20 <= b < 0x7F for b in start):
        return repr(start.decode("ascii"))
    return start.hex(" ")
