"""Command line: ``python -m fastscore {demo,config} | --version``."""

import argparse
import sys
import time

from ._version import __version__


def demo(out=sys.stdout):
    """Estimate a few gradients whose exact values are known, and print them."""
    import numpy as np

    import fastscore as fs

    rows = []
    # d/dloc and d/dscale of E[x^2] under Normal(loc, scale): 2 loc and 2 scale.
    d = fs.Normal(loc=1.5, scale=0.5)
    n = 10 ** 7
    t0 = time.perf_counter()
    est = fs.estimate(d, fs.fn.power(2), n=n, rng=0, method="rloo")
    dt = time.perf_counter() - t0
    rows.append(("Normal(1.5, 0.5): d/dloc E[x^2]", est.grad["loc"], est.stderr["loc"], 3.0,
                 n / dt))
    rows.append(("Normal(1.5, 0.5): d/dscale E[x^2]", est.grad["scale"], est.stderr["scale"],
                 1.0, n / dt))
    # Policy gradient of a softmax over 4 arms with fixed rewards r:
    # d/dlogits E[r_x] = p * (r - p.r).
    logits = np.array([0.5, -0.2, 0.1, 0.0])
    r = np.array([1.0, 0.0, 2.0, 0.5])
    p = np.exp(logits) / np.exp(logits).sum()
    exact = p * (r - p @ r)
    t0 = time.perf_counter()
    est = fs.estimate(fs.Categorical(logits=logits), fs.fn.table(r), n=n, rng=1, method="rloo")
    dt = time.perf_counter() - t0
    rows.append(("Categorical bandit: d/dlogits[2] E[r]", est.grad["logits"][2],
                 est.stderr["logits"][2], exact[2], n / dt))
    print("%-40s %12s %10s %12s %7s %12s" % ("quantity", "estimate", "stderr", "exact", "z",
                                              "samples/s"), file=out)
    for name, g, se, ex, rate in rows:
        print("%-40s %12.6f %10.2e %12.6f %7.2f %12.3g" % (name, g, se, ex, (g - ex) / se, rate),
              file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastscore",
                                     description="fastscore command line")
    parser.add_argument("--version", action="version", version="fastscore %s" % __version__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help="estimate gradients with known exact values and print a table")
    sub.add_parser("config", help="print the build configuration (fastscore.show_config())")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo()
    elif args.command == "config":
        from ._config import show_config

        show_config()
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
