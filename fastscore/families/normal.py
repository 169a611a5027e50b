"""The family Normal(loc, scale): its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import stats

from .. import _entropy, _fisher, _kl
from .._distribution import _LocationScale
from .._hessian import _Family, _sym

__all__ = ["Normal"]


class Normal(_LocationScale):
    """Normal(loc, scale): density exp(-(x - loc)^2 / (2 scale^2)) / (scale sqrt(2 pi)).

    Sampled by numpy's ``random_normal`` (``Generator.normal``): loc + scale z
    with z from the ziggurat.  Scores: d/dloc = (x - loc) / scale^2,
    d/dscale = ((x - loc)^2 / scale^2 - 1) / scale.

    Parameters
    ----------
    loc : array_like
        Mean, finite.
    scale : array_like
        Standard deviation, > 0.
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Normal(loc=[0.0, 1.0], scale=2.0)
    >>> d.batch_shape
    (2,)
    >>> fs.score(d, [[1.0, 1.0]])["loc"]
    array([[0.25, 0.  ]])
    """

    family = "normal"

    def _draw_numpy(self, gen, c, m):
        return gen.normal(c["loc"], c["scale"], size=m)[:, None]

    def _score_numpy(self, x3):
        plan = self.plan()
        inv = plan.const("inv_scale")
        z = (x3[:, :, 0] - plan.const("loc")) * inv
        out = np.empty(z.shape + (2,))  # written in place: np.stack's copies cost a policy step
        np.multiply(z, inv, out=out[..., 0])
        zz = np.multiply(z, z, out=z)
        zz -= 1.0
        np.multiply(zz, inv, out=out[..., 1])
        return out

    def _log_prob(self, x3):
        return stats.norm.logpdf(x3[:, :, 0], self.loc.reshape(1, -1), self.scale.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy 1/2 log(2 pi e) + log(scale), shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 0, d/dscale = 1 / scale.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> d = fs.Normal(loc=0.0, scale=[1.0, 2.0])
        >>> d.entropy().round(6)
        array([1.418939, 2.112086])
        >>> h, g = d.entropy(grad=True)
        >>> g["scale"]
        array([1. , 0.5])
        """
        s = self.scale
        return self._entropy_out(_entropy.HALF_LOG_2PIE + np.log(s),
                                 {"loc": np.zeros(s.shape), "scale": 1.0 / s}, grad)

    def fisher(self):
        """Fisher information diag(1 / scale^2, 2 / scale^2) in (loc, scale), shape
        batch_shape + (2, 2) (see :meth:`Distribution.fisher`).

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Normal(1.0, 0.5).fisher()
        array([[4., 0.],
               [0., 8.]])
        """
        v = 1.0 / (self.scale * self.scale)
        return self._fisher_out(_fisher.sym2(v, 0.0, 2.0 * v))

    def _measure_draw_numpy(self, gen, c, m):
        # normal_measure_draw (normal.pxi), sample by sample
        loc, scale = c["loc"], c["scale"]
        out = np.empty((m, 5))
        for i in range(m):
            z = gen.standard_normal()
            w = math.sqrt(2.0 * gen.standard_exponential())
            z2 = gen.standard_normal()
            z3 = gen.standard_normal()
            x = loc + scale * z
            out[i] = (x, loc + scale * w, loc - scale * w,
                      loc + scale * math.copysign(math.sqrt(z * z + z2 * z2 + z3 * z3), z), x)
        return out

    def _measure_coef(self):
        # loc: 1 / (scale sqrt(2 pi)) (Rayleigh parts); scale: 1 / scale (Maxwell against normal)
        scale = self.scale.reshape(-1)
        return np.stack([1.0 / (scale * math.sqrt(2.0 * math.pi)), 1.0 / scale], axis=-1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        m1, s1, m2, s2 = (_kl.bcast(a, batch) for a in (p.loc, p.scale, q.loc, q.scale))
        vr = (s1 / s2) ** 2
        t = (m1 - m2) / s2
        v = 0.5 * (vr + t * t - 1.0 - np.log(vr))
        # scale ratios beyond float64 (1e300 / 0.4): vr and log(vr) both overflow and
        # inf - inf is NaN; log(vr) = 2 log(s1 / s2) as a difference of logs is finite
        v = np.where(np.isnan(v), 0.5 * (vr + t * t - 1.0) - (np.log(s1) - np.log(s2)), v)
        return (v, {"loc": t / s2, "scale": -1.0 / s1 + s1 / (s2 * s2)},
                {"loc": -t / s2, "scale": (1.0 - vr - t * t) / s2})

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """Normal(loc, scale); z = (x - loc) / scale.

        grad s = [[-1, -2 z], [-2 z, 1 - 3 z^2]] / scale^2.  x = loc + scale z: u =
        (1, z), d u_scale / d(loc, scale) |x = (-1, -z) / scale, d^2 x = 0.  Weak
        second derivatives of the density in z, times 1 / scale^2: loc-loc M3 - N,
        scale-scale 3 M5 + 2 N - 5 M3, loc-scale (2 (C4+ - C4-) - 3 (C2+ - C2-)) /
        sqrt(2 pi), with N the sample, M_k = sign(z) sqrt(z^2 + ...) double-sided chi_k
        points sharing the sample's z, C_k chi_k (k = 2: Rayleigh) and +- its sign.
        """

        explicit = weak = pathwise = True

        def __init__(self, dist):
            super().__init__(dist)
            self.loc = self._row(dist.loc)
            self.scale = self._row(dist.scale)

        def _y(self, x3):
            return x3[:, :, 0]

        def _z(self, x3):
            return (self._y(x3) - self.loc) / self.scale

        def score_hess(self, x3):
            z = self._z(x3)
            iv2 = 1.0 / (self.scale * self.scale)
            return _sym(-iv2 + 0.0 * z, -2.0 * z * iv2, (1.0 - 3.0 * z * z) * iv2)

        def _dxdy(self, x3):
            return None   # x = y

        def jac(self, x3):
            z = self._z(x3)
            U = np.stack([np.ones_like(z), z], axis=-1)
            dx = self._dxdy(x3)
            if dx is not None:
                U = U * dx[..., None]
            return U[..., None]

        def mixed(self, x3, gp3):
            z = self._z(x3)
            g = gp3[:, :, 0]
            dx = self._dxdy(x3)
            if dx is not None:
                g = g * dx
            c = g / self.scale
            zero = np.zeros_like(z)
            return np.stack([np.stack([zero, zero], axis=-1),
                             np.stack([-c, -c * z], axis=-1)], axis=-2)

        def _point(self, w):
            return self.loc + self.scale * w

        def measure(self, x3, values, aux, f0):
            z = self._z(x3)
            m, B = z.shape
            e = aux.normal(4)
            u2 = e[..., 0] * e[..., 0] + e[..., 1] * e[..., 1]
            v2 = e[..., 2] * e[..., 2] + e[..., 3] * e[..., 3]
            sgn = np.where(z < 0.0, -1.0, 1.0)
            c2 = np.sqrt(u2)
            c4 = np.sqrt(u2 + v2)
            m3 = sgn * np.sqrt(z * z + u2)
            m5 = sgn * np.sqrt(z * z + u2 + v2)
            pts = np.stack([self._point(w) for w in (m3, m5, c2, -c2, c4, -c4)])   # (6, m, B)
            F = values(pts.reshape(6 * m, B, 1)).reshape(6, m, B)
            fm3, fm5, fc2p, fc2m, fc4p, fc4m = F
            iv = 1.0 / self.scale
            r = 1.0 / np.sqrt(2.0 * np.pi)
            g = np.stack([(r * iv) * (fc2p - fc2m), iv * (fm3 - f0)], axis=-1)
            iv2 = iv * iv
            H = _sym(iv2 * (fm3 - f0), (r * iv2) * (2.0 * (fc4p - fc4m) - 3.0 * (fc2p - fc2m)),
                     iv2 * ((3.0 * fm5 + 2.0 * f0) - 5.0 * fm3))
            return g, H
