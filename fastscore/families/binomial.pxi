# Binomial's kernel functions, kernel families binomial_probs and
# binomial_logits.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="binomial"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double binomial_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                       DrawState *ds) noexcept nogil:
    return <double>random_binomial(bg, c[BINOMIAL_PROBS_PROBS],
                                   <int64_t>c[BINOMIAL_PROBS_TOTAL_COUNT], &ds.binomial)


cdef inline void binomial_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / p and (n - x) / (1 - p) are 0 where their numerator is (at p = 0 or 1)
    s[0] = (fs_keep(x > 0.0, x * c[BINOMIAL_PROBS_INV_P])
            - fs_keep(c[BINOMIAL_PROBS_TOTAL_COUNT] > x,
                      (c[BINOMIAL_PROBS_TOTAL_COUNT] - x) * c[BINOMIAL_PROBS_INV_Q]))


cdef inline double binomial_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds) noexcept nogil:
    return <double>random_binomial(bg, c[BINOMIAL_LOGITS_PROBS],
                                   <int64_t>c[BINOMIAL_LOGITS_TOTAL_COUNT], &ds.binomial)


cdef inline void binomial_logits_score(const double *c, double x, double *s) noexcept nogil:
    # x - N p; where p > 1/2 as (x - N) + N q, q = sigmoid(-logits) (1 - p has lost
    # q's digits when p is near 1: logits = 40 gives p = 1 exactly)
    cdef double N = c[BINOMIAL_LOGITS_TOTAL_COUNT]
    if c[BINOMIAL_LOGITS_PROBS] > 0.5:
        s[0] = (x - N) + N * c[BINOMIAL_LOGITS_Q]
    else:
        s[0] = x - N * c[BINOMIAL_LOGITS_PROBS]


cdef inline void _binomial_measure(bitgen_t *bg, double p, double N, DrawState *ds,
                                   double *pts) noexcept nogil:
    # probs: 1 + Bin(N - 1, p) against Bin(N - 1, p) (c = N), coupled by one
    # y ~ Bin(N - 1, p); the sample is y + [u < p], a Bin(N, p).
    cdef double y
    if N < 1.0:
        pts[0] = 0.0
        pts[1] = 0.0
        pts[2] = 0.0
        return
    y = <double>random_binomial(bg, p, <int64_t>N - 1, &ds.binomial)
    pts[0] = y + <double>(_uniform(bg) < p)
    pts[1] = y + 1.0
    pts[2] = y


cdef inline void binomial_probs_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                             DrawState *ds, double *pts) noexcept nogil:
    _binomial_measure(bg, c[BINOMIAL_PROBS_PROBS], c[BINOMIAL_PROBS_TOTAL_COUNT], ds, pts)


cdef inline void binomial_logits_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                              DrawState *ds, double *pts) noexcept nogil:
    _binomial_measure(bg, c[BINOMIAL_LOGITS_PROBS], c[BINOMIAL_LOGITS_TOTAL_COUNT], ds, pts)
