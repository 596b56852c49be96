"""idemkey filter from the command line: framing errors, skip-invalid, conflicts, SIGKILL."""

import json
import os
import random
import signal
import subprocess
import time
import unittest

from sluice_cli import ToolTestCase, on_both_backends, rounds, tool_path


@on_both_backends
class IdemkeyFilter(ToolTestCase):
    tool = "idemkey"

    def test_passes_first_seen_and_counts_duplicates(self):
        data = '{"id":"a","v":1}\n{"id":"b"}\n{"id":"a","v":1}\n{"v":1,"id":"a"}\n'
        result = self.run_tool("filter", "--key-field", "id", "--duplicates", "dups.jsonl", stdin=data)
        self.assertStatus(result, 0)
        self.assertEqual(result.out, '{"id":"a","v":1}\n{"id":"b"}\n')
        self.assertIn("2 passed, 2 duplicates dropped, 0 invalid", result.err)
        self.assertEqual(self.read("dups.jsonl").decode(), '{"id":"a","v":1}\n{"v":1,"id":"a"}\n')
        quiet = self.run_tool("--quiet", "filter", "--key-field", "id", stdin=data)
        self.assertEqual((quiet.out, quiet.err), ("", ""))

    def test_bad_line_is_65_with_its_line_number(self):
        cases = {
            '{"id":1}\n{"id":2,}\n': 2,
            '{"id":1}\n\n{"id":3}\n': 2,
            '\ufeff{"id":1}\n': 1,
            '{"id":1}\n{"id":2} {"id":3}\n': 2,
            '{"id":1}\n{"id":2,"id":3}\n': 2,
            '{"id":1}\n{"x":"\xff"}\n': 2,
            '{"id":1}\n{"id":[1]}\n': 2,
            '{"id":1}\n{"other":2}\n': 2,
            '{"id":1}\n{"id":1.5}\n': 2,
            '{"id":1}\n{"id":2': 2,
            '{"id":1}\n{"id":"has space"}\n': 2,
            '{"id":1}\n{"id":""}\n': 2,
        }
        for data, line in cases.items():
            raw = data.encode("latin-1") if "\xff" in data else data.encode()
            self.write("in.jsonl", raw)
            result = self.run_tool("--db", self.state(f"s{line}.db"), "filter", "--key-field", "id", "in.jsonl")
            self.assertError(result, 65, f"in.jsonl:{line}:")
            self.assertEqual(len(result.err.splitlines()), 1, result)

    def test_skip_invalid_reports_each_and_exits_1(self):
        data = '{"id":1}\nnope\n{"id":2}\n{"id":1,"changed":true}\n'
        result = self.run_tool("filter", "--key-field", "id", "--skip-invalid", stdin=data)
        self.assertStatus(result, 1)
        self.assertEqual(result.out, '{"id":1}\n{"id":2}\n')
        self.assertIn("<stdin>:2:", result.err)
        self.assertIn("<stdin>:4: key '1' was first seen with different content (skipped)", result.err)

    def test_conflict_across_runs_is_65(self):
        self.run_tool("filter", "--key-field", "id", stdin='{"id":7,"amount":"5.00"}\n')
        result = self.run_tool("filter", "--key-field", "id", stdin='{"id":7,"amount":"6.00"}\n')
        self.assertError(result, 65, "<stdin>:1:", "key '7'")
        same_amount = self.run_tool("filter", "--key-field", "id", "--fingerprint-fields", "id",
                                    stdin='{"id":8,"a":1}\n{"id":8,"a":2}\n')
        self.assertEqual(same_amount.out, '{"id":8,"a":1}\n')
        # A file operand after the field list is an input, not another field.
        self.write("in.jsonl", '{"id":9,"a":1,"b":1}\n{"id":9,"a":1,"b":2}\n')
        fields = self.run_tool("filter", "--key-field", "id", "--fingerprint-fields", "id,a", "in.jsonl")
        self.assertEqual((fields.status, fields.out), (0, '{"id":9,"a":1,"b":1}\n'))

    def test_missing_input_is_66_and_files_concatenate(self):
        self.assertError(self.run_tool("filter", "--key-field", "id", "missing.jsonl"), 66, "missing.jsonl")
        self.write("a.jsonl", '{"id":1}\n')
        early = self.run_tool("filter", "--key-field", "id", "a.jsonl", "missing.jsonl")
        self.assertError(early, 66, "missing.jsonl")
        self.assertEqual(early.stdout, b"")  # found before anything was read
        os.mkdir(self.path("folder"))
        self.assertError(self.run_tool("filter", "--key-field", "id", "a.jsonl", "folder"), 66, "directory")
        self.assertError(self.run_tool("filter", "--key-field", "id", "--fingerprint-fields", "", "a.jsonl"),
                         2, "--fingerprint-fields")
        self.write("b.jsonl", '{"id":1}\n{"id":2}\n')
        result = self.run_tool("filter", "--key-field", "id", "a.jsonl", "-", "b.jsonl", stdin='{"id":3}\n')
        self.assertEqual(result.out, '{"id":1}\n{"id":3}\n{"id":2}\n')

    def test_closed_stdout_pipe_ends_quietly(self):
        data = "".join(f'{{"id":{index}}}\n' for index in range(200000))
        pipeline = subprocess.run(
            f'"{tool_path("idemkey")}" filter --key-field id | head -n 2', shell=True, cwd=self.dir,
            env=self.env, input=data.encode(), capture_output=True, timeout=120)
        self.assertEqual(pipeline.stdout, b'{"id":0}\n{"id":1}\n')
        self.assertEqual(pipeline.stderr, b"")

    def test_concurrent_filters_pass_each_key_exactly_once(self):
        # Two filters over the same keys in different orders, at once: on a server their
        # batches lock keys in one order (no deadlock), and each key passes in one of them.
        keys = [f"k{index}" for index in range(rounds(20000, 100000))]
        for name, seed in (("a.jsonl", 1), ("b.jsonl", 2)):
            order = keys[:]
            random.Random(seed).shuffle(order)
            self.write(name, "".join(f'{{"id":"{key}"}}\n' for key in order))
        db = self.state("s.db")
        children = []
        for name in ("a", "b"):
            with open(self.path(f"{name}.out"), "wb") as out:
                children.append(subprocess.Popen(
                    [tool_path("idemkey"), "--db", db, "--quiet", "filter", "--key-field", "id",
                     "--batch", "1000", f"{name}.jsonl"],
                    cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.PIPE))
        for child in children:
            _, err = child.communicate(timeout=300)
            self.assertEqual((child.returncode, err), (0, b""))
        passed = [json.loads(line)["id"] for name in ("a", "b")
                  for line in self.read(f"{name}.out").decode().splitlines()]
        self.assertEqual(sorted(passed), sorted(keys))

    def test_sigkill_mid_stream_loses_nothing_and_repeats_at_most_one_batch(self):
        rng = random.Random(11)
        records = [json.dumps({"id": f"e{index}", "n": index}, separators=(",", ":"))
                   for index in range(60000)]
        lines = records + [records[rng.randrange(len(records))] for _ in range(6000)]
        rng.shuffle(lines)
        self.write("events.jsonl", "\n".join(lines) + "\n")
        first_seen = []
        seen = set()
        for line in lines:
            if line not in seen:
                seen.add(line)
                first_seen.append(line)
        batch = 500
        delivered = []
        for run in range(4):
            out_name = f"out{run}.jsonl"
            with open(self.path(out_name), "wb") as out:
                child = subprocess.Popen(
                    [tool_path("idemkey"), "--db", self.state("s.db"), "--quiet", "filter",
                     "--key-field", "id", "--batch", str(batch), "events.jsonl"],
                    cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.PIPE)
                if run < 3:
                    threshold = rng.randrange(20000, 400000)
                    while child.poll() is None and os.path.getsize(self.path(out_name)) < threshold:
                        time.sleep(0.001)
                    child.send_signal(signal.SIGKILL)
                _, err = child.communicate(timeout=120)
                if run == 3:
                    self.assertEqual((child.returncode, err), (0, b""))
            text = self.read(out_name).decode()
            complete = text[: text.rfind("\n") + 1]  # a line cut by the kill was not delivered
            output = complete.splitlines()
            self.assertEqual(len(output), len(set(output)), "a run emitted a record twice")
            delivered.append(output)
        union = set().union(*map(set, delivered))
        self.assertEqual(union, seen)  # nothing lost
        for earlier in range(3):
            repeated = set(delivered[earlier]) & set().union(*map(set, delivered[earlier + 1:]))
            self.assertLessEqual(len(repeated), batch, "more than one batch was re-emitted")
        # Order within each run follows the input.
        position = {line: index for index, line in enumerate(first_seen)}
        for output in delivered:
            self.assertEqual(output, sorted(output, key=position.get))



class IdemkeyFilterServerCrash(ToolTestCase):
    """The PostgreSQL server dies (pg_ctl stop -m immediate) while filter streams, then comes
    back: the interrupted run fails with 75 (or 69 when it could not even connect), and a rerun
    delivers every first-seen record, none twice within a run, at most one batch again."""
    tool = "idemkey"

    def setUp(self):
        super().setUp()
        self.url = self.start_private_server()

    def filter_run(self, out_name, crash_after=None):
        with open(self.path(out_name), "wb") as out:
            child = subprocess.Popen(
                [tool_path("idemkey"), "--db", self.url, "--quiet", "filter", "--key-field", "id",
                 "--batch", "500", "events.jsonl"],
                cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.PIPE)
            if crash_after is not None:
                while child.poll() is None and os.path.getsize(self.path(out_name)) < crash_after:
                    time.sleep(0.001)
                self.crash_private_server()
            _, err = child.communicate(timeout=300)
        text = self.read(out_name).decode()
        return child.returncode, err, text[: text.rfind("\n") + 1].splitlines()

    def test_a_server_crash_mid_stream_loses_nothing_and_repeats_at_most_one_batch(self):
        rng = random.Random(23)
        records = [json.dumps({"id": f"e{index}"}, separators=(",", ":")) for index in range(20000)]
        lines = records + [records[rng.randrange(len(records))] for _ in range(2000)]
        rng.shuffle(lines)
        self.write("events.jsonl", "\n".join(lines) + "\n")
        status, err, first = self.filter_run("out0.jsonl", crash_after=60000)
        self.assertIn(status, (69, 75), err)
        self.assertTrue(err.startswith(b"idemkey: error: "), err)
        self.restart_private_server()
        status, err, second = self.filter_run("out1.jsonl")
        self.assertEqual((status, err), (0, b""))
        self.assertEqual(len(first), len(set(first)))
        self.assertEqual(len(second), len(set(second)))
        self.assertEqual(set(first) | set(second), set(records))  # nothing lost
        self.assertLessEqual(len(set(first) & set(second)), 500)  # at most one batch again


if __name__ == "__main__":
    unittest.main()
