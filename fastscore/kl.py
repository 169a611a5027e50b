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

from .distributions import Distribution
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
    if getattr(p, "relaxed", False) or p._kl_same is None:
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
    value, gp, gq = p._kl_same(q, batch)   # the family's closed form (its module)
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
