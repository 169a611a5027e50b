/*
 * Elementwise loops over the samples of a block, for the vector families'
 * block slots (MultivariateNormal's general-E steps; its fused small-event
 * loops are its unit's, families/multivariate_normal.h, on FS__BY_SMALL_E
 * here) and the built-in linear f on small events: each is one IEEE operation per
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
