"""rollup: against an independent Python oracle (decimal sums, exact moments, sorted values
for quantiles, zoneinfo for calendar buckets) on random events in several time zones across
DST transitions; the Druid roll-up tutorial's nine events and its published table; merge of
shards = one run byte for byte; random order = in order; sketch error bounds on skewed data;
bad input and the documented exit statuses."""

import datetime
import json
import math
import os
import random
import statistics
import unittest
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sluice_cli import ToolTestCase, on_both_backends, rounds

AGGREGATES = ("count,sum:cost,min:cost,max:cost,avg:cost,stddev:cost,last:status,"
              "distinct:user,p50:latency,p99:latency")


def lines(rows):
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)


def utc_text(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def bucket_of(seconds, every, zone):
    """The start (epoch seconds) of the bucket holding `seconds`."""
    fixed = {"10s": 10, "1m": 60, "1h": 3600}
    if every in fixed:
        return seconds // fixed[every] * fixed[every]
    local = datetime.datetime.fromtimestamp(seconds, ZoneInfo(zone)).date()
    if every == "week":
        local -= datetime.timedelta(days=local.weekday())
    elif every == "month":
        local = local.replace(day=1)
    return int(datetime.datetime(local.year, local.month, local.day,
                                 tzinfo=ZoneInfo(zone)).timestamp())


def places(text):
    return len(text.split(".")[1]) if "." in text else 0


def quantized(value, scale):
    return str(value.quantize(Decimal(1).scaleb(-scale)))


def oracle(rows, every, zone, by):
    groups = {}
    for row in rows:
        key = (bucket_of(row["ts"], every, zone),) + tuple(row.get(field) for field in by)
        groups.setdefault(key, []).append(row)
    result = []
    order = sorted(groups, key=lambda key: (key[0],) + tuple(
        (0, "") if value is None else (1, value) for value in key[1:]))
    for key in order:
        events = groups[key]
        out = {"bucket": utc_text(key[0])}
        out.update(zip(by, key[1:]))
        out["count"] = len(events)
        costs = [str(e["cost"]) for e in events if e.get("cost") is not None]
        if costs:
            scale = max(places(text) for text in costs)
            decimals = [Decimal(text) for text in costs]
            out["sum_cost"] = quantized(sum(decimals), scale)
            out["min_cost"] = quantized(min(decimals), scale)
            out["max_cost"] = quantized(max(decimals), scale)
            out["avg_cost"] = float(sum(Fraction(text) for text in costs) / len(costs))
            out["stddev_cost"] = (math.sqrt(float(statistics.variance(
                [Fraction(text) for text in costs]))) if len(costs) > 1 else None)
        else:
            for column in ("sum_cost", "min_cost", "max_cost", "avg_cost", "stddev_cost"):
                out[column] = None
        statuses = [(e["ts"], e["status"]) for e in events if "status" in e]
        out["last_status"] = max(statuses)[1] if statuses else None
        out["distinct_user"] = len({e["user"] for e in events if "user" in e})
        latencies = sorted(e["latency"] for e in events if "latency" in e)
        for name, q in (("p50_latency", 0.5), ("p99_latency", 0.99)):
            out[name] = latencies[int(q * (len(latencies) - 1))] if latencies else None
        result.append(out)
    return result


def random_events(rng, count, start, span):
    rows = []
    for _ in range(count):
        row = {"ts": start + rng.randrange(span), "campaign": rng.choice(["c1", "c2", "c10"])}
        if rng.random() < 0.8:
            row["geo"] = rng.choice(["IN", "US", "DE"])
        kind = rng.random()
        if kind < 0.4:
            row["cost"] = f"{rng.randrange(-500, 5000)}.{rng.randrange(100):02d}"
        elif kind < 0.6:
            row["cost"] = rng.randrange(0, 900)
        elif kind < 0.8:
            row["cost"] = f"{rng.randrange(0, 90)}.{rng.randrange(10)}"
        elif kind < 0.9:
            row["cost"] = None
        if rng.random() < 0.7:
            row["status"] = rng.choice(["ok", "slow", "error", "retry"])
        row["user"] = f"u{rng.randrange(40)}"
        if rng.random() < 0.9:
            row["latency"] = rng.randrange(1, 20000)
        rows.append(row)
    return rows


class RollupTest(ToolTestCase):
    tool = "rollup"

    def rows(self, result):
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def assertMatchesOracle(self, actual, expected, context):
        self.assertEqual(len(actual), len(expected), context)
        for got, want in zip(actual, expected):
            self.assertEqual(list(got), list(want), context)
            for column, value in want.items():
                if column in ("avg_cost", "stddev_cost") and value is not None:
                    self.assertAlmostEqual(got[column], value, delta=abs(value) * 1e-9,
                                           msg=f"{context} {column}")
                elif column.startswith("p") and column.endswith("latency") and value is not None:
                    self.assertLessEqual(abs(got[column] - value), value * 0.01 + 1e-9,
                                         f"{context} {column}")
                else:
                    self.assertEqual(got[column], value, f"{context} {column} {got}")

    def test_random_events_match_the_oracle_in_every_bucketing(self):
        rng = random.Random(28)
        # 2026-03-01 to 2026-11-10: both European and American DST transitions, month ends.
        start, span = 1772323200, 255 * 86400
        cases = [("1h", "UTC"), ("day", "Europe/Berlin"), ("day", "America/New_York"),
                 ("week", "Australia/Lord_Howe"), ("month", "Asia/Kolkata"), ("day", "UTC")]
        for every, zone in cases[:rounds(len(cases), len(cases))]:
            rows = random_events(rng, 300, start, span)
            # Dense events on the DST days themselves.
            for day in (1774746000, 1772953200, 1792890000, 1793512800):
                rows += random_events(rng, 40, day - 86400, 2 * 86400)
            rng.shuffle(rows)
            by = ["campaign", "geo"]
            result = self.run_tool("--every", every, "--tz", zone, "--by", ",".join(by),
                                   "--agg", AGGREGATES, stdin=lines(rows))
            self.assertMatchesOracle(self.rows(result), oracle(rows, every, zone, by),
                                     f"{every} {zone}")

    def test_druid_rollup_tutorial(self):
        # The events of Druid's roll-up tutorial (rollup-data.json) and the table it publishes
        # after ingestion with queryGranularity minute: by hand, 9024 + 21133 + 5780 = 35937,
        # 20 + 255 + 11 = 286, 6289 + 359971 = 366260, 38 + 377 = 415, 6289 + 93999 = 100288.
        events = [
            ("2018-01-01T01:01:35Z", "1.1.1.1", "2.2.2.2", 20, 9024),
            ("2018-01-01T01:01:51Z", "1.1.1.1", "2.2.2.2", 255, 21133),
            ("2018-01-01T01:01:59Z", "1.1.1.1", "2.2.2.2", 11, 5780),
            ("2018-01-01T01:02:14Z", "1.1.1.1", "2.2.2.2", 38, 6289),
            ("2018-01-01T01:02:29Z", "1.1.1.1", "2.2.2.2", 377, 359971),
            ("2018-01-01T01:03:29Z", "1.1.1.1", "2.2.2.2", 49, 10204),
            ("2018-01-02T21:33:14Z", "7.7.7.7", "8.8.8.8", 38, 6289),
            ("2018-01-02T21:33:45Z", "7.7.7.7", "8.8.8.8", 123, 93999),
            ("2018-01-02T21:35:45Z", "7.7.7.7", "8.8.8.8", 12, 2818),
        ]
        text = "".join(
            f'{{"timestamp":"{t}","srcIP":"{s}", "dstIP":"{d}","packets":{p},"bytes":{b}}}\n'
            for t, s, d, p, b in events)
        result = self.run_tool("--time-field", "timestamp", "--by", "srcIP,dstIP", "--agg",
                               "count,sum:packets,sum:bytes", "--format", "csv", stdin=text)
        self.assertStatus(result, 0)
        self.assertEqual(result.out.replace("\r\n", "\n"), (
            "bucket,srcIP,dstIP,count,sum_packets,sum_bytes\n"
            "2018-01-01T01:01:00Z,1.1.1.1,2.2.2.2,3,286,35937\n"
            "2018-01-01T01:02:00Z,1.1.1.1,2.2.2.2,2,415,366260\n"
            "2018-01-01T01:03:00Z,1.1.1.1,2.2.2.2,1,49,10204\n"
            "2018-01-02T21:33:00Z,7.7.7.7,8.8.8.8,2,161,100288\n"
            "2018-01-02T21:35:00Z,7.7.7.7,8.8.8.8,1,12,2818\n"))

    def test_merge_of_shards_equals_one_run_byte_for_byte(self):
        rng = random.Random(7)
        rows = random_events(rng, 600, 1772323200, 3 * 86400)
        # A group past the exact distinct limit, so that HyperLogLog states merge too.
        rows += [{"ts": 1772323200 + i % 50, "campaign": "big", "user": f"x{i}", "cost": 1}
                 for i in range(1500)]
        args = ["--every", "1h", "--by", "campaign,geo", "--agg", AGGREGATES]
        whole = self.run_tool(*args, "--save-state", "whole.state", stdin=lines(rows))
        self.assertStatus(whole, 0)
        shards = [rows[0::3], rows[1::3], rows[2::3]]
        for i, shard in enumerate(shards):
            self.assertStatus(self.run_tool(*args, "--save-state", f"s{i}.state",
                                            stdin=lines(shard)), 0)
        merged = self.run_tool("merge", "s2.state", "s0.state", "s1.state",
                               "--save-state", "merged.state")
        self.assertStatus(merged, 0)
        self.assertEqual(merged.out, whole.out)
        self.assertEqual(self.read("merged.state"), self.read("whole.state"))
        big = [row for row in self.rows(whole) if row["campaign"] == "big"][0]
        self.assertLessEqual(abs(big["distinct_user"] - 1500), 1500 * 3 * 0.01625)

    def test_random_order_and_repeated_merge_equal_in_order(self):
        rng = random.Random(11)
        rows = sorted(random_events(rng, 500, 1772323200, 86400), key=lambda row: row["ts"])
        args = ["--every", "10s", "--by", "geo", "--agg", AGGREGATES]
        in_order = self.run_tool(*args, stdin=lines(rows))
        rng.shuffle(rows)
        shuffled = self.run_tool(*args, stdin=lines(rows))
        self.assertStatus(in_order, 0)
        self.assertEqual(shuffled.out, in_order.out)

    def test_nested_fields_and_table_format(self):
        text = lines([
            {"ts": "2026-03-01T10:05:00Z", "props": {"geo": "IN"}, "m": {"cost": "1.10"}},
            {"ts": "2026-03-01T10:05:30+05:30", "props": {"geo": "IN"}, "m": {"cost": "2"}},
            {"ts": 1772359530, "props": {}, "m": {"cost": 3}},
        ])
        result = self.run_tool("--by", "props.geo", "--agg", "count,sum:m.cost", stdin=text)
        self.assertEqual(self.rows(result), [
            {"bucket": "2026-03-01T04:35:00Z", "props.geo": "IN", "count": 1, "sum_m.cost": "2"},
            {"bucket": "2026-03-01T10:05:00Z", "props.geo": None, "count": 1, "sum_m.cost": "3"},
            {"bucket": "2026-03-01T10:05:00Z", "props.geo": "IN", "count": 1,
             "sum_m.cost": "1.10"},
        ])
        table = self.run_tool("--agg", "count", "--every", "day", "--format", "table", stdin=text)
        self.assertStatus(table, 0)
        self.assertEqual(table.out.splitlines(), ["bucket                count",
                                                  "2026-03-01T00:00:00Z  3"])

    def test_dst_days_have_23_and_25_hours(self):
        # One event per hour across Berlin's 2026 transitions (29 March, 25 October).
        rows = [{"ts": 1774648800 + hour * 3600} for hour in range(72)]
        rows += [{"ts": 1792789200 + hour * 3600} for hour in range(72)]
        result = self.run_tool("--every", "day", "--tz", "Europe/Berlin", "--agg", "count",
                               stdin=lines(rows))
        counts = {row["bucket"]: row["count"] for row in self.rows(result)}
        self.assertEqual(counts["2026-03-28T23:00:00Z"], 23)
        self.assertEqual(counts["2026-10-24T22:00:00Z"], 25)

    def test_exact_decimal_sums_where_doubles_drift(self):
        rows = [{"ts": 1772323200, "cost": "0.10"} for _ in range(1000)]
        rows += [{"ts": 1772323200, "cost": 0.2}, {"ts": 1772323200, "cost": "1e-3"},
                 {"ts": 1772323200, "cost": 12345678901234567890}]
        # By hand: 1000 x 0.10 + 0.2 + 0.001 = 100.201, plus 12345678901234567890 (a double
        # would keep 16 of its 20 digits).
        result = self.run_tool("--agg", "sum:cost,min:cost,max:cost", stdin=lines(rows))
        self.assertEqual(self.rows(result)[0], {
            "bucket": "2026-03-01T00:00:00Z", "sum_cost": "12345678901234567990.201",
            "min_cost": "0.001", "max_cost": "12345678901234567890.000"})

    def test_quantiles_within_stated_error_on_skewed_data(self):
        rng = random.Random(5)
        for name, draw in (("lognormal", lambda: rng.lognormvariate(3, 1.5)),
                           ("pareto", lambda: rng.paretovariate(1.2))):
            values = [round(draw(), 6) for _ in range(3000)]
            rows = [{"ts": 1772323200, "v": value} for value in values]
            result = self.run_tool("--agg", "p50:v,p90:v,p99:v,p99.9:v", stdin=lines(rows))
            row = self.rows(result)[0]
            ordered = sorted(values)
            for column, q in (("p50_v", .5), ("p90_v", .9), ("p99_v", .99), ("p99.9_v", .999)):
                exact = ordered[int(q * (len(ordered) - 1))]
                self.assertLessEqual(abs(row[column] - exact), exact * 0.01 + 1e-9, name)

    def test_percentile_rank_is_exact_where_the_double_product_is_not(self):
        # 0.29 * 100 is 28.999999999999996 in doubles: the rank floor(q (n - 1)) taken from a
        # double product is one too low, and the value one rank lower (29 for 30) is 3% off.
        rows = [{"ts": 1772323200, "v": value} for value in range(1, 102)]
        result = self.run_tool("--agg", "p29:v,p57:v,p14.7:v", stdin=lines(rows))
        row = self.rows(result)[0]
        for column, q in (("p29_v", Fraction(29, 100)), ("p57_v", Fraction(57, 100)),
                          ("p14.7_v", Fraction(147, 1000))):
            exact = sorted(range(1, 102))[math.floor(q * 100)]
            self.assertLessEqual(abs(row[column] - exact), exact * 0.01, column)

    def test_weighted_estimates_match_horvitz_thompson(self):
        rng = random.Random(17)
        rows = []
        for _ in range(400):
            row = {"ts": 1772323200 + rng.randrange(7200), "g": rng.choice(["a", "b"]),
                   "v": f"{rng.randrange(1000)}.{rng.randrange(10)}", "user": f"u{rng.randrange(50)}"}
            if rng.random() < 0.9:
                row["w"] = rng.choice([1, 2, 4, "2.5", 10])
            rows.append(row)
        args = ["--every", "1h", "--by", "g", "--agg", "count,sum:v,avg:v,distinct:user",
                "--weight-field", "w"]
        result = self.run_tool(*args, "--save-state", "all.state", stdin=lines(rows))
        actual = self.rows(result)
        groups = {}
        for row in rows:
            groups.setdefault((row["ts"] // 3600 * 3600, row["g"]), []).append(row)
        self.assertEqual(len(actual), len(groups))
        for got, key in zip(actual, sorted(groups)):
            events = groups[key]
            w = [float(e.get("w", 1)) for e in events]
            x = [float(e["v"]) for e in events]
            excess = [wi * wi - wi for wi in w]
            ratio = sum(wi * xi for wi, xi in zip(w, x)) / sum(w)
            want = {
                "count": sum(w), "count_stderr": math.sqrt(sum(excess)),
                "sum_v": sum(wi * xi for wi, xi in zip(w, x)),
                "sum_v_stderr": math.sqrt(sum(e * xi * xi for e, xi in zip(excess, x))),
                "avg_v": ratio,
                "avg_v_stderr": math.sqrt(sum(e * (xi - ratio) ** 2
                                              for e, xi in zip(excess, x))) / sum(w),
            }
            for column, value in want.items():
                self.assertAlmostEqual(got[column], value, delta=abs(value) * 1e-9 + 1e-6,
                                       msg=column)
            self.assertEqual(got["distinct_user"], len({e["user"] for e in events}))
            self.assertIs(got["distinct_user_corrected"], False)
        for i, shard in enumerate((rows[:150], rows[150:])):
            self.assertStatus(self.run_tool(*args, "--save-state", f"w{i}.state",
                                            stdin=lines(shard)), 0)
        merged = self.run_tool("merge", "w1.state", "w0.state")
        self.assertEqual(merged.out, result.out)
        bad = self.run_tool(*args, stdin=lines([{"ts": 1772323200, "g": "a", "v": 1, "w": 0.5}]))
        self.assertError(bad, 65, "<stdin>:1", "field 'w'", "at least 1")

    def test_percentiles_take_numbers_with_more_places_than_exact_decimals(self):
        text = lines([{"ts": 1772323200, "v": 1.2345678901234567e-05},
                      {"ts": 1772323200, "v": "2e-30"}, {"ts": 1772323200, "v": 3}])
        row = self.rows(self.run_tool("--agg", "p50:v", stdin=text))[0]
        # Rank floor(0.5 * 2) = 1 of the sorted values: 1.2345678901234567e-05, within 1%.
        self.assertLessEqual(abs(row["p50_v"] - 1.2345678901234567e-05), 1.2345678901234567e-07)
        self.assertError(self.run_tool("--agg", "sum:v", stdin=text), 65, "<stdin>:1",
                         "at most 18 places")

    def test_bad_input_names_line_and_field_and_writes_nothing(self):
        good = '{"ts":"2026-03-01T10:00:00Z","cost":"1.5"}\n'
        cases = [
            ('{"ts":"2026-03-01T10:00:00Z","cost":"abc"}', "field 'cost'"),
            ('{"ts":"2026-03-01T10:00:00Z","cost":true}', "field 'cost'"),
            ('{"ts":"2026-03-01T10:00:00","cost":1}', "field 'ts'"),
            ('{"ts":"2026-03-01T10:00:00Z","cost":NaN}', "<stdin>:2"),
            ('{"ts":"2026-03-01T10:00:00Z","cost":"NaN"}', "field 'cost'"),
            ('{"cost":1}', "field 'ts'"),
        ]
        for bad, fragment in cases:
            result = self.run_tool("--agg", "sum:cost", "--save-state", "s.state",
                                   stdin=good + bad + "\n" + good)
            self.assertError(result, 65, "<stdin>:2", fragment)
            self.assertEqual(result.out, "")
            self.assertFalse(self.exists("s.state"), bad)
        skipped = self.run_tool("--agg", "count,sum:cost", "--skip-invalid",
                                stdin=good + cases[0][0] + "\n" + good)
        self.assertStatus(skipped, 1)
        self.assertEqual(json.loads(skipped.out)["sum_cost"], "3.0")
        self.assertEqual(json.loads(skipped.out)["count"], 2)

    def test_a_sum_past_128_bits_ends_the_run_even_when_skipping(self):
        big = '{"ts":"2026-03-01T10:00:00Z","cost":"' + "9" * 36 + '"}\n'
        result = self.run_tool("--agg", "sum:cost", "--skip-invalid", stdin=big * 200)
        # By hand: 170 of them fit below 2^127 (1.7e38), the 171st does not.
        self.assertError(result, 65, "<stdin>:171", "field 'cost'", "too large")

    def exists(self, name):
        return os.path.exists(self.path(name))

    def test_usage_errors_and_statuses(self):
        self.assertStatus(self.run_tool("--help"), 0)
        for args, fragment in [(["--agg", "median:x"], "--agg"), (["--agg", "sum"], "sum:FIELD"),
                               (["--agg", "p100:x"], "--agg"), (["--agg", "count:x"], "count"),
                               (["--agg", "count", "--every", "2d"], "--every"),
                               (["--agg", "count", "--every", "0s"], "--every"),
                               (["--agg", "count", "--tz", "Mars/Base"], "--tz"),
                               (["--agg", "count,count"], "twice"),
                               (["--agg", "count", "--by", "count"], "twice"),
                               (["--agg", "count", "--bogus"], "bogus")]:
            self.assertError(self.run_tool(*args), 2, fragment)
        self.assertError(self.run_tool("--agg", "count", "missing.jsonl"), 66, "missing.jsonl")
        self.assertError(self.run_tool("merge", "missing.state"), 66, "missing.state")

    def test_merge_refuses_other_settings_and_foreign_files(self):
        text = '{"ts":"2026-03-01T10:00:00Z","cost":"1.5"}\n'
        self.assertStatus(self.run_tool("--agg", "count", "--save-state", "a.state", stdin=text), 0)
        self.assertStatus(self.run_tool("--agg", "count", "--every", "1h", "--save-state",
                                        "b.state", stdin=text), 0)
        self.assertError(self.run_tool("merge", "a.state", "b.state"), 65, "b.state",
                         "merge only when")
        self.write("foreign.state", text)
        self.assertError(self.run_tool("merge", "foreign.state"), 65, "not a rollup state")
        state = self.read("a.state").decode().splitlines()
        self.write("cut.state", state[0] + "\n")
        self.assertError(self.run_tool("merge", "cut.state"), 65, "truncated")
        self.write("bad.state", state[0] + "\n" + state[1].replace('"count":1', '"count":"x"') + "\n")
        self.assertError(self.run_tool("merge", "bad.state"), 65, "bad.state:2", "malformed")


if __name__ == "__main__":
    unittest.main()


TIERS = ["--tier", "1m:3d", "--tier", "1h:30d", "--tier", "day:forever"]
STORE_AGGREGATES = "count,sum:cost,min:cost,max:cost,avg:cost,stddev:cost,last:status,distinct:user"
NOW = "2026-03-05T00:00:00Z"  # 1772668800


def store_oracle(rows, every):
    result = oracle(rows, every, "UTC", ["campaign"])
    for row in result:
        for column in ("p50_latency", "p99_latency"):
            del row[column]
    return result


@on_both_backends
class RollupStoreTest(ToolTestCase):
    tool = "rollup"

    def ingest(self, *files, now=NOW, extra=()):
        return self.run_tool("ingest", "--db", self.state("s"), *TIERS, "--by", "campaign", "--agg",
                             STORE_AGGREGATES, "--allowed-lateness", "1d", "--now", now,
                             *extra, *files)

    def query(self, tier, *extra, db=None):
        result = self.run_tool("query", "--db", db or self.state("s"), "--tier", tier, *extra)
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def batches(self, rng, count, start, span):
        rows = random_events(rng, count, start, span)
        for row in rows:
            row.pop("geo", None)
        return rows

    def test_tiers_match_the_oracle_with_late_batches_in_any_order(self):
        rng = random.Random(3)
        # Four batches within the raw tier's 3 days; one arrives two days late.
        files = []
        all_rows = []
        for index, start in enumerate([1772409600, 1772496000, 1772582400, 1772600000]):
            rows = self.batches(rng, 150, start, 20000)
            all_rows += rows
            files.append(self.write(f"b{index}.jsonl", lines(rows)))
        self.assertStatus(self.ingest(files[1], files[3]), 0)
        late = self.ingest(files[0], files[2])
        self.assertStatus(late, 0)
        self.assertGreater(json.loads(late.out.splitlines()[0])["late"], 0)
        for tier, every in (("1m", "1m"), ("1h", "1h"), ("day", "day")):
            actual = self.query(tier)
            for row in actual:
                row.pop("p50_latency", None)
            RollupTest.assertMatchesOracle(self, actual, store_oracle(all_rows, every), tier)
        # In order, into another store: the same rows, byte for byte.
        in_order = self.run_tool("ingest", "--db", self.state("t"), *TIERS, "--by", "campaign", "--agg",
                                 STORE_AGGREGATES, "--allowed-lateness", "1d", "--now", NOW,
                                 *files)
        self.assertStatus(in_order, 0)
        for tier in ("1m", "1h", "day"):
            self.assertEqual(self.run_tool("query", "--db", self.state("t"), "--tier", tier).out,
                             self.run_tool("query", "--db", self.state("s"), "--tier", tier).out)
        # The same file again changes nothing.
        again = self.ingest(files[2])
        self.assertEqual(json.loads(again.out)["status"], "already ingested")
        self.assertEqual(self.run_tool("query", "--db", self.state("s"), "--tier", "day").out,
                         self.run_tool("query", "--db", self.state("t"), "--tier", "day").out)
        self.assertEqual(sum(row["count"] for row in self.query("day")), len(all_rows))

    def test_late_policy_retention_and_compaction(self):
        old = self.write("old.jsonl", lines([
            {"ts": "2026-02-20T10:00:00Z", "campaign": "c1", "cost": "1.25", "user": "a"},
            {"ts": "2026-02-20T10:30:00Z", "campaign": "c1", "cost": "2", "user": "b"}]))
        fresh = self.write("fresh.jsonl", lines([
            {"ts": "2026-03-04T10:00:00Z", "campaign": "c1", "cost": "3", "user": "a"}]))
        rejected = self.ingest(old, extra=("--late-policy", "reject", "--reject-file", "r.jsonl"))
        self.assertStatus(rejected, 0)
        self.assertEqual(json.loads(rejected.out)["rejected"], 2)
        self.assertEqual(self.read("r.jsonl"), self.read("old.jsonl"))
        self.assertEqual(self.query("day"), [])
        # With merge (into another store), the events older than the raw tier's 3 days land
        # in the hour and day tiers directly.
        merged = self.run_tool("ingest", "--db", self.state("m"), *TIERS, "--by", "campaign", "--agg",
                               STORE_AGGREGATES, "--allowed-lateness", "1d", "--now", NOW, old,
                               fresh)
        self.assertStatus(merged, 0)
        self.assertEqual(json.loads(merged.out.splitlines()[0])["too_old"], 2)
        days = self.query("day", db=self.state("m"))
        self.assertEqual([(row["bucket"], row["count"], row["sum_cost"]) for row in days],
                         [("2026-02-20T00:00:00Z", 2, "3.25"), ("2026-03-04T00:00:00Z", 1, "3")])
        self.assertEqual(len(self.query("1m", db=self.state("m"))), 1)
        # Compaction a month later: the minute tier (3 days) and the hour tier (30 days) go.
        compact = self.run_tool("compact", "--db", self.state("m"), "--now", "2026-04-10T00:00:00Z",
                                "--batch-size", "1")
        self.assertEqual(json.loads(compact.out), {"deleted": 3})
        self.assertEqual(self.query("1h", db=self.state("m")), [])
        self.assertEqual(len(self.query("day", db=self.state("m"))), 2)
        # Rebuild does not recompute the day tier from the emptied hour tier.
        rebuild = self.run_tool("rebuild", "--db", self.state("m"), "--from", "2026-02-01T00:00:00Z",
                                "--to", "2026-05-01T00:00:00Z", "--now", NOW)
        self.assertEqual(json.loads(rebuild.out), {"rebuilt": 0})
        self.assertEqual(len(self.query("day", db=self.state("m"))), 2)

    def test_xff_hides_coarse_buckets_with_too_few_fine_slots(self):
        # 45 of the 60 minutes of one hour, 15 of another: coverage 0.75 and 0.25.
        rows = [{"ts": 1772611200 + minute * 60, "campaign": "c", "cost": 1}
                for minute in range(45)]
        rows += [{"ts": 1772614800 + minute * 60, "campaign": "c", "cost": 1}
                 for minute in range(15)]
        self.assertStatus(self.ingest(self.write("g.jsonl", lines(rows))), 0)
        hours = self.query("1h", "--xff", "0.5")
        self.assertEqual([(row["coverage"], row["count"], row["sum_cost"]) for row in hours],
                         [(0.75, 45, "45"), (0.25, None, None)])
        day = self.query("day", "--xff", "0.5")
        self.assertEqual((day[0]["coverage"], day[0]["count"]), (2 / 24, None))

    def test_store_usage_and_data_errors(self):
        events = self.write("e.jsonl", '{"ts":"2026-03-04T10:00:00Z","campaign":"c","cost":1}\n')
        for args, fragment in [
            (["--tier", "1m"], "WIDTH:RETENTION"),
            (["--tier", "1m:7x"], "--tier"),
            (["--tier", "1m:1h", "--allowed-lateness", "2h"], "shorter than --allowed-lateness"),
            (["--tier", "1h:1d", "--tier", "1m:7d"], "coarser"),
            (["--tier", "1m:1d", "--late-policy", "reject"], "--reject-file"),
        ]:
            result = self.run_tool("ingest", "--db", self.state("x"), "--agg", "count", *args, events)
            self.assertError(result, 2, fragment)
        self.assertFalse(os.path.exists(self.path(self.state("x"))))
        self.assertStatus(self.ingest(events), 0)
        other = self.run_tool("ingest", "--db", self.state("s"), "--tier", "1m:1d", "--agg", "count", events)
        self.assertError(other, 65, "the store was made with")
        bad = self.write("bad.jsonl", '{"ts":"2026-03-04T10:00:00Z","campaign":"c","cost":1}\n'
                                      '{"ts":"2026-03-04T10:00:00Z","campaign":"c","cost":"x"}\n')
        before = self.run_tool("query", "--db", self.state("s"), "--tier", "1m").out
        self.assertError(self.ingest(bad), 65, "bad.jsonl:2", "field 'cost'")
        self.assertEqual(self.run_tool("query", "--db", self.state("s"), "--tier", "1m").out, before)
        self.assertError(self.run_tool("query", "--db", self.state("s"), "--tier", "5m"), 2, "no tier")
        self.assertError(self.run_tool("query", "--db", self.state("s"), "--tier", "1m", "--by", "geo"),
                         2, "geo")
        self.assertError(self.run_tool("query", "--db", self.state("none"), "--tier", "1m"), 66)
        self.assertError(self.run_tool("ingest", "--db", self.state("s"), *TIERS, "--agg", "count",
                                       "missing.jsonl"), 66, "missing.jsonl")
