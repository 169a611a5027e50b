"""Distributions used across the tests: every family, each parameterisation.

Imported by the test modules through ``load_cases()`` (pytest's importlib
mode does not put tests/ on sys.path).
"""

import numpy as np

import fastscore as fs

L3 = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])


def make(name, batch=False):
    """A distribution of family ``name``; with ``batch`` a batch of 2 elements."""
    b = (lambda scalar, other: np.array([scalar, other])) if batch else (lambda s, o: s)
    if name == "Normal":
        return fs.Normal(b(0.5, -1.0), b(1.5, 0.7))
    if name == "LogNormal":
        return fs.LogNormal(b(0.1, -0.3), b(0.4, 0.6))
    if name == "Exponential":
        return fs.Exponential(b(1.5, 0.4))
    if name == "Gamma":
        return fs.Gamma(b(2.5, 0.7), b(1.5, 3.0))
    if name == "Beta":
        return fs.Beta(b(2.0, 0.8), b(3.0, 1.5))
    if name == "Chi2":
        return fs.Chi2(b(3.0, 1.5))
    if name == "VonMises":
        return fs.VonMises(b(0.3, -2.0), b(2.0, 0.5))
    if name == "Poisson":
        return fs.Poisson(b(3.0, 0.7))
    if name == "Bernoulli(probs)":
        return fs.Bernoulli(probs=b(0.3, 0.8))
    if name == "Bernoulli(logits)":
        return fs.Bernoulli(logits=b(-0.4, 1.2))
    if name == "Categorical(probs)":
        p = np.array([1.0, 2.0, 3.0, 0.5])
        return fs.Categorical(probs=np.stack([p, p[::-1]]) if batch else p)
    if name == "Categorical(logits)":
        lg = np.array([0.2, -0.5, 1.0])
        return fs.Categorical(logits=np.stack([lg, -lg]) if batch else lg)
    if name == "Binomial(probs)":
        return fs.Binomial(b(10, 4), probs=b(0.3, 0.6))
    if name == "Binomial(logits)":
        return fs.Binomial(b(7, 12), logits=b(0.2, -0.5))
    if name == "Binomial(large)":
        return fs.Binomial(b(3000, 2000), probs=b(0.4, 0.1))
    if name == "Geometric(probs)":
        return fs.Geometric(probs=b(0.3, 0.6))
    if name == "Geometric(logits)":
        return fs.Geometric(logits=b(-0.5, 0.8))
    if name == "NegativeBinomial(probs)":
        return fs.NegativeBinomial(b(3.5, 2.0), probs=b(0.4, 0.2))
    if name == "NegativeBinomial(logits)":
        return fs.NegativeBinomial(b(2.0, 5.0), logits=b(-0.3, 0.4))
    if name == "Dirichlet":
        a = np.array([1.5, 2.0, 0.8])
        return fs.Dirichlet(np.stack([a, a[::-1] + 1.0]) if batch else a)
    if name == "MultivariateNormal":
        loc = np.array([0.5, -1.0, 2.0])
        if batch:
            return fs.MultivariateNormal(np.stack([loc, -loc]), np.stack([L3, np.eye(3) * 1.5]))
        return fs.MultivariateNormal(loc, L3)
    raise KeyError(name)


NAMES = [
    "Normal", "LogNormal", "Exponential", "Gamma", "Beta", "Chi2", "VonMises", "Poisson",
    "Bernoulli(probs)", "Bernoulli(logits)", "Categorical(probs)", "Categorical(logits)",
    "Binomial(probs)", "Binomial(logits)", "Binomial(large)", "Geometric(probs)",
    "Geometric(logits)", "NegativeBinomial(probs)", "NegativeBinomial(logits)", "Dirichlet",
    "MultivariateNormal",
]


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
