#!/usr/bin/env bash
# DTLS 1.2 mutual-authentication samples (issue 20): openssl s_server -dtls1_2 and openssl s_client -dtls1_2
# on loopback, captured with tcpdump (udp port $PORT), certificates from samples/pki, key logs from
# s_client -keylogfile. -mtu 600 on both sides makes the certificates travel in DTLS fragments.
# Writes samples/dtls/<case>.pcap and .keylog, then MANIFEST.tsv from how each was made and tshark's view.
# Needs root (tcpdump on lo). Every process it starts is stopped on exit.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PKI="$HERE/pki"
OUT="$HERE/dtls"
PORT="${PORT_DTLS:-18460}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$OUT"

# capture CASE CLIENT_OPTIONS...
capture() {
    local name="$1"; shift
    local pcap="$OUT/$name.pcap" keylog="$OUT/$name.keylog"
    rm -f "$pcap" "$keylog"
    # s_server reads what to send from stdin and stops at its end: keep it open while the client runs.
    sleep 8 | openssl s_server -dtls1_2 -mtu 600 -accept "127.0.0.1:$PORT" -cert "$PKI/server.pem" -key "$PKI/server.key" \
        -CAfile "$PKI/trust-root-and-client-ca.pem" -Verify 2 -verify_return_error \
        >"$WORK/$name.server" 2>&1 &
    local server=$!
    PIDS+=("$server")
    tcpdump -n -U -s 0 -i lo -w "$pcap" "udp port $PORT" 2>"$WORK/tcpdump.err" &
    local dump=$!
    PIDS+=("$dump")
    for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
    sleep 0.3
    (printf 'hello over DTLS\n'; sleep 1) | timeout 8 openssl s_client -dtls1_2 -mtu 600 \
        -connect "127.0.0.1:$PORT" -CAfile "$PKI/root-ca.pem" -keylogfile "$keylog" "$@" \
        >"$WORK/$name.client" 2>&1 || true
    sleep 0.5
    kill "$dump" "$server" 2>/dev/null || true
    wait "$dump" "$server" 2>/dev/null || true
    echo "$name: $(grep -hoE 'alert [a-z ]+|Verify return code: [0-9]+ \([^)]*\)' "$WORK/$name.client" | head -2 | tr '\n' ' ')" >&2
}

capture dtls12-success -cert "$PKI/client-alice.pem" -key "$PKI/client-alice.key" -cert_chain "$PKI/client-ca.pem"
capture dtls12-expired-client-cert -cert "$PKI/client-markw.pem" -key "$PKI/client-markw.key" \
    -cert_chain "$PKI/client-ca.pem"
capture dtls12-unlisted-ca -cert "$PKI/client-bob.pem" -key "$PKI/client-bob.key"
capture dtls12-no-client-cert

python3 "$HERE/describe_dtls.py" "$OUT" "$PORT" >"$OUT/MANIFEST.tsv"
