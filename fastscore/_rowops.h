/*
 * Elementwise loops over the samples of a block, for the vector families'
 * block slots (MultivariateNormal's score terms): each is one IEEE
 * operation per element, the same in every vector lane, so the SSE2, AVX2
 * and AVX-512F builds (chosen with the reducer's folds, fs_reduce_isa in
 * _reduce.h) give the bits of the scalar loop (-ffp-contract=off: no fused
 * multiply-adds).  In-place use (dst also an operand) is allowed.
 */
#ifndef FASTSCORE_ROWOPS_H
#define FASTSCORE_ROWOPS_H

#include <stddef.h>

#include "_reduce.h"

#define FS__ROWOPS(SUFFIX, ATTR)                                                        \
ATTR static void fs__row_sub_scaled_##SUFFIX(double *dst, const double *x, double a,    \
                                             ptrdiff_t m)                               \
{                                                                                       \
    ptrdiff_t k;                                                                        \
    for (k = 0; k < m; k++)                                                             \
        dst[k] = dst[k] - a * x[k];                                                     \
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

FS__ROWOPS(portable, FS__UNUSED)
#if FS_REDUCE_X86_SIMD
FS__ROWOPS(avx2, FS__UNUSED __attribute__((target("avx2"))))
FS__ROWOPS(avx512, FS__UNUSED __attribute__((target("avx512f"))))
#endif

/* dst[k] = dst[k] - a x[k] */
static inline void fs_row_sub_scaled(double *dst, const double *x, double a, ptrdiff_t m)
{
    FS__DISPATCH(fs__row_sub_scaled, (dst, x, a, m));
}

/* dst[k] = dst[k] a */
static inline void fs_row_scale(double *dst, double a, ptrdiff_t m)
{
    FS__DISPATCH(fs__row_scale, (dst, a, m));
}

/* dst[k] = x[k] y[k] */
static inline void fs_row_mul(double *dst, const double *x, const double *y, ptrdiff_t m)
{
    FS__DISPATCH(fs__row_mul, (dst, x, y, m));
}

/* dst[k] = x[k] y[k] - a (the two roundings of the scalar code) */
static inline void fs_row_mul_sub(double *dst, const double *x, const double *y, double a,
                                  ptrdiff_t m)
{
    FS__DISPATCH(fs__row_mul_sub, (dst, x, y, a, m));
}

#endif
