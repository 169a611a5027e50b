# Per-family kernel functions (included by _kernels.pyx).  Each family's
# constants are named in fastscore/_specs.py; the generated enums
# (NORMAL_LOC, ...) and, for the offsets past an event-sized constant,
# functions of the event size E (MVN_SCALE_TRIL(E), ...) index the row c of
# one batch element.
#
# Slots, by the family's name <f>:
#   scalar families   double <f>_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
#                                     DrawState *ds)
#                     void <f>_fill(bitgen_t *bg, const double *c, Py_ssize_t nc,
#                                   double *out, Py_ssize_t m)     (fill=True: m draws at once)
#                     void <f>_score(const double *c, double x, double *s)
#   vector families   void <f>_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
#                                         double *x)
#                     void <f>_score_event(const double *c, Py_ssize_t E, const double *x,
#                                          double *s, double *work)
#   f_input           double <f>_f_input(double x)     (what f sees of a block value)
#   count=threshold   bint <f>_count(fs_stream *st, const double *c, Py_ssize_t nc,
#                                    int64_t m, int64_t *counts, int64_t *scratch)
#                     adds m samples' counts to counts[0..V); False to count by drawing.
# The slots that run vector loops (<f>_score_fold, <f>_pathwise_fold, and the
# vector families' <f>_fill_events, <f>_score_block, <f>_pathwise_block) take
# the engine, `const fs_engine *eng`, as their first parameter, and pass
# eng.reduce_isa to the dispatched loops of _foldsteps.h / _rowops.h (first
# parameter there: `int isa`) and eng itself to the fused loops that it
# switches (fs_mvn_*_small).
# The formulas are the NumPy twins' in distributions.py, operation for
# operation, so the two backends round alike.

cdef struct DrawState:
    binomial_t binomial    # numpy's per-(n, p) set-up of the binomial sampler


cdef inline fs_stream *_st(bitgen_t *bg) noexcept nogil:
    """The stream behind bg: the inline samplers (_samplers.h) draw from it
    directly; numpy's C samplers (binomial, von Mises) through bg."""
    return <fs_stream *>bg.state


cdef inline double _uniform(bitgen_t *bg) noexcept nogil:
    return fs_next_double(_st(bg))


# -- normal, lognormal -------------------------------------------------------
cdef inline double normal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                               DrawState *ds) noexcept nogil:
    return fs_normal(_st(bg), c[NORMAL_LOC], c[NORMAL_SCALE])


cdef inline void normal_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = (x - c[NORMAL_LOC]) * c[NORMAL_INV_SCALE]
    s[0] = z * c[NORMAL_INV_SCALE]
    s[1] = (z * z - 1.0) * c[NORMAL_INV_SCALE]



cdef inline void normal_score_fold(const fs_engine *eng, const double *c, const double *x,
                                   const double *fx, double shift, Py_ssize_t m,
                                   double *row) noexcept nogil:
    fs_score_fold_normal(eng.reduce_isa, c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fx, shift, m,
                         row)


cdef inline double lognormal_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                  DrawState *ds) noexcept nogil:
    return fs_lognormal(_st(bg), c[LOGNORMAL_LOC], c[LOGNORMAL_SCALE])


cdef inline void lognormal_score(const double *c, double x, double *s) noexcept nogil:
    cdef double z = (log(x) - c[LOGNORMAL_LOC]) * c[LOGNORMAL_INV_SCALE]
    s[0] = z * c[LOGNORMAL_INV_SCALE]
    s[1] = (z * z - 1.0) * c[LOGNORMAL_INV_SCALE]


cdef inline double lognormal_y_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return fs_normal(_st(bg), c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_SCALE])


cdef inline double lognormal_y_f_input(double y) noexcept nogil:
    return exp(y)


cdef inline void lognormal_y_score(const double *c, double y, double *s) noexcept nogil:
    cdef double z = (y - c[LOGNORMAL_Y_LOC]) * c[LOGNORMAL_Y_INV_SCALE]
    s[0] = z * c[LOGNORMAL_Y_INV_SCALE]
    s[1] = (z * z - 1.0) * c[LOGNORMAL_Y_INV_SCALE]


cdef inline void lognormal_y_score_fold(const fs_engine *eng, const double *c, const double *x,
                                        const double *fx, double shift, Py_ssize_t m,
                                        double *row) noexcept nogil:
    fs_score_fold_normal(eng.reduce_isa, c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_INV_SCALE], x, x, fx,
                         shift, m, row)


# -- bernoulli, categorical (counted) -----------------------------------------
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


cdef inline bint categorical_count(fs_stream *st, const double *c, Py_ssize_t nc, int64_t m,
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
    return <double>fs_poisson(_st(bg), c[POISSON_RATE])


cdef inline void poisson_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = x * c[POISSON_INV_RATE] - 1.0



cdef inline void poisson_score_fold(const fs_engine *eng, const double *c, const double *x,
                                    const double *fx, double shift, Py_ssize_t m,
                                    double *row) noexcept nogil:
    fs_score_fold_poisson(eng.reduce_isa, c[POISSON_INV_RATE], x, x, fx, shift, m, row)


cdef inline double exponential_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])


cdef inline void exponential_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = c[EXPONENTIAL_SCALE] - x



cdef inline void exponential_score_fold(const fs_engine *eng, const double *c, const double *x,
                                        const double *fx, double shift, Py_ssize_t m,
                                        double *row) noexcept nogil:
    fs_score_fold_exponential(eng.reduce_isa, c[EXPONENTIAL_SCALE], x, x, fx, shift, m, row)


cdef inline double gamma_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                              DrawState *ds) noexcept nogil:
    return fs_gamma(_st(bg), c[GAMMA_CONCENTRATION], c[GAMMA_SCALE])


cdef inline void gamma_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = log(x) + c[GAMMA_LOG_RATE_MINUS_DIGAMMA]
    s[1] = c[GAMMA_MEAN] - x


cdef inline void gamma_score_fold(const fs_engine *eng, const double *c, const double *x,
                                  const double *fx, double shift, Py_ssize_t m,
                                  double *row) noexcept nogil:
    # u = log x first (the libm call of gamma_score), then the vector pass
    cdef double u[BLOCK]
    cdef Py_ssize_t i
    for i in range(m):
        u[i] = log(x[i])
    fs_score_fold_gamma(eng.reduce_isa, c[GAMMA_LOG_RATE_MINUS_DIGAMMA], c[GAMMA_MEAN], x, u, fx,
                        shift, m, row)


cdef inline double beta_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                             DrawState *ds) noexcept nogil:
    return fs_beta(_st(bg), c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0])


cdef inline void beta_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = log(x) + c[BETA_DIGAMMA_SUM_MINUS_DIGAMMA1]
    s[1] = log1p(-x) + c[BETA_DIGAMMA_SUM_MINUS_DIGAMMA0]


cdef inline double chi2_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                             DrawState *ds) noexcept nogil:
    return fs_chisquare(_st(bg), c[CHI2_DF])


cdef inline void chi2_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = 0.5 * (log(x) - c[CHI2_LOG2_PLUS_DIGAMMA_HALF_DF])


cdef inline void chi2_score_fold(const fs_engine *eng, const double *c, const double *x,
                                 const double *fx, double shift, Py_ssize_t m,
                                 double *row) noexcept nogil:
    cdef double u[BLOCK]   # log x first, as gamma_score_fold
    cdef Py_ssize_t i
    for i in range(m):
        u[i] = log(x[i])
    fs_score_fold_chi2(eng.reduce_isa, c[CHI2_LOG2_PLUS_DIGAMMA_HALF_DF], x, u, fx, shift, m, row)


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
    # x - N p; where p > 1/2 as (x - N) + N q, q = sigmoid(-logits) (1 - p has lost
    # q's digits when p is near 1: logits = 40 gives p = 1 exactly)
    cdef double N = c[BINOMIAL_LOGITS_TOTAL_COUNT]
    if c[BINOMIAL_LOGITS_PROBS] > 0.5:
        s[0] = (x - N) + N * c[BINOMIAL_LOGITS_Q]
    else:
        s[0] = x - N * c[BINOMIAL_LOGITS_PROBS]


cdef inline double geometric_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds) noexcept nogil:
    return <double>(fs_geometric(_st(bg), c[GEOMETRIC_PROBS_PROBS]) - 1)


cdef inline void geometric_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / (1 - p) is 0 at x = 0 (the only sample at p = 1)
    s[0] = c[GEOMETRIC_PROBS_INV_P] - fs_keep(x > 0.0, x * c[GEOMETRIC_PROBS_INV_Q])


cdef inline void geometric_probs_score_fold(const fs_engine *eng, const double *c, const double *x,
                                            const double *fx, double shift, Py_ssize_t m,
                                            double *row) noexcept nogil:
    fs_score_fold_geometric_probs(eng.reduce_isa, c[GEOMETRIC_PROBS_INV_P],
                                  c[GEOMETRIC_PROBS_INV_Q], x, x, fx, shift, m, row)


cdef inline double geometric_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                         DrawState *ds) noexcept nogil:
    return <double>(fs_geometric(_st(bg), c[GEOMETRIC_LOGITS_PROBS]) - 1)


cdef inline void geometric_logits_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = c[GEOMETRIC_LOGITS_Q] - x * c[GEOMETRIC_LOGITS_PROBS]


cdef inline void geometric_logits_score_fold(const fs_engine *eng, const double *c,
                                             const double *x, const double *fx, double shift,
                                             Py_ssize_t m, double *row) noexcept nogil:
    fs_score_fold_geometric_logits(eng.reduce_isa, c[GEOMETRIC_LOGITS_Q],
                                   c[GEOMETRIC_LOGITS_PROBS], x, x, fx, shift, m, row)


cdef inline double negbin_probs_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                     DrawState *ds) noexcept nogil:
    # numpy counts failures before n successes: success probability q = 1 - p
    return <double>fs_negative_binomial(_st(bg), c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q])


cdef inline void negbin_probs_score(const double *c, double x, double *s) noexcept nogil:
    # x / p is 0 at x = 0 (the only sample at p = 0)
    s[0] = fs_keep(x > 0.0, x * c[NEGBIN_PROBS_INV_P]) - c[NEGBIN_PROBS_R_OVER_Q]


cdef inline double negbin_logits_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                      DrawState *ds) noexcept nogil:
    return <double>fs_negative_binomial(_st(bg), c[NEGBIN_LOGITS_TOTAL_COUNT],
                                            c[NEGBIN_LOGITS_Q])


cdef inline void negbin_logits_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = x * c[NEGBIN_LOGITS_Q] - c[NEGBIN_LOGITS_TOTAL_COUNT] * c[NEGBIN_LOGITS_PROBS]


# -- block fills ----------------------------------------------------------------
# <f>_fill(bg, c, nc, out, m): m draws of <f>_draw into out[0..m) at once, by
# the block samplers of _samplers.h (speculative on the buffered words, the
# set-up once per block); the same draws as m calls of <f>_draw.
cdef inline void normal_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                             Py_ssize_t m) noexcept nogil:
    fs_fill_normal(_st(bg), c[NORMAL_LOC], c[NORMAL_SCALE], out, m)


cdef inline void lognormal_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                Py_ssize_t m) noexcept nogil:
    fs_fill_lognormal(_st(bg), c[LOGNORMAL_LOC], c[LOGNORMAL_SCALE], out, m)


cdef inline void lognormal_y_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                  Py_ssize_t m) noexcept nogil:
    fs_fill_normal(_st(bg), c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_SCALE], out, m)


cdef inline void exponential_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                  Py_ssize_t m) noexcept nogil:
    fs_fill_exponential(_st(bg), c[EXPONENTIAL_SCALE], out, m)


cdef inline void gamma_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                            Py_ssize_t m) noexcept nogil:
    cdef fs_gamma_t g
    fs_gamma_setup(&g, c[GAMMA_CONCENTRATION])
    fs_fill_gamma(_st(bg), &g, c[GAMMA_SCALE], out, m)


cdef inline void chi2_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                           Py_ssize_t m) noexcept nogil:
    cdef fs_gamma_t g
    fs_gamma_setup(&g, c[CHI2_DF] / 2.0)
    fs_fill_chisquare(_st(bg), &g, out, m)


cdef inline void beta_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                           Py_ssize_t m) noexcept nogil:
    cdef fs_beta_t p
    fs_beta_setup(&p, c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0])
    fs_fill_beta(_st(bg), &p, out, m)


cdef inline void poisson_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                              Py_ssize_t m) noexcept nogil:
    cdef fs_poisson_t p
    fs_poisson_setup(&p, c[POISSON_RATE])
    fs_fill_poisson(_st(bg), &p, out, m)


cdef inline void _geometric_failures_fill(bitgen_t *bg, double p, double *out,
                                          Py_ssize_t m) noexcept nogil:
    # numpy counts trials to the first success (>= 1); the samples are failures
    cdef fs_geometric_t g
    cdef Py_ssize_t i
    fs_geometric_setup(&g, p)
    fs_fill_geometric(_st(bg), &g, out, m)
    for i in range(m):
        out[i] = out[i] - 1.0


cdef inline void geometric_probs_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                      Py_ssize_t m) noexcept nogil:
    _geometric_failures_fill(bg, c[GEOMETRIC_PROBS_PROBS], out, m)


cdef inline void geometric_logits_fill(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                       double *out, Py_ssize_t m) noexcept nogil:
    _geometric_failures_fill(bg, c[GEOMETRIC_LOGITS_PROBS], out, m)


cdef inline void negbin_probs_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                   Py_ssize_t m) noexcept nogil:
    cdef fs_negbin_t q
    fs_negbin_setup(&q, c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q])
    fs_fill_negative_binomial(_st(bg), &q, out, m)


cdef inline void negbin_logits_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                                    Py_ssize_t m) noexcept nogil:
    cdef fs_negbin_t q
    fs_negbin_setup(&q, c[NEGBIN_LOGITS_TOTAL_COUNT], c[NEGBIN_LOGITS_Q])
    fs_fill_negative_binomial(_st(bg), &q, out, m)


# -- dirichlet, mvn (vector families) --------------------------------------------
cdef inline void dirichlet_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                      double *x) noexcept nogil:
    _dirichlet_event(bg, c + DIRICHLET_CONCENTRATION, E, x, NULL)


DEF DIRICHLET_SETUPS = 64   # gamma set-ups kept per block (K above: set up per draw)

cdef inline void dirichlet_fill_events(const fs_engine *eng, bitgen_t *bg, const double *c,
                                       Py_ssize_t E, double *x, Py_ssize_t stride,
                                       Py_ssize_t m) noexcept nogil:
    # the gammas' set-ups (numpy's per-call 1/3, sqrt, ...: the same doubles)
    # once per block
    cdef const double *alpha = c + DIRICHLET_CONCENTRATION
    cdef fs_gamma_t g[DIRICHLET_SETUPS]
    cdef Py_ssize_t i, k
    if E > DIRICHLET_SETUPS:
        for i in range(m):
            _dirichlet_event(bg, alpha, E, x + i * stride, NULL)
        return
    for k in range(E):
        fs_gamma_setup(&g[k], alpha[k])
    for i in range(m):
        _dirichlet_event(bg, alpha, E, x + i * stride, NULL, g)


cdef inline void dirichlet_score_block(const fs_engine *eng, const double *c, Py_ssize_t E,
                                       const double *x, Py_ssize_t xs, Py_ssize_t m, double *terms,
                                       Py_ssize_t ts) noexcept nogil:
    cdef const double *dig = c + DIRICHLET_DIGAMMA_SUM_MINUS_DIGAMMA(E)
    cdef Py_ssize_t i, k
    cdef double *t
    cdef double a
    for k in range(E):
        t = terms + k * ts
        a = dig[k]
        for i in range(m):
            t[i] = log(x[i * xs + k]) + a


cdef inline void dirichlet_score_event(const double *c, Py_ssize_t E, const double *x, double *s,
                                       double *work) noexcept nogil:
    cdef const double *dig = c + DIRICHLET_DIGAMMA_SUM_MINUS_DIGAMMA(E)
    cdef Py_ssize_t k
    for k in range(E):
        s[k] = log(x[k]) + dig[k]


cdef inline void _mvn_transform(const double *c, Py_ssize_t E, double *x) noexcept nogil:
    # x = loc + L z, z in x.  Row i only needs z_0..z_i, so x is filled in
    # place from the last row up.
    cdef const double *loc = c + MVN_LOC
    cdef const double *L = c + MVN_SCALE_TRIL(E)
    cdef Py_ssize_t i, j
    cdef double acc
    for i in range(E - 1, -1, -1):
        acc = loc[i]
        for j in range(i + 1):
            acc = acc + L[i * E + j] * x[j]
        x[i] = acc


cdef inline void mvn_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                double *x) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(E):
        x[j] = fs_standard_normal(_st(bg))
    _mvn_transform(c, E, x)


cdef inline void mvn_fill_events(const fs_engine *eng, bitgen_t *bg, const double *c, Py_ssize_t E,
                                 double *x, Py_ssize_t stride, Py_ssize_t m) noexcept nogil:
    # the m E normals in one fill where the events are contiguous (the same
    # draws, in the same order, as E per event)
    cdef Py_ssize_t i
    if stride == E:
        fs_fill_standard_normal(_st(bg), x, m * E)
        if fs_mvn_transform_small(eng, c + MVN_LOC, c + MVN_SCALE_TRIL(E), x, m, E):
            return   # E of 2 to 4: one vector loop, the same bits
    else:
        for i in range(m):
            fs_fill_standard_normal(_st(bg), x + i * stride, E)
    for i in range(m):
        _mvn_transform(c, E, x + i * stride)


cdef inline void mvn_score_event(const double *c, Py_ssize_t E, const double *x, double *s,
                                 double *w) noexcept nogil:
    # w = L^-1 (x - loc), v = L^-T w; s = [v, lower triangle of v w^T - diag(1 / L_ii)].
    cdef const double *loc = c + MVN_LOC
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


cdef inline void mvn_score_block(const fs_engine *eng, const double *c, Py_ssize_t E,
                                 const double *x, Py_ssize_t xs, Py_ssize_t m, double *terms,
                                 Py_ssize_t ts) noexcept nogil:
    # mvn_score_event for m events, operation for operation, each step a
    # vector loop over the samples (_rowops.h).  Rows (terms + r * ts): v_i
    # in row i, the (i, j) component in row E + i (i + 1) / 2 + j.  w_j waits
    # in the row of (E - 1, j), which the last steps overwrite after every
    # other use.
    cdef const double *loc = c + MVN_LOC
    cdef const double *L = c + MVN_SCALE_TRIL(E)
    cdef const double *inv = c + MVN_INV_DIAG(E)
    cdef Py_ssize_t i, j, k, R = E + (E - 1) * E // 2
    cdef double *wi
    cdef double *vi
    cdef double *t
    cdef double a
    if fs_mvn_score_small(eng, loc, L, inv, x, xs, m, terms, ts, E):
        return   # E of 2 to 4: the steps below fused per sample, the same bits
    for i in range(E):   # w = L^-1 (x - loc)
        wi = terms + (R + i) * ts
        a = loc[i]
        for k in range(m):
            wi[k] = x[k * xs + i] - a
        for j in range(i):
            fs_row_sub_scaled(eng.reduce_isa, wi, terms + (R + j) * ts, L[i * E + j], m)
        fs_row_scale(eng.reduce_isa, wi, inv[i], m)
    for i in range(E - 1, -1, -1):   # v = L^-T w
        vi = terms + i * ts
        memcpy(vi, terms + (R + i) * ts, m * sizeof(double))
        for j in range(i + 1, E):
            fs_row_sub_scaled(eng.reduce_isa, vi, terms + j * ts, L[j * E + i], m)
        fs_row_scale(eng.reduce_isa, vi, inv[i], m)
    for i in range(E):   # v w^T - diag(1 / L_ii), lower triangle
        vi = terms + i * ts
        for j in range(i + 1):
            t = terms + (E + i * (i + 1) // 2 + j) * ts
            if i == j:
                fs_row_mul_sub(eng.reduce_isa, t, vi, terms + (R + j) * ts, inv[i], m)
            else:
                fs_row_mul(eng.reduce_isa, t, vi, terms + (R + j) * ts, m)


# -- pathwise slots: the terms f'(x) dx/dtheta_j, from the sample x ------------
# Location-scale families differentiate x = g(eps; theta) in closed form; the
# others by implicit reparameterisation, dx/dtheta = -(dF/dtheta)(x) / p(x)
# (_implicit.h), which holds whatever sampler drew x.
cdef inline void normal_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = loc + scale z: dx/dloc = 1, dx/dscale = z
    g[0] = fp
    g[1] = fp * ((x - c[NORMAL_LOC]) * c[NORMAL_INV_SCALE])


cdef inline void normal_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                      const double *fx, const double *gp, double shift,
                                      Py_ssize_t m, double *row) noexcept nogil:
    fs_pathwise_fold_normal(eng.reduce_isa, c[NORMAL_LOC], c[NORMAL_INV_SCALE], x, x, fx, gp,
                            shift, m, row)


cdef inline void lognormal_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = exp(loc + scale z): dx/dloc = x, dx/dscale = x z
    cdef double z = (log(x) - c[LOGNORMAL_LOC]) * c[LOGNORMAL_INV_SCALE]
    g[0] = fp * x
    g[1] = fp * x * z


cdef inline void lognormal_y_pathwise(const double *c, double y, double fp, double *g) noexcept nogil:
    cdef double x = exp(y), z = (y - c[LOGNORMAL_Y_LOC]) * c[LOGNORMAL_Y_INV_SCALE]
    g[0] = fp * x
    g[1] = fp * x * z


cdef inline void lognormal_y_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                           const double *fx, const double *gp, double shift,
                                           Py_ssize_t m, double *row) noexcept nogil:
    cdef double u[BLOCK]   # x = exp(y) first, the libm call of lognormal_y_pathwise
    cdef Py_ssize_t i
    for i in range(m):
        u[i] = exp(x[i])
    fs_pathwise_fold_lognormal_y(eng.reduce_isa, c[LOGNORMAL_Y_LOC], c[LOGNORMAL_Y_INV_SCALE], x,
                                 u, fx, gp, shift, m, row)


cdef inline void exponential_pathwise(const double *c, double x, double fp,
                                      double *g) noexcept nogil:
    # x = e / rate: dx/drate = -x / rate
    g[0] = -(fp * x) * c[EXPONENTIAL_SCALE]


cdef inline void exponential_pathwise_fold(const fs_engine *eng, const double *c, const double *x,
                                           const double *fx, const double *gp, double shift,
                                           Py_ssize_t m, double *row) noexcept nogil:
    fs_pathwise_fold_exponential(eng.reduce_isa, c[EXPONENTIAL_SCALE], x, x, fx, gp, shift, m, row)


cdef inline void gamma_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = y / rate, y ~ Gamma(a, 1): dx/da = (dy/da) / rate (implicit), dx/drate = -x / rate
    g[0] = fp * (fs_gamma_dx_dshape(c[GAMMA_CONCENTRATION], x * c[GAMMA_RATE]) * c[GAMMA_SCALE])
    g[1] = -(fp * x) * c[GAMMA_SCALE]


cdef inline void beta_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    cdef double da, db
    fs_beta_dx_dab(c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0], x, &da, &db)
    g[0] = fp * da
    g[1] = fp * db


cdef inline void chi2_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    # x = 2 y, y ~ Gamma(df / 2, 1): dx/ddf = 2 (dy/da) / 2
    g[0] = fp * fs_gamma_dx_dshape(0.5 * c[CHI2_DF], 0.5 * x)


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


cdef inline void dirichlet_pathwise_event(const double *c, Py_ssize_t E, const double *x,
                                          const double *fp, double *g, double *w) noexcept nogil:
    # Stick-breaking: v_k = x_k / R_k ~ Beta(a_k, tail_k), independent, with
    # R_k = sum_{j >= k} x_j the stick left; each v_k by implicit
    # reparameterisation.  With G_k = d f / d v_k = f'_k R_k - T_k R_k / R_{k+1}
    # (T_k = sum_{e > k} f'_e x_e), the term of a_j is
    # G_j dv_j/da_j + sum_{k < j} G_k dv_k/dtail_k.  w: scratch of 2E.
    cdef const double *alpha = c + DIRICHLET_CONCENTRATION
    cdef const double *tail = c + DIRICHLET_TAIL_CONCENTRATION(E)
    cdef double *R = w
    cdef double *T = w + E
    cdef double acc = 0.0, da, db, G
    cdef Py_ssize_t k
    R[E - 1] = x[E - 1]
    T[E - 1] = 0.0
    for k in range(E - 2, -1, -1):
        R[k] = R[k + 1] + x[k]
        T[k] = T[k + 1] + fp[k + 1] * x[k + 1]
    for k in range(E - 1):
        fs_beta_dx_dab(alpha[k], tail[k], x[k] / R[k], &da, &db)
        G = fp[k] * R[k] - T[k] * R[k] / R[k + 1]
        g[k] = G * da + acc
        acc = acc + G * db
    g[E - 1] = acc


cdef inline void mvn_pathwise_event(const double *c, Py_ssize_t E, const double *x,
                                    const double *fp, double *g, double *w) noexcept nogil:
    # x = loc + L z: dx/dloc_i = e_i, dx_i/dL_ij = z_j (j <= i), z = L^-1 (x - loc)
    cdef const double *loc = c + MVN_LOC
    cdef const double *L = c + MVN_SCALE_TRIL(E)
    cdef const double *inv = c + MVN_INV_DIAG(E)
    cdef Py_ssize_t i, j, o
    cdef double acc
    for i in range(E):
        acc = x[i] - loc[i]
        for j in range(i):
            acc = acc - L[i * E + j] * w[j]
        w[i] = acc * inv[i]
    for i in range(E):
        g[i] = fp[i]
    o = E
    for i in range(E):
        for j in range(i + 1):
            g[o] = fp[i] * w[j]
            o += 1


cdef inline void mvn_pathwise_block(const fs_engine *eng, const double *c, Py_ssize_t E,
                                    const double *x, Py_ssize_t xs, const double *gp,
                                    Py_ssize_t gs, Py_ssize_t m, double *terms, Py_ssize_t ts,
                                    double *g, double *w) noexcept nogil:
    # mvn_pathwise_event for m events, component-major (terms[j * ts + i])
    cdef Py_ssize_t i, j, P = E + E * (E + 1) // 2
    if fs_mvn_pathwise_small(eng, c + MVN_LOC, c + MVN_SCALE_TRIL(E), c + MVN_INV_DIAG(E), x, xs,
                             gp, gs, m, terms, ts, E):
        return   # E of 2 to 4: one fused vector loop, the same bits
    for i in range(m):
        mvn_pathwise_event(c, E, x + i * xs, gp + i * gs, g, w)
        for j in range(P):
            terms[j * ts + i] = g[j]


# -- measure-valued slots: the sample and the coupled points -------------------
# pts[0] is the sample (for E[f]); for each gradient component j, pts[1 + 2j]
# is drawn from the positive part p+ and pts[2 + 2j] from the negative part p-
# of the weak derivative dp/dtheta_j = c_j (p+ - p-) (Mohamed, Rosca,
# Figurnov, Mnih 2020, table 1), coupled through common random numbers.  The
# constants c_j are applied by the finish.  Draws go sample by sample, in
# the order written, which the NumPy twins (distributions.py) repeat.
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


cdef inline void lognormal_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                        DrawState *ds, double *pts) noexcept nogil:
    # The normal's points, through exp
    cdef Py_ssize_t q
    normal_measure_draw(bg, c, nc, ds, pts)
    for q in range(5):
        pts[q] = exp(pts[q])


cdef inline void poisson_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                      DrawState *ds, double *pts) noexcept nogil:
    # rate: x + 1 against x (c = 1)
    cdef double x = <double>fs_poisson(_st(bg), c[POISSON_RATE])
    pts[0] = x
    pts[1] = x + 1.0
    pts[2] = x


cdef inline void exponential_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                          DrawState *ds, double *pts) noexcept nogil:
    # rate: x against Gamma(2, rate) = x + x' (c = 1 / rate)
    cdef double x = fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])
    cdef double x2 = fs_exponential(_st(bg), c[EXPONENTIAL_SCALE])
    pts[0] = x
    pts[1] = x
    pts[2] = x + x2


cdef inline void gamma_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds, double *pts) noexcept nogil:
    # concentration: no weak derivative here (its points are the sample, its
    # gradient NaN); rate: x against Gamma(a + 1, rate) = x + x' (c = a / rate)
    cdef double x = fs_gamma(_st(bg), c[GAMMA_CONCENTRATION], c[GAMMA_SCALE])
    cdef double x2 = fs_exponential(_st(bg), c[GAMMA_SCALE])
    pts[0] = x
    pts[1] = x
    pts[2] = x
    pts[3] = x
    pts[4] = x + x2


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


cdef inline void _geometric_measure(bitgen_t *bg, double p, double *pts) noexcept nogil:
    # probs: x against the size-biased law 1 + x + x' (c = 1 / p), x, x'
    # failures before a success
    cdef double x = <double>(fs_geometric(_st(bg), p) - 1)
    cdef double x2 = <double>(fs_geometric(_st(bg), p) - 1)
    pts[0] = x
    pts[1] = x
    pts[2] = 1.0 + x + x2


cdef inline void geometric_probs_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                              DrawState *ds, double *pts) noexcept nogil:
    _geometric_measure(bg, c[GEOMETRIC_PROBS_PROBS], pts)


cdef inline void geometric_logits_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                               DrawState *ds, double *pts) noexcept nogil:
    _geometric_measure(bg, c[GEOMETRIC_LOGITS_PROBS], pts)


cdef inline void _negbin_measure(bitgen_t *bg, double r, double q, double *pts) noexcept nogil:
    # probs: the size-biased law 1 + NB(r + 1) = 1 + x + G against x (c = r / (1 - p)),
    # G successes before one failure
    cdef double x = <double>fs_negative_binomial(_st(bg), r, q)
    cdef double G = <double>(fs_geometric(_st(bg), q) - 1)
    pts[0] = x
    pts[1] = 1.0 + x + G
    pts[2] = x


cdef inline void negbin_probs_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                           DrawState *ds, double *pts) noexcept nogil:
    _negbin_measure(bg, c[NEGBIN_PROBS_TOTAL_COUNT], c[NEGBIN_PROBS_Q], pts)


cdef inline void negbin_logits_measure_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                            DrawState *ds, double *pts) noexcept nogil:
    _negbin_measure(bg, c[NEGBIN_LOGITS_TOTAL_COUNT], c[NEGBIN_LOGITS_Q], pts)


# -- bernoulli's antithetic estimators (measure-valued form, weighted) ---------
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


# -- Concrete (Gumbel-softmax) relaxations ----------------------------------------
cdef inline double _open_uniform(bitgen_t *bg) noexcept nogil:
    # A uniform in (0, 1): the stream's double, with 0 taken as 2^-54 so that
    # the logistic and Gumbel noises stay finite.
    cdef double u = _uniform(bg)
    return u if u > 0.0 else 5.551115123125783e-17


cdef inline double _sigmoid(double z) noexcept nogil:
    cdef double e
    if z >= 0.0:
        return 1.0 / (1.0 + exp(-z))
    e = exp(z)
    return e / (1.0 + e)


cdef inline double relaxed_bernoulli_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                          DrawState *ds) noexcept nogil:
    # y = sigmoid((logits + log u - log(1 - u)) / t)
    cdef double u = _open_uniform(bg)
    return _sigmoid((c[RELAXED_BERNOULLI_LOGITS] + (log(u) - log1p(-u)))
                    * c[RELAXED_BERNOULLI_INV_TEMPERATURE])


cdef inline void relaxed_bernoulli_score(const double *c, double y, double *s) noexcept nogil:
    # d/dlogits log p(y) = 1 - 2 sigmoid(logits - t logit(y)), times d logits / d param
    s[0] = c[RELAXED_BERNOULLI_PARAM_SCALE] * (1.0 - 2.0 * _sigmoid(
        c[RELAXED_BERNOULLI_LOGITS] - c[RELAXED_BERNOULLI_TEMPERATURE] * (log(y) - log1p(-y))))


cdef inline void relaxed_bernoulli_pathwise(const double *c, double y, double fp,
                                            double *g) noexcept nogil:
    # dy/dlogits = y (1 - y) / t
    g[0] = c[RELAXED_BERNOULLI_PARAM_SCALE] * (fp * (y * (1.0 - y))
                                               * c[RELAXED_BERNOULLI_INV_TEMPERATURE])


cdef inline double relaxed_bernoulli_st_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                             DrawState *ds) noexcept nogil:
    return relaxed_bernoulli_draw(bg, c, nc, ds)


cdef inline double relaxed_bernoulli_st_f_input(double y) noexcept nogil:
    # straight-through: f (and f') at the hard sample H(y) = [y > 1/2]
    return 1.0 if y > 0.5 else 0.0


cdef inline void relaxed_bernoulli_st_pathwise(const double *c, double y, double fp,
                                               double *g) noexcept nogil:
    relaxed_bernoulli_pathwise(c, y, fp, g)


cdef inline void _softmax_scaled(const double *z, double scale, Py_ssize_t E,
                                 double *y) noexcept nogil:
    # y = softmax(scale z), with the max subtracted
    cdef Py_ssize_t k
    cdef double m = z[0] * scale, tot = 0.0
    for k in range(1, E):
        if z[k] * scale > m:
            m = z[k] * scale
    for k in range(E):
        y[k] = exp(z[k] * scale - m)
        tot = tot + y[k]
    for k in range(E):
        y[k] = y[k] / tot


cdef inline void relaxed_categorical_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                                double *y) noexcept nogil:
    # y = softmax((log p + G) / t), G_k = -log(-log u_k) Gumbel noise, in order
    cdef const double *lp = c + RELAXED_CATEGORICAL_LOG_PROBS(E)
    cdef Py_ssize_t k
    for k in range(E):
        y[k] = lp[k] - log(-log(_open_uniform(bg)))
    _softmax_scaled(y, c[RELAXED_CATEGORICAL_INV_TEMPERATURE], E, y)


cdef inline void relaxed_categorical_score_event(const double *c, Py_ssize_t E, const double *y,
                                                 double *s, double *w) noexcept nogil:
    # d/dlogits_j log p(y) = 1 - K softmax_j(log p - t log y), times d logits / d param
    cdef const double *lp = c + RELAXED_CATEGORICAL_LOG_PROBS(E)
    cdef const double *scale = c + RELAXED_CATEGORICAL_PARAM_SCALE(E)
    cdef double t = c[RELAXED_CATEGORICAL_TEMPERATURE]
    cdef Py_ssize_t k
    for k in range(E):
        w[k] = lp[k] - t * log(y[k])
    _softmax_scaled(w, 1.0, E, w)
    for k in range(E):
        s[k] = scale[k] * (1.0 - <double>E * w[k])


cdef inline void relaxed_categorical_pathwise_event(const double *c, Py_ssize_t E,
                                                    const double *y, const double *fp, double *g,
                                                    double *w) noexcept nogil:
    # dy_i/dlogits_k = y_i ([i = k] - y_k) / t
    cdef const double *scale = c + RELAXED_CATEGORICAL_PARAM_SCALE(E)
    cdef double dot = 0.0, inv_t = c[RELAXED_CATEGORICAL_INV_TEMPERATURE]
    cdef Py_ssize_t k
    for k in range(E):
        dot = dot + fp[k] * y[k]
    for k in range(E):
        g[k] = scale[k] * (y[k] * (fp[k] - dot) * inv_t)


cdef inline void relaxed_categorical_st_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                                   double *y) noexcept nogil:
    relaxed_categorical_draw_event(bg, c, E, y)


cdef inline void relaxed_categorical_st_f_input_event(const double *c, Py_ssize_t E,
                                                      const double *y, double *t) noexcept nogil:
    # straight-through: f (and f') at the one-hot hard sample argmax(y)
    cdef Py_ssize_t k, best = 0
    for k in range(1, E):
        if y[k] > y[best]:
            best = k
    for k in range(E):
        t[k] = 1.0 if k == best else 0.0


cdef inline void relaxed_categorical_st_pathwise_event(const double *c, Py_ssize_t E,
                                                       const double *y, const double *fp,
                                                       double *g, double *w) noexcept nogil:
    relaxed_categorical_pathwise_event(c, E, y, fp, g, w)


# -- REBAR (Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein 2017) --------------------
# Per sample: the hard sample b = H(z) of z = logits + noise; z~ drawn from
# p(z | b) exactly; y = sigma_t(z), y~ = sigma_t(z~).  f is evaluated at b (f0)
# and y~ (f1), f' at y (g0) and y~ (g1); aux keeps what the terms need.  The
# terms, per component: A = f(b) dlog p(b), C = -f(y~) dlog p(b) + df(y) -
# df(y~) (d: in the logits, through z and through z~ given b), so that the
# estimate A + eta C is unbiased for every eta; the finish chooses eta.
cdef inline void relaxed_bernoulli_rebar_draw(bitgen_t *bg, const double *c, Py_ssize_t E,
                                              double *f0, double *f1, double *g0, double *g1,
                                              double *aux) noexcept nogil:
    cdef double l = c[RELAXED_BERNOULLI_LOGITS], p = c[RELAXED_BERNOULLI_PROBS]
    cdef double q = c[RELAXED_BERNOULLI_Q], inv_t = c[RELAXED_BERNOULLI_INV_TEMPERATURE]
    cdef double u = _open_uniform(bg), v = _open_uniform(bg), z, b, vp, dvp, zt
    z = l + (log(u) - log1p(-u))
    b = 1.0 if z > 0.0 else 0.0
    # v' uniform on b's side of 1 - p: z~ = logits + logit(v') has H(z~) = b
    if b > 0.0:
        vp = v * p + q
        dvp = v - 1.0
    else:
        vp = v * q
        dvp = -v
    zt = l + (log(vp) - log1p(-vp))
    f0[0] = b
    g0[0] = _sigmoid(z * inv_t)
    g1[0] = _sigmoid(zt * inv_t)
    f1[0] = g1[0]
    aux[0] = b
    aux[1] = 1.0 + (p * q) * dvp / (vp * (1.0 - vp))   # dz~/dlogits, b and v fixed
    aux[2] = 0.0                                        # (aux holds E + 2 values)


cdef inline void relaxed_bernoulli_rebar_terms(const double *c, Py_ssize_t E, double F0,
                                               double F1, const double *G0, const double *G1,
                                               const double *y0, const double *y1,
                                               const double *aux, double *A,
                                               double *C) noexcept nogil:
    cdef double s = aux[0] - c[RELAXED_BERNOULLI_PROBS], inv_t = c[RELAXED_BERNOULLI_INV_TEMPERATURE]
    cdef double scale = c[RELAXED_BERNOULLI_PARAM_SCALE]
    A[0] = scale * (F0 * s)
    C[0] = scale * ((-F1 * s + G0[0] * (y0[0] * (1.0 - y0[0])) * inv_t)
                    - G1[0] * (y1[0] * (1.0 - y1[0])) * inv_t * aux[1])


cdef inline void relaxed_categorical_rebar_draw(bitgen_t *bg, const double *c, Py_ssize_t E,
                                                double *f0, double *f1, double *g0, double *g1,
                                                double *aux) noexcept nogil:
    # z = log p + Gumbel, b = argmax z; z~ | b by Gumbels conditioned on the
    # argmax: z~_b = -log e_b, z~_i = -log(e_i / p_i + e_b), e = -log v.
    cdef const double *lp = c + RELAXED_CATEGORICAL_LOG_PROBS(E)
    cdef const double *p = c + RELAXED_CATEGORICAL_PROBS(E)
    cdef double inv_t = c[RELAXED_CATEGORICAL_INV_TEMPERATURE], eb
    cdef double *e = aux + 2
    cdef Py_ssize_t k, b = 0
    for k in range(E):
        g0[k] = lp[k] - log(-log(_open_uniform(bg)))       # z, for now
        if g0[k] > g0[b]:
            b = k
    for k in range(E):
        e[k] = -log(_open_uniform(bg))
    eb = e[b]
    for k in range(E):
        g1[k] = -log(e[k] / p[k] + eb) if k != b else -log(eb)   # z~, for now
        f0[k] = 1.0 if k == b else 0.0
    _softmax_scaled(g0, inv_t, E, g0)
    _softmax_scaled(g1, inv_t, E, g1)
    for k in range(E):
        f1[k] = g1[k]
    aux[0] = <double>b
    aux[1] = eb


cdef inline void relaxed_categorical_rebar_terms(const double *c, Py_ssize_t E, double F0,
                                                 double F1, const double *G0, const double *G1,
                                                 const double *y0, const double *y1,
                                                 const double *aux, double *A,
                                                 double *C) noexcept nogil:
    # through z: dy_i/dlogits_k = y_i ([i = k] - y_k) / t; through z~ (b fixed):
    # dz~_i/dlogits_k = e_i ([i = k] - p_k) / (e_i + p_i e_b) for i != b, 0 for b.
    cdef const double *p = c + RELAXED_CATEGORICAL_PROBS(E)
    cdef const double *scale = c + RELAXED_CATEGORICAL_PARAM_SCALE(E)
    cdef const double *e = aux + 2
    cdef double inv_t = c[RELAXED_CATEGORICAL_INV_TEMPERATURE], eb = aux[1]
    cdef double dot0 = 0.0, dot1 = 0.0, rsum = 0.0, r, s
    cdef Py_ssize_t k, b = <Py_ssize_t>aux[0]
    for k in range(E):
        dot0 = dot0 + G0[k] * y0[k]
        dot1 = dot1 + G1[k] * y1[k]
    for k in range(E):
        if k != b:
            rsum = rsum + y1[k] * (G1[k] - dot1) * inv_t * e[k] / (e[k] + p[k] * eb)
    for k in range(E):
        r = y1[k] * (G1[k] - dot1) * inv_t * e[k] / (e[k] + p[k] * eb) if k != b else 0.0
        s = (1.0 if k == b else 0.0) - p[k]
        A[k] = scale[k] * (F0 * s)
        C[k] = scale[k] * ((-F1 * s + y0[k] * (G0[k] - dot0) * inv_t) - (r - p[k] * rsum))


# -- concentrations below 1: log x kept where x underflows ------------------------
# Below shape 1 numpy draws a standard gamma as pow(B, 1 / a) for a base B in
# (0, 1] (its small-shape branch).  For small a that underflows to 0 for most
# B (half of Gamma(1e-3)'s draws), while log x = log(B) / a is an ordinary
# number, so the score, linear in log x, is finite.  The *_log families draw
# numpy's very samples and hand them to f (f_input "draw"); their block holds
# the sample where it is a normal double, so that the score rounds as the
# plain family's, and log x (Beta: the log-odds log x - log(1 - x)) where it
# is not: a value outside [DBL_MIN, 1), which no such sample takes.

cdef inline double _small_gamma(bitgen_t *bg, double a, double *lg) noexcept nogil:
    """numpy's random_standard_gamma(a) for 0 < a < 1, word for word; lg = log of the
    draw, from the base of the power."""
    cdef double U, V, X, Y, base
    while True:
        U = _uniform(bg)
        V = fs_standard_exponential(_st(bg))
        if U <= 1.0 - a:
            base = U
            X = pow(U, 1. / a)
            if X <= V:
                break
        else:
            Y = -log((1 - U) / a)
            base = 1.0 - a + a * Y
            X = pow(base, 1. / a)
            if X <= V + Y:
                break
    lg[0] = log(base) / a
    return X


cdef inline double _std_gamma_log(bitgen_t *bg, double a, double *lg) noexcept nogil:
    """numpy's random_standard_gamma(a) and the log of the draw."""
    cdef double X
    if a < 1.0:
        return _small_gamma(bg, a, lg)
    X = fs_standard_gamma(_st(bg), a)
    lg[0] = log(X)
    return X


cdef inline double _log_sum_exp(const double *lg, Py_ssize_t E) noexcept nogil:
    cdef Py_ssize_t k
    cdef double top = -INFINITY, acc = 0.0
    for k in range(E):
        if lg[k] > top:
            top = lg[k]
    for k in range(E):
        acc = acc + exp(lg[k] - top)
    return top + log(acc)


cdef inline void _dirichlet_event(bitgen_t *bg, const double *alpha, Py_ssize_t E, double *x,
                                  double *v, const fs_gamma_t *g=NULL) noexcept nogil:
    # x_k = g_k / sum(g), the K gammas drawn and summed in order.  Where a g_k
    # underflows (below DBL_MIN: small concentrations) that quotient loses
    # it, and all of x (6e-6 of it, seen) can be in the lost coordinates, so
    # that event is normalised in log space instead: x_k = exp(log g_k - lse),
    # lse = log sum(g), from the logs of the same draws.  Meanwhile x[k] holds
    # g_k, or log g_k (< -708) where g_k underflowed.  v (NULL: not wanted)
    # gets dirichlet_log's block: x_k where it is a normal double, else log x_k.
    cdef Py_ssize_t k
    cdef double tot, lg, lse
    cdef bint tiny = False
    for k in range(E):
        if alpha[k] < 1.0:
            x[k] = _small_gamma(bg, alpha[k], &lg)
        else:
            x[k] = (fs_standard_gamma_draw(_st(bg), &g[k]) if g != NULL
                    else fs_standard_gamma(_st(bg), alpha[k]))
            lg = log(x[k]) if x[k] < DBL_MIN else 0.0
        if x[k] < DBL_MIN:
            x[k] = lg
            tiny = True
        if v != NULL:   # (log g_k itself where it did not underflow: the same as below)
            v[k] = lg if x[k] < 0.0 else log(x[k])
    if not tiny:
        tot = x[0]
        for k in range(1, E):
            tot = tot + x[k]
        for k in range(E):
            x[k] = x[k] / tot
            if v != NULL:
                v[k] = x[k] if x[k] >= DBL_MIN else v[k] - log(tot)
        return
    if v == NULL:   # the logs of the gammas that did not underflow
        v = x
        for k in range(E):
            if x[k] > 0.0:
                x[k] = log(x[k])
    lse = _log_sum_exp(v, E)
    for k in range(E):
        lg = v[k] - lse
        x[k] = exp(lg)
        if v != x:
            v[k] = x[k] if x[k] >= DBL_MIN else lg


cdef inline double gamma_log_draw(bitgen_t *bg, const double *c, Py_ssize_t nc, DrawState *ds,
                                  double *fx) noexcept nogil:
    # numpy's random_gamma: scale * random_standard_gamma(a)
    cdef double lg, a = c[GAMMA_LOG_CONCENTRATION]
    cdef double x = c[GAMMA_LOG_SCALE] * (_small_gamma(bg, a, &lg) if a < 1.0
                                          else fs_standard_gamma(_st(bg), a))
    fx[0] = x
    if x >= DBL_MIN:
        return x
    return (lg if a < 1.0 else log(x / c[GAMMA_LOG_SCALE])) + log(c[GAMMA_LOG_SCALE])


cdef inline void gamma_log_score(const double *c, double v, double *s) noexcept nogil:
    if v >= 0.0:   # the sample
        s[0] = log(v) + c[GAMMA_LOG_LOG_RATE_MINUS_DIGAMMA]
        s[1] = c[GAMMA_LOG_MEAN] - v
    else:          # log x, x below DBL_MIN
        s[0] = v + c[GAMMA_LOG_LOG_RATE_MINUS_DIGAMMA]
        s[1] = c[GAMMA_LOG_MEAN] - exp(v)


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
    s[0] = 0.5 * ((log(v) if v >= 0.0 else v) - c[CHI2_LOG_LOG2_PLUS_DIGAMMA_HALF_DF])


cdef inline double beta_log_draw(bitgen_t *bg, const double *c, Py_ssize_t nc, DrawState *ds,
                                 double *fx) noexcept nogil:
    # numpy's random_beta (distributions.c), word for word
    cdef double a = c[BETA_LOG_CONCENTRATION1], b = c[BETA_LOG_CONCENTRATION0]
    cdef double U, V, X, Y, XpY, x, delta, lga, lgb
    if a <= 1.0 and b <= 1.0:
        if a < BETA_TINY_THRESHOLD and b < BETA_TINY_THRESHOLD:
            # numpy: a Bernoulli(a / (a + b)) draw of 0 or 1
            U = _uniform(bg)
            x = 1.0 if (a + b) * U < a else 0.0
            fx[0] = x
            return INFINITY if x == 1.0 else -INFINITY
        while True:   # Johnk's algorithm
            U = _uniform(bg)
            V = _uniform(bg)
            X = pow(U, 1.0 / a)
            Y = pow(V, 1.0 / b)
            XpY = X + Y
            if XpY <= 1.0 and U + V > 0.0:
                break
        delta = log(U) / a - log(V) / b
        if X > 0 and Y > 0:
            x = X / XpY
        elif delta > 0:
            x = exp(-log1p(exp(-delta)))
        else:
            x = exp(delta - log1p(exp(delta)))
    else:
        X = _std_gamma_log(bg, a, &lga)
        Y = _std_gamma_log(bg, b, &lgb)
        x = X / (X + Y)
        delta = lga - lgb
    fx[0] = x
    if x >= DBL_MIN and x < 1.0:
        return x
    return delta   # below -708 or above 36 here


cdef inline double _softplus(double z) noexcept nogil:
    """log(1 + exp(z)) without overflow."""
    return (z if z > 0.0 else 0.0) + log1p(exp(-fabs(z)))


cdef inline void beta_log_score(const double *c, double v, double *s) noexcept nogil:
    if v >= 0.0 and v < 1.0:   # the sample
        s[0] = log(v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA1]
        s[1] = log1p(-v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA0]
    else:                      # log-odds d: log x = -softplus(-d), log(1 - x) = -softplus(d)
        s[0] = -_softplus(-v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA1]
        s[1] = -_softplus(v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA0]


cdef inline void dirichlet_log_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E, double *v,
                                          double *x) noexcept nogil:
    _dirichlet_event(bg, c + DIRICHLET_LOG_CONCENTRATION, E, x, v)


cdef inline void dirichlet_log_score_event(const double *c, Py_ssize_t E, const double *v,
                                           double *s, double *work) noexcept nogil:
    cdef const double *dig = c + DIRICHLET_LOG_DIGAMMA_SUM_MINUS_DIGAMMA(E)
    cdef Py_ssize_t k
    for k in range(E):
        s[k] = (log(v[k]) if v[k] >= 0.0 else v[k]) + dig[k]
