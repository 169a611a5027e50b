"""Delta, gamma and vega of an arithmetic-average Asian call: one f of a whole price path.
=========================================================================================

Under Black-Scholes the path's 50 log-increments are independent Normals,

    x ~ Independent(Normal(loc, scale), 1),  loc = (r - sigma^2 / 2) dt,
                                             scale = sigma sqrt(dt)  (50 coordinates),

the fixings are S_j = S0 exp(x_1 + ... + x_j) and the payoff
exp(-r T) (mean_j S_j - K)^+ is one function of the whole path (vectorised
NumPy over the sample axis).  fs.estimate gives the gradient of its mean in
each coordinate's loc and scale (100 numbers); the Greeks chain them:

* delta = dV/dS0: S0 scales every fixing, as a shift of the first
  increment's loc by d log S0 does, so delta = grad["loc"][0] / S0;
* gamma = d^2V/dS0^2 = (H[0, 0] - grad["loc"][0]) / S0^2, H the Hessian in
  the parameters (fs.estimate(..., order=2); its entry of loc[0] twice);
* vega = dV/dsigma = sum_i (dloc_i/dsigma grad["loc"][i] + dscale_i/dsigma
  grad["scale"][i]), with dloc_i/dsigma = -sigma dt, dscale_i/dsigma = sqrt(dt).

A Greek is a sum of correlated gradient components (they share the payoff),
so its standard error is not the components' errors in quadrature.  The
exact one comes from the chained per-sample terms: fs.sample and fs.score on
the samples fs.estimate draws for the same rng give each sample's chained
score c(x), and the Greek is the mean of (f(x) - b) c(x), b the
leave-one-out mean of f (method="rloo": the same number fs.estimate gives);
the spread of these n terms is the error (the rloo U-statistic's pairwise
term changes it by O(1/n) relative, nothing at these n).
Gamma's per-sample term is (f(x) - b) (s_0^2 - 1 / scale_0^2 - s_0) / S0^2,
s_0 the score of loc[0] and -1 / scale_0^2 its derivative: the chained terms
of fs.estimate(..., order=2, method="rloo").

The check is a large pathwise run (estimator="pathwise", grad_f the payoff's
closed-form derivative in x); its Greeks' errors come the same way, from
the chained per-sample pathwise terms as an f of their own on the same
samples.  Its gamma is the mixed estimator's (estimator="mixed", order=2: the
likelihood-ratio derivative of the pathwise delta, which needs only the
payoff's first derivative, as the kink at the strike asks): per sample
f'_0(x) (s_0 - 1) / S0^2.  The script prints both with the z-score of their
difference.

    python examples/asian_option.py [--n 200000] [--n-ref 1000000] [--seed 0] [--plot asian.png]
"""

import argparse

import numpy as np

import fastscore as fs

S0, K, R, SIGMA, T, FIXINGS = 100.0, 100.0, 0.03, 0.2, 1.0, 50
DT = T / FIXINGS
DISCOUNT = np.exp(-R * T)
#: d loc_i / d sigma and d scale_i / d sigma, the same for every increment
DLOC, DSCALE = -SIGMA * DT, np.sqrt(DT)


def increments():
    """The log-increments' distribution: batch_shape (), event_shape (FIXINGS,)."""
    loc = np.full(FIXINGS, (R - 0.5 * SIGMA ** 2) * DT)
    scale = np.full(FIXINGS, SIGMA * np.sqrt(DT))
    return fs.Independent(fs.Normal(loc, scale), 1)


def fixings(x):
    """S_j = S0 exp(x_1 + ... + x_j) for samples x of shape (m, FIXINGS)."""
    return S0 * np.exp(np.cumsum(x, axis=-1))


def payoff(x):
    """The discounted payoff of each path: shape (m,)."""
    return DISCOUNT * np.maximum(fixings(x).mean(axis=-1) - K, 0.0)


def payoff_grad(x):
    """d payoff / d x_i = exp(-r T) 1{A > K} (1 / N) sum_{j >= i} S_j: shape (m, FIXINGS)."""
    s = fixings(x)
    tail = np.cumsum(s[:, ::-1], axis=-1)[:, ::-1] / FIXINGS
    itm = s.mean(axis=-1) > K
    return DISCOUNT * itm[:, None] * tail


def chain(grad):
    """(delta, vega) from the gradient in each increment's loc and scale (arrays (..., N))."""
    return (grad["loc"][..., 0] / S0,
            DLOC * grad["loc"].sum(axis=-1) + DSCALE * grad["scale"].sum(axis=-1))


def chain_gamma(est):
    """gamma from an order=2 estimate: (H[loc 0, loc 0] - grad["loc"][0]) / S0^2."""
    return (est.hessian[..., 0, 0] - est.grad["loc"][..., 0]) / S0 ** 2


def gamma_score_terms(x, d):
    """The score function's chained gamma weight per sample, (s_0^2 - 1 / scale_0^2 - s_0)
    / S0^2 (its mean is 0: rloo's baseline keeps the estimate unbiased)."""
    loc, scale = d.base_dist.loc[0], d.base_dist.scale[0]
    s0 = (x[:, 0] - loc) / scale ** 2
    return (s0 * s0 - 1.0 / scale ** 2 - s0) / S0 ** 2


def gamma_mixed_terms(x, d):
    """The mixed estimator's chained gamma per sample, f'_0(x) (s_0 - 1) / S0^2."""
    loc, scale = d.base_dist.loc[0], d.base_dist.scale[0]
    s0 = (x[:, 0] - loc) / scale ** 2
    return payoff_grad(x)[:, 0] * (s0 - 1.0) / S0 ** 2


def naive_vega_se(est):
    """Vega's error if its 100 components were independent: their errors in quadrature."""
    return float(np.sqrt(np.sum((DLOC * est.stderr["loc"]) ** 2)
                         + np.sum((DSCALE * est.stderr["scale"]) ** 2)))


def _mean_se(terms):
    return float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(len(terms)))


def score_greeks(n=200_000, seed=0):
    """Likelihood-ratio delta, gamma and vega with exact standard errors.

    Returns {"delta": (value, stderr), "gamma": ..., "vega": ..., "price": (value,
    stderr), "naive_vega_se": the components' errors in quadrature}.
    """
    d = increments()
    est = fs.estimate(d, payoff, n=n, rng=seed, method="rloo")
    # The same samples (same rng and n), and their per-sample chained scores.
    x = fs.sample(d, n, rng=seed)
    fx = payoff(x)
    sc = fs.score(d, x)  # {"loc": (n, N), "scale": (n, N)}
    c_delta, c_vega = chain(sc)
    b = (fx.sum() - fx) / (n - 1)  # leave-one-out baseline
    out = {"price": (float(est.value), float(est.value_stderr))}
    for name, c, g in zip(("delta", "vega"), (c_delta, c_vega), chain(est.grad)):
        value, se = _mean_se((fx - b) * c)
        # the per-sample terms reproduce fastscore's RLOO estimate (up to rounding)
        assert np.isclose(value, g, rtol=1e-8, atol=1e-10), (name, value, g)
        out[name] = (value, se)
    out["gamma"] = _mean_se((fx - b) * gamma_score_terms(x, d))
    # what adding the 100 components' errors in quadrature would claim for vega
    out["naive_vega_se"] = naive_vega_se(est)
    return out


def pathwise_greeks(n=1_000_000, seed=12345):
    """The pathwise reference, {"delta": (value, stderr), "vega": (value, stderr),
    "gamma": (value, stderr) (the mixed estimator), "naive_vega_se": ...}."""
    d = increments()
    est = fs.estimate(d, payoff, n=n, rng=seed, estimator="pathwise", grad_f=payoff_grad)
    delta, vega = chain(est.grad)
    # Per sample, the chained pathwise terms are f'(x) . dx/dS0 and f'(x) . dx/dsigma, with
    # dx_i/dS0 = [i = 0] / S0 and dx_i/dsigma = dloc/dsigma + dscale/dsigma z_i: a function
    # of x whose mean over the same samples is the Greek, and whose stderr is its error.
    loc, scale = d.base_dist.loc, d.base_dist.scale

    def terms(x):
        g = payoff_grad(x)
        z = (x - loc) / scale
        return np.stack([g[:, 0] / S0, (g * (DLOC + DSCALE * z)).sum(axis=-1)], axis=-1)

    out = {"naive_vega_se": naive_vega_se(est)}
    for k, (name, g) in enumerate(zip(("delta", "vega"), (delta, vega))):
        e = fs.estimate(d, lambda x, k=k: terms(x)[:, k], n=n, rng=seed)
        assert np.isclose(e.value, g, rtol=1e-8, atol=1e-10), (name, e.value, g)
        out[name] = (float(e.value), float(e.value_stderr))
    # gamma by the mixed estimator, its chained per-sample terms on the same samples
    e = fs.estimate(d, lambda x: gamma_mixed_terms(x, d), n=n, rng=seed)
    out["gamma"] = (float(e.value), float(e.value_stderr))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples of the score estimate")
    parser.add_argument("--n-ref", type=int, default=1_000_000,
                        help="samples of the pathwise reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="write a PNG of paths and the Greeks")
    args = parser.parse_args(argv)
    lr = score_greeks(args.n, args.seed)
    pw = pathwise_greeks(args.n_ref, args.seed + 1)
    print("Asian call, %d fixings: S0 %g, strike %g, r %g, sigma %g, T %g; price %.4f +- %.4f"
          % ((FIXINGS, S0, K, R, SIGMA, T) + lr["price"]))
    print("%-6s %24s %24s %8s" % ("", "score function (rloo)", "pathwise reference", "z"))
    out = {"price": lr["price"][0]}
    for name in ("delta", "gamma", "vega"):
        (a, sa), (b, sb) = lr[name], pw[name]
        z = (a - b) / np.hypot(sa, sb)
        print("%-6s %12.6f +- %9.2e %12.6f +- %9.2e %8.2f" % (name, a, sa, b, sb, z))
        out.update({name: a, name + "_se": sa, name + "_ref": b, name + "_ref_se": sb,
                    name + "_z": float(z)})
    print("(the reference's gamma is the mixed estimator's: the likelihood-ratio derivative of "
          "the pathwise delta)")
    print("n = %d score samples, %d pathwise.  Vega's 100 components' errors in quadrature "
          "would claim %.2e (score) and %.2e (pathwise) instead of the exact %.2e and %.2e "
          "(the components share the payoff: their errors are correlated)"
          % (args.n, args.n_ref, lr["naive_vega_se"], pw["naive_vega_se"], lr["vega"][1],
             pw["vega"][1]))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, axes = plt.subplots(1, 4, figsize=(14, 3.5),
                                     gridspec_kw={"width_ratios": [2, 1, 1, 1]})
            paths = fixings(fs.sample(increments(), 20, rng=args.seed))
            paths = np.hstack([np.full((len(paths), 1), S0), paths])  # S at t = 0
            t = np.arange(FIXINGS + 1) * DT
            axes[0].plot(t, paths.T, lw=0.7)
            axes[0].axhline(K, color="k", ls="--", label="strike")
            axes[0].set_xlabel("time")
            axes[0].set_ylabel("S")
            axes[0].set_title("20 paths of %d fixings" % FIXINGS)
            axes[0].legend()
            for ax, name in zip(axes[1:], ("delta", "gamma", "vega")):
                vals = [lr[name][0], pw[name][0]]
                errs = [2 * lr[name][1], 2 * pw[name][1]]
                ax.errorbar([0, 1], vals, yerr=errs, fmt="o", capsize=4)
                ax.set_xticks([0, 1], ["score\n(rloo)", "mixed\n(reference)" if name == "gamma"
                                       else "pathwise\n(reference)"])
                ax.set_xlim(-0.6, 1.6)
                ax.set_title("%s +- 2 se" % name)
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return out


if __name__ == "__main__":
    main()
