"""The pathwise and measure-valued estimators (beside the score function).

For every family each estimator supports: estimates against closed-form
gradients (central differences of the closed-form E[f] in the parameters),
compiled == reference on identical draws, bit-identical for any thread count,
the measure-valued draws equal to their NumPy twins, and clear errors where an
estimator does not apply.
"""

import ctypes
import math
import warnings

import numpy as np
import pytest
from scipy import LowLevelCallable, special

import fastscore as fs
from _examples import load_example

N = 200_000
CHUNK = fs.CHUNK_SIZE


def sq(x):
    return np.asarray(x, dtype=float) ** 2


def dsq(x):
    return 2.0 * np.asarray(x, dtype=float)


#: name -> (family class, differentiable params, fixed params, f, grad_f, E[f](params), kinds)
#: Parameters are scalars, or arrays for vector families; E[f] is a closed form.
CASES = {
    "Normal": (fs.Normal, dict(loc=0.7, scale=1.3), {}, fs.fn.power(2), None,
               lambda p: p["loc"] ** 2 + p["scale"] ** 2, ("pathwise", "measure")),
    "LogNormal": (fs.LogNormal, dict(loc=0.2, scale=0.4), {}, fs.fn.power(2), None,
                  lambda p: np.exp(2 * p["loc"] + 2 * p["scale"] ** 2), ("pathwise", "measure")),
    "Exponential": (fs.Exponential, dict(rate=1.7), {}, fs.fn.power(2), None,
                    lambda p: 2.0 / p["rate"] ** 2, ("pathwise", "measure")),
    "Gamma": (fs.Gamma, dict(concentration=2.5, rate=1.5), {}, fs.fn.power(2), None,
              lambda p: p["concentration"] * (p["concentration"] + 1) / p["rate"] ** 2,
              ("pathwise", "measure")),
    "Gamma(small)": (fs.Gamma, dict(concentration=0.3, rate=2.0), {}, fs.fn.power(1), None,
                     lambda p: p["concentration"] / p["rate"], ("pathwise",)),
    "Beta": (fs.Beta, dict(concentration1=2.0, concentration0=3.0), {}, fs.fn.power(2), None,
             lambda p: (p["concentration1"] * (p["concentration1"] + 1)
                        / ((p["concentration1"] + p["concentration0"])
                           * (p["concentration1"] + p["concentration0"] + 1))), ("pathwise",)),
    "Chi2": (fs.Chi2, dict(df=3.0), {}, fs.fn.power(2), None,
             lambda p: p["df"] * (p["df"] + 2), ("pathwise",)),
    "VonMises": (fs.VonMises, dict(loc=0.4, concentration=2.0), {}, np.cos, np.sin,
                 lambda p: np.cos(p["loc"]) * special.i1e(p["concentration"])
                 / special.i0e(p["concentration"]), ("pathwise",)),
    "Dirichlet": (fs.Dirichlet, dict(concentration=np.array([1.5, 2.0, 0.8])), {},
                  lambda x: x[..., 0] ** 2 + 3.0 * x[..., 2],
                  lambda x: np.stack([2 * x[..., 0], 0 * x[..., 1], 3.0 + 0 * x[..., 2]], -1),
                  lambda p: (p["concentration"][0] * (p["concentration"][0] + 1)
                             / (p["concentration"].sum() * (p["concentration"].sum() + 1))
                             + 3.0 * p["concentration"][2] / p["concentration"].sum()),
                  ("pathwise",)),
    "MultivariateNormal": (fs.MultivariateNormal,
                           dict(loc=np.array([0.5, -1.0]),
                                scale_tril=np.array([[1.0, 0.0], [0.4, 0.8]])), {},
                           lambda x: (x ** 2).sum(-1), lambda x: 2.0 * x,
                           lambda p: (p["loc"] ** 2).sum() + (np.tril(p["scale_tril"]) ** 2).sum(),
                           ("pathwise",)),
    "Poisson": (fs.Poisson, dict(rate=2.5), {}, fs.fn.power(2), None,
                lambda p: p["rate"] + p["rate"] ** 2, ("measure",)),
    "Binomial(probs)": (fs.Binomial, dict(probs=0.3), dict(total_count=12), fs.fn.power(2), None,
                        lambda p: 12 * p["probs"] * (1 - p["probs"]) + (12 * p["probs"]) ** 2,
                        ("measure",)),
    "Binomial(logits)": (fs.Binomial, dict(logits=-0.4), dict(total_count=3000), fs.fn.power(1),
                         None, lambda p: 3000 * special.expit(p["logits"]), ("measure",)),
    "Geometric(probs)": (fs.Geometric, dict(probs=0.35), {}, fs.fn.power(2), None,
                         lambda p: (1 - p["probs"]) * (2 - p["probs"]) / p["probs"] ** 2,
                         ("measure",)),
    "Geometric(logits)": (fs.Geometric, dict(logits=0.3), {}, fs.fn.power(1), None,
                          lambda p: special.expit(-p["logits"]) / special.expit(p["logits"]),
                          ("measure",)),
    "NegativeBinomial(probs)": (fs.NegativeBinomial, dict(probs=0.4), dict(total_count=3.5),
                                fs.fn.power(2), None,
                                lambda p: (3.5 * p["probs"] / (1 - p["probs"]) ** 2
                                           + (3.5 * p["probs"] / (1 - p["probs"])) ** 2),
                                ("measure",)),
    "NegativeBinomial(logits)": (fs.NegativeBinomial, dict(logits=-0.2), dict(total_count=2.0),
                                 fs.fn.power(1), None, lambda p: 2.0 * np.exp(p["logits"]),
                                 ("measure",)),
    "Bernoulli(probs)": (fs.Bernoulli, dict(probs=0.3), {}, fs.fn.table([1.5, -2.0]), None,
                         lambda p: 1.5 * (1 - p["probs"]) - 2.0 * p["probs"], ("measure",)),
    "Bernoulli(logits)": (fs.Bernoulli, dict(logits=0.6), {}, fs.fn.table([1.5, -2.0]), None,
                          lambda p: 1.5 - 3.5 * special.expit(p["logits"]), ("measure",)),
    "Categorical(logits)": (fs.Categorical, dict(logits=np.array([0.2, -0.5, 1.0, 0.0])), {},
                            fs.fn.table([1.0, 4.0, -2.0, 0.5]), None,
                            lambda p: special.softmax(p["logits"]) @ np.array([1.0, 4.0, -2.0, 0.5]),
                            ("measure",)),
    "Categorical(probs)": (fs.Categorical, dict(probs=np.array([1.0, 2.0, 3.0])), {},
                           fs.fn.table([1.0, 4.0, -2.0]), None,
                           lambda p: p["probs"] / p["probs"].sum() @ np.array([1.0, 4.0, -2.0]),
                           ("measure",)),
}
RUNS = [(name, kind) for name, case in CASES.items() for kind in case[6]]


def build(name):
    cls, diff, fixed, *_ = CASES[name]
    return cls(**fixed, **{k: np.asarray(v, dtype=float) for k, v in diff.items()})


def exact_grad(name):
    """Central differences of the closed-form E[f] in each differentiable parameter."""
    _, diff, _, _, _, mean, _ = CASES[name]
    out = {}
    for k, v in diff.items():
        v = np.asarray(v, dtype=float)
        g = np.zeros(v.shape)
        for idx in np.ndindex(v.shape):
            h = 1e-5 * max(1.0, abs(float(v[idx])))
            up, dn = dict(diff), dict(diff)
            vu, vd = v.copy(), v.copy()
            vu[idx] += h
            vd[idx] -= h
            up[k], dn[k] = vu, vd
            g[idx] = (mean(up) - mean(dn)) / (2 * h)
        out[k] = g
    return out


def f_and_grad(name, kind):
    _, _, _, f, grad, _, _ = CASES[name]
    if isinstance(f, fs.fn.Function):
        return f, None
    if kind == "pathwise":
        if grad is np.sin:  # VonMises: f = cos
            return np.cos, lambda x: -np.sin(x)
        return f, grad
    return f, None


@pytest.mark.parametrize("name,kind", RUNS, ids=["%s-%s" % r for r in RUNS])
def test_estimate_matches_closed_form_gradient(name, kind):
    d = build(name)
    f, g = f_and_grad(name, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Gamma's concentration (measure)
        est = fs.estimate(d, f, N, rng=5, estimator=kind, grad_f=g)
    assert est.estimator == kind and est.method == "plain"
    exact = exact_grad(name)
    for k, want in exact.items():
        got, se = est.grad[k], est.stderr[k]
        if kind == "measure" and name.startswith("Gamma") and k == "concentration":
            assert np.all(np.isnan(got)) and np.all(np.isnan(se))
            continue
        assert np.all(np.isfinite(got)), (k, got)
        tol = 4 * se + 1e-6 * np.abs(want) + 1e-12
        assert np.all(np.abs(got - want) <= tol), (name, kind, k, got, want, se)


def test_the_done_when_of_the_three_estimators():
    """N(1, 1), f = x^2, n = 1e6: every estimator gives d/dloc = d/dscale = 2 within 4
    standard errors, and single-sample variances within 5% of the exact ones."""
    ex = load_example("estimators").exact("(x-k)^2", 0.0)       # (x - 0)^2 = x^2
    n = 10 ** 6
    columns = {"score": "score", "pathwise": "pathwise", "measure": "measure"}
    for kind, col in columns.items():
        est = fs.estimate(fs.Normal(1.0, 1.0), fs.fn.power(2), n, rng=0, estimator=kind)
        for p in ("loc", "scale"):
            assert abs(est.grad[p] - 2.0) < 4 * est.stderr[p], (kind, p)
            var = n * float(est.stderr[p]) ** 2
            assert var == pytest.approx(ex[col, p], rel=0.05), (kind, p, var, ex[col, p])


# -- compiled == reference, threads ------------------------------------------

_SCALAR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
_GRAD = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                         ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double))
_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)


def _ll_f(p, e, b, u):
    return sum(math.sin(p[k]) for k in range(e)) + 0.1 * b


def _ll_grad(p, e, b, u, out):
    for k in range(e):
        out[k] = math.cos(p[k])


LL_F = _VECTOR(_ll_f)
LL_GRAD = _GRAD(_ll_grad)


def batch(name):
    """A batch of two of the case's distribution (parameters perturbed)."""
    cls, diff, fixed, *_ = CASES[name]
    return cls(**fixed, **{k: np.stack([np.asarray(v, float), np.asarray(v, float) * 0.9])
                           for k, v in diff.items()})


def f_kinds(d, kind):
    """(label, f, grad_f): a built-in f, Python f, and low-level f (with low-level grad_f)."""
    E = max(d.event_size, 1)
    builtin = (fs.fn.linear(np.linspace(1.0, 2.0, E), 0.5) if E > 1 else
               fs.fn.table(np.cos(np.arange(3000.0))) if d.integer_valued and d.finite_support
               else fs.fn.power(2))

    def py_f(x):
        x = np.asarray(x, dtype=float)
        return np.sin(x).sum(-1) if E > 1 else np.sin(x)

    def py_grad(x):
        return np.cos(np.asarray(x, dtype=float))

    out = [("builtin", builtin, None), ("python", py_f, py_grad if kind == "pathwise" else None),
           ("lowlevel", LowLevelCallable(LL_F),
            LowLevelCallable(LL_GRAD) if kind == "pathwise" else None)]
    if kind == "pathwise":
        out.append(("python f, low-level grad_f", py_f, LowLevelCallable(LL_GRAD)))
    return out


def assert_estimates_close(a, b, rtol=1e-10):
    for k in a.grad:
        for x, y, se in ((a.grad[k], b.grad[k], b.stderr[k]), (a.value, b.value, b.value_stderr)):
            x, y = np.asarray(x), np.asarray(y)
            ok = np.isnan(x) & np.isnan(y) | (np.abs(x - y) <= rtol * (np.abs(y) + se) + 1e-300)
            assert np.all(ok), (k, x, y)
        x, y = np.asarray(a.stderr[k]), np.asarray(b.stderr[k])
        ok = np.isnan(x) & np.isnan(y) | (np.abs(x - y) <= 1e-8 * np.abs(y) + 1e-300)
        assert np.all(ok), (k, x, y)


@pytest.mark.parametrize("name,kind", RUNS, ids=["%s-%s" % r for r in RUNS])
def test_compiled_equals_reference_and_threads(name, kind):
    d = batch(name)
    n = CHUNK + 77 if name not in ("Gamma", "Gamma(small)", "Beta", "Dirichlet") else 3000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for label, f, g in f_kinds(d, kind):
            if kind == "pathwise" and label == "builtin" and isinstance(f, fs.fn.table):
                continue
            got = fs.estimate(d, f, n, rng=9, estimator=kind, grad_f=g, n_threads=1)
            ref = fs.estimate(d, f, n, rng=9, estimator=kind, grad_f=g, backend="reference")
            assert_estimates_close(got, ref)
            two = fs.estimate(d, f, n, rng=9, estimator=kind, grad_f=g, n_threads=3)
            for k in got.grad:
                np.testing.assert_array_equal(two.grad[k], got.grad[k])
                np.testing.assert_array_equal(two.stderr[k], got.stderr[k])
            np.testing.assert_array_equal(two.value, got.value)


def test_threads_across_many_chunks():
    """Several chunks per batch element, merged in chunk order: 1, 2 and 8 threads agree."""
    for kind, d, f, g in (("pathwise", fs.Gamma([2.5, 0.7], 1.5), fs.fn.power(2), None),
                          ("pathwise", fs.Normal([0.0, 1.0], 2.0), np.sin, np.cos),
                          ("measure", fs.Poisson([3.0, 40.0]), fs.fn.power(2), None),
                          ("measure", fs.Normal([0.0, 1.0], 2.0), np.sin, None)):
        runs = [fs.estimate(d, f, 5 * CHUNK + 3, rng=1, estimator=kind, grad_f=g, n_threads=t)
                for t in (1, 2, 8)]
        for r in runs[1:]:
            for k in r.grad:
                np.testing.assert_array_equal(r.grad[k], runs[0].grad[k])
                np.testing.assert_array_equal(r.stderr[k], runs[0].stderr[k])


def test_precision_targets_continue_the_streams():
    d = fs.Normal(0.5, 1.5)
    for kind in ("pathwise", "measure"):
        est = fs.estimate(d, fs.fn.power(2), 10 ** 4, rng=2, estimator=kind, rtol=0.002)
        assert est.converged and est.n > 10 ** 4
        again = fs.estimate(d, fs.fn.power(2), est.n, rng=2, estimator=kind)
        np.testing.assert_array_equal(again.grad["loc"], est.grad["loc"])


# -- the measure-valued draws --------------------------------------------------

@pytest.mark.parametrize("name", [n for n, k in RUNS if k == "measure"
                                  and CASES[n][0] not in (fs.Bernoulli, fs.Categorical)])
def test_measure_points_equal_their_numpy_twin(name):
    """The kernel's coupled points, sample by sample, are exactly the twin's (numpy's
    Generator calls in the same order on the same stream)."""
    from fastscore import _kernels, reference
    from fastscore._rng import key_from_rng

    d = batch(name)
    plan = d.plan()
    key = key_from_rng(4)
    n = CHUNK + 5
    got = _kernels.measure_samples(plan.family.id, plan.consts, key[0], key[1], n)
    want = reference.measure_sample(plan, n, key)                  # (n, B, Q)
    np.testing.assert_array_equal(got, want.transpose(2, 0, 1))
    # the first point is a sample of the distribution: its mean is E[x]
    assert abs(got[0].mean() / want[:, :, 0].mean() - 1) < 1e-12


def test_weak_derivative_points_are_coupled():
    """Normal loc: x+ and x- are mirror images about loc; scale: x- is the sample."""
    from fastscore import reference
    from fastscore._rng import key_from_rng

    d = fs.Normal(0.7, 1.3)
    pts = reference.measure_sample(d.plan(), 2000, key_from_rng(0))[:, 0, :]
    np.testing.assert_allclose(pts[:, 1] + pts[:, 2], 2 * 0.7, atol=1e-12)
    np.testing.assert_array_equal(pts[:, 4], pts[:, 0])
    # the Maxwell point shares the sample's side of loc
    assert np.all(np.sign(pts[:, 3] - 0.7) == np.sign(pts[:, 0] - 0.7))


# -- errors --------------------------------------------------------------------

def test_discrete_family_refuses_pathwise_pointing_elsewhere():
    for d in (fs.Poisson(2.0), fs.Bernoulli(probs=0.3), fs.Categorical(logits=[0.0, 1.0])):
        with pytest.raises(NotImplementedError, match="discrete.*measure.*score"):
            fs.estimate(d, fs.fn.power(2) if not d.finite_support else fs.fn.table([1.0, 2.0]),
                        100, rng=0, estimator="pathwise")


def test_family_without_weak_derivatives_refuses_measure():
    # (MultivariateNormal has them since wave 3: tests/test_lower_variance.py)
    for d in (fs.Beta(2.0, 3.0), fs.Dirichlet([1.0, 2.0]), fs.VonMises(0.0, 1.0),
              fs.Chi2(3.0)):
        with pytest.raises(NotImplementedError, match=type(d).__name__ + ".*measure"):
            fs.estimate(d, fs.fn.linear(1.0), 100, rng=0, estimator="measure")


def test_argument_errors():
    d = fs.Normal(0.0, 1.0)
    with pytest.raises(ValueError, match="estimator must be one of"):
        fs.estimate(d, fs.fn.power(2), 100, estimator="reinforce")
    with pytest.raises(ValueError, match="method='rloo' is a choice of the score"):
        fs.estimate(d, fs.fn.power(2), 100, estimator="pathwise", method="rloo")
    with pytest.raises(ValueError, match="baseline is only used"):
        fs.estimate(d, fs.fn.power(2), 100, estimator="measure", baseline=1.0)
    with pytest.raises(TypeError, match="needs the derivative of f: pass grad_f"):
        fs.estimate(d, lambda x: x * x, 100, estimator="pathwise")
    with pytest.raises(TypeError, match="needs the derivative"):
        fs.estimate(d, LowLevelCallable(_SCALAR(lambda x: x)), 100, estimator="pathwise")
    with pytest.raises(TypeError, match="knows its derivative"):
        fs.estimate(d, fs.fn.power(2), 100, estimator="pathwise", grad_f=lambda x: 2 * x)
    with pytest.raises(ValueError, match="grad_f is only used with estimator='pathwise'"):
        fs.estimate(d, lambda x: x * x, 100, grad_f=lambda x: 2 * x)
    with pytest.raises(ValueError, match="fn.indicator is a step"):
        fs.estimate(d, fs.fn.indicator(0.0, 1.0), 100, estimator="pathwise")
    with pytest.raises(TypeError, match="grad_f: unsupported LowLevelCallable signature"):
        fs.estimate(d, lambda x: x * x, 100, estimator="pathwise",
                    grad_f=LowLevelCallable(_SCALAR(lambda x: x)))
    with pytest.raises(TypeError, match="not a fastscore.fn built-in"):
        fs.estimate(d, lambda x: x * x, 100, estimator="pathwise", grad_f=fs.fn.power(1))
    with pytest.raises(ValueError, match="grad_f returned an array of shape"):
        fs.estimate(d, lambda x: x * x, 100, estimator="pathwise", grad_f=lambda x: x[:1])


def test_gamma_measure_warns_that_concentration_has_no_weak_derivative():
    with pytest.warns(RuntimeWarning, match="'concentration'.*NaN"):
        est = fs.estimate(fs.Gamma(2.0, 1.0), fs.fn.power(1), 10_000, rng=0, estimator="measure")
    assert np.isnan(est.grad["concentration"]) and np.isfinite(est.grad["rate"])


def test_nonfinite_terms_are_reported():
    with pytest.raises(ValueError, match="pathwise estimator's per-sample terms"):
        fs.estimate(fs.Normal(0.0, 1.0), lambda x: x, 1000, rng=0, estimator="pathwise",
                    grad_f=lambda x: np.where(x > 0, np.inf, 1.0))
    est = fs.estimate(fs.Normal(0.0, 1.0), lambda x: x, 1000, rng=0, estimator="pathwise",
                      grad_f=lambda x: np.where(x > 0, np.inf, 1.0), nan_policy="propagate")
    assert np.isnan(est.stderr["loc"])


# -- the example ----------------------------------------------------------------

@pytest.mark.parametrize("fname", ["(x-k)^2", "exp(-k x^2)", "cos(k x)"])
def test_example_variances_match_the_exact_ones(fname):
    """Measured single-sample variances (n stderr^2) within sampling error of quadrature."""
    mod = load_example("estimators")
    n = 200_000
    meas, ex = mod.measured(fname, 1.5, n, rng=3), mod.exact(fname, 1.5)
    for key, want in ex.items():
        assert meas[key] == pytest.approx(want, rel=0.06), (key, meas[key], want)
