"""The family Dirichlet(concentration): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import special, stats

from .. import _entropy, _fisher, _implicit_ref, _kl, _logspace
from .._distribution import Distribution, _relative_resolution, MAX_EVENT_SIZE
from .._hessian import _Constant

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """Dirichlet(concentration): a point of the simplex, K >= 2 on the last axis.

    Sampled, in the kernel and the reference alike, as K standard gammas
    g_k = Gamma(concentration_k) drawn in order by numpy's
    ``random_standard_gamma`` and normalised, x_k = g_k / (g_0 + ... + g_{K-1})
    (numpy's ``Generator.dirichlet`` switches to another method for small
    concentrations, so it is not used).  Where a g_k underflows (below the
    smallest normal double: concentrations far below 1), the quotient loses
    it, and with it as much as all of x; such an event is normalised in log
    space instead, x_k = exp(log g_k - logsumexp(log g)), with log g_k from
    the same draws.
    Score:
    d/dconcentration_k = log x_k - digamma(concentration_k) + digamma(sum).

    Parameters
    ----------
    concentration : array_like
        Concentrations, > 0, with 2 <= K <= 2048 (``MAX_EVENT_SIZE``) categories on
        the last axis; the axes before it are the batch shape.
    {validate_args, raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.Dirichlet([1.0, 2.0, 3.0]).event_shape
    (3,)
    """

    family = "dirichlet"
    event_ndim = 1
    _support_text = "(the open simplex)"

    def __init__(self, concentration, validate_args=True):
        super().__init__({"concentration": concentration}, validate_args)

    def _setup(self):
        a = self._differentiable["concentration"]
        if a.ndim < 1 or not 2 <= a.shape[-1] <= MAX_EVENT_SIZE:
            raise ValueError("Dirichlet: parameter 'concentration' needs K >= 2 categories on "
                             "its last axis (at most %d); got shape %s" % (MAX_EVENT_SIZE, a.shape))
        if self.validate_args:
            self._require("concentration", a, a > 0, "> 0")
        self.concentration = a
        self.batch_shape = a.shape[:-1]
        self.event_shape = (a.shape[-1],)

    def _param_slots(self):
        return [("concentration", self.event_shape, None)]

    def _check_resolution(self, estimator):
        a = self._differentiable["concentration"]
        A = a.sum(axis=-1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # sd / mean of x_k: sqrt((A - a_k) / (a_k (A + 1)))
            rel = np.sqrt((A - a) / a / (A + 1.0))
        _relative_resolution(self, "concentration", a, rel,
                             "the standard deviation of x_k over its mean")

    def _constants(self):
        K = self.event_shape[0]
        a = self.concentration.reshape(-1, K)
        # tail_k = sum_{j > k} a_j, the second Beta parameter of the k-th stick
        tail = np.concatenate([np.cumsum(a[:, ::-1], axis=-1)[:, ::-1][:, 1:],
                               np.zeros((a.shape[0], 1))], axis=-1)
        return {"concentration": a,
                "digamma_sum_minus_digamma": (special.digamma(a.sum(axis=-1, keepdims=True))
                                              - special.digamma(a)),
                "tail_concentration": tail}

    def _draw_numpy(self, gen, c, m):
        return _logspace.dirichlet_draw(gen, c["concentration"], m)[0]

    log_space_family = "dirichlet_log"

    def _small_concentration(self):
        return bool((self.concentration < 1.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.dirichlet_draw(gen, c["concentration"], m)[1]

    _log_f_input = staticmethod(_logspace.positive_f_input)

    def _log_score_numpy(self, v3):
        return _logspace.log_of(v3) + self.plan().const("digamma_sum_minus_digamma")[None]

    def _in_support(self, x3):
        # the open simplex: every x_k > 0 (log x_k is -inf at 0); an x_k of
        # exactly 1 is a rounded point whose other coordinates are tiny but > 0
        return (x3 > 0) & (x3 <= 1) & (np.abs(x3.sum(axis=-1, keepdims=True) - 1) < 1e-6)

    def _score_numpy(self, x3):
        with np.errstate(divide="ignore"):
            return np.log(x3) + self.plan().const("digamma_sum_minus_digamma")[None]

    def _log_prob(self, x3):
        K = self.event_shape[0]
        a = self.concentration.reshape(-1, K)
        out = np.empty(x3.shape[:2])
        for b in range(a.shape[0]):
            out[:, b] = stats.dirichlet.logpdf(x3[:, b, :].T, a[b])
        return out

    def entropy(self, grad=False):
        """Differential entropy of Dirichlet(concentration), shape batch_shape.

        H = log B(a) + (a_0 - K) digamma(a_0) - sum_j (a_j - 1) digamma(a_j),
        computed as sum_j G(a_j) - G(a_0) - (K - 1) digamma(a_0) with G(a) the
        entropy of Gamma(a, 1) (fastscore._entropy.gamma_core).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dconcentration_i = (1 - a_i) trigamma(a_i)
            + (a_0 - K) trigamma(a_0), with a_0 the sum of the K concentrations.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Dirichlet([1.0, 2.0, 3.0]).entropy(grad=True)
        >>> round(float(h), 6), g["concentration"].round(6)
        (-1.244345, array([ 0.543969, -0.100965, -0.245899]))
        """
        a = self.concentration
        K = a.shape[-1]
        a0 = a.sum(axis=-1)
        g, dg = _entropy.gamma_core(a, grad=True)
        g0, dg0 = _entropy.gamma_core(a0, grad=True)
        h = g.sum(axis=-1) - g0 - (K - 1) * special.digamma(a0)
        common = -dg0 - (K - 1) * special.polygamma(1, a0)
        da = dg + common[..., None]
        if grad and np.isnan(da).any():
            # tiny concentrations: (1 - a) trigamma(a) and (a_0 - K) trigamma(a_0) both
            # overflow (trigamma(a) ~ 1/a^2), and inf - inf is NaN; with trigamma(x) =
            # trigamma(x + 1) + 1/x^2 the poles combine into one finite bracket over a^2
            b0 = np.broadcast_to(a0[..., None], a.shape)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                pole = ((1.0 - a) + (b0 - K) * (a / b0) ** 2) / a / a
                rest = (1.0 - a) * special.polygamma(1, a + 1.0) \
                    + (b0 - K) * special.polygamma(1, b0 + 1.0)
            da = np.where(np.isnan(da), pole + rest, da)
        return self._entropy_out(h, {"concentration": da}, grad)

    def fisher(self):
        """Fisher information diag(trigamma(a)) - trigamma(a_0), a_0 the sum of the K
        concentrations; shape batch_shape + (K, K) (see :meth:`Distribution.fisher`)."""
        a = self.concentration
        t0 = special.polygamma(1, a.sum(axis=-1))
        return self._fisher_out(_fisher.diag(special.polygamma(1, a)) - t0[..., None, None])

    def _pathwise_numpy(self, x3, gp3):
        # stick-breaking, as dirichlet_pathwise_event (dirichlet.pxi)
        plan = self.plan()
        K = self.event_shape[0]
        alpha, tail = plan.const("concentration"), plan.const("tail_concentration")
        R = np.empty_like(x3)
        T = np.empty_like(x3)
        R[..., K - 1] = x3[..., K - 1]
        T[..., K - 1] = 0.0
        for k in range(K - 2, -1, -1):
            R[..., k] = R[..., k + 1] + x3[..., k]
            T[..., k] = T[..., k + 1] + gp3[..., k + 1] * x3[..., k + 1]
        g = np.empty_like(x3)
        acc = np.zeros(x3.shape[:2])
        for k in range(K - 1):
            da, db = _implicit_ref.beta_dx_dab(alpha[:, k], tail[:, k], x3[..., k] / R[..., k])
            G = gp3[..., k] * R[..., k] - T[..., k] * R[..., k] / R[..., k + 1]
            g[..., k] = G * da + acc
            acc = acc + G * db
        g[..., K - 1] = acc
        return g

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        K = p.event_shape[0]
        v, ga, gb = _kl.dirichlet_terms(_kl.bcast(p.concentration, batch, (K,)),
                                     _kl.bcast(q.concentration, batch, (K,)))
        return v, {"concentration": ga}, {"concentration": gb}

    #: order=2: grad s = -fisher() (its natural parameters are linear in the
    #: parameters passed; fastscore._hessian)
    _SecondOrder = _Constant
