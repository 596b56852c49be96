#!/usr/bin/env bash
# bench/audit/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks audit against what a user would do instead, in the same run:
#   (a) append: N small entries from one producer, `audit append --actor --action` into a fresh
#       SQLite log (one group commit), next to `cat >> file` (the floor: no chain, no index,
#       no fsync) and a Python sqlite3 insert loop that chains SHA-256 over the previous hash
#       and each entry (one transaction, WAL, synchronous=FULL, the peer a user writes);
#   (b) read --actor: the entries of one actor out of 100 in a log of M entries, `audit read
#       --actor` (an index) next to `grep -F` over the same entries exported as JSONL (a scan);
#       and `audit read --actor --limit 10` (the latency of a page).
#   (c) correctness checks first: the log verifies and holds N entries, the Python table holds
#       N rows whose chain recomputes, `cat` wrote N lines, and read --actor and grep agree.
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  N = 1,000,000, M = 2,000,000, 5 runs of each command;
#   --quick    N = 100,000, M = 300,000, 3 runs;
#   --smoke    N = 2,000, M = 5,000, 1 run: only the checks matter.
# Every timed run is a row of DIR/measurements.tsv (default bench/audit/results/MODE).
# Environment: AUDIT (binary; default build/bin/audit), TMPDIR, SLUICE_BENCH_NO_INSTALL.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) entries=1000000 log_entries=2000000 runs=5 ;;
  quick) entries=100000 log_entries=300000 runs=3 ;;
  smoke) entries=2000 log_entries=5000 runs=1 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"
AUDIT=${AUDIT:-$root/build/bin/audit}
[[ -x $AUDIT ]] || { echo "run.sh: no audit binary at $AUDIT (scripts/build first)" >&2; exit 1; }
bench_need python3 command -v python3 || { echo "run.sh: python3 is needed" >&2; exit 1; }
bench_work_dir audit-bench
rm -f "$out/checks.txt" "$out"/*.json "$out"/*.txt

# --- data ------------------------------------------------------------------------------------
python3 - "$work" "$entries" "$log_entries" <<'PY'
import json, random, sys
work, entries, log_entries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(27)
with open(f"{work}/payloads.jsonl", "w") as out:
    for i in range(entries):
        out.write(json.dumps({"order": i, "amount": rng.randint(1, 99999)}, separators=(",", ":")) + "\n")
with open(f"{work}/log.jsonl", "w") as out:
    for i in range(log_entries):
        record = {"actor": f"a{rng.randrange(100)}", "action": "put", "payload": {"i": i}}
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
PY
cat >"$work/chain.py" <<'PY'
import hashlib, json, os, sqlite3, sys, time
db, source = sys.argv[1], sys.argv[2]
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(db + suffix):
        os.remove(db + suffix)
connection = sqlite3.connect(db, isolation_level=None)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("PRAGMA synchronous=FULL")
connection.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, ts INTEGER, actor TEXT, "
                   "action TEXT, payload TEXT, hash TEXT)")
connection.execute("CREATE INDEX log_by_actor ON log (actor, seq)")
previous = bytes(32)
now = int(time.time() * 1e6)
connection.execute("BEGIN IMMEDIATE")
with open(source) as lines:
    for seq, line in enumerate(lines, start=1):
        payload = json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"))
        body = json.dumps({"action": "put", "actor": "bench", "payload": json.loads(payload),
                           "seq": seq, "ts": now}, sort_keys=True, separators=(",", ":"))
        previous = hashlib.sha256(previous + body.encode()).digest()
        connection.execute("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)",
                           (seq, now, "bench", "put", payload, previous.hex()))
connection.execute("COMMIT")
PY
cat >"$work/append.sh" <<EOF2
rm -f "$work/append.db" "$work/append.db-wal" "$work/append.db-shm"
exec "$AUDIT" --db "$work/append.db" -q append --actor bench --action put "$work/payloads.jsonl"
EOF2
cat >"$work/grep.sh" <<EOF2
exec grep -F '"actor":"a7"' "$work/export.jsonl"
EOF2
cat >"$work/cat.sh" <<EOF2
rm -f "$work/cat.out"
cat "$work/payloads.jsonl" >> "$work/cat.out"
EOF2

# --- checks ----------------------------------------------------------------------------------
failures=0
check() {
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)); fi
}
bash "$work/append.sh"
bash "$work/cat.sh"
python3 "$work/chain.py" "$work/chain.db" "$work/payloads.jsonl"
verdict=$("$AUDIT" --db "$work/append.db" verify)
check "audit log verifies with $entries entries" \
  test "$(python3 -c 'import json, sys; v = json.loads(sys.argv[1]); print(v["valid"], v["size"])' \
    "$verdict")" = "True $entries"
check "cat wrote $entries lines" test "$(wc -l <"$work/cat.out")" -eq "$entries"
check "python chain holds $entries rows" \
  test "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM log").fetchone()[0])' \
    "$work/chain.db")" -eq "$entries"
"$AUDIT" --db "$work/read.db" -q append "$work/log.jsonl"
"$AUDIT" --db "$work/read.db" read >"$work/export.jsonl"
check "read --actor a7 agrees with grep" test \
  "$("$AUDIT" --db "$work/read.db" read --actor a7 | wc -l)" -eq \
  "$(grep -cF '"actor":"a7"' "$work/export.jsonl")"
cat "$out/checks.txt"
((failures == 0)) || { echo "run.sh: $failures check(s) failed" >&2; exit 1; }

# --- timing ----------------------------------------------------------------------------------
bench_time_commands "$out/append.json" "append $entries entries" "$runs" 0 \
  floor "cat >> file" "bash $work/cat.sh" \
  tool "audit append" "bash $work/append.sh" \
  peer "python sqlite3 + sha256 chain" "python3 $work/chain.py $work/chain.db $work/payloads.jsonl"
bench_time_commands "$out/read.json" "read --actor, 1 of 100 actors, $log_entries entries" \
  "$runs" 1 \
  tool "audit read --actor" "$AUDIT --db $work/read.db read --actor a7" \
  tool "audit read --actor --limit 10" "$AUDIT --db $work/read.db read --actor a7 --limit 10" \
  peer "grep -F over JSONL" "bash $work/grep.sh"
for json in "$out/append.json" "$out/read.json"; do
  python3 - "$json" "$entries" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for result in results:
    median = sorted(result["times"])[len(result["times"]) // 2]
    line = f"{result['command']}: median {median:.3f} s"
    if "append" in sys.argv[1]:
        line += f", {int(sys.argv[2]) / median:,.0f} entries/s"
    print(line)
PY
done | tee "$out/summary.txt"
