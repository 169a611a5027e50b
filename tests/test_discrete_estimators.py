"""Gradients of discrete variables: Concrete, REBAR, ARM and DisARM (and the relaxed families).

The toy of the REBAR paper, E_{b ~ Bernoulli(theta)}[(b - t)^2] with t = 0.45
(exact gradient 1 - 2t in probs), checks unbiasedness and variance; a
categorical batch checks the vector case; compiled == reference on identical
draws, thread determinism, the conditional relaxed sample's H(z~) = b on
every sample, and clear errors.
"""

import ctypes
import math

import numpy as np
import pytest
from scipy import LowLevelCallable, special

import fastscore as fs
from fastscore import _kernels
from fastscore._rng import key_from_rng

T = 0.45
N = 200_000


def toy_f(b):
    return (np.asarray(b, dtype=np.float64) - T) ** 2


def toy_grad(b):
    return 2.0 * (np.asarray(b, dtype=np.float64) - T)


def toy(theta, by):
    """(distribution, exact gradient) of the toy, parameterised by probs or logits."""
    if by == "probs":
        return fs.Bernoulli(probs=theta), 1.0 - 2.0 * T
    return fs.Bernoulli(logits=special.logit(theta)), (1.0 - 2.0 * T) * theta * (1 - theta)


@pytest.mark.parametrize("by", ["probs", "logits"])
@pytest.mark.parametrize("theta", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("estimator", ["rebar", "disarm", "arm"])
def test_toy_unbiased_with_less_variance_than_the_score_function(estimator, theta, by):
    d, exact = toy(theta, by)
    kw = {"grad_f": toy_grad} if estimator == "rebar" else {}
    est = fs.estimate(d, toy_f, N, rng=7, estimator=estimator, **kw)
    plain = fs.estimate(d, toy_f, N, rng=7)
    g, se = float(est.grad[by]), float(est.stderr[by])
    assert abs(g - exact) <= 4 * se + 1e-12 * abs(exact), (g, exact, se)
    assert se < 0.5 * float(plain.stderr[by]), (se, float(plain.stderr[by]))
    assert est.estimator == estimator


def test_rebar_reports_its_temperature_and_eta():
    d, _ = toy(0.3, "logits")
    est = fs.estimate(d, toy_f, 50_000, rng=1, estimator="rebar", grad_f=toy_grad)
    assert float(est.info["temperature"]["logits"]) in fs._kinds.Rebar.TEMPERATURES
    assert np.isfinite(est.info["eta"]["logits"]) and est.info["eta"]["logits"] != 0
    fixed = fs.estimate(d, toy_f, 50_000, rng=1, estimator="rebar", grad_f=toy_grad,
                        temperature=0.5, eta=1.0)
    assert float(fixed.info["eta"]["logits"]) == 1.0
    assert float(fixed.info["temperature"]["logits"]) == 0.5


def test_rebar_with_eta_zero_is_the_score_function_on_its_draws():
    """eta = 0 leaves A = f(b) dlog p(b): the plain score-function estimate on REBAR's own b."""
    theta = 0.3
    d = fs.Bernoulli(logits=special.logit(theta))
    n = 3 * fs.CHUNK_SIZE + 11
    est = fs.estimate(d, toy_f, n, rng=4, estimator="rebar", grad_f=toy_grad, temperature=0.5,
                      eta=0.0)
    plan = d.relaxation(0.5).plan()
    key = key_from_rng(4)
    fpts, _, aux = _kernels.rebar_samples(plan.family.id, plan.consts, key[0], key[1], n, 1)
    b = aux[:, 0, 0]
    terms = toy_f(b) * (b - theta)
    assert float(est.grad["logits"]) == pytest.approx(terms.mean(), rel=1e-12)
    assert float(est.stderr["logits"]) == pytest.approx(terms.std(ddof=1) / math.sqrt(n),
                                                        rel=1e-9)


def test_conditional_relaxed_sample_has_the_hard_sample_as_its_argmax():
    """H(z~) = b on every sample (Bernoulli and Categorical, with a zero probability)."""
    key = key_from_rng(11)
    n = fs.CHUNK_SIZE + 99
    rb = fs.RelaxedBernoulli(0.5, logits=np.array([-2.0, 0.0, 3.0]))
    plan = rb.plan()
    fpts, gpts, aux = _kernels.rebar_samples(plan.family.id, plan.consts, key[0], key[1], n, 1)
    b = aux[:, :, 0]
    assert set(np.unique(b)) == {0.0, 1.0}
    np.testing.assert_array_equal((gpts[1][..., 0] > 0.5).astype(float), b)   # y~ side of 1/2
    np.testing.assert_array_equal(fpts[0][..., 0], b)                        # f at b
    probs = np.array([[0.2, 0.5, 0.3, 0.0], [0.7, 0.1, 0.1, 0.1]])
    rc = fs.RelaxedCategorical(0.7, probs=probs)
    plan = rc.plan()
    fpts, gpts, aux = _kernels.rebar_samples(plan.family.id, plan.consts, key[0], key[1], n, 4)
    b = aux[:, :, 0].astype(np.int64)
    np.testing.assert_array_equal(np.argmax(gpts[1], axis=-1), b)             # H(z~) = b
    np.testing.assert_array_equal(np.argmax(fpts[0], axis=-1), b)             # one-hot b
    assert not np.any(b[:, 0] == 3)                                          # probability 0
    # b is a draw of the Categorical itself
    assert np.bincount(b[:, 1], minlength=4) / n == pytest.approx(probs[1], abs=0.01)


def test_rebar_draws_equal_their_numpy_twin():
    from fastscore import reference

    key = key_from_rng(12)
    n = fs.CHUNK_SIZE + 40
    for d in (fs.RelaxedBernoulli(0.3, probs=np.array([0.2, 0.9])),
              fs.RelaxedCategorical(1.5, logits=np.array([[0.1, -1.0, 2.0]]))):
        plan = d.plan()
        got = _kernels.rebar_samples(plan.family.id, plan.consts, key[0], key[1], n, plan.E)
        want = reference.rebar_sample(plan, n, key)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_concrete_bias_shrinks_with_the_temperature():
    """|E[relaxed gradient] - discrete gradient| falls as the temperature falls (the toy)."""
    d, exact = toy(0.5, "logits")
    bias = []
    for t in (1.0, 0.5, 0.1):
        est = fs.estimate(d, toy_f, 10 ** 6, rng=3, estimator="concrete", temperature=t,
                          grad_f=toy_grad)
        bias.append((abs(float(est.grad["logits"]) - exact), float(est.stderr["logits"])))
    for (b_hi, se_hi), (b_lo, se_lo) in zip(bias, bias[1:]):
        assert b_hi - b_lo > 3 * math.hypot(se_hi, se_lo), bias
    assert bias[0][0] > 10 * bias[0][1]   # biased, by many standard errors, at t = 1


def test_straight_through_evaluates_f_at_the_hard_sample():
    """E[f] of the straight-through estimate is the discrete one; the gradient is biased."""
    theta = 0.3
    d = fs.Bernoulli(probs=theta)
    est = fs.estimate(d, toy_f, N, rng=5, estimator="concrete", temperature=0.5,
                      straight_through=True, grad_f=toy_grad)
    exact_value = (1 - theta) * T ** 2 + theta * (1 - T) ** 2
    assert abs(float(est.value) - exact_value) < 4 * float(est.value_stderr)
    relaxed = fs.estimate(d, toy_f, N, rng=5, estimator="concrete", temperature=0.5,
                          grad_f=toy_grad)
    assert abs(float(relaxed.value) - exact_value) > 10 * float(relaxed.value_stderr)


def test_categorical_batch_estimators_are_unbiased_or_biased_as_documented():
    g = np.random.default_rng(0)
    logits, rewards = g.normal(size=(300, 5)), g.normal(size=(300, 5))
    d = fs.Categorical(logits=logits)
    p = special.softmax(logits, axis=-1)
    exact = p * (rewards - (p * rewards).sum(-1, keepdims=True))
    f = fs.fn.table(rewards)
    for kw in (dict(estimator="rebar"), dict(estimator="rebar", temperature=0.5, eta=1.0),
               dict(estimator="measure"), dict(estimator="score", method="rloo")):
        est = fs.estimate(d, f, 256, rng=6, **kw)
        err, se = est.grad["logits"] - exact, est.stderr["logits"]
        # 1500 errors of an unbiased, calibrated estimator: as large as its standard errors
        # (in mean square), with no common sign
        assert 0.85 < np.sqrt((err ** 2).mean() / (se ** 2).mean()) < 1.15, kw
        assert abs(err.mean()) < 4 * np.sqrt((se ** 2).mean() / err.size), kw
    biased = fs.estimate(d, f, 4096, rng=6, estimator="concrete", temperature=1.0)
    err, se = biased.grad["logits"] - exact, biased.stderr["logits"]
    assert np.sqrt((err ** 2).mean() / (se ** 2).mean()) > 3


def test_relaxed_pathwise_matches_quadrature():
    """RelaxedBernoulli with f = y: the pathwise gradient against d/dlogits of the
    quadrature of E[y]."""
    from scipy import integrate

    t, l = 0.6, 0.4

    def mean(lv):
        return integrate.quad(lambda u: special.expit((lv + special.logit(u)) / t), 0, 1,
                              epsabs=1e-13, epsrel=1e-12)[0]
    exact = (mean(l + 1e-5) - mean(l - 1e-5)) / 2e-5
    d = fs.RelaxedBernoulli(t, logits=l)
    for est in (fs.estimate(d, fs.fn.power(1), N, rng=8, estimator="pathwise"),
                fs.estimate(d, fs.fn.power(1), N, rng=8)):
        assert abs(float(est.grad["logits"]) - exact) < 4 * float(est.stderr["logits"])


# -- compiled == reference, threads --------------------------------------------

_GRAD = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                         ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double))
_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)
LL_F = _VECTOR(lambda p, e, b, u: sum(math.sin(p[k]) * (k + 1) for k in range(e)))


def _ll_grad(p, e, b, u, out):
    for k in range(e):
        out[k] = math.cos(p[k]) * (k + 1)


LL_GRAD = _GRAD(_ll_grad)


def py_f(x):
    x = np.asarray(x, dtype=np.float64)
    return np.sin(x) if x.ndim < 3 else (np.sin(x) * np.arange(1, x.shape[-1] + 1)).sum(-1)


def py_grad(x):
    x = np.asarray(x, dtype=np.float64)
    return np.cos(x) if x.ndim < 3 else np.cos(x) * np.arange(1, x.shape[-1] + 1)


DISTS = {
    "Bernoulli(probs)": lambda: fs.Bernoulli(probs=np.array([0.2, 0.7])),
    "Bernoulli(logits)": lambda: fs.Bernoulli(logits=np.array([-1.0, 0.5])),
    "Categorical(probs)": lambda: fs.Categorical(probs=np.array([[1.0, 2.0, 0.5],
                                                                 [0.3, 0.3, 3.0]])),
    "Categorical(logits)": lambda: fs.Categorical(logits=np.array([[0.2, -1.0, 0.5],
                                                                   [1.0, 0.0, -2.0]])),
}
RUNS = [(name, kw) for name in DISTS for kw in (
    dict(estimator="concrete", temperature=0.4),
    dict(estimator="concrete", temperature=0.4, straight_through=True),
    dict(estimator="rebar"), dict(estimator="rebar", temperature=0.8, eta=0.7),
    dict(estimator="arm"), dict(estimator="disarm"))
    if kw["estimator"] not in ("arm", "disarm") or name.startswith("Bernoulli")]


@pytest.mark.parametrize("name,kw", RUNS, ids=["%s-%s" % (n, "-".join(map(str, k.values())))
                                              for n, k in RUNS])
def test_compiled_equals_reference_and_threads(name, kw):
    d = DISTS[name]()
    K = 2 if name.startswith("Bernoulli") else 3
    table = fs.fn.table(np.array([[0.5, -1.0, 2.0][:K], [1.5, 0.3, -0.7][:K]]))
    relaxes = kw["estimator"] in ("concrete", "rebar")
    kinds = [("builtin", table, None), ("python", py_f, py_grad if relaxes else None)]
    if relaxes:
        kinds.append(("lowlevel", LowLevelCallable(LL_F), LowLevelCallable(LL_GRAD)))
    n = fs.CHUNK_SIZE + 33
    for label, f, g in kinds:
        got = fs.estimate(d, f, n, rng=21, grad_f=g, n_threads=1, **kw)
        ref = fs.estimate(d, f, n, rng=21, grad_f=g, backend="reference", **kw)
        for key in got.grad:
            scale = np.abs(ref.grad[key]) + ref.stderr[key]
            assert np.all(np.abs(got.grad[key] - ref.grad[key]) <= 1e-10 * scale), label
            assert np.all(np.abs(got.stderr[key] - ref.stderr[key])
                          <= 1e-8 * ref.stderr[key] + 1e-300), label
        np.testing.assert_allclose(got.value, ref.value, rtol=1e-12)
        other = fs.estimate(d, f, n, rng=21, grad_f=g, n_threads=3, **kw)
        for key in got.grad:
            np.testing.assert_array_equal(other.grad[key], got.grad[key])
            np.testing.assert_array_equal(other.stderr[key], got.stderr[key])


def test_a_large_policy_batch_runs_fused():
    """A policy of 1e5 rows: every discrete estimator, batched, finite, shapes right."""
    g = np.random.default_rng(1)
    d = fs.Categorical(logits=g.normal(size=(100_000, 4)))
    f = fs.fn.table(g.normal(size=(100_000, 4)))
    for kw in (dict(estimator="concrete", temperature=0.5), dict(estimator="rebar",
                                                                 temperature=0.5)):
        est = fs.estimate(d, f, 8, rng=0, **kw)
        assert est.grad["logits"].shape == (100_000, 4)
        assert np.all(np.isfinite(est.grad["logits"]))


# -- errors ----------------------------------------------------------------------

def test_errors():
    d = fs.Bernoulli(probs=0.3)
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        fs.estimate(d, toy_f, 100, estimator="concrete", temperature=0.0, grad_f=toy_grad)
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        fs.estimate(d, toy_f, 100, estimator="rebar", temperature=-1.0, grad_f=toy_grad)
    with pytest.raises(TypeError, match="needs temperature="):
        fs.estimate(d, toy_f, 100, estimator="concrete", grad_f=toy_grad)
    with pytest.raises(ValueError, match="temperature must be a number > 0, got 'auto'"):
        fs.estimate(d, toy_f, 100, estimator="concrete", temperature="auto", grad_f=toy_grad)
    with pytest.raises(NotImplementedError, match="Normal has no continuous relaxation"):
        fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, estimator="concrete",
                    temperature=0.5)
    with pytest.raises(NotImplementedError, match="Poisson has no continuous relaxation"):
        fs.estimate(fs.Poisson(2.0), fs.fn.power(2), 100, estimator="rebar")
    with pytest.raises(TypeError, match="needs the derivative of f"):
        fs.estimate(d, toy_f, 100, estimator="rebar")
    with pytest.raises(TypeError, match="needs the derivative of f"):
        fs.estimate(d, toy_f, 100, estimator="concrete", temperature=0.5)
    with pytest.raises(NotImplementedError, match="Categorical.*ARSM"):
        fs.estimate(fs.Categorical(logits=[0.0, 1.0]), fs.fn.table([1.0, 2.0]), 100,
                    estimator="disarm")
    with pytest.raises(ValueError, match="temperature is only used with estimator="):
        fs.estimate(d, toy_f, 100, temperature=0.5)
    with pytest.raises(ValueError, match="straight_through is only used"):
        fs.estimate(d, toy_f, 100, estimator="rebar", straight_through=True, grad_f=toy_grad)
    with pytest.raises(ValueError, match="eta is only used"):
        fs.estimate(d, toy_f, 100, estimator="concrete", temperature=0.5, eta=1.0,
                    grad_f=toy_grad)
    with pytest.raises(ValueError, match="eta must be 'auto' or finite"):
        fs.estimate(d, toy_f, 100, estimator="rebar", eta=np.nan, grad_f=toy_grad)
    with pytest.raises(TypeError, match="straight_through must be True or False"):
        fs.estimate(d, toy_f, 100, estimator="concrete", temperature=0.5,
                    straight_through="yes", grad_f=toy_grad)
    with pytest.raises(ValueError, match="'temperature' must be > 0"):
        fs.RelaxedCategorical(0.0, logits=[0.0, 1.0])
    with pytest.raises(ValueError, match="values needs 2 entries"):
        fs.estimate(d, fs.fn.table([1.0, 2.0, 3.0]), 100, estimator="concrete",
                    temperature=0.5)
