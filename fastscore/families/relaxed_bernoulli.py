"""The family RelaxedBernoulli(temperature, probs | logits):
its class, NumPy twins and closed forms."""

import math

import numpy as np

from .._distribution import (Distribution, _ProbsOrLogits, _Concrete, _open_uniform, _libm,
                             _libm_sigmoid, _sigmoid)

__all__ = ["RelaxedBernoulli"]


class RelaxedBernoulli(_Concrete, _ProbsOrLogits, Distribution):
    """RelaxedBernoulli(temperature, probs | logits): the binary Concrete distribution.

    y = sigmoid((logits + log u - log(1 - u)) / temperature), u uniform on
    (0, 1) (Maddison, Mnih, Teh 2017; Jang, Gu, Poole 2017): a continuous
    relaxation of Bernoulli(probs) on (0, 1), which approaches it as the
    temperature falls.  Density, with l = logits and t = temperature::

        p(y) = t e^l y^(-t-1) (1-y)^(-t-1) / (e^l y^(-t) + (1-y)^(-t))^2

    Score: d/dlogits = 1 - 2 sigmoid(l - t logit(y)); d/dprobs is that over
    probs (1 - probs).  The pathwise gradient through y is dy/dlogits = y (1 -
    y) / t.  ``temperature`` (> 0) has no gradient.  Drawing takes one uniform
    per sample from the stream (an exact 0 counts as 2^-54).

    Parameters
    ----------
    temperature : array_like
        t > 0, finite; no gradient is taken for it.
    probs : array_like, optional
        In (0, 1).
    logits : array_like, optional
        Finite.  Exactly one of ``probs`` and ``logits`` must be given.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> y = fs.sample(fs.RelaxedBernoulli(0.5, logits=0.0), 4, rng=0)
    >>> bool(((0 < y) & (y < 1)).all())
    True
    """

    relaxes = "Bernoulli"
    family = "relaxed_bernoulli"
    relaxed = True
    _support_text = "(0 < y < 1)"

    def __init__(self, temperature, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("RelaxedBernoulli", probs, logits), validate_args,
                         fixed={"temperature": temperature})

    def _setup(self):
        t = self._fixed["temperature"]
        if self.validate_args:
            self._require("temperature", t, t > 0, "> 0")
        p, q = self._probs_q(lo_open=True, hi_open=True)
        self.batch_shape = self._broadcast(["temperature", self._by])
        self.event_shape = ()
        self.temperature = np.broadcast_to(t, self.batch_shape)
        self.probs = np.broadcast_to(p, self.batch_shape)
        self._q = np.broadcast_to(q, self.batch_shape)
        a = self._differentiable[self._by]
        self.logits = np.broadcast_to(a if self._by == "logits" else np.log(p) - np.log1p(-p),
                                      self.batch_shape)

    def _constants(self):
        t = self.temperature.ravel()
        p, q = self.probs.ravel(), self._q.ravel()
        scale = np.ones_like(p) if self._by == "logits" else 1.0 / (p * q)
        return {"logits": self.logits.ravel(), "probs": p, "q": q, "temperature": t,
                "inv_temperature": 1.0 / t, "param_scale": scale}

    def _draw_numpy(self, gen, c, m):
        u = _open_uniform(gen.random(m))
        return _libm_sigmoid((c["logits"] + (_libm(math.log, u) - _libm(math.log1p, -u)))
                             * c["inv_temperature"])[:, None]

    def _in_support(self, x3):
        return (x3 > 0) & (x3 < 1)

    def _score_numpy(self, x3):
        plan = self.plan()
        y = x3[:, :, 0]
        with np.errstate(divide="ignore"):
            z = plan.const("logits") - plan.const("temperature") * (np.log(y) - np.log1p(-y))
        return (plan.const("param_scale") * (1.0 - 2.0 * _sigmoid(z)))[:, :, None]

    def _log_prob(self, x3):
        y = x3[:, :, 0]
        t, l = self.temperature.reshape(1, -1), self.logits.reshape(1, -1)
        with np.errstate(divide="ignore"):
            ly, l1y = np.log(y), np.log1p(-y)
            return (np.log(t) + l - (t + 1.0) * (ly + l1y)
                    - 2.0 * np.logaddexp(l - t * ly, -t * l1y))

    def _pathwise_numpy(self, x3, gp3):
        plan = self.plan()
        y = x3[:, :, 0]
        return (plan.const("param_scale") * (gp3[:, :, 0] * (y * (1.0 - y))
                                             * plan.const("inv_temperature")))[:, :, None]

    @staticmethod
    def _hard_numpy(x3):
        """The straight-through hard sample [y > 1/2] (relaxed_bernoulli_st_f_input)."""
        return np.where(x3 > 0.5, 1.0, 0.0)

    def _rebar_draw_numpy(self, gen, c, m):
        # relaxed_bernoulli_rebar_draw: u then v per sample
        r = _open_uniform(gen.random(2 * m).reshape(m, 2))
        u, v = r[:, 0], r[:, 1]
        l, p, q, inv_t = c["logits"], c["probs"], c["q"], c["inv_temperature"]
        log, log1p = (lambda a: _libm(math.log, a)), (lambda a: _libm(math.log1p, a))
        z = l + (log(u) - log1p(-u))
        b = np.where(z > 0.0, 1.0, 0.0)
        vp = np.where(b > 0.0, v * p + q, v * q)
        dvp = np.where(b > 0.0, v - 1.0, -v)
        zt = l + (log(vp) - log1p(-vp))
        y, yt = _libm_sigmoid(z * inv_t), _libm_sigmoid(zt * inv_t)
        aux = np.stack([b, 1.0 + (p * q) * dvp / (vp * (1.0 - vp)), np.zeros(m)], axis=-1)
        return (np.stack([b, yt])[:, :, None], np.stack([y, yt])[:, :, None], aux)

    def _rebar_terms_numpy(self, F, G, Y, aux):
        plan = self.plan()
        p, inv_t, scale = (plan.const(k) for k in ("probs", "inv_temperature", "param_scale"))
        s = aux[:, :, 0] - p
        y0, y1 = Y[0, :, :, 0], Y[1, :, :, 0]
        A = scale * (F[0] * s)
        C = scale * ((-F[1] * s + G[0, :, :, 0] * (y0 * (1.0 - y0)) * inv_t)
                     - G[1, :, :, 0] * (y1 * (1.0 - y1)) * inv_t * aux[:, :, 1])
        return A[:, :, None], C[:, :, None]
