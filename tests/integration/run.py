"""Integration test runner.

usage: run.py INSID INSIDBCTL [MODULE ...] [-k SUBSTRING]

MODULE is one of the test_*.py files here without prefix and suffix
(values, http, process); none means all.  Each test class starts its own
node in setUpClass and stops it in tearDownClass.  Prints one line per
test and a final `N passed, N failed, N skipped`; exits 1 on any failure.
Environment: INSIDB_TIME_SCALE multiplies deadlines, INSIDB_KEEP=1 keeps
the temp dirs.
"""

import importlib
import os
import signal
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import harness  # noqa: E402

MODULES = ("values", "http", "access", "process", "cluster", "cluster_ops",
           "keys", "malformed", "cache", "metrics", "events", "events_slots",
           "blobs", "blobs_cluster")
TEST_TIMEOUT = 180


class TestTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise TestTimeout("test took longer than %ds" % harness.scaled(TEST_TIMEOUT))


def on_terminate(signum, frame):
    # stopped from outside (meson timeout, ^C): leave nothing running
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("\ninterrupted by signal %d: killing every process started" % signum,
          flush=True)
    harness.emergency_stop()
    os._exit(1)


def classes_of(module):
    out = []
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase) \
                and obj.__module__ == module.__name__ and obj.__name__[0] != "_":
            out.append(obj)
    return out


def test_names(cls):
    names = []
    for klass in reversed(cls.__mro__):
        for name in vars(klass):
            if name.startswith("test_") and name not in names:
                names.append(name)
    # a subclass drops an inherited test by setting it to None
    return [n for n in names if callable(getattr(cls, n, None))]


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def report(self, name, outcome, detail="", secs=0.0):
        print("%-6s %s (%.1fs)%s" % (outcome, name, secs,
                                      (": " + detail) if outcome == "skip" else ""),
              flush=True)
        if outcome == "ok":
            self.passed += 1
        elif outcome == "skip":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append((name, detail))
            print(detail, flush=True)


def run_call(fn):
    """(outcome, detail) of calling fn under the per-test alarm"""
    signal.alarm(int(harness.scaled(TEST_TIMEOUT)))
    try:
        fn()
        return "ok", ""
    except unittest.SkipTest as e:
        return "skip", str(e)
    except AssertionError:
        return "FAIL", traceback.format_exc()
    except BaseException:  # noqa: BLE001 - any error fails the test
        return "ERROR", traceback.format_exc()
    finally:
        signal.alarm(0)


def run_class(cls, tally, pattern):
    names = [n for n in test_names(cls)
             if pattern is None or pattern in "%s.%s" % (cls.__name__, n)]
    if not names:
        return
    print("== %s" % cls.__name__, flush=True)
    outcome, detail = run_call(cls.setUpClass)
    if outcome != "ok":
        for n in names:
            tally.report("%s.%s" % (cls.__name__, n),
                         outcome if outcome == "skip" else "FAIL",
                         "setUpClass: " + detail)
    else:
        for n in names:
            t0 = time.monotonic()
            inst = cls(n)

            def one():
                inst.setUp()
                try:
                    getattr(inst, n)()
                finally:
                    inst.tearDown()
            o, d = run_call(one)
            tally.report("%s.%s" % (cls.__name__, n), o, d, time.monotonic() - t0)
    o, d = run_call(cls.tearDownClass)
    if o not in ("ok", "skip"):
        tally.report("%s.tearDownClass" % cls.__name__, "FAIL", d)
    if harness.SANITIZER_REPORTS:
        tally.report("%s.sanitizers" % cls.__name__, "FAIL",
                     "\n".join(harness.SANITIZER_REPORTS))
        del harness.SANITIZER_REPORTS[:]


def main(argv):
    args = argv[1:]
    pattern = None
    if "-k" in args:
        i = args.index("-k")
        pattern = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    harness.INSID = os.path.abspath(args[0])
    harness.INSIDBCTL = os.path.abspath(args[1])
    mods = args[2:] or list(MODULES)
    for m in mods:
        if m not in MODULES:
            print("unknown module %r" % m, file=sys.stderr)
            return 2
    # the spec's own vector: the harness derives root keys the same way
    assert harness.root_key("insidb-example-secret") == (
        "OTFkMGVjYThhMDVmOWU4ODU4NzRhOWE2ODZlOWEwZDFkYTMyMjcxNjM4ZGU3NDMyM2FjY2E5Zm"
        "Y3M2NhYWI5Yw==")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGINT, on_terminate)
    tally = Tally()
    for m in mods:
        module = importlib.import_module("test_" + m)
        for cls in classes_of(module):
            run_class(cls, tally, pattern)
    if tally.failures:
        print("\nfailed:", flush=True)
        for name, _ in tally.failures:
            print("  " + name)
    line = "%d passed, %d failed, %d skipped" % (tally.passed, tally.failed,
                                                 tally.skipped)
    print(line, flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
