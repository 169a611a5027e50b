"""Kullback-Leibler divergences KL(p || q) between two distributions of one family.

:func:`kl` returns KL(p || q) = E_p[log p(x) - log q(x)] for each element of the
broadcast batch, and with ``grad=True`` its gradients in the parameters that p
and q were built with (``probs`` or ``logits``, ``loc`` and ``scale``, ...), the
keys and shapes of ``fs.estimate``'s ``grad``.  Every pair of a family with
itself has a closed form here:

=====================  ===============================================================
family                 KL(p || q)
=====================  ===============================================================
Normal, LogNormal      log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
Exponential            log(r1 / r2) + r2 / r1 - 1
Gamma, Chi2            (a1 - a2) digamma(a1) - lnG(a1) + lnG(a2)
                       + a2 log(b1 / b2) + a1 (b2 - b1) / b1
Beta, Dirichlet        log B(beta) - log B(alpha) + sum (alpha - beta)
                       (digamma(alpha) - digamma(alpha_0))
MultivariateNormal     (tr(S2^-1 S1) + |L2^-1 (m1 - m2)|^2 - D) / 2
                       + log det L2 - log det L1
VonMises               log(I0(k2) / I0(k1)) + A(k1) (k1 - k2 cos(m1 - m2))
Bernoulli, Binomial    n (p log(p / p') + (1 - p) log((1 - p) / (1 - p')))
Categorical            sum_k p_k log(p_k / p'_k)
Geometric              log(p / p') + (1 - p) / p log((1 - p) / (1 - p'))
NegativeBinomial       r p / (1 - p) log(p / p') + r log((1 - p) / (1 - p'))
Poisson                l1 log(l1 / l2) + l2 - l1
Laplace                log(b2 / b1) + |m1 - m2| / b2 + (b1 / b2) exp(-|m1 - m2| / b1) - 1
=====================  ===============================================================

(A = I1 / I0; Binomial and NegativeBinomial need equal ``total_count`` n or r:
with different counts the divergence is infinite or has neither a closed form
nor a finite sum, and :func:`kl` raises ValueError.)  Poisson's value is
computed as Loader's bd0(l1, l2), which keeps its digits when l1 is close to
l2.  An :class:`~fastscore.Independent` sums its base's divergences over the
event, a :class:`~fastscore.Joint` sums its parts' (the same keys); pairs of
different families and the relaxed families raise NotImplementedError.

The gradients are the closed forms' derivatives, written out; each has the
shape of the broadcast batch_shape + the parameter's event shape (per batch
element: where p's parameters broadcast against q's larger batch, sum over the
broadcast axes for the gradient of the sum).
"""

import numpy as np
from scipy import special

from . import _entropy, _fisher
from .distributions import (Bernoulli, Beta, Binomial, Categorical, Chi2, Dirichlet,
                            Distribution, Exponential, Gamma, Geometric, Laplace, LogNormal,
                            MultivariateNormal, NegativeBinomial, Normal, Poisson, VonMises)
from .joint import Independent, Joint

__all__ = ["kl"]


def kl(p, q, grad=False):
    """KL(p || q) = E_p[log p(x) - log q(x)] of two distributions of one family.

    Parameters
    ----------
    p, q : Distribution
        Two distributions of the same family (or two Independent of the same
        family and ``reinterpreted_batch_ndims``, or two Joint with the same
        part names), whose batch shapes broadcast.
    grad : bool, default False
        Also return the gradients in the parameters that p and q were built with.

    Returns
    -------
    value : numpy.float64 or ndarray
        KL(p || q) in nats, of the broadcast batch_shape (a numpy.float64 when it
        is ()); +inf where p puts mass where q has none.
    grads : dict
        With ``grad=True`` only, which returns ``(value, grads)``: ``{"p": {name
        of a parameter p was built with: gradient}, "q": {...}}``, each gradient of
        the broadcast batch_shape + the parameter's event shape (a Joint nests
        them by part, ``grads["p"][part][parameter]``).

    Raises
    ------
    NotImplementedError
        For distributions of different families (naming both) and for the
        relaxed families.
    ValueError
        For Binomial or NegativeBinomial pairs whose total_count differ, and for
        batch shapes or event sizes that do not match.

    Examples
    --------
    >>> import fastscore as fs
    >>> float(fs.kl(fs.Normal(0.0, 1.0), fs.Normal(1.0, 1.0)))
    0.5
    >>> v, g = fs.kl(fs.Poisson(2.0), fs.Poisson([2.0, 4.0]), grad=True)
    >>> v.round(6), g["q"]["rate"]
    (array([0.      , 0.613706]), array([0. , 0.5]))
    >>> fs.kl(fs.Binomial(5, probs=0.5), fs.Binomial(6, probs=0.5))
    Traceback (most recent call last):
    ...
    ValueError: kl: Binomial pairs need equal total_count ...
    """
    for nm, d in (("p", p), ("q", q)):
        if not isinstance(d, Distribution):
            raise TypeError("kl: %s must be a fastscore distribution, got %s"
                            % (nm, type(d).__name__))
    if type(p) is not type(q):
        raise NotImplementedError("kl: no KL divergence between different families: p is %s "
                                  "and q is %s" % (type(p).__name__, type(q).__name__))
    if isinstance(p, Independent):
        return _independent(p, q, grad)
    if isinstance(p, Joint):
        return _joint(p, q, grad)
    if getattr(p, "relaxed", False) or type(p) not in _FORMULAS:
        raise NotImplementedError("kl: the KL divergence between two %s has no closed form "
                                  "here" % type(p).__name__)
    try:
        batch = np.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape))
    except ValueError:
        raise ValueError("kl: the batch shapes of p %s and q %s do not broadcast"
                         % (tuple(p.batch_shape), tuple(q.batch_shape))) from None
    if p.event_shape != q.event_shape or _categories(p) != _categories(q):
        raise ValueError("kl: p and q must have the same event (categories): %s against %s"
                         % (p, q))
    value, gp, gq = _FORMULAS[type(p)](p, q, batch)
    return _out(value, p, q, gp, gq, batch, grad)


# ---------------------------------------------------------------- plumbing
def _categories(d):
    return getattr(d, "num_categories", None)


def _out(value, p, q, gp, gq, batch, grad):
    value = np.asarray(value, dtype=np.float64)
    value = np.array(np.broadcast_to(value, batch)) + 0.0
    if not batch:
        value = np.float64(value)
    if not grad:
        _check_nan(value, {}, p, q, batch)
        return value

    same = _same(p, q, batch)

    def shaped(d, g):
        out = {}
        for nm in d.param_names:
            ev = tuple(d.param_shape(nm))[len(d.batch_shape):]
            a = np.array(np.broadcast_to(np.asarray(g[nm], dtype=np.float64),
                                         tuple(batch) + ev)) + 0.0
            # at p = q the KL is at its minimum, 0, and so is every gradient where it is
            # defined: a NaN there is 0 * inf of a formula at extreme parameters (Gamma's
            # (a - a') trigamma(a) at a = a' = 1e-300); an infinite one-sided derivative
            # at the boundary (a category of neither) stays
            out[nm] = np.where(np.isnan(a) & same.reshape(same.shape + (1,) * len(ev)), 0.0, a)
        return out
    grads = {"p": shaped(p, gp), "q": shaped(q, gq)}
    _check_nan(value, grads, p, q, batch)
    return value, grads


def _check_nan(value, grads, p, q, batch):
    """Raise where the KL or a gradient of valid parameters is NaN: a closed form that
    lost every digit at extreme parameters (inf - inf).  +-inf are IEEE results (the
    KL is +inf where p has mass and q none, and beyond float64)."""
    if not (p.validate_args and q.validate_args):
        return
    bad = np.isnan(np.broadcast_to(value, batch))
    for side in grads.values():
        for g in side.values():
            ev = int(np.prod(g.shape[len(batch):], dtype=np.int64))
            bad = bad | np.isnan(g).reshape(tuple(batch) + (ev,)).any(axis=-1)
    if bad.any():
        k = np.unravel_index(int(np.argmax(bad.ravel())), batch) if batch else ()
        raise ValueError("kl: the closed form is not representable in float64 at these "
                         "parameters (p = %r, q = %r%s): it loses every digit there"
                         % (p, q, ", batch element %s" % (tuple(int(i) for i in k),)
                            if batch else ""))


def _same(p, q, batch):
    """(batch) bool: the elements where p and q have the very same parameters."""
    if getattr(p, "_by", None) != getattr(q, "_by", None) or p.param_names != q.param_names:
        return np.zeros(batch, dtype=bool)
    same = np.ones(batch, dtype=bool)
    for nm in p.param_names:
        a = np.asarray(p._param(nm), dtype=np.float64)
        b = np.asarray(q._param(nm), dtype=np.float64)
        ev = len(tuple(p.param_shape(nm))) - len(p.batch_shape)
        try:
            eq = np.broadcast_to(a == b, tuple(batch) + a.shape[a.ndim - ev:] if ev else batch)
        except ValueError:
            return np.zeros(batch, dtype=bool)
        same &= eq.reshape(tuple(batch) + (int(np.prod(eq.shape[len(batch):], dtype=np.int64)),)
                           ).all(axis=-1) if ev else eq
    return same


def _b(a, batch, event=()):
    """The array a broadcast to batch + event."""
    return np.broadcast_to(np.asarray(a, dtype=np.float64), tuple(batch) + tuple(event))


def _independent(p, q, grad):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise ValueError("kl: Independent pairs need the same reinterpreted_batch_ndims, got "
                         "%d and %d" % (p.reinterpreted_batch_ndims, q.reinterpreted_batch_ndims))
    out = kl(p.base_dist, q.base_dist, grad=grad)
    v = np.asarray(out[0] if grad else out)
    k = p.reinterpreted_batch_ndims
    v = v.sum(axis=tuple(range(v.ndim - k, v.ndim))) if k else v
    v = np.float64(v) if v.ndim == 0 else v
    return (v, out[1]) if grad else v


def _joint(p, q, grad):
    if list(p.parts) != list(q.parts):
        raise ValueError("kl: Joint pairs need the same parts in the same order, got %s and %s"
                         % (list(p.parts), list(q.parts)))
    outs = {nm: kl(p.parts[nm], q.parts[nm], grad=grad) for nm in p.parts}
    if not grad:
        return sum(outs.values())
    v = sum(o[0] for o in outs.values())
    return v, {"p": {nm: o[1]["p"] for nm, o in outs.items()},
               "q": {nm: o[1]["q"] for nm, o in outs.items()}}


def _pq(d, batch):
    """(p, 1 - p, log p, log(1 - p)) of a probs | logits family, broadcast to batch."""
    a = d._differentiable[d._by]
    if d._by == "probs":
        p, q = a, 1.0 - a
    else:
        p, q = special.expit(a), special.expit(-a)
    lp, lq = d._log_pq()
    return tuple(_b(x, batch) for x in (p, q, lp, lq))


def _chain(d, g_probs, p, q, g_logits=None):
    """A derivative in probs, as the gradient in the parameter d was built with."""
    if d._by == "probs":
        return g_probs
    return g_logits if g_logits is not None else g_probs * (p * q)


def _xlogy_where(w, v):
    """w * v, 0 where w == 0 (0 log 0 = 0, whatever v)."""
    with np.errstate(invalid="ignore"):
        return np.where(w > 0, w * v, 0.0)


# ---------------------------------------------------------------- families
def _normal(p, q, batch):
    m1, s1, m2, s2 = (_b(a, batch) for a in (p.loc, p.scale, q.loc, q.scale))
    vr = (s1 / s2) ** 2
    t = (m1 - m2) / s2
    v = 0.5 * (vr + t * t - 1.0 - np.log(vr))
    # scale ratios beyond float64 (1e300 / 0.4): vr and log(vr) both overflow and
    # inf - inf is NaN; log(vr) = 2 log(s1 / s2) as a difference of logs is finite
    v = np.where(np.isnan(v), 0.5 * (vr + t * t - 1.0) - (np.log(s1) - np.log(s2)), v)
    return (v, {"loc": t / s2, "scale": -1.0 / s1 + s1 / (s2 * s2)},
            {"loc": -t / s2, "scale": (1.0 - vr - t * t) / s2})


def _exponential(p, q, batch):
    r1, r2 = _b(p.rate, batch), _b(q.rate, batch)
    ratio = r2 / r1
    v = -np.log(ratio) + ratio - 1.0
    # a ratio beyond float64: -log(inf) + inf is NaN; its log as a difference is finite
    v = np.where(np.isnan(v), (ratio - 1.0) - (np.log(r2) - np.log(r1)), v)
    return (v, {"rate": (1.0 - ratio) / r1},
            {"rate": 1.0 / r1 - 1.0 / r2})


def _laplace(p, q, batch):
    m1, b1, m2, b2 = (_b(a, batch) for a in (p.loc, p.scale, q.loc, q.scale))
    dm = m1 - m2
    a, sg = np.abs(dm), np.sign(dm)
    t = a / b1
    e = np.exp(-t)
    logr = np.log(b1) - np.log(b2)
    # (b1 / b2) exp(-t) as one exp: b1 / b2 alone can overflow where its product does not
    re = np.exp(logr - t)
    v = -logr + a / b2 + re - 1.0
    eb2 = e / b2
    # e a / (b1 b2) = (e / b2) t, 0 where e is (t = inf: not 0 * inf)
    g_b1 = -1.0 / b1 + eb2 + np.where(e > 0.0, eb2 * t, 0.0)
    g_b2 = 1.0 / b2 - (a / b2) / b2 - re / b2
    g_m = sg * (1.0 - e) / b2
    return v, {"loc": g_m, "scale": g_b1}, {"loc": -g_m, "scale": g_b2}


def _gamma_terms(a1, b1, a2, b2):
    """KL of Gamma(a1, rate b1) || Gamma(a2, rate b2) and its four derivatives."""
    da = a1 - a2
    v = (da * special.digamma(a1) - special.gammaln(a1) + special.gammaln(a2)
         + a2 * (np.log(b1) - np.log(b2)) + a1 * (b2 - b1) / b1)
    return (v, da * special.polygamma(1, a1) + (b2 - b1) / b1, a2 / b1 - a1 * b2 / (b1 * b1),
            special.digamma(a2) - special.digamma(a1) + np.log(b1) - np.log(b2),
            a1 / b1 - a2 / b2)


def _gamma(p, q, batch):
    a1, b1, a2, b2 = (_b(x, batch) for x in (p.concentration, p.rate, q.concentration, q.rate))
    v, da1, db1, da2, db2 = _gamma_terms(a1, b1, a2, b2)
    return v, {"concentration": da1, "rate": db1}, {"concentration": da2, "rate": db2}


def _chi2(p, q, batch):
    a1, a2 = 0.5 * _b(p.df, batch), 0.5 * _b(q.df, batch)
    half = np.full(a1.shape, 0.5)
    v, da1, _, da2, _ = _gamma_terms(a1, half, a2, half)
    return v, {"df": 0.5 * da1}, {"df": 0.5 * da2}


def _dirichlet_terms(a, b):
    """KL of Dirichlet(a) || Dirichlet(b) over the last axis, and its gradients."""
    a0, b0 = a.sum(axis=-1), b.sum(axis=-1)
    dig_a = special.digamma(a) - special.digamma(a0)[..., None]
    v = (special.gammaln(a0) - special.gammaln(a).sum(axis=-1) - special.gammaln(b0)
         + special.gammaln(b).sum(axis=-1) + ((a - b) * dig_a).sum(axis=-1))
    ga = (a - b) * special.polygamma(1, a) - ((a0 - b0) * special.polygamma(1, a0))[..., None]
    gb = special.digamma(b) - special.digamma(b0)[..., None] - dig_a
    return v, ga, gb


def _beta(p, q, batch):
    a = np.stack([_b(p.concentration1, batch), _b(p.concentration0, batch)], axis=-1)
    b = np.stack([_b(q.concentration1, batch), _b(q.concentration0, batch)], axis=-1)
    v, ga, gb = _dirichlet_terms(a, b)
    return (v, {"concentration1": ga[..., 0], "concentration0": ga[..., 1]},
            {"concentration1": gb[..., 0], "concentration0": gb[..., 1]})


def _dirichlet(p, q, batch):
    K = p.event_shape[0]
    v, ga, gb = _dirichlet_terms(_b(p.concentration, batch, (K,)),
                                 _b(q.concentration, batch, (K,)))
    return v, {"concentration": ga}, {"concentration": gb}


def _mvn(p, q, batch):
    D = p.event_shape[0]
    m1, m2 = _b(p.loc, batch, (D,)), _b(q.loc, batch, (D,))
    L1, L2 = _b(p.scale_tril, batch, (D, D)), _b(q.scale_tril, batch, (D, D))
    L2inv = np.linalg.inv(L2)
    M = L2inv @ L1
    y = np.einsum("...ij,...j->...i", L2inv, m1 - m2)
    d1 = np.diagonal(L1, axis1=-2, axis2=-1)
    d2 = np.diagonal(L2, axis1=-2, axis2=-1)
    v = 0.5 * ((M * M).sum(axis=(-2, -1)) + (y * y).sum(axis=-1) - D) \
        + (np.log(d2) - np.log(d1)).sum(axis=-1)
    L2invT = np.swapaxes(L2inv, -1, -2)
    gm1 = np.einsum("...ij,...j->...i", L2invT, y)
    gL1 = np.tril(L2invT @ M) - _fisher.diag(1.0 / d1)
    gL2 = np.tril(-(L2invT @ (M @ np.swapaxes(M, -1, -2) + y[..., :, None] * y[..., None, :])))
    gL2 = gL2 + _fisher.diag(1.0 / d2)
    return v, {"loc": gm1, "scale_tril": gL1}, {"loc": -gm1, "scale_tril": gL2}


def _vonmises(p, q, batch):
    m1, k1, m2, k2 = (_b(x, batch) for x in (p.loc, p.concentration, q.loc, q.concentration))
    a1, da1 = _fisher.vonmises_ratio_and_slope(k1)
    a2, _ = _fisher.vonmises_ratio_and_slope(k2)
    c, s = np.cos(m1 - m2), np.sin(m1 - m2)
    # log I0(k) = log i0e(k) + k
    v = (np.log(special.i0e(k2)) - np.log(special.i0e(k1)) + k2 * (1.0 - a1 * c)
         - k1 * (1.0 - a1))
    return (v, {"loc": a1 * k2 * s, "concentration": da1 * (k1 - k2 * c)},
            {"loc": -a1 * k2 * s, "concentration": a2 - a1 * c})


def _bernoulli_like(p, q, batch, n):
    """n KL(Bernoulli(p) || Bernoulli(q)) and its gradients (Bernoulli: n = 1)."""
    p1, q1, lp1, lq1 = _pq(p, batch)
    p2, q2, lp2, lq2 = _pq(q, batch)
    with np.errstate(invalid="ignore"):
        v = n * (_xlogy_where(p1, lp1 - lp2) + _xlogy_where(q1, lq1 - lq2))
        d1 = n * ((lp1 - lq1) - (lp2 - lq2))  # d/dp, and d/dlogits = that p q
        g1 = _chain(p, d1, p1, q1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = _chain(q, n * (p2 - p1) / (p2 * q2), p2, q2, n * (p2 - p1))
    return v, {p._by: g1}, {q._by: g2}


def _bernoulli(p, q, batch):
    return _bernoulli_like(p, q, batch, 1.0)


def _equal_counts(p, q, batch):
    n1, n2 = _b(p.total_count, batch), _b(q.total_count, batch)
    if not np.array_equal(n1, n2):
        i = np.unravel_index(int(np.argmax(n1 != n2)), n1.shape)
        raise ValueError(
            "kl: %s pairs need equal total_count (with different counts the divergence is "
            "infinite or has neither a closed form nor a finite sum); got %r and %r%s"
            % (type(p).__name__, float(n1[i]), float(n2[i]),
               " at index %s" % (tuple(int(j) for j in i),) if n1.ndim else ""))
    return n1


def _binomial(p, q, batch):
    return _bernoulli_like(p, q, batch, _equal_counts(p, q, batch))


def _geometric(p, q, batch):
    p1, q1, lp1, lq1 = _pq(p, batch)
    p2, q2, lp2, lq2 = _pq(q, batch)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = lp1 - lp2 + _xlogy_where(q1, (lq1 - lq2) / p1)
        g1 = _chain(p, -(lq1 - lq2) / (p1 * p1), p1, q1,
                    np.where(q1 > 0, -(lq1 - lq2) * q1 / p1, 0.0))
        g2 = _chain(q, q1 / (p1 * q2) - 1.0 / p2, p2, q2, q1 * p2 / p1 - q2)
    return v, {p._by: g1}, {q._by: g2}


def _negative_binomial(p, q, batch):
    r = _equal_counts(p, q, batch)
    p1, q1, lp1, lq1 = _pq(p, batch)
    p2, q2, lp2, lq2 = _pq(q, batch)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = _xlogy_where(p1, r * (lp1 - lp2) / q1) + r * (lq1 - lq2)
        g1 = _chain(p, np.where(p1 > 0, r * (lp1 - lp2) / (q1 * q1), -np.inf), p1, q1,
                    _xlogy_where(p1, r * (lp1 - lp2) / q1))
        g2 = _chain(q, -r * p1 / (q1 * p2) + r / q2, p2, q2, r * (p2 - p1 * q2 / q1))
    return v, {p._by: g1}, {q._by: g2}


def _poisson(p, q, batch):
    l1, l2 = _b(p.rate, batch), _b(q.rate, batch)
    return _entropy.bd0(l1, l2), {"rate": np.log(l1) - np.log(l2)}, {"rate": 1.0 - l1 / l2}


def _categorical(p, q, batch):
    K = p.num_categories

    def terms(d):
        a = _b(d._differentiable[d._by], batch, (K,))
        with np.errstate(divide="ignore"):
            pr, nlp = _entropy.categorical_terms(a if d._by == "logits" else np.log(a))
        return a, pr, nlp
    a1, pr1, nl1 = terms(p)
    a2, pr2, nl2 = terms(q)
    with np.errstate(invalid="ignore"):
        diff = nl2 - nl1                                     # log p_k - log p'_k
        v = _xlogy_where(pr1, diff).sum(axis=-1)
        if p._by == "logits":
            g1 = _xlogy_where(pr1, diff - v[..., None])
        else:
            # a category of neither p nor p': log(p_k / p'_k) is 0/0, but any mass
            # there makes the KL infinite, so the derivative in it is +inf, not NaN
            diff = np.where((pr1 == 0) & (pr2 == 0), np.inf, diff)
            g1 = (diff - v[..., None]) / a1.sum(axis=-1, keepdims=True)
            # KL = +inf (mass of p where p' has none): the formula's derivative is
            # +inf in those categories (inf - inf), -inf in the others, as Bernoulli's
            g1 = np.where(np.isnan(g1) & np.isinf(v)[..., None], np.inf, g1)
    if q._by == "logits":
        g2 = pr2 - pr1
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g2 = 1.0 / a2.sum(axis=-1, keepdims=True) - np.where(pr1 > 0, pr1 / a2, 0.0)
    return v, {p._by: g1}, {q._by: g2}


_FORMULAS = {
    Normal: _normal, LogNormal: _normal, Exponential: _exponential, Gamma: _gamma,
    Chi2: _chi2, Beta: _beta, Dirichlet: _dirichlet, MultivariateNormal: _mvn,
    VonMises: _vonmises, Bernoulli: _bernoulli, Binomial: _binomial, Geometric: _geometric,
    NegativeBinomial: _negative_binomial, Poisson: _poisson, Categorical: _categorical,
    Laplace: _laplace,
}
