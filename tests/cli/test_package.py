"""The Debian package: `cpack -G DEB` builds `sluice`; unpacked into a clean prefix, every tool
runs (--version) and has its man page where man finds it, with completions and the license;
the package depends on run-time libraries only. As root (CI), and when no sluice package is
installed already, it is also installed with dpkg -i, checked the same way, and removed."""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import known_tools

BUILD = os.environ.get("SLUICE_BUILD")


def sanitized_build():
    with open(os.path.join(BUILD, "CMakeCache.txt")) as cache:
        text = cache.read()
    # SLUICE_FUZZ (scripts/test's build-asan) turns the sanitizers on without the cache entry.
    return "SLUICE_SANITIZE:BOOL=ON" in text or "SLUICE_FUZZ:BOOL=ON" in text


@unittest.skipUnless(BUILD, "SLUICE_BUILD is not set (run through CTest)")
class Package(unittest.TestCase):
    def setUp(self):
        if sanitized_build():
            self.skipTest("the package is made from the release build only")
        self.dir = tempfile.mkdtemp(prefix="sluice-package-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def build_package(self):
        subprocess.run(["cpack", "-G", "DEB", "-B", self.dir], cwd=BUILD, check=True,
                       capture_output=True, timeout=600)
        (deb,) = glob.glob(os.path.join(self.dir, "sluice_*_amd64.deb"))
        return deb

    def check_installed(self, root, env):
        """Every tool under ROOT/usr runs and has its page and completion."""
        tools = known_tools()
        self.assertIn("reindex", tools)
        for tool in tools:
            with self.subTest(tool=tool):
                binary = os.path.join(root, "usr", "bin", tool)
                version = subprocess.run([binary, "--version"], capture_output=True, text=True)
                self.assertEqual(version.returncode, 0, version.stderr)
                self.assertTrue(version.stdout.startswith(f"{tool} 0.1.0 (sluice, git "), version.stdout)
                page = subprocess.run(["man", "-w", tool], capture_output=True, text=True, env=env)
                self.assertEqual(page.returncode, 0, page.stderr)
                self.assertTrue(page.stdout.strip().startswith(os.path.join(root, "usr")), page.stdout)
                self.assertTrue(os.path.isfile(os.path.join(
                    root, "usr", "share", "bash-completion", "completions", tool)))
        self.assertTrue(os.path.isfile(os.path.join(root, "usr", "share", "doc", "sluice", "copyright")))
        page = subprocess.run(["man", "-w", "7", "sluice"], capture_output=True, text=True, env=env)
        self.assertEqual(page.returncode, 0, page.stderr)
        return tools

    def test_build_install_and_remove_the_package(self):
        deb = self.build_package()
        info = subprocess.run(["dpkg-deb", "--field", deb, "Package", "Depends", "Recommends",
                               "Section"], capture_output=True, text=True, check=True).stdout
        self.assertIn("Package: sluice", info)
        self.assertIn("Section: utils", info)
        depends = info.split("Depends:")[1].splitlines()[0]
        self.assertIn("tzdata", depends)
        self.assertNotIn("-dev", depends)  # run-time libraries only
        # libpq and hiredis are loaded only for a server: recommended, never dependencies.
        self.assertNotIn("libpq", depends)
        self.assertNotIn("hiredis", depends)
        self.assertEqual(info.split("Recommends:")[1].splitlines()[0].strip(),
                         "libpq5, libhiredis0.14")
        root = os.path.join(self.dir, "root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        self.check_installed(root, dict(os.environ, MANPATH=os.path.join(root, "usr", "share", "man")))
        already = subprocess.run(["dpkg-query", "-W", "sluice"], capture_output=True).returncode == 0
        if os.geteuid() != 0 or already:
            return  # installing on the machine needs root and must not replace a real install
        installed = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True)
        self.assertEqual(installed.returncode, 0, installed.stderr)
        try:
            env = dict(os.environ)
            env.pop("MANPATH", None)
            tools = self.check_installed("/", env)
        finally:
            removed = subprocess.run(["dpkg", "-r", "sluice"], capture_output=True, text=True)
        self.assertEqual(removed.returncode, 0, removed.stderr)
        for tool in tools:
            self.assertFalse(os.path.exists(f"/usr/bin/{tool}"), tool)


if __name__ == "__main__":
    unittest.main()
