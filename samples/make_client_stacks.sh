#!/usr/bin/env bash
# Make samples/client-stacks/: real mutual-TLS captures that show which client TLS stacks
# pick their certificate by the CA names of the server's CertificateRequest, and the ClientHello of
# each stack (its JA3, recorded by tshark).
#
#   Part 1: Java (JSSE, OpenJDK 17) and Go (crypto/tls) clients against nginx (ssl_verify_client on),
#           TLS 1.2 and 1.3, four cases each: success (leaf + intermediate from the listed CA),
#           unlisted-ca (leaf + root of a CA nginx does not list), leaf-without-intermediate (leaf
#           issued by the intermediate, held alone; nginx lists the root only), no-keystore.
#   Part 2: one capture of each other stack against nginx (mutual TLS asked), for its ClientHello:
#           curl, openssl s_client, Python ssl (system python3 and the project's venv), gnutls-cli,
#           wget, headless Chromium, headless Firefox ESR. Every stack that can hold a certificate
#           holds the unlisted-CA one, so each capture also shows whether the stack sends it anyway;
#           wget, which does not, once more with a certificate from a listed CA (wget-success).
#
# Key logs: the Go client writes its own (tls.Config.KeyLogWriter). For every other capture nginx
# writes the secrets: a small LD_PRELOAD shim (compiled here with gcc) sets OpenSSL's keylog
# callback on each SSL_CTX nginx makes a connection with; the lines of each capture's connections
# are picked from nginx's log by their client randoms. For Go, nginx's lines are checked equal to
# Go's own.
#
# Files: java|go-tls12|tls13-<case>.pcap and <stack>-<case>.pcap, each with its .keylog; pki/ (the
# throw-away PKI, make_client_stacks_pki.py, with the PKCS#12 keystores Java used); MANIFEST.tsv and
# the client-stacks section of samples/README.md, both written by describe_client_stacks.py from
# how each capture was made and from tshark (never from tlscap).
#
# Network: everything runs in a private network and mount namespace (`unshare --net --mount`): its
# only interface is its own loopback, and its /etc/hosts (bind-mounted there only) resolves
# server.stack-lab.test to 127.0.0.1. Ports 18467 (nginx listing root + client CA), 18468 (nginx
# listing the root only), 18469 (nginx for the ClientHellos of part 2). Needs root. Every process it
# starts is stopped by its pid on exit. Installs nothing: check_tools says what is missing.
#
# Usage: make_client_stacks.sh            make everything (removes and rewrites client-stacks/)
#        make_client_stacks.sh readme     rewrite README.md's section from client-stacks/MANIFEST.tsv
# Env:   PY (python with `cryptography`, for the PKI and the describer; default the project's venv)
#        SKIP_CLIENTS (space-separated part-2 stacks to leave out, e.g. SKIP_CLIENTS="firefox")
set -euo pipefail

SAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(dirname "$SAMPLES")"
PY="${PY:-$PROJECT/.venv/bin/python}"
OUT="$SAMPLES/client-stacks"
PKI="$OUT/pki"
SELF="$SAMPLES/$(basename "${BASH_SOURCE[0]}")"
HOST="server.stack-lab.test"
PORT_LISTED=18467    # nginx: CA list = Stack Lab Root CA + Stack Lab Client CA
PORT_ROOT_ONLY=18468 # nginx: CA list = Stack Lab Root CA only (leaf-without-intermediate)
PORT_HELLO=18469     # nginx: CA list = root + client CA, for part 2's ClientHellos
STOREPASS="changeit" # PKCS#12 keystores and truststore (test material)

log() { printf '[make_client_stacks] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

skipped() { # NAME: in SKIP_CLIENTS?
    local x
    for x in ${SKIP_CLIENTS:-}; do [ "$x" = "$1" ] && return 0; done
    return 1
}

describe() { # the describer, with the ports it must decode as TLS
    "$PY" "$SAMPLES/describe_client_stacks.py" "$OUT" --ports "$PORT_LISTED,$PORT_ROOT_ONLY,$PORT_HELLO" \
        --readme "$SAMPLES/README.md" "$@"
}

# ---------------------------------------------------------------- checks, then the private namespaces
check_tools() {
    local cmd missing=()
    for cmd in tcpdump tshark openssl nginx java javac keytool go gcc curl wget gnutls-cli ss ip unshare mount; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    skipped chromium || command -v chromium >/dev/null || missing+=("chromium (or SKIP_CLIENTS=chromium)")
    skipped firefox || command -v firefox-esr >/dev/null || missing+=("firefox-esr (or SKIP_CLIENTS=firefox)")
    skipped firefox || command -v pk12util >/dev/null || missing+=("certutil, pk12util: libnss3-tools (or SKIP_CLIENTS=firefox)")
    [ -x "$PY" ] || missing+=("python at $PY (make venv, or set PY)")
    [ -x /usr/bin/python3 ] || missing+=("/usr/bin/python3 (the system python)")
    if [ ${#missing[@]} -gt 0 ]; then
        log "missing (this script installs nothing; Debian: openjdk-17-jdk-headless golang-go gcc gnutls-bin wget chromium firefox-esr libnss3-tools nginx tshark tcpdump):"
        printf '  - %s\n' "${missing[@]}" >&2
        exit 1
    fi
}

case "${1:-all}" in
    all) ;;
    readme)
        [ -f "$OUT/MANIFEST.tsv" ] || die "no $OUT/MANIFEST.tsv: run make_client_stacks.sh first"
        describe --readme-only
        exit 0
        ;;
    *) die "usage: make_client_stacks.sh [readme]" ;;
esac

if [ "${CLIENT_STACKS_IN_NS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || die "run as root (tcpdump, unshare, mount)"
    check_tools
    exec unshare --net --mount -- env CLIENT_STACKS_IN_NS=1 bash "$SELF" "$@"
fi
ip link set lo up

WORK="$(mktemp -d /tmp/tlscap-client-stacks.XXXXXX)"
chmod 755 "$WORK" # nginx's workers (user nobody) read nothing here, but the browsers' profiles live here
# This namespace's /etc/hosts: the server's name on IPv4 loopback only, so no client tries ::1 first.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t%s\n' "$HOST" >"$WORK/hosts"
mount --bind "$WORK/hosts" /etc/hosts

declare -A NGINX_PID=() NGINX_DIR=()
TCPDUMP_PID=""

# Stop only what this script started, by pid.
stop_pid() {
    local pid="$1" sig="${2:-TERM}"
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local p
    stop_pid "$TCPDUMP_PID" INT
    for p in "${NGINX_PID[@]}"; do stop_pid "$p" QUIT; done
    umount /etc/hosts 2>/dev/null || true
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

oneline() { tr '\t\r\n' '   ' | sed -E 's/ +/ /g; s/^ //; s/ $//'; }

# ---------------------------------------------------------------- tcpdump (as make_samples.sh does it)
start_capture() { # FILE PORT
    local file="$1" port="$2" i
    rm -f "$file"
    : >"$WORK/tcpdump.err"
    # --immediate-mode, -U: each packet written at once; -B: a large buffer; -Z root: no privilege drop.
    tcpdump -n --immediate-mode -B 16384 -U -Z root -i lo -s 0 -w "$file" "tcp port $port" 2>"$WORK/tcpdump.err" &
    TCPDUMP_PID=$!
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

# ---------------------------------------------------------------- the tools built here
build_tools() {
    log "building the key-log shim (gcc), the Java client (javac) and the Go client (go build) in $WORK"
    cat >"$WORK/keylog_shim.c" <<'EOF'
/* LD_PRELOAD shim: an OpenSSL server writes an NSS key log (for clients that cannot write one).
 * SSL_new is wrapped; each new SSL's context gets a keylog callback appending each line to the file
 * named by $SSLKEYLOGFILE. The file is opened when the shim loads, in nginx's master: nginx clears
 * its workers' environment and runs them as another user; they inherit the descriptor. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef void (*keylog_cb)(const SSL *, const char *);

static int keylog_fd = -1;

__attribute__((constructor)) static void keylog_open(void) {
    const char *path = getenv("SSLKEYLOGFILE");
    if (path && *path)
        keylog_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

static void keylog_line(const SSL *ssl, const char *line) {
    char buf[1024];
    size_t n = strlen(line);
    (void)ssl;
    if (keylog_fd < 0 || n + 1 > sizeof buf) return;
    memcpy(buf, line, n);
    buf[n] = '\n';
    /* One write per line on an O_APPEND descriptor: lines of several workers do not interleave. */
    if (write(keylog_fd, buf, n + 1) < 0) return;
}

SSL *SSL_new(SSL_CTX *ctx) {
    static SSL *(*real_new)(SSL_CTX *);
    static void (*set_keylog)(SSL_CTX *, keylog_cb);
    if (!real_new) real_new = (SSL *(*)(SSL_CTX *))dlsym(RTLD_NEXT, "SSL_new");
    if (!set_keylog)
        set_keylog = (void (*)(SSL_CTX *, keylog_cb))dlsym(RTLD_NEXT, "SSL_CTX_set_keylog_callback");
    if (ctx && set_keylog && keylog_fd >= 0) set_keylog(ctx, keylog_line);
    return real_new(ctx);
}
EOF
    gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$WORK/keylog_shim.so" "$WORK/keylog_shim.c" -ldl

    mkdir -p "$WORK/java"
    cat >"$WORK/java/Client.java" <<'EOF'
// Java (JSSE) mutual-TLS client: one HTTPS GET over an SSLSocket. Key and trust material come from
// the standard properties (javax.net.ssl.keyStore, …, javax.net.ssl.trustStore), so the default
// SSLContext and its default key manager (ssl.KeyManagerFactory.algorithm, SunX509 in JDK 17)
// choose the client certificate, as in any Java application configured that way;
// jdk.tls.client.protocols pins the version. Runs as `java Client.java HOST PORT` too.
// Usage: java [-D...] Client HOST PORT   (connects to 127.0.0.1:PORT; SNI and name check: HOST)
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

public class Client {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        Socket tcp = new Socket();
        tcp.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        SSLSocket tls = (SSLSocket) SSLContext.getDefault().getSocketFactory().createSocket(tcp, host, port, true);
        SSLParameters params = tls.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        tls.setSSLParameters(params);
        tls.setSoTimeout(5000);
        tls.startHandshake();
        System.out.println("java: " + tls.getSession().getProtocol() + " " + tls.getSession().getCipherSuite());
        Certificate[] sent = tls.getSession().getLocalCertificates();
        if (sent == null) {
            System.out.println("java: sent no client certificate");
        } else {
            for (Certificate c : sent) {
                System.out.println("java: sent " + ((X509Certificate) c).getSubjectX500Principal());
            }
        }
        String request = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
        tls.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        tls.getOutputStream().flush();
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        InputStream in = tls.getInputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0; ) answer.write(buf, 0, n);
        } catch (SocketTimeoutException e) {
            System.out.println("java: read timed out");
        }
        String text = answer.toString(StandardCharsets.ISO_8859_1);
        System.out.println("java: answer " + (text.isEmpty() ? "(none)" : text.lines().findFirst().orElse("")));
        tls.close();
    }
}
EOF
    javac -d "$WORK/java" "$WORK/java/Client.java"

    mkdir -p "$WORK/go"
    cat >"$WORK/go/client.go" <<'EOF'
// Go (crypto/tls) mutual-TLS client: one HTTPS GET. tls.Config.Certificates holds the client's
// chain and GetClientCertificate is left nil, so crypto/tls's own choice applies
// (Conn.getClientCertificate: the first chain that CertificateRequestInfo.SupportsCertificate
// accepts, i.e. one of whose certificates has an issuer byte-equal to one of the CA names
// requested; none: an empty Certificate). KeyLogWriter writes the NSS key log.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	port := flag.String("port", "", "server port on 127.0.0.1")
	name := flag.String("servername", "", "server name: SNI and certificate check")
	caFile := flag.String("cafile", "", "PEM file of the CA that issued the server's certificate")
	certFile := flag.String("cert", "", "PEM chain the client holds, leaf first (empty: none)")
	keyFile := flag.String("key", "", "PEM private key of the leaf")
	keylog := flag.String("keylog", "", "NSS key log to write")
	version := flag.String("tls", "1.3", "TLS version to pin: 1.2 or 1.3")
	flag.Parse()

	roots := x509.NewCertPool()
	pem, err := os.ReadFile(*caFile)
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "go: cannot read", *caFile, err)
		os.Exit(2)
	}
	cfg := &tls.Config{ServerName: *name, RootCAs: roots}
	switch *version {
	case "1.2":
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	case "1.3":
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	default:
		fmt.Fprintln(os.Stderr, "go: -tls must be 1.2 or 1.3")
		os.Exit(2)
	}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go:", err)
			os.Exit(2)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if *keylog != "" {
		f, err := os.OpenFile(*keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go:", err)
			os.Exit(2)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(dialer, "tcp", net.JoinHostPort("127.0.0.1", *port), cfg)
	if err != nil {
		fmt.Println("go: handshake failed:", err)
		os.Exit(1)
	}
	state := conn.ConnectionState()
	names := map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}
	fmt.Printf("go: %s %s\n", names[state.Version], tls.CipherSuiteName(state.CipherSuite))
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", *name)
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && status == "" {
		fmt.Println("go: no answer:", err)
	} else {
		fmt.Printf("go: answer %s", status)
	}
	conn.Close()
}
EOF
    (cd "$WORK/go" && GOFLAGS= GO111MODULE=off go build -o "$WORK/go/client" client.go)
}

# ---------------------------------------------------------------- PKI and keystores
make_pki() {
    log "building the PKI in $PKI"
    "$PY" "$SAMPLES/make_client_stacks_pki.py" "$PKI"
    # PKCS#12 keystores for Java, one private-key entry (alias "client") each, and the truststore
    # holding the root that issued the server's certificate.
    openssl pkcs12 -export -name client -in "$PKI/client-ok.pem" -inkey "$PKI/client-ok.key" \
        -certfile "$PKI/client-ca.pem" -passout "pass:$STOREPASS" -out "$PKI/client-ok.p12"
    openssl pkcs12 -export -name client -in "$PKI/client-partner.pem" -inkey "$PKI/client-partner.key" \
        -certfile "$PKI/partner-root-ca.pem" -passout "pass:$STOREPASS" -out "$PKI/client-partner.p12"
    openssl pkcs12 -export -name client -in "$PKI/client-leaf-only.pem" -inkey "$PKI/client-leaf-only.key" \
        -passout "pass:$STOREPASS" -out "$PKI/client-leaf-only.p12"
    rm -f "$PKI/server-trust.p12"
    keytool -importcert -noprompt -alias stack-lab-root-ca -file "$PKI/root-ca.pem" \
        -keystore "$PKI/server-trust.p12" -storetype PKCS12 -storepass "$STOREPASS" >/dev/null 2>&1
    local p12
    for p12 in client-ok client-partner client-leaf-only; do
        keytool -list -v -keystore "$PKI/$p12.p12" -storetype PKCS12 -storepass "$STOREPASS" 2>/dev/null |
            grep -E '^(Alias name|Entry type|Certificate chain length|Owner|Issuer):' >"$PKI/$p12.p12.txt"
    done
}

# ---------------------------------------------------------------- nginx (with the key-log shim)
# start_nginx NAME PORT TRUST_FILE VERIFY_DEPTH
start_nginx() {
    local name="$1" port="$2" trust="$3" depth="$4"
    local dir="$WORK/nginx-$name"
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
# nginx for samples/make_client_stacks.sh: mutual TLS required, TLS 1.2 and 1.3 (the client pins).
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
        server_name $HOST;
        ssl_certificate $PKI/server.pem;
        ssl_certificate_key $PKI/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
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
    port_in_use "$port" && die "port $port is already in use"
    : >"$dir/keys.log"
    LD_PRELOAD="$WORK/keylog_shim.so" SSLKEYLOGFILE="$dir/keys.log" \
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" 2>>"$dir/logs/stderr" &
    NGINX_PID[$port]=$!
    NGINX_DIR[$port]="$dir"
    wait_listening "$port" "${NGINX_PID[$port]}"
}

# nginx_lines_since PORT LINE: nginx's error-log lines after LINE about the client's certificate or a
# failed handshake, without the time, pid and connection number.
nginx_lines_since() {
    tail -n +"$(($2 + 1))" "${NGINX_DIR[$1]}/logs/error.log" |
        grep -E 'certificate|SSL_do_handshake|SSL alert' |
        sed -E 's/^[0-9/]+ [0-9:]+ //; s/ [0-9]+#[0-9]+: \*[0-9]+ / /; s/, client: .*//' || true
}

# client_randoms FILE: the ClientHellos' randoms (lower-case hex), one a line.
client_randoms() {
    tshark -n -r "$1" -Y 'tls.handshake.type == 1' -T fields -e tls.handshake.random \
        -d "tcp.port==$PORT_LISTED,tls" -d "tcp.port==$PORT_ROOT_ONLY,tls" -d "tcp.port==$PORT_HELLO,tls" |
        tr -d ':' | tr 'A-F' 'a-f' | grep -E '^[0-9a-f]{64}$' || true
}

# nginx_keylog PORT FILE: the lines of nginx's key log for the connections in capture FILE.
nginx_keylog() {
    local r
    for r in $(client_randoms "$2"); do
        grep -E "^[A-Z0-9_]+ $r " "${NGINX_DIR[$1]}/keys.log" || true
    done
}

# ---------------------------------------------------------------- one capture
RUNS="$WORK/runs.tsv"

# capture NAME STACK VERSION TLS CASE PORT HELD KEYLOG_FROM -- CLIENT COMMAND...
# Runs the client command under tcpdump (again, up to 3 times, when packets were lost); keeps the
# client's output, nginx's lines about the connection and the key log; appends a row to $RUNS.
# KEYLOG_FROM: "client" (the command writes NAME.keylog itself) or "nginx".
capture() {
    local name="$1" stack="$2" version="$3" tls="$4" case_="$5" port="$6" held="$7" from="$8"
    shift 9
    local pcap="$OUT/$name.pcap" keylog="$OUT/$name.keylog" attempt before ok=""
    log "capture $name.pcap ($stack, TLS $tls, $case_)"
    for attempt in 1 2 3; do
        rm -f "$keylog"
        before="$(wc -l <"${NGINX_DIR[$port]}/logs/error.log")"
        start_capture "$pcap" "$port"
        "$@" >"$WORK/$name.client.out" 2>&1 || true
        stop_capture
        sleep 0.3
        nginx_lines_since "$port" "$before" >"$WORK/$name.nginx.txt"
        if capture_complete "$pcap"; then ok=1; break; fi
        log "  packets lost in $name.pcap (attempt $attempt): $(tail -1 "$WORK/tcpdump.err"); again"
    done
    [ -n "$ok" ] || die "could not capture $name.pcap without loss"
    if [ "$from" = nginx ]; then
        nginx_keylog "$port" "$pcap" >"$keylog"
    else
        # The client wrote it: each of its lines must be among nginx's for the same connections
        # (nginx's OpenSSL also writes EXPORTER_SECRET, which Go does not).
        [ -s "$keylog" ] || die "$name: the client wrote no key log"
        if [ -n "$(comm -23 <(sort "$keylog") <(nginx_keylog "$port" "$pcap" | sort))" ]; then
            die "$name: the client's key log has lines nginx's has not"
        fi
    fi
    [ -s "$keylog" ] || log "  no key log lines for $name.pcap"
    sed 's/^/    client: /' "$WORK/$name.client.out" | head -6 >&2
    sed 's/^/    nginx: /' "$WORK/$name.nginx.txt" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name.pcap" "$stack" "$version" "$tls" "$case_" \
        "$held" "$from" "$port" \
        "$(grep -vE '^\s*$' "$WORK/$name.client.out" | head -8 | oneline | cut -c1-600)" \
        "$(paste -sd'|' "$WORK/$name.nginx.txt" | sed 's/|/ | /g' | oneline)" >>"$RUNS"
}

# ---------------------------------------------------------------- part 1: Java and Go
JAVA_VERSION=""
GO_VERSION=""

java_client() { # TLS CASE PORT
    local tls="$1" case_="$2" port="$3" store=()
    case "$case_" in
        success) store=("-Djavax.net.ssl.keyStore=$PKI/client-ok.p12") ;;
        unlisted-ca) store=("-Djavax.net.ssl.keyStore=$PKI/client-partner.p12") ;;
        leaf-without-intermediate) store=("-Djavax.net.ssl.keyStore=$PKI/client-leaf-only.p12") ;;
        no-keystore) store=() ;;
    esac
    [ ${#store[@]} -eq 0 ] || store+=(-Djavax.net.ssl.keyStoreType=PKCS12 "-Djavax.net.ssl.keyStorePassword=$STOREPASS")
    # javax.net.debug: what JSSE says about choosing the client certificate (kept in the notes).
    timeout 20 java "-Djdk.tls.client.protocols=TLSv$tls" "${store[@]}" \
        "-Djavax.net.ssl.trustStore=$PKI/server-trust.p12" -Djavax.net.ssl.trustStoreType=PKCS12 \
        "-Djavax.net.ssl.trustStorePassword=$STOREPASS" -Djavax.net.debug=ssl:handshake \
        -cp "$WORK/java" Client "$HOST" "$port" >"$WORK/java.raw" 2>&1 || true
    grep -E '^java: ' "$WORK/java.raw" || echo "java: no output"
    grep -E '\|(X509KeyManager class:|No X\.509 cert selected|No available client authentication scheme|Produced client Certificate)' \
        "$WORK/java.raw" | sed -E 's/.*\|/jsse debug: /; s/ \($//' || true
}

go_client() { # TLS CASE PORT KEYLOG
    local tls="$1" case_="$2" port="$3" keylog="$4" cert=()
    case "$case_" in
        success) cert=(-cert "$PKI/client-ok-chain.pem" -key "$PKI/client-ok.key") ;;
        unlisted-ca) cert=(-cert "$PKI/client-partner-chain.pem" -key "$PKI/client-partner.key") ;;
        leaf-without-intermediate) cert=(-cert "$PKI/client-leaf-only.pem" -key "$PKI/client-leaf-only.key") ;;
        no-keystore) cert=() ;;
    esac
    timeout 20 "$WORK/go/client" -port "$port" -servername "$HOST" -cafile "$PKI/root-ca.pem" \
        -tls "$tls" -keylog "$keylog" "${cert[@]}"
}

held_by() { # STACK CASE: what the client was given
    case "$1:$2" in
        java:success) echo "client-ok.p12: stack-client-ok + Stack Lab Client CA" ;;
        java:unlisted-ca) echo "client-partner.p12: stack-client-partner + Stack Partner Root CA" ;;
        java:leaf-without-intermediate) echo "client-leaf-only.p12: stack-client-leaf-only alone" ;;
        go:success) echo "client-ok-chain.pem: stack-client-ok + Stack Lab Client CA" ;;
        go:unlisted-ca) echo "client-partner-chain.pem: stack-client-partner + Stack Partner Root CA" ;;
        go:leaf-without-intermediate) echo "client-leaf-only.pem: stack-client-leaf-only alone" ;;
        *:no-keystore) echo "none" ;;
    esac
}

part1() {
    local tls case_ port v
    JAVA_VERSION="$(java -version 2>&1 | oneline)"
    GO_VERSION="$(go version)"
    for tls in 1.2 1.3; do
        v="tls${tls/./}"
        for case_ in success unlisted-ca leaf-without-intermediate no-keystore; do
            port="$PORT_LISTED"
            [ "$case_" != leaf-without-intermediate ] || port="$PORT_ROOT_ONLY"
            capture "java-$v-$case_" java-jsse-17 "$JAVA_VERSION" "$tls" "$case_" "$port" \
                "$(held_by java "$case_")" nginx -- java_client "$tls" "$case_" "$port"
            capture "go-$v-$case_" go-1.19 "$GO_VERSION" "$tls" "$case_" "$port" \
                "$(held_by go "$case_")" client -- go_client "$tls" "$case_" "$port" "$OUT/go-$v-$case_.keylog"
        done
    done
}

# ---------------------------------------------------------------- part 2: other stacks' ClientHellos
REQUEST='GET / HTTP/1.1\r\nHost: '"$HOST"'\r\nConnection: close\r\n\r\n'
PARTNER_HELD="client-partner-chain.pem: stack-client-partner + Stack Partner Root CA (unlisted)"

status_line() { grep -m1 -aoE 'HTTP/1\.[01] [0-9]{3}[^<]*' "$1" | tr -d '\r' || echo "no HTTP answer"; }

hello_curl() {
    local code
    code="$(curl -sS --max-time 10 --cacert "$PKI/root-ca.pem" --cert "$PKI/client-partner-chain.pem" \
        --key "$PKI/client-partner.key" -o "$WORK/curl.body" -w '%{http_code}' \
        "https://$HOST:$PORT_HELLO/" 2>&1)" || true
    echo "curl: HTTP $code"
}

hello_s_client() {
    printf "$REQUEST" | timeout 10 openssl s_client -connect "$HOST:$PORT_HELLO" -CAfile "$PKI/root-ca.pem" \
        -cert "$PKI/client-partner.pem" -key "$PKI/client-partner.key" -cert_chain "$PKI/partner-root-ca.pem" \
        -ign_eof >"$WORK/s_client.raw" 2>&1 || true
    echo "s_client: $(status_line "$WORK/s_client.raw")"
}

hello_python() { # PYTHON
    timeout 15 "$1" - "$HOST" "$PORT_HELLO" "$PKI/root-ca.pem" "$PKI/client-partner-chain.pem" \
        "$PKI/client-partner.key" <<'EOF'
import socket, ssl, sys
host, port, cafile, chain, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=cafile)
ctx.load_cert_chain(chain, key)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        print("python:", tls.version(), tls.cipher()[0])
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
        print("python: answer", answer.split(b"\r\n", 1)[0].decode("latin-1") or "(none)")
EOF
}

hello_gnutls() {
    # stdin stays open after the request: gnutls-cli closes the connection at stdin's end.
    (printf "$REQUEST"; sleep 3) | timeout 10 gnutls-cli "$HOST" -p "$PORT_HELLO" \
        --x509cafile "$PKI/root-ca.pem" --x509certfile "$PKI/client-partner-chain.pem" \
        --x509keyfile "$PKI/client-partner.key" >"$WORK/gnutls.raw" 2>&1 || true
    echo "gnutls-cli: $(status_line "$WORK/gnutls.raw")"
    grep -m3 -iE 'certificate request|sending|alert' "$WORK/gnutls.raw" | sed 's/^/gnutls-cli said: /' || true
}

hello_wget() { # LEAF: client-partner (sent as leaf + partner root) or client-ok (leaf + client CA)
    local chain="$PKI/$1-chain.pem"
    timeout 15 wget -4 --tries=1 -O "$WORK/wget.body" --ca-certificate="$PKI/root-ca.pem" \
        --certificate="$chain" --private-key="$PKI/$1.key" \
        "https://$HOST:$PORT_HELLO/" >"$WORK/wget.raw" 2>&1 || true
    echo "wget: $(grep -m1 -oE 'awaiting response\.\.\. .*' "$WORK/wget.raw" || tail -1 "$WORK/wget.raw")"
}

hello_chromium() {
    rm -rf "$WORK/chromium"
    mkdir -p "$WORK/chromium"
    HOME="$WORK/chromium" timeout 40 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$WORK/chromium/profile" --ignore-certificate-errors \
        --disable-background-networking --disable-component-update --disable-sync \
        --dump-dom "https://$HOST:$PORT_HELLO/" >"$WORK/chromium.out" 2>"$WORK/chromium.err" || true
    echo "chromium: page $(oneline <"$WORK/chromium.out" | grep -oE '<title>[^<]*' | sed 's/<title>//' | head -1)"
}

hello_firefox() {
    local profile="$WORK/firefox/profile"
    rm -rf "$WORK/firefox"
    mkdir -p "$profile"
    # The profile's NSS database trusts the Stack Lab root (so the handshake goes on past the server's
    # certificate) and holds the unlisted partner certificate and its key (client-partner.p12).
    certutil -N -d "sql:$profile" --empty-password
    certutil -A -d "sql:$profile" -n "Stack Lab Root CA" -t "C,," -i "$PKI/root-ca.pem"
    pk12util -i "$PKI/client-partner.p12" -d "sql:$profile" -W "$STOREPASS" >/dev/null
    # A certificate request gets an automatic choice, not a dialog.
    cat >"$profile/user.js" <<'EOF'
user_pref("security.default_personal_cert", "Select Automatically");
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("app.update.enabled", false);
EOF
    HOME="$WORK/firefox" timeout 40 firefox-esr --headless --no-remote --profile "$WORK/firefox/profile" \
        --screenshot "$WORK/firefox/shot.png" "https://$HOST:$PORT_HELLO/" >"$WORK/firefox.out" 2>&1 || true
    grep -vE 'headless mode|^\s*$' "$WORK/firefox.out" | tail -2 | cut -c1-200 | sed 's/^/firefox said: /' || true
    [ -s "$WORK/firefox/shot.png" ] && echo "firefox: screenshot written" || echo "firefox: no screenshot (timed out)"
}

part2() {
    local py_sys py_venv wget_version
    capture curl-unlisted-ca curl-openssl "$(curl --version | head -1)" any unlisted-ca "$PORT_HELLO" \
        "$PARTNER_HELD" nginx -- hello_curl
    capture openssl-s_client-unlisted-ca openssl-s_client "$(openssl version)" any unlisted-ca "$PORT_HELLO" \
        "client-partner.pem + -cert_chain partner-root-ca.pem (unlisted)" nginx -- hello_s_client
    py_sys="$(/usr/bin/python3 -c 'import ssl, sys; print("Python", sys.version.split()[0], "(/usr/bin/python3) with", ssl.OPENSSL_VERSION)')"
    capture python-ssl-system-unlisted-ca python-ssl "$py_sys" any unlisted-ca "$PORT_HELLO" \
        "$PARTNER_HELD" nginx -- hello_python /usr/bin/python3
    py_venv="$("$PY" -c 'import ssl, sys; print("Python", sys.version.split()[0], "(the venv) with", ssl.OPENSSL_VERSION)')"
    capture python-ssl-venv-unlisted-ca python-ssl "$py_venv" any unlisted-ca "$PORT_HELLO" \
        "$PARTNER_HELD" nginx -- hello_python "$PY"
    capture gnutls-cli-unlisted-ca gnutls "$(gnutls-cli --version | head -1)" any unlisted-ca "$PORT_HELLO" \
        "$PARTNER_HELD" nginx -- hello_gnutls
    wget_version="$(wget --version | head -1 | oneline) ($(wget --version | grep -oE '\+ssl/[a-z]+' | head -1))"
    capture wget-unlisted-ca wget "$wget_version" any unlisted-ca "$PORT_HELLO" \
        "$PARTNER_HELD" nginx -- hello_wget client-partner
    # wget sends an empty Certificate above: with a certificate from a listed CA it sends it.
    capture wget-success wget "$wget_version" any success "$PORT_HELLO" \
        "client-ok-chain.pem: stack-client-ok + Stack Lab Client CA" nginx -- hello_wget client-ok
    if skipped chromium; then
        log "chromium skipped (SKIP_CLIENTS)"
    else
        capture chromium-no-keystore chromium "$(chromium --version 2>/dev/null | oneline)" any no-keystore \
            "$PORT_HELLO" "none (fresh profile; --ignore-certificate-errors)" nginx -- hello_chromium
    fi
    if skipped firefox; then
        log "firefox skipped (SKIP_CLIENTS)"
    else
        capture firefox-unlisted-ca firefox "$(firefox-esr --version 2>/dev/null | oneline)" any unlisted-ca \
            "$PORT_HELLO" "client-partner.p12 imported into a fresh profile (Stack Lab root trusted)" nginx -- hello_firefox
    fi
}

# ---------------------------------------------------------------- main
log "removing previous client-stacks samples ($OUT)"
rm -rf "$OUT"
mkdir -p "$OUT"
make_pki
build_tools
start_nginx listed "$PORT_LISTED" "$PKI/trust-root-and-client-ca.pem" 3
start_nginx root-only "$PORT_ROOT_ONLY" "$PKI/trust-root-only.pem" 2
start_nginx hello "$PORT_HELLO" "$PKI/trust-root-and-client-ca.pem" 3
: >"$RUNS"
part1
part2
{
    printf 'nginx\t%s\n' "$(nginx -v 2>&1)"
    printf 'openssl\t%s\n' "$(openssl version)"
    printf 'tshark\t%s\n' "$(tshark --version | head -1)"
    printf 'tcpdump\t%s\n' "$(tcpdump --version 2>&1 | head -1)"
    printf 'keymanager\tssl.KeyManagerFactory.algorithm=%s\n' \
        "$(grep -E '^ssl.KeyManagerFactory.algorithm=' "$(dirname "$(readlink -f "$(command -v java)")")/../conf/security/java.security" | cut -d= -f2)"
} >"$WORK/software.tsv"
log "checking every capture with tshark; writing MANIFEST.tsv and README.md's section"
describe --runs "$RUNS" --software "$WORK/software.tsv"
log "done: $(du -sh "$OUT" | cut -f1) in $OUT"
