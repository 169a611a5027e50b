"""The compiled backend: accumulator states and samples from the Cython kernels.

Every function takes an estimator kind and a distribution's plan
(fastscore._plan.Plan); the kernels see only kernel ids, constant rows and
event and score sizes.
"""

import numpy as np

from . import _finish, _kernels

#: Doubles one wave of samples for a Python f may hold (8 MiB): big enough
#: that a call of f costs far more than calling it, small enough that memory
#: stays flat whatever n.
PYTHON_WAVE_BUDGET = 1 << 20


def run(kind, plan, pf, n, key, n_threads, progress=None, chunk_start=0, state=None):
    """Fold samples [chunk_start * CHUNK_SIZE, n) of every batch element into ``state``.

    The state is the support counts (batch_size, V) of a counted family and
    the moment sums (batch_size, row width) otherwise; ``None`` starts from
    nothing.  Continuing a state wave by wave gives exactly the state of one
    run over all n samples.
    """
    fam = plan.family.id
    if plan.counted:
        return _kernels.run_counts(fam, plan.consts, key[0], key[1], n, plan.support.size,
                                   n_threads, progress, chunk_start, state)
    if pf.kind == "python":
        return _kernels.run_python(fam, plan.consts, key[0], key[1], n, plan.E,
                                   plan.score_size, lambda xw: pf.call(xw, plan), n_threads,
                                   PYTHON_WAVE_BUDGET, progress, chunk_start, state)
    return _kernels.run_inline(plan.inline_family.id, plan.consts, key[0], key[1], n, plan.E,
                               plan.score_size, pf.kernel_spec(plan), n_threads, progress,
                               chunk_start, state)


def sample(plan, n, key, n_threads):
    """All n samples in kernel layout (n, batch_size, E)."""
    return _kernels.draw_samples(plan.family.id, plan.consts, key[0], key[1], n, plan.E,
                                 n_threads)


def finish_state(kind, plan, pf, state, method, baseline, n_threads):
    """Estimates from a state: (value, value_stderr, grad, stderr) and row_sums.

    ``row_sums(b)`` gives batch element b's moment sums (for error messages).
    A counted family whose score is one-hot on the support (Categorical) goes
    from counts to estimates in one fused pass, O(batch K) instead of
    O(batch K^2), never writing the (batch, row width) sums.
    """
    if not plan.counted:
        return _finish.finish_sums(state, method, baseline, n_threads), state.__getitem__
    fvals = pf.on_support(plan, "compiled")
    if plan.onehot is None:
        sums = kind.counted_sums(plan, fvals, state)
        return _finish.finish_sums(sums, method, baseline, n_threads), sums.__getitem__
    a, b = plan.onehot
    results = _finish.onehot_finish(state, fvals, a, b, method, baseline, n_threads)

    def row_sums(i):
        ai = np.ones_like(b[i:i + 1]) if a is None else a[i:i + 1]
        return _finish.onehot_count_sums(state[i:i + 1], fvals[i:i + 1], ai, b[i:i + 1], 1)[0]

    return results, row_sums
