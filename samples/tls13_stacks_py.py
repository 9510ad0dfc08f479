"""Python `ssl` (stdlib) TLS 1.3 server and client for samples/make_tls13_stacks.sh.

server: listens on 127.0.0.1:PORT, TLS 1.3 only, and answers each connection's first request with a
        tiny HTTP/1.0 200 response, one connection at a time, until it is stopped (SIGTERM).
        --verify required: ssl.CERT_REQUIRED against --cafile; --verify none: no CertificateRequest.
client: connects to 127.0.0.1:PORT (SNI localhost), TLS 1.3 only, writes an NSS key log
        (SSLContext.keylog_filename), sends `GET /ok.txt HTTP/1.0` and reads until the server closes.
        Prints one line saying what happened (HTTP status line or the error).

Usage:
  tls13_stacks_py.py server --port P --cert server.pem --key server.key [--cafile F --verify required|none]
  tls13_stacks_py.py client --port P --cafile root.pem --keylog F [--cert chain.pem --key key.pem]
"""

from __future__ import annotations

import argparse
import signal
import socket
import ssl
import sys

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


def tls13_only(ctx: ssl.SSLContext) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3


def serve(args: argparse.Namespace) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls13_only(ctx)
    ctx.load_cert_chain(args.cert, args.key)
    if args.verify == "required":
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.cafile)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with socket.create_server(("127.0.0.1", args.port), backlog=8) as listener:
        print(f"listening on 127.0.0.1:{args.port}", flush=True)
        while True:
            raw, peer = listener.accept()
            raw.settimeout(10)
            try:
                with ctx.wrap_socket(raw, server_side=True) as conn:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    if request:
                        conn.sendall(RESPONSE)
                    first = request.split(b"\r\n", 1)[0].decode(errors="replace")
                    print(f"{peer}: served {first!r}", flush=True)
            except (ssl.SSLError, OSError) as exc:
                print(f"{peer}: {exc}", flush=True)
                raw.close()


def connect(args: argparse.Namespace) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls13_only(ctx)
    ctx.load_verify_locations(args.cafile)
    ctx.keylog_filename = args.keylog
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    try:
        with socket.create_connection(("127.0.0.1", args.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"GET /ok.txt HTTP/1.0\r\nHost: localhost\r\n\r\n")
                data = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        print("python client: " + (data.split(b"\r\n", 1)[0].decode(errors="replace") or "no response"))
    except (ssl.SSLError, OSError) as exc:
        print(f"python client: {exc}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role", required=True)
    srv = sub.add_parser("server")
    srv.add_argument("--port", type=int, required=True)
    srv.add_argument("--cert", required=True)
    srv.add_argument("--key", required=True)
    srv.add_argument("--cafile")
    srv.add_argument("--verify", choices=["required", "none"], default="required")
    cli = sub.add_parser("client")
    cli.add_argument("--port", type=int, required=True)
    cli.add_argument("--cafile", required=True)
    cli.add_argument("--keylog", required=True)
    cli.add_argument("--cert")
    cli.add_argument("--key")
    args = parser.parse_args()
    return serve(args) if args.role == "server" else connect(args)


if __name__ == "__main__":
    sys.exit(main())
