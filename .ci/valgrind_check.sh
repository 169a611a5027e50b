#!/usr/bin/env bash
# Run .ci/valgrind_driver.py under valgrind (memcheck) with the current
# python's installed fastscore, and fail on invalid reads/writes or uses of
# uninitialised memory whose stack passes through fastscore's kernels.
# Python's and numpy's own noise elsewhere is not judged here.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
command -v valgrind >/dev/null || { echo "valgrind not installed: skipping"; exit 0; }
cd /tmp  # away from a source tree, so the installed fastscore is imported
echo "fastscore under valgrind: $("$PY" -c 'import fastscore._kernels as k; print(k.__file__)')"
PYTHONMALLOC=malloc valgrind --tool=memcheck --error-limit=no --num-callers=30 \
    --log-file="$LOG" "$PY" "$HERE/valgrind_driver.py"
# One record = the lines from "==PID== <Kind>" to the next blank record line.
bad=$(awk '
    /^==[0-9]+== (Invalid read|Invalid write|Conditional jump|Use of uninitialised|Syscall param)/ {
        rec = $0; inrec = 1; next }
    inrec && /^==[0-9]+== *$/ { if (rec ~ /_kernels/) { print rec; print "" } inrec = 0; next }
    inrec { rec = rec "\n" $0 }
' "$LOG")
errors=$(grep -Eo "ERROR SUMMARY: [0-9]+" "$LOG" | tail -1 || true)
echo "valgrind: $errors (whole process, Python and numpy included)"
if [ -n "$bad" ]; then
    echo "memory errors in fastscore's kernels:"
    echo "$bad"
    exit 1
fi
echo "valgrind: no invalid reads/writes or uninitialised uses in fastscore's kernels"
