# RelaxedOneHotCategorical's kernel functions, kernel families
# relaxed_categorical and relaxed_categorical_st (straight-through).
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="relaxed_categorical"); the slots'
# signatures and the shared helpers are in _common.pxi.

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


# REBAR: the draws and terms of relaxed_bernoulli.pxi's, over a one-hot event.
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
