"""Second-order Greeks of a European call with error bars, three estimators, vs Black-Scholes.
===========================================================================================

fs.greeks runs fs.estimate(..., order=2) on the log-normal terminal price
(loc = log S0 + (r - sigma^2 / 2) T, scale = sigma sqrt(T)) and chains the
value, the gradient and the Hessian in (loc, scale) per sample into delta,
gamma, vega, vanna, volga, theta and rho, so every Greek's standard error is
that of a mean of independent terms.  Three estimators on the same samples:

* score:   the likelihood ratio, f (s s^T + ds/dtheta) (any payoff);
* mixed:   the likelihood-ratio derivative of the pathwise gradient (needs f'
           only: the call's slope 1[S_T > K]), the practitioner's gamma of a
           kinked payoff;
* measure: weak second derivatives with coupled double-sided Maxwell and chi
           points (any payoff).

The pure pathwise Hessian needs f'', a point mass at the strike for a call:
fs.greeks refuses it there (it is shown on the smooth payoff S_T^2 instead).
The script prints each Greek against Black-Scholes with its z-score, and the
variance of one sample's term of each estimator (n stderr^2).

    python examples/greeks_second_order.py [--n 1000000] [--seed 2024] [--plot greeks2.png]
"""

import argparse

import numpy as np
from scipy import stats

import fastscore as fs

S0, K, R, SIGMA, T = 100.0, 100.0, 0.03, 0.2, 1.0
NAMES = ("price", "delta", "gamma", "vega", "vanna", "volga", "theta", "rho")
ESTIMATORS = ("score", "mixed", "measure")


def black_scholes():
    """The analytic Black-Scholes values of the call's Greeks (theta = -dV/dT)."""
    sq = np.sqrt(T)
    d1 = (np.log(S0 / K) + (R + 0.5 * SIGMA ** 2) * T) / (SIGMA * sq)
    d2 = d1 - SIGMA * sq
    phi = stats.norm.pdf(d1)
    disc = np.exp(-R * T)
    return {"price": S0 * stats.norm.cdf(d1) - K * disc * stats.norm.cdf(d2),
            "delta": stats.norm.cdf(d1), "gamma": phi / (S0 * SIGMA * sq),
            "vega": S0 * phi * sq, "vanna": -phi * d2 / SIGMA,
            "volga": S0 * phi * sq * d1 * d2 / SIGMA,
            "theta": -S0 * phi * SIGMA / (2 * sq) - R * K * disc * stats.norm.cdf(d2),
            "rho": K * T * disc * stats.norm.cdf(d2)}


def table(n=10 ** 6, seed=2024):
    """{estimator: fs.Greeks} for the call, every estimator on the same samples."""
    return {e: fs.greeks(fs.fn.call(K), S0, SIGMA, R, T, n=n, rng=seed, estimator=e)
            for e in ESTIMATORS}


def variances(res):
    """{estimator: {Greek: the variance of one sample's term}} (n stderr^2)."""
    return {e: {k: g.n * g.stderr[k] ** 2 for k in NAMES} for e, g in res.items()}


def smooth_pathwise(n=10 ** 6, seed=2024):
    """The pure pathwise Greeks of the smooth payoff S_T^2 (V = S0^2 exp((r + sigma^2) T)),
    with their exact values: {Greek: (value, stderr, exact)} for gamma, vanna, volga."""
    g = fs.greeks(fs.fn.power(2), S0, SIGMA, R, T, n=n, rng=seed, estimator="pathwise")
    growth = np.exp((R + SIGMA ** 2) * T)
    exact = {"gamma": 2.0 * growth, "vanna": 4.0 * S0 * SIGMA * T * growth,
             "volga": S0 ** 2 * growth * (2.0 * T + 4.0 * SIGMA ** 2 * T * T)}
    return {k: (getattr(g, k), g.stderr[k], v) for k, v in exact.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--n", type=int, default=10 ** 6)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    bs = black_scholes()
    res = table(args.n, args.seed)
    var = variances(res)
    print("European call: S0 %g, K %g, r %g, sigma %g, T %g; n = %d samples, seed %d"
          % (S0, K, R, SIGMA, T, args.n, args.seed))
    print("%-6s %11s" % ("", "BS") + "".join("%28s %6s" % (e, "z") for e in ESTIMATORS))
    for k in NAMES:
        row = "%-6s %11.5f" % (k, bs[k])
        for e in ESTIMATORS:
            v, se = getattr(res[e], k), res[e].stderr[k]
            row += "%14.5f +- %9.2e %6.2f" % (v, se, (v - bs[k]) / se)
        print(row)
    print("\nvariance of one sample's term (n stderr^2):")
    print("%-6s" % "" + "".join("%14s" % e for e in ESTIMATORS))
    for k in ("gamma", "vanna", "volga"):
        print("%-6s" % k + "".join("%14.3g" % var[e][k] for e in ESTIMATORS))
    print("pathwise: not defined for the call (f'' is a point mass at the strike)")
    pw = smooth_pathwise(args.n, args.seed)
    print("\npure pathwise on the smooth payoff S_T^2:")
    for k, (v, se, ex) in pw.items():
        print("%-6s %14.5f +- %9.2e   exact %14.5f   z %6.2f" % (k, v, se, ex, (v - ex) / se))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
            for ax, k in zip(axes, ("gamma", "vanna", "volga")):
                vals = [getattr(res[e], k) for e in ESTIMATORS]
                errs = [2 * res[e].stderr[k] for e in ESTIMATORS]
                ax.errorbar(range(3), vals, yerr=errs, fmt="o", capsize=4)
                ax.axhline(bs[k], color="k", lw=1, label="Black-Scholes")
                ax.set_xticks(range(3), ESTIMATORS)
                ax.set_title("%s +- 2 se" % k)
                ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return res, var


if __name__ == "__main__":
    main()
