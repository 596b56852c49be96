#!/usr/bin/env node
// bench/cohort peer: the weekly retention matrix of a JSON Lines event file, by DuckDB.
//
// node duckdb_matrix.mjs EVENTS.jsonl [THREADS]
//
// Prints one line per cell, tab-separated: cohort (YYYY-MM-DD, the Monday of the user's first
// week), period k, cohort size, retained (users of the cohort active in week cohort+k), for k
// from 0 to the week of the latest event, by cohort then k: the same cells as
// `cohort --period week`. Weeks are ISO weeks (Monday start) in UTC. THREADS sets DuckDB's
// `threads` setting (default: DuckDB's own default, the number of cores).
import { DuckDBInstance } from '@duckdb/node-api';

const [path, threads] = process.argv.slice(2);
if (!path) {
  console.error('usage: node duckdb_matrix.mjs EVENTS.jsonl [THREADS]');
  process.exit(2);
}
const literal = (text) => `'${text.replaceAll("'", "''")}'`;
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run("SET TimeZone = 'UTC'");
if (threads) await connection.run(`SET threads = ${Number(threads)}`);
const sql = `
WITH user_weeks AS (        -- each (user, week) with at least one event, once
  SELECT DISTINCT "user" AS u, date_trunc('week', ts)::DATE AS w
  FROM read_ndjson(${literal(path)}, columns = {ts: 'TIMESTAMPTZ', "user": 'VARCHAR'})
),
firsts AS (SELECT u, min(w) AS c FROM user_weeks GROUP BY u),
sizes AS (SELECT c, count(*) AS size FROM firsts GROUP BY c),
cells AS (
  SELECT f.c, datediff('day', f.c, uw.w) // 7 AS k, count(*) AS retained
  FROM user_weeks uw JOIN firsts f USING (u) GROUP BY ALL
),
grid AS (
  SELECT c, size, unnest(range(0, datediff('day', c, (SELECT max(w) FROM user_weeks)) // 7 + 1)) AS k
  FROM sizes
)
SELECT strftime(c, '%Y-%m-%d') AS cohort, k, size, coalesce(retained, 0) AS retained
FROM grid LEFT JOIN cells USING (c, k)
ORDER BY c, k`;
const reader = await connection.runAndReadAll(sql);
const lines = reader.getRows().map((row) => row.map(String).join('\t'));
process.stdout.write(lines.length ? lines.join('\n') + '\n' : '');
