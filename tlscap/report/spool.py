"""Report text written now and copied out later, so a report whose body is bigger than memory is still
written whole: the Markdown, HTML and CSV writers put each connection's part here as it comes, and
copy it out after the summary that heads the report (and needs every connection) is known."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from typing import TextIO

from tlscap.output import OutputError, io_error

# Characters held in memory before the spool moves to a temporary file.
IN_MEMORY_CHARS = 4 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024


def _spool_error(exc: OSError) -> OutputError:
    """A full or failing $TMPDIR under the spool: a user's error naming the folder, not a bug."""
    return io_error(tempfile.gettempdir(), exc, "cannot write the report's temporary file")


class TextSpool:
    """Append-only text, in memory up to IN_MEMORY_CHARS, then in an unnamed temporary file (gone when
    closed, or when the process ends). Where no temporary file can be made, it stays in memory.
    `copy_to` writes it all out as written (no newline translation)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._held = 0
        self._file: TextIO | None = None
        self.empty = True

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    def write(self, text: str) -> None:
        if not text:
            return
        self.empty = False
        if self._file is not None:
            try:
                self._file.write(text)
            except OSError as exc:
                raise _spool_error(exc) from None
            return
        self._parts.append(text)
        self._held += len(text)
        if self._held > IN_MEMORY_CHARS:
            self._move_to_disk()

    def _move_to_disk(self) -> None:
        try:
            # surrogatepass: the spool takes any text; its destination takes or refuses it itself.
            file = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="surrogatepass", newline="")
        except OSError:
            self._held = -(1 << 62)  # no temporary file here: stay in memory, and do not try again
            return
        try:
            file.writelines(self._parts)
        except OSError as exc:
            file.close()
            raise _spool_error(exc) from None
        self._file, self._parts = file, []

    def writelines(self, lines: Iterable[str]) -> None:
        for text in lines:
            self.write(text)

    def copy_to(self, out: TextIO | TextSpool) -> None:
        if self._file is None:
            out.writelines(self._parts)
            return
        try:  # the report's own write errors are OutputErrors already; an OSError here is the spool's
            self._file.flush()
            self._file.seek(0)
            shutil.copyfileobj(self._file, out, _COPY_CHUNK)
            self._file.seek(0, 2)
        except OSError as exc:
            raise _spool_error(exc) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._parts = []
