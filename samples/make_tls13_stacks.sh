#!/usr/bin/env bash
# Make samples/tls13-stacks/: real TLS 1.3 mutual-TLS connections between many TLS stacks, one
# connection per capture, each with the NSS key log its client wrote, so that what can be inferred
# from encrypted TLS 1.3 records without keys can be checked against the decrypted truth.
#
#   servers: nginx, Apache httpd (mod_ssl), HAProxy, openssl s_server, gnutls-serv, Python ssl
#   clients: curl, openssl s_client, gnutls-cli, Python ssl
#   scenarios: ok (good client certificate + chain), nocert (no client certificate configured),
#              rejected (client-foreign, from a CA the server does not trust), expired (expired
#              client certificate + chain); norequest (the server asks for no certificate) for
#              nginx+curl, s_server+s_client, python+python.
#
# Files: tls13-<server>-<client>-<scenario>.pcap + .keylog, MANIFEST.tsv (written from tshark by
# describe_tls13_stacks.py, which also writes the tls13-stacks section of samples/README.md).
#
# Uses the PKI in samples/verdict/pki/ (read only). Idempotent: removes and rewrites
# samples/tls13-stacks/ and that README section, nothing else. Installs nothing.
#
# Network: everything (servers, clients, tcpdump) runs in a private network namespace
# (`unshare --net`) whose only interface is its own loopback: nothing can reach or be reached from
# any other network (gnutls-serv has no option to listen on 127.0.0.1 only). Needs root (tcpdump,
# unshare). Every process it starts is stopped by its pid on exit.
#
# Env: PY (python for the Python stack and the describer; default the project's .venv),
#      SKIP_SERVERS / SKIP_CLIENTS (space-separated names to leave out, e.g. SKIP_SERVERS="apache").
set -euo pipefail

SAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(dirname "$SAMPLES")"
PY="${PY:-$PROJECT/.venv/bin/python}"
OUT="$SAMPLES/tls13-stacks"
PKI="$SAMPLES/verdict/pki"
SELF="$SAMPLES/$(basename "${BASH_SOURCE[0]}")"

log() { printf '[make_tls13_stacks] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SERVERS=(nginx apache haproxy sserver gnutls python)
CLIENTS=(curl sclient gnutls python)
SCENARIOS=(ok nocert rejected expired)
NOREQUEST_PAIRS=("nginx curl" "sserver sclient" "python python")
# One port per server (inside the private network namespace, so no clash with the host's).
declare -A PORT=([nginx]=18461 [apache]=18462 [haproxy]=18463 [sserver]=18464 [gnutls]=18465 [python]=18466)

skipped() { # NAME LIST
    local x
    for x in $2; do [ "$x" = "$1" ] && return 0; done
    return 1
}

# ---------------------------------------------------------------- checks, then the private netns
check_tools() {
    local cmd missing=()
    for cmd in tcpdump tshark openssl curl ss ip unshare; do
        command -v "$cmd" >/dev/null || die "$cmd is not installed"
    done
    [ -x "$PY" ] || die "no python at $PY (make venv, or set PY)"
    [ -f "$PKI/trust-root-and-client-ca.pem" ] || die "no PKI in $PKI (bash samples/make_samples.sh verdict)"
    if ! skipped nginx "${SKIP_SERVERS:-}" && ! command -v nginx >/dev/null; then
        missing+=("nginx (apt-get install nginx), or SKIP_SERVERS=nginx")
    fi
    if ! skipped apache "${SKIP_SERVERS:-}" && ! command -v apache2 >/dev/null; then
        missing+=("apache2 (apt-get install apache2), or SKIP_SERVERS=apache")
    fi
    if ! skipped haproxy "${SKIP_SERVERS:-}" && ! command -v haproxy >/dev/null; then
        missing+=("haproxy (apt-get install haproxy), or SKIP_SERVERS=haproxy")
    fi
    if ! skipped gnutls "${SKIP_SERVERS:-}" && ! command -v gnutls-serv >/dev/null; then
        missing+=("gnutls-serv (apt-get install gnutls-bin), or SKIP_SERVERS=gnutls")
    fi
    if ! skipped gnutls "${SKIP_CLIENTS:-}" && ! command -v gnutls-cli >/dev/null; then
        missing+=("gnutls-cli (apt-get install gnutls-bin), or SKIP_CLIENTS=gnutls")
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        log "missing software (this script installs nothing):"
        printf '  - %s\n' "${missing[@]}" >&2
        die "install the packages above, or leave those stacks out"
    fi
}

ports_arg() { # server=port,... for describe_tls13_stacks.py
    local s out=""
    for s in "${SERVERS[@]}"; do out+="$s=${PORT[$s]},"; done
    echo "${out%,}"
}

case "${1:-all}" in
    all) ;;
    readme)
        # Only the README section, from the captures and MANIFEST.tsv already in tls13-stacks/
        # (make_samples.sh calls this after rewriting README.md from its template).
        [ -f "$OUT/MANIFEST.tsv" ] || die "no $OUT/MANIFEST.tsv: run make_tls13_stacks.sh first"
        exec "$PY" "$SAMPLES/describe_tls13_stacks.py" "$OUT" --ports "$(ports_arg)" --readme "$SAMPLES/README.md" --readme-only
        ;;
    *) die "usage: make_tls13_stacks.sh [readme]   (no argument: make everything; readme: rewrite README.md's section only)" ;;
esac

if [ "${TLS13_STACKS_IN_NETNS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || die "run as root (tcpdump and unshare --net need it)"
    check_tools
    exec unshare --net -- env TLS13_STACKS_IN_NETNS=1 bash "$SELF" "$@"
fi
ip link set lo up

WORK="$(mktemp -d /tmp/tlscap-tls13-stacks.XXXXXX)"
chmod 711 "$WORK" # Apache's worker runs as www-data and reads its DocumentRoot under here.
SERVER_PID=""
TCPDUMP_PID=""
CUR_SERVER=""

# Stop only what this script started, by pid.
stop_pid() {
    local pid="$1" sig="${2:-TERM}"
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$TCPDUMP_PID" INT
    stop_pid "$SERVER_PID" "$(stop_signal "$CUR_SERVER")"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { [ -n "$(ss -ltnH "sport = :$1")" ]; }

wait_listening() { # port pid
    local port="$1" pid="$2" i
    for i in $(seq 100); do
        port_in_use "$port" && return 0
        kill -0 "$pid" 2>/dev/null || die "server (pid $pid) for port $port exited early: $(tail -5 "$WORK/server.out" 2>/dev/null)"
        sleep 0.1
    done
    die "nothing listens on port $port"
}

wait_free() { # port
    local port="$1" i
    for i in $(seq 100); do
        port_in_use "$port" || return 0
        sleep 0.1
    done
    die "port $port still in use"
}

# ---------------------------------------------------------------- tcpdump (as in make_samples.sh)
start_capture() { # FILE PORT
    local file="$1" port="$2" i
    rm -f "$file"
    : >"$WORK/tcpdump.err"
    tcpdump -n --immediate-mode -B 16384 -U -Z root -i lo -s 0 -w "$file" "tcp port $port" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
    for i in $(seq 100); do
        grep -q "listening on" "$WORK/tcpdump.err" && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$WORK/tcpdump.err")"
        sleep 0.1
    done
    grep -q "listening on" "$WORK/tcpdump.err" || die "tcpdump not ready"
    sleep 0.3
}

stop_capture() {
    sleep 0.7
    stop_pid "$TCPDUMP_PID" INT
    TCPDUMP_PID=""
}

# capture_complete FILE: nothing dropped or lost, exactly one TCP connection, and it ended (FIN/RST).
capture_complete() {
    local file="$1" dropped lost ends streams
    dropped="$(grep -oE '^[0-9]+ packets? dropped by kernel' "$WORK/tcpdump.err" | cut -d' ' -f1)"
    [ "${dropped:-0}" = 0 ] || return 1
    lost="$(tshark -n -r "$file" -Y 'tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment' 2>/dev/null | wc -l)"
    [ "$lost" = 0 ] || return 1
    streams="$(tshark -n -r "$file" -T fields -e tcp.stream 2>/dev/null | sort -u | wc -l)"
    [ "$streams" = 1 ] || return 1
    ends="$(tshark -n -r "$file" -Y 'tcp.flags.fin==1 or tcp.flags.reset==1' 2>/dev/null | wc -l)"
    [ "$ends" -gt 0 ]
}

# ---------------------------------------------------------------- servers
# start_server NAME MODE   (MODE: require = certificate required; norequest = no CertificateRequest)
start_server() {
    local name="$1" mode="$2" port="${PORT[$1]}" dir="$WORK/$1-$2"
    mkdir -p "$dir"
    : >"$WORK/server.out"
    wait_free "$port"
    case "$name" in
        nginx) start_nginx "$dir" "$port" "$mode" ;;
        apache) start_apache "$dir" "$port" "$mode" ;;
        haproxy) start_haproxy "$dir" "$port" "$mode" ;;
        sserver)
            local verify=(-Verify 2 -verify_return_error)
            [ "$mode" = require ] || verify=()
            # -WWW serves ok.txt from the current directory (-www's status page would be ~10 KB).
            printf 'ok\n' >"$dir/ok.txt"
            (cd "$dir" && exec openssl s_server -accept "127.0.0.1:$port" -tls1_3 -cert "$PKI/server.pem" -key "$PKI/server.key" \
                -CAfile "$PKI/trust-root-and-client-ca.pem" "${verify[@]}" -WWW </dev/null >"$WORK/server.out" 2>&1) &
            SERVER_PID=$!
            ;;
        gnutls)
            local verify=(--require-client-cert --verify-client-cert)
            [ "$mode" = require ] || verify=(--disable-client-cert)
            # --httpdata: a small fixed answer instead of gnutls-serv's ~6 KB session-information page.
            printf 'ok\n' >"$dir/ok.txt"
            # stdbuf -oL: gnutls-serv's stdout (a file here) would otherwise be block-buffered and its
            # lines would land in a later connection's slice of server.out.
            stdbuf -oL -eL gnutls-serv --http --httpdata "$dir/ok.txt" -p "$port" --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' \
                --x509certfile "$PKI/server.pem" --x509keyfile "$PKI/server.key" \
                --x509cafile "$PKI/trust-root-and-client-ca.pem" "${verify[@]}" </dev/null >"$WORK/server.out" 2>&1 &
            SERVER_PID=$!
            ;;
        python)
            local verify=required
            [ "$mode" = require ] || verify=none
            "$PY" -u "$SAMPLES/tls13_stacks_py.py" server --port "$port" --cert "$PKI/server.pem" --key "$PKI/server.key" \
                --cafile "$PKI/trust-root-and-client-ca.pem" --verify "$verify" </dev/null >"$WORK/server.out" 2>&1 &
            SERVER_PID=$!
            ;;
        *) die "unknown server $name" ;;
    esac
    CUR_SERVER="$name"
    wait_listening "$port" "$SERVER_PID"
}

stop_signal() { # nginx stops gracefully on QUIT; apache -X and the others on TERM
    case "$1" in nginx) echo QUIT ;; *) echo TERM ;; esac
}

stop_server() {
    stop_pid "$SERVER_PID" "$(stop_signal "$CUR_SERVER")"
    SERVER_PID=""
    CUR_SERVER=""
}

start_nginx() { # DIR PORT MODE
    local dir="$1" port="$2" verify="on"
    [ "$3" = require ] || verify="off"
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
# nginx, TLS 1.3 only (generated by samples/make_tls13_stacks.sh).
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $WORK/server.out info;
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
        ssl_certificate $PKI/server.pem;
        ssl_certificate_key $PKI/server.key;
        ssl_protocols TLSv1.3;
        ssl_verify_client $verify;
        ssl_client_certificate $PKI/trust-root-and-client-ca.pem;
        ssl_verify_depth 3;
        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$WORK/server.out" 2>>"$WORK/server.out" &
    SERVER_PID=$!
}

start_apache() { # DIR PORT MODE
    local dir="$1" port="$2" mods=/usr/lib/apache2/modules
    local verify="require"
    [ "$3" = require ] || verify="none"
    mkdir -p "$dir/htdocs"
    printf 'ok\n' >"$dir/htdocs/ok.txt"
    chmod 755 "$dir" "$dir/htdocs"
    chmod 644 "$dir/htdocs/ok.txt"
    cat >"$dir/httpd.conf" <<EOF
# Apache httpd + mod_ssl, TLS 1.3 only (generated by samples/make_tls13_stacks.sh).
ServerRoot $dir
ServerName localhost
Listen 127.0.0.1:$port https
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
User www-data
Group www-data
PidFile $dir/httpd.pid
DefaultRuntimeDir $dir
Mutex file:$dir default
ErrorLog $WORK/server.out
LogLevel warn ssl:info
DocumentRoot $dir/htdocs
<Directory $dir/htdocs>
    Require all granted
</Directory>
SSLSessionCache shmcb:$dir/ssl_scache(512000)
<VirtualHost 127.0.0.1:$port>
    SSLEngine on
    SSLProtocol -all +TLSv1.3
    SSLCertificateFile $PKI/server.pem
    SSLCertificateKeyFile $PKI/server.key
    SSLVerifyClient $verify
    SSLVerifyDepth 3
    SSLCACertificateFile $PKI/trust-root-and-client-ca.pem
</VirtualHost>
EOF
    apache2 -X -f "$dir/httpd.conf" >>"$WORK/server.out" 2>&1 &
    SERVER_PID=$!
}

start_haproxy() { # DIR PORT MODE
    local dir="$1" port="$2" verify="required"
    [ "$3" = require ] || verify="none"
    cat "$PKI/server.pem" "$PKI/server.key" >"$dir/server-crt-key.pem"
    cat >"$dir/haproxy.cfg" <<EOF
# HAProxy, TLS 1.3 only (generated by samples/make_tls13_stacks.sh).
global
    maxconn 64
    log stderr format short local0 info
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend tls13
    bind 127.0.0.1:$port ssl crt $dir/server-crt-key.pem ca-file $PKI/trust-root-and-client-ca.pem verify $verify ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
    http-request return status 200 content-type text/plain string "ok"
EOF
    haproxy -db -f "$dir/haproxy.cfg" >>"$WORK/server.out" 2>&1 &
    SERVER_PID=$!
}

# ---------------------------------------------------------------- clients
# Every client asks for /ok.txt (s_server -WWW serves files; the other servers answer any path).
REQUEST='GET /ok.txt HTTP/1.0\r\nHost: localhost\r\n\r\n'

# leaf_of SCENARIO: the client certificate (file name without .pem/.key in verdict/pki/), "" for none
leaf_of() {
    case "$1" in
        ok | norequest) echo client-ok ;;
        expired) echo client-expired ;;
        rejected) echo client-foreign ;;
        nocert) echo "" ;;
        *) die "unknown scenario $1" ;;
    esac
}

# pem_with_chain SCENARIO: the PEM with the leaf and the certificates sent with it
pem_with_chain() {
    local leaf
    leaf="$(leaf_of "$1")"
    if [ -f "$PKI/$leaf-chain.pem" ]; then echo "$PKI/$leaf-chain.pem"; else echo "$PKI/$leaf.pem"; fi
}

# run_client CLIENT PORT KEYLOG SCENARIO: one connection; one line of what the client saw in client.out
run_client() {
    local client="$1" port="$2" keylog="$3" scenario="$4" leaf pem key
    leaf="$(leaf_of "$scenario")"
    pem="" key=""
    if [ -n "$leaf" ]; then pem="$(pem_with_chain "$scenario")" key="$PKI/$leaf.key"; fi
    : >"$WORK/client.raw"
    case "$client" in
        curl)
            local opts=() code
            [ -z "$pem" ] || opts=(--cert "$pem" --key "$key")
            code="$(SSLKEYLOGFILE="$keylog" curl -sS --http1.1 --max-time 10 --tlsv1.3 --tls-max 1.3 \
                --resolve "localhost:$port:127.0.0.1" --cacert "$PKI/root-ca.pem" "${opts[@]}" \
                -o "$WORK/body" -w '%{http_code}' "https://localhost:$port/ok.txt" 2>"$WORK/client.raw")" || true
            echo "curl: HTTP ${code:-none} $(tr '\n' ' ' <"$WORK/client.raw")" >"$WORK/client.out"
            ;;
        sclient)
            local opts=()
            if [ -n "$leaf" ]; then
                opts=(-cert "$PKI/$leaf.pem" -key "$key")
                [ "$pem" = "$PKI/$leaf.pem" ] || opts+=(-cert_chain "$PKI/client-ca.pem")
            fi
            # -ign_eof: keep reading after the request so the server's answer or alert is received.
            printf "$REQUEST" | timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost -tls1_3 \
                -CAfile "$PKI/root-ca.pem" "${opts[@]}" -keylogfile "$keylog" -ign_eof >"$WORK/client.raw" 2>&1 || true
            echo "s_client: $( (grep -m1 -oE 'HTTP/1\.[01] [0-9]{3}.*' "$WORK/client.raw" || grep -m1 -iE 'alert|error' "$WORK/client.raw" || echo 'no response') | tr -d '\r')" >"$WORK/client.out"
            ;;
        gnutls)
            local opts=()
            [ -z "$pem" ] || opts=(--x509certfile "$pem" --x509keyfile "$key")
            # stdin stays open 3 s after the request: gnutls-cli closes the connection at stdin's end.
            (printf "$REQUEST"; sleep 3) | SSLKEYLOGFILE="$keylog" timeout 10 gnutls-cli 127.0.0.1 -p "$port" \
                --sni-hostname localhost --verify-hostname localhost --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' \
                --x509cafile "$PKI/root-ca.pem" "${opts[@]}" >"$WORK/client.raw" 2>&1 || true
            echo "gnutls-cli: $( (grep -m1 -oE 'HTTP/1\.[01] [0-9]{3}.*' "$WORK/client.raw" || grep -m1 -iE 'alert|error|terminated' "$WORK/client.raw" || echo 'no response') | tr -d '\r')" >"$WORK/client.out"
            ;;
        python)
            local opts=()
            [ -z "$pem" ] || opts=(--cert "$pem" --key "$key")
            timeout 15 "$PY" "$SAMPLES/tls13_stacks_py.py" client --port "$port" --cafile "$PKI/root-ca.pem" \
                --keylog "$keylog" "${opts[@]}" >"$WORK/client.out" 2>&1 || true
            ;;
        *) die "unknown client $client" ;;
    esac
}

# capture SERVER CLIENT SCENARIO: one connection in tls13-SERVER-CLIENT-SCENARIO.pcap (+ .keylog);
# again (up to 3 times) when packets were lost. What the client and the server said goes to
# $WORK/reasons/NAME.client and NAME.server for the MANIFEST's notes.
capture() {
    local server="$1" client="$2" scenario="$3" port="${PORT[$1]}"
    local name="tls13-$server-$client-$scenario" attempt lines
    local file="$OUT/$name.pcap" keylog="$OUT/$name.keylog"
    log "capture $name.pcap"
    for attempt in 1 2 3; do
        rm -f "$keylog"
        : >"$keylog"
        lines="$(wc -l <"$WORK/server.out")"
        start_capture "$file" "$port"
        run_client "$client" "$port" "$keylog" "$scenario"
        stop_capture
        if capture_complete "$file"; then
            [ -s "$keylog" ] || die "$client wrote no key log for $name"
            cp "$WORK/client.out" "$WORK/reasons/$name.client"
            tail -n +"$((lines + 1))" "$WORK/server.out" >"$WORK/reasons/$name.server"
            log "  $(head -c 300 "$WORK/client.out" | tr '\n' ' ')"
            return 0
        fi
        log "  capture of $name incomplete (attempt $attempt): $(tail -1 "$WORK/tcpdump.err"); again"
        sleep 0.5
    done
    die "could not capture $name without loss"
}

# ---------------------------------------------------------------- main
main() {
    local server client scenario pair
    rm -rf "$OUT"
    mkdir -p "$OUT" "$WORK/reasons"
    for server in "${SERVERS[@]}"; do
        skipped "$server" "${SKIP_SERVERS:-}" && { log "skipping server $server (SKIP_SERVERS)"; continue; }
        start_server "$server" require
        for client in "${CLIENTS[@]}"; do
            skipped "$client" "${SKIP_CLIENTS:-}" && continue
            for scenario in "${SCENARIOS[@]}"; do
                capture "$server" "$client" "$scenario"
            done
        done
        stop_server
    done
    for pair in "${NOREQUEST_PAIRS[@]}"; do
        read -r server client <<<"$pair"
        skipped "$server" "${SKIP_SERVERS:-}" && continue
        skipped "$client" "${SKIP_CLIENTS:-}" && continue
        start_server "$server" norequest
        capture "$server" "$client" norequest
        stop_server
    done

    log "reading every capture with tshark and its key log; writing MANIFEST.tsv and README.md's section"
    "$PY" "$SAMPLES/describe_tls13_stacks.py" "$OUT" --reasons "$WORK/reasons" --ports "$(ports_arg)" \
        --readme "$SAMPLES/README.md"
    log "done: $(find "$OUT" -name '*.pcap' | wc -l) captures, $(du -sh "$OUT" | cut -f1) in $OUT"
}

main "$@"
