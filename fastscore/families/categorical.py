"""The family Categorical(probs | logits): its class, NumPy twins and closed forms."""

import numpy as np
from scipy import special

from .. import _entropy, _fisher, _kl
from .._distribution import Distribution, _ProbsOrLogits
from .._hessian import _Family, _Constant
from .relaxed_categorical import RelaxedCategorical

__all__ = ["Categorical"]


class Categorical(_ProbsOrLogits, Distribution):
    """Categorical(probs | logits) over {0, ..., K-1}, categories on the last axis.

    As in torch.distributions, ``probs`` are normalised to sum to one over the
    last axis and ``logits`` are log-probabilities up to a constant.  Sampled
    by inverse CDF: the first k with u < cumsum(p)[k], u a standard uniform
    double from the stream.  Scores: d/dlogits_k = [x = k] - p_k;
    d/dprobs_k = [x = k] / probs_k - 1 / sum(probs).  Samples are int64.

    Parameters
    ----------
    probs : array_like, optional
        Category weights, K >= 1 categories on the last axis (the batch shape is
        the axes before it): >= 0, with a sum > 0 over the last axis; normalised
        to sum to one.
    logits : array_like, optional
        Log-probabilities up to an additive constant, finite, K >= 1 categories on
        the last axis.  Exactly one of ``probs`` and ``logits`` must be given.
    {validate_args, raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Categorical(logits=[0.0, 0.0]), [1])["logits"]
    array([[-0.5,  0.5]])
    """

    family = "categorical"
    integer_valued = True
    event_ndim = 0

    def __init__(self, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Categorical", probs, logits), validate_args)

    def _setup(self):
        a = self._differentiable[self._by]
        if a.ndim < 1 or a.shape[-1] < 1:
            raise ValueError("Categorical: parameter %r needs at least one category on its "
                             "last axis; got shape %s" % (self._by, a.shape))
        if self._by == "probs":
            if self.validate_args:
                self._require("probs", a, a >= 0, ">= 0")
                tot = a.sum(axis=-1)
                self._require("probs", tot, tot > 0, "summing to > 0 over the last axis")
            self.probs = a / a.sum(axis=-1, keepdims=True)
        else:
            self.probs = special.softmax(a, axis=-1)
        self.batch_shape = a.shape[:-1]
        self.event_shape = ()
        self.num_categories = a.shape[-1]

    @property
    def _support_text(self):
        return "{0, ..., %d}" % (self.num_categories - 1)

    def _param_slots(self):
        return [(self._by, (self.num_categories,), None)]

    def _onehot(self):
        # The score is s_k(v) = [v = k] a_k - b_k; a is None when every a_k is 1 (logits).
        K = self.num_categories
        p = np.ascontiguousarray(self.probs.reshape(-1, K))
        if self._by == "logits":
            if (p > 1.0 - 2.0 ** -20).any():
                # the one-hot finish scores [v = k] - p_k, which loses 1 - p_k's digits
                # when p_k is this near 1: the general path uses _score_numpy instead
                return None
            return None, p
        raw = np.broadcast_to(self._differentiable["probs"],
                              tuple(self.batch_shape) + (K,)).reshape(-1, K)
        with np.errstate(divide="ignore"):
            a = 1.0 / raw
        b = np.repeat(1.0 / raw.sum(axis=-1, keepdims=True), K, axis=1)
        return np.ascontiguousarray(a), b

    def _constants(self):
        p = self.probs.reshape(-1, self.num_categories)
        cdf = np.cumsum(p, axis=-1)
        # From the last category with positive probability on, the cdf is an
        # exact 1 so that u < 1 always lands on a possible category.
        last = self.num_categories - 1 - np.argmax((p > 0)[:, ::-1], axis=-1)
        cols = np.arange(self.num_categories)[None, :]
        return {"cdf": np.where(cols >= last[:, None], 1.0, cdf)}

    def _draw_numpy(self, gen, c, m):
        return np.searchsorted(c["cdf"], gen.random(m), side="right").astype(np.float64)[:, None]

    def _support_values(self):
        return np.arange(self.num_categories, dtype=np.float64)

    def _in_support(self, x3):
        return (x3 >= 0) & (x3 < self.num_categories) & (np.floor(x3) == x3)

    def _support_probs(self):
        return np.ascontiguousarray(self.probs.reshape(-1, self.num_categories))

    def _score_numpy(self, x3):
        K = self.num_categories
        x = x3[:, :, 0].astype(np.int64)
        onehot = (x[:, :, None] == np.arange(K)).astype(np.float64)
        p = self.probs.reshape(1, -1, K)
        if self._by == "logits":
            # [x = k] - p_k; at x = k where p_k > 1/2 that is the sum of the other
            # categories' probabilities, summed as such (1 - p_k loses them)
            return np.where((onehot > 0) & (p > 0.5), self._rest().reshape(1, -1, K),
                            onehot - p)
        raw = self._differentiable["probs"]
        raw = np.broadcast_to(raw, tuple(self.batch_shape) + (K,)).reshape(1, -1, K)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(onehot > 0, 1.0 / raw, 0.0) - 1.0 / raw.sum(axis=-1, keepdims=True)

    def _rest(self):
        """1 - p_k as the sum of the other p_j (batch_size, K): accurate where p_k is near 1."""
        K = self.num_categories
        p = self.probs.reshape(-1, K)
        zero = np.zeros((p.shape[0], 1))
        before = np.concatenate([zero, np.cumsum(p, axis=-1)[:, :-1]], axis=-1)   # j < k
        after = np.concatenate([np.cumsum(p[:, ::-1], axis=-1)[:, ::-1][:, 1:], zero],
                               axis=-1)                                          # j > k
        return np.where(p > 0.5, before + after, 1.0 - p)

    def _log_prob(self, x3):
        K = self.num_categories
        x = x3[:, :, 0].astype(np.int64)
        p = self.probs.reshape(-1, K)
        with np.errstate(divide="ignore"):
            return np.log(np.take_along_axis(p[None], x[:, :, None], axis=-1)[..., 0])

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over the categories, shape batch_shape.

        A category of probability 0 contributes 0.  -log p_k is computed as
        log(max weight / weight_k) + log1p(sum of the other weights / max
        weight), which keeps the entropy of a dominant category (logits
        [40, -40, 0], say) to full relative precision.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dlogits_k = -p_k (log p_k + H); d/dprobs_k
            = -(log p_k + H) / sum(probs) for the unnormalised probs passed (+inf
            where a probs_k is 0).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Categorical(probs=[1.0, 1.0, 0.0]).entropy(grad=True)
        >>> round(float(h), 6), g["probs"]
        (0.693147, array([ 0.,  0., inf]))
        """
        K = self.num_categories
        a = self._differentiable[self._by]
        with np.errstate(divide="ignore"):
            p, nlp = _entropy.categorical_terms(a if self._by == "logits" else np.log(a))
        with np.errstate(invalid="ignore"):
            h = np.where(p > 0, p * nlp, 0.0).sum(axis=-1)
            if self._by == "logits":
                g = np.where(p > 0, p * (nlp - h[..., None]), 0.0)
            else:
                g = (nlp - h[..., None]) / a.sum(axis=-1, keepdims=True)
        return self._entropy_out(h, {self._by: g.reshape(tuple(self.batch_shape) + (K,))}, grad)

    def fisher(self):
        """Fisher information over the K components, shape batch_shape + (K, K).

        In logits: diag(p) - p p^T (singular: adding a constant to every logit
        changes nothing, so the vector of ones is in its null space).  In probs
        w, normalised by their sum S as torch does: diag(1 / (S w_k)) - 1 / S^2
        (singular too: scaling every w changes nothing, so w is in its null
        space).  A category with w_k = 0 is never drawn and its score is the
        constant -1 / S: its row is 1 / S^2 against itself and the other
        zero-weight categories and 0 against the others (E[s s^T] exactly).
        Natural gradients need a pseudo-inverse.  See :meth:`Distribution.fisher`.

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Categorical(logits=[0.0, 0.0]).fisher()
        array([[ 0.25, -0.25],
               [-0.25,  0.25]])
        """
        p = self.probs
        if self._by == "logits":
            # diagonal p_k (1 - p_k), 1 - p_k summed from the others' p for the largest
            # p_k (p_k - p_k^2 would cancel there when it is close to 1); every row then
            # sums to 0 up to rounding of its own size, so the null vector stays clean
            F = -p[..., :, None] * p[..., None, :]
            idx = np.arange(p.shape[-1])
            F[..., idx, idx] = p * _fisher.one_minus(p)
            return self._fisher_out(F)
        w = self._differentiable["probs"]
        S = w.sum(axis=-1, keepdims=True)
        pos = (w > 0).astype(np.float64)
        zero = 1.0 - pos
        M = zero[..., :, None] * zero[..., None, :] - pos[..., :, None] * pos[..., None, :]
        # divided by S one factor at a time: S^2 underflows for probs of 1e-300, where the
        # entries are +-inf (exact values beyond float64) or 0, never inf - inf or 0 / 0;
        # a positive weight's diagonal 1 / (S w_k) - 1 / S^2 = (S - w_k) / (S^2 w_k), with
        # S - w_k summed from the other weights where w_k is the largest (it would cancel)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            F = M / S[..., None] / S[..., None]
            d = np.where(w > 0, (S * _fisher.one_minus(w / S)) / np.where(w > 0, w, 1.0) / S / S,
                         1.0 / S / S)
        idx = np.arange(w.shape[-1])
        F[..., idx, idx] = d
        return self._fisher_out(F)

    def relaxation(self, temperature):
        """The Concrete (Gumbel-softmax) relaxation with this temperature and parameter."""
        return RelaxedCategorical(temperature, **{self._by: self._differentiable[self._by]},
                                  validate_args=self.validate_args)

    def _measure_support(self):
        # d/dtheta_k E f = c_k (f(k) - E f): category k against the sample itself
        B, K = self.batch_size, self.num_categories
        return (np.broadcast_to(np.arange(K), (B, K)).copy(),
                np.full((B, K), -1, dtype=np.int64))

    def _measure_coef(self):
        K = self.num_categories
        if self._by == "logits":
            return np.ascontiguousarray(self.probs.reshape(-1, K))
        raw = np.broadcast_to(self._differentiable["probs"],
                              tuple(self.batch_shape) + (K,)).reshape(-1, K)
        return np.repeat(1.0 / raw.sum(axis=-1, keepdims=True), K, axis=1)

    def _kl_same(self, q, batch):
        """KL(self || q) for q of this family, on the broadcast batch: (value, its
        gradients in self's parameters, in q's) (fastscore.kl)."""
        p = self
        K = p.num_categories

        def terms(d):
            a = _kl.bcast(d._differentiable[d._by], batch, (K,))
            with np.errstate(divide="ignore"):
                pr, nlp = _entropy.categorical_terms(a if d._by == "logits" else np.log(a))
            return a, pr, nlp
        a1, pr1, nl1 = terms(p)
        a2, pr2, nl2 = terms(q)
        with np.errstate(invalid="ignore"):
            diff = nl2 - nl1                                     # log p_k - log p'_k
            v = _kl.xlogy_where(pr1, diff).sum(axis=-1)
            if p._by == "logits":
                g1 = _kl.xlogy_where(pr1, diff - v[..., None])
            else:
                # a category of neither p nor p': log(p_k / p'_k) is 0/0, but any mass
                # there makes the KL infinite, so the derivative in it is +inf, not NaN
                diff = np.where((pr1 == 0) & (pr2 == 0), np.inf, diff)
                g1 = (diff - v[..., None]) / a1.sum(axis=-1, keepdims=True)
                # KL = +inf (mass of p where p' has none): the formula's derivative is
                # +inf in those categories (inf - inf), -inf in the others, as Bernoulli's
                g1 = np.where(np.isnan(g1) & np.isinf(v)[..., None], np.inf, g1)
        if q._by == "logits":
            g2 = pr2 - pr1
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                g2 = 1.0 / a2.sum(axis=-1, keepdims=True) - np.where(pr1 > 0, pr1 / a2, 0.0)
        return v, {p._by: g1}, {q._by: g2}

    # -- order=2: the second-order pieces (fastscore._hessian) --------
    class _SecondOrder(_Family):
        """Categorical: logits -(diag p - p p^T); probs w (normalised by S = sum w):
        -[x = k = l] / w_k^2 + 1 / S^2."""

        def score_hess(self, x3):
            d = self.dist
            if d._by == "logits":
                return _Constant.score_hess(self, x3)
            K = d.num_categories
            w = np.broadcast_to(d._differentiable["probs"], tuple(d.batch_shape) + (K,)).reshape(
                1, self.B, K)
            S = w.sum(axis=-1, keepdims=True)
            x = x3[:, :, 0].astype(np.int64)
            onehot = (x[:, :, None] == np.arange(K)).astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                diag = -np.where(onehot > 0, 1.0 / (w * w), 0.0)
            out = np.broadcast_to((1.0 / (S * S))[..., None], diag.shape + (K,)).copy()
            idx = np.arange(K)
            out[..., idx, idx] += diag
            return out
