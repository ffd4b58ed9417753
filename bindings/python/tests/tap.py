"""Run the package's unittest tests and print TAP, so meson and
tools/test-summary count every case (the unittest report follows on stderr).

usage: python3 tap.py TEST_DIR
"""

import sys
import unittest


class TapResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n = 0

    def _tap(self, ok, test, note=""):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {test.id()}{note}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._tap(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._tap(False, test)

    def addError(self, test, err):
        super().addError(test, err)
        self._tap(False, test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._tap(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._tap(True, test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._tap(False, test)


def main():
    suite = unittest.defaultTestLoader.discover(sys.argv[1], pattern="test_*.py")
    print(f"1..{suite.countTestCases()}", flush=True)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=1, resultclass=TapResult)
    result = runner.run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
