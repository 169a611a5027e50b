"""The family Bernoulli(probs | logits): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import special, stats

from .. import _kl
from .._distribution import Distribution, _ProbsOrLogits
from .._hessian import _Family, _Constant, _pq
from .relaxed_bernoulli import RelaxedBernoulli

__all__ = ["Bernoulli"]


class Bernoulli(_ProbsOrLogits, Distribution):
    """Bernoulli(probs | logits): P(x = 1) = probs = sigmoid(logits).

    Sampled as ``u < probs`` with u a standard uniform double from the stream
    (``Generator.random() < probs``).  Scores: d/dprobs = x / p - (1 - x) / (1 - p),
    d/dlogits = x - p.  Samples are int64 0/1.

    Parameters
    ----------
    probs : array_like, optional
        Probability of x = 1, in [0, 1].
    logits : array_like, optional
        Log-odds of x = 1, finite: probs = sigmoid(logits).
        Exactly one of ``probs`` and ``logits`` must be given.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Bernoulli(logits=0.0), [1, 0])["logits"]
    array([ 0.5, -0.5])
    """

    family = "bernoulli"
    integer_valued = True
    _support_text = "{0, 1}"

    def __init__(self, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Bernoulli", probs, logits), validate_args)

    def _setup(self):
        a = self._differentiable[self._by]
        if self._by == "probs" and self.validate_args:
            self._require("probs", a, (a >= 0) & (a <= 1), "in [0, 1]")
        self.batch_shape = a.shape
        self.event_shape = ()
        self.probs = a if self._by == "probs" else special.expit(a)
        # 1 - p from the logits: p rounds to 1 above logits of ~37, 1 - p to 0
        self._q = None if self._by == "probs" else special.expit(-a)

    def _constants(self):
        return {"probs": self.probs.reshape(-1)}

    def _draw_numpy(self, gen, c, m):
        return (gen.random(m) < c["probs"]).astype(np.float64)[:, None]

    def _support_values(self):
        return np.array([0.0, 1.0])

    def _support_probs(self):
        q = (special.expit(-self._differentiable["logits"]) if self._by == "logits"
             else 1.0 - self.probs)
        return np.stack([np.broadcast_to(q, self.batch_shape).reshape(-1),
                         self.probs.reshape(-1)], axis=1)

    def _in_support(self, x3):
        return (x3 == 0) | (x3 == 1)

    def _score_numpy(self, x3):
        x = x3[:, :, 0]
        p = self.probs.reshape(1, -1)
        if self._by == "logits":
            # x - p; at x = 1 where p > 1/2 that is q = sigmoid(-logits), computed as
            # such: 1 - p has lost all of q's digits that p could not hold
            q = self._q.reshape(1, -1)
            return np.where((x == 1) & (p > 0.5), q, x - p)[:, :, None]
        with np.errstate(divide="ignore"):
            return np.where(x == 1, 1.0 / p, -1.0 / (1.0 - p))[:, :, None]

    def _log_prob(self, x3):
        return stats.bernoulli.logpmf(x3[:, :, 0], self.probs.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -p log p - (1 - p) log(1 - p), shape batch_shape.

        From logits, with log p = -softplus(-logits) and log(1 - p) =
        -softplus(logits), so that logits of +-40 keep their tiny entropy.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dprobs = log((1 - p) / p) (+inf at p = 0,
            -inf at p = 1), or d/dlogits = -logits p (1 - p).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Bernoulli(probs=[0.5, 0.0]).entropy().round(6)
        array([0.693147, 0.      ])
        >>> h, g = fs.Bernoulli(logits=40.0).entropy(grad=True)
        >>> float(h) > 0, float(g["logits"]) < 0
        (True, True)
        """
        lp, lq = self._log_pq()
        p = self.probs
        q = 1.0 - p if self._by == "probs" else special.expit(-self._differentiable["logits"])
        with np.errstate(invalid="ignore"):
            h = -(np.where(p > 0, p * lp, 0.0) + np.where(q > 0, q * lq, 0.0))
            g = lq - lp if self._by == "probs" else -self._differentiable["logits"] * (p * q)
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information 1 / (p (1 - p)) in probs (inf at p = 0 or 1), p (1 - p)
        in logits; shape batch_shape + (1, 1) (see :meth:`Distribution.fisher`)."""
        p = self.probs
        q = 1.0 - p if self._by == "probs" else special.expit(-self._differentiable["logits"])
        with np.errstate(divide="ignore"):
            f = 1.0 / (p * q) if self._by == "probs" else p * q
        return self._fisher_out(f[..., None, None])

    def relaxation(self, temperature):
        """The binary Concrete relaxation with this temperature and the same parameter."""
        return RelaxedBernoulli(temperature, **{self._by: self._differentiable[self._by]},
                                validate_args=self.validate_args)

    def antithetic_plan(self, estimator):
        """The plan of the ARM or DisARM estimator (estimator "arm" or "disarm"):
        Bernoulli's weighted antithetic points, in the measure-valued form."""
        p, q = self.probs.reshape(-1), special.expit(-self._differentiable["logits"].reshape(-1)) \
            if self._by == "logits" else 1.0 - self.probs.reshape(-1)
        consts = {"probs": p, "q": q}
        if estimator == "disarm":
            consts["half_max_pq"] = 0.5 * np.maximum(p, q)
        with np.errstate(divide="ignore"):
            coef = np.ones((p.size, 1)) if self._by == "logits" else (1.0 / (p * q))[:, None]
        draw = self._arm_draw_numpy if estimator == "arm" else self._disarm_draw_numpy
        return self.plan().variant("bernoulli_" + estimator, consts, measure_draw=draw,
                                   measure_coef=coef, measure_support=None, support=None)

    def _arm_draw_numpy(self, gen, c, m):
        # bernoulli_arm_measure_draw: (sample, 1[u > q], 1[u < p], u - 1/2)
        u = gen.random(m)
        b = (u < c["probs"]).astype(np.float64)
        return np.stack([b, (u > c["q"]).astype(np.float64), b, u - 0.5], axis=-1)

    def _disarm_draw_numpy(self, gen, c, m):
        # bernoulli_disarm_measure_draw: (b, b, b~, (-1)^b~ [b != b~] max(p, q) / 2)
        u = gen.random(m)
        b = (u < c["probs"]).astype(np.float64)
        bt = (1.0 - u < c["probs"]).astype(np.float64)
        w = np.where(b != bt, (1.0 - 2.0 * bt) * c["half_max_pq"], 0.0)
        return np.stack([b, b, bt, w], axis=-1)

    def _measure_support(self):
        # d/dp E f = f(1) - f(0)
        B = self.batch_size
        return np.ones((B, 1), dtype=np.int64), np.zeros((B, 1), dtype=np.int64)

    def _measure_coef(self):
        p = self.probs.reshape(-1, 1)
        return np.ones_like(p) if self._by == "probs" else p * special.expit(
            -self._differentiable["logits"].reshape(-1, 1))

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        return _kl.bernoulli_like(p, q, batch, 1.0)

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """Bernoulli: logits -p q; probs -x / p^2 - (1 - x) / q^2."""

        def score_hess(self, x3):
            if self.dist._by == "logits":
                return _Constant.score_hess(self, x3)
            p, q = _pq(self.dist)
            x = x3[:, :, 0]
            with np.errstate(divide="ignore"):
                return np.where(x == 1, -1.0 / (p * p), -1.0 / (q * q))[..., None, None]
