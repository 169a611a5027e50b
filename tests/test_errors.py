"""Bad input, faults and concurrency: clear errors, nothing silently wrong."""

import ctypes
import os
import signal
import threading
import time

import numpy as np
import pytest
from scipy import LowLevelCallable

import fastscore as fs
from cases import CASES, make, python_f

N = make("Normal")
F = fs.fn.power(2)
BACKENDS = ["compiled", "reference"]


# ------------------------------------------------------------ parameters
INVALID = [(case, i) for case in CASES for i in range(len(case.invalid))]
INVALID_IDS = ["%s-%d" % c for c in INVALID]


def invalid_params(case, i):
    """The parameters of the case's invalid entry i, and the entry."""
    bad = case.invalid[i]
    return {**case.params(), **bad.overrides}, bad


@pytest.mark.parametrize("case, i", INVALID, ids=INVALID_IDS)
def test_invalid_parameters_raise_naming_distribution_parameter_rule_and_index(case, i):
    params, bad = invalid_params(case, i)
    with pytest.raises(bad.exc) as info:
        case.build(params)
    msg = str(info.value)
    assert msg.startswith(case.cls.__name__ + ":"), msg
    assert any(nm in msg for nm in params), msg
    for w in bad.words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case, i", INVALID, ids=INVALID_IDS)
def test_drawing_checks_parameters_even_without_validate_args(case, i, backend):
    """With validate_args=False, construction skips the value checks, but drawing
    (numpy's samplers would loop forever or overflow) raises what construction would;
    shape errors are raised at construction either way."""
    params, bad = invalid_params(case, i)
    with pytest.raises(bad.exc) as want:
        case.build(params)
    # the constants of invalid parameters may divide by zero on the way: no warnings
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            d = case.build(params, validate_args=False)
        except bad.exc as exc:
            assert str(exc) == str(want.value)
            return
        with pytest.raises(ValueError) as info:
            fs.sample(d, 2, rng=0, backend=backend)
        assert str(info.value) == str(want.value)
        with pytest.raises(ValueError) as info:
            fs.estimate(d, lambda x: np.ones(np.shape(x)[:1 + len(d.batch_shape)]), 100,
                        rng=0, backend=backend)
        assert str(info.value) == str(want.value)


def test_every_case_has_invalid_parameters():
    assert all(case.invalid for case in CASES)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("build, x, score", [
    (lambda: fs.Binomial(5, probs=0.0), 0, -5.0),        # x / p with x = 0 is 0
    (lambda: fs.Binomial(5, probs=1.0), 5, 5.0),         # (n - x) / (1 - p) with x = n is 0
    (lambda: fs.Geometric(probs=1.0), 0, 1.0),           # x / (1 - p) with x = 0 is 0
    (lambda: fs.NegativeBinomial(2.0, probs=0.0), 0, -2.0),
    (lambda: fs.Binomial(2000, probs=0.0), 0, -2000.0),  # a drawn (not counted) Binomial
])
def test_scores_at_the_ends_of_the_probs_range(build, x, score, backend):
    """The score of the only sample there is finite: 0 * inf terms are 0."""
    d = build()
    assert fs.score(d, [x])["probs"][0] == score
    est = fs.estimate(d, lambda v: v * 1.0 + 1.0, 1000, rng=0, backend=backend)
    assert est.grad["probs"] == (x + 1.0) * score and est.stderr["probs"] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalar_lowlevel_f_refuses_vector_events(backend, c_cos_llc):
    with pytest.raises(ValueError, match="Dirichlet has event shape"):
        fs.estimate(fs.Dirichlet([1.0, 2.0]), c_cos_llc, 100, rng=0, backend=backend)


def test_validate_args_false_skips_checks():
    d = fs.Normal(0.0, -1.0, validate_args=False)
    assert d.batch_shape == ()
    fs.Gamma(-1.0, 1.0, validate_args=False)


# ------------------------------------------------------------- arguments
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(n=1.5), ValueError, ["n", "integer"]),
    (dict(n=0), ValueError, ["n", ">= 2"]),
    (dict(n=-3), ValueError, ["n"]),
    (dict(n="10"), TypeError, ["n"]),
    (dict(n=True), TypeError, ["n", "bool"]),
    (dict(method="foo"), ValueError, ["method", "'foo'"]),
    (dict(method="rloo", baseline=1.0), ValueError, ["baseline"]),
    (dict(method="baseline"), ValueError, ["baseline"]),
    (dict(rng="abc"), TypeError, ["rng"]),
    (dict(rng=-1), ValueError, ["rng"]),
    (dict(rng=1.5), TypeError, ["rng"]),
    (dict(n_threads=0), ValueError, ["n_threads"]),
    (dict(n_threads=-1), ValueError, ["n_threads"]),
    (dict(n_threads=1.5), TypeError, ["n_threads"]),
    (dict(nan_policy="omit"), ValueError, ["nan_policy"]),
    (dict(rtol=-1.0), ValueError, ["rtol"]),
    (dict(max_n=10 ** 6), ValueError, ["max_n"]),
])
def test_argument_errors(backend, kwargs, exc, words):
    args = dict(n=100)
    args.update(kwargs)
    n = args.pop("n")
    with pytest.raises(exc) as info:
        fs.estimate(N, F, n, backend=backend, **args)
    for w in words:
        assert w in str(info.value)


def test_bad_backend_and_baseline_shape():
    with pytest.raises(ValueError, match="backend"):
        fs.estimate(N, F, 100, backend="gpu")
    d = fs.Normal(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"baseline.*\(3,\).*\(2,\)"):
        fs.estimate(d, F, 100, method="baseline", baseline=np.zeros(2))


def test_integral_float_n_and_huge_n_are_accepted():
    assert fs.estimate(N, F, 1e4, rng=0).n == 10_000
    # 2**40 samples pass validation and chunk arithmetic (interrupted at once).
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        fs.estimate(N, F, 2 ** 40, rng=0)
    timer.join()


# --------------------------------------------------------------------- f
class Boom(Exception):
    pass


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_exception_in_python_f_propagates_and_leaves_nothing_behind(case, n_threads, backend):
    """The very exception f raised, unchanged; no thread left behind; the next call
    gives what it gave before."""
    err = Boom("boom: f failed on purpose (42)")

    def bad(x):
        raise err

    d = case.make((2,))
    before = threading.active_count()
    want = fs.estimate(d, python_f(d), 20_000, rng=1, n_threads=n_threads, backend=backend)
    with pytest.raises(Boom) as info:
        fs.estimate(d, bad, 20_000, rng=1, n_threads=n_threads, backend=backend)
    assert info.value is err and str(info.value) == "boom: f failed on purpose (42)"
    assert threading.active_count() == before
    again = fs.estimate(d, python_f(d), 20_000, rng=1, n_threads=n_threads, backend=backend)
    for k in want.grad:
        assert np.array_equal(again.grad[k], want.grad[k])
        assert np.array_equal(again.stderr[k], want.stderr[k])


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_output_of_f(backend):
    d = fs.Normal(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"shape \(100,\).*\(100, 3\)"):
        fs.estimate(d, lambda x: x[:, 0], 100, backend=backend)
    with pytest.raises(ValueError, match="real numbers.*complex"):
        fs.estimate(d, lambda x: x.astype(complex), 100, backend=backend)
    with pytest.raises(ValueError, match="real numbers"):
        fs.estimate(d, lambda x: np.full(x.shape, "a"), 100, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_policy(backend):
    d = fs.Normal(np.zeros(3), [1.0, 1.0, 3.0])
    f = lambda x: np.where(x > 6, np.nan, x)  # only the third element (scale 3) goes past 6
    with pytest.raises(ValueError, match=r"batch element \(2,\)"):
        fs.estimate(d, f, 20_000, rng=0, backend=backend)
    est = fs.estimate(d, f, 20_000, rng=0, backend=backend, nan_policy="propagate")
    assert np.isnan(est.value[2]) and np.isnan(est.grad["loc"][2])
    assert np.all(np.isfinite(est.grad["loc"][:2]))
    with pytest.raises(ValueError, match="table"):
        fs.estimate(fs.Poisson(5.0), fs.fn.table([1.0, 2.0]), 100, backend=backend)


def test_unsupported_lowlevel_signature_lists_accepted_ones():
    cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda v: v)
    with pytest.raises(TypeError, match=r"double \(double\).*intptr_t"):
        fs.estimate(N, LowLevelCallable(cb), 100)


def test_bad_f_and_dist_are_type_errors():
    with pytest.raises(TypeError, match="f must be"):
        fs.estimate(N, 3, 100)
    with pytest.raises(TypeError, match="dist must be"):
        fs.estimate("normal", F, 100)
    with pytest.raises(ValueError, match="scalar samples"):
        fs.estimate(make("MultivariateNormal"), F, 100)
    with pytest.raises(ValueError, match="discrete"):
        fs.estimate(N, fs.fn.table([1.0]), 100)


# ------------------------------------------------------------ interrupts
@pytest.mark.parametrize("d, f", [
    (N, F),
    (N, lambda x: x * x),
    (fs.Categorical(logits=[0.0, 1.0]), fs.fn.table([1.0, 2.0])),
    (make("MultivariateNormal"), fs.fn.linear(1.0)),
])
def test_ctrl_c_interrupts_within_half_a_second(d, f):
    sent = {}

    def interrupt():
        time.sleep(0.3)
        sent["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        fs.estimate(d, f, 10 ** 11, rng=0)
    latency = time.perf_counter() - sent["t"]
    t.join()
    assert latency < 0.5
    assert np.isfinite(fs.estimate(d, f, 1000, rng=0).value).all()


# ----------------------------------------------------------- concurrency
def test_compiled_loops_release_the_gil():
    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    start = counter[0]
    fs.estimate(N, F, 3 * 10 ** 7, rng=0, n_threads=1)
    progressed = counter[0] - start
    stop.set()
    t.join()
    assert progressed > 10_000


def test_threads_calling_estimate_at_once_get_serial_results():
    cases = [(make(nm, batch=True), s) for nm in ("Normal", "Gamma", "Categorical(logits)")
             for s in range(2)]
    f = lambda d: fs.fn.table(np.arange(3.0)) if d.finite_support else fs.fn.power(1)
    serial = [fs.estimate(d, f(d), 300_000, rng=s, method="cv") for d, s in cases]
    results = [None] * (4 * len(cases))

    def work(i):
        d, s = cases[i % len(cases)]
        results[i] = fs.estimate(d, f(d), 300_000, rng=s, method="cv")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        want = serial[i % len(cases)]
        for k in want.grad:
            assert np.array_equal(r.grad[k], want.grad[k])


def test_free_threaded_python_keeps_the_gil_off():
    """On a free-threaded interpreter (3.14t) importing fastscore must not re-enable
    the GIL (the extensions declare themselves safe), and calls from threads at once
    still give the serial results (the test above)."""
    import subprocess
    import sys
    import sysconfig

    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("not a free-threaded Python build")
    code = ("import sys, fastscore, fastscore._kernels, fastscore._finish; "
            "print(sys._is_gil_enabled())")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fs.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(sys.executable), env=env)
    assert out.stdout.strip() == "False", out.stderr


def test_generator_shared_between_threads():
    g = np.random.default_rng(0)
    keys = []

    def work():
        for _ in range(50):
            keys.append(fs.estimate(N, F, 100, rng=g).key)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 200


# ------------------------------------------------------------- input kinds
def test_ordinary_inputs_compute_in_float64():
    want = fs.estimate(fs.Normal(np.array([0.1, 2.0]), np.array([1.5, 0.5])), F, 1000, rng=0)
    ro = np.array([0.1, 2.0])
    ro.flags.writeable = False
    strided = np.array([0.1, 9.0, 2.0])[::2]
    for loc, scale in [([0.1, 2.0], [1.5, 0.5]), (ro, np.array([1.5, 0.5])),
                       (strided, np.array([1.5, 7.0, 0.5])[::2])]:
        got = fs.estimate(fs.Normal(loc, scale), F, 1000, rng=0)
        assert np.array_equal(got.grad["loc"], want.grad["loc"])
    f32 = fs.estimate(fs.Normal(np.float32(0.1), np.float32(1.5)), F, 1000, rng=0)
    f64 = fs.estimate(fs.Normal(float(np.float32(0.1)), 1.5), F, 1000, rng=0)
    assert np.array_equal(f32.grad["loc"], f64.grad["loc"])
    zero_d = fs.estimate(fs.Normal(np.array(0.1), np.array(1.5)), F, 1000, rng=0)
    assert np.ndim(zero_d.value) == 0
    assert fs.estimate(fs.Normal(0, 1), F, 1000, rng=0).value > 0  # Python ints


# ---------------------------------------------------------------- extremes
@pytest.mark.parametrize("d, f", [
    (fs.Bernoulli(logits=[700.0, -700.0]), fs.fn.table([0.0, 1.0])),
    (fs.Categorical(logits=[700.0, -700.0, 0.0]), fs.fn.table([0.0, 1.0, 2.0])),
    (fs.Gamma(1e4, 1.0), fs.fn.power(1)),
    (fs.Poisson(1e-8), fs.fn.power(1)),
    (fs.Poisson(1e8), fs.fn.power(1)),
    (fs.Normal(0.0, 1e-300), fs.fn.linear(1.0)),
    (fs.Normal(0.0, 1e300), fs.fn.power(2)),
    (fs.Gamma(1e-3, 1.0), fs.fn.power(1)),
    (fs.Beta(1e-3, 1e-3), fs.fn.power(1)),
])
@pytest.mark.parametrize("backend", BACKENDS)
def test_extremes_are_finite_or_a_clear_error(d, f, backend):
    try:
        est = fs.estimate(d, f, 2000, rng=0, method="rloo", backend=backend)
    except ValueError as exc:
        assert "double precision" in str(exc) or "non-finite" in str(exc)
        return
    assert np.all(np.isfinite(est.value))
    for k in est.grad:
        assert np.all(np.isfinite(est.grad[k])) and np.all(np.isfinite(est.stderr[k]))


# ---------------------------------------------------------------- resources
def _rss_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_many_calls_do_not_grow_memory():
    d = fs.Normal(np.zeros(4), 1.0)
    for _ in range(500):
        fs.estimate(d, F, 200, rng=1, method="cv")
    before = _rss_kib()
    for i in range(10_000):
        fs.estimate(d, F, 200, rng=i % 7, method="cv")
    assert _rss_kib() - before < 5 * 1024
