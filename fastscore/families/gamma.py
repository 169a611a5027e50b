"""The family Gamma(concentration, rate): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import special, stats

from .. import _entropy, _fisher, _implicit_ref, _kl, _logspace
from .._distribution import _ScalarFamily, _relative_resolution
from .._hessian import _Constant

__all__ = ["Gamma"]


class Gamma(_ScalarFamily):
    """Gamma(concentration, rate): density proportional to x^(a-1) exp(-rate x).

    Sampled by numpy's ``random_gamma`` with scale 1/rate
    (``Generator.gamma(concentration, 1 / rate)``).  Scores:
    d/dconcentration = log x + log rate - digamma(concentration),
    d/drate = concentration / rate - x; the digamma term is computed once
    per batch element by scipy.special.

    Parameters
    ----------
    concentration : array_like
        Shape a, > 0.
    rate : array_like
        Rate (1 / scale), > 0.
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Gamma(1.0, 1.0), [1.0])["rate"]
    array([0.])
    """

    family = "gamma"
    positive = ("concentration", "rate")
    _support_text = "(x > 0)"

    def __init__(self, concentration, rate, validate_args=True):
        super().__init__({"concentration": concentration, "rate": rate}, validate_args)

    def _check_resolution(self, estimator):
        a = np.broadcast_to(self._differentiable["concentration"], self.batch_shape)
        with np.errstate(divide="ignore"):
            _relative_resolution(self, "concentration", a, 1.0 / np.sqrt(a),
                                 "1 / sqrt(concentration)")

    def _constants(self):
        a = self.concentration.ravel()
        r = self.rate.ravel()
        return {"concentration": a, "scale": 1.0 / r,
                "log_rate_minus_digamma": np.log(r) - special.digamma(a), "mean": a / r,
                "rate": r}

    def _draw_numpy(self, gen, c, m):
        return gen.gamma(c["concentration"], c["scale"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 > 0)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        return np.stack([np.log(x) + plan.const("log_rate_minus_digamma"),
                         plan.const("mean") - x], axis=-1)

    def _log_prob(self, x3):
        return stats.gamma.logpdf(x3[:, :, 0], self.concentration.reshape(1, -1),
                                  scale=1.0 / self.rate.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy a - log(rate) + lnGamma(a) + (1 - a) digamma(a), shape batch_shape.

        a is the concentration.  From a = 20 on, a - lnGamma(a) ... is a
        difference of numbers of size a log a, and comes from its
        asymptotic (Stirling) series instead (fastscore._entropy.gamma_core).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dconcentration = 1 + (1 - a) trigamma(a),
            d/drate = -1 / rate.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Gamma(1.0, 2.0).entropy(grad=True)  # Exponential(2)
        >>> round(float(h), 6), float(g["rate"])
        (0.306853, -0.5)
        """
        g, dg = _entropy.gamma_core(self.concentration, grad=True)
        r = self.rate
        return self._entropy_out(g - np.log(r), {"concentration": dg, "rate": -1.0 / r}, grad)

    def fisher(self):
        """Fisher information [[trigamma(a), -1 / rate], [-1 / rate, a / rate^2]] in
        (concentration a, rate), shape batch_shape + (2, 2) (see
        :meth:`Distribution.fisher`)."""
        a, r = self.concentration, self.rate
        return self._fisher_out(_fisher.sym2(special.polygamma(1, a), -1.0 / r, a / (r * r)))

    def _pathwise_numpy(self, x3, gp3):
        # x = y / rate, y ~ Gamma(a, 1): dx/da implicit, dx/drate = -x / rate
        plan = self.plan()
        x, gp, scale = x3[:, :, 0], gp3[:, :, 0], plan.const("scale")
        da = _implicit_ref.gamma_dx_dshape(plan.const("concentration"), x * plan.const("rate"))
        return np.stack([gp * (da * scale), -(gp * x) * scale], axis=-1)

    log_space_family = "gamma_log"

    def _small_concentration(self):
        return bool((self.concentration < 1.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.gamma_block(gen, c["concentration"], c["scale"], m)[:, None]

    _log_f_input = staticmethod(_logspace.positive_f_input)

    def _log_score_numpy(self, v3):
        plan = self.plan()
        v = v3[:, :, 0]
        return np.stack([_logspace.log_of(v) + plan.const("log_rate_minus_digamma"),
                         plan.const("mean") - _logspace.positive_f_input(v)], axis=-1)

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 5))
        for i in range(m):
            x = gen.gamma(c["concentration"], c["scale"])
            x2 = gen.exponential(c["scale"])
            out[i] = (x, x, x, x, x + x2)
        return out

    def _measure_coef(self):
        # concentration has no weak derivative here: its gradient is NaN
        a, r = self.concentration.reshape(-1), self.rate.reshape(-1)
        return np.stack([np.full(a.shape, np.nan), a / r], axis=-1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        a1, b1, a2, b2 = (_kl.bcast(x, batch)
                          for x in (p.concentration, p.rate, q.concentration, q.rate))
        v, da1, db1, da2, db2 = _kl.gamma_terms(a1, b1, a2, b2)
        return v, {"concentration": da1, "rate": db1}, {"concentration": da2, "rate": db2}

    #: order=2: grad s = -fisher() (its natural parameters are linear in the
    #: parameters passed; fastscore._hessian)
    _SecondOrder = _Constant
