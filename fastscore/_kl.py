"""The numerics that several families' KL divergences share (fastscore.kl).

Each family's closed form lives in its class (``_kl_same``,
fastscore/families/<name>.py); this module holds the pieces more than one of
them needs: broadcasting, (p, 1 - p) of a probs | logits family, the chain rule
to logits, and the Gamma, Dirichlet, Bernoulli and equal-count terms that pairs
of families share.
"""

import numpy as np
from scipy import special


def bcast(a, batch, event=()):
    """The array a broadcast to batch + event."""
    return np.broadcast_to(np.asarray(a, dtype=np.float64), tuple(batch) + tuple(event))


def probs_q(d, batch):
    """(p, 1 - p, log p, log(1 - p)) of a probs | logits family, broadcast to batch."""
    a = d._differentiable[d._by]
    if d._by == "probs":
        p, q = a, 1.0 - a
    else:
        p, q = special.expit(a), special.expit(-a)
    lp, lq = d._log_pq()
    return tuple(bcast(x, batch) for x in (p, q, lp, lq))


def chain(d, g_probs, p, q, g_logits=None):
    """A derivative in probs, as the gradient in the parameter d was built with."""
    if d._by == "probs":
        return g_probs
    return g_logits if g_logits is not None else g_probs * (p * q)


def xlogy_where(w, v):
    """w * v, 0 where w == 0 (0 log 0 = 0, whatever v)."""
    with np.errstate(invalid="ignore"):
        return np.where(w > 0, w * v, 0.0)


def gamma_terms(a1, b1, a2, b2):
    """KL of Gamma(a1, rate b1) || Gamma(a2, rate b2) and its four derivatives."""
    da = a1 - a2
    v = (da * special.digamma(a1) - special.gammaln(a1) + special.gammaln(a2)
         + a2 * (np.log(b1) - np.log(b2)) + a1 * (b2 - b1) / b1)
    return (v, da * special.polygamma(1, a1) + (b2 - b1) / b1, a2 / b1 - a1 * b2 / (b1 * b1),
            special.digamma(a2) - special.digamma(a1) + np.log(b1) - np.log(b2),
            a1 / b1 - a2 / b2)


def dirichlet_terms(a, b):
    """KL of Dirichlet(a) || Dirichlet(b) over the last axis, and its gradients."""
    a0, b0 = a.sum(axis=-1), b.sum(axis=-1)
    dig_a = special.digamma(a) - special.digamma(a0)[..., None]
    v = (special.gammaln(a0) - special.gammaln(a).sum(axis=-1) - special.gammaln(b0)
         + special.gammaln(b).sum(axis=-1) + ((a - b) * dig_a).sum(axis=-1))
    ga = (a - b) * special.polygamma(1, a) - ((a0 - b0) * special.polygamma(1, a0))[..., None]
    gb = special.digamma(b) - special.digamma(b0)[..., None] - dig_a
    return v, ga, gb


def bernoulli_like(p, q, batch, n):
    """n KL(Bernoulli(p) || Bernoulli(q)) and its gradients (Bernoulli: n = 1)."""
    p1, q1, lp1, lq1 = probs_q(p, batch)
    p2, q2, lp2, lq2 = probs_q(q, batch)
    with np.errstate(invalid="ignore"):
        v = n * (xlogy_where(p1, lp1 - lp2) + xlogy_where(q1, lq1 - lq2))
        d1 = n * ((lp1 - lq1) - (lp2 - lq2))  # d/dp, and d/dlogits = that p q
        g1 = chain(p, d1, p1, q1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = chain(q, n * (p2 - p1) / (p2 * q2), p2, q2, n * (p2 - p1))
    return v, {p._by: g1}, {q._by: g2}


def equal_counts(p, q, batch):
    n1, n2 = bcast(p.total_count, batch), bcast(q.total_count, batch)
    if not np.array_equal(n1, n2):
        i = np.unravel_index(int(np.argmax(n1 != n2)), n1.shape)
        raise ValueError(
            "kl: %s pairs need equal total_count (with different counts the divergence is "
            "infinite or has neither a closed form nor a finite sum); got %r and %r%s"
            % (type(p).__name__, float(n1[i]), float(n2[i]),
               " at index %s" % (tuple(int(j) for j in i),) if n1.ndim else ""))
    return n1
