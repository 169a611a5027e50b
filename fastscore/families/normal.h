/* Normal's score and pathwise terms, each written once: the expression
 * macro gives both the fused steps over a block (FS__SCORE_FOLD,
 * FS__PATHWISE_FOLD of _foldsteps.h) and the one-sample functions that
 * normal_score and normal_pathwise (normal.pxi) call, so the two round alike.
 * LogNormal's (lognormal.h) are these on y = log x. */
#ifndef FASTSCORE_FAMILY_NORMAL_H
#define FASTSCORE_FAMILY_NORMAL_H

#include "_foldsteps.h"

/* z = (x - loc) / scale; d/dloc = z / scale, d/dscale = (z^2 - 1) / scale
 * (inv = 1 / scale). */
#define FS__NORMAL_SCORE(T, xv, uv, s, KEEP)                                            \
    do {                                                                                \
        T z_ = ((xv) - loc) * inv;                                                      \
        (s)[0] = z_ * inv;                                                              \
        (s)[1] = (z_ * z_ - 1.0) * inv;                                                 \
    } while (0)
FS__SCORE_FOLD(normal, 2, (double loc, double inv), (loc, inv), FS__NORMAL_SCORE)
FS__SCORE_ONE(normal, (double loc, double inv), FS__NORMAL_SCORE)

/* x = loc + scale z: dx/dloc = 1, dx/dscale = z. */
#define FS__NORMAL_PATHWISE(T, xv, uv, fp, t)                                           \
    do {                                                                                \
        (t)[0] = (fp);                                                                  \
        (t)[1] = (fp) * (((xv) - loc) * inv);                                           \
    } while (0)
FS__PATHWISE_FOLD(normal, 2, (double loc, double inv), (loc, inv), FS__NORMAL_PATHWISE)
FS__PATHWISE_ONE(normal, (double loc, double inv), FS__NORMAL_PATHWISE)

#endif
