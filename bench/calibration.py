"""Calibration table of every case x estimator x method x n (tests/calibration_cases.py).

    python bench/calibration.py [R] [n ...]

Prints per gradient component the variance across R rows over the mean
stderr^2 (1 is honest; +- its sampling sd), the z of the mean gradient
against the exact one, and the coverage of the 95% interval.
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import calibration_cases as cc  # noqa: E402


def main(argv):
    R = int(float(argv[1])) if len(argv) > 1 else 50000
    ns = [int(a) for a in argv[2:]] or [2, 3, 4, 8, 16, 64]
    print("%-28s %-16s %4s %-14s %14s %7s %6s" % ("case", "estimator", "n", "component",
                                                  "var/mean se^2", "z", "cover"))
    for case in cc.cases().values():
        for est, method, opts in case.runs:
            for n in ns:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = cc.measure(case, est, method, n, R, seed=1000 + n, **opts)
                for comp, (ratio, z, cover, rsd) in res.items():
                    flag = "" if 0.9 <= ratio <= 1.1 and (abs(z) < 4.5 or est in case.biased) \
                        else "  <--"
                    print("%-28s %-16s %4d %-14s %7.3f +-%.3f %7.2f %6.3f%s"
                          % (case.name, est + "/" + method, n, comp, ratio, rsd, z, cover, flag))
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
