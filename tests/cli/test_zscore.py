"""zscore: a naive oracle over random series and options, pass-through of every input byte,
interleaved series, dropped stale points, and the documented exit statuses."""

import json
import math
import os
import random
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase
from zscore_oracle import detect

FIELDS = ["expected", "lower", "upper", "z", "score", "anomaly"]


def points(values, start=1767225600, key=None):
    rows = []
    for index, value in enumerate(values):
        row = {"ts": start + 60 * index, "value": value}
        if key is not None:
            row["metric"] = key
        rows.append(row)
    return rows


def lines(rows):
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)


def close(actual, expected, tolerance=1e-9):
    if expected is None or actual is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=tolerance)


def z_tolerance(reference):
    """How far two correct computations of z may differ. The oracle sums exactly and rounds
    once; the tool keeps a running window (Welford updates, re-summed every window), good to
    to about 1e-8 relative here. And a mean near 1e9 is itself only known to its unit in the
    last place (about 1.2e-7), a large part of a spread of 0.01."""
    if reference["z"] is None:
        return 1e-9
    spread = (reference["upper"] - reference["expected"]) / reference["threshold"]
    return 1e-7 * abs(reference["z"]) + 16 * math.ulp(abs(reference["expected"])) / spread


def multiplicative_holt_winters(values, m, alpha, beta, gamma):
    """One-step forecasts of Holt-Winters with an additive trend and a multiplicative season
    (Hyndman and Athanasopoulos, "Forecasting: principles and practice", 8.3; statsmodels'
    ExponentialSmoothing(trend='add', seasonal='mul')), started as zscore(1) says: level the
    mean of the first season, trend the difference of the first two seasons' means over m,
    season factors the first season's values over that level. Checked once by hand against
    statsmodels 0.13.5 (Debian python3-statsmodels): ExponentialSmoothing(trend='add',
    seasonal='mul', initialization_method='known') with these initial values and
    fit(optimized=False) gives the same fittedvalues, bit for bit, on the series of
    test_multiplicative_holt_winters_matches_the_recurrences."""
    level = sum(values[:m]) / m
    trend = (sum(values[m:2 * m]) / m - level) / m
    season = [value / level for value in values[:m]]
    forecasts = []
    for t, value in enumerate(values):
        factor = season[t % m]
        forecasts.append((level + trend) * factor)
        new_level = alpha * value / factor + (1 - alpha) * (level + trend)
        new_trend = beta * (new_level - level) + (1 - beta) * trend
        season[t % m] = gamma * value / (level + trend) + (1 - gamma) * factor
        level, trend = new_level, new_trend
    return forecasts


class Zscore(ToolTestCase):
    tool = "zscore"

    def detect(self, rows, *args, status=0):
        result = self.run_tool(*args, stdin=lines(rows))
        self.assertStatus(result, status)
        return [json.loads(line) for line in result.out.splitlines()]

    def assertMatchesOracle(self, got, want, context):
        self.assertEqual(len(got), len(want), context)
        for index, (record, reference) in enumerate(zip(got, want)):
            for field in FIELDS:
                tolerance = z_tolerance(reference) if field in ("z", "score") else 1e-9
                self.assertTrue(close(record[field], reference[field], tolerance),
                                f"{context} point {index} {field}: {record[field]} != "
                                f"{reference[field]}")

    def test_hand_computed_spike(self):
        out = self.detect(points([10, 12, 14, 20, 14]), "--window", "3", "--threshold", "2")
        self.assertEqual([r["anomaly"] for r in out], [None, None, None, True, False])
        self.assertEqual([r.get("reason") for r in out[:3]], ["warming_up"] * 3)
        self.assertEqual((out[3]["expected"], out[3]["lower"], out[3]["upper"], out[3]["z"]),
                         (12, 8, 16, 4))
        self.assertEqual(out[3]["method"], "zscore")
        self.assertNotIn("reason", out[3])

    def test_random_series_match_the_naive_oracle(self):
        rng = random.Random(20261129)
        for case in range(250):
            method = rng.choice(["zscore", "ewma", "robust", "seasonal", "holt-winters"])
            options = {"window": rng.randint(2, 12), "alpha": rng.choice([0.05, 0.2, 0.5, 1.0]),
                       "threshold": rng.choice([1.0, 2.0, 3.0]),
                       "direction": rng.choice(["both", "up", "down"]),
                       "min_history": rng.choice([0, 0, 2, 5]),
                       "recover": rng.randint(1, 3)}
            of = rng.randint(1, 4)
            options["trigger"] = (rng.randint(1, of), of)
            base = rng.choice([0, 1e9, -50])
            count = rng.randint(0, 60)
            values = [base + (rng.choice([0, 1, 1, 5]) if rng.random() < 0.2
                              else rng.gauss(0, 1) * rng.choice([0.01, 1, 100]))
                      for _ in range(count)]
            if rng.random() < 0.3:
                values = [round(v) for v in values]  # flat stretches: zero spreads
            # Hourly points with a few hours missing, so phases do not simply take turns.
            times, time = [], 1767225600
            for _ in range(count):
                time += 3600 * rng.choice([1, 1, 1, 2])
                times.append(time)
            args = ["--method", method, "--window", str(options["window"]),
                    "--alpha", str(options["alpha"]), "--threshold", str(options["threshold"]),
                    "--direction", options["direction"], "--recover", str(options["recover"]),
                    "--trigger", f"{options['trigger'][0]}/{options['trigger'][1]}"]
            if method == "seasonal":
                season_hours, lookback = rng.choice([3, 6]), rng.randint(1, 3)
                options.update(lookback=lookback,
                               phase=lambda t, s=season_hours: t % (3600 * s))
                args += ["--season", f"{season_hours}h", "--lookback", str(lookback)]
            if method == "holt-winters":
                options.update(season_length=rng.randint(2, 6), beta=rng.choice([0, 0.1, 0.5]),
                               gamma=rng.choice([0, 0.2, 0.9]),
                               residual_window=options["window"])
                args += ["--season-length", str(options["season_length"]),
                         "--beta", str(options["beta"]), "--gamma", str(options["gamma"])]
            if options["min_history"]:
                args += ["--min-history", str(options["min_history"])]
            rows = [{"ts": t, "value": v} for t, v in zip(times, values)]
            got = self.detect(rows, *args)
            want = detect(values, method=method, times=times, **options)
            self.assertMatchesOracle(got, want, f"case {case} {args}")

    def test_holt_winters_matches_statsmodels(self):
        """Fixtures frozen from statsmodels 0.13.5's ExponentialSmoothing (additive trend and
        season, fixed parameters, 'known' initial values as zscore(1) computes them):
        see zscore_hw_fixtures.py. Forecasts are compared from the first judged point on."""
        path = os.path.join(os.path.dirname(__file__), "fixtures", "zscore_holt_winters.json")
        with open(path) as handle:
            cases = json.load(handle)
        self.assertEqual(len(cases), 6)
        for case in cases:
            m = case["season_length"]
            out = self.detect(points(case["values"]), "--method", "holt-winters",
                              "--season-length", str(m), "--alpha", str(case["alpha"]),
                              "--beta", str(case["beta"]), "--gamma", str(case["gamma"]))
            self.assertEqual([r["expected"] for r in out[:2 * m]], [None] * (2 * m))
            for index in range(2 * m, len(out)):
                self.assertTrue(math.isclose(out[index]["expected"], case["forecasts"][index],
                                             rel_tol=1e-9, abs_tol=1e-6),
                                f"{case['name']} point {index}: {out[index]['expected']} != "
                                f"{case['forecasts'][index]}")

    def test_multiplicative_holt_winters_matches_the_recurrences(self):
        """A daily cycle whose swing grows with the level: forecasts and z from the
        recurrences written out in multiplicative_holt_winters (the spread is the root mean
        square of the last two seasons' one-step errors)."""
        rng = random.Random(11)
        m = 12
        values = [(100 + 2 * t) * (1 + 0.4 * math.sin(2 * math.pi * t / m)) *
                  (1 + rng.gauss(0, 0.02)) for t in range(10 * m)]
        out = self.detect(points(values), "--method", "holt-winters", "--season-length", str(m),
                          "--seasonality", "multiplicative", "--alpha", "0.3", "--beta", "0.1",
                          "--gamma", "0.2")
        forecasts = multiplicative_holt_winters(values, m, 0.3, 0.1, 0.2)
        errors = [value - forecast for value, forecast in zip(values, forecasts)]
        self.assertEqual([r["expected"] for r in out[:2 * m]], [None] * (2 * m))
        for t in range(2 * m, len(values)):
            spread = math.sqrt(sum(e * e for e in errors[t - 2 * m:t]) / (2 * m))
            self.assertTrue(math.isclose(out[t]["expected"], forecasts[t], rel_tol=1e-9), t)
            self.assertTrue(math.isclose(out[t]["z"], errors[t] / spread, rel_tol=1e-7,
                                         abs_tol=1e-9), t)
        # The additive season cannot follow the growing swing: its forecasts are further off.
        additive = self.detect(points(values), "--method", "holt-winters", "--season-length",
                               str(m), "--alpha", "0.3", "--beta", "0.1", "--gamma", "0.2")
        def squared(records):
            return sum((r["expected"] - v) ** 2 for r, v in zip(records, values)
                       if r["expected"] is not None)
        self.assertLess(squared(out), squared(additive) / 2)

    def test_transforms_judge_on_their_scale(self):
        # log: ln(1 + v) of 0, 2, 8 is 0, L, 2L with L = ln 3 (mean L, sd L); 242 is 5L, z = 4.
        # Back in values: expected e^L - 1 = 2, the band L -+ 3L is 3^-2 - 1 to 3^4 - 1.
        out = self.detect(points([0, 2, 8, 242]), "--window", "3", "--transform", "log")
        last = out[3]
        self.assertAlmostEqual(last["z"], 4, places=12)
        self.assertAlmostEqual(last["expected"], 2, places=12)
        self.assertAlmostEqual(last["lower"], 1 / 9 - 1, places=12)
        self.assertAlmostEqual(last["upper"], 80, places=12)
        self.assertIs(last["anomaly"], True)
        sqrt = self.detect(points([4, 16, 36, 100]), "--window", "3", "--transform", "sqrt")
        self.assertEqual([sqrt[3][f] for f in ("expected", "lower", "upper", "z", "anomaly")],
                         [16, 0, 100, 3, False])
        negative = self.run_tool("--transform", "log", stdin=lines(points([1, -1])))
        self.assertError(negative, 65, "<stdin>:2:",
                         "field 'value': -1 is below 0: --transform log takes values of 0")
        zero = self.run_tool("--method", "holt-winters", "--season-length", "2", "--seasonality",
                             "multiplicative", stdin=lines(points([3, 1, 0])))
        self.assertError(zero, 65, "<stdin>:3:", "field 'value': 0 is not above 0")
        zero_logged = self.run_tool("--method", "holt-winters", "--season-length", "2",
                                    "--seasonality", "multiplicative", "--transform", "log",
                                    stdin=lines(points([3, 0])))
        self.assertError(zero_logged, 65, "<stdin>:2:", "0 is not above 0 once transformed")
        skipped = self.run_tool("--transform", "sqrt", "--skip-invalid",
                                stdin=lines(points([1, -4, 9])))
        self.assertStatus(skipped, 1)
        self.assertEqual([json.loads(line)["value"] for line in skipped.out.splitlines()], [1, 9])
        for args in (["--transform", "exp"], ["--seasonality", "multiplied"],
                     ["--method", "holt-winters", "--season-length", "2", "--seasonality",
                      "multiplicative", "--interval", "1m", "--missing", "zero"]):
            self.assertStatus(self.run_tool(*args), 2)
        # The transform shapes the saved state: a file kept without one refuses it.
        self.assertStatus(self.run_tool("--db", "z.db", stdin=lines(points([1]))), 0)
        self.assertError(self.run_tool("--db", "z.db", "--transform", "sqrt"), 65,
                         "the state was kept with")

    def test_a_long_window_judges_after_thirty_points(self):
        values = [float(v % 7) for v in range(40)]
        out = self.detect(points(values), "--window", "100")
        self.assertEqual([r["anomaly"] is None for r in out], [True] * 30 + [False] * 10)
        want = detect(values, window=100)
        self.assertMatchesOracle(out, want, "window 100")
        self.assertEqual(out[30]["expected"], sum(values[:30]) / 30)

    def test_holt_winters_season_from_interval(self):
        rng = random.Random(9)
        values = [10 * math.sin(i * math.pi / 12) + rng.gauss(0, 1) for i in range(24 * 5)]
        by_points = self.detect(points(values), "--method", "holt-winters",
                                "--season-length", "24")
        by_time = self.detect(points(values), "--method", "holt-winters", "--season", "1d",
                              "--interval", "1h")
        self.assertEqual(by_points, by_time)
        self.assertEqual(by_points[48]["expected"] is None, False)
        self.assertError(self.run_tool("--method", "holt-winters"), 2, "--season-length")
        self.assertError(self.run_tool("--method", "holt-winters", "--interval", "7h"), 2,
                         "--season 1d")

    def test_records_pass_through_byte_for_byte(self):
        text = ('{"ts":"2026-01-01T00:00:00Z", "value":1.50, "note":"caf\\u00e9", "x":[1,{}]}  \n'
                '{"ts":"2026-01-01T00:01:00Z","value":2}\n'
                '{"ts":"2026-01-01T00:02:00Z","value":3,"expected":"theirs","z":0}\n')
        result = self.run_tool("--window", "2", stdin=text)
        self.assertStatus(result, 0)
        out = result.out.splitlines()
        self.assertTrue(out[0].startswith(
            '{"ts":"2026-01-01T00:00:00Z", "value":1.50, "note":"caf\\u00e9", "x":[1,{}],'
            '"expected":null,'))
        self.assertTrue(out[1].startswith('{"ts":"2026-01-01T00:01:00Z","value":2,"expected"'))
        third = json.loads(out[2])
        self.assertEqual(list(third), ["ts", "value", "expected", "lower", "upper", "z", "score",
                                       "anomaly", "method"])
        self.assertEqual(third["expected"], 1.75)

    def test_interleaved_series_are_judged_apart(self):
        rng = random.Random(5)
        series = {name: [rng.gauss(100, 10) for _ in range(40)] for name in ["a", "b", "c"]}
        rows = []
        for index in range(40):
            for name in rng.sample(sorted(series), 3):
                rows.append({"ts": 1767225600 + 60 * index, "metric": name,
                             "value": series[name][index]})
        out = self.detect(rows, "--key", "metric", "--window", "5")
        for name, values in series.items():
            got = [r for r in out if r["metric"] == name]
            self.assertMatchesOracle(got, detect(values, window=5), name)

    def test_points_at_or_before_the_latest_time_are_dropped(self):
        # 1 of 5 points out of order (20%, over the 1% allowed): 65 unless --allow-unsorted.
        rows = points([1, 2, 3, 4]) + [{"ts": 1767225600 + 60, "value": 99}]
        refused = self.run_tool("--window", "2", stdin=lines(rows))
        self.assertError(refused, 65, "1 of 5 points (20.0%) came before their series' latest "
                         "point", "--reorder-window", "--allow-unsorted")
        result = self.run_tool("--window", "2", "--allow-unsorted", stdin=lines(rows))
        self.assertStatus(result, 0)
        self.assertEqual(len(result.out.splitlines()), 4)
        self.assertEqual(result.err, "zscore: note: 1 point(s) at or before the latest time of "
                         "their series were dropped: 1 out of time order\n")
        quiet = self.run_tool("--window", "2", "--quiet", "--allow-unsorted", stdin=lines(rows))
        self.assertEqual(quiet.err, "")

    def test_a_repeated_point_is_used_once_and_is_not_disorder(self):
        rows = points([1, 2, 3, 4])
        rows.insert(2, dict(rows[1]))
        result = self.run_tool("--window", "2", stdin=lines(rows))
        self.assertStatus(result, 0)
        self.assertEqual([json.loads(line)["value"] for line in result.out.splitlines()],
                         [1, 2, 3, 4])
        self.assertIn("dropped: 1 repeating their series' latest time", result.err)

    def test_a_little_disorder_is_counted_and_allowed(self):
        rows = points(list(range(300)))
        rows[150], rows[151] = rows[151], rows[150]  # 1 of 300 out of order: under 1%
        result = self.run_tool("--window", "5", stdin=lines(rows))
        self.assertStatus(result, 0)
        self.assertEqual(len(result.out.splitlines()), 299)
        self.assertIn("1 out of time order", result.err)

    def test_shuffled_input_is_refused_and_the_state_kept_as_it_was(self):
        rng = random.Random(7)
        rows = points([rng.gauss(100, 5) for _ in range(500)], key="m")
        shuffled = rows[:]
        rng.shuffle(shuffled)
        db = self.path("state.db")
        first = self.run_tool("--key", "metric", "--db", db, stdin=lines(rows[:100]))
        self.assertStatus(first, 0)
        before = self.state_dump(db, ["zscore_series"])
        result = self.run_tool("--key", "metric", "--db", db, stdin=lines(shuffled))
        self.assertStatus(result, 65)
        self.assertIn("not in time order", result.err)
        self.assertEqual(self.state_dump(db, ["zscore_series"]), before)

    def test_reorder_window_judges_disorder_within_it_as_if_sorted(self):
        rng = random.Random(11)
        rows = []
        for host in ("a", "b"):
            rows += [{"ts": 1767225600 + 60 * i, "host": host, "value": rng.gauss(50, 3)}
                     for i in range(400)]
        ordered = sorted(rows, key=lambda row: row["ts"])
        # Every point moved by up to 2 minutes, so no point comes after one more than 4 minutes
        # later than itself: a 5-minute window sorts it all.
        jittered = sorted(ordered, key=lambda row: row["ts"] + rng.uniform(-120, 120))
        self.assertNotEqual(jittered, ordered)

        def by_time(records):  # points of one time may come in either host's order
            return sorted(records, key=lambda record: (record["ts"], record["host"]))
        want = self.detect(ordered, "--key", "host", "--window", "20")
        refused = self.run_tool("--key", "host", "--window", "20", stdin=lines(jittered))
        self.assertStatus(refused, 65)
        got = self.detect(jittered, "--key", "host", "--window", "20", "--reorder-window", "5m")
        self.assertEqual(by_time(got), by_time(want))
        self.assertEqual([record["ts"] for record in got], [record["ts"] for record in want])
        # A window too short for the disorder sorts part of it and refuses the rest.
        short = self.run_tool("--key", "host", "--window", "20", "--reorder-window", "1m",
                              stdin=lines(jittered))
        self.assertStatus(short, 65)

    def test_cron_runs_over_the_same_file_are_not_disorder(self):
        rows = points(list(range(100)), key="m")
        db = self.path("state.db")
        first = self.run_tool("--key", "metric", "--db", db, stdin=lines(rows[:60]))
        self.assertStatus(first, 0)
        again = self.run_tool("--key", "metric", "--db", db, stdin=lines(rows))
        self.assertStatus(again, 0)
        self.assertEqual(len(again.out.splitlines()), 40)
        self.assertIn("dropped: 60 judged by an earlier run", again.err)

    def test_key_takes_a_comma_list_or_repeats(self):
        rows = [{"ts": 1767225600 + 60 * i, "metric": metric, "host": host, "value": i % 7}
                for i in range(30) for metric in ("cpu", "mem") for host in ("h1", "h2")]
        listed = self.detect(rows, "--key", "metric,host", "--window", "3")
        repeated = self.detect(rows, "--key", "metric", "--key", "host", "--window", "3")
        self.assertEqual(listed, repeated)
        for metric in ("cpu", "mem"):
            for host in ("h1", "h2"):
                got = [r for r in listed if (r["metric"], r["host"]) == (metric, host)]
                self.assertMatchesOracle(got, detect([r["value"] for r in got], window=3),
                                         (metric, host))
        self.assertError(self.run_tool("--key", "", stdin=lines(rows)), 2, "--key")

    def test_a_key_field_no_point_has_is_an_error(self):
        rows = points([1, 2, 3], key="m")
        db = self.path("state.db")
        result = self.run_tool("--key", "metirc", "--db", db, stdin=lines(rows))
        self.assertError(result, 65, "--key metirc: no point has this field")
        self.assertEqual(self.state_dump(db, ["zscore_series"]), {"zscore_series": []})
        both = self.run_tool("--key", "metric,hots", stdin=lines(rows))
        self.assertError(both, 65, "--key hots: no point has this field")
        # A field some points lack is a series of its own (null), not an error.
        mixed = self.run_tool("--key", "metric", stdin=lines(rows + points([5], start=1767300000)))
        self.assertStatus(mixed, 0)

    def test_only_anomalies_and_fail_on_anomaly(self):
        rows = points([10, 12, 14, 20, 14])
        result = self.run_tool("--window", "3", "--threshold", "2", "--only-anomalies",
                               "--fail-on-anomaly", stdin=lines(rows))
        self.assertStatus(result, 1)
        self.assertEqual([json.loads(line)["value"] for line in result.out.splitlines()], [20])
        calm = self.run_tool("--window", "3", "--fail-on-anomaly", stdin=lines(points([1, 2, 3])))
        self.assertStatus(calm, 0)

    def test_bad_values_name_the_line_and_field(self):
        good = '{"ts":1767225600,"value":1}\n'
        for bad, fragment in [('{"ts":1767225660,"value":"7"}', "field 'value' must be a number"),
                              ('{"ts":1767225660}', "field 'value' is missing"),
                              ('{"ts":1767225660,"value":1e999}', "not a finite number"),
                              ('{"ts":"yesterday","value":1}', "field 'ts'"),
                              ('{"value":1}', "field 'ts' is missing"),
                              ('{"ts":1767225660,"value":1', "truncated")]:
            result = self.run_tool(stdin=good + bad + "\n")
            self.assertError(result, 65, "<stdin>:2:", fragment)
            self.assertEqual(len(result.out.splitlines()), 1)
        skipped = self.run_tool("--skip-invalid", stdin=good + '{"ts":1,"value":null}\n' + good)
        self.assertStatus(skipped, 1)
        self.assertIn("<stdin>:2:", skipped.err)

    def test_max_series_bounds_the_series_held(self):
        rows = [{"ts": 1767225600 + 60 * index, "host": host, "value": index}
                for index in range(3) for host in ["a", "b", "c"]]
        result = self.run_tool("--key", "host", "--max-series", "2", stdin=lines(rows))
        self.assertError(result, 65, "<stdin>:3:", "starts a new series, one more than "
                         "--max-series 2")
        self.assertEqual(len(result.out.splitlines()), 2)
        skipped = self.run_tool("--key", "host", "--max-series", "2", "--skip-invalid",
                                stdin=lines(rows))
        self.assertStatus(skipped, 1)
        self.assertEqual([json.loads(line)["host"] for line in skipped.out.splitlines()],
                         ["a", "b"] * 3)
        self.assertEqual(skipped.err.count("--max-series 2 (skipped)"), 3, skipped.err)
        self.assertStatus(self.run_tool("--key", "host", "--max-series", "3", stdin=lines(rows)), 0)

    def test_progress_goes_to_standard_error_only(self):
        """--progress always: after the first second the meter (points, bytes, rate, series)
        is drawn in place on standard error and erased at the end; stdout has only records."""
        rows = [{"ts": 1767225600 + index, "host": f"h{index % 3}", "value": index % 5}
                for index in range(4096)]
        with open(self.path("out.jsonl"), "wb") as out:
            child = self.start_tool("--key", "host", "--progress", "always",
                                    stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
            child.stdin.write(lines(rows[:2048]).encode())
            child.stdin.flush()
            time.sleep(1.1)  # the meter waits for the first second of work
            _, err = child.communicate(lines(rows[2048:]).encode(), timeout=60)
        self.assertEqual(child.returncode, 0, err)
        self.assertRegex(err.decode(), r"^(\rzscore: [0-9]+ records, [0-9.]+ KiB, [0-9]+ "
                                       r"records/s, 3 series\x1b\[K)+\r\x1b\[K$")
        output = self.read("out.jsonl").decode()
        self.assertEqual(len(output.splitlines()), 4096)
        self.assertNotIn("\r", output)
        # auto: standard error is not a terminal here, so nothing.
        self.assertEqual(self.run_tool("--progress", "auto", stdin=lines(rows)).err, "")
        self.assertStatus(self.run_tool("--progress", "sometimes"), 2)

    def test_usage_errors(self):
        for args in [["--window", "1"], ["--alpha", "0"], ["--alpha", "1.5"], ["--threshold", "0"],
                     ["--trigger", "3/2"], ["--trigger", "x"], ["--recover", "0"],
                     ["--method", "magic"], ["--direction", "sideways"], ["--bogus"],
                     ["--value-field", "ts"], ["--key", "value"], ["--key", "ts"],
                     ["--max-series", "0"], ["--max-series", "-1"]]:
            result = self.run_tool(*args)
            self.assertStatus(result, 2)
            self.assertTrue(result.err.startswith("zscore: error: "), (args, result))

    def test_help_version_missing_file_and_empty_input(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertIn("zscore", self.run_tool("--version").out)
        self.assertError(self.run_tool("missing.jsonl"), 66, "missing.jsonl")
        empty = self.run_tool()
        self.assertStatus(empty, 0)
        self.assertEqual(empty.out, "")


if __name__ == "__main__":
    unittest.main()
