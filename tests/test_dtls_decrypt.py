"""DTLS with key logs: records opened by epoch and sequence number, held to tshark and to how each input was made.

- Primitives: DTLS 1.3 record-number masks (RFC 9147 §4.2.3 is QUIC's header protection, so RFC 9001's
  Appendix A vectors hold), the "dtls13" label prefix, and DTLS 1.2 records sealed here by the RFC 6347 rule
  (epoch || sequence in the additional data and in ChaCha20's nonce) opened in any order.
- The DTLS samples (openssl s_server/s_client -dtls1_2, key logs from s_client -keylogfile; AES-256-GCM,
  ChaCha20-Poly1305, AES-256-CBC-SHA384): every alert and Finished that tshark decrypts with the same key
  log, tlscap decrypts to the same (ChaCha20, which tshark 4.0 gets wrong, is held to how it was made), and
  the client's application data is what s_client was given; without the key log they stay as they were.
- Corpus captures with keys: hotplace's DTLS 1.2 (AES-CBC-SHA256, encrypt-then-MAC) against tshark's truth;
  WebRTC FreeSWITCH's DTLS 1.0 (AES-CBC-SHA, key log in the capture comment) against tshark given the whole
  comment; nDPI's DTLS 1.3 (AES-128-GCM, Decryption Secrets Block), which tshark 4.0 cannot decrypt, against
  the AEAD tags of every record and the wolfSSL test certificates its example programs send.
"""

from __future__ import annotations

import csv
import struct
import subprocess
from pathlib import Path

import adversarial as A
import dtls_pieces as D
import pytest
from corpus_facts import CORPUS, connection_facts, load_truth
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from test_corpus_dtls import dtls_truth_facts

from tlscap.analysis.engine import AnalysisOptions, analyze_capture
from tlscap.dtls.protection import nearest
from tlscap.dtls.session import DtlsSession
from tlscap.side import Side
from tlscap.tls.decrypt import Tls12Decryptor, record_number_mask, tls12_decryptors
from tlscap.tls.events import AlertEvent, ApplicationDataEvent, HandshakeEvent
from tlscap.tls.keylog import load_keylog_file, parse_keylog
from tlscap.tls.keyschedule import key_block, tls12_suite_params, traffic_keys

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "dtls"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.pcap"))
MANIFEST = {row["file"]: row for row in csv.DictReader((SAMPLES / "MANIFEST.tsv").open(), delimiter="\t")}
# What s_client sends once connected (make_dtls.sh pipes it to its standard input).
CLIENT_DATA = b"hello over DTLS\n"
# Samples whose records tshark 4.0 cannot open with their key log, and why. Their decrypted facts come from
# how they were made instead: the first epoch-1 handshake record of each side is its Finished (RFC 6347
# §4.1), and s_client and s_server end a working connection with a close_notify each.
TSHARK_CANNOT_DECRYPT = {
    "dtls12-success-chacha20": (
        "tshark 4.0.17 builds a DTLS ChaCha20-Poly1305 nonce from the 48-bit sequence number alone (its "
        "tls.debug_file shows the nonce as IV XOR 0 for an epoch-1 record whose additional data holds epoch 1), so "
        "every tag mismatches; RFC 7905 §2 puts epoch || sequence in the DTLS nonce, as OpenSSL did when it made "
        "and accepted these records"),
}


# --------------------------------------------------------------------------- primitives


@pytest.mark.parametrize(("aead", "key", "sample", "mask"), [
    # RFC 9001 A.2 (client Initial, AES) and A.5 (ChaCha20-Poly1305 short header): hp key, sample, mask.
    ("aes-gcm", "9f50449e04a0e810283a1e9933adedd2", "d1b1c98dd7689fb8ec11d242b123dc9b", "437b9aec36"),
    ("chacha20-poly1305", "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
     "5e5cd55c41f69080575d7999c25a5bfb", "aefefe7d03"),
])
def test_record_number_mask_is_quic_header_protection(aead, key, sample, mask):
    assert record_number_mask(aead, bytes.fromhex(key), bytes.fromhex(sample))[:5].hex() == mask


def _expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """RFC 9147 §5.9 / RFC 8446 §7.1 written out: HkdfLabel = length, "dtls13" + label, empty context."""
    info = struct.pack(">H", length) + bytes([len(label)]) + label + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def test_dtls13_traffic_keys_use_the_dtls13_prefix_and_an_sn_key():
    secret = bytes(range(32))
    keys = traffic_keys(secret, 0x1301, dtls=True)
    assert keys.key == _expand_label(secret, b"dtls13key", 16)
    assert keys.iv == _expand_label(secret, b"dtls13iv", 12)
    assert keys.sn_key == _expand_label(secret, b"dtls13sn", 16)
    assert traffic_keys(secret, 0x1301).key != keys.key and traffic_keys(secret, 0x1301).sn_key == b""


def test_sequence_numbers_are_reconstructed_nearest_the_expected_one():
    assert nearest(0, 0, 8) == 0
    assert nearest(250, 3, 8) == 259  # the low byte wrapped
    assert nearest(260, 254, 8) == 254  # a late record from before the wrap
    assert nearest(0x1_0005, 0xFFFE, 16) == 0xFFFE


def _seal12(aead: str, key: bytes, iv: bytes, epoch: int, seq: int, ctype: int, plain: bytes) -> bytes:
    """A DTLS 1.2 record body sealed as RFC 6347 §4.1.2.1 and RFC 5288 / RFC 7905 say."""
    number = struct.pack(">H", epoch) + seq.to_bytes(6, "big")  # 16-bit epoch || 48-bit sequence number
    aad = number + struct.pack(">BHH", ctype, 0xFEFD, len(plain))
    if aead == "gcm":
        explicit = struct.pack(">Q", seq + 1000)
        return explicit + AESGCM(key).encrypt(iv + explicit, plain, aad)
    nonce = bytes(a ^ b for a, b in zip(iv, bytes(4) + number, strict=True))
    return ChaCha20Poly1305(key).encrypt(nonce, plain, aad)


@pytest.mark.parametrize(("suite", "aead"), [(0xC02F, "gcm"), (0xCCA8, "chacha20")])
def test_dtls12_records_open_by_their_own_epoch_and_sequence(suite, aead):
    master, client_random, server_random = bytes(range(48)), b"\x11" * 32, b"\x22" * 32
    pair = tls12_decryptors(master, client_random, server_random, suite, 0xFEFD)
    assert pair is not None
    params = tls12_suite_params(suite)
    assert params is not None
    block = key_block(master, client_random, server_random, params, 0x0303)
    decryptor: Tls12Decryptor = pair[0]
    for seq in (5, 2, 9, 2):  # out of order, and once again (a resent record)
        body = _seal12(aead, block.client_key, block.client_iv, 1, seq, 23, b"record %d" % seq)
        assert decryptor.decrypt(23, 0xFEFD, body, sequence=1 << 48 | seq) == b"record %d" % seq
    assert decryptor.sequence_number == 0  # the TLS count of records is not used
    body = _seal12(aead, block.client_key, block.client_iv, 1, 3, 23, b"x")
    with pytest.raises(Exception, match="bad record MAC"):
        decryptor.decrypt(23, 0xFEFD, body, sequence=2 << 48 | 3)  # another epoch: not this record's number


def test_a_session_opens_records_in_any_order_and_keeps_going_after_a_bad_one():
    """ClientHello, ServerHello (AES-128-GCM), then the client's ChangeCipherSpec and Finished and its
    epoch-1 records out of order, one of them damaged; with the key log's master secret."""
    master = bytes(range(48))
    keylog = parse_keylog(f"CLIENT_RANDOM {'11' * 32} {master.hex()}")
    params = tls12_suite_params(0xC02B)
    assert params is not None
    block = key_block(master, b"\x11" * 32, b"\x22" * 32, params, 0x0303)

    def sealed(seq: int, ctype: int, plain: bytes, *, damage: bool = False) -> bytes:
        body = bytearray(_seal12("gcm", block.client_key, block.client_iv, 1, seq, ctype, plain))
        if damage:
            body[-1] ^= 1
        return D.record(ctype, bytes(body), epoch=1, sequence=seq)

    session = DtlsSession(keylog)
    session.feed_datagram(Side.FIRST, D.record(22, D.fragments(D.client_hello(), 0)[0]), 1)
    session.feed_datagram(Side.SECOND, D.record(22, D.fragments(D.server_hello(), 0)[0]), 2)
    finished = D.fragments(A.handshake(20, b"\x5a" * 12), 1)[0]
    session.feed_datagram(Side.FIRST, D.record(20, b"\x01", sequence=1) + sealed(0, 22, finished), 3)
    session.feed_datagram(Side.FIRST, sealed(3, 23, b"third"), 4)
    session.feed_datagram(Side.FIRST, sealed(1, 23, b"first", damage=True), 5)
    session.feed_datagram(Side.FIRST, sealed(2, 23, b"second"), 6)
    session.feed_datagram(Side.FIRST, sealed(4, 21, b"\x01\x00"), 7)
    session.feed_datagram(Side.FIRST, sealed(0, 22, finished), 8)  # the Finished resent
    session.finish()
    handshakes = [(e.frame, e.name, e.encrypted, e.retransmission) for e in session.events
                  if isinstance(e, HandshakeEvent)]
    assert (3, "Finished", False, False) in handshakes
    assert (8, "Finished", False, True) in handshakes
    assert [(e.frame, e.encrypted) for e in session.events if isinstance(e, ApplicationDataEvent)] == [
        (4, False), (5, True), (6, False)]
    (alert,) = [e for e in session.events if isinstance(e, AlertEvent)]
    assert (alert.frame, alert.level, alert.description, alert.encrypted) == (7, 1, 0, False)
    assert session.decrypted and session.key_problem is not None and "frame 5" in session.key_problem
    assert bytes(session.directions[Side.FIRST].app_plaintext) == b"thirdsecond"


# --------------------------------------------------------------------------- samples against tshark


def _tshark_facts(pcap: Path, keylog: Path) -> tuple[set, set, set, int]:
    """What tshark decrypts with the key log: alerts (frame, sender, level, description), the frames that
    complete each Finished (frame, sender), application-data frames; and the client's port."""
    out = subprocess.run(
        ["tshark", "-2", "-r", str(pcap), "-o", f"tls.keylog_file:{keylog}", "-Y", "dtls", "-T", "fields",
         "-E", "occurrence=a", "-E", "aggregator=|", "-e", "frame.number", "-e", "udp.srcport",
         "-e", "dtls.record.content_type", "-e", "dtls.handshake.type", "-e", "dtls.handshake.fragment_offset",
         "-e", "dtls.handshake.fragment_length", "-e", "dtls.handshake.length", "-e", "dtls.alert_message.level",
         "-e", "dtls.alert_message.desc"],
        capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    client_port = int(rows[0][1])
    alerts, finished, app = set(), set(), set()
    for frame_text, port, types, hs_types, offsets, lengths, totals, levels, descs in rows:
        frame, sender = int(frame_text), "client" if int(port) == client_port else "server"
        hs = zip(hs_types.split("|"), offsets.split("|"), lengths.split("|"), totals.split("|"), strict=False)
        for hs_type, offset, length, total in hs:
            if hs_type == "20" and int(offset) + int(length) == int(total):
                finished.add((frame, sender))
        if levels:
            alerts |= {(frame, sender, int(lv), int(d))
                       for lv, d in zip(levels.split("|"), descs.split("|"), strict=True)}
        if "23" in types.split("|"):
            app.add((frame, sender))
    return alerts, finished, app, client_port


def _facts_as_built(pcap: Path) -> tuple[set, set, set]:
    """For a sample tshark cannot decrypt: its records as tshark lists them without keys, read as the
    sample was made (TSHARK_CANNOT_DECRYPT)."""
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "dtls", "-T", "fields", "-e", "frame.number",
                          "-e", "udp.srcport", "-e", "dtls.record.content_type", "-e", "dtls.record.epoch"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    client_port = rows[0][1]
    alerts, finished, app = set(), set(), set()
    for frame_text, port, types, epochs in rows:
        frame, sender = int(frame_text), "client" if port == client_port else "server"
        for ctype, epoch in zip(types.split(","), epochs.split(","), strict=True):
            if epoch == "0":
                continue
            if ctype == "22" and not any(who == sender for _, who in finished):
                finished.add((frame, sender))
            elif ctype == "21":
                alerts.add((frame, sender, 1, 0))  # close_notify
            elif ctype == "23":
                app.add((frame, sender))
    return alerts, finished, app


def _udp_payloads(pcap: Path) -> list[tuple[int, int, bytes]]:
    """(frame, source port, payload) of each UDP datagram of a pcap from tcpdump on lo (Ethernet, IPv4)."""
    data = pcap.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1" and struct.unpack_from("<I", data, 20)[0] == 1
    out, pos, frame = [], 24, 0
    while pos < len(data):
        length = struct.unpack_from("<I", data, pos + 8)[0]
        packet = data[pos + 16 : pos + 16 + length]
        pos += 16 + length
        frame += 1
        ip = packet[14:]
        udp = ip[(ip[0] & 0x0F) * 4 :]
        out.append((frame, struct.unpack_from(">H", udp, 0)[0], udp[8 : struct.unpack_from(">H", udp, 4)[0]]))
    return out


def _tlscap_facts(conn) -> tuple[set, set, set]:
    alerts = {(a.frame, a.sender, a.level_code, a.description_code) for a in conn.alerts}
    finished = {(h.frame, h.sender) for h in conn.handshake if h.message == "Finished" and not h.encrypted}
    app = {(f, "client") for f in conn.client_app_data_frames} | {(f, "server") for f in conn.server_app_data_frames}
    return alerts, finished, app


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_decrypts_as_tshark_does(name):
    pcap, keylog = SAMPLES / f"{name}.pcap", SAMPLES / f"{name}.keylog"
    alerts, finished, app, client_port = _tshark_facts(pcap, keylog)
    if name in TSHARK_CANNOT_DECRYPT:
        assert not alerts and not finished, "tshark decrypts it now: drop it from TSHARK_CANNOT_DECRYPT"
        alerts, finished, app = _facts_as_built(pcap)
    report = analyze_capture(str(pcap), AnalysisOptions(keylog=load_keylog_file(keylog)))
    (conn,) = report.connections
    assert conn.client.port == client_port
    assert conn.decrypted and conn.key_problem is None
    assert _tlscap_facts(conn) == (alerts, finished, app)
    assert not conn.encrypted_records and not any(a.encrypted for a in conn.alerts)
    assert {h.sender for h in conn.handshake if h.message == "Finished"} <= {"client", "server"}


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_application_data_is_what_the_client_sent(name):
    """The decrypted application data of a connection that worked is what make_dtls.sh gave s_client."""
    session = DtlsSession(load_keylog_file(SAMPLES / f"{name}.keylog"))
    datagrams = _udp_payloads(SAMPLES / f"{name}.pcap")
    client_port = datagrams[0][1]
    for frame, port, payload in datagrams:
        session.feed_datagram(Side.FIRST if port == client_port else Side.SECOND, payload, frame)
    session.finish()
    sent = bytes(session.directions[Side.FIRST].app_plaintext)
    assert sent == (CLIENT_DATA if MANIFEST[f"{name}.pcap"]["built_to_show"] == "ok" else b"")
    assert not session.directions[Side.SECOND].app_plaintext  # s_server sends nothing back


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_without_its_key_log_keeps_protected_records_opaque(name):
    (conn,) = analyze_capture(str(SAMPLES / f"{name}.pcap")).connections
    assert not conn.decrypted and conn.key_problem is None
    assert all(h.encrypted for h in conn.handshake if h.message in ("Finished", "EncryptedHandshakeMessage"))


def test_the_samples_show_an_encrypted_alert_read_and_a_fragmented_finished():
    """dtls12-success ends with both close_notify alerts under epoch 1; in dtls12-expired-client-cert the
    client's Finished is split over two datagrams by -mtu 600 (tshark completes it in the second)."""
    alerts, _, _, _ = _tshark_facts(SAMPLES / "dtls12-success.pcap", SAMPLES / "dtls12-success.keylog")
    assert {(lv, d) for _, _, lv, d in alerts} == {(1, 0)} and len(alerts) == 2
    _, finished, _, _ = _tshark_facts(SAMPLES / "dtls12-expired-client-cert.pcap",
                                      SAMPLES / "dtls12-expired-client-cert.keylog")
    (conn,) = analyze_capture(str(SAMPLES / "dtls12-expired-client-cert.pcap"), AnalysisOptions(
        keylog=load_keylog_file(SAMPLES / "dtls12-expired-client-cert.keylog"))).connections
    (client_finished,) = [h for h in conn.handshake if h.message == "Finished"]
    assert (client_finished.frame, "client") in finished and len(client_finished.frames) == 2
    assert conn.diagnosis is not None and conn.diagnosis.cause == "client-cert-expired"


# --------------------------------------------------------------------------- corpus captures with keys


def test_hotplace_dtls12_cbc_encrypt_then_mac_agrees_with_tshark():
    truth = load_truth(CORPUS / "truth" / "hotplace__dtls12.pcapng.json")
    keylog = load_keylog_file(CORPUS / "files" / "hotplace" / "dtls12__sslkeylog")
    report = analyze_capture(str(CORPUS / truth["file"]), AnalysisOptions(keylog=keylog))
    (conn,) = [c for c in report.connections if c.transport == "udp"]
    assert conn.cipher_suite == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" and conn.decrypted
    assert connection_facts(conn) == dtls_truth_facts(truth)  # the alerts tshark decrypted, as it read them
    (session,) = truth["sessions"]
    steps = [step.split(":") for step in session["message_sequence"]]  # "14:c:finished"
    want = {(int(frame), "client" if who == "c" else "server") for frame, who, name in steps if name == "finished"}
    assert {(h.frame, h.sender) for h in conn.handshake if h.message == "Finished" and not h.encrypted} == want


def _comment_keylog(tmp_path: Path) -> Path:
    """The key-log lines kept in webrtc-freeswitch.pcapng's comment, as a file for tshark (both lines: the
    truth tool passed only the first, see test_corpus_dtls.py)."""
    out = subprocess.run(["capinfos", "-k", str(CORPUS / "files" / "wireshark-notes" / "webrtc-freeswitch.pcapng")],
                         capture_output=True, text=True, check=True).stdout
    comment = out.split("Capture comment:", 1)[1].strip()
    path = tmp_path / "freeswitch.keylog"
    path.write_text(comment.replace(" CLIENT_RANDOM", "\nCLIENT_RANDOM") + "\n")
    return path


def test_webrtc_dtls10_with_the_comment_keys_agrees_with_tshark(tmp_path):
    pcap = CORPUS / "files" / "wireshark-notes" / "webrtc-freeswitch.pcapng"
    keylog = _comment_keylog(tmp_path)
    assert len(keylog.read_text().splitlines()) == 2
    out = subprocess.run(
        ["tshark", "-2", "-r", str(pcap), "-o", f"tls.keylog_file:{keylog}", "-Y", "dtls.alert_message or "
         "dtls.handshake.type == 20", "-T", "fields", "-e", "frame.number", "-e", "dtls.alert_message.level",
         "-e", "dtls.alert_message.desc", "-e", "dtls.handshake.type"],
        capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    report = analyze_capture(str(pcap))  # the comment's keys are used as the capture holds them
    (conn,) = [c for c in report.connections if c.transport == "udp"]
    assert conn.version == "DTLS 1.0" and conn.decrypted and conn.key_problem is None
    assert {(a.frame, a.level_code, a.description_code) for a in conn.alerts} == {
        (int(f), int(lv), int(d)) for f, lv, d, _ in rows if lv}
    assert {h.frame for h in conn.handshake if h.message == "Finished" and not h.encrypted} == {
        int(f) for f, _, _, t in rows if "20" in t.split(",")}


# Public keys of wolfSSL's test certificates (certs/server-cert.pem, ca-cert.pem, client-cert.pem in
# github.com/wolfSSL/wolfssl: the first bytes of each RSA modulus, which stay when the certificates are
# renewed), which its example server and client (port 11111) send by default.
WOLFSSL_SERVER_KEY = "c09508e15741f2716db7d24541270165"
WOLFSSL_CA_KEY = "bf0cca2d14b21e84425bcd381f4af24d"
WOLFSSL_CLIENT_KEY = "c303d12bfe39a432453b53c8842b2a7c"


def _modulus_head(der: bytes) -> str:
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key.public_numbers().n.to_bytes(256, "big")[:16].hex()


def test_dtls13_with_a_decryption_secrets_block():
    """nDPI's dtls.pcap, udp.stream 3: wolfSSL's example client and server over DTLS 1.3 with mutual
    authentication, after a HelloRetryRequest; every record after the ServerHello is a unified header with a
    masked record number. tshark 4.0 shows those frames as plain UDP, so the truth is the AEAD: every record
    opens (a wrong key, nonce, record number or header byte fails its tag), and what they hold is what
    RFC 8446 §2 prescribes for this handshake, with wolfSSL's test certificates."""
    report = analyze_capture(str(CORPUS / "files" / "nDPI" / "dtls.pcap"))
    (conn,) = [c for c in report.connections if c.id == 3]
    assert conn.version == "DTLS 1.3" and conn.cipher_suite == "TLS_AES_128_GCM_SHA256"
    assert conn.decrypted and conn.key_problem is None and not conn.encrypted_records
    server = [h.message for h in conn.handshake if h.sender == "server" and h.frame > 10]
    client = [h.message for h in conn.handshake if h.sender == "client" and h.frame > 10]
    assert server == ["EncryptedExtensions", "CertificateRequest", "Certificate", "CertificateVerify", "Finished"]
    assert client == ["Certificate", "CertificateVerify", "Finished"]
    (request,) = conn.certificate_requests
    assert request.tls13 and request.ca_names == ()
    (server_chain,) = conn.server_certificates
    assert [_modulus_head(c.der) for c in server_chain.chain] == [WOLFSSL_SERVER_KEY, WOLFSSL_CA_KEY]
    (client_chain,) = conn.client_certificates
    assert [_modulus_head(c.der) for c in client_chain.chain] == [WOLFSSL_CLIENT_KEY]
    assert conn.client_app_data_frames and conn.server_app_data_frames
    # The examples end with wolfSSL_shutdown on both sides: a close_notify each, the last two datagrams.
    assert [(a.sender, a.level_code, a.description_code) for a in conn.alerts] == [
        ("server", 1, 0), ("client", 1, 0)]
    assert [a.frame for a in conn.alerts] == [conn.last_frame - 1, conn.last_frame]


def test_dtls13_without_its_secrets_stays_opaque():
    report = analyze_capture(str(CORPUS / "files" / "nDPI" / "dtls.pcap"), AnalysisOptions(embedded_secrets=False))
    (conn,) = [c for c in report.connections if c.id == 3]
    assert not conn.decrypted and not conn.certificate_requests and not conn.client_certificates
    assert [h.message for h in conn.handshake if h.frame > 10] == []
