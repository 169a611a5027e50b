"""The measure-valued estimator ("measure")."""

import numpy as np

from .. import _moments
from .base import EstimatorKind


class MeasureValued(EstimatorKind):
    """The measure-valued estimator: c_j (mean f(x+_j) - mean f(x-_j)).

    dp/dtheta_j = c_j (p+_j - p-_j), a difference of two distributions (the
    weak derivative), with x+ and x- coupled through common random numbers;
    f is only evaluated, never differentiated, so every f works.  A counted
    family (Bernoulli, Categorical) has weak derivatives on its support, and
    its estimate comes exactly from the counts.
    """

    name = "measure"
    slot = "measure"
    needs = frozenset({"f", "coupled"})
    terms_description = "f(x+) - f(x-)"
    points = covariance = True
    #: More evaluations of f per sample than this warn (an Independent's coordinates).
    EVALUATIONS_WARN = 64

    def evaluations_per_sample(self, plan):
        """Evaluations of f per sample of ``plan``: 1 + (Q - 1) G on an Independent of
        G coordinates with Q points each, MultivariateNormal's points (its
        ``wave_factor``), else 1."""
        from .._wrapped import GroupedPlan, JointPlan, WrappedPlan

        while isinstance(plan, WrappedPlan) and not isinstance(plan, JointPlan):
            if isinstance(plan, GroupedPlan):
                return 1 + (plan.base.family.measure - 1) * plan.group
            plan = plan.base
        return self.wave_factor(plan) if self.waves_on(plan) else 1

    def warn(self, plan, stacklevel):
        """Warn of the components without a weak derivative (NaN), and of more than
        EVALUATIONS_WARN evaluations of f per sample."""
        import warnings

        from .._results import component_names

        if plan.measure_coef is not None and plan.batch_size:
            missing = np.isnan(plan.measure_coef).all(axis=0)
            if missing.any():
                names = [nm for nm, gone in zip(component_names(plan), missing) if gone]
                warnings.warn("estimator=%r: %s has no weak derivative for %s here; its "
                              "gradient is NaN (use estimator='score' or 'pathwise' for it)"
                              % (self.name, plan.name, ", ".join(repr(nm) for nm in names)),
                              RuntimeWarning, stacklevel=stacklevel + 1)
        evals = self.evaluations_per_sample(plan)
        if evals > self.EVALUATIONS_WARN:
            warnings.warn("estimator=%r on %s evaluates f %d times per sample (at the sample "
                          "and at each gradient component's coupled points); "
                          "estimator='score' or 'pathwise' evaluates it once"
                          % (self.name, plan.name, evals), RuntimeWarning,
                          stacklevel=stacklevel + 1)

    def point_terms(self, plan, pf, pts, backend):
        """(f at the samples (m, B), terms (m, B, P)) from the coupled points ``pts``
        (m, B, Q [+ P]: the points, then the weights where the family has them)."""
        m, B, Q = pts.shape[0], pts.shape[1], plan.family.measure
        fq = np.asarray(pf.values(pts[:, :, :Q].transpose(2, 0, 1).reshape(Q * m, B, 1), plan,
                                  backend), dtype=np.float64).reshape(Q, m, B)
        diff = fq[1::2] - fq[2::2]
        if plan.family.measure_weights:
            diff = pts[:, :, Q:].transpose(2, 0, 1) * diff
        return fq[0], diff.transpose(1, 2, 0)

    def reference_terms(self, plan, pf, n, key, chunk_start):
        from .. import reference

        return self.point_terms(plan, pf, reference.measure_sample(plan, n, key, chunk_start),
                                "reference")

    def supports(self, plan):
        return (self.slot in plan.slots or plan.measure_support is not None
                or self.waves_on(plan))

    def waves_on(self, plan):
        # MultivariateNormal: its weak derivatives in z, computed in NumPy
        return self.slot not in plan.slots and getattr(plan, "measure_wave", None) is not None

    def wave_factor(self, plan):
        D = plan.event_size
        return 1 + D + 2 * D * D   # MultivariateNormal's points

    def wave_terms(self, plan, pf, x, backend, aux=None):
        return plan.measure_wave(lambda pts: pf.values(pts, plan, backend), x, aux)

    def counted(self, plan):
        return plan.measure_support is not None

    def coef(self, plan):
        return plan.measure_coef

    def counted_sums(self, plan, fvals, counts):
        """Exact mean-block sums from support counts.

        Component j's term at support value v is f(plus_j) - f(minus_j), or
        f(plus_j) - f(v) where minus_j is -1 (the sample itself).
        """
        plus, minus = plan.measure_support                                # (B, P)
        B, V = counts.shape
        rows = np.arange(B)[:, None]
        fp = fvals[rows, plus]                                           # (B, P)
        fm = np.where(minus[:, :, None] < 0, fvals[:, None, :],
                      fvals[rows, np.maximum(minus, 0)][:, :, None])     # (B, P, V)
        terms = fp[:, :, None] - fm                                      # (B, P, V)
        c = np.asarray(counts, dtype=np.float64)
        seen = c > 0
        n = c.sum(axis=1)
        out = _moments.sums_from_counts(counts, fvals, np.zeros((B, V, 0)))[:, :_moments.HEAD_WIDTH]
        t = np.where(seen[:, None, :], terms, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            ts = (c[:, None, :] * t).sum(axis=2) / n[:, None]
            u = np.where(seen[:, None, :], t - ts[:, :, None], 0.0)
            blocks = np.stack([ts, (c[:, None, :] * u).sum(axis=2),
                               (c[:, None, :] * u * u).sum(axis=2)], axis=-1)  # (B, P, 3)
        return np.concatenate([out, blocks.reshape(B, -1)], axis=1)
