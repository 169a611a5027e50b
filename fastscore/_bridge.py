"""Helpers shared by the deep-learning bridges (:mod:`fastscore.torch`, :mod:`fastscore.jax`).

Nothing here imports torch or jax: the bridges convert their arrays to NumPy
and call the ordinary fastscore entry points.
"""

import difflib
import functools
import inspect

import numpy as np

from . import distributions
from ._kinds import SCORE

#: The family names the bridges accept as strings (the public distribution classes).
FAMILIES = tuple(name for name in distributions.__all__ if name != "Distribution")


def resolve_family(family):
    """The fastscore distribution class named or given by ``family``.

    Parameters
    ----------
    family : str or type
        A family name as in ``fastscore.__all__`` (``"Normal"``,
        ``"Categorical"``, ...), or the class itself (``fs.Normal``).

    Returns
    -------
    type
        A subclass of :class:`fastscore.Distribution`.

    Examples
    --------
    >>> from fastscore._bridge import resolve_family
    >>> resolve_family("Normal").__name__
    'Normal'
    """
    if isinstance(family, dict):
        return JointFamily(family)
    if isinstance(family, str):
        if family in FAMILIES:
            return getattr(distributions, family)
        folded = {name.lower(): name for name in FAMILIES}
        guess = folded.get(family.lower())
        if guess is None:
            close = difflib.get_close_matches(family, FAMILIES, n=1)
            guess = close[0] if close else None
        hint = " (did you mean %r?)" % guess if guess else ""
        raise ValueError("family: unknown distribution family %r%s; expected one of %s"
                         % (family, hint, ", ".join(FAMILIES)))
    # A family class, or a user's subclass of one (not the abstract bases).
    if isinstance(family, type) and any(getattr(distributions, name) in family.__mro__
                                        for name in FAMILIES):
        return family
    raise TypeError("family must be a distribution family name such as 'Normal' or "
                    "'Categorical', or a fastscore distribution class such as fs.Normal; "
                    "got %r" % (family,))


class JointFamily:
    """A Joint of families for the bridges (``family={"w": "Normal", "tau": "Gamma"}``).

    Its parameters are given by part, ``w={"loc": ..., "scale": ...}`` (each
    part's dict may hold ``reinterpreted_batch_ndims`` and ``transforms`` too),
    and travel flat as ``"w.loc"``; :meth:`__call__` builds the ``fs.Joint``.
    Gradients are looked up by the flat names (:func:`grad_of`).
    """

    __name__ = "Joint"

    def __init__(self, families):
        if not families:
            raise ValueError("family: a Joint needs at least one part")
        self.parts = {}
        for nm, fam in families.items():
            if not isinstance(nm, str) or "." in nm:
                raise TypeError("family: a Joint's part names must be strings without '.', "
                                "got %r" % (nm,))
            self.parts[nm] = resolve_family(fam)
        self.wraps = {nm: Wrap() for nm in self.parts}

    def split(self, params):
        """Flat ``"part.param"`` parameters from ``{part: {param: value}}``; the parts'
        wrapper options are kept in ``self.wraps``."""
        flat = {}
        for nm, cls in self.parts.items():
            given = params.pop(nm, None)
            if not isinstance(given, dict):
                raise TypeError("Joint: part %r needs its parameters as a dict, %s=dict(...)"
                                % (nm, nm))
            given = dict(given)
            self.wraps[nm] = Wrap(given.pop("reinterpreted_batch_ndims", 0),
                                  given.pop("transforms", None))
            accepted, required = _parameters(cls)
            for k in given:
                if k not in accepted:
                    raise TypeError("%s (part %r): unknown parameter %r; its parameters are %s"
                                    % (cls.__name__, nm, k, ", ".join(accepted)))
            for k in required:
                if k not in given:
                    raise TypeError("%s (part %r): parameter %r is required"
                                    % (cls.__name__, nm, k))
            flat.update(("%s.%s" % (nm, k), v) for k, v in given.items())
        if params:
            raise TypeError("Joint: unknown part %r; its parts are %s"
                            % (next(iter(params)), ", ".join(self.parts)))
        return flat

    def __call__(self, validate_args=True, **flat):
        from .joint import Joint

        by = {nm: {} for nm in self.parts}
        for k, v in flat.items():
            nm, p = k.split(".", 1)
            by[nm][p] = v
        return Joint({nm: self.wraps[nm](cls(**by[nm], validate_args=validate_args))
                      for nm, cls in self.parts.items()})


def grad_of(grad, name):
    """``est.grad[name]``, or for a Joint's flat ``"part.param"`` name the nested entry
    (None when there is none)."""
    if name in grad and not isinstance(grad[name], dict):
        return grad[name]
    part, _, param = name.partition(".")
    inner = grad.get(part)
    return inner.get(param) if isinstance(inner, dict) else None


def param_names(dist):
    """The flat names of the parameters with a gradient (``"part.param"`` for a Joint)."""
    from .joint import Joint

    if isinstance(dist, Joint):
        return tuple("%s.%s" % (nm, p) for nm, d in dist.parts.items() for p in d.param_names)
    return tuple(dist.param_names)


def param_shape(dist, name):
    """The gradient shape of the parameter ``name`` (a Joint's by its flat name)."""
    from .joint import Joint

    if isinstance(dist, Joint):
        nm, _, p = name.partition(".")
        return dist.parts[nm].param_shape(p)
    return dist.param_shape(name)


def check_method(method, baseline, estimator="score"):
    """Refuse an unknown method, or a baseline without method='baseline', before any work."""
    from ._kinds import KINDS

    if KINDS[estimator].methods == ("plain",):
        if method != "plain":
            raise ValueError("method=%r is a choice of the score-function estimator; "
                             "estimator=%r takes method='plain' only" % (method, estimator))
        if baseline is not None:
            raise ValueError("baseline is only used with estimator='score' and "
                             "method='baseline' (got estimator=%r)" % (estimator,))
        return
    if not isinstance(method, str) or method not in SCORE.methods:
        raise ValueError("method must be one of %s, got %r"
                         % (", ".join(repr(m) for m in SCORE.methods), method))
    if method == "baseline" and baseline is None:
        raise ValueError("method='baseline' needs baseline=: a scalar or an array of the "
                         "batch shape")
    if method != "baseline" and baseline is not None:
        raise ValueError("baseline is only used with method='baseline' (got method=%r)"
                         % method)


def takes(cls, name):
    """True when the family ``cls`` (not a Joint) has a parameter ``name``
    (RelaxedBernoulli's and RelaxedCategorical's ``temperature``)."""
    return not isinstance(cls, JointFamily) and name in _parameters(cls)[0]


def check_options(cls, n, *, estimator, method, baseline, grad_f, options, rtol, atol,
                  max_n, cov, return_stderr):
    """Check the estimate's options before any work, as fs.estimate would.

    ``options`` holds temperature, straight_through, eta and num_draws, with
    stand-ins (1.0) for values that are framework arrays (checked when they
    reach fastscore).  Returns n as an int (None when precision targets choose it).
    """
    from ._kinds import KINDS
    from .estimate import _check_n, _check_target

    if not isinstance(estimator, str) or estimator not in KINDS:
        raise ValueError("estimator must be one of %s, got %r"
                         % (", ".join(repr(k) for k in KINDS), estimator))
    KINDS[estimator].check_options(**options)
    check_method(method, baseline, estimator)
    if grad_f is not None and "grad_f" not in KINDS[estimator].needs:
        raise ValueError("grad_f is only used with estimator='pathwise', 'concrete' or 'rebar' "
                         "(got estimator=%r)" % estimator)
    for name, flag in (("cov", cov), ("return_stderr", return_stderr)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError("%s must be True or False, got %r" % (name, flag))
    if cov and not return_stderr:
        raise ValueError("cov=True comes back in the standard errors' dict (its 'cov' "
                         "entry): pass return_stderr=True too")
    targets = _check_target("rtol", rtol) is not None or _check_target("atol", atol) is not None
    if max_n is not None and not targets:
        raise ValueError("max_n is only used with a precision target (rtol= or atol=)")
    if n is None:
        if not targets:
            raise TypeError("n must be given (the samples per batch element) unless a "
                            "precision target, rtol= or atol=, chooses it")
        return None
    return _check_n(n, minimum=2)


def precheck(dist, f, estimator, options, grad_f, cov):
    """Refuse what fs.estimate would refuse of this distribution, f and estimator before
    drawing (its first checks, in its order), for a bridge whose estimate runs later
    (fastscore.jax under jit: an error there surfaces only when the computation runs)."""
    from . import _cov
    from ._callables import prepare, prepare_grad
    from ._kinds import KINDS

    kind = KINDS[estimator].configure(**options)
    plan = kind.plan_for(dist)
    pf = prepare(f)
    pf.check(plan)
    kind.check_family(plan)
    if "grad_f" in kind.needs:
        prepare_grad(pf, grad_f, estimator, plan)
    if cov:
        _cov.check(kind, plan)


#: fs.estimate's options that surrogate (given samples and rewards) has no use for.
SAMPLING_OPTIONS = ("n", "rng", "grad_f", "temperature", "straight_through", "eta",
                    "num_draws", "rtol", "atol", "max_n", "cov", "n_threads", "backend",
                    "progress", "client", "chunks_per_task")


def check_surrogate(cls, estimator, params):
    """Refuse what surrogate cannot do on given samples, with the reason."""
    if estimator != SCORE.name:
        raise ValueError("surrogate: estimator=%r evaluates f (or f') at points it draws "
                         "itself, which given samples and rewards cannot provide; surrogate "
                         "takes estimator='score' only (methods 'plain', 'baseline', 'rloo', "
                         "'cv'): use expectation for the other estimators" % (estimator,))
    for name in SAMPLING_OPTIONS:
        if name in params and not takes(cls, name):
            raise TypeError("surrogate: %s= is an option of expectation, which draws the "
                            "samples; surrogate's samples and rewards are given (see "
                            "fs.estimate_from_samples)" % name)


def stderr_items(est, dist):
    """The standard errors of ``est`` as (key, array) pairs: "value", then each
    parameter's (flat names, as :func:`param_names`), then "cov" when there is one."""
    out = [("value", np.asarray(est.value_stderr))]
    out.extend((k, np.asarray(grad_of(est.stderr, k))) for k in param_names(dist))
    if est.cov is not None:
        out.append(("cov", np.asarray(est.cov)))
    return out


def stderr_shapes(dist, cov):
    """The (key, shape) of :func:`stderr_items` for ``dist``, before any estimate."""
    from ._cov import components

    batch = tuple(dist.batch_shape)
    out = [("value", batch)]
    out.extend((k, tuple(param_shape(dist, k))) for k in param_names(dist))
    if cov:
        P = len(components(dist.plan()))
        out.append(("cov", batch + (P, P)))
    return out


class Wrap:
    """What the bridges do to the family they build: ``Independent`` over the last
    ``reinterpreted_batch_ndims`` batch dimensions, then a ``TransformedDistribution``
    with ``transforms`` (each optional).  ``key`` identifies it in caches."""

    def __init__(self, reinterpreted_batch_ndims=0, transforms=None):
        from .transforms import Transform

        k = reinterpreted_batch_ndims
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise TypeError("reinterpreted_batch_ndims must be an integer >= 0, got %r" % (k,))
        if isinstance(transforms, Transform):
            transforms = [transforms]
        self.ndims = int(k)
        self.transforms = list(transforms) if transforms else []
        self.key = (self.ndims, tuple(repr(t) for t in self.transforms))

    def __call__(self, dist):
        from .joint import Independent, TransformedDistribution

        if self.ndims:
            dist = Independent(dist, self.ndims)
        if self.transforms:
            dist = TransformedDistribution(dist, self.transforms)
        return dist


def split_params(cls, params):
    """Check the parameter names against ``cls``; separate the options from them.

    Returns ``(params, validate_args, wrap)``, ``wrap`` a :class:`Wrap` built
    from ``reinterpreted_batch_ndims`` and ``transforms``.  An unknown or
    missing parameter is a TypeError naming it and the family's parameters.
    """
    params = dict(params)
    validate = params.pop("validate_args", True)
    wrap = Wrap(params.pop("reinterpreted_batch_ndims", 0), params.pop("transforms", None))
    if isinstance(cls, JointFamily):
        return cls.split(params), validate, wrap
    accepted, required = _parameters(cls)
    unknown = [name for name in params if name not in accepted]
    if unknown:
        raise TypeError("%s: unknown parameter %r; its parameters are %s"
                        % (cls.__name__, unknown[0], ", ".join(accepted)))
    missing = [name for name in required if name not in params]
    if missing:
        raise TypeError("%s: parameter %r is required (its parameters are %s)"
                        % (cls.__name__, missing[0], ", ".join(accepted)))
    return params, validate, wrap


@functools.lru_cache(maxsize=None)
def _parameters(cls):
    """(accepted, required) parameter names of a family's constructor."""
    sig = inspect.signature(cls.__init__)
    accepted = tuple(name for name in sig.parameters if name not in ("self", "validate_args"))
    required = tuple(name for name in accepted
                     if sig.parameters[name].default is inspect.Parameter.empty)
    return accepted, required


def probe(cls, shapes, static, validate_args=True, values=None):
    """Build ``cls`` to learn batch_shape and gradient shapes before any samples are drawn.

    ``shapes`` maps the names of array parameters to their shapes.  With
    ``values`` (the same names, concrete arrays), the real parameters are
    used and checked (clear errors at call time); without, stand-ins of ones
    of the right shapes, unchecked (the values are not known yet: under
    ``jax.jit``).  ``static`` holds the parameters given as plain numbers.
    """
    if values is not None:
        return cls(**static, **values, validate_args=validate_args)
    dummy = {name: np.ones(shape) for name, shape in shapes.items()}
    return cls(**static, **dummy, validate_args=False)


def sum_to_shape(xp, arr, shape):
    """Sum ``arr`` over the axes along which ``shape`` was broadcast up to arr's shape.

    ``xp`` is the array namespace (numpy or jax.numpy).  The result has
    exactly ``shape``: the gradient of a broadcast parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from fastscore._bridge import sum_to_shape
    >>> sum_to_shape(np, np.ones((2, 3)), (1, 3))
    array([[2., 2., 2.]])
    """
    shape = tuple(shape)
    lead = arr.ndim - len(shape)
    if lead:
        arr = xp.sum(arr, axis=tuple(range(lead)))
    axes = tuple(i for i, (have, want) in enumerate(zip(arr.shape, shape))
                 if want == 1 and have != 1)
    if axes:
        arr = xp.sum(arr, axis=axes, keepdims=True)
    return xp.reshape(arr, shape)


def expand_cotangent(xp, g, grad):
    """``g`` (batch_shape) times ``grad`` (batch_shape + the parameter's event shape)."""
    extra = grad.ndim - g.ndim
    return xp.reshape(g, tuple(g.shape) + (1,) * extra) * grad
