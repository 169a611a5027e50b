# Laplace's kernel functions, kernel family laplace.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="laplace"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The score, written once in laplace.h; the pathwise terms of x = loc + scale e
# are Normal's (normal.h, declared in normal.pxi).
cdef extern from "families/laplace.h" nogil:
    void fs_score_fold_laplace(int isa, double loc, double inv, const double *x, const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_laplace_score(double loc, double inv, double x, double u, double *s)


cdef inline double _laplace_of_uniform(double loc, double scale, double u) noexcept nogil:
    # numpy's random_laplace from its uniform u in (0, 1)
    if u >= 0.5:
        return loc - scale * log(2.0 - u - u)
    return loc + scale * log(u + u)


cdef inline double laplace_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                DrawState *ds) noexcept nogil:
    cdef double u = _uniform(bg)
    while u == 0.0:   # numpy draws again at 0
        u = _uniform(bg)
    return _laplace_of_uniform(c[LAPLACE_LOC], c[LAPLACE_SCALE], u)


cdef inline void laplace_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                              Py_ssize_t m) noexcept nogil:
    # the block's m uniforms at once, then each transformed in place; a 0 (which
    # numpy draws again) moves the later samples on by one word, the last from
    # the stream: the draws of m calls of laplace_draw
    cdef double loc = c[LAPLACE_LOC], scale = c[LAPLACE_SCALE], u
    cdef Py_ssize_t i, j = 0
    fs_fill_uniform(_st(bg), out, m)
    for i in range(m):
        u = out[j] if j < m else _uniform(bg)
        j += 1
        while u == 0.0:
            u = out[j] if j < m else _uniform(bg)
            j += 1
        out[i] = _laplace_of_uniform(loc, scale, u)


cdef inline void laplace_score(const double *c, double x, double *s) noexcept nogil:
    fs_laplace_score(c[LAPLACE_LOC], c[LAPLACE_INV_SCALE], x, x, s)


cdef inline void laplace_score_fold(const fs_engine *eng, const double *c, const double *x,
                                    const double *fx,
                                    double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_laplace(eng.reduce_isa, c[LAPLACE_LOC], c[LAPLACE_INV_SCALE], x, x, fx, shift,
                          m, row)


cdef inline void laplace_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = loc + scale e: dx/dloc = 1, dx/dscale = e = (x - loc) / scale
    fs_normal_pathwise(c[LAPLACE_LOC], c[LAPLACE_INV_SCALE], x, x, fp, g)


cdef inline void laplace_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                       const double *fx,
                                       const double *gp, double shift, Py_ssize_t m,
                                       double *row) noexcept nogil:
    fs_pathwise_fold_normal(eng.reduce_isa, c[LAPLACE_LOC], c[LAPLACE_INV_SCALE], x, x, fx, gp,
                            shift, m, row)
