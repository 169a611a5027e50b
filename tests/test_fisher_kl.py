"""Distribution.fisher() and fs.kl(): closed forms against independent computations.

* fisher(): every family-parameterisation of tests/cases.py (on a batch of its
  first three elements) against the Monte Carlo E[s s^T] of the kernels' score
  components on 200 000 samples, within 4.5 standard errors per entry; and
  against J^T (Hessian of the log-partition A(eta)) J computed by torch
  autograd from the family's natural parameters, to 1e-8 relative, on a batch
  of shape (2, 3).  Independent and Joint against their Monte Carlo E[s s^T]
  and their block structure; TransformedDistribution is its base's.
* kl(): against torch.distributions.kl_divergence where torch has the pair (to
  1e-10 relative), against an exact quadrature or sum of E_p[log p - log q]
  elsewhere (VonMises, NegativeBinomial); gradients against central finite
  differences of the value, in every parameter component of p and of q.
* The errors: different families, unequal total_count, relaxed families.
"""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

try:   # the references computed by torch (autograd, torch.distributions): optional
    import torch
except ImportError:
    torch = None

import fastscore as fs
from cases import BY_NAME as BY_NAME_CASE, CASES


#: torch is not in the README's test command; CI runs this file again with it
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed: its "
                                 "autograd and kl_divergence references are not checked")
FAMILIES = [c for c in CASES if not c.name.startswith("Relaxed")]
RELAXED = [c for c in CASES if c.name.startswith("Relaxed")]
FIRST3 = np.array([0, 1, 2, 0, 1, 2])


def _batch(case, shape=(3,), index=None):
    """A distribution of the case's first three elements (in turn) of batch ``shape``."""
    n = math.prod(shape)
    return case.make(shape, index=FIRST3[:n] if index is None else index)


# ------------------------------------------------------------ fisher: Monte Carlo
def mc_fisher(d, n=200_000, seed=0, chunk=20_000):
    """(mean of s s^T, its standard error) over n samples, shape batch + (P, P)."""
    plan = d.plan()
    x = fs.sample(d, n, rng=seed)
    s1 = s2 = 0.0
    for i in range(0, n, chunk):
        part = {k: v[i:i + chunk] for k, v in x.items()} if isinstance(x, dict) else x[i:i + chunk]
        x3, _ = plan.layout.to_kernel(part)
        s = plan.score(x3)
        prod = s[:, :, :, None] * s[:, :, None, :]
        s1 = s1 + prod.sum(axis=0)
        s2 = s2 + (prod * prod).sum(axis=0)
    mean = s1 / n
    var = np.maximum(s2 / n - mean * mean, 0.0)
    shape = tuple(d.batch_shape) + mean.shape[-2:]
    return mean.reshape(shape), np.sqrt(var / n).reshape(shape)


def assert_within(F, mean, se, z=4.5):
    scale = np.abs(F).max()
    bad = np.abs(F - mean) > z * se + 1e-12 * scale
    assert not bad.any(), "fisher %s against MC %s (se %s)" % (F[bad], mean[bad], se[bad])


@pytest.mark.parametrize("case", FAMILIES, ids=lambda c: c.name)
def test_fisher_equals_monte_carlo(case):
    d = _batch(case)
    F = d.fisher()
    P = d.score_size
    assert F.shape == tuple(d.batch_shape) + (P, P)
    np.testing.assert_allclose(F, np.swapaxes(F, -1, -2), rtol=0, atol=0)
    mean, se = mc_fisher(d)
    assert_within(F, mean, se)


# --------------------------------------------------------------- fisher: torch
def _softplus(x):
    return torch.nn.functional.softplus(x)


def torch_model(case, e):
    """(theta0, eta(theta), A(eta)) of one element e: its parameters passed as one flat
    vector in the score's component order, its natural parameters, its log-partition."""
    name = case.name.split("(")[0]
    by = "probs" if "probs" in e else "logits" if "logits" in e else None
    if name == "MultivariateNormal":
        loc, L = np.asarray(e["loc"], float), np.asarray(e["scale_tril"], float)
        D = loc.size
        rows, cols = np.tril_indices(D)
        theta0 = np.concatenate([loc, L[rows, cols]])

        def eta(t):
            Lt = torch.zeros(D, D, dtype=torch.float64)
            Lt = Lt.index_put((torch.as_tensor(rows), torch.as_tensor(cols)), t[D:])
            prec = torch.cholesky_inverse(Lt)
            return torch.cat([prec @ t[:D], (-0.5 * prec).reshape(-1)])

        def A(h):
            S = h[D:].reshape(D, D)
            S = 0.5 * (S + S.T)
            return (-0.25 * h[:D] @ torch.linalg.solve(S, h[:D])
                    - 0.5 * torch.logdet(-2.0 * S))
        return theta0, eta, A
    if name in ("Categorical", "Dirichlet"):
        key = by or "concentration"
        theta0 = np.asarray(e[key], float)
        if name == "Dirichlet":
            return (theta0, lambda t: t - 1.0,
                    lambda h: torch.lgamma(h + 1.0).sum() - torch.lgamma((h + 1.0).sum()))
        return (theta0, (lambda t: torch.log(t)) if by == "probs" else (lambda t: t),
                lambda h: torch.logsumexp(h, 0))
    if name in ("Normal", "LogNormal"):
        return (np.array([e["loc"], e["scale"]], float),
                lambda t: torch.stack([t[0] / t[1] ** 2, -0.5 / t[1] ** 2]),
                lambda h: -h[0] ** 2 / (4.0 * h[1]) - 0.5 * torch.log(-2.0 * h[1]))
    if name == "Exponential":
        return np.array([e["rate"]], float), lambda t: -t, lambda h: -torch.log(-h).sum()
    if name == "Gamma":
        return (np.array([e["concentration"], e["rate"]], float),
                lambda t: torch.stack([t[0] - 1.0, -t[1]]),
                lambda h: torch.lgamma(h[0] + 1.0) - (h[0] + 1.0) * torch.log(-h[1]))
    if name == "Beta":
        return (np.array([e["concentration1"], e["concentration0"]], float), lambda t: t - 1.0,
                lambda h: (torch.lgamma(h[0] + 1.0) + torch.lgamma(h[1] + 1.0)
                           - torch.lgamma(h[0] + h[1] + 2.0)))
    if name == "Chi2":
        return (np.array([e["df"]], float), lambda t: 0.5 * t - 1.0,
                lambda h: (torch.lgamma(h + 1.0) + (h + 1.0) * math.log(2.0)).sum())
    if name == "VonMises":
        def A(h):
            r = torch.sqrt((h * h).sum())
            return torch.log(torch.special.i0e(r)) + r
        return (np.array([e["loc"], e["concentration"]], float),
                lambda t: torch.stack([t[1] * torch.cos(t[0]), t[1] * torch.sin(t[0])]), A)
    if name == "Poisson":
        return np.array([e["rate"]], float), torch.log, lambda h: torch.exp(h).sum()
    theta0 = np.array([e[by]], float)
    if name in ("Bernoulli", "Binomial"):
        n = float(e.get("total_count", 1.0))
        eta = (lambda t: torch.log(t) - torch.log1p(-t)) if by == "probs" else (lambda t: t)
        return theta0, eta, lambda h: n * _softplus(h).sum()
    if name == "Geometric":   # T = x, eta = log(1 - p), A = -log p
        eta = (lambda t: torch.log1p(-t)) if by == "probs" else (lambda t: -_softplus(t))
        return theta0, eta, lambda h: -torch.log(-torch.expm1(h)).sum()
    if name == "NegativeBinomial":   # T = x, eta = log p, A = -r log(1 - p)
        r = float(e["total_count"])
        eta = (lambda t: torch.log(t)) if by == "probs" else (lambda t: -_softplus(-t))
        return theta0, eta, lambda h: -r * torch.log(-torch.expm1(h)).sum()
    raise AssertionError(case.name)


def torch_fisher(case, e):
    theta0, eta, A = torch_model(case, e)
    t = torch.as_tensor(np.array(theta0, dtype=float))
    J = torch.autograd.functional.jacobian(eta, t).reshape(-1, t.numel())
    H = torch.autograd.functional.hessian(A, eta(t).detach())
    return (J.T @ H.reshape(J.shape[0], J.shape[0]) @ J).numpy()


#: The families that are exponential families (Laplace is not: no log-partition).
EXPONENTIAL = [c for c in FAMILIES if c.name != "Laplace"]


@needs_torch
@pytest.mark.parametrize("case", EXPONENTIAL, ids=lambda c: c.name)
def test_fisher_equals_torch_hessian_of_log_partition(case):
    d = _batch(case, (2, 3))
    F = d.fisher().reshape((6,) + d.fisher().shape[-2:])
    for b, i in enumerate(FIRST3):
        ref = torch_fisher(case, case.element(int(i)))
        np.testing.assert_allclose(F[b], ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max(),
                                   err_msg="%s element %d" % (case.name, i))


def test_vonmises_slope_at_large_concentration():
    # dA/dk = 1 - A/k - A^2 against mpmath at 50 digits, where the direct form cancels
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    k = np.array([0.01, 1.0, 19.9, 20.0, 50.0, 1e3, 1e6])
    a, da = fs.families.vonmises.vonmises_ratio_and_slope(k)
    for kk, ai, di in zip(k, a, da):
        A = mpmath.besseli(1, kk) / mpmath.besseli(0, kk)
        assert abs(ai - float(A)) <= 1e-14 * float(A)
        ref = float(1 - A / kk - A * A)
        assert abs(di - ref) <= 1e-12 * ref, (kk, di, ref)


def test_relaxed_families_have_no_fisher():
    for case in RELAXED:
        with pytest.raises(NotImplementedError, match=case.cls.__name__):
            case.make().fisher()


def test_categorical_fisher_is_singular_along_its_null_vectors():
    w = np.array([1.0, 2.0, 3.0, 0.5])
    F = fs.Categorical(probs=w).fisher()
    np.testing.assert_allclose(F @ w, 0.0, atol=1e-15)
    F = fs.Categorical(logits=np.log(w)).fisher()
    np.testing.assert_allclose(F @ np.ones(4), 0.0, atol=1e-15)


def test_categorical_fisher_with_a_zero_weight_is_the_exact_second_moment():
    d = fs.Categorical(probs=[[0.0, 2.0, 1.0, 0.0], [1.0, 1.0, 0.0, 3.0]])
    mean, se = mc_fisher(d)
    assert_within(d.fisher(), mean, se)


# ----------------------------------------------------------- fisher: wrappers
def test_independent_fisher_block_diagonal_and_monte_carlo():
    base = fs.Gamma(np.array([[2.5, 0.7, 4.0], [1.5, 3.0, 0.9]]), np.array([1.5, 3.0, 0.5]))
    d = fs.Independent(base, 1)
    F = d.fisher()
    assert F.shape == (2, 6, 6)
    mean, se = mc_fisher(d)
    assert_within(F, mean, se)
    # component order: concentration[0..2], rate[0..2]; coordinate g's block
    Fb = base.fisher()
    for g in range(3):
        idx = [g, 3 + g]
        np.testing.assert_allclose(F[:, idx][:, :, idx], Fb[:, g], rtol=1e-15)


def test_independent_of_multivariate_normal_fisher():
    L = np.array([[1.0, 0.0], [0.5, 2.0]])
    base = fs.MultivariateNormal(np.zeros((3, 2)), np.stack([L, 1.5 * L, 0.5 * L]))
    d = fs.Independent(base, 1)
    mean, se = mc_fisher(d)
    assert_within(d.fisher(), mean, se)


def test_joint_fisher_block_diagonal_and_monte_carlo():
    d = fs.Joint({"w": fs.Independent(fs.Normal(np.zeros((2, 3)), 1.5), 1),
                  "tau": fs.Gamma([2.0, 3.0], 1.0),
                  "c": fs.Categorical(logits=[[0.2, -0.5, 1.0], [0.0, 0.0, 1.0]])})
    F = d.fisher()
    assert F.shape == (2, 11, 11)
    np.testing.assert_array_equal(F[:, 6:8, 6:8], d.parts["tau"].fisher())
    np.testing.assert_array_equal(F[:, :6, 6:], 0.0)
    mean, se = mc_fisher(d)
    assert_within(F, mean, se)


def test_transformed_fisher_is_the_base_one():
    base = fs.Independent(fs.Normal(np.array([0.0, 1.0]), np.array([0.5, 2.0])), 1)
    d = fs.TransformedDistribution(base, [fs.transforms.TanhTransform()])
    np.testing.assert_array_equal(d.fisher(), base.fisher())
    mean, se = mc_fisher(d)
    assert_within(d.fisher(), mean, se)


# -------------------------------------------------------------------- kl
P_INDEX = np.array([0, 1, 2, 0, 1, 2])
Q_INDEX = np.array([1, 2, 0, 2, 0, 1])
TORCH_KL = {
    "Normal": lambda e: torch.distributions.Normal(e["loc"], e["scale"]),
    "LogNormal": lambda e: torch.distributions.LogNormal(e["loc"], e["scale"]),
    "Exponential": lambda e: torch.distributions.Exponential(e["rate"]),
    "Gamma": lambda e: torch.distributions.Gamma(e["concentration"], e["rate"]),
    "Beta": lambda e: torch.distributions.Beta(e["concentration1"], e["concentration0"]),
    "Chi2": lambda e: torch.distributions.Chi2(e["df"]),
    "Dirichlet": lambda e: torch.distributions.Dirichlet(e["concentration"]),
    "MultivariateNormal": lambda e: torch.distributions.MultivariateNormal(
        e["loc"], scale_tril=e["scale_tril"]),
    "Poisson": lambda e: torch.distributions.Poisson(e["rate"]),
    "Bernoulli": lambda e: torch.distributions.Bernoulli(**e),
    "Categorical": lambda e: torch.distributions.Categorical(**e),
    "Geometric": lambda e: torch.distributions.Geometric(**e),
    "Binomial": lambda e: torch.distributions.Binomial(**e),
    "Laplace": lambda e: torch.distributions.Laplace(e["loc"], e["scale"]),
}


def pair_params(case, i, j):
    """Element i's parameters for p and element j's for q (with p's total_count)."""
    ep, eq = case.element(i), case.element(j)
    if "total_count" in ep:
        eq["total_count"] = ep["total_count"]
    return ep, eq


def kl_pair(case, shape=(2, 3)):
    """A p and a q of batch ``shape``: elements P_INDEX against Q_INDEX (q with p's counts)."""
    n = math.prod(shape)
    p = case.make(shape, index=P_INDEX[:n])
    qp = case.params(shape, index=Q_INDEX[:n])
    if "total_count" in qp:
        qp["total_count"] = case.params(shape, index=P_INDEX[:n])["total_count"]
    return p, case.build(qp)


def exact_kl(case, ep, eq):
    """E_p[log p - log q] by torch, quadrature or an exact sum."""
    name = case.name.split("(")[0]
    if name in TORCH_KL:
        if torch is None:
            pytest.skip("torch is not installed: torch.distributions.kl_divergence is the "
                        "reference of %s" % name)
        tp = TORCH_KL[name]({k: torch.as_tensor(np.array(v)) for k, v in ep.items()})
        tq = TORCH_KL[name]({k: torch.as_tensor(np.array(v)) for k, v in eq.items()})
        return float(torch.distributions.kl_divergence(tp, tq))
    if name == "VonMises":
        def integrand(x):
            lp = stats.vonmises.logpdf(x, ep["concentration"], loc=ep["loc"])
            return np.exp(lp) * (lp - stats.vonmises.logpdf(x, eq["concentration"],
                                                            loc=eq["loc"]))
        lo = float(ep["loc"]) - math.pi
        val, _ = integrate.quad(integrand, lo, lo + 2 * math.pi, epsabs=1e-14, epsrel=1e-13,
                                limit=400, points=[float(ep["loc"])])
        return val
    if name == "NegativeBinomial":
        r = float(ep["total_count"])
        p1 = float(ep["probs"]) if "probs" in ep else float(special.expit(ep["logits"]))
        p2 = float(eq["probs"]) if "probs" in eq else float(special.expit(eq["logits"]))
        k = np.arange(0, 20000)
        lp = stats.nbinom.logpmf(k, r, 1 - p1)
        lq = stats.nbinom.logpmf(k, r, 1 - p2)
        return math.fsum((np.exp(lp) * (lp - lq)).tolist())
    raise AssertionError(case.name)


@pytest.mark.parametrize("case", FAMILIES, ids=lambda c: c.name)
def test_kl_values(case):
    p, q = kl_pair(case)
    v = fs.kl(p, q)
    assert v.shape == (2, 3)
    name = case.name.split("(")[0]
    rtol = 1e-10 if name in TORCH_KL else 1e-9
    for b, (i, j) in enumerate(zip(P_INDEX, Q_INDEX)):
        ref = exact_kl(case, *pair_params(case, int(i), int(j)))
        assert abs(v.flat[b] - ref) <= rtol * abs(ref) + 1e-15, (case.name, i, j, v.flat[b], ref)
    # KL(p || p) = 0
    np.testing.assert_allclose(fs.kl(p, p), 0.0, atol=1e-13)


def _flat_components(d, name):
    """(array of the parameter, its component indices) of parameter ``name`` of d."""
    a = np.array(np.broadcast_to(d._differentiable[name], d.param_shape(name)), dtype=float)
    idx = list(np.ndindex(a.shape))
    if name == "scale_tril":
        idx = [ix for ix in idx if ix[-2] >= ix[-1]]
    return a, idx


@pytest.mark.parametrize("case", FAMILIES, ids=lambda c: c.name)
def test_kl_gradients_against_finite_differences(case):
    p, q = kl_pair(case, (3,))
    value, g = fs.kl(p, q, grad=True)
    assert set(g) == {"p", "q"}
    for who, d, other in (("p", p, q), ("q", q, p)):
        assert list(g[who]) == list(d.param_names)
        for nm in d.param_names:
            assert g[who][nm].shape == d.param_shape(nm)
            a, idx = _flat_components(d, nm)
            params = {k: np.array(v) for k, v in {**d._fixed, **d._differentiable}.items()}
            for ix in idx:
                h = 1e-6 * max(1.0, abs(a[ix]))
                up, dn = a.copy(), a.copy()
                up[ix] += h
                dn[ix] -= h
                du, dd = case.build({**params, nm: up}), case.build({**params, nm: dn})
                pair_u = (du, other) if who == "p" else (other, du)
                pair_d = (dd, other) if who == "p" else (other, dd)
                fd = (fs.kl(*pair_u) - fs.kl(*pair_d)) / (2 * h)
                b = ix[0]
                assert abs(g[who][nm][ix] - fd[b]) <= 1e-6 * max(1.0, abs(fd[b])), \
                    (case.name, who, nm, ix, g[who][nm][ix], fd[b])


def test_kl_broadcasts_and_grads_are_per_element():
    p = fs.Normal(0.0, 1.0)
    q = fs.Normal(np.array([0.0, 1.0, 2.0]), 2.0)
    v, g = fs.kl(p, q, grad=True)
    assert v.shape == (3,)
    assert g["p"]["loc"].shape == (3,) and g["q"]["scale"].shape == (3,)
    for k in range(3):
        vk, gk = fs.kl(p, fs.Normal(float(q.loc[k]), 2.0), grad=True)
        assert v[k] == vk and g["p"]["loc"][k] == gk["p"]["loc"]
    assert isinstance(fs.kl(p, p), np.float64)


@needs_torch
def test_kl_mixed_parameterisations():
    v, g = fs.kl(fs.Bernoulli(probs=0.3), fs.Bernoulli(logits=0.4), grad=True)
    ref = float(torch.distributions.kl_divergence(
        torch.distributions.Bernoulli(probs=torch.tensor(0.3, dtype=torch.float64)),
        torch.distributions.Bernoulli(logits=torch.tensor(0.4, dtype=torch.float64))))
    assert abs(v - ref) <= 1e-12 * ref
    assert set(g["p"]) == {"probs"} and set(g["q"]) == {"logits"}


def test_kl_independent_and_joint_sum_their_parts():
    loc = np.array([[0.0, 1.0, 2.0], [1.0, -1.0, 0.5]])
    p = fs.Independent(fs.Normal(loc, 1.5), 1)
    q = fs.Independent(fs.Normal(np.zeros((2, 3)), np.array([1.0, 2.0, 3.0])), 1)
    v, g = fs.kl(p, q, grad=True)
    vb, gb = fs.kl(p.base_dist, q.base_dist, grad=True)
    np.testing.assert_allclose(v, vb.sum(-1), rtol=1e-15)
    np.testing.assert_array_equal(g["p"]["loc"], gb["p"]["loc"])
    jp = fs.Joint({"x": p, "t": fs.Gamma([2.0, 3.0], 1.0)})
    jq = fs.Joint({"x": q, "t": fs.Gamma(1.0, [1.0, 2.0])})
    vj, gj = fs.kl(jp, jq, grad=True)
    np.testing.assert_allclose(vj, v + fs.kl(jp.parts["t"], jq.parts["t"]), rtol=1e-15)
    assert set(gj["p"]) == {"x", "t"} and set(gj["q"]["t"]) == {"concentration", "rate"}
    # Monte Carlo check of the joint: E_p[log p - log q]
    x = fs.sample(jp, 200_000, rng=3)
    lr = jp.log_prob(x) - jq.log_prob(x)
    se = lr.std(axis=0) / math.sqrt(lr.shape[0])
    assert np.all(np.abs(lr.mean(axis=0) - vj) < 4.5 * se)


def test_kl_errors():
    with pytest.raises(NotImplementedError, match="Normal.*Gamma"):
        fs.kl(fs.Normal(0.0, 1.0), fs.Gamma(1.0, 1.0))
    with pytest.raises(ValueError, match="total_count"):
        fs.kl(fs.Binomial(5, probs=0.5), fs.Binomial(6, probs=0.5))
    with pytest.raises(ValueError, match="total_count.*index"):
        fs.kl(fs.NegativeBinomial([2.0, 3.0], probs=0.5), fs.NegativeBinomial(2.0, probs=0.4))
    for case in RELAXED:
        with pytest.raises(NotImplementedError, match=case.cls.__name__):
            fs.kl(case.make(), case.make())
    with pytest.raises(ValueError, match="categories"):
        fs.kl(fs.Categorical(logits=[0.0, 1.0]), fs.Categorical(logits=[0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="broadcast"):
        fs.kl(fs.Normal(np.zeros(2), 1.0), fs.Normal(np.zeros(3), 1.0))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        fs.kl(fs.Independent(fs.Normal(np.zeros((2, 2)), 1.0), 1),
              fs.Independent(fs.Normal(np.zeros((2, 2)), 1.0), 2))
    with pytest.raises(TypeError, match="fastscore distribution"):
        fs.kl(fs.Normal(0.0, 1.0), object())


def test_kl_infinite_where_q_has_no_mass():
    assert fs.kl(fs.Bernoulli(probs=0.5), fs.Bernoulli(probs=0.0)) == np.inf
    assert fs.kl(fs.Bernoulli(probs=0.0), fs.Bernoulli(probs=0.5)) == pytest.approx(math.log(2))
    assert fs.kl(fs.Categorical(probs=[1.0, 1.0]), fs.Categorical(probs=[1.0, 0.0])) == np.inf


@needs_torch
def test_the_checks_can_fail():
    # a Fisher information 2% off, and a KL gradient with a wrong sign, are caught
    d = _batch(next(c for c in FAMILIES if c.name == "Gamma"))
    mean, se = mc_fisher(d)
    with pytest.raises(AssertionError):
        assert_within(1.02 * d.fisher(), mean, se)
    e = BY_NAME_CASE["Gamma"].element(0)
    ref = torch_fisher(BY_NAME_CASE["Gamma"], e)
    assert not np.allclose(ref * np.array([[1, -1], [-1, 1]]), ref, rtol=1e-8)
