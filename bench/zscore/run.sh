#!/usr/bin/env bash
# bench/zscore/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks `zscore` (anomaly detection on metric points, JSON Lines) on two generated files
# of the same size (gen_points.py: a daily cycle + noise + rare spikes per series, one point a
# minute per series, ~63-byte lines):
#   "1 series"     every point in one series (`zscore` without --key);
#   "1000 series"  1,000 series interleaved round-robin (`zscore --key series`);
# with, on each file:
#   zscore --window 30          the default method (zscore: mean and sample sd of the previous
#                               30 points of the series; the default window is 300, 30 here is
#                               the peer's rolling window), the whole output
#                               (every line with its expected/lower/upper/z/score/anomaly) to
#                               /dev/null, and again with --only-anomalies (into a file, whose
#                               flagged points are checked against pandas');
#   zscore --method robust --window 1000 (rolling median/MAD), the same two forms, if this
#                               zscore has it: when `zscore --method robust --window 1000`
#                               exits 2 (unknown method) it is skipped with a message;
#   pandas                      /usr/bin/python3 pandas_zscore.py FILE [--key series]: the same
#                               z-score (read_json(lines=True) in chunks of 1,000,000 lines,
#                               rolling(30) mean and std (ddof=1) shifted by one, per series
#                               with groupby for the 1000-series file, z = (value - mean) / sd),
#                               printing the points with |z| > 3 (Debian's python3-pandas,
#                               installed with apt-get if missing);
#   the floors                  `wc -l < FILE` and `cat FILE > /dev/null`.
#   (0) correctness first, on a sample of each file (its first 100,000 lines: 100,000 points
#       of the one series, or 100 points of each of the 1,000 series; the whole file with
#       --quick): zscore's z, mean ("expected") and sd ((upper - expected) / 3) must equal
#       pandas' within 1e-9 relative (z: relative to max(|z|, 1), see check_z.py), null on
#       the same points (the first 30 of every series), anomaly == (|z| > 3); pandas reads
#       the sample in chunks of 30,007 lines there, so that windows cross chunk boundaries;
#       and the points pandas flags must be those of `zscore --only-anomalies`. Any difference
#       stops the run before anything is timed;
#   (1) each command is timed (wall from $EPOCHREALTIME, user/sys CPU and peak RSS from
#       /usr/bin/time), from the page cache: 3 runs each for zscore and the floors; pandas gets
#       3 runs if its first took under 60 s, else that one run only; a run over 20 minutes is
#       stopped and reported as such. Every --only-anomalies run must print the same bytes as
#       the first, and pandas the same flagged points as zscore (a wrong answer is marked and
#       kept out of the ratios).
#
# Full: 10,000,000 points per file (about 630 MB each). --quick: 200,000 points per file.
# --smoke: 50,000 points per file, one run of each command (bench/lib.sh). Raw output goes to
# results/<UTC date>.txt (results/<date>-quick.txt with --quick; DIR/run.txt with --out DIR),
# the per-run timings to the .tsv beside it and to DIR/measurements.tsv (bench/lib.sh); the
# summary (summarize.py: points/s, ratios to pandas, peak RSS, the issue's targets) ends both
# the terminal output and the .txt. Without pandas (and SLUICE_BENCH_NO_INSTALL=1) the pandas
# comparison and runs are skipped: zscore's output is then only checked against itself.
#
# Environment: ZSCORE (binary; default build/bin/zscore, built with `cmake --build build -j1
# --target zscore` if missing; copied into the work dir at the start so that a rebuild during
# the run changes nothing), PYTHON (default /usr/bin/python3: `python3` on PATH may be a pyenv
# shim without Debian's packages), WORK (a directory for the data, kept afterwards, and whose
# points files are reused when they were made with the same arguments; bench/zscore/data/ is
# git-ignored for that; default: a fresh directory under $TMPDIR or /tmp, removed at the end).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

mode=$bench_mode runs=3
case $mode in
  full) n=10000000 ;;
  quick) n=200000 ;;
  smoke) n=50000 runs=1 ;;
esac
quick=0
[[ $mode == full ]] || quick=1  # quick and smoke: the whole file is the correctness sample
sample_lines=100000 sample_chunk=30007 slow_s=60 limit_s=1200
window=30 robust_window=1000
ZSCORE_SRC=${ZSCORE:-$root/build/bin/zscore}
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHONDONTWRITEBYTECODE=1
if [[ ! -x $ZSCORE_SRC ]]; then
  echo "run.sh: building zscore (one job)" >&2
  cmake --build "$root/build" -j1 --target zscore >&2
fi
pandas=1
bench_need python3-pandas "$PYTHON" -c 'import pandas' || pandas=0

bench_dated_results "$here/results"
bench_work_dir zscore-bench
exec > >(tee "$txt") 2>&1

say() { printf '%s\n' "$*"; }
# --- machine -------------------------------------------------------------------------------------
ZSCORE=$work/zscore
bench_log_head "bench/zscore/run.sh ($mode)" "$work" "$(bench_copy_binary "$ZSCORE_SRC" "$ZSCORE")"
if ((pandas)); then
  say "peer: $PYTHON ($("$PYTHON" --version 2>&1)), pandas $("$PYTHON" -c 'import pandas; print(pandas.__version__)'), \
numpy $("$PYTHON" -c 'import numpy; print(numpy.__version__)')"
else
  say "peer: pandas is not installed: skipped"
fi
say "floor: $(wc --version | head -1), $(cat --version | head -1); GNU time: /usr/bin/time"
say "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Is --method robust there? Exit 2 is a usage error (an unknown method): skip it.
robust=1
status=0
"$ZSCORE" --method robust --window "$robust_window" </dev/null >/dev/null 2>"$work/robust.err" || status=$?
if ((status != 0)); then
  robust=0
  say "zscore --method robust --window $robust_window: NOT AVAILABLE in this binary (exit $status: \
$(head -1 "$work/robust.err")); its rows are skipped"
  if ((status != 2)); then say "  (an exit other than 2 is unexpected: look at this binary)"; fi
else
  say "zscore --method robust --window $robust_window: available"
fi

# --- input -----------------------------------------------------------------------------------------
datasets=(1 1000)
file_of() { printf '%s/points-%s.jsonl' "$work" "$1"; }
key_of() { if [[ $1 == 1 ]]; then keyopt=() keys=""; else keyopt=(--key series) keys=" --key series"; fi; }
say ""; say "## input"
for k in "${datasets[@]}"; do
  points=$(file_of "$k")
  gen=("$PYTHON" "$here/gen_points.py" --count "$n" --series "$k" --seed 1 --out "$points")
  stamp="$(sha256sum <"$here/gen_points.py" | cut -c1-16) ${gen[*]:2}"
  if [[ -f $points && -f $points.stamp && $(cat "$points.stamp") == "$stamp" ]]; then
    say "(reusing $points, made by: ${gen[*]})"
    cat "$points.stats"
  else
    rm -f "$points.stamp"
    say "\$ ${gen[*]}" | sed "s|$here/|bench/zscore/|g"
    start=$EPOCHREALTIME
    "${gen[@]}" 2>"$points.stats"
    cat "$points.stats"
    say "  (generated in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s)"
    printf '%s\n' "$stamp" >"$points.stamp"
  fi
  say "points-$k.jsonl: $(wc -l <"$points") lines, $(wc -c <"$points") bytes, sha256 \
$(sha256sum <"$points" | cut -c1-16)"
  say "  first line: $(head -1 "$points")"
  say "  last line:  $(tail -1 "$points")"
done

# The commands, for the file of K series (key_of K sets keyopt first).
pandas_cmd=("$PYTHON" "$here/pandas_zscore.py")

# --- (0) correctness before timing -----------------------------------------------------------------
say ""
if ((quick)); then
  say "## (0) zscore and pandas on each whole file"
else
  say "## (0) zscore and pandas on the first $sample_lines lines of each file"
fi
for k in "${datasets[@]}"; do
  points=$(file_of "$k") sample=$work/sample-$k.jsonl
  key_of "$k"
  if ((quick)); then cp "$points" "$sample"; else head -n "$sample_lines" "$points" >"$sample"; fi
  say "### $k series ($(wc -l <"$sample") points)"
  say "\$ zscore$keys --window $window < sample > sample.zscore"
  "$ZSCORE" "${keyopt[@]}" --window "$window" <"$sample" >"$work/sample.zscore"
  if ((pandas)); then
    say "\$ pandas_zscore.py sample$keys --emit z --chunksize $sample_chunk > sample.pandas"
    "${pandas_cmd[@]}" "$sample" "${keyopt[@]}" --emit z --chunksize "$sample_chunk" >"$work/sample.pandas" \
      2>"$work/sample.err"
    sed 's/^/  /' "$work/sample.err"
    if ! "$PYTHON" "$here/check_z.py" compare "$work/sample.zscore" "$work/sample.pandas" >"$work/check.out"; then
      sed 's/^/  /' "$work/check.out"
      say "run.sh: pandas and zscore disagree on the $k-series sample; nothing timed"
      exit 1
    fi
    sed 's/^/  /' "$work/check.out"
  fi
  "$PYTHON" "$here/check_z.py" keys "${keyopt[@]}" <"$work/sample.zscore" >"$work/sample.keys"
  "$ZSCORE" "${keyopt[@]}" --window "$window" --only-anomalies <"$sample" | "$PYTHON" "$here/check_z.py" keys "${keyopt[@]}" \
    >"$work/sample.only"
  if ((pandas)); then
    "${pandas_cmd[@]}" "$sample" "${keyopt[@]}" >"$work/sample.flagged" 2>/dev/null
  else
    cp "$work/sample.keys" "$work/sample.flagged"  # no peer: zscore is checked against itself only
  fi
  if cmp -s "$work/sample.keys" "$work/sample.only" && cmp -s "$work/sample.keys" "$work/sample.flagged"; then
    say "  ok: the same $(wc -l <"$work/sample.keys") flagged points from pandas_zscore.py (its timed form), \
zscore --only-anomalies and zscore's full output"
  else
    say "  FAIL: the flagged points differ (zscore's full output, --only-anomalies, pandas: \
$(wc -l <"$work/sample.keys"), $(wc -l <"$work/sample.only"), $(wc -l <"$work/sample.flagged") lines)"
    diff "$work/sample.keys" "$work/sample.flagged" | head -10 | sed 's/^/    /'
    say "run.sh: pandas and zscore disagree on the $k-series sample; nothing timed"
    exit 1
  fi
  if ((robust)); then
    status=0
    "$ZSCORE" "${keyopt[@]}" --method robust --window "$robust_window" <"$sample" >"$work/sample.robust" \
      2>"$work/robust.err" || status=$?
    lines=$(wc -l <"$work/sample.robust")
    warming=$(grep -c '"reason":"warming_up"' "$work/sample.robust" || true)
    flagged=$(grep -c '"anomaly":true' "$work/sample.robust" || true)
    say "  robust (no peer; a sanity check only): exit $status, $lines lines of $(wc -l <"$sample"), \
$warming warming up, $flagged flagged"
    sed 's/^/    stderr: /' "$work/robust.err" | head -3
    if ((status != 0)) || [[ $lines -ne $(wc -l <"$sample") ]]; then
      say "run.sh: zscore --method robust failed on the $k-series sample; nothing timed"
      exit 1
    fi
  fi
done

# --- timing helpers --------------------------------------------------------------------------------
printf 'data\tname\trun\tpoints\tbytes\twall_s\tuser_s\tsys_s\tmaxrss_kib\tstatus\tcheck\n' >"$tsv"
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
  end=$EPOCHREALTIME
  if [[ -s $work/stderr.out ]]; then sed 's/^/  stderr: /' "$work/stderr.out" | head -5; fi
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}')
}
# record DATA NAME RUN CHECK: append the last run to the TSV and the log
record() {
  local times
  times=$(grep -P '^[0-9.]+\t[0-9.]+\t[0-9]+$' "$work/time.out" | tail -1 || true)
  [[ -n $times ]] || times=$'\t\t'
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$n" "$bytes" "$wall" "$times" "$status" \
    "$4" >>"$tsv"
  local role=tool verdict=wrong series="$1 series" command=${last_command:-}
  case $2 in "wc -l" | "cat > /dev/null") role=floor ;; pandas) role=peer ;; esac
  case $4 in
    ok*"not checked"* | -) verdict=unchecked ;;
    ok* | reference* | same*) verdict=ok ;;
    STOPPED*) verdict=stopped ;;
  esac
  command=${command//$work\//}
  [[ $1 != 1 ]] || series="one series"
  bench_record "zscore: $n points, $series" "$role" "$2" "$3" "$wall" "$(cut -f3 <<<"$times")" \
    "$status" "$verdict" "$command"
  say "  $2 run $3: ${wall} s wall, user/sys/maxrss_kib $(tr '\t' ' ' <<<"$times"), exit $status, $4 \
(load $(cut -d' ' -f1 /proc/loadavg))"
}
# zscore_runs DATA NAME FLAGS...: $runs runs of zscore FLAGS to /dev/null, then $runs with
# --only-anomalies into a file (each the same bytes as the first; the first's flagged points
# are kept in $work/flagged.ref when REF=1)
zscore_runs() {
  local data=$1 name=$2 run check flags
  shift 2
  flags=${*:+ $*}
  say "\$ zscore$flags < points-$data.jsonl > /dev/null"
  for run in $(seq "$runs"); do
    timed "$name" "$run" "$points" /dev/null "$ZSCORE" "$@"
    check="ok (exit 0; output to /dev/null, not checked)"
    ((status == 0)) || check="FAILED (exit $status)"
    record "$data" "$name" "$run" "$check"
  done
  say "\$ zscore$flags --only-anomalies < points-$data.jsonl > flagged.jsonl"
  for run in $(seq "$runs"); do
    timed "$name --only-anomalies" "$run" "$points" "$work/only.out" "$ZSCORE" "$@" --only-anomalies
    if ((status != 0)); then
      check="FAILED (exit $status)"
    elif ((run == 1)); then
      cp "$work/only.out" "$work/only.ref"
      check="reference ($(wc -l <"$work/only.ref") points flagged)"
    elif cmp -s "$work/only.out" "$work/only.ref"; then
      check="same as run 1"
    else
      check="DIFFERS from run 1"
    fi
    record "$data" "$name --only-anomalies" "$run" "$check"
  done
}

for k in "${datasets[@]}"; do
  points=$(file_of "$k")
  key_of "$k"
  bytes=$(wc -c <"$points")
  say ""; say "## (1) $k series: $n points, $bytes bytes"
  cat "$points" >/dev/null # into the page cache
  say "(the file was read once, untimed, so that every run reads it from the page cache)"

  say ""; say "### floors, $runs runs each"
  say "\$ wc -l < points-$k.jsonl"
  for run in $(seq "$runs"); do
    timed "wc -l" "$run" "$points" "$work/wc.out" wc -l
    check=$([[ $(cat "$work/wc.out") -eq $n ]] && echo "ok ($n lines)" || echo "WRONG: $(cat "$work/wc.out") lines")
    record "$k" "wc -l" "$run" "$check"
  done
  say "\$ cat points-$k.jsonl > /dev/null"
  for run in $(seq "$runs"); do
    timed "cat > /dev/null" "$run" /dev/null /dev/null cat "$points"
    record "$k" "cat > /dev/null" "$run" "-"
  done

  say ""; say "### zscore (the default method, --window $window as pandas' rolling window), $runs runs each form"
  zscore_runs "$k" "zscore" "${keyopt[@]}" --window "$window"
  "$PYTHON" "$here/check_z.py" keys "${keyopt[@]}" <"$work/only.ref" >"$work/flagged.ref"
  if ((robust)); then
    say ""; say "### zscore --method robust --window $robust_window, $runs runs each form"
    zscore_runs "$k" "robust" "${keyopt[@]}" --method robust --window "$robust_window"
  else
    say ""; say "### zscore --method robust --window $robust_window: skipped (not in this binary)"
  fi

  if ((!pandas)); then say ""; say "### pandas: not installed, skipped"; continue; fi
  say ""; say "### pandas: up to $runs runs (one if the first takes over $slow_s s; stopped after $limit_s s)"
  say "\$ /usr/bin/python3 bench/zscore/pandas_zscore.py points-$k.jsonl$keys > flagged.tsv" |
    sed "s|/usr/bin/python3|$PYTHON|"
  for run in $(seq "$runs"); do
    timed "pandas" "$run" /dev/null "$work/peer.out" "${pandas_cmd[@]}" "$points" "${keyopt[@]}"
    if ((status == 124)); then
      check="STOPPED after $limit_s s"
    elif ((status != 0)); then
      check="FAILED (exit $status)"
    elif cmp -s "$work/peer.out" "$work/flagged.ref"; then
      check="same flagged points as zscore ($(wc -l <"$work/peer.out"))"
    else
      check="WRONG: flags other points than zscore"
      diff "$work/flagged.ref" "$work/peer.out" | head -10 | sed 's/^/    /'
    fi
    record "$k" "pandas" "$run" "$check"
    [[ $check == same* ]] || break
    if awk -v w="$wall" -v s="$slow_s" 'BEGIN {exit !(w > s)}'; then
      if ((run < runs)); then say "  (pandas took over $slow_s s: one run only)"; fi
      break
    fi
  done
done

say ""; say "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""; say "## summary"
"$PYTHON" "$here/summarize.py" "$tsv" --window "$window" --robust-window "$robust_window"
