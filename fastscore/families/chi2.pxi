# Chi2's kernel functions, kernel families chi2, and chi2_log for degrees of
# freedom below 2.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="chi2"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The score (chi2, chi2_log), written once in chi2.h.
cdef extern from "families/chi2.h" nogil:
    void fs_score_fold_chi2(int isa, double c0, const double *x, const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_chi2_score(double c0, double x, double u, double *s)


cdef inline double chi2_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                             DrawState *ds) noexcept nogil:
    return fs_chisquare(_st(bg), c[CHI2_DF])


cdef inline void chi2_score(const double *c, double x, double *s) noexcept nogil:
    fs_chi2_score(c[CHI2_LOG2_PLUS_DIGAMMA_HALF_DF], x, log(x), s)


cdef inline void chi2_score_fold(const fs_engine *eng, const double *c, const double *x,
                                 const double *fx,
                                 double shift, Py_ssize_t m, double *row) noexcept nogil:
    cdef double u[BLOCK]   # log x first, as gamma_score_fold
    cdef Py_ssize_t i
    for i in range(m):
        u[i] = log(x[i])
    fs_score_fold_chi2(eng.reduce_isa, c[CHI2_LOG2_PLUS_DIGAMMA_HALF_DF], x, u, fx, shift, m, row)


cdef inline void chi2_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                           Py_ssize_t m) noexcept nogil:
    cdef fs_gamma_t g
    fs_gamma_setup(&g, c[CHI2_DF] / 2.0)
    fs_fill_chisquare(_st(bg), &g, out, m)


cdef inline void chi2_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = 2 y, y ~ Gamma(df / 2, 1): dx/ddf = 2 (dy/da) / 2
    g[0] = fp * fs_gamma_dx_dshape(0.5 * c[CHI2_DF], 0.5 * x)


cdef inline double chi2_log_draw(bitgen_t *bg, const double *c, Py_ssize_t nc, DrawState *ds,
                                 double *fx) noexcept nogil:
    # numpy's random_chisquare: 2 random_standard_gamma(df / 2)
    cdef double lg, a = c[CHI2_LOG_DF] / 2.0
    cdef double x = 2.0 * (_small_gamma(bg, a, &lg) if a < 1.0 else fs_standard_gamma(_st(bg), a))
    fx[0] = x
    if x >= DBL_MIN:
        return x
    return (lg if a < 1.0 else log(x / 2.0)) + M_LN2


cdef inline void chi2_log_score(const double *c, double v, double *s) noexcept nogil:
    fs_chi2_score(c[CHI2_LOG_LOG2_PLUS_DIGAMMA_HALF_DF], v, log(v) if v >= 0.0 else v, s)
