#!/usr/bin/env bash
# Times `tlscap scan` over 8 copies of the 100 MB capture with --jobs 1 and with one job per core,
# and prints the ratio (the bar: parallel ≤ 0.6× of --jobs 1 on 2 cores). Run after run.sh built the
# captures; copies live in the cache dir, outside the repo.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${TLSCAP_BENCH_CACHE:-/var/tmp/tlscap-bench}"
SRC="$CACHE/tlscap-bench-100M.pcap"
DIR="$CACHE/scan-8x100M"
TLSCAP="${TLSCAP:-$ROOT/.venv/bin/python -m tlscap}"
[ -f "$SRC" ] || { echo "missing $SRC: run benchmarks/run.sh first" >&2; exit 2; }
mkdir -p "$DIR"
for i in 1 2 3 4 5 6 7 8; do
    [ -f "$DIR/copy$i.pcap" ] || cp "$SRC" "$DIR/copy$i.pcap"
done
jobs=$(nproc)
t() { local s e; s=$(date +%s.%N); $TLSCAP scan "$DIR" --quiet --format jsonl -o /dev/null --fail-on never "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
one=$(t --jobs 1)
many=$(t --jobs "$jobs")
ratio=$(echo "scale=2; $many / $one" | bc)
printf 'scan of 8 x 100 MB: --jobs 1 %.1f s, --jobs %d %.1f s, ratio %s (bar: <= 0.60)\n' "$one" "$jobs" "$many" "$ratio"
