"""The Concrete (Gumbel-softmax) estimator ("concrete")."""

from .._options import STRAIGHT_THROUGH, TEMPERATURE
from .pathwise import Pathwise


def _relaxation(dist, estimator, temperature):
    """The Concrete relaxation of a Bernoulli or Categorical at this temperature."""
    if not hasattr(dist, "relaxation"):
        raise NotImplementedError("estimator=%r relaxes a discrete family; %s has no continuous "
                                  "relaxation here (Bernoulli and Categorical have)"
                                  % (estimator, type(dist).__name__))
    relaxed = dist.relaxation(temperature)
    relaxed._check_resolution(estimator)   # a temperature beyond 2^32 rounds the noise away
    return relaxed


class Concrete(Pathwise):
    """The Concrete (Gumbel-softmax) estimator: the pathwise gradient of E[f(y)] for
    y the relaxed sample at ``temperature``, a biased estimate of the discrete
    gradient (the bias falls with the temperature, the variance rises).

    With ``straight_through=True`` f and f' are evaluated at the hard sample
    H(y) (the one-hot argmax; y > 1/2 for Bernoulli) while the gradient flows
    through y: still biased, but E[f] is then the discrete one.  f must be
    defined on [0, 1] (Bernoulli) or on the simplex of K-vectors (Categorical);
    fastscore.fn.table extends linearly there.
    """

    name = "concrete"
    kernel = "pathwise"
    needs = frozenset({"f", "grad_f", "relaxed"})
    options = {"temperature": TEMPERATURE, "straight_through": STRAIGHT_THROUGH}
    terms_description = "f'(y) dy/dtheta at the relaxed samples y"
    covariance_wrapped = grouped_kernel = False

    def plan_for(self, dist):
        relaxed = _relaxation(dist, self.name, self.settings["temperature"])
        plan = relaxed.plan()
        if self.settings["straight_through"]:
            plan = plan.variant(plan.family.name + "_st", f_input=relaxed._hard_numpy)
        return plan
