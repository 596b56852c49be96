"""Shared helpers for the CLI tests: run the real binaries in a temporary state directory."""

import os
import shutil
import subprocess
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
    """How many rounds a crash or concurrency test runs: `normal`, a third of it (at least 2)
    when short, or `long`."""
    if DEPTH == "long":
        return long
    if DEPTH == "short":
        return max(2, normal // 3)
    return normal


BUILD = os.environ.get("SLUICE_BUILD") or os.path.dirname(os.path.abspath(BIN))


def known_tools():
    """The tools the build knows, in the order tools/CMakeLists.txt adds them (CMake writes the
    list to BUILD/tools.txt): adding a tool there is enough for the suites that cover them all."""
    with open(os.path.join(BUILD, "tools.txt")) as listing:
        tools = listing.read().split()
    if not tools:
        raise AssertionError(f"{BUILD}/tools.txt lists no tool")
    return tools


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


class ToolTestCase(unittest.TestCase):
    """Each test gets a fresh directory (cwd of the commands) and SLUICE_STATE_DIR inside it."""

    tool = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-cli-")
        self.env = dict(os.environ)
        self.env["SLUICE_STATE_DIR"] = os.path.join(self.dir, "state")
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
