"""Black-box variational inference for a conjugate Poisson-Gamma model.
====================================================================

Model: z ~ Gamma(a0, b0), x_i ~ Poisson(z).  Family: q(z) = Gamma(alpha, beta).
The ELBO gradient E_q[(log p(x, z) - log q(z)) * score] is estimated by
fastscore (control-variate baseline) and followed with Adam on (log alpha,
log beta).  The exact posterior is Gamma(a0 + sum x, b0 + n), so q converges
to it.

    python examples/bbvi_poisson_gamma.py [--steps 2000] [--plot bbvi.png]
"""

import argparse

import numpy as np
from scipy import special, stats

import fastscore as fs


def make_problem(seed=0, n_obs=20, z_true=3.5, a0=2.0, b0=1.0):
    x = np.random.default_rng(seed).poisson(z_true, size=n_obs)
    return x, a0, b0


def fit(steps=2000, samples=4096, lr=0.1, seed=0):
    """Returns (history of (alpha, beta), exact posterior (alpha, beta))."""
    x, a0, b0 = make_problem(seed)
    S, N = x.sum(), x.size
    log_fact = special.gammaln(x + 1).sum()
    params = np.log([1.0, 1.0])  # log alpha, log beta
    m = np.zeros(2)
    v = np.zeros(2)
    history = []
    for t in range(1, steps + 1):
        alpha, beta = np.exp(params)

        def integrand(z, alpha=alpha, beta=beta):
            log_joint = ((S + a0 - 1) * np.log(z) - (N + b0) * z - log_fact
                         + a0 * np.log(b0) - special.gammaln(a0))
            return log_joint - stats.gamma.logpdf(z, alpha, scale=1.0 / beta)

        est = fs.estimate(fs.Gamma(alpha, beta), integrand, n=samples, rng=seed * 7919 + t,
                          method="cv")
        # Chain rule to the log parameters, then one Adam ascent step.
        g = np.array([est.grad["concentration"] * alpha, est.grad["rate"] * beta])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        params = params + lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        history.append(np.exp(params))
    return np.array(history), (a0 + S, b0 + N)


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--plot", default=None, help="write a PNG of q against the posterior")
    args = parser.parse_args(argv)
    history, (pa, pb) = fit(args.steps)
    alpha, beta = history[-1]
    print("q = Gamma(%.2f, %.2f): mean %.4f, sd %.4f; exact posterior Gamma(%g, %g): mean %.4f, "
          "sd %.4f" % (alpha, beta, alpha / beta, np.sqrt(alpha) / beta, pa, pb, pa / pb,
                       np.sqrt(pa) / pb))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
            ax1.plot(history[:, 0] / history[:, 1], label="mean of q")
            ax1.axhline(pa / pb, color="k", ls="--", label="posterior mean")
            ax1.set_xlabel("step")
            ax1.legend()
            z = np.linspace(0.5 * pa / pb, 1.5 * pa / pb, 300)
            ax2.plot(z, stats.gamma.pdf(z, alpha, scale=1 / beta), label="q (fitted)")
            ax2.plot(z, stats.gamma.pdf(z, pa, scale=1 / pb), "k--", label="exact posterior")
            ax2.set_xlabel("z")
            ax2.legend()
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return history, (pa, pb)


if __name__ == "__main__":
    main()
