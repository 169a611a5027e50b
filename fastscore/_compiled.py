"""The compiled backend: accumulator states and samples from the Cython kernels.

Every function takes an estimator kind (fastscore._kinds) and a
distribution's plan (fastscore._plan.Plan).  The kernels see only kernel
ids, constant rows and event and score sizes, and the engine (ISAs, fused
paths: fastscore._engine): ``engine`` if given, else the calling thread's.
"""

import numpy as np

from . import _engine, _finish, _kernels

#: Doubles one wave of samples for a Python f may hold (8 MiB): big enough
#: that a call of f costs far more than calling it, small enough that memory
#: stays flat whatever n.
PYTHON_WAVE_BUDGET = 1 << 20


def _code(engine):
    """The packed engine a kernel call takes: ``engine``'s, or the current one's."""
    return (_engine.current() if engine is None else engine).code


def run(kind, plan, pf, n, key, n_threads, progress=None, chunk_start=0, state=None, *,
        chunk_stop=-1, batch=(0, -1), per_chunk=False, engine=None):
    """Fold samples [chunk_start * CHUNK_SIZE, n) of every batch element into ``state``.

    The state is the support counts (batch_size, V) when the kind counts a
    finite support, and the moment sums (batch_size, row width) otherwise;
    ``None`` starts from nothing.  Continuing a state wave by wave gives
    exactly the state of one run over all n samples.

    A piece of a run (what one Dask task computes, fastscore._cluster):
    chunks [chunk_start, chunk_stop) of the batch elements [start, stop) of
    ``batch`` (-1: to the end).  ``per_chunk`` returns every chunk's moment
    row unmerged, (elements, chunks, row width), for _kernels.merge_chunk_rows;
    counts come back summed over the piece's chunks either way, since
    integers add exactly in any order.  A Python f sees the whole batch, so
    its pieces are chunk ranges only.
    """
    b0, b1 = batch
    code = _code(engine)
    if kind.counted(plan):
        return _kernels.run_counts(plan.family.id, plan.consts, key[0], key[1], n,
                                   plan.support.size, n_threads, progress, chunk_start, state,
                                   chunk_stop, b0, b1, kind.folds > 0, engine=code)
    fam = kind.kernel_family(plan, pf.inline).id
    if pf.inline:
        gspec = pf.grad.kernel_spec(plan) if pf.grad is not None else None
        return _kernels.run_inline(kind.kernel_id, fam, plan.consts, key[0], key[1], n, plan.E,
                                   plan.score_size, pf.kernel_spec(plan), gspec, n_threads,
                                   progress, chunk_start, state, chunk_stop, b0, b1, per_chunk,
                                   engine=code)
    if (b0, b1) not in ((0, -1), (0, plan.batch_size)):
        raise ValueError("a Python f sees the whole batch: its pieces span every batch "
                         "element, got batch elements [%d, %d)" % (b0, b1))
    call_grad = (None if pf.grad is None
                 else lambda xw: pf.grad.values(xw, plan, "compiled"))
    return _kernels.run_python(kind.kernel_id, fam, plan.consts, key[0], key[1], n, plan.E,
                               plan.score_size, lambda xw: pf.values(xw, plan, "compiled"),
                               call_grad, n_threads, PYTHON_WAVE_BUDGET, progress, chunk_start,
                               state, chunk_stop, per_chunk, engine=code)


def sample(plan, n, key, n_threads, chunks=(0, -1), batch=(0, -1), engine=None):
    """Samples in kernel layout: all n of them, (n, batch_size, E).

    A piece (fastscore._cluster): the samples of chunks [start, stop) of
    ``chunks`` for the batch elements [start, stop) of ``batch`` (-1: to the
    end), shape (samples, elements, E).
    """
    return _kernels.draw_samples(plan.family.id, plan.consts, key[0], key[1], n, plan.E,
                                 n_threads, chunks[0], chunks[1], batch[0], batch[1],
                                 engine=_code(engine))


def finish_state(kind, plan, pf, state, method, baseline, n_threads, engine=None):
    """Estimates from a state: (value, value_stderr, grad, stderr) and row_sums.

    ``row_sums(b)`` gives batch element b's moment sums (for error messages).
    Counts of a family whose score is one-hot on the support (Categorical) go
    to score-function estimates in one fused pass, O(batch K) instead of
    O(batch K^2), never writing the (batch, row width) sums.
    """
    if not kind.counted(plan):
        return kind.finish_compiled(plan, state, method, baseline, n_threads), state.__getitem__
    fvals = pf.on_support(plan, "compiled")
    if kind.folds:  # cv's counts per fold
        if plan.onehot is not None:  # one pass from the counts (_finish.onehot_folds_finish)
            a, b = plan.onehot
            a = np.ones_like(b) if a is None else a
            results = _finish.onehot_folds_finish(state, fvals, a, b, n_threads)
            return results, lambda i: kind.onehot_fold_sums(
                state[i:i + 1], fvals[i:i + 1], a[i:i + 1], b[i:i + 1], 1)[0]
        sums = kind.counted_sums(plan, fvals, state)
        return kind.finish_compiled(plan, sums, method, baseline, n_threads), sums.__getitem__
    if plan.onehot is None or not kind.fused_onehot:
        sums = kind.counted_sums(plan, fvals, state)
        return kind.finish_compiled(plan, sums, method, baseline, n_threads), sums.__getitem__
    a, b = plan.onehot
    results = _finish.onehot_finish(state, fvals, a, b, method, baseline, n_threads,
                                    engine=_code(engine))

    def row_sums(i):
        ai = np.ones_like(b[i:i + 1]) if a is None else a[i:i + 1]
        return _finish.onehot_count_sums(state[i:i + 1], fvals[i:i + 1], ai, b[i:i + 1], 1)[0]

    return results, row_sums
