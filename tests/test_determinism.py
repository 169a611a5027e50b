"""Results are bit-identical whatever the number of threads.

Chunks are reduced into their own accumulators and merged in chunk order, so
a result depends on (key, n, chunk size) only (README, Reproducibility).
Every number of an Estimate (value, value_stderr, each grad and stderr) must
be exactly equal for n_threads in 1, 2, 3, 8 and None, for every case of the
registry (tests/cases.py) and kind of f.
"""

import ctypes
import math

import numpy as np
import pytest
from scipy import LowLevelCallable

import fastscore as fs
from fastscore import _engine
from cases import BY_NAME, CASES, builtin_f, python_f

THREADS = (1, 2, 3, 8)
N = 2 * fs.CHUNK_SIZE + 17  # three chunks per batch element: six work items in a batch of two
N_CALLBACK = fs.CHUNK_SIZE + 101  # Python ctypes callbacks contend for the GIL: fewer

_SCALAR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)
# ctypes callbacks of Python functions (they take the GIL per call); module-level so
# they outlive every call.
_py_scalar_cb = _SCALAR(lambda x: math.sin(x) + 0.25 * x * x)
_py_vector_cb = _VECTOR(lambda p, e, b, u: p[0] * p[0] - 0.5 * p[0] + b)


def assert_identical(a, b, what):
    assert np.array_equal(a.value, b.value), "%s: value differs" % what
    assert np.array_equal(a.value_stderr, b.value_stderr), "%s: value_stderr differs" % what
    assert list(a.grad) == list(b.grad) and list(a.stderr) == list(b.stderr)
    for k in a.grad:
        assert np.array_equal(a.grad[k], b.grad[k]), "%s: grad[%r] differs" % (what, k)
        assert np.array_equal(a.stderr[k], b.stderr[k]), "%s: stderr[%r] differs" % (what, k)
    assert a.n == b.n and a.key == b.key


def check_threads(dist, f, n, method="rloo", seed=123, threads=THREADS, **kw):
    """The estimate for each thread count of ``threads`` (and the default) equals the first."""
    first = fs.estimate(dist, f, n, rng=seed, method=method, n_threads=threads[0], **kw)
    assert np.all(np.isfinite(first.value))
    for nt in threads[1:]:
        other = fs.estimate(dist, f, n, rng=seed, method=method, n_threads=nt, **kw)
        assert_identical(first, other, "n_threads=%d vs %d (%s)" % (nt, threads[0], method))
    assert_identical(first, fs.estimate(dist, f, n, rng=seed, method=method, **kw),
                     "n_threads=None vs %d" % threads[0])
    return first


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
def test_builtin_f(case, method):
    """Every thread count for rloo; the other methods finish the same sums: 1 and 3 threads."""
    d = case.make((2,))
    kw = {"baseline": 0.7} if method == "baseline" else {}
    check_threads(d, builtin_f(d), N, method, threads=THREADS if method == "rloo" else (1, 3),
                  **kw)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_python_f(case):
    d = case.make((2,))
    check_threads(d, python_f(d), N, "cv")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lowlevel_f(case, c_cos_llc):
    """A real, GIL-free C function (libm cos, 'double (double)') on scalar samples; on
    vector events a ctypes callback of the vector signature (it takes the GIL: fewer
    samples, fewer thread counts)."""
    d = case.make((2,))
    if d.event_size > 1:
        check_threads(d, LowLevelCallable(_py_vector_cb), N_CALLBACK, "rloo", threads=(1, 3))
    else:
        assert c_cos_llc.signature == "double (double)"
        check_threads(d, c_cos_llc, N, "rloo")


@pytest.mark.parametrize("sig", ["scalar", "vector"])
def test_lowlevel_ctypes_python_callback(sig):
    """Callbacks that take the GIL per sample, called from several OpenMP threads."""
    cb = _py_scalar_cb if sig == "scalar" else _py_vector_cb
    check_threads(BY_NAME["Normal"].make((2,)), LowLevelCallable(cb), N_CALLBACK, "plain",
                  threads=(1, 2, 3))


def test_distinct_seeds_differ():
    """Sanity check that the comparisons above can fail: other seeds, other numbers."""
    d = BY_NAME["Normal"].make((2, 3))
    a = fs.estimate(d, fs.fn.power(2), N, rng=1, n_threads=2)
    b = fs.estimate(d, fs.fn.power(2), N, rng=2, n_threads=2)
    assert not np.array_equal(a.grad["loc"], b.grad["loc"])


@pytest.mark.parametrize("name, atol", [("Normal", 0.1), ("Categorical(logits)", 0.01)])
def test_precision_targets_are_thread_independent(name, atol):
    d = BY_NAME[name].make((2, 3))
    est = check_threads(d, builtin_f(d), 20_000, "rloo", atol=atol, max_n=2_000_000)
    assert est.converged and est.n > 20_000  # more than one wave was drawn


def test_threadpoolctl_limit_gives_same_result():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    d = BY_NAME["Normal"].make((2, 3))
    ref = fs.estimate(d, fs.fn.power(2), N, rng=5, n_threads=1)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        limited = fs.estimate(d, fs.fn.power(2), N, rng=5)
    assert_identical(ref, limited, "threadpool_limits(1)")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_samples_thread_independent(case):
    d = case.make((2,))
    x1 = fs.sample(d, N, rng=9, n_threads=1)
    for nt in THREADS[1:]:
        assert np.array_equal(x1, fs.sample(d, N, rng=9, n_threads=nt)), nt


def test_every_fold_path_gives_the_same_bits():
    """The moment folds run on SSE2, AVX2 or AVX-512 (the engine's reduce_isa, by
    default the best the CPU has) with 8 lanes of partial sums on every path: each path this
    machine has gives the same bits, for the score, mean and control-variate
    blocks and block tails of every length; so do the MultivariateNormal's
    score-block loops (_rowops.h), which follow the same choice."""
    from fastscore import _kernels

    scale_tril = [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]]
    cases = [(fs.Normal([0.5, 1.0], [1.5, 2.0]), fs.fn.power(2), {"method": "cv"}),
             (fs.MultivariateNormal([0.0, 0.5, 1.0], scale_tril), fs.fn.linear([1.0, -0.5, 2.0]),
              {"method": "baseline", "baseline": 0.3}),
             (fs.Gamma(2.5, 1.5), fs.fn.power(2), {"method": "rloo"}),
             (fs.Normal(0.5, 1.5), fs.fn.power(2), {"estimator": "pathwise"}),
             (fs.Bernoulli(probs=0.3), fs.fn.power(2), {"estimator": "rebar",
                                                        "temperature": 0.5})]

    def run():
        out = []
        for d, f, kw in cases:
            for n in (2 * fs.CHUNK_SIZE + 13, 7):   # tails of every length in the blocks
                est = fs.estimate(d, f, n, rng=4, n_threads=1, **kw)
                out += [np.asarray(v) for v in (est.value, est.value_stderr)]
                out += [np.asarray(est.grad[k]) for k in est.grad]
                out += [np.asarray(est.stderr[k]) for k in est.stderr]
        return out

    chosen, have = _engine.reduce_isa()
    assert have[0] == "portable" and chosen in have
    with _engine.using(reduce_isa="portable"):
        want = run()
    for isa in have[1:]:
        with _engine.using(reduce_isa=isa) as eng:
            assert eng.reduce_isa == isa
            got = run()
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(got, want)), isa


def test_mvn_fused_loops_give_the_bits_of_the_row_steps():
    """MultivariateNormal's draw (x = loc + L z), score terms and pathwise
    terms for events of 2 to 4 run as fused loops over the samples
    (_rowops.h); they give the bits of the per-event steps and the row steps
    that serve every other event size, under every reducer path."""
    from fastscore import _kernels
    g = np.random.default_rng(3)
    cases = []
    for D in (2, 3, 4, 5):
        L = np.tril(g.normal(size=(D, D)) * 0.4, -1) + np.diag(g.uniform(0.5, 2.0, size=D))
        cases.append((fs.MultivariateNormal(g.normal(size=D), L),
                      fs.fn.linear(g.normal(size=D))))

    # a batch of 2 (samples E * 2 apart in the Python-f path) and an f' that
    # varies per sample, so a wrong stride in the pathwise loop shows
    batched = fs.MultivariateNormal(np.stack([cases[1][0].loc, -cases[1][0].loc]),
                                    cases[1][0].scale_tril)

    def run():
        out = []
        est = fs.estimate(batched, lambda x: (x ** 3).sum(axis=-1), 5003, rng=4, n_threads=1,
                          estimator="pathwise", grad_f=lambda x: 3.0 * x ** 2)
        out += [np.asarray(est.grad[k]) for k in est.grad]
        for d, f in cases:
            out += [fs.sample(d, 1003, rng=5, n_threads=1)]
            runs = [dict(method=m) for m in ("plain", "rloo", "cv")] + [
                dict(estimator="pathwise")]
            for kw in runs:
                est = fs.estimate(d, f, fs.CHUNK_SIZE + 13, rng=2, n_threads=1, **kw)
                out += [np.asarray(est.value_stderr)]
                out += [np.asarray(est.grad[k]) for k in est.grad]
                out += [np.asarray(est.stderr[k]) for k in est.stderr]
        return out

    _, have = _engine.reduce_isa()
    with _engine.using(mvn_fused=False):
        want = run()
    for isa in have:
        for fused in (True, False):
            with _engine.using(reduce_isa=isa, mvn_fused=fused) as eng:
                assert eng.reduce_isa == isa
                got = run()
            assert all(np.array_equal(a, b) for a, b in zip(got, want)), (isa, fused)


# The kernel families with a fused step (_foldsteps.h), by slot: a
# distribution that runs each, with a batch of 2.
FOLD_STEP_CASES = {
    "score_fold": {
        "normal": fs.Normal([0.5, -1.0], [1.5, 0.3]),
        "lognormal_y": fs.LogNormal([0.2, -0.4], [0.7, 0.2]),  # LogNormal's inline family
        "exponential": fs.Exponential([0.7, 3.0]),
        "poisson": fs.Poisson([2.5, 40.0]),
        "gamma": fs.Gamma([2.5, 1.2], [1.0, 2.0]),   # concentrations >= 1: not gamma_log
        "chi2": fs.Chi2([3.0, 2.5]),
        "geometric_probs": fs.Geometric(probs=[0.3, 1.0]),   # x = 0 only, at p = 1
        "geometric_logits": fs.Geometric(logits=[-0.5, 2.0]),
        "laplace": fs.Laplace([0.5, -1.0], [1.5, 0.3])},
    "pathwise_fold": {
        "normal": fs.Normal([0.5, -1.0], [1.5, 0.3]),
        "lognormal_y": fs.LogNormal([0.2, -0.4], [0.7, 0.2]),
        "exponential": fs.Exponential([0.7, 3.0]),
        "laplace": fs.Laplace([0.5, -1.0], [1.5, 0.3])},
}


@pytest.mark.parametrize("slot", sorted(FOLD_STEP_CASES))
def test_fused_fold_steps_give_the_bits_of_the_steps_one_by_one(slot):
    """The scalar families with a fused step (_foldsteps.h: score_fold, d,
    the score and the folds in one pass over a block; pathwise_fold, d, the
    terms f'(x) dx/dtheta and their folds about the first sample's terms)
    give the bits of those steps taken one by one, under every reducer path:
    a built-in and a Python f, a batch, every method, blocks' tails of every
    length."""
    from fastscore import _kernels
    from fastscore._specs import FAMILIES
    dists = FOLD_STEP_CASES[slot]
    assert sorted(dists) == sorted(f.name for f in FAMILIES if getattr(f, slot))
    runs = ([{"method": m} for m in ("plain", "rloo", "cv")] if slot == "score_fold"
            else [{"estimator": "pathwise"}])
    # a built-in f, and a Python f (with its f' for the pathwise step)
    fns = [(fs.fn.power(2), {}),
           (lambda x: np.sin(x) + x,
            {"grad_f": lambda x: np.cos(x) + 1.0} if slot == "pathwise_fold" else {})]

    def run():
        out = []
        for d in dists.values():
            for f, f_kw in fns:
                for n in (fs.CHUNK_SIZE + 13, 263, 7, 2):
                    for kw in runs:
                        est = fs.estimate(d, f, n, rng=6, n_threads=1, **kw, **f_kw)
                        out += [np.asarray(v) for v in (est.value, est.value_stderr)]
                        out += [np.asarray(est.grad[k]) for k in est.grad]
                        out += [np.asarray(est.stderr[k]) for k in est.stderr]
        return out

    _, have = _engine.reduce_isa()
    with _engine.using(reduce_isa="portable", **{slot: False}):
        want = run()
    for isa in have:
        for fused in (True, False):
            with _engine.using(reduce_isa=isa, **{slot: fused}) as eng:
                assert eng.reduce_isa == isa
                got = run()
            assert all(np.array_equal(a, b) for a, b in zip(got, want)), (isa, fused)


def test_linear_f_in_the_kernel_is_the_sequential_sum_on_every_path():
    """The built-in linear f in the kernel (a vector loop for events of 2 to 4,
    _rowops.h) is 0.0 plus the products in order, then b, bit for bit (with
    products of -0.0), for events of 1 to 6, under every reducer path."""
    from fastscore import _kernels
    g = np.random.default_rng(11)
    _, have = _engine.reduce_isa()
    for E in range(1, 7):
        d = fs.MultivariateNormal(np.zeros(E), np.eye(E)) if E > 1 else fs.Normal(0.0, 1.0)
        plan = d.plan()
        a = -np.abs(g.normal(size=E)) if E > 1 else -abs(g.normal())
        x3 = g.normal(size=(1003, 1, E))   # and the 3 after the vector loop
        x3[::7] = 0.0                   # products of -0.0: a is negative
        coef = np.atleast_1d(a)
        for b in (0.7, -0.0):           # b = -0.0 shows the sign of a zero sum
            f = fs.fn.linear(a, b)
            want = coef[0] * x3[:, :, 0]
            if E > 1:
                want = 0.0 + want
                for e in range(1, E):
                    want = want + coef[e] * x3[:, :, e]
            want = want + b
            for isa in have:
                got = f.spec(plan).evaluate(x3, np.zeros(1, dtype=np.int64),
                                            engine=_engine.current().replace(
                                                reduce_isa=isa).code)
                assert got.shape == want.shape
                assert np.array_equal(np.signbit(got), np.signbit(want)), (E, b, isa)
                assert np.array_equal(got, want), (E, b, isa)


def test_onehot_finish_is_the_general_finish_on_every_path():
    """The fused one-hot finish (_onehot.h: eight rows at a time, a vector lane
    each, or a vector loop over the categories of one row) gives the bits of
    the general path, the moment sums of the counts then their finish, for
    every method, probs and logits coefficients, rows with undrawn categories
    where f is infinite, a drawn infinite f (NaN standard errors), a single
    draw, full and partial groups of rows, 8 categories (a constant in the
    group loop) and other numbers of them, a count of 2^52 or more (the row
    path) and many categories (chunks of 64), under every reducer path the
    CPU has."""
    from fastscore import _finish, _kernels
    g = np.random.default_rng(7)
    cases = []
    for B, K, top in ((40, 8, 5), (30, 3, 2), (16, 20, 3), (16, 32, 3), (16, 33, 3),
                      (12, 70, 30), (5, 1, 4), (16, 1, 4)):
        counts = g.integers(0, top, size=(B, K)).astype(np.int64)
        if K == 20:
            counts[11, 4] = 2 ** 52 + 5         # its group takes the row path
            counts[3, 2] = 2 ** 40 + 7          # large, and still the group path
        counts[::4, 0] = 0
        counts[1] = 0
        counts[1, -1] = 1                       # one draw: n - 1 = 0
        fv = g.normal(size=(B, K))
        counts[2, 0] = 2
        counts[0, -1] += 2 * (K > 1)            # row 0: drawn elsewhere
        fv[[0, 2], 0] = np.inf                  # undrawn (row 0) and drawn (row 2)
        b = g.uniform(0.05, 1.0, size=(B, K))
        a = 1.0 / g.uniform(0.05, 1.0, size=(B, K))
        if K > 1:
            a[0, 0] = np.inf                    # undrawn in row 0: contributes nothing
        cases.append((counts, fv, a, b, g.normal(size=B)))
    _, have = _engine.reduce_isa()
    for isa in have:
        code = _engine.current().replace(reduce_isa=isa).code
        for counts, fv, a, b, base in cases:
            for coef in (None, a):
                sums = _finish.onehot_count_sums(
                    counts, fv, np.ones_like(b) if coef is None else coef, b, 1)
                for method in ("plain", "baseline", "rloo"):  # cv: from counts per fold
                    bl = base if method == "baseline" else None
                    want = _finish.finish_sums(sums, method, bl, 1)
                    got = _finish.onehot_finish(counts, fv, coef, b, method, bl, 1,
                                                engine=code)
                    for w, r in zip(want, got):   # the bits, NaNs and zeros' signs too
                        assert np.array_equal(w.view(np.uint64), r.view(np.uint64)), \
                            (isa, method, counts.shape)
                    assert np.isnan(got[3][2]).all() and np.isnan(got[1][2])
                    if counts.shape[1] > 1:
                        assert np.isfinite(got[3][0]).all() and np.isfinite(got[1][0])
