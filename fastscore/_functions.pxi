# f evaluation (included by _kernels.pyx): the built-in f of fastscore.fn and
# low-level C functions, evaluated a block of samples at a time without the GIL,
# and their derivatives f' (the pathwise estimator's grad_f): closed forms for
# the built-ins, a low-level grad_f otherwise.  fastscore.fn and
# fastscore._callables build the FunctionSpec of each.
cdef enum:
    F_POWER = 1
    F_LINEAR = 2
    F_CALL = 3
    F_PUT = 4
    F_INDICATOR = 5
    F_TABLE = 6
    F_LL_SCALAR = 7
    F_LL_VECTOR = 8
    F_LL_GRAD = 9
    F_TABLE_LINEAR = 10

ctypedef double (*scalar_fn_t)(double) noexcept nogil
ctypedef double (*vector_fn_t)(const double *, intptr_t, intptr_t, void *) noexcept nogil
ctypedef void (*grad_fn_t)(const double *, intptr_t, intptr_t, void *, double *) noexcept nogil

cdef struct FSpec:
    int kind
    double a
    double b
    const double *vec          # linear coefficients (event size) or table values
    Py_ssize_t table_len       # values per batch element in the table
    Py_ssize_t table_bstride   # 0 when one table serves every batch element
    scalar_fn_t sfn
    vector_fn_t vfn
    grad_fn_t gfn
    void *user_data

#: lowlevel_signature_kind() of a double(double) function, and of a grad_f.
LL_SCALAR = F_LL_SCALAR
LL_VECTOR = F_LL_VECTOR
LL_GRAD = F_LL_GRAD
F_KINDS = {"power": F_POWER, "linear": F_LINEAR, "call": F_CALL, "put": F_PUT,
           "indicator": F_INDICATOR, "table": F_TABLE, "table_linear": F_TABLE_LINEAR}

_SCALAR_SIGNATURES = frozenset(["double(double)"])
_VECTOR_SIGNATURES = frozenset(
    "double(%sdouble*,%s,%s,void*)" % (c, t, t)
    for c in ("", "const")
    for t in ("intptr_t", "Py_ssize_t", "ssize_t", "int64_t", "long", "longlong")
)
_GRAD_SIGNATURES = frozenset(
    "void(%sdouble*,%s,%s,void*,double*)" % (c, t, t)
    for c in ("", "const")
    for t in ("intptr_t", "Py_ssize_t", "ssize_t", "int64_t", "long", "longlong")
)
ACCEPTED_SIGNATURES = (
    "double (double)",
    "double (const double *, intptr_t, intptr_t, void *)",
    "double (double *, intptr_t, intptr_t, void *)",
)
#: The signature of a low-level grad_f: out[e] = df/dx_e at the event x.
GRAD_SIGNATURES = (
    "void (const double *, intptr_t, intptr_t, void *, double *)",
    "void (double *, intptr_t, intptr_t, void *, double *)",
)


def unsupported_signature(signature, what="f"):
    """The TypeError for a LowLevelCallable whose signature the kernels do not take."""
    accepted = GRAD_SIGNATURES if what == "grad_f" else ACCEPTED_SIGNATURES
    return TypeError("%s: unsupported LowLevelCallable signature %r; accepted signatures are %s"
                     % (what, signature, ", ".join(repr(s) for s in accepted)))


def lowlevel_signature_kind(str signature):
    """F_LL_SCALAR / F_LL_VECTOR / F_LL_GRAD for an accepted signature, else 0."""
    sig = signature.replace(" ", "")
    if ("long" in sig and "longlong" not in sig) and sizeof(long) != sizeof(intptr_t):
        return 0
    if sig in _SCALAR_SIGNATURES:
        return F_LL_SCALAR
    if sig in _VECTOR_SIGNATURES:
        return F_LL_VECTOR
    if sig in _GRAD_SIGNATURES:
        return F_LL_GRAD
    return 0


cdef class FunctionSpec:
    """A built-in or low-level f, in the form the kernels evaluate inline.

    Holds references to the arrays and capsules its raw pointers point into.
    """
    cdef FSpec spec
    cdef object _keep

    def __init__(self, str kind, double a=0.0, double b=0.0, values=None,
                 Py_ssize_t table_bstride=0, lowlevel=None):
        cdef const double[::1] v
        memset(&self.spec, 0, sizeof(FSpec))
        self._keep = []
        if kind == "lowlevel" or kind == "lowlevel_grad":
            self._set_lowlevel(lowlevel, kind == "lowlevel_grad")
            return
        self.spec.kind = F_KINDS[kind]
        self.spec.a = a
        self.spec.b = b
        if values is not None:
            arr = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
            self._keep.append(arr)
            v = arr
            if v.shape[0] > 0:
                self.spec.vec = &v[0]
            self.spec.table_len = v.shape[0] if table_bstride == 0 else table_bstride
            self.spec.table_bstride = table_bstride

    cdef _set_lowlevel(self, llc, bint grad):
        what = "grad_f" if grad else "f"
        capsule = tuple.__getitem__(llc, 0)  # the raw capsule: name = signature, context = user_data
        if not PyCapsule_CheckExact(capsule):
            raise TypeError("%s: a LowLevelCallable must wrap a PyCapsule" % what)
        name = PyCapsule_GetName(capsule)
        signature = name.decode("ascii") if name != NULL else ""
        kind = lowlevel_signature_kind(signature)
        if kind == 0 or (kind == F_LL_GRAD) != grad:
            raise unsupported_signature(signature, what)
        ptr = PyCapsule_GetPointer(capsule, name)
        self._keep.append(llc)
        self.spec.kind = kind
        if kind == F_LL_SCALAR:
            self.spec.sfn = <scalar_fn_t>ptr
        elif kind == F_LL_VECTOR:
            self.spec.vfn = <vector_fn_t>ptr
        else:
            self.spec.gfn = <grad_fn_t>ptr
        self.spec.user_data = PyCapsule_GetContext(capsule)

    @property
    def kind(self):
        return self.spec.kind

    def evaluate(self, x, batch_index, *, long engine):
        """Evaluate f on samples x (m, batch_size, event_size) in the kernel's way.

        Used for finite supports and by tests; returns (m, batch_size).
        ``engine``: the packed engine (fastscore._engine.Engine.code).
        """
        cdef fs_engine eng = fs_engine_decode(engine)
        cdef const double[:, :, ::1] xv = np.ascontiguousarray(x, dtype=np.float64)
        cdef Py_ssize_t m = xv.shape[0], nb = xv.shape[1], E = xv.shape[2], i, bb
        out = np.empty((nb, m), dtype=np.float64)
        cdef double[:, ::1] ov = out
        cdef double[::1] tmp = np.empty(m * E if m * E > 0 else 1, dtype=np.float64)
        cdef int64_t[::1] bidx = np.ascontiguousarray(batch_index, dtype=np.int64)
        for bb in range(nb):
            for i in range(m):
                memcpy(&tmp[i * E], &xv[i, bb, 0], E * sizeof(double))
            if m > 0:
                _eval_f(&eng, &self.spec, &tmp[0], E, m, bidx[bb], &ov[bb, 0])
        return out.T.copy()

    def evaluate_grad(self, x, batch_index):
        """f' on samples x (m, batch_size, E) in the kernel's way -> (m, batch_size, E).

        For a built-in f, its closed-form derivative; for a low-level grad_f, that function.
        """
        cdef const double[:, :, ::1] xv = np.ascontiguousarray(x, dtype=np.float64)
        cdef Py_ssize_t m = xv.shape[0], nb = xv.shape[1], E = xv.shape[2], i, bb
        out = np.empty((nb, m, E), dtype=np.float64)
        cdef double[:, :, ::1] ov = out
        cdef double[::1] tmp = np.empty(m * E if m * E > 0 else 1, dtype=np.float64)
        cdef int64_t[::1] bidx = np.ascontiguousarray(batch_index, dtype=np.int64)
        for bb in range(nb):
            for i in range(m):
                memcpy(&tmp[i * E], &xv[i, bb, 0], E * sizeof(double))
            if m > 0:
                _eval_grad_f(&self.spec, &tmp[0], E, m, bidx[bb], &ov[bb, 0, 0])
        return out.transpose(1, 0, 2).copy()


cdef void _eval_f(const fs_engine *eng, const FSpec *f, const double *x, Py_ssize_t E,
                  Py_ssize_t m, int64_t b, double *out) noexcept nogil:
    """out[i] = f(x[i*E : (i+1)*E]) for a block; the switch sits outside the loops."""
    cdef Py_ssize_t i, e, idx
    cdef double v, acc
    cdef const double *row
    if f.kind == F_POWER:
        if f.a == 2.0:
            for i in range(m):
                out[i] = x[i * E] * x[i * E]
        elif f.a == 1.0:
            for i in range(m):
                out[i] = x[i * E]
        else:
            for i in range(m):
                out[i] = pow(x[i * E], f.a)
    elif f.kind == F_LINEAR:
        if E == 1:
            for i in range(m):
                out[i] = f.vec[0] * x[i] + f.b
        elif fs_linear_small(eng.reduce_isa, f.vec, f.b, x, E, m, out):
            pass   # E of 2 to 4: the loop below as one vector loop (_rowops.h), the same bits
        else:
            for i in range(m):
                acc = 0.0
                for e in range(E):
                    acc = acc + f.vec[e] * x[i * E + e]
                out[i] = acc + f.b
    elif f.kind == F_CALL:
        for i in range(m):
            v = x[i * E] - f.a
            out[i] = v if v > 0.0 else 0.0
    elif f.kind == F_PUT:
        for i in range(m):
            v = f.a - x[i * E]
            out[i] = v if v > 0.0 else 0.0
    elif f.kind == F_INDICATOR:
        for i in range(m):
            v = x[i * E]
            out[i] = 1.0 if (v >= f.a and v <= f.b) else 0.0
    elif f.kind == F_TABLE:
        row = f.vec + b * f.table_bstride
        for i in range(m):
            v = x[i * E]
            idx = <Py_ssize_t>v
            if v >= 0.0 and idx < f.table_len and <double>idx == v:
                out[i] = row[idx]
            else:
                out[i] = NAN
    elif f.kind == F_TABLE_LINEAR:
        # the table's linear extension to relaxed samples: sum_e x_e values_e
        # on the simplex, values_0 + x (values_1 - values_0) on [0, 1]
        row = f.vec + b * f.table_bstride
        if E == 1:
            for i in range(m):
                out[i] = row[0] + x[i] * (row[1] - row[0])
        else:
            for i in range(m):
                acc = 0.0
                for e in range(E):
                    acc = acc + x[i * E + e] * row[e]
                out[i] = acc
    elif f.kind == F_LL_SCALAR:
        for i in range(m):
            out[i] = f.sfn(x[i * E])
    elif f.kind == F_LL_VECTOR:
        for i in range(m):
            out[i] = f.vfn(&x[i * E], E, b, f.user_data)
    else:
        for i in range(m):
            out[i] = NAN


cdef inline void _repeat_event(double *out, const double *ev, Py_ssize_t E,
                               Py_ssize_t m) noexcept nogil:
    """out[i*E + e] = ev[e] for i < m: the event once, then copies of what is
    written, doubling (a constant f' costs a few memcpy calls, not m E stores)."""
    cdef Py_ssize_t have = E, total = m * E, cnt
    if m <= 0:
        return
    memcpy(out, ev, E * sizeof(double))
    while have < total:
        cnt = have if have < total - have else total - have
        memcpy(out + have, out, cnt * sizeof(double))
        have += cnt


cdef void _eval_grad_f(const FSpec *f, const double *x, Py_ssize_t E, Py_ssize_t m,
                       int64_t b, double *out) noexcept nogil:
    """out[i*E + e] = df/dx_e at x[i*E : (i+1)*E] for a block (f' of the pathwise estimator).

    The built-ins' derivatives in closed form: power k x^(k-1); linear its
    coefficients; call and put their slopes, 1[x > strike] and -1[x < strike]
    (0 at the kink).  A low-level grad_f is called per sample.  (indicator and
    table have no useful derivative: fastscore refuses them before this.)
    """
    cdef Py_ssize_t i
    cdef const double *row
    if f.kind == F_POWER:
        if f.a == 2.0:
            for i in range(m):
                out[i * E] = 2.0 * x[i * E]
        elif f.a == 1.0:
            for i in range(m):
                out[i * E] = 1.0
        elif f.a == 0.0:
            for i in range(m):
                out[i * E] = 0.0
        else:
            for i in range(m):
                out[i * E] = f.a * pow(x[i * E], f.a - 1.0)
    elif f.kind == F_LINEAR:
        _repeat_event(out, f.vec, E, m)
    elif f.kind == F_CALL:
        for i in range(m):
            out[i * E] = 1.0 if x[i * E] > f.a else 0.0
    elif f.kind == F_PUT:
        for i in range(m):
            out[i * E] = -1.0 if x[i * E] < f.a else 0.0
    elif f.kind == F_TABLE_LINEAR:
        row = f.vec + b * f.table_bstride
        if E == 1:
            for i in range(m):
                out[i] = row[1] - row[0]
        else:
            _repeat_event(out, row, E, m)
    elif f.kind == F_LL_GRAD:
        for i in range(m):
            f.gfn(&x[i * E], E, b, f.user_data, &out[i * E])
    else:
        for i in range(m * E):
            out[i] = NAN
