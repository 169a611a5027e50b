/*
 * The estimators' steps of a scalar family fused with their folds into one
 * pass over a block.  Score function: d = f - shift, the family's score
 * components from x, and the fold of d and of every component into its
 * moment sums (fs_fold_value and fs_fold_score of _reduce.h).  Pathwise: d,
 * the terms f'(x) dx/dtheta_j, and the folds of d and of every term
 * (fs_fold_value and fs_fold_mean).  No buffers of d and of the terms in
 * between.  Each number is the same IEEE operation on the same operands as
 * in those steps (the family's score or pathwise slot, families/<unit>.h, the
 * folds' lanes and their order), so the sums have the same bits; only the
 * loads and stores between the steps are gone.  A block's samples must be
 * contiguous (x, f and f' with stride 1).
 */
#ifndef FASTSCORE_FOLDSTEPS_H
#define FASTSCORE_FOLDSTEPS_H

#include <stddef.h>
#include <string.h>

#include "_isa.h"
#include "_reduce.h"

#if defined(__GNUC__) && !defined(__clang__)
#define FS__SF_UNROLL _Pragma("GCC unroll 16")
#else
#define FS__SF_UNROLL
#endif

#define FS__SF_STRIP(...) __VA_ARGS__

/* The five sums of one component from its score sj and t_ = d sj, into
 * element k of the accumulators A, B, C, E, F (as fs__fold_score: the
 * vectors' group k in the block's body, the lanes k in its tail). */
#define FS__SF_ACC(A, B, C, E, F, k, sj, d)                                             \
    do {                                                                                \
        t_ = (d) * (sj);                                                                \
        (A)[k] += (sj);                                                                 \
        (B)[k] += (sj) * (sj);                                                          \
        (C)[k] += t_;                                                                   \
        (E)[k] += t_ * (sj);                                                            \
        (F)[k] += t_ * t_;                                                              \
    } while (0)

/* FS__SCORE_FOLD_ISA defines, for one ISA (SUFFIX, ATTR, vectors VT of W
 * doubles), fs__sf_NAME_SUFFIX(ARGS, x, u, fx, shift, m, row), ARGS being
 * the family's constants as a parenthesised parameter list: SCORE(T, x, u,
 * s, KEEP) sets s[0..P-1] from sample x and u (what the caller computed per
 * sample beforehand, such as log x, or x again), all of type T (a vector or a
 * double), with KEEP the fs_keep of T. */
#define FS__SCORE_FOLD_ISA(NAME, P, ARGS, SCORE, SUFFIX, ATTR, VT, W, KEEP)             \
ATTR static void fs__sf_##NAME##_##SUFFIX(FS__SF_STRIP ARGS, const double *x,           \
                                          const double *u, const double *fx,            \
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
            VT xv, uv, d, s[P], t_;                                                     \
            memcpy(&xv, x + i + g * (W), sizeof xv);                                    \
            memcpy(&uv, u + i + g * (W), sizeof uv);                                    \
            memcpy(&d, fx + i + g * (W), sizeof d);                                     \
            d = d - shift;                                                              \
            vd[g] += d;                                                                 \
            vdd[g] += d * d;                                                            \
            SCORE(VT, xv, uv, s, KEEP);                                                 \
            FS__SF_UNROLL for (j = 0; j < (P); j++)                                     \
                FS__SF_ACC(va[j], vb[j], vc[j], ve[j], vf[j], g, s[j], d);              \
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
        SCORE(double, x[i], u[i], s, fs_keep);                                          \
        for (j = 0; j < (P); j++)                                                       \
            FS__SF_ACC(a[j], b[j], c[j], e[j], f[j], k, s[j], d);                       \
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

/* The two sums of one pathwise term about its shift, q_ = t - shift, into
 * element k of S and SS (as fs__fold_mean). */
#define FS__PF_ACC(S, SS, k, q)                                                         \
    do {                                                                                \
        q_ = (q);                                                                       \
        (S)[k] += q_;                                                                   \
        (SS)[k] += q_ * q_;                                                             \
    } while (0)

/* FS__PATHWISE_FOLD_ISA, as FS__SCORE_FOLD_ISA for the pathwise step:
 * fs__pf_NAME_SUFFIX(ARGS, x, u, fx, gp, shift, m, row) with f' at gp;
 * TERMS(T, x, u, fp, t) sets t[0..P-1], and each term is folded about its
 * block's shift (FS_TERM_SHIFT, set by the caller before the row's first
 * fold, as for fs_fold_mean). */
#define FS__PATHWISE_FOLD_ISA(NAME, P, ARGS, TERMS, SUFFIX, ATTR, VT, W, KEEP)          \
ATTR static void fs__pf_##NAME##_##SUFFIX(FS__SF_STRIP ARGS, const double *x,           \
                                          const double *u, const double *fx,            \
                                          const double *gp, double shift, ptrdiff_t m,  \
                                          double *row)                                  \
{                                                                                       \
    VT vd[FS__G(W)], vdd[FS__G(W)], vs[P][FS__G(W)], vss[P][FS__G(W)];                  \
    double sd[FS_LANES], sdd[FS_LANES], ts[P][FS_LANES], tss[P][FS_LANES], tsh[P];      \
    ptrdiff_t i = 0, k;                                                                 \
    int g, j;                                                                           \
    for (j = 0; j < (P); j++)                                                           \
        tsh[j] = row[FS_HEAD_WIDTH + FS_MEAN_WIDTH * j + FS_TERM_SHIFT];                \
    memset(vd, 0, sizeof vd);                                                           \
    memset(vdd, 0, sizeof vdd);                                                         \
    memset(vs, 0, sizeof vs);                                                           \
    memset(vss, 0, sizeof vss);                                                         \
    for (; i + FS_LANES <= m; i += FS_LANES)                                            \
        FS__SF_UNROLL for (g = 0; g < FS__G(W); g++) {                                  \
            VT xv, uv, d, gv, t[P], q_;                                                 \
            memcpy(&xv, x + i + g * (W), sizeof xv);                                    \
            memcpy(&uv, u + i + g * (W), sizeof uv);                                    \
            memcpy(&gv, gp + i + g * (W), sizeof gv);                                   \
            memcpy(&d, fx + i + g * (W), sizeof d);                                     \
            d = d - shift;                                                              \
            vd[g] += d;                                                                 \
            vdd[g] += d * d;                                                            \
            TERMS(VT, xv, uv, gv, t);                                                   \
            FS__SF_UNROLL for (j = 0; j < (P); j++)                                     \
                FS__PF_ACC(vs[j], vss[j], g, t[j] - tsh[j]);                            \
        }                                                                               \
    FS__SPILL(vd, sd, W);                                                               \
    FS__SPILL(vdd, sdd, W);                                                             \
    for (j = 0; j < (P); j++) {                                                         \
        FS__SPILL(vs[j], ts[j], W);                                                     \
        FS__SPILL(vss[j], tss[j], W);                                                   \
    }                                                                                   \
    for (k = 0; i < m; i++, k++) {                                                      \
        double d = fx[i] - shift, t[P], q_;                                             \
        sd[k] += d;                                                                     \
        sdd[k] += d * d;                                                                \
        TERMS(double, x[i], u[i], gp[i], t);                                            \
        for (j = 0; j < (P); j++)                                                       \
            FS__PF_ACC(ts[j], tss[j], k, t[j] - tsh[j]);                                \
    }                                                                                   \
    row[FS_SUM_D] += fs__lanes(sd);                                                     \
    row[FS_SUM_DD] += fs__lanes(sdd);                                                   \
    for (j = 0; j < (P); j++) {                                                         \
        double *blk = row + FS_HEAD_WIDTH + FS_MEAN_WIDTH * j;                          \
        blk[FS_SUM_T] += fs__lanes(ts[j]);                                              \
        blk[FS_SUM_TT] += fs__lanes(tss[j]);                                            \
    }                                                                                   \
}

/* fs_keep for vectors: v where cond (a vector comparison: all bits set or
 * none per lane) holds, else +0.0, by masking v's bits as fs_keep does. */
#define FS__VKEEP(cond, v) ((__typeof__(v))((__typeof__(cond))(v) & (cond)))

/* DEF(NAME, P, ARGS, BODY, SUFFIX, ATTR, VT, W, KEEP) for each ISA build of a
 * fused step: the vectors of the reducer's folds (FS__FOLDS in _reduce.h). */
#if FS_REDUCE_X86_SIMD
#define FS__FOLDSTEP_ISAS(DEF, NAME, P, ARGS, BODY)                                     \
    DEF(NAME, P, ARGS, BODY, portable, FS__UNUSED, fs__v2, 2, FS__VKEEP)                \
    DEF(NAME, P, ARGS, BODY, avx2, FS__UNUSED __attribute__((target("avx2"))), fs__v4, 4, \
        FS__VKEEP)                                                                      \
    DEF(NAME, P, ARGS, BODY, avx512, FS__UNUSED __attribute__((target("avx512f"))),     \
        fs__v8, 8, FS__VKEEP)
#elif defined(__GNUC__) || defined(__clang__)
#define FS__FOLDSTEP_ISAS(DEF, NAME, P, ARGS, BODY)                                     \
    DEF(NAME, P, ARGS, BODY, portable, FS__UNUSED, fs__v2, 2, FS__VKEEP)
#else
#define FS__FOLDSTEP_ISAS(DEF, NAME, P, ARGS, BODY)                                     \
    DEF(NAME, P, ARGS, BODY, portable, FS__UNUSED, double, 1, fs_keep)
#endif

/* fs_score_fold_NAME(isa, PARAMS, x, u, fx, shift, m, row): the fused step
 * of a block of m samples, += its sums into row, on the ISA isa (an
 * fs_engine's reduce_isa; u: see FS__SCORE_FOLD_ISA; x where the score does
 * not read it). */
#define FS__SF_CALL(NAME, PARAMS, ARGS)                                                 \
static inline void fs_score_fold_##NAME(int isa, FS__SF_STRIP PARAMS, const double *x, \
                                        const double *u, const double *fx, double shift, \
                                        ptrdiff_t m, double *row)                       \
{                                                                                       \
    FS__DISPATCH(isa, fs__sf_##NAME, (FS__SF_STRIP ARGS, x, u, fx, shift, m, row));     \
}

/* The ISA builds and the dispatcher of a family's fused step: PARAMS its
 * constants as a parameter list, ARGS their names, SCORE as above. */
#define FS__SCORE_FOLD(NAME, P, PARAMS, ARGS, SCORE)                                    \
    FS__FOLDSTEP_ISAS(FS__SCORE_FOLD_ISA, NAME, P, PARAMS, SCORE)                       \
    FS__SF_CALL(NAME, PARAMS, ARGS)

/* The same for a family's fused pathwise step, fs_pathwise_fold_NAME(isa,
 * PARAMS, x, u, fx, gp, shift, m, row).  (Whether the kernels take the fused
 * steps at all is the engine's score_fold and pathwise_fold: the callers,
 * _score_fold and _pathwise_fold of _kernels.pyx, check them.) */
#define FS__PATHWISE_FOLD(NAME, P, PARAMS, ARGS, TERMS)                                 \
    FS__FOLDSTEP_ISAS(FS__PATHWISE_FOLD_ISA, NAME, P, PARAMS, TERMS)                    \
static inline void fs_pathwise_fold_##NAME(int isa, FS__SF_STRIP PARAMS, const double *x, \
                                           const double *u, const double *fx,           \
                                           const double *gp, double shift, ptrdiff_t m, \
                                           double *row)                                 \
{                                                                                       \
    FS__DISPATCH(isa, fs__pf_##NAME, (FS__SF_STRIP ARGS, x, u, fx, gp, shift, m, row)); \
}

/* One sample's score, fs_NAME_score(PARAMS, x, u, s), from the family's SCORE
 * expression with T = double: the family's <name>_score slot calls it, so
 * that the per-sample score and the fused step are one expression (the unit's
 * families/<unit>.h instantiates both). */
#define FS__SCORE_ONE(NAME, PARAMS, SCORE)                                              \
static inline void fs_##NAME##_score(FS__SF_STRIP PARAMS, double x, double u, double *s) \
{                                                                                       \
    (void)x;                                                                            \
    (void)u;                                                                            \
    SCORE(double, x, u, s, fs_keep);                                                    \
}

/* The same for one sample's pathwise terms, fs_NAME_pathwise(PARAMS, x, u, fp, t). */
#define FS__PATHWISE_ONE(NAME, PARAMS, TERMS)                                           \
static inline void fs_##NAME##_pathwise(FS__SF_STRIP PARAMS, double x, double u,       \
                                        double fp, double *t)                           \
{                                                                                       \
    (void)x;                                                                            \
    (void)u;                                                                            \
    TERMS(double, x, u, fp, t);                                                         \
}

#endif
