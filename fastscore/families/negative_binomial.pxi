# NegativeBinomial's kernel functions, kernel families negbin_probs and
# negbin_logits.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="negative_binomial"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double negbin_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                     DrawState *ds) noexcept nogil:
    # numpy counts failures before n successes: success probability q = 1 - p
    return <double>fs_negative_binomial(_st(bg), c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q])


cdef inline void negbin_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / p is 0 at x = 0 (the only sample at p = 0)
    s[0] = fs_keep(x > 0.0, x * c[NEGBIN_PROBS_INV_P]) - c[NEGBIN_PROBS_R_OVER_Q]


cdef inline double negbin_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                      DrawState *ds) noexcept nogil:
    return <double>fs_negative_binomial(_st(bg), c[NEGBIN_LOGITS_TOTAL_COUNT],
                                            c[NEGBIN_LOGITS_Q])


cdef inline void negbin_logits_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = x * c[NEGBIN_LOGITS_Q] - c[NEGBIN_LOGITS_TOTAL_COUNT] * c[NEGBIN_LOGITS_PROBS]


cdef inline void negbin_probs_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                   Py_ssize_t m) noexcept nogil:
    cdef fs_negbin_t q
    fs_negbin_setup(&q, c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q])
    fs_fill_negative_binomial(_st(bg), &q, out, m)


cdef inline void negbin_logits_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                    Py_ssize_t m) noexcept nogil:
    cdef fs_negbin_t q
    fs_negbin_setup(&q, c[NEGBIN_LOGITS_TOTAL_COUNT], c[NEGBIN_LOGITS_Q])
    fs_fill_negative_binomial(_st(bg), &q, out, m)


cdef inline void _negbin_measure(bitgen_t *bg, double r, double q, double *pts) noexcept nogil:
    # probs: the size-biased law 1 + NB(r + 1) = 1 + x + G against x (c = r / (1 - p)),
    # G successes before one failure
    cdef double x = <double>fs_negative_binomial(_st(bg), r, q)
    cdef double G = <double>(fs_geometric(_st(bg), q) - 1)
    pts[0] = x
    pts[1] = 1.0 + x + G
    pts[2] = x


cdef inline void negbin_probs_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                           DrawState *ds, double *pts) noexcept nogil:
    _negbin_measure(bg, c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q], pts)


cdef inline void negbin_logits_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                            DrawState *ds, double *pts) noexcept nogil:
    _negbin_measure(bg, c[NEGBIN_LOGITS_TOTAL_COUNT], c[NEGBIN_LOGITS_Q], pts)
