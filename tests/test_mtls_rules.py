"""Every finding code, on connections built in the test, and no false alarm on healthy mTLS."""

from __future__ import annotations

from datetime import timedelta

from connection_pieces import handshake_entry
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_factory import NOW, hierarchy, issue, name, name_der, new_key

from tlscap.analysis.model import (
    AlertEntry,
    CaptureDamage,
    CertificateChainInfo,
    CertificateRequestInfo,
    Connection,
    Endpoint,
    TcpEndEntry,
)
from tlscap.analysis.rules import apply_rules
from tlscap.tls.constants import HandshakeType

T0 = int(NOW.timestamp() * 1e9)


def connection(*, version=0x0303, finished=True) -> Connection:
    conn = Connection(
        id=0, client=Endpoint(ip="192.0.2.1", port=50000), server=Endpoint(ip="192.0.2.2", port=443),
        first_frame=1, last_frame=20, first_time_ns=T0, last_time_ns=T0, version="TLS 1.2",
        version_code=version, frame_times_ns={f: T0 + f * 1000 for f in range(1, 21)},
    )
    conn.handshake = [
        handshake_entry(4, "client", HandshakeType.CLIENT_HELLO),
        handshake_entry(6, "server", HandshakeType.SERVER_HELLO),
        handshake_entry(6, "server", HandshakeType.CERTIFICATE),
    ]
    if finished:
        conn.handshake += [
            handshake_entry(8, "client", HandshakeType.FINISHED, encrypted=True),
            handshake_entry(9, "server", HandshakeType.FINISHED, encrypted=True),
        ]
        conn.client_finished = conn.server_finished = True
    return conn


def with_request(conn: Connection, ca_names=(), types=(1, 64), schemes=(0x0403, 0x0804, 0x0401)) -> Connection:
    conn.certificate_requests.append(CertificateRequestInfo(
        frame=6, frames=(6,), ca_names=tuple(n.rfc4514_string() for n in ca_names),
        ca_names_der=tuple(name_der(n) for n in ca_names), signature_algorithms=tuple(hex(s) for s in schemes),
        signature_algorithm_codes=tuple(schemes), certificate_types=tuple(str(t) for t in types),
        certificate_type_codes=tuple(types),
    ))
    return conn


def with_client_chain(conn: Connection, *certs) -> Connection:
    conn.client_certificates.append(CertificateChainInfo(
        frame=8, frames=(8,), sender="client", chain=tuple(c.summary for c in certs)))
    return conn


def codes(conn: Connection) -> set[str]:
    apply_rules(conn)
    return {f.code for f in conn.findings}


def test_healthy_mtls_listing_the_root_has_no_finding():
    root, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter)
    assert codes(conn) == set()


def test_chain_that_includes_the_root_is_fine():
    root, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter, root)
    assert codes(conn) == set()


def test_ca_list_naming_the_intermediate_is_fine():
    root, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection(), [inter.cert.subject]), leaf)
    assert codes(conn) == set()


def test_empty_ca_list_is_only_info():
    _, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection()), leaf, inter)
    assert codes(conn) == {"ca-list-empty"}
    assert conn.findings[0].severity == "info"


def test_case_and_whitespace_do_not_matter_in_ca_names():
    root, inter, leaf = hierarchy()
    listed = name("  test CLIENT   ca ", o="TEST LAB")
    conn = with_client_chain(with_request(connection(), [listed]), leaf)
    assert codes(conn) == set()


def test_client_cert_not_sent():
    root, _, _ = hierarchy()
    conn = with_client_chain(with_request(connection(), [root.cert.subject]))
    assert codes(conn) == {"client-cert-not-sent"}
    assert conn.findings[0].frames == (6, 8)


def test_expired_leaf():
    root, inter, _ = hierarchy()
    leaf = issue(name("client-markw"), inter, not_before=NOW - timedelta(days=900),
                 not_after=NOW - timedelta(days=30), eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter)
    assert codes(conn) == {"client-cert-expired"}
    assert "CN=client-markw" in conn.findings[0].message


def test_not_yet_valid_leaf():
    root, inter, _ = hierarchy()
    leaf = issue(name("client-future"), inter, not_before=NOW + timedelta(days=3),
                 eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter)
    assert codes(conn) == {"client-cert-not-yet-valid"}


def test_at_overrides_the_capture_time():
    root, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter)
    apply_rules(conn, NOW + timedelta(days=5000))
    assert {f.code for f in conn.findings} == {"client-cert-expired"}


def test_issuer_not_requested_names_the_closest_listed_ca():
    root, inter, leaf = hierarchy()
    other = issue(name("Test Client CA", o="Test Labs"), ca=True)
    conn = with_client_chain(with_request(connection(), [other.cert.subject]), leaf, inter)
    assert codes(conn) == {"client-cert-issuer-not-requested"}
    msg = conn.findings[0].message
    assert "O differs" in msg and "'Test Lab'" in msg and "'Test Labs'" in msg


def test_leaf_alone_hints_at_the_missing_intermediate():
    root, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf)
    assert codes(conn) == {"client-cert-issuer-not-requested"}
    # The issuer is seen nowhere; it shares the listed root's organization, so an intermediate is likely.
    assert "most likely an intermediate under it (client-chain-incomplete, likely)" in conn.findings[0].message
    assert conn.findings[0].fix.startswith("Client side: send the intermediate CN=Test Client CA")


def test_broken_chain():
    root, inter, leaf = hierarchy()
    stranger = issue(name("Stranger CA"), ca=True)
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, stranger, inter)
    assert "client-chain-broken" in codes(conn)


def test_same_name_other_key_breaks_the_chain():
    root, inter, leaf = hierarchy()
    impostor = issue(inter.cert.subject, root, ca=True)  # same name, different key
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, impostor)
    assert codes(conn) == {"client-chain-broken"}


def test_server_auth_only_leaf_is_wrong_usage():
    root, inter, _ = hierarchy()
    leaf = issue(name("web"), inter, eku=[ExtendedKeyUsageOID.SERVER_AUTH],
                 key_usage={"key_encipherment": True})
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter)
    assert codes(conn) == {"client-cert-wrong-usage"}
    assert "clientAuth" in conn.findings[0].message and "digitalSignature" in conn.findings[0].message


def test_key_type_not_accepted():
    root, inter, _ = hierarchy()
    leaf = issue(name("ed-client"), inter, key=new_key("ed25519"), eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    conn = with_client_chain(with_request(connection(), [root.cert.subject], types=(1,), schemes=(0x0401, 0x0804)),
                             leaf, inter)
    assert codes(conn) == {"client-cert-signature-not-accepted"}


def test_plaintext_fatal_alert_and_outcome():
    root, inter, leaf = hierarchy()
    conn = with_client_chain(with_request(connection(finished=False), [root.cert.subject]), leaf, inter)
    conn.alerts.append(AlertEntry(frame=9, frames=(9,), sender="server", level="fatal", description="unknown_ca",
                                  encrypted=False, level_code=2, description_code=48))
    assert codes(conn) == {"handshake-alert"}
    assert conn.outcome == "failed" and conn.findings[0].severity == "error"


def test_close_notify_is_not_a_finding():
    conn = connection()
    conn.alerts.append(AlertEntry(frame=15, frames=(15,), sender="client", level="warning",
                                  description="close_notify", encrypted=False))
    assert codes(conn) == set()


def test_encrypted_alert_after_client_finished_is_explained():
    root, inter, _ = hierarchy()
    leaf = issue(name("client-markw"), inter, not_after=NOW - timedelta(days=1),
                 eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    conn = with_client_chain(with_request(connection(finished=False), [root.cert.subject]), leaf, inter)
    conn.handshake.append(handshake_entry(8, "client", HandshakeType.FINISHED, encrypted=True))
    conn.client_finished = True
    conn.alerts.append(AlertEntry(frame=10, frames=(10,), sender="server", level=None, description=None,
                                  encrypted=True))
    assert codes(conn) == {"client-cert-expired", "encrypted-alert"}
    (f,) = [f for f in conn.findings if f.code == "encrypted-alert"]
    assert "certificate_expired" in f.message and "--keylog" in f.message
    assert conn.outcome == "failed"


def test_encrypted_alert_after_data_is_a_likely_close_notify():
    conn = connection()
    conn.server_app_data_frames.append(12)
    conn.alerts.append(AlertEntry(frame=14, frames=(14,), sender="server", level=None, description=None,
                                  encrypted=True))
    assert codes(conn) == set()


def test_handshake_incomplete():
    conn = connection(finished=False)
    conn.tcp_ends.append(TcpEndEntry(frame=7, sender="server", kind="FIN"))
    assert codes(conn) == {"handshake-incomplete"}
    assert conn.outcome == "incomplete"


def test_capture_truncated_and_gap():
    conn = connection()
    conn.damage.append(CaptureDamage(frame=8, sender="client", message="Certificate", detail="x", truncated=True))
    conn.damage.append(CaptureDamage(frame=6, sender="server", message="Certificate", detail="y", truncated=False))
    assert codes(conn) == {"capture-truncated", "capture-gap"}
    (t,) = [f for f in conn.findings if f.code == "capture-truncated"]
    assert "-s 0" in t.fix


def test_tls13_without_keys_is_handshake_encrypted():
    conn = connection(version=0x0304, finished=False)
    conn.client_app_data_frames.append(8)
    assert codes(conn) == {"handshake-encrypted"}
    assert conn.outcome == "unknown"


def test_a_renegotiation_asking_again_is_judged_too():
    root, inter, leaf = hierarchy()
    expired = issue(name("client-old"), inter, not_after=NOW - timedelta(days=1),
                    eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    conn = with_client_chain(with_request(connection(), [root.cert.subject]), leaf, inter)
    # the second handshake (frames 12 and 14) asks again and gets an expired certificate
    conn.certificate_requests.append(CertificateRequestInfo(
        frame=12, frames=(12,), ca_names=(root.cert.subject.rfc4514_string(),),
        ca_names_der=(name_der(root.cert.subject),), signature_algorithms=(), signature_algorithm_codes=(),
        certificate_types=(), certificate_type_codes=()))
    conn.client_certificates.append(CertificateChainInfo(frame=14, frames=(14,), sender="client",
                                                         chain=(expired.summary, inter.summary)))
    assert codes(conn) == {"client-cert-expired"}
    assert conn.findings[0].frames == (14,)
