# bench/lib.sh: sourced by every bench/<tool>/run.sh. It holds the contract bench/run relies on,
# so that the harness never needs to know how a tool's benchmark works inside:
#
#   run.sh [--quick | --smoke] [--out DIR]
#     (default)  the full data set, several runs of every command;
#     --quick    small data, a few minutes;
#     --smoke    tiny data, one run of each command: the correctness checks are the point
#                (scripts/test runs this through `bench/run --quick --installed-peers-only`).
#   Before anything is timed, or with every timed run, the script checks that the tool and each
#   peer gave the same answer; a wrong answer exits 1 (or is recorded as wrong, see below).
#   Every timed run is one row of $bench_out/measurements.tsv, written by bench_record.
#   Peers are installed with bench_need, which installs nothing when SLUICE_BENCH_NO_INSTALL=1:
#   the peer is then skipped, and said so on stderr.
#
# The harness reads only measurements.tsv and the script's exit status.

bench_mode=full

# bench_parse_mode ARG: sets bench_mode for --quick/--smoke; returns 1 for any other argument.
bench_parse_mode() {
  case $1 in
    --quick) bench_mode=quick ;;
    --smoke) bench_mode=smoke ;;
    *) return 1 ;;
  esac
}

# bench_start_measurements DIR: sets bench_out and starts DIR/measurements.tsv afresh.
bench_start_measurements() {
  bench_out=$1
  mkdir -p "$bench_out"
  printf 'benchmark\trole\tname\trun\tseconds\tmaxrss_kib\texit\tverdict\tcommand\n' \
    >"$bench_out/measurements.tsv"
}

# bench_record BENCHMARK ROLE NAME RUN SECONDS MAXRSS_KIB EXIT VERDICT COMMAND
#   ROLE: tool | peer | floor (the physical floor: cat, wc -l, true).
#   SECONDS: the run's wall time (or, where the benchmark says so in BENCHMARK, the latency
#   measured). MAXRSS_KIB: peak resident set, empty when not measured.
#   VERDICT: ok (output checked and right) | wrong (checked and wrong: kept out of the ratios)
#   | unchecked (a floor, whose output is not an answer) | stopped (a peer stopped at the
#   script's time limit: reported, not a failure).
bench_record() {
  [[ -n ${bench_out:-} ]] || { echo "bench_record: bench_start_measurements was not called" >&2; return 1; }
  local field
  for field in "$@"; do
    [[ $field != *$'\t'* && $field != *$'\n'* ]] || { echo "bench_record: tab or newline in '$field'" >&2; return 1; }
  done
  (($# == 9)) || { echo "bench_record: 9 fields expected, got $#" >&2; return 1; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$bench_out/measurements.tsv"
}

# bench_record_hyperfine JSON BENCHMARK ROLE NAME COMMAND: one bench_record row per run of the
# command hyperfine named NAME in a `hyperfine --export-json` file (COMMAND is the command line
# it ran, as one string). Hyperfine measures no memory, so the peak RSS comes from one more run
# of COMMAND under GNU time. The verdict is ok for tool and peer rows (the scripts check their
# output before timing them) and unchecked for floors.
bench_record_hyperfine() {
  local json=$1 benchmark=$2 role=$3 name=$4 command=$5 rss="" run=0 seconds verdict=ok
  [[ $role == floor ]] && verdict=unchecked
  if /usr/bin/time -f '%M' -o "$bench_out/.rss" sh -c "exec $command" >/dev/null 2>&1; then
    rss=$(tail -1 "$bench_out/.rss")
  fi
  rm -f "$bench_out/.rss"
  while read -r seconds; do
    run=$((run + 1))
    bench_record "$benchmark" "$role" "$name" "$run" "$seconds" "$rss" 0 "$verdict" "$command"
  done < <(/usr/bin/python3 -c '
import json, sys
for result in json.load(open(sys.argv[1]))["results"]:
    if result["command"] == sys.argv[2]:
        for seconds in result["times"]:
            print(f"{seconds:.6f}")' "$json" "$name")
  ((run > 0)) || { echo "bench_record_hyperfine: no runs named '$name' in $json" >&2; return 1; }
}

# bench_need PACKAGE COMMAND...: 0 when COMMAND succeeds (the peer is there), else installs the
# Debian PACKAGE and tries again. Under SLUICE_BENCH_NO_INSTALL=1 it installs nothing and
# returns 1, after saying which peer is skipped.
bench_need() {
  local package=$1
  shift
  "$@" >/dev/null 2>&1 && return 0
  if [[ ${SLUICE_BENCH_NO_INSTALL:-0} == 1 ]]; then
    echo "run.sh: $package is not installed: its part of the benchmark is skipped" >&2
    return 1
  fi
  echo "run.sh: installing $package" >&2
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$package" >&2
  "$@" >/dev/null 2>&1
}
