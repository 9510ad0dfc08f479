"""What TLS 1.3 records say by their sizes alone, when there are no keys to read them.

After the ServerHello everything is encrypted, but each record's length, order and direction still
show. The negotiated suite (in the plaintext ServerHello) fixes the AEAD tag (16 bytes; 8 for CCM_8)
and the hash (32 or 48 bytes), so some records have a size known in advance (RFC 8446 §4.4, §5.2,
§6):

- Finished: 4-byte header + hash + 1 content-type byte + tag (SHA-384, 16-byte tag: 69 bytes);
- an empty client Certificate: 4-byte header + 1-byte context length (0) + 3-byte list length (0) +
  1 + tag = 25 bytes; coalesced with the Finished in one record, 4 + 4 + 4 + hash + 1 + tag;
- an alert: 2 bytes + 1 + tag = 19 bytes.

The client's flight follows the server's Finished: Finished alone (no CertificateRequest: a server that
asks must be answered with a Certificate, empty or not), an empty Certificate then Finished, or a
Certificate, a CertificateVerify and a Finished (one record each, or coalesced). Then the server either
refuses -- an alert-sized record right after the client's flight, no ticket, and the close -- or goes
on with tickets and application data.

`infer_tls13` is sans-IO: it takes the records (frame, direction, length) and the TCP ends, and returns
what they most likely carried, with the basis for every answer. A size that fits no pattern (padding,
an unknown extension) makes the answer None ("cannot tell"), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# TLS 1.3 suites whose hash is SHA-384, and whose AEAD tag is 8 bytes (RFC 8446 §B.4, RFC 9150).
SHA384_SUITES = frozenset({0x1302})
SHORT_TAG_SUITES = frozenset({0x1305})
# The smallest and largest CertificateVerify record: a 64-byte Ed25519 signature up to a 1,024-byte
# RSA-8192 one, with the 4-byte header, 2-byte scheme and 2-byte length.
_MIN_SIGNATURE, _MAX_SIGNATURE = 64, 1024
_SIGNATURE_OVERHEAD = 4 + 2 + 2
# The smallest Certificate message that carries a certificate: headers, lengths and a ~100-byte DER.
_MIN_CERTIFICATE_MESSAGE = 4 + 1 + 3 + 3 + 100 + 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SizedRecord:
    """One encrypted record: the frame that completed it, its direction, its TLSCiphertext.length."""

    frame: int
    from_client: bool
    length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEnd:
    """A FIN or RST of the connection."""

    frame: int
    from_client: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """The lengths the negotiated suite gives the records of known size."""

    tag: int
    hash: int

    @property
    def finished(self) -> int:
        return 4 + self.hash + 1 + self.tag

    @property
    def empty_certificate(self) -> int:
        return 4 + 4 + 1 + self.tag

    @property
    def empty_certificate_and_finished(self) -> int:
        return 4 + 4 + 4 + self.hash + 1 + self.tag

    @property
    def alert(self) -> int:
        return 2 + 1 + self.tag

    def signature_record(self, length: int) -> bool:
        """Whether a record's length fits a CertificateVerify alone."""
        body = length - 1 - self.tag - _SIGNATURE_OVERHEAD
        return _MIN_SIGNATURE <= body <= _MAX_SIGNATURE


def sizes_for(suite: int | None) -> Sizes | None:
    """The sizes for a TLS 1.3 suite (0x13xx); None for any other."""
    if suite is None or suite >> 8 != 0x13:
        return None
    return Sizes(tag=8 if suite in SHORT_TAG_SUITES else 16, hash=48 if suite in SHA384_SUITES else 32)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """What one record most likely carried (`carries`, in words), and why (`basis`). `alert`: it is an alert
    record (listed among the alerts, not among the handshake's records)."""

    frame: int
    from_client: bool
    length: int
    carries: str
    basis: str
    alert: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Tls13Inference:
    """The answers to three questions, each None when the sizes cannot tell.

    `certificate_requested`: did the server ask for a client certificate; `client_certificate`: "chain"
    (non-empty), "empty" or "none" (no Certificate message: not asked); `server_rejected`: did the server
    refuse the client, by an alert right after the client's flight (`rejected_by` "alert"), or by ending
    the connection first once it had answered the client's first data (`rejected_by` "close": nginx
    completes the handshake, answers 400 and closes). `certain` is true when the first two answers rest
    on records of exactly the size the suite gives (an empty Certificate, a Finished); `server_rejected`
    is never more than likely. `alerts` are the frames of alert-sized records, with their direction.
    """

    certificate_requested: bool | None = None
    client_certificate: str | None = None
    client_certificate_bytes: int | None = None
    server_rejected: bool | None = None
    rejected_by: str | None = None
    certain: bool = False
    client_flight_frames: tuple[int, ...] = ()
    rejection_frame: int | None = None
    readings: tuple[Reading, ...] = ()
    alerts: tuple[tuple[int, bool], ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def answered(self) -> bool:
        return self.client_certificate is not None


def infer_tls13(records: Sequence[SizedRecord], ends: Sequence[StreamEnd], suite: int | None, *,
                client_keeps_open: bool = False) -> Tls13Inference:
    """Read the handshake's shape from the encrypted records of a TLS 1.3 connection (see the module).

    `client_keeps_open`: the client speaks a protocol whose connections outlive an answer (it offered
    ALPN http/1.1 or h2), so a server that closes first once it has answered refused the client. Without
    it, such a close tells nothing (an HTTP/1.0 server closes after every answer)."""
    sizes = sizes_for(suite)
    if sizes is None:
        return Tls13Inference(notes=("not a TLS 1.3 suite: record sizes are not read",))
    alerts = tuple((r.frame, r.from_client) for r in records if r.length == sizes.alert)
    first_client = next((i for i, r in enumerate(records) if r.from_client), None)
    if first_client is None:
        return Tls13Inference(alerts=alerts, notes=("the client sent no encrypted record",))
    if not any(not r.from_client for r in records[:first_client]):
        return Tls13Inference(alerts=alerts, notes=("no encrypted server flight before the client's records "
                                                    "(early data, or a capture that misses the server's flight)",))
    client = [r for r in records[first_client:] if r.from_client]
    pad = 0
    flight = _client_flight(client, sizes, pad)
    for pad in _paddings(client, sizes) if flight is None else ():
        flight = _client_flight(client, sizes, pad)
        if flight is not None:
            break
    if flight is None:
        first = ", ".join(str(r.length) for r in client[:3])
        return Tls13Inference(alerts=alerts, notes=(f"the client's first records ({first} bytes) fit no flight this "
                                                    "suite allows (padding?)",))
    kind, used, certain, readings, cert_bytes = flight
    certain = certain and not pad  # padded records fit, but only as likely
    last = used[-1]
    verdict = _server_answer(records, ends, last, sizes, client_keeps_open)
    rejected, rejected_by, rejection_frame, answer_readings = verdict
    return Tls13Inference(
        certificate_requested=kind != "none", client_certificate=kind, client_certificate_bytes=cert_bytes,
        server_rejected=rejected, rejected_by=rejected_by, certain=certain,
        client_flight_frames=tuple(sorted({r.frame for r in used})),
        rejection_frame=rejection_frame, readings=(*readings, *answer_readings), alerts=alerts,
    )


_Flight = tuple[str, list[SizedRecord], bool, list[Reading], int | None]


def _paddings(client: list[SizedRecord], sizes: Sizes) -> list[int]:
    """Record padding (RFC 8446 §5.4) the client may add to every record, read off a record that would be a
    Finished: Java's JSSE adds 16 bytes to each. At most 255 bytes, so a large record is not taken for one."""
    return sorted({r.length - sizes.finished for r in client[1:3] if 0 < r.length - sizes.finished <= 255})


def _client_flight(client: list[SizedRecord], sizes: Sizes, pad: int) -> _Flight | None:
    """The client's flight after the server's Finished: which records, what kind, how sure. With `pad`, every
    record is taken to carry that many bytes of padding: the sizes then fit only as likely, never certain."""
    c = [r.length - pad for r in client[:3]]
    fin, empty = sizes.finished, sizes.empty_certificate
    padded = f" once the {pad} bytes of padding every client record carries are taken off" if pad else ""

    def read(record: SizedRecord, carries: str, basis: str) -> Reading:
        return Reading(frame=record.frame, from_client=True, length=record.length, carries=carries,
                       basis=basis + padded)

    if c[0] == fin:
        return ("none", client[:1], False,
                [read(client[0], "Finished", f"{fin} bytes: a Finished alone (4 + {sizes.hash} + 1 + {sizes.tag}); "
                                             "a server that asks for a certificate must get a Certificate first")],
                None)
    if c[0] == empty and len(c) > 1 and c[1] == fin:
        return ("empty", client[:2], True,
                [read(client[0], "Certificate (empty)",
                      f"{empty} bytes: an empty Certificate (4 + 4 + 1 + {sizes.tag})"),
                 read(client[1], "Finished", f"{fin} bytes: a Finished (4 + {sizes.hash} + 1 + {sizes.tag})")], 0)
    if c[0] == sizes.empty_certificate_and_finished:
        return ("empty", client[:1], True,
                [read(client[0], "Certificate (empty), Finished",
                      f"{c[0]} bytes: an empty Certificate and a Finished in one record")], 0)
    if c[0] - 1 - sizes.tag < _MIN_CERTIFICATE_MESSAGE:
        return None  # between an empty Certificate and the smallest real one: padding, or no flight known
    cert_bytes = c[0] - 1 - sizes.tag - 4
    if len(c) > 2 and c[2] == fin and sizes.signature_record(c[1]):
        return ("chain", client[:3], True,
                [read(client[0], f"Certificate (~{cert_bytes} bytes)", f"{c[0]} bytes: larger than an empty "
                                                                       f"Certificate ({empty})"),
                 read(client[1], "CertificateVerify", f"{c[1]} bytes: a signature's size"),
                 read(client[2], "Finished", f"{fin} bytes: a Finished (4 + {sizes.hash} + 1 + {sizes.tag})")],
                cert_bytes)
    if len(c) > 1 and c[1] == fin and c[0] - 1 - sizes.tag >= _MIN_CERTIFICATE_MESSAGE + _SIGNATURE_OVERHEAD + \
            _MIN_SIGNATURE:
        return ("chain", client[:2], False,
                [read(client[0], "Certificate, CertificateVerify", f"{c[0]} bytes before a Finished: a certificate "
                                                                   "and its signature in one record"),
                 read(client[1], "Finished", f"{fin} bytes: a Finished")], None)
    return None


_Answer = tuple[bool | None, str | None, int | None, list[Reading]]


def _server_answer(records: Sequence[SizedRecord], ends: Sequence[StreamEnd], last: SizedRecord,
                   sizes: Sizes, client_keeps_open: bool) -> _Answer:
    """After the client's flight: an alert-sized record and the close, without a ticket (refused); or
    other records from the server, then either the client ends the connection first (went on) or the
    server does once it has answered the client's data (refused at the application's level)."""
    index = next(i for i, r in enumerate(records) if r is last)
    later = records[index + 1:]  # in the order the records came, also inside one frame
    after = [r for r in later if not r.from_client]
    server_end = next((e for e in ends if not e.from_client and e.frame >= last.frame), None)
    if not after:
        if server_end is not None:
            return True, "close", server_end.frame, []
        return None, None, None, []
    first = after[0]
    if first.length == sizes.alert and all(r.length == sizes.alert for r in after[1:]):
        reading = Reading(frame=first.frame, from_client=False, length=first.length, carries="Alert", alert=True,
                          basis=f"{first.length} bytes right after the client's flight, no ticket before it: an "
                                f"alert (2 + 1 + {sizes.tag}), then the server "
                                + ("closed" if server_end is not None else "sent nothing more"))
        return True, "alert", first.frame, [reading]
    went_on = Reading(frame=first.frame, from_client=False, length=first.length,
                      carries="NewSessionTicket or application data",
                      basis=f"{first.length} bytes after the client's flight: the server went on")
    closer = _first_to_close(later, ends, last, sizes)
    client_data = [r for r in later if r.from_client]
    if closer is not None and not closer[1] and client_data and closer[0] >= client_data[0].frame:
        if not client_keeps_open:
            return None, None, None, [went_on]  # an answer then the close: a refusal or an HTTP/1.0 answer
        frame = closer[0]
        ended = Reading(frame=frame, from_client=False, length=0, carries="close",
                        basis="the server ended the connection first, right after answering the client's first "
                              "data, though the client offered a protocol that keeps connections open (ALPN "
                              "http/1.1 or h2): it most likely refused the request (nginx answers 400 and closes)")
        return True, "close", frame, [went_on, ended]
    if closer is not None and closer[1] and any(not r.from_client and r.length == sizes.alert and r.frame >= closer[0]
                                                for r in later):
        # The client closed first and the server answered with its own close_notify: nginx does so after a
        # 400 it was about to close on as well as after an answer the client was done with.
        return None, None, None, [went_on]
    return False, None, None, [went_on]


def _first_to_close(later: Sequence[SizedRecord], ends: Sequence[StreamEnd], last: SizedRecord,
                    sizes: Sizes) -> tuple[int, bool] | None:
    """(frame, from_client) of the first close_notify-sized record or FIN/RST after the client's flight."""
    marks = [(r.frame, r.from_client) for r in later if r.length == sizes.alert]
    marks += [(e.frame, e.from_client) for e in ends if e.frame > last.frame]
    return min(marks) if marks else None
