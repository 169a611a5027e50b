"""Calibration of standard errors: the cases and the measurement (tests and bench).

One calibration run estimates a batch of R rows that all have the same
parameters, n samples each, and compares per gradient component

* the variance of the gradient across rows with the mean of stderr^2 within
  rows (``ratio``; 1 for an honest standard error), and
* the mean gradient with the exact one (``z``, in standard errors of that mean).

tests/test_calibration.py runs a fast selection with fixed seeds;
bench/calibration.py prints the whole table over more rows.
"""

import numpy as np

import fastscore as fs


class CalCase:
    """A family x f with its exact gradient, and the estimators/methods it takes.

    ``make(R)`` builds the distribution with batch shape (R,); ``f`` is the
    function; ``exact`` is {parameter: exact gradient of one row}; ``runs``
    lists (estimator, method, options) to calibrate; ``biased`` names the
    estimators whose mean is not checked (biased by design).
    """

    def __init__(self, name, make, f, exact, runs, biased=()):
        self.name = name
        self.make = make
        self.f = f
        self.exact = exact
        self.runs = runs
        self.biased = frozenset(biased)


SCORE_RUNS = [("score", "plain", {}), ("score", "baseline", {"baseline": 1.0}),
              ("score", "rloo", {}), ("score", "cv", {})]


def _full(R, v):
    return np.full(R, v, dtype=np.float64)


def _bern_table(by, v, r0, r1):
    p = 1.0 / (1.0 + np.exp(-v)) if by == "logits" else v
    d = r1 - r0
    return {by: d * p * (1 - p) if by == "logits" else d}


def cases():
    """Every calibration case (name -> CalCase)."""
    out = [
        CalCase("Normal x^2", lambda R: fs.Normal(loc=_full(R, 0.5), scale=_full(R, 1.5)),
                fs.fn.power(2), {"loc": 1.0, "scale": 3.0},
                SCORE_RUNS + [("pathwise", "plain", {}), ("measure", "plain", {})]),
        CalCase("Poisson x^2", lambda R: fs.Poisson(rate=_full(R, 3.0)), fs.fn.power(2),
                {"rate": 7.0}, SCORE_RUNS + [("measure", "plain", {})]),
        CalCase("Gamma x", lambda R: fs.Gamma(concentration=_full(R, 2.5), rate=_full(R, 1.5)),
                fs.fn.power(1), {"concentration": 1 / 1.5, "rate": -2.5 / 1.5 ** 2},
                SCORE_RUNS + [("pathwise", "plain", {}), ("measure", "plain", {})]),
        CalCase("Exponential x^2", lambda R: fs.Exponential(rate=_full(R, 1.5)),
                fs.fn.power(2), {"rate": -4.0 / 1.5 ** 3},
                SCORE_RUNS + [("pathwise", "plain", {}), ("measure", "plain", {})]),
    ]
    for by, v in (("probs", 0.3), ("logits", -0.4)):
        tab = np.array([0.3, 1.7])
        runs = list(SCORE_RUNS) + [("measure", "plain", {})]
        if by == "logits":
            runs += [("arm", "plain", {}), ("disarm", "plain", {}),
                     ("concrete", "plain", {"temperature": 0.5}), ("rebar", "plain", {})]
        out.append(CalCase("Bernoulli(%s) table" % by,
                           lambda R, by=by, v=v: fs.Bernoulli(**{by: _full(R, v)}),
                           fs.fn.table(tab), _bern_table(by, v, *tab), runs,
                           biased=("concrete",)))
    # Categorical(logits): the table's gradient q_k (r_k - q.r)
    lg = np.array([0.2, -0.5, 1.0, 0.0])
    q = np.exp(lg) / np.exp(lg).sum()
    r = np.array([1.0, -0.5, 2.0, 0.25])
    out.append(CalCase("Categorical(logits) table",
                       lambda R: fs.Categorical(logits=np.broadcast_to(lg, (R, 4)).copy()),
                       fs.fn.table(r), {"logits": q * (r - q @ r)},
                       SCORE_RUNS + [("measure", "plain", {})]))
    # The other families, each with a closed form and every estimator it takes
    lam = np.exp(0.1 + 0.5 ** 2 / 2)
    out.append(CalCase("LogNormal x", lambda R: fs.LogNormal(loc=_full(R, 0.1),
                                                             scale=_full(R, 0.5)),
                       fs.fn.power(1), {"loc": lam, "scale": 0.5 * lam},
                       SCORE_RUNS + [("pathwise", "plain", {}), ("measure", "plain", {})]))
    out.append(CalCase("Beta x", lambda R: fs.Beta(_full(R, 2.0), _full(R, 3.0)),
                       fs.fn.power(1), {"concentration1": 3.0 / 25.0,
                                        "concentration0": -2.0 / 25.0},
                       SCORE_RUNS + [("pathwise", "plain", {})]))
    out.append(CalCase("Chi2 x", lambda R: fs.Chi2(_full(R, 3.0)), fs.fn.power(1),
                       {"df": 1.0}, SCORE_RUNS + [("pathwise", "plain", {})]))
    A = special_i1(2.0) / special_i0(2.0)
    out.append(CalCase("VonMises cos x", lambda R: fs.VonMises(_full(R, 0.4), _full(R, 2.0)),
                       lambda x: np.cos(x),
                       {"loc": -A * np.sin(0.4), "concentration":
                        (1.0 - A / 2.0 - A * A) * np.cos(0.4)},
                       SCORE_RUNS + [("pathwise", "plain", {"grad_f": lambda x: -np.sin(x)})]))
    out.append(CalCase("Binomial(10) x^2", lambda R: fs.Binomial(10, probs=_full(R, 0.3)),
                       fs.fn.power(2), {"probs": 10 * (1 - 0.6) + 2 * 100 * 0.3},
                       SCORE_RUNS + [("measure", "plain", {})]))
    out.append(CalCase("Geometric x", lambda R: fs.Geometric(probs=_full(R, 0.3)),
                       fs.fn.power(1), {"probs": -1.0 / 0.09},
                       SCORE_RUNS + [("measure", "plain", {})]))
    out.append(CalCase("NegativeBinomial(3) x",
                       lambda R: fs.NegativeBinomial(3.0, probs=_full(R, 0.4)),
                       fs.fn.power(1), {"probs": 3.0 / 0.36},
                       SCORE_RUNS + [("measure", "plain", {})]))
    a3 = np.array([1.0, 2.0, 3.0])
    out.append(CalCase("Dirichlet x_0", lambda R: fs.Dirichlet(np.broadcast_to(a3, (R, 3)).copy()),
                       fs.fn.linear([1.0, 0.0, 0.0]),
                       {"concentration": (np.array([6.0, 0.0, 0.0]) - 1.0) / 36.0},
                       SCORE_RUNS + [("pathwise", "plain", {})]))
    L2 = np.array([[1.0, 0.0], [0.5, 0.8]])
    out.append(CalCase("MultivariateNormal cos(a.x)",
                       lambda R: fs.MultivariateNormal(np.broadcast_to([0.2, -0.3], (R, 2)).copy(),
                                                       L2),
                       lambda x: np.cos(x @ np.array([0.7, -0.4])), _mvn_cos_grad(L2),
                       SCORE_RUNS + [("pathwise", "plain", {
                           "grad_f": lambda x: -np.sin(x @ np.array([0.7, -0.4]))[..., None]
                           * np.array([0.7, -0.4])}), ("measure", "plain", {})]))
    # Independent Bernoulli(logits) x 3 with one f of the vector: IndeCateR, and the score
    # function on a joint distribution
    lg3 = np.array([0.3, -0.8, 1.1])
    out.append(CalCase("Independent Bernoulli x 3, (sum x - 1.3)^2",
                       lambda R: fs.Independent(fs.Bernoulli(
                           logits=np.broadcast_to(lg3, (R, 3)).copy()), 1),
                       lambda x: (x.sum(axis=-1) - 1.3) ** 2,
                       {"logits": _independent_bernoulli_grad(lg3, lambda s: (s - 1.3) ** 2)},
                       [("indecater", "plain", {}), ("score", "rloo", {}),
                        ("score", "cv", {})]))
    # VIMCO, log w(x) = x, K = 2: d/dloc = 1; d/dscale by Gauss-Hermite quadrature
    out.append(CalCase("VIMCO Normal log w = x, K = 2",
                       lambda R: fs.Normal(loc=_full(R, 0.3), scale=_full(R, 0.9)),
                       lambda x: x, {"loc": 1.0, "scale": _vimco_scale_k2(0.9)},
                       [("vimco", "plain", {"num_draws": 2})]))
    return {c.name: c for c in out}


def special_i0(k):
    from scipy import special
    return special.i0(k)


def special_i1(k):
    from scipy import special
    return special.i1(k)


def _mvn_cos_grad(L):
    """d E[cos(a.x)] for x ~ N(mu, L L^T), mu = (0.2, -0.3), a = (0.7, -0.4)."""
    a, mu = np.array([0.7, -0.4]), np.array([0.2, -0.3])
    e = np.exp(-a @ L @ L.T @ a / 2)
    return {"loc": -np.sin(a @ mu) * e * a,
            "scale_tril": np.tril(-np.cos(a @ mu) * e * np.outer(a, a @ L))}


def _independent_bernoulli_grad(logits, g):
    """d/dlogits E[g(sum x)] for independent Bernoulli(logits), by enumeration."""
    import itertools

    p = 1.0 / (1.0 + np.exp(-logits))
    xs = np.array(list(itertools.product([0, 1], repeat=len(p))), dtype=np.float64)
    w = np.prod(np.where(xs == 1, p, 1 - p), axis=1)
    gx = g(xs.sum(axis=1))
    return np.array([np.sum(w * gx * (xs[:, j] - p[j])) for j in range(len(p))])


def _vimco_scale_k2(sigma, points=120):
    """d/dsigma E[log((exp(sigma z1) + exp(sigma z2)) / 2)], z iid N(0, 1): the pathwise
    E[sum_k softmax(sigma z)_k z_k], by Gauss-Hermite quadrature."""
    t, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / w.sum()
    z1, z2 = np.meshgrid(t, t, indexing="ij")
    a, b = sigma * z1, sigma * z2
    m = np.maximum(a, b)
    e1, e2 = np.exp(a - m), np.exp(b - m)
    val = (e1 * z1 + e2 * z2) / (e1 + e2)
    return float(np.sum(w[:, None] * w[None, :] * val))


def measure(case, estimator, method, n, R, seed, **options):
    """{parameter: (ratio, z, coverage, ratio_sd)} per component (flattened).

    ratio = var(grad across rows) / mean(stderr^2); z = (mean grad - exact) /
    (sd / sqrt(R)); coverage of the 95% normal interval; ratio_sd the ratio's
    own sampling sd (from 16 groups of rows).
    """
    d = case.make(R)
    est = fs.estimate(d, case.f, n, rng=seed, estimator=estimator, method=method, **options)
    out = {}
    for p, g in est.grad.items():
        if np.isnan(g).all():  # no such gradient for this estimator (measure: Gamma's shape)
            continue
        g = np.asarray(g).reshape(R, -1)
        se = np.asarray(est.stderr[p]).reshape(R, -1)
        ex = np.broadcast_to(np.asarray(case.exact[p], dtype=np.float64).ravel(), g.shape[1:])
        for j in range(g.shape[1]):
            gj, sj = g[:, j], se[:, j]
            var, ms = gj.var(ddof=1), np.mean(sj * sj)
            tiny = (1e-12 * (1.0 + abs(ex[j]))) ** 2
            # an exact estimator (stderr 0, the same number up to rounding) is honest too
            exact = ms == 0.0 and var <= tiny
            ratio = 1.0 if exact else var / ms
            sd = 0.0 if exact else gj.std(ddof=1)
            z = ((gj.mean() - ex[j]) / (sd / np.sqrt(R)) if sd > 0
                 else (0.0 if abs(gj.mean() - ex[j]) <= 1e-9 * (1 + abs(ex[j])) else np.inf))
            cover = np.mean(np.abs(gj - ex[j]) <= 1.96 * sj)
            groups = np.array_split(np.arange(R), 16)
            rs = [1.0 if exact else gj[ix].var(ddof=1) / np.mean(sj[ix] ** 2) for ix in groups]
            out["%s[%d]" % (p, j)] = (ratio, z, cover, np.std(rs, ddof=1) / 4.0)
    return out
