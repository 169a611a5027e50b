"""Distributions: parameters, constraints, batch shapes and closed-form scores.

One small declarative class per family.  Each class

* checks and broadcasts its parameters (names as in torch.distributions);
* names its kernel family (fastscore/_specs.py) and computes that family's
  constants once per batch element, by name (:meth:`Distribution._constants`);
* implements the NumPy twins of its sampler (drawing exactly what the
  kernel draws from the same stream), its score and its log-density, which
  the reference backend and :func:`fastscore.score` use.

:meth:`Distribution.plan` packs all of this into the
:class:`~fastscore._plan.Plan` that the backends work from.

Scores are taken with respect to the parameters the user passed.  A
``Bernoulli(logits=...)`` has a ``"logits"`` gradient, a
``Bernoulli(probs=...)`` a ``"probs"`` one.
"""

import math

import numpy as np
from scipy import special, stats

from . import _entropy, _fisher, _implicit_ref, _logspace, _specs
from ._layout import ParamLayout, SampleLayout
from ._plan import Plan, pack

__all__ = [
    "Distribution", "Normal", "Bernoulli", "Categorical", "Poisson", "LogNormal",
    "Exponential", "Gamma", "Beta", "Dirichlet", "Binomial", "Geometric",
    "NegativeBinomial", "MultivariateNormal", "VonMises", "Chi2", "RelaxedBernoulli",
    "RelaxedCategorical", "Laplace",
]

#: numpy's largest Poisson rate (its samples are int64): 2**63 - 1 - 10 sqrt(2**63 - 1).
POISSON_LAM_MAX = float(np.iinfo(np.int64).max) - math.sqrt(float(np.iinfo(np.int64).max)) * 10
#: The largest event (Dirichlet K, MultivariateNormal D): the kernels draw a
#: block of events into a fixed buffer of 4096 doubles.
MAX_EVENT_SIZE = 2048
#: Geometric probs below this draw samples beyond the int64 range.
GEOMETRIC_MIN_PROBS = 1e-16
#: An estimate needs samples whose noise float64 resolves: a scale at least this
#: fraction of |loc| keeps 2^20 levels of it (at loc = 1e17 and scale 1 every sample
#: rounds to loc, and every gradient to 0 +- 0).
MIN_RELATIVE_SCALE = 2.0 ** -32
#: The measure-valued estimators of the integer families need x and x + 1 apart:
#: samples below 2^52 (mean + 20 standard deviations, the draws that occur).
MAX_COUPLED_INTEGER = 2.0 ** 52
#: Binomial families with at most this many support values use the count path.
BINOMIAL_COUNT_LIMIT = 1024


class Distribution:
    """Base class: a batch of independent distributions of one family.

    ``validate_args=True`` (the default) checks the parameters at
    construction, and samples given to ``score`` or ``log_prob`` against the
    support; ``False`` skips both.  Drawing samples checks the parameters once
    per distribution either way, since numpy's samplers loop forever or
    overflow on invalid ones.

    Subclasses declare ``family`` (a kernel family of fastscore/_specs.py),
    ``event_ndim`` and ``integer_valued``, and implement the methods listed
    above ``_param_slots()``; CONTRIBUTING.md walks through adding one.

    Parameters
    ----------
    params : dict of str -> array_like
        The parameters passed, with a gradient (the families' keyword
        arguments: ``loc``, ``scale``, ``probs`` or ``logits``, ...).
    validate_args : bool, default True
        Check the parameters at construction and samples against the support.
    fixed : dict of str -> array_like, optional
        Parameters without a gradient (``total_count``).

    Attributes
    ----------
    batch_shape : tuple of int
        The shape of the batch of independent distributions (the parameters'
        broadcast shape, less the event's axes).
    event_shape : tuple of int
        The shape of one sample: () for the scalar families, (K,) for
        Dirichlet, (D,) for MultivariateNormal.
    validate_args : bool
        Whether parameters and samples are checked (see above).

    Raises
    ------
    TypeError
        Where a parameter is None or not an array of real numbers.
    ValueError
        Where a parameter breaks its family's rule or the parameters do not
        broadcast.

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Gamma(concentration=2.0, rate=[1.0, 3.0])
    >>> isinstance(d, fs.Distribution), d.batch_shape, d.event_shape
    (True, (2,), ())
    """

    family = None  # kernel family name (fastscore/_specs.py); probs/logits set it per instance
    inline_family = None  # a kernel variant for inline f, where one exists
    log_space_family = None  # the score's kernel variant for small concentrations, if any
    event_ndim = 0
    integer_valued = False
    relaxed = False  # a continuous relaxation of a discrete family

    def __init_subclass__(cls, **kwargs):
        # the families' shared docstring sections, written once (_RAISES, _ENTROPY_RETURNS)
        super().__init_subclass__(**kwargs)
        doc = cls.__dict__.get("__doc__")
        if doc and "{raises" in doc:
            cls.__doc__ = (doc.replace("    {raises: probs or logits}\n", _RAISES % (
                " or both or neither of\n        probs and logits are given"))
                .replace("    {raises}\n", _RAISES % ""))
        entropy = cls.__dict__.get("entropy")
        if entropy is not None and entropy.__doc__ and "{entropy returns}" in entropy.__doc__:
            entropy.__doc__ = entropy.__doc__.replace("        {entropy returns}\n",
                                                      _ENTROPY_RETURNS)

    def __init__(self, params, validate_args=True, fixed=None):
        self.validate_args = bool(validate_args)
        self._drawable = self.validate_args  # see _check_drawable
        self._differentiable = {}  # parameters passed, with a gradient: name -> float64 array
        self._fixed = {}  # parameters without a gradient (total_count)
        for name, value in (fixed or {}).items():
            self._fixed[name] = self._as_float_array(name, value)
        for name, value in params.items():
            if value is None:
                raise TypeError("%s: parameter %r is required, got None" % (self._name, name))
            self._differentiable[name] = self._as_float_array(name, value)
        self._setup()
        self._plan = None
        self._score_plan = None

    def _check_resolution(self, estimator):
        """Raise ValueError where float64 samples cannot resolve what ``estimator`` needs
        (a sample rounded to its mean; coupled points that round to one number), so
        that no gradient is reported as 0 +- 0 when rounding ate it.  Families whose
        parameters can get there override it."""

    def _check_drawable(self):
        """Check the parameters once before samples are drawn, validate_args or not.

        numpy's samplers loop forever (Beta with a negative concentration) or
        overflow int64 (a Poisson rate beyond 9.2e18) outside their domain, so
        drawing never skips the checks: with ``validate_args=False`` they run
        at the first draw instead of at construction.
        """
        if not self._drawable:
            type(self)(**self._fixed, **self._differentiable)  # raises what construction would
            self._drawable = True

    # -- parameter handling ---------------------------------------------
    @property
    def _name(self):
        return type(self).__name__

    def _as_float_array(self, name, value):
        if type(value).__module__.split(".")[0] in ("torch", "jax", "jaxlib", "tensorflow"):
            lib = type(value).__module__.split(".")[0]
            bridge = {"torch": "fastscore.torch", "jax": "fastscore.jax",
                      "jaxlib": "fastscore.jax"}.get(lib)
            try:
                arr = np.asarray(value)
            except Exception as exc:
                raise TypeError("%s: parameter %r is a %s.%s, which fastscore's distributions "
                                "do not take (%s); pass a NumPy array (e.g. "
                                "t.detach().cpu().numpy()), or use %s, whose gradients flow "
                                "back to %s"
                                % (self._name, name, type(value).__module__,
                                   type(value).__name__, exc, bridge or "NumPy arrays",
                                   lib)) from None
        try:
            arr = np.asarray(value)
        except Exception as exc:  # exotic array-likes
            raise TypeError("%s: parameter %r could not be read as an array: %s"
                            % (self._name, name, exc)) from None
        if arr.dtype.kind not in "biuf":
            raise TypeError("%s: parameter %r must be real numbers, got dtype %s"
                            % (self._name, name, arr.dtype))
        arr = arr.astype(np.float64)
        # -0.0 as +0.0: a signed zero is one point of the parameter space, not two
        # (Binomial(probs=-0.0) gave a NaN entropy and a -inf Fisher information)
        arr += 0.0
        if self.validate_args:
            self._require(name, arr, np.isfinite(arr), "finite")
        return arr

    def _require(self, name, arr, ok, rule):
        """Raise ValueError naming the first element of ``arr`` where ``ok`` is False."""
        ok = np.asarray(ok)
        if not ok.all():  # the method, not np.all: this runs per parameter per construction
            idx = np.unravel_index(int(np.argmin(np.ravel(ok))), np.shape(ok))
            bad = np.asarray(arr)[idx] if np.ndim(arr) else arr
            where = "" if np.ndim(ok) == 0 else " at index %s" % (tuple(int(i) for i in idx),)
            raise ValueError("%s: parameter %r must be %s; got %r%s"
                             % (self._name, name, rule, _scalar(bad), where))

    def _param(self, name):
        """A parameter by name, differentiable or fixed."""
        return self._differentiable[name] if name in self._differentiable else self._fixed[name]

    def _broadcast(self, names, event_dims=None):
        """Broadcast the named parameters' batch parts; returns batch_shape."""
        event_dims = event_dims or {}
        shapes = []
        for nm in names:
            a = self._param(nm)
            ed = event_dims.get(nm, 0)
            shapes.append(a.shape[: a.ndim - ed] if ed else a.shape)
        if all(sh == shapes[0] for sh in shapes):  # the common case, without numpy's cost
            return shapes[0]
        try:
            return np.broadcast_shapes(*shapes)
        except ValueError:
            desc = ", ".join("%s with batch shape %s" % (nm, sh) for nm, sh in zip(names, shapes))
            raise ValueError("%s: parameters do not broadcast: %s" % (self._name, desc)) from None

    # -- public description -------------------------------------------
    @property
    def param_names(self):
        """Names of the parameters the user passed, in score order."""
        return tuple(self._differentiable)

    @property
    def batch_size(self):
        return math.prod(self.batch_shape)

    @property
    def event_size(self):
        return math.prod(self.event_shape)

    def param_shape(self, name):
        """Shape of the gradient for parameter ``name``: batch_shape + its event part."""
        return self.plan().params.shape(name)

    @property
    def score_size(self):
        """Number of score components P (all parameters, flattened)."""
        return self.plan().score_size

    @property
    def finite_support(self):
        """True when the support is finite and the kernels count it."""
        return self.plan().counted

    def support(self):
        """Support values (V,) of a counted finite-support family, else None."""
        return self.plan().support

    def __repr__(self):
        parts = []
        for nm, a in list(self._fixed.items()) + list(self._differentiable.items()):
            parts.append("%s=%s" % (nm, _short(a)))
        return "%s(%s)" % (self._name, ", ".join(parts))

    # -- the plan: what the backends see --------------------------------
    def plan(self):
        """The :class:`~fastscore._plan.Plan` of this distribution (built once)."""
        if self._plan is None:
            layout = SampleLayout(self.batch_shape, self.event_shape, self.integer_valued)
            family = _specs.BY_NAME[self.family]
            self._plan = Plan(
                self._name, family, pack(family, self._constants(), layout.batch_size, layout.E),
                layout, ParamLayout(self.batch_shape, self._param_slots()),
                inline_family=self.inline_family, support=self._support_values(),
                support_probs=self._support_probs, onehot=self._onehot(),
                draw=self._draw_numpy, score=self._score_numpy,
                check_support=self._check_support if self.validate_args else None,
                pathwise=self._pathwise_numpy, measure_draw=self._measure_draw_numpy,
                measure_coef=self._measure_coef, measure_support=self._measure_support,
                measure_wave=self._measure_wave_numpy,
                relaxed=self.relaxed,
                rebar=(self._rebar_draw_numpy, self._rebar_terms_numpy)
                if self._rebar_draw_numpy is not None else None)
        return self._plan

    def score_plan(self):
        """The plan the score-function estimator runs (built once).

        :meth:`plan`, except for Gamma, Beta, Chi2 and Dirichlet with a
        concentration below 1 (Chi2: df below 2), where samples underflow to
        0 although log x is an ordinary number: there the kernels run the
        ``<family>_log`` variant, which draws the same samples for f and
        keeps log x for the score where x underflows (fastscore._logspace).
        """
        if self._score_plan is None:
            plan = self.plan()
            if self.log_space_family is not None and self._small_concentration():
                plan = plan.variant(self.log_space_family, draw=self._log_draw_numpy,
                                    score=self._log_score_numpy, f_input=self._log_f_input)
            self._score_plan = plan
        return self._score_plan

    # Subclasses implement:
    #   _setup()                 check and broadcast; set batch_shape, event_shape
    #   _constants()             {name: array (batch_size,) or (batch_size, size)}
    #   _draw_numpy(gen, c, m)   m samples (m, E) of one batch element, c its constants
    #   _score_numpy(x3)         score components (m, B, P) on kernel-layout samples
    #   _log_prob(x3)            log-density (m, B) by scipy.stats
    #   _in_support(x3)          boolean mask, or None when anything goes
    # and where it applies _param_slots, _support_values, _onehot, and the
    # twins of the pathwise and measure-valued slots: _pathwise_numpy(x3, gp3),
    # _measure_draw_numpy(gen, c, m), _measure_coef(), _measure_support().
    def _param_slots(self):
        """[(name, event_shape, packing)] of the differentiable parameters."""
        return [(nm, (), None) for nm in self.param_names]

    def _support_values(self):
        """Support values (V,) when the kernels count the support, else None."""
        return None

    def _onehot(self):
        return None

    def _support_probs(self):
        """Each support value's probability (batch_size, V) for a counted family, else None."""
        return None

    _pathwise_numpy = None  # a method where the family has a reparameterisation
    _measure_wave_numpy = None  # a method where its measure-valued estimator runs in waves
    _measure_draw_numpy = None  # a method where it has weak derivatives
    _rebar_draw_numpy = None  # methods where it has REBAR's slot

    def _measure_coef(self):
        return None

    def _measure_support(self):
        return None

    def _overflow_error(self, flat_index):
        """The ValueError for a draw beyond the float64 range at batch element
        ``flat_index`` (flat): the distribution, the element and its parameters."""
        idx = np.unravel_index(int(flat_index), self.batch_shape) if self.batch_shape else ()
        vals = []
        for nm, a in list(self._fixed.items()) + list(self._differentiable.items()):
            sl = self.plan().params.shape(nm) if nm in self._differentiable else ()
            ev = len(sl) - len(self.batch_shape) if nm in self._differentiable else 0
            full = np.broadcast_to(a, tuple(self.batch_shape) + tuple(a.shape[a.ndim - ev:]
                                                                      if ev else ()))
            vals.append("%s=%s" % (nm, _short(full[idx])))
        where = "" if not self.batch_shape else " at batch element %s" % (tuple(
            int(i) for i in idx),)
        return ValueError("%s: a sample overflowed float64 (it is inf or nan)%s, with %s: "
                          "parameters this extreme put samples beyond +-1.8e308%s"
                          % (self._name, where, ", ".join(vals), self._overflow_rule))

    #: What keeps the family's samples finite, for the message above.
    _overflow_rule = ""

    # -- samples in, scores out ---------------------------------------
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
        plan = self.plan()
        x3, lead = plan.layout.to_kernel(x)
        plan.check_support(x3)
        return plan.params.split(plan.score(x3), lead)

    def log_prob(self, x):
        """log p(x) by scipy.stats, shape (*sample_shape, *batch_shape).

        Parameters
        ----------
        x : array_like of shape (*sample_shape, *batch_shape, *event_shape)
            Points of the support.

        Returns
        -------
        ndarray of shape (*sample_shape, *batch_shape)
            The log-density (continuous families) or log-probability (discrete
            ones) of each point under its batch element.

        Raises
        ------
        ValueError
            Where ``x`` does not end in ``batch_shape + event_shape``, or (with
            ``validate_args=True``) a point lies outside the support.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.Normal(loc=[0.0, 1.0], scale=1.0)
        >>> d.log_prob([[0.0, 1.0]]).shape
        (1, 2)
        >>> bool(np.isclose(d.log_prob([0.0, 1.0])[0], -0.5 * np.log(2 * np.pi)))
        True
        """
        plan = self.plan()
        x3, lead = plan.layout.to_kernel(x)
        plan.check_support(x3)
        return self._log_prob(x3).reshape(tuple(lead) + tuple(self.batch_shape))

    def entropy(self, grad=False):
        """Entropy of each batch element, shape batch_shape, and optionally its gradient.

        The differential entropy -E[log p(x)] of a continuous family, the
        Shannon entropy -sum_x p(x) log p(x) of a discrete one (in nats).  Every
        family implements it (RelaxedBernoulli and RelaxedCategorical raise
        NotImplementedError); see each family's docstring for its formula.

        Parameters
        ----------
        grad : bool, default False
            Also return the gradient of the entropy in each parameter passed.

        Returns
        -------
        value : numpy.float64 or ndarray
            The entropy, of shape batch_shape (a numpy.float64 when batch_shape
            is (), as ``fs.estimate``'s value).
        grads : dict
            With ``grad=True`` only, which returns ``(value, grads)``: {name of a
            parameter passed: the entropy's gradient in it, of shape
            ``param_shape(name)``}, with the names and shapes of ``fs.estimate``'s
            ``grad``.

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Exponential(rate=1.0).entropy(grad=True)
        >>> float(h), sorted(g)
        (1.0, ['rate'])
        """
        raise NotImplementedError("%s.entropy is not implemented" % self._name)

    def _entropy_out(self, value, grads, grad):
        """entropy's result: the value reshaped to batch_shape (a numpy.float64 when it
        is ()), with ``grad`` also {parameter passed: gradient of param_shape}."""
        shape = tuple(self.batch_shape)
        value = np.asarray(value, dtype=np.float64).reshape(shape) + 0.0  # + 0.0: no -0.0
        self._check_closed_form("entropy", [value], [0])
        if not shape:
            value = np.float64(value)
        if not grad:
            return value
        layout = ParamLayout(shape, self._param_slots())
        out = {}
        for nm in self.param_names:
            g = np.asarray(grads[nm], dtype=np.float64)
            target = layout.shape(nm)
            # a flat array of the batch elements, or one that broadcasts
            out[nm] = np.array(g.reshape(target) if g.size == math.prod(target)
                               else np.broadcast_to(g, target)) + 0.0
        self._check_closed_form("entropy", list(out.values()),
                                [len(out[nm].shape) - len(shape) for nm in out])
        return value, out

    def fisher(self):
        """The Fisher information matrix E[s s^T] of the score s in the parameters passed.

        For an exponential family p(x; eta) = h(x) exp(eta . T(x) - A(eta)) it is
        J^T (Hessian of A) J with J = d eta / d theta, theta the parameters the
        user passed (probs or logits, loc and scale, concentration and rate,
        scale_tril, ...); every family writes it in closed form (see its
        ``fisher``).  The components are those of the score: ``est.grad``'s
        keys in order, each parameter flattened in C order, scale_tril by its
        lower triangle row by row, so that component j is
        ``d.plan().score(x3)[..., j]``.

        Returns
        -------
        ndarray
            Shape batch_shape + (P, P), P the number of gradient components
            (``score_size``); symmetric, positive semi-definite (singular for
            Categorical, whose probs are normalised and whose logits are defined
            up to a constant).

        Raises
        ------
        NotImplementedError
            For the relaxed families (RelaxedBernoulli, RelaxedCategorical).

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Normal(loc=0.0, scale=2.0).fisher()
        array([[0.25, 0.  ],
               [0.  , 0.5 ]])
        >>> fs.Bernoulli(logits=[0.0, 0.0]).fisher().shape
        (2, 1, 1)
        """
        raise NotImplementedError("%s.fisher is not implemented" % self._name)

    def _fisher_out(self, F):
        """F broadcast to batch_shape + (P, P), a fresh float64 array (no -0.0)."""
        F = np.asarray(F, dtype=np.float64)
        P = self.score_size
        F = np.array(np.broadcast_to(F, tuple(self.batch_shape) + (P, P))) + 0.0
        self._check_closed_form("fisher", [F], [2])
        return F

    def _check_closed_form(self, what, arrays, event_dims):
        """Raise where a closed form (entropy, fisher) of valid parameters is NaN.

        They follow IEEE arithmetic: +-inf where the exact value is infinite or
        beyond float64 (the Fisher information at probs = 0, a trigamma of 1e-300).
        A NaN is a formula that lost every digit at extreme parameters (inf - inf):
        a ValueError naming the parameters there, rather than a NaN.  With
        validate_args=False invalid parameters give NaN, as documented.
        """
        if not self.validate_args:
            return
        shape = tuple(self.batch_shape)
        bad = np.zeros(shape, dtype=bool)
        for a, ev in zip(arrays, event_dims):
            a = np.asarray(a, dtype=np.float64)
            nan = np.isnan(a)
            if ev:
                nan = nan.reshape(a.shape[:a.ndim - ev] + (math.prod(a.shape[a.ndim - ev:]),)
                                  ).any(axis=-1)
            bad |= np.broadcast_to(nan, shape)
        if not bad.any():
            return
        k = np.unravel_index(int(np.argmax(bad.ravel())), shape) if shape else ()
        vals = []
        for nm in list(self._differentiable) + list(self._fixed):
            v = np.asarray(self._param(nm))
            if v.ndim >= len(shape) and v.shape[:len(shape)] == shape:
                v = v[k]   # this element's
            vals.append("%s=%s" % (nm, _scalar(v) if v.ndim == 0 else
                                   np.array2string(v, threshold=6)))
        raise ValueError("%s.%s: the closed form is not representable in float64 at these "
                         "parameters (%s%s): it loses every digit there"
                         % (self._name, what, ", ".join(vals),
                            " at batch element %s" % (tuple(int(i) for i in k),) if shape
                            else ""))


class _ScalarFamily(Distribution):
    """A family whose parameters are one number per batch element.

    Subclasses list the parameters that must be positive in ``positive``;
    every parameter is broadcast to the batch shape and kept as an attribute
    of its own name.
    """

    positive = ()

    def _setup(self):
        if self.validate_args:
            for nm in self.positive:
                a = self._differentiable[nm]
                # one reduction where all pass; else the elementwise checks name the first
                # bad one (a subnormal's reciprocal overflows: Normal's score at x = loc
                # with scale 5e-324 was 0 * inf = NaN)
                if not (a.size and np.minimum.reduce(a, axis=None) >= _TINY):
                    self._require(nm, a, a > 0, "> 0")
                    self._require(nm, a, a >= _TINY,
                                  "a normal float64, >= 2.2250738585072014e-308 (1 / %s must "
                                  "be finite)" % nm)
        self.batch_shape = self._broadcast(list(self._differentiable))
        self.event_shape = ()
        for nm, a in self._differentiable.items():
            setattr(self, nm, _read_only(a, self.batch_shape))


class _ProbsOrLogits:
    """Families taking exactly one of ``probs`` or ``logits`` (the mixin).

    Bernoulli, Categorical, Binomial, Geometric and NegativeBinomial.  The
    parameter passed is the differentiable one.  Where the kernels score the
    two differently, the kernel family is ``<kernel_base>_probs`` or
    ``<kernel_base>_logits``.
    """

    kernel_base = None  # set for families with a kernel per parameterisation

    @staticmethod
    def _one_of(name, probs, logits):
        """{"probs": probs} or {"logits": logits}; exactly one must be given."""
        if (probs is None) == (logits is None):
            raise ValueError("%s: pass exactly one of probs or logits" % name)
        return {"probs": probs} if logits is None else {"logits": logits}

    @property
    def _by(self):
        """"probs" or "logits": the parameter passed."""
        return self.param_names[-1]

    def _probs_q(self, lo_open=False, hi_open=False):
        """Validate probs (in [0, 1], ends open as asked); (p, q = 1 - p) computed accurately."""
        a = self._differentiable[self._by]
        if self._by == "probs":
            if self.validate_args:
                lo = (a > 0) if lo_open else (a >= 0)
                hi = (a < 1) if hi_open else (a <= 1)
                rule = "in %s0, 1%s" % ("(" if lo_open else "[", ")" if hi_open else "]")
                self._require("probs", a, lo & hi, rule)
            return a, 1.0 - a
        return special.expit(a), special.expit(-a)

    def _log_pq(self):
        """(log p, log(1 - p)) of the parameter passed, broadcast to batch_shape:
        log1p(-probs) from probs, -softplus(-logits) and -softplus(logits) from logits."""
        a = self._differentiable[self._by]
        with np.errstate(divide="ignore", invalid="ignore"):
            if self._by == "probs":
                lp, lq = np.log(a), np.log1p(-a)
            else:
                lp, lq = -np.logaddexp(0.0, -a), -np.logaddexp(0.0, a)
        return np.broadcast_to(lp, self.batch_shape), np.broadcast_to(lq, self.batch_shape)

    def _set_kernel_family(self):
        if self.kernel_base is not None:
            self.family = "%s_%s" % (self.kernel_base, self._by)


def _scalar(v):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()


def _short(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return repr(float(a))
    if a.size <= 6:
        return " ".join(np.array2string(a, separator=", ").split())
    return "array(shape=%s)" % (a.shape,)


def _integers(x3):
    """Non-negative integers: finite ones (inf is no count, and its score is inf)."""
    return (x3 >= 0) & (np.floor(x3) == x3) & np.isfinite(x3)


#: The smallest positive normal float64: a positive parameter's reciprocal is finite above it.
_TINY = np.finfo(np.float64).tiny

#: The Raises section of every family's docstring ("{raises}" there; "{raises: probs or
#: logits}" for the families taking either).
_RAISES = """    Raises
    ------
    ValueError
        Where a parameter breaks its rule (the message names the parameter, the
        rule and the first offending batch index), where the parameters do not
        broadcast%s.
    TypeError
        Where a parameter is missing or is not an array of real numbers.
"""


#: The Returns section of every family's entropy() ("{entropy returns}" there).
_ENTROPY_RETURNS = """        Returns
        -------
        value : numpy.float64 or ndarray
            The entropy in nats, of shape batch_shape (a numpy.float64 when
            batch_shape is ()).
        grads : dict
            With ``grad=True`` only, which returns ``(value, grads)``: {name of a
            parameter passed: the entropy's gradient in it, of shape
            ``param_shape(name)``}, the names and shapes of ``fs.estimate``'s
            ``grad``.
"""


def _read_only(a, shape):
    """``a`` broadcast to ``shape``, read-only: np.broadcast_to's result, but a plain
    read-only view where the shape already matches (a distribution is built on every
    step of a training loop: np.broadcast_to costs microseconds)."""
    if a.shape != shape:
        return np.broadcast_to(a, shape)
    view = a.view()
    view.flags.writeable = False
    return view


def _resolution(dist, name, noise, loc):
    """Raise where a sample's noise is below MIN_RELATIVE_SCALE |loc| (see there)."""
    if np.shape(noise) != np.shape(loc):
        noise, loc = np.broadcast_arrays(noise, loc)
    ok = ~(noise < MIN_RELATIVE_SCALE * np.abs(loc))
    if not ok.all():
        k = np.unravel_index(int(np.argmin(ok.ravel())), ok.shape)
        raise ValueError(
            "%s: parameter %r gives samples a noise of %r beside a loc of %r%s: float64 "
            "keeps fewer than 2^20 levels of it there (samples round to loc itself from "
            "|loc| / noise = 2^52), so the gradients would be lost to rounding; estimate in a "
            "shifted frame instead: loc = 0 and f(x + loc)"
            % (dist._name, name, _scalar(noise[k]), _scalar(loc[k]),
               " at index %s" % (tuple(int(i) for i in k),) if noise.ndim else ""))


def _relative_resolution(dist, name, value, rel, what):
    """Raise where samples' relative noise ``rel`` is below MIN_RELATIVE_SCALE: float64
    rounds every sample to (nearly) one number, so the gradients would be lost to
    rounding and come out 0 +- 0 (Gamma(1e30, 1): the concentration's)."""
    value, rel = np.broadcast_arrays(value, rel)
    ok = ~(rel < MIN_RELATIVE_SCALE)
    if not ok.all():
        k = np.unravel_index(int(np.argmin(ok.ravel())), ok.shape)
        raise ValueError(
            "%s: parameter %r = %r%s gives samples a relative noise of %.3g (%s), below 2^-32: "
            "float64 keeps fewer than 2^20 levels of it, so the gradients would be lost to "
            "rounding" % (dist._name, name, _scalar(value[k]),
                          " at index %s" % (tuple(int(i) for i in k),) if value.ndim else "",
                          float(rel[k]), what))


def _coupled(dist, estimator, name, value, top):
    """Raise for the measure-valued estimators where samples reach MAX_COUPLED_INTEGER."""
    if estimator not in ("measure",):
        return
    value, top = np.broadcast_arrays(value, top)
    ok = ~(top >= MAX_COUPLED_INTEGER)
    if not ok.all():
        k = np.unravel_index(int(np.argmin(ok.ravel())), ok.shape)
        raise ValueError(
            "estimator='measure': %s's samples reach %.3g here (parameter %r = %r%s), past "
            "2^52, where x and x + 1 round to one float64: the coupled points would coincide "
            "and every gradient be 0 +- 0; use estimator='score'"
            % (dist._name, float(top[k]), name, _scalar(value[k]),
               " at index %s" % (tuple(int(i) for i in k),) if value.ndim else ""))


class _LocationScale(_ScalarFamily):
    """A location-scale family, x = loc + scale e for a standard e (Normal, Laplace):
    its parameters (loc finite, scale > 0), kernel constants (loc, scale, 1 / scale)
    and pathwise terms (dx/dloc = 1, dx/dscale = e = (x - loc) / scale)."""

    positive = ("scale",)
    _support_text = "(the real line)"

    def __init__(self, loc, scale, validate_args=True):
        super().__init__({"loc": loc, "scale": scale}, validate_args)

    def _check_resolution(self, estimator):
        _resolution(self, "scale", self.scale, self.loc)

    def _constants(self):
        scale = self.scale.ravel()
        return {"loc": self.loc.ravel(), "scale": scale, "inv_scale": 1.0 / scale}

    def _in_support(self, x3):
        return np.isfinite(x3)

    def _pathwise_numpy(self, x3, gp3):
        # x = loc + scale z: dx/dloc = 1, dx/dscale = z
        plan = self.plan()
        gp = gp3[:, :, 0]
        z = (x3[:, :, 0] - plan.const("loc")) * plan.const("inv_scale")
        return np.stack([gp, gp * z], axis=-1)


class Normal(_LocationScale):
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
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

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

    def _draw_numpy(self, gen, c, m):
        return gen.normal(c["loc"], c["scale"], size=m)[:, None]

    def _score_numpy(self, x3):
        plan = self.plan()
        inv = plan.const("inv_scale")
        z = (x3[:, :, 0] - plan.const("loc")) * inv
        out = np.empty(z.shape + (2,))  # written in place: np.stack's copies cost a policy step
        np.multiply(z, inv, out=out[..., 0])
        zz = np.multiply(z, z, out=z)
        zz -= 1.0
        np.multiply(zz, inv, out=out[..., 1])
        return out

    def _log_prob(self, x3):
        return stats.norm.logpdf(x3[:, :, 0], self.loc.reshape(1, -1), self.scale.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy 1/2 log(2 pi e) + log(scale), shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 0, d/dscale = 1 / scale.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> d = fs.Normal(loc=0.0, scale=[1.0, 2.0])
        >>> d.entropy().round(6)
        array([1.418939, 2.112086])
        >>> h, g = d.entropy(grad=True)
        >>> g["scale"]
        array([1. , 0.5])
        """
        s = self.scale
        return self._entropy_out(_entropy.HALF_LOG_2PIE + np.log(s),
                                 {"loc": np.zeros(s.shape), "scale": 1.0 / s}, grad)

    def fisher(self):
        """Fisher information diag(1 / scale^2, 2 / scale^2) in (loc, scale), shape
        batch_shape + (2, 2) (see :meth:`Distribution.fisher`).

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Normal(1.0, 0.5).fisher()
        array([[4., 0.],
               [0., 8.]])
        """
        v = 1.0 / (self.scale * self.scale)
        return self._fisher_out(_fisher.sym2(v, 0.0, 2.0 * v))

    def _measure_draw_numpy(self, gen, c, m):
        # normal_measure_draw (_families.pxi), sample by sample
        loc, scale = c["loc"], c["scale"]
        out = np.empty((m, 5))
        for i in range(m):
            z = gen.standard_normal()
            w = math.sqrt(2.0 * gen.standard_exponential())
            z2 = gen.standard_normal()
            z3 = gen.standard_normal()
            x = loc + scale * z
            out[i] = (x, loc + scale * w, loc - scale * w,
                      loc + scale * math.copysign(math.sqrt(z * z + z2 * z2 + z3 * z3), z), x)
        return out

    def _measure_coef(self):
        # loc: 1 / (scale sqrt(2 pi)) (Rayleigh parts); scale: 1 / scale (Maxwell against normal)
        scale = self.scale.reshape(-1)
        return np.stack([1.0 / (scale * math.sqrt(2.0 * math.pi)), 1.0 / scale], axis=-1)


class Poisson(_ScalarFamily):
    """Poisson(rate): P(x = k) = rate^k exp(-rate) / k!, k = 0, 1, 2, ...

    Sampled by numpy's ``random_poisson`` (``Generator.poisson``).
    Score: d/drate = x / rate - 1.  Samples are int64.

    Parameters
    ----------
    rate : array_like
        Rate (the mean), > 0 and <= 9.2e18 (``POISSON_LAM_MAX``, numpy's limit:
        samples are int64).
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Poisson(rate=2.0), [4])["rate"]
    array([1.])
    """

    family = "poisson"
    positive = ("rate",)
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, rate, validate_args=True):
        super().__init__({"rate": rate}, validate_args)

    def _setup(self):
        super()._setup()
        if self.validate_args:
            self._require("rate", self.rate, self.rate <= POISSON_LAM_MAX,
                          "<= %.4g (numpy's Poisson sampler: samples are int64)"
                          % POISSON_LAM_MAX)

    def _check_resolution(self, estimator):
        rate = np.broadcast_to(self._differentiable["rate"], self.batch_shape)
        _coupled(self, estimator, "rate", rate, rate + 20.0 * np.sqrt(rate))

    def _constants(self):
        rate = self.rate.ravel()
        return {"rate": rate, "inv_rate": 1.0 / rate}

    def _draw_numpy(self, gen, c, m):
        return gen.poisson(c["rate"], size=m).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return _integers(x3)

    def _score_numpy(self, x3):
        return (x3[:, :, 0] * self.plan().const("inv_rate") - 1.0)[:, :, None]

    def _log_prob(self, x3):
        return stats.poisson.logpmf(x3[:, :, 0], self.rate.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over k = 0, 1, 2, ..., shape batch_shape.

        There is no closed form.  Below a rate of 1e7 (``ASYMPTOTIC_VARIANCE``
        of fastscore._entropy) it is the sum over every k from 0 up to where the
        Chernoff bound leaves less than 1e-20 of the mass out (some 90 standard
        deviations at most), with log p_k in Loader's saddle-point form, accurate
        at any rate: accurate to about 1e-15 relative.  From a rate of 1e7 on it
        is the expansion 1/2 log(2 pi e rate) - 1/(12 rate) - 1/(24 rate^2),
        whose error there is below 1e-21.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient d/drate = -Cov(X, log p(X)) / rate
            (-sum_k dp_k/drate log p_k).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Poisson([1e-3, 3.0]).entropy(grad=True)
        >>> h.round(6), g["rate"].round(6)
        (array([0.007908, 1.93147 ]), array([6.908448, 0.182431]))
        """
        lam = self.rate.reshape(-1)
        h = np.full(lam.shape, np.nan)  # NaN for invalid rates (validate_args=False)
        g = np.full(lam.shape, np.nan)
        ok = (lam > 0) & (lam < np.inf)
        big = ok & (lam >= _entropy.ASYMPTOTIC_VARIANCE)
        s = ok & ~big
        x = lam[big]
        h[big] = _entropy.HALF_LOG_2PIE + 0.5 * np.log(x) - (1.0 / 12.0 + 1.0 / (24.0 * x)) / x
        g[big] = (0.5 + (1.0 / 12.0 + 1.0 / (12.0 * x)) / x) / x
        lam = lam[s]
        if lam.size:
            lo, hi = _entropy.chernoff_window(lambda a: _entropy.bd0(a, lam), lam, np.sqrt(lam))

            def log_pmf(k, idx):
                m = lam[idx, None]
                k1 = np.maximum(k, 1.0)
                return np.where(k == 0, -m, -_entropy.stirlerr(k1) - _entropy.bd0(k1, m)
                                - 0.5 * np.log(2.0 * math.pi * k1))

            center = np.maximum(_entropy.HALF_LOG_2PIE + 0.5 * np.log(lam), 0.0)
            hs, cov = _entropy.lattice_entropy(lo, hi, lam, log_pmf, center)
            h[s] = hs
            g[s] = -cov / lam
        return self._entropy_out(h, {"rate": g}, grad)

    def fisher(self):
        """Fisher information 1 / rate, shape batch_shape + (1, 1) (see
        :meth:`Distribution.fisher`)."""
        return self._fisher_out((1.0 / self.rate)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = float(gen.poisson(c["rate"]))
            out[i] = (x, x + 1.0, x)
        return out

    def _measure_coef(self):
        return np.ones((self.batch_size, 1))


class Bernoulli(_ProbsOrLogits, Distribution):
    """Bernoulli(probs | logits): P(x = 1) = probs = sigmoid(logits).

    Sampled as ``u < probs`` with u a standard uniform double from the stream
    (``Generator.random() < probs``).  Scores: d/dprobs = x / p - (1 - x) / (1 - p),
    d/dlogits = x - p.  Samples are int64 0/1.

    Parameters
    ----------
    probs : array_like, optional
        Probability of x = 1, in [0, 1].
    logits : array_like, optional
        Log-odds of x = 1, finite: probs = sigmoid(logits).
        Exactly one of ``probs`` and ``logits`` must be given.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Bernoulli(logits=0.0), [1, 0])["logits"]
    array([ 0.5, -0.5])
    """

    family = "bernoulli"
    integer_valued = True
    _support_text = "{0, 1}"

    def __init__(self, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Bernoulli", probs, logits), validate_args)

    def _setup(self):
        a = self._differentiable[self._by]
        if self._by == "probs" and self.validate_args:
            self._require("probs", a, (a >= 0) & (a <= 1), "in [0, 1]")
        self.batch_shape = a.shape
        self.event_shape = ()
        self.probs = a if self._by == "probs" else special.expit(a)
        # 1 - p from the logits: p rounds to 1 above logits of ~37, 1 - p to 0
        self._q = None if self._by == "probs" else special.expit(-a)

    def _constants(self):
        return {"probs": self.probs.reshape(-1)}

    def _draw_numpy(self, gen, c, m):
        return (gen.random(m) < c["probs"]).astype(np.float64)[:, None]

    def _support_values(self):
        return np.array([0.0, 1.0])

    def _support_probs(self):
        q = (special.expit(-self._differentiable["logits"]) if self._by == "logits"
             else 1.0 - self.probs)
        return np.stack([np.broadcast_to(q, self.batch_shape).reshape(-1),
                         self.probs.reshape(-1)], axis=1)

    def _in_support(self, x3):
        return (x3 == 0) | (x3 == 1)

    def _score_numpy(self, x3):
        x = x3[:, :, 0]
        p = self.probs.reshape(1, -1)
        if self._by == "logits":
            # x - p; at x = 1 where p > 1/2 that is q = sigmoid(-logits), computed as
            # such: 1 - p has lost all of q's digits that p could not hold
            q = self._q.reshape(1, -1)
            return np.where((x == 1) & (p > 0.5), q, x - p)[:, :, None]
        with np.errstate(divide="ignore"):
            return np.where(x == 1, 1.0 / p, -1.0 / (1.0 - p))[:, :, None]

    def _log_prob(self, x3):
        return stats.bernoulli.logpmf(x3[:, :, 0], self.probs.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -p log p - (1 - p) log(1 - p), shape batch_shape.

        From logits, with log p = -softplus(-logits) and log(1 - p) =
        -softplus(logits), so that logits of +-40 keep their tiny entropy.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dprobs = log((1 - p) / p) (+inf at p = 0,
            -inf at p = 1), or d/dlogits = -logits p (1 - p).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.Bernoulli(probs=[0.5, 0.0]).entropy().round(6)
        array([0.693147, 0.      ])
        >>> h, g = fs.Bernoulli(logits=40.0).entropy(grad=True)
        >>> float(h) > 0, float(g["logits"]) < 0
        (True, True)
        """
        lp, lq = self._log_pq()
        p = self.probs
        q = 1.0 - p if self._by == "probs" else special.expit(-self._differentiable["logits"])
        with np.errstate(invalid="ignore"):
            h = -(np.where(p > 0, p * lp, 0.0) + np.where(q > 0, q * lq, 0.0))
            g = lq - lp if self._by == "probs" else -self._differentiable["logits"] * (p * q)
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information 1 / (p (1 - p)) in probs (inf at p = 0 or 1), p (1 - p)
        in logits; shape batch_shape + (1, 1) (see :meth:`Distribution.fisher`)."""
        p = self.probs
        q = 1.0 - p if self._by == "probs" else special.expit(-self._differentiable["logits"])
        with np.errstate(divide="ignore"):
            f = 1.0 / (p * q) if self._by == "probs" else p * q
        return self._fisher_out(f[..., None, None])

    def relaxation(self, temperature):
        """The binary Concrete relaxation with this temperature and the same parameter."""
        return RelaxedBernoulli(temperature, **{self._by: self._differentiable[self._by]},
                                validate_args=self.validate_args)

    def antithetic_plan(self, estimator):
        """The plan of the ARM or DisARM estimator (estimator "arm" or "disarm"):
        Bernoulli's weighted antithetic points, in the measure-valued form."""
        p, q = self.probs.reshape(-1), special.expit(-self._differentiable["logits"].reshape(-1)) \
            if self._by == "logits" else 1.0 - self.probs.reshape(-1)
        consts = {"probs": p, "q": q}
        if estimator == "disarm":
            consts["half_max_pq"] = 0.5 * np.maximum(p, q)
        with np.errstate(divide="ignore"):
            coef = np.ones((p.size, 1)) if self._by == "logits" else (1.0 / (p * q))[:, None]
        draw = self._arm_draw_numpy if estimator == "arm" else self._disarm_draw_numpy
        return self.plan().variant("bernoulli_" + estimator, consts, measure_draw=draw,
                                   measure_coef=coef, measure_support=None, support=None)

    def _arm_draw_numpy(self, gen, c, m):
        # bernoulli_arm_measure_draw: (sample, 1[u > q], 1[u < p], u - 1/2)
        u = gen.random(m)
        b = (u < c["probs"]).astype(np.float64)
        return np.stack([b, (u > c["q"]).astype(np.float64), b, u - 0.5], axis=-1)

    def _disarm_draw_numpy(self, gen, c, m):
        # bernoulli_disarm_measure_draw: (b, b, b~, (-1)^b~ [b != b~] max(p, q) / 2)
        u = gen.random(m)
        b = (u < c["probs"]).astype(np.float64)
        bt = (1.0 - u < c["probs"]).astype(np.float64)
        w = np.where(b != bt, (1.0 - 2.0 * bt) * c["half_max_pq"], 0.0)
        return np.stack([b, b, bt, w], axis=-1)

    def _measure_support(self):
        # d/dp E f = f(1) - f(0)
        B = self.batch_size
        return np.ones((B, 1), dtype=np.int64), np.zeros((B, 1), dtype=np.int64)

    def _measure_coef(self):
        p = self.probs.reshape(-1, 1)
        return np.ones_like(p) if self._by == "probs" else p * special.expit(
            -self._differentiable["logits"].reshape(-1, 1))


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
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

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


class LogNormal(Normal):
    """LogNormal(loc, scale): log x ~ Normal(loc, scale).

    Sampled by numpy's ``random_lognormal`` (``Generator.lognormal``).
    Scores, with z = (log x - loc) / scale: d/dloc = z / scale,
    d/dscale = (z^2 - 1) / scale.

    Parameters
    ----------
    loc : array_like
        Mean of log x, finite.
    scale : array_like
        Standard deviation of log x, > 0.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.LogNormal(0.0, 1.0), [1.0])["scale"]
    array([-1.])
    """

    family = "lognormal"
    #: With f inline, the kernel keeps log x from the normal sampler (no log per sample).
    inline_family = "lognormal_y"
    _support_text = "(x > 0)"
    _overflow_rule = (" (x = exp(loc + scale z) is finite for loc + scale z < log(1.8e308) "
                      "= 709.78)")

    def _check_resolution(self, estimator):
        super()._check_resolution(estimator)   # loc + scale z must resolve scale z
        scale = np.broadcast_to(self._differentiable["scale"], self.batch_shape)
        _relative_resolution(self, "scale", scale, scale, "x = exp(loc + scale z) varies by "
                             "a factor exp(scale z)")

    def _draw_numpy(self, gen, c, m):
        return gen.lognormal(c["loc"], c["scale"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 > 0)

    def _score_numpy(self, x3):
        # The Normal score of log x (the kernel computes the same).
        return Normal._score_numpy(self, np.log(x3))

    def _log_prob(self, x3):
        return stats.lognorm.logpdf(x3[:, :, 0], self.scale.reshape(1, -1),
                                    scale=np.exp(self.loc.reshape(1, -1)))

    def entropy(self, grad=False):
        """Differential entropy loc + 1/2 log(2 pi e) + log(scale), shape batch_shape.

        The entropy of log x plus E[log x] = loc (x = exp(y) adds log x to
        -log p).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 1, d/dscale = 1 / scale.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.LogNormal(1.0, 2.0).entropy(grad=True)
        >>> round(float(h), 6), float(g["loc"]), float(g["scale"])
        (3.112086, 1.0, 0.5)
        """
        s = self.scale
        return self._entropy_out(_entropy.HALF_LOG_2PIE + np.log(s) + self.loc,
                                 {"loc": np.ones(s.shape), "scale": 1.0 / s}, grad)

    def _pathwise_numpy(self, x3, gp3):
        # x = exp(loc + scale z): dx/dloc = x, dx/dscale = x z
        plan = self.plan()
        x = x3[:, :, 0]
        gx = gp3[:, :, 0] * x
        z = (np.log(x) - plan.const("loc")) * plan.const("inv_scale")
        return np.stack([gx, gx * z], axis=-1)

    def _measure_draw_numpy(self, gen, c, m):
        # the normal's points, through exp (lognormal_measure_draw)
        out = Normal._measure_draw_numpy(self, gen, c, m)
        for i in range(m):
            out[i] = [_exp_libm(v) for v in out[i]]
        return out


class Exponential(_ScalarFamily):
    """Exponential(rate): density rate exp(-rate x), x >= 0.

    Sampled by numpy's ``random_exponential`` with scale 1/rate
    (``Generator.exponential(1 / rate)``).  Score: d/drate = 1/rate - x.

    Parameters
    ----------
    rate : array_like
        Rate (1 / mean), > 0.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Exponential(2.0), [0.5])["rate"]
    array([0.])
    """

    family = "exponential"
    positive = ("rate",)
    _support_text = "(x >= 0)"

    def __init__(self, rate, validate_args=True):
        super().__init__({"rate": rate}, validate_args)

    def _constants(self):
        return {"scale": (1.0 / self.rate).reshape(-1)}

    def _draw_numpy(self, gen, c, m):
        return gen.exponential(c["scale"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 >= 0)

    def _score_numpy(self, x3):
        return ((1.0 / self.rate).reshape(1, -1) - x3[:, :, 0])[:, :, None]

    def _log_prob(self, x3):
        return stats.expon.logpdf(x3[:, :, 0], scale=1.0 / self.rate.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy 1 - log(rate), shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/drate = -1 / rate.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Exponential([1.0, 2.0]).entropy(grad=True)
        >>> h.round(6), g["rate"]
        (array([1.      , 0.306853]), array([-1. , -0.5]))
        """
        r = self.rate
        return self._entropy_out(1.0 - np.log(r), {"rate": -1.0 / r}, grad)

    def fisher(self):
        """Fisher information 1 / rate^2, shape batch_shape + (1, 1) (see
        :meth:`Distribution.fisher`)."""
        return self._fisher_out((1.0 / (self.rate * self.rate))[..., None, None])

    def _pathwise_numpy(self, x3, gp3):
        # x = e / rate: dx/drate = -x / rate
        return (-(gp3[:, :, 0] * x3[:, :, 0]) * self.plan().const("scale"))[:, :, None]

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = gen.exponential(c["scale"])
            x2 = gen.exponential(c["scale"])
            out[i] = (x, x, x + x2)
        return out

    def _measure_coef(self):
        return (1.0 / self.rate).reshape(-1, 1)


class Gamma(_ScalarFamily):
    """Gamma(concentration, rate): density proportional to x^(a-1) exp(-rate x).

    Sampled by numpy's ``random_gamma`` with scale 1/rate
    (``Generator.gamma(concentration, 1 / rate)``).  Scores:
    d/dconcentration = log x + log rate - digamma(concentration),
    d/drate = concentration / rate - x; the digamma term is computed once
    per batch element by scipy.special.

    Parameters
    ----------
    concentration : array_like
        Shape a, > 0.
    rate : array_like
        Rate (1 / scale), > 0.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Gamma(1.0, 1.0), [1.0])["rate"]
    array([0.])
    """

    family = "gamma"
    positive = ("concentration", "rate")
    _support_text = "(x > 0)"

    def __init__(self, concentration, rate, validate_args=True):
        super().__init__({"concentration": concentration, "rate": rate}, validate_args)

    def _check_resolution(self, estimator):
        a = np.broadcast_to(self._differentiable["concentration"], self.batch_shape)
        with np.errstate(divide="ignore"):
            _relative_resolution(self, "concentration", a, 1.0 / np.sqrt(a),
                                 "1 / sqrt(concentration)")

    def _constants(self):
        a = self.concentration.ravel()
        r = self.rate.ravel()
        return {"concentration": a, "scale": 1.0 / r,
                "log_rate_minus_digamma": np.log(r) - special.digamma(a), "mean": a / r,
                "rate": r}

    def _draw_numpy(self, gen, c, m):
        return gen.gamma(c["concentration"], c["scale"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 > 0)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        return np.stack([np.log(x) + plan.const("log_rate_minus_digamma"),
                         plan.const("mean") - x], axis=-1)

    def _log_prob(self, x3):
        return stats.gamma.logpdf(x3[:, :, 0], self.concentration.reshape(1, -1),
                                  scale=1.0 / self.rate.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy a - log(rate) + lnGamma(a) + (1 - a) digamma(a), shape batch_shape.

        a is the concentration.  From a = 20 on, a - lnGamma(a) ... is a
        difference of numbers of size a log a, and comes from its
        asymptotic (Stirling) series instead (fastscore._entropy.gamma_core).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dconcentration = 1 + (1 - a) trigamma(a),
            d/drate = -1 / rate.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Gamma(1.0, 2.0).entropy(grad=True)  # Exponential(2)
        >>> round(float(h), 6), float(g["rate"])
        (0.306853, -0.5)
        """
        g, dg = _entropy.gamma_core(self.concentration, grad=True)
        r = self.rate
        return self._entropy_out(g - np.log(r), {"concentration": dg, "rate": -1.0 / r}, grad)

    def fisher(self):
        """Fisher information [[trigamma(a), -1 / rate], [-1 / rate, a / rate^2]] in
        (concentration a, rate), shape batch_shape + (2, 2) (see
        :meth:`Distribution.fisher`)."""
        a, r = self.concentration, self.rate
        return self._fisher_out(_fisher.sym2(special.polygamma(1, a), -1.0 / r, a / (r * r)))

    def _pathwise_numpy(self, x3, gp3):
        # x = y / rate, y ~ Gamma(a, 1): dx/da implicit, dx/drate = -x / rate
        plan = self.plan()
        x, gp, scale = x3[:, :, 0], gp3[:, :, 0], plan.const("scale")
        da = _implicit_ref.gamma_dx_dshape(plan.const("concentration"), x * plan.const("rate"))
        return np.stack([gp * (da * scale), -(gp * x) * scale], axis=-1)

    log_space_family = "gamma_log"

    def _small_concentration(self):
        return bool((self.concentration < 1.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.gamma_block(gen, c["concentration"], c["scale"], m)[:, None]

    _log_f_input = staticmethod(_logspace.positive_f_input)

    def _log_score_numpy(self, v3):
        plan = self.plan()
        v = v3[:, :, 0]
        return np.stack([_logspace.log_of(v) + plan.const("log_rate_minus_digamma"),
                         plan.const("mean") - _logspace.positive_f_input(v)], axis=-1)

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 5))
        for i in range(m):
            x = gen.gamma(c["concentration"], c["scale"])
            x2 = gen.exponential(c["scale"])
            out[i] = (x, x, x, x, x + x2)
        return out

    def _measure_coef(self):
        # concentration has no weak derivative here: its gradient is NaN
        a, r = self.concentration.reshape(-1), self.rate.reshape(-1)
        return np.stack([np.full(a.shape, np.nan), a / r], axis=-1)


class Beta(_ScalarFamily):
    """Beta(concentration1, concentration0): density proportional to x^(a-1) (1-x)^(b-1).

    ``concentration1`` is a (the exponent of x), ``concentration0`` is b, as in
    torch.distributions.  Sampled by numpy's ``random_beta``
    (``Generator.beta(a, b)``).  Scores: d/da = log x - digamma(a) + digamma(a+b),
    d/db = log(1 - x) - digamma(b) + digamma(a+b).

    Parameters
    ----------
    concentration1 : array_like
        a, the exponent of x, > 0.
    concentration0 : array_like
        b, the exponent of 1 - x, > 0.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Beta(2.0, 2.0)
    >>> s = fs.score(d, [0.5])
    >>> bool(abs(s["concentration1"][0] - s["concentration0"][0]) < 1e-12)
    True
    """

    family = "beta"
    positive = ("concentration1", "concentration0")
    _support_text = "(0 < x < 1)"

    def __init__(self, concentration1, concentration0, validate_args=True):
        super().__init__({"concentration1": concentration1, "concentration0": concentration0},
                         validate_args)

    def _check_resolution(self, estimator):
        a = np.broadcast_to(self._differentiable["concentration1"], self.batch_shape)
        b = np.broadcast_to(self._differentiable["concentration0"], self.batch_shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # sd / mean of x: sqrt(b / (a (a + b + 1)))
            rel = np.sqrt(b / a / (a + b + 1.0))
        for name, v, mine in (("concentration1", a, a >= b), ("concentration0", b, a < b)):
            _relative_resolution(self, name, v, np.where(mine, rel, np.inf),
                                 "the standard deviation of x over its mean")

    def _constants(self):
        a = self.concentration1.ravel()
        b = self.concentration0.ravel()
        dab = special.digamma(a + b)
        return {"concentration1": a, "concentration0": b,
                "digamma_sum_minus_digamma1": dab - special.digamma(a),
                "digamma_sum_minus_digamma0": dab - special.digamma(b)}

    def _draw_numpy(self, gen, c, m):
        return gen.beta(c["concentration1"], c["concentration0"], size=m)[:, None]

    def _in_support(self, x3):
        # the open interval: log x or log(1 - x) is -inf at 0 and 1
        return (x3 > 0) & (x3 < 1)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        with np.errstate(divide="ignore"):
            return np.stack([np.log(x) + plan.const("digamma_sum_minus_digamma1"),
                             np.log1p(-x) + plan.const("digamma_sum_minus_digamma0")], axis=-1)

    def _log_prob(self, x3):
        return stats.beta.logpdf(x3[:, :, 0], self.concentration1.reshape(1, -1),
                                 self.concentration0.reshape(1, -1))

    log_space_family = "beta_log"

    def entropy(self, grad=False):
        """Differential entropy of Beta(a, b), shape batch_shape.

        H = log B(a, b) - (a - 1) digamma(a) - (b - 1) digamma(b)
        + (a + b - 2) digamma(a + b), a = concentration1, b = concentration0,
        computed as G(a) + G(b) - G(a + b) - digamma(a + b) with G(a) the entropy
        of Gamma(a, 1) (fastscore._entropy.gamma_core), which does not cancel for
        large concentrations.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/da = (1 - a) trigamma(a) + (a + b - 2)
            trigamma(a + b), and d/db likewise.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Beta([1.0, 2.0], 1.0).entropy(grad=True)  # uniform, then 2x
        >>> h.round(6), g["concentration1"].round(6)
        (array([ 0.      , -0.193147]), array([ 0.  , -0.25]))
        """
        a, b = self.concentration1, self.concentration0
        ga, dga = _entropy.gamma_core(a, grad=True)
        gb, dgb = _entropy.gamma_core(b, grad=True)
        gs, dgs = _entropy.gamma_core(a + b, grad=True)
        common = -dgs - special.polygamma(1, a + b)
        return self._entropy_out(ga + gb - gs - special.digamma(a + b),
                                 {"concentration1": dga + common,
                                  "concentration0": dgb + common}, grad)

    def fisher(self):
        """Fisher information [[t(a) - t(a+b), -t(a+b)], [-t(a+b), t(b) - t(a+b)]] in
        (concentration1 a, concentration0 b), t the trigamma function; shape
        batch_shape + (2, 2) (see :meth:`Distribution.fisher`)."""
        a, b = self.concentration1, self.concentration0
        t = special.polygamma(1, a + b)
        return self._fisher_out(_fisher.sym2(special.polygamma(1, a) - t, -t,
                                             special.polygamma(1, b) - t))

    def _small_concentration(self):
        return bool((np.minimum(self.concentration1, self.concentration0) < 1.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.beta_block(gen, c["concentration1"], c["concentration0"], m)[:, None]

    _log_f_input = staticmethod(_logspace.beta_f_input)

    def _log_score_numpy(self, v3):
        plan = self.plan()
        log_x, log_1mx = _logspace.beta_logs(v3[:, :, 0])
        return np.stack([log_x + plan.const("digamma_sum_minus_digamma1"),
                         log_1mx + plan.const("digamma_sum_minus_digamma0")], axis=-1)

    def _pathwise_numpy(self, x3, gp3):
        plan = self.plan()
        gp = gp3[:, :, 0]
        da, db = _implicit_ref.beta_dx_dab(plan.const("concentration1"),
                                           plan.const("concentration0"), x3[:, :, 0])
        return np.stack([gp * da, gp * db], axis=-1)


class Chi2(_ScalarFamily):
    """Chi2(df): the chi-squared distribution, Gamma(df / 2, rate=1/2).

    Sampled by numpy's ``random_chisquare`` (``Generator.chisquare``).
    Score: d/ddf = (log(x / 2) - digamma(df / 2)) / 2.

    Parameters
    ----------
    df : array_like
        Degrees of freedom, > 0 (need not be an integer).
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.Chi2(3.0).batch_shape
    ()
    """

    family = "chi2"
    positive = ("df",)
    _support_text = "(x > 0)"

    def __init__(self, df, validate_args=True):
        super().__init__({"df": df}, validate_args)

    def _check_resolution(self, estimator):
        df = np.broadcast_to(self._differentiable["df"], self.batch_shape)
        with np.errstate(divide="ignore"):
            _relative_resolution(self, "df", df, np.sqrt(2.0 / df), "sqrt(2 / df)")

    def _constants(self):
        k = self.df.ravel()
        return {"df": k, "log2_plus_digamma_half_df": np.log(2.0) + special.digamma(0.5 * k)}

    def _draw_numpy(self, gen, c, m):
        return gen.chisquare(c["df"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (x3 > 0)

    def _score_numpy(self, x3):
        return (0.5 * (np.log(x3[:, :, 0])
                       - self.plan().const("log2_plus_digamma_half_df")))[:, :, None]

    def _log_prob(self, x3):
        return stats.chi2.logpdf(x3[:, :, 0], self.df.reshape(1, -1))

    log_space_family = "chi2_log"

    def entropy(self, grad=False):
        """Differential entropy of Gamma(df / 2, rate=1/2), shape batch_shape.

        H = df/2 + log 2 + lnGamma(df/2) + (1 - df/2) digamma(df/2), from its
        asymptotic series for df >= 40 (see :meth:`Gamma.entropy`).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/ddf = (1 + (1 - df/2) trigamma(df/2)) / 2.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Chi2(2.0).entropy(grad=True)  # Exponential(1/2)
        >>> round(float(h), 6), round(float(g["df"]), 6)
        (1.693147, 0.5)
        """
        g, dg = _entropy.gamma_core(0.5 * self.df, grad=True)
        return self._entropy_out(g + math.log(2.0), {"df": 0.5 * dg}, grad)

    def fisher(self):
        """Fisher information trigamma(df / 2) / 4, shape batch_shape + (1, 1) (see
        :meth:`Distribution.fisher`)."""
        return self._fisher_out((0.25 * special.polygamma(1, 0.5 * self.df))[..., None, None])

    def _small_concentration(self):
        return bool((self.df < 2.0).any())

    def _log_draw_numpy(self, gen, c, m):
        return _logspace.gamma_block(gen, c["df"] / 2.0, 2.0, m)[:, None]

    _log_f_input = staticmethod(_logspace.positive_f_input)

    def _log_score_numpy(self, v3):
        return (0.5 * (_logspace.log_of(v3[:, :, 0])
                       - self.plan().const("log2_plus_digamma_half_df")))[:, :, None]

    def _pathwise_numpy(self, x3, gp3):
        # x = 2 y, y ~ Gamma(df / 2, 1)
        return (gp3[:, :, 0] * _implicit_ref.gamma_dx_dshape(
            0.5 * self.plan().const("df"), 0.5 * x3[:, :, 0]))[:, :, None]


class VonMises(_ScalarFamily):
    """VonMises(loc, concentration): density exp(k cos(x - loc)) / (2 pi I0(k)) on [-pi, pi].

    Sampled by numpy's ``random_vonmises`` (``Generator.vonmises``).  Scores:
    d/dloc = k sin(x - loc), d/dconcentration = cos(x - loc) - I1(k) / I0(k)
    (the Bessel ratio from scipy.special, once per batch element).

    Parameters
    ----------
    loc : array_like
        Mean direction, finite.
    concentration : array_like
        Concentration k, > 0.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.VonMises(0.0, 1.0), [0.0])["loc"]
    array([0.])
    """

    family = "vonmises"
    positive = ("concentration",)
    _support_text = "[-pi, pi]"

    def __init__(self, loc, concentration, validate_args=True):
        super().__init__({"loc": loc, "concentration": concentration}, validate_args)

    def _constants(self):
        k = self.concentration.ravel()
        return {"loc": self.loc.ravel(), "concentration": k,
                "bessel_ratio": special.i1e(k) / special.i0e(k)}

    def _draw_numpy(self, gen, c, m):
        return gen.vonmises(c["loc"], c["concentration"], size=m)[:, None]

    def _in_support(self, x3):
        return np.isfinite(x3) & (np.abs(x3) <= np.pi)

    def _score_numpy(self, x3):
        plan = self.plan()
        z = x3[:, :, 0] - plan.const("loc")
        return np.stack([plan.const("concentration") * np.sin(z),
                         np.cos(z) - plan.const("bessel_ratio")], axis=-1)

    def _log_prob(self, x3):
        return stats.vonmises.logpdf(x3[:, :, 0], self.concentration.reshape(1, -1),
                                     loc=self.loc.reshape(1, -1))

    def entropy(self, grad=False):
        """Differential entropy log(2 pi I0(k)) - k I1(k) / I0(k), shape batch_shape.

        k is the concentration.  Below k = 20 from scipy.special.i0e and i1e;
        from 20 on, where 1 - A cancels, from the large-k expansions of I0 and
        I1 (fastscore._entropy.vonmises_core).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dloc = 0, d/dconcentration = A - k (1 - A^2)
            with A = I1(k) / I0(k).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.VonMises(0.0, [0.5, 30.0]).entropy(grad=True)
        >>> h.round(6), g["concentration"].round(6)
        (array([ 1.778177, -0.273108]), array([-0.228097, -0.016959]))
        """
        h, dh = _entropy.vonmises_core(self.concentration, grad=True)
        return self._entropy_out(h, {"loc": np.zeros(h.shape), "concentration": dh}, grad)

    def fisher(self):
        """Fisher information diag(k A, 1 - A / k - A^2) in (loc, concentration k),
        A = I1(k) / I0(k); shape batch_shape + (2, 2) (see :meth:`Distribution.fisher`).

        The second entry, dA/dk = Var(cos(x - loc)), comes from the large-k
        expansions of the Bessel functions from k = 20 on, where the direct form
        cancels (fastscore._fisher.vonmises_ratio_and_slope).
        """
        k = self.concentration
        a, da = _fisher.vonmises_ratio_and_slope(k)
        return self._fisher_out(_fisher.sym2(k * a, 0.0, da))

    def _pathwise_numpy(self, x3, gp3):
        # dx/dloc = 1 (away from the wrap at +-pi); dx/dk implicit, of x - loc wrapped
        plan = self.plan()
        gp = gp3[:, :, 0]
        t = x3[:, :, 0] - plan.const("loc")
        t = np.where(t > np.pi, t - 2.0 * np.pi, np.where(t < -np.pi, t + 2.0 * np.pi, t))
        return np.stack([gp, gp * _implicit_ref.vonmises_dx_dconc(
            plan.const("concentration"), t)], axis=-1)


class Binomial(_ProbsOrLogits, Distribution):
    """Binomial(total_count, probs | logits): successes in total_count trials.

    ``total_count`` is a non-negative integer array (no gradient is taken for
    it).  Sampled by numpy's ``random_binomial`` (``Generator.binomial``).
    Scores: d/dprobs = x / p - (n - x) / (1 - p), d/dlogits = x - n p.
    When max(total_count) < 1024 the kernel counts support values and the
    moments are computed exactly from the counts.  Samples are int64.

    Parameters
    ----------
    total_count : array_like, default 1
        Number of trials, a non-negative integer < 2**63 (samples are int64); no
        gradient is taken for it.
    probs : array_like, optional
        Success probability, in [0, 1].
    logits : array_like, optional
        Log-odds of success, finite: probs = sigmoid(logits).
        Exactly one of ``probs`` and ``logits`` must be given.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Binomial(10, logits=0.0), [7])["logits"]
    array([2.])
    """

    kernel_base = "binomial"
    integer_valued = True
    _support_text = "{0, ..., total_count}"

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Binomial", probs, logits), validate_args,
                         fixed={"total_count": total_count})

    def _setup(self):
        N = self._fixed["total_count"]
        if self.validate_args:
            self._require("total_count", N, (N >= 0) & (np.floor(N) == N) & (N < 2.0 ** 63),
                          "a non-negative integer below 2**63 (samples are int64)")
        p, q = self._probs_q()
        self.batch_shape = self._broadcast(["total_count", self._by])
        self.event_shape = ()
        self.total_count = np.broadcast_to(N, self.batch_shape)
        self.probs = np.broadcast_to(p, self.batch_shape)
        self._q = np.broadcast_to(q, self.batch_shape)
        self._set_kernel_family()
        self._n_max = int(self.total_count.max()) if self.total_count.size else 0

    def _check_resolution(self, estimator):
        N = np.broadcast_to(self._fixed["total_count"], self.batch_shape)
        _coupled(self, estimator, "total_count", N, N)

    def _constants(self):
        p, q = self.probs.ravel(), self._q.ravel()
        with np.errstate(divide="ignore"):
            return {"probs": p, "total_count": self.total_count.ravel(), "q": q,
                    "inv_p": 1.0 / p, "inv_q": 1.0 / q}

    def _draw_numpy(self, gen, c, m):
        return gen.binomial(int(c["total_count"]), c["probs"], size=m).astype(np.float64)[:, None]

    def _support_values(self):
        if self._n_max + 1 <= BINOMIAL_COUNT_LIMIT:
            return np.arange(self._n_max + 1, dtype=np.float64)
        return None

    def _in_support(self, x3):
        N = self.total_count.reshape(1, -1, 1)
        return (x3 >= 0) & (x3 <= N) & (np.floor(x3) == x3)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        N = plan.const("total_count")
        if self._by == "logits":
            # x - N p; where p > 1/2 as (x - N) + N q (binomial_logits_score): 1 - p
            # has lost q's digits when p is near 1
            p, q = plan.const("probs"), plan.const("q")
            return np.where(p > 0.5, (x - N) + N * q, x - N * p)[:, :, None]
        # x / p and (n - x) / (1 - p) are 0 where their numerator is (at p = 0 or 1)
        with np.errstate(invalid="ignore"):
            return (np.where(x > 0, x * plan.const("inv_p"), 0.0)
                    - np.where(N > x, (N - x) * plan.const("inv_q"), 0.0))[:, :, None]

    def _log_prob(self, x3):
        return stats.binom.logpmf(x3[:, :, 0], self.total_count.reshape(1, -1),
                                  self.probs.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over k = 0, ..., total_count, shape batch_shape.

        There is no closed form.  Where the variance n p (1 - p) is below 1e7
        (``ASYMPTOTIC_VARIANCE`` of fastscore._entropy) it is the sum over the
        support points that the Chernoff bound does not put below 1e-20 of the
        mass on either side (all of them, for small total_count), with log p_k
        in Loader's saddle-point form: accurate to about 1e-15 relative.  From a
        variance of 1e7 on it is the expansion 1/2 log(2 pi e var) - (1 - 2p)^2
        / (12 var), whose error there is of order var^-2 (below 1e-14).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient in the parameter passed: d/dprobs =
            -Cov(X, log p(X)) / (p (1 - p)) (+inf at p = 0, -inf at p = 1, when
            total_count > 0), d/dlogits = -Cov(X, log p(X)).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Binomial(10, probs=[0.3, 0.2]).entropy(grad=True)
        >>> h.round(6), g["probs"].round(6)
        (array([1.779079, 1.621929]), array([1.075716, 2.210729]))
        """
        n = self.total_count.reshape(-1).astype(np.float64)
        p, q = self.probs.reshape(-1), self._q.reshape(-1)
        lp, lq = (a.reshape(-1) for a in self._log_pq())
        var = n * p * q
        h = np.full(n.shape, np.nan)  # NaN for invalid parameters (validate_args=False)
        cov = np.full(n.shape, np.nan)
        ok = (n >= 0) & (np.floor(n) == n) & (n < np.inf) & (p >= 0) & (q >= 0)
        big = ok & (var >= _entropy.ASYMPTOTIC_VARIANCE)
        v, d = var[big], (p - q)[big]
        h[big] = _entropy.HALF_LOG_2PIE + 0.5 * np.log(v) - d * d / (12.0 * v)
        # dH/dlogits = (q - p) (1/2 + 1 / (12 var)); the covariance is its negative
        cov[big] = d * (0.5 + 1.0 / (12.0 * v))
        s = ok & ~big
        if s.any():
            ns, ps, qs, lps, lqs = n[s], p[s], q[s], lp[s], lq[s]
            mean = ns * ps
            lo, hi = _entropy.chernoff_window(
                lambda a: _entropy.bd0(a, mean) + _entropy.bd0(ns - a, ns * qs), mean,
                np.sqrt(var[s]), limit=ns)

            def log_pmf(k, idx):
                N, P, Q = ns[idx, None], ps[idx, None], qs[idx, None]
                mid = (k > 0) & (k < N)
                k1 = np.where(mid, k, 1.0)
                r1 = np.where(mid, N - k, 1.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    inner = (_entropy.stirlerr(N) - _entropy.stirlerr(k1)
                             - _entropy.stirlerr(r1) - _entropy.bd0(k1, N * P)
                             - _entropy.bd0(r1, N * Q)
                             + 0.5 * np.log(N / (2.0 * math.pi * k1 * r1)))
                    edge = np.where(k == 0, np.where(N > 0, N * lqs[idx, None], 0.0),
                                    N * lps[idx, None])
                return np.where(mid, inner, edge)

            center = np.maximum(_entropy.HALF_LOG_2PIE + 0.5 * np.log(np.maximum(var[s], 1e-300)),
                                0.0)
            h[s], cov[s] = _entropy.lattice_entropy(lo, hi, mean, log_pmf, center)
        if self._by == "logits":
            g = -cov
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                g = -cov / (p * q)
            g = np.where(n == 0, 0.0, np.where(p == 0, np.inf, np.where(q == 0, -np.inf, g)))
        g = np.where(ok, g, np.nan)
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information n / (p (1 - p)) in probs (inf at p = 0 or 1 when n > 0),
        n p (1 - p) in logits (n = total_count; 0 when n = 0); shape batch_shape +
        (1, 1) (see :meth:`Distribution.fisher`)."""
        n = self.total_count
        pq = self.probs * self._q
        with np.errstate(divide="ignore", invalid="ignore"):
            f = n / pq if self._by == "probs" else n * pq
        return self._fisher_out(np.where(n == 0, 0.0, f)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        # _binomial_measure: y ~ Bin(N - 1, p); the sample y + [u < p]; points y + 1, y
        N, p = c["total_count"], c["probs"]
        out = np.zeros((m, 3))
        if N < 1.0:
            return out
        for i in range(m):
            y = float(gen.binomial(int(N) - 1, p))
            out[i] = (y + float(gen.random() < p), y + 1.0, y)
        return out

    def _measure_coef(self):
        N, p, q = self.total_count.reshape(-1), self.probs.reshape(-1), self._q.reshape(-1)
        return (N if self._by == "probs" else N * p * q)[:, None].astype(np.float64)


class Geometric(_ProbsOrLogits, Distribution):
    """Geometric(probs | logits): failures before the first success, x = 0, 1, 2, ...

    P(x = k) = (1 - p)^k p, as in torch.distributions.  Sampled as numpy's
    ``random_geometric`` (trials up to the first success) minus one
    (``Generator.geometric(p) - 1``).  Scores: d/dprobs = 1/p - x/(1 - p),
    d/dlogits = 1 - p - x p.  Samples are int64.

    Parameters
    ----------
    probs : array_like, optional
        Success probability, in [1e-16, 1] (``GEOMETRIC_MIN_PROBS``: rarer
        successes overflow the int64 samples).
    logits : array_like, optional
        Log-odds of success, finite, with sigmoid(logits) >= 1e-16 (logits >= about
        -36.8).  Exactly one of ``probs`` and ``logits`` must be given.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Geometric(probs=0.5), [1])["probs"]
    array([0.])
    """

    kernel_base = "geometric"
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("Geometric", probs, logits), validate_args)

    def _setup(self):
        p, q = self._probs_q(lo_open=True)
        if self.validate_args:
            self._require(self._by, self._differentiable[self._by], p >= GEOMETRIC_MIN_PROBS,
                          "such that probs >= %g (rarer successes overflow the int64 samples)"
                          % GEOMETRIC_MIN_PROBS)
        self.batch_shape = self._differentiable[self._by].shape
        self.event_shape = ()
        self.probs = p
        self._q = q
        self._set_kernel_family()

    def _check_resolution(self, estimator):
        p = np.broadcast_to(self.probs, self.batch_shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            top = (1.0 - p) / p + 20.0 * np.sqrt(1.0 - p) / p
        _coupled(self, estimator, self._by, self._differentiable[self._by], top)

    def _constants(self):
        p, q = self.probs.ravel(), self._q.ravel()
        with np.errstate(divide="ignore"):
            return {"probs": p, "q": q, "inv_p": 1.0 / p, "inv_q": 1.0 / q}

    def _draw_numpy(self, gen, c, m):
        return (gen.geometric(c["probs"], size=m) - 1).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return _integers(x3)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        if self._by == "logits":
            return (plan.const("q") - x * plan.const("probs"))[:, :, None]
        # x / (1 - p) is 0 at x = 0 (the only sample at p = 1)
        with np.errstate(invalid="ignore"):
            return (plan.const("inv_p") - np.where(x > 0, x * plan.const("inv_q"), 0.0))[:, :, None]

    def _log_prob(self, x3):
        return stats.geom.logpmf(x3[:, :, 0] + 1, self.probs.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -log p - (1 - p) log(1 - p) / p, shape batch_shape.

        p is probs (the support starts at 0: the entropy is that of the
        number of trials, scipy.stats.geom).  From logits, with x = e^logits =
        p / (1 - p): H = softplus(-logits) + log(1 + x) / x.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: d/dprobs = log(1 - p) / p^2, or d/dlogits
            = -log(1 + e^logits) / e^logits.

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Geometric(probs=0.5).entropy(grad=True)
        >>> round(float(h), 6), round(float(g["probs"]), 6)
        (1.386294, -2.772589)
        """
        lp, lq = self._log_pq()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self._by == "probs":
                p, q = self.probs, self._q
                h = -lp - np.where(q > 0, (q / p) * lq, 0.0)
                g = lq / (p * p)
            else:
                x = np.exp(self._differentiable["logits"])
                r = np.where(x == 0, 1.0, np.where(np.isinf(x), 0.0, np.log1p(x) / x))
                h = -lp + r
                g = -r
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information 1 / (p^2 (1 - p)) in probs (inf at p = 1), 1 - p in
        logits; shape batch_shape + (1, 1) (see :meth:`Distribution.fisher`)."""
        p, q = self.probs, self._q
        with np.errstate(divide="ignore"):
            f = 1.0 / (p * p * q) if self._by == "probs" else q
        return self._fisher_out(np.asarray(f)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = float(gen.geometric(c["probs"]) - 1)
            x2 = float(gen.geometric(c["probs"]) - 1)
            out[i] = (x, x, 1.0 + x + x2)
        return out

    def _measure_coef(self):
        # probs: 1 / p; logits: dp/dlogits = p q, so q
        with np.errstate(divide="ignore"):
            return (1.0 / self.probs if self._by == "probs" else self._q).reshape(-1, 1)


class NegativeBinomial(_ProbsOrLogits, Distribution):
    """NegativeBinomial(total_count, probs | logits), with torch's meaning.

    The number of successes before ``total_count`` failures, each trial a
    success with probability ``probs``: P(x = k) is proportional to
    C(k + r - 1, k) p^k (1 - p)^r.  numpy's sampler counts failures before
    n successes, so this is numpy's ``random_negative_binomial(n=total_count,
    p=1 - probs)`` (``Generator.negative_binomial(total_count, 1 - probs)``,
    a gamma-Poisson mixture).  Scores: d/dprobs = x / p - r / (1 - p),
    d/dlogits = x (1 - p) - r p.  ``total_count`` (> 0, real) has no gradient.
    Samples are int64.

    Parameters
    ----------
    total_count : array_like
        Number of failures r, > 0 (real); no gradient is taken for it.
    probs : array_like, optional
        Success probability p, in [0, 1).
    logits : array_like, optional
        Log-odds of success, finite: probs = sigmoid(logits).
        Exactly one of ``probs`` and ``logits`` must be given.
        Either way p / (1 - p) * (r + 10 sqrt(r)) must be <= 9.2e18
        (``POISSON_LAM_MAX``): numpy's gamma-Poisson sampler draws int64 samples.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.NegativeBinomial(2.0, probs=0.5), [2])["probs"]
    array([0.])
    """

    kernel_base = "negbin"
    integer_valued = True
    _support_text = "(non-negative integers)"

    def __init__(self, total_count, probs=None, logits=None, validate_args=True):
        super().__init__(self._one_of("NegativeBinomial", probs, logits), validate_args,
                         fixed={"total_count": total_count})

    def _setup(self):
        r = self._fixed["total_count"]
        if self.validate_args:
            self._require("total_count", r, r > 0, "> 0")
        p, q = self._probs_q(hi_open=True)
        self.batch_shape = self._broadcast(["total_count", self._by])
        self.event_shape = ()
        self.total_count = np.broadcast_to(r, self.batch_shape)
        self.probs = np.broadcast_to(p, self.batch_shape)
        self._q = np.broadcast_to(q, self.batch_shape)
        self._set_kernel_family()
        if self.validate_args:
            # numpy's gamma-Poisson sampler: the Poisson rate, 10 sigma above its
            # mean, must stay within the int64 range
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                lam = self.probs / self._q * (self.total_count + 10.0 * np.sqrt(self.total_count))
            self._require(self._by, np.broadcast_to(self._differentiable[self._by],
                                                    self.batch_shape),
                          lam <= POISSON_LAM_MAX,
                          "such that probs / (1 - probs) * (total_count + 10 sqrt(total_count)) "
                          "<= %.4g (numpy's sampler: samples are int64)" % POISSON_LAM_MAX)

    def _check_resolution(self, estimator):
        p = np.broadcast_to(self.probs, self.batch_shape)
        r = np.broadcast_to(self._fixed["total_count"], self.batch_shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            top = r * p / (1.0 - p) + 20.0 * np.sqrt(r * p) / (1.0 - p)
        _coupled(self, estimator, self._by, self._differentiable[self._by], top)

    def _constants(self):
        r, p, q = self.total_count.ravel(), self.probs.ravel(), self._q.ravel()
        with np.errstate(divide="ignore"):
            return {"total_count": r, "probs": p, "q": q, "inv_p": 1.0 / p, "r_over_q": r / q}

    def _draw_numpy(self, gen, c, m):
        return gen.negative_binomial(c["total_count"], c["q"], size=m).astype(np.float64)[:, None]

    def _in_support(self, x3):
        return _integers(x3)

    def _score_numpy(self, x3):
        plan = self.plan()
        x = x3[:, :, 0]
        if self._by == "logits":
            return (x * plan.const("q")
                    - plan.const("total_count") * plan.const("probs"))[:, :, None]
        # x / p is 0 at x = 0 (the only sample at p = 0)
        with np.errstate(invalid="ignore"):
            return (np.where(x > 0, x * plan.const("inv_p"), 0.0)
                    - plan.const("r_over_q"))[:, :, None]

    def _log_prob(self, x3):
        # scipy's nbinom counts failures before n successes with success prob p.
        return stats.nbinom.logpmf(x3[:, :, 0], self.total_count.reshape(1, -1),
                                   self._q.reshape(1, -1))

    def entropy(self, grad=False):
        """Shannon entropy -sum_k p_k log p_k over k = 0, 1, 2, ..., shape batch_shape.

        r = total_count, p = probs.  There is no closed form.  Where r p is
        below 1e7 (``ASYMPTOTIC_VARIANCE`` of fastscore._entropy) it is the sum
        over the support points k = 0, 1, ... that the Chernoff bound does not
        put below 1e-20 of the mass on either side, with log p_k in Loader's
        saddle-point form: accurate to about 1e-15 relative.  That sum may take at
        most 4194304 points (``MAX_WINDOW``) per batch element, about 46 / (1 - p)
        when r is small: beyond it (a mean above some 1e5 with r p below 1e7)
        this raises ValueError.  From r p = 1e7 on it is the expansion
        1/2 log(2 pi e var) - (1 + p)^2 / (12 r p), var = r p / (1 - p)^2, whose
        error there is of order (r p)^-2 (below 1e-13).

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient in the parameter passed: d/dprobs =
            -Cov(X, log p(X)) / p (+inf at p = 0), d/dlogits = -(1 - p) Cov(X, log
            p(X)).

        {entropy returns}

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.NegativeBinomial(1.0, probs=0.5).entropy(grad=True)  # Geometric(1/2)
        >>> round(float(h), 6), round(float(g["probs"]), 6)
        (1.386294, 2.772589)
        """
        r = self.total_count.reshape(-1)
        p, q = self.probs.reshape(-1), self._q.reshape(-1)
        lp, lq = (a.reshape(-1) for a in self._log_pq())
        rp = r * p
        h = np.full(r.shape, np.nan)  # NaN for invalid parameters (validate_args=False)
        cov = np.full(r.shape, np.nan)
        ok = (r > 0) & (r < np.inf) & (p >= 0) & (q > 0)
        big = ok & (rp >= _entropy.ASYMPTOTIC_VARIANCE)
        rb, pb, qb = r[big], p[big], q[big]
        h[big] = (_entropy.HALF_LOG_2PIE + 0.5 * (np.log(rb) + lp[big] - 2.0 * lq[big])
                  - (1.0 + pb) ** 2 / (12.0 * rb * pb))
        # dH/dprobs = 1/(2p) + 1/q + q (1 + p) / (12 r p^2) = -cov / p
        cov[big] = -(0.5 + pb / qb + qb * (1.0 + pb) / (12.0 * rb * pb))
        s = ok & ~big
        if s.any():
            rs, ps, qs, lqs = r[s], p[s], q[s], lq[s]
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                mean = rs * ps / qs
                sd = np.sqrt(mean / qs)
            lo, hi = _entropy.chernoff_window(
                lambda a: _entropy.bd0(a, (a + rs) * ps) + _entropy.bd0(rs, (a + rs) * qs),
                mean, sd)
            _entropy.check_window(lo, hi, self._by, np.broadcast_to(
                self._differentiable[self._by], self.batch_shape).reshape(-1)[s],
                "NegativeBinomial", np.flatnonzero(s), tuple(self.batch_shape))

            def log_pmf(k, idx):
                R, P, Q = rs[idx, None], ps[idx, None], qs[idx, None]
                k1 = np.maximum(k, 1.0)
                n = k1 + R
                with np.errstate(divide="ignore", invalid="ignore"):
                    inner = (-np.log1p(k1 / R) + _entropy.stirlerr(n) - _entropy.stirlerr(k1)
                             - _entropy.stirlerr(R)
                             - _entropy.bd0(k1, n * P) - _entropy.bd0(R, n * Q)
                             + 0.5 * np.log(n / (2.0 * math.pi * k1 * R)))
                return np.where(k == 0, R * lqs[idx, None], inner)

            center = np.maximum(_entropy.HALF_LOG_2PIE + 0.5 * np.log(np.maximum(sd * sd, 1e-300)),
                                0.0)
            h[s], cov[s] = _entropy.lattice_entropy(lo, hi, mean, log_pmf, center)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self._by == "logits":
                g = -q * cov
            else:
                g = np.where(p == 0, np.inf, -cov / p)
            g = np.where(ok, g, np.nan)
        return self._entropy_out(h, {self._by: g}, grad)

    def fisher(self):
        """Fisher information r / (p (1 - p)^2) in probs (inf at p = 0), r p in logits
        (r = total_count); shape batch_shape + (1, 1) (see :meth:`Distribution.fisher`)."""
        r, p, q = self.total_count, self.probs, self._q
        with np.errstate(divide="ignore"):
            f = r / (p * q * q) if self._by == "probs" else r * p
        return self._fisher_out(np.asarray(f)[..., None, None])

    def _measure_draw_numpy(self, gen, c, m):
        out = np.empty((m, 3))
        for i in range(m):
            x = float(gen.negative_binomial(c["total_count"], c["q"]))
            g = float(gen.geometric(c["q"]) - 1)
            out[i] = (x, 1.0 + x + g, x)
        return out

    def _measure_coef(self):
        # probs: r / (1 - p); logits: r p
        r, p, q = self.total_count.reshape(-1), self.probs.reshape(-1), self._q.reshape(-1)
        return (r / q if self._by == "probs" else r * p)[:, None]


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
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

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
        # stick-breaking, as dirichlet_pathwise_event (_families.pxi)
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


class MultivariateNormal(Distribution):
    """MultivariateNormal(loc, scale_tril): x = loc + L z, z standard normal, D on the last axis.

    ``scale_tril`` is the lower-triangular Cholesky factor L of the covariance
    (positive diagonal).  Sampled, in the kernel and the reference alike, as D
    standard normals from numpy's ``random_standard_normal`` followed by
    x_i = loc_i + sum_{j <= i} L_ij z_j (``Generator.multivariate_normal``
    factors the covariance differently, so it is not used).  Scores, with
    w = L^-1 (x - loc) and v = L^-T w: d/dloc = v, d/dL_ij = v_i w_j - [i = j] / L_ii
    for i >= j; the gradient for scale_tril is zero above the diagonal.

    The measure-valued estimator works in z (``_measure_wave_numpy``: the weak
    derivatives of each z_k's location, and the second ones that give
    d/dL = L^-T E[d2 f / dz2]); it evaluates f 1 + D + 2 D^2 times per sample, in
    NumPy waves on the kernels' samples, its coupling drawn from the
    auxiliary streams (fastscore._rng.aux_stream).

    Parameters
    ----------
    loc : array_like
        Mean, finite, with 1 <= D <= 2048 (``MAX_EVENT_SIZE``) on the last axis.
    scale_tril : array_like
        Shape (..., D, D): the lower-triangular Cholesky factor L of the
        covariance, finite, zero above the diagonal, with a positive diagonal.
        The batch shapes of ``loc`` (...) and ``scale_tril`` (..., D, D)
        broadcast.
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises}

    Examples
    --------
    >>> import numpy as np, fastscore as fs
    >>> d = fs.MultivariateNormal(np.zeros(2), np.eye(2))
    >>> d.event_shape
    (2,)
    """

    family = "mvn"
    event_ndim = 1
    _support_text = "(R^D)"

    def __init__(self, loc, scale_tril, validate_args=True):
        super().__init__({"loc": loc, "scale_tril": scale_tril}, validate_args)

    def _setup(self):
        loc = self._differentiable["loc"]
        L = self._differentiable["scale_tril"]
        if loc.ndim < 1:
            raise ValueError("MultivariateNormal: parameter 'loc' needs the event dimension D on "
                             "its last axis; got a scalar")
        D = loc.shape[-1]
        if not 1 <= D <= MAX_EVENT_SIZE:
            raise ValueError("MultivariateNormal: parameter 'loc' needs 1 <= D <= %d on its last "
                             "axis; got shape %s" % (MAX_EVENT_SIZE, loc.shape))
        if L.ndim < 2 or L.shape[-2:] != (D, D):
            raise ValueError("MultivariateNormal: parameter 'scale_tril' must have shape "
                             "(..., %d, %d) to match loc; got %s" % (D, D, L.shape))
        if self.validate_args:
            upper = np.triu(np.ones((D, D), dtype=bool), 1)
            self._require("scale_tril", L, ~(upper & (L != 0)),
                          "lower-triangular (zero above the diagonal)")
            eye = np.eye(D, dtype=bool)
            self._require("scale_tril", L, ~(eye & ~(L > 0)),
                          "lower-triangular with a positive diagonal")
        self.batch_shape = self._broadcast(["loc", "scale_tril"], {"loc": 1, "scale_tril": 2})
        self.event_shape = (D,)
        self.loc = np.broadcast_to(loc, tuple(self.batch_shape) + (D,))
        self.scale_tril = np.broadcast_to(np.tril(L), tuple(self.batch_shape) + (D, D))

    def _param_slots(self):
        D = self.event_shape[0]
        return [("loc", (D,), None), ("scale_tril", (D, D), "tril")]

    def _check_resolution(self, estimator):
        # each coordinate's noise sqrt(sum_j L_ij^2) against |loc_i|
        noise = np.sqrt((self.scale_tril * self.scale_tril).sum(axis=-1))
        _resolution(self, "scale_tril", noise, self.loc)

    def _constants(self):
        D = self.event_shape[0]
        B = self.batch_size
        return {"loc": self.loc.reshape(B, D), "scale_tril": self.scale_tril.reshape(B, D * D),
                "inv_diag": 1.0 / np.diagonal(self.scale_tril, axis1=-2, axis2=-1).reshape(B, D)}

    def _draw_numpy(self, gen, c, m):
        D = self.event_shape[0]
        loc = c["loc"]
        L = c["scale_tril"].reshape(D, D)
        z = gen.standard_normal((m, D))
        x = np.empty((m, D))
        for i in range(D):  # the kernel's order of additions
            acc = loc[i] + L[i, 0] * z[:, 0]
            for j in range(1, i + 1):
                acc = acc + L[i, j] * z[:, j]
            x[:, i] = acc
        return x

    def _in_support(self, x3):
        return np.isfinite(x3)

    def _score_numpy(self, x3):
        D = self.event_shape[0]
        B = self.batch_size
        loc = self.loc.reshape(1, B, D)
        L = self.scale_tril.reshape(1, B, D, D)
        inv = self.plan().const("inv_diag").reshape(1, B, D)
        m = x3.shape[0]
        w = np.empty((m, B, D))
        v = np.empty((m, B, D))
        for i in range(D):  # forward substitution, L w = x - loc
            acc = x3[:, :, i] - loc[..., i]
            for j in range(i):
                acc = acc - L[..., i, j] * w[:, :, j]
            w[:, :, i] = acc * inv[..., i]
        for i in range(D - 1, -1, -1):  # back substitution, L^T v = w
            acc = w[:, :, i].copy()
            for j in range(i + 1, D):
                acc = acc - L[..., j, i] * v[:, :, j]
            v[:, :, i] = acc * inv[..., i]
        rows, cols = np.tril_indices(D)
        sl = v[:, :, rows] * w[:, :, cols]
        diag = rows == cols
        sl[:, :, diag] = sl[:, :, diag] - inv
        return np.concatenate([v, sl], axis=-1)

    def _log_prob(self, x3):
        D = self.event_shape[0]
        B = self.batch_size
        loc = self.loc.reshape(B, D)
        L = self.scale_tril.reshape(B, D, D)
        out = np.empty(x3.shape[:2])
        for b in range(B):
            out[:, b] = stats.multivariate_normal.logpdf(x3[:, b, :], loc[b], L[b] @ L[b].T)
        return out

    def entropy(self, grad=False):
        """Differential entropy D/2 log(2 pi e) + sum_i log L_ii, shape batch_shape.

        Parameters
        ----------
        grad : bool, default False

            Also return the gradient: zero for loc; for scale_tril 1 / L_ii on
            the diagonal and zero elsewhere.

        {entropy returns}

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.MultivariateNormal(np.zeros(2), np.array([[2.0, 0.0], [1.0, 1.0]]))
        >>> h, g = d.entropy(grad=True)
        >>> round(float(h), 6)
        3.531024
        >>> g["scale_tril"]
        array([[0.5, 0. ],
               [0. , 1. ]])
        """
        D = self.event_shape[0]
        diag = np.diagonal(self.scale_tril, axis1=-2, axis2=-1)
        h = D * _entropy.HALF_LOG_2PIE + np.log(diag).sum(axis=-1)
        gl = np.zeros(tuple(self.batch_shape) + (D, D))
        gl[..., np.arange(D), np.arange(D)] = 1.0 / diag
        return self._entropy_out(h, {"loc": np.zeros(self.loc.shape), "scale_tril": gl}, grad)

    def fisher(self):
        """Fisher information in (loc, scale_tril), shape batch_shape + (P, P),
        P = D + D (D + 1) / 2.

        With M = L^-T and Sigma^-1 = M M^T: the loc block is Sigma^-1, the loc-L
        block is 0 (odd Gaussian moments), and the block of the lower-triangle
        components (i, j), (k, l) (row by row, as the score's) is
        Sigma^-1_ik [j = l] + M_il M_kj.  See :meth:`Distribution.fisher`.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> fs.MultivariateNormal(np.zeros(1), 2.0 * np.eye(1)).fisher()
        array([[0.25, 0.  ],
               [0.  , 0.5 ]])
        """
        D = self.event_shape[0]
        L = self.scale_tril
        M = np.swapaxes(np.linalg.inv(L), -1, -2)
        prec = M @ np.swapaxes(M, -1, -2)
        rows, cols = np.tril_indices(D)
        i, j = rows[:, None], cols[:, None]
        k, l = rows[None, :], cols[None, :]
        block = prec[..., i, k] * (j == l) + M[..., i, l] * M[..., k, j]
        n = rows.size
        F = np.zeros(tuple(self.batch_shape) + (D + n, D + n))
        F[..., :D, :D] = prec
        F[..., D:, D:] = block
        return self._fisher_out(F)

    def _pathwise_numpy(self, x3, gp3):
        # x = loc + L z: dx/dloc_i = e_i, dx_i/dL_ij = z_j (j <= i), z = L^-1 (x - loc)
        D = self.event_shape[0]
        B = self.batch_size
        loc = self.loc.reshape(1, B, D)
        L = self.scale_tril.reshape(1, B, D, D)
        inv = self.plan().const("inv_diag").reshape(1, B, D)
        w = np.empty_like(x3)
        for i in range(D):
            acc = x3[:, :, i] - loc[..., i]
            for j in range(i):
                acc = acc - L[..., i, j] * w[:, :, j]
            w[:, :, i] = acc * inv[..., i]
        rows, cols = np.tril_indices(D)
        return np.concatenate([gp3, gp3[:, :, rows] * w[:, :, cols]], axis=-1)

    def _measure_wave_numpy(self, values, x3, aux):
        """The measure-valued estimator's (f, terms) in z = L^-1 (x - loc), x = loc + L z.

        loc: d/dloc_i E f = sum_k (L^-1)_ki D_k, with D_k the weak derivative of
        z_k's location, c (f(z_k <- r_k) - f(z_k <- -r_k)), r_k Rayleigh(1),
        c = 1 / sqrt(2 pi).  scale_tril: d/dL_ab E f = E[z_b df/dx_a] =
        (L^-T H)_ab with H_bk = E[d2 f / dz_b dz_k], whose weak forms are, for
        b = k, f(z_b <- m_b) - f(z) (m_b double-sided Maxwell, coupled to z_b
        as sign(z_b) sqrt(z_b^2 + u^2 + v^2)) and, for b != k, c^2 times the
        four-point difference at z_b <- +-r_b, z_k <- +-r_k.  1 + D + 2 D^2
        evaluations of f per sample; every term unbiased.
        """
        D = self.event_shape[0]
        m, B = x3.shape[:2]
        loc = self.loc.reshape(B, D)
        L = self.scale_tril.reshape(B, D, D)
        Linv = np.linalg.inv(L)                                          # lower triangular
        z = np.einsum("bij,mbj->mbi", Linv, x3 - loc)
        extra = aux(lambda gen, k: np.concatenate([gen.rayleigh(size=(k, D)),
                                                   gen.standard_normal((k, 2 * D))], axis=1))
        r, u, v = extra[..., :D], extra[..., D:2 * D], extra[..., 2 * D:]
        mx = np.where(z < 0, -1.0, 1.0) * np.sqrt(z * z + u * u + v * v)
        pts = [z]
        keys = [("x",)]
        for k in range(D):
            for sgn in (1.0, -1.0):
                p = z.copy()
                p[..., k] = sgn * r[..., k]
                pts.append(p)
                keys.append(("loc", k, sgn))
            p = z.copy()
            p[..., k] = mx[..., k]
            pts.append(p)
            keys.append(("maxwell", k))
        for b in range(D):
            for k in range(b + 1, D):
                for sb in (1.0, -1.0):
                    for sk in (1.0, -1.0):
                        p = z.copy()
                        p[..., b] = sb * r[..., b]
                        p[..., k] = sk * r[..., k]
                        pts.append(p)
                        keys.append(("pair", b, k, sb, sk))
        Z = np.stack(pts)                                                # (Q, m, B, D)
        X = loc + np.einsum("bij,qmbj->qmbi", L, Z)
        F = values(X.reshape(-1, B, D)).reshape(len(pts), m, B)
        at = {key: F[i] for i, key in enumerate(keys)}
        c = 1.0 / np.sqrt(2.0 * np.pi)
        dz = np.stack([c * (at[("loc", k, 1.0)] - at[("loc", k, -1.0)]) for k in range(D)],
                      axis=-1)                                           # (m, B, D)
        H = np.empty((m, B, D, D))
        for b in range(D):
            H[..., b, b] = at[("maxwell", b)] - at[("x",)]
            for k in range(b + 1, D):
                h = c * c * (at[("pair", b, k, 1.0, 1.0)] - at[("pair", b, k, 1.0, -1.0)]
                             - at[("pair", b, k, -1.0, 1.0)] + at[("pair", b, k, -1.0, -1.0)])
                H[..., b, k] = H[..., k, b] = h
        t_loc = np.einsum("bki,mbk->mbi", Linv, dz)
        G = np.einsum("bka,mbck->mbac", Linv, H)                         # (L^-T H)_ac
        rows, cols = np.tril_indices(D)
        return at[("x",)], np.concatenate([t_loc, G[..., rows, cols]], axis=-1)


#: The open uniform's stand-in for an exact 0 draw (2^-54; _families.pxi's _open_uniform).
_OPEN_ZERO = 5.551115123125783e-17


def _open_uniform(u):
    return np.where(u > 0.0, u, _OPEN_ZERO)


def _exp_libm(v):
    """libm's exp of one number: +inf past 709.78, as the C function (Python's
    math.exp raises OverflowError there: "math range error")."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _libm(fn, x):
    """fn (a math function) elementwise: the C library's rounding, as the kernels'.

    numpy's own log and exp may round the last bit differently (SIMD code);
    the relaxed samplers' twins go through libm so that their samples are the
    kernels' bit for bit.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.fromiter(map(fn, x.ravel().tolist()), np.float64, x.size).reshape(x.shape)


def _libm_sigmoid(z):
    # the kernels' _sigmoid, branch for branch, through libm's exp
    z = np.asarray(z, dtype=np.float64)
    e = _libm(_exp_libm, np.where(z >= 0.0, -z, z))
    return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid(z):
    # the kernels' _sigmoid, branch for branch
    with np.errstate(over="ignore"):
        e = np.exp(np.where(z >= 0.0, -z, z))
        return np.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax_scaled(z, scale, exp=np.exp):
    """softmax(scale z) over the last axis, the max subtracted (the kernels' order)."""
    zz = z * scale
    e = exp(zz - zz.max(axis=-1, keepdims=True))
    tot = e[..., 0].copy()
    for k in range(1, e.shape[-1]):
        tot = tot + e[..., k]
    return e / tot[..., None]


class _Concrete:
    """The Concrete (relaxed) families' refusals: they are not exponential families,
    and neither their entropy nor their Fisher information has a closed form or an
    exact finite sum."""

    #: The discrete family it relaxes (for the messages).
    relaxes = None

    def _check_resolution(self, estimator):
        # y = sigmoid or softmax((logits + noise) / temperature): its relative noise is
        # about 1 / temperature, lost to rounding beyond 2^32 (a temperature of 5e299
        # rounded every sample to 0.5, and the gradients to 0 +- 0 or rounding noise)
        t = np.broadcast_to(self._fixed["temperature"], self.batch_shape)
        with np.errstate(divide="ignore"):
            _relative_resolution(self, "temperature", t, 1.0 / t, "1 / temperature")

    def entropy(self, grad=False):
        """Not available: raises NotImplementedError.

        The differential entropy of the Concrete distribution is an integral
        with no closed form and no exact finite sum; the discrete family's
        ``entropy`` gives that of the distribution it relaxes.

        Parameters
        ----------
        grad : bool, default False
            As in the other families' ``entropy``.

        Raises
        ------
        NotImplementedError
            Always.

        Examples
        --------
        >>> import fastscore as fs
        >>> fs.RelaxedBernoulli(0.5, logits=0.0).entropy()
        Traceback (most recent call last):
        ...
        NotImplementedError: RelaxedBernoulli.entropy: ...
        """
        raise NotImplementedError(
            "%s.entropy: the entropy of the %s (Concrete) distribution has no closed form or "
            "exact sum and is not implemented; %s.entropy gives that of the discrete "
            "distribution it relaxes" % (type(self).__name__, type(self).__name__, self.relaxes))

    def fisher(self):
        """Not available: raises NotImplementedError (the Concrete distribution is not
        an exponential family and its Fisher information has no closed form)."""
        raise NotImplementedError(
            "%s.fisher: the Fisher information of the relaxed (Concrete) distribution has "
            "no closed form and is not implemented" % type(self).__name__)


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
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

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
    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    {raises: probs or logits}

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


# The families laid out as units (fastscore/families/<unit>.py).
from .families import Laplace  # noqa: E402
