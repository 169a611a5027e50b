"""Random streams: the kernel's Philox is numpy's, rng -> key follows SPEC 7, and
fs.sample draws exactly numpy's Generator samples on the documented streams.

Every expectation here is computed with numpy.random directly (Philox,
Generator, SeedSequence), never with fastscore's own stream helpers.
"""

import numpy as np
import pytest

import fastscore as fs
from cases import CASES
from fastscore import _engine, _kernels
from fastscore._rng import key_from_rng

M64 = 2 ** 64 - 1
CHUNK = fs.CHUNK_SIZE


def numpy_philox(key, counter):
    return np.random.Philox(key=np.array(key, dtype=np.uint64),
                            counter=np.array(counter, dtype=np.uint64))


def seed_key(seed):
    """The key of an int seed (SPEC 7: SeedSequence(seed).generate_state(2, uint64)), by numpy."""
    state = np.random.SeedSequence(seed).generate_state(2, np.uint64)
    return int(state[0]), int(state[1])


# ---------------------------------------------------------------------------
# Philox4x64-10: kernel vs numpy
# ---------------------------------------------------------------------------
KEYS = [(0, 0), (1, 0), (0, 1), (M64, M64), (0x243F6A8885A308D3, 0x13198A2E03707344),
        (12345678901234567890, 98765432109876543)]
COUNTERS = [
    [0, 0, 0, 0],
    [1, 2, 3, 4],
    [M64, 0, 0, 0],            # first increment carries into word 1
    [M64 - 2, 0, 0, 0],        # carry a few blocks into the stream
    [M64, M64, 0, 0],          # carries into word 2
    [M64 - 1, M64, 5, 7],      # carry into word 2 after one block
    [M64, M64, M64, 0],        # carries into word 3
    [M64 - 3, M64, M64, 9],    # carry through three words mid-stream
    [M64, M64, M64, M64],      # wraps to all zeros
    [M64 - 1, M64, M64, M64],  # wraps mid-stream
    [0, 0, 5, 3],              # a chunk/batch counter as the kernels use them
    [2 ** 63, 2 ** 62 + 1, 2 ** 61, 2 ** 60],
]
N_RAW = 4 * 6 + 3  # several 4-word blocks and a partial one


@pytest.mark.parametrize("key", KEYS, ids=lambda k: "key%x_%x" % k)
@pytest.mark.parametrize("counter", COUNTERS, ids=lambda c: "ctr" + "_".join("%x" % w for w in c))
def test_philox_raw_uint64_matches_numpy(key, counter):
    got = _kernels.philox_raw(key[0], key[1], counter, N_RAW, "uint64")
    want = numpy_philox(key, counter).random_raw(N_RAW)
    assert got.dtype == np.uint64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("key", KEYS[::2], ids=lambda k: "key%x_%x" % k)
@pytest.mark.parametrize("counter", COUNTERS, ids=lambda c: "ctr" + "_".join("%x" % w for w in c))
def test_philox_raw_double_matches_generator_random(key, counter):
    got = _kernels.philox_raw(key[0], key[1], counter, N_RAW, "double")
    want = np.random.Generator(numpy_philox(key, counter)).random(N_RAW)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    assert np.all((got >= 0.0) & (got < 1.0))


@pytest.mark.parametrize("key", KEYS[1::2], ids=lambda k: "key%x_%x" % k)
@pytest.mark.parametrize("counter", COUNTERS, ids=lambda c: "ctr" + "_".join("%x" % w for w in c))
def test_philox_raw_uint32_matches_generator_integers(key, counter):
    n = 2 * N_RAW + 1  # odd: ends on a half-used 64-bit word
    got = _kernels.philox_raw(key[0], key[1], counter, n, "uint32")
    want = np.random.Generator(numpy_philox(key, counter)).integers(0, 2 ** 32, size=n,
                                                                     dtype=np.uint32)
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, want)


def test_philox_raw_many_random_keys_and_counters():
    meta = np.random.default_rng(20240601)
    for _ in range(200):
        key = [int(v) for v in meta.integers(0, 2 ** 64, size=2, dtype=np.uint64)]
        counter = [int(v) for v in meta.integers(0, 2 ** 64, size=4, dtype=np.uint64)]
        # force carries in some of them
        if meta.random() < 0.5:
            counter[0] = M64 - int(meta.integers(0, 8))
        n = int(meta.integers(1, 40))
        np.testing.assert_array_equal(_kernels.philox_raw(key[0], key[1], counter, n, "uint64"),
                                      numpy_philox(key, counter).random_raw(n))


def test_philox_raw_uint32_uses_both_halves_low_first():
    key, counter = (7, 11), [0, 0, 0, 0]
    raw = numpy_philox(key, counter).random_raw(3)
    got = _kernels.philox_raw(key[0], key[1], counter, 6, "uint32")
    want = np.empty(6, dtype=np.uint32)
    want[0::2] = (raw & 0xFFFFFFFF).astype(np.uint32)
    want[1::2] = (raw >> np.uint64(32)).astype(np.uint32)
    np.testing.assert_array_equal(got, want)


def test_philox_raw_double_is_top_53_bits():
    key, counter = (3, 5), [M64, 0, 0, 0]
    raw = numpy_philox(key, counter).random_raw(9)
    want = (raw >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    np.testing.assert_array_equal(_kernels.philox_raw(3, 5, counter, 9, "double"), want)


def test_philox_raw_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        _kernels.philox_raw(1, 2, [0, 0, 0, 0], 4, "float32")


# ---------------------------------------------------------------------------
# rng -> key (SPEC 7)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 42, 2 ** 32, 2 ** 64 + 5, 2 ** 128 - 1])
def test_key_from_int_is_seedsequence_state(seed):
    key = key_from_rng(seed)
    assert key == seed_key(seed)
    assert key_from_rng(np.random.SeedSequence(seed)) == key
    if seed < 2 ** 63:
        assert key_from_rng(np.int64(seed)) == key
    assert all(isinstance(k, int) and 0 <= k < 2 ** 64 for k in key)


def test_key_from_seedsequence_with_spawn_key():
    ss = np.random.SeedSequence(7, spawn_key=(3,))
    st = ss.generate_state(2, np.uint64)
    assert key_from_rng(ss) == (int(st[0]), int(st[1]))
    assert key_from_rng(ss) != key_from_rng(7)


def test_key_from_none_is_fresh_entropy():
    keys = {key_from_rng(None) for _ in range(5)}
    assert len(keys) == 5
    for k in keys:
        assert len(k) == 2 and all(isinstance(v, int) and 0 <= v < 2 ** 64 for v in k)


@pytest.mark.parametrize("make", [np.random.PCG64, np.random.Philox, np.random.MT19937,
                                  np.random.SFC64])
def test_key_from_bitgenerator_draws_two_raw_words_and_advances(make):
    bg, twin = make(99), make(99)
    key = key_from_rng(bg)
    raw = twin.random_raw(2)
    assert key == (int(raw[0]), int(raw[1]))
    # bg advanced by exactly those two draws
    np.testing.assert_array_equal(bg.random_raw(3), twin.random_raw(3))
    assert key_from_rng(bg) != key


def test_key_from_generator_advances_it():
    gen, twin = np.random.default_rng(5), np.random.default_rng(5)
    k1 = key_from_rng(gen)
    raw = twin.bit_generator.random_raw(2)
    assert k1 == (int(raw[0]), int(raw[1]))
    k2 = key_from_rng(gen)
    assert k2 != k1
    raw = twin.bit_generator.random_raw(2)
    assert k2 == (int(raw[0]), int(raw[1]))
    assert gen.random() == twin.random()


def test_estimate_and_sample_use_and_advance_the_generator():
    d = fs.Normal(0.0, 1.0)
    gen, twin = np.random.default_rng(11), np.random.default_rng(11)
    e1 = fs.estimate(d, fs.fn.power(2), 100, rng=gen)
    raw = twin.bit_generator.random_raw(2)
    assert e1.key == (int(raw[0]), int(raw[1]))
    e2 = fs.estimate(d, fs.fn.power(2), 100, rng=gen)
    raw = twin.bit_generator.random_raw(2)
    assert e2.key == (int(raw[0]), int(raw[1]))
    assert e2.key != e1.key and e2.value != e1.value
    x = fs.sample(d, 10, rng=gen)
    raw = twin.bit_generator.random_raw(2)
    key = (int(raw[0]), int(raw[1]))
    want = np.random.Generator(numpy_philox(key, [0, 0, 0, 0])).normal(0.0, 1.0, 10)
    np.testing.assert_array_equal(x, want)
    assert fs.estimate(d, fs.fn.power(2), 100, rng=3).key == seed_key(3)


@pytest.mark.parametrize("bad", ["0", 1.5, [1, 2], object(), np.random.RandomState(0), True,
                                 np.bool_(False)])
def test_key_from_bad_rng_is_type_error(bad):
    with pytest.raises(TypeError, match="rng"):
        key_from_rng(bad)
    with pytest.raises(TypeError):
        fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 10, rng=bad)


@pytest.mark.parametrize("bad", [-1, np.int64(-5), -(2 ** 70)])
def test_key_from_negative_int_is_value_error(bad):
    with pytest.raises(ValueError, match="negative"):
        key_from_rng(bad)
    with pytest.raises(ValueError):
        fs.sample(fs.Normal(0.0, 1.0), 10, rng=bad)


# ---------------------------------------------------------------------------
# fs.sample on the documented streams
# ---------------------------------------------------------------------------
N_SAMPLES = 2 * CHUNK + 777  # three chunks, the last one partial
N_TWIN = CHUNK + 777  # two chunks, for each case of the registry


def expected_samples(key, n, batch_shape, draw):
    """numpy's samples: chunk c of batch element b from Philox(key, [0, 0, c, b]).

    ``draw(gen, b, m)`` draws m samples (m,) or (m, E) of (flat, C-order) batch element b.
    """
    bsize = int(np.prod(batch_shape, dtype=np.int64))
    out = []
    for b in range(bsize):
        parts = []
        for c in range(-(-n // CHUNK)):
            m = min(CHUNK, n - c * CHUNK)
            parts.append(draw(np.random.Generator(numpy_philox(key, [0, 0, c, b])), b, m))
        out.append(np.concatenate(parts))
    out = np.stack(out, axis=1)
    return out.reshape((n,) + tuple(batch_shape) + out.shape[2:])


def twin_samples(case, key, n, shape):
    """The case's sampler twin on the documented streams, for a batch of ``shape``."""
    index = case.index(shape)
    return expected_samples(key, n, shape,
                            lambda gen, b, m: case.draw(gen, case.element(index[b]), m))


def assert_twin(case, got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    if case.exact_draw:
        np.testing.assert_array_equal(got, want)
    else:  # composite samplers (gammas normalised, L z) add up in another order
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", [(), (2,), (2, 3)], ids=str)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_sample_is_numpy_generator_on_documented_streams(case, shape):
    seed = 1000 + len(shape)
    d = case.make(shape)
    got = fs.sample(d, N_TWIN, rng=seed)
    assert got.dtype == (np.int64 if d.integer_valued else np.float64)
    assert got.shape == (N_TWIN,) + tuple(shape) + tuple(d.event_shape)
    assert_twin(case, got, twin_samples(case, seed_key(seed), N_TWIN, shape))
    # and the reference backend draws them too, bit for bit
    np.testing.assert_array_equal(fs.sample(d, N_TWIN, rng=seed, backend="reference"), got)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sample_with_generator_rng_and_threads(case):
    d = case.make((3,))
    gen = np.random.default_rng(77)
    raw = np.random.default_rng(77).bit_generator.random_raw(2)
    want = twin_samples(case, (int(raw[0]), int(raw[1])), N_TWIN, (3,))
    for nt in (1, 3):
        got = fs.sample(d, N_TWIN, rng=np.random.Generator(np.random.PCG64(77)),
                        n_threads=nt)
        assert_twin(case, got, want)
    assert_twin(case, fs.sample(d, N_TWIN, rng=gen), want)


def test_categorical_never_draws_zero_probability_categories():
    d = fs.Categorical(probs=np.array([[0.0, 1.0, 0.0, 2.0, 0.0], [3.0, 0.0, 0.0, 0.0, 0.0]]))
    x = fs.sample(d, N_SAMPLES, rng=4)
    assert set(np.unique(x[:, 0])) == {1, 3}
    assert set(np.unique(x[:, 1])) == {0}


@pytest.mark.parametrize("K", [2, 3, 8, 16, 17, 40])
def test_categorical_samples_for_every_support_size(K):
    """Small supports take a branch-free count of cdf entries <= u, large ones a
    binary search: both must be the first index with u < cdf, as searchsorted."""
    g = np.random.default_rng(K)
    probs = g.random((2, K))
    probs[:, ::3] = 0.0                      # zero-probability categories, first one included
    if K > 2:
        probs[1, -1] = 0.0                   # and a zero last category
    d = fs.Categorical(probs=probs)
    p = probs / probs.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(p, axis=-1)

    def draw(gen, b, m):
        idx = np.searchsorted(cdf[b], gen.random(m), side="right")
        return np.minimum(idx, np.flatnonzero(p[b] > 0)[-1])

    want = expected_samples(seed_key(K), N_SAMPLES, (2,), draw)
    got = fs.sample(d, N_SAMPLES, rng=K)
    np.testing.assert_array_equal(got, want)
    assert not np.isin(got, np.flatnonzero(p[0] == 0)).any()


def test_bernoulli_extreme_probs():
    x = fs.sample(fs.Bernoulli(probs=np.array([0.0, 1.0])), N_SAMPLES, rng=2)
    assert np.all(x[:, 0] == 0) and np.all(x[:, 1] == 1)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sample_prefix_property(case):
    """The first n1 samples of a run of n2 > n1 are the run of n1 (streams are per chunk)."""
    d = case.make((2,))
    big = fs.sample(d, N_TWIN, rng=8)
    for n1 in (1, 5, CHUNK - 1, CHUNK, CHUNK + 1, N_TWIN - 1):
        np.testing.assert_array_equal(fs.sample(d, n1, rng=8), big[:n1])


def test_batch_elements_use_their_own_streams():
    # identical parameters, different batch index -> different (independent) samples
    d = fs.Normal(np.zeros(3), 1.0)
    x = fs.sample(d, 1000, rng=0)
    assert not np.array_equal(x[:, 0], x[:, 1])
    assert not np.array_equal(x[:, 1], x[:, 2])
    # element 0 of a batch is the unbatched stream (counter [0, 0, c, 0])
    np.testing.assert_array_equal(fs.sample(fs.Normal(0.0, 1.0), 1000, rng=0), x[:, 0])


# ---------------------------------------------------------------------------
# Philox refills: portable, AVX2, AVX-512 (the engine's stream_isa) give one stream
# ---------------------------------------------------------------------------
def _draws():
    """Samples and an estimate that read many refills (and a counter carry)."""
    d = fs.Normal([0.0, 1.0], [1.0, 2.0])
    est = fs.estimate(fs.Gamma(2.5, 1.5), fs.fn.power(2), 3 * CHUNK + 5, rng=3, n_threads=1)
    raw = _kernels.philox_raw(1, 2, [M64 - 20, M64, 0, 0], 300, "uint64",
                              engine=_engine.current().code)
    return fs.sample(d, 3 * CHUNK + 5, rng=1), est.grad["concentration"], raw


def test_every_refill_the_cpu_has_gives_the_same_bits():
    """The engine's refill (the CPU's best by default); each one this machine has
    must give numpy's words, so the portable one is tested everywhere."""
    chosen, have = _engine.stream_isa()
    assert have[0] == "portable" and chosen in have
    with _engine.using(stream_isa="portable") as eng:
        assert _kernels.stream_refill(eng.code) == "portable"
        want = _draws()
    np.testing.assert_array_equal(
        want[2], numpy_philox((1, 2), [M64 - 20, M64, 0, 0]).random_raw(300))
    for isa in have[1:]:
        with _engine.using(stream_isa=isa) as eng:
            assert eng.stream_isa == isa and _kernels.stream_refill(eng.code) == isa
            got = _draws()
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, err_msg=isa)
    with pytest.raises(ValueError, match="portable"):
        with _engine.using(stream_isa="sse9"):
            pass


def test_philox_isa_environment_caps_the_refill(tmp_path):
    """FASTSCORE_PHILOX_ISA=portable in the environment makes a fresh process use the
    portable refill (how a whole suite runs on it), with the same results."""
    import os
    import subprocess
    import sys

    code = ("import fastscore as fs, fastscore._engine as e; "
            "print(e.stream_isa()[0], fs.sample(fs.Normal(0.0, 1.0), 5, rng=1).tolist())")
    # the fastscore under test (installed or in place), run from elsewhere
    where = os.path.dirname(os.path.dirname(os.path.abspath(fs.__file__)))
    env = dict(os.environ, FASTSCORE_PHILOX_ISA="portable", PYTHONPATH=where)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=tmp_path).stdout.split(" ", 1)
    assert out[0] == "portable"
    assert eval(out[1]) == fs.sample(fs.Normal(0.0, 1.0), 5, rng=1).tolist()
