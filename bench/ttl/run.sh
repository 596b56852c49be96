#!/usr/bin/env bash
# bench/ttl/run.sh [--quick | --smoke] [--out DIR]: the expiry of half of an N-row SQLite table
# by `ttl sweep`, by a single `DELETE ... WHERE created_at < cutoff` and by a pt-archiver-style
# batching loop in Python, each under a writer process doing small transactions at a fixed rate
# whose worst latency is reported (see bench.py's header). Each method must leave no expired row
# and every live row, or the run stops with exit 1.
#
# Full: 2,000,000 rows (1,000,000 expired), writer at 1,000 tx/s, 3 runs of each method.
# --quick: 400,000 rows, 1,000 tx/s, one run each. --smoke: 10,000 rows, 200 tx/s, one run each.
# Results: DIR/measurements.tsv (bench/lib.sh) and DIR/run.txt (the Markdown table); DIR
# defaults to bench/ttl/results/MODE.
#
# Environment: TTL (binary; default build/bin/ttl, built with scripts/build if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib.sh"
bench_parse_arguments "$@"
case $bench_mode in
  full) sizes=(--rows 2000000 --rate 1000 --repeats 3) ;;
  quick) sizes=(--rows 400000 --rate 1000 --repeats 1) ;;
  smoke) sizes=(--rows 10000 --rate 200 --repeats 1) ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
TTL=${TTL:-$root/build/bin/ttl}
[[ -x $TTL ]] || "$root/scripts/build" "$root/build" >/dev/null
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# SQLite $(/usr/bin/python3 -c 'import sqlite3; print(sqlite3.sqlite_version)') (python3's)"
  /usr/bin/python3 "$here/bench.py" --ttl "$TTL" --out "$out" \
    --measurements "$out/measurements.tsv" "${sizes[@]}"
} | tee "$out/run.txt"
