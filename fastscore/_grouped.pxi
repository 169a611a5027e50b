# Independent of a scalar family with f inline (included by _kernels.pyx).
#
# A work item is one chunk of one joint element: its G coordinates are base
# elements b * G + g, each with its own stream (the base's counter [0, 0,
# chunk, b * G + g]).  Per block, every coordinate draws BLOCK samples into
# its own row of a coordinate-major buffer, the joint f is evaluated once per
# sample across the rows, and each coordinate folds f times its own score (or
# its own pathwise term) into its own accumulator row: the base's rows, the
# very sums of the Python-f path (fastscore._wrapped) on the same samples,
# which fastscore._wrapped.GroupedPlan.rows turns into joint rows.  O(G) per
# sample; the buffers live on the heap, one allocation per item.  (A sample
# beyond the float64 range gives non-finite sums, reported by nan_policy.)


cdef void _eval_joint_f(const FSpec *f, const double *x, Py_ssize_t ld, Py_ssize_t G,
                        Py_ssize_t m, int64_t b, double *out, double *tmp) noexcept nogil:
    """out[i] = f of sample i, coordinate g at x[g * ld + i].

    linear: the additions of fastscore.fn.linear's NumPy twin, in its order
    (0.0 plus each coordinate's product, then b); a low-level f gets each
    sample gathered into tmp (G doubles)."""
    cdef Py_ssize_t i, g
    cdef double a
    if f.kind == F_LINEAR:
        if G == 1:
            a = f.vec[0]
            for i in range(m):
                out[i] = a * x[i] + f.b
            return
        for i in range(m):
            out[i] = 0.0
        for g in range(G):
            a = f.vec[g]
            for i in range(m):
                out[i] = out[i] + a * x[g * ld + i]
        for i in range(m):
            out[i] = out[i] + f.b
    elif f.kind == F_LL_VECTOR:
        for i in range(m):
            for g in range(G):
                tmp[g] = x[g * ld + i]
            out[i] = f.vfn(tmp, G, b, f.user_data)
    else:
        for i in range(m):
            out[i] = NAN


cdef void _eval_joint_grad(const FSpec *f, const double *x, Py_ssize_t ld, Py_ssize_t G,
                           Py_ssize_t m, int64_t b, double *out, double *tmp) noexcept nogil:
    """out[g * ld + i] = df/dx_g at sample i (the layout of x)."""
    cdef Py_ssize_t i, g
    if f.kind == F_LINEAR:
        for g in range(G):
            for i in range(m):
                out[g * ld + i] = f.vec[g]
    elif f.kind == F_LL_GRAD:
        for i in range(m):
            for g in range(G):
                tmp[g] = x[g * ld + i]
            f.gfn(tmp, G, b, f.user_data, tmp + G)
            for g in range(G):
                out[g * ld + i] = tmp[G + g]
    else:
        for g in range(G):
            for i in range(m):
                out[g * ld + i] = NAN


cdef void _grouped_item(const fs_engine *eng, int kind, int fam, const double *consts,
                        Py_ssize_t nc, uint64_t key0, uint64_t key1, int64_t n, int64_t item,
                        int64_t c0, int64_t ncr, Py_ssize_t G, Py_ssize_t P, const FSpec *f,
                        const FSpec *g, double *rows, Py_ssize_t stride) noexcept nogil:
    """One chunk of one joint element: its G coordinates' rows at rows + j * stride."""
    cdef int64_t b = item // ncr, c = c0 + item % ncr
    cdef int64_t m = n - c * CHUNK, done = 0
    cdef Py_ssize_t j, cnt
    cdef fs_stream *st = <fs_stream *>malloc(G * sizeof(fs_stream))
    cdef bitgen_t *bg = <bitgen_t *>malloc(G * sizeof(bitgen_t))
    # samples (G rows of BLOCK), f, f' (pathwise: G rows), a gathered event (2 G), then
    # the accumulate step's scratch
    cdef Py_ssize_t ng = G * BLOCK if kind == FS_KIND_PATHWISE else 0
    cdef Py_ssize_t nbuf = G * BLOCK + BLOCK + 2 * G + ng + _acc_scratch(kind, P, 1, BLOCK)
    cdef double *xbuf = <double *>malloc(nbuf * sizeof(double))
    cdef double *fbuf
    cdef double *tmp
    cdef double *gbuf
    cdef double *acc
    if st == NULL or bg == NULL or xbuf == NULL:
        for j in range(G):
            rows[j * stride + FS_N] = NAN  # surfaces as a non-finite result
        free(st); free(bg); free(xbuf)
        return
    fbuf = xbuf + G * BLOCK
    tmp = fbuf + BLOCK
    gbuf = tmp + 2 * G
    acc = gbuf + ng
    if m > CHUNK:
        m = CHUNK
    for j in range(G):
        _start_stream(eng, &st[j], &bg[j], key0, key1, c, b * G + j)
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < BLOCK else BLOCK
        for j in range(G):
            _draw(eng, fam, &bg[j], consts + (b * G + j) * nc, nc, 1, xbuf + j * BLOCK, 1, cnt,
                  NULL, 0)
        _eval_joint_f(f, xbuf, BLOCK, G, cnt, b, fbuf, tmp)
        if kind == FS_KIND_SCORE:
            for j in range(G):
                _accumulate_score(eng, fam, consts + (b * G + j) * nc, xbuf + j * BLOCK, 1, fbuf,
                                  1, cnt, rows + j * stride, P, 1, acc)
        else:
            _eval_joint_grad(g, xbuf, BLOCK, G, cnt, b, gbuf, tmp)
            for j in range(G):
                _accumulate_pathwise(eng, fam, consts + (b * G + j) * nc, xbuf + j * BLOCK, 1,
                                     fbuf, 1, gbuf + j * BLOCK, 1, cnt, rows + j * stride, P, 1,
                                     acc)
        done += cnt
    free(st)
    free(bg)
    free(xbuf)


def run_grouped(int kind, int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                int64_t n, Py_ssize_t G, Py_ssize_t P, FunctionSpec fspec, FunctionSpec gspec,
                int n_threads, progress=None, int64_t chunk_start=0, start=None, *, long engine):
    """Moment sums (base batch, row width) of an Independent of a scalar family whose
    joint f (and f') the kernels evaluate: groups of G consecutive base elements
    share one f value per sample.  The rows are the base's, as run_python gives them
    with the same f handed to every coordinate; chunk_start and start continue a
    run as in run_inline.
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
    _check_inputs(fam, consts, n, 1, P, kind)
    if fspec.spec.kind != F_LINEAR and fspec.spec.kind != F_LL_VECTOR:
        raise ValueError("run_grouped evaluates fn.linear and low-level f of the whole event")
    if gspec is not None and gspec.spec.kind != F_LINEAR and gspec.spec.kind != F_LL_GRAD:
        raise ValueError("run_grouped evaluates the f' of fn.linear and low-level grad_f")
    if kind != FS_KIND_SCORE and kind != FS_KIND_PATHWISE:
        raise ValueError("run_grouped runs the score-function and pathwise kinds")
    if kind == FS_KIND_PATHWISE and gspec is None:
        raise ValueError("the pathwise kind needs gspec")
    if G < 1 or consts.shape[0] % G != 0:
        raise ValueError("the batch (%d) must be whole groups of G = %d" % (consts.shape[0], G))
    cdef Py_ssize_t nc = consts.shape[1], batch = consts.shape[0] // G
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef int64_t c0 = _chunk_start(chunk_start, n_chunks)
    cdef int64_t ncr = n_chunks - c0, total = batch * ncr
    cdef int64_t per_item = n if n < CHUNK else CHUNK
    cdef int64_t wave = WAVE_SAMPLES // (per_item * G)
    cdef Py_ssize_t A = _row_width(kind, P), stride = _acc_stride(kind, P)
    cdef int64_t w0, k, cnt, item
    cdef Py_ssize_t j
    cdef int nt
    cdef const FSpec *f = &fspec.spec
    cdef const FSpec *g = &gspec.spec if gspec is not None else NULL
    cdef const double *cp = &consts[0, 0]
    if wave < 1:
        wave = 1
    if wave > total:
        wave = total
    tot = _start_array(start, (batch * G, A), np.float64)
    if total == 0:
        return tot
    cdef double *tp = <double *>cnp.PyArray_DATA(tot)
    cdef double *accs = <double *>calloc(wave * G * stride, sizeof(double))
    if accs == NULL:
        raise MemoryError()
    try:
        w0 = 0
        while w0 < total:
            cnt = total - w0 if total - w0 < wave else wave
            memset(accs, 0, cnt * G * stride * sizeof(double))
            nt = fs_threads_for(n_threads, cnt * per_item * G, cnt)
            with nogil:
                for k in prange(cnt, num_threads=nt, schedule="dynamic"):
                    _grouped_item(eng, kind, fam, cp, nc, key0, key1, n, w0 + k, c0, ncr, G, P, f,
                                  g, accs + k * G * stride, stride)
                for k in range(cnt):   # in chunk order, element by element
                    item = w0 + k
                    for j in range(G):
                        _merge_rows(kind, tp + ((item // ncr) * G + j) * A,
                                    accs + (k * G + j) * stride, P)
            w0 += cnt
            PyErr_CheckSignals()
            if progress is not None:
                progress(w0, total)
    finally:
        free(accs)
    return tot
