"""The family Poisson(rate): its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import stats

from .. import _entropy, _kl
from .._distribution import _ScalarFamily, _integers, _coupled, POISSON_LAM_MAX
from .._hessian import _Family

__all__ = ["Poisson"]


class Poisson(_ScalarFamily):
    """Poisson(rate): P(x = k) = rate^k exp(-rate) / k!, k = 0, 1, 2, ...

    Sampled by numpy's ``random_poisson`` (``Generator.poisson``).
    Score: d/drate = x / rate - 1.  Samples are int64.

    Parameters
    ----------
    rate : array_like
        Rate (the mean), > 0 and <= 9.2e18 (``POISSON_LAM_MAX``, numpy's limit:
        samples are int64).
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Poisson(rate=2.0), [4])["rate"]
    array([1.])
    """

    family = "poisson"
    positive = ("rate",)
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, rate, validate_args=True):
        super().__init__({"rate": rate}, validate_args)

    def _setup(self):
        super()._setup()
        if self.validate_args:
            self._require("rate", self.rate, self.rate <= POISSON_LAM_MAX,
                          "<= %.4g (numpy's Poisson sampler: samples are int64)"
                          % POISSON_LAM_MAX)

    def _check_resolution(self, estimator):
        rate = np.broadcast_to(self._differentiable["rate"], self.batch_shape)
        _coupled(self, estimator, "rate", rate, rate + 20.0 * np.sqrt(rate))

    def _constants(self):
        rate = self.rate.ravel()
        return {"rate": rate, "inv_rate": 1.0 / rate}

    def _draw_numpy(self, gen, c, m):
        return gen.poisson(c["rate"], size=m).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return _integers(x3)

    def _score_numpy(self, x3):
        return (x3[:, :, 0] * self.plan().const("inv_rate") - 1.0)[:, :, None]

    def _log_prob(self, x3):
        return stats.poisson.logpmf(x3[:, :, 0], self.rate.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over k = 0, 1, 2, ..., shape batch_shape.

        There is no closed form.  Below a rate of 1e7 (``ASYMPTOTIC_VARIANCE``
        of fastscore._entropy) it is the sum over every k from 0 up to where the
        Chernoff bound leaves less than 1e-20 of the mass out (some 90 standard
        deviations at most), with log p_k in Loader's saddle-point form, accurate
        at any rate: accurate to about 1e-15 relative.  From a rate of 1e7 on it
        is the expansion 1/2 log(2 pi e rate) - 1/(12 rate) - 1/(24 rate^2),
        whose error there is below 1e-21.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient d/drate = -Cov(X, log p(X)) / rate
            (-sum_k dp_k/drate log p_k).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Poisson([1e-3, 3.0]).entropy(grad=True)
        >>> h.round(6), g["rate"].round(6)
        (array([0.007908, 1.93147 ]), array([6.908448, 0.182431]))
        """
        lam = self.rate.reshape(-1)
        h = np.full(lam.shape, np.nan)  # NaN for invalid rates (validate_args=False)
        g = np.full(lam.shape, np.nan)
        ok = (lam > 0) & (lam < np.inf)
        big = ok & (lam >= _entropy.ASYMPTOTIC_VARIANCE)
        s = ok & ~big
        x = lam[big]
        h[big] = _entropy.HALF_LOG_2PIE + 0.5 * np.log(x) - (1.0 / 12.0 + 1.0 / (24.0 * x)) / x
        g[big] = (0.5 + (1.0 / 12.0 + 1.0 / (12.0 * x)) / x) / x
        lam = lam[s]
        if lam.size:
            lo, hi = _entropy.chernoff_window(lambda a: _entropy.bd0(a, lam), lam, np.sqrt(lam))

            def log_pmf(k, idx):
                m = lam[idx, None]
                k1 = np.maximum(k, 1.0)
                return np.where(k == 0, -m, -_entropy.stirlerr(k1) - _entropy.bd0(k1, m)
                                - 0.5 * np.log(2.0 * math.pi * k1))

            center = np.maximum(_entropy.HALF_LOG_2PIE + 0.5 * np.log(lam), 0.0)
            hs, cov = _entropy.lattice_entropy(lo, hi, lam, log_pmf, center)
            h[s] = hs
            g[s] = -cov / lam
        return self._entropy_out(h, {"rate": g}, grad)

    def fisher(self):
        """Fisher information 1 / rate, shape batch_shape + (1, 1) (see
        :meth:`Distribution.fisher`)."""
        return self._fisher_out((1.0 / self.rate)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = float(gen.poisson(c["rate"]))
            out[i] = (x, x + 1.0, x)
        return out

    def _measure_coef(self):
        return np.ones((self.batch_size, 1))

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        l1, l2 = _kl.bcast(p.rate, batch), _kl.bcast(q.rate, batch)
        return _entropy.bd0(l1, l2), {"rate": np.log(l1) - np.log(l2)}, {"rate": 1.0 - l1 / l2}

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """Poisson(rate): grad s = -x / rate^2; d/drate E f = E[f(x + 1) - f(x)], so d^2 /
        drate^2 E f = E[f(x + 2) - 2 f(x + 1) + f(x)]."""

        weak = True

        def __init__(self, dist):
            super().__init__(dist)
            self.rate = self._row(dist.rate)

        def score_hess(self, x3):
            return (-x3[:, :, 0] / (self.rate * self.rate))[..., None, None]

        def measure(self, x3, values, aux, f0):
            x = x3[:, :, 0]
            m, B = x.shape
            F = values(np.stack([x + 1.0, x + 2.0]).reshape(2 * m, B, 1)).reshape(2, m, B)
            return (F[0] - f0)[..., None], ((F[1] - 2.0 * F[0]) + f0)[..., None, None]
