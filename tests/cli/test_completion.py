"""Shell completions: every tool prints bash, zsh and fish scripts (`TOOL --completion SHELL`)
made from its CLI11 definitions. Loaded in a real bash, they complete each subcommand and each
long option its --help lists; zsh and fish (when installed) accept their scripts."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import BIN
from test_man import (MAN_DIR, documented_tools, help_sections, long_options_in_help, plain_source,
                      read, subcommands_in_help)

# One case of a bash script's value completion: '"matrix --period") COMPREPLY=($(compgen -W
# "day week month" ...' (an empty command is the first word, before any subcommand).
WORD_CASE = re.compile(r'^\s*"([\w-]*) (--[\w-]+)"\) COMPREPLY=\(\$\(compgen -W "([^"]*)"', re.M)
# A description that starts by naming an option's few values: "day, week or month".
WORD_LIST = re.compile(r"^([a-z][a-z0-9-]*(?:, [a-z][a-z0-9-]*)* or [a-z][a-z0-9-]*)\b")


def option_help(text, option):
    """The lines of a --help that declare `option` and describe it (wrapped descriptions sit
    on deeper-indented lines)."""
    lines = help_sections(text).get("Options", [])
    for index, line in enumerate(lines):
        names = line.strip().split(" ")[0].split(",") if line.strip().startswith("-") else []
        if option in [name.split("[")[0] for name in names]:
            block = [line]
            for following in lines[index + 1:]:
                if not following.strip() or following.strip().startswith("-"):
                    break
                block.append(following)
            return "\n".join(block)
    return None


def named_words(described):
    """The values an option's --help names: CLI11's '{jsonl,table,csv}' after the value type,
    or a description that starts (perhaps after 'Label: ') with 'day, week or month'."""
    names, _, description = described.strip().partition("  ")
    listed = re.search(r":\{([\w,-]+)\}", names)
    if listed:
        return set(listed.group(1).split(","))
    description = " ".join(description.split())
    match = WORD_LIST.match(description) or WORD_LIST.match(description.partition(": ")[2])
    return set(re.split(r", | or ", match.group(1))) if match else set()


def option_paragraphs(page_source, option):
    """The man page paragraphs (between .TP/.PP/.SH/.SS requests) that name `option`, plain."""
    paragraphs = re.split(r"^\.(?:TP|PP|P|LP|IP|SH|SS)\b.*$", page_source, flags=re.M)
    return [plain_source(paragraph) for paragraph in paragraphs
            if re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", plain_source(paragraph))]


OUTPUTS = {}


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)


class Completion(unittest.TestCase):
    def script(self, tool, shell):
        return self.output_of(tool, "--completion", shell)

    def output_of(self, tool, *words):
        """The stdout of `tool words...`, which must succeed; the tests ask for the same
        scripts and help texts many times, so each is run once."""
        if (tool, *words) not in OUTPUTS:
            result = run(os.path.join(BIN, tool), *words)
            self.assertEqual(result.returncode, 0, result.stderr)
            OUTPUTS[(tool, *words)] = result.stdout
        return OUTPUTS[(tool, *words)]

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
        return self.output_of(tool, *words, "--help")

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

    def word_options(self, tool):
        """(command, option, words) for every option whose values bash completes as words."""
        return [(command, option, words.split())
                for command, option, words in WORD_CASE.findall(self.script(tool, "bash"))]

    def test_completed_words_are_those_the_help_and_the_page_name(self):
        # Help, completion and the page describe one definition (cli::add_word_option): each
        # word bash offers is in the option's --help line and in its paragraph of the page.
        for tool in documented_tools():
            page = read(os.path.join(MAN_DIR, f"{tool}.1"))
            for command, option, words in self.word_options(tool):
                with self.subTest(tool=tool, command=command, option=option):
                    described = option_help(self.help_text(tool, *filter(None, [command])), option)
                    self.assertIsNotNone(described, f"{tool} {command} --help lacks {option}")
                    missing = [word for word in words
                               if not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", described)]
                    self.assertEqual(missing, [], f"--help of {option}: {described}")
                    documented = " ".join(option_paragraphs(page, option))
                    missing = [word for word in words
                               if not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", documented)]
                    self.assertEqual(missing, [], f"{tool}.1 on {option}")

    def test_an_option_whose_help_names_its_words_completes_them(self):
        # "--period TEXT  day, week or month" offered file names before add_word_option.
        checked = 0
        for tool in documented_tools():
            completed = {(command, option): set(words)
                         for command, option, words in self.word_options(tool)}
            for command in [""] + subcommands_in_help(self.help_text(tool)):
                text = self.help_text(tool, *filter(None, [command]))
                if not command:
                    text = text.split("\nWithout a subcommand", 1)[0]
                for option in long_options_in_help(text):
                    words = named_words(option_help(text, option))
                    if not words:
                        continue
                    checked += 1
                    offered = completed.get((command, option), set())
                    with self.subTest(tool=tool, command=command, option=option):
                        self.assertTrue(words <= offered,
                                        f"{tool} {command} {option} completes {offered}, "
                                        f"not {words}")
        self.assertGreater(checked, 20, "the help texts name fewer word lists than expected")

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
