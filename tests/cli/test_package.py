"""The Debian package: `cpack -G DEB` builds `sluice`; unpacked into a clean prefix, every tool
runs (--version) and has its man page where man finds it, with completions and the license;
the package depends on run-time libraries only."""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import SOURCE

BUILD = os.environ.get("SLUICE_BUILD")


def sanitized_build():
    with open(os.path.join(BUILD, "CMakeCache.txt")) as cache:
        return "SLUICE_SANITIZE:BOOL=ON" in cache.read()


@unittest.skipUnless(BUILD, "SLUICE_BUILD is not set (run through CTest)")
class Package(unittest.TestCase):
    def setUp(self):
        if sanitized_build():
            self.skipTest("the package is made from the release build only")
        self.dir = tempfile.mkdtemp(prefix="sluice-package-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_build_unpack_and_run_the_package(self):
        subprocess.run(["cpack", "-G", "DEB", "-B", self.dir], cwd=BUILD, check=True,
                       capture_output=True, timeout=600)
        (deb,) = glob.glob(os.path.join(self.dir, "sluice_*_amd64.deb"))
        info = subprocess.run(["dpkg-deb", "--field", deb, "Package", "Depends", "Section"],
                              capture_output=True, text=True, check=True).stdout
        self.assertIn("Package: sluice", info)
        self.assertIn("Section: utils", info)
        depends = info.split("Depends:")[1].splitlines()[0]
        self.assertIn("tzdata", depends)
        self.assertNotIn("-dev", depends)  # run-time libraries only
        root = os.path.join(self.dir, "root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        tools = sorted(os.path.basename(os.path.dirname(path))
                       for path in glob.glob(os.path.join(SOURCE, "tools", "*", "main.cpp")))
        env = dict(os.environ, MANPATH=os.path.join(root, "usr", "share", "man"))
        for tool in tools:
            with self.subTest(tool=tool):
                binary = os.path.join(root, "usr", "bin", tool)
                version = subprocess.run([binary, "--version"], capture_output=True, text=True)
                self.assertEqual(version.returncode, 0, version.stderr)
                self.assertTrue(version.stdout.startswith(f"{tool} 0.1.0 (sluice, git "), version.stdout)
                page = subprocess.run(["man", "-w", tool], capture_output=True, text=True, env=env)
                self.assertEqual(page.returncode, 0, page.stderr)
                self.assertTrue(page.stdout.strip().startswith(root), page.stdout)
                self.assertTrue(os.path.isfile(os.path.join(
                    root, "usr", "share", "bash-completion", "completions", tool)))
        self.assertTrue(os.path.isfile(os.path.join(root, "usr", "share", "doc", "sluice", "copyright")))
        page = subprocess.run(["man", "-w", "7", "sluice"], capture_output=True, text=True, env=env)
        self.assertEqual(page.returncode, 0, page.stderr)


if __name__ == "__main__":
    unittest.main()
