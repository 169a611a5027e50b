"""Runs on a Dask cluster (fs.estimate / fs.sample with client=) equal the local runs bit for bit.

Two LocalClusters of 2 workers x 1 thread, created once for the module:
worker processes (``processes=True``: everything is pickled, a worker can be
killed) and worker threads in this process (``processes=False``).  Every
comparison is exact (np.array_equal on every field), whatever the task size.
"""

import ctypes
import doctest
import os
import signal
import subprocess
import sys
import time
import weakref

import numpy as np
import pytest
from scipy import LowLevelCallable

import fastscore as fs

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from fastscore import _cluster  # noqa: E402  (after the skip: it is only tested with dask)

# The f's below run on the workers.  pytest imports this file under a name the
# worker processes cannot import, so cloudpickle must send its functions (and
# its exception class) by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", params=["processes", "threads"])
def client(request):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=request.param == "processes",
                                  dashboard_address=":0") as cluster:
        with cluster.get_client() as c:
            c.processes = request.param == "processes"
            yield c


def assert_same(there, here):
    """Every field of two Estimates is identical (NaN where NaN)."""
    for name in ("n", "key", "method", "estimator", "converged"):
        assert getattr(there, name) == getattr(here, name), name
    for name in ("value", "value_stderr"):
        assert np.array_equal(getattr(there, name), getattr(here, name), equal_nan=True), name
    for name in ("grad", "stderr"):
        a, b = getattr(there, name), getattr(here, name)
        assert list(a) == list(b)
        for k in b:
            assert np.array_equal(a[k], b[k], equal_nan=True), "%s[%r]" % (name, k)
    assert list(there.info) == list(here.info)
    for k, v in here.info.items():  # rebar's eta and temperature: dicts by parameter
        w = there.info[k]
        if isinstance(v, dict):
            assert list(w) == list(v) and all(np.array_equal(w[j], v[j]) for j in v), k
        else:
            assert np.array_equal(w, v), k


def fastscore_tasks(client):
    """Keys of this module's run tasks the scheduler still knows."""
    keys = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return [k for k in keys if k.startswith("fastscore-")]


# -- the f's -------------------------------------------------------------------
@pytest.fixture(scope="module")
def vector_llc(tmp_path_factory):
    """A vector-signature LowLevelCallable compiled into a shared library.

    f(x) = sum x_e^2 + 0.25 b: it uses the batch index, which must be the
    element's own on the workers.
    """
    where = tmp_path_factory.mktemp("llc")
    src = where / "f.c"
    src.write_text("#include <stdint.h>\n"
                   "double sumsq(const double *x, intptr_t n, intptr_t b, void *u) {\n"
                   "    double s = 0.0;\n"
                   "    for (intptr_t e = 0; e < n; e++) s += x[e] * x[e];\n"
                   "    return s + 0.25 * (double)b;\n"
                   "}\n")
    lib = where / "libf.so"
    try:
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(src)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip("no C compiler to build a shared library: %s" % exc)
    return LowLevelCallable(ctypes.CDLL(str(lib)).sumsq,
                            signature="double (const double *, intptr_t, intptr_t, void *)")


def py_scalar(x):
    return np.cos(x) + 0.1 * x


def py_vector(x):
    return np.sin(x).sum(axis=-1) + x[..., 0] ** 2


def py_square(x):
    return x * x


def py_square_grad(x):
    return 2.0 * x


def py_vector_relaxed(y):
    # a reward on a (relaxed) one-hot vector of 3 categories
    return y @ np.array([1.0, -2.0, 0.5]) + y[..., 0] ** 2


def py_vector_relaxed_grad(y):
    g = np.broadcast_to(np.array([1.0, -2.0, 0.5]), y.shape).copy()
    g[..., 0] += 2.0 * y[..., 0]
    return g


class Boom(Exception):
    pass


def exclusive(flag):
    """True for exactly one caller across processes: the one that creates ``flag``."""
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


@pytest.fixture(scope="module")
def cos_llc():
    """libm's cos as a ``double (double)`` LowLevelCallable, made from the library's symbol.

    (A LowLevelCallable travels to the workers by library and symbol: conftest's
    c_cos_llc, a cast of the function pointer, has lost the symbol's name.)
    """
    import ctypes.util

    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        return LowLevelCallable(libm.cos, signature="double (double)")
    except (OSError, AttributeError) as exc:  # pragma: no cover
        pytest.skip("no libm cos through ctypes: %s" % exc)


# -- the done-when -------------------------------------------------------------
def test_done_when_normal_square_1e8(client):
    if not client.processes:
        pytest.skip("the 1e8 run is done once, on worker processes (CI time)")
    d = fs.Normal(0.0, 1.0)
    here = fs.estimate(d, fs.fn.power(2), 10**8, rng=0)
    for per_task in (None, 7, 64):
        assert_same(fs.estimate(d, fs.fn.power(2), 10**8, rng=0, client=client,
                                chunks_per_task=per_task), here)
    # chunks_per_task=1 at n = 1e8 is 6104 tasks, 12 s here (equal too, checked
    # by hand); in CI it runs on 611 chunks
    assert_same(fs.estimate(d, fs.fn.power(2), 10**7, rng=0, client=client, chunks_per_task=1),
                fs.estimate(d, fs.fn.power(2), 10**7, rng=0))


# -- every f kind, family kind and estimator -----------------------------------
L3 = [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]]
# name: (cos LowLevelCallable, vector LowLevelCallable) -> (distribution, f, keywords)
CASES = {
    # a scalar family, batch of 2 (tasks are chunk ranges of one element)
    "Normal/lowlevel": lambda cos, vec: (fs.Normal([0.5, -1.0], [1.5, 0.7]), cos, {}),
    "Normal/builtin": lambda cos, vec: (fs.Normal([0.5, -1.0], [1.5, 0.7]), fs.fn.power(2), {}),
    "Normal/python": lambda cos, vec: (fs.Normal([0.5, -1.0], [1.5, 0.7]), py_scalar, {}),
    # vector families
    "MultivariateNormal/lowlevel": lambda cos, vec: (
        fs.MultivariateNormal([[0.5, -1.0, 2.0], [0.0, 1.0, 0.0]], [np.eye(3), L3]), vec, {}),
    "MultivariateNormal/builtin": lambda cos, vec: (
        fs.MultivariateNormal([0.5, -1.0, 2.0], L3), fs.fn.linear([1.0, 2.0, 3.0]), {}),
    "Dirichlet/python": lambda cos, vec: (
        fs.Dirichlet([[1.5, 2.0, 0.8], [2.5, 3.0, 2.5]]), py_vector, {}),
    # a counted family: the workers count, the caller evaluates f on the support
    "Categorical/lowlevel": lambda cos, vec: (
        fs.Categorical(logits=[[0.2, -0.5, 1.0], [1.0, 0.0, -1.0]]), cos, {}),
    "Categorical/builtin": lambda cos, vec: (
        fs.Categorical(logits=[0.2, -0.5, 1.0]), fs.fn.table([1.0, 2.0, 4.0]), {}),
    "Categorical/python": lambda cos, vec: (
        fs.Categorical(probs=[0.1, 0.6, 0.3]), py_scalar, {}),
    # the other estimators
    "pathwise/builtin": lambda cos, vec: (
        fs.Normal([1.0, 0.0], 1.0), fs.fn.power(2), {"estimator": "pathwise"}),
    "pathwise/python": lambda cos, vec: (
        fs.Gamma(2.5, 1.5), py_square, {"estimator": "pathwise", "grad_f": py_square_grad}),
    "measure/builtin": lambda cos, vec: (
        fs.Poisson([3.0, 0.7]), fs.fn.power(2), {"estimator": "measure"}),
    "measure/python": lambda cos, vec: (fs.Poisson(3.0), py_square, {"estimator": "measure"}),
    # relaxations and antithetic pairs for discrete variables
    "concrete/builtin": lambda cos, vec: (
        fs.Bernoulli(logits=[0.3, -1.0]), fs.fn.power(2), {"estimator": "concrete",
                                                          "temperature": 0.5}),
    "concrete-st/python": lambda cos, vec: (
        fs.Categorical(logits=[0.2, -0.5, 1.0]), py_vector_relaxed,
        {"estimator": "concrete", "temperature": 0.5, "straight_through": True,
         "grad_f": py_vector_relaxed_grad}),
    "rebar/builtin": lambda cos, vec: (
        fs.Bernoulli(probs=[0.3, 0.8]), fs.fn.power(2), {"estimator": "rebar"}),
    "rebar/python": lambda cos, vec: (
        fs.Categorical(logits=[0.2, -0.5, 1.0]), py_vector_relaxed,
        {"estimator": "rebar", "temperature": 0.5, "grad_f": py_vector_relaxed_grad}),
    "disarm/builtin": lambda cos, vec: (
        fs.Bernoulli(logits=[0.3, -1.0]), fs.fn.power(2), {"estimator": "disarm"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_field_equals_the_local_run(client, cos_llc, vector_llc, case):
    d, f, kw = CASES[case](cos_llc, vector_llc)
    if kw.get("estimator", "score") == "score":
        kw["method"] = "cv"
    n = 100_000  # 7 chunks, the last one partial
    here = fs.estimate(d, f, n, rng=3, **kw)
    for per_task in (None, 3):
        assert_same(fs.estimate(d, f, n, rng=3, client=client, chunks_per_task=per_task, **kw),
                    here)


def test_a_non_finite_f_is_the_same_error(client):
    d = fs.Normal([0.0, 1.0], 1.0)

    def nan_in_the_tail(x):
        return np.where(x > 3.0, np.nan, x)

    with pytest.raises(ValueError, match="batch element") as here:
        fs.estimate(d, nan_in_the_tail, 100_000, rng=0)
    with pytest.raises(ValueError) as there:
        fs.estimate(d, nan_in_the_tail, 100_000, rng=0, client=client, chunks_per_task=2)
    assert str(there.value) == str(here.value)


def test_batch_blocks(client):
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(20000, 8))
    rewards = fs.fn.table(rng.normal(size=(20000, 8)))
    d = fs.Categorical(logits=logits)
    here = fs.estimate(d, rewards, 8, rng=1, method="rloo")
    for per_task in (None, 3000):  # 7 blocks of whole elements
        assert_same(fs.estimate(d, rewards, 8, rng=1, method="rloo", client=client,
                                chunks_per_task=per_task), here)
    # inline f, elements of two chunks each: blocks of whole elements; a Python f: chunk ranges
    d = fs.Normal(np.linspace(-1, 1, 400), 1.5)
    for f in (fs.fn.power(2), py_scalar):  # 8 blocks of 50 elements; 2 chunk ranges
        assert_same(fs.estimate(d, f, 20000, rng=2, method="rloo", client=client,
                                chunks_per_task=100), fs.estimate(d, f, 20000, rng=2,
                                                                  method="rloo"))


def test_tasks_with_threads_and_auto_client(client):
    d = fs.Normal([0.5, -1.0], [1.5, 0.7])
    here = fs.estimate(d, fs.fn.power(2), 300_000, rng=4)
    assert_same(fs.estimate(d, fs.fn.power(2), 300_000, rng=4, client=client, n_threads=2,
                            chunks_per_task=5), here)
    with client.as_current():
        assert_same(fs.estimate(d, fs.fn.power(2), 300_000, rng=4, client="auto"), here)


@pytest.mark.parametrize("d", [fs.Normal([0.5, -1.0], 2.0), fs.Categorical(logits=[0.0, 1.0, 2.0]),
                               fs.MultivariateNormal([0.5, -1.0, 2.0], np.eye(3))],
                         ids=["Normal", "Categorical", "MultivariateNormal"])
def test_sample_is_the_local_array(client, d):
    n = 3 * fs.CHUNK_SIZE + 5
    here = fs.sample(d, n, rng=7)
    for per_task in (None, 1, 2):
        there = fs.sample(d, n, rng=7, client=client, chunks_per_task=per_task)
        assert type(there) is np.ndarray and there.dtype == here.dtype
        assert np.array_equal(there, here)


# -- precision targets and progress --------------------------------------------
def test_precision_targets(client):
    d = fs.Normal(1.0, 2.0)
    kw = dict(rng=0, method="cv", rtol=2e-3)
    here = fs.estimate(d, fs.fn.power(2), 10_000, **kw)
    assert here.converged and here.n > 10 * fs.CHUNK_SIZE  # several waves
    assert_same(fs.estimate(d, fs.fn.power(2), 10_000, client=client, chunks_per_task=4, **kw),
                here)


class RecordingBar:
    def __init__(self):
        self.fractions = []

    def update(self, fraction):
        self.fractions.append(fraction)

    def close(self):
        pass


def test_progress_advances_as_tasks_finish(client, monkeypatch):
    from fastscore._progress import NoBar

    est_module = sys.modules["fastscore.estimate"]  # (fs.estimate is the function)

    bar = RecordingBar()
    monkeypatch.setattr(est_module, "make_bar", lambda on, desc="": bar if on else NoBar())
    n = 20 * fs.CHUNK_SIZE
    fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n, rng=0, client=client,
                chunks_per_task=2, progress=True)
    assert len(bar.fractions) == 10  # one update per task
    assert bar.fractions == sorted(bar.fractions) and bar.fractions[-1] == 1.0


# -- faults --------------------------------------------------------------------
def test_a_failed_task_is_retried_and_the_result_is_the_same(client, tmp_path):
    flag = str(tmp_path / "failed")

    def fails_once(x):
        if exclusive(flag):
            raise OSError("a transient failure")
        return np.cos(x)

    d = fs.Normal(0.0, 1.0)
    here = fs.estimate(d, np.cos, 200_000, rng=1)
    assert_same(fs.estimate(d, fails_once, 200_000, rng=1, client=client, chunks_per_task=3),
                here)
    assert os.path.exists(flag)


def test_an_exception_of_f_is_raised_in_the_caller(client):
    def raises(x):
        raise Boom("f broke at %d samples" % len(x))

    # (a task of a whole chunk, or of the last, partial one: whichever fails first)
    with pytest.raises(Boom, match="^f broke at (16384|1696) samples$"):
        fs.estimate(fs.Normal(0.0, 1.0), raises, 100_000, rng=1, client=client,
                    chunks_per_task=1)
    # and the next call works
    assert_same(fs.estimate(fs.Normal(0.0, 1.0), py_scalar, 10_000, rng=1, client=client),
                fs.estimate(fs.Normal(0.0, 1.0), py_scalar, 10_000, rng=1))


def test_a_killed_worker_loses_nothing(client, tmp_path):
    if not client.processes:
        pytest.skip("killing a worker needs worker processes")
    flag = str(tmp_path / "killed")

    def kills_its_worker_once(x):
        if exclusive(flag):
            os.kill(os.getpid(), signal.SIGKILL)
        return np.cos(x)

    d = fs.Normal(0.0, 1.0)
    here = fs.estimate(d, np.cos, 300_000, rng=2)
    there = fs.estimate(d, kills_its_worker_once, 300_000, rng=2, client=client,
                        chunks_per_task=2)
    assert os.path.exists(flag)
    assert_same(there, here)
    client.wait_for_workers(2, timeout=30)  # the nanny's new worker, for the tests after this


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_ctrl_c_cancels_the_tasks(client):
    def slow(x):
        time.sleep(0.05)
        return np.cos(x)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        start = time.monotonic()
        # Kept, as an interactive session keeps the last traceback: its frames hold the
        # futures, so the tasks are gone only if they were cancelled.
        with pytest.raises(KeyboardInterrupt) as interrupted:
            # 200 tasks of >= 50 ms on 2 workers: >= 5 s if not cancelled
            fs.estimate(fs.Normal(0.0, 1.0), slow, 200 * fs.CHUNK_SIZE, rng=0, client=client,
                        chunks_per_task=1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - start < 4.0
    deadline = time.monotonic() + 3
    while fastscore_tasks(client) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fastscore_tasks(client) == []
    del interrupted
    assert_same(fs.estimate(fs.Normal(0.0, 1.0), py_scalar, 10_000, rng=1, client=client),
                fs.estimate(fs.Normal(0.0, 1.0), py_scalar, 10_000, rng=1))


# -- workers, arguments, the optional dependency --------------------------------
def _set_version(version):
    def setter():
        import fastscore

        old = fastscore.__version__
        fastscore.__version__ = version
        return old

    return setter


def test_workers_with_another_fastscore_are_refused(client, monkeypatch):
    mine = fs.__version__
    monkeypatch.setattr(_cluster, "_CHECKED", weakref.WeakKeyDictionary())  # ask them again
    client.run(_set_version("0.0.1+other"))
    try:
        with pytest.raises(RuntimeError, match=r"runs fastscore 0\.0\.1\+other, this process "
                                               r"fastscore %s" % mine.replace(".", r"\.")):
            fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 10_000, rng=0, client=client)
        # a worker that joined after the check: the task itself refuses
        monkeypatch.setattr(_cluster.ClusterBackend, "_check_workers",
                            lambda self: setattr(self, "worker_threads", 2))
        with pytest.raises(RuntimeError, match=r"a Dask worker: it runs fastscore 0\.0\.1\+other"):
            fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 10_000, rng=0, client=client)
    finally:
        client.run(_set_version(mine))
    assert fs.__version__ == mine


def test_lowlevel_f_that_cannot_travel_is_refused(client, cos_llc):
    cb = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(lambda x: x)
    with pytest.raises(TypeError, match="not an exported symbol of a shared library"):
        fs.estimate(fs.Normal(0.0, 1.0), LowLevelCallable(cb), 10_000, rng=0, client=client)
    data = ctypes.c_double(1.0)
    llc = LowLevelCallable(cos_llc, ctypes.cast(ctypes.pointer(data), ctypes.c_void_p))
    with pytest.raises(TypeError, match="with user_data cannot be sent"):
        fs.estimate(fs.Normal(0.0, 1.0), llc, 10_000, rng=0, client=client)


def test_bad_arguments(client):
    d = fs.Normal(0.0, 1.0)
    f = fs.fn.power(2)
    with pytest.raises(ValueError, match="client must be None, 'auto' or a distributed.Client"):
        fs.estimate(d, f, 100, client="local")
    with pytest.raises(TypeError, match="client must be None, 'auto' or a distributed.Client, "
                                        "got object"):
        fs.estimate(d, f, 100, client=object())
    with pytest.raises(ValueError, match="chunks_per_task must be a positive integer"):
        fs.estimate(d, f, 100, client=client, chunks_per_task=0)
    with pytest.raises(TypeError, match="chunks_per_task must be None or a positive integer"):
        fs.sample(d, 100, client=client, chunks_per_task=2.5)
    with pytest.raises(ValueError, match="chunks_per_task is only used with client="):
        fs.estimate(d, f, 100, chunks_per_task=4)
    with pytest.raises(ValueError, match="backend='reference' runs locally only"):
        fs.estimate(d, f, 100, client=client, backend="reference")


def test_auto_without_a_client(monkeypatch):
    def none():
        raise ValueError("No global client found and no address provided")

    monkeypatch.setattr(distributed, "get_client", none)
    with pytest.raises(ValueError, match="client='auto' found no Dask client"):
        fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, client="auto")


def test_without_distributed_client_is_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    for call in (lambda: fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, client="auto"),
                 lambda: fs.sample(fs.Normal(0.0, 1.0), 100, client="auto")):
        with pytest.raises(ImportError, match=r'pip install "fastscore-mc\[dask\]"'):
            call()
    # without a client nothing needs it
    fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, rng=0)


def test_import_fastscore_does_not_import_dask(tmp_path):
    code = ("import sys, fastscore\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fs.__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_docstring_examples():
    result = doctest.testmod(_cluster, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _joint_sum_sq(x):
    return x.sum(axis=-1) ** 2


def _joint_ab(x):
    return x["a"] * x["b"]


@pytest.mark.parametrize("case", ["independent-python", "independent-inline",
                                  "independent-bernoulli", "joint", "transformed"])
def test_joint_distributions_equal_the_local_run(client, case):
    """Independent, Joint and TransformedDistribution on a cluster: the local bits."""
    loc = np.linspace(-1.0, 1.0, 6)
    if case == "joint":
        d, f = fs.Joint({"a": fs.Normal(1.0, 1.0), "b": fs.Gamma(2.0, 1.5)}), _joint_ab
    elif case == "transformed":
        d = fs.TransformedDistribution(fs.Independent(fs.Normal(loc, 1.0), 1),
                                       [fs.transforms.TanhTransform()])
        f = _joint_sum_sq
    elif case == "independent-bernoulli":
        d, f = fs.Independent(fs.Bernoulli(probs=np.full(6, 0.3)), 1), _joint_sum_sq
    else:
        d = fs.Independent(fs.Normal(loc.reshape(2, 3), 1.0), 1)
        f = fs.fn.linear(1.0) if case == "independent-inline" else _joint_sum_sq
    n = 3 * fs.CHUNK_SIZE + 11
    there = fs.estimate(d, f, n, rng=5, method="rloo", client=client, chunks_per_task=1)
    here = fs.estimate(d, f, n, rng=5, method="rloo")
    if case == "joint":   # gradients nest by part
        for part in here.grad:
            for nm in here.grad[part]:
                assert np.array_equal(there.grad[part][nm], here.grad[part][nm])
                assert np.array_equal(there.stderr[part][nm], here.stderr[part][nm])
        assert np.array_equal(there.value, here.value)
    else:
        assert_same(there, here)
    x = fs.sample(d, 100, rng=2, client=client)
    here = fs.sample(d, 100, rng=2)
    if isinstance(here, dict):
        assert all(np.array_equal(x[k], here[k]) for k in here)
    else:
        assert np.array_equal(x, here)


def _vimco_log_w(x):
    return x


def _indecater_f(x):
    return np.abs(x.sum(axis=-1) - 3.0)


def _mvn_cos(x):
    return np.cos(x @ np.array([0.7, -0.4]))


@pytest.mark.parametrize("case", ["indecater", "vimco", "mvn-measure"])
def test_wave_estimators_equal_the_local_run(client, case):
    """IndeCateR, VIMCO and MultivariateNormal's measure-valued estimator with a client:
    the local bits (their waves draw on the caller, from the same streams)."""
    if case == "indecater":
        d = fs.Independent(fs.Categorical(logits=np.linspace(-1, 1, 12).reshape(3, 4)), 1)
        f, kw = _indecater_f, {"estimator": "indecater"}
    elif case == "vimco":
        d, f, kw = fs.Normal(0.3, 0.9), _vimco_log_w, {"estimator": "vimco", "num_draws": 4}
    else:
        d = fs.MultivariateNormal(np.array([0.2, -0.3]), np.array([[1.0, 0.0], [0.5, 0.8]]))
        f, kw = _mvn_cos, {"estimator": "measure"}
    n = fs.CHUNK_SIZE + 7
    assert_same(fs.estimate(d, f, n, rng=4, client=client, **kw), fs.estimate(d, f, n, rng=4, **kw))
