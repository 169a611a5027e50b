"""fastscore's inline samplers draw numpy's values, bit for bit.

    python -m pytest bench/samplers/check_identity.py        (about 2 minutes)

Not part of the default test run (its name does not match test_*.py): it
builds the harness extension (bench/samplers/build.py) and compares, per
family and parameter regime, at least 1e7 draws of the block fills (256 draws
per block, as the kernels call them) with numpy.random.Generator(
numpy.random.Philox(key, counter)) using np.array_equal, the words consumed
included (the next raw words of both streams must agree afterwards).  The
branch counters compiled into the harness show that each regime reaches the
branches it is there for (ziggurat tails and wedges, every level, rejection
paths, the speculative fills' fallbacks).  The Philox words are checked under
every refill the CPU has (portable, AVX2, AVX-512), the samplers under the
default one and, more briefly, under each refill.
"""

import math
import os
import struct
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build  # noqa: E402

sc = build.load()
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "fastscore"))
import _gen_ziggurat  # noqa: E402

N = 10 ** 7          # draws per regime
PIECE = 10 ** 6      # compared piece by piece, both streams continuing
KEY = np.array([0x243F6A8885A308D3, 0x13198A2E03707344], dtype=np.uint64)
COUNTER = np.array([0, 0, 11, 3], dtype=np.uint64)  # [0, 0, chunk, batch element]


def numpy_generator(key=KEY, counter=COUNTER):
    return np.random.Generator(np.random.Philox(key=np.asarray(key, dtype=np.uint64),
                                                counter=np.asarray(counter, dtype=np.uint64)))


# ------------------------------------------------------------ tables

def test_tables_are_numpys_bytes():
    """All six generated tables occur verbatim in numpy's compiled sampler
    module (numpy keeps them as static const arrays), so every entry, every
    bit, is numpy's."""
    import numpy.random._generator as npgen
    blob = open(npgen.__file__, "rb").read()
    t = _gen_ziggurat.tables()
    for name in ("fs_zig_nor_k", "fs_zig_nor_w", "fs_zig_nor_f",
                 "fs_zig_exp_k", "fs_zig_exp_w", "fs_zig_exp_f"):
        fmt = "<256Q" if name.endswith("_k") else "<256d"
        assert blob.find(struct.pack(fmt, *t[name])) >= 0, name


def test_table_constants():
    t = _gen_ziggurat.tables()
    assert t["FS_ZIG_NOR_R"] == 3.6541528853610087963519472518
    assert t["FS_ZIG_NOR_INV_R"] == 0.27366123732975827203338247596
    assert t["FS_ZIG_EXP_R"] == 7.6971174701310497140446280481


def test_level_38_near_tie_is_documented_exception():
    """Without the one named exception the normal tables differ from numpy's
    at levels 0..38 (and the exception is a near-tie, checked inside)."""
    saved = set(_gen_ziggurat.NEAR_TIES_ROUNDED_AWAY)
    try:
        _gen_ziggurat.NEAR_TIES_ROUNDED_AWAY.clear()
        ki, wi, fi = _gen_ziggurat.normal_tables()
    finally:
        _gen_ziggurat.NEAR_TIES_ROUNDED_AWAY.update(saved)
    ki2, wi2, fi2 = _gen_ziggurat.normal_tables()
    differ = [i for i in range(256) if wi[i] != wi2[i]]
    assert differ and max(differ) == 37 and fi[38] != fi2[38]


# ------------------------------------------------------------ the stream

STREAM_CASES = [
    (KEY, COUNTER),
    ([0, 0], [0, 0, 0, 0]),
    ([2 ** 64 - 1, 2 ** 63 + 5], [0, 0, 2 ** 40, 77]),
    # refills that carry out of word 0 (the vector refills defer to the
    # portable one there), and a counter wrapping to zero
    ([5, 6], [2 ** 64 - 37, 2 ** 64 - 1, 2 ** 64 - 1, 7]),
    ([7, 8], [2 ** 64 - 3, 5, 0, 0]),
    ([9, 10], [2 ** 64 - 1, 2 ** 64 - 1, 2 ** 64 - 1, 2 ** 64 - 1]),
]
ISAS = list(range(sc.isa_max() + 1))


@pytest.fixture(params=ISAS, ids=lambda i: sc.ISA_NAMES[i])
def isa(request):
    used = sc.set_isa(request.param)
    assert used == request.param
    yield used
    sc.set_isa(sc.isa_max())


@pytest.mark.parametrize("key,counter", STREAM_CASES)
def test_words_equal_numpys(isa, key, counter):
    n = 200_003
    ref = numpy_generator(key, counter).bit_generator.random_raw(n)
    assert np.array_equal(sc.Stream(key, counter).raw(n), ref)
    assert np.array_equal(sc.Stream(key, counter).raw(n, serial=True), ref)


def test_words_many(isa):
    """10^7 words, in pieces of awkward sizes."""
    g, s = numpy_generator(), sc.Stream(KEY, COUNTER)
    done = 0
    for size in [1, 3, 5, 17, 63, 64, 65, 1000, 10 ** 6 - 1218] * 10:
        assert np.array_equal(s.raw(size), g.bit_generator.random_raw(size))
        done += size
    assert done >= 10 ** 7


@pytest.mark.parametrize("name", ["portable", "avx2", "avx512", "bogus"])
def test_environment_caps_the_refill(name):
    """FASTSCORE_PHILOX_ISA caps the refill chosen at load time."""
    import subprocess
    code = ("import sys; sys.path.insert(0, %r); import _sampler_check as sc; "
            "print(sc.get_isa(), sc.isa_max())" % os.path.dirname(sc.__file__))
    env = dict(os.environ, FASTSCORE_PHILOX_ISA=name)
    used, top = map(int, subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                        capture_output=True, text=True).stdout.split())
    want = {"portable": 0, "avx2": 1, "avx512": 2}.get(name, 2)
    assert used == min(want, top)


def test_32_bit_draws_keep_numpys_half_word():
    """fs_next32: low half first, the high half kept across 64-bit draws."""
    g, s = numpy_generator(), sc.Stream(KEY, COUNTER)
    for n32, n64 in [(3, 1), (1, 2), (4, 0), (5, 3), (2, 1)]:
        assert np.array_equal(s.next32(n32), g.integers(0, 2 ** 32, size=n32, dtype=np.uint32))
        assert np.array_equal(s.raw(n64), g.bit_generator.random_raw(n64))


# ------------------------------------------------------------ samplers

def numpy_draws(g, family, params, size):
    if family == "uniform":
        return g.random(size)
    if family == "dirichlet":
        alpha = np.asarray(params[0], dtype=np.float64)
        return g.standard_gamma(np.broadcast_to(alpha, (size, alpha.size)))
    return getattr(g, family)(*params, size=size)


# (family, params, branch events that N draws must reach)
REGIMES = [
    ("uniform", (), []),
    ("standard_normal", (), ["nor_tail", "nor_wedge_accept", "nor_wedge_reject",
                             "fill_fallback"]),
    ("normal", (-3.0, 0.25), ["nor_tail"]),
    ("lognormal", (0.3, 1.2), ["nor_tail"]),
    ("standard_exponential", (), ["exp_tail", "exp_wedge_accept", "exp_wedge_reject",
                                  "fill_fallback"]),
    ("exponential", (0.7,), ["exp_tail"]),
    ("standard_gamma", (1.0,), ["exp_tail"]),                      # shape == 1
    ("standard_gamma", (0.0,), []),                                # shape == 0
    ("standard_gamma", (0.3,), ["gamma_small_pow", "gamma_small_log",
                                "gamma_small_reject", "exp_tail", "fill_fallback"]),
    ("standard_gamma", (0.999,), ["gamma_small_pow", "gamma_small_log"]),
    ("standard_gamma", (1.0001,), ["gamma_mt_vneg", "gamma_mt_squeeze",
                                   "gamma_mt_log_accept", "gamma_mt_reject", "nor_tail"]),
    ("standard_gamma", (2.5,), ["gamma_mt_squeeze", "gamma_mt_log_accept",
                                "gamma_mt_reject", "fill_fallback", "fill_straddle"]),
    ("standard_gamma", (1e4,), ["gamma_mt_squeeze", "gamma_mt_reject"]),
    ("gamma", (3.0, 0.5), ["gamma_mt_squeeze"]),
    ("chisquare", (1.0,), ["gamma_small_pow"]),                    # shape 0.5
    ("chisquare", (7.0,), ["gamma_mt_squeeze"]),
    ("beta", (0.5, 0.7), ["beta_johnk_accept", "beta_johnk_reject"]),
    ("beta", (1.0, 1.0), ["beta_johnk_accept", "beta_johnk_reject"]),
    ("beta", (1e-3, 2e-3), ["beta_johnk_underflow", "beta_johnk_accept"]),
    ("beta", (1e-104, 2e-104), ["beta_tiny"]),
    ("beta", (2.0, 3.0), ["beta_gammas", "gamma_mt_squeeze"]),
    ("beta", (0.4, 5.0), ["beta_gammas", "gamma_small_pow", "gamma_mt_squeeze"]),
    ("poisson", (0.0,), []),
    ("poisson", (0.5,), ["poisson_mult"]),
    ("poisson", (9.99,), ["poisson_mult"]),
    ("poisson", (10.0,), ["poisson_ptrs_quick", "poisson_ptrs_skip",
                          "poisson_ptrs_log_accept", "poisson_ptrs_reject"]),
    ("poisson", (1e6,), ["poisson_ptrs_quick", "poisson_ptrs_log_accept"]),
    ("negative_binomial", (5.0, 0.3), ["gamma_mt_squeeze", "poisson_mult",
                                       "poisson_ptrs_quick"]),
    ("negative_binomial", (0.5, 0.9), ["gamma_small_pow", "poisson_mult"]),
    ("negative_binomial", (100.0, 0.1), ["poisson_ptrs_log_accept"]),
    ("geometric", (1.0 / 3.0,), ["geom_search", "geom_search_long"]),  # the cutoff: search
    ("geometric", (math.nextafter(1.0 / 3.0, 0.0),), ["geom_inversion"]),
    ("geometric", (0.5,), ["geom_search", "geom_search_long"]),
    ("geometric", (0.9,), ["geom_search"]),
    ("geometric", (1.0,), ["geom_search"]),
    ("geometric", (0.05,), ["geom_inversion", "exp_tail"]),
    ("geometric", (1e-300,), ["geom_clamp"]),
    ("dirichlet", ([0.3, 1.0, 2.5, 0.0, 40.0],), ["gamma_small_pow", "gamma_mt_squeeze"]),
]


def regime_id(r):
    return "%s%s" % (r[0], r[1])


@pytest.mark.parametrize("family,params,events", REGIMES, ids=[regime_id(r) for r in REGIMES])
def test_sampler_equals_numpy(family, params, events):
    fam = sc.Family(family, *params)
    g, s = numpy_generator(), sc.Stream(KEY, COUNTER)
    n = N // fam.width if family == "dirichlet" else N
    piece = PIECE // fam.width if family == "dirichlet" else PIECE
    sc.reset_counts()
    done = 0
    while done < n:
        k = min(piece, n - done)
        ours = s.draw(fam, k, block=256)
        ref = np.asarray(numpy_draws(g, family, params, k), dtype=np.float64)
        bad = np.flatnonzero((ours != ref).ravel())
        assert bad.size == 0, "draw %d: ours %r, numpy %r" % (
            done + bad[0] // fam.width, ours.ravel()[bad[0]], ref.ravel()[bad[0]])
        done += k
    assert np.array_equal(s.raw(8), g.bit_generator.random_raw(8)), "words consumed differ"
    counts = sc.counts()
    missing = [e for e in events if counts[e] == 0]
    assert not missing, "branches not reached: %s" % missing


def test_every_ziggurat_level_hit():
    """The 1e7-draw comparisons above reach every level of both tables.
    Counted with the portable refill, where every first try goes through
    the counted scalar code (the vector tries do not count): the words, and
    so the levels, are the same under every refill."""
    sc.set_isa(0)
    try:
        sc.reset_counts()
        s = sc.Stream(KEY, COUNTER)
        s.draw(sc.Family("standard_normal"), N)
        s.draw(sc.Family("standard_exponential"), N)
        levels = sc.levels()
    finally:
        sc.set_isa(sc.isa_max())
    assert levels.min() > 0, np.flatnonzero(levels == 0)


@pytest.mark.parametrize("mode", [dict(block=1), dict(block=7), dict(block=0),
                                  dict(scalar=True)], ids=["block1", "block7", "one-fill", "scalar"])
@pytest.mark.parametrize("family,params,events", REGIMES, ids=[regime_id(r) for r in REGIMES])
def test_other_call_patterns(family, params, events, mode):
    """Block sizes that straddle refills at every phase, one fill for all,
    and the scalar samplers (set up from the raw parameters per call)."""
    fam = sc.Family(family, *params)
    n = 200_000 // fam.width
    s = sc.Stream(KEY, COUNTER)
    g = numpy_generator()
    ours = s.draw(fam, n, **mode)
    assert np.array_equal(ours, np.asarray(numpy_draws(g, family, params, n), dtype=np.float64))
    assert np.array_equal(s.raw(4), g.bit_generator.random_raw(4))


@pytest.mark.parametrize("family,params", [("standard_normal", ()), ("standard_exponential", ()),
                                           ("standard_gamma", (2.5,)), ("standard_gamma", (0.3,)),
                                           ("beta", (0.5, 0.7)), ("poisson", (30.0,))])
def test_samplers_under_each_refill(isa, family, params):
    fam = sc.Family(family, *params)
    for block in (256, 1, 5, 0):
        s, g = sc.Stream(KEY, COUNTER), numpy_generator()
        assert np.array_equal(s.draw(fam, 10 ** 6, block=block),
                              numpy_draws(g, family, params, 10 ** 6))
        assert np.array_equal(s.raw(4), g.bit_generator.random_raw(4))


def test_numpys_dirichlet_from_the_gammas():
    """numpy's Dirichlet (gamma branch, max alpha >= 0.1) is its K gammas
    per draw normalised: ours give the same after numpy's normalisation."""
    alpha = np.array([0.3, 1.0, 2.5, 40.0])
    n = 10 ** 6
    gam = sc.Stream(KEY, COUNTER).draw(sc.Family("dirichlet", alpha), n)
    acc = np.zeros(n)
    for k in range(alpha.size):       # numpy sums the components in order
        acc = acc + gam[:, k]
    ours = gam * (1.0 / acc)[:, None]  # and multiplies by 1 / sum
    assert np.array_equal(ours, numpy_generator().dirichlet(alpha, size=n))


@pytest.mark.parametrize("what,a,b,np_call", [
    ("normal", 1.5, 0.5, lambda g, n: g.normal(1.5, 0.5, n)),
    ("exponential", 3.0, 0.0, lambda g, n: g.exponential(3.0, n)),
    ("gamma", 0.7, 2.0, lambda g, n: g.gamma(0.7, 2.0, n)),
    ("gamma", 3.5, 2.0, lambda g, n: g.gamma(3.5, 2.0, n)),
    ("beta", 0.3, 0.9, lambda g, n: g.beta(0.3, 0.9, n)),
    ("poisson", 12.5, 0.0, lambda g, n: g.poisson(12.5, n)),
    ("geometric", 0.4, 0.0, lambda g, n: g.geometric(0.4, n)),
    ("negative_binomial", 2.0, 0.2, lambda g, n: g.negative_binomial(2.0, 0.2, n)),
])
def test_pxd_declarations(what, a, b, np_call):
    """fastscore/_samplers.pxd declares the headers rightly: draws made
    through it (cimported as a kernel would) are numpy's."""
    import _pxd_check
    ours, after = _pxd_check.draw(what, KEY, COUNTER, 10 ** 5, a, b)
    g = numpy_generator()
    assert np.array_equal(ours, np.asarray(np_call(g, 10 ** 5), dtype=np.float64))
    assert np.array_equal(after, g.bit_generator.random_raw(4))


def test_numpys_c_samplers_on_the_stream():
    """_stream_bitgen.h: numpy's own random_binomial through the bitgen_t
    view, interleaved draw by draw with the inline normal on one stream,
    and random_vonmises, give numpy's Generator values."""
    import _pxd_check
    n = 2 * 10 ** 5
    ours, after = _pxd_check.draw("binomial+normal", KEY, COUNTER, n, 0.3, 40)
    g = numpy_generator()
    ref = np.empty(n)
    for i in range(0, n, 2):   # the same interleaving, one numpy call each
        ref[i] = g.binomial(40, 0.3)
        ref[i + 1] = g.standard_normal()
    assert np.array_equal(ours, ref)
    assert np.array_equal(after, g.bit_generator.random_raw(4))
    ours, after = _pxd_check.draw("vonmises", KEY, COUNTER, 10 ** 5, 0.5, 2.0)
    g = numpy_generator()
    assert np.array_equal(ours, g.vonmises(0.5, 2.0, 10 ** 5))
    assert np.array_equal(after, g.bit_generator.random_raw(4))


SWEEP = [
    ("standard_gamma", lambda r: (r.choice([r.uniform(0, 1), r.uniform(1, 20), r.lognormal(0, 3)]),)),
    ("beta", lambda r: (r.choice([r.uniform(0, 1), r.lognormal(0, 2)]),
                        r.choice([r.uniform(0, 1), r.lognormal(0, 2)]))),
    ("poisson", lambda r: (r.choice([r.uniform(0, 10), r.uniform(10, 50), r.lognormal(3, 3)]),)),
    ("negative_binomial", lambda r: (r.lognormal(0, 2), r.uniform(0.01, 1.0))),
    ("geometric", lambda r: (r.choice([r.uniform(0.001, 1 / 3), r.uniform(1 / 3, 1.0)]),)),
    ("normal", lambda r: (r.normal(0, 10), r.lognormal(0, 2))),
    ("exponential", lambda r: (r.lognormal(0, 2),)),
    ("chisquare", lambda r: (r.lognormal(0, 2),)),
]


@pytest.mark.parametrize("family,pick", SWEEP, ids=[s[0] for s in SWEEP])
def test_parameter_sweep(family, pick):
    """300 random parameter values per family, 2e4 draws each (the set-ups
    precompute from the parameters: any value must give numpy's draws)."""
    r = np.random.default_rng(20261201)
    for j in range(300):
        params = tuple(float(x) for x in pick(r))
        fam = sc.Family(family, *params)
        counter = [0, 0, j, 1]
        ours = sc.Stream(KEY, counter).draw(fam, 20_000)
        ref = numpy_draws(numpy_generator(KEY, counter), family, params, 20_000)
        assert np.array_equal(ours, np.asarray(ref, dtype=np.float64)), params


def test_compile_time_constant_parameters():
    """Set-ups with literal parameters (the compiler sees them) still draw
    numpy's values: pow(u, 1 / 0.5) stays a libm call, not u * u."""
    import _pxd_check
    n = 10 ** 6
    ours = _pxd_check.constant_parameters(KEY, COUNTER, n)
    assert np.array_equal(ours[0], numpy_generator().gamma(0.5, 1.0, n))
    assert np.array_equal(ours[1], numpy_generator().beta(0.5, 0.5, n))
    assert np.array_equal(ours[2], numpy_generator().poisson(3.0, n))
    assert np.array_equal(ours[3], numpy_generator().geometric(0.1, n))
