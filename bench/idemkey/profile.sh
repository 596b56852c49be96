#!/usr/bin/env bash
# bench/idemkey/profile.sh [--records N] [--out DIR]
#
# Where idemkey's time goes, for bench/RESULTS.md. `perf stat -e instructions` reports
# "<not supported>" on this VM (no hardware counters), so this uses valgrind's callgrind
# (instruction counts, Ir: time spent blocked in system calls such as fsync is not counted):
#   - `idemkey filter` on N records (default 50,000; 10% duplicates), fresh state file;
#   - one replay of `idemkey run --key k -- true`;
# plus, where perf can sample (software cpu-clock), a perf profile and system-call counts of the
# filter on 1,000,000 records; `strace -c` and `strace -f -tt -T` of a replay (system calls and
# their wall time), LD_DEBUG=statistics (dynamic loader cost), and a hyperfine of the replay's
# stages. Outputs go to DIR (default bench/idemkey/results/profile); the top entries are printed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
records=50000
perf_records=1000000
out=$here/results/profile
while [[ $# -gt 0 ]]; do
  case $1 in
    --records) records=$2; shift ;;
    --out) out=$2; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
bench_install_missing valgrind strace
IDEMKEY=${IDEMKEY:-$root/build-bench/bin/idemkey}
[[ -x $IDEMKEY ]] || "$root/scripts/build" "$root/build-bench" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/idemkey-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

annotate() {  # annotate FILE INCLUSIVE(yes|no) LINES
  callgrind_annotate --inclusive="$2" "$1" 2>/dev/null |
    awk -v limit="$3" '/^-+$/ {dash++; next} dash >= 3 && NF && shown < limit {print; shown++}'
}

# filter
python3 "$here/gen_events.py" --count "$records" --output "$work/events.jsonl"
valgrind --tool=callgrind --callgrind-out-file="$out/filter.callgrind" \
  "$IDEMKEY" --db "$work/filter.db" filter --key-field event_id "$work/events.jsonl" \
  >/dev/null 2>"$out/filter.valgrind.txt"
annotate "$out/filter.callgrind" no 30 >"$out/filter.self.txt"
annotate "$out/filter.callgrind" yes 60 >"$out/filter.inclusive.txt"

# filter at full size: callgrind at 50,000 records shows neither the kernel nor a state file
# larger than SQLite's cache, so also sample the 1,000,000-record run with perf's software
# cpu-clock event (works without hardware counters), and count its I/O system calls.
if perf record -q -e cpu-clock -o "$work/probe.data" true 2>/dev/null; then
  python3 "$here/gen_events.py" --count "$perf_records" --output "$work/big.jsonl"
  perf record -q -e cpu-clock -F 999 -o "$work/perf.data" -- \
    "$IDEMKEY" --db "$work/big.db" filter --key-field event_id "$work/big.jsonl" >/dev/null 2>&1
  perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -n 1,15p >"$out/filter-big.perf-dso.txt"
  perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -n 1,40p >"$out/filter-big.perf-sym.txt"
  rm -f "$work/big.db" "$work/big.db".*
  perf stat -x, -o "$out/filter-big.perf-stat.txt" -e task-clock,context-switches \
    -e syscalls:sys_enter_pread64,syscalls:sys_enter_pwrite64,syscalls:sys_enter_fdatasync \
    -e syscalls:sys_enter_fsync,syscalls:sys_enter_write,syscalls:sys_enter_read -- \
    "$IDEMKEY" --db "$work/big.db" filter --key-field event_id "$work/big.jsonl" >/dev/null 2>&1 ||
    echo "perf stat with syscall tracepoints failed" >"$out/filter-big.perf-stat.txt"
  rm -f "$work/big.db" "$work/big.db".* "$work/big.jsonl"
fi

# replay
"$IDEMKEY" --db "$work/replay.db" run --key k -- true
valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$out/replay.callgrind" \
  "$IDEMKEY" --db "$work/replay.db" run --key k -- true 2>"$out/replay.valgrind.txt"
annotate "$out/replay.callgrind" no 30 >"$out/replay.self.txt"
annotate "$out/replay.callgrind" yes 60 >"$out/replay.inclusive.txt"
strace -c -f -o "$out/replay.strace-c.txt" "$IDEMKEY" --db "$work/replay.db" run --key k -- true
strace -f -tt -T -o "$out/replay.strace.txt" "$IDEMKEY" --db "$work/replay.db" run --key k -- true
LD_DEBUG=statistics "$IDEMKEY" --db "$work/replay.db" run --key k -- true 2>"$out/replay.ld-stats.txt"
ldd "$IDEMKEY" >"$out/ldd.txt"

# Replay broken into stages by what each command does: process start + CLI parse (--version),
# + open the state file and read (stats, show), + fingerprint and write transaction (replay);
# and the same replay with the state file on tmpfs.
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >&2; }
shm=$(mktemp -d /dev/shm/idemkey-profile.XXXXXX)
trap 'rm -rf "$work" "$shm"' EXIT
"$IDEMKEY" --db "$shm/replay.db" run --key k -- true

# The floor under any replay: an empty main() linked against each of idemkey's libraries.
cat >"$work/empty.cpp" <<'EOF'
#if defined(USE_SQLITE)
#include <sqlite3.h>
#define TOUCH sqlite3_libversion()
#elif defined(USE_CRYPTO)
#include <openssl/sha.h>
#define TOUCH SHA256(nullptr, 0, nullptr)
#elif defined(USE_SIMDJSON)
#include <simdjson.h>
#define TOUCH simdjson::dom::parser parser
#elif defined(USE_FMT)
#include <fmt/format.h>
#define TOUCH (void)fmt::format("{}", argc)
#elif defined(USE_ALL)
#include <fmt/format.h>
#include <openssl/sha.h>
#include <simdjson.h>
#include <sqlite3.h>
#define TOUCH sqlite3_libversion(); SHA256(nullptr, 0, nullptr); (void)fmt::format("{}", argc)
#elif defined(USE_STDCXX)
#include <string>
#define TOUCH (void)std::to_string(argc)
#else
#define TOUCH
#endif
int main(int argc, char**) { if (argc > 99) { TOUCH; } return 0; }
EOF
floor=()
for variant in none:"" stdcxx:-lstdc++ sqlite:-lsqlite3 crypto:-lcrypto simdjson:-lsimdjson fmt:-lfmt \
  all:"-lsqlite3 -lcrypto -lfmt -lsimdjson"; do
  name=${variant%%:*} libs=${variant#*:}
  # shellcheck disable=SC2086
  g++ -O2 -std=c++20 -w -DUSE_${name^^} "$work/empty.cpp" -o "$work/empty-$name" \
    -Wl,--no-as-needed $libs -Wl,--as-needed
  floor+=(-n "empty main, libraries: $name" "$work/empty-$name")
done
hyperfine -N --style basic --warmup 30 --runs 300 --export-json "$out/startup-floor.json" \
  "${floor[@]}" -n "idemkey --version" "$IDEMKEY --version" >"$out/startup-floor.txt" 2>&1
hyperfine -N --style basic --warmup 20 --runs 200 --export-json "$out/replay-stages.json" \
  -n "true" "true" \
  -n "idemkey --version" "$IDEMKEY --version" \
  -n "idemkey stats" "$IDEMKEY --db $work/replay.db stats" \
  -n "idemkey show --key k" "$IDEMKEY --db $work/replay.db show --key k" \
  -n "idemkey run (replay)" "$IDEMKEY --db $work/replay.db run --key k -- true" \
  -n "idemkey run (replay, state on tmpfs)" "$IDEMKEY --db $shm/replay.db run --key k -- true" \
  >"$out/replay-stages.txt" 2>&1

for f in filter.self filter.inclusive replay.self replay.inclusive; do
  echo "== $f (callgrind Ir)"
  sed -n 1,25p "$out/$f.txt"
done
for f in filter-big.perf-dso filter-big.perf-sym filter-big.perf-stat; do
  [[ -f $out/$f.txt ]] && { echo "== $f (perf, $perf_records records)"; cat "$out/$f.txt"; }
done
echo "== startup floor: empty programs linked to idemkey's libraries (hyperfine medians)"
python3 - "$out/startup-floor.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:50s} median {r['median'] * 1000:6.2f} ms")
EOF
echo "== replay.strace-c"
cat "$out/replay.strace-c.txt"
echo "== shared libraries: $(wc -l <"$out/ldd.txt")"
echo "== replay stages (hyperfine medians, user/system means)"
python3 - "$out/replay-stages.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:40s} median {r['median'] * 1000:6.2f} ms  "
          f"user {r['user'] * 1000:5.2f} ms  system {r['system'] * 1000:5.2f} ms")
EOF
