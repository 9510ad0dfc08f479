"""Questions about a connection's timeline that several rules and reports ask."""

from __future__ import annotations

from tlscap.analysis.model import AlertEntry, Connection, HandshakeEntry


def saw_hello(conn: Connection) -> bool:
    return any(h.message in ("ClientHello", "ServerHello") for h in conn.handshake)


def first_message(conn: Connection, name: str, sender: str | None = None) -> HandshakeEntry | None:
    for h in conn.handshake:
        if h.message == name and (sender is None or h.sender == sender):
            return h
    return None


def plaintext_fatal_alert(conn: Connection) -> AlertEntry | None:
    return next((a for a in conn.alerts if not a.encrypted and a.level == "fatal"), None)


def handshake_complete(conn: Connection) -> bool:
    """The handshake finished: both Finished messages seen, or the one that is sent last.

    In a full TLS <= 1.2 handshake the server's Finished answers the client's; in an abbreviated
    (resumed) one, the client's answers the server's. So the later one proves the earlier one. In TLS 1.3
    the client's Finished always comes last (RFC 8446 §2).
    """
    if conn.client_finished and conn.server_finished:
        return True
    if conn.tls13:
        return conn.client_finished  # TLS 1.3: the client's Finished is the last message, full or resumed
    full = any(h.message in ("Certificate", "ServerKeyExchange", "ServerHelloDone") and h.sender == "server"
               for h in conn.handshake)
    return conn.server_finished if full else conn.client_finished


def frame_time_ns(conn: Connection, frame: int) -> int:
    """Capture time of a frame of this connection (the nearest earlier known one if not recorded)."""
    t = conn.frame_times_ns.get(frame)
    if t is not None:
        return t
    earlier = [f for f in conn.frame_times_ns if f <= frame]
    return conn.frame_times_ns[max(earlier)] if earlier else conn.first_time_ns
