"""ARM and DisARM ("arm", "disarm"): antithetic pairs for Bernoulli."""

from .measure import MeasureValued


class ARM(MeasureValued):
    """ARM (Yin, Zhou 2019) for Bernoulli: unbiased, f evaluations only.

    With u uniform, d/dlogits E f = E[(f(1[u > 1 - p]) - f(1[u < p])) (u - 1/2)]:
    two antithetic evaluations of f per sample (kept in the measure-valued
    form: points 1[u > 1 - p] and 1[u < p], weight u - 1/2).
    """

    name = "arm"
    kernel = "measure"
    needs = frozenset({"f"})
    terms_description = "ARM's f(x+) - f(x-) times its weight"

    def warn(self, plan, stacklevel):
        """Nothing to warn of: two evaluations of f per sample, every component's."""

    def evaluations_per_sample(self, plan):
        return 1

    def supports(self, plan):
        return self.slot in plan.slots

    def counted(self, plan):
        return False

    def plan_for(self, dist):
        if not hasattr(dist, "antithetic_plan"):
            raise NotImplementedError(
                "estimator=%r: antithetic estimators are built for Bernoulli here; %s has none "
                "(the multi-sample variants for categorical variables, ARSM and U2G, are not "
                "implemented: use estimator='rebar', 'measure' or 'score' with method='rloo')"
                % (self.name, type(dist).__name__))
        return dist.antithetic_plan(self.name)


class DisARM(ARM):
    """DisARM (Dong, Mnih, Tucker 2020) for Bernoulli: ARM with the randomness the
    antithetic pair does not share integrated out.  With b = 1[u < p] and
    b~ = 1[1 - u < p], d/dlogits E f = E[(f(b) - f(b~)) (-1)^b~ 1[b != b~]
    sigma(|logits|) / 2]: unbiased, lower variance than ARM.
    """

    name = "disarm"
    terms_description = "DisARM's f(x+) - f(x-) times its weight"
