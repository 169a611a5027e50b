"""The family Binomial(total_count, probs | logits): its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import stats

from .. import _entropy, _kl
from .._distribution import Distribution, _ProbsOrLogits, _coupled
from .._hessian import _Family, _Constant, _pq

__all__ = ["Binomial"]

#: Binomial families with at most this many support values use the count path.
BINOMIAL_COUNT_LIMIT = 1024


class Binomial(_ProbsOrLogits, Distribution):
    """Binomial(total_count, probs | logits): successes in total_count trials.

    ``total_count`` is a non-negative integer array (no gradient is taken for
    it).  Sampled by numpy's ``random_binomial`` (``Generator.binomial``).
    Scores: d/dprobs = x / p - (n - x) / (1 - p), d/dlogits = x - n p.
    When max(total_count) < 1024 the kernel counts support values and the
    moments are computed exactly from the counts.  Samples are int64.

    Parameters
    ----------
    total_count : array_like, default 1
        Number of trials, a non-negative integer < 2**63 (samples are int64); no
        gradient is taken for it.
    probs : array_like, optional
        Success probability, in [0, 1].
    logits : array_like, optional
        Log-odds of success, finite: probs = sigmoid(logits).
        Exactly one of ``probs`` and ``logits`` must be given.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Binomial(10, logits=0.0), [7])["logits"]
    array([2.])
    """

    kernel_base = "binomial"
    integer_valued = True
    _support_text = "{0, ..., total_count}"

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Binomial", probs, logits), validate_args,
                         fixed={"total_count": total_count})

    def _setup(self):
        N = self._fixed["total_count"]
        if self.validate_args:
            self._require("total_count", N, (N >= 0) & (np.floor(N) == N) & (N < 2.0 ** 63),
                          "a non-negative integer below 2**63 (samples are int64)")
        p, q = self._probs_q()
        self.batch_shape = self._broadcast(["total_count", self._by])
        self.event_shape = ()
        self.total_count = np.broadcast_to(N, self.batch_shape)
        self.probs = np.broadcast_to(p, self.batch_shape)
        self._q = np.broadcast_to(q, self.batch_shape)
        self._set_kernel_family()
        self._n_max = int(self.total_count.max()) if self.total_count.size else 0

    def _check_resolution(self, estimator):
        N = np.broadcast_to(self._fixed["total_count"], self.batch_shape)
        _coupled(self, estimator, "total_count", N, N)

    def _constants(self):
        p, q = self.probs.ravel(), self._q.ravel()
        with np.errstate(divide="ignore"):
            return {"probs": p, "total_count": self.total_count.ravel(), "q": q,
                    "inv_p": 1.0 / p, "inv_q": 1.0 / q}

    def _draw_numpy(self, gen, c, m):
        return gen.binomial(int(c["total_count"]), c["probs"], size=m).astype(np.float64)[:, None]

    def _support_values(self):
        if self._n_max + 1 <= BINOMIAL_COUNT_LIMIT:
            return np.arange(self._n_max + 1, dtype=np.float64)
        return None

    def _in_support(self, x3):
        N = self.total_count.reshape(1, -1, 1)
        return (x3 >= 0) & (x3 <= N) & (np.floor(x3) == x3)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        N = plan.const("total_count")
        if self._by == "logits":
            # x - N p; where p > 1/2 as (x - N) + N q (binomial_logits_score): 1 - p
            # has lost q's digits when p is near 1
            p, q = plan.const("probs"), plan.const("q")
            return np.where(p > 0.5, (x - N) + N * q, x - N * p)[:, :, None]
        # x / p and (n - x) / (1 - p) are 0 where their numerator is (at p = 0 or 1)
        with np.errstate(invalid="ignore"):
            return (np.where(x > 0, x * plan.const("inv_p"), 0.0)
                    - np.where(N > x, (N - x) * plan.const("inv_q"), 0.0))[:, :, None]

    def _log_prob(self, x3):
        return stats.binom.logpmf(x3[:, :, 0], self.total_count.reshape(1, -1),
                                  self.probs.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over k = 0, ..., total_count, shape batch_shape.

        There is no closed form.  Where the variance n p (1 - p) is below 1e7
        (``ASYMPTOTIC_VARIANCE`` of fastscore._entropy) it is the sum over the
        support points that the Chernoff bound does not put below 1e-20 of the
        mass on either side (all of them, for small total_count), with log p_k
        in Loader's saddle-point form: accurate to about 1e-15 relative.  From a
        variance of 1e7 on it is the expansion 1/2 log(2 pi e var) - (1 - 2p)^2
        / (12 var), whose error there is of order var^-2 (below 1e-14).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient in the parameter passed: d/dprobs =
            -Cov(X, log p(X)) / (p (1 - p)) (+inf at p = 0, -inf at p = 1, when
            total_count > 0), d/dlogits = -Cov(X, log p(X)).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Binomial(10, probs=[0.3, 0.2]).entropy(grad=True)
        >>> h.round(6), g["probs"].round(6)
        (array([1.779079, 1.621929]), array([1.075716, 2.210729]))
        """
        n = self.total_count.reshape(-1).astype(np.float64)
        p, q = self.probs.reshape(-1), self._q.reshape(-1)
        lp, lq = (a.reshape(-1) for a in self._log_pq())
        var = n * p * q
        h = np.full(n.shape, np.nan)  # NaN for invalid parameters (validate_args=False)
        cov = np.full(n.shape, np.nan)
        ok = (n >= 0) & (np.floor(n) == n) & (n < np.inf) & (p >= 0) & (q >= 0)
        big = ok & (var >= _entropy.ASYMPTOTIC_VARIANCE)
        v, d = var[big], (p - q)[big]
        h[big] = _entropy.HALF_LOG_2PIE + 0.5 * np.log(v) - d * d / (12.0 * v)
        # dH/dlogits = (q - p) (1/2 + 1 / (12 var)); the covariance is its negative
        cov[big] = d * (0.5 + 1.0 / (12.0 * v))
        s = ok & ~big
        if s.any():
            ns, ps, qs, lps, lqs = n[s], p[s], q[s], lp[s], lq[s]
            mean = ns * ps
            lo, hi = _entropy.chernoff_window(
                lambda a: _entropy.bd0(a, mean) + _entropy.bd0(ns - a, ns * qs), mean,
                np.sqrt(var[s]), limit=ns)

            def log_pmf(k, idx):
                N, P, Q = ns[idx, None], ps[idx, None], qs[idx, None]
                mid = (k > 0) & (k < N)
                k1 = np.where(mid, k, 1.0)
                r1 = np.where(mid, N - k, 1.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    inner = (_entropy.stirlerr(N) - _entropy.stirlerr(k1)
                             - _entropy.stirlerr(r1) - _entropy.bd0(k1, N * P)
                             - _entropy.bd0(r1, N * Q)
                             + 0.5 * np.log(N / (2.0 * math.pi * k1 * r1)))
                    edge = np.where(k == 0, np.where(N > 0, N * lqs[idx, None], 0.0),
                                    N * lps[idx, None])
                return np.where(mid, inner, edge)

            center = np.maximum(_entropy.HALF_LOG_2PIE + 0.5 * np.log(np.maximum(var[s], 1e-300)),
                                0.0)
            h[s], cov[s] = _entropy.lattice_entropy(lo, hi, mean, log_pmf, center)
        if self._by == "logits":
            g = -cov
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                g = -cov / (p * q)
            g = np.where(n == 0, 0.0, np.where(p == 0, np.inf, np.where(q == 0, -np.inf, g)))
        g = np.where(ok, g, np.nan)
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information n / (p (1 - p)) in probs (inf at p = 0 or 1 when n > 0),
        n p (1 - p) in logits (n = total_count; 0 when n = 0); shape batch_shape +
        (1, 1) (see :meth:`Distribution.fisher`)."""
        n = self.total_count
        pq = self.probs * self._q
        with np.errstate(divide="ignore", invalid="ignore"):
            f = n / pq if self._by == "probs" else n * pq
        return self._fisher_out(np.where(n == 0, 0.0, f)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        # _binomial_measure: y ~ Bin(N - 1, p); the sample y + [u < p]; points y + 1, y
        N, p = c["total_count"], c["probs"]
        out = np.zeros((m, 3))
        if N < 1.0:
            return out
        for i in range(m):
            y = float(gen.binomial(int(N) - 1, p))
            out[i] = (y + float(gen.random() < p), y + 1.0, y)
        return out

    def _measure_coef(self):
        N, p, q = self.total_count.reshape(-1), self.probs.reshape(-1), self._q.reshape(-1)
        return (N if self._by == "probs" else N * p * q)[:, None].astype(np.float64)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        return _kl.bernoulli_like(p, q, batch, _kl.equal_counts(p, q, batch))

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """Binomial(N): logits -N p q; probs -x / p^2 - (N - x) / q^2 (each term 0 where its
        numerator is)."""

        def score_hess(self, x3):
            if self.dist._by == "logits":
                return _Constant.score_hess(self, x3)
            p, q = _pq(self.dist)
            N = self._row(self.dist.total_count)
            x = x3[:, :, 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                return (-np.where(x > 0, x / (p * p), 0.0)
                        - np.where(N > x, (N - x) / (q * q), 0.0))[..., None, None]
