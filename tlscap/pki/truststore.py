"""Truststores given by the user (`--truststore`): the certificates the server is meant to trust.

This is the one module outside `capture/` that opens files, because a truststore is an explicit, small,
user-given file or folder. `load_truststore` reads, by content (the file name's extension is not trusted,
as Java 9+ writes PKCS#12 into files named `.jks` and `.keystore`):

- PEM files: bundles of several certificates (`CERTIFICATE`, `X509 CERTIFICATE`, OpenSSL's
  `TRUSTED CERTIFICATE`) and `PKCS7` blocks; other blocks (keys, CRLs, CSRs) are skipped with a note.
- DER files: a single certificate, or a PKCS#7 (`.p7b`) bundle.
- PKCS#12 (`.p12`, `.pfx`, and Java's PKCS#12 keystores): every certificate in it. No password and the
  empty password are tried first, then the given one.
- Java keystores, JKS and JCEKS (read with `pyjks`, imported only when one is met): trusted-certificate
  entries, and of a key entry only the first certificate of its chain, as Java's trust manager does.
  Without a password the certificates are still read (they are not encrypted), but the keystore's
  integrity is not checked, as Java does when no truststore password is set; a note says so.
- Folders of any of these, recursively, in sorted order; hidden entries (`.name`) are skipped. A file in a
  folder that is not a certificate, or that cannot be read, is skipped with a note instead of an error.

Several paths add up; a certificate seen twice (same SHA-256) is kept once, from the first path. Every
problem that stops loading raises `TruststoreError` with one line naming the file and the reason.
The password is passed in; reading `TLSCAP_TRUSTSTORE_PASSWORD` is the command line's business.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from tlscap import limits
from tlscap.errors import TlscapError
from tlscap.pki.certificate import CertificateSummary, load_certificate, summarize_certificate
from tlscap.pki.certificate_by_hand import split_signed
from tlscap.pki.der import DerError, read_header
from tlscap.pki.names import NameKey, NameLike, normalize_name

__all__ = ["Truststore", "TruststoreError", "load_truststore"]

_PASSWORD_HINT = "give --truststore-password or TLSCAP_TRUSTSTORE_PASSWORD"
_JKS_MAGIC = b"\xfe\xed\xfe\xed"
_JCEKS_MAGIC = b"\xce\xce\xce\xce"
_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 #/_.-]+)-----")
_CERT_LABELS = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})
_PKCS7_LABELS = frozenset({"PKCS7", "PKCS #7 SIGNED DATA", "CMS"})
_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")  # 1.2.840.113549.1.7.1, as a DER TLV
_OID_PKCS7_SIGNED = bytes.fromhex("06092a864886f70d010702")  # 1.2.840.113549.1.7.2


class TruststoreError(TlscapError):
    """A truststore path cannot be used; the message is one line naming the file and the reason."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


# --------------------------------------------------------------------------- the truststore


@dataclass(frozen=True, slots=True, kw_only=True)
class Truststore:
    """The certificates a server trusts, in load order, with where each came from.

    `sources` maps each anchor's SHA-256 (lowercase hex) to the path of the file it was read from.
    `notes` says, one line each, what was skipped or not checked while loading.
    """

    anchors: list[CertificateSummary]
    sources: dict[str, str]
    notes: list[str] = field(default_factory=list)
    _by_subject: dict[NameKey, list[CertificateSummary]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _by_sha256: dict[str, CertificateSummary] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        index: dict[NameKey, list[CertificateSummary]] = {}
        for anchor in self.anchors:
            if anchor.subject_name is not None:
                index.setdefault(normalize_name(anchor.subject_name), []).append(anchor)
        # The dataclass is frozen so that these indexes cannot go stale; set them once here.
        object.__setattr__(self, "_by_subject", index)
        object.__setattr__(self, "_by_sha256", {anchor.sha256_hex: anchor for anchor in self.anchors})

    @classmethod
    def from_certificates(cls, certificates: Iterable[CertificateSummary], *, source: str = "(given)") -> Truststore:
        """A truststore made of certificates already in memory (deduplicated by SHA-256)."""
        anchors: list[CertificateSummary] = []
        sources: dict[str, str] = {}
        for certificate in certificates:
            if certificate.sha256_hex not in sources:
                sources[certificate.sha256_hex] = source
                anchors.append(certificate)
        return cls(anchors=anchors, sources=sources)

    def __len__(self) -> int:
        return len(self.anchors)

    def subjects(self) -> list[x509.Name]:
        """The anchors' subject names in load order (a name held by several anchors appears once each)."""
        return [anchor.subject_name for anchor in self.anchors if anchor.subject_name is not None]

    def find_by_subject(self, name: NameLike | None) -> list[CertificateSummary]:
        """The anchors whose subject equals `name` by RFC 5280 §7.1 (see `names`), in load order."""
        if name is None:
            return []
        return list(self._by_subject.get(normalize_name(name), ()))

    def contains_name(self, name: NameLike | None) -> bool:
        """True when some anchor's subject equals `name` by RFC 5280 §7.1."""
        return name is not None and normalize_name(name) in self._by_subject

    def contains(self, certificate: CertificateSummary) -> bool:
        """True when this very certificate (same SHA-256) is an anchor."""
        return certificate.sha256_hex in self._by_sha256

    def by_sha256(self, sha256: str) -> CertificateSummary | None:
        """The anchor with this SHA-256 (lowercase hex), or None."""
        return self._by_sha256.get(sha256)


# --------------------------------------------------------------------------- loading


@dataclass(slots=True)
class _Loader:
    """Collects certificates and notes over every path given."""

    password: str | None
    anchors: list[CertificateSummary] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    duplicates: int = 0

    def add(self, certificates: Iterable[CertificateSummary], path: str) -> int:
        """Add the certificates read from `path`; returns how many there were (duplicates included)."""
        count = 0
        for certificate in certificates:
            count += 1
            if certificate.sha256_hex in self.sources:
                self.duplicates += 1
                continue
            self.sources[certificate.sha256_hex] = path
            self.anchors.append(certificate)
            if certificate.parse_error is not None:
                named = certificate.subject_rfc4514 or "a certificate"
                self.notes.append(f"{path}: {named}: {certificate.parse_error}")
        return count


def load_truststore(paths: Sequence[str | os.PathLike[str]], *, password: str | None = None) -> Truststore:
    """Read every certificate in `paths` (files or folders; see the module docstring for the formats).

    Raises TruststoreError for a missing path, an unreadable or corrupt file, a folder without any
    certificate, a wrong password, or a file that holds a private key and no certificate.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]  # one path given bare: do not iterate over its characters
    loader = _Loader(password)
    for given in paths:
        path = os.fspath(given)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise TruststoreError(path, f"truststore {path}: no such file or folder") from None
        except OSError as exc:
            raise TruststoreError(path, f"truststore {path}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(info.st_mode):
            _load_folder(loader, path)
        elif stat.S_ISREG(info.st_mode):
            loader.add(_read_file(path, loader), path)
        else:
            raise TruststoreError(path, f"truststore {path}: not a regular file or folder")
    if loader.duplicates:
        loader.notes.append(f"{loader.duplicates} duplicate certificate(s) ignored (same SHA-256)")
    return Truststore(anchors=loader.anchors, sources=loader.sources, notes=loader.notes)


def _load_folder(loader: _Loader, folder: str) -> None:
    skipped: list[str] = []
    found = 0
    for path in _walk(folder, loader.notes):
        try:
            found += loader.add(_read_file(path, loader), path)
        except TruststoreError as exc:
            skipped.append(path)
            line = str(exc)
            loader.notes.append(f"skipped {line}" if line.startswith(path) else f"skipped {path}: {line}")
    if found == 0:
        detail = f" ({len(skipped)} file(s) skipped, none a certificate)" if skipped else " (it is empty)"
        raise TruststoreError(folder, f"truststore folder {folder}: no certificates found{detail}")


def _walk(folder: str, notes: list[str]) -> list[str]:
    """Every regular file under `folder`, sorted, following links but never the same folder twice.

    A sub-folder that cannot be listed, and anything that is not a regular file (a FIFO would block the
    read forever), is skipped with a note.
    """
    out: list[str] = []
    seen: set[str] = set()

    def visit(current: str) -> None:
        real = os.path.realpath(current)
        if real in seen:
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError as exc:
            if current == folder:
                raise TruststoreError(
                    current, f"truststore folder {current}: cannot be read ({exc.strerror or exc})"
                ) from None
            notes.append(f"skipped folder {current}: cannot be read ({exc.strerror or exc})")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue  # .git, editor swap files, macOS resource forks: never certificates
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:
                is_dir, is_file = False, False
            if is_dir:
                visit(entry.path)
            elif is_file:
                out.append(entry.path)
            else:
                notes.append(f"skipped {entry.path}: not a regular file")

    visit(folder)
    return out


def _reason(path: str, reason: str) -> TruststoreError:
    return TruststoreError(path, f"{path}: {reason}")


def _read_file(path: str, loader: _Loader) -> list[CertificateSummary]:
    """The certificates in one file, whatever its format; raises TruststoreError when there are none."""
    try:
        size = os.path.getsize(path)
        if size > limits.MAX_TRUSTSTORE_FILE:  # not a truststore: reading it whole would only waste memory
            raise _reason(path, f"{size // (1024 * 1024)} MiB is too large for a truststore")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _reason(path, f"cannot be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise _reason(path, "empty file, not a certificate")
    if data.startswith((_JKS_MAGIC, _JCEKS_MAGIC)):
        return _read_java_keystore(data, path, loader)
    if b"-----BEGIN " in data:
        return _read_pem(data, path, loader)
    return _read_der(data, path, loader)


# --------------------------------------------------------------------------- DER


def _header(data: bytes, pos: int) -> tuple[int, int, int | None] | None:
    """(tag, content start, content length or None if indefinite) of the element at `pos`, or None."""
    try:
        return read_header(data, pos, len(data))
    except DerError:
        return None


def _first_element(data: bytes) -> bytes:
    """The first DER element of `data` (OpenSSL's TRUSTED CERTIFICATE appends trust settings after it)."""
    head = _header(data, 0)
    if head is None or head[2] is None:
        return data
    return data[: head[1] + head[2]]


def _looks_like_pkcs12(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER 3, authSafe ContentInfo (data or signedData), ... }."""
    outer = _header(data, 0)
    if outer is None or outer[0] != 0x30:
        return False
    start = outer[1]
    if data[start : start + 3] != b"\x02\x01\x03":
        return False
    info = _header(data, start + 3)
    if info is None or info[0] != 0x30:
        return False
    oid = data[info[1] : info[1] + len(_OID_PKCS7_DATA)]
    return oid in (_OID_PKCS7_DATA, _OID_PKCS7_SIGNED)


def _looks_like_pkcs7(data: bytes) -> bool:
    """ContentInfo ::= SEQUENCE { contentType signedData, [0] ... }."""
    outer = _header(data, 0)
    return (
        outer is not None
        and outer[0] == 0x30
        and data[outer[1] : outer[1] + len(_OID_PKCS7_SIGNED)] == _OID_PKCS7_SIGNED
    )


def _key_kind(data: bytes, *, pem: bool) -> str | None:
    """'private key' or 'public key' when `data` is one, else None."""
    loaders = (
        (serialization.load_pem_private_key, serialization.load_pem_public_key)
        if pem
        else (serialization.load_der_private_key, serialization.load_der_public_key)
    )
    try:
        loaders[0](data, None)
        return "private key"
    except TypeError:
        return "private key"  # encrypted: it is a key all the same
    except (ValueError, UnsupportedAlgorithm):
        pass
    try:
        loaders[1](data)
        return "public key"
    except (ValueError, UnsupportedAlgorithm):
        return None


def _certificate_from_der(der: bytes) -> CertificateSummary | None:
    """A summary when `der` is a certificate (even one `cryptography` refuses), else None."""
    if load_certificate(der) is None and split_signed(der) is None:
        return None
    return summarize_certificate(der)


def _truncated(data: bytes) -> bool:
    """True when the outer DER element claims more bytes than the file holds."""
    outer = _header(data, 0)
    return outer is not None and outer[2] is not None and outer[1] + outer[2] > len(data)


def _read_der(data: bytes, path: str, loader: _Loader) -> list[CertificateSummary]:
    if _looks_like_pkcs12(data):
        if _truncated(data):
            raise _reason(path, "corrupt file: the PKCS#12 data is truncated")
        return _read_pkcs12(data, path, loader)
    if _looks_like_pkcs7(data):
        return _read_pkcs7(data, path, pem=False)
    certificate = _certificate_from_der(_first_element(data))
    if certificate is not None:
        return [certificate]
    kind = _key_kind(data, pem=False)
    if kind is not None:
        raise _reason(path, f"holds a {kind}, not a certificate")
    if data[:1] == b"\x30":
        if _truncated(data):
            raise _reason(path, "corrupt file: the DER data is truncated")
        raise _reason(path, "corrupt file: DER data that is not a certificate, PKCS#12 or PKCS#7 bundle")
    raise _reason(path, "not a certificate (neither PEM, DER, PKCS#12 nor a Java keystore)")


def _read_pkcs7(data: bytes, path: str, *, pem: bool) -> list[CertificateSummary]:
    try:
        loaded = pkcs7.load_pem_pkcs7_certificates(data) if pem else pkcs7.load_der_pkcs7_certificates(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _reason(path, f"corrupt PKCS#7 bundle ({_first_line(exc)})") from None
    return [summarize_certificate(cert.public_bytes(serialization.Encoding.DER)) for cert in loaded]


# --------------------------------------------------------------------------- PEM


def _read_pem(data: bytes, path: str, loader: _Loader) -> list[CertificateSummary]:
    certificates: list[CertificateSummary] = []
    skipped: list[str] = []
    notes: list[str] = []
    for number, (label, body, block) in enumerate(_pem_blocks(data, path), start=1):
        if label in _CERT_LABELS:
            certificates.append(_pem_certificate(body, path, number))
        elif label in _PKCS7_LABELS:
            certificates.extend(_read_pkcs7(block, path, pem=True))
        else:
            skipped.append(label)
            notes.append(f"{path}: skipped PEM block {number} ({label}): not a certificate")
    if certificates:
        loader.notes.extend(notes)  # a file without any certificate raises instead, saying why
        return certificates
    if any("PRIVATE KEY" in label for label in skipped):
        raise _reason(path, "holds a private key, not a certificate")
    if any("PUBLIC KEY" in label for label in skipped):
        raise _reason(path, "holds a public key, not a certificate")
    raise _reason(path, f"holds no certificate (only {', '.join(dict.fromkeys(skipped))})")


def _pem_blocks(data: bytes, path: str) -> list[tuple[str, bytes, bytes]]:
    """(label, base64 body, whole block) of every PEM block, in order; raises on an unterminated one."""
    out: list[tuple[str, bytes, bytes]] = []
    pos = 0
    while (match := _PEM_BEGIN.search(data, pos)) is not None:
        label = match.group(1).decode("ascii")
        end_marker = b"-----END " + match.group(1) + b"-----"
        end = data.find(end_marker, match.end())
        if end < 0:
            raise _reason(path, f"corrupt file: PEM block {len(out) + 1} ({label}) has no END line")
        out.append((label, data[match.end() : end], data[match.start() : end + len(end_marker)]))
        pos = end + len(end_marker)
    return out


def _pem_certificate(body: bytes, path: str, number: int) -> CertificateSummary:
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _reason(path, f"corrupt file: PEM block {number} is not valid base64") from None
    certificate = _certificate_from_der(_first_element(der))
    if certificate is None:
        raise _reason(path, f"corrupt file: PEM block {number} does not hold a readable certificate")
    return certificate


# --------------------------------------------------------------------------- PKCS#12


def _read_pkcs12(data: bytes, path: str, loader: _Loader) -> list[CertificateSummary]:
    attempts: list[bytes | None] = [None, b""]
    if loader.password is not None and loader.password.encode() != b"":
        attempts.append(loader.password.encode())
    bundle = None
    unsupported: str | None = None
    for attempt in attempts:
        try:
            bundle = pkcs12.load_pkcs12(data, attempt)
            break
        except UnsupportedAlgorithm as exc:
            unsupported = _first_line(exc)
        except (ValueError, TypeError):
            continue
    if bundle is None:
        if unsupported is not None:
            raise _reason(path, f"PKCS#12 file uses an encryption that cannot be read here ({unsupported})")
        if loader.password is None:
            raise TruststoreError(path, f"wrong password for PKCS#12 file {path} ({_PASSWORD_HINT})")
        raise TruststoreError(
            path,
            f"wrong password for PKCS#12 file {path} (the password given with --truststore-password or "
            "TLSCAP_TRUSTSTORE_PASSWORD does not open it), or the file is damaged",
        )
    loaded = ([bundle.cert] if bundle.cert is not None else []) + list(bundle.additional_certs)
    certificates = [summarize_certificate(c.certificate.public_bytes(serialization.Encoding.DER)) for c in loaded]
    if not certificates:
        if bundle.key is not None:
            raise _reason(path, "holds a private key, not a certificate")
        raise _reason(path, "PKCS#12 file holds no certificate")
    if bundle.key is not None:
        loader.notes.append(
            f"{path} also holds a private key (a keystore rather than a truststore); "
            f"its {len(certificates)} certificate(s) are taken as trusted"
        )
    return certificates


# --------------------------------------------------------------------------- Java keystores


def _read_java_keystore(data: bytes, path: str, loader: _Loader) -> list[CertificateSummary]:
    kind = "JKS" if data.startswith(_JKS_MAGIC) else "JCEKS"
    try:
        import jks
    except ImportError:
        raise _reason(path, f"reading a {kind} Java keystore needs the pyjks package (pip install pyjks)") from None
    try:
        store = jks.KeyStore.loads(data, loader.password, try_decrypt_keys=False)
    except jks.util.KeystoreSignatureException:
        raise TruststoreError(
            path,
            f"wrong password for {kind} Java keystore {path} (the password given with --truststore-password "
            "or TLSCAP_TRUSTSTORE_PASSWORD does not match its integrity check)",
        ) from None
    except (jks.util.KeystoreException, struct.error, ValueError, IndexError, UnicodeError) as exc:
        raise _reason(path, f"corrupt {kind} Java keystore ({_first_line(exc)})") from None
    if loader.password is None:
        loader.notes.append(f"{path}: {kind} keystore read without a password, so its integrity was not checked")
    certificates: list[CertificateSummary] = []
    for alias, entry in sorted(store.entries.items()):
        ders = _java_entry_certificates(entry, alias, path, loader)
        for der in ders:
            certificate = _certificate_from_der(der)
            if certificate is None:
                raise _reason(path, f"corrupt {kind} Java keystore: entry {alias!r} holds an unreadable certificate")
            certificates.append(certificate)
    if not certificates:
        if any(isinstance(entry, jks.PrivateKeyEntry) for entry in store.entries.values()):
            raise _reason(path, "holds a private key, not a certificate")
        raise _reason(path, f"{kind} Java keystore holds no certificate")
    return certificates


def _java_entry_certificates(entry: object, alias: str, path: str, loader: _Loader) -> list[bytes]:
    """The DER certificates Java's trust manager takes from one keystore entry."""
    import jks

    if isinstance(entry, jks.TrustedCertEntry):
        if entry.type != "X.509":
            loader.notes.append(f"{path}: skipped entry {alias!r}: a {entry.type} certificate, not X.509")
            return []
        return [bytes(entry.cert)]
    if isinstance(entry, jks.PrivateKeyEntry):
        chain = [bytes(der) for kind, der in entry.cert_chain if kind == "X.509"]
        if len(chain) > 1:
            loader.notes.append(
                f"{path}: key entry {alias!r}: only the first certificate of its chain is trusted "
                f"(as Java does); the other {len(chain) - 1} are not"
            )
        return chain[:1]
    loader.notes.append(f"{path}: skipped entry {alias!r}: a secret key, not a certificate")
    return []


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"
