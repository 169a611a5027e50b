"""Distributions: parameters, constraints, batch shapes and closed-form scores.

One class per family, each in its own module of fastscore/families/ (with
its kernel code beside it), on the base :class:`Distribution` of
fastscore/_distribution.py.  Each class

* checks and broadcasts its parameters (names as in torch.distributions);
* names its kernel family (fastscore/_specs.py) and computes that family's
  constants once per batch element, by name (:meth:`Distribution._constants`);
* implements the NumPy twins of its sampler (drawing exactly what the
  kernel draws from the same stream), its score and its log-density, which
  the reference backend and :func:`fastscore.score` use.

This module is the public one: it re-exports :class:`Distribution` and every
family (``fastscore.distributions.Normal`` is ``fastscore.Normal``), and the
families' limits.

Scores are taken with respect to the parameters the user passed.  A
``Bernoulli(logits=...)`` has a ``"logits"`` gradient, a
``Bernoulli(probs=...)`` a ``"probs"`` one.
"""

from . import families as _families
from ._distribution import (MAX_COUPLED_INTEGER, MAX_EVENT_SIZE, MIN_RELATIVE_SCALE,  # noqa: F401
                            POISSON_LAM_MAX, Distribution)
from .families import *  # noqa: F401,F403  (every family: families.__all__)
from .families.binomial import BINOMIAL_COUNT_LIMIT  # noqa: F401
from .families.geometric import GEOMETRIC_MIN_PROBS  # noqa: F401

__all__ = ["Distribution", *_families.__all__]
