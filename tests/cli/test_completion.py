"""Shell completions: every tool prints bash, zsh and fish scripts (`TOOL --completion SHELL`)
made from its CLI11 definitions. Loaded in a real bash, they complete each subcommand and each
long option its --help lists; zsh and fish (when installed) accept their scripts."""

import os
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import BIN
from test_man import documented_tools, help_sections, long_options_in_help, subcommands_in_help


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)


class Completion(unittest.TestCase):
    def script(self, tool, shell):
        result = run(os.path.join(BIN, tool), "--completion", shell)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def bash_complete(self, tool, words):
        """COMPREPLY for the command line `words` (the last word is being completed)."""
        words_array = " ".join(f"'{word}'" for word in words)
        program = (f"source /dev/stdin\ncomplete -p {tool} >&2\n"
                   f"COMP_WORDS=({words_array}); COMP_CWORD={len(words) - 1}\n"
                   f"$(complete -p {tool} | sed -E 's/.*-F ([^ ]+).*/\\1/')\n"
                   "printf '%s\\n' \"${COMPREPLY[@]}\"")
        result = run("bash", "--norc", "-c", program, input=self.script(tool, "bash"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"complete -F _sluice_{tool.replace('-', '_')} {tool}", result.stderr)
        return set(filter(None, result.stdout.splitlines()))

    def help_text(self, tool, *words):
        result = run(os.path.join(BIN, tool), *words, "--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_bash_completes_subcommands_and_their_options(self):
        tools = documented_tools()
        self.assertIn("reindex", tools)
        for tool in tools:
            top = self.help_text(tool)
            # The tool's own options (its help goes on with its default subcommand's).
            top_options = long_options_in_help(top.split("\nWithout a subcommand", 1)[0])
            default = [line.split()[0] for line in help_sections(top).get("Subcommands", [])
                       if "(the default)" in line]
            first = set(top_options)
            if default:
                first |= long_options_in_help(self.help_text(tool, default[0]))
            with self.subTest(tool=tool):
                # The first word: the tool's options and its default subcommand's.
                self.assertEqual(first - self.bash_complete(tool, [tool, "--"]), set())
                # After a subcommand: its options and the tool's, but for the two that only
                # the first word may be.
                later = top_options - {"--version", "--help-all"}
                for subcommand in subcommands_in_help(top):
                    self.assertIn(subcommand, self.bash_complete(tool, [tool, subcommand[:2]]))
                    expected = long_options_in_help(self.help_text(tool, subcommand)) | later
                    offered = {word for word in self.bash_complete(tool, [tool, subcommand, "--"])}
                    self.assertEqual(offered, expected, f"{tool} {subcommand}")

    def test_bash_completes_file_names_after_an_option_that_takes_a_value(self):
        offered = self.bash_complete("reindex", ["reindex", "backfill", "--pause-file", "/etc/hostn"])
        self.assertEqual(offered, {"/etc/hostname"})
        self.assertEqual(self.bash_complete("reindex", ["reindex", "backfill", "--rep"]), {"--report"})

    def test_bash_completes_the_words_of_an_option_that_takes_one_of_a_few(self):
        self.assertEqual(self.bash_complete("cohort", ["cohort", "--period", ""]),
                         {"day", "week", "month"})
        self.assertEqual(self.bash_complete("cohort", ["cohort", "ingest", "--period", "w"]),
                         {"week"})
        self.assertEqual(self.bash_complete("zscore", ["zscore", "--method", "holt"]),
                         {"holt-winters"})
        self.assertEqual(self.bash_complete("price", ["price", "calc", "--format", ""]),
                         {"jsonl", "table", "csv"})
        # A subcommand's own subcommands (price rule set) complete their options and words.
        self.assertEqual(self.bash_complete("price", ["price", "rule", "set", "--rule", "nearest-"]),
                         {"nearest-99", "nearest-95", "nearest-90"})
        self.assertEqual(self.bash_complete("price", ["price", "rates", "load", "--format", ""]),
                         {"ecb-csv", "jsonl"})
        self.assertEqual(self.bash_complete("price", ["price", "override", "set", "--pr"]),
                         {"--price"})
        # The default subcommand's options complete before any subcommand, and --version
        # only there.
        self.assertIn("--reorder-window", self.bash_complete("zscore", ["zscore", "--re"]))
        self.assertIn("--version", self.bash_complete("zscore", ["zscore", "--ver"]))
        self.assertEqual(self.bash_complete("zscore", ["zscore", "detect", "--ver"]), set())

    def test_unknown_shell_is_a_usage_error(self):
        result = run(os.path.join(BIN, "idemkey"), "--completion", "tcsh")
        self.assertEqual(result.returncode, 2)
        self.assertIn("idemkey: error: --completion: 'tcsh' is not bash, zsh or fish", result.stderr)

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_zsh_accepts_the_scripts(self):
        for tool in documented_tools():
            result = run("zsh", "-n", input=self.script(tool, "zsh"))
            self.assertEqual(result.returncode, 0, f"{tool}: {result.stderr}")

    @unittest.skipUnless(shutil.which("fish"), "fish is not installed")
    def test_fish_completes_subcommands(self):
        for tool in documented_tools():
            top = self.help_text(tool)
            with tempfile.NamedTemporaryFile("w", suffix=".fish") as script:
                script.write(self.script(tool, "fish"))
                script.flush()
                result = run("fish", "--no-config", "-c",
                             f"source {script.name}; complete -C '{tool} '")
            self.assertEqual(result.returncode, 0, f"{tool}: {result.stderr}")
            offered = {line.split("\t")[0] for line in result.stdout.splitlines()}
            self.assertTrue(set(subcommands_in_help(top)) <= offered, f"{tool}: {offered}")


if __name__ == "__main__":
    unittest.main()
