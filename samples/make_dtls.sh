#!/usr/bin/env bash
# DTLS 1.2 mutual-authentication samples: openssl s_server -dtls1_2 and openssl s_client -dtls1_2
# on loopback, captured with tcpdump (udp port $PORT), certificates from samples/pki, key logs from
# s_client -keylogfile. -mtu 600 on both sides makes the certificates travel in DTLS fragments.
# Writes samples/dtls/<case>.pcap and .keylog, then MANIFEST.tsv from how each was made and tshark's view
# (with and without the key log). Needs root (tcpdump on lo). Every process it starts is stopped on exit.
#
#   bash samples/make_dtls.sh              every case (make samples-dtls)
#   bash samples/make_dtls.sh CASE...      only these cases (the others' captures stay as they are)
#
# No DTLS 1.3 case: the installed OpenSSL (3.0) has no -dtls1_3 and GnuTLS 3.7 no VERS-DTLS1.3; the script
# says so when it runs. DTLS 1.3 decryption is tested on the corpus's nDPI dtls.pcap (wolfSSL, with a
# Decryption Secrets Block) instead.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PKI="$HERE/pki"
OUT="${DTLS_OUT:-$HERE/dtls}"  # DTLS_OUT: write elsewhere (to try the script without touching the samples)
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

# make_case NAME CLIENT_OPTIONS...: capture it when every case is made or it is named on the command line.
make_case() {
    local name="$1"
    if [ "${#WANTED[@]}" -eq 0 ] || printf '%s\n' "${WANTED[@]}" | grep -qx "$name"; then capture "$@"; fi
}

WANTED=("$@")
ALICE=(-cert "$PKI/client-alice.pem" -key "$PKI/client-alice.key" -cert_chain "$PKI/client-ca.pem")
make_case dtls12-success "${ALICE[@]}"
make_case dtls12-expired-client-cert -cert "$PKI/client-markw.pem" -key "$PKI/client-markw.key" \
    -cert_chain "$PKI/client-ca.pem"
make_case dtls12-unlisted-ca -cert "$PKI/client-bob.pem" -key "$PKI/client-bob.key"
make_case dtls12-no-client-cert
# The same success with other record protections, for decryption: ChaCha20-Poly1305 (its nonce is the IV XOR
# epoch || sequence, RFC 7905) and AES-CBC with HMAC-SHA384, MAC-then-encrypt (-no_etm).
make_case dtls12-success-chacha20 "${ALICE[@]}" -cipher ECDHE-RSA-CHACHA20-POLY1305
make_case dtls12-success-cbc-sha384 "${ALICE[@]}" -cipher ECDHE-RSA-AES256-SHA384 -no_etm

if openssl s_client -help 2>&1 | grep -q -- -dtls1_3; then
    echo "note: $(openssl version) knows -dtls1_3; no DTLS 1.3 case is made yet" >&2
else
    echo "no DTLS 1.3 case: $(openssl version | cut -d' ' -f1-2) has no -dtls1_3" >&2
fi
if command -v gnutls-cli >/dev/null; then
    gnutls-cli --list --priority NORMAL:+VERS-DTLS1.3 >/dev/null 2>&1 \
        && echo "note: $(gnutls-cli --version | head -1) knows VERS-DTLS1.3; no DTLS 1.3 case is made yet" >&2 \
        || echo "no DTLS 1.3 case: $(gnutls-cli --version | head -1) has no VERS-DTLS1.3" >&2
fi

python3 "$HERE/describe_dtls.py" "$OUT" "$PORT" >"$OUT/MANIFEST.tsv"
