"""The scan's progress bar (tqdm, on stderr, only on a terminal) and its one-line messages.

The bar counts bytes, so a huge file moves it as much as it weighs; its text adds files done of total,
connections and findings so far; tqdm adds the rate and the time left. When stderr is not a terminal,
or with --quiet, there is no bar; messages still go to stderr unless quiet.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

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

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _show(self) -> None:
        self._bar.set_postfix_str(
            f"{self.files}/{self.total_files} files, {self.connections} connections, {self.findings} findings",
            refresh=True,
        )


def _make_bar(total_files: int, total_bytes: int, stream: TextIO) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a comfort: a scan without it is still a scan
        return None
    if total_bytes > 0:
        return tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc="scan",
                    file=stream, dynamic_ncols=True, mininterval=0.2, leave=True)
    return tqdm(total=total_files, unit="file", desc="scan", file=stream, dynamic_ncols=True, leave=True)
