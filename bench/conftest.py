"""pytest-benchmark suite set-up: which fastscore runs, and the helper modules.

As in tests/conftest.py: ``python -m pytest`` from the repository root puts
the root on sys.path, where ``import fastscore`` would find the source tree
(with a stale in-place build, or none).  The benchmarks time the installed
package unless ``FASTSCORE_TEST_INPLACE=1`` asks for the in-place build.

pytest runs with --import-mode=importlib (pyproject.toml), which does not put
test folders on sys.path, so this folder is added here for ``workloads``.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if os.environ.get("FASTSCORE_TEST_INPLACE", "") in ("", "0"):
    sys.path[:] = [p for p in sys.path
                   if os.path.realpath(p or os.curdir) != os.path.realpath(ROOT)]
if HERE not in sys.path:
    sys.path.insert(0, HERE)
