# The cross-fitted score-function kernel kind (FS_KIND_SCORE_FOLDS, the score
# function's method="cv"): its step functions, included by _kernels.pyx from
# the kind table (fastscore/_specs.py).  FS_CV_FOLDS score rows side by side.

cdef inline Py_ssize_t _score_folds_row_width(Py_ssize_t P) noexcept nogil:
    return fs_folds_row_width(P)


cdef inline void _score_folds_merge(double *tot, const double *a, Py_ssize_t P) noexcept nogil:
    fs_merge_fold_rows(tot, a, P)


cdef inline Py_ssize_t _score_folds_n_points(int fam) noexcept nogil:
    return 1


cdef inline Py_ssize_t _score_folds_n_values(int fam) noexcept nogil:
    return 1


cdef inline Py_ssize_t _score_folds_scratch(Py_ssize_t P, Py_ssize_t E,
                                            Py_ssize_t ts) noexcept nogil:
    return _score_scratch(P, E, ts)   # the score step's, on one fold at a time


cdef inline Py_ssize_t _score_folds_aux_width(Py_ssize_t E) noexcept nogil:
    """Numbers per sample the draw writes besides its points (0: none)."""
    return 0


cdef void _accumulate_score_folds(const fs_engine *eng, int fam, const double *c, const double *x,
                                  Py_ssize_t xstride, const double *fx, Py_ssize_t fstride,
                                  Py_ssize_t m, double *row, Py_ssize_t P, Py_ssize_t E,
                                  int64_t first, double *scratch) noexcept nogil:
    """The cross-fitted score step (method="cv"): m samples, the first of which has
    index ``first`` in its batch element's stream, each folded into the score row
    of its fold (index mod FS_CV_FOLDS) by the score step on that fold's samples."""
    # Segments of the chunk's blocks of BLOCK samples, whatever the caller's
    # pieces (the inline loop's blocks and spans, a Python f's windows): the same
    # folds of the same samples, so the same bits.
    cdef Py_ssize_t W = fs_score_row_width(P), k, i0, mk, seg, s0 = 0
    cdef int64_t pos
    while s0 < m:
        pos = (first + s0) % CHUNK
        seg = <Py_ssize_t>(BLOCK - pos % BLOCK)
        if seg > m - s0:
            seg = m - s0
        for k in range(FS_CV_FOLDS):
            # the segment's first sample in fold k, and how many of them are
            i0 = <Py_ssize_t>((k - (first + s0) % FS_CV_FOLDS + FS_CV_FOLDS) % FS_CV_FOLDS)
            if i0 >= seg:
                continue
            mk = (seg - i0 + FS_CV_FOLDS - 1) // FS_CV_FOLDS
            _accumulate_score(eng, fam, c, x + (s0 + i0) * xstride, xstride * FS_CV_FOLDS,
                              fx + (s0 + i0) * fstride, fstride * FS_CV_FOLDS, mk, row + k * W,
                              P, E, scratch)
        s0 += seg


cdef inline bint _score_folds_block(const fs_engine *eng, int fam, const double *cb,
                                    Py_ssize_t nc, bitgen_t *bg, int64_t b, Py_ssize_t cnt,
                                    Py_ssize_t blk, Py_ssize_t E, Py_ssize_t P, const FSpec *f,
                                    const FSpec *g, double *row, double *xbuf, double *tbuf,
                                    double *gbuf, double *fbuf, double *aux, double *acc,
                                    int64_t first) noexcept nogil:
    """Draw cnt samples (the first has index ``first`` in the stream), evaluate f and
    fold each into its fold's row.  False: a sample f would see is not finite."""
    cdef const double *src = xbuf
    _draw(eng, fam, bg, cb, nc, E, xbuf, E, cnt, tbuf, E)
    if _f_input(fam, cb, xbuf, E, E, cnt, tbuf, E):
        src = tbuf
    if _any_nonfinite(eng, src, cnt * E):
        return False
    _eval_f(eng, f, src, E, cnt, b, fbuf)
    _accumulate_score_folds(eng, fam, cb, xbuf, E, fbuf, 1, cnt, row, P, E, first, acc)
    return True


# ---- a Python f's windows (run_python): draw, evaluate in Python, fold

cdef inline bint _score_folds_window_t(int fam, const double *c, Py_ssize_t E) noexcept nogil:
    """Does a window keep a second buffer t (what f sees, for families with an f input)?"""
    return _f_input(fam, c, NULL, 0, E, 0, NULL, 0)


cdef inline void _score_folds_window_draw(
        const fs_engine *eng, int fam, bitgen_t *bg, const double *c, Py_ssize_t nc,
        Py_ssize_t E, double *x, double *t, Py_ssize_t qx, Py_ssize_t ix, double *aux,
        Py_ssize_t ia, Py_ssize_t m) noexcept nogil:
    """Draw m samples into x[i * ix] (what f sees, where it differs, into t)."""
    _draw(eng, fam, bg, c, nc, E, x, ix, m, t, ix)
    _f_input(fam, c, x, ix, E, m, t, ix)


cdef object _score_folds_window_eval(const fs_engine *eng, xw, tw, Py_ssize_t Q, int64_t m_w,
                                     Py_ssize_t batch, Py_ssize_t E, call_f, call_grad):
    """f (and f') of the window's m_w samples (what f sees: tw[0]); (fv, gv, qstride)."""
    cdef double[:, :, :, ::1] tv = tw
    seen = tw[0, :m_w]
    if fs_row_nonfinite(eng.reduce_isa, &tv[0, 0, 0, 0], m_w * batch * E):
        # f would see a draw beyond float64
        raise _SampleOverflowError(int(np.nonzero(~np.isfinite(seen))[1][0]))
    return call_f(seen), None, 0


cdef inline void _score_folds_window_step(
        const fs_engine *eng, int fam, const double *c, Py_ssize_t E, Py_ssize_t P,
        const double *x, const double *t, const double *aux, Py_ssize_t qx, Py_ssize_t ix,
        Py_ssize_t ia, const double *fv, Py_ssize_t qf, Py_ssize_t jf, const double *gv,
        Py_ssize_t jg, Py_ssize_t m, double *row, int64_t first,
        double *scratch) noexcept nogil:
    """Fold m samples, the first of index ``first`` in the stream, into their folds' rows."""
    _accumulate_score_folds(eng, fam, c, x, ix, fv, jf, m, row, P, E, first, scratch)
