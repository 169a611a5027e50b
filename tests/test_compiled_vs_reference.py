"""The compiled kernels agree with the pure NumPy reference backend.

Both backends draw the very same samples (test_streams.py), so every number of
an Estimate must agree to ~1e-10 relative, for every case of the registry
(tests/cases.py) x kind of f x method: the case's built-in and Python f and
both LowLevelCallable signatures on a batch of one and a (2, 3) batch, every
other built-in on a batch of one.  Values near zero are compared with an
absolute tolerance of 1e-10 times their standard error.  The compiled runs
here use one thread: test_determinism.py shows that every thread count gives
the same bits.
"""

import ctypes
import warnings

import numpy as np
import pytest
from scipy import LowLevelCallable, special

import fastscore as fs
from cases import BY_NAME, CASES, TABLE_SIZE, builtin_f, python_f

CHUNK = fs.CHUNK_SIZE
N = CHUNK + 123              # two chunks, the last one partial
# A ctypes callback is a Python call per sample in both backends: one partial
# chunk (the chunking is the same for every kind of f, and checked with the others).
N_CALLBACK = 1000
RTOL = 1e-10  # as assert_estimates_close (tests/conftest.py)

# A batch of one and a two-dimensional batch (test_properties.py draws others: (2,), (2, 1), ...)
SHAPES = [(), (2, 3)]

# -- kinds of f --------------------------------------------------------------

_SCALAR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)


def _scalar_py(x):
    return 0.5 * x * x - x + 0.25


def _vector_py(p, event_size, batch_index, user_data):
    return p[0] * p[0] - 0.5 * p[0] + 0.1 * batch_index


SCALAR_CB = _SCALAR(_scalar_py)
VECTOR_CB = _VECTOR(_vector_py)


def _thresholds(d):
    """(lo, hi) at which call(lo), put(hi) and indicator(lo, hi) take more than one value
    on d's samples: the quartiles, or the median -+ 1/2 on integers."""
    x = fs.sample(d, 1001, rng=0)
    if d.integer_valued:
        mid = np.quantile(x, 0.5, method="lower")
        return mid - 0.5, mid + 0.5
    return tuple(np.quantile(x, [0.25, 0.75]))


#: Kinds of f run at every batch shape; the other built-ins (the same inline loop,
#: another f) run on a scalar batch.
MAIN_KINDS = ("builtin", "python", "llc_scalar", "llc_vector")


def f_kinds(d):
    """{kind: f}: the case's built-in and Python f, both LowLevelCallable signatures,
    and every other built-in that takes d's samples."""
    kinds = {"builtin": builtin_f(d), "python": python_f(d)}
    if d.event_size > 1:
        kinds["llc_vector"] = LowLevelCallable(VECTOR_CB)
        if not isinstance(d, (fs.Dirichlet, fs.RelaxedCategorical)):
            # (on the simplex a . x with a scalar a is constant: its gradient is rounding noise)
            kinds["linear_scalar_a"] = fs.fn.linear(2.0, 0.5)
        return kinds
    lo, hi = (float(t) for t in _thresholds(d))
    kinds.update({"llc_scalar": LowLevelCallable(SCALAR_CB),
                  "llc_vector": LowLevelCallable(VECTOR_CB)})
    others = {"power2": fs.fn.power(2), "power3": fs.fn.power(3),
              "linear": fs.fn.linear(2.0, -1.0), "call": fs.fn.call(lo), "put": fs.fn.put(hi),
              "indicator": fs.fn.indicator(lo, hi)}
    if d.integer_valued:
        others["table"] = fs.fn.table(np.cos(np.arange(float(TABLE_SIZE))) * 3.0 + 1.0)
    kinds.update({k: f for k, f in others.items() if repr(f) != repr(kinds["builtin"])})
    return kinds


def baseline_for(method, dist):
    if method == "baseline-scalar":
        return "baseline", 0.8
    if method == "baseline-array":
        return "baseline", np.linspace(-1.0, 2.0, dist.batch_size).reshape(dist.batch_shape)
    return method, None


METHODS = ["plain", "baseline-scalar", "baseline-array", "rloo", "cv"]

F_CASES = [(case, kind, shape) for case in CASES for kind in f_kinds(case.make())
           for shape in (SHAPES if kind in MAIN_KINDS else [()])]


@pytest.mark.parametrize("case,kind,shape", F_CASES, ids=["%s-%s-%s" % c for c in F_CASES])
def test_compiled_equals_reference(case, kind, shape, assert_estimates_close):
    d = case.make(shape)
    f = f_kinds(d)[kind]
    # a callback takes the GIL per sample (test_determinism.py runs them on several threads)
    n = N_CALLBACK if kind.startswith("llc") and not case.counted else N
    seed = 17 + len(shape)
    for m in METHODS:
        method, baseline = baseline_for(m, d)
        got = fs.estimate(d, f, n, rng=seed, method=method, baseline=baseline, n_threads=1)
        want = fs.estimate(d, f, n, rng=seed, method=method, baseline=baseline,
                           backend="reference")
        assert np.shape(got.value) == tuple(shape)
        assert np.all(np.isfinite(want.value)) and np.all(want.value_stderr >= 0)
        assert np.any(want.value_stderr > 0)
        assert_estimates_close(got, want, what="%s %s %s %s" % (
            case, kind, shape, m))


def test_kinds_of_f_cover_every_builtin():
    builtins = {getattr(fs.fn, nm) for nm in fs.fn.__all__ if nm != "Function"}
    used = {type(f) for case in CASES for f in f_kinds(case.make()).values()}
    assert builtins <= used, builtins - used
    assert {"python", "llc_scalar", "llc_vector"} <= {k for _, k, _ in F_CASES}


# -- the LowLevelCallable signatures -----------------------------------------

def test_scipy_signatures_of_ctypes_callbacks_are_accepted():
    scalar = LowLevelCallable(SCALAR_CB)
    vector = LowLevelCallable(VECTOR_CB)
    assert scalar.signature == "double (double)"
    # scipy spells c_ssize_t as the C type of that width
    ssize = {ctypes.sizeof(ctypes.c_long): "long",
             ctypes.sizeof(ctypes.c_longlong): "long long"}
    want = "double (double *, %s, %s, void *)" % ((ssize[ctypes.sizeof(ctypes.c_ssize_t)],) * 2)
    if ctypes.sizeof(ctypes.c_long) == ctypes.sizeof(ctypes.c_ssize_t):
        want = "double (double *, long, long, void *)"
    assert vector.signature == want
    d = fs.Normal(0.0, 1.0)
    for llc in (scalar, vector):
        est = fs.estimate(d, llc, 1000, rng=0)
        assert np.isfinite(est.value)


@pytest.mark.parametrize("signature", [
    "double (const double *, intptr_t, intptr_t, void *)",
    "double (double *, intptr_t, intptr_t, void *)",
    "double(double *,intptr_t,intptr_t,void *)",
])
def test_explicit_vector_signatures_agree(signature, assert_estimates_close):
    d = fs.Normal(np.array([0.0, 1.0]), 2.0)
    base = fs.estimate(d, LowLevelCallable(VECTOR_CB), 5000, rng=3, method="rloo")
    other = fs.estimate(d, LowLevelCallable(VECTOR_CB, signature=signature), 5000, rng=3,
                        method="rloo")
    assert_estimates_close(other, base, rtol=0.0)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_lowlevel_batch_index_is_flat_c_order(backend, assert_estimates_close):
    """The vector LowLevelCallable sees the flat (C-order) batch index."""
    d = BY_NAME["Normal"].make((2, 3))
    idx = np.arange(6.0).reshape(2, 3)

    def same_in_python(x):
        return x * x - 0.5 * x + 0.1 * idx

    a = fs.estimate(d, LowLevelCallable(VECTOR_CB), N_CALLBACK, rng=4, method="cv",
                    backend=backend, n_threads=1)
    b = fs.estimate(d, same_in_python, N_CALLBACK, rng=4, method="cv", backend=backend)
    assert_estimates_close(a, b, rtol=1e-12)


def test_lowlevel_user_data_is_passed(assert_estimates_close):
    offset = ctypes.c_double(2.5)

    def with_user_data(p, e, b, u):
        return p[0] + ctypes.cast(u, ctypes.POINTER(ctypes.c_double))[0]

    cb = _VECTOR(with_user_data)
    llc = LowLevelCallable(cb, ctypes.cast(ctypes.pointer(offset), ctypes.c_void_p))
    d = fs.Normal(np.array([0.0, 1.0]), 1.0)
    for backend in ("compiled", "reference"):
        a = fs.estimate(d, llc, 3000, rng=5, backend=backend)
        b = fs.estimate(d, lambda x: x + 2.5, 3000, rng=5, backend=backend)
        assert_estimates_close(a, b, rtol=1e-12)


def test_c_function_lowlevel_matches_numpy(c_cos_llc, assert_estimates_close):
    d = BY_NAME["Normal"].make((3,))
    for backend in ("compiled", "reference"):
        a = fs.estimate(d, c_cos_llc, N, rng=6, method="rloo", backend=backend)
        b = fs.estimate(d, np.cos, N, rng=6, method="rloo", backend=backend)
        assert_estimates_close(a, b, rtol=1e-12)


# -- estimate_from_samples ---------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_estimate_from_samples_matches_estimate(case, shape, assert_estimates_close):
    """Estimates from the drawn samples and f's values on them equal estimate()'s
    on both backends (for counted families: per-sample sums against the exact
    count-based ones, to 1e-9).  The batch holds the case's first two elements."""
    index = np.arange(int(np.prod(shape))) % 2
    d = case.make(shape, index)
    truth = case.truths[0]
    x = fs.sample(d, N, rng=21)
    fx = truth.f("python", shape, index)(x)
    rtol = 1e-9 if case.counted else RTOL
    for m in METHODS:
        method, baseline = baseline_for(m, d)
        got = fs.estimate_from_samples(d, x, fx, method=method, baseline=baseline)
        assert got.key is None and got.n == N
        for kind, backend in [("python", "reference"), (truth.kinds()[0], "compiled")]:
            want = fs.estimate(d, truth.f(kind, shape, index), N, rng=21, method=method,
                               baseline=baseline, backend=backend, n_threads=1)
            assert_estimates_close(got, want, rtol, what="%s %s %s" % (
                kind, backend, m))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_estimate_from_samples_compiled_gives_the_bits_of_a_python_f(case, assert_close):
    """The compiled estimate_from_samples sums the very terms fs.estimate's kernels do:
    its results are those of an estimate with a Python f on the same samples, bit
    for bit, for 1 and 2 threads; the reference backend's agree to 1e-12."""
    shape = (3,)
    index = np.arange(3) % 2
    d = case.make(shape, index)
    f = case.truths[0].f("python", shape, index)
    for n in (3, 2 * fs.CHUNK_SIZE + 5):
        x = fs.sample(d, n, rng=5)
        for method in ("plain", "rloo", "cv"):
            ref = fs.estimate_from_samples(d, x, f(x), method=method, backend="reference")
            runs = [fs.estimate_from_samples(d, x, f(x), method=method)]
            if not case.counted:   # counted families: exact sums from counts instead
                runs.append(fs.estimate(d, f, n, rng=5, method=method, n_threads=1))
                runs.append(fs.estimate(d, f, n, rng=5, method=method, n_threads=2))
            for got in runs:
                for k in got.grad:
                    if not case.counted:
                        np.testing.assert_array_equal(got.grad[k], runs[0].grad[k])
                        np.testing.assert_array_equal(got.stderr[k], runs[0].stderr[k])
                    assert_close(got.grad[k], ref.grad[k], 1e-12 if not case.counted else 1e-9)
                    assert_close(got.stderr[k], ref.stderr[k], 1e-10 if not case.counted
                                 else 1e-9)


def test_from_samples_bernoulli_logits_matches_formula(assert_close):
    """An independent check of the shared finish: plain/rloo written out in NumPy."""
    case = BY_NAME["Bernoulli(logits)"]
    d = case.make((2,))
    x = fs.sample(d, 5000, rng=23).astype(float)
    fx = 3.0 * x + np.sin(np.arange(5000.0))[:, None]  # rewards need not be f(x)
    s = x - special.expit(case.params((2,))["logits"])
    n = x.shape[0]
    plain = fs.estimate_from_samples(d, x, fx, method="plain")
    assert_close(plain.grad["logits"], (fx * s).mean(0), 1e-12)
    assert_close(plain.stderr["logits"], (fx * s).std(0, ddof=1) / np.sqrt(n), 1e-10)
    assert_close(plain.value, fx.mean(0), 1e-12)
    rloo = fs.estimate_from_samples(d, x, fx, method="rloo")
    loo = (fx.sum(0) - fx) / (n - 1)
    terms = (fx - loo) * s
    assert_close(rloo.grad["logits"], terms.mean(0), 1e-10)
    # the unbiased variance of the U-statistic: E[t_i t_k] = theta^2 (1 + 1/(n-1)^2)
    m2, U = (terms * terms).mean(0), terms.mean(0)
    var = ((n - 1) * m2 - (n - 2) * U * U) / (n * n - 2 * n + 2)
    assert_close(rloo.stderr["logits"], np.sqrt(var), 1e-8)


@pytest.mark.parametrize("name", ["Categorical(logits)", "Normal", "Dirichlet"])
def test_from_samples_one_sample_per_element(name, assert_close):
    """One sample per batch element (an RL step: one action per state): 'plain' and
    'baseline' give f s and (f - b) s exactly, every standard error is NaN (not a
    warning, not an error), and 'rloo'/'cv', which need other samples, refuse."""
    d = BY_NAME[name].make((2, 3))
    x = fs.sample(d, 1, rng=5)
    fx = np.arange(6.0).reshape(1, 2, 3) - 2.5
    s = fs.score(d, x)
    b = np.full((2, 3), 0.75)
    for method, baseline, weight in [("plain", None, fx), ("baseline", b, fx - b)]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = fs.estimate_from_samples(d, x, fx, method=method, baseline=baseline)
        assert est.n == 1
        assert_close(est.value, fx[0], 1e-15)
        assert np.all(np.isnan(est.value_stderr))
        for k in est.grad:
            w = weight[0].reshape((2, 3) + (1,) * (s[k].ndim - 3))
            assert_close(est.grad[k], w * s[k][0], 1e-13, 1e-15, "%s grad[%r]" % (method, k))
            assert np.all(np.isnan(est.stderr[k]))
    for method in ("rloo", "cv"):
        with pytest.raises(ValueError, match="n >= 2"):
            fs.estimate_from_samples(d, x, fx, method=method)
    bad = fx.copy()
    bad[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value .* batch element \(1, 2\)"):
        fs.estimate_from_samples(d, x, bad)
    kept = fs.estimate_from_samples(d, x, bad, nan_policy="propagate")
    assert np.isnan(kept.value[1, 2]) and np.isfinite(kept.value[0, 0])


def test_comparison_detects_other_samples(assert_estimates_close):
    """The comparison can fail: a run on other samples (another seed) is caught."""
    d = BY_NAME["Normal"].make((3,))
    a = fs.estimate(d, fs.fn.power(2), N, rng=1, backend="reference")
    b = fs.estimate(d, fs.fn.power(2), N, rng=2)
    with pytest.raises(AssertionError):
        assert_estimates_close(b, a)


@pytest.mark.parametrize("K", [1, 2, 16, 17, 300])
@pytest.mark.parametrize("param", ["probs", "logits"])
def test_counted_categorical_every_support_size(K, param, assert_close):
    """Counting takes a threshold path (K <= 16), private counters (K <= 256) or
    shared ones (larger K): each must count what the reference draws."""
    g = np.random.default_rng(K)
    p = g.random((3, K)) + 0.01
    p[1, ::2] = 0.0 if K > 1 else p[1, ::2]
    d = fs.Categorical(**({"probs": p} if param == "probs" else {"logits": np.log(p + 1e-3)}))
    r = fs.fn.table(g.normal(size=(3, K)))
    for method in ("plain", "rloo", "cv"):
        got = fs.estimate(d, r, 2 * fs.CHUNK_SIZE + 5, rng=K, method=method, n_threads=2)
        ref = fs.estimate(d, r, 2 * fs.CHUNK_SIZE + 5, rng=K, method=method,
                          backend="reference")
        assert_close(got.value, ref.value, what="value")
        assert_close(got.grad, ref.grad, atol=1e-13, what="grad")
        assert_close(got.stderr, ref.stderr, atol=1e-13, what="stderr")
