/*
 * Elementwise loops over the samples of a block, for the vector families'
 * block slots (MultivariateNormal's draw, score terms and pathwise terms)
 * and the built-in linear f on small events: each is one IEEE operation per
 * element, the same in every vector lane, so the SSE2, AVX2 and AVX-512F
 * builds (chosen by the caller's `isa`, an fs_engine's reduce_isa, _isa.h) give
 * the bits of the scalar loop (-ffp-contract=off: no fused multiply-adds).
 * In-place use (dst also an operand) is allowed in the fs_row_* loops; the
 * fused ones, whose loops are marked omp simd, take distinct input and
 * output, except the draw's transform, which reads each event into locals
 * before it writes the event.
 */
#ifndef FASTSCORE_ROWOPS_H
#define FASTSCORE_ROWOPS_H

#include <stddef.h>

#include "_isa.h"

#define FS__ROWOPS(SUFFIX, ATTR)                                                        \
ATTR static void fs__row_sub_scaled_##SUFFIX(double *dst, const double *x, double a,    \
                                             ptrdiff_t m)                               \
{                                                                                       \
    ptrdiff_t k;                                                                        \
    for (k = 0; k < m; k++)                                                             \
        dst[k] = dst[k] - a * x[k];                                                     \
}                                                                                       \
ATTR static int fs__row_nonfinite_##SUFFIX(const double *x, ptrdiff_t m)               \
{                                                                                       \
    ptrdiff_t k;                                                                        \
    int bad = 0;                                                                        \
    for (k = 0; k < m; k++)                                                             \
        bad |= !(x[k] - x[k] == 0.0);   /* inf - inf and nan - nan are nan */           \
    return bad;                                                                         \
}                                                                                       \
ATTR static void fs__row_scale_##SUFFIX(double *dst, double a, ptrdiff_t m)             \
{                                                                                       \
    ptrdiff_t k;                                                                        \
    for (k = 0; k < m; k++)                                                             \
        dst[k] = dst[k] * a;                                                            \
}                                                                                       \
ATTR static void fs__row_mul_##SUFFIX(double *dst, const double *x, const double *y,    \
                                      ptrdiff_t m)                                      \
{                                                                                       \
    ptrdiff_t k;                                                                        \
    for (k = 0; k < m; k++)                                                             \
        dst[k] = x[k] * y[k];                                                           \
}                                                                                       \
ATTR static void fs__row_mul_sub_##SUFFIX(double *dst, const double *x, const double *y, \
                                          double a, ptrdiff_t m)                        \
{                                                                                       \
    ptrdiff_t k;                                                                        \
    for (k = 0; k < m; k++)                                                             \
        dst[k] = x[k] * y[k] - a;                                                       \
}

FS__FOR_EACH_ISA(FS__ROWOPS)

/* dst[k] = dst[k] - a x[k] */
static inline void fs_row_sub_scaled(int isa, double *dst, const double *x, double a,
                                     ptrdiff_t m)
{
    FS__DISPATCH(isa, fs__row_sub_scaled, (dst, x, a, m));
}

/* dst[k] = dst[k] a */
/* Is one of x[0..m) inf or nan?  (An OR-reduced compare per element: vectorised.) */
static inline int fs_row_nonfinite(int isa, const double *x, ptrdiff_t m)
{
    FS__DISPATCH_RETURN(isa, fs__row_nonfinite, (x, m));
}

static inline void fs_row_scale(int isa, double *dst, double a, ptrdiff_t m)
{
    FS__DISPATCH(isa, fs__row_scale, (dst, a, m));
}

/* dst[k] = x[k] y[k] */
static inline void fs_row_mul(int isa, double *dst, const double *x, const double *y,
                              ptrdiff_t m)
{
    FS__DISPATCH(isa, fs__row_mul, (dst, x, y, m));
}

/* dst[k] = x[k] y[k] - a (the two roundings of the scalar code) */
static inline void fs_row_mul_sub(int isa, double *dst, const double *x, const double *y,
                                  double a, ptrdiff_t m)
{
    FS__DISPATCH(isa, fs__row_mul_sub, (dst, x, y, a, m));
}

#define FS__SMALL_E 4   /* the largest event of the fused loops here */
#if defined(__GNUC__) && !defined(__clang__)
#define FS__UNROLL _Pragma("GCC unroll 16")
#else
#define FS__UNROLL
#endif

/* CALL(2), CALL(3) or CALL(4) by the value of E (2 to FS__SMALL_E): a fused
 * loop's instances with the event size a constant, which its inner loops
 * unroll over. */
#define FS__BY_SMALL_E(CALL)                                                            \
    do {                                                                                \
        if (E == 2)                                                                     \
            CALL(2);                                                                    \
        else if (E == 3)                                                                \
            CALL(3);                                                                    \
        else                                                                            \
            CALL(4);                                                                    \
    } while (0)

/* The MultivariateNormal's constants in locals (the stores of a fused loop
 * cannot alias them): loc, L (row-major E x E) and inv (1 / L_ii) from loc_,
 * L_ and inv_. */
#define FS__MVN_LOCALS(E)                                                               \
    double loc[FS__SMALL_E], L[FS__SMALL_E * FS__SMALL_E], inv[FS__SMALL_E];            \
    do {                                                                                \
        int i_, j_;                                                                     \
        FS__UNROLL for (i_ = 0; i_ < (E); i_++) {                                       \
            loc[i_] = loc_[i_];                                                         \
            inv[i_] = inv_[i_];                                                         \
            FS__UNROLL for (j_ = 0; j_ < (E); j_++)                                     \
                L[i_ * (E) + j_] = L_[i_ * (E) + j_];                                   \
        }                                                                               \
    } while (0)

/* w = L^-1 (x_k - loc) for sample k (x_k at xk), the operations of
 * mvn_score_event and mvn_pathwise_event (multivariate_normal.pxi). */
#define FS__MVN_SOLVE_W(w, xk, E)                                                       \
    do {                                                                                \
        int i_, j_;                                                                     \
        FS__UNROLL for (i_ = 0; i_ < (E); i_++) {                                       \
            (w)[i_] = (xk)[i_] - loc[i_];                                               \
            FS__UNROLL for (j_ = 0; j_ < i_; j_++)                                      \
                (w)[i_] = (w)[i_] - L[i_ * (E) + j_] * (w)[j_];                         \
            (w)[i_] = (w)[i_] * inv[i_];                                                \
        }                                                                               \
    } while (0)

/* MultivariateNormal's score terms for m samples of a small event (E = 2, 3
 * or 4): the row steps of mvn_score_block (multivariate_normal.pxi) fused into one
 * loop over the samples, with the same operations in the same order per
 * sample, so the same bits; the loops over i and j unroll (E constant) and
 * the loop over samples is the vector one.  x: sample k's event at
 * x + k xs; terms: row r at terms + r ld, v_i in row i, the (i, j)
 * component of the lower triangle in row E + i (i + 1) / 2 + j. */
FS__ALWAYS_INLINE void fs__mvn_score_small(const double *loc_, const double *L_,
                                           const double *inv_, const double *x, ptrdiff_t xs,
                                           ptrdiff_t m, double *terms, ptrdiff_t ld,
                                           const int E)
{
    FS__MVN_LOCALS(E);
    ptrdiff_t k;
    int i, j;
    FS__LANE_LOOP for (k = 0; k < m; k++) {
        double w[FS__SMALL_E], v[FS__SMALL_E];
        FS__MVN_SOLVE_W(w, x + k * xs, E);
        FS__UNROLL for (i = E - 1; i >= 0; i--) {   /* v = L^-T w */
            v[i] = w[i];
            FS__UNROLL for (j = i + 1; j < E; j++)
                v[i] = v[i] - L[j * E + i] * v[j];
            v[i] = v[i] * inv[i];
        }
        FS__UNROLL for (i = 0; i < E; i++) {
            terms[i * ld + k] = v[i];
            FS__UNROLL for (j = 0; j <= i; j++)   /* v w^T - diag(1 / L_ii), lower triangle */
                terms[(E + i * (i + 1) / 2 + j) * ld + k] =
                    i == j ? v[i] * w[j] - inv[i] : v[i] * w[j];
        }
    }
}

#define FS__MVN_SCORE_E(E_) fs__mvn_score_small(loc, L, inv, x, xs, m, terms, ld, E_)
#define FS__MVN_SMALL(SUFFIX, ATTR)                                                     \
ATTR static void fs__mvn_score_##SUFFIX(const double *loc, const double *L, const double *inv, \
                                        const double *x, ptrdiff_t xs, ptrdiff_t m,     \
                                        double *terms, ptrdiff_t ld, ptrdiff_t E)       \
{                                                                                       \
    FS__BY_SMALL_E(FS__MVN_SCORE_E);                                                    \
}

FS__FOR_EACH_ISA(FS__MVN_SMALL)

/* The pathwise terms f'(x) . dx/dtheta_j for m samples of a small event,
 * mvn_pathwise_event's operations per sample fused into one vector loop over
 * the samples (the same bits): f' of sample k at gp + k gs; x = loc + L z
 * gives dx/dloc_i = e_i and dx_i/dL_ij = z_j, z = w = L^-1 (x - loc), so
 * row i of terms holds f'_i and row E + i (i + 1) / 2 + j holds f'_i w_j. */
FS__ALWAYS_INLINE void fs__mvn_pathwise_small(const double *loc_, const double *L_,
                                              const double *inv_, const double *x,
                                              ptrdiff_t xs, const double *gp, ptrdiff_t gs,
                                              ptrdiff_t m, double *terms, ptrdiff_t ld,
                                              const int E)
{
    FS__MVN_LOCALS(E);
    ptrdiff_t k;
    int i, j;
    FS__LANE_LOOP for (k = 0; k < m; k++) {
        double w[FS__SMALL_E];
        FS__MVN_SOLVE_W(w, x + k * xs, E);
        FS__UNROLL for (i = 0; i < E; i++) {
            terms[i * ld + k] = gp[k * gs + i];
            FS__UNROLL for (j = 0; j <= i; j++)
                terms[(E + i * (i + 1) / 2 + j) * ld + k] = gp[k * gs + i] * w[j];
        }
    }
}

#define FS__MVN_PATHWISE_E(E_) fs__mvn_pathwise_small(loc, L, inv, x, xs, gp, gs, m, terms, ld, E_)
#define FS__MVN_PATHWISE(SUFFIX, ATTR)                                                  \
ATTR static void fs__mvn_pathwise_##SUFFIX(const double *loc, const double *L,          \
                                           const double *inv, const double *x,          \
                                           ptrdiff_t xs, const double *gp, ptrdiff_t gs, \
                                           ptrdiff_t m, double *terms, ptrdiff_t ld,    \
                                           ptrdiff_t E)                                 \
{                                                                                       \
    FS__BY_SMALL_E(FS__MVN_PATHWISE_E);                                                 \
}

FS__FOR_EACH_ISA(FS__MVN_PATHWISE)

static inline void fs__mvn_score(int isa, const double *loc, const double *L,
                                 const double *inv, const double *x, ptrdiff_t xs, ptrdiff_t m,
                                 double *terms, ptrdiff_t ld, ptrdiff_t E)
{
    FS__DISPATCH(isa, fs__mvn_score, (loc, L, inv, x, xs, m, terms, ld, E));
}

/* The fused score terms when the engine has them on (mvn_fused) and E is 2,
 * 3 or 4 (returns 1); 0, writing nothing, otherwise (the caller takes the
 * row steps, with the same bits).  The fused loops run on the engine's
 * reduce_isa. */
static inline int fs_mvn_score_small(const fs_engine *eng, const double *loc, const double *L,
                                     const double *inv, const double *x, ptrdiff_t xs,
                                     ptrdiff_t m, double *terms, ptrdiff_t ld, ptrdiff_t E)
{
    if (!eng->mvn_fused || E < 2 || E > FS__SMALL_E)
        return 0;
    fs__mvn_score(eng->reduce_isa, loc, L, inv, x, xs, m, terms, ld, E);
    return 1;
}

static inline void fs__mvn_pathwise(int isa, const double *loc, const double *L,
                                    const double *inv, const double *x, ptrdiff_t xs,
                                    const double *gp, ptrdiff_t gs, ptrdiff_t m, double *terms,
                                    ptrdiff_t ld, ptrdiff_t E)
{
    FS__DISPATCH(isa, fs__mvn_pathwise, (loc, L, inv, x, xs, gp, gs, m, terms, ld, E));
}

/* The fused pathwise terms when on and E is 2, 3 or 4 (returns 1); 0,
 * writing nothing, otherwise (the caller goes event by event). */
static inline int fs_mvn_pathwise_small(const fs_engine *eng, const double *loc,
                                        const double *L, const double *inv, const double *x,
                                        ptrdiff_t xs, const double *gp, ptrdiff_t gs,
                                        ptrdiff_t m, double *terms, ptrdiff_t ld, ptrdiff_t E)
{
    if (!eng->mvn_fused || E < 2 || E > FS__SMALL_E)
        return 0;
    fs__mvn_pathwise(eng->reduce_isa, loc, L, inv, x, xs, gp, gs, m, terms, ld, E);
    return 1;
}

/* MultivariateNormal's draw for m contiguous events of E = 2 to 4 doubles
 * (x + k E): the standard normals z in x become x = loc + L z in place, with
 * _mvn_transform's operations (multivariate_normal.pxi) per event: loc_i plus the
 * products L_ij z_j in order of j, and one vector loop over the events. */
FS__ALWAYS_INLINE void fs__mvn_transform_small(const double *loc_, const double *L_, double *x,
                                               ptrdiff_t m, const int E)
{
    double loc[FS__SMALL_E], L[FS__SMALL_E * FS__SMALL_E];
    ptrdiff_t k;
    int i, j;
    FS__UNROLL for (i = 0; i < E; i++) {
        loc[i] = loc_[i];
        FS__UNROLL for (j = 0; j <= i; j++)
            L[i * E + j] = L_[i * E + j];
    }
    FS__LANE_LOOP for (k = 0; k < m; k++) {
        double z[FS__SMALL_E];
        FS__UNROLL for (j = 0; j < E; j++)
            z[j] = x[k * E + j];
        FS__UNROLL for (i = 0; i < E; i++) {
            double acc = loc[i];
            FS__UNROLL for (j = 0; j <= i; j++)
                acc = acc + L[i * E + j] * z[j];
            x[k * E + i] = acc;
        }
    }
}

#define FS__MVN_TRANSFORM_E(E_) fs__mvn_transform_small(loc, L, x, m, E_)
#define FS__MVN_TRANSFORM(SUFFIX, ATTR)                                                 \
ATTR static void fs__mvn_transform_##SUFFIX(const double *loc, const double *L, double *x, \
                                            ptrdiff_t m, ptrdiff_t E)                   \
{                                                                                       \
    FS__BY_SMALL_E(FS__MVN_TRANSFORM_E);                                                \
}

FS__FOR_EACH_ISA(FS__MVN_TRANSFORM)

static inline void fs__mvn_transform(int isa, const double *loc, const double *L, double *x,
                                     ptrdiff_t m, ptrdiff_t E)
{
    FS__DISPATCH(isa, fs__mvn_transform, (loc, L, x, m, E));
}

/* The fused transform when E is 2, 3 or 4 and the engine has it on
 * (mvn_fused; returns 1); 0, writing nothing, otherwise (the caller
 * transforms event by event). */
static inline int fs_mvn_transform_small(const fs_engine *eng, const double *loc,
                                         const double *L, double *x, ptrdiff_t m, ptrdiff_t E)
{
    if (!eng->mvn_fused || E < 2 || E > FS__SMALL_E)
        return 0;
    fs__mvn_transform(eng->reduce_isa, loc, L, x, m, E);
    return 1;
}

/* f = sum_e v_e x_e + b, the built-in linear f, on m events of E = 2 to 4
 * doubles each (x + k E): the operations of _eval_f's loops in the kernels
 * (0.0 plus the products in order, then b), one vector loop over the
 * events.  Returns 0, writing nothing, for any other E. */
#define FS__LINEAR_E(E_) fs__linear_small(v, b, x, m, out, E_)
#define FS__LINEAR(SUFFIX, ATTR)                                                        \
ATTR static void fs__linear_##SUFFIX(const double *v, double b, const double *x,        \
                                     ptrdiff_t m, double *out, ptrdiff_t E)             \
{                                                                                       \
    FS__BY_SMALL_E(FS__LINEAR_E);                                                       \
}

FS__ALWAYS_INLINE void fs__linear_small(const double *v_, double b, const double *x,
                                        ptrdiff_t m, double *out, const int E)
{
    double v[FS__SMALL_E];
    ptrdiff_t k;
    int e;
    FS__UNROLL for (e = 0; e < E; e++)
        v[e] = v_[e];
    FS__LANE_LOOP for (k = 0; k < m; k++) {
        double acc = 0.0;
        FS__UNROLL for (e = 0; e < E; e++)
            acc = acc + v[e] * x[k * E + e];
        out[k] = acc + b;
    }
}

FS__FOR_EACH_ISA(FS__LINEAR)

static inline void fs__linear(int isa, const double *v, double b, const double *x,
                              ptrdiff_t m, double *out, ptrdiff_t E)
{
    FS__DISPATCH(isa, fs__linear, (v, b, x, m, out, E));
}

/* (On the ISA isa; always fused: no engine switch.) */
static inline int fs_linear_small(int isa, const double *v, double b, const double *x,
                                  ptrdiff_t E, ptrdiff_t m, double *out)
{
    if (E < 2 || E > FS__SMALL_E)
        return 0;
    fs__linear(isa, v, b, x, m, out, E);
    return 1;
}

#endif
