# The pathwise kernel kind (FS_KIND_PATHWISE): its step functions, included by
# _kernels.pyx from the kind table (fastscore/_specs.py).  One row: the head,
# then a mean block per component (the terms f'(x) dx/dtheta_j).

cdef inline Py_ssize_t _pathwise_row_width(Py_ssize_t P) noexcept nogil:
    return fs_mean_row_width(P)


cdef inline void _pathwise_merge(double *tot, const double *a, Py_ssize_t P) noexcept nogil:
    fs_merge_mean_rows(tot, a, P)


cdef inline Py_ssize_t _pathwise_n_points(int fam) noexcept nogil:
    return 1


cdef inline Py_ssize_t _pathwise_n_values(int fam) noexcept nogil:
    return 1


cdef inline Py_ssize_t _pathwise_scratch(Py_ssize_t P, Py_ssize_t E,
                                         Py_ssize_t ts) noexcept nogil:
    """Scratch besides d = f - shift: the terms, s (P) and w (2 E)."""
    return P * ts + P + 2 * E


cdef inline Py_ssize_t _pathwise_aux_width(Py_ssize_t E) noexcept nogil:
    """Numbers per sample the draw writes besides its points (0: none)."""
    return 0


cdef void _accumulate_pathwise(const fs_engine *eng, int fam, const double *c, const double *x,
                               Py_ssize_t xstride, const double *fx, Py_ssize_t fstride,
                               const double *gp, Py_ssize_t gstride, Py_ssize_t m, double *row,
                               Py_ssize_t P, Py_ssize_t E, double *scratch) noexcept nogil:
    """The pathwise estimator's step: value sums of f and, per component, the
    mean of the terms f'(x) dx/dtheta_j (the family's pathwise slot).
    ``scratch``: _acc_scratch(FS_KIND_PATHWISE, P, E, _terms_stride(m)) doubles."""
    cdef Py_ssize_t ts = _terms_stride(m), i, i0, cnt
    cdef double *dbuf = scratch
    cdef double *work = scratch + _al(ts)
    cdef double shift
    cdef bint first
    if m <= 0:
        return
    first = row[FS_N] == 0.0
    if first:
        row[FS_SHIFT] = fx[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        if xstride == 1 and fstride == 1 and gstride == 1 and _pathwise_fold(
                eng, fam, c, E, x + i0, fx + i0, gp + i0, shift, cnt, P, row, work,
                first and i0 == 0):
            i0 += cnt   # the steps below in one pass, the same bits
            continue
        for i in range(cnt):
            dbuf[i] = fx[(i0 + i) * fstride] - shift
        _pathwise_terms(eng, fam, c, E, x + i0 * xstride, xstride, gp + i0 * gstride, gstride, cnt,
                        P, work, ts, work + P * ts, work + P * ts + P)
        _fold_mean_block(eng, row, dbuf, work, ts, cnt, P, first and i0 == 0)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m


cdef inline bint _pathwise_block(const fs_engine *eng, int fam, const double *cb, Py_ssize_t nc,
                                 bitgen_t *bg, int64_t b, Py_ssize_t cnt, Py_ssize_t blk,
                                 Py_ssize_t E, Py_ssize_t P, const FSpec *f, const FSpec *g,
                                 double *row, double *xbuf, double *tbuf, double *gbuf,
                                 double *fbuf, double *aux, double *acc,
                                 int64_t first) noexcept nogil:
    """Draw cnt samples, evaluate f and f' and fold them into row.
    False, folding nothing: a sample f would see is not a finite double."""
    cdef const double *src = xbuf
    _draw(eng, fam, bg, cb, nc, E, xbuf, E, cnt, tbuf, E)
    if _f_input(fam, cb, xbuf, E, E, cnt, tbuf, E):
        src = tbuf
    if _any_nonfinite(eng, src, cnt * E):
        return False
    _eval_f(eng, f, src, E, cnt, b, fbuf)
    _eval_grad_f(g, src, E, cnt, b, gbuf)
    _accumulate_pathwise(eng, fam, cb, xbuf, E, fbuf, 1, gbuf, E, cnt, row, P, E, acc)
    return True


# ---- a Python f's windows (run_python): draw, evaluate in Python, fold

cdef inline bint _pathwise_window_t(int fam, const double *c, Py_ssize_t E) noexcept nogil:
    """Does a window keep a second buffer t (what f sees, for families with an f input)?"""
    return _f_input(fam, c, NULL, 0, E, 0, NULL, 0)


cdef inline void _pathwise_window_draw(
        const fs_engine *eng, int fam, bitgen_t *bg, const double *c, Py_ssize_t nc,
        Py_ssize_t E, double *x, double *t, Py_ssize_t qx, Py_ssize_t ix, double *aux,
        Py_ssize_t ia, Py_ssize_t m) noexcept nogil:
    """Draw m samples into x[i * ix] (what f sees, where it differs, into t)."""
    _draw(eng, fam, bg, c, nc, E, x, ix, m, t, ix)
    _f_input(fam, c, x, ix, E, m, t, ix)


cdef object _pathwise_window_eval(const fs_engine *eng, xw, tw, Py_ssize_t Q, int64_t m_w,
                                  Py_ssize_t batch, Py_ssize_t E, call_f, call_grad):
    """f (and f') of the window's m_w samples (what f sees: tw[0]); (fv, gv, qstride)."""
    cdef double[:, :, :, ::1] tv = tw
    seen = tw[0, :m_w]
    if fs_row_nonfinite(eng.reduce_isa, &tv[0, 0, 0, 0], m_w * batch * E):
        # f would see a draw beyond float64
        raise _SampleOverflowError(int(np.nonzero(~np.isfinite(seen))[1][0]))
    return call_f(seen), call_grad(tw[0, :m_w]), 0


cdef inline void _pathwise_window_step(
        const fs_engine *eng, int fam, const double *c, Py_ssize_t E, Py_ssize_t P,
        const double *x, const double *t, const double *aux, Py_ssize_t qx, Py_ssize_t ix,
        Py_ssize_t ia, const double *fv, Py_ssize_t qf, Py_ssize_t jf, const double *gv,
        Py_ssize_t jg, Py_ssize_t m, double *row, int64_t first,
        double *scratch) noexcept nogil:
    """Fold m samples (x[i * ix], f at fv[i * jf], f' at gv[i * jg]) into row."""
    _accumulate_pathwise(eng, fam, c, x, ix, fv, jf, gv, jg, m, row, P, E, scratch)
