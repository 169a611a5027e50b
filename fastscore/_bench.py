"""``fastscore bench``: a quick benchmark report.

Times, side by side in one process (variants interleaved, median of several
rounds), the fused kernel against the sampling floor (the same numpy C
sampler on the same Philox streams, doing nothing else), a Python f, and the
NumPy one-liner a user would otherwise write; the batched policy-gradient
workload; and the per-call overhead.  The full suite lives in the
repository's bench/ folder.
"""

import statistics
import sys
import time

import numpy as np

import fastscore as fs

from . import _engine, _kernels
from ._kinds import KINDS
from ._rng import key_from_rng


def _median_times(variants, rounds):
    """{name: median seconds} over rounds, the variants run in turn (A B C A B C ...).

    Interleaving keeps the comparison fair on a noisy, shared machine.
    """
    times = {name: [] for name in variants}
    for name, fn in variants.items():  # warm-up
        fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def floor_fn(dist, n, n_threads=1, rng=0, estimator="score"):
    """A callable drawing the estimator's samples with nothing else (the floor).

    The score-function and pathwise estimators draw the same samples; the
    measure-valued one draws each sample's coupled points too.
    """
    key = key_from_rng(rng)
    plan = dist.plan()
    kind = KINDS[estimator].kernel_id
    code = _engine.current().code
    return lambda: _kernels.sampling_floor(plan.family.id, plan.consts, key[0], key[1], n,
                                           plan.E, n_threads, kind, engine=code)


def numpy_normal_x2(n, loc=0.5, scale=1.5, rng=0):
    """The NumPy one-liner: draw, score, mean of f * score."""
    def run():
        x = np.random.default_rng(rng).normal(loc, scale, size=n)
        z = (x - loc) / scale
        fx = x * x
        return np.mean(fx * z / scale), np.mean(fx * (z * z - 1.0) / scale)
    return run


def normal_variants(n, threads=(1,)):
    d = fs.Normal(0.5, 1.5)
    f = fs.fn.power(2)
    out = {}
    for t in threads:
        out["floor, %d thr" % t] = floor_fn(d, n, t)
        out["fused built-in f, %d thr" % t] = (
            lambda t=t: fs.estimate(d, f, n, rng=0, n_threads=t))
    out["fused Python f, 1 thr"] = lambda: fs.estimate(d, lambda x: x * x, n, rng=0, n_threads=1)
    out["NumPy one-liner"] = numpy_normal_x2(n)
    return out


def run(quick=True, plot=None, out=sys.stdout):
    """Print the report's tables (markdown); write a throughput plot if ``plot``."""
    rounds = 3 if quick else 7
    n = 10 ** 6
    threads = (1, 2) if fs._threads.effective_n_threads(None) >= 2 else (1,)
    med = _median_times(normal_variants(n, threads), rounds)
    base = med["floor, 1 thr"]
    numpy_t = med["NumPy one-liner"]
    print("Normal(0.5, 1.5), f = x^2, n = %d, median of %d rounds\n" % (n, rounds), file=out)
    print("| variant | ns/sample | vs floor (1 thr) | speed-up vs NumPy |", file=out)
    print("|---|---:|---:|---:|", file=out)
    for name, t in med.items():
        print("| %s | %.2f | %.2fx | %.2fx |" % (name, t / n * 1e9, t / base, numpy_t / t),
              file=out)

    # Batched policy gradient: 1e5 states x 8 actions, 8 samples per state.
    B, K, m = (10 ** 4 if quick else 10 ** 5), 8, 8
    g = np.random.default_rng(0)
    d = fs.Categorical(logits=g.normal(size=(B, K)))
    rewards = fs.fn.table(g.normal(size=(B, K)))
    med = _median_times({
        "floor": floor_fn(d, m, 1),
        "fused rloo": lambda: fs.estimate(d, rewards, m, rng=0, method="rloo", n_threads=1),
    }, rounds)
    print("\nBatched policy gradient: Categorical logits (%d, %d), n = %d per row, 1 thread\n"
          % (B, K, m), file=out)
    print("| variant | ns/sample | vs floor |", file=out)
    print("|---|---:|---:|", file=out)
    for name, t in med.items():
        print("| %s | %.2f | %.2fx |" % (name, t / (B * m) * 1e9, t / med["floor"]), file=out)

    d = fs.Normal(0.0, 1.0)
    f = fs.fn.power(2)
    fs.estimate(d, f, 100, rng=0, n_threads=1)
    reps = 2000
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fs.estimate(d, f, 100, rng=0, n_threads=1)
        ts.append((time.perf_counter() - t0) / reps)
    print("\nPer-call overhead (n = 100, built-in f, 1 thread): %.1f us (median of 5 x %d calls)"
          % (statistics.median(ts) * 1e6, reps), file=out)

    if plot:
        _plot(plot, quick, out)


def _plot(path, quick, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written", file=out)
        return
    sizes = [10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6] + ([] if quick else [10 ** 7])
    rates = {}
    for n in sizes:
        med = _median_times(normal_variants(n, (1, 2)), 3)
        for name, t in med.items():
            rates.setdefault(name, []).append(n / t)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in rates.items():
        ax.loglog(sizes, r, marker="o", label=name)
    ax.set_xlabel("n (samples)")
    ax.set_ylabel("samples per second")
    ax.set_title("Normal, f = x^2: throughput")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("wrote %s" % path, file=out)
