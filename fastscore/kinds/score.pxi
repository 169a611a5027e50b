# The score-function kernel kind (FS_KIND_SCORE): its step functions, included
# by _kernels.pyx from the kind table (fastscore/_specs.py, KIND_BLOCKS; the
# functions every kind defines: KIND_STEPS).  One row: the head, then a score
# block (FS_SCORE_WIDTH sums) per component.

cdef inline Py_ssize_t _score_row_width(Py_ssize_t P) noexcept nogil:
    return fs_score_row_width(P)


cdef inline void _score_merge(double *tot, const double *a, Py_ssize_t P) noexcept nogil:
    fs_merge_score_rows(tot, a, P)


cdef inline Py_ssize_t _score_n_points(int fam) noexcept nogil:
    """Points drawn (and f evaluations) per sample."""
    return 1


cdef inline Py_ssize_t _score_n_values(int fam) noexcept nogil:
    """Numbers per sample and event coordinate a block of draws holds."""
    return 1


cdef inline Py_ssize_t _score_scratch(Py_ssize_t P, Py_ssize_t E, Py_ssize_t ts) noexcept nogil:
    """Scratch of an accumulate step besides d = f - shift: the terms, s (P), w (E)."""
    return P * ts + P + E


cdef inline Py_ssize_t _score_aux_width(Py_ssize_t E) noexcept nogil:
    """Numbers per sample the draw writes besides its points (0: none)."""
    return 0


cdef void _accumulate_score(const fs_engine *eng, int fam, const double *c, const double *x,
                            Py_ssize_t xstride, const double *fx, Py_ssize_t fstride, Py_ssize_t m,
                            double *row, Py_ssize_t P, Py_ssize_t E,
                            double *scratch) noexcept nogil:
    """The score-function estimator's step: fold m samples into a row of sums.

    A sub-block at a time: d = f - shift into a buffer, the family's score
    components (its per-sample terms) into another, then the generic reducer
    (_reduce.h) folds each component into its five sums.  ``scratch`` holds
    _acc_scratch(FS_KIND_SCORE, P, E, _terms_stride(m)) doubles.
    """
    cdef Py_ssize_t ts = _terms_stride(m), i, j, i0, cnt
    cdef double *dbuf = scratch
    cdef double *work = scratch + _al(ts)
    cdef double shift
    if m <= 0:
        return
    if row[FS_N] == 0.0:
        row[FS_SHIFT] = fx[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        if xstride == 1 and fstride == 1 and _score_fold(eng, fam, c, x + i0, fx + i0, shift, cnt,
                                                         row):
            i0 += cnt   # the steps below in one pass, the same bits
            continue
        for i in range(cnt):
            dbuf[i] = fx[(i0 + i) * fstride] - shift
        # terms: P * ts, then the vector families' scratch s (P) and w (E)
        _score_terms(eng, fam, c, E, x + i0 * xstride, xstride, cnt, P, work, ts,
                     work + P * ts, work + P * ts + P)
        fs_fold_value(eng.reduce_isa, dbuf, cnt, row)
        for j in range(P):
            fs_fold_score(eng.reduce_isa, dbuf, work + j * ts, cnt,
                          row + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m


cdef inline bint _score_block(const fs_engine *eng, int fam, const double *cb, Py_ssize_t nc,
                              bitgen_t *bg, int64_t b, Py_ssize_t cnt, Py_ssize_t blk,
                              Py_ssize_t E, Py_ssize_t P, const FSpec *f, const FSpec *g,
                              double *row, double *xbuf, double *tbuf, double *gbuf,
                              double *fbuf, double *aux, double *acc,
                              int64_t first) noexcept nogil:
    """Draw cnt samples, evaluate f and fold them into row (_inline_span's step).
    False, folding nothing: a sample f would see is not a finite double."""
    cdef const double *src = xbuf
    _draw(eng, fam, bg, cb, nc, E, xbuf, E, cnt, tbuf, E)
    if _f_input(fam, cb, xbuf, E, E, cnt, tbuf, E):
        src = tbuf
    if _any_nonfinite(eng, src, cnt * E):
        return False
    _eval_f(eng, f, src, E, cnt, b, fbuf)
    _accumulate_score(eng, fam, cb, xbuf, E, fbuf, 1, cnt, row, P, E, acc)
    return True


# ---- a Python f's windows (run_python): draw, evaluate in Python, fold

cdef inline bint _score_window_t(int fam, const double *c, Py_ssize_t E) noexcept nogil:
    """Does a window keep a second buffer t (what f sees, for families with an f input)?"""
    return _f_input(fam, c, NULL, 0, E, 0, NULL, 0)


cdef inline void _score_window_draw(
        const fs_engine *eng, int fam, bitgen_t *bg, const double *c, Py_ssize_t nc,
        Py_ssize_t E, double *x, double *t, Py_ssize_t qx, Py_ssize_t ix, double *aux,
        Py_ssize_t ia, Py_ssize_t m) noexcept nogil:
    """Draw m samples into x[i * ix] (what f sees, where it differs, into t)."""
    _draw(eng, fam, bg, c, nc, E, x, ix, m, t, ix)
    _f_input(fam, c, x, ix, E, m, t, ix)


cdef object _score_window_eval(const fs_engine *eng, xw, tw, Py_ssize_t Q, int64_t m_w,
                               Py_ssize_t batch, Py_ssize_t E, call_f, call_grad):
    """f (and f') of the window's m_w samples (what f sees: tw[0]); (fv, gv, qstride)."""
    cdef double[:, :, :, ::1] tv = tw
    seen = tw[0, :m_w]
    if fs_row_nonfinite(eng.reduce_isa, &tv[0, 0, 0, 0], m_w * batch * E):
        # f would see a draw beyond float64
        raise _SampleOverflowError(int(np.nonzero(~np.isfinite(seen))[1][0]))
    return call_f(seen), None, 0


cdef inline void _score_window_step(
        const fs_engine *eng, int fam, const double *c, Py_ssize_t E, Py_ssize_t P,
        const double *x, const double *t, const double *aux, Py_ssize_t qx, Py_ssize_t ix,
        Py_ssize_t ia, const double *fv, Py_ssize_t qf, Py_ssize_t jf, const double *gv,
        Py_ssize_t jg, Py_ssize_t m, double *row, int64_t first,
        double *scratch) noexcept nogil:
    """Fold m samples (x[i * ix], f at fv[i * jf]) into row."""
    _accumulate_score(eng, fam, c, x, ix, fv, jf, m, row, P, E, scratch)
