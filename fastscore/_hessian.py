"""Second-order estimates: ``fs.estimate(..., order=2)`` fills ``est.hessian`` and
``est.hessian_stderr``.

The Hessian H_jk = d^2 E[f] / dtheta_j dtheta_k in the parameters passed, per
batch element, with a standard error on every entry, by one of four
estimators (each the mean of per-sample terms; ``K = s s^T + grad s``, ``s``
the score, ``grad s`` the closed-form second derivative of log p):

score      f(x) K(x), with the baselines plain, baseline (f - b), rloo
           (f - the leave-one-out mean of f) and cv (cross-fitted, per entry;
           below): E[K] = 0, so each is unbiased.
           grad s per family: for an exponential family p = h exp(eta . T -
           A), grad^2 log p = sum_k T_k(x) d^2 eta_k / dtheta^2 - d^2 A /
           dtheta^2, which is the constant -F (F the Fisher information,
           ``dist.fisher()``) where eta is linear in the parameters (_Constant)
           and is written out per family elsewhere (each family's
           ``_SecondOrder``, in its module of fastscore/families/).
mixed      the likelihood-ratio derivative of the pathwise gradient: the
           pathwise term a_j = f'(x) . u_j(x), u_j(x) = dx/dtheta_j written as a
           function of x and theta, has the gradient E[a_j s_k + f'(x) .
           d u_j / dtheta_k |x], symmetrised.  Needs f' only (not f''): the
           low-variance gamma of a kinked payoff.  Families whose u is explicit
           in x (``_SecondOrder.explicit``; and Independent and
           TransformedDistribution of them).
pathwise   u_j^T f''(x) u_k + f'(x) . d^2 x / dtheta_j dtheta_k: needs f''
           (a built-in's own, or ``hess_f=``).  The same families, bare or in an
           Independent.
measure    the weak second derivatives of the density, with coupled points
           (``_SecondOrder.weak``: each family's ``measure`` says which); any f.

cv, the cross-fitted baseline of the gradient's method="cv" carried to each
Hessian entry (j, l): sample i's term is (f_i - b_k,jl) K_i,jl, with k = i mod
_specs.CV_FOLDS (i the sample's index in its batch element's stream) and b_k,jl
= sum f K_jl^2 / sum K_jl^2 over folds k + 1, k + 2, k + 3 (mod 7) only (their
mean f where that sum of K_jl^2 is 0).  That ratio is the entry's
variance-minimising constant baseline, argmin_b E[(f - b)^2 K_jl^2] =
E[f K_jl^2] / E[K_jl^2], estimated on other samples.  The baseline is
independent of the sample it multiplies and E[K | the rest] = 0 (K's mean is
zero whatever f is), so E[term] = H_jl; as no two folds use each other, every
product of two different samples' terms has expectation H_jl^2, so the plain
sample variance of the terms over n is unbiased for the estimate's variance.
The terms are folded into the gradient's cross-fitted fold rows (the score
block with K in place of s: _moments.fold_sums_from_samples) and finished by
the gradient's own finish (_finish.finish_folds; its NumPy twin
_kinds.ScoreCV.finish on the reference backend): with n < 7 the n one-sample
folds play the 7 (reach (n - 1) // 2), and at n = 2 the estimate and its
stderr are rloo's.

The pass is NumPy waves on the kernels' own samples: it redraws the samples
of the estimate (``fs.sample``'s, the same Philox streams, chunk by chunk,
drawn by the backend chosen), evaluates f (and f', f'') on them and folds the
terms per chunk range with Chan's merge of (mean, centred sum of squares), in
chunk order and in slices whose size depends on the batch and parameter
sizes only.  So the Hessian does not depend on the thread count, and the
compiled and reference backends, which draw the same samples, agree to
rounding.  The measure-valued estimator's extra variates come from a stream
of their own, Philox(key, counter=[0, 2, chunk, element]).
"""

import numbers

import numpy as np

from . import _fisher
from ._rng import CHUNK_SIZE

#: The second-order estimators (``est.info["hessian"]``).
ESTIMATORS = ("score", "mixed", "pathwise", "measure")
#: The score function's baselines that the Hessian takes (cv: cross-fitted per
#: Hessian entry, as the gradient's per component; see the module docstring).
METHODS = ("plain", "baseline", "rloo", "cv")
#: Numbers (samples x batch x terms) one slice of the pass holds at most.
SLICE_VALUES = 1 << 21


def hessian_stream(key, chunk, batch_index):
    """The Generator of the measure-valued Hessian's extra variates of chunk ``chunk``
    of (base) batch element ``batch_index``: Philox(key, counter=[0, 2, chunk,
    batch_index]), apart from the samples' [0, 0, ...] and the waves' [0, 1, ...]."""
    return np.random.Generator(np.random.Philox(
        key=np.array(key, dtype=np.uint64),
        counter=np.array([0, 2, chunk, batch_index], dtype=np.uint64)))


class _Aux:
    """The extra variates of chunks [c0, c1) of a slice: ``aux(k)`` gives (m, B, k)
    standard normals, ``aux.exponential(k)`` standard exponentials, drawn chunk by
    chunk from each element's hessian_stream (the same on both backends)."""

    def __init__(self, key, c0, c1, n, batch_size, lo=0, hi=None):
        self.key, self.c0, self.c1, self.n, self.B = key, c0, c1, n, batch_size
        self.lo, self.hi = lo, hi

    def rows(self, lo, hi):
        return _Aux(self.key, self.c0, self.c1, self.n, self.B, lo, hi)

    def _draw(self, fn, k):
        out = []
        for b in range(self.B):
            out.append(np.concatenate([
                fn(hessian_stream(self.key, c, b), (min(CHUNK_SIZE, self.n - c * CHUNK_SIZE), k))
                for c in range(self.c0, self.c1)], axis=0)[self.lo:self.hi])
        return np.stack(out, axis=1)

    def normal(self, k):
        return self._draw(lambda g, size: g.standard_normal(size), k)

    def exponential(self, k):
        return self._draw(lambda g, size: g.standard_exponential(size), k)


# ------------------------------------------------------------------ families
# Each family's pieces are its own: a subclass of _Family (or _Constant) that its
# class names as ``_SecondOrder`` (fastscore/families/<name>.py); family_of finds
# them through the distribution.
class _Family:
    """A family's second-order pieces on kernel-layout samples x3 (m, B, E).

    score_hess(x3)      grad s, (m or 1, B, P, P)
    jac(x3)             u = dx/dtheta as a function of x, (m, B, P, E)   (explicit only)
    mixed(x3, gp3)      sum_e f'_e d u_je / dtheta_k |x, (m, B, P, P)   (explicit only)
    jac2(x3, gp3)       sum_e f'_e d^2 x_e / dtheta_j dtheta_k, or None for 0
    measure(x3, values, aux) -> (first-order terms (m, B, P), Hessian terms (m, B, P, P))
    """

    #: u = dx/dtheta is explicit in x: the mixed and pathwise estimators apply.
    explicit = False
    #: weak second derivatives are implemented: the measure-valued estimator applies.
    weak = False
    #: the pure pathwise estimator applies (explicit and not transformed).
    pathwise = False
    #: why the score function's Hessian would be biased (None: it is not).
    score_biased = None

    def __init__(self, dist):
        self.dist = dist
        self.name = type(dist).__name__
        self.B = dist.batch_size

    def _row(self, a):
        """A parameter as (1, B) for broadcasting over samples."""
        return np.broadcast_to(np.asarray(a, dtype=np.float64), self.dist.batch_shape).reshape(
            1, self.B)

    def score_hess(self, x3):
        raise NotImplementedError("order=2: %s has no second derivative of its log-density "
                                  "here" % self.name)

    def quad(self, x3, F):
        """u^T F u per sample: (m, B, P, P) from F = f'' (m, B, E, E)."""
        U = self.jac(x3)
        return np.einsum("mbje,mbef,mbkf->mbjk", U, F, U)

    def jac2(self, x3, gp3):
        return None


def _sym(a, b, c):
    """[[a, b], [b, c]] over the broadcast of a, b, c: (..., 2, 2)."""
    return _fisher.sym2(a, b, c)


class _Constant(_Family):
    """grad s = -F, the Fisher information, where the natural parameters are linear in
    the parameters passed (a family's ``_SecondOrder`` is this class, a subclass, or
    calls its score_hess for one parameterisation, logits say)."""

    def score_hess(self, x3):
        F = np.asarray(self.dist.fisher(), dtype=np.float64)
        P = F.shape[-1]
        return -F.reshape(1, self.B, P, P)


def _pq(dist):
    """(p, 1 - p) as (1, B), 1 - p accurate from logits."""
    p = np.broadcast_to(dist.probs, dist.batch_shape).reshape(1, -1)
    q = getattr(dist, "_q", None)
    q = 1.0 - p if q is None else np.broadcast_to(q, dist.batch_shape).reshape(1, -1)
    return p, q


# ------------------------------------------------------------------ wrappers
class _Grouped(_Family):
    """Independent(base): s is the coordinates' scores side by side (the joint
    component order of fastscore._wrapped.GroupedPlan), grad s, the mixed and the
    second-derivative terms block-diagonal over the coordinates, u^T f'' u through
    each component's coordinate."""

    def __init__(self, dist, base):
        super().__init__(dist)
        self.base = base
        plan = dist.plan()
        self.G, self.Pb, self.Eb = plan.group, plan.base.score_size, plan.base.E
        order = plan._order
        self.gi, self.ji = order // self.Pb, order % self.Pb
        self.same = self.gi[:, None] == self.gi[None, :]
        self.explicit = base.explicit
        self.pathwise = base.pathwise
        self.score_biased = base.score_biased
        self.name = "%s of %s" % (self.name, base.name)

    def _base(self, x3):
        return x3.reshape(x3.shape[0], self.B * self.G, self.Eb)

    def _blocks(self, Hb):
        m = Hb.shape[0]
        Hb = Hb.reshape(m, self.B, self.G, self.Pb, self.Pb)
        full = Hb[:, :, self.gi[:, None], self.ji[:, None], self.ji[None, :]]
        return np.where(self.same, full, 0.0)

    def score_hess(self, x3):
        return self._blocks(self.base.score_hess(self._base(x3)))

    def mixed(self, x3, gp3):
        return self._blocks(self.base.mixed(self._base(x3), self._base(gp3)))

    def jac2(self, x3, gp3):
        h = self.base.jac2(self._base(x3), self._base(gp3))
        return None if h is None else self._blocks(h)

    def quad(self, x3, F):
        m = x3.shape[0]
        Ub = self.base.jac(self._base(x3)).reshape(m, self.B, self.G, self.Pb, self.Eb)
        U = Ub[:, :, self.gi, self.ji, :]                              # (m, B, P, Eb)
        F6 = F.reshape(m, self.B, self.G, self.Eb, self.G, self.Eb).transpose(0, 1, 2, 4, 3, 5)
        Fs = F6[:, :, self.gi[:, None], self.gi[None, :]]              # (m, B, P, P, Eb, Eb)
        if self.Eb == 1:
            return U[..., :, None, 0] * Fs[..., 0, 0] * U[..., None, :, 0]
        return np.einsum("mbie,mbijef,mbjf->mbij", U, Fs, U)


class _JointParts(_Family):
    """Joint: the parts' grad s block-diagonal (the score estimator only)."""

    def __init__(self, dist, parts):
        super().__init__(dist)
        self.parts = parts
        self.sizes = [p.dist.score_size for p in parts.values()]
        self.score_biased = next((p.score_biased for p in parts.values() if p.score_biased),
                                 None)

    def score_hess(self, x):
        hs = [fam.score_hess(x[nm]) for nm, fam in self.parts.items()]
        m = max(h.shape[0] for h in hs)
        P = sum(self.sizes)
        out = np.zeros((m, self.B, P, P))
        j = 0
        for h, k in zip(hs, self.sizes):
            out[:, :, j:j + k, j:j + k] = h
            j += k
        return out


class _Transformed(_Family):
    """TransformedDistribution(base, T), y = T(x): the score and grad s are the base's at
    x = T^-1(y); u_y = T'(x) u_x, so the mixed terms are the base's with f'(y) T'(x)."""

    def __init__(self, dist, base):
        super().__init__(dist)
        self.base = base
        self.tplan = dist.plan()
        self.explicit = base.explicit
        self.score_biased = base.score_biased
        self.name = "%s of %s" % (self.name, base.name)

    def score_hess(self, y3):
        return self.base.score_hess(self.tplan.inverse(y3))

    def mixed(self, y3, gp3):
        x3 = self.tplan.inverse(y3)
        return self.base.mixed(x3, gp3 * self.tplan.derivative(x3))


def family_of(dist):
    """The second-order pieces of ``dist`` (NotImplementedError where there are none):
    its family's own (``Distribution._SecondOrder``, in the family's module), or a
    wrapper's composition of its parts' (the classes above)."""
    return dist._second_order()


# ------------------------------------------------------------------ f''
class PreparedHess:
    """f'' for the pathwise Hessian: "builtin" (a built-in's own) or "python" (hess_f)."""

    def __init__(self, kind, obj):
        self.kind, self.obj = kind, obj

    def values(self, x3, plan):
        """f'' on kernel-layout samples (m, B, E) -> (m, B, E, E)."""
        if self.kind == "builtin":
            return self.obj.hess_numpy(x3, plan)
        m, B, E = x3.shape
        x = plan.layout.to_user(x3, (m,))
        if np.shares_memory(x, x3):
            x = x.view()
            x.flags.writeable = False
        arr = np.asarray(self.obj(x))
        ev = tuple(plan.event_shape)
        want = (m,) + tuple(plan.batch_shape) + ev + ev
        if arr.dtype.kind not in "biuf" or arr.shape != want:
            raise ValueError("hess_f returned an array of shape %s (dtype %s); expected real "
                             "numbers of shape (m, *batch_shape, *event_shape, *event_shape) = "
                             "%s" % (arr.shape, arr.dtype, want))
        return np.ascontiguousarray(arr, dtype=np.float64).reshape(m, B, E, E)


# ------------------------------------------------------------------ the request
def request(order, estimator, method, hess_f, **options):
    """The call's :class:`Request` for order=2, None for order=1 (whose options are
    checked here: no ``hess_f``, no ``estimator="mixed"``)."""
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral) \
            or order not in (1, 2):
        raise ValueError("order must be 1 (E[f] and its gradient) or 2 (also the Hessian), got "
                         "%r" % (order,))
    if order == 1:
        if estimator == "mixed":
            raise ValueError("estimator='mixed' is a second-order estimator (its gradient is the "
                             "pathwise one): pass order=2")
        if hess_f is not None:
            raise ValueError("hess_f is only used with order=2 (and estimator='pathwise')")
        return None
    return Request(estimator, method, hess_f, **options)


class Request:
    """The second-order part of one ``fs.estimate(..., order=2)`` call: its options,
    checked before anything runs, and the pass that fills ``est.hessian``."""

    def __init__(self, estimator, method, hess_f, *, client=None, rtol=None, atol=None):
        from ._kinds import KINDS

        if estimator not in ESTIMATORS and estimator not in KINDS:
            raise ValueError("estimator must be one of %s, got %r"
                             % (", ".join(repr(k) for k in list(KINDS) + ["mixed"]), estimator))
        if estimator not in ESTIMATORS:
            raise NotImplementedError(
                "order=2 is available for estimator='score', 'mixed', 'pathwise' and "
                "'measure'; estimator=%r has no second-order form" % (estimator,))
        if client is not None:
            raise NotImplementedError("order=2 runs its second-order pass on this machine, in "
                                      "NumPy; it does not run with a Dask client")
        if rtol is not None or atol is not None:
            raise NotImplementedError("order=2 takes a fixed n: precision targets (rtol=, "
                                      "atol=) are not supported with it")
        if hess_f is not None and estimator != "pathwise":
            raise ValueError("hess_f is only used with estimator='pathwise' and order=2 (got "
                             "estimator=%r)" % estimator)
        self.estimator = estimator
        self.hess_f = hess_f
        #: The first-order estimator kind that gives the gradient.
        self.first = "pathwise" if estimator == "mixed" else estimator
        self.used = estimator
        self.hess = None

    def check(self, dist, plan, pf):
        """Refuse what cannot run, and choose the pathwise / mixed form."""
        fam = family_of(dist)
        est = self.estimator
        if est == "pathwise":
            if pf.kind == "builtin":
                if self.hess_f is not None:
                    raise TypeError("hess_f: the built-in f %r knows its own second "
                                    "derivative where it has one (power, linear); leave "
                                    "hess_f out" % (pf.obj,))
                if pf.obj.has_hessian:
                    self.hess = PreparedHess("builtin", pf.obj)
            elif self.hess_f is not None:
                if not callable(self.hess_f) or _is_lowlevel(self.hess_f):
                    raise TypeError("hess_f must be a vectorised Python callable returning "
                                    "f''(x) of shape (m, *batch_shape, *event_shape, "
                                    "*event_shape); got %s" % type(self.hess_f).__name__)
                self.hess = PreparedHess("python", self.hess_f)
            self.used = "pathwise" if self.hess is not None else "mixed"
        if self.used == "pathwise" and not fam.pathwise:
            raise NotImplementedError(
                "order=2, estimator='pathwise': %s has no explicit second derivative of its "
                "reparameterisation here (%s, alone or in Independent, have); use "
                "estimator='mixed' or 'score'" % (fam.name, ", ".join(_having("pathwise"))))
        if self.used == "mixed" and not fam.explicit:
            raise NotImplementedError(
                "order=2, estimator=%r: the mixed estimator needs dx/dtheta in closed form as a "
                "function of x, which %s lacks (%s, alone, in Independent or transformed, have "
                "it); use estimator='score'" % (est, fam.name, ", ".join(_having("explicit"))))
        if self.used == "score" and fam.score_biased:
            raise NotImplementedError("order=2, estimator='score': %s; use estimator='mixed' "
                                      "or 'pathwise'" % fam.score_biased)
        if self.used == "measure" and not fam.weak:
            weak = _having("weak")
            raise NotImplementedError(
                "order=2, estimator='measure': weak second derivatives are implemented for "
                "%s and %s (not wrapped); %s has none here: use estimator='score'"
                % (", ".join(weak[:-1]), weak[-1], fam.name))
        base = getattr(plan, "base", None)
        if getattr(plan, "transform", None) is not None and getattr(base, "f_input", None):
            raise NotImplementedError(
                "order=2: %s draws its base in log space (a concentration below 1), which the "
                "second-order pass does not transform; use the base distribution" % fam.name)
        self.fam = fam
        return self

    def settings(self):
        return {"hessian": self.used}

    def attach(self, est, plan, pf, n, key, backend, n_threads, method, baseline, nan_policy):
        """Fill est.hessian and est.hessian_stderr (batch_shape + (P, P), the component
        order of est.components) and est.info["hessian"]."""
        from . import _cov

        B = plan.batch_size
        P = plan.score_size
        shape = tuple(plan.batch_shape)
        if B == 0:
            H = np.zeros((0, P, P))
            se = np.zeros((0, P, P))
        else:
            fbar = np.asarray(est.value, dtype=np.float64).reshape(B)
            if self.used == "score" and method == "cv":
                acc = _Folds(B, P * (P + 1) // 2, backend)
            else:
                acc = _Moments(B, P * (P + 1) // 2)
            for fx, g, h in terms(self, plan, pf, n, key, backend, n_threads):
                if isinstance(acc, _Folds):
                    acc.add(fx, h)
                    continue
                if self.used == "score":
                    if method == "plain":
                        w = fx
                    elif method == "baseline":
                        w = fx - np.asarray(baseline, dtype=np.float64)
                    else:   # rloo: the leave-one-out terms n / (n - 1) (f - fbar) K
                        w = (n / (n - 1.0)) * (fx - fbar)
                    h = w[..., None] * h
                acc.add(h)
            H, se = acc.result(rloo=self.used == "score" and method == "rloo")
            bad = ~(np.isfinite(H).all(axis=1) & np.isfinite(se).all(axis=1))
            if nan_policy == "raise" and bad.any():
                b = int(np.argmax(bad))
                where = tuple(int(i) for i in np.unravel_index(b, shape)) if shape else ()
                raise ValueError(
                    "the Hessian's per-sample terms (estimator=%r) are not finite or overflow "
                    "double precision for batch element %s; pass nan_policy='propagate' to get "
                    "NaN results instead" % (self.used, where))
            H, se = _unpack(H, P), _unpack(se, P)
        if B:
            H, se = _cov.expand(plan, H), _cov.expand(plan, se)
            est.hessian = H.reshape(shape + H.shape[1:])
            est.hessian_stderr = se.reshape(shape + se.shape[1:])
        else:
            Q = len(_cov.components(plan))
            est.hessian = np.zeros(shape + (Q, Q))
            est.hessian_stderr = np.zeros(shape + (Q, Q))
        est.info = dict(est.info, **self.settings())
        return est


def _having(flag):
    """The families whose second-order pieces have ``flag`` (explicit, pathwise, weak), for
    the messages: the continuous ones first, each group in the order of
    fastscore.families."""
    from . import families

    classes = [getattr(families, nm) for nm in families.__all__]
    return [cls.__name__ for cls in sorted(classes, key=lambda cls: cls.integer_valued)
            if getattr(cls._SecondOrder, flag, False)]


def _is_lowlevel(obj):
    from ._callables import _as_lowlevel

    return _as_lowlevel(obj) is not None


def _unpack(packed, P):
    """(B, P (P + 1) / 2) upper-triangle entries -> (B, P, P) symmetric."""
    iu, ju = np.triu_indices(P)
    out = np.empty((packed.shape[0], P, P))
    out[:, iu, ju] = packed
    out[:, ju, iu] = packed
    return out


class _Moments:
    """Count, mean and centred sum of squares per (element, entry), merged slice by
    slice in order (Chan, Golub, LeVeque): the same bits for the same slices."""

    def __init__(self, B, Q):
        self.n = 0
        self.mean = np.zeros((B, Q))
        self.m2 = np.zeros((B, Q))

    def add(self, t):
        k = t.shape[0]
        if k == 0:
            return
        with np.errstate(invalid="ignore", over="ignore"):
            mb = t.sum(axis=0) / k
            d = t - mb
            m2b = (d * d).sum(axis=0)
            if self.n == 0:
                self.mean, self.m2, self.n = mb, m2b, k
                return
            n = self.n + k
            delta = mb - self.mean
            self.mean = self.mean + delta * (k / n)
            self.m2 = self.m2 + m2b + (delta * delta) * (self.n * k / n)
            self.n = n

    def result(self, rloo=False):
        """(mean, stderr); rloo's stderr^2 is ((n - 1) mean(t^2) - (n - 2) g^2) / (n^2 -
        2 n + 2) (its terms are correlated: fastscore._kinds.ScoreFunction)."""
        n = float(self.n)
        g = self.mean
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if rloo:
                ez2 = self.m2 / n + g * g
                v = ((n - 1.0) * ez2 - (n - 2.0) * (g * g)) / ((n - 2.0) * n + 2.0)
            else:
                v = self.m2 / (n * (n - 1.0))
            se = np.where(v > 0.0, np.sqrt(np.where(v > 0.0, v, 0.0)), np.where(v == v, 0.0,
                                                                                 np.nan))
        return g, se


class _Folds:
    """The cross-fitted cv's fold rows (B, CV_FOLDS score rows of Q entries), the
    Hessian terms K in place of the score: slice by slice in stream order (the
    sample at row r of the pass has index r in its element's stream, so fold r mod
    CV_FOLDS), each fold's sums merged in order (_moments.fold_sums_from_samples:
    the same bits for the same slices); finished by the gradient's cv finish."""

    def __init__(self, B, Q, backend):
        from ._specs import CV_FOLDS, row_width

        self.first = 0
        self.backend = backend
        self.sums = np.zeros((B, CV_FOLDS * row_width(Q)))

    def add(self, fx, K):
        from . import _moments

        m = K.shape[0]
        if m == 0:
            return
        with np.errstate(invalid="ignore", over="ignore"):
            self.sums = _moments.fold_sums_from_samples(fx, K, CHUNK_SIZE, start=self.sums,
                                                        first=self.first)
        self.first += m

    def result(self, rloo=False):
        """(mean, stderr) per entry: the cross-fitted estimate (rloo's at n = 2)."""
        from . import _finish
        from ._kinds import SCORE_CV

        S = np.ascontiguousarray(self.sums)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if self.backend == "compiled":
                _, _, g, se = _finish.finish_folds(S)
            else:
                _, _, g, se = SCORE_CV.finish(None, S)
        return np.asarray(g), np.asarray(se)


def _seen(plan, x):
    """What f sees of the samples x (the log-space variants store log x where x
    underflows), on an Independent's too."""
    if plan.f_input is not None:
        return plan.f_input(x)
    base = getattr(plan, "base", None)
    if getattr(plan, "group", None) is not None and base.f_input is not None:
        return plan.from_base(base.f_input(plan.to_base(x)))
    return x


def terms(req, plan, pf, n, key, backend, n_threads):
    """Per slice of the estimate's samples: (f (m, B), first-order terms (m, B, P),
    Hessian terms (m, B, P (P + 1) / 2), the upper triangle row by row).

    For the score estimator the terms are s and K = s s^T + grad s, before the
    weight f (or f - b): the caller weighs them.  Slices hold at most SLICE_VALUES
    numbers, whole chunks where that many fit, so they depend on the shapes only.
    """
    from . import _compiled, _wrapped, reference

    fam = req.fam
    used = req.used
    B, P, E = plan.batch_size, plan.score_size, max(1, plan.event_size or 1)
    Q = P * (P + 1) // 2
    iu, ju = np.triu_indices(P)
    evals = 7 if used == "measure" else 1
    width = B * (P * P + P + E * E + E) * evals
    rows = max(1, SLICE_VALUES // width)
    wave = max(1, rows // CHUNK_SIZE)
    n_chunks = -(-n // CHUNK_SIZE)
    impl = _wrapped.Backend(_compiled if backend == "compiled" else reference, backend)
    wpf = plan.wave_f(pf) if hasattr(plan, "wave_f") else pf
    for c0 in range(0, n_chunks, wave):
        c1 = min(n_chunks, c0 + wave)
        xall = impl.draw(plan, n, key, n_threads, (c0, c1))
        total = _wrapped._rows_of(xall)
        aux = _Aux(key, c0, c1, n, B)
        for lo in range(0, total, rows):
            x = _wrapped._slice(xall, lo, lo + rows)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                seen = _seen(plan, x)
                fx = np.asarray(wpf.values(seen, plan, backend), dtype=np.float64)
                if used == "measure":
                    def values(pts):
                        return np.asarray(wpf.values(pts, plan, backend), dtype=np.float64)
                    g, H = fam.measure(x, values, aux.rows(lo, lo + rows), fx)
                    yield fx, g, H[..., iu, ju]
                    continue
                if used == "score":
                    s = plan.score(x)
                    K = s[..., iu] * s[..., ju] + fam.score_hess(x)[..., iu, ju]
                    yield fx, s, K
                    continue
                gp = wpf.grad.values(seen, plan, backend)
                a = plan.pathwise(x, gp)
                if used == "mixed":
                    s = plan.score(x)
                    C = fam.mixed(x, gp)
                    M = a[..., iu] * s[..., ju] + C[..., iu, ju]
                    Mt = a[..., ju] * s[..., iu] + C[..., ju, iu]
                    yield fx, a, 0.5 * (M + Mt)
                    continue
                Hm = fam.quad(x, req.hess.values(seen, plan))
                j2 = fam.jac2(x, gp)
                if j2 is not None:
                    Hm = Hm + j2
                yield fx, a, 0.5 * (Hm[..., iu, ju] + Hm[..., ju, iu])
