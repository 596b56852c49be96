#!/usr/bin/env bash
# bench/price/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks `price` on a catalog of N SKUs priced in 10 markets (DE, FR, GB, JP, IN, US, CH, KW,
# BR, KR: inclusive and exclusive tax, no tax, PPP multipliers, end-99, ceil:10, nearest:0.05,
# ceil:1000 with a minimum, currencies with 0, 2 and 3 decimals), against calc_decimal.py, the
# same computation in stdlib Python (fractions + decimal), which is also the oracle:
#   (0) correctness first: `price calc` and calc_decimal.py print byte-identical JSONL for the
#       first 20,000 SKUs (cmp); any difference stops the run before anything is timed, and the
#       first differing records are printed;
#   (a) `price calc --countries ... --date 2026-03-02 < catalog > /dev/null`, 3 runs (wall time,
#       CPU, peak RSS; prices/s = N x 10 / wall), and once piped to `wc -l`;
#   (b) `/usr/bin/python3 calc_decimal.py ... < catalog > /dev/null`, 3 runs; a run over 10
#       minutes is stopped and the peer is timed on the first 100,000 SKUs instead (said so);
#   (c) `price publish` into a fresh state file, then the same publish again (every market
#       unchanged), 3 times each; then `price lookup --sku SKU0500000 --country JP` (hyperfine,
#       20 runs). The full run also compares price's and Python's output over the whole catalog.
#
# Full: N = 1,000,000 SKUs. --quick: N = 20,000. --smoke: N = 2,000, one run of each command
# (bench/lib.sh). Raw output goes to results/<UTC date>.txt (results/<date>-quick.txt with
# --quick; DIR/run.txt with --out DIR), the per-run timings to the .tsv beside it and to
# DIR/measurements.tsv (bench/lib.sh); the summary (summarize.py) ends both the terminal output
# and the .txt. Without hyperfine (under SLUICE_BENCH_NO_INSTALL=1) the lookup is not timed.
#
# Environment: PRICE (binary; default build/bin/price, built with `cmake --build build --target
# price` if missing), PYTHON (default /usr/bin/python3; `python3` on PATH may be a pyenv shim).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

mode=$bench_mode runs=3 check_n=20000 lookup_runs=20
case $mode in
  full) n=1000000 ;;
  quick) n=20000 ;;
  smoke) n=2000 runs=1 check_n=2000 lookup_runs=2 ;;
esac
quick=0
[[ $mode == full ]] || quick=1
python_fallback_n=100000 python_limit_s=600
countries=DE,FR,GB,JP,IN,US,CH,KW,BR,KR
markets=10
date_arg=2026-03-02
PRICE=${PRICE:-$root/build/bin/price}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=$here/calc_decimal.py
export PYTHONDONTWRITEBYTECODE=1
if [[ ! -x $PRICE ]]; then
  echo "run.sh: building price" >&2
  cmake --build "$root/build" -j2 --target price >&2
fi
hyperfine=1
bench_need hyperfine command -v hyperfine || hyperfine=0

bench_dated_results "$here/results"
work=$(mktemp -d "${TMPDIR:-/tmp}/price-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
exec > >(tee "$txt") 2>&1

say() { printf '%s\n' "$*"; }
# --- machine -------------------------------------------------------------------------------------
bench_log_head "bench/price/run.sh ($mode)" "$work" \
  "price: $PRICE ($("$PRICE" --version 2>&1 | head -1)), binary built $(date -u -r "$PRICE" +%Y-%m-%dT%H:%M:%SZ), \
build type $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$(dirname "$(dirname "$PRICE")")/CMakeCache.txt" 2>/dev/null || echo '?')"
say "python (the peer): $PYTHON ($("$PYTHON" --version 2>&1)); hyperfine: $(hyperfine --version 2>/dev/null || echo absent)"
say "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- inputs and state ----------------------------------------------------------------------------
catalog=$work/catalog.jsonl rates=$work/rates.jsonl
run_logged() { say "\$ $*"; "$@"; }
run_logged "$PYTHON" "$here/gen_catalog.py" --count "$n" --catalog "$catalog" --rates "$rates"
say "catalog: $(wc -l <"$catalog") lines, $(wc -c <"$catalog") bytes"
# setup_state DB: the 10 markets' settings, with the real commands (printed once)
setup_state() {
  local db=$1 log=${2:-/dev/null}
  {
    "$PRICE" rates load --db "$db" "$rates"
    "$PRICE" tax set --db "$db" --country DE --rate 19% --inclusive
    "$PRICE" tax set --db "$db" --country FR --rate 20% --inclusive
    "$PRICE" tax set --db "$db" --country GB --rate 20% --inclusive
    "$PRICE" tax set --db "$db" --country JP --rate 10% --inclusive
    "$PRICE" tax set --db "$db" --country IN --rate 18% --inclusive
    "$PRICE" tax set --db "$db" --country US --rate 8.875% --exclusive
    "$PRICE" tax set --db "$db" --country CH --rate 8.1% --inclusive
    "$PRICE" tax set --db "$db" --country BR --rate 17% --exclusive
    "$PRICE" tax set --db "$db" --country KR --rate 10% --inclusive
    "$PRICE" ppp set --db "$db" --country IN --plr 0.24
    "$PRICE" ppp set --db "$db" --country BR --multiplier 0.6
    "$PRICE" rule set --db "$db" --currency EUR --rule end-99
    "$PRICE" rule set --db "$db" --currency GBP --rule end-99
    "$PRICE" rule set --db "$db" --currency JPY --rule ceil:10
    "$PRICE" rule set --db "$db" --currency CHF --rule nearest:0.05
    "$PRICE" rule set --db "$db" --currency KRW --rule ceil:1000 --min 1000
  } >"$log"
}
say "state: (KW has no tax entry, so it is untaxed; USD, INR, KWD, BRL have no rule)"
sed -n '/^  {$/,/^  } >/p' "$0" | sed -n 's/^    "\$PRICE"/  price/p' | sed 's/--db "\$db"/--db STATE/; s/"\$rates"/rates.jsonl/'
state=$work/calc.db
setup_state "$state" "$work/setup.log"
sed 's/^/  > /' "$work/setup.log"
say "rates.jsonl:"; sed 's/^/  /' "$rates"
calc=("$PRICE" calc --db "$state" --countries "$countries" --date "$date_arg")
peer=("$PYTHON" "$PEER" --rates "$rates" --countries "$countries" --date "$date_arg")

# --- (0) correctness before timing ---------------------------------------------------------------
say ""; say "## (0) price calc = calc_decimal.py on the first $check_n SKUs, byte for byte"
head -n "$check_n" "$catalog" >"$work/check.jsonl"
"${calc[@]}" <"$work/check.jsonl" >"$work/check.price"
"${peer[@]}" <"$work/check.jsonl" >"$work/check.py"
# compare_outputs A B LABEL: cmp; on a difference, the count and the first 10 differing records
compare_outputs() {
  if cmp -s "$1" "$2"; then
    say "ok: $3: identical ($(wc -l <"$1") lines, $(wc -c <"$1") bytes, sha256 $(sha256sum <"$1" | cut -c1-16))"
    return 0
  fi
  say "FAIL: $3 differ: $(cmp "$1" "$2" 2>&1 | head -1)"
  say "  lines: price $(wc -l <"$1"), python $(wc -l <"$2")"
  paste -d'\n' "$1" "$2" | awk 'NR % 2 == 1 {a = $0; next} a != $0 {n++; if (n <= 10) {print "  price:  " a; print "  python: " $0}} END {print "  differing records: " n+0}'
  say "  differing records by country:"
  paste -d'\t' "$1" "$2" | awk -F'\t' '$1 != $2 {match($2, /"country":"[A-Z][A-Z]"/); print substr($2, RSTART + 11, 2)}' | sort | uniq -c | sed 's/^/  /'
  return 1
}
if ! compare_outputs "$work/check.price" "$work/check.py" "calc on $check_n SKUs x $markets markets"; then
  say "run.sh: price calc and calc_decimal.py disagree; nothing timed"
  exit 1
fi
[[ $(wc -l <"$work/check.price") -eq $((check_n * markets)) ]] || { say "FAIL: not $((check_n * markets)) lines"; exit 1; }
say "what those $check_n SKUs exercised (coverage.py):"
"$PYTHON" "$here/coverage.py" "$rates" "$work/check.jsonl" "$countries" | sed 's/^/  /'

# --- timing helpers --------------------------------------------------------------------------------
printf 'name\trun\tskus\twall_s\tuser_s\tsys_s\tmaxrss_kib\tstatus\n' >"$tsv"
# timed NAME RUN SKUS INPUT OUTPUT CMD...: one run under /usr/bin/time, wall from $EPOCHREALTIME
timed() {
  local name=$1 run=$2 skus=$3 input=$4 output=$5 start end status=0
  shift 5
  start=$EPOCHREALTIME
  /usr/bin/time -f '%U\t%S\t%M' -o "$work/time.out" "$@" <"$input" >"$output" || status=$?
  end=$EPOCHREALTIME
  local wall
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$skus" "$wall" "$(tail -1 "$work/time.out")" "$status" >>"$tsv"
  local role=tool verdict=ok command="$* < $input > $output"
  [[ $name == python* ]] && role=peer
  ((status == 0)) || verdict=wrong
  ((status != 124)) || verdict=stopped
  bench_record "$benchmark, $skus SKUs x $markets markets" "$role" "$name" "$run" "$wall" \
    "$(tail -1 "$work/time.out" | cut -f3)" "$status" "$verdict" "${command//$work\//}"
  say "  $name run $run: ${wall} s wall, user/sys/maxrss $(tail -1 "$work/time.out" | tr '\t' ' '), exit $status"
  return "$status"
}

# --- (a) calc ------------------------------------------------------------------------------------
say ""; say "## (a) price calc, $n SKUs x $markets markets, $runs runs"
benchmark="price calc"  # price calc and the Python peer, whose output was compared above
say "\$ ${calc[*]} < catalog.jsonl > /dev/null"
for run in $(seq "$runs"); do timed "price calc" "$run" "$n" "$catalog" /dev/null "${calc[@]}"; done
say "\$ ${calc[*]} < catalog.jsonl | wc -l"
start=$EPOCHREALTIME
lines=$("${calc[@]}" <"$catalog" | wc -l)
end=$EPOCHREALTIME
wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
printf '%s\t%s\t%s\t%s\t\t\t\t0\n' "price calc | wc -l" 1 "$n" "$wall" >>"$tsv"
say "  price calc | wc -l: $wall s wall, $lines lines"
[[ $lines -eq $((n * markets)) ]] || { say "FAIL: expected $((n * markets)) lines"; exit 1; }

# --- (b) the Python peer ---------------------------------------------------------------------------
say ""; say "## (b) calc_decimal.py, $runs runs (a run is stopped after $python_limit_s s)"
py_input=$catalog py_n=$n
say "\$ ${peer[*]} < catalog.jsonl > /dev/null"
for run in $(seq "$runs"); do
  if ! timed "python calc_decimal.py" "$run" "$py_n" "$py_input" /dev/null timeout "$python_limit_s" "${peer[@]}"; then
    if [[ $py_n -gt $python_fallback_n ]]; then
      say "  a Python run on $py_n SKUs took over $python_limit_s s: timing it on the first $python_fallback_n SKUs instead"
      head -n "$python_fallback_n" "$catalog" >"$work/prefix.jsonl"
      py_input=$work/prefix.jsonl py_n=$python_fallback_n
      say "\$ ${peer[*]} < catalog-first-$py_n.jsonl > /dev/null"
      for run2 in $(seq "$runs"); do timed "python calc_decimal.py" "$run2" "$py_n" "$py_input" /dev/null "${peer[@]}"; done
      break
    fi
    say "FAIL: calc_decimal.py failed"; exit 1
  fi
done

# --- (c) publish, republish, lookup ----------------------------------------------------------------
say ""; say "## (c) price publish, $n SKUs x $markets markets, into a fresh state file; then again (no-op)"
benchmark="price publish"
publish_args=(--countries "$countries" --date "$date_arg")
say "\$ price publish --db FRESH.db ${publish_args[*]} < catalog.jsonl   (FRESH.db: the settings above, nothing published)"
for run in $(seq "$runs"); do
  db=$work/publish-$run.db
  setup_state "$db"
  timed "price publish (fresh)" "$run" "$n" "$catalog" "$work/publish-1.out" "$PRICE" publish --db "$db" "${publish_args[@]}"
  timed "price publish (again, same input)" "$run" "$n" "$catalog" "$work/publish-2.out" "$PRICE" publish --db "$db" "${publish_args[@]}"
  [[ $(grep -c '"status":"published"' "$work/publish-1.out") -eq $markets ]] || { say "FAIL: first publish:"; cat "$work/publish-1.out"; exit 1; }
  [[ $(grep -c '"status":"unchanged"' "$work/publish-2.out") -eq $markets ]] || { say "FAIL: second publish:"; cat "$work/publish-2.out"; exit 1; }
  [[ $run -lt $runs ]] && rm -f "$db" "$db"-* "$db".lock
done
say "  first publish printed:"; sed 's/^/    /' "$work/publish-1.out"
say "  second publish printed $(grep -c '"status":"unchanged"' "$work/publish-2.out") x status unchanged"
say "  state file after publishing: $(du -b "$db" | cut -f1) bytes ($(ls "$db"* | xargs -n1 basename | paste -sd' ' -))"
lookup=("$PRICE" lookup --db "$db" --sku SKU0500000 --country JP --date "$date_arg")
[[ $n -ge 500000 ]] || lookup[5]=SKU$(printf '%07d' $((n / 2)))
say ""; say "## (c) lookup latency: hyperfine -N --warmup 3 --runs $lookup_runs"
say "\$ ${lookup[*]}"
"${lookup[@]}" >"$work/lookup.out"
say "  prints: $(cat "$work/lookup.out")"
# the looked-up record is calc's record plus price_date
want=$(grep -F "{\"sku\":\"${lookup[5]}\"," "$catalog" | "$PRICE" calc --db "$state" --countries JP --date "$date_arg")
if [[ $(sed 's/,"price_date":"[0-9-]*"}$/}/' "$work/lookup.out") == "$want" ]]; then
  say "ok: lookup = calc's record for that SKU and market, plus price_date"
else
  say "FAIL: lookup differs from calc: $want"; exit 1
fi
if ((!hyperfine)); then
  say "  (hyperfine is not installed: the lookup is not timed)"
else
hyperfine -N --style basic --warmup 3 --runs "$lookup_runs" --export-json "$work/lookup.json" -n "price lookup" \
  "${lookup[*]}" >"$work/lookup.txt" 2>&1
sed 's/^/  /' "$work/lookup.txt"
bench_record_hyperfine "$work/lookup.json" "price lookup of one SKU in one market (one process)" tool \
  "price lookup" "${lookup[*]}"
"$PYTHON" - "$work/lookup.json" "$tsv" <<'PY'
import json, sys
times = json.load(open(sys.argv[1]))["results"][0]["times"]
with open(sys.argv[2], "a") as out:
    for i, t in enumerate(times, 1):
        out.write(f"price lookup\t{i}\t1\t{t:.6f}\t\t\t\t0\n")
PY
fi

# --- whole catalog: the same bytes from both (full run only; untimed) ------------------------------
if ((!quick)); then
  say ""; say "## whole catalog: price calc = calc_decimal.py on all $n SKUs (untimed)"
  "${calc[@]}" <"$catalog" | sha256sum >"$work/all.price"
  "${peer[@]}" <"$catalog" | sha256sum >"$work/all.py"
  if cmp -s "$work/all.price" "$work/all.py"; then
    say "ok: identical output for all $n SKUs x $markets markets (sha256 $(cut -c1-16 "$work/all.price"))"
  else
    say "FAIL: the outputs differ over the whole catalog (sha256 $(cut -c1-16 "$work/all.price") vs $(cut -c1-16 "$work/all.py"))"
    exit 1
  fi
fi
say "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"

say ""; say "## summary"
"$PYTHON" "$here/summarize.py" "$tsv" "$markets"
