# Beta's kernel functions, kernel families beta, and beta_log for
# concentrations below 1.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="beta"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline double beta_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                             DrawState *ds) noexcept nogil:
    return fs_beta(_st(bg), c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0])


cdef inline void beta_score(const double *c, double x, double *s) noexcept nogil:
    s[0] = log(x) + c[BETA_DIGAMMA_SUM_MINUS_DIGAMMA1]
    s[1] = log1p(-x) + c[BETA_DIGAMMA_SUM_MINUS_DIGAMMA0]


cdef inline void beta_fill(bitgen_t *bg, const double *c, Py_ssize_t nc, double *out,
                           Py_ssize_t m) noexcept nogil:
    cdef fs_beta_t p
    fs_beta_setup(&p, c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0])
    fs_fill_beta(_st(bg), &p, out, m)


cdef inline void beta_pathwise(const double *c, double x, double fp, double *g) noexcept nogil:
    cdef double da, db
    fs_beta_dx_dab(c[BETA_CONCENTRATION1], c[BETA_CONCENTRATION0], x, &da, &db)
    g[0] = fp * da
    g[1] = fp * db


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


cdef inline void beta_log_score(const double *c, double v, double *s) noexcept nogil:
    if v >= 0.0 and v < 1.0:   # the sample
        s[0] = log(v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA1]
        s[1] = log1p(-v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA0]
    else:                      # log-odds d: log x = -softplus(-d), log(1 - x) = -softplus(d)
        s[0] = -_softplus(-v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA1]
        s[1] = -_softplus(v) + c[BETA_LOG_DIGAMMA_SUM_MINUS_DIGAMMA0]
