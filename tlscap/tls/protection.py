"""Record protection of one connection: which decryptor opens each direction's records, and when it changes.

Keys come from a key log, matched by the ClientHello random. TLS 1.3: handshake traffic secrets from
the ServerHello on, application secrets after each side's Finished, the next secret after a KeyUpdate.
TLS 1.0-1.2: the key block from the master secret, in force from each side's ChangeCipherSpec.
A record that fails to open stops decryption of that direction, and the reason is kept once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlscap.errors import TlscapError
from tlscap.side import Side
from tlscap.tls.decrypt import Tls12Decryptor, Tls13Decryptor, tls12_decryptors
from tlscap.tls.keylog import KeyLog
from tlscap.tls.keyschedule import tls13_suite

CLIENT_HANDSHAKE = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_APPLICATION = "CLIENT_TRAFFIC_SECRET_0"
SERVER_APPLICATION = "SERVER_TRAFFIC_SECRET_0"
MASTER_SECRET = "CLIENT_RANDOM"
EXTENSION_ENCRYPT_THEN_MAC = 22


@dataclass(slots=True)
class DirectionProtection:
    """The decryptor of one direction, and the one that takes over at its next switch point."""

    active: Tls13Decryptor | Tls12Decryptor | None = None
    after_finished: bytes | None = None  # TLS 1.3 application secret
    after_ccs: Tls12Decryptor | None = None


@dataclass(slots=True)
class ConnectionProtection:
    """Keys of both directions, by the transport's `Side`."""

    tls13: bool
    cipher_suite: int
    directions: dict[Side, DirectionProtection] = field(default_factory=dict)
    problem: str | None = None
    records_opened: int = 0


def find_protection(
    keylog: KeyLog | None,
    *,
    client_random: bytes | None,
    server_random: bytes,
    client_side: Side,
    version: int,
    cipher_suite: int,
    server_extensions: list[int],
) -> tuple[ConnectionProtection | None, str | None]:
    """The protection for this connection; (None, why not) when the key log has secrets for its ClientHello
    random that cannot open it; (None, None) when there is no key log or no secret for it."""
    if keylog is None or not len(keylog):
        return None, None
    if client_random is None:
        return None, None  # nothing to match the key log with: not a failure of a secret
    secrets = keylog.for_random(client_random)
    if not secrets:
        # A key log given for many captures covers some connections only: a connection it has no
        # secret for is counted (ConnectionStats.keyed), not warned about.
        return None, None
    server_side = client_side.other
    try:
        if version == 0x0304 or 0x7F00 <= version <= 0x7FFF:
            return _tls13(secrets, client_side, server_side, cipher_suite)
        return _tls12(secrets, client_random, server_random, client_side, server_side, version, cipher_suite,
                      EXTENSION_ENCRYPT_THEN_MAC in server_extensions)
    except TlscapError as exc:
        return None, str(exc)


def _tls13(
    secrets: dict[str, bytes], client_side: Side, server_side: Side, cipher_suite: int
) -> tuple[ConnectionProtection | None, str | None]:
    if tls13_suite(cipher_suite) is None:
        return None, f"cipher suite 0x{cipher_suite:04x} cannot be decrypted"
    missing = [label for label in (CLIENT_HANDSHAKE, SERVER_HANDSHAKE) if label not in secrets]
    if missing:
        return None, f"the key log lacks {' and '.join(missing)} for this connection"
    protection = ConnectionProtection(tls13=True, cipher_suite=cipher_suite)
    protection.directions[client_side] = DirectionProtection(
        active=Tls13Decryptor(cipher_suite, secrets[CLIENT_HANDSHAKE]), after_finished=secrets.get(CLIENT_APPLICATION))
    protection.directions[server_side] = DirectionProtection(
        active=Tls13Decryptor(cipher_suite, secrets[SERVER_HANDSHAKE]), after_finished=secrets.get(SERVER_APPLICATION))
    return protection, None


def _tls12(
    secrets: dict[str, bytes],
    client_random: bytes,
    server_random: bytes,
    client_side: Side,
    server_side: Side,
    version: int,
    cipher_suite: int,
    encrypt_then_mac: bool,
) -> tuple[ConnectionProtection | None, str | None]:
    master = secrets.get(MASTER_SECRET)
    if master is None:
        return None, "the key log has no CLIENT_RANDOM (master secret) line for this connection"
    pair = tls12_decryptors(master, client_random, server_random, cipher_suite, version, encrypt_then_mac)
    if pair is None:
        return None, f"cipher suite 0x{cipher_suite:04x} with version 0x{version:04x} cannot be decrypted"
    protection = ConnectionProtection(tls13=False, cipher_suite=cipher_suite)
    protection.directions[client_side] = DirectionProtection(after_ccs=pair[0])
    protection.directions[server_side] = DirectionProtection(after_ccs=pair[1])
    return protection, None
