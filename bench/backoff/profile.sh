#!/usr/bin/env bash
# bench/backoff/profile.sh [--out DIR]
#
# Where the time of `backoff -- true` goes, for bench/RESULTS.md:
#   - stages (hyperfine -N, 200 runs each): `true`; tiny C programs (dynamic and static) that
#     exec `true` in place (one extra exec, no child), fork+exec it or posix_spawn it and wait
#     (the floor of any wrapper); an empty C++ main() linked with libstdc++ shared, with
#     libstdc++/libgcc static (as backoff is), or fully static, alone and posix_spawning `true`;
#     `timeout 10 true` and `retry -t 1 true`; `backoff --version`, `backoff -- true`,
#     `backoff run -- true`, `backoff -- /usr/bin/true` (no PATH search); the same two backoff
#     commands for each earlier build named in COMPARE;
#   - minor page faults (GNU time %R, median of 20) of the same commands;
#   - callgrind (instruction counts, Ir) of the backoff process of `backoff -- true` and of
#     `backoff --version` (the child `true` is not traced), also for COMPARE builds;
#     `strace -c -f` and `strace -f -tt -T`; LD_DEBUG=statistics;
#   - where perf's software cpu-clock event works (no hardware counters on this VM): perf stat
#     (task-clock, page faults) and a sampled profile of 500 runs, split by process and library.
# Outputs (text only) go to DIR (default bench/backoff/results/profile); the main figures are
# printed. Environment: BACKOFF (binary; default build-bench-backoff/bin/backoff); COMPARE
# (optional LABEL=BINARY words, earlier builds of backoff to measure alongside).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
out=$here/results/profile
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
bench_install_missing hyperfine valgrind strace g++
BACKOFF=${BACKOFF:-$root/build-bench-backoff/bin/backoff}
[[ -x $BACKOFF ]] || "$root/scripts/build" "$root/build-bench-backoff" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/backoff-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.json
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "backoff: $BACKOFF ($("$BACKOFF" --version 2>&1 | head -1))"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"

# --- floors: tiny C wrappers, and an empty C++ main() linked the ways backoff could be -------
cat >"$work/cwrap.c" <<'EOF'
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
  char *args[] = {"true", 0};
  pid_t pid;
  int status;
  if (argc > 1 && strcmp(argv[1], "exec") == 0) {  /* become true: one extra exec, no child */
    execvp("true", args);
    return 127;
  }
  if (argc > 1 && strcmp(argv[1], "spawn") == 0) {
    if (posix_spawnp(&pid, "true", 0, 0, args, environ) != 0) return 127;
  } else if ((pid = fork()) == 0) {
    execvp("true", args);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
EOF
# An empty C++ main() that uses libstdc++ (std::to_string, never called) and, given "spawn",
# posix_spawnp's `true` and waits, as backoff does since 75b5468. Linked three ways: libstdc++
# shared; libstdc++ and libgcc static, libc shared (how backoff is linked since 91e4a45); fully
# static.
cat >"$work/cxxonly.cpp" <<'EOF'
#include <cstring>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
  if (argc > 99) (void)std::to_string(argc);
  if (argc > 1 && std::strcmp(argv[1], "spawn") == 0) {
    char *args[] = {const_cast<char *>("true"), nullptr};
    pid_t pid;
    if (posix_spawnp(&pid, "true", nullptr, nullptr, args, environ) != 0) return 127;
    int status;
    waitpid(pid, &status, 0);
  }
  return 0;
}
EOF
gcc -O2 -w "$work/cwrap.c" -o "$work/cwrap"
gcc -O2 -w -static "$work/cwrap.c" -o "$work/cwrap-static"
g++ -O2 -std=c++20 -w "$work/cxxonly.cpp" -o "$work/cxxshared"
g++ -O2 -std=c++20 -w -static-libstdc++ -static-libgcc "$work/cxxonly.cpp" -o "$work/cxxlikebackoff"
g++ -O2 -std=c++20 -w -static "$work/cxxonly.cpp" -o "$work/cxxstatic"
ldd "$BACKOFF" >"$out/ldd.txt" 2>&1 || true
ldd "$work/cxxlikebackoff" >"$out/ldd-floor.txt" 2>&1 || true

# Earlier builds to compare with, as LABEL=BINARY words in COMPARE (e.g.
# COMPARE="6d3e515=/tmp/b1/bin/backoff 91e4a45=/tmp/b2/bin/backoff").
compare_labels=() compare_bins=()
for pair in ${COMPARE:-}; do compare_labels+=("${pair%%=*}"); compare_bins+=("${pair#*=}"); done
compare_args=()
for i in "${!compare_labels[@]}"; do
  compare_args+=(-n "backoff --version (${compare_labels[i]})" "${compare_bins[i]} --version"
                 -n "backoff -- true (${compare_labels[i]})" "${compare_bins[i]} -- true")
done

hyperfine -N --style basic --warmup 30 --runs 200 --export-json "$out/stages.json" \
  -n "true" "true" \
  -n "C: execvp true (no child)" "$work/cwrap exec" \
  -n "C, static: execvp true (no child)" "$work/cwrap-static exec" \
  -n "C: fork + execvp true + wait" "$work/cwrap" \
  -n "C: posix_spawnp true + wait" "$work/cwrap spawn" \
  -n "C, static: posix_spawnp true + wait" "$work/cwrap-static spawn" \
  -n "C++: empty main, libstdc++ shared" "$work/cxxshared" \
  -n "C++: libstdc++ shared + posix_spawnp true" "$work/cxxshared spawn" \
  -n "C++: empty main, static libstdc++/libgcc (as backoff)" "$work/cxxlikebackoff" \
  -n "C++: static libstdc++/libgcc + posix_spawnp true" "$work/cxxlikebackoff spawn" \
  -n "C++: empty main, fully static" "$work/cxxstatic" \
  -n "C++: fully static + posix_spawnp true" "$work/cxxstatic spawn" \
  -n "timeout 10 true" "timeout 10 true" \
  -n "retry -t 1 true" "/usr/bin/retry -t 1 true" \
  -n "backoff --version" "$BACKOFF --version" \
  -n "backoff -- true" "$BACKOFF -- true" \
  -n "backoff run -- true" "$BACKOFF run -- true" \
  -n "backoff -- /usr/bin/true" "$BACKOFF -- /usr/bin/true" \
  "${compare_args[@]}" \
  >"$out/stages.txt" 2>&1

# Minor page faults (GNU time %R: the process and the children it waited for), median of 20.
faults() {  # faults LABEL COMMAND...
  local i n=()
  for i in $(seq 20); do n+=("$(/usr/bin/time -f %R "${@:2}" 2>&1 >/dev/null | tail -1)"); done
  printf '%s\t%s\n' "$1" "$(printf '%s\n' "${n[@]}" | sort -n | sed -n 10p)"
}
{
  printf 'command\tminor_faults_median\n'
  faults "true" true
  faults "C: execvp true (no child)" "$work/cwrap" exec
  faults "C: posix_spawnp true + wait" "$work/cwrap" spawn
  faults "C, static: posix_spawnp true + wait" "$work/cwrap-static" spawn
  faults "C++: static libstdc++/libgcc + posix_spawnp true" "$work/cxxlikebackoff" spawn
  faults "timeout 10 true" timeout 10 true
  faults "retry -t 1 true" /usr/bin/retry -t 1 true
  faults "backoff --version" "$BACKOFF" --version
  faults "backoff -- true" "$BACKOFF" -- true
  for i in "${!compare_labels[@]}"; do
    faults "backoff --version (${compare_labels[i]})" "${compare_bins[i]}" --version
    faults "backoff -- true (${compare_labels[i]})" "${compare_bins[i]}" -- true
  done
} >"$out/faults.tsv"

# --- callgrind, strace, loader statistics ------------------------------------------------------
annotate() {  # annotate FILE INCLUSIVE(yes|no) LINES
  callgrind_annotate --inclusive="$2" "$1" 2>/dev/null |
    awk -v limit="$3" '/^-+$/ {dash++; next} dash >= 3 && NF && shown < limit {print; shown++}'
}
valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$work/run.callgrind" \
  "$BACKOFF" -- true 2>"$out/run.valgrind.txt"
annotate "$work/run.callgrind" no 30 >"$out/run.self.txt"
annotate "$work/run.callgrind" yes 60 >"$out/run.inclusive.txt"
valgrind --tool=callgrind --callgrind-out-file="$work/version.callgrind" \
  "$BACKOFF" --version >/dev/null 2>"$out/version.valgrind.txt"
strace -c -f -o "$out/run.strace-c.txt" "$BACKOFF" -- true
strace -f -tt -T -o "$out/run.strace.txt" "$BACKOFF" -- true
LD_DEBUG=statistics "$BACKOFF" -- true 2>"$out/run.ld-stats.txt"
for i in "${!compare_labels[@]}"; do
  for what in run version; do
    args=(-- true); [[ $what == version ]] && args=(--version)
    valgrind --tool=callgrind --trace-children=no \
      --callgrind-out-file="$work/$what-${compare_labels[i]}.callgrind" \
      "${compare_bins[i]}" "${args[@]}" >/dev/null 2>"$out/$what-${compare_labels[i]}.valgrind.txt"
    annotate "$work/$what-${compare_labels[i]}.callgrind" yes 40 \
      >"$out/$what-${compare_labels[i]}.inclusive.txt"
  done
done

# --- perf (software cpu-clock event) -----------------------------------------------------------
if perf record -q -e cpu-clock -o "$work/probe.data" true 2>/dev/null; then
  for cmd in "true" "$BACKOFF --version" "$BACKOFF -- true"; do
    # shellcheck disable=SC2086
    perf stat -r 200 -e task-clock,page-faults,context-switches,cpu-migrations $cmd \
      2>&1 >/dev/null | grep -v '^$'
  done >"$out/perf-stat.txt"
  # shellcheck disable=SC2016  # $1 and $(seq) belong to the inner bash
  perf record -q -e cpu-clock -F 20000 -o "$work/loop.data" -- \
    bash -c 'for i in $(seq 500); do "$1" -- true; done' bash "$BACKOFF" 2>/dev/null
  perf report -i "$work/loop.data" --no-children --sort comm,dso --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -n 1,20p >"$out/perf-comm-dso.txt"
  perf report -i "$work/loop.data" --no-children --comm backoff --sort dso,sym --stdio \
    2>/dev/null | grep -v '^#' | grep -v '^$' | sed -n 1,40p >"$out/perf-backoff-sym.txt"
fi
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

# --- print -------------------------------------------------------------------------------------
echo "== stages (hyperfine medians, 200 runs each)"
python3 - "$out/stages.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:50s} median {r['median'] * 1000:5.2f} ms  "
          f"user {r['user'] * 1000:5.2f} ms  system {r['system'] * 1000:5.2f} ms")
EOF
for f in "$out"/*.valgrind.txt; do
  echo "== $(basename "$f" .txt): $(grep -o 'Collected : [0-9]*' "$f")"
done
echo "== minor page faults (median of 20)"
column -t -s $'\t' "$out/faults.tsv"
echo "== run.inclusive (callgrind Ir, backoff process only)"
sed -n 1,30p "$out/run.inclusive.txt"
echo "== loader statistics"
grep -E 'total startup time|time needed for relocation|number of relocations:|load objects' \
  "$out/run.ld-stats.txt" | head -4
echo "== run.strace-c"
cat "$out/run.strace-c.txt"
for f in perf-stat perf-comm-dso; do
  [[ -f $out/$f.txt ]] && { echo "== $f"; cat "$out/$f.txt"; }
done
