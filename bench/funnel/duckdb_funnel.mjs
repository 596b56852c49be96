#!/usr/bin/env node
// bench/funnel peer: funnel --steps event=home,event=search,event=cart,event=checkout
// --window WINDOW_S (default mode) by DuckDB, as window functions: hits ordered by (time,
// step) per session; for each step k, last_value(... IGNORE NULLS) carries the start of the
// latest chain that reached step k-1, and a step-k hit extends it when within the window.
// Prints step, entities, median and p90 time to the step (nearest rank, microseconds) as TSV.
//
// node duckdb_funnel.mjs EVENTS.jsonl WINDOW_SECONDS [THREADS]
import { DuckDBInstance } from '@duckdb/node-api';

const [path, windowSeconds, threads] = process.argv.slice(2);
if (!path || !windowSeconds) {
  console.error('usage: node duckdb_funnel.mjs EVENTS.jsonl WINDOW_SECONDS [THREADS]');
  process.exit(2);
}
const window = BigInt(windowSeconds) * 1000000n;
const literal = (text) => `'${text.replaceAll("'", "''")}'`;
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
if (threads) await connection.run(`SET threads = ${Number(threads)}`);
const carry = (k) => `
s${k} AS (
  SELECT session, t, step, CASE WHEN step = ${k} AND t - c <= ${window} THEN c END AS start
  FROM (SELECT *, last_value(start IGNORE NULLS) OVER (PARTITION BY session ORDER BY t, step
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c FROM s${k - 1})
)`;
const reached = (k) => `
SELECT ${k} AS step, count(*) AS entities,
  list_sort(list(elapsed))[greatest(ceil(0.5 * count(*)), 1)::INTEGER] AS median,
  list_sort(list(elapsed))[greatest(ceil(0.9 * count(*)), 1)::INTEGER] AS p90
FROM (SELECT session, arg_min(t - start, t) AS elapsed FROM s${k} WHERE start IS NOT NULL
      GROUP BY session)`;
const sql = `
WITH s1 AS (
  SELECT session, ts * 1000 AS t, step, CASE WHEN step = 1 THEN ts * 1000 END AS start
  FROM (SELECT session, ts, CASE event WHEN 'home' THEN 1 WHEN 'search' THEN 2
          WHEN 'cart' THEN 3 WHEN 'checkout' THEN 4 END AS step
        FROM read_ndjson(${literal(path)}, columns = {ts: 'BIGINT', session: 'VARCHAR',
                                                     event: 'VARCHAR'}))
  WHERE step IS NOT NULL
),${[2, 3, 4].map(carry).join(',')}
${[1, 2, 3, 4].map(reached).join('\nUNION ALL\n')}
ORDER BY step`;
const reader = await connection.runAndReadAll(sql);
for (const row of reader.getRows()) {
  console.log(row.map((value) => (value === null ? '' : String(value))).join('\t'));
}
