"""Find the captures under the paths given to `tlscap scan`, by content rather than by file name.

A file is a capture when it starts with a pcap or pcapng magic number, or is gzip whose decompressed
start does. A file whose name says capture (`.pcap`, `.pcapng`, `.cap`, ... or those `.gz`) is kept
even when its content does not, so that an empty or mislabelled capture is reported, not skipped.
Folders are walked in name order; each real folder and file is visited once, so symlink loops end.
Whatever cannot be walked (a folder or file that cannot be read, a loop, a broken link) becomes a
`Problem` in the walk's order, for the report to show.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tlscap.capture import pcap, pcapng

# Enough of a gzip file to decompress a capture's first bytes, even behind a long file name field.
_HEAD_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".ntar", ".dmp", ".erf")
_COMPRESSED_SUFFIXES = (".gz", ".gzip")


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A file to analyze: `path` as the report shows it, `real_path` the file it resolves to, `position`
    its place among the report's entries (the problems found count too)."""

    path: str
    real_path: str
    size: int
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """Something under the scanned paths that could not be looked at; `code` is kebab-case."""

    path: str
    code: str
    message: str


Entry = Candidate | Problem


@dataclass(slots=True, kw_only=True)
class Discovery:
    """What a walk found, in walk order: captures to analyze and problems to report."""

    entries: list[Entry] = field(default_factory=list)

    @property
    def candidates(self) -> list[Candidate]:
        return [e for e in self.entries if isinstance(e, Candidate)]

    @property
    def problems(self) -> list[Problem]:
        return [e for e in self.entries if isinstance(e, Problem)]


def capture_kind(head: bytes) -> str | None:
    """`pcap`, `pcapng`, `gzip-pcap` or `gzip-pcapng` from a file's first bytes; None for anything else."""
    if head[:2] == _GZIP_MAGIC:
        inner = _gunzip_head(head)
        kind = _plain_kind(inner) if inner else None
        return None if kind is None else f"gzip-{kind}"
    return _plain_kind(head)


def _plain_kind(head: bytes) -> str | None:
    if head[:4] == pcapng.SHB_MAGIC:
        return "pcapng"
    if pcap.is_pcap_magic(head):
        return "pcap"
    return None


def _gunzip_head(data: bytes) -> bytes:
    """The first decompressed bytes of a gzip stream's start, or b"" when it is not valid gzip."""
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data, 64)
    except zlib.error:
        return b""


def named_like_capture(name: str) -> bool:
    """True for names such as `x.pcap`, `x.pcapng`, `x.cap`, `x.pcap.gz` (case-insensitive)."""
    lower = name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
            break
    return lower.endswith(_CAPTURE_SUFFIXES)


def matches(patterns: Sequence[str], name: str, relative: str) -> bool:
    """A glob matches a file's name or its path relative to the scanned folder (`*` crosses `/`)."""
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(relative, p) for p in patterns)


def discover(paths: Iterable[str], *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Discovery:
    """Walk `paths` (files or folders, recursively) and return the captures and problems found.

    A file named on the command line is always a candidate (the analysis says if it is no capture);
    `include` / `exclude` globs apply to what is found inside folders, and an excluded folder is not
    entered.
    """
    walk = _Walk(include=tuple(include), exclude=tuple(exclude))
    for path in paths:
        walk.top(path)
    return walk.found


class _Walk:
    """The state of one discovery: what was visited (by device and inode) and what was found."""

    def __init__(self, *, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.include = include
        self.exclude = exclude
        self.found = Discovery()
        self.seen_files: set[tuple[int, int]] = set()
        self.seen_dirs: set[tuple[int, int]] = set()

    def problem(self, path: str, code: str, message: str) -> None:
        self.found.entries.append(Problem(path=path, code=code, message=message))

    def top(self, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            self._stat_failed(path, exc)
            return
        if stat.S_ISDIR(st.st_mode):
            self.folder(path, path, st, ancestors=())
        elif stat.S_ISREG(st.st_mode):
            self.file(path, st, check_content=False)
        else:
            self.problem(path, "not-a-file", "not a regular file or folder (a pipe, socket or device); skipped")

    def _stat_failed(self, path: str, exc: OSError) -> None:
        if exc.errno == errno.ELOOP:
            self.problem(path, "symlink-loop", "symbolic links that point to each other; not followed")
        elif os.path.islink(path):
            self.problem(path, "broken-symlink", f"symbolic link to a missing target ({_reason(exc)})")
        else:
            self.problem(path, "unreadable", _reason(exc))

    def folder(self, path: str, root: str, st: os.stat_result, ancestors: tuple[tuple[int, int], ...]) -> None:
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            self.problem(path, "symlink-loop", "symbolic link to a folder that contains it; not followed")
            return
        if key in self.seen_dirs:
            return  # reached a second time through another link: already scanned
        self.seen_dirs.add(key)
        try:
            with os.scandir(path) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.problem(path, "unreadable", f"cannot list the folder: {_reason(exc)}")
            return
        inner = (*ancestors, key)
        for child in children:
            self.child(child, root, inner)

    def child(self, entry: os.DirEntry[str], root: str, ancestors: tuple[tuple[int, int], ...]) -> None:
        relative = os.path.relpath(entry.path, root).replace(os.sep, "/")
        if self.exclude and matches(self.exclude, entry.name, relative):
            return
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP or named_like_capture(entry.name) or not entry.is_symlink():
                self._stat_failed(entry.path, exc)
            return
        if stat.S_ISDIR(st.st_mode):
            self.folder(entry.path, root, st, ancestors)
        elif stat.S_ISREG(st.st_mode):
            if self.include and not matches(self.include, entry.name, relative):
                return
            self.file(entry.path, st, check_content=True)
        # Pipes, sockets and devices are never opened: reading them could block the scan forever.

    def file(self, path: str, st: os.stat_result, *, check_content: bool) -> None:
        key = (st.st_dev, st.st_ino)
        if key in self.seen_files:
            return
        if check_content and not named_like_capture(os.path.basename(path)):
            try:
                with open(path, "rb") as f:
                    head = f.read(_HEAD_BYTES)
            except OSError as exc:
                self.problem(path, "unreadable", _reason(exc))
                return
            if capture_kind(head) is None:
                return
        self.seen_files.add(key)
        self.found.entries.append(Candidate(path=path, real_path=os.path.realpath(path), size=st.st_size,
                                            position=len(self.found.entries)))


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)
