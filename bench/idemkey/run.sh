#!/usr/bin/env bash
# bench/idemkey/run.sh [--quick] [--out DIR]
#
# Benchmarks idemkey against the tools a user would pick instead, in the same run:
#   (a) replay latency: `idemkey run --key k -- true` on a key that already completed, next to
#       `true` and `flock -n LOCKFILE true` (hyperfine, no shell in between);
#   (b) filter throughput: `idemkey filter --key-field event_id` on JSONL with 10% exact
#       duplicates (fresh state file each run), next to awk '!seen[$0]++', jq pipelines, and
#       `cat`/`wc -l` as the floor; wall time, records/s and peak RSS, checked for correctness.
#
# Full run: 1,000,000 records, 5 repetitions, 3 hyperfine rounds of 200 runs. --quick: 100,000
# records, 3 repetitions, 1 round of 50 runs. Raw figures and a Markdown summary go to
# DIR (default bench/idemkey/results/full or .../quick); the summary is also printed.
#
# Environment: IDEMKEY (binary; default build-bench/bin/idemkey, built with scripts/build if
# missing), TMPDIR (where data and state files live).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=0
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((quick)); then
  mode=quick records=100000 reps=3 hf_rounds=1 hf_runs=50 hf_warmup=10 subset=5000 subset_reps=1
else
  mode=full records=1000000 reps=5 hf_rounds=3 hf_runs=200 hf_warmup=20 subset=20000 subset_reps=3
fi
dup_fraction=0.10
out=${out:-$here/results/$mode}

# --- tools -------------------------------------------------------------------------------------
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v jq >/dev/null || missing+=(jq)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v flock >/dev/null || missing+=(util-linux)
command -v awk >/dev/null || missing+=(mawk)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  echo "run.sh: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
IDEMKEY=${IDEMKEY:-$root/build-bench/bin/idemkey}
if [[ ! -x $IDEMKEY ]]; then
  echo "run.sh: building idemkey in $root/build-bench" >&2
  "$root/scripts/build" "$root/build-bench" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/idemkey-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/replay-*.json "$out"/replay-*.txt "$out"/filter.tsv "$out"/checks.txt "$out"/summary.md
failures=0
check() {  # check DESCRIPTION COMMAND...: record a correctness check
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)); fi
}

# --- machine -----------------------------------------------------------------------------------
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode: $mode"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "state dir filesystem: $(df -T "$work" | awk 'NR == 2 {print $2, $1}')"
  echo "idemkey: $IDEMKEY ($("$IDEMKEY" --version 2>&1 | head -1))"
  echo "source tree at run time: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), \
$(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null | wc -l) uncommitted file(s) outside bench/"
  echo "hyperfine: $(hyperfine --version)"
  echo "jq: $(jq --version)"
  echo "awk: $(readlink -f "$(command -v awk)")"
  echo "sort: $(sort --version | head -1)"
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
for round in $(seq "$hf_rounds"); do
  echo "run.sh: replay round $round/$hf_rounds (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  hyperfine -N --style basic --warmup "$hf_warmup" --runs "$hf_runs" \
    --export-json "$out/replay-$round.json" \
    -n true "true" \
    -n "flock -n LOCKFILE true" "flock -n $lock true" \
    -n "idemkey run (replay)" "$IDEMKEY --db $db run --key k -- true" \
    >"$out/replay-$round.txt" 2>&1
done
check "the key still holds attempt 1 after every replay" \
  bash -c "'$IDEMKEY' --db '$db' show --key k | grep -q '\"attempt\":1,'"

# --- (b) filter throughput ---------------------------------------------------------------------
events=$work/events.jsonl
python3 "$here/gen_events.py" --count "$records" --duplicates "$dup_fraction" --output "$events"
distinct=$((records - $(python3 -c "print(round($records * $dup_fraction))")))
echo "events: $(wc -c <"$events") bytes" >>"$out/machine.txt"
printf 'label\trepetition\trecords\twall_s\tuser_s\tsys_s\tmax_rss_kb\texit\n' >"$out/filter.tsv"

# measure LABEL REP RECORDS OUTFILE COMMAND...: wall time (bash's clock around the run),
# CPU time and peak RSS (GNU time; for `sh -c` pipelines, CPU is summed over the pipeline and
# the RSS is that of its largest process).
measure() {
  local label=$1 rep=$2 count=$3 output=$4 start end status=0
  shift 4
  start=$EPOCHREALTIME
  /usr/bin/time -f '%U\t%S\t%M' -o "$work/rss" "$@" >"$output" 2>"$work/stderr" || status=$?
  end=$EPOCHREALTIME
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rep" "$count" \
    "$(python3 -c "print(f'{$end - $start:.4f}')")" "$(tail -1 "$work/rss")" "$status" \
    >>"$out/filter.tsv"
  if ((status != 0)); then
    echo "FAIL $label (repetition $rep) exited $status: $(tail -3 "$work/stderr")" >>"$out/checks.txt"
    failures=$((failures + 1))
  fi
}

lines_are() { [[ $(wc -l <"$1") -eq $2 ]]; }
awk '!seen[$0]++' "$events" | LC_ALL=C sort >"$work/expected.sorted"
for rep in $(seq "$reps"); do
  echo "run.sh: filter repetition $rep/$reps (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  state=$work/fresh-$rep.db
  rm -f "$state" "$state".*
  measure "cat > /dev/null" "$rep" "$records" /dev/null cat "$events"
  measure "wc -l" "$rep" "$records" /dev/null wc -l "$events"
  measure "idemkey filter (fresh state)" "$rep" "$records" "$work/out.idemkey" \
    "$IDEMKEY" --db "$state" filter --key-field event_id "$events"
  measure "idemkey filter (state holds every key)" "$rep" "$records" "$work/out.rerun" \
    "$IDEMKEY" --db "$state" filter --key-field event_id "$events"
  measure "awk '!seen[\$0]++'" "$rep" "$records" "$work/out.awk" awk '!seen[$0]++' "$events"
  measure "jq -c . | sort -u" "$rep" "$records" "$work/out.jqsort" \
    sh -c 'jq -c . "$1" | LC_ALL=C sort -u' sh "$events"
  measure "jq -sc 'unique_by(.event_id)[]'" "$rep" "$records" "$work/out.jqunique" \
    jq -sc 'unique_by(.event_id)[]' "$events"
  check "rep $rep: idemkey output = awk output (same lines, same order)" \
    cmp -s "$work/out.idemkey" "$work/out.awk"
  check "rep $rep: idemkey passed $distinct of $records records" lines_are "$work/out.idemkey" "$distinct"
  check "rep $rep: rerun on the same state passes nothing" lines_are "$work/out.rerun" 0
  check "rep $rep: jq -c . | sort -u gives the same set of lines" \
    cmp -s "$work/out.jqsort" "$work/expected.sorted"
  LC_ALL=C sort "$work/out.jqunique" >"$work/out.jqunique.sorted"
  check "rep $rep: jq unique_by gives the same set of lines" \
    cmp -s "$work/out.jqunique.sorted" "$work/expected.sorted"
  rm -f "$state" "$state".*
done

# jq's order-preserving streaming dedupe copies its state object for every record (quadratic
# time: ~8 s for 20,000 records, ~200 s for 100,000 here), so it runs on a prefix only, next to
# idemkey and awk on the same prefix.
head -n "$subset" "$events" >"$work/subset.jsonl"
jq_stream='foreach inputs as $r ({}; if .s[$r.event_id] then .e = null
  else .s[$r.event_id] = true | .e = $r end; .e // empty)'
for rep in $(seq "$subset_reps"); do
  echo "run.sh: subset repetition $rep/$subset_reps" >&2
  state=$work/subset-$rep.db
  rm -f "$state" "$state".*
  measure "idemkey filter (fresh state) [prefix]" "$rep" "$subset" "$work/sub.idemkey" \
    "$IDEMKEY" --db "$state" filter --key-field event_id "$work/subset.jsonl"
  measure "awk '!seen[\$0]++' [prefix]" "$rep" "$subset" "$work/sub.awk" \
    awk '!seen[$0]++' "$work/subset.jsonl"
  measure "jq -nc 'foreach inputs ...' [prefix]" "$rep" "$subset" "$work/sub.jq" \
    jq -nc "$jq_stream" "$work/subset.jsonl"
  check "prefix rep $rep: idemkey output = awk output" cmp -s "$work/sub.idemkey" "$work/sub.awk"
  check "prefix rep $rep: jq foreach output = awk output" cmp -s "$work/sub.jq" "$work/sub.awk"
  rm -f "$state" "$state".*
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 "$here/summarize.py" "$out" | tee "$out/summary.md"
if ((failures)); then
  echo "run.sh: $failures correctness check(s) failed, see $out/checks.txt" >&2
  exit 1
fi
