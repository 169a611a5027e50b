"""A hypothesis fuzzer over fastscore's public API (issue 24's "Done when").

Each example builds a call of the public API from hostile pieces: a
distribution of any family (tests/cases.py), or an fs.Independent / fs.Joint /
fs.TransformedDistribution of one, with one or two parameters replaced by
NaN, inf, huge, tiny, zero, negative, empty, wrongly typed (strings, None,
complex, bool, object, float32, integer), wrongly shaped, ragged or
non-contiguous values; then an operation on it: fs.estimate (every estimator
kind and method, hostile f, n, baseline, options, cov=True), fs.sample,
fs.score, fs.estimate_from_samples, entropy, fisher or fs.kl.

The contract, per example:

* a clear error: ValueError, TypeError, OverflowError, NotImplementedError
  or KeyError whose message names what was wrong (the parameter, or f), the
  same exception type on both backends; or
* a finite answer (no NaN or inf under nan_policy="raise", but what is NaN
  by design: the standard errors of one sample, a measure-valued component
  without a weak derivative, which warns; KL's documented +inf) equal across
  the compiled and reference backends (to 1e-9 relative, and bit for bit for
  fs.sample, which promises it).

Anything else (another exception type, an unclear message, a NaN or inf
without an error, backends that disagree) is counted as "other" and
recorded.  A crash ends the process, so tests/test_fuzz.py runs this module
in a subprocess from a neutral folder.

Run ``python tests/fuzzing.py --examples N`` (bench/fuzz.py runs a longer
profile); it prints the counts, one JSON line last.
"""

import argparse
import json
import math
import os
import re
import sys
import time
import traceback
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.append(HERE)

import fastscore as fs  # noqa: E402
from cases import CASES  # noqa: E402

#: The exception types a clear error may have.
CLEAR = (ValueError, TypeError, OverflowError, NotImplementedError, KeyError)
#: Most samples per batch element an example draws (a bounded run).
N_MAX = 400

# ---------------------------------------------------------------- hostile values
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, 5e-324, 1e300, 1.7976931348623157e308,
           -1e300, 1e154, 1e-154, 1e17, 2.0 ** 53 + 1, -1.0, 0.5, 1.0, 2.0, 0.999999, 3.0, 40.0,
           -40.0, 710.0, -745.0]
WEIRD = ["1.0", None, 1 + 2j, True, [1.0, "a"], [[1.0], [2.0, 3.0]], object(),
         np.array([1.0, 2.0], dtype=object), b"x", {"a": 1}]


def _noncontiguous(a):
    """a as a strided view (every other entry of a larger array)."""
    a = np.asarray(a, dtype=np.float64)
    big = np.empty(a.shape[:-1] + (2 * a.shape[-1],) if a.ndim else (2,))
    if a.ndim == 0:
        big[0] = a
        return big[::2].reshape(())
    big[..., ::2] = a
    return big[..., ::2]


@st.composite
def hostile_value(draw, base):
    """A replacement for a parameter whose valid value is ``base``."""
    base = np.asarray(base, dtype=np.float64)
    kind = draw(st.sampled_from(["special", "special", "special", "entry", "weird", "dtype",
                                 "shape", "noncontig", "empty", "scaled"]))
    if kind == "special":
        return np.full(base.shape, draw(st.sampled_from(SPECIAL)))
    if kind == "entry":   # one entry hostile, the others valid
        out = base.copy().reshape(-1) if base.size else np.zeros(1)
        out[draw(st.integers(0, out.size - 1))] = draw(st.sampled_from(SPECIAL))
        return out.reshape(base.shape) if base.size else out
    if kind == "weird":
        return draw(st.sampled_from(WEIRD))
    if kind == "dtype":
        dt = draw(st.sampled_from([np.float32, np.int64, np.int8, np.uint8, np.float16, bool,
                                   np.complex128]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return base.astype(dt)
    if kind == "shape":
        shape = draw(st.sampled_from([(5,), (2, 3), (1, 1, 1), (4, 1), (7,), (0, 2)]))
        return np.resize(base if base.size else np.ones(1), shape)
    if kind == "noncontig":
        return _noncontiguous(base if base.ndim else base.reshape(1))
    if kind == "empty":
        return np.zeros((0,) + base.shape[1:]) if base.ndim else np.zeros(0)
    return base * draw(st.sampled_from([1e300, 1e-300, -1.0, 1e154, 1e-17]))


@st.composite
def distribution(draw, allow_hostile=True, case=None):
    """(description, constructor thunk, names an error may name, its case)."""
    case = case or draw(st.sampled_from(CASES))
    shape = draw(st.sampled_from([(), (2,), (3,), (2, 1)]))
    params = case.params(shape)
    names = set(params)
    mode = draw(st.sampled_from(["hostile"] * 7 + ["extreme"] * 5 + ["edge"] * 4
                                + ["plain"] * 4))
    if mode == "hostile" and allow_hostile:
        for name in draw(st.lists(st.sampled_from(sorted(params)), min_size=1, max_size=2,
                                  unique=True)):
            params[name] = draw(hostile_value(params[name]))
    elif mode == "extreme":   # valid values far from 1 (a scale of 1e-300, a loc of 1e300)
        name = draw(st.sampled_from(sorted(params)))
        v = np.asarray(params[name], dtype=np.float64)
        if name == "total_count":
            params[name] = np.full(v.shape, draw(st.sampled_from([0.0, 1.0, 2.0 ** 52, 1e6])))
        elif name in ("probs",):
            params[name] = np.clip(v * draw(st.sampled_from([1e-300, 1e-17, 1e-8, 0.0])),
                                   0.0, 1.0)
        else:
            params[name] = v * draw(st.sampled_from([1e-300, 1e-150, 1e-20, 1e20, 1e150, 1e300,
                                                     -1.0]))
    elif mode == "edge":   # valid, at an edge of the registry's elements
        params = case.params(shape, index=[draw(st.integers(0, len(case.elements) - 1))
                                           for _ in range(math.prod(shape))] or None) \
            if shape else dict(case.elements[draw(st.integers(0, len(case.elements) - 1))])
    desc = "%s(%s)" % (case.cls.__name__, ", ".join("%s=%s" % (k, _short(v))
                                                    for k, v in params.items()))

    def make():
        return case.cls(**params)

    return desc, make, names, case


def _short(v):
    text = repr(v)
    return text if len(text) < 120 else text[:117] + "..."


# ---------------------------------------------------------------- f, n and options
PYTHON_F = {
    "x": lambda d: (lambda x: _per_sample(d, x)),
    "huge": lambda d: (lambda x: 1e300 * _per_sample(d, x)),
    "const_huge": lambda d: (lambda x: np.full(_out_shape(d, x), 1e307)),
    "nan": lambda d: (lambda x: np.full(_out_shape(d, x), np.nan)),
    "inf_sometimes": lambda d: (lambda x: np.where(_per_sample(d, x) > 0.5, np.inf, 1.0)),
    "wrong_shape": lambda d: (lambda x: np.zeros(3)),
    "list": lambda d: (lambda x: _per_sample(d, x).tolist()),
    "int": lambda d: (lambda x: (_per_sample(d, x) > 0).astype(np.int64)),
    "float32": lambda d: (lambda x: _per_sample(d, x).astype(np.float32)),
    "complex": lambda d: (lambda x: _per_sample(d, x) + 0j),
    "strided": lambda d: (lambda x: np.repeat(_per_sample(d, x), 2, axis=0)[::2]),
    "scalar": lambda d: (lambda x: 1.0),
    "none": lambda d: (lambda x: None),
    "raises": lambda d: (lambda x: (_ for _ in ()).throw(ValueError("f raised: boom"))),
}


def _out_shape(d, x):
    return np.shape(x)[:1 + len(d.batch_shape)]


def _per_sample(d, x):
    """A float per sample: the sum over the event, of a Joint's parts too."""
    if isinstance(x, dict):
        return sum(_per_sample_part(v, d) for v in x.values())
    return _per_sample_part(x, d)


def _per_sample_part(x, d):
    x = np.asarray(x, dtype=np.float64)
    lead = 1 + len(d.batch_shape)
    return x.reshape(x.shape[:lead] + (-1,)).sum(axis=-1) if x.ndim > lead else x + 0.0


@st.composite
def an_f(draw, d):
    """(description, f, names an error may name)."""
    kind = draw(st.sampled_from(["builtin", "builtin", "python"]))
    if kind == "python":
        name = draw(st.sampled_from(sorted(PYTHON_F)))
        return "python:" + name, PYTHON_F[name](d), ["f", "boom"]
    which = draw(st.sampled_from(["power", "linear", "table", "indicator", "call", "put"]))
    good = draw(st.integers(0, 2)) > 0
    arg = lambda v: v if good else draw(st.one_of(  # noqa: E731
        st.sampled_from(SPECIAL), st.sampled_from(WEIRD)))
    try:
        if which == "power":
            f = fs.fn.power(arg(draw(st.sampled_from([0, 1, 2, 3]))))
        elif which == "linear":
            E = d.event_size if hasattr(d, "event_size") else 1
            a = draw(hostile_value(np.ones(E))) if not good else np.ones(E)
            big = draw(st.sampled_from([1.0, 1.0, 1e150, 1e160, 1e300, 2.0 ** 520, 1e-300]))
            f = fs.fn.linear(a if E > 1 or not good else big, arg(
                draw(st.sampled_from([0.5, 1e160, 1e307, -1e300]))))
        elif which == "table":
            vals = np.linspace(-1.0, 1.0, 64) * draw(st.sampled_from([1.0, 1.0, 1e160, 1e300]))
            f = fs.fn.table(vals if good else draw(hostile_value(vals)))
        elif which == "indicator":
            f = fs.fn.indicator(arg(0.0), arg(1.0))
        elif which == "call":
            f = fs.fn.call(arg(0.5))
        else:
            f = fs.fn.put(arg(0.5))
    except CLEAR as exc:   # the built-in refused its arguments: an outcome of its own
        return "fn.%s(...)" % which, exc, [which]
    return repr(f), f, [which, "f"]


N_VALUES = [1, 2, 3, 17, 100, N_MAX, 2.0, 2.5, -1, 0, True, "10", None, 2 ** 62, np.int64(5),
            1e2, np.nan, np.float32(7.0)]


# ---------------------------------------------------------------- outcomes
class Tally:
    """The counts: tried, clear error, finite and equal, anything else (recorded)."""

    def __init__(self):
        self.tried = self.clear = self.finite = 0
        self.other = []

    def as_dict(self):
        return {"tried": self.tried, "clear_error": self.clear, "finite_and_equal": self.finite,
                "other": len(self.other)}


TALLY = Tally()


def _run(thunk):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return "ok", thunk(), caught
        except Exception as exc:  # noqa: BLE001 - classified below
            return "err", exc, caught


def _flat(result):
    """The numbers of a result as {label: float64 array}."""
    out = {}

    def walk(label, v):
        if isinstance(v, fs.Estimate):
            walk(label + ".value", v.value)
            walk(label + ".value_stderr", v.value_stderr)
            walk(label + ".grad", v.grad)
            walk(label + ".stderr", v.stderr)
            if v.cov is not None:
                walk(label + ".cov", v.cov)
        elif isinstance(v, dict):
            for k in v:
                walk("%s[%r]" % (label, k), v[k])
        elif isinstance(v, (tuple, list)):
            for i, w in enumerate(v):
                walk("%s[%d]" % (label, i), w)
        else:
            out[label] = np.asarray(v)
    walk("", result)
    return out


def _clear(exc, names):
    """A clear error: a type of CLEAR whose message names one of ``names`` (what the
    example changed or passed: a parameter, f, n, x, ...) as a word."""
    if not isinstance(exc, CLEAR):
        return False
    msg = str(exc)
    words = {str(w) for w in names if str(w)} | {"f", "n", "rng", "x", "fx", "sample",
                                                 "samples"}
    return any(re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(w), msg)
               for w in words)


def record(label, outcomes, names, allow_nan=(), allow_inf=(), exact=False, rtol=1e-9):
    """Classify the outcomes (one per backend) of one example and count it."""
    TALLY.tried += 1
    kinds = [o[0] for o in outcomes]
    if all(k == "err" for k in kinds):
        excs = [o[1] for o in outcomes]
        if all(_clear(e, names) for e in excs) and len({type(e) for e in excs}) == 1:
            TALLY.clear += 1
            return "clear"
        return _other(label, "unclear or differing errors: %s" % "; ".join(
            "%s: %s" % (type(e).__name__, e) for e in excs))
    if any(k == "err" for k in kinds):
        return _other(label, "one backend raised: %s" % "; ".join(
            "%s: %s" % (type(o[1]).__name__, o[1]) if o[0] == "err" else "ok" for o in outcomes))
    flats = [_flat(o[1]) for o in outcomes]
    for lab, arr in flats[0].items():
        a = np.asarray(arr)
        if a.dtype.kind not in "biuf":
            return _other(label, "%s has dtype %s" % (lab, a.dtype))
        a = a.astype(np.float64)
        nan_ok = any(w in lab for w in allow_nan)
        inf_ok = any(w in lab for w in allow_inf)
        bad = (np.isnan(a) & (not nan_ok)) | (np.isinf(a) & (not inf_ok))
        if bad.any():
            return _other(label, "%s is not finite without an error: %s" % (lab, _short(a)))
    if len(flats) == 2:
        if flats[0].keys() != flats[1].keys():
            return _other(label, "the backends' results differ in keys")
        for lab in flats[0]:
            a = np.asarray(flats[0][lab], dtype=np.float64)
            b = np.asarray(flats[1][lab], dtype=np.float64)
            if a.shape != b.shape:
                return _other(label, "%s: shapes %s and %s" % (lab, a.shape, b.shape))
            if exact:
                same = np.array_equal(a, b, equal_nan=True)
            else:
                scale = _scale_of(flats[1], lab)
                with np.errstate(invalid="ignore", over="ignore"):
                    same = bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))
                                       | (np.abs(a - b) <= rtol * (np.abs(b) + scale))))
            if not same:
                return _other(label, "backends differ at %s: %s vs %s"
                              % (lab, _short(a), _short(b)))
    TALLY.finite += 1
    return "finite"


def _scale_of(flat, lab):
    """A magnitude to compare ``lab`` against: its standard error where it has one."""
    # as tests/test_properties.py: an estimate to 1e-9 of its standard errors' largest
    # (a variance clipped at 0 rounds differently on the two backends), and a standard
    # error to 1e-9 of the largest standard error of its array
    # (and a covariance to 1e-9 of its largest entry); with a floor for a constant f,
    # whose errors are 0 and whose gradients rounding noise of f's size: 1e-12 of the
    # value's largest for a gradient, 1e-7 for a standard error (the square root of a
    # variance of rounding noise: sqrt(1e-16) f; and 1e-7 of the largest gradient of
    # its array, a variance that is rounding noise of the gradient's square)
    pairs = {".grad": ".stderr", ".stderr": ".stderr", ".value": ".value_stderr",
             ".value_stderr": ".value_stderr", ".cov": ".cov"}

    def top(name):
        a = flat.get(name)
        if a is None:
            return 0.0
        a = np.abs(np.asarray(a, dtype=np.float64))
        return float(np.max(a[np.isfinite(a)])) if np.isfinite(a).any() else 0.0

    for a in sorted(pairs, key=len, reverse=True):
        if lab.startswith(a):
            floor = (1e2 if "stderr" in a else 1e-3) * top(".value")   # times rtol 1e-9
            if a == ".stderr":   # sqrt(rounding) of the gradient itself: 1e-7 |grad|
                floor = max(floor, 1e2 * top(".grad" + lab[len(a):]))
            return max(top(pairs[a] + lab[len(a):]), floor)
    return 0.0


def _other(label, why):
    TALLY.other.append("%s\n    -> %s" % (label, why))
    return "other"


# ---------------------------------------------------------------- the examples
KIND_METHODS = [("score", m) for m in ("plain", "baseline", "rloo", "cv")] + [
    (k, "plain") for k in ("pathwise", "measure", "concrete", "rebar", "arm", "disarm",
                           "indecater", "vimco")]


DISCRETE_KINDS = {"concrete", "rebar", "arm", "disarm", "indecater"}


@st.composite
def estimate_example(draw, d_desc, make, names, case):
    d = make()
    f_desc, f, f_names = draw(an_f(d))
    kind, method = draw(st.sampled_from(KIND_METHODS))
    if kind in DISCRETE_KINDS and "Bernoulli" not in case.name and \
            "Categorical" not in case.name and draw(st.integers(0, 3)):
        kind, method = draw(st.sampled_from(KIND_METHODS[:6]))   # mostly what the family takes
    n = draw(st.sampled_from(N_VALUES)) if draw(st.integers(0, 4)) == 0 else \
        draw(st.sampled_from([2, 3, 17, 100, N_MAX]))
    kw = {"estimator": kind, "method": method}
    opts = ["n", "f", "estimator", "method"]
    if method == "baseline":
        kw["baseline"] = draw(st.one_of(st.just(0.25), st.sampled_from(SPECIAL),
                                        st.sampled_from(WEIRD)))
        opts.append("baseline")
    if kind in ("concrete", "rebar"):
        kw["temperature"] = draw(st.one_of(st.just(0.5), st.sampled_from(SPECIAL),
                                           st.sampled_from(WEIRD)))
        opts.append("temperature")
    if kind == "rebar" and draw(st.booleans()):
        kw["eta"] = draw(st.one_of(st.just(1.0), st.sampled_from(SPECIAL)))
        opts.append("eta")
    if kind == "vimco":
        kw["num_draws"] = draw(st.sampled_from([2, 3, 1, 0, 2.5, "2", None]))
        opts.append("num_draws")
    if kind in ("pathwise", "concrete", "rebar") and f_desc.startswith("python"):
        kw["grad_f"] = lambda x: np.ones(np.shape(x))
    if draw(st.integers(0, 5)) == 0:
        kw["cov"] = True
    label = "fs.estimate(%s, %s, n=%r, %s)" % (d_desc, f_desc, n, ", ".join(
        "%s=%s" % (k, _short(v)) for k, v in kw.items() if k != "grad_f"))
    return label, f, n, kw, list(names) + f_names + opts


def _estimate_thunk(make, f, n, kw, backend):
    def go():
        if isinstance(f, Exception):
            raise f
        return fs.estimate(make(), f, n, rng=0, backend=backend, **kw)
    return go


@st.composite
def example(draw):
    """(label, [thunk per backend], names, classification options)."""
    wrap = draw(st.sampled_from(["plain"] * 6 + ["independent", "joint", "transformed"]))
    d_desc, make, names, case = draw(distribution(allow_hostile=wrap == "plain"
                                                  or draw(st.booleans())))
    names = set(names)
    if wrap == "independent":
        nd = draw(st.sampled_from([0, 1, 1, 2, -1, 1.5, True, "1", None]))
        base_make, d_desc = make, "fs.Independent(%s, %r)" % (d_desc, nd)
        make = lambda: fs.Independent(base_make(), nd)  # noqa: E731
        names |= {"reinterpreted_batch_ndims"}
    elif wrap == "joint":
        other = draw(st.sampled_from([lambda: fs.Normal(0.0, 1.0), lambda: fs.Bernoulli(0.3),
                                      lambda: 3.0, lambda: fs.Poisson(np.array([1.0, 2.0]))]))
        keys = draw(st.sampled_from([("a", "b"), ("a", "a2"), (1, "b"), ("", "b")]))
        base_make, d_desc = make, "fs.Joint({%r: %s, %r: ...})" % (keys[0], d_desc, keys[1])
        make = lambda: fs.Joint({keys[0]: base_make(), keys[1]: other()})  # noqa: E731
        names |= {"parts", "part", "distributions", str(keys[0]), str(keys[1])}
    elif wrap == "transformed":
        t = draw(st.sampled_from(["exp", "sigmoid", "affine", "affine_bad"]))
        base_make = make
        tr = {"exp": lambda: fs.transforms.ExpTransform(),
              "sigmoid": lambda: fs.transforms.SigmoidTransform(),
              "affine": lambda: fs.transforms.AffineTransform(1.0, 2.0),
              "affine_bad": lambda: fs.transforms.AffineTransform(0.0, np.nan)}[t]
        d_desc = "fs.TransformedDistribution(%s, %s)" % (d_desc, t)
        make = lambda: fs.TransformedDistribution(base_make(), [tr()])  # noqa: E731
        names |= {"transforms", "scale", "loc", "base_distribution"}
    op = draw(st.sampled_from(["estimate"] * 5 + ["sample", "score", "from_samples", "entropy",
                                                  "fisher", "kl"]))
    # the distribution must build before an operation can be drawn for it
    built = _run(make)
    if built[0] == "err":
        return "%s" % d_desc, [make], names, {}
    d = built[1]
    if op == "estimate":
        label, f, n, kw, extra = draw(estimate_example(d_desc, make, names, case))
        return label, [_estimate_thunk(make, f, n, kw, b) for b in ("compiled", "reference")], \
            names | set(extra), {"allow_nan": (".grad", ".stderr", ".cov")
                                 if kw["estimator"] == "measure" else ()}
    if op == "sample":
        n = draw(st.sampled_from(N_VALUES)) if draw(st.booleans()) else 50
        n = 2 if n == 2 ** 62 else n
        label = "fs.sample(%s, n=%r)" % (d_desc, n)
        thunks = [lambda b=b: fs.sample(make(), n, rng=1, backend=b)
                  for b in ("compiled", "reference")]
        return label, thunks, names | {"n"}, {"exact": True}
    if op == "score":
        x = draw(_x_for(d))
        label = "fs.score(%s, x=%s)" % (d_desc, _short(x))
        # a score beyond float64 (x = 1e300 squared) or infinite (x = 1 under
        # Bernoulli(probs=0)) is IEEE's +-inf, as in the closed forms; never NaN
        return label, [lambda: fs.score(make(), x)], names | {"x"}, {"allow_inf": ("",)}
    if op == "from_samples":
        n = draw(st.sampled_from([1, 2, 5, 40]))
        x = _sample_or_none(make, n)
        if x is None or draw(st.integers(0, 3)) == 0:
            x = draw(_x_for(d))
            n = _rows(x)
        fx = draw(st.one_of(
            st.just(None),
            st.sampled_from(["x", "huge", "nan", "wrong_shape", "strings", "empty", "int"])))
        fxv = _fx_for(d, x, fx)
        method = draw(st.sampled_from(["plain", "baseline", "rloo", "cv", "bogus"]))
        kw = {"baseline": 0.5} if method == "baseline" else {}
        label = "fs.estimate_from_samples(%s, x=%s, fx=%s, method=%r)" % (
            d_desc, _short(x), fx, method)
        return label, [lambda: fs.estimate_from_samples(make(), x, fxv, method=method, **kw)], \
            names | {"x", "fx", "method", "baseline"}, {"allow_nan": (".value_stderr", ".stderr")
                                                        if n == 1 else ()}
    # the closed forms (entropy, fisher, kl) follow IEEE arithmetic: +-inf where the
    # exact value is infinite (the Fisher information at probs = 0, KL where q has no
    # mass) or beyond float64; never NaN
    closed = {"allow_inf": ("",)}
    names = names | {op, type(d).__name__, "kl"}   # a refusal names the operation
    if op == "entropy":
        label = "%s.entropy(grad=True)" % d_desc
        return label, [lambda: make().entropy(grad=True)], names, closed
    if op == "fisher":
        label = "%s.fisher()" % d_desc
        return label, [lambda: make().fisher()], names, closed
    d2_desc, make2, names2, _ = draw(distribution(case=case if draw(st.integers(0, 3)) else None))
    label = "fs.kl(%s, %s, grad=True)" % (d_desc, d2_desc)
    return label, [lambda: fs.kl(make(), make2(), grad=True)], names | set(names2) | {"p", "q"}, \
        closed


def _sample_or_none(make, n):
    try:
        return fs.sample(make(), n, rng=2)
    except Exception:  # noqa: BLE001 - the example then draws an x
        return None


@st.composite
def _x_for(draw, d):
    x = _sample_or_none(lambda: d, 4)
    if x is None or isinstance(x, dict):
        return draw(st.sampled_from(WEIRD + [np.zeros(0), np.full(3, np.nan)]))
    x = np.asarray(x)
    kind = draw(st.sampled_from(["valid", "hostile", "shape", "weird", "noncontig"]))
    if kind == "valid":
        return x
    if kind == "hostile":
        return draw(hostile_value(x.astype(np.float64)))
    if kind == "shape":
        return x.reshape(-1)[:3] if x.size >= 3 else x[None]
    if kind == "noncontig":
        return _noncontiguous(x.astype(np.float64)) if x.ndim else x
    return draw(st.sampled_from(WEIRD))


def _rows(x):
    """Length of x's first axis (1 where it has none or is not an array)."""
    try:
        return np.shape(x)[0] if np.ndim(x) else 1
    except (TypeError, ValueError, IndexError):
        return 1


def _fx_for(d, x, kind):
    n = _rows(x)
    shape = (n,) + tuple(getattr(d, "batch_shape", ()))
    if kind is None or kind == "x":
        return np.linspace(-1.0, 1.0, max(1, math.prod(shape))).reshape(shape) if \
            math.prod(shape) else np.zeros(shape)
    if kind == "huge":
        return np.full(shape, 1e300)
    if kind == "nan":
        return np.full(shape, np.nan)
    if kind == "wrong_shape":
        return np.zeros(shape + (2,))
    if kind == "strings":
        return np.full(shape, "a")
    if kind == "empty":
        return np.zeros(0)
    return np.ones(shape, dtype=np.int64)


# ---------------------------------------------------------------- the run
SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))


def run(examples, verbose=False, seconds=None):
    """Run ``examples`` examples (stopping early after ``seconds`` if given); the Tally."""
    start = time.monotonic()
    np.seterr(all="ignore")

    @settings(max_examples=examples, **SETTINGS)
    @given(example())
    def one(ex):
        if seconds is not None and time.monotonic() - start > seconds:
            return
        label, thunks, names, opts = ex
        t0 = time.monotonic()
        outcomes = [_run(t) for t in thunks]
        took = time.monotonic() - t0
        for o in outcomes:   # an exception of the fuzzer itself is not an outcome
            if o[0] == "err" and isinstance(o[1], (AssertionError,)):
                raise o[1]
        got = record(label, outcomes, names, **opts)
        if verbose:
            print("%s %.3f %s" % (got, took, label[:300].replace("\n", " ")), flush=True)

    one()
    return TALLY


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=None,
                    help="stop drawing new examples after this long")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        tally = run(args.examples, args.verbose, args.seconds)
    except Exception:
        traceback.print_exc()
        raise
    for item in tally.other:
        print("OTHER:", item)
    counts = tally.as_dict()
    counts["seconds"] = round(time.monotonic() - t0, 1)
    print("fuzz counts: tried %(tried)d, clear error %(clear_error)d, finite and equal "
          "%(finite_and_equal)d, anything else %(other)d (%(seconds)s s)" % counts)
    print(json.dumps(counts))
    return 0 if not tally.other else 1


if __name__ == "__main__":
    sys.exit(main())
