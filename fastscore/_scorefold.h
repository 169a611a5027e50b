/*
 * The score-function step of a scalar family fused into one pass over a
 * block: d = f - shift, the family's score components from x, and the fold
 * of d and of every component into its moment sums (fs_fold_value and
 * fs_fold_score of _reduce.h), without the buffers of d and of the terms
 * in between.  Each number is the same IEEE operation on the same operands
 * as in those steps (the family's score in _families.pxi, the folds' lanes
 * and their order), so the sums have the same bits; only the loads and
 * stores between the steps are gone.  A block's samples must be contiguous
 * (x and f with stride 1).
 */
#ifndef FASTSCORE_SCOREFOLD_H
#define FASTSCORE_SCOREFOLD_H

#include <stddef.h>
#include <string.h>

#include "_reduce.h"

#if defined(__GNUC__) && !defined(__clang__)
#define FS__SF_UNROLL _Pragma("GCC unroll 16")
#else
#define FS__SF_UNROLL
#endif

#define FS__SF_STRIP(...) __VA_ARGS__

/* The sums of one component j from its score sj and t = d sj, into the
 * accumulators' group g (as fs__fold_score). */
#define FS__SF_ACC(j, g, sj, d)                                                         \
    do {                                                                                \
        t_ = (d) * (sj);                                                                \
        va[j][g] += (sj);                                                               \
        vb[j][g] += (sj) * (sj);                                                        \
        vc[j][g] += t_;                                                                 \
        ve[j][g] += t_ * (sj);                                                          \
        vf[j][g] += t_ * t_;                                                            \
    } while (0)

/* FS__SCORE_FOLD(NAME, P, ARGS, CONSTS, SCORE) defines, for one ISA (SUFFIX,
 * ATTR, vectors VT of W doubles), fs__sf_NAME_SUFFIX(ARGS..., x, fx, shift, m,
 * row; ARGS in parentheses): SCORE(T, x, s) sets s[0..P-1] from x, all of type T (a vector or a
 * double), with the constants CONSTS names. */
#define FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, SUFFIX, ATTR, VT, W)                   \
ATTR static void fs__sf_##NAME##_##SUFFIX(FS__SF_STRIP ARGS, const double *x,           \
                                          const double *fx,                             \
                                          double shift, ptrdiff_t m, double *row)       \
{                                                                                       \
    VT vd[FS__G(W)], vdd[FS__G(W)];                                                     \
    VT va[P][FS__G(W)], vb[P][FS__G(W)], vc[P][FS__G(W)], ve[P][FS__G(W)], vf[P][FS__G(W)]; \
    double sd[FS_LANES], sdd[FS_LANES];                                                 \
    double a[P][FS_LANES], b[P][FS_LANES], c[P][FS_LANES], e[P][FS_LANES], f[P][FS_LANES]; \
    ptrdiff_t i = 0, k;                                                                 \
    int g, j;                                                                           \
    memset(vd, 0, sizeof vd);                                                           \
    memset(vdd, 0, sizeof vdd);                                                         \
    memset(va, 0, sizeof va);                                                           \
    memset(vb, 0, sizeof vb);                                                           \
    memset(vc, 0, sizeof vc);                                                           \
    memset(ve, 0, sizeof ve);                                                           \
    memset(vf, 0, sizeof vf);                                                           \
    for (; i + FS_LANES <= m; i += FS_LANES)                                            \
        FS__SF_UNROLL for (g = 0; g < FS__G(W); g++) {                                  \
            VT xv, d, s[P], t_;                                                         \
            memcpy(&xv, x + i + g * (W), sizeof xv);                                    \
            memcpy(&d, fx + i + g * (W), sizeof d);                                     \
            d = d - shift;                                                              \
            vd[g] += d;                                                                 \
            vdd[g] += d * d;                                                            \
            SCORE(VT, xv, s);                                                           \
            FS__SF_UNROLL for (j = 0; j < (P); j++)                                     \
                FS__SF_ACC(j, g, s[j], d);                                              \
        }                                                                               \
    FS__SPILL(vd, sd, W);                                                               \
    FS__SPILL(vdd, sdd, W);                                                             \
    for (j = 0; j < (P); j++) {                                                         \
        FS__SPILL(va[j], a[j], W);                                                      \
        FS__SPILL(vb[j], b[j], W);                                                      \
        FS__SPILL(vc[j], c[j], W);                                                      \
        FS__SPILL(ve[j], e[j], W);                                                      \
        FS__SPILL(vf[j], f[j], W);                                                      \
    }                                                                                   \
    for (k = 0; i < m; i++, k++) {                                                      \
        double d = fx[i] - shift, s[P], t_;                                             \
        sd[k] += d;                                                                     \
        sdd[k] += d * d;                                                                \
        SCORE(double, x[i], s);                                                         \
        for (j = 0; j < (P); j++) {                                                     \
            t_ = d * s[j];                                                              \
            a[j][k] += s[j];                                                            \
            b[j][k] += s[j] * s[j];                                                     \
            c[j][k] += t_;                                                              \
            e[j][k] += t_ * s[j];                                                       \
            f[j][k] += t_ * t_;                                                         \
        }                                                                               \
    }                                                                                   \
    row[FS_SUM_D] += fs__lanes(sd);                                                     \
    row[FS_SUM_DD] += fs__lanes(sdd);                                                   \
    for (j = 0; j < (P); j++) {                                                         \
        double *blk = row + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j;                         \
        blk[FS_SUM_S] += fs__lanes(a[j]);                                               \
        blk[FS_SUM_SS] += fs__lanes(b[j]);                                              \
        blk[FS_SUM_DS] += fs__lanes(c[j]);                                              \
        blk[FS_SUM_DSS] += fs__lanes(e[j]);                                             \
        blk[FS_SUM_DDSS] += fs__lanes(f[j]);                                            \
    }                                                                                   \
}

#if FS_REDUCE_X86_SIMD
#define FS__SCORE_FOLD(NAME, P, ARGS, SCORE)                                            \
    FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, portable, FS__UNUSED, fs__v2, 2)           \
    FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, avx2,                                      \
                       FS__UNUSED __attribute__((target("avx2"))), fs__v4, 4)           \
    FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, avx512,                                    \
                       FS__UNUSED __attribute__((target("avx512f"))), fs__v8, 8)
#elif defined(__GNUC__) || defined(__clang__)
#define FS__SCORE_FOLD(NAME, P, ARGS, SCORE)                                            \
    FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, portable, FS__UNUSED, fs__v2, 2)
#else
#define FS__SCORE_FOLD(NAME, P, ARGS, SCORE)                                            \
    FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, portable, FS__UNUSED, double, 1)
#endif

/* Whether the kernels use the fused steps (tests turn them off to compare bits). */
static int fs_score_fold_on = 1;

/* Normal: z = (x - loc) / scale; d/dloc = z / scale, d/dscale = (z^2 - 1) / scale
 * (normal_score). */
#define FS__NORMAL_SCORE(T, xv, s)                                                      \
    do {                                                                                \
        T z_ = ((xv) - loc) * inv;                                                      \
        (s)[0] = z_ * inv;                                                              \
        (s)[1] = (z_ * z_ - 1.0) * inv;                                                 \
    } while (0)
FS__SCORE_FOLD(normal, 2, (double loc, double inv), FS__NORMAL_SCORE)

/* Exponential (its rate): scale - x (exponential_score). */
#define FS__EXPONENTIAL_SCORE(T, xv, s) ((s)[0] = scale - (xv))
FS__SCORE_FOLD(exponential, 1, (double scale), FS__EXPONENTIAL_SCORE)

/* Poisson: x / rate - 1 (poisson_score). */
#define FS__POISSON_SCORE(T, xv, s) ((s)[0] = (xv) * inv - 1.0)
FS__SCORE_FOLD(poisson, 1, (double inv), FS__POISSON_SCORE)

/* The fused steps of a block of m samples: += their sums into row. */
static inline void fs_score_fold_normal(double loc, double inv, const double *x,
                                        const double *fx, double shift, ptrdiff_t m,
                                        double *row)
{
    FS__DISPATCH(fs__sf_normal, (loc, inv, x, fx, shift, m, row));
}

static inline void fs_score_fold_exponential(double scale, const double *x, const double *fx,
                                             double shift, ptrdiff_t m, double *row)
{
    FS__DISPATCH(fs__sf_exponential, (scale, x, fx, shift, m, row));
}

static inline void fs_score_fold_poisson(double inv, const double *x, const double *fx,
                                         double shift, ptrdiff_t m, double *row)
{
    FS__DISPATCH(fs__sf_poisson, (inv, x, fx, shift, m, row));
}

#endif
