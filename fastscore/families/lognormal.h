/* LogNormal's pathwise terms, written once (as normal.h's): on y = log x,
 * with u = exp(y) = x.  Its score is Normal's on y (normal.h:
 * fs_normal_score, fs_score_fold_normal). */
#ifndef FASTSCORE_FAMILY_LOGNORMAL_H
#define FASTSCORE_FAMILY_LOGNORMAL_H

#include "_foldsteps.h"
#include "normal.h"

/* x = exp(loc + scale z): dx/dloc = x, dx/dscale = x z. */
#define FS__LOGNORMAL_Y_PATHWISE(T, yv, xv, fp, t)                                      \
    do {                                                                                \
        T z_ = ((yv) - loc) * inv;                                                      \
        (t)[0] = (fp) * (xv);                                                           \
        (t)[1] = (fp) * (xv) * z_;                                                      \
    } while (0)
FS__PATHWISE_FOLD(lognormal_y, 2, (double loc, double inv), (loc, inv),
                  FS__LOGNORMAL_Y_PATHWISE)
FS__PATHWISE_ONE(lognormal_y, (double loc, double inv), FS__LOGNORMAL_Y_PATHWISE)

#endif
