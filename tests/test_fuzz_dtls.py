"""Fuzzing the DTLS layer: random datagrams and fragments never raise and never hang, and memory stays
within the reassembly limits. (The mutation fuzzer, tests/fuzz_mutate.py, also takes samples/dtls and the
corpus's DTLS captures as seeds.)"""

from __future__ import annotations

import adversarial as A
import dtls_pieces as D
from hypothesis import given, settings
from hypothesis import strategies as st

from tlscap import limits
from tlscap.dtls.reassembly import HandshakeReassembler
from tlscap.dtls.records import split_datagram, starts_dtls
from tlscap.dtls.session import DtlsSession
from tlscap.side import Side
from tlscap.tls.keylog import parse_keylog

SEEDS = [
    D.record(22, D.fragments(D.client_hello(cid=b"\x01\x02"), 0)[0]),
    D.record(22, D.fragments(D.hello_verify_request(), 0)[0], version=0xFEFF),
    b"".join(D.record(22, f) for f in D.fragments(A.certificate([b"\x30" * 700]), 2, 250)),
    D.record(20, b"\x01") + D.record(22, b"\x5a" * 40, epoch=1),
    D.record(21, b"\x02\x2a"),
    bytes([0b00111110]) + b"\xaa" * 4 + A.u16(7) + A.u16(5) + b"\x99" * 5,  # DTLS 1.3 unified header
    b"\x01\x00\x00\x00" + D.record(22, D.fragments(D.client_hello(), 0)[0]),  # CAPWAP
    D.record(25, b"\xcc" * 4 + A.u16(3) + b"abc")[:11] + b"\xcc" * 4 + A.u16(3) + b"abc",  # tls12_cid
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SEEDS), st.binary(max_size=8), st.integers(0, 300),
                          st.integers(0, 255), st.sampled_from(Side)), max_size=12))
def test_session_with_mutated_datagrams(datagrams):
    session = DtlsSession()
    for frame, (seed, junk, at, value, side) in enumerate(datagrams, 1):
        data = bytearray(seed)
        if data:
            data[at % len(data)] = value
        payload = bytes(data) + junk
        starts_dtls(payload)
        split_datagram(payload, cid_length=at % 40 if value & 1 else None)
        session.feed_datagram(side, payload, frame)
    session.finish()
    assert len(session.events) <= limits.MAX_EVENTS_PER_CONNECTION


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 5000), st.integers(0, 40), st.integers(0, 5000),
                          st.binary(max_size=600)), max_size=40))
def test_reassembler_with_random_fragments(fragments):
    r = HandshakeReassembler()
    for frame, (msg_type, length, seq, offset, body) in enumerate(fragments, 1):
        header = bytes([msg_type]) + A.u24(length) + A.u16(seq) + A.u24(offset) + A.u24(len(body))
        r.feed(header + body, frame)
        assert r._held <= limits.MAX_DTLS_PENDING_BYTES
        assert len(r._pending) <= limits.MAX_DTLS_PENDING_MESSAGES
    r.finish()


# A key log for the hellos below (client random 0x11...): DTLS 1.2's master secret and DTLS 1.3's traffic secrets.
_TLS13_LABELS = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                 "SERVER_TRAFFIC_SECRET_0")
_KEYLOG = "\n".join([f"CLIENT_RANDOM {'11' * 32} {'ab' * 48}"]
                    + [f"{label} {'11' * 32} {'cd' * 32}" for label in _TLS13_LABELS])
_DTLS13_SERVER_HELLO = A.handshake(2, A.u16(0xFEFD) + b"\x22" * 32 + A.vec8(b"") + A.u16(0x1301) + b"\x00"
                                   + A.vec16(A.u16(43) + A.vec16(A.u16(0xFEFC))))
_PROTECTED_SEEDS = [
    D.record(22, b"\x5a" * 40, epoch=1, sequence=3),
    D.record(21, b"\x5a" * 26, epoch=1),
    D.record(23, b"\x5a" * 17, epoch=1, sequence=9),
    bytes([0b00101110]) + b"\x12\x34" + A.u16(20) + b"\x77" * 20,  # unified header, epoch 2, 16-bit sequence
    bytes([0b00100011]) + b"\x01" + b"\x77" * 18,  # epoch 3, 8-bit sequence, no length
    bytes([0b00111110]) + b"\xaa" * 4 + A.u16(7) + A.u16(5) + b"\x99" * 5,  # a connection ID, too short to open
]


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(st.tuples(st.sampled_from(_PROTECTED_SEEDS), st.integers(0, 300), st.integers(0, 255),
                                         st.sampled_from(Side)), max_size=10))
def test_keyed_session_with_mutated_protected_records(dtls13, records):
    """With a key log that matches the hellos, every protected record is tried with the keys: mutated ones
    fail their tag (a key problem, kept once), none raises."""
    session = DtlsSession(parse_keylog(_KEYLOG))
    session.feed_datagram(Side.FIRST, D.record(22, D.fragments(D.client_hello(), 0)[0]), 1)
    hello = _DTLS13_SERVER_HELLO if dtls13 else D.server_hello()
    session.feed_datagram(Side.SECOND, D.record(22, D.fragments(hello, 0)[0]), 2)
    assert session.protection is not None
    for frame, (seed, at, value, side) in enumerate(records, 3):
        data = bytearray(seed)
        data[at % len(data)] = value
        session.feed_datagram(side, bytes(data), frame)
    session.finish()
    assert not session.decrypted
