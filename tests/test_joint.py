"""Joint distributions: Independent, Joint and TransformedDistribution.

Each wrapper is a transformation of its base's plan; these tests hold it to
what that promises: the per-coordinate workaround's bits (Independent), the
two backends agreeing on the same samples, the same bits for 1 and 2
threads, closed-form and enumerated gradients within 4.5 standard errors
for every estimator that applies, and quadrature for a transformed family.
"""

import itertools

import numpy as np
import pytest
from scipy import integrate, special, stats

import fastscore as fs

Z = 4.5
D = 31
LOC = np.linspace(-1.0, 1.0, D)
SCALE = np.linspace(0.5, 2.0, D)


def sum_sq(x):
    return x.sum(axis=-1) ** 2


def sum_sq_grad(x):
    return np.repeat(2.0 * x.sum(axis=-1)[..., None], x.shape[-1], axis=-1)


def normal_truth(loc, scale):
    """E[(sum x)^2] and its gradient for independent Normals."""
    value = loc.sum() ** 2 + (scale ** 2).sum()
    return value, {"loc": np.full_like(loc, 2.0 * loc.sum()), "scale": 2.0 * scale}


def assert_within(est, truth, z=Z):
    for nm, g in truth.items():
        zs = np.abs(est.grad[nm] - g) / est.stderr[nm]
        assert np.all(zs < z), (nm, zs.max())


# ------------------------------------------------------------- Independent
@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("method", ["plain", "rloo", "cv"])
def test_independent_gives_the_bits_of_f_copied_onto_every_coordinate(backend, method):
    d = fs.Independent(fs.Normal(LOC, SCALE), 1)
    base = fs.Normal(LOC, SCALE)
    est = fs.estimate(d, sum_sq, n=3000, rng=1, method=method, backend=backend)
    by_hand = fs.estimate(base, lambda x: np.repeat(sum_sq(x)[:, None], D, axis=1), n=3000,
                          rng=1, method=method, backend=backend)
    for nm in ("loc", "scale"):
        assert np.array_equal(est.grad[nm], by_hand.grad[nm])
        assert np.array_equal(est.stderr[nm], by_hand.stderr[nm])
    # one value of E[f] per joint sample, not D copies of it
    assert np.shape(est.value) == ()
    assert est.value == by_hand.value[0] and est.value_stderr == by_hand.value_stderr[0]


def test_independent_shapes_and_samples():
    d = fs.Independent(fs.Normal(np.zeros((2, 3, 4)), 1.0), 2)
    assert d.batch_shape == (2,) and d.event_shape == (3, 4)
    x = fs.sample(d, 5, rng=0)
    assert x.shape == (5, 2, 3, 4)
    assert np.array_equal(x, fs.sample(fs.Normal(np.zeros((2, 3, 4)), 1.0), 5, rng=0))
    assert np.array_equal(x, fs.sample(d, 5, rng=0, backend="reference"))
    est = fs.estimate(d, lambda x: x.sum(axis=(-2, -1)), n=64, rng=0)
    assert np.shape(est.value) == (2,) and est.grad["loc"].shape == (2, 3, 4)
    s = fs.score(d, x)
    assert s["scale"].shape == (5, 2, 3, 4)
    lp = d.log_prob(x)
    assert lp.shape == (5, 2)
    np.testing.assert_allclose(lp, stats.norm(0.0, 1.0).logpdf(x).sum(axis=(-2, -1)))
    # nested Independent: the dimensions add up
    dd = fs.Independent(fs.Independent(fs.Normal(np.zeros((2, 3, 4)), 1.0), 1), 1)
    assert dd.batch_shape == (2,) and dd.event_shape == (3, 4)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("estimator,kw", [
    ("score", {"method": "plain"}), ("score", {"method": "baseline", "baseline": 20.0}),
    ("score", {"method": "rloo"}), ("score", {"method": "cv"}),
    ("pathwise", {"grad_f": sum_sq_grad}), ("measure", {})])
def test_independent_normal_closed_form(backend, estimator, kw):
    loc, scale = LOC[:6], SCALE[:6]
    d = fs.Independent(fs.Normal(loc, scale), 1)
    est = fs.estimate(d, sum_sq, n=20000, rng=5, estimator=estimator, backend=backend, **kw)
    value, grad = normal_truth(loc, scale)
    assert abs(est.value - value) < Z * est.value_stderr
    assert_within(est, grad)


@pytest.mark.parametrize("estimator,kw", [
    ("score", {"method": "rloo"}), ("pathwise", {"grad_f": sum_sq_grad}), ("measure", {})])
def test_independent_compiled_equals_reference_and_threads(estimator, kw):
    d = fs.Independent(fs.Normal(LOC[:5].reshape(1, 5), SCALE[:5]), 1)
    runs = {(be, nt): fs.estimate(d, sum_sq, n=fs.CHUNK_SIZE + 77, rng=3, estimator=estimator,
                                  backend=be, n_threads=nt, **kw)
            for be, nt in (("compiled", 1), ("compiled", 2), ("reference", 1))}
    one, two, ref = runs[("compiled", 1)], runs[("compiled", 2)], runs[("reference", 1)]
    for nm in ("loc", "scale"):
        assert np.array_equal(one.grad[nm], two.grad[nm])
        assert np.array_equal(one.stderr[nm], two.stderr[nm])
        np.testing.assert_allclose(one.grad[nm], ref.grad[nm], rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(one.stderr[nm], ref.stderr[nm], rtol=1e-11)


def _bernoulli_truth(f, p):
    """E[f] over independent Bernoulli(p) by enumeration, and d/dp by exact differences."""
    K = len(p)
    xs = np.array(list(itertools.product([0, 1], repeat=K)), dtype=float)
    w = np.prod(np.where(xs == 1, p, 1 - p), axis=1)
    fx = f(xs)
    grad = np.empty(K)
    for j in range(K):
        others = np.prod(np.where(xs == 1, p, 1 - p)[:, np.arange(K) != j], axis=1)
        grad[j] = np.sum(others * fx * np.where(xs[:, j] == 1, 1.0, -1.0))
    return float(w @ fx), grad


P = np.array([0.15, 0.5, 0.7, 0.35, 0.9, 0.6])


def bern_f(x):
    return (x.sum(axis=-1) - 2.5) ** 2


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("estimator,param", [("score", "probs"), ("score", "logits"),
                                             ("arm", "logits"), ("disarm", "logits"),
                                             ("rebar", "logits")])
def test_independent_bernoulli_against_enumeration(backend, estimator, param):
    value, g = _bernoulli_truth(bern_f, P)
    base = (fs.Bernoulli(probs=P) if param == "probs"
            else fs.Bernoulli(logits=special.logit(P)))
    d = fs.Independent(base, 1)
    kw = {"method": "rloo"} if estimator == "score" else {}
    if estimator == "rebar":
        kw["grad_f"] = lambda x: np.repeat(2.0 * (x.sum(axis=-1) - 2.5)[..., None], 6, axis=-1)
    est = fs.estimate(d, bern_f, n=20000, rng=11, estimator=estimator, backend=backend, **kw)
    exact = g if param == "probs" else g * P * (1 - P)
    assert abs(est.value - value) < Z * est.value_stderr
    assert np.all(np.abs(est.grad[param] - exact) < Z * est.stderr[param])


def test_independent_bernoulli_compiled_equals_reference():
    d = fs.Independent(fs.Bernoulli(logits=special.logit(P)), 1)
    for estimator in ("score", "disarm"):
        a = fs.estimate(d, bern_f, n=5000, rng=2, estimator=estimator)
        b = fs.estimate(d, bern_f, n=5000, rng=2, estimator=estimator, backend="reference")
        c = fs.estimate(d, bern_f, n=5000, rng=2, estimator=estimator, n_threads=2)
        np.testing.assert_allclose(a.grad["logits"], b.grad["logits"], rtol=1e-11, atol=1e-14)
        assert np.array_equal(a.grad["logits"], c.grad["logits"])


def test_independent_categorical_against_enumeration():
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.25, 0.25, 0.5]])
    vals = np.array([0.0, 1.0, 3.0])

    def f(x):
        return vals[x].sum(axis=-1) ** 2

    xs = np.array(list(itertools.product(range(3), repeat=3)))
    w = np.prod(probs[np.arange(3), xs], axis=1)
    fx = f(xs)
    # d/dlogits_jk E f = E[f (1[x_j = k] - p_jk)]
    onehot = (xs[:, :, None] == np.arange(3)).astype(float)
    exact = np.einsum("s,s,sjk->jk", w, fx, onehot - probs[None])
    d = fs.Independent(fs.Categorical(logits=np.log(probs)), 1)
    for backend in ("compiled", "reference"):
        est = fs.estimate(d, f, n=20000, rng=4, method="rloo", backend=backend)
        assert abs(est.value - w @ fx) < Z * est.value_stderr
        assert np.all(np.abs(est.grad["logits"] - exact) < Z * est.stderr["logits"])


def test_independent_concrete_runs_on_the_relaxation():
    d = fs.Independent(fs.Bernoulli(logits=special.logit(P)), 1)
    est = fs.estimate(d, bern_f, n=2000, rng=0, estimator="concrete", temperature=0.5,
                      grad_f=lambda x: np.repeat(2.0 * (x.sum(-1) - 2.5)[..., None], 6, -1))
    ref = fs.estimate(d, bern_f, n=2000, rng=0, estimator="concrete", temperature=0.5,
                      backend="reference",
                      grad_f=lambda x: np.repeat(2.0 * (x.sum(-1) - 2.5)[..., None], 6, -1))
    np.testing.assert_allclose(est.grad["logits"], ref.grad["logits"], rtol=1e-11)
    x = fs.sample(d.relaxation(0.5), 3, rng=0)
    assert x.shape == (3, 6) and np.all((x > 0) & (x < 1))


def test_independent_precision_target_continues_the_streams():
    d = fs.Independent(fs.Normal(LOC[:4], SCALE[:4]), 1)
    est = fs.estimate(d, sum_sq, n=fs.CHUNK_SIZE, rng=0, method="rloo", rtol=0.05, atol=0.05)
    assert est.converged
    full = fs.estimate(d, sum_sq, n=est.n, rng=0, method="rloo")
    assert np.array_equal(est.grad["loc"], full.grad["loc"])


def test_independent_estimate_from_samples_matches_estimate():
    d = fs.Independent(fs.Normal(LOC[:4], SCALE[:4]), 1)
    x = fs.sample(d, 500, rng=9)
    a = fs.estimate_from_samples(d, x, sum_sq(x), method="rloo")
    b = fs.estimate(d, sum_sq, n=500, rng=9, method="rloo")
    np.testing.assert_allclose(a.grad["scale"], b.grad["scale"], rtol=1e-11)
    np.testing.assert_allclose(a.stderr["scale"], b.stderr["scale"], rtol=1e-11)


# ------------------------------------------------------------------ Joint
def joint_normal_gamma():
    return fs.Joint({"a": fs.Normal(1.0, 1.0), "b": fs.Gamma(2.0, 1.5)})


def ab(x):
    return x["a"] * x["b"]


AB_TRUTH = {"a": {"loc": 2.0 / 1.5, "scale": 0.0},
            "b": {"concentration": 1.0 / 1.5, "rate": -2.0 / 1.5 ** 2}}


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("estimator,kw", [
    ("score", {"method": "rloo"}), ("score", {"method": "cv"}),
    ("pathwise", {"grad_f": lambda x: {"a": x["b"], "b": x["a"]}})])
def test_joint_normal_gamma_closed_form(backend, estimator, kw):
    est = fs.estimate(joint_normal_gamma(), ab, n=100000, rng=0, estimator=estimator,
                      backend=backend, **kw)
    assert abs(est.value - 1.0 * 2.0 / 1.5) < Z * est.value_stderr
    for part, grads in AB_TRUTH.items():
        for nm, g in grads.items():
            assert abs(est.grad[part][nm] - g) < Z * est.stderr[part][nm], (part, nm)


def test_joint_backends_threads_and_samples():
    d = joint_normal_gamma()
    a = fs.estimate(d, ab, n=fs.CHUNK_SIZE + 5, rng=1, method="rloo")
    b = fs.estimate(d, ab, n=fs.CHUNK_SIZE + 5, rng=1, method="rloo", backend="reference")
    c = fs.estimate(d, ab, n=fs.CHUNK_SIZE + 5, rng=1, method="rloo", n_threads=2)
    for part in ("a", "b"):
        for nm in a.grad[part]:
            assert np.array_equal(a.grad[part][nm], b.grad[part][nm])
            assert np.array_equal(a.grad[part][nm], c.grad[part][nm])
    x = fs.sample(d, 7, rng=3)
    assert sorted(x) == ["a", "b"] and x["b"].shape == (7,)
    # the first part draws what it draws alone; the others from their own keys
    assert np.array_equal(x["a"], fs.sample(fs.Normal(1.0, 1.0), 7, rng=3))
    assert not np.array_equal(x["b"], fs.sample(fs.Gamma(2.0, 1.5), 7, rng=3))
    ref = fs.sample(d, 7, rng=3, backend="reference")
    assert all(np.array_equal(x[k], ref[k]) for k in x)
    np.testing.assert_allclose(d.log_prob(x), stats.norm(1, 1).logpdf(x["a"])
                               + stats.gamma(2.0, scale=1 / 1.5).logpdf(x["b"]))
    s = fs.score(d, x)
    np.testing.assert_allclose(s["a"]["loc"], x["a"] - 1.0)
    e = fs.estimate_from_samples(d, x, ab(x), method="rloo")
    assert sorted(e.grad["b"]) == ["concentration", "rate"]


def test_joint_with_an_independent_part():
    w = fs.Independent(fs.Normal(np.zeros(3), 1.0), 1)
    d = fs.Joint({"w": w, "tau": fs.Gamma(3.0, 1.0)})

    def f(x):   # E = E[tau] E[sum w^2] = 3 * 3
        return x["tau"] * (x["w"] ** 2).sum(axis=-1)

    est = fs.estimate(d, f, n=100000, rng=2, method="rloo")
    assert est.grad["w"]["scale"].shape == (3,)
    assert np.all(np.abs(est.grad["w"]["scale"] - 2.0 * 3.0) < Z * est.stderr["w"]["scale"])
    assert abs(est.grad["tau"]["concentration"] - 3.0) < Z * est.stderr["tau"]["concentration"]


# ------------------------------------------------------------ Transformed
def _tanh_sq_truth(mu, s):
    def E(m, sd):
        return integrate.quad(lambda z: np.tanh(m + sd * z) ** 2 * stats.norm.pdf(z), -14, 14,
                              epsabs=1e-13, epsrel=1e-12)[0]
    h = 1e-5
    return E(mu, s), {"loc": (E(mu + h, s) - E(mu - h, s)) / (2 * h),
                      "scale": (E(mu, s + h) - E(mu, s - h)) / (2 * h)}


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("estimator,kw", [("score", {"method": "rloo"}),
                                          ("pathwise", {"grad_f": lambda y: 2.0 * y}),
                                          ("measure", {})])
def test_transformed_tanh_against_quadrature(backend, estimator, kw):
    d = fs.TransformedDistribution(fs.Normal(0.3, 0.8), [fs.transforms.TanhTransform()])
    est = fs.estimate(d, lambda y: y ** 2, n=100000, rng=0, estimator=estimator,
                      backend=backend, **kw)
    value, grad = _tanh_sq_truth(0.3, 0.8)
    assert abs(est.value - value) < Z * est.value_stderr
    assert_within(est, grad)


def test_transformed_log_prob_sample_and_score():
    d = fs.TransformedDistribution(fs.Normal(0.2, 0.7), fs.transforms.ExpTransform())
    y = fs.sample(d, 6, rng=0)
    np.testing.assert_array_equal(y, np.exp(fs.sample(fs.Normal(0.2, 0.7), 6, rng=0)))
    ln = fs.LogNormal(0.2, 0.7)
    np.testing.assert_allclose(d.log_prob(y), ln.log_prob(y), rtol=1e-12)
    for nm, s in fs.score(d, y).items():
        np.testing.assert_allclose(s, fs.score(ln, y)[nm], rtol=1e-12)
    # tanh far in the tail: log|dy/dx| stays finite where 1 - tanh^2 underflows
    t = fs.transforms.TanhTransform()
    x = np.array([0.0, 5.0, -30.0, 400.0])
    ladj = t.log_abs_det_jacobian(x)
    assert np.all(np.isfinite(ladj))
    np.testing.assert_allclose(ladj[:2], np.log(1 - np.tanh(x[:2]) ** 2), rtol=1e-12)
    np.testing.assert_allclose(ladj[2:], 2 * np.log(2) - 2 * np.abs(x[2:]), rtol=1e-12)
    # squashed Gaussian with an action bound, on an Independent
    sq = fs.TransformedDistribution(fs.Independent(fs.Normal(np.zeros(2), 1.0), 1),
                                    [fs.transforms.TanhTransform(),
                                     fs.transforms.AffineTransform(0.0, 2.0)])
    a = fs.sample(sq, 100, rng=1)
    assert a.shape == (100, 2) and np.all(np.abs(a) < 2.0)
    xs = np.arctanh(a / 2.0)
    np.testing.assert_allclose(sq.log_prob(a), (stats.norm.logpdf(xs)
                                                - np.log(2.0 * (1 - np.tanh(xs) ** 2))).sum(-1),
                               rtol=1e-10)


# ----------------------------------------------------------------- errors
def test_clear_errors():
    n2 = fs.Normal(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        fs.Independent(n2, 2)
    with pytest.raises(TypeError, match="reinterpreted_batch_ndims"):
        fs.Independent(n2, 1.0)
    with pytest.raises(ValueError, match="same batch_shape"):
        fs.Joint({"a": n2, "b": fs.Normal(0.0, 1.0)})
    with pytest.raises(TypeError, match="dict"):
        fs.estimate(fs.Joint({"a": n2}), fs.fn.power(2), n=10, rng=0)
    with pytest.raises(ValueError, match="continuous"):
        fs.TransformedDistribution(fs.Poisson(2.0), fs.transforms.ExpTransform())
    with pytest.raises(ValueError, match="broadcast"):
        fs.TransformedDistribution(n2, fs.transforms.AffineTransform(np.zeros(3), 1.0))
    with pytest.raises(NotImplementedError, match="entropy"):
        fs.TransformedDistribution(n2, fs.transforms.ExpTransform()).entropy()
    with pytest.raises(NotImplementedError, match="measure"):
        fs.estimate(fs.Independent(fs.Bernoulli(probs=[0.5, 0.5]), 1), lambda x: x.sum(-1),
                    n=10, rng=0, estimator="measure")
    with pytest.raises(ValueError, match="shape"):
        fs.estimate(fs.Independent(n2, 1), lambda x: x, n=10, rng=0)   # one value per sample
    with pytest.raises(ValueError, match="outside"):
        fs.score(fs.TransformedDistribution(fs.Normal(0.0, 1.0), fs.transforms.TanhTransform()),
                 [1.5])


# ------------------------------------------- the inline loop of an Independent
A40 = np.linspace(-1.0, 2.0, 40)


def linear_by_hand(x):
    """fastscore.fn.linear(A40, 0.7) in Python, the additions in the same order."""
    acc = np.zeros(x.shape[:-1])
    for e in range(x.shape[-1]):
        acc = acc + A40[e] * x[..., e]
    return acc + 0.7


@pytest.mark.parametrize("base", [fs.Normal(np.zeros((3, 40)), 1.5),
                                  fs.Exponential(np.linspace(1.0, 2.0, 40)),
                                  fs.Gamma(2.0, np.ones(40)), fs.LogNormal(0.1, np.full(40, 0.5)),
                                  fs.Poisson(np.linspace(0.5, 9.0, 40))],
                         ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("estimator", ["score", "pathwise"])
def test_inline_joint_f_gives_the_bits_of_the_python_path(base, estimator):
    """A built-in f of the whole event runs in the kernels (_grouped.pxi): the same sums
    as a Python f handed to every coordinate, for 1 and 2 threads and across waves."""
    if estimator == "pathwise" and "pathwise" not in base.plan().slots:
        pytest.skip("no reparameterisation")
    d = fs.Independent(base, 1)
    n = 2 * fs.CHUNK_SIZE + 300
    kw = {} if estimator == "score" else {"grad_f": lambda x: np.broadcast_to(A40, x.shape)}
    py = fs.estimate(d, linear_by_hand, n=n, rng=4, estimator=estimator, **kw)
    for nt in (1, 2):
        inline = fs.estimate(d, fs.fn.linear(A40, 0.7), n=n, rng=4, estimator=estimator,
                             n_threads=nt)
        assert np.array_equal(inline.value, py.value)
        for nm in py.grad:
            assert np.array_equal(inline.grad[nm], py.grad[nm]), nm
            assert np.array_equal(inline.stderr[nm], py.stderr[nm]), nm
    ref = fs.estimate(d, fs.fn.linear(A40, 0.7), n=n, rng=4, estimator=estimator,
                      backend="reference")
    for nm in py.grad:
        np.testing.assert_allclose(ref.grad[nm], py.grad[nm], rtol=1e-11, atol=1e-12)
    # waves of a precision target continue the streams and rows
    with pytest.warns(RuntimeWarning, match="max_n"):
        waved = fs.estimate(d, fs.fn.linear(A40, 0.7), n=fs.CHUNK_SIZE, rng=4,
                            estimator=estimator, rtol=1e-9, max_n=n + fs.CHUNK_SIZE)
    whole = fs.estimate(d, fs.fn.linear(A40, 0.7), n=waved.n, rng=4, estimator=estimator)
    assert np.array_equal(waved.grad[nm], whole.grad[nm])


def test_inline_joint_lowlevel_f():
    import ctypes
    from scipy import LowLevelCallable

    proto = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                             ctypes.c_ssize_t, ctypes.c_void_p)

    def sum_sq_c(x, E, b, user_data):
        s = 0.0
        for e in range(E):
            s += x[e]
        return s * s

    cb = proto(sum_sq_c)
    llc = LowLevelCallable(cb)
    loc, scale = LOC[:5], SCALE[:5]
    d = fs.Independent(fs.Normal(loc, scale), 1)
    est = fs.estimate(d, llc, n=20000, rng=6, method="rloo", n_threads=1)
    py = fs.estimate(d, sum_sq, n=20000, rng=6, method="rloo")
    np.testing.assert_allclose(est.grad["scale"], py.grad["scale"], rtol=1e-12)
    assert_within(est, normal_truth(loc, scale)[1])


def test_measure_on_a_large_independent_warns_of_its_cost():
    d = fs.Independent(fs.Normal(np.zeros(40), 1.0), 1)
    with pytest.warns(RuntimeWarning, match="161 times per sample"):
        fs.estimate(d, lambda x: x.sum(-1), n=4, rng=0, estimator="measure")


@pytest.mark.parametrize("estimator", ["arm", "disarm"])
def test_arm_and_disarm_are_multivariate_on_an_independent(estimator):
    """Their antithetic points are whole vectors: 3 evaluations of f per sample (the
    sample and the pair), whatever the number of coordinates."""
    rows = []

    def f(x):
        rows.append(x.shape[0])
        return bern_f(x)

    d = fs.Independent(fs.Bernoulli(logits=special.logit(P)), 1)
    fs.estimate(d, f, n=1000, rng=0, estimator=estimator)
    assert sum(rows) == 3 * 1000
    rows.clear()
    fs.estimate(fs.Independent(fs.Normal(np.zeros(6), 1.0), 1), f, n=1000, rng=0,
                estimator="measure")
    assert sum(rows) == (1 + 4 * 6) * 1000


def test_messages_name_the_composed_transform():
    sq = fs.TransformedDistribution(fs.Normal(0.0, 1.0), [fs.transforms.TanhTransform(),
                                                          fs.transforms.AffineTransform(0.0, 2.0)])
    with pytest.raises(ValueError, match="outside the image of.*TanhTransform.*Affine"):
        fs.score(sq, [2.0])


def test_entropy_of_independent_and_joint():
    base = fs.Normal(np.array([[0.0, 1.0, 2.0], [0.5, 0.5, 0.5]]), np.array([0.5, 1.0, 2.0]))
    d = fs.Independent(base, 1)
    h, g = d.entropy(grad=True)
    np.testing.assert_allclose(h, base.entropy().sum(axis=-1), rtol=1e-14)
    _, gb = base.entropy(grad=True)
    assert g["scale"].shape == (2, 3) and np.array_equal(g["scale"], gb["scale"])
    j = fs.Joint({"w": d, "tau": fs.Gamma(np.array([2.0, 3.0]), 1.0)})
    hj, gj = j.entropy(grad=True)
    np.testing.assert_allclose(hj, h + fs.Gamma(np.array([2.0, 3.0]), 1.0).entropy(), rtol=1e-14)
    assert sorted(gj) == ["tau", "w"] and gj["tau"]["rate"].shape == (2,)


@pytest.mark.parametrize("method", ["rloo", "cv"])
def test_inline_joint_f_with_every_method(method):
    """cv's cross-fitted rows run through the Python-f path's regrouping, fold by fold:
    the same numbers as a Python f, and unbiased."""
    d = fs.Independent(fs.Normal(LOC[:6], SCALE[:6]), 1)
    a = fs.estimate(d, fs.fn.linear(A40[:6], 0.7), n=3000, rng=1, method=method)
    b = fs.estimate(d, lambda x: linear_by_hand6(x), n=3000, rng=1, method=method)
    for nm in ("loc", "scale"):
        np.testing.assert_allclose(a.grad[nm], b.grad[nm], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a.stderr[nm], b.stderr[nm], rtol=1e-12)
    # d/dscale_i E[a . x + b] = 0, d/dloc_i = a_i
    assert np.all(np.abs(a.grad["loc"] - A40[:6]) < Z * a.stderr["loc"])


def linear_by_hand6(x):
    acc = np.zeros(x.shape[:-1])
    for e in range(x.shape[-1]):
        acc = acc + A40[e] * x[..., e]
    return acc + 0.7


def test_covariance_of_an_independent():
    """cov=True on an Independent: the covariance of its components, its diagonal the
    stderr^2, and stderr_of a chained sum agreeing with the per-sample terms."""
    d = fs.Independent(fs.Normal(LOC[:4], SCALE[:4]), 1)
    est = fs.estimate(d, sum_sq, n=4000, rng=3, method="rloo", cov=True)
    assert est.cov.shape == (8, 8)
    se = np.concatenate([est.stderr["loc"], est.stderr["scale"]])
    np.testing.assert_allclose(np.diag(est.cov), se ** 2, rtol=1e-12)
    # the sum of the loc gradients: from the rloo terms of the same samples
    x = fs.sample(d, 4000, rng=3)
    fx = sum_sq(x)
    t = (4000 / 3999) * (fx - fx.mean())[:, None] * (x - LOC[:4]) / SCALE[:4] ** 2
    g = t.sum(axis=1)
    n = 4000
    var = ((n - 1) * np.mean(g * g) - (n - 2) * g.mean() ** 2) / (n * n - 2 * n + 2)
    np.testing.assert_allclose(est.stderr_of({"loc": 1.0}), np.sqrt(var), rtol=1e-9)
    j = fs.estimate(fs.Joint({"a": fs.Normal(1.0, 1.0), "b": fs.Gamma(2.0, 1.5)}),
                    lambda x: x["a"] * x["b"], n=2000, rng=0, cov=True)
    assert j.cov.shape == (4, 4)
    assert np.isclose(j.stderr_of({"a": {"loc": 1.0}}), j.stderr["a"]["loc"])


def test_review_findings_stay_fixed():
    """A one-number low-level f on an Independent of one coordinate takes the Python
    path on both backends (the grouped loop evaluates only fn.linear and whole-event
    low-level f); cov=True with cv on a Joint; MultivariateNormal's measure-valued
    estimator refuses cov=True; the warning counts what the measure kinds evaluate."""
    import ctypes
    from scipy import LowLevelCallable

    cos = ctypes.CDLL(None).cos
    cos.restype, cos.argtypes = ctypes.c_double, [ctypes.c_double]
    llc = LowLevelCallable(ctypes.cast(cos, ctypes.CFUNCTYPE(ctypes.c_double,
                                                             ctypes.c_double)))
    d = fs.Independent(fs.Normal(loc=np.zeros((3, 1)), scale=1.0), 1)
    a = fs.estimate(d, llc, n=1000, rng=0)
    b = fs.estimate(d, llc, n=1000, rng=0, backend="reference")
    np.testing.assert_allclose(a.grad["scale"], b.grad["scale"], rtol=1e-10)
    j = fs.estimate(fs.Joint({"a": fs.Normal(np.zeros(2), 1.0), "b": fs.Poisson(np.ones(2))}),
                    lambda x: x["a"] * x["b"], n=50, rng=0, method="cv", cov=True)
    assert j.cov.shape == (2, 3, 3)
    with pytest.raises(NotImplementedError, match="cov=True"):
        fs.estimate(fs.MultivariateNormal(np.zeros(2), np.eye(2)), lambda x: x.sum(-1), n=10,
                    rng=0, estimator="measure", cov=True)
    from fastscore import _kinds, _wrapped
    mvn = fs.MultivariateNormal(np.zeros(10), np.eye(10)).plan()
    assert _wrapped.evaluations_per_sample(_kinds.KINDS["measure"], mvn) == 1 + 10 + 200
    assert _wrapped.evaluations_per_sample(_kinds.KINDS["vimco"], d.plan()) == 1
