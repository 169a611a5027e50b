"""The family LogNormal(loc, scale), log x ~ Normal(loc, scale): its class and twins."""

import numpy as np
from scipy import stats

from .. import _entropy
from .._distribution import _relative_resolution, _exp_libm
from .._hessian import _sym
from .normal import Normal

__all__ = ["LogNormal"]


class LogNormal(Normal):
    """LogNormal(loc, scale): log x ~ Normal(loc, scale).

    Sampled by numpy's ``random_lognormal`` (``Generator.lognormal``).
    Scores, with z = (log x - loc) / scale: d/dloc = z / scale,
    d/dscale = (z^2 - 1) / scale.

    Parameters
    ----------
    loc : array_like
        Mean of log x, finite.
    scale : array_like
        Standard deviation of log x, > 0.
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.LogNormal(0.0, 1.0), [1.0])["scale"]
    array([-1.])
    """

    family = "lognormal"
    #: With f inline, the kernel keeps log x from the normal sampler (no log per sample).
    inline_family = "lognormal_y"
    _support_text = "(x > 0)"
    _overflow_rule = (" (x = exp(loc + scale z) is finite for loc + scale z < log(1.8e308) "
                      "= 709.78)")

    def _check_resolution(self, estimator):
        super()._check_resolution(estimator)   # loc + scale z must resolve scale z
        scale = np.broadcast_to(self._differentiable["scale"], self.batch_shape)
        _relative_resolution(self, "scale", scale, scale, "x = exp(loc + scale z) varies by "
                             "a factor exp(scale z)")

    def _draw_numpy(self, gen, c, m):
        return gen.lognormal(c["loc"], c["scale"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 > 0)

    def _score_numpy(self, x3):
        # The Normal score of log x (the kernel computes the same).
        return Normal._score_numpy(self, np.log(x3))

    def _log_prob(self, x3):
        return stats.lognorm.logpdf(x3[:, :, 0], self.scale.reshape(1, -1),
                                    scale=np.exp(self.loc.reshape(1, -1)))

    def entropy(self, grad=False):
        """Differential entropy loc + 1/2 log(2 pi e) + log(scale), shape batch_shape.

        The entropy of log x plus E[log x] = loc (x = exp(y) adds log x to
        -log p).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 1, d/dscale = 1 / scale.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.LogNormal(1.0, 2.0).entropy(grad=True)
        >>> round(float(h), 6), float(g["loc"]), float(g["scale"])
        (3.112086, 1.0, 0.5)
        """
        s = self.scale
        return self._entropy_out(_entropy.HALF_LOG_2PIE + np.log(s) + self.loc,
                                 {"loc": np.ones(s.shape), "scale": 1.0 / s}, grad)

    def _pathwise_numpy(self, x3, gp3):
        # x = exp(loc + scale z): dx/dloc = x, dx/dscale = x z
        plan = self.plan()
        x = x3[:, :, 0]
        gx = gp3[:, :, 0] * x
        z = (np.log(x) - plan.const("loc")) * plan.const("inv_scale")
        return np.stack([gx, gx * z], axis=-1)

    def _measure_draw_numpy(self, gen, c, m):
        # the normal's points, through exp (lognormal_measure_draw)
        out = Normal._measure_draw_numpy(self, gen, c, m)
        for i in range(m):
            out[i] = [_exp_libm(v) for v in out[i]]
        return out

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(Normal._SecondOrder):
        """LogNormal(loc, scale): the Normal's pieces in y = log x; x = exp(loc + scale z):
        u = x (1, z), d u_scale / d(loc, scale) |x = -x (1, z) / scale, d^2 x = x [[1, z],
        [z, z^2]]; the weak derivatives' points through exp."""

        def _y(self, x3):
            return np.log(x3[:, :, 0])

        def _dxdy(self, x3):
            return x3[:, :, 0]

        def jac2(self, x3, gp3):
            z = self._z(x3)
            c = gp3[:, :, 0] * x3[:, :, 0]
            return _sym(c, c * z, c * z * z)

        def _point(self, w):
            return np.exp(self.loc + self.scale * w)
