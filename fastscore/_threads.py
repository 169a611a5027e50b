"""How many threads the kernels use.

The one place thread counts are decided: ``n_threads=None`` means the cores
this process may use, capped by OpenMP's own limit (which follows
OMP_NUM_THREADS and threadpoolctl's limits on the OpenMP runtime) and by the
CPU affinity mask.
"""

import os
import operator

from . import _kernels


def available_cores():
    """Cores this process may run on (CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


#: The largest n_threads accepted (the kernels take a C int; more threads than
#: this would only oversubscribe any machine).
MAX_THREADS = 1 << 12


def effective_n_threads(n_threads=None):
    """Resolve the user's ``n_threads`` to a positive thread count.

    ``None`` takes min(OpenMP's max threads, available cores); a positive
    integer is used as given (capped only by OpenMP being compiled in).
    """
    if not _kernels.HAVE_OPENMP:
        if n_threads is not None:
            _validate(n_threads)
        return 1
    if n_threads is None:
        return max(1, min(_kernels.omp_max_threads(), available_cores()))
    return _validate(n_threads)


def _validate(n_threads):
    if isinstance(n_threads, bool):
        raise TypeError("n_threads must be None or a positive integer, got a bool")
    try:
        value = operator.index(n_threads)
    except TypeError:
        raise TypeError(
            "n_threads must be None or a positive integer, got %r" % (n_threads,)
        ) from None
    if value < 1:
        raise ValueError("n_threads must be None or a positive integer, got %d" % value)
    if value > MAX_THREADS:
        raise ValueError("n_threads must be at most %d, got %d" % (MAX_THREADS, value))
    return value
