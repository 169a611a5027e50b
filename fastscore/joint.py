"""Joint distributions: Independent, Joint and TransformedDistribution.

Users' problems are joint: one f of a whole vector (an action, a posterior
sample, a price path) drawn from independent parts.  These wrappers, with
torch.distributions' names and semantics, make them first-class.  Each is a
transformation of its base's plan (fastscore._wrapped), never a new kernel:
every estimator that applies to the base applies to the wrapper, at O(D)
per sample.

Examples
--------
A mean-field Gaussian of 3 coordinates and one f of the whole vector:

>>> import numpy as np, fastscore as fs
>>> d = fs.Independent(fs.Normal(np.zeros(3), 1.0), 1)
>>> d.batch_shape, d.event_shape
((), (3,))
>>> est = fs.estimate(d, lambda x: x.sum(axis=-1) ** 2, n=100_000, rng=0, method="rloo")
>>> est.grad["scale"].shape           # d/dscale_i E[(sum x)^2] = 2 scale_i = 2
(3,)
"""

import math

import numpy as np

from . import _fisher, _wrapped
from .distributions import Distribution
from .transforms import ComposeTransform, Transform

__all__ = ["Independent", "Joint", "TransformedDistribution"]


class _Wrapper(Distribution):
    """Base of the wrappers: a distribution made of other distributions."""

    def __init__(self):
        self._plan = None
        self._score_plan = None
        self.validate_args = all(p.validate_args for p in self._parts().values())

    def _parts(self):
        raise NotImplementedError

    def _check_drawable(self):
        for p in self._parts().values():
            p._check_drawable()

    def _check_resolution(self, estimator):
        for p in self._parts().values():
            p._check_resolution(estimator)

    @property
    def param_names(self):
        """The base's parameter names (a Joint: its part names, whose gradients nest)."""
        parts = self._parts()
        return tuple(parts) if isinstance(self, Joint) else parts["base"].param_names

    def score_plan(self):
        if self._score_plan is None:
            self._score_plan = self._wrap(lambda d: d.score_plan())
        return self._score_plan

    def plan(self):
        if self._plan is None:
            self._plan = self._wrap(lambda d: d.plan())
        return self._plan

    def _wrap(self, plan_of):
        """This wrapper's plan over ``plan_of(base)`` (the base's plan, or its score plan)."""
        raise NotImplementedError

    def _check_support(self, x3):
        self.plan().check_support(x3)

    def _overflow_error(self, flat_index):
        """The ValueError for a draw beyond the float64 range (the base's, whose batch
        element ``flat_index`` drew it)."""
        parts = self._parts()
        if len(parts) == 1:
            return parts["base"]._overflow_error(flat_index)
        return ValueError("%r: a sample overflowed float64 (it is inf or nan): parameters "
                          "this extreme put samples beyond +-1.8e308" % (self,))

    def __repr__(self):
        raise NotImplementedError


class Independent(_Wrapper):
    """Reinterprets the last ``reinterpreted_batch_ndims`` batch dimensions of ``base``
    as one event (torch.distributions.Independent): a mean-field distribution.

    f receives samples of shape (m, *batch_shape, *event_shape) and returns
    (m, *batch_shape): one value per joint sample.  ``log_prob`` sums over
    the event.  Gradients keep each parameter's shape: for
    ``Independent(Normal(loc (B, D), scale), 1)``, ``est.grad["loc"]`` is
    (B, D), each coordinate's gradient of the one E[f] of its row.

    Every estimator that applies to ``base`` applies here: the score
    function (each coordinate's score times the joint f), pathwise (f'
    returns an array of the samples' shape), measure-valued (coordinate by
    coordinate, the others held at the sample: 1 + 2 P evaluations of f per
    sample, P the number of gradient components of the event, warned about
    when large) and, for Bernoulli and Categorical, concrete and rebar, and
    for Bernoulli arm and disarm in their multivariate form (one antithetic
    pair of whole vectors per sample: 3 evaluations of f, each coordinate's
    weight on the pair's one difference).  The cost is O(D) per sample.

    Streams: coordinate g of joint element b is the base's batch element
    b * G + g (G the number of coordinates, C order), and draws exactly the
    base's samples from the base's counters [0, 0, chunk, b * G + g]: an
    Independent gives, bit for bit, what the base gives with f copied onto
    every coordinate by hand, for any thread count and on a Dask cluster.

    Parameters
    ----------
    base_distribution : Distribution
        Any fastscore distribution (an Independent too: the dimensions add up).
    reinterpreted_batch_ndims : int
        How many of the last batch dimensions become the event (0 to
        ``len(base.batch_shape)``).

    Raises
    ------
    TypeError
        Where ``base_distribution`` is not a fastscore distribution (or is a
        Joint: wrap its parts instead), or ``reinterpreted_batch_ndims`` is not
        an integer.
    ValueError
        Where ``reinterpreted_batch_ndims`` is not in [0, len(base.batch_shape)].

    Examples
    --------
    >>> import numpy as np, fastscore as fs
    >>> d = fs.Independent(fs.Normal(np.zeros((2, 3)), 1.0), 1)
    >>> d.batch_shape, d.event_shape
    ((2,), (3,))
    >>> fs.sample(d, 4, rng=0).shape
    (4, 2, 3)
    >>> d.log_prob(np.zeros((2, 3))).shape
    (2,)
    """

    def __init__(self, base_distribution, reinterpreted_batch_ndims):
        if not isinstance(base_distribution, Distribution):
            raise TypeError("Independent: base_distribution must be a fastscore distribution, "
                            "got %s" % type(base_distribution).__name__)
        k = reinterpreted_batch_ndims
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise TypeError("Independent: reinterpreted_batch_ndims must be an integer, got %r"
                            % (k,))
        k = int(k)
        nb = len(base_distribution.batch_shape)
        if not 0 <= k <= nb:
            raise ValueError("Independent: reinterpreted_batch_ndims must be in [0, %d] (the "
                             "base's batch dimensions, batch_shape %s), got %d"
                             % (nb, tuple(base_distribution.batch_shape), k))
        if isinstance(base_distribution, Independent):   # dimensions add up
            k += base_distribution.reinterpreted_batch_ndims
            base_distribution = base_distribution.base_dist
        if isinstance(base_distribution, Joint):
            raise TypeError("Independent: a Joint's parts have their own shapes; wrap the parts "
                            "in Independent instead")
        shape = tuple(base_distribution.batch_shape)
        if 0 in shape[len(shape) - k:]:
            raise ValueError("Independent: reinterpreted_batch_ndims=%d makes events of no "
                             "coordinates (the base's batch_shape %s has a 0 there); an empty "
                             "batch is fine, an empty event is not" % (k, shape))
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = k
        shape = tuple(base_distribution.batch_shape)
        self.batch_shape = shape[:len(shape) - k]
        self.event_shape = shape[len(shape) - k:] + tuple(base_distribution.event_shape)
        self.integer_valued = base_distribution.integer_valued
        self.relaxed = base_distribution.relaxed
        super().__init__()

    def _parts(self):
        return {"base": self.base_dist}

    def _wrap(self, plan_of):
        return _wrapped.GroupedPlan(self.__repr__, plan_of(self.base_dist),
                                    self.reinterpreted_batch_ndims)

    def __repr__(self):
        return "Independent(%r, %d)" % (self.base_dist, self.reinterpreted_batch_ndims)

    def log_prob(self, x):
        """log p(x) of the joint samples: the base's, summed over the event.

        Parameters
        ----------
        x : array_like of shape (*sample_shape, *batch_shape, *event_shape)
            Joint samples.

        Returns
        -------
        ndarray of shape (*sample_shape, *batch_shape)
            One log-density per joint sample.

        Raises
        ------
        ValueError
            Where ``x`` has the wrong shape or (with ``validate_args``) lies
            outside the support.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.Independent(fs.Normal(np.zeros(3), 1.0), 1)
        >>> bool(np.isclose(d.log_prob(np.zeros(3)), 3 * fs.Normal(0.0, 1.0).log_prob(0.0)))
        True
        """
        lp = self.base_dist.log_prob(x)
        k = self.reinterpreted_batch_ndims
        return lp.sum(axis=tuple(range(lp.ndim - k, lp.ndim))) if k else lp

    def entropy(self, grad=False):
        """The entropy of the joint: the base's, summed over the event (shape batch_shape).

        Parameters
        ----------
        grad : bool, default False
            Also return the gradient in each parameter of the base.

        Returns
        -------
        value : numpy.float64 or ndarray of shape batch_shape
            The entropy.
        grads : dict
            With ``grad=True`` only, which returns ``(value, grads)``:
            {parameter: gradient}, each of the parameter's shape (the base's
            gradients: the sum takes nothing away).

        Raises
        ------
        NotImplementedError
            For a base without a closed-form entropy (the relaxed families).

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> h, g = fs.Independent(fs.Exponential(np.ones(3)), 1).entropy(grad=True)
        >>> float(h), g["rate"].shape     # 3 times Exponential(1)'s entropy of 1
        (3.0, (3,))
        """
        k = self.reinterpreted_batch_ndims
        out = self.base_dist.entropy(grad=grad)
        h = out[0] if grad else out
        h = np.asarray(h)
        h = h.sum(axis=tuple(range(h.ndim - k, h.ndim))) if k else h
        return (h, out[1]) if grad else h

    def fisher(self):
        """The Fisher information of the joint, shape batch_shape + (P, P).

        The coordinates are independent, so it is block-diagonal over them: each
        coordinate's block is the base's ``fisher()``.  The components are in the
        order of ``est.grad``'s (and of the score's): each parameter's components
        for every coordinate in C order, then the next parameter's, so the blocks
        interleave in that order.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.Independent(fs.Normal(np.zeros(2), 1.0), 1)
        >>> np.diag(d.fisher())   # loc[0], loc[1], scale[0], scale[1]
        array([1., 1., 2., 2.])
        """
        base = np.asarray(self.base_dist.fisher())
        plan = self.plan()
        P = base.shape[-1]
        blocks = base.reshape(tuple(self.batch_shape) + (plan.group, P, P))
        full = _fisher.block_diag(blocks)
        order = plan._order
        return np.ascontiguousarray(full[..., order[:, None], order[None, :]])

    def _second_order(self):
        # order=2: the base's pieces, block-diagonal over the coordinates
        from ._hessian import _Grouped

        return _Grouped(self, self.base_dist._second_order())

    def relaxation(self, temperature):
        """The Independent of the base's Concrete relaxation (Bernoulli, Categorical)."""
        if not hasattr(self.base_dist, "relaxation"):
            raise NotImplementedError("this estimator relaxes a discrete family; %s has no "
                                      "continuous relaxation here (Bernoulli and Categorical "
                                      "have)" % type(self.base_dist).__name__)
        return Independent(self.base_dist.relaxation(temperature), self.reinterpreted_batch_ndims)

    def antithetic_plan(self, estimator):
        if not hasattr(self.base_dist, "antithetic_plan"):
            raise NotImplementedError("estimator=%r: antithetic estimators are built for "
                                      "Bernoulli here; %s has none" % (estimator, self))
        return _wrapped.GroupedPlan(self.__repr__, self.base_dist.antithetic_plan(estimator),
                                    self.reinterpreted_batch_ndims)


class Joint(_Wrapper):
    """Independent named parts of any families: p(x) = prod_k p_k(x[k]).

    f receives a dict {name: samples of that part, (m, *batch_shape,
    *part's event_shape)} and returns (m, *batch_shape); gradients nest by
    part, ``est.grad["w"]["loc"]``.  A variational-inference user writes one
    log-joint f for the whole model.  Every part must have the same
    batch_shape (wrap vectors in :class:`Independent` to make them events).

    The score-function and pathwise estimators apply (pathwise when every
    part has it; ``grad_f`` then returns a dict of arrays of the parts'
    sample shapes).  f must be a Python callable (it takes a dict).

    Streams: part k (in the order given) draws from its own Philox key: the
    estimate's key for the first part, and for part k > 0 the two words of
    ``SeedSequence(entropy=key, spawn_key=(k,)).generate_state(2, uint64)``;
    within a part, chunks and batch elements use the counters of a lone
    distribution.  The first part's samples are thus exactly those of the
    same distribution drawn alone.  Results are the same for any thread count.

    Parameters
    ----------
    parts : dict of str -> Distribution
        The parts by name, each of any family, all of the same batch_shape.

    Raises
    ------
    TypeError
        Where ``parts`` is not a non-empty dict of str -> fastscore distribution.
    ValueError
        Where the parts' batch_shapes differ.

    Examples
    --------
    >>> import numpy as np, fastscore as fs
    >>> d = fs.Joint({"a": fs.Normal(1.0, 1.0), "b": fs.Gamma(2.0, 1.0)})
    >>> est = fs.estimate(d, lambda x: x["a"] * x["b"], n=200_000, rng=0)
    >>> sorted(est.grad), sorted(est.grad["b"])
    (['a', 'b'], ['concentration', 'rate'])
    >>> x = fs.sample(d, 3, rng=0)
    >>> sorted(x), x["a"].shape
    (['a', 'b'], (3,))
    """

    def __init__(self, parts):
        if not isinstance(parts, dict) or not parts:
            raise TypeError("Joint: parts must be a non-empty dict of name -> distribution")
        for nm, p in parts.items():
            if not isinstance(nm, str):
                raise TypeError("Joint: part names must be strings, got %r" % (nm,))
            if not isinstance(p, Distribution):
                raise TypeError("Joint: part %r must be a fastscore distribution, got %s"
                                % (nm, type(p).__name__))
        shapes = {nm: tuple(p.batch_shape) for nm, p in parts.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError("Joint: every part must have the same batch_shape (wrap vectors in "
                             "fs.Independent to make them events); got %s" % shapes)
        self.parts = dict(parts)
        self.batch_shape = next(iter(shapes.values()))
        self.event_shape = {nm: tuple(p.event_shape) for nm, p in parts.items()}
        self.integer_valued = False
        self.relaxed = False
        super().__init__()

    @property
    def batch_size(self):
        return math.prod(self.batch_shape)

    @property
    def event_size(self):
        return sum(p.event_size for p in self.parts.values())

    def _parts(self):
        return self.parts

    def _wrap(self, plan_of):
        return _wrapped.JointPlan(self.__repr__, {nm: plan_of(p) for nm, p in self.parts.items()})

    def __repr__(self):
        return "Joint({%s})" % ", ".join("%r: %r" % kv for kv in self.parts.items())

    def score(self, x):
        """Scores by part and parameter, ``{part: {parameter: array}}``, for a dict of samples."""
        plan = self.plan()
        x3, lead = plan.layout.to_kernel(x)
        plan.check_support(x3)
        return plan.params.split(plan.score(x3), lead)

    def log_prob(self, x):
        """log p(x) = sum of the parts' log-densities.

        Parameters
        ----------
        x : dict of str -> array_like
            Each part's samples, (*sample_shape, *batch_shape, *its event_shape).

        Returns
        -------
        ndarray of shape (*sample_shape, *batch_shape)
            One log-density per joint sample.

        Raises
        ------
        TypeError
            Where ``x`` is not a dict with the parts' names as keys.
        ValueError
            Where a part's samples have the wrong shape.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.Joint({"a": fs.Normal(0.0, 1.0), "b": fs.Exponential(1.0)})
        >>> bool(np.isclose(d.log_prob({"a": 0.0, "b": 1.0}),
        ...                 fs.Normal(0.0, 1.0).log_prob(0.0) - 1.0))
        True
        """
        self.plan().layout.to_kernel(x)   # the keys and shapes, checked
        return sum(p.log_prob(x[nm]) for nm, p in self.parts.items())

    def entropy(self, grad=False):
        """The sum of the parts' entropies (shape batch_shape).

        Parameters
        ----------
        grad : bool, default False
            Also return the gradients, nested by part.

        Returns
        -------
        value : numpy.float64 or ndarray of shape batch_shape
            The entropy.
        grads : dict
            With ``grad=True`` only, which returns ``(value, grads)``:
            ``{part: {parameter: gradient}}``.

        Raises
        ------
        NotImplementedError
            For a part without a closed-form entropy.

        Examples
        --------
        >>> import fastscore as fs
        >>> h, g = fs.Joint({"a": fs.Exponential(1.0), "b": fs.Exponential(1.0)}).entropy(True)
        >>> float(h), sorted(g)
        (2.0, ['a', 'b'])
        """
        outs = {nm: p.entropy(grad=grad) for nm, p in self.parts.items()}
        if not grad:
            return sum(outs.values())
        return sum(o[0] for o in outs.values()), {nm: o[1] for nm, o in outs.items()}

    def fisher(self):
        """The Fisher information of the joint, shape batch_shape + (P, P).

        The parts are independent, so it is block-diagonal over them: each part's
        ``fisher()`` in turn, in the order of the parts and of ``est.grad``'s
        components (each part's parameters in order, each flattened in C order).

        Examples
        --------
        >>> import fastscore as fs
        >>> d = fs.Joint({"a": fs.Normal(0.0, 1.0), "b": fs.Poisson(2.0)})
        >>> d.fisher()
        array([[1. , 0. , 0. ],
               [0. , 2. , 0. ],
               [0. , 0. , 0.5]])
        """
        blocks = [np.asarray(p.fisher()) for p in self.parts.values()]
        P = sum(b.shape[-1] for b in blocks)
        out = np.zeros(tuple(self.batch_shape) + (P, P))
        j = 0
        for b in blocks:
            k = b.shape[-1]
            out[..., j:j + k, j:j + k] = b
            j += k
        return out

    def _second_order(self):
        # order=2: the parts' pieces, block-diagonal (the score estimator only)
        from ._hessian import _JointParts

        return _JointParts(self, {nm: d._second_order() for nm, d in self._parts().items()})


class TransformedDistribution(_Wrapper):
    """y = T(x), x ~ base, T a fixed elementwise bijection (torch's
    TransformedDistribution; ``transforms`` one transform or a list applied
    left to right, from fastscore.transforms).

    The gradient is taken in the base's parameters: the score of y is the
    base's score at the pre-image x = T^-1(y); the pathwise estimator goes
    through T' (f(T(x)) differentiated by the chain rule); ``log_prob`` adds
    -log |T'(x)|, computed stably (TanhTransform near +-1).  ``fs.sample``
    returns transformed values, and f sees them.  fs.estimate works on the
    base's samples x and never inverts T, so a tanh that rounds to +-1 costs
    nothing there; ``fs.score`` and ``log_prob`` of a given y must invert it.
    The base must be continuous.  There is no closed-form entropy in general
    (the tanh-Gaussian has none): ``entropy()`` raises.

    The tanh-squashed Gaussian policy of SAC is
    ``TransformedDistribution(Independent(Normal(mu, sigma), 1), [TanhTransform()])``.

    Parameters
    ----------
    base_distribution : Distribution
        A continuous fastscore distribution (an Independent too; not a Joint).
    transforms : Transform or list of Transform
        From :mod:`fastscore.transforms`, applied left to right.

    Raises
    ------
    TypeError
        Where the base is not a fastscore distribution or is a Joint, or a
        transform is not a :class:`fastscore.transforms.Transform`.
    ValueError
        Where the base is integer-valued, or a transform's parameters do not
        broadcast to the samples.

    Examples
    --------
    >>> import numpy as np, fastscore as fs
    >>> d = fs.TransformedDistribution(fs.Normal(0.0, 1.0), fs.transforms.ExpTransform())
    >>> est = fs.estimate(d, lambda y: y, n=400_000, rng=0)   # E[y] = exp(loc + scale^2 / 2)
    >>> bool(abs(est.value - np.exp(0.5)) < 4 * est.value_stderr)
    True
    >>> bool(np.isclose(d.log_prob(1.0), fs.LogNormal(0.0, 1.0).log_prob(1.0)))
    True
    """

    def __init__(self, base_distribution, transforms):
        if not isinstance(base_distribution, Distribution):
            raise TypeError("TransformedDistribution: base_distribution must be a fastscore "
                            "distribution, got %s" % type(base_distribution).__name__)
        if isinstance(base_distribution, Joint):
            raise TypeError("TransformedDistribution: transform a Joint's parts instead")
        if base_distribution.integer_valued:
            raise ValueError("TransformedDistribution: the base must be continuous; %r is "
                             "integer-valued" % (base_distribution,))
        if isinstance(transforms, Transform):
            transforms = [transforms]
        try:
            transforms = list(transforms)
        except TypeError:
            raise TypeError("TransformedDistribution: transforms must be a transform or a list "
                            "of them, got %r" % (transforms,)) from None
        self.base_dist = base_distribution
        self.transforms = transforms
        self.transform = ComposeTransform(transforms)
        self.batch_shape = tuple(base_distribution.batch_shape)
        self.event_shape = tuple(base_distribution.event_shape)
        self.transform.check(self.batch_shape + self.event_shape)
        self.integer_valued = False
        self.relaxed = base_distribution.relaxed
        super().__init__()

    def _parts(self):
        return {"base": self.base_dist}

    def _wrap(self, plan_of):
        return _wrapped.TransformedPlan(self.__repr__, plan_of(self.base_dist), self.transform)

    def __repr__(self):
        return "TransformedDistribution(%r, %r)" % (self.base_dist, self.transforms)

    def log_prob(self, y):
        """log p(y) = log p_base(T^-1(y)) - log |T'(T^-1(y))|, summed over the event.

        Parameters
        ----------
        y : array_like of shape (*sample_shape, *batch_shape, *event_shape)
            Points of T's image.

        Returns
        -------
        ndarray of shape (*sample_shape, *batch_shape)
            One log-density per sample.

        Raises
        ------
        ValueError
            Where ``y`` has the wrong shape or lies outside T's image.

        Examples
        --------
        >>> import numpy as np, fastscore as fs
        >>> d = fs.TransformedDistribution(fs.Normal(0.0, 1.0), fs.transforms.ExpTransform())
        >>> bool(np.isclose(d.log_prob(2.0), fs.LogNormal(0.0, 1.0).log_prob(2.0)))
        True
        """
        plan = self.plan()
        y3, lead = plan.layout.to_kernel(y)
        plan.check_support(y3)
        x3 = plan.inverse(y3)
        shape = tuple(lead) + self.batch_shape + self.event_shape
        x = x3.reshape(shape)
        ladj = np.asarray(self.transform.log_abs_det_jacobian(x), dtype=np.float64)
        ne = len(self.event_shape)
        if ne:
            ladj = ladj.sum(axis=tuple(range(ladj.ndim - ne, ladj.ndim)))
        return self.base_dist.log_prob(x) - ladj

    def entropy(self, grad=False):
        """Not available: no closed-form entropy in general (the tanh-Gaussian has none).

        Parameters
        ----------
        grad : bool, default False
            As in :meth:`fastscore.Distribution.entropy`.

        Returns
        -------
        None
            It always raises.

        Raises
        ------
        NotImplementedError
            Always; estimate -E[log p(y)] with ``fs.estimate(d, lambda y:
            -d.log_prob(y), ...)`` instead.

        Examples
        --------
        >>> import fastscore as fs
        >>> d = fs.TransformedDistribution(fs.Normal(0.0, 1.0), fs.transforms.TanhTransform())
        >>> d.entropy()
        Traceback (most recent call last):
        ...
        NotImplementedError: TransformedDistribution has no closed-form entropy ...
        """
        raise NotImplementedError("TransformedDistribution has no closed-form entropy in "
                                  "general (the tanh-squashed Gaussian has none); estimate "
                                  "-E[log p(y)] with fs.estimate(d, lambda y: -d.log_prob(y), "
                                  "...) instead")

    def fisher(self):
        """The base's Fisher information (shape batch_shape + (P, P)): a fixed
        bijection of the samples leaves the Fisher information in the base's
        parameters unchanged (the score of y is the base's score at T^-1(y)).

        Examples
        --------
        >>> import fastscore as fs
        >>> d = fs.TransformedDistribution(fs.Normal(0.0, 2.0), fs.transforms.ExpTransform())
        >>> d.fisher()
        array([[0.25, 0.  ],
               [0.  , 0.5 ]])
        """
        return self.base_dist.fisher()

    def _second_order(self):
        # order=2: the base's pieces at x = T^-1(y)
        from ._hessian import _Transformed

        return _Transformed(self, self.base_dist._second_order())


def replicate(dist, k):
    """``dist`` with a new batch axis of ``k`` identical copies, after its batch axes
    (an Independent's copies sit before its event): k independent draws per batch
    element, each copy drawing from its own streams.  For the multi-sample objectives
    (VIMCO).  Families and Independent only."""
    if isinstance(dist, Independent):
        return Independent(_replicate_at(dist.base_dist, k, len(dist.batch_shape)),
                           dist.reinterpreted_batch_ndims)
    if isinstance(dist, _Wrapper):
        raise NotImplementedError("%s: multi-sample objectives take a family or an "
                                  "Independent of one" % type(dist).__name__)
    return _replicate_at(dist, k, len(dist.batch_shape))


def _replicate_at(dist, k, axis):
    events = {nm: tuple(ev) for nm, ev, _ in dist._param_slots()}
    batch = tuple(dist.batch_shape)
    kw = {}
    for nm, a in list(dist._fixed.items()) + list(dist._differentiable.items()):
        full = np.broadcast_to(a, batch + events.get(nm, ()))
        kw[nm] = np.repeat(np.expand_dims(full, axis), k, axis=axis)
    return type(dist)(**kw, validate_args=dist.validate_args)
