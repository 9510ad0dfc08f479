"""The first HTTP/1.x response in decrypted application data: its status and HTML <title>."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from tlscap import limits

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?\n")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpHead:
    status: int
    reason: str
    title: str | None


def parse_http_response(data: bytes) -> HttpHead | None:
    """The response's status code, reason phrase and page title; None when `data` is not HTTP/1.x."""
    match = _STATUS_LINE.match(data)
    if match is None:
        return None
    title = None
    found = _TITLE.search(data)
    if found is not None:
        text = html.unescape(found.group(1).decode("utf-8", "replace"))
        title = " ".join(text.split())[: limits.MAX_HTTP_TITLE] or None
    reason = (match.group(2) or b"").decode("latin-1").strip()
    return HttpHead(status=int(match.group(1)), reason=reason, title=title)
