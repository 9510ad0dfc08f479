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
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from tlscap import limits
from tlscap.capture import pcap, pcapng
from tlscap.capture.frame import Frame
from tlscap.errors import CaptureIssue, CaptureOpenError

CHUNK_SIZE = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
# The capture name that means standard input (`tcpdump -w - | tlscap analyze -`).
STDIN_NAME = "-"
# Seconds without new bytes on standard input after which the reader's idle callback runs (a live pipe:
# the analysis hands on the connections that have closed instead of waiting for the next packet).
IDLE_SECONDS = 1.0


@dataclass(slots=True, kw_only=True)
class CaptureInfo:
    """What is known about a capture; the counters grow while its frames are read.

    `link_types` are report names (`link_type_name`) in the order the file declares them, with
    their numbers in `link_type_numbers`; `snaplens` has one entry per interface (0 = no limit).
    `first_time_ns` / `last_time_ns` are the earliest and latest packet times (UTC ns), None
    before the first timed frame. `secrets` are the TLS key logs of pcapng Decryption Secrets
    Blocks; `comments` are the file's comment options (section, interface and packet comments).
    """

    path: str
    format: str
    gzip: bool = False
    link_types: list[str] = field(default_factory=list)
    link_type_numbers: list[int] = field(default_factory=list)
    frames: int = 0
    first_time_ns: int | None = None
    last_time_ns: int | None = None
    snaplens: list[int] = field(default_factory=list)
    issues: list[CaptureIssue] = field(default_factory=list)
    secrets: list[bytes] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    comment_chars: int = field(default=0, init=False, repr=False, compare=False)
    _link_type_set: set[int] = field(default_factory=set, init=False, repr=False, compare=False)

    @property
    def snaplen(self) -> int | None:
        """The first interface's snap length (0 = unlimited), None when the file declares none."""
        return self.snaplens[0] if self.snaplens else None

    def add_link_type(self, number: int, name: str) -> None:
        """Remember a link type the first time it is seen (a set: a file may hold 100,000 interfaces)."""
        if number not in self._link_type_set:
            self._link_type_set.add(number)
            self.link_type_numbers.append(number)
            self.link_types.append(name)

    def add_comment(self, text: str) -> None:
        """Keep a comment, up to a total size; one issue says when later ones were dropped."""
        cap = limits.MAX_COMMENT_CHARS
        if self.comment_chars + len(text) > cap:
            if self.comment_chars <= cap:
                self.issues.append(
                    CaptureIssue(
                        code="too-many-comments",
                        message=f"comments beyond {_size(cap)} of text were ignored (tlscap's limit)",
                    )
                )
                self.comment_chars = cap + 1
            return
        self.comment_chars += len(text)
        self.comments.append(text)


class Source:
    """Reads a binary stream in large chunks and remembers why it stopped early.

    Parsers keep a `bytes` buffer and a position in it; `more` returns the unread tail
    extended to at least `need` bytes when the stream still has them. A read error (a corrupt
    or cut gzip stream, an I/O error) ends the data instead of raising.
    """

    __slots__ = ("_read", "_closers", "_compressed", "produced", "offset", "error_code", "error", "message",
                 "idle")

    def __init__(
        self,
        read: Callable[[int], bytes],
        closers: list[Callable[[], None]],
        *,
        gzip_: bool,
        compressed_position: Callable[[], int] | None = None,
    ) -> None:
        self._read = read
        self._closers = closers
        self._compressed = compressed_position  # gzip: how many compressed bytes were read so far
        self.produced = 0  # bytes the stream gave (decompressed bytes for gzip)
        self.offset = 0  # stream offset of the buffer last returned by `more`
        self.error_code = "bad-gzip" if gzip_ else "read-error"
        self.error: str | None = None
        self.message: str | None = None  # a whole issue message, when the reason is not a read error
        self.idle: Callable[[], None] | None = None  # see CaptureReader.on_idle (standard input only)

    def more(self, buf: bytes, pos: int, need: int) -> bytes:
        """Return `buf[pos:]` plus enough new data to hold `need` bytes, or all there is."""
        self.offset += pos
        chunks = [buf[pos:]]
        have = len(chunks[0])
        while have < need and self.error is None:
            # A gzip stream is read a chunk at a time, so a bomb is caught before it fills memory.
            size = CHUNK_SIZE if self._compressed is not None else max(CHUNK_SIZE, need - have)
            try:
                chunk = self._read(size)
            except (OSError, EOFError, zlib.error) as exc:  # gzip raises all three for bad data
                self.error = _one_line(exc)
                break
            if not chunk:
                break
            chunks.append(chunk)
            have += len(chunk)
            self.produced += len(chunk)
            if self._compressed is not None and self._expanded_too_much():
                break
        return b"".join(chunks) if len(chunks) > 1 else chunks[0]

    def skip(self, buf: bytes, pos: int, count: int) -> tuple[bytes, int, int]:
        """Pass over `count` bytes from `buf[pos]` without keeping them: (buffer, position, bytes passed).

        The bytes passed are fewer than `count` only when the data ends (or fails) first.
        """
        available = len(buf) - pos
        if count <= available:
            return buf, pos + count, count
        start = self.offset + pos  # stream offset of the first byte passed over
        remaining = count - available
        while remaining > 0 and self.error is None:
            try:
                chunk = self._read(CHUNK_SIZE)
            except (OSError, EOFError, zlib.error) as exc:
                self.error = _one_line(exc)
                break
            if not chunk:
                break
            self.produced += len(chunk)
            if len(chunk) >= remaining:
                self.offset = start + count
                return chunk[remaining:], 0, count
            remaining -= len(chunk)
            if self._compressed is not None and self._expanded_too_much():
                break
        self.offset = start + count - remaining
        return b"", 0, count - remaining

    def _expanded_too_much(self) -> bool:
        """Whether the gzip stream passed its expansion limits; if so, reading stops with a reason."""
        assert self._compressed is not None
        out = self.produced
        if out <= limits.GZIP_RATIO_FLOOR and out <= limits.GZIP_MAX_OUTPUT:
            return False
        try:
            read: int | None = max(self._compressed(), 1)
        except (OSError, ValueError):
            read = None  # a pipe has no position: only the size limit applies
        if out > limits.GZIP_MAX_OUTPUT:
            why = f"more than {_size(limits.GZIP_MAX_OUTPUT)} decompressed"
        elif read is not None and out > limits.GZIP_MAX_RATIO * read:
            why = f"{_size(out)} from {_size(read)} of compressed data, more than {limits.GZIP_MAX_RATIO}×"
        else:
            return False
        self.error = why
        self.error_code = "decompression-limit"
        self.message = (
            f"decompression stopped: {why} (tlscap's limit against decompression bombs); the frames "
            "read before it are analyzed"
        )
        return True

    def end(self, info: CaptureInfo, cut: str | None) -> None:
        """Record why reading stopped (`cut` describes a last record the data ends inside), then close.

        A stream error explains a cut record better than the cut itself, so it wins: one issue at most.
        """
        if self.error is not None:
            message = f"the compressed data is damaged or cut after frame {info.frames}: {self.error}"
            if self.message is not None:
                message = f"after frame {info.frames}, {self.message}"
            elif self.error_code == "read-error":
                message = f"read error after frame {info.frames}: {self.error}"
            info.issues.append(CaptureIssue(code=self.error_code, message=message))
        elif cut is not None:
            info.issues.append(CaptureIssue(code="truncated-file", message=cut))
        self.close()

    def bad(self, info: CaptureInfo, message: str) -> None:
        """Record data that cannot be walked past (`bad-block`), then close."""
        info.issues.append(CaptureIssue(code="bad-block", message=message))
        self.close()

    def close(self) -> None:
        """Close the underlying file(s); safe to call again."""
        closers, self._closers = self._closers, []
        for close in closers:
            try:
                close()
            except (OSError, EOFError, zlib.error):
                pass


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
        raise CaptureOpenError(STDIN_NAME, _one_line(exc)) from None
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
        raise CaptureOpenError(name, _one_line(exc)) from None


def _start(name: str, raw: BinaryIO | StdinStream,
           holder: list[Source] | None = None) -> tuple[Source, bytes, bool]:
    """Build the byte source (decompressing if needed) and read the file's first bytes; `holder`, when
    given, gets the source before any read (standard input's stream asks it for its idle callback)."""
    try:
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    except OSError as exc:
        raise CaptureOpenError(name, _one_line(exc)) from None
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
        raise CaptureOpenError(name, "corrupt gzip data" if compressed else _one_line_text(source.error))
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


def _size(count: int) -> str:
    """A byte count for a message: '64 MiB', '3.2 KiB', '17 bytes'."""
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if count >= unit:
            value = count / unit
            return f"{value:.0f} {name}" if value == int(value) or value >= 100 else f"{value:.1f} {name}"
    return f"{count} bytes"


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _one_line_text(text)


def _one_line_text(text: str) -> str:
    return " ".join(text.split())
