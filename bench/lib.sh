# bench/lib.sh: sourced by every bench/<tool>/run.sh. It holds the contract bench/run relies on,
# so that the harness never needs to know how a tool's benchmark works inside:
#
#   run.sh [--quick | --smoke] [--out DIR]          (bench_parse_arguments)
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

# bench_parse_arguments "$@": the options every run.sh takes. Sets bench_mode (full, quick or
# smoke) and out (the --out DIR, or empty); -h/--help prints the script's header comment; any
# other argument is a usage error (exit 2).
bench_parse_arguments() {
  out=""
  while (($# > 0)); do
    case $1 in
      --quick) bench_mode=quick ;;
      --smoke) bench_mode=smoke ;;
      --out) out=${2:?--out needs a directory}; shift ;;
      -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
      *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
  done
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
  local json=$1 benchmark=$2 role=$3 name=$4 command=$5 rss="" run first seconds verdict=ok
  [[ $role == floor ]] && verdict=unchecked
  # Runs are numbered on from the rows an earlier round of the same command left.
  first=$(awk -F'\t' -v b="$benchmark" -v n="$name" '$1 == b && $3 == n {count++} END {print count + 0}' \
    "$bench_out/measurements.tsv")
  run=$first
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
  ((run > first)) || { echo "bench_record_hyperfine: no runs named '$name' in $json" >&2; return 1; }
}

# bench_need PACKAGE COMMAND...: 0 when COMMAND succeeds (the peer is there), else installs the
# Debian PACKAGE and tries again; an install that fails stops the run (exit 1). Under
# SLUICE_BENCH_NO_INSTALL=1 it installs nothing and returns 1, after saying which peer is
# skipped.
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
  if ! { "${sudo[@]}" apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$package" >&2 &&
    "$@" >/dev/null 2>&1; }; then
    echo "run.sh: could not install $package" >&2
    exit 1
  fi
}

# bench_elapsed START END: the seconds between two $EPOCHREALTIME readings, to the microsecond.
bench_elapsed() {
  local micros=$((10#${2//[.,]/} - 10#${1//[.,]/}))
  printf '%d.%06d\n' $((micros / 1000000)) $((micros % 1000000))
}
# bench_time_commands JSON BENCHMARK RUNS WARMUP ROLE NAME COMMAND [ROLE NAME COMMAND]...: times each
# COMMAND (one string, split at spaces and run without a shell, as `hyperfine -N` does) RUNS
# times after WARMUP untimed runs, writes the times to JSON in hyperfine's --export-json format
# (what hyperfine printed goes to the .txt file beside it) and records every run with
# bench_record_hyperfine. Without hyperfine (not installed, SLUICE_BENCH_NO_INSTALL=1) bash
# times the commands in turn: wall time from $EPOCHREALTIME around the fork and exec, user and
# system time (to the millisecond) from its `time`. A command that fails stops the run, as it
# stops hyperfine.
bench_time_commands() {
  local json=$1 benchmark=$2 runs=$3 warmup=$4 log=${1%.json}.txt i
  shift 4
  local roles=() names=() commands=() args=()
  while (($# >= 3)); do
    roles+=("$1") names+=("$2") commands+=("$3") args+=(-n "$2" "$3")
    shift 3
  done
  if command -v hyperfine >/dev/null; then
    hyperfine -N --style basic --warmup "$warmup" --runs "$runs" --export-json "$json" \
      "${args[@]}" >"$log" 2>&1 || {
      cat "$log" >&2
      echo "run.sh: hyperfine failed: $benchmark" >&2
      return 1
    }
  else
    local run words start end status TIMEFORMAT='%3U %3S' tsv=${json%.json}.tsv
    echo "hyperfine is not installed: timed by hand, $runs run(s) of each command" \
      "(in turn) after $warmup warmup(s)" >"$log"
    : >"$tsv"
    for ((run = 1 - warmup; run <= runs; run++)); do
      for i in "${!commands[@]}"; do
        read -ra words <<<"${commands[i]}"
        status=0
        start=$EPOCHREALTIME
        { time "${words[@]}" >/dev/null 2>&1; } 2>"$tsv.cpu" || status=$?
        end=$EPOCHREALTIME
        if ((status != 0)); then
          echo "run.sh: '${commands[i]}' exited $status: $benchmark" | tee -a "$log" >&2
          return 1
        fi
        if ((run > 0)); then
          printf '%s\t%s\t%s\n' "${names[i]}" "$(bench_elapsed "$start" "$end")" "$(<"$tsv.cpu")" >>"$tsv"
        fi
      done
    done
    /usr/bin/python3 - "$tsv" "$json" >>"$log" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, wall, cpu = line.rstrip("\n").split("\t")
    user, system = (float(value.replace(",", ".")) for value in cpu.split())
    runs.setdefault(name, []).append((float(wall), user, system))
results = []
for name, rows in runs.items():
    times = [row[0] for row in rows]
    results.append({"command": name, "mean": statistics.mean(times),
                    "stddev": statistics.stdev(times) if len(times) > 1 else None,
                    "median": statistics.median(times),
                    "user": statistics.mean(row[1] for row in rows),
                    "system": statistics.mean(row[2] for row in rows),
                    "min": min(times), "max": max(times), "times": times,
                    "exit_codes": [0] * len(times)})
    print(f"{name}: median {statistics.median(times) * 1000:.3f} ms, {len(times)} run(s)")
with open(sys.argv[2], "w") as handle:
    json.dump({"results": results}, handle, indent=2)
EOF
    rm -f "$tsv" "$tsv.cpu"
  fi
  for i in "${!names[@]}"; do
    bench_record_hyperfine "$json" "$benchmark" "${roles[i]}" "${names[i]}" "${commands[i]}"
  done
}
