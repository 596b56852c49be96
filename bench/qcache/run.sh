#!/usr/bin/env bash
# bench/qcache/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks the hit latency of `qcache run` (hyperfine -N, no shell in between) for a command
# whose output is 2000 lines (about 9 KiB) and which takes about 20 ms to compute:
#   - qcache run --ttl 1h -- CMD (a fresh entry replayed from its SQLite state),
#   - the shell peer a script would write instead: sh -c '[ -f cache ] && cat cache',
#   - idemkey run --key K -- CMD replaying its saved result (the target: qcache <= idemkey),
#   - running CMD itself (what a hit saves).
# bkt is not packaged for Debian 12, so the shell peer stands in for it.
# Every command must print the same bytes before anything is timed.
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  3 hyperfine rounds of 200 runs;
#   --quick    1 round of 50 runs;
#   --smoke    one run of each command: only the checks matter.
# Every timed run is a row of DIR/measurements.tsv; the summary goes to DIR/summary.md and
# stdout (default DIR: bench/qcache/results/MODE). A failed check exits 1.
# Environment: QCACHE and IDEMKEY (binaries; default build-bench/bin/..., built with
# scripts/build if missing), TMPDIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) hf_rounds=3 hf_runs=200 hf_warmup=20 ;;
  quick) hf_rounds=1 hf_runs=50 hf_warmup=5 ;;
  smoke) hf_rounds=1 hf_runs=1 hf_warmup=0 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"

bench_need hyperfine hyperfine --version || true
QCACHE=${QCACHE:-$root/build-bench/bin/qcache}
IDEMKEY=${IDEMKEY:-$(dirname "$QCACHE")/idemkey}
if [[ ! -x $QCACHE || ! -x $IDEMKEY ]]; then
  echo "run.sh: building qcache and idemkey in $root/build-bench" >&2
  "$root/scripts/build" "$root/build-bench" >&2
fi
# The timed commands run in the work directory.
QCACHE=$(realpath "$QCACHE")
IDEMKEY=$(realpath "$IDEMKEY")

bench_work_dir qcache-bench
export SLUICE_STATE_DIR=$work/state
rm -f "$out/checks.txt" "$out"/latency-*.json "$out"/latency-*.txt "$out/summary.md"
failures=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)); fi
}

{
  bench_machine_lines
  echo "qcache: $QCACHE ($("$QCACHE" --version 2>&1 | head -1))"
  echo "idemkey: $IDEMKEY ($("$IDEMKEY" --version 2>&1 | head -1))"
  echo "state dir filesystem: $(df -T "$work" | awk 'NR == 2 {print $2, $1}')"
  echo "hyperfine: $(command -v hyperfine >/dev/null && hyperfine --version || echo 'not installed (timed by bash)')"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# The command to cache and the shell peer, as scripts: hyperfine -N runs commands without a shell.
printf '#!/bin/sh\nsleep 0.02\nseq 1 2000\n' >"$work/compute"
printf '#!/bin/sh\n[ -f cache ] && cat cache\n' >"$work/shell-cache"
chmod +x "$work/compute" "$work/shell-cache"
seq 1 2000 >"$work/expected"
cp "$work/expected" "$work/cache"
qdb=$work/qcache.db
idb=$work/idemkey.db
cd "$work"
# The first runs compute and store; every later one must replay the same bytes.
check "qcache run prints CMD's output" \
  bash -c "'$QCACHE' --db '$qdb' run --ttl 1h -- ./compute | cmp -s - expected"
check "qcache run replays it (a hit)" \
  bash -c "'$QCACHE' --db '$qdb' run --ttl 1h -- ./compute | cmp -s - expected &&
           '$QCACHE' --db '$qdb' stats | grep -q '\"hits\":1,'"
check "idemkey run prints and replays it" \
  bash -c "'$IDEMKEY' --db '$idb' run --key bench -- ./compute >/dev/null &&
           '$IDEMKEY' --db '$idb' run --key bench -- ./compute | cmp -s - expected"
check "the shell peer prints it" bash -c "./shell-cache | cmp -s - expected"

latency=(floor "true" "true"
  peer "sh: [ -f cache ] && cat cache" "./shell-cache"
  peer "CMD itself (sleep 0.02; seq 1 2000)" "./compute"
  peer "idemkey run --key K -- CMD (replay)" "$IDEMKEY --db $idb run --key bench -- ./compute"
  tool "qcache run --ttl 1h -- CMD (hit)" "$QCACHE --db $qdb run --ttl 1h -- ./compute")
for round in $(seq "$hf_rounds"); do
  echo "run.sh: latency round $round/$hf_rounds (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  bench_time_commands "$out/latency-$round.json" \
    "hit latency: a cached 2000-line output replayed (one process)" \
    "$hf_runs" "$hf_warmup" "${latency[@]}"
done
check "every timed qcache run was a hit (CMD ran once)" \
  bash -c "'$QCACHE' --db '$qdb' stats | grep -q '\"misses\":1,'"

{
  echo "## qcache: hit latency ($bench_mode mode)"
  echo
  echo "| command | median (ms) | min (ms) | runs |"
  echo "|---|---:|---:|---:|"
  python3 - "$out" <<'PY'
import glob, json, statistics, sys
runs = {}
for path in sorted(glob.glob(sys.argv[1] + "/latency-*.json")):
    for result in json.load(open(path))["results"]:
        runs.setdefault(result["command"], []).extend(result["times"])
for name, times in runs.items():
    print(f"| `{name}` | {statistics.median(times) * 1000:.2f} | {min(times) * 1000:.2f} | {len(times)} |")
PY
  echo
  cat "$out/checks.txt"
} | tee "$out/summary.md"
((failures == 0)) || { echo "run.sh: $failures check(s) failed" >&2; exit 1; }
