"""IndeCateR ("indecater"): each coordinate's values summed exactly."""

import numpy as np

from .base import EstimatorKind


class IndeCateR(EstimatorKind):
    """IndeCateR (De Smet, Sansone, Zuidberg Dos Martires, NeurIPS 2023) for
    independent Bernoulli and Categorical coordinates (``fs.Independent`` of
    them; a lone one is an Independent of no dimensions).

    Per sample x and coordinate j, f is summed exactly over the coordinate's
    K values with the other coordinates held at the sample:
    d/dtheta_j E f = E_x[sum_k f(x_-j, k) dp_j(k)/dtheta_j], Rao-Blackwellised
    in x_j.  Unbiased; D K evaluations of f per sample (f at the sample
    among them); the gradient's
    standard error is that of the mean of independent per-sample terms.
    Runs in NumPy waves on the kernels' samples (any f, evaluated on them).
    """

    name = "indecater"
    slot = "indecater"
    kernel = "measure"   # not a kernel loop: its terms fold into a mean block
    needs = frozenset({"f"})
    terms_description = "each coordinate's f summed over its values, times dp/dtheta"
    waves = True
    #: Samples x coordinates one call of f holds at most.
    CALL_VALUES = 1 << 20

    def plan_for(self, dist):
        from ..joint import Independent

        if not isinstance(dist, Independent):
            dist = Independent(dist, 0)
        return dist.plan()

    def supports(self, plan):
        base = getattr(plan, "base", None)
        return (getattr(plan, "group", None) is not None and base.counted
                and base.support_probs is not None and base.measure_support is not None)

    def wave_factor(self, plan):
        return plan.base.support.size

    def check_family(self, plan):
        if not self.supports(plan):
            raise NotImplementedError("estimator='indecater' sums f over each coordinate's "
                                      "values: it takes Bernoulli and Categorical, alone or in "
                                      "fs.Independent; got %s" % plan.name)

    def wave_terms(self, plan, pf, x, backend, aux=None):
        """f at the samples, and each coordinate's exact sum over its values."""
        base = plan.base
        m, B, G = x.shape[0], plan.batch_size, plan.group
        sup = base.support
        V = sup.size
        probs = base.support_probs.reshape(B, G, V)
        plus, minus = (a.reshape(B, G, -1) for a in base.measure_support)
        coef = base.measure_coef.reshape(B, G, -1)
        F = np.empty((m, B, G, V))
        pairs = [(g, v) for g in range(G) for v in range(V)]
        step = max(1, self.CALL_VALUES // max(1, m * B * G))
        for i0 in range(0, len(pairs), step):
            chunk = pairs[i0:i0 + step]
            X = np.repeat(x[None], len(chunk), axis=0)                  # (k, m, B, G)
            for i, (g, v) in enumerate(chunk):
                X[i, :, :, g] = sup[v]
            fv = pf.values(X.reshape(len(chunk) * m, B, G), plan, backend).reshape(
                len(chunk), m, B)
            for i, (g, v) in enumerate(chunk):
                F[:, :, g, v] = fv[i]
        # f at the sample: the first coordinate's own value among its points
        own = np.searchsorted(sup, x[:, :, 0]).astype(np.intp)
        f0 = np.take_along_axis(F[:, :, 0, :], own[..., None], axis=-1)[..., 0]
        with np.errstate(invalid="ignore", over="ignore"):
            ef = (F * probs[None]).sum(axis=-1)                          # (m, B, G)
            fp = np.take_along_axis(F, np.broadcast_to(plus[None], (m,) + plus.shape), -1)
            fm = np.take_along_axis(F, np.broadcast_to(np.maximum(minus, 0)[None],
                                                       (m,) + minus.shape), -1)
            fm = np.where(minus[None] < 0, ef[..., None], fm)
            terms = coef[None] * (fp - fm)                               # (m, B, G, P)
        return f0, plan._regroup_components(terms.reshape(m, B * G, -1))
