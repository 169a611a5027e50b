"""The fuzzer over the public API (issue 24's "Done when"; tests/fuzzing.py).

A bounded, derandomized run (the same examples every time, about 8000 of
them, under a minute on the 2-core development machine): each example is a
clear error naming what was wrong, or a finite answer equal on the compiled
and reference backends; anything else fails the test with the examples.  It
runs in a subprocess from a neutral folder (a crash fails the test instead of
ending the session; from the repository's root, python would import the
uncompiled source tree), testing the same fastscore as the rest of the suite.
The counts show in the session's closing summary.  bench/fuzz.py runs a
longer profile.
"""

import json
import os
import subprocess
import sys
import tempfile

import conftest

EXAMPLES = 8000
#: Stop drawing new examples after this long (a slow, loaded machine still finishes).
SECONDS = 50


def run_fuzzer(examples, seconds=None, timeout=600):
    """(counts, output) of ``python tests/fuzzing.py`` in a subprocess."""
    env = dict(os.environ)
    if conftest.INPLACE:   # the source tree's in-place build, as the suite tests
        env["PYTHONPATH"] = os.pathsep.join([conftest.ROOT] + [p for p in env.get(
            "PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, os.path.join(conftest.TESTS, "fuzzing.py"),
           "--examples", str(examples)]
    if seconds is not None:
        cmd += ["--seconds", str(seconds)]
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    out = proc.stdout + proc.stderr
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert last, "the fuzzer ended without its counts (exit %s):\n%s" % (proc.returncode,
                                                                        out[-5000:])
    return json.loads(last[-1]), out


def test_fuzzer_finds_nothing_but_clear_errors_and_equal_finite_answers(pytestconfig):
    counts, out = run_fuzzer(EXAMPLES, SECONDS)
    if not hasattr(pytestconfig, "fastscore_summary"):
        pytestconfig.fastscore_summary = []
    pytestconfig.fastscore_summary.append(
        "fuzzer (tests/test_fuzz.py): tried %(tried)d, clear error %(clear_error)d, finite "
        "and equal %(finite_and_equal)d, anything else %(other)d (%(seconds)s s)" % counts)
    print(pytestconfig.fastscore_summary[-1])   # with -s, here too
    assert counts["other"] == 0, out[-20000:]
    assert counts["tried"] == counts["clear_error"] + counts["finite_and_equal"]
    assert counts["finite_and_equal"] > counts["tried"] // 10   # it reaches the estimators


# -- what the fuzzer found, each fixed -----------------------------------------------
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastscore as fs  # noqa: E402

BACKENDS = ["compiled", "reference"]


def test_a_negative_zero_parameter_is_zero():
    """Binomial(probs=-0.0) gave a NaN entropy and a -inf Fisher information."""
    for N in (10, 3000):
        neg, pos = fs.Binomial(N, probs=-0.0), fs.Binomial(N, probs=0.0)
        assert neg.entropy(grad=True) == pos.entropy(grad=True)
        assert np.array_equal(neg.fisher(), pos.fisher()) and neg.fisher()[0, 0] == np.inf


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("estimator", ["concrete", "rebar"])
def test_an_indicator_is_refused_on_relaxed_samples_too(backend, estimator):
    """A step has no derivative on relaxed samples either (the reference backend raised
    AttributeError, the compiled one a message about non-finite terms)."""
    with pytest.raises(ValueError, match="fastscore.fn.indicator is a step"):
        fs.estimate(fs.Bernoulli(logits=0.3), fs.fn.indicator(0.5, 1.0), 100, rng=0,
                    estimator=estimator, temperature=0.5, backend=backend)
    est = fs.estimate(fs.Bernoulli(logits=0.3), fs.fn.table([0.0, 1.0]), 100, rng=0,
                      estimator="concrete", temperature=0.5, backend=backend)
    assert np.isfinite(est.grad["logits"])   # a table's linear extension still works


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dist,name", [
    (lambda: fs.Gamma(1e30, 1.0), "concentration"), (lambda: fs.Chi2(1e100), "df"),
    (lambda: fs.Beta(1e30, 2.0), "concentration1"), (lambda: fs.Beta(2.0, 1e40), None),
    (lambda: fs.Beta(3.0, 1e60 * 1e-20 * 1e10), None),
    (lambda: fs.Dirichlet([1e30, 1e30]), "concentration"),
    (lambda: fs.LogNormal(0.0, 1e-20), "scale"),
    (lambda: fs.RelaxedBernoulli(1e300, probs=0.3), "temperature"),
    (lambda: fs.RelaxedCategorical(1e300, logits=[0.0, 1.0]), "temperature"),
])
def test_samples_that_lose_their_noise_are_refused(backend, dist, name):
    """Gamma(1e30, 1) reported a concentration gradient of 0 +- 0 (exact 1): every
    sample rounded to the mean.  Noise below 2^-32 of the samples is refused, naming
    the parameter; noise that float64 resolves (Beta(2, 1e40): x near 0) is not."""
    d = dist()
    f = (lambda x: x.sum(axis=-1)) if d.event_shape else (lambda x: x)
    if name is None:
        est = fs.estimate(d, f, 200, rng=0, backend=backend)
        assert all(np.all(np.isfinite(g)) for g in est.grad.values())
        return
    with pytest.raises(ValueError, match="parameter '%s' .* below 2\\^-32" % name):
        fs.estimate(d, f, 200, rng=0, backend=backend)


def test_relaxed_estimators_refuse_a_temperature_that_rounds_the_noise_away():
    with pytest.raises(ValueError, match="'temperature' = 1e\\+300"):
        fs.estimate(fs.Bernoulli(probs=0.3), lambda x: x, 100, rng=0, estimator="concrete",
                    temperature=1e300, grad_f=lambda x: np.ones_like(x))


def test_relaxed_categorical_refuses_the_boundary_of_its_open_simplex():
    """y = [1, 0] (an underflowed draw of extreme logits) gave NaN scores."""
    d = fs.RelaxedCategorical(0.5, logits=[0.0, 0.0])
    with pytest.raises(ValueError, match="outside the support \\(the open simplex\\)"):
        fs.score(d, [[1.0, 0.0]])
    assert np.all(np.isfinite(fs.score(d, [[1.0 - 1e-17, 1e-17]])["logits"]))


@pytest.mark.parametrize("call,words", [
    (lambda: fs.estimate(fs.Normal(np.zeros(2), 1.0), fs.fn.power(1), 10, method="baseline",
                         baseline=[[1.0], [2.0, 3.0]]), "baseline must be a rectangular"),
    (lambda: fs.estimate(fs.Bernoulli(0.3), fs.fn.table([0.0, 1.0]), 10, estimator="concrete",
                         temperature=[[1.0], [2.0, 3.0]]), "temperature must be a rectangular"),
    (lambda: fs.estimate(fs.Bernoulli(0.3), fs.fn.table([0.0, 1.0]), 10, estimator="rebar",
                         eta=[[1.0], [2.0, 3.0]]), "eta must be a rectangular"),
    (lambda: fs.estimate_from_samples(fs.Normal(0.0, 1.0), [0.0, 1.0], [[1.0], [2.0, 3.0]]),
     "fx must be a rectangular"),
    (lambda: fs.score(fs.Normal(0.0, 1.0), [[1.0], [2.0, 3.0]]), "x must be a rectangular"),
    (lambda: fs.estimate(fs.Normal(0.0, 1.0), lambda x: [[1.0], [2.0, 3.0]], 10),
     "f's return value must be a rectangular"),
])
def test_ragged_arguments_are_named(call, words):
    """numpy's "setting an array element with a sequence" named nothing."""
    with pytest.raises(ValueError, match=words):
        call()


def test_closed_forms_give_infinities_where_exact_and_errors_instead_of_nan():
    # +inf: exact, or beyond float64
    F = fs.Categorical(probs=np.array([1e-300, 2e-300, 3e-300, 5e-301])).fisher()
    assert np.all(np.diagonal(F) == np.inf) and not np.isnan(F).any()
    v = fs.kl(fs.Exponential(np.array([1.5, 0.4])), fs.Exponential(1.79769313e308))
    assert np.all(np.isfinite(v) | (v == np.inf)) and v[1] == np.inf
    assert fs.kl(fs.LogNormal(0.1, 4e299), fs.LogNormal(0.1, 0.4)) == np.inf
    v, g = fs.kl(fs.Categorical(probs=[1.0, 1.0]), fs.Categorical(probs=[1.0, 0.0]), grad=True)
    assert v == np.inf and not np.isnan(g["p"]["probs"]).any()
    p = fs.Categorical(probs=[0.0, 0.0, 5.0, 1.0])
    v, g = fs.kl(p, p, grad=True)
    assert v == 0.0 and not np.isnan(g["p"]["probs"]).any()
    # at p = q every gradient is 0 (Gamma's (a - a') trigamma(a) was 0 * inf)
    v, g = fs.kl(fs.Chi2(3e-300), fs.Chi2(3e-300), grad=True)
    assert v == 0.0 and g["p"]["df"] == 0.0 and g["q"]["df"] == 0.0
    # Dirichlet's entropy gradient at tiny concentrations: +inf, not inf - inf
    h, g = fs.Dirichlet([1.5e-300, 2e-300, 8e-301]).entropy(grad=True)
    assert np.all(g["concentration"] == np.inf)
    # where a formula loses every digit: a ValueError naming the parameters
    with pytest.raises(ValueError, match="Dirichlet.fisher: .*concentration=.* batch element "
                                         "\\(0,\\)"):
        fs.Dirichlet(np.array([[1.5e-300, 2.0e-300, 8.0e-301], [1.0, 2.0, 3.0]])).fisher()
    with pytest.raises(ValueError, match="kl: the closed form is not representable"):
        fs.kl(fs.Dirichlet([1.5, 2.0, 0.8]), fs.Dirichlet([5e-324] * 3))
    # validate_args=False: invalid parameters give NaN, as documented
    h = fs.Poisson([-1.0, 2.0], validate_args=False).entropy()
    assert np.isnan(h[0]) and np.isfinite(h[1])


def test_closed_forms_of_an_empty_batch_are_empty():
    assert fs.Bernoulli(probs=np.zeros(0)).fisher().shape == (0, 1, 1)
    h, g = fs.Categorical(probs=np.zeros((0, 3))).entropy(grad=True)
    assert h.shape == (0,) and g["probs"].shape == (0, 3)


def test_the_long_profiles_findings():
    """bench/fuzz.py (100000 examples) found these after the bounded run was clean."""
    # a transform that takes samples beyond float64 raises, as a draw there does
    d = fs.TransformedDistribution(fs.Chi2(3e150), [fs.transforms.ExpTransform()])
    for backend in BACKENDS:
        with pytest.raises(ValueError, match="transforms take a sample beyond the float64"):
            fs.sample(d, 5, rng=0, backend=backend)
    # an Independent event of no coordinates is refused (the backends failed in numpy's words)
    with pytest.raises(ValueError, match="events of no coordinates"):
        fs.Independent(fs.Geometric(probs=np.zeros(0)), 1)
    # a subnormal scale: its reciprocal overflows (the score at x = loc was 0 * inf = NaN)
    with pytest.raises(ValueError, match="parameter 'scale' must be a normal float64"):
        fs.LogNormal(2.0, 5e-324)
    # the reference twin of LogNormal's measure-valued points overflowed in Python's math.exp
    ests = [fs.estimate(fs.LogNormal(0.1, 710.0), fs.fn.indicator(0.0, 1.0), 17, rng=0,
                        estimator="measure", backend=b) for b in BACKENDS]
    assert ests[0].grad["loc"] == ests[1].grad["loc"]
