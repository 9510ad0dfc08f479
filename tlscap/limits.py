"""Every limit tlscap puts on what a capture can make it hold or do, in one place.

Captures come from the network, and the network is adversarial: lengths lie, files are cut mid-block,
archives are decompression bombs, a connection carries a million one-byte segments. Each limit below
bounds memory or time, and says what the user sees when it is hit: a capture error (in the capture's
`errors`, and one line on stderr) or a finding on the connection. What was read before a limit was hit
is still analyzed.

Each limit is defined here and nowhere else. Code reads it as `limits.NAME` at call time (never
`from tlscap.limits import NAME`, nor a module-level copy), so that a test can lower it with
monkeypatch and hit it cheaply. Each entry: name = value (file that enforces it): what happens when
hit. tests/test_limits.py lowers each of them and checks that the behaviour follows (its `LIMIT_TESTS`
table names the test of each; a constant added here without a test fails it).

TLS
- `MAX_RECORD_LENGTH` = 2^14 + 2048 = 18,432 bytes (tls/records.py): a record header claiming more is
  not TLS; the direction loses sync, and inside a handshake that is a `capture-gap` finding quoting
  the header ("not a TLS record header: 16030348...").
- `MAX_HANDSHAKE_MESSAGE` = 1 MiB (tls/handshake.py): the message is reported damaged ("declares N
  bytes, more than tlscap's limit ..."), its bytes are passed over unbuffered and the messages after it
  are read: a `capture-gap` finding naming it. 1 MiB is ten times OpenSSL's default certificate-list
  limit; a chain of 1,000 EC certificates fits.
- `MAX_CHAIN_CERTIFICATES` = 64 (tls/messages.py): the first 64 certificates of a Certificate message
  are kept, `CertificateMessage.omitted` counts the rest: a `limit-exceeded` finding (analysis).
- `MAX_CA_NAMES` = 4,096 (tls/messages.py): the first 4,096 names of a CertificateRequest are kept,
  `CertificateRequest.ca_names_omitted` counts the rest: a `limit-exceeded` finding. IIS sends a few
  hundred.
- `MAX_KEYLOG_LINE` = 4,096 characters (tls/keylog.py): the line is counted as malformed (for a
  `--keylog` file, one line on stderr). `MAX_KEYLOG_FILE` = 512 MiB: `--keylog` is refused (exit 2).
- `MAX_APP_PLAINTEXT` = 16 KiB per direction (tls/session.py): decrypted application data past it is
  not kept (the HTTP head and title are in the first bytes). `MAX_APP_DATA_EVENTS` = 12 per direction:
  later application-data records are counted, not listed (in TLS 1.3 without keys, the first twelve
  records' sizes are what the record-size inference reads). dtls/session.py reads both too.
- `MAX_HTTP_TITLE` = 200 characters (analysis/http.py): a longer HTML <title> in decrypted data is cut.
- OpenVPN over TCP (tls/openvpn.py): a packet length of 0 or over `MAX_OPENVPN_PACKET` = 4,096 bytes
  means the stream is not OpenVPN after all: nothing more of it is read. A control message sent in
  100-byte fragments is handed on once it passes `MAX_OPENVPN_MESSAGE` = 1 MiB. Up to
  `MAX_OPENVPN_PENDING` = 64 control packets wait out of order; packets further ahead are dropped
  (the one expected next is always taken).

Capture files
- `MAX_PCAPNG_BLOCK` = 134,348,832 bytes, Wireshark 4.0's own limit (capture/pcapng.py): capture error
  `bad-block` ("impossible length"). Blocks tlscap does not read (statistics, name resolution,
  custom) are passed over without being held in memory.
- `MAX_PCAP_RECORD` = 256 KiB, or the file header's snap length up to `HARD_MAX_PCAP_RECORD` = 256 MiB
  (capture/pcap.py `record_limit`, also used by capture/annotate.py): capture error `bad-block`.
- `GZIP_MAX_RATIO` = 64, judged once `GZIP_RATIO_FLOOR` = 64 MiB came out, and `GZIP_MAX_OUTPUT` =
  16 GiB (capture/reader.py): decompression stops with capture error `decompression-limit`; the frames
  before it are analyzed. Real captures compress less than 20 times; a bomb, up to 1,000 times.
- `MAX_COMMENT_CHARS` = 4 Mi characters of pcapng comments (capture/reader.py): capture error
  `too-many-comments`; later comments (and key-log lines in them) are ignored.
- `tlscap scan --file-timeout SECONDS` (scan/runner.py; a user's option, no limit by default): capture
  error `timeout` for that file only; the scan goes on (tests/test_scan.py hits it).

Decoding (decode/)
- `MAX_L2_HEADERS` = 32 VLAN tags, MPLS labels or Ethernet-in-Ethernet headers (decode/link.py): a frame
  with more is not decoded (counted as `not-ip` in the decoder's stats).
- `MAX_TUNNEL_DEPTH` = 8 tunnels nested (decode/decoder.py): deeper frames are dropped (`tunnel-too-deep`).
- `MAX_GRE_ROUTING_ENTRIES` = 16 source-route entries of a GRE header and `MAX_GTP_EXTENSIONS` = 16
  GTP-U extension headers (decode/tunnels.py): more is malformed (`gre-malformed`, `gtp-malformed`).
- IP fragments (decode/ip.py): `MAX_IP_PENDING_DATAGRAMS` = 1,024 incomplete datagrams and
  `MAX_IP_FRAGMENT_BYTES` = 32 MiB of fragments held: the oldest incomplete datagram is dropped
  (`fragment-evicted`); `MAX_IP_FRAGMENTS_PER_DATAGRAM` = 256: the datagram is dropped
  (`fragment-too-many`); a fragment ending past `MAX_IP_DATAGRAM` = 65,535 bytes (IPv4's limit; IPv6
  jumbograms are not fragmented) is dropped (`fragment-too-long`).

Server logs
- `MAX_SERVER_LOG_MESSAGES` = 200,000 client-certificate lines kept from the `--server-log` files
  (cli_server_log.py): later ones are counted (`summary.server_log.not_kept`, and the stderr line says
  how many were not read), not matched.

PKI
- `MAX_TRUSTSTORE_FILE` = 64 MiB (pki/truststore.py): the `--truststore` file is refused (exit 2).
- `MAX_CHAIN_DEPTH` = 12 certificates and `MAX_PATH_SEARCH_STEPS` = 400 paths tried (pki/path_search.py,
  pki/verify.py): the search stops there and the chain is reported unverified (`client-cert-untrusted`,
  problem `search-limit`, saying where it stopped).
- `MAX_CHAIN_STEPS_ELSEWHERE` = 4 (analysis/issuer.py): certificates seen in other connections are
  followed at most 4 issuers up from the top of the client's chain when judging which CA it needs.

DTLS over UDP (dtls/)
- `MAX_UDP_FLOWS` = 65,536 UDP conversations numbered at once (dtls/flows.py): past it the least
  recently active one that is not DTLS is forgotten (a later datagram of it takes a new udp.stream,
  where Wireshark would continue the old one); DTLS flows past `MAX_DTLS_FLOWS` = 4,096 open at once
  are finished early, judged as they stand (capture error `too-many-connections` counts both kinds).
- `MAX_DTLS_PENDING_MESSAGES` = 32 handshake messages being reassembled per direction and
  `MAX_DTLS_PENDING_BYTES` = 2 MiB held for them (dtls/reassembly.py): a message past either is
  reported damaged (a `capture-gap` finding), its fragments are not held. `MAX_DTLS_DONE_MESSAGES` =
  256 message_seq numbers remembered per direction for telling retransmissions apart.
- `IDLE_DTLS_FLOW_NS` = 60 s of capture time (dtls/flows.py): UDP has no close, so a DTLS flow quiet
  that long is finished and judged; a later datagram of it is only counted on the finished connection.

TCP and analysis (the hot path)
- `MAX_PENDING_BYTES` = 1 MiB of out-of-order data per direction, each waiting segment counted as its
  bytes plus `PENDING_SEGMENT_OVERHEAD` = 128 (what holding it costs: so 1-byte segments are bounded by
  memory, not by their payload), and `MAX_PENDING_SEGMENTS` = 4,096 waiting segments (tcp/reassembly.py):
  the hole before them is declared lost; in a handshake, a `capture-gap` finding. Within them segments
  wait in any order (even/odd, reversed), also after the peer acknowledged past the hole. A ClientHello
  of up to 8 KiB sent one byte per segment, even ones first, is read whole.
- `MAX_PLAINTEXT_BEFORE_TLS` = 256 KiB per direction (analysis/tracker.py; the tshark engine too): the
  connection is taken for another protocol and dropped for good: the rest of it is not read (a new
  connection on the same ports, opened by a SYN, is).
- `MAX_CARRIER_TIMES` = 512 payload frames per connection whose times are kept (analysis/tracker.py;
  the tshark engine too): an event credited to a later frame takes the time of the connection's last
  packet so far instead of its own.
- `MAX_WAITING` = 512 finished connections waiting for stream order (analysis/collector.py): they go out
  of stream order (docs/decisions.md). `MAX_CAPTURE_CERTIFICATES` = 10,000 distinct certificates per
  capture: later ones are not searched for missing intermediates. `MAX_CA_CERTIFICATES_PER_CAPTURE` =
  256 CA certificates of a capture handed to a scan for the other captures' verdicts; `MAX_SCAN_CA_CERTIFICATES`
  = 10,000 kept from all the captures of a scan together (scan/together.py): later ones are not offered.
- `MAX_TRACKED_CONNECTIONS` = 16,384 open TCP conversations (analysis/engine.py): the least recently
  active one is finished early, judged as it stands, and goes out at once; one capture error
  `too-many-connections` says how many times.
- `IDLE_CONNECTION_NS` = 600 s and `IDLE_CONNECTION_FRAMES` = 100,000 (analysis/engine.py): an open
  connection that shows no packet for that long in capture time *and* over that many frames is
  finished and judged as it stands (600 s is Suricata's timeout for an established TCP flow; the frame
  count keeps one packet with a wild timestamp from finishing everything). A later packet of it is a
  late segment.
- `FORGET_CONVERSATION_NS` = 600 s and `FORGET_CONVERSATION_FRAMES` = 100,000 (tcp/streams.py): a
  finished conversation quiet for that long is forgotten, so the table of conversations does not grow
  with the file. A later packet with the same endpoints then starts a new tcp.stream, where Wireshark
  (which forgets nothing) would continue the old one (docs/decisions.md).
- `MAX_EVENTS_PER_CONNECTION` = 2,000 TLS events (records, messages, alerts) per connection
  (tls/session.py): later events are counted, not kept. A run of identical ChangeCipherSpec or alert
  records is one event with a count, so a flood of tiny records costs one event.
- `MAX_TCP_ENDS_PER_CONNECTION` = 16 FIN/RST entries per connection (analysis/tracker.py): later ones
  are not listed.
- `MAX_BUFFERED_BYTES` = 256 MiB of out-of-order payload held by all open connections together
  (tcp/reassembly.py `BufferBudget`, shared by the engine's reassemblers): past it, the reassembler
  that receives more gives up its hole (a `capture-gap` finding if it is in a handshake). Each
  connection alone is bounded (about 2 × (1 MiB + 1 MiB + 18 KiB)), but not 65,536 of them at once.

Reports (what is listed; everything is counted)
- `MAX_SUMMARY_ROWS` = 1,000 connections in the text report's summary table (report/text_report.py):
  the rest are counted ("… and N more connections").
- `MAX_ROWS_PER_CAUSE` = 50 connections listed per cause in the Markdown report (report/markdown_report.py):
  the rest are counted.
- `MAX_CERT_INDEX_PLACES` = 1,000 places (capture, connection, frame) listed per certificate in `tlscap
  certs`' index.json (cli.py): the rest are counted in `seen`.

Not here, on purpose
- The tshark engine's child limits (`TSHARK_MAX_MEMORY` = 8 GiB of address space,
  `TSHARK_MAX_CPU_SECONDS` = 4 h, `WAIT_SECONDS` = 600 s for it to exit; engines/tshark_engine.py):
  they bind the external program, not tlscap.
- Caches, whose size changes speed and memory but nothing in a report, sized where they are made (some
  by `functools.lru_cache` at import): decode/ip.py `ADDRESS_CACHE_SIZE`, pki/der.py `NAME_CACHE_SIZE`,
  pki/chain.py `SIGNATURE_CACHE_SIZE`, pki/names.py `NAME_MEMO_SIZE`, report/json_report.py
  `CERT_JSON_CACHE_SIZE`, and report/spool.py `IN_MEMORY_CHARS` (report text past it goes to a
  temporary file).
- Protocol values that are no limit of tlscap's: tls/decrypt.py's TLS 1.3 ciphertext bound (2^14 + 256,
  RFC 8446 §5.2), dtls/records.py's connection-ID length (255, RFC 9146).
- Timing of the analysis: analysis/collector.py `GRACE_NS` (5 s of capture time a finished connection
  waits for a trailing ACK, FIN or RST) and analysis/engine.py `SWEEP_INTERVAL` (how many frames apart
  idle connections and quiet conversations are looked for).
"""

from __future__ import annotations

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30

# --- TLS (tls/) -------------------------------------------------------------------------------
MAX_RECORD_LENGTH = (1 << 14) + 2048  # RFC 5246 §6.2.3: TLSCiphertext.length <= 2^14 + 2048
MAX_HANDSHAKE_MESSAGE = 1 * MIB  # > OpenSSL's 100 KiB certificate-list default; a 1,000-certificate EC chain fits
MAX_CHAIN_CERTIFICATES = 64  # certificates kept per Certificate message
MAX_CA_NAMES = 4096  # distinguished names kept per CertificateRequest (IIS sends a few hundred)
MAX_KEYLOG_LINE = 4096  # characters; the longest real line (TLS 1.3, SHA-384) is about 180
MAX_KEYLOG_FILE = 512 * MIB
MAX_APP_PLAINTEXT = 16 * KIB
MAX_APP_DATA_EVENTS = 12
MAX_HTTP_TITLE = 200  # characters
MAX_OPENVPN_PACKET = 4096  # control packets are a few hundred bytes
MAX_OPENVPN_MESSAGE = 1 * MIB
MAX_OPENVPN_PENDING = 64

# --- capture files (capture/) -----------------------------------------------------------------
MAX_PCAPNG_BLOCK = 134_348_832  # Wireshark 4.0 refuses a larger block ("total block length ... is too large")
MAX_PCAP_RECORD = 262_144  # Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD, unless the snap length says more
HARD_MAX_PCAP_RECORD = 256 * MIB
GZIP_MAX_RATIO = 64  # decompressed bytes per compressed byte; real captures stay well under 20
GZIP_RATIO_FLOOR = 64 * MIB  # the ratio is judged only past this much output, so small files never trip it
GZIP_MAX_OUTPUT = 16 * GIB
MAX_COMMENT_CHARS = 4 * MIB

# --- decoding (decode/) -------------------------------------------------------------------------
MAX_L2_HEADERS = 32
MAX_TUNNEL_DEPTH = 8
MAX_GRE_ROUTING_ENTRIES = 16
MAX_GTP_EXTENSIONS = 16  # each is at least 4 bytes anyway
MAX_IP_PENDING_DATAGRAMS = 1024
MAX_IP_FRAGMENTS_PER_DATAGRAM = 256
MAX_IP_DATAGRAM = 65_535  # reassembled payload bytes
MAX_IP_FRAGMENT_BYTES = 32 * MIB

# --- PKI (pki/) ---------------------------------------------------------------------------------
MAX_TRUSTSTORE_FILE = 64 * MIB  # Java's cacerts is ~200 KB, Mozilla's bundle ~250 KB
# A real chain is a handful of certificates; these stop pathological inputs (dozens of certificates
# sharing one name) from exploding the number of paths tried.
MAX_CHAIN_DEPTH = 12
MAX_PATH_SEARCH_STEPS = 400
MAX_CHAIN_STEPS_ELSEWHERE = 4

# --- TCP and analysis (the hot path) ---------------------------------------------------------
MAX_PENDING_SEGMENTS = 4096
MAX_PENDING_BYTES = 1 * MIB
PENDING_SEGMENT_OVERHEAD = 128  # bytes counted per waiting segment besides its payload (object, list slot)
MAX_PLAINTEXT_BEFORE_TLS = 256 * KIB
MAX_CARRIER_TIMES = 512
MAX_WAITING = 512
MAX_CAPTURE_CERTIFICATES = 10_000
MAX_CA_CERTIFICATES_PER_CAPTURE = 256
MAX_SCAN_CA_CERTIFICATES = 10_000
MAX_TRACKED_CONNECTIONS = 16_384  # ~10 KB each while open: about 160 MB at the cap
IDLE_CONNECTION_NS = 600 * 1_000_000_000
IDLE_CONNECTION_FRAMES = 100_000
FORGET_CONVERSATION_NS = 600 * 1_000_000_000
FORGET_CONVERSATION_FRAMES = 100_000
MAX_EVENTS_PER_CONNECTION = 2_000
MAX_TCP_ENDS_PER_CONNECTION = 16
MAX_BUFFERED_BYTES = 256 * MIB

# --- DTLS over UDP (dtls/) ---------------------------------------------------------------------
MAX_UDP_FLOWS = 65_536
MAX_DTLS_FLOWS = 4_096
MAX_DTLS_PENDING_MESSAGES = 32
MAX_DTLS_PENDING_BYTES = 2 * MIB
MAX_DTLS_DONE_MESSAGES = 256
IDLE_DTLS_FLOW_NS = 60 * 1_000_000_000

# --- reports -------------------------------------------------------------------------------------
MAX_SUMMARY_ROWS = 1_000
MAX_ROWS_PER_CAUSE = 50
MAX_CERT_INDEX_PLACES = 1_000

# --server-log: client-certificate messages kept from the logs given; more are counted, not kept.
MAX_SERVER_LOG_MESSAGES = 200_000
