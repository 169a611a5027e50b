"""The pathwise (reparameterisation) estimator ("pathwise")."""

from .base import EstimatorKind


class Pathwise(EstimatorKind):
    """The pathwise (reparameterisation) estimator: the mean of f'(x) . dx/dtheta_j.

    x = g(eps; theta) is differentiated in closed form (Normal, LogNormal,
    Exponential, MultivariateNormal) or implicitly, dx/dtheta = -(dF/dtheta)(x)
    / p(x) (Gamma, Beta, Chi2, VonMises; Dirichlet by stick-breaking into
    Betas), on the very samples the score function draws.  Unbiased when f is
    differentiable almost everywhere and continuous (a kink is fine; a jump
    is not: its pathwise gradient misses the jump).
    """

    name = "pathwise"
    slot = "pathwise"
    needs = frozenset({"f", "grad_f"})
    terms_description = "f'(x) dx/dtheta"
    covariance = covariance_wrapped = grouped_kernel = True
    instead = ("; a discrete family has no reparameterisation: use estimator='measure' or "
               "'score', or a relaxation")

    def check_family(self, plan):
        if self.supports(plan):
            return
        if plan.integer_valued:
            raise NotImplementedError("estimator='pathwise': %s is discrete, so its samples "
                                      "have no derivative in theta; use estimator='measure' "
                                      "or 'score' (or a continuous relaxation)" % plan.name)
        super().check_family(plan)

    def wave_terms(self, plan, pf, x, backend, aux=None):
        return pf.values(x, plan, backend), plan.pathwise(x, pf.grad.values(x, plan, backend))

    def terms(self, plan, pf, x3, backend, seen=None):
        """f'(x) . dx/dtheta_j (m, batch_size, P), f' from the prepared grad_f at what
        f sees (``seen``, default the samples)."""
        return plan.pathwise(x3, pf.grad.values(x3 if seen is None else seen, plan, backend))
