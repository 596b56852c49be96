#!/usr/bin/env bash
# bench/rollup/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks `rollup --every 1m --by campaign,creative,geo` on generated ad impressions
# (gen_ads.py: 1,000 campaign x creative x geo groups, ~150-byte lines in time order):
#   rollup (exact)   count,sum:cost,min:cost,max:cost
#   rollup (all)     the same plus distinct:user and p99:latency
# against the exact aggregates computed by
#   sqlite3   sqlite_rollup.sh EVENTS (.import into an in-memory table, json_extract, GROUP BY);
# and the floor `cat EVENTS`. DuckDB and pandas, the issue's other peers, have no script here
# yet (neither is installed on the machine this was written on).
#   (0) correctness first: rollup's rows (rollup_tsv.py) and sqlite3's must be equal (count,
#       and cost's sum, min and max exactly, in cents); `rollup (all)` must count every event
#       and give each row a distinct count no larger than its count and a positive p99 (no
#       peer here computes those); any difference stops the run (exit 1) before anything is
#       timed;
#   (1) hyperfine times each command (3 runs, 1 warmup; 1 run in --smoke).
#
# Full: 10,000,000 events over 100 minutes (about 1.1 GB, up to 100,000 rows). --quick:
# 1,000,000 events over 100 minutes. --smoke: 5,000 events over 5 minutes. Raw output to results/<UTC date>.txt (-quick,
# -smoke; DIR/run.txt with --out DIR), measurements to the measurements.tsv of bench/lib.sh.
#
# Environment: ROLLUP (binary; default build/bin/rollup), PYTHON (default /usr/bin/python3),
# WORK (kept data directory; default a fresh one, removed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

runs=3 warmup=1
case $bench_mode in
  full) n=10000000 minutes=100 ;;
  quick) n=1000000 minutes=100 ;;
  smoke) n=5000 minutes=5 runs=1 warmup=0 ;;
esac
ROLLUP_SRC=${ROLLUP:-$root/build/bin/rollup}
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
bench_need python3 command -v python3 || { echo "run.sh: python3 is needed (checks)" >&2; exit 1; }
peers=()
bench_need sqlite3 command -v sqlite3 && peers+=(sqlite3)

bench_dated_results "$here/results"
bench_work_dir rollup-bench
exec > >(tee "$txt") 2>&1
ROLLUP=$work/rollup
bench_log_head "bench/rollup/run.sh ($bench_mode)" "$work" "$(bench_copy_binary "$ROLLUP_SRC" "$ROLLUP")"
echo "peers: ${peers[*]:-none}; sqlite3 $(sqlite3 --version 2>/dev/null | cut -d' ' -f1-2);" \
  "DuckDB and pandas: not scripted"
echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

events=$work/events.jsonl
"$PYTHON" "$here/gen_ads.py" --count "$n" --minutes "$minutes" --out "$events"
echo "events.jsonl: $(wc -l <"$events") lines, $(wc -c <"$events") bytes"

# --- correctness ---------------------------------------------------------------------------------
exact=(--every 1m --by campaign,creative,geo --agg count,sum:cost,min:cost,max:cost)
all=(--every 1m --by campaign,creative,geo
     --agg count,sum:cost,min:cost,max:cost,distinct:user,p99:latency)
"$ROLLUP" "${exact[@]}" "$events" | "$PYTHON" "$here/rollup_tsv.py" >"$work/rollup.tsv"
echo "rollup: $(wc -l <"$work/rollup.tsv") rows"
for peer in "${peers[@]}"; do
  "$here/sqlite_rollup.sh" "$events" >"$work/$peer.tsv"
  if ! diff -q "$work/rollup.tsv" "$work/$peer.tsv" >/dev/null; then
    diff "$work/rollup.tsv" "$work/$peer.tsv" | head -5
    echo "run.sh: $peer and rollup differ" >&2
    exit 1
  fi
  echo "$peer: same answer"
done
"$ROLLUP" "${all[@]}" "$events" | "$PYTHON" -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin]
assert all(row["distinct_user"] <= row["count"] and row["p99_latency"] > 0 for row in rows)
total = sum(row["count"] for row in rows)
print(f"rollup (all): {len(rows)} rows, {total} events")' |
  tee "$work/all.check"
grep -q " $n events" "$work/all.check" || { echo "run.sh: rollup (all) lost events" >&2; exit 1; }

# --- timing --------------------------------------------------------------------------------------
commands=(tool "rollup (exact)" "$ROLLUP ${exact[*]} $events"
          tool "rollup (all)" "$ROLLUP ${all[*]} $events")
for peer in "${peers[@]}"; do
  commands+=(peer sqlite3 "$here/sqlite_rollup.sh $events")
done
commands+=(floor cat "cat $events")
bench_time_commands "$work/rollup.json" rollup "$runs" "$warmup" "${commands[@]}"
cat "$work/rollup.txt"
