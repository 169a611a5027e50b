# VonMises's kernel functions, kernel families vonmises.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="vonmises"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double vonmises_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                 DrawState *ds) noexcept nogil:
    return random_vonmises(bg, c[VONMISES_LOC], c[VONMISES_CONCENTRATION])


cdef inline void vonmises_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = x - c[VONMISES_LOC]
    s[0] = c[VONMISES_CONCENTRATION] * sin(z)
    s[1] = cos(z) - c[VONMISES_BESSEL_RATIO]


cdef inline double _wrap_angle(double t) noexcept nogil:
    if t > M_PI:
        return t - 2.0 * M_PI
    if t < -M_PI:
        return t + 2.0 * M_PI
    return t


cdef inline void vonmises_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = loc + xi wrapped to [-pi, pi]: dx/dloc = 1 (away from the wrap), and
    # dx/dk = dxi/dk by implicit reparameterisation of xi ~ VonMises(0, k).
    g[0] = fp
    g[1] = fp * fs_vonmises_dx_dconc(c[VONMISES_CONCENTRATION], _wrap_angle(x - c[VONMISES_LOC]))
