"""sample: decisions by key against an independent computation (Python's hashlib), the kept
share within a binomial bound, rules in order, weights, the reservoir, and exit statuses."""

import hashlib
import json
import math
import unittest
from collections import Counter

from sluice_cli import ToolTestCase, rounds


def lines(rows):
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)


def draw(seed, key):
    seed_text = str(seed)
    message = f"{len(seed_text)}:{seed_text}{len(key.encode())}:".encode() + key.encode()
    return int.from_bytes(hashlib.sha256(message).digest()[:8], "big")


def kept_by_model(keys, seed, percent):
    threshold = (percent << 64) // 100
    return {key for key in keys if draw(seed, key) < threshold}


class SampleTest(ToolTestCase):
    tool = "sample"

    def kept(self, result):
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def test_decisions_by_key_equal_the_documented_hash(self):
        keys = [f"user-{i}" for i in range(rounds(3000, 30000))]
        rows = [{"user": key, "n": i} for i, key in enumerate(keys)]
        for seed in (0, 42):
            result = self.run_tool("--rate", "5%", "--key", "user", "--seed", str(seed),
                                   stdin=lines(rows))
            kept = self.kept(result)
            self.assertEqual({row["user"] for row in kept}, kept_by_model(keys, seed, 5))
            self.assertTrue(all(row["sample_rate"] == 20 for row in kept))

    def test_the_same_key_gets_the_same_decision_on_every_line_and_run(self):
        rows = [{"user": f"u{i % 50}", "i": i} for i in range(1000)]
        first = self.kept(self.run_tool("--rate", "30%", "--key", "user", stdin=lines(rows)))
        again = self.kept(self.run_tool("--rate", "30%", "--key", "user", stdin=lines(rows)))
        self.assertEqual(first, again)
        users = Counter(row["user"] for row in first)
        self.assertTrue(all(count == 20 for count in users.values()), users)

    def test_kept_share_is_within_a_binomial_bound(self):
        n = rounds(100000, 1000000)
        rows = "".join(f'{{"k":{i}}}\n' for i in range(n))
        kept = len(self.run_tool("--rate", "1%", "--key", "k", stdin=rows).out.splitlines())
        bound = 5 * math.sqrt(n * 0.01 * 0.99)  # five standard deviations
        self.assertLess(abs(kept - n * 0.01), bound)

    def test_rules_apply_in_order_and_a_100_percent_rule_keeps_every_match(self):
        rows = [{"id": i, "status": 500 + i % 3 if i % 10 == 0 else 200, "path": "/x"}
                for i in range(2000)]
        rows += [{"id": 5000 + i, "status": 200, "path": "/health"} for i in range(500)]
        result = self.run_tool("--rate", "1%", "--key", "id", "--rule", "status>=500:100%",
                               "--rule", "path=/health:10%", stdin=lines(rows))
        kept = self.kept(result)
        errors = [row for row in kept if row["status"] >= 500]
        self.assertEqual(len(errors), 200)
        self.assertTrue(all(row["sample_rate"] == 1 for row in errors))
        health = [row for row in kept if row["path"] == "/health"]
        health_keys = [str(5000 + i) for i in range(500)]
        self.assertEqual({row["id"] for row in health},
                         {int(key) for key in kept_by_model(health_keys, 0, 10)})
        self.assertTrue(all(row["sample_rate"] == 10 for row in health))

    def test_an_earlier_sample_rate_is_multiplied(self):
        result = self.run_tool("--rate", "50%", stdin='{"a":1,"sample_rate":10}\n' * 40)
        kept = self.kept(result)
        self.assertTrue(kept)
        self.assertTrue(all(row == {"a": 1, "sample_rate": 20} for row in kept))

    def test_a_second_pass_by_the_same_key_and_seed_is_not_independent(self):
        # As sample(1)'s NOTES say: the product of the rates is the weight only for another
        # seed; with the same one, every key kept at 10% is kept again at 10%.
        rows = lines([{"user": f"u{i}"} for i in range(2000)])
        first = self.run_tool("--rate", "10%", "--key", "user", stdin=rows)
        again = self.kept(self.run_tool("--rate", "10%", "--key", "user", stdin=first.out))
        self.assertEqual(len(again), len(first.out.splitlines()))
        other = self.kept(self.run_tool("--rate", "10%", "--key", "user", "--seed", "1",
                                        stdin=first.out))
        self.assertLess(len(other), len(again) / 2)
        self.assertTrue(all(row["sample_rate"] == 100 for row in other))

    def test_reservoir_keeps_exactly_n_lines_in_input_order(self):
        rows = [{"i": i} for i in range(1000)]
        kept = self.kept(self.run_tool("--reservoir", "10", "--seed", "3", stdin=lines(rows)))
        self.assertEqual(len(kept), 10)
        self.assertEqual([row["i"] for row in kept], sorted(row["i"] for row in kept))
        self.assertTrue(all(row["sample_rate"] == 100 for row in kept))
        few = self.kept(self.run_tool("--reservoir", "10", stdin=lines(rows[:4])))
        self.assertEqual(few, [{"i": i, "sample_rate": 1} for i in range(4)])

    def test_reservoir_is_uniform_by_chi_square(self):
        # 10 positions, a reservoir of 3, 600 seeded runs: each position expected 180 times;
        # chi-square with 9 degrees of freedom below 27.88 (its 0.1% critical value).
        rows = lines([{"i": i} for i in range(10)])
        counts = Counter()
        trials = rounds(300, 3000)
        for seed in range(trials):
            for row in self.kept(self.run_tool("--reservoir", "3", "--seed", str(seed), stdin=rows)):
                counts[row["i"]] += 1
        expected = trials * 3 / 10
        chi_square = sum((counts[i] - expected) ** 2 / expected for i in range(10))
        self.assertLess(chi_square, 27.88, counts)

    def test_a_bad_sample_rate_is_bad_input_even_on_a_line_the_draw_drops(self):
        self.assertGreaterEqual(draw(0, "a"), (1 << 64) // 100)  # dropped at 1%
        self.write("rated.jsonl", '{"user":"a","sample_rate":"x"}\n')
        self.assertError(self.run_tool("--rate", "1%", "--key", "user", "rated.jsonl"), 65,
                         "rated.jsonl:1", "sample_rate")

    def test_reservoir_names_the_line_of_a_bad_sample_rate_and_can_skip_it(self):
        self.write("rated.jsonl", '{"i":1}\n{"i":2,"sample_rate":"x"}\n{"i":3}\n')
        failed = self.run_tool("--reservoir", "5", "rated.jsonl")
        self.assertError(failed, 65, "rated.jsonl:2", "sample_rate")
        self.assertEqual(failed.out, "")
        skipped = self.run_tool("--reservoir", "5", "--skip-invalid", "rated.jsonl")
        self.assertStatus(skipped, 1)
        self.assertEqual(skipped.out, '{"i":1,"sample_rate":1}\n{"i":3,"sample_rate":1}\n')
        self.assertIn("rated.jsonl:2", skipped.err)

    def test_bad_rates_exit_2(self):
        for rate, reason in [("0%", "above 0%"), ("101%", "at most 100%"), ("1", "%"),
                             ("abc%", "--rate")]:
            self.assertError(self.run_tool("--rate", rate), 2, reason)
        self.assertError(self.run_tool("--rule", "status>=500"), 2, "CONDITION:RATE")
        self.assertError(self.run_tool("--rule", "status>=x:10%"), 2, "not a number")
        self.assertError(self.run_tool("--rule", "a=1:0%"), 2, "above 0%")
        self.assertStatus(self.run_tool("--reservoir", "0"), 2)
        self.assertStatus(self.run_tool("--reservoir", "5", "--rate", "1%"), 2)

    def test_bad_input_exits_65_with_the_line(self):
        self.write("log.jsonl", '{"user":"a"}\n{"user":\n')
        self.assertError(self.run_tool("--rate", "50%", "log.jsonl"), 65, "log.jsonl:2")
        self.write("composite.jsonl", '{"user":{"id":1}}\n')
        self.assertError(self.run_tool("--rate", "50%", "--key", "user", "composite.jsonl"), 65,
                         "composite.jsonl:1", "user")
        self.assertError(self.run_tool("missing.jsonl"), 66, "missing.jsonl")
        skipped = self.run_tool("--skip-invalid", "log.jsonl")
        self.assertStatus(skipped, 1)
        self.assertEqual(skipped.out, '{"user":"a","sample_rate":1}\n')
        self.assertIn("log.jsonl:2", skipped.err)


if __name__ == "__main__":
    unittest.main()
