"""cohort: hand-computed matrices, a naive oracle over random inputs and options, input
order independence, and the documented exit statuses."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import unittest

from cohort_oracle import matrix as oracle, property_text
from sluice_cli import ToolTestCase, rounds


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

    def test_rolling_windows_count_from_each_users_anchor(self):
        # a starts at 01-01T12:00 and returns 23h59m, 24h and 60h later; b starts at 23:00 and
        # returns 2h later (its window 0, though the calendar puts it on the next day).
        events = [event("2026-01-01T12:00:00Z", "a", "signup"),
                  event("2026-01-02T11:59:00Z", "a"), event("2026-01-02T12:00:00Z", "a"),
                  event("2026-01-04T00:00:00Z", "a"),
                  event("2026-01-01T23:00:00Z", "b", "signup"),
                  event("2026-01-02T01:00:00Z", "b")]
        rolling = self.retained(events, "--windows", "rolling", "--as-of", "2026-01-04T12:00:00Z")
        self.assertEqual(rolling, {("2026-01-01", 0): (2, 2, True), ("2026-01-01", 1): (2, 1, True),
                                   ("2026-01-01", 2): (2, 1, False),
                                   ("2026-01-01", 3): (2, 0, False)})
        calendar = self.retained(events, "--as-of", "2026-01-04T12:00:00Z")
        self.assertEqual(calendar[("2026-01-01", 1)], (2, 2, True))
        self.assertEqual(calendar[("2026-01-01", 3)], (2, 1, False))
        self.assertError(self.run_tool("--windows", "rolling", "--save-state", "x.state",
                                       stdin=lines(events)), 2, "--windows rolling")
        self.assertError(self.run_tool("ingest", "--db", "c.db", "--windows", "rolling",
                                       stdin=lines(events)), 2, "--windows rolling")
        self.assertFalse(os.path.exists(self.path("c.db")))

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
        # A process per case: a fifth of them under the sanitizers (short depth).
        cases = int(os.environ.get("SLUICE_COHORT_CASES", rounds(1000, 5000)))
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
                       "return_event": generator.choice([None, ["open"], ["open", "buy"]]),
                       "periods": generator.choice([0, 0, 3]),
                       "summary": generator.random() < 0.5,
                       "windows": generator.choice(["calendar", "calendar", "rolling"])}
            if events and generator.random() < 0.3:
                options["as_of"] = f"@{base + generator.randint(0, 150 * 86400)}"
            args = ["--period", options["unit"], "--tz", options["tz"], "--week-start",
                    options["week_start"], "--cohort", options["cohort"], "--criterion",
                    options["criterion"], "--periods", str(options["periods"]),
                    "--windows", options["windows"]]
            for flag, key in (("--start-event", "start_event"), ("--as-of", "as_of")):
                if options.get(key):
                    args += [flag, options[key]]
            if options["return_event"]:
                args += ["--return-event", ",".join(options["return_event"])]
            if options["summary"]:
                args.append("--summary")
            # An event name no event has is an error, not an empty matrix.
            wanted = [options["start_event"]] if options["start_event"] else []
            wanted += options["return_event"] or []
            names = {event["event"] for event in events}
            missing = [name for name in wanted if name not in names]
            if events and missing:
                self.assertError(self.matrix(events, *args, status=65), 65,
                                 "no event has", missing[0])
                non_empty += 1  # a case checked all the same
                continue
            result = self.matrix(events, *args)
            expected = oracle(events, **options)
            self.assertEqual(cells(result.out), expected, f"case {case}: {args}\n{lines(events)}")
            non_empty += bool(expected)
        self.assertGreater(non_empty, cases * 3 // 4)

    def test_an_event_name_no_event_has_is_an_error_naming_those_seen(self):
        events = [event("2026-01-05T09:00:00Z", "a", "signup"), event("2026-01-06T09:00:00Z", "a"),
                  event("2026-01-07T09:00:00Z", "b", "purchase")]
        self.write("events.jsonl", lines(events))
        result = self.run_tool("--start-event", "signin", "--save-state", "s.state",
                               "events.jsonl")
        self.assertError(result, 65, "--start-event signin: no event has this name (names seen: "
                         "signup, open, purchase)")
        self.assertEqual(result.out, "")
        self.assertFalse(os.path.exists(self.path("s.state")))
        both = self.run_tool("--start-event", "signin", "--return-event", "open,opn",
                             "events.jsonl")
        self.assertError(both, 65, "--start-event signin, --return-event opn: no event has "
                         "these names")
        self.assertStatus(self.run_tool("--start-event", "signup", "events.jsonl"), 0)
        self.assertStatus(self.run_tool("--start-event", "signin"), 0)  # no events: no error

    def test_several_return_events_count_any_of_them(self):
        # a returns by opening on day 1, b by buying on day 2, c only by an event not counted.
        events = [event("2026-01-05T09:00:00Z", user, "signup") for user in "abc"]
        events += [event("2026-01-06T09:00:00Z", "a", "open"),
                   event("2026-01-07T09:00:00Z", "b", "purchase"),
                   event("2026-01-07T10:00:00Z", "c", "share")]
        base = ("--start-event", "signup", "--criterion", "on-or-after", "--as-of",
                "2026-01-08T00:00:00Z")
        listed = self.retained(events, *base, "--return-event", "open,purchase")
        self.assertEqual(listed[("2026-01-05", 1)], (3, 2, True))  # a (open on day 1), b
        self.assertEqual(listed[("2026-01-05", 2)], (3, 1, True))  # b
        repeated = self.retained(events, *base, "--return-event", "purchase",
                                 "--return-event", "open")
        self.assertEqual(repeated, listed)
        self.assertEqual(self.retained(events, *base, "--return-event", "open")[
            ("2026-01-05", 1)], (3, 1, True))
        self.assertError(self.run_tool("--return-event", "", stdin=lines(events)), 2,
                         "--return-event")

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

BREAKDOWN_EVENTS = [
    # b's first signup (01-05, DE) comes later in the input than their second (01-06, FR);
    # c has two at one instant (AT wins, the smaller); d's signup has no country.
    {"ts": "2026-01-05T09:00:00Z", "user": "a", "event": "signup", "country": "DE"},
    {"ts": "2026-01-06T09:00:00Z", "user": "a", "event": "open"},
    {"ts": "2026-01-06T10:00:00Z", "user": "b", "event": "signup", "country": "FR"},
    {"ts": "2026-01-05T08:00:00Z", "user": "b", "event": "signup", "country": "DE"},
    {"ts": "2026-01-07T09:00:00Z", "user": "b", "event": "open"},
    {"ts": "2026-01-05T12:00:00Z", "user": "c", "event": "signup", "country": "FR"},
    {"ts": "2026-01-05T12:00:00Z", "user": "c", "event": "signup", "country": "AT"},
    {"ts": "2026-01-06T09:00:00Z", "user": "c", "event": "open"},
    {"ts": "2026-01-06T09:00:00Z", "user": "d", "event": "signup"},
    {"ts": "2026-01-07T09:00:00Z", "user": "d", "event": "open", "country": "DE"}]


class CohortBreakdown(ToolTestCase):
    """--by, --start-where/--return-where, --alias-file and --progress: hand-derived cases, the
    oracle on random inputs, and the refusals."""

    tool = "cohort"
    BY = ("--by", "country", "--start-event", "signup", "--return-event", "open",
          "--as-of", "2026-01-08T00:00:00Z")

    def run_ok(self, *args, stdin=""):
        result = self.run_tool(*args, stdin=stdin)
        self.assertStatus(result, 0)
        return result.out

    def test_by_takes_the_value_of_each_users_first_start_event(self):
        got = self.run_ok(*self.BY, "--format", "table", "--summary",
                          stdin=lines(BREAKDOWN_EVENTS))
        self.assertEqual(got, "by      cohort      size  0     1       2      3\n"
                              "AT      2026-01-05  1     0.0%  100.0%  0.0%   0.0%*\n"
                              "AT      average           0.0%  100.0%  0.0%\n"
                              "DE      2026-01-05  2     0.0%  50.0%   50.0%  0.0%*\n"
                              "DE      average           0.0%  50.0%   50.0%\n"
                              "(none)  2026-01-06  1     0.0%  100.0%  0.0%*\n"
                              "(none)  average           0.0%  100.0%\n")
        records = self.run_ok(*self.BY, "--periods", "1", "--summary",
                              stdin=lines(reversed(BREAKDOWN_EVENTS)))
        self.assertEqual(records.splitlines()[0],
                         '{"by":"AT","cohort":"2026-01-05","period":0,"size":1,"retained":0,'
                         '"rate":"0.0000","complete":true,"period_unit":"day","tz":"UTC",'
                         '"windows":"calendar","cohort_type":"first","criterion":"on"}')
        self.assertEqual([(c["by"], c.get("cohort", c.get("summary")), c["size"])
                          for c in cells(records)],
                         [("AT", "2026-01-05", 1), ("DE", "2026-01-05", 2), (None, "2026-01-06", 1),
                          ("AT", "average", 1), ("DE", "average", 2), (None, "average", 1)])
        # A number is the group of its digits; an object is a bad line, at its start event.
        numbers = [event("2026-01-05T09:00:00Z", "a", "signup") | {"country": 49},
                   event("2026-01-05T10:00:00Z", "b", "signup") | {"country": "49"}]
        self.assertEqual([c["size"] for c in cells(self.run_ok("--by", "country",
                                                               stdin=lines(numbers)))], [2])
        nested = numbers + [event("2026-01-06T09:00:00Z", "c", "signup") | {"country": {"a": 1}}]
        self.assertError(self.run_tool("--by", "country", stdin=lines(nested)), 65,
                         "<stdin>:3", "'country'", "--by")
        self.assertError(self.run_tool("--by", "country", "--save-state", "s.state",
                                       stdin=lines(numbers)), 2, "--by", "--save-state")
        self.assertFalse(os.path.exists(self.path("s.state")))
        self.assertError(self.run_tool("ingest", "--db", "c.db", "--by", "country"), 2, "--by")

    def test_where_conditions_filter_start_and_return_events(self):
        events = [{"ts": "2026-01-05T09:00:00Z", "user": u, "event": "signup",
                   "props": {"plan": plan, "seats": seats}, "paid": paid}
                  for u, plan, seats, paid in (("a", "pro", 10, True), ("b", "pro", 2, False),
                                               ("c", "free", 10, True))]
        events += [{"ts": "2026-01-06T09:00:00Z", "user": u, "event": "open", "device": device}
                   for u, device in (("a", "ios"), ("b", "web"), ("c", "ios"))]
        base = ("--start-event", "signup", "--as-of", "2026-01-07T00:00:00Z")
        got = self.retained(events, *base, "--start-where", "props.plan=pro")
        self.assertEqual(got[("2026-01-05", 1)], (2, 2, True))
        both = self.retained(events, *base, "--start-where", "props.plan=pro",
                             "--start-where", "props.seats=10", "--return-where", "device=ios")
        self.assertEqual(both[("2026-01-05", 1)], (1, 1, True))  # a only
        self.assertEqual(self.retained(events, *base, "--start-where", "paid=true",
                                       "--return-where", "device=web")[("2026-01-05", 1)],
                         (2, 0, True))  # a and c start, only b returns on the web
        # 10.0 is not the text 10: a condition no event meets is an error, as a misspelt
        # event name is (for ingest, a note).
        self.assertError(self.run_tool(*base, "--start-where", "props.seats=10.0",
                                       "--return-where", "device=ios", "--return-where",
                                       "device=mac", stdin=lines(events)), 65,
                         "--start-where props.seats=10.0, --return-where device=mac: no event "
                         "meets these conditions")
        self.write("e.jsonl", lines(events))
        ingest = self.run_tool("ingest", "--db", "c.db", "--start-where", "plan=gold", "e.jsonl")
        self.assertStatus(ingest, 0)
        self.assertIn("--start-where plan=gold: no event meets this condition", ingest.err)
        for bad in ("plan", "=pro"):
            self.assertError(self.run_tool("--start-where", bad), 2, "--start-where", bad)

    def retained(self, events, *args):
        return {(c["cohort"], c["period"]): (c["size"], c["retained"], c["complete"])
                for c in cells(self.run_ok(*args, stdin=lines(events)))}

    def test_conditions_are_part_of_a_stores_bucketing(self):
        events = [event("2026-01-05T09:00:00Z", u, "signup") | {"plan": p}
                  for u, p in (("a", "pro"), ("b", "free"))]
        self.write("e.jsonl", lines(events))
        self.run_ok("ingest", "--db", "c.db", "--start-where", "plan=pro", "e.jsonl")
        self.run_ok("ingest", "--db", "c.db", "e.jsonl")  # the store's condition applies
        self.assertEqual([c["size"] for c in cells(self.run_ok("report", "--db", "c.db"))], [1])
        self.assertError(self.run_tool("ingest", "--db", "c.db", "--start-where", "plan=free",
                                       "e.jsonl"), 65, "c.db", "start_where")
        self.run_ok("--start-where", "plan=pro", "--save-state", "pro.state", "e.jsonl")
        self.run_ok("--save-state", "all.state", "e.jsonl")
        self.assertError(self.run_tool("merge", "pro.state", "all.state"), 65, "all.state")

    def test_alias_file_resolves_chains_and_refuses_cycles(self):
        # anon1 -> dev7 -> ana (a chain, out of order); 42 (an integer) -> ben.
        self.write("aliases.jsonl", '{"from":"dev7","to":"ana"}\n{"from":"anon1","to":"dev7"}\n'
                   '{"from":42,"to":"ben"}\n{"from":"ben","to":"ben"}\n'
                   '{"from":"anon1","to":"dev7"}\n')
        events = [event("2026-01-05T09:00:00Z", "ana", "signup"),
                  event("2026-01-05T09:00:00Z", "anon1", "signup"),
                  event("2026-01-06T09:00:00Z", "dev7"),
                  event("2026-01-05T10:00:00Z", "ben", "signup"), event("2026-01-06T10:00:00Z", 42)]
        base = ("--start-event", "signup", "--as-of", "2026-01-07T00:00:00Z")
        self.assertEqual(self.retained(events, *base)[("2026-01-05", 1)], (3, 0, True))
        got = self.retained(events, *base, "--alias-file", "aliases.jsonl")
        self.assertEqual(got[("2026-01-05", 1)], (2, 2, True))
        for text, where, why in (
                ('{"from":"a","to":"b"}\n{"from":"b","to":"c"}\n{"from":"c","to":"a"}\n',
                 "bad.jsonl:3", "alias cycle: c -> a -> b -> c"),
                ('{"from":"a","to":"b"}\n{"from":"a","to":"c"}\n', "bad.jsonl:2",
                 "user 'a' is already aliased to 'b' (line 1), not to 'c'"),
                ('{"from":"a","to":"b"}\n{"from":"a"}\n', "bad.jsonl:2", "'to'")):
            self.write("bad.jsonl", text)
            result = self.run_tool(*base, "--alias-file", "bad.jsonl", stdin=lines(events))
            self.assertError(result, 65, where, why)
            self.assertEqual(result.out, "")
        self.assertError(self.run_tool("--alias-file", "none.jsonl"), 66, "none.jsonl")

    def test_random_breakdowns_conditions_and_aliases_match_the_oracle(self):
        generator = random.Random(34)
        zones = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
        cases, refused = rounds(30, 300), 0
        for case in range(cases):
            base = 1767225600 + generator.randint(0, 300) * 86400
            events = []
            for _ in range(generator.randint(1, 80)):
                record = {"ts": base + generator.randint(0, 90 * 86400),
                          "user": generator.choice([generator.randint(1, 12),
                                                    f"u{generator.randint(1, 12)}"]),
                          "event": generator.choice(["signup", "open", "buy"])}
                if generator.random() < 0.8:
                    record["country"] = generator.choice(["DE", "FR", 7, None])
                if generator.random() < 0.7:
                    record["props"] = {"plan": generator.choice(["pro", "free", True])}
                events.append(record)
            ids = [str(n) for n in range(1, 13)] + [f"u{n}" for n in range(1, 13)]
            generator.shuffle(ids)
            aliases = [(ids[i], ids[i + 1]) for i in range(generator.randint(0, 6))]
            self.write("aliases.jsonl", "".join(json.dumps({"from": a, "to": b}) + "\n"
                                                for a, b in aliases))
            options = {"unit": generator.choice(["day", "week", "month"]),
                       "tz": generator.choice(zones),
                       "cohort": generator.choice(["first", "recurring"]),
                       "criterion": generator.choice(["on", "on-or-after"]),
                       "windows": generator.choice(["calendar", "calendar", "rolling"]),
                       "summary": generator.random() < 0.5,
                       "by": generator.choice([None, "country", "props.plan"]),
                       "start_where": generator.choice([(), ("props.plan=pro",),
                                                        ("country=DE", "props.plan=true")]),
                       "return_where": generator.choice([(), ("country=7",)]),
                       "aliases": aliases}
            args = ["--period", options["unit"], "--tz", options["tz"], "--cohort",
                    options["cohort"], "--criterion", options["criterion"], "--windows",
                    options["windows"], "--alias-file", "aliases.jsonl"]
            args += ["--summary"] if options["summary"] else []
            args += ["--by", options["by"]] if options["by"] else []
            for condition in options["start_where"]:
                args += ["--start-where", condition]
            for condition in options["return_where"]:
                args += ["--return-where", condition]
            result = self.run_tool(*args, stdin=lines(events))
            unmet = [c for c in options["start_where"] + options["return_where"]
                     if not any(property_text(e, c.split("=")[0]) == c.split("=")[1]
                                for e in events)]
            if unmet:
                self.assertError(result, 65, unmet[0], "no event meets")
                refused += 1
                continue
            self.assertStatus(result, 0)
            self.assertEqual(cells(result.out), oracle(events, **options),
                             f"case {case}: {args}\n{aliases}\n{lines(events)}")
        self.assertLess(refused, cases // 3)  # most cases compare matrices

    def test_progress_goes_to_stderr_only(self):
        events = lines(BREAKDOWN_EVENTS)
        quiet = self.run_ok(*self.BY, stdin=events)
        shown = self.run_tool(*self.BY, "--progress", "always", stdin=events)
        self.assertStatus(shown, 0)
        self.assertEqual(shown.out, quiet)
        self.assertEqual(shown.err, "")  # the meter shows only after a second
        self.assertError(self.run_tool("--progress", "sometimes"), 2, "--progress")
        self.assertStatus(self.run_tool("ingest", "--db", "c.db", "--progress", "never",
                                        stdin=events), 0)


if __name__ == "__main__":
    unittest.main()


def random_events(seed, count, users=60, days=70):
    generator = random.Random(seed)
    return [{"ts": 1767225600 + generator.randint(0, days * 86400),
             "user": f"user{generator.randint(1, users)}" if generator.random() < 0.8
             else generator.randint(1, users),
             "event": generator.choice(["signup", "open", "buy"])} for _ in range(count)]


class CohortState(ToolTestCase):
    """Saved states merge into the whole input's report; the SQLite store ingests idempotently,
    concurrently and survives SIGKILL."""

    tool = "cohort"
    BUCKETING = ("--period", "week", "--tz", "Europe/Berlin", "--start-event", "signup")
    REPORT = ("--summary", "--as-of", "@1773360000")

    def run_ok(self, *args, stdin=""):
        result = self.run_tool(*args, stdin=stdin)
        self.assertStatus(result, 0)
        return result.out

    def whole(self, events):
        self.write("all.jsonl", lines(events))
        return self.run_ok(*self.BUCKETING, *self.REPORT, "all.jsonl")

    def merged(self, shards):
        names = []
        for index, shard in enumerate(shards):
            self.write(f"shard{index}.jsonl", lines(shard))
            self.run_ok(*self.BUCKETING, "--save-state", f"shard{index}.state",
                        f"shard{index}.jsonl")
            names.append(f"shard{index}.state")
        return self.run_ok("merge", *self.REPORT, *names)

    def test_merging_shards_gives_the_whole_report(self):
        events = random_events(7, 3000)
        expected = self.whole(events)
        self.assertGreater(len(expected.splitlines()), 20)
        by_user = [[e for e in events if hash(str(e["user"])) % 3 == k] for k in range(3)]
        ordered = sorted(events, key=lambda e: e["ts"])
        by_time = [ordered[:1000], ordered[1000:2200], ordered[2200:]]
        generator = random.Random(3)
        arbitrary = [[], [], [], []]
        for event in events:
            arbitrary[generator.randrange(4)].append(event)
        for shards in (by_user, by_time, arbitrary):
            self.assertEqual(self.merged(shards), expected)
        # Merging a merge is the same again; a single state reports itself.
        self.run_ok("merge", "--save-state", "ab.state", "shard0.state", "shard1.state")
        self.assertEqual(self.run_ok("merge", *self.REPORT, "ab.state", "shard2.state",
                                     "shard3.state"), expected)

    def test_states_with_another_bucketing_or_damage_are_refused(self):
        self.write("a.jsonl", lines(random_events(1, 50)))
        self.run_ok("--save-state", "day.state", "a.jsonl")
        self.run_ok("--period", "week", "--save-state", "week.state", "a.jsonl")
        self.assertError(self.run_tool("merge", "day.state", "week.state"), 65, "week.state")
        with open(self.path("day.state"), "rb") as state:
            data = state.read()
        self.write("cut.state", data[:-5])
        self.assertError(self.run_tool("merge", "cut.state"), 65, "cut.state", "checksum")
        self.write("junk.state", b"not a state at all, not at all....................")
        self.assertError(self.run_tool("merge", "junk.state"), 65, "junk.state")
        self.assertError(self.run_tool("merge", "none.state"), 66, "none.state")

    def test_ingest_is_idempotent_and_order_independent(self):
        events = random_events(5, 2000)
        expected = self.whole(events)
        ordered = sorted(events, key=lambda e: e["ts"])
        days = [ordered[:700], ordered[700:1400], ordered[1400:]]
        for index, day in enumerate(days):
            self.write(f"day{index}.jsonl", lines(day))
        # Later days first, then the first day twice: the result is the same.
        first = json.loads(self.run_ok("ingest", "--db", "c.db", *self.BUCKETING, "day2.jsonl"))
        self.assertEqual(first["events"], len(days[2]))
        self.run_ok("ingest", "--db", "c.db", "day1.jsonl")
        self.run_ok("ingest", "--db", "c.db", "day0.jsonl")
        again = json.loads(self.run_ok("ingest", "--db", "c.db", "day0.jsonl"))
        self.assertEqual((again["new_users"], again["bitmaps_changed"]), (0, 0))
        self.assertEqual(self.run_ok("report", "--db", "c.db", *self.REPORT), expected)
        self.assertError(self.run_tool("ingest", "--db", "c.db", "--period", "day", "day0.jsonl"),
                         65, "--period")
        self.assertError(self.run_tool("report", "--db", "none.db"), 66, "none.db")
        self.assertFalse(os.path.exists(self.path("none.db")))

    def test_ingest_keeps_the_stores_options_that_are_not_given(self):
        self.write("a.jsonl", lines(random_events(3, 300)))
        self.write("quiet.jsonl", lines([event("2026-03-01T10:00:00Z", "u1", "open")]))
        self.run_ok("ingest", "--db", "c.db", *self.BUCKETING, "a.jsonl")
        # Only the time zone given again: the store's week and start event still apply.
        self.run_ok("ingest", "--db", "c.db", "--tz", "Europe/Berlin", "a.jsonl")
        # A file without the start event (a day without signups) is fine, with a note.
        quiet = self.run_tool("ingest", "--db", "c.db", "quiet.jsonl")
        self.assertStatus(quiet, 0)
        self.assertIn("--start-event signup: no event has this name (names seen: open)",
                      quiet.err)
        changed = self.run_tool("ingest", "--db", "c.db", "--tz", "UTC", "a.jsonl")
        self.assertError(changed, 65, "c.db: the store was built with", "tz\":\"UTC")
        # The first day of a week does not matter to days or months.
        self.run_ok("ingest", "--db", "d.db", "--period", "day", "--week-start", "sunday",
                    "a.jsonl")
        self.run_ok("ingest", "--db", "d.db", "--period", "day", "a.jsonl")
        self.run_ok("--period", "month", "--week-start", "friday", "--save-state", "m1.state",
                    "a.jsonl")
        self.run_ok("--period", "month", "--save-state", "m2.state", "a.jsonl")
        self.assertEqual(self.run_ok("merge", "m1.state", "m2.state"),
                         self.run_ok("--period", "month", "a.jsonl"))

    def test_concurrent_ingests_lose_nothing(self):
        events = random_events(9, 4000, users=300)
        expected = self.whole(events)
        shards = [events[i::8] for i in range(8)]
        children = []
        for index, shard in enumerate(shards):
            self.write(f"s{index}.jsonl", lines(shard))
            children.append(self.start_tool("ingest", "--db", "c.db", "--busy-timeout", "60s",
                                            *self.BUCKETING, f"s{index}.jsonl",
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for child in children:
            _, err = child.communicate(timeout=120)
            self.assertEqual(child.returncode, 0, err)
        self.assertEqual(self.run_ok("report", "--db", "c.db", *self.REPORT), expected)

    def test_sigkill_during_ingest_then_rerun_equals_a_clean_ingest(self):
        events = random_events(13, 60000, users=20000, days=200)
        self.write("big.jsonl", lines(events))
        self.write("small.jsonl", lines(events[:100]))
        self.run_ok("ingest", "--db", "c.db", *self.BUCKETING, "small.jsonl")
        for delay in (0.05, 0.15, 0.3):
            child = self.start_tool("ingest", "--db", "c.db", "big.jsonl",
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            child.wait()
            with sqlite3.connect(self.path("c.db")) as db:
                self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
                users = db.execute("SELECT count(*), max(id) FROM cohort_users").fetchone()
                self.assertEqual(users[0], users[1] + 1)  # dense ids: all or nothing
        self.run_ok("ingest", "--db", "c.db", "big.jsonl")
        self.run_ok("ingest", "--db", "clean.db", *self.BUCKETING, "small.jsonl", "big.jsonl")
        self.assertEqual(self.run_ok("report", "--db", "c.db", *self.REPORT),
                         self.run_ok("report", "--db", "clean.db", *self.REPORT))

    def test_forget_equals_a_store_built_without_the_users(self):
        events = random_events(21, 1500, users=40)
        gone = {"user3", "7", "user11"}
        self.write("all.jsonl", lines(events))
        self.write("kept.jsonl", lines([e for e in events if str(e["user"]) not in gone]))
        self.run_ok("ingest", "--db", "c.db", *self.BUCKETING, "all.jsonl")
        self.run_ok("ingest", "--db", "clean.db", *self.BUCKETING, "kept.jsonl")
        forgot = json.loads(self.run_ok("forget", "--db", "c.db", "--user", "user3", "--user", "7",
                                        "--user", "user11", "--user", "nobody"))
        self.assertEqual((forgot["forgotten"], forgot["unknown"]), (3, 1))
        self.assertGreater(forgot["bitmaps_changed"], 0)
        for options in ((), ("--cohort", "recurring"), ("--criterion", "on-or-after")):
            self.assertEqual(self.run_ok("report", "--db", "c.db", *self.REPORT, *options),
                             self.run_ok("report", "--db", "clean.db", *self.REPORT, *options))
        with sqlite3.connect(self.path("c.db")) as db:
            keys = {row[0] for row in db.execute("SELECT key FROM cohort_users")}
        self.assertFalse(keys & gone)
        self.assertEqual(keys, {str(e["user"]) for e in events} - gone)
        # A store another process is writing: 75 after the busy timeout, and nothing changed.
        before = self.run_ok("report", "--db", "c.db", *self.REPORT)
        hold = self.hold_write_lock(self.path("c.db"), "cohort_users")
        self.assertError(self.run_tool("forget", "--db", "c.db", "--busy-timeout", "50ms",
                                       "--user", "user5"), 75)
        hold.release()
        self.assertEqual(self.run_ok("report", "--db", "c.db", *self.REPORT), before)
        # Again: nothing left to forget. Later ingests go on with the gaps in the ids.
        again = json.loads(self.run_ok("forget", "--db", "c.db", "--user", "7"))
        self.assertEqual(again, {"forgotten": 0, "unknown": 1, "bitmaps_changed": 0})
        more = [e for e in random_events(22, 300, users=60) if str(e["user"]) not in gone]
        self.write("more.jsonl", lines(more))
        self.assertEqual(json.loads(self.run_ok("ingest", "--db", "c.db", "more.jsonl"))["users"],
                         json.loads(self.run_ok("ingest", "--db", "clean.db", "more.jsonl"))["users"])
        self.assertEqual(self.run_ok("report", "--db", "c.db", *self.REPORT),
                         self.run_ok("report", "--db", "clean.db", *self.REPORT))
        self.assertError(self.run_tool("forget", "--db", "none.db", "--user", "a"), 66, "none.db")
        self.assertError(self.run_tool("forget", "--db", "c.db"), 2, "--user")

    SMALL_STORE = [event("2026-03-02T10:00:00Z", "a", "signup"), event("2026-03-10T10:00:00Z", "a"),
                   event("2026-03-03T10:00:00Z", "b", "signup")]

    def test_forget_counts_a_repeated_user_once(self):
        # a is in the start bitmap of week 03-02 and in the return bitmaps of 03-02 and 03-09.
        self.write("e.jsonl", lines(self.SMALL_STORE))
        self.run_ok("ingest", "--db", "c.db", *self.BUCKETING, "e.jsonl")
        forgot = self.run_ok("forget", "--db", "c.db", "--user", "a", "--user", "a", "--user", "zz",
                             "--user", "zz")
        self.assertEqual(forgot, '{"forgotten":1,"unknown":1,"bitmaps_changed":3}\n')

    def schema_version(self):
        with sqlite3.connect(self.path("c.db")) as db:
            return db.execute("SELECT version FROM sluice_meta WHERE component = 'cohort'").fetchone()[0]

    def set_schema_version(self, version):
        with sqlite3.connect(self.path("c.db")) as db:
            db.execute("UPDATE sluice_meta SET version = ? WHERE component = 'cohort'", (version,))

    def test_forget_moves_the_store_to_a_version_older_programs_refuse(self):
        # Version 2 has the tables of version 1: a version 1 store is one with its number.
        self.write("e.jsonl", lines(self.SMALL_STORE))
        self.write("more.jsonl", lines([event("2026-03-04T10:00:00Z", "c", "signup")]))
        self.run_ok("ingest", "--db", "c.db", *self.BUCKETING, "e.jsonl")
        self.assertEqual(self.schema_version(), 2)
        self.set_schema_version(1)
        report = self.run_ok("report", "--db", "c.db", *self.REPORT)
        self.assertIn('"size":2', report)
        self.assertEqual(self.schema_version(), 1)  # read as it is
        self.run_ok("ingest", "--db", "c.db", "more.jsonl")
        self.assertEqual(self.schema_version(), 1)
        self.assertIn('"size":3', self.run_ok("report", "--db", "c.db", *self.REPORT))
        self.run_ok("forget", "--db", "c.db", "--user", "a")
        self.assertEqual(self.schema_version(), 2)
        self.assertIn('"size":2', self.run_ok("report", "--db", "c.db", *self.REPORT))
        # What a program that knows only version 1 says of it, here for version 3.
        self.set_schema_version(3)
        self.assertError(self.run_tool("report", "--db", "c.db"), 65,
                         "was written by a newer version of sluice (cohort schema version 3, "
                         "this program knows up to 2)")
