"""The interface between distributions and backends: a per-distribution plan.

A :class:`Plan` is everything a backend (compiled or reference) and an
estimator kind need to know of a distribution: its kernel family, its
named constants per batch element, its shapes, whether its support is
counted, and the NumPy twins of its sampler and score.  Distributions
build their plan once (``Distribution.plan()``).  Backends never look
inside a Distribution.
"""

import numpy as np

from . import _specs


class _Lazy:
    """A plan attribute given as a function, computed at its first read and kept.

    The measure-valued and IndeCateR constants cost microseconds per plan, and a
    training loop builds a distribution (and its plan) on every step while most
    estimators never read them.  A non-data descriptor: the value, once computed
    (or given as a value), lives in the instance's __dict__ and hides it.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj._pending[self.name]()
        obj.__dict__[self.name] = value
        return value


class Shapes:
    """A plan's shapes, as the kernels and the f kinds ask for them, from its
    ``layout`` and ``params`` (a family's plan and a joint distribution's alike)."""

    @property
    def batch_shape(self):
        return self.layout.batch_shape

    @property
    def event_shape(self):
        return self.layout.event_shape

    @property
    def batch_size(self):
        return self.layout.batch_size

    @property
    def event_size(self):
        return self.layout.event_size

    @property
    def E(self):
        """Numbers per event in the kernel layout: max(event_size, 1)."""
        return self.layout.E

    @property
    def integer_valued(self):
        return self.layout.integer_valued

    @property
    def score_size(self):
        """Score components P (every differentiable parameter, flattened)."""
        return self.params.size


class Plan(Shapes):
    """A distribution as the backends see it.

    Attributes
    ----------
    name : str
        The distribution's class name, for error messages.
    family : fastscore._specs.Family
        The kernel family; ``family.id`` is the kernel id.
    inline_family : fastscore._specs.Family
        The kernel family used with f evaluated inline.  It is ``family``
        except for LogNormal, whose inline loop keeps log x.
    consts : ndarray (batch_size, n_consts), float64, C-contiguous
        The family's constants per batch element, in the order of
        ``family.consts`` (fastscore.distributions packs them by name).  Read
        them by name with :meth:`const`.
    layout : fastscore._layout.SampleLayout
        Batch and event shapes, kernel layout (m, batch_size, E) <-> user layout.
    params : fastscore._layout.ParamLayout
        The differentiable parameters, as score or gradient components.
    support : ndarray (V,) or None
        The support values when the kernels count a finite support, else None.
    measure_wave : callable or None
        For a family whose measure-valued estimator runs in NumPy waves
        (MultivariateNormal): ``measure_wave(values, x3, aux)`` -> (f, terms),
        with ``values(points)`` f on kernel-layout points and ``aux(draw)`` the
        auxiliary draws per chunk (fastscore._wrapped.AuxDraws).
    support_probs : ndarray (batch_size, V) or None
        For a counted family, each support value's probability (IndeCateR's
        exact expectations).
    onehot : (a, b) or None
        For a family whose score on the support is one-hot, s_k(v) = [v = k]
        a_k - b_k: the coefficients, each (batch_size, V); a is None when all
        a_k are 1.  Counts then go to estimates in closed form.
    score : callable (x3) -> ndarray (m, batch_size, P)
        Score components on kernel-layout samples, in NumPy.
    check_support : callable (x3) -> None
        Raises ValueError for a sample outside the support (a no-op with
        validate_args=False).
    pathwise : callable (x3, gp3) -> ndarray (m, batch_size, P), or None
        The pathwise terms f'(x) . dx/dtheta_j from samples and f' at them
        (gp3 (m, batch_size, E)), in NumPy; None for a family without a
        reparameterisation.
    measure_coef : ndarray (batch_size, P) or None
        The constants c_j of the weak derivatives dp/dtheta_j = c_j (p+ - p-)
        (NaN for a parameter without one); None for a family without any.
    measure_support : (plus, minus) or None
        For a counted family, the weak derivatives' points as support indices,
        each (batch_size, P); minus -1 stands for the sample itself.
    relaxed : bool
        The samples are a continuous relaxation of a discrete family's
        (fn.table then extends linearly).
    f_input : callable (x3) -> x3 or None
        What f sees of samples, in NumPy, for a family whose kernel has an f
        input (the straight-through hard sample); None: the samples.
    rebar : (draw, terms) or None
        REBAR's NumPy twins: draw(gen, c, m) -> (f-points (2, m, E),
        f'-points (2, m, E), aux (m, E + 2)); terms(F, G, Y, aux) -> (A, C),
        each (m, batch_size, P), from f at the f-points F (2, m, B), f' G and
        the f'-points Y (2, m, B, E).
    """

    support_probs = _Lazy()
    measure_coef = _Lazy()
    measure_support = _Lazy()

    def __init__(self, name, family, consts, layout, params, *, inline_family=None,
                 support=None, onehot=None, draw=None, score=None, check_support=None,
                 pathwise=None, measure_draw=None, measure_coef=None, measure_support=None,
                 relaxed=False, rebar=None, f_input=None, support_probs=None,
                 measure_wave=None):
        self.name = name
        self.family = _specs.BY_NAME[family] if isinstance(family, str) else family
        self.inline_family = (self.family if inline_family is None
                              else _specs.BY_NAME[inline_family])
        self.layout = layout
        self.params = params
        self.consts = consts
        self.support = support
        self._pending = {}  # _Lazy attributes given as functions
        for name, value in (("support_probs", support_probs), ("measure_coef", measure_coef),
                            ("measure_support", measure_support)):
            if callable(value):
                self._pending[name] = value
            else:
                self.__dict__[name] = value
        self.measure_wave = measure_wave
        self.onehot = onehot
        self._draw = draw
        self.score = score
        self.check_support = check_support if check_support is not None else (lambda x3: None)
        self.pathwise = pathwise
        self._measure_draw = measure_draw
        self.relaxed = relaxed
        self.rebar = rebar
        self.f_input = f_input
        self._offsets = self.family.offsets(layout.E, self.consts.shape[1])[0]

    @property
    def counted(self):
        """True when the kernels count a finite support (the sufficient statistic)."""
        return self.support is not None

    @property
    def slots(self):
        """The capabilities estimator kinds ask for (its kernel family's)."""
        return self.family.slots

    def const(self, name):
        """Constant ``name`` of every batch element: (batch_size,) or (batch_size, size)."""
        a, b, scalar = self._offsets[name]
        return self.consts[:, a] if scalar else self.consts[:, a:b]

    def draw(self, gen, b, m):
        """The sampler's NumPy twin: m samples (m, E) of batch element b from Generator ``gen``.

        Exactly what the kernel draws from the same stream.
        """
        return self._draw(gen, self.consts_of(b), m)

    def variant(self, family, consts=None, **changes):
        """This plan with another kernel family (same layout and parameters).

        ``consts`` (name -> array) replaces the constants when the family's
        differ; ``changes`` replace attributes (e.g. the measure twins).
        """
        import copy

        out = copy.copy(self)
        out.family = out.inline_family = _specs.BY_NAME[family]
        if consts is not None:
            out.consts = pack(out.family, consts, self.batch_size, self.E)
        out._offsets = out.family.offsets(self.E, out.consts.shape[1])[0]
        for k, v in changes.items():
            if k in ("measure_draw", "draw"):
                k = "_" + k
            setattr(out, k, v)
        return out

    def measure_draw(self, gen, b, m):
        """The measure-valued draw's NumPy twin: (m, Q) points of batch element b.

        Sample by sample, exactly as the kernel draws them from the same stream.
        """
        return self._measure_draw(gen, self.consts_of(b), m)

    def consts_of(self, b):
        """{name: value} of batch element b (floats, or arrays for vector constants)."""
        row = self.consts[b]
        return {nm: row[lo] if scalar else row[lo:hi]
                for nm, (lo, hi, scalar) in self._offsets.items()}


def pack(family, consts, batch_size, E):
    """The named constants in the family's row order: (batch_size, n_consts) float64."""
    if len(consts) != len(family.consts):
        raise AssertionError("family %r has constants %s, got %s"
                             % (family.name, family.consts, sorted(consts)))
    # a "[V]" constant (the last) spans the rest of the row: its width is its own
    V = np.shape(consts[family.const_fields()[-1][0]])[-1] if family.row_sized else 0
    offsets, width = family.offsets(E, V)
    out = np.empty((batch_size, width))
    for nm, value in consts.items():
        lo, hi, scalar = offsets[nm]
        if scalar:
            out[:, lo] = value
        else:
            out[:, lo:hi] = value
    return out
