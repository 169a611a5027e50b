"""The fuzzer over the public API (issue 24's "Done when"; tests/fuzzing.py).

A bounded, derandomized run (the same examples every time, about 8000 of
them, under a minute on the 2-core development machine): each example is a
clear error naming what was wrong, or a finite answer equal on the compiled
and reference backends; anything else fails the test with the examples.  It
runs in a subprocess from a neutral folder (a crash fails the test instead of
ending the session; from the repository's root, python would import the
uncompiled source tree), testing the same fastscore as the rest of the suite.
The counts show in the session's closing summary.  bench/fuzz.py runs a
longer profile.
"""

import json
import os
import subprocess
import sys
import tempfile

import conftest

EXAMPLES = 8000
#: Stop drawing new examples after this long (a slow, loaded machine still finishes).
SECONDS = 50


def run_fuzzer(examples, seconds=None, timeout=600):
    """(counts, output) of ``python tests/fuzzing.py`` in a subprocess."""
    env = dict(os.environ)
    if conftest.INPLACE:   # the source tree's in-place build, as the suite tests
        env["PYTHONPATH"] = os.pathsep.join([conftest.ROOT] + [p for p in env.get(
            "PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, os.path.join(conftest.TESTS, "fuzzing.py"),
           "--examples", str(examples)]
    if seconds is not None:
        cmd += ["--seconds", str(seconds)]
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    out = proc.stdout + proc.stderr
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert last, "the fuzzer ended without its counts (exit %s):\n%s" % (proc.returncode,
                                                                        out[-5000:])
    return json.loads(last[-1]), out


def test_fuzzer_finds_nothing_but_clear_errors_and_equal_finite_answers(pytestconfig):
    counts, out = run_fuzzer(EXAMPLES, SECONDS)
    if not hasattr(pytestconfig, "fastscore_summary"):
        pytestconfig.fastscore_summary = []
    pytestconfig.fastscore_summary.append(
        "fuzzer (tests/test_fuzz.py): tried %(tried)d, clear error %(clear_error)d, finite "
        "and equal %(finite_and_equal)d, anything else %(other)d (%(seconds)s s)" % counts)
    print(pytestconfig.fastscore_summary[-1])   # with -s, here too
    assert counts["other"] == 0, out[-20000:]
    assert counts["tried"] == counts["clear_error"] + counts["finite_and_equal"]
    assert counts["finite_and_equal"] > counts["tried"] // 10   # it reaches the estimators
