"""JAX bridge: fastscore's gradient estimates as differentiable JAX functions.

:func:`expectation` returns E[f(x)] per batch element; ``jax.grad`` (or
``jax.vjp``) of anything computed from it uses fastscore's gradient estimate
``est.grad[name]`` for each parameter.  Every estimator and option of
:func:`fastscore.estimate` works through it (``estimator="pathwise"``,
``rtol=``, ...), and ``return_stderr=True`` returns the standard errors too.
:func:`surrogate` does the same for samples and rewards you already have;
:func:`array_f` marks an f written in JAX.  Both work eagerly and under
``jax.jit`` (and ``jax.vmap``, one fastscore call per mapped element)::

    import jax, fastscore as fs
    import fastscore.jax as fs_jax

    @jax.jit
    def step(logits, seed):
        g = jax.grad(lambda l: fs_jax.expectation(
            "Categorical", fs.fn.table(means), 256, rng=seed, method="rloo",
            logits=l))(logits)
        return logits + 2.0 * g

How it works
------------
The estimate is a ``jax.custom_vjp`` whose forward is one
``jax.pure_callback`` into fastscore on the host: that single call returns
E[f] and the gradient estimate, which the forward keeps as residuals; the
backward multiplies them by the incoming cotangent (summing over the axes a
parameter was broadcast along).  With ``return_stderr=True`` the callback
returns the standard errors as well, outputs whose cotangents the backward
ignores.  No second Monte Carlo pass, no graph through f.  Forward-mode differentiation (``jax.jvp``, ``jax.jacfwd``) is not
available, as for every ``custom_vjp``.  Called with concrete arrays outside
any transformation (no jit, no grad), it calls fastscore directly.

JAX compiles a callback once per distinct callback: calls that share f (the
same object), n, the estimator and its options and equal constant parameters share one
compiled callback, so an eager ``jax.grad`` loop compiles once.  A new f
object on every call (a lambda or ``fs.fn.table(...)`` built inside the loop)
compiles again each time, tens of milliseconds: build f once, or ``jax.jit``
the step.

Which values are traced
-----------------------
* JAX arrays among the parameters (tracers under jit/grad) are passed to the
  callback; fastscore gives gradients for the floating ones it takes a
  gradient for (not ``total_count``, which passes through with a zero
  cotangent).  Python numbers and NumPy arrays are constants baked into the
  trace, with no gradient.
* ``f``, ``n``, ``estimator``, ``method``, the precision targets, the other
  options and the family are static; ``baseline``, ``temperature`` and
  ``eta`` are operands when they are JAX arrays.  f is fastscore's f (a
  ``fastscore.fn`` built-in, a NumPy callable or a LowLevelCallable),
  called on the host with NumPy arrays, never traced; an f wrapped in
  :func:`array_f` is called there too, with JAX arrays (float64, sharing
  the samples' buffer where XLA allows).
* ``rng`` is required, because JAX functions are pure: a Python int seed
  (static), or an array traced like any other argument -- see
  :func:`expectation` for how each becomes fastscore's seed.

Precision
---------
fastscore computes in float64 whatever the inputs.  The bridge does not
change JAX's process-wide x64 setting.  Results and gradients have the
parameters' floating dtype (promoted among them; JAX's default float when no
parameter is a floating JAX array): with x64 off (JAX's default) parameters
are float32, reach fastscore widened to float64, and results are rounded to
float32 once on the way back.  For float64 end to end, enable x64
(``jax.config.update("jax_enable_x64", True)``, or the ``jax.enable_x64()``
context) and pass float64 parameters.

Errors
------
Family, parameter names, shapes, estimator, method, options, what the
estimator needs of the family and of f, and rng kinds are checked when the
function is called (or traced).  Parameter values are checked then too when
they are concrete; under ``jax.jit`` or ``jax.grad`` they are only known
inside the callback, so fastscore's ValueError (naming the parameter and the
rule) is raised there and, with JAX 0.10, surfaces when the computation runs:
wrapped in a ``jax.errors.JaxRuntimeError`` under jit, as a ValueError
eagerly.  (JAX leaves exceptions inside a pure_callback formally undefined;
check values outside jit when in doubt.)

Importing :mod:`fastscore` never imports JAX; importing this module does.
"""

from __future__ import annotations

import hashlib
import numbers
import warnings
from typing import Any, Optional

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError as _exc:  # pragma: no cover - exercised only without JAX
    raise ImportError("fastscore.jax needs JAX (pip install jax); the rest of fastscore "
                      "works without it") from _exc

import fastscore as _fs

from . import _bridge
from ._callables import FrameworkF as _FrameworkF

__all__ = ["expectation", "surrogate", "array_f"]


def expectation(family: Any, f: Any, n: Optional[int] = None, *, rng: Any,
                estimator: str = "score", method: str = "plain", baseline: Optional[Any] = None,
                grad_f: Optional[Any] = None, temperature: Optional[Any] = None,
                straight_through: bool = False, eta: Any = "auto",
                num_draws: Optional[int] = None, rtol: Optional[float] = None,
                atol: Optional[float] = None, max_n: Optional[int] = None, cov: bool = False,
                return_stderr: bool = False, nan_policy: str = "raise",
                backend: str = "compiled", n_threads: Optional[int] = None,
                **params: Any) -> Any:
    """E[f(x)], x ~ family(**params), differentiable with fastscore's gradient estimate.

    One call of ``fs.estimate(family(**params), f, n, rng=..., estimator=estimator,
    method=method, ...)`` per evaluation gives both the value (returned) and the
    gradient (used by ``jax.grad`` / ``jax.vjp``).  The options of
    :func:`fastscore.estimate` are here and mean the same (all but ``progress``,
    ``client`` and ``chunks_per_task``).

    Parameters
    ----------
    family : str, fastscore distribution class or dict
        A family name such as ``"Normal"`` or ``"Categorical"`` (as in
        ``fastscore.__all__``), or the class itself (``fs.Normal``); a dict of
        them is an ``fs.Joint`` (see ``**params``).
    f : fastscore.fn built-in, Python callable, scipy.LowLevelCallable or array f
        As in :func:`fastscore.estimate`; run on the host with NumPy arrays
        (not traced, not differentiated by JAX).  An f written in JAX is
        wrapped with :func:`array_f`: it then gets the samples as JAX arrays
        (see there).
    n : int, optional
        Samples per batch element (>= 2), static.  With ``rtol``/``atol`` the
        first wave (it may then be left out).
    rng : int, integer array or PRNG key array
        The seed.  Required: JAX functions are pure.

        * a Python (or NumPy) int >= 0: exactly ``fs.estimate(..., rng=seed)``
          -- so ``fs.sample(dist, n, seed)`` gives the samples used (it
          reaches the callback as an operand, so a new seed does not compile
          anew);
        * a 0-d integer JAX array (e.g. a step counter, traced under jit)
          holding s >= 0: the same streams as the int seed ``int(s)``;
        * a PRNG key -- a typed key (``jax.random.key(0)``) or a legacy
          uint32 key (``jax.random.PRNGKey(0)``), or any integer array with
          ndim >= 1 of non-negative words: the streams of
          ``rng=numpy.random.SeedSequence(words)`` with ``words`` the key's
          data (``jax.random.key_data``) flattened to a list of ints.  The
          key is used as it is, not split: split it yourself between steps.
    estimator : str
        "score" (default), "pathwise", "measure", "concrete", "rebar", "arm",
        "disarm", "indecater" or "vimco", as in :func:`fastscore.estimate`;
        static.
    method : {"plain", "baseline", "rloo", "cv"}
        The score function's baseline (the other estimators take "plain"),
        static.
    baseline : float, array or JAX array, optional
        Only with ``method="baseline"``; no gradient.
    grad_f : callable, scipy.LowLevelCallable or array f, optional
        f' for "pathwise", "concrete" and "rebar", as in
        :func:`fastscore.estimate`; static.  An array f needs none: its
        derivative is ``jax.grad``'s.
    temperature, eta : float, array or JAX array
        The options of "concrete" and "rebar" (JAX arrays are operands,
        without gradient).  For ``RelaxedBernoulli`` and
        ``RelaxedCategorical``, whose parameter it is, ``temperature=`` is
        the family's.
    straight_through, num_draws
        The options of "concrete" and "vimco", static.
    rtol, atol, max_n
        Precision targets, as in :func:`fastscore.estimate`, static.
    cov : bool
        Also estimate the covariance of the gradient's components, returned
        as ``stderr["cov"]``: needs ``return_stderr=True``.
    return_stderr : bool
        Return ``(value, stderr)`` instead of the value alone (see Returns).
    nan_policy, backend, n_threads
        As in :func:`fastscore.estimate`, static.
    **params : JAX array, float or array
        The family's parameters by name (``loc=``, ``scale=``, ``logits=``,
        ``total_count=``, ...; ``validate_args=`` too).  Two options make it a
        joint distribution: ``reinterpreted_batch_ndims=k`` takes
        ``fs.Independent(family(...), k)`` (f then gets the last k batch
        dimensions as one event and returns one value per joint sample), and
        ``transforms=`` (a fastscore.transforms object or a list) a
        ``fs.TransformedDistribution`` of it; gradients keep the parameters'
        shapes.  With ``family`` a dict of families (``{"w": "Normal", "tau":
        "Gamma"}``), an ``fs.Joint``: each part's parameters come as a dict
        under its name (``w=dict(loc=..., scale=..., reinterpreted_batch_ndims=1)``)
        and f takes the dict of parts' samples.

    Returns
    -------
    value : jax.Array of shape batch_shape
        The estimate of E[f] per batch element, in the parameters' floating
        dtype (see the module notes on precision).
    stderr : dict of str -> jax.Array
        Only with ``return_stderr=True``: ``stderr["value"]`` is
        ``est.value_stderr`` and ``stderr[name]`` is ``est.stderr[name]``
        for every parameter fastscore takes a gradient for (a Joint's by
        ``"part.param"``), in the value's dtype, of the gradient's shape;
        ``stderr["cov"]`` with ``cov=True``.  Their cotangents are ignored
        (they are constants for ``jax.grad``); they work under ``jax.jit``.

    Raises
    ------
    ValueError
        An unknown family name, estimator or method, a negative seed, or
        option and parameter values fastscore refuses (when concrete; see
        the module notes).
    TypeError
        A family that is not a name or a fastscore class, an unknown or
        missing parameter, an rng of the wrong kind.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, fastscore as fs
    >>> import fastscore.jax as fs_jax
    >>> def value(logits, seed):
    ...     return fs_jax.expectation("Categorical", fs.fn.table([0.0, 1.0, 2.0]),
    ...                               100_000, rng=seed, logits=logits)
    >>> g = jax.jit(jax.grad(value))(jnp.zeros(3), 0)   # p_k (v_k - E[v]) = (-1/3, 0, 1/3)
    >>> bool(jnp.allclose(g, jnp.array([-1 / 3, 0.0, 1 / 3]), atol=0.01))
    True
    >>> g.dtype                                         # JAX's default float (x64 off)
    dtype('float32')

    Any estimator, with standard errors, under jit; here the pathwise gradient
    of an f written in JAX (its derivative by ``jax.grad``):

    >>> sin2 = fs_jax.array_f(lambda x: jnp.sin(x) ** 2)
    >>> @jax.jit
    ... def step(loc):
    ...     def loss(loc):
    ...         value, se = fs_jax.expectation("Normal", sin2, 10_000, rng=0,
    ...                                        estimator="pathwise", return_stderr=True,
    ...                                        loc=loc, scale=1.0)
    ...         return value.sum(), se
    ...     return jax.grad(loss, has_aux=True)(loc)
    >>> g, se = step(jnp.array([0.5, -1.0]))   # sin(2 loc) exp(-2)
    >>> bool(jnp.all(jnp.abs(g - jnp.sin(2 * jnp.array([0.5, -1.0])) * jnp.exp(-2.0))
    ...              < 4 * se["loc"]))
    True
    """
    cls = _bridge.resolve_family(family)
    if temperature is not None and _bridge.takes(cls, "temperature"):
        params["temperature"], temperature = temperature, None   # the family's own
    opts = dict(temperature=1.0 if _is_jax(temperature) else temperature,
                straight_through=straight_through, eta=1.0 if _is_jax(eta) else eta,
                num_draws=num_draws)
    n = _bridge.check_options(cls, n, estimator=estimator, method=method, baseline=baseline,
                              grad_f=grad_f, options=opts, rtol=rtol, atol=atol, max_n=max_n,
                              cov=cov, return_stderr=return_stderr)
    seed = _seed_operand(rng)
    statics = dict(estimator=estimator, method=method, grad_f=grad_f,
                   straight_through=straight_through, num_draws=num_draws, rtol=rtol,
                   atol=atol, max_n=max_n, cov=cov, nan_policy=nan_policy, backend=backend,
                   n_threads=n_threads)

    def run(dist, seed_value, b, t, e):
        return _fs.estimate(dist, f, n, rng=_seed_from_array(seed_value), baseline=b,
                            temperature=_host_option(t), eta=_host_option(e), **statics)

    def precheck(probe):
        _bridge.precheck(probe, f, estimator, opts, grad_f, cov)

    config = ("expectation", f, n) + tuple(sorted(statics.items(), key=lambda kv: kv[0]))
    return _apply(cls, run, config, params, [seed, baseline, temperature, eta], always=(0,),
                  return_stderr=return_stderr, cov=cov, precheck=precheck)


def surrogate(family: Any, x: Any, fx: Any, *, estimator: str = "score", method: str = "plain",
              baseline: Optional[Any] = None, return_stderr: bool = False,
              nan_policy: str = "raise", **params: Any) -> Any:
    """The mean of ``fx`` per batch element, differentiable with the score-function gradient.

    For samples ``x`` of family(**params) and rewards ``fx`` you already have,
    one call of ``fs.estimate_from_samples(family(**params), x, fx,
    method=method)`` gives the value (the mean of fx) and the gradient used
    by ``jax.grad``.

    surrogate does what :func:`fastscore.estimate_from_samples` does: the
    score-function estimator with its four methods.  It refuses, with a
    message saying why, the other estimators (they evaluate f, or f', at
    points they draw themselves) and the options of drawing (``rtol``,
    ``atol``, ``max_n``, ``cov``, ``grad_f``, ``temperature``, ``n_threads``,
    ...): the samples are given.

    Parameters
    ----------
    family : str, fastscore distribution class or dict
        As in :func:`expectation`.
    x : array, shape (n, *batch_shape, *event_shape)
        Samples of the distribution, n >= 1 (n >= 2 for "rloo" and "cv");
        JAX arrays are traced, NumPy arrays are constants; a dict of them by
        part for a Joint (constants).  No gradient.
    fx : array, shape (n, *batch_shape)
        The reward of each sample.  It is data: its cotangent is zero.
    estimator : {"score"}
        The score function only (see above).
    method, baseline
        As in :func:`expectation`.
    return_stderr : bool
        Return ``(value, stderr)``: the standard errors of
        ``fs.estimate_from_samples`` on these samples, as in :func:`expectation`.
    nan_policy : {"raise", "propagate"}
        As in :func:`fastscore.estimate_from_samples`.
    **params : JAX array, float or array
        The family's parameters, as in :func:`expectation`.

    Returns
    -------
    value : jax.Array of shape batch_shape
        The mean of ``fx`` per batch element.
    stderr : dict of str -> jax.Array
        Only with ``return_stderr=True``, as in :func:`expectation`.

    Raises
    ------
    ValueError
        An unknown family name or method, samples or rewards of the wrong
        shape, ``method="rloo"`` or ``"cv"`` with one sample, or a parameter
        value fastscore refuses (the message names the parameter and the rule).
    TypeError
        A family that is not a name or a fastscore class, an unknown or
        missing parameter name.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, numpy as np, fastscore as fs
    >>> import fastscore.jax as fs_jax
    >>> x = np.array([[1, 0], [0, 1], [1, 0], [1, 0]])   # four draws of a Bernoulli batch of 2
    >>> fx = 2.0 * x                                     # reward 2 for a success
    >>> jax.grad(lambda l: fs_jax.surrogate("Bernoulli", x, fx, logits=l).sum())(
    ...     jnp.zeros(2))                                # mean(f (x - 1/2)) per element
    Array([0.75, 0.25], dtype=float32)
    >>> value, se = fs_jax.surrogate("Bernoulli", x, fx, logits=jnp.zeros(2),
    ...                              return_stderr=True)
    >>> sorted(se)
    ['logits', 'value']
    """
    cls = _bridge.resolve_family(family)
    _bridge.check_surrogate(cls, estimator, params)
    _bridge.check_method(method, baseline)
    if not isinstance(return_stderr, (bool, np.bool_)):
        raise TypeError("return_stderr must be True or False, got %r" % (return_stderr,))
    if isinstance(x, dict):   # a Joint's samples, by part (constants, not traced)
        x = {k: np.asarray(v) for k, v in x.items()}
    elif np.ndim(x) < 1:
        raise ValueError("x must have shape (n, *batch_shape, *event_shape); got a scalar")
    elif np.shape(fx)[:1] != np.shape(x)[:1]:
        raise ValueError("fx must have shape (n, *batch_shape) with the n = %d samples of x; "
                         "got %s" % (np.shape(x)[0], np.shape(fx)))

    def run(dist, xv, fxv, b):
        xv = xv if isinstance(xv, dict) else np.asarray(xv)
        return _fs.estimate_from_samples(dist, xv, np.asarray(fxv), method=method, baseline=b,
                                         nan_policy=nan_policy)

    return _apply(cls, run, ("surrogate", method, nan_policy), params, [x, fx, baseline],
                  return_stderr=return_stderr)


# -- f in JAX --------------------------------------------------------------
#: The alignment (bytes) at which XLA's CPU client takes a host buffer without copying it.
_ALIGN = 64


class ArrayF(_FrameworkF):
    """A Python f (or f') written in JAX; build one with :func:`array_f`."""

    framework = "jax"
    immutable = True

    def evaluate(self, x, private):
        with jax.enable_x64(True):   # fastscore's samples are float64 (int64): keep them so
            return super().evaluate(x, private)

    def to_framework(self, a):
        if not (a.flags.c_contiguous and a.flags.writeable
                and a.ctypes.data % _ALIGN == 0):
            a = _aligned_copy(a)
        return jax.dlpack.from_dlpack(a)   # an aligned host buffer: shared, not copied

    def to_numpy(self, out):
        return np.asarray(out)

    def derivative(self):
        return _ArrayGrad(self.fn)


class _ArrayGrad(ArrayF):
    """df/dx of a JAX f per sample: ``jax.grad`` of sum(f(x)), which is f'(x_i) at every
    sample since f's value at a sample depends on that sample only."""

    def __init__(self, fn):
        super().__init__(fn)
        self._grad = jax.grad(lambda x: jnp.sum(fn(x)))

    def call_framework(self, x):
        return self._grad(x)


def _aligned_copy(a):
    """A C-contiguous copy of ``a`` at an address XLA takes without copying again."""
    raw = np.empty(a.nbytes + _ALIGN, dtype=np.uint8)
    off = (-raw.ctypes.data) % _ALIGN
    out = raw[off:off + a.nbytes].view(a.dtype).reshape(a.shape)
    np.copyto(out, a)
    return out


def array_f(f: Any) -> ArrayF:
    """Mark ``f`` as written in JAX: it takes and returns JAX arrays.

    Wherever fastscore takes f (``fs.estimate``, ``fastscore.jax.expectation``,
    ``grad_f=``, the joint distributions, every estimator and backend), the
    wrapped f is called once per wave of samples, on the host, as a NumPy f
    is (not traced by the surrounding computation, even under ``jax.jit``):

    * it gets the wave's samples, shape (m, *batch_shape, *event_shape), as
      a JAX array on the CPU (a dict of them for a ``Joint``), float64
      (int64 for the discrete families): f runs with JAX's x64 enabled
      (``jax.enable_x64(True)``, for its call only), as fastscore computes
      in float64.  The array is made by ``jax.dlpack.from_dlpack`` of the
      wave's NumPy buffer, which XLA shares without a copy when it is
      aligned to 64 bytes; otherwise the samples are first copied into an
      aligned buffer (one memcpy: faster than ``jnp.asarray``'s own copy).
      JAX arrays are immutable, so f cannot change the samples that
      fastscore scores; it may keep them (fastscore never writes into a
      wave's buffer again).
    * it returns a JAX array of shape (m, *batch_shape) (or anything
      ``numpy.asarray`` takes), read back without a copy where JAX allows.

    Jit f yourself (``array_f(jax.jit(f))``): it is called eagerly.  For
    "pathwise", "concrete" and "rebar" an array f needs no ``grad_f``: f'
    is ``jax.grad`` of ``f(x).sum()`` (one more evaluation per wave, exact
    for an f whose value at a sample depends on that sample only, the
    contract of every f).

    Parameters
    ----------
    f : callable
        A function of a JAX array (or a dict of them) returning an array.

    Returns
    -------
    ArrayF
        A callable that fastscore recognises; called with NumPy samples, it
        returns NumPy values.

    Raises
    ------
    TypeError
        Where ``f`` is not callable; at the estimate, where f (or its
        derivative by autograd) returns what cannot be read as values of
        shape (m, *batch_shape).

    Examples
    --------
    >>> import jax, jax.numpy as jnp, fastscore as fs
    >>> import fastscore.jax as fs_jax
    >>> w = jnp.array([1.0, -2.0, 0.5])
    >>> loglik = fs_jax.array_f(jax.jit(lambda x: -((x - w) ** 2).sum(-1)))   # x: (m, 3)
    >>> d = fs.Independent(fs.Normal([0.0, 0.0, 0.0], 1.0), 1)
    >>> est = fs.estimate(d, loglik, 10_000, rng=0, method="rloo")
    >>> bool(abs(est.value - (-float((w ** 2).sum()) - 3.0)) < 4 * est.value_stderr)
    True
    """
    return ArrayF(f)


def _host_option(v):
    """A temperature or eta as the callback got it: arrays as NumPy, the rest as it is."""
    if v is None or isinstance(v, str):
        return v
    return np.asarray(v, dtype=np.float64) if not isinstance(v, numbers.Number) else v


# ---------------------------------------------------------------------------
def _is_jax(v):
    return isinstance(v, (jax.Array, jax.core.Tracer))


def _seed_operand(rng):
    """Check ``rng``; return a JAX integer array, or the uint32 words of a constant seed.

    Constant seeds become their little-endian uint32 words, the entropy
    SeedSequence takes from them; they are passed to the callback as an
    operand, so that the compiled callback does not depend on the seed.
    """
    if isinstance(rng, (bool, np.bool_)) or rng is None:
        raise TypeError("rng must be an int seed, an integer array or a JAX PRNG key, got %r "
                        "(JAX functions are pure: pass the seed explicitly)" % (rng,))
    if isinstance(rng, numbers.Integral):
        if int(rng) < 0:
            raise ValueError("rng: an integer seed must be non-negative, got %d" % int(rng))
        return _words([int(rng)])
    if _is_jax(rng):
        if jnp.issubdtype(rng.dtype, jax.dtypes.prng_key):
            return jax.random.key_data(rng)
        if jnp.issubdtype(rng.dtype, jnp.integer):
            return rng
    elif isinstance(rng, np.ndarray) and rng.dtype.kind in "iu":
        if np.any(rng < 0):
            raise ValueError("rng: seed and key words must be non-negative integers, got %s"
                             % (rng.tolist(),))
        return _words(int(v) for v in rng.ravel())
    raise TypeError("rng must be an int seed, an integer array or a JAX PRNG key "
                    "(jax.random.key / jax.random.PRNGKey), got %s"
                    % (getattr(rng, "dtype", None) or type(rng).__name__,))


def _words(values):
    """Non-negative ints -> their 32-bit words, least significant first (as SeedSequence)."""
    out = []
    for v in values:
        out.append(v & 0xFFFFFFFF)
        v >>= 32
        while v:
            out.append(v & 0xFFFFFFFF)
            v >>= 32
    return np.array(out, dtype=np.uint32)


def _seed_from_array(seed):
    """The fastscore rng of a seed operand (see :func:`expectation`): an int or a SeedSequence."""
    arr = np.asarray(seed)
    if np.any(arr < 0):
        raise ValueError("rng: seed and key words must be non-negative integers, got %s"
                         % (arr.tolist(),))
    if arr.ndim == 0:
        return int(arr)
    return np.random.SeedSequence([int(w) for w in arr.ravel()])


#: Traced calls with this many different f (or grad_f) objects make the bridge warn:
#: JAX keeps a compiled host callback for each, so an f built anew inside an eagerly
#: differentiated loss grows memory on every call (about 1.4 MB each).
CALLABLES_WARN = 64
_SEEN_CALLABLES = set()
_WARNED = []


def _note_callables(config):
    """Count the distinct f objects of traced calls; warn once past CALLABLES_WARN."""
    if _WARNED:
        return
    for v in config:
        if callable(v) and not isinstance(v, type):
            _SEEN_CALLABLES.add(id(v))
    if len(_SEEN_CALLABLES) > CALLABLES_WARN:
        _WARNED.append(True)
        _SEEN_CALLABLES.clear()
        warnings.warn("fastscore.jax: more than %d different f objects were traced; JAX keeps "
                      "a compiled host callback for each, so building f anew inside a loss "
                      "that is differentiated eagerly grows memory on every call. Build f "
                      "once, outside the loss (or jit the step)" % CALLABLES_WARN,
                      RuntimeWarning, stacklevel=4)


def _default_float():
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _snapshot(v):
    """A constant as the callback will use it: scalars as they are, array-likes copied."""
    if v is None or isinstance(v, (bool, numbers.Number, str)):
        return v
    try:
        arr = np.array(v)
    except Exception:  # pragma: no cover - exotic objects pass through
        return v
    return v if arr.dtype == object else arr


def _key(v):
    """A hashable stand-in for a constant of the callback (its value, or its identity)."""
    if v is None or isinstance(v, (bool, numbers.Number, str, type)):
        return (type(v).__name__, v)
    if isinstance(v, np.ndarray) and v.dtype != object:
        digest = hashlib.blake2b(np.ascontiguousarray(v).tobytes(), digest_size=16).digest()
        return ("array", v.dtype.str, v.shape, digest)
    if isinstance(v, tuple):
        return ("tuple",) + tuple(_key(e) for e in v)
    return ("id", id(v))  # f and other objects: the callback holds them, so the id stays theirs


class _HostCall:
    """The host function of a pure_callback, equal to another when their keys are equal.

    JAX compiles a pure_callback once per callback (by equality): giving equal
    calls equal callbacks lets eager calls reuse the compiled computation
    instead of compiling anew (tens of milliseconds) each time.  The key holds
    everything the function depends on besides its operands.
    """

    __slots__ = ("key", "fn")

    def __init__(self, key, fn):
        self.key = key
        self.fn = fn

    def __call__(self, *arrays):
        return self.fn(*arrays)

    def __eq__(self, other):
        return type(other) is _HostCall and other.key == self.key

    def __hash__(self):
        return hash(self.key)


def _apply(cls, run, config, params, extras, always=(), return_stderr=False, cov=False,
           precheck=None):
    """Trace one fastscore call: ``run(dist, *extras)`` on the host, as a custom_vjp.

    ``config`` holds the constants ``run`` depends on (f, n, method, ...);
    ``extras`` are further arguments of ``run`` (seed, samples, baseline):
    JAX arrays among them, and those at the indices ``always`` (the seed),
    are operands of the callback, the rest constants.  With ``return_stderr``
    the result is ``(value, stderr dict)``, the standard errors constants
    for differentiation.  ``precheck(probe)`` refuses, when traced, what the
    estimate would refuse when run.
    """
    params, validate, wrap = _bridge.split_params(cls, params)
    names = [k for k, v in params.items() if _is_jax(v)]
    static = {k: _snapshot(v) for k, v in params.items() if not _is_jax(v)}
    traced = [params[k] for k in names]
    extra_ops = [i for i, v in enumerate(extras) if _is_jax(v) or i in always]
    extras = [v if i in extra_ops else _snapshot(v) for i, v in enumerate(extras)]
    operands = traced + [extras[i] for i in extra_ops]

    concrete = not any(isinstance(v, jax.core.Tracer) for v in operands)
    if not concrete:
        _note_callables(config)
    values = {k: np.asarray(v) for k, v in zip(names, traced)} if concrete else None
    shapes = {k: tuple(np.shape(v)) for k, v in zip(names, traced)}
    probe = wrap(_bridge.probe(cls, shapes, static, validate, values))
    batch_shape = tuple(probe.batch_shape)
    if precheck is not None and not concrete:
        precheck(probe)

    floats = [v.dtype for v in traced if jnp.issubdtype(v.dtype, jnp.floating)]
    out_dtype = jnp.result_type(*floats) if floats else _default_float()
    diff = [i for i, (k, v) in enumerate(zip(names, traced))
            if k in _bridge.param_names(probe) and jnp.issubdtype(v.dtype, jnp.floating)]
    value_sds = jax.ShapeDtypeStruct(batch_shape, out_dtype)
    grad_sds = tuple(jax.ShapeDtypeStruct(_bridge.param_shape(probe, names[i]),
                                          traced[i].dtype) for i in diff)
    se_shapes = _bridge.stderr_shapes(probe, cov) if return_stderr else []
    se_keys = [k for k, _ in se_shapes]
    se_sds = tuple(jax.ShapeDtypeStruct(shape, out_dtype) for _, shape in se_shapes)

    def outputs(est, dist):
        value = np.asarray(est.value, dtype=out_dtype)
        if not return_stderr:
            return (value,)
        items = _bridge.stderr_items(est, dist)
        return (value,) + tuple(np.asarray(a, dtype=out_dtype) for _, a in items)

    def result(out):
        if not return_stderr:
            return out[0]
        return out[0], dict(zip(se_keys, out[1:]))

    if concrete:
        # Nothing to trace or differentiate: call fastscore directly, on the
        # distribution just built and checked.
        est = run(probe, *[np.asarray(v) if _is_jax(v) else v for v in extras])
        return result(tuple(jnp.asarray(o) for o in outputs(est, probe)))
    operands = [jnp.asarray(v) for v in operands]

    def host(want_grads, *arrays):
        given = dict(zip(names, arrays[:len(names)]))
        rest = list(extras)
        for i, a in zip(extra_ops, arrays[len(names):]):
            rest[i] = a
        dist = wrap(cls(**static, **{k: _host_array(a) for k, a in given.items()},
                        validate_args=validate))
        est = run(dist, *rest)
        out = outputs(est, dist)
        if not want_grads:
            return out if return_stderr else out[0]
        return out + tuple(np.asarray(_bridge.grad_of(est.grad, names[i]),
                                      dtype=traced[i].dtype) for i in diff)

    parts = (tuple((nm, c, w.key) for (nm, c), w in zip(cls.parts.items(), cls.wraps.values()))
             if isinstance(cls, _bridge.JointFamily) else cls)
    key = (parts, _key(config), validate, wrap.key, tuple(names), tuple(diff), str(out_dtype),
           bool(return_stderr), bool(cov),
           tuple(sorted((k, _key(v)) for k, v in static.items())),
           tuple(None if i in extra_ops else _key(v) for i, v in enumerate(extras)))
    value_only = _HostCall(key + (False,), lambda *a: host(False, *a))
    with_grads = _HostCall(key + (True,), lambda *a: host(True, *a))
    primal_sds = (value_sds,) + se_sds
    n_out = len(primal_sds)

    @jax.custom_vjp
    def estimate(*ops):
        out = jax.pure_callback(value_only, primal_sds if return_stderr else value_sds, *ops,
                                vmap_method="sequential")
        return tuple(out) if return_stderr else out

    def fwd(*ops):
        out = jax.pure_callback(with_grads, primal_sds + grad_sds, *ops,
                                vmap_method="sequential")
        primal = tuple(out[:n_out]) if return_stderr else out[0]
        return primal, tuple(out[n_out:])

    def bwd(grads, g):
        g = g[0] if return_stderr else g   # the standard errors' cotangents are ignored
        cot = [None] * len(operands)
        for i, grad in zip(diff, grads):
            c = _bridge.sum_to_shape(jnp, _bridge.expand_cotangent(jnp, g, grad),
                                     np.shape(traced[i]))
            cot[i] = c.astype(traced[i].dtype)
        return tuple(cot)

    estimate.defvjp(fwd, bwd)
    return result(estimate(*operands)) if return_stderr else estimate(*operands)


def _host_array(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" or a.dtype.kind == "V" else a
