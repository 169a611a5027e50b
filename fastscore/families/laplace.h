/* Laplace's score, written once (as normal.h's): the expression gives both
 * the fused step over a block (FS__SCORE_FOLD) and the one-sample function
 * fs_laplace_score that laplace_score (laplace.pxi) calls. */
#ifndef FASTSCORE_FAMILY_LAPLACE_H
#define FASTSCORE_FAMILY_LAPLACE_H

#include "_foldsteps.h"

/* log p = -|x - loc| / scale - log(2 scale), d = x - loc, z = d / scale:
 * d/dloc = sign(d) / scale, d/dscale = (|z| - 1) / scale (inv = 1 / scale).
 * sign(d) / scale and |z| by KEEP (one exact operation each: a value less
 * +0.0, or +0.0 less a value), so that vectors compute them as doubles do. */
#define FS__LAPLACE_SCORE(T, xv, uv, s, KEEP)                                           \
    do {                                                                                \
        T d_ = (xv) - loc, z_ = d_ * inv, iv_ = (T){0} + inv;                           \
        (s)[0] = KEEP(d_ > 0.0, iv_) - KEEP(d_ < 0.0, iv_);                             \
        (s)[1] = ((KEEP(z_ > 0.0, z_) - KEEP(z_ < 0.0, z_)) - 1.0) * inv;               \
    } while (0)
FS__SCORE_FOLD(laplace, 2, (double loc, double inv), (loc, inv), FS__LAPLACE_SCORE)
FS__SCORE_ONE(laplace, (double loc, double inv), FS__LAPLACE_SCORE)

#endif
