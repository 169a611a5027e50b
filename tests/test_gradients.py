"""Scores against finite differences of scipy.stats log-densities, estimates
against closed forms, and the estimators against their formulas written out in
NumPy.  The generic tests run on every case of the registry (tests/cases.py)."""

import numpy as np
import pytest

import fastscore as fs
from cases import BY_NAME, CASES, make

N = 200_000  # closed forms: within 4 standard errors
METHODS = ["plain", "baseline", "rloo", "cv"]
BASELINE = 1.0


# ------------------------------------------------- scores vs scipy.stats
@pytest.mark.parametrize("case", CASES, ids=str)
def test_score_matches_finite_differences_of_scipy(case):
    """fs.score equals central differences of the case's scipy.stats log-density,
    for each element of a batch of two, each parameter and each of its entries."""
    d = case.make((2,))
    x = fs.sample(d, 6, rng=21)
    scores = fs.score(d, x)
    assert list(scores) == list(d.param_names)
    for b in range(2):
        p0 = case.element(b)
        for name in d.param_names:
            base = p0[name]
            assert scores[name].shape == (6, 2) + base.shape
            for idx in np.ndindex(base.shape):
                got = scores[name][(slice(None), b) + idx]
                if name == "scale_tril" and idx[1] > idx[0]:
                    assert np.all(got == 0)  # no gradient above the diagonal
                    continue
                h = 1e-6 * max(1.0, abs(base[idx]))
                up, dn = dict(p0), dict(p0)
                up[name], dn[name] = base.copy(), base.copy()
                up[name][idx] += h
                dn[name][idx] -= h
                fd = (case.logpdf(up, x[:, b]) - case.logpdf(dn, x[:, b])) / (2 * h)
                np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7,
                                           err_msg="%s %s%s, element %d" % (case, name, idx, b))


# ---------------------------------------------------------- closed forms
def assert_within(est, mean, grad, k=4.0):
    """est within k standard errors of the exact values; exact zeros that come out
    with zero error bars (MultivariateNormal's entries above the diagonal) must be 0."""
    assert np.all(np.abs(est.value - mean) <= k * est.value_stderr), (est.value, mean)
    assert set(est.grad) == set(grad)
    for name, g in grad.items():
        se, err = est.stderr[name], np.abs(est.grad[name] - g)
        assert est.grad[name].shape == g.shape, (name, est.grad[name].shape, g.shape)
        ok = (err <= k * se) & (se > 0) | (se == 0) & (err < 1e-12)
        assert np.all(ok), "grad[%r] = %s, exact %s: %s stderr off" % (
            name, est.grad[name], g, err / se)


# Every method with a truth's first kind of f (its built-in where it has one); its
# Python twin (the Python-f loop to the same sums, test_compiled_vs_reference.py) with rloo.
CLOSED_FORMS = [(case, t, kind, method) for case in CASES for t, truth in enumerate(case.truths)
                for kind in truth.kinds()
                for method in (METHODS if kind == truth.kinds()[0] else ["rloo"])]
#: The elements of the closed-form tests: two of the case's first three, which lie
#: inside the parameter space (the third takes other sampler branches: Poisson's PTRS).
INSIDE = [0, 2]


@pytest.mark.parametrize("case,t,kind,method", CLOSED_FORMS,
                         ids=["%s-%d-%s-%s" % c for c in CLOSED_FORMS])
def test_estimate_matches_closed_form(case, t, kind, method):
    """E[f] and its gradient within 4 standard errors, for a batch of the case's
    elements 0 and 2 (tables: a row of rewards per element)."""
    truth = case.truths[t]
    shape = (len(INSIDE),)
    d = case.make(shape, INSIDE)
    kw = {"baseline": BASELINE} if method == "baseline" else {}
    est = fs.estimate(d, truth.f(kind, shape, INSIDE), N, rng=17, method=method, **kw)
    assert_within(est, *case.exact(truth, INSIDE))


def test_closed_form_check_can_fail():
    """A wrong 'exact' gradient (off by 5%) is rejected at this n (f = x^2)."""
    case = BY_NAME["Normal"]
    truth = case.truths[1]
    est = fs.estimate(case.make((2,)), truth.f("builtin", (2,)), N, rng=107, method="rloo")
    mean, grad = case.exact(truth, [0, 1])
    assert_within(est, mean, grad)
    with pytest.raises(AssertionError):
        assert_within(est, mean, {"loc": grad["loc"] * 1.05, "scale": grad["scale"]})


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo"])
def test_categorical_logits_gradient_rows_sum_to_zero(method):
    """sum_k score_k = 0 for logits, and these methods use one baseline for every k:
    each row of the gradient sums to zero (cv has a baseline per coordinate)."""
    case = BY_NAME["Categorical(logits)"]
    kw = {"baseline": BASELINE} if method == "baseline" else {}
    est = fs.estimate(case.make((2, 3)), case.truths[0].f("builtin", (2, 3)), 20_000, rng=105,
                      method=method, **kw)
    assert np.all(np.abs(est.grad["logits"].sum(-1)) < 1e-10)


# ------------------------------------------------- estimator formulas
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


def _cv_terms(f, s):
    """cv's cross-fitted terms written out: sample i in fold i mod 7, fold k's baseline
    sum f s^2 / sum s^2 over folds k+1, k+2, k+3 (mod 7); f (n, ...) broadcasting to s."""
    n = s.shape[0]
    fold = np.arange(n) % 7
    t = np.empty(np.broadcast_shapes(np.shape(f), s.shape))
    f = np.broadcast_to(f, t.shape)
    for k in range(7):
        use = np.isin(fold, [(k + r) % 7 for r in (1, 2, 3)])
        b = (f[use] * s[use] ** 2).sum(axis=0) / (s[use] ** 2).sum(axis=0)
        t[fold == k] = (f[fold == k] - b) * s[fold == k]
    return t


def _stderr(method, t):
    """The method's standard error from its terms t (n, ...)."""
    n = t.shape[0]
    if method == "rloo":  # unbiased for the correlated rloo terms
        m2, g = (t * t).mean(axis=0), t.mean(axis=0)
        return np.sqrt(((n - 1) * m2 - (n - 2) * g * g) / (n * n - 2 * n + 2))
    return t.std(axis=0, ddof=1) / np.sqrt(n)


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
            "cv": _cv_terms(fx, sk),
        }
        for method, t in terms.items():
            kw = {"baseline": 0.4} if method == "baseline" else {}
            est = fs.estimate_from_samples(d, x, fx, method=method, **kw)
            np.testing.assert_allclose(est.grad[k], t.mean(axis=0), rtol=1e-9)
            np.testing.assert_allclose(est.stderr[k], _stderr(method, t), rtol=1e-7)
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
        "cv": _cv_terms(f3, sk),
    }
    for method, t in terms.items():
        kw = {"baseline": 0.3} if method == "baseline" else {}
        est = fs.estimate(d, fs.fn.table(r), n, rng=5, method=method, **kw)
        np.testing.assert_allclose(est.grad[param], t.mean(axis=0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(est.stderr[param], _stderr(method, t), rtol=1e-7,
                                   atol=1e-12)
        np.testing.assert_allclose(est.value, fx.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(est.value_stderr, fx.std(axis=0, ddof=1) / np.sqrt(n),
                                   rtol=1e-9)
