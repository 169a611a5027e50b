# Geometric's kernel functions, kernel families geometric_probs and
# geometric_logits.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="geometric"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The scores, written once in geometric.h.
cdef extern from "families/geometric.h" nogil:
    void fs_score_fold_geometric_probs(int isa, double inv_p, double inv_q, const double *x,
        const double *u, const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_geometric_probs_score(double inv_p, double inv_q, double x, double u, double *s)
    void fs_score_fold_geometric_logits(int isa, double q, double p, const double *x,
                                        const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_geometric_logits_score(double q, double p, double x, double u, double *s)


cdef inline double geometric_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds) noexcept nogil:
    return <double>(fs_geometric(_st(bg), c[GEOMETRIC_PROBS_PROBS]) - 1)


cdef inline void geometric_probs_score(const double *c, double x, double *s) noexcept nogil:
    fs_geometric_probs_score(c[GEOMETRIC_PROBS_INV_P], c[GEOMETRIC_PROBS_INV_Q], x, x, s)


cdef inline void geometric_probs_score_fold(const fs_engine *eng, const double *c,
                                            const double *x, const double *fx,
                                            double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_geometric_probs(eng.reduce_isa, c[GEOMETRIC_PROBS_INV_P],
                                  c[GEOMETRIC_PROBS_INV_Q], x, x, fx,
                                  shift, m, row)


cdef inline double geometric_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                         DrawState *ds) noexcept nogil:
    return <double>(fs_geometric(_st(bg), c[GEOMETRIC_LOGITS_PROBS]) - 1)


cdef inline void geometric_logits_score(const double *c, double x, double *s) noexcept nogil:
    fs_geometric_logits_score(c[GEOMETRIC_LOGITS_Q], c[GEOMETRIC_LOGITS_PROBS], x, x, s)


cdef inline void geometric_logits_score_fold(const fs_engine *eng, const double *c,
                                             const double *x, const double *fx,
                                             double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_geometric_logits(eng.reduce_isa, c[GEOMETRIC_LOGITS_Q],
                                   c[GEOMETRIC_LOGITS_PROBS], x, x, fx,
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
