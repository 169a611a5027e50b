"""The bias of stopping when a precision target is met (README: What each standard error means).

    python bench/precision_target.py [runs]

Runs fs.estimate with rtol on one Normal(1, 2), f = x^2 (d/dloc = 2, d/dscale = 4)
from many seeds, with rtol set so that about half the runs stop after the
first wave and half after the second, and reports per gradient component the
mean of z = (grad - exact) / stderr, its sd, the 95% coverage, and the mean
relative error over the mean rtol target.  Stopping on a small stderr selects
runs whose stderr is small; with waves of >= 16384 samples the stderr's own
relative noise is ~1%, so the selection moves z by little.
"""

import sys

import numpy as np

import fastscore as fs


def main(argv):
    runs = int(argv[1]) if len(argv) > 1 else 400
    d = fs.Normal(1.0, 2.0)
    exact = {"loc": 2.0, "scale": 4.0}
    for method in ("plain", "rloo", "cv"):
        probe = fs.estimate(d, fs.fn.power(2), fs.CHUNK_SIZE, rng=0, method=method)
        # the median stderr / |grad| of the first wave: half the runs stop there
        rt = max(float(probe.stderr[k] / abs(exact[k])) for k in exact)
        z = {k: [] for k in exact}
        ns = []
        for seed in range(runs):
            est = fs.estimate(d, fs.fn.power(2), fs.CHUNK_SIZE, rng=seed, method=method,
                              rtol=rt)
            ns.append(est.n)
            for k in exact:
                z[k].append((est.grad[k] - exact[k]) / est.stderr[k])
        for k in exact:
            zk = np.array(z[k])
            print("%-6s %-6s n: %s  mean z %+.3f (+-%.3f)  sd z %.3f  cover %.3f"
                  % (method, k, "/".join("%d" % v for v in sorted(set(ns))), zk.mean(),
                     zk.std() / np.sqrt(runs), zk.std(), np.mean(np.abs(zk) < 1.96)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
