"""The family RelaxedCategorical(temperature, probs | logits):
its class, NumPy twins and closed forms."""

import math

import numpy as np
from scipy import special

from .._distribution import (Distribution, _ProbsOrLogits, _Concrete, MAX_EVENT_SIZE,
                             _open_uniform, _exp_libm, _libm, _softmax_scaled)

__all__ = ["RelaxedCategorical"]


class RelaxedCategorical(_Concrete, _ProbsOrLogits, Distribution):
    """RelaxedCategorical(temperature, probs | logits): the Concrete (Gumbel-softmax) distribution.

    y = softmax((log p + G) / temperature) on the simplex, G_k = -log(-log
    u_k) standard Gumbels (Maddison, Mnih, Teh 2017; Jang, Gu, Poole 2017): a
    continuous relaxation of Categorical(probs) whose one-hot samples it
    approaches as the temperature falls.  K categories on the last axis are
    the event (samples have shape (..., K)).  Density, with l the logits and
    t the temperature::

        p(y) = (K-1)! t^(K-1) prod_k (e^l_k y_k^(-t-1)) / (sum_k e^l_k y_k^(-t))^K

    Score: d/dlogits_k = 1 - K softmax_k(l - t log y); d/dprobs_k is that
    over probs_k.  The pathwise gradient through y: dy_i/dlogits_k = y_i ([i
    = k] - y_k) / t.  ``temperature`` (> 0) has no gradient.  Drawing takes K
    uniforms per sample from the stream (an exact 0 counts as 2^-54).

    Parameters
    ----------
    temperature : array_like
        t > 0, finite; no gradient is taken for it.
    probs : array_like, optional
        Category weights, K >= 2 on the last axis, >= 0 with a sum > 0
        (normalised).  A category of probability 0 is never drawn (its y_k is
        0); the Concrete density, and so ``fs.score`` and the score-function
        estimator, need every probability > 0 (they are NaN otherwise), while
        sampling, the pathwise and the REBAR estimators do not.
    logits : array_like, optional
        Log-probabilities up to a constant, finite, K >= 2 on the last axis.
        Exactly one of ``probs`` and ``logits`` must be given.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> y = fs.sample(fs.RelaxedCategorical(0.5, logits=[0.0, 1.0, 2.0]), 2, rng=0)
    >>> y.shape, bool(abs(y.sum(-1) - 1).max() < 1e-12)
    ((2, 3), True)
    """

    relaxes = "Categorical"
    family = "relaxed_categorical"
    relaxed = True
    event_ndim = 1
    _support_text = "(the open simplex)"

    def __init__(self, temperature, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("RelaxedCategorical", probs, logits), validate_args,
                         fixed={"temperature": temperature})

    def _setup(self):
        a = self._differentiable[self._by]
        if a.ndim < 1 or not 2 <= a.shape[-1] <= MAX_EVENT_SIZE:
            raise ValueError("RelaxedCategorical: parameter %r needs 2 <= K <= %d categories "
                             "on its last axis; got shape %s" % (self._by, MAX_EVENT_SIZE,
                                                                 a.shape))
        t = self._fixed["temperature"]
        if self.validate_args:
            self._require("temperature", t, t > 0, "> 0")
            if self._by == "probs":
                self._require("probs", a, a >= 0, ">= 0")
                tot = a.sum(axis=-1)
                self._require("probs", tot, tot > 0, "summing to > 0 over the last axis")
        K = a.shape[-1]
        self.batch_shape = self._broadcast(["temperature", self._by], {self._by: 1})
        self.event_shape = (K,)
        a = np.broadcast_to(a, tuple(self.batch_shape) + (K,))
        self.temperature = np.broadcast_to(t, self.batch_shape)
        with np.errstate(divide="ignore"):
            self.logits = a if self._by == "logits" else np.log(a)
        self._log_probs = self.logits - special.logsumexp(self.logits, axis=-1, keepdims=True)
        self.probs = np.exp(self._log_probs)

    def _param_slots(self):
        return [(self._by, self.event_shape, None)]

    def _constants(self):
        K = self.event_shape[0]
        t = self.temperature.ravel()
        raw = self._differentiable[self._by]
        with np.errstate(divide="ignore"):
            scale = (np.ones((self.batch_size, K)) if self._by == "logits" else
                     1.0 / np.broadcast_to(raw, tuple(self.batch_shape) + (K,)).reshape(-1, K))
        return {"temperature": t, "inv_temperature": 1.0 / t,
                "logits": self.logits.reshape(-1, K), "log_probs": self._log_probs.reshape(-1, K),
                "probs": self.probs.reshape(-1, K), "param_scale": scale}

    def _draw_numpy(self, gen, c, m):
        K = self.event_shape[0]
        u = _open_uniform(gen.random((m, K)))
        log = lambda a: _libm(math.log, a)  # noqa: E731
        return _softmax_scaled(c["log_probs"] - log(-log(u)), c["inv_temperature"],
                               lambda a: _libm(_exp_libm, a))

    def _in_support(self, x3):
        # the open simplex, as its text says: the score has log y_k, -inf at y_k = 0
        # (a zero coordinate gave NaN scores); an underflowed sample of extreme logits
        # lies there, and fs.score refuses it as Dirichlet's does
        return (x3 > 0) & (x3 <= 1) & (np.abs(x3.sum(axis=-1, keepdims=True) - 1) < 1e-6)

    def _score_numpy(self, x3):
        plan = self.plan()
        K = self.event_shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = plan.const("log_probs") - plan.const("temperature")[:, None] * np.log(x3)
            return plan.const("param_scale") * (1.0 - K * _softmax_scaled(w, 1.0))

    def _log_prob(self, x3):
        K = self.event_shape[0]
        t = self.temperature.reshape(1, -1)
        l = self.logits.reshape(1, -1, K)
        with np.errstate(divide="ignore"):
            ly = np.log(x3)
        return (special.gammaln(K) + (K - 1) * np.log(t) + (l - (t[..., None] + 1.0) * ly).sum(-1)
                - K * special.logsumexp(l - t[..., None] * ly, axis=-1))

    @staticmethod
    def _hard_numpy(x3):
        """The straight-through one-hot argmax (relaxed_categorical_st_f_input_event)."""
        return (np.arange(x3.shape[-1]) == np.argmax(x3, axis=-1)[..., None]).astype(np.float64)

    def _pathwise_numpy(self, x3, gp3):
        plan = self.plan()
        dot = (gp3 * x3).sum(axis=-1, keepdims=True)
        return plan.const("param_scale") * (x3 * (gp3 - dot) * plan.const("inv_temperature")[:, None])

    def _rebar_draw_numpy(self, gen, c, m):
        # relaxed_categorical_rebar_draw: K uniforms for z, then K for v, per sample
        K = self.event_shape[0]
        r = _open_uniform(gen.random((m, 2 * K)))
        lp, p, inv_t = c["log_probs"], c["probs"], c["inv_temperature"]
        log = lambda a: _libm(math.log, a)  # noqa: E731
        exp = lambda a: _libm(_exp_libm, a)  # noqa: E731
        z = lp - log(-log(r[:, :K]))
        b = np.argmax(z, axis=-1)
        e = -log(r[:, K:])
        eb = e[np.arange(m), b]
        onehot = (np.arange(K)[None, :] == b[:, None])
        with np.errstate(divide="ignore"):
            ratio = np.where(p > 0, e / np.where(p > 0, p, 1.0), np.inf) + eb[:, None]
        zt = np.where(onehot, -log(eb)[:, None], -np.where(np.isinf(ratio), np.inf,
                                                            log(np.where(np.isinf(ratio), 1.0,
                                                                         ratio))))
        y, yt = _softmax_scaled(z, inv_t, exp), _softmax_scaled(zt, inv_t, exp)
        aux = np.concatenate([b[:, None].astype(np.float64), eb[:, None], e], axis=-1)
        return np.stack([onehot.astype(np.float64), yt]), np.stack([y, yt]), aux

    def _rebar_terms_numpy(self, F, G, Y, aux):
        plan = self.plan()
        K = self.event_shape[0]
        p, scale = plan.const("probs"), plan.const("param_scale")
        inv_t = plan.const("inv_temperature")[:, None]
        b = aux[:, :, 0].astype(np.int64)
        eb, e = aux[:, :, 1:2], aux[:, :, 2:]
        y0, y1 = Y[0], Y[1]
        dot0 = (G[0] * y0).sum(-1, keepdims=True)
        dot1 = (G[1] * y1).sum(-1, keepdims=True)
        is_b = np.arange(K) == b[:, :, None]
        r = np.where(is_b, 0.0, y1 * (G[1] - dot1) * inv_t * e / (e + p * eb))
        s = is_b.astype(np.float64) - p
        A = scale * (F[0][:, :, None] * s)
        C = scale * ((-F[1][:, :, None] * s + y0 * (G[0] - dot0) * inv_t)
                     - (r - p * r.sum(-1, keepdims=True)))
        return A, C
