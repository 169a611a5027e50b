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

import os as _os

# The compiled kernels are built by `pip install` (or in place by
# `python setup.py build_ext --inplace`).  Importing fastscore from a source
# checkout that has not been built in place (python run from the checkout's
# root puts it first on sys.path) must say so clearly rather than fail deep
# inside: the same check as scikit-learn's __check_build.
try:
    from . import _finish, _kernels  # noqa: F401
except ImportError as _exc:
    _here = _os.path.dirname(_os.path.abspath(__file__))
    _tree = _os.path.exists(_os.path.join(_here, _os.pardir, "setup.py"))
    raise ImportError(
        "fastscore's compiled kernels could not be imported from %s (%s).%s" % (
            _here, _exc,
            " This is a source checkout without an in-place build: install fastscore "
            "(python -m pip install .) and run it from outside this directory (the "
            "`fastscore` command works anywhere), or build in place with "
            "`python setup.py build_ext --inplace`." if _tree else
            " The installation is incomplete: reinstall fastscore (python -m pip install "
            "--force-reinstall fastscore-mc).")) from None

from . import fn, transforms
from ._config import show_config
from ._rng import CHUNK_SIZE
from ._version import __version__
from . import distributions as _distributions
from .distributions import *  # noqa: F401,F403  (every family: distributions.__all__)
from .estimate import Estimate, estimate, estimate_from_samples, sample, score
from ._greeks import Greeks, greeks
from .joint import Independent, Joint, TransformedDistribution
from .kl import kl

__all__ = ["__version__", "CHUNK_SIZE", *_distributions.__all__, "Estimate", "estimate",
           "estimate_from_samples", "sample", "score", "fn", "show_config", "Independent",
           "Joint", "TransformedDistribution", "transforms", "kl", "greeks", "Greeks"]
