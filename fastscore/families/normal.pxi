# Normal's kernel functions, kernel families normal.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="normal"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double normal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                               DrawState *ds) noexcept nogil:
    return fs_normal(_st(bg), c[NORMAL_LOC], c[NORMAL_SCALE])


cdef inline void normal_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = (x - c[NORMAL_LOC]) * c[NORMAL_INV_SCALE]
    s[0] = z * c[NORMAL_INV_SCALE]
    s[1] = (z * z - 1.0) * c[NORMAL_INV_SCALE]


cdef inline void normal_score_fold(const double *c, const double *x, const double *fx,
                                   double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_normal(c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fx, shift, m, row)


cdef inline void normal_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                             Py_ssize_t m) noexcept nogil:
    fs_fill_normal(_st(bg), c[NORMAL_LOC], c[NORMAL_SCALE], out, m)


cdef inline void normal_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = loc + scale z: dx/dloc = 1, dx/dscale = z
    g[0] = fp
    g[1] = fp * ((x - c[NORMAL_LOC]) * c[NORMAL_INV_SCALE])


cdef inline void normal_pathwise_fold(const double *c, const double *x, const double *fx,
                                      const double *gp, double shift, Py_ssize_t m,
                                      double *row) noexcept nogil:
    fs_pathwise_fold_normal(c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fx, gp, shift, m, row)


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
