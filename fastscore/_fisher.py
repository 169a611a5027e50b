"""The numerics that several families' ``fisher`` methods share.

Each family's Fisher information lives in its class (fastscore/families/<name>.py,
``fisher()``); this module holds the pieces more than one of them needs:

* :func:`sym2`: a batch of symmetric 2 x 2 matrices from their entries.
* :func:`block_diag`: block-diagonal matrices of a batch of blocks.
* :func:`one_minus`: 1 - p_k of probability vectors, the largest from the others' sum.
* :func:`vonmises_ratio_and_slope`: A(k) = I1(k) / I0(k) and A'(k) = 1 - A / k
  - A^2 (the Fisher information of the von Mises concentration), from the
  large-k expansions of the Bessel functions where 1 - A / k - A^2 cancels.

For an exponential family p(x; eta) = h(x) exp(eta . T(x) - A(eta)), the
Fisher information in the user's parameters theta is J^T (Hessian of A) J,
J = d eta / d theta, and the Hessian of A is Cov(T(x)); every family writes
the product out in closed form.
"""

import numpy as np
from scipy import special

from . import _entropy


def sym2(a, b, c):
    """[[a, b], [b, c]] over the broadcast batch of a, b, c: shape batch + (2, 2)."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    return np.stack([np.stack([a, b], axis=-1), np.stack([b, c], axis=-1)], axis=-2)


def diag(v):
    """A batch of diagonal matrices from a batch of their diagonals (..., P) -> (..., P, P)."""
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape + (v.shape[-1],))
    idx = np.arange(v.shape[-1])
    out[..., idx, idx] = v
    return out


def one_minus(p):
    """1 - p_k over the last axis of probabilities p that sum to 1, without cancellation.

    For the largest p_k of each vector (the only one that can be close to 1) 1 - p_k is
    the sum of the other entries; the others are at most 1/2, where 1 - p_k is exact
    to rounding.  Used by Categorical's Fisher information, whose diagonal p_k (1 - p_k)
    would otherwise lose its digits for a near-deterministic distribution.
    """
    p = np.asarray(p, dtype=np.float64)
    out = 1.0 - p
    if p.shape[-1] == 0:
        return out
    k = np.argmax(p, axis=-1)[..., None]
    rest = np.where(np.arange(p.shape[-1]) == k, 0.0, p).sum(axis=-1, keepdims=True)
    np.put_along_axis(out, k, rest, axis=-1)
    return out


def block_diag(blocks):
    """(..., G, P, P) blocks -> (..., G P, G P) block-diagonal matrices, block g at (g, g)."""
    blocks = np.asarray(blocks, dtype=np.float64)
    G, P = blocks.shape[-3], blocks.shape[-1]
    out = np.zeros(blocks.shape[:-3] + (G * P, G * P))
    for g in range(G):
        out[..., g * P:(g + 1) * P, g * P:(g + 1) * P] = blocks[..., g, :, :]
    return out


def vonmises_ratio_and_slope(k):
    """(A, A') with A = I1(k) / I0(k) and A' = dA/dk = 1 - A / k - A^2.

    A' is Var(cos(x - loc)) under VonMises(loc, k), the Fisher information of
    the concentration.  Below k = 20 directly from scipy.special.i0e and i1e
    (the cancellation there costs at most 3 digits); from 20 on, where
    1 - A / k - A^2 ~ 1 / (2 k^2) would cancel, from the large-k expansions
    S_nu(t) = I_nu(k) e^-k sqrt(2 pi k) ~ sum_j c_j t^j, t = 1 / k (DLMF
    10.40.1, the coefficients of fastscore._entropy): A = S1 / S0 and
    A' = -t^2 dA/dt = t^2 (S1 S0' - S1' S0) / S0^2, whose terms do not cancel.
    """
    k = np.asarray(k, dtype=np.float64)
    a = np.empty_like(k)
    da = np.empty_like(k)
    big = k >= _entropy._VONMISES_SERIES_FROM
    small = ~big
    x = k[small]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = special.i1e(x) / special.i0e(x)
        a[small] = r
        da[small] = np.where(x > 0, 1.0 - r / x - r * r, 0.5)
    x = k[big]
    if x.size:
        t = 1.0 / x
        s0, ds0 = _entropy._poly(_entropy._C0, t)
        s1, ds1 = _entropy._poly(_entropy._C1, t)
        a[big] = s1 / s0
        da[big] = t * t * (s1 * ds0 - ds1 * s0) / (s0 * s0)
    return a, da
