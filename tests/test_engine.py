"""The engine: Philox and keys, batch and gradient shapes, precision targets that
continue the streams, progress bars, the chunk merge, numba cfuncs and counted
supports.  (The generic checks of every family live in test_streams.py,
test_compiled_vs_reference.py and test_determinism.py.)"""

import sys

import numpy as np
import pytest

import fastscore as fs
from cases import make
from fastscore import _kernels
from fastscore._rng import key_from_rng

C = fs.CHUNK_SIZE


# ---------------------------------------------------------------- Philox
KEYS = [(0, 0), (1, 2), (2 ** 64 - 1, 12345), (987654321, 2 ** 63)]
COUNTERS = [(0, 0, 0, 0), (0, 0, 5, 7), (2 ** 64 - 1, 0, 3, 1), (2 ** 64 - 2, 2 ** 64 - 1, 0, 0),
            (2 ** 64 - 1, 2 ** 64 - 1, 2 ** 64 - 1, 0), (2 ** 64 - 1,) * 4]


def numpy_philox(key, ctr):
    return np.random.Philox(key=np.array(key, dtype=np.uint64),
                            counter=np.array(ctr, dtype=np.uint64))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("ctr", COUNTERS)
def test_philox_raw_output_is_numpys(key, ctr):
    for n in (1, 3, 4, 5, 17, 41):
        assert np.array_equal(_kernels.philox_raw(key[0], key[1], ctr, n, "uint64"),
                              numpy_philox(key, ctr).random_raw(n))
    g = np.random.Generator(numpy_philox(key, ctr))
    assert np.array_equal(_kernels.philox_raw(key[0], key[1], ctr, 23, "double"), g.random(23))
    g = np.random.Generator(numpy_philox(key, ctr))
    assert np.array_equal(_kernels.philox_raw(key[0], key[1], ctr, 29, "uint32"),
                          g.integers(0, 2 ** 32, size=29, dtype=np.uint32))


def test_philox_kind_is_checked():
    with pytest.raises(ValueError, match="kind"):
        _kernels.philox_raw(0, 0, (0, 0, 0, 0), 3, "float")


def test_key_from_rng_spec7():
    k = key_from_rng(3)
    assert k == key_from_rng(np.random.SeedSequence(3))
    assert all(0 <= v < 2 ** 64 for v in k)
    assert key_from_rng(3) != key_from_rng(4)
    g = np.random.default_rng(5)
    k1, k2 = key_from_rng(g), key_from_rng(g)
    assert k1 != k2  # a Generator advances
    ref = np.random.default_rng(5).bit_generator.random_raw(2)
    assert k1 == (int(ref[0]), int(ref[1]))
    bg = np.random.PCG64(7)
    assert key_from_rng(bg) == tuple(int(v) for v in np.random.PCG64(7).random_raw(2))
    assert key_from_rng(None) != key_from_rng(None)
    with pytest.raises(TypeError):
        key_from_rng("abc")
    with pytest.raises(TypeError):
        key_from_rng(1.5)
    with pytest.raises(ValueError):
        key_from_rng(-1)


# ------------------------------------------------------------ estimates
def test_python_f_and_builtin_f_see_the_same_samples():
    # x * x in NumPy rounds exactly like the kernel's power(2): bit-identical sums.
    d = make("Normal", batch=True)
    a = fs.estimate(d, fs.fn.power(2), 3 * C + 5, rng=2, method="cv")
    b = fs.estimate(d, lambda x: x * x, 3 * C + 5, rng=2, method="cv")
    for k in a.grad:
        assert np.array_equal(a.grad[k], b.grad[k])


def test_batch_shapes_broadcast_and_grad_shapes():
    d = fs.Normal(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0]))
    est = fs.estimate(d, fs.fn.power(2), 1000, rng=0)
    assert est.value.shape == (2, 3)
    assert est.grad["loc"].shape == (2, 3) and est.stderr["scale"].shape == (2, 3)
    d = fs.Categorical(logits=np.zeros((4, 5)))
    est = fs.estimate(d, fs.fn.table(np.arange(5.0)), 1000, rng=0)
    assert est.grad["logits"].shape == (4, 5)
    d = make("MultivariateNormal")
    est = fs.estimate(d, fs.fn.linear(1.0), 1000, rng=0)
    assert est.grad["scale_tril"].shape == (3, 3)
    assert np.all(np.triu(est.grad["scale_tril"], 1) == 0)
    assert np.all(np.triu(est.stderr["scale_tril"], 1) == 0)
    est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 1000, rng=0)
    assert np.ndim(est.value) == 0 and np.ndim(est.grad["loc"]) == 0


def test_precision_target_continues_the_streams():
    d = make("Normal")
    est = fs.estimate(d, fs.fn.power(2), 1000, rng=3, method="cv", rtol=0.01)
    assert est.converged is True
    for k in est.grad:
        assert est.stderr[k] <= 0.01 * abs(est.grad[k])
    again = fs.estimate(d, fs.fn.power(2), est.n, rng=3, method="cv")
    for k in est.grad:
        assert np.array_equal(est.grad[k], again.grad[k])
    two = fs.estimate(d, fs.fn.power(2), 1000, rng=3, method="cv", rtol=0.01, n_threads=2)
    assert two.n == est.n and np.array_equal(two.grad["loc"], est.grad["loc"])
    with pytest.warns(RuntimeWarning, match="max_n"):
        capped = fs.estimate(d, fs.fn.power(2), 1000, rng=3, rtol=1e-6, max_n=5000)
    assert capped.converged is False and capped.n == 5000


def test_precision_target_without_n_starts_with_four_chunks():
    """n may be left out with rtol or atol: the first wave is 4 * CHUNK_SIZE samples."""
    d = make("Normal")
    est = fs.estimate(d, fs.fn.power(2), rng=3, method="cv", rtol=0.002)
    want = fs.estimate(d, fs.fn.power(2), 4 * fs.CHUNK_SIZE, rng=3, method="cv", rtol=0.002)
    assert est.converged is True and est.n == want.n > 4 * fs.CHUNK_SIZE
    for k in est.grad:
        assert np.array_equal(est.grad[k], want.grad[k])
    quick = fs.estimate(d, fs.fn.power(2), rng=3, atol=10.0)  # met by the first wave
    assert quick.n == 4 * fs.CHUNK_SIZE
    with pytest.raises(TypeError, match="n must be given.*rtol= or atol="):
        fs.estimate(d, fs.fn.power(2), rng=3)


def _without_tqdm(monkeypatch):
    # None in sys.modules makes `import tqdm.auto` raise ImportError: the built-in bar
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_progress_bar_is_drawn_then_erased(capsys, monkeypatch):
    _without_tqdm(monkeypatch)
    est = fs.estimate(make("Normal"), fs.fn.power(2), 10 ** 6, rng=0, progress=True)
    err = capsys.readouterr().err
    assert est.n == 10 ** 6
    frames = err.split("\r")
    drawn = [fr for fr in frames if fr.startswith("fastscore [")]
    assert drawn, "no bar was drawn: %r" % err
    assert drawn[-1].endswith("100%"), drawn[-1]
    assert frames[-1] == "" and frames[-2].strip() == "", "the bar was not erased: %r" % err
    # no bar unless asked for
    fs.estimate(make("Normal"), fs.fn.power(2), 10 ** 6, rng=0)
    assert capsys.readouterr().err == ""


def test_progress_bar_of_a_precision_target_follows_the_projection(capsys, monkeypatch):
    """With rtol the bar's 100% is the projected sample count, not max_n (2**30):
    a run that stops after a few million samples still fills the bar."""
    _without_tqdm(monkeypatch)
    est = fs.estimate(make("Normal"), fs.fn.power(2), 10 ** 5, rng=0, method="cv",
                      rtol=3e-3, progress=True)
    assert est.converged and est.n < 2 ** 24
    pct = [int(fr[-4:-1]) for fr in capsys.readouterr().err.split("\r")
           if fr.startswith("fastscore [")]
    assert pct and max(pct) >= 50, pct


def test_progress_bar_uses_tqdm_when_installed(monkeypatch):
    """With tqdm importable, the bar is a tqdm bar driven to its total, then closed
    (a stand-in module records the calls, so this runs without tqdm too)."""
    import types

    bars = []

    class FakeTqdm:
        def __init__(self, total, desc, leave, file, bar_format):
            self.total, self.desc, self.leave, self.n, self.closed = total, desc, leave, 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    fs.estimate(make("Normal"), fs.fn.power(2), 10 ** 6, rng=0, progress=True)
    assert len(bars) == 1
    bar = bars[0]
    assert bar.desc == "fastscore" and bar.leave is False
    assert bar.n == bar.total and bar.closed


def test_numpy_merge_mirrors_the_kernel_merge():
    from fastscore import _moments

    g = np.random.default_rng(3)
    P = 3
    for _ in range(20):
        tot = g.normal(size=(1, 4 + 5 * P))
        a = g.normal(size=(1, 4 + 5 * P))
        tot[0, 0], a[0, 0] = 7.0, 5.0
        want = tot[0].copy()
        _kernels.merge_sums(want, a[0].copy(), P)
        got = _moments.merge(tot.copy(), a)
        np.testing.assert_allclose(got[0], want, rtol=1e-13, atol=1e-13)
    empty = np.zeros((1, 4 + 5 * P))
    np.testing.assert_array_equal(_moments.merge(empty.copy(), a), a)


def test_numba_cfuncs_are_accepted(assert_estimates_close):
    numba = pytest.importorskip("numba")
    from numba import types

    @numba.cfunc("float64(float64)")
    def square(x):
        return x * x

    @numba.cfunc(types.float64(types.CPointer(types.float64), types.intp, types.intp,
                               types.voidptr))
    def norm2_plus_index(x, e, b, user_data):
        acc = 0.0
        for i in range(e):
            acc += x[i] * x[i]
        return acc + b

    d = make("Normal", batch=True)
    a = fs.estimate(d, square, 20_000, rng=0)
    b = fs.estimate(d, fs.fn.power(2), 20_000, rng=0)
    assert np.array_equal(a.grad["loc"], b.grad["loc"])
    m = fs.MultivariateNormal(np.zeros((2, 3)), np.eye(3))
    c = fs.estimate(m, norm2_plus_index, 2000, rng=0)
    r = fs.estimate(m, norm2_plus_index, 2000, rng=0, backend="reference")
    assert_estimates_close(c, r)


@pytest.mark.parametrize("param", ["probs", "logits"])
@pytest.mark.parametrize("method", ["plain", "rloo", "cv"])
def test_undrawn_support_values_contribute_nothing(param, method):
    """A Python f infinite (or NaN) at a category of probability 0 is evaluated on
    the support but never on a sample, so the estimate stays finite and equals
    the one with f = 0 there (built-in tables refuse non-finite values)."""
    probs = np.array([[0.5, 0.0, 0.3, 0.2], [0.0, 0.25, 0.25, 0.5]])
    kw = {"probs": probs} if param == "probs" else {
        "logits": np.log(np.where(probs > 0, probs, 1e-300))}
    d = fs.Categorical(**kw)
    bad = np.array([[1.0, np.inf, -2.0, 0.5], [np.nan, 3.0, 1.0, -1.0]])
    tame = np.where(np.isfinite(bad), bad, 0.0)
    for backend in ("compiled", "reference"):
        got = fs.estimate(d, lambda x: np.take_along_axis(bad, x.T, axis=1).T, 5000, rng=3,
                          method=method, backend=backend)
        want = fs.estimate(d, fs.fn.table(tame), 5000, rng=3, method=method, backend=backend)
        assert np.all(np.isfinite(got.value)) and np.all(np.isfinite(got.stderr[param]))
        np.testing.assert_array_equal(got.value, want.value)
        np.testing.assert_array_equal(got.grad[param], want.grad[param])
        np.testing.assert_array_equal(got.stderr[param], want.stderr[param])
