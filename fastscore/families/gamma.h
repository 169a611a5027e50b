/* Gamma's score, written once for the fused step and the one-sample function
 * (as normal.h), from x and u = log x (gamma_log: from either, the other
 * computed from it). */
#ifndef FASTSCORE_FAMILY_GAMMA_H
#define FASTSCORE_FAMILY_GAMMA_H

#include "_foldsteps.h"

/* log x + log rate - digamma(concentration), mean - x (c0, c1). */
#define FS__GAMMA_SCORE(T, xv, uv, s, KEEP)                                             \
    do {                                                                                \
        (s)[0] = (uv) + c0;                                                             \
        (s)[1] = c1 - (xv);                                                             \
    } while (0)
FS__SCORE_FOLD(gamma, 2, (double c0, double c1), (c0, c1), FS__GAMMA_SCORE)
FS__SCORE_ONE(gamma, (double c0, double c1), FS__GAMMA_SCORE)

#endif
