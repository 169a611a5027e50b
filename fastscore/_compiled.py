"""The compiled backend: moment sums and samples from the Cython kernels."""

import numpy as np

from . import _kernels, estimators

#: Doubles one wave of samples for a Python f may hold (32 MiB).
PYTHON_WAVE_BUDGET = 1 << 22


def sums(dist, pf, n, key, n_threads, progress=None):
    """Moment sums (batch_size, 4 + 5P) of f's estimators."""
    kp = dist.kernel_params()
    if dist.finite_support:
        cnt = _kernels.run_counts(dist.family, kp, key[0], key[1], n, dist.support().size,
                                  n_threads, progress)
        return estimators.support_sums(dist, pf, cnt, backend="compiled")
    E = max(dist.event_size, 1)
    P = dist.score_size
    if pf.kind == "python":
        return _kernels.run_python(dist.family, kp, key[0], key[1], n, E, P,
                                   lambda xw: pf.call(xw, dist), n_threads,
                                   PYTHON_WAVE_BUDGET, progress)
    return _kernels.run_inline(dist.family, kp, key[0], key[1], n, E, P,
                               pf.kernel_spec(dist), n_threads, progress)


def sample(dist, n, key, n_threads):
    """All n samples in kernel layout (n, batch_size, event_size)."""
    E = max(dist.event_size, 1)
    return _kernels.draw_samples(dist.family, dist.kernel_params(), key[0], key[1], n, E,
                                 n_threads)
