#!/usr/bin/env bash
# bench/reindex/run.sh [--quick | --smoke] [--out DIR]: one migration of an N-row table done by
# reindex, by `sqlite-utils transform` and by a hand-run 12-step rebuild, each under a writer
# process doing small transactions at a fixed rate whose worst latency is reported per step;
# then `reindex backfill` alone (see bench.py's header). Each method must leave the rows the
# writer's model says, and reindex verify must pass, or the run stops with exit 1.
#
# Full: 1,000,000 rows, writer at 1,000 tx/s, 3 migrations per method (alternating), backfill
# alone 3 times. --quick: 100,000 rows, 2 migrations each, backfill 2 times. --smoke: 5,000 rows,
# writer at 200 tx/s, one of each (bench/lib.sh). Results: DIR/measurements.tsv (bench/lib.sh),
# DIR/run.txt (the Markdown tables) and DIR/latencies-METHOD-N.txt; DIR defaults to
# bench/reindex/results/MODE. sqlite-utils is installed with apt-get if missing (or skipped under
# SLUICE_BENCH_NO_INSTALL=1).
#
# Environment: REINDEX (binary; default build/bin/reindex, built with scripts/build if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib.sh"
bench_parse_arguments "$@"
case $bench_mode in
  full) sizes=(--rows 1000000 --rate 1000 --migrations 3 --repeats 3) ;;
  quick) sizes=(--rows 100000 --rate 1000 --migrations 2 --repeats 2) ;;
  smoke) sizes=(--rows 5000 --rate 200 --migrations 1 --repeats 1) ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
methods=reindex,12-step
bench_need sqlite-utils command -v sqlite-utils && methods=reindex,transform,12-step
REINDEX=${REINDEX:-$root/build/bin/reindex}
[[ -x $REINDEX ]] || "$root/scripts/build" "$root/build" >/dev/null
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# sqlite-utils $(sqlite-utils --version 2>/dev/null | awk '{print $NF}' || echo absent), \
SQLite $(/usr/bin/python3 -c 'import sqlite3; print(sqlite3.sqlite_version)') (python3's)"
  /usr/bin/python3 "$here/bench.py" --reindex "$REINDEX" --out "$out" --methods "$methods" \
    --measurements "$out/measurements.tsv" "${sizes[@]}"
} | tee "$out/run.txt"
