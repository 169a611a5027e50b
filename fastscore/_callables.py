"""The three kinds of f: built-in, low-level (C pointer) and Python callable.

:func:`prepare` sorts a user's f into one of them once per call.  The
backends then ask the prepared f, with a distribution's plan, for a kernel
spec or for values on samples.
"""

import ctypes
import sys

import numpy as np

from . import _engine, _kernels
from ._layout import as_array
from .fn import Function


class PreparedF:
    """A user's f, classified.  ``kind`` is "builtin", "lowlevel" or "python".

    ``grad`` is the prepared f' (:class:`PreparedGrad`) when the estimator
    needs one, else None.
    """

    def __init__(self, kind, obj, nan_policy):
        self.kind = kind
        self.obj = obj
        self.nan_policy = nan_policy
        self.grad = None

    @property
    def inline(self):
        """True when the kernels evaluate f (and f') themselves, without Python."""
        return self.kind != "python" and (self.grad is None or self.grad.kind != "python")

    def check(self, plan):
        """Refuse an f that cannot take the plan's samples (same error on both backends)."""
        if plan.E is None and self.kind != "python":   # a Joint: f takes a dict
            raise TypeError("f: %s gives f a dict of its parts' samples; pass a Python "
                            "callable taking that dict (a built-in or low-level f takes one "
                            "array)" % plan.name)
        if self.kind == "builtin":
            self.obj._check(plan)
        elif (self.kind == "lowlevel" and plan.event_size > 1 and
              _kernels.lowlevel_signature_kind(self.obj.signature) == _kernels.LL_SCALAR):
            raise ValueError("f: a LowLevelCallable with signature %r takes one number, but %s "
                             "has event shape %s; use the signature 'double (const double *, "
                             "intptr_t, intptr_t, void *)', which gets the whole event"
                             % (self.obj.signature, plan.name, plan.event_shape))

    # -- the compiled path --------------------------------------------
    def kernel_spec(self, plan):
        if self.kind == "builtin":
            return self.obj.spec(plan)
        return _kernels.FunctionSpec("lowlevel", lowlevel=self.obj)

    # -- values on given samples (finite supports, reference path) -----
    def values(self, x3, plan, backend):
        """f on kernel-layout samples x3 (m, B, E) -> float64 (m, B)."""
        if self.kind == "builtin":
            return self.obj.numpy(x3, plan)
        if self.kind == "lowlevel":
            batch_index = np.arange(plan.batch_size)
            if backend == "compiled":
                return self.kernel_spec(plan).evaluate(x3, batch_index,
                                                       engine=_engine.current().code)
            return _ctypes_values(self.obj, x3)
        return self.call(x3, plan)

    def on_support(self, plan, backend):
        """f on the support of a counted family: (batch_size, V) float64."""
        if self.kind == "builtin" and hasattr(self.obj, "on_support"):
            return self.obj.on_support(plan)
        sup = plan.support
        x3 = np.broadcast_to(sup[:, None, None], (sup.size, plan.batch_size, plan.E)).copy()
        return np.ascontiguousarray(self.values(x3, plan, backend).T)

    def call(self, x3, plan):
        """Call a Python f on samples (m, B, E); returns checked float64 (m, B)."""
        m = x3.shape[0]
        x = plan.layout.to_user(x3, (m,))
        if isinstance(self.obj, FrameworkF):   # a torch / JAX f: its own conversions
            return check_f_output(self.obj.evaluate(x, _private(x, x3)), m, plan)
        if x is x3 or np.shares_memory(x, x3):
            x = x.view()
            x.flags.writeable = False  # the kernels score these samples after f returns
        try:
            fx = self.obj(x)
        except (ValueError, TypeError) as exc:
            _hint_vectorised("f", exc, x)
            raise
        return check_f_output(fx, m, plan)


class FrameworkF:
    """A Python f (or f') that takes and returns a deep-learning framework's arrays.

    Built by :func:`fastscore.torch.tensor_f` and :func:`fastscore.jax.array_f`;
    this base class knows no framework.  Called like any Python f, with NumPy
    samples (or a Joint's dict of them), it converts them with :meth:`to_framework`,
    calls ``fn``, and converts the result back with :meth:`to_numpy`.

    ``immutable`` says whether the framework's arrays can be written into (JAX's
    cannot: f may then get the wave's own buffer; torch's can: f gets a copy
    unless the samples are already private to the call).
    """

    #: The framework's name, for messages.
    framework = None
    #: True when f cannot write into the arrays it is given.
    immutable = False

    def __init__(self, fn):
        if isinstance(fn, FrameworkF):
            fn = fn.fn
        if not callable(fn):
            raise TypeError("f must be a callable taking %s arrays, got %s"
                            % (self.framework, type(fn).__name__))
        self.fn = fn

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.fn)

    def __call__(self, x):
        """f on NumPy samples (or a dict of them): NumPy values.  The samples are copied
        first where f could write into them."""
        return self.evaluate(x, private=False)

    def evaluate(self, x, private):
        """f on NumPy samples ``x``; ``private`` says that nothing reads ``x`` after f
        (so f may have its memory).  Returns NumPy values (or a dict, for a Joint's f')."""
        def given(a):   # an immutable framework's to_framework copies only where it must
            return self.to_framework(np.asarray(a) if self.immutable else _owned(a, private))

        xs = {k: given(v) for k, v in x.items()} if isinstance(x, dict) else given(x)
        out = self.call_framework(xs)
        if isinstance(out, dict):
            return {k: self.to_numpy(v) for k, v in out.items()}
        return self.to_numpy(out)

    # -- what a framework defines --------------------------------------
    def to_framework(self, a):
        """A NumPy array that f may have (writable, C-contiguous) as the framework's."""
        raise NotImplementedError

    def call_framework(self, x):
        """``fn`` on the framework's samples (no graph kept)."""
        return self.fn(x)

    def to_numpy(self, out):
        """f's result as a NumPy array (without a copy where the framework allows)."""
        raise NotImplementedError

    def derivative(self):
        """The FrameworkF of df/dx per sample, by the framework's autodiff."""
        raise NotImplementedError


def _private(x, x3):
    """True when the user-layout samples ``x`` share no memory with the kernel's ``x3``."""
    if isinstance(x, dict):
        return False
    return not (x is x3 or np.shares_memory(x, x3))


def _owned(a, private):
    """Samples a framework f may write into: ``a`` itself when nothing reads it after f,
    else a fresh C-contiguous copy that f owns."""
    a = np.asarray(a)
    if private and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, order="C", copy=True)


def check_f_output(fx, m, plan):
    """Validate what a Python f returned: real numbers of shape (m, *batch_shape)."""
    arr = as_array(fx, "f's return value")
    expected = (m,) + tuple(plan.batch_shape)
    if arr.dtype.kind not in "biuf":
        raise ValueError("f must return real numbers; it returned dtype %s" % arr.dtype)
    if arr.shape != expected:
        raise ValueError("f returned an array of shape %s; expected (m, *batch_shape) = %s"
                         % (arr.shape, expected))
    return np.ascontiguousarray(arr, dtype=np.float64).reshape(m, plan.batch_size)


class PreparedGrad:
    """f' for the pathwise estimator: "builtin" (the built-in f's closed-form
    derivative), "lowlevel" (a grad_f C function) or "python" (a callable)."""

    def __init__(self, kind, obj):
        self.kind = kind
        self.obj = obj

    def kernel_spec(self, plan):
        if self.kind == "builtin":
            return self.obj.spec(plan)  # the kernels evaluate its derivative by kind
        return _kernels.FunctionSpec("lowlevel_grad", lowlevel=self.obj)

    def values(self, x3, plan, backend):
        """f' on kernel-layout samples x3 (m, B, E) -> float64 (m, B, E)."""
        if self.kind == "builtin":
            return self.obj.grad_numpy(x3, plan)
        if self.kind == "lowlevel":
            if backend == "compiled":
                return self.kernel_spec(plan).evaluate_grad(x3, np.arange(plan.batch_size))
            return _ctypes_grad_values(self.obj, x3)
        return self.call(x3, plan)

    def call(self, x3, plan):
        """Call a Python grad_f on samples (m, B, E); returns checked float64 (m, B, E)."""
        m = x3.shape[0]
        x = plan.layout.to_user(x3, (m,))
        if isinstance(self.obj, FrameworkF):
            arr = np.asarray(self.obj.evaluate(x, _private(x, x3)))
        else:
            if x is x3 or np.shares_memory(x, x3):
                x = x.view()
                x.flags.writeable = False
            try:
                arr = np.asarray(self.obj(x))
            except (ValueError, TypeError) as exc:
                _hint_vectorised("grad_f", exc, x)
                raise
        expected = (m,) + tuple(plan.batch_shape) + tuple(plan.event_shape)
        if arr.dtype.kind not in "biuf":
            raise ValueError("grad_f must return real numbers; it returned dtype %s" % arr.dtype)
        if arr.shape != expected:
            raise ValueError("grad_f returned an array of shape %s; expected (m, *batch_shape, "
                             "*event_shape) = %s" % (arr.shape, expected))
        return np.ascontiguousarray(arr, dtype=np.float64).reshape(m, plan.batch_size, plan.E)


def prepare_grad(pf, grad_f, estimator, plan):
    """Attach f' to the prepared f for ``estimator`` (one that needs grad_f), or refuse."""
    if pf.kind == "builtin":
        if grad_f is not None:
            raise TypeError("grad_f: the built-in f %r knows its derivative; leave grad_f out"
                            % (pf.obj,))
        pf.obj.check_derivative(estimator, plan)
        pf.grad = PreparedGrad("builtin", pf.obj)
        return pf
    if grad_f is None and isinstance(pf.obj, FrameworkF):
        pf.grad = PreparedGrad("python", pf.obj.derivative())   # the framework's autodiff
        return pf
    if grad_f is None:
        raise TypeError("estimator=%r needs the derivative of f: pass grad_f= (a vectorised "
                        "callable returning df/dx of shape (m, *batch_shape, *event_shape), or "
                        "a LowLevelCallable %s), or use a fastscore.fn built-in"
                        % (estimator, _kernels.GRAD_SIGNATURES[0]))
    if isinstance(grad_f, Function):
        raise TypeError("grad_f must be a callable or a LowLevelCallable, not a fastscore.fn "
                        "built-in (%r)" % (grad_f,))
    llc = _as_lowlevel(grad_f)
    if llc is not None:
        if _kernels.lowlevel_signature_kind(llc.signature) != _kernels.LL_GRAD:
            raise _kernels.unsupported_signature(llc.signature, "grad_f")
        pf.grad = PreparedGrad("lowlevel", llc)
    elif callable(grad_f):
        pf.grad = PreparedGrad("python", grad_f)
    else:
        raise TypeError("grad_f must be a callable, a scipy.LowLevelCallable or a numba cfunc; "
                        "got %s" % type(grad_f).__name__)
    return pf


def prepare(f, nan_policy="raise"):
    """Classify f; raise TypeError if it is none of the accepted kinds."""
    if nan_policy not in ("raise", "propagate"):
        raise ValueError("nan_policy must be 'raise' or 'propagate', got %r" % (nan_policy,))
    if isinstance(f, Function):
        return PreparedF("builtin", f, nan_policy)
    torch = sys.modules.get("torch")
    if (torch is not None and not isinstance(f, FrameworkF)
            and isinstance(f, getattr(getattr(torch, "nn", None), "Module", ()))):
        from .torch import tensor_f   # a torch.nn.Module takes tensors: no doubt about it

        f = tensor_f(f)
    llc = _as_lowlevel(f)
    if llc is not None:
        kind = _kernels.lowlevel_signature_kind(llc.signature)
        if kind == 0:
            raise _kernels.unsupported_signature(llc.signature)
        return PreparedF("lowlevel", llc, nan_policy)
    if callable(f):
        return PreparedF("python", f, nan_policy)
    raise TypeError("f must be a callable, a scipy.LowLevelCallable, a numba cfunc or a "
                    "fastscore.fn built-in; got %s" % type(f).__name__)


def _as_lowlevel(f):
    from scipy import LowLevelCallable

    if isinstance(f, LowLevelCallable):
        return f
    # numba cfunc objects expose a ctypes function pointer.
    if hasattr(f, "ctypes") and hasattr(f, "address") and hasattr(f, "native_name"):
        return LowLevelCallable(f.ctypes)
    return None


_GetPointer = ctypes.pythonapi.PyCapsule_GetPointer
_GetPointer.restype = ctypes.c_void_p
_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_GetName = ctypes.pythonapi.PyCapsule_GetName
_GetName.restype = ctypes.c_char_p
_GetName.argtypes = [ctypes.py_object]
_GetContext = ctypes.pythonapi.PyCapsule_GetContext
_GetContext.restype = ctypes.c_void_p
_GetContext.argtypes = [ctypes.py_object]


def capsule_parts(llc):
    """A LowLevelCallable's (function address, user_data address or None) as ints."""
    cap = tuple.__getitem__(llc, 0)  # the raw capsule (see _kernels.FunctionSpec)
    return _GetPointer(cap, _GetName(cap)), _GetContext(cap)


_SCALAR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
_VECTOR = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                           ctypes.c_ssize_t, ctypes.c_void_p)


def _ctypes_values(llc, x3):
    """Evaluate a LowLevelCallable per sample through ctypes (reference path)."""
    ptr, user_data = capsule_parts(llc)
    m, B, E = x3.shape
    out = np.empty((m, B))
    if _kernels.lowlevel_signature_kind(llc.signature) == _kernels.LL_SCALAR:
        fn = _SCALAR(ptr)
        for i in range(m):
            for b in range(B):
                out[i, b] = fn(float(x3[i, b, 0]))
        return out
    fn = _VECTOR(ptr)
    buf = (ctypes.c_double * E)()
    for i in range(m):
        for b in range(B):
            for e in range(E):
                buf[e] = x3[i, b, e]
            out[i, b] = fn(buf, E, b, user_data)
    return out


_GRAD = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_double), ctypes.c_ssize_t,
                         ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double))


def _ctypes_grad_values(llc, x3):
    """Evaluate a low-level grad_f per sample through ctypes (reference path)."""
    ptr, user_data = capsule_parts(llc)
    fn = _GRAD(ptr)
    m, B, E = x3.shape
    out = np.empty((m, B, E))
    buf = (ctypes.c_double * E)()
    res = (ctypes.c_double * E)()
    for i in range(m):
        for b in range(B):
            for e in range(E):
                buf[e] = x3[i, b, e]
            fn(buf, E, b, user_data, res)
            out[i, b, :] = res[:]
    return out


#: numpy's words when a function written for one number gets an array.
_SCALAR_ONLY = ("truth value of an array", "only length-1 arrays", "only 0-dimensional arrays",
                "only integer scalar arrays", "cannot convert the series")


def _hint_vectorised(what, exc, x):
    """Re-raise numpy's error from a non-vectorised Python f with what to do about it."""
    if any(s in str(exc) for s in _SCALAR_ONLY):
        raise type(exc)(
            "%s raised %s: %s.  %s is called with a whole array of samples, shape %s = (m, "
            "*batch_shape, *event_shape), not one sample at a time: write it with NumPy "
            "operations (np.where instead of if, np.maximum instead of max, np.exp instead of "
            "math.exp), or pass a scipy.LowLevelCallable / numba cfunc (called per sample) or a "
            "fastscore.fn built-in" % (what, type(exc).__name__, exc, what, x.shape)) from exc
