"""Distribution.entropy: values against scipy.stats, gradients against finite differences.

* Values: every family against scipy.stats' ``entropy()`` to 1e-10 relative,
  on ordinary and extreme parameters.  Where scipy's own value is not exact
  (its generic discrete ``entropy()`` stops summing early for a Poisson rate
  of 1e4 and more and for a NegativeBinomial near probs 1, its Poisson pmf
  loses digits at large rates, and its Bernoulli entropy rounds 1 - p at
  logits +-40) the reference is an independent exact computation, named
  where it is used: the normalised log-ratio recursion :func:`ratio_entropy`,
  scipy's own pmf summed with ``entr``, or decimal arithmetic.
* Gradients: central finite differences of the value in every component of
  the parameter the user passed, for every family-parameterisation of
  tests/cases.py on a batch of shape (2, 3), and on extreme parameters.
* Keys and shapes of the gradient equal those of ``fs.estimate``'s ``grad``.
* The sums of Poisson, Binomial and NegativeBinomial agree with their
  Gaussian-regime expansions on both sides of the switch between them.
* The Relaxed families raise NotImplementedError.

The last tests check that the checks can fail: a wrong constant or a
truncated sum is caught.
"""

import decimal
import math

import numpy as np
import pytest
from scipy import special, stats

import fastscore as fs
from fastscore import _entropy
from cases import CASES

RTOL = 1e-10


def assert_close(actual, expected, rtol=1e-10, atol=0.0, what="value"):
    """|actual - expected| <= atol + rtol |expected|, with equal shapes (NaN == NaN)."""
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol,
                               err_msg=what, strict=True)
L3 = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])


# ---------------------------------------------------------------- references
def ratio_entropy(log_ratio, lo, hi):
    """-sum_k p_k log p_k for p_k proportional to exp(w_k), k = lo..hi.

    w_lo = 0 and w_{k+1} = w_k + log_ratio(k) (log p_{k+1} / p_k), summed with
    Neumaier's compensation; then H = log Z - sum_k p_k (w_k - max w) with Z =
    sum_k exp(w_k - max w) = 1 + rest and log Z = log1p(rest), by math.fsum.  An
    algorithm independent of fastscore's (no log-probability is ever computed absolutely), exact to
    about 1e-14 when [lo, hi] holds all but a negligible part of the mass.
    """
    r = log_ratio(np.arange(lo, hi, dtype=np.float64))
    w = np.empty(hi - lo + 1)
    w[0] = s = c = 0.0
    for i, x in enumerate(r.tolist()):
        t = s + x
        c += (s - t) + x if abs(s) >= abs(x) else (x - t) + s
        s = t
        w[i + 1] = s + c
    top = int(np.argmax(w))
    w -= w[top]
    e = np.exp(w)
    rest = math.fsum(np.delete(e, top).tolist())  # Z = 1 + rest: log Z = log1p(rest)
    return math.log1p(rest) - math.fsum((e * w).tolist()) / (1.0 + rest)


def poisson_reference(lam):
    if lam < 1e3:
        return float(stats.poisson(lam).entropy())
    # scipy's entropy() does not converge here: the recursion p_{k+1}/p_k = lam/(k+1)
    sd = math.sqrt(lam)
    lo, hi = int(max(0.0, lam - 13 * sd - 50)), int(lam + 13 * sd + 50)
    return ratio_entropy(lambda k: np.log1p((lam - k - 1.0) / (k + 1.0)), lo, hi)


def nbinom_reference(r, p):
    """torch's NegativeBinomial(r, probs=p) is scipy's nbinom(r, 1 - p)."""
    q = 1.0 - p
    mean = r * p / q
    if 1e-3 <= p < 0.9 and mean < 100:
        return float(stats.nbinom(r, q).entropy())
    # scipy's entropy() stops early (near p = 1, or for a large mean) or rounds (tiny
    # entropies): the recursion p_{k+1} / p_k = (k + r) p / (k + 1)
    sd = math.sqrt(mean / q)
    lo = int(max(0.0, mean - 13 * sd - 50))
    hi = int(mean + 13 * sd + 50 / q + 50)
    return ratio_entropy(lambda k: np.log((k + r) / (k + 1.0)) + math.log(p), lo, hi)


def _decimal_pq(probs=None, logits=None):
    """(p, 1 - p) as 50-digit decimals, exact for the double passed."""
    D = decimal.Decimal
    if logits is None:
        return D(float(probs)), 1 - D(float(probs))
    e = D(-float(logits)).exp()
    return 1 / (1 + e), e / (1 + e)


def binomial_decimal(n, probs=None, logits=None):
    """-sum_k p_k log p_k of Binomial(n, p), n small, in 50-digit decimal arithmetic
    (n = 1: Bernoulli's -p log p - q log q)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        p, q = _decimal_pq(probs, logits)
        h = decimal.Decimal(0)
        for k in range(n + 1):
            pk = math.comb(n, k) * p ** k * q ** (n - k)
            if pk > 0:
                h -= pk * pk.ln()
        return float(h)


def bernoulli_decimal(logits):
    return binomial_decimal(1, logits=logits)


def geometric_decimal(probs=None, logits=None):
    """-log p - q log(q) / p, in 50-digit decimal arithmetic."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        p, q = _decimal_pq(probs, logits)
        return float(-p.ln() - (q * q.ln() / p if q > 0 else 0))


def categorical_reference(probs=None, logits=None):
    """-sum p log p over the categories, in 50-digit decimal arithmetic."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        if logits is None:
            w = [decimal.Decimal(float(v)) for v in np.ravel(probs)]
        else:
            top = max(np.ravel(logits))
            w = [decimal.Decimal(float(v) - top).exp() for v in np.ravel(logits)]
        tot = sum(w)
        return float(-sum((x / tot) * (x / tot).ln() for x in w if x > 0))


# (id, distribution, exact entropy): ordinary and extreme parameters of every family
def value_cases():
    out = []

    def add(name, dist, ref, atol=1e-300):
        out.append(pytest.param(dist, ref, atol, id=name))

    for loc, scale in [(0.5, 1.5), (-3.0, 1e-12), (2.0, 1e12)]:
        add("Normal(%g,%g)" % (loc, scale), lambda a=loc, b=scale: fs.Normal(a, b),
            lambda a=loc, b=scale: stats.norm(a, b).entropy())
        add("LogNormal(%g,%g)" % (loc, scale), lambda a=loc, b=scale: fs.LogNormal(a, b),
            lambda a=loc, b=scale: stats.lognorm(b, scale=math.exp(a)).entropy())
    for rate in [1.5, 1e-12, 1e12]:
        add("Exponential(%g)" % rate, lambda r=rate: fs.Exponential(r),
            lambda r=rate: stats.expon(scale=1.0 / r).entropy())
    for loc, scale in [(0.5, 1.5), (-3.0, 1e-12), (2.0, 1e12)]:
        add("Laplace(%g,%g)" % (loc, scale), lambda a=loc, b=scale: fs.Laplace(a, b),
            lambda a=loc, b=scale: stats.laplace(a, b).entropy())
    for a, r in [(2.5, 1.5), (1e-3, 1.0), (1e3, 1e-6), (0.7, 1e9)]:
        add("Gamma(%g,%g)" % (a, r), lambda a=a, r=r: fs.Gamma(a, r),
            lambda a=a, r=r: stats.gamma(a, scale=1.0 / r).entropy())
    for a, b in [(2.0, 3.0), (1e-3, 1e-3), (1e3, 1e3), (1e-3, 1e3)]:
        add("Beta(%g,%g)" % (a, b), lambda a=a, b=b: fs.Beta(a, b),
            lambda a=a, b=b: stats.beta(a, b).entropy())
    # the uniform: an entropy of 0, from terms of order 1 (so to 1e-15 absolute)
    add("Beta(1,1)", lambda: fs.Beta(1.0, 1.0), lambda: 0.0, atol=1e-15)
    for al in [[1.5, 2.0, 0.8], [1e-3, 1e-3, 1e-3], [1e3, 1e3, 2e3], [1e-3, 1.0, 1e3]]:
        add("Dirichlet(%s)" % al, lambda al=al: fs.Dirichlet(al),
            lambda al=al: stats.dirichlet(al).entropy())
    for df in [3.0, 1e-3, 1e3, 2.0]:
        add("Chi2(%g)" % df, lambda k=df: fs.Chi2(k), lambda k=df: stats.chi2(k).entropy())
    for k in [1e-3, 2.0, 19.0, 21.0, 50.0, 1e3]:
        add("VonMises(%g)" % k, lambda k=k: fs.VonMises(0.3, k),
            lambda k=k: stats.vonmises(k, loc=0.3).entropy())
    for L in [L3, 1e-8 * L3, 1e8 * L3, np.diag([0.1, 1.0, 10.0])]:
        add("MultivariateNormal(%g,%g)" % (L[0, 0], L[2, 2]),
            lambda L=L: fs.MultivariateNormal(np.zeros(3), L),
            lambda L=L: stats.multivariate_normal(np.zeros(3), L @ L.T).entropy())
    # scipy's bernoulli, binom and geom round 1 - p: 50-digit decimals where it shows
    for p in [0.3, 0.0, 1.0, 0.999999]:
        add("Bernoulli(probs=%g)" % p, lambda p=p: fs.Bernoulli(probs=p),
            lambda p=p: stats.bernoulli(p).entropy())
    add("Bernoulli(probs=1e-9)", lambda: fs.Bernoulli(probs=1e-9),
        lambda: binomial_decimal(1, probs=1e-9))
    for lg in [-0.4, 2.0]:
        add("Bernoulli(logits=%g)" % lg, lambda lg=lg: fs.Bernoulli(logits=lg),
            lambda lg=lg: stats.bernoulli(special.expit(lg)).entropy())
    for lg in [-40.0, 40.0, 700.0]:
        add("Bernoulli(logits=%g)" % lg, lambda lg=lg: fs.Bernoulli(logits=lg),
            lambda lg=lg: bernoulli_decimal(lg))
    for pr in [[1.0, 2.0, 3.0, 0.5], [1.0, 0.0, 1.0], [1e-300, 1.0], [1.0, 1e-20], [5.0]]:
        add("Categorical(probs=%s)" % pr, lambda pr=pr: fs.Categorical(probs=pr),
            lambda pr=pr: categorical_reference(probs=pr))
    for lg in [[0.2, -0.5, 1.0], [40.0, -40.0, 0.0], [-800.0, 0.0]]:
        add("Categorical(logits=%s)" % lg, lambda lg=lg: fs.Categorical(logits=lg),
            lambda lg=lg: categorical_reference(logits=lg))
    for p in [0.3, 1e-12, 0.999, 1.0]:
        # scipy's geom counts trials (from 1), fastscore's failures (from 0): same entropy
        add("Geometric(probs=%g)" % p, lambda p=p: fs.Geometric(probs=p),
            lambda p=p: stats.geom(p).entropy() if p < 1 else 0.0)
    add("Geometric(logits=-0.5)", lambda: fs.Geometric(logits=-0.5),
        lambda: stats.geom(special.expit(-0.5)).entropy())
    for lg in [-30.0, 30.0]:
        add("Geometric(logits=%g)" % lg, lambda lg=lg: fs.Geometric(logits=lg),
            lambda lg=lg: geometric_decimal(logits=lg))
    for lam in [1e-3, 3.0, 25.0, 1e4, 1e7, 3e6, 2e7]:
        add("Poisson(%g)" % lam, lambda r=lam: fs.Poisson(r), lambda r=lam: poisson_reference(r))
    for n, p in [(1, 0.3), (10, 0.3), (1000, 0.3), (1000, 1e-4), (1000, 0.999),
                 (0, 0.4), (20, 0.0), (20, 1.0)]:
        add("Binomial(%d,probs=%g)" % (n, p), lambda n=n, p=p: fs.Binomial(n, probs=p),
            lambda n=n, p=p: stats.binom(n, p).entropy())
    add("Binomial(1,probs=1e-8)", lambda: fs.Binomial(1, probs=1e-8),
        lambda: binomial_decimal(1, probs=1e-8))
    for n, lg in [(1000, 2.0), (10**6, 0.7)]:
        add("Binomial(%d,logits=%g)" % (n, lg), lambda n=n, lg=lg: fs.Binomial(n, logits=lg),
            lambda n=n, lg=lg: stats.binom(n, special.expit(lg)).entropy())
    add("Binomial(30,logits=-40)", lambda: fs.Binomial(30, logits=-40.0),
        lambda: binomial_decimal(30, logits=-40.0))
    for r, p in [(3.5, 0.4), (1.0, 0.5), (1e-3, 0.5), (40.0, 0.7), (10.0, 0.99),
                 (2.5, 0.999), (0.5, 0.9999), (1e4, 0.3), (1e-3, 1e-6)]:
        add("NegativeBinomial(%g,probs=%g)" % (r, p),
            lambda r=r, p=p: fs.NegativeBinomial(r, probs=p),
            lambda r=r, p=p: nbinom_reference(r, p))
    for r, lg in [(2.0, -0.3), (5.0, 3.0)]:
        add("NegativeBinomial(%g,logits=%g)" % (r, lg),
            lambda r=r, lg=lg: fs.NegativeBinomial(r, logits=lg),
            lambda r=r, lg=lg: nbinom_reference(r, special.expit(lg)))
    return out


def check_value(got, want, what="entropy", atol=1e-300):
    got = np.asarray(got, dtype=np.float64)
    assert np.all(np.isfinite(got)), "%s: not finite: %r" % (what, got)
    assert_close(got, np.asarray(want, dtype=np.float64), rtol=RTOL, atol=atol, what=what)


@pytest.mark.parametrize("make, ref, atol", value_cases())
def test_value_against_scipy(make, ref, atol):
    d = make()
    h = d.entropy()
    assert isinstance(h, np.float64)  # batch_shape (): a numpy float64, as fs.estimate's value
    check_value(h, ref(), atol=atol)
    h2, g = d.entropy(grad=True)
    assert h2 == h
    assert list(g) == list(d.param_names)


def test_value_batch_matches_elements():
    # a batch of shape (2, 3) holds each element's own entropy
    lam = np.array([[1e-3, 3.0, 1e4], [1e7, 25.0, 0.5]])
    h = fs.Poisson(lam).entropy()
    assert h.shape == (2, 3) and h.dtype == np.float64
    for i in np.ndindex(2, 3):
        assert_close(h[i], fs.Poisson(lam[i]).entropy(), rtol=1e-14)
    c = fs.Categorical(logits=np.arange(24.0).reshape(2, 3, 4) % 5)
    hc = c.entropy()
    assert hc.shape == (2, 3)
    for i in np.ndindex(2, 3):
        check_value(hc[i], categorical_reference(logits=c._differentiable["logits"][i]))


def test_logits_40_and_zero_probabilities():
    # Bernoulli at logits +-40: tiny, positive, symmetric, no NaN; a zero category adds 0
    h, g = fs.Bernoulli(logits=[-40.0, 40.0]).entropy(grad=True)
    assert np.all(h > 0) and h[0] == h[1] and np.all(np.isfinite(g["logits"]))
    check_value(h, [bernoulli_decimal(40.0)] * 2)
    assert fs.Categorical(probs=[0.5, 0.0, 0.5]).entropy() == fs.Categorical(
        probs=[0.5, 0.5]).entropy()
    assert fs.Categorical(probs=[1.0, 0.0]).entropy() == 0.0


# ------------------------------------------------------------------ gradients
def _fd_check(build, params, name, grad, rel_step=1e-5, rtol=1e-6, what=""):
    """Central finite differences of entropy() in every component of params[name],
    all batch elements at once (they are independent), against ``grad``."""
    theta = np.asarray(params[name], dtype=np.float64)
    fd = np.zeros(theta.shape)
    batch_shape = np.shape(build(params).entropy())
    event = theta.shape[len(batch_shape):]
    for comp in np.ndindex(*event) if event else [()]:
        if name == "scale_tril" and comp[1] > comp[0]:
            continue  # above the diagonal: not a parameter (its gradient is zero)
        sel = (Ellipsis,) + comp
        base = np.abs(theta[sel])
        if name == "probs":  # stay inside [0, 1] (Categorical's weights may exceed 1)
            base = np.where(base < 1.0, np.minimum(base, 1.0 - base), base)
        h = rel_step * np.where(base > 0, base, 1e-3)
        up, dn = theta.copy(), theta.copy()
        up[sel] = theta[sel] + h
        dn[sel] = theta[sel] - h
        hu = np.asarray(build({**params, name: up}).entropy())
        hd = np.asarray(build({**params, name: dn}).entropy())
        fd[sel] = (hu - hd) / (2.0 * h)
        # the rounding of the two values, over the step, bounds what can be compared
        noise = 1e3 * np.finfo(float).eps * np.maximum(np.abs(hu), np.abs(hd)) / h
        g = grad[sel]
        bad = ~(np.abs(g - fd[sel]) <= rtol * np.abs(fd[sel]) + noise)
        assert not bad.any(), "%s d/d%s%s: %r vs finite differences %r" % (
            what, name, comp, g[bad], fd[sel][bad])
    return fd


GRAD_CASES = [c for c in CASES if not c.cls.relaxed]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_gradient_finite_differences_batch(case):
    index = [0, 1, 2, 2, 0, 1]  # the first three elements (inside the parameter space)
    params = case.params((2, 3), index)
    d = case.build(params)
    h, g = d.entropy(grad=True)
    assert h.shape == (2, 3) and h.dtype == np.float64
    assert list(g) == list(d.param_names)
    for name in d.param_names:
        assert g[name].shape == d.param_shape(name) and g[name].dtype == np.float64
        full = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        _fd_check(case.build, full, name, g[name], what=case.name)
        # each element's gradient is that of the element alone
        for j, i in enumerate(np.ndindex(2, 3)):
            e = case.build(case.element(index[j]))
            assert_close(g[name][i], e.entropy(grad=True)[1][name], rtol=1e-13, atol=1e-300)


def extreme_gradient_cases():
    P = pytest.param
    return [
        P(fs.Normal, {"loc": [0.0, 1.0], "scale": [1e-12, 1e12]}, id="Normal"),
        P(fs.LogNormal, {"loc": [0.0, 5.0], "scale": [1e-6, 1e6]}, id="LogNormal"),
        P(fs.Exponential, {"rate": [1e-9, 1e9]}, id="Exponential"),
        P(fs.Laplace, {"loc": [0.0, 1.0], "scale": [1e-12, 1e12]}, id="Laplace"),
        P(fs.Gamma, {"concentration": [1e-3, 19.0, 21.0, 1e3, 1e8], "rate": [1.0, 2.0, 1e-3, 1e3,
                                                                             1.0]}, id="Gamma"),
        P(fs.Beta, {"concentration1": [1e-3, 1e3, 1e-3, 25.0], "concentration0": [1e-3, 1e3, 1e3,
                                                                                  2.0]}, id="Beta"),
        P(fs.Dirichlet, {"concentration": [[1e-3, 1e-3, 1e-3], [1e3, 2e3, 5.0]]}, id="Dirichlet"),
        P(fs.Chi2, {"df": [1e-3, 39.0, 41.0, 1e3]}, id="Chi2"),
        P(fs.VonMises, {"loc": [0.0] * 5, "concentration": [1e-3, 10.0, 19.9, 20.1, 1e3]},
          id="VonMises"),
        P(fs.MultivariateNormal, {"loc": np.zeros(2), "scale_tril": [[1e-6, 0.0], [3.0, 1e6]]},
          id="MultivariateNormal"),
        P(fs.Bernoulli, {"logits": [-40.0, 40.0, 1e-3]}, id="Bernoulli(logits)"),
        P(fs.Bernoulli, {"probs": [1e-9, 0.5, 0.999999]}, id="Bernoulli(probs)"),
        P(fs.Categorical, {"logits": [[40.0, -40.0, 0.0], [0.0, 1e-3, -1e-3]]},
          id="Categorical(logits)"),
        P(fs.Categorical, {"probs": [[1e-9, 1.0, 2.0], [1e3, 1.0, 1e-3]]}, id="Categorical(probs)"),
        P(fs.Geometric, {"logits": [-30.0, 0.0, 30.0]}, id="Geometric(logits)"),
        P(fs.Geometric, {"probs": [1e-12, 0.5, 0.999]}, id="Geometric(probs)"),
        P(fs.Poisson, {"rate": [1e-3, 3.0, 1e4, 9e6, 1.1e7, 1e12]}, id="Poisson"),
        P(fs.Binomial, {"total_count": [1, 1000, 10**9, 10**6],
                                         "probs": [0.3, 0.3, 0.5, 1e-4]}, id="Binomial(probs)"),
        P(fs.Binomial, {"total_count": [1, 1000, 10**9, 30],
                                         "logits": [40.0, 2.0, 0.3, -40.0]}, id="Binomial(logits)"),
        P(fs.NegativeBinomial, {
            "total_count": [1e-3, 1.0, 2.5, 1e8, 3e7], "probs": [0.5, 0.999, 1e-6, 0.3, 0.2]},
          id="NegativeBinomial(probs)"),
        P(fs.NegativeBinomial, {
            "total_count": [1e-3, 1.0, 1e8], "logits": [0.0, 6.0, -1.0]},
          id="NegativeBinomial(logits)"),
    ]


@pytest.mark.parametrize("cls, params", extreme_gradient_cases())
def test_gradient_finite_differences_extremes(cls, params):
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    d = cls(**params)
    h, g = d.entropy(grad=True)
    assert np.all(np.isfinite(h))
    for name in d.param_names:
        assert np.all(np.isfinite(g[name]))
        _fd_check(lambda p: cls(**p), params, name, g[name], what=d._name)


def test_gradient_at_the_edges():
    # one-sided limits where the entropy is not differentiable: +-inf, never NaN
    _, g = fs.Bernoulli(probs=[0.0, 1.0]).entropy(grad=True)
    assert g["probs"].tolist() == [np.inf, -np.inf]
    _, g = fs.Binomial([5, 5, 0], probs=[0.0, 1.0, 0.3]).entropy(grad=True)
    assert g["probs"].tolist() == [np.inf, -np.inf, 0.0]
    _, g = fs.Geometric(probs=1.0).entropy(grad=True)
    assert g["probs"] == -np.inf
    _, g = fs.NegativeBinomial(2.0, probs=0.0).entropy(grad=True)
    assert g["probs"] == np.inf
    _, g = fs.Categorical(probs=[1.0, 0.0]).entropy(grad=True)
    assert g["probs"].tolist() == [0.0, np.inf]


# ------------------------------------------------- keys and shapes vs estimate
@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_gradient_keys_and_shapes_match_estimate(case, shape):
    d = case.make(shape, [0, 1, 2, 2, 0, 1] if shape else None)
    est = fs.estimate(d, lambda x: np.zeros(x.shape[:1 + len(d.batch_shape)]), n=8, rng=0)
    h, g = d.entropy(grad=True)
    assert np.shape(h) == np.shape(est.value) == tuple(d.batch_shape)
    assert type(h) is type(est.value)
    assert list(g) == list(est.grad)
    for k in est.grad:
        assert g[k].shape == est.grad[k].shape
    if case.cls is fs.MultivariateNormal:
        D = d.event_shape[0]
        assert not g["scale_tril"][..., np.triu_indices(D, 1)[0], np.triu_indices(D, 1)[1]].any()


# ------------------------------------------------- the sums and the expansions
@pytest.mark.parametrize("make, var", [
    (lambda: fs.Poisson([2e6, 5e6]), [2e6, 5e6]),
    (lambda: fs.Binomial([10**7, 3 * 10**7], probs=[0.3, 0.2]), [2.1e6, 4.8e6]),
    (lambda: fs.Binomial([10**7, 3 * 10**7], logits=[-0.5, 1.0]), None),
    (lambda: fs.NegativeBinomial([5e6, 2e7], probs=[0.5, 0.1]), None),
    (lambda: fs.NegativeBinomial([5e6, 2e7], logits=[-0.5, 1.0]), None),
], ids=["Poisson", "Binomial(probs)", "Binomial(logits)", "NegativeBinomial(probs)",
        "NegativeBinomial(logits)"])
def test_exact_sum_agrees_with_expansion(make, var, monkeypatch):
    # below the switch the sum; the expansion forced there gives the same numbers
    d = make()
    h_sum, g_sum = d.entropy(grad=True)
    monkeypatch.setattr(_entropy, "ASYMPTOTIC_VARIANCE", 1e6)
    h_asym, g_asym = make().entropy(grad=True)
    assert_close(h_asym, h_sum, rtol=1e-13, what="value")
    for k in g_sum:
        assert_close(g_asym[k], g_sum[k], rtol=1e-9, what="grad[%r]" % k)


@pytest.mark.parametrize("make, var", [
    (lambda: fs.Poisson([1e3, 3e3]), np.array([1e3, 3e3])),
    (lambda: fs.Binomial([10**4, 3 * 10**4], probs=[0.3, 0.9]), np.array([2.1e3, 2.7e3])),
    (lambda: fs.NegativeBinomial([1e4, 3e4], logits=[-1.0, 2.0]), None),
], ids=["Poisson", "Binomial", "NegativeBinomial"])
def test_expansion_coefficients(make, var, monkeypatch):
    # at variances of ~1e3 the expansion's terms are large enough to check each
    # coefficient: it meets the sum to its next order (Poisson: 19 / (360 rate^3);
    # Binomial and NegativeBinomial: 0.1 / var^2, or (r p)^-2)
    d = make()
    h_sum, g_sum = d.entropy(grad=True)
    if var is None:
        var = d.total_count * d.probs
    monkeypatch.setattr(_entropy, "ASYMPTOTIC_VARIANCE", 10.0)
    h_asym, g_asym = make().entropy(grad=True)
    order = 0.06 / var ** 3 if isinstance(d, fs.Poisson) else 0.1 / var ** 2
    assert np.all(np.abs(h_asym - h_sum) < order)
    assert not np.all(np.abs(h_asym - h_sum) < order / 1e3)  # the next order is there
    (k,) = g_sum
    assert_close(g_asym[k], g_sum[k], rtol=float(1e3 * order.max()))


def test_poisson_huge_rates():
    # beyond any sum: the expansion, finite, increasing, with the right derivative
    lam = np.array([1e12, 1e15, 1e18, 9e18])
    h, g = fs.Poisson(lam).entropy(grad=True)
    assert np.all(np.diff(h) > 0)
    assert_close(h, 0.5 * np.log(2 * np.pi * np.e * lam), rtol=1e-12)
    assert_close(g["rate"], 0.5 / lam, rtol=1e-11)


def test_negative_binomial_too_wide_raises():
    d = fs.NegativeBinomial([[1.0, 2.0], [1.0, 1.0]], probs=[[0.5, 0.5], [0.5, 1 - 1e-7]])
    with pytest.raises(ValueError, match=r"'probs'.*0\.9999999.*\(1, 1\)"):
        d.entropy()
    with pytest.raises(ValueError, match="'logits'"):
        fs.NegativeBinomial(1.0, logits=17.0).entropy()


def test_window_holds_the_mass():
    # the Chernoff windows leave out less than 1e-16 on either side (scipy's cdf and sf)
    lam = np.array([1e-3, 3.0, 1e4, 9e6])
    lo, hi = _entropy.chernoff_window(lambda a: _entropy.bd0(a, lam), lam, np.sqrt(lam))
    out = stats.poisson.cdf(lo - 1, lam) + stats.poisson.sf(hi, lam)
    assert np.all(out < 1e-16)
    assert np.all(hi - lo < 30 * np.sqrt(lam) + 60)


def test_invalid_parameters_without_validation_give_nan():
    # validate_args=False: NaN for the invalid elements, the valid ones as usual
    h, g = fs.Poisson([-1.0, np.nan, 2.0], validate_args=False).entropy(grad=True)
    assert np.isnan(h[:2]).all() and np.isnan(g["rate"][:2]).all()
    assert_close(h[2], stats.poisson(2.0).entropy())
    h = fs.Binomial([2.5, -1, 3], probs=[0.3, 0.3, 1.5], validate_args=False).entropy()
    assert np.isnan(h).all()
    h = fs.NegativeBinomial([-1.0, 2.0, 2.0], probs=[0.3, 1.0, 0.5],
                            validate_args=False).entropy()
    assert np.isnan(h[:2]).all() and np.isfinite(h[2])


# ------------------------------------------------------------------- relaxed
@pytest.mark.parametrize("d", [fs.RelaxedBernoulli(0.5, logits=0.3),
                               fs.RelaxedBernoulli(0.5, probs=[0.3, 0.6]),
                               fs.RelaxedCategorical(0.5, logits=[0.0, 1.0]),
                               fs.RelaxedCategorical(1.5, probs=[[1.0, 2.0]])],
                         ids=["RelaxedBernoulli", "RelaxedBernoulli(batch)",
                              "RelaxedCategorical", "RelaxedCategorical(batch)"])
@pytest.mark.parametrize("grad", [False, True])
def test_relaxed_not_implemented(d, grad):
    with pytest.raises(NotImplementedError, match=type(d).__name__):
        d.entropy(grad=grad)


def test_every_public_family_has_entropy():
    for name in fs.distributions.__all__:
        cls = getattr(fs, name)
        if name != "Distribution":
            assert cls.entropy is not getattr(fs.Distribution, "entropy", None), name
            assert "Examples" in cls.entropy.__doc__, name


# --------------------------------------------------- the checks can fail
def test_checks_catch_a_wrong_value():
    want = float(stats.norm(0.0, 2.0).entropy())
    check_value(want * (1 + 1e-11), want)
    with pytest.raises(AssertionError):
        check_value(want * (1 + 1e-9), want)
    with pytest.raises(AssertionError):
        check_value(np.array([want]), want)  # a wrong shape
    with pytest.raises(AssertionError):
        check_value(np.nan, want)


def test_checks_catch_a_wrong_constant(monkeypatch):
    # 1/2 log(2 pi) in place of 1/2 log(2 pi e): Normal's value test fails
    monkeypatch.setattr(_entropy, "HALF_LOG_2PIE", 0.5 * _entropy.LOG_2PI)
    with pytest.raises(AssertionError):
        check_value(fs.Normal(0.0, 2.0).entropy(), stats.norm(0.0, 2.0).entropy())
    # and a wrong Stirling coefficient fails Gamma's at a large concentration
    monkeypatch.undo()
    monkeypatch.setattr(_entropy, "_BERNOULLI", (1.0 / 6.0, -1.0 / 31.0) + _entropy._BERNOULLI[2:])
    with pytest.raises(AssertionError):
        check_value(fs.Gamma(25.0, 1.0).entropy(), stats.gamma(25.0).entropy())


def test_checks_catch_a_truncated_sum(monkeypatch):
    # a window that leaves out e^-8 of the mass is caught by the value test
    monkeypatch.setattr(_entropy, "TAIL_EXPONENT", 8.0)
    with pytest.raises(AssertionError):
        check_value(fs.Poisson(25.0).entropy(), poisson_reference(25.0))
    with pytest.raises(AssertionError):
        check_value(fs.NegativeBinomial(2.5, probs=0.999).entropy(), nbinom_reference(2.5, 0.999))


def test_checks_catch_a_wrong_gradient():
    params = {"concentration": np.array([2.0, 50.0]), "rate": np.array([1.0, 3.0])}
    _, g = fs.Gamma(**params).entropy(grad=True)
    _fd_check(lambda p: fs.Gamma(**p), params, "concentration", g["concentration"])
    with pytest.raises(AssertionError):
        _fd_check(lambda p: fs.Gamma(**p), params, "concentration",
                  g["concentration"] * (1 + 1e-4))
    with pytest.raises(AssertionError):  # the gradient in the other parameter
        _fd_check(lambda p: fs.Gamma(**p), params, "concentration", g["rate"])


def test_checks_catch_a_wrong_expansion(monkeypatch):
    # a wrong 1/(12 var) coefficient of Poisson's expansion is caught by the agreement test
    d = fs.Poisson(2e6)
    h_sum = d.entropy()
    monkeypatch.setattr(_entropy, "ASYMPTOTIC_VARIANCE", 1e6)
    h_asym = fs.Poisson(2e6).entropy()
    assert_close(h_asym, h_sum, rtol=1e-13)
    with pytest.raises(AssertionError):
        assert_close(h_asym + 1.0 / (12 * 2e6) * 0.01, h_sum, rtol=1e-13)
