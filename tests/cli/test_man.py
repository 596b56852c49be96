"""The man pages: each renders without a warning (from groff, and through man at 80 columns)
and without words glued by a font macro, each tool's page documents every long option the
tool's --help lists (top level and every subcommand), no --help shows a default for a required
option, and each section 1 page has the sections a reader expects."""

import glob
import os
import re
import shutil
import subprocess
import unittest

from sluice_cli import BIN, SOURCE, known_tools

MAN_DIR = os.path.join(SOURCE, "man")

REQUIRED_SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT",
                     "FILES", "EXAMPLES", "SEE ALSO"]

# Escapes that may sit inside or around an option name in man source without changing it:
# font changes (\fB, \f(CW, \f[I]), the no-hyphenation and zero-width markers, \c.
FONT_AND_MARKER_ESCAPES = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\[%&:c]")


# The macros that alternate two fonts between their arguments, with no space in between.
ALTERNATING_FONT_MACRO = re.compile(r"^\.(?:BR|RB|BI|IB|IR|RI)\s+(.*)$")
# A lower-case word of two letters or more, perhaps with a comma or full stop: two in a row
# among an alternating macro's arguments render glued ("anunknown"), which no reader wants
# (".IR k th" for "kth" and ".BI ceil: STEP" stay allowed).
PLAIN_WORD = re.compile(r"^[a-z]{2,}[,.;]?$")


def macro_arguments(text):
    """A request's arguments as troff splits them: at spaces, except in an argument that
    starts with a double quote, which runs to the next lone one ("" is a quote character)."""
    arguments = []
    rest = text.lstrip(" \t")
    while rest:
        if rest.startswith('"'):
            match = re.match(r'"((?:[^"]|"")*)"?', rest)
            arguments.append(match.group(1).replace('""', '"'))
        else:
            match = re.match(r"[^ \t]+", rest)
            arguments.append(match.group(0))
        rest = rest[match.end():].lstrip(" \t")
    return arguments


def man_pages(*sections):
    pages = []
    for section in sections:
        pages += glob.glob(os.path.join(MAN_DIR, f"*.{section}"))
    return sorted(pages)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def plain_source(source):
    """The page source with comment lines dropped, escaped hyphens as '-' and font escapes gone,
    so that '\\fB\\-\\-key\\fR' and '--key' both read '--key'."""
    lines = [line for line in source.splitlines()
             if not line.startswith('.\\"') and not line.startswith("'\\\"")]
    text = "\n".join(lines).replace("\\-", "-")
    return FONT_AND_MARKER_ESCAPES.sub("", text)


def mentions_option(plain, option):
    # Whole option names only: --fingerprint must not be found inside --fingerprint-fields.
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", plain) is not None


def documented_options(source):
    """The long options that tag an item (the line after .TP) in the OPTIONS section."""
    options = set()
    section = source.split("\n.SH OPTIONS", 1)[-1].split("\n.SH ", 1)[0]
    lines = section.splitlines()
    for request, tag in zip(lines, lines[1:]):
        if request.startswith(".TP"):
            options |= set(re.findall(r"(?<![\w-])--[A-Za-z0-9][\w-]*", plain_source(tag)))
    return options


def section_headings(source):
    headings = []
    for line in source.splitlines():
        match = re.match(r"\.SH\s+(.*)$", line)
        if match:
            headings.append(match.group(1).strip().strip('"').strip())
    return headings


def help_sections(text):
    """Maps each 'Header:' line of CLI11 help output to the lines under it (under every such
    line: `TOOL --help` goes on with its default subcommand's 'Options:')."""
    sections, current = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = line.rstrip()[:-1]
            sections.setdefault(current, [])
        elif current is not None:
            sections[current].append(line)
    return sections


def subcommands_in_help(text):
    """Names listed under 'Subcommands:': the first word of each least-indented line (deeper
    lines are wrapped descriptions), up to the blank line before a footer."""
    lines = []
    for line in help_sections(text).get("Subcommands", []):
        if not line.strip():
            break
        lines.append(line)
    if not lines:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return [line.split()[0] for line in lines if len(line) - len(line.lstrip()) == indent]


def long_options_in_help(text):
    """Long options declared under 'Options:' (the names column, e.g. '-k,--key TEXT')."""
    options = set()
    for line in help_sections(text).get("Options", []):
        stripped = line.strip()
        if not stripped.startswith("-"):
            continue
        for name in stripped.split()[0].split(","):
            match = re.match(r"--[A-Za-z0-9][A-Za-z0-9-]*", name)
            if match:
                options.add(match.group(0))
    return options


def documented_tools():
    """Every tool of the build; each must have its section 1 page."""
    tools = known_tools()
    for tool in tools:
        if not os.path.isfile(os.path.join(MAN_DIR, f"{tool}.1")):
            raise AssertionError(f"{tool} has no page {MAN_DIR}/{tool}.1")
    return tools


class HelpAndUsage(unittest.TestCase):
    """What `TOOL --help` and a mistyped subcommand tell a user."""

    def run_tool(self, tool, *words):
        return subprocess.run([os.path.join(BIN, tool), *words], capture_output=True,
                              text=True, timeout=60)

    def test_top_level_help_shows_the_default_subcommands_options(self):
        checked = 0
        for tool in documented_tools():
            top = self.run_tool(tool, "--help").stdout
            default = [line.split()[0] for line in help_sections(top).get("Subcommands", [])
                       if "(the default)" in line]
            if not default:
                continue
            checked += 1
            own = long_options_in_help(self.run_tool(tool, default[0], "--help").stdout)
            with self.subTest(tool=tool):
                self.assertIn(f"Without a subcommand, {default[0]} runs:", top)
                shown = long_options_in_help(top.split("Without a subcommand", 1)[1])
                self.assertEqual(sorted(own - shown), [])
        self.assertGreaterEqual(checked, 2)

    def test_a_mistyped_subcommand_is_named_with_the_closest_one(self):
        result = self.run_tool("idemkey", "runn", "--key", "k", "--", "true")
        self.assertEqual(result.returncode, 2, result)
        self.assertEqual(result.stderr.splitlines()[0],
                         "idemkey: error: 'runn' is not a subcommand; did you mean 'run'? "
                         "(subcommands: run, begin, finish, release, show, list, gc, stats, "
                         "filter)")
        far = self.run_tool("idemkey", "xyzzy")
        self.assertEqual(far.returncode, 2)
        self.assertNotIn("did you mean", far.stderr)
        self.assertIn("'xyzzy' is not a subcommand", far.stderr)


class ManPages(unittest.TestCase):
    def run_help(self, tool, *words):
        command = [os.path.join(BIN, tool), *words, "--help"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, f"{' '.join(command)}: {result.stderr}")
        return result.stdout

    def options_of(self, tool, words=(), depth=0):
        """Every long option of `tool words...` and of its subcommands, each with where it
        was found."""
        text = self.run_help(tool, *words)
        where = " ".join([tool, *words])
        found = {option: where for option in long_options_in_help(text)}
        if depth < 3:
            for subcommand in subcommands_in_help(text):
                for option, place in self.options_of(tool, (*words, subcommand), depth + 1).items():
                    found.setdefault(option, place)
        return found

    def help_texts(self, tool, words=(), depth=0):
        """`tool words... --help` and the help of every subcommand below it, by command."""
        text = self.run_help(tool, *words)
        texts = {" ".join([tool, *words]): text}
        if depth < 3:
            for subcommand in subcommands_in_help(text):
                texts.update(self.help_texts(tool, (*words, subcommand), depth + 1))
        return texts

    def test_help_shows_no_default_for_a_required_option(self):
        # "--months INT=0 REQUIRED" reads as if 0 were a value the option may be left at.
        for tool in documented_tools():
            with self.subTest(tool=tool):
                shown = [f"{command}: {line.strip()}"
                         for command, text in self.help_texts(tool).items()
                         for line in help_sections(text).get("Options", [])
                         if re.search(r"=\S*\s+REQUIRED\b", line)]
                self.assertEqual(shown, [], "a required option has no default to show")

    def test_pages_exist(self):
        self.assertTrue(man_pages("1"), f"no section 1 pages in {MAN_DIR}")
        self.assertTrue(os.path.isfile(os.path.join(MAN_DIR, "sluice.7")))

    def test_pages_render_without_warnings(self):
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff is not installed (Debian package groff-base)")
        env = dict(os.environ, LC_ALL="C.UTF-8")
        for page in man_pages("1", "7"):
            with self.subTest(page=os.path.basename(page)):
                result = subprocess.run([groff, "-man", "-ww", "-z", page], capture_output=True,
                                        text=True, env=env, timeout=60)
                self.assertEqual(result.stderr, "", f"groff warnings for {page}")
                self.assertEqual(result.returncode, 0, f"groff failed on {page}")

    def test_pages_render_through_man_without_warnings(self):
        # What a reader sees: man-db's pipeline at 80 columns, every groff warning enabled.
        # groff -z above lays out for a typesetter, whose lines are wider, so a word too long
        # for a terminal line ("can't break line") shows only here.
        man = shutil.which("man")
        self.assertIsNotNone(man, "man is not installed (Debian package man-db)")
        env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
        env.pop("MANOPT", None)
        for page in man_pages("1", "7"):
            with self.subTest(page=os.path.basename(page)):
                result = subprocess.run([man, "--warnings=w", "-l", page], capture_output=True,
                                        text=True, env=env, timeout=60)
                self.assertEqual(result.stderr, "", f"man warnings for {page}")
                self.assertEqual(result.returncode, 0, f"man failed on {page}")
                self.assertIn("EXIT STATUS" if page.endswith(".1") else "NAME", result.stdout)

    def test_alternating_font_macros_do_not_glue_words(self):
        for page in man_pages("1", "7"):
            with self.subTest(page=os.path.basename(page)):
                glued = []
                for number, line in enumerate(read(page).splitlines(), start=1):
                    match = ALTERNATING_FONT_MACRO.match(line)
                    arguments = macro_arguments(match.group(1)) if match else []
                    if any(PLAIN_WORD.match(first) and PLAIN_WORD.match(second)
                           for first, second in zip(arguments, arguments[1:])):
                        glued.append(f"{number}: {line}")
                self.assertEqual(glued, [], "words after the last font change go on the "
                                            "next line")

    def test_every_long_option_is_documented(self):
        tools = documented_tools()
        self.assertTrue(tools, f"no binary in {BIN} has a page in {MAN_DIR}")
        for tool in tools:
            with self.subTest(tool=tool):
                options = self.options_of(tool)
                self.assertIn("--help", options, f"could not parse the --help of {tool}")
                page = os.path.join(MAN_DIR, f"{tool}.1")
                plain = plain_source(read(page))
                missing = sorted(f"{option} (from '{place} --help')"
                                 for option, place in options.items()
                                 if not mentions_option(plain, option))
                self.assertEqual(missing, [], f"options missing from {page}")

    def test_every_documented_option_exists(self):
        # The other direction: an option the page's OPTIONS section describes (the tag line of
        # a .TP item) that no --help lists is a renamed or removed option the page kept.
        for tool in documented_tools():
            with self.subTest(tool=tool):
                options = self.options_of(tool)
                page = os.path.join(MAN_DIR, f"{tool}.1")
                stale = sorted(option for option in documented_options(read(page))
                               if option not in options)
                self.assertEqual(stale, [], f"{page} describes options no --help lists")

    def test_options_are_written_with_escaped_hyphens(self):
        # An unescaped '-' may render as a hyphen (U+2010) that cannot be pasted into a shell.
        for page in man_pages("1", "7"):
            with self.subTest(page=os.path.basename(page)):
                bad = [f"{number}: {line}"
                       for number, line in enumerate(read(page).splitlines(), start=1)
                       if not line.startswith('.\\"')
                       and re.search(r"(?<![\\\w-])--?[A-Za-z]",
                                     FONT_AND_MARKER_ESCAPES.sub("", line))]
                self.assertEqual(bad, [], "write options as \\-\\-name")

    def test_section_one_pages_have_the_required_sections(self):
        for page in man_pages("1"):
            with self.subTest(page=os.path.basename(page)):
                headings = section_headings(read(page))
                missing = [name for name in REQUIRED_SECTIONS if name not in headings]
                self.assertEqual(missing, [], f"sections missing from {page}")


if __name__ == "__main__":
    unittest.main()
