"""MultivariateNormal estimate cost against the event size D (issue 24, item 4).

Times fs.estimate(MultivariateNormal(zeros(D), scale_tril=eye(D)), fs.fn.linear(1.0), n)
for D from 2 to 2048 on one thread and prints the cost per gradient component
(D + D (D + 1) / 2 of them) and sample: a flat line means no cliff.

    python bench/mvn_sweep.py [--max-d 2048] [--budget 2e8] [--repeat 3]
"""

import argparse
import time

import numpy as np

import fastscore as fs


def sizes(max_d):
    d, out = 2, []
    while d <= max_d:
        out.append(d)
        if d >= 16:   # the neighbourhood of powers of two, where cliffs hide
            out.extend(x for x in (d + d // 4, d + d // 2, d + 3 * d // 4) if x <= max_d)
        d *= 2
    return sorted(set(out) | {x for x in (176, 192) if x <= max_d})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-d", type=int, default=2048)
    ap.add_argument("--budget", type=float, default=2e8, help="components x samples per run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("%6s %8s %10s %10s %12s" % ("D", "n", "P", "seconds", "ns/(comp*n)"))
    for d in sizes(args.max_d):
        P = d + d * (d + 1) // 2
        n = max(4, int(args.budget / P))
        dist = fs.MultivariateNormal(np.zeros(d), scale_tril=np.eye(d))
        f = fs.fn.linear(1.0)
        best = np.inf
        for _ in range(args.repeat):
            t = time.perf_counter()
            fs.estimate(dist, f, n, rng=0, n_threads=1)
            best = min(best, time.perf_counter() - t)
        print("%6d %8d %10d %10.4f %12.2f" % (d, n, P, best, best / (n * P) * 1e9), flush=True)


if __name__ == "__main__":
    main()
