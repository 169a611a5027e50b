"""Waves of samples: one run, or runs to precision targets (``rtol``/``atol``).

A wave runs every plan of the kind (most kinds have one) on the same streams,
continuing the states of the waves before it, so that the waves of a run
give exactly the states of one run over all its samples.  With precision
targets each wave doubles the total until every gradient's standard error is
<= max(atol, rtol |grad|), a result is not finite, or ``max_n`` is reached.
"""

import warnings

import numpy as np

from . import _results
from ._progress import make_bar
from ._rng import CHUNK_SIZE

#: max_n when precision targets are given without one.
DEFAULT_MAX_N = 2 ** 30
#: The first wave of samples when precision targets are given without n.
DEFAULT_FIRST_WAVE = 4 * CHUNK_SIZE


def met(results, rtol, atol):
    """True when every gradient's standard error meets max(atol, rtol |grad|)."""
    _, _, g, se = results
    with np.errstate(invalid="ignore"):
        return bool(np.all(se <= np.maximum(atol, rtol * np.abs(g))))


def projected_n(results, rtol, atol, n):
    """Samples the targets would take if standard errors fall as 1 / sqrt(n).

    Only scales the progress bar; None when no finite projection exists (a
    zero gradient under a pure rtol target, say).
    """
    _, _, g, se = results
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = se / np.maximum(atol, rtol * np.abs(g))
    worst = float(np.max(ratio)) if ratio.size else 0.0
    if not np.isfinite(worst):
        return None
    return n * worst * worst


def wave(impl, kind, plans, pf, total, key, nt, bar, done, wave_total, scale, states=None):
    """One wave of every plan of the kind (most kinds have one), continuing ``states``."""
    states = states or [None] * len(plans)
    out = []
    for i, (p, st) in enumerate(zip(plans, states)):
        # plan i covers its share of the wave on the bar
        lo = done + (wave_total - done) * i / len(plans)
        hi = done + (wave_total - done) * (i + 1) / len(plans)
        out.append(impl.run(kind, p, pf, total, key, nt, fraction(bar, lo, hi, scale),
                            done // CHUNK_SIZE, st))
    return out


def fraction(bar, done, total, grand_total):
    """A kernel progress callback mapping (units done, units) of a wave to the bar."""
    if isinstance(bar, type(make_bar(False))):
        return None
    span = (total - done) / grand_total

    def update(k, of):
        bar.update(done / grand_total + span * (k / of if of else 1.0))

    return update


def run(impl, kind, plans, pf, n, key, nt, bar, method, baseline):
    """(results, row_sums) of n samples per batch element, in one wave."""
    states = wave(impl, kind, plans, pf, n, key, nt, bar, 0, n, n)
    return kind.finish_states(impl, plans, pf, states, method, baseline, nt)


def run_to_targets(impl, kind, plan, plans, pf, n, key, nt, bar, method, baseline, rtol, atol,
                   max_n, stacklevel=2):
    """(results, row_sums, samples drawn, converged): waves from n samples per batch
    element, each doubling the total, until the targets are met (a RuntimeWarning
    where ``max_n`` stops the run first)."""
    rtol = rtol or 0.0
    atol = atol or 0.0
    max_n = DEFAULT_MAX_N if max_n is None else max_n
    total = min(max_n, -(-n // CHUNK_SIZE) * CHUNK_SIZE)
    done = 0
    states = [None] * len(plans)
    # The bar's 100%: max_n until a wave lets us project the samples needed.
    scale = max_n
    while True:
        states = wave(impl, kind, plans, pf, total, key, nt, bar, done, total, scale, states)
        results, row_sums = kind.finish_states(impl, plans, pf, states, method, baseline, nt)
        finite = not _results.bad_rows(kind, plan, results).any()
        if not finite or met(results, rtol, atol):
            return results, row_sums, total, finite
        if total >= max_n:
            warnings.warn("fastscore.estimate: max_n=%d samples reached before every "
                          "gradient's standard error met max(atol=%g, rtol=%g * |grad|)"
                          % (max_n, atol, rtol), RuntimeWarning, stacklevel=stacklevel + 1)
            return results, row_sums, total, False
        done = total  # a whole number of chunks: the next wave continues the streams
        total = min(max_n, 2 * total)
        need = projected_n(results, rtol, atol, done)
        scale = max_n if need is None else int(min(max_n, max(total, need)))
