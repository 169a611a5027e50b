"""Test set-up: make sure the tests exercise the installed, compiled fastscore.

Run from the repository root (``python -m pytest``), the root is on sys.path
and ``import fastscore`` would find the source tree, which holds no compiled
extension unless it was built in place.  Unless FASTSCORE_TEST_INPLACE=1 asks
for the in-place build, the root is taken off sys.path before fastscore is
imported, so the installed package is what runs.
"""

import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPLACE = os.environ.get("FASTSCORE_TEST_INPLACE", "") not in ("", "0")

if not INPLACE:
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p or os.curdir) != ROOT]
    if "fastscore" in sys.modules and os.path.abspath(
            sys.modules["fastscore"].__file__).startswith(os.path.join(ROOT, "fastscore")):
        raise RuntimeError("fastscore was imported from the source tree before conftest.py ran")
elif not glob.glob(os.path.join(ROOT, "fastscore", "_kernels*.so")) and not glob.glob(
        os.path.join(ROOT, "fastscore", "_kernels*.pyd")):
    raise RuntimeError("FASTSCORE_TEST_INPLACE=1 but no in-place build: run "
                       "`python setup.py build_ext --inplace` first")
elif ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Shared test helpers (tests/cases.py) import as plain modules.
TESTS = os.path.join(ROOT, "tests")
if TESTS not in sys.path:
    sys.path.append(TESTS)
