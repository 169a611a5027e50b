/* Chi2's score, written once for the fused step and the one-sample function
 * (as normal.h), from u = log x. */
#ifndef FASTSCORE_FAMILY_CHI2_H
#define FASTSCORE_FAMILY_CHI2_H

#include "_foldsteps.h"

/* (log x - log 2 - digamma(df / 2)) / 2 (c0 = log 2 + digamma(df / 2)). */
#define FS__CHI2_SCORE(T, xv, uv, s, KEEP) ((s)[0] = 0.5 * ((uv) - c0))
FS__SCORE_FOLD(chi2, 1, (double c0), (c0), FS__CHI2_SCORE)
FS__SCORE_ONE(chi2, (double c0), FS__CHI2_SCORE)

#endif
