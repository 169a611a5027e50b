# Exponential's kernel functions, kernel families exponential.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="exponential"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The score and pathwise terms, written once in exponential.h.
cdef extern from "families/exponential.h" nogil:
    void fs_score_fold_exponential(int isa, double scale, const double *x, const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_exponential_score(double scale, double x, double u, double *s)
    void fs_pathwise_fold_exponential(int isa, double scale, const double *x, const double *u,
        const double *fx, const double *gp, double shift, Py_ssize_t m, double *row)
    void fs_exponential_pathwise(double scale, double x, double u, double fp, double *t)


cdef inline double exponential_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])


cdef inline void exponential_score(const double *c, double x, double *s) noexcept nogil:
    fs_exponential_score(c[EXPONENTIAL_SCALE], x, x, s)


cdef inline void exponential_score_fold(const fs_engine *eng, const double *c, const double *x,
                                        const double *fx,
                                        double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_exponential(eng.reduce_isa, c[EXPONENTIAL_SCALE], x, x, fx, shift, m, row)


cdef inline void exponential_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                  Py_ssize_t m) noexcept nogil:
    fs_fill_exponential(_st(bg), c[EXPONENTIAL_SCALE], out, m)


cdef inline void exponential_pathwise(const double *c, double x, double fp,
                                      double *g) noexcept nogil:
    fs_exponential_pathwise(c[EXPONENTIAL_SCALE], x, x, fp, g)


cdef inline void exponential_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                           const double *fx,
                                           const double *gp, double shift, Py_ssize_t m,
                                           double *row) noexcept nogil:
    fs_pathwise_fold_exponential(eng.reduce_isa, c[EXPONENTIAL_SCALE], x, x, fx, gp, shift, m, row)


cdef inline void exponential_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                          DrawState *ds, double *pts) noexcept nogil:
    # rate: x against Gamma(2, rate) = x + x' (c = 1 / rate)
    cdef double x = fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])
    cdef double x2 = fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])
    pts[0] = x
    pts[1] = x
    pts[2] = x + x2
