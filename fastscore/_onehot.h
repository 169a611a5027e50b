/*
 * The score-function finish of a one-hot family (Categorical), straight from
 * one batch element's support counts: the row of moment sums is never
 * written.  Rows go eight at a time, a vector lane each (fs_onehot_finish_group),
 * or one at a time with a vector loop over the K categories; both are
 * compiled for SSE2, AVX2 and AVX-512F and chosen by the caller's `isa` (an
 * fs_engine's reduce_isa, _isa.h).
 *
 * Every component is computed with the operations, in the order, of
 * _onehot_row followed by _finish_row in _finish.pyx (the general path, and
 * the NumPy twins of fastscore._kinds): the sums s_k(v) = [v = k] a_k - b_k in
 * closed form in the counts, then the method's gradient and standard error.
 * A vector lane does one row's or one component's scalar arithmetic, so
 * every width gives the bits of the general path (compiled with
 * -ffp-contract=off: no fused multiply-adds).  A batched policy gradient
 * (many rows, few samples each) spends most of its finish here.
 */
#ifndef FASTSCORE_ONEHOT_H
#define FASTSCORE_ONEHOT_H

#include <math.h>
#include <stdint.h>

#include "_isa.h"
#include "_reduce.h"

/* The score-function methods' codes FS_M_PLAIN, FS_M_BASELINE, FS_M_RLOO and
 * FS_M_CV come from fastscore._specs.SCORE_METHODS (_layout.h).  cv is
 * cross-fitted from counts kept per fold (fastscore._kinds.ScoreCV,
 * finish_folds in _finish.pyx), never finished here. */

/* The per-row numbers every component needs. */
typedef struct {
    double n, shift, sd, sdd, md, inv_n, inv_n1, scale2, rl_a, rl_b, base;
    int method;
} fs_onehot_row;

/* sd(g) / sqrt(n) from the mean of squares ez2: sqrt of the variance, 0 for
 * a variance <= 0, the quiet NaN for a NaN one (_stderr in _finish.pyx),
 * without branches (selects; no errno: -fno-math-errno). */
static inline double fs__stderr(double ez2, double g, double inv_n1)
{
    double v = (ez2 - g * g) * inv_n1;
    double r = sqrt(v > 0.0 ? v : 0.0);
    return v == v ? r : NAN;
}

/* sqrt of the variance estimate v, 0 where it is negative, the quiet NaN for
 * a NaN one (_stderr_var in _finish.pyx), without branches. */
static inline double fs__stderr_var(double v)
{
    double r = sqrt(v > 0.0 ? v : 0.0);
    return v == v ? r : NAN;
}

/* v, or the one quiet NaN where v is NaN (_canon in _finish.pyx): a NaN's
 * sign and payload follow operand order, which compilers and vector paths
 * do not keep, so every path gives the same bits. */
static inline double fs__canon(double v)
{
    return v == v ? v : NAN;
}

/* v where mask is all ones, +0.0 where it is 0 (fs_keep with the mask made
 * once per component: a select the compiler vectorises, where a comparison
 * of doubles in the loop would keep it scalar under -ftrapping-math). */
static inline double fs__mask(uint64_t mask, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= mask;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* One component of a row from its count c, its drawn mask, f and a there
 * (both taken as 0 where undrawn), b, and the row's numbers (n, the shift,
 * the sums of d and d^2 over the row, the mean of d, 1 / n, 1 / (n - 1),
 * rloo's scale and the baseline): the five sums of s_k(v) = [v = k] a - b in
 * closed form, then the method's gradient (*g) and standard error (*se).
 * Returns 1 when one of the five sums or the variance estimate is not finite
 * (0 * x is 0 for every finite x, NaN for the others): a non-finite f value,
 * or a finish that overflowed on finite sums (|f| above ~1e154); the caller
 * then finishes the row again from its sums by the general path
 * (_onehot_redo in _finish.pyx), which gives its bits in both cases (NaN
 * standard errors, or a rescaled finish).  Where the sums are finite, the
 * variance estimate is finite exactly where _score_comp in _finish.pyx finds
 * no overflow (n >= 2: 1 / (n - 1) is finite).  Inlined with a constant method into the loops over
 * components (a row) and over lanes (a group), where it is vectorised. */
FS__ALWAYS_INLINE int64_t fs__onehot_component(
    double ck, uint64_t drawn, double fvk, double a, double bk, double n, double shift,
    double sd, double sdd, double md, double inv_n, double inv_n1, double scale2, double rl_a,
    double rl_b, double base, const int method, double *g, double *se)
{
    double bk2 = bk * bk;
    double ak = fs__mask(drawn, a), d = fs__mask(drawn, fvk - shift);
    double cd = ck * d, cdd = cd * d, amb2 = (ak - bk) * (ak - bk);
    double Ss = ck * ak - n * bk;
    double Sss = ck * amb2 + (n - ck) * bk2;
    double Sds = cd * ak - bk * sd;
    double Sdss = cd * amb2 + bk2 * (sd - cd);
    double Sddss = cdd * amb2 + bk2 * (sdd - cdd);
    double zero = (((0.0 * Ss + 0.0 * Sss) + 0.0 * Sds) + 0.0 * Sdss) + 0.0 * Sddss;
    double gj, ez2, cc, v;
    if (method == FS_M_RLOO) {
        gj = (Sds - md * Ss) * inv_n1;
        ez2 = scale2 * (Sddss - 2.0 * md * Sdss + md * md * Sss);
    } else {
        cc = method == FS_M_PLAIN ? shift : shift - base;
        gj = (Sds + cc * Ss) * inv_n;
        ez2 = (Sddss + 2.0 * cc * Sdss + cc * cc * Sss) * inv_n;
    }
    *g = fs__canon(gj);
    /* the variance estimate of fs__stderr_var / fs__stderr, kept to be checked */
    if (method == FS_M_RLOO)
        v = rl_a * ez2 - rl_b * (gj * gj);
    else
        v = (ez2 - gj * gj) * inv_n1;
    *se = fs__stderr_var(v);
    zero = zero + 0.0 * v;
    return zero != zero;
}

/* Components k < m of one row, counts as doubles in c: gradient g[k] and
 * standard error se[k]; returns the flags of fs__onehot_component or'ed
 * (an integer flag, as a floating-point one would keep the loop
 * from being vectorised).  Inlined with constant method and ones (a_k = 1),
 * so that each case is a loop without branches. */
FS__ALWAYS_INLINE int64_t fs__onehot_loop(
    const fs_onehot_row *r, const double *c, const uint64_t *drawn, const double *fv,
    const double *a, const double *bc, ptrdiff_t m, double *g, double *se, const int method,
    const int ones)
{
    const double n = r->n, shift = r->shift, sd = r->sd, sdd = r->sdd, md = r->md;
    const double inv_n = r->inv_n, inv_n1 = r->inv_n1, scale2 = r->scale2, base = r->base;
    const double rl_a = r->rl_a, rl_b = r->rl_b;
    int64_t bad = 0;
    ptrdiff_t k;
    for (k = 0; k < m; k++) {
        bad |= fs__onehot_component(c[k], drawn[k], fv[k], ones ? 1.0 : a[k], bc[k], n, shift,
                                    sd, sdd, md, inv_n, inv_n1, scale2, rl_a, rl_b, base,
                                    method, g + k, se + k);
    }
    return bad;
}

/* Components [0, V) of one row (a NULL: a_k = 1), 64 at a time: the counts
 * become doubles first (no vector conversion of int64 before AVX-512DQ). */
#define FS__ONEHOT_CHUNK 64
#define FS__ONEHOT_CASE(METHOD, ONES)                                               \
    case 2 * (METHOD) + (ONES):                                                     \
        bad |= fs__onehot_loop(r, c, drawn, fv + k0, ak, bc + k0, m, g + k0, se + k0, \
                               METHOD, ONES);                                       \
        break;
#define FS__ONEHOT(SUFFIX, ATTR)                                                    \
ATTR static int64_t fs__onehot_components_##SUFFIX(                                 \
    const fs_onehot_row *r, const int64_t *cnt, const double *fv, const double *a,  \
    const double *bc, ptrdiff_t V, double *g, double *se)                           \
{                                                                                   \
    double c[FS__ONEHOT_CHUNK];                                                     \
    uint64_t drawn[FS__ONEHOT_CHUNK];                                               \
    int64_t bad = 0;                                                                \
    const double *ak;                                                               \
    ptrdiff_t k0, k, m;                                                             \
    for (k0 = 0; k0 < V; k0 += m) {                                                 \
        m = V - k0 < FS__ONEHOT_CHUNK ? V - k0 : FS__ONEHOT_CHUNK;                  \
        for (k = 0; k < m; k++) {                                                   \
            c[k] = (double)cnt[k0 + k];                                             \
            drawn[k] = (uint64_t)0 - (uint64_t)(cnt[k0 + k] > 0);                   \
        }                                                                           \
        ak = a != NULL ? a + k0 : NULL;                                             \
        switch (r->method * 2 + (a == NULL)) {                                      \
        FS__ONEHOT_CASE(FS_M_PLAIN, 1)                                              \
        FS__ONEHOT_CASE(FS_M_PLAIN, 0)                                              \
        FS__ONEHOT_CASE(FS_M_BASELINE, 1)                                           \
        FS__ONEHOT_CASE(FS_M_BASELINE, 0)                                           \
        FS__ONEHOT_CASE(FS_M_RLOO, 1)                                               \
        FS__ONEHOT_CASE(FS_M_RLOO, 0)                                               \
        }                                                                           \
    }                                                                               \
    return bad;                                                                     \
}

FS__FOR_EACH_ISA(FS__ONEHOT)

static inline int64_t fs__onehot_components(int isa, const fs_onehot_row *r,
                                            const int64_t *cnt, const double *fv,
                                            const double *a, const double *bc, ptrdiff_t V,
                                            double *g, double *se)
{
    FS__DISPATCH_RETURN(isa, fs__onehot_components, (r, cnt, fv, a, bc, V, g, se));
}

/* One batch element: value, its standard error, and the V components'
 * gradients and standard errors, from the counts cnt of each support value,
 * f there (fv), and the one-hot coefficients a (NULL: all 1) and b.
 * Support values never drawn contribute nothing, even where f or a is
 * infinite there (selected, not branched on: with a few samples per row,
 * whether a value was drawn is a coin toss).  Returns 1 when a sum or a
 * variance estimate is not finite: the caller finishes the row again from
 * its sums (_onehot_redo in _finish.pyx: NaN standard errors, or a rescaled
 * finish), else 0. */
static inline int fs_onehot_finish_row(int isa, const int64_t *cnt, const double *fv,
                                        const double *a, const double *bc, ptrdiff_t V,
                                        int method,
                                        double base, double *value, double *value_se,
                                        double *g, double *se)
{
    fs_onehot_row r;
    double n = 0.0, shift = 0.0, sd = 0.0, sdd = 0.0, c, d, zero;
    int64_t bad;
    ptrdiff_t k;
    for (k = 0; k < V; k++) {
        c = (double)cnt[k];
        n = n + c;
        shift = shift + c * fs_keep(cnt[k] > 0, fv[k]);
    }
    shift = shift / n;
    for (k = 0; k < V; k++) {
        c = (double)cnt[k];
        d = fs_keep(cnt[k] > 0, fv[k] - shift);
        sd = sd + c * d;
        sdd = sdd + c * d * d;
    }
    r.n = n;
    r.shift = shift;
    r.sd = sd;
    r.sdd = sdd;
    r.inv_n = 1.0 / n;
    r.inv_n1 = 1.0 / (n - 1.0);
    r.md = sd * r.inv_n;
    /* rloo's per-sample terms are n / (n - 1) (d - md) s; mean of their squares: */
    r.scale2 = n * r.inv_n1 * n * r.inv_n1 * r.inv_n;
    /* rloo's unbiased variance: ((n - 1) ez2 - (n - 2) g^2) / (n^2 - 2n + 2) */
    r.rl_a = (n - 1.0) / ((n - 2.0) * n + 2.0);
    r.rl_b = (n - 2.0) / ((n - 2.0) * n + 2.0);
    r.base = base;
    r.method = method;
    bad = fs__onehot_components(isa, &r, cnt, fv, a, bc, V, g, se);
    zero = ((0.0 * n + 0.0 * shift) + 0.0 * sd) + 0.0 * sdd;
    bad |= zero != zero;
    value[0] = fs__canon(shift + r.md);
    value_se[0] = fs__stderr(sdd * r.inv_n, r.md, r.inv_n1);
    return bad != 0;
}


/* Eight rows at once: a vector lane per row (rows are independent, so the
 * head's sums over k are lane-wise adds rather than one serial chain per
 * row, and one instruction serves eight rows).  Each lane does, in the same
 * order, the scalar arithmetic of fs_onehot_finish_row, so the bits are
 * those of the row path at every vector width.  The group's inputs are
 * transposed into [k][lane] blocks first and its outputs transposed back.
 * For V <= FS__GROUP_MAX_V; wider rows take the row path. */
#define FS__GROUP 8
#define FS__GROUP_MAX_V 32

/* (double)c for 0 <= c < 2^52, by integer operations the compiler
 * vectorises on every ISA (no vector int64 conversion before AVX-512DQ):
 * the bits of 2^52 + c as a double, minus 2^52, are exact. */
static inline double fs__small_count(int64_t c)
{
    uint64_t bits = (uint64_t)c | UINT64_C(0x4330000000000000);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v - 4503599627370496.0;
}

FS__ALWAYS_INLINE int fs__onehot_group(
    const int64_t *cnt, const double *fv, const double *a, const double *bc, ptrdiff_t V,
    const int method, const double *base, double *value, double *value_se, double *g,
    double *se, const int ones)
{
    double C[FS__GROUP_MAX_V][FS__GROUP], F[FS__GROUP_MAX_V][FS__GROUP];
    double A[FS__GROUP_MAX_V][FS__GROUP], Bc[FS__GROUP_MAX_V][FS__GROUP];
    uint64_t M[FS__GROUP_MAX_V][FS__GROUP];
    double G[FS__GROUP_MAX_V][FS__GROUP], S[FS__GROUP_MAX_V][FS__GROUP];
    double n[FS__GROUP], shift[FS__GROUP], sd[FS__GROUP], sdd[FS__GROUP], md[FS__GROUP];
    double inv_n[FS__GROUP], inv_n1[FS__GROUP], scale2[FS__GROUP], bs[FS__GROUP];
    double rl_a[FS__GROUP], rl_b[FS__GROUP];
    int64_t bad[FS__GROUP];
    ptrdiff_t k;
    int l, redo = 0;
    for (l = 0; l < FS__GROUP; l++) {
        for (k = 0; k < V; k++) {
            int64_t ci = cnt[l * V + k];
            C[k][l] = fs__small_count(ci);
            M[k][l] = (uint64_t)0 - (uint64_t)(ci > 0);
            F[k][l] = fv[l * V + k];
            Bc[k][l] = bc[l * V + k];
            A[k][l] = ones ? 1.0 : a[l * V + k];
        }
        bs[l] = base[l];
    }
    for (l = 0; l < FS__GROUP; l++) {
        n[l] = 0.0;
        shift[l] = 0.0;
        sd[l] = 0.0;
        sdd[l] = 0.0;
        bad[l] = 0;
    }
    for (k = 0; k < V; k++)
        FS__LANE_LOOP for (l = 0; l < FS__GROUP; l++) {
            n[l] = n[l] + C[k][l];
            shift[l] = shift[l] + C[k][l] * fs__mask(M[k][l], F[k][l]);
        }
    for (l = 0; l < FS__GROUP; l++)
        shift[l] = shift[l] / n[l];
    for (k = 0; k < V; k++)
        FS__LANE_LOOP for (l = 0; l < FS__GROUP; l++) {
            double d = fs__mask(M[k][l], F[k][l] - shift[l]);
            sd[l] = sd[l] + C[k][l] * d;
            sdd[l] = sdd[l] + C[k][l] * d * d;
        }
    for (l = 0; l < FS__GROUP; l++) {
        inv_n[l] = 1.0 / n[l];
        inv_n1[l] = 1.0 / (n[l] - 1.0);
        md[l] = sd[l] * inv_n[l];
        scale2[l] = n[l] * inv_n1[l] * n[l] * inv_n1[l] * inv_n[l];
        rl_a[l] = (n[l] - 1.0) / ((n[l] - 2.0) * n[l] + 2.0);
        rl_b[l] = (n[l] - 2.0) / ((n[l] - 2.0) * n[l] + 2.0);
    }
    for (k = 0; k < V; k++)
        FS__LANE_LOOP for (l = 0; l < FS__GROUP; l++) {
            bad[l] |= fs__onehot_component(C[k][l], M[k][l], F[k][l], A[k][l], Bc[k][l], n[l],
                                           shift[l], sd[l], sdd[l], md[l], inv_n[l],
                                           inv_n1[l], scale2[l], rl_a[l], rl_b[l], bs[l],
                                           method, &G[k][l],
                                           &S[k][l]);
        }
    for (l = 0; l < FS__GROUP; l++) {
        double zero = ((0.0 * n[l] + 0.0 * shift[l]) + 0.0 * sd[l]) + 0.0 * sdd[l];
        bad[l] |= zero != zero;
        value[l] = fs__canon(shift[l] + md[l]);
        value_se[l] = fs__stderr(sdd[l] * inv_n[l], md[l], inv_n1[l]);
        for (k = 0; k < V; k++) {
            g[l * V + k] = G[k][l];
            se[l * V + k] = S[k][l];
        }
        redo |= (bad[l] != 0) << l;
    }
    return redo;
}

/* Each case inlined with constant method and ones; 8 categories (a common
 * action count) also with a constant V, which lets the compiler unroll the
 * loops over k and keep the blocks in registers (35 -> 26 ns a row). */
#define FS__GROUP_CASE(METHOD, ONES)                                                \
    case 2 * (METHOD) + (ONES):                                                     \
        if (V == 8)                                                                 \
            return fs__onehot_group(cnt, fv, a, bc, 8, METHOD, base, value, value_se, g, se, \
                                    ONES);                                          \
        return fs__onehot_group(cnt, fv, a, bc, V, METHOD, base, value, value_se, g, se, ONES);
#define FS__GROUP_FN(SUFFIX, ATTR)                                                  \
ATTR static int fs__onehot_group_##SUFFIX(                                          \
    const int64_t *cnt, const double *fv, const double *a, const double *bc,        \
    ptrdiff_t V, int method, const double *base, double *value, double *value_se,   \
    double *g, double *se)                                                          \
{                                                                                   \
    switch (method * 2 + (a == NULL)) {                                             \
    FS__GROUP_CASE(FS_M_PLAIN, 1)                                                   \
    FS__GROUP_CASE(FS_M_PLAIN, 0)                                                   \
    FS__GROUP_CASE(FS_M_BASELINE, 1)                                                \
    FS__GROUP_CASE(FS_M_BASELINE, 0)                                                \
    FS__GROUP_CASE(FS_M_RLOO, 1)                                                    \
    FS__GROUP_CASE(FS_M_RLOO, 0)                                                    \
    }                                                                               \
    return 0;                                                                       \
}

FS__FOR_EACH_ISA(FS__GROUP_FN)

static inline int fs__onehot_group_isa(int isa, const int64_t *cnt, const double *fv,
                                       const double *a, const double *bc, ptrdiff_t V,
                                       int method, const double *base, double *value,
                                       double *value_se, double *g, double *se)
{
    FS__DISPATCH_RETURN(isa, fs__onehot_group,
                        (cnt, fv, a, bc, V, method, base, value, value_se, g, se));
}

/* Rows [0, rows) of a batch (rows <= FS__GROUP): base[r] is row r's baseline.
 * A full group of small counts takes the lane-per-row path, anything else
 * (a partial group, V > FS__GROUP_MAX_V, a count of 2^52 or more) the row
 * path; both give the same bits.  Returns a mask of the rows (bit r: row r)
 * whose sums or finish are not all finite, for the caller to finish again
 * from their sums by the general path.  isa: an fs_engine's reduce_isa. */
static inline int fs_onehot_finish_group(int isa, const int64_t *cnt, const double *fv,
                                         const double *a, const double *bc, ptrdiff_t rows,
                                         ptrdiff_t V, int method, const double *base,
                                         double *value, double *value_se, double *g,
                                         double *se)
{
    uint64_t high = 0;
    ptrdiff_t i;
    int redo = 0;
    if (rows == FS__GROUP && V <= FS__GROUP_MAX_V) {
        for (i = 0; i < FS__GROUP * V; i++)
            high |= (uint64_t)cnt[i];
        if (high < (UINT64_C(1) << 52))
            return fs__onehot_group_isa(isa, cnt, fv, a, bc, V, method, base, value, value_se, g, se);
    }
    for (i = 0; i < rows; i++)
        redo |= fs_onehot_finish_row(isa, cnt + i * V, fv + i * V, a != NULL ? a + i * V : NULL,
                                     bc + i * V, V, method, base[i], value + i, value_se + i,
                                     g + i * V, se + i * V) << i;
    return redo;
}

#endif
