"""docs/cookbook.md runs as written: each recipe (a ```sh block after <!-- recipe: NAME -->) is
run with bash in an empty directory with fresh state, then its check block (after
<!-- check: NAME -->) must exit 0. Like jq's manual tests, this keeps the page from drifting."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import BIN, SOURCE

COOKBOOK = os.path.join(SOURCE, "docs", "cookbook.md")
BLOCK = re.compile(r"<!-- (recipe|check): ([\w-]+) -->\s*```sh\n(.*?)```", re.S)


def blocks():
    with open(COOKBOOK, encoding="utf-8") as handle:
        text = handle.read()
    found = {}
    for kind, name, body in BLOCK.findall(text):
        found.setdefault(name, {})[kind] = body
    return found


class Cookbook(unittest.TestCase):
    def test_every_recipe_has_a_check(self):
        found = blocks()
        self.assertEqual(sorted(found), ["ad-dashboard", "alerting", "cached-report",
                                         "checkout-funnel", "collection", "flash-sale",
                                         "incidents",
                                         "ingestion", "job-queue", "rate-limit", "repricing",
                                         "schema-change", "sharding", "silence", "ttl-sweep"])
        for name, parts in found.items():
            self.assertEqual(set(parts), {"recipe", "check"}, name)

    def test_recipes_run_as_written(self):
        if shutil.which("jq") is None:
            self.fail("jq is not installed (scripts/setup installs it)")
        for name, parts in blocks().items():
            with self.subTest(recipe=name):
                directory = tempfile.mkdtemp(prefix=f"sluice-cookbook-{name}-")
                try:
                    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}",
                               SLUICE_STATE_DIR=os.path.join(directory, "state"))
                    env.pop("NO_COLOR", None)
                    for kind in ("recipe", "check"):
                        result = subprocess.run(["bash", "-euo", "pipefail", "-c", parts[kind]],
                                                cwd=directory, env=env, capture_output=True,
                                                text=True, timeout=120)
                        self.assertEqual(result.returncode, 0,
                                         f"{kind} {name}:\n{result.stdout}\n{result.stderr}")
                finally:
                    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
