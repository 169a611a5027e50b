# Test and benchmark hooks (included by _kernels.pyx): entry points that no
# estimate uses, exposing pieces of the kernels to the tests (the merge, the
# raw Philox stream, the choice of its refill) and to the benchmarks (the
# sampling floor).

def merge_sums(double[::1] tot, const double[::1] a, Py_ssize_t P):
    """The kernel's chunk merge, from Python (tests check _moments.merge against it)."""
    if tot.shape[0] != fs_score_row_width(P) or a.shape[0] != fs_score_row_width(P):
        raise ValueError("tot and a must be rows of %d sums" % fs_score_row_width(P))
    fs_merge_score_rows(&tot[0], &a[0], P)


#: The Philox refills of _stream.h, by their index (all give the same words).
STREAM_ISAS = ("portable", "avx2", "avx512")


def stream_isa():
    """(refill in use, refills this CPU and build have): e.g. ("avx2", ("portable", "avx2"))."""
    return STREAM_ISAS[fs_stream_get_isa()], STREAM_ISAS[:fs_stream_isa_max() + 1]


def set_stream_isa(str name):
    """Use the Philox refill ``name`` from now on (capped at the CPU's best); returns
    the one in use.  For tests and benchmarks: call it while nothing draws."""
    if name not in STREAM_ISAS:
        raise ValueError("refill must be one of %s, got %r" % (", ".join(STREAM_ISAS), name))
    return STREAM_ISAS[fs_stream_set_isa(STREAM_ISAS.index(name))]


def reduce_isa():
    """(folds in use, folds this CPU and build have): the reducer's lane loops, as
    ``stream_isa`` (every one gives the same bits)."""
    return STREAM_ISAS[fs_reduce_isa], STREAM_ISAS[:fs_reduce_isa_max() + 1]


def set_reduce_isa(str name):
    """Use the reducer's ``name`` loops from now on (capped at the CPU's best), in the
    kernels (folds and block loops) and in the finish (_finish's one-hot rows); returns
    the ones in use.  For tests and benchmarks: call it while nothing runs."""
    if name not in STREAM_ISAS:
        raise ValueError("folds must be one of %s, got %r" % (", ".join(STREAM_ISAS), name))
    from fastscore import _finish   # its one-hot finish follows the same choice
    _finish._set_reduce_isa(STREAM_ISAS.index(name))
    return STREAM_ISAS[fs_reduce_set_isa(STREAM_ISAS.index(name))]


def set_mvn_fused(bint on):
    """Whether MultivariateNormal's draw, score terms and pathwise terms for
    events of 2 to 4 run as fused vector loops over the samples (the default)
    or as the per-event steps and row steps of any E; returns the previous
    choice.  The two give the same bits; for tests: call it while nothing runs."""
    global fs_mvn_small_on
    cdef bint was = fs_mvn_small_on
    fs_mvn_small_on = on
    return was


def set_score_fold(bint on):
    """Whether the scalar families with a fused score-function step (their
    score_fold slot, _foldsteps.h) use it (the default) or the steps one by one
    (d, the score terms, the folds); returns the previous choice.  The two give
    the same bits; for tests: call it while nothing runs."""
    global fs_score_fold_on
    cdef bint was = fs_score_fold_on
    fs_score_fold_on = on
    return was


def set_pathwise_fold(bint on):
    """As set_score_fold, for the scalar families' fused pathwise step (their
    pathwise_fold slot); returns the previous choice."""
    global fs_pathwise_fold_on
    cdef bint was = fs_pathwise_fold_on
    fs_pathwise_fold_on = on
    return was


def philox_raw(uint64_t key0, uint64_t key1, counter, Py_ssize_t n, str kind="uint64"):
    """Raw output of the kernel's Philox4x64-10 stream (for tests against numpy)."""
    cdef fs_stream st
    cdef Py_ssize_t i
    c = np.asarray(counter, dtype=np.uint64)
    fs_stream_init(&st, key0, key1, c[0], c[1], c[2], c[3])
    if kind == "uint64":
        out64 = np.empty(n, dtype=np.uint64)
        for i in range(n):
            out64[i] = fs_next64(&st)
        return out64
    if kind == "uint32":
        out32 = np.empty(n, dtype=np.uint32)
        for i in range(n):
            out32[i] = fs_next32(&st)
        return out32
    if kind == "double":
        outd = np.empty(n, dtype=np.float64)
        for i in range(n):
            outd[i] = fs_next_double(&st)
        return outd
    raise ValueError("kind must be 'uint64', 'uint32' or 'double'")


cdef void _floor_item(int kind, int fam, const double *consts, Py_ssize_t nc, uint64_t key0,
                      uint64_t key1, int64_t n, int64_t item, int64_t n_chunks,
                      Py_ssize_t E) noexcept nogil:
    cdef int64_t b = item // n_chunks, c = item % n_chunks
    cdef int64_t m = n - c * CHUNK, done = 0
    cdef Py_ssize_t blk = _block_size(E * _values(kind, fam)), cnt
    cdef fs_stream st
    cdef bitgen_t bg
    cdef double *xbuf = <double *>malloc(2 * BUF_DOUBLES * sizeof(double))   # heap, not stack
    cdef double *tbuf = xbuf + BUF_DOUBLES   # what f sees, for families whose draw writes it
    if xbuf == NULL:
        return
    if m > CHUNK:
        m = CHUNK
    _start_stream(&st, &bg, key0, key1, c, b)
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < blk else blk
        if kind == FS_KIND_MEASURE:
            _measure_draw(fam, &bg, consts + b * nc, nc, xbuf, blk, 1, cnt)
        else:
            _draw(fam, &bg, consts + b * nc, nc, E, xbuf, E, cnt, tbuf, E)
        done += cnt
    free(xbuf)


def sampling_floor(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                   int64_t n, Py_ssize_t E, int n_threads, int kind=FS_KIND_SCORE):
    """Draw the estimators' samples block by block and do nothing else.

    The benchmarks' floor: the cost of numpy's C sampler on the same Philox
    streams, with the same chunking and threads as the fused loop.  With
    ``kind`` the measure-valued kernel id, the samples and their coupled
    points (that estimator's draws).
    """
    _check_inputs(fam, consts, n, E)
    if kind == FS_KIND_MEASURE and fam not in MEASURE_POINTS:
        raise ValueError("kernel family %d has no measure-valued draw" % fam)
    cdef Py_ssize_t batch = consts.shape[0], nc = consts.shape[1]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef int64_t total = batch * n_chunks, k
    cdef int64_t per_item = n if n < CHUNK else CHUNK
    cdef int nt = fs_threads_for(n_threads, total * per_item, total)
    cdef const double *cp = &consts[0, 0]
    with nogil:
        for k in prange(total, num_threads=nt, schedule="dynamic"):
            _floor_item(kind, fam, cp, nc, key0, key1, n, k, n_chunks, E)


def measure_samples(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                    int64_t n):
    """The measure-valued draws (Q, n, batch_size): each sample's points, then any
    weights.  For tests against the NumPy twins."""
    if fam not in MEASURE_POINTS:
        raise ValueError("kernel family %d has no measure-valued draw" % fam)
    _check_inputs(fam, consts, n, 1)
    cdef Py_ssize_t batch = consts.shape[0], nc = consts.shape[1], Q = MEASURE_VALUES[fam]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK, k, b, c, m
    cdef fs_stream st
    cdef bitgen_t bg
    out = np.empty((Q, n, batch), dtype=np.float64)
    cdef double[:, :, ::1] ov = out
    for b in range(batch):
        for c in range(n_chunks):
            m = n - c * CHUNK
            if m > CHUNK:
                m = CHUNK
            _start_stream(&st, &bg, key0, key1, c, b)
            _measure_draw(fam, &bg, &consts[b, 0], nc, &ov[0, c * CHUNK, b], n * batch, batch, m)
    return out


def rebar_samples(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                  int64_t n, Py_ssize_t E):
    """REBAR's draws for tests: f-points (2, n, batch, E), f'-points (2, n, batch, E)
    and aux values (n, batch, E + 2), chunk by chunk as the estimator draws them."""
    if fam not in REBAR_FAMILIES:
        raise ValueError("kernel family %d has no REBAR draws" % fam)
    _check_inputs(fam, consts, n, E)
    cdef Py_ssize_t batch = consts.shape[0]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK, b, c, m
    cdef fs_stream st
    cdef bitgen_t bg
    fpts = np.empty((2, n, batch, E), dtype=np.float64)
    gpts = np.empty((2, n, batch, E), dtype=np.float64)
    aux = np.empty((n, batch, E + 2), dtype=np.float64)
    cdef double[:, :, :, ::1] fv = fpts, gv = gpts
    cdef double[:, :, ::1] av = aux
    for b in range(batch):
        for c in range(n_chunks):
            m = n - c * CHUNK
            if m > CHUNK:
                m = CHUNK
            _start_stream(&st, &bg, key0, key1, c, b)
            _rebar_draw(fam, &bg, &consts[b, 0], E, &fv[0, c * CHUNK, b, 0],
                        &gv[0, c * CHUNK, b, 0], n * batch * E, batch * E,
                        &av[c * CHUNK, b, 0], batch * (E + 2), m)
    return fpts, gpts, aux
