/* Geometric's scores (by probs, by logits), each written once for the fused
 * step and the one-sample function (as normal.h). */
#ifndef FASTSCORE_FAMILY_GEOMETRIC_H
#define FASTSCORE_FAMILY_GEOMETRIC_H

#include "_foldsteps.h"

/* By probs: 1 / p - x / (1 - p), the second term 0 at x = 0 (the only sample
 * at p = 1). */
#define FS__GEOMETRIC_PROBS_SCORE(T, xv, uv, s, KEEP)                                   \
    ((s)[0] = inv_p - KEEP((xv) > 0.0, (xv) * inv_q))
FS__SCORE_FOLD(geometric_probs, 1, (double inv_p, double inv_q), (inv_p, inv_q),
               FS__GEOMETRIC_PROBS_SCORE)
FS__SCORE_ONE(geometric_probs, (double inv_p, double inv_q), FS__GEOMETRIC_PROBS_SCORE)

/* By logits: q - x p. */
#define FS__GEOMETRIC_LOGITS_SCORE(T, xv, uv, s, KEEP) ((s)[0] = q - (xv) * p)
FS__SCORE_FOLD(geometric_logits, 1, (double q, double p), (q, p),
               FS__GEOMETRIC_LOGITS_SCORE)
FS__SCORE_ONE(geometric_logits, (double q, double p), FS__GEOMETRIC_LOGITS_SCORE)

#endif
