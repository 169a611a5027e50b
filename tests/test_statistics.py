"""Statistical behaviour, on every case of the registry (tests/cases.py): the
score has mean zero, the nominal 95% intervals cover the closed-form gradient,
and rloo/cv are stable under a large shift of f.  (Scores against scipy.stats
and estimates against closed forms: test_gradients.py.)
"""

import numpy as np
import pytest

import fastscore as fs
from cases import BY_NAME, CASES, python_f


# ---------------------------------------------------------------------------
# E[score] = 0
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=str)
def test_score_has_mean_zero(case):
    """Within 4 standard errors: the kernels' plain estimate for a constant f, and
    the mean of fs.score on samples."""
    d = case.make((2,))
    est = fs.estimate(d, lambda x: np.ones(np.shape(x)[:2]), 50_000, rng=8, method="plain")
    for k in est.grad:
        g, se = np.asarray(est.grad[k]), np.asarray(est.stderr[k])
        assert np.all(np.abs(g) <= 4 * se + 1e-12), (k, g, se)
        assert np.all(se[np.abs(g) > 0] > 0)
    x = fs.sample(d, 50_000, rng=31)
    for k, s in fs.score(d, x).items():
        m = s.mean(0)
        se = s.std(0, ddof=1) / np.sqrt(s.shape[0])
        assert np.all(np.abs(m) <= 4 * se + 1e-12), (k, m, se)


# ---------------------------------------------------------------------------
# coverage of the nominal 95% intervals
# ---------------------------------------------------------------------------
# Independent replicates as the elements of one batch (each element draws from its
# own streams): REPLICATES estimates of N_COVERAGE samples each, per method.
REPLICATES = 1000
N_COVERAGE = 2000


def coverage(case, method, moved=0.0):
    """{(parameter, *entry): fraction of intervals grad +- 1.96 stderr that hold the
    case's first closed-form gradient}, over REPLICATES estimates; with ``moved``, the
    gradient moved by that many standard errors."""
    truth = case.truths[0]
    index = [0] * REPLICATES
    d = case.make((REPLICATES,), index)
    est = fs.estimate(d, truth.f(truth.kinds()[0], (REPLICATES,), index), N_COVERAGE, rng=1000,
                      method=method)
    out = {}
    for k, g in case.exact(truth, index)[1].items():
        se = est.stderr[k]
        hits = np.abs(est.grad[k] - (g + moved * se)) <= 1.96 * se
        for idx in np.ndindex(g.shape[1:]):
            entry = (slice(None),) + idx
            if np.all(se[entry] == 0):  # an exact zero (MultivariateNormal above the diagonal)
                assert np.all(est.grad[k][entry] == g[entry])
                continue
            out[(k,) + idx] = hits[entry].mean()
    return out


def outside(cov):
    return {key: c for key, c in cov.items() if not 0.92 <= c <= 0.98}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_95_percent_intervals_cover(case):
    """For each method and each gradient entry, the fraction of intervals holding the
    exact gradient is in [0.92, 0.98] (a binomial standard deviation at 0.95 is 0.007)."""
    report = {(m,) + key: c for m in ("plain", "rloo", "cv")
              for key, c in coverage(case, m).items()}
    assert not outside(report), "coverage outside [0.92, 0.98]: %s (all: %s)" % (
        outside(report), report)


def test_coverage_check_can_fail():
    """A gradient off by one standard error is covered by some 83% of the intervals."""
    case = BY_NAME["Normal"]
    assert not outside(coverage(case, "rloo"))
    assert set(outside(coverage(case, "rloo", moved=1.0))) == {("loc",), ("scale",)}


# ---------------------------------------------------------------------------
# shift stability: f + 1e8 gives the same rloo and cv gradients as f
# ---------------------------------------------------------------------------
SHIFT = 1e8
N_SHIFT = fs.CHUNK_SIZE + 17  # two chunks: the merge must keep the shift too


def shifted_pair(d, kind):
    """(f, f + SHIFT) of a kind of f: a built-in linear f, a table or a Python f."""
    if kind == "linear":
        a = np.arange(1.0, d.event_size + 1.0) if d.event_size > 1 else 1.0
        return fs.fn.linear(a, 0.0), fs.fn.linear(a, SHIFT)
    if kind == "table":
        v = np.cos(np.arange(float(d.support().size)))
        return fs.fn.table(v), fs.fn.table(v + SHIFT)
    f = python_f(d)
    return f, (lambda x: np.asarray(f(x), dtype=np.float64) + SHIFT)


# Counted cases evaluate any f on the support only, then sum the counts: one kind.
SHIFT_CASES = [(case, kind) for case in CASES
               for kind in (("table",) if case.counted else ("linear", "python"))]


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("case,kind", SHIFT_CASES, ids=["%s-%s" % c for c in SHIFT_CASES])
def test_shift_stability(case, kind, backend, assert_close):
    d = case.make((2,))
    f0, f1 = shifted_pair(d, kind)
    for method in ("rloo", "cv"):
        a = fs.estimate(d, f0, N_SHIFT, rng=7, method=method, backend=backend)
        b = fs.estimate(d, f1, N_SHIFT, rng=7, method=method, backend=backend)
        for k in a.grad:
            assert_close(b.grad[k], a.grad[k], 1e-6, 1e-9, "%s grad[%r]" % (method, k))
            assert_close(b.stderr[k], a.stderr[k], 1e-6, 1e-9, "%s stderr[%r]" % (method, k))
        assert_close(b.value, a.value + SHIFT, 1e-15)
        assert_close(b.value_stderr, a.value_stderr, 1e-6, 1e-9, "value_stderr")


def test_plain_is_not_shift_stable():
    """Contrast: plain's estimate does move with the shift (so the test above has teeth)."""
    d = BY_NAME["Normal"].make((2,))
    a = fs.estimate(d, fs.fn.linear(1.0, 0.0), 50_000, rng=7, method="plain")
    b = fs.estimate(d, fs.fn.linear(1.0, SHIFT), 50_000, rng=7, method="plain")
    assert not np.allclose(a.grad["loc"], b.grad["loc"], rtol=1e-3)
