"""Property tests (hypothesis) for every parser: whatever the bytes, it returns a value or raises a
documented error (a TlscapError subclass), never IndexError, struct.error, UnicodeError or a hang.

They extend the per-layer ones (test_capture, test_decode, test_tls_messages, test_keylog,
test_pki_certificate, test_pki_names), which fuzz single fixed files, single frames, whole-message
random bytes and one-byte changes, with what those do not reach: random chunking and gaps through the
record, handshake and session readers (decryption included), every truncation of real files and
messages, length fields inflated inside valid structures, random IP/TCP header fields, certificates
and distinguished names with arbitrary Unicode and every string type, the HTTP head reader, the
OpenVPN unwrapper and the truststore loader.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from datetime import datetime
from pathlib import Path

import adversarial as A
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tlscap.analysis.http import parse_http_response
from tlscap.capture.frame import Frame
from tlscap.capture.reader import open_capture
from tlscap.decode.decoder import Decoder
from tlscap.errors import CaptureOpenError, TlscapError
from tlscap.pki.certificate import summarize_certificate
from tlscap.pki.chain import find_breaks
from tlscap.pki.der import name_to_rfc4514, parse_name_der
from tlscap.pki.names import closest_name, explain_difference, names_equal, normalize_name
from tlscap.pki.truststore import TruststoreError, load_truststore
from tlscap.report.safe_text import safe
from tlscap.side import Side
from tlscap.tls import messages as M
from tlscap.tls.handshake import HandshakeReader
from tlscap.tls.keylog import KeyLog, parse_keylog
from tlscap.tls.openvpn import OpenVpnChannel, OpenVpnReader
from tlscap.tls.records import Record, RecordReader
from tlscap.tls.session import TlsSession

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples").glob("*.pcap")) + sorted((ROOT / "samples").glob("*.pcapng"))
SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

# --------------------------------------------------------------------------- capture readers


def _read(path: Path) -> None:
    try:
        reader = open_capture(path)
    except CaptureOpenError:
        return
    with reader:
        frames = list(reader)
    assert reader.info.frames >= len(frames)
    assert len([i for i in reader.info.issues if i.code in ("truncated-file", "bad-block", "bad-gzip",
                                                             "read-error", "decompression-limit")]) <= 1


@pytest.mark.parametrize("sample", SAMPLES[:6], ids=lambda p: p.name)
def test_every_truncation_of_a_real_capture(tmp_path, sample):
    data = sample.read_bytes()
    path = tmp_path / "cut"
    for cut in range(0, len(data), max(1, len(data) // 400)):
        path.write_bytes(data[:cut])
        _read(path)


_PCAP_MAGIC = st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x34\xcd\xb2\xa1"])


@SLOW
@given(magic=_PCAP_MAGIC, header=st.binary(min_size=20, max_size=20),
       records=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2**32 - 1)), st.integers(0, 2**32 - 1),
                                  st.binary(max_size=80)), max_size=6),
       packed=st.booleans())
def test_pcap_with_random_headers(tmp_path, magic, header, records, packed):
    """Random file headers (snap length, link type) and record headers whose captured length is honest
    (None) or anything."""
    order = "<" if magic[0] in (0xD4, 0x4D, 0x34) else ">"
    extra = b"\0" * 8 if magic in (b"\x34\xcd\xb2\xa1",) else b""
    body = b"".join(struct.pack(order + "IIII", 1, 2, len(data) if caplen is None else caplen, original) + extra
                    + data for caplen, original, data in records)
    data = magic + header + body
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(data) if packed else data)
    _read(path)


_BLOCK_TYPES = st.sampled_from([0x0A0D0D0A, 1, 2, 3, 4, 5, 6, 9, 10, 0xBAD, 0x40000BAD, 0x12345678])


@SLOW
@given(blocks=st.lists(st.tuples(_BLOCK_TYPES, st.integers(0, 300), st.binary(max_size=120), st.booleans()),
                       max_size=8))
def test_pcapng_with_random_blocks(tmp_path, blocks):
    out = [struct.pack("<II", 0x0A0D0D0A, 28) + b"\x4d\x3c\x2b\x1a" + struct.pack("<HHq", 1, 0, -1)
           + struct.pack("<I", 28)]
    for block_type, length, body, honest in blocks:
        if honest:
            body = body + b"\0" * (-len(body) % 4)
            length = 12 + len(body)
        out.append(struct.pack("<II", block_type, length) + body + struct.pack("<I", length))
    path = tmp_path / "x.pcapng"
    path.write_bytes(b"".join(out))
    _read(path)


# --------------------------------------------------------------------------- link, IP, TCP


@settings(max_examples=400, deadline=None)
@given(version=st.sampled_from([4, 6]), fields=st.lists(st.integers(0, 255), min_size=60, max_size=60),
       ihl=st.integers(0, 15), next_header=st.sampled_from([6, 17, 0, 43, 44, 60, 4, 41, 47, 1, 58, 59]),
       payload=st.binary(max_size=80), link_type=st.sampled_from([1, 101, 113, 276, 0]))
def test_ip_and_tcp_headers_with_random_fields(version, fields, ihl, next_header, payload, link_type):
    raw = bytes(fields)
    if version == 4:
        header = bytes([0x40 | ihl]) + raw[1:9] + bytes([next_header]) + raw[10:20]
    else:
        header = b"\x60" + raw[1:6] + bytes([next_header]) + raw[7:40]
    tcp = raw[40:60]
    packet = header + tcp + payload
    link = {1: b"\x02" * 12 + (b"\x08\x00" if version == 4 else b"\x86\xdd"), 101: b"",
            113: b"\0\0\0\1\0\6" + b"\0" * 8 + (b"\x08\x00" if version == 4 else b"\x86\xdd"),
            276: (b"\x08\x00" if version == 4 else b"\x86\xdd") + b"\0" * 18, 0: b"\x02\0\0\0"}[link_type]
    decoder = Decoder()
    for cut in (len(link) + len(packet), len(link) + 30):
        data = (link + packet)[:cut]
        decoder.decode(Frame(number=1, timestamp_ns=0, link_type=link_type, data=data, original_length=len(data)))
    assert decoder.stats["decode-error"] == 0


# --------------------------------------------------------------------------- records, handshake, session


_TLS_STREAM = st.lists(st.one_of(
    st.builds(lambda t, v, b: bytes([t]) + v + A.u16(len(b)) + b,
              st.sampled_from([20, 21, 22, 23, 24, 25]), st.sampled_from([b"\x03\x01", b"\x03\x03", b"\x03\x04",
                                                                          b"\x02\x00"]), st.binary(max_size=60)),
    st.builds(lambda t, b: b"\x16\x03\x03" + A.u16(len(b) + 4) + bytes([t]) + A.u24(len(b)) + b,
              st.sampled_from([1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20, 24]), st.binary(max_size=80)),
    st.binary(max_size=12)), max_size=12).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(stream=_TLS_STREAM, cuts=st.lists(st.integers(1, 40), max_size=20), gaps=st.sets(st.integers(0, 20)),
       keep=st.booleans())
def test_record_reader_with_random_chunks_and_gaps(stream, cuts, gaps, keep):
    reader = RecordReader(keep_application_data=keep)
    handshake = HandshakeReader()
    pos, frame = 0, 1
    for index, size in enumerate(cuts + [len(stream)]):
        chunk = stream[pos : pos + size]
        pos += size
        if index in gaps:
            events = reader.gap(size, frame, truncated=index % 2 == 0)
        else:
            events = reader.feed(chunk, frame, frame)
        for event in events:
            if isinstance(event, Record):
                assert event.length <= (1 << 14) + 2048 or event.content_type == -2
                if event.content_type == 22:
                    handshake.feed(event)
        frame += 1
        if pos >= len(stream):
            break


def _hello_pair(tls13: bool, suite: int) -> tuple[bytes, bytes]:
    hello = A.records(22, A.client_hello(random=b"\x42" * 32))
    extensions = A.u16(43) + A.vec16(A.u16(0x0304)) if tls13 else b""
    server = A.handshake(2, A.u16(0x0303) + b"\x24" * 32 + A.vec8(b"") + A.u16(suite) + b"\x00" + A.vec16(extensions))
    return hello, A.records(22, server)


_SUITES = st.sampled_from([0x1301, 0x1302, 0x1303, 0xC02F, 0xC030, 0xC02B, 0xC013, 0x009C, 0x002F, 0x0005,
                           0xCCA8, 0x0000])


@settings(max_examples=200, deadline=None)
@given(tls13=st.booleans(), suite=_SUITES, client=_TLS_STREAM, server=_TLS_STREAM, with_keys=st.booleans(),
       secret_size=st.sampled_from([32, 48]))
def test_session_with_keys_and_random_records(tls13, suite, client, server, with_keys, secret_size):
    """After real hellos, random records both ways, with a key log for this connection (so every protected
    record goes through a decryptor) or without."""
    keylog = None
    if with_keys:
        random = (b"\x42" * 32).hex()
        lines = [f"CLIENT_RANDOM {random} {'11' * 48}"] + [
            f"{label} {random} {'22' * secret_size}" for label in
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
             "SERVER_TRAFFIC_SECRET_0")]
        keylog = parse_keylog("\n".join(lines))
    session = TlsSession(keylog)
    hello, server_hello = _hello_pair(tls13, suite)
    session.feed(Side.FIRST, hello, 1, 1)
    session.feed(Side.SECOND, server_hello, 2, 2)
    session.feed(Side.FIRST, b"\x14\x03\x03\x00\x01\x01" + client, 3, 3)
    session.feed(Side.SECOND, b"\x14\x03\x03\x00\x01\x01" + server, 4, 4)
    session.gap(Side.FIRST, 7, 5, truncated=False)
    session.feed(Side.FIRST, client, 6, 6)
    assert all(ev.frame >= 1 for ev in session.events)


# --------------------------------------------------------------------------- message parsers


def _valid_messages() -> list[tuple[str, object, bytes]]:
    chain = A.make_chain(2)
    names = A.small_names(5)
    return [
        ("ClientHello", M.parse_client_hello, A.client_hello()[4:]),
        ("ServerHello", M.parse_server_hello, A.server_hello()[4:]),
        ("Certificate", lambda b: M.parse_certificate(b, tls13=False), A.certificate(chain)[4:]),
        ("Certificate13", lambda b: M.parse_certificate(b, tls13=True),
         b"\x00" + A.vec24(b"".join(A.vec24(d) + A.vec16(A.u16(5) + A.vec16(b"\x01")) for d in chain))),
        ("CertificateRequest", lambda b: M.parse_certificate_request(b, 0x0303), A.certificate_request(names)[4:]),
        ("CertificateRequest13", lambda b: M.parse_certificate_request(b, 0x0304),
         b"\x00" + A.vec16(A.u16(13) + A.vec16(A.vec16(A.u16(0x0403))) + A.u16(47)
                           + A.vec16(A.vec16(b"".join(A.vec16(n) for n in names))))),
        ("NewSessionTicket13", lambda b: M.parse_new_session_ticket(b, tls13=True),
         b"\0\0\0\1" + b"\0\0\0\2" + A.vec8(b"n") + A.vec16(b"ticket") + A.vec16(b"")),
    ]


VALID = _valid_messages()


@pytest.mark.parametrize(("name", "parse", "body"), VALID, ids=[v[0] for v in VALID])
def test_every_truncation_of_a_valid_message(name, parse, body):
    for cut in range(len(body)):
        try:
            parse(body[:cut])
        except M.MalformedMessage as error:
            assert "\n" not in str(error)


@settings(max_examples=300, deadline=None)
@given(which=st.sampled_from(VALID), data=st.data())
def test_inflated_lengths_inside_valid_messages(which, data):
    """Any one-, two- or three-byte window of a valid message (its length fields among them) set to an
    edge value: still only MalformedMessage."""
    _name, parse, body = which
    size = data.draw(st.sampled_from([1, 2, 3]))
    assume(len(body) > size)
    at = data.draw(st.integers(0, len(body) - size))
    value = data.draw(st.sampled_from([0, 1, (1 << (8 * size)) - 1, (1 << (8 * size - 1)), 18432, 65535]))
    value &= (1 << (8 * size)) - 1
    mutated = body[:at] + value.to_bytes(size, "big") + body[at + size :]
    try:
        parse(mutated)
    except M.MalformedMessage:
        pass


# --------------------------------------------------------------------------- certificates and names

_STRING_TYPES = st.sampled_from([_ASN1Type.UTF8String, _ASN1Type.PrintableString, _ASN1Type.IA5String,
                                 _ASN1Type.T61String, _ASN1Type.BMPString, _ASN1Type.UniversalString])
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_KEY = ec.generate_private_key(ec.SECP256R1())


def _attribute(oid, value, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a country that is not two letters: built anyway, as captures carry them
        try:
            return x509.NameAttribute(oid, value, _type=kind, _validate=False)
        except (TypeError, ValueError):
            return x509.NameAttribute(oid, value)


_NAMES = st.lists(st.tuples(st.sampled_from([NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME,
                                             NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COUNTRY_NAME]),
                            _TEXT, _STRING_TYPES), min_size=0, max_size=4)


def _name(parts) -> x509.Name | None:
    try:
        name = x509.Name([_attribute(oid, value, kind) for oid, value, kind in parts])
        name.public_bytes()
    except (ValueError, TypeError, UnicodeError):
        return None
    return name


@settings(max_examples=150, deadline=None)
@given(subject=_NAMES, issuer=_NAMES, san=st.lists(_TEXT, max_size=3))
def test_certificates_with_arbitrary_strings(subject, issuer, san):
    subject_name, issuer_name = _name(subject), _name(issuer)
    assume(subject_name is not None and issuer_name is not None)
    builder = (x509.CertificateBuilder().subject_name(subject_name).issuer_name(issuer_name)
               .public_key(_KEY.public_key()).serial_number(7)
               .not_valid_before(datetime(2020, 1, 1)).not_valid_after(datetime(2030, 1, 1)))
    try:
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(s) for s in san]),
                                            critical=False)
        der = builder.sign(_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    except (ValueError, TypeError, UnicodeError):
        assume(False)
        return
    summary = summarize_certificate(der)
    assert not (summary.parse_error or "").startswith("unreadable certificate (")
    summary.to_dict()
    safe(summary.subject_rfc4514).encode("utf-8")
    for cut in (len(der) // 3, len(der) // 2, len(der) - 1):
        assert not (summarize_certificate(der[:cut]).parse_error or "").startswith("unreadable certificate (")
    find_breaks([summary, summarize_certificate(der[: len(der) // 2])])


@settings(max_examples=300, deadline=None)
@given(a=_NAMES, b=_NAMES, junk=st.binary(max_size=40))
def test_name_comparison_with_arbitrary_strings_and_bytes(a, b, junk):
    first, second = _name(a), _name(b)
    assume(first is not None and second is not None)
    assert names_equal(first, first)
    assert names_equal(first, second) == names_equal(second, first)
    explain_difference(first, second)
    closest_name(first, [second, first.public_bytes(), junk])
    for raw in (junk, b"\x30" + bytes([len(junk)]) + junk if len(junk) < 128 else junk):
        parsed = parse_name_der(raw)
        text = name_to_rfc4514(raw)
        assert isinstance(text, str)
        if parsed is not None:
            normalize_name(parsed)
            explain_difference(parsed, first)
            names_equal(parsed, raw)


# --------------------------------------------------------------------------- other readers


@settings(max_examples=300, deadline=None)
@given(head=st.sampled_from([b"HTTP/1.1 400 Bad\r\n", b"HTTP/1.0 200\n", b"", b"HTTP/1.1 99"]),
       body=st.binary(max_size=300), title=st.text(max_size=40))
def test_http_head_reader(head, body, title):
    data = head + body + b"<title>" + title.encode("utf-8", "surrogatepass") + b"</title>" + body
    parsed = parse_http_response(data)
    if parsed is not None and parsed.title is not None:
        assert len(parsed.title) <= 200


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=120), max_size=8), reset=st.booleans())
def test_openvpn_reader(chunks, reset):
    reader = OpenVpnReader(OpenVpnChannel())
    if reset:
        reader.feed(b"\x00\x0e\x38" + b"\x11" * 8 + b"\x00\x00\x00\x00\x00", 1)
    for frame, chunk in enumerate(chunks, 2):
        for data, carrier in reader.feed(chunk, frame):
            assert isinstance(data, bytes) and carrier >= 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=400), st.builds(lambda b: b"-----BEGIN CERTIFICATE-----\n" + b
                                                                      + b"\n-----END CERTIFICATE-----\n",
                                                                      st.binary(max_size=200))),
       suffix=st.sampled_from([".pem", ".der", ".p12", ".jks", ".crt", ""]))
def test_truststore_loader_raises_only_truststore_error(tmp_path, data, suffix):
    path = tmp_path / f"trust{suffix}"
    path.write_bytes(data)
    try:
        load_truststore([path])
    except TruststoreError as error:
        assert isinstance(error, TlscapError)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.hex())),
                      max_size=10))
def test_keylog_from_pcapng_secrets_merges(lines):
    merged = KeyLog()
    merged.merge(parse_keylog("\n".join(lines).encode("utf-8", "surrogatepass"), source="pcapng DSB"))
    assert merged.lines_read >= 0


def test_environment_has_no_leftover_probe():
    """The fuzzer's probes (fuzz_mutate._install_probes) never run in the test process itself."""
    from tlscap.analysis import engine
    from tlscap.decode.decoder import Decoder as Plain

    assert engine.Decoder is Plain
    assert os.environ.get("TLSCAP_FUZZ_PROBES") is None
