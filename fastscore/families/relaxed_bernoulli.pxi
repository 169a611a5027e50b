# RelaxedBernoulli's kernel functions, kernel families relaxed_bernoulli and
# relaxed_bernoulli_st (straight-through).
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="relaxed_bernoulli"); the slots'
# signatures and the shared helpers are in _common.pxi.

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


# REBAR (Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein 2017).
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
