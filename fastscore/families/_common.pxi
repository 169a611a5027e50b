# The kernel functions' conventions and the helpers that several families
# share (included by _kernels.pyx before the families' units, one file per
# distribution: families/<unit>.pxi).  Each family's constants are named in
# fastscore/_specs.py; the generated enums (NORMAL_LOC, ...) and, for the
# offsets past an event-sized constant, functions of the event size E
# (MVN_SCALE_TRIL(E), ...) index the row c of one batch element.
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
# The formulas are the NumPy twins' in the units' .py files, operation for
# operation, so the two backends round alike.
#
# <f>_fill(bg, c, nc, out, m): m draws of <f>_draw into out[0..m) at once, by
# the block samplers of _samplers.h (speculative on the buffered words, the
# set-up once per block); the same draws as m calls of <f>_draw.
#
# Pathwise slots, the terms f'(x) dx/dtheta_j from the sample x: location-scale
# families differentiate x = g(eps; theta) in closed form; the others by
# implicit reparameterisation, dx/dtheta = -(dF/dtheta)(x) / p(x) (_implicit.h),
# which holds whatever sampler drew x.
#
# Measure-valued slots, the sample and the coupled points: pts[0] is the sample
# (for E[f]); for each gradient component j, pts[1 + 2j] is drawn from the
# positive part p+ and pts[2 + 2j] from the negative part p- of the weak
# derivative dp/dtheta_j = c_j (p+ - p-) (Mohamed, Rosca, Figurnov, Mnih 2020,
# table 1), coupled through common random numbers.  The constants c_j are
# applied by the finish.  Draws go sample by sample, in the order written,
# which the NumPy twins (the units' .py files) repeat.
#
# A family with a fused fold (score_fold, pathwise_fold) writes its score or
# pathwise terms once, as an expression macro in families/<unit>.h: the fold
# of _foldsteps.h is instantiated from it, and so is the scalar C function
# that <f>_score / <f>_pathwise call, so both round alike.

cdef struct DrawState:
    binomial_t binomial    # numpy's per-(n, p) set-up of the binomial sampler


cdef inline fs_stream *_st(bitgen_t *bg) noexcept nogil:
    """The stream behind bg: the inline samplers (_samplers.h) draw from it
    directly; numpy's C samplers (binomial, von Mises) through bg."""
    return <fs_stream *>bg.state


cdef inline double _uniform(bitgen_t *bg) noexcept nogil:
    return fs_next_double(_st(bg))


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


# Concentrations below 1: log x kept where x underflows.
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


cdef inline double _softplus(double z) noexcept nogil:
    """log(1 + exp(z)) without overflow."""
    return (z if z > 0.0 else 0.0) + log1p(exp(-fabs(z)))
