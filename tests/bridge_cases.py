"""Cases shared by tests/test_torch.py and tests/test_jax.py: every estimator kind, on its
family alone and through the joint distributions the bridges build (an Independent by
``reinterpreted_batch_ndims=1``, a TransformedDistribution by ``transforms=``, a Joint by
a dict family), as fs.estimate's distribution and as the bridge's arguments.

Nothing here imports torch or JAX: ``conv`` turns a NumPy parameter into the
framework's array.
"""

import numpy as np

import fastscore as fs

N2 = {"loc": np.array([0.3, -0.2]), "scale": np.array([1.0, 0.7])}
B2 = {"logits": np.array([0.3, -0.2])}

#: estimator -> (family, parameters, options)
ESTIMATORS = {
    "score": ("Normal", N2, {"method": "rloo"}),
    "pathwise": ("Normal", N2, {}),
    "measure": ("Normal", N2, {}),
    "concrete": ("Bernoulli", B2, {"temperature": 0.5}),
    "rebar": ("Bernoulli", B2, {}),
    "arm": ("Bernoulli", B2, {}),
    "disarm": ("Bernoulli", B2, {}),
    "indecater": ("Categorical", {"logits": np.array([[0.3, -0.2, 0.1], [0.0, 0.5, -1.0]])},
                  {}),
    "vimco": ("Normal", N2, {"num_draws": 3}),
}
WRAPS = ("plain", "independent", "transformed", "joint")
NEEDS_GRAD = ("pathwise", "concrete", "rebar")
AFFINE = fs.transforms.AffineTransform(1.0, 2.0)


def make_f(dist):
    """A smooth f of dist's samples (a Joint's dict too): sin summed over the event."""
    if isinstance(dist, fs.Joint):
        fs_ = {nm: make_f(p) for nm, p in dist.parts.items()}
        return lambda x: sum(fs_[nm](x[nm]) for nm in fs_)
    k = len(dist.event_shape)

    def f(x):
        x = np.asarray(x, dtype=np.float64)
        return np.sin(x).sum(axis=tuple(range(x.ndim - k, x.ndim))) if k else np.sin(x)
    return f


def grad_f(x):
    """f' of make_f's f (a Joint's: a dict)."""
    if isinstance(x, dict):
        return {k: np.cos(np.asarray(v, dtype=np.float64)) for k, v in x.items()}
    return np.cos(np.asarray(x, dtype=np.float64))


def build(estimator, wrap, conv):
    """(family, bridge kwargs, fs distribution, f, estimate options) of a case; the
    distribution is the exception fastscore raises where it refuses to build it
    (a TransformedDistribution of a discrete family), and f then None."""
    fam, params, options = ESTIMATORS[estimator]
    options = dict(options, estimator=estimator)
    base = getattr(fs, fam)(**params)
    given = {k: conv(v) for k, v in params.items()}
    family = fam
    if wrap == "plain":
        dist, kwargs = base, given
    elif wrap == "independent":
        dist, kwargs = fs.Independent(base, 1), dict(given, reinterpreted_batch_ndims=1)
    elif wrap == "transformed":
        kwargs = dict(given, transforms=[AFFINE])
        try:
            dist = fs.TransformedDistribution(base, [AFFINE])
        except (ValueError, TypeError) as exc:
            return family, kwargs, exc, None, options
    else:
        family = {"a": fam, "b": "Normal"}
        dist = fs.Joint({"a": fs.Independent(base, 1), "b": fs.Normal(0.5, 1.0)})
        kwargs = {"a": dict(given, reinterpreted_batch_ndims=1),
                  "b": {"loc": conv(np.array(0.5)), "scale": 1.0}}
    if estimator in NEEDS_GRAD:
        options["grad_f"] = grad_f
    return family, kwargs, dist, make_f(dist), options


def flat(kwargs, is_array):
    """{flat name: array} of the framework arrays among the bridge kwargs ("a.loc" for a
    Joint's part)."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, dict):
            out.update(("%s.%s" % (k, p), t) for p, t in v.items() if is_array(t))
        elif is_array(v):
            out[k] = v
    return out


def lookup(tree, name):
    """est.grad / est.stderr entry by flat name ("a.loc": tree["a"]["loc"])."""
    if name in tree:
        return tree[name]
    part, _, p = name.partition(".")
    return tree[part][p]


def expected_stderr(est, names):
    """What the bridge's stderr dict holds for ``est``: "value" and every parameter."""
    out = {"value": np.asarray(est.value_stderr)}
    out.update((k, np.asarray(lookup(est.stderr, k))) for k in names)
    return out


def param_names(dist):
    """The flat names of every parameter fastscore takes a gradient for."""
    if isinstance(dist, fs.Joint):
        return ["%s.%s" % (nm, p) for nm, d in dist.parts.items() for p in d.param_names]
    return list(dist.param_names)
