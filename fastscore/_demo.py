"""``fastscore demo``: three real problems with known answers.

1. REINFORCE: the policy gradient of a 10-armed bandit's softmax policy.
2. Variational inference: the score gradient of the ELBO
   E_q[log p(x, z) - log q(z)] of a Poisson-Gamma model with a Gamma q.
3. Finance: likelihood-ratio delta and vega of a European call under a
   log-normal terminal price, against Black-Scholes.

Each block opens with one line of context (what is estimated, from how many
samples, on how many threads, in what time); each row prints the estimate +-
its standard error, the exact value, the z-score and the samples drawn per
second.
"""

import sys
import time

import numpy as np
from scipy import special, stats

import fastscore as fs
from ._threads import effective_n_threads


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _context(what, n, seconds, runs=1):
    """One line saying what a block estimates, from how many samples, threads and time."""
    mantissa, exponent = ("%.0e" % n).split("e")
    size = "%se%d" % (mantissa, int(exponent))  # 1e7, 2e6
    return "%s: n = %s%s, %d threads, %.0f ms" % (
        what, "%d x " % runs if runs > 1 else "", size, effective_n_threads(), 1e3 * seconds)


def bandit_rows(n=10 ** 7):
    """Policy gradient of E[r_A], A ~ softmax(logits), for 10 arms."""
    logits = np.linspace(-1.0, 1.0, 10)
    rewards = np.array([0.2, 0.5, 0.1, 0.9, 0.3, 0.7, 0.4, 0.6, 0.8, 0.0])
    p = special.softmax(logits)
    exact = p * (rewards - p @ rewards)  # d/dlogits E[r] = p (r - p.r)
    est, dt = _timed(lambda: fs.estimate(fs.Categorical(logits=logits), fs.fn.table(rewards),
                                         n=n, rng=1, method="rloo"))
    rows = []
    for k in (3, 9):
        rows.append(("bandit: d/dlogit[%d] E[reward]" % k, est.grad["logits"][k],
                     est.stderr["logits"][k], exact[k], n / dt))
    what = "REINFORCE, 10-armed bandit, softmax policy, d/dlogits E[reward] (rloo)"
    return _context(what, n, dt), rows


def vi_rows(n=2 * 10 ** 6):
    """Score gradient of the ELBO of z ~ Gamma(a0, b0), x_i ~ Poisson(z), q = Gamma(alpha, beta)."""
    x = np.array([3, 5, 2, 4, 6, 3, 4, 5])
    a0, b0 = 2.0, 1.0
    S, N = x.sum(), x.size
    alpha, beta = 20.0, 6.0
    log_fact = special.gammaln(x + 1).sum()

    def elbo_integrand(z):
        # log p(x, z) - log q(z) at the current q (f depends on q, but its own
        # gradient has expectation zero, so E[f * score] is the ELBO gradient).
        log_joint = ((S + a0 - 1) * np.log(z) - (N + b0) * z - log_fact
                     + a0 * np.log(b0) - special.gammaln(a0))
        log_q = stats.gamma.logpdf(z, alpha, scale=1.0 / beta)
        return log_joint - log_q

    # Closed form: d/dalpha = (S + a0 - alpha) trigamma(alpha) - (N + b0)/beta + 1,
    #              d/dbeta  = -(S + a0)/beta + (N + b0) alpha / beta^2.
    exact_a = (S + a0 - alpha) * special.polygamma(1, alpha) - (N + b0) / beta + 1.0
    exact_b = -(S + a0) / beta + (N + b0) * alpha / beta ** 2
    est, dt = _timed(lambda: fs.estimate(fs.Gamma(alpha, beta), elbo_integrand, n=n, rng=0,
                                         method="cv"))
    rows = [("VI Poisson-Gamma: d/dalpha ELBO", est.grad["concentration"],
             est.stderr["concentration"], exact_a, n / dt),
            ("VI Poisson-Gamma: d/dbeta ELBO", est.grad["rate"], est.stderr["rate"], exact_b,
             n / dt)]
    what = "VI, Poisson-Gamma model, q = Gamma(alpha, beta), ELBO gradient, Python f (cv)"
    return _context(what, n, dt), rows


def finance_rows(n=10 ** 7):
    """Likelihood-ratio delta and vega of a European call, S_T log-normal."""
    S0, K, r, sigma, T = 100.0, 105.0, 0.03, 0.2, 1.0
    loc = np.log(S0) + (r - 0.5 * sigma ** 2) * T
    scale = sigma * np.sqrt(T)
    disc = np.exp(-r * T)
    d1 = (np.log(S0 / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * np.sqrt(T))
    bs_delta = stats.norm.cdf(d1)
    bs_vega = S0 * stats.norm.pdf(d1) * np.sqrt(T)
    d = fs.LogNormal(loc, scale)
    # Two independent runs, so the two terms of vega have independent errors:
    # vega = disc * (dloc/dsigma * dE/dloc + dscale/dsigma * dE/dscale).
    e1, dt1 = _timed(lambda: fs.estimate(d, fs.fn.call(K), n=n, rng=3, method="cv"))
    e2, dt2 = _timed(lambda: fs.estimate(d, fs.fn.call(K), n=n, rng=4, method="cv"))
    delta = disc * e1.grad["loc"] / S0
    delta_se = disc * e1.stderr["loc"] / S0
    a, b = -sigma * T, np.sqrt(T)
    vega = disc * (a * e1.grad["loc"] + b * e2.grad["scale"])
    vega_se = disc * np.hypot(a * e1.stderr["loc"], b * e2.stderr["scale"])
    rows = [("call: delta (likelihood ratio)", delta, delta_se, bs_delta, n / dt1),
            ("call: vega (likelihood ratio)", vega, vega_se, bs_vega, 2 * n / (dt1 + dt2))]
    what = "European call, log-normal price, delta and vega vs Black-Scholes (cv)"
    return _context(what, n, dt1 + dt2, runs=2), rows


def run(out=sys.stdout):
    """Solve the three problems and print one table, a line of context per block."""
    blocks = [bandit_rows(), vi_rows(), finance_rows()]
    head = "%-36s %22s %12s %7s %11s" % ("quantity", "estimate +- stderr", "exact", "z",
                                          "samples/s")
    print("Score-function gradients against their exact values, z = (estimate - exact) / "
          "stderr", file=out)
    print(head, file=out)
    rows = []
    for context, block in blocks:
        print("-" * len(head), file=out)
        print(context, file=out)
        for name, g, se, exact, rate in block:
            g, se, exact = float(g), float(se), float(exact)
            print("%-36s %11.5f +- %-7.1e %12.5f %7.2f %11.3g"
                  % (name, g, se, exact, (g - exact) / se, rate), file=out)
        rows += block
    return rows
