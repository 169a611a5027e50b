"""Scores against finite differences of scipy.stats, estimates against closed forms."""

import numpy as np
import pytest
from scipy import special, stats

import fastscore as fs
from cases import NAMES, make

R2 = np.array([0.3, 1.7])
R3 = np.array([1.0, -0.5, 2.0])
R4 = np.array([1.0, -0.5, 2.0, 0.25])
A3 = np.array([1.0, 0.0, 0.0])


# ------------------------------------------------------ scipy log-densities
def scipy_logpdf(name, p, x):
    """log p(x) from scipy.stats for the parameters p (names as fastscore's)."""
    if name == "Normal":
        return stats.norm.logpdf(x, p["loc"], p["scale"])
    if name == "LogNormal":
        return stats.lognorm.logpdf(x, p["scale"], scale=np.exp(p["loc"]))
    if name == "Exponential":
        return stats.expon.logpdf(x, scale=1.0 / p["rate"])
    if name == "Gamma":
        return stats.gamma.logpdf(x, p["concentration"], scale=1.0 / p["rate"])
    if name == "Beta":
        return stats.beta.logpdf(x, p["concentration1"], p["concentration0"])
    if name == "Chi2":
        return stats.chi2.logpdf(x, p["df"])
    if name == "VonMises":
        return stats.vonmises.logpdf(x, p["concentration"], loc=p["loc"])
    if name == "Poisson":
        return stats.poisson.logpmf(x, p["rate"])
    prob = p["probs"] if "probs" in p else special.expit(p.get("logits", 0.0))
    if name.startswith("Bernoulli"):
        return stats.bernoulli.logpmf(x, prob)
    if name.startswith("Categorical"):
        pr = p["probs"] / p["probs"].sum() if "probs" in p else special.softmax(p["logits"])
        return np.log(pr[x])
    if name.startswith("Binomial"):
        return stats.binom.logpmf(x, p["total_count"], prob)
    if name.startswith("Geometric"):
        return stats.geom.logpmf(x + 1, prob)
    if name.startswith("NegativeBinomial"):
        return stats.nbinom.logpmf(x, p["total_count"], 1.0 - prob)
    if name == "Dirichlet":
        return stats.dirichlet.logpdf(x, p["concentration"])
    if name == "MultivariateNormal":
        L = p["scale_tril"]
        return stats.multivariate_normal.logpdf(x, p["loc"], L @ L.T)
    raise KeyError(name)


def params_of(d):
    out = {k: np.array(v, dtype=float) for k, v in d._differentiable.items()}
    out.update({k: np.array(v, dtype=float) for k, v in d._fixed.items()})
    return out


@pytest.mark.parametrize("name", NAMES)
def test_score_matches_finite_differences_of_scipy(name):
    d = make(name)
    x = fs.sample(d, 6, rng=21)
    scores = fs.score(d, x)
    p0 = params_of(d)
    for pname in d.param_names:
        base = p0[pname]
        for idx in np.ndindex(base.shape):
            if pname == "scale_tril" and idx[1] > idx[0]:
                assert np.all(scores[pname][(slice(None),) + idx] == 0)
                continue
            h = 1e-6 * max(1.0, abs(base[idx]))
            up, dn = dict(p0), dict(p0)
            up[pname] = base.copy()
            dn[pname] = base.copy()
            up[pname][idx] += h
            dn[pname][idx] -= h
            for i in range(len(x)):
                fd = (scipy_logpdf(name, up, x[i]) - scipy_logpdf(name, dn, x[i])) / (2 * h)
                got = scores[pname][(i,) + idx]
                assert got == pytest.approx(fd, rel=2e-5, abs=2e-6), (pname, idx, i)


# ------------------------------------------------------- closed forms
def closed_form(name, d):
    """(f, {param: exact gradient of E[f]}) for one family."""
    p = params_of(d)
    if name == "Normal":
        return fs.fn.power(2), {"loc": 2 * p["loc"], "scale": 2 * p["scale"]}
    if name == "LogNormal":
        m = np.exp(p["loc"] + p["scale"] ** 2 / 2)
        return fs.fn.power(1), {"loc": m, "scale": p["scale"] * m}
    if name == "Exponential":
        return fs.fn.power(1), {"rate": -1 / p["rate"] ** 2}
    if name == "Gamma":
        a, r = p["concentration"], p["rate"]
        return fs.fn.power(1), {"concentration": 1 / r, "rate": -a / r ** 2}
    if name == "Beta":
        a, b = p["concentration1"], p["concentration0"]
        return fs.fn.power(1), {"concentration1": b / (a + b) ** 2,
                                "concentration0": -a / (a + b) ** 2}
    if name == "Chi2":
        return fs.fn.power(1), {"df": 1.0}
    if name == "VonMises":
        mu, k = p["loc"], p["concentration"]
        A = special.i1e(k) / special.i0e(k)
        return (lambda x: np.cos(x)), {"loc": -A * np.sin(mu),
                                       "concentration": (1 - A / k - A * A) * np.cos(mu)}
    if name == "Poisson":
        return fs.fn.power(2), {"rate": 1 + 2 * p["rate"]}
    if name == "Bernoulli(probs)":
        return fs.fn.table(R2), {"probs": R2[1] - R2[0]}
    if name == "Bernoulli(logits)":
        q = special.expit(p["logits"])
        return fs.fn.table(R2), {"logits": q * (1 - q) * (R2[1] - R2[0])}
    if name == "Categorical(logits)":
        q = special.softmax(p["logits"])
        return fs.fn.table(R3), {"logits": q * (R3 - q @ R3)}
    if name == "Categorical(probs)":
        S = p["probs"].sum()
        q = p["probs"] / S
        return fs.fn.table(R4), {"probs": (R4 - q @ R4) / S}
    N = p.get("total_count")
    if name.startswith("Binomial"):
        if "logits" in p:
            q = special.expit(p["logits"])
            return fs.fn.power(1), {"logits": N * q * (1 - q)}
        return fs.fn.power(1), {"probs": N}
    if name == "Geometric(probs)":
        return fs.fn.power(1), {"probs": -1 / p["probs"] ** 2}
    if name == "Geometric(logits)":
        q = special.expit(p["logits"])
        return fs.fn.power(1), {"logits": -(1 - q) / q}
    if name == "NegativeBinomial(probs)":
        return fs.fn.power(1), {"probs": N / (1 - p["probs"]) ** 2}
    if name == "NegativeBinomial(logits)":
        q = special.expit(p["logits"])
        return fs.fn.power(1), {"logits": N * q / (1 - q)}
    if name == "Dirichlet":
        a = p["concentration"]
        S = a.sum()
        g = -a[0] / S ** 2 * np.ones(3)
        g[0] = (S - a[0]) / S ** 2
        return fs.fn.linear(A3), {"concentration": g}
    if name == "MultivariateNormal":
        L = np.zeros((3, 3))
        L[0, 0] = 2 * p["scale_tril"][0, 0]
        return (lambda x: x[..., 0] ** 2), {"loc": np.array([2 * p["loc"][0], 0.0, 0.0]),
                                            "scale_tril": L}
    raise KeyError(name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["plain", "rloo", "cv"])
def test_gradient_matches_closed_form(name, method):
    d = make(name)
    f, exact = closed_form(name, d)
    est = fs.estimate(d, f, 200_000, rng=17, method=method)
    assert set(est.grad) == set(exact)
    for k, g in exact.items():
        se = np.asarray(est.stderr[k])
        err = np.abs(np.asarray(est.grad[k]) - g)
        # exact zeros (MVN's unused entries) must come out with zero error bars
        assert np.all((err <= 4 * se) | ((se == 0) & (err < 1e-12))), (k, est.grad[k], g, se)


@pytest.mark.parametrize("name", NAMES)
def test_score_has_mean_zero(name):
    d = make(name, batch=True)
    est = fs.estimate(d, lambda x: np.ones(x.shape[:2]), 50_000, rng=8, method="plain")
    for k in est.grad:
        g, se = np.asarray(est.grad[k]), np.asarray(est.stderr[k])
        assert np.all(np.abs(g) <= 4 * se + 1e-12), k
        assert np.all(se[np.abs(g) > 0] > 0)


# ------------------------------------------------------------- coverage
@pytest.mark.parametrize("case", ["Normal", "Categorical(logits)"])
def test_95_percent_intervals_cover(case):
    d = make(case)
    f, exact = closed_form(case, d)
    k = d.param_names[0]
    g_exact = np.ravel(exact[k])[0]
    for method in ("plain", "rloo", "cv"):
        hits = 0
        for seed in range(300):
            est = fs.estimate(d, f, 2000, rng=1000 + seed, method=method)
            g, se = np.ravel(est.grad[k])[0], np.ravel(est.stderr[k])[0]
            hits += abs(g - g_exact) <= 1.96 * se
        assert 0.92 <= hits / 300 <= 0.98, (method, hits)


# ------------------------------------------------------------- stability
@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_offset_of_f_does_not_change_rloo_or_cv(backend):
    d = make("Normal", batch=True)
    for method in ("rloo", "cv"):
        for f0, f1 in [(fs.fn.linear(1.0, 0.0), fs.fn.linear(1.0, 1e8)),
                       (lambda x: x * x, lambda x: x * x + 1e8)]:
            a = fs.estimate(d, f0, 50_000, rng=1, method=method, backend=backend)
            b = fs.estimate(d, f1, 50_000, rng=1, method=method, backend=backend)
            for k in a.grad:
                np.testing.assert_allclose(b.grad[k], a.grad[k], rtol=1e-6)
                np.testing.assert_allclose(b.stderr[k], a.stderr[k], rtol=1e-6)
    d = make("Categorical(logits)")
    a = fs.estimate(d, fs.fn.table(R3), 50_000, rng=1, method="rloo", backend=backend)
    b = fs.estimate(d, fs.fn.table(R3 + 1e8), 50_000, rng=1, method="rloo", backend=backend)
    np.testing.assert_allclose(b.grad["logits"], a.grad["logits"], rtol=1e-6)


def test_baseline_method_uses_the_baseline():
    d = make("Normal", batch=True)
    f = fs.fn.power(2)
    plain = fs.estimate(d, f, 20_000, rng=2)
    zero = fs.estimate(d, f, 20_000, rng=2, method="baseline", baseline=0.0)
    for k in plain.grad:
        np.testing.assert_allclose(zero.grad[k], plain.grad[k], rtol=1e-12)
    x = fs.sample(d, 20_000, rng=2)
    s = fs.score(d, x)
    b = np.array([1.0, 3.0])
    est = fs.estimate(d, f, 20_000, rng=2, method="baseline", baseline=b)
    for k in est.grad:
        np.testing.assert_allclose(est.grad[k], ((x * x - b) * s[k]).mean(axis=0), rtol=1e-9)


def test_estimators_match_their_formulas_on_samples():
    """The finish, checked against the estimators written out directly in NumPy."""
    d = make("Normal", batch=True)
    x = fs.sample(d, 5000, rng=6)
    fx = np.cos(x) + x ** 2
    s = fs.score(d, x)
    n = len(x)
    for k in d.param_names:
        sk = s[k]
        terms = {
            "plain": fx * sk,
            "baseline": (fx - 0.4) * sk,
            # f_i minus the mean of the other n - 1 values of f
            "rloo": (fx - (fx.sum(axis=0) - fx) / (n - 1)) * sk,
            "cv": (fx - (fx * sk ** 2).sum(axis=0) / (sk ** 2).sum(axis=0)) * sk,
        }
        for method, t in terms.items():
            kw = {"baseline": 0.4} if method == "baseline" else {}
            est = fs.estimate_from_samples(d, x, fx, method=method, **kw)
            np.testing.assert_allclose(est.grad[k], t.mean(axis=0), rtol=1e-9)
            np.testing.assert_allclose(est.stderr[k], t.std(axis=0, ddof=1) / np.sqrt(n),
                                       rtol=1e-7)
    est = fs.estimate_from_samples(d, x, fx)
    np.testing.assert_allclose(est.value, fx.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(est.value_stderr, fx.std(axis=0, ddof=1) / np.sqrt(n), rtol=1e-9)


@pytest.mark.parametrize("param", ["logits", "probs"])
def test_counted_estimates_match_their_formulas_on_samples(param):
    """Categorical's counts-to-estimates pass (compiled) against the estimators
    written out in NumPy on the very samples estimate() drew."""
    g = np.random.default_rng(11)
    p = g.dirichlet(np.ones(6), size=3)
    d = fs.Categorical(**({"probs": p} if param == "probs" else {"logits": np.log(p)}))
    r = g.normal(size=(3, 6))
    n = 3000
    x = fs.sample(d, n, rng=5)
    fx = np.take_along_axis(r, x.T, axis=1).T            # (n, 3)
    sk = fs.score(d, x)[param]                           # (n, 3, 6)
    f3 = fx[:, :, None]
    terms = {
        "plain": f3 * sk,
        "baseline": (f3 - 0.3) * sk,
        "rloo": (f3 - (fx.sum(axis=0) - fx)[:, :, None] / (n - 1)) * sk,
        "cv": (f3 - (f3 * sk ** 2).sum(axis=0) / (sk ** 2).sum(axis=0)) * sk,
    }
    for method, t in terms.items():
        kw = {"baseline": 0.3} if method == "baseline" else {}
        est = fs.estimate(d, fs.fn.table(r), n, rng=5, method=method, **kw)
        np.testing.assert_allclose(est.grad[param], t.mean(axis=0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(est.stderr[param], t.std(axis=0, ddof=1) / np.sqrt(n),
                                   rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(est.value, fx.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(est.value_stderr, fx.std(axis=0, ddof=1) / np.sqrt(n),
                                   rtol=1e-9)
