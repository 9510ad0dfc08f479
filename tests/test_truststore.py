"""Loading truststores in every format, with the same verdicts from each, and every way loading fails.

The certificates are made here: a root with an intermediate and a leaf, an unrelated root, and an
expired root with its own leaf. They are written as a PEM bundle, a folder of DER files (with files that
must be skipped), PKCS#12 (with and without a password), PKCS#7, and Java keystores made with `keytool`
(JKS, JCEKS, and PKCS#12 in a file named .jks).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from tlscap.errors import TlscapError
from tlscap.pki.certificate import CertificateSummary, summarize_certificate
from tlscap.pki.truststore import Truststore, TruststoreError, load_truststore
from tlscap.pki.verify import verify_chain

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
AT = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
PASSWORD = "s3cret pass"
KEYTOOL = shutil.which("keytool")
needs_keytool = pytest.mark.keytool  # conftest: fails when keytool is missing, never skips


def dn(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Capture Lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    start: dt.datetime = START,
    days: int = 3650,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


class Pki:
    """root → inter → leaf; other_root → other_leaf; old_root (expired by AT) → old_leaf."""

    def __init__(self) -> None:
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(6)]
        root_key, inter_key, leaf_key, other_key, old_key, self.leaf_key = keys
        self.root = make(dn("Root CA"), root_key, dn("Root CA"), root_key, ca=True)
        self.inter = make(dn("Client CA"), inter_key, dn("Root CA"), root_key, ca=True)
        self.leaf = make(dn("client-alice"), leaf_key, dn("Client CA"), inter_key, ca=False)
        self.other_root = make(dn("Other Root CA"), other_key, dn("Other Root CA"), other_key, ca=True)
        self.other_leaf = make(dn("client-eve"), leaf_key, dn("Other Root CA"), other_key, ca=False)
        old_start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        self.old_root = make(
            dn("Old Root CA"), old_key, dn("Old Root CA"), old_key, ca=True, start=old_start, days=1000
        )
        self.old_leaf = make(dn("client-carol"), leaf_key, dn("Old Root CA"), old_key, ca=False, start=old_start)
        self.cas = [self.root, self.other_root, self.old_root]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def summary(cert: x509.Certificate) -> CertificateSummary:
    return summarize_certificate(der(cert))


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def sha_set(truststore: Truststore) -> set[str]:
    return {a.sha256_hex for a in truststore.anchors}


def keytool(store: Path, cert: Path, alias: str, storetype: str, password: str = PASSWORD) -> None:
    assert KEYTOOL is not None
    subprocess.run(
        [
            KEYTOOL,
            "-importcert",
            "-noprompt",
            "-alias",
            alias,
            "-file",
            str(cert),
            "-keystore",
            str(store),
            "-storepass",
            password,
            "-storetype",
            storetype,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def java_keystore(tmp_path: Path, pki: Pki, storetype: str, name: str) -> Path:
    store = tmp_path / name
    for index, ca in enumerate(pki.cas):
        cert_file = tmp_path / f"ca{index}.pem"
        cert_file.write_bytes(pem(ca))
        keytool(store, cert_file, f"ca{index}", storetype)
    return store


# --------------------------------------------------------------------------- one writer per format


def write_pem_bundle(tmp_path: Path, pki: Pki) -> list[str]:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        b"# exported from the server\n"
        + pem(pki.root)
        + key_pem(ec.generate_private_key(ec.SECP256R1()))
        + pem(pki.other_root)
        + b"\n"
        + pem(pki.old_root)
    )
    return [str(bundle)]


def write_der_folder(tmp_path: Path, pki: Pki) -> list[str]:
    folder = tmp_path / "cas"
    (folder / "sub").mkdir(parents=True)
    (folder / "root.der").write_bytes(der(pki.root))
    (folder / "sub" / "other.cer").write_bytes(der(pki.other_root))
    (folder / "old.crt").write_bytes(der(pki.old_root))
    (folder / "README.txt").write_text("These are the client CAs of the capture lab.\n")
    (folder / "server.key").write_bytes(key_pem(ec.generate_private_key(ec.SECP256R1())))
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return [str(folder)]


def write_p12_password(tmp_path: Path, pki: Pki) -> list[str]:
    path = tmp_path / "truststore.p12"
    encryption = serialization.BestAvailableEncryption(PASSWORD.encode())
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"ts", None, None, pki.cas, encryption))
    return [str(path)]


def write_p12_no_password(tmp_path: Path, pki: Pki) -> list[str]:
    path = tmp_path / "truststore.pfx"
    encryption = serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"ts", None, None, pki.cas, encryption))
    return [str(path)]


def write_p7b(tmp_path: Path, pki: Pki) -> list[str]:
    path = tmp_path / "cas.p7b"
    path.write_bytes(pkcs7.serialize_certificates(pki.cas, serialization.Encoding.DER))
    return [str(path)]


def write_several_paths(tmp_path: Path, pki: Pki) -> list[str]:
    (tmp_path / "a.pem").write_bytes(pem(pki.root) + pem(pki.other_root))
    (tmp_path / "b.pem").write_bytes(pem(pki.other_root) + pem(pki.old_root))  # one duplicate
    return [str(tmp_path / "a.pem"), str(tmp_path / "b.pem")]


def write_jks(tmp_path: Path, pki: Pki) -> list[str]:
    return [str(java_keystore(tmp_path, pki, "JKS", "truststore.jks"))]


def write_jceks(tmp_path: Path, pki: Pki) -> list[str]:
    return [str(java_keystore(tmp_path, pki, "JCEKS", "truststore.jceks"))]


def write_java_pkcs12_named_jks(tmp_path: Path, pki: Pki) -> list[str]:
    # Java 9+ writes PKCS#12 by default, whatever the file is called.
    return [str(java_keystore(tmp_path, pki, "PKCS12", "cacerts.jks"))]


FORMATS = [
    pytest.param(write_pem_bundle, id="pem-bundle"),
    pytest.param(write_der_folder, id="der-folder"),
    pytest.param(write_p12_password, id="pkcs12-password"),
    pytest.param(write_p12_no_password, id="pkcs12-no-password"),
    pytest.param(write_p7b, id="pkcs7"),
    pytest.param(write_several_paths, id="several-paths"),
    pytest.param(write_jks, id="jks", marks=needs_keytool),
    pytest.param(write_jceks, id="jceks", marks=needs_keytool),
    pytest.param(write_java_pkcs12_named_jks, id="java-pkcs12", marks=needs_keytool),
]


@pytest.mark.parametrize("writer", FORMATS)
def test_every_format_gives_the_same_verdicts(writer, tmp_path: Path, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    truststore = load_truststore(writer(tmp_path, pki), password=PASSWORD)
    assert sha_set(truststore) == {summary(c).sha256_hex for c in pki.cas}
    assert set(truststore.sources) == sha_set(truststore)

    good = verify_chain([summary(pki.leaf), summary(pki.inter)], truststore, AT)
    assert good.trusted and good.anchor is not None and good.anchor.sha256_hex == summary(pki.root).sha256_hex
    missing = verify_chain([summary(pki.leaf)], truststore, AT)
    assert missing.problem == "unknown-issuer"
    assert missing.missing_issuer == "CN=Client CA,O=Capture Lab,C=US"
    assert verify_chain([summary(pki.other_leaf)], truststore, AT).trusted
    expired = verify_chain([summary(pki.old_leaf)], truststore, AT)
    assert expired.problem == "expired" and expired.anchor is not None
    assert expired.anchor.subject_rfc4514 == "CN=Old Root CA,O=Capture Lab,C=US"


def test_pem_bundle_keeps_order_and_notes_skipped_blocks(tmp_path: Path, pki: Pki) -> None:
    truststore = load_truststore(write_pem_bundle(tmp_path, pki))
    assert [a.subject_rfc4514 for a in truststore.anchors] == [
        "CN=Root CA,O=Capture Lab,C=US",
        "CN=Other Root CA,O=Capture Lab,C=US",
        "CN=Old Root CA,O=Capture Lab,C=US",
    ]
    assert truststore.notes == [f"{tmp_path / 'bundle.pem'}: skipped PEM block 2 (PRIVATE KEY): not a certificate"]


def test_folder_skips_non_certificates_with_notes(tmp_path: Path, pki: Pki) -> None:
    folder = write_der_folder(tmp_path, pki)[0]
    truststore = load_truststore([folder])
    assert len(truststore) == 3
    assert truststore.sources[summary(pki.other_root).sha256_hex] == f"{folder}/sub/other.cer"
    assert truststore.notes == [
        f"skipped {folder}/README.txt: not a certificate (neither PEM, DER, PKCS#12 nor a Java keystore)",
        f"skipped {folder}/server.key: holds a private key, not a certificate",
    ]


def test_several_paths_add_up_and_dedupe(tmp_path: Path, pki: Pki) -> None:
    paths = write_several_paths(tmp_path, pki)
    truststore = load_truststore(paths)
    assert len(truststore) == 3
    assert truststore.sources[summary(pki.other_root).sha256_hex] == paths[0]  # first seen wins
    assert truststore.sources[summary(pki.old_root).sha256_hex] == paths[1]
    assert truststore.notes == ["1 duplicate certificate(s) ignored (same SHA-256)"]


def test_single_der_and_pem_files(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "root.cer").write_bytes(der(pki.root))
    (tmp_path / "root.pem").write_bytes(pem(pki.root))
    assert sha_set(load_truststore([tmp_path / "root.cer"])) == {summary(pki.root).sha256_hex}
    assert sha_set(load_truststore([str(tmp_path / "root.pem")])) == {summary(pki.root).sha256_hex}


def test_openssl_trusted_certificate_block(tmp_path: Path, pki: Pki) -> None:
    import base64

    # `openssl x509 -trustout` appends the trust settings after the certificate's DER.
    body = base64.encodebytes(der(pki.root) + bytes.fromhex("300c300a06082b06010505070302")).decode()
    path = tmp_path / "trusted.pem"
    path.write_text(f"-----BEGIN TRUSTED CERTIFICATE-----\n{body}-----END TRUSTED CERTIFICATE-----\n")
    assert sha_set(load_truststore([str(path)])) == {summary(pki.root).sha256_hex}


def test_pkcs12_with_key_notes_it(tmp_path: Path, pki: Pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make(dn("server"), key, dn("Root CA"), key, ca=False)
    path = tmp_path / "keystore.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"srv", key, cert, [pki.root], serialization.NoEncryption()))
    truststore = load_truststore([str(path)])
    assert len(truststore) == 2
    assert truststore.notes == [
        f"{path} also holds a private key (a keystore rather than a truststore); "
        "its 2 certificate(s) are taken as trusted"
    ]


@needs_keytool
def test_jks_without_password_is_read_unchecked(tmp_path: Path, pki: Pki) -> None:
    store = write_jks(tmp_path, pki)[0]
    truststore = load_truststore([store])
    assert len(truststore) == 3
    assert truststore.notes == [f"{store}: JKS keystore read without a password, so its integrity was not checked"]


def test_truststore_lookups(pki: Pki) -> None:
    truststore = Truststore.from_certificates([summary(c) for c in pki.cas] + [summary(pki.root)])
    assert len(truststore) == 3
    assert [n.rfc4514_string() for n in truststore.subjects()] == [
        "CN=Root CA,O=Capture Lab,C=US",
        "CN=Other Root CA,O=Capture Lab,C=US",
        "CN=Old Root CA,O=Capture Lab,C=US",
    ]
    shouting = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "us"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "  CAPTURE   lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, "root ca"),
        ]
    )
    assert [a.sha256_hex for a in truststore.find_by_subject(shouting)] == [summary(pki.root).sha256_hex]
    assert truststore.find_by_subject(shouting.public_bytes())[0].sha256_hex == summary(pki.root).sha256_hex
    assert truststore.contains_name(shouting)
    assert not truststore.contains_name(dn("Client CA"))
    assert truststore.find_by_subject(None) == [] and not truststore.contains_name(None)
    assert truststore.contains(summary(pki.old_root)) and not truststore.contains(summary(pki.inter))


# --------------------------------------------------------------------------- errors


def error_of(paths: list[str], password: str | None = None) -> str:
    with pytest.raises(TruststoreError) as caught:
        load_truststore(paths, password=password)
    assert isinstance(caught.value, TlscapError)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    assert error_of([missing]) == f"truststore {missing}: no such file or folder"


def test_unreadable_file(tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "root.pem"
    path.write_bytes(pem(pki.root))

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert error_of([str(path)]) == f"{path}: cannot be read (Permission denied)"


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert error_of([str(tmp_path / "empty")]) == (
        f"truststore folder {tmp_path / 'empty'}: no certificates found (it is empty)"
    )


def test_folder_without_certificates(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "README.txt").write_text("nothing here\n")
    (folder / "key.pem").write_bytes(key_pem(ec.generate_private_key(ec.SECP256R1())))
    assert error_of([str(folder)]) == (
        f"truststore folder {folder}: no certificates found (2 file(s) skipped, none a certificate)"
    )


def test_key_only_pem(tmp_path: Path) -> None:
    path = tmp_path / "client.pem"
    path.write_bytes(key_pem(ec.generate_private_key(ec.SECP256R1())))
    assert error_of([str(path)]) == f"{path}: holds a private key, not a certificate"


def test_key_only_der_and_encrypted_pem(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der_key = tmp_path / "client.key"
    der_key.write_bytes(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    assert error_of([str(der_key)]) == f"{der_key}: holds a private key, not a certificate"
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    assert error_of([str(encrypted)]) == f"{encrypted}: holds a private key, not a certificate"


def test_corrupt_files(tmp_path: Path, pki: Pki) -> None:
    bad_base64 = tmp_path / "bad64.pem"
    bad_base64.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    assert error_of([str(bad_base64)]) == f"{bad_base64}: corrupt file: PEM block 1 is not valid base64"

    unterminated = tmp_path / "cut.pem"
    unterminated.write_bytes(pem(pki.root)[:200])
    assert error_of([str(unterminated)]) == f"{unterminated}: corrupt file: PEM block 1 (CERTIFICATE) has no END line"

    junk_in_pem = tmp_path / "junk.pem"
    junk_in_pem.write_text("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n")
    assert "corrupt file: PEM block 1 does not hold a readable certificate" in error_of([str(junk_in_pem)])

    truncated_der = tmp_path / "cut.der"
    truncated_der.write_bytes(der(pki.root)[:100])
    assert error_of([str(truncated_der)]) == f"{truncated_der}: corrupt file: the DER data is truncated"

    truncated_p12 = tmp_path / "cut.p12"
    truncated_p12.write_bytes(Path(write_p12_password(tmp_path, pki)[0]).read_bytes()[:300])
    assert error_of([str(truncated_p12)], PASSWORD) == f"{truncated_p12}: corrupt file: the PKCS#12 data is truncated"

    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(1, 256)))
    assert "not a certificate" in error_of([str(binary)])

    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    assert error_of([str(empty)]) == f"{empty}: empty file, not a certificate"


def test_pkcs12_wrong_or_missing_password(tmp_path: Path, pki: Pki) -> None:
    path = write_p12_password(tmp_path, pki)[0]
    assert error_of([path]) == (
        f"wrong password for PKCS#12 file {path} (give --truststore-password or TLSCAP_TRUSTSTORE_PASSWORD)"
    )
    assert error_of([path], "wrong").startswith(f"wrong password for PKCS#12 file {path} (the password given")


@needs_keytool
def test_jks_wrong_password(tmp_path: Path, pki: Pki) -> None:
    path = write_jks(tmp_path, pki)[0]
    assert error_of([path], "wrong").startswith(f"wrong password for JKS Java keystore {path}")


@needs_keytool
def test_corrupt_jks(tmp_path: Path, pki: Pki) -> None:
    path = Path(write_jks(tmp_path, pki)[0])
    data = path.read_bytes()
    path.write_bytes(data[:150])
    assert error_of([str(path)], PASSWORD).startswith(f"{path}: corrupt JKS Java keystore (")
    path.write_bytes(data[:-5])  # the integrity digest cut short
    assert error_of([str(path)], PASSWORD).startswith(f"{path}: corrupt JKS Java keystore (")


@needs_keytool
def test_java_pkcs12_wrong_password(tmp_path: Path, pki: Pki) -> None:
    path = write_java_pkcs12_named_jks(tmp_path, pki)[0]
    assert error_of([path]).startswith(f"wrong password for PKCS#12 file {path}")


def test_errors_in_a_folder_become_notes(tmp_path: Path, pki: Pki) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "root.pem").write_bytes(pem(pki.root))
    write_p12_password(folder, pki)
    truststore = load_truststore([str(folder)])
    assert len(truststore) == 1
    assert truststore.notes == [
        f"skipped {folder}/truststore.p12: wrong password for PKCS#12 file {folder}/truststore.p12 "
        "(give --truststore-password or TLSCAP_TRUSTSTORE_PASSWORD)"
    ]


def test_one_bare_path_is_not_split_into_characters(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "root.pem").write_bytes(pem(pki.root))
    assert len(load_truststore(str(tmp_path / "root.pem"))) == 1  # type: ignore[arg-type]


def test_special_files_are_not_read(tmp_path: Path, pki: Pki) -> None:
    import os

    folder = tmp_path / "with-fifo"
    folder.mkdir()
    (folder / "root.pem").write_bytes(pem(pki.root))
    os.mkfifo(folder / "pipe")  # reading it would block forever
    truststore = load_truststore([str(folder)])
    assert len(truststore) == 1
    assert truststore.notes == [f"skipped {folder}/pipe: not a regular file"]
    assert error_of([str(folder / "pipe")]) == f"truststore {folder}/pipe: not a regular file or folder"
