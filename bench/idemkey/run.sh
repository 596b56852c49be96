#!/usr/bin/env bash
# bench/idemkey/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks idemkey against the tools a user would pick instead, in the same run:
#   (a) replay latency: `idemkey run --key k -- true` on a key that already completed, next to
#       `true` and `flock -n LOCKFILE true` (hyperfine -N, no shell in between);
#   (b) filter throughput: `idemkey filter --key-field event_id` on JSONL with 10% exact
#       duplicates (fresh state file each run), next to awk '!seen[$0]++', jq pipelines, and
#       `cat`/`wc -l` as the floor; wall time, records/s and peak RSS (GNU time). Each run's
#       output is checked against the first of each line in input order (computed in Python).
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  1,000,000 records, 5 repetitions, 3 hyperfine rounds of 200 runs;
#   --quick    100,000 records, 3 repetitions, 1 round of 50 runs;
#   --smoke    2,000 records, 1 repetition, one run of each replay command: only the checks matter.
# The order-preserving jq (quadratic) runs on a prefix: 20,000, 5,000 or 500 records.
# Every timed run is a row of DIR/measurements.tsv; the raw figures and a Markdown summary go to
# DIR too (default bench/idemkey/results/MODE); the summary is also printed. A failed check
# exits 1.
#
# Peers (jq, Miller, flock, GNU time, hyperfine) are installed with bench_need; under
# SLUICE_BENCH_NO_INSTALL=1 a missing one is skipped (without hyperfine, bash times the replay
# commands; without GNU time, no peak RSS).
# Environment: IDEMKEY (binary; default build-bench/bin/idemkey, built with scripts/build if
# missing), TMPDIR (where data and state files live), SLUICE_BENCH_NO_INSTALL.

# shellcheck disable=SC2016 # the awk, jq and sh -c programs are single-quoted on purpose
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) records=1000000 reps=5 hf_rounds=3 hf_runs=200 hf_warmup=20 subset=20000 subset_reps=3 ;;
  quick) records=100000 reps=3 hf_rounds=1 hf_runs=50 hf_warmup=10 subset=5000 subset_reps=1 ;;
  smoke) records=2000 reps=1 hf_rounds=1 hf_runs=1 hf_warmup=0 subset=500 subset_reps=1 ;;
esac
dup_percent=10 dup_fraction=0.10
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"

commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }  # 1000000 -> 1,000,000
quote_words() {  # quote_words WORD...: the words as one shell command line
  local word text=""
  for word; do
    [[ $word =~ ^[A-Za-z0-9_./=:,%+@-]+$ ]] || word="'${word//\'/\'\\\'\'}'"
    text+="${text:+ }$word"
  done
  printf '%s\n' "$text"
}

# --- tools -------------------------------------------------------------------------------------
bench_need python3 command -v python3 || { echo "run.sh: python3 is needed (data generator)" >&2; exit 1; }
if bench_need hyperfine hyperfine --version; then have_hyperfine=1; else have_hyperfine=0; fi
if bench_need time test -x /usr/bin/time; then gnu_time=1; else gnu_time=0; fi
if bench_need jq jq --version; then have_jq=1; else have_jq=0; fi
if bench_need miller mlr --version; then have_mlr=1; else have_mlr=0; fi
if bench_need util-linux flock --version; then have_flock=1; else have_flock=0; fi
if bench_need mawk command -v awk; then have_awk=1; else have_awk=0; fi
IDEMKEY=${IDEMKEY:-$root/build-bench/bin/idemkey}
if [[ ! -x $IDEMKEY ]]; then
  echo "run.sh: building idemkey in $root/build-bench" >&2
  "$root/scripts/build" "$root/build-bench" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/idemkey-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out"/replay-*.json "$out"/replay-*.txt "$out"/filter.tsv "$out"/checks.txt "$out"/summary.md
failures=0
verdict=ok
check() {  # check DESCRIPTION COMMAND...: record a correctness check (a failure makes $verdict wrong)
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)) verdict=wrong; fi
}
skipped() { echo "skip $1 ($2 is not installed)" >>"$out/checks.txt"; }

# --- machine -----------------------------------------------------------------------------------
{
  bench_machine_lines
  echo "state dir filesystem: $(df -T "$work" | awk 'NR == 2 {print $2, $1}')"
  echo "idemkey: $IDEMKEY ($("$IDEMKEY" --version 2>&1 | head -1))"
  echo "source tree at run time: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), \
$(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null | wc -l) uncommitted file(s) outside bench/"
  echo "hyperfine: $( ((have_hyperfine)) && hyperfine --version || echo 'not installed (replay timed by bash)')"
  echo "jq: $( ((have_jq)) && jq --version || echo 'not installed (skipped)')"
  echo "awk: $( ((have_awk)) && readlink -f "$(command -v awk)" || echo 'not installed (skipped)')"
  echo "sort: $(sort --version | head -1)"
  ((gnu_time)) || echo "GNU time: not installed (no peak RSS)"
  echo "records: $records, duplicates: $dup_fraction, repetitions: $reps"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# --- (a) replay latency ------------------------------------------------------------------------
db=$work/replay.db
lock=$work/flock.lock
: >"$lock"
"$IDEMKEY" --db "$db" run --key k -- true
"$IDEMKEY" --db "$db" run --key k --status-file "$work/status.json" -- true
check "second run of the key is a replay" grep -q '"decision":"replayed"' "$work/status.json"
replay=(floor true "true")
if ((have_flock)); then
  check "flock -n LOCKFILE true exits 0" flock -n "$lock" true
  replay+=(peer "flock -n LOCKFILE true" "flock -n $lock true")
else
  skipped "flock -n LOCKFILE true" flock
fi
replay+=(tool "idemkey run (replay)" "$IDEMKEY --db $db run --key k -- true")
if ((failures)); then
  echo "run.sh: the replay checks failed; replay latency not timed" >&2
else
  for round in $(seq "$hf_rounds"); do
    echo "run.sh: replay round $round/$hf_rounds (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
    bench_time_commands "$out/replay-$round.json" \
      "replay latency: idemkey run on a key that already completed (one process)" \
      "$hf_runs" "$hf_warmup" "${replay[@]}"
  done
fi
check "the key still holds attempt 1 after every replay" \
  bash -c "'$IDEMKEY' --db '$db' show --key k | grep -q '\"attempt\":1,'"

# --- (b) filter throughput ---------------------------------------------------------------------
events=$work/events.jsonl
python3 "$here/gen_events.py" --count "$records" --duplicates "$dup_fraction" --output "$events"
distinct=$((records - (records * dup_percent + 50) / 100))
echo "events: $(wc -c <"$events") bytes" >>"$out/machine.txt"
printf 'label\trepetition\trecords\twall_s\tuser_s\tsys_s\tmax_rss_kb\texit\n' >"$out/filter.tsv"
# The right answer: the first of each line, in input order (every duplicate is byte-identical).
first_of_each() { python3 -c '
import sys
seen = set()
for line in sys.stdin.buffer:
    if line not in seen:
        seen.add(line)
        sys.stdout.buffer.write(line)' <"$1" >"$2"; }
first_of_each "$events" "$work/expected"
LC_ALL=C sort "$work/expected" >"$work/expected.sorted"

# measure ROLE LABEL REP RECORDS OUTFILE COMMAND...: wall time (bash's clock around the run),
# CPU time and peak RSS (GNU time; for `sh -c` pipelines, CPU is summed over the pipeline and
# the RSS is that of its largest process), as a row of filter.tsv; `record` then writes the
# run to measurements.tsv with $verdict: ok, unless a check between the two failed.
measure() {
  local role=$1 label=$2 rep=$3 count=$4 output=$5 start end status=0 times
  shift 5
  if ((gnu_time)); then
    start=$EPOCHREALTIME
    /usr/bin/time -f '%U\t%S\t%M' -o "$work/times" "$@" >"$output" 2>"$work/stderr" || status=$?
    end=$EPOCHREALTIME
    times=$(tail -1 "$work/times")
  else
    local TIMEFORMAT=$'%3U\t%3S'
    start=$EPOCHREALTIME
    { time "$@" >"$output" 2>"$work/stderr"; } 2>"$work/times" || status=$?
    end=$EPOCHREALTIME
    times="$(tail -1 "$work/times")"$'\t'
  fi
  last=("$role" "$label" "$rep" "$(bench_elapsed "$start" "$end")" "${times##*$'\t'}" "$status")
  last_command=$(quote_words "$@")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rep" "$count" "${last[3]}" "$times" "$status" \
    >>"$out/filter.tsv"
  verdict=ok
  if [[ $role == floor ]]; then verdict=unchecked; fi
  if ((status != 0)); then
    echo "FAIL $label (repetition $rep) exited $status: $(tail -3 "$work/stderr")" >>"$out/checks.txt"
    failures=$((failures + 1))
  fi
}
record() {  # record BENCHMARK: the last measured run, with $verdict
  bench_record "$1" "${last[0]}" "${last[1]}" "${last[2]}" "${last[3]}" "${last[4]}" \
    "${last[5]}" "$verdict" "$last_command"
}

lines_are() { [[ $(wc -l <"$1") -eq $2 ]]; }
# same_records A B: the same JSON records, line by line (Miller writes `{"k": v}` with spaces)
same_records() { python3 -c '
import json, sys
a, b = (open(path) for path in sys.argv[1:3])
sys.exit(0 if list(map(json.loads, a)) == list(map(json.loads, b)) else 1)' "$1" "$2"; }
filter_bench="idemkey filter: $(commas "$records") records, $dup_percent% duplicates"
((have_awk)) || skipped "awk '!seen[\$0]++'" awk
((have_jq)) || skipped "jq -c . | sort -u, jq unique_by" jq
((have_mlr)) || skipped "mlr head -n 1 -g event_id" miller
for rep in $(seq "$reps"); do
  echo "run.sh: filter repetition $rep/$reps (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  state=$work/fresh-$rep.db
  rm -f "$state" "$state".*
  measure floor "cat > /dev/null" "$rep" "$records" /dev/null cat "$events"
  record "$filter_bench"
  measure floor "wc -l" "$rep" "$records" /dev/null wc -l "$events"
  record "$filter_bench"
  measure tool "idemkey filter (fresh state)" "$rep" "$records" "$work/out.idemkey" \
    "$IDEMKEY" --db "$state" filter --key-field event_id "$events"
  check "rep $rep: idemkey output = the first of each line, in input order" \
    cmp -s "$work/out.idemkey" "$work/expected"
  check "rep $rep: idemkey passed $distinct of $records records" lines_are "$work/out.idemkey" "$distinct"
  record "$filter_bench"
  measure tool "idemkey filter (state holds every key)" "$rep" "$records" "$work/out.rerun" \
    "$IDEMKEY" --db "$state" filter --key-field event_id "$events"
  check "rep $rep: rerun on the same state passes nothing" lines_are "$work/out.rerun" 0
  record "$filter_bench"
  if ((have_awk)); then
    measure peer "awk '!seen[\$0]++'" "$rep" "$records" "$work/out.awk" awk '!seen[$0]++' "$events"
    check "rep $rep: awk output = the same (so idemkey output = awk output)" \
      cmp -s "$work/out.awk" "$work/expected"
    record "$filter_bench"
  fi
  if ((have_mlr)); then
    measure peer "mlr head -n 1 -g event_id" "$rep" "$records" "$work/out.mlr" \
      mlr --ijsonl --ojsonl head -n 1 -g event_id "$events"
    check "rep $rep: mlr output = the same records, in input order" \
      same_records "$work/out.mlr" "$work/expected"
    record "$filter_bench"
  fi
  if ((have_jq)); then
    measure peer "jq -c . | sort -u" "$rep" "$records" "$work/out.jqsort" \
      sh -c 'jq -c . "$1" | LC_ALL=C sort -u' sh "$events"
    check "rep $rep: jq -c . | sort -u gives the same set of lines" \
      cmp -s "$work/out.jqsort" "$work/expected.sorted"
    record "$filter_bench"
    measure peer "jq -sc 'unique_by(.event_id)[]'" "$rep" "$records" "$work/out.jqunique" \
      jq -sc 'unique_by(.event_id)[]' "$events"
    LC_ALL=C sort "$work/out.jqunique" >"$work/out.jqunique.sorted"
    check "rep $rep: jq unique_by gives the same set of lines" \
      cmp -s "$work/out.jqunique.sorted" "$work/expected.sorted"
    record "$filter_bench"
  fi
  rm -f "$state" "$state".*
done

# jq's order-preserving streaming dedupe copies its state object for every record (quadratic
# time: ~8 s for 20,000 records, ~200 s for 100,000 here), so it runs on a prefix only, next to
# idemkey and awk on the same prefix.
head -n "$subset" "$events" >"$work/subset.jsonl"
first_of_each "$work/subset.jsonl" "$work/subset.expected"
jq_stream='foreach inputs as $r ({}; if .s[$r.event_id] then .e = null else .s[$r.event_id] = true | .e = $r end; .e // empty)'
prefix_bench="idemkey filter vs order-preserving jq: the first $(commas "$subset") records"
for rep in $(seq "$subset_reps"); do
  echo "run.sh: subset repetition $rep/$subset_reps" >&2
  state=$work/subset-$rep.db
  rm -f "$state" "$state".*
  measure tool "idemkey filter (fresh state) [prefix]" "$rep" "$subset" "$work/sub.idemkey" \
    "$IDEMKEY" --db "$state" filter --key-field event_id "$work/subset.jsonl"
  check "prefix rep $rep: idemkey output = the first of each line, in input order" \
    cmp -s "$work/sub.idemkey" "$work/subset.expected"
  record "$prefix_bench"
  if ((have_awk)); then
    measure peer "awk '!seen[\$0]++' [prefix]" "$rep" "$subset" "$work/sub.awk" \
      awk '!seen[$0]++' "$work/subset.jsonl"
    check "prefix rep $rep: awk output = the same" cmp -s "$work/sub.awk" "$work/subset.expected"
    record "$prefix_bench"
  fi
  if ((have_jq)); then
    measure peer "jq -nc 'foreach inputs ...' [prefix]" "$rep" "$subset" "$work/sub.jq" \
      jq -nc "$jq_stream" "$work/subset.jsonl"
    check "prefix rep $rep: jq foreach output = the same" cmp -s "$work/sub.jq" "$work/subset.expected"
    record "$prefix_bench"
  fi
  rm -f "$state" "$state".*
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 "$here/summarize.py" "$out" | tee "$out/summary.md"
if ((failures)); then
  echo "run.sh: $failures correctness check(s) failed, see $out/checks.txt" >&2
  exit 1
fi
