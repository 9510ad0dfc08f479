"""NSS key log files (SSLKEYLOGFILE): the secrets that let tlscap decrypt a capture's handshakes.

Each line is `LABEL <client_random hex> <secret hex>`
(https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/index.html):

- `CLIENT_RANDOM`: the 48-byte master secret of a TLS <= 1.2 connection;
- TLS 1.3: `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
  `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`, `EXPORTER_SECRET`,
  `CLIENT_EARLY_TRAFFIC_SECRET`, `EARLY_EXPORTER_SECRET` (32 or 48 bytes, the suite's hash);
- `RSA <first 8 bytes of the encrypted premaster secret> <48-byte premaster secret>`: kept and
  counted, but only usable with the ClientKeyExchange, so they are not indexed by client random.

`#` comments and blank lines are skipped. Parsing never raises for content: a malformed line is
counted in `KeyLog.bad_lines`, and the first few are kept with their line number and the reason.
Well-formed lines with a label tlscap does not use (QUIC, ECH, `PMS_CLIENT_RANDOM`, ...) are counted
in `ignored_lines`. `load_keylog_file` is the one function here that reads a file.
"""

from __future__ import annotations

import mmap
import os
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tlscap import limits
from tlscap.errors import TlscapError

CLIENT_RANDOM = "CLIENT_RANDOM"
CLIENT_HANDSHAKE_TRAFFIC_SECRET = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0 = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0 = "SERVER_TRAFFIC_SECRET_0"
EXPORTER_SECRET = "EXPORTER_SECRET"
CLIENT_EARLY_TRAFFIC_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET"
EARLY_EXPORTER_SECRET = "EARLY_EXPORTER_SECRET"
RSA = "RSA"

TLS13_LABELS = frozenset({
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_TRAFFIC_SECRET_0,
    EXPORTER_SECRET,
    CLIENT_EARLY_TRAFFIC_SECRET,
    EARLY_EXPORTER_SECRET,
})  # fmt: skip
LABELS = TLS13_LABELS | {CLIENT_RANDOM}

MAX_BAD_EXAMPLES = 5
_BINARY_PROBE = 65536
_TLS13_SECRET_LENGTHS = (32, 48)  # SHA-256 and SHA-384 suites
_HEX = re.compile(r"[0-9A-Fa-f]*")
_LABEL = re.compile(r"[A-Z][A-Z0-9_]*")


class KeyLogError(TlscapError):
    """A key log file the user named cannot be used (missing, unreadable, binary, empty)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"key log {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class BadLine:
    """A key log line that was not understood: where it is and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.source else f"line {self.line}"
        return f"{where}: {self.reason}"


_LABEL_IDS = (CLIENT_RANDOM, *sorted(TLS13_LABELS))
_LABEL_ID = {label: i for i, label in enumerate(_LABEL_IDS)}
_SECRET_ROOM = 48  # the longest secret (TLS 1.2 master secret, SHA-384 TLS 1.3 secrets)
_RECORD = 32 + 1 + 1 + _SECRET_ROOM  # client random, label id, secret length, secret (padded)
_EXACT_LEN_LIMIT = 200_000  # records across several indexes past which len() adds their counts


class _Index:
    """The secrets of one parsed key log, in binary, compact: fixed-size records (client random, label,
    secret) in one bytearray, found through an open-addressing hash table of record numbers (an
    array of 32-bit ints, twice as many slots as records, probed linearly from the random's first
    bytes). About 90 bytes a secret, where its text line takes 100 to 180; immutable once sealed, so
    merged key logs share it instead of copying it."""

    __slots__ = ("records", "table", "count", "shared", "_records_size")

    def __init__(self) -> None:
        self.records: bytearray | mmap.mmap = bytearray()
        self.table: array[int] | memoryview = array("I")
        self.count = 0  # distinct client randoms
        self.shared: str | None = None  # the file the index is mapped from (see share)

    def share(self, path: str) -> None:
        """Write the index to `path` and map it from there: pickled, the index is then only the path, and
        every process that unpickles it maps the same pages (scan workers on this machine)."""
        if self.shared is not None:
            return
        with open(path, "wb") as out:
            out.write(self.records)
            out.write(memoryview(self.table).cast("B"))
        self.shared = path
        self._map(len(self.records))

    def _map(self, records_size: int) -> None:
        assert self.shared is not None
        with open(self.shared, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.records = mapped
        self._records_size = records_size
        self.table = memoryview(mapped)[records_size:].cast("I")

    def __getstate__(self) -> object:
        if self.shared is not None:
            return ("shared", self.shared, self._records_size, self.count)
        return ("inline", self.records, self.table, self.count)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        kind, data, extra, count = state
        self.count = count
        if kind == "shared":
            self.shared = data
            self._map(extra)
        else:
            self.shared = None
            self.records, self.table = data, extra

    def __len__(self) -> int:
        size = len(self.records) if self.shared is None else self._records_size
        return size // _RECORD

    def add(self, client_random: bytes, label: str, secret: bytes) -> None:
        assert isinstance(self.records, bytearray), "a sealed index is not added to"
        self.records += client_random
        self.records.append(_LABEL_ID[label])
        self.records.append(len(secret))
        self.records += secret.ljust(_SECRET_ROOM, b"\0")

    def seal(self) -> _Index:
        """Build the hash table; count the distinct randoms. Records of the same random sit in the
        table in the order they were added, so a later line replaces an earlier one."""
        n = len(self)
        size = 1 << max(3, (2 * n).bit_length())
        mask = size - 1
        table = array("I", bytes(4 * size))
        records = self.records
        count = 0
        for i in range(n):
            at = i * _RECORD
            random = records[at : at + 32]
            slot = int.from_bytes(random[:8], "little") & mask
            new = True
            while table[slot]:
                other = (table[slot] - 1) * _RECORD
                if new and records[other : other + 32] == random:
                    new = False
                slot = (slot + 1) & mask
            table[slot] = i + 1
            count += new
        self.table, self.count = table, count
        return self

    def lookup(self, client_random: bytes, into: dict[str, bytes]) -> None:
        """Add this index's secrets for `client_random` to `into` (later lines replace earlier)."""
        if len(client_random) != 32 or not self.table:
            return
        mask = len(self.table) - 1
        slot = int.from_bytes(client_random[:8], "little") & mask
        records, table = self.records, self.table
        while table[slot]:
            at = (table[slot] - 1) * _RECORD
            if records[at : at + 32] == client_random:
                size = records[at + 33]
                into[_LABEL_IDS[records[at + 32]]] = bytes(records[at + 34 : at + 34 + size])
            slot = (slot + 1) & mask

    def items(self) -> Iterator[tuple[bytes, str, bytes]]:
        records = self.records
        for i in range(len(self)):
            at = i * _RECORD
            yield bytes(records[at : at + 32]), _LABEL_IDS[records[at + 32]], \
                bytes(records[at + 34 : at + 34 + records[at + 33]])


@dataclass(slots=True, kw_only=True)
class KeyLog:
    """The secrets of one or more key logs.

    `for_random` gives a 32-byte client random's secrets by label; `rsa` maps the first 8 bytes of an
    encrypted premaster secret to the premaster secret. `lines_read` counts every line, `bad_lines`
    the malformed ones (the first few are in `bad_examples`), `ignored_lines` well-formed lines with
    a label tlscap does not use; `sources` names where the lines came from.

    The secrets are held in binary indexes (`_Index`), one per parsed text; `merge` shares the other
    key log's indexes rather than copying them, so a key log merged into each capture's costs nothing,
    and a parsed key log's memory stays below its file's size (a 1M-line log: ~82 MB, not ~1 GB).
    """

    rsa: dict[bytes, bytes] = field(default_factory=dict)
    lines_read: int = 0
    bad_lines: int = 0
    bad_examples: list[BadLine] = field(default_factory=list)
    ignored_lines: int = 0
    rsa_lines: int = 0
    sources: list[str] = field(default_factory=list)
    _indexes: list[_Index] = field(default_factory=list)
    _length: int | None = None

    def __len__(self) -> int:
        """Number of connections (client randoms) with at least one secret. (Past 200,000 secrets in
        several merged logs, a random logged in two of them counts twice.)"""
        if self._length is None:
            indexes = [ix for ix in self._indexes if len(ix)]
            if len(indexes) <= 1:
                self._length = indexes[0].count if indexes else 0
            elif sum(len(ix) for ix in indexes) <= _EXACT_LEN_LIMIT:
                self._length = len({random for ix in indexes for random, _, _ in ix.items()})
            else:
                self._length = sum(ix.count for ix in indexes)
        return self._length

    @property
    def secrets(self) -> dict[bytes, dict[str, bytes]]:
        """Every secret, by client random and label (built on each call: for tests and small logs)."""
        found: dict[bytes, dict[str, bytes]] = {}
        for index in self._indexes:
            for random, label, secret in index.items():
                found.setdefault(random, {})[label] = secret
        return found

    def for_random(self, client_random: bytes) -> dict[str, bytes] | None:
        """The secrets logged for this ClientHello random, by label, or None."""
        found: dict[str, bytes] = {}
        random = bytes(client_random)
        for index in self._indexes:
            index.lookup(random, found)
        return found or None

    def share(self, folder: str) -> None:
        """Move the secrets to files in `folder`, mapped from there: pickled, this key log is then a few
        paths, and the processes that unpickle it share the same pages (`tlscap scan`'s workers)."""
        for number, index in enumerate(self._indexes):
            index.share(os.path.join(folder, f"keylog-{id(self):x}-{number}.index"))

    def merge(self, other: KeyLog) -> None:
        """Add another key log's secrets and counts to this one (a later secret for the same
        random and label replaces the earlier). The other's secrets are shared, not copied."""
        self._indexes.extend(ix for ix in other._indexes if len(ix))
        self._length = None
        self.rsa.update(other.rsa)
        self.lines_read += other.lines_read
        self.bad_lines += other.bad_lines
        room = MAX_BAD_EXAMPLES - len(self.bad_examples)
        self.bad_examples.extend(other.bad_examples[: max(room, 0)])
        self.ignored_lines += other.ignored_lines
        self.rsa_lines += other.rsa_lines
        self.sources.extend(source for source in other.sources if source not in self.sources)

    def _bad(self, source: str, line: int, reason: str) -> None:
        self.bad_lines += 1
        if len(self.bad_examples) < MAX_BAD_EXAMPLES:
            self.bad_examples.append(BadLine(source=source, line=line, reason=reason))


def _hex_field(text: str, name: str) -> tuple[bytes | None, str]:
    """(bytes, "") for an even-length hex string, else (None, reason)."""
    if not _HEX.fullmatch(text) or len(text) % 2:
        return None, f"{name} is not hex"
    return bytes.fromhex(text), ""


def _secret_problem(label: str, secret: bytes) -> str:
    """Why a secret's length does not fit its label, or ""."""
    if label == CLIENT_RANDOM and len(secret) != 48:
        return f"master secret is {len(secret)} bytes, not 48"
    if label in TLS13_LABELS and len(secret) not in _TLS13_SECRET_LENGTHS:
        return f"{label} secret is {len(secret)} bytes, not 32 or 48"
    return ""


def _parse_line(keylog: KeyLog, index: _Index, text: str, source: str, number: int) -> None:
    """Read one non-comment line into `keylog`."""
    fields = text.split()
    if len(fields) != 3:
        keylog._bad(source, number, f"expected 3 fields, found {len(fields)}")
        return
    label, first, second = fields
    if not _LABEL.fullmatch(label):
        keylog._bad(source, number, "not a key log line")
        return
    if label == RSA:
        prefix, reason = _hex_field(first, "encrypted premaster prefix")
        premaster, reason2 = _hex_field(second, "premaster secret")
        if prefix is None or premaster is None:
            keylog._bad(source, number, reason or reason2)
        elif len(prefix) != 8 or len(premaster) != 48:
            keylog._bad(source, number, "RSA line needs an 8-byte prefix and a 48-byte premaster secret")
        else:
            keylog.rsa[prefix] = premaster
            keylog.rsa_lines += 1
        return
    client_random, reason = _hex_field(first, "client random")
    secret, reason2 = _hex_field(second, "secret")
    if client_random is None or secret is None:
        keylog._bad(source, number, reason or reason2)
        return
    if len(client_random) != 32:
        keylog._bad(source, number, f"client random is {len(client_random)} bytes, not 32")
        return
    if label not in LABELS:
        keylog.ignored_lines += 1  # well-formed, but a secret tlscap has no use for
        return
    problem = _secret_problem(label, secret)
    if problem:
        keylog._bad(source, number, problem)
        return
    index.add(client_random, label, secret)


def parse_keylog(text: str | bytes, *, source: str = "") -> KeyLog:
    """Parse NSS key log text (str, or bytes read as UTF-8 with bad bytes replaced).

    Never raises for content: malformed lines, including lines longer than limits.MAX_KEYLOG_LINE
    characters, are counted in `bad_lines`. A UTF-8 byte-order mark before the first line is skipped."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8", errors="replace")
    # Split on \n only (splitlines() would also split on \x0b, \x1c, \u2028...); CRLF is stripped.
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()  # the empty piece after the final newline is not a line
    return _parse_lines(iter(lines), source)


def _parse_lines(lines: Iterator[str | None], source: str) -> KeyLog:
    """Parse lines (None: a line longer than limits.MAX_KEYLOG_LINE, not kept) into one sealed index."""
    keylog = KeyLog(sources=[source] if source else [])
    index = _Index()
    number = 0
    for number, raw in enumerate(lines, start=1):
        if raw is None or len(raw) > limits.MAX_KEYLOG_LINE:
            keylog._bad(source, number, f"line longer than {limits.MAX_KEYLOG_LINE} characters")
            continue
        line = raw.strip()
        if line and not line.startswith("#"):
            _parse_line(keylog, index, line, source, number)
    keylog.lines_read = number
    if len(index):
        keylog._indexes.append(index.seal())
    return keylog


class _FileLines:
    """A key log file's lines, read one at a time (the file is never held whole): decoded as UTF-8 with
    bad bytes replaced, the first line without its byte-order mark; a line longer than limits.MAX_KEYLOG_LINE
    characters is skipped unread and given as None. Counts the bytes and whether any was not blank; past
    limits.MAX_KEYLOG_FILE bytes, raises _TooLarge."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.size = 0
        self.blank = True

    def __iter__(self) -> Iterator[str | None]:
        first = True
        longest = limits.MAX_KEYLOG_LINE * 4 + 2  # bytes: enough for that many UTF-8 characters and \r\n
        largest = limits.MAX_KEYLOG_FILE
        while True:
            raw = self.handle.readline(longest)
            if not raw:
                return
            self.size += len(raw)
            if self.size > largest:
                raise _TooLarge()
            if len(raw) == longest and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # the rest of the overlong line
                    raw = self.handle.readline(1 << 20)
                    self.size += len(raw)
                    if self.size > largest:
                        raise _TooLarge()
                self.blank = False
                yield None
                continue
            text = raw.decode("utf-8", errors="replace")
            if first:
                text, first = text.removeprefix("\ufeff"), False
            if self.blank and text.strip():
                self.blank = False
            yield text.removesuffix("\n")


class _TooLarge(Exception):
    pass


def load_keylog_file(path: str | Path) -> KeyLog:
    """Read and parse a key log file the user named (`--keylog`), a line at a time.

    This is the one function of the TLS layer that opens a file: the rule that only capture/
    touches files is relaxed for key logs named explicitly on the command line. Raises KeyLogError
    with a one-line reason when the file is missing, unreadable, binary, empty, or holds no key log
    line at all."""
    name = str(path)
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(_BINARY_PROBE)
            # A capture or archive given by mistake is refused before all of it is read.
            if b"\x00" in head:
                raise KeyLogError(name, "binary file, not an NSS key log (SSLKEYLOGFILE) text file")
            handle.seek(0)
            lines = _FileLines(handle)
            try:
                keylog = _parse_lines(iter(lines), name)
            except _TooLarge:
                raise KeyLogError(name, f"larger than {limits.MAX_KEYLOG_FILE >> 20} MiB, not read") from None
    except FileNotFoundError:
        raise KeyLogError(name, "no such file") from None
    except IsADirectoryError:
        raise KeyLogError(name, "is a directory, not a key log file") from None
    except PermissionError:
        raise KeyLogError(name, "permission denied") from None
    except OSError as exc:
        raise KeyLogError(name, f"cannot be read ({exc.strerror or exc})") from None
    if lines.blank:
        raise KeyLogError(name, "file is empty")
    if not len(keylog) and not keylog.rsa_lines and not keylog.ignored_lines:
        if not keylog.bad_lines:
            raise KeyLogError(name, "holds no secrets (only comments)")
        first = keylog.bad_examples[0]
        raise KeyLogError(
            name, f"not an NSS key log: {keylog.bad_lines} malformed lines (line {first.line}: {first.reason})"
        )
    return keylog
