"""cmake --install puts every binary in bin/ and every man page in share/man/man1 and man7."""

import glob
import os
import shutil
import subprocess
import tempfile
import unittest

from sluice_cli import SOURCE


class Install(unittest.TestCase):
    def test_install_to_a_user_prefix(self):
        build = os.environ.get("SLUICE_BUILD")
        if not build:
            self.skipTest("SLUICE_BUILD is not set (run through CTest)")
        prefix = tempfile.mkdtemp(prefix="sluice-install-")
        try:
            subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True,
                           capture_output=True)
            tools = sorted(os.path.basename(os.path.dirname(path))
                           for path in glob.glob(os.path.join(SOURCE, "tools", "*", "main.cpp")))
            self.assertIn("idemkey", tools)
            for tool in tools:
                binary = os.path.join(prefix, "bin", tool)
                self.assertTrue(os.access(binary, os.X_OK), binary)
                self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "man", "man1", f"{tool}.1")))
                version = subprocess.run([binary, "--version"], capture_output=True, text=True)
                self.assertEqual(version.returncode, 0)
                self.assertTrue(version.stdout.startswith(f"{tool} "))
            self.assertTrue(os.path.isfile(os.path.join(prefix, "share", "man", "man7", "sluice.7")))
        finally:
            shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
