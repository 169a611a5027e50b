"""Benchmark workloads and the variants compared on each (shared by the
pytest-benchmark suite and report.py).

A variant is a zero-argument callable doing one whole estimate.  Every
variant of a workload draws the same number of samples.
"""

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np
from scipy import LowLevelCallable

import fastscore as fs
from fastscore._bench import floor_fn as floor  # the sampling floor, shared with the CLI

L3 = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]])

#: name -> (distribution, built-in f, numpy f on samples (m, *event))
FAMILIES = {
    "Normal": (lambda: fs.Normal(0.5, 1.5), lambda: fs.fn.power(2), lambda x: x * x),
    "LogNormal": (lambda: fs.LogNormal(0.0, 0.5), lambda: fs.fn.call(1.0),
                  lambda x: np.maximum(x - 1.0, 0.0)),
    "Exponential": (lambda: fs.Exponential(1.5), lambda: fs.fn.power(2), lambda x: x * x),
    "Gamma": (lambda: fs.Gamma(2.5, 1.5), lambda: fs.fn.power(2), lambda x: x * x),
    "Beta": (lambda: fs.Beta(2.0, 3.0), lambda: fs.fn.power(2), lambda x: x * x),
    "Chi2": (lambda: fs.Chi2(3.0), lambda: fs.fn.power(2), lambda x: x * x),
    "VonMises": (lambda: fs.VonMises(0.3, 2.0), lambda: fs.fn.power(2), lambda x: x * x),
    "Poisson": (lambda: fs.Poisson(3.0), lambda: fs.fn.power(2), lambda x: x * x),
    "Bernoulli": (lambda: fs.Bernoulli(logits=0.3), lambda: fs.fn.table([0.2, 1.0]),
                  lambda x: np.where(x == 1, 1.0, 0.2)),
    "Categorical": (lambda: fs.Categorical(logits=np.linspace(-1, 1, 8)),
                    lambda: fs.fn.table(np.arange(8.0)), lambda x: x.astype(float)),
    "Binomial": (lambda: fs.Binomial(10, probs=0.3), lambda: fs.fn.power(2), lambda x: x * x),
    "Geometric": (lambda: fs.Geometric(probs=0.3), lambda: fs.fn.power(2), lambda x: x * x),
    "NegativeBinomial": (lambda: fs.NegativeBinomial(3.0, probs=0.4), lambda: fs.fn.power(2),
                         lambda x: x * x),
    "Dirichlet": (lambda: fs.Dirichlet([1.0, 2.0, 3.0]), lambda: fs.fn.linear([1.0, 0.0, 0.0]),
                  lambda x: x[..., 0]),
    "MultivariateNormal": (lambda: fs.MultivariateNormal(np.zeros(3), L3),
                           lambda: fs.fn.linear(1.0), lambda x: x.sum(axis=-1)),
}


#: fs.sample against numpy: (name, distribution, Generator method, its arguments,
#: the speed-up goal over numpy's draws of the same values or None)
SAMPLING = [
    ("Normal(0, 1)", lambda: fs.Normal(0.0, 1.0), "normal", (0.0, 1.0), 2.0),
    ("Exponential(1)", lambda: fs.Exponential(1.0), "exponential", (1.0,), 1.2),
    ("Gamma(2.5, 1)", lambda: fs.Gamma(2.5, 1.0), "gamma", (2.5, 1.0), 1.4),
    ("Gamma(0.5, 1)", lambda: fs.Gamma(0.5, 1.0), "gamma", (0.5, 1.0), None),
    ("LogNormal(0, 0.5)", lambda: fs.LogNormal(0.0, 0.5), "lognormal", (0.0, 0.5), None),
    ("Beta(2, 3)", lambda: fs.Beta(2.0, 3.0), "beta", (2.0, 3.0), None),
    ("Poisson(3)", lambda: fs.Poisson(3.0), "poisson", (3.0,), None),
    ("Poisson(30)", lambda: fs.Poisson(30.0), "poisson", (30.0,), None),
]


def _philox(key, counter):
    return np.random.Philox(key=np.array(key, dtype=np.uint64),
                            counter=np.array(counter, dtype=np.uint64))


def numpy_on_streams(method, args, n, rng=0):
    """numpy's Generator(Philox) drawing fs.sample's values: chunk c on counter [0, 0, c, 0]."""
    from fastscore._rng import key_from_rng
    key, C = key_from_rng(rng), fs.CHUNK_SIZE

    def run():
        out = np.empty(n)
        for c in range(-(-n // C)):
            gen = np.random.Generator(_philox(key, [0, 0, c, 0]))
            out[c * C:(c + 1) * C] = getattr(gen, method)(*args, size=min(C, n - c * C))
        return out
    return run


def numpy_one_stream(method, args, n, rng=0):
    """numpy's Generator(Philox) drawing n values from one stream in one call."""
    from fastscore._rng import key_from_rng
    key = key_from_rng(rng)
    return lambda: getattr(np.random.Generator(_philox(key, [0, 0, 0, 0])), method)(*args,
                                                                                     size=n)


def numpy_one_liner(dist, f_np, n):
    """What a NumPy user writes: draw with default_rng, vectorised score, mean."""
    plan = dist.plan()

    def run():
        x = plan.draw(np.random.default_rng(0), 0, n)              # (n, E)
        x3 = x[:, None, :]
        s = plan.score(x3)[:, 0, :]                                # (n, P)
        fx = f_np(x if dist.event_size > 1 else x[:, 0])
        return (fx[:, None] * s).mean(axis=0)
    return run


_LL = {}


def lowlevel_square():
    """f(x) = x*x as a C function: numba cfunc if installed, else compiled with cc."""
    if "f" in _LL:
        return _LL["f"]
    try:
        import numba

        @numba.cfunc("float64(float64)", nopython=True, cache=False)
        def sq(x):
            return x * x

        _LL["f"] = LowLevelCallable(sq.ctypes)
        _LL["kind"] = "numba cfunc"
        return _LL["f"]
    except ImportError:
        pass
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    tmp = tempfile.mkdtemp(prefix="fastscore-bench-")
    src = os.path.join(tmp, "sq.c")
    lib = os.path.join(tmp, "sq.so")
    with open(src, "w") as fh:
        fh.write("double sq(double x) { return x * x; }\n")
    subprocess.run([cc, "-O2", "-shared", "-fPIC", src, "-o", lib], check=True)
    so = ctypes.CDLL(lib)
    so.sq.restype = ctypes.c_double
    so.sq.argtypes = [ctypes.c_double]
    _LL["so"] = so
    _LL["f"] = LowLevelCallable(ctypes.cast(so.sq, ctypes.CFUNCTYPE(ctypes.c_double,
                                                                    ctypes.c_double)))
    _LL["kind"] = "C via ctypes"
    return _LL["f"]


def jax_variant(n):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    jax.config.update("jax_enable_x64", True)  # float64, as fastscore computes

    @jax.jit
    def grad_est(key, loc, scale):
        x = loc + scale * jax.random.normal(key, (n,), dtype=jnp.float64)
        z = (x - loc) / scale
        fx = x * x
        return jnp.mean(fx * z / scale), jnp.mean(fx * (z * z - 1) / scale)

    key = jax.random.PRNGKey(0)
    return lambda: [v.block_until_ready() for v in grad_est(key, 0.5, 1.5)]


def torch_variant(n):
    try:
        import torch
    except ImportError:
        return None
    loc = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)

    def run():
        d = torch.distributions.Normal(loc, scale)
        x = d.sample((n,))
        lp = d.log_prob(x)
        (x * x * lp).mean().backward()
        loc.grad = None
        scale.grad = None
    return run


def family_variants(name, n, n_threads=1, with_reference=None):
    """{variant: callable} for one family at n samples."""
    make_d, make_f, f_np = FAMILIES[name]
    d, f = make_d(), make_f()
    out = {
        "floor": floor(d, n, n_threads),
        "fused built-in f": lambda: fs.estimate(d, f, n, rng=0, n_threads=n_threads),
        "fused Python f": lambda: fs.estimate(d, lambda x: f_np(x), n, rng=0,
                                              n_threads=n_threads),
        "NumPy one-liner": numpy_one_liner(d, f_np, n),
    }
    if d.event_size == 1 and not d.finite_support:
        ll = lowlevel_square()
        if ll is not None:
            out["fused low-level f"] = lambda: fs.estimate(d, ll, n, rng=0, n_threads=n_threads)
    if with_reference if with_reference is not None else n <= 10 ** 5:
        out["reference backend"] = lambda: fs.estimate(d, f, n, rng=0, backend="reference")
    if name == "Normal":
        for label, make in (("JAX jit", jax_variant), ("PyTorch", torch_variant)):
            v = make(n)
            if v is not None:
                out[label] = v
    return out


#: Estimator comparisons: name -> (distribution, f, f' for a Python f, estimators)
ESTIMATOR_CASES = {
    "Normal": (lambda: fs.Normal(0.5, 1.5), lambda: fs.fn.power(2),
               ("score", "pathwise", "measure")),
    "LogNormal": (lambda: fs.LogNormal(0.0, 0.5), lambda: fs.fn.call(1.0),
                  ("score", "pathwise", "measure")),
    "Exponential": (lambda: fs.Exponential(1.5), lambda: fs.fn.power(2),
                    ("score", "pathwise", "measure")),
    "Gamma": (lambda: fs.Gamma(2.5, 1.5), lambda: fs.fn.power(2), ("score", "pathwise")),
    "Beta": (lambda: fs.Beta(2.0, 3.0), lambda: fs.fn.power(2), ("score", "pathwise")),
    "MultivariateNormal": (lambda: fs.MultivariateNormal(np.zeros(3), L3),
                           lambda: fs.fn.linear(1.0), ("score", "pathwise")),
    "Poisson": (lambda: fs.Poisson(3.0), lambda: fs.fn.power(2), ("score", "measure")),
    "Geometric": (lambda: fs.Geometric(probs=0.3), lambda: fs.fn.power(2),
                  ("score", "measure")),
    "Binomial": (lambda: fs.Binomial(3000, probs=0.3), lambda: fs.fn.power(2),
                 ("score", "measure")),
}


def estimator_variants(name, n, n_threads=1):
    """{label: callable}: each estimator of a family and the floor of its draws."""
    make_d, make_f, estimators = ESTIMATOR_CASES[name]
    d, f = make_d(), make_f()
    out = {"floor": floor(d, n, n_threads)}
    for est in estimators:
        out[est] = (lambda est=est: fs.estimate(d, f, n, rng=0, estimator=est,
                                                n_threads=n_threads))
        if est == "measure":
            out["measure floor"] = floor(d, n, n_threads, estimator="measure")
    return out


def rl_workload(B=10 ** 5, K=8, n=8, n_threads=1):
    """Batched policy gradient: Categorical logits (B, K), n samples per row, rloo."""
    g = np.random.default_rng(0)
    d = fs.Categorical(logits=g.normal(size=(B, K)))
    rewards = fs.fn.table(g.normal(size=(B, K)))
    return {
        "floor": floor(d, n, n_threads),
        "fused rloo": lambda: fs.estimate(d, rewards, n, rng=0, method="rloo",
                                          n_threads=n_threads),
    }


def overhead_call():
    d = fs.Normal(0.0, 1.0)
    f = fs.fn.power(2)
    return lambda: fs.estimate(d, f, 100, rng=0, n_threads=1)


def joint_variants(D, n, n_threads=1):
    """Independent(Normal) of D coordinates with the built-in linear f of the whole
    event, against the scalar Normal of D batch elements with its own linear f: the
    same D n draws.  Their ratio is the cost of one joint f per sample (O(D) goal:
    at most 1.5x)."""
    loc = np.linspace(-1.0, 1.0, D)
    joint = fs.Independent(fs.Normal(loc, 1.5), 1)
    scalar = fs.Normal(loc, 1.5)
    return {
        "Independent, built-in linear": lambda: fs.estimate(
            joint, fs.fn.linear(1.0), n, rng=0, n_threads=n_threads),
        "Independent, Python sum": lambda: fs.estimate(
            joint, lambda x: x.sum(axis=-1), n, rng=0, n_threads=n_threads),
        "scalar Normal, built-in linear": lambda: fs.estimate(
            scalar, fs.fn.linear(1.0), n, rng=0, n_threads=n_threads),
    }


#: order=2 against order=1 (issue 27): name -> (distribution, f, the estimate's options)
#: for P = 2 (Normal) and P = 9 (MultivariateNormal, D = 3), the score function (rloo) and
#: the pathwise / mixed estimators; the Hessian is a second pass in NumPy.
SECOND_ORDER_CASES = {
    "Normal (P = 2), score rloo": (lambda: fs.Normal(0.5, 1.5), lambda: fs.fn.power(3),
                                   {"method": "rloo"}),
    "Normal (P = 2), pathwise": (lambda: fs.Normal(0.5, 1.5), lambda: fs.fn.power(3),
                                 {"estimator": "pathwise"}),
    "MultivariateNormal (P = 9), score rloo": (
        lambda: fs.MultivariateNormal(np.zeros(3), L3), lambda: fs.fn.linear([1.0, 0.5, -0.3]),
        {"method": "rloo"}),
    "MultivariateNormal (P = 9), mixed": (
        lambda: fs.MultivariateNormal(np.zeros(3), L3), lambda: fs.fn.linear([1.0, 0.5, -0.3]),
        {"estimator": "mixed"}),
}


def second_order_variants(name, n, n_threads=1):
    """The same estimate with order=1 and order=2 (the same samples): their ratio is the
    cost of the Hessian."""
    make_d, make_f, kw = SECOND_ORDER_CASES[name]
    d, f = make_d(), make_f()
    first = {k: ("pathwise" if v == "mixed" else v) for k, v in kw.items()}
    return {
        "order=1": lambda: fs.estimate(d, f, n, rng=0, n_threads=n_threads, **first),
        "order=2": lambda: fs.estimate(d, f, n, rng=0, n_threads=n_threads, order=2, **kw),
    }
