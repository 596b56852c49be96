"""Shared helpers for the CLI tests: run the real binaries in a temporary state directory."""

import fcntl
import functools
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("SLUICE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("SLUICE_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
# How deep the crash and concurrency tests go, set by scripts/test: "normal" (the release pass
# and the default), "short" (the sanitizer pass, where every process is several times slower)
# or "long" (scripts/test --long).
DEPTH = os.environ.get("SLUICE_TEST_DEPTH", "normal")
if DEPTH not in ("short", "normal", "long"):
    raise ValueError(f"SLUICE_TEST_DEPTH must be short, normal or long, not {DEPTH!r}")


def rounds(normal, long):
    """How many rounds a crash or concurrency test runs (or how much data a test that must
    outlast a kill makes): `normal`, a fifth of it (at least 2) when short, or `long`."""
    if DEPTH == "long":
        return long
    if DEPTH == "short":
        return max(2, normal // 5)
    return normal


def scaled(normal):
    """How much data a test makes whose command must run long enough to be killed mid-way:
    `normal`, or a fifth of it in the sanitizer pass (short depth), where the same work takes
    several times longer."""
    return rounds(normal, normal)


BUILD = os.environ.get("SLUICE_BUILD") or os.path.dirname(os.path.abspath(BIN))


def known_tools():
    """The tools the build knows, in the order tools/CMakeLists.txt adds them (CMake writes the
    list to BUILD/tools.txt): adding a tool there is enough for the suites that cover them all."""
    with open(os.path.join(BUILD, "tools.txt")) as listing:
        tools = listing.read().split()
    if not tools:
        raise AssertionError(f"{BUILD}/tools.txt lists no tool")
    return tools


# The throw-away PostgreSQL server scripts/test starts (scripts/pg), and the pgbouncer in
# transaction pooling in front of it; empty when none was started.
PG_URL = os.environ.get("SLUICE_TEST_PG_URL", "")
PGBOUNCER_URL = os.environ.get("SLUICE_TEST_PGBOUNCER_URL", "")
# The throw-away Redis server scripts/test starts (scripts/redis), for stock's Redis backend.
REDIS_URL = os.environ.get("SLUICE_TEST_REDIS_URL", "")
_schemas = itertools.count(1)


def _state_tag():
    """What names this process's schemas, databases and Redis namespaces on the shared test
    servers: the PID and a random part, since the PID alone comes back (pid_max is 32768 on
    Debian) within one long scripts/test run or on a server kept across runs, and CREATE
    SCHEMA then fails for every test of a suite."""
    return f"{os.getpid()}_{os.urandom(4).hex()}"


_STATE_TAG = _state_tag()


def _psql(sql):
    """Runs `sql` on the test server as its superuser; a failure says what psql said."""
    result = subprocess.run(["psql", PG_URL, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"psql {sql!r}: exit {result.returncode}: {result.stderr.strip()}")


def is_server_url(location):
    return location.startswith(("postgresql://", "postgres://"))


def fresh_pg_schema():
    """The test server's URL with a new, empty schema first on the search path: tests running
    at once never share state."""
    schema = f"cli_{_STATE_TAG}_{next(_schemas)}"
    _psql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


def fresh_pg_database():
    """A new, empty database on the test server, as a URL through its pgbouncer: pgbouncer
    does not pass a search_path on, so tests that go through it get a database each."""
    name = f"cli_{_STATE_TAG}_{next(_schemas)}"
    _psql(f"CREATE DATABASE {name}")
    return PGBOUNCER_URL.replace("/postgres?", f"/{name}?", 1)


def _variant(cls, suffix, backend):
    variant = type(f"{cls.__name__}{suffix}", (cls,), {"backend": backend})
    variant.__module__ = cls.__module__
    variant.__qualname__ = variant.__name__
    setattr(sys.modules[cls.__module__], variant.__name__, variant)


def also_through_pgbouncer(cls):
    """Class decorator: the suite runs once more as <Class>ThroughPgbouncer, with the tool's
    state on the test server reached through pgbouncer in transaction pooling (each statement
    may land on another server connection). Skipped when no pgbouncer was started, and in the
    sanitizer pass (SLUICE_TEST_DEPTH=short), like every server variant."""
    _variant(cls, "ThroughPgbouncer", "pgbouncer")
    return cls


def on_both_backends(cls):
    """Class decorator: the suite runs as written (state in SQLite files) and again as
    <Class>OnPostgres with the tool's default state on the test PostgreSQL server
    (SLUICE_STATE_URL; an explicit --db FILE still names a file). The variant is skipped when no
    server was started, and in the sanitizer pass (SLUICE_TEST_DEPTH=short)."""
    _variant(cls, "OnPostgres", "postgresql")
    return cls


def on_every_backend(cls):
    """Class decorator for a tool that can also keep its state on Redis (stock): the suite runs
    as @on_both_backends does, and once more as <Class>OnRedis with SLUICE_STATE_URL naming a
    fresh namespace on the test Redis server. The Redis variant is skipped when no server was
    started (SLUICE_TEST_REDIS_URL), and in the sanitizer pass."""
    on_both_backends(cls)
    _variant(cls, "OnRedis", "redis")
    return cls


def fresh_redis_namespace():
    """The test Redis server's URL with a key namespace no other test uses."""
    return f"{REDIS_URL}?namespace=t{_STATE_TAG}_{next(_redis_namespaces)}"


_redis_namespaces = itertools.count(1)


def sqlite_only(test):
    """A test about SQLite state files (modes, paths, the run lock beside the file): skipped in
    a suite's PostgreSQL variant."""
    @functools.wraps(test)
    def run_on_sqlite(self, *args, **kwargs):
        if self.backend != "sqlite":
            self.skipTest("about SQLite state files")
        return test(self, *args, **kwargs)
    return run_on_sqlite


def tool_path(tool):
    return os.path.join(BIN, tool)


class Result:
    def __init__(self, status, stdout, stderr):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr

    @property
    def out(self):
        return self.stdout.decode()

    @property
    def err(self):
        return self.stderr.decode()

    def __repr__(self):
        return f"Result(status={self.status}, stdout={self.stdout!r}, stderr={self.stderr!r})"


class WriteLockHold:
    """A write lock held by ToolTestCase.hold_write_lock; release() ends it (once)."""

    def __init__(self, end):
        self._end = end

    def release(self):
        end, self._end = self._end, None
        if end is not None:
            end()


class ToolTestCase(unittest.TestCase):
    """Each test gets a fresh directory (cwd of the commands) and SLUICE_STATE_DIR inside it."""

    tool = None
    backend = "sqlite"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-cli-")
        self.env = dict(os.environ)
        self.env["SLUICE_STATE_DIR"] = os.path.join(self.dir, "state")
        self.env.pop("SLUICE_STATE_URL", None)
        self.named_states = {}
        if self.backend == "redis":
            if not REDIS_URL:
                self.skipTest("SLUICE_TEST_REDIS_URL is not set (scripts/test starts a server)")
            if DEPTH == "short":
                self.skipTest("the server variants run in the release pass")
            self.env["SLUICE_STATE_URL"] = self.fresh_server_state()
        elif self.backend != "sqlite":
            if not PG_URL:
                self.skipTest("SLUICE_TEST_PG_URL is not set (scripts/test starts a server)")
            if self.backend == "pgbouncer" and not PGBOUNCER_URL:
                self.skipTest("SLUICE_TEST_PGBOUNCER_URL is not set (pgbouncer is not installed)")
            if DEPTH == "short":
                # The server variants check SQL, locking and the protocol, which the release
                # pass covers; the sanitizer pass keeps its minutes for memory errors, and
                # runs the backend's own unit tests (and the server crash tests) for those.
                self.skipTest("the server variants run in the release pass")
            self.env["SLUICE_STATE_URL"] = self.fresh_server_state()
        self.env.pop("NO_COLOR", None)
        self.children = []

    def tearDown(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def state(self, name):
        """The --db location of the test's state called `name`: the file of that name in the
        test's directory or, in a suite's PostgreSQL variant, a schema of its own on the test
        server."""
        if self.backend == "sqlite":
            return self.path(name)
        if name not in self.named_states:
            self.named_states[name] = self.fresh_server_state()
        return self.named_states[name]

    def fresh_server_state(self):
        if self.backend == "redis":
            return fresh_redis_namespace()
        return fresh_pg_database() if self.backend == "pgbouncer" else fresh_pg_schema()

    def state_rows(self, location, sql):
        """The rows (tuples of text, NULL as None) that `sql` reads from the state at
        `location`, or [] when it has no such table yet: what a test checks the state with,
        on either backend."""
        if not is_server_url(location):
            if not os.path.exists(location):
                return []
            with sqlite3.connect(location) as connection:
                try:
                    rows = connection.execute(sql).fetchall()
                except sqlite3.OperationalError as error:
                    if "no such table" in str(error):
                        return []
                    raise
            return [tuple(None if value is None else str(value) for value in row) for row in rows]
        result = subprocess.run(["psql", location, "-qAtX", "-F", "\t", "-P", "null=\\N",
                                 "-v", "ON_ERROR_STOP=1", "-c", sql],
                                capture_output=True, timeout=60)
        if result.returncode != 0:
            if b"does not exist" in result.stderr:
                return []
            raise AssertionError(result.stderr.decode())
        return [tuple(None if value == "\\N" else value for value in line.split("\t"))
                for line in result.stdout.decode().splitlines()]

    def state_dump(self, location, tables):
        """Every row of `tables`, as text and sorted, on either backend: what a test compares
        to show that a refused command left the state untouched."""
        return {table: sorted(self.state_rows(location, f"SELECT * FROM {table}"), key=repr)
                for table in tables}

    def assertStateIntact(self, location):
        """SQLite's integrity check of a state file (a server keeps its own consistency).
        A file that does not exist is intact: a process killed before it opened its state
        has created nothing."""
        if not is_server_url(location) and os.path.exists(location):
            self.assertEqual(self.state_rows(location, "PRAGMA integrity_check"), [("ok",)])

    def write(self, name, content):
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(self.path(name), mode) as handle:
            handle.write(content)
        return self.path(name)

    def read(self, name):
        with open(self.path(name), "rb") as handle:
            return handle.read()

    def run_tool(self, *args, stdin=b"", env=None, tool=None, timeout=60):
        if isinstance(stdin, str):
            stdin = stdin.encode()
        completed = subprocess.run([tool_path(tool or self.tool), *args], input=stdin,
                                   capture_output=True, cwd=self.dir, env=env or self.env,
                                   timeout=timeout)
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def start_tool(self, *args, env=None, tool=None, **popen):
        child = subprocess.Popen([tool_path(tool or self.tool), *args], cwd=self.dir,
                                 env=env or self.env, **popen)
        self.children.append(child)
        return child

    def start_private_server(self):
        """A PostgreSQL server of this test's own (scripts/pg), for tests that crash it;
        returns its URL. Skips when the tests run without server binaries."""
        if not PG_URL:
            self.skipTest("no PostgreSQL server binaries (scripts/test starts one)")
        self.pg = os.path.join(SOURCE, "scripts", "pg")
        # Its own directory under /tmp: the server runs as the postgres user when the tests run
        # as root, and cannot enter the test's private directory.
        self.server = tempfile.mkdtemp(prefix="sluice-pg-")
        url = subprocess.run([self.pg, "start", self.server], check=True, capture_output=True,
                             text=True, timeout=120).stdout.strip()
        self.addCleanup(subprocess.run, [self.pg, "stop", self.server], capture_output=True)
        return url

    def crash_private_server(self):
        """pg_ctl stop -m immediate: what a crash of the server looks like to its clients."""
        subprocess.run([self.pg, "crash", self.server], check=True, capture_output=True)

    def restart_private_server(self):
        subprocess.run([self.pg, "restart", self.server], check=True, capture_output=True)

    def hold_write_lock(self, location, table):
        """Holds the state's write lock, as another writer would, and returns once it is held:
        the flock of "<file>.lock" every SQLite writer queues on, or on a server an exclusive
        lock on `table` in an open transaction. Returns a WriteLockHold; what release() does
        not end, the test's end does."""
        if not is_server_url(location):
            descriptor = os.open(location + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            hold = WriteLockHold(lambda: os.close(descriptor))
        else:
            marker = f"held-{len(self.children)}"
            # psql then waits on its standard input with the transaction open; closing it
            # ends the session, and the server rolls the transaction back at once.
            holder = subprocess.Popen(["psql", location, "-qAtX", "-v", "ON_ERROR_STOP=1"],
                                      cwd=self.dir, stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL)
            holder.stdin.write(f"BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\n"
                               f"\\! touch {marker}\n".encode())
            holder.stdin.flush()
            self.children.append(holder)
            self.wait_for_file(marker)

            def end_session():
                holder.stdin.close()
                holder.wait(timeout=60)
            hold = WriteLockHold(end_session)
        self.addCleanup(hold.release)
        return hold

    def wait_for_file(self, name, timeout=30):
        """Waits for an event (a file the child creates), not for time to pass."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.path(name)):
            if time.monotonic() > deadline:
                self.fail(f"{name} did not appear within {timeout}s")
            time.sleep(0.01)

    def assertStatus(self, result, status):
        self.assertEqual(result.status, status, result)

    def assertError(self, result, status, *fragments):
        """The documented status and one diagnostic line naming what went wrong."""
        self.assertStatus(result, status)
        first = result.err.splitlines()[0] if result.err else ""
        self.assertTrue(first.startswith(f"{self.tool}: error: "), result)
        for fragment in fragments:
            self.assertIn(fragment, result.err)
