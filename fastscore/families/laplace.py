"""Laplace(loc, scale): the family's class, its checks, kernel constants and NumPy
twins (its kernel functions: laplace.pxi, laplace.h).  Its parameters, constants and
pathwise terms are those of every location-scale family (_LocationScale)."""

import numpy as np
from scipy import stats

from .. import _fisher, _kl
from .._distribution import _LocationScale
from .normal import Normal

__all__ = ["Laplace"]


class Laplace(_LocationScale):
    """Laplace(loc, scale): density exp(-abs(x - loc) / scale) / (2 scale).

    Sampled by numpy's ``random_laplace`` (``Generator.laplace``): a uniform u
    of the stream (drawn again at 0), loc - scale log(2 - 2u) for u >= 1/2,
    loc + scale log(2u) below.  Scores: d/dloc = sign(x - loc) / scale,
    d/dscale = (abs(x - loc) / scale - 1) / scale.  The pathwise estimator
    differentiates x = loc + scale e (e standard Laplace): dx/dloc = 1,
    dx/dscale = (x - loc) / scale.

    ``order=2`` takes ``estimator="mixed"`` or ``"pathwise"`` (x is linear in
    the parameters); the score function's Hessian is refused: the derivative
    of d/dloc log p in loc has a point mass at x = loc, which the per-sample
    terms miss, so that estimate would be biased.

    Parameters
    ----------
    loc : array_like
        Location (the median), finite.
    scale : array_like
        Scale, > 0 (the standard deviation is sqrt(2) scale).
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Laplace(loc=[0.0, 1.0], scale=2.0)
    >>> d.batch_shape
    (2,)
    >>> fs.score(d, [[1.0, 1.0]])["loc"]
    array([[0.5, 0. ]])
    """

    family = "laplace"

    def _draw_numpy(self, gen, c, m):
        return gen.laplace(c["loc"], c["scale"], size=m)[:, None]

    def _score_numpy(self, x3):
        # laplace.h's operations: sign(d) / scale from d = x - loc, (|z| - 1) / scale
        plan = self.plan()
        inv = plan.const("inv_scale")
        d = x3[:, :, 0] - plan.const("loc")
        return np.stack([np.sign(d) * inv, (np.abs(d * inv) - 1.0) * inv], axis=-1)

    def _log_prob(self, x3):
        return stats.laplace.logpdf(x3[:, :, 0], self.loc.reshape(1, -1),
                                    self.scale.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy 1 + log(2 scale), shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 0, d/dscale = 1 / scale.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> d = fs.Laplace(loc=0.0, scale=[0.5, 2.0])
        >>> d.entropy().round(6)
        array([1.      , 2.386294])
        >>> h, g = d.entropy(grad=True)
        >>> g["scale"]
        array([2. , 0.5])
        """
        s = self.scale
        return self._entropy_out(1.0 + (np.log(2.0) + np.log(s)),
                                 {"loc": np.zeros(s.shape), "scale": 1.0 / s}, grad)

    def fisher(self):
        """Fisher information diag(1 / scale^2, 1 / scale^2) in (loc, scale), shape
        batch_shape + (2, 2) (see :meth:`Distribution.fisher`).

        Returns
        -------
        ndarray
            Shape batch_shape + (2, 2).

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Laplace(1.0, 0.5).fisher()
        array([[4., 0.],
               [0., 4.]])
        """
        v = 1.0 / (self.scale * self.scale)
        return self._fisher_out(_fisher.sym2(v, 0.0, v))

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl): log(b2 / b1) +
        abs(m1 - m2) / b2 + (b1 / b2) exp(-abs(m1 - m2) / b1) - 1."""
        p = self
        m1, b1, m2, b2 = (_kl.bcast(a, batch) for a in (p.loc, p.scale, q.loc, q.scale))
        dm = m1 - m2
        a, sg = np.abs(dm), np.sign(dm)
        t = a / b1
        e = np.exp(-t)
        logr = np.log(b1) - np.log(b2)
        # (b1 / b2) exp(-t) as one exp: b1 / b2 alone can overflow where its product does not
        re = np.exp(logr - t)
        v = -logr + a / b2 + re - 1.0
        eb2 = e / b2
        # e a / (b1 b2) = (e / b2) t, 0 where e is (t = inf: not 0 * inf)
        g_b1 = -1.0 / b1 + eb2 + np.where(e > 0.0, eb2 * t, 0.0)
        g_b2 = 1.0 / b2 - (a / b2) / b2 - re / b2
        g_m = sg * (1.0 - e) / b2
        return v, {"loc": g_m, "scale": g_b1}, {"loc": -g_m, "scale": g_b2}

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(Normal._SecondOrder):
        """Laplace(loc, scale): x = loc + scale e is linear in the parameters, so u =
        (1, e), e = (x - loc) / scale, and its derivatives at fixed x are Normal's (d^2 x
        = 0).  The score function's Hessian is refused: d/dloc log p = sign(x - loc) /
        scale jumps at x = loc, so d^2 p / dloc^2 has a point mass there that no
        sample's term holds."""

        weak = False
        score_biased = ("the derivative of Laplace's score in loc has a point mass at x = "
                        "loc (d/dloc log p = sign(x - loc) / scale jumps there), which the "
                        "per-sample terms miss: the score function's Hessian would be biased")

        def score_hess(self, x3):
            raise NotImplementedError("order=2, estimator='score': %s; use estimator='mixed' "
                                      "or 'pathwise'" % self.score_biased)

        measure = None   # no weak derivatives here
