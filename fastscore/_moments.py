"""Shifted moment sums in NumPy: the reducer's twin, layout from fastscore._specs.

Both backends reduce per-sample terms into the same rows of moment sums
(one row per batch element; layout in _specs.py: a head ``n, shift, sum_d,
sum_dd`` and one block per gradient component) and hand them to the
estimator kind's finish.  This module is the NumPy side: the chunk-ordered
merge, sums from stored samples, and exact sums from counts of a finite
support.  The kernels' side is _reduce.h.

With d = f - shift and s a component's per-sample term, a score block holds
sum s, sum s^2, sum d s, sum d s^2 and sum d^2 s^2.  A mean block (the
pathwise and measure-valued kinds) holds its term's own shift, sum (t -
shift) and sum (t - shift)^2.  Sums taken on different shifts are merged
exactly by re-expressing one on the other's shift (binomial expansion), in
chunk order.
"""

import numpy as np

from ._specs import CV_BLOCK, CV_FOLDS, HEAD, MEAN_BLOCK, SCORE_BLOCK, row_width

N, SHIFT, SUM_D, SUM_DD = (HEAD.index(nm) for nm in ("n", "shift", "sum_d", "sum_dd"))
HEAD_WIDTH = len(HEAD)
SCORE_WIDTH = len(SCORE_BLOCK)


def blocks(sums, name, block=SCORE_BLOCK):
    """Column ``name`` of every block: (..., P) view of sums (..., row width)."""
    return sums[..., HEAD_WIDTH + block.index(name)::len(block)]


def n_components(sums, block=SCORE_BLOCK):
    """P, the number of blocks in rows of this width."""
    return (np.shape(sums)[-1] - HEAD_WIDTH) // len(block)


def merge(tot, a, block=SCORE_BLOCK):
    """Fold the sums ``a`` into ``tot`` (both (batch, row width)), in place.

    The twin of the kernels' fs_merge_score_rows and fs_merge_mean_rows,
    operation for operation, so chunks merged in the same order give the
    same totals.
    """
    na = a[:, N]
    take = (tot[:, N] == 0) & (na > 0)
    if take.any():
        tot[take] = a[take]
    upd = (tot[:, N] > 0) & (na > 0) & ~take
    if not upd.any():
        return tot
    t = tot[upd]
    s = a[upd]
    na = s[:, N]
    delta = s[:, SHIFT] - t[:, SHIFT]
    sd_a = s[:, SUM_D]
    t[:, N] = t[:, N] + na
    t[:, SUM_D] = t[:, SUM_D] + (sd_a + delta * na)
    t[:, SUM_DD] = t[:, SUM_DD] + (s[:, SUM_DD] + 2.0 * delta * sd_a + delta * delta * na)
    if block is SCORE_BLOCK:
        dl = delta[:, None]
        ss, sss, sds, sdss, sddss = (blocks(s, nm) for nm in SCORE_BLOCK)
        blocks(t, "sum_s")[:] += ss
        blocks(t, "sum_ss")[:] += sss
        blocks(t, "sum_ds")[:] += sds + dl * ss
        blocks(t, "sum_dss")[:] += sdss + dl * sss
        blocks(t, "sum_ddss")[:] += sddss + 2.0 * dl * sdss + dl * dl * sss
    elif block is CV_BLOCK:
        nb = na[:, None]
        dj = blocks(s, "a_shift", CV_BLOCK) - blocks(t, "a_shift", CV_BLOCK)
        sa, sc = blocks(s, "sum_a", CV_BLOCK), blocks(s, "sum_c", CV_BLOCK)
        blocks(t, "sum_a", CV_BLOCK)[:] += sa + dj * nb
        blocks(t, "sum_aa", CV_BLOCK)[:] += blocks(s, "sum_aa", CV_BLOCK) + 2.0 * dj * sa + dj * dj * nb
        blocks(t, "sum_c", CV_BLOCK)[:] += sc
        blocks(t, "sum_cc", CV_BLOCK)[:] += blocks(s, "sum_cc", CV_BLOCK)
        blocks(t, "sum_ac", CV_BLOCK)[:] += blocks(s, "sum_ac", CV_BLOCK) + dj * sc
    else:
        nb = na[:, None]
        dj = blocks(s, "term_shift", MEAN_BLOCK) - blocks(t, "term_shift", MEAN_BLOCK)
        st = blocks(s, "sum_t", MEAN_BLOCK)
        blocks(t, "sum_t", MEAN_BLOCK)[:] += st + dj * nb
        blocks(t, "sum_tt", MEAN_BLOCK)[:] += (blocks(s, "sum_tt", MEAN_BLOCK) + 2.0 * dj * st
                                              + dj * dj * nb)
    tot[upd] = t
    return tot


def chunk_sums(fx, s, block=SCORE_BLOCK):
    """Sums of one chunk: fx (m, batch), terms s (m, batch, P) -> (batch, row width).

    The shifts are the chunk's first f value and (mean blocks) first terms, as
    in the kernel.  For control-variate blocks the terms are (A, C) side by
    side: s is (m, batch, 2P).
    """
    m, batch, P = s.shape
    if block is CV_BLOCK:
        P //= 2
    out = np.empty((batch, row_width(P, block)))
    shift = fx[0]
    d = fx - shift
    out[:, N] = m
    out[:, SHIFT] = shift
    out[:, SUM_D] = d.sum(axis=0)
    out[:, SUM_DD] = (d * d).sum(axis=0)
    if block is CV_BLOCK:
        a = s[:, :, :P] - s[0, :, :P]
        c = s[:, :, P:]
        blocks(out, "a_shift", CV_BLOCK)[:] = s[0, :, :P]
        blocks(out, "sum_a", CV_BLOCK)[:] = a.sum(axis=0)
        blocks(out, "sum_aa", CV_BLOCK)[:] = (a * a).sum(axis=0)
        blocks(out, "sum_c", CV_BLOCK)[:] = c.sum(axis=0)
        blocks(out, "sum_cc", CV_BLOCK)[:] = (c * c).sum(axis=0)
        blocks(out, "sum_ac", CV_BLOCK)[:] = (a * c).sum(axis=0)
        return out
    if block is MEAN_BLOCK:
        u = s - s[0]
        blocks(out, "term_shift", MEAN_BLOCK)[:] = s[0]
        blocks(out, "sum_t", MEAN_BLOCK)[:] = u.sum(axis=0)
        blocks(out, "sum_tt", MEAN_BLOCK)[:] = (u * u).sum(axis=0)
        return out
    ds = d[:, :, None] * s
    blocks(out, "sum_s")[:] = s.sum(axis=0)
    blocks(out, "sum_ss")[:] = (s * s).sum(axis=0)
    blocks(out, "sum_ds")[:] = ds.sum(axis=0)
    blocks(out, "sum_dss")[:] = (ds * s).sum(axis=0)
    blocks(out, "sum_ddss")[:] = (ds * ds).sum(axis=0)
    return out


def sums_from_samples(fx, s, chunk_size, start=None, block=SCORE_BLOCK):
    """Moment sums of samples, chunk by chunk along axis 0, merged in order.

    ``start`` holds the sums of earlier samples to continue from.
    """
    m, batch, P = s.shape
    if start is None and 0 < m <= chunk_size:
        return chunk_sums(fx, s, block)  # what merging it into zeros gives, bit for bit
    width = row_width(P // 2 if block is CV_BLOCK else P, block)
    tot = np.zeros((batch, width)) if start is None else np.array(start, dtype=np.float64)
    for lo in range(0, m, chunk_size):
        hi = min(m, lo + chunk_size)
        merge(tot, chunk_sums(fx[lo:hi], s[lo:hi], block), block)
    return tot


def sums_from_counts(counts, fvals, scores):
    """Exact moment sums from counts of a finite support.

    counts (batch, V) integers, fvals (batch, V) f on the support, scores
    (batch, V, P) the terms on the support.  Support values never drawn
    contribute nothing, even where f or the score is infinite there.  The
    shift is the count-weighted mean of f.
    """
    c = np.asarray(counts, dtype=np.float64)
    batch, V = c.shape
    P = scores.shape[2]
    seen = c > 0
    fv = np.where(seen, fvals, 0.0)
    sv = np.where(seen[:, :, None], scores, 0.0)
    n = c.sum(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        shift = (c * fv).sum(axis=1) / n
        d = np.where(seen, fv - shift[:, None], 0.0)
        cs = c[:, :, None] * sv
        ds = d[:, :, None] * sv
        out = np.empty((batch, row_width(P)))
        out[:, N] = n
        out[:, SHIFT] = shift
        out[:, SUM_D] = (c * d).sum(axis=1)
        out[:, SUM_DD] = (c * d * d).sum(axis=1)
        blocks(out, "sum_s")[:] = cs.sum(axis=1)
        blocks(out, "sum_ss")[:] = (cs * sv).sum(axis=1)
        blocks(out, "sum_ds")[:] = (cs * d[:, :, None]).sum(axis=1)
        blocks(out, "sum_dss")[:] = (cs * ds).sum(axis=1)
        blocks(out, "sum_ddss")[:] = (cs * d[:, :, None] * ds).sum(axis=1)
    return out


def fold_sums_from_samples(fx, s, chunk_size, start=None, first=0):
    """Cross-fitted (cv) sums: CV_FOLDS score rows side by side, (batch, CV_FOLDS W).

    Sample i of fx (m, batch) and s (m, batch, P) has index first + i in its
    stream and goes to fold (first + i) mod CV_FOLDS; each fold's rows are
    reduced chunk by chunk and merged in chunk order, as the kernels do.
    """
    m, batch, P = s.shape
    W = row_width(P)
    tot = np.zeros((batch, CV_FOLDS * W)) if start is None else np.array(start, dtype=np.float64)
    idx = first + np.arange(m)
    for lo in range(0, m, chunk_size):
        hi = min(m, lo + chunk_size)
        for k in range(CV_FOLDS):
            sel = lo + np.flatnonzero(idx[lo:hi] % CV_FOLDS == k)
            if sel.size:
                part = tot[:, k * W:(k + 1) * W].copy()
                merge(part, chunk_sums(fx[sel], s[sel]))
                tot[:, k * W:(k + 1) * W] = part
    return tot


def fold_total(sums):
    """The fold rows (batch, CV_FOLDS W) merged in fold order into one score row each."""
    S = np.asarray(sums, dtype=np.float64)
    W = S.shape[1] // CV_FOLDS
    tot = S[:, :W].copy()
    for k in range(1, CV_FOLDS):
        merge(tot, S[:, k * W:(k + 1) * W].copy())
    return tot
