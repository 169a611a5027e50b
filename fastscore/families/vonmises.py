"""The family VonMises(loc, concentration): its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import special, stats

from .. import _entropy, _fisher, _implicit_ref, _kl
from .._distribution import _ScalarFamily
from .._hessian import _Family, _sym

__all__ = ["VonMises"]

# ---------------------------------------------------------------------------
# The Bessel functions' large-k expansions of its entropy and Fisher information
# ---------------------------------------------------------------------------
#: From this concentration on, vonmises_core uses the large-k expansion.
_VONMISES_SERIES_FROM = 20.0
_VONMISES_TERMS = 40


def _bessel_series_coefficients(nu, n):
    """c_j of I_nu(k) e^-k sqrt(2 pi k) ~ sum_j c_j k^-j (DLMF 10.40.1), j = 0..n-1."""
    c = [1.0]
    for j in range(1, n):
        c.append(-c[-1] * (4.0 * nu * nu - (2.0 * j - 1.0) ** 2) / (8.0 * j))
    return np.array(c)


_C0 = _bessel_series_coefficients(0, _VONMISES_TERMS)
_C1 = _bessel_series_coefficients(1, _VONMISES_TERMS)
# I0 - I1 has positive coefficients from j = 1 on: no cancellation.
_CD = _C0 - _C1


def _poly(coef, t):
    """sum_j coef[j] t^j and its derivative in t (Horner, smallest terms first)."""
    v = np.zeros_like(t)
    d = np.zeros_like(t)
    for c in coef[::-1]:
        d = d * t + v
        v = v * t + c
    return v, d


def vonmises_core(k, grad=False):
    """The von Mises entropy without its location, and its derivative in k.

    H(k) = log(2 pi I0(k)) - k I1(k) / I0(k) = log(2 pi) + log(i0e(k)) + k (1 - A),
    A = I1 / I0; dH/dk = A - k (1 - A^2).  Below k = 20 directly from
    scipy.special.i0e and i1e; from 20 on, where 1 - A and dH/dk cancel, from
    the large-k expansions S_nu(k) = I_nu(k) e^-k sqrt(2 pi k) ~ sum_j c_j k^-j
    (40 terms; the smallest omitted one is below 1e-20 there): with D = S0 - S1,
    1 - A = D / S0 and H = log(2 pi / k) / 2 + log S0 + k D / S0.
    """
    k = np.asarray(k, dtype=np.float64)
    big = k >= _VONMISES_SERIES_FROM
    small = ~big
    h = np.empty_like(k)
    dh = np.empty_like(k) if grad else None
    x = k[small]
    i0, i1 = special.i0e(x), special.i1e(x)
    a = i1 / i0
    h[small] = _entropy.LOG_2PI + np.log(i0) + x * ((i0 - i1) / i0)
    if grad:
        dh[small] = a - x * ((i0 - i1) / i0) * (1.0 + a)
    x = k[big]
    if x.size:
        t = 1.0 / x
        s0, ds0 = _poly(_C0, t)  # derivatives in t = 1/k
        d, dd = _poly(_CD, t)
        kd = d * x  # k D = sum_j cd_j k^(1-j): cd_0 = 0, cd_1 = 1/2
        h[big] = 0.5 * np.log(2.0 * math.pi * t) + np.log(s0) + kd / s0
        if grad:
            # d/dk = -t^2 d/dt; (k D)' = (D / t)' = -(t dD/dt - D)
            ds0_dk = -t * t * ds0
            dkd_dk = -(t * dd - d)
            dh[big] = -0.5 * t + (ds0_dk / s0 + (dkd_dk - kd * ds0_dk / s0) / s0)
    return (h, dh) if grad else h


def vonmises_ratio_and_slope(k):
    """(A, A') with A = I1(k) / I0(k) and A' = dA/dk = 1 - A / k - A^2.

    A' is Var(cos(x - loc)) under VonMises(loc, k), the Fisher information of
    the concentration.  Below k = 20 directly from scipy.special.i0e and i1e
    (the cancellation there costs at most 3 digits); from 20 on, where
    1 - A / k - A^2 ~ 1 / (2 k^2) would cancel, from the large-k expansions
    S_nu(t) = I_nu(k) e^-k sqrt(2 pi k) ~ sum_j c_j t^j, t = 1 / k (DLMF
    10.40.1, the coefficients above): A = S1 / S0 and
    A' = -t^2 dA/dt = t^2 (S1 S0' - S1' S0) / S0^2, whose terms do not cancel.
    """
    k = np.asarray(k, dtype=np.float64)
    a = np.empty_like(k)
    da = np.empty_like(k)
    big = k >= _VONMISES_SERIES_FROM
    small = ~big
    x = k[small]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = special.i1e(x) / special.i0e(x)
        a[small] = r
        da[small] = np.where(x > 0, 1.0 - r / x - r * r, 0.5)
    x = k[big]
    if x.size:
        t = 1.0 / x
        s0, ds0 = _poly(_C0, t)
        s1, ds1 = _poly(_C1, t)
        a[big] = s1 / s0
        da[big] = t * t * (s1 * ds0 - ds1 * s0) / (s0 * s0)
    return a, da


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
    {validate_args, raises}

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
        I1 (fastscore.families.vonmises.vonmises_core).

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
        h, dh = vonmises_core(self.concentration, grad=True)
        return self._entropy_out(h, {"loc": np.zeros(h.shape), "concentration": dh}, grad)

    def fisher(self):
        """Fisher information diag(k A, 1 - A / k - A^2) in (loc, concentration k),
        A = I1(k) / I0(k); shape batch_shape + (2, 2) (see :meth:`Distribution.fisher`).

        The second entry, dA/dk = Var(cos(x - loc)), comes from the large-k
        expansions of the Bessel functions from k = 20 on, where the direct form
        cancels (fastscore.families.vonmises.vonmises_ratio_and_slope).
        """
        k = self.concentration
        a, da = vonmises_ratio_and_slope(k)
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
        a1, da1 = vonmises_ratio_and_slope(k1)
        a2, _ = vonmises_ratio_and_slope(k2)
        c, s = np.cos(m1 - m2), np.sin(m1 - m2)
        # log I0(k) = log i0e(k) + k
        v = (np.log(special.i0e(k2)) - np.log(special.i0e(k1)) + k2 * (1.0 - a1 * c)
             - k1 * (1.0 - a1))
        return (v, {"loc": a1 * k2 * s, "concentration": da1 * (k1 - k2 * c)},
                {"loc": -a1 * k2 * s, "concentration": a2 - a1 * c})

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """VonMises(loc, k), t = x - loc: grad s = [[-k cos t, sin t], [sin t, -A'(k)]], A =
        I1 / I0 (A' = Var cos t, vonmises_ratio_and_slope)."""

        def score_hess(self, x3):
            d = self.dist
            t = x3[:, :, 0] - self._row(d.loc)
            k = self._row(d.concentration)
            _, da = vonmises_ratio_and_slope(k)
            return _sym(-k * np.cos(t), np.sin(t), -da + 0.0 * t)
