"""mypy in strict mode over the phonebridge package (its modules and the
extension's stub), and examples/python/, with bindings/python/mypy.ini.
Skipped when mypy (Debian package mypy) is not installed."""

import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

from pbtest import SOURCE_ROOT

PY_DIR = os.path.join(SOURCE_ROOT, "bindings", "python")


@unittest.skipUnless(importlib.util.find_spec("mypy"), "mypy is not installed (Debian package mypy)")
class TestTyping(unittest.TestCase):
    def test_mypy_strict(self):
        # the sources, not the copy in the build tree, so errors name the real files
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
        with tempfile.TemporaryDirectory() as cache:
            r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini",
                                "--cache-dir", cache, "--no-error-summary", "phonebridge",
                                os.path.join(SOURCE_ROOT, "examples", "python")],
                               cwd=PY_DIR, env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, "mypy --strict found:\n" + r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
