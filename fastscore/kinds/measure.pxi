# The measure-valued kernel kind (FS_KIND_MEASURE): its step functions,
# included by _kernels.pyx from the kind table (fastscore/_specs.py).  Each
# sample is drawn with its coupled points (the family's measure slot); one
# row: the head, then a mean block per component (f(x+) - f(x-)).

cdef inline Py_ssize_t _measure_row_width(Py_ssize_t P) noexcept nogil:
    return fs_mean_row_width(P)


cdef inline void _measure_merge(double *tot, const double *a, Py_ssize_t P) noexcept nogil:
    fs_merge_mean_rows(tot, a, P)


cdef inline Py_ssize_t _measure_n_points(int fam) noexcept nogil:
    return _measure_points(fam)


cdef inline Py_ssize_t _measure_n_values(int fam) noexcept nogil:
    """The points, then a weight per component where the draw writes one."""
    return _measure_points(fam) + (_measure_points(fam) - 1) // 2 * _measure_weighted(fam)


cdef inline Py_ssize_t _measure_scratch(Py_ssize_t P, Py_ssize_t E,
                                        Py_ssize_t ts) noexcept nogil:
    return P * ts


cdef inline Py_ssize_t _measure_aux_width(Py_ssize_t E) noexcept nogil:
    """Numbers per sample the draw writes besides its points (0: none)."""
    return 0


cdef void _accumulate_measure(const fs_engine *eng, const double *fq, Py_ssize_t qstride,
                              Py_ssize_t fstride, const double *w, Py_ssize_t wqstride,
                              Py_ssize_t wstride, Py_ssize_t m, double *row, Py_ssize_t P,
                              double *scratch) noexcept nogil:
    """The measure-valued estimator's step, from f at each sample's points
    (fq[q * qstride + i * fstride]): value sums of f at the sample and, per
    component, the mean of f(x+) - f(x-) (the finish applies the constants c_j),
    times the draw's weight w[j * wqstride + i * wstride] where it has one.
    ``scratch``: _acc_scratch(FS_KIND_MEASURE, P, 1, _terms_stride(m)) doubles."""
    cdef Py_ssize_t ts = _terms_stride(m), i, j, i0, cnt
    cdef double *dbuf = scratch
    cdef double *work = scratch + _al(ts)
    cdef double shift
    cdef bint first
    if m <= 0:
        return
    first = row[FS_N] == 0.0
    if first:
        row[FS_SHIFT] = fq[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        for i in range(cnt):
            dbuf[i] = fq[(i0 + i) * fstride] - shift
        for j in range(P):
            for i in range(cnt):
                work[j * ts + i] = (fq[(1 + 2 * j) * qstride + (i0 + i) * fstride]
                                    - fq[(2 + 2 * j) * qstride + (i0 + i) * fstride])
            if w != NULL:
                for i in range(cnt):
                    work[j * ts + i] = w[j * wqstride + (i0 + i) * wstride] * work[j * ts + i]
        _fold_mean_block(eng, row, dbuf, work, ts, cnt, P, first and i0 == 0)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m


cdef inline bint _measure_block(const fs_engine *eng, int fam, const double *cb, Py_ssize_t nc,
                                bitgen_t *bg, int64_t b, Py_ssize_t cnt, Py_ssize_t blk,
                                Py_ssize_t E, Py_ssize_t P, const FSpec *f, const FSpec *g,
                                double *row, double *xbuf, double *tbuf, double *gbuf,
                                double *fbuf, double *aux, double *acc,
                                int64_t first) noexcept nogil:
    """Draw cnt samples with their points ([q][i] in xbuf, weights after them),
    evaluate f at every point and fold the differences into row."""
    cdef Py_ssize_t Q = _measure_points(fam), q
    _measure_draw(fam, bg, cb, nc, xbuf, blk, 1, cnt)
    for q in range(Q):
        _eval_f(eng, f, xbuf + q * blk, 1, cnt, b, fbuf + q * blk)
    _accumulate_measure(eng, fbuf, blk, 1, xbuf + Q * blk if _measure_weighted(fam) else NULL,
                        blk, 1, cnt, row, P, acc)
    return True


# ---- a Python f's windows (run_python): draw, evaluate in Python, fold

cdef inline bint _measure_window_t(int fam, const double *c, Py_ssize_t E) noexcept nogil:
    """Does a window keep a second buffer t (never: f sees the points)?"""
    return False


cdef inline void _measure_window_draw(
        const fs_engine *eng, int fam, bitgen_t *bg, const double *c, Py_ssize_t nc,
        Py_ssize_t E, double *x, double *t, Py_ssize_t qx, Py_ssize_t ix, double *aux,
        Py_ssize_t ia, Py_ssize_t m) noexcept nogil:
    """Draw m samples' points (point q of sample i at x[q * qx + i * ix])."""
    _measure_draw(fam, bg, c, nc, x, qx, ix, m)


cdef object _measure_window_eval(const fs_engine *eng, xw, tw, Py_ssize_t Q, int64_t m_w,
                                 Py_ssize_t batch, Py_ssize_t E, call_f, call_grad):
    """f at every point of the window's samples, in one call, point-major."""
    return call_f(xw[:Q, :m_w].reshape(Q * m_w, batch, E)), None, m_w * batch


cdef inline void _measure_window_step(
        const fs_engine *eng, int fam, const double *c, Py_ssize_t E, Py_ssize_t P,
        const double *x, const double *t, const double *aux, Py_ssize_t qx, Py_ssize_t ix,
        Py_ssize_t ia, const double *fv, Py_ssize_t qf, Py_ssize_t jf, const double *gv,
        Py_ssize_t jg, Py_ssize_t m, double *row, int64_t first,
        double *scratch) noexcept nogil:
    """Fold m samples (f at point q of sample i: fv[q * qf + i * jf]) into row."""
    _accumulate_measure(eng, fv, qf, jf, x + _measure_points(fam) * qx
                        if _measure_weighted(fam) else NULL, qx, ix, m, row, P, scratch)
