#!/usr/bin/env bash
# bench/backoff/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks backoff against the tools a user would pick instead, in the same run:
#   (a) wrapper overhead: `backoff -- true` next to `true` itself, Debian's `retry -t 1 true`
#       and coreutils `timeout 10 true` (hyperfine -N, no shell in between; the order of the
#       commands rotates from one round to the next; each round waits for idle CPUs first);
#   (b) the contention simulation `backoff simulate --clients 100 --runs 100 --strategy all
#       --seed 1`: its run time (hyperfine) and its output (mean calls and completion time per
#       strategy), kept as simulate.jsonl, and the same with seeds 2-5 (simulate-seed-N.jsonl);
#   (c) correctness checks first, so no speed is reported for a wrong result: exit statuses,
#       the number of attempts (counted in a --report file), the simulation's five strategies,
#       and that each peer runs `true` exactly once.
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  3 hyperfine rounds of 200 runs (20 warmups), simulate timed over 10 runs;
#   --quick    1 round of 50 runs, simulate timed over 3 runs;
#   --smoke    one run of each command, no waiting for idle CPUs: only the checks matter.
# Every timed run is a row of DIR/measurements.tsv; the raw figures and a Markdown summary go to
# DIR too (default bench/backoff/results/MODE); the summary is also printed. A failed check
# exits 1.
#
# Peers (retry, hyperfine) are installed with bench_need; under SLUICE_BENCH_NO_INSTALL=1 a
# missing one is skipped (without hyperfine, bash times the commands).
# Environment: BACKOFF (binary; default build-bench-backoff/bin/backoff, built with
# scripts/build if missing), TMPDIR (where the report files live), SLUICE_BENCH_NO_INSTALL.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) hf_rounds=3 hf_runs=200 hf_warmup=20 sim_runs=10 sim_warmup=2 idle_wait=120 ;;
  quick) hf_rounds=1 hf_runs=50 hf_warmup=10 sim_runs=3 sim_warmup=1 idle_wait=5 ;;
  smoke) hf_rounds=1 hf_runs=1 hf_warmup=0 sim_runs=1 sim_warmup=0 idle_wait=0 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
sim_args=(simulate --clients 100 --runs 100 --strategy all --seed 1)

# --- tools -------------------------------------------------------------------------------------
bench_need python3 command -v python3 || { echo "run.sh: python3 is needed (checks, summary)" >&2; exit 1; }
if bench_need hyperfine hyperfine --version; then have_hyperfine=1; else have_hyperfine=0; fi
if bench_need retry test -x /usr/bin/retry; then have_retry=1; else have_retry=0; fi
if bench_need coreutils command -v timeout; then have_timeout=1; else have_timeout=0; fi
RETRY=/usr/bin/retry  # Debian's retry (1.0.x); not some other tool of that name earlier in PATH
TIMEOUT=$(command -v timeout || echo timeout)
BACKOFF=${BACKOFF:-$root/build-bench-backoff/bin/backoff}
if [[ ! -x $BACKOFF ]]; then
  echo "run.sh: building backoff in $root/build-bench-backoff" >&2
  "$root/scripts/build" "$root/build-bench-backoff" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/backoff-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out"/overhead-*.json "$out"/overhead-*.txt "$out"/simulate* "$out"/checks.txt \
  "$out"/rounds.tsv "$out"/summary.md
failures=0
check() {  # check DESCRIPTION COMMAND...: record a correctness check
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)); fi
}
skipped() { echo "skip $1 ($2 is not installed)" >>"$out/checks.txt"; }

# --- machine -----------------------------------------------------------------------------------
{
  bench_machine_lines
  echo "backoff: $BACKOFF ($("$BACKOFF" --version 2>&1 | head -1)), binary built \
$(date -u -r "$BACKOFF" +%Y-%m-%dT%H:%M:%SZ)"
  cache=$(dirname "$(dirname "$BACKOFF")")/CMakeCache.txt
  [[ -f $cache ]] && echo "built from source dir: $(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")"
  echo "source tree at run time: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), \
$(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null | wc -l) uncommitted file(s) outside bench/"
  echo "hyperfine: $( ((have_hyperfine)) && hyperfine --version || echo 'not installed (timed by bash)')"
  if ((have_retry)); then
    echo "retry: $RETRY ($("$RETRY" --version 2>&1 | head -1), Debian package \
$(dpkg-query -W -f='${Version}' retry 2>/dev/null || echo '?'))"
  else
    echo "retry: not installed (skipped)"
  fi
  echo "timeout: $( ((have_timeout)) && echo "$TIMEOUT ($("$TIMEOUT" --version | head -1))" || echo 'not installed (skipped)')"
  echo "true: $(type -P true) (looked up through PATH by hyperfine and by every wrapper)"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# --- (c) correctness, before anything is timed -------------------------------------------------
status_is() {  # status_is EXPECTED COMMAND...: the command exits with EXPECTED
  local status=0
  "${@:2}" >/dev/null 2>>"$work/stderr" || status=$?
  [[ $status -eq $1 ]] || { echo "  exit status $status, expected $1: ${*:2}" >>"$out/checks.txt"; return 1; }
}
count_is() {  # count_is EXPECTED FILE PATTERN: FILE has EXPECTED lines matching PATTERN
  local n
  n=$(grep -c -- "$3" "$2" || true)
  [[ $n -eq $1 ]] || { echo "  $n lines of $2 match $3, expected $1" >>"$out/checks.txt"; return 1; }
}
# A command that appends a line to a file each time it runs, then exits with $2.
counting() { printf '#!/bin/sh\necho run >>%s\nexit %s\n' "$work/$1.count" "$2" >"$work/$1"
  chmod +x "$work/$1"; : >"$work/$1.count"; }

check "backoff -- true exits 0" status_is 0 "$BACKOFF" -- true
check "backoff --attempts 3 --base 0 -- false exits 1" \
  status_is 1 "$BACKOFF" --attempts 3 --base 0 --report "$work/false.jsonl" -- false
check "... after exactly 3 attempts (attempt_start events in --report)" \
  count_is 3 "$work/false.jsonl" '"event":"attempt_start"'
check "... and its summary event says attempts 3, exit status 1" \
  count_is 1 "$work/false.jsonl" '"event":"summary".*"exit_status":1,"attempts":3,'
check "backoff run --attempts 3 --base 0 -- false (explicit subcommand) exits 1" \
  status_is 1 "$BACKOFF" run --attempts 3 --base 0 --report "$work/run-false.jsonl" -- false
check "... after exactly 3 attempts" count_is 3 "$work/run-false.jsonl" '"event":"attempt_start"'
check "backoff run -- true exits 0" status_is 0 "$BACKOFF" run -- true
counting once 0
check "backoff -- CMD runs a succeeding CMD once" status_is 0 "$BACKOFF" -- "$work/once"
check "... (one run counted)" count_is 1 "$work/once.count" run
if ((have_retry)); then
  counting retry-ok 0
  check "retry -t 1 CMD exits 0 for a succeeding CMD" status_is 0 "$RETRY" -t 1 "$work/retry-ok"
  check "... after one run" count_is 1 "$work/retry-ok.count" run
  counting retry-fail 1
  check "retry -t 1 CMD exits 1 for a failing CMD" status_is 1 "$RETRY" -t 1 -d 0 "$work/retry-fail"
  check "... and runs it once only (-t counts runs, not retries)" count_is 1 "$work/retry-fail.count" run
  check "retry -t 1 true exits 0" status_is 0 "$RETRY" -t 1 true
else
  skipped "retry -t 1: its checks and timings" retry
fi
if ((have_timeout)); then
  check "timeout 10 true exits 0" status_is 0 "$TIMEOUT" 10 true
else
  skipped "timeout 10 true" timeout
fi

"$BACKOFF" "${sim_args[@]}" >"$out/simulate.jsonl"
"$BACKOFF" "${sim_args[@]}" >"$work/simulate-again.jsonl"
check "simulate prints 5 lines" count_is 5 "$out/simulate.jsonl" '^{'
check "simulate: strategies none, expo, equal, full, decorrelated, in that order" \
  test "$(python3 -c 'import json, sys; print(",".join(json.loads(l)["strategy"] for l in open(sys.argv[1])))' \
    "$out/simulate.jsonl")" = "none,expo,equal,full,decorrelated"
check "simulate: every line has clients 100, runs 100 and positive means" python3 -c '
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
sys.exit(0 if rows and all(r["clients"] == 100 and r["runs"] == 100 and r["mean_calls"] >= 100
                           and r["mean_completion_ms"] > 0 for r in rows) else 1)' "$out/simulate.jsonl"
check "simulate --seed 1 gives the same output twice" cmp -s "$out/simulate.jsonl" "$work/simulate-again.jsonl"
# The same experiment under other seeds, to see whether the order of the strategies holds.
for seed in 2 3 4 5; do
  "$BACKOFF" simulate --clients 100 --runs 100 --strategy all --seed "$seed" >"$out/simulate-seed-$seed.jsonl"
  check "simulate --seed $seed prints 5 lines" count_is 5 "$out/simulate-seed-$seed.jsonl" '^{'
done
if ((failures)); then
  cat "$out/checks.txt" >&2
  echo "run.sh: $failures correctness check(s) failed before timing; nothing timed" >&2
  exit 1
fi

# --- (a) wrapper overhead ----------------------------------------------------------------------
# Other work on this 2-core machine moves millisecond timings a lot: each round waits up to
# $idle_wait s for quiet CPUs, and rounds.tsv records how busy they were (bench_time_rounds).
overhead=(floor "true" "true" tool "backoff -- true" "$BACKOFF -- true")
if ((have_retry)); then overhead+=(peer "retry -t 1 true" "$RETRY -t 1 true"); fi
if ((have_timeout)); then overhead+=(peer "timeout 10 true" "$TIMEOUT 10 true"); fi
bench_time_rounds "$hf_rounds" "$idle_wait" "$out/rounds.tsv" "$out/overhead" \
  "wrapper overhead: running true once (one process)" "$hf_runs" "$hf_warmup" "${overhead[@]}"

# --- (b) simulate ------------------------------------------------------------------------------
busy=$(bench_wait_quiet 10 "$idle_wait")
echo "run.sh: simulate (CPUs ${busy}% busy just before, loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
echo "simulate: CPUs ${busy}% busy just before" >>"$out/machine.txt"
bench_time_commands "$out/simulate-time.json" \
  "backoff simulate: 100 clients x 100 runs, 5 strategies (one process)" "$sim_runs" "$sim_warmup" \
  tool "backoff ${sim_args[*]}" "$BACKOFF ${sim_args[*]}"
"$BACKOFF" "${sim_args[@]}" >"$work/simulate-after.jsonl"
check "simulate output after the timed runs is unchanged" \
  cmp -s "$out/simulate.jsonl" "$work/simulate-after.jsonl"
check "backoff -- true still exits 0 after the timed runs" status_is 0 "$BACKOFF" -- true
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 "$here/summarize.py" "$out" | tee "$out/summary.md"
if ((failures)); then
  echo "run.sh: $failures correctness check(s) failed, see $out/checks.txt" >&2
  exit 1
fi
