"""Key derivation for decrypting captured TLS records: the TLS 1.3 key schedule and the TLS 1.0-1.2 PRF.

A key log gives the secrets (TLS 1.3 traffic secrets, the TLS <= 1.2 master secret), so only the
last steps of each schedule are needed here:

- TLS 1.3 (RFC 8446 §7.1, §7.3, §7.2): HKDF-Expand-Label, Derive-Secret, the traffic key and IV of
  a traffic secret, and the next secret after a KeyUpdate. DTLS 1.3 (RFC 9147 §5.9, §4.2.3) labels
  with "dtls13" instead of "tls13 " and adds the record-number key `sn`.
- TLS 1.2 (RFC 5246 §5, §6.3), TLS 1.0/1.1 (RFC 2246 §5, RFC 4346 §5) and SSL 3.0 (RFC 6101 §6.2):
  the PRF and the key block cut into MAC keys, encryption keys and IVs (export suites' keys
  expanded), with a table of the cipher suites this can decrypt.

Pure functions over bytes; the primitives are `cryptography`'s (HMAC, hashes, HKDF-Expand).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tlscap.errors import TlscapError
from tlscap.tls.constants import cipher_suite_name

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
}
HASH_LENGTHS: dict[str, int] = {"md5": 16, "sha1": 20, "sha256": 32, "sha384": 48}


class UnsupportedCipherSuite(TlscapError):
    """tlscap has no decryptor for this cipher suite (or protocol version); the message names it."""

    def __init__(self, cipher_suite: int, detail: str = "") -> None:
        name = cipher_suite_name(cipher_suite)
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"cannot decrypt cipher suite {name} (0x{cipher_suite & 0xFFFF:04x}){suffix}")
        self.cipher_suite = cipher_suite


def _hash_algorithm(hash_name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[hash_name]()
    except KeyError:
        raise ValueError(f"unknown hash {hash_name!r}") from None


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    """HMAC of `data` under `key` with the named hash (`sha1`, `sha256`, `sha384`, `md5`)."""
    mac = hmac.HMAC(key, _hash_algorithm(hash_name))
    mac.update(data)
    return mac.finalize()


def hash_digest(hash_name: str, data: bytes) -> bytes:
    """Plain hash of `data` with the named hash (a transcript hash, for instance)."""
    digest = hashes.Hash(_hash_algorithm(hash_name))
    digest.update(data)
    return digest.finalize()


# --------------------------------------------------------------------------------------------
# TLS 1.3


@dataclass(frozen=True, slots=True, kw_only=True)
class Tls13Suite:
    """A TLS 1.3 cipher suite: its AEAD (`aes-gcm`, `chacha20-poly1305`, `aes-ccm`), key and tag
    lengths, and the hash of its key schedule. The IV is always 12 bytes (RFC 8446 §5.3)."""

    code: int
    aead: str
    key_length: int
    tag_length: int
    hash_name: str
    iv_length: int = 12


TLS13_SUITES: dict[int, Tls13Suite] = {
    0x1301: Tls13Suite(code=0x1301, aead="aes-gcm", key_length=16, tag_length=16, hash_name="sha256"),
    0x1302: Tls13Suite(code=0x1302, aead="aes-gcm", key_length=32, tag_length=16, hash_name="sha384"),
    0x1303: Tls13Suite(code=0x1303, aead="chacha20-poly1305", key_length=32, tag_length=16, hash_name="sha256"),
    0x1304: Tls13Suite(code=0x1304, aead="aes-ccm", key_length=16, tag_length=16, hash_name="sha256"),
    0x1305: Tls13Suite(code=0x1305, aead="aes-ccm", key_length=16, tag_length=8, hash_name="sha256"),
}


def tls13_suite(cipher_suite: int) -> Tls13Suite | None:
    """The TLS 1.3 suite description, or None for a code that is not a TLS 1.3 suite we know."""
    return TLS13_SUITES.get(cipher_suite)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficKeys:
    """The AEAD key and the 12-byte per-direction IV derived from one traffic secret; for DTLS 1.3 also
    the key that masks record numbers (`sn_key`, RFC 9147 §4.2.3)."""

    key: bytes
    iv: bytes
    sn_key: bytes = b""


TLS13_LABEL_PREFIX = b"tls13 "
DTLS13_LABEL_PREFIX = b"dtls13"  # RFC 9147 §5.9: no space after it


def hkdf_expand_label(
    secret: bytes, label: bytes, context: bytes, length: int, hash_name: str, prefix: bytes = TLS13_LABEL_PREFIX
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1): HKDF-Expand(secret, HkdfLabel, length), where HkdfLabel is
    uint16 length, opaque label<7..255> = "tls13 " + label (DTLS 1.3: "dtls13" + label), opaque context<0..255>."""
    full_label = prefix + label
    info = struct.pack(">HB", length, len(full_label)) + full_label + bytes([len(context)]) + context
    return HKDFExpand(algorithm=_hash_algorithm(hash_name), length=length, info=info).derive(secret)


def hkdf_extract(salt: bytes, ikm: bytes, hash_name: str) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2): HMAC(salt, ikm); an empty salt means HashLen zero bytes."""
    return hmac_digest(hash_name, salt or bytes(HASH_LENGTHS[hash_name]), ikm)


def derive_secret(secret: bytes, label: bytes, transcript_hash: bytes, hash_name: str) -> bytes:
    """Derive-Secret (RFC 8446 §7.1) given the transcript hash already computed:
    HKDF-Expand-Label(secret, label, Transcript-Hash(messages), Hash.length)."""
    return hkdf_expand_label(secret, label, transcript_hash, HASH_LENGTHS[hash_name], hash_name)


def traffic_keys(secret: bytes, cipher_suite: int, *, dtls: bool = False) -> TrafficKeys:
    """The write key and IV of a TLS 1.3 traffic secret (RFC 8446 §7.3); with `dtls`, DTLS 1.3's
    ("dtls13" labels) and its record-number key, HKDF-Expand-Label(secret, "sn", "", key_length).

    Raises UnsupportedCipherSuite for a code that is not a TLS 1.3 suite."""
    suite = TLS13_SUITES.get(cipher_suite)
    if suite is None:
        raise UnsupportedCipherSuite(cipher_suite, "not a TLS 1.3 cipher suite")
    prefix = DTLS13_LABEL_PREFIX if dtls else TLS13_LABEL_PREFIX
    return TrafficKeys(
        key=hkdf_expand_label(secret, b"key", b"", suite.key_length, suite.hash_name, prefix),
        iv=hkdf_expand_label(secret, b"iv", b"", suite.iv_length, suite.hash_name, prefix),
        sn_key=hkdf_expand_label(secret, b"sn", b"", suite.key_length, suite.hash_name, prefix) if dtls else b"",
    )


def next_traffic_secret(secret: bytes, hash_name: str) -> bytes:
    """The traffic secret after a KeyUpdate (RFC 8446 §7.2): HKDF-Expand-Label(secret, "traffic upd",
    "", Hash.length)."""
    return hkdf_expand_label(secret, b"traffic upd", b"", HASH_LENGTHS[hash_name], hash_name)


def finished_verify_data(base_key: bytes, transcript_hash: bytes, hash_name: str) -> bytes:
    """TLS 1.3 Finished verify_data (RFC 8446 §4.4.4): HMAC(finished_key, transcript hash), with
    finished_key = HKDF-Expand-Label(base_key, "finished", "", Hash.length)."""
    finished_key = hkdf_expand_label(base_key, b"finished", b"", HASH_LENGTHS[hash_name], hash_name)
    return hmac_digest(hash_name, finished_key, transcript_hash)


# --------------------------------------------------------------------------------------------
# TLS 1.0 - 1.2: PRF and key block


def _p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash (RFC 5246 §5): HMAC(secret, A(i) + seed) for A(1), A(2), ..., A(0) = seed."""
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac_digest(hash_name, secret, a)
        out += hmac_digest(hash_name, secret, a + seed)
    return bytes(out[:length])


def prf_tls12(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str = "sha256") -> bytes:
    """The TLS 1.2 PRF (RFC 5246 §5): P_<hash>(secret, label + seed); SHA-256 unless the suite
    names SHA-384."""
    return _p_hash(hash_name, secret, label + seed, length)


def prf_tls10(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """The TLS 1.0/1.1 PRF (RFC 2246 §5): P_MD5 over the first half of the secret XOR P_SHA-1 over
    the second half (the halves share the middle byte when the length is odd)."""
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha1 = _p_hash("sha1", secret[len(secret) - half :], label + seed, length)
    return bytes(x ^ y for x, y in zip(md5, sha1, strict=True))


def prf(version: int, secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """The PRF of a protocol version: TLS 1.2 (and DTLS 1.2) uses P_<hash_name>, TLS 1.0/1.1 the
    MD5/SHA-1 split."""
    if version in (0x0303, 0xFEFD):
        return prf_tls12(secret, label, seed, length, hash_name)
    return prf_tls10(secret, label, seed, length)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteParams:
    """How records of an SSL 3.0 - TLS 1.2 cipher suite are protected.

    `mode` is `gcm`, `ccm`, `chacha20-poly1305` (AEAD), `cbc` (MAC-then-encrypt, or encrypt-then-MAC
    when RFC 7366 was negotiated) or `stream` (RC4, or no cipher at all: `null`). `cipher` names the
    cipher (`aes`, `camellia`, `seed`, `idea`, `3des`, `des`, `rc4`, `null`, `chacha20`).
    `key_length` is how many key bytes the key block gives per direction (5 for export suites, whose
    real key of `export_key_length` bytes is derived from them, RFC 2246 §6.3.1).
    `fixed_iv_length` is how many IV bytes each direction has (the implicit part of an AEAD nonce,
    or the CBC IV that SSL 3.0 and TLS 1.0 chain); `record_iv_length` the explicit per-record nonce
    or IV (8 for GCM/CCM; for CBC the block size, TLS 1.1 and later only). `mac` is the HMAC hash
    (`md5`, `sha1`, `sha256`, `sha384`) of CBC and stream suites, None for AEAD ones.
    """

    code: int
    mode: str
    cipher: str
    key_length: int
    fixed_iv_length: int
    record_iv_length: int
    block_size: int
    tag_length: int
    mac: str | None
    prf_hash: str
    export_key_length: int = 0

    @property
    def mac_length(self) -> int:
        """Length of the record MAC (0 for AEAD suites)."""
        return HASH_LENGTHS[self.mac] if self.mac else 0

    @property
    def write_key_length(self) -> int:
        """Length of the key the cipher runs with (the expanded key of an export suite)."""
        return self.export_key_length or self.key_length

    @property
    def is_export(self) -> bool:
        """True for the 40-bit export suites."""
        return self.export_key_length > 0

    @property
    def is_aead(self) -> bool:
        """True for GCM, CCM and ChaCha20-Poly1305 suites."""
        return self.mode not in ("cbc", "stream")

    @property
    def cipher_name(self) -> str:
        """The record cipher as people write it: `AES-128-GCM`, `CHACHA20-POLY1305`, `AES-128-CCM-8`,
        `AES-256-CBC`, `CAMELLIA-128-CBC`, `3DES-EDE-CBC`, `DES40-CBC`, `RC4-128`, `RC4-40`, `NULL`."""
        if self.mode == "chacha20-poly1305":
            return "CHACHA20-POLY1305"
        if self.cipher == "null":
            return "NULL"
        if self.cipher == "rc4":
            return f"RC4-{self.key_length * 8}"
        if self.cipher in _FIXED_NAMES:
            return _FIXED_NAMES[self.cipher] + ("40-CBC" if self.is_export else "-CBC")
        suffix = "-8" if self.mode == "ccm" and self.tag_length == 8 else ""
        return f"{self.cipher.upper()}-{self.key_length * 8}-{self.mode.upper()}{suffix}"


_FIXED_NAMES = {"3des": "3DES-EDE", "des": "DES", "idea": "IDEA", "seed": "SEED", "rc2": "RC2"}
_BLOCK_SIZES = {"aes": 16, "camellia": 16, "seed": 16, "idea": 8, "3des": 8, "des": 8, "rc2": 8}


def _aead(code: int, mode: str, key_length: int, prf_hash: str = "sha256", tag: int = 16) -> SuiteParams:
    chacha = mode == "chacha20-poly1305"
    return SuiteParams(
        code=code,
        mode=mode,
        cipher="chacha20" if chacha else "aes",
        key_length=key_length,
        fixed_iv_length=12 if chacha else 4,  # RFC 7905 §2 / RFC 5288 §3, RFC 6655 §3
        record_iv_length=0 if chacha else 8,
        block_size=0,
        tag_length=tag,
        mac=None,
        prf_hash=prf_hash,
    )


def _cbc(code: int, key_length: int, mac: str, cipher: str = "aes", export_key_length: int = 0) -> SuiteParams:
    block = _BLOCK_SIZES[cipher]
    return SuiteParams(
        code=code,
        mode="cbc",
        cipher=cipher,
        key_length=key_length,
        fixed_iv_length=block,
        record_iv_length=block,
        block_size=block,
        tag_length=0,
        mac=mac,
        # RFC 5246 §5: suites ending in _SHA384 use P_SHA384; every other one P_SHA256.
        prf_hash="sha384" if mac == "sha384" else "sha256",
        export_key_length=export_key_length,
    )


def _stream(code: int, cipher: str, key_length: int, mac: str, export_key_length: int = 0) -> SuiteParams:
    return SuiteParams(
        code=code,
        mode="stream",
        cipher=cipher,
        key_length=key_length,
        fixed_iv_length=0,
        record_iv_length=0,
        block_size=0,
        tag_length=0,
        mac=mac,
        prf_hash="sha384" if mac == "sha384" else "sha256",
        export_key_length=export_key_length,
    )


def _build_tls12_table() -> dict[int, SuiteParams]:
    table: dict[int, SuiteParams] = {}
    # AES-GCM (RFC 5288, 5289, 5487, 8442): the suffix hash is the PRF hash.
    for code in (0x009C, 0x009E, 0x00A0, 0x00A2, 0x00A4, 0x00A6, 0x00A8, 0x00AA, 0x00AC,
                 0xC02B, 0xC02D, 0xC02F, 0xC031, 0xC0B0, 0xD001):  # fmt: skip
        table[code] = _aead(code, "gcm", 16)
    for code in (0x009D, 0x009F, 0x00A1, 0x00A3, 0x00A5, 0x00A7, 0x00A9, 0x00AB, 0x00AD,
                 0xC02C, 0xC02E, 0xC030, 0xC032, 0xC0B1, 0xD002):  # fmt: skip
        table[code] = _aead(code, "gcm", 32, "sha384")
    # ChaCha20-Poly1305 (RFC 7905).
    for code in range(0xCCA8, 0xCCAF):
        table[code] = _aead(code, "chacha20-poly1305", 32)
    # AES-CCM and CCM_8 (RFC 6655, 7251, 8442, 8492): PRF is SHA-256 unless the name says SHA384.
    for code in (0xC09C, 0xC09E, 0xC0A4, 0xC0A6, 0xC0AC, 0xC0B2, 0xD005):
        table[code] = _aead(code, "ccm", 16)
    for code in (0xC09D, 0xC09F, 0xC0A5, 0xC0A7, 0xC0AD):
        table[code] = _aead(code, "ccm", 32)
    table[0xC0B3] = _aead(0xC0B3, "ccm", 32, "sha384")
    for code in (0xC0A0, 0xC0A2, 0xC0A8, 0xC0AA, 0xC0AE, 0xD003):
        table[code] = _aead(code, "ccm", 16, tag=8)
    for code in (0xC0A1, 0xC0A3, 0xC0A9, 0xC0AB, 0xC0AF):
        table[code] = _aead(code, "ccm", 32, tag=8)
    # AES-CBC with HMAC-SHA1 (RFC 3268, 4492, 4279, 5054, 5489).
    for code in (0x002F, 0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x008C, 0x0090, 0x0094,
                 0xC004, 0xC009, 0xC00E, 0xC013, 0xC018, 0xC01D, 0xC01E, 0xC01F, 0xC035):  # fmt: skip
        table[code] = _cbc(code, 16, "sha1")
    for code in (0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x008D, 0x0091, 0x0095,
                 0xC005, 0xC00A, 0xC00F, 0xC014, 0xC019, 0xC020, 0xC021, 0xC022, 0xC036):  # fmt: skip
        table[code] = _cbc(code, 32, "sha1")
    # AES-CBC with HMAC-SHA256 / SHA384 (RFC 5246, 5289, 5487, 5489).
    for code in (0x003C, 0x003E, 0x003F, 0x0040, 0x0067, 0x006C, 0x00AE, 0x00B2, 0x00B6,
                 0xC023, 0xC025, 0xC027, 0xC029, 0xC037):  # fmt: skip
        table[code] = _cbc(code, 16, "sha256")
    for code in (0x003D, 0x0068, 0x0069, 0x006A, 0x006B, 0x006D):
        table[code] = _cbc(code, 32, "sha256")
    for code in (0x00AF, 0x00B3, 0x00B7, 0xC024, 0xC026, 0xC028, 0xC02A, 0xC038):
        table[code] = _cbc(code, 32, "sha384")
    # Camellia-CBC (RFC 5932, 6367) and SEED-CBC (RFC 4162).
    for code in (0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046):
        table[code] = _cbc(code, 16, "sha1", cipher="camellia")
    for code in (0x0084, 0x0085, 0x0086, 0x0087, 0x0088, 0x0089):
        table[code] = _cbc(code, 32, "sha1", cipher="camellia")
    for code in (0x00BA, 0x00BB, 0x00BC, 0x00BD, 0x00BE, 0x00BF, 0xC072, 0xC074, 0xC076, 0xC078):
        table[code] = _cbc(code, 16, "sha256", cipher="camellia")
    for code in (0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x00C4, 0x00C5):
        table[code] = _cbc(code, 32, "sha256", cipher="camellia")
    for code in (0xC073, 0xC075, 0xC077, 0xC079):
        table[code] = _cbc(code, 32, "sha384", cipher="camellia")
    for code in range(0x0096, 0x009C):
        table[code] = _cbc(code, 16, "sha1", cipher="seed")
    # Legacy ciphers still met in old captures: 3DES, IDEA, single DES, RC4, and the 40-bit export
    # suites (RFC 2246; RFC 4346 forbids negotiating them, but old servers did). Export RC2 runs
    # RC2 with the expanded 16-byte key and 128 effective bits, as OpenSSL did.
    for code in (0x000A, 0x000D, 0x0010, 0x0013, 0x0016, 0x001B, 0x001F, 0x008B, 0x008F, 0x0093,
                 0xC003, 0xC008, 0xC00D, 0xC012, 0xC017, 0xC01A, 0xC01B, 0xC01C, 0xC034):  # fmt: skip
        table[code] = _cbc(code, 24, "sha1", cipher="3des")
    table[0x0007] = _cbc(0x0007, 16, "sha1", cipher="idea")
    for code in (0x0009, 0x000C, 0x000F, 0x0012, 0x0015, 0x001A):
        table[code] = _cbc(code, 8, "sha1", cipher="des")
    for code in (0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0019):
        table[code] = _cbc(code, 5, "sha1", cipher="des", export_key_length=8)
    table[0x0006] = _cbc(0x0006, 5, "md5", cipher="rc2", export_key_length=16)
    for code in (0x0004, 0x0018):
        table[code] = _stream(code, "rc4", 16, "md5")
    for code in (0x0005, 0x008A, 0x008E, 0x0092, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC016, 0xC033):
        table[code] = _stream(code, "rc4", 16, "sha1")
    for code in (0x0003, 0x0017):
        table[code] = _stream(code, "rc4", 5, "md5", export_key_length=16)
    # No encryption, only the MAC (RFC 5246, 4785, 5487, 5489, 4492).
    table[0x0001] = _stream(0x0001, "null", 0, "md5")
    for code in (0x0002, 0x002C, 0x002D, 0x002E, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015, 0xC039):
        table[code] = _stream(code, "null", 0, "sha1")
    for code in (0x003B, 0x00B0, 0x00B4, 0x00B8, 0xC03A):
        table[code] = _stream(code, "null", 0, "sha256")
    for code in (0x00B1, 0x00B5, 0x00B9, 0xC03B):
        table[code] = _stream(code, "null", 0, "sha384")
    return table


TLS12_SUITES: dict[int, SuiteParams] = _build_tls12_table()


def tls12_suite_params(cipher_suite: int) -> SuiteParams | None:
    """How an SSL 3.0 - TLS 1.2 cipher suite protects records, or None when tlscap cannot decrypt it
    (ARIA, Camellia-GCM, GOST, Kerberos, ...): the caller reports the suite by name."""
    return TLS12_SUITES.get(cipher_suite)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyBlock:
    """Each direction's MAC key, cipher key and IV (RFC 5246 §6.3), the keys and IVs of export
    suites already expanded (RFC 2246 §6.3.1, RFC 6101 §6.2.2)."""

    client_mac: bytes
    server_mac: bytes
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes


def _ssl3_key_block(master_secret: bytes, server_random: bytes, client_random: bytes, length: int) -> bytes:
    """SSL 3.0 key block (RFC 6101 §6.2.2): MD5(master + SHA1("A" + master + randoms)) + MD5(master +
    SHA1("BB" + ...)) + ..."""
    out = b""
    letter = 0
    while len(out) < length:
        salt = bytes([ord("A") + letter]) * (letter + 1)
        inner = hash_digest("sha1", salt + master_secret + server_random + client_random)
        out += hash_digest("md5", master_secret + inner)
        letter += 1
    return out[:length]


def key_block(
    master_secret: bytes, client_random: bytes, server_random: bytes, suite: SuiteParams, version: int
) -> KeyBlock:
    """Expand the master secret into MAC keys, keys and IVs: TLS (RFC 5246 §6.3, RFC 2246 §6.3)
    PRF(master_secret, "key expansion", server_random + client_random); SSL 3.0 its MD5/SHA-1 mix.

    For CBC suites the IVs are produced as OpenSSL does, though only SSL 3.0 and TLS 1.0 use them
    (TLS 1.1 and later send an explicit IV in each record); they come last, so the keys are the
    same. Export suites get their keys and IVs expanded from the randoms as the RFCs say, with the
    version's PRF (as Wireshark does for TLS 1.1 and 1.2, which forbid them but were sometimes
    given them anyway)."""
    mac_length, key_length = suite.mac_length, suite.key_length
    iv_length = 0 if suite.is_export else suite.fixed_iv_length
    sizes = (mac_length, mac_length, key_length, key_length, iv_length, iv_length)
    if version == 0x0300:
        block = _ssl3_key_block(master_secret, server_random, client_random, sum(sizes))
    else:
        block = prf(version, master_secret, b"key expansion", server_random + client_random, sum(sizes), suite.prf_hash)
    parts: list[bytes] = []
    offset = 0
    for size in sizes:
        parts.append(block[offset : offset + size])
        offset += size
    client_key, server_key, client_iv, server_iv = parts[2:]
    if suite.is_export:
        client_key, server_key, client_iv, server_iv = _export_keys(
            client_key, server_key, client_random, server_random, suite, version
        )
    return KeyBlock(
        client_mac=parts[0],
        server_mac=parts[1],
        client_key=client_key,
        server_key=server_key,
        client_iv=client_iv,
        server_iv=server_iv,
    )


def _export_keys(
    client_key: bytes, server_key: bytes, client_random: bytes, server_random: bytes, suite: SuiteParams, version: int
) -> tuple[bytes, bytes, bytes, bytes]:
    """Final keys and IVs of an export suite (RFC 2246 §6.3.1; SSL 3.0: RFC 6101 §6.2.2)."""
    length, block = suite.export_key_length, suite.fixed_iv_length
    if version == 0x0300:
        return (
            hash_digest("md5", client_key + client_random + server_random)[:length],
            hash_digest("md5", server_key + server_random + client_random)[:length],
            hash_digest("md5", client_random + server_random)[:block],
            hash_digest("md5", server_random + client_random)[:block],
        )
    randoms = client_random + server_random
    ivs = prf(version, b"", b"IV block", randoms, 2 * block, suite.prf_hash) if block else b""
    return (
        prf(version, client_key, b"client write key", randoms, length, suite.prf_hash),
        prf(version, server_key, b"server write key", randoms, length, suite.prf_hash),
        ivs[:block],
        ivs[block:],
    )


def tls12_finished_verify_data(
    master_secret: bytes, label: bytes, handshake_messages: bytes, version: int, prf_hash: str
) -> bytes:
    """TLS 1.0-1.2 Finished verify_data (RFC 5246 §7.4.9, RFC 2246 §7.4.9): 12 bytes of
    PRF(master_secret, label, Hash(handshake_messages)); TLS 1.0/1.1 hash with MD5 + SHA-1.
    `label` is b"client finished" or b"server finished"."""
    if version in (0x0303, 0xFEFD):
        digest = hash_digest(prf_hash, handshake_messages)
    else:
        digest = hash_digest("md5", handshake_messages) + hash_digest("sha1", handshake_messages)
    return prf(version, master_secret, label, digest, 12, prf_hash)
