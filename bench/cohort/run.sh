#!/usr/bin/env bash
# bench/cohort/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks `cohort --period week` (a weekly retention matrix: cohort = the UTC Monday-start
# week of a user's first event, cell (c, k) = users of cohort c with an event in week c+k) on a
# generated event log (gen_events.py: power-law activity, string user ids, ~110-byte lines,
# 12 weeks, roughly in time order), against the same matrix computed by
#   DuckDB    node duckdb_matrix.mjs EVENTS (read_ndjson + SQL; @duckdb/node-api from
#             package.json, `npm ci` into node_modules/ if missing); with DuckDB's default
#             threads, and again with SET threads = 1;
#   pandas    /usr/bin/python3 pandas_matrix.py EVENTS (read_json(lines=True) in chunks;
#             Debian's python3-pandas, installed with apt-get if missing);
#   sqlite3   sqlite_matrix.sh EVENTS (.import into an in-memory table, json_extract, SQL);
# and the floor: `wc -l < EVENTS` and `cat EVENTS > /dev/null`.
#   (0) correctness first: cohort and every peer on a sample of the log (every 50th line, so
#       all 12 weeks; the whole log with --quick) must print the same cells (cohort, period,
#       size, retained; cells_tsv.py projects cohort's JSON Lines and checks its rate and
#       complete fields); any difference stops the run before anything is timed;
#   (1) each command is timed (wall from $EPOCHREALTIME, user/sys CPU and peak RSS from
#       /usr/bin/time): 3 runs each for cohort and the floors; a peer gets 3 runs if its first
#       took under 60 s, else that one run only; a run over 10 minutes is stopped and reported
#       as such. The output of every timed run is compared with cohort's (a wrong answer is
#       marked and kept out of the ratios).
#
# Full: 10,000,000 events, 1,000,000 users (about 1.1 GB). --quick: 200,000 events, 20,000 users.
# --smoke: 20,000 events, 2,000 users, one run of each command (bench/lib.sh). Raw output goes
# to results/<UTC date>.txt (results/<date>-quick.txt with --quick; DIR/run.txt with --out DIR),
# the per-run timings to the .tsv beside it and to DIR/measurements.tsv (bench/lib.sh); the
# summary (summarize.py) ends both the terminal output and the .txt. A peer that is not
# installed under SLUICE_BENCH_NO_INSTALL=1 is skipped.
#
# Environment: COHORT (binary; default build/bin/cohort, built with `cmake --build build -j1
# --target cohort` if missing; copied into the work dir at the start so that a rebuild during
# the run changes nothing), PYTHON (default /usr/bin/python3: `python3` on PATH may be a pyenv
# shim without Debian's packages), WORK (a directory for the data, kept afterwards, and whose
# events file is reused when it was made with the same arguments; bench/cohort/data/ is
# git-ignored for that; default: a fresh directory under $TMPDIR or /tmp, removed at the end).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

mode=$bench_mode runs=3
case $mode in
  full) n=10000000 users=1000000 ;;
  quick) n=200000 users=20000 ;;
  smoke) n=20000 users=2000 runs=1 ;;
esac
quick=0
[[ $mode == full ]] || quick=1  # quick and smoke: the whole log is the correctness sample
sample_every=50 slow_s=60 limit_s=600
COHORT_SRC=${COHORT:-$root/build/bin/cohort}
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
if [[ ! -x $COHORT_SRC ]]; then
  echo "run.sh: building cohort (one job)" >&2
  cmake --build "$root/build" -j1 --target cohort >&2
fi
peer_names=()
if [[ -d $here/node_modules/@duckdb/node-api ]] || bench_need npm command -v npm; then
  if [[ ! -d $here/node_modules/@duckdb/node-api && ${SLUICE_BENCH_NO_INSTALL:-0} != 1 ]]; then
    echo "run.sh: installing @duckdb/node-api (npm ci)" >&2
    (cd "$here" && npm ci --no-audit --no-fund >&2)
  fi
  if [[ -d $here/node_modules/@duckdb/node-api ]]; then
    peer_names+=("duckdb" "duckdb (threads=1)")
  else
    echo "run.sh: @duckdb/node-api is not installed: the DuckDB peers are skipped" >&2
  fi
fi
bench_need python3-pandas "$PYTHON" -c 'import pandas' && peer_names+=("pandas")
bench_need sqlite3 command -v sqlite3 && peer_names+=("sqlite3")

bench_dated_results "$here/results"
bench_work_dir cohort-bench
exec > >(tee "$txt") 2>&1

say() { printf '%s\n' "$*"; }
# --- machine -------------------------------------------------------------------------------------
COHORT=$work/cohort
bench_log_head "bench/cohort/run.sh ($mode)" "$work" "$(bench_copy_binary "$COHORT_SRC" "$COHORT")"
say "peers: ${peer_names[*]:-none}: node $(node --version 2>/dev/null || echo absent), @duckdb/node-api \
$(sed -n 's/^ *"version": "\(.*\)",*$/\1/p' "$here/node_modules/@duckdb/node-api/package.json" 2>/dev/null | head -1); \
$PYTHON ($("$PYTHON" --version 2>&1)), pandas $("$PYTHON" -c 'import pandas; print(pandas.__version__)' 2>/dev/null || echo absent), \
numpy $("$PYTHON" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || echo absent); \
sqlite3 $(sqlite3 --version 2>/dev/null | cut -d' ' -f1-2)"
say "floor: $(wc --version | head -1), $(cat --version | head -1); GNU time: /usr/bin/time"
say "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- input -----------------------------------------------------------------------------------------
events=$work/events.jsonl
gen=("$PYTHON" "$here/gen_events.py" --count "$n" --users "$users" --out "$events")
stamp="$(sha256sum <"$here/gen_events.py" | cut -c1-16) ${gen[*]:2}"
say ""; say "## input"
if [[ -f $events && -f $work/events.stamp && $(cat "$work/events.stamp") == "$stamp" ]]; then
  say "(reusing $events, made by: ${gen[*]})"
  cat "$work/events.stats"
else
  rm -f "$work/events.stamp"
  say "\$ ${gen[*]}"
  start=$EPOCHREALTIME
  "${gen[@]}" 2>"$work/events.stats"
  cat "$work/events.stats"
  say "  (generated in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
  printf '%s\n' "$stamp" >"$work/events.stamp"
fi
bytes=$(wc -c <"$events")
say "events.jsonl: $(wc -l <"$events") lines, $bytes bytes, sha256 $(sha256sum <"$events" | cut -c1-16)"
say "first line: $(head -1 "$events")"
say "last line:  $(tail -1 "$events")"

# The commands. Each writes the cells (cohort's as JSON Lines, the peers' as TSV) on stdout.
cohort_cmd=("$COHORT" --period week)
duckdb_cmd=(node "$here/duckdb_matrix.mjs")
pandas_cmd=("$PYTHON" "$here/pandas_matrix.py")
sqlite_cmd=("$here/sqlite_matrix.sh")
peer_cmd() { # NAME FILE: prints nothing, sets cmd=(...)
  case $1 in
    duckdb) cmd=("${duckdb_cmd[@]}" "$2") ;;
    "duckdb (threads=1)") cmd=("${duckdb_cmd[@]}" "$2" 1) ;;
    pandas) cmd=("${pandas_cmd[@]}" "$2") ;;
    sqlite3) cmd=("${sqlite_cmd[@]}" "$2") ;;
  esac
}
# cells FILE: cohort's JSON Lines output -> the TSV the peers print (and check rate, complete)
cells() { "$PYTHON" "$here/cells_tsv.py" <"$1"; }

# --- (0) correctness before timing -----------------------------------------------------------------
say ""
if ((quick)); then
  cp "$events" "$work/sample.jsonl"
  say "## (0) the same cells from cohort and every peer, on the whole log"
else
  awk -v k="$sample_every" 'NR % k == 1' "$events" >"$work/sample.jsonl"
  say "## (0) the same cells from cohort and every peer, on every ${sample_every}th line of the log \
($(wc -l <"$work/sample.jsonl") events, all weeks)"
fi
"${cohort_cmd[@]}" <"$work/sample.jsonl" >"$work/sample.cohort"
cells "$work/sample.cohort" >"$work/sample.expected"
say "ok: cohort's $(wc -l <"$work/sample.expected") cells: rate = retained/size (4 decimals, half-even), \
complete = before the last week, settings week/UTC/first/on (cells_tsv.py)"
for name in "${peer_names[@]}"; do
  peer_cmd "$name" "$work/sample.jsonl"
  "${cmd[@]}" </dev/null >"$work/sample.peer"
  if cmp -s "$work/sample.expected" "$work/sample.peer"; then
    say "ok: $name: identical cells ($(wc -l <"$work/sample.peer") lines, sha256 $(sha256sum <"$work/sample.peer" | cut -c1-16))"
  else
    say "FAIL: $name differs from cohort on the sample (cohort < > $name):"
    diff "$work/sample.expected" "$work/sample.peer" | head -20 | sed 's/^/  /'
    say "run.sh: $name and cohort disagree; nothing timed"
    exit 1
  fi
done
say "cohort's matrix of the sample (--format table):"
"${cohort_cmd[@]}" --format table <"$work/sample.jsonl" | sed 's/^/  /'

# --- timing helpers --------------------------------------------------------------------------------
printf 'name\trun\tevents\twall_s\tuser_s\tsys_s\tmaxrss_kib\tstatus\tcheck\n' >"$tsv"
# timed NAME RUN INPUT OUTPUT CMD...: one run under /usr/bin/time with stdin INPUT and stdout
# OUTPUT, stopped after $limit_s; wall from $EPOCHREALTIME. Sets $wall and $status.
timed() {
  local name=$1 run=$2 input=$3 output=$4 start end
  shift 4
  status=0
  last_command="$* < $input > $output"
  start=$EPOCHREALTIME
  /usr/bin/time -f '%U\t%S\t%M' -o "$work/time.out" timeout "$limit_s" "$@" <"$input" >"$output" \
    2>"$work/stderr.out" || status=$?
  if [[ -s $work/stderr.out ]]; then sed 's/^/  stderr: /' "$work/stderr.out" | head -5; fi
  end=$EPOCHREALTIME
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
}
# record NAME RUN CHECK: append the last run to the TSV and the log
record() {
  local times
  times=$(grep -P '^[0-9.]+\t[0-9.]+\t[0-9]+$' "$work/time.out" | tail -1 || true)
  [[ -n $times ]] || times=$'\t\t'
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$n" "$wall" "$times" "$status" "$3" >>"$tsv"
  local role=peer verdict=wrong
  case $1 in "wc -l" | "cat > /dev/null") role=floor ;; cohort*) role=tool ;; esac
  case $3 in -) verdict=unchecked ;; ok* | reference* | same*) verdict=ok ;; STOPPED*) verdict=stopped ;; esac
  bench_record "cohort --period week: $n events, $users users" "$role" "$1" "$2" "$wall" \
    "$(cut -f3 <<<"$times")" "$status" "$verdict" "${last_command//$work\//}"
  say "  $1 run $2: ${wall} s wall, user/sys/maxrss_kib $(tr '\t' ' ' <<<"$times"), exit $status, $3 \
(load $(cut -d' ' -f1 /proc/loadavg))"
}

say ""; say "## (1) timing on the whole log: $n events, $bytes bytes"
cat "$events" >/dev/null # into the page cache
say "(the log was read once, untimed, so that every run reads it from the page cache)"

# --- floors ----------------------------------------------------------------------------------------
say ""; say "### floors, $runs runs each"
say "\$ wc -l < events.jsonl"
for run in $(seq "$runs"); do
  timed "wc -l" "$run" "$events" "$work/wc.out" wc -l
  check=$([[ $(cat "$work/wc.out") -eq $n ]] && echo "ok ($n lines)" || echo "WRONG: $(cat "$work/wc.out") lines")
  record "wc -l" "$run" "$check"
done
say "\$ cat events.jsonl > /dev/null"
for run in $(seq "$runs"); do
  timed "cat > /dev/null" "$run" /dev/null /dev/null cat "$events"
  record "cat > /dev/null" "$run" "-"
done

# --- cohort ----------------------------------------------------------------------------------------
say ""; say "### cohort, $runs runs each form"
say "\$ cohort --period week < events.jsonl > cells.jsonl"
for run in $(seq "$runs"); do
  timed "cohort --period week < FILE" "$run" "$events" "$work/cohort.out" "${cohort_cmd[@]}"
  if ((status == 0)) && cells "$work/cohort.out" >"$work/cohort.cells"; then
    if ((run == 1)); then
      cp "$work/cohort.cells" "$work/expected"
      check="reference ($(wc -l <"$work/expected") cells, checked by cells_tsv.py)"
    elif cmp -s "$work/cohort.cells" "$work/expected"; then
      check="same as run 1"
    else
      check="DIFFERS from run 1"
    fi
  else
    check="FAILED"
  fi
  record "cohort --period week < FILE" "$run" "$check"
  [[ -f $work/expected ]] || { say "run.sh: cohort failed on the whole log; stopping"; exit 1; }
done
say "\$ cohort --period week events.jsonl > cells.jsonl"
for run in $(seq "$runs"); do
  timed "cohort --period week FILE" "$run" /dev/null "$work/cohort.out" "${cohort_cmd[@]}" "$events"
  check=WRONG
  if ((status == 0)) && cells "$work/cohort.out" | cmp -s - "$work/expected"; then check="same as the reference"; fi
  record "cohort --period week FILE" "$run" "$check"
done
cp "$work/cohort.out" "$work/full.cohort.jsonl"

# --- peers -----------------------------------------------------------------------------------------
for name in "${peer_names[@]}"; do
  peer_cmd "$name" events.jsonl
  say ""; say "### $name: up to $runs runs (one if the first takes over $slow_s s; stopped after $limit_s s)"
  say "\$ ${cmd[*]} > cells.tsv" | sed "s|$here/|bench/cohort/|g"
  peer_cmd "$name" "$events"
  for run in $(seq "$runs"); do
    timed "$name" "$run" /dev/null "$work/peer.out" "${cmd[@]}"
    if ((status == 124)); then
      check="STOPPED after $limit_s s"
    elif ((status != 0)); then
      check="FAILED (exit $status)"
    elif cmp -s "$work/peer.out" "$work/expected"; then
      check="same cells as cohort"
    else
      check="WRONG: differs from cohort's cells"
      diff "$work/expected" "$work/peer.out" | head -10 | sed 's/^/    /'
    fi
    record "$name" "$run" "$check"
    [[ $check == "same cells as cohort" ]] || break
    if awk -v w="$wall" -v s="$slow_s" 'BEGIN {exit !(w > s)}'; then
      if ((run < runs)); then say "  ($name took over $slow_s s: one run only)"; fi
      break
    fi
  done
done

say ""; say "cohort's matrix of the whole log (--format table; one more run, untimed):"
"${cohort_cmd[@]}" --format table <"$events" | sed 's/^/  /'
say "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"

say ""; say "## summary"
"$PYTHON" "$here/summarize.py" "$tsv" "$bytes"
