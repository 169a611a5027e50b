"""Likelihood-ratio delta and vega of European calls, with error bars, vs Black-Scholes.
=====================================================================================

The terminal price is log-normal: log S_T ~ Normal(log S0 + (r - sigma^2/2) T,
sigma sqrt(T)).  fastscore gives d/dloc and d/dscale of E[(S_T - K)^+]; the
chain rule turns them into delta and vega.  Vega's two terms come from the
same run, whose covariance (cov=True) gives vega's standard error through
Estimate.stderr_of.

    python examples/greeks.py [--n 1000000] [--plot greeks.png]
"""

import argparse

import numpy as np
from scipy import stats

import fastscore as fs

S0, R, SIGMA, T = 100.0, 0.03, 0.2, 1.0


def black_scholes(K):
    d1 = (np.log(S0 / K) + (R + 0.5 * SIGMA ** 2) * T) / (SIGMA * np.sqrt(T))
    return stats.norm.cdf(d1), S0 * stats.norm.pdf(d1) * np.sqrt(T)


def greeks(strikes, n=10 ** 6):
    """(delta, delta_se, vega, vega_se) arrays over the strikes."""
    d = fs.LogNormal(np.log(S0) + (R - 0.5 * SIGMA ** 2) * T, SIGMA * np.sqrt(T))
    disc = np.exp(-R * T)
    out = []
    for i, K in enumerate(strikes):
        e = fs.estimate(d, fs.fn.call(K), n=n, rng=i, method="cv", cov=True)
        w = {"loc": -SIGMA * T, "scale": np.sqrt(T)}   # d loc / d sigma, d scale / d sigma
        out.append((disc * e.grad["loc"] / S0, disc * e.stderr["loc"] / S0,
                    disc * (w["loc"] * e.grad["loc"] + w["scale"] * e.grad["scale"]),
                    disc * e.stderr_of(w)))
    return tuple(np.array(col, dtype=float) for col in zip(*out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--n", type=int, default=10 ** 6)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)
    strikes = np.linspace(80, 130, 11)
    delta, dse, vega, vse = greeks(strikes, args.n)
    bs_delta, bs_vega = black_scholes(strikes)
    print("%8s %20s %10s %22s %10s" % ("strike", "delta", "BS", "vega", "BS"))
    for row in zip(strikes, delta, dse, bs_delta, vega, vse, bs_vega):
        print("%8.1f %10.5f +- %.1e %10.5f %12.4f +- %.1e %10.4f" % row)
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
            ax1.errorbar(strikes, delta, yerr=2 * dse, fmt="o", label="fastscore +- 2 se")
            ax1.plot(strikes, bs_delta, "k-", label="Black-Scholes")
            ax1.set_title("delta")
            ax2.errorbar(strikes, vega, yerr=2 * vse, fmt="o", label="fastscore +- 2 se")
            ax2.plot(strikes, bs_vega, "k-", label="Black-Scholes")
            ax2.set_title("vega")
            for ax in (ax1, ax2):
                ax.set_xlabel("strike")
                ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return strikes, delta, dse, vega, vse


if __name__ == "__main__":
    main()
