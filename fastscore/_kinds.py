"""Estimator kinds: what each needs, its per-sample terms and its finish.

An estimator kind declares the family capability (slot) it needs and what
else it needs ("f": f values only, "grad_f": f', "coupled": coupled draws,
"relaxed": a relaxed family).  It produces per-sample terms, which the
generic reducer (_reduce.h, fastscore._moments) folds into shifted moment
sums.  From those sums its finish makes value, gradient and standard
errors.  The streams, chunks, waves, threads and chunk-ordered merges are
common to all kinds.

The score function is the first kind.
"""

import numpy as np

from . import _moments


class EstimatorKind:
    """Base of the estimator kinds.

    Attributes
    ----------
    name : str
        What ``fs.estimate(..., estimator=name)`` calls it.
    slot : str
        The family capability it needs (fastscore._specs.Family.slots).
    needs : frozenset of str
        What else it needs: "f" (f values), "grad_f", "coupled", "relaxed".
    methods : tuple of str
        The variants its ``method=`` chooses between.
    """

    name = None
    slot = None
    needs = frozenset()
    methods = ("plain",)

    def check_family(self, plan):
        """Raise NotImplementedError when the family lacks this kind's slot."""
        if self.slot not in plan.family.slots and not plan.counted:
            raise NotImplementedError("the %s estimator needs a family with a %r slot; %s has "
                                      "none" % (self.name, self.slot, plan.name))

    def check_method(self, method, baseline, plan):
        """Validate method and baseline; the baseline as (batch_size,) float64 or None."""
        if method not in self.methods:
            raise ValueError("method must be one of %s, got %r"
                             % (", ".join(repr(m) for m in self.methods), method))
        if baseline is not None:
            raise ValueError("baseline is only used with method='baseline' (got method=%r)"
                             % method)
        return None


def _stderr(ez2, g, inv_n1):
    """sqrt of the variance of the mean; 0 for a negative round-off, NaN for NaN."""
    v = (ez2 - g * g) * inv_n1
    with np.errstate(invalid="ignore"):
        return np.where(v > 0.0, np.sqrt(np.where(v > 0.0, v, 0.0)),
                        np.where(v == v, 0.0, np.nan))


class ScoreFunction(EstimatorKind):
    """The score-function (REINFORCE, likelihood-ratio) estimator.

    Its per-sample terms are the score components s_j(x) = d/dtheta_j log p(x).
    Per batch element and component, with ``b`` a baseline::

        plain     g = mean(f s)
        baseline  g = mean((f - b) s)
        cv        g = mean((f - b_j) s_j),  b_j = sum f s_j^2 / sum s_j^2
        rloo      g = mean((f_i - mean_{k != i} f_k) s_i) = sum (f - fbar) s / (n - 1)

    Each standard error is the sample standard deviation of the per-sample
    terms divided by sqrt(n).  cv estimates its baseline from the same
    samples, which biases it by O(1/n); rloo is unbiased.
    """

    name = "score"
    slot = "score"
    needs = frozenset({"f"})
    methods = ("plain", "baseline", "rloo", "cv")

    def check_method(self, method, baseline, plan):
        if method != "baseline":
            return super().check_method(method, baseline, plan)
        if baseline is None:
            raise ValueError("method='baseline' needs baseline=: a scalar or an array of the "
                             "batch shape %s" % (plan.batch_shape,))
        b = np.asarray(baseline)
        if b.dtype.kind not in "biuf":
            raise TypeError("baseline must be real numbers, got dtype %s" % b.dtype)
        b = b.astype(np.float64)
        if b.shape not in ((), tuple(plan.batch_shape)):
            raise ValueError("baseline must be a scalar or have the batch shape %s; got shape %s"
                             % (tuple(plan.batch_shape), b.shape))
        if not np.all(np.isfinite(b)):
            raise ValueError("baseline must be finite")
        return np.broadcast_to(b, plan.batch_shape).reshape(-1)

    def terms(self, plan, x3):
        """Per-sample terms (m, batch_size, P): the score components."""
        return plan.score(x3)

    def counted_sums(self, plan, fvals, counts):
        """Exact sums from support counts: f and the score once per support value."""
        sup = plan.support
        x3 = np.broadcast_to(sup[:, None, None], (sup.size, plan.batch_size, plan.E)).copy()
        scores = self.terms(plan, x3)                                   # (V, B, P)
        return _moments.sums_from_counts(counts, fvals, scores.transpose(1, 0, 2))

    def finish(self, sums, method, baseline=None):
        """(value, value_stderr, grad, stderr) from moment sums, in NumPy.

        The twin of the compiled finish (_finish.pyx), operation for
        operation: on the same sums the two give the same bits.  A row whose
        sums are not all finite gets NaN standard errors (its value_stderr
        is NaN exactly then).
        """
        S = np.asarray(sums, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            n = S[:, _moments.N]
            shift = S[:, _moments.SHIFT]
            inv_n = 1.0 / n
            inv_n1 = 1.0 / (n - 1.0)
            md = S[:, _moments.SUM_D] * inv_n
            finite = np.isfinite(S).all(axis=1)
            value = shift + md
            value_se = np.where(finite, _stderr(S[:, _moments.SUM_DD] * inv_n, md, inv_n1),
                                np.nan)
            Ss, Sss, Sds, Sdss, Sddss = (_moments.blocks(S, nm) for nm in
                                         ("sum_s", "sum_ss", "sum_ds", "sum_dss", "sum_ddss"))
            md_, inv_n_, inv_n1_ = md[:, None], inv_n[:, None], inv_n1[:, None]
            if method == "rloo":
                # rloo's per-sample terms are n / (n - 1) (d - md) s; mean of their squares:
                scale2 = (n * inv_n1 * n * inv_n1 * inv_n)[:, None]
                g = (Sds - md_ * Ss) * inv_n1_
                ez2 = scale2 * (Sddss - 2.0 * md_ * Sdss + md_ * md_ * Sss)
            else:
                if method == "plain":
                    c = shift[:, None]
                elif method == "baseline":
                    c = (shift - np.asarray(baseline, dtype=np.float64))[:, None]
                else:
                    c = np.where(Sss > 0.0, -Sdss / Sss, 0.0)
                g = (Sds + c * Ss) * inv_n_
                ez2 = (Sddss + 2.0 * c * Sdss + c * c * Sss) * inv_n_
            se = np.where(finite[:, None], _stderr(ez2, g, inv_n1_), np.nan)
        return value, value_se, g, se


SCORE = ScoreFunction()
#: The estimator kinds by name.
KINDS = {SCORE.name: SCORE}
