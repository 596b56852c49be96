"""cohort: hand-computed matrices, a naive oracle over random inputs and options, input
order independence, and the documented exit statuses."""

import json
import os
import random
import unittest

from cohort_oracle import matrix as oracle
from sluice_cli import ToolTestCase


def lines(events):
    return "".join(json.dumps(event) + "\n" for event in events)


def cells(out):
    return [json.loads(line) for line in out.splitlines()]


def event(ts, user, name="open"):
    return {"ts": ts, "user": user, "event": name}


class Cohort(ToolTestCase):
    tool = "cohort"

    def matrix(self, events, *args, status=0):
        result = self.run_tool(*args, stdin=lines(events))
        self.assertStatus(result, status)
        return result

    def retained(self, events, *args):
        """{(cohort, period): (size, retained, complete)} of the tool's output."""
        return {(c["cohort"], c["period"]): (c["size"], c["retained"], c["complete"])
                for c in cells(self.matrix(events, *args).out)}

    def test_weekly_first_cohorts_by_hand(self):
        # Week of Mon 2026-01-05: a, b start; week of 01-12: c starts, a returns; week of
        # 01-19: b and c return. As of the last event (Wed 01-21), that week is incomplete.
        events = [event("2026-01-05T09:00:00Z", "a", "signup"),
                  event("2026-01-11T23:59:59Z", "b", "signup"),
                  event("2026-01-12T00:00:00Z", "c", "signup"),
                  event("2026-01-13T08:00:00Z", "a"),
                  event("2026-01-19T08:00:00Z", "b"),
                  event("2026-01-21T08:00:00Z", "c")]
        got = self.retained(events, "--period", "week", "--start-event", "signup")
        self.assertEqual(got, {("2026-01-05", 0): (2, 2, True), ("2026-01-05", 1): (2, 1, True),
                               ("2026-01-05", 2): (2, 1, False),
                               ("2026-01-12", 0): (1, 1, True), ("2026-01-12", 1): (1, 1, False)})
        after = self.retained(events, "--period", "week", "--start-event", "signup",
                              "--criterion", "on-or-after")
        self.assertEqual(after[("2026-01-05", 1)], (2, 2, True))  # a in week 1, b in week 2
        self.assertEqual(after[("2026-01-05", 2)], (2, 1, False))

    def test_recurring_cohorts_count_every_start_period(self):
        events = [event("2026-03-01T10:00:00Z", "a", "buy"), event("2026-03-02T10:00:00Z", "a"),
                  event("2026-03-02T11:00:00Z", "a", "buy"), event("2026-03-03T10:00:00Z", "a")]
        first = self.retained(events, "--start-event", "buy")
        self.assertEqual(sorted(first), [("2026-03-01", 0), ("2026-03-01", 1), ("2026-03-01", 2)])
        recurring = self.retained(events, "--start-event", "buy", "--cohort", "recurring")
        self.assertEqual(recurring[("2026-03-02", 0)], (1, 1, True))
        self.assertEqual(recurring[("2026-03-02", 1)], (1, 1, False))
        self.assertEqual(recurring[("2026-03-01", 1)], (1, 1, True))

    def test_iso_week_year_boundary(self):
        # 2024-12-30 (Monday) starts ISO week 2025-W01, which holds 2025-01-01.
        events = [event("2024-12-30T12:00:00Z", "a"), event("2025-01-01T12:00:00Z", "b"),
                  event("2025-01-06T00:00:00Z", "a")]
        got = self.retained(events, "--period", "week")
        self.assertEqual(got, {("2024-12-30", 0): (2, 2, True), ("2024-12-30", 1): (2, 1, False)})
        sunday = self.retained(events, "--period", "week", "--week-start", "sunday")
        self.assertEqual(sunday[("2024-12-29", 0)], (2, 2, True))

    def test_time_zone_with_a_daylight_saving_change(self):
        # New York springs forward on 2026-03-08. 2026-03-09T03:30Z is still 03-08 there
        # (23:30 EDT), 04:30Z is 03-09; in UTC both are 03-09.
        events = [event("2026-03-07T15:00:00Z", "a"), event("2026-03-09T03:30:00Z", "a"),
                  event("2026-03-09T04:30:00Z", "b")]
        ny = self.retained(events, "--tz", "America/New_York", "--as-of", "2026-03-10T04:00:00Z")
        self.assertEqual(ny[("2026-03-07", 1)], (1, 1, True))
        self.assertEqual(ny[("2026-03-07", 2)], (1, 0, True))   # 03-09 ends 03-10T04:00Z
        self.assertEqual(ny[("2026-03-09", 0)], (1, 1, True))
        utc = self.retained(events, "--as-of", "2026-03-10T04:00:00Z")
        self.assertEqual(utc[("2026-03-07", 2)], (1, 1, True))
        self.assertEqual(utc[("2026-03-09", 0)], (1, 1, True))

    def test_monthly_cohorts_and_as_of_completeness(self):
        events = [event("2026-01-31T23:00:00Z", "a"), event("2026-02-01T00:00:00Z", "b"),
                  event("2026-02-15T00:00:00Z", "a"), event("2026-03-31T23:59:59Z", "b")]
        got = self.retained(events, "--period", "month", "--as-of", "2026-04-01T00:00:00Z")
        self.assertEqual(got, {("2026-01-01", 0): (1, 1, True), ("2026-01-01", 1): (1, 1, True),
                               ("2026-01-01", 2): (1, 0, True), ("2026-01-01", 3): (1, 0, False),
                               ("2026-02-01", 0): (1, 1, True), ("2026-02-01", 1): (1, 1, True),
                               ("2026-02-01", 2): (1, 0, False)})
        # Events after the as-of period are left out; --periods limits the width.
        early = self.retained(events, "--period", "month", "--as-of", "2026-02-20T00:00:00Z",
                              "--periods", "1")
        self.assertEqual(early, {("2026-01-01", 0): (1, 1, True), ("2026-02-01", 0): (1, 1, False)})

    def test_late_events_move_users_to_the_earlier_cohort_whatever_the_order(self):
        generator = random.Random(11)
        events = [event(f"2026-02-{generator.randint(1, 28):02}T{generator.randint(0, 23):02}:00:00Z",
                        f"u{generator.randint(1, 40)}", generator.choice(["open", "buy"]))
                  for _ in range(400)]
        ordered = sorted(events, key=lambda e: e["ts"])
        args = ("--period", "week", "--start-event", "buy", "--summary")
        expected = self.matrix(ordered, *args).out
        for _ in range(3):
            generator.shuffle(events)
            self.assertEqual(self.matrix(events, *args).out, expected)

    def test_random_inputs_match_the_oracle(self):
        generator = random.Random(2026)
        zones = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "America/Santiago",
                 "Australia/Lord_Howe"]
        cases = int(os.environ.get("SLUICE_COHORT_CASES", "1000"))
        non_empty = 0
        for case in range(cases):
            base = 1767225600 + generator.randint(0, 300) * 86400  # 2026-01-01 onwards
            events = []
            for _ in range(generator.randint(0, 60)):
                ts = base + generator.randint(0, 120 * 86400)
                stamp = ts if generator.random() < 0.3 else (
                    f"@{ts}" if generator.random() < 0.1 else
                    __import__("datetime").datetime.utcfromtimestamp(ts).isoformat() + "Z")
                user = generator.choice([generator.randint(1, 15), f"u{generator.randint(1, 15)}"])
                events.append({"ts": stamp, "user": user,
                               "event": generator.choice(["signup", "open", "buy"])})
            options = {"unit": generator.choice(["day", "week", "month"]),
                       "tz": generator.choice(zones),
                       "week_start": generator.choice(["monday", "sunday", "thursday"]),
                       "cohort": generator.choice(["first", "recurring"]),
                       "criterion": generator.choice(["on", "on-or-after"]),
                       "start_event": generator.choice([None, "signup"]),
                       "return_event": generator.choice([None, "open"]),
                       "periods": generator.choice([0, 0, 3]),
                       "summary": generator.random() < 0.5}
            if events and generator.random() < 0.3:
                options["as_of"] = f"@{base + generator.randint(0, 150 * 86400)}"
            args = ["--period", options["unit"], "--tz", options["tz"], "--week-start",
                    options["week_start"], "--cohort", options["cohort"], "--criterion",
                    options["criterion"], "--periods", str(options["periods"])]
            for flag, key in (("--start-event", "start_event"), ("--return-event", "return_event"),
                              ("--as-of", "as_of")):
                if options.get(key):
                    args += [flag, options[key]]
            if options["summary"]:
                args.append("--summary")
            result = self.matrix(events, *args)
            expected = oracle(events, **options)
            self.assertEqual(cells(result.out), expected, f"case {case}: {args}\n{lines(events)}")
            non_empty += bool(expected)
        self.assertGreater(non_empty, cases * 3 // 4)

    def test_table_and_csv(self):
        events = [event("2026-01-05T10:00:00Z", "a"), event("2026-01-05T11:00:00Z", "b"),
                  event("2026-01-06T10:00:00Z", "a"), event("2026-01-06T12:00:00Z", "c"),
                  event("2026-01-07T12:00:00Z", "c")]
        table = self.matrix(events, "--format", "table", "--summary").out
        self.assertEqual(table, "cohort      size  0       1        2\n"
                                "2026-01-05  2     100.0%  50.0%    0.0%*\n"
                                "2026-01-06  1     100.0%  100.0%*\n"
                                "average           100.0%  50.0%\n")
        csv = self.matrix(events, "--format", "csv", "--summary", "--periods", "1").out
        self.assertEqual(csv.splitlines(), [
            "cohort,period,size,retained,rate,complete,period_unit,tz,windows,cohort_type,"
            "criterion",
            "2026-01-05,0,2,2,1.0000,true,day,UTC,calendar,first,on",
            "2026-01-06,0,1,1,1.0000,true,day,UTC,calendar,first,on",
            "summary,period,cohorts,size,retained,rate,period_unit,tz,windows,cohort_type,criterion",
            "average,0,2,3,3,1.0000,day,UTC,calendar,first,on"])

    def test_rate_is_rounded_half_even_to_four_decimals(self):
        # 1 of 8 = 0.125 exactly; 1/3 = 0.3333; 2/3 = 0.6667.
        events = [event("2026-01-01T00:00:00Z", f"u{i}") for i in range(8)]
        events.append(event("2026-01-02T00:00:00Z", "u0"))
        got = cells(self.matrix(events, "--as-of", "2026-01-03T00:00:00Z").out)
        self.assertEqual(got[1]["rate"], "0.1250")

    def test_bad_input_names_the_line_and_field(self):
        good = json.dumps(event("2026-01-01T00:00:00Z", "a"))
        for bad, field in (('{"ts":"2026-01-01T00:00:00Z"}', "'user' is missing"),
                           ('{"ts":"2026-01-01T00:00:00Z","user":null}', "'user'"),
                           ('{"ts":"2026-01-01T00:00:00Z","user":1.5}', "'user'"),
                           ('{"ts":"2026-02-30T00:00:00Z","user":"a"}', "'ts'"),
                           ('{"ts":true,"user":"a"}', "'ts'"),
                           ('{"ts":"2026-01-01T00:00:00Z","user":"a","event":7}', "'event'"),
                           ("not json", "")):
            result = self.run_tool(stdin=good + "\n" + bad + "\n")
            self.assertError(result, 65, "<stdin>:2", field)
            self.assertEqual(result.out, "")
        skipped = self.run_tool("--skip-invalid", stdin=good + "\n{}\n" + good + "\n")
        self.assertStatus(skipped, 1)
        self.assertIn("<stdin>:2", skipped.err)
        self.assertEqual(len(cells(skipped.out)), 1)

    def test_usage_missing_files_and_empty_input(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertStatus(self.run_tool("matrix", "--help"), 0)
        self.assertError(self.run_tool("--bogus"), 2)
        self.assertError(self.run_tool("--tz", "Mars/Olympus"), 2, "--tz")
        self.assertError(self.run_tool("--period", "year"), 2, "--period")
        self.assertError(self.run_tool("--as-of", "soon"), 2, "--as-of")
        self.assertError(self.run_tool("missing.jsonl"), 66, "missing.jsonl")
        empty = self.run_tool(stdin="")
        self.assertStatus(empty, 0)
        self.assertEqual(empty.out, "")


if __name__ == "__main__":
    unittest.main()
