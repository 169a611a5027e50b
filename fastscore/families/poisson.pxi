# Poisson's kernel functions, kernel families poisson.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="poisson"); the slots'
# signatures and the shared helpers are in _common.pxi.

# The score, written once in poisson.h.
cdef extern from "families/poisson.h" nogil:
    void fs_score_fold_poisson(int isa, double inv, const double *x, const double *u,
        const double *fx, double shift, Py_ssize_t m, double *row)
    void fs_poisson_score(double inv, double x, double u, double *s)


cdef inline double poisson_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                DrawState *ds) noexcept nogil:
    return <double>fs_poisson(_st(bg), c[POISSON_RATE])


cdef inline void poisson_score(const double *c, double x, double *s) noexcept nogil:
    fs_poisson_score(c[POISSON_INV_RATE], x, x, s)


cdef inline void poisson_score_fold(const fs_engine *eng, const double *c, const double *x,
                                    const double *fx,
                                    double shift, Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_poisson(eng.reduce_isa, c[POISSON_INV_RATE], x, x, fx, shift, m, row)


cdef inline void poisson_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                              Py_ssize_t m) noexcept nogil:
    cdef fs_poisson_t p
    fs_poisson_setup(&p, c[POISSON_RATE])
    fs_fill_poisson(_st(bg), &p, out, m)


cdef inline void poisson_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                      DrawState *ds, double *pts) noexcept nogil:
    # rate: x + 1 against x (c = 1)
    cdef double x = <double>fs_poisson(_st(bg), c[POISSON_RATE])
    pts[0] = x
    pts[1] = x + 1.0
    pts[2] = x
