/*
 * Folding a block of (d, s) values into shifted moment sums (the layout is
 * described in estimators.py).  The loops are reductions written for OpenMP
 * SIMD: the compiler keeps several partial sums in vector lanes and adds them
 * up in an order fixed at compile time, so results stay independent of the
 * number of threads.  Without OpenMP the pragmas are ignored and the loops
 * run as plain scalar sums.
 */
#ifndef FASTSCORE_SUMS_H
#define FASTSCORE_SUMS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* v where keep is true, else +0.0 (even for an infinite or NaN v), by masking
 * the bits rather than branching: used where the condition is a coin toss
 * (was a support value drawn; is a discrete sample 0), which a branch
 * predictor loses. */
static inline double fs_keep(int keep, double v)
{
    uint64_t bits, mask = (uint64_t)0 - (uint64_t)(keep != 0);
    memcpy(&bits, &v, sizeof bits);
    bits &= mask;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* acc[0] += sum d, acc[1] += sum d^2 */
static inline void fs_value_sums(const double *d, ptrdiff_t m, double *acc)
{
    double sd = 0.0, sdd = 0.0;
    ptrdiff_t i;
#pragma omp simd reduction(+:sd, sdd)
    for (i = 0; i < m; i++) {
        sd += d[i];
        sdd += d[i] * d[i];
    }
    acc[0] += sd;
    acc[1] += sdd;
}

/* acc[0..4] += sum s, sum s^2, sum d s, sum d s^2, sum d^2 s^2 */
static inline void fs_component_sums(const double *d, const double *s, ptrdiff_t m, double *acc)
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
    acc[0] += a;
    acc[1] += b;
    acc[2] += c;
    acc[3] += e;
    acc[4] += f;
}

#endif
