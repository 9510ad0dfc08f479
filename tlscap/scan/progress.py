"""The scan's progress bar (tqdm, on stderr, only on a terminal) and its one-line messages.

The bar counts bytes, so a huge file moves it as much as it weighs; its text adds files done of total,
connections and findings so far; tqdm adds the rate and the time left. When stderr is not a terminal,
or with --quiet, there is no bar; messages still go to stderr unless quiet.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO, cast

from tlscap.analysis.model import CaptureReport


def wants_bar(stream: TextIO, *, quiet: bool) -> bool:
    """A bar only for a person watching: not quiet, and the stream is a terminal."""
    if quiet:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Counts what the scan did and shows it; every method is a no-op for what is switched off."""

    def __init__(self, *, total_files: int, total_bytes: int, bar: bool, quiet: bool,
                 stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total_files = total_files
        self.quiet = quiet
        self.files = 0
        self.connections = 0
        self.findings = 0
        self._by_bytes = total_bytes > 0
        self._bar: Any = None
        if bar:
            self._bar = _make_bar(total_files, total_bytes, self.stream)
            self._show()

    def done(self, capture: CaptureReport, size: int) -> None:
        """One more file finished."""
        self.files += 1
        self.connections += capture.stats.connections  # counted as they were handed on, even when streamed
        self.findings += sum(capture.stats.by_code.values())
        if self._bar is not None:
            self._bar.update(size if self._by_bytes else 1)
            self._show()

    def message(self, text: str) -> None:
        """A line on stderr (above the bar, which is redrawn beneath it); nothing when quiet."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def guard(self, out: TextIO) -> TextIO:
        """The report's stream, made safe to write while the bar is drawn: when the report goes to the
        terminal the bar is on, it is written a whole line at a time with the bar cleared first and
        redrawn below (a line's start waits for its end), so no bar fragment is glued into a report
        line. Any other stream is returned as it is."""
        if self._bar is None or not _same_terminal(out, self.stream):
            return out
        return cast(TextIO, _BarGuard(out, self))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show(self) -> None:
        self._bar.set_postfix_str(
            f"{self.files}/{self.total_files} files, {self.connections} connections, {self.findings} findings",
            refresh=True,
        )


class _BarGuard:
    """See Progress.guard."""

    def __init__(self, stream: TextIO, progress: Progress) -> None:
        self._stream = stream
        self._progress = progress
        self._tail = ""  # the start of a line, waiting for its end while the bar is drawn

    def write(self, text: str) -> int:
        bar = self._progress._bar
        if bar is None:  # the bar is gone: write as it comes
            self._stream.write(self._tail + text)
            self._tail = ""
            return len(text)
        data = self._tail + text
        cut = data.rfind("\n") + 1
        self._tail = data[cut:]
        if cut:
            bar.clear()
            self._stream.write(data[:cut])
            self._stream.flush()
            bar.refresh()
        return len(text)

    def flush(self) -> None:
        if self._tail and self._progress._bar is None:
            self._stream.write(self._tail)
            self._tail = ""
        self._stream.flush()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


def _same_terminal(a: TextIO, b: TextIO) -> bool:
    """Whether both streams are terminals, the same one."""
    try:
        if not (a.isatty() and b.isatty()):
            return False
        return os.fstat(a.fileno()).st_rdev == os.fstat(b.fileno()).st_rdev
    except (AttributeError, ValueError, OSError):
        return False


def _make_bar(total_files: int, total_bytes: int, stream: TextIO) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a comfort: a scan without it is still a scan
        return None
    if total_bytes > 0:
        return tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc="scan",
                    file=stream, dynamic_ncols=True, mininterval=0.2, leave=True)
    return tqdm(total=total_files, unit="file", desc="scan", file=stream, dynamic_ncols=True, leave=True)
