"""Lower variance on joint distributions: IndeCateR and the multivariate DisARM.

Against gradients enumerated exactly (independent Bernoulli of 12,
Categorical of 6 x 10), on both backends, with the same bits for 1 and 2
threads, and honest standard errors.
"""

import itertools

import numpy as np
import pytest
from scipy import special

import fastscore as fs

Z = 4.5


def enumerated(probs, f):
    """E f and d/dlogits E f for independent categoricals probs (D, K), exactly."""
    D, K = probs.shape
    xs = np.array(list(itertools.product(range(K), repeat=D)))
    w = np.prod(probs[np.arange(D), xs], axis=1)
    fx = f(xs)
    onehot = xs[:, :, None] == np.arange(K)
    return float(w @ fx), np.einsum("s,s,sjk->jk", w, fx, onehot - probs[None])


RNG = np.random.default_rng(7)
LOGITS_6x10 = RNG.normal(size=(6, 10))
PROBS_6x10 = special.softmax(LOGITS_6x10, axis=-1)
B_6x10 = 6 * 4.5 * 0.9


def f_6x10(x):
    return np.abs(x.sum(axis=-1) - B_6x10)


@pytest.fixture(scope="module")
def exact_6x10():
    return enumerated(PROBS_6x10, f_6x10)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_indecater_categorical_6x10_against_enumeration(backend, exact_6x10):
    value, grad = exact_6x10
    d = fs.Independent(fs.Categorical(logits=LOGITS_6x10), 1)
    est = fs.estimate(d, f_6x10, n=3000, rng=1, estimator="indecater", backend=backend)
    assert est.estimator == "indecater"
    assert abs(est.value - value) < Z * est.value_stderr
    assert np.all(np.abs(est.grad["logits"] - grad) < Z * est.stderr["logits"])


def test_indecater_probs_parameterisation(exact_6x10):
    # d/dprobs_k of normalised probs: (d/dlogits) / probs_k at probs summing to 1
    _, grad = exact_6x10
    d = fs.Independent(fs.Categorical(probs=PROBS_6x10), 1)
    est = fs.estimate(d, f_6x10, n=3000, rng=1, estimator="indecater")
    assert np.all(np.abs(est.grad["probs"] - grad / PROBS_6x10) < Z * est.stderr["probs"])


P12 = np.linspace(0.1, 0.85, 12)


def f_12(x):
    return (x.sum(axis=-1) - 5.3) ** 2


@pytest.mark.parametrize("estimator,param", [("indecater", "probs"), ("indecater", "logits"),
                                             ("disarm", "logits"), ("arm", "logits")])
def test_independent_bernoulli_12_against_enumeration(estimator, param):
    probs2 = np.stack([1 - P12, P12], axis=1)
    value, g_logits2 = enumerated(probs2, f_12)
    # the Bernoulli logit is the log-odds: d/dlogit = d/dlogits2[1] - d/dlogits2[0] over 2
    g_logit = (g_logits2[:, 1] - g_logits2[:, 0]) / 2.0
    g_probs = g_logit / (P12 * (1 - P12))
    base = fs.Bernoulli(probs=P12) if param == "probs" else fs.Bernoulli(logits=special.logit(P12))
    d = fs.Independent(base, 1)
    for backend in ("compiled", "reference"):
        est = fs.estimate(d, f_12, n=20000, rng=3, estimator=estimator, backend=backend)
        exact = g_probs if param == "probs" else g_logit
        assert abs(est.value - value) < Z * est.value_stderr
        assert np.all(np.abs(est.grad[param] - exact) < Z * est.stderr[param]), (
            backend, np.abs(est.grad[param] - exact) / est.stderr[param])


def test_indecater_threads_and_backends_agree():
    d = fs.Independent(fs.Categorical(logits=LOGITS_6x10[:3, :4]), 1)
    f = lambda x: np.cos(x.sum(-1))   # noqa: E731
    n = fs.CHUNK_SIZE + 9
    one = fs.estimate(d, f, n=n, rng=2, estimator="indecater", n_threads=1)
    two = fs.estimate(d, f, n=n, rng=2, estimator="indecater", n_threads=2)
    ref = fs.estimate(d, f, n=n, rng=2, estimator="indecater", backend="reference")
    assert np.array_equal(one.grad["logits"], two.grad["logits"])
    assert np.array_equal(one.grad["logits"], ref.grad["logits"])
    assert np.array_equal(one.stderr["logits"], ref.stderr["logits"])


def test_indecater_on_a_lone_categorical_is_exact_per_sample():
    """One coordinate: the sum over its values is the whole expectation, so every
    sample gives the exact gradient and the standard error is 0."""
    p = np.array([0.2, 0.3, 0.5])
    vals = np.array([1.0, -2.0, 4.0])
    est = fs.estimate(fs.Categorical(probs=p), fs.fn.table(vals), n=50, rng=0,
                      estimator="indecater")
    # d/dprobs_k of normalised probs summing to 1: v_k - E[v]
    np.testing.assert_allclose(est.grad["probs"], vals - p @ vals, rtol=1e-12)
    assert np.all(est.stderr["probs"] < 1e-12)


def test_indecater_beats_score_rloo_on_6x10_at_equal_samples(exact_6x10):
    d = fs.Independent(fs.Categorical(logits=LOGITS_6x10), 1)
    ind = fs.estimate(d, f_6x10, n=2000, rng=5, estimator="indecater")
    sf = fs.estimate(d, f_6x10, n=2000, rng=5, method="rloo")
    assert np.mean(ind.stderr["logits"] ** 2) < 0.2 * np.mean(sf.stderr["logits"] ** 2)


def test_indecater_standard_errors_are_honest():
    """Across 400 independent rows the spread of the estimates over the mean stderr^2
    is near 1 (within [0.85, 1.15] at this size; 1 means honest), at n = 8 per row."""
    logits = LOGITS_6x10[:3, :5]
    rows = 400
    d = fs.Independent(fs.Categorical(logits=np.broadcast_to(logits, (rows, 3, 5))), 1)
    est = fs.estimate(d, lambda x: np.abs(x.sum(-1) - 5.0), n=8, rng=9, estimator="indecater")
    g, se = est.grad["logits"], est.stderr["logits"]
    ratio = g.var(axis=0, ddof=1).mean() / (se ** 2).mean()
    assert 0.85 < ratio < 1.15, ratio


def test_indecater_refuses_other_families():
    with pytest.raises(NotImplementedError, match="indecater"):
        fs.estimate(fs.Independent(fs.Normal(np.zeros(2), 1.0), 1), lambda x: x.sum(-1), n=4,
                    rng=0, estimator="indecater")


# ------------------------------------------------------------------- VIMCO
def _vimco_scale_reference(mu, sig, K):
    """d/dsigma E[log mean_k exp(mu + sigma z_k)] by the pathwise estimator, large n."""
    rng = np.random.default_rng(1)
    total, sq, n = 0.0, 0.0, 0
    for _ in range(10):
        z = rng.standard_normal((200_000, K))
        w = special.softmax(sig * z, axis=1)
        g = (w * z).sum(axis=1)
        total, sq, n = total + g.sum(), sq + (g * g).sum(), n + g.size
    mean = total / n
    return mean, np.sqrt((sq / n - mean * mean) / n)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_vimco_normal_log_w_is_x(backend):
    """log w(x) = x: L = mu + log mean exp(sigma z_k), so d/dloc E[L] = 1 exactly."""
    mu, sig, K = 0.3, 0.9, 8
    est = fs.estimate(fs.Normal(mu, sig), lambda x: x, n=20000, rng=0, estimator="vimco",
                      num_draws=K, backend=backend)
    assert est.estimator == "vimco"
    assert abs(est.grad["loc"] - 1.0) < Z * est.stderr["loc"]
    ref, ref_se = _vimco_scale_reference(mu, sig, K)
    assert abs(est.grad["scale"] - ref) < Z * np.hypot(est.stderr["scale"], ref_se)
    # lower variance than the plain score function of the same objective on the same draws
    d = fs.Independent(fs.Normal(np.full(K, mu), sig), 1)
    x = fs.sample(d, 20000, rng=0)
    L = special.logsumexp(x, axis=-1) - np.log(K)
    plain = (L[:, None] * ((x - mu) ** 2 / sig ** 3 - 1 / sig)).sum(axis=1)
    assert est.stderr["scale"] < 0.8 * plain.std() / np.sqrt(x.shape[0])


def test_vimco_bernoulli_against_enumeration():
    logits = np.array([0.3, -0.5, 1.0])
    K = 2

    def log_w(x):
        return 0.7 * x.sum(axis=-1) - 1.0 + 0.4 * x[..., 0] * x[..., 2]

    def exact(lg):
        p = special.expit(lg)
        xs = np.array(list(itertools.product([0, 1], repeat=3 * K)), dtype=float).reshape(-1, K, 3)
        w = np.prod(np.where(xs == 1, p, 1 - p), axis=(1, 2))
        L = special.logsumexp(log_w(xs), axis=1) - np.log(K)
        return w @ L

    h = 1e-6
    grad = np.array([(exact(logits + h * e) - exact(logits - h * e)) / (2 * h)
                     for e in np.eye(3)])
    d = fs.Independent(fs.Bernoulli(logits=logits), 1)
    runs = [fs.estimate(d, log_w, n=20000, rng=2, estimator="vimco", num_draws=K, backend=be,
                        n_threads=nt) for be, nt in (("compiled", 1), ("compiled", 2),
                                                     ("reference", 1))]
    est = runs[0]
    assert abs(est.value - exact(logits)) < Z * est.value_stderr
    assert np.all(np.abs(est.grad["logits"] - grad) < Z * est.stderr["logits"])
    assert all(np.array_equal(r.grad["logits"], est.grad["logits"]) for r in runs[1:])


def test_vimco_needs_num_draws():
    with pytest.raises(TypeError, match="num_draws"):
        fs.estimate(fs.Normal(0.0, 1.0), lambda x: x, n=10, rng=0, estimator="vimco")
    with pytest.raises(ValueError, match="num_draws"):
        fs.estimate(fs.Normal(0.0, 1.0), lambda x: x, n=10, rng=0, estimator="vimco",
                    num_draws=1)
    with pytest.raises(ValueError, match="num_draws"):
        fs.estimate(fs.Normal(0.0, 1.0), lambda x: x, n=10, rng=0, num_draws=4)


# ---------------------------------------- MultivariateNormal, measure-valued
L3 = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])
MU3 = np.array([0.2, -0.1, 0.4])
A3 = np.array([0.7, -0.4, 0.3])
Q3 = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, -0.5], [0.0, -0.5, 0.5]])


def _cos_truth():
    S = L3 @ L3.T
    e = np.exp(-A3 @ S @ A3 / 2)
    return np.cos(A3 @ MU3) * e, {"loc": -np.sin(A3 @ MU3) * e * A3,
                                  "scale_tril": np.tril(-np.cos(A3 @ MU3) * e
                                                        * np.outer(A3, A3 @ L3))}


def _quad_truth():
    S = L3 @ L3.T
    return MU3 @ Q3 @ MU3 + np.trace(Q3 @ S), {"loc": 2 * Q3 @ MU3,
                                                "scale_tril": np.tril(2 * Q3 @ L3)}


@pytest.mark.parametrize("case", ["cos", "quadratic"])
@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_mvn_measure_valued_closed_forms(case, backend):
    if case == "cos":
        f, (value, grad) = (lambda x: np.cos(x @ A3)), _cos_truth()
    else:
        f, (value, grad) = (lambda x: np.einsum("...i,ij,...j->...", x, Q3, x)), _quad_truth()
    d = fs.MultivariateNormal(MU3, L3)
    est = fs.estimate(d, f, n=30000, rng=4, estimator="measure", backend=backend)
    assert abs(est.value - value) < Z * est.value_stderr
    for nm, g in grad.items():
        se = est.stderr[nm]
        lower = np.tril(np.ones_like(g, dtype=bool)) if nm == "scale_tril" else np.ones_like(
            g, dtype=bool)
        assert np.all(np.abs(est.grad[nm] - g)[lower] < Z * se[lower]), nm
        if nm == "scale_tril":
            assert np.all(est.grad[nm][~lower] == 0.0)
    # far below the score function's variance on the same problem
    sf = fs.estimate(d, f, n=30000, rng=4, method="rloo", backend=backend)
    assert np.mean(est.stderr["loc"] ** 2) < 0.5 * np.mean(sf.stderr["loc"] ** 2)


def test_mvn_measure_valued_bits_and_batches():
    d = fs.MultivariateNormal(np.stack([MU3, -MU3]), L3)
    f = lambda x: np.cos(x @ A3)   # noqa: E731
    n = fs.CHUNK_SIZE + 21
    runs = [fs.estimate(d, f, n=n, rng=8, estimator="measure", backend=be, n_threads=nt)
            for be, nt in (("compiled", 1), ("compiled", 2), ("reference", 1))]
    for r in runs[1:]:
        for nm in ("loc", "scale_tril"):
            assert np.array_equal(r.grad[nm], runs[0].grad[nm])
            assert np.array_equal(r.stderr[nm], runs[0].stderr[nm])
    assert runs[0].grad["scale_tril"].shape == (2, 3, 3)


def test_waves_slice_a_chunk_whose_terms_are_large(monkeypatch):
    """A chunk whose terms exceed the wave budget is folded in slices: the same bits on
    both backends, and the numbers of one slice per chunk to rounding."""
    from fastscore import _wrapped

    d = fs.Independent(fs.Categorical(logits=np.broadcast_to(LOGITS_6x10[:3], (4, 3, 10))), 1)
    f = lambda x: np.abs(x.sum(-1) - 12.0)   # noqa: E731
    whole = fs.estimate(d, f, n=300, rng=3, estimator="indecater")
    monkeypatch.setattr(_wrapped, "JOINT_WAVE_VALUES", 4 * 30 * 10 * 64)   # slices of 64
    sliced = fs.estimate(d, f, n=300, rng=3, estimator="indecater")
    ref = fs.estimate(d, f, n=300, rng=3, estimator="indecater", backend="reference")
    assert np.array_equal(sliced.grad["logits"], ref.grad["logits"])
    np.testing.assert_allclose(sliced.grad["logits"], whole.grad["logits"], rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(sliced.stderr["logits"], whole.stderr["logits"], rtol=1e-9)
