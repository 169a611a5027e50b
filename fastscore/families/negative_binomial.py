"""The family NegativeBinomial(total_count, probs | logits):
its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import stats

from .. import _entropy, _kl
from .._distribution import Distribution, _ProbsOrLogits, _integers, _coupled, POISSON_LAM_MAX
from .._hessian import _Family, _pq

__all__ = ["NegativeBinomial"]


class NegativeBinomial(_ProbsOrLogits, Distribution):
    """NegativeBinomial(total_count, probs | logits), with torch's meaning.

    The number of successes before ``total_count`` failures, each trial a
    success with probability ``probs``: P(x = k) is proportional to
    C(k + r - 1, k) p^k (1 - p)^r.  numpy's sampler counts failures before
    n successes, so this is numpy's ``random_negative_binomial(n=total_count,
    p=1 - probs)`` (``Generator.negative_binomial(total_count, 1 - probs)``,
    a gamma-Poisson mixture).  Scores: d/dprobs = x / p - r / (1 - p),
    d/dlogits = x (1 - p) - r p.  ``total_count`` (> 0, real) has no gradient.
    Samples are int64.

    Parameters
    ----------
    total_count : array_like
        Number of failures r, > 0 (real); no gradient is taken for it.
    probs : array_like, optional
        Success probability p, in [0, 1).
    logits : array_like, optional
        Log-odds of success, finite: probs = sigmoid(logits).
        Exactly one of ``probs`` and ``logits`` must be given.
        Either way p / (1 - p) * (r + 10 sqrt(r)) must be <= 9.2e18
        (``POISSON_LAM_MAX``): numpy's gamma-Poisson sampler draws int64 samples.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.NegativeBinomial(2.0, probs=0.5), [2])["probs"]
    array([0.])
    """

    kernel_base = "negbin"
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, total_count, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("NegativeBinomial", probs, logits), validate_args,
                         fixed={"total_count": total_count})

    def _setup(self):
        r = self._fixed["total_count"]
        if self.validate_args:
            self._require("total_count", r, r > 0, "> 0")
        p, q = self._probs_q(hi_open=True)
        self.batch_shape = self._broadcast(["total_count", self._by])
        self.event_shape = ()
        self.total_count = np.broadcast_to(r, self.batch_shape)
        self.probs = np.broadcast_to(p, self.batch_shape)
        self._q = np.broadcast_to(q, self.batch_shape)
        self._set_kernel_family()
        if self.validate_args:
            # numpy's gamma-Poisson sampler: the Poisson rate, 10 sigma above its
            # mean, must stay within the int64 range
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                lam = self.probs / self._q * (self.total_count + 10.0 * np.sqrt(self.total_count))
            self._require(self._by, np.broadcast_to(self._differentiable[self._by],
                                                    self.batch_shape),
                          lam <= POISSON_LAM_MAX,
                          "such that probs / (1 - probs) * (total_count + 10 sqrt(total_count)) "
                          "<= %.4g (numpy's sampler: samples are int64)" % POISSON_LAM_MAX)

    def _check_resolution(self, estimator):
        p = np.broadcast_to(self.probs, self.batch_shape)
        r = np.broadcast_to(self._fixed["total_count"], self.batch_shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            top = r * p / (1.0 - p) + 20.0 * np.sqrt(r * p) / (1.0 - p)
        _coupled(self, estimator, self._by, self._differentiable[self._by], top)

    def _constants(self):
        r, p, q = self.total_count.ravel(), self.probs.ravel(), self._q.ravel()
        with np.errstate(divide="ignore"):
            return {"total_count": r, "probs": p, "q": q, "inv_p": 1.0 / p, "r_over_q": r / q}

    def _draw_numpy(self, gen, c, m):
        return gen.negative_binomial(c["total_count"], c["q"], size=m).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return _integers(x3)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        if self._by == "logits":
            return (x * plan.const("q")
                    - plan.const("total_count") * plan.const("probs"))[:, :, None]
        # x / p is 0 at x = 0 (the only sample at p = 0)
        with np.errstate(invalid="ignore"):
            return (np.where(x > 0, x * plan.const("inv_p"), 0.0)
                    - plan.const("r_over_q"))[:, :, None]

    def _log_prob(self, x3):
        # scipy's nbinom counts failures before n successes with success prob p.
        return stats.nbinom.logpmf(x3[:, :, 0], self.total_count.reshape(1, -1),
                                   self._q.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over k = 0, 1, 2, ..., shape batch_shape.

        r = total_count, p = probs.  There is no closed form.  Where r p is
        below 1e7 (``ASYMPTOTIC_VARIANCE`` of fastscore._entropy) it is the sum
        over the support points k = 0, 1, ... that the Chernoff bound does not
        put below 1e-20 of the mass on either side, with log p_k in Loader's
        saddle-point form: accurate to about 1e-15 relative.  That sum may take at
        most 4194304 points (``MAX_WINDOW``) per batch element, about 46 / (1 - p)
        when r is small: beyond it (a mean above some 1e5 with r p below 1e7)
        this raises ValueError.  From r p = 1e7 on it is the expansion
        1/2 log(2 pi e var) - (1 + p)^2 / (12 r p), var = r p / (1 - p)^2, whose
        error there is of order (r p)^-2 (below 1e-13).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient in the parameter passed: d/dprobs =
            -Cov(X, log p(X)) / p (+inf at p = 0), d/dlogits = -(1 - p) Cov(X, log
            p(X)).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.NegativeBinomial(1.0, probs=0.5).entropy(grad=True)  # Geometric(1/2)
        >>> round(float(h), 6), round(float(g["probs"]), 6)
        (1.386294, 2.772589)
        """
        r = self.total_count.reshape(-1)
        p, q = self.probs.reshape(-1), self._q.reshape(-1)
        lp, lq = (a.reshape(-1) for a in self._log_pq())
        rp = r * p
        h = np.full(r.shape, np.nan)  # NaN for invalid parameters (validate_args=False)
        cov = np.full(r.shape, np.nan)
        ok = (r > 0) & (r < np.inf) & (p >= 0) & (q > 0)
        big = ok & (rp >= _entropy.ASYMPTOTIC_VARIANCE)
        rb, pb, qb = r[big], p[big], q[big]
        h[big] = (_entropy.HALF_LOG_2PIE + 0.5 * (np.log(rb) + lp[big] - 2.0 * lq[big])
                  - (1.0 + pb) ** 2 / (12.0 * rb * pb))
        # dH/dprobs = 1/(2p) + 1/q + q (1 + p) / (12 r p^2) = -cov / p
        cov[big] = -(0.5 + pb / qb + qb * (1.0 + pb) / (12.0 * rb * pb))
        s = ok & ~big
        if s.any():
            rs, ps, qs, lqs = r[s], p[s], q[s], lq[s]
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                mean = rs * ps / qs
                sd = np.sqrt(mean / qs)
            lo, hi = _entropy.chernoff_window(
                lambda a: _entropy.bd0(a, (a + rs) * ps) + _entropy.bd0(rs, (a + rs) * qs),
                mean, sd)
            _entropy.check_window(lo, hi, self._by, np.broadcast_to(
                self._differentiable[self._by], self.batch_shape).reshape(-1)[s],
                "NegativeBinomial", np.flatnonzero(s), tuple(self.batch_shape))

            def log_pmf(k, idx):
                R, P, Q = rs[idx, None], ps[idx, None], qs[idx, None]
                k1 = np.maximum(k, 1.0)
                n = k1 + R
                with np.errstate(divide="ignore", invalid="ignore"):
                    inner = (-np.log1p(k1 / R) + _entropy.stirlerr(n) - _entropy.stirlerr(k1)
                             - _entropy.stirlerr(R)
                             - _entropy.bd0(k1, n * P) - _entropy.bd0(R, n * Q)
                             + 0.5 * np.log(n / (2.0 * math.pi * k1 * R)))
                return np.where(k == 0, R * lqs[idx, None], inner)

            center = np.maximum(_entropy.HALF_LOG_2PIE + 0.5 * np.log(np.maximum(sd * sd, 1e-300)),
                                0.0)
            h[s], cov[s] = _entropy.lattice_entropy(lo, hi, mean, log_pmf, center)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self._by == "logits":
                g = -q * cov
            else:
                g = np.where(p == 0, np.inf, -cov / p)
            g = np.where(ok, g, np.nan)
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information r / (p (1 - p)^2) in probs (inf at p = 0), r p in logits
        (r = total_count); shape batch_shape + (1, 1) (see :meth:`Distribution.fisher`)."""
        r, p, q = self.total_count, self.probs, self._q
        with np.errstate(divide="ignore"):
            f = r / (p * q * q) if self._by == "probs" else r * p
        return self._fisher_out(np.asarray(f)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = float(gen.negative_binomial(c["total_count"], c["q"]))
            g = float(gen.geometric(c["q"]) - 1)
            out[i] = (x, 1.0 + x + g, x)
        return out

    def _measure_coef(self):
        # probs: r / (1 - p); logits: r p
        r, p, q = self.total_count.reshape(-1), self.probs.reshape(-1), self._q.reshape(-1)
        return (r / q if self._by == "probs" else r * p)[:, None]

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        r = _kl.equal_counts(p, q, batch)
        p1, q1, lp1, lq1 = _kl.probs_q(p, batch)
        p2, q2, lp2, lq2 = _kl.probs_q(q, batch)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = _kl.xlogy_where(p1, r * (lp1 - lp2) / q1) + r * (lq1 - lq2)
            g1 = _kl.chain(p, np.where(p1 > 0, r * (lp1 - lp2) / (q1 * q1), -np.inf), p1, q1,
                        _kl.xlogy_where(p1, r * (lp1 - lp2) / q1))
            g2 = _kl.chain(q, -r * p1 / (q1 * p2) + r / q2, p2, q2, r * (p2 - p1 * q2 / q1))
        return v, {p._by: g1}, {q._by: g2}

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """NegativeBinomial(r) (successes before r failures): logits -(x + r) p q; probs
        -x / p^2 - r / q^2."""

        def score_hess(self, x3):
            p, q = _pq(self.dist)
            r = self._row(self.dist.total_count)
            x = x3[:, :, 0]
            if self.dist._by == "logits":
                return (-(x + r) * (p * q))[..., None, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                return (-np.where(x > 0, x / (p * p), 0.0) - r / (q * q))[..., None, None]
