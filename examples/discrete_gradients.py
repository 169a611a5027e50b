"""Gradients of discrete variables: score function, measure-valued, Concrete, REBAR, ARM, DisARM.
==============================================================================================

Two problems:

1. The toy of the REBAR paper (Tucker et al. 2017): E_{b ~ Bernoulli(theta)}[(b - t)^2]
   with t = 0.45, whose exact gradient d/dtheta is 1 - 2t = 0.1 (small beside
   f's offset, which makes the plain score function noisy).
2. A categorical policy-gradient batch: Categorical(logits) rows of K = 8
   actions with per-row rewards, 8 samples per row, exact gradient
   p (r - p . r).

For each estimator: the bias (estimate minus exact, over the standard
error), the variance of one sample's gradient (n * stderr^2) and the
variance times the compute per sample (lower is better at a fixed budget).
Concrete is biased by design; the others are unbiased.

    python examples/discrete_gradients.py [--n 200000] [--plot discrete.png]
"""

import argparse
import time

import numpy as np
from scipy import special

import fastscore as fs

T = 0.45
THETAS = (0.1, 0.5, 0.9)
TEMPERATURES = (1.0, 0.5, 0.1)
#: label -> fs.estimate keywords (f' for the relaxations: f' = 2 (y - t) on the toy)
ESTIMATORS = {
    "score": dict(estimator="score"),
    "score rloo": dict(estimator="score", method="rloo"),
    "measure": dict(estimator="measure"),
    **{"concrete t=%g" % t: dict(estimator="concrete", temperature=t) for t in TEMPERATURES},
    "rebar": dict(estimator="rebar"),
    "arm": dict(estimator="arm"),
    "disarm": dict(estimator="disarm"),
}


def toy_f(b):
    return (np.asarray(b, dtype=np.float64) - T) ** 2


def toy_grad(b):
    return 2.0 * (np.asarray(b, dtype=np.float64) - T)


def _run(d, f, n, kw, rng, grad_f=None):
    """(estimate, seconds) of one estimator."""
    kw = dict(kw)
    if kw["estimator"] in ("concrete", "rebar") and grad_f is not None:
        kw["grad_f"] = grad_f
    t0 = time.perf_counter()
    est = fs.estimate(d, f, n, rng=rng, n_threads=1, **kw)
    return est, time.perf_counter() - t0


def toy_table(n=200_000):
    """{(theta, label): (gradient, stderr, bias / stderr, variance, ns per sample)}."""
    out = {}
    for theta in THETAS:
        d = fs.Bernoulli(probs=theta)
        exact = 1.0 - 2.0 * T
        for label, kw in ESTIMATORS.items():
            est, dt = _run(d, toy_f, n, kw, rng=1, grad_f=toy_grad)
            g, se = float(est.grad["probs"]), float(est.stderr["probs"])
            out[theta, label] = (g, se, (g - exact) / se if se > 0 else 0.0, n * se * se,
                                 dt / n * 1e9)
    return out


def policy_batch(rows=2000, K=8, seed=0):
    g = np.random.default_rng(seed)
    logits = g.normal(size=(rows, K))
    rewards = g.normal(size=(rows, K))
    p = special.softmax(logits, axis=-1)
    exact = p * (rewards - (p * rewards).sum(-1, keepdims=True))
    return fs.Categorical(logits=logits), fs.fn.table(rewards), exact


def policy_table(rows=2000, n=64):
    """{label: (RMS error / RMS stderr, mean variance of one sample's gradient, ns per
    sample)} over the rows and actions of a policy batch (n samples per row).

    The first is about 1 for an unbiased estimator and grows with the bias.
    """
    d, f, exact = policy_batch(rows)
    out = {}
    for label, kw in ESTIMATORS.items():
        if kw["estimator"] in ("arm", "disarm"):
            continue  # Bernoulli only
        est, dt = _run(d, f, n, kw, rng=2)
        g, se = est.grad["logits"], est.stderr["logits"]
        ratio = np.sqrt(np.mean((g - exact) ** 2) / np.mean(se * se))
        out[label] = (float(ratio), float(np.mean(n * se * se)), dt / (n * rows) * 1e9)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples per toy estimate")
    parser.add_argument("--rows", type=int, default=2000, help="rows of the policy batch")
    parser.add_argument("--plot", default=None, help="write the figure (PNG) here")
    args = parser.parse_args(argv)
    toy = toy_table(args.n)
    print("REBAR toy, E[(b - 0.45)^2], b ~ Bernoulli(theta): d/dtheta = 0.1; n = %d" % args.n)
    print("%-15s" % "estimator" + "".join(
        "%36s" % ("theta = %g: bias/se, var, ns" % th) for th in THETAS))
    for label in ESTIMATORS:
        print("%-15s" % label + "".join(
            "%36s" % ("%+6.1f %10.3g %8.1f" % (toy[th, label][2], toy[th, label][3],
                                               toy[th, label][4])) for th in THETAS))
    pol = policy_table(args.rows)
    print("\nPolicy batch: Categorical logits (%d, 8), table rewards, 64 samples per row" % args.rows)
    print("%-15s %12s %14s %10s %14s" % ("estimator", "rms err/se", "variance", "ns",
                                         "var x ns"))
    for label, (z, var, ns) in pol.items():
        print("%-15s %12.2f %14.4g %10.1f %14.4g" % (label, z, var, ns, var * ns))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, axes = plt.subplots(1, 2, figsize=(11, 4))
            labels = list(ESTIMATORS)
            xs = np.arange(len(labels))
            for k, th in enumerate(THETAS):
                axes[0].bar(xs + (k - 1) * 0.27, [toy[th, lb][3] for lb in labels], 0.27,
                            label="theta = %g" % th)
            axes[0].set_xticks(xs)
            axes[0].set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
            axes[0].set_yscale("log")
            axes[0].set_ylabel("variance of one sample's gradient")
            axes[0].set_title("REBAR toy (b - 0.45)^2", fontsize=9)
            axes[0].legend(fontsize=7)
            pl = list(pol)
            axes[1].bar(np.arange(len(pl)), [pol[lb][1] * pol[lb][2] for lb in pl])
            axes[1].set_xticks(np.arange(len(pl)))
            axes[1].set_xticklabels(pl, rotation=45, ha="right", fontsize=8)
            axes[1].set_yscale("log")
            axes[1].set_ylabel("variance x ns per sample")
            axes[1].set_title("policy batch (Categorical, K = 8)", fontsize=9)
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return toy, pol


if __name__ == "__main__":
    main()
