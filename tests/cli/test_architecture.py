"""The dependency rule (docs/ARCHITECTURE.md, "Dependency rule"), checked on the source tree.

Nothing is built or run: each check reads the files under SLUICE_SOURCE and reports every
violation as PATH:LINE: WHAT. C and C++ files are read as code, with comments and string
literals blanked out (line numbers kept), so a comment may name sqlite3_open or waitpid; an
#include is read from the directive itself. Each rule's scope and allowed files are constants
below; an exemption is an explicit entry with its reason, and must match exactly.
"""

import functools
import os
import re
import shutil
import tempfile
import unittest

from sluice_cli import SOURCE

CXX_SUFFIXES = (".cpp", ".hpp", ".h", ".cc", ".c")

# Only `db`'s SQLite backend touches SQLite's C API (libcore/src/db_backend.hpp, private to
# libcore, forward-declares the opaque sqlite3 and sqlite3_stmt types its classes hold).
# Scope: all C++ code, tests included.
SQLITE_SCOPE = ("libcore", "tools", "fuzz", "tests")
SQLITE_ALLOWED = {"libcore/src/db_sqlite.cpp", "libcore/src/db_backend.hpp"}
SQLITE_SYMBOL = re.compile(r"\bsqlite3(?:_\w*)?\b")
SQLITE_HEADERS = re.compile(r"^sqlite3(?:ext)?\.h$")

# Only the reading half of `jsonl` touches simdjson: the sources of the sluice_jsonl_reader
# library (libcore/CMakeLists.txt), the only target that links it.
SIMDJSON_SCOPE = ("libcore", "tools", "fuzz", "tests")
SIMDJSON_ALLOWED = {
    "libcore/src/jsonl_reader.cpp",
    "libcore/src/json_scan.cpp",
    "libcore/src/json_scan.hpp",
}
SIMDJSON_SYMBOL = re.compile(r"\bsimdjson\b")
SIMDJSON_HEADERS = re.compile(r"^simdjson(?:\.h$|/)")

# Only `pg` touches libpq, which it loads with dlopen when a postgresql:// location is opened
# (no tool links it: its twenty shared libraries would slow every start-up). tests/ is outside
# the scope: the fault injector (tests/fault) wraps libc calls it finds with dlsym.
LIBPQ_SCOPE = ("libcore", "tools", "fuzz")
LIBPQ_ALLOWED = {"libcore/src/pg.cpp"}
LIBPQ_SYMBOL = re.compile(r"\b(?:PQ[a-z]\w*|PG(?:conn|result)|dlopen|dlsym)\b")
LIBPQ_HEADERS = re.compile(r"^(?:(?:postgresql/)?libpq-fe\.h|dlfcn\.h)$")
# Likewise only `redis` touches hiredis, which it loads with dlopen when a redis:// or unix://
# location is opened; it is the one other file that may load a library (dlopen, dlsym).
HIREDIS_ALLOWED = {"libcore/src/redis.cpp"}
HIREDIS_SYMBOL = re.compile(r"\b(?:redis[A-Z]\w*|freeReplyObject|REDIS_REPLY_\w+)\b")
HIREDIS_HEADERS = re.compile(r"^hiredis/")
DYNAMIC_LOADING = re.compile(r"\b(?:dlopen|dlsym)\b|<dlfcn\.h>")

# Only `proc` starts and reaps processes. tests/ is outside the scope: a unit test may fork
# to check signal handling or a lock held across processes (tests/unit/signals_test.cpp does).
PROCESS_SCOPE = ("libcore", "tools", "fuzz")
PROCESS_ALLOWED = {"libcore/src/proc.cpp"}
PROCESS_CALL = re.compile(
    r"\b(posix_spawnp?|v?fork|clone3?|exec(?:l|lp|le|v|vp|vpe|ve)|fexecve"
    r"|waitpid|wait3|wait4|waitid|system|popen)\s*\(")
PROCESS_HEADERS = re.compile(r"^(?:spawn\.h|sys/wait\.h)$")

# Only the files that declare options include CLI11: each tool's <tool>_cli.cpp and libcore's
# cli and completion. CLI11 is header-only, and every translation unit that includes it compiles
# its validators and App's virtual members again (about 8 s of build time each); other code
# names CLI::App through the declarations in sluice/cli.hpp. tests/ is outside the scope.
CLI11_SCOPE = ("libcore", "tools", "fuzz")
CLI11_ALLOWED = re.compile(r"^(?:tools/[^/]+/\w+_cli\.cpp|libcore/src/(?:cli|completion)\.cpp)$")
CLI11_HEADERS = re.compile(r"^CLI/")
NOTHING = re.compile(r"(?!)")

# Citations of files that are not in the repository: the design contract this project started
# from (now docs/ARCHITECTURE.md) and the machine's shared directory beside the checkout. The
# patterns are written so that this file does not match them.
OUTSIDE_CITATION = re.compile(r"\bDESIGN(?:\.md\b|\s*§)|(?:\.\./)+(?:shared)/|/work/(?:shared)\b")
OUTSIDE_CITATION_EXEMPT = {
    # path: (lines that may match, why)
    "bench/zscore/nab.sh": (
        4, "the NAB quality benchmark's data and scorer are not in the repository; NAB_DIR "
           "and NAB_TOOLS override these defaults"),
    "bench/RESULTS.md": (1, "records where the NAB run of 2026-11-29 read its data from"),
}

ARCHITECTURE = "docs/ARCHITECTURE.md"
# `docs/ARCHITECTURE.md, "State"`, or several names: `..., "State" and "Exit status"` (a ':'
# or "section" may come before the first name).
SECTION_CITATION = re.compile(
    r"docs/ARCHITECTURE\.md[,:]?\s*(?:sections?\s*)?(\"[^\"]+\"(?:\s*(?:,|and)\s*\"[^\"]+\")*)")

INCLUDE = re.compile(r"^\s*#\s*include\s*([<\"])([^>\"]+)[>\"]")


def skipped_directory(relative):
    """Build trees, VCS data and installed packages are not part of the source tree."""
    name = os.path.basename(relative)
    top = relative.split("/", 1)[0]
    return (top.startswith("build") or name in (".git", "node_modules", "__pycache__")
            or relative == "bench/out")


def tree_files(root, tops=None, suffixes=None):
    """Relative paths ('/'-separated, sorted) of the files under root/top for each top."""
    found = []
    for top in tops or ["."]:
        base = os.path.join(root, top)
        for directory, subdirectories, files in os.walk(base):
            relative_directory = os.path.relpath(directory, root).replace(os.sep, "/")
            subdirectories[:] = sorted(
                name for name in subdirectories
                if not skipped_directory(
                    name if relative_directory == "." else f"{relative_directory}/{name}"))
            for name in files:
                if suffixes is None or name.endswith(suffixes):
                    path = os.path.join(directory, name)
                    found.append(os.path.relpath(path, root).replace(os.sep, "/"))
    return sorted(found)


def read_text(root, relative):
    with open(os.path.join(root, relative), encoding="utf-8", errors="replace") as file:
        return file.read()


# What code_only blanks: comments, raw strings R"x(...)x", strings and character literals.
# A number (digits first, as the preprocessor reads it) is matched only to keep its digit
# separators (1'000) from starting a character literal.
LEXEME = re.compile(
    r"//[^\n]*|/\*.*?\*/"
    r"|(?<!\w)(?:u8|u|U|L)?R\"([^()\\\s]{0,16})\(.*?\)\1\""
    r"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'"
    r"|(?<![\w.])\.?\d(?:[\w.]|'(?=\w))*",
    re.S)


def code_only(text):
    """`text` with comments and string and character literals replaced by spaces (line ends
    kept, so line numbers stay), so that what is left is code."""
    def blank(match):
        lexeme = match.group(0)
        if lexeme[0].isdigit() or lexeme[0] == ".":
            return lexeme
        return re.sub(r"[^\n]", " ", lexeme)
    return LEXEME.sub(blank, text)


def lexed(root, relative):
    """The text of a C++ file and its code_only form, read once per version of the file."""
    status = os.stat(os.path.join(root, relative))
    return _lexed(root, relative, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=None)
def _lexed(root, relative, _mtime, _size):
    text = read_text(root, relative)
    return text, code_only(text)


def directive(kind, name):
    return f"#include <{name}>" if kind == "<" else f'#include "{name}"'


def includes(root, relative):
    """(line number, '<' or '"', name) of each #include directive that is code."""
    raw, code = lexed(root, relative)
    raw_lines, code_lines = raw.split("\n"), code.split("\n")
    found = []
    for number, (raw, code) in enumerate(zip(raw_lines, code_lines), start=1):
        if re.match(r"^\s*#\s*include\b", code):
            match = INCLUDE.match(raw)
            if match:
                found.append((number, match.group(1), match.group(2)))
    return found


def symbol_violations(root, tops, allowed, symbol, header, what):
    """PATH:LINE: lines of C++ code under `tops`, outside `allowed`, that use `symbol` or
    include a header whose name matches `header`."""
    violations = []
    for relative in tree_files(root, tops, CXX_SUFFIXES):
        if relative in allowed:
            continue
        for number, line in enumerate(lexed(root, relative)[1].split("\n"), 1):
            if re.match(r"^\s*#\s*include\b", line):
                continue  # the directive is judged by its header's name, below
            match = symbol.search(line)
            if match:
                violations.append(f"{relative}:{number}: {match.group(0).strip()} ({what})")
        for number, kind, name in includes(root, relative):
            if header.search(name):
                violations.append(f"{relative}:{number}: {directive(kind, name)} ({what})")
    return sorted(violations)


def tool_headers(root):
    """{basename: [tool, ...]} of every header in tools/<tool>/."""
    headers = {}
    for relative in tree_files(root, ["tools"], (".hpp", ".h")):
        parts = relative.split("/")
        if len(parts) >= 3:
            headers.setdefault(parts[-1], []).append(parts[1])
    return headers


def libcore_header_exists(root, name):
    """`name` (as in #include "sluice/x.hpp") is a libcore header, or is generated from
    one (sluice/version.hpp from version.hpp.in)."""
    path = os.path.join(root, "libcore", "include", name)
    return os.path.isfile(path) or os.path.isfile(path + ".in")


def resolve(directory, name):
    return os.path.normpath(os.path.join(directory, name)).replace(os.sep, "/")


def libcore_include_violations(root):
    """Includes in libcore/ of anything under tools/: a path into tools/, a quoted name that
    is not libcore's, or any name of a header in tools/."""
    headers = tool_headers(root)
    violations = []
    for relative in tree_files(root, ["libcore"], CXX_SUFFIXES):
        for number, kind, name in includes(root, relative):
            local = resolve(os.path.dirname(relative), name)
            owners = headers.get(os.path.basename(name), [])
            if name.startswith("tools/") or "/tools/" in name or local.startswith("tools/"):
                where = "a tools/ header"
            elif kind == '"':
                if libcore_header_exists(root, name) or os.path.isfile(os.path.join(root, local)):
                    continue
                where = f"tools/{owners[0]}'s header" if owners else "not a libcore header"
            elif owners:
                where = f"tools/{owners[0]}'s header"
            else:
                continue
            violations.append(f"{relative}:{number}: {directive(kind, name)} ({where})")
    return sorted(violations)


def fuzz_target_tool(root, relative):
    """The tool whose logic library fuzz/<name>_fuzz.cpp links (fuzz/CMakeLists.txt: the
    longest tool name, '-' written '_', that the file name starts with), or None."""
    name = os.path.basename(relative)
    best = None
    for tool in sorted(os.listdir(os.path.join(root, "tools"))):
        if os.path.isdir(os.path.join(root, "tools", tool)):
            prefix = tool.replace("-", "_") + "_"
            if name.startswith(prefix) and (best is None or len(tool) > len(best)):
                best = tool
    return best


def tool_include_violations(root):
    """Includes in tools/<tool>/ (and in fuzz/<tool>_*_fuzz.cpp) of another tool's headers,
    or of anything that is neither a libcore header nor the tool's (or fuzz/'s) own."""
    headers = tool_headers(root)
    violations = []
    files = tree_files(root, ["tools"], CXX_SUFFIXES) + tree_files(root, ["fuzz"], CXX_SUFFIXES)
    for relative in files:
        parts = relative.split("/")
        if parts[0] == "tools":
            if len(parts) < 3:
                continue
            own = f"tools/{parts[1]}"
            directories = [own]
        else:
            tool = fuzz_target_tool(root, relative)
            own = f"tools/{tool}" if tool else None
            directories = [os.path.dirname(relative)] + ([own] if own else [])
        for number, kind, name in includes(root, relative):
            found = [path for path in (resolve(d, name) for d in directories)
                     if os.path.isfile(os.path.join(root, path))]
            mine = [path for path in found if own and path.startswith(f"{own}/")
                    or not path.startswith("tools/")]
            others = sorted({os.path.dirname(path) for path in found if path not in mine} |
                            {f"tools/{tool}" for tool in headers.get(os.path.basename(name), [])
                             if f"tools/{tool}" != own})
            if name.startswith("tools/") or "/tools/" in name:
                where = "a tools/ header"
            elif kind == '"':
                if mine or libcore_header_exists(root, name):
                    continue
                where = f"{others[0]}'s header" if others else "neither libcore's nor its own"
            elif others:
                where = f"{others[0]}'s header"
            else:
                continue
            violations.append(f"{relative}:{number}: {directive(kind, name)} ({where})")
    return sorted(violations)


def outside_citations(root):
    """{path: [PATH:LINE: text, ...]} of lines anywhere in the tree that cite the old design
    contract or the shared directory outside the checkout."""
    found = {}
    for relative in tree_files(root):
        with open(os.path.join(root, relative), "rb") as file:
            data = file.read()
        if b"DESIGN" not in data and b"shared" not in data:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
            if OUTSIDE_CITATION.search(line):
                found.setdefault(relative, []).append(f"{relative}:{number}: {line.strip()[:100]}")
    return found


def outside_citation_violations(root, exempt):
    violations = []
    citations = outside_citations(root)
    for relative, lines in sorted(citations.items()):
        allowed = exempt.get(relative, (0, ""))[0]
        if len(lines) != allowed:
            violations.extend(lines if allowed == 0 else
                              [f"{relative}: {len(lines)} lines cite files outside the "
                               f"repository, {allowed} exempted"] + lines)
    for relative, (allowed, _) in sorted(exempt.items()):
        if relative not in citations and allowed:
            violations.append(f"{relative}: exempted for {allowed} lines but cites nothing "
                              f"outside the repository now: remove the exemption")
    return violations


def architecture_sections(root):
    """The headings (text after the #s) of docs/ARCHITECTURE.md."""
    return {line.lstrip("#").strip() for line in read_text(root, ARCHITECTURE).split("\n")
            if line.startswith("#")}


def section_citation_violations(root):
    sections = architecture_sections(root)
    violations = []
    for relative in tree_files(root):
        with open(os.path.join(root, relative), "rb") as file:
            data = file.read()
        if b"docs/ARCHITECTURE.md" not in data:
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
            for names in SECTION_CITATION.findall(line):
                for section in re.findall(r'"([^"]+)"', names):
                    if section in sections:
                        continue
                    violations.append(f"{relative}:{number}: no section \"{section}\" in "
                                      f"{ARCHITECTURE}")
    return violations


def sqlite_violations(root):
    return symbol_violations(root, SQLITE_SCOPE, SQLITE_ALLOWED, SQLITE_SYMBOL, SQLITE_HEADERS,
                             "SQLite outside db")


def simdjson_violations(root):
    return symbol_violations(root, SIMDJSON_SCOPE, SIMDJSON_ALLOWED, SIMDJSON_SYMBOL,
                             SIMDJSON_HEADERS, "simdjson outside the jsonl reader")


def cli11_violations(root):
    allowed = {relative for relative in tree_files(root, CLI11_SCOPE, CXX_SUFFIXES)
               if CLI11_ALLOWED.match(relative)}
    return symbol_violations(root, CLI11_SCOPE, allowed, NOTHING, CLI11_HEADERS,
                             "CLI11 outside the files that declare options")


def libpq_violations(root):
    found = symbol_violations(root, LIBPQ_SCOPE, LIBPQ_ALLOWED, LIBPQ_SYMBOL, LIBPQ_HEADERS,
                              "libpq outside pg")
    # redis loads hiredis as pg loads libpq: its dlopen is no use of libpq.
    return [violation for violation in found
            if not (violation.split(":", 1)[0] in HIREDIS_ALLOWED
                    and DYNAMIC_LOADING.search(violation))]


def hiredis_violations(root):
    return symbol_violations(root, LIBPQ_SCOPE, HIREDIS_ALLOWED, HIREDIS_SYMBOL, HIREDIS_HEADERS,
                             "hiredis outside redis")


def process_violations(root):
    return symbol_violations(root, PROCESS_SCOPE, PROCESS_ALLOWED, PROCESS_CALL, PROCESS_HEADERS,
                             "processes outside proc")


class DependencyRuleTest(unittest.TestCase):
    """The rule on the real tree."""

    root = os.path.realpath(SOURCE)
    maxDiff = None

    def test_source_tree_found(self):
        for path in ("libcore/include/sluice/db.hpp", "libcore/src/proc.cpp", ARCHITECTURE):
            self.assertTrue(os.path.isfile(os.path.join(self.root, path)),
                            f"{path} not found under SLUICE_SOURCE={self.root}")

    def test_only_db_calls_sqlite(self):
        self.assertEqual(sqlite_violations(self.root), [])

    def test_only_jsonl_reader_touches_simdjson(self):
        self.assertEqual(simdjson_violations(self.root), [])

    def test_only_pg_loads_libpq(self):
        self.assertEqual(libpq_violations(self.root), [])

    def test_only_redis_loads_hiredis(self):
        self.assertEqual(hiredis_violations(self.root), [])

    def test_only_proc_starts_and_waits_for_processes(self):
        self.assertEqual(process_violations(self.root), [])

    def test_only_command_line_files_include_cli11(self):
        self.assertEqual(cli11_violations(self.root), [])

    def test_libcore_includes_nothing_from_tools(self):
        self.assertEqual(libcore_include_violations(self.root), [])

    def test_no_tool_includes_another_tools_headers(self):
        self.assertEqual(tool_include_violations(self.root), [])

    def test_nothing_cites_files_outside_the_repository(self):
        self.assertEqual(outside_citation_violations(self.root, OUTSIDE_CITATION_EXEMPT), [])

    def test_architecture_citations_name_existing_sections(self):
        self.assertTrue(os.path.isfile(os.path.join(self.root, ARCHITECTURE)))
        self.assertEqual(section_citation_violations(self.root), [])


class CheckerTest(unittest.TestCase):
    """The checks themselves, on a small tree with one violation of each kind: each must be
    reported at its file and line, and nothing else."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sluice-architecture-")
        self.addCleanup(shutil.rmtree, self.root)
        self.write(ARCHITECTURE, "# sluice architecture\n\n## State\n")
        self.write("libcore/include/sluice/db.hpp", "")
        self.write("libcore/src/db_backend.hpp", "struct sqlite3_stmt;\n")
        self.write("libcore/src/pg.cpp", '#include <dlfcn.h>\n#include <libpq-fe.h>\n'
                   'void* h = dlopen("libpq.so.5", 0); PGconn* c = PQconnectdb("");\n')
        self.write("libcore/include/sluice/version.hpp.in", "")
        self.write("libcore/src/db_sqlite.cpp", '#include <sqlite3.h>\nint f() { sqlite3_open(); }\n')
        self.write("libcore/src/proc.cpp", "#include <spawn.h>\nvoid g() { ::waitpid(1, 0, 0); }\n")
        self.write("libcore/src/jsonl_reader.cpp",
                   "#include <simdjson.h>\nsimdjson::ondemand::parser p;\n")
        self.write("tools/a/a.hpp", "")
        self.write("tools/b/b.hpp", "")
        self.write("tools/b/main.cpp", '#include "b.hpp"\n#include "sluice/version.hpp"\n')

    def write(self, relative, text):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)

    def test_a_clean_tree_passes(self):
        self.assertEqual(sqlite_violations(self.root), [])
        self.assertEqual(simdjson_violations(self.root), [])
        self.assertEqual(libpq_violations(self.root), [])
        self.assertEqual(process_violations(self.root), [])
        self.assertEqual(cli11_violations(self.root), [])
        self.assertEqual(libcore_include_violations(self.root), [])
        self.assertEqual(tool_include_violations(self.root), [])
        self.assertEqual(outside_citation_violations(self.root, {}), [])
        self.assertEqual(section_citation_violations(self.root), [])

    def test_comments_strings_and_digit_separators_are_not_code(self):
        self.write("tools/a/a.cpp",
                   "// sqlite3_open, fork() and simdjson in a comment\n"
                   "/* waitpid(\n"
                   "   execvp( */ int n = 1'000'000;\n"
                   'const char* s = "sqlite3_step fork()"; char c = \'"\';\n'
                   'const char* r = R"sql(popen( "simdjson" )sql"; int m = 0x1\'f;\n'
                   "auto c8 = u8'('; auto w = L\"waitpid(\"; double d = .5e1'0;\n"
                   "int after = fork();\n")
        self.assertEqual(process_violations(self.root),
                         ["tools/a/a.cpp:7: fork( (processes outside proc)"])
        self.assertEqual(sqlite_violations(self.root), [])
        self.assertEqual(simdjson_violations(self.root), [])

    def test_sqlite_outside_db(self):
        self.write("tools/a/a.cpp", "\n#include <sqlite3.h>\nvoid f() { sqlite3_exec(); }\n")
        self.write("tests/unit/x_test.cpp", "sqlite3* handle;\n")
        self.assertEqual(sqlite_violations(self.root), [
            "tests/unit/x_test.cpp:1: sqlite3 (SQLite outside db)",
            "tools/a/a.cpp:2: #include <sqlite3.h> (SQLite outside db)",
            "tools/a/a.cpp:3: sqlite3_exec (SQLite outside db)",
        ])

    def test_libpq_outside_pg(self):
        self.write("libcore/src/db.cpp", "#include <postgresql/libpq-fe.h>\nPGresult* r;\n")
        self.write("tools/a/a.cpp", "\nvoid* h = dlopen(\"x\", 0); PQclear(r);\n")
        self.assertEqual(libpq_violations(self.root), [
            "libcore/src/db.cpp:1: #include <postgresql/libpq-fe.h> (libpq outside pg)",
            "libcore/src/db.cpp:2: PGresult (libpq outside pg)",
            "tools/a/a.cpp:2: dlopen (libpq outside pg)",
        ])

    def test_hiredis_outside_redis(self):
        self.write("libcore/src/redis.cpp", '#include <dlfcn.h>\n#include <hiredis/hiredis.h>\n'
                   'void* h = dlopen("libhiredis.so.0.14", 0); redisContext* c;\n')
        self.write("tools/a/a.cpp", "#include <hiredis/hiredis.h>\n\nfreeReplyObject(r);\n")
        self.assertEqual(libpq_violations(self.root), [])
        self.assertEqual(hiredis_violations(self.root), [
            "tools/a/a.cpp:1: #include <hiredis/hiredis.h> (hiredis outside redis)",
            "tools/a/a.cpp:3: freeReplyObject (hiredis outside redis)",
        ])

    def test_simdjson_outside_the_reader(self):
        self.write("libcore/src/jsonl.cpp", "#include <simdjson.h>\n")
        self.write("fuzz/x_fuzz.cpp", "\n\nsimdjson::padded_string s;\n")
        self.assertEqual(simdjson_violations(self.root), [
            "fuzz/x_fuzz.cpp:3: simdjson (simdjson outside the jsonl reader)",
            "libcore/src/jsonl.cpp:1: #include <simdjson.h> (simdjson outside the jsonl reader)",
        ])

    def test_processes_outside_proc(self):
        self.write("libcore/src/tree_lock.cpp",
                   "#include <sys/wait.h>\nint a = fork();\nexecvp(x, y);\nposix_spawnp(0);\n"
                   "pacer.wait(1);\nstd::system(\"x\");\n")
        self.write("tests/unit/tree_lock_test.cpp", "int a = ::fork();\n")
        self.assertEqual(process_violations(self.root), [
            "libcore/src/tree_lock.cpp:1: #include <sys/wait.h> (processes outside proc)",
            "libcore/src/tree_lock.cpp:2: fork( (processes outside proc)",
            "libcore/src/tree_lock.cpp:3: execvp( (processes outside proc)",
            "libcore/src/tree_lock.cpp:4: posix_spawnp( (processes outside proc)",
            "libcore/src/tree_lock.cpp:6: system( (processes outside proc)",
        ])

    def test_cli11_outside_the_command_line_files(self):
        self.write("tools/a/a_cli.cpp", "#include <CLI/CLI.hpp>\n")
        self.write("libcore/src/cli.cpp", "#include <CLI/CLI.hpp>\n")
        self.write("tools/a/a_run.cpp", "\n#include <CLI/App.hpp>\nCLI::App* app;\n")
        self.write("libcore/include/sluice/cli.hpp", "#include <CLI/CLI.hpp>\n")
        self.write("tests/unit/cli_test.cpp", "#include <CLI/CLI.hpp>\n")
        self.assertEqual(cli11_violations(self.root), [
            "libcore/include/sluice/cli.hpp:1: #include <CLI/CLI.hpp> "
            "(CLI11 outside the files that declare options)",
            "tools/a/a_run.cpp:2: #include <CLI/App.hpp> "
            "(CLI11 outside the files that declare options)",
        ])

    def test_libcore_including_a_tool_header(self):
        self.write("libcore/src/x.cpp",
                   '#include "sluice/db.hpp"\n#include "a.hpp"\n#include "../../tools/b/b.hpp"\n'
                   "#include <a.hpp>\n#include <vector>\n")
        self.assertEqual(libcore_include_violations(self.root), [
            "libcore/src/x.cpp:2: #include \"a.hpp\" (tools/a's header)",
            "libcore/src/x.cpp:3: #include \"../../tools/b/b.hpp\" (a tools/ header)",
            "libcore/src/x.cpp:4: #include <a.hpp> (tools/a's header)",
        ])

    def test_a_tool_including_another_tools_header(self):
        self.write("tools/b/b.cpp",
                   '#include "b.hpp"\n#include "a.hpp"\n#include "../a/a.hpp"\n'
                   '#include "json_scan.hpp"\n#include "sluice/db.hpp"\n')
        self.write("fuzz/b_thing_fuzz.cpp", '#include "b.hpp"\n#include "a.hpp"\n')
        self.write("fuzz/x_fuzz.cpp", '#include "b.hpp"\n')
        self.assertEqual(tool_include_violations(self.root), [
            "fuzz/b_thing_fuzz.cpp:2: #include \"a.hpp\" (tools/a's header)",
            "fuzz/x_fuzz.cpp:1: #include \"b.hpp\" (tools/b's header)",
            "tools/b/b.cpp:2: #include \"a.hpp\" (tools/a's header)",
            "tools/b/b.cpp:3: #include \"../a/a.hpp\" (tools/a's header)",
            "tools/b/b.cpp:4: #include \"json_scan.hpp\" (neither libcore's nor its own)",
        ])

    def test_citations_of_files_outside_the_repository(self):
        design = "DESIGN" + ".md"
        self.write("libcore/include/sluice/x.hpp", f"// x: see {design} section 4.\n")
        self.write("SECURITY.md", "\n- DESIGN" + " §8 says so.\n")
        self.write("bench/x.sh", "data=${DATA:-$root/.." + "/shared/data}\n")
        self.write("bench/y.sh", "")
        self.write("build/x.log", design + "\n")  # build trees are not the source tree
        self.assertEqual(outside_citation_violations(self.root, {}), [
            "SECURITY.md:2: - DESIGN" + " §8 says so.",
            "bench/x.sh:1: data=${DATA:-$root/.." + "/shared/data}",
            "libcore/include/sluice/x.hpp:1: // x: see " + design + " section 4.",
        ])
        self.assertEqual(
            outside_citation_violations(self.root, {"bench/x.sh": (1, "why"),
                                                    "bench/y.sh": (1, "why")}),
            ["SECURITY.md:2: - DESIGN" + " §8 says so.",
             "libcore/include/sluice/x.hpp:1: // x: see " + design + " section 4.",
             "bench/y.sh: exempted for 1 lines but cites nothing outside the repository now: "
             "remove the exemption"])

    def test_citation_of_a_missing_section(self):
        cite = ARCHITECTURE + ","  # written so that this file cites no section itself
        self.write("libcore/include/sluice/x.hpp",
                   f'// ({cite} "State")\n// ({cite} "Stat")\n// ({cite} "State" and "Nope")\n')
        self.assertEqual(section_citation_violations(self.root), [
            'libcore/include/sluice/x.hpp:2: no section "Stat" in docs/ARCHITECTURE.md',
            'libcore/include/sluice/x.hpp:3: no section "Nope" in docs/ARCHITECTURE.md'])


if __name__ == "__main__":
    unittest.main()
