"""Estimator kinds: what each needs, its per-sample terms and its finish.

An estimator kind declares the family capability (slot) it needs and what
else it needs ("f": f values only, "grad_f": f', "coupled": coupled draws,
"relaxed": a relaxed family).  It produces per-sample terms, which the
generic reducer (_reduce.h, fastscore._moments) folds into shifted moment
sums.  From those sums its finish makes value, gradient and standard
errors.  The streams, chunks, waves, threads and chunk-ordered merges are
common to all kinds.

The kinds, after Mohamed, Rosca, Figurnov and Mnih, "Monte Carlo
Gradient Estimation in Machine Learning" (JMLR 2020):

score      E[f(x) d/dtheta log p(x)], four baselines (the "method")
pathwise   E[f'(x) dx/dtheta], x = g(eps; theta) or implicitly reparameterised
measure    c_theta (E_{p+}[f] - E_{p-}[f]), the weak derivative of p

and for discrete variables concrete, rebar, arm, disarm and indecater, and
vimco for multi-sample objectives.  A kind with ``waves = True`` (indecater,
vimco) is not a kernel loop: it computes its
terms in NumPy on the kernels' samples (``wave_terms``), as every kind does
on a Joint.

Each kind is one unit, a module of fastscore/kinds/ (its class: options,
plan transformation, reference step, finish and compiled finish, warnings
and wording); this module registers them (``KINDS``).  See CONTRIBUTING.md,
"Adding an estimator kind".
"""

import importlib

from . import _specs
from .kinds.base import EstimatorKind
from .kinds.rebar import Rebar
from .kinds.score import SCORE_CV, ScoreCV, ScoreFunction

__all__ = ["EstimatorKind", "ScoreFunction", "ScoreCV", "Rebar", "KINDS", "UNITS", "SCORE",
           "SCORE_CV", "PATHWISE", "MEASURE", "lookup"]

#: The estimator kinds, one line each: (its module in fastscore/kinds/, its class), in
#: the order messages list them.  Adding a kind is its line here (and, for a kernel
#: loop of its own, its row in _specs.KIND_BLOCKS): CONTRIBUTING.md.
UNITS = (
    ("score", "ScoreFunction"),
    ("pathwise", "Pathwise"),
    ("measure", "MeasureValued"),
    ("concrete", "Concrete"),
    ("rebar", "Rebar"),
    ("arm", "ARM"),
    ("arm", "DisARM"),
    ("indecater", "IndeCateR"),
    ("vimco", "VIMCO"),
)
#: The estimator kinds by name.
KINDS = {}
for _module, _cls in UNITS:
    _kind = getattr(importlib.import_module(".kinds." + _module, __package__), _cls)()
    KINDS[_kind.name] = _kind
SCORE, PATHWISE, MEASURE = KINDS["score"], KINDS["pathwise"], KINDS["measure"]
assert {k.kernel or k.name for k in list(KINDS.values()) + [SCORE_CV]} == set(_specs.KERNEL_KINDS)
#: Every option some kind takes, by name (fs.estimate passes all of them).
_ALL_OPTIONS = {nm: opt for kind in KINDS.values() for nm, opt in kind.options.items()}


def lookup(estimator):
    """The kind called ``estimator`` (ValueError listing the kinds otherwise)."""
    if estimator not in KINDS:
        raise ValueError("estimator must be one of %s, got %r"
                         % (", ".join(repr(k) for k in KINDS), estimator))
    return KINDS[estimator]
