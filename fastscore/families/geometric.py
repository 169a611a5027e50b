"""The family Geometric(probs | logits): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import stats

from .. import _kl
from .._distribution import Distribution, _ProbsOrLogits, _integers, _coupled
from .._hessian import _Family, _pq

__all__ = ["Geometric"]

#: Geometric probs below this draw samples beyond the int64 range.
GEOMETRIC_MIN_PROBS = 1e-16


class Geometric(_ProbsOrLogits, Distribution):
    """Geometric(probs | logits): failures before the first success, x = 0, 1, 2, ...

    P(x = k) = (1 - p)^k p, as in torch.distributions.  Sampled as numpy's
    ``random_geometric`` (trials up to the first success) minus one
    (``Generator.geometric(p) - 1``).  Scores: d/dprobs = 1/p - x/(1 - p),
    d/dlogits = 1 - p - x p.  Samples are int64.

    Parameters
    ----------
    probs : array_like, optional
        Success probability, in [1e-16, 1] (``GEOMETRIC_MIN_PROBS``: rarer
        successes overflow the int64 samples).
    logits : array_like, optional
        Log-odds of success, finite, with sigmoid(logits) >= 1e-16 (logits >= about
        -36.8).  Exactly one of ``probs`` and ``logits`` must be given.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Geometric(probs=0.5), [1])["probs"]
    array([0.])
    """

    kernel_base = "geometric"
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Geometric", probs, logits), validate_args)

    def _setup(self):
        p, q = self._probs_q(lo_open=True)
        if self.validate_args:
            self._require(self._by, self._differentiable[self._by], p >= GEOMETRIC_MIN_PROBS,
                          "such that probs >= %g (rarer successes overflow the int64 samples)"
                          % GEOMETRIC_MIN_PROBS)
        self.batch_shape = self._differentiable[self._by].shape
        self.event_shape = ()
        self.probs = p
        self._q = q
        self._set_kernel_family()

    def _check_resolution(self, estimator):
        p = np.broadcast_to(self.probs, self.batch_shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            top = (1.0 - p) / p + 20.0 * np.sqrt(1.0 - p) / p
        _coupled(self, estimator, self._by, self._differentiable[self._by], top)

    def _constants(self):
        p, q = self.probs.ravel(), self._q.ravel()
        with np.errstate(divide="ignore"):
            return {"probs": p, "q": q, "inv_p": 1.0 / p, "inv_q": 1.0 / q}

    def _draw_numpy(self, gen, c, m):
        return (gen.geometric(c["probs"], size=m) - 1).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return _integers(x3)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        if self._by == "logits":
            return (plan.const("q") - x * plan.const("probs"))[:, :, None]
        # x / (1 - p) is 0 at x = 0 (the only sample at p = 1)
        with np.errstate(invalid="ignore"):
            return (plan.const("inv_p") - np.where(x > 0, x * plan.const("inv_q"), 0.0))[:, :, None]

    def _log_prob(self, x3):
        return stats.geom.logpmf(x3[:, :, 0] + 1, self.probs.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -log p - (1 - p) log(1 - p) / p, shape batch_shape.

        p is probs (the support starts at 0: the entropy is that of the
        number of trials, scipy.stats.geom).  From logits, with x = e^logits =
        p / (1 - p): H = softplus(-logits) + log(1 + x) / x.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dprobs = log(1 - p) / p^2, or d/dlogits
            = -log(1 + e^logits) / e^logits.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Geometric(probs=0.5).entropy(grad=True)
        >>> round(float(h), 6), round(float(g["probs"]), 6)
        (1.386294, -2.772589)
        """
        lp, lq = self._log_pq()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self._by == "probs":
                p, q = self.probs, self._q
                h = -lp - np.where(q > 0, (q / p) * lq, 0.0)
                g = lq / (p * p)
            else:
                x = np.exp(self._differentiable["logits"])
                r = np.where(x == 0, 1.0, np.where(np.isinf(x), 0.0, np.log1p(x) / x))
                h = -lp + r
                g = -r
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information 1 / (p^2 (1 - p)) in probs (inf at p = 1), 1 - p in
        logits; shape batch_shape + (1, 1) (see :meth:`Distribution.fisher`)."""
        p, q = self.probs, self._q
        with np.errstate(divide="ignore"):
            f = 1.0 / (p * p * q) if self._by == "probs" else q
        return self._fisher_out(np.asarray(f)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = float(gen.geometric(c["probs"]) - 1)
            x2 = float(gen.geometric(c["probs"]) - 1)
            out[i] = (x, x, 1.0 + x + x2)
        return out

    def _measure_coef(self):
        # probs: 1 / p; logits: dp/dlogits = p q, so q
        with np.errstate(divide="ignore"):
            return (1.0 / self.probs if self._by == "probs" else self._q).reshape(-1, 1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        p1, q1, lp1, lq1 = _kl.probs_q(p, batch)
        p2, q2, lp2, lq2 = _kl.probs_q(q, batch)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = lp1 - lp2 + _kl.xlogy_where(q1, (lq1 - lq2) / p1)
            g1 = _kl.chain(p, -(lq1 - lq2) / (p1 * p1), p1, q1,
                        np.where(q1 > 0, -(lq1 - lq2) * q1 / p1, 0.0))
            g2 = _kl.chain(q, q1 / (p1 * q2) - 1.0 / p2, p2, q2, q1 * p2 / p1 - q2)
        return v, {p._by: g1}, {q._by: g2}

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """Geometric (failures before the first success): logits -(1 + x) p q; probs -x / q^2
        - 1 / p^2."""

        def score_hess(self, x3):
            p, q = _pq(self.dist)
            x = x3[:, :, 0]
            if self.dist._by == "logits":
                return (-(1.0 + x) * (p * q))[..., None, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                return (-np.where(x > 0, x / (q * q), 0.0) - 1.0 / (p * p))[..., None, None]
