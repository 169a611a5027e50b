"""The compiled kernels agree with the pure NumPy reference backend.

Both backends draw the very same samples (test_streams.py), so every number of
an Estimate must agree to ~1e-10 relative, for every family x method x kind of
f x batch shape.  Values near zero are compared with an absolute tolerance of
1e-10 times their standard error.
"""

import ctypes
import math

import numpy as np
import pytest
from scipy import LowLevelCallable, special

import fastscore as fs

CHUNK = fs.CHUNK_SIZE
N = 2 * CHUNK + 123          # three chunks, the last one partial
N_CALLBACK = CHUNK + 77      # ctypes callbacks are slow in the reference loop
RTOL = 1e-10

SHAPES = [(), (3,), (2, 3)]

# -- distributions -----------------------------------------------------------


def _vals(shape, values):
    k = math.prod(shape)
    return np.resize(np.asarray(values, dtype=float), k).reshape(shape)


def make(family, shape):
    if family == "Normal":
        return fs.Normal(_vals(shape, [0.3, -1.0, 2.0, 0.0, 5.0, -0.4]),
                         _vals(shape, [1.2, 0.5, 2.0, 3.0, 0.8, 1.0]))
    if family == "Poisson":
        return fs.Poisson(_vals(shape, [3.0, 0.4, 12.0, 1.5, 25.0, 7.0]))
    if family == "Bernoulli(probs)":
        return fs.Bernoulli(probs=_vals(shape, [0.3, 0.8, 0.5, 0.05, 0.6, 0.97]))
    if family == "Bernoulli(logits)":
        return fs.Bernoulli(logits=_vals(shape, [-0.4, 1.2, 0.0, 3.0, -2.0, 0.7]))
    K = 4
    base = np.array([[1.0, 2.0, 3.0, 0.5], [0.2, 0.1, 0.6, 0.1], [2.0, 2.0, 1.0, 5.0],
                     [0.7, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 1.0], [3.0, 0.5, 0.2, 2.0]])
    rows = np.resize(base, (math.prod(shape), K)).reshape(tuple(shape) + (K,))
    if family == "Categorical(probs)":
        return fs.Categorical(probs=rows)
    if family == "Categorical(logits)":
        return fs.Categorical(logits=np.log(rows) - 0.3)
    raise AssertionError(family)


FAMILIES = ["Normal", "Poisson", "Bernoulli(probs)", "Bernoulli(logits)",
            "Categorical(probs)", "Categorical(logits)"]
CONTINUOUS_SUPPORT = {"Normal"}  # table needs integer samples

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


def python_f(x):
    x = np.asarray(x, dtype=np.float64)
    return np.sin(x) + 0.3 * x * x


def fkinds(family):
    kinds = {
        "power2": fs.fn.power(2),
        "power3": fs.fn.power(3),
        "linear": fs.fn.linear(2.0, -1.0),
        "call": fs.fn.call(0.5 if family != "Normal" else 0.7),
        "put": fs.fn.put(1.5),
        "indicator": fs.fn.indicator(-0.5, 1.5) if family == "Normal" else fs.fn.indicator(1, 2),
        "python": python_f,
        "llc_scalar": "llc_scalar",
        "llc_vector": "llc_vector",
    }
    if family not in CONTINUOUS_SUPPORT:
        # long enough for every Poisson sample drawn here (rates <= 25)
        kinds["table"] = fs.fn.table(np.cos(np.arange(80.0)) * 3.0 + 1.0)
    return kinds


def make_f(kind, family):
    f = fkinds(family)[kind]
    if f == "llc_scalar":
        return LowLevelCallable(SCALAR_CB)
    if f == "llc_vector":
        return LowLevelCallable(VECTOR_CB)
    return f


def baseline_for(method, dist):
    if method == "baseline-scalar":
        return "baseline", 0.8
    if method == "baseline-array":
        return "baseline", np.linspace(-1.0, 2.0, dist.batch_size).reshape(dist.batch_shape)
    return method, None


METHODS = ["plain", "baseline-scalar", "baseline-array", "rloo", "cv"]

# -- comparison --------------------------------------------------------------


def assert_estimates_close(got, want, assert_close, rtol=RTOL, what=""):
    """Every number of two Estimates; atol = rtol * the reference's stderr."""
    # A squared standard error is a difference of moments, known to rtol times the
    # mean square of the per-sample terms over n: mean^2 / n + stderr^2.  (When the
    # terms are nearly constant, cancellation leaves the stderr itself less precise.)
    n = want.n
    se_v = np.abs(np.asarray(want.value_stderr))
    assert_close(got.value, want.value, rtol, rtol * se_v, what + " value")
    assert_close(np.square(got.value_stderr), np.square(want.value_stderr), rtol,
                 rtol * (np.square(want.value) / n + se_v ** 2), what + " value_stderr^2")
    assert list(got.grad) == list(want.grad)
    for k in want.grad:
        se = np.abs(want.stderr[k])
        assert_close(got.grad[k], want.grad[k], rtol, rtol * se, "%s grad[%r]" % (what, k))
        assert_close(np.square(got.stderr[k]), np.square(want.stderr[k]), rtol,
                     rtol * (np.square(want.grad[k]) / n + se ** 2),
                     "%s stderr[%r]^2" % (what, k))
    assert got.n == want.n and got.method == want.method


CASES = [(fam, kind) for fam in FAMILIES for kind in fkinds(fam)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("family,kind", CASES, ids=["%s-%s" % c for c in CASES])
def test_compiled_equals_reference(family, kind, shape, assert_close):
    d = make(family, shape)
    f = make_f(kind, family)
    n, nt = N, None
    if kind.startswith("llc") and family in ("Normal", "Poisson"):
        # called per sample, taking the GIL: fewer samples, one thread (test_determinism.py
        # runs them on several threads)
        n, nt = N_CALLBACK, 1
    seed = 17 + len(shape)
    for m in METHODS:
        method, baseline = baseline_for(m, d)
        got = fs.estimate(d, f, n, rng=seed, method=method, baseline=baseline, n_threads=nt)
        want = fs.estimate(d, f, n, rng=seed, method=method, baseline=baseline,
                           backend="reference")
        assert np.shape(got.value) == tuple(shape)
        assert np.all(np.isfinite(want.value)) and np.all(want.value_stderr >= 0)
        assert np.any(want.value_stderr > 0)
        assert_estimates_close(got, want, assert_close, what="%s %s %s %s" % (
            family, kind, shape, m))


def test_cases_cover_each_builtin():
    kinds = {k for _, k in CASES}
    for name in ("power2", "linear", "call", "put", "indicator", "table", "python",
                 "llc_scalar", "llc_vector"):
        assert name in kinds


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
def test_explicit_vector_signatures_agree(signature, assert_close):
    d = fs.Normal(np.array([0.0, 1.0]), 2.0)
    base = fs.estimate(d, LowLevelCallable(VECTOR_CB), 5000, rng=3, method="rloo")
    other = fs.estimate(d, LowLevelCallable(VECTOR_CB, signature=signature), 5000, rng=3,
                        method="rloo")
    assert_estimates_close(other, base, assert_close, rtol=0.0)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_lowlevel_batch_index_is_flat_c_order(backend, assert_close):
    """The vector LowLevelCallable sees the flat (C-order) batch index."""
    d = make("Normal", (2, 3))
    idx = np.arange(6.0).reshape(2, 3)

    def same_in_python(x):
        return x * x - 0.5 * x + 0.1 * idx

    a = fs.estimate(d, LowLevelCallable(VECTOR_CB), N_CALLBACK, rng=4, method="cv",
                    backend=backend, n_threads=1)
    b = fs.estimate(d, same_in_python, N_CALLBACK, rng=4, method="cv", backend=backend)
    assert_estimates_close(a, b, assert_close, rtol=1e-12)


def test_lowlevel_user_data_is_passed(assert_close):
    offset = ctypes.c_double(2.5)

    def with_user_data(p, e, b, u):
        return p[0] + ctypes.cast(u, ctypes.POINTER(ctypes.c_double))[0]

    cb = _VECTOR(with_user_data)
    llc = LowLevelCallable(cb, ctypes.cast(ctypes.pointer(offset), ctypes.c_void_p))
    d = fs.Normal(np.array([0.0, 1.0]), 1.0)
    for backend in ("compiled", "reference"):
        a = fs.estimate(d, llc, 3000, rng=5, backend=backend)
        b = fs.estimate(d, lambda x: x + 2.5, 3000, rng=5, backend=backend)
        assert_estimates_close(a, b, assert_close, rtol=1e-12)


def test_c_function_lowlevel_matches_numpy(c_cos_llc, assert_close):
    d = make("Normal", (3,))
    for backend in ("compiled", "reference"):
        a = fs.estimate(d, c_cos_llc, N, rng=6, method="rloo", backend=backend)
        b = fs.estimate(d, np.cos, N, rng=6, method="rloo", backend=backend)
        assert_estimates_close(a, b, assert_close, rtol=1e-12)


# -- estimate_from_samples ---------------------------------------------------

FROM_SAMPLES = {
    "Normal": (fs.fn.power(2), lambda x: x * x),
    "Poisson": (fs.fn.linear(2.0, -1.0), lambda x: 2.0 * x - 1.0),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("family", list(FROM_SAMPLES))
@pytest.mark.parametrize("method", METHODS)
def test_estimate_from_samples_matches_reference(family, method, shape, assert_close):
    d = make(family, shape)
    builtin, numpy_f = FROM_SAMPLES[family]
    meth, baseline = baseline_for(method, d)
    x = fs.sample(d, N, rng=21)
    fx = numpy_f(x.astype(np.float64))
    got = fs.estimate_from_samples(d, x, fx, method=meth, baseline=baseline)
    assert got.key is None and got.n == N
    for f in (builtin, numpy_f):
        want = fs.estimate(d, f, N, rng=21, method=meth, baseline=baseline, backend="reference")
        assert_estimates_close(got, want, assert_close, what="%s %s" % (family, method))
    comp = fs.estimate(d, builtin, N, rng=21, method=meth, baseline=baseline)
    assert_estimates_close(got, comp, assert_close, what="compiled %s %s" % (family, method))


@pytest.mark.parametrize("family", ["Bernoulli(logits)", "Categorical(probs)"])
def test_estimate_from_samples_finite_support(family, assert_close):
    """Finite supports: per-sample sums agree with the exact count-based sums."""
    d = make(family, (2, 3))
    f = fs.fn.table([1.0, -2.0, 0.5, 3.0])
    x = fs.sample(d, N, rng=22)
    fx = np.array([1.0, -2.0, 0.5, 3.0])[x]
    for method in ("plain", "rloo", "cv"):
        got = fs.estimate_from_samples(d, x, fx, method=method)
        want = fs.estimate(d, f, N, rng=22, method=method, backend="reference")
        assert_estimates_close(got, want, assert_close, rtol=1e-9, what=method)


def test_from_samples_bernoulli_logits_matches_formula(assert_close):
    """An independent check of the shared finish: plain/rloo written out in NumPy."""
    p = np.array([0.2, 0.7])
    d = fs.Bernoulli(logits=special.logit(p))
    x = fs.sample(d, 5000, rng=23).astype(float)
    fx = 3.0 * x + np.sin(np.arange(5000.0))[:, None]  # rewards need not be f(x)
    s = x - special.expit(special.logit(p))
    n = x.shape[0]
    plain = fs.estimate_from_samples(d, x, fx, method="plain")
    assert_close(plain.grad["logits"], (fx * s).mean(0), 1e-12)
    assert_close(plain.stderr["logits"], (fx * s).std(0, ddof=1) / np.sqrt(n), 1e-10)
    assert_close(plain.value, fx.mean(0), 1e-12)
    rloo = fs.estimate_from_samples(d, x, fx, method="rloo")
    loo = (fx.sum(0) - fx) / (n - 1)
    terms = (fx - loo) * s
    assert_close(rloo.grad["logits"], terms.mean(0), 1e-10)
    assert_close(rloo.stderr["logits"], terms.std(0, ddof=1) / np.sqrt(n), 1e-8)


def test_comparison_detects_other_samples(assert_close):
    """The comparison can fail: a run on other samples (another seed) is caught."""
    d = make("Normal", (3,))
    a = fs.estimate(d, fs.fn.power(2), N, rng=1, backend="reference")
    b = fs.estimate(d, fs.fn.power(2), N, rng=2)
    with pytest.raises(AssertionError):
        assert_estimates_close(b, a, assert_close)


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
