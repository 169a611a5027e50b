"""The reference backend: pure NumPy/SciPy, same API, same samples.

It draws every chunk with numpy.random.Generator on the chunk's own Philox
stream (see _rng.py), stores the samples, evaluates f and the score with
NumPy and reduces chunk by chunk into the same accumulator states as the
kernels.  It is slow and memory-hungry by design: it is what the compiled
path is tested against.
"""

import numpy as np

from . import estimators
from ._rng import CHUNK_SIZE, stream


def sample(dist, n, key, chunk_start=0):
    """Samples [chunk_start * CHUNK_SIZE, n) in kernel layout (m, batch_size, event_size)."""
    kp = dist.kernel_params()
    E = max(dist.event_size, 1)
    first = chunk_start * CHUNK_SIZE
    out = np.empty((max(n - first, 0), dist.batch_size, E))
    for b in range(dist.batch_size):
        for c in range(chunk_start, (n + CHUNK_SIZE - 1) // CHUNK_SIZE):
            lo = c * CHUNK_SIZE
            m = min(CHUNK_SIZE, n - lo)
            out[lo - first:lo - first + m, b, :] = dist._numpy_draw(stream(key, c, b), kp[b], m)
    return out


def run(dist, pf, n, key, n_threads=None, progress=None, chunk_start=0, state=None):
    """The reference twin of ``_compiled.run`` (n_threads and progress are ignored).

    Overflow and invalid operations are not warned about: as in the kernels,
    they surface as non-finite sums, which ``nan_policy`` then reports.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _run(dist, pf, n, key, chunk_start, state)


def _run(dist, pf, n, key, chunk_start, state):
    x3 = sample(dist, n, key, chunk_start)
    if dist.finite_support:
        V = dist.support().size
        idx = x3[:, :, 0].astype(np.int64)
        counts = np.stack([np.bincount(idx[:, b], minlength=V)
                           for b in range(dist.batch_size)]).astype(np.int64)
        return counts if state is None else state + counts
    fx = pf.values(x3, dist, "reference")
    return estimators.sums_from_samples(fx, dist._score_components(x3), CHUNK_SIZE, state)


def state_sums(dist, pf, state, n_threads=None):
    """Moment sums of a state from :func:`run` (the generic support evaluation)."""
    return estimators.state_sums(dist, pf, state, "reference")


def finish_state(dist, pf, state, method, baseline, n_threads=None):
    """Estimates and a row_sums(b) accessor, as ``_compiled.finish_state``."""
    sums = state_sums(dist, pf, state)
    return estimators.finish(sums, method, baseline), sums.__getitem__
