"""A small workload for .ci/valgrind_check.sh: every family, f kind and backend."""

import ctypes

import numpy as np
from scipy import LowLevelCallable

import fastscore as fs

cb = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(lambda v: v * v)
ll = LowLevelCallable(cb)
L = np.array([[1.0, 0.0], [0.4, 0.9]])
cases = [
    (fs.Normal([0.0, 1.0], 2.0), fs.fn.power(2)),
    (fs.Gamma(2.0, [1.0, 3.0]), fs.fn.call(1.0)),
    (fs.Poisson(3.0), ll),
    (fs.Bernoulli(logits=[0.2, -1.0]), fs.fn.table([1.0, 2.0])),
    (fs.Categorical(probs=[[1.0, 2.0, 0.0]]), fs.fn.table([[1.0, 2.0, 3.0]])),
    (fs.Binomial(3000, probs=0.2), fs.fn.indicator(500, 700)),
    (fs.Dirichlet([1.0, 2.0, 3.0]), fs.fn.linear([1.0, 0.0, 2.0])),
    (fs.MultivariateNormal(np.zeros(2), L), lambda x: x[..., 0] * x[..., 1]),
    (fs.LogNormal([0.0, 0.5], 0.5), fs.fn.put(1.2)),
    (fs.Exponential(1.5), fs.fn.power(2)),
    (fs.Beta(2.0, [3.0, 0.5]), fs.fn.indicator(0.2, 0.6)),
    (fs.Chi2(3.0), ll),
    (fs.VonMises(0.3, 2.0), fs.fn.power(1)),
    (fs.Geometric(probs=[0.3, 1.0]), fs.fn.power(2)),
    (fs.NegativeBinomial(3.0, logits=0.4), fs.fn.power(1)),
    (fs.Binomial(5, probs=[0.0, 0.5, 1.0]), lambda x: x * 1.0),
]
for d, f in cases:
    for backend in ("compiled", "reference"):
        for method in ("plain", "rloo", "cv"):
            fs.estimate(d, f, 3 * fs.CHUNK_SIZE + 7, rng=1, method=method, n_threads=2,
                        backend=backend)
    fs.estimate(d, lambda x: np.ones(np.shape(x)[:1 + len(d.batch_shape)]), 5000, rng=2,
                n_threads=2)
    fs.sample(d, 1000, rng=3, n_threads=2)
fs.estimate(fs.Normal(1.0, 1.0), fs.fn.power(2), 10_000, rng=0, rtol=1e-2, max_n=10 ** 6)
print("valgrind driver done")
