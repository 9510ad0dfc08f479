#!/usr/bin/env bash
# Algorithmic attacks at full size (tests/adversarial.py builds them): 1,000,000 one-byte
# out-of-order segments, 100,000 half-open connections, a CertificateRequest with 10,000 CA names, a
# chain of 1,000 certificates. Prints tlscap's wall time and peak RSS on each.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
DIR="${TLSCAP_BENCH_CACHE:-/var/tmp/tlscap-bench}/adversarial"
PY="$ROOT/.venv/bin/python"
[ -f "$DIR/chain-1000-certificates.pcap" ] || (cd "$ROOT/tests" && "$PY" adversarial.py "$DIR" >/dev/null)
for f in "$DIR"/*.pcap; do
    /usr/bin/time -f "$(basename "$f"): %e s, %M KB peak RSS" \
        "$PY" -m tlscap analyze "$f" --format json -o /dev/null --fail-on never 2>&1 | grep "peak RSS"
done
