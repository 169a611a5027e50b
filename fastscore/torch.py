"""PyTorch bridge: fastscore's gradient estimates as differentiable torch operations.

:func:`expectation` returns E[f(x)] per batch element as a tensor; calling
``backward`` on anything computed from it pushes fastscore's gradient
estimate ``est.grad[name]`` (times the incoming gradient) into each
parameter tensor.  Every estimator and option of :func:`fastscore.estimate`
works through it (``estimator="pathwise"``, ``rtol=``, ...), and
``return_stderr=True`` returns the standard errors too.  :func:`surrogate`
does the same for samples and rewards you already have.  :func:`tensor_f`
marks an f written in torch.  So a policy-gradient step is::

    import fastscore as fs
    import fastscore.torch as fs_torch

    loss = -fs_torch.expectation("Categorical", fs.fn.table(rewards), 8,
                                 logits=net(states)).sum()
    loss.backward()          # REINFORCE gradient in net's parameters
    opt.step()

How values travel
-----------------
* Parameters that are tensors (any device, any floating dtype,
  ``requires_grad`` or not) are detached, copied to the CPU as float64 NumPy
  arrays and given to the fastscore distribution; fastscore computes in
  float64.  The result comes back on the parameters' device, in their
  promoted floating dtype (``torch.get_default_dtype()`` when no parameter
  is a floating tensor).  Gradients return to each parameter in its own
  dtype, on its own device, in its own shape: a parameter that was broadcast
  (a scalar ``scale`` with a vector ``loc``) receives the sum over the batch
  elements it was broadcast to.
* Parameters that are not tensors (Python numbers, NumPy arrays) are used as
  they are and get no gradient; nor do parameters fastscore takes no
  gradient for (``total_count``), tensors or not.
* The backward pass is the estimate itself: no second Monte Carlo pass, and
  no graph through f.  It is first-order only (double backward raises).
* f is fastscore's: a NumPy callable sees NumPy arrays; an f wrapped in
  :func:`tensor_f` (or a ``torch.nn.Module``) sees CPU tensors, its own to
  write into and keep, without copies where fastscore's samples are already
  fresh, and one memcpy per wave where they are the buffer it scores next.
* With ``return_stderr=True`` the standard errors come back as tensors
  beside the value, in its dtype and on its device; autograd treats them
  as constants.

Importing :mod:`fastscore` never imports torch; importing this module does.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

try:
    import torch
    from torch.autograd.function import once_differentiable
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise ImportError("fastscore.torch needs PyTorch (pip install torch); the rest of "
                      "fastscore works without it") from _exc

import fastscore as _fs

from . import _bridge
from ._callables import FrameworkF as _FrameworkF

__all__ = ["expectation", "surrogate", "tensor_f"]


def expectation(family: Any, f: Any, n: Optional[int] = None, *, rng: Any = None,
                estimator: str = "score", method: str = "plain", baseline: Optional[Any] = None,
                grad_f: Optional[Any] = None, temperature: Optional[Any] = None,
                straight_through: bool = False, eta: Any = "auto",
                num_draws: Optional[int] = None, rtol: Optional[float] = None,
                atol: Optional[float] = None, max_n: Optional[int] = None, cov: bool = False,
                return_stderr: bool = False, nan_policy: str = "raise",
                backend: str = "compiled", n_threads: Optional[int] = None,
                progress: bool = False, client: Any = None,
                chunks_per_task: Optional[int] = None, **params: Any) -> Any:
    """E[f(x)], x ~ family(**params), as a tensor whose backward is fastscore's gradient.

    Runs ``fs.estimate(family(**params), f, n, rng=rng, estimator=estimator,
    method=method, ...)`` once and returns ``est.value``; its backward
    multiplies the incoming gradient by ``est.grad[name]`` and adds the result
    (summed over broadcast axes) to each parameter tensor's ``.grad``.  Every
    option of :func:`fastscore.estimate` is here and means the same.

    Parameters
    ----------
    family : str, fastscore distribution class or dict
        A family name such as ``"Normal"`` or ``"Categorical"`` (as in
        ``fastscore.__all__``), or the class itself (``fs.Normal``); a dict of
        them is an ``fs.Joint`` (see ``**params``).
    f : fastscore.fn built-in, Python callable, scipy.LowLevelCallable or tensor f
        As in :func:`fastscore.estimate`: a Python callable is given NumPy
        arrays of samples (m, *batch_shape, *event_shape) and returns NumPy
        values (m, *batch_shape).  An f written in torch is wrapped with
        :func:`tensor_f` (a ``torch.nn.Module`` is recognised as one by
        itself): it is then given the samples as a CPU tensor that it owns
        and returns a tensor (see :func:`tensor_f`).  f is not differentiated
        by autograd: the gradient is fastscore's estimate.
    n : int, optional
        Samples per batch element (>= 2).  With ``rtol``/``atol`` the first
        wave (it may then be left out), as in :func:`fastscore.estimate`.
    rng : None, int, SeedSequence, BitGenerator, Generator or torch.Generator
        As in :func:`fastscore.estimate` (SPEC 7): the same rng and n give
        the same result, and ``fs.sample(dist, n, rng)`` gives the samples it
        used.  A ``torch.Generator`` is advanced to draw one integer seed in
        [0, 2**63 - 1), so ``torch.manual_seed`` makes a run reproducible.
    estimator : str
        "score" (default), "pathwise", "measure", "concrete", "rebar", "arm",
        "disarm", "indecater" or "vimco", as in :func:`fastscore.estimate`.
    method : {"plain", "baseline", "rloo", "cv"}
        The score function's baseline (the other estimators take "plain").
    baseline : float, array or tensor, optional
        Only with ``method="baseline"``: a scalar or one value per batch
        element.  It gets no gradient.
    grad_f : callable, scipy.LowLevelCallable or tensor f, optional
        f' for "pathwise", "concrete" and "rebar" when f is a Python or
        low-level function, as in :func:`fastscore.estimate`.  A tensor f
        needs none: its derivative comes from torch's autograd.
    temperature, straight_through, eta, num_draws
        The options of "concrete", "rebar" and "vimco", as in
        :func:`fastscore.estimate` (tensors are taken as values, without
        gradient).  For ``RelaxedBernoulli`` and ``RelaxedCategorical``,
        whose parameter it is, ``temperature=`` is the family's.
    rtol, atol, max_n
        Precision targets, as in :func:`fastscore.estimate`: waves of samples
        until every gradient's standard error meets max(atol, rtol |grad|).
    cov : bool
        Also estimate the covariance of the gradient's components; it comes
        back as ``stderr["cov"]`` (batch_shape + (P, P), the components of
        ``fs.estimate``'s ``Estimate.components``), so it needs
        ``return_stderr=True``.
    return_stderr : bool
        Return ``(value, stderr)`` instead of the value alone (see Returns).
    nan_policy, backend, n_threads, progress, client, chunks_per_task
        As in :func:`fastscore.estimate`.
    **params : tensor, float or array
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
        and f takes the dict of parts' samples.  Tensors may require
        grad and live on any device; see the module notes.

    Returns
    -------
    value : torch.Tensor of shape batch_shape
        The estimate of E[f] per batch element.
    stderr : dict of str -> torch.Tensor
        Only with ``return_stderr=True``: ``stderr["value"]`` is
        ``est.value_stderr`` and ``stderr[name]`` is ``est.stderr[name]`` for
        every parameter fastscore takes a gradient for (a Joint's by
        ``"part.param"``), each in the parameters' dtype and device, of the
        gradient's shape; ``stderr["cov"]`` with ``cov=True``.  They carry
        no gradient (autograd treats them as constants).

    Raises
    ------
    ValueError
        An unknown family name, estimator, method or an option or parameter
        value fastscore refuses (the message names it and the rule).
    TypeError
        A family that is not a name or a fastscore class, an unknown or
        missing parameter name.

    Examples
    --------
    >>> import torch, fastscore as fs
    >>> import fastscore.torch as fs_torch
    >>> logits = torch.zeros(3, requires_grad=True)
    >>> value = fs_torch.expectation("Categorical", fs.fn.table([0.0, 1.0, 2.0]), 100_000,
    ...                              rng=0, logits=logits)
    >>> value.shape
    torch.Size([])
    >>> value.backward()          # d/dlogits_k E[v_x] = p_k (v_k - E[v]) = (-1/3, 0, 1/3)
    >>> bool(torch.allclose(logits.grad, torch.tensor([-1 / 3, 0.0, 1 / 3]), atol=0.01))
    True

    A broadcast parameter gets the sum over the batch it was broadcast to:

    >>> loc = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    >>> scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    >>> fs_torch.expectation(fs.Normal, fs.fn.power(2), 10_000, rng=0,
    ...                      loc=loc, scale=scale).sum().backward()
    >>> scale.grad.shape          # d/dscale sum_b E[x_b^2] = 2 * 2 scale = 8
    torch.Size([])

    Any estimator, with its standard errors; here the pathwise gradient of an
    f written in torch (its derivative by autograd), to a relative precision:

    >>> loc = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    >>> value, se = fs_torch.expectation(
    ...     "Normal", fs_torch.tensor_f(lambda x: torch.sin(x) ** 2), 10_000, rng=0,
    ...     estimator="pathwise", rtol=0.02, return_stderr=True, loc=loc, scale=1.0)
    >>> sorted(se)
    ['loc', 'scale', 'value']
    >>> value.sum().backward()    # d/dloc E[sin^2 x] = E[sin 2x] = sin(2 loc) exp(-2)
    >>> bool(torch.all(se["loc"] <= 0.02 * loc.grad.abs()))
    True
    """
    cls = _bridge.resolve_family(family)
    if temperature is not None and _bridge.takes(cls, "temperature"):
        params["temperature"], temperature = temperature, None   # the family's own
    opts = dict(temperature=_value(temperature), straight_through=straight_through,
                eta=_value(eta), num_draws=num_draws)
    n = _bridge.check_options(cls, n, estimator=estimator, method=method, baseline=baseline,
                              grad_f=grad_f, options=opts, rtol=rtol, atol=atol, max_n=max_n,
                              cov=cov, return_stderr=return_stderr)
    rng = _seed_from_torch(rng)
    f = _as_f(f)
    grad_f = _as_f(grad_f)

    def run(dist):
        return _fs.estimate(dist, f, n, rng=rng, estimator=estimator, method=method,
                            baseline=_value(baseline), grad_f=grad_f, n_threads=n_threads,
                            backend=backend, nan_policy=nan_policy, rtol=rtol, atol=atol,
                            max_n=max_n, progress=progress, client=client,
                            chunks_per_task=chunks_per_task, cov=cov, **opts)

    return _apply(cls, run, params, return_stderr)


def surrogate(family: Any, x: Any, fx: Any, *, estimator: str = "score", method: str = "plain",
              baseline: Optional[Any] = None, return_stderr: bool = False,
              nan_policy: str = "raise", **params: Any) -> Any:
    """The mean of ``fx`` per batch element, whose backward is the score-function gradient.

    For samples ``x`` of family(**params) and rewards ``fx`` you already have
    (noisy rewards, returns of an environment, ...), runs
    ``fs.estimate_from_samples(family(**params), x, fx, method=method)`` and
    returns ``est.value`` (the mean of fx); the backward passes ``est.grad``
    to the parameters as :func:`expectation` does.

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
    x : tensor or array_like, shape (n, *batch_shape, *event_shape)
        Samples of the distribution (``fs.sample`` gives them; integer
        tensors for the discrete families), n >= 1 (n >= 2 for "rloo" and
        "cv"); a dict of them by part for a Joint.  No gradient.
    fx : tensor or array_like, shape (n, *batch_shape)
        The reward of each sample.  It is data: no gradient flows into it
        (a reward that depends differentiably on the parameters needs its
        pathwise term added separately).
    estimator : {"score"}
        The score function only (see above).
    method, baseline
        As in :func:`expectation`.
    return_stderr : bool
        Return ``(value, stderr)``: the standard errors of
        ``fs.estimate_from_samples`` on these samples, as in :func:`expectation`.
    nan_policy : {"raise", "propagate"}
        As in :func:`fastscore.estimate_from_samples`.
    **params : tensor, float or array
        The family's parameters, as in :func:`expectation`.

    Returns
    -------
    value : torch.Tensor of shape batch_shape
        The mean of ``fx`` per batch element.
    stderr : dict of str -> torch.Tensor
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
    >>> import torch, fastscore as fs
    >>> import fastscore.torch as fs_torch
    >>> logits = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)
    >>> x = torch.tensor([1, 0, 1, 1])                 # four draws of a Bernoulli batch of 2
    >>> x = torch.stack([x, 1 - x], dim=1)             # shape (n=4, 2)
    >>> fx = x.double() * 2.0                          # reward 2 for a success
    >>> value, se = fs_torch.surrogate("Bernoulli", x, fx, logits=logits,
    ...                                return_stderr=True)
    >>> value.sum().backward()
    >>> logits.grad                                    # mean(f (x - 1/2)) per element
    tensor([0.7500, 0.2500], dtype=torch.float64)
    >>> se["logits"].shape
    torch.Size([2])

    One sample per batch element (one action per state) works with "plain":

    >>> one = torch.tensor([[1, 0]])                   # n = 1 draw of the batch of 2
    >>> fs_torch.surrogate("Bernoulli", one, 2.0 * one.double(), logits=logits)
    tensor([2., 0.], dtype=torch.float64, grad_fn=<_EstimateBackward>)
    """
    cls = _bridge.resolve_family(family)
    _bridge.check_surrogate(cls, estimator, params)
    _bridge.check_method(method, baseline)
    if not isinstance(return_stderr, (bool, np.bool_)):
        raise TypeError("return_stderr must be True or False, got %r" % (return_stderr,))
    xa = ({k: _value(v) for k, v in x.items()} if isinstance(x, dict) else _value(x))
    fa = _value(fx)
    b = _value(baseline)

    def run(dist):
        return _fs.estimate_from_samples(dist, xa, fa, method=method, baseline=b,
                                         nan_policy=nan_policy)

    return _apply(cls, run, params, return_stderr)


# -- f in torch ------------------------------------------------------------
class TensorF(_FrameworkF):
    """A Python f (or f') written in torch; build one with :func:`tensor_f`."""

    framework = "torch"
    immutable = False

    def to_framework(self, a):
        return torch.from_numpy(a)   # shares a's memory: no copy

    def call_framework(self, x):
        with torch.no_grad():
            return self.fn(x)

    def to_numpy(self, out):
        if isinstance(out, torch.Tensor):
            return _to_numpy(out)    # a CPU float64 tensor: its own memory, no copy
        return np.asarray(out)

    def derivative(self):
        return _TensorGrad(self.fn)


class _TensorGrad(TensorF):
    """df/dx of a tensor f per sample, by autograd: the gradient of sum(f(x)), which is
    f'(x_i) at every sample since f's value at a sample depends on that sample only."""

    def call_framework(self, x):
        leaves = x if isinstance(x, dict) else {None: x}
        with torch.enable_grad():
            for t in leaves.values():
                t.requires_grad_(True)
            y = self.fn(x)
            if not isinstance(y, torch.Tensor):
                raise TypeError("f (a tensor f whose derivative autograd takes) must return a "
                                "tensor, got %s" % type(y).__name__)
            got = torch.autograd.grad(y.sum(), list(leaves.values()), allow_unused=True)
        got = {k: torch.zeros_like(t) if g is None else g
               for (k, t), g in zip(leaves.items(), got)}
        return got if isinstance(x, dict) else got[None]


def tensor_f(f: Any) -> TensorF:
    """Mark ``f`` as written in torch: it takes and returns tensors.

    Wherever fastscore takes f (``fs.estimate``, ``fastscore.torch.expectation``,
    ``grad_f=``, the joint distributions, every estimator and backend), the
    wrapped f is called once per wave of samples, as a NumPy f is, under
    ``torch.no_grad()``:

    * it gets the wave's samples, shape (m, *batch_shape, *event_shape), as
      a CPU tensor (float64; int64 for the discrete families; a dict of them
      for a ``Joint``) made by ``torch.from_numpy`` of a writable NumPy buffer
      that is f's own: f may write into it and keep it, and neither changes
      the estimate (fastscore scores its own copy of the samples, so the
      scores never see f's writes).  Where the samples fastscore hands f are
      a fresh array anyway (a transform's output, integer samples), that
      array is the buffer; where they are the wave's own buffer, which the
      kernels score after f returns, they are copied into a fresh one first
      (one memcpy per wave, see the README's timings);
    * it returns a tensor of shape (m, *batch_shape), any real dtype, any
      device (or anything ``numpy.asarray`` takes); a CPU float64 tensor is
      read back without a copy.  No graph is built through f.

    For "pathwise", "concrete" and "rebar" a tensor f needs no ``grad_f``:
    f' is autograd's gradient of ``f(x).sum()`` with respect to x (one more
    evaluation of f, with a backward pass, per wave), exact for an f whose
    value at a sample depends on that sample only (the contract of every
    f; autograd refuses an f that writes into its input there).
    ``grad_f=tensor_f(g)`` gives f' written in torch instead.

    Parameters
    ----------
    f : callable
        A function of a tensor (or a dict of tensors) returning a tensor; a
        ``torch.nn.Module`` is recognised as a tensor f without this wrapper.

    Returns
    -------
    TensorF
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
    >>> import torch, fastscore as fs
    >>> import fastscore.torch as fs_torch
    >>> w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    >>> loglik = fs_torch.tensor_f(lambda x: -(x - w).pow(2).sum(-1))   # x: (m, 3)
    >>> d = fs.Independent(fs.Normal([0.0, 0.0, 0.0], 1.0), 1)
    >>> est = fs.estimate(d, loglik, 10_000, rng=0, method="rloo")
    >>> bool(abs(est.value - (-(w ** 2).sum().item() - 3.0)) < 4 * est.value_stderr)
    True
    """
    return TensorF(f)


def _as_f(f):
    """A torch.nn.Module as a tensor f; anything else as it is."""
    if isinstance(f, torch.nn.Module):
        return TensorF(f)
    return f


# ---------------------------------------------------------------------------
def _seed_from_torch(rng):
    if isinstance(rng, torch.Generator):
        return int(torch.randint(0, 2 ** 63 - 1, (), generator=rng, device=rng.device))
    return rng


def _to_numpy(t):
    """A tensor as a NumPy array: floating ones as float64, others (ints, bools) as they are."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_floating_point():
        t = t.to(torch.float64)
    return t.numpy()


def _value(v):
    """A tensor option or datum as a NumPy array (no gradient); anything else as it is."""
    return _to_numpy(v) if isinstance(v, torch.Tensor) else v


def _apply(cls, run, params, return_stderr=False):
    params, validate, wrap = _bridge.split_params(cls, params)
    names = [k for k, v in params.items() if isinstance(v, torch.Tensor)]
    static = {k: v for k, v in params.items() if not isinstance(v, torch.Tensor)}
    tensors = [params[k] for k in names]
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError("%s: the parameter tensors are on different devices: %s"
                         % (cls.__name__, ", ".join("%s on %s" % (k, params[k].device)
                                                    for k in names)))
    floating = [t.dtype for t in tensors if t.is_floating_point()]
    dtype = torch.get_default_dtype() if not floating else floating[0]
    for other in floating[1:]:
        dtype = torch.promote_types(dtype, other)
    device = devices.pop() if devices else torch.device("cpu")
    keys = [] if return_stderr else None   # forward fills in the standard errors' keys
    out = _Estimate.apply(cls, run, names, static, (validate, wrap), (dtype, device, keys),
                          *tensors)
    if not return_stderr:
        return out
    return out[0], dict(zip(keys, out[1:]))


#: Leading non-tensor arguments of _Estimate.forward (they get None gradients).
_N_LEAD = 6


class _Estimate(torch.autograd.Function):
    """One fastscore call in forward; its gradient estimate, saved, in backward.

    The outputs are the value, then (with ``keys`` a list) the standard errors,
    constants for autograd."""

    @staticmethod
    def forward(ctx, cls, run, names, static, options, out, *tensors):
        arrays = {k: _to_numpy(t) for k, t in zip(names, tensors)}
        validate, wrap = options
        dist = wrap(cls(**static, **arrays, validate_args=validate))
        est = run(dist)
        ctx.grads = []
        for i, (k, t) in enumerate(zip(names, tensors)):
            g = _bridge.grad_of(est.grad, k)
            wanted = ctx.needs_input_grad[_N_LEAD + i] and g is not None
            grad = torch.from_numpy(np.ascontiguousarray(g)) if wanted else None
            ctx.grads.append((grad, t.shape, t.dtype, t.device))
        dtype, device, keys = out
        value = torch.as_tensor(np.asarray(est.value), dtype=dtype, device=device)
        if keys is None:
            return value
        items = _bridge.stderr_items(est, dist)
        keys.extend(k for k, _ in items)
        se = tuple(torch.as_tensor(a, dtype=dtype, device=device) for _, a in items)
        ctx.mark_non_differentiable(*se)
        return (value,) + se

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, *unused):
        go = grad_out.detach().to(device="cpu", dtype=torch.float64)
        result = [None] * _N_LEAD
        for grad, shape, dtype, device in ctx.grads:
            if grad is None:
                result.append(None)
                continue
            g = _bridge.expand_cotangent(torch, go, grad).sum_to_size(shape)
            result.append(g.to(device=device, dtype=dtype))
        return tuple(result)
