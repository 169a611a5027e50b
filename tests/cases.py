"""The registry of families the tests run on: one :class:`Case` per family-parameterisation.

Each case says everything the generic tests need to know of it: its
parameters (a scalar instance, a batch of two, batches of any shape), the
numpy Generator call that draws its samples (the sampler twin), its scipy.stats
log-density, test f's with closed-form E[f] and gradient, hypothesis
strategies of valid parameters, invalid parameters with the error they raise,
and whether its support is counted.  The generic tests (compiled == reference,
thread determinism, samples == numpy's, scores vs finite differences, closed
forms, interval coverage, parameter errors, properties) are parametrised over
:data:`CASES`, so a new family gets all of them by adding one entry here.

The test modules import this module by name (``from cases import CASES``):
tests/conftest.py puts tests/ on sys.path, since pytest's importlib mode does
not.  tests/pinned.py uses :func:`make`, :data:`NAMES`, :func:`builtin_f` and
:func:`python_f`, whose results are pinned bit for bit: do not change the
first two elements of a case, or those two functions.
"""

import dataclasses
import math
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from scipy import special, stats

import fastscore as fs

L3 = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])
#: Length of a table f longer than any sample the integer-valued cases draw
#: (and than any counted support).
TABLE_SIZE = 4096


# ------------------------------------------------------------------ records
class Truth:
    """A test f with its exact E[f] and gradient.

    ``builtin`` is a fastscore.fn built-in (or None) and ``python`` a
    vectorised Python function computing the same numbers.  ``mean(p)`` and
    ``grad(p)`` give E[f] and {parameter: d E[f] / d parameter} for one batch
    element's parameters p (a dict of float arrays).
    """

    def __init__(self, builtin, python, mean, grad):
        self.builtin = builtin
        self.python = python
        self._mean = mean
        self._grad = grad

    def kinds(self):
        """The kinds of f this truth has: "builtin" and/or "python"."""
        return ("builtin", "python") if self.builtin is not None else ("python",)

    def f(self, kind, shape=(), index=None):
        """f of kind ``kind`` for a batch of ``shape`` holding the elements ``index``."""
        return self.builtin if kind == "builtin" else self.python

    def exact(self, p, i):
        """(E[f], {parameter: gradient}) of element i, whose parameters are p."""
        return self._mean(p), self._grad(p)


class TableTruth(Truth):
    """f = a table of rewards r over the support, with a row of rewards per element.

    ``rows`` holds one row per element of the case (cycled like the elements);
    ``mean(p, r)`` and ``grad(p, r)`` take the element's row r.
    """

    def __init__(self, rows, mean, grad):
        super().__init__(None, None, mean, grad)  # f builds both kinds from the rows
        self.rows = np.asarray(rows, dtype=np.float64)

    def kinds(self):
        return ("builtin", "python")

    def f(self, kind, shape=(), index=None):
        shape = tuple(shape)
        index = np.arange(math.prod(shape)) if index is None else np.asarray(index)
        rows = self.rows[index % len(self.rows)]                 # (batch size, V)
        if kind == "builtin":
            return fs.fn.table(rows.reshape(shape + rows.shape[-1:]))
        cols = np.arange(len(rows))

        def rewards(x):
            x = np.asarray(x)
            return rows[cols, x.reshape(len(x), -1)].reshape(x.shape)
        return rewards

    def exact(self, p, i):
        r = self.rows[i % len(self.rows)]
        return self._mean(p, r), self._grad(p, r)


@dataclasses.dataclass
class Invalid:
    """Parameters a case refuses, with fragments of the error message.

    ``overrides`` replace or add parameters of the case's first element;
    the error is ``exc`` and its message holds the class name and ``words``.
    """

    overrides: dict
    words: list
    exc: type = ValueError


@dataclasses.dataclass(repr=False)
class Case:
    """One family-parameterisation and what the generic tests need of it.

    Parameters
    ----------
    name : str
        e.g. "Binomial(logits)"; also the test ids.
    cls : type
        The distribution class; ``cls(**params)`` builds one.
    elements : list of dict
        Parameters of batch elements, by keyword: element 0 is the scalar
        instance, elements 0 and 1 the batch of two, and a batch of any shape
        takes them in turn (C order).  The first three lie well inside the
        parameter space (the closed forms hold for them); later ones may sit
        at its edges (probs 0 or 1, categories of probability 0) or in other
        branches of numpy's samplers.
    draw : callable (gen, p, m) -> ndarray
        The sampler twin: m samples of an element with parameters p, drawn
        by numpy.random.Generator ``gen`` exactly as the documentation says
        the kernels draw them.
    logpdf : callable (p, x) -> ndarray
        log p(x) by scipy.stats for m samples x ((m,) or (m, E)) of an
        element with parameters p.
    truths : list of Truth
        Test f's with closed forms.  The first is the one of the coverage test
        and of estimate_from_samples: an f whose terms f s are not heavy-tailed,
        so that 95% intervals cover at 2000 samples.
    valid : dict
        {parameter: hypothesis strategy of one element's value}.
    invalid : list of Invalid
    exact_draw : bool
        False where the twin rounds differently from the kernel's composite
        sampler (it is then compared to 1e-13).
    counted : bool
        The kernels count its finite support.
    """

    name: str
    cls: type
    elements: list
    draw: Callable
    logpdf: Callable
    truths: list
    valid: dict
    invalid: list
    exact_draw: bool = True
    counted: bool = False

    def __repr__(self):
        return self.name

    # parameters and instances
    def element(self, i):
        """Parameters of element i as float arrays."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.elements[i].items()}

    def index(self, shape):
        """The element of each position of a batch of ``shape`` (flat, C order)."""
        return np.arange(math.prod(shape)) % len(self.elements)

    def params(self, shape=(), index=None):
        """Parameters of a batch of ``shape`` holding the elements ``index`` (default: in turn)."""
        shape = tuple(shape)
        if shape == () and index is None:
            return dict(self.elements[0])
        index = self.index(shape) if index is None else np.asarray(index)
        out = {}
        for nm, v in self.elements[0].items():
            rows = np.stack([np.asarray(self.elements[i][nm]) for i in index])
            out[nm] = rows.reshape(shape + np.shape(v))
        return out

    def build(self, params, **kw):
        """A distribution from parameter arrays (e.g. perturbed, for finite differences)."""
        return self.cls(**params, **kw)

    def make(self, shape=(), index=None, **kw):
        """An instance of batch ``shape`` (see :meth:`params`)."""
        return self.build(self.params(shape, index), **kw)

    def param_event_shape(self, name):
        """The event part of parameter ``name`` (its gradient has batch_shape + this)."""
        return np.shape(self.elements[0][name])

    def exact(self, truth, index):
        """E[f] (batch,) and {parameter: gradient (batch, *event)} of ``truth`` for the
        elements ``index``."""
        pairs = [truth.exact(self.element(i), i) for i in index]
        mean = np.array([m for m, _ in pairs])
        grad = {k: np.stack([np.broadcast_to(g[k], self.param_event_shape(k)) for _, g in pairs])
                for k in pairs[0][1]}
        return mean, grad

    def strategy(self, shape):
        """Hypothesis strategy of valid parameters of a batch of ``shape``."""
        size = math.prod(shape)

        def batch(elem):
            return st.lists(elem, min_size=size, max_size=size).map(
                lambda v: np.array(v, dtype=np.float64).reshape(
                    tuple(shape) + np.shape(v[0])))
        return st.fixed_dictionaries({nm: batch(s) for nm, s in self.valid.items()})


# ------------------------------------------------------------------ helpers
def _success(p):
    """probs of a probs | logits element."""
    return p["probs"] if "probs" in p else special.expit(p["logits"])


def _failure(p):
    """1 - probs, computed as fastscore does (accurately for logits)."""
    return 1.0 - p["probs"] if "probs" in p else special.expit(-p["logits"])


def _by_param(p, d_dprobs):
    """{parameter passed: gradient}, from the gradient with respect to probs."""
    if "probs" in p:
        return {"probs": d_dprobs}
    q = _success(p)
    return {"logits": d_dprobs * q * (1.0 - q)}


def _categorical(p):
    """Category probabilities of a Categorical element."""
    return p["probs"] / p["probs"].sum() if "probs" in p else special.softmax(p["logits"])


def _categorical_draw(gen, p, m):
    q = _categorical(p)
    u = gen.random(m)
    # The first k with u < cumsum(q)[k]; a u above a rounded-down last cdf value
    # belongs to the last category of positive probability.
    return np.minimum(np.searchsorted(np.cumsum(q), u, side="right"), np.flatnonzero(q > 0)[-1])


def _identity(x):
    return np.asarray(x, dtype=np.float64) * 1.0


def _square(x):
    x = np.asarray(x, dtype=np.float64)
    return x * x


def _first(x):
    return np.asarray(x, dtype=np.float64)[..., 0] * 1.0


POS = st.floats(0.2, 5.0)
REAL = st.floats(-3.0, 3.0)
PROB = st.floats(0.05, 0.95)


def _vector(elem, k=3):
    return st.lists(elem, min_size=k, max_size=k)


def _mean_truth(mean, grad):
    """f(x) = x, with E[x] = mean(p) and its gradient grad(p)."""
    return Truth(fs.fn.power(1), _identity, mean, grad)


def _square_truth(mean, grad):
    """f(x) = x^2, with E[x^2] = mean(p) and its gradient grad(p)."""
    return Truth(fs.fn.power(2), _square, mean, grad)


def _bernoulli_table():
    def mean(p, r):
        q = _success(p)
        return (1.0 - q) * r[0] + q * r[1]
    return TableTruth([[0.3, 1.7], [2.0, -1.0]], mean,
                      lambda p, r: _by_param(p, r[1] - r[0]))


def _categorical_table(rows):
    def mean(p, r):
        return _categorical(p) @ r

    def grad(p, r):
        q = _categorical(p)
        if "logits" in p:
            return {"logits": q * (r - q @ r)}
        return {"probs": (r - q @ r) / p["probs"].sum()}  # E = sum_k probs_k r_k / sum(probs)
    return TableTruth(rows, mean, grad)


# ------------------------------------------------------------- the registry
def _normal():
    return Case(
        "Normal", fs.Normal,
        [{"loc": 0.5, "scale": 1.5}, {"loc": -1.0, "scale": 0.7}, {"loc": 3.0, "scale": 4.0},
         {"loc": -2.0, "scale": 0.3}, {"loc": 0.0, "scale": 2.5}, {"loc": 5.0, "scale": 1.0}],
        draw=lambda gen, p, m: gen.normal(p["loc"], p["scale"], m),
        logpdf=lambda p, x: stats.norm.logpdf(x, p["loc"], p["scale"]),
        truths=[_mean_truth(lambda p: p["loc"], lambda p: {"loc": np.ones_like(p["loc"]),
                                                          "scale": np.zeros_like(p["scale"])}),
                _square_truth(lambda p: p["loc"] ** 2 + p["scale"] ** 2,
                              lambda p: {"loc": 2 * p["loc"], "scale": 2 * p["scale"]})],
        valid={"loc": REAL, "scale": POS},
        invalid=[
            Invalid({"scale": [1.0, 2.0, -1.0]}, ["'scale'", "> 0", "(2,)"]),
            Invalid({"scale": 0.0}, ["'scale'", "> 0"]),
            Invalid({"loc": [0.0, np.nan]}, ["'loc'", "finite", "(1,)"]),
            Invalid({"scale": np.inf}, ["'scale'", "finite"]),
            Invalid({"loc": np.zeros(3), "scale": np.ones(2)}, ["broadcast", "(3,)", "(2,)"]),
            Invalid({"scale": None}, ["parameter 'scale' is required"], TypeError),
            Invalid({"loc": "a"}, ["parameter 'loc'", "real numbers"], TypeError),
        ])


def _laplace():
    return Case(
        "Laplace", fs.Laplace,
        [{"loc": 0.5, "scale": 1.5}, {"loc": -1.0, "scale": 0.7}, {"loc": 3.0, "scale": 4.0},
         {"loc": -2.0, "scale": 0.3}, {"loc": 0.0, "scale": 2.5}],
        draw=lambda gen, p, m: gen.laplace(p["loc"], p["scale"], m),
        logpdf=lambda p, x: stats.laplace.logpdf(x, p["loc"], p["scale"]),
        truths=[_mean_truth(lambda p: p["loc"], lambda p: {"loc": np.ones_like(p["loc"]),
                                                          "scale": np.zeros_like(p["scale"])}),
                _square_truth(lambda p: p["loc"] ** 2 + 2 * p["scale"] ** 2,
                              lambda p: {"loc": 2 * p["loc"], "scale": 4 * p["scale"]})],
        valid={"loc": REAL, "scale": POS},
        invalid=[
            Invalid({"scale": [1.0, 2.0, -1.0]}, ["'scale'", "> 0", "(2,)"]),
            Invalid({"scale": 0.0}, ["'scale'", "> 0"]),
            Invalid({"loc": [0.0, np.inf]}, ["'loc'", "finite", "(1,)"]),
            Invalid({"scale": np.nan}, ["'scale'", "finite"]),
        ])


def _lognormal():
    def mean(p):  # E[x] = exp(loc + scale^2 / 2)
        return np.exp(p["loc"] + p["scale"] ** 2 / 2)
    return Case(
        "LogNormal", fs.LogNormal,
        [{"loc": 0.1, "scale": 0.4}, {"loc": -0.3, "scale": 0.6}, {"loc": 2.0, "scale": 0.1},
         {"loc": -1.0, "scale": 1.5}],
        draw=lambda gen, p, m: gen.lognormal(p["loc"], p["scale"], m),
        logpdf=lambda p, x: stats.lognorm.logpdf(x, p["scale"], scale=np.exp(p["loc"])),
        truths=[_mean_truth(mean, lambda p: {"loc": mean(p), "scale": p["scale"] * mean(p)})],
        valid={"loc": st.floats(-1.0, 1.0), "scale": st.floats(0.1, 1.0)},
        invalid=[Invalid({"scale": 0.0}, ["'scale'", "> 0"])])


def _exponential():
    return Case(
        "Exponential", fs.Exponential,
        [{"rate": 1.5}, {"rate": 0.4}, {"rate": 30.0}],
        draw=lambda gen, p, m: gen.exponential(1.0 / p["rate"], m),
        logpdf=lambda p, x: stats.expon.logpdf(x, scale=1.0 / p["rate"]),
        truths=[_mean_truth(lambda p: 1 / p["rate"], lambda p: {"rate": -1 / p["rate"] ** 2})],
        valid={"rate": POS},
        invalid=[Invalid({"rate": -2.0}, ["'rate'", "> 0"])])


def _gamma():
    return Case(
        "Gamma", fs.Gamma,
        [{"concentration": 2.5, "rate": 1.5}, {"concentration": 0.7, "rate": 3.0},
         {"concentration": 40.0, "rate": 0.5}],
        draw=lambda gen, p, m: gen.gamma(p["concentration"], 1.0 / p["rate"], m),
        logpdf=lambda p, x: stats.gamma.logpdf(x, p["concentration"], scale=1.0 / p["rate"]),
        truths=[_mean_truth(lambda p: p["concentration"] / p["rate"],
                            lambda p: {"concentration": 1 / p["rate"],
                                       "rate": -p["concentration"] / p["rate"] ** 2})],
        valid={"concentration": POS, "rate": POS},
        invalid=[Invalid({"concentration": [1.0, -1.0]}, ["'concentration'", "> 0", "(1,)"])])


def _beta():
    def grad(p):
        a, b = p["concentration1"], p["concentration0"]
        return {"concentration1": b / (a + b) ** 2, "concentration0": -a / (a + b) ** 2}
    return Case(
        "Beta", fs.Beta,
        [{"concentration1": 2.0, "concentration0": 3.0},
         {"concentration1": 0.8, "concentration0": 1.5},
         {"concentration1": 0.5, "concentration0": 0.6}],
        draw=lambda gen, p, m: gen.beta(p["concentration1"], p["concentration0"], m),
        logpdf=lambda p, x: stats.beta.logpdf(x, p["concentration1"], p["concentration0"]),
        truths=[_mean_truth(lambda p: p["concentration1"] / (p["concentration1"]
                                                             + p["concentration0"]), grad)],
        valid={"concentration1": POS, "concentration0": POS},
        invalid=[Invalid({"concentration0": [2.0, 0.0]}, ["'concentration0'", "> 0", "(1,)"]),
                 Invalid({"concentration1": -1.0}, ["'concentration1'", "> 0"])])


def _chi2():
    return Case(
        "Chi2", fs.Chi2,
        [{"df": 3.0}, {"df": 1.5}, {"df": 0.6}],
        draw=lambda gen, p, m: gen.chisquare(p["df"], m),
        logpdf=lambda p, x: stats.chi2.logpdf(x, p["df"]),
        truths=[_mean_truth(lambda p: p["df"], lambda p: {"df": np.ones_like(p["df"])})],
        valid={"df": POS},
        invalid=[Invalid({"df": [1.0, 0.0]}, ["'df'", "> 0", "(1,)"]),
                 Invalid({"df": None}, ["parameter 'df' is required"], TypeError)])


def _vonmises():
    def ratio(k):
        return special.i1e(k) / special.i0e(k)

    def grad(p):
        mu, k = p["loc"], p["concentration"]
        A = ratio(k)
        return {"loc": -A * np.sin(mu), "concentration": (1 - A / k - A * A) * np.cos(mu)}
    return Case(
        "VonMises", fs.VonMises,
        [{"loc": 0.3, "concentration": 2.0}, {"loc": -2.0, "concentration": 0.5},
         {"loc": 3.0, "concentration": 50.0}],
        draw=lambda gen, p, m: gen.vonmises(p["loc"], p["concentration"], m),
        logpdf=lambda p, x: stats.vonmises.logpdf(x, p["concentration"], loc=p["loc"]),
        # E[cos x] = I1(k) / I0(k) cos(loc); no built-in computes cos
        truths=[Truth(None, np.cos, lambda p: ratio(p["concentration"]) * np.cos(p["loc"]), grad)],
        valid={"loc": REAL, "concentration": POS},
        invalid=[Invalid({"concentration": -1.0}, ["'concentration'", "> 0"])])


def _poisson():
    return Case(
        "Poisson", fs.Poisson,
        # small rates (numpy's multiplication method) and large ones (PTRS) alike
        [{"rate": 3.0}, {"rate": 0.7}, {"rate": 25.0}, {"rate": 9.99}, {"rate": 10.0},
         {"rate": 300.0}],
        draw=lambda gen, p, m: gen.poisson(p["rate"], m),
        logpdf=lambda p, x: stats.poisson.logpmf(x, p["rate"]),
        truths=[_square_truth(lambda p: p["rate"] + p["rate"] ** 2,
                              lambda p: {"rate": 1 + 2 * p["rate"]})],
        valid={"rate": POS},
        invalid=[
            Invalid({"rate": [[1.0, 0.0]]}, ["'rate'", "> 0", "(0, 1)"]),
            Invalid({"rate": -2.0}, ["'rate'", "> 0"]),
            # satisfies the textbook constraint, but numpy's sampler (int64 samples) cannot draw it
            Invalid({"rate": [1.0, 1e19]}, ["'rate'", "9.223e+18", "(1,)"]),
        ])


def _bernoulli(by):
    if by == "probs":
        elements = [0.3, 0.8, 0.65, 0.0, 1.0, 1e-3]  # not 1/2: rloo is degenerate there
        valid = PROB
        invalid = [
            Invalid({"probs": [0.5, 1.2]}, ["'probs'", "[0, 1]", "(1,)"]),
            Invalid({"probs": -0.1}, ["'probs'", "[0, 1]"]),
            Invalid({"logits": 0.0}, ["exactly one", "probs", "logits"]),
            Invalid({"probs": None}, ["exactly one", "probs", "logits"]),
        ]
    else:
        elements = [-0.4, 1.2, -3.0, 5.0, 0.0, 30.0]
        valid = REAL
        invalid = [Invalid({"logits": np.nan}, ["'logits'", "finite"])]
    return Case(
        "Bernoulli(%s)" % by, fs.Bernoulli, [{by: v} for v in elements],
        draw=lambda gen, p, m: (gen.random(m) < _success(p)).astype(np.int64),
        logpdf=lambda p, x: stats.bernoulli.logpmf(x, _success(p)),
        truths=[_bernoulli_table()], valid={by: valid}, invalid=invalid, counted=True)


def _categorical_case(by):
    if by == "probs":
        p = np.array([1.0, 2.0, 3.0, 0.5])
        elements = [p, p[::-1], [0.1, 0.3, 0.6, 0.9],
                    [0.0, 0.0, 5.0, 1.0], [4.0, 1e-3, 2.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
        rows = [[1.0, -0.5, 2.0, 0.25], [0.0, 3.0, 1.0, 0.5]]
        valid = _vector(POS)
        invalid = [
            Invalid({"probs": [[1.0, -1.0]]}, ["'probs'", ">= 0", "(0, 1)"]),
            Invalid({"probs": [0.0, 0.0]}, ["'probs'", "sum", "> 0"]),
            Invalid({"probs": [1.0, -1.0, 2.0]}, ["'probs'", ">= 0"]),
        ]
    else:
        lg = np.array([0.2, -0.5, 1.0])
        elements = [lg, -lg, [3.0, 0.0, -2.0], [-4.0, 0.0, 4.0], [0.0, 0.0, 0.0]]
        rows = [[1.0, -0.5, 2.0], [0.0, 3.0, 1.0]]
        valid = _vector(REAL)
        invalid = [Invalid({"logits": [0.0, np.inf]}, ["'logits'", "finite"])]
    return Case(
        "Categorical(%s)" % by, fs.Categorical, [{by: np.asarray(v)} for v in elements],
        draw=_categorical_draw,
        logpdf=lambda p, x: np.log(_categorical(p)[np.asarray(x)]),
        truths=[_categorical_table(rows)], valid={by: valid}, invalid=invalid, counted=True)


def _binomial(name, by, elements, valid_counts, invalid, counted):
    return Case(
        name, fs.Binomial, [{"total_count": n, by: v} for n, v in elements],
        draw=lambda gen, p, m: gen.binomial(int(p["total_count"]), _success(p), m),
        logpdf=lambda p, x: stats.binom.logpmf(x, p["total_count"], _success(p)),
        truths=[_mean_truth(lambda p: p["total_count"] * _success(p),
                            lambda p: _by_param(p, p["total_count"]))],
        valid={"total_count": st.integers(*valid_counts), by: PROB if by == "probs" else REAL},
        invalid=invalid, counted=counted)


def _geometric(by):
    if by == "probs":
        elements, valid = [0.3, 0.6, 0.01, 1.0], PROB
        invalid = [
            Invalid({"probs": 0.0}, ["'probs'", "(0, 1]"]),
            Invalid({"probs": -0.5}, ["'probs'", "(0, 1]"]),
            Invalid({"probs": [0.5, 1e-19]}, ["'probs'", "1e-16", "(1,)"]),
        ]
    else:
        elements, valid = [-0.5, 0.8, -4.0], REAL
        invalid = [Invalid({"logits": -700.0}, ["'logits'", "1e-16"])]
    return Case(
        "Geometric(%s)" % by, fs.Geometric, [{by: v} for v in elements],
        draw=lambda gen, p, m: gen.geometric(_success(p), m) - 1,
        logpdf=lambda p, x: stats.geom.logpmf(x + 1, _success(p)),
        # E[x] = (1 - p) / p
        truths=[_mean_truth(lambda p: _failure(p) / _success(p),
                            lambda p: _by_param(p, -1 / _success(p) ** 2))],
        valid={by: valid}, invalid=invalid)


def _negative_binomial(by):
    if by == "probs":
        elements = [(3.5, 0.4), (2.0, 0.2), (0.5, 0.9)]
        valid = st.floats(0.0, 0.9)
        invalid = [
            Invalid({"total_count": 0.0}, ["'total_count'", "> 0"]),
            Invalid({"total_count": -1.0}, ["'total_count'", "> 0"]),
            Invalid({"probs": 1.0}, ["'probs'", "[0, 1)"]),
            Invalid({"total_count": 1e20, "probs": 0.5}, ["'probs'", "int64"]),
        ]
    else:
        elements = [(2.0, -0.3), (5.0, 0.4), (40.0, 2.0)]
        valid = REAL
        invalid = [Invalid({"logits": [0.0, 700.0]}, ["'logits'", "total_count", "(1,)"])]
    return Case(
        "NegativeBinomial(%s)" % by, fs.NegativeBinomial,
        [{"total_count": r, by: v} for r, v in elements],
        # numpy counts failures before n successes: p = 1 - probs
        draw=lambda gen, p, m: gen.negative_binomial(p["total_count"], _failure(p), m),
        logpdf=lambda p, x: stats.nbinom.logpmf(x, p["total_count"], _failure(p)),
        # E[x] = r p / (1 - p)
        truths=[_mean_truth(lambda p: p["total_count"] * _success(p) / _failure(p),
                            lambda p: _by_param(p, p["total_count"] / _failure(p) ** 2))],
        valid={"total_count": POS, by: valid}, invalid=invalid)


def _dirichlet():
    def grad(p):
        a = p["concentration"]
        S = a.sum()
        g = -a[0] / S ** 2 * np.ones_like(a)
        g[0] = (S - a[0]) / S ** 2
        return {"concentration": g}

    def draw(gen, p, m):
        g = gen.standard_gamma(p["concentration"], size=(m, p["concentration"].size))
        return g / g.sum(axis=1, keepdims=True)
    a = np.array([1.5, 2.0, 0.8])
    return Case(
        "Dirichlet", fs.Dirichlet,
        [{"concentration": a}, {"concentration": a[::-1] + 1.0},
         {"concentration": np.array([0.3, 8.0, 0.5])}],
        draw=draw,
        logpdf=lambda p, x: stats.dirichlet.logpdf(np.asarray(x).T, p["concentration"]),
        # E[x_0] = a_0 / sum(a)
        truths=[Truth(fs.fn.linear([1.0, 0.0, 0.0]), _first,
                      lambda p: p["concentration"][0] / p["concentration"].sum(), grad)],
        valid={"concentration": _vector(POS)},
        invalid=[
            Invalid({"concentration": [1.0, -1.0, 2.0]}, ["'concentration'", "> 0", "(1,)"]),
            Invalid({"concentration": [1.0]}, ["'concentration'", "K >= 2"]),
            Invalid({"concentration": np.ones(2049)}, ["'concentration'", "2048"]),
            Invalid({"concentration": None}, ["parameter 'concentration' is required"],
                    TypeError),
        ],
        exact_draw=False)


def _multivariate_normal():
    def square_grad(p):
        L = np.zeros((3, 3))
        L[0, 0] = 2 * p["scale_tril"][0, 0]
        return {"loc": np.array([2 * p["loc"][0], 0.0, 0.0]), "scale_tril": L}

    def draw(gen, p, m):
        z = gen.standard_normal((m, p["loc"].size))
        return p["loc"] + z @ p["scale_tril"].T
    loc = np.array([0.5, -1.0, 2.0])
    return Case(
        "MultivariateNormal", fs.MultivariateNormal,
        [{"loc": loc, "scale_tril": L3}, {"loc": -loc, "scale_tril": np.eye(3) * 1.5},
         {"loc": np.array([3.0, 0.0, -0.5]), "scale_tril": np.array(
             [[0.2, 0.0, 0.0], [-1.0, 1.0, 0.0], [0.4, 2.0, 3.0]])}],
        draw=draw,
        logpdf=lambda p, x: stats.multivariate_normal.logpdf(
            x, p["loc"], p["scale_tril"] @ p["scale_tril"].T),
        truths=[
            # E[x_0] = loc_0
            Truth(fs.fn.linear([1.0, 0.0, 0.0]), _first, lambda p: p["loc"][0],
                  lambda p: {"loc": np.array([1.0, 0.0, 0.0]), "scale_tril": np.zeros((3, 3))}),
            # E[x_0^2] = loc_0^2 + L_00^2
            Truth(None, lambda x: np.asarray(x)[..., 0] ** 2,
                  lambda p: p["loc"][0] ** 2 + p["scale_tril"][0, 0] ** 2, square_grad),
        ],
        valid={"loc": _vector(REAL), "scale_tril": st.just(
            np.array([[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 1.2]]))},
        invalid=[
            Invalid({"loc": np.zeros(2), "scale_tril": [[1.0, 1.0], [0.0, 1.0]]},
                    ["'scale_tril'", "lower-triangular", "(0, 1)"]),
            Invalid({"loc": np.zeros(2), "scale_tril": [[1.0, 0.0], [0.0, -1.0]]},
                    ["'scale_tril'", "positive diagonal", "(1, 1)"]),
            Invalid({"loc": np.zeros(2), "scale_tril": np.eye(3)}, ["'scale_tril'", "shape"]),
            Invalid({"loc": np.zeros(0), "scale_tril": np.ones((0, 0))}, ["'loc'", "1 <= D"]),
            Invalid({"loc": None}, ["parameter 'loc' is required"], TypeError),
        ],
        exact_draw=False)


def _relaxed_mean(t, l, a=(0.0, 1.0)):
    """E[a_0 (1 - y) + a_1 y] for y = sigmoid((l + logistic) / t), by quadrature over u."""
    from scipy import integrate

    val, _ = integrate.quad(lambda u: special.expit((l + special.logit(u)) / t), 0.0, 1.0,
                            epsabs=1e-13, epsrel=1e-12, limit=200)
    return a[0] * (1.0 - val) + a[1] * val


def _relaxed_grad(fun, p, by):
    """{by: dE/dparameter} by central differences of the quadrature ``fun(p)``."""
    v = np.asarray(p[by], dtype=np.float64)
    g = np.zeros(v.shape)
    for idx in np.ndindex(v.shape):
        h = 1e-5
        up, dn = dict(p), dict(p)
        vu, vd = v.copy(), v.copy()
        vu[idx] += h
        vd[idx] -= h
        up[by], dn[by] = vu, vd
        g[idx] = (fun(up) - fun(dn)) / (2 * h)
    return {by: g}


def _relaxed_bernoulli(by):
    def logits(p):
        return p["logits"] if "logits" in p else special.logit(p["probs"])

    def draw(gen, p, m):
        u = gen.random(m)
        u = np.where(u > 0, u, 2.0 ** -54)
        return special.expit((logits(p) + np.log(u / (1 - u))) / p["temperature"])

    def logpdf(p, x):
        t, l = p["temperature"], logits(p)
        return (np.log(t) + l - (t + 1) * np.log(x * (1 - x))
                - 2 * np.log(np.exp(l) * x ** -t + (1 - x) ** -t))

    def mean(p):
        return _relaxed_mean(float(p["temperature"]), float(logits(p)))

    if by == "probs":
        elements = [(0.5, 0.3), (1.5, 0.8), (0.8, 0.6)]
        valid = st.floats(0.1, 0.9)
        invalid = [Invalid({"probs": 0.0}, ["'probs'", "(0, 1)"]),
                   Invalid({"temperature": 0.0}, ["'temperature'", "> 0"]),
                   Invalid({"logits": 0.0}, ["exactly one", "probs", "logits"])]
    else:
        elements = [(0.5, 0.3), (1.5, -0.8), (0.8, 1.2)]
        valid = REAL
        invalid = [Invalid({"logits": np.inf}, ["'logits'", "finite"]),
                   Invalid({"temperature": [1.0, -1.0]}, ["'temperature'", "> 0", "(1,)"])]
    return Case(
        "RelaxedBernoulli(%s)" % by, fs.RelaxedBernoulli,
        [{"temperature": t, by: v} for t, v in elements], draw=draw, logpdf=logpdf,
        truths=[Truth(fs.fn.power(1), _identity, mean,
                      lambda p: _relaxed_grad(mean, p, by))],
        valid={"temperature": st.floats(0.3, 3.0), by: valid}, invalid=invalid,
        exact_draw=False)


def _relaxed_categorical(by):
    # K = 2: y_1 = sigmoid((l_1 - l_0 + logistic) / t), so E[f] is a 1-D quadrature
    a = np.array([1.0, 3.0])

    def log_probs(p):
        lg = p["logits"] if "logits" in p else np.log(p["probs"])
        return lg - special.logsumexp(lg)

    def draw(gen, p, m):
        u = gen.random((m, 2))
        u = np.where(u > 0, u, 2.0 ** -54)
        return special.softmax((log_probs(p) - np.log(-np.log(u))) / p["temperature"], axis=-1)

    def logpdf(p, x):
        t, l = p["temperature"], log_probs(p)
        return (np.log(t) + (l - (t + 1) * np.log(x)).sum(-1)
                - 2 * special.logsumexp(l - t * np.log(x), axis=-1))

    def mean(p):
        lp = log_probs(p)
        return _relaxed_mean(float(p["temperature"]), float(lp[1] - lp[0]), a)

    if by == "probs":
        elements = [(0.5, [1.0, 2.0]), (1.5, [3.0, 1.0]), (0.8, [0.5, 0.7])]
        valid = _vector(POS, 2)
        invalid = [Invalid({"probs": [1.0, -1.0]}, ["'probs'", ">= 0"]),
                   Invalid({"probs": [0.0, 0.0]}, ["'probs'", "sum", "> 0"]),
                   Invalid({"probs": [1.0]}, ["'probs'", "2 <= K"])]
    else:
        elements = [(0.5, [0.2, -0.5]), (1.5, [1.0, 0.0]), (0.8, [-0.3, 0.9])]
        valid = _vector(REAL, 2)
        invalid = [Invalid({"temperature": -2.0}, ["'temperature'", "> 0"]),
                   Invalid({"temperature": None}, ["'temperature'"], TypeError)]
    return Case(
        "RelaxedCategorical(%s)" % by, fs.RelaxedCategorical,
        [{"temperature": t, by: np.asarray(v)} for t, v in elements], draw=draw,
        logpdf=logpdf,
        truths=[Truth(fs.fn.linear(a), lambda x: np.asarray(x, dtype=np.float64) @ a, mean,
                      lambda p: _relaxed_grad(mean, p, by))],
        valid={"temperature": st.floats(0.3, 3.0), by: valid}, invalid=invalid,
        exact_draw=False)


CASES = [
    _normal(), _lognormal(), _exponential(), _gamma(), _beta(), _chi2(), _vonmises(),
    _poisson(), _bernoulli("probs"), _bernoulli("logits"), _categorical_case("probs"),
    _categorical_case("logits"),
    _binomial("Binomial(probs)", "probs", [(10, 0.3), (4, 0.6), (7, 0.05)], (0, 20), [
        Invalid({"total_count": [3, 2.5]}, ["'total_count'", "integer", "(1,)"]),
        Invalid({"total_count": -1}, ["'total_count'", "non-negative"]),
        Invalid({"total_count": 1e300}, ["'total_count'", "2**63"]),
        Invalid({"probs": 1.5}, ["'probs'", "[0, 1]"]),
        Invalid({"probs": np.nan}, ["'probs'", "finite"]),
    ], counted=True),
    _binomial("Binomial(logits)", "logits", [(7, 0.2), (12, -0.5), (30, 2.5)], (0, 20), [
        Invalid({"total_count": 2.0 ** 63}, ["'total_count'", "2**63"]),
    ], counted=True),
    # total_count above the counting limit (1024 support values): drawn, not counted
    _binomial("Binomial(large)", "probs", [(3000, 0.4), (2000, 0.1), (1500, 0.005)],
              (1024, 5000), [
                  Invalid({"total_count": [3000, 2000.5]}, ["'total_count'", "integer", "(1,)"]),
              ], counted=False),
    _geometric("probs"), _geometric("logits"),
    _negative_binomial("probs"), _negative_binomial("logits"),
    _dirichlet(), _multivariate_normal(),
    _relaxed_bernoulli("probs"), _relaxed_bernoulli("logits"),
    _relaxed_categorical("probs"), _relaxed_categorical("logits"),
    _laplace(),
]
BY_NAME = {case.name: case for case in CASES}
NAMES = [case.name for case in CASES]


def make(name, batch=False):
    """A distribution of case ``name``; with ``batch`` the batch of its first 2 elements."""
    return BY_NAME[name].make((2,) if batch else ())


def builtin_f(d):
    """A built-in f that suits the family."""
    if d.event_size > 1:
        return fs.fn.linear(np.arange(1.0, d.event_size + 1.0), 0.5)
    if d.integer_valued:
        V = 40 if not d.finite_support else d.support().size
        return fs.fn.table(np.cos(np.arange(V, dtype=float)) + 2.0) if d.finite_support \
            else fs.fn.power(2)
    return fs.fn.power(2)


def python_f(d):
    """A vectorised Python f: (m, *batch, *event) -> (m, *batch)."""
    if d.event_size > 1:
        return lambda x: np.sin(x).sum(axis=-1) + x[..., 0] ** 2
    return lambda x: np.cos(np.asarray(x, dtype=float)) + 0.1 * x
