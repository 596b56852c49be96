#!/usr/bin/env bash
# bench/lock/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks lock against flock(1), the peer a cron script would pick instead:
#   (a) uncontended latency (hyperfine -N, no shell in between): `lock run NAME -- true` with
#       its lease in an SQLite file, `lock --local run NAME -- true` and
#       `lock run --flock FILE -- true` (kernel locks), next to `flock -n FILE true` and `true`;
#   (b) contention: P processes (1, 8 and, in full mode, 32) each running N read-increment-write
#       steps of one counter file under the lock; wall time and steps/s for the SQLite lease,
#       the kernel lock and flock(1). Every run's counter must equal P x N (no lost update).
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  3 hyperfine rounds of 200 runs; contention 1, 8, 32 processes x 100 steps;
#   --quick    1 round of 50 runs; 1 and 8 processes x 25 steps;
#   --smoke    one run of each command; 1 and 8 processes x 3 steps: only the checks matter.
# Every timed run is a row of DIR/measurements.tsv; the summary goes to DIR/summary.md and
# stdout (default DIR: bench/lock/results/MODE). A failed check exits 1.
# Environment: LOCK (binary; default build-bench/bin/lock, built with scripts/build if
# missing), TMPDIR, SLUICE_BENCH_NO_INSTALL.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) hf_rounds=3 hf_runs=200 hf_warmup=20 processes=(1 8 32) steps=100 ;;
  quick) hf_rounds=1 hf_runs=50 hf_warmup=5 processes=(1 8) steps=25 ;;
  smoke) hf_rounds=1 hf_runs=1 hf_warmup=0 processes=(1 8) steps=3 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"

if bench_need util-linux flock --version; then have_flock=1; else have_flock=0; fi
bench_need hyperfine hyperfine --version || true
LOCK=${LOCK:-$root/build-bench/bin/lock}
if [[ ! -x $LOCK ]]; then
  echo "run.sh: building lock in $root/build-bench" >&2
  "$root/scripts/build" "$root/build-bench" >&2
fi

bench_work_dir lock-bench
export SLUICE_STATE_DIR=$work/state
rm -f "$out/checks.txt" "$out"/latency-*.json "$out"/latency-*.txt "$out/summary.md"
failures=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)); fi
}

{
  bench_machine_lines
  echo "lock: $LOCK ($("$LOCK" --version 2>&1 | head -1))"
  echo "state dir filesystem: $(df -T "$work" | awk 'NR == 2 {print $2, $1}')"
  echo "hyperfine: $(command -v hyperfine >/dev/null && hyperfine --version || echo 'not installed (timed by bash)')"
  echo "flock: $( ((have_flock)) && flock --version | head -1 || echo 'not installed (skipped)')"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# --- (a) uncontended latency -------------------------------------------------------------------
db=$work/lease.db
file=$work/flock.lock
: >"$file"
check "lock run gives CMD its token" \
  bash -c "[[ \$('$LOCK' --db '$db' run bench -- sh -c 'echo \$LOCK_TOKEN_BENCH') == 1 ]]"
check "lock --local run exits with CMD's status" \
  bash -c "'$LOCK' --local run bench -- sh -c 'exit 3'; [[ \$? == 3 ]]"
latency=(floor "true" "true")
if ((have_flock)); then
  check "flock -n FILE true exits 0" flock -n "$file" true
  latency+=(peer "flock -n FILE true" "flock -n $file true")
else
  echo "skip flock -n FILE true (flock is not installed)" >>"$out/checks.txt"
fi
latency+=(tool "lock --local run NAME -- true" "$LOCK --local run bench -n -- true"
  tool "lock run --flock FILE -- true" "$LOCK run --flock $file -n -- true"
  tool "lock run NAME -- true (SQLite lease)" "$LOCK --db $db run bench -n -- true")
for round in $(seq "$hf_rounds"); do
  echo "run.sh: latency round $round/$hf_rounds (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  bench_time_commands "$out/latency-$round.json" \
    "uncontended latency: running true under one lock (one process)" \
    "$hf_runs" "$hf_warmup" "${latency[@]}"
done
check "the lease is free after the timed runs" \
  bash -c "'$LOCK' --db '$db' status bench | grep -q '\"state\":\"free\"'"
check "each timed lease run got a token of its own" \
  bash -c "(( \$('$LOCK' --db '$db' status bench | sed 's/.*\"last_token\":\\([0-9]*\\).*/\\1/') \
>= 1 + $hf_rounds * ($hf_runs + $hf_warmup) ))"

# --- (b) contention ----------------------------------------------------------------------------
increment='v=$(cat counter); echo $((v + 1)) > counter'
contend() {  # contend LABEL ROLE PROCESSES COMMAND-PREFIX: PROCESSES loops of $steps steps
  local label=$1 role=$2 count=$3 prefix=$4 start end seconds worker total
  echo 0 >"$work/counter"
  start=$EPOCHREALTIME
  for ((worker = 0; worker < count; worker++)); do
    (cd "$work" && for ((i = 0; i < steps; i++)); do
      $prefix sh -c "$increment" || exit 1
    done) &
  done
  wait
  end=$EPOCHREALTIME
  seconds=$(bench_elapsed "$start" "$end")
  total=$((count * steps))
  local verdict=ok
  if [[ $(<"$work/counter") != "$total" ]]; then verdict=wrong; fi
  check "$label, $count processes: counter $(<"$work/counter") = $total" [ "$verdict" = ok ]
  bench_record "contention: $count process(es) x $steps read-increment-write steps of one file" \
    "$role" "$label" 1 "$seconds" "" 0 "$verdict" "$prefix sh -c '$increment'"
  printf '%s\t%s\t%s\t%s\n' "$label" "$count" "$seconds" \
    "$(python3 -c "print(round($total / $seconds))")" >>"$out/contention.tsv"
}
printf 'label\tprocesses\tseconds\tsteps_per_s\n' >"$out/contention.tsv"
for count in "${processes[@]}"; do
  echo "run.sh: contention, $count process(es) (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  contend "lock run (SQLite lease)" tool "$count" "$LOCK --db $work/contend.db run c --wait 10m --"
  contend "lock --local run" tool "$count" "$LOCK --local run c --wait 10m --"
  if ((have_flock)); then contend "flock FILE" peer "$count" "flock $work/contend.lock"; fi
done
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 - "$out" <<'PY' | tee "$out/summary.md"
import glob, json, statistics, sys
out = sys.argv[1]
runs = {}
for path in sorted(glob.glob(f"{out}/latency-*.json")):
    for result in json.load(open(path))["results"]:
        runs.setdefault(result["command"], []).extend(result["times"])
print("| uncontended: running `true` under one lock | median ms | runs |")
print("|---|---:|---:|")
for name, times in runs.items():
    print(f"| {name} | {statistics.median(times) * 1000:.2f} | {len(times)} |")
print()
print("| contention: read-increment-write of one file | processes | seconds | steps/s |")
print("|---|---:|---:|---:|")
for line in list(open(f"{out}/contention.tsv"))[1:]:
    label, count, seconds, rate = line.rstrip("\n").split("\t")
    print(f"| {label} | {count} | {float(seconds):.2f} | {rate} |")
PY
if ((failures)); then
  echo "run.sh: $failures correctness check(s) failed, see $out/checks.txt" >&2
  exit 1
fi
