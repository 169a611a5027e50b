# Geometric's kernel functions, kernel families geometric_probs and geometric_logits.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="geometric"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double geometric_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds) noexcept nogil:
    return <double>(fs_geometric(_st(bg), c[GEOMETRIC_PROBS_PROBS]) - 1)


cdef inline void geometric_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / (1 - p) is 0 at x = 0 (the only sample at p = 1)
    s[0] = c[GEOMETRIC_PROBS_INV_P] - fs_keep(x > 0.0, x * c[GEOMETRIC_PROBS_INV_Q])


cdef inline void geometric_probs_score_fold(const double *c, const double *x, const double *fx,
                                            double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_geometric_probs(c[GEOMETRIC_PROBS_INV_P], c[GEOMETRIC_PROBS_INV_Q], x, x, fx,
                                  shift, m, row)


cdef inline double geometric_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                         DrawState *ds) noexcept nogil:
    return <double>(fs_geometric(_st(bg), c[GEOMETRIC_LOGITS_PROBS]) - 1)


cdef inline void geometric_logits_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = c[GEOMETRIC_LOGITS_Q] - x * c[GEOMETRIC_LOGITS_PROBS]


cdef inline void geometric_logits_score_fold(const double *c, const double *x, const double *fx,
                                             double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_geometric_logits(c[GEOMETRIC_LOGITS_Q], c[GEOMETRIC_LOGITS_PROBS], x, x, fx,
                                   shift, m, row)


cdef inline void _geometric_failures_fill(bitgen_t *bg, double p, double *out,
                                          Py_ssize_t m) noexcept nogil:
    # numpy counts trials to the first success (>= 1); the samples are failures
    cdef fs_geometric_t g
    cdef Py_ssize_t i
    fs_geometric_setup(&g, p)
    fs_fill_geometric(_st(bg), &g, out, m)
    for i in range(m):
        out[i] = out[i] - 1.0


cdef inline void geometric_probs_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                      Py_ssize_t m) noexcept nogil:
    _geometric_failures_fill(bg, c[GEOMETRIC_PROBS_PROBS], out, m)


cdef inline void geometric_logits_fill(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                       double *out, Py_ssize_t m) noexcept nogil:
    _geometric_failures_fill(bg, c[GEOMETRIC_LOGITS_PROBS], out, m)


cdef inline void _geometric_measure(bitgen_t *bg, double p, double *pts) noexcept nogil:
    # probs: x against the size-biased law 1 + x + x' (c = 1 / p), x, x'
    # failures before a success
    cdef double x = <double>(fs_geometric(_st(bg), p) - 1)
    cdef double x2 = <double>(fs_geometric(_st(bg), p) - 1)
    pts[0] = x
    pts[1] = x
    pts[2] = 1.0 + x + x2


cdef inline void geometric_probs_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                              DrawState *ds, double *pts) noexcept nogil:
    _geometric_measure(bg, c[GEOMETRIC_PROBS_PROBS], pts)


cdef inline void geometric_logits_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                               DrawState *ds, double *pts) noexcept nogil:
    _geometric_measure(bg, c[GEOMETRIC_LOGITS_PROBS], pts)
