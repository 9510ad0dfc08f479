"""Turns a finished ConnectionTracker into the report's Connection: sides named, messages summarized."""

from __future__ import annotations

import functools
from collections.abc import Callable

from tlscap.analysis.http import parse_http_response
from tlscap.analysis.model import (
    AlertEntry,
    CaptureDamage,
    CertificateChainInfo,
    CertificateRequestInfo,
    Connection,
    Endpoint,
    HandshakeEntry,
    HttpResponse,
    TcpEndEntry,
)
from tlscap.analysis.tracker import ConnectionTracker
from tlscap.pki.certificate import summarize_certificate
from tlscap.pki.der import name_to_rfc4514
from tlscap.side import Side
from tlscap.tls import constants as C
from tlscap.tls import messages as M
from tlscap.tls.client_stacks import identify
from tlscap.tls.events import (
    AlertEvent,
    ApplicationDataEvent,
    ChangeCipherSpecEvent,
    DesyncEvent,
    HandshakeEvent,
    LostStartEvent,
    TlsEvent,
)
from tlscap.tls.fingerprint import fingerprint
from tlscap.tls.record_sizes import SizedRecord

WELL_KNOWN_TLS_PORTS = frozenset({443, 465, 636, 853, 989, 990, 992, 993, 995, 5061, 8443, 5223, 5671})


def client_side_of(tracker: ConnectionTracker) -> Side:
    """Which side is the TLS client: the ClientHello's sender, else the SYN's, else the higher port."""
    if tracker.session.client_side is not None:
        return tracker.session.client_side
    if tracker.syn_side is not None:
        return tracker.syn_side
    a, b = tracker.endpoints[Side.FIRST], tracker.endpoints[Side.SECOND]
    if a[1] in WELL_KNOWN_TLS_PORTS and b[1] not in WELL_KNOWN_TLS_PORTS:
        return Side.SECOND
    if b[1] in WELL_KNOWN_TLS_PORTS and a[1] not in WELL_KNOWN_TLS_PORTS:
        return Side.FIRST
    return Side.FIRST if a[1] > b[1] else Side.SECOND


def build_connection(tracker: ConnectionTracker) -> Connection:
    session = tracker.session
    client_side = client_side_of(tracker)
    c_ip, c_port = tracker.endpoints[client_side]
    s_ip, s_port = tracker.endpoints[client_side.other]
    conn = Connection(
        id=tracker.stream,
        client=Endpoint(ip=c_ip, port=c_port),
        server=Endpoint(ip=s_ip, port=s_port),
        first_frame=tracker.first_frame,
        last_frame=tracker.last_frame,
        first_time_ns=tracker.first_time_ns,
        last_time_ns=tracker.last_time_ns,
        sni=session.sni,
        tunnel=tracker.tunnel,
        frame_times_ns=dict(tracker.frame_times_ns),
        transport=getattr(tracker, "transport", "tcp"),
    )
    if session.version is not None:
        conn.version_code = session.version
        conn.version = C.version_name(session.version)
    if session.cipher_suite is not None:
        conn.cipher_suite = C.cipher_suite_name(session.cipher_suite)
        conn.cipher_suite_code = session.cipher_suite

    conn.decrypted = session.decrypted
    if session.events_dropped:
        conn.limited.append((tracker.last_frame, f"the connection carried more than {len(session.events)} TLS "
                                                 f"events; {session.events_dropped} later ones were counted, not kept"))
    for ev in session.events:
        _add_event(conn, ev, "client" if ev.side == client_side else "server")
    for end in tracker.ends:
        conn.tcp_ends.append(TcpEndEntry(frame=end.frame, sender="client" if end.side == client_side else "server",
                                         kind=end.kind))
    conn.key_problem = session.key_problem
    conn.key_problem_frame = session.key_problem_frame
    server = session.directions[client_side.other]
    head = parse_http_response(bytes(server.app_plaintext)) if server.app_plaintext else None
    if head is not None:
        conn.http = HttpResponse(frame=server.app_plaintext_frame, status=head.status, title=head.title)
        conn.frame_times_ns.setdefault(server.app_plaintext_frame, tracker.carrier_times_ns.get(
            server.app_plaintext_frame, tracker.last_time_ns))
    return conn


def _add_event(conn: Connection, ev: TlsEvent, sender: str) -> None:
    if isinstance(ev, HandshakeEvent):
        _add_handshake(conn, ev, sender)
    elif isinstance(ev, ChangeCipherSpecEvent):
        conn.handshake.append(HandshakeEntry(frame=ev.frame, frames=ev.frames, sender=sender,
                                             message="ChangeCipherSpec", count=ev.repeat, last_frame=ev.last_frame))
    elif isinstance(ev, AlertEvent):
        conn.alerts.append(AlertEntry(
            frame=ev.frame, frames=ev.frames, sender=sender, encrypted=ev.encrypted,
            level=None if ev.level is None else C.alert_level_name(ev.level),
            description=None if ev.description is None else C.alert_name(ev.description),
            level_code=ev.level, description_code=ev.description, count=ev.repeat, last_frame=ev.last_frame,
        ))
    elif isinstance(ev, ApplicationDataEvent):
        (conn.client_app_data_frames if sender == "client" else conn.server_app_data_frames).append(ev.frame)
        if ev.encrypted:
            conn.encrypted_records.append(SizedRecord(frame=ev.frame, from_client=sender == "client",
                                                      length=ev.length))
    elif isinstance(ev, LostStartEvent):  # whatever came first in this direction (a ClientHello) is missing
        conn.damage.append(CaptureDamage(frame=ev.frame, sender=sender, message=None,
                                         detail=ev.error or "stream lost", truncated=ev.truncated))
    elif isinstance(ev, DesyncEvent):
        if conn.handshake and not _handshake_done(conn) and not _tls13_flight_sent(conn, ev.frame):
            conn.damage.append(CaptureDamage(frame=ev.frame, sender=sender, message=None,
                                             detail=ev.error or "stream lost", truncated=ev.truncated))


def _handshake_done(conn: Connection) -> bool:
    return conn.client_finished and conn.server_finished


def _tls13_flight_sent(conn: Connection, frame: int) -> bool:
    """TLS 1.3 without keys: the client's encrypted flight (its Finished) went before `frame`, so what
    is lost there is application data, not handshake."""
    return conn.tls13 and not conn.decrypted and any(f < frame for f in conn.client_app_data_frames)


def _add_handshake(conn: Connection, ev: HandshakeEvent, sender: str) -> None:
    retransmission = ev.retransmission  # a DTLS copy: listed, not read again
    conn.handshake.append(HandshakeEntry(frame=ev.frame, frames=ev.frames, sender=sender, message=ev.name,
                                         msg_type=ev.msg_type, encrypted=ev.encrypted, damaged=ev.damaged,
                                         retransmission=retransmission))
    if retransmission:
        return
    if ev.msg_type == C.HandshakeType.FINISHED:
        if sender == "client":
            conn.client_finished = True
        else:
            conn.server_finished = True
    if isinstance(ev.parsed, M.ClientHello) and conn.client_fingerprint is None:
        conn.client_alpn = tuple(ev.parsed.alpn)
        conn.client_fingerprint = fingerprint(ev.parsed)
        conn.client_stack = identify(conn.client_fingerprint)
    if ev.damaged is not None:
        conn.damage.append(CaptureDamage(frame=ev.frame, sender=sender, message=ev.name,
                                         detail=ev.damaged, truncated=ev.truncated))
        return
    if ev.error is not None:
        conn.malformed.append((ev.frame, f"the {sender}'s {ev.name} (frame {ev.frame}) is malformed: {ev.error}"))
    parsed = ev.parsed
    if isinstance(parsed, M.CertificateMessage):
        chain = tuple(summarize_certificate(der) for der in parsed.certificates)
        info = CertificateChainInfo(frame=ev.frame, frames=ev.frames, sender=sender, chain=chain)
        if parsed.omitted:
            conn.limited.append((ev.frame, f"the {sender}'s Certificate (frame {ev.frame}) holds "
                                           f"{len(chain) + parsed.omitted} certificates; past tlscap's limit of "
                                           f"{len(chain)}, {parsed.omitted} were not read"))
        if sender == "client":
            conn.client_certificates.append(info)
        else:
            conn.server_certificates.append(info)
    elif isinstance(parsed, M.CertificateRequest):
        if parsed.ca_names_omitted:
            conn.limited.append((ev.frame, f"the CertificateRequest (frame {ev.frame}) lists "
                                           f"{len(parsed.ca_names) + parsed.ca_names_omitted} CA names; past "
                                           f"tlscap's limit of {len(parsed.ca_names)}, "
                                           f"{parsed.ca_names_omitted} were not read"))
        signature_algorithms, certificate_types = tuple(parsed.signature_algorithms), tuple(parsed.certificate_types)
        conn.certificate_requests.append(CertificateRequestInfo(
            frame=ev.frame, frames=ev.frames,
            ca_names=tuple(name_to_rfc4514(der) for der in parsed.ca_names),
            ca_names_der=tuple(parsed.ca_names),
            signature_algorithms=_named(C.signature_scheme_name, signature_algorithms),
            signature_algorithm_codes=signature_algorithms,
            certificate_types=_named(C.certificate_type_name, certificate_types),
            certificate_type_codes=certificate_types,
            tls13=conn.tls13,
        ))


@functools.lru_cache(maxsize=1024)
def _named(name_of: Callable[[int], str], codes: tuple[int, ...]) -> tuple[str, ...]:
    """The names of a list of registry values (a server sends the same list on every connection)."""
    return tuple(name_of(code) for code in codes)
