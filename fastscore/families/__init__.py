"""The families, one unit each: ``<name>.py``, its class (parameter checks, kernel
constants, NumPy twins, closed forms, second-order pieces), beside its kernel code
(``<name>.pxi``, and ``<name>.h`` where its score is fused into the folds), which the
generated ``_kernels.pyx`` includes for each unit the family table of
``fastscore/_specs.py`` names.

Adding a family is one line here (its import) and its row in
``fastscore._specs.FAMILIES`` (CONTRIBUTING.md, "Adding a family").  The
public names are fastscore.distributions' (and ``fs.<Family>``).
"""

from .normal import Normal
from .bernoulli import Bernoulli
from .categorical import Categorical
from .poisson import Poisson
from .lognormal import LogNormal
from .exponential import Exponential
from .gamma import Gamma
from .beta import Beta
from .dirichlet import Dirichlet
from .binomial import Binomial
from .geometric import Geometric
from .negative_binomial import NegativeBinomial
from .multivariate_normal import MultivariateNormal
from .vonmises import VonMises
from .chi2 import Chi2
from .relaxed_bernoulli import RelaxedBernoulli
from .relaxed_categorical import RelaxedCategorical
from .laplace import Laplace

#: Every family class, in the order above (fastscore.__all__ keeps it).
__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and obj.__module__.startswith(__name__ + ".")]
