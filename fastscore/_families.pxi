# Per-family kernel functions (included by _kernels.pyx).  Each family's
# constants are named in fastscore/_specs.py; the generated enums
# (NORMAL_LOC, ...) and, for vector families, offset functions of the event
# size E (MVN_SCALE_TRIL(E), ...) index the row c of one batch element.
#
# Slots, by the family's name <f>:
#   scalar families   double <f>_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
#                                     DrawState *ds)
#                     void <f>_score(const double *c, double x, double *s)
#   vector families   void <f>_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
#                                         double *x)
#                     void <f>_score_event(const double *c, Py_ssize_t E, const double *x,
#                                          double *s, double *work)
#   f_input           double <f>_f_input(double x)     (what f sees of a block value)
#   count=threshold   bint <f>_count(fs_philox_state *st, const double *c, Py_ssize_t nc,
#                                    int64_t m, int64_t *counts, int64_t *scratch)
#                     adds m samples' counts to counts[0..V); False to count by drawing.
# The formulas are the NumPy twins' in distributions.py, operation for
# operation, so the two backends round alike.

cdef struct DrawState:
    binomial_t binomial    # numpy's per-(n, p) set-up of the binomial sampler


cdef inline double _uniform(bitgen_t *bg) noexcept nogil:
    return fs_philox_next_double(<fs_philox_state *>bg.state)


# -- normal, lognormal -------------------------------------------------------
cdef inline double normal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                               DrawState *ds) noexcept nogil:
    return random_normal(bg, c[NORMAL_LOC], c[NORMAL_SCALE])


cdef inline void normal_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = (x - c[NORMAL_LOC]) * c[NORMAL_INV_SCALE]
    s[0] = z * c[NORMAL_INV_SCALE]
    s[1] = (z * z - 1.0) * c[NORMAL_INV_SCALE]


cdef inline double lognormal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                  DrawState *ds) noexcept nogil:
    return random_lognormal(bg, c[LOGNORMAL_LOC], c[LOGNORMAL_SCALE])


cdef inline void lognormal_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = (log(x) - c[LOGNORMAL_LOC]) * c[LOGNORMAL_INV_SCALE]
    s[0] = z * c[LOGNORMAL_INV_SCALE]
    s[1] = (z * z - 1.0) * c[LOGNORMAL_INV_SCALE]


cdef inline double lognormal_y_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return random_normal(bg, c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_SCALE])


cdef inline double lognormal_y_f_input(double y) noexcept nogil:
    return exp(y)


cdef inline void lognormal_y_score(const double *c, double y, double *s) noexcept nogil:
    cdef double z = (y - c[LOGNORMAL_Y_LOC]) * c[LOGNORMAL_Y_INV_SCALE]
    s[0] = z * c[LOGNORMAL_Y_INV_SCALE]
    s[1] = (z * z - 1.0) * c[LOGNORMAL_Y_INV_SCALE]


# -- bernoulli, categorical (counted) -----------------------------------------
cdef inline double bernoulli_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                  DrawState *ds) noexcept nogil:
    return <double>(_uniform(bg) < c[BERNOULLI_PROBS])


cdef inline bint bernoulli_count(fs_philox_state *st, const double *c, Py_ssize_t nc, int64_t m,
                                 int64_t *counts, int64_t *scratch) noexcept nogil:
    # x = [u < p]: zeros are the uniforms at or above p.
    scratch[0] = 0
    _count_above(st, c + BERNOULLI_PROBS, 1, m, scratch)
    counts[0] += scratch[0]
    counts[1] += m - scratch[0]
    return True


cdef inline Py_ssize_t _categorical_index(double u, const double *cdf, Py_ssize_t k) noexcept nogil:
    # First index j with u < cdf[j]; cdf ends in exact ones, so j < k.
    cdef Py_ssize_t lo = 0, hi = k - 1, mid, j
    if k <= SCAN_CATEGORIES:
        # cdf is non-decreasing, so that index is the number of cdf[j] <= u:
        # counted without branches, as an early-exit scan mispredicts its
        # exit on almost every draw.
        for j in range(k - 1):
            lo += u >= cdf[j]
        return lo
    while lo < hi:
        mid = (lo + hi) >> 1
        if u < cdf[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline double categorical_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return <double>_categorical_index(_uniform(bg), c + CATEGORICAL_CDF, nc)


cdef inline bint categorical_count(fs_philox_state *st, const double *c, Py_ssize_t nc, int64_t m,
                                   int64_t *counts, int64_t *scratch) noexcept nogil:
    # x = #{j < K - 1: u >= cdf[j]} (see _categorical_index), so the count of
    # category v is #{u >= cdf[v-1]} - #{u >= cdf[v]}.  Beyond SCAN_CATEGORIES
    # the thresholds cost more than drawing and counting.
    cdef Py_ssize_t v
    if nc > SCAN_CATEGORIES:
        return False
    if nc == 1:
        counts[0] += m
        return True
    memset(scratch, 0, (nc - 1) * sizeof(int64_t))
    _count_above(st, c + CATEGORICAL_CDF, nc - 1, m, scratch)
    counts[0] += m - scratch[0]
    for v in range(1, nc - 1):
        counts[v] += scratch[v - 1] - scratch[v]
    counts[nc - 1] += scratch[nc - 2]
    return True


# -- poisson, exponential, gamma, beta, chi2, vonmises --------------------------
cdef inline double poisson_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                DrawState *ds) noexcept nogil:
    return <double>random_poisson(bg, c[POISSON_RATE])


cdef inline void poisson_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = x * c[POISSON_INV_RATE] - 1.0


cdef inline double exponential_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return random_exponential(bg, c[EXPONENTIAL_SCALE])


cdef inline void exponential_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = c[EXPONENTIAL_SCALE] - x


cdef inline double gamma_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                              DrawState *ds) noexcept nogil:
    return random_gamma(bg, c[GAMMA_CONCENTRATION], c[GAMMA_SCALE])


cdef inline void gamma_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = log(x) + c[GAMMA_LOG_RATE_MINUS_DIGAMMA]
    s[1] = c[GAMMA_MEAN] - x


cdef inline double beta_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                             DrawState *ds) noexcept nogil:
    return random_beta(bg, c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0])


cdef inline void beta_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = log(x) + c[BETA_DIGAMMA_SUM_MINUS_DIGAMMA1]
    s[1] = log1p(-x) + c[BETA_DIGAMMA_SUM_MINUS_DIGAMMA0]


cdef inline double chi2_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                             DrawState *ds) noexcept nogil:
    return random_chisquare(bg, c[CHI2_DF])


cdef inline void chi2_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = 0.5 * (log(x) - c[CHI2_LOG2_PLUS_DIGAMMA_HALF_DF])


cdef inline double vonmises_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                 DrawState *ds) noexcept nogil:
    return random_vonmises(bg, c[VONMISES_LOC], c[VONMISES_CONCENTRATION])


cdef inline void vonmises_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = x - c[VONMISES_LOC]
    s[0] = c[VONMISES_CONCENTRATION] * sin(z)
    s[1] = cos(z) - c[VONMISES_BESSEL_RATIO]


# -- binomial, geometric, negative binomial (probs | logits) -------------------
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
    s[0] = x - c[BINOMIAL_LOGITS_TOTAL_COUNT] * c[BINOMIAL_LOGITS_PROBS]


cdef inline double geometric_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds) noexcept nogil:
    return <double>(random_geometric(bg, c[GEOMETRIC_PROBS_PROBS]) - 1)


cdef inline void geometric_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / (1 - p) is 0 at x = 0 (the only sample at p = 1)
    s[0] = c[GEOMETRIC_PROBS_INV_P] - fs_keep(x > 0.0, x * c[GEOMETRIC_PROBS_INV_Q])


cdef inline double geometric_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                         DrawState *ds) noexcept nogil:
    return <double>(random_geometric(bg, c[GEOMETRIC_LOGITS_PROBS]) - 1)


cdef inline void geometric_logits_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = c[GEOMETRIC_LOGITS_Q] - x * c[GEOMETRIC_LOGITS_PROBS]


cdef inline double negbin_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                     DrawState *ds) noexcept nogil:
    # numpy counts failures before n successes: success probability q = 1 - p
    return <double>random_negative_binomial(bg, c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q])


cdef inline void negbin_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / p is 0 at x = 0 (the only sample at p = 0)
    s[0] = fs_keep(x > 0.0, x * c[NEGBIN_PROBS_INV_P]) - c[NEGBIN_PROBS_R_OVER_Q]


cdef inline double negbin_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                      DrawState *ds) noexcept nogil:
    return <double>random_negative_binomial(bg, c[NEGBIN_LOGITS_TOTAL_COUNT],
                                            c[NEGBIN_LOGITS_Q])


cdef inline void negbin_logits_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = x * c[NEGBIN_LOGITS_Q] - c[NEGBIN_LOGITS_TOTAL_COUNT] * c[NEGBIN_LOGITS_PROBS]


# -- dirichlet, mvn (vector families) --------------------------------------------
cdef inline void dirichlet_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                      double *x) noexcept nogil:
    # x_k = g_k / sum(g), the K gammas drawn and summed in order.
    cdef const double *alpha = c + DIRICHLET_CONCENTRATION(E)
    cdef Py_ssize_t k
    cdef double tot
    for k in range(E):
        x[k] = random_standard_gamma(bg, alpha[k])
    tot = x[0]
    for k in range(1, E):
        tot = tot + x[k]
    for k in range(E):
        x[k] = x[k] / tot


cdef inline void dirichlet_score_event(const double *c, Py_ssize_t E, const double *x, double *s,
                                       double *work) noexcept nogil:
    cdef const double *dig = c + DIRICHLET_DIGAMMA_SUM_MINUS_DIGAMMA(E)
    cdef Py_ssize_t k
    for k in range(E):
        s[k] = log(x[k]) + dig[k]


cdef inline void mvn_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                double *x) noexcept nogil:
    # x = loc + L z.  Row i only needs z_0..z_i, so x is filled in place from
    # the last row up.
    cdef const double *loc = c + MVN_LOC(E)
    cdef const double *L = c + MVN_SCALE_TRIL(E)
    cdef Py_ssize_t i, j
    cdef double acc
    for j in range(E):
        x[j] = random_standard_normal(bg)
    for i in range(E - 1, -1, -1):
        acc = loc[i]
        for j in range(i + 1):
            acc = acc + L[i * E + j] * x[j]
        x[i] = acc


cdef inline void mvn_score_event(const double *c, Py_ssize_t E, const double *x, double *s,
                                 double *w) noexcept nogil:
    # w = L^-1 (x - loc), v = L^-T w; s = [v, lower triangle of v w^T - diag(1 / L_ii)].
    cdef const double *loc = c + MVN_LOC(E)
    cdef const double *L = c + MVN_SCALE_TRIL(E)
    cdef const double *inv = c + MVN_INV_DIAG(E)
    cdef Py_ssize_t i, j, o
    cdef double acc
    for i in range(E):
        acc = x[i] - loc[i]
        for j in range(i):
            acc = acc - L[i * E + j] * w[j]
        w[i] = acc * inv[i]
    for i in range(E - 1, -1, -1):
        acc = w[i]
        for j in range(i + 1, E):
            acc = acc - L[j * E + i] * s[j]
        s[i] = acc * inv[i]
    o = E
    for i in range(E):
        for j in range(i + 1):
            s[o] = s[i] * w[j]
            if i == j:
                s[o] = s[o] - inv[i]
            o += 1
