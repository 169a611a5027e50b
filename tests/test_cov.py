"""Covariances of the gradient (cov=True), est.components and est.stderr_of."""

import numpy as np
import pytest
from scipy import stats

import fastscore as fs

R = 20000


@pytest.mark.parametrize("method", ["plain", "baseline", "rloo", "cv"])
@pytest.mark.parametrize("n", [2, 5, 40])
def test_stderr_squared_is_the_diagonal_exactly(method, n):
    d = fs.Normal(np.array([[0.5, -1.0], [2.0, 0.3]]), 1.5)
    est = fs.estimate(d, lambda x: x ** 3 - x, n, rng=n, method=method, cov=True,
                      baseline=0.5 if method == "baseline" else None)
    assert est.components == [("loc", ()), ("scale", ())]
    assert est.cov.shape == (2, 2, 2, 2)
    diag = np.diagonal(est.cov, axis1=-2, axis2=-1)
    assert np.array_equal(diag[..., 0], est.stderr["loc"] ** 2)
    assert np.array_equal(diag[..., 1], est.stderr["scale"] ** 2)
    assert np.array_equal(est.cov, np.swapaxes(est.cov, -1, -2))


@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_both_backends_agree(backend):
    d = fs.Categorical(logits=np.array([[0.0, 1.0, -1.0], [0.5, 0.0, 0.0]]))
    got = fs.estimate(d, fs.fn.table([1.0, 2.0, 4.0]), 300, rng=3, method="cv", cov=True,
                      backend=backend)
    want = fs.estimate(d, fs.fn.table([1.0, 2.0, 4.0]), 300, rng=3, method="cv", cov=True)
    np.testing.assert_allclose(got.cov, want.cov, rtol=1e-10, atol=1e-14)
    assert [c[0] for c in got.components] == ["logits"] * 3


@pytest.mark.parametrize("estimator,method", [("score", "plain"), ("score", "rloo"),
                                              ("score", "cv"), ("pathwise", "plain"),
                                              ("measure", "plain")])
def test_cov_matches_the_spread_across_runs(estimator, method):
    """The mean covariance over R independent rows against the rows' covariance."""
    d = fs.Normal(np.full(R, 0.5), np.full(R, 1.5))
    est = fs.estimate(d, fs.fn.power(2), 8, rng=11, estimator=estimator, method=method, cov=True)
    g = np.stack([est.grad["loc"], est.grad["scale"]], axis=-1)
    emp = np.cov(g.T)
    model = est.cov.mean(axis=0)
    sd = np.sqrt(np.outer(np.diag(emp), np.diag(emp)))
    assert np.all(np.abs(emp - model) < 0.06 * sd), (emp, model)


def test_black_scholes_vega_stderr_matches_the_spread():
    """vega = sqrt(T) d/dscale - sigma T d/dloc of the LogNormal terminal price
    (loc = log S0 + (r - sigma^2/2) T, scale = sigma sqrt(T)); its stderr from stderr_of."""
    S0, K, r, sigma, T = 100.0, 105.0, 0.02, 0.25, 0.5
    loc = np.log(S0) + (r - sigma ** 2 / 2) * T
    d = fs.LogNormal(np.full(R, loc), np.full(R, sigma * np.sqrt(T)))
    est = fs.estimate(d, fs.fn.call(K), 64, rng=5, method="rloo", cov=True)
    w = {"scale": np.sqrt(T), "loc": -sigma * T}
    vega = w["scale"] * est.grad["scale"] + w["loc"] * est.grad["loc"]
    se = est.stderr_of(w)
    assert se.shape == (R,)
    ratio = vega.var(ddof=1) / np.mean(se ** 2)
    assert 0.9 < ratio < 1.1, ratio
    F = S0 * np.exp(r * T)                      # undiscounted: d/dsigma E[(S_T - K)+]
    d1 = (np.log(F / K) + sigma ** 2 * T / 2) / (sigma * np.sqrt(T))
    exact = F * stats.norm.pdf(d1) * np.sqrt(T)
    assert abs(vega.mean() - exact) < 4.5 * vega.std() / np.sqrt(R)


def test_stderr_of_needs_cov_and_known_names():
    est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, rng=0)
    assert est.cov is None and est.components == [("loc", ()), ("scale", ())]
    with pytest.raises(ValueError, match="cov=True"):
        est.stderr_of({"loc": 1.0})
    est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, rng=0, cov=True)
    with pytest.raises(KeyError, match="'rate'"):
        est.stderr_of({"rate": 1.0})
    with pytest.raises(ValueError, match="broadcast"):
        est.stderr_of({"loc": [1.0, 2.0]})
    with pytest.raises(TypeError, match="cov"):
        fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), 100, rng=0, cov="yes")


def test_vector_parameters_flatten_in_c_order():
    d = fs.MultivariateNormal(np.zeros(2), scale_tril=np.array([[1.0, 0.0], [0.3, 0.8]]))
    est = fs.estimate(d, fs.fn.linear([1.0, 2.0]), 500, rng=1, method="rloo", cov=True)
    names = [c for c in est.components]
    assert names[:2] == [("loc", (0,)), ("loc", (1,))]
    assert names[2:] == [("scale_tril", (i, j)) for i in range(2) for j in range(2)]
    P = len(names)
    assert est.cov.shape == (P, P)
    flat = np.concatenate([est.stderr["loc"].ravel(), est.stderr["scale_tril"].ravel()])
    assert np.array_equal(np.diag(est.cov), flat ** 2)
    assert np.all(est.cov[3] == 0.0)   # the entry above the diagonal is not a parameter


def test_rebar_refuses_cov():
    d = fs.Bernoulli(logits=0.3)
    with pytest.raises(NotImplementedError, match="cov=True"):
        fs.estimate(d, fs.fn.table([0.0, 1.0]), 100, rng=0, estimator="rebar", cov=True)


@pytest.mark.parametrize("d,f,estimator", [
    (fs.Poisson(np.array([3.0, 0.5])), fs.fn.power(2), "measure"),
    (fs.Categorical(logits=np.array([[0.0, 1.0, -1.0], [0.5, 0.0, 0.0]])),
     fs.fn.table([1.0, 2.0, 4.0]), "measure"),
    (fs.Bernoulli(logits=np.array([-0.4, 1.0])), fs.fn.table([0.3, 1.7]), "arm"),
    (fs.Bernoulli(logits=np.array([-0.4, 1.0])), fs.fn.table([0.3, 1.7]), "disarm"),
    (fs.Bernoulli(logits=np.array([-0.4, 1.0])), fs.fn.table([0.3, 1.7]), "concrete"),
])
def test_other_kinds_diagonal_and_backends(d, f, estimator):
    kw = {"temperature": 0.5} if estimator == "concrete" else {}
    est = fs.estimate(d, f, 500, rng=2, estimator=estimator, cov=True, **kw)
    ref = fs.estimate(d, f, 500, rng=2, estimator=estimator, cov=True, backend="reference", **kw)
    flat = np.concatenate([v.reshape(2, -1) for v in est.stderr.values()], axis=1)
    assert np.array_equal(np.diagonal(est.cov, axis1=-2, axis2=-1), flat ** 2)
    np.testing.assert_allclose(est.cov, ref.cov, rtol=1e-9, atol=1e-15)
