"""emi-schedule collect's idempotency keys pass idemkey's key rule whatever the loan ID: every kind
of ID goes through the cookbook's collection loop (collect | idemkey run --key | record) and is
charged exactly once and recorded paid."""

import json
import os
import shutil
import subprocess
import time
import unittest

from sluice_cli import BIN, ToolTestCase

# 0%: every installment is exactly 1200.00 / 3.
LOAN = ("--principal", "1200.00", "--rate", "0%", "--months", "3", "--currency", "INR",
        "--disbursed", "2026-01-15")

IDS = [
    "L1",                          # a plain ID keeps the readable LOAN:N:ATTEMPT key
    "A:1",                         # a colon: still readable, and not confused with "A"
    "A",
    '"quoted"',                    # quotes are printable ASCII: readable
    "ACME Corp/loan 7",            # a space
    "\u0141\u00f3d\u017a-7",       # non-ASCII (Łódź-7)
    "x" * 300,                     # longer than a key may be
    "tab\there",                   # a control character
    "sha256:0123",                 # looks like a derived key: must not collide with one
]

# The cookbook's collection loop (docs/cookbook.md), with a gateway that writes every charge
# it makes to ledger.txt. With "$1" = record, the results go to emi-schedule record; otherwise
# they are kept in lost.jsonl, as if the job died before recording them. "$2", when given, is
# collect's --now (a run after the leases of the intents a lost run emitted).
LOOP = r"""
emi-schedule collect --db loans.db --today 2026-02-15 ${2:+--now "$2"} |
  while IFS= read -r intent; do
    key=$(jq -r .idempotency_key <<<"$intent")
    amount=$(jq -r .amount <<<"$intent")
    if idemkey run --db keys.db --key "$key" -- ./charge "$key" "$amount"; then
      result=paid
    else
      result=failed
    fi
    jq -c --arg result "$result" '{loan, n, attempt, result: $result, amount}' <<<"$intent"
  done > results.jsonl
if [ "$1" = record ]; then
  emi-schedule record --db loans.db --today 2026-02-15 results.jsonl
else
  mv results.jsonl lost.jsonl
fi
"""

CHARGE = "#!/bin/sh\nprintf '%s %s\\n' \"$1\" \"$2\" >> ledger.txt\n"


def is_valid_key(key):
    """idemkey's rule, written out: 1 to 255 characters in 0x21-0x7E."""
    return 1 <= len(key) <= 255 and all(0x21 <= ord(c) <= 0x7E for c in key)


class EmiKeys(ToolTestCase):
    tool = "emi-schedule"

    def loop(self, mode, *now):
        env = dict(self.env, PATH=f"{BIN}:{os.environ['PATH']}")
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", LOOP, "loop", mode, *now],
                                cwd=self.dir, env=env, capture_output=True, text=True,
                                timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines()]

    def test_every_kind_of_loan_id_is_charged_once_and_recorded_paid(self):
        if shutil.which("jq") is None:
            self.fail("jq is not installed (scripts/setup installs it)")
        self.write("charge", CHARGE)
        os.chmod(self.path("charge"), 0o755)
        for loan in IDS:
            self.assertStatus(self.run_tool("create", "--db", "loans.db", "--loan", loan, *LOAN),
                              0)
        intents = [json.loads(line) for line in self.run_tool(
            "collect", "--db", "loans.db", "--today", "2026-02-15").out.splitlines()]
        keys = {intent["loan"]: intent["idempotency_key"] for intent in intents}
        self.assertEqual(sorted(keys), sorted(IDS))
        self.assertEqual([loan for loan, key in keys.items() if not is_valid_key(key)], [])
        self.assertEqual(len(set(keys.values())), len(IDS))
        self.assertEqual((keys["L1"], keys["A:1"], keys["A"], keys['"quoted"']),
                         ("L1:1:1", "A:1:1:1", "A:1:1", '"quoted":1:1'))
        self.loop("lose")     # charged, but the results never reach record
        # Cron runs again once the intents' leases (1h) have passed: idemkey replays, nothing
        # is charged twice.
        recorded = self.loop("record", f"@{int(time.time()) + 2 * 3600}")
        with open(self.path("ledger.txt"), encoding="utf-8") as ledger:
            charges = ledger.read().splitlines()
        self.assertEqual(sorted(charges), sorted(f"{keys[loan]} 400.00" for loan in IDS))
        self.assertEqual(sorted((r["loan"], r["applied"], r["state"]) for r in recorded),
                         sorted((loan, True, "paid") for loan in IDS))
        status = self.run_tool("status", "--db", "loans.db", "--today", "2026-02-15")
        statuses = {s["loan"]: (s["paid"], s["penalties"])
                    for s in map(json.loads, status.out.splitlines())}
        self.assertEqual(statuses, {loan: (1, "0.00") for loan in IDS})


if __name__ == "__main__":
    unittest.main()
