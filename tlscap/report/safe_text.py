"""Make strings from a capture safe to print on a terminal: control characters become visible escapes."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates can reorder what a reader sees; show them as escapes too.
_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F}


def safe(text: str) -> str:
    """Return `text` with control, format and bidi characters written as \\xNN / \\uNNNN escapes."""
    if text.isprintable() and not any(ord(ch) in _BIDI for ch in text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if code in _BIDI or (not ch.isprintable() and ch != " "):
            if unicodedata.category(ch) == "Zs":
                out.append(ch)
            elif code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)
