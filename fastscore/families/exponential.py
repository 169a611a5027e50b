"""The family Exponential(rate): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import stats

from .. import _kl
from .._distribution import _ScalarFamily
from .._hessian import _Constant

__all__ = ["Exponential"]


class Exponential(_ScalarFamily):
    """Exponential(rate): density rate exp(-rate x), x >= 0.

    Sampled by numpy's ``random_exponential`` with scale 1/rate
    (``Generator.exponential(1 / rate)``).  Score: d/drate = 1/rate - x.

    Parameters
    ----------
    rate : array_like
        Rate (1 / mean), > 0.
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Exponential(2.0), [0.5])["rate"]
    array([0.])
    """

    family = "exponential"
    positive = ("rate",)
    _support_text = "(x >= 0)"

    def __init__(self, rate, validate_args=True):
        super().__init__({"rate": rate}, validate_args)

    def _constants(self):
        return {"scale": (1.0 / self.rate).reshape(-1)}

    def _draw_numpy(self, gen, c, m):
        return gen.exponential(c["scale"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 >= 0)

    def _score_numpy(self, x3):
        return ((1.0 / self.rate).reshape(1, -1) - x3[:, :, 0])[:, :, None]

    def _log_prob(self, x3):
        return stats.expon.logpdf(x3[:, :, 0], scale=1.0 / self.rate.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy 1 - log(rate), shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/drate = -1 / rate.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Exponential([1.0, 2.0]).entropy(grad=True)
        >>> h.round(6), g["rate"]
        (array([1.      , 0.306853]), array([-1. , -0.5]))
        """
        r = self.rate
        return self._entropy_out(1.0 - np.log(r), {"rate": -1.0 / r}, grad)

    def fisher(self):
        """Fisher information 1 / rate^2, shape batch_shape + (1, 1) (see
        :meth:`Distribution.fisher`)."""
        return self._fisher_out((1.0 / (self.rate * self.rate))[..., None, None])

    def _pathwise_numpy(self, x3, gp3):
        # x = e / rate: dx/drate = -x / rate
        return (-(gp3[:, :, 0] * x3[:, :, 0]) * self.plan().const("scale"))[:, :, None]

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = gen.exponential(c["scale"])
            x2 = gen.exponential(c["scale"])
            out[i] = (x, x, x + x2)
        return out

    def _measure_coef(self):
        return (1.0 / self.rate).reshape(-1, 1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        r1, r2 = _kl.bcast(p.rate, batch), _kl.bcast(q.rate, batch)
        ratio = r2 / r1
        v = -np.log(ratio) + ratio - 1.0
        # a ratio beyond float64: -log(inf) + inf is NaN; its log as a difference is finite
        v = np.where(np.isnan(v), (ratio - 1.0) - (np.log(r2) - np.log(r1)), v)
        return (v, {"rate": (1.0 - ratio) / r1},
                {"rate": 1.0 / r1 - 1.0 / r2})

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Constant):
        """Exponential(rate): grad s = -1 / rate^2; x = e / rate: u = -x / rate, d u /
        drate |x = x / rate^2, d^2 x / drate^2 = 2 x / rate^2.  d^2 p / drate^2 = (2 /
        rate^2) (Gamma(3, rate) - Gamma(2, rate)): f(x + e2 / rate + e3 / rate) - f(x + e2
        / rate), and the first derivative (1 / rate) (f(x) - f(x + e2 / rate))."""

        explicit = weak = pathwise = True

        def __init__(self, dist):
            super().__init__(dist)
            self.rate = self._row(dist.rate)

        def jac(self, x3):
            return (-x3[:, :, 0] / self.rate)[..., None, None]

        def mixed(self, x3, gp3):
            return (gp3[:, :, 0] * x3[:, :, 0] / (self.rate * self.rate))[..., None, None]

        def jac2(self, x3, gp3):
            return (2.0 * gp3[:, :, 0] * x3[:, :, 0] / (self.rate * self.rate))[..., None, None]

        def measure(self, x3, values, aux, f0):
            x = x3[:, :, 0]
            m, B = x.shape
            e = aux.exponential(2)
            g2 = x + e[..., 0] / self.rate
            g3 = g2 + e[..., 1] / self.rate
            F = values(np.stack([g2, g3]).reshape(2 * m, B, 1)).reshape(2, m, B)
            iv = 1.0 / self.rate
            return ((iv * (f0 - F[0]))[..., None],
                    ((2.0 * iv * iv) * (F[1] - F[0]))[..., None, None])
