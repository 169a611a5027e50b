"""The engine configuration (fastscore._engine): one immutable value, per thread
and task, passed into every kernel call; the kernels hold no mutable state.

Every choice gives the same bits (test_determinism.py runs each ISA and fused
path against the others); here: the choice reaches the kernels, two threads
with different engines at the same time each get their own, and the method
codes the finishes switch on come from _specs."""

import asyncio
import contextvars
import threading

import numpy as np
import pytest

import fastscore as fs
from fastscore import _compiled, _engine, _finish, _kernels, _specs

PORTABLE = dict(stream_isa="portable", reduce_isa="portable", score_fold=False,
                pathwise_fold=False, mvn_fused=False)

# Calls that take each fused or vector path: Normal's score and pathwise fold
# steps, a MultivariateNormal of 3 (the fused loops, the linear f), a counted
# Categorical (the one-hot finish), a chunk's stream of many refills.
_MVN = fs.MultivariateNormal([0.0, 0.5, 1.0], [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0],
                                                [-0.3, 0.2, 0.7]])
_CALLS = [
    (fs.Normal([0.5, -1.0], [1.5, 0.3]), fs.fn.power(2), {"method": "rloo"}),
    (fs.Normal(0.5, 1.5), fs.fn.power(2), {"estimator": "pathwise"}),
    (fs.Gamma(2.5, 1.5), fs.fn.power(2), {"method": "cv"}),
    (_MVN, fs.fn.linear([1.0, -0.5, 2.0]), {"method": "plain"}),
    (_MVN, fs.fn.linear([1.0, -0.5, 2.0]), {"estimator": "pathwise"}),
    (fs.Categorical(logits=np.zeros((20, 8))), lambda x: x ** 2.0, {"method": "rloo"}),
]


def _results():
    out = []
    for d, f, kw in _CALLS:
        est = fs.estimate(d, f, 3 * fs.CHUNK_SIZE + 17, rng=5, n_threads=1, **kw)
        out += [np.asarray(est.value_stderr)]
        out += [np.asarray(est.grad[k]) for k in est.grad]
        out += [np.asarray(est.stderr[k]) for k in est.stderr]
    out.append(fs.sample(fs.Normal(0.0, 1.0), 3 * fs.CHUNK_SIZE, rng=2, n_threads=1))
    return out


def _same_bits(a, b):
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x.view(np.uint64), y.view(np.uint64))
        for x, y in zip(a, b))


class _Spy:
    """Wraps the kernel entry points the backends call and records, per thread,
    the engine= each call got."""

    NAMES = [("_kernels", n) for n in ("run_inline", "run_python", "run_counts",
                                       "run_grouped", "draw_samples", "score_sums")]
    NAMES.append(("_finish", "onehot_finish"))

    def __init__(self, monkeypatch):
        self.seen = {}
        self.lock = threading.Lock()
        for mod, name in self.NAMES:
            module = {"_kernels": _kernels, "_finish": _finish}[mod]
            monkeypatch.setattr(module, name, self._wrap(name, getattr(module, name)))

    def _wrap(self, name, fn):
        def spy(*args, **kwargs):
            with self.lock:
                self.seen.setdefault(threading.get_ident(), []).append(
                    (name, kwargs.get("engine")))
            return fn(*args, **kwargs)
        return spy


def test_default_and_environment(monkeypatch):
    """The default engine: the CPU's best ISAs (capped by FASTSCORE_PHILOX_ISA and
    FASTSCORE_REDUCE_ISA), everything fused; immutable; capped at the CPU."""
    eng = _engine.current()
    reduce_top, stream_top = _kernels.isa_max()
    assert eng.reduce_isa == _engine.reduce_isa()[0]
    assert _engine.reduce_isa()[1][-1] == reduce_top
    assert _engine.stream_isa()[1][-1] == stream_top
    assert eng.score_fold and eng.pathwise_fold and eng.mvn_fused and eng.fresh_windows
    with pytest.raises(AttributeError):
        eng.reduce_isa = "portable"
    with pytest.raises(ValueError, match="reduce_isa"):
        _engine.Engine("portable", "sse9")
    with pytest.raises(TypeError, match="no field"):
        eng.replace(turbo=True)
    assert _engine.Engine("avx512", "avx512").reduce_isa == reduce_top   # capped
    try:
        monkeypatch.setenv("FASTSCORE_REDUCE_ISA", "portable")
        monkeypatch.setenv("FASTSCORE_PHILOX_ISA", "portable")
        _engine.default.cache_clear()
        assert (_engine.default().reduce_isa, _engine.default().stream_isa) == (
            "portable", "portable")
    finally:
        monkeypatch.undo()
        _engine.default.cache_clear()
    assert _engine.default() == eng


def test_using_restores_and_nests():
    outer = _engine.current()
    with _engine.using(score_fold=False) as a:
        assert _engine.current() is a and not a.score_fold and a.mvn_fused
        with _engine.using(reduce_isa="portable") as b:
            assert _engine.current() is b and not b.score_fold
            assert b.reduce_isa == "portable"
        assert _engine.current() is a
    assert _engine.current() is outer
    with pytest.raises(RuntimeError):
        with _engine.using(mvn_fused=False):
            raise RuntimeError("the block fails")
    assert _engine.current() is outer


def test_the_kernels_decode_the_engine_they_are_given():
    """engine_fields: the packed code as every entry point decodes it; the stream
    a loop starts uses the refill the engine names (stream_refill)."""
    for isa in _engine.reduce_isa()[1]:
        for on in (False, True):
            eng = _engine.Engine(isa, isa, score_fold=on, pathwise_fold=not on,
                                 mvn_fused=on, fresh_windows=not on)
            got = _kernels.engine_fields(eng.code)
            assert got == {"stream_isa": _engine.ISAS.index(isa),
                           "reduce_isa": _engine.ISAS.index(isa), "score_fold": on,
                           "pathwise_fold": not on, "mvn_fused": on,
                           "fresh_windows": not on}
            assert _kernels.stream_refill(eng.code) == isa


def test_backends_pass_the_current_engine_into_every_kernel_call(monkeypatch):
    """Every kernel call of an estimate, a sample and a one-hot finish gets the
    engine in force where it was made (a spy on the entry points)."""
    spy = _Spy(monkeypatch)
    me = threading.get_ident()
    for changes in ({}, PORTABLE, {"score_fold": False, "reduce_isa": "portable"}):
        with _engine.using(**changes) as eng:
            spy.seen.clear()
            _results()
            fs.estimate(fs.Independent(fs.Normal(np.zeros(3), 1.0), 1),
                        fs.fn.linear([1.0, 2.0, 3.0]), 100, rng=1)     # run_grouped
            fs.estimate(fs.Normal(0.0, 1.0), lambda x: x ** 2, 100, rng=1)  # run_python
            fs.estimate(fs.Bernoulli(probs=0.3), fs.fn.power(2), 100, rng=1)  # counts
            x = fs.sample(fs.Normal(0.0, 1.0), 50, rng=1)
            fs.estimate_from_samples(fs.Normal(0.0, 1.0), x, x ** 2)   # score_sums
            calls = spy.seen[me]
            assert {name for name, _ in calls} == {n for _, n in _Spy.NAMES}
            assert all(code == eng.code for _, code in calls), (changes, calls)


def test_two_threads_with_different_engines_at_once(monkeypatch):
    """One thread runs the portable loops with every fused path off while another
    runs the defaults, interleaved: each sees its own current(), each kernel
    call gets its own thread's engine, and both give the same bits."""
    want = _results()
    spy = _Spy(monkeypatch)
    barrier = threading.Barrier(2)
    out, errors = {}, []

    def worker(name, changes):
        try:
            with _engine.using(**changes) as eng:
                barrier.wait()
                got = []
                for _ in range(2):
                    assert _engine.current() is eng
                    got.append(_results())
                    barrier.wait()   # the other thread's engine is in force there too
                assert _engine.current() is eng
                out[name] = (threading.get_ident(), eng, got)
        except BaseException as exc:   # reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=("portable", PORTABLE)),
               threading.Thread(target=worker, args=("default", {}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert out["portable"][1] != out["default"][1]
    assert out["portable"][1].code != out["default"][1].code
    for name, (ident, eng, runs) in out.items():
        for got in runs:
            assert _same_bits(got, want), name
        codes = {code for _, code in spy.seen[ident]}
        assert codes == {eng.code}, (name, codes)
    # this thread never saw either
    assert _engine.current() == _engine.default()


def test_a_new_thread_and_an_asyncio_task_do_not_inherit_a_change():
    seen = {}
    with _engine.using(**PORTABLE):
        t = threading.Thread(target=lambda: seen.setdefault("thread", _engine.current()))
        t.start()
        t.join()
    assert seen["thread"] == _engine.default() or \
        seen["thread"] == _engine.current()   # the default, unless threads copy contexts

    async def task(changes):
        with _engine.using(**changes) as eng:
            await asyncio.sleep(0)
            assert _engine.current() is eng
            return eng

    async def both():
        return await asyncio.gather(task(PORTABLE), task({}))

    a, b = asyncio.run(both())
    assert a.reduce_isa == "portable" and not a.score_fold and b == _engine.default()
    assert _engine.current() == _engine.default()
    # a copied context runs with the engine it was copied under
    with _engine.using(reduce_isa="portable") as eng:
        ctx = contextvars.copy_context()
    assert ctx.run(_engine.current) is eng


def test_compiled_backend_takes_an_explicit_engine():
    """_compiled.run / sample take engine= (what a Dask task passes), which wins
    over the thread's."""
    d = fs.Normal(0.0, 1.0)
    plan = d.plan()
    key = (1, 2)
    with _engine.using(**PORTABLE) as eng:
        portable = _compiled.sample(plan, 1000, key, 1)
    explicit = _compiled.sample(plan, 1000, key, 1, engine=eng)
    assert np.array_equal(portable, explicit)


def test_method_codes_come_from_specs():
    """The finishes' method codes are _specs.SCORE_METHODS' (generated into
    _layout.h as FS_M_*), and the score kind offers exactly those methods."""
    from fastscore._kinds import SCORE
    assert _specs.SCORE_METHODS == ("plain", "baseline", "rloo", "cv")
    assert _finish.METHOD_CODES == {m: i for i, m in enumerate(_specs.SCORE_METHODS)}
    assert tuple(SCORE.methods) == _specs.SCORE_METHODS
    header = _specs.layout_header()
    for i, m in enumerate(_specs.SCORE_METHODS):
        assert "FS_M_%s = %d" % (m.upper(), i) in header


def test_cluster_tasks_run_with_the_callers_engine(monkeypatch):
    """A Dask task runs with the engine of the caller that submitted it, on any
    worker thread (which has its own, default, engine otherwise)."""
    distributed = pytest.importorskip("distributed")
    spy = _Spy(monkeypatch)
    me = threading.get_ident()
    d = fs.Normal([0.5, 1.0], [1.5, 2.0])
    n = 5 * fs.CHUNK_SIZE + 3
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        with cluster.get_client() as client:
            with _engine.using(**PORTABLE) as eng:
                there = fs.estimate(d, fs.fn.power(2), n, rng=1, client=client,
                                    chunks_per_task=1)
    here = fs.estimate(d, fs.fn.power(2), n, rng=1)
    on_workers = {code for ident, calls in spy.seen.items() if ident != me
                  for _, code in calls}
    assert on_workers == {eng.code} and eng.code != _engine.default().code
    for k in here.grad:
        assert np.array_equal(there.grad[k], here.grad[k])
        assert np.array_equal(there.stderr[k], here.stderr[k])
