/*
 * The one generic reducer: folds per-sample terms into shifted moment sums and
 * merges rows of sums.  The layout of a row (FS_N, FS_SHIFT, ... and the
 * per-component blocks) is named in _layout.h, which setup.py generates from
 * fastscore/_specs.py, the module that Python reads too.
 *
 * The fold loops are reductions written for OpenMP SIMD.  The compiler keeps
 * several partial sums in vector lanes and adds them up in an order fixed at
 * compile time, so results do not depend on the number of threads.  Without
 * OpenMP the pragmas are ignored and the loops run as plain scalar sums.
 */
#ifndef FASTSCORE_REDUCE_H
#define FASTSCORE_REDUCE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* row[FS_SUM_D] += sum d, row[FS_SUM_DD] += sum d^2 */
static inline void fs_fold_value(const double *d, ptrdiff_t m, double *row)
{
    double sd = 0.0, sdd = 0.0;
    ptrdiff_t i;
#pragma omp simd reduction(+:sd, sdd)
    for (i = 0; i < m; i++) {
        sd += d[i];
        sdd += d[i] * d[i];
    }
    row[FS_SUM_D] += sd;
    row[FS_SUM_DD] += sdd;
}

/* One score block: += sum s, sum s^2, sum d s, sum d s^2, sum d^2 s^2 */
static inline void fs_fold_score(const double *d, const double *s, ptrdiff_t m, double *block)
{
    double a = 0.0, b = 0.0, c = 0.0, e = 0.0, f = 0.0;
    ptrdiff_t i;
#pragma omp simd reduction(+:a, b, c, e, f)
    for (i = 0; i < m; i++) {
        double sj = s[i];
        double t = d[i] * sj;
        a += sj;
        b += sj * sj;
        c += t;
        e += t * sj;
        f += t * t;
    }
    block[FS_SUM_S] += a;
    block[FS_SUM_SS] += b;
    block[FS_SUM_DS] += c;
    block[FS_SUM_DSS] += e;
    block[FS_SUM_DDSS] += f;
}

/* Numbers in one row of mean blocks (pathwise, measure-valued) with P components. */
static inline ptrdiff_t fs_mean_row_width(ptrdiff_t P)
{
    return FS_HEAD_WIDTH + FS_MEAN_WIDTH * P;
}

/* One mean block: += sum (t - shift), sum (t - shift)^2, the block's shift set
 * by the caller before the row's first fold. */
static inline void fs_fold_mean(const double *t, ptrdiff_t m, double *block)
{
    double shift = block[FS_TERM_SHIFT], s = 0.0, ss = 0.0;
    ptrdiff_t i;
#pragma omp simd reduction(+:s, ss)
    for (i = 0; i < m; i++) {
        double u = t[i] - shift;
        s += u;
        ss += u * u;
    }
    block[FS_SUM_T] += s;
    block[FS_SUM_TT] += ss;
}

/* The head of a row (n and the value's shifted sums) of a merged into tot's;
 * returns a's count (0: nothing to merge) and sets *delta to a's shift minus
 * tot's.  tot[FS_N] == 0 is the caller's case (a is copied). */
static inline double fs__merge_head(double *tot, const double *a, double *delta)
{
    double na = a[FS_N], sd_a = a[FS_SUM_D], dl = a[FS_SHIFT] - tot[FS_SHIFT];
    tot[FS_N] = tot[FS_N] + na;
    tot[FS_SUM_D] = tot[FS_SUM_D] + (sd_a + dl * na);
    tot[FS_SUM_DD] = tot[FS_SUM_DD] + ((a[FS_SUM_DD] + (2.0 * dl) * sd_a) + (dl * dl) * na);
    *delta = dl;
    return na;
}

/* Fold the mean-block row a into tot, each block re-expressed on tot's shifts. */
static inline void fs_merge_mean_rows(double *tot, const double *a, ptrdiff_t P)
{
    double na = a[FS_N], delta, st, dj;
    const double *ab;
    double *tb;
    ptrdiff_t j;
    if (na == 0.0)
        return;
    if (tot[FS_N] == 0.0) {
        memcpy(tot, a, (size_t)fs_mean_row_width(P) * sizeof(double));
        return;
    }
    fs__merge_head(tot, a, &delta);
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
static inline void fs_fold_cv(const double *A, const double *C, ptrdiff_t m, double *block)
{
    double shift = block[FS_A_SHIFT], sa = 0.0, saa = 0.0, sc = 0.0, scc = 0.0, sac = 0.0;
    ptrdiff_t i;
#pragma omp simd reduction(+:sa, saa, sc, scc, sac)
    for (i = 0; i < m; i++) {
        double a = A[i] - shift, c = C[i];
        sa += a;
        saa += a * a;
        sc += c;
        scc += c * c;
        sac += a * c;
    }
    block[FS_SUM_A] += sa;
    block[FS_SUM_AA] += saa;
    block[FS_SUM_C] += sc;
    block[FS_SUM_CC] += scc;
    block[FS_SUM_AC] += sac;
}

/* Fold the control-variate row a into tot, each block on tot's shift of A. */
static inline void fs_merge_cv_rows(double *tot, const double *a, ptrdiff_t P)
{
    double na = a[FS_N], delta, dj, sa, sc;
    const double *ab;
    double *tb;
    ptrdiff_t j;
    if (na == 0.0)
        return;
    if (tot[FS_N] == 0.0) {
        memcpy(tot, a, (size_t)fs_cv_row_width(P) * sizeof(double));
        return;
    }
    fs__merge_head(tot, a, &delta);
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
    double na = a[FS_N], delta, ss, sss, sds, sdss;
    const double *ab;
    double *tb;
    ptrdiff_t j;
    if (na == 0.0)
        return;
    if (tot[FS_N] == 0.0) {
        memcpy(tot, a, (size_t)fs_score_row_width(P) * sizeof(double));
        return;
    }
    fs__merge_head(tot, a, &delta);
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

#endif
