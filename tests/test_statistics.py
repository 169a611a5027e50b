"""Statistical truths: scores vs finite differences of scipy.stats log-densities,
estimates vs closed-form gradients, confidence-interval coverage, and stability
of rloo/cv under a large shift of f.
"""

import numpy as np
import pytest
from scipy import special, stats

import fastscore as fs

# ---------------------------------------------------------------------------
# scores vs central finite differences of scipy.stats
# ---------------------------------------------------------------------------


def central_diff(logp, theta, h):
    """d logp / d theta by central differences (theta an array, perturbed elementwise)."""
    return (logp(theta + h) - logp(theta - h)) / (2.0 * h)


def test_normal_score_vs_scipy(assert_close):
    loc = np.array([0.5, -1.0, 3.0])
    scale = np.array([1.0, 0.3, 2.5])
    x = np.array([[0.0, -1.2, 3.0], [2.0, 0.5, -4.0], [-1.5, -1.0, 7.5], [0.5, -0.7, 1.0]])
    s = fs.score(fs.Normal(loc, scale), x)
    assert list(s) == ["loc", "scale"]
    h = 1e-6
    fd_loc = central_diff(lambda t: stats.norm.logpdf(x, t, scale), loc, h)
    fd_scale = central_diff(lambda t: stats.norm.logpdf(x, loc, t), scale, h)
    assert_close(s["loc"], fd_loc, 1e-6, 1e-7, "loc")
    assert_close(s["scale"], fd_scale, 1e-6, 1e-7, "scale")


def test_poisson_score_vs_scipy(assert_close):
    rate = np.array([0.4, 3.0, 25.0])
    x = np.array([[0, 3, 25], [1, 0, 40], [5, 7, 10], [2, 1, 0]])
    s = fs.score(fs.Poisson(rate), x)
    fd = central_diff(lambda t: stats.poisson.logpmf(x, t), rate, 1e-6)
    assert_close(s["rate"], fd, 1e-6, 1e-7)


def test_bernoulli_probs_score_vs_scipy(assert_close):
    p = np.array([0.1, 0.5, 0.93])
    x = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0]])
    s = fs.score(fs.Bernoulli(probs=p), x)
    fd = central_diff(lambda t: stats.bernoulli.logpmf(x, t), p, 1e-7)
    assert_close(s["probs"], fd, 1e-6, 1e-7)


def test_bernoulli_logits_score_vs_scipy(assert_close):
    lg = np.array([-2.0, 0.0, 1.3])
    x = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 0]])
    s = fs.score(fs.Bernoulli(logits=lg), x)
    fd = central_diff(lambda t: stats.bernoulli.logpmf(x, special.expit(t)), lg, 1e-6)
    assert_close(s["logits"], fd, 1e-6, 1e-8)


def _categorical_fd(x, theta, to_p, h=1e-6):
    """FD of log p_x w.r.t. each theta_k; x (m, B), theta (B, K) -> (m, B, K)."""
    m, B = x.shape
    K = theta.shape[-1]
    onehot = np.eye(K)[x]                        # (m, B, K)
    out = np.empty((m, B, K))
    for k in range(K):
        e = np.zeros_like(theta)
        e[:, k] = h
        lp = [stats.multinomial.logpmf(onehot, 1, to_p(theta + sgn * e)) for sgn in (1, -1)]
        out[:, :, k] = (lp[0] - lp[1]) / (2 * h)
    return out


def test_categorical_probs_score_vs_scipy(assert_close):
    probs = np.array([[1.0, 2.0, 3.0, 0.5], [0.1, 0.1, 0.3, 0.5]])  # first row sums to 6.5
    x = np.array([[0, 3], [2, 2], [3, 0], [1, 1]])
    s = fs.score(fs.Categorical(probs=probs), x)
    assert s["probs"].shape == (4, 2, 4)
    fd = _categorical_fd(x, probs, lambda t: t / t.sum(-1, keepdims=True))
    assert_close(s["probs"], fd, 1e-6, 1e-7)


def test_categorical_logits_score_vs_scipy(assert_close):
    logits = np.array([[0.2, -0.5, 1.0], [3.0, 0.0, -2.0]])
    x = np.array([[0, 2], [2, 1], [1, 0]])
    s = fs.score(fs.Categorical(logits=logits), x)
    fd = _categorical_fd(x, logits, lambda t: special.softmax(t, axis=-1))
    assert_close(s["logits"], fd, 1e-6, 1e-8)


def test_score_mean_is_zero_under_the_distribution():
    """E[score] = 0: the plain estimate of a constant f has zero gradient (in 4 stderr)."""
    dists = [fs.Normal(np.array([0.3, -2.0]), np.array([1.5, 0.4])), fs.Poisson([0.6, 9.0]),
             fs.Bernoulli(probs=[0.2, 0.9]), fs.Categorical(logits=[[0.0, 1.0, -1.0]])]
    for d in dists:
        x = fs.sample(d, 200_000, rng=31)
        for name, s in fs.score(d, x).items():
            m = s.mean(0)
            se = s.std(0, ddof=1) / np.sqrt(s.shape[0])
            assert np.all(np.abs(m) <= 4 * se + 1e-12), (d, name, m, se)


# ---------------------------------------------------------------------------
# estimates vs closed-form gradients
# ---------------------------------------------------------------------------
N = 200_000
METHODS = ["plain", "rloo", "cv", "baseline"]


def estimate(d, f, method, seed):
    kw = {"baseline": 1.0} if method == "baseline" else {}
    return fs.estimate(d, f, N, rng=seed, method=method, **kw)


def within(est, name, exact, k=4.0):
    g, se = est.grad[name], est.stderr[name]
    assert g.shape == np.shape(exact), (name, g.shape, np.shape(exact))
    assert np.all(se > 0), (name, se)
    dev = np.abs(g - exact) / se
    assert np.all(dev <= k), "grad[%r] = %s, exact %s: %s stderr off" % (name, g, exact, dev)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fkind", ["builtin", "python"])
def test_normal_second_moment(method, fkind):
    loc = np.array([0.5, -1.0, 2.0])
    scale = np.array([1.0, 0.5, 2.0])
    f = fs.fn.power(2) if fkind == "builtin" else (lambda x: x * x)
    est = estimate(fs.Normal(loc, scale), f, method, seed=101)
    within(est, "loc", 2 * loc)
    within(est, "scale", 2 * scale)
    assert np.all(np.abs(est.value - (loc ** 2 + scale ** 2)) <= 4 * est.value_stderr)


@pytest.mark.parametrize("method", METHODS)
def test_poisson_second_moment(method):
    rate = np.array([0.5, 3.0, 20.0])
    est = estimate(fs.Poisson(rate), fs.fn.power(2), method, seed=102)
    within(est, "rate", 1 + 2 * rate)
    assert np.all(np.abs(est.value - (rate + rate ** 2)) <= 4 * est.value_stderr)


@pytest.mark.parametrize("method", METHODS)
def test_bernoulli_logits_table(method):
    # Not logits = 0 (p = 1/2): there every rloo term (f_i - mean_{-i} f) s_i is the same
    # to first order, the stderr (first-order, as documented) is O(1/n) smaller than
    # the O(1/n) error left by the leave-one-out mean, and 4 "stderr" is not a bound.
    lg = np.array([-1.5, 0.4, 2.0])
    r = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 3.0]])  # per-element rewards (r0, r1)
    p = special.expit(lg)
    est = estimate(fs.Bernoulli(logits=lg), fs.fn.table(r), method, seed=103)
    within(est, "logits", p * (1 - p) * (r[:, 1] - r[:, 0]))
    assert np.all(np.abs(est.value - ((1 - p) * r[:, 0] + p * r[:, 1]))
                  <= 4 * est.value_stderr)


@pytest.mark.parametrize("method", METHODS)
def test_bernoulli_probs_table(method):
    p = np.array([0.2, 0.5, 0.85])
    r = np.array([1.0, -2.0])
    est = estimate(fs.Bernoulli(probs=p), fs.fn.table(r), method, seed=104)
    within(est, "probs", np.full(3, r[1] - r[0]))


@pytest.mark.parametrize("method", METHODS)
def test_categorical_logits_table(method):
    logits = np.array([[0.2, -0.5, 1.0, 0.0], [1.0, 1.0, -2.0, 0.5]])
    r = np.array([[1.0, 0.0, 2.0, -1.0], [0.0, 3.0, 1.0, 0.5]])
    p = special.softmax(logits, axis=-1)
    est = estimate(fs.Categorical(logits=logits), fs.fn.table(r), method, seed=105)
    pr = (p * r).sum(-1, keepdims=True)
    within(est, "logits", p * (r - pr))
    if method != "cv":  # cv has a baseline per coordinate
        # sum_k score_k = 0 for logits and one baseline for all k: each row sums to zero
        assert np.all(np.abs(est.grad["logits"].sum(-1)) < 1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_categorical_probs_table(method):
    probs = np.array([[1.0, 2.0, 3.0, 0.5], [0.3, 0.3, 0.2, 0.2]])  # sums 6.5 and 1
    r = np.array([1.0, 0.0, 2.0, -1.0])
    S = probs.sum(-1, keepdims=True)
    p = probs / S
    est = estimate(fs.Categorical(probs=probs), fs.fn.table(r), method, seed=106)
    # E = sum_k probs_k r_k / S  ->  dE/dprobs_k = (r_k - p.r) / S
    within(est, "probs", (r - (p * r).sum(-1, keepdims=True)) / S)


def test_closed_form_check_can_fail():
    """A wrong 'exact' gradient (off by 5%) is rejected at this n."""
    est = estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), "rloo", seed=107)
    within(est, "loc", 2.0)
    with pytest.raises(AssertionError):
        within(est, "loc", 2.1)


# ---------------------------------------------------------------------------
# coverage of the nominal 95% intervals
# ---------------------------------------------------------------------------
COVERAGE_SEEDS = range(300)
N_COVERAGE = 2000


@pytest.mark.parametrize("case", ["Normal", "Poisson", "Bernoulli"])
def test_interval_coverage(case):
    f = fs.fn.power(2)
    if case == "Normal":
        d, exact = fs.Normal(1.0, 2.0), {"loc": 2.0, "scale": 4.0}   # E[x^2] = loc^2 + scale^2
    elif case == "Poisson":
        d, exact = fs.Poisson(3.0), {"rate": 7.0}                    # E[x^2] = rate + rate^2
    else:
        # a counted family: E[r_x] = r0 + p (r1 - r0), d/dlogits = p (1 - p) (r1 - r0)
        p = 1.0 / (1.0 + np.exp(-0.4))
        d, f, exact = fs.Bernoulli(logits=0.4), fs.fn.table([-1.0, 2.0]), {
            "logits": p * (1.0 - p) * 3.0}
    report = {}
    for method in ("plain", "rloo", "cv"):
        hits = {k: 0 for k in exact}
        for seed in COVERAGE_SEEDS:
            est = fs.estimate(d, f, N_COVERAGE, rng=seed, method=method)
            for k, g in exact.items():
                hits[k] += abs(float(est.grad[k]) - g) <= 1.96 * float(est.stderr[k])
        for k in exact:
            report[(method, k)] = hits[k] / len(COVERAGE_SEEDS)
    bad = {key: cov for key, cov in report.items() if not 0.92 <= cov <= 0.98}
    assert not bad, "coverage outside [0.92, 0.98]: %s (all: %s)" % (bad, report)


# ---------------------------------------------------------------------------
# shift stability: f + 1e8 gives the same rloo and cv gradients as f
# ---------------------------------------------------------------------------
SHIFT = 1e8
SHIFT_DISTS = {
    "Normal": lambda: fs.Normal(np.array([0.5, -1.0]), np.array([1.0, 3.0])),
    "Poisson": lambda: fs.Poisson(np.array([2.0, 15.0])),
    "Bernoulli": lambda: fs.Bernoulli(logits=np.array([-0.5, 1.0])),
    "Categorical": lambda: fs.Categorical(probs=np.array([[1.0, 2.0, 3.0], [0.5, 0.2, 0.3]])),
}


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("fkind", ["builtin", "python"])
@pytest.mark.parametrize("family", list(SHIFT_DISTS))
@pytest.mark.parametrize("method", ["rloo", "cv"])
def test_shift_stability(method, family, fkind, backend, assert_close):
    d = SHIFT_DISTS[family]()
    if fkind == "builtin":
        f0, f1 = fs.fn.linear(1.0, 0.0), fs.fn.linear(1.0, SHIFT)
    else:
        def f0(x):
            return x + 0.0  # a new array (see test_api.py: returning x itself fails)

        def f1(x):
            return np.asarray(x, dtype=np.float64) + SHIFT
    n = 3 * fs.CHUNK_SIZE + 17  # several chunks: the merge must keep the shift too
    a = fs.estimate(d, f0, n, rng=7, method=method, backend=backend)
    b = fs.estimate(d, f1, n, rng=7, method=method, backend=backend)
    for k in a.grad:
        assert_close(b.grad[k], a.grad[k], 1e-6, 1e-9, "grad[%r]" % k)
        assert_close(b.stderr[k], a.stderr[k], 1e-6, 1e-9, "stderr[%r]" % k)
    assert_close(b.value, a.value + SHIFT, 1e-15)
    assert_close(b.value_stderr, a.value_stderr, 1e-6, 1e-9, "value_stderr")


def test_plain_is_not_shift_stable():
    """Contrast: plain's estimate does move with the shift (so the test above has teeth)."""
    d = SHIFT_DISTS["Normal"]()
    a = fs.estimate(d, fs.fn.linear(1.0, 0.0), 50_000, rng=7, method="plain")
    b = fs.estimate(d, fs.fn.linear(1.0, SHIFT), 50_000, rng=7, method="plain")
    assert not np.allclose(a.grad["loc"], b.grad["loc"], rtol=1e-3)
