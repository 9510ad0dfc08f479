"""Sans-IO record decryptors, one per direction of a connection, for captures with a key log.

- `Tls13Decryptor` opens TLSCiphertext records (RFC 8446 §5.2-5.4): AEAD with the record header as
  additional data and the per-record nonce iv XOR sequence number, then strips the zero padding
  and reads the inner content type. `update_key()` follows a KeyUpdate (§4.6.3, §7.2).
- `Tls12Decryptor` opens SSL 3.0 - TLS 1.2 records (RFC 5246 §6.2.3, RFC 4346, RFC 2246, RFC 6101):
  AEAD (GCM and CCM with an 8-byte explicit nonce, RFC 5288 / RFC 6655; ChaCha20-Poly1305 with iv
  XOR sequence number, RFC 7905), CBC either MAC-then-encrypt or encrypt-then-MAC (RFC 7366) with
  the IV explicit per record (TLS 1.1+) or chained from the previous record (SSL 3.0, TLS 1.0),
  and stream suites (RC4, NULL). SSL 3.0 has its own MAC and padding rules.

Each decryptor keeps its record sequence number and advances it only when a record opens, so a
failed attempt (a record protected under another key) leaves it as it was. Every failure is a
`DecryptError` with a one-line reason; nothing else escapes `decrypt`.

DTLS uses the same decryptors: the caller passes each record's sequence number (`sequence=`), since
records come out of order and may be lost. DTLS 1.0/1.2 (RFC 6347 §4.1.2.1): epoch << 48 | sequence
from the record header, in the MAC or AEAD additional data and in ChaCha20's nonce; otherwise as TLS
1.1/1.2 (`tls12_decryptors` takes the DTLS version). DTLS 1.3 (RFC 9147 §4): `Tls13Decryptor(dtls=True)`
derives with "dtls13" labels, takes the unified header (record number unmasked) as additional data, and
gives the record-number mask (`record_number_mask`, §4.2.3).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, IDEA, RC2, SEED, Camellia, TripleDES
from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from tlscap import limits
from tlscap.errors import TlscapError
from tlscap.tls.keyschedule import (
    HASH_LENGTHS,
    SuiteParams,
    UnsupportedCipherSuite,
    hash_digest,
    hmac_digest,
    key_block,
    next_traffic_secret,
    tls12_suite_params,
    tls13_suite,
    traffic_keys,
)

BAD_MAC = "bad record MAC / tag: wrong key or not this connection"
# RFC 8446 §5.2: TLSCiphertext.length <= 2^14 + 256 (TLS <= 1.2's 2^14 + 2048 is limits.MAX_RECORD_LENGTH).
MAX_TLS13_CIPHERTEXT = (1 << 14) + 256
_SEQUENCE_LIMIT = 1 << 64


class DecryptError(TlscapError):
    """A record could not be decrypted; the message (one line) says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InnerPlaintext:
    """A decrypted TLS 1.3 record: the real content type and the content without padding."""

    content_type: int
    data: bytes


_Aead = AESGCM | AESCCM | ChaCha20Poly1305


def _xor_nonce(iv: bytes, sequence: int) -> bytes:
    """Per-record nonce (RFC 8446 §5.3, RFC 7905 §2): the sequence number, left-padded to the IV
    length, XOR the IV."""
    padded = sequence.to_bytes(len(iv), "big")
    return bytes(a ^ b for a, b in zip(iv, padded, strict=True))


def _open(aead: _Aead, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    try:
        return aead.decrypt(nonce, data, aad)
    except InvalidTag:
        raise DecryptError(BAD_MAC) from None
    except (ValueError, OverflowError) as exc:  # lengths the primitive refuses
        raise DecryptError(f"record cannot be decrypted: {exc}") from None


# --------------------------------------------------------------------------------------------
# TLS 1.3


def _aead(mode: str, key: bytes, tag_length: int) -> _Aead:
    """The AEAD of a suite's mode: "gcm", "chacha20-poly1305" or "ccm" (TLS 1.3 suites say "aes-gcm",
    "aes-ccm"; TLS 1.2 ones "gcm", "ccm")."""
    mode = mode.removeprefix("aes-")
    if mode == "gcm":
        return AESGCM(key)
    if mode == "chacha20-poly1305":
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=tag_length)


class Tls13Decryptor:
    """Opens one direction's TLS 1.3 records under one traffic secret (handshake or application); with
    `dtls`, DTLS 1.3 records of one epoch.

    Raises UnsupportedCipherSuite for a code that is not a TLS 1.3 suite, and DecryptError when the
    secret's length does not fit the suite's hash (a key log line for another connection)."""

    def __init__(self, cipher_suite: int, traffic_secret: bytes, *, dtls: bool = False) -> None:
        suite = tls13_suite(cipher_suite)
        if suite is None:
            raise UnsupportedCipherSuite(cipher_suite, "not a TLS 1.3 cipher suite")
        expected = HASH_LENGTHS[suite.hash_name]
        if len(traffic_secret) != expected:
            raise DecryptError(f"traffic secret is {len(traffic_secret)} bytes, the suite's hash needs {expected}")
        self.cipher_suite = cipher_suite
        self.dtls = dtls
        self._suite = suite
        self._set_secret(traffic_secret)

    def _set_secret(self, secret: bytes) -> None:
        keys = traffic_keys(secret, self.cipher_suite, dtls=self.dtls)
        self._sn_key = keys.sn_key
        self._secret = secret
        self._iv = keys.iv
        self._aead = _aead(self._suite.aead, keys.key, self._suite.tag_length)
        self._sequence = 0

    @property
    def traffic_secret(self) -> bytes:
        """The traffic secret in use (it changes with each KeyUpdate)."""
        return self._secret

    @property
    def sequence_number(self) -> int:
        """Sequence number the next record will be opened with."""
        return self._sequence

    def decrypt(self, record_header5: bytes, ciphertext: bytes, *, sequence: int | None = None) -> InnerPlaintext:
        """Open one record: `record_header5` is its 5-byte header as captured (the additional data),
        `ciphertext` its body (encrypted content and tag). Raises DecryptError.

        DTLS 1.3: `record_header5` is the whole unified header with the record number unmasked
        (RFC 9147 §4), and `sequence` the record's full 64-bit sequence number; the count of records
        opened is then neither used nor moved."""
        if sequence is None and len(record_header5) != 5:
            raise DecryptError(f"record header is {len(record_header5)} bytes, not 5")
        if len(ciphertext) > MAX_TLS13_CIPHERTEXT:
            raise DecryptError(f"record of {len(ciphertext)} bytes is longer than TLS 1.3 allows")
        if len(ciphertext) <= self._suite.tag_length:
            raise DecryptError(f"record of {len(ciphertext)} bytes is too short for its AEAD tag")
        number = self._sequence if sequence is None else sequence
        if not 0 <= number < _SEQUENCE_LIMIT:
            raise DecryptError("record sequence number exhausted")
        plain = _open(self._aead, _xor_nonce(self._iv, number), ciphertext, record_header5)
        content = plain.rstrip(b"\x00")
        if not content:
            # §5.4: all-zero plaintext has no content type; the peer must treat it as an error.
            raise DecryptError("decrypted record has no content type (all padding)")
        if sequence is None:
            self._sequence += 1
        return InnerPlaintext(content_type=content[-1], data=content[:-1])

    def record_number_mask(self, sample: bytes) -> bytes:
        """DTLS 1.3: the mask of a record's sequence number bits, from its first 16 ciphertext bytes."""
        if not self.dtls:
            raise DecryptError("record numbers are masked in DTLS 1.3 only")
        return record_number_mask(self._suite.aead, self._sn_key, sample)

    def update_key(self) -> None:
        """Follow a KeyUpdate of this direction: next traffic secret, sequence number back to 0."""
        self._set_secret(next_traffic_secret(self._secret, self._suite.hash_name))


def record_number_mask(aead: str, sn_key: bytes, sample: bytes) -> bytes:
    """DTLS 1.3 record number encryption (RFC 9147 §4.2.3): the 16-byte mask XORed onto a unified header's
    sequence number bits, from the first 16 bytes of the record's ciphertext. AES suites: AES-ECB of the
    sample under sn_key; ChaCha20: the ChaCha20 keystream with the sample's first 4 bytes as the block
    counter and the next 12 as the nonce (QUIC's header protection, RFC 9001 §5.4.3-5.4.4)."""
    if len(sample) < 16:
        raise DecryptError(f"record of {len(sample)} bytes is too short to unmask its sequence number")
    if aead == "chacha20-poly1305":
        return Cipher(algorithms.ChaCha20(sn_key, sample[:16]), mode=None).encryptor().update(bytes(16))
    return Cipher(algorithms.AES(sn_key), modes.ECB()).encryptor().update(sample[:16])


# --------------------------------------------------------------------------------------------
# TLS 1.0 - 1.2


def _block_algorithm(params: SuiteParams, key: bytes) -> algorithms.BlockCipherAlgorithm:
    if params.cipher == "3des":
        return TripleDES(key)
    if params.cipher == "des":
        return TripleDES(key * 3)  # EDE with three equal keys is single DES
    if params.cipher == "camellia":
        return Camellia(key)
    if params.cipher == "seed":
        return SEED(key)
    if params.cipher == "idea":
        return IDEA(key)
    if params.cipher == "rc2":
        return RC2(key)
    return algorithms.AES(key)


def _xor(data: bytes, keystream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(len(data), "big")


def _ssl3_mac(hash_name: str, secret: bytes, header: bytes, data: bytes) -> bytes:
    """SSL 3.0 record MAC (RFC 6101 §5.2.3.1): hash(secret + pad_2 + hash(secret + pad_1 + seq_num +
    type + length + content)), the pads 48 bytes for MD5 and 40 for SHA-1."""
    pad = 48 if hash_name == "md5" else 40
    inner = hash_digest(hash_name, secret + b"\x36" * pad + header + data)
    return hash_digest(hash_name, secret + b"\x5c" * pad + inner)


class Tls12Decryptor:
    """Opens one direction's SSL 3.0 - TLS 1.2 records after its ChangeCipherSpec.

    `key`, `iv` and `mac_key` are this direction's parts of the key block (`keyschedule.key_block`);
    `version` the negotiated version (0x0300-0x0303), which decides between the chained IV of SSL 3.0
    and TLS 1.0 and the explicit per-record IV of CBC suites, and the SSL 3.0 MAC and padding.
    `encrypt_then_mac` is True when both hellos carried the encrypt_then_mac extension (RFC 7366);
    it changes CBC suites only. A stream cipher (RC4) keeps its keystream from record to record."""

    def __init__(
        self,
        params: SuiteParams,
        key: bytes,
        iv: bytes,
        mac_key: bytes,
        version: int,
        encrypt_then_mac: bool = False,
    ) -> None:
        if len(key) != params.write_key_length:
            raise DecryptError(f"key is {len(key)} bytes, the suite needs {params.write_key_length}")
        if not params.is_aead and not params.mac:
            raise DecryptError("a cipher suite without AEAD needs a MAC")
        self.params = params
        self.version = version
        self.encrypt_then_mac = encrypt_then_mac and params.mode == "cbc" and version >= 0x0301
        self._key = key
        self._iv = iv
        self._mac_key = mac_key
        self._mac_hash = params.mac or ""
        self._sequence = 0
        self._aead = _aead(params.mode, key, params.tag_length) if params.is_aead else None
        # RC4: one keystream for the whole direction; bytes drawn for a record that failed to open
        # are kept in `_unused_keystream` so that the state does not move on a failure.
        self._rc4 = Cipher(ARC4(key), mode=None).encryptor() if params.cipher == "rc4" else None
        self._unused_keystream = b""

    @property
    def sequence_number(self) -> int:
        """Sequence number the next record will be opened with."""
        return self._sequence

    def decrypt(self, content_type: int, version: int, ciphertext: bytes, *, sequence: int | None = None) -> bytes:
        """Open one record given its header's content type and version and its body; returns the
        plaintext content. Raises DecryptError.

        DTLS: `sequence` is the record's epoch << 48 | sequence number (RFC 6347 §4.1.2.1), used in place
        of the count of records opened, which it leaves as it is."""
        if len(ciphertext) > limits.MAX_RECORD_LENGTH:
            raise DecryptError(f"record of {len(ciphertext)} bytes is longer than TLS allows")
        seq = self._sequence if sequence is None else sequence
        if not 0 <= seq < _SEQUENCE_LIMIT:
            raise DecryptError("record sequence number exhausted")
        if self._aead is not None:
            plain = self._decrypt_aead(self._aead, content_type, version, ciphertext, seq)
        elif self.params.mode == "stream":
            plain = self._decrypt_stream(content_type, version, ciphertext, seq)
        elif self.encrypt_then_mac:
            plain = self._decrypt_etm(content_type, version, ciphertext, seq)
        else:
            plain = self._decrypt_mte(content_type, version, ciphertext, seq)
        if sequence is None:
            self._sequence += 1
        return plain

    @staticmethod
    def _additional_data(seq: int, content_type: int, version: int, length: int) -> bytes:
        """seq_num + type + version + length (RFC 5246 §6.2.3.1 MAC input, §6.2.3.3 AEAD data)."""
        return struct.pack(">QBHH", seq, content_type & 0xFF, version & 0xFFFF, length)

    def _decrypt_aead(self, aead: _Aead, content_type: int, version: int, ciphertext: bytes, seq: int) -> bytes:
        params = self.params
        explicit = params.record_iv_length
        if len(ciphertext) < explicit + params.tag_length:
            raise DecryptError(f"record of {len(ciphertext)} bytes is too short for its nonce and tag")
        if explicit:
            nonce = self._iv + ciphertext[:explicit]  # salt from the key block + explicit nonce
        else:
            nonce = _xor_nonce(self._iv, seq)
        body = ciphertext[explicit:]
        aad = self._additional_data(seq, content_type, version, len(body) - params.tag_length)
        return _open(aead, nonce, body, aad)

    def _cbc_decrypt(self, iv: bytes, data: bytes) -> bytes:
        try:
            decryptor = Cipher(_block_algorithm(self.params, self._key), modes.CBC(iv)).decryptor()
            return decryptor.update(data) + decryptor.finalize()
        except ValueError as exc:
            raise DecryptError(f"record cannot be decrypted: {exc}") from None

    def _split_iv(self, encrypted: bytes) -> tuple[bytes, bytes]:
        """(IV, blocks): TLS 1.1+ sends the IV as the first block; TLS 1.0 chains the last block."""
        block = self.params.block_size
        if self.version >= 0x0302:
            return encrypted[:block], encrypted[block:]
        return self._iv, encrypted

    def _check_blocks(self, blocks: bytes, minimum: int) -> None:
        block = self.params.block_size
        if len(blocks) < max(block, minimum):
            raise DecryptError(f"record of {len(blocks)} encrypted bytes is too short for this cipher suite")
        if len(blocks) % block:
            raise DecryptError(f"record of {len(blocks)} encrypted bytes is not whole cipher blocks")

    def _mac(self, seq: int, content_type: int, version: int, data: bytes) -> bytes:
        if self.version == 0x0300:  # no version in the SSL 3.0 MAC input
            header = struct.pack(">QBH", seq, content_type & 0xFF, len(data))
            return _ssl3_mac(self._mac_hash, self._mac_key, header, data)
        header = self._additional_data(seq, content_type, version, len(data))
        return hmac_digest(self._mac_hash, self._mac_key, header + data)

    def _keystream(self, length: int) -> bytes:
        if self._rc4 is None:
            return bytes(length)  # NULL cipher
        stream = self._unused_keystream[:length]
        self._unused_keystream = self._unused_keystream[length:]
        return stream + self._rc4.update(bytes(length - len(stream)))

    def _decrypt_stream(self, content_type: int, version: int, ciphertext: bytes, seq: int) -> bytes:
        """Stream cipher (RC4) or no cipher: content + MAC, no padding (RFC 5246 §6.2.3.1)."""
        mac_length = self.params.mac_length
        if len(ciphertext) < mac_length:
            raise DecryptError(f"record of {len(ciphertext)} bytes is too short for its MAC")
        keystream = self._keystream(len(ciphertext))
        plain = _xor(ciphertext, keystream)
        content, received = plain[: len(plain) - mac_length], plain[len(plain) - mac_length :]
        if not constant_time.bytes_eq(received, self._mac(seq, content_type, version, content)):
            if self._rc4 is not None:
                self._unused_keystream = keystream + self._unused_keystream
            raise DecryptError(BAD_MAC)
        return content

    def _padding_ok(self, plain: bytes, padding: int, room: int) -> bool:
        """TLS: every padding byte equals the padding length; SSL 3.0 leaves them arbitrary."""
        if padding + room > len(plain):
            return False
        return self.version == 0x0300 or plain[-padding:] == bytes([plain[-1]]) * padding

    def _decrypt_mte(self, content_type: int, version: int, ciphertext: bytes, seq: int) -> bytes:
        """MAC-then-encrypt: decrypt, check and strip the padding, then check the MAC."""
        mac_length = self.params.mac_length
        iv, blocks = self._split_iv(ciphertext)
        self._check_blocks(blocks, mac_length + 1)
        plain = self._cbc_decrypt(iv, blocks)
        padding = plain[-1] + 1
        if not self._padding_ok(plain, padding, mac_length):
            raise DecryptError(BAD_MAC)  # bad padding says the same as a bad MAC: wrong key
        content = plain[: len(plain) - padding - mac_length]
        received = plain[len(content) : len(plain) - padding]
        if not constant_time.bytes_eq(received, self._mac(seq, content_type, version, content)):
            raise DecryptError(BAD_MAC)
        if self.version < 0x0302:
            self._iv = blocks[-self.params.block_size :]
        return content

    def _decrypt_etm(self, content_type: int, version: int, ciphertext: bytes, seq: int) -> bytes:
        """Encrypt-then-MAC (RFC 7366 §3): check the MAC over IV + ciphertext, then decrypt."""
        mac_length = self.params.mac_length
        if len(ciphertext) < mac_length:
            raise DecryptError(f"record of {len(ciphertext)} bytes is too short for its MAC")
        encrypted, received = ciphertext[:-mac_length], ciphertext[-mac_length:]
        if not constant_time.bytes_eq(received, self._mac(seq, content_type, version, encrypted)):
            raise DecryptError(BAD_MAC)
        iv, blocks = self._split_iv(encrypted)
        self._check_blocks(blocks, 1)
        plain = self._cbc_decrypt(iv, blocks)
        padding = plain[-1] + 1
        if not self._padding_ok(plain, padding, 0):
            raise DecryptError("bad CBC padding under a valid MAC: the peer's record is malformed")
        if self.version < 0x0302:
            self._iv = blocks[-self.params.block_size :]
        return plain[:-padding]


# DTLS 1.0 is TLS 1.1 for records and keys (explicit CBC IV, MD5/SHA-1 PRF), DTLS 1.2 is TLS 1.2 (RFC 6347 §1).
TLS_VERSION_OF_DTLS = {0xFEFF: 0x0302, 0xFEFD: 0x0303}


def tls12_decryptors(
    master_secret: bytes,
    client_random: bytes,
    server_random: bytes,
    cipher_suite: int,
    version: int,
    encrypt_then_mac: bool = False,
) -> tuple[Tls12Decryptor, Tls12Decryptor] | None:
    """The (client-to-server, server-to-client) decryptors of an SSL 3.0 - TLS 1.2 or DTLS 1.0/1.2
    connection from its master secret (key log CLIENT_RANDOM line) and the two hello randoms; None when
    the suite or the version (TLS 1.3) cannot be decrypted here, or for RC4 over DTLS (RFC 6347
    §4.1.2.2 forbids it: its keystream cannot survive a lost datagram)."""
    params = tls12_suite_params(cipher_suite)
    dtls = version in TLS_VERSION_OF_DTLS
    version = TLS_VERSION_OF_DTLS.get(version, version)
    if params is None or version not in (0x0300, 0x0301, 0x0302, 0x0303) or (dtls and params.cipher == "rc4"):
        return None
    block = key_block(master_secret, client_random, server_random, params, version)
    client = Tls12Decryptor(params, block.client_key, block.client_iv, block.client_mac, version, encrypt_then_mac)
    server = Tls12Decryptor(params, block.server_key, block.server_iv, block.server_mac, version, encrypt_then_mac)
    return client, server
