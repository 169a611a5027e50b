# Gamma's kernel functions, kernel families gamma, and gamma_log for
# concentrations below 1.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="gamma"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The score (gamma, gamma_log), written once in gamma.h.
cdef extern from "families/gamma.h" nogil:
    void fs_score_fold_gamma(int isa, double c0, double c1, const double *x, const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_gamma_score(double c0, double c1, double x, double u, double *s)


cdef inline double gamma_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                              DrawState *ds) noexcept nogil:
    return fs_gamma(_st(bg), c[GAMMA_CONCENTRATION], c[GAMMA_SCALE])


cdef inline void gamma_score(const double *c, double x, double *s) noexcept nogil:
    fs_gamma_score(c[GAMMA_LOG_RATE_MINUS_DIGAMMA], c[GAMMA_MEAN], x, log(x), s)


cdef inline void gamma_score_fold(const fs_engine *eng, const double *c, const double *x,
                                  const double *fx,
                                  double shift, Py_ssize_t m, double *row) noexcept nogil:
    # u = log x first (the libm call of gamma_score), then the vector pass
    cdef double u[BLOCK]
    cdef Py_ssize_t i
    for i in range(m):
        u[i] = log(x[i])
    fs_score_fold_gamma(eng.reduce_isa, c[GAMMA_LOG_RATE_MINUS_DIGAMMA], c[GAMMA_MEAN], x, u, fx,
                        shift, m,
                        row)


cdef inline void gamma_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                            Py_ssize_t m) noexcept nogil:
    cdef fs_gamma_t g
    fs_gamma_setup(&g, c[GAMMA_CONCENTRATION])
    fs_fill_gamma(_st(bg), &g, c[GAMMA_SCALE], out, m)


cdef inline void gamma_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = y / rate, y ~ Gamma(a, 1): dx/da = (dy/da) / rate (implicit), dx/drate = -x / rate
    g[0] = fp * (fs_gamma_dx_dshape(c[GAMMA_CONCENTRATION], x * c[GAMMA_RATE]) * c[GAMMA_SCALE])
    g[1] = -(fp * x) * c[GAMMA_SCALE]


cdef inline void gamma_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds, double *pts) noexcept nogil:
    # concentration: no weak derivative here (its points are the sample, its
    # gradient NaN); rate: x against Gamma(a + 1, rate) = x + x' (c = a / rate)
    cdef double x = fs_gamma(_st(bg), c[GAMMA_CONCENTRATION], c[GAMMA_SCALE])
    cdef double x2 = fs_exponential(_st(bg), c[GAMMA_SCALE])
    pts[0] = x
    pts[1] = x
    pts[2] = x
    pts[3] = x
    pts[4] = x + x2


cdef inline double gamma_log_draw(bitgen_t *bg, const double *c, Py_ssize_t nc, DrawState *ds,
                                  double *fx) noexcept nogil:
    # numpy's random_gamma: scale * random_standard_gamma(a)
    cdef double lg, a = c[GAMMA_LOG_CONCENTRATION]
    cdef double x = c[GAMMA_LOG_SCALE] * (_small_gamma(bg, a, &lg) if a < 1.0
                                          else fs_standard_gamma(_st(bg), a))
    fx[0] = x
    if x >= DBL_MIN:
        return x
    return (lg if a < 1.0 else log(x / c[GAMMA_LOG_SCALE])) + log(c[GAMMA_LOG_SCALE])


cdef inline void gamma_log_score(const double *c, double v, double *s) noexcept nogil:
    if v >= 0.0:   # the sample
        fs_gamma_score(c[GAMMA_LOG_LOG_RATE_MINUS_DIGAMMA], c[GAMMA_LOG_MEAN], v, log(v), s)
    else:          # log x, x below DBL_MIN
        fs_gamma_score(c[GAMMA_LOG_LOG_RATE_MINUS_DIGAMMA], c[GAMMA_LOG_MEAN], exp(v), v, s)
