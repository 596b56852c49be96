#!/usr/bin/env bash
# bench/reindex/run.sh [--rows N] [--repeats N]: installs sqlite-utils (Debian) if missing, builds,
# and runs bench.py (see its header: one migration of a 1,000,000-row table done by reindex,
# by sqlite-utils transform and by a hand-run 12-step rebuild, each under a writer doing 1,000
# transactions a second, whose worst latency is reported per step; then backfill alone).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v sqlite-utils >/dev/null; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get install -y sqlite-utils >/dev/null
fi
"$root/scripts/build" "$root/build" >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# sqlite-utils $(sqlite-utils --version | awk '{print $NF}'), SQLite $(sqlite3 --version | cut -d' ' -f1)"
exec /usr/bin/python3 "$root/bench/reindex/bench.py" --reindex "$root/build/bin/reindex" "$@"
