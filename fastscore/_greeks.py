"""Black-Scholes Greeks of a European payoff with standard errors (``fs.greeks``)."""

from typing import Any, Optional

import numpy as np

from . import _hessian
from ._callables import prepare, prepare_grad
from ._rng import key_from_rng

__all__ = ["Greeks", "greeks"]

#: The Greeks, in the order of their columns.
NAMES = ("price", "delta", "gamma", "vega", "vanna", "volga", "theta", "rho")


class Greeks:
    """Result of :func:`greeks`: each Greek and its standard error.

    Parameters
    ----------
    values, stderr, n, estimator
        The attributes below: ``values`` a dict of them by name.

    Attributes
    ----------
    price, delta, gamma, vega, vanna, volga, theta, rho : float or ndarray
        exp(-r T) E[payoff(S_T)] and its derivatives: d/dS0, d^2/dS0^2, d/dsigma,
        d^2/dS0 dsigma, d^2/dsigma^2, -d/dT (the value's decay per year as the
        expiry nears) and d/dr; numpy.float64 for scalar inputs, else arrays of
        the inputs' broadcast shape.
    stderr : dict of str -> float or ndarray
        The standard error of each, by name.
    n : int
        Samples per element.
    estimator : str
        "score", "mixed", "pathwise" or "measure" (the Hessian's estimator; the
        first-order Greeks use the matching gradient estimator: the score function,
        pathwise or measure-valued).

    Examples
    --------
    >>> import fastscore as fs
    >>> g = fs.greeks(fs.fn.call(100.0), spot=100.0, vol=0.2, rate=0.03, expiry=1.0,
    ...               n=100_000, rng=1, estimator="mixed")
    >>> type(g).__name__, g.estimator, g.n
    ('Greeks', 'mixed', 100000)
    >>> bool(abs(g.delta - 0.5987) < 4.5 * g.stderr["delta"])      # Black-Scholes N(d1)
    True
    """

    def __init__(self, values, stderr, n, estimator):
        for k in NAMES:
            setattr(self, k, values[k])
        self.stderr = stderr
        self.n = n
        self.estimator = estimator

    def __repr__(self):
        lines = ["Greeks(estimator=%r, n=%d)" % (self.estimator, self.n)]
        for k in NAMES:
            v, e = np.asarray(getattr(self, k)), np.asarray(self.stderr[k])
            if v.ndim == 0:
                lines.append("  %-6s %.6g +- %.2g" % (k, v, e))
            else:
                lines.append("  %-6s %s +- %s" % (k, np.array2string(v, precision=5),
                                                  np.array2string(e, precision=2)))
        return "\n".join(lines)


def greeks(payoff: Any, spot: Any, vol: Any, rate: Any, expiry: Any, n: int, *,
           rng: Any = None, estimator: str = "score", baseline: Optional[Any] = None,
           grad_payoff: Optional[Any] = None, hess_payoff: Optional[Any] = None,
           n_threads: Optional[int] = None, backend: str = "compiled") -> Greeks:
    """Black-Scholes Greeks of a European payoff, each with its standard error.

    The terminal price is log-normal, S_T = spot exp((rate - vol^2 / 2) expiry +
    vol sqrt(expiry) Z): ``fs.LogNormal(loc, scale)`` with loc = log(spot) +
    (rate - vol^2 / 2) expiry and scale = vol sqrt(expiry).  One pass over the
    samples of ``fs.estimate(fs.LogNormal(loc, scale), payoff, n, rng=rng,
    order=2)`` gives, per sample, the value f, the gradient's terms g and the
    Hessian's terms H in (loc, scale) (fastscore._hessian), and the chain rule
    makes each Greek a per-sample combination of them, so its standard error is
    that of a mean of independent terms (the covariances of the value, gradient
    and Hessian entries are in it).  With D = exp(-rate expiry):

    * price = D f; delta = D g_loc / spot;
    * gamma = D (H_loc,loc - g_loc) / spot^2;
    * vega = D (-vol T g_loc + sqrt(T) g_scale);
    * vanna = D (-vol T H_loc,loc + sqrt(T) H_loc,scale) / spot;
    * volga = D (vol^2 T^2 H_loc,loc - 2 vol T^1.5 H_loc,scale + T H_scale,scale - T g_loc);
    * theta = -dV/dT = rate D f - D ((rate - vol^2 / 2) g_loc + vol / (2 sqrt(T)) g_scale);
    * rho = T D (g_loc - f).

    Parameters
    ----------
    payoff : callable or fastscore.fn built-in
        f(S_T): ``fs.fn.call(K)``, ``fs.fn.put(K)``, or a vectorised Python
        function of the terminal prices (m, *shape) -> (m, *shape).
    spot, vol, rate, expiry : float or array_like
        S0 > 0, the volatility > 0, the risk-free rate, the time to expiry > 0;
        arrays broadcast to one batch (a Greek per element).
    n : int
        Samples per element (>= 2).
    rng : None, int, SeedSequence, BitGenerator or Generator
        As in :func:`fastscore.estimate`; the same rng and n give the same
        numbers whatever ``n_threads`` and ``backend``.
    estimator : {"score", "mixed", "pathwise", "measure"}
        "score": the likelihood ratio (any payoff; ``baseline`` subtracts a
        constant from f in the gradient and Hessian terms).  "mixed": pathwise
        first derivatives and the likelihood-ratio derivative of the pathwise
        gradient for the second ones; needs f' only (a built-in's, or
        ``grad_payoff``): the low-variance choice for a kinked payoff such as a
        call.  "pathwise": pathwise first and second derivatives; needs f''
        (``hess_payoff``), so not for a call or put, whose f'' is a point mass
        at the strike.  "measure": weak derivatives (any payoff).
    baseline : float or array, optional
        "score" only.
    grad_payoff, hess_payoff : callable, optional
        f' and f'' of a Python payoff, vectorised like it.
    n_threads, backend
        As in :func:`fastscore.estimate`.

    Returns
    -------
    Greeks

    Raises
    ------
    ValueError
        A spot, vol or expiry not > 0 (or not finite), a rate not finite, n below
        2, an unknown estimator, ``baseline`` with another estimator than
        "score", ``grad_payoff`` or ``hess_payoff`` where they are not used, or
        "pathwise" without f''; and whatever :func:`fastscore.estimate` raises
        for the payoff (a non-finite value, say).

    Examples
    --------
    >>> import fastscore as fs
    >>> g = fs.greeks(fs.fn.call(100.0), spot=100.0, vol=0.2, rate=0.03, expiry=1.0,
    ...               n=200_000, rng=0, estimator="mixed")
    >>> bool(abs(g.gamma - 0.019333) < 4.5 * g.stderr["gamma"])   # Black-Scholes: 0.019333
    True
    """
    from .distributions import LogNormal
    from .estimate import _check_backend, _check_n

    n = _check_n(n, minimum=2)
    _check_backend(backend)
    arrs = [np.asarray(a, dtype=np.float64) for a in (spot, vol, rate, expiry)]
    for nm, a, ok in (("spot", arrs[0], arrs[0] > 0), ("vol", arrs[1], arrs[1] > 0),
                      ("rate", arrs[2], np.isfinite(arrs[2])),
                      ("expiry", arrs[3], arrs[3] > 0)):
        if not np.all(ok & np.isfinite(a)):
            raise ValueError("greeks: %s must be finite%s; got %r"
                             % (nm, "" if nm == "rate" else " and > 0", a))
    S, sig, r, T = np.broadcast_arrays(*arrs)
    shape = S.shape
    sqT = np.sqrt(T)
    dist = LogNormal(np.log(S) + (r - 0.5 * sig * sig) * T, sig * sqT)
    if estimator not in _hessian.ESTIMATORS:
        raise ValueError("greeks: estimator must be 'score', 'mixed', 'pathwise' or "
                         "'measure', got %r" % (estimator,))
    if baseline is not None and estimator != "score":
        raise ValueError("greeks: baseline is only used with estimator='score'")
    req = _hessian.Request(estimator, "plain", hess_payoff)
    plan = dist.plan()
    pf = prepare(payoff)
    pf.check(plan)
    if estimator in ("mixed", "pathwise"):
        prepare_grad(pf, grad_payoff, estimator, plan)
    elif grad_payoff is not None:
        raise ValueError("greeks: grad_payoff is only used with estimator='mixed' or "
                         "'pathwise'")
    req.check(dist, plan, pf)
    if estimator == "pathwise" and req.used != "pathwise":
        raise ValueError("greeks: estimator='pathwise' needs the payoff's second derivative "
                         "(hess_payoff=, or a built-in that has one: %r %s); use "
                         "estimator='mixed'" % (pf.obj, getattr(pf.obj, "no_second_derivative",
                                                               "has none")))
    dist._check_drawable()
    key = key_from_rng(rng)
    from ._threads import effective_n_threads

    nt = effective_n_threads(n_threads)
    B = plan.batch_size
    flat = [np.reshape(a, (1, B)) for a in (S, sig, r, T, sqT)]
    S1, s1, r1, T1, q1 = flat
    D = np.exp(-r1 * T1)
    b = 0.0 if baseline is None else np.broadcast_to(
        np.asarray(baseline, dtype=np.float64), shape).reshape(1, B)
    acc = _hessian._Moments(B, len(NAMES))
    for fx, g, h in _hessian.terms(req, plan, pf, n, key, backend, nt):
        if estimator == "score":   # the terms s and K, weighed by f - b here
            w = fx - b
            g = w[..., None] * g
            h = w[..., None] * h
        gl, gs = g[..., 0], g[..., 1]
        hll, hls, hss = h[..., 0], h[..., 1], h[..., 2]
        cols = [D * fx,
                D * gl / S1,
                D * (hll - gl) / (S1 * S1),
                D * (-s1 * T1 * gl + q1 * gs),
                D * (-s1 * T1 * hll + q1 * hls) / S1,
                D * (s1 * s1 * T1 * T1 * hll - 2.0 * s1 * T1 * q1 * hls + T1 * hss - T1 * gl),
                r1 * D * fx - D * ((r1 - 0.5 * s1 * s1) * gl + s1 / (2.0 * q1) * gs),
                T1 * D * (gl - fx)]
        acc.add(np.stack(cols, axis=-1))
    mean, se = acc.result()
    values, errors = {}, {}
    for i, k in enumerate(NAMES):
        v, e = mean[:, i].reshape(shape), se[:, i].reshape(shape)
        values[k] = np.float64(v) if not shape else v
        errors[k] = np.float64(e) if not shape else e
    return Greeks(values, errors, n, req.used)
