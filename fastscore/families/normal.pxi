# Normal's kernel functions, kernel families normal.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="normal"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The score and pathwise terms, written once in normal.h.
cdef extern from "families/normal.h" nogil:
    void fs_score_fold_normal(int isa, double loc, double inv, const double *x, const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_normal_score(double loc, double inv, double x, double u, double *s)
    void fs_pathwise_fold_normal(int isa, double loc, double inv, const double *x, const double *u,
        const double *fx, const double *gp, double shift, Py_ssize_t m, double *row)
    void fs_normal_pathwise(double loc, double inv, double x, double u, double fp, double *t)


cdef inline double normal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                               DrawState *ds) noexcept nogil:
    return fs_normal(_st(bg), c[NORMAL_LOC], c[NORMAL_SCALE])


cdef inline void normal_score(const double *c, double x, double *s) noexcept nogil:
    fs_normal_score(c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, s)


cdef inline void normal_score_fold(const fs_engine *eng, const double *c, const double *x,
                                   const double *fx,
                                   double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_normal(eng.reduce_isa, c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fx, shift, m,
                         row)


cdef inline void normal_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                             Py_ssize_t m) noexcept nogil:
    fs_fill_normal(_st(bg), c[NORMAL_LOC], c[NORMAL_SCALE], out, m)


cdef inline void normal_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    fs_normal_pathwise(c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fp, g)


cdef inline void normal_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                      const double *fx,
                                      const double *gp, double shift, Py_ssize_t m,
                                      double *row) noexcept nogil:
    fs_pathwise_fold_normal(eng.reduce_isa, c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fx, gp,
                            shift, m, row)


cdef inline void normal_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                     DrawState *ds, double *pts) noexcept nogil:
    # loc: loc +- scale W, W Rayleigh (sqrt of twice a standard exponential);
    # scale: loc + scale M, M double-sided Maxwell sharing z's sign and square,
    # against the sample itself.
    cdef double loc = c[NORMAL_LOC], scale = c[NORMAL_SCALE], z, w, z2, z3
    z = fs_standard_normal(_st(bg))
    w = sqrt(2.0 * fs_standard_exponential(_st(bg)))
    z2 = fs_standard_normal(_st(bg))
    z3 = fs_standard_normal(_st(bg))
    pts[0] = loc + scale * z
    pts[1] = loc + scale * w
    pts[2] = loc - scale * w
    pts[3] = loc + scale * copysign(sqrt(z * z + z2 * z2 + z3 * z3), z)
    pts[4] = pts[0]
