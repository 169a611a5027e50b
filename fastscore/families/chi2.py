"""The family Chi2(df): its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import special, stats

from .. import _entropy, _implicit_ref, _kl, _logspace
from .._distribution import _ScalarFamily, _relative_resolution
from .._hessian import _Constant

__all__ = ["Chi2"]


class Chi2(_ScalarFamily):
    """Chi2(df): the chi-squared distribution, Gamma(df / 2, rate=1/2).

    Sampled by numpy's ``random_chisquare`` (``Generator.chisquare``).
    Score: d/ddf = (log(x / 2) - digamma(df / 2)) / 2.

    Parameters
    ----------
    df : array_like
        Degrees of freedom, > 0 (need not be an integer).
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.Chi2(3.0).batch_shape
    ()
    """

    family = "chi2"
    positive = ("df",)
    _support_text = "(x > 0)"

    def __init__(self, df, validate_args=True):
        super().__init__({"df": df}, validate_args)

    def _check_resolution(self, estimator):
        df = np.broadcast_to(self._differentiable["df"], self.batch_shape)
        with np.errstate(divide="ignore"):
            _relative_resolution(self, "df", df, np.sqrt(2.0 / df), "sqrt(2 / df)")

    def _constants(self):
        k = self.df.ravel()
        return {"df": k, "log2_plus_digamma_half_df": np.log(2.0) + special.digamma(0.5 * k)}

    def _draw_numpy(self, gen, c, m):
        return gen.chisquare(c["df"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 > 0)

    def _score_numpy(self, x3):
        return (0.5 * (np.log(x3[:, :, 0])
                       - self.plan().const("log2_plus_digamma_half_df")))[:, :, None]

    def _log_prob(self, x3):
        return stats.chi2.logpdf(x3[:, :, 0], self.df.reshape(1, -1))

    log_space_family = "chi2_log"

    def entropy(self, grad=False):
        """Differential entropy of Gamma(df / 2, rate=1/2), shape batch_shape.

        H = df/2 + log 2 + lnGamma(df/2) + (1 - df/2) digamma(df/2), from its
        asymptotic series for df >= 40 (see :meth:`Gamma.entropy`).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/ddf = (1 + (1 - df/2) trigamma(df/2)) / 2.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Chi2(2.0).entropy(grad=True)  # Exponential(1/2)
        >>> round(float(h), 6), round(float(g["df"]), 6)
        (1.693147, 0.5)
        """
        g, dg = _entropy.gamma_core(0.5 * self.df, grad=True)
        return self._entropy_out(g + math.log(2.0), {"df": 0.5 * dg}, grad)

    def fisher(self):
        """Fisher information trigamma(df / 2) / 4, shape batch_shape + (1, 1) (see
        :meth:`Distribution.fisher`)."""
        return self._fisher_out((0.25 * special.polygamma(1, 0.5 * self.df))[..., None, None])

    def _small_concentration(self):
        return bool((self.df < 2.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.gamma_block(gen, c["df"] / 2.0, 2.0, m)[:, None]

    _log_f_input = staticmethod(_logspace.positive_f_input)

    def _log_score_numpy(self, v3):
        return (0.5 * (_logspace.log_of(v3[:, :, 0])
                       - self.plan().const("log2_plus_digamma_half_df")))[:, :, None]

    def _pathwise_numpy(self, x3, gp3):
        # x = 2 y, y ~ Gamma(df / 2, 1)
        return (gp3[:, :, 0] * _implicit_ref.gamma_dx_dshape(
            0.5 * self.plan().const("df"), 0.5 * x3[:, :, 0]))[:, :, None]

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        a1, a2 = 0.5 * _kl.bcast(p.df, batch), 0.5 * _kl.bcast(q.df, batch)
        half = np.full(a1.shape, 0.5)
        v, da1, _, da2, _ = _kl.gamma_terms(a1, half, a2, half)
        return v, {"df": 0.5 * da1}, {"df": 0.5 * da2}

    #: order=2: grad s = -fisher() (its natural parameters are linear in the
    #: parameters passed; fastscore._hessian)
    _SecondOrder = _Constant
