# LogNormal's kernel functions, kernel families lognormal, and lognormal_y: the
# block holds y = log x.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="lognormal"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The pathwise terms, written once in lognormal.h; the score is Normal's on
# y = log x (normal.h, declared in normal.pxi).
cdef extern from "families/lognormal.h" nogil:
    void fs_pathwise_fold_lognormal_y(int isa, double loc, double inv, const double *x,
                                      const double *u,
        const double *fx, const double *gp, double shift, Py_ssize_t m, double *row)
    void fs_lognormal_y_pathwise(double loc, double inv, double x, double u, double fp, double *t)


cdef inline double lognormal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                  DrawState *ds) noexcept nogil:
    return fs_lognormal(_st(bg), c[LOGNORMAL_LOC], c[LOGNORMAL_SCALE])


cdef inline void lognormal_score(const double *c, double x, double *s) noexcept nogil:
    cdef double y = log(x)
    fs_normal_score(c[LOGNORMAL_LOC], c[LOGNORMAL_INV_SCALE], y, y, s)


cdef inline double lognormal_y_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return fs_normal(_st(bg), c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_SCALE])


cdef inline double lognormal_y_f_input(double y) noexcept nogil:
    return exp(y)


cdef inline void lognormal_y_score(const double *c, double y, double *s) noexcept nogil:
    fs_normal_score(c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_INV_SCALE], y, y, s)


cdef inline void lognormal_y_score_fold(const fs_engine *eng, const double *c, const double *x,
                                        const double *fx,
                                        double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_normal(eng.reduce_isa, c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_INV_SCALE], x, x, fx,
                         shift, m,
                         row)


cdef inline void lognormal_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                Py_ssize_t m) noexcept nogil:
    fs_fill_lognormal(_st(bg), c[LOGNORMAL_LOC], c[LOGNORMAL_SCALE], out, m)


cdef inline void lognormal_y_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                  Py_ssize_t m) noexcept nogil:
    fs_fill_normal(_st(bg), c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_SCALE], out, m)


cdef inline void lognormal_pathwise(const double *c, double x, double fp,
                                    double *g) noexcept nogil:
    fs_lognormal_y_pathwise(c[LOGNORMAL_LOC], c[LOGNORMAL_INV_SCALE], log(x), x, fp, g)


cdef inline void lognormal_y_pathwise(const double *c, double y, double fp,
                                      double *g) noexcept nogil:
    fs_lognormal_y_pathwise(c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_INV_SCALE], y, exp(y), fp, g)


cdef inline void lognormal_y_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                           const double *fx,
                                           const double *gp, double shift, Py_ssize_t m,
                                           double *row) noexcept nogil:
    cdef double u[BLOCK]   # x = exp(y) first, the libm call of lognormal_y_pathwise
    cdef Py_ssize_t i
    for i in range(m):
        u[i] = exp(x[i])
    fs_pathwise_fold_lognormal_y(eng.reduce_isa, c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_INV_SCALE], x,
                                 u, fx, gp,
                                 shift, m, row)


cdef inline void lognormal_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds, double *pts) noexcept nogil:
    # The normal's points, through exp
    cdef Py_ssize_t q
    normal_measure_draw(bg, c, nc, ds, pts)
    for q in range(5):
        pts[q] = exp(pts[q])
