"""A connection's timeline: the questions about it that several rules and reports ask, the validity of a
certificate at the time judged, and the timeline itself, step by step, that every report renders."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from tlscap.analysis.model import (
    AlertEntry,
    CertificateChainInfo,
    CertificateRequestInfo,
    Connection,
    HandshakeEntry,
)
from tlscap.pki.certificate import CertificateSummary
from tlscap.timefmt import utc_datetime
from tlscap.tls.constants import HandshakeType

_HELLOS = frozenset({HandshakeType.CLIENT_HELLO, HandshakeType.SERVER_HELLO})
# What the server sends in a full TLS <= 1.2 handshake and not in an abbreviated (resumed) one.
_FULL_HANDSHAKE_SERVER = frozenset({HandshakeType.CERTIFICATE, HandshakeType.SERVER_KEY_EXCHANGE,
                                    HandshakeType.SERVER_HELLO_DONE})


def saw_hello(conn: Connection) -> bool:
    return any(h.msg_type in _HELLOS for h in conn.handshake)


def first_message(conn: Connection, msg_type: HandshakeType, sender: str | None = None) -> HandshakeEntry | None:
    """The first handshake message of that type (from that sender); a HelloRetryRequest is no ServerHello."""
    for h in conn.handshake:
        if h.msg_type == msg_type and (sender is None or h.sender == sender):
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
    full = any(h.msg_type in _FULL_HANDSHAKE_SERVER and h.sender == "server" for h in conn.handshake)
    return conn.server_finished if full else conn.client_finished


def frame_time_ns(conn: Connection, frame: int) -> int:
    """Capture time of a frame of this connection (the nearest earlier known one if not recorded)."""
    t = conn.frame_times_ns.get(frame)
    if t is not None:
        return t
    earlier = [f for f in conn.frame_times_ns if f <= frame]
    return conn.frame_times_ns[max(earlier)] if earlier else conn.first_time_ns


# --------------------------------------------------------------------------- certificate validity


def judged_time(conn: Connection, at: datetime | None, frame: int) -> datetime | None:
    """The time validity is judged at: `at` (--at) if given, else the frame's capture time (None when that is
    not a real date)."""
    return at if at is not None else utc_datetime(frame_time_ns(conn, frame))


@dataclass(frozen=True, slots=True, kw_only=True)
class Validity:
    """A certificate against the time judged: expired, not yet valid (both only when its dates are the wrong
    way round), or neither (valid, or not judged)."""

    expired: bool = False  # not_after before the time judged
    not_yet_valid: bool = False  # not_before after it

    @property
    def mark(self) -> str:
        """The words every report puts after the validity dates; "" when neither."""
        if self.expired:
            return "EXPIRED at capture time"
        if self.not_yet_valid:
            return "NOT YET VALID at capture time"
        return ""


def judge_validity(cert: CertificateSummary, when: datetime | None) -> Validity:
    """Whether `cert` was valid at `when` (`judged_time`): the one place the rules and the timeline ask."""
    if when is None:
        return Validity()
    return Validity(expired=cert.not_after_utc is not None and cert.not_after_utc < when,
                    not_yet_valid=cert.not_before_utc is not None and cert.not_before_utc > when)


# --------------------------------------------------------------------------- the timeline every report shows


class ItemKind(StrEnum):
    HANDSHAKE = "handshake"  # a handshake message or a ChangeCipherSpec record
    ALERT = "alert"
    RECORDS = "records"  # TLS 1.3 without keys: what encrypted records most likely carry, from their sizes
    HTTP = "http"  # the server's HTTP answer (decrypted)
    END = "end"  # a FIN or RST


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedCa:
    """A CA name a CertificateRequest lists; with --truststore, whether the truststore holds it (None: not
    known)."""

    name: str
    in_truststore: bool | None = None

    @property
    def mark(self) -> str:
        """The words every report puts after the name; "" when not known."""
        if self.in_truststore is None:
            return ""
        return "(in the truststore)" if self.in_truststore else "(NOT in the truststore)"


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgedCertificate:
    """A certificate of the client's chain, with its validity at the time judged."""

    certificate: CertificateSummary
    validity: Validity


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineItem:
    """One thing a step carried. Strings are as the capture has them: each report escapes them its own way.

    `name` and `qualifier` are the item's words ("CertificateRequest", " ×3 (to frame 9)"); `summary` is what a
    CertificateRequest or the client's Certificate held, in a few words, with the facts beneath it:
    `ca_names` (and `not_advertised`, the truststore's CAs the server's first request left out) or `chain`.
    `lines` are the client's stack and fingerprints under its first ClientHello.
    """

    kind: ItemKind
    name: str
    qualifier: str = ""
    msg_type: int | None = None  # a handshake item's HandshakeType (as HandshakeEntry.msg_type)
    summary: str | None = None
    ca_names: tuple[ListedCa, ...] = ()
    not_advertised: tuple[str, ...] = ()
    chain: tuple[JudgedCertificate, ...] = ()
    lines: tuple[str, ...] = ()
    inferred: bool = False  # read from record sizes (TLS 1.3 without keys), not seen
    failure: bool = False  # a fatal alert, or an HTTP error status

    @property
    def label(self) -> str:
        return self.name + self.qualifier

    @property
    def stands_alone(self) -> bool:
        """An item with something beneath it, or read from sizes, is a step of its own."""
        return self.summary is not None or bool(self.lines) or self.inferred


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineStep:
    """What one frame carried in one direction: one line of the text walkthrough. A frame whose items
    include a CertificateRequest, the client's Certificate or something inferred is split into several
    steps, each of those items in one of its own."""

    frame: int
    offset_ns: int  # since the connection's first frame
    sender: str  # "client" | "server"
    items: tuple[TimelineItem, ...]

    @property
    def offset_s(self) -> float:
        return self.offset_ns / 1e9


def client_hello_lines(conn: Connection) -> tuple[str, ...]:
    """The client's stack and fingerprints (JA4, JA3), shown under its first ClientHello."""
    fp = conn.client_fingerprint
    if fp is None:
        return ()
    match = conn.client_stack
    if match is None:
        stack = "client stack: not in tlscap's table"
    else:
        picks = ("picks its certificate by the server's CA list" if match.stack.selects_by_ca_list
                 else "sends the certificate it is given")
        stack = f"client stack: {match.label} ({picks})"
    return (stack, f"JA4 {fp.ja4}" + (f"   JA3 {fp.ja3}" if fp.ja3 else ""))


def repeated(count: int, last_frame: int | None) -> str:
    """" ×N (to frame M)" for a run of identical records; "" for one."""
    return f" ×{count:,} (to frame {last_frame})" if count > 1 else ""


def _listed(conn: Connection, name: str) -> ListedCa:
    check = conn.ca_list_check
    if check is None:
        return ListedCa(name=name)
    if name in check.extra:
        return ListedCa(name=name, in_truststore=False)
    return ListedCa(name=name, in_truststore=True if name in check.matched else None)


def _request_item(conn: Connection, cr: CertificateRequestInfo, name: str) -> TimelineItem:
    n = len(cr.ca_names)
    missing = conn.ca_list_check.missing if cr is conn.certificate_request and conn.ca_list_check else []
    return TimelineItem(kind=ItemKind.HANDSHAKE, name=name, msg_type=HandshakeType.CERTIFICATE_REQUEST,
                        summary=f"{n} acceptable CA name{'s' if n != 1 else ''}",
                        ca_names=tuple(_listed(conn, x) for x in cr.ca_names), not_advertised=tuple(missing))


def _certificate_item(conn: Connection, cc: CertificateChainInfo, name: str, at: datetime | None) -> TimelineItem:
    when = judged_time(conn, at, cc.frame)
    chain = tuple(JudgedCertificate(certificate=c, validity=judge_validity(c, when)) for c in cc.chain)
    summary = f"chain of {len(chain)}" if chain else "empty: no client certificate sent"
    return TimelineItem(kind=ItemKind.HANDSHAKE, name=name, msg_type=HandshakeType.CERTIFICATE, summary=summary,
                        chain=chain)


def _handshake_items(conn: Connection, at: datetime | None) -> list[tuple[int, str, TimelineItem]]:
    # Every CertificateRequest and client Certificate (a renegotiation or post-handshake authentication
    # asks again), matched to the handshake entries in order.
    requests = list(conn.certificate_requests)
    chains = list(conn.client_certificates)
    hello_seen = False
    out: list[tuple[int, str, TimelineItem]] = []
    for h in conn.handshake:
        name = h.message + (f" (incomplete: {h.damaged})" if h.damaged else "")
        if h.msg_type == HandshakeType.CERTIFICATE_REQUEST and requests and h.frame == requests[0].frame:
            item = _request_item(conn, requests.pop(0), name)
        elif (h.msg_type == HandshakeType.CERTIFICATE and h.sender == "client" and chains
              and h.frame == chains[0].frame):
            item = _certificate_item(conn, chains.pop(0), name, at)
        elif h.encrypted:
            item = TimelineItem(kind=ItemKind.HANDSHAKE, name=name, msg_type=h.msg_type, qualifier=" (encrypted)")
        elif h.msg_type == HandshakeType.CLIENT_HELLO and h.sender == "client" and not hello_seen:
            hello_seen = True
            item = TimelineItem(kind=ItemKind.HANDSHAKE, name=name, msg_type=h.msg_type,
                                lines=client_hello_lines(conn))
        else:
            item = TimelineItem(kind=ItemKind.HANDSHAKE, name=name, msg_type=h.msg_type)
        tail = repeated(h.count, h.last_frame) + (" (retransmission)" if h.retransmission else "")
        out.append((h.frame, h.sender, replace(item, qualifier=item.qualifier + tail)))
    return out


def _inferred_items(conn: Connection) -> list[tuple[int, str, TimelineItem]]:
    """TLS 1.3 without keys: per frame and direction, what its records most likely carry, from their sizes
    (alert-sized records are among the alerts)."""
    inference = conn.record_inference
    if inference is None:
        return []
    by_frame: dict[tuple[int, str], list[str]] = {}
    for r in inference.readings:
        if not r.alert:
            by_frame.setdefault((r.frame, "client" if r.from_client else "server"), []).append(r.carries)
    return [(frame, sender, TimelineItem(kind=ItemKind.RECORDS, inferred=True,
                                         name=f"[encrypted] {', '.join(items)} — inferred from record sizes"))
            for (frame, sender), items in by_frame.items()]


def _alert_item(a: AlertEntry) -> TimelineItem:
    if a.inferred:
        name = "[encrypted] Alert — inferred from its size"
    else:
        name = "Alert (encrypted)" if a.encrypted else f"Alert: {a.level} {a.description}"
    return TimelineItem(kind=ItemKind.ALERT, name=name, qualifier=repeated(a.count, a.last_frame),
                        inferred=a.inferred, failure=a.level == "fatal")


def connection_timeline(conn: Connection, at: datetime | None = None) -> tuple[TimelineStep, ...]:
    """The connection frame by frame, as every report shows it: its handshake messages, alerts, what record
    sizes say, the HTTP answer and the FIN/RST, in frame order (within a frame, in that order). Certificates
    are judged at `at`, else at their frame's time."""
    events = _handshake_items(conn, at)
    events += [(a.frame, a.sender, _alert_item(a)) for a in conn.alerts]
    events += _inferred_items(conn)
    if conn.http is not None:
        title = f" “{conn.http.title}”" if conn.http.title else ""
        events.append((conn.http.frame, "server", TimelineItem(kind=ItemKind.HTTP, failure=conn.http.status >= 400,
                                                               name=f"HTTP {conn.http.status}{title}")))
    events += [(e.frame, e.sender, TimelineItem(kind=ItemKind.END, name=e.kind)) for e in conn.tcp_ends]
    events.sort(key=lambda e: e[0])  # stable: within a frame, the order above
    groups: list[tuple[int, str, list[TimelineItem]]] = []
    alone = False
    for frame, sender, item in events:
        last = groups[-1] if groups else None
        if last is not None and last[0] == frame and last[1] == sender and not alone and not item.stands_alone:
            last[2].append(item)
        else:
            groups.append((frame, sender, [item]))
        alone = item.stands_alone
    return tuple(TimelineStep(frame=frame, offset_ns=frame_time_ns(conn, frame) - conn.first_time_ns,
                              sender=sender, items=tuple(items)) for frame, sender, items in groups)
