"""zscore --db: incremental runs equal one run, runs on one file take turns, a killed or
failed run leaves the state as it was, and gaps, seasons and time zones behave as documented."""

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase
from zscore_oracle import detect

START = 1767225600  # 2026-01-01T00:00:00Z

METHODS = [
    ["--method", "zscore", "--window", "20"],
    ["--method", "ewma", "--alpha", "0.2"],
    ["--method", "robust", "--window", "25"],
    ["--method", "seasonal", "--season", "1d", "--lookback", "3", "--tz", "Europe/Berlin"],
    ["--method", "holt-winters", "--season-length", "24", "--beta", "0.1", "--gamma", "0.3"],
    ["--method", "holt-winters", "--season-length", "24", "--fit", "--min-history", "72"],
]


def hourly(count, seed, series=("a", "b")):
    """Interleaved hourly points of a few series: a daily cycle, noise and spikes."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        for name in series:
            hour = index % 24
            value = 100 + 20 * (6 <= hour < 18) + rng.gauss(0, 3)
            if rng.random() < 0.02:
                value += rng.choice([-60, 60])
            rows.append({"ts": START + 3600 * index, "metric": name, "value": round(value, 3)})
    return rows


def lines(rows):
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)


def incidents_of(records, threshold, recover):
    """The alert_start and alert_end records the rule of zscore(1), Incidents, derives from
    the point records of one run (trigger 1/1): a series' incident starts at a point whose
    |z| exceeds the threshold, and ends at the recover-th judged point in a row that does
    not."""
    state, events = {}, []
    for record in records:
        if "event" in record or record["anomaly"] is None:
            continue
        series = record["metric"]
        started, calm = state.get(series, (None, 0))
        exceeds = abs(record["z"]) > threshold
        if started is None and exceeds:
            events.append({"ts": record["ts"], "metric": series, "event": "alert_start",
                           "reason": "anomaly", "value": record["value"], "z": record["z"],
                           "method": record["method"]})
            state[series] = (record["ts"], 0)
        elif started is not None:
            calm = 0 if exceeds else calm + 1
            if calm < recover:
                state[series] = (started, calm)
                continue
            events.append({"ts": record["ts"], "metric": series, "event": "alert_end",
                           "reason": "anomaly", "started": started, "method": record["method"]})
            state[series] = (None, 0)
    return events


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def table(path, sql):
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


class ZscoreState(ToolTestCase):
    tool = "zscore"

    def run_ok(self, *args, stdin=b""):
        result = self.run_tool(*args, stdin=stdin)
        self.assertStatus(result, 0)
        return result

    def test_incremental_runs_equal_one_run(self):
        """Point and incident records alike: an incident open at a cut ends in a later run."""
        rows = hourly(24 * 12, seed=1)
        rng = random.Random(2)
        ended_in_a_later_run = 0
        for method in METHODS:
            args = ["--key", "metric", "--recover", "3", "--records", "both", *method]
            whole = self.run_ok(*args, stdin=lines(rows)).out
            records = [json.loads(line) for line in whole.splitlines()]
            points = [record for record in records if "event" not in record]
            self.assertEqual(len(points), len(rows))
            for record in points:
                record["ts"] = iso(record["ts"])
            threshold = 3.5 if "robust" in method else 3
            events = incidents_of(points, threshold, recover=3)
            self.assertGreater(len(events), 2, method)
            self.assertEqual([record for record in records if "event" in record], events)
            for pieces in (2, 5):
                db = f"{METHODS.index(method)}-{pieces}.db"
                cuts = sorted(rng.sample(range(1, len(rows)), pieces - 1))
                out = ""
                for first, last in zip([0] + cuts, cuts + [len(rows)]):
                    piece = self.run_ok("--db", db, *args, stdin=lines(rows[first:last])).out
                    events = [json.loads(line) for line in piece.splitlines() if '"event"' in line]
                    starts = {(e["metric"], e["ts"]) for e in events if e["event"] == "alert_start"}
                    ended_in_a_later_run += sum((e["metric"], e["started"]) not in starts
                                                for e in events if e["event"] == "alert_end")
                    out += piece
                self.assertEqual(out, whole, f"{method} in {pieces} pieces")
                self.assertEqual(os.stat(self.path(db)).st_mode & 0o777, 0o600)
            # Feeding the file again judges nothing: every point is at or before its series'
            # latest time.
            again = self.run_tool("--db", db, *args, stdin=lines(rows))
            self.assertStatus(again, 0)
            self.assertEqual(again.out, "")
            self.assertIn(f"{len(rows)} point(s) at or before", again.err)
        self.assertGreater(ended_in_a_later_run, 0)

    def test_other_settings_on_the_same_file_are_refused(self):
        rows = hourly(40, seed=3)
        self.run_ok("--db", "z.db", "--key", "metric", "--window", "10", stdin=lines(rows[:30]))
        before = table(self.path("z.db"), "SELECT key, latest, state FROM zscore_series")
        for other in (["--key", "metric", "--window", "11"],
                      ["--window", "10"],
                      ["--key", "metric", "--window", "10", "--method", "robust"]):
            result = self.run_tool("--db", "z.db", *other, stdin=lines(rows[30:]))
            self.assertError(result, 65, "z.db", "the state was kept with")
            self.assertEqual(result.out, "")
        self.assertEqual(table(self.path("z.db"), "SELECT key, latest, state FROM zscore_series"),
                         before)

    def test_a_bad_line_leaves_the_state_as_it_was(self):
        rows = hourly(40, seed=4)
        self.run_ok("--db", "z.db", "--key", "metric", stdin=lines(rows[:20]))
        before = table(self.path("z.db"), "SELECT key, latest, state FROM zscore_series")
        bad = lines(rows[20:30]) + '{"ts":1,"metric":"a","value":"x"}\n' + lines(rows[30:])
        result = self.run_tool("--db", "z.db", "--key", "metric", stdin=bad)
        self.assertError(result, 65, "<stdin>:11:", "field 'value'")
        self.assertEqual(table(self.path("z.db"), "SELECT key, latest, state FROM zscore_series"),
                         before)

    def test_damaged_and_foreign_state_files(self):
        self.run_ok("--db", "z.db", stdin=lines(hourly(5, seed=5, series=("a",))))
        with sqlite3.connect(self.path("z.db")) as db:
            db.execute("UPDATE zscore_series SET state = x'0102'")
        self.assertError(self.run_tool("--db", "z.db", stdin=lines(hourly(6, 5, ("a",)))), 65,
                         "z.db", "damaged")
        self.write("text.db", "not a database at all" * 100)
        self.assertStatus(self.run_tool("--db", "text.db", stdin=b""), 65)
        with sqlite3.connect(self.path("other.db")) as db:
            db.execute("CREATE TABLE mine (x)")
        self.assertStatus(self.run_tool("--db", "other.db", stdin=b""), 65)
        self.assertError(self.run_tool("--db", "missing-dir/z.db", stdin=b""), 73, "missing-dir")

    def test_concurrent_runs_take_turns(self):
        rows = hourly(24 * 10, seed=6)
        self.write("all.jsonl", lines(rows))
        # Outputs go to files: a run blocked on a full pipe nobody reads would hold the
        # writer lock (runs take turns) and stall the others.
        children = []
        for index in range(6):
            with open(self.path(f"out{index}"), "wb") as out:
                children.append(self.start_tool("--db", "z.db", "--key", "metric",
                                                "--busy-timeout", "60s", "all.jsonl",
                                                stdout=out, stderr=subprocess.PIPE))
        outputs = []
        for index, child in enumerate(children):
            _, err = child.communicate(timeout=120)
            self.assertEqual(child.returncode, 0, err)
            outputs.append(self.read(f"out{index}").decode())
        # One run judged every point; the others found them all already seen.
        judged = sorted(len(out.splitlines()) for out in outputs)
        self.assertEqual(judged, [0] * 5 + [len(rows)])
        alone = self.run_ok("--key", "metric", "all.jsonl").out
        self.assertIn(alone, outputs)

    def test_a_busy_file_is_exit_75_after_the_timeout(self):
        self.run_ok("--db", "z.db", stdin=b"")
        holder = self.start_tool("--db", "z.db", stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The holder has the writer lock while it waits for its input.
        deadline = time.monotonic() + 10
        result = None
        while time.monotonic() < deadline:
            result = self.run_tool("--db", "z.db", "--busy-timeout", "200ms", stdin=b"")
            if result.status == 75:
                break
            time.sleep(0.05)
        self.assertError(result, 75, "busy")
        holder.stdin.close()
        self.assertEqual(holder.wait(timeout=30), 0)

    def test_sigkill_leaves_a_state_that_continues_exactly(self):
        rows = hourly(24 * 1000, seed=7, series=[f"s{i}" for i in range(10)])
        self.write("head.jsonl", lines(rows[:2000]))
        self.write("rest.jsonl", lines(rows[2000:]))
        args = ["--key", "metric", "--method", "robust", "--window", "50"]
        self.run_ok("--db", "z.db", *args, "head.jsonl")
        after_head = table(self.path("z.db"), "SELECT * FROM zscore_series ORDER BY key")
        kills = 0
        for delay in (0.02, 0.1, 0.25):
            child = self.start_tool("--db", "z.db", *args, "rest.jsonl",
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            child.wait()
            self.assertEqual(table(self.path("z.db"), "PRAGMA integrity_check"), [("ok",)])
            state = table(self.path("z.db"), "SELECT * FROM zscore_series ORDER BY key")
            if child.returncode == -signal.SIGKILL:
                kills += 1
                self.assertEqual(state, after_head, f"killed after {delay}s")
        self.assertGreater(kills, 0)
        rest = self.run_tool("--db", "z.db", *args, "rest.jsonl")
        self.assertStatus(rest, 0)
        whole = self.run_ok(*args, "head.jsonl", "rest.jsonl").out.splitlines()
        if rest.out:  # no kill landed after the commit: the rerun judged the rest itself
            self.assertEqual(rest.out.splitlines(), whole[2000:])
        self.run_ok("--db", "clean.db", *args, "head.jsonl")
        self.run_ok("--db", "clean.db", *args, "rest.jsonl")
        self.assertEqual(table(self.path("z.db"), "SELECT * FROM zscore_series ORDER BY key"),
                         table(self.path("clean.db"), "SELECT * FROM zscore_series ORDER BY key"))

    def test_missing_zero_fills_gaps_with_zeros(self):
        rows = [{"ts": START, "value": 5}, {"ts": START + 60, "value": 5},
                {"ts": START + 300, "value": 9}]
        out = [json.loads(line) for line in self.run_ok(
            "--window", "3", "--interval", "1m", "--missing", "zero",
            stdin=lines(rows)).out.splitlines()]
        # The three zeros are judged and printed as records of their own, between the points.
        self.assertEqual([(r["ts"], r["value"], r.get("filled")) for r in out],
                         [(START, 5, None), (START + 60, 5, None),
                          ("2026-01-01T00:02:00Z", 0, True), ("2026-01-01T00:03:00Z", 0, True),
                          ("2026-01-01T00:04:00Z", 0, True), (START + 300, 9, None)])
        self.assertEqual(out[2]["reason"], "warming_up")
        # By hand: before 00:03 the window is 5, 5, 0 (mean 10/3, sample deviation 5/sqrt(3));
        # before 00:04 it is 5, 0, 0 (mean 5/3, the same deviation).
        self.assertAlmostEqual(out[3]["z"], -2 / math.sqrt(3), places=12)
        self.assertAlmostEqual(out[4]["z"], -1 / math.sqrt(3), places=12)
        last = out[5]
        self.assertEqual((last["expected"], last["z"], last["anomaly"]), (0, None, True))
        only = self.run_ok("--window", "3", "--interval", "1m", "--missing", "zero",
                           "--only-anomalies", stdin=lines(rows)).out.splitlines()
        self.assertEqual([json.loads(line)["value"] for line in only], [9])
        skip = self.run_ok("--window", "2", "--interval", "1m", stdin=lines(rows)).out.splitlines()
        self.assertEqual(json.loads(skip[2])["expected"], 5)
        self.assertError(self.run_tool("--missing", "zero"), 2, "--interval")
        self.assertError(self.run_tool("--missing", "some", "--interval", "1m"), 2, "--missing")
        huge = lines([{"ts": 0, "value": 1}, {"ts": 10 ** 9, "value": 1}])
        self.assertError(self.run_tool("--interval", "1s", "--missing", "zero", stdin=huge), 65,
                         "<stdin>:2:", "check --interval")

    def test_an_outage_that_removes_rows_is_flagged(self):
        rng = random.Random(5)
        hours = [100 + rng.randint(-3, 3) for _ in range(48)]
        rows = [{"ts": START + 3600 * hour, "metric": "orders", "value": value}
                for hour, value in enumerate(hours) if not 30 <= hour <= 32]
        out = [json.loads(line) for line in self.run_ok(
            "--key", "metric", "--window", "24", "--interval", "1h", "--missing", "zero",
            stdin=lines(rows)).out.splitlines()]
        self.assertEqual(len(out), 48)
        filled = [r for r in out if r.get("filled")]
        self.assertEqual([(r["ts"], r["metric"], r["value"], r["anomaly"]) for r in filled],
                         [("2026-01-02T06:00:00Z", "orders", 0, True),
                          ("2026-01-02T07:00:00Z", "orders", 0, True),
                          ("2026-01-02T08:00:00Z", "orders", 0, True)])
        # Every record, filled ones included, is the oracle's judgement of the zero-filled
        # series.
        values = [0 if 30 <= hour <= 32 else value for hour, value in enumerate(hours)]
        want = detect(values, window=24)
        for index, (record, reference) in enumerate(zip(out, want)):
            self.assertEqual(record["anomaly"], reference["anomaly"], index)
            if reference["z"] is not None:
                self.assertAlmostEqual(record["z"], reference["z"], places=9)

    def test_fit_says_what_it_chose_once_per_series(self):
        rng = random.Random(9)
        rows = [{"ts": START + 3600 * hour, "host": host,
                 "value": 50 + 10 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 1)}
                for hour in range(24 * 5) for host in ("a", "b")]
        args = ("--key", "host", "--method", "holt-winters", "--season-length", "24", "--fit")
        result = self.run_tool(*args, "--db", "z.db", stdin=lines(rows[:24 * 8]))
        self.assertStatus(result, 0)
        notes = result.err.splitlines()
        self.assertEqual(len(notes), 2, result.err)
        for note, host in zip(notes, ("a", "b")):
            self.assertRegex(note, r'^zscore: note: series \{"host":"%s"\}: --fit chose alpha '
                             r'[0-9.e-]+ beta [0-9.e-]+ gamma [0-9.e-]+ from its first 72 '
                             r'points$' % host)
        # Fitted before: a later run says nothing; --quiet says nothing either.
        later = self.run_tool(*args, "--db", "z.db", stdin=lines(rows[24 * 8:]))
        self.assertStatus(later, 0)
        self.assertEqual(later.err, "")
        self.assertEqual(self.run_tool(*args, "--quiet", stdin=lines(rows)).err, "")

    def test_absent_after_alerts_for_a_series_gone_silent(self):
        rows = [{"ts": START + 600 * step, "host": host, "value": 1}
                for step in range(12) for host in ("a", "b") if host == "a" or step < 6]
        result = self.run_tool("--key", "host", "--window", "3", "--absent-after", "30m",
                               "--only-anomalies", "--fail-on-anomaly", stdin=lines(rows))
        self.assertStatus(result, 1)
        self.assertEqual([json.loads(line) for line in result.out.splitlines()],
                         [{"ts": "2026-01-01T01:50:00Z", "host": "b",
                           "absent_since": "2026-01-01T00:50:00Z", "anomaly": True,
                           "method": "zscore", "reason": "absent"}])
        calm = self.run_tool("--key", "host", "--window", "3", "--absent-after", "2h",
                             "--only-anomalies", "--fail-on-anomaly", stdin=lines(rows))
        self.assertStatus(calm, 0)
        # With --db a series that sends nothing at all in this run is alerted from the store.
        self.run_ok("--db", "z.db", "--key", "host", "--window", "3", stdin=lines(rows[:4]))
        later = [{"ts": START + 7200 + 600 * step, "host": "a", "value": 1} for step in range(3)]
        alerted = self.run_tool("--db", "z.db", "--key", "host", "--window", "3",
                                "--absent-after", "1h", "--only-anomalies", stdin=lines(later))
        self.assertStatus(alerted, 0)
        self.assertEqual([(r["host"], r["absent_since"]) for r in
                          map(json.loads, alerted.out.splitlines())],
                         [("b", "2026-01-01T00:10:00Z")])

    def test_incidents_start_and_end_once_across_runs(self):
        """An alert and a silence, each an incident: alert_start once, alert_end once, and
        --fail-on-alert-start 1 only for the run in which one started."""
        def run(rows, *extra):
            result = self.run_tool("--db", "z.db", "--key", "host", "--window", "3",
                                   "--recover", "2", "--absent-after", "20m", "--records",
                                   "incidents", "--fail-on-alert-start", *extra,
                                   stdin=lines(rows))
            return result.status, [json.loads(line) for line in result.out.splitlines()]

        def point(step, host, value):
            return {"ts": START + 600 * step, "host": host, "value": value}

        # a: 10, 12, 14 warm up (mean 12, sd 2); 30 is z = 9 and starts an alert. b: its
        # latest point is 30 minutes before the run's (step 4), more than --absent-after.
        first = [point(0, "a", 10), point(0, "b", 5), point(1, "a", 12), point(1, "b", 5),
                 point(2, "a", 14), point(3, "a", 30), point(4, "a", 12)]
        self.assertEqual(run(first), (1, [
            {"ts": "2026-01-01T00:30:00Z", "host": "a", "event": "alert_start",
             "reason": "anomaly", "value": 30, "z": 9, "method": "zscore"},
            {"ts": "2026-01-01T00:40:00Z", "host": "b", "event": "alert_start",
             "reason": "absent", "absent_since": "2026-01-01T00:10:00Z", "method": "zscore"}]))
        self.assertEqual(table(self.path("z.db"), "SELECT alert_started, absent_started FROM "
                               "zscore_series ORDER BY key"),
                         [((START + 1800) * 10 ** 6, None), (None, (START + 2400) * 10 ** 6)])
        # Still open: a's second calm point ends its alert (--recover 2); b stays silent and
        # starts nothing new: status 0.
        self.assertEqual(run([point(5, "a", 13)]), (0, [
            {"ts": "2026-01-01T00:50:00Z", "host": "a", "event": "alert_end",
             "reason": "anomaly", "started": "2026-01-01T00:30:00Z", "method": "zscore"}]))
        # b's next point ends its silence.
        self.assertEqual(run([point(6, "b", 5), point(6, "a", 13)]), (0, [
            {"ts": "2026-01-01T01:00:00Z", "host": "b", "event": "alert_end",
             "reason": "absent", "started": "2026-01-01T00:40:00Z", "method": "zscore"}]))
        self.assertEqual(table(self.path("z.db"), "SELECT alert_started, absent_started FROM "
                               "zscore_series"), [(None, None), (None, None)])
        # --records both: each incident record follows the point that opened it.
        both = self.run_tool("--window", "3", "--records", "both", stdin=lines(
            [{"ts": START + 60 * i, "value": v} for i, v in enumerate([10, 12, 14, 30])]))
        self.assertEqual([json.loads(line).get("event") for line in both.out.splitlines()],
                         [None, None, None, None, "alert_start"])
        self.assertError(self.run_tool("--records", "some"), 2, "--records")

    def test_a_silence_found_while_only_stale_points_came_is_kept(self):
        """A series whose points this run were all judged before is silent all the same: its
        alert_start is kept for the alert_end of a later run."""
        args = ("--db", "z.db", "--key", "host", "--absent-after", "1h", "--records",
                "incidents")
        self.run_ok(*args, stdin=lines([{"ts": START, "host": "b", "value": 1}]))
        stale_and_late = [{"ts": START, "host": "b", "value": 1},
                          {"ts": START + 7200, "host": "a", "value": 1}]
        self.assertEqual([json.loads(line) for line in self.run_ok(
            *args, stdin=lines(stale_and_late)).out.splitlines()],
                         [{"ts": "2026-01-01T02:00:00Z", "host": "b", "event": "alert_start",
                           "reason": "absent", "absent_since": "2026-01-01T00:00:00Z",
                           "method": "zscore"}])
        back = self.run_ok(*args, stdin=lines([{"ts": START + 7260, "host": "b", "value": 1}]))
        self.assertEqual([json.loads(line) for line in back.out.splitlines()],
                         [{"ts": "2026-01-01T02:01:00Z", "host": "b", "event": "alert_end",
                           "reason": "absent", "started": "2026-01-01T02:00:00Z",
                           "method": "zscore"}])

    def test_a_state_from_before_incidents_is_upgraded(self):
        """A file of schema version 1 (no incident columns) is read and upgraded; an alert it
        held open ends with "started": null."""
        values = [10, 12, 14, 30]
        rows = [{"ts": START + 60 * i, "value": v} for i, v in enumerate(values)]
        self.run_ok("--db", "z.db", "--window", "3", stdin=lines(rows))
        # The settings text of the defaults is the one earlier versions wrote (new options add
        # to it only when not at their default), so their files are still accepted.
        self.assertEqual(table(self.path("z.db"), "SELECT value FROM zscore_settings"),
                         [("method=zscore window=3 missing=skip min-history=0 trigger=1/1 key= "
                           "value-field=value time-field=ts",)])
        with sqlite3.connect(self.path("z.db")) as db:  # as zscore wrote it before
            db.execute("ALTER TABLE zscore_series DROP COLUMN alert_started")
            db.execute("ALTER TABLE zscore_series DROP COLUMN absent_started")
            db.execute("UPDATE sluice_meta SET version = 1 WHERE component = 'zscore'")
        later = self.run_tool("--db", "z.db", "--window", "3", "--records", "incidents",
                              stdin=lines([{"ts": START + 600, "value": 14}]))
        self.assertStatus(later, 0)
        self.assertEqual([json.loads(line) for line in later.out.splitlines()],
                         [{"ts": "2026-01-01T00:10:00Z", "event": "alert_end",
                           "reason": "anomaly", "started": None, "method": "zscore"}])
        self.assertEqual(table(self.path("z.db"), "SELECT version FROM sluice_meta WHERE "
                               "component = 'zscore'"), [(2,)])

    def test_seasonal_phases_follow_the_local_clock(self):
        """Daily points at 09:00 in New York, across the switch to summer time on 2026-03-08:
        in local time they keep one phase; in UTC the hour moves and the phase restarts."""
        rows = []
        for day in range(1, 15):
            hour_utc = 14 if day < 8 else 13
            ts = f"2026-03-{day:02d}T{hour_utc}:00:00Z"
            rows.append({"ts": ts, "value": 100 + (day % 3)})
        args = ["--method", "seasonal", "--season", "1d", "--lookback", "3"]
        local = [json.loads(x) for x in self.run_ok(*args, "--tz", "America/New_York",
                                                    stdin=lines(rows)).out.splitlines()]
        utc = [json.loads(x) for x in self.run_ok(*args, stdin=lines(rows)).out.splitlines()]
        self.assertEqual([r["anomaly"] is None for r in local], [True] * 3 + [False] * 11)
        self.assertEqual([r["anomaly"] is None for r in utc], [True] * 3 + [False] * 4 +
                         [True] * 3 + [False] * 4)
        # Day 8, by hand: the last three 09:00 values were days 5, 6, 7: 102, 100, 101.
        self.assertEqual(local[7]["expected"], 101)
        self.assertError(self.run_tool(*args, "--tz", "Mars/Olympus"), 2, "--tz")
        self.assertError(self.run_tool(*args, "--interval", "7m"), 2, "--season")


if __name__ == "__main__":
    unittest.main()
