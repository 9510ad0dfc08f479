"""Pieces of analysis.model connections for tests that build a Connection by hand."""

from __future__ import annotations

from tlscap.analysis.model import HandshakeEntry
from tlscap.tls.constants import HandshakeType, handshake_name


def handshake_entry(frame: int, sender: str, msg_type: HandshakeType, **more: bool) -> HandshakeEntry:
    """A handshake message carried by one frame, with its type and the name the builder gives it."""
    return HandshakeEntry(frame=frame, frames=(frame,), sender=sender, message=handshake_name(msg_type),
                          msg_type=msg_type, **more)
