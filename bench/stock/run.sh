#!/usr/bin/env bash
# bench/stock/run.sh [--quick | --smoke] [--out DIR]
#
# Benchmarks stock on each backend (an SQLite file, PostgreSQL through pgbouncer, Redis), next
# to the peers a flash sale would otherwise be built from:
#   (a) the race: P clients (1, 8 and, in full mode, 32), each making N reservations one process
#       at a time, for half as many units as requests: requests/s, holds granted, and units
#       oversold (granted - units). The peers: a naive client that reads available and then
#       writes available-1 in two statements (sqlite3, psql, redis-cli), which oversells, and
#       `redis-cli EVAL` of the seed's script (if stock > 0 then decr), which does not.
#       stock must grant exactly the units on every backend.
#   (b) batch: one `stock reserve --batch` of B requests (all granted) on each backend:
#       reservations/s; beside it redis-benchmark running EVALSHA of the seed's script
#       (raw server throughput for one SKU: one client, one request per round trip).
#
# Modes (bench/lib.sh states the contract with bench/run):
#   (default)  1, 8, 32 clients x 100 requests; batch of 50,000;
#   --quick    1 and 8 clients x 20 requests; batch of 5,000;
#   --smoke    1 and 8 clients x 3 requests; batch of 200: only the checks matter.
# The servers are throw-away ones (scripts/pg, scripts/redis) in the work dir; a backend whose
# server is not installed is skipped and said so. Every timed run is a row of
# DIR/measurements.tsv; the summary goes to DIR/summary.md and stdout (default DIR:
# bench/stock/results/MODE). A failed check exits 1.
# Environment: STOCK (binary; default build-bench/bin/stock, built with scripts/build if
# missing), TMPDIR, SLUICE_BENCH_NO_INSTALL.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
bench_parse_arguments "$@"

case $bench_mode in
  full) clients=(1 8 32) requests=100 batch=50000 ;;
  quick) clients=(1 8) requests=20 batch=5000 ;;
  smoke) clients=(1 8) requests=3 batch=200 ;;
esac
out=${out:-$here/results/$bench_mode}
bench_start_measurements "$out"

STOCK=${STOCK:-$root/build-bench/bin/stock}
if [[ ! -x $STOCK ]]; then
  echo "run.sh: building stock in $root/build-bench" >&2
  "$root/scripts/build" "$root/build-bench" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/stock-bench.XXXXXX")
# The server directories beside the work dir: as root, scripts/pg runs the server as the
# postgres user, who cannot enter a 0700 directory of root's.
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/stock-bench-pg.XXXXXX")
redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/stock-bench-redis.XXXXXX")
cleanup() {
  "$root/scripts/pg" stop "$pg_dir" >/dev/null 2>&1 || true
  "$root/scripts/redis" stop "$redis_dir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pg_dir" "$redis_dir"
}
trap cleanup EXIT
export SLUICE_STATE_DIR=$work/state
rm -f "$out/checks.txt" "$out/race.tsv" "$out/batch.tsv" "$out/summary.md"
failures=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok   $1" >>"$out/checks.txt"; else
    echo "FAIL $1" >>"$out/checks.txt"; failures=$((failures + 1)); fi
}

# The backends: name and --db location.
backends=(sqlite "$work/stock.db")
pg_url="" redis_url=""
if command -v psql >/dev/null && pg_url=$("$root/scripts/pg" start "$pg_dir" 2>/dev/null | tail -1); then
  bouncer=$("$root/scripts/pg" bouncer-url "$pg_dir")
  backends+=(postgresql "${bouncer:-$pg_url}")
else
  pg_url=""
  echo "skip PostgreSQL (scripts/pg could not start a server)" >>"$out/checks.txt"
fi
if command -v redis-cli >/dev/null && redis_url=$("$root/scripts/redis" start "$redis_dir" 2>/dev/null); then
  backends+=(redis "$redis_url?namespace=bench")
else
  redis_url=""
  echo "skip Redis (scripts/redis could not start a server)" >>"$out/checks.txt"
fi
redis_socket=$redis_dir/redis.sock

{
  bench_machine_lines
  echo "stock: $STOCK ($("$STOCK" --version 2>&1 | head -1))"
  echo "PostgreSQL: ${pg_url:+$(psql --version), through pgbouncer transaction pooling}"
  echo "Redis: ${redis_url:+$(redis-server --version | cut -d' ' -f3), appendonly, appendfsync everysec}"
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# The seed's flash-sale script: an atomic check-and-decrement of one counter.
seed_script='if tonumber(redis.call("GET", KEYS[1])) > 0 then return redis.call("DECR", KEYS[1]) else return -1 end'

# One client's request, as a command line that prints "held" when it got a unit.
request_of() {  # request_of PEER LOCATION
  case $1 in
    stock) echo "$STOCK --db '$2' reserve drop --hold 1h >/dev/null 2>&1 && echo held" ;;
    naive-sqlite) echo "a=\$(sqlite3 -cmd '.timeout 10000' '$2' 'SELECT available FROM items'); \
[ \"\$a\" -gt 0 ] && sqlite3 -cmd '.timeout 10000' '$2' \"UPDATE items SET available = \$((a - 1))\" && echo held" ;;
    naive-postgresql) echo "a=\$(psql '$2' -qAtX -c 'SELECT available FROM items'); \
[ \"\$a\" -gt 0 ] && psql '$2' -qAtX -c \"UPDATE items SET available = \$((a - 1))\" >/dev/null && echo held" ;;
    naive-redis) echo "a=\$(redis-cli -s '$redis_socket' GET naive); \
[ \"\$a\" -gt 0 ] && redis-cli -s '$redis_socket' SET naive \$((a - 1)) >/dev/null && echo held" ;;
    seed-eval) echo "[ \"\$(redis-cli -s '$redis_socket' EVAL '$seed_script' 1 seed)\" -ge 0 ] && echo held" ;;
  esac
}

# Puts UNITS units on sale for PEER (fresh state each time).
stock_units() {  # stock_units PEER LOCATION UNITS
  case $1 in
    stock) "$STOCK" --db "$2" set drop --quantity "$3" >/dev/null ;;
    naive-sqlite) rm -f "$2"; sqlite3 "$2" "CREATE TABLE items (available INTEGER); INSERT INTO items VALUES ($3)" ;;
    naive-postgresql) psql "$2" -qAtX -c "DROP TABLE IF EXISTS items" -c "CREATE TABLE items (available bigint)" \
      -c "INSERT INTO items VALUES ($3)" >/dev/null ;;
    naive-redis) redis-cli -s "$redis_socket" SET naive "$3" >/dev/null ;;
    seed-eval) redis-cli -s "$redis_socket" SET seed "$3" >/dev/null ;;
  esac
}

race() {  # race LABEL ROLE PEER LOCATION BACKEND CLIENTS
  local label=$1 role=$2 peer=$3 location=$4 backend=$5 count=$6 start end seconds total units granted
  total=$((count * requests)) units=$(((count * requests + 1) / 2))
  stock_units "$peer" "$location" "$units"
  local command
  command=$(request_of "$peer" "$location")
  rm -f "$work"/granted.*
  start=$EPOCHREALTIME
  for ((client = 0; client < count; client++)); do
    (for ((i = 0; i < requests; i++)); do bash -c "$command" || true; done >"$work/granted.$client") &
  done
  wait
  end=$EPOCHREALTIME
  seconds=$(bench_elapsed "$start" "$end")
  granted=$(cat "$work"/granted.* | grep -c held || true)
  local oversold=$((granted > units ? granted - units : 0)) verdict=ok
  if [[ $role == tool || $peer == seed-eval ]]; then
    check "$label on $backend, $count clients: $granted holds for $units units" [ "$granted" = "$units" ]
    [[ $granted == "$units" ]] || verdict=wrong
  fi
  if [[ $peer == stock ]]; then
    check "$label on $backend, $count clients: available + held + sold = total" \
      bash -c "'$STOCK' --db '$location' check >/dev/null"
    "$STOCK" --db "$location" set drop --quantity 0 >/dev/null 2>&1 || true
  fi
  bench_record "race: $count client(s) x $requests requests for $units units on $backend" \
    "$role" "$label" 1 "$seconds" "" 0 "$verdict" "$command"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$backend" "$count" "$seconds" \
    "$(python3 -c "print(round($total / $seconds))")" "$granted/$units" "$oversold" >>"$out/race.tsv"
}

printf 'label\tbackend\tclients\tseconds\trequests_per_s\tgranted\toversold\n' >"$out/race.tsv"
for count in "${clients[@]}"; do
  for ((index = 0; index < ${#backends[@]}; index += 2)); do
    backend=${backends[index]} location=${backends[index + 1]}
    echo "run.sh: race, $count client(s), $backend (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
    # Each race its own state: the SKU starts with exactly its units.
    case $backend in
      sqlite) location=$work/race-$count.db ;;
      redis) location="$redis_url?namespace=race$count" ;;
      postgresql) psql "$pg_url" -qAtX -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public" >/dev/null ;;
    esac
    race "stock reserve" tool stock "$location" "$backend" "$count"
    case $backend in
      sqlite) command -v sqlite3 >/dev/null && race "naive read-then-write" peer naive-sqlite "$work/naive.db" sqlite "$count" ;;
      postgresql) race "naive read-then-write" peer naive-postgresql "$location" postgresql "$count" ;;
      redis)
        race "naive read-then-write" peer naive-redis "" redis "$count"
        race "redis-cli EVAL (seed script)" peer seed-eval "" redis "$count"
        ;;
    esac
  done
done

# --- (b) batch ---------------------------------------------------------------------------------
python3 -c "
import json
for i in range($batch):
    print(json.dumps({'sku': 'drop', 'key': f'k{i}'}))" >"$work/requests.jsonl"
printf 'label\tbackend\trequests\tseconds\treservations_per_s\n' >"$out/batch.tsv"
for ((index = 0; index < ${#backends[@]}; index += 2)); do
  backend=${backends[index]} location=${backends[index + 1]}
  [[ $backend == sqlite ]] && location=$work/batch.db
  [[ $backend == redis ]] && location="$redis_url?namespace=batch"
  if [[ $backend == postgresql ]]; then
    psql "$pg_url" -qAtX -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public" >/dev/null
  fi
  "$STOCK" --db "$location" set drop --quantity "$batch" >/dev/null
  echo "run.sh: batch of $batch on $backend (loadavg $(cut -d' ' -f1 /proc/loadavg))" >&2
  start=$EPOCHREALTIME
  "$STOCK" --db "$location" reserve --batch --hold 1h "$work/requests.jsonl" >"$work/batch.out"
  end=$EPOCHREALTIME
  seconds=$(bench_elapsed "$start" "$end")
  check "batch on $backend: $batch holds" [ "$(grep -c '"state":"held"' "$work/batch.out")" = "$batch" ]
  check "batch on $backend: nothing left" \
    bash -c "'$STOCK' --db '$location' show drop | grep -q '\"available\":0,\"held\":$batch'"
  bench_record "batch: $batch reservations of one SKU in one process on $backend" tool \
    "stock reserve --batch" 1 "$seconds" "" 0 ok "stock reserve --batch requests.jsonl"
  printf '%s\t%s\t%s\t%s\t%s\n' "stock reserve --batch" "$backend" "$batch" "$seconds" \
    "$(python3 -c "print(round($batch / $seconds))")" >>"$out/batch.tsv"
done
if [[ -n $redis_url ]] && command -v redis-benchmark >/dev/null; then
  redis-cli -s "$redis_socket" SET seed "$((batch * 100))" >/dev/null
  sha=$(redis-cli -s "$redis_socket" SCRIPT LOAD "$seed_script")
  start=$EPOCHREALTIME
  redis-benchmark -s "$redis_socket" -n "$batch" -c 1 -q EVALSHA "$sha" 1 seed >/dev/null
  end=$EPOCHREALTIME
  seconds=$(bench_elapsed "$start" "$end")
  check "redis-benchmark EVALSHA took $batch units" \
    [ "$(redis-cli -s "$redis_socket" GET seed)" = "$((batch * 99))" ]
  bench_record "batch: $batch reservations of one SKU in one process on redis" peer \
    "redis-benchmark EVALSHA (seed script)" 1 "$seconds" "" 0 ok "redis-benchmark -n $batch -c 1 EVALSHA"
  printf '%s\t%s\t%s\t%s\t%s\n' "redis-benchmark EVALSHA (seed script)" redis "$batch" \
    "$seconds" "$(python3 -c "print(round($batch / $seconds))")" >>"$out/batch.tsv"
fi
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 - "$out" <<'PY' | tee "$out/summary.md"
import sys
out = sys.argv[1]
print("| race: clients each making requests one process at a time | backend | clients | requests/s | granted/units | oversold |")
print("|---|---|---:|---:|---:|---:|")
for line in list(open(f"{out}/race.tsv"))[1:]:
    label, backend, count, seconds, rate, granted, oversold = line.rstrip("\n").split("\t")
    print(f"| {label} | {backend} | {count} | {rate} | {granted} | {oversold} |")
print()
print("| batch: one SKU, one process | backend | requests | seconds | reservations/s |")
print("|---|---|---:|---:|---:|")
for line in list(open(f"{out}/batch.tsv"))[1:]:
    label, backend, count, seconds, rate = line.rstrip("\n").split("\t")
    print(f"| {label} | {backend} | {count} | {float(seconds):.2f} | {rate} |")
PY
if ((failures)); then
  echo "run.sh: $failures correctness check(s) failed, see $out/checks.txt" >&2
  exit 1
fi
