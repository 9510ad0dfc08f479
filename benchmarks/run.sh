#!/usr/bin/env bash
# Build what is missing (seed, then the 10M / 100M / 1G captures), then measure tlscap
# next to tshark on each. Everything generated lives in the cache dir, outside the repo.
#
# Env: TLSCAP_BENCH_CACHE (default /var/tmp/tlscap-bench), SIZES (default "10M 100M 1G"),
#      RUNS (runs per tool, default 3), RUNS_1G (default 3), TIMEOUT (s per run, default 900),
#      PY (python for the scripts, default python3; they use the standard library only).
# The seed capture needs root (network namespace, tcpdump); later steps do not.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TLSCAP_BENCH_CACHE="${TLSCAP_BENCH_CACHE:-/var/tmp/tlscap-bench}"
SIZES="${SIZES:-10M 100M 1G}"
RUNS="${RUNS:-3}"
RUNS_1G="${RUNS_1G:-3}"
TIMEOUT="${TIMEOUT:-900}"
PY="${PY:-python3}"

# ssldump (C) is timed beside tshark as a reference for compiled code; the bench runs without it.
if ! command -v ssldump >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q ssldump >/dev/null 2>&1 \
        || echo "run.sh: ssldump could not be installed; its column stays empty" >&2
fi
bash "$HERE/make_seed.sh"
for size in $SIZES; do
    "$PY" "$HERE/replicate.py" --size "$size"
done
for size in $SIZES; do
    runs="$RUNS"
    [ "$size" = 1G ] && runs="$RUNS_1G"
    "$PY" "$HERE/measure.py" --size "$size" --runs "$runs" --timeout "$TIMEOUT" >/dev/null
done
# shellcheck disable=SC2046  # one --size per label
"$PY" "$HERE/measure.py" --report $(for s in $SIZES; do printf -- '--size %s ' "$s"; done)
# Bulk-dominated captures beside them (synthetic, benchmarks/synth.py): data and its ACKs, as a busy
# gateway's capture holds, TLS caught mid-stream and plaintext HTTP.
"$PY" "$HERE/synth.py"
SYNTH="${TLSCAP_BENCH_CACHE}/bulk-tls-100M.pcap ${TLSCAP_BENCH_CACHE}/bulk-tls-ipv6-100M.pcap ${TLSCAP_BENCH_CACHE}/plaintext-100M.pcap"
# Their connections start mid-stream, without a SYN: ssldump reads nothing of them, so it is not timed.
# shellcheck disable=SC2086  # three paths
"$PY" "$HERE/measure.py" --runs "$RUNS" --timeout "$TIMEOUT" --no-ssldump $SYNTH >/dev/null
# shellcheck disable=SC2086
"$PY" "$HERE/measure.py" --report $SYNTH
# The pure-Python floor on the same captures (header walk; + decode, flow lookup, record walk).
for size in $SIZES; do
    "$PY" "$HERE/floor.py" "${TLSCAP_BENCH_CACHE}/tlscap-bench-${size}.pcap"
done
# Parallel scan: 8 copies of the 100 MB capture, --jobs 1 against one job per core.
case " $SIZES " in *" 100M "*) bash "$HERE/scan_parallel.sh" ;; esac
bash "$HERE/adversarial.sh"
