"""fastscore: fast score-function Monte Carlo gradients for exponential families.

Estimates grad_theta E_{x ~ p(x; theta)}[f(x)] as the mean of
f(x_i) * grad_theta log p(x_i; theta) (the log-derivative, REINFORCE or
likelihood-ratio trick), in compiled OpenMP loops that fuse sampling, f,
the closed-form score and the accumulation, with reproducible streams.

Examples
--------
>>> import fastscore as fs
>>> est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n=100_000, rng=0)
>>> sorted(est.grad)
['loc', 'scale']
"""

from . import fn
from ._config import show_config
from ._rng import CHUNK_SIZE
from ._version import __version__
from .distributions import (
    Bernoulli,
    Beta,
    Binomial,
    Categorical,
    Chi2,
    Dirichlet,
    Distribution,
    Exponential,
    Gamma,
    Geometric,
    LogNormal,
    MultivariateNormal,
    NegativeBinomial,
    Normal,
    Poisson,
    VonMises,
)
from .estimate import Estimate, estimate, estimate_from_samples, sample, score

__all__ = [
    "__version__",
    "CHUNK_SIZE",
    "Distribution",
    "Normal",
    "Bernoulli",
    "Categorical",
    "Poisson",
    "LogNormal",
    "Exponential",
    "Gamma",
    "Beta",
    "Dirichlet",
    "Binomial",
    "Geometric",
    "NegativeBinomial",
    "MultivariateNormal",
    "VonMises",
    "Chi2",
    "Estimate",
    "estimate",
    "estimate_from_samples",
    "sample",
    "score",
    "fn",
    "show_config",
]
