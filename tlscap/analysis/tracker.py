"""Per-TCP-connection state while a capture is read: reassembly of both directions feeding a TLS session."""

from __future__ import annotations

from dataclasses import dataclass, field

from tlscap import limits
from tlscap.decode.segment import ACK, FIN, RST, SYN, Segment
from tlscap.side import Side
from tlscap.tcp.reassembly import Chunk, Delivery, DirectionReassembler
from tlscap.tls.openvpn import OpenVpnChannel, OpenVpnReader, looks_like_openvpn_tcp
from tlscap.tls.session import TlsSession


@dataclass(slots=True)
class TcpEnd:
    frame: int
    side: Side
    kind: str


# The (address, port) of each side, indexed by side: [Side.SECOND], then [Side.FIRST].
Endpoints = tuple[tuple[str, int], tuple[str, int]]


@dataclass(slots=True)
class ConnectionTracker:
    """Everything kept for one TCP conversation (one Wireshark tcp.stream). Up to 16,384 are open at once
    (limits.MAX_TRACKED_CONNECTIONS), most of them often a SYN and a segment or two, so what each holds is
    made when needed: the TLS session's per-direction readers when that direction carries bytes, a
    reassembler's list of waiting segments when one waits; `endpoints` and `reassembly` are tuples indexed
    by side rather than dicts."""

    stream: int
    endpoints: Endpoints
    tunnel: tuple[str, ...]
    first_frame: int
    first_time_ns: int
    last_frame: int = 0
    last_time_ns: int = 0
    syn_side: Side | None = None
    reassembly: tuple[DirectionReassembler, DirectionReassembler] = field(
        default_factory=lambda: (DirectionReassembler(), DirectionReassembler())
    )
    session: TlsSession = field(default_factory=TlsSession)
    ends: list[TcpEnd] = field(default_factory=list)
    frame_times_ns: dict[int, int] = field(default_factory=dict)
    carrier_times_ns: dict[int, int] = field(default_factory=dict)
    given_up: bool = False
    socks_port: bool = False
    socks_counted: bool = False
    openvpn: dict[Side, OpenVpnReader] | None = None
    # Reset, or both sides sent FIN: nothing more of this connection can be read.
    closed: bool = False
    _fin_sides: int = 0  # bit 1: side FIRST sent FIN, bit 2: side SECOND (a set would cost 216 bytes)

    def on_segment(self, seg: Segment, side: Side) -> None:
        frame = seg.frame
        self.last_frame = frame
        self.last_time_ns = seg.timestamp_ns
        flags = seg.flags
        if self.given_up:
            return
        payload = seg.payload
        if not flags & (SYN | FIN | RST) and not seg.payload_missing:
            if not payload:
                return  # a bare acknowledgement: nothing more to do (the common case)
            if self._skip_in_order(side, seg.seq, len(payload), frame, seg.timestamp_ns):
                return  # bulk data (the next most common case)
        if flags & SYN and not flags & ACK and self.syn_side is None:
            self.syn_side = side
        if len(self.carrier_times_ns) < limits.MAX_CARRIER_TIMES and (seg.payload or seg.payload_missing):
            self.carrier_times_ns[frame] = seg.timestamp_ns
        deliveries = self.reassembly[side].push(
            seg.seq, seg.payload, seg.payload_missing, frame, syn=bool(flags & SYN), fin=bool(flags & FIN)
        )
        if deliveries:
            self._deliver(side, deliveries, frame)
        if flags & (FIN | RST):
            if len(self.ends) < limits.MAX_TCP_ENDS_PER_CONNECTION:
                self.ends.append(TcpEnd(frame, side, "RST" if flags & RST else "FIN"))
                self.frame_times_ns[frame] = seg.timestamp_ns
            if flags & RST:
                self.closed = True
            else:
                self._fin_sides |= 1 if side is Side.FIRST else 2
                self.closed = self._fin_sides == 3
        if not self.session.tls_seen:
            self._maybe_give_up()

    def on_bulk(self, side: Side, frame: int, time_ns: int, seq: int, ack: int, length: int) -> bool:
        """`on_segment` for a plain segment (ACK set; no SYN, FIN or RST; nothing cut) that is a bare
        acknowledgement or, in order, only continues an application-data record being skipped: the same
        changes, without building a Segment (bulk data and its ACKs are most of a capture). Returns False,
        having changed nothing, for any other segment."""
        if self.given_up or self.reassembly[side.other].pending:
            return False
        if length and not self._skip_in_order(side, seq, length, frame, time_ns):
            return False
        self.last_frame = frame
        self.last_time_ns = time_ns
        return True

    def _skip_in_order(self, side: Side, seq: int, length: int, frame: int, time_ns: int) -> bool:
        """Take `length` payload bytes at `seq` when they come in order and only continue an
        application-data record being skipped: the same layers' short path, with nothing to deliver.
        False, having changed nothing, for any other bytes."""
        if self.openvpn is not None or not self.session.tls_seen:
            return False
        own = self.reassembly[side]
        if not own.is_next(seq) or not self.session.skip_application_data(side, length, frame):
            return False
        own.advance(length)
        if len(self.carrier_times_ns) < limits.MAX_CARRIER_TIMES:
            self.carrier_times_ns[frame] = time_ns
        return True

    def finish(self) -> None:
        for side in (Side.FIRST, Side.SECOND):
            late = self.reassembly[side].flush(self.last_frame)
            self._deliver(side, late, max((d.frame for d in late), default=self.last_frame))

    def _deliver(self, side: Side, deliveries: list[Delivery], now_frame: int) -> None:
        """Feed the deliveries to the session. `now_frame` is the frame that made them possible: a record
        completed by filling a hole is credited to it (as Wireshark credits a reassembled PDU). After a
        hole given up, nothing completed the bytes behind it but their own frames."""
        session = self.session
        given_up = False
        for d in deliveries:
            if isinstance(d, Chunk):
                if given_up:
                    now_frame = d.frame
                if self.openvpn is None and not session.tls_seen and looks_like_openvpn_tcp(d.data):
                    channel = OpenVpnChannel()
                    self.openvpn = {Side.FIRST: OpenVpnReader(channel), Side.SECOND: OpenVpnReader(channel)}
                if self.openvpn is not None:
                    for data, carrier in self.openvpn[side].feed(d.data, d.frame):
                        session.feed(side, data, carrier, now_frame)
                else:
                    session.feed(side, d.data, d.frame, now_frame)
            else:
                session.gap(side, d.length, d.frame, truncated=d.truncated)
                given_up = given_up or not d.truncated
        self.note_event_times()

    def note_event_times(self) -> None:
        """The new events' frames get their capture time (a payload frame's, kept on arrival), else the time
        of the segment being read."""
        for frame in self.session.take_new_event_frames():
            self.frame_times_ns.setdefault(frame, self.carrier_times_ns.get(frame, self.last_time_ns))

    def _maybe_give_up(self) -> None:
        s = self.session
        skipped = sum(d.records.plaintext_bytes_skipped for d in s.directions.values())
        if skipped > limits.MAX_PLAINTEXT_BEFORE_TLS:  # taken for a non-TLS protocol
            self.given_up = True
