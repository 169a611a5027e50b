# The REBAR kernel kind (FS_KIND_REBAR): its step functions, included by
# _kernels.pyx from the kind table (fastscore/_specs.py).  Each sample is a
# hard sample with its relaxed points (the family's rebar slot); one row: the
# head, then a control-variate block per component (A + eta C).

cdef inline Py_ssize_t _rebar_row_width(Py_ssize_t P) noexcept nogil:
    return fs_cv_row_width(P)


cdef inline void _rebar_merge(double *tot, const double *a, Py_ssize_t P) noexcept nogil:
    fs_merge_cv_rows(tot, a, P)


cdef inline Py_ssize_t _rebar_n_points(int fam) noexcept nogil:
    """Two f-points per sample (b and y~), and f' at two more (y and y~)."""
    return 2


cdef inline Py_ssize_t _rebar_n_values(int fam) noexcept nogil:
    return 2


cdef inline Py_ssize_t _rebar_scratch(Py_ssize_t P, Py_ssize_t E, Py_ssize_t ts) noexcept nogil:
    """Scratch besides d = f - shift: the terms A and C, one sample's A and C."""
    return 2 * P * ts + 2 * P


cdef inline Py_ssize_t _rebar_aux_width(Py_ssize_t E) noexcept nogil:
    """Numbers per sample the draw writes besides its points (0: none)."""
    return E + 2


cdef void _accumulate_rebar(const fs_engine *eng, int fam, const double *c, Py_ssize_t E,
                            const double *fv, Py_ssize_t fq, Py_ssize_t fi, const double *gv,
                            Py_ssize_t gq, Py_ssize_t gi, const double *y, Py_ssize_t yq,
                            Py_ssize_t yi, const double *aux, Py_ssize_t astride, Py_ssize_t m,
                            double *row, Py_ssize_t P, double *scratch) noexcept nogil:
    """REBAR's step: value sums of f at the hard sample and, per component, the
    control-variate sums of its terms A and C (the family's rebar slot).

    f at the two f-points is fv[{0, fq} + i * fi]; f' and the relaxed points
    (y, y~) of sample i are at gv and y + {0, gq or yq} + i * (gi or yi).
    ``scratch``: _acc_scratch(FS_KIND_REBAR, P, E, _terms_stride(m)) doubles.
    """
    cdef Py_ssize_t ts = _terms_stride(m), i, j, i0, cnt
    cdef double *dbuf = scratch
    cdef double *work = scratch + _al(ts)
    cdef double *Al
    cdef double *Cl
    cdef double *blk
    cdef double shift
    cdef bint first
    if m <= 0:
        return
    Al = work + 2 * P * ts
    Cl = Al + P
    first = row[FS_N] == 0.0
    if first:
        row[FS_SHIFT] = fv[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        for i in range(cnt):
            dbuf[i] = fv[(i0 + i) * fi] - shift
            _rebar_terms(fam, c, E, fv[(i0 + i) * fi], fv[fq + (i0 + i) * fi],
                         gv + (i0 + i) * gi, gv + gq + (i0 + i) * gi,
                         y + (i0 + i) * yi, y + yq + (i0 + i) * yi,
                         aux + (i0 + i) * astride, Al, Cl)
            for j in range(P):
                work[j * ts + i] = Al[j]
                work[(P + j) * ts + i] = Cl[j]
        fs_fold_value(eng.reduce_isa, dbuf, cnt, row)
        for j in range(P):
            blk = row + FS_HEAD_WIDTH + FS_CV_WIDTH * j
            if first and i0 == 0:
                blk[FS_A_SHIFT] = work[j * ts]
            fs_fold_cv(eng.reduce_isa, work + j * ts, work + (P + j) * ts, cnt, blk)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m


cdef inline bint _rebar_block(const fs_engine *eng, int fam, const double *cb, Py_ssize_t nc,
                              bitgen_t *bg, int64_t b, Py_ssize_t cnt, Py_ssize_t blk,
                              Py_ssize_t E, Py_ssize_t P, const FSpec *f, const FSpec *g,
                              double *row, double *xbuf, double *tbuf, double *gbuf,
                              double *fbuf, double *aux, double *acc,
                              int64_t first) noexcept nogil:
    """Draw cnt samples' points (f-points in xbuf, f'-points in tbuf, aux values),
    evaluate f and f' at them and fold the terms into row."""
    cdef Py_ssize_t q
    _rebar_draw(fam, bg, cb, E, xbuf, tbuf, blk * E, E, aux, E + 2, cnt)
    for q in range(2):
        _eval_f(eng, f, xbuf + q * blk * E, E, cnt, b, fbuf + q * blk)
        _eval_grad_f(g, tbuf + q * blk * E, E, cnt, b, gbuf + q * blk * E)
    _accumulate_rebar(eng, fam, cb, E, fbuf, blk, 1, gbuf, blk * E, E, tbuf, blk * E, E,
                      aux, E + 2, cnt, row, P, acc)
    return True


# ---- a Python f's windows (run_python): draw, evaluate in Python, fold

cdef inline bint _rebar_window_t(int fam, const double *c, Py_ssize_t E) noexcept nogil:
    """Does a window keep a second buffer t (the f'-points)?"""
    return True


cdef inline void _rebar_window_draw(
        const fs_engine *eng, int fam, bitgen_t *bg, const double *c, Py_ssize_t nc,
        Py_ssize_t E, double *x, double *t, Py_ssize_t qx, Py_ssize_t ix, double *aux,
        Py_ssize_t ia, Py_ssize_t m) noexcept nogil:
    """Draw m samples' f-points (x), f'-points (t) and aux values (aux[i * ia])."""
    _rebar_draw(fam, bg, c, E, x, t, qx, ix, aux, ia, m)


cdef object _rebar_window_eval(const fs_engine *eng, xw, tw, Py_ssize_t Q, int64_t m_w,
                               Py_ssize_t batch, Py_ssize_t E, call_f, call_grad):
    """f at both f-points and f' at both f'-points of the window's samples, point-major."""
    return (call_f(xw[:Q, :m_w].reshape(Q * m_w, batch, E)),
            call_grad(tw[:, :m_w].reshape(2 * m_w, batch, E)), m_w * batch)


cdef inline void _rebar_window_step(
        const fs_engine *eng, int fam, const double *c, Py_ssize_t E, Py_ssize_t P,
        const double *x, const double *t, const double *aux, Py_ssize_t qx, Py_ssize_t ix,
        Py_ssize_t ia, const double *fv, Py_ssize_t qf, Py_ssize_t jf, const double *gv,
        Py_ssize_t jg, Py_ssize_t m, double *row, int64_t first,
        double *scratch) noexcept nogil:
    """Fold m samples (f at fv[{0, qf} + i * jf], f' at gv[{0, qf E} + i * jg],
    f'-points at t[{0, qx} + i * ix]) into row."""
    _accumulate_rebar(eng, fam, c, E, fv, qf, jf, gv, qf * E, jg, t, qx, ix, aux, ia, m, row,
                      P, scratch)
