"""NumPy twins of the log-space kernel families (concentrations below 1).

Below shape 1 numpy draws a standard gamma as pow(B, 1 / a) for a base B in
(0, 1] (the small-shape branch of ``random_standard_gamma``); for small a that
underflows to 0 for most B, while log x = log(B) / a is an ordinary number.
The kernels' ``gamma_log``, ``beta_log``, ``chi2_log`` and ``dirichlet_log``
families (``families/*.pxi``) draw numpy's very samples for f and keep, for
the score, the sample where it is a normal double and its logarithm (Beta:
its log-odds) where it is not.  Here the same loops run one draw at a time on
a ``numpy.random.Generator``: ``Generator.random`` is numpy's ``next_double``
and ``Generator.standard_exponential`` its ziggurat, so every draw consumes
the stream's words as the kernel's does, and ``math.pow``, ``math.log`` and
``math.exp`` are the C library's, so the samples round alike.

A block value v (what the kernels' block holds) encodes both: v is the
sample x where DBL_MIN <= x (< 1 for Beta), else log x (Beta: log x -
log(1 - x)), a number outside that range.  What f sees of a block value
here is the sample itself where v holds it, else exp(v) (Beta: expit(v)),
which is within rounding of the kernels' x: a subnormal, 0 or 1.
"""

import math

import numpy as np
from scipy import special

#: The smallest normal double: samples at or above it keep their own log.
DBL_MIN = float(np.finfo(np.float64).tiny)
#: numpy's random_beta draws 0 or 1 when both concentrations are below this.
BETA_TINY_THRESHOLD = 3e-103


def _log(v):
    return math.log(v) if v > 0.0 else -math.inf


def small_gamma(gen, a):
    """numpy's random_standard_gamma(a) for 0 < a < 1 and log of the draw: (X, log X)."""
    while True:
        U = gen.random()
        V = gen.standard_exponential()
        if U <= 1.0 - a:
            base = U
            X = math.pow(U, 1.0 / a)
            if X <= V:
                break
        else:
            Y = -math.log((1 - U) / a)
            base = 1.0 - a + a * Y
            X = math.pow(base, 1.0 / a)
            if X <= V + Y:
                break
    return X, _log(base) / a


def std_gamma_log(gen, a):
    """numpy's random_standard_gamma(a) and the log of the draw."""
    if a < 1.0:
        return small_gamma(gen, a)
    X = float(gen.standard_gamma(a))
    return X, _log(X)


def _fast_or_replayed(gen, fast, slow):
    """numpy's vectorised draws where they suffice, else the loops on the same words.

    ``fast(gen)`` returns (result, ok); where not ok (a sample needs its log
    from the loop), the generator is rewound and ``slow(gen)`` draws again.
    """
    state = gen.bit_generator.state
    out, ok = fast(gen)
    if ok:
        return out
    gen.bit_generator.state = state
    return slow(gen)


def gamma_block(gen, a, scale, m):
    """Block values (m,) of scale * Gamma(a, 1) draws (Gamma: scale 1 / rate; Chi2: 2)."""
    def fast(gen):
        x = gen.gamma(a, scale, size=m)
        return x, bool((x >= DBL_MIN).all())

    def slow(gen):
        out = np.empty(m)
        log_scale = math.log(scale)
        for i in range(m):
            X, lg = std_gamma_log(gen, a)
            x = scale * X
            out[i] = x if x >= DBL_MIN else lg + log_scale
        return out
    return _fast_or_replayed(gen, fast, slow)


def beta_block(gen, a, b, m):
    """Block values (m,) of numpy's random_beta(a, b) draws."""
    def fast(gen):
        x = gen.beta(a, b, size=m)
        return x, bool(((x >= DBL_MIN) & (x < 1.0)).all())

    def slow(gen):
        return np.array([_beta_one(gen, a, b) for _ in range(m)])
    return _fast_or_replayed(gen, fast, slow)


def _beta_one(gen, a, b):
    if a <= 1.0 and b <= 1.0:
        if a < BETA_TINY_THRESHOLD and b < BETA_TINY_THRESHOLD:
            U = gen.random()
            return math.inf if (a + b) * U < a else -math.inf
        while True:  # Johnk's algorithm
            U = gen.random()
            V = gen.random()
            X = math.pow(U, 1.0 / a)
            Y = math.pow(V, 1.0 / b)
            XpY = X + Y
            if XpY <= 1.0 and U + V > 0.0:
                break
        delta = _log(U) / a - _log(V) / b
        if X > 0 and Y > 0:
            x = X / XpY
        elif delta > 0:
            x = math.exp(-math.log1p(math.exp(-delta)))
        else:
            x = math.exp(delta - math.log1p(math.exp(delta)))
    else:
        X, lga = std_gamma_log(gen, a)
        Y, lgb = std_gamma_log(gen, b)
        x = X / (X + Y)
        delta = lga - lgb
    return x if DBL_MIN <= x < 1.0 else delta


def _log_sum_exp(lg):
    top = max(lg)
    acc = 0.0
    for v in lg:
        acc = acc + math.exp(v - top)
    return top + math.log(acc)


def dirichlet_draw(gen, alpha, m):
    """The kernels' Dirichlet samples (m, K) and their block values (m, K).

    x_k = g_k / sum(g), the gammas drawn in order and summed in order; where
    a g_k underflows (below DBL_MIN), x = exp(log g - logsumexp(log g)).
    """
    K = len(alpha)

    def fast(gen):
        g = gen.standard_gamma(alpha, size=(m, K))
        tot = g[:, 0].copy()
        for k in range(1, K):  # the kernel's order of additions
            tot = tot + g[:, k]
        with np.errstate(invalid="ignore"):  # 0 / 0 where every gamma underflowed
            x = g / tot[:, None]
        return (x, x), bool((g >= DBL_MIN).all() and (x >= DBL_MIN).all())

    def slow(gen):
        x = np.empty((m, K))
        v = np.empty((m, K))
        for i in range(m):
            g, lg = zip(*(std_gamma_log(gen, float(a)) for a in alpha))
            lg = [_log(gk) if gk >= DBL_MIN else lgk for gk, lgk in zip(g, lg)]
            if min(g) >= DBL_MIN:
                tot = g[0]
                for gk in g[1:]:
                    tot = tot + gk
                x[i] = [gk / tot for gk in g]
                v[i] = [xk if xk >= DBL_MIN else lgk - math.log(tot)
                        for xk, lgk in zip(x[i], lg)]
            else:  # a gamma underflowed: the event normalised in log space
                lse = _log_sum_exp(lg)
                for k in range(K):
                    y = lg[k] - lse
                    x[i, k] = math.exp(y)
                    v[i, k] = x[i, k] if x[i, k] >= DBL_MIN else y
        return x, v
    return _fast_or_replayed(gen, fast, slow)


def log_of(v3):
    """log x from block values of the positive families: log v where v is x, else v."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v3 >= 0.0, np.log(np.where(v3 >= 0.0, v3, 1.0)), v3)


def positive_f_input(v3):
    """What f sees of the positive families' block values (x, or exp of log x)."""
    return np.where(v3 >= 0.0, v3, np.exp(np.minimum(v3, 0.0)))


def beta_logs(v3):
    """(log x, log(1 - x)) from Beta block values."""
    plain = (v3 >= 0.0) & (v3 < 1.0)
    x = np.where(plain, v3, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        # log x = -softplus(-d), log(1 - x) = -softplus(d) for the log-odds d
        return (np.where(plain, np.log(x), -np.logaddexp(0.0, -v3)),
                np.where(plain, np.log1p(-x), -np.logaddexp(0.0, v3)))


def beta_f_input(v3):
    """What f sees of Beta block values (x, or expit of the log-odds)."""
    return np.where((v3 >= 0.0) & (v3 < 1.0), v3, special.expit(v3))
