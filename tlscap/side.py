"""The two sides of a transport conversation, as the transport tells them apart."""

from __future__ import annotations

from enum import IntEnum


class Side(IntEnum):
    """One direction of a conversation, named by the transport's order of its endpoints, not by role.

    `FIRST` is the endpoint that sorts first in the TCP conversation key (`tcp.streams.conversation_key`);
    for a UDP flow (`dtls.flows`) and in the tshark engine, which have no such key, it is the sender of the
    first datagram or segment seen. `SECOND` is the other endpoint. A side is not client or server: the
    session's `client_side` says which side is the client once a hello shows it.

    An IntEnum, so that it hashes and indexes as 0 and 1: tuples indexed by side ([SECOND], then [FIRST])
    and dicts keyed by it cost what they did with booleans. Looking a member up on the class costs ~70 ns
    in Python 3.11, so per-segment code binds the members it needs once, at module level.
    """

    SECOND = 0
    FIRST = 1

    @property
    def other(self) -> Side:
        """The opposite side."""
        return _OTHER[self]


_OTHER = (Side.FIRST, Side.SECOND)
