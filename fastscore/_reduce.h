/*
 * The one generic reducer: folds per-sample terms into shifted moment sums and
 * merges rows of sums.  The layout of a row (FS_N, FS_SHIFT, ... and the
 * per-component blocks) is named in _layout.h, which setup.py generates from
 * fastscore/_specs.py, the module that Python reads too.
 */
#ifndef FASTSCORE_REDUCE_H
#define FASTSCORE_REDUCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_isa.h"
#include "_layout.h"

/* v where keep is true, else +0.0 (even for an infinite or NaN v), by masking
 * the bits rather than branching.  Used where the condition is a coin toss
 * (was a support value drawn, is a discrete sample 0), which a branch
 * predictor loses. */
static inline double fs_keep(int keep, double v)
{
    uint64_t bits, mask = (uint64_t)0 - (uint64_t)(keep != 0);
    memcpy(&bits, &v, sizeof bits);
    bits &= mask;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Numbers in one row of score-function sums with P components. */
static inline ptrdiff_t fs_score_row_width(ptrdiff_t P)
{
    return FS_HEAD_WIDTH + FS_SCORE_WIDTH * P;
}

/*
 * The folds keep FS_LANES partial sums of every moment, sample i going to
 * lane i % FS_LANES (a block's last m % FS_LANES samples to lanes 0, 1, ...),
 * and add the lanes up in one fixed order (fs__lanes).  Each lane is a plain
 * sequential sum, so the arithmetic is the same however many lanes a vector
 * holds: the portable build (SSE2 on x86-64), AVX2 and AVX-512F compile the
 * same loop (FS__FOLDS below) and give the same bits; the caller chooses
 * one by its `isa` argument (an fs_engine's reduce_isa, _isa.h).  Results
 * depend on neither the threads nor the machine.
 */
#define FS_LANES 8

static inline double fs__lanes(const double *v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* The lanes as G = FS_LANES / W native vectors of W doubles (W = 2 for SSE2,
 * 4 for AVX2, 8 for AVX-512): lane k is element k % W of vector k / W, and
 * holds the partial sum of the samples i with i % FS_LANES == k.  Vector
 * operations act lane by lane, so every width does the same arithmetic.
 * (The vector types fs__v2, fs__v4, fs__v8 are _isa.h's.) */

/* FS__FOLDS(SUFFIX, ATTR, VT, W) defines the fold loops, named fs__fold_*_SUFFIX,
 * compiled with the target attribute ATTR on vectors VT of W doubles: whole
 * groups of FS_LANES samples as vectors, then the block's last samples into
 * lanes 0, 1, ... */
#define FS__G(W) (FS_LANES / (W))
#define FS__SPILL(acc, arr, W)                                                          \
    do {                                                                                \
        int g_;                                                                         \
        for (g_ = 0; g_ < FS__G(W); g_++)                                               \
            memcpy((arr) + g_ * (W), &(acc)[g_], sizeof((acc)[g_]));                    \
    } while (0)
#define FS__FOLDS(SUFFIX, ATTR, VT, W)                                                  \
ATTR static void fs__fold_value_##SUFFIX(const double *d, ptrdiff_t m, double *row)     \
{                                                                                       \
    VT vd[FS__G(W)], vdd[FS__G(W)];                                                     \
    double sd[FS_LANES], sdd[FS_LANES];                                                 \
    ptrdiff_t i = 0, k;                                                                 \
    int g;                                                                              \
    memset(vd, 0, sizeof vd);                                                           \
    memset(vdd, 0, sizeof vdd);                                                         \
    for (; i + FS_LANES <= m; i += FS_LANES)                                            \
        for (g = 0; g < FS__G(W); g++) {                                                \
            VT x;                                                                       \
            memcpy(&x, d + i + g * (W), sizeof x);                                      \
            vd[g] += x;                                                                 \
            vdd[g] += x * x;                                                            \
        }                                                                               \
    FS__SPILL(vd, sd, W);                                                               \
    FS__SPILL(vdd, sdd, W);                                                             \
    for (k = 0; i < m; i++, k++) {                                                      \
        sd[k] += d[i];                                                                  \
        sdd[k] += d[i] * d[i];                                                          \
    }                                                                                   \
    row[FS_SUM_D] += fs__lanes(sd);                                                     \
    row[FS_SUM_DD] += fs__lanes(sdd);                                                   \
}                                                                                       \
ATTR static void fs__fold_score_##SUFFIX(const double *d, const double *s, ptrdiff_t m, \
                                         double *block)                                 \
{                                                                                       \
    VT va[FS__G(W)], vb[FS__G(W)], vc[FS__G(W)], ve[FS__G(W)], vf[FS__G(W)];            \
    double a[FS_LANES], b[FS_LANES], c[FS_LANES], e[FS_LANES], f[FS_LANES];             \
    ptrdiff_t i = 0, k;                                                                 \
    int g;                                                                              \
    memset(va, 0, sizeof va);                                                           \
    memset(vb, 0, sizeof vb);                                                           \
    memset(vc, 0, sizeof vc);                                                           \
    memset(ve, 0, sizeof ve);                                                           \
    memset(vf, 0, sizeof vf);                                                           \
    for (; i + FS_LANES <= m; i += FS_LANES)                                            \
        for (g = 0; g < FS__G(W); g++) {                                                \
            VT sj, t;                                                                   \
            memcpy(&sj, s + i + g * (W), sizeof sj);                                    \
            memcpy(&t, d + i + g * (W), sizeof t);                                      \
            t = t * sj;                                                                 \
            va[g] += sj;                                                                \
            vb[g] += sj * sj;                                                           \
            vc[g] += t;                                                                 \
            ve[g] += t * sj;                                                            \
            vf[g] += t * t;                                                             \
        }                                                                               \
    FS__SPILL(va, a, W);                                                                \
    FS__SPILL(vb, b, W);                                                                \
    FS__SPILL(vc, c, W);                                                                \
    FS__SPILL(ve, e, W);                                                                \
    FS__SPILL(vf, f, W);                                                                \
    for (k = 0; i < m; i++, k++) {                                                      \
        double sj = s[i], t = d[i] * sj;                                                \
        a[k] += sj;                                                                     \
        b[k] += sj * sj;                                                                \
        c[k] += t;                                                                      \
        e[k] += t * sj;                                                                 \
        f[k] += t * t;                                                                  \
    }                                                                                   \
    block[FS_SUM_S] += fs__lanes(a);                                                    \
    block[FS_SUM_SS] += fs__lanes(b);                                                   \
    block[FS_SUM_DS] += fs__lanes(c);                                                   \
    block[FS_SUM_DSS] += fs__lanes(e);                                                  \
    block[FS_SUM_DDSS] += fs__lanes(f);                                                 \
}                                                                                       \
ATTR static void fs__fold_mean_##SUFFIX(const double *t, ptrdiff_t m, double *block)    \
{                                                                                       \
    double shift = block[FS_TERM_SHIFT], s[FS_LANES], ss[FS_LANES];                     \
    VT vs[FS__G(W)], vss[FS__G(W)];                                                     \
    ptrdiff_t i = 0, k;                                                                 \
    int g;                                                                              \
    memset(vs, 0, sizeof vs);                                                           \
    memset(vss, 0, sizeof vss);                                                         \
    for (; i + FS_LANES <= m; i += FS_LANES)                                            \
        for (g = 0; g < FS__G(W); g++) {                                                \
            VT u;                                                                       \
            memcpy(&u, t + i + g * (W), sizeof u);                                      \
            u = u - shift;                                                              \
            vs[g] += u;                                                                 \
            vss[g] += u * u;                                                            \
        }                                                                               \
    FS__SPILL(vs, s, W);                                                                \
    FS__SPILL(vss, ss, W);                                                              \
    for (k = 0; i < m; i++, k++) {                                                      \
        double u = t[i] - shift;                                                        \
        s[k] += u;                                                                      \
        ss[k] += u * u;                                                                 \
    }                                                                                   \
    block[FS_SUM_T] += fs__lanes(s);                                                    \
    block[FS_SUM_TT] += fs__lanes(ss);                                                  \
}                                                                                       \
ATTR static void fs__fold_cv_##SUFFIX(const double *A, const double *C, ptrdiff_t m,    \
                                      double *block)                                    \
{                                                                                       \
    double shift = block[FS_A_SHIFT];                                                   \
    double sa[FS_LANES], saa[FS_LANES], sc[FS_LANES], scc[FS_LANES], sac[FS_LANES];     \
    VT va[FS__G(W)], vaa[FS__G(W)], vc[FS__G(W)], vcc[FS__G(W)], vac[FS__G(W)];         \
    ptrdiff_t i = 0, k;                                                                 \
    int g;                                                                              \
    memset(va, 0, sizeof va);                                                           \
    memset(vaa, 0, sizeof vaa);                                                         \
    memset(vc, 0, sizeof vc);                                                           \
    memset(vcc, 0, sizeof vcc);                                                         \
    memset(vac, 0, sizeof vac);                                                         \
    for (; i + FS_LANES <= m; i += FS_LANES)                                            \
        for (g = 0; g < FS__G(W); g++) {                                                \
            VT a, c;                                                                    \
            memcpy(&a, A + i + g * (W), sizeof a);                                      \
            memcpy(&c, C + i + g * (W), sizeof c);                                      \
            a = a - shift;                                                              \
            va[g] += a;                                                                 \
            vaa[g] += a * a;                                                            \
            vc[g] += c;                                                                 \
            vcc[g] += c * c;                                                            \
            vac[g] += a * c;                                                            \
        }                                                                               \
    FS__SPILL(va, sa, W);                                                               \
    FS__SPILL(vaa, saa, W);                                                             \
    FS__SPILL(vc, sc, W);                                                               \
    FS__SPILL(vcc, scc, W);                                                             \
    FS__SPILL(vac, sac, W);                                                             \
    for (k = 0; i < m; i++, k++) {                                                      \
        double a = A[i] - shift, c = C[i];                                              \
        sa[k] += a;                                                                     \
        saa[k] += a * a;                                                                \
        sc[k] += c;                                                                     \
        scc[k] += c * c;                                                                \
        sac[k] += a * c;                                                                \
    }                                                                                   \
    block[FS_SUM_A] += fs__lanes(sa);                                                   \
    block[FS_SUM_AA] += fs__lanes(saa);                                                 \
    block[FS_SUM_C] += fs__lanes(sc);                                                   \
    block[FS_SUM_CC] += fs__lanes(scc);                                                 \
    block[FS_SUM_AC] += fs__lanes(sac);                                                 \
}

#if defined(__GNUC__) || defined(__clang__)
FS__FOLDS(portable, FS__UNUSED, fs__v2, 2)
#else
FS__FOLDS(portable, FS__UNUSED, double, 1)
#endif
#if FS_REDUCE_X86_SIMD
FS__FOLDS(avx2, FS__UNUSED __attribute__((target("avx2"))), fs__v4, 4)
FS__FOLDS(avx512, FS__UNUSED __attribute__((target("avx512f"))), fs__v8, 8)
#endif

/* row[FS_SUM_D] += sum d, row[FS_SUM_DD] += sum d^2 */
static inline void fs_fold_value(int isa, const double *d, ptrdiff_t m, double *row)
{
    FS__DISPATCH(isa, fs__fold_value, (d, m, row));
}

/* One score block: += sum s, sum s^2, sum d s, sum d s^2, sum d^2 s^2 */
static inline void fs_fold_score(int isa, const double *d, const double *s, ptrdiff_t m,
                                 double *block)
{
    FS__DISPATCH(isa, fs__fold_score, (d, s, m, block));
}

/* Numbers in one row of mean blocks (pathwise, measure-valued) with P components. */
static inline ptrdiff_t fs_mean_row_width(ptrdiff_t P)
{
    return FS_HEAD_WIDTH + FS_MEAN_WIDTH * P;
}

/* One mean block: += sum (t - shift), sum (t - shift)^2, the block's shift set
 * by the caller before the row's first fold. */
static inline void fs_fold_mean(int isa, const double *t, ptrdiff_t m, double *block)
{
    FS__DISPATCH(isa, fs__fold_mean, (t, m, block));
}

/* The start of every merge of row a (width numbers) into tot: nothing when a
 * is empty, a copy when tot is, else the head (n and the value's shifted
 * sums) re-expressed on tot's shift.  Returns 1 when the caller still has
 * the blocks to merge, with *delta a's shift minus tot's (before the merge). */
static inline int fs__merge_head(double *tot, const double *a, ptrdiff_t width, double *delta)
{
    double na = a[FS_N], sd_a = a[FS_SUM_D], dl;
    if (na == 0.0)
        return 0;
    if (tot[FS_N] == 0.0) {
        memcpy(tot, a, (size_t)width * sizeof(double));
        return 0;
    }
    dl = a[FS_SHIFT] - tot[FS_SHIFT];
    tot[FS_N] = tot[FS_N] + na;
    tot[FS_SUM_D] = tot[FS_SUM_D] + (sd_a + dl * na);
    tot[FS_SUM_DD] = tot[FS_SUM_DD] + ((a[FS_SUM_DD] + (2.0 * dl) * sd_a) + (dl * dl) * na);
    *delta = dl;
    return 1;
}

/* Fold the mean-block row a into tot, each block re-expressed on tot's shifts. */
static inline void fs_merge_mean_rows(double *tot, const double *a, ptrdiff_t P)
{
    double na = a[FS_N], delta, st, dj;
    const double *ab;
    double *tb;
    ptrdiff_t j;
    if (!fs__merge_head(tot, a, fs_mean_row_width(P), &delta))
        return;
    for (j = 0; j < P; j++) {
        ab = a + FS_HEAD_WIDTH + FS_MEAN_WIDTH * j;
        tb = tot + FS_HEAD_WIDTH + FS_MEAN_WIDTH * j;
        dj = ab[FS_TERM_SHIFT] - tb[FS_TERM_SHIFT];
        st = ab[FS_SUM_T];
        tb[FS_SUM_T] = tb[FS_SUM_T] + (st + dj * na);
        tb[FS_SUM_TT] = tb[FS_SUM_TT] + ((ab[FS_SUM_TT] + (2.0 * dj) * st) + (dj * dj) * na);
    }
}

/* Numbers in one row of control-variate blocks (REBAR) with P components. */
static inline ptrdiff_t fs_cv_row_width(ptrdiff_t P)
{
    return FS_HEAD_WIDTH + FS_CV_WIDTH * P;
}

/* One control-variate block: the sums of a = A - shift and c (the shift set by
 * the caller before the row's first fold). */
static inline void fs_fold_cv(int isa, const double *A, const double *C, ptrdiff_t m,
                              double *block)
{
    FS__DISPATCH(isa, fs__fold_cv, (A, C, m, block));
}

/* Fold the control-variate row a into tot, each block on tot's shift of A. */
static inline void fs_merge_cv_rows(double *tot, const double *a, ptrdiff_t P)
{
    double na = a[FS_N], delta, dj, sa, sc;
    const double *ab;
    double *tb;
    ptrdiff_t j;
    if (!fs__merge_head(tot, a, fs_cv_row_width(P), &delta))
        return;
    for (j = 0; j < P; j++) {
        ab = a + FS_HEAD_WIDTH + FS_CV_WIDTH * j;
        tb = tot + FS_HEAD_WIDTH + FS_CV_WIDTH * j;
        dj = ab[FS_A_SHIFT] - tb[FS_A_SHIFT];
        sa = ab[FS_SUM_A];
        sc = ab[FS_SUM_C];
        tb[FS_SUM_A] = tb[FS_SUM_A] + (sa + dj * na);
        tb[FS_SUM_AA] = tb[FS_SUM_AA] + ((ab[FS_SUM_AA] + (2.0 * dj) * sa) + (dj * dj) * na);
        tb[FS_SUM_C] = tb[FS_SUM_C] + sc;
        tb[FS_SUM_CC] = tb[FS_SUM_CC] + ab[FS_SUM_CC];
        tb[FS_SUM_AC] = tb[FS_SUM_AC] + (ab[FS_SUM_AC] + dj * sc);
    }
}

/* Fold the score-function row a into tot, re-expressing a's sums on tot's
 * shift (d_a = d_tot - delta).  Rows merged in the same order give the same
 * totals; fastscore._moments.merge is the NumPy twin. */
static inline void fs_merge_score_rows(double *tot, const double *a, ptrdiff_t P)
{
    double delta, ss, sss, sds, sdss;
    const double *ab;
    double *tb;
    ptrdiff_t j;
    if (!fs__merge_head(tot, a, fs_score_row_width(P), &delta))
        return;
    for (j = 0; j < P; j++) {
        ab = a + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j;
        tb = tot + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j;
        ss = ab[FS_SUM_S];
        sss = ab[FS_SUM_SS];
        sds = ab[FS_SUM_DS];
        sdss = ab[FS_SUM_DSS];
        tb[FS_SUM_S] = tb[FS_SUM_S] + ss;
        tb[FS_SUM_SS] = tb[FS_SUM_SS] + sss;
        tb[FS_SUM_DS] = tb[FS_SUM_DS] + (sds + delta * ss);
        tb[FS_SUM_DSS] = tb[FS_SUM_DSS] + (sdss + delta * sss);
        tb[FS_SUM_DDSS] = tb[FS_SUM_DDSS] + ((ab[FS_SUM_DDSS] + (2.0 * delta) * sdss) + (delta * delta) * sss);
    }
}

/* Numbers in one row of the cross-fitted score kind (FS_CV_FOLDS score rows). */
static inline ptrdiff_t fs_folds_row_width(ptrdiff_t P)
{
    return FS_CV_FOLDS * fs_score_row_width(P);
}

/* Fold the cross-fitted row a into tot: each fold's score row on its own. */
static inline void fs_merge_fold_rows(double *tot, const double *a, ptrdiff_t P)
{
    ptrdiff_t k, w = fs_score_row_width(P);
    for (k = 0; k < FS_CV_FOLDS; k++)
        fs_merge_score_rows(tot + k * w, a + k * w, P);
}

#endif
