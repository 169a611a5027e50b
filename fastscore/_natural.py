"""Natural gradients: ``est.natural_grad`` and ``est.natural_stderr`` (issue 27, item 3).

The natural gradient of E[f] is F^+ g per batch element: g the estimated
gradient (``est.grad``), F the closed-form Fisher information of the
distribution in the parameters the user passed (``dist.fisher()``, in the
component order of ``est.components``), and ^+ the Moore-Penrose
pseudo-inverse.  With ``fs.estimate(..., damping=lam)`` it is the pseudo-inverse
of F + lam I (Tikhonov damping; for lam > 0 the plain inverse).

F is singular for Categorical: in logits the vector of ones is in its null
space (adding a constant to every logit changes nothing), in probs the weights
w themselves (scaling them changes nothing).  The pseudo-inverse then gives the
minimum-norm solution x of F x = g, which lies in the row space of F (the
logits' natural gradient sums to zero; the probs' one is orthogonal to w).  The
score-function gradient itself lies in that row space (its score does), so F x
= g holds exactly there.

How it is computed (numpy, batched over the batch elements):

1. F is split into the connected blocks of its pattern of non-zeros (over the
   whole batch): an Independent's coordinates, a Joint's parts, a Normal's loc
   and scale.  F^+ is block-diagonal with the blocks' pseudo-inverses, and
   each block is handled alone (all blocks of one size at once).
2. A block A = F_block + lam I is equilibrated, A~ = S A S with S =
   diag(A)^-1/2 (1 where a diagonal entry is 0: for a positive semi-definite A
   that whole row is 0), so that parameters of very different scales (a
   Gamma's concentration 1e6 and rate 1e-3) do not decide which directions
   count as singular.
3. A~ = V diag(w) V^T (``numpy.linalg.eigh``); eigenvalues below
   ``CUTOFF * m * eps * max(w)`` count as zero (m the block's size; a null
   direction of the equilibrated Categorical comes out at a few eps, its other
   eigenvalues at 1/2 or more).
4. S (A~)^+ S solves A x = g for every g in the range of A; the minimum-norm
   solution is that one with its component in the null space N = S null(A~)
   projected out (and g's component in N dropped first): K = R S (A~)^+ S R,
   R = I - Q Q^T, Q an orthonormal basis of N by Gram-Schmidt on the null
   vectors S v (their small entries keep their relative accuracy, which a
   Householder QR would not give them).  K is A^+; without a null space R is
   not formed.

The natural gradient is K g and its covariance K Sigma K, Sigma = ``est.cov``
(over the packed components: MultivariateNormal's scale_tril by its lower
triangle, the entries above the diagonal zero in the results as in ``grad``),
so ``natural_stderr`` = sqrt(diag(K Sigma K)) needs an estimate made with
``cov=True``.  Both are computed on first use and kept; a block of a batch
element whose Fisher information or gradient is not finite gets NaN (the other
blocks keep their numbers).
"""

import numbers

import numpy as np

#: Eigenvalues of an equilibrated block of F + damping I below CUTOFF * m * eps times
#: its largest are treated as zero by the pseudo-inverse (m the block's size).
CUTOFF = 64


def check_damping(damping, batch_shape):
    """``damping`` as a float, or a float64 array broadcast to ``batch_shape``.

    A non-negative finite number, or an array of them that broadcasts to the
    batch shape (one damping per batch element); anything else raises.
    """
    if isinstance(damping, (bool, np.bool_)):
        raise TypeError("damping must be a non-negative finite number or an array of them, "
                        "got a bool")
    if isinstance(damping, numbers.Real):
        lam = float(damping)
        if not (np.isfinite(lam) and lam >= 0.0):
            raise ValueError("damping must be a finite number >= 0 (the lam of (F + lam I)^-1 "
                             "grad), got %r" % (damping,))
        return lam
    try:
        arr = np.asarray(damping)
    except Exception:   # noqa: BLE001 - an object numpy cannot read
        arr = np.asarray(None)
    if arr.dtype.kind not in "iuf":
        raise TypeError("damping must be a non-negative finite number or an array of them, "
                        "got %s" % (type(damping).__name__ if arr.dtype == object
                                    else "dtype %s" % arr.dtype))
    arr = arr.astype(np.float64)
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 0.0)):
        raise ValueError("damping must be finite and >= 0 everywhere, got %r" % (damping,))
    try:
        out = np.broadcast_to(arr, tuple(batch_shape))
    except ValueError:
        raise ValueError("damping must broadcast to the batch_shape %s (one damping per batch "
                         "element); got shape %s" % (tuple(batch_shape), arr.shape)) from None
    return np.array(out)


class Natural:
    """What an Estimate needs for its natural gradient: the distribution (for its
    Fisher information and parameter layout) and the damping; the operator K (by
    blocks) and the results once computed."""

    def __init__(self, dist, damping):
        self.dist = dist
        self.damping = damping
        self._K = None
        self._grad = None
        self._stderr = None

    def _layout(self):
        params = self.dist.plan().params
        return params, _packed_columns(params)

    def operator(self, batch_size):
        """K = (F + damping I)^+ over the packed components, as [(idx, K_blocks)]: the
        connected blocks of F's pattern, idx (nb, m) their components, K_blocks
        (B, nb, m, m) the pseudo-inverse of each block."""
        if self._K is None:
            try:
                F = np.asarray(self.dist.fisher(), dtype=np.float64)
            except NotImplementedError as exc:
                raise NotImplementedError("natural gradients need the Fisher information: %s"
                                          % exc) from None
            P = F.shape[-1]
            F = F.reshape(batch_size, P, P)
            lam = np.broadcast_to(np.asarray(self.damping, dtype=np.float64),
                                  tuple(self.dist.batch_shape)).reshape(batch_size)
            out = []
            for idx in blocks(F):
                A = F[:, idx[:, :, None], idx[:, None, :]]                  # (B, nb, m, m)
                m = idx.shape[1]
                A = A + lam[:, None, None, None] * np.eye(m)
                K = pinv_psd(A.reshape((-1, m, m))).reshape(A.shape)
                out.append((idx, K))
            self._K = out
        return self._K

    def grad(self, est):
        if self._grad is None:
            from .estimate import Gradients

            params, keep = self._layout()
            B = int(np.prod(np.shape(est.value), dtype=np.int64))
            if B == 0:   # an empty batch: numpy's convention
                self._grad = Gradients(params.split(np.zeros((0, int(keep.sum())))))
                return self._grad
            g = _flatten(est.grad, B)[:, keep]
            x = np.zeros_like(g)
            with np.errstate(invalid="ignore", over="ignore"):
                for idx, K in self.operator(B):
                    x[:, idx] = np.einsum("bnij,bnj->bni", K, g[:, idx])
            self._grad = Gradients(params.split(x))
        return self._grad

    def stderr(self, est):
        if self._stderr is None:
            from .estimate import Gradients

            if est.cov is None:
                raise ValueError("natural_stderr needs the covariance of the gradient "
                                 "(sqrt(diag(F^+ cov F^+))): make the estimate with "
                                 "fs.estimate(..., cov=True)")
            params, keep = self._layout()
            B = int(np.prod(np.shape(est.value), dtype=np.int64))
            if B == 0:
                self._stderr = Gradients(params.split(np.zeros((0, int(keep.sum())))))
                return self._stderr
            cov = np.asarray(est.cov, dtype=np.float64).reshape((B,) + est.cov.shape[-2:])
            cols = np.flatnonzero(keep)
            v = np.zeros((B, cols.size))
            with np.errstate(invalid="ignore", over="ignore"):
                for idx, K in self.operator(B):
                    full = cols[idx]
                    C = cov[:, full[:, :, None], full[:, None, :]]             # (B, nb, m, m)
                    v[:, idx] = np.einsum("bnij,bnjk,bnik->bni", K, C, K)
            se = np.sqrt(np.maximum(v, 0.0))
            se[np.isnan(v)] = np.nan
            self._stderr = Gradients(params.split(se))
        return self._stderr


def attach(est, dist, damping):
    """The estimate, able to give its natural gradient (computed on first use)."""
    est._natural = Natural(dist, damping)
    return est


def blocks(F):
    """The connected blocks of the pattern of F (B, P, P) over the batch: a list of
    index arrays (nb, m), the nb blocks of m components each (in increasing order)."""
    from scipy.sparse.csgraph import connected_components

    P = F.shape[-1]
    if P == 0:
        return []
    pattern = (F != 0.0).any(axis=0) | np.eye(P, dtype=bool)
    _, labels = connected_components(pattern | pattern.T, directed=False)
    by_size = {}
    for lab in np.unique(labels):
        members = np.flatnonzero(labels == lab)
        by_size.setdefault(members.size, []).append(members)
    return [np.array(v) for _, v in sorted(by_size.items())]


def pinv_psd(A):
    """The Moore-Penrose pseudo-inverse of a batch (N, m, m) of symmetric positive
    semi-definite matrices, equilibrated first (see the module's docstring).

    Matrices with a non-finite entry give NaN.
    """
    A = np.asarray(A, dtype=np.float64)
    m = A.shape[-1]
    out = np.full(A.shape, np.nan)
    ok = np.isfinite(A).all(axis=(1, 2))
    if not ok.any():
        return out
    A = A[ok]
    A = 0.5 * (A + np.swapaxes(A, -1, -2))
    d = np.diagonal(A, axis1=-2, axis2=-1)
    s = np.where(d > 0.0, 1.0 / np.sqrt(np.where(d > 0.0, d, 1.0)), 1.0)    # (N, m)
    At = s[:, :, None] * A * s[:, None, :]
    w, V = np.linalg.eigh(At)                                               # ascending
    tol = CUTOFF * m * np.finfo(np.float64).eps * np.maximum(w[:, -1:], 0.0)
    live = w > tol
    inv = np.where(live, 1.0 / np.where(live, w, 1.0), 0.0)
    K = s[:, :, None] * ((V * inv[:, None, :]) @ np.swapaxes(V, -1, -2)) * s[:, None, :]
    null = ~live
    if null.any():
        # P_N, the orthogonal projector onto N = S null(A~): an orthonormal basis of the
        # null vectors S v (eigh's first columns), by modified Gram-Schmidt, twice (a
        # Householder QR would give their small entries only to eps absolute)
        k_max = int(null.sum(axis=1).max())
        Q = np.zeros((A.shape[0], m, k_max))
        for j in range(k_max):
            v = s * V[:, :, j]
            for _ in range(2):
                for i in range(j):
                    v = v - Q[:, :, i] * np.sum(Q[:, :, i] * v, axis=1, keepdims=True)
                norm = np.linalg.norm(v, axis=1, keepdims=True)
                v = v / np.where(norm > 0.0, norm, 1.0)
            Q[:, :, j] = v * null[:, j:j + 1]
        # K <- R K R, R = I - Q Q^T formed first: where a null vector is nearly a unit
        # vector e_i, R's row i is tiny and the huge K_ii never enters the result (the
        # rank-k update K - Q Q^T K - ... would cancel it against itself)
        R = np.eye(m) - Q @ np.swapaxes(Q, -1, -2)
        K = R @ K @ R
    out[ok] = 0.5 * (K + np.swapaxes(K, -1, -2))
    return out


def _packed_columns(params):
    """Boolean mask over the expanded components (``est.components``, every entry of
    every parameter in C order) of those that are gradient components: all but the
    entries above the diagonal of a packed lower triangle (scale_tril)."""
    keep = []
    for _, ev, packing in params.params:
        if packing == "tril":
            D = ev[-1]
            tri = np.tril(np.ones((D, D), dtype=bool)).reshape(-1)
            keep.extend(np.tile(tri, int(np.prod(ev[:-2], dtype=np.int64))).tolist())
        else:
            keep.extend([True] * int(np.prod(ev, dtype=np.int64)))
    return np.asarray(keep, dtype=bool)


def _flatten(grad, B):
    """A (nested) dict of gradients -> (B, Q), its entries in order, each in C order."""
    parts = []
    for g in grad.values():
        if isinstance(g, dict):
            parts.append(_flatten(g, B))
        else:
            parts.append(np.asarray(g, dtype=np.float64).reshape(B, -1))
    return np.concatenate(parts, axis=1) if parts else np.zeros((B, 0))
