#!/usr/bin/env bash
# bench/jobq/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks jobq against a Python sqlite3 job queue in the litequeue/goqite shape, in the same
# run (bench.py has the details): enqueue of no-op jobs, and claim+ack through
# `jobq work -j 1|4 -- true` next to the Python loop with 1 and 4 processes, without and with
# running `true` per job; on an SQLite file and, when scripts/pg can start a server, on
# PostgreSQL. Every run first checks that every job was done exactly once.
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  20,000 jobs, 3 rounds, SQLite and PostgreSQL;
#   --quick    2,000 jobs, 1 round, SQLite and PostgreSQL;
#   --smoke    100 jobs, 1 round, SQLite only: only the checks matter.
# Environment: JOBQ (binary; default build/bin/jobq).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) jobs=20000 rounds=3 servers=(--postgresql) ;;
  quick) jobs=2000 rounds=1 servers=(--postgresql) ;;
  smoke) jobs=100 rounds=1 servers=() ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
JOBQ=${JOBQ:-$root/build/bin/jobq}
[[ -x $JOBQ ]] || { echo "run.sh: no jobq binary at $JOBQ (set JOBQ or run scripts/build)" >&2; exit 1; }
bench_need python3 command -v python3 || { echo "run.sh: python3 is needed" >&2; exit 1; }
if ((${#servers[@]})) && ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "run.sh: no PostgreSQL server binaries: SQLite only" >&2
  servers=()
fi
{
  bench_machine_lines
  echo "jobq: $JOBQ ($("$JOBQ" --version 2>&1 | head -1))"
  echo "python: $(python3 --version 2>&1), sqlite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2
python3 "$here/bench.py" "$JOBQ" "$out" "$jobs" "$rounds" "${servers[@]}"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
