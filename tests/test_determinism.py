"""Results are bit-identical whatever the number of threads.

DESIGN.md: chunks are reduced into their own accumulators and merged in chunk
order, so a result depends on (key, n, chunk size) only.  Every number of an
Estimate (value, value_stderr, each grad and stderr) must be exactly equal
for n_threads in 1, 2, 3, 8, for every family and kind of f.
"""

import ctypes
import math

import numpy as np
import pytest
from scipy import LowLevelCallable

import fastscore as fs

THREADS = (1, 2, 3, 8)
N = 100_000  # several chunks of fs.CHUNK_SIZE per batch element
N_CALLBACK = fs.CHUNK_SIZE + 101  # Python ctypes callbacks contend for the GIL: fewer

_SCALAR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)
# ctypes callbacks of Python functions (they take the GIL per call); module-level so
# they outlive every call.
_py_scalar_cb = _SCALAR(lambda x: math.sin(x) + 0.25 * x * x)
_py_vector_cb = _VECTOR(lambda p, e, b, u: p[0] * p[0] - 0.5 * p[0] + b)


def make(family):
    if family == "Normal":
        return fs.Normal(np.array([[0.0, 1.0, -2.0], [0.5, 3.0, -0.1]]),
                         np.array([1.0, 2.0, 0.3]))
    if family == "Poisson":
        return fs.Poisson(np.array([[0.5, 4.0, 12.0], [30.0, 1.0, 7.5]]))
    if family == "Bernoulli":
        return fs.Bernoulli(logits=np.array([[-1.0, 0.0, 2.0], [0.3, -4.0, 1.0]]))
    if family == "Categorical":
        rng = np.random.default_rng(0)
        return fs.Categorical(logits=rng.normal(size=(2, 3, 4)))
    raise AssertionError(family)


def small(family):
    """A smaller batch for the GIL-bound ctypes callbacks."""
    if family == "Normal":
        return fs.Normal(np.array([0.0, 1.0]), 1.5)
    if family == "Poisson":
        return fs.Poisson(np.array([2.0, 15.0]))
    return make(family)


def python_f(x):
    x = np.asarray(x, dtype=np.float64)
    return np.cos(x) + 0.1 * x * x


BUILTINS = {"Normal": fs.fn.power(2), "Poisson": fs.fn.power(2),
            "Bernoulli": fs.fn.table([1.0, -2.5]), "Categorical": fs.fn.table([0.5, 1.0, -1.0, 3.0])}

FAMILIES = ["Normal", "Poisson", "Bernoulli", "Categorical"]


def assert_identical(a, b, what):
    assert np.array_equal(a.value, b.value), "%s: value differs" % what
    assert np.array_equal(a.value_stderr, b.value_stderr), "%s: value_stderr differs" % what
    assert list(a.grad) == list(b.grad) and list(a.stderr) == list(b.stderr)
    for k in a.grad:
        assert np.array_equal(a.grad[k], b.grad[k]), "%s: grad[%r] differs" % (what, k)
        assert np.array_equal(a.stderr[k], b.stderr[k]), "%s: stderr[%r] differs" % (what, k)
    assert a.n == b.n and a.key == b.key


def check_threads(dist, f, n, method="rloo", seed=123, **kw):
    first = fs.estimate(dist, f, n, rng=seed, method=method, n_threads=THREADS[0], **kw)
    assert np.all(np.isfinite(first.value))
    for nt in THREADS[1:]:
        other = fs.estimate(dist, f, n, rng=seed, method=method, n_threads=nt, **kw)
        assert_identical(first, other, "n_threads=%d vs 1 (%s)" % (nt, method))
    assert_identical(first, fs.estimate(dist, f, n, rng=seed, method=method, **kw),
                     "n_threads=None vs 1")
    return first


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
def test_builtin_f(family, method):
    kw = {"baseline": 0.7} if method == "baseline" else {}
    check_threads(make(family), BUILTINS[family], N, method, **kw)


@pytest.mark.parametrize("family", FAMILIES)
def test_python_f(family):
    check_threads(make(family), python_f, N, "cv")


@pytest.mark.parametrize("family", FAMILIES)
def test_lowlevel_c_function(family, c_cos_llc):
    """A real, GIL-free C function (libm cos), signature 'double (double)'."""
    assert c_cos_llc.signature == "double (double)"
    check_threads(make(family), c_cos_llc, N, "rloo")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("sig", ["scalar", "vector"])
def test_lowlevel_ctypes_python_callback(family, sig):
    cb = _py_scalar_cb if sig == "scalar" else _py_vector_cb
    est = check_threads(small(family), LowLevelCallable(cb), N_CALLBACK, "plain")
    assert np.all(np.isfinite(est.value))


def test_distinct_seeds_differ():
    """Sanity check that the comparisons above can fail: other seeds, other numbers."""
    d = make("Normal")
    a = fs.estimate(d, fs.fn.power(2), N, rng=1, n_threads=2)
    b = fs.estimate(d, fs.fn.power(2), N, rng=2, n_threads=2)
    assert not np.array_equal(a.grad["loc"], b.grad["loc"])


@pytest.mark.parametrize("family", ["Normal", "Categorical"])
def test_precision_targets_are_thread_independent(family):
    d = make(family)
    atol = {"Normal": 0.1, "Categorical": 0.01}[family]
    est = check_threads(d, BUILTINS[family], 20_000, "rloo", atol=atol, max_n=2_000_000)
    assert est.converged and est.n > 20_000  # more than one wave was drawn


def test_threadpoolctl_limit_gives_same_result():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    d = make("Normal")
    ref = fs.estimate(d, fs.fn.power(2), N, rng=5, n_threads=1)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        limited = fs.estimate(d, fs.fn.power(2), N, rng=5)
    assert_identical(ref, limited, "threadpool_limits(1)")


def test_samples_thread_independent():
    for family in FAMILIES:
        d = make(family)
        x1 = fs.sample(d, N, rng=9, n_threads=1)
        for nt in THREADS[1:]:
            assert np.array_equal(x1, fs.sample(d, N, rng=9, n_threads=nt)), (family, nt)
