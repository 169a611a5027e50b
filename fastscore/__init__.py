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

import importlib.machinery as _machinery
import os as _os
import sys as _sys


def _has_kernels(directory):
    names = ("_kernels" + suffix for suffix in _machinery.EXTENSION_SUFFIXES)
    return any(_os.path.exists(_os.path.join(directory, name)) for name in names)


# `python -m fastscore ...` run from a source checkout puts the checkout first
# on sys.path, and its fastscore/ has no compiled kernels unless built in
# place.  Then take the package's modules from the installed build instead of
# failing (or mixing the two).
if not _has_kernels(__path__[0]):
    for _entry in _sys.path:
        _candidate = _os.path.join(_entry or _os.curdir, "fastscore")
        if (_os.path.realpath(_candidate) != _os.path.realpath(__path__[0])
                and _has_kernels(_candidate)):
            __path__[:] = [_candidate]
            break
    else:
        raise ImportError("fastscore's compiled kernels are not built: install the package "
                          "(python -m pip install .) or build in place "
                          "(python setup.py build_ext --inplace)")

from . import fn  # noqa: E402
from ._config import show_config  # noqa: E402
from ._rng import CHUNK_SIZE  # noqa: E402
from ._version import __version__  # noqa: E402
from .distributions import (  # noqa: E402
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
from .estimate import Estimate, estimate, estimate_from_samples, sample, score  # noqa: E402

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
