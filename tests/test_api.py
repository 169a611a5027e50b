"""The public API: shapes, repr, argument checking and error reporting."""

import ctypes
import re

import numpy as np
import pytest
from scipy import LowLevelCallable

import fastscore as fs
from cases import BY_NAME, CASES, builtin_f, python_f

POW2 = fs.fn.power(2)

# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3), (4, 1, 2)], ids=str)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shapes(case, shape, backend):
    """batch_shape, and the shapes of estimates, samples and scores, for every case:
    a gradient has the batch shape and its parameter's event shape."""
    d = case.make(shape)
    names = list(d.param_names)
    assert d.batch_shape == shape
    grad_shapes = {k: shape + case.param_event_shape(k) for k in names}
    for f in (builtin_f(d), python_f(d)):
        est = fs.estimate(d, f, 1000, rng=0, method="rloo", backend=backend)
        assert np.shape(est.value) == shape and np.shape(est.value_stderr) == shape
        assert list(est.grad) == names and list(est.stderr) == names
        assert {k: np.shape(v) for k, v in est.grad.items()} == grad_shapes
        assert {k: np.shape(v) for k, v in est.stderr.items()} == grad_shapes
        assert est.n == 1000 and est.method == "rloo"
    x = fs.sample(d, 7, rng=0, backend=backend)
    assert x.shape == (7,) + shape + tuple(d.event_shape)
    assert x.dtype == (np.int64 if d.integer_valued else np.float64)
    s = fs.score(d, x)
    assert {k: v.shape for k, v in s.items()} == {k: (7,) + g for k, g in grad_shapes.items()}


def test_broadcast_batch_shape():
    d = fs.Normal(loc=np.zeros((2, 1)), scale=np.array([1.0, 2.0, 3.0]))
    assert d.batch_shape == (2, 3)
    est = fs.estimate(d, POW2, 5000, rng=0)
    assert est.grad["loc"].shape == (2, 3) and est.grad["scale"].shape == (2, 3)
    # the gradient is per batch element, not summed over the broadcast axis
    assert np.all(np.abs(est.grad["scale"] - 2 * np.array([1.0, 2.0, 3.0]))
                  <= 5 * est.stderr["scale"])
    with pytest.raises(ValueError, match="Normal.*broadcast"):
        fs.Normal(np.zeros(2), np.ones(3))


def test_scalar_batch_gives_scalars():
    est = fs.estimate(fs.Normal(0.0, 1.0), POW2, 1000, rng=0)
    assert np.ndim(est.value) == 0 and np.ndim(est.grad["loc"]) == 0
    float(est.value), float(est.grad["scale"]), float(est.stderr["scale"])


# ---------------------------------------------------------------------------
# Estimate repr
# ---------------------------------------------------------------------------


def test_repr_scalar():
    est = fs.estimate(fs.Normal(1.0, 2.0), POW2, 10_000, rng=0, method="rloo")
    text = repr(est)
    lines = text.splitlines()
    assert lines[0] == "Estimate(method='rloo', n=10000)"
    assert re.fullmatch(r"\s*value:\s+[-\d.e+]+ \+- [\d.e+-]+", lines[1]), lines[1]
    assert lines[2].strip().startswith("grad['loc']:") and "+-" in lines[2]
    assert lines[3].strip().startswith("grad['scale']:") and "+-" in lines[3]
    # the printed numbers are the estimate's (6 significant digits)
    assert ("%.6g" % est.value) in lines[1]
    assert ("%.6g" % est.grad["scale"]) in lines[3]


def test_repr_batch_is_short():
    est = fs.estimate(fs.Normal(np.zeros(1000), 1.0), POW2, 100, rng=0)
    text = repr(est)
    assert len(text.splitlines()) == 4
    assert "..." in text and len(text) < 1000
    cat = fs.estimate(fs.Categorical(logits=np.zeros((2, 3))), fs.fn.table([1.0, 2.0, 3.0]),
                      100, rng=0)
    assert "grad['logits']" in repr(cat)


# ---------------------------------------------------------------------------
# argument checking
# ---------------------------------------------------------------------------
D3 = BY_NAME["Normal"].make((3,))


@pytest.mark.parametrize("method", ["plain", "rloo", "cv"])
def test_baseline_only_with_method_baseline(method):
    with pytest.raises(ValueError, match="baseline"):
        fs.estimate(D3, POW2, 100, method=method, baseline=1.0)


def test_baseline_method_needs_valid_baseline():
    with pytest.raises(ValueError, match="baseline"):
        fs.estimate(D3, POW2, 100, method="baseline")
    with pytest.raises(ValueError, match=r"\(3,\)"):
        fs.estimate(D3, POW2, 100, method="baseline", baseline=np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        fs.estimate(D3, POW2, 100, method="baseline", baseline=np.nan)
    est = fs.estimate(D3, POW2, 100, rng=0, method="baseline", baseline=np.zeros(3))
    plain = fs.estimate(D3, POW2, 100, rng=0, method="plain")
    np.testing.assert_array_equal(est.grad["loc"], plain.grad["loc"])


def test_unknown_method_and_backend_are_named():
    with pytest.raises(ValueError, match="'foo'") as info:
        fs.estimate(D3, POW2, 100, method="foo")
    assert "rloo" in str(info.value)  # lists the accepted ones
    with pytest.raises(ValueError, match="'gpu'") as info:
        fs.estimate(D3, POW2, 100, backend="gpu")
    assert "compiled" in str(info.value) and "reference" in str(info.value)
    with pytest.raises(ValueError, match="'gpu'"):
        fs.sample(D3, 10, backend="gpu")


@pytest.mark.parametrize("n", [1.5, 0, -3, 0.0, float("nan"), float("inf"), 1])
def test_bad_n_is_value_error(n):
    with pytest.raises(ValueError, match="n must"):
        fs.estimate(D3, POW2, n)


@pytest.mark.parametrize("n", [True, False, np.bool_(True), "100", None, [100]])
def test_non_number_n_is_type_error(n):
    with pytest.raises(TypeError, match="n must"):
        fs.estimate(D3, POW2, n)


@pytest.mark.parametrize("n", [1e5, 100_000, np.int64(100_000), np.float64(1e5)])
def test_integral_n_accepted(n):
    est = fs.estimate(D3, POW2, n, rng=0)
    assert est.n == 100_000 and type(est.n) is int
    ref = fs.estimate(D3, POW2, 100_000, rng=0)
    np.testing.assert_array_equal(est.grad["loc"], ref.grad["loc"])


def test_n_threads_checked():
    with pytest.raises(ValueError, match="n_threads"):
        fs.estimate(D3, POW2, 100, n_threads=0)
    with pytest.raises(ValueError, match="n_threads"):
        fs.estimate(D3, POW2, 100, n_threads=-2)
    with pytest.raises(TypeError, match="n_threads"):
        fs.estimate(D3, POW2, 100, n_threads=1.5)
    with pytest.raises(TypeError, match="n_threads"):
        fs.estimate(D3, POW2, 100, n_threads=True)


def test_dist_must_be_a_distribution():
    with pytest.raises(TypeError, match="dist"):
        fs.estimate("Normal", POW2, 100)


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="f must"):
        fs.estimate(D3, 3.0, 100)


# ---------------------------------------------------------------------------
# errors from f
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_python_f_wrong_shape(case, backend):
    d = case.make((3,))
    with pytest.raises(ValueError) as info:
        fs.estimate(d, lambda x: np.zeros(np.shape(x)[0]), 1000, backend=backend)
    msg = str(info.value)
    m = re.search(r"shape \((\d+),\)", msg)
    assert m, msg                                   # the actual shape (m,)
    assert "(%s, 3)" % m.group(1) in msg, msg       # the expected (m, *batch_shape)
    # and it still works afterwards
    fs.estimate(d, python_f(d), 1000, backend=backend)


def test_python_f_non_numeric_result():
    with pytest.raises(ValueError, match="real numbers"):
        fs.estimate(D3, lambda x: np.full(x.shape, "a"), 100)


def test_exception_in_a_later_wave_propagates():
    """f fails on its second call, after a first wave of samples was folded in."""
    calls = []

    def flaky(x):
        calls.append(x.shape[0])
        if len(calls) == 2:
            raise KeyError("second wave")
        return x * x

    with pytest.raises(KeyError, match="second wave"):
        fs.estimate(fs.Normal(0.0, 1.0), flaky, 3_000_000, rng=0, n_threads=2)
    assert len(calls) == 2
    est = fs.estimate(fs.Normal(0.0, 1.0), lambda x: x * x, 3_000_000, rng=0, n_threads=2)
    assert abs(est.value - 1.0) < 5 * est.value_stderr


def test_python_f_may_return_its_input():
    """f(x) = x, handing back the very (read-only) array it was given, is a valid f.

    The compiled backend once required a writable result and raised
    ``ValueError: buffer source array is read-only``.  Checked over several
    waves (n = 3e6 with one batch element exceeds one wave) and for a family
    whose samples f sees are mapped from the kernel's block (LogNormal).
    """
    for d, n in ((fs.Normal(np.array([0.0, 1.0]), 1.0), 1000),
                 (fs.Normal(0.5, 2.0), 3_000_000),
                 (fs.LogNormal(np.array([0.0, 0.3]), 0.5), 5000)):
        want = fs.estimate(d, lambda x: x + 0.0, n, rng=0, method="rloo")
        got = fs.estimate(d, lambda x: x, n, rng=0, method="rloo")
        for k in want.grad:
            np.testing.assert_array_equal(got.grad[k], want.grad[k])
            np.testing.assert_array_equal(got.stderr[k], want.stderr[k])
        ref = fs.estimate(d, lambda x: x, n, rng=0, method="rloo", backend="reference")
        for k in want.grad:
            np.testing.assert_allclose(ref.grad[k], want.grad[k], rtol=1e-10)


def test_python_f_cannot_modify_samples():
    def mutate(x):
        x[...] = 0.0
        return x * 1.0

    # either refused (read-only input) or harmless; never silently changes the samples
    try:
        est = fs.estimate(fs.Normal(1.0, 1.0), mutate, 1000, rng=0)
    except ValueError as exc:
        assert "read-only" in str(exc)
    else:
        ref = fs.estimate(fs.Normal(1.0, 1.0), lambda x: x * 0.0, 1000, rng=0)
        np.testing.assert_array_equal(est.grad["loc"], ref.grad["loc"])


def _nan_in_element_1(x):
    """x^2, but NaN in batch element 1 wherever x > 1."""
    out = np.asarray(x, dtype=float) ** 2
    out[:, 1] = np.where(out[:, 1] > 1.0, np.nan, out[:, 1])
    return out


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_non_finite_f_raises_by_default(backend):
    with pytest.raises(ValueError, match=r"non-finite.*\(1,\)") as info:
        fs.estimate(D3, _nan_in_element_1, 10_000, rng=0, backend=backend)
    assert "nan_policy" in str(info.value)
    # built-in f: sqrt of negative samples
    with pytest.raises(ValueError, match="non-finite"):
        fs.estimate(D3, fs.fn.power(0.5), 10_000, rng=0, backend=backend)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_nan_policy_propagate(backend):
    est = fs.estimate(D3, _nan_in_element_1, 10_000, rng=0, backend=backend,
                      nan_policy="propagate", method="rloo")
    assert np.isnan(est.value[1]) and np.isnan(est.value_stderr[1])
    assert np.isnan(est.grad["loc"][1]) and np.isnan(est.stderr["scale"][1])
    # the other elements are untouched: equal to a run with a finite f
    ok = fs.estimate(D3, POW2, 10_000, rng=0, backend=backend, method="rloo")
    for k in ("loc", "scale"):
        np.testing.assert_allclose(est.grad[k][[0, 2]], ok.grad[k][[0, 2]], rtol=1e-12)
    np.testing.assert_allclose(est.value[[0, 2]], ok.value[[0, 2]], rtol=1e-12)
    sqrt = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(0.5), 1000, rng=0,
                       nan_policy="propagate", backend=backend)
    assert np.isnan(sqrt.value) and np.isnan(sqrt.grad["loc"])


def test_bad_nan_policy():
    with pytest.raises(ValueError, match="nan_policy"):
        fs.estimate(D3, POW2, 100, nan_policy="omit")


def test_lowlevel_unsupported_signature_lists_accepted():
    cb = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int)(lambda i: 1.0)
    llc = LowLevelCallable(cb)
    assert llc.signature == "double (int)"
    with pytest.raises(TypeError) as info:
        fs.estimate(D3, llc, 100)
    msg = str(info.value)
    assert "double (int)" in msg
    assert "double (double)" in msg
    assert "double (const double *, intptr_t, intptr_t, void *)" in msg


def test_lowlevel_nan_is_reported():
    cb = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(lambda x: float("nan") if x > 2
                                                             else x)
    with pytest.raises(ValueError, match="non-finite"):
        fs.estimate(fs.Normal(0.0, 1.0), LowLevelCallable(cb), 10_000, rng=0, n_threads=1)


# ---------------------------------------------------------------------------
# large n
# ---------------------------------------------------------------------------


def test_large_n_builtin():
    n = 10 ** 8
    est = fs.estimate(fs.Normal(1.0, 2.0), POW2, n, rng=2024, method="rloo")
    assert est.n == n
    assert abs(est.value - 5.0) <= 4 * est.value_stderr
    assert abs(est.grad["loc"] - 2.0) <= 4 * est.stderr["loc"]
    assert abs(est.grad["scale"] - 4.0) <= 4 * est.stderr["scale"]
    # the stderr shrinks like 1/sqrt(n): compare with a run 100x smaller
    small = fs.estimate(fs.Normal(1.0, 2.0), POW2, n // 100, rng=2024, method="rloo")
    ratio = small.stderr["loc"] / est.stderr["loc"]
    assert 9.0 < ratio < 11.0
