#!/usr/bin/env bash
# bench/emi-schedule/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks `emi-schedule calc` of a 360-month schedule (target: whole process under 5 ms)
# against the Python a user would write instead, in the same run:
#   (a) correctness first, so no speed is reported for a wrong result: emi-schedule calc and
#       calc_decimal.py (stdlib Python, decimal.Decimal at 40 digits, ROUND_HALF_UP) print
#       byte-identical JSONL for several loans, including the timed one, a date-clamping one, a
#       0% one and an exact half-cent tie; the issue's golden figures hold. Any failure stops
#       the run before timing;
#   (b) hyperfine -N (no shell in between) of `emi-schedule calc --principal 500000.00 --rate
#       8.5% --months 360 --disbursed 2026-01-15`, `python3 calc_decimal.py` with the same
#       arguments, `python3 -c pass` (the interpreter's start-up alone) and `true` (the floor);
#       when `python3` on PATH is another interpreter (pyenv, say), calc_decimal.py under it
#       too; the order rotates from one round to the next; each round waits for idle CPUs first;
#   (c) the Python schedule's compute time inside one process (timeit, no start-up), after
#       checking that it makes the same bytes (run-inprocess.txt only: measurements.tsv has no
#       in-process figure of emi-schedule to set it against).
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  3 hyperfine rounds of 200 runs (20 warmups), timeit best of 5 x 200;
#   --quick    1 round of 30 runs (5 warmups), timeit best of 5 x 20;
#   --smoke    one run of each command, no waiting for idle CPUs, timeit 1 x 1: only the checks
#              matter.
# Every timed run is a row of DIR/measurements.tsv. Raw figures and a Markdown summary go to DIR
# (default bench/emi-schedule/results/MODE) as run-*, so they sit beside portfolio.sh's files
# without touching them; the summary (run-summary.md) is also printed. A failed check exits 1.
#
# hyperfine is installed with bench_need; under SLUICE_BENCH_NO_INSTALL=1, without it, bash
# times the commands. Python 3 is needed (the peer, the checks, bench/lib.sh).
# Environment: EMI_SCHEDULE (binary; default build-bench-emi/bin/emi-schedule, built with
# scripts/build if missing), PYTHON (the peer's interpreter; default /usr/bin/python3, the distribution's, which
# this script installs if missing), SLUICE_BENCH_NO_INSTALL. The other interpreter is the
# executable behind `python3` on PATH (sys.executable), so a pyenv shim script is never what is
# timed.

# shellcheck disable=SC2016 # the bash -c programs are single-quoted on purpose
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) hf_rounds=3 hf_runs=200 hf_warmup=20 idle_wait=20 timeit_number=200 timeit_repeat=5 ;;
  quick) hf_rounds=1 hf_runs=30 hf_warmup=5 idle_wait=5 timeit_number=20 timeit_repeat=5 ;;
  smoke) hf_rounds=1 hf_runs=1 hf_warmup=0 idle_wait=0 timeit_number=1 timeit_repeat=1 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
loan=(--principal 500000.00 --rate 8.5% --months 360 --currency INR --disbursed 2026-01-15)

# --- tools -------------------------------------------------------------------------------------
if bench_need hyperfine hyperfine --version; then have_hyperfine=1; else have_hyperfine=0; fi
bench_need python3 test -x /usr/bin/python3 || {
  echo "run.sh: /usr/bin/python3 is needed (the peer, the checks, bench/lib.sh)" >&2
  exit 1
}
PYTHON=${PYTHON:-/usr/bin/python3}
PATH_PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$PYTHON")
[[ $(readlink -f "$PATH_PYTHON") == "$(readlink -f "$PYTHON")" ]] && PATH_PYTHON=""
PEER=$here/calc_decimal.py
EMI=${EMI_SCHEDULE:-$root/build-bench-emi/bin/emi-schedule}
if [[ ! -x $EMI ]]; then
  echo "run.sh: building emi-schedule in $root/build-bench-emi" >&2
  "$root/scripts/build" "$root/build-bench-emi" >&2
fi
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ beside calc_decimal.py

work=$(mktemp -d "${TMPDIR:-/tmp}/emi-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -f "$out"/run-*
failures=0
check() {  # check DESCRIPTION COMMAND...: record a correctness check
  if "${@:2}"; then echo "ok   $1" >>"$out/run-checks.txt"; else
    echo "FAIL $1" >>"$out/run-checks.txt"; failures=$((failures + 1)); fi
}

# --- machine -----------------------------------------------------------------------------------
{
  bench_machine_lines
  echo "emi-schedule: $EMI ($("$EMI" --version 2>&1 | head -1)), binary built \
$(date -u -r "$EMI" +%Y-%m-%dT%H:%M:%SZ)"
  cache=$(dirname "$(dirname "$EMI")")/CMakeCache.txt
  if [[ -f $cache ]]; then
    echo "built from source dir: $(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache"), \
build type $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$cache")"
  fi
  echo "source tree at run time: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), \
$(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null | wc -l) uncommitted file(s) outside bench/ \
($(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null | awk '{print $2}' | paste -sd' ' -))"
  echo "last commit touching tools/ or libcore/ before the binary was built: \
$(git -C "$root" log -1 --format=%h --until="$(date -u -r "$EMI" +%Y-%m-%dT%H:%M:%SZ)" -- tools libcore)"
  echo "hyperfine: $( ((have_hyperfine)) && hyperfine --version || echo 'not installed (timed by bash)')"
  echo "python (the peer): $PYTHON ($("$PYTHON" --version 2>&1))"
  echo "python3 on PATH: $(command -v python3 || echo none)${PATH_PYTHON:+, runs $PATH_PYTHON \
($("$PATH_PYTHON" --version 2>&1)), also timed}"
  echo "true: $(type -P true) (looked up through PATH by hyperfine)"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/run-machine.txt"
cat "$out/run-machine.txt" >&2

# --- (a) correctness, before anything is timed -------------------------------------------------
# same_output NAME PRINCIPAL RATE MONTHS DISBURSED: both print the same bytes (kept in $work/NAME.*)
same_output() {
  local name=$1 args=(--principal "$2" --rate "$3" --months "$4" --disbursed "$5" --currency INR)
  "$EMI" calc "${args[@]}" >"$work/$name.emi" 2>>"$work/stderr" || return 1
  "$PYTHON" "$PEER" "${args[@]}" >"$work/$name.py" 2>>"$work/stderr" || return 1
  cmp -s "$work/$name.emi" "$work/$name.py" || {
    echo "  first difference: $(diff "$work/$name.emi" "$work/$name.py" | head -3 | paste -sd' ' -)" \
      >>"$out/run-checks.txt"
    return 1
  }
}
rows_are() { [[ $(wc -l <"$1") -eq $2 ]]; }
check "calc 500000.00 8.5% 360 (the timed loan): emi-schedule = calc_decimal.py, byte for byte" \
  same_output timed 500000.00 8.5% 360 2026-01-15
check "... 360 rows" rows_are "$work/timed.emi" 360
check "... the same bytes with the timed command's exact argv" \
  bash -c '"$1" calc "${@:3}" | cmp -s - "$2"' _ "$EMI" "$work/timed.emi" "${loan[@]}"
cp "$work/timed.emi" "$out/run-schedule-360.jsonl"
check "calc 100000.00 10% 12: emi-schedule = calc_decimal.py" same_output a 100000.00 10% 12 2026-01-15
check "calc 120000.00 0% 12: emi-schedule = calc_decimal.py" same_output b 120000.00 0% 12 2026-01-15
check "calc 2500000.00 7.25% 240: emi-schedule = calc_decimal.py" \
  same_output c 2500000.00 7.25% 240 2026-01-15
check "calc 100000.00 10% 12 disbursed 2024-01-31 (first due 2024-02-29, the 29th after): same" \
  same_output d 100000.00 10% 12 2024-01-31
check "calc 500000.00 850bp 240 disbursed 2027-12-31: same" same_output e 500000.00 850bp 240 2027-12-31
check "calc 100002.07 13% 12 (month 5: 68094.00 x 13%/12 = 737.685 exactly, a half-cent tie): same" \
  same_output tie 100002.07 13% 12 2026-01-15
"$PYTHON" "$PEER" --naive-interest --principal 100002.07 --rate 13% --months 12 \
  --disbursed 2026-01-15 --currency INR >"$work/tie.naive"
check "... and interest = opening x r with r as a 40-digit Decimal (--naive-interest) differs" \
  bash -c '! cmp -s "$1" "$2"' _ "$work/tie.emi" "$work/tie.naive"
golden() {  # the issue's figures, read from emi-schedule's output; problems go to run-checks.txt
  "$PYTHON" - "$work/a.emi" "$work/b.emi" "$work/timed.emi" >>"$out/run-checks.txt" <<'EOF'
import json, sys
from decimal import Decimal
a, b, t = ([json.loads(line) for line in open(path)] for path in sys.argv[1:4])
problems = []
def expect(what, got, want):
    if got != want:
        problems.append(f"{what}: {got}, expected {want}")
expect("100000 10% 12: EMI", a[0]["payment"], "8791.59")
expect("... first interest", a[0]["interest"], "833.33")
expect("... last payment", a[-1]["payment"], "8791.56")
expect("... total interest", str(sum(Decimal(r["interest"]) for r in a)), "5499.05")
expect("120000 0% 12: payments", {r["payment"] for r in b}, {"10000.00"})
expect("360 months: last closing", t[-1]["closing"], "0.00")
expect("... principal repaid", str(sum(Decimal(r["principal"]) for r in t)), "500000.00")
expect("... first due, last due", (t[0]["due_date"], t[-1]["due_date"]), ("2026-02-15", "2056-01-15"))
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
}
check "golden: 100000 10% 12 EMI 8791.59, interest 833.33, last 8791.56, total interest 5499.05; \
120000 0% 12 pays 10000.00 each; 360 months repays 500000.00 and ends at 0.00" \
  golden
if [[ -n $PATH_PYTHON ]]; then
  check "calc 500000.00 8.5% 360 under $PATH_PYTHON (python3 on PATH): the same bytes" \
    bash -c '"$1" "$2" "${@:4}" | cmp -s - "$3"' _ "$PATH_PYTHON" "$PEER" "$work/timed.emi" "${loan[@]}"
fi
check "$PYTHON -c pass exits 0 and prints nothing" \
  bash -c 'printed=$("$1" -c pass) && [[ -z $printed ]]' _ "$PYTHON"
if ((failures)); then
  cat "$out/run-checks.txt" >&2
  sed 's/^/  stderr: /' "$work/stderr" >&2 || true
  echo "run.sh: $failures correctness check(s) failed before timing; nothing timed" >&2
  exit 1
fi

# --- (b) whole-process time --------------------------------------------------------------------
# Other work on this 2-core machine moves millisecond timings a lot: each round waits up to
# $idle_wait s for quiet CPUs, and run-rounds.tsv records how busy they were (bench_time_rounds).
timed=(floor "true" "true"
  tool "emi-schedule calc (360)" "$EMI calc ${loan[*]}"
  peer "python3 calc_decimal.py (360)" "$PYTHON $PEER ${loan[*]}"
  peer "python3 -c pass" "$PYTHON -c pass")
if [[ -n $PATH_PYTHON ]]; then
  timed+=(peer "PATH python3 calc_decimal.py (360)" "$PATH_PYTHON $PEER ${loan[*]}")
fi
bench_time_rounds "$hf_rounds" "$idle_wait" "$out/run-rounds.tsv" "$out/run" \
  "emi-schedule calc: 360-month schedule (one process)" "$hf_runs" "$hf_warmup" "${timed[@]}"

# --- (c) the Python schedule without start-up --------------------------------------------------
# inprocess: checks that the schedule timed in-process makes emi-schedule's bytes, then times it
# (timeit: best of $timeit_repeat x $timeit_number) into run-inprocess.txt. It is not a row of
# measurements.tsv: bench/run compares each benchmark's peers with its tool, and the tool has
# no in-process counterpart.
inprocess() {
  "$PYTHON" - "$here" "$timeit_number" "$timeit_repeat" "$out/run-schedule-360.jsonl" \
    >"$out/run-inprocess.txt" 2>>"$work/stderr" <<'EOF'
import datetime, decimal, json, sys, timeit
sys.path.insert(0, sys.argv[1])
import calc_decimal as c
number, repeat = int(sys.argv[2]), int(sys.argv[3])
decimal.getcontext().prec = 40
dumps = json.JSONEncoder(separators=(",", ":")).encode
args = (decimal.Decimal("500000.00"), c.parse_rate_percent("8.5%"), 360, datetime.date(2026, 2, 15))
def run():  # the schedule and its JSON text, as main() makes them, without writing
    return "".join(dumps(row) + "\n" for row in c.schedule(*args))
with open(sys.argv[4]) as handle:
    if run() != handle.read():
        sys.exit("python in-process: the schedule's text differs from emi-schedule's")
times = timeit.repeat(run, number=number, repeat=repeat)
print(f"python in-process, schedule + JSON text of 500000.00 8.5% 360 (best of {repeat} x "
      f"{number}): {min(times) / number * 1000:.3f} ms per schedule")
EOF
}
check "python in-process: the schedule + JSON text (what is timed) = emi-schedule's bytes" inprocess
check "the timed schedule is unchanged after the timed runs" \
  bash -c '"$1" calc "${@:3}" | cmp -s - "$2"' _ "$EMI" "$out/run-schedule-360.jsonl" "${loan[@]}"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/run-machine.txt"

"$PYTHON" "$here/summarize.py" "$out" | tee "$out/run-summary.md"
if ((failures)); then
  echo "run.sh: $failures correctness check(s) failed, see $out/run-checks.txt" >&2
  exit 1
fi
