"""Built-in functions f, evaluated inline in the compiled kernel.

Each built-in has a NumPy twin used by the reference backend and on finite
supports, computing the same numbers in the same way.

Examples
--------
>>> import fastscore as fs
>>> est = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=10_000, rng=0)
>>> round(float(est.value), 0)  # E[x^2] = loc^2 + scale^2 = 5
5.0
"""

import numbers

import numpy as np

from . import _kernels

__all__ = ["Function", "power", "linear", "call", "put", "indicator", "table"]


def _real(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a real number, got %r" % (name, value))
    value = float(value)
    if not np.isfinite(value):
        raise ValueError("%s must be finite, got %r" % (name, value))
    return value


def _real_array(name, value):
    """value as a float64 array of real numbers, or an error naming ``name`` and the rule."""
    try:
        arr = np.asarray(value)
    except Exception:
        arr = None
    if arr is None or arr.dtype == object:
        raise ValueError("%s must be a rectangular array of real numbers (not ragged nested "
                         "lists); got %r" % (name, value)) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError("%s must be real numbers, got dtype %s (%r)"
                        % (name, "complex" if arr.dtype.kind == "c" else arr.dtype, value))
    return arr.astype(np.float64)


class Function:
    """A built-in f; build one with :class:`power`, :class:`linear`, ... .

    The base class of the built-ins: :func:`fastscore.estimate` evaluates an
    instance inline in the compiled kernel (and its NumPy twin on the reference
    backend), with its own derivative for the pathwise estimator.

    Examples
    --------
    >>> import fastscore as fs
    >>> isinstance(fs.fn.power(2), fs.fn.Function)
    True
    """

    kind = None
    scalar_only = True

    def __repr__(self):
        return "fastscore.fn.%s" % self._repr()

    # The methods below take a distribution's plan (fastscore._plan.Plan).
    def _check(self, plan):
        if self.scalar_only and plan.event_size > 1:
            raise ValueError("f: fastscore.fn.%s needs scalar samples, but %s has event shape "
                             "%s" % (self.kind, plan.name, plan.event_shape))

    def spec(self, plan):
        """The kernel's FunctionSpec of this f for ``plan``."""
        self._check(plan)
        return self._spec(plan)

    def numpy(self, x3, plan):
        """f on samples x3 (m, batch_size, event_size) -> (m, batch_size)."""
        self._check(plan)
        return self._numpy(np.asarray(x3, dtype=np.float64), plan)

    #: Why this f has no useful derivative for the pathwise estimator (None: it has one).
    no_derivative = None
    #: True where the f has a derivative on relaxed samples all the same (table's
    #: linear extension); a step (indicator) has none there either.
    derivative_on_relaxed = False

    def check_derivative(self, estimator, plan):
        """Refuse an f whose derivative would make ``estimator`` silently wrong."""
        if self.no_derivative is not None and not (getattr(plan, "relaxed", False)
                                                   and self.derivative_on_relaxed):
            raise ValueError("estimator=%r: fastscore.fn.%s %s; use estimator='score' or "
                             "'measure'" % (estimator, self.kind, self.no_derivative))

    def grad_numpy(self, x3, plan):
        """f' on samples x3 (m, batch_size, E) -> (m, batch_size, E), as the kernels compute it."""
        self._check(plan)
        return self._grad(np.asarray(x3, dtype=np.float64), plan)

    #: f'' on kernel-layout samples (a method of the built-ins that have one; None: no
    #: second derivative that a pathwise Hessian could use).
    _hess = None
    #: Why f'' is no use to the pathwise Hessian (None where ``_hess`` is defined).
    no_second_derivative = "has no second derivative here"

    @property
    def has_hessian(self):
        """True when f'' is known (``fs.estimate(..., order=2, estimator="pathwise")``
        then uses it; otherwise the mixed estimator, which needs f' only)."""
        return self._hess is not None

    def hess_numpy(self, x3, plan):
        """f'' on samples x3 (m, batch_size, E) -> (m, batch_size, E, E)."""
        self._check(plan)
        return self._hess(np.asarray(x3, dtype=np.float64), plan)


class power(Function):
    """f(x) = x ** k.

    Parameters
    ----------
    k : float
        The power, finite.

    Raises
    ------
    TypeError
        Where k is not a real number.
    ValueError
        Where k is not finite.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.fn.power(2)
    fastscore.fn.power(2.0)
    """

    kind = "power"

    def __init__(self, k):
        self.k = _real("power: k", k)

    def _repr(self):
        return "power(%r)" % self.k

    def _spec(self, plan):
        return _kernels.FunctionSpec("power", a=self.k)

    def _numpy(self, x3, plan):
        x = x3[:, :, 0]
        if self.k == 2.0:
            return x * x
        if self.k == 1.0:
            return x.copy()
        return np.power(x, self.k)

    def _grad(self, x3, plan):
        # k x^(k-1)
        if self.k == 2.0:
            return 2.0 * x3
        if self.k in (0.0, 1.0):
            return np.full_like(x3, self.k)
        return self.k * np.power(x3, self.k - 1.0)

    def _hess(self, x3, plan):
        # k (k - 1) x^(k-2)
        k = self.k
        if k in (0.0, 1.0):
            out = np.zeros_like(x3)
        elif k == 2.0:
            out = np.full_like(x3, 2.0)
        else:
            out = (k * (k - 1.0)) * np.power(x3, k - 2.0)
        return out[..., None]


class linear(Function):
    """f(x) = a . x + b (a scalar, or an array of the event shape).

    The sum (``a = 1``) or a linear form of a joint sample: on an
    ``fs.Independent`` of a scalar family the kernels evaluate it themselves,
    at O(D) per sample.

    Parameters
    ----------
    a : float or array_like, default 1.0
        The coefficients: a scalar for every coordinate, or an array of the
        event shape; finite.
    b : float, default 0.0
        The offset, finite.

    Raises
    ------
    TypeError
        Where ``a`` or ``b`` are not real numbers.
    ValueError
        Where they are not finite, or (at the estimate) ``a`` has neither
        shape () nor the event shape.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.fn.linear(2.0, 1.0)
    fastscore.fn.linear(a=2.0, b=1.0)
    """

    kind = "linear"
    scalar_only = False

    def __init__(self, a=1.0, b=0.0):
        arr = _real_array("linear: a", a)
        if not np.all(np.isfinite(arr)):
            raise ValueError("linear: a must be finite")
        self.a = arr
        self.b = _real("linear: b", b)

    def _repr(self):
        a = float(self.a) if self.a.ndim == 0 else self.a.tolist()
        return "linear(a=%r, b=%r)" % (a, self.b)

    def _coef(self, plan):
        E = max(plan.event_size, 1)
        if self.a.ndim == 0:
            return np.full(E, float(self.a))
        if self.a.shape != tuple(plan.event_shape):
            raise ValueError("linear: a must be a scalar or have the event shape %s; got %s"
                             % (plan.event_shape, self.a.shape))
        return self.a.reshape(-1)

    def _check(self, plan):
        pass

    def _spec(self, plan):
        return _kernels.FunctionSpec("linear", b=self.b, values=self._coef(plan))

    def _numpy(self, x3, plan):
        coef = self._coef(plan)
        if coef.size == 1:
            return coef[0] * x3[:, :, 0] + self.b
        acc = np.zeros(x3.shape[:2])
        for e in range(coef.size):  # same order of additions as the kernel
            acc = acc + coef[e] * x3[:, :, e]
        return acc + self.b

    def _grad(self, x3, plan):
        return np.broadcast_to(self._coef(plan), x3.shape).copy()

    def _hess(self, x3, plan):
        return np.zeros(x3.shape + (x3.shape[-1],))


class call(Function):
    """Call payoff f(x) = max(x - strike, 0).

    Parameters
    ----------
    strike : float
        The strike, finite.

    Raises
    ------
    TypeError
        Where ``strike`` is not a real number.
    ValueError
        Where ``strike`` is not finite.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.fn.call(100.0)
    fastscore.fn.call(strike=100.0)
    """

    kind = "call"
    no_second_derivative = ("has a kink at the strike: its second derivative is a point mass "
                            "there, which a pathwise Hessian would miss")

    def __init__(self, strike):
        self.strike = _real("call: strike", strike)

    def _repr(self):
        return "call(strike=%r)" % self.strike

    def _spec(self, plan):
        return _kernels.FunctionSpec("call", a=self.strike)

    def _numpy(self, x3, plan):
        return np.maximum(x3[:, :, 0] - self.strike, 0.0)

    def _grad(self, x3, plan):
        # the slope 1[x > strike] (0 at the kink, a set of probability 0)
        return (x3 > self.strike).astype(np.float64)


class put(Function):
    """Put payoff f(x) = max(strike - x, 0).

    Parameters
    ----------
    strike : float
        The strike, finite.

    Raises
    ------
    TypeError
        Where ``strike`` is not a real number.
    ValueError
        Where ``strike`` is not finite.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.fn.put(100.0)
    fastscore.fn.put(strike=100.0)
    """

    kind = "put"
    no_second_derivative = ("has a kink at the strike: its second derivative is a point mass "
                            "there, which a pathwise Hessian would miss")

    def __init__(self, strike):
        self.strike = _real("put: strike", strike)

    def _repr(self):
        return "put(strike=%r)" % self.strike

    def _spec(self, plan):
        return _kernels.FunctionSpec("put", a=self.strike)

    def _numpy(self, x3, plan):
        return np.maximum(self.strike - x3[:, :, 0], 0.0)

    def _grad(self, x3, plan):
        return np.where(x3 < self.strike, -1.0, 0.0)


class indicator(Function):
    """f(x) = 1 if lo <= x <= hi else 0 (closed interval; use +-inf for one side).

    Parameters
    ----------
    lo, hi : float, default -inf and inf
        The interval's ends, lo <= hi.

    Raises
    ------
    ValueError
        Where ``lo`` or ``hi`` is not a real number (NaN included), or lo > hi.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.fn.indicator(0.0, float("inf"))
    fastscore.fn.indicator(lo=0.0, hi=inf)
    """

    kind = "indicator"
    no_derivative = ("is a step: its derivative is 0 almost everywhere, so a pathwise "
                     "gradient would miss the jumps and be silently 0")

    def __init__(self, lo=-np.inf, hi=np.inf):
        for nm, v in (("lo", lo), ("hi", hi)):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or np.isnan(v):
                raise ValueError("indicator: %s must be a real number (+-inf allowed), got %r"
                                 % (nm, v))
        if lo > hi:
            raise ValueError("indicator: lo must be <= hi, got lo=%r, hi=%r" % (lo, hi))
        self.lo, self.hi = float(lo), float(hi)

    def _repr(self):
        return "indicator(lo=%r, hi=%r)" % (self.lo, self.hi)

    def _spec(self, plan):
        return _kernels.FunctionSpec("indicator", a=self.lo, b=self.hi)

    def _numpy(self, x3, plan):
        x = x3[:, :, 0]
        return ((x >= self.lo) & (x <= self.hi)).astype(np.float64)


class table(Function):
    """f(x) = values[..., x] for a discrete sample x (values on the last axis).

    ``values`` has shape (V,) to serve every batch element, or
    (*batch_shape, V) (broadcastable) for per-element rewards, as in a
    policy gradient with per-state rewards.  A sample x outside 0..V-1 is an
    error (ValueError).

    On a relaxed sample (fs.RelaxedBernoulli, fs.RelaxedCategorical, and the
    relaxation estimators "concrete" and "rebar") the table is extended
    linearly, f(y) = sum_k y_k values_k on the simplex and values_0 + y
    (values_1 - values_0) on [0, 1], which equals the table at the hard
    samples (the vertices) and has the derivative the relaxations need.

    Parameters
    ----------
    values : array_like of shape (V,) or (*batch_shape, V)
        The value of each support point 0..V-1, finite.

    Raises
    ------
    TypeError
        Where ``values`` are not real numbers.
    ValueError
        Where ``values`` are ragged, empty on the last axis or not finite, or
        (at the estimate) do not broadcast to the batch shape, or a sample lies
        outside 0..V-1.

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Categorical(logits=[0.0, 0.0, 0.0])
    >>> est = fs.estimate(d, fs.fn.table([1.0, 2.0, 3.0]), n=10_000, rng=0)
    >>> round(float(est.value), 1)
    2.0
    """

    kind = "table"
    no_derivative = "is a function of discrete samples, which have no derivative"
    derivative_on_relaxed = True

    def __init__(self, values):
        arr = _real_array("table: values", values)
        if arr.ndim < 1 or arr.shape[-1] < 1:
            raise ValueError("table: values need at least one entry on the last axis; got "
                             "shape %s" % (arr.shape,))
        if not np.all(np.isfinite(arr)):
            raise ValueError("table: values must be finite")
        self.values = arr

    def _repr(self):
        return "table(shape=%s)" % (self.values.shape,)

    def _check(self, plan):
        if getattr(plan, "relaxed", False):
            V = max(plan.event_size, 2)
            if self.values.shape[-1] != V:
                raise ValueError("table: on the relaxed samples of %s, values needs %d entries "
                                 "on its last axis (one per category); got %d"
                                 % (plan.name, V, self.values.shape[-1]))
            return
        Function._check(self, plan)
        if not plan.integer_valued:
            raise ValueError("f: fastscore.fn.table needs a discrete distribution; %s is "
                             "continuous" % plan.name)

    def _rows(self, plan):
        V = self.values.shape[-1]
        if self.values.ndim == 1:
            return self.values.reshape(1, V), 0
        try:
            rows = np.broadcast_to(self.values, tuple(plan.batch_shape) + (V,))
        except ValueError:
            raise ValueError("table: values of shape %s do not broadcast to batch shape %s "
                             "+ (V,)" % (self.values.shape, plan.batch_shape)) from None
        return np.ascontiguousarray(rows).reshape(-1, V), V

    def _spec(self, plan):
        rows, bstride = self._rows(plan)
        kind = "table_linear" if getattr(plan, "relaxed", False) else "table"
        return _kernels.FunctionSpec(kind, values=rows, table_bstride=bstride)

    def _linear_rows(self, x3, plan):
        """The table's rows broadcast to each sample's batch element: (1 or m, B, V)."""
        rows, bstride = self._rows(plan)
        return np.broadcast_to(rows[None], (1, plan.batch_size, rows.shape[1]))

    def _numpy(self, x3, plan):
        if getattr(plan, "relaxed", False):
            rows = self._linear_rows(x3, plan)
            if x3.shape[2] == 1:
                return rows[..., 0] + x3[:, :, 0] * (rows[..., 1] - rows[..., 0])
            acc = np.zeros(x3.shape[:2])
            for e in range(x3.shape[2]):  # the kernel's order of additions
                acc = acc + x3[:, :, e] * rows[..., e]
            return acc
        rows, bstride = self._rows(plan)
        V = rows.shape[1]
        x = x3[:, :, 0]
        idx = x.astype(np.int64)
        ok = (x >= 0) & (idx < V) & (idx == x)
        idx = np.where(ok, idx, 0)
        if bstride == 0:
            out = rows[0][idx]
        else:
            out = np.take_along_axis(rows, idx.T, axis=1).T
        return np.where(ok, out, np.nan)

    def _grad(self, x3, plan):
        rows = self._linear_rows(x3, plan)
        if x3.shape[2] == 1:
            return np.broadcast_to((rows[..., 1] - rows[..., 0])[..., None], x3.shape).copy()
        return np.broadcast_to(rows, x3.shape).copy()

    def on_support(self, plan):
        """f on the support {0, ..., V-1} of a finite family: (batch_size, V)."""
        self._check(plan)
        self.check_support(plan)
        sup = plan.support
        V = sup.size
        if not np.array_equal(sup, np.arange(V)):
            return np.ascontiguousarray(self.numpy(
                np.broadcast_to(sup[:, None, None], (V, plan.batch_size, 1)), plan).T)
        rows, _ = self._rows(plan)
        return np.ascontiguousarray(np.broadcast_to(rows[:, :V], (plan.batch_size, V)))

    def check_support(self, plan):
        """Raise ValueError if the table is shorter than a finite support."""
        sup = plan.support
        if sup is not None and self.values.shape[-1] < sup.size:
            raise ValueError("table: values has %d entries on its last axis but %s has %d "
                             "support values" % (self.values.shape[-1], plan.name, sup.size))
