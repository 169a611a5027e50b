# cython: language_level=3, freethreading_compatible=True
"""The compiled finish: moment sums (or support counts) to estimates.

The estimators of the score-function kind (plain, baseline, rloo, cv), and
of the kinds whose gradient is the mean of one per-sample term (pathwise,
measure-valued), are computed from one row of shifted moment sums per batch
element, in a prange over the batch.  The formulas are those of
fastscore._kinds, whose NumPy twins give the same bits on the same sums.  The row layout is named
in _layout.h (generated from fastscore/_specs.py).
"""

from libc.stdint cimport int64_t
from libc.math cimport sqrt, fabs, isfinite, ldexp, frexp, NAN
from libc.string cimport memcpy, memset
from libc.stdlib cimport malloc, free
from cython.parallel cimport prange

import numpy as np

from fastscore._specs import SCORE_METHODS as _SCORE_METHODS

cdef extern from "_reduce.h" nogil:
    enum:
        FS_N
        FS_SHIFT
        FS_SUM_D
        FS_SUM_DD
        FS_SUM_S
        FS_SUM_SS
        FS_SUM_DS
        FS_SUM_DSS
        FS_SUM_DDSS
        FS_TERM_SHIFT
        FS_SUM_T
        FS_SUM_TT
        FS_A_SHIFT
        FS_SUM_A
        FS_SUM_AA
        FS_SUM_C
        FS_SUM_CC
        FS_SUM_AC
        FS_CV_WIDTH
        FS_HEAD_WIDTH
        FS_SCORE_WIDTH
        FS_MEAN_WIDTH
        FS_CV_FOLDS
        FS_CV_REACH
        FS_SCALE_TARGET
    # the score-function methods' codes (_specs.SCORE_METHODS, through _layout.h)
    enum:
        M_PLAIN "FS_M_PLAIN"
        M_BASELINE "FS_M_BASELINE"
        M_RLOO "FS_M_RLOO"
        M_CV "FS_M_CV"
    double fs_keep(bint keep, double v)
    Py_ssize_t fs_score_row_width(Py_ssize_t P)
    Py_ssize_t fs_mean_row_width(Py_ssize_t P)
    Py_ssize_t fs_cv_row_width(Py_ssize_t P)
    Py_ssize_t fs_folds_row_width(Py_ssize_t P)
    void fs_merge_score_rows(double *tot, const double *a, Py_ssize_t P)

cdef extern from "_isa.h" nogil:
    ctypedef struct fs_engine:
        int reduce_isa
    fs_engine fs_engine_decode(long code)

cdef extern from "_onehot.h" nogil:
    enum:
        FS__GROUP
    int fs_onehot_finish_group(int isa, const int64_t *cnt, const double *fv, const double *a,
                                const double *bc, Py_ssize_t rows, Py_ssize_t V, int method,
                                const double *base, double *value, double *value_se,
                                double *g, double *se)

cdef extern from "_omp.h" nogil:
    int fs_threads_for(int n_threads, int64_t work, int64_t items)

# Where a finish overflows although the row's moment sums are finite (|f| above
# ~1e154: shift^2 sum s^2 or g^2 pass 1.8e308), the component is finished again
# on its sums scaled by powers of two (exact), and its results scaled back
# (fastscore._specs.SCALE_TARGET): f's dimension by 2^-kf, the score's by
# 2^-ks, a mean block's term by 2^-kt.  Where nothing overflows the first pass
# stands, so the bits there are those of the formulas alone; where the true
# result is beyond float64 it comes out +-inf (the facade raises, naming it).
# The NumPy twins in fastscore._kinds make the same choices with the same
# operations.

cdef inline int _exp_of(double x) noexcept nogil:
    # e with |x| = m 2^e, 1/2 <= m < 1 (0 for x = 0): |x| < 2^e
    cdef int e = 0
    frexp(x, &e)
    return e


cdef inline int _half_exp_of(double x) noexcept nogil:
    # an e with sqrt(|x|) < 2^e (for the magnitude of a sum of squares)
    return (_exp_of(x) + 1) >> 1


cdef inline int _down(int e) noexcept nogil:
    # the k that takes a magnitude below 2^e to below 2^FS_SCALE_TARGET (0: none)
    return e - FS_SCALE_TARGET if e > FS_SCALE_TARGET else 0


cdef inline int _imax(int a, int b) noexcept nogil:
    return a if a > b else b

def onehot_count_sums(const int64_t[:, ::1] counts, const double[:, ::1] fvals,
                      const double[:, ::1] a, const double[:, ::1] bcoef, int n_threads):
    """Moment sums (batch, row width) from counts of a one-hot score family.

    For a family on {0, ..., K-1} whose score at support value v has
    components s_k(v) = [v = k] a_k - b_k (Categorical: a = 1, b = p for
    logits; a = 1 / probs, b = 1 / sum(probs) for probs), every sum is a
    closed form in the counts c_k, so one pass over (batch, K) replaces
    the (batch, K, K) support evaluation.  The shift is the count-weighted
    mean of f, as in fastscore._moments.sums_from_counts.
    """
    cdef Py_ssize_t B = counts.shape[0], V = counts.shape[1], b
    if fvals.shape[0] != B or fvals.shape[1] != V or a.shape[0] != B or a.shape[1] != V \
            or bcoef.shape[0] != B or bcoef.shape[1] != V:
        raise ValueError("counts, fvals, a and b must all have shape (batch, K)")
    out = np.empty((B, fs_score_row_width(V)), dtype=np.float64)
    cdef double[:, ::1] ov = out
    cdef int nt = fs_threads_for(n_threads, B * V * 8, B)
    if B > 0:
        with nogil:
            for b in prange(B, num_threads=nt, schedule="static"):
                _onehot_row(&counts[b, 0], &fvals[b, 0], &a[b, 0], &bcoef[b, 0], V, &ov[b, 0])
    return out


cdef void _onehot_row(const int64_t *cnt, const double *fv, const double *a, const double *bc,
                      Py_ssize_t V, double *out) noexcept nogil:
    # Support values never drawn contribute nothing, even where f or a is
    # infinite there: their f - shift and a are taken as 0, by masks rather
    # than branches (with a few samples per row, whether a value was drawn
    # is a coin toss the branch predictor loses).
    cdef Py_ssize_t k
    cdef double n = 0.0, shift = 0.0, sd = 0.0, sdd = 0.0, c, d, cd, cdd, ak, bk, amb2, bk2
    cdef double *blk
    for k in range(V):
        c = <double>cnt[k]
        n = n + c
        shift = shift + c * fs_keep(cnt[k] > 0, fv[k])
    shift = shift / n
    for k in range(V):
        c = <double>cnt[k]
        d = fs_keep(cnt[k] > 0, fv[k] - shift)
        sd = sd + c * d
        sdd = sdd + c * d * d
    out[FS_N] = n
    out[FS_SHIFT] = shift
    out[FS_SUM_D] = sd
    out[FS_SUM_DD] = sdd
    for k in range(V):
        c = <double>cnt[k]
        bk = bc[k]
        bk2 = bk * bk
        ak = fs_keep(cnt[k] > 0, a[k])
        d = fs_keep(cnt[k] > 0, fv[k] - shift)
        cd = c * d
        cdd = cd * d
        amb2 = (ak - bk) * (ak - bk)
        blk = out + FS_HEAD_WIDTH + FS_SCORE_WIDTH * k
        blk[FS_SUM_S] = c * ak - n * bk
        blk[FS_SUM_SS] = c * amb2 + (n - c) * bk2
        blk[FS_SUM_DS] = cd * ak - bk * sd
        blk[FS_SUM_DSS] = cd * amb2 + bk2 * (sd - cd)
        blk[FS_SUM_DDSS] = cdd * amb2 + bk2 * (sdd - cdd)


#: The score-function kind's methods by code (fastscore._specs.SCORE_METHODS, whose
#: codes _layout.h names FS_M_PLAIN, ...: the M_* this module switches on).
METHOD_CODES = {name: code for code, name in enumerate(_SCORE_METHODS)}


cdef inline double _canon(double v) noexcept nogil:
    # NaN results as the one quiet NaN (fs__canon in _onehot.h): a NaN's sign
    # and payload follow operand order, which compilers and vector paths do
    # not keep, and every path gives the same bits.
    return v if v == v else NAN


cdef inline double _stderr(double ez2, double g, double inv_n1) noexcept nogil:
    cdef double v = (ez2 - g * g) * inv_n1
    return sqrt(v) if v > 0.0 else (0.0 if v == v else NAN)


cdef inline double _stderr_var(double v) noexcept nogil:
    # sqrt of a variance estimate; 0 where it is negative (an unbiased estimate
    # can be), the quiet NaN where it is NaN.
    return sqrt(v) if v > 0.0 else (0.0 if v == v else NAN)


cdef inline bint _finish_head(const double *S, Py_ssize_t width, double *inv_n,
                              double *inv_n1, double *md, double *value,
                              double *value_se) noexcept nogil:
    # The part of every kind's finish that reads the row's head: 1 / n,
    # 1 / (n - 1), the mean of d = f - shift, the value and its standard
    # error; returns whether all ``width`` sums of the row are finite (the
    # standard errors are NaN otherwise).
    cdef Py_ssize_t j
    cdef bint finite = True
    inv_n[0] = 1.0 / S[FS_N]
    inv_n1[0] = 1.0 / (S[FS_N] - 1.0)
    md[0] = S[FS_SUM_D] * inv_n[0]
    for j in range(width):
        if not isfinite(S[j]):
            finite = False
    value[0] = _canon(S[FS_SHIFT] + md[0])
    value_se[0] = _stderr(S[FS_SUM_DD] * inv_n[0], md[0], inv_n1[0]) if finite else NAN
    return finite


cdef inline bint _score_comp(int method, double shift, double base, double md, double inv_n,
                             double inv_n1, double scale2, double rl_a, double rl_b, double Ss,
                             double Sss, double Sds, double Sdss, double Sddss, double *g,
                             double *se) noexcept nogil:
    # One component's gradient and standard error (before the row's finiteness
    # check); returns True where the finish overflowed (the mean of the terms'
    # squares or the squared gradient is not finite).
    cdef double c, gj, ez2
    if method == M_RLOO:
        gj = (Sds - md * Ss) * inv_n1
        ez2 = scale2 * (Sddss - 2.0 * md * Sdss + md * md * Sss)
    else:
        if method == M_PLAIN:
            c = shift
        elif method == M_BASELINE:
            c = shift - base
        else:
            c = -Sdss / Sss if Sss > 0.0 else 0.0
        gj = (Sds + c * Ss) * inv_n
        ez2 = (Sddss + 2.0 * c * Sdss + c * c * Sss) * inv_n
    g[0] = _canon(gj)
    if method == M_RLOO:
        se[0] = _stderr_var(rl_a * ez2 - rl_b * (gj * gj))
    else:
        se[0] = _stderr(ez2, gj, inv_n1)
    return not (isfinite(ez2) and isfinite(gj * gj))


cdef inline int _score_kf(const double *S, double base) noexcept nogil:
    # f's scale exponent of a score row: |shift|, |base|, every |d| <= sqrt(sum d^2)
    return _down(_imax(_imax(_exp_of(S[FS_SHIFT]), _exp_of(base)), _half_exp_of(S[FS_SUM_DD])))


cdef void _finish_row(const double *S, Py_ssize_t P, int method, double base,
                      double *value, double *value_se, double *g, double *se) noexcept nogil:
    # The estimators of fastscore._kinds.ScoreFunction, from one row of
    # shifted moment sums.  Divisions by n and n - 1 are multiplications by
    # reciprocals taken once per row: a divide per term made this loop the
    # costliest part of a batched policy gradient (many rows, few samples each).
    cdef double n = S[FS_N], shift = S[FS_SHIFT], inv_n, inv_n1, md, scale2
    cdef double rl_den, rl_a, rl_b
    cdef const double *blk
    cdef Py_ssize_t j
    cdef int kf = -1, ks
    cdef bint over
    cdef bint finite = _finish_head(S, fs_score_row_width(P), &inv_n, &inv_n1, &md, value,
                                    value_se)
    # rloo's per-sample terms are n / (n - 1) (d - md) s; mean of their squares:
    scale2 = n * inv_n1 * n * inv_n1 * inv_n
    # rloo's unbiased variance: ((n - 1) ez2 - (n - 2) g^2) / (n^2 - 2n + 2)
    rl_den = (n - 2.0) * n + 2.0
    rl_a = (n - 1.0) / rl_den
    rl_b = (n - 2.0) / rl_den
    for j in range(P):
        blk = S + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j
        over = _score_comp(method, shift, base, md, inv_n, inv_n1, scale2, rl_a, rl_b,
                           blk[FS_SUM_S], blk[FS_SUM_SS], blk[FS_SUM_DS], blk[FS_SUM_DSS],
                           blk[FS_SUM_DDSS], &g[j], &se[j])
        if not finite:
            se[j] = NAN
        elif over:
            # finite sums, an overflowing finish: again on the sums scaled by 2^-kf
            # (f) and 2^-ks (this component's score)
            if kf < 0:
                kf = _score_kf(S, base)
            ks = _down(_half_exp_of(blk[FS_SUM_SS]))
            _score_comp(method, ldexp(shift, -kf), ldexp(base, -kf), ldexp(md, -kf), inv_n,
                        inv_n1, scale2, rl_a, rl_b, ldexp(blk[FS_SUM_S], -ks),
                        ldexp(blk[FS_SUM_SS], -2 * ks), ldexp(blk[FS_SUM_DS], -(kf + ks)),
                        ldexp(blk[FS_SUM_DSS], -(kf + 2 * ks)),
                        ldexp(blk[FS_SUM_DDSS], -(2 * kf + 2 * ks)), &g[j], &se[j])
            g[j] = _canon(ldexp(g[j], kf + ks))
            se[j] = _canon(ldexp(se[j], kf + ks))


cdef object _baselines(int code, baseline, Py_ssize_t B):
    """The baseline per batch element (zeros for the methods without one)."""
    if code == M_BASELINE:
        return np.ascontiguousarray(np.broadcast_to(np.asarray(baseline, dtype=np.float64),
                                                    (B,)))
    return np.zeros(B, dtype=np.float64)


cdef tuple _outputs(Py_ssize_t B, Py_ssize_t P, int n_threads):
    """Fresh (value, value_stderr, grad, stderr) arrays for B elements of P components.

    The four are views of one buffer: one allocation per call, so that a loop
    of calls reuses the allocator's warm pages (glibc returns a freed block
    to the system when the free space above it passes twice the largest block
    it has mapped; four separate arrays freed after a smaller temporary did
    that every call, and the next call paid a page fault per 4 KiB written:
    2.6 ms of a batched policy gradient's 19.5).
    For a run on threads their pages are written here, on the calling thread
    (each row's finish is too little work to pay for page faults taken by
    several threads at once: see _kernels._start_array)."""
    buf = np.empty(2 * B * (P + 1))
    if n_threads != 1:
        buf.fill(0.0)
    return buf[:B], buf[B:2 * B], buf[2 * B:2 * B + B * P].reshape(B, P), \
        buf[2 * B + B * P:].reshape(B, P)


def finish_sums(const double[:, ::1] sums, str method, baseline=None, int n_threads=1):
    """(value, value_stderr, grad, stderr) from moment sums (batch, row width of P).

    method "cv" is refused: its baselines are cross-fitted, from sums kept per
    fold (finish_folds).
    """
    if method == "cv":
        raise ValueError("method='cv' is cross-fitted: finish its per-fold sums with "
                         "finish_folds")
    cdef int code = METHOD_CODES[method]
    cdef Py_ssize_t B = sums.shape[0], P = (sums.shape[1] - FS_HEAD_WIDTH) // FS_SCORE_WIDTH, b
    if P < 1 or sums.shape[1] != fs_score_row_width(P):
        raise ValueError("sums must have %d + %dP columns (P >= 1), got %d"
                         % (FS_HEAD_WIDTH, FS_SCORE_WIDTH, sums.shape[1]))
    cdef const double[::1] bv = _baselines(code, baseline, B)
    value, value_se, g, se = _outputs(B, P, n_threads)
    cdef double[::1] vv = value, vsv = value_se
    cdef double[:, ::1] gv = g, sev = se
    cdef int nt = fs_threads_for(n_threads, B * (P + 1) * 16, B)
    if B > 0:
        with nogil:
            for b in prange(B, num_threads=nt, schedule="static"):
                _finish_row(&sums[b, 0], P, code, bv[b], &vv[b], &vsv[b], &gv[b, 0], &sev[b, 0])
    return value, value_se, g, se


def onehot_finish(const int64_t[:, ::1] counts, const double[:, ::1] fvals, a,
                  const double[:, ::1] bcoef, str method, baseline=None, int n_threads=1, *,
                  long engine):
    """(value, value_stderr, grad, stderr) straight from one-hot family counts.

    onehot_count_sums and finish_sums fused per batch element, with the same
    bits (_onehot.h): the rows' moment sums are never written, and eight
    rows at a time are one vector loop, a lane per row.  ``a`` None means
    a_k = 1 (logits).  ``engine``: the packed engine (fastscore._engine.Engine.code),
    whose reduce_isa the vector loops run on.
    """
    cdef int isa = fs_engine_decode(engine).reduce_isa
    if method == "cv":
        raise ValueError("method='cv' is cross-fitted: finish its per-fold sums with "
                         "finish_folds")
    cdef int code = METHOD_CODES[method]
    cdef Py_ssize_t B = counts.shape[0], V = counts.shape[1], grp, b, r
    cdef int redo, bad = 0
    if fvals.shape[0] != B or fvals.shape[1] != V or bcoef.shape[0] != B \
            or bcoef.shape[1] != V:
        raise ValueError("counts, fvals and b must all have shape (batch, K)")
    cdef const double[:, ::1] av
    cdef bint ones = a is None
    if not ones:
        av = a
        if av.shape[0] != B or av.shape[1] != V:
            raise ValueError("a must have shape (batch, K)")
    cdef const double[::1] bv = _baselines(code, baseline, B)
    value, value_se, g, se = _outputs(B, V, n_threads)
    cdef double[::1] vv = value, vsv = value_se
    cdef double[:, ::1] gv = g, sev = se
    cdef Py_ssize_t groups = (B + FS__GROUP - 1) // FS__GROUP
    cdef int nt = fs_threads_for(n_threads, B * V * 16, groups)
    if B > 0 and V > 0:
        with nogil:
            # FS__GROUP rows at a time: a vector lane per row (_onehot.h).
            for grp in prange(groups, num_threads=nt, schedule="static"):
                b = grp * FS__GROUP
                redo = fs_onehot_finish_group(isa, &counts[b, 0], &fvals[b, 0],
                                              NULL if ones else &av[b, 0], &bcoef[b, 0],
                                              min(FS__GROUP, B - b), V, code, &bv[b],
                                              &vv[b], &vsv[b], &gv[b, 0], &sev[b, 0])
                if redo:
                    for r in range(min(FS__GROUP, B - b)):
                        if (redo >> r) & 1:
                            bad += _onehot_redo(&counts[b + r, 0], &fvals[b + r, 0],
                                                NULL if ones else &av[b + r, 0],
                                                &bcoef[b + r, 0], V, code, bv[b + r],
                                                &vv[b + r], &vsv[b + r], &gv[b + r, 0],
                                                &sev[b + r, 0])
    if bad:
        raise MemoryError()
    return value, value_se, g, se


cdef int _onehot_redo(const int64_t *cnt, const double *fv, const double *a, const double *bc,
                      Py_ssize_t V, int method, double base, double *value, double *value_se,
                      double *g, double *se) noexcept nogil:
    # A row whose fused finish met a non-finite number (a sum: an infinite f
    # value; or the variance estimate: a finish that overflowed on finite
    # sums): its sums by _onehot_row, then _finish_row (NaN standard errors, or
    # a rescaled finish), the bits of onehot_count_sums followed by
    # finish_sums.  1 when out of memory.
    cdef Py_ssize_t W = fs_score_row_width(V), k
    cdef double *buf = <double *>malloc((W + V) * sizeof(double))
    cdef double *ones = buf + W
    if buf == NULL:
        return 1
    if a == NULL:
        for k in range(V):
            ones[k] = 1.0
    _onehot_row(cnt, fv, ones if a == NULL else a, bc, V, buf)
    _finish_row(buf, V, method, base, value, value_se, g, se)
    free(buf)
    return 0


cdef void _finish_mean_row(const double *S, Py_ssize_t P, const double *coef, double *value,
                           double *value_se, double *g, double *se) noexcept nogil:
    # gradient j = c_j mean(t_j), stderr |c_j| sd(t_j) / sqrt(n), from one row
    # of mean blocks (the mean kinds of fastscore/kinds/); coef NULL means c = 1.
    cdef double inv_n, inv_n1, md, mt, cj, ts
    cdef const double *blk
    cdef Py_ssize_t j
    cdef int kt
    cdef bint finite = _finish_head(S, fs_mean_row_width(P), &inv_n, &inv_n1, &md, value,
                                    value_se)
    for j in range(P):
        blk = S + FS_HEAD_WIDTH + FS_MEAN_WIDTH * j
        mt = blk[FS_SUM_T] * inv_n
        cj = coef[j] if coef != NULL else 1.0
        ts = blk[FS_TERM_SHIFT]
        if finite and not isfinite(ts + mt):
            # the mean term overflows on finite sums: again on the sums scaled by 2^-kt
            # (c_j times it may still be finite)
            kt = _down(_imax(_imax(_exp_of(ts), _exp_of(blk[FS_SUM_T])),
                             _half_exp_of(blk[FS_SUM_TT])))
            g[j] = _canon(ldexp(cj * (ldexp(ts, -kt) + ldexp(blk[FS_SUM_T], -kt) * inv_n), kt))
        else:
            g[j] = _canon(cj * (ts + mt))
        se[j] = _canon(fabs(cj) * _stderr(blk[FS_SUM_TT] * inv_n, mt, inv_n1)) if finite \
            else NAN


def finish_mean(const double[:, ::1] sums, coef=None, int n_threads=1):
    """(value, value_stderr, grad, stderr) from rows of mean blocks (batch, row width of P).

    ``coef`` (batch, P) scales each component's mean (the measure-valued
    constants c_j); None means 1 (pathwise).
    """
    cdef Py_ssize_t B = sums.shape[0], P = (sums.shape[1] - FS_HEAD_WIDTH) // FS_MEAN_WIDTH, b
    if P < 1 or sums.shape[1] != fs_mean_row_width(P):
        raise ValueError("sums must have %d + %dP columns (P >= 1), got %d"
                         % (FS_HEAD_WIDTH, FS_MEAN_WIDTH, sums.shape[1]))
    cdef const double[:, ::1] cv
    cdef bint ones = coef is None
    if not ones:
        cv = np.ascontiguousarray(coef, dtype=np.float64)
        if cv.shape[0] != B or cv.shape[1] != P:
            raise ValueError("coef must have shape (batch, P) = (%d, %d)" % (B, P))
    value, value_se, g, se = _outputs(B, P, n_threads)
    cdef double[::1] vv = value, vsv = value_se
    cdef double[:, ::1] gv = g, sev = se
    cdef int nt = fs_threads_for(n_threads, B * (P + 1) * 16, B)
    if B > 0:
        with nogil:
            for b in prange(B, num_threads=nt, schedule="static"):
                _finish_mean_row(&sums[b, 0], P, NULL if ones else &cv[b, 0], &vv[b], &vsv[b],
                                 &gv[b, 0], &sev[b, 0])
    return value, value_se, g, se


cdef inline bint _cv_comp(double a_shift, double Sa, double Saa, double Sc, double Scc,
                          double Sac, double eta, double inv_n, double inv_n1, double *g,
                          double *se, double *eta_used) noexcept nogil:
    # One control-variate component (before the row's finiteness check); True
    # where the finish overflowed.
    cdef double ma, mc, vc, cac, e, ez2, gm, gv
    ma = Sa * inv_n
    mc = Sc * inv_n
    e = eta
    if e != e:
        vc = Scc * inv_n - mc * mc
        cac = Sac * inv_n - ma * mc
        e = -cac / vc if vc > 0.0 else 0.0
    gm = ma + e * mc
    ez2 = (Saa + 2.0 * e * Sac + e * e * Scc) * inv_n
    gv = a_shift + gm
    g[0] = _canon(gv)
    se[0] = _stderr(ez2, gm, inv_n1)
    eta_used[0] = e
    return not (isfinite(gv) and isfinite(ez2) and isfinite(gm * gm))


cdef void _finish_cv_row(const double *S, Py_ssize_t P, const double *eta, double *value,
                         double *value_se, double *g, double *se, double *eta_used) noexcept nogil:
    # gradient j = mean(A + eta C) (C has mean zero), eta given or, where eta is
    # NaN, the variance-minimising -cov(A, C) / var(C) of the same samples
    # (fastscore._kinds.Rebar); stderr from the variance of A + eta C.  Where it
    # overflows on finite sums, again on A and C scaled by 2^-k.
    cdef double inv_n, inv_n1, md
    cdef const double *blk
    cdef Py_ssize_t j
    cdef int k
    cdef bint finite = _finish_head(S, fs_cv_row_width(P), &inv_n, &inv_n1, &md, value,
                                    value_se)
    for j in range(P):
        blk = S + FS_HEAD_WIDTH + FS_CV_WIDTH * j
        if _cv_comp(blk[FS_A_SHIFT], blk[FS_SUM_A], blk[FS_SUM_AA], blk[FS_SUM_C],
                    blk[FS_SUM_CC], blk[FS_SUM_AC], eta[j], inv_n, inv_n1, &g[j], &se[j],
                    &eta_used[j]) and finite:
            k = _down(_imax(_imax(_exp_of(blk[FS_A_SHIFT]), _half_exp_of(blk[FS_SUM_AA])),
                            _half_exp_of(blk[FS_SUM_CC])))
            _cv_comp(ldexp(blk[FS_A_SHIFT], -k), ldexp(blk[FS_SUM_A], -k),
                     ldexp(blk[FS_SUM_AA], -2 * k), ldexp(blk[FS_SUM_C], -k),
                     ldexp(blk[FS_SUM_CC], -2 * k), ldexp(blk[FS_SUM_AC], -2 * k), eta[j],
                     inv_n, inv_n1, &g[j], &se[j], &eta_used[j])
            g[j] = _canon(ldexp(g[j], k))
            se[j] = _canon(ldexp(se[j], k))
        if not finite:
            se[j] = NAN


def finish_cv(const double[:, ::1] sums, eta, int n_threads=1):
    """(value, value_stderr, grad, stderr, eta) from rows of control-variate blocks.

    ``eta`` (batch, P): the control variate's coefficient per component; NaN
    entries are chosen from the sums (the variance-minimising value).
    """
    cdef Py_ssize_t B = sums.shape[0], P = (sums.shape[1] - FS_HEAD_WIDTH) // FS_CV_WIDTH, b
    if P < 1 or sums.shape[1] != fs_cv_row_width(P):
        raise ValueError("sums must have %d + %dP columns (P >= 1), got %d"
                         % (FS_HEAD_WIDTH, FS_CV_WIDTH, sums.shape[1]))
    cdef const double[:, ::1] ev = np.ascontiguousarray(np.broadcast_to(
        np.asarray(eta, dtype=np.float64), (B, P)))
    value, value_se, g, se = _outputs(B, P, n_threads)
    used = np.empty((B, P))
    cdef double[::1] vv = value, vsv = value_se
    cdef double[:, ::1] gv = g, sev = se, uv = used
    cdef int nt = fs_threads_for(n_threads, B * (P + 1) * 16, B)
    if B > 0:
        with nogil:
            for b in prange(B, num_threads=nt, schedule="static"):
                _finish_cv_row(&sums[b, 0], P, &ev[b, 0], &vv[b], &vsv[b], &gv[b, 0],
                               &sev[b, 0], &uv[b, 0])
    return value, value_se, g, se, used


cdef void _finish_folds_row(const double *S, Py_ssize_t P, double *T, double *value,
                            double *value_se, double *g, double *se) noexcept nogil:
    # The cross-fitted cv of fastscore._kinds.ScoreCV from one row of
    # FS_CV_FOLDS score rows: T gets their merge (in fold order), which gives
    # the value; with n = 2, the estimate is rloo's; otherwise, over the
    # Ke = min(n, FS_CV_FOLDS) folds with samples, fold k's baseline is the
    # ratio sum f s^2 / sum s^2 of folds k + 1, ..., k + (Ke - 1) // 2 (mod
    # Ke) (their mean f where that sum of s^2 is 0), and the standard error
    # the terms' sample standard deviation over sqrt(n) (_folds_comp, in the
    # order of the NumPy twin's operations).
    cdef Py_ssize_t W = fs_score_row_width(P), k, j, ke
    cdef double inv_n, inv_n1, md, n, c, sdm
    cdef int kf, ks
    cdef bint finite
    memcpy(T, S, W * sizeof(double))
    for k in range(1, FS_CV_FOLDS):
        fs_merge_score_rows(T, S + k * W, P)
    n = T[FS_N]
    if not n >= 3.0:
        _finish_row(T, P, M_RLOO, 0.0, value, value_se, g, se)
        return
    finite = _finish_head(T, W, &inv_n, &inv_n1, &md, value, value_se)
    for k in range(FS_CV_FOLDS * W):
        if not isfinite(S[k]):
            finite = False
    if not finite:
        value_se[0] = NAN
    ke = <Py_ssize_t>n if n < FS_CV_FOLDS else FS_CV_FOLDS
    kf = -1
    for j in range(P):
        _folds_comp(S, W, j, ke, 0, 0, inv_n, &c, &sdm)   # c the gradient, sdm the mean square
        g[j] = _canon(c)
        se[j] = _stderr(sdm, c, inv_n1) if finite else NAN
        if finite and not (isfinite(sdm) and isfinite(c * c)):
            # finite sums, an overflowing finish: again on the sums scaled by 2^-kf (f,
            # over every fold) and 2^-ks (this component's score, over every fold)
            if kf < 0:
                kf = 0
                for k in range(FS_CV_FOLDS):
                    kf = _imax(kf, _score_kf(S + k * W, 0.0))
            ks = 0
            for k in range(FS_CV_FOLDS):
                ks = _imax(ks, _down(_half_exp_of(S[k * W + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j
                                                    + FS_SUM_SS])))
            _folds_comp(S, W, j, ke, kf, ks, inv_n, &c, &sdm)
            g[j] = _canon(ldexp(c, kf + ks))
            se[j] = _canon(ldexp(_stderr(sdm, c, inv_n1), kf + ks))


cdef void _folds_comp(const double *S, Py_ssize_t W, Py_ssize_t j, Py_ssize_t ke, int kf,
                      int ks, double inv_n, double *gj, double *sdm) noexcept nogil:
    # Component j of _finish_folds_row on the fold rows scaled by 2^-kf (f) and
    # 2^-ks (the score), exactly (powers of two; kf = ks = 0 is the rows as they
    # are): the gradient gj and the mean of the terms' squares sdm, both in the
    # scaled frame (the caller scales them back).
    cdef Py_ssize_t k, r, jj, reach = (ke - 1) // 2
    cdef double shift_k, dsh, nj, sdj, num, den, cnt, sm, c, gs = 0.0, es = 0.0
    cdef double bss
    cdef const double *Sk
    cdef const double *Sj
    cdef const double *bk
    cdef const double *bj
    for k in range(ke):
        Sk = S + k * W
        shift_k = ldexp(Sk[FS_SHIFT], -kf)
        num = 0.0
        den = 0.0
        cnt = 0.0
        sm = 0.0
        jj = k
        for r in range(reach):
            jj = jj + 1
            if jj == ke:
                jj = 0
            Sj = S + jj * W
            dsh = ldexp(Sj[FS_SHIFT], -kf) - shift_k
            nj = Sj[FS_N]
            sdj = ldexp(Sj[FS_SUM_D], -kf)
            bj = Sj + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j
            bss = ldexp(bj[FS_SUM_SS], -2 * ks)
            num = num + (dsh * bss + ldexp(bj[FS_SUM_DSS], -(kf + 2 * ks)))
            den = den + bss
            cnt = cnt + nj
            sm = sm + (dsh * nj + sdj)
        bk = Sk + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j
        bss = ldexp(bk[FS_SUM_SS], -2 * ks)
        c = -num / den if den > 0.0 else -sm / cnt
        gs = gs + (ldexp(bk[FS_SUM_DS], -(kf + ks)) + c * ldexp(bk[FS_SUM_S], -ks))
        es = es + ((ldexp(bk[FS_SUM_DDSS], -(2 * kf + 2 * ks))
                    + 2.0 * c * ldexp(bk[FS_SUM_DSS], -(kf + 2 * ks))) + c * c * bss)
    gj[0] = gs * inv_n
    sdm[0] = es * inv_n


def finish_folds(const double[:, ::1] sums, int n_threads=1):
    """(value, value_stderr, grad, stderr) of the cross-fitted cv from rows of
    FS_CV_FOLDS score rows each (batch, FS_CV_FOLDS * score row width of P)."""
    cdef Py_ssize_t B = sums.shape[0], W, P, b
    W = sums.shape[1] // FS_CV_FOLDS
    P = (W - FS_HEAD_WIDTH) // FS_SCORE_WIDTH
    if P < 1 or sums.shape[1] != fs_folds_row_width(P):
        raise ValueError("sums must have %d (%d + %dP) columns (P >= 1), got %d"
                         % (FS_CV_FOLDS, FS_HEAD_WIDTH, FS_SCORE_WIDTH, sums.shape[1]))
    value, value_se, g, se = _outputs(B, P, n_threads)
    tot = np.empty((B, W))
    cdef double[:, ::1] tv = tot
    cdef double[::1] vv = value, vsv = value_se
    cdef double[:, ::1] gv = g, sev = se
    cdef int nt = fs_threads_for(n_threads, B * (P + 1) * 64, B)
    if B > 0:
        with nogil:
            for b in prange(B, num_threads=nt, schedule="static"):
                _finish_folds_row(&sums[b, 0], P, &tv[b, 0], &vv[b], &vsv[b], &gv[b, 0],
                                  &sev[b, 0])
    return value, value_se, g, se


def onehot_folds_finish(const int64_t[:, ::1] counts, const double[:, ::1] fvals,
                        const double[:, ::1] a, const double[:, ::1] bcoef, int n_threads=1):
    """finish_folds straight from a one-hot family's counts per fold (batch,
    FS_CV_FOLDS * K): each fold's sums by onehot_count_sums' closed forms (an
    empty fold's are zeros) into a scratch row, then the cross-fitted finish;
    the fold rows are never written to memory, and the bits are those of
    onehot_count_sums per fold followed by finish_folds."""
    cdef Py_ssize_t B = counts.shape[0], V = fvals.shape[1], b
    if counts.shape[1] != FS_CV_FOLDS * V or fvals.shape[0] != B or a.shape[0] != B \
            or a.shape[1] != V or bcoef.shape[0] != B or bcoef.shape[1] != V:
        raise ValueError("counts must be (batch, %d K) and fvals, a, b (batch, K)" % FS_CV_FOLDS)
    value, value_se, g, se = _outputs(B, V, n_threads)
    cdef double[::1] vv = value, vsv = value_se
    cdef double[:, ::1] gv = g, sev = se
    cdef int nt = fs_threads_for(n_threads, B * V * 64, B)
    cdef int bad = 0
    if B > 0 and V > 0:
        with nogil:
            for b in prange(B, num_threads=nt, schedule="static"):
                bad += _onehot_folds_row(&counts[b, 0], &fvals[b, 0], &a[b, 0], &bcoef[b, 0], V,
                                         &vv[b], &vsv[b], &gv[b, 0], &sev[b, 0])
    if bad:
        raise MemoryError()
    return value, value_se, g, se


cdef int _onehot_folds_row(const int64_t *cnt, const double *fv, const double *a,
                           const double *bc, Py_ssize_t V, double *value, double *value_se,
                           double *g, double *se) noexcept nogil:
    cdef Py_ssize_t W = fs_score_row_width(V), k, v
    cdef int64_t tot
    cdef double *buf = <double *>malloc((FS_CV_FOLDS + 1) * W * sizeof(double))
    if buf == NULL:
        return 1
    for k in range(FS_CV_FOLDS):
        tot = 0
        for v in range(V):
            tot = tot + cnt[k * V + v]
        if tot == 0:
            memset(buf + k * W, 0, W * sizeof(double))
        else:
            _onehot_row(cnt + k * V, fv, a, bc, V, buf + k * W)
    _finish_folds_row(buf, V, buf + FS_CV_FOLDS * W, value, value_se, g, se)
    free(buf)
    return 0
