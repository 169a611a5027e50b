"""Property-based checks (hypothesis): compiled == reference on random problems."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastscore as fs

pos = st.floats(0.2, 5.0)
real = st.floats(-3.0, 3.0)
prob = st.floats(0.05, 0.95)


def families(shape):
    """Strategies building one distribution of each family with batch ``shape``."""
    def arr(elements):
        return st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))) \
            .map(lambda v: np.reshape(np.array(v, dtype=float), shape))

    K = 3
    def arr_k(elements):
        return st.lists(elements, min_size=int(np.prod(shape)) * K,
                        max_size=int(np.prod(shape)) * K) \
            .map(lambda v: np.reshape(np.array(v, dtype=float), tuple(shape) + (K,)))

    return st.one_of(
        st.builds(fs.Normal, arr(real), arr(pos)),
        st.builds(fs.LogNormal, arr(st.floats(-1, 1)), arr(st.floats(0.1, 1.0))),
        st.builds(fs.Exponential, arr(pos)),
        st.builds(fs.Gamma, arr(pos), arr(pos)),
        st.builds(fs.Beta, arr(pos), arr(pos)),
        st.builds(fs.Chi2, arr(pos)),
        st.builds(fs.VonMises, arr(real), arr(pos)),
        st.builds(fs.Poisson, arr(pos)),
        st.builds(lambda p: fs.Bernoulli(probs=p), arr(prob)),
        st.builds(lambda p: fs.Bernoulli(logits=p), arr(real)),
        st.builds(lambda p: fs.Categorical(logits=p), arr_k(real)),
        st.builds(lambda p: fs.Categorical(probs=p), arr_k(pos)),
        st.builds(lambda n, p: fs.Binomial(np.round(n * 4), probs=p), arr(pos), arr(prob)),
        st.builds(lambda p: fs.Geometric(probs=p), arr(prob)),
        st.builds(lambda r, p: fs.NegativeBinomial(r, logits=p), arr(pos), arr(real)),
        st.builds(fs.Dirichlet, arr_k(pos)),
        st.builds(lambda m: fs.MultivariateNormal(m, np.broadcast_to(
            np.array([[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 1.2]]),
            tuple(shape) + (3, 3))), arr_k(real)),
    )


@st.composite
def problems(draw):
    shape = draw(st.sampled_from([(), (2,), (2, 1), (1, 3)]))
    d = draw(families(shape))
    n = draw(st.integers(2, 3 * fs.CHUNK_SIZE))
    method = draw(st.sampled_from(["plain", "rloo", "cv", "baseline"]))
    if d.event_size > 1:
        f = draw(st.sampled_from([fs.fn.linear(1.0, 0.5), lambda x: np.sin(x).sum(axis=-1)]))
    else:
        f = draw(st.sampled_from([fs.fn.power(2), fs.fn.call(0.5), fs.fn.indicator(0.0, 2.0),
                                  lambda x: np.cos(x) + x]))
    return d, f, n, method, draw(st.integers(0, 2 ** 32))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_compiled_equals_reference(problem):
    d, f, n, method, seed = problem
    kw = {"baseline": 0.25} if method == "baseline" else {}
    a = fs.estimate(d, f, n, rng=seed, method=method, nan_policy="propagate", **kw)
    b = fs.estimate(d, f, n, rng=seed, method=method, backend="reference",
                    nan_policy="propagate", **kw)
    # Samples at the edge of the support (Beta near 1, say) make both backends'
    # standard errors NaN together; everything else must agree closely.
    np.testing.assert_allclose(a.value, b.value, rtol=1e-9, equal_nan=True,
                               atol=1e-9 * np.nan_to_num(np.nanmax(np.abs(b.value_stderr))))
    for k in a.grad:
        scale = np.nan_to_num(np.nanmax(np.abs(b.stderr[k]))) if np.any(
            np.isfinite(b.stderr[k])) else 0.0
        np.testing.assert_allclose(a.grad[k], b.grad[k], rtol=1e-9, atol=1e-9 * scale,
                                   equal_nan=True)
        np.testing.assert_allclose(a.stderr[k], b.stderr[k], rtol=1e-7, atol=1e-9 * scale,
                                   equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([
    lambda v: fs.Normal(0.0, v), lambda v: fs.Gamma(v, 1.0), lambda v: fs.Poisson(v),
    lambda v: fs.Bernoulli(probs=v), lambda v: fs.Beta(1.0, v), lambda v: fs.Chi2(v),
    lambda v: fs.Binomial(v, probs=0.5), lambda v: fs.Geometric(probs=v),
]), st.one_of(st.floats(-10, 0), st.just(np.nan), st.just(np.inf), st.floats(1.01, 5)))
def test_invalid_parameters_raise_the_same_error_on_both_backends(build, value):
    outcomes = []
    for backend in ("compiled", "reference"):
        try:
            d = build(value)
            fs.estimate(d, lambda x: np.ones(np.shape(x)[:1 + len(d.batch_shape)]), 50,
                        rng=0, backend=backend)
            outcomes.append(None)
        except (ValueError, TypeError) as exc:
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1]
