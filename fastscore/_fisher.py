"""The numerics that several families' ``fisher`` methods share.

Each family's Fisher information lives in its class (fastscore/families/<name>.py,
``fisher()``); this module holds the pieces more than one of them needs:

* :func:`sym2`: a batch of symmetric 2 x 2 matrices from their entries.
* :func:`block_diag`: block-diagonal matrices of a batch of blocks.
* :func:`one_minus`: 1 - p_k of probability vectors, the largest from the others' sum.

For an exponential family p(x; eta) = h(x) exp(eta . T(x) - A(eta)), the
Fisher information in the user's parameters theta is J^T (Hessian of A) J,
J = d eta / d theta, and the Hessian of A is Cov(T(x)); every family writes
the product out in closed form.
"""

import numpy as np


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
