"""Score function, pathwise or measure-valued: which gradient has the lowest variance?
===================================================================================

Reproduces the Gaussian comparison of Mohamed, Rosca, Figurnov and Mnih,
"Monte Carlo Gradient Estimation in Machine Learning" (JMLR 2020): for
x ~ N(mu = 1, sigma = 1) and f = (x - k)^2, exp(-k x^2) and cos(k x), the
variance of one sample's gradient with respect to mu and sigma, for the
score function (plain), the score function with the optimal baseline
(method="cv"), the pathwise and the measure-valued estimators, against k.

Each variance is measured from fastscore's standard errors (variance =
n * stderr^2) and, beside it, computed exactly by numerical integration
(Gauss-Hermite and Gauss-Laguerre quadrature, for fastscore's couplings).

    python examples/estimators.py [--n 200000] [--plot estimators.png]
"""

import argparse
import math

import numpy as np

import fastscore as fs

MU, SIGMA = 1.0, 1.0
KS = (0.1, 0.5, 1.0, 1.5, 2.0, 3.0)
#: name -> (f, f') as functions of (x, k)
FUNCTIONS = {
    "(x-k)^2": (lambda x, k: (x - k) ** 2, lambda x, k: 2.0 * (x - k)),
    "exp(-k x^2)": (lambda x, k: np.exp(-k * x * x), lambda x, k: -2.0 * k * x * np.exp(-k * x * x)),
    "cos(k x)": (lambda x, k: np.cos(k * x), lambda x, k: -k * np.sin(k * x)),
}
#: column -> (estimator, method)
ESTIMATORS = {
    "score": ("score", "plain"),
    "score+baseline": ("score", "cv"),
    "pathwise": ("pathwise", "plain"),
    "measure": ("measure", "plain"),
}
PARAMS = ("loc", "scale")


def measured(fname, k, n, rng=0):
    """{(column, param): n * stderr^2} from one fastscore run per estimator."""
    f, fp = FUNCTIONS[fname]
    d = fs.Normal(MU, SIGMA)
    out = {}
    for col, (estimator, method) in ESTIMATORS.items():
        est = fs.estimate(d, lambda x: f(x, k), n, rng=rng, estimator=estimator, method=method,
                          grad_f=(lambda x: fp(x, k)) if estimator == "pathwise" else None)
        for p in PARAMS:
            out[col, p] = n * float(est.stderr[p]) ** 2
    return out


# -- exact variances ---------------------------------------------------------
_Z, _WZ = np.polynomial.hermite_e.hermegauss(160)       # E over z ~ N(0, 1)
_WZ = _WZ / math.sqrt(2.0 * math.pi)
_E, _WE = np.polynomial.laguerre.laggauss(120)          # E over e ~ Exp(1)


def _var(terms, weights):
    mean = np.sum(weights * terms)
    return float(np.sum(weights * terms * terms) - mean * mean)


def exact(fname, k):
    """{(column, param): the exact variance of one sample's gradient term}."""
    f, fp = FUNCTIONS[fname]
    x = MU + SIGMA * _Z
    fx = f(x, k)
    s = {"loc": (x - MU) / SIGMA ** 2, "scale": ((x - MU) ** 2 / SIGMA ** 2 - 1.0) / SIGMA}
    dx = {"loc": np.ones_like(x), "scale": _Z}
    out = {}
    for p in PARAMS:
        out["score", p] = _var(fx * s[p], _WZ)
        b = np.sum(_WZ * fx * s[p] ** 2) / np.sum(_WZ * s[p] ** 2)   # the optimal baseline
        out["score+baseline", p] = _var((fx - b) * s[p], _WZ)
        out["pathwise", p] = _var(fp(x, k) * dx[p], _WZ)
    # loc: c (f(mu + sigma W) - f(mu - sigma W)), W = sqrt(2 e) Rayleigh, c = 1 / (sigma sqrt(2 pi))
    w = np.sqrt(2.0 * _E)
    c = 1.0 / (SIGMA * math.sqrt(2.0 * math.pi))
    out["measure", "loc"] = _var(c * (f(MU + SIGMA * w, k) - f(MU - SIGMA * w, k)), _WE)
    # scale: (1 / sigma) (f(mu + sigma M) - f(mu + sigma z)), M = sign(z) sqrt(z^2 + 2 e)
    z, e = np.meshgrid(_Z, _E, indexing="ij")
    wts = np.outer(_WZ, _WE)
    M = np.copysign(np.sqrt(z * z + 2.0 * e), z)
    out["measure", "scale"] = _var((f(MU + SIGMA * M, k) - f(MU + SIGMA * z, k)) / SIGMA, wts)
    return out


def table(n=200_000, ks=KS):
    """{(function, k): (measured, exact)} over the grid."""
    return {(fname, k): (measured(fname, k, n), exact(fname, k))
            for fname in FUNCTIONS for k in ks}


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples per estimate")
    parser.add_argument("--plot", default=None, help="write the figure (PNG) here")
    args = parser.parse_args(argv)
    res = table(args.n)
    cols = list(ESTIMATORS)
    print("variance of one sample's gradient, x ~ N(%g, %g): measured (exact), n = %d"
          % (MU, SIGMA, args.n))
    for p in PARAMS:
        print("\nd/d%s" % p)
        print("%-12s %5s" % ("f", "k") + "".join("%24s" % c for c in cols))
        for (fname, k), (meas, ex) in res.items():
            print("%-12s %5.1f" % (fname, k) + "".join(
                "%24s" % ("%.4g (%.4g)" % (meas[c, p], ex[c, p])) for c in cols))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True)
            ks = sorted({k for _, k in res})
            for j, fname in enumerate(FUNCTIONS):
                for i, p in enumerate(PARAMS):
                    ax = axes[i, j]
                    for c in cols:
                        meas = [res[fname, k][0][c, p] for k in ks]
                        ex = [res[fname, k][1][c, p] for k in ks]
                        line, = ax.plot(ks, ex, label=c)
                        ax.plot(ks, meas, "o", color=line.get_color(), ms=4)
                    ax.set_yscale("log")
                    ax.set_title("%s, d/d%s" % (fname, "mu" if p == "loc" else "sigma"),
                                 fontsize=9)
                    if i == 1:
                        ax.set_xlabel("k")
            axes[0, 0].set_ylabel("variance (lines exact, dots measured)")
            axes[0, 0].legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return res


if __name__ == "__main__":
    main()
