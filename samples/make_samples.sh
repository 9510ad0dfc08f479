#!/usr/bin/env bash
# Make tlscap's sample captures from nothing: a small PKI (make_pki.py), then real
# mutual-TLS connections between real software (nginx / openssl s_server as the
# server, curl / openssl s_client as the client), captured with tcpdump on loopback.
#
# Run from anywhere (`make samples` runs it from the project root). Idempotent: every
# file it generates is removed first and rewritten. Uses only 127.0.0.1 and the ports
# below; every server and tcpdump it starts is stopped on exit (trap).
#
# `make_samples.sh` (no argument) makes everything: the main set, then the verdict set.
# `make_samples.sh verdict` makes only the verdict set (samples/verdict/: one cause of a failed
# mutual-TLS handshake per capture), removing and rewriting samples/verdict/ and nothing else.
# `make_samples.sh tls13-stacks` runs make_tls13_stacks.sh (samples/tls13-stacks/ only).
#
# Env: PY (python with `cryptography`), PORT_NGINX, PORT_SSERVER, PORT_STALE,
#      PORT_VERDICT_NGINX, PORT_VERDICT_SSERVER, PORT_VERDICT_STALE.
set -euo pipefail

SAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(dirname "$SAMPLES")"
PY="${PY:-$PROJECT/.venv/bin/python}"
PORT_NGINX="${PORT_NGINX:-18443}"     # nginx + curl scenarios
PORT_SSERVER="${PORT_SSERVER:-18444}" # openssl s_server + s_client (real alerts)
PORT_STALE="${PORT_STALE:-18445}"     # stale-truststore (nginx reload)
PORT_VERDICT_NGINX="${PORT_VERDICT_NGINX:-18446}"     # verdict set: nginx + curl
PORT_VERDICT_SSERVER="${PORT_VERDICT_SSERVER:-18447}" # verdict set: openssl s_server + s_client
PORT_VERDICT_STALE="${PORT_VERDICT_STALE:-18448}"     # verdict set: stale-truststore nginx
PKI="$SAMPLES/pki"
STALE="$SAMPLES/stale-truststore"
VERDICT="$SAMPLES/verdict"
VPKI="$VERDICT/pki"
# What the clients trust for the server's certificate, and the port s_client connects to:
# the main set's until verdict_set switches them to its own.
SERVER_ROOT="$PKI/root-ca.pem"
SCLIENT_PORT="$PORT_SSERVER"

WORK="$(mktemp -d /tmp/tlscap-samples.XXXXXX)"
NGINX_PID=""
NGINX_DIR=""
SSERVER_PID=""
TCPDUMP_PID=""

log() { printf '[make_samples] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Stop only what this script started, by pid.
stop_pid() {
    local pid="$1" sig="${2:-TERM}"
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$TCPDUMP_PID" INT
    stop_pid "$SSERVER_PID"
    stop_pid "$NGINX_PID" QUIT
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { [ -n "$(ss -ltnH "sport = :$1")" ]; }

wait_listening() { # port pid
    local port="$1" pid="$2" i
    for i in $(seq 100); do
        port_in_use "$port" && return 0
        kill -0 "$pid" 2>/dev/null || die "server (pid $pid) for port $port exited early"
        sleep 0.1
    done
    die "nothing listens on 127.0.0.1:$port"
}

wait_free() { # port: the previous server on it must be gone
    local port="$1" i
    for i in $(seq 100); do
        port_in_use "$port" || return 0
        sleep 0.1
    done
    die "port $port still in use"
}

# ---------------------------------------------------------------- tcpdump
# start_capture FILE PORT [tcpdump options, default -i lo -s 0]
start_capture() {
    local file="$1" port="$2"; shift 2
    [ $# -gt 0 ] || set -- -i lo -s 0
    rm -f "$file"
    : >"$WORK/tcpdump.err"
    # --immediate-mode: hand each packet over at once (otherwise packets still in the kernel's
    # ring-buffer block are lost at SIGINT); -B: a large kernel buffer, so a busy machine does
    # not drop packets; -U: write each packet at once; -Z root: no privilege drop.
    tcpdump -n --immediate-mode -B 16384 -U -Z root "$@" -w "$file" "tcp port $port" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    local i
    for i in $(seq 100); do
        grep -q "listening on" "$WORK/tcpdump.err" && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$WORK/tcpdump.err")"
        sleep 0.1
    done
    grep -q "listening on" "$WORK/tcpdump.err" || die "tcpdump not ready"
    sleep 0.5
}

stop_capture() {
    sleep 1
    stop_pid "$TCPDUMP_PID" INT
    TCPDUMP_PID=""
}

# capture_complete FILE: no packet dropped or lost, and the connections ended inside the capture.
capture_complete() {
    local file="$1" dropped lost ends
    dropped="$(grep -oE '^[0-9]+ packets? dropped by kernel' "$WORK/tcpdump.err" | cut -d' ' -f1)"
    [ "${dropped:-0}" = 0 ] || return 1
    lost="$(tshark -n -r "$file" -Y 'tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment' 2>/dev/null | wc -l)"
    [ "$lost" = 0 ] || return 1
    ends="$(tshark -n -r "$file" -Y 'tcp.flags.fin==1 or tcp.flags.reset==1' 2>/dev/null | wc -l)"
    [ "$ends" -gt 0 ]
}

# with_capture FILE PORT "TCPDUMP_OPTIONS" CLIENT_COMMAND...
# Runs the client command under tcpdump; captures again (up to 3 times) when packets were lost.
# The key log beside FILE (same basename, .keylog) is emptied before each attempt.
with_capture() {
    local file="$1" port="$2" opts="$3"; shift 3
    local attempt
    for attempt in 1 2 3; do
        rm -f "${file%.pcap}.keylog"
        # shellcheck disable=SC2086  # the tcpdump options are meant to be split
        start_capture "$file" "$port" $opts
        "$@"
        stop_capture
        if capture_complete "$file"; then return 0; fi
        log "  packets lost in $(basename "$file") (attempt $attempt): $(tail -1 "$WORK/tcpdump.err"); again"
    done
    die "could not capture $(basename "$file") without loss"
}

# ---------------------------------------------------------------- nginx
# start_nginx NAME PROTOCOLS TRUST_FILE VERIFY_DEPTH PORT [SERVER_CERT_BASE]
# SERVER_CERT_BASE: path without .pem/.key of the server's certificate and key (default $PKI/server).
start_nginx() {
    local name="$1" protocols="$2" trust="$3" depth="$4" port="$5" server="${6:-$PKI/server}"
    local dir="$WORK/nginx-$name"
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
# Minimal nginx for one mutual-TLS scenario (generated by samples/make_samples.sh).
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate $server.pem;
        ssl_certificate_key $server.key;
        ssl_protocols $protocols;
        ssl_verify_client on;
        ssl_client_certificate $trust;
        ssl_verify_depth $depth;
        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
EOF
    wait_free "$port"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" 2>>"$dir/logs/stderr" &
    NGINX_PID=$!
    NGINX_DIR="$dir"
    wait_listening "$port" "$NGINX_PID"
}

stop_nginx() {
    stop_pid "$NGINX_PID" QUIT
    NGINX_PID=""
}

# Show why nginx refused (its error log), for the person running this.
nginx_verdicts() {
    grep -hoE 'client (SSL certificate verify error|sent no required SSL certificate)[^,]*' \
        "$NGINX_DIR/logs/error.log" 2>/dev/null | sed 's/^/    nginx: /' >&2 || true
}

# ---------------------------------------------------------------- curl
# run_curl KEYLOG PORT TLS(1.2|1.3) [curl cert options...]
run_curl() {
    local keylog="$1" port="$2" tls="$3"; shift 3
    local versions
    if [ "$tls" = 1.2 ]; then versions=(--tlsv1.2 --tls-max 1.2); else versions=(--tlsv1.3 --tls-max 1.3); fi
    local code
    code="$(SSLKEYLOGFILE="$keylog" curl -sS --http1.1 --max-time 10 "${versions[@]}" \
        --resolve "localhost:$port:127.0.0.1" --cacert "$SERVER_ROOT" "$@" \
        -o "$WORK/body" -w '%{http_code}' "https://localhost:$port/" 2>"$WORK/curl.err")" || true
    log "  curl → HTTP ${code:-none} $(head -c 200 "$WORK/body" 2>/dev/null | grep -o '<title>[^<]*' | sed 's/<title>//') $(tr '\n' ' ' <"$WORK/curl.err")"
}

# Client certificate options per client, shared by curl and s_client callers.
# Verdict set: v:NAME sends $VPKI/NAME.pem alone, v:NAME+chain sends $VPKI/NAME-chain.pem.
curl_cert_opts() { # client: alice-chain | alice-leaf | markw | bob | none | v:NAME | v:NAME+chain
    local name
    case "$1" in
        v:*+chain) name="${1#v:}"; name="${name%+chain}"; echo "--cert $VPKI/$name-chain.pem --key $VPKI/$name.key" ;;
        v:*) name="${1#v:}"; echo "--cert $VPKI/$name.pem --key $VPKI/$name.key" ;;
        alice-chain) echo "--cert $PKI/client-alice-chain.pem --key $PKI/client-alice.key" ;;
        alice-leaf) echo "--cert $PKI/client-alice.pem --key $PKI/client-alice.key" ;;
        markw) echo "--cert $PKI/client-markw-chain.pem --key $PKI/client-markw.key" ;;
        bob) echo "--cert $PKI/client-bob.pem --key $PKI/client-bob.key" ;;
        none) echo "" ;;
        *) die "unknown client $1" ;;
    esac
}

# curl_clients KEYLOG PORT TLS CLIENT... : one curl connection per client, in order.
curl_clients() {
    local keylog="$1" port="$2" tls="$3"; shift 3
    local client
    for client in "$@"; do
        # shellcheck disable=SC2046  # word splitting of the cert options is intended
        run_curl "$keylog" "$port" "$tls" $(curl_cert_opts "$client")
        [ $# -eq 1 ] || sleep 0.2
    done
}

# ---------------------------------------------------------------- nginx scenarios
# capture_nginx FILE_BASE PORT TLS CLIENT [tcpdump options]
capture_nginx() {
    local base="$1" port="$2" tls="$3" client="$4"; shift 4
    log "capture $(basename "$base").pcap ($client, TLS $tls)"
    with_capture "$base.pcap" "$port" "${*:--i lo -s 0}" curl_clients "$base.keylog" "$port" "$tls" "$client"
}

nginx_scenarios() { # TLS
    local tls="$1" v="tls${1/./}" protocols="TLSv$1"
    start_nginx "$v-main" "$protocols" "$PKI/trust-root-and-client-ca.pem" 3 "$PORT_NGINX"
    capture_nginx "$SAMPLES/$v-success" "$PORT_NGINX" "$tls" alice-chain
    capture_nginx "$SAMPLES/$v-expired-client-cert" "$PORT_NGINX" "$tls" markw
    capture_nginx "$SAMPLES/$v-unlisted-ca" "$PORT_NGINX" "$tls" bob
    capture_nginx "$SAMPLES/$v-no-client-cert" "$PORT_NGINX" "$tls" none
    if [ "$tls" = 1.2 ]; then
        # Variants of the demo scenario: other link types and a short snap length.
        capture_nginx "$SAMPLES/snaplen-truncated" "$PORT_NGINX" "$tls" markw -i lo -s 200
        capture_nginx "$SAMPLES/$v-expired-client-cert-any" "$PORT_NGINX" "$tls" markw -i any -y LINUX_SLL2 -s 0
        capture_nginx "$SAMPLES/$v-expired-client-cert-any-sll" "$PORT_NGINX" "$tls" markw -i any -y LINUX_SLL -s 0
        # Several connections in one file.
        log "capture multi-connection.pcap (success, expired, unlisted, no cert; TLS 1.2)"
        with_capture "$SAMPLES/multi-connection.pcap" "$PORT_NGINX" "-i lo -s 0" \
            curl_clients "$SAMPLES/multi-connection.keylog" "$PORT_NGINX" "$tls" alice-chain markw bob none
    fi
    nginx_verdicts
    stop_nginx

    start_nginx "$v-rootonly" "$protocols" "$PKI/trust-root-only.pem" 2 "$PORT_NGINX"
    capture_nginx "$SAMPLES/$v-missing-intermediate" "$PORT_NGINX" "$tls" alice-leaf
    capture_nginx "$SAMPLES/$v-full-chain" "$PORT_NGINX" "$tls" alice-chain
    nginx_verdicts
    stop_nginx
}

# ---------------------------------------------------------------- openssl s_server scenarios
# capture_sserver FILE_BASE TLS CA_FILE CLIENT
# s_server -Verify 2 -verify_return_error refuses a bad client certificate with a real alert.
capture_sserver() {
    local base="$1" tls="$2" cafile="$3" client="$4"
    local flag="-tls1_${tls#1.}"
    local cert_opts=()
    case "$client" in
        markw) cert_opts=(-cert "$PKI/client-markw.pem" -key "$PKI/client-markw.key" -cert_chain "$PKI/client-ca.pem") ;;
        bob) cert_opts=(-cert "$PKI/client-bob.pem" -key "$PKI/client-bob.key") ;;
        alice-leaf) cert_opts=(-cert "$PKI/client-alice.pem" -key "$PKI/client-alice.key") ;;
        none) cert_opts=() ;;
        *) die "unknown client $client" ;;
    esac
    log "capture $(basename "$base").pcap ($client, TLS $tls, openssl s_server)"
    wait_free "$PORT_SSERVER"
    openssl s_server -accept "127.0.0.1:$PORT_SSERVER" "$flag" \
        -cert "$PKI/server.pem" -key "$PKI/server.key" -CAfile "$cafile" \
        -Verify 2 -verify_return_error -www </dev/null >"$WORK/s_server.out" 2>&1 &
    SSERVER_PID=$!
    wait_listening "$PORT_SSERVER" "$SSERVER_PID"
    with_capture "$base.pcap" "$PORT_SSERVER" "-i lo -s 0" run_s_client "$base.keylog" "$flag" "${cert_opts[@]}"
    grep -hE 'alert|error' "$WORK/s_client.out" | head -2 | sed 's/^/    s_client: /' >&2 || true
    grep -hE 'error|alert' "$WORK/s_server.out" | head -2 | sed 's/^/    s_server: /' >&2 || true
    stop_pid "$SSERVER_PID"
    SSERVER_PID=""
}

# run_s_client KEYLOG VERSION_FLAG [certificate options...]
run_s_client() {
    local keylog="$1" flag="$2"; shift 2
    # -ign_eof: keep reading after the request so the server's alert is received, not cut by our close.
    printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$SCLIENT_PORT" -servername localhost "$flag" \
            -CAfile "$SERVER_ROOT" "$@" -keylogfile "$keylog" -ign_eof \
            >"$WORK/s_client.out" 2>&1 || true
}

sserver_scenarios() { # TLS
    local tls="$1" v="tls${1/./}"
    capture_sserver "$SAMPLES/$v-alert-expired-client-cert" "$tls" "$PKI/trust-root-and-client-ca.pem" markw
    capture_sserver "$SAMPLES/$v-alert-unlisted-ca" "$tls" "$PKI/trust-root-and-client-ca.pem" bob
    capture_sserver "$SAMPLES/$v-alert-no-client-cert" "$tls" "$PKI/trust-root-and-client-ca.pem" none
    capture_sserver "$SAMPLES/$v-alert-missing-intermediate" "$tls" "$PKI/trust-root-only.pem" alice-leaf
}

# ---------------------------------------------------------------- certificate asked after the handshake
# The first handshake asks for no certificate; later the server asks for one through openssl s_server's
# interactive commands, and client-markw (expired) + intermediate answers inside the encrypted channel:
# only the key log shows it.
#   TLS 1.2 renegotiation: "R" renegotiates and requests a certificate (as Apache does for a directory).
#   TLS 1.3 post-handshake authentication: "c" sends a CertificateRequest; the client needs -enable_pha.

# run_late_auth_client KEYLOG [s_client options...]
run_late_auth_client() {
    local keylog="$1"; shift
    (printf 'hello\n'; sleep 4; printf 'bye\n'; sleep 1) |
        timeout 12 openssl s_client "$@" -connect "127.0.0.1:$PORT_SSERVER" \
            -cert "$PKI/client-markw.pem" -key "$PKI/client-markw.key" -cert_chain "$PKI/client-ca.pem" \
            -CAfile "$PKI/root-ca.pem" -keylogfile "$keylog" >"$WORK/s_client.out" 2>&1 || true
}

# capture_late_auth NAME SERVER_COMMAND "SERVER_OPTIONS" "CLIENT_OPTIONS"
capture_late_auth() {
    local base="$SAMPLES/$1" command="$2" server_opts="$3" client_opts="$4"
    log "capture $(basename "$base").pcap (certificate asked after the handshake: s_server \"$command\")"
    wait_free "$PORT_SSERVER"
    # shellcheck disable=SC2086  # the option strings are meant to be split
    ( (sleep 2.5; printf '%s\n' "$command"; sleep 8) | openssl s_server -naccept 1 $server_opts \
        -accept "127.0.0.1:$PORT_SSERVER" -cert "$PKI/server.pem" -key "$PKI/server.key" \
        -CAfile "$PKI/root-ca.pem" >"$WORK/s_server.out" 2>&1 ) &
    SSERVER_PID=$!
    wait_listening "$PORT_SSERVER" "$SSERVER_PID"
    # shellcheck disable=SC2086
    with_capture "$base.pcap" "$PORT_SSERVER" "-i lo -s 0" run_late_auth_client "$base.keylog" $client_opts
    stop_pid "$SSERVER_PID"
    SSERVER_PID=""
}

# ---------------------------------------------------------------- stale truststore
# nginx loads bundle A (Capture Lab root); the file is then replaced by A+B (B = Partner
# Root CA) without a reload: client-bob is still refused. After `nginx -s reload` it is accepted.
stale_truststore() {
    mkdir -p "$STALE"
    cp "$PKI/trust-root-only.pem" "$STALE/bundle-A.pem"
    cp "$PKI/trust-root-and-partner.pem" "$STALE/bundle-AB.pem"
    local trust="$WORK/stale-trust.pem"
    cp "$STALE/bundle-A.pem" "$trust"
    start_nginx stale TLSv1.2 "$trust" 3 "$PORT_STALE"
    cp "$STALE/bundle-AB.pem" "$trust" # replaced on disk, nginx not told
    capture_nginx "$STALE/stale-truststore" "$PORT_STALE" 1.2 bob
    log "nginx -s reload"
    nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/logs/error.log" -s reload
    local i
    for i in $(seq 100); do
        grep -q 'reconfiguring' "$NGINX_DIR/logs/error.log" && break
        sleep 0.1
    done
    sleep 1 # let the new worker take over the listening socket
    capture_nginx "$STALE/stale-truststore-reloaded" "$PORT_STALE" 1.2 bob
    nginx_verdicts
    stop_nginx
}

# ---------------------------------------------------------------- verdict set (samples/verdict/)
# One capture per cause of a failed mutual-TLS handshake, each in TLS 1.2 and TLS 1.3, with its
# own PKI (make_verdict_pki.py, in verdict/pki/). What the server said about each connection (nginx's
# error log line, s_server's verify error) is kept in $VREASONS for describe_verdict.py, which checks
# every capture with tshark and writes verdict/MANIFEST.tsv and the verdict section of README.md.
VREASONS="$WORK/verdict-reasons"

# nginx_reasons_since LINE: nginx's verdict lines written after line LINE of its error log, in order.
nginx_reasons_since() {
    tail -n +"$(($1 + 1))" "$NGINX_DIR/logs/error.log" |
        grep -oE 'client (SSL certificate verify error|sent no required SSL certificate)[^,]*' |
        sed 's/ while .*//' || true
}

# verdict_curl_clients FILE_BASE PORT TLS CLIENT...: curl_clients, then keep what nginx logged for them
# (rewritten at each capture attempt, so only the kept attempt counts).
verdict_curl_clients() {
    local base="$1" port="$2" tls="$3"; shift 3
    local before reasons="$VREASONS/$(basename "$base").txt"
    before="$(wc -l <"$NGINX_DIR/logs/error.log")"
    curl_clients "$base.keylog" "$port" "$tls" "$@"
    sleep 0.2
    nginx_reasons_since "$before" >"$reasons"
    sed 's/^/    nginx: /' "$reasons" >&2
}

# capture_verdict_nginx FILE_BASE PORT TLS CLIENT... (clients as curl_cert_opts names them: v:NAME[+chain], none)
capture_verdict_nginx() {
    local base="$1" port="$2" tls="$3"; shift 3
    log "capture verdict/$(basename "$base").pcap ($*, TLS $tls)"
    with_capture "$base.pcap" "$port" "-i lo -s 0" verdict_curl_clients "$base" "$port" "$tls" "$@"
}

verdict_nginx_scenarios() { # TLS
    local tls="$1" v="tls${1/./}" port="$PORT_VERDICT_NGINX"
    # Trusts and lists root + client-ca, ssl_verify_depth 3.
    start_nginx "verdict-$v-main" "TLSv$tls" "$VPKI/trust-root-and-client-ca.pem" 3 "$port" "$VPKI/server"
    capture_verdict_nginx "$VERDICT/$v-success" "$port" "$tls" v:client-ok+chain
    capture_verdict_nginx "$VERDICT/$v-expired" "$port" "$tls" v:client-expired+chain
    capture_verdict_nginx "$VERDICT/$v-not-yet-valid" "$port" "$tls" v:client-future+chain
    capture_verdict_nginx "$VERDICT/$v-wrong-usage" "$port" "$tls" v:client-serverauth+chain
    capture_verdict_nginx "$VERDICT/$v-no-cert" "$port" "$tls" none
    capture_verdict_nginx "$VERDICT/$v-foreign-ca" "$port" "$tls" v:client-foreign
    # A leaf whose issuer NAME (CN=Example Client CA) is listed, signed by that CA's new key.
    capture_verdict_nginx "$VERDICT/$v-rekeyed-ca" "$port" "$tls" v:client-rekeyed
    stop_nginx
    # Trusts and lists the root only, ssl_verify_depth 2: the client must send the intermediate.
    start_nginx "verdict-$v-rootonly" "TLSv$tls" "$VPKI/trust-root-only.pem" 2 "$port" "$VPKI/server"
    capture_verdict_nginx "$VERDICT/$v-missing-intermediate" "$port" "$tls" v:client-dave
    capture_verdict_nginx "$VERDICT/$v-multi-connection" "$port" "$tls" v:client-ok+chain v:client-dave
    stop_nginx
}

# nginx loads trust-g1.pem (a work copy); the file is then replaced by trust-g1-g2.pem, the bundle the
# operator configured, without a reload: nginx still lists and trusts G1 only, client-g2 is refused.
verdict_stale_truststore() { # TLS
    local tls="$1" v="tls${1/./}"
    local trust="$WORK/verdict-stale-trust-$v.pem"
    cp "$VPKI/trust-g1.pem" "$trust"
    start_nginx "verdict-$v-stale" "TLSv$tls" "$trust" 3 "$PORT_VERDICT_STALE" "$VPKI/server"
    cp "$VPKI/trust-g1-g2.pem" "$trust" # replaced on disk, nginx not told
    capture_verdict_nginx "$VERDICT/$v-stale-truststore" "$PORT_VERDICT_STALE" "$tls" v:client-g2
    stop_nginx
}

# capture_verdict_sserver FILE_BASE TLS CA_FILE CLIENT (v:NAME leaf alone, v:NAME+chain leaf + client-ca)
# s_server -Verify 2 -verify_return_error refuses a bad client certificate with a real fatal alert.
capture_verdict_sserver() {
    local base="$1" tls="$2" cafile="$3" client="$4"
    local flag="-tls1_${tls#1.}" name="${client#v:}"
    local leaf="${name%+chain}"
    local cert_opts=(-cert "$VPKI/$leaf.pem" -key "$VPKI/$leaf.key")
    [ "$leaf" = "$name" ] || cert_opts+=(-cert_chain "$VPKI/client-ca.pem")
    log "capture verdict/$(basename "$base").pcap ($client, TLS $tls, openssl s_server)"
    wait_free "$PORT_VERDICT_SSERVER"
    openssl s_server -accept "127.0.0.1:$PORT_VERDICT_SSERVER" "$flag" \
        -cert "$VPKI/server.pem" -key "$VPKI/server.key" -CAfile "$cafile" \
        -Verify 2 -verify_return_error -www </dev/null >"$WORK/s_server.out" 2>&1 &
    SSERVER_PID=$!
    wait_listening "$PORT_VERDICT_SSERVER" "$SSERVER_PID"
    with_capture "$base.pcap" "$PORT_VERDICT_SSERVER" "-i lo -s 0" run_s_client "$base.keylog" "$flag" "${cert_opts[@]}"
    # The verify error of the last attempt (s_server keeps accepting across attempts).
    grep -oE 'verify error:num=[0-9]+:.*' "$WORK/s_server.out" | tail -1 | sed 's/^/s_server: /' \
        >"$VREASONS/$(basename "$base").txt" || true
    sed 's/^/    /' "$VREASONS/$(basename "$base").txt" >&2
    grep -hE 'alert' "$WORK/s_client.out" | head -1 | sed 's/^/    s_client: /' >&2 || true
    stop_pid "$SSERVER_PID"
    SSERVER_PID=""
}

verdict_sserver_scenarios() { # TLS
    local tls="$1" v="tls${1/./}" trust="$VPKI/trust-root-and-client-ca.pem"
    capture_verdict_sserver "$VERDICT/$v-alert-foreign-ca" "$tls" "$trust" v:client-foreign
    capture_verdict_sserver "$VERDICT/$v-alert-wrong-usage" "$tls" "$trust" v:client-serverauth+chain
    capture_verdict_sserver "$VERDICT/$v-alert-not-yet-valid" "$tls" "$trust" v:client-future+chain
}

# verdict_set: remove samples/verdict/ and make it again (PKI, captures, MANIFEST.tsv, README section).
verdict_set() {
    local p tls
    for p in "$PORT_VERDICT_NGINX" "$PORT_VERDICT_SSERVER" "$PORT_VERDICT_STALE"; do
        if port_in_use "$p"; then die "port $p is already in use"; fi
    done
    log "removing previous verdict samples ($VERDICT)"
    rm -rf "$VERDICT"
    mkdir -p "$VERDICT" "$VREASONS"

    log "building the verdict PKI in $VPKI"
    "$PY" "$SAMPLES/make_verdict_pki.py" "$VPKI"
    SERVER_ROOT="$VPKI/root-ca.pem"
    SCLIENT_PORT="$PORT_VERDICT_SSERVER"

    for tls in 1.2 1.3; do verdict_nginx_scenarios "$tls"; done
    for tls in 1.2 1.3; do verdict_stale_truststore "$tls"; done
    for tls in 1.2 1.3; do verdict_sserver_scenarios "$tls"; done

    log "verifying the verdict set with tshark; writing verdict/MANIFEST.tsv and README.md's verdict section"
    "$PY" "$SAMPLES/describe_verdict.py" "$VERDICT" --reasons "$VREASONS" \
        --ports "$PORT_VERDICT_NGINX,$PORT_VERDICT_SSERVER,$PORT_VERDICT_STALE" --readme "$SAMPLES/README.md"
    log "verdict set done: $(du -sh "$VERDICT" | cut -f1) in $VERDICT"
}

# ---------------------------------------------------------------- main
check_tools() {
    local cmd
    for cmd in tcpdump tshark editcap capinfos openssl nginx curl ss; do
        command -v "$cmd" >/dev/null || die "$cmd is not installed (make system-deps)"
    done
    [ -x "$PY" ] || die "no python at $PY (make venv)"
}

main() {
    case "${1:-all}" in
        all) ;;
        verdict)
            check_tools
            verdict_set
            return 0
            ;;
        tls13-stacks)
            # samples/tls13-stacks/ only (many TLS 1.3 stacks; its own script, see there).
            bash "$SAMPLES/make_tls13_stacks.sh"
            return 0
            ;;
        *) die "usage: make_samples.sh [verdict|tls13-stacks]   (no argument: every sample but tls13-stacks; verdict: samples/verdict/ only; tls13-stacks: samples/tls13-stacks/ only)" ;;
    esac
    check_tools
    local p
    for p in "$PORT_NGINX" "$PORT_SSERVER" "$PORT_STALE" "$PORT_VERDICT_NGINX" "$PORT_VERDICT_SSERVER" "$PORT_VERDICT_STALE"; do
        if port_in_use "$p"; then die "port $p is already in use"; fi
    done

    log "removing previous samples"
    rm -f "$SAMPLES"/*.pcap "$SAMPLES"/*.pcapng "$SAMPLES"/*.keylog
    rm -rf "$PKI" "$STALE"

    log "building the PKI in $PKI"
    "$PY" "$SAMPLES/make_pki.py" "$PKI"

    nginx_scenarios 1.2
    nginx_scenarios 1.3
    sserver_scenarios 1.2
    sserver_scenarios 1.3
    capture_late_auth tls12-renegotiation-client-cert R "-no_cache -no_ticket -tls1_2" "-no_ticket -tls1_2"
    capture_late_auth tls13-post-handshake-auth c "-tls1_3" "-enable_pha -tls1_3"
    stale_truststore

    log "embedding a key log as a pcapng Decryption Secrets Block (editcap --inject-secrets)"
    rm -f "$SAMPLES"/*.pcapng
    editcap --inject-secrets "tls,$SAMPLES/tls13-expired-client-cert.keylog" \
        "$SAMPLES/tls13-expired-client-cert.pcap" "$SAMPLES/tls13-expired-client-cert-dsb.pcapng"

    if [ -f "$SAMPLES/describe_samples.py" ]; then
        log "verifying with tshark and writing README.md"
        "$PY" "$SAMPLES/describe_samples.py" "$SAMPLES" --ports "$PORT_NGINX,$PORT_SSERVER,$PORT_STALE" \
            --readme "$SAMPLES/README.md"
    fi

    # README.md was just rewritten without its verdict section: the verdict set writes it back.
    verdict_set
    # ... and without the tls13-stacks section: write it back from the captures already there.
    if [ -f "$SAMPLES/tls13-stacks/MANIFEST.tsv" ]; then bash "$SAMPLES/make_tls13_stacks.sh" readme; fi
    # ... and the client-stacks section.
    if [ -f "$SAMPLES/client-stacks/MANIFEST.tsv" ]; then bash "$SAMPLES/make_client_stacks.sh" readme; fi
    log "done: $(du -sh "$SAMPLES" | cut -f1) in $SAMPLES"
}

main "$@"
