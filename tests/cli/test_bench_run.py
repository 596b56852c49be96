"""The benchmark harness bench/run: its table, its ratios, its verdicts and its exit status.

The real benchmarks run in scripts/test through `bench/run --quick --installed-peers-only`; this
file checks the harness itself against stand-in run.sh scripts whose measurements are known.
"""

import importlib.machinery
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import textwrap
import unittest
from contextlib import redirect_stderr, redirect_stdout

from sluice_cli import SOURCE

HEADER = "benchmark\trole\tname\trun\tseconds\tmaxrss_kib\texit\tverdict\tcommand\n"


def load_harness():
    path = os.path.join(SOURCE, "bench", "run")
    loader = importlib.machinery.SourceFileLoader("bench_run", path)
    spec = importlib.util.spec_from_loader("bench_run", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def rows(*lines):
    return [dict(zip(HEADER.rstrip("\n").split("\t"), line.split("\t"))) for line in lines]


class TableTest(unittest.TestCase):
    def setUp(self):
        self.harness = load_harness()

    def test_median_spread_peak_memory_and_ratio_to_the_tool(self):
        benchmarks = self.harness.group(rows(
            "b\tfloor\tcat\t1\t0.1\t1024\t0\tunchecked\tcat f",
            "b\ttool\tidemkey\t1\t0.5\t2048\t0\tok\tidemkey f",
            "b\ttool\tidemkey\t2\t0.7\t4096\t0\tok\tidemkey f",
            "b\ttool\tidemkey\t3\t0.6\t3072\t0\tok\tidemkey f",
            "b\tpeer\tjq\t1\t1.8\t\t0\tok\tjq f",
            "b\tpeer\tjq\t2\t1.2\t\t0\tok\tjq f"))
        table = "\n".join(self.harness.benchmark_table("b", benchmarks["b"]))
        self.assertIn("| floor | `cat` | 1 | 0.100 s | 0.100 s - 0.100 s | 1.0 MiB | 0.17x |", table)
        self.assertIn("| tool | `idemkey` | 3 | 0.600 s | 0.500 s - 0.700 s | 4.0 MiB | "
                      "1 (reference) |", table)
        self.assertIn("| peer | `jq` | 2 | 1.500 s | 1.200 s - 1.800 s | - | 2.50x |", table)

    def test_a_wrong_answer_is_marked_and_not_the_reference(self):
        benchmarks = self.harness.group(rows(
            "b\ttool\tfast but wrong\t1\t0.1\t\t0\twrong\tx",
            "b\ttool\tright\t1\t0.4\t\t0\tok\ty",
            "b\tpeer\tpeer\t1\t0.8\t\t0\tok\tz",
            "b\tpeer\tslow\t1\t600\t\t124\tstopped\tw"))
        table = "\n".join(self.harness.benchmark_table("b", benchmarks["b"]))
        self.assertIn("| tool | `fast but wrong` | 1 | 0.100 s | 0.100 s - 0.100 s | - | WRONG ANSWER |",
                      table)
        self.assertIn("| tool | `right` | 1 | 0.400 s | 0.400 s - 0.400 s | - | 1 (reference) |", table)
        self.assertIn("| peer | `peer` | 1 | 0.800 s | 0.800 s - 0.800 s | - | 2.00x |", table)
        self.assertIn("stopped at the time limit", table)
        overview = "\n".join(self.harness.overview([("t", 0, 1.0, benchmarks)]))
        self.assertIn("| t | b | `right` | 0.400 s | `peer` | 0.800 s | 2.00x |", overview)

    def test_a_failed_run_is_marked(self):
        benchmarks = self.harness.group(rows("b\ttool\tt\t1\t0.1\t\t0\tok\tx",
                                             "b\tpeer\tp\t1\t0.2\t\t3\tok\ty"))
        table = "\n".join(self.harness.benchmark_table("b", benchmarks["b"]))
        self.assertIn("| peer | `p` | 1 | 0.200 s | 0.200 s - 0.200 s | - | FAILED |", table)


class ResultsFileTest(unittest.TestCase):
    def setUp(self):
        self.harness = load_harness()
        self.dir = tempfile.mkdtemp(prefix="sluice-bench-run-")
        self.path = os.path.join(self.dir, "RESULTS.md")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_the_table_goes_after_the_title_and_is_replaced_by_the_next_run(self):
        with open(self.path, "w") as handle:
            handle.write("# Benchmark results\n\n## idemkey\nhand-written analysis\n")
        self.harness.replace_section(self.path, "quick", ["first table"])
        self.harness.replace_section(self.path, "full", ["full table"])
        self.harness.replace_section(self.path, "quick", ["second table"])
        with open(self.path) as handle:
            text = handle.read()
        self.assertEqual(text, "# Benchmark results\n\n"
                         "<!-- bench/run full: begin -->\nfull table\n<!-- bench/run full: end -->\n\n"
                         "<!-- bench/run quick: begin -->\nsecond table\n<!-- bench/run quick: end -->\n\n"
                         "## idemkey\nhand-written analysis\n")


class HarnessRunTest(unittest.TestCase):
    """bench/run against a stand-in checkout whose bench/idemkey/run.sh prints known rows."""

    def setUp(self):
        self.harness = load_harness()
        self.dir = tempfile.mkdtemp(prefix="sluice-bench-run-")
        os.makedirs(os.path.join(self.dir, "bench", "idemkey"))
        os.makedirs(os.path.join(self.dir, "build", "bin"))
        binary = os.path.join(self.dir, "build", "bin", "idemkey")
        with open(binary, "w") as handle:
            handle.write("#!/bin/sh\n")
        os.chmod(binary, 0o755)
        # The build's list of tools (CMake writes it); "unbenched" has no bench/unbenched/run.sh.
        with open(os.path.join(self.dir, "build", "tools.txt"), "w") as handle:
            handle.write("idemkey\nunbenched\n")
        self.harness.ROOT = self.dir

    def tearDown(self):
        shutil.rmtree(self.dir)

    def stand_in(self, verdict, status=0):
        script = os.path.join(self.dir, "bench", "idemkey", "run.sh")
        with open(script, "w") as handle:
            handle.write(textwrap.dedent(f"""\
                #!/bin/sh
                # records its arguments and environment, then two rows
                [ "$1" = --out ] || exit 9
                echo "$*|$SLUICE_BENCH_NO_INSTALL|$IDEMKEY" > "$2/args"
                printf '{HEADER.rstrip(chr(10))}\\n' > "$2/measurements.tsv"
                printf 'b\\ttool\\tidemkey\\t1\\t0.5\\t\\t0\\t{verdict}\\tx\\n' >> "$2/measurements.tsv"
                printf 'b\\tpeer\\tawk\\t1\\t1.0\\t\\t0\\tok\\ty\\n' >> "$2/measurements.tsv"
                exit {status}
                """))
        os.chmod(script, 0o755)

    def run_harness(self, *argv):
        stdout, stderr = io.StringIO(), io.StringIO()
        saved = sys.argv
        sys.argv = ["bench/run", *argv]
        try:
            with redirect_stdout(stdout), redirect_stderr(stderr):
                status = self.harness.main()
        finally:
            sys.argv = saved
        return status, stdout.getvalue(), stderr.getvalue()

    def test_the_tools_are_the_builds_that_have_a_benchmark(self):
        self.stand_in("ok")
        self.assertEqual(self.harness.benchmarked_tools(), ["idemkey"])
        with self.assertRaises(SystemExit) as refused:
            self.run_harness("--installed-peers-only", "unbenched")
        self.assertEqual(refused.exception.code, 2)

    def test_smoke_run_passes_on_right_answers_and_writes_no_results(self):
        self.stand_in("ok")
        status, out, err = self.run_harness("--installed-peers-only", "idemkey")
        self.assertEqual(status, 0, err)
        self.assertIn("| idemkey | b | `idemkey` | 0.500 s | `awk` | 1.000 s | 2.00x |", out)
        out_dir = os.path.join(self.dir, "build", "bench", "smoke", "idemkey")
        with open(os.path.join(out_dir, "args")) as handle:
            self.assertEqual(handle.read(), f"--out {out_dir} --smoke|1|"
                             f"{os.path.join(self.dir, 'build', 'bin', 'idemkey')}\n")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "bench", "RESULTS.md")))

    def test_a_wrong_answer_fails_the_run(self):
        self.stand_in("wrong")
        status, out, err = self.run_harness("--installed-peers-only", "idemkey")
        self.assertEqual(status, 1)
        self.assertIn("idemkey: FAILED", err)
        self.assertIn("WRONG ANSWER", out)

    def test_a_failing_script_fails_the_run(self):
        self.stand_in("ok", status=1)
        status, _, err = self.run_harness("--installed-peers-only", "idemkey")
        self.assertEqual(status, 1)
        self.assertIn("run.sh exited 1", err)

    def test_an_unknown_tool_is_a_usage_error(self):
        with self.assertRaises(SystemExit) as raised, redirect_stderr(io.StringIO()):
            self.run_harness("nosuchtool")
        self.assertEqual(raised.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
