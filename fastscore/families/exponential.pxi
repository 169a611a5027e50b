# Exponential's kernel functions, kernel families exponential.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="exponential"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double exponential_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])


cdef inline void exponential_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = c[EXPONENTIAL_SCALE] - x


cdef inline void exponential_score_fold(const double *c, const double *x, const double *fx,
                                        double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_exponential(c[EXPONENTIAL_SCALE], x, x, fx, shift, m, row)


cdef inline void exponential_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                  Py_ssize_t m) noexcept nogil:
    fs_fill_exponential(_st(bg), c[EXPONENTIAL_SCALE], out, m)


cdef inline void exponential_pathwise(const double *c, double x, double fp,
                                      double *g) noexcept nogil:
    # x = e / rate: dx/drate = -x / rate
    g[0] = -(fp * x) * c[EXPONENTIAL_SCALE]


cdef inline void exponential_pathwise_fold(const double *c, const double *x, const double *fx,
                                           const double *gp, double shift, Py_ssize_t m,
                                           double *row) noexcept nogil:
    fs_pathwise_fold_exponential(c[EXPONENTIAL_SCALE], x, x, fx, gp, shift, m, row)


cdef inline void exponential_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                          DrawState *ds, double *pts) noexcept nogil:
    # rate: x against Gamma(2, rate) = x + x' (c = 1 / rate)
    cdef double x = fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])
    cdef double x2 = fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])
    pts[0] = x
    pts[1] = x
    pts[2] = x + x2
