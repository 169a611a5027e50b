"""PyTorch bridge: fastscore's score-function estimates as differentiable torch operations.

:func:`expectation` returns E[f(x)] per batch element as a tensor; calling
``backward`` on anything computed from it pushes fastscore's gradient
estimate ``est.grad[name]`` (times the incoming gradient) into each
parameter tensor.  :func:`surrogate` does the same for samples and rewards
you already have.  So a policy-gradient step is::

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
  no graph through f (f sees NumPy arrays, see :func:`expectation`).  It is
  first-order only (double backward raises).

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

__all__ = ["expectation", "surrogate"]


def expectation(family: Any, f: Any, n: int, *, rng: Any = None, method: str = "plain",
                baseline: Optional[Any] = None, n_threads: Optional[int] = None,
                **params: Any) -> torch.Tensor:
    """E[f(x)], x ~ family(**params), as a tensor whose backward is fastscore's gradient.

    Runs ``fs.estimate(family(**params), f, n, rng=rng, method=method, ...)``
    once and returns ``est.value``; its backward multiplies the incoming
    gradient by ``est.grad[name]`` and adds the result (summed over broadcast
    axes) to each parameter tensor's ``.grad``.

    Parameters
    ----------
    family : str or fastscore distribution class
        A family name such as ``"Normal"`` or ``"Categorical"`` (as in
        ``fastscore.__all__``), or the class itself (``fs.Normal``).
    f : fastscore.fn built-in, Python callable or scipy.LowLevelCallable
        As in :func:`fastscore.estimate`: a Python callable is given NumPy
        arrays of samples (m, *batch_shape, *event_shape) and returns NumPy
        values (m, *batch_shape); it is not differentiated.
    n : int
        Samples per batch element (>= 2).
    rng : None, int, SeedSequence, BitGenerator, Generator or torch.Generator
        As in :func:`fastscore.estimate` (SPEC 7): the same rng and n give
        the same result, and ``fs.sample(dist, n, rng)`` gives the samples it
        used.  A ``torch.Generator`` is advanced to draw one integer seed in
        [0, 2**63 - 1), so ``torch.manual_seed`` makes a run reproducible.
    method : {"plain", "baseline", "rloo", "cv"}
        The estimator (see :func:`fastscore.estimate`).
    baseline : float, array or tensor, optional
        Only with ``method="baseline"``: a scalar or one value per batch
        element.  It gets no gradient.
    n_threads : int, optional
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
    torch.Tensor of shape batch_shape
        The estimate of E[f] per batch element.

    Raises
    ------
    ValueError
        An unknown family name, method or a parameter value fastscore refuses
        (the message names the parameter and the rule).
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
    """
    cls = _bridge.resolve_family(family)
    _bridge.check_method(method, baseline)
    rng = _seed_from_torch(rng)
    b = _to_numpy(baseline) if isinstance(baseline, torch.Tensor) else baseline

    def run(dist):
        return _fs.estimate(dist, f, n, rng=rng, method=method, baseline=b,
                            n_threads=n_threads)

    return _apply(cls, run, params)


def surrogate(family: Any, x: Any, fx: Any, *, method: str = "plain",
              baseline: Optional[Any] = None, **params: Any) -> torch.Tensor:
    """The mean of ``fx`` per batch element, whose backward is the score-function gradient.

    For samples ``x`` of family(**params) and rewards ``fx`` you already have
    (noisy rewards, returns of an environment, ...), runs
    ``fs.estimate_from_samples(family(**params), x, fx, method=method)`` and
    returns ``est.value`` (the mean of fx); the backward passes ``est.grad``
    to the parameters as :func:`expectation` does.

    Parameters
    ----------
    family : str or fastscore distribution class
        As in :func:`expectation`.
    x : tensor or array_like, shape (n, *batch_shape, *event_shape)
        Samples of the distribution (``fs.sample`` gives them; integer
        tensors for the discrete families).  n >= 1: one sample per batch
        element (one action per state) works with ``method="plain"`` and
        ``"baseline"``, as in :func:`fastscore.estimate_from_samples`;
        ``"rloo"`` and ``"cv"`` need n >= 2.  No gradient.
    fx : tensor or array_like, shape (n, *batch_shape)
        The reward of each sample.  It is data: no gradient flows into it
        (a reward that depends differentiably on the parameters needs its
        pathwise term added separately).
    method, baseline
        As in :func:`expectation`.
    **params : tensor, float or array
        The family's parameters, as in :func:`expectation`.

    Returns
    -------
    torch.Tensor of shape batch_shape
        The mean of ``fx`` per batch element.

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
    >>> fs_torch.surrogate("Bernoulli", x, fx, logits=logits).sum().backward()
    >>> logits.grad                                    # mean(f (x - 1/2)) per element
    tensor([0.7500, 0.2500], dtype=torch.float64)

    One sample per batch element (one action per state) works with "plain":

    >>> one = torch.tensor([[1, 0]])                   # n = 1 draw of the batch of 2
    >>> fs_torch.surrogate("Bernoulli", one, 2.0 * one.double(), logits=logits)
    tensor([2., 0.], dtype=torch.float64, grad_fn=<_EstimateBackward>)
    """
    cls = _bridge.resolve_family(family)
    _bridge.check_method(method, baseline)
    xa = ({k: _to_numpy(v) if isinstance(v, torch.Tensor) else v for k, v in x.items()}
          if isinstance(x, dict) else _to_numpy(x) if isinstance(x, torch.Tensor) else x)
    fa = _to_numpy(fx) if isinstance(fx, torch.Tensor) else fx
    b = _to_numpy(baseline) if isinstance(baseline, torch.Tensor) else baseline

    def run(dist):
        return _fs.estimate_from_samples(dist, xa, fa, method=method, baseline=b)

    return _apply(cls, run, params)


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


def _apply(cls, run, params):
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
    out = (dtype, device)
    return _Estimate.apply(cls, run, names, static, (validate, wrap), out, *tensors)


#: Leading non-tensor arguments of _Estimate.forward (they get None gradients).
_N_LEAD = 6


class _Estimate(torch.autograd.Function):
    """One fastscore call in forward; its gradient estimate, saved, in backward."""

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
        dtype, device = out
        return torch.as_tensor(np.asarray(est.value), dtype=dtype, device=device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        go = grad_out.detach().to(device="cpu", dtype=torch.float64)
        result = [None] * _N_LEAD
        for grad, shape, dtype, device in ctx.grads:
            if grad is None:
                result.append(None)
                continue
            g = _bridge.expand_cotangent(torch, go, grad).sum_to_size(shape)
            result.append(g.to(device=device, dtype=dtype))
        return tuple(result)
