"""Client fingerprints of a ClientHello: JA4 (FoxIO) and JA3 (Salesforce).

JA4 (FoxIO's JA4 technical details; the JA4 part is BSD-3-Clause) is
`a_b_c`:

- a: transport (`t` TLS over TCP, `d` DTLS), version (the highest of supported_versions when sent,
  else the hello's legacy_version: `13`, `12`, ..., `s3`, `s2`, `d1`-`d3`, `00` unknown), `d` when the
  server_name extension is present else `i`, the counts of cipher suites and of extensions (two
  digits, at most 99), and the first and last characters of the first ALPN protocol (`00` when none;
  the hex digits at its ends when either end byte is not an ASCII letter or digit);
- b: the first 12 hex digits of the SHA-256 of the cipher suites as 4-digit hex, sorted, comma-joined;
- c: the same of the extension types, sorted, without server_name (0000) and ALPN (0010), then `_`
  and the signature algorithms in the order sent (no `_` when there are none).

GREASE values (RFC 8701) are left out everywhere; an empty list hashes to `000000000000`. `ja4_r` is
the same with the lists in clear instead of hashed.

JA3 is `version,ciphers,extensions,groups,point_formats` in decimal, dash-joined, GREASE left out,
the version being the hello's legacy_version; `ja3` is its MD5. Wireshark's `tls.handshake.ja3_full`
and `tls.handshake.ja3` are the same two strings; like Wireshark, an SSL 2.0-format hello has no JA3.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from tlscap.tls.constants import is_grease
from tlscap.tls.messages import ClientHello

_EXT_SERVER_NAME = 0x0000
_EXT_ALPN = 0x0010
_EXT_EC_POINT_FORMATS = 0x000B
_EMPTY_HASH = "000000000000"

# JA4's two-character versions (JA4 technical details, "TLS and DTLS Version").
_JA4_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}
# DTLS version numbers count down (0xfeff is DTLS 1.0, 0xfefc DTLS 1.3): the highest is the smallest.
_DTLS_VERSIONS = frozenset({0xFEFF, 0xFEFD, 0xFEFC})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientFingerprint:
    """The fingerprints of one ClientHello."""

    ja4: str
    ja4_r: str  # JA4 with its lists in clear (sorted), as FoxIO's `-r` output
    ja3: str | None  # MD5 of ja3_full, lowercase hex
    ja3_full: str | None  # None for an SSL 2.0-format hello, as Wireshark gives no JA3 for one

    @property
    def ja4_stack_part(self) -> str:
        """JA4 without what depends on the destination: the version, the cipher count and the hashes
        (b and c), leaving out SNI present or not, the extension count (which counts SNI and ALPN)
        and the ALPN. The same program gives the same part to any server."""
        a, b, c = self.ja4.split("_")
        return f"{a[:3]}{a[4:6]}_{b}_{c}"


def _hash12(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12] if text else _EMPTY_HASH


def _hex_list(values: list[int] | tuple[int, ...]) -> str:
    return ",".join(f"{v:04x}" for v in values)


def _is_alnum_byte(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def alpn_chars(first_protocol: bytes | None) -> str:
    """JA4's two ALPN characters for the first protocol the client offered."""
    if not first_protocol:
        return "00"
    first, last = first_protocol[0], first_protocol[-1]
    if _is_alnum_byte(first) and _is_alnum_byte(last):
        return chr(first) + chr(last)
    hex_digits = first_protocol.hex()
    return hex_digits[0] + hex_digits[-1]


def _first_alpn(hello: ClientHello) -> bytes | None:
    """The first protocol name of the ALPN extension as bytes (the parsed `alpn` is text)."""
    data = hello.extension(_EXT_ALPN)
    if data is None or len(data) < 3:
        return None
    length = data[2]
    return data[3:3 + length] if len(data) >= 3 + length else None


def _point_formats(hello: ClientHello) -> list[int]:
    data = hello.extension(_EXT_EC_POINT_FORMATS)
    if not data:
        return []
    return list(data[1:1 + data[0]])


def _ja4_version(hello: ClientHello, dtls: bool) -> str:
    versions = [v for v in hello.supported_versions if not is_grease(v)]
    if versions:
        if dtls and all(v in _DTLS_VERSIONS for v in versions):
            version = min(versions)
        else:
            version = max(versions)
    else:
        version = hello.legacy_version
    return _JA4_VERSIONS.get(version, "00")


def fingerprint(hello: ClientHello) -> ClientFingerprint:
    """JA4 and JA3 of a ClientHello (DTLS when it carries a cookie field)."""
    dtls = hello.cookie is not None
    ciphers = tuple(c for c in hello.cipher_suites if not is_grease(c))
    extensions = tuple(e.type for e in hello.extensions if not is_grease(e.type))
    sig_algs = tuple(s for s in hello.signature_algorithms if not is_grease(s))
    groups = tuple(g for g in hello.supported_groups if not is_grease(g))
    return _fingerprint(
        "d" if dtls else "t", _ja4_version(hello, dtls), _EXT_SERVER_NAME in extensions,
        alpn_chars(_first_alpn(hello)), hello.legacy_version, ciphers, extensions, sig_algs, groups,
        tuple(_point_formats(hello)), hello.sslv2,
    )


@functools.lru_cache(maxsize=256)
def _fingerprint(transport: str, version: str, has_sni: bool, alpn: str, legacy_version: int,
                 ciphers: tuple[int, ...], extensions: tuple[int, ...], sig_algs: tuple[int, ...],
                 groups: tuple[int, ...], point_formats: tuple[int, ...], sslv2: bool) -> ClientFingerprint:
    """Computed once per distinct hello content: one client's connections share one value."""
    a = (f"{transport}{version}{'d' if has_sni else 'i'}{min(len(ciphers), 99):02d}"
         f"{min(len(extensions), 99):02d}{alpn}")
    cipher_list = _hex_list(sorted(ciphers))
    ext_list = _hex_list(sorted(e for e in extensions if e not in (_EXT_SERVER_NAME, _EXT_ALPN)))
    c_text = f"{ext_list}_{_hex_list(sig_algs)}" if sig_algs else ext_list
    ja4 = f"{a}_{_hash12(cipher_list)}_{_hash12(c_text) if ext_list else _EMPTY_HASH}"
    ja4_r = f"{a}_{cipher_list}_{c_text}"
    if sslv2:
        return ClientFingerprint(ja4=ja4, ja4_r=ja4_r, ja3=None, ja3_full=None)
    ja3_full = ",".join((
        str(legacy_version), "-".join(map(str, ciphers)), "-".join(map(str, extensions)),
        "-".join(map(str, groups)), "-".join(map(str, point_formats)),
    ))
    ja3 = hashlib.md5(ja3_full.encode("ascii"), usedforsecurity=False).hexdigest()
    return ClientFingerprint(ja4=ja4, ja4_r=ja4_r, ja3=ja3, ja3_full=ja3_full)
