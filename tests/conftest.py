"""Test set-up: choose which fastscore the tests import, and shared helpers.

Which fastscore runs
--------------------
``python -m pytest`` run from the repository root puts the root on sys.path
(as '' or its absolute path), so ``import fastscore`` would find the source
tree, which may hold a stale in-place build or none.  The tests run against
the installed package unless asked otherwise, so before anything imports
fastscore:

* unset or ``FASTSCORE_TEST_INPLACE=0``: drop the source tree from sys.path
  and test the installed package (even if an in-place build exists);
* ``FASTSCORE_TEST_INPLACE=1``: test the source tree's in-place build
  (``python setup.py build_ext --inplace``; without one the session stops
  with a clear error).

:data:`SOURCE_TREE_DROPPED` records the decision (test_install.py checks that
fastscore really came from where it says).

Helpers (fixtures)
------------------
``assert_close``  compare arrays / scalars / dicts of arrays to rtol (+ atol)
``assert_estimates_close``  compare every number of two Estimates (compiled vs reference)
``c_cos_llc``     a GIL-free ``double (double)`` LowLevelCallable (libm cos)
"""

import ctypes
import ctypes.util
import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
SOURCE_PKG = os.path.join(ROOT, "fastscore")
_ENV = os.environ.get("FASTSCORE_TEST_INPLACE", "")
INPLACE = _ENV not in ("", "0")


def _inplace_build_exists():
    return bool(glob.glob(os.path.join(SOURCE_PKG, "_kernels*.so"))
                or glob.glob(os.path.join(SOURCE_PKG, "_kernels*.pyd")))


def _is_root(entry):
    # '' and '.' mean the current directory; compare real paths.
    return os.path.realpath(entry or os.curdir) == os.path.realpath(ROOT)


if INPLACE:
    if not _inplace_build_exists():
        raise RuntimeError("FASTSCORE_TEST_INPLACE=1 but %s holds no compiled _kernels "
                           "extension: run `python setup.py build_ext --inplace` first"
                           % SOURCE_PKG)
    SOURCE_TREE_DROPPED = False
    if not any(_is_root(p) for p in sys.path):
        sys.path.insert(0, ROOT)
else:
    SOURCE_TREE_DROPPED = True
    sys.path[:] = [p for p in sys.path if not _is_root(p)]
    mod = sys.modules.get("fastscore")
    if mod is not None and os.path.realpath(getattr(mod, "__file__", "") or "").startswith(
            os.path.realpath(SOURCE_PKG) + os.sep):
        raise RuntimeError("fastscore was imported from the source tree before "
                           "tests/conftest.py ran; run pytest without plugins that "
                           "import it, or set FASTSCORE_TEST_INPLACE=1")
    import importlib.util

    if importlib.util.find_spec("fastscore") is None:
        raise pytest.UsageError("fastscore is not installed: `python -m pip install .` (the "
                                "tests run against the installed package), or build in "
                                "place and set FASTSCORE_TEST_INPLACE=1")

# Shared case modules of other test files (tests/cases.py) import as plain modules.
if TESTS not in sys.path:
    sys.path.append(TESTS)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _close(actual, expected, rtol, atol, what):
    import numpy as np

    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, "%s: shape %s != expected %s" % (what, a.shape, e.shape)
    both_nan = np.isnan(a) & np.isnan(e)
    atol_arr = np.broadcast_to(np.asarray(atol, dtype=np.float64), e.shape)
    with np.errstate(invalid="ignore"):
        ok = both_nan | (a == e) | (np.abs(a - e) <= atol_arr + rtol * np.abs(e))
    if not np.all(ok):
        bad = np.argwhere(~ok)[:5]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(a - e) / np.abs(e)
        details = "; ".join("at %s: %r vs %r (rel %.3g)" % (tuple(int(i) for i in idx),
                                                              float(a[tuple(idx)]),
                                                              float(e[tuple(idx)]),
                                                              float(rel[tuple(idx)]))
                            for idx in bad)
        raise AssertionError("%s: %d of %d values differ beyond rtol=%g, atol=%s: %s"
                             % (what, int((~ok).sum()), ok.size, rtol, atol, details))


def assert_close(actual, expected, rtol=1e-10, atol=0.0, what="value"):
    """Assert ``actual`` equals ``expected`` to ``rtol`` (plus ``atol``).

    Works on scalars, arrays and dicts of arrays (same keys required; ``atol``
    may then be a dict too).  NaN equals NaN; shapes must match exactly.
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), "%s: expected a dict, got %r" % (what, type(actual))
        assert list(actual) == list(expected), "%s: keys %s != %s" % (
            what, list(actual), list(expected))
        for k in expected:
            at = atol[k] if isinstance(atol, dict) else atol
            _close(actual[k], expected[k], rtol, at, "%s[%r]" % (what, k))
        return
    _close(actual, expected, rtol, atol, what)


@pytest.fixture(name="assert_close")
def assert_close_fixture():
    """The :func:`assert_close` helper as a fixture."""
    return assert_close


def assert_estimates_close(got, want, rtol=1e-10, what=""):
    """Every number of two Estimates to ``rtol``; atol = rtol * the reference's stderr.

    A squared standard error is a difference of moments, known to rtol times
    the mean square of the per-sample terms over n: mean^2 / n + stderr^2, so
    squared standard errors are compared with that absolute tolerance.  (When
    the terms are nearly constant, cancellation leaves the stderr itself less
    precise.)
    """
    import numpy as np

    n = want.n
    se_v = np.abs(np.asarray(want.value_stderr))
    assert_close(got.value, want.value, rtol, rtol * se_v, what + " value")
    assert_close(np.square(got.value_stderr), np.square(want.value_stderr), rtol,
                 rtol * (np.square(want.value) / n + se_v ** 2), what + " value_stderr^2")
    assert list(got.grad) == list(want.grad)
    for k in want.grad:
        se = np.abs(want.stderr[k])
        assert_close(got.grad[k], want.grad[k], rtol, rtol * se, "%s grad[%r]" % (what, k))
        assert_close(np.square(got.stderr[k]), np.square(want.stderr[k]), rtol,
                     rtol * (np.square(want.grad[k]) / n + se ** 2),
                     "%s stderr[%r]^2" % (what, k))
    assert got.n == want.n and got.method == want.method


@pytest.fixture(name="assert_estimates_close")
def assert_estimates_close_fixture():
    """The :func:`assert_estimates_close` helper as a fixture."""
    return assert_estimates_close


def c_cos_function():
    """A real C ``double cos(double)`` (libm / the C runtime), as a ctypes function."""
    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    candidates = []
    if sys.platform == "win32":
        candidates = [lambda: ctypes.cdll.ucrtbase, lambda: ctypes.cdll.msvcrt]
    else:
        candidates = [lambda: ctypes.CDLL(None),
                      lambda: ctypes.CDLL(ctypes.util.find_library("m"))]
    for get in candidates:
        try:
            return ctypes.cast(get().cos, proto)
        except (OSError, AttributeError, TypeError):
            continue
    return None


@pytest.fixture
def c_cos_llc():
    """scipy.LowLevelCallable of the C library's cos (GIL-free, thread-safe)."""
    from scipy import LowLevelCallable

    fn = c_cos_function()
    if fn is None:  # pragma: no cover - every platform we build on has one
        pytest.skip("no C cos function found through ctypes")
    return LowLevelCallable(fn)


def pytest_terminal_summary(terminalreporter):
    """Lines the tests ask to show in the session's closing summary, whatever -s says
    (the fuzzer's counts, tests/test_fuzz.py: ``pytestconfig.fastscore_summary``)."""
    lines = getattr(terminalreporter.config, "fastscore_summary", [])
    if lines:
        terminalreporter.section("fastscore summary")
        for line in lines:
            terminalreporter.write_line(line)
