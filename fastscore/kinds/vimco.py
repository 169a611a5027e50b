"""VIMCO ("vimco"): the multi-sample objective's leave-one-out signals."""

import numpy as np
from scipy import special

from .._options import NUM_DRAWS
from .base import EstimatorKind


class VIMCO(EstimatorKind):
    """VIMCO (Mnih, Rezende 2016): the multi-sample objective
    L = log((1/K) sum_k w(x_k)), x_1..x_K independent draws of the distribution,
    f = log w given by the user (``num_draws=K``).

    Per group of K draws, the gradient is sum_k (L - L_-k) d/dtheta log p(x_k),
    with the leave-one-out L_-k in which log w(x_k) is replaced by the mean of
    the other K - 1 (the geometric mean of their w): an unbiased gradient of
    E[L], each draw's learning signal free of its own sample.  ``n`` is the
    number of groups (n K draws in all); the value is E[L], and every standard
    error is that of a mean of independent groups.
    """

    name = "vimco"
    slot = "score"
    kernel = "measure"   # not a kernel loop: its terms fold into a mean block
    needs = frozenset({"f"})
    terms_description = "the leave-one-out learning signals times each draw's score"
    options = {"num_draws": NUM_DRAWS}
    waves = True

    def plan_for(self, dist):
        from .. import _wrapped
        from ..joint import Independent, replicate

        k = self.settings["num_draws"]
        orig = dist.score_plan()
        return _wrapped.MultiSamplePlan(orig, Independent(replicate(dist, k), 1).score_plan(), k)

    def wave_factor(self, plan):
        return plan.k

    def wave_terms(self, plan, pf, x, backend, aux=None):
        """L per group of K draws, and sum_k (L - L_-k) times each draw's score."""
        m, B, K = x.shape[0], plan.batch_size, plan.k
        lw = pf.values(plan.draws(x), plan.orig, backend).reshape(m, K, B).transpose(0, 2, 1)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            L = special.logsumexp(lw, axis=-1) - np.log(K)
            hat = (lw.sum(axis=-1, keepdims=True) - lw) / (K - 1)
            loo = np.empty_like(lw)
            for k in range(K):
                z = lw.copy()
                z[..., k] = hat[..., k]
                loo[..., k] = special.logsumexp(z, axis=-1) - np.log(K)
            signal = L[..., None] - loo                                  # (m, B, K)
            terms = [np.einsum("mbk,mbkc->mbc", signal, S) for S in plan.per_draw_scores(x)]
        return L, np.concatenate(terms, axis=-1)
