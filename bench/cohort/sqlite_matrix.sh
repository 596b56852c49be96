#!/usr/bin/env bash
# bench/cohort peer: the weekly retention matrix of a JSON Lines event file, by the sqlite3 CLI.
#
# sqlite_matrix.sh EVENTS.jsonl
#
# Prints the same cells as `cohort --period week`, one per line, tab-separated: cohort
# (YYYY-MM-DD, the Monday of the user's first week, UTC), period k, cohort size, retained (users
# of the cohort with an event in week cohort+k), for k from 0 to the week of the latest event.
#
# One sqlite3 process with an in-memory database: `.import` loads each line whole into a
# one-column table (ascii mode, with the unit separator 0x1F, which JSON text never holds
# unescaped, as the column separator, so quotes and commas are not interpreted), then SQL with
# json_extract does the rest. date(ts, '-6 days', 'weekday 1') is the Monday on or before ts's UTC
# date (SQLite reads the trailing Z of an RFC 3339 time).
# SQLITE3 selects the binary (default: sqlite3 on PATH).
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: sqlite_matrix.sh EVENTS.jsonl" >&2; exit 2; }
[[ -r $1 ]] || { echo "sqlite_matrix.sh: cannot read $1" >&2; exit 66; }
case $1 in *[$'\n'\"]*) echo "sqlite_matrix.sh: unusable file name" >&2; exit 2 ;; esac
us=$'\x1f'
"${SQLITE3:-sqlite3}" -bail :memory: <<SQL
CREATE TABLE raw(line TEXT);
.mode ascii
.separator "$us" "\\n"
.import "$1" raw
CREATE TABLE user_weeks AS
  SELECT DISTINCT json_extract(line, '\$.user') AS u,
                  date(json_extract(line, '\$.ts'), '-6 days', 'weekday 1') AS w
  FROM raw;
DROP TABLE raw;
CREATE TABLE firsts AS SELECT u, min(w) AS c FROM user_weeks GROUP BY u;
CREATE INDEX firsts_u ON firsts(u);
.mode tabs
WITH RECURSIVE
  sizes AS (SELECT c, count(*) AS size FROM firsts GROUP BY c),
  cells AS (
    SELECT f.c, CAST(round((julianday(uw.w) - julianday(f.c)) / 7) AS INTEGER) AS k,
           count(*) AS retained
    FROM user_weeks uw JOIN firsts f ON f.u = uw.u GROUP BY 1, 2
  ),
  last AS (SELECT max(w) AS lw FROM user_weeks),
  grid(c, size, k, n) AS (
    SELECT c, size, 0, CAST(round((julianday(lw) - julianday(c)) / 7) AS INTEGER) FROM sizes, last
    UNION ALL SELECT c, size, k + 1, n FROM grid WHERE k < n
  )
SELECT grid.c, grid.k, grid.size, coalesce(cells.retained, 0)
FROM grid LEFT JOIN cells ON cells.c = grid.c AND cells.k = grid.k
ORDER BY grid.c, grid.k;
SQL
