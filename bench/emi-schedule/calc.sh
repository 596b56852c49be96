#!/usr/bin/env bash
# bench/emi-schedule/calc.sh [--quick]: `emi-schedule calc` of a 360-month schedule (whole
# process) against the same schedule from Python's decimal module (calc_peer.py), and `true`
# as the floor, alternating, after checking that both print byte-identical output for four
# loans. Results in results/{full,quick}/calc.{json,txt}.
# Environment: EMI (binary; default build/bin/emi-schedule, built if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=300 rounds=3 mode=full
[[ ${1:-} == --quick ]] && runs=30 rounds=1 mode=quick
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
emi=${EMI:-$root/build/bin/emi-schedule}
[[ -x $emi ]] || "$root/scripts/build" "$root/build" >/dev/null
out=$here/results/$mode
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for loan in "500000.00 8.5 360" "100000.00 10 12" "120000.00 0 12" "2500000.00 7.25 240"; do
  set -- $loan
  "$emi" calc --principal "$1" --rate "$2%" --months "$3" --disbursed 2026-01-15 > "$work/tool"
  python3 "$here/calc_peer.py" "$1" "$2" "$3" 2026-02-15 > "$work/peer"
  cmp -s "$work/tool" "$work/peer" || { echo "outputs differ for $loan" >&2; exit 1; }
  echo "identical output: $loan" >> "$work/checks"
done
cp "$work/checks" "$out/checks.txt"

: > "$out/calc.txt"
for round in $(seq 1 "$rounds"); do
  hyperfine -N --style basic --warmup 20 --runs "$runs" --export-json "$out/calc-$round.json" \
    -n true "true" \
    -n "emi-schedule calc (360 months)" \
    "$emi calc --principal 500000.00 --rate 8.5% --months 360 --disbursed 2026-01-15" \
    -n "python3 decimal peer (360 months)" \
    "python3 $here/calc_peer.py 500000.00 8.5 360 2026-02-15" >> "$out/calc.txt"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for r in range(1, rounds + 1):
    for result in json.load(open(f"{out}/calc-{r}.json"))["results"]:
        times.setdefault(result["command"], []).extend(result["times"])
lines = ["| command | median | p10 | p90 | runs |", "|---|---:|---:|---:|---:|"]
medians = {}
for name, values in times.items():
    values.sort()
    q = statistics.quantiles(values, n=10)
    medians[name] = statistics.median(values)
    lines.append(f"| `{name}` | {medians[name]*1000:.2f} ms | {q[0]*1000:.2f} | {q[-1]*1000:.2f} | {len(values)} |")
tool = medians["emi-schedule calc (360 months)"]
peer = medians["python3 decimal peer (360 months)"]
lines.append("")
lines.append(f"emi-schedule is {peer/tool:.1f}x faster than the Python decimal peer; "
             f"target < 5 ms whole process: {'met' if tool < 0.005 else 'MISSED'} ({tool*1000:.2f} ms)")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
