"""The public entry points: estimate, sample, score, estimate_from_samples.

This layer checks arguments, turns rng into a Philox key, sorts f into its
kind, picks the estimator kind and a backend, and wraps the finished numbers
in an :class:`Estimate`.  From a distribution it takes only its plan
(``dist.plan()``), which is all the backends see.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional, Union

import numpy as np

from . import _cluster, _compiled, _cov, _finish, _hessian, _kinds, _moments, _natural, _results
from . import _threads, _waves, _wrapped, reference
from ._callables import prepare
from ._errors import RESCALE_HINT, SampleOverflowError  # noqa: F401 (RESCALE_HINT: public here)
from ._kinds import SCORE
from ._layout import as_array
from ._plan import Plan
from ._progress import make_bar
from ._rng import CHUNK_SIZE, key_from_rng
from ._waves import DEFAULT_FIRST_WAVE, DEFAULT_MAX_N  # noqa: F401 (documented defaults)
from .distributions import Distribution

__all__ = ["Estimate", "estimate", "sample", "score", "estimate_from_samples"]

BACKENDS = ("compiled", "reference")


class Estimate:
    """Result of :func:`estimate`: E[f], its gradient, and their standard errors.

    Made by :func:`estimate` and :func:`estimate_from_samples`, not by hand.

    Parameters
    ----------
    value, value_stderr, grad, stderr, n, method, key, converged, estimator, info
        The attributes of the same names, below.

    Attributes
    ----------
    value, value_stderr : float or ndarray of shape batch_shape
        Monte Carlo estimate of E[f(x)] and its standard error (numpy.float64
        scalars when batch_shape is ()).
    grad, stderr : dict of str -> ndarray
        Gradient of E[f] with respect to each parameter the distribution was
        given, and its standard error; each of shape batch_shape + the
        parameter's event shape (e.g. (*batch_shape, K) for Categorical logits,
        (*batch_shape, D, D) for scale_tril, zero above the diagonal).
    n : int
        Samples per batch element (with precision targets, the total drawn).
    estimator : str
        The estimator kind: "score", "pathwise", "measure", "concrete", "rebar",
        "arm", "disarm", "indecater" or "vimco".
    method : str
        The score function's baseline: "plain", "baseline", "rloo" or "cv"
        ("plain" for the other estimators).
    key : tuple of two int or None
        The Philox key: with ``n`` and the chunk size it fixes every sample.
        None from :func:`estimate_from_samples`.
    converged : bool or None
        With precision targets (``rtol``/``atol``): True if every gradient's
        standard error met its target, False if ``max_n`` stopped the run
        first (or a result is NaN, with ``nan_policy="propagate"``); None when
        no target was given.
    info : dict
        The estimator's settings: ``temperature`` and ``straight_through``
        (concrete), ``temperature`` and ``eta`` (rebar: the control variate's
        coefficient used, a dict by parameter like ``grad``); empty otherwise.
    components : list of (str, tuple)
        The gradient's components in the order of ``cov``: ``grad``'s keys in
        order, each parameter's entries in C order, as (name, index) pairs.
    cov : ndarray of shape batch_shape + (P, P), or None
        With ``estimate(..., cov=True)``: the covariance of the gradient's P
        components (``components``), per batch element, consistent with each
        method's standard error: ``stderr ** 2`` is its diagonal exactly.
        None otherwise.
    natural_grad, natural_stderr : dict of str -> ndarray
        The natural gradient F^+ grad (F = ``dist.fisher()``, with the
        ``damping`` of :func:`estimate`) and its standard error (needs
        ``cov=True``), keys and shapes as ``grad``'s; computed on first use
        (see :attr:`natural_grad`).
    hessian, hessian_stderr : ndarray of shape batch_shape + (P, P), or None
        With ``estimate(..., order=2)``: the Hessian d^2 E[f] / dtheta_j dtheta_k
        of the P gradient components (the order of ``components``), per batch
        element, symmetric, and the standard error of every entry (for
        MultivariateNormal's scale_tril, rows and columns above the diagonal are
        zero).  ``info["hessian"]`` names its estimator: "score" (with
        ``method``'s baseline), "mixed", "pathwise" or "measure" (see
        :func:`estimate`).  None with order=1.

    Examples
    --------
    >>> import fastscore as fs
    >>> est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n=10_000, rng=0)
    >>> est.estimator, est.method, est.n
    ('score', 'plain', 10000)
    >>> sorted(est.grad) == sorted(est.stderr) == ['loc', 'scale']
    True
    >>> bool(abs(est.value - 1.0) < 4 * est.value_stderr)   # E[x^2] = 1
    True
    """

    def __init__(self, value, value_stderr, grad, stderr, n, method, key, converged=None,
                 estimator="score", info=None):
        self.value = value
        self.value_stderr = value_stderr
        self.grad = grad
        self.stderr = stderr
        self.n = n
        self.estimator = estimator
        self.method = method
        self.key = key
        self.converged = converged
        self.info = {} if info is None else info
        self._components = []
        self._component_plan = None  # components listed from it at the first read
        self.cov = None
        self.hessian = None
        self.hessian_stderr = None

    @property
    def components(self):
        """The gradient's components in the order of ``cov`` (see the class docstring).

        Examples
        --------
        >>> import fastscore as fs
        >>> est = fs.estimate(fs.Normal(0.0, 1.0), fs.fn.power(2), n=100, rng=0, cov=True)
        >>> est.components, est.cov.shape
        ([('loc', ()), ('scale', ())], (2, 2))
        >>> fs.estimate(fs.Categorical(logits=[0.0, 0.0]), fs.fn.table([1.0, 2.0]),
        ...             n=100, rng=0).components
        [('logits', (0,)), ('logits', (1,))]
        """
        if self._component_plan is not None:
            # listed on demand: a training step that never reads them pays nothing
            self._components = _cov.components(self._component_plan)
            self._component_plan = None
        return self._components

    @components.setter
    def components(self, value):
        self._components = value
        self._component_plan = None

    def stderr_of(self, weights):
        """Standard error of sum_p weights[p] . grad[p], per batch element.

        Parameters
        ----------
        weights : dict of str -> float or array_like
            For each parameter (a key of ``grad``; left out: weight 0) a
            scalar or an array broadcasting to ``grad[name]``'s shape (a
            chain-ruled Greek, a natural-gradient direction).

        Returns
        -------
        float or ndarray of shape batch_shape
            sqrt(w^T cov w) from the covariance of the components (``cov``),
            so it needs an estimate made with ``cov=True``.

        Examples
        --------
        >>> import fastscore as fs
        >>> est = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=10_000, rng=0,
        ...                   method="rloo", cov=True)
        >>> est.components
        [('loc', ()), ('scale', ())]
        >>> se = est.stderr_of({"loc": 1.0})        # one component: its own stderr
        >>> bool(abs(se - est.stderr["loc"]) < 1e-12 * est.stderr["loc"])
        True
        >>> float(est.stderr_of({"loc": 1.0, "scale": -1.0})) > 0.0
        True
        """
        if self.cov is None:
            raise ValueError("stderr_of needs the covariance of the gradient: make the estimate "
                             "with fs.estimate(..., cov=True)")
        batch = np.shape(self.value)
        parts = []

        def walk(grad, weights, where):
            # a Joint's gradients nest by part: so do its weights
            unknown = set(weights) - set(grad)
            if unknown:
                raise KeyError("weights%s name no parameter of this estimate: %s (it has %s)"
                               % (where, ", ".join(sorted(map(repr, unknown))),
                                  ", ".join(map(repr, grad))))
            for name, g in grad.items():
                label = "%s[%r]" % (where, name)
                if isinstance(g, dict):
                    sub = weights.get(name, {})
                    if not isinstance(sub, dict):
                        raise TypeError("weights%s must be a dict by parameter, as grad%s is"
                                        % (label, label))
                    walk(g, sub, label)
                    continue
                w = np.asarray(weights.get(name, 0.0), dtype=np.float64)
                try:
                    w = np.broadcast_to(w, np.shape(g))
                except ValueError:
                    raise ValueError("weights%s must broadcast to the shape %s of grad%s; got "
                                     "shape %s" % (label, np.shape(g), label, w.shape)) from None
                parts.append(w.reshape(batch + (-1,)))

        walk(self.grad, weights, "")
        w = np.concatenate(parts, axis=-1)
        v = np.einsum("...j,...jk,...k->...", w, self.cov, w)
        return np.sqrt(np.maximum(v, 0.0))

    _natural = None   # set by estimate() and estimate_from_samples (fastscore._natural)

    @property
    def natural_grad(self):
        """The natural gradient F^+ grad per batch element, a dict like ``grad``.

        F is the distribution's closed-form Fisher information
        (``dist.fisher()``, in the order of ``components``; block-diagonal
        for Independent and Joint, whose natural gradients nest like their
        ``grad``) and ^+ the Moore-Penrose pseudo-inverse: for Categorical,
        whose F is singular, the minimum-norm solution of F x = grad (the
        logits' natural gradient sums to 0; the probs' one is orthogonal to
        the probs).  With ``fs.estimate(..., damping=lam)``: (F + lam I)^-1
        grad.  Computed on first use (fastscore._natural: block by block of
        F, each equilibrated, the eigenvalues below a relative cutoff
        counted as zero); NaN in a block whose F or gradient is not finite.

        Raises
        ------
        NotImplementedError
            For a distribution without a Fisher information (the relaxed
            families).

        Examples
        --------
        E[x^2] under Normal(loc, scale) has the gradient (2 loc, 2 scale) and
        F = diag(1, 2) / scale^2: the natural gradient is (2 loc scale^2,
        scale^3).

        >>> import fastscore as fs
        >>> est = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=100_000, rng=0,
        ...                   estimator="pathwise", cov=True)
        >>> ng, se = est.natural_grad, est.natural_stderr
        >>> [bool(abs(ng[k] - 8.0) < 4 * se[k]) for k in ("loc", "scale")]
        [True, True]
        >>> d = fs.Categorical(logits=[0.0, 1.0, -1.0])
        >>> est = fs.estimate(d, fs.fn.table([1.0, 0.0, 0.0]), n=10_000, rng=0, method="rloo")
        >>> abs(float(est.natural_grad["logits"].sum())) < 1e-12   # in F's row space
        True
        """
        if self._natural is None:
            raise ValueError("this estimate has no distribution to take a Fisher "
                             "information from (it was not made by fs.estimate or "
                             "fs.estimate_from_samples)")
        return self._natural.grad(self)

    @property
    def natural_stderr(self):
        """Standard errors of ``natural_grad``, a dict like ``stderr``.

        sqrt(diag(K cov K)), K = (F + damping I)^+ the operator of
        ``natural_grad`` and cov = ``est.cov``, the covariance of the
        gradient's components (the natural gradient mixes them, so their
        covariances count): the estimate must be made with ``cov=True``
        (ValueError otherwise; ``natural_grad`` itself does not need it).

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.Gamma(concentration=3.0, rate=2.0)
        >>> est = fs.estimate(d, fs.fn.power(1), n=50_000, rng=1, method="cv", cov=True)
        >>> K = np.linalg.inv(d.fisher())
        >>> se = np.sqrt(np.diag(K @ est.cov @ K))
        >>> bool(np.allclose([est.natural_stderr["concentration"], est.natural_stderr["rate"]],
        ...                  se, rtol=1e-9))
        True
        """
        if self._natural is None:
            raise ValueError("this estimate has no distribution to take a Fisher "
                             "information from (it was not made by fs.estimate or "
                             "fs.estimate_from_samples)")
        return self._natural.stderr(self)

    def __repr__(self):
        conv = "" if self.converged is None else ", converged=%r" % self.converged
        kind = "" if self.estimator == SCORE.name else "estimator=%r, " % self.estimator
        lines = ["Estimate(%smethod=%r, n=%d%s)" % (kind, self.method, self.n, conv),
                 "  value:  %s" % _pm(self.value, self.value_stderr)]
        def walk(prefix, grad, stderr):
            for name in grad:
                if isinstance(grad[name], dict):   # a Joint's part
                    walk(prefix + "[%r]" % name, grad[name], stderr[name])
                else:
                    lines.append("  grad%s[%r]: %s" % (prefix, name,
                                                       _pm(grad[name], stderr[name])))

        walk("", self.grad, self.stderr)
        if self.hessian is not None:
            lines.append("  hessian (%s): %s" % (self.info.get("hessian", "?"),
                                                 _pm(self.hessian, self.hessian_stderr)))
        return "\n".join(lines)


def _pm(v, e):
    v = np.asarray(v)
    e = np.asarray(e)
    if v.ndim == 0:
        return "%.6g +- %.2g" % (v, e)
    opts = dict(threshold=8, edgeitems=2, separator=", ")
    return "%s +- %s" % (
        np.array2string(v, formatter={"float_kind": lambda t: "%.6g" % t}, **opts),
        np.array2string(e, formatter={"float_kind": lambda t: "%.2g" % t}, **opts))


def _check_dist(dist):
    if not isinstance(dist, Distribution):
        raise TypeError("dist must be a fastscore distribution (e.g. fs.Normal(0.0, 1.0)), got "
                        "%s" % type(dist).__name__)


def _check_n(n, minimum=1):
    """n as a Python int: a positive integer, integral floats such as 1e6 accepted."""
    if isinstance(n, (bool, np.bool_)):
        raise TypeError("n must be a positive integer, got a bool")
    if isinstance(n, numbers.Integral):
        value = int(n)
    elif isinstance(n, numbers.Real) and np.isfinite(n) and float(n).is_integer():
        value = int(n)
    elif isinstance(n, numbers.Real):
        raise ValueError("n must be a positive integer, got %r" % (n,))
    else:
        raise TypeError("n must be a positive integer, got %s" % type(n).__name__)
    if value < minimum:
        raise ValueError("n must be an integer >= %d, got %d" % (minimum, value))
    if value >= 2 ** 62:
        raise ValueError("n must be < 2**62, got %d" % value)
    return value


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ValueError("backend must be 'compiled' or 'reference', got %r" % (backend,))


class Gradients(dict):
    """A dict of gradients (or standard errors) by parameter name, whose
    missing keys say which parameters there are: a gradient is taken only
    with respect to the parameters passed (``Bernoulli(logits=...)`` has
    ``grad["logits"]``, not ``grad["probs"]``)."""

    def __missing__(self, key):
        raise KeyError("%r: no gradient for it; gradients are taken with respect to the "
                       "parameters passed to the distribution, here %s"
                       % (key, ", ".join(repr(k) for k in self) or "none"))


def _wrap(plan, results, row_sums, method, n, key, nan_policy, pf=None, converged=None,
          kind=SCORE, one_sample=False):
    """Check non-finite results against nan_policy (fastscore._results) and build the
    Estimate.

    ``results`` is (value, value_stderr, grad, stderr) per batch element;
    ``row_sums(b)`` gives element b's moment sums, to say what went wrong.
    """
    _results.check(kind, plan, results, row_sums, nan_policy, pf, one_sample)
    value, value_stderr, g, se = results
    shape = tuple(plan.batch_shape)
    if shape:
        value = value.reshape(shape)
        value_stderr = value_stderr.reshape(shape)
    else:
        value = np.float64(value[0])
        value_stderr = np.float64(value_stderr[0])
    est = Estimate(value, value_stderr, Gradients(plan.params.split(g)),
                   Gradients(plan.params.split(se)), n, method, key, converged, kind.name,
                   kind.result_info(plan))
    est._component_plan = plan
    return est


def _check_target(name, value):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a non-negative number or None, got %r" % (name, value))
    if not (value >= 0 and np.isfinite(value)):
        raise ValueError("%s must be a finite number >= 0, got %r" % (name, value))
    return float(value)


RngLike = Union[None, int, np.random.SeedSequence, np.random.BitGenerator, np.random.Generator]


def estimate(dist: Distribution, f: Any, n: Union[int, float, None] = None, *,
             rng: RngLike = None,
             estimator: str = "score", method: str = "plain", baseline: Optional[Any] = None,
             grad_f: Optional[Any] = None, temperature: Optional[Any] = None,
             straight_through: bool = False, eta: Any = "auto",
             num_draws: Optional[int] = None, n_threads: Optional[int] = None,
             backend: str = "compiled", nan_policy: str = "raise", rtol: Optional[float] = None,
             atol: Optional[float] = None, max_n: Optional[int] = None,
             progress: bool = False, client: Any = None,
             chunks_per_task: Optional[int] = None, cov: bool = False, order: int = 1,
             hess_f: Optional[Any] = None, damping: Any = 0.0) -> Estimate:
    """Monte Carlo estimate of E[f(x)] and its gradient (and Hessian), x ~ dist.

    For every batch element, estimates E[f] and its gradient with respect to
    the distribution's parameters from ``n`` samples, with a standard error on
    every number.  The compiled backend never stores the samples when f is a
    built-in or low-level function.  The estimators (Mohamed et al., "Monte
    Carlo Gradient Estimation in Machine Learning", JMLR 2020):

    * ``"score"`` (default): mean(f(x) d/dtheta log p(x)), the score function
      (REINFORCE, likelihood ratio), with the baselines of ``method``.  Any f.
    * ``"pathwise"``: mean(f'(x) . dx/dtheta), the reparameterisation
      gradient, on the very samples the score function draws.  Continuous
      families only; needs f' (``grad_f``, or a built-in's own derivative).
      Usually the lowest variance for a smooth f; biased for an f with jumps.
    * ``"measure"``: c_theta (mean f(x+) - mean f(x-)), the measure-valued
      gradient from the weak derivative dp/dtheta = c_theta (p+ - p-), with x+
      and x- coupled.  Any f, discrete families included; 1 + 2P evaluations
      of f per sample (P gradient components).

    For Bernoulli and Categorical, four more (low-variance gradients of
    discrete variables; f is then a function of the relaxed sample, on [0,
    1] or the simplex, except for arm and disarm):

    * ``"concrete"``: the pathwise gradient through the Concrete (Gumbel-
      softmax) relaxation at ``temperature``; biased, the bias shrinking with
      the temperature.  ``straight_through=True`` evaluates f at the hard
      sample.
    * ``"rebar"``: REBAR, unbiased: the score function with the relaxation
      as its control variate, ``eta`` its coefficient ("auto": chosen from the
      same samples to minimise the variance), at ``temperature`` (default 0.5).
    * ``"arm"``, ``"disarm"`` (Bernoulli): antithetic pairs of uniforms,
      unbiased, two evaluations of f per sample (on an ``fs.Independent``,
      the pair is one of whole vectors: the multivariate form).
    * ``"vimco"``: VIMCO for the multi-sample objective f = log w,
      E[log((1/K) sum_k w(x_k))] over ``num_draws`` = K independent draws per
      sample (n groups of K draws): each draw's score times its leave-one-out
      learning signal.  f returns log w.
    * ``"indecater"`` (Bernoulli and Categorical, alone or in
      ``fs.Independent``): IndeCateR, each coordinate's values summed exactly
      with the others held at the sample; unbiased, D K evaluations of f per
      sample.

    With ``order=2`` the Hessian of E[f] in the parameters passed is estimated
    too (``Estimate.hessian`` and ``hessian_stderr``, batch_shape + (P, P) in
    the order of ``Estimate.components``), by the second-order form of the
    estimator chosen (fastscore._hessian), all unbiased:

    * ``"score"``: mean(f (s s^T + ds/dtheta)), ds/dtheta the closed-form
      second derivative of log p, with ``method`` "plain", "baseline",
      "rloo" or "cv"; every family but the relaxed ones.  cv is the
      gradient's cross-fitting per Hessian entry (j, l): h = s s^T +
      ds/dtheta per sample, and fold k's baseline sum f h_jl^2 / sum h_jl^2
      (the entry's variance-minimising constant) comes from folds k+1..k+3
      only (at n = 2: rloo), so the entry and its stderr^2 are unbiased at
      every n >= 2.
    * ``"mixed"``: the likelihood-ratio derivative of the pathwise gradient,
      mean(sym(f'(x) . dx/dtheta s^T + f'(x) . d(dx/dtheta)/dtheta |x));
      needs f' only, so it is the low-variance Hessian (gamma) of a kinked
      payoff such as fs.fn.call.  The gradient is the pathwise one.
    * ``"pathwise"``: mean(dx/dtheta^T f''(x) dx/dtheta + f'(x) .
      d^2x/dtheta^2) where f'' is known (``hess_f=``, or a built-in's own:
      power, linear); where it is not (a Python f with ``grad_f`` only,
      fs.fn.call and put, whose f'' is a point mass at the strike) the
      mixed estimator is used, and ``Estimate.info["hessian"]`` says so.
      Mixed and pathwise: Normal, LogNormal, Exponential, Laplace, MultivariateNormal,
      alone or in ``fs.Independent`` (mixed also under a
      ``TransformedDistribution``).
    * ``"measure"``: weak second derivatives with coupled points (Normal and
      LogNormal: double-sided Maxwell and chi points sharing the sample's z,
      7 evaluations of f per sample; Exponential: Gamma(2) and Gamma(3)
      points; Poisson: f(x + 2) - 2 f(x + 1) + f(x)); any f.

    ``Estimate.estimator`` is the name passed ("mixed" included).  The
    Hessian is a second pass in NumPy over the estimate's own samples (the
    same streams, redrawn chunk by chunk; f is called on them again, with f'
    and f'' as needed), folded in chunk order: the same bits for any thread
    count, and the same samples on both backends (they agree to rounding).
    The gradient and the value are those of ``order=1``, bit for bit.
    order=2 is refused with a Dask ``client``, with precision targets and
    for the estimators "concrete", "rebar", "arm", "disarm", "indecater" and
    "vimco".

    Parameters
    ----------
    dist : Distribution
        e.g. ``fs.Normal(loc, scale)``; gradients are taken with respect to the
        parameters it was given.
    f : callable, scipy.LowLevelCallable, numba cfunc or fastscore.fn built-in
        A Python callable is called with arrays of samples of shape
        (m, *batch_shape, *event_shape) and must return (m, *batch_shape).
        Its argument is read-only (the kernels score those very samples
        after f returns) and is f's to keep: every wave of samples is a fresh
        array, never overwritten by the next wave.
        A LowLevelCallable is called per sample without the GIL, with signature
        ``double(double)`` or ``double(const double *x, intptr_t event_size,
        intptr_t batch_index, void *user_data)``; it must be thread-safe.
    n : int, optional
        Samples per batch element (>= 2; integral floats such as 1e6 accepted).
        With precision targets, the size of the first wave (rounded up to
        whole chunks of ``fs.CHUNK_SIZE``); it may then be left out, and the
        first wave is ``4 * fs.CHUNK_SIZE`` (65536) samples.
    rng : None, int, SeedSequence, BitGenerator or Generator
        Seed (SPEC 7).  The same rng and n give the same result whatever
        ``n_threads``.
    estimator : {"score", "pathwise", "measure", "concrete", "rebar", "arm", "disarm", \
"indecater", "vimco", "mixed"}
        The estimator kind, one of the nine above (default "score"), or with
        ``order=2`` "mixed".  ``Estimate.estimator`` says which.
    method : {"plain", "baseline", "rloo", "cv"}
        The score function's baseline.  plain: mean(f s); baseline:
        mean((f - baseline) s); rloo: leave-one-out mean baseline; cv: the
        per-coordinate optimal baseline E[f s^2] / E[s^2], cross-fitted: the
        samples fall in 7 folds by their index mod 7 and fold k's baseline
        comes from folds k+1..k+3 only (at n = 2, cv is rloo).  All four are
        unbiased at every n >= 2, and so is every stderr^2 (rloo's includes
        its terms' covariance; see fastscore._kinds.ScoreFunction).  cv
        beats rloo from about 16 samples per row (its baseline then comes
        from enough samples); below that rloo usually has the lower variance.
        The other estimators take "plain".
    baseline : float or array of batch_shape
        Only with method="baseline".
    grad_f : callable or scipy.LowLevelCallable, optional
        f' for ``estimator="pathwise"`` (and "mixed", "concrete", "rebar") when f is a
        Python or low-level function: a vectorised callable returning df/dx of
        shape (m, *batch_shape, *event_shape), or a LowLevelCallable ``void
        (const double *x, intptr_t event_size, intptr_t batch_index, void
        *user_data, double *out)`` writing df/dx_e to out[e].  A fastscore.fn
        built-in has its own (power, linear; call and put their slopes; table
        on relaxed samples its linear extension); fn.indicator and fn.table on
        samples of a continuous family are refused, since their derivative
        misses their jumps.
    temperature : float or array of batch_shape
        The relaxation's temperature (> 0) for "concrete" (required) and
        "rebar" (default 0.5).
    straight_through : bool
        "concrete" only: evaluate f and f' at the hard sample.
    num_draws : int
        "vimco" only: K >= 2, the draws in each multi-sample objective.
    eta : "auto", float or array
        "rebar" only: the control variate's coefficient, per batch element and
        parameter component where an array; "auto" chooses each from the
        samples (the variance-minimising -cov(A, C) / var(C), pooled over the
        batch) when the batch holds at least 1024 samples in all (batch size x
        n), and is 1 (with temperature "auto" 0.5) below that, where a choice
        from so few samples made the standard errors 10 to 100 times too small.
    n_threads : int or None
        None uses the available cores (OMP_NUM_THREADS, threadpoolctl limits
        and CPU affinity are respected); small work runs on one thread.
        With a ``client``: the threads of each Dask task (None: 1, since a
        worker runs as many tasks at once as it has threads).
    backend : {"compiled", "reference"}
        "reference" is pure NumPy/SciPy on the very same samples.
    nan_policy : {"raise", "propagate"}
        What a non-finite f value does: raise ValueError naming the batch
        element (default) or give NaN results.  Under "raise" every result
        (value, gradients, standard errors, cov) must be finite: one beyond
        float64 raises ResultOverflowError (an OverflowError and a
        ValueError) naming it; results that fit are computed without
        overflow even for |f| above 1e154 (the finish rescales by powers of
        two), and bit for bit unchanged where nothing overflows.
    rtol, atol : float, optional
        Precision targets.  When either is given, waves of samples are drawn
        on the same streams (each wave doubling the total) until every
        gradient's standard error is <= max(atol, rtol * |grad|), or ``max_n``
        samples per batch element are reached (a RuntimeWarning then, and
        ``converged=False`` on the result).  The result for a given rng does
        not depend on the thread count.
    max_n : int, optional
        Most samples per batch element with precision targets (default 2**30).
    progress : bool
        Show a progress bar on stderr (tqdm when installed), updated between
        waves of samples (with a ``client``, as tasks finish) and erased at
        the end.
    client : None, "auto" or distributed.Client
        Run on a Dask cluster (``pip install "fastscore-mc[dask]"``; every
        worker needs the same fastscore version, checked first): "auto" is
        ``distributed.get_client()``, None runs here.  The run is cut into
        tasks of ``chunks_per_task`` chunks, each returning its chunks'
        moment sums unmerged; they are merged here in chunk order, so the
        result equals the local one bit for bit whatever the cluster size,
        task size and threads.  Precision targets and ``progress`` work as
        locally; a failed task is retried, one lost with its worker is rerun,
        an exception of f is raised here, and Ctrl-C cancels the tasks.
    cov : bool
        Also estimate the covariance of the gradient's components
        (``Estimate.cov``, batch_shape + (P, P), in the order of
        ``Estimate.components``), for ``Estimate.stderr_of`` (the standard
        error of a weighted sum of gradient entries: a chain-ruled Greek, a
        natural-gradient direction).  A second pass over the same samples,
        in NumPy (the default path never pays for it); every estimator
        but "rebar".  ``Estimate.natural_stderr`` needs it.
    damping : float or array of batch_shape
        The damping lam >= 0 (finite; one per batch element where an array)
        of ``Estimate.natural_grad`` = (F + lam I)^+ grad, F the Fisher
        information ``dist.fisher()``; 0 (the default) is the pseudo-inverse
        of F itself.  Checked here, used only when the natural gradient is
        asked for.
    order : {1, 2}
        2 also estimates the Hessian (see above): ``Estimate.hessian``,
        ``Estimate.hessian_stderr``.
    hess_f : callable, optional
        f'' for ``order=2, estimator="pathwise"`` when f is a Python function:
        a vectorised callable returning d^2 f / dx^2 of shape (m, *batch_shape,
        *event_shape, *event_shape) (for a scalar family, (m, *batch_shape)).
        Without it (and for a built-in without f''), the mixed estimator is used.
    chunks_per_task : int, optional
        (element, chunk) pairs of ``fs.CHUNK_SIZE`` samples per Dask task
        (only with ``client``).  The default draws about 2**22 numbers per
        task (256 chunks of a scalar family, tens of ms: Dask's cost per task
        stays at a few per cent), fewer when that would give fewer than 4
        tasks per worker thread.  A Python f sees the whole batch, so its
        tasks take ``chunks_per_task // batch_size`` chunks (at least one).

    Returns
    -------
    Estimate
        E[f] (``value``), the gradient (``grad``, by parameter) and their
        standard errors (``value_stderr``, ``stderr``), per batch element.

    Raises
    ------
    TypeError
        Where ``dist`` is not a fastscore distribution, f is none of the kinds
        above, or an argument has the wrong type.
    ValueError
        Where an argument is out of range (``n`` < 2, an unknown ``estimator``
        or ``method``, a ``baseline`` without ``method="baseline"``, ...), f
        returns a non-finite value (``nan_policy="raise"``), samples fall
        beyond float64's range, or float64 cannot resolve the gradient (the
        message says which).
    NotImplementedError
        Where the estimator does not apply to the family: ``"pathwise"`` on a
        discrete family, ``"measure"`` on one without weak derivatives,
        ``"arm"``/``"disarm"`` beyond Bernoulli, ...
    Exception
        Whatever a Python f raises propagates unchanged.

    Warns
    -----
    RuntimeWarning
        When a precision target is not met by ``max_n`` (``converged`` is then
        False), or a gradient has no measure-valued form (it is NaN).

    Examples
    --------
    >>> import fastscore as fs
    >>> est = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=100_000, rng=0,
    ...                   method="rloo")
    >>> bool(abs(est.grad["loc"] - 2.0) < 4 * est.stderr["loc"])   # d/dloc E[x^2] = 2 loc
    True
    >>> pw = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=100_000, rng=0,
    ...                  estimator="pathwise")
    >>> bool(pw.stderr["loc"] < est.stderr["loc"])    # smooth f: pathwise wins
    True
    >>> est = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=10_000, rng=0,
    ...                   method="cv", rtol=0.01)
    >>> est.converged, bool(est.stderr["loc"] <= 0.01 * abs(est.grad["loc"]))
    (True, True)

    The Hessian (order=2): d^2/dloc^2 E[x^3] = 6 loc, d^2/dloc dscale = 6 scale.

    >>> h = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(3), n=100_000, rng=0,
    ...                 estimator="pathwise", order=2)
    >>> h.hessian.shape, h.info["hessian"]
    ((2, 2), 'pathwise')
    >>> bool(abs(h.hessian[0, 1] - 12.0) < 4.5 * h.hessian_stderr[0, 1])
    True

    On a Dask cluster, the same bits:

    >>> from distributed import Client                                  # doctest: +SKIP
    >>> client = Client("tcp://scheduler:8786")                         # doctest: +SKIP
    >>> there = fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2), n=10**9, rng=0,
    ...                     client=client)                              # doctest: +SKIP
    >>> bool(there.grad["loc"] == fs.estimate(fs.Normal(1.0, 2.0), fs.fn.power(2),
    ...                                       n=10**9, rng=0).grad["loc"])   # doctest: +SKIP
    True
    """
    _check_dist(dist)
    hess = _hessian.request(order, estimator, method, hess_f, client=client, rtol=rtol, atol=atol)
    named = estimator
    if hess is not None:
        estimator = hess.first   # "mixed": the pathwise gradient
    kind = _kinds.lookup(estimator).configure(
        temperature=temperature, straight_through=straight_through, eta=eta,
        num_draws=num_draws)
    plan = kind.plan_for(dist)   # the plan the kind runs on (a relaxation, ...)
    pf = prepare(f, nan_policy)
    pf.check(plan)
    kind.accept(plan, pf, grad_f, named)   # its family slot, f' where it needs it
    if hess is not None:
        hess.check(dist, plan, pf)
    if n is None:
        if rtol is None and atol is None:
            raise TypeError("n must be given (the samples per batch element) unless a "
                            "precision target, rtol= or atol=, chooses it")
        n = DEFAULT_FIRST_WAVE
    n = _check_n(n, minimum=2)
    # sized for n (rebar's "auto"), the method checked; the score function's cv: its rows
    kind, plan, b = kind.for_run(dist, plan, n, method, baseline)
    if not isinstance(cov, (bool, np.bool_)):
        raise TypeError("cov must be True or False, got %r" % (cov,))
    if cov:
        _cov.check(kind, plan)
    damping = _natural.check_damping(damping, plan.batch_shape)
    _check_backend(backend)
    cluster = _cluster.backend(client, chunks_per_task, n_threads, backend)
    rtol = _check_target("rtol", rtol)
    atol = _check_target("atol", atol)
    targets = rtol is not None or atol is not None
    if max_n is not None:
        if not targets:
            raise ValueError("max_n is only used with a precision target (rtol= or atol=)")
        max_n = _check_n(max_n, minimum=2)
        if max_n < n:
            raise ValueError("max_n (%d) must be >= n (%d)" % (max_n, n))
    kind.warn(plan, stacklevel=2)
    nt = _threads.effective_n_threads(n_threads)
    dist._check_drawable()
    dist._check_resolution(kind.name)
    key = key_from_rng(rng)
    if plan.batch_size == 0:
        est = _empty_estimate(plan, method, n, key, kind, targets)
        if hess is not None:
            est = hess.attach(est, plan, pf, n, key, backend, nt, method, b, nan_policy)
            est.estimator = named
        return _natural.attach(est, dist, damping)
    impl = _compiled if backend == "compiled" else reference
    if cluster is not None:
        impl = cluster
    impl = _wrapped.Backend(impl, backend)
    bar = make_bar(progress)
    try:
        plans = kind.plans(plan)
        if not targets:
            results, row_sums = _waves.run(impl, kind, plans, pf, n, key, nt, bar, method, b)
            est = _wrap(plan, results, row_sums, method, n, key, nan_policy, pf, kind=kind)
            est = _with_cov(est, cov, kind, plan, pf, n, key, backend, method, b, results, nt,
                            nan_policy)
            if hess is not None:   # the second-order pass (fastscore._hessian)
                est = hess.attach(est, plan, pf, n, key, backend, nt, method, b, nan_policy)
                est.estimator = named
            return _natural.attach(est, dist, damping)
        results, row_sums, total, converged = _waves.run_to_targets(
            impl, kind, plan, plans, pf, n, key, nt, bar, method, b, rtol, atol, max_n,
            stacklevel=2)
        est = _wrap(plan, results, row_sums, method, total, key, nan_policy, pf, converged, kind)
        est = _with_cov(est, cov, kind, plan, pf, total, key, backend, method, b, results, nt,
                        nan_policy)
        return _natural.attach(est, dist, damping)
    except SampleOverflowError as exc:
        raise dist._overflow_error(exc.batch_index) from None
    finally:
        bar.close()


def _with_cov(est, cov, kind, plan, pf, n, key, backend, method, baseline, results, nt,
              nan_policy="raise"):
    """The estimate with its covariance (cov=True; fastscore._cov).  Under
    nan_policy="raise" every entry must be finite (the results are, by then), but
    for the rows and columns of a component that is NaN by design."""
    if cov:
        c = _cov.covariance(kind, plan, pf, n, key, backend, method, baseline, results, nt)
        _results.check_cov(kind, plan, c, nan_policy)
        c = _cov.expand(plan, c)
        est.cov = c.reshape(tuple(plan.batch_shape) + c.shape[1:])
    return est


def _empty_estimate(plan, method, n, key, kind, targets):
    """The Estimate of an empty batch (a batch_shape with a 0), numpy's convention:
    arrays of the right shapes with no elements, on every backend; f is never called."""
    P = plan.score_size
    empty = Gradients(plan.params.split(np.zeros((0, P))))
    return Estimate(np.zeros(plan.batch_shape), np.zeros(plan.batch_shape), empty,
                    Gradients(plan.params.split(np.zeros((0, P)))), n, method, key,
                    True if targets else None, kind.name, kind.result_info(plan, empty=True))


def sample(dist: Distribution, n: Union[int, float], rng: RngLike = None, *,
           n_threads: Optional[int] = None, backend: str = "compiled", client: Any = None,
           chunks_per_task: Optional[int] = None) -> np.ndarray:
    """The samples :func:`estimate` would draw for the same rng and n.

    Returns an array of shape (n, *batch_shape, *event_shape); float64 for
    continuous families and int64 for discrete ones.

    Parameters
    ----------
    dist : Distribution
        e.g. ``fs.Normal(loc, scale)``; its parameters are checked once before
        drawing, even with ``validate_args=False``.
    n : int
        Samples per batch element (>= 1 and < 2**62; integral floats such as 1e6
        accepted).
    rng : None, int, SeedSequence, BitGenerator or Generator
        Seed (SPEC 7), as in :func:`estimate`.  The same rng and n give the same
        samples whatever ``n_threads`` and ``backend``.
    n_threads : int or None
        None uses the available cores (OMP_NUM_THREADS, threadpoolctl limits
        and CPU affinity are respected); the reference backend draws on one thread.
        With a ``client``: the threads of each Dask task (None: 1).
    backend : {"compiled", "reference"}
        "reference" draws in pure NumPy from the very same streams.
    client : None, "auto" or distributed.Client
        Draw on a Dask cluster, as in :func:`estimate`: the pieces come back
        here and are assembled into the same numpy array as a local call, bit
        for bit.  Not a dask array: the samples are for what needs them all in
        one place (:func:`estimate_from_samples`, your rewards in NumPy), a
        dask array would redraw them at every compute, and the same type as a
        local call keeps code that uses it the same.
    chunks_per_task : int, optional
        As in :func:`estimate` (only with ``client``).

    Returns
    -------
    ndarray of shape (n, *batch_shape, *event_shape)
        float64 for continuous families, int64 for discrete ones.

    Raises
    ------
    TypeError
        Where ``dist`` is not a fastscore distribution or an argument has the
        wrong type.
    ValueError
        Where ``n`` < 1, the parameters are invalid (checked before drawing),
        or samples would fall beyond float64's range.

    Examples
    --------
    >>> import numpy as np, fastscore as fs
    >>> d = fs.Normal(0.0, 1.0)
    >>> x = fs.sample(d, 5, rng=0)
    >>> x.shape
    (5,)
    >>> bool(np.array_equal(x, fs.sample(d, 5, rng=0, backend="reference")))
    True
    """
    _check_dist(dist)
    n = _check_n(n)
    _check_backend(backend)
    cluster = _cluster.backend(client, chunks_per_task, n_threads, backend)
    nt = _threads.effective_n_threads(n_threads)
    dist._check_drawable()
    key = key_from_rng(rng)
    plan = dist.plan()
    impl = cluster if cluster is not None else _compiled if backend == "compiled" else reference
    try:
        if plan.batch_size == 0:   # an empty batch: numpy's convention, on every backend
            x3 = np.zeros((n, 0, plan.E))
        else:
            x3 = _wrapped.Backend(impl, backend).sample(plan, n, key, nt)
    except SampleOverflowError as exc:
        raise dist._overflow_error(exc.batch_index) from None
    return plan.layout.to_user(x3, (n,))


def score(dist: Distribution, x: Any) -> dict[str, np.ndarray]:
    """Per-sample scores d/dparam log p(x), by parameter.

    Parameters
    ----------
    dist : Distribution
        The distribution whose parameters the scores are taken in.
    x : array_like of shape (*sample_shape, *batch_shape, *event_shape)
        Samples in the support of ``dist`` (e.g. from :func:`sample`).

    Returns
    -------
    dict of str -> ndarray of shape (*sample_shape, *batch_shape, *param_event_shape)
        d/dparam log p(x) for each parameter ``dist`` was given.

    Raises
    ------
    TypeError
        Where ``dist`` is not a fastscore distribution.
    ValueError
        Where ``x`` does not end in ``batch_shape + event_shape``, or (with
        ``validate_args=True``) a sample lies outside the support.

    Examples
    --------
    >>> import fastscore as fs
    >>> fs.score(fs.Normal(0.0, 1.0), [0.0, 1.0])
    {'loc': array([0., 1.]), 'scale': array([-1.,  0.])}
    """
    _check_dist(dist)
    return dist.score(x)


def _score_sums(plan, kind, x3, fx2, backend):
    """The score function's moment sums of given samples x3 (m, B, E) and f values fx2
    (m, B): on the compiled backend the kernels' step, where the family (or an
    Independent's base family) has one, which gives the sums of an estimate with a
    Python f on the same samples bit for bit; else NumPy's twin (_moments)."""
    from . import _engine, _kernels

    base, G = plan, 1
    if isinstance(plan, _wrapped.GroupedPlan):
        base, G = plan.base, plan.group
    if (backend == "compiled" and type(base) is Plan and not base.counted
            and base.family.f_input is None and "score" in base.slots):
        m = x3.shape[0]
        xb = np.ascontiguousarray(x3.reshape(m, base.batch_size, base.E), dtype=np.float64)
        fb = np.ascontiguousarray(np.repeat(fx2, G, axis=1) if G > 1 else fx2)
        sums = _kernels.score_sums(kind.kernel_id, base.family.id, base.consts, xb, fb,
                                   base.score_size, _threads.effective_n_threads(None),
                                   engine=_engine.current().code)
        return sums if G == 1 else plan.rows(sums, kind)
    if kind.folds:
        return _moments.fold_sums_from_samples(fx2, plan.score(x3), CHUNK_SIZE)
    return _moments.sums_from_samples(fx2, plan.score(x3), CHUNK_SIZE)


def estimate_from_samples(dist: Distribution, x: Any, fx: Any, method: str = "plain",
                          baseline: Optional[Any] = None,
                          nan_policy: str = "raise", damping: Any = 0.0,
                          backend: str = "compiled") -> Estimate:
    """Estimates from samples and f values you already have.

    Parameters
    ----------
    dist : Distribution
    x : array_like (n, *batch_shape, *event_shape)
        Samples of dist (e.g. from :func:`sample`).
    fx : array_like (n, *batch_shape)
        f at those samples (need not be a function of x alone: noisy rewards
        are fine).
    method, baseline, nan_policy, damping, backend
        As in :func:`estimate`: the compiled backend scores the samples and sums
        the terms in the kernels (the sums an estimate with a Python f would
        give on the same samples, bit for bit), the reference backend in NumPy.
        With a single sample (n = 1, one action per
        state in a reinforcement-learning step) ``plain`` and ``baseline``
        give the one-sample gradient f s (or (f - b) s), and every standard
        error is NaN (a standard deviation needs two samples); ``rloo`` and
        ``cv`` need n >= 2.

    Returns
    -------
    Estimate
        ``key`` is None.

    Raises
    ------
    TypeError
        Where ``dist`` is not a fastscore distribution.
    ValueError
        Where ``x`` or ``fx`` have the wrong shapes, ``x`` has no samples,
        ``method`` is "rloo" or "cv" with one sample, an argument is out of
        range, or ``fx`` is not finite (``nan_policy="raise"``).

    Examples
    --------
    >>> import fastscore as fs
    >>> d = fs.Normal(0.0, 1.0)
    >>> x = fs.sample(d, 10_000, rng=1)
    >>> est = fs.estimate_from_samples(d, x, x ** 2, method="rloo")
    >>> abs(float(est.grad["scale"]) - 2.0) < 4 * float(est.stderr["scale"])
    True
    """
    _check_dist(dist)
    if nan_policy not in ("raise", "propagate"):
        raise ValueError("nan_policy must be 'raise' or 'propagate', got %r" % (nan_policy,))
    _check_backend(backend)
    dist._check_resolution("score")
    plan = dist.plan()
    damping = _natural.check_damping(damping, plan.batch_shape)
    x3, lead = plan.layout.to_kernel(x)
    if len(lead) != 1:
        raise ValueError("x must have shape (n, *batch_shape, *event_shape) = (n, %s); got %s"
                         % (", ".join(map(str, tuple(dist.batch_shape) + tuple(dist.event_shape))),
                            np.shape(x)))
    if lead[0] == 0:
        raise ValueError("x has no samples (its first axis, the samples, has length 0): "
                         "estimate_from_samples needs at least one sample per batch element")
    n = _check_n(lead[0], minimum=1)
    if n == 1 and method in ("rloo", "cv"):
        raise ValueError("method=%r needs n >= 2 samples per batch element (its baseline comes "
                         "from the other samples); with one sample use 'plain' or 'baseline'"
                         % method)
    plan.check_support(x3)
    fa = as_array(fx, "fx")
    if fa.dtype.kind not in "biuf":
        raise TypeError("fx must be real numbers, got dtype %s" % fa.dtype)
    if fa.shape != (n,) + tuple(dist.batch_shape):
        raise ValueError("fx must have shape (n, *batch_shape) = %s; got %s"
                         % ((n,) + tuple(dist.batch_shape), fa.shape))
    fx2 = fa.astype(np.float64).reshape(n, plan.batch_size)
    b = SCORE.check_method(method, baseline, plan)
    kind = SCORE.for_method(method)
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = _score_sums(plan, kind, x3, fx2, backend)
        if kind.folds:  # cv: cross-fitted over the samples' index mod CV_FOLDS
            results = _finish.finish_folds(sums)
        else:
            results = _finish.finish_sums(sums, method, b)
    if n == 1:
        # A standard deviation needs two samples: NaN, not the finish's 0/0 or 0/inf.
        value, value_se, g, se = results
        results = value, np.full_like(value_se, np.nan), g, np.full_like(se, np.nan)
    est = _wrap(plan, results, sums.__getitem__, method, n, None, nan_policy, kind=kind,
                one_sample=n == 1)
    return _natural.attach(est, dist, damping)
