"""The family Beta(concentration1, concentration0): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import special, stats

from .. import _entropy, _fisher, _implicit_ref, _kl, _logspace
from .._distribution import _ScalarFamily, _relative_resolution
from .._hessian import _Constant

__all__ = ["Beta"]


class Beta(_ScalarFamily):
    """Beta(concentration1, concentration0): density proportional to x^(a-1) (1-x)^(b-1).

    ``concentration1`` is a (the exponent of x), ``concentration0`` is b, as in
    torch.distributions.  Sampled by numpy's ``random_beta``
    (``Generator.beta(a, b)``).  Scores: d/da = log x - digamma(a) + digamma(a+b),
    d/db = log(1 - x) - digamma(b) + digamma(a+b).

    Parameters
    ----------
    concentration1 : array_like
        a, the exponent of x, > 0.
    concentration0 : array_like
        b, the exponent of 1 - x, > 0.
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Beta(2.0, 2.0)
    >>> s = fs.score(d, [0.5])
    >>> bool(abs(s["concentration1"][0] - s["concentration0"][0]) < 1e-12)
    True
    """

    family = "beta"
    positive = ("concentration1", "concentration0")
    _support_text = "(0 < x < 1)"

    def __init__(self, concentration1, concentration0, validate_args=True):
        super().__init__({"concentration1": concentration1, "concentration0": concentration0},
                         validate_args)

    def _check_resolution(self, estimator):
        a = np.broadcast_to(self._differentiable["concentration1"], self.batch_shape)
        b = np.broadcast_to(self._differentiable["concentration0"], self.batch_shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # sd / mean of x: sqrt(b / (a (a + b + 1)))
            rel = np.sqrt(b / a / (a + b + 1.0))
        for name, v, mine in (("concentration1", a, a >= b), ("concentration0", b, a < b)):
            _relative_resolution(self, name, v, np.where(mine, rel, np.inf),
                                 "the standard deviation of x over its mean")

    def _constants(self):
        a = self.concentration1.ravel()
        b = self.concentration0.ravel()
        dab = special.digamma(a + b)
        return {"concentration1": a, "concentration0": b,
                "digamma_sum_minus_digamma1": dab - special.digamma(a),
                "digamma_sum_minus_digamma0": dab - special.digamma(b)}

    def _draw_numpy(self, gen, c, m):
        return gen.beta(c["concentration1"], c["concentration0"], size=m)[:, None]

    def _in_support(self, x3):
        # the open interval: log x or log(1 - x) is -inf at 0 and 1
        return (x3 > 0) & (x3 < 1)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        with np.errstate(divide="ignore"):
            return np.stack([np.log(x) + plan.const("digamma_sum_minus_digamma1"),
                             np.log1p(-x) + plan.const("digamma_sum_minus_digamma0")], axis=-1)

    def _log_prob(self, x3):
        return stats.beta.logpdf(x3[:, :, 0], self.concentration1.reshape(1, -1),
                                 self.concentration0.reshape(1, -1))

    log_space_family = "beta_log"

    def entropy(self, grad=False):
        """Differential entropy of Beta(a, b), shape batch_shape.

        H = log B(a, b) - (a - 1) digamma(a) - (b - 1) digamma(b)
        + (a + b - 2) digamma(a + b), a = concentration1, b = concentration0,
        computed as G(a) + G(b) - G(a + b) - digamma(a + b) with G(a) the entropy
        of Gamma(a, 1) (fastscore._entropy.gamma_core), which does not cancel for
        large concentrations.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/da = (1 - a) trigamma(a) + (a + b - 2)
            trigamma(a + b), and d/db likewise.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Beta([1.0, 2.0], 1.0).entropy(grad=True)  # uniform, then 2x
        >>> h.round(6), g["concentration1"].round(6)
        (array([ 0.      , -0.193147]), array([ 0.  , -0.25]))
        """
        a, b = self.concentration1, self.concentration0
        ga, dga = _entropy.gamma_core(a, grad=True)
        gb, dgb = _entropy.gamma_core(b, grad=True)
        gs, dgs = _entropy.gamma_core(a + b, grad=True)
        common = -dgs - special.polygamma(1, a + b)
        return self._entropy_out(ga + gb - gs - special.digamma(a + b),
                                 {"concentration1": dga + common,
                                  "concentration0": dgb + common}, grad)

    def fisher(self):
        """Fisher information [[t(a) - t(a+b), -t(a+b)], [-t(a+b), t(b) - t(a+b)]] in
        (concentration1 a, concentration0 b), t the trigamma function; shape
        batch_shape + (2, 2) (see :meth:`Distribution.fisher`)."""
        a, b = self.concentration1, self.concentration0
        t = special.polygamma(1, a + b)
        return self._fisher_out(_fisher.sym2(special.polygamma(1, a) - t, -t,
                                             special.polygamma(1, b) - t))

    def _small_concentration(self):
        return bool((np.minimum(self.concentration1, self.concentration0) < 1.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.beta_block(gen, c["concentration1"], c["concentration0"], m)[:, None]

    _log_f_input = staticmethod(_logspace.beta_f_input)

    def _log_score_numpy(self, v3):
        plan = self.plan()
        log_x, log_1mx = _logspace.beta_logs(v3[:, :, 0])
        return np.stack([log_x + plan.const("digamma_sum_minus_digamma1"),
                         log_1mx + plan.const("digamma_sum_minus_digamma0")], axis=-1)

    def _pathwise_numpy(self, x3, gp3):
        plan = self.plan()
        gp = gp3[:, :, 0]
        da, db = _implicit_ref.beta_dx_dab(plan.const("concentration1"),
                                           plan.const("concentration0"), x3[:, :, 0])
        return np.stack([gp * da, gp * db], axis=-1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        a = np.stack([_kl.bcast(p.concentration1, batch), _kl.bcast(p.concentration0, batch)],
                     axis=-1)
        b = np.stack([_kl.bcast(q.concentration1, batch), _kl.bcast(q.concentration0, batch)],
                     axis=-1)
        v, ga, gb = _kl.dirichlet_terms(a, b)
        return (v, {"concentration1": ga[..., 0], "concentration0": ga[..., 1]},
                {"concentration1": gb[..., 0], "concentration0": gb[..., 1]})

    #: order=2: grad s = -fisher() (its natural parameters are linear in the
    #: parameters passed; fastscore._hessian)
    _SecondOrder = _Constant
