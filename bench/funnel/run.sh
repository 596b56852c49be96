#!/usr/bin/env bash
# bench/funnel/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks `funnel --steps event=home,event=search,event=cart,event=checkout --window 1h` on a
# generated clickstream (gen_events.py: sessions over 30 days, exponential gaps of 10 minutes on
# average, ~90-byte lines in time order), against the same funnel computed by
#   DuckDB    node duckdb_funnel.mjs EVENTS 3600 [1] (read_ndjson + window functions;
#             @duckdb/node-api from package.json, `npm ci` into node_modules/ if missing), with
#             DuckDB's default threads and with SET threads = 1;
#   pandas    /usr/bin/python3 pandas_funnel.py EVENTS 3600 (read_json(lines=True), groupby
#             ffill; Debian's python3-pandas);
# and `sample --rate 1% --key session` against `awk 'rand() < 0.01'` (which has neither keys
# nor weights) on the same file, with `cat` as the floor.
#   (0) correctness first: funnel and every peer must print the same steps, counts and times
#       (nearest-rank median and p90 in microseconds; funnel_tsv.py projects funnel's JSON
#       Lines); sample's kept share must be within 5 standard deviations of 1% of the sessions;
#       any difference stops the run (exit 1) before anything is timed;
#   (1) hyperfine times each command (3 runs, 1 warmup; 1 run in --smoke).
#
# Full: 1,000,000 events, 100,000 sessions (the issue's 10M/1M is 10 times this; 2 shared cores
# made that too slow for the peers). --quick: 200,000 events, 20,000 sessions. --smoke: 5,000
# events, 500 sessions. Raw output to results/<UTC date>.txt (-quick, -smoke; DIR/run.txt with
# --out DIR), measurements to the measurements.tsv of bench/lib.sh.
#
# Environment: FUNNEL and SAMPLE (binaries; default build/bin/funnel and build/bin/sample),
# PYTHON (default /usr/bin/python3), WORK (kept data directory; default a fresh one, removed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

runs=3 warmup=1
case $bench_mode in
  full) n=1000000 sessions=100000 ;;
  quick) n=200000 sessions=20000 ;;
  smoke) n=5000 sessions=500 runs=1 warmup=0 ;;
esac
FUNNEL_SRC=${FUNNEL:-$root/build/bin/funnel}
SAMPLE_SRC=${SAMPLE:-$root/build/bin/sample}
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
bench_need python3 command -v python3 || { echo "run.sh: python3 is needed (checks)" >&2; exit 1; }
peers=()
if [[ -d $here/node_modules/@duckdb/node-api ]] || bench_need npm command -v npm; then
  if [[ ! -d $here/node_modules/@duckdb/node-api && ${SLUICE_BENCH_NO_INSTALL:-0} != 1 ]]; then
    echo "run.sh: installing @duckdb/node-api (npm ci)" >&2
    (cd "$here" && npm ci --no-audit --no-fund >&2)
  fi
  [[ -d $here/node_modules/@duckdb/node-api ]] && peers+=(duckdb)
fi
bench_need python3-pandas "$PYTHON" -c 'import pandas' && peers+=(pandas)

bench_dated_results "$here/results"
bench_work_dir funnel-bench
exec > >(tee "$txt") 2>&1
FUNNEL=$work/funnel SAMPLE=$work/sample
bench_log_head "bench/funnel/run.sh ($bench_mode)" "$work" "$(bench_copy_binary "$FUNNEL_SRC" "$FUNNEL")"
bench_copy_binary "$SAMPLE_SRC" "$SAMPLE"
echo "peers: ${peers[*]:-none}; node $(node --version 2>/dev/null || echo absent);" \
  "pandas $("$PYTHON" -c 'import pandas; print(pandas.__version__)' 2>/dev/null || echo absent);" \
  "$(awk -W version 2>&1 | head -1)"
echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

events=$work/events.jsonl
"$PYTHON" "$here/gen_events.py" --count "$n" --sessions "$sessions" --out "$events"
echo "events.jsonl: $(wc -l <"$events") lines, $(wc -c <"$events") bytes"

# --- correctness ---------------------------------------------------------------------------------
steps=event=home,event=search,event=cart,event=checkout
"$FUNNEL" --steps "$steps" --window 1h "$events" | "$PYTHON" "$here/funnel_tsv.py" >"$work/funnel.tsv"
echo "funnel:"; cat "$work/funnel.tsv"
for peer in "${peers[@]}"; do
  case $peer in
    duckdb) (cd "$here" && node duckdb_funnel.mjs "$events" 3600) >"$work/$peer.tsv" ;;
    pandas) "$PYTHON" "$here/pandas_funnel.py" "$events" 3600 >"$work/$peer.tsv" ;;
  esac
  if ! diff "$work/funnel.tsv" "$work/$peer.tsv"; then
    echo "run.sh: $peer and funnel differ" >&2
    exit 1
  fi
  echo "$peer: same answer"
done
kept=$("$SAMPLE" --rate 1% --key session "$events" | "$PYTHON" -c '
import json, sys
print(len({json.loads(line)["session"] for line in sys.stdin}))')
"$PYTHON" - "$kept" "$sessions" <<'PY' || { echo "run.sh: sample kept an unlikely share" >&2; exit 1; }
import math, sys
kept, total = int(sys.argv[1]), int(sys.argv[2])
print(f"sample: {kept} of {total} sessions kept")
sys.exit(abs(kept - total / 100) > 5 * math.sqrt(total * 0.01 * 0.99) + 1)
PY

# --- timing --------------------------------------------------------------------------------------
commands=(tool funnel "$FUNNEL --steps $steps --window 1h $events")
for peer in "${peers[@]}"; do
  case $peer in
    duckdb) commands+=(peer duckdb "node $here/duckdb_funnel.mjs $events 3600"
                       peer "duckdb (threads=1)" "node $here/duckdb_funnel.mjs $events 3600 1") ;;
    pandas) commands+=(peer pandas "$PYTHON $here/pandas_funnel.py $events 3600") ;;
  esac
done
bench_time_commands "$work/funnel.json" funnel "$runs" "$warmup" "${commands[@]}"
cat "$work/funnel.txt"
bench_time_commands "$work/sample.json" sample "$runs" "$warmup" \
  tool sample "$SAMPLE --rate 1% --key session $events" \
  peer "awk rand" "awk -f $here/rand.awk $events" \
  floor cat "cat $events"
cat "$work/sample.txt"
