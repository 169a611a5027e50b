"""Finish: moment sums -> value, gradient and standard errors, per method.

Both backends produce the same *moment sums* per batch element and hand them
to :func:`finish`, so the two differ only in how the sums were made.

Layout of one row of sums (``4 + 5 P`` numbers, P = score components)::

    [n, K, Sd, Sdd,  Ss_0, Sss_0, Sds_0, Sdss_0, Sddss_0,  Ss_1, ...]

with ``d = f(x) - K`` for a shift ``K`` (the first f value of the chunk the
sums started from) and, for each score component ``s_j``::

    Sd = sum d, Sdd = sum d^2, Ss = sum s, Sss = sum s^2,
    Sds = sum d s, Sdss = sum d s^2, Sddss = sum d^2 s^2.

Shifting f keeps every sum small whatever the offset of f, which is what
makes f(x) + 1e8 give the same rloo and cv gradients as f(x).  Sums taken on
different shifts are merged exactly by re-expressing one on the other's
shift (binomial expansion), in chunk order (:func:`merge`).

Estimators, per batch element and score component (``b`` a baseline)::

    plain     g = mean(f s)
    baseline  g = mean((f - b) s)
    cv        g = mean((f - b_j) s_j),  b_j = sum f s_j^2 / sum s_j^2
    rloo      g = mean((f_i - mean_{k != i} f_k) s_i) = sum (f - fbar) s / (n - 1)

Each standard error is the sample standard deviation of the per-sample terms
divided by sqrt(n).  cv estimates its baseline from the same samples, which
biases it by O(1/n); rloo is unbiased.
"""

import numpy as np

from . import _kernels

METHODS = ("plain", "baseline", "rloo", "cv")


def n_sums(P):
    """Length of one row of moment sums for P score components."""
    return 4 + 5 * P


def merge(tot, a):
    """Fold the sums ``a`` into ``tot`` (both (batch, 4+5P)), in place.

    Mirrors the kernel's merge, so chunks merged in the same order give the
    same totals.
    """
    na = a[:, 0]
    take = (tot[:, 0] == 0) & (na > 0)
    if take.any():
        tot[take] = a[take]
    upd = (tot[:, 0] > 0) & (na > 0) & ~take
    if not upd.any():
        return tot
    t = tot[upd]
    s = a[upd]
    na = s[:, 0]
    delta = s[:, 1] - t[:, 1]
    sd_a = s[:, 2]
    t[:, 0] = t[:, 0] + na
    t[:, 2] = t[:, 2] + (sd_a + delta * na)
    t[:, 3] = t[:, 3] + (s[:, 3] + 2.0 * delta * sd_a + delta * delta * na)
    dl = delta[:, None]
    ss, sss, sds, sdss, sddss = (s[:, 4 + i::5] for i in range(5))
    t[:, 4::5] = t[:, 4::5] + ss
    t[:, 5::5] = t[:, 5::5] + sss
    t[:, 6::5] = t[:, 6::5] + (sds + dl * ss)
    t[:, 7::5] = t[:, 7::5] + (sdss + dl * sss)
    t[:, 8::5] = t[:, 8::5] + (sddss + 2.0 * dl * sdss + dl * dl * sss)
    tot[upd] = t
    return tot


def chunk_sums(fx, s):
    """Sums of one chunk: fx (m, batch), s (m, batch, P) -> (batch, 4+5P).

    The shift is the chunk's first f value, as in the kernel.
    """
    m, batch, P = s.shape
    out = np.empty((batch, n_sums(P)))
    K = fx[0]
    d = fx - K
    ds = d[:, :, None] * s
    out[:, 0] = m
    out[:, 1] = K
    out[:, 2] = d.sum(axis=0)
    out[:, 3] = (d * d).sum(axis=0)
    out[:, 4::5] = s.sum(axis=0)
    out[:, 5::5] = (s * s).sum(axis=0)
    out[:, 6::5] = ds.sum(axis=0)
    out[:, 7::5] = (ds * s).sum(axis=0)
    out[:, 8::5] = (ds * ds).sum(axis=0)
    return out


def sums_from_samples(fx, s, chunk_size, start=None):
    """Moment sums of samples, chunk by chunk along axis 0, merged in order.

    ``start`` holds the sums of earlier samples to continue from.
    """
    m, batch, P = s.shape
    tot = np.zeros((batch, n_sums(P))) if start is None else np.array(start, dtype=np.float64)
    for start in range(0, m, chunk_size):
        stop = min(m, start + chunk_size)
        merge(tot, chunk_sums(fx[start:stop], s[start:stop]))
    return tot


def sums_from_counts(counts, fvals, scores):
    """Exact moment sums from counts of a finite support.

    counts (batch, V) integers, fvals (batch, V) f on the support, scores
    (batch, V, P) the score on the support.  Support values never drawn
    contribute nothing, even where f or the score is infinite there.
    """
    c = np.asarray(counts, dtype=np.float64)
    batch, V = c.shape
    P = scores.shape[2]
    seen = c > 0
    fv = np.where(seen, fvals, 0.0)
    sv = np.where(seen[:, :, None], scores, 0.0)
    n = c.sum(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        K = (c * fv).sum(axis=1) / n
        d = np.where(seen, fv - K[:, None], 0.0)
        cs = c[:, :, None] * sv
        ds = d[:, :, None] * sv
        out = np.empty((batch, n_sums(P)))
        out[:, 0] = n
        out[:, 1] = K
        out[:, 2] = (c * d).sum(axis=1)
        out[:, 3] = (c * d * d).sum(axis=1)
        out[:, 4::5] = cs.sum(axis=1)
        out[:, 5::5] = (cs * sv).sum(axis=1)
        out[:, 6::5] = (cs * d[:, :, None]).sum(axis=1)
        out[:, 7::5] = (cs * ds).sum(axis=1)
        out[:, 8::5] = (cs * d[:, :, None] * ds).sum(axis=1)
    return out


def state_sums(dist, pf, state, backend):
    """Moment sums of a backend's accumulator state (counts or sums)."""
    if dist.finite_support:
        return support_sums(dist, pf, state, backend)
    return state


def _support_samples(dist):
    """The support in kernel layout (V, batch, E)."""
    sup = dist.support()
    E = max(dist.event_size, 1)
    return np.broadcast_to(sup[:, None, None], (sup.size, dist.batch_size, E)).copy()


def support_values(dist, pf, backend):
    """f on the support of a finite-support family: (batch, V) float64."""
    if pf.kind == "builtin" and hasattr(pf.obj, "on_support"):
        return pf.obj.on_support(dist)
    return np.ascontiguousarray(pf.values(_support_samples(dist), dist, backend).T)


def support_sums(dist, pf, counts, backend):
    """Moment sums of a finite-support family from its support counts.

    f (the prepared f of either backend) and the score are evaluated once per
    support value and batch element; the counts weight them exactly.
    """
    fvals = support_values(dist, pf, backend)
    scores = dist._score_components(_support_samples(dist))      # (V, B, P)
    return sums_from_counts(counts, fvals, scores.transpose(1, 0, 2))


def finish(sums, method, baseline=None, n_threads=1):
    """Estimates from moment sums (the formulas of this module's docstring).

    Parameters
    ----------
    sums : ndarray (batch, 4 + 5P)
    method : {"plain", "baseline", "rloo", "cv"}
    baseline : ndarray (batch,), required for method="baseline"
    n_threads : int
        Threads for large batches.

    Returns
    -------
    value, value_stderr : ndarray (batch,)
    grad, stderr : ndarray (batch, P)
        A row whose sums are not all finite gets NaN standard errors (its
        value_stderr is NaN exactly then).

    Notes
    -----
    Both backends finish through this one compiled loop (one pass per batch
    element, no temporaries), so they differ only in how the sums were made.
    """
    if method not in METHODS:
        raise ValueError("method must be one of %s, got %r" % (METHODS, method))
    S = np.ascontiguousarray(sums, dtype=np.float64)
    return _kernels.finish_sums(S, method, baseline, n_threads)
