"""Results of large f (issue 24, item 2): the finishes rescale by powers of two.

Where the moment sums are finite but a finish's products overflow (|f| above
about 1e154: shift^2 sum s^2, g^2), the finish runs again on the sums scaled
by 2^-k and scales its results back.  Power-of-two scaling is exact, so an
f scaled by 2^k gives results scaled by 2^k bit for bit, on both backends;
where the true result is beyond float64 nan_policy="raise" raises an
OverflowError (a ValueError too) naming it, and "propagate" gives inf.
"""

import numpy as np
import pytest

import fastscore as fs
from fastscore import _engine, _finish, _kernels, _moments
from fastscore._kinds import KINDS, SCORE, SCORE_CV
from fastscore._rng import CHUNK_SIZE

BACKENDS = ["compiled", "reference"]
K = 520           # f = 2^K (1 + 2^-40 x): its shift squared is 2^1040
BIG = 2.0 ** K


def _bits_equal(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(np.where(np.isnan(a), np.nan, a).view(np.uint64),
                                                 np.where(np.isnan(b), np.nan, b).view(np.uint64))


def _assert_scaled(big, small, k, what=""):
    """Every result of ``big`` is 2^k times ``small``'s, bit for bit."""
    for name, x, y in [("value", big.value, small.value),
                       ("value_stderr", big.value_stderr, small.value_stderr)] + \
            [("grad[%r]" % p, big.grad[p], small.grad[p]) for p in small.grad] + \
            [("stderr[%r]" % p, big.stderr[p], small.stderr[p]) for p in small.grad]:
        assert np.all(np.isfinite(x)), (what, name, x)
        assert _bits_equal(x, np.ldexp(y, k)), (what, name, x, np.ldexp(y, k))


# -- the reproducers of the issue ----------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("b", [1e160, 1e200, 1e307])
def test_a_large_constant_f_gives_finite_gradients_and_errors(backend, b):
    """fs.fn.linear(0.0, b) is the constant b: its sums are finite (f - shift = 0),
    but b^2 sum s^2 overflowed the finish (NaN stderr at 1e160, +-inf gradients at
    1e307).  Its results are b times those of f = 1."""
    est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.linear(0.0, b), 1000, rng=0, backend=backend)
    one = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.linear(0.0, 1.0), 1000, rng=0, backend=backend)
    for p in ("loc", "scale"):
        for got, want in ((est.grad[p], one.grad[p]), (est.stderr[p], one.stderr[p])):
            assert np.isfinite(got) and want != 0.0
            assert abs(got - b * want) <= 1e-14 * abs(b * want), (p, got, b * want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("estimator,method", [("score", "plain"), ("score", "rloo"),
                                              ("score", "cv"), ("pathwise", "plain"),
                                              ("measure", "plain")])
def test_a_loc_beyond_the_noise_is_a_clear_error_not_a_wrong_gradient(backend, estimator,
                                                                        method):
    """Normal(1e300, 1), f = x gave a scale gradient of -1e300 (exact 0) and a NaN
    stderr.  It is a loss of precision, not an overflow: every sample rounds to
    loc (1e300 + z = 1e300), so the noise the gradients come from is gone.  It
    raises (Distribution._check_resolution), naming the parameter."""
    with pytest.raises(ValueError, match="Normal: parameter 'scale' .* loc of 1e\\+300.*"
                                         "shifted frame"):
        fs.estimate(fs.Normal(1e300, 1.0), fs.fn.linear(1.0), 1000, rng=0, backend=backend,
                    estimator=estimator, method=method)


def test_a_loc_beyond_the_noise_is_refused_by_estimate_from_samples():
    d = fs.Normal(1e300, 1.0)
    x = fs.sample(d, 100, rng=0)
    with pytest.raises(ValueError, match="parameter 'scale'"):
        fs.estimate_from_samples(d, x, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_variance_that_overflows_its_sum_is_a_clear_error(backend):
    """Normal(1e300, 1e295) resolves its noise, but f = x spreads by 1e295: the sum of
    (f - f_0)^2 itself overflows.  A clear error suggesting to rescale f; with
    'propagate', NaN standard errors."""
    d = fs.Normal(1e300, 1e295)
    with pytest.raises(ValueError, match="variance of f overflows .* rescale f"):
        fs.estimate(d, fs.fn.linear(1.0), 1000, rng=0, backend=backend)
    est = fs.estimate(d, fs.fn.linear(1.0), 1000, rng=0, backend=backend,
                      nan_policy="propagate")
    assert np.isnan(est.value_stderr) and np.isnan(est.stderr["loc"])


# -- exact rescaling: f times 2^K gives results times 2^K ---------------------------
CASES = [
    ("Normal", lambda: fs.Normal(np.array([0.0, 1.0, -2.0]), 1.5)),
    ("Poisson", lambda: fs.Poisson(np.array([3.0, 0.5]))),
    ("Gamma", lambda: fs.Gamma(np.array([0.5, 2.0]), 1.0)),
    ("Categorical-group", lambda: fs.Categorical(logits=np.linspace(-1, 1, 9 * 3).reshape(9, 3))),
    ("Categorical-row", lambda: fs.Categorical(probs=np.array([[0.2, 0.3, 0.5]] * 3))),
    ("Bernoulli", lambda: fs.Bernoulli(logits=np.array([0.3, -1.0]))),
    ("MultivariateNormal", lambda: fs.MultivariateNormal(np.zeros(2), np.eye(2))),
]


def _f_pair(name, dist):
    """(f, f / 2^K) as fastscore.fn built-ins, f = 2^K (1 + 2^-40 g) for a g of the
    family's samples."""
    if name.startswith("Categorical"):
        vals = np.array([1.0, 1.0 + 2.0 ** -40, 1.0 - 2.0 ** -39])
        return fs.fn.table(BIG * vals), fs.fn.table(vals)
    if name == "Bernoulli":
        vals = np.array([1.0, 1.0 + 2.0 ** -40])
        return fs.fn.table(BIG * vals), fs.fn.table(vals)
    a = 2.0 ** -40
    return fs.fn.linear(BIG * a, BIG), fs.fn.linear(a, 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_f_times_a_power_of_two_scales_every_result_exactly(backend, method, name, make):
    d = make()
    big, small = _f_pair(name, d)
    kw = dict(rng=1, backend=backend, method=method)
    bl = {} if method != "baseline" else {"baseline": 0.5}
    blb = {} if method != "baseline" else {"baseline": 0.5 * BIG}
    est_big = fs.estimate(d, big, 300, **kw, **blb)
    est_small = fs.estimate(d, small, 300, **kw, **bl)
    _assert_scaled(est_big, est_small, K, (name, method, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("estimator", ["pathwise", "measure"])
def test_the_mean_kinds_scale_exactly_too(backend, estimator):
    d = fs.Normal(np.array([0.0, 1.0]), 2.0)
    a = 2.0 ** -40
    big = fs.estimate(d, fs.fn.linear(BIG * a, BIG), 500, rng=2, backend=backend,
                      estimator=estimator)
    small = fs.estimate(d, fs.fn.linear(a, 1.0), 500, rng=2, backend=backend,
                        estimator=estimator)
    _assert_scaled(big, small, K, estimator)


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
def test_estimate_from_samples_scales_exactly(method):
    d = fs.Normal(np.array([0.0, 3.0]), 1.0)
    x = fs.sample(d, 50, rng=3)
    fx = 1.0 + 2.0 ** -40 * x
    bl = {} if method != "baseline" else {"baseline": 1.0}
    blb = {} if method != "baseline" else {"baseline": BIG}
    big = fs.estimate_from_samples(d, x, BIG * fx, method=method, **blb)
    small = fs.estimate_from_samples(d, x, fx, method=method, **bl)
    _assert_scaled(big, small, K, method)


def test_estimate_from_one_sample_checks_the_gradient_not_the_undefined_errors():
    """With n = 1 every standard error is NaN by design (never an error); a
    gradient f s beyond float64 is."""
    d = fs.Normal(0.0, 1e-10)
    est = fs.estimate_from_samples(d, np.array([1e-10]), np.array([1e290]))
    assert np.isfinite(est.grad["loc"]) and np.isnan(est.stderr["loc"])
    with pytest.raises(OverflowError, match="gradient with respect to 'loc' overflows .* "
                                            "rescale f"):
        fs.estimate_from_samples(d, np.array([1e-10]), np.array([1e300]))


# -- where the true result is beyond float64 ---------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_gradient_beyond_float64_raises_naming_it(backend):
    d = fs.Normal(0.0, 1e-20)   # scores of 1e20: a gradient of 1e300 x 1e20
    f = fs.fn.linear(0.0, 1e300)
    with pytest.raises(OverflowError, match="gradient with respect to 'loc' overflows float64 "
                                            "for batch element \\(\\).* rescale f") as info:
        fs.estimate(d, f, 1000, rng=0, backend=backend)
    assert isinstance(info.value, ValueError)   # as every error of nan_policy="raise"
    est = fs.estimate(d, f, 1000, rng=0, backend=backend, nan_policy="propagate")
    assert np.isinf(est.grad["loc"]) and np.isinf(est.stderr["loc"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_precision_targets_stop_at_an_overflow(backend):
    with pytest.raises(OverflowError, match="gradient with respect to 'loc'"):
        fs.estimate(fs.Normal(0.0, 1e-20), fs.fn.linear(0.0, 1e300), rng=0, backend=backend,
                    rtol=1e-3, max_n=2 ** 22)


# -- cov=True -------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["plain", "rloo", "cv"])
def test_the_covariance_of_large_terms_scales_exactly(backend, method):
    """Terms of 2^510: their cross products pass 2^1020 and their sum overflowed,
    while the covariance (about 2^1008) is representable."""
    d = fs.Normal(0.0, 1.0)
    a = 2.0 ** -40
    big = fs.estimate(d, fs.fn.linear(2.0 ** 510 * a, 2.0 ** 510), 4096, rng=0,
                      backend=backend, method=method, cov=True)
    small = fs.estimate(d, fs.fn.linear(a, 1.0), 4096, rng=0, backend=backend, method=method,
                        cov=True)
    assert np.all(np.isfinite(big.cov))
    assert _bits_equal(big.cov, np.ldexp(small.cov, 1020))
    assert _bits_equal(np.diagonal(big.cov),
                       np.array([big.stderr["loc"] ** 2, big.stderr["scale"] ** 2]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_covariance_beyond_float64_raises_naming_it(backend):
    d = fs.Normal(0.0, 1.0)
    f = fs.fn.linear(0.0, 1e300)    # stderr ~3e298: its square is beyond float64
    with pytest.raises(OverflowError, match="covariance of the gradient components 'loc' and "
                                            "'loc' overflows .* rescale f"):
        fs.estimate(d, f, 1000, rng=0, backend=backend, cov=True)
    est = fs.estimate(d, f, 1000, rng=0, backend=backend, cov=True, nan_policy="propagate")
    assert np.isinf(est.cov[0, 0]) and np.isfinite(est.grad["loc"])


# -- the finishes on crafted sums: compiled == NumPy twin, bit for bit ---------------
def _score_sums(m=40, P=2, seed=0, folds=False):
    rng = np.random.default_rng(seed)
    fx = BIG * (1.0 + 2.0 ** -40 * rng.standard_normal((m, 3)))
    s = 2.0 ** 20 * rng.standard_normal((m, 3, P))    # scores above 1 too
    if folds:
        return _moments.fold_sums_from_samples(fx, s, CHUNK_SIZE)
    return _moments.sums_from_samples(fx, s, CHUNK_SIZE)


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo"])
def test_finish_sums_rescaled_matches_its_twin(method):
    sums = _score_sums()
    base = np.array([BIG, -BIG, 0.0]) if method == "baseline" else None
    got = _finish.finish_sums(sums, method, base)
    want = SCORE.finish(None, sums, method, base)
    for g, w in zip(got, want):
        assert np.all(np.isfinite(g)) and _bits_equal(g, w)


def test_finish_folds_rescaled_matches_its_twin():
    sums = _score_sums(m=60, folds=True)
    got = _finish.finish_folds(sums)
    want = SCORE_CV.finish(None, sums)
    for g, w in zip(got, want):
        assert np.all(np.isfinite(g)) and _bits_equal(g, w)


def test_finish_folds_rescales_a_baseline_far_from_its_fold():
    """Three samples, one per fold: fold 0 (f = 0, s = 2^300) takes its baseline
    2^400 from fold 1, whose scores are tiny.  The merged sums are finite, but
    baseline^2 sum s^2 = 2^1400 overflowed the finish; the gradient is 2^700.
    It equals 2^700 times that of f / 2^400 and s / 2^300, bit for bit."""
    fx = np.array([[0.0], [2.0 ** 400], [2.0 ** 400]])
    s = np.array([[[2.0 ** 300]], [[2.0 ** -100]], [[2.0 ** -120]]])
    big = _moments.fold_sums_from_samples(fx, s, CHUNK_SIZE)
    small = _moments.fold_sums_from_samples(np.ldexp(fx, -400), np.ldexp(s, -300), CHUNK_SIZE)
    assert np.isfinite(_moments.fold_total(big)).all()
    got = _finish.finish_folds(big)
    want = SCORE_CV.finish(None, big)
    ref = _finish.finish_folds(small)
    for g, w in zip(got, want):
        assert _bits_equal(g, w)
    assert np.isfinite(got[2]).all() and np.isfinite(got[3]).all()
    assert _bits_equal(got[2], np.ldexp(ref[2], 700)) and _bits_equal(got[3], np.ldexp(ref[3], 700))


def test_finish_mean_rescaled_matches_its_twin():
    """A mean term near the top of float64 (term_shift + mean beyond it) times a
    coefficient below 1: finite.  (A crafted row: its sum of squares is not that
    of any terms.)"""
    n = 2.0
    row = np.array([n, 0.0, 0.0, 0.0, 1.8 * 2.0 ** 1023, n * 0.4 * 2.0 ** 1023, 2.0 ** 1000])
    sums = np.stack([row, row])
    coef = np.array([[0.25], [1.0]])
    measure = KINDS["measure"]

    class Plan:
        measure_coef = coef

    got = _finish.finish_mean(sums, coef)
    want = measure.finish(Plan, sums, "plain")
    for g, w in zip(got, want):
        assert _bits_equal(g, w)
    assert np.isfinite(got[2][0, 0]) and np.isinf(got[2][1, 0])   # 2.2 2^1023: beyond


def test_finish_cv_rescaled_matches_its_twin():
    n = 64.0
    blk = [2.0 ** 600, 0.0, 2.0 ** 1022, 0.0, 2.0 ** 1022, 2.0 ** 1021]
    sums = np.array([[n, 0.0, 0.0, 0.0] + blk])
    eta = np.array([[2.0]])
    got = _finish.finish_cv(sums, eta)
    rebar = KINDS["rebar"].configured(eta=2.0, temperature=0.5)

    class Params:
        params = [("logits", (), "plain")]

    class Plan:
        batch_size = 1
        batch_shape = ()
        params = Params

    want = rebar.finish(Plan, sums, "plain")
    for g, w in zip(got[:4], want):
        assert np.all(np.isfinite(g)) and _bits_equal(g, w)
    assert _bits_equal(got[4], rebar.eta_used)


@pytest.mark.parametrize("rows", [8, 3])   # a group of eight rows, and the row path
def test_onehot_finish_rescaled_matches_the_general_path_on_every_isa(rows):
    rng = np.random.default_rng(4)
    V = 4
    counts = rng.integers(0, 5, size=(rows, V)).astype(np.int64)
    counts[:, 0] += 2
    fv = BIG * (1.0 + 2.0 ** -40 * rng.standard_normal((rows, V)))
    b = rng.uniform(0.1, 0.4, size=(rows, V))
    a = 1.0 / rng.uniform(0.1, 0.9, size=(rows, V))
    _, have = _engine.reduce_isa()
    for isa in have:
        code = _engine.current().replace(reduce_isa=isa).code
        for coef in (None, a):
            for method in ("plain", "baseline", "rloo"):
                bl = np.full(rows, BIG) if method == "baseline" else None
                sums = _finish.onehot_count_sums(
                    counts, fv, np.ones_like(b) if coef is None else coef, b, 1)
                want = _finish.finish_sums(sums, method, bl, 1)
                got = _finish.onehot_finish(counts, fv, coef, b, method, bl, 1,
                                            engine=code)
                for w, r in zip(want, got):
                    assert np.all(np.isfinite(r)) and _bits_equal(w, r), (isa, method)
