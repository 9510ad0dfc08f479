"""Make strings from a capture safe to print on a terminal: control characters become visible escapes.

Two helpers:

- `safe` is for text meant for people (terminal, HTML, Markdown, CSV): control, format and
  bidirectional characters (ESC, NUL, U+202E, ...) are written as visible escapes (`\\x1b`, `\\u202e`),
  so a certificate cannot clear the screen or reorder what the reader sees.
- `without_surrogates` is for JSON, which keeps the data as it is but must be valid UTF-8: a lone
  surrogate cannot be encoded, so it is written as a visible escape too.

Lone surrogates reach tlscap from outside as Python's stand-in for undecodable bytes (`os.fsdecode`
gives a file named `caf\\xe9.pcap` as `caf\\udce9.pcap`); both helpers show U+DC80..U+DCFF as the
byte they stand for (`\\xe9`), like tlscap shows invalid UTF-8 elsewhere, and other surrogates as
`\\udNNN`.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and isolates can reorder what a reader sees; show them as escapes too.
_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F}
_BIDI_CHARS = frozenset(map(chr, _BIDI))
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: str) -> str:
    """Return `text` with control, format and bidi characters written as \\xNN / \\uNNNN escapes."""
    if text.isprintable() and (text.isascii() or _BIDI_CHARS.isdisjoint(text)):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if code in _BIDI or (not ch.isprintable() and ch != " "):
            if unicodedata.category(ch) == "Zs":
                out.append(ch)
            else:
                out.append(_escape(code))
        else:
            out.append(ch)
    return "".join(out)


def without_surrogates(text: str) -> str:
    """`text` with every lone surrogate written as a visible escape, so it encodes as UTF-8."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: _escape(ord(m.group())), text)
