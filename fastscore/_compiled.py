"""The compiled backend: accumulator states and samples from the Cython kernels."""

import numpy as np

from . import _kernels, estimators

#: Doubles one wave of samples for a Python f may hold (8 MiB): big enough
#: that a call of f costs far more than calling it, small enough that memory
#: stays flat whatever n.
PYTHON_WAVE_BUDGET = 1 << 20


def run(dist, pf, n, key, n_threads, progress=None, chunk_start=0, state=None):
    """Fold samples [chunk_start * CHUNK_SIZE, n) of every batch element into ``state``.

    The state is the support counts (batch_size, V) of a finite-support family
    and the moment sums (batch_size, 4 + 5P) otherwise (see estimators.py);
    ``None`` starts from nothing.  Continuing a state wave by wave gives
    exactly the state of one run over all n samples.
    """
    kp = dist.kernel_params()
    if dist.finite_support:
        return _kernels.run_counts(dist.family, kp, key[0], key[1], n, dist.support().size,
                                   n_threads, progress, chunk_start, state)
    E = max(dist.event_size, 1)
    P = dist.score_size
    if pf.kind == "python":
        return _kernels.run_python(dist.family, kp, key[0], key[1], n, E, P,
                                   lambda xw: pf.call(xw, dist), n_threads,
                                   PYTHON_WAVE_BUDGET, progress, chunk_start, state)
    return _kernels.run_inline(dist.inline_family or dist.family, kp, key[0], key[1], n, E, P,
                               pf.kernel_spec(dist), n_threads, progress, chunk_start, state)


def sample(dist, n, key, n_threads):
    """All n samples in kernel layout (n, batch_size, event_size)."""
    E = max(dist.event_size, 1)
    return _kernels.draw_samples(dist.family, dist.kernel_params(), key[0], key[1], n, E,
                                 n_threads)


def state_sums(dist, pf, state, n_threads):
    """Moment sums of a state from :func:`run`.

    Families whose score is one-hot on the support (Categorical) take a
    closed form in the counts, O(batch K) instead of O(batch K^2).
    """
    if not dist.finite_support:
        return state
    onehot = getattr(dist, "_onehot_coefficients", None)
    if onehot is None:
        return estimators.support_sums(dist, pf, state, "compiled")
    fvals = estimators.support_values(dist, pf, "compiled")
    a, b = onehot()
    if a is None:
        a = np.ones_like(b)
    return _kernels.onehot_count_sums(state, fvals, a, b, n_threads)


def finish_state(dist, pf, state, method, baseline, n_threads):
    """Estimates from a state: (value, value_stderr, grad, stderr) and row_sums.

    ``row_sums(b)`` gives batch element b's moment sums (for error messages).
    One-hot families (Categorical) go from counts to estimates in one fused
    pass, never writing the (batch, 4 + 5K) sums.
    """
    onehot = getattr(dist, "_onehot_coefficients", None) if dist.finite_support else None
    if onehot is None:
        sums = state_sums(dist, pf, state, n_threads)
        return estimators.finish(sums, method, baseline, n_threads), sums.__getitem__
    fvals = estimators.support_values(dist, pf, "compiled")
    a, b = onehot()
    results = _kernels.onehot_finish(state, fvals, a, b, method, baseline, n_threads)

    def row_sums(i):
        return _kernels.onehot_count_sums(state[i:i + 1], fvals[i:i + 1],
                                          np.ones_like(b[i:i + 1]) if a is None else a[i:i + 1],
                                          b[i:i + 1], 1)[0]

    return results, row_sums

