"""The base of every family: :class:`Distribution` and what the families share.

One module per family lives in fastscore/families/ (its parameter checks,
kernel constants, NumPy twins, closed forms and second-order pieces); this
module holds what they have in common:

* :class:`Distribution`: parameters in, the plan (fastscore._plan.Plan) out,
  with ``score``, ``log_prob``, ``entropy``, ``fisher`` and the checks of
  parameters and samples;
* the mixins ``_ScalarFamily`` (one number per parameter and batch element),
  ``_ProbsOrLogits`` (exactly one of probs or logits) and ``_Concrete`` (the
  relaxed families' refusals);
* the checks several families run (``_resolution``, ``_relative_resolution``,
  ``_coupled``), the docstring sections written once (``_RAISES``,
  ``_ENTROPY_RETURNS``) and the libm twins of the relaxed samplers.

fastscore.distributions re-exports the families and :class:`Distribution`.
Scores are taken with respect to the parameters the user passed: a
``Bernoulli(logits=...)`` has a ``"logits"`` gradient, a
``Bernoulli(probs=...)`` a ``"probs"`` one.
"""

import math

import numpy as np
from scipy import special

from . import _specs
from ._layout import ParamLayout, SampleLayout
from ._plan import Plan, pack

__all__ = ["Distribution"]

#: numpy's largest Poisson rate (its samples are int64): 2**63 - 1 - 10 sqrt(2**63 - 1).
POISSON_LAM_MAX = float(np.iinfo(np.int64).max) - math.sqrt(float(np.iinfo(np.int64).max)) * 10
#: The largest event (Dirichlet K, MultivariateNormal D): the kernels draw a
#: block of events into a fixed buffer of 4096 doubles.
MAX_EVENT_SIZE = 2048
#: An estimate needs samples whose noise float64 resolves: a scale at least this
#: fraction of |loc| keeps 2^20 levels of it (at loc = 1e17 and scale 1 every sample
#: rounds to loc, and every gradient to 0 +- 0).
MIN_RELATIVE_SCALE = 2.0 ** -32
#: The measure-valued estimators of the integer families need x and x + 1 apart:
#: samples below 2^52 (mean + 20 standard deviations, the draws that occur).
MAX_COUPLED_INTEGER = 2.0 ** 52


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
        if doc and "{validate_args, raises" in doc:
            cls.__doc__ = (doc.replace("    {validate_args, raises: probs or logits}\n",
                                       _RAISES % (" or both or neither of\n        probs and "
                                                  "logits are given"))
                           .replace("    {validate_args, raises}\n", _RAISES % ""))
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
    # _measure_draw_numpy(gen, c, m), _measure_coef(), _measure_support(); and
    # _SecondOrder, its pieces of order=2 (fastscore._hessian).
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

    #: KL(self || q) of two of the family in closed form, ``_kl_same(q, batch)`` ->
    #: (value, gradients in self's parameters, in q's), for fastscore.kl; None where the
    #: family has none.
    _kl_same = None

    #: The family's second-order pieces for ``fs.estimate(..., order=2)``: a subclass of
    #: fastscore._hessian._Family (score_hess; jac, mixed, jac2 where x = g(eps; theta)
    #: is explicit; measure where weak second derivatives are written), None where the
    #: family has none.
    _SecondOrder = None

    def _second_order(self):
        """The second-order pieces of this distribution (fastscore._hessian), or
        NotImplementedError where the family has none."""
        if self._SecondOrder is None:
            raise NotImplementedError("order=2: %s has no second derivative of its "
                                      "log-density here (every family but the relaxed ones "
                                      "has one)" % self._name)
        return self._SecondOrder(self)

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

#: The last parameter and the Raises section of every family's docstring
#: ("{validate_args, raises}" there; "{validate_args, raises: probs or logits}" for the
#: families taking either).
_RAISES = """    validate_args : bool, default True
        Check the parameters at construction (see :class:`Distribution`).

    Raises
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



#: The open uniform's stand-in for an exact 0 draw (2^-54; families/_common.pxi's _open_uniform).
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
    #: No second-order pieces (order=2 refuses them) and no closed-form KL (fs.kl
    #: refuses them): the Concrete density's derivatives and divergences have none.
    _SecondOrder = None
    _kl_same = None

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
