"""The one error base class and the capture-level error record."""

from __future__ import annotations

from dataclasses import dataclass


class TlscapError(Exception):
    """Base of every error tlscap raises on purpose; its message is one line for the user."""


class CaptureOpenError(TlscapError):
    """The file cannot be read as a capture at all (missing, empty, not a capture)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureIssue:
    """A problem found while reading a capture; what was read before it is still analyzed.

    `code` is a short kebab-case word (`truncated-file`, `bad-block`, `unsupported-link-type`, ...).
    """

    code: str
    message: str
    frame: int | None = None
