"""The server's own words about client certificates: nginx's and Apache httpd's error logs.

`parse_line` reads one line and returns a `LogMessage` when it is about a client certificate (or a
handshake the server refused), else None. It is sans-IO: the caller reads the files. Two formats:

- nginx (default error_log format, local time, no client port), at level info:
  `2026/12/04 18:37:28 [info] 1234#1234: *7 client SSL certificate verify error: (10:certificate has
  expired) while reading client request headers, client: 127.0.0.1, server: …`; also "client sent no
  required SSL certificate" and "SSL_do_handshake() failed (SSL: … alert …)".
- Apache httpd 2.4 with mod_ssl at `LogLevel ssl:info` (local time, client address with its port):
  `[Fri Dec 04 18:37:28.123456 2026] [ssl:info] [pid 12:tid 34] [client 127.0.0.1:51234] AH02276:
  Certificate Verification: Error (10): certificate has expired`, and the OpenSSL reason lines it adds
  ("peer did not return a certificate").

The OpenSSL verify codes (X509_V_ERR_*) say which cause the server saw; `CAUSE_OF_VERIFY_CODE` maps them
onto the verdict's causes. `ServerLog` hands each connection the messages of its client and time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h) as the verdict's causes.
CAUSE_OF_VERIFY_CODE: dict[int, str] = {
    9: "client-cert-not-yet-valid",  # certificate is not yet valid
    10: "client-cert-expired",  # certificate has expired
    2: "client-cert-issuer-not-requested",  # unable to get issuer certificate
    20: "client-cert-issuer-not-requested",  # unable to get local issuer certificate
    21: "client-cert-issuer-not-requested",  # unable to verify the first certificate
    18: "client-cert-wrong-ca",  # self-signed certificate
    19: "client-cert-wrong-ca",  # self-signed certificate in certificate chain
    7: "client-chain-broken",  # certificate signature failure
    26: "client-cert-wrong-usage",  # unsupported certificate purpose
    23: "client-cert-rejected",  # certificate revoked
}
NOT_SENT = "client-cert-not-sent"
_SECOND, _MICROSECOND = timedelta(seconds=1), timedelta(microseconds=1)
HANDSHAKE_FAILED = "handshake-failed"

_NGINX = re.compile(
    r"^(?P<time>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(?P<level>\w+)\] \d+#\d+: (?:\*\d+ )?(?P<text>.*?)"
    r", client: (?P<ip>[0-9a-fA-F.:]+)(?:, server: [^,]*)?.*$")
_APACHE = re.compile(
    r"^\[(?P<time>\w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4})\] \[(?P<module>[\w]+):(?P<level>\w+)\] "
    r"\[pid (?P<thread>[^\]]*)\] (?:[^\[]*?)(?:\[client (?P<client>[^\]]+)\] )?(?P<text>.*)$")
_NGINX_VERIFY = re.compile(r"client SSL certificate verify error: \((?P<code>\d+):(?P<reason>[^)]*)\)")
_APACHE_VERIFY = re.compile(r"Certificate Verification: Error \((?P<code>\d+)\): (?P<reason>.*?)(?: \[|$)")
_HANDSHAKE_ALERT = re.compile(r"SSL_do_handshake\(\) failed \(SSL: (?P<reason>.*?)\) while SSL handshaking")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogMessage:
    """One line of a server's log about a client certificate."""

    source: str  # "file:line"
    server: str  # "nginx" or "apache"
    time_utc: datetime
    resolution: timedelta  # the log's time unit: the event happened in [time_utc, time_utc + resolution)
    client_ip: str
    client_port: int | None  # Apache names it; nginx does not
    cause: str  # the verdict cause the line names
    text: str  # the line's message, without its time and process fields


def parse_line(line: str, source: str, utc_offset: timedelta) -> LogMessage | None:
    """One line alone (see `LogParser`)."""
    return LogParser(utc_offset).parse(line, source)


class LogParser:
    """Reads a log line by line. Apache writes some lines of a connection without its client (`SSL Library
    Error: … peer did not return a certificate`); they belong to the client the same process thread named
    last, which the parser remembers. `utc_offset` is the zone the server wrote its local times in."""

    def __init__(self, utc_offset: timedelta) -> None:
        self.utc_offset = utc_offset
        self._client_of_thread: dict[str, str] = {}

    def parse(self, line: str, source: str) -> LogMessage | None:
        """The line as a LogMessage when it is about a client certificate, else None."""
        line = line.rstrip("\r\n")
        m = _APACHE.match(line)
        if m is not None:
            return self._apache(m, source)
        return _nginx(line, source, self.utc_offset)

    def _apache(self, m: re.Match[str], source: str) -> LogMessage | None:
        client = m["client"]
        if client:
            if len(self._client_of_thread) > 4096:  # threads of a long log: keep the recent ones
                self._client_of_thread.clear()
            self._client_of_thread[m["thread"]] = client
        else:
            client = self._client_of_thread.get(m["thread"])
        cause = _apache_cause(m["text"])
        if cause is None or client is None:
            return None
        ip, port = _split_address(client)
        stamp = m["time"]
        fmt = "%a %b %d %H:%M:%S.%f %Y" if "." in stamp else "%a %b %d %H:%M:%S %Y"
        return LogMessage(source=source, server="apache",
                          time_utc=_to_utc(datetime.strptime(stamp, fmt), self.utc_offset),
                          resolution=_MICROSECOND if "." in stamp else _SECOND, client_ip=ip, client_port=port,
                          cause=cause, text=m["text"])


def _nginx(line: str, source: str, utc_offset: timedelta) -> LogMessage | None:
    m = _NGINX.match(line)
    if m is None:
        return None
    cause = _nginx_cause(m["text"])
    if cause is None:
        return None
    when = datetime.strptime(m["time"], "%Y/%m/%d %H:%M:%S")
    return LogMessage(source=source, server="nginx", time_utc=_to_utc(when, utc_offset), resolution=_SECOND,
                      client_ip=m["ip"], client_port=None, cause=cause, text=m["text"])


def _nginx_cause(text: str) -> str | None:
    if text.startswith("client sent no required SSL certificate"):
        return NOT_SENT
    verify = _NGINX_VERIFY.search(text)
    if verify is not None:
        return CAUSE_OF_VERIFY_CODE.get(int(verify["code"]), "client-cert-rejected")
    if _HANDSHAKE_ALERT.search(text) is not None:
        return HANDSHAKE_FAILED
    return None


def _apache_cause(text: str) -> str | None:
    verify = _APACHE_VERIFY.search(text)
    if verify is not None:
        return CAUSE_OF_VERIFY_CODE.get(int(verify["code"]), "client-cert-rejected")
    if "peer did not return a certificate" in text:
        return NOT_SENT
    return None


def _split_address(address: str) -> tuple[str, int | None]:
    """`127.0.0.1:51234` or `::1:51234` (Apache writes IPv6 without brackets) -> (ip, port)."""
    host, sep, port = address.rpartition(":")
    if sep and port.isdigit() and host:
        return host.strip("[]"), int(port)
    return address, None


def _to_utc(local: datetime, utc_offset: timedelta) -> datetime:
    return (local - utc_offset).replace(tzinfo=UTC)


def parse_offset(text: str) -> timedelta:
    """`+01:00`, `-0530`, `Z` or `UTC` as a timedelta; ValueError otherwise."""
    if text.upper() in ("Z", "UTC"):
        return timedelta(0)
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if m is None:
        raise ValueError(f"not a UTC offset: {text!r} (write +01:00, -05:30 or UTC)")
    delta = timedelta(hours=int(m[2]), minutes=int(m[3]))
    return delta if m[1] == "+" else -delta


class ServerLog:
    """The messages of the logs given, waiting for their connections. `take` gives a connection the messages
    of its client address (and port, when the log names it) written while it lived: the message's time unit
    (nginx writes whole seconds) must overlap the connection's lifetime, widened by `skew` on each side when the
    server's clock is not the capture's. A message goes to one connection only. nginx writes no client port:
    two connections of one client address in the same second (or within the skew) share its messages first
    come, first served."""

    def __init__(self, messages: Sequence[LogMessage], skew: timedelta) -> None:
        self.skew = skew
        self.messages = list(messages)
        self._by_ip: dict[str, list[int]] = {}
        for index, message in enumerate(self.messages):
            self._by_ip.setdefault(message.client_ip, []).append(index)
        self._taken: set[int] = set()
        # A connection analyzed again (analyze of several captures reads a capture twice) gets the same messages.
        self._given: dict[tuple[str, int, datetime], tuple[LogMessage, ...]] = {}
        self.not_kept = 0  # messages past the limit of MAX_SERVER_LOG_MESSAGES, counted by the reader

    def take(self, client_ip: str, client_port: int, start_utc: datetime, end_utc: datetime) -> tuple[LogMessage, ...]:
        key = (client_ip, client_port, start_utc)
        given = self._given.get(key)
        if given is not None:
            return given
        out = []
        for index in self._by_ip.get(client_ip, ()):
            message = self.messages[index]
            if index in self._taken or (message.client_port is not None and message.client_port != client_port):
                continue
            earliest, latest = start_utc - self.skew, end_utc + self.skew
            if message.time_utc <= latest and message.time_utc + message.resolution > earliest:
                self._taken.add(index)
                out.append(message)
        if out:
            self._given[key] = tuple(out)
        return tuple(out)

    @property
    def matched(self) -> int:
        return len(self._taken)

    def unmatched(self) -> list[LogMessage]:
        return [m for i, m in enumerate(self.messages) if i not in self._taken]

    def summary(self) -> dict[str, int]:
        """How many client-certificate messages the logs held, and how many found their connection."""
        return {"messages": len(self.messages) + self.not_kept, "matched": self.matched,
                "unmatched": len(self.messages) - self.matched, "not_kept": self.not_kept}
