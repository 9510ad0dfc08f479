"""Group failing connections so that one line tells "37 clients, same expired certificate, 3 servers".

Every connection has one verdict (`Connection.diagnosis`); a connection fails when that verdict is not
`ok`. It is counted once, under its verdict's cause, in one group per (client certificate, advertised CA
list): the
client certificate is the leaf's SHA-256 (or `none` when the client sent none, or none was visible), the
CA list the names of the server's CertificateRequest (None when none was seen). Servers and clients are
counted inside a group, not part of its key, so the same certificate refused by three routers stays one
line that names the three. Times are each connection's first frame time.

Used by the text, Markdown and HTML summaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tabulate import tabulate

from tlscap.analysis.model import SEVERITY_RANK, CaptureReport, Connection, Report
from tlscap.report.safe_text import safe
from tlscap.timefmt import short_time

FAILING = ("error", "warning")
NO_CERTIFICATE = "none"
_LISTED_SERVERS = 3
# What tells groups apart: (cause, client certificate key, advertised CA names).
GroupKey = tuple[str, str, tuple[str, ...] | None]


@dataclass(slots=True, kw_only=True)
class Group:
    """Failing connections with the same cause, client certificate and advertised CA names."""

    code: str
    severity: str
    client_cert: str  # leaf SHA-256, or NO_CERTIFICATE
    client_cert_subject: str | None
    ca_names: tuple[str, ...] | None
    count: int = 0
    clients: dict[str, None] = field(default_factory=dict)  # client IPs, in order of appearance
    servers: dict[str, None] = field(default_factory=dict)  # server ip:port, in order of appearance
    captures: dict[str, None] = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def connections(self) -> int:
        return self.count

    @property
    def key(self) -> GroupKey:
        return self.code, self.client_cert, self.ca_names

    def add(self, path: str, facts: CauseFacts, severity: str) -> None:
        self.count += 1
        self.clients[facts.client_ip] = None
        self.servers[facts.server] = None
        self.captures[path] = None
        if SEVERITY_RANK[severity] > SEVERITY_RANK[self.severity]:
            self.severity = severity
        self.first_ns = _earliest(self.first_ns, facts.first_time_ns)
        self.last_ns = _latest(self.last_ns, facts.first_time_ns)


@dataclass(frozen=True, slots=True)
class CauseFacts:
    """What the cause tables take from one failing connection: small, so a scan worker can make it
    and send it instead of the connection."""

    worst: tuple[tuple[str, str], ...]  # ((the verdict's cause, cause_severity(cause)),)
    side: str
    certainty: str
    client_cert: str
    client_cert_subject: str | None
    ca_names: tuple[str, ...] | None
    client_ip: str
    server: str
    first_time_ns: int


def cause_severity(cause: str) -> str:
    """How a verdict's cause ranks in the tables: `ok` info; a cause the capture cannot show warning."""
    if cause == "ok":
        return "info"
    return "warning" if cause in ("capture-incomplete", "not-visible") else "error"


def cause_facts(conn: Connection) -> CauseFacts | None:
    """The connection's facts for the cause tables; None when its verdict is `ok` (or it has none)."""
    d = conn.diagnosis
    if d is None or d.cause == "ok":
        return None
    cert, subject = client_certificate_key(conn)
    return CauseFacts(((d.cause, cause_severity(d.cause)),), d.side, d.certainty, cert, subject,
                      advertised_ca_names(conn), conn.client.ip, str(conn.server), conn.first_time_ns)


@dataclass(slots=True, kw_only=True)
class Cause:
    """Every failing connection with one finding code, and its groups (largest first)."""

    code: str
    severity: str
    side: str = "unknown"
    certainties: dict[str, int] = field(default_factory=dict)  # certainty -> connections
    groups: list[Group] = field(default_factory=list)

    @property
    def certainty_label(self) -> str:
        """"certain", or the counts of each certainty ("3 certain, 1 likely")."""
        if len(self.certainties) == 1:
            return next(iter(self.certainties))
        return ", ".join(f"{n} {c}" for c, n in self.certainties.items())

    @property
    def connections(self) -> int:
        return sum(g.connections for g in self.groups)

    def distinct(self, attr: str) -> int:
        return len({k for g in self.groups for k in getattr(g, attr)})

    @property
    def client_certs(self) -> int:
        return len({g.client_cert for g in self.groups})

    @property
    def first_ns(self) -> int | None:
        return _earliest_of(g.first_ns for g in self.groups)

    @property
    def last_ns(self) -> int | None:
        return _latest_of(g.last_ns for g in self.groups)


def client_certificate_key(conn: Connection) -> tuple[str, str | None]:
    """(leaf SHA-256 or `none`, leaf subject or None) of the first client Certificate."""
    info = conn.client_certificate
    if info is None or not info.chain:
        return NO_CERTIFICATE, None
    return info.chain[0].sha256_hex, info.chain[0].subject_rfc4514


def advertised_ca_names(conn: Connection) -> tuple[str, ...] | None:
    cr = conn.certificate_request
    return None if cr is None else tuple(cr.ca_names)


def failing_connections(report: Report) -> list[tuple[CaptureReport, Connection]]:
    return [(cap, c) for cap in report.captures for c in cap.connections if cause_facts(c) is not None]


def group_causes(report: Report) -> list[Cause]:
    """Causes (most severe, then most frequent first), each with its groups (most frequent first)."""
    tally = CauseTally()
    for cap, conn in failing_connections(report):
        tally.add(cap, conn)
    return tally.causes()


class CauseTally:
    """`group_causes`, fed one connection at a time. The groups count their connections without keeping
    them, so a report can stream."""

    def __init__(self) -> None:
        self._causes: dict[str, Cause] = {}
        self._groups: dict[GroupKey, Group] = {}

    def add(self, cap: CaptureReport, conn: Connection) -> None:
        """Count the connection in the groups of its failing findings (nothing when none fails)."""
        facts = cause_facts(conn)
        if facts is not None:
            self.add_facts(cap.path, facts)

    def add_facts(self, path: str, facts: CauseFacts) -> list[Group]:
        """`add`, from the connection's `cause_facts`; returns the groups it was counted in, one per
        failing code."""
        counted = []
        for code, severity in facts.worst:
            cause = self._causes.setdefault(code, Cause(code=code, severity=severity, side=facts.side))
            cause.certainties[facts.certainty] = cause.certainties.get(facts.certainty, 0) + 1
            if SEVERITY_RANK[severity] > SEVERITY_RANK[cause.severity]:
                cause.severity = severity
            key: GroupKey = (code, facts.client_cert, facts.ca_names)
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = Group(code=code, severity=severity, client_cert=facts.client_cert,
                                                  client_cert_subject=facts.client_cert_subject,
                                                  ca_names=facts.ca_names)
                cause.groups.append(group)
            group.add(path, facts, severity)
            counted.append(group)
        return counted

    def causes(self) -> list[Cause]:
        """The causes so far, in report order."""
        ordered = sorted(self._causes.values(), key=lambda c: (-SEVERITY_RANK[c.severity], -c.connections, c.code))
        for cause in ordered:
            cause.groups.sort(key=lambda g: (-g.connections, g.first_ns if g.first_ns is not None else 0))
        return ordered


# --------------------------------------------------------------------------- labels shared by the renderers


def certificate_label(group: Group) -> str:
    if group.client_cert == NO_CERTIFICATE:
        return "none"
    subject = group.client_cert_subject or "(empty subject)"
    return f"{subject} (sha256 {group.client_cert[:16]}…)"


def servers_label(group: Group) -> str:
    servers = list(group.servers)
    if len(servers) == 1:
        return servers[0]
    shown = ", ".join(servers[:_LISTED_SERVERS]) + (", …" if len(servers) > _LISTED_SERVERS else "")
    return f"{len(servers)} servers: {shown}"


def ca_names_label(names: tuple[str, ...] | None) -> str:
    if names is None:
        return "not seen"
    if not names:
        return "empty list"
    return "; ".join(names)


def time_label(ns: int | None) -> str:
    return short_time(ns)


# --------------------------------------------------------------------------- text


def render_groups_text(report: Report) -> str:
    """The cause and group tables of the text report ("" when no connection failed)."""
    return render_cause_tables(group_causes(report))


def render_cause_tables(causes: list[Cause]) -> str:
    """The cause and group tables of `causes` ("" when there are none)."""
    if not causes:
        return ""
    cause_rows = [[c.code, c.side, c.certainty_label, c.connections, c.distinct("clients"), c.client_certs,
                   c.distinct("servers"), c.distinct("captures"), time_label(c.first_ns), time_label(c.last_ns)]
                  for c in causes]
    group_rows = [[g.code, g.connections, len(g.clients), safe(certificate_label(g)), safe(servers_label(g)),
                   safe(ca_names_label(g.ca_names)), time_label(g.first_ns), time_label(g.last_ns)]
                  for c in causes for g in c.groups]
    out = [
        "causes (each failing connection counted once, under its verdict)",
        tabulate(cause_rows, headers=["cause", "side", "certainty", "connections", "clients", "client certs",
                                      "servers", "captures", "first seen", "last seen"], tablefmt="simple"),
        "",
        "groups (same cause, client certificate and advertised CA names)",
        tabulate(group_rows, headers=["cause", "connections", "clients", "client certificate", "servers",
                                      "advertised CA names", "first seen", "last seen"], tablefmt="simple",
                 maxcolwidths=[None, None, None, 48, 40, 60, None, None]),
    ]
    return "\n".join(out) + "\n"


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _earliest_of(values: Iterable[int | None]) -> int | None:
    out: int | None = None
    for v in values:
        out = _earliest(out, v)
    return out


def _latest_of(values: Iterable[int | None]) -> int | None:
    out: int | None = None
    for v in values:
        out = _latest(out, v)
    return out
