/* Poisson's score, written once for the fused step and the one-sample
 * function (as normal.h). */
#ifndef FASTSCORE_FAMILY_POISSON_H
#define FASTSCORE_FAMILY_POISSON_H

#include "_foldsteps.h"

/* x / rate - 1 (inv = 1 / rate). */
#define FS__POISSON_SCORE(T, xv, uv, s, KEEP) ((s)[0] = (xv) * inv - 1.0)
FS__SCORE_FOLD(poisson, 1, (double inv), (inv), FS__POISSON_SCORE)
FS__SCORE_ONE(poisson, (double inv), FS__POISSON_SCORE)

#endif
