"""Record protection of one DTLS connection given a key log: which decryptor opens each (side, epoch).

DTLS keys are tied to epochs, not to where a ChangeCipherSpec or a Finished falls in a stream, so every
record names its own keys and records open in any order, lost and resent ones included. The decryptors
are TLS's (`tls.decrypt`, one definition of each cipher suite and key derivation); only the DTLS parts
are here:

- DTLS 1.0/1.2 (RFC 6347 §4.1.2.1): the CLIENT_RANDOM master secret gives the TLS 1.1/1.2 key block,
  in force from epoch 1; each record's epoch << 48 | sequence number is its MAC / AEAD sequence number.
- DTLS 1.3 (RFC 9147): the handshake traffic secrets protect epoch 2, the first application secrets
  epoch 3 (§6.1). A unified header carries the epoch's two low bits and the sequence number's low 8 or
  16 bits, masked (§4.2.3): unmasked with the mask of the record's first 16 ciphertext bytes, the full
  number is the one nearest the next expected in that epoch (§4.2.2), and the header so unmasked is the
  AEAD's additional data (§4).

Not opened (left opaque, as without keys): DTLS 1.2 renegotiations (epoch 2 and later), DTLS 1.3 early
data (epoch 1) and epochs after a KeyUpdate (4 and later), and RFC 9146 connection-ID records of DTLS
1.2 (type 25, whose MAC input differs): no capture to test them against.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tlscap.dtls.records import DtlsRecord
from tlscap.errors import TlscapError
from tlscap.side import Side
from tlscap.tls import constants as C
from tlscap.tls.decrypt import DecryptError, Tls12Decryptor, Tls13Decryptor, tls12_decryptors
from tlscap.tls.keylog import (
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_RANDOM,
    CLIENT_TRAFFIC_SECRET_0,
    SERVER_HANDSHAKE_TRAFFIC_SECRET,
    SERVER_TRAFFIC_SECRET_0,
    KeyLog,
)
from tlscap.tls.keyschedule import tls13_suite
from tlscap.tls.protection import EXTENSION_ENCRYPT_THEN_MAC

DTLS12_EPOCH = 1  # the epoch after the first ChangeCipherSpec
DTLS13_HANDSHAKE_EPOCH = 2
DTLS13_APPLICATION_EPOCH = 3
DTLS13_RECORD_VERSION = 0xFEFD  # RFC 9147 §4: legacy_record_version after the ClientHello
_SEQUENCE_SIZES = (1, 2)  # bytes of a unified header's sequence number (S bit clear / set)


@dataclass(slots=True)
class DtlsProtection:
    """The decryptors of one DTLS connection by (side, epoch); sides are the transport's (`Side`)."""

    dtls13: bool
    cipher_suite: int
    decryptors: dict[tuple[Side, int], Tls12Decryptor | Tls13Decryptor] = field(default_factory=dict)
    next_sequence: dict[tuple[Side, int], int] = field(default_factory=dict)  # DTLS 1.3: per (side, epoch)
    records_opened: int = 0

    def open(self, side: Side, record: DtlsRecord) -> DtlsRecord | None:
        """The record decrypted (its plaintext type and fragment, `decrypted` set), or None when no key
        here opens its epoch. Raises DecryptError when the key for its epoch does not open it."""
        if record.unified:
            return self._open_unified(side, record)
        decryptor = self.decryptors.get((side, record.epoch))
        if not isinstance(decryptor, Tls12Decryptor) or record.content_type == C.ContentType.TLS12_CID:
            return None
        assert record.content_type is not None and record.version is not None
        sequence = record.epoch << 48 | record.sequence
        plain = decryptor.decrypt(record.content_type, record.version, record.fragment, sequence=sequence)
        self.records_opened += 1
        return replace(record, length=len(plain), fragment=plain, decrypted=True)

    def _open_unified(self, side: Side, record: DtlsRecord) -> DtlsRecord | None:
        epoch = _full_epoch(record.epoch)
        decryptor = self.decryptors.get((side, epoch)) if epoch is not None else None
        if not isinstance(decryptor, Tls13Decryptor) or epoch is None:
            return None
        header = record.header
        size = _SEQUENCE_SIZES[(header[0] >> 3) & 1]
        at = len(header) - size - (2 if header[0] & 0x04 else 0)  # the sequence number ends the header
        mask = decryptor.record_number_mask(record.fragment[:16])
        low = int.from_bytes(header[at : at + size], "big") ^ int.from_bytes(mask[:size], "big")
        expected = self.next_sequence.get((side, epoch), 0)
        sequence = nearest(expected, low, 8 * size)
        aad = header[:at] + low.to_bytes(size, "big") + header[at + size :]
        inner = decryptor.decrypt(aad, record.fragment, sequence=sequence)
        self.next_sequence[(side, epoch)] = max(expected, sequence + 1)
        self.records_opened += 1
        return replace(record, content_type=inner.content_type, version=DTLS13_RECORD_VERSION, epoch=epoch,
                       sequence=sequence, length=len(inner.data), fragment=inner.data, decrypted=True)


def _full_epoch(low_bits: int) -> int | None:
    """The epoch of a unified header's two low bits, among those keys are derived for (2 and 3)."""
    return low_bits if low_bits in (DTLS13_HANDSHAKE_EPOCH, DTLS13_APPLICATION_EPOCH) else None


def nearest(expected: int, low: int, bits: int) -> int:
    """The sequence number whose low `bits` bits are `low` and that is nearest to `expected` (RFC 9147
    §4.2.2, as QUIC decodes packet numbers, RFC 9000 Appendix A.3)."""
    window = 1 << bits
    candidate = (expected & ~(window - 1)) | low
    if candidate + window // 2 <= expected:
        candidate += window
    elif candidate > expected + window // 2 and candidate >= window:
        candidate -= window
    return candidate


def find_protection(
    keylog: KeyLog | None,
    *,
    client_random: bytes | None,
    server_random: bytes,
    client_side: Side,
    version: int,
    cipher_suite: int,
    server_extensions: list[int],
) -> tuple[DtlsProtection | None, str | None]:
    """The protection of a DTLS connection from its hellos; (None, why not) when the key log has secrets
    for its ClientHello random that cannot open it; (None, None) when it has none (or there is no key log)."""
    if keylog is None or not len(keylog) or client_random is None:
        return None, None
    secrets = keylog.for_random(client_random)
    if not secrets:
        return None, None
    try:
        if C.is_tls13(version):
            return _dtls13(secrets, client_side, cipher_suite)
        return _dtls12(secrets, client_random, server_random, client_side, version, cipher_suite,
                       EXTENSION_ENCRYPT_THEN_MAC in server_extensions)
    except TlscapError as exc:
        return None, str(exc)


def _dtls12(
    secrets: dict[str, bytes],
    client_random: bytes,
    server_random: bytes,
    client_side: Side,
    version: int,
    cipher_suite: int,
    encrypt_then_mac: bool,
) -> tuple[DtlsProtection | None, str | None]:
    master = secrets.get(CLIENT_RANDOM)
    if master is None:
        return None, "the key log has no CLIENT_RANDOM (master secret) line for this connection"
    pair = tls12_decryptors(master, client_random, server_random, cipher_suite, version, encrypt_then_mac)
    if pair is None:
        return None, f"cipher suite 0x{cipher_suite:04x} with version 0x{version:04x} cannot be decrypted"
    protection = DtlsProtection(dtls13=False, cipher_suite=cipher_suite)
    protection.decryptors[(client_side, DTLS12_EPOCH)] = pair[0]
    protection.decryptors[(client_side.other, DTLS12_EPOCH)] = pair[1]
    return protection, None


def _dtls13(
    secrets: dict[str, bytes], client_side: Side, cipher_suite: int
) -> tuple[DtlsProtection | None, str | None]:
    if tls13_suite(cipher_suite) is None:
        return None, f"cipher suite 0x{cipher_suite:04x} cannot be decrypted"
    needed = (CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET)
    missing = [label for label in needed if label not in secrets]
    if missing:
        return None, f"the key log lacks {' and '.join(missing)} for this connection"
    protection = DtlsProtection(dtls13=True, cipher_suite=cipher_suite)
    for side, handshake, application in ((client_side, CLIENT_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0),
                                         (client_side.other, SERVER_HANDSHAKE_TRAFFIC_SECRET, SERVER_TRAFFIC_SECRET_0)):
        protection.decryptors[(side, DTLS13_HANDSHAKE_EPOCH)] = Tls13Decryptor(
            cipher_suite, secrets[handshake], dtls=True)
        if application in secrets:
            protection.decryptors[(side, DTLS13_APPLICATION_EPOCH)] = Tls13Decryptor(
                cipher_suite, secrets[application], dtls=True)
    return protection, None


__all__ = ["DecryptError", "DtlsProtection", "find_protection", "nearest"]
