"""A table of estimates pinned from an earlier version, to prove a change keeps every bit.

``python tests/pinned.py --write`` recomputes the table with the installed
fastscore and writes ``tests/data/pinned.json``; test_pinned.py recomputes
each case and requires every number to be *equal* (floats stored as hex).
Rewrite the table only for a change of results that is intended and
explained in its commit.

Cases: every family of cases.py (batch of 2) x method (plain, baseline,
rloo, cv) x f kind (built-in, Python, LowLevelCallable) x backend, on two
chunks (so chunk merges are pinned too); the other estimator kinds
(pathwise, measure, concrete, rebar, arm, disarm) with the built-in f on
every family that takes them, both backends; precision-target runs; samples
and scores of every family (as SHA-256 of their bytes); estimate_from_samples.
"""

import ctypes
import hashlib
import json
import math
import os
import sys

import numpy as np
from scipy import LowLevelCallable

import fastscore as fs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "pinned.json")
#: The families (of cases.py) the table pins: those of version 0.1.0.
PINNED_NAMES = [
    "Normal", "LogNormal", "Exponential", "Gamma", "Beta", "Chi2", "VonMises", "Poisson",
    "Bernoulli(probs)", "Bernoulli(logits)", "Categorical(probs)", "Categorical(logits)",
    "Binomial(probs)", "Binomial(logits)", "Binomial(large)", "Geometric(probs)",
    "Geometric(logits)", "NegativeBinomial(probs)", "NegativeBinomial(logits)", "Dirichlet",
    "MultivariateNormal", "Laplace", "RelaxedBernoulli(logits)", "RelaxedCategorical(logits)",
]
N = fs.CHUNK_SIZE + 77
METHODS = ("plain", "baseline", "rloo", "cv")
KINDS = ("builtin", "python", "lowlevel")
BACKENDS = ("compiled", "reference")

_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)


def _vector_f(p, e, b, u):
    acc = 0.0
    for k in range(e):
        acc += math.sin(p[k] * (k + 1))
    return acc + 0.25 * b


VECTOR_CB = _VECTOR(_vector_f)


def make_f(kind, d):
    if kind == "builtin":
        return cases.builtin_f(d)
    if kind == "python":
        return cases.python_f(d)
    return LowLevelCallable(VECTOR_CB)


def _hex(a):
    return [float(v).hex() for v in np.ravel(np.asarray(a, dtype=np.float64))]


def _record(est):
    return {"n": int(est.n), "value": _hex(est.value), "value_stderr": _hex(est.value_stderr),
            "grad": {k: _hex(v) for k, v in est.grad.items()},
            "stderr": {k: _hex(v) for k, v in est.stderr.items()}}


def _digest(a):
    a = np.ascontiguousarray(a)
    return "%s %s %s" % (a.dtype.str, a.shape, hashlib.sha256(a.tobytes()).hexdigest())


def estimate_cases():
    """(case id, thunk computing its record)."""
    out = []
    for name in PINNED_NAMES:
        for kind in KINDS:
            for backend in BACKENDS:
                for method in METHODS:
                    def thunk(name=name, kind=kind, backend=backend, method=method):
                        d = cases.make(name, batch=True)
                        base = 0.3 if method == "baseline" else None
                        return _record(fs.estimate(d, make_f(kind, d), N, rng=11, method=method,
                                                   baseline=base, backend=backend))
                    out.append(("estimate %s %s %s %s" % (name, kind, backend, method), thunk))
        for backend in BACKENDS:
            def target(name=name, backend=backend):
                d = cases.make(name, batch=True)
                return _record(fs.estimate(d, cases.builtin_f(d), 5000, rng=12, method="cv",
                                           rtol=0.03, max_n=4 * fs.CHUNK_SIZE, backend=backend))
            out.append(("target %s %s" % (name, backend), target))

        def samples(name=name):
            d = cases.make(name, batch=True)
            x = fs.sample(d, N, rng=13)
            s = fs.score(d, x)
            rec = {"sample": _digest(x)}
            rec.update({"score %s" % k: _digest(v) for k, v in s.items()})
            fx = np.asarray(cases.python_f(d)(x), dtype=np.float64)
            for method in ("plain", "rloo", "cv"):
                rec["from_samples " + method] = _record(
                    fs.estimate_from_samples(d, x, fx, method=method))
            return rec
        out.append(("samples %s" % name, samples))
    return out + kind_cases()


#: The estimator kinds beside the score function, with their options.
OTHER_KINDS = {"pathwise": {}, "measure": {}, "concrete": {"temperature": 0.5}, "rebar": {},
               "arm": {}, "disarm": {}, "indecater": {}, "vimco": {"num_draws": 3}}


def _takes(name, estimator):
    """Whether family ``name`` takes ``estimator`` (a tiny run on the reference backend)."""
    import warnings
    d = cases.make(name, batch=True)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fs.estimate(d, cases.builtin_f(d), 2, rng=0, estimator=estimator,
                        backend="reference", **OTHER_KINDS[estimator])
    except (NotImplementedError, ValueError, TypeError):
        return False
    return True


def kind_cases():
    """(case id, thunk) of the other estimator kinds on every family that takes them."""
    out = []
    for name in PINNED_NAMES:
        for estimator, opts in OTHER_KINDS.items():
            if not _takes(name, estimator):
                continue
            for backend in BACKENDS:
                def thunk(name=name, estimator=estimator, opts=opts, backend=backend):
                    d = cases.make(name, batch=True)
                    rec = _record(fs.estimate(d, cases.builtin_f(d), N, rng=11,
                                              estimator=estimator, backend=backend, **opts))
                    return rec
                out.append(("kind %s %s %s" % (estimator, name, backend), thunk))
    return out


def load():
    with open(PATH, encoding="utf-8") as fh:
        return json.load(fh)


def main():
    if "--write" not in sys.argv:
        print(__doc__)
        return 2
    table = {}
    for cid, thunk in estimate_cases():
        with np.errstate(all="ignore"):
            table[cid] = thunk()
    table["_version"] = fs.__version__
    with open(PATH, "w", encoding="utf-8") as fh:
        json.dump(table, fh, indent=0, sort_keys=True)
        fh.write("\n")
    print("wrote %d cases to %s" % (len(table) - 1, PATH))
    return 0


if __name__ == "__main__":
    sys.exit(main())
