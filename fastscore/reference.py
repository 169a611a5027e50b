"""The reference backend: pure NumPy/SciPy, same API, same samples.

It draws every chunk with numpy.random.Generator on the chunk's own Philox
stream (see _rng.py), stores the samples, evaluates f and the estimator
kind's per-sample terms with NumPy, reduces chunk by chunk into the same
moment sums as the kernels (fastscore._moments), and finishes with the
kind's NumPy finish.  It calls no compiled code.  It shares with the
compiled backend the distributions' constants (computed once in NumPy and
SciPy by the families' units, fastscore/families/), the chunk size and the layout of the sums
(fastscore._specs).  A LowLevelCallable f is called through ctypes.  It
is slow and memory-hungry by design: it is what the compiled path is
tested against.
"""

import numpy as np

from . import _moments
from ._errors import SampleOverflowError
from ._rng import CHUNK_SIZE, stream


def _chunks(plan, n, key, chunk_start, draw, width):
    """Chunks [chunk_start, ...) of every batch element: (m, batch_size, width)."""
    first = chunk_start * CHUNK_SIZE
    out = np.empty((max(n - first, 0), plan.batch_size, width))
    for b in range(plan.batch_size):
        for c in range(chunk_start, (n + CHUNK_SIZE - 1) // CHUNK_SIZE):
            lo = c * CHUNK_SIZE
            m = min(CHUNK_SIZE, n - lo)
            out[lo - first:lo - first + m, b, :] = draw(stream(key, c, b), b, m)
    return out


def sample(plan, n, key, chunk_start=0, check=True):
    """Samples [chunk_start * CHUNK_SIZE, n) in kernel layout (m, batch_size, E).

    ``check``: raise SampleOverflowError where a draw is not a finite double,
    as the kernels do.
    """
    x3 = _chunks(plan, n, key, chunk_start, plan.draw, plan.E)
    if check:
        _check_finite(x3)
    return x3


def _check_finite(x3):
    """SampleOverflowError for the first batch element with a non-finite draw."""
    ok = np.isfinite(x3)
    if not ok.all():
        raise SampleOverflowError(int(np.nonzero(~ok)[1].min()))


def measure_sample(plan, n, key, chunk_start=0):
    """The measure-valued draws [chunk_start * CHUNK_SIZE, n): (m, batch_size, Q) points,
    then any weights."""
    return _chunks(plan, n, key, chunk_start, plan.measure_draw, plan.family.measure_values)


def rebar_sample(plan, n, key, chunk_start=0):
    """REBAR's draws [chunk_start * CHUNK_SIZE, n): f-points and f'-points (2, m, B, E),
    aux values (m, B, E + 2)."""
    first = chunk_start * CHUNK_SIZE
    m_all, B, E = max(n - first, 0), plan.batch_size, plan.E
    fpts, gpts = np.empty((2, m_all, B, E)), np.empty((2, m_all, B, E))
    aux = np.empty((m_all, B, E + 2))
    for b in range(B):
        for c in range(chunk_start, (n + CHUNK_SIZE - 1) // CHUNK_SIZE):
            lo = c * CHUNK_SIZE - first
            m = min(CHUNK_SIZE, n - c * CHUNK_SIZE)
            f, g, a = plan.rebar[0](stream(key, c, b), plan.consts_of(b), m)
            fpts[:, lo:lo + m, b], gpts[:, lo:lo + m, b], aux[lo:lo + m, b] = f, g, a
    return fpts, gpts, aux


def run(kind, plan, pf, n, key, n_threads=None, progress=None, chunk_start=0, state=None):
    """The reference twin of ``_compiled.run`` (n_threads and progress are ignored).

    Overflow and invalid operations are not warned about: as in the kernels,
    they surface as non-finite sums, which ``nan_policy`` then reports.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if kind.counted(plan):
            x3 = sample(plan, n, key, chunk_start)
            V = plan.support.size
            idx = x3[:, :, 0].astype(np.int64)
            if kind.folds:  # counts per fold: fold k at [k V, (k + 1) V)
                fold = (chunk_start * CHUNK_SIZE + np.arange(idx.shape[0])) % kind.folds
                idx = idx + (fold * V)[:, None]
                V = V * kind.folds
            counts = np.stack([np.bincount(idx[:, b], minlength=V)
                               for b in range(plan.batch_size)]).astype(np.int64)
            return counts if state is None else state + counts
        fx, terms = kind.reference_terms(plan, pf, n, key, chunk_start)   # the kind's step
        if kind.folds:
            return _moments.fold_sums_from_samples(fx, terms, CHUNK_SIZE, state,
                                                   chunk_start * CHUNK_SIZE)
        return _moments.sums_from_samples(fx, terms, CHUNK_SIZE, state, kind.block)


def finish_state(kind, plan, pf, state, method, baseline, n_threads=None):
    """Estimates and a row_sums(b) accessor, as ``_compiled.finish_state``."""
    sums = (kind.counted_sums(plan, pf.on_support(plan, "reference"), state)
            if kind.counted(plan) else state)
    return kind.finish(plan, sums, method, baseline), sums.__getitem__
