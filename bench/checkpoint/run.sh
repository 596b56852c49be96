#!/usr/bin/env bash
# bench/checkpoint/run.sh [--quick | --smoke] [--out DIR]
#
# checkpoint run's overhead over running its command alone: `checkpoint run --restart --every
# 10000 --input FILE -- cat` (one cat per chunk of 10,000 lines, a committed checkpoint after
# each) next to `cat FILE` (the command alone, the floor), on an input of L lines.
# Correctness check first: `checkpoint run -- cat` writes exactly the input, and the job ends
# complete at line L + 1.
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  L = 10,000,000, 5 runs;  --quick  L = 1,000,000, 3 runs;  --smoke  L = 20,000, 1 run.
# Every timed run is a row of DIR/measurements.tsv (default bench/checkpoint/results/MODE).
# Environment: CHECKPOINT (binary; default build/bin/checkpoint), TMPDIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) lines=10000000 runs=5 ;;
  quick) lines=1000000 runs=3 ;;
  smoke) lines=20000 runs=1 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
CHECKPOINT=${CHECKPOINT:-$root/build/bin/checkpoint}
[[ -x $CHECKPOINT ]] || { echo "run.sh: no checkpoint binary at $CHECKPOINT" >&2; exit 1; }
bench_work_dir checkpoint-bench
rm -f "$out/checks.txt" "$out"/*.json "$out"/*.txt

awk -v n="$lines" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"id\":%d,\"name\":\"row %d\"}\n", i, i }' \
  >"$work/input.jsonl"

failures=0
"$CHECKPOINT" --db "$work/check.db" -q run --job check --input "$work/input.jsonl" -- cat \
  >"$work/copy.jsonl"
if cmp -s "$work/input.jsonl" "$work/copy.jsonl"; then echo "ok   output is the input" >>"$out/checks.txt"
else echo "FAIL output is the input" >>"$out/checks.txt"; failures=$((failures + 1)); fi
next=$("$CHECKPOINT" --db "$work/check.db" show --job check | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_line"])')
if ((next == lines + 1)); then echo "ok   next_line is $((lines + 1))" >>"$out/checks.txt"
else echo "FAIL next_line is $next, not $((lines + 1))" >>"$out/checks.txt"; failures=$((failures + 1)); fi
cat "$out/checks.txt"
((failures == 0)) || { echo "run.sh: $failures check(s) failed" >&2; exit 1; }

bench_time_commands "$out/overhead.json" "checkpoint run overhead, $lines lines" "$runs" 1 \
  floor "cat FILE" "cat $work/input.jsonl" \
  tool "checkpoint run --every 10000 -- cat" \
  "$CHECKPOINT --db $work/bench.db -q run --job bench --restart --every 10000 --input $work/input.jsonl -- cat"
python3 - "$out/overhead.json" <<'PY' | tee "$out/summary.txt"
import json, sys
results = {r["command"]: sorted(r["times"])[len(r["times"]) // 2] for r in json.load(open(sys.argv[1]))["results"]}
floor, tool = results["cat FILE"], results["checkpoint run --every 10000 -- cat"]
print(f"cat FILE: median {floor:.3f} s; checkpoint run: median {tool:.3f} s; overhead {tool / floor - 1:+.0%}")
PY
