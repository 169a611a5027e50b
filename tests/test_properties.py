"""Property-based checks (hypothesis), for every case of the registry
(tests/cases.py): compiled == reference on random valid problems, and random
parameter values give the same outcome on both backends.

Examples are derandomized (a fixed seed per test), so a run is reproducible.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastscore as fs
from cases import CASES

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def f_for(d, draw):
    """A built-in or Python f that takes d's samples."""
    if d.event_size > 1:
        return draw(st.sampled_from([fs.fn.linear(1.0, 0.5), lambda x: np.sin(x).sum(axis=-1)]))
    return draw(st.sampled_from([fs.fn.power(2), fs.fn.call(0.5), fs.fn.indicator(0.0, 2.0),
                                 lambda x: np.cos(x) + x]))


@pytest.mark.parametrize("case", CASES, ids=str)
@settings(max_examples=6, **SETTINGS)
@given(data=st.data())
def test_compiled_equals_reference(case, data):
    shape = data.draw(st.sampled_from([(), (2,), (2, 1), (1, 3)]), label="shape")
    d = case.build(data.draw(case.strategy(shape), label="parameters"))
    f = f_for(d, data.draw)
    n = data.draw(st.integers(2, 3 * fs.CHUNK_SIZE), label="n")
    method = data.draw(st.sampled_from(["plain", "rloo", "cv", "baseline"]), label="method")
    seed = data.draw(st.integers(0, 2 ** 32), label="seed")
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


# Out of range for most parameters, but not all (a scale of 2 is fine).
VALUES = st.one_of(st.floats(-10, 0), st.just(np.nan), st.just(np.inf), st.floats(1.01, 5))


@pytest.mark.parametrize("case", CASES, ids=str)
@settings(max_examples=12, **SETTINGS)
@given(data=st.data())
def test_parameter_values_give_the_same_outcome_on_both_backends(case, data):
    """One parameter of the case's first element set to a drawn value (every entry):
    both backends give the same result or raise the same error."""
    params = case.params()
    name = data.draw(st.sampled_from(sorted(params)), label="parameter")
    params[name] = np.full(np.shape(params[name]), data.draw(VALUES, label="value"))
    outcomes = []
    for backend in ("compiled", "reference"):
        try:
            d = case.build(params)
            est = fs.estimate(d, lambda x: np.ones(np.shape(x)[:1 + len(d.batch_shape)]), 50,
                              rng=0, backend=backend)
            outcomes.append(("ok", float(est.value)))
        except (ValueError, TypeError) as exc:
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1]
