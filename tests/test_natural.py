"""est.natural_grad and est.natural_stderr: the natural gradient F^+ grad and its error.

* Against a dense reference on every family-parameterisation of tests/cases.py:
  numpy.linalg.pinv(d.fisher()) @ grad and sqrt(diag(K cov K)), K that pinv.
* Closed forms, within 4.5 standard errors: for an exponential family and f
  linear in the sufficient statistic, f = c . T(x), the gradient is J^T Cov(T) c
  and F = J^T Cov(T) J, so the natural gradient is J^-1 c (J = d eta / d theta,
  from the natural parameters eta written here, differentiated numerically);
  Normal's E[x^2]: (2 loc scale^2, scale^3); MultivariateNormal's E[a . x]:
  (Sigma a, 0).
* The pseudo-inverse where F is singular (Categorical): the minimum-norm
  solution, in F's row space (the logits' sums to 0, the probs' is orthogonal to
  them), F x = grad; near-deterministic categories too.
* damping: (F + lam I)^-1 grad, per batch element, and its errors.
* Independent and Joint: nested like grad, block by block; blocks of very
  different scales.
* natural_stderr is honest: the spread of natural_grad over independent batch
  elements matches it.
"""

import math

import numpy as np
import pytest
from scipy import special

import fastscore as fs
from cases import CASES

FAMILIES = [c for c in CASES if not c.name.startswith("Relaxed")]
FIRST3 = np.array([0, 1, 2])


def _flat(grad, B):
    """A (nested) gradient dict -> (B, Q), its entries in order."""
    parts = [(_flat(g, B) if isinstance(g, dict) else np.asarray(g).reshape(B, -1))
             for g in grad.values()]
    return np.concatenate(parts, axis=1)


def _packed(d, B):
    """The mask of est.components that are gradient components (scale_tril: lower)."""
    return fs._natural._packed_columns(d.plan().params)


def dense_reference(d, est, damping=0.0):
    """(natural gradient, natural stderr), both (B, Q) over est.components, by numpy's pinv."""
    B = int(np.prod(d.batch_shape, dtype=np.int64))
    keep = _packed(d, B)
    F = d.fisher().reshape(B, keep.sum(), keep.sum())
    lam = np.broadcast_to(np.asarray(damping, float), tuple(d.batch_shape)).reshape(B)
    g = _flat(est.grad, B)
    nat = np.zeros_like(g)
    se = np.zeros_like(g)
    cov = None if est.cov is None else est.cov.reshape((B,) + est.cov.shape[-2:])
    for b in range(B):
        A = F[b] + lam[b] * np.eye(F.shape[-1])
        K = np.linalg.pinv(A, rcond=1e-12, hermitian=True)
        nat[b, keep] = K @ g[b, keep]
        if cov is not None:
            se[b, keep] = np.sqrt(np.diag(K @ cov[b][np.ix_(keep, keep)] @ K))
    return nat, se


def assert_close(a, b, rtol, what):
    scale = np.abs(b).max(axis=-1, keepdims=True)
    bad = np.abs(a - b) > rtol * scale + 1e-300
    assert not bad.any(), "%s: %s against %s" % (what, a[bad], b[bad])


# ---------------------------------------------------------------- dense reference
@pytest.mark.parametrize("case", FAMILIES, ids=lambda c: c.name)
def test_natural_grad_and_stderr_equal_the_dense_pseudo_inverse(case):
    d = case.make((3,), index=FIRST3)
    f = case.truths[0].f("python", (3,), FIRST3)
    est = fs.estimate(d, f, n=4000, rng=5, method="rloo", cov=True)
    assert list(est.natural_grad) == list(est.grad)
    for k in est.grad:
        assert est.natural_grad[k].shape == est.grad[k].shape
        assert est.natural_stderr[k].shape == est.stderr[k].shape
    nat, se = dense_reference(d, est)
    assert_close(_flat(est.natural_grad, 3), nat, 1e-9, "natural_grad")
    assert_close(_flat(est.natural_stderr, 3), se, 1e-9, "natural_stderr")
    # cached: the same objects on a second look
    assert est.natural_grad is est.natural_grad


# ------------------------------------------------- closed forms: f = c . T(x)
def _softplus(x):
    return np.logaddexp(0.0, x)


#: per family: (the parameters in the score's order, eta(theta) of one element,
#: T(x) of samples (m, B) -> (m, B, k), c)
def _model(name, by):
    lin = lambda x: x[..., None]   # noqa: E731 - T(x) = x
    if name == "Normal":
        return (["loc", "scale"], lambda t: np.array([t[0] / t[1] ** 2, -0.5 / t[1] ** 2]),
                lambda x: np.stack([x, x * x], -1), np.array([0.5, 1.0]))
    if name == "LogNormal":
        return (["loc", "scale"], lambda t: np.array([t[0] / t[1] ** 2, -0.5 / t[1] ** 2]),
                lambda x: np.stack([np.log(x), np.log(x) ** 2], -1), np.array([1.0, -0.5]))
    if name == "Exponential":
        return ["rate"], lambda t: -t, lin, np.array([1.0])
    if name == "Gamma":
        return (["concentration", "rate"], lambda t: np.array([t[0] - 1.0, -t[1]]),
                lambda x: np.stack([np.log(x), x], -1), np.array([1.0, 0.3]))
    if name == "Beta":
        return (["concentration1", "concentration0"], lambda t: t - 1.0,
                lambda x: np.stack([np.log(x), np.log1p(-x)], -1), np.array([1.0, -2.0]))
    if name == "Chi2":
        return ["df"], lambda t: 0.5 * t - 1.0, lambda x: np.log(x)[..., None], np.array([1.0])
    if name == "VonMises":
        return (["loc", "concentration"],
                lambda t: np.array([t[1] * np.cos(t[0]), t[1] * np.sin(t[0])]),
                lambda x: np.stack([np.cos(x), np.sin(x)], -1), np.array([1.0, 0.5]))
    if name == "Poisson":
        return ["rate"], np.log, lin, np.array([1.0])
    if name in ("Bernoulli", "Binomial"):
        eta = (lambda t: special.logit(t)) if by == "probs" else (lambda t: t)
        return [by], eta, lin, np.array([1.0])
    if name == "Geometric":
        eta = (lambda t: np.log1p(-t)) if by == "probs" else (lambda t: -_softplus(t))
        return [by], eta, lin, np.array([1.0])
    if name == "NegativeBinomial":
        eta = (lambda t: np.log(t)) if by == "probs" else (lambda t: -_softplus(-t))
        return [by], eta, lin, np.array([1.0])
    return None


LINEAR = [c for c in FAMILIES
          if _model(c.name.split("(")[0], "probs" if "probs" in c.elements[0] else "logits")]


@pytest.mark.parametrize("case", LINEAR, ids=lambda c: c.name)
def test_natural_gradient_of_a_linear_statistic_is_the_inverse_jacobian(case):
    name = case.name.split("(")[0]
    by = "probs" if "probs" in case.elements[0] else "logits"
    names, eta, T, c = _model(name, by)
    d = case.make((3,), index=FIRST3)
    est = fs.estimate(d, lambda x: T(x) @ c, n=200_000, rng=11, method="rloo", cov=True)
    for b in range(3):
        e = case.element(int(FIRST3[b]))
        t0 = np.array([float(e[k]) for k in names])
        J = np.empty((len(names), len(names)))
        for j in range(len(names)):
            h = 1e-6 * max(1.0, abs(t0[j]))
            up, dn = t0.copy(), t0.copy()
            up[j] += h
            dn[j] -= h
            J[:, j] = (eta(up) - eta(dn)) / (2 * h)
        truth = np.linalg.solve(J, c)
        for k, want in zip(names, truth):
            got, se = est.natural_grad[k][b], est.natural_stderr[k][b]
            assert abs(got - want) < 4.5 * se + 1e-6 * abs(want), (case.name, b, k, got, want, se)


def test_normal_natural_gradient_of_the_second_moment():
    loc = np.array([1.0, -0.5, 2.0])
    scale = np.array([2.0, 0.3, 1.0])
    d = fs.Normal(loc, scale)
    for kw in (dict(method="rloo"), dict(method="cv"), dict(estimator="pathwise")):
        est = fs.estimate(d, fs.fn.power(2), n=200_000, rng=3, cov=True, **kw)
        ng, se = est.natural_grad, est.natural_stderr
        assert np.all(np.abs(ng["loc"] - 2 * loc * scale ** 2) < 4.5 * se["loc"]), kw
        assert np.all(np.abs(ng["scale"] - scale ** 3) < 4.5 * se["scale"]), kw


def test_multivariate_normal_natural_gradient_of_a_linear_function():
    L = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])
    a = np.array([1.0, -2.0, 0.5])
    d = fs.MultivariateNormal(np.array([0.5, -1.0, 2.0]), L)
    est = fs.estimate(d, fs.fn.linear(a), n=200_000, rng=2, method="cv", cov=True)
    ng, se = est.natural_grad, est.natural_stderr
    assert np.all(np.abs(ng["loc"] - L @ L.T @ a) < 4.5 * se["loc"])
    assert np.all(np.abs(ng["scale_tril"]) < 4.5 * se["scale_tril"] + 1e-300)
    np.testing.assert_array_equal(np.triu(ng["scale_tril"], 1), 0.0)
    np.testing.assert_array_equal(np.triu(se["scale_tril"], 1), 0.0)


# --------------------------------------------------- the singular Categorical
def test_categorical_logits_minimum_norm_solution():
    c = np.array([1.0, 0.0, 0.5, -1.0])
    logits = np.array([[0.2, -0.5, 1.0, 0.0], [3.0, 0.0, -2.0, 1.0]])
    d = fs.Categorical(logits=logits)
    est = fs.estimate(d, fs.fn.table(c), n=100_000, rng=4, method="rloo", cov=True)
    ng, se = est.natural_grad["logits"], est.natural_stderr["logits"]
    F = d.fisher()
    for b in range(2):
        assert abs(ng[b].sum()) < 1e-13                        # in F's row space: ones-free
        np.testing.assert_allclose(F[b] @ ng[b], est.grad["logits"][b], rtol=1e-10,
                                   atol=1e-13)                 # solves F x = grad
        lst = np.linalg.lstsq(F[b], est.grad["logits"][b], rcond=1e-12)[0]
        np.testing.assert_allclose(ng[b], lst, rtol=1e-9, atol=1e-12)   # minimum norm
    # the closed form: F (c - t 1) = p (c - E f) for every t; the minimum norm is t = mean c
    assert np.all(np.abs(ng - (c - c.mean())) < 4.5 * se)


def test_categorical_probs_minimum_norm_solution():
    c = np.array([1.0, 0.0, 0.5, -1.0])
    w = np.array([[1.0, 2.0, 3.0, 0.5], [0.1, 0.3, 0.6, 0.9]])
    d = fs.Categorical(probs=w)
    est = fs.estimate(d, fs.fn.table(c), n=100_000, rng=4, method="rloo", cov=True)
    ng, se = est.natural_grad["probs"], est.natural_stderr["probs"]
    F = d.fisher()
    for b in range(2):
        assert abs(ng[b] @ w[b]) < 1e-13 * np.abs(ng[b]).max()   # orthogonal to the weights
        np.testing.assert_allclose(F[b] @ ng[b], est.grad["probs"][b], rtol=1e-10, atol=1e-13)
        lst = np.linalg.lstsq(F[b], est.grad["probs"][b], rcond=1e-12)[0]
        np.testing.assert_allclose(ng[b], lst, rtol=1e-9, atol=1e-12)
    # the closed form: eta = log w, so J^-1 (c - t 1) = w (c - t), less its part along w
    u = w * (c - c.mean())
    want = u - (u * w).sum(-1, keepdims=True) / (w * w).sum(-1, keepdims=True) * w
    assert np.all(np.abs(ng - want) < 4.5 * se)


@pytest.mark.parametrize("by", ["logits", "probs"])
def test_near_deterministic_categorical(by):
    # the largest category within 1e-13 of 1: its Fisher diagonal p (1 - p) is summed from
    # the others, so the null vector stays clean and the natural gradient is the exact one
    logits = np.array([[30.0, 0.0, 1.0, -2.0], [0.0, 35.0, 2.0, 1.0], [1.0, 0.5, 0.0, -1.0]])
    par = logits if by == "logits" else np.exp(logits - logits.max(-1, keepdims=True))
    d = fs.Categorical(**{by: par})
    c = np.array([1.0, 0.0, 0.5, -1.0])
    x = fs.sample(d, 1000, rng=0)
    est = fs.estimate_from_samples(d, x, c[x] + 0.1 * np.cos(np.arange(1000))[:, None])
    ng, g, F = est.natural_grad[by], est.grad[by], d.fisher()
    for b in range(3):
        assert np.all(np.isfinite(ng[b]))
        null = np.ones(4) if by == "logits" else par[b]
        assert abs(ng[b] @ null) <= 1e-12 * np.abs(ng[b]).max() * np.abs(null).max()
        np.testing.assert_allclose(F[b] @ ng[b], g[b], rtol=1e-9, atol=1e-12 * np.abs(g[b]).max())
        lst = np.linalg.lstsq(F[b], g[b], rcond=1e-14)[0]
        np.testing.assert_allclose(ng[b], lst, rtol=1e-7, atol=1e-9 * np.abs(lst).max())


def test_categorical_fisher_rows_sum_to_zero_near_a_deterministic_category():
    for p1 in (1e-3, 1e-8, 1e-13):
        d = fs.Categorical(probs=[1.0 - 2 * p1, p1, p1])
        F = d.fisher()
        np.testing.assert_allclose(F @ np.array([1.0 - 2 * p1, p1, p1]), 0.0,
                                   atol=1e-15 * np.abs(F).max())
        lg = np.log([1.0, p1, p1])
        F = fs.Categorical(logits=lg).fisher()
        p = special.softmax(lg)
        assert F[0, 0] == pytest.approx(p[0] * (p[1] + p[2]), rel=1e-14)
        np.testing.assert_allclose(F.sum(-1), 0.0, atol=1e-15 * np.abs(F).max())


# --------------------------------------------------------------------- damping
def test_damping_is_tikhonov_per_batch_element():
    d = fs.Gamma(np.array([2.0, 0.7, 40.0]), np.array([1.5, 3.0, 0.5]))
    lam = np.array([0.0, 0.5, 10.0])
    for damping in (0.3, lam):
        est = fs.estimate(d, fs.fn.power(2), n=20_000, rng=1, method="cv", cov=True,
                          damping=damping)
        nat, se = dense_reference(d, est, damping)
        assert_close(_flat(est.natural_grad, 3), nat, 1e-10, "damped natural_grad")
        assert_close(_flat(est.natural_stderr, 3), se, 1e-10, "damped natural_stderr")
    F = d.fisher()
    g = np.stack([est.grad["concentration"], est.grad["rate"]], -1)
    for b in range(3):
        want = np.linalg.solve(F[b] + lam[b] * np.eye(2), g[b])
        np.testing.assert_allclose([est.natural_grad["concentration"][b],
                                    est.natural_grad["rate"][b]], want, rtol=1e-10)
    # a damping that dwarfs F gives grad / lam
    big = fs.estimate(d, fs.fn.power(2), n=20_000, rng=1, method="cv", damping=1e12)
    np.testing.assert_allclose(big.natural_grad["rate"] * 1e12, big.grad["rate"], rtol=1e-9)


def test_damping_makes_the_singular_categorical_invertible():
    d = fs.Categorical(logits=[0.2, -0.5, 1.0])
    est = fs.estimate(d, fs.fn.table([1.0, 0.0, 0.0]), n=10_000, rng=0, damping=1e-3)
    want = np.linalg.solve(d.fisher() + 1e-3 * np.eye(3), est.grad["logits"])
    np.testing.assert_allclose(est.natural_grad["logits"], want, rtol=1e-10)


@pytest.mark.parametrize("bad, err, says", [
    (-0.1, ValueError, ">= 0"), (np.nan, ValueError, "finite"), (np.inf, ValueError, "finite"),
    (True, TypeError, "bool"), ("auto", TypeError, "damping"), (None, TypeError, "damping"),
    ([0.1, -1.0, 0.0], ValueError, ">= 0"), ([0.1, 0.2], ValueError, "broadcast"),
    (np.array([1 + 1j]), TypeError, "dtype"),
])
def test_damping_errors(bad, err, says):
    d = fs.Normal(np.zeros(3), 1.0)
    with pytest.raises(err, match="damping") as exc:
        fs.estimate(d, fs.fn.power(2), n=100, rng=0, damping=bad)
    assert says in str(exc.value)
    with pytest.raises(err, match="damping"):
        fs.estimate_from_samples(d, np.zeros((4, 3)), np.zeros((4, 3)), damping=bad)


# --------------------------------------------------------------- the wrappers
def test_independent_natural_gradient_is_per_coordinate():
    base = fs.Gamma(np.array([[2.5, 0.7, 4.0], [1.5, 3.0, 0.9]]), np.array([1.5, 3.0, 0.5]))
    d = fs.Independent(base, 1)
    est = fs.estimate(d, lambda x: (x * np.arange(1.0, 4.0)).sum(-1), n=50_000, rng=2,
                      method="rloo", cov=True)
    nat, se = dense_reference(d, est)
    assert_close(_flat(est.natural_grad, 2), nat, 1e-10, "natural_grad")
    assert_close(_flat(est.natural_stderr, 2), se, 1e-10, "natural_stderr")
    # each coordinate's block alone: f = sum_g w_g x_g is linear in T, so the natural
    # gradient is J^-1 c per coordinate: (0, -w_g) in (concentration, rate)
    ng, s = est.natural_grad, est.natural_stderr
    assert np.all(np.abs(ng["concentration"]) < 4.5 * s["concentration"])
    assert np.all(np.abs(ng["rate"] + np.arange(1.0, 4.0)) < 4.5 * s["rate"])
    Fb = base.fisher()
    g = np.stack([est.grad["concentration"], est.grad["rate"]], -1)
    blockwise = np.linalg.solve(Fb, g[..., None])[..., 0]
    np.testing.assert_allclose(ng["concentration"], blockwise[..., 0], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ng["rate"], blockwise[..., 1], rtol=1e-10)


def test_joint_natural_gradient_nests_by_part():
    L = np.array([[1.0, 0.0], [0.5, 2.0]])
    d = fs.Joint({"w": fs.Independent(fs.Normal(np.zeros((2, 3)), 1.5), 1),
                  "tau": fs.Gamma([2.0, 3.0], 1.0),
                  "z": fs.MultivariateNormal(np.zeros((2, 2)), np.stack([L, 0.5 * L])),
                  "c": fs.Categorical(logits=[[0.2, -0.5, 1.0], [0.0, 0.0, 1.0]])})

    def f(x):
        return (x["w"].sum(-1) + x["tau"] ** 2 + x["z"][..., 0] * x["z"][..., 1]
                + (x["c"] == 2))

    est = fs.estimate(d, f, n=20_000, rng=9, method="rloo", cov=True, damping=[0.0, 0.25])
    ng, se = est.natural_grad, est.natural_stderr
    assert list(ng) == ["w", "tau", "z", "c"]
    for part in ng:
        assert list(ng[part]) == list(est.grad[part])
        for k in ng[part]:
            assert ng[part][k].shape == est.grad[part][k].shape == se[part][k].shape
    nat, sref = dense_reference(d, est, [0.0, 0.25])
    assert_close(_flat(ng, 2), nat, 1e-9, "natural_grad")
    assert_close(_flat(se, 2), sref, 1e-9, "natural_stderr")
    # block-diagonal: each part's natural gradient is its own Fisher's, undamped in element 0
    gt = np.stack([est.grad["tau"]["concentration"], est.grad["tau"]["rate"]], -1)
    want = np.linalg.solve(d.parts["tau"].fisher()[0], gt[0])
    np.testing.assert_allclose([ng["tau"]["concentration"][0], ng["tau"]["rate"][0]], want,
                               rtol=1e-10)
    assert abs(ng["c"]["logits"][0].sum()) < 1e-13           # the pseudo-inverse's block
    np.testing.assert_array_equal(np.triu(ng["z"]["scale_tril"], 1), 0.0)


def test_blocks_of_very_different_scales_are_each_inverted():
    # F spans 1e-14 .. 1e14 over the parts, and Gamma's own block is ill-conditioned:
    # the equilibration keeps every direction (numpy's pinv on F would drop some)
    d = fs.Joint({"a": fs.Normal(0.0, 1e-7), "b": fs.Poisson(1e7),
                  "g": fs.Gamma(1e6, 1e-3)})
    est = fs.estimate(d, lambda x: x["a"] + x["b"] + x["g"], n=20_000, rng=3, method="rloo")
    ng = est.natural_grad
    # f linear in each part's T: J^-1 c exactly where the gradient is the exact one;
    # here: against each block's own solve
    assert ng["a"]["loc"] == pytest.approx(1e-14 * est.grad["a"]["loc"], rel=1e-12)
    assert ng["b"]["rate"] == pytest.approx(1e7 * est.grad["b"]["rate"], rel=1e-12)
    Fg = d.parts["g"].fisher()
    gg = np.array([est.grad["g"]["concentration"], est.grad["g"]["rate"]])
    want = np.linalg.solve(Fg, gg)
    np.testing.assert_allclose([ng["g"]["concentration"], ng["g"]["rate"]], want, rtol=1e-6)


# ---------------------------------------------------------------------- honesty
def test_natural_stderr_matches_the_spread_over_independent_elements():
    # 400 batch elements of one Gamma: independent replicates of one estimate
    d = fs.Gamma(np.full(400, 2.5), 1.5)
    est = fs.estimate(d, lambda x: np.sqrt(x), n=2000, rng=8, method="rloo", cov=True)
    for k in ("concentration", "rate"):
        spread = est.natural_grad[k].std(ddof=1)
        claim = math.sqrt(np.mean(est.natural_stderr[k] ** 2))
        assert 0.85 < spread / claim < 1.15, (k, spread, claim)


# ----------------------------------------------------------------- the edges
def test_natural_stderr_needs_cov():
    est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n=100, rng=0)
    assert np.isfinite(est.natural_grad["loc"])
    with pytest.raises(ValueError, match="cov=True"):
        est.natural_stderr
    x = fs.sample(fs.Normal(0.0, 1.0), 100, rng=0)
    est = fs.estimate_from_samples(fs.Normal(0.0, 1.0), x, x ** 2, method="rloo", damping=0.5)
    want = np.linalg.solve(fs.Normal(0.0, 1.0).fisher() + 0.5 * np.eye(2),
                           [est.grad["loc"], est.grad["scale"]])
    np.testing.assert_allclose([est.natural_grad["loc"], est.natural_grad["scale"]], want,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="cov=True"):
        est.natural_stderr


def test_relaxed_families_have_no_natural_gradient():
    est = fs.estimate(fs.RelaxedBernoulli(0.5, probs=0.3), lambda x: x, n=100, rng=0)
    with pytest.raises(NotImplementedError, match="Fisher information"):
        est.natural_grad


def test_non_finite_elements_give_nan_and_the_others_are_kept():
    d = fs.Normal(np.array([0.0, 1.0, 2.0]), 1.0)
    f = lambda x: np.where(np.arange(3) == 1, np.nan, x ** 2)   # noqa: E731
    est = fs.estimate(d, f, n=100, rng=0, nan_policy="propagate", cov=True)
    assert np.isnan(est.natural_grad["loc"][1]) and np.isnan(est.natural_grad["scale"][1])
    assert np.isfinite(est.natural_grad["loc"][[0, 2]]).all()
    assert np.isfinite(est.natural_stderr["scale"][[0, 2]]).all()


def test_empty_batch_and_scalar_batch_shapes():
    est = fs.estimate(fs.Normal(np.zeros((0, 2)), 1.0), fs.fn.power(2), n=10, rng=0)
    assert est.natural_grad["loc"].shape == (0, 2)
    est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n=10, rng=0, damping=np.float32(1))
    assert np.shape(est.natural_grad["loc"]) == ()


def test_natural_gradient_is_a_tangent_vector():
    # Bernoulli in probs and in logits draws the same samples: the natural gradients are
    # the same direction, mapped by d logit / d p = 1 / (p (1 - p))
    p = np.array([0.3, 0.8, 0.05])
    a = fs.estimate(fs.Bernoulli(probs=p), lambda x: np.sin(x + 1.0), n=5000, rng=6,
                    method="rloo")
    b = fs.estimate(fs.Bernoulli(logits=special.logit(p)), lambda x: np.sin(x + 1.0), n=5000,
                    rng=6, method="rloo")
    np.testing.assert_allclose(b.natural_grad["logits"], a.natural_grad["probs"] / (p * (1 - p)),
                               rtol=1e-9)


def test_categorical_with_zero_weights_several_null_vectors():
    # three categories of weight 0: their block of F is 1 / S^2 everywhere (rank 1, two
    # null vectors), the positive weights' block has w as its null vector
    w = np.array([1.0, 0.0, 0.0, 2.0, 0.0])
    d = fs.Categorical(probs=w)
    est = fs.estimate(d, fs.fn.table([1.0, 0.0, 0.0, -1.0, 0.0]), n=5000, rng=2, method="rloo",
                      cov=True)
    F = d.fisher()
    ng = est.natural_grad["probs"]
    np.testing.assert_allclose(ng, np.linalg.lstsq(F, est.grad["probs"], rcond=1e-12)[0],
                               rtol=1e-10, atol=1e-14)
    nat, se = dense_reference(d, est)
    assert_close(_flat(est.natural_stderr, 1), se, 1e-9, "natural_stderr")


def test_pinv_psd_against_numpy_on_random_singular_matrices():
    rng = np.random.default_rng(0)
    for m, rank in ((1, 0), (1, 1), (3, 1), (5, 2), (6, 6), (8, 5)):
        X = rng.normal(size=(50, m, rank))
        A = X @ np.swapaxes(X, -1, -2)
        scale = np.exp(rng.uniform(-3, 3, size=(50, m)))         # badly scaled components
        A = scale[:, :, None] * A * scale[:, None, :]
        K = fs._natural.pinv_psd(A)
        for b in range(50):
            ref = np.linalg.pinv(A[b], rcond=1e-10, hermitian=True)
            np.testing.assert_allclose(K[b], ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max())
    A = np.array([[[1.0, np.nan], [np.nan, 1.0]], [[2.0, 0.0], [0.0, 4.0]]])
    K = fs._natural.pinv_psd(A)
    assert np.isnan(K[0]).all()
    np.testing.assert_allclose(K[1], np.diag([0.5, 0.25]), rtol=1e-15)


def test_transformed_distribution_uses_its_base_fisher():
    base = fs.Independent(fs.Normal(np.array([0.0, 1.0]), np.array([0.5, 2.0])), 1)
    d = fs.TransformedDistribution(base, [fs.transforms.TanhTransform()])
    est = fs.estimate(d, lambda y: y[..., 0] * y[..., 1], n=20_000, rng=1, method="rloo",
                      cov=True)
    nat, se = dense_reference(d, est)
    assert_close(_flat(est.natural_grad, 1), nat, 1e-10, "natural_grad")
    assert_close(_flat(est.natural_stderr, 1), se, 1e-10, "natural_stderr")


def test_a_non_finite_block_leaves_the_other_parts():
    d = fs.Joint({"a": fs.Normal(0.0, 1.0), "b": fs.Bernoulli(probs=0.0)})
    est = fs.estimate(d, lambda x: x["a"] ** 2 + x["b"], n=1000, rng=0,
                      nan_policy="propagate")
    assert np.isnan(est.natural_grad["b"]["probs"])           # F = 1 / (p (1 - p)) = inf
    assert np.isfinite(est.natural_grad["a"]["scale"])
