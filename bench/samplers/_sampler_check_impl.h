/*
 * C side of the sampler test harness (bench/samplers/_sampler_check.pyx):
 * counts the samplers' branch events and dispatches a family name to its
 * fill, the way the kernels will call the headers (blocks of at most
 * `block` draws into a buffer) or one draw at a time (the scalar samplers).
 */
#ifndef FS_SAMPLER_CHECK_IMPL_H
#define FS_SAMPLER_CHECK_IMPL_H

#include <stdint.h>
#include <string.h>

static int64_t fs_check_counts[64];
static int64_t fs_check_levels[2][256];
#define FS_COUNT(event) (fs_check_counts[event]++)
#define FS_COUNT_LEVEL(table, level) (fs_check_levels[table][level]++)

#include "_samplers.h"

enum {
    CK_UNIFORM, CK_STANDARD_NORMAL, CK_NORMAL, CK_LOGNORMAL, CK_STANDARD_EXPONENTIAL,
    CK_EXPONENTIAL, CK_STANDARD_GAMMA, CK_GAMMA, CK_CHISQUARE, CK_BETA, CK_POISSON,
    CK_NEGATIVE_BINOMIAL, CK_GEOMETRIC, CK_DIRICHLET
};

/* Parameters of one family, set up once (as a kernel would per element). */
typedef struct {
    int fam;
    double p0, p1;
    fs_gamma_t g;
    fs_beta_t beta;
    fs_poisson_t pois;
    fs_negbin_t nb;
    fs_geometric_t geo;
    int64_t K;
    fs_gamma_t *gk;     /* dirichlet: K set-ups (caller-owned) */
} ck_family;

static void ck_setup(ck_family *f, int fam, double p0, double p1)
{
    memset(f, 0, sizeof *f);
    f->fam = fam;
    f->p0 = p0;
    f->p1 = p1;
    switch (fam) {
    case CK_STANDARD_GAMMA: case CK_GAMMA: fs_gamma_setup(&f->g, p0); break;
    case CK_CHISQUARE: fs_gamma_setup(&f->g, p0 / 2.0); break;
    case CK_BETA: fs_beta_setup(&f->beta, p0, p1); break;
    case CK_POISSON: fs_poisson_setup(&f->pois, p0); break;
    case CK_NEGATIVE_BINOMIAL: fs_negbin_setup(&f->nb, p0, p1); break;
    case CK_GEOMETRIC: fs_geometric_setup(&f->geo, p0); break;
    default: break;
    }
}

/* Values per draw (K for the Dirichlet gammas, else 1). */
static int64_t ck_width(const ck_family *f) { return f->fam == CK_DIRICHLET ? f->K : 1; }

/* m draws with the block fills, into out. */
static void ck_fill(fs_stream *s, const ck_family *f, double *out, int64_t m)
{
    switch (f->fam) {
    case CK_UNIFORM: fs_fill_uniform(s, out, m); break;
    case CK_STANDARD_NORMAL: fs_fill_standard_normal(s, out, m); break;
    case CK_NORMAL: fs_fill_normal(s, f->p0, f->p1, out, m); break;
    case CK_LOGNORMAL: fs_fill_lognormal(s, f->p0, f->p1, out, m); break;
    case CK_STANDARD_EXPONENTIAL: fs_fill_standard_exponential(s, out, m); break;
    case CK_EXPONENTIAL: fs_fill_exponential(s, f->p0, out, m); break;
    case CK_STANDARD_GAMMA: fs_fill_standard_gamma(s, &f->g, out, m); break;
    case CK_GAMMA: fs_fill_gamma(s, &f->g, f->p1, out, m); break;
    case CK_CHISQUARE: fs_fill_chisquare(s, &f->g, out, m); break;
    case CK_BETA: fs_fill_beta(s, &f->beta, out, m); break;
    case CK_POISSON: fs_fill_poisson(s, &f->pois, out, m); break;
    case CK_NEGATIVE_BINOMIAL: fs_fill_negative_binomial(s, &f->nb, out, m); break;
    case CK_GEOMETRIC: fs_fill_geometric(s, &f->geo, out, m); break;
    case CK_DIRICHLET: fs_fill_dirichlet_gammas(s, f->gk, f->K, out, m); break;
    }
}

/* One draw with the scalar samplers (their convenience forms, which set
 * up from the raw parameters on every call). */
static void ck_one(fs_stream *s, const ck_family *f, double *out)
{
    int64_t k;
    switch (f->fam) {
    case CK_UNIFORM: out[0] = fs_uniform(s); break;
    case CK_STANDARD_NORMAL: out[0] = fs_standard_normal(s); break;
    case CK_NORMAL: out[0] = fs_normal(s, f->p0, f->p1); break;
    case CK_LOGNORMAL: out[0] = fs_lognormal(s, f->p0, f->p1); break;
    case CK_STANDARD_EXPONENTIAL: out[0] = fs_standard_exponential(s); break;
    case CK_EXPONENTIAL: out[0] = fs_exponential(s, f->p0); break;
    case CK_STANDARD_GAMMA: out[0] = fs_standard_gamma(s, f->p0); break;
    case CK_GAMMA: out[0] = fs_gamma(s, f->p0, f->p1); break;
    case CK_CHISQUARE: out[0] = fs_chisquare(s, f->p0); break;
    case CK_BETA: out[0] = fs_beta(s, f->p0, f->p1); break;
    case CK_POISSON: out[0] = (double)fs_poisson(s, f->p0); break;
    case CK_NEGATIVE_BINOMIAL: out[0] = (double)fs_negative_binomial(s, f->p0, f->p1); break;
    case CK_GEOMETRIC: out[0] = (double)fs_geometric(s, f->p0); break;
    case CK_DIRICHLET:
        for (k = 0; k < f->K; k++)
            out[k] = fs_standard_gamma(s, f->gk[k].shape);
        break;
    }
}

/* n draws into out, in blocks of `block` draws through a stack buffer (the
 * kernels' pattern; block <= 0: straight into out in one fill), or one at a
 * time (scalar != 0). */
static void ck_draw(fs_stream *s, const ck_family *f, double *out, int64_t n, int64_t block,
                    int scalar)
{
    int64_t w = ck_width(f), done = 0;
    if (scalar) {
        for (done = 0; done < n; done++)
            ck_one(s, f, out + done * w);
        return;
    }
    if (block <= 0) {
        ck_fill(s, f, out, n);
        return;
    }
    {
        double buf[4096];
        if (block * w > 4096)
            block = 4096 / w;
        while (done < n) {
            int64_t cnt = n - done < block ? n - done : block;
            ck_fill(s, f, buf, cnt);
            memcpy(out + done * w, buf, (size_t)(cnt * w) * sizeof(double));
            done += cnt;
        }
    }
}

#endif
