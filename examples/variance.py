"""How much each estimator helps: standard errors of plain, baseline, rloo and cv.
===============================================================================

For a few families and functions f, prints (and plots) the standard error of
the gradient for each method at the same n, relative to plain.  The baseline
method uses E[f] computed from a separate pilot run.

    python examples/variance.py [--n 200000] [--plot variance.png]
"""

import argparse

import numpy as np

import fastscore as fs

CASES = [
    ("Normal(1, 2), x^2", fs.Normal(1.0, 2.0), fs.fn.power(2), "loc"),
    ("Poisson(3), x^2", fs.Poisson(3.0), fs.fn.power(2), "rate"),
    ("Gamma(2, 1), x + 10", fs.Gamma(2.0, 1.0), fs.fn.linear(1.0, 10.0), "concentration"),
    ("Beta(2, 3), 1{x > .5}", fs.Beta(2.0, 3.0), fs.fn.indicator(0.5, 1.0), "concentration1"),
    ("LogNormal(0, .2), call(1)", fs.LogNormal(0.0, 0.2), fs.fn.call(1.0), "scale"),
]
METHODS = ("plain", "baseline", "rloo", "cv")


def table(n=200_000):
    """{case: {method: stderr of the gradient w.r.t. the case's parameter}}."""
    out = {}
    for name, d, f, param in CASES:
        pilot = float(fs.estimate(d, f, n=n // 10, rng=99).value)
        row = {}
        for m in METHODS:
            kw = {"baseline": pilot} if m == "baseline" else {}
            est = fs.estimate(d, f, n=n, rng=0, method=m, **kw)
            row[m] = float(est.stderr[param])
        out[name] = row
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    res = table(args.n)
    print("%-28s" % "case" + "".join("%12s" % m for m in METHODS) + "   (stderr / plain)")
    for name, row in res.items():
        print("%-28s" % name + "".join("%12.3f" % (row[m] / row["plain"]) for m in METHODS))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, ax = plt.subplots(figsize=(8, 3.5))
            width = 0.2
            xs = np.arange(len(res))
            for k, m in enumerate(METHODS):
                ax.bar(xs + (k - 1.5) * width, [row[m] / row["plain"] for row in res.values()],
                       width, label=m)
            ax.set_xticks(xs)
            ax.set_xticklabels(list(res), rotation=15, fontsize=8)
            ax.set_ylabel("stderr relative to plain")
            ax.set_yscale("log")
            ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return res


if __name__ == "__main__":
    main()
