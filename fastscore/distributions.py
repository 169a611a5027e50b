"""Distributions: parameters, constraints, batch shapes and closed-form scores.

One small declarative class per family.  Each class

* checks and broadcasts its parameters (names as in torch.distributions),
* builds the per-batch-element constants the kernel needs
  (:meth:`Distribution._kernel_params`), and
* implements in NumPy the sampler (:meth:`Distribution._numpy_draw`, drawing
  exactly what the kernel draws from the same stream), the score and the
  log-density used by the reference path and by :func:`fastscore.score`.

Scores are taken with respect to the parameters the user passed: a
``Bernoulli(logits=...)`` has a ``"logits"`` gradient, a
``Bernoulli(probs=...)`` a ``"probs"`` one.
"""

import numpy as np
from scipy import special, stats

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "Poisson"]


class Distribution:
    """Base class: a batch of independent distributions of one family.

    Subclasses declare ``family`` (kernel name), ``event_ndim``,
    ``finite_support``, ``integer_valued`` and implement ``_setup``,
    ``_kernel_params``, ``_numpy_draw``, ``_score_components`` and
    ``_log_prob``.
    """

    family = None
    event_ndim = 0
    finite_support = False
    integer_valued = False

    def __init__(self, params, validate_args=True):
        self.validate_args = bool(validate_args)
        self._user = {}  # user-passed name -> float64 array (original shape)
        for name, value in params.items():
            if value is not None:
                self._user[name] = self._as_float_array(name, value)
        self._setup()
        self._kp = None

    # -- parameter handling ---------------------------------------------
    @property
    def _name(self):
        return type(self).__name__

    def _as_float_array(self, name, value):
        try:
            arr = np.asarray(value)
        except Exception as exc:  # pragma: no cover - exotic array-likes
            raise TypeError("%s: parameter %r could not be read as an array: %s"
                            % (self._name, name, exc)) from None
        if arr.dtype.kind not in "biuf":
            raise TypeError("%s: parameter %r must be real numbers, got dtype %s"
                            % (self._name, name, arr.dtype))
        arr = arr.astype(np.float64)
        if self.validate_args:
            self._require(name, arr, np.isfinite(arr), "finite")
        return arr

    def _require(self, name, arr, ok, rule):
        """Raise ValueError naming the first element of ``arr`` where ``ok`` is False."""
        ok = np.broadcast_to(ok, np.shape(ok))
        if not np.all(ok):
            idx = np.unravel_index(int(np.argmin(np.ravel(ok))), np.shape(ok))
            bad = np.asarray(arr)[idx] if np.ndim(arr) else arr
            where = "" if np.ndim(ok) == 0 else " at index %s" % (tuple(int(i) for i in idx),)
            raise ValueError("%s: parameter %r must be %s; got %r%s"
                             % (self._name, name, rule, _scalar(bad), where))

    def _broadcast(self, names, event_dims=None):
        """Broadcast the named parameters' batch parts; returns batch_shape."""
        event_dims = event_dims or {}
        shapes = []
        for nm in names:
            a = self._user[nm]
            ed = event_dims.get(nm, 0)
            shapes.append(a.shape[: a.ndim - ed] if ed else a.shape)
        try:
            return np.broadcast_shapes(*shapes)
        except ValueError:
            desc = ", ".join("%s with batch shape %s" % (nm, sh) for nm, sh in zip(names, shapes))
            raise ValueError("%s: parameters do not broadcast: %s" % (self._name, desc)) from None

    # -- public description -------------------------------------------
    @property
    def param_names(self):
        """Names of the parameters the user passed, in score order."""
        return tuple(self._user)

    @property
    def batch_size(self):
        return int(np.prod(self.batch_shape, dtype=np.int64))

    @property
    def event_size(self):
        return int(np.prod(self.event_shape, dtype=np.int64))

    def param_shape(self, name):
        """Shape of the gradient for parameter ``name``: batch_shape + its event part."""
        return tuple(self.batch_shape) + tuple(self._param_event_shape(name))

    def _param_event_shape(self, name):
        return ()

    @property
    def score_size(self):
        """Number of score components P (all parameters, flattened)."""
        return sum(int(np.prod(self._param_event_shape(nm), dtype=np.int64))
                   for nm in self.param_names)

    def __repr__(self):
        parts = []
        for nm, a in self._user.items():
            parts.append("%s=%s" % (nm, _short(a)))
        return "%s(%s)" % (self._name, ", ".join(parts))

    # -- kernel interface ---------------------------------------------
    def kernel_params(self):
        """(batch_size, n_consts) float64 constants for the kernel (cached)."""
        if self._kp is None:
            kp = np.ascontiguousarray(self._kernel_params(), dtype=np.float64)
            self._kp = kp.reshape(self.batch_size, -1)
        return self._kp

    def support(self):
        """Support values (V,) of a finite-support family, else None."""
        return None

    # -- samples in, scores out ---------------------------------------
    def _flatten_x(self, x, what="x"):
        """x of shape (*sample_shape, *batch_shape, *event_shape) -> (m, B, E)."""
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError("%s must be real numbers, got dtype %s" % (what, arr.dtype))
        arr = arr.astype(np.float64, copy=False)
        tail = tuple(self.batch_shape) + tuple(self.event_shape)
        if arr.ndim < len(tail):
            raise ValueError("%s must have shape (*sample_shape, %s); got %s"
                             % (what, ", ".join(map(str, tail)) or "", arr.shape))
        lead = arr.shape[: arr.ndim - len(tail)]
        got_tail = arr.shape[arr.ndim - len(tail):]
        try:
            if np.broadcast_shapes(got_tail, tail) != tail:
                raise ValueError
        except ValueError:
            raise ValueError("%s must have shape (*sample_shape, *batch_shape, *event_shape) = "
                             "(..., %s); got %s" % (what, ", ".join(map(str, tail)), arr.shape)) \
                from None
        arr = np.broadcast_to(arr, lead + tail)
        m = int(np.prod(lead, dtype=np.int64))
        return arr.reshape(m, self.batch_size, max(self.event_size, 1)), lead

    def _check_support(self, x3):
        """Raise ValueError if a sample lies outside the support."""
        ok = self._in_support(x3)
        if ok is not None and not np.all(ok):
            i = np.unravel_index(int(np.argmin(ok.ravel())), ok.shape)
            raise ValueError("%s: sample %r (sample %d, batch element %d) is outside the "
                             "support %s" % (self._name, _scalar(x3[i[0], i[1], 0]), i[0],
                                             i[1], self._support_text))

    _support_text = "of the distribution"

    def _in_support(self, x3):
        return None

    def score(self, x):
        """Score d/dparam log p(x) for each parameter passed.

        Parameters
        ----------
        x : array_like, shape (*sample_shape, *batch_shape, *event_shape)

        Returns
        -------
        dict
            parameter name -> array (*sample_shape, *batch_shape, *param_event_shape)
        """
        x3, lead = self._flatten_x(x)
        if self.validate_args:
            self._check_support(x3)
        comps = self._score_components(x3)
        return self._split(comps, lead)

    def log_prob(self, x):
        """log p(x) by scipy.stats, shape (*sample_shape, *batch_shape)."""
        x3, lead = self._flatten_x(x)
        if self.validate_args:
            self._check_support(x3)
        return self._log_prob(x3).reshape(tuple(lead) + tuple(self.batch_shape))

    def _split(self, comps, lead=()):
        """(m, B, P) (with sample shape ``lead``) or (B, P) components -> dict."""
        out = {}
        j = 0
        prefix = tuple(lead) if comps.ndim == 3 else ()
        for nm in self.param_names:
            pe = tuple(self._param_event_shape(nm))
            k = int(np.prod(pe, dtype=np.int64))
            out[nm] = comps[..., j:j + k].reshape(prefix + tuple(self.batch_shape) + pe)
            j += k
        return out

    def _as_samples(self, x3, lead):
        """Kernel-layout samples (m, B, E) -> user layout and dtype."""
        x = x3.reshape(tuple(lead) + tuple(self.batch_shape) + tuple(self.event_shape))
        if self.integer_valued:
            x = x.astype(np.int64)
        return x


def _scalar(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def _short(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return repr(float(a))
    if a.size <= 6:
        return np.array2string(a, separator=", ")
    return "array(shape=%s)" % (a.shape,)


def _exclusive(name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("%s: pass exactly one of probs or logits" % name)


class Normal(Distribution):
    """Normal(loc, scale): density exp(-(x - loc)^2 / (2 scale^2)) / (scale sqrt(2 pi)).

    Sampled by numpy's ``random_normal`` (``Generator.normal``): loc + scale z
    with z from the ziggurat.  Scores: d/dloc = (x - loc) / scale^2,
    d/dscale = ((x - loc)^2 / scale^2 - 1) / scale.

    Parameters
    ----------
    loc : array_like
        Mean, finite.
    scale : array_like
        Standard deviation, > 0.
    validate_args : bool, default True

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Normal(loc=[0.0, 1.0], scale=2.0)
    >>> d.batch_shape
    (2,)
    >>> fs.score(d, [[1.0, 1.0]])["loc"]
    array([[0.25, 0.  ]])
    """

    family = "normal"
    _support_text = "(the real line)"

    def __init__(self, loc, scale, validate_args=True):
        super().__init__({"loc": loc, "scale": scale}, validate_args)

    def _setup(self):
        if self.validate_args:
            self._require("scale", self._user["scale"], self._user["scale"] > 0, "> 0")
        self.batch_shape = self._broadcast(["loc", "scale"])
        self.event_shape = ()
        self.loc = np.broadcast_to(self._user["loc"], self.batch_shape)
        self.scale = np.broadcast_to(self._user["scale"], self.batch_shape)

    def _kernel_params(self):
        return np.stack([self.loc.ravel(), self.scale.ravel()], axis=-1)

    def _numpy_draw(self, gen, prm, m):
        return gen.normal(prm[0], prm[1], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3)

    def _score_components(self, x3):
        loc = self.loc.reshape(1, -1)
        scale = self.scale.reshape(1, -1)
        z = (x3[:, :, 0] - loc) / scale
        return np.stack([z / scale, (z * z - 1.0) / scale], axis=-1)

    def _log_prob(self, x3):
        return stats.norm.logpdf(x3[:, :, 0], self.loc.reshape(1, -1), self.scale.reshape(1, -1))


class Poisson(Distribution):
    """Poisson(rate): P(x = k) = rate^k exp(-rate) / k!, k = 0, 1, 2, ...

    Sampled by numpy's ``random_poisson`` (``Generator.poisson``).
    Score: d/drate = x / rate - 1.  Samples are int64.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Poisson(rate=2.0), [4])["rate"]
    array([1.])
    """

    family = "poisson"
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, rate, validate_args=True):
        super().__init__({"rate": rate}, validate_args)

    def _setup(self):
        if self.validate_args:
            self._require("rate", self._user["rate"], self._user["rate"] > 0, "> 0")
        self.batch_shape = self._broadcast(["rate"])
        self.event_shape = ()
        self.rate = np.broadcast_to(self._user["rate"], self.batch_shape)

    def _kernel_params(self):
        return self.rate.reshape(-1, 1)

    def _numpy_draw(self, gen, prm, m):
        return gen.poisson(prm[0], size=m).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return (x3 >= 0) & (np.floor(x3) == x3)

    def _score_components(self, x3):
        return (x3[:, :, 0] / self.rate.reshape(1, -1) - 1.0)[:, :, None]

    def _log_prob(self, x3):
        return stats.poisson.logpmf(x3[:, :, 0], self.rate.reshape(1, -1))


class Bernoulli(Distribution):
    """Bernoulli(probs | logits): P(x = 1) = probs = sigmoid(logits).

    Sampled as ``u < probs`` with u a standard uniform double from the stream
    (``Generator.random() < probs``).  Scores: d/dprobs = x / p - (1 - x) / (1 - p),
    d/dlogits = x - p.  Samples are int64 0/1.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Bernoulli(logits=0.0), [1, 0])["logits"]
    array([ 0.5, -0.5])
    """

    family = "bernoulli"
    finite_support = True
    integer_valued = True
    _support_text = "{0, 1}"

    def __init__(self, probs=None, logits=None, validate_args=True):
        _exclusive("Bernoulli", probs, logits)
        super().__init__({"probs": probs, "logits": logits}, validate_args)

    def _setup(self):
        (name,) = self.param_names
        a = self._user[name]
        if name == "probs" and self.validate_args:
            self._require("probs", a, (a >= 0) & (a <= 1), "in [0, 1]")
        self.batch_shape = a.shape
        self.event_shape = ()
        self.probs = a if name == "probs" else special.expit(a)

    def _kernel_params(self):
        return self.probs.reshape(-1, 1)

    def _numpy_draw(self, gen, prm, m):
        return (gen.random(m) < prm[0]).astype(np.float64)[:, None]

    def support(self):
        return np.array([0.0, 1.0])

    def _in_support(self, x3):
        return (x3 == 0) | (x3 == 1)

    def _score_components(self, x3):
        x = x3[:, :, 0]
        p = self.probs.reshape(1, -1)
        if self.param_names[0] == "logits":
            return (x - p)[:, :, None]
        with np.errstate(divide="ignore"):
            return np.where(x == 1, 1.0 / p, -1.0 / (1.0 - p))[:, :, None]

    def _log_prob(self, x3):
        return stats.bernoulli.logpmf(x3[:, :, 0], self.probs.reshape(1, -1))


class Categorical(Distribution):
    """Categorical(probs | logits) over {0, ..., K-1}, categories on the last axis.

    As in torch.distributions, ``probs`` are normalised to sum to one over the
    last axis and ``logits`` are log-probabilities up to a constant.  Sampled
    by inverse CDF: the first k with u < cumsum(p)[k], u a standard uniform
    double from the stream.  Scores: d/dlogits_k = [x = k] - p_k;
    d/dprobs_k = [x = k] / probs_k - 1 / sum(probs).  Samples are int64.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Categorical(logits=[0.0, 0.0]), [1])["logits"]
    array([[-0.5,  0.5]])
    """

    family = "categorical"
    finite_support = True
    integer_valued = True
    event_ndim = 0

    def __init__(self, probs=None, logits=None, validate_args=True):
        _exclusive("Categorical", probs, logits)
        super().__init__({"probs": probs, "logits": logits}, validate_args)

    def _setup(self):
        (name,) = self.param_names
        a = self._user[name]
        if a.ndim < 1 or a.shape[-1] < 1:
            raise ValueError("Categorical: parameter %r needs at least one category on its "
                             "last axis; got shape %s" % (name, a.shape))
        if name == "probs":
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

    def _param_event_shape(self, name):
        return (self.num_categories,)

    def _kernel_params(self):
        p = self.probs.reshape(-1, self.num_categories)
        cdf = np.cumsum(p, axis=-1)
        # From the last category with positive probability on, the cdf is an
        # exact 1 so that u < 1 always lands on a possible category.
        last = self.num_categories - 1 - np.argmax((p > 0)[:, ::-1], axis=-1)
        cols = np.arange(self.num_categories)[None, :]
        return np.where(cols >= last[:, None], 1.0, cdf)

    def _numpy_draw(self, gen, prm, m):
        return np.searchsorted(prm, gen.random(m), side="right").astype(np.float64)[:, None]

    def support(self):
        return np.arange(self.num_categories, dtype=np.float64)

    def _in_support(self, x3):
        return (x3 >= 0) & (x3 < self.num_categories) & (np.floor(x3) == x3)

    def _score_components(self, x3):
        K = self.num_categories
        x = x3[:, :, 0].astype(np.int64)
        onehot = (x[:, :, None] == np.arange(K)).astype(np.float64)
        p = self.probs.reshape(1, -1, K)
        if self.param_names[0] == "logits":
            return onehot - p
        raw = self._user["probs"]
        raw = np.broadcast_to(raw, tuple(self.batch_shape) + (K,)).reshape(1, -1, K)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(onehot > 0, 1.0 / raw, 0.0) - 1.0 / raw.sum(axis=-1, keepdims=True)

    def _log_prob(self, x3):
        K = self.num_categories
        x = x3[:, :, 0].astype(np.int64)
        p = self.probs.reshape(-1, K)
        with np.errstate(divide="ignore"):
            return np.log(np.take_along_axis(p[None], x[:, :, None], axis=-1)[..., 0])
