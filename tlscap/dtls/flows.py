"""UDP flows: Wireshark's `udp.stream` numbering, and a DTLS tracker for each flow that carries DTLS.

Every UDP conversation (both directions of an address and port pair, inside the same tunnel) takes the
next udp.stream index at its first datagram, as Wireshark numbers them, DNS and tunnel carriers included.
A flow becomes a DTLS connection at its first datagram that begins with a DTLS record (`records.starts_dtls`),
whatever the port, also after STUN or RTP on the same port (RFC 7983). Sans-IO: datagrams in, finished
trackers out through the caller's `finalize`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from tlscap import limits
from tlscap.decode.datagram import Datagram
from tlscap.decode.decoder import conversation_tunnel
from tlscap.dtls.records import starts_dtls
from tlscap.dtls.session import DtlsSession
from tlscap.side import Side
from tlscap.tls.keylog import KeyLog


@dataclass(slots=True)
class DtlsTracker:
    """Everything kept for one UDP flow that carries DTLS; read by the report builder as a TCP connection's
    tracker is (no SYN, no FIN or RST: UDP has none)."""

    stream: int
    endpoints: dict[Side, tuple[str, int]]
    tunnel: tuple[str, ...]
    first_frame: int
    first_time_ns: int
    last_frame: int = 0
    last_time_ns: int = 0
    session: DtlsSession = field(default_factory=DtlsSession)
    syn_side: Side | None = None
    ends: list = field(default_factory=list)
    frame_times_ns: dict[int, int] = field(default_factory=dict)
    carrier_times_ns: dict[int, int] = field(default_factory=dict)
    given_up: bool = False
    closed: bool = False
    transport: str = "udp"

    def on_datagram(self, datagram: Datagram, side: Side) -> None:
        self.last_frame = datagram.frame
        self.last_time_ns = datagram.timestamp_ns
        self.session.feed_datagram(side, datagram.payload, datagram.frame)
        self._note_times()

    def finish(self) -> None:
        self.session.finish()
        self._note_times()

    def _note_times(self) -> None:
        """The new events' frames get the time of the datagram just read (at the end, the last one's)."""
        for frame in self.session.take_new_event_frames():
            self.frame_times_ns.setdefault(frame, self.last_time_ns)


@dataclass(slots=True)
class _Flow:
    stream: int
    first: tuple[str, int]  # the sender of the first datagram: side FIRST
    first_frame: int
    first_time_ns: int
    tracker: DtlsTracker | None = None
    finished: bool = False


Finalize = Callable[[DtlsTracker], None]


class UdpFlows:
    """The UDP conversations of one capture, numbered; DTLS ones tracked until `finalize` takes them.
    `keylog` (the capture's, which secrets inside the capture may still add to) decrypts DTLS flows."""

    def __init__(self, finalize: Finalize, keylog: KeyLog | None = None) -> None:
        self.finalize = finalize
        self.keylog = keylog
        self.flows: OrderedDict[tuple, _Flow] = OrderedDict()  # least recently active first
        self.open: OrderedDict[int, DtlsTracker] = OrderedDict()
        self._open_flows: dict[int, _Flow] = {}  # stream -> its flow, for the open DTLS trackers
        self.count = 0  # udp.stream indexes given
        self.evicted = 0  # DTLS flows finished early (too many open at once)
        self.forgotten = 0  # flows forgotten (too many numbered at once)

    def on_datagram(self, datagram: Datagram) -> None:
        src, dst = (datagram.src_ip, datagram.src_port), (datagram.dst_ip, datagram.dst_port)
        key = (conversation_tunnel(datagram.tunnel), *sorted((src, dst)))
        flow = self.flows.get(key)
        if flow is None:
            flow = _Flow(self.count, src, datagram.frame, datagram.timestamp_ns)
            self.count += 1
            self.flows[key] = flow
            if len(self.flows) > limits.MAX_UDP_FLOWS:
                self._forget_one()
        else:
            self.flows.move_to_end(key)
        if datagram.quoted or flow.finished:
            return
        side = Side.FIRST if src == flow.first else Side.SECOND
        tracker = flow.tracker
        if tracker is None:
            if not starts_dtls(datagram.payload):
                return
            second = dst if side is Side.FIRST else src
            tracker = DtlsTracker(stream=flow.stream, endpoints={Side.FIRST: flow.first, Side.SECOND: second},
                                  tunnel=datagram.tunnel, first_frame=flow.first_frame,
                                  first_time_ns=flow.first_time_ns, session=DtlsSession(self.keylog))
            flow.tracker = tracker
            self.open[flow.stream] = tracker
            self._open_flows[flow.stream] = flow
            if len(self.open) > limits.MAX_DTLS_FLOWS:
                self._finish(next(iter(self.open.values())))
                self.evicted += 1
        else:
            self.open.move_to_end(flow.stream)
        tracker.on_datagram(datagram, side)

    def sweep(self, now_ns: int) -> None:
        """Finish the DTLS flows quiet for limits.IDLE_DTLS_FLOW_NS of capture time (UDP has no close)."""
        while self.open:
            tracker = next(iter(self.open.values()))
            if tracker.last_time_ns > now_ns - limits.IDLE_DTLS_FLOW_NS:
                break
            self._finish(tracker)

    def finish(self) -> None:
        for tracker in list(self.open.values()):
            self._finish(tracker)

    def _finish(self, tracker: DtlsTracker) -> None:
        del self.open[tracker.stream]
        flow = self._open_flows.pop(tracker.stream, None)
        if flow is not None:
            flow.finished = True
            flow.tracker = None
        self.finalize(tracker)

    def _forget_one(self) -> None:
        for key, flow in self.flows.items():
            if flow.tracker is None:
                del self.flows[key]
                self.forgotten += 1
                return
