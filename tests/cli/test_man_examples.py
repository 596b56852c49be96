"""The EXAMPLES of every section 1 page run as written, in order, in an empty directory with
fresh state (as jq tests its manual). A block written as a transcript ("$ command" lines, each
followed by its output) must print exactly that output (stdout and stderr in the order a
terminal shows them; a line
"..." stands for any lines); `$ cat FILE` followed by lines creates FILE with them. Other
blocks must run without a usage error, an unknown command or a crash. Stand-ins the examples
need (a ./charge script, input files) come from `.\\" setup:` comment lines in the page, which
man does not show; a block after `.\\" show-only` (a crontab line, a download) is not run."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import BIN, SOURCE
from test_man import man_pages

ROFF_ESCAPES = [("\\-", "-"), ("\\(aq", "'"), ("\\(dq", '"'), ("\\e", "\\"), ("\\&", ""),
                ("\\(lq", '"'), ("\\(rq", '"'), ("\\fB", ""), ("\\fR", ""), ("\\fI", ""),
                ("\\fP", ""), ("\\(em", "--"), ("\\~", " ")]


def plain(line):
    for escape, text in ROFF_ESCAPES:
        line = line.replace(escape, text)
    return line


def example_steps(page):
    """The EXAMPLES section as a list of ("setup", shell), ("run", shell) and
    ("transcript", [(command, expected_lines)])."""
    with open(page, encoding="utf-8") as handle:
        source = handle.read()
    section = source.split("\n.SH EXAMPLES", 1)[1].split("\n.SH ", 1)[0]
    steps = []
    in_block, block, show_only = False, [], False
    for line in section.splitlines():
        if line.startswith('.\\" setup: '):
            steps.append(("setup", plain(line[len('.\\" setup: '):])))
        elif line.startswith('.\\" show-only'):
            show_only = True  # the next block is not a command line (a crontab line, say)
        elif line in (".EX", ".nf"):
            in_block, block = True, []
        elif line in (".EE", ".fi") and in_block:
            in_block = False
            lines = [plain(text) for text in block if not text.startswith(".")]
            steps.append(("output", lines) if show_only else parse_block(lines))
            show_only = False
        elif in_block:
            block.append(line)
    return steps


def parse_block(lines):
    if lines and lines[0].startswith(("{", "[")):
        return ("output", lines)  # what an earlier command printed, shown on its own
    if not any(line.startswith("$ ") for line in lines):
        return ("run", "\n".join(lines))
    pairs, command, expected = [], None, []
    for line in lines:
        continues = command is not None and not expected and (
            command.rstrip().endswith(("\\", "|")) or line.startswith("    "))
        if line.startswith("$ "):
            if command is not None:
                pairs.append((command, expected))
            command, expected = line[2:], []
        elif continues:
            command += "\n" + line
        elif command is not None:
            expected.append(line)
    if command is not None:
        pairs.append((command, expected))
    # Each command runs in a shell of its own: "$ echo $?" belongs with the command before it.
    merged = []
    for command, expected in pairs:
        if command.strip() == "echo $?" and merged:
            previous, shown = merged.pop()
            merged.append((previous + "\necho $?", shown + expected))
        else:
            merged.append((command, expected))
    return ("transcript", merged)


# Values that are random by design, which a page can only show an instance of.
RANDOM_VALUES = re.compile(r"q_[0-9a-f]{24}")  # price's quote ids


def squeezed(lines, wrapped=False):
    """The lines without white space; in a page's text (wrapped), also without the "\\" that
    marks a line broken to fit."""
    if wrapped:
        lines = [line.rstrip().removesuffix("\\") for line in lines]
    return RANDOM_VALUES.sub("q_ID", "".join("".join(line.split()) for line in lines))


def matches(expected, actual):
    """Equal but for white space (pages wrap long lines to fit a terminal); "..." in expected
    (a whole line, or the end of a cut line) stands for any text."""
    chunks = squeezed(expected, wrapped=True).split("...")
    text = squeezed(actual)
    if len(chunks) == 1:
        return text == chunks[0]
    if not (text.startswith(chunks[0]) and text.endswith(chunks[-1])):
        return False
    position = len(chunks[0])
    for middle in chunks[1:-1]:
        found = text.find(middle, position)
        if found < 0:
            return False
        position = found + len(middle)
    return position <= len(text) - len(chunks[-1])


class ManExamples(unittest.TestCase):
    def run_page(self, page):
        tool = os.path.basename(page)[:-2]
        directory = tempfile.mkdtemp(prefix=f"sluice-man-{tool}-")
        # Stand-ins a page's setup lines make in ./bin come before the system's programs.
        env = dict(os.environ, PATH=f"{BIN}:{directory}/bin:{os.environ['PATH']}", HOME=directory,
                   SLUICE_STATE_DIR=os.path.join(directory, "state"))
        env.pop("NO_COLOR", None)

        def shell(script):
            """The result; stdout has both streams in the order a terminal shows them."""
            return subprocess.run(["bash", "-c", script], cwd=directory, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        try:
            for kind, body in example_steps(page):
                if kind == "setup":
                    result = shell(body)
                    self.assertEqual(result.returncode, 0, f"setup {body!r}: {result.stdout}")
                elif kind == "output":
                    continue
                elif kind == "run":
                    result = shell(body)
                    for sign in ("for usage", "command not found", "No such file", "internal error"):
                        self.assertNotIn(sign, result.stdout, f"{tool} example:\n{body}")
                    self.assertLess(result.returncode, 126, f"{tool} example:\n{body}\n{result.stdout}")
                else:
                    for command, expected in body:
                        created = re.fullmatch(r"cat (\S+)", command.strip())
                        if created:
                            with open(os.path.join(directory, created.group(1)), "w") as handle:
                                handle.write("".join(line + "\n" for line in expected))
                            continue
                        actual = shell(command).stdout.splitlines()
                        self.assertTrue(matches(expected, actual),
                                        f"{tool}: $ {command}\nexpected:\n" + "\n".join(expected)
                                        + "\nactual:\n" + "\n".join(actual))
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def test_examples_of_every_page(self):
        pages = man_pages("1")
        self.assertTrue(pages)
        for page in pages:
            with self.subTest(page=os.path.basename(page)):
                self.run_page(page)


if __name__ == "__main__":
    unittest.main()
