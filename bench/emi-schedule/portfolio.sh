#!/usr/bin/env bash
# bench/emi-schedule/portfolio.sh [--quick]: the portfolio run of issue 4. Generates N loans
# (fixed seed; 100,000, or 10,000 with --quick), times `emi-schedule create --from` on a fresh
# state file and then `collect` for one day, three times each, with peak memory, and checks
# the counts (every loan created; intents = installments due by that day).
# Environment: EMI_SCHEDULE (binary; default build/bin/emi-schedule, built if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
loans=100000 mode=full
[[ ${1:-} == --quick ]] && loans=10000 mode=quick
emi=${EMI_SCHEDULE:-$root/build/bin/emi-schedule}
[[ -x $emi ]] || "$root/scripts/build" "$root/build" >/dev/null
[[ -x /usr/bin/time ]] || apt-get install -y -qq time sqlite3 >/dev/null
out=$root/bench/emi-schedule/results/$mode
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$loans" > "$work/loans.jsonl" <<'PY'
import json, random, sys
r = random.Random(20261128)
for i in range(int(sys.argv[1])):
    print(json.dumps({"loan": f"L{i:06d}", "principal": f"{r.randint(10000, 5000000)}.00",
                      "rate": f"{r.randint(500, 2400)}bp", "months": r.choice([12, 24, 36, 48, 60]),
                      "disbursed": f"2026-01-{r.randint(1, 28):02d}"}))
PY

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD)"
  echo "binary: $emi ($("$emi" --version))"
  echo "loans: $loans"
} > "$out/machine.txt"

: > "$out/times.tsv"
for round in 1 2 3; do
  rm -f "$work"/state.db*
  /usr/bin/time -f "%e %M" -o "$work/create.time" \
    "$emi" create --db "$work/state.db" --from "$work/loans.jsonl" --currency INR > "$work/create.out"
  grep -q "\"created\":$loans," "$work/create.out" || { echo "create did not create $loans loans" >&2; exit 1; }
  /usr/bin/time -f "%e %M" -o "$work/collect.time" \
    "$emi" collect --db "$work/state.db" --today 2026-03-01 > "$work/collect.out"
  expected=$(sqlite3 "$work/state.db" "SELECT count(*) FROM emi_installments WHERE due_date <= '2026-03-01'")
  got=$(wc -l < "$work/collect.out")
  [[ $got == "$expected" ]] || { echo "collect emitted $got intents, expected $expected" >&2; exit 1; }
  size=$(stat -c %s "$work/state.db")
  rows=$(sqlite3 "$work/state.db" "SELECT count(*) FROM emi_installments")
  printf 'round %s\tcreate %s s (peak %s KiB)\tcollect %s s (peak %s KiB)\tintents %s\tinstallments %s\tstate %s bytes\n' \
    "$round" $(cat "$work/create.time") $(cat "$work/collect.time") "$got" "$rows" "$size" | tee -a "$out/times.tsv"
done
