# Dirichlet's kernel functions, kernel families dirichlet (a vector family),
# and dirichlet_log for small concentrations.
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="dirichlet"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline void dirichlet_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E,
                                      double *x) noexcept nogil:
    _dirichlet_event(bg, c + DIRICHLET_CONCENTRATION, E, x, NULL)


DEF DIRICHLET_SETUPS = 64   # gamma set-ups kept per block (K above: set up per draw)

cdef inline void dirichlet_fill_events(const fs_engine *eng, bitgen_t *bg, const double *c,
                                       Py_ssize_t E, double *x,
                                       Py_ssize_t stride, Py_ssize_t m) noexcept nogil:
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
                                       const double *x,
                                       Py_ssize_t xs, Py_ssize_t m, double *terms,
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


cdef inline void dirichlet_log_draw_event(bitgen_t *bg, const double *c, Py_ssize_t E, double *v,
                                          double *x) noexcept nogil:
    _dirichlet_event(bg, c + DIRICHLET_LOG_CONCENTRATION, E, x, v)


cdef inline void dirichlet_log_score_event(const double *c, Py_ssize_t E, const double *v,
                                           double *s, double *work) noexcept nogil:
    cdef const double *dig = c + DIRICHLET_LOG_DIGAMMA_SUM_MINUS_DIGAMMA(E)
    cdef Py_ssize_t k
    for k in range(E):
        s[k] = (log(v[k]) if v[k] >= 0.0 else v[k]) + dig[k]
