# bench/lib.sh: sourced by every bench/<tool>/run.sh (and by the profile.sh scripts, for
# bench_install_missing). It holds the contract bench/run relies on, so that the harness never
# needs to know how a tool's benchmark works inside, and the steps several of those scripts
# share, so that each is written once. The contract:
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
#   The binary under test comes in the variable named after the tool, upper case with '_' for
#   '-' (IDEMKEY, EMI_SCHEDULE): bench/run sets it to build/bin/TOOL.
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

# bench_dated_results RESULTS: for the scripts that keep each run's log as a dated file, so that a
# run never overwrites an earlier day's. Sets txt and tsv (the log and the per-run timings) to
# RESULTS/<UTC date>.txt and .tsv (RESULTS/<date>-MODE.* in quick and smoke mode), or to
# DIR/run.txt and .tsv under --out DIR, and starts the measurements in DIR (default
# RESULTS/MODE).
bench_dated_results() {
  local results=$1 stem
  stem=$results/$(date -u +%Y-%m-%d)
  [[ $bench_mode == full ]] || stem+=-$bench_mode
  mkdir -p "$results"
  if [[ -n $out ]]; then mkdir -p "$out"; stem=$out/run; fi
  bench_start_measurements "${out:-$results/$bench_mode}"
  # shellcheck disable=SC2034 # txt and tsv are the calling script's
  txt=$stem.txt tsv=$stem.tsv
}

# bench_work_dir NAME: sets work to $WORK, created if need be and kept afterwards (so that a rerun
# can reuse the data it made there), or else to a fresh directory NAME.XXXXXX under $TMPDIR or
# /tmp, removed when the script exits.
bench_work_dir() {
  if [[ -n ${WORK:-} ]]; then
    work=$WORK
    mkdir -p "$work"
  else
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap 'rm -rf "$work"' EXIT
  fi
}

# bench_machine_lines: the first lines of a run's machine file (UTC date, mode, CPU, cores,
# memory, kernel), so that every figure comes with the machine it was measured on.
bench_machine_lines() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode: $bench_mode"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
}

# bench_log_head TITLE WORK BINARY: the head of a dated log (bench_dated_results), so that every
# figure in it comes with what was measured and where: TITLE and the UTC time; the CPU, memory,
# kernel and WORK's file system; the line BINARY (the tool under test, as the script describes
# it); the commit, and the files uncommitted outside bench/.
bench_log_head() {
  local checkout
  checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  printf '%s\n' "# $1: $(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc)" \
    "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
    "kernel: $(uname -r); work dir $2 ($(df -T "$2" | awk 'NR==2 {print $2}'))" \
    "$3" \
    "source tree: $(git -C "$checkout" rev-parse --short HEAD), uncommitted outside bench/: \
$(git -C "$checkout" status --porcelain -- . ':!bench' | awk '{print $2}' | paste -sd' ' - || true)"
}

# bench_copy_binary SOURCE COPY: copies the tool's binary to COPY in the work dir (timed from
# there, beside its data) and prints the BINARY line of bench_log_head naming it: the source,
# its --version, when it was built, its hash and the build type of its build directory.
bench_copy_binary() {
  local source=$1 copy=$2 build_type
  cp "$source" "$copy"
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' \
    "$(dirname "$(dirname "$source")")/CMakeCache.txt" 2>/dev/null || echo '?')
  printf '%s\n' "$(basename "$copy"): $source ($("$copy" --version 2>&1 | head -1)), binary built \
$(date -u -r "$source" +%Y-%m-%dT%H:%M:%SZ), sha256 $(sha256sum <"$copy" | cut -c1-16), build type \
$build_type; timed as a copy in the work dir"
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

# bench_install_missing COMMAND...: installs, with one apt-get, the Debian package of each COMMAND
# (named alike) that is not on PATH. For the profile.sh scripts: bench/run does not run them, so
# they need neither SLUICE_BENCH_NO_INSTALL nor bench_need's peer-by-peer skipping. A failed
# apt-get install stops the script; a failed apt-get update only skips the install.
bench_install_missing() {
  local command missing=()
  for command; do
    command -v "$command" >/dev/null || missing+=("$command")
  done
  if ((${#missing[@]})) && apt-get update -qq; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
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

# bench_busy_percent: how busy all the CPUs were, with anything, over the next second (from
# /proc/stat), in percent.
bench_busy_percent() {
  local a b
  read -ra a < <(head -1 /proc/stat); sleep 1; read -ra b < <(head -1 /proc/stat)
  local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * (total - idle) / total : 0))
}

# bench_wait_quiet MAX_PERCENT WAIT_SECONDS: waits until the CPUs have been at most MAX_PERCENT
# busy for a second, or WAIT_SECONDS have passed, and prints the last busy share: other work on
# a 2-core machine (a compiler, say) moves millisecond timings a lot. Smoke mode neither waits
# nor measures, and prints "?".
bench_wait_quiet() {
  if [[ $bench_mode == smoke ]]; then echo "?"; return; fi
  local max=$1 wait_seconds=$2 start=$SECONDS busy
  while busy=$(bench_busy_percent); ((busy > max && SECONDS - start < wait_seconds)); do
    echo "run.sh: CPUs ${busy}% busy, waiting (${wait_seconds}s at most)" >&2
  done
  echo "$busy"
}

# bench_time_rounds ROUNDS WAIT_SECONDS TSV STEM BENCHMARK RUNS WARMUP ROLE NAME COMMAND...:
# ROUNDS rounds of bench_time_commands BENCHMARK RUNS WARMUP (into STEM-1.json, STEM-2.json,
# ...), each after bench_wait_quiet 10 WAIT_SECONDS, with the order of the ROLE NAME COMMAND
# triples rotated by one place from one round to the next, so that no command always runs
# first. TSV gets a row per round (round, busy_before_pct, loadavg_before, loadavg_after: how
# busy the machine was around it), except in smoke mode, which measures no busy share.
bench_time_rounds() {
  local rounds=$1 wait_seconds=$2 tsv=$3 stem=$4 benchmark=$5 runs=$6 warmup=$7
  shift 7
  local triples=("$@") count=$(($# / 3)) round i busy load args
  if [[ $bench_mode != smoke ]]; then
    printf 'round\tbusy_before_pct\tloadavg_before\tloadavg_after\n' >"$tsv"
  fi
  for ((round = 1; round <= rounds; round++)); do
    busy=$(bench_wait_quiet 10 "$wait_seconds")
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "run.sh: round $round/$rounds, ${stem##*/}-$round.json (CPUs ${busy}% busy just before," \
      "loadavg $load)" >&2
    args=()
    for ((i = 0; i < count; i++)); do
      args+=("${triples[@]:3 * ((i + round - 1) % count):3}")
    done
    bench_time_commands "$stem-$round.json" "$benchmark" "$runs" "$warmup" "${args[@]}"
    if [[ $bench_mode != smoke ]]; then
      printf '%s\t%s\t%s\t%s\n' "$round" "$busy" "$load" "$(cut -d' ' -f1 /proc/loadavg)" >>"$tsv"
    fi
  done
}
