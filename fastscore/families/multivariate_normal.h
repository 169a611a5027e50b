/* MultivariateNormal's fused loops over the samples of small events (E = 2 to
 * FS__SMALL_E of _rowops.h): its draw x = loc + L z, score terms and pathwise
 * terms, each the operations of the per-event steps of multivariate_normal.pxi,
 * built for every ISA (_isa.h) and switched by the engine's mvn_fused. */
#ifndef FASTSCORE_FAMILY_MULTIVARIATE_NORMAL_H
#define FASTSCORE_FAMILY_MULTIVARIATE_NORMAL_H

#include "_rowops.h"

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

#endif
