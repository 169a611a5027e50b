"""Concentrations below 1: samples that underflow to 0 and scores kept finite.

Below shape 1 numpy draws a gamma as pow(B, 1 / a) (its small-shape branch),
which underflows to 0 for about half of Gamma(1e-3)'s draws although
log x = log(B) / a is an ordinary number.  The score-function estimator then
runs log-space kernels (``<family>_log``): f sees numpy's very samples, and
the score uses log x from the same uniforms.  Here:

- f sees exactly numpy's samples on the documented streams (every branch of
  numpy's small-shape gamma and of its beta sampler: Johnk's, its log-space
  branch, the gamma ratio and the 0/1 draw below 3e-103), and fs.sample;
- closed-form gradients are met within 4 standard errors where samples
  underflow (the done-when of issue 14: Gamma(1e-3, 1), power(1), 1e5, rng=0);
- compiled == reference, thread counts, and concentrations >= 1 unchanged.
"""

import numpy as np
import pytest
from scipy import special

import fastscore as fs
from fastscore._rng import key_from_rng

CHUNK = fs.CHUNK_SIZE
TINY = np.finfo(np.float64).tiny


def numpy_chunks(key, n, batch, draw):
    """numpy's draws on fastscore's streams (chunk c of element b: Philox counter
    [0, 0, c, b]): (n, batch, ...) from draw(gen, b, m)."""
    out = []
    for b in range(batch):
        parts = []
        for c in range(-(-n // CHUNK)):
            gen = np.random.Generator(np.random.Philox(
                key=np.array(key, dtype=np.uint64), counter=np.array([0, 0, c, b],
                                                                     dtype=np.uint64)))
            parts.append(draw(gen, b, min(CHUNK, n - c * CHUNK)))
        out.append(np.concatenate(parts))
    return np.stack(out, axis=1)


def seen_by_f(d, n, rng, n_threads=1):
    """The samples a Python f sees in a score-function estimate: (n, *batch, *event)."""
    seen = []

    def f(x):
        seen.append(np.array(x))
        return x if x.ndim == 1 + len(d.batch_shape) else x[..., 0]
    fs.estimate(d, f, n, rng=rng, n_threads=n_threads, nan_policy="propagate")
    return np.concatenate(seen)


def normalise(g):
    """numpy's gammas normalised as fastscore does (sum in order); NaN rows where all are 0."""
    tot = g[..., 0].copy()
    for k in range(1, g.shape[-1]):
        tot = tot + g[..., k]
    with np.errstate(invalid="ignore"):
        return g / tot[..., None]


# (name, distribution, numpy's draw for batch element b) -- each regime of the samplers
SAMPLERS = [
    ("Gamma(1e-3)", fs.Gamma([1e-3, 0.5], [1.0, 3.0]),
     lambda gen, b, m: gen.gamma([1e-3, 0.5][b], 1.0 / [1.0, 3.0][b], m)),
    ("Gamma(0.97)", fs.Gamma(0.97, 2.0), lambda gen, b, m: gen.gamma(0.97, 0.5, m)),
    ("Chi2(2e-3)", fs.Chi2([2e-3, 1.2, 5.0]), lambda gen, b, m: gen.chisquare([2e-3, 1.2, 5.0][b], m)),
    ("Beta(1e-3, 1e-3)", fs.Beta(1e-3, 1e-3), lambda gen, b, m: gen.beta(1e-3, 1e-3, m)),
    ("Beta(0.3, 0.6)", fs.Beta(0.3, 0.6), lambda gen, b, m: gen.beta(0.3, 0.6, m)),
    ("Beta(1e-3, 2)", fs.Beta([1e-3, 2.5], [2.0, 0.4]),
     lambda gen, b, m: gen.beta([1e-3, 2.5][b], [2.0, 0.4][b], m)),
    ("Beta(1e-104)", fs.Beta(1e-104, 3e-104), lambda gen, b, m: gen.beta(1e-104, 3e-104, m)),
    ("Dirichlet(1e-3)", fs.Dirichlet([[1e-3, 1e-3, 1e-3], [0.2, 3.0, 1e-3]]),
     lambda gen, b, m: normalise(gen.standard_gamma([[1e-3] * 3, [0.2, 3.0, 1e-3]][b],
                                                    size=(m, 3)))),
]


@pytest.mark.parametrize("name,d,draw", SAMPLERS, ids=[s[0] for s in SAMPLERS])
def test_f_sees_numpys_samples(name, d, draw):
    """The log-space kernels hand f numpy's samples, bit for bit, and fs.sample's."""
    assert d.score_plan().family.name.endswith("_log")
    n = 2 * CHUNK + 321
    seen = seen_by_f(d, n, rng=5)
    want = numpy_chunks(key_from_rng(5), n, d.batch_size, draw).reshape(seen.shape)
    if isinstance(d, fs.Dirichlet):
        # numpy's formula g / sum(g) loses a gamma below DBL_MIN, and with it
        # up to all of x; fastscore normalises those events in log space
        g = numpy_chunks(key_from_rng(5), n, d.batch_size, lambda gen, b, m: gen.standard_gamma(
            [[1e-3] * 3, [0.2, 3.0, 1e-3]][b], size=(m, 3))).reshape(seen.shape)
        lost = (g < TINY).any(axis=-1)
        assert lost.sum() > 100, "the test should reach events with underflowing gammas"
        assert np.array_equal(seen[~lost], want[~lost])
        assert np.all(np.isfinite(seen)) and np.all(seen >= 0)
        np.testing.assert_allclose(seen[lost].sum(axis=-1), 1.0, rtol=1e-12)
        # where two gammas of a lost event did not underflow, x keeps their ratio
        i, j = np.nonzero(lost & (g[..., 1] >= TINY) & (g[..., 0] >= TINY))
        assert i.size > 10
        np.testing.assert_allclose(seen[i, j, 0] / seen[i, j, 1], g[i, j, 0] / g[i, j, 1],
                                   rtol=1e-12)
    else:
        assert np.array_equal(seen, want)
    assert np.array_equal(seen, fs.sample(d, n, rng=5))
    assert np.array_equal(seen, fs.sample(d, n, rng=5, backend="reference"))
    assert np.array_equal(seen, seen_by_f(d, n, rng=5, n_threads=2))


def test_the_regimes_are_reached():
    """The samples above reach what they are meant to: underflow to 0, samples rounding
    to 1, both branches of numpy's small-shape gamma (a sample above 1 - a)."""
    n = 2 * CHUNK + 321
    g = seen_by_f(fs.Gamma(1e-3, 1.0), n, rng=5)
    assert 0.3 < np.mean(g == 0.0) < 0.7
    b = seen_by_f(fs.Beta(1e-3, 1e-3), n, rng=5)
    assert np.mean(b == 0.0) > 0.2 and np.mean(b == 1.0) > 0.2
    # branch 2 of the small-shape loop (U > 1 - a) yields samples >= 1 for a = 0.5
    h = seen_by_f(fs.Gamma(0.5, 1.0), n, rng=5)
    assert np.mean(h > 1.0) > 0.1


def test_done_when_gamma_1e3():
    """Issue 14's done-when: a finite gradient within 4 standard errors of 1."""
    est = fs.estimate(fs.Gamma(1e-3, 1.0), fs.fn.power(1), 10 ** 5, rng=0)
    g, se = est.grad["concentration"], est.stderr["concentration"]
    assert np.isfinite(g) and 0 < se < 0.2
    assert abs(g - 1.0) < 4 * se
    # d/drate E[x] = -a / rate^2
    assert abs(est.grad["rate"] + 1e-3) < 4 * est.stderr["rate"]


def _check(est, exact):
    for k, want in exact.items():
        g, se = np.asarray(est.grad[k]), np.asarray(est.stderr[k])
        assert np.all(np.isfinite(g)) and np.all(se > 0), k
        z = np.abs(g - want) / se
        assert np.all(z < 4), (k, z)


# (distribution, f, exact gradients of E[f])
CLOSED_FORMS = [
    (fs.Gamma([1e-3, 0.02], [1.0, 4.0]), fs.fn.power(1),
     {"concentration": np.array([1.0, 0.25]), "rate": -np.array([1e-3, 0.02]) / [1.0, 16.0]}),
    (fs.Chi2([2e-3, 0.05]), fs.fn.power(1), {"df": np.ones(2)}),
    # E[x] = a / (a + b)
    (fs.Beta([1e-3, 1e-3], [1e-3, 2.0]), fs.fn.power(1),
     {"concentration1": np.array([1e-3 / 4e-6, 2.0 / 2.001 ** 2]),
      "concentration0": -np.array([1e-3 / 4e-6, 1e-3 / 2.001 ** 2])}),
    # E[x_0] = a_0 / sum(a)
    (fs.Dirichlet([1e-3, 1e-3, 1e-3]), fs.fn.linear([1.0, 0.0, 0.0]),
     {"concentration": np.array([2e-3, -1e-3, -1e-3]) / 9e-6}),
]


@pytest.mark.parametrize("method", ["plain", "rloo", "cv"])
@pytest.mark.parametrize("case", range(len(CLOSED_FORMS)))
def test_closed_form_gradients_where_samples_underflow(case, method):
    d, f, exact = CLOSED_FORMS[case]
    _check(fs.estimate(d, f, 10 ** 5, rng=11, method=method), exact)


@pytest.mark.parametrize("case", range(len(CLOSED_FORMS)))
def test_compiled_equals_reference_and_threads(case, assert_estimates_close):
    d, f, _ = CLOSED_FORMS[case]
    n = CHUNK + 500
    a = fs.estimate(d, f, n, rng=3, method="rloo", n_threads=1)
    assert_estimates_close(a, fs.estimate(d, f, n, rng=3, method="rloo", backend="reference"))
    b = fs.estimate(d, f, n, rng=3, method="rloo", n_threads=2)
    for k in a.grad:
        assert np.array_equal(a.grad[k], b.grad[k]) and np.array_equal(a.stderr[k], b.stderr[k])
    py = fs.estimate(d, (lambda x: x[..., 0]) if isinstance(d, fs.Dirichlet) else (lambda x: x),
                     n, rng=3, method="rloo", n_threads=1)
    for k in a.grad:
        assert np.array_equal(a.grad[k], py.grad[k])


def test_without_the_log_space_the_score_is_infinite():
    """What the log-space kernels fix: log x of the samples themselves is -inf."""
    d = fs.Gamma(1e-3, 1.0)
    x = fs.sample(d, 1000, rng=0)
    with pytest.raises(ValueError, match="outside the support"):
        fs.estimate_from_samples(d, x, x)
    with np.errstate(divide="ignore"):
        s = fs.score(fs.Gamma(1e-3, 1.0, validate_args=False), x)["concentration"]
    assert np.isinf(s).any()


def test_concentrations_from_one_keep_the_plain_kernels():
    for d in (fs.Gamma(1.0, 2.0), fs.Beta(1.0, 3.0), fs.Chi2(2.0), fs.Dirichlet([1.0, 5.0])):
        assert d.score_plan() is d.plan()
    for d in (fs.Gamma([1.0, 0.9], 2.0), fs.Beta(3.0, 0.9), fs.Chi2(1.9), fs.Dirichlet([1.0, 0.9])):
        assert d.score_plan().family.name == d.plan().family.name + "_log"
        assert d.plan().family.name + "_log" != d.plan().family.name


def test_beta_below_numpys_tiny_threshold_is_a_clear_error():
    """Below 3e-103 numpy's beta draws exactly 0 or 1 (Bernoulli(a / (a + b))): log x
    or log(1 - x) is -inf for every sample, and the error says so."""
    d = fs.Beta(1e-104, 3e-104)
    x = seen_by_f(d, 1000, rng=1)
    assert set(np.unique(x)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="score"):
        fs.estimate(d, fs.fn.power(1), 1000, rng=1)


def test_log_space_scores_are_the_plain_ones_where_samples_do_not_underflow():
    """On samples that do not underflow the log-space kernels' score is the plain one:
    the estimate is the plain family's from the same samples (to the reducers' 1e-10)."""
    d = fs.Beta(0.3, 0.6)
    x = fs.sample(d, 5000, rng=2)
    fx = special.expit(3 * x - 1)
    plain = fs.estimate_from_samples(d, x, fx)
    est = fs.estimate(d, lambda x: special.expit(3 * x - 1), 5000, rng=2)
    for k in est.grad:
        np.testing.assert_allclose(est.grad[k], plain.grad[k], rtol=1e-10)
        np.testing.assert_allclose(est.stderr[k], plain.stderr[k], rtol=1e-10)
