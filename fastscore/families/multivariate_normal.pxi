# MultivariateNormal's kernel functions, kernel families mvn (a vector family).
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="multivariate_normal"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef extern from "families/multivariate_normal.h" nogil:
    # the fused loops of small events, when the engine has them on (returns 1)
    bint fs_mvn_transform_small(const fs_engine *eng, const double *loc, const double *L,
                                double *x, Py_ssize_t m, Py_ssize_t E)
    bint fs_mvn_pathwise_small(const fs_engine *eng, const double *loc, const double *L,
                               const double *inv, const double *x, Py_ssize_t xs,
                               const double *gp, Py_ssize_t gs, Py_ssize_t m, double *terms,
                               Py_ssize_t ld, Py_ssize_t E)
    bint fs_mvn_score_small(const fs_engine *eng, const double *loc, const double *L,
                            const double *inv, const double *x, Py_ssize_t xs, Py_ssize_t m,
                            double *terms, Py_ssize_t ld, Py_ssize_t E)


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


cdef inline void mvn_fill_events(const fs_engine *eng, bitgen_t *bg, const double *c,
                                 Py_ssize_t E, double *x,
                                 Py_ssize_t stride, Py_ssize_t m) noexcept nogil:
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
                                 const double *x,
                                 Py_ssize_t xs, Py_ssize_t m, double *terms,
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
                                    const double *x,
                                    Py_ssize_t xs, const double *gp, Py_ssize_t gs,
                                    Py_ssize_t m, double *terms, Py_ssize_t ts, double *g,
                                    double *w) noexcept nogil:
    # mvn_pathwise_event for m events, component-major (terms[j * ts + i])
    cdef Py_ssize_t i, j, P = E + E * (E + 1) // 2
    if fs_mvn_pathwise_small(eng, c + MVN_LOC, c + MVN_SCALE_TRIL(E), c + MVN_INV_DIAG(E), x, xs,
                             gp, gs, m, terms, ts, E):
        return   # E of 2 to 4: one fused vector loop, the same bits
    for i in range(m):
        mvn_pathwise_event(c, E, x + i * xs, gp + i * gs, g, w)
        for j in range(P):
            terms[j * ts + i] = g[j]
