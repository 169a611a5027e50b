"""pytest-benchmark suite set-up: the suite's helper modules import by name.

pytest runs with --import-mode=importlib (pyproject.toml), which does not put
test folders on sys.path, so this folder is added here for ``workloads``.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
