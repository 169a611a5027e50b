"""The numerics that several families' ``entropy`` methods share.

Each family's formula lives in its class (fastscore/families/<name>.py); this
module holds the pieces more than one of them needs, computed so that they
keep full double precision where the textbook formula cancels:

* :func:`gamma_core`: G(a) = lnGamma(a) + (1 - a) digamma(a) + a and G'(a).
  The entropies of Gamma (G(a) - log rate), Chi2, Beta and Dirichlet are
  sums of G's; directly, G(a) is a difference of numbers of size a log a,
  so for large a it comes from its asymptotic series instead.
* :func:`stirlerr`, :func:`bd0`, :func:`chernoff_window` and
  :func:`lattice_entropy`: the exact sums of Poisson, Binomial and
  NegativeBinomial.  A log-probability is computed in Loader's saddle-point
  form (C. Loader, "Fast and accurate computation of binomial
  probabilities", 2000), log p = -stirlerr terms - bd0 terms - log sqrt(2 pi
  ...), whose error does not grow with the mean (the textbook k log(rate) -
  lnGamma(k + 1) - rate loses digits to cancellation at large means); the
  sum runs over the window beyond which the Chernoff bound puts less than
  exp(-TAIL_EXPONENT) = 1e-20 of the mass on either side.
"""

import math

import numpy as np
from scipy import special

LOG_2PI = math.log(2.0 * math.pi)
#: 1/2 log(2 pi e): the entropy of a standard normal.
HALF_LOG_2PIE = 0.5 * (LOG_2PI + 1.0)

#: Bernoulli numbers B_2, B_4, ..., B_16 (the Stirling series' coefficients).
_BERNOULLI = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
              7.0 / 6.0, -3617.0 / 510.0)
#: From this argument on, gamma_core and stirlerr use their asymptotic series:
#: its first omitted term is below 1e-19 there.
_SERIES_FROM = 20.0


# ---------------------------------------------------------------------------
# Gamma, Chi2, Beta, Dirichlet
# ---------------------------------------------------------------------------
def gamma_core(a, grad=False):
    """G(a) = lnGamma(a) + (1 - a) digamma(a) + a (and G'(a) = 1 + (1 - a) trigamma(a)).

    G(a) is the entropy of Gamma(a, rate=1).  From a = 20 on, by the Stirling
    series of lnGamma and digamma (Bernoulli numbers B_2k)::

        G(a)  = (1 + log(2 pi) + log a) / 2 - 1 / (2 a)
                + sum_k B_2k (a^(1-2k) / (2k - 1) - a^(-2k) / (2k))
        G'(a) = 1 / (2 a) + 1 / (2 a^2) + sum_k B_2k (a^(-2k-1) - a^(-2k))

    which do not cancel (the direct forms lose about log10(a) digits).
    Returns G, or (G, G') with ``grad``.
    """
    a = np.asarray(a, dtype=np.float64)
    big = a >= _SERIES_FROM
    small = ~big
    g = np.empty_like(a)
    dg = np.empty_like(a) if grad else None
    x = a[small]
    with np.errstate(over="ignore", invalid="ignore"):
        g[small] = special.gammaln(x) + (1.0 - x) * special.digamma(x) + x
        # below about 1e-308 digamma overflows: G(a) ~ -1/a is -inf in double
        g[small] = np.where(np.isnan(g[small]) & (x > 0), -np.inf, g[small])
        if grad:
            dg[small] = 1.0 + (1.0 - x) * special.polygamma(1, x)
    x = a[big]
    if x.size:
        inv = 1.0 / x
        s = np.zeros_like(x)
        ds = np.zeros_like(x)
        for k in range(len(_BERNOULLI), 0, -1):  # smallest terms first
            b = _BERNOULLI[k - 1]
            odd = inv ** (2 * k - 1)
            s += b * (odd / (2 * k - 1) - odd * inv / (2 * k))
            if grad:
                ds += b * (odd * inv * inv - odd * inv)
        g[big] = 0.5 * (1.0 + LOG_2PI + np.log(x)) + (s - 0.5 * inv)
        if grad:
            dg[big] = 0.5 * inv + (0.5 * inv * inv + ds)
    return (g, dg) if grad else g


# ---------------------------------------------------------------------------
# Categorical
# ---------------------------------------------------------------------------
def categorical_terms(logw):
    """(p, -log p) over the last axis from log-weights ``logw`` (-inf: a weight of 0).

    With d_k = max(logw) - logw_k >= 0 and s the sum of e^-d_k over all but
    the first largest weight, p_k = e^-d_k / (1 + s) and -log p_k = d_k +
    log1p(s): a sum of non-negative terms, so that a dominant category keeps
    its -log p ~ s (the direct log(softmax) rounds it to 0 when s < 1e-16).
    """
    logw = np.asarray(logw, dtype=np.float64)
    top = logw.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        d = np.where(np.isneginf(logw), np.inf, top - logw)
    first = np.arange(logw.shape[-1]) == np.argmax(logw, axis=-1)[..., None]
    e = np.exp(-d)
    s = np.where(first, 0.0, e).sum(axis=-1, keepdims=True)
    return e / (1.0 + s), d + np.log1p(s)


# ---------------------------------------------------------------------------
# Poisson, Binomial, NegativeBinomial: exact sums
# ---------------------------------------------------------------------------
#: The window of a sum leaves out at most exp(-TAIL_EXPONENT) of the mass on
#: each side (by the Chernoff bound): 1.1e-20.
TAIL_EXPONENT = 46.0
#: From this variance on (NegativeBinomial: total_count * probs, which bounds
#: its standardised cumulants as the variance does the others'), Poisson,
#: Binomial and NegativeBinomial use their Gaussian-regime expansion
#: 1/2 log(2 pi e var) - skewness^2 / 12 + O(var^-2) instead of the sum.
ASYMPTOTIC_VARIANCE = 1e7
#: The most support points that one batch element's sum may take.
MAX_WINDOW = 1 << 22
#: Support points evaluated at once (several float64 temporaries of this size).
_CHUNK = 1 << 19


def stirlerr(x):
    """lnGamma(x + 1) - (x + 1/2) log x + x - log(2 pi) / 2, for real x > 0.

    The error of Stirling's approximation: directly below x = 20 (the terms
    are small there), by its series sum_k B_2k / (2k (2k - 1) x^(2k-1)) from 20 on.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    big = x >= _SERIES_FROM
    small = ~big
    xs = x[small]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[small] = special.gammaln(xs + 1.0) - (xs + 0.5) * np.log(xs) + xs - 0.5 * LOG_2PI
    xb = x[big]
    if xb.size:
        inv = 1.0 / xb
        inv2 = inv * inv
        s = np.zeros_like(xb)
        for k in range(len(_BERNOULLI), 0, -1):
            s = s * inv2 + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
        out[big] = s * inv
    return out


def bd0(x, m):
    """x log(x / m) + m - x (>= 0), accurate where x is close to m.

    Where |x - m| < (x + m) / 10, with v = (x - m) / (x + m), as
    (x - m) v + 2 x (v^3 / 3 + v^5 / 5 + ...) (Loader 2000), since log(x / m)
    = 2 atanh(v); elsewhere directly.  bd0(0, m) = m.
    """
    x, m = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64))
    out = np.empty(x.shape)
    diff = x - m
    tot = x + m
    near = np.abs(diff) < 0.1 * tot
    far = ~near
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xf, mf = x[far], m[far]
        out[far] = special.xlogy(xf, xf / mf) + (mf - xf)
        out[far & (x == 0)] = m[far & (x == 0)]
    v = diff[near] / tot[near]
    v2 = v * v
    s = np.zeros_like(v)
    for j in range(12, 0, -1):  # |v| < 0.1: v^25 / 25 is below 1e-25 of v
        s = s * v2 + 1.0 / (2 * j + 1)
    out[near] = diff[near] * v + 2.0 * x[near] * (v * v2 * s)
    return out


def chernoff_window(rate, mean, spread, limit=None):
    """Integer windows [lo, hi] that hold all but 2 exp(-TAIL_EXPONENT) of the mass.

    ``rate(a)`` is the Chernoff exponent of each batch element at a (an
    array of B points), convex with its minimum 0 at the mean, so that
    P(X >= a) <= exp(-rate(a)) for a >= mean and P(X <= a) <= exp(-rate(a))
    for a <= mean.  ``spread`` (> 0) is a first step (about a standard
    deviation), ``limit`` the largest support point (None: unbounded).  hi
    is the least integer above the mean with rate(hi) >= TAIL_EXPONENT (or
    the limit), lo the greatest below it (or 0), by doubling then bisection,
    all elements at once.
    """
    mean = np.asarray(mean, dtype=np.float64)
    top = np.full(mean.shape, np.inf) if limit is None else np.asarray(limit, np.float64)
    step0 = np.maximum(np.ceil(spread * math.sqrt(2.0 * TAIL_EXPONENT)), 1.0)
    T = TAIL_EXPONENT

    def search(start, sign, bound):
        # the first integer a = start + sign j (j >= 1) with rate(a) >= T, or bound
        clip = np.minimum if sign > 0 else np.maximum
        dist = step0.copy()
        good = clip(start + sign * dist, bound)
        bad = start.copy()
        for _ in range(1100):  # doubling (dist passes any double within 1100 rounds)
            ok = (good == bound) | (rate(good) >= T)
            if ok.all():
                break
            bad = np.where(ok, bad, good)
            dist = np.where(ok, dist, 2.0 * dist)
            good = np.where(ok, good, clip(start + sign * dist, bound))
        # now rate(bad) < T (or bad == start) and rate(good) >= T (or good == bound)
        for _ in range(1100):  # bisection
            gap = np.abs(good - bad) > 1.0
            if not gap.any():
                break
            mid = np.floor(0.5 * (good + bad))
            ok = rate(mid) >= T
            good = np.where(gap & ok, mid, good)
            bad = np.where(gap & ~ok, mid, bad)
        return good

    hi = search(np.minimum(np.ceil(mean), top), 1, top)
    lo = search(np.maximum(np.floor(mean), 0.0), -1, np.zeros(mean.shape))
    return lo.astype(np.int64), hi.astype(np.int64)


def lattice_entropy(lo, hi, mean, log_pmf, center):
    """-sum_k p_k log p_k and sum_k p_k (k - mean) log p_k over the windows [lo, hi].

    ``log_pmf(k, idx)`` returns log p at the support points k (an array of
    shape (len(idx), w)) of the batch elements idx.  The second sum is the
    covariance of X and log p(X): the gradient of the entropy in a parameter
    theta is -sum_k dp_k/dtheta log p_k, and dp_k/dtheta = p_k score_k with
    the score a linear function of k - mean for the three families.  It is
    accumulated as sum p (k - mean)(log p + center) plus (H - center) sum p
    (k - mean), which keeps its terms small when ``center`` is near the
    entropy H.  Elements with windows of like widths are evaluated together,
    at most _CHUNK points at once.  Returns (H, covariance).
    """
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.asarray(hi, dtype=np.int64)
    B = lo.size
    width = hi - lo + 1
    sh, sa, sb = np.zeros(B), np.zeros(B), np.zeros(B)
    order = np.argsort(width, kind="stable")
    i = 0
    while i < B:
        j = i + 1
        while j < B and int(width[order[j]]) * (j - i + 1) <= _CHUNK:
            j += 1
        idx = order[i:j]
        w = int(width[idx].max())
        for start in range(0, w, _CHUNK):
            cols = np.arange(start, min(w, start + _CHUNK), dtype=np.int64)
            k = lo[idx, None] + cols[None, :]
            valid = k <= hi[idx, None]
            kf = np.minimum(k, hi[idx, None]).astype(np.float64)
            lp = log_pmf(kf, idx)
            p = np.where(valid, np.exp(lp), 0.0)
            live = p > 0.0
            lp = np.where(live, lp, 0.0)
            d = kf - mean[idx, None]
            pd = p * d
            sh[idx] -= (p * lp).sum(axis=1)
            sa[idx] += (pd * (lp + center[idx, None])).sum(axis=1)
            sb[idx] += pd.sum(axis=1)
        i = j
    return sh, sa + (sh - center) * sb


def check_window(lo, hi, name, value, family, index, batch_shape):
    """Raise ValueError if a window holds more than MAX_WINDOW support points.

    ``value`` holds the parameter ``name`` of the elements whose windows
    these are, ``index`` their flat indices in the batch of ``batch_shape``.
    """
    width = hi - lo + 1
    if width.size and width.max() > MAX_WINDOW:
        b = int(np.argmax(width))
        where = "" if not batch_shape else " at index %s" % (
            tuple(int(i) for i in np.unravel_index(int(index[b]), batch_shape)),)
        raise ValueError(
            "%s.entropy: parameter %r is too extreme for the exact sum: %r%s would need %d "
            "support points (at most %d), and the Gaussian-regime expansion, for "
            "total_count * probs >= %g, is not accurate to 1e-12 there"
            % (family, name, float(value[b]), where, int(width[b]), MAX_WINDOW,
               ASYMPTOTIC_VARIANCE))
