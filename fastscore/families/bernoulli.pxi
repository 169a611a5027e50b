# Bernoulli's kernel functions, kernel families bernoulli (counted),
# bernoulli_arm and bernoulli_disarm.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="bernoulli"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double bernoulli_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                  DrawState *ds) noexcept nogil:
    return <double>(_uniform(bg) < c[BERNOULLI_PROBS])


cdef inline bint bernoulli_count(fs_stream *st, const double *c, Py_ssize_t nc, int64_t m,
                                 int64_t *counts, int64_t *scratch) noexcept nogil:
    # x = [u < p]: zeros are the uniforms at or above p.
    scratch[0] = 0
    _count_above(st, c + BERNOULLI_PROBS, 1, m, scratch)
    counts[0] += scratch[0]
    counts[1] += m - scratch[0]
    return True


# Bernoulli's antithetic estimators (measure-valued form, weighted).
cdef inline double bernoulli_arm_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                      DrawState *ds) noexcept nogil:
    return <double>(_uniform(bg) < c[BERNOULLI_ARM_PROBS])


cdef inline double bernoulli_disarm_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                         DrawState *ds) noexcept nogil:
    return <double>(_uniform(bg) < c[BERNOULLI_DISARM_PROBS])


# pts: the sample, x+, x-, then the weight w of f(x+) - f(x-); the finish
# applies c = 1 (logits) or 1 / (p q) (probs).
cdef inline void bernoulli_arm_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                            DrawState *ds, double *pts) noexcept nogil:
    # ARM (Yin, Zhou 2019): (f(1[u > 1 - p]) - f(1[u < p])) (u - 1/2)
    cdef double u = _uniform(bg)
    pts[0] = <double>(u < c[BERNOULLI_ARM_PROBS])
    pts[1] = <double>(u > c[BERNOULLI_ARM_Q])
    pts[2] = pts[0]
    pts[3] = u - 0.5


cdef inline void bernoulli_disarm_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                               DrawState *ds, double *pts) noexcept nogil:
    # DisARM (Dong, Mnih, Tucker 2020): b = 1[u < p], b~ = 1[1 - u < p];
    # (f(b) - f(b~)) (-1)^b~ [b != b~] sigma(|logits|) / 2
    cdef double u = _uniform(bg)
    cdef double b = <double>(u < c[BERNOULLI_DISARM_PROBS])
    cdef double bt = <double>(1.0 - u < c[BERNOULLI_DISARM_PROBS])
    pts[0] = b
    pts[1] = b
    pts[2] = bt
    pts[3] = fs_keep(b != bt, (1.0 - 2.0 * bt) * c[BERNOULLI_DISARM_HALF_MAX_PQ])
