"""REBAR ("rebar"): the score function with the relaxation as its control variate."""

import numpy as np

from .. import _finish, _moments, _specs
from .._layout import as_array
from .._options import ETA, TEMPERATURE
from .base import EstimatorKind, _down, _exp_of, _half_exp_of, _stderr, value_head
from .concrete import _relaxation


class Rebar(EstimatorKind):
    """REBAR (Tucker, Mnih, Maddison, Lawson, Sohl-Dickstein 2017): unbiased.

    Per sample, with b the hard sample, z its relaxed logits and z~ drawn
    exactly from p(z | b), and y = sigma_t(z), y~ = sigma_t(z~)::

        g = [f(b) - eta f(y~)] dlog p(b) + eta df(y) - eta df(y~)

    (d: through z, and through z~ with b fixed).  The last terms have
    expectation zero, so g is unbiased for every eta: the finish uses the
    variance-minimising eta = -cov(A, C) / var(C) of the same samples, one
    per parameter component pooled over the batch (``eta="auto"``; a bias of
    O(1 / (batch n))), or the ``eta`` given.  The temperature t is the user's,
    or with ``temperature="auto"`` (the default) the one of TEMPERATURES
    whose estimates have the least total variance over the batch: every
    candidate runs on the same streams (the same u and v, so the same b), at
    one run's cost each, and the choice, like eta's, is made from the same
    samples.  ``Estimate.info`` gives both.  f must be defined on [0, 1] /
    the simplex, like the concrete estimator's.
    """

    name = "rebar"
    slot = "rebar"
    needs = frozenset({"f", "grad_f", "relaxed"})
    block = _specs.CV_BLOCK
    options = {"temperature": TEMPERATURE.default_to("auto"), "eta": ETA}
    terms_description = "REBAR's score and control-variate terms"

    def reference_terms(self, plan, pf, n, key, chunk_start):
        from .. import reference

        return self.terms(plan, pf, reference.rebar_sample(plan, n, key, chunk_start),
                          "reference")

    def result_info(self, plan, empty=False):
        """The settings, with the eta and temperature used (dicts by parameter)."""
        info = dict(self.settings)
        if empty:
            info["eta"] = plan.params.split(np.zeros((0, plan.score_size)))
            info["temperature"] = plan.params.split(np.zeros((0, plan.score_size)))
        else:
            info["eta"] = plan.params.split(self.eta_used)
            info["temperature"] = plan.params.split(self.temperature_used)
        return info
    #: The candidate temperatures of temperature="auto" (a factor of 5 apart).
    TEMPERATURES = (0.1, 0.5, 2.5, 12.5, 62.5)
    #: Fewest samples over the batch (batch size x n) for which "auto" chooses
    #: eta and the temperature from the samples.  Below it the choice fits the
    #: noise of a few samples (batch 1: var/mean stderr^2 = 18000 at n = 4, 125
    #: at n = 16, and a bias of 12 standard errors at n = 4; 0.92-0.98 from
    #: 256-1024 samples), so "auto" means eta = 1 and temperature = 0.5 there,
    #: fixed in advance: unbiased, with an honest standard error.
    AUTO_MIN = 1024
    #: What "auto" means below AUTO_MIN.
    SMALL_ETA, SMALL_TEMPERATURE = 1.0, 0.5

    def sized(self, dist, plan, total):
        """(kind, plan) for ``total`` samples over the batch: "auto" fixed in advance below
        AUTO_MIN (see there)."""
        if total >= self.AUTO_MIN:
            return self, plan
        s = dict(self.settings)
        if isinstance(s["eta"], str):
            s["eta"] = self.SMALL_ETA
        if isinstance(s["temperature"], str):
            s["temperature"] = self.SMALL_TEMPERATURE
        out = self.configured(**s)
        return out, out.plan_for(dist)

    def _temperatures(self):
        t = self.settings["temperature"]
        return self.TEMPERATURES if isinstance(t, str) else (t,)

    def plan_for(self, dist):
        self.dist = dist
        return _relaxation(dist, self.name, self._temperatures()[0]).plan()

    def plans(self, plan):
        return [plan] + [_relaxation(self.dist, self.name, t).plan()
                         for t in self._temperatures()[1:]]

    def finish_states(self, impl, plans, pf, states, method, baseline, n_threads):
        """Each temperature's estimate; with several, per batch element and component
        the one with the smallest standard error (its eta, and temperature, kept)."""
        runs = [impl.finish_state(self, p, pf, st, method, baseline, n_threads) + (self.eta_used,)
                for p, st in zip(plans, states)]
        temps = np.array(self._temperatures(), dtype=np.float64)
        if len(runs) == 1:
            self.temperature_used = np.broadcast_to(temps[0], runs[0][0][2].shape)
            return runs[0][:2]
        # One temperature for the call: the least total variance over every batch
        # element and component.  (A choice per element from its own few samples
        # would favour underestimated variances: with 64 samples per row the
        # errors came out 5 standard errors wide.)
        total = [np.nansum(r[0][3] ** 2) if np.isfinite(r[0][3]).any() else np.inf
                 for r in runs]
        best = int(np.argmin(total))
        self.eta_used = runs[best][2]
        self.temperature_used = np.full(runs[best][0][2].shape, temps[best])
        return runs[best][0], runs[best][1]

    def _eta(self, plan, sums):
        """(batch, P): the eta given, or with eta="auto" one per component pooled over
        the batch: -sum_b cov_b(A, C) / sum_b var_b(C), from the sums.

        (A coefficient per batch element from its own few samples couples its
        noise to mean(C): with 64 samples per row the errors came out 7
        standard errors wide.  A pooled one is nearly fixed: its bias is
        O(1 / (batch n)).)
        """
        eta = self.settings["eta"]
        if isinstance(eta, str):
            S = np.asarray(sums, dtype=np.float64)
            n = S[:, _moments.N][:, None]
            blk = lambda nm: _moments.blocks(S, nm, _specs.CV_BLOCK)  # noqa: E731
            with np.errstate(divide="ignore", invalid="ignore"):
                cov = (blk("sum_ac") - blk("sum_a") * blk("sum_c") / n).sum(axis=0)
                var = (blk("sum_cc") - blk("sum_c") * blk("sum_c") / n).sum(axis=0)
                e = np.where(var > 0.0, -cov / var, 0.0)
            return np.ascontiguousarray(np.broadcast_to(e, (plan.batch_size, e.size)))
        e = as_array(eta, "eta").astype(np.float64)
        shape = tuple(plan.batch_shape) + tuple(plan.params.params[0][1])
        return np.ascontiguousarray(np.broadcast_to(e, shape).reshape(plan.batch_size, -1))

    def terms(self, plan, pf, draws, backend):
        """(A, C) side by side (m, batch_size, 2P) from REBAR's draws (f-points,
        f'-points, aux), with f and f' from the prepared f."""
        fpts, gpts, aux = draws
        m, B, E = fpts.shape[1:]
        F = pf.values(fpts.reshape(2 * m, B, E), plan, backend).reshape(2, m, B)
        G = pf.grad.values(gpts.reshape(2 * m, B, E), plan, backend).reshape(2, m, B, E)
        A, C = plan.rebar[1](F, G, gpts, aux)
        return F[0], np.concatenate([A, C], axis=-1)

    def finish(self, plan, sums, method, baseline=None):
        """NumPy twin of _finish.finish_cv; the eta used is kept as ``self.eta_used``."""
        S = np.asarray(sums, dtype=np.float64)
        eta = self._eta(plan, S)
        blk = lambda nm: _moments.blocks(S, nm, _specs.CV_BLOCK)  # noqa: E731
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            n, inv_n, inv_n1, md, finite, value, value_se = value_head(S)
            names = ("a_shift", "sum_a", "sum_aa", "sum_c", "sum_cc", "sum_ac")
            parts = [blk(nm) for nm in names]
            g, se, e, over = _cv_comp(*parts, eta, inv_n[:, None], inv_n1[:, None])
            se = np.where(finite[:, None], se, np.nan)
            over &= finite[:, None]
            if over.any():
                # finite sums, an overflowing finish: again on A and C scaled by 2^-k
                r, j = np.nonzero(over)
                a_shift, _, saa, _, scc, _ = (p[r, j] for p in parts)
                k = _down(np.maximum(np.maximum(_exp_of(a_shift), _half_exp_of(saa)),
                                     _half_exp_of(scc)))
                scaled = [np.ldexp(p[r, j], -k * (2 if nm in ("sum_aa", "sum_cc", "sum_ac")
                                                  else 1)) for p, nm in zip(parts, names)]
                g2, se2, e2, _ = _cv_comp(*scaled, eta[r, j], inv_n[r], inv_n1[r])
                g[r, j] = np.ldexp(g2, k)
                se[r, j] = np.ldexp(se2, k)
                e[r, j] = e2
        self.eta_used = e
        return value, value_se, g, se

    def finish_compiled(self, plan, sums, method, baseline=None, n_threads=1):
        value, value_se, g, se, self.eta_used = _finish.finish_cv(sums, self._eta(plan, sums),
                                                                  n_threads)
        return value, value_se, g, se


def _cv_comp(a_shift, Sa, Saa, Sc, Scc, Sac, eta, inv_n, inv_n1):
    """(gradient, stderr, eta used, overflowed) of control-variate components
    (_cv_comp in _finish.pyx)."""
    ma = Sa * inv_n
    mc = Sc * inv_n
    vc = Scc * inv_n - mc * mc
    cac = Sac * inv_n - ma * mc
    auto = np.where(vc > 0.0, -cac / vc, 0.0)
    e = np.where(np.isnan(eta), auto, eta)
    gm = ma + e * mc
    ez2 = (Saa + 2.0 * e * Sac + e * e * Scc) * inv_n
    g = a_shift + gm
    return g, _stderr(ez2, gm, inv_n1), e, ~(np.isfinite(g) & np.isfinite(ez2)
                                             & np.isfinite(gm * gm))
