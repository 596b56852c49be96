"""scripts/demo, the README's first command, runs to the end against the binaries under test
(SLUICE_BIN makes it skip its own setup and build): a tool change that breaks a step of the
demonstration fails here, not in front of a new user."""

import os
import subprocess
import unittest

from sluice_cli import BIN, SOURCE


class Demo(unittest.TestCase):
    def test_the_demonstration_runs_to_the_end_with_its_documented_outcomes(self):
        env = dict(os.environ, SLUICE_BIN=BIN, NO_COLOR="1")
        completed = subprocess.run([os.path.join(SOURCE, "scripts", "demo")], env=env,
                                   capture_output=True, text=True, timeout=300)
        self.assertEqual(completed.returncode, 0, completed.stdout[-3000:] + completed.stderr)
        lines = completed.stdout.splitlines()
        # idemkey ran the charge once for two runs of the same key.
        self.assertEqual(lines[lines.index("$ wc -l < ledger.txt   # charged once") + 1], "1")
        # reindex switched, and the new column answers a query on the alias.
        self.assertIn("7|ana@example.com", lines)
        # Each step says its exit status; the refusals shown on purpose are the only failures.
        statuses = sorted(line for line in lines if line.startswith("(exit "))
        self.assertNotIn("(exit 70)", statuses)
        self.assertEqual(statuses.count("(exit 65)"), 3, statuses)


if __name__ == "__main__":
    unittest.main()
