"""Capture times (integer ns since the epoch, UTC) as datetimes and text, safe for any value."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_datetime(ns: int | None) -> datetime | None:
    """The UTC datetime of `ns`, or None when there is none or it is outside years 1..9999."""
    if ns is None:
        return None
    try:
        return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(microsecond=(ns % 1_000_000_000) // 1000)
    except (OverflowError, OSError, ValueError):
        return None


def iso_time(ns: int | None) -> str | None:
    """ISO 8601 with Z, with microseconds when the time has a fraction; None when not representable."""
    dt = utc_datetime(ns)
    if dt is None:
        return None
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}"
    return text + "Z"


def short_time(ns: int | None, *, with_date: bool = True) -> str:
    """`2026-11-20 09:14:03Z` (or only the time of day) for the text report; `?` when unknown."""
    dt = utc_datetime(ns)
    if dt is None:
        return "?"
    return dt.strftime("%Y-%m-%d %H:%M:%SZ" if with_date else "%H:%M:%SZ")
