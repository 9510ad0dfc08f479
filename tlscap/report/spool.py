"""Report text written now and copied out later, so a report whose body is bigger than memory is still
written whole: the Markdown, HTML and CSV writers put each connection's part here as it comes, and
copy it out after the summary that heads the report (and needs every connection) is known."""

from __future__ import annotations

import shutil
import tempfile
from typing import TextIO

# Characters held in memory before the spool moves to a temporary file.
IN_MEMORY_CHARS = 4 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024


class TextSpool:
    """Append-only text; `copy_to` writes it all out, as written (no newline translation)."""

    def __init__(self) -> None:
        # surrogatepass: a spool never fails on text its destination would take or refuse itself.
        self._file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_CHARS, mode="w+", encoding="utf-8",
                                                   errors="surrogatepass", newline="")
        self.empty = True

    def write(self, text: str) -> None:
        if text:
            self._file.write(text)
            self.empty = False

    def copy_to(self, out: TextIO) -> None:
        self._file.seek(0)
        shutil.copyfileobj(self._file, out, _COPY_CHUNK)  # type: ignore[misc]
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()
