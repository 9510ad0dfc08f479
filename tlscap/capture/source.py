"""What the capture parsers read from (`Source`) and fill in (`CaptureInfo`).

`reader` opens the file and picks the parser; `pcap` and `pcapng` read their blocks from a `Source` and
fill a `CaptureInfo`. A gzip stream that expands past the limits in `limits` stops with a
`decompression-limit` issue (see `reader`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from tlscap import limits
from tlscap.errors import CaptureIssue

# Bytes read from the stream at a time.
CHUNK_SIZE = 1 << 20


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
                        message=f"comments beyond {describe_size(cap)} of text were ignored (tlscap's limit)",
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
                self.error = one_line(exc)
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
                self.error = one_line(exc)
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
            why = f"more than {describe_size(limits.GZIP_MAX_OUTPUT)} decompressed"
        elif read is not None and out > limits.GZIP_MAX_RATIO * read:
            why = (f"{describe_size(out)} from {describe_size(read)} of compressed data, "
                   f"more than {limits.GZIP_MAX_RATIO}×")
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


def describe_size(count: int) -> str:
    """A byte count for a message: '64 MiB', '3.2 KiB', '17 bytes'."""
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if count >= unit:
            value = count / unit
            return f"{value:.0f} {name}" if value == int(value) or value >= 100 else f"{value:.1f} {name}"
    return f"{count} bytes"


def one_line(exc: BaseException) -> str:
    """An exception (an OSError by its strerror) as one line of text."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return one_line_text(text)


def one_line_text(text: str) -> str:
    """`text` with every run of white space, line breaks included, made one space."""
    return " ".join(text.split())
