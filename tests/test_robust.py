"""Bad input and edge cases of issue 24 (items 3, 6, 7, 8, 9, 10): a clear error
naming the parameter and the rule, or the same finite answer on both backends."""

import math

import numpy as np
import pytest
from scipy import special

import fastscore as fs

BACKENDS = ["compiled", "reference"]


# -- item 6: support checks --------------------------------------------------
@pytest.mark.parametrize("dist", [fs.Poisson(3.0), fs.Geometric(probs=0.3),
                                  fs.Geometric(logits=0.3), fs.NegativeBinomial(2.0, probs=0.3),
                                  fs.NegativeBinomial(2.0, logits=-0.3)], ids=repr)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_count_families_reject_infinite_samples(dist, bad):
    with pytest.raises(ValueError, match="outside the support"):
        fs.score(dist, [1.0, bad])
    with pytest.raises(ValueError, match="outside the support"):
        fs.estimate_from_samples(dist, [1.0, bad], [1.0, 2.0])
    assert np.all(np.isfinite(fs.score(dist, [0.0, 1.0, 7.0])[dist.param_names[0]]))


@pytest.mark.parametrize("bad", [0.0, 1.0])
def test_beta_rejects_the_ends_of_its_open_interval(bad):
    d = fs.Beta(2.0, 3.0)
    with pytest.raises(ValueError, match=r"outside the support \(0 < x < 1\)"):
        fs.score(d, [0.5, bad])
    with pytest.raises(ValueError, match="outside the support"):
        fs.estimate_from_samples(d, [0.5, bad], [1.0, 2.0])
    s = fs.score(d, [1e-300, 1.0 - 2.0 ** -53])
    assert all(np.all(np.isfinite(v)) for v in s.values())


@pytest.mark.parametrize("bad", [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5, 0.0]])
def test_dirichlet_rejects_points_on_the_boundary_of_the_simplex(bad):
    d = fs.Dirichlet(np.ones(len(bad)))
    with pytest.raises(ValueError, match="outside the support"):
        fs.score(d, [bad])
    s = fs.score(fs.Dirichlet([0.5, 0.5]), [[1.0, 1e-300]])   # x_0 rounds to 1, x_1 > 0
    assert np.all(np.isfinite(s["concentration"]))


# -- item 10: samples beyond the float64 range ---------------------------------
OVERFLOW = "LogNormal: a sample overflowed float64 .* at batch element \\(1,\\), with loc=1000000000.0"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("f", [fs.fn.indicator(0.0, 1.0), fs.fn.call(1.0),
                               lambda x: np.minimum(x, 1.0)], ids=["indicator", "call", "python"])
def test_estimate_raises_when_samples_overflow(backend, f):
    d = fs.LogNormal(np.array([0.0, 1e9]), 1.0)
    with pytest.raises(ValueError, match=OVERFLOW + ".*709.78"):
        fs.estimate(d, f, 1000, rng=0, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_estimate_pathwise_raises_when_samples_overflow(backend):
    d = fs.LogNormal(np.array([0.0, 1e9]), 1.0)
    with pytest.raises(ValueError, match=OVERFLOW):
        fs.estimate(d, fs.fn.power(1), 1000, rng=0, backend=backend, estimator="pathwise")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sample_raises_when_samples_overflow(backend, n_threads):
    d = fs.LogNormal(np.array([0.0, 1e9]), 1.0)
    with pytest.raises(ValueError, match=OVERFLOW):
        fs.sample(d, 40000, rng=0, backend=backend, n_threads=n_threads)
    big = fs.Normal(np.array([0.0, 1.7e308]), 1e307)   # loc + scale z overflows for z > 1
    with pytest.raises(ValueError, match="Normal: a sample overflowed float64"):
        fs.sample(big, 100, rng=0, backend=backend, n_threads=n_threads)
    x = fs.sample(fs.LogNormal(700.0, 1.0), 1000, rng=0, backend=backend)   # finite: no error
    assert np.all(np.isfinite(x))


# -- item 7: an empty batch ----------------------------------------------------
EMPTY = [
    (fs.Normal(np.zeros(0), 1.0), fs.fn.power(2)),
    (fs.Bernoulli(logits=np.zeros(0)), fs.fn.table([1.0, 2.0])),
    (fs.Categorical(logits=np.zeros((0, 3))), fs.fn.table([1.0, 2.0, 3.0])),
    (fs.Poisson(np.ones((2, 0))), fs.fn.power(1)),
    (fs.MultivariateNormal(np.zeros((0, 2)), np.eye(2)), fs.fn.linear(1.0)),
    (fs.Dirichlet(np.ones((0, 3))), fs.fn.linear(1.0)),
]


def _shapes(est):
    return (est.value.shape, est.value_stderr.shape,
            {k: v.shape for k, v in est.grad.items()}, {k: v.shape for k, v in est.stderr.items()})


@pytest.mark.parametrize("dist,f", EMPTY, ids=lambda v: repr(v)[:40])
def test_an_empty_batch_gives_empty_results_on_both_backends(dist, f):
    B, ev = tuple(dist.batch_shape), tuple(dist.event_shape)
    seen = []

    def python_f(x):
        seen.append(x.shape)
        return np.zeros(x.shape[:1 + len(B)])

    want = None
    for backend in BACKENDS:
        for ff in (f, python_f):
            for method in ("plain", "rloo"):
                est = fs.estimate(dist, ff, 100, rng=0, backend=backend, method=method)
                got = _shapes(est)
                assert got[0] == B and got[1] == B
                for name in dist.param_names:
                    assert got[2][name] == dist.param_shape(name) == got[3][name]
                assert want is None or got == want
                want = got
        x = fs.sample(dist, 5, rng=0, backend=backend)
        assert x.shape == (5,) + B + ev
        assert x.dtype == (np.int64 if dist.integer_valued else np.float64)
    assert seen == []   # f is not called on no samples
    s = fs.score(dist, np.zeros((4,) + B + ev))
    assert {k: v.shape for k, v in s.items()} == {
        k: (4,) + dist.param_shape(k) for k in dist.param_names}
    est = fs.estimate_from_samples(dist, np.zeros((4,) + B + ev), np.zeros((4,) + B))
    assert _shapes(est) == want


def test_an_empty_batch_with_a_precision_target_and_other_estimators():
    d = fs.Normal(np.zeros(0), 1.0)
    est = fs.estimate(d, fs.fn.power(2), 100, rng=0, rtol=0.1)
    assert est.value.shape == (0,) and est.converged
    est = fs.estimate(d, fs.fn.power(2), 100, rng=0, estimator="pathwise")
    assert est.grad["scale"].shape == (0,)
    b = fs.Bernoulli(logits=np.zeros((3, 0)))
    for estimator in ("arm", "disarm", "measure"):   # (no warning about missing derivatives)
        assert fs.estimate(b, fs.fn.power(1), 100, rng=0, estimator=estimator).grad[
            "logits"].shape == (3, 0)


# -- item 9: a Python f may keep its argument ----------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dist", [fs.Normal(np.zeros(3), 1.0), fs.LogNormal(0.0, 0.5),
                                  fs.Gamma(0.5, 1.0),
                                  fs.MultivariateNormal(np.zeros(2), np.eye(2))], ids=repr)
def test_a_python_f_may_keep_its_argument(backend, dist):
    kept = []

    def f(x):
        kept.append(x)
        assert not x.flags.writeable   # the kernels score these very samples afterwards
        y = x.reshape(x.shape[:1 + len(dist.batch_shape)] + (-1,)).sum(-1)
        return y

    n = 70 * fs.CHUNK_SIZE + 5   # more than one wave's budget (2**20 numbers)
    fs.estimate(dist, f, n, rng=3, backend=backend)
    if backend == "compiled":
        assert len(kept) > 1   # several waves (the 8 MiB budget)
    got = np.concatenate(kept)
    np.testing.assert_array_equal(got, fs.sample(dist, n, rng=3))


# -- item 8: messages ----------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_score_estimators_overflow_message_describes_the_score(backend):
    with pytest.raises(ValueError) as info:
        fs.estimate(fs.Normal(0.0, 1e-170), fs.fn.power(2), 100, rng=0, backend=backend)
    assert "the score, or f times the score, is not finite" in str(info.value)
    assert "f(x+)" not in str(info.value)


@pytest.mark.parametrize("make,exc,words", [
    (lambda: fs.fn.table([[1.0, 2.0], [3.0]]), ValueError, "table: values must be a rectangular"),
    (lambda: fs.fn.table(["a", "b"]), TypeError, "table: values must be real numbers"),
    (lambda: fs.fn.table([1j, 2.0]), TypeError, "table: values must be real numbers, got dtype "
                                                "complex"),
    (lambda: fs.fn.linear([[1.0], [2.0, 3.0]]), ValueError, "linear: a must be a rectangular"),
    (lambda: fs.fn.linear("ab"), TypeError, "linear: a must be real numbers"),
    (lambda: fs.fn.linear([1j, 2.0]), TypeError, "linear: a must be real numbers, got dtype "
                                                 "complex"),
])
def test_builtin_f_arguments_are_checked_in_our_words(make, exc, words):
    with pytest.raises(exc, match=words):
        make()


def test_estimate_from_samples_with_no_rows_says_so():
    with pytest.raises(ValueError, match="x has no samples .* at least one sample"):
        fs.estimate_from_samples(fs.Normal(0.0, 1.0), np.zeros(0), np.zeros(0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_gradient_not_taken_names_the_parameters_that_were(backend):
    est = fs.estimate(fs.Bernoulli(logits=0.3), fs.fn.table([0.0, 1.0]), 100, rng=0,
                      backend=backend)
    with pytest.raises(KeyError, match="'probs': no gradient .* here 'logits'"):
        est.grad["probs"]
    with pytest.raises(KeyError, match="'probs'"):
        est.stderr["probs"]
    assert dict(est.grad).keys() == {"logits"} and est.grad.get("probs") is None


def test_a_torch_tensor_parameter_points_to_fastscore_torch():
    class Tensor:   # what a torch tensor needing grad does under np.asarray
        __module__ = "torch"

        def __array__(self, *args, **kwargs):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad.")

    with pytest.raises(TypeError, match="parameter 'loc' is a torch.Tensor.*fastscore.torch"):
        fs.Normal(Tensor(), 1.0)


@pytest.mark.parametrize("f", [lambda x: 1.0 if x > 0 else 0.0, lambda x: math.exp(x),
                               lambda x: max(x, 0.0)], ids=["if", "math.exp", "max"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_non_vectorised_f_gets_a_hint(f, backend):
    with pytest.raises((ValueError, TypeError), match="whole array of samples.*np.where"):
        fs.estimate(fs.Normal(np.zeros(2), 1.0), f, 100, rng=0, backend=backend)


# -- item 3 (its logits part): scores accurate for large |logits| ---------------
@pytest.mark.parametrize("logit", [40.0, 700.0, -40.0, 5.0, -5.0, 0.7])
def test_logits_scores_keep_the_digits_of_one_minus_p(logit):
    q, p = special.expit(-logit), special.expit(logit)   # 1 - p and p, accurately
    close = dict(rtol=1e-14, atol=0.0)
    np.testing.assert_allclose(fs.score(fs.Bernoulli(logits=logit), [1, 0])["logits"],
                               [q, -p], **close)
    np.testing.assert_allclose(fs.score(fs.Binomial(7, logits=logit), [7, 0])["logits"],
                               [7 * q, -7 * p], **close)
    if logit > -36.0:   # Geometric needs probs >= 1e-16
        np.testing.assert_allclose(fs.score(fs.Geometric(logits=logit), [0])["logits"], [q],
                                   **close)
    # Categorical(logits=[l, 0, 0]): 1 - p_0 = 2 / (e^l + 2), the other categories' mass
    rest = special.expit(math.log(2.0) - logit) if logit > 0 else None
    s = fs.score(fs.Categorical(logits=[logit, 0.0, 0.0]), [0])["logits"][0]
    if rest is not None:
        np.testing.assert_allclose(s[0], rest, rtol=1e-12)   # softmax's own rounding
    assert np.all(np.isfinite(s))


@pytest.mark.parametrize("logit", [40.0, 38.0, 25.0])
def test_logits_estimates_are_not_zero_and_agree_across_backends(logit):
    q = special.expit(-logit)
    d = fs.Bernoulli(logits=np.array([logit, 0.3]))
    x, fx = np.ones((4, 2)), np.ones((4, 2))
    g = fs.estimate_from_samples(d, x, fx).grad["logits"]
    np.testing.assert_allclose(g[0], q, rtol=1e-14)   # was 0: 1 - p with p = 1
    for dist, f in [(fs.Binomial(2000, logits=np.array([logit, 0.3])), fs.fn.power(1)),
                    (fs.Binomial(5, logits=np.array([logit, 0.3])), fs.fn.power(1)),
                    (fs.Bernoulli(logits=np.array([logit, 0.3])), fs.fn.table([1.0, 2.0])),
                    (fs.Categorical(logits=np.array([[logit, 0.0, 0.0], [0.1, 0.2, 0.3]])),
                     fs.fn.table([1.0, 2.0, 3.0]))]:
        got = [fs.estimate(dist, f, 3000, rng=1, backend=b) for b in BACKENDS]
        for name in dist.param_names:
            np.testing.assert_allclose(got[0].grad[name], got[1].grad[name], rtol=1e-12,
                                       atol=0.0)
        assert got[0].grad["logits"].ravel()[0] != 0.0


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_precision_lost_to_rounding_is_an_error_not_zero_plus_minus_zero(backend):
    """Issue 24, item 3: samples that cannot resolve their noise (Normal(1e17, 1): every
    sample rounds to loc) or coupled points that round to one number (measure-valued
    Poisson(5e16), Binomial(2**62)) raise, naming the parameter; nothing reports 0 +- 0."""
    cases = [(fs.Normal(1e17, 1.0), {}, "scale"), (fs.Normal(1e16, 1.0), {}, "scale"),
             (fs.Poisson(5e16), {"estimator": "measure"}, "rate"),
             (fs.Binomial(2 ** 62, probs=0.3), {"estimator": "measure"}, "total_count"),
             (fs.MultivariateNormal(np.array([1e17, 0.0]), np.eye(2)), {}, "scale_tril"),
             (fs.Independent(fs.Normal(np.array([0.0, 1e17]), 1.0), 1), {}, "scale")]
    for d, kw, name in cases:
        f = (lambda x: x.sum(axis=-1)) if d.event_shape else (lambda x: x * 1.0)
        with pytest.raises(ValueError, match=name):
            fs.estimate(d, f, n=100, rng=0, backend=backend, **kw)
    with pytest.raises(ValueError, match="scale"):
        fs.estimate_from_samples(fs.Normal(1e17, 1.0), np.full(4, 1e17), np.zeros(4))
    # resolved noise is fine, and the score function of a large Poisson too
    est = fs.estimate(fs.Normal(1e6, 1e-3), lambda x: x * 1.0, n=4000, rng=0, backend=backend)
    assert abs(est.grad["loc"] - 1.0) < 4.5 * est.stderr["loc"]
    fs.estimate(fs.Poisson(5e16), lambda x: x * 1.0, n=100, rng=0, backend=backend)
