#!/usr/bin/env bash
# bench/rollup peer: the per-minute rollup of gen_ads.py's impressions by the sqlite3 CLI.
#
# sqlite_rollup.sh EVENTS.jsonl
#
# Prints one line per (minute, campaign, creative, geo), tab-separated and sorted: the minute
# (RFC 3339 UTC), campaign, creative, geo, count, and the sum, min and max of cost in cents
# (cost is decimal text with two places; its digits without the point are the cents, summed as
# integers, exactly). One sqlite3 process with an in-memory database: `.import` loads each
# line whole into a one-column table (ascii mode with the unit separator 0x1F, which JSON text
# never holds unescaped), then SQL with json_extract. SQLITE3 selects the binary.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: sqlite_rollup.sh EVENTS.jsonl" >&2; exit 2; }
[[ -r $1 ]] || { echo "sqlite_rollup.sh: cannot read $1" >&2; exit 66; }
case $1 in *[$'\n'\"]*) echo "sqlite_rollup.sh: unusable file name" >&2; exit 2 ;; esac
us=$'\x1f'
"${SQLITE3:-sqlite3}" -bail :memory: <<SQL
CREATE TABLE raw(line TEXT);
.mode ascii
.separator "$us" "\\n"
.import "$1" raw
.mode tabs
WITH events AS (
  SELECT json_extract(line, '\$.ts') / 60 * 60 AS minute,
         json_extract(line, '\$.campaign') AS campaign,
         json_extract(line, '\$.creative') AS creative,
         json_extract(line, '\$.geo') AS geo,
         CAST(replace(json_extract(line, '\$.cost'), '.', '') AS INTEGER) AS cents
  FROM raw
)
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', minute, 'unixepoch'), campaign, creative, geo, count(*),
       sum(cents), min(cents), max(cents)
FROM events GROUP BY minute, campaign, creative, geo
ORDER BY 1, 2, 3, 4;
SQL
