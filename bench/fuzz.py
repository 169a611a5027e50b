"""The fuzzer's longer profile: ``python bench/fuzz.py --examples 100000``.

Runs tests/fuzzing.py (hypothesis, derandomized: the same examples for the same
count) over the public API and prints the counts: tried, clear error, finite
and equal across backends, anything else (each of those printed in full).
Run it from outside the repository's root, or with the package installed or
built in place (``python setup.py build_ext --inplace`` and PYTHONPATH set to
the root): the source tree has no compiled kernels.
tests/test_fuzz.py runs the bounded profile (8000 examples) in the suite.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import fuzzing  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--examples" not in argv:
        argv = ["--examples", "100000"] + argv
    sys.exit(fuzzing.main(argv))
