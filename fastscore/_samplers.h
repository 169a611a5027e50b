/*
 * Inline samplers on an fs_stream (_stream.h), each returning what numpy's
 * C function of the same algorithm (numpy/random/src/distributions/
 * distributions.c, numpy 2.x) returns from the same Philox words: same
 * words consumed, same branches, same floating-point operations in the same
 * order (build with -ffp-contract=off and without -ffast-math, as numpy
 * is; log, exp, pow and log1p come from the C library, as numpy's do: the
 * identity holds where both use the same libm at run time, as numpy's
 * wheels, which link the system's libm, and this library do).
 *
 *   sampler                      numpy function              words per draw
 *   fs_uniform                   random_standard_uniform     1
 *   fs_standard_normal           random_standard_normal      1 (ziggurat; more on rejection)
 *   fs_normal, fs_lognormal      random_normal, random_lognormal
 *   fs_standard_exponential      random_standard_exponential 1 (ziggurat)
 *   fs_exponential               random_exponential
 *   fs_standard_gamma, fs_gamma  random_standard_gamma, random_gamma
 *   fs_chisquare                 random_chisquare
 *   fs_beta                      random_beta
 *   fs_poisson                   random_poisson
 *   fs_negative_binomial         random_negative_binomial
 *   fs_geometric                 random_geometric
 * None of them uses 32-bit draws (only numpy's float32 and bounded-integer
 * samplers do), so the stream's has_uint32 state is never touched here.
 *
 * Families with a shape parameter take a setup struct (fs_*_setup, then
 * fs_*_draw(s, &setup) or a fill; fs_gamma(s, shape, scale) and the like
 * set up on every call): what numpy recomputes from the parameter on every
 * call (1/shape, the PTRS constants, log1p(-p), the geometric search's
 * running sums, ...) is computed once; it is the same expression on the
 * same double, so the same value.  Parameters must be valid (numpy checks
 * them in Python, before its C code runs; so must the caller).
 *
 * Block fills (fs_fill_*) write m draws to out[0..m); the integer families
 * write their values as doubles, as the kernels store them.  numpy's
 * rejection samplers loop over attempts that start afresh (nothing carries
 * from one attempt to the next), and most attempts read a fixed number of
 * words K: the ziggurats (K = 1, when the word falls in its level's
 * rectangle), Marsaglia-Tsang gamma and small-shape gamma (K = 2, when
 * their normal / exponential needs one word), Johnk beta and PTRS Poisson
 * (K = 2 always).  Their fills are speculative (FS_SPECULATIVE_FILL, and
 * FS_SPECULATIVE_FILL1 for the one-word ziggurat tries): they
 * run attempts on the words already in the stream's buffer, with no
 * per-word bookkeeping; an attempt that would need more words than its K
 * (a ziggurat wedge or tail, a refill in the middle) is redone from its
 * first word by the exact serial sampler.  Since an attempt depends on its
 * words only, every draw is numpy's draw from the same words.
 *
 * The ziggurat tables come from _ziggurat_tables.h, generated at build time
 * by _gen_ziggurat.py.
 */
#ifndef FASTSCORE_SAMPLERS_H
#define FASTSCORE_SAMPLERS_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "_stream.h"
#include "_ziggurat_tables.h"

/* Branch events, counted only when the includer defines FS_COUNT(event),
 * and ziggurat levels of first tries, FS_COUNT_LEVEL(table, level) with
 * table 0 normal, 1 exponential (the test harness does, to show that its
 * draws reach every branch and level). */
enum {
    FS_EV_NOR_TAIL, FS_EV_NOR_WEDGE_ACCEPT, FS_EV_NOR_WEDGE_REJECT,
    FS_EV_EXP_TAIL, FS_EV_EXP_WEDGE_ACCEPT, FS_EV_EXP_WEDGE_REJECT,
    FS_EV_GAMMA_SMALL_POW, FS_EV_GAMMA_SMALL_LOG, FS_EV_GAMMA_SMALL_REJECT,
    FS_EV_GAMMA_MT_VNEG, FS_EV_GAMMA_MT_SQUEEZE, FS_EV_GAMMA_MT_LOG_ACCEPT,
    FS_EV_GAMMA_MT_REJECT,
    FS_EV_BETA_TINY, FS_EV_BETA_JOHNK_ACCEPT, FS_EV_BETA_JOHNK_UNDERFLOW,
    FS_EV_BETA_JOHNK_REJECT, FS_EV_BETA_GAMMAS,
    FS_EV_POISSON_MULT, FS_EV_POISSON_PTRS_QUICK, FS_EV_POISSON_PTRS_SKIP,
    FS_EV_POISSON_PTRS_LOG_ACCEPT, FS_EV_POISSON_PTRS_REJECT,
    FS_EV_GEOM_SEARCH, FS_EV_GEOM_SEARCH_LONG, FS_EV_GEOM_INVERSION, FS_EV_GEOM_CLAMP,
    FS_EV_FILL_FALLBACK, FS_EV_FILL_STRADDLE,
    FS_EV_COUNT
};
#ifndef FS_COUNT
#define FS_COUNT(event) ((void)0)
#endif
#ifndef FS_COUNT_LEVEL
#define FS_COUNT_LEVEL(table, level) ((void)0)
#endif

/* x, hidden from the optimiser.  The set-ups pass their parameters through
 * it before libm sees them: were a parameter a compile-time constant, the
 * compiler would evaluate exp / log / log1p of it at build time (correctly
 * rounded, where libm is not always) or turn pow(u, 2.0) into u * u, and a
 * draw could differ from numpy's in its last bit.  Costs one store and
 * load per set-up, none per draw. */
static inline double fs_opaque(double x)
{
    volatile double v = x;
    return v;
}

/* ------------------------------------------------------------ uniform */

static inline double fs_uniform(fs_stream *s) { return fs_next_double(s); }

/* Outcome of one attempt of a rejection sampler on its K words. */
enum {
    FS_SERIAL = 0,  /* needs more words than K: redo it with the serial sampler */
    FS_DONE = 1,    /* accepted: the draw is complete */
    FS_AGAIN = 2    /* rejected after exactly K words: the next attempt follows */
};

/* ------------------------------------------------------------ normal */

/* A 64-bit word read as numpy's normal ziggurat reads it: bits 0-7 pick
 * the level, bit 8 the sign, bits 9-60 the 52-bit magnitude (rabs). */
#define FS_NOR_IDX(w) ((int)((w) & 0xFF))
#define FS_NOR_RABS(w) (((w) >> 9) & 0x000FFFFFFFFFFFFFULL)
#define FS_NOR_NEG(w) (((w) >> 8) & 1)

/* -v when neg is 1, v when 0, without a branch: negation flips the sign
 * bit and nothing else, so this is bit for bit numpy's `x = -x`; a branch
 * on a random bit would mispredict on every other draw (measured: 6.6 ->
 * 3.5 ns per normal). */
static inline double fs_negate_if(double v, uint64_t neg)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits ^= neg << 63;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* First try on word w: the candidate x (signed), and whether it lies in
 * the level's rectangle (99.3% of words); if not, the wedge or tail test
 * needs more words (fs_standard_normal_serial). */
static inline int fs_normal_try(uint64_t w, double *x)
{
    int idx = FS_NOR_IDX(w);
    uint64_t rabs = FS_NOR_RABS(w);
    FS_COUNT_LEVEL(0, idx);
    *x = fs_negate_if((double)rabs * fs_zig_nor_w[idx], FS_NOR_NEG(w));
    return rabs < fs_zig_nor_k[idx];
}

/* numpy's random_standard_normal, whole. */
static FS_NOINLINE FS_UNUSED double fs_standard_normal_serial(fs_stream *s)
{
    for (;;) {
        uint64_t w = fs_next64(s);
        int idx = FS_NOR_IDX(w);
        uint64_t rabs = FS_NOR_RABS(w);
        double x;
        if (fs_normal_try(w, &x))
            return x;
        if (idx == 0) {
            /* tail beyond r: Marsaglia's exponential rejection, on 1 - U
             * (log1p(-U)) so that log(0) cannot occur */
            FS_COUNT(FS_EV_NOR_TAIL);
            for (;;) {
                double xx = -FS_ZIG_NOR_INV_R * log1p(-fs_next_double(s));
                double yy = -log1p(-fs_next_double(s));
                if (yy + yy > xx * xx)
                    return ((rabs >> 8) & 0x1) ? -(FS_ZIG_NOR_R + xx) : FS_ZIG_NOR_R + xx;
            }
        }
        /* wedge between the level's rectangle and the density */
        if ((fs_zig_nor_f[idx - 1] - fs_zig_nor_f[idx]) * fs_next_double(s) + fs_zig_nor_f[idx]
            < exp(-0.5 * x * x)) {
            FS_COUNT(FS_EV_NOR_WEDGE_ACCEPT);
            return x;
        }
        FS_COUNT(FS_EV_NOR_WEDGE_REJECT);
    }
}

static inline double fs_standard_normal(fs_stream *s)
{
    int avail;
    double x;
    /* peek, not next64: a word that fails the try is re-read by the
     * serial sampler, which starts the draw over */
    const uint64_t *w = fs_stream_peek(s, &avail);
    if (FS_LIKELY(fs_normal_try(*w, &x))) {
        fs_stream_consume(s, 1);
        return x;
    }
    return fs_standard_normal_serial(s);
}

static inline double fs_normal(fs_stream *s, double loc, double scale)
{
    return loc + scale * fs_standard_normal(s);
}

static inline double fs_lognormal(fs_stream *s, double mean, double sigma)
{
    return exp(fs_normal(s, mean, sigma));
}

/* ------------------------------------------------------------ exponential */

/* numpy's exponential ziggurat reads bits 3-10 as the level and bits
 * 11-63 as the 53-bit magnitude ri. */
static inline int fs_exponential_try(uint64_t w, double *x)
{
    uint64_t ri = w >> 3;
    int idx = (int)(ri & 0xFF);
    FS_COUNT_LEVEL(1, idx);
    ri >>= 8;
    *x = (double)ri * fs_zig_exp_w[idx];
    return ri < fs_zig_exp_k[idx];
}

/* numpy's random_standard_exponential, whole (its recursion after a wedge
 * rejection is a fresh draw: the loop here). */
static FS_NOINLINE FS_UNUSED double fs_standard_exponential_serial(fs_stream *s)
{
    for (;;) {
        uint64_t w = fs_next64(s);
        int idx = (int)((w >> 3) & 0xFF);
        double x;
        if (fs_exponential_try(w, &x))
            return x;
        if (idx == 0) {  /* tail: memoryless, r + Exp(1) by inversion on 1 - U */
            FS_COUNT(FS_EV_EXP_TAIL);
            return FS_ZIG_EXP_R - log1p(-fs_next_double(s));
        }
        if ((fs_zig_exp_f[idx - 1] - fs_zig_exp_f[idx]) * fs_next_double(s) + fs_zig_exp_f[idx]
            < exp(-x)) {
            FS_COUNT(FS_EV_EXP_WEDGE_ACCEPT);
            return x;
        }
        FS_COUNT(FS_EV_EXP_WEDGE_REJECT);
    }
}

static inline double fs_standard_exponential(fs_stream *s)
{
    int avail;
    double x;
    const uint64_t *w = fs_stream_peek(s, &avail);
    if (FS_LIKELY(fs_exponential_try(*w, &x))) {
        fs_stream_consume(s, 1);
        return x;
    }
    return fs_standard_exponential_serial(s);
}

static inline double fs_exponential(fs_stream *s, double scale)
{
    return scale * fs_standard_exponential(s);
}

/* ------------------------------------------------------------ gamma */

enum { FS_GAMMA_ZERO, FS_GAMMA_EXPONENTIAL, FS_GAMMA_SMALL, FS_GAMMA_MT };

typedef struct {
    double shape;
    int branch;             /* numpy's branch for this shape (FS_GAMMA_*) */
    double inv_shape;       /* small shape: 1. / shape, 1.0 - shape */
    double one_minus_shape;
    double b, c;            /* Marsaglia-Tsang: b = shape - 1/3, c = 1/sqrt(9 b) */
} fs_gamma_t;

/* Each branch's constants only, so that no set-up raises a floating-point
 * exception flag (1/0, sqrt of a negative) that numpy's draws would not. */
static inline void fs_gamma_setup(fs_gamma_t *g, double shape)
{
    memset(g, 0, sizeof *g);
    g->shape = shape;
    /* in the order of numpy's tests (a NaN shape falls through to MT) */
    if (shape == 1.0) {
        g->branch = FS_GAMMA_EXPONENTIAL;
    } else if (shape == 0.0) {
        g->branch = FS_GAMMA_ZERO;
    } else if (shape < 1.0) {
        g->branch = FS_GAMMA_SMALL;
        g->inv_shape = fs_opaque(1. / shape);
        g->one_minus_shape = 1.0 - shape;
    } else {
        g->branch = FS_GAMMA_MT;
        g->b = shape - 1. / 3.;
        g->c = 1. / sqrt(9 * g->b);
    }
}

/* Marsaglia-Tsang (2000), shape > 1: the tests of one attempt, given the
 * normal X, V = (1 + c X)^3 > 0 and the uniform U. */
static inline int fs_gamma_mt_test(const fs_gamma_t *g, double X, double V, double U, double *x)
{
    /* the squeeze accepts most attempts without a logarithm */
    if (U < 1.0 - 0.0331 * (X * X) * (X * X)) {
        FS_COUNT(FS_EV_GAMMA_MT_SQUEEZE);
        *x = g->b * V;
        return FS_DONE;
    }
    /* log(0.0) ok here */
    if (log(U) < 0.5 * X * X + g->b * (1. - V + log(V))) {
        FS_COUNT(FS_EV_GAMMA_MT_LOG_ACCEPT);
        *x = g->b * V;
        return FS_DONE;
    }
    FS_COUNT(FS_EV_GAMMA_MT_REJECT);
    return FS_AGAIN;
}

static FS_NOINLINE FS_UNUSED double fs_gamma_mt_serial(fs_stream *s, const fs_gamma_t *g)
{
    for (;;) {
        double X, V, U, x;
        for (;;) {  /* numpy's do { ... } while (V <= 0.0) */
            X = fs_standard_normal(s);
            V = 1.0 + g->c * X;
            if (!(V <= 0.0))
                break;
            FS_COUNT(FS_EV_GAMMA_MT_VNEG);
        }
        V = V * V * V;
        U = fs_next_double(s);
        if (fs_gamma_mt_test(g, X, V, U, &x) == FS_DONE)
            return x;
    }
}

/* An attempt on two words: the normal from w[0] (if one word makes it),
 * 1 + c X > 0 (else numpy draws another normal: serial), U from w[1]. */
static inline int fs_gamma_mt_attempt(const fs_gamma_t *g, const uint64_t *w, double *x)
{
    double X, V;
    if (!fs_normal_try(w[0], &X))
        return FS_SERIAL;
    V = 1.0 + g->c * X;
    if (V <= 0.0)
        return FS_SERIAL;
    V = V * V * V;
    return fs_gamma_mt_test(g, X, V, fs_word_to_double(w[1]), x);
}

/* shape < 1: numpy's rejection from a power / exponential mixture; the
 * test of one attempt with uniform U and standard exponential V. */
static inline int fs_gamma_small_test(const fs_gamma_t *g, double U, double V, double *x)
{
    double X, Y;
    if (U <= g->one_minus_shape) {
        FS_COUNT(FS_EV_GAMMA_SMALL_POW);
        X = pow(U, g->inv_shape);
        if (X <= V) {
            *x = X;
            return FS_DONE;
        }
    } else {
        FS_COUNT(FS_EV_GAMMA_SMALL_LOG);
        Y = -log((1 - U) / g->shape);
        X = pow(g->one_minus_shape + g->shape * Y, g->inv_shape);
        if (X <= (V + Y)) {
            *x = X;
            return FS_DONE;
        }
    }
    FS_COUNT(FS_EV_GAMMA_SMALL_REJECT);
    return FS_AGAIN;
}

static FS_NOINLINE FS_UNUSED double fs_gamma_small_serial(fs_stream *s, const fs_gamma_t *g)
{
    for (;;) {
        double U = fs_next_double(s), x;
        double V = fs_standard_exponential(s);
        if (fs_gamma_small_test(g, U, V, &x) == FS_DONE)
            return x;
    }
}

/* An attempt on two words: U from w[0], the exponential from w[1] (if one
 * word makes it). */
static inline int fs_gamma_small_attempt(const fs_gamma_t *g, const uint64_t *w, double *x)
{
    double V;
    if (!fs_exponential_try(w[1], &V))
        return FS_SERIAL;
    return fs_gamma_small_test(g, fs_word_to_double(w[0]), V, x);
}

static inline double fs_standard_gamma_draw(fs_stream *s, const fs_gamma_t *g)
{
    switch (g->branch) {
    case FS_GAMMA_EXPONENTIAL:
        return fs_standard_exponential(s);
    case FS_GAMMA_ZERO:
        return 0.0;
    case FS_GAMMA_SMALL:
        return fs_gamma_small_serial(s, g);
    default:
        return fs_gamma_mt_serial(s, g);
    }
}

static inline double fs_standard_gamma(fs_stream *s, double shape)
{
    fs_gamma_t g;
    fs_gamma_setup(&g, shape);
    return fs_standard_gamma_draw(s, &g);
}

static inline double fs_gamma(fs_stream *s, double shape, double scale)
{
    return scale * fs_standard_gamma(s, shape);
}

static inline double fs_chisquare(fs_stream *s, double df)
{
    return 2.0 * fs_standard_gamma(s, df / 2.0);
}

/* ------------------------------------------------------------ beta */

/* numpy: below this, for a and b both, X and Y underflow but for
 * probability ~1e-100; one uniform then decides between 0 and 1 */
#define FS_BETA_TINY 3e-103

typedef struct {
    double a, b;
    int johnk;              /* a <= 1 and b <= 1: Johnk's algorithm */
    int tiny;               /* ... with a, b < FS_BETA_TINY */
    double inv_a, inv_b;    /* 1.0 / a, 1.0 / b */
    fs_gamma_t ga, gb;      /* otherwise Ga / (Ga + Gb) */
} fs_beta_t;

static inline void fs_beta_setup(fs_beta_t *p, double a, double b)
{
    memset(p, 0, sizeof *p);
    p->a = a;
    p->b = b;
    p->johnk = (a <= 1.0) && (b <= 1.0);
    p->tiny = a < FS_BETA_TINY && b < FS_BETA_TINY;
    if (p->johnk) {
        p->inv_a = fs_opaque(1.0 / a);
        p->inv_b = fs_opaque(1.0 / b);
    } else {
        fs_gamma_setup(&p->ga, a);
        fs_gamma_setup(&p->gb, b);
    }
}

/* One attempt of Johnk's algorithm on the uniforms U, V. */
static inline int fs_beta_johnk_test(const fs_beta_t *p, double U, double V, double *x)
{
    double X = pow(U, p->inv_a), Y = pow(V, p->inv_b), XpY = X + Y;
    /* Reject if both U and V are 0.0, which is approx 1 in 10^106 */
    if ((XpY <= 1.0) && (U + V > 0.0)) {
        if ((X > 0) && (Y > 0)) {
            FS_COUNT(FS_EV_BETA_JOHNK_ACCEPT);
            *x = X / XpY;
        } else {
            /* X or Y underflowed: X / (X + Y) from logarithms */
            double logX = log(U) / p->a;
            double logY = log(V) / p->b;
            double delta = logX - logY;
            FS_COUNT(FS_EV_BETA_JOHNK_UNDERFLOW);
            if (delta > 0)
                *x = exp(-log1p(exp(-delta)));
            else
                *x = exp(delta - log1p(exp(delta)));
        }
        return FS_DONE;
    }
    FS_COUNT(FS_EV_BETA_JOHNK_REJECT);
    return FS_AGAIN;
}

static inline int fs_beta_johnk_attempt(const fs_beta_t *p, const uint64_t *w, double *x)
{
    return fs_beta_johnk_test(p, fs_word_to_double(w[0]), fs_word_to_double(w[1]), x);
}

static FS_NOINLINE FS_UNUSED double fs_beta_serial(fs_stream *s, const fs_beta_t *p)
{
    if (p->johnk) {
        if (p->tiny) {
            double U = fs_next_double(s);
            FS_COUNT(FS_EV_BETA_TINY);
            return (p->a + p->b) * U < p->a;
        }
        for (;;) {
            double U = fs_next_double(s);
            double V = fs_next_double(s), x;
            if (fs_beta_johnk_test(p, U, V, &x) == FS_DONE)
                return x;
        }
    } else {
        double Ga = fs_standard_gamma_draw(s, &p->ga);
        double Gb = fs_standard_gamma_draw(s, &p->gb);
        FS_COUNT(FS_EV_BETA_GAMMAS);
        return Ga / (Ga + Gb);
    }
}

static inline double fs_beta_draw(fs_stream *s, const fs_beta_t *p) { return fs_beta_serial(s, p); }

static inline double fs_beta(fs_stream *s, double a, double b)
{
    fs_beta_t p;
    fs_beta_setup(&p, a, b);
    return fs_beta_draw(s, &p);
}

/* ------------------------------------------------------------ poisson */

/* log Gamma(x) as numpy's random_loggam computes it: the SPECFUN algorithm
 * (Zhang & Jin, "Computation of Special Functions", 1996): shift x up to
 * x0 >= 7, Stirling's series in 1/x0^2 by Horner, then shift back.  The
 * coefficients are B_2k / (2k (2k-1)) as SPECFUN prints them (the last one
 * to 15 digits); bit identity depends on these exact figures. */
static inline double fs_loggam(double x)
{
    static const double a[10] = {8.333333333333333e-02, -2.777777777777778e-03,
                                 7.936507936507937e-04, -5.952380952380952e-04,
                                 8.417508417508418e-04, -1.917526917526918e-03,
                                 6.410256410256410e-03, -2.955065359477124e-02,
                                 1.796443723688307e-01, -1.39243221690590e+00};
    double x0, x2, gl, gl0;
    int64_t k, n;
    if ((x == 1.0) || (x == 2.0))
        return 0.0;
    n = x < 7.0 ? (int64_t)(7 - x) : 0;
    x0 = x + n;
    x2 = (1.0 / x0) * (1.0 / x0);
    gl0 = a[9];
    for (k = 8; k >= 0; k--) {
        gl0 *= x2;
        gl0 += a[k];
    }
    /* 1.8378770664093453 = log(2 pi) */
    gl = gl0 / x0 + 0.5 * 1.8378770664093453e+00 + (x0 - 0.5) * log(x0) - x0;
    if (x < 7.0) {
        for (k = 1; k <= n; k++) {
            gl -= log(x0 - 1.0);
            x0 -= 1.0;
        }
    }
    return gl;
}

enum { FS_POISSON_ZERO, FS_POISSON_MULT, FS_POISSON_PTRS };

typedef struct {
    double lam;
    int branch;
    double enlam;                              /* mult: exp(-lam) */
    double slam, loglam, a, b, invalpha, vr;   /* PTRS (Hormann 1993) */
} fs_poisson_t;

/* (no memset: the negative binomial sets up a Poisson on every draw, and
 * each branch reads only its own fields) */
static inline void fs_poisson_setup(fs_poisson_t *p, double lam)
{
    p->lam = lam;
    if (lam >= 10) {
        p->branch = FS_POISSON_PTRS;
        lam = fs_opaque(lam);
        p->slam = sqrt(lam);
        p->loglam = log(lam);
        p->b = 0.931 + 2.53 * p->slam;
        p->a = -0.059 + 0.02483 * p->b;
        p->invalpha = 1.1239 + 1.1328 / (p->b - 3.4);
        p->vr = 0.9277 - 3.6224 / (p->b - 2);
    } else if (lam == 0) {
        p->branch = FS_POISSON_ZERO;
    } else {
        p->branch = FS_POISSON_MULT;
        p->enlam = exp(-fs_opaque(lam));
    }
}

/* Multiplication of uniforms (Knuth), lam < 10: X + 1 words. */
static inline int64_t fs_poisson_mult(fs_stream *s, const fs_poisson_t *p)
{
    int64_t X = 0;
    double prod = 1.0;
    FS_COUNT(FS_EV_POISSON_MULT);
    for (;;) {
        prod *= fs_next_double(s);
        if (prod > p->enlam)
            X += 1;
        else
            return X;
    }
}

/* One PTRS attempt on U (already shifted by -0.5) and V. */
static inline int fs_poisson_ptrs_test(const fs_poisson_t *p, double U, double V, int64_t *k)
{
    double us = 0.5 - fabs(U);
    *k = (int64_t)floor((2 * p->a / us + p->b) * U + p->lam + 0.43);
    if ((us >= 0.07) && (V <= p->vr)) {
        FS_COUNT(FS_EV_POISSON_PTRS_QUICK);
        return FS_DONE;
    }
    if ((*k < 0) || ((us < 0.013) && (V > us))) {
        FS_COUNT(FS_EV_POISSON_PTRS_SKIP);
        return FS_AGAIN;
    }
    /* log(V) == log(0.0) ok here; if U==0.0 so that us==0.0, log is ok
     * since always returns */
    if ((log(V) + log(p->invalpha) - log(p->a / (us * us) + p->b)) <=
        (-p->lam + (double)*k * p->loglam - fs_loggam((double)*k + 1))) {
        FS_COUNT(FS_EV_POISSON_PTRS_LOG_ACCEPT);
        return FS_DONE;
    }
    FS_COUNT(FS_EV_POISSON_PTRS_REJECT);
    return FS_AGAIN;
}

static FS_NOINLINE FS_UNUSED int64_t fs_poisson_ptrs_serial(fs_stream *s, const fs_poisson_t *p)
{
    for (;;) {
        double U = fs_next_double(s) - 0.5;
        double V = fs_next_double(s);
        int64_t k;
        if (fs_poisson_ptrs_test(p, U, V, &k) == FS_DONE)
            return k;
    }
}

static inline int fs_poisson_ptrs_attempt(const fs_poisson_t *p, const uint64_t *w, double *x)
{
    int64_t k;
    int r = fs_poisson_ptrs_test(p, fs_word_to_double(w[0]) - 0.5, fs_word_to_double(w[1]), &k);
    *x = (double)k;
    return r;
}

static inline int64_t fs_poisson_draw(fs_stream *s, const fs_poisson_t *p)
{
    if (p->branch == FS_POISSON_PTRS)
        return fs_poisson_ptrs_serial(s, p);
    if (p->branch == FS_POISSON_ZERO)
        return 0;
    return fs_poisson_mult(s, p);
}

static inline int64_t fs_poisson(fs_stream *s, double lam)
{
    fs_poisson_t p;
    fs_poisson_setup(&p, lam);
    return fs_poisson_draw(s, &p);
}

/* ------------------------------------------------------------ negative binomial */

/* Gamma-Poisson mixture: lam = ((1 - p) / p) * Gamma(n), then Poisson(lam)
 * (numpy: random_poisson(random_gamma(n, (1 - p) / p))). */
typedef struct {
    fs_gamma_t g;
    double scale;           /* (1 - p) / p */
} fs_negbin_t;

static inline void fs_negbin_setup(fs_negbin_t *q, double n, double p)
{
    fs_gamma_setup(&q->g, n);
    q->scale = (1 - p) / p;
}

static inline int64_t fs_negbin_draw(fs_stream *s, const fs_negbin_t *q)
{
    fs_poisson_t pp;
    fs_poisson_setup(&pp, q->scale * fs_standard_gamma_draw(s, &q->g));
    return fs_poisson_draw(s, &pp);
}

static inline int64_t fs_negative_binomial(fs_stream *s, double n, double p)
{
    fs_negbin_t q;
    fs_negbin_setup(&q, n, p);
    return fs_negbin_draw(s, &q);
}

/* ------------------------------------------------------------ geometric */

/* Entries of the search's table of running sums (see fs_geometric_draw). */
#define FS_GEOM_TABLE 16

typedef struct {
    double p, q;            /* q = 1 - p (search) */
    int search;             /* p >= 1/3: sequential search, else inversion */
    double log1p_neg_p;     /* inversion: log1p(-p) */
    double sum[FS_GEOM_TABLE];  /* search: numpy's running sums P(X <= k+1) */
    double prod_last;       /* ... and its last term, P(X = FS_GEOM_TABLE) */
} fs_geometric_t;

static inline void fs_geometric_setup(fs_geometric_t *g, double p)
{
    double sum = p, prod = p;
    int k;
    memset(g, 0, sizeof *g);
    g->p = p;
    g->q = 1.0 - p;
    /* numpy's cutoff literal 0.333333333333333333333333 is this double */
    g->search = p >= 1.0 / 3.0;
    if (!g->search) {
        g->log1p_neg_p = log1p(-fs_opaque(p));
        return;
    }
    /* numpy's loop computes these sums by the same recurrence, in the same
     * order, on every draw; here once (prod may underflow to 0: so it does
     * in numpy's loop) */
    g->sum[0] = sum;
    for (k = 1; k < FS_GEOM_TABLE; k++) {
        prod *= g->q;
        sum += prod;
        g->sum[k] = sum;
    }
    g->prod_last = prod;
}

static inline int64_t fs_geometric_draw(fs_stream *s, const fs_geometric_t *g)
{
    if (g->search) {
        /* numpy: X = the first k with U <= sum_k, trying k = 1, 2, ... The
         * sums never decrease, so for X <= FS_GEOM_TABLE it is one plus the
         * number of table sums below U: counted without a branch (numpy's
         * data-dependent loop exit mispredicts about once per draw). */
        double U = fs_next_double(s);
        FS_COUNT(FS_EV_GEOM_SEARCH);
        if (FS_LIKELY(U <= g->sum[FS_GEOM_TABLE - 1])) {
            int k, below = 0;
            for (k = 0; k < FS_GEOM_TABLE - 1; k++)
                below += g->sum[k] < U;
            return 1 + below;
        } else {
            /* numpy's loop, continued from the table's end */
            int64_t X = FS_GEOM_TABLE;
            double sum = g->sum[FS_GEOM_TABLE - 1], prod = g->prod_last;
            FS_COUNT(FS_EV_GEOM_SEARCH_LONG);
            while (U > sum) {
                prod *= g->q;
                sum += prod;
                X++;
            }
            return X;
        }
    } else {
        double z = ceil(-fs_standard_exponential(s) / g->log1p_neg_p);
        FS_COUNT(FS_EV_GEOM_INVERSION);
        /* 9.223372036854776e+18 is the smallest double above INT64_MAX */
        if (z >= 9.223372036854776e+18) {
            FS_COUNT(FS_EV_GEOM_CLAMP);
            return INT64_MAX;
        }
        return (int64_t)z;
    }
}

static inline int64_t fs_geometric(fs_stream *s, double p)
{
    fs_geometric_t g;
    fs_geometric_setup(&g, p);
    return fs_geometric_draw(s, &g);
}

/* ------------------------------------------------------------ block fills */

/*
 * FS_SPECULATIVE_FILL(NAME, PRM, K, ATTEMPT, SERIAL) defines
 *     void NAME(fs_stream *s, PRM prm, double *out, int64_t m)
 * for a sampler whose attempts start afresh and usually read K words:
 *     int ATTEMPT(PRM prm, const uint64_t *w, double *x)
 * runs one attempt on w[0..K) and returns FS_DONE (with *x), FS_AGAIN
 * (rejected, K words used) or FS_SERIAL (it needs more words); SERIAL(s,
 * prm) is numpy's sampler from the first word of an attempt.  Attempts run
 * on the words in the stream's buffer while K of them remain; an FS_SERIAL
 * attempt, or one whose words straddle a refill, is done by SERIAL.
 */
#define FS_SPECULATIVE_FILL(NAME, PRM, K, ATTEMPT, SERIAL)                           \
static inline void NAME(fs_stream *s, PRM prm, double *out, int64_t m)                \
{                                                                                     \
    int64_t i = 0;                                                                    \
    while (i < m) {                                                                   \
        int avail, used = 0, r = FS_DONE;                                             \
        const uint64_t *w = fs_stream_peek(s, &avail);                                \
        while (used + (K) <= avail && i < m) {                                        \
            r = ATTEMPT(prm, w + used, out + i);                                      \
            if (FS_UNLIKELY(r == FS_SERIAL))                                          \
                break;                                                                \
            used += (K);                                                              \
            i += (r == FS_DONE);                                                      \
        }                                                                             \
        fs_stream_consume(s, used);                                                   \
        if (i < m && used < avail) {                                                  \
            FS_COUNT(r == FS_SERIAL ? FS_EV_FILL_FALLBACK : FS_EV_FILL_STRADDLE);      \
            out[i++] = SERIAL(s, prm);                                                \
        }                                                                             \
    }                                                                                 \
}

/*
 * FS_SPECULATIVE_FILL1(NAME, TRY, SERIAL): the same for the ziggurats,
 * whose attempt is one word that either completes the draw (int TRY(w,
 * &x) nonzero) or needs the serial sampler (SERIAL(s)).  Written with one
 * counter, it measured faster than FS_SPECULATIVE_FILL with K = 1 (AMD Zen
 * 4: exponential 4.1 -> 3.5 ns, normal 3.6 -> 3.5); a vector version of
 * the tries (AVX2 / AVX-512 gathers) measured no faster than this loop and
 * is not kept.
 */
#define FS_SPECULATIVE_FILL1(NAME, TRY, SERIAL)                                      \
static inline void NAME(fs_stream *s, double *out, int64_t m)                         \
{                                                                                     \
    int64_t i = 0;                                                                    \
    while (i < m) {                                                                   \
        int avail, j, n;                                                              \
        const uint64_t *w = fs_stream_peek(s, &avail);                                \
        double *o = out + i;                                                          \
        n = (int64_t)avail < m - i ? avail : (int)(m - i);                            \
        for (j = 0; j < n; j++)                                                       \
            if (FS_UNLIKELY(!TRY(w[j], o + j)))                                       \
                break;                                                                \
        fs_stream_consume(s, j);                                                      \
        i += j;                                                                       \
        if (j < n) {                                                                  \
            FS_COUNT(FS_EV_FILL_FALLBACK);                                            \
            out[i++] = SERIAL(s);                                                     \
        }                                                                             \
    }                                                                                 \
}

/* Fills of the other samplers: one draw after another. */
#define FS_SERIAL_FILL(NAME, PRM, DRAW)                                               \
static inline void NAME(fs_stream *s, PRM prm, double *out, int64_t m)                \
{                                                                                     \
    int64_t i;                                                                        \
    for (i = 0; i < m; i++)                                                           \
        out[i] = (double)DRAW(s, prm);                                                \
}

#define FS_POISSON_PTRS_SERIAL(s, p) ((double)fs_poisson_ptrs_serial(s, p))

FS_SPECULATIVE_FILL1(fs_fill_standard_normal, fs_normal_try, fs_standard_normal_serial)
FS_SPECULATIVE_FILL1(fs_fill_standard_exponential, fs_exponential_try,
                     fs_standard_exponential_serial)
FS_SPECULATIVE_FILL(fs_fill_gamma_mt_, const fs_gamma_t *, 2, fs_gamma_mt_attempt,
                    fs_gamma_mt_serial)
FS_SPECULATIVE_FILL(fs_fill_gamma_small_, const fs_gamma_t *, 2, fs_gamma_small_attempt,
                    fs_gamma_small_serial)
FS_SPECULATIVE_FILL(fs_fill_beta_johnk_, const fs_beta_t *, 2, fs_beta_johnk_attempt,
                    fs_beta_serial)
FS_SPECULATIVE_FILL(fs_fill_poisson_ptrs_, const fs_poisson_t *, 2, fs_poisson_ptrs_attempt,
                    FS_POISSON_PTRS_SERIAL)

FS_SERIAL_FILL(fs_fill_beta_serial_, const fs_beta_t *, fs_beta_serial)
FS_SERIAL_FILL(fs_fill_poisson_serial_, const fs_poisson_t *, fs_poisson_draw)
FS_SERIAL_FILL(fs_fill_negative_binomial, const fs_negbin_t *, fs_negbin_draw)
FS_SERIAL_FILL(fs_fill_geometric, const fs_geometric_t *, fs_geometric_draw)

static inline void fs_fill_normal(fs_stream *s, double loc, double scale, double *out, int64_t m)
{
    int64_t i;
    fs_fill_standard_normal(s, out, m);
    for (i = 0; i < m; i++)
        out[i] = loc + scale * out[i];
}

static inline void fs_fill_lognormal(fs_stream *s, double mean, double sigma, double *out, int64_t m)
{
    int64_t i;
    fs_fill_standard_normal(s, out, m);
    for (i = 0; i < m; i++)
        out[i] = exp(mean + sigma * out[i]);
}

static inline void fs_fill_exponential(fs_stream *s, double scale, double *out, int64_t m)
{
    int64_t i;
    fs_fill_standard_exponential(s, out, m);
    for (i = 0; i < m; i++)
        out[i] = scale * out[i];
}

static inline void fs_fill_standard_gamma(fs_stream *s, const fs_gamma_t *g, double *out, int64_t m)
{
    int64_t i;
    switch (g->branch) {
    case FS_GAMMA_EXPONENTIAL:
        fs_fill_standard_exponential(s, out, m);
        return;
    case FS_GAMMA_ZERO:
        for (i = 0; i < m; i++)
            out[i] = 0.0;
        return;
    case FS_GAMMA_SMALL:
        fs_fill_gamma_small_(s, g, out, m);
        return;
    default:
        fs_fill_gamma_mt_(s, g, out, m);
    }
}

static inline void fs_fill_gamma(fs_stream *s, const fs_gamma_t *g, double scale, double *out, int64_t m)
{
    int64_t i;
    fs_fill_standard_gamma(s, g, out, m);
    for (i = 0; i < m; i++)
        out[i] = scale * out[i];
}

/* g set up with shape df / 2.0 (numpy: 2.0 * random_standard_gamma(df / 2.0)) */
static inline void fs_fill_chisquare(fs_stream *s, const fs_gamma_t *g, double *out, int64_t m)
{
    int64_t i;
    fs_fill_standard_gamma(s, g, out, m);
    for (i = 0; i < m; i++)
        out[i] = 2.0 * out[i];
}

static inline void fs_fill_beta(fs_stream *s, const fs_beta_t *p, double *out, int64_t m)
{
    if (p->johnk && !p->tiny)
        fs_fill_beta_johnk_(s, p, out, m);
    else
        fs_fill_beta_serial_(s, p, out, m);
}

static inline void fs_fill_poisson(fs_stream *s, const fs_poisson_t *p, double *out, int64_t m)
{
    if (p->branch == FS_POISSON_PTRS)
        fs_fill_poisson_ptrs_(s, p, out, m);
    else
        fs_fill_poisson_serial_(s, p, out, m);
}

/* m Dirichlet draws of K components as K standard gammas each (draw i's at
 * out[i K .. i K + K), in component order, as numpy draws them; g[k] set up
 * with alpha_k); the caller normalises. */
static inline void fs_fill_dirichlet_gammas(fs_stream *s, const fs_gamma_t *g, int64_t K,
                                            double *out, int64_t m)
{
    int64_t i, k;
    for (i = 0; i < m; i++)
        for (k = 0; k < K; k++)
            out[i * K + k] = fs_standard_gamma_draw(s, &g[k]);
}

#endif /* FASTSCORE_SAMPLERS_H */
