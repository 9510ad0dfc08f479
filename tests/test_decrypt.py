"""Key schedule and record decryption: published vectors, records sealed here, and real captures.

- RFC 8448 §3 (tests/vectors/rfc8448_simple_1rtt.txt): HKDF-Expand-Label, Derive-Secret, traffic
  keys, Finished, and the trace's encrypted records opened to the exact plaintext.
- TLS 1.0-1.2 PRF known answers (the IETF TLS list vectors, also in BearSSL's and GnuTLS's tests).
- SSL 3.0 - TLS 1.2 records sealed in this file with `cryptography` (GCM, CCM, ChaCha20, CBC
  MAC-then-encrypt with the chained IV and the explicit IV, encrypt-then-MAC, RC4, NULL, legacy
  block ciphers, export suites, SSL 3.0), then opened; tampering and reordering must fail.
- Real captures of the public corpus with their key logs: records pulled out with tshark, opened,
  and the Finished messages checked against the transcript, so the whole chain is proven (95
  connections, 44 cipher suites, SSL 3.0 to TLS 1.3).
"""

from __future__ import annotations

import csv
import hashlib
import os
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, IDEA, RC2, SEED, Camellia, TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tlscap.errors import TlscapError
from tlscap.tls.constants import CIPHER_SUITE_NAMES
from tlscap.tls.decrypt import (
    BAD_MAC,
    DecryptError,
    InnerPlaintext,
    Tls12Decryptor,
    Tls13Decryptor,
    tls12_decryptors,
)
from tlscap.tls.keylog import load_keylog_file
from tlscap.tls.keyschedule import (
    TLS12_SUITES,
    TLS13_SUITES,
    KeyBlock,
    SuiteParams,
    UnsupportedCipherSuite,
    derive_secret,
    finished_verify_data,
    hash_digest,
    hkdf_expand_label,
    hkdf_extract,
    key_block,
    next_traffic_secret,
    prf_tls10,
    prf_tls12,
    tls12_finished_verify_data,
    tls12_suite_params,
    traffic_keys,
)

VECTORS = Path(__file__).resolve().parent / "vectors"
CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def load_vectors(name: str) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    for line in (VECTORS / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = bytes.fromhex(value.strip())
    return values


RFC8448 = load_vectors("rfc8448_simple_1rtt.txt")


# ============================================================================================
# RFC 8448 §3: TLS 1.3 key schedule and record protection


def test_rfc8448_vector_file_is_intact():
    # Lengths from the record headers of the trace: a typo in the vector file shows here first.
    assert len(RFC8448["server_flight_ciphertext"]) == 0x2A2
    assert len(RFC8448["client_finished_ciphertext"]) == 0x35
    assert len(RFC8448["new_session_ticket_ciphertext"]) == 0xDE
    assert hash_digest("sha256", RFC8448["client_hello"] + RFC8448["server_hello"]) == RFC8448["transcript_hash_ch_sh"]


def test_rfc8448_early_and_handshake_secrets():
    early = hkdf_extract(b"", bytes(32), "sha256")
    assert early == RFC8448["early_secret"]
    derived = derive_secret(early, b"derived", hash_digest("sha256", b""), "sha256")
    assert derived == RFC8448["derived_for_handshake"]
    assert hkdf_extract(derived, RFC8448["shared_secret"], "sha256") == RFC8448["handshake_secret"]


def test_rfc8448_handshake_traffic_secrets_from_transcript():
    transcript = hash_digest("sha256", RFC8448["client_hello"] + RFC8448["server_hello"])
    handshake = RFC8448["handshake_secret"]
    assert derive_secret(handshake, b"c hs traffic", transcript, "sha256") == RFC8448["client_handshake_traffic_secret"]
    assert derive_secret(handshake, b"s hs traffic", transcript, "sha256") == RFC8448["server_handshake_traffic_secret"]
    # A different label must give a different secret (the label really is in the HkdfLabel).
    assert derive_secret(handshake, b"s ap traffic", transcript, "sha256") != RFC8448["server_handshake_traffic_secret"]


def test_rfc8448_master_and_application_secrets():
    derived = derive_secret(RFC8448["handshake_secret"], b"derived", hash_digest("sha256", b""), "sha256")
    master = hkdf_extract(derived, bytes(32), "sha256")
    assert master == RFC8448["master_secret"]
    transcript = RFC8448["transcript_hash_ch_server_finished"]
    assert derive_secret(master, b"c ap traffic", transcript, "sha256") == RFC8448["client_application_traffic_secret"]
    assert derive_secret(master, b"s ap traffic", transcript, "sha256") == RFC8448["server_application_traffic_secret"]


@pytest.mark.parametrize(
    ("secret", "key", "iv"),
    [
        ("server_handshake_traffic_secret", "server_handshake_key", "server_handshake_iv"),
        ("client_handshake_traffic_secret", "client_handshake_key", "client_handshake_iv"),
        ("server_application_traffic_secret", "server_application_key", "server_application_iv"),
    ],
)
def test_rfc8448_traffic_keys(secret: str, key: str, iv: str):
    keys = traffic_keys(RFC8448[secret], 0x1301)
    assert keys.key == RFC8448[key]
    assert keys.iv == RFC8448[iv]
    assert hkdf_expand_label(RFC8448[secret], b"key", b"", 16, "sha256") == RFC8448[key]


def test_rfc8448_client_application_key():
    assert traffic_keys(RFC8448["client_application_traffic_secret"], 0x1301).key == RFC8448["client_application_key"]


def test_rfc8448_finished_keys_and_verify_data():
    server_hs = RFC8448["server_handshake_traffic_secret"]
    client_hs = RFC8448["client_handshake_traffic_secret"]
    assert hkdf_expand_label(server_hs, b"finished", b"", 32, "sha256") == RFC8448["server_finished_key"]
    assert hkdf_expand_label(client_hs, b"finished", b"", 32, "sha256") == RFC8448["client_finished_key"]
    # Client Finished = HMAC(finished_key, Hash(ClientHello..server Finished)).
    client_finished = RFC8448["client_finished_plaintext"]
    assert (
        finished_verify_data(client_hs, RFC8448["transcript_hash_ch_server_finished"], "sha256")
        == (client_finished[4:])
    )


def test_rfc8448_server_encrypted_flight():
    decryptor = Tls13Decryptor(0x1301, RFC8448["server_handshake_traffic_secret"])
    inner = decryptor.decrypt(RFC8448["server_flight_header"], RFC8448["server_flight_ciphertext"])
    assert inner == InnerPlaintext(content_type=22, data=RFC8448["server_flight_plaintext"])
    assert decryptor.sequence_number == 1
    # EncryptedExtensions, Certificate, CertificateVerify, Finished; the server Finished checks out
    # against the transcript ClientHello..CertificateVerify.
    messages = split_handshake(inner.data)
    assert [m[0] for m in messages] == [8, 11, 15, 20]
    transcript = RFC8448["client_hello"] + RFC8448["server_hello"] + b"".join(messages[:3])
    expected = finished_verify_data(
        RFC8448["server_handshake_traffic_secret"], hash_digest("sha256", transcript), "sha256"
    )
    assert messages[3][4:] == expected
    assert hash_digest("sha256", transcript + messages[3]) == RFC8448["transcript_hash_ch_server_finished"]


def test_rfc8448_client_finished_record():
    decryptor = Tls13Decryptor(0x1301, RFC8448["client_handshake_traffic_secret"])
    inner = decryptor.decrypt(RFC8448["client_finished_header"], RFC8448["client_finished_ciphertext"])
    assert inner.content_type == 22
    assert inner.data == RFC8448["client_finished_plaintext"]


def test_rfc8448_application_records_advance_the_sequence_number():
    server = Tls13Decryptor(0x1301, RFC8448["server_application_traffic_secret"])
    ticket = server.decrypt(RFC8448["new_session_ticket_header"], RFC8448["new_session_ticket_ciphertext"])
    assert ticket == InnerPlaintext(content_type=22, data=RFC8448["new_session_ticket_plaintext"])
    # The server's application data is its second record under this secret (sequence number 1).
    data = server.decrypt(RFC8448["server_application_data_header"], RFC8448["server_application_data_ciphertext"])
    assert data == InnerPlaintext(content_type=23, data=RFC8448["application_data_plaintext"])
    client = Tls13Decryptor(0x1301, RFC8448["client_application_traffic_secret"])
    data = client.decrypt(RFC8448["client_application_data_header"], RFC8448["client_application_data_ciphertext"])
    assert data == InnerPlaintext(content_type=23, data=RFC8448["application_data_plaintext"])


def test_rfc8448_record_out_of_order_fails_and_leaves_state():
    server = Tls13Decryptor(0x1301, RFC8448["server_application_traffic_secret"])
    with pytest.raises(DecryptError) as info:  # sequence 1's record opened at sequence 0
        server.decrypt(RFC8448["server_application_data_header"], RFC8448["server_application_data_ciphertext"])
    assert str(info.value) == BAD_MAC
    assert server.sequence_number == 0
    server.decrypt(RFC8448["new_session_ticket_header"], RFC8448["new_session_ticket_ciphertext"])
    assert server.sequence_number == 1


def test_rfc8448_tampering_is_detected():
    secret = RFC8448["client_handshake_traffic_secret"]
    header, body = RFC8448["client_finished_header"], RFC8448["client_finished_ciphertext"]
    for position in (0, len(body) // 2, len(body) - 1):
        bad = bytearray(body)
        bad[position] ^= 0x01
        with pytest.raises(DecryptError):
            Tls13Decryptor(0x1301, secret).decrypt(header, bytes(bad))
    with pytest.raises(DecryptError):  # the header is authenticated too
        Tls13Decryptor(0x1301, secret).decrypt(b"\x17\x03\x01\x00\x35", body)
    with pytest.raises(DecryptError):  # the other direction's secret
        Tls13Decryptor(0x1301, RFC8448["server_handshake_traffic_secret"]).decrypt(header, body)


# ============================================================================================
# TLS 1.3 with every suite, padding, KeyUpdate (records sealed here)


def reference_expand_label(secret: bytes, label: bytes, length: int, hash_algorithm: hashes.HashAlgorithm) -> bytes:
    """HKDF-Expand-Label written out independently of tlscap (RFC 8446 §7.1)."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(algorithm=hash_algorithm, length=length, info=info).derive(secret)


TLS13_AEADS: dict[int, tuple[Callable[[bytes], AESGCM | AESCCM | ChaCha20Poly1305], int, hashes.HashAlgorithm, int]] = {
    0x1301: (lambda k: AESGCM(k), 16, hashes.SHA256(), 32),
    0x1302: (lambda k: AESGCM(k), 32, hashes.SHA384(), 48),
    0x1303: (lambda k: ChaCha20Poly1305(k), 32, hashes.SHA256(), 32),
    0x1304: (lambda k: AESCCM(k, tag_length=16), 16, hashes.SHA256(), 32),
    0x1305: (lambda k: AESCCM(k, tag_length=8), 16, hashes.SHA256(), 32),
}


def seal13(
    suite: int, secret: bytes, sequence: int, content_type: int, data: bytes, padding: int = 0
) -> tuple[bytes, bytes]:
    make, key_length, hash_algorithm, _ = TLS13_AEADS[suite]
    key = reference_expand_label(secret, b"key", key_length, hash_algorithm)
    iv = reference_expand_label(secret, b"iv", 12, hash_algorithm)
    nonce = bytes(a ^ b for a, b in zip(iv, sequence.to_bytes(12, "big"), strict=True))
    inner = data + bytes([content_type]) + bytes(padding)
    tag = 8 if suite == 0x1305 else 16
    header = struct.pack(">BHH", 23, 0x0303, len(inner) + tag)
    return header, make(key).encrypt(nonce, inner, header)


@pytest.mark.parametrize("suite", sorted(TLS13_AEADS))
def test_tls13_every_suite_round_trip(suite: int):
    hash_length = TLS13_AEADS[suite][3]
    secret = bytes(range(hash_length))
    decryptor = Tls13Decryptor(suite, secret)
    for sequence, (ctype, data, padding) in enumerate(
        [(22, b"\x08\x00\x00\x02\x00\x00", 0), (23, b"GET / HTTP/1.1\r\n", 37), (21, b"\x02\x2a", 1)]
    ):
        header, body = seal13(suite, secret, sequence, ctype, data, padding)
        assert decryptor.decrypt(header, body) == InnerPlaintext(content_type=ctype, data=data)
    assert decryptor.sequence_number == 3


def test_tls13_key_update_switches_secret_and_resets_sequence():
    secret = bytes(range(32))
    decryptor = Tls13Decryptor(0x1303, secret)
    decryptor.decrypt(*seal13(0x1303, secret, 0, 23, b"before"))
    decryptor.decrypt(*seal13(0x1303, secret, 1, 22, b"\x18\x00\x00\x01\x00"))  # KeyUpdate
    decryptor.update_key()
    updated = reference_expand_label(secret, b"traffic upd", 32, hashes.SHA256())
    assert decryptor.traffic_secret == updated == next_traffic_secret(secret, "sha256")
    assert decryptor.sequence_number == 0
    assert decryptor.decrypt(*seal13(0x1303, updated, 0, 23, b"after")).data == b"after"
    with pytest.raises(DecryptError):  # the old key no longer opens records
        decryptor.decrypt(*seal13(0x1303, secret, 1, 23, b"old"))


def test_tls13_next_traffic_secret_sha384():
    secret = bytes(range(48))
    assert next_traffic_secret(secret, "sha384") == reference_expand_label(secret, b"traffic upd", 48, hashes.SHA384())


def test_tls13_all_padding_record_is_an_error():
    secret = bytes(32)
    make, _, hash_algorithm, _ = TLS13_AEADS[0x1301]
    key = reference_expand_label(secret, b"key", 16, hash_algorithm)
    iv = reference_expand_label(secret, b"iv", 12, hash_algorithm)
    header = struct.pack(">BHH", 23, 0x0303, 10 + 16)
    body = make(key).encrypt(iv, bytes(10), header)
    with pytest.raises(DecryptError, match="no content type"):
        Tls13Decryptor(0x1301, secret).decrypt(header, body)


def test_tls13_bad_inputs_raise_decrypt_error_only():
    decryptor = Tls13Decryptor(0x1301, bytes(32))
    for header, body in [
        (b"\x17\x03\x03", b"x" * 40),  # short header
        (b"\x17\x03\x03\x00\x05", b""),  # empty
        (b"\x17\x03\x03\x00\x10", bytes(16)),  # tag only
        (b"\x17\x03\x03\x00\x20", bytes(32)),  # garbage
        (b"\x17\x03\x03\xff\xff", bytes((1 << 14) + 300)),  # too long
    ]:
        with pytest.raises(DecryptError):
            decryptor.decrypt(header, body)
    assert decryptor.sequence_number == 0


def test_tls13_constructor_checks():
    with pytest.raises(UnsupportedCipherSuite, match="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"):
        Tls13Decryptor(0xC02F, bytes(32))
    with pytest.raises(DecryptError, match="48"):
        Tls13Decryptor(0x1302, bytes(32))
    assert issubclass(UnsupportedCipherSuite, TlscapError) and issubclass(DecryptError, TlscapError)
    with pytest.raises(UnsupportedCipherSuite):
        traffic_keys(bytes(32), 0x009C)


# ============================================================================================
# TLS 1.0 - 1.2 PRF and key block


def test_prf_tls12_sha256_ietf_vector():
    out = prf_tls12(
        bytes.fromhex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"),
        100,
        "sha256",
    )
    assert out.hex() == (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af"
        "0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66"
    )


def test_prf_tls12_sha384_ietf_vector():
    out = prf_tls12(
        bytes.fromhex("b80b733d6ceefcdc71566ea48e5567df"),
        b"test label",
        bytes.fromhex("cd665cf6a8447dd6ff8b27555edb7465"),
        148,
        "sha384",
    )
    assert out.hex() == (
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0"
        "e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
        "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d"
        "73e56f"
    )


def test_prf_tls10_vector():
    out = prf_tls10(b"\xab" * 48, b"PRF Testvector", b"\xcd" * 64, 104)
    assert out.hex() == (
        "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754443bcf9a296519bc289abcbc1187e4eb"
        "d31e602353776c408aafb74cbc85eff69255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f"
        "1afbc655a8c9a013"
    )


def test_prf_tls10_odd_secret_shares_the_middle_byte():
    # RFC 2246 §5: with an odd length the two halves overlap by one byte.
    secret = bytes(range(1, 6))
    assert prf_tls10(secret, b"l", b"s", 20) == bytes(
        a ^ b
        for a, b in zip(
            prf_tls12(secret[:3], b"l", b"s", 20, "md5"), prf_tls12(secret[2:], b"l", b"s", 20, "sha1"), strict=True
        )
    )


def test_prf_prefix_property():
    secret, seed = bytes(range(48)), bytes(range(64))
    long = prf_tls12(secret, b"key expansion", seed, 200, "sha384")
    assert prf_tls12(secret, b"key expansion", seed, 72, "sha384") == long[:72]


def test_key_block_split_and_order():
    params = tls12_suite_params(0xC027)
    assert params is not None and params.mac == "sha256" and params.key_length == 16
    master, client_random, server_random = bytes(range(48)), b"\x01" * 32, b"\x02" * 32
    block = key_block(master, client_random, server_random, params, 0x0303)
    raw = prf_tls12(master, b"key expansion", server_random + client_random, 32 * 2 + 16 * 2 + 16 * 2)
    assert block == KeyBlock(
        client_mac=raw[0:32],
        server_mac=raw[32:64],
        client_key=raw[64:80],
        server_key=raw[80:96],
        client_iv=raw[96:112],
        server_iv=raw[112:128],
    )
    gcm = tls12_suite_params(0xC030)
    assert gcm is not None
    block = key_block(master, client_random, server_random, gcm, 0x0303)
    raw = prf_tls12(master, b"key expansion", server_random + client_random, 32 * 2 + 4 * 2, "sha384")
    assert (block.client_mac, block.client_key, block.server_iv) == (b"", raw[:32], raw[68:72])
    cbc10 = tls12_suite_params(0x002F)
    assert cbc10 is not None
    block = key_block(master, client_random, server_random, cbc10, 0x0301)
    raw = prf_tls10(master, b"key expansion", server_random + client_random, 20 * 2 + 16 * 4)
    assert block.server_mac == raw[20:40] and block.client_iv == raw[72:88]


IANA_CIPHERS = {"3des": "3DES_EDE", "des": "DES", "idea": "IDEA", "seed": "SEED", "rc2": "RC2"}
IANA_MACS = {"md5": "MD5", "sha1": "SHA", "sha256": "SHA256", "sha384": "SHA384"}


def expected_name_ending(params: SuiteParams) -> str:
    """How the IANA name of a suite with these parameters ends (written from the registry's rules)."""
    bits = params.key_length * 8
    if params.mode == "gcm":
        return f"_WITH_AES_{bits}_GCM_{params.prf_hash.upper()}"
    if params.mode == "chacha20-poly1305":
        return "_WITH_CHACHA20_POLY1305_SHA256"
    if params.mode == "ccm":
        return f"_WITH_AES_{bits}_CCM" + ("_8" if params.tag_length == 8 else "")
    mac = IANA_MACS[params.mac or ""]
    if params.cipher == "null":
        return f"_WITH_NULL_{mac}"
    if params.cipher == "rc4":
        return f"_WITH_RC4_{40 if params.is_export else 128}_{mac}"
    if params.is_export:
        return (
            f"_EXPORT_WITH_{IANA_CIPHERS[params.cipher]}{'40' if params.cipher == 'des' else ''}_CBC_"
            + ("40_" if params.cipher == "rc2" else "")
            + mac
        )
    cipher = IANA_CIPHERS.get(params.cipher) or f"{params.cipher.upper()}_{bits}"
    return f"_WITH_{cipher}_CBC_{mac}"


def test_suite_table_matches_iana_names():
    for code, params in TLS12_SUITES.items():
        name = CIPHER_SUITE_NAMES[code]
        ending = expected_name_ending(params)
        if params.is_export and params.cipher != "des":
            ending = ending.replace("_EXPORT_WITH_", "_WITH_")  # RC4_40 / RC2_CBC_40: EXPORT sits elsewhere
        assert name.endswith(ending) or (params.mode == "ccm" and ending in name), (name, ending)
        assert params.is_export == ("EXPORT" in name), name
        assert (params.prf_hash == "sha384") == ("SHA384" in name), name
        if params.mode == "ccm" and name.endswith("SHA256"):
            assert params.prf_hash == "sha256"
    names = {code: params.cipher_name for code, params in TLS12_SUITES.items()}
    assert (names[0xC02F], names[0xC030], names[0xCCA8], names[0xC0AE], names[0xC0AD]) == (
        "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305", "AES-128-CCM-8", "AES-256-CCM"
    )  # fmt: skip
    assert (names[0x002F], names[0xC028], names[0x000A]) == ("AES-128-CBC", "AES-256-CBC", "3DES-EDE-CBC")
    assert (names[0x0041], names[0x0096], names[0x0009], names[0x0008], names[0x0006]) == (
        "CAMELLIA-128-CBC", "SEED-CBC", "DES-CBC", "DES40-CBC", "RC240-CBC"
    )  # fmt: skip
    assert (names[0x0005], names[0x0003], names[0x003B]) == ("RC4-128", "RC4-40", "NULL")
    assert TLS12_SUITES[0xC028].mac_length == 48 and TLS12_SUITES[0xC02F].mac_length == 0
    assert TLS12_SUITES[0x0003].write_key_length == 16 and TLS12_SUITES[0x0008].write_key_length == 8
    assert set(TLS13_SUITES) == {0x1301, 0x1302, 0x1303, 0x1304, 0x1305}
    common = [0x009C, 0x009D, 0x002F, 0x0035, 0x003C, 0x003D, 0xC009, 0xC00A, 0xC013, 0xC014, 0xC023,
              0xC024, 0xC027, 0xC028, 0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA8, 0xCCA9, 0xCCAA, 0x009E,
              0x009F, 0x0033, 0x0039, 0x0067, 0x006B]  # fmt: skip
    assert all(tls12_suite_params(code) is not None for code in common)
    # ARIA, Camellia-GCM, Kerberos, GOST, the draft ChaCha20 codes, and TLS 1.3 / unknown codes.
    for unsupported in (0x0000, 0xC03C, 0xC050, 0xC07A, 0x001E, 0x0020, 0xCC13, 0xC100, 0x1301, 0xFFFF):
        assert tls12_suite_params(unsupported) is None


def test_tls12_decryptors_refuse_what_they_cannot_do():
    args = (bytes(48), bytes(32), bytes(32))
    assert tls12_decryptors(*args, 0xC050, 0x0303, False) is None  # ARIA-128-GCM
    assert tls12_decryptors(*args, 0xC02F, 0x0304, False) is None  # TLS 1.3 uses Tls13Decryptor
    assert tls12_decryptors(*args, 0x0005, 0xFEFD, False) is None  # RC4 over DTLS (RFC 6347 §4.1.2.2)
    assert tls12_decryptors(*args, 0xC02F, 0xFEFC, False) is None  # DTLS 1.3 uses Tls13Decryptor(dtls=True)
    assert tls12_decryptors(*args, 0xC02F, 0x0200, False) is None  # SSL 2.0
    pair = tls12_decryptors(*args, 0xC02F, 0x0303, True)
    assert pair is not None and not pair[0].encrypt_then_mac  # RFC 7366 does not apply to AEAD
    pair = tls12_decryptors(*args, 0x0005, 0x0303, True)
    assert pair is not None and not pair[0].encrypt_then_mac  # nor to stream ciphers


def reference_ssl3_key_block(master: bytes, server_random: bytes, client_random: bytes, length: int) -> bytes:
    out = b""
    for index, salt in enumerate([b"A", b"BB", b"CCC", b"DDDD", b"EEEEE", b"FFFFFF", b"GGGGGGG", b"HHHHHHHH"]):
        del index
        inner = hashlib.sha1(salt + master + server_random + client_random).digest()
        out += hashlib.md5(master + inner).digest()
    return out[:length]


def test_ssl3_key_block():
    master, client_random, server_random = bytes(range(48)), b"\x11" * 32, b"\x22" * 32
    params = tls12_suite_params(0x000A)  # 3DES-EDE-CBC-SHA: 20 + 20 + 24 + 24 + 8 + 8 bytes
    assert params is not None
    block = key_block(master, client_random, server_random, params, 0x0300)
    raw = reference_ssl3_key_block(master, server_random, client_random, 104)
    assert (block.client_mac, block.server_mac, block.client_key) == (raw[:20], raw[20:40], raw[40:64])
    assert (block.server_key, block.client_iv, block.server_iv) == (raw[64:88], raw[88:96], raw[96:104])


def test_export_keys_tls():
    master, client_random, server_random = bytes(range(48)), b"\x11" * 32, b"\x22" * 32
    params = tls12_suite_params(0x0008)  # RSA_EXPORT_WITH_DES40_CBC_SHA: 5 key bytes, expanded to 8
    assert params is not None
    for version in (0x0301, 0x0303):
        block = key_block(master, client_random, server_random, params, version)
        prf = prf_tls10 if version == 0x0301 else prf_tls12
        raw = prf(master, b"key expansion", server_random + client_random, 20 * 2 + 5 * 2)
        randoms = client_random + server_random
        assert block.client_mac == raw[:20]
        assert block.client_key == prf(raw[40:45], b"client write key", randoms, 8)
        assert block.server_key == prf(raw[45:50], b"server write key", randoms, 8)
        ivs = prf(b"", b"IV block", randoms, 16)
        assert (block.client_iv, block.server_iv) == (ivs[:8], ivs[8:])


def test_export_keys_ssl3():
    master, client_random, server_random = bytes(range(48)), b"\x11" * 32, b"\x22" * 32
    params = tls12_suite_params(0x0003)  # RSA_EXPORT_WITH_RC4_40_MD5: 5 key bytes, expanded to 16
    assert params is not None
    block = key_block(master, client_random, server_random, params, 0x0300)
    raw = reference_ssl3_key_block(master, server_random, client_random, 16 * 2 + 5 * 2)
    assert block.client_mac == raw[:16] and block.server_mac == raw[16:32]
    assert block.client_key == hashlib.md5(raw[32:37] + client_random + server_random).digest()
    assert block.server_key == hashlib.md5(raw[37:42] + server_random + client_random).digest()
    assert block.client_iv == block.server_iv == b""


# ============================================================================================
# SSL 3.0 - TLS 1.2 records sealed here


def reference_block_cipher(cipher: str, key: bytes) -> algorithms.BlockCipherAlgorithm:
    if cipher == "des":
        return TripleDES(key + key + key)
    constructors: dict[str, Callable[[bytes], algorithms.BlockCipherAlgorithm]] = {
        "aes": algorithms.AES,
        "camellia": Camellia,
        "seed": SEED,
        "idea": IDEA,
        "rc2": RC2,
        "3des": TripleDES,
    }
    return constructors[cipher](key)


@dataclass
class Sealer:
    """The sending side of one direction, written against the RFCs with `cryptography` only."""

    params: SuiteParams
    key: bytes
    iv: bytes
    mac_key: bytes
    version: int
    encrypt_then_mac: bool = False
    sequence: int = 0
    padding_extra: int = 0  # extra padding blocks (TLS allows up to 255 bytes of padding)
    rc4: Any = None

    def header(self, content_type: int, length: int) -> bytes:
        if self.version == 0x0300:
            return struct.pack(">QBH", self.sequence, content_type, length)
        return struct.pack(">QBHH", self.sequence, content_type, self.version, length)

    def mac(self, content_type: int, data: bytes) -> bytes:
        assert self.params.mac
        if self.version == 0x0300:  # RFC 6101 §5.2.3.1
            pad = 48 if self.params.mac == "md5" else 40
            digest = getattr(hashlib, self.params.mac)
            inner = digest(self.mac_key + b"\x36" * pad + self.header(content_type, len(data)) + data).digest()
            return digest(self.mac_key + b"\x5c" * pad + inner).digest()
        algorithm = {"md5": hashes.MD5(), "sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384()}
        mac = crypto_hmac.HMAC(self.mac_key, algorithm[self.params.mac])
        mac.update(self.header(content_type, len(data)) + data)
        return mac.finalize()

    def seal(self, content_type: int, data: bytes) -> bytes:
        if self.params.mode == "cbc":
            body = self._seal_cbc(content_type, data)
        elif self.params.mode == "stream":
            body = self._seal_stream(content_type, data)
        else:
            body = self._seal_aead(content_type, data)
        self.sequence += 1
        return body

    def _seal_stream(self, content_type: int, data: bytes) -> bytes:
        plain = data + self.mac(content_type, data)
        if self.params.cipher == "null":
            return plain
        if self.rc4 is None:
            self.rc4 = Cipher(ARC4(self.key), mode=None).encryptor()
        return self.rc4.update(plain)

    def _seal_aead(self, content_type: int, data: bytes) -> bytes:
        aad = self.header(content_type, len(data))
        if self.params.mode == "chacha20-poly1305":
            nonce = bytes(a ^ b for a, b in zip(self.iv, self.sequence.to_bytes(12, "big"), strict=True))
            return ChaCha20Poly1305(self.key).encrypt(nonce, data, aad)
        explicit = os.urandom(8)
        aead = AESGCM(self.key) if self.params.mode == "gcm" else AESCCM(self.key, self.params.tag_length)
        return explicit + aead.encrypt(self.iv + explicit, data, aad)

    def _pad(self, data: bytes) -> bytes:
        block = self.params.block_size
        length = block - (len(data) + 1) % block + block * self.padding_extra
        if length == block:
            length = 0
        length %= 256
        if self.version == 0x0300:  # SSL 3.0: any padding bytes, then their count
            return data + os.urandom(length) + bytes([length])
        return data + bytes([length]) * (length + 1)

    def _encrypt(self, data: bytes) -> bytes:
        if self.version >= 0x0302:
            iv = os.urandom(self.params.block_size)
        else:
            iv = self.iv
        encryptor = Cipher(reference_block_cipher(self.params.cipher, self.key), modes.CBC(iv)).encryptor()
        encrypted = encryptor.update(data) + encryptor.finalize()
        if self.version >= 0x0302:
            return iv + encrypted
        self.iv = encrypted[-self.params.block_size :]  # SSL 3.0 / TLS 1.0: the next record's IV
        return encrypted

    def _seal_cbc(self, content_type: int, data: bytes) -> bytes:
        if self.encrypt_then_mac:
            encrypted = self._encrypt(self._pad(data))
            return encrypted + self.mac(content_type, encrypted)
        return self._encrypt(self._pad(data + self.mac(content_type, data)))


def make_pair(code: int, version: int, etm: bool = False, padding_extra: int = 0) -> tuple[Sealer, Tls12Decryptor]:
    params = tls12_suite_params(code)
    assert params is not None
    key = os.urandom(params.write_key_length)
    iv = os.urandom(params.fixed_iv_length)
    mac_key = os.urandom(params.mac_length)
    sealer = Sealer(params, key, iv, mac_key, version, etm, padding_extra=padding_extra)
    return sealer, Tls12Decryptor(params, key, iv, mac_key, version, encrypt_then_mac=etm)


MESSAGES = [
    (22, bytes([20, 0, 0, 12]) + bytes(range(12))),  # Finished
    (23, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
    (23, bytes(range(256)) * 3),
    (23, b""),  # empty application data records exist (CBC countermeasure 1/n-1 split)
    (21, b"\x01\x00"),  # close_notify
]

TLS12_CASES = [
    pytest.param(0xC02F, 0x0303, False, id="AES-128-GCM"),
    pytest.param(0xC030, 0x0303, False, id="AES-256-GCM-SHA384"),
    pytest.param(0xCCA8, 0x0303, False, id="CHACHA20-POLY1305"),
    pytest.param(0xC0AC, 0x0303, False, id="AES-128-CCM"),
    pytest.param(0xC0AE, 0x0303, False, id="AES-128-CCM-8"),
    pytest.param(0xC013, 0x0301, False, id="CBC-SHA-TLS1.0-chained-IV"),
    pytest.param(0xC013, 0x0302, False, id="CBC-SHA-TLS1.1-explicit-IV"),
    pytest.param(0xC014, 0x0303, False, id="AES-256-CBC-SHA-TLS1.2"),
    pytest.param(0xC027, 0x0303, False, id="CBC-SHA256-MtE"),
    pytest.param(0xC027, 0x0303, True, id="CBC-SHA256-EtM"),
    pytest.param(0xC028, 0x0303, True, id="CBC-SHA384-EtM"),
    pytest.param(0xC013, 0x0301, True, id="CBC-SHA-TLS1.0-EtM"),
    pytest.param(0x000A, 0x0303, False, id="3DES-EDE-CBC-SHA"),
    pytest.param(0x000A, 0x0301, False, id="3DES-TLS1.0-chained-IV"),
    pytest.param(0x0041, 0x0303, False, id="CAMELLIA-128-CBC-SHA"),
    pytest.param(0xC077, 0x0303, True, id="CAMELLIA-256-CBC-SHA384-EtM"),
    pytest.param(0x0096, 0x0302, False, id="SEED-CBC-SHA"),
    pytest.param(0x0007, 0x0301, False, id="IDEA-CBC-SHA-TLS1.0"),
    pytest.param(0x0009, 0x0303, False, id="DES-CBC-SHA"),
    pytest.param(0x0008, 0x0301, False, id="EXPORT-DES40-CBC-SHA"),
    pytest.param(0x0006, 0x0301, False, id="EXPORT-RC2-CBC-40-MD5"),
    pytest.param(0x0005, 0x0303, False, id="RC4-128-SHA"),
    pytest.param(0x0004, 0x0301, False, id="RC4-128-MD5"),
    pytest.param(0x0003, 0x0301, False, id="EXPORT-RC4-40-MD5"),
    pytest.param(0x0002, 0x0303, False, id="NULL-SHA"),
    pytest.param(0x003B, 0x0303, False, id="NULL-SHA256"),
    pytest.param(0x002F, 0x0300, False, id="SSL3-AES-128-CBC-SHA"),
    pytest.param(0x000A, 0x0300, False, id="SSL3-3DES-EDE-CBC-SHA"),
    pytest.param(0x0004, 0x0300, False, id="SSL3-RC4-128-MD5"),
    pytest.param(0x0001, 0x0300, False, id="SSL3-NULL-MD5"),
]


@pytest.mark.parametrize(("code", "version", "etm"), TLS12_CASES)
def test_tls12_round_trip(code: int, version: int, etm: bool):
    sealer, decryptor = make_pair(code, version, etm)
    for content_type, data in MESSAGES:
        body = sealer.seal(content_type, data)
        assert decryptor.decrypt(content_type, version, body) == data
    assert decryptor.sequence_number == len(MESSAGES)


@pytest.mark.parametrize(("code", "version", "etm"), TLS12_CASES)
def test_tls12_tampered_or_misordered_records_fail(code: int, version: int, etm: bool):
    sealer, decryptor = make_pair(code, version, etm)
    first = sealer.seal(22, b"\x14\x00\x00\x0c" + bytes(12))
    second = sealer.seal(23, b"hello world, this is record two")
    with pytest.raises(DecryptError):  # record 1 opened at sequence number 0
        decryptor.decrypt(23, version, second)
    for position in (0, len(first) // 2, len(first) - 1):
        bad = bytearray(first)
        bad[position] ^= 0x80
        with pytest.raises(DecryptError):
            decryptor.decrypt(22, version, bytes(bad))
    with pytest.raises(DecryptError):  # content type is authenticated
        decryptor.decrypt(23, version, first)
    if version != 0x0300:  # the SSL 3.0 MAC leaves the version out
        with pytest.raises(DecryptError):  # version is authenticated
            decryptor.decrypt(22, version ^ 0x0001, first)
    # Failures leave the state alone: the right records still open, in order.
    assert decryptor.sequence_number == 0
    assert decryptor.decrypt(22, version, first) == b"\x14\x00\x00\x0c" + bytes(12)
    assert decryptor.decrypt(23, version, second) == b"hello world, this is record two"


@pytest.mark.parametrize("etm", [False, True])
def test_tls12_cbc_long_padding_accepted(etm: bool):
    sealer, decryptor = make_pair(0xC013, 0x0303, etm, padding_extra=7)
    for content_type, data in MESSAGES:
        assert decryptor.decrypt(content_type, 0x0303, sealer.seal(content_type, data)) == data


def test_tls10_chained_iv_comes_from_the_previous_record():
    params = tls12_suite_params(0xC014)
    assert params is not None
    key, iv, mac_key = os.urandom(32), os.urandom(16), os.urandom(20)
    sealer_a = Sealer(params, key, iv, mac_key, 0x0301)
    sealer_b = Sealer(params, key, iv, mac_key, 0x0301)
    first_a = sealer_a.seal(22, b"\x14\x00\x00\x0c" + bytes(12))
    second_a = sealer_a.seal(23, b"x" * 100)
    sealer_b.seal(22, b"\x14\x00\x00\x0c" + b"\xff" * 12)  # another first record, another last block
    second_b = sealer_b.seal(23, b"x" * 100)
    # Same keys and sequence number; only the chained IV differs, and only A's second record opens.
    decryptor = Tls12Decryptor(params, key, iv, mac_key, 0x0301)
    decryptor.decrypt(22, 0x0301, first_a)
    with pytest.raises(DecryptError):
        decryptor.decrypt(23, 0x0301, second_b)
    assert decryptor.decrypt(23, 0x0301, second_a) == b"x" * 100


def test_tls12_bad_padding_under_mte_is_bad_mac():
    params = tls12_suite_params(0xC013)
    assert params is not None
    key, mac_key, iv = os.urandom(16), os.urandom(20), os.urandom(16)
    sealer = Sealer(params, key, bytes(16), mac_key, 0x0303)
    data = b"A" * 10
    good = data + sealer.mac(23, data) + b"\x01\x01"  # 32 bytes: 2 bytes of padding, length 1
    bad = data + sealer.mac(23, data) + b"\x00\x01"  # a padding byte that is not the length
    decryptor = Tls12Decryptor(params, key, bytes(16), mac_key, 0x0303)
    for plain in (bad, good):
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        body = iv + encryptor.update(plain) + encryptor.finalize()
        if plain is bad:
            with pytest.raises(DecryptError) as info:
                decryptor.decrypt(23, 0x0303, body)
            assert str(info.value) == BAD_MAC
        else:
            assert decryptor.decrypt(23, 0x0303, body) == data


def test_tls12_bad_padding_under_valid_etm_mac_is_reported():
    params = tls12_suite_params(0xC027)
    assert params is not None
    key, mac_key, iv = os.urandom(16), os.urandom(32), os.urandom(16)
    sealer = Sealer(params, key, bytes(16), mac_key, 0x0303, encrypt_then_mac=True)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = iv + encryptor.update(b"B" * 13 + b"\x07\x02\x02") + encryptor.finalize()  # 07 != 02
    decryptor = Tls12Decryptor(params, key, bytes(16), mac_key, 0x0303, encrypt_then_mac=True)
    with pytest.raises(DecryptError, match="padding"):
        decryptor.decrypt(23, 0x0303, encrypted + sealer.mac(23, encrypted))


def test_tls12_structural_errors_are_decrypt_errors():
    cases = [(0xC013, 0x0303, False), (0xC013, 0x0301, False), (0xC027, 0x0303, True), (0xC02F, 0x0303, False),
             (0xCCA8, 0x0303, False), (0x0005, 0x0303, False), (0x0002, 0x0303, False), (0x000A, 0x0300, False),
             (0x0004, 0x0300, False)]  # fmt: skip
    for code, version, etm in cases:
        _, decryptor = make_pair(code, version, etm)
        for body in (b"", b"\x00", bytes(15), bytes(17), bytes(31), bytes(32), bytes(47), bytes(64),
                     bytes(MAX_BODY + 1)):  # fmt: skip
            with pytest.raises(DecryptError):
                decryptor.decrypt(23, version, body)
        assert decryptor.sequence_number == 0


MAX_BODY = (1 << 14) + 2048


def test_tls12_wrong_key_length_is_refused():
    params = tls12_suite_params(0xC02F)
    assert params is not None
    with pytest.raises(DecryptError):
        Tls12Decryptor(params, bytes(32), bytes(4), b"", 0x0303)


def test_tls12_decryptors_use_the_key_block():
    master, client_random, server_random = os.urandom(48), os.urandom(32), os.urandom(32)
    for code, version, etm in [(0xC02F, 0x0303, False), (0xC013, 0x0301, False), (0xC027, 0x0303, True),
                               (0xCCA9, 0x0303, False), (0xC014, 0x0302, True)]:  # fmt: skip
        pair = tls12_decryptors(master, client_random, server_random, code, version, etm)
        assert pair is not None
        params = tls12_suite_params(code)
        assert params is not None
        block = key_block(master, client_random, server_random, params, version)
        client = Sealer(params, block.client_key, block.client_iv, block.client_mac, version, etm)
        server = Sealer(params, block.server_key, block.server_iv, block.server_mac, version, etm)
        assert pair[0].decrypt(22, version, client.seal(22, b"client finished")) == b"client finished"
        assert pair[1].decrypt(22, version, server.seal(22, b"server finished")) == b"server finished"
        with pytest.raises(DecryptError):  # directions are not interchangeable
            pair[1].decrypt(23, version, client.seal(23, b"to the server"))


# ============================================================================================
# Real captures from the public corpus, with their key logs


def split_handshake(data: bytes) -> list[bytes]:
    """Whole handshake messages (header included) in `data`; a partial tail is left out."""
    messages = []
    while len(data) >= 4:
        length = int.from_bytes(data[1:4], "big")
        if len(data) < 4 + length:
            break
        messages.append(data[: 4 + length])
        data = data[4 + length :]
    return messages


@dataclass
class Flow:
    """A TCP connection's records in the order they completed: (from_client, header, body)."""

    records: list[tuple[bool, bytes, bytes]]


def _records_of(chunks: list[tuple[int, bytes]]) -> Flow:
    buffers = {0: b"", 1: b""}
    records: list[tuple[int, bytes, bytes]] = []
    for node, chunk in chunks:
        buffers[node] += chunk
        while len(buffers[node]) >= 5:
            length = struct.unpack(">H", buffers[node][3:5])[0]
            if len(buffers[node]) < 5 + length:
                break
            records.append((node, buffers[node][:5], buffers[node][5 : 5 + length]))
            buffers[node] = buffers[node][5 + length :]
    client_node = next(node for node, header, body in records if header[0] == 22 and body[0] == 1)
    return Flow([(node == client_node, header, body) for node, header, body in records])


def follow_streams(capture: Path, streams: list[int]) -> dict[int, Flow]:
    """Records of these TCP streams as tshark reassembles them (`-z follow,tcp,raw,N`), one run."""
    command = ["tshark", "-r", str(capture), "-q"]
    for stream in streams:
        command += ["-z", f"follow,tcp,raw,{stream}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    chunks: dict[int, list[tuple[int, bytes]]] = {}
    current: int | None = None
    for line in result.stdout.splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            current = int(line.rsplit(" ", 1)[1])
            chunks[current] = []
        elif line.startswith("="):
            continue
        elif current is not None and line.strip() and not line.startswith(("Node ", "Follow:")):
            chunks[current].append((1 if line.startswith("\t") else 0, bytes.fromhex(line.strip())))
    assert sorted(chunks) == sorted(streams)
    return {stream: _records_of(found) for stream, found in chunks.items()}


def follow_records(capture: Path) -> Flow:
    """Records of TCP stream 0."""
    return follow_streams(capture, [0])[0]


@dataclass
class Hello:
    random: bytes
    cipher_suite: int
    extensions: dict[int, bytes]


def parse_hello(message: bytes) -> Hello:
    body = message[4:]
    random = body[2:34]
    offset = 35 + body[34]
    if message[0] == 1:  # ClientHello: a list of suites; keep the first
        suites_length = int.from_bytes(body[offset : offset + 2], "big")
        suite = int.from_bytes(body[offset + 2 : offset + 4], "big")
        offset += 2 + suites_length
        offset += 1 + body[offset]
    else:
        suite = int.from_bytes(body[offset : offset + 2], "big")
        offset += 3
    extensions: dict[int, bytes] = {}
    if offset + 2 <= len(body):
        end = offset + 2 + int.from_bytes(body[offset : offset + 2], "big")
        offset += 2
        while offset + 4 <= end:
            kind, length = struct.unpack(">HH", body[offset : offset + 4])
            extensions[kind] = body[offset + 4 : offset + 4 + length]
            offset += 4 + length
    return Hello(random=random, cipher_suite=suite, extensions=extensions)


def corpus_keylogs() -> dict[str, Path]:
    """capture path → key log path, from PROVENANCE.tsv's `keylog` column."""
    with (CORPUS / "PROVENANCE.tsv").open(newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {row["corpus_path"]: CORPUS / row["keylog"] for row in rows if row.get("keylog")}


needs_tshark = pytest.mark.usefixtures("tshark_and_corpus")  # conftest: fails, never skips


def hellos(flow: Flow) -> tuple[Hello, Hello, int]:
    """The ClientHello, the ServerHello, and the version the ServerHello chose."""
    client_hello = server_hello = None
    version = 0
    for from_client, header, body in flow.records:
        if header[0] == 22 and body[:1] == (b"\x01" if from_client else b"\x02") and body[1] == 0:
            message = split_handshake(body)[0]
            if from_client and client_hello is None:
                client_hello = parse_hello(message)
            elif not from_client and server_hello is None:
                server_hello = parse_hello(message)
                version = int.from_bytes(message[4:6], "big")
    assert client_hello is not None and server_hello is not None
    return client_hello, server_hello, version


def capture_inputs(capture: str) -> tuple[Flow, dict[str, bytes], Hello, Hello]:
    keylog = load_keylog_file(corpus_keylogs()[capture])
    flow = follow_records(CORPUS / capture)
    client_hello, server_hello, _ = hellos(flow)
    secrets = keylog.for_random(client_hello.random)
    assert secrets is not None, "the key log has no line for this connection's ClientHello random"
    return flow, secrets, client_hello, server_hello


def ssl3_finished(master: bytes, sender: bytes, messages: bytes) -> bytes:
    """SSL 3.0 Finished body (RFC 6101 §5.6.9): MD5 and SHA-1 halves over the transcript."""
    out = b""
    for digest, pad in ((hashlib.md5, 48), (hashlib.sha1, 40)):
        inner = digest(messages + sender + master + b"\x36" * pad).digest()
        out += digest(master + b"\x5c" * pad + inner).digest()
    return out


@dataclass
class Opened:
    """What `open_tls12_flow` found in a connection."""

    suite: int
    version: int
    encrypt_then_mac: bool
    plaintexts: list[tuple[bool, int, bytes]]  # (from_client, content type, plaintext)


def open_tls12_flow(flow: Flow, secrets: dict[str, bytes]) -> Opened:
    """Decrypt every record after each side's ChangeCipherSpec and check both Finished messages
    against the handshake transcript (which proves PRF, key block, MAC and cipher at once)."""
    client_hello, server_hello, version = hellos(flow)
    suite, etm = server_hello.cipher_suite, 0x0016 in server_hello.extensions
    master = secrets["CLIENT_RANDOM"]
    pair = tls12_decryptors(master, client_hello.random, server_hello.random, suite, version, etm)
    assert pair is not None, f"suite 0x{suite:04x} not supported"
    params = tls12_suite_params(suite)
    assert params is not None
    decryptors = {True: pair[0], False: pair[1]}
    transcript = b""
    encrypted = {True: False, False: False}
    finished_seen = {True: False, False: False}
    plaintexts: list[tuple[bool, int, bytes]] = []
    for from_client, header, body in flow.records:
        content_type, record_version = header[0], int.from_bytes(header[1:3], "big")
        if content_type == 20:
            encrypted[from_client] = True
            continue
        if not encrypted[from_client]:
            if content_type == 22:
                transcript += body
            continue
        plain = decryptors[from_client].decrypt(content_type, record_version, body)
        plaintexts.append((from_client, content_type, plain))
        if content_type == 22 and not finished_seen[from_client]:
            assert plain[0] == 20
            if version == 0x0300:
                sender = b"CLNT" if from_client else b"SRVR"
                assert plain[4:] == ssl3_finished(master, sender, transcript)
            else:
                label = b"client finished" if from_client else b"server finished"
                assert plain[4:] == tls12_finished_verify_data(master, label, transcript, version, params.prf_hash)
            transcript += plain
            finished_seen[from_client] = True
        elif content_type == 21:
            assert len(plain) == 2 and plain[0] in (1, 2)
    assert finished_seen == {True: True, False: True}
    return Opened(suite=suite, version=version, encrypt_then_mac=etm, plaintexts=plaintexts)


TLS12_CAPTURES = [
    # capture, cipher suite, version, encrypt_then_mac
    ("files/illustrated-tls12/capture.pcap", 0xC013, 0x0303, False),
    ("files/snet/mTLS1_2_RSA.pcap", 0xC027, 0x0303, True),
    ("files/snet/mTLS1_2_ECDSA.pcap", 0xC02C, 0x0303, False),
    ("files/snet/TLS1_2_ECDHE-RSA-AES128-GCM-SHA256_auth.pcap", 0xC02F, 0x0303, False),
    ("files/snet/mTLS1_1_RSA.pcap", 0xC014, 0x0302, True),
    ("files/snet/mTLS1_RSA.pcap", 0xC014, 0x0301, True),
]


@needs_tshark
@pytest.mark.parametrize(("capture", "suite", "version", "etm"), TLS12_CAPTURES)
def test_tls12_capture_finished_messages_decrypt_and_verify(capture: str, suite: int, version: int, etm: bool):
    flow, secrets, _, _ = capture_inputs(capture)
    opened = open_tls12_flow(flow, secrets)
    assert (opened.suite, opened.version, opened.encrypt_then_mac) == (suite, version, etm)
    assert opened.plaintexts[0][1] == 22  # the first record after ChangeCipherSpec: Finished


MANY_SUITE_CAPTURES = [
    # capture, TCP streams with a full handshake, versions expected, suites that must be among them
    ("files/wireshark-notes/tls__all__dump.pcapng", range(39), {0x0303}, {0x0003, 0x0006, 0x0041, 0x0096, 0xC011}),
    ("files/wireshark-notes/ssl3__dump.pcapng", range(39), {0x0300}, {0x0003, 0x0007, 0x0008, 0xC014}),
    ("files/wireshark-notes/tls__works__dump.pcapng", range(6), {0x0303}, {0x0004, 0x0005, 0xC007}),
    ("files/snet/tls1_1.pcap", [1], {0x0302}, set()),  # stream 0 ends in a protocol_version alert
    ("files/snet/ssl3_0.pcap", [1], {0x0300}, set()),  # stream 0 is a refused SYN
]


@needs_tshark
@pytest.mark.parametrize(("capture", "streams", "versions", "suites"), MANY_SUITE_CAPTURES)
def test_capture_with_many_suites_every_connection_opens(
    capture: str, streams: list[int], versions: set[int], suites: set[int]
):
    # OpenSSL test servers run through every suite they had (RC4, export RC2/DES40/RC4-40, DES,
    # IDEA, SEED, Camellia, 3DES, AES), over TLS 1.2 and SSL 3.0: all must open and verify.
    keylog = load_keylog_file(corpus_keylogs()[capture])
    flows = follow_streams(CORPUS / capture, list(streams))
    seen_suites, seen_versions = set(), set()
    for stream, flow in sorted(flows.items()):
        client_hello, _, _ = hellos(flow)
        secrets = keylog.for_random(client_hello.random)
        assert secrets is not None, f"stream {stream}: no key log line"
        opened = open_tls12_flow(flow, secrets)
        seen_suites.add(opened.suite)
        seen_versions.add(opened.version)
        assert any(ctype == 23 and data for _, ctype, data in opened.plaintexts), f"stream {stream}"
    assert seen_versions == versions
    assert suites <= seen_suites
    assert len(seen_suites) == len(flows) or not suites


@needs_tshark
def test_tls12_capture_application_data_plaintext():
    flow, secrets, client_hello, server_hello = capture_inputs("files/illustrated-tls12/capture.pcap")
    pair = tls12_decryptors(secrets["CLIENT_RANDOM"], client_hello.random, server_hello.random, 0xC013, 0x0303, False)
    assert pair is not None
    encrypted = {True: False, False: False}
    plaintexts = []
    for from_client, header, body in flow.records:
        if header[0] == 20:
            encrypted[from_client] = True
        elif encrypted[from_client]:
            plain = pair[0 if from_client else 1].decrypt(header[0], 0x0303, body)
            plaintexts.append((from_client, header[0], plain))
    assert (True, 23, b"ping") in plaintexts
    assert (False, 23, b"pong") in plaintexts
    assert (True, 21, b"\x01\x00") in plaintexts  # close_notify


@needs_tshark
def test_tls12_capture_wrong_master_secret_fails_cleanly():
    flow, secrets, client_hello, server_hello = capture_inputs("files/snet/mTLS1_2_RSA.pcap")
    wrong = bytes(b ^ 1 for b in secrets["CLIENT_RANDOM"])
    pair = tls12_decryptors(wrong, client_hello.random, server_hello.random, 0xC027, 0x0303, True)
    assert pair is not None
    after_ccs = False
    for from_client, header, body in flow.records:
        if from_client and header[0] == 20:
            after_ccs = True
        elif from_client and after_ccs:
            with pytest.raises(DecryptError) as info:
                pair[0].decrypt(header[0], 0x0303, body)
            assert "\n" not in str(info.value)
            return
    pytest.fail("no encrypted client record found")


TLS13_CAPTURES = [
    # capture, cipher suite, first client handshake message, client certificate requested
    ("files/illustrated-tls13/capture.pcap", 0x1302, 20, False),
    ("files/snet/mTLS1_3_RSA.pcap", 0x1303, 11, True),
    ("files/snet/mTLS1_3_ECDSA.pcap", 0x1303, 11, True),
]


@needs_tshark
@pytest.mark.parametrize(("capture", "suite", "client_first", "mutual"), TLS13_CAPTURES)
def test_tls13_capture_handshake_decrypts_and_verifies(capture: str, suite: int, client_first: int, mutual: bool):
    flow, secrets, client_hello, server_hello = capture_inputs(capture)
    assert server_hello.cipher_suite == suite
    assert server_hello.extensions.get(0x002B) == b"\x03\x04"  # supported_versions: TLS 1.3
    hash_name = TLS13_SUITES[suite].hash_name
    decryptors = {
        True: Tls13Decryptor(suite, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]),
        False: Tls13Decryptor(suite, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]),
    }
    application = {True: secrets["CLIENT_TRAFFIC_SECRET_0"], False: secrets["SERVER_TRAFFIC_SECRET_0"]}
    handshake_secret = {
        True: secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"],
        False: secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"],
    }
    transcript = b""
    first_inner: dict[bool, InnerPlaintext] = {}
    messages: dict[bool, list[int]] = {True: [], False: []}
    done = {True: False, False: False}
    for from_client, header, body in flow.records:
        if header[0] == 22:
            transcript += body  # ClientHello, ServerHello in the clear
            continue
        if header[0] != 23:
            continue  # middlebox-compatibility ChangeCipherSpec
        inner = decryptors[from_client].decrypt(header, body)
        first_inner.setdefault(from_client, inner)
        if done[from_client]:
            if inner.content_type == 22 and inner.data[:1] == b"\x18":
                decryptors[from_client].update_key()  # KeyUpdate
            continue
        assert inner.content_type == 22
        for message in split_handshake(inner.data):
            messages[from_client].append(message[0])
            if message[0] == 20:
                expected = finished_verify_data(
                    handshake_secret[from_client], hash_digest(hash_name, transcript), hash_name
                )
                assert message[4:] == expected, "Finished verify_data does not match the transcript"
                done[from_client] = True
                decryptors[from_client] = Tls13Decryptor(suite, application[from_client])
            transcript += message
    assert first_inner[False].content_type == 22 and first_inner[False].data[0] == 8  # EncryptedExtensions
    assert first_inner[True].content_type == 22 and first_inner[True].data[0] == client_first
    assert done == {True: True, False: True}
    assert (13 in messages[False]) == mutual  # CertificateRequest
    if mutual:
        assert messages[True][:3] == [11, 15, 20]  # Certificate, CertificateVerify, Finished


@needs_tshark
def test_tls13_capture_application_data_plaintext():
    flow, secrets, client_hello, _ = capture_inputs("files/illustrated-tls13/capture.pcap")
    decryptors = {
        True: Tls13Decryptor(0x1302, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]),
        False: Tls13Decryptor(0x1302, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]),
    }
    application = {True: secrets["CLIENT_TRAFFIC_SECRET_0"], False: secrets["SERVER_TRAFFIC_SECRET_0"]}
    seen = []
    for from_client, header, body in flow.records:
        if header[0] != 23:
            continue
        inner = decryptors[from_client].decrypt(header, body)
        seen.append((from_client, inner.content_type, inner.data))
        if inner.content_type == 22 and any(m[0] == 20 for m in split_handshake(inner.data)):
            decryptors[from_client] = Tls13Decryptor(0x1302, application[from_client])
    assert (True, 23, b"ping") in seen
    assert (False, 23, b"pong") in seen
    assert sum(1 for _, ctype, data in seen if ctype == 22 and data[:1] == b"\x04") == 2  # NewSessionTicket


@needs_tshark
def test_tls13_capture_handshake_record_under_application_secret_fails():
    flow, secrets, _, _ = capture_inputs("files/snet/mTLS1_3_RSA.pcap")
    wrong = Tls13Decryptor(0x1303, secrets["SERVER_TRAFFIC_SECRET_0"])
    header, body = next((h, b) for c, h, b in flow.records if not c and h[0] == 23)
    with pytest.raises(DecryptError):
        wrong.decrypt(header, body)
    right = Tls13Decryptor(0x1303, secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
    assert right.decrypt(header, body).data[0] == 8
