"""VonMises(loc, concentration), in one place.

Its parameter checks, kernel constants, NumPy twins (the reference backend's
sampler, score and the other slots), closed forms (entropy, Fisher
information) and second-order pieces for ``fs.estimate(..., order=2)``.
"""

import numpy as np
from scipy import special, stats

from .. import _entropy, _fisher, _implicit_ref, _kl
from .._distribution import _ScalarFamily
from .._hessian import _Family, _sym

__all__ = ["VonMises"]


class VonMises(_ScalarFamily):
    """VonMises(loc, concentration): density exp(k cos(x - loc)) / (2 pi I0(k)) on [-pi, pi].

    Sampled by numpy's ``random_vonmises`` (``Generator.vonmises``).  Scores:
    d/dloc = k sin(x - loc), d/dconcentration = cos(x - loc) - I1(k) / I0(k)
    (the Bessel ratio from scipy.special, once per batch element).

    Parameters
    ----------
    loc : array_like
        Mean direction, finite.
    concentration : array_like
        Concentration k, > 0.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.VonMises(0.0, 1.0), [0.0])["loc"]
    array([0.])
    """

    family = "vonmises"
    positive = ("concentration",)
    _support_text = "[-pi, pi]"

    def __init__(self, loc, concentration, validate_args=True):
        super().__init__({"loc": loc, "concentration": concentration}, validate_args)

    def _constants(self):
        k = self.concentration.ravel()
        return {"loc": self.loc.ravel(), "concentration": k,
                "bessel_ratio": special.i1e(k) / special.i0e(k)}

    def _draw_numpy(self, gen, c, m):
        return gen.vonmises(c["loc"], c["concentration"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (np.abs(x3) <= np.pi)

    def _score_numpy(self, x3):
        plan = self.plan()
        z = x3[:, :, 0] - plan.const("loc")
        return np.stack([plan.const("concentration") * np.sin(z),
                         np.cos(z) - plan.const("bessel_ratio")], axis=-1)

    def _log_prob(self, x3):
        return stats.vonmises.logpdf(x3[:, :, 0], self.concentration.reshape(1, -1),
                                     loc=self.loc.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy log(2 pi I0(k)) - k I1(k) / I0(k), shape batch_shape.

        k is the concentration.  Below k = 20 from scipy.special.i0e and i1e;
        from 20 on, where 1 - A cancels, from the large-k expansions of I0 and
        I1 (fastscore._entropy.vonmises_core).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 0, d/dconcentration = A - k (1 - A^2)
            with A = I1(k) / I0(k).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.VonMises(0.0, [0.5, 30.0]).entropy(grad=True)
        >>> h.round(6), g["concentration"].round(6)
        (array([ 1.778177, -0.273108]), array([-0.228097, -0.016959]))
        """
        h, dh = _entropy.vonmises_core(self.concentration, grad=True)
        return self._entropy_out(h, {"loc": np.zeros(h.shape), "concentration": dh}, grad)

    def fisher(self):
        """Fisher information diag(k A, 1 - A / k - A^2) in (loc, concentration k),
        A = I1(k) / I0(k); shape batch_shape + (2, 2) (see :meth:`Distribution.fisher`).

        The second entry, dA/dk = Var(cos(x - loc)), comes from the large-k
        expansions of the Bessel functions from k = 20 on, where the direct form
        cancels (fastscore._fisher.vonmises_ratio_and_slope).
        """
        k = self.concentration
        a, da = _fisher.vonmises_ratio_and_slope(k)
        return self._fisher_out(_fisher.sym2(k * a, 0.0, da))

    def _pathwise_numpy(self, x3, gp3):
        # dx/dloc = 1 (away from the wrap at +-pi); dx/dk implicit, of x - loc wrapped
        plan = self.plan()
        gp = gp3[:, :, 0]
        t = x3[:, :, 0] - plan.const("loc")
        t = np.where(t > np.pi, t - 2.0 * np.pi, np.where(t < -np.pi, t + 2.0 * np.pi, t))
        return np.stack([gp, gp * _implicit_ref.vonmises_dx_dconc(
            plan.const("concentration"), t)], axis=-1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        m1, k1, m2, k2 = (_kl.bcast(x, batch)
                          for x in (p.loc, p.concentration, q.loc, q.concentration))
        a1, da1 = _fisher.vonmises_ratio_and_slope(k1)
        a2, _ = _fisher.vonmises_ratio_and_slope(k2)
        c, s = np.cos(m1 - m2), np.sin(m1 - m2)
        # log I0(k) = log i0e(k) + k
        v = (np.log(special.i0e(k2)) - np.log(special.i0e(k1)) + k2 * (1.0 - a1 * c)
             - k1 * (1.0 - a1))
        return (v, {"loc": a1 * k2 * s, "concentration": da1 * (k1 - k2 * c)},
                {"loc": -a1 * k2 * s, "concentration": a2 - a1 * c})

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """VonMises(loc, k), t = x - loc: grad s = [[-k cos t, sin t], [sin t, -A'(k)]], A =
        I1 / I0 (A' = Var cos t, fastscore._fisher.vonmises_ratio_and_slope)."""

        def score_hess(self, x3):
            d = self.dist
            t = x3[:, :, 0] - self._row(d.loc)
            k = self._row(d.concentration)
            _, da = _fisher.vonmises_ratio_and_slope(k)
            return _sym(-k * np.cos(t), np.sin(t), -da + 0.0 * t)
