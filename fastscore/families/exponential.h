/* Exponential's score and pathwise terms (in its rate), each written once for
 * the fused steps and the one-sample functions (as normal.h). */
#ifndef FASTSCORE_FAMILY_EXPONENTIAL_H
#define FASTSCORE_FAMILY_EXPONENTIAL_H

#include "_foldsteps.h"

/* d/drate log p = 1 / rate - x (scale = 1 / rate). */
#define FS__EXPONENTIAL_SCORE(T, xv, uv, s, KEEP) ((s)[0] = scale - (xv))
FS__SCORE_FOLD(exponential, 1, (double scale), (scale), FS__EXPONENTIAL_SCORE)
FS__SCORE_ONE(exponential, (double scale), FS__EXPONENTIAL_SCORE)

/* x = e / rate: dx/drate = -x / rate. */
#define FS__EXPONENTIAL_PATHWISE(T, xv, uv, fp, t) ((t)[0] = -((fp) * (xv)) * scale)
FS__PATHWISE_FOLD(exponential, 1, (double scale), (scale), FS__EXPONENTIAL_PATHWISE)
FS__PATHWISE_ONE(exponential, (double scale), FS__EXPONENTIAL_PATHWISE)

#endif
