"""funnel: against an independent model of the documented semantics (funnel_oracle) on random
sessions (input out of order, duplicates, equal times, window edges), ClickHouse's documented
windowFunnel example, breakdowns, weights, and the documented exit statuses."""

import json
import math
import random
import unittest

import funnel_oracle
from sluice_cli import ToolTestCase, rounds

STEPS = ["event=home", "event=search", "event=cart", "event=checkout"]
NAMES = ["home", "search", "cart", "checkout", "other"]
BASE = 1767225600  # 2026-01-01T00:00:00Z
MODES = ["default", "strict-order", "strict-dedup", "strict-increase"]


def lines(rows):
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)


def random_sessions(rng, sessions, window_seconds):
    """Events of `sessions` sessions, times on a coarse grid (equal times are common, and gaps
    that equal the window too), some events repeated, all shuffled."""
    rows = []
    for session in range(sessions):
        for _ in range(rng.randint(1, 9)):
            seconds = rng.choice([0, 1, 2]) * window_seconds // 2 + rng.randint(0, 3)
            rows.append({"ts": BASE + seconds, "session": f"s{session}",
                         "event": rng.choice(NAMES)})
        for row in rng.sample(rows[-3:], min(2, len(rows))):
            if rng.random() < 0.3:
                rows.append(dict(row))
    rng.shuffle(rows)
    return rows


def model_entities(rows):
    entities = {}
    for row in rows:
        steps = [k + 1 for k, name in enumerate(NAMES[:4]) if row["event"] == name]
        entities.setdefault(row["session"], []).append(((row["ts"] - BASE) * 10**6, steps))
    return entities


class FunnelTest(ToolTestCase):
    tool = "funnel"

    def funnel(self, *args, stdin=""):
        return self.run_tool("--steps", ",".join(STEPS), *args, stdin=stdin)

    def rows(self, result):
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def assertRowsMatch(self, actual, expected, context):
        self.assertEqual(len(actual), len(expected), context)
        for got, want in zip(actual, expected):
            for key, value in want.items():
                if isinstance(value, float):
                    self.assertTrue(math.isclose(got[key], value, rel_tol=1e-12), (context, got, want))
                else:
                    self.assertEqual(got[key], value, (context, got, want))

    def test_random_sessions_match_the_model_in_every_mode(self):
        rng = random.Random(29)
        for trial in range(rounds(12, 200)):
            window = rng.choice([2, 10, 60])
            rows = random_sessions(rng, 40, window)
            entities = model_entities(rows)
            for mode in MODES:
                expected = funnel_oracle.report(entities, 4, window * 10**6, mode)
                result = self.funnel("--window", f"{window}s", "--mode", mode, stdin=lines(rows))
                self.assertRowsMatch(self.rows(result), expected, (trial, mode, window))

    def test_the_default_walk_equals_a_brute_force_search(self):
        rng = random.Random(7)
        for _ in range(rounds(300, 3000)):
            rows = random_sessions(rng, 1, 10)
            events = model_entities(rows)["s0"]
            level, _ = funnel_oracle.walk(events, 4, 10 * 10**6, "default")
            self.assertEqual(level, funnel_oracle.reachable(events, 4, 10 * 10**6), rows)

    def test_clickhouse_documentation_example(self):
        # windowFunnel's example in the ClickHouse documentation: user 1, eventID 1003, 1007,
        # 1009, 1010 stored out of order; conditions 1003, 1009, 1007, 1010 reach level 4.
        rows = [{"timestamp": "2019-01-29 10:00:00Z", "user_id": 1, "eventID": 1003},
                {"timestamp": "2019-01-31 09:00:00Z", "user_id": 1, "eventID": 1007},
                {"timestamp": "2019-01-30 08:00:00Z", "user_id": 1, "eventID": 1009},
                {"timestamp": "2019-02-01 08:00:00Z", "user_id": 1, "eventID": 1010}]
        result = self.run_tool("--steps", "eventID=1003,eventID=1009,eventID=1007,eventID=1010",
                               "--window", "36500d", "--by", "user_id",
                               "--time-field", "timestamp", stdin=lines(rows))
        self.assertEqual([row["entities"] for row in self.rows(result)], [1, 1, 1, 1])
        # 1003 -> 1009 -> 1007 -> 1010 takes 2 days 22 hours.
        self.assertEqual(self.rows(result)[3]["median_seconds"], 2 * 86400 + 22 * 3600)

    def test_strict_order_documentation_example(self):
        # "in the case of A->B->D->C, it stops finding A->B->C at the D and the max event
        # level is 2"
        rows = [{"ts": BASE + i, "session": "u", "event": name}
                for i, name in enumerate(["A", "B", "D", "C"])]
        steps = ["--steps", "event=A,event=B,event=C", "--window", "1h"]
        default = self.run_tool(*steps, stdin=lines(rows))
        strict = self.run_tool(*steps, "--mode", "strict-order", stdin=lines(rows))
        self.assertEqual([row["entities"] for row in self.rows(default)], [1, 1, 1])
        self.assertEqual([row["entities"] for row in self.rows(strict)], [1, 1, 0])

    def test_one_event_meeting_two_steps_is_a_hit_of_each(self):
        # SEMANTICS rule 1, as ClickHouse's windowFunnel sorts its (time, step) pairs: one
        # event meeting steps 1 and 2 reaches step 2, except in strict-increase mode.
        rows = [{"ts": BASE, "session": "a", "event": "home", "kind": "page"}]
        steps = ["--steps", "event=home,kind=page", "--window", "1h"]
        for mode, reached in [("default", [1, 1]), ("strict-order", [1, 1]),
                              ("strict-dedup", [1, 1]), ("strict-increase", [1, 0])]:
            result = self.run_tool(*steps, "--mode", mode, stdin=lines(rows))
            self.assertEqual([row["entities"] for row in self.rows(result)], reached, mode)

    def test_table_shows_percentages(self):
        rows = [{"ts": BASE, "session": "a", "event": "home"},
                {"ts": BASE, "session": "b", "event": "home"},
                {"ts": BASE + 5, "session": "a", "event": "search"}]
        result = self.funnel("--window", "1m", "--format", "table", stdin=lines(rows))
        self.assertStatus(result, 0)
        # The whole table: percentages, an empty cell for a conversion from a step no entity
        # reached (null) and for the times of a step none reached.
        self.assertEqual(result.out.splitlines(), [
            "step  condition       entities  from_previous  from_first  median_seconds  p90_seconds",
            "1     event=home      2         100.0%         100.0%      0               0",
            "2     event=search    1         50.0%          50.0%       5               5",
            "3     event=cart      0         0.0%           0.0%",
            "4     event=checkout  0                        0.0%"])

    def test_breakdown_and_weights(self):
        rows = [{"ts": BASE, "session": "a", "event": "home", "src": "ads", "sample_rate": 10},
                {"ts": BASE + 1, "session": "a", "event": "search"},
                {"ts": BASE, "session": "b", "event": "home", "src": "mail", "sample_rate": 4},
                {"ts": BASE, "session": "c", "event": "home", "src": "ads"}]
        result = self.funnel("--window", "1m", "--breakdown", "src", "--weight-field",
                             "sample_rate", stdin=lines(rows))
        rows_out = self.rows(result)
        self.assertEqual([(r["breakdown"], r["step"], r["entities"]) for r in rows_out[:2]],
                         [("ads", 1, 2), ("ads", 2, 1)])
        self.assertEqual(rows_out[0]["weighted_entities"], 11)
        self.assertEqual(rows_out[0]["weighted_stderr"], math.sqrt(90))
        self.assertEqual(rows_out[1]["from_previous"], 10 / 11)
        self.assertEqual(rows_out[4]["breakdown"], "mail")
        self.assertEqual(rows_out[4]["weighted_entities"], 4)

    def test_weighted_estimates_cover_the_truth_as_often_as_their_error_bars_say(self):
        # 2,000 sessions, 60% reach step 2; each trial samples 10% of the sessions by key
        # (another seed each time) and estimates both counts. The 95% intervals (estimate
        # +- 1.96 standard errors) must hold the truth in 95% of the trials, give or take three
        # binomial standard deviations (90.4% to 99.6% for 200 trials; seeded, so the same
        # figures every run).
        rows = []
        for i in range(2000):
            rows.append({"ts": BASE + i, "session": f"s{i}", "event": "home"})
            if i % 5 < 3:
                rows.append({"ts": BASE + i + 1, "session": f"s{i}", "event": "search"})
        self.write("population.jsonl", lines(rows))
        trials = rounds(200, 1000)
        covered = [0, 0]
        for seed in range(trials):
            sampled = self.run_tool("--rate", "10%", "--key", "session", "--seed", str(seed),
                                    "population.jsonl", tool="sample")
            self.assertStatus(sampled, 0)
            result = self.run_tool("--steps", "event=home,event=search", "--window", "1m",
                                   "--weight-field", "sample_rate", stdin=sampled.stdout)
            for step, (row, truth) in enumerate(zip(self.rows(result), [2000, 1200])):
                if abs(row["weighted_entities"] - truth) <= 1.96 * row["weighted_stderr"]:
                    covered[step] += 1
        spread = 3 * math.sqrt(0.95 * 0.05 / trials)
        for count in covered:
            self.assertGreaterEqual(count / trials, 0.95 - spread, covered)
            self.assertLessEqual(count / trials, 0.95 + spread, covered)

    def test_nested_fields_and_expressions(self):
        rows = [{"ts": BASE, "session": "a", "event": "cart", "props": {"value": 3}},
                {"ts": BASE, "session": "b", "event": "cart", "props": {"value": 0}}]
        result = self.run_tool("--steps", "event=cart AND props.value>0", "--window", "1m",
                               stdin=lines(rows))
        self.assertEqual(self.rows(result)[0]["entities"], 1)

    def test_usage_errors_exit_2_with_the_reason(self):
        self.assertError(self.run_tool("--steps", "event=home,event", "--window", "1h"), 2,
                         "step 2 'event'", "no operator")
        self.assertError(self.run_tool("--steps", "a>x", "--window", "1h"), 2, "not a number")
        self.assertError(self.funnel("--window", "1 hour"), 2, "--window")
        self.assertError(self.funnel("--window", "1h", "--mode", "loose"), 2, "--mode")
        self.assertError(self.run_tool("--window", "1h"), 2, "--steps")
        self.assertStatus(self.run_tool("--help"), 0)

    def test_bad_event_exits_65_naming_file_and_line(self):
        self.write("events.jsonl", '{"ts":1767225600,"session":"a","event":"home"}\n'
                                   '{"ts":"yesterday","session":"a","event":"home"}\n')
        result = self.funnel("--window", "1h", "events.jsonl")
        self.assertError(result, 65, "events.jsonl:2", "ts")
        self.write("nosession.jsonl", '{"ts":1767225600,"event":"home"}\n')
        self.assertError(self.funnel("--window", "1h", "nosession.jsonl"), 65,
                         "nosession.jsonl:1", "session")
        self.write("broken.jsonl", '{"ts":1767225600,\n')
        self.assertError(self.funnel("--window", "1h", "broken.jsonl"), 65, "broken.jsonl:1")
        self.assertError(self.funnel("--window", "1h", "missing.jsonl"), 66, "missing.jsonl")
        skipped = self.funnel("--window", "1h", "--skip-invalid", "events.jsonl")
        self.assertStatus(skipped, 1)
        self.assertEqual(json.loads(skipped.out.splitlines()[0])["entities"], 1)
        self.assertIn("events.jsonl:2", skipped.err)

    def test_a_skipped_step_1_event_leaves_no_trace(self):
        # A bad --breakdown or --weight-field value on a step-1 event: under --skip-invalid the
        # line is reported and counts for nothing (it used to count as the entity's start).
        rows = [{"ts": BASE, "session": "a", "event": "home", "src": {"x": 1}},
                {"ts": BASE + 1, "session": "b", "event": "home", "src": "ads", "w": 0.5},
                {"ts": BASE + 2, "session": "c", "event": "home", "src": "ads", "w": 2}]
        result = self.funnel("--window", "1h", "--breakdown", "src", "--weight-field", "w",
                             "--skip-invalid", stdin=lines(rows))
        self.assertStatus(result, 1)
        self.assertIn("<stdin>:1", result.err)
        self.assertIn("<stdin>:2", result.err)
        out = [json.loads(line) for line in result.out.splitlines()]
        self.assertEqual([(row["breakdown"], row["step"], row["entities"], row["weighted_entities"])
                          for row in out], [("ads", 1, 1, 2), ("ads", 2, 0, 0), ("ads", 3, 0, 0),
                                            ("ads", 4, 0, 0)])


if __name__ == "__main__":
    unittest.main()
