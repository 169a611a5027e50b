"""The reference backend: pure NumPy/SciPy, same API, same samples.

It draws every chunk with numpy.random.Generator on the chunk's own Philox
stream (see _rng.py), stores all samples, evaluates f and the score with
NumPy and reduces chunk by chunk into the same moment sums as the kernels.
It is slow and memory-hungry by design: it is what the compiled path is
tested against.
"""

import numpy as np

from . import estimators
from ._rng import CHUNK_SIZE, stream


def sample(dist, n, key):
    """All n samples in kernel layout (n, batch_size, event_size)."""
    kp = dist.kernel_params()
    E = max(dist.event_size, 1)
    out = np.empty((n, dist.batch_size, E))
    for b in range(dist.batch_size):
        for c, start in enumerate(range(0, n, CHUNK_SIZE)):
            m = min(CHUNK_SIZE, n - start)
            out[start:start + m, b, :] = dist._numpy_draw(stream(key, c, b), kp[b], m)
    return out


def counts(dist, n, key):
    """Counts (batch_size, V) of each support value of a finite-support family."""
    x3 = sample(dist, n, key)
    V = dist.support().size
    idx = x3[:, :, 0].astype(np.int64)
    return np.stack([np.bincount(idx[:, b], minlength=V) for b in range(dist.batch_size)])


def sums(dist, pf, n, key):
    """Moment sums (batch_size, 4 + 5P) of f's estimators, by NumPy."""
    if dist.finite_support:
        return estimators.support_sums(dist, pf, counts(dist, n, key), backend="reference")
    x3 = sample(dist, n, key)
    fx = pf.values(x3, dist, "reference")
    return estimators.sums_from_samples(fx, dist._score_components(x3), CHUNK_SIZE)
