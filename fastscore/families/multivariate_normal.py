"""The family MultivariateNormal(loc, scale_tril): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import stats

from .. import _entropy, _fisher, _kl
from .._distribution import Distribution, _resolution, MAX_EVENT_SIZE
from .._hessian import _Family

__all__ = ["MultivariateNormal"]


class MultivariateNormal(Distribution):
    """MultivariateNormal(loc, scale_tril): x = loc + L z, z standard normal, D on the last axis.

    ``scale_tril`` is the lower-triangular Cholesky factor L of the covariance
    (positive diagonal).  Sampled, in the kernel and the reference alike, as D
    standard normals from numpy's ``random_standard_normal`` followed by
    x_i = loc_i + sum_{j <= i} L_ij z_j (``Generator.multivariate_normal``
    factors the covariance differently, so it is not used).  Scores, with
    w = L^-1 (x - loc) and v = L^-T w: d/dloc = v, d/dL_ij = v_i w_j - [i = j] / L_ii
    for i >= j; the gradient for scale_tril is zero above the diagonal.

    The measure-valued estimator works in z (``_measure_wave_numpy``: the weak
    derivatives of each z_k's location, and the second ones that give
    d/dL = L^-T E[d2 f / dz2]); it evaluates f 1 + D + 2 D^2 times per sample, in
    NumPy waves on the kernels' samples, its coupling drawn from the
    auxiliary streams (fastscore._rng.aux_stream).

    Parameters
    ----------
    loc : array_like
        Mean, finite, with 1 <= D <= 2048 (``MAX_EVENT_SIZE``) on the last axis.
    scale_tril : array_like
        Shape (..., D, D): the lower-triangular Cholesky factor L of the
        covariance, finite, zero above the diagonal, with a positive diagonal.
        The batch shapes of ``loc`` (...) and ``scale_tril`` (..., D, D)
        broadcast.
    {validate_args, raises}

    Examples
    --------
    >>> import numpy as np, fastscore as fs
    >>> d = fs.MultivariateNormal(np.zeros(2), np.eye(2))
    >>> d.event_shape
    (2,)
    """

    family = "mvn"
    event_ndim = 1
    _support_text = "(R^D)"

    def __init__(self, loc, scale_tril, validate_args=True):
        super().__init__({"loc": loc, "scale_tril": scale_tril}, validate_args)

    def _setup(self):
        loc = self._differentiable["loc"]
        L = self._differentiable["scale_tril"]
        if loc.ndim < 1:
            raise ValueError("MultivariateNormal: parameter 'loc' needs the event dimension D on "
                             "its last axis; got a scalar")
        D = loc.shape[-1]
        if not 1 <= D <= MAX_EVENT_SIZE:
            raise ValueError("MultivariateNormal: parameter 'loc' needs 1 <= D <= %d on its last "
                             "axis; got shape %s" % (MAX_EVENT_SIZE, loc.shape))
        if L.ndim < 2 or L.shape[-2:] != (D, D):
            raise ValueError("MultivariateNormal: parameter 'scale_tril' must have shape "
                             "(..., %d, %d) to match loc; got %s" % (D, D, L.shape))
        if self.validate_args:
            upper = np.triu(np.ones((D, D), dtype=bool), 1)
            self._require("scale_tril", L, ~(upper & (L != 0)),
                          "lower-triangular (zero above the diagonal)")
            eye = np.eye(D, dtype=bool)
            self._require("scale_tril", L, ~(eye & ~(L > 0)),
                          "lower-triangular with a positive diagonal")
        self.batch_shape = self._broadcast(["loc", "scale_tril"], {"loc": 1, "scale_tril": 2})
        self.event_shape = (D,)
        self.loc = np.broadcast_to(loc, tuple(self.batch_shape) + (D,))
        self.scale_tril = np.broadcast_to(np.tril(L), tuple(self.batch_shape) + (D, D))

    def _param_slots(self):
        D = self.event_shape[0]
        return [("loc", (D,), None), ("scale_tril", (D, D), "tril")]

    def _check_resolution(self, estimator):
        # each coordinate's noise sqrt(sum_j L_ij^2) against |loc_i|
        noise = np.sqrt((self.scale_tril * self.scale_tril).sum(axis=-1))
        _resolution(self, "scale_tril", noise, self.loc)

    def _constants(self):
        D = self.event_shape[0]
        B = self.batch_size
        return {"loc": self.loc.reshape(B, D), "scale_tril": self.scale_tril.reshape(B, D * D),
                "inv_diag": 1.0 / np.diagonal(self.scale_tril, axis1=-2, axis2=-1).reshape(B, D)}

    def _draw_numpy(self, gen, c, m):
        D = self.event_shape[0]
        loc = c["loc"]
        L = c["scale_tril"].reshape(D, D)
        z = gen.standard_normal((m, D))
        x = np.empty((m, D))
        for i in range(D):  # the kernel's order of additions
            acc = loc[i] + L[i, 0] * z[:, 0]
            for j in range(1, i + 1):
                acc = acc + L[i, j] * z[:, j]
            x[:, i] = acc
        return x

    def _in_support(self, x3):
        return np.isfinite(x3)

    def _score_numpy(self, x3):
        D = self.event_shape[0]
        B = self.batch_size
        loc = self.loc.reshape(1, B, D)
        L = self.scale_tril.reshape(1, B, D, D)
        inv = self.plan().const("inv_diag").reshape(1, B, D)
        m = x3.shape[0]
        w = np.empty((m, B, D))
        v = np.empty((m, B, D))
        for i in range(D):  # forward substitution, L w = x - loc
            acc = x3[:, :, i] - loc[..., i]
            for j in range(i):
                acc = acc - L[..., i, j] * w[:, :, j]
            w[:, :, i] = acc * inv[..., i]
        for i in range(D - 1, -1, -1):  # back substitution, L^T v = w
            acc = w[:, :, i].copy()
            for j in range(i + 1, D):
                acc = acc - L[..., j, i] * v[:, :, j]
            v[:, :, i] = acc * inv[..., i]
        rows, cols = np.tril_indices(D)
        sl = v[:, :, rows] * w[:, :, cols]
        diag = rows == cols
        sl[:, :, diag] = sl[:, :, diag] - inv
        return np.concatenate([v, sl], axis=-1)

    def _log_prob(self, x3):
        D = self.event_shape[0]
        B = self.batch_size
        loc = self.loc.reshape(B, D)
        L = self.scale_tril.reshape(B, D, D)
        out = np.empty(x3.shape[:2])
        for b in range(B):
            out[:, b] = stats.multivariate_normal.logpdf(x3[:, b, :], loc[b], L[b] @ L[b].T)
        return out

    def entropy(self, grad=False):
        """Differential entropy D/2 log(2 pi e) + sum_i log L_ii, shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: zero for loc; for scale_tril 1 / L_ii on
            the diagonal and zero elsewhere.

        {entropy returns}

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.MultivariateNormal(np.zeros(2), np.array([[2.0, 0.0], [1.0, 1.0]]))
        >>> h, g = d.entropy(grad=True)
        >>> round(float(h), 6)
        3.531024
        >>> g["scale_tril"]
        array([[0.5, 0. ],
               [0. , 1. ]])
        """
        D = self.event_shape[0]
        diag = np.diagonal(self.scale_tril, axis1=-2, axis2=-1)
        h = D * _entropy.HALF_LOG_2PIE + np.log(diag).sum(axis=-1)
        gl = np.zeros(tuple(self.batch_shape) + (D, D))
        gl[..., np.arange(D), np.arange(D)] = 1.0 / diag
        return self._entropy_out(h, {"loc": np.zeros(self.loc.shape), "scale_tril": gl}, grad)

    def fisher(self):
        """Fisher information in (loc, scale_tril), shape batch_shape + (P, P),
        P = D + D (D + 1) / 2.

        With M = L^-T and Sigma^-1 = M M^T: the loc block is Sigma^-1, the loc-L
        block is 0 (odd Gaussian moments), and the block of the lower-triangle
        components (i, j), (k, l) (row by row, as the score's) is
        Sigma^-1_ik [j = l] + M_il M_kj.  See :meth:`Distribution.fisher`.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> fs.MultivariateNormal(np.zeros(1), 2.0 * np.eye(1)).fisher()
        array([[0.25, 0.  ],
               [0.  , 0.5 ]])
        """
        D = self.event_shape[0]
        L = self.scale_tril
        M = np.swapaxes(np.linalg.inv(L), -1, -2)
        prec = M @ np.swapaxes(M, -1, -2)
        rows, cols = np.tril_indices(D)
        i, j = rows[:, None], cols[:, None]
        k, l = rows[None, :], cols[None, :]
        block = prec[..., i, k] * (j == l) + M[..., i, l] * M[..., k, j]
        n = rows.size
        F = np.zeros(tuple(self.batch_shape) + (D + n, D + n))
        F[..., :D, :D] = prec
        F[..., D:, D:] = block
        return self._fisher_out(F)

    def _pathwise_numpy(self, x3, gp3):
        # x = loc + L z: dx/dloc_i = e_i, dx_i/dL_ij = z_j (j <= i), z = L^-1 (x - loc)
        D = self.event_shape[0]
        B = self.batch_size
        loc = self.loc.reshape(1, B, D)
        L = self.scale_tril.reshape(1, B, D, D)
        inv = self.plan().const("inv_diag").reshape(1, B, D)
        w = np.empty_like(x3)
        for i in range(D):
            acc = x3[:, :, i] - loc[..., i]
            for j in range(i):
                acc = acc - L[..., i, j] * w[:, :, j]
            w[:, :, i] = acc * inv[..., i]
        rows, cols = np.tril_indices(D)
        return np.concatenate([gp3, gp3[:, :, rows] * w[:, :, cols]], axis=-1)

    def _measure_wave_numpy(self, values, x3, aux):
        """The measure-valued estimator's (f, terms) in z = L^-1 (x - loc), x = loc + L z.

        loc: d/dloc_i E f = sum_k (L^-1)_ki D_k, with D_k the weak derivative of
        z_k's location, c (f(z_k <- r_k) - f(z_k <- -r_k)), r_k Rayleigh(1),
        c = 1 / sqrt(2 pi).  scale_tril: d/dL_ab E f = E[z_b df/dx_a] =
        (L^-T H)_ab with H_bk = E[d2 f / dz_b dz_k], whose weak forms are, for
        b = k, f(z_b <- m_b) - f(z) (m_b double-sided Maxwell, coupled to z_b
        as sign(z_b) sqrt(z_b^2 + u^2 + v^2)) and, for b != k, c^2 times the
        four-point difference at z_b <- +-r_b, z_k <- +-r_k.  1 + D + 2 D^2
        evaluations of f per sample; every term unbiased.
        """
        D = self.event_shape[0]
        m, B = x3.shape[:2]
        loc = self.loc.reshape(B, D)
        L = self.scale_tril.reshape(B, D, D)
        Linv = np.linalg.inv(L)                                          # lower triangular
        z = np.einsum("bij,mbj->mbi", Linv, x3 - loc)
        extra = aux(lambda gen, k: np.concatenate([gen.rayleigh(size=(k, D)),
                                                   gen.standard_normal((k, 2 * D))], axis=1))
        r, u, v = extra[..., :D], extra[..., D:2 * D], extra[..., 2 * D:]
        mx = np.where(z < 0, -1.0, 1.0) * np.sqrt(z * z + u * u + v * v)
        pts = [z]
        keys = [("x",)]
        for k in range(D):
            for sgn in (1.0, -1.0):
                p = z.copy()
                p[..., k] = sgn * r[..., k]
                pts.append(p)
                keys.append(("loc", k, sgn))
            p = z.copy()
            p[..., k] = mx[..., k]
            pts.append(p)
            keys.append(("maxwell", k))
        for b in range(D):
            for k in range(b + 1, D):
                for sb in (1.0, -1.0):
                    for sk in (1.0, -1.0):
                        p = z.copy()
                        p[..., b] = sb * r[..., b]
                        p[..., k] = sk * r[..., k]
                        pts.append(p)
                        keys.append(("pair", b, k, sb, sk))
        Z = np.stack(pts)                                                # (Q, m, B, D)
        X = loc + np.einsum("bij,qmbj->qmbi", L, Z)
        F = values(X.reshape(-1, B, D)).reshape(len(pts), m, B)
        at = {key: F[i] for i, key in enumerate(keys)}
        c = 1.0 / np.sqrt(2.0 * np.pi)
        dz = np.stack([c * (at[("loc", k, 1.0)] - at[("loc", k, -1.0)]) for k in range(D)],
                      axis=-1)                                           # (m, B, D)
        H = np.empty((m, B, D, D))
        for b in range(D):
            H[..., b, b] = at[("maxwell", b)] - at[("x",)]
            for k in range(b + 1, D):
                h = c * c * (at[("pair", b, k, 1.0, 1.0)] - at[("pair", b, k, 1.0, -1.0)]
                             - at[("pair", b, k, -1.0, 1.0)] + at[("pair", b, k, -1.0, -1.0)])
                H[..., b, k] = H[..., k, b] = h
        t_loc = np.einsum("bki,mbk->mbi", Linv, dz)
        G = np.einsum("bka,mbck->mbac", Linv, H)                         # (L^-T H)_ac
        rows, cols = np.tril_indices(D)
        return at[("x",)], np.concatenate([t_loc, G[..., rows, cols]], axis=-1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        D = p.event_shape[0]
        m1, m2 = _kl.bcast(p.loc, batch, (D,)), _kl.bcast(q.loc, batch, (D,))
        L1, L2 = _kl.bcast(p.scale_tril, batch, (D, D)), _kl.bcast(q.scale_tril, batch, (D, D))
        L2inv = np.linalg.inv(L2)
        M = L2inv @ L1
        y = np.einsum("...ij,...j->...i", L2inv, m1 - m2)
        d1 = np.diagonal(L1, axis1=-2, axis2=-1)
        d2 = np.diagonal(L2, axis1=-2, axis2=-1)
        v = 0.5 * ((M * M).sum(axis=(-2, -1)) + (y * y).sum(axis=-1) - D) \
            + (np.log(d2) - np.log(d1)).sum(axis=-1)
        L2invT = np.swapaxes(L2inv, -1, -2)
        gm1 = np.einsum("...ij,...j->...i", L2invT, y)
        gL1 = np.tril(L2invT @ M) - _fisher.diag(1.0 / d1)
        gL2 = np.tril(-(L2invT @ (M @ np.swapaxes(M, -1, -2) + y[..., :, None] * y[..., None, :])))
        gL2 = gL2 + _fisher.diag(1.0 / d2)
        return v, {"loc": gm1, "scale_tril": gL1}, {"loc": -gm1, "scale_tril": gL2}

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """MultivariateNormal(loc, L): z = L^-1 (x - loc), v = L^-T z, Sigma^-1 = L^-T L^-1.

        Components: loc_a, then L_ab (a >= b) row by row.  s_loc = v, s_L_ab = v_a z_b -
        [a = b] / L_aa; with N = L^-1:
        d s_loc_a / d loc_c = -Sigma^-1_ac,
        d s_L_ab / d loc_c = -Sigma^-1_ac z_b - v_a N_bc,
        d s_L_ab / d L_cd = -(N_da v_c + Sigma^-1_ac z_d) z_b - v_a N_bc z_d
        + [a = b = c = d] / L_aa^2.
        x = loc + L z: u_loc_c = e_c, u_L_ab = e_a z_b; d u_L_ab / d loc_c |x = -e_a N_bc,
        d u_L_ab / d L_cd |x = -e_a N_bc z_d; d^2 x = 0.
        """

        explicit = pathwise = True

        def __init__(self, dist):
            super().__init__(dist)
            D = dist.event_shape[0]
            self.D = D
            self.loc = np.asarray(dist.loc, dtype=np.float64).reshape(self.B, D)
            L = np.asarray(dist.scale_tril, dtype=np.float64).reshape(self.B, D, D)
            self.L = L
            self.N = np.linalg.inv(L)
            self.prec = np.swapaxes(self.N, -1, -2) @ self.N
            self.rows, self.cols = np.tril_indices(D)

        def _zv(self, x3):
            z = np.einsum("bij,mbj->mbi", self.N, x3 - self.loc)
            v = np.einsum("bji,mbj->mbi", self.N, z)
            return z, v

        def score_hess(self, x3):
            D, N, prec = self.D, self.N, self.prec
            z, v = self._zv(x3)
            m = z.shape[0]
            a, b = self.rows, self.cols          # L components (a, b)
            T = a.size
            P = D + T
            H = np.empty((m, self.B, P, P))
            H[:, :, :D, :D] = -prec[None]
            # d s_L_ab / d loc_c, (m, B, T, D)
            c = np.arange(D)
            HLl = -(prec[:, a][:, :, c][None] * z[:, :, b][..., None]) \
                - v[:, :, a][..., None] * N[:, b][:, :, c][None]
            H[:, :, D:, :D] = HLl
            H[:, :, :D, D:] = np.swapaxes(HLl, -1, -2)
            # d s_L_ab / d L_cd, (m, B, T, T)
            cc, dd = a, b
            ai, bi = a[:, None], b[:, None]
            ci, di = cc[None, :], dd[None, :]
            Nda = np.swapaxes(N, -1, -2)[:, ai, di]          # N_da: (B, T, T)
            HLL = -(Nda[None] * v[:, :, ci] + prec[:, ai, ci][None] * z[:, :, di]) * z[:, :, bi] \
                - v[:, :, ai] * N[:, bi, ci][None] * z[:, :, di]
            same = (ai == bi) & (ai == ci) & (ci == di)
            inv2 = 1.0 / (np.diagonal(self.L, axis1=-2, axis2=-1) ** 2)   # (B, D)
            HLL = HLL + np.where(same, inv2[:, ai], 0.0)[None]
            H[:, :, D:, D:] = HLL
            return H

        def jac(self, x3):
            D = self.D
            z, _ = self._zv(x3)
            m = z.shape[0]
            T = self.rows.size
            U = np.zeros((m, self.B, D + T, D))
            U[:, :, np.arange(D), np.arange(D)] = 1.0
            U[:, :, D + np.arange(T), self.rows] = z[:, :, self.cols]
            return U

        def mixed(self, x3, gp3):
            D, N = self.D, self.N
            z, _ = self._zv(x3)
            m = z.shape[0]
            a, b = self.rows, self.cols
            T = a.size
            C = np.zeros((m, self.B, D + T, D + T))
            ga = gp3[:, :, a]                                   # (m, B, T): f'_a
            c = np.arange(D)
            C[:, :, D:, :D] = -ga[..., None] * N[:, b][:, :, c][None]
            C[:, :, D:, D:] = -(ga[..., None] * N[:, b[:, None], a[None, :]][None]
                                * z[:, :, b][:, :, None, :])
            return C
