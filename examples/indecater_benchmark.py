"""IndeCateR's synthetic benchmark: independent categoricals, f(x) = abs(sum_j x_j - b).
=====================================================================================

The setup of De Smet, Sansone and Zuidberg Dos Martires, "Differentiable
Sampling of Categorical Distributions Using the CatLog-Derivative Trick"
(IndeCateR, NeurIPS 2023, arXiv 2311.12569), rebuilt here from its
description: D independent categorical variables x_j in {0, ..., K-1}, in
three shapes D x K = 12 x 3, 6 x 10 and 3 x 100, as one joint distribution
``fs.Independent(fs.Categorical(logits=L), 1)``, and the gradient of
E f(x) = E abs(sum_j x_j - b) with respect to the logits L (D, K).

Our choices (the paper's exact logits are not reproduced): L ~ N(0, 1) drawn
once from ``numpy.random.default_rng([seed, D, K])`` (seed 0), and two
offsets, b "near" = floor(E S) + 1/2, within half a unit of the mean of
S = sum_j x_j (a half-integer, so that S never sits on the kink), and b
"far" = floor(E S + 2 sd(S)) + 1/2, in the upper tail, where f is mostly
the linear b - S.  A Bernoulli variant, D = 12 (``fs.Independent(fs.Bernoulli(
logits), 1)``, x_j in {0, 1}), adds DisARM, which is Bernoulli only.

The exact gradient is computed exactly: the law of S is the convolution of
the D categoricals, and d E f / d L_jk = p_jk (E[f | x_j = k] - E f), with
E[f | x_j = k] from the convolution of the other D - 1 shifted by k.

Estimators, each through one ``fs.estimate`` call that makes R independent
repetitions at once (a leading batch axis of R copies of L):

- ``score`` with ``method="rloo"`` (REINFORCE with the leave-one-out baseline);
- ``indecater``: each coordinate's K values summed exactly, the others held
  at the sample;
- ``concrete`` at temperature 0.5 and ``rebar`` at temperature 0.5 and
  eta = 1, for which f is the same function on the relaxed samples, vectors
  y_j of the simplex: f(y) = abs(sum_j sum_k k y_jk - b), with its f';
- ``disarm`` (Bernoulli variant only).

Evaluations of f (and of f') per sample are counted from what each estimator
passes to f, not assumed: score 1, concrete 1 f + 1 f', rebar 2 f + 2 f',
disarm 3 (the sample and the antithetic pair), indecater D K (f at the
sample is among its points).  At an equal budget each estimator gets
n = budget / (its evaluations per sample, f and f' alike) samples, the
budget being IndeCateR's at ``--n`` samples; the table also gives the
variance at equal n (every estimator at ``--n`` samples).

Reported per problem and estimator, over the R repetitions: the bias norm
abs(mean(estimate) - exact), the largest abs(z) = abs(bias) / (its standard error)
over the components, the variance (across repetitions, averaged over the
components) and the honesty ratio, mean(reported stderr^2) / variance (about
1 for an unbiased estimator whose standard errors are right).  REBAR's eta
is fixed: eta="auto" is pooled over the batch, so the R repetitions of one
call would share it (measured: abs(z) up to 6 on 3 x 100, against under 3 with
eta = 1).

    python examples/indecater_benchmark.py [--reps 200] [--n 4] [--quick] [--plot indecater.png]
"""

import argparse
import itertools

import numpy as np
from scipy import special

import fastscore as fs

SEED = 0
#: (D, K) of the categorical shapes; K = None: the Bernoulli variant
SHAPES = ((12, 3), (6, 10), (3, 100), (12, None))
OFFSETS = ("near", "far")
TEMPERATURE = 0.5
#: label -> fs.estimate keywords (grad_f is added for the relaxations)
ESTIMATORS = {
    "score rloo": dict(estimator="score", method="rloo"),
    "indecater": dict(estimator="indecater"),
    "concrete t=0.5": dict(estimator="concrete", temperature=TEMPERATURE),
    # eta fixed at 1: eta="auto" is chosen from the samples of the whole batch, which
    # would tie the R repetitions of one call together (and bias them by O(1 / (R n)))
    "rebar t=0.5": dict(estimator="rebar", temperature=TEMPERATURE, eta=1.0),
    "disarm": dict(estimator="disarm"),
}
BERNOULLI_ONLY = ("disarm",)


# ---------------------------------------------------------------- the problem

def draw_logits(D, K, seed=SEED):
    """The fixed logits: (D, K) for a categorical shape, (D,) for the Bernoulli one."""
    g = np.random.default_rng([seed, D, 2 if K is None else K])
    return g.normal(size=(D,) if K is None else (D, K))


def _as_categorical(logits):
    """(D, K) categorical logits; Bernoulli logits l become the two columns (0, l)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        return np.stack([np.zeros_like(logits), logits], axis=-1)
    return logits


def law_of_sum(probs):
    """The probabilities of S = sum_j x_j, x_j ~ Categorical(probs[j]) on {0, ..., K-1}."""
    pmf = np.ones(1)
    for row in probs:
        pmf = np.convolve(pmf, row)
    return pmf


def exact_gradient(logits, b):
    """(E f, d E f / d logits) for f = |sum_j x_j - b|, computed exactly.

    ``logits`` (D, K): categoricals on {0, ..., K-1}; (D,): Bernoulli logits
    (the gradient then has shape (D,)).
    """
    L = _as_categorical(logits)
    p = special.softmax(L, axis=-1)
    D, K = p.shape
    pmf = law_of_sum(p)
    fvals = np.abs(np.arange(len(pmf)) - b)
    Ef = pmf @ fvals
    grad = np.empty_like(p)
    for j in range(D):
        others = law_of_sum(np.delete(p, j, axis=0))          # S - x_j, on 0..(D-1)(K-1)
        cond = np.array([others @ fvals[k:k + len(others)] for k in range(K)])
        grad[j] = p[j] * (cond - Ef)
    return Ef, (grad[:, 1] if np.ndim(logits) == 1 else grad)


def brute_force_gradient(logits, b):
    """(E f, gradient) by enumerating all K^D outcomes (small problems only)."""
    L = _as_categorical(logits)
    p = special.softmax(L, axis=-1)
    D, K = p.shape
    Ef = 0.0
    grad = np.zeros_like(p)
    for x in itertools.product(range(K), repeat=D):
        px = np.prod(p[np.arange(D), x])
        fx = abs(sum(x) - b)
        Ef += px * fx
        onehot = np.zeros_like(p)
        onehot[np.arange(D), x] = 1.0
        grad += px * fx * (onehot - p)                      # d log p(x) / d logits = 1[x_j=k] - p_jk
    return Ef, (grad[:, 1] if np.ndim(logits) == 1 else grad)


def offset(logits, where):
    """b: "near" floor(E S) + 1/2, "far" floor(E S + 2 sd(S)) + 1/2."""
    p = special.softmax(_as_categorical(logits), axis=-1)
    pmf = law_of_sum(p)
    s = np.arange(len(pmf))
    mean = pmf @ s
    sd = np.sqrt(pmf @ (s - mean) ** 2)
    if where == "near":
        return np.floor(mean) + 0.5
    if where == "far":
        return np.floor(mean + 2.0 * sd) + 0.5
    raise ValueError("where must be 'near' or 'far', got %r" % (where,))


class Problem:
    """One benchmark problem: the logits, b, the exact gradient and f (with f')."""

    def __init__(self, D, K, where="near", seed=SEED):
        self.D, self.K, self.where = D, K, where
        self.logits = draw_logits(D, K, seed)
        self.b = offset(self.logits, where)
        self.value, self.exact = exact_gradient(self.logits, self.b)
        self.family = "Bernoulli" if K is None else "Categorical"
        self.shape = "%d x %d" % (D, 2 if K is None else K) + (" Bern" if K is None else "")
        self.evaluations = [0, 0]                          # rows f and f' were given

    def dist(self, reps):
        """R independent copies of the joint: batch (R,), event (D,)."""
        L = np.broadcast_to(self.logits, (reps,) + self.logits.shape)
        if self.K is None:
            return fs.Independent(fs.Bernoulli(logits=L), 1)
        return fs.Independent(fs.Categorical(logits=L), 1)

    def _sum(self, x):
        x = np.asarray(x, dtype=np.float64)
        if self.K is not None and x.ndim == 4:             # relaxed: (m, R, D, K) on the simplex
            return x @ np.arange(self.K, dtype=np.float64) @ np.ones(self.D)
        return x.sum(axis=-1)                               # integer (or Bernoulli relaxed) (m, R, D)

    def f(self, x):
        self.evaluations[0] += np.shape(x)[0]
        return np.abs(self._sum(x) - self.b)

    def grad_f(self, y):
        self.evaluations[1] += np.shape(y)[0]
        sign = np.sign(self._sum(y) - self.b)
        if self.K is None:
            return sign[..., None] * np.ones(np.shape(y))
        return sign[..., None, None] * np.broadcast_to(np.arange(self.K, dtype=np.float64),
                                                       np.shape(y))


# ------------------------------------------------------------------ estimating

def _keywords(prob, label):
    kw = dict(ESTIMATORS[label])
    if kw["estimator"] in ("concrete", "rebar"):
        kw["grad_f"] = prob.grad_f
    return kw


def applies(prob, label):
    return not (label in BERNOULLI_ONLY and prob.K is not None)


def evaluations_per_sample(prob, label, n=8, reps=2):
    """(f, f') evaluations per sample of one estimator, counted on a small run."""
    prob.evaluations = [0, 0]
    fs.estimate(prob.dist(reps), prob.f, n, rng=0, n_threads=1, **_keywords(prob, label))
    return prob.evaluations[0] / n, prob.evaluations[1] / n


#: most numbers per fs.estimate call (n x repetitions x D x K): the score function of an
#: Independent of a counted family runs in NumPy on all n samples at once, with its
#: scores as one (n, R, D, K) array; larger R is split into several calls
MAX_NUMBERS = 2 ** 22


def repeat(prob, label, n, reps, seed):
    """R independent estimates of one estimator at n samples: a dict of the statistics.

    The R repetitions are a leading batch axis of the Independent, in as few
    ``fs.estimate`` calls as MAX_NUMBERS allows (each with its own stream).
    """
    size = prob.D * (prob.K or 2)
    per_call = max(1, min(reps, MAX_NUMBERS // (n * size)))
    calls = -(-reps // per_call)
    streams = np.random.SeedSequence(seed).spawn(calls)
    g, se = [], []
    for c, ss in enumerate(streams):
        r = min(per_call, reps - c * per_call)
        est = fs.estimate(prob.dist(r), prob.f, n, rng=ss, n_threads=1,
                          **_keywords(prob, label))
        g.append(est.grad["logits"])
        se.append(est.stderr["logits"])
    g, se = np.concatenate(g), np.concatenate(se)                # (R, *logits.shape)
    mean = g.mean(axis=0)
    var = g.var(axis=0, ddof=1)
    bias = mean - prob.exact
    # components with no variance beyond rounding (IndeCateR is exact for an f additive
    # over the coordinates): their z is 0 when the bias is rounding too
    tiny = 1e-10 * np.abs(prob.exact).max()
    se_mean = np.sqrt(var / reps)
    z = np.where(se_mean > tiny, bias / np.maximum(se_mean, tiny),
                 np.where(np.abs(bias) > tiny, np.inf, 0.0))
    exact = var.mean() <= tiny ** 2
    return dict(n=n, bias_norm=float(np.linalg.norm(bias)), z=z,
                max_z=float(np.abs(z).max()), variance=float(var.mean()),
                honesty=np.nan if exact else float(np.mean(se ** 2) / var.mean()),
                calls=calls, estimates=g)


def compare(prob, reps=200, n0=4, seed=SEED):
    """{label: row} for one problem: each estimator at the equal budget of IndeCateR's
    n0 samples ("budget") and at n0 samples ("equal_n")."""
    labels = [lb for lb in ESTIMATORS if applies(prob, lb)]
    per = {lb: evaluations_per_sample(prob, lb) for lb in labels}
    budget = n0 * sum(per["indecater"])
    rows = {}
    for i, lb in enumerate(labels):
        cost = sum(per[lb])
        n = max(2, int(round(budget / cost)))
        a, c = ([seed, prob.D, prob.K or 2, OFFSETS.index(prob.where), i, s] for s in (0, 1))
        row = dict(label=lb, f_evals=per[lb][0], grad_evals=per[lb][1], cost=cost,
                   budget=repeat(prob, lb, n, reps, a))
        row["equal_n"] = row["budget"] if n == n0 else repeat(prob, lb, n0, reps, c)
        rows[lb] = row
    return rows


def benchmark(shapes=SHAPES, offsets=OFFSETS, reps=200, n0=4, seed=SEED):
    """[(problem, {label: row})] over the shapes and offsets."""
    out = []
    for D, K in shapes:
        for where in offsets:
            prob = Problem(D, K, where, seed)
            out.append((prob, compare(prob, reps, n0, seed)))
    return out


def _evals(row):
    f, g = row["f_evals"], row["grad_evals"]
    return ("%g" % f) + (" + %g f'" % g if g else "")


def table(results, reps, n0):
    """The markdown table, as a string."""
    lines = ["| shape | b | estimator | evaluations / sample | n | bias norm | max abs z "
             "| variance | honesty | variance at n = %d |" % n0,
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for prob, rows in results:
        for lb, row in rows.items():
            r, e = row["budget"], row["equal_n"]
            honest = "exact" if np.isnan(r["honesty"]) else "%.2f" % r["honesty"]
            lines.append("| %s | %s %g | %s | %s | %d | %.3g | %.1f | %.3g | %s | %.3g |" % (
                prob.shape, prob.where, prob.b, lb, _evals(row), r["n"], r["bias_norm"],
                r["max_z"], r["variance"], honest, e["variance"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "fastscore example").splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="repetitions R of each estimate")
    parser.add_argument("--n", type=int, default=4,
                        help="IndeCateR's samples per estimate (its budget is everyone's)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the logits and draws")
    parser.add_argument("--quick", action="store_true", help="a small run (R = 40)")
    parser.add_argument("--plot", default=None, help="write the figure (PNG) here")
    args = parser.parse_args(argv)
    reps = 40 if args.quick else args.reps
    results = benchmark(reps=reps, n0=args.n, seed=args.seed)
    print("IndeCateR benchmark: f = |sum_j x_j - b|, logits ~ N(0, 1) (seed %d), R = %d "
          "repetitions; equal budget = indecater's %d samples x its evaluations"
          % (args.seed, reps, args.n))
    print(table(results, reps, args.n))
    if args.plot:
        from _plotting import pyplot

        plt = pyplot()
        if plt is not None:
            fig, axes = plt.subplots(1, len(OFFSETS), figsize=(11, 4), sharey=True)
            labels = list(ESTIMATORS)
            width = 0.8 / len(labels)
            for ax, where in zip(np.atleast_1d(axes), OFFSETS):
                probs = [(p, rows) for p, rows in results if p.where == where]
                xs = np.arange(len(probs))
                for k, lb in enumerate(labels):
                    v = [rows[lb]["budget"]["variance"] if lb in rows else np.nan
                         for _, rows in probs]
                    ax.bar(xs + (k - (len(labels) - 1) / 2) * width, v, width, label=lb)
                ax.set_xticks(xs)
                ax.set_xticklabels([p.shape for p, _ in probs], fontsize=8)
                ax.set_yscale("log")
                ax.set_title("b %s E[sum x], equal budget of f evaluations" % where, fontsize=9)
            np.atleast_1d(axes)[0].set_ylabel("variance of the gradient estimate")
            np.atleast_1d(axes)[0].legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(args.plot, dpi=120)
            print("wrote", args.plot)
    return results


if __name__ == "__main__":
    main()
