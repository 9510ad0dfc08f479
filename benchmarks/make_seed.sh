#!/usr/bin/env bash
# Capture the benchmark seed once: real mutual-TLS traffic between openssl s_server and
# openssl s_client inside a private network namespace, written by tcpdump -s 0.
#
# Output (in the cache dir, default ${TLSCAP_BENCH_CACHE:-/var/tmp/tlscap-bench}):
#   seed.pcap     the capture (Ethernet link type, as tcpdump writes loopback)
#   seed.keylog   NSS key log of every client (decrypts every copy made by replicate.py too,
#                 since copies keep the client randoms)
#   seed.json     what was run: rounds, connection plan, sha256, sizes, MTU/offload state
# Skipped when seed.pcap and seed.json exist, unless --force.
#
# The namespace gives a loopback of our own: MTU 1500 and TSO/GSO/GRO off, so segments look
# like an Ethernet path's (MSS 1460), not 64 KB loopback super-packets. (Loopback's TX
# checksum offload cannot be turned off: its TCP checksums stay partial; replicate.py
# writes correct ones.) If that cannot be set
# (no ethtool, no netns), the script says so, records it in seed.json and goes on.
#
# Env: ROUNDS (default 10; each round = 16 connections, 4 of them with ~100 KB of data),
#      TLSCAP_BENCH_CACHE, NS (namespace name, default tlscapbench).
# Needs root (ip netns, tcpdump).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(dirname "$HERE")"
PKI="$PROJECT/samples/pki"
CACHE="${TLSCAP_BENCH_CACHE:-/var/tmp/tlscap-bench}"
NS="${NS:-tlscapbench}"
ROUNDS="${ROUNDS:-10}"
PORT=443            # inside our own namespace, so no clash; tshark decodes 443 as TLS by itself
BIG_BYTES=102400    # the "~100 KB of application data" response body
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { printf '[make_seed] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$CACHE"
SEED="$CACHE/seed.pcap"
if [ "$FORCE" = 0 ] && [ -s "$SEED" ] && [ -s "$CACHE/seed.json" ]; then
    log "seed exists: $SEED (use --force to capture again)"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root (ip netns, tcpdump)"
for tool in openssl tcpdump ip timeout sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
if ! command -v ethtool >/dev/null; then
    log "installing ethtool"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q ethtool >/dev/null 2>&1 \
        || log "could not install ethtool; offloads stay as they are"
fi

WORK="$(mktemp -d /tmp/tlscap-seed.XXXXXX)"
SERVER_PID=""
TCPDUMP_PID=""
NS_CREATED=0
IN_NS=()            # command prefix: run inside the namespace (empty when falling back)

# Stop only what this script started, by pid; delete the namespace we created.
stop_pid() {
    local pid="$1" sig="${2:-TERM}"
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$TCPDUMP_PID" INT
    stop_pid "$SERVER_PID"
    if [ "$NS_CREATED" = 1 ]; then ip netns delete "$NS" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- network namespace
NETNOTE=""
if ip netns list | grep -qw "^$NS"; then
    die "namespace $NS already exists (a previous run still going?); delete it with: ip netns delete $NS"
fi
if ip netns add "$NS" 2>"$WORK/netns.err"; then
    NS_CREATED=1
    IN_NS=(ip netns exec "$NS")
    "${IN_NS[@]}" ip link set lo up mtu 1500
    if command -v ethtool >/dev/null && "${IN_NS[@]}" ethtool -K lo tso off gso off gro off 2>"$WORK/ethtool.err"; then
        NETNOTE="netns $NS, lo mtu 1500, tso/gso/gro off"
    else
        NETNOTE="netns $NS, lo mtu 1500, offloads NOT changed ($(cat "$WORK/ethtool.err" 2>/dev/null || echo 'no ethtool'))"
        log "WARNING: $NETNOTE"
    fi
else
    # Fallback: the host's loopback as it is (MTU 65536, offloads on): large segments.
    NETNOTE="host loopback, no netns ($(cat "$WORK/netns.err")); MTU and offloads unchanged"
    log "WARNING: $NETNOTE"
    PORT=18446
fi
log "$NETNOTE"

# ---------------------------------------------------------------- s_server -WWW
WWW="$WORK/www"
mkdir -p "$WWW"
head -c "$BIG_BYTES" /dev/urandom >"$WWW/big.bin"     # random: incompressible, like real data
printf 'hello from the tlscap benchmark seed\n' >"$WWW/small.txt"
# The CA list the server sends and verifies with: root + client intermediate (both names listed).
(cd "$WWW" && exec "${IN_NS[@]}" openssl s_server -quiet -WWW -accept "$PORT" \
    -cert "$PKI/server.pem" -key "$PKI/server.key" \
    -Verify 2 -verify_return_error -CAfile "$PKI/trust-root-and-client-ca.pem" \
    >"$WORK/server.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 100); do
    [ -n "$("${IN_NS[@]}" ss -ltnH "sport = :$PORT")" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "s_server exited: $(cat "$WORK/server.log")"
    sleep 0.1
done
[ -n "$("${IN_NS[@]}" ss -ltnH "sport = :$PORT")" ] || die "s_server does not listen on $PORT"

# ---------------------------------------------------------------- tcpdump
PCAP_TMP="$WORK/seed.pcap"
KEYLOG_TMP="$WORK/seed.keylog"
: >"$KEYLOG_TMP"
"${IN_NS[@]}" tcpdump -n -i lo -s 0 --immediate-mode -B 16384 -U -Z root \
    -w "$PCAP_TMP" "tcp port $PORT" 2>"$WORK/tcpdump.err" &
TCPDUMP_PID=$!
for _ in $(seq 100); do
    grep -q "listening on" "$WORK/tcpdump.err" && break
    kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$WORK/tcpdump.err")"
    sleep 0.1
done
grep -q "listening on" "$WORK/tcpdump.err" || die "tcpdump not ready"
sleep 0.5

# ---------------------------------------------------------------- clients
# client VERSION CERTSPEC PATH [SESSION_ARGS...]; CERTSPEC: alice | markw | bob | none
declare -A COUNT=()
client() {
    local version="$1" who="$2" path="$3"; shift 3
    local certargs=()
    case "$who" in
        alice) certargs=(-cert "$PKI/client-alice.pem" -key "$PKI/client-alice.key" -cert_chain "$PKI/client-ca.pem") ;;
        markw) certargs=(-cert "$PKI/client-markw.pem" -key "$PKI/client-markw.key" -cert_chain "$PKI/client-ca.pem") ;;
        bob)   certargs=(-cert "$PKI/client-bob.pem" -key "$PKI/client-bob.key") ;;
        none)  certargs=() ;;
    esac
    # -quiet implies -ign_eof: the client reads until the server closes (after the -WWW reply)
    # or fails the handshake. timeout bounds every client.
    printf 'GET /%s HTTP/1.0\r\n\r\n' "$path" | timeout 15 "${IN_NS[@]}" openssl s_client -quiet \
        "-$version" -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$PKI/root-ca.pem" \
        -keylogfile "$KEYLOG_TMP" "${certargs[@]}" "$@" >/dev/null 2>>"$WORK/clients.err" || true
    local key="$version $who $path${1:+ $1}"
    COUNT[$key]=$(( ${COUNT[$key]:-0} + 1 ))
}

log "running $ROUNDS rounds x 16 connections"
for round in $(seq "$ROUNDS"); do
    for version in tls1_2 tls1_3; do
        sess="$WORK/sess-$version-$round.pem"
        client "$version" alice small.txt -sess_out "$sess"   # full handshake, valid chain
        client "$version" alice small.txt -sess_in "$sess"    # resumed: no CertificateRequest
        client "$version" alice big.bin                       # ~100 KB of application data
        client "$version" alice small.txt
        client "$version" alice big.bin -sess_in "$sess"      # resumed + ~100 KB
        client "$version" markw small.txt                     # expired -> certificate_expired
        client "$version" bob small.txt                       # Partner CA -> unknown_ca
        client "$version" none small.txt                      # no cert -> handshake_failure / certificate_required
    done
    printf '.' >&2
done
printf '\n' >&2

sleep 1
stop_pid "$TCPDUMP_PID" INT
TCPDUMP_PID=""
dropped="$(grep -oE '^[0-9]+ packets? dropped by kernel' "$WORK/tcpdump.err" | cut -d' ' -f1 || true)"
[ "${dropped:-0}" = 0 ] || die "tcpdump dropped $dropped packets; run again"
[ -s "$PCAP_TMP" ] || die "empty capture"

# ---------------------------------------------------------------- install into the cache
mv -f "$PCAP_TMP" "$SEED"
mv -f "$KEYLOG_TMP" "$CACHE/seed.keylog"
sha="$(sha256sum "$SEED" | cut -d' ' -f1)"
size="$(stat -c %s "$SEED")"
plan="$(for k in "${!COUNT[@]}"; do printf '%s\t%s\n' "$k" "${COUNT[$k]}"; done | sort)"
NETNOTE="$NETNOTE" PLAN="$plan" python3 - "$CACHE/seed.json" "$sha" "$size" "$ROUNDS" "$PORT" <<'EOF'
import json, os, sys, datetime
path, sha, size, rounds, port = sys.argv[1:6]
plan = {}
for line in os.environ["PLAN"].splitlines():
    key, n = line.rsplit("\t", 1)
    plan[key] = int(n)
json.dump({
    "file": "seed.pcap", "sha256": sha, "bytes": int(size), "rounds": int(rounds),
    "server_port": int(port), "network": os.environ["NETNOTE"],
    "made": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "connections_by_kind": plan, "connections": sum(plan.values()),
}, open(path, "w"), indent=2)
EOF
log "seed: $SEED ($size bytes, sha256 $sha)"
