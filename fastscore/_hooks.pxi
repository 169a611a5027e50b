# Test and benchmark hooks (included by _kernels.pyx): entry points that no
# estimate uses, exposing pieces of the kernels to the tests (the merge, the
# raw Philox stream, the engine as the kernels decode it) and to the
# benchmarks (the sampling floor).  They change nothing: the kernels hold no
# mutable state, and the engine (ISAs, fused paths) is an argument of every
# entry point (fastscore._engine chooses it).

def merge_sums(double[::1] tot, const double[::1] a, Py_ssize_t P):
    """The kernel's chunk merge, from Python (tests check _moments.merge against it)."""
    if tot.shape[0] != fs_score_row_width(P) or a.shape[0] != fs_score_row_width(P):
        raise ValueError("tot and a must be rows of %d sums" % fs_score_row_width(P))
    fs_merge_score_rows(&tot[0], &a[0], P)


#: The ISAs of _isa.h, by their index (every one gives the same bits).
STREAM_ISAS = ("portable", "avx2", "avx512")
ISAS = STREAM_ISAS
#: The build's cap of the Philox refill chosen by default (FS_STREAM_ISA_DEFAULT).
STREAM_ISA_DEFAULT = ISAS[FS_STREAM_ISA_DEFAULT]


def isa_max():
    """The best ISAs this CPU and build have, by name: (the reducer's loops', the
    Philox refills'), e.g. ("avx512", "avx512").  fastscore._engine caps its
    choices at them."""
    return ISAS[fs_reduce_isa_max()], ISAS[fs_stream_isa_max()]


def engine_code(int stream_isa, int reduce_isa, bint score_fold, bint pathwise_fold,
                bint mvn_fused, bint fresh_windows):
    """The packed engine (an int) of these choices, as every kernel entry point takes
    it (``engine=``): fastscore._engine.Engine.code."""
    cdef fs_engine e
    e.stream_isa = stream_isa
    e.reduce_isa = reduce_isa
    e.score_fold = score_fold
    e.pathwise_fold = pathwise_fold
    e.mvn_fused = mvn_fused
    e.fresh_windows = fresh_windows
    return fs_engine_encode(&e)


def engine_fields(long engine):
    """What a kernel call with ``engine`` runs: the engine decoded as the entry
    points decode it (its ISAs capped at the CPU's), as a dict of ints."""
    cdef fs_engine e = fs_engine_decode(engine)
    return {"stream_isa": e.stream_isa, "reduce_isa": e.reduce_isa,
            "score_fold": e.score_fold, "pathwise_fold": e.pathwise_fold,
            "mvn_fused": e.mvn_fused, "fresh_windows": e.fresh_windows}


def stream_refill(long engine):
    """The refill (by name) of a chunk's stream as the loops start it with ``engine``
    (_start_stream): for tests that the engine reaches the streams."""
    cdef fs_engine e = fs_engine_decode(engine)
    cdef fs_stream st
    cdef bitgen_t bg
    _start_stream(&e, &st, &bg, 1, 2, 0, 0)
    return ISAS[fs_stream_get_refill(&st)]


def philox_raw(uint64_t key0, uint64_t key1, counter, Py_ssize_t n, str kind="uint64", *,
               long engine=-1):
    """Raw output of the kernel's Philox4x64-10 stream (for tests against numpy), with the
    refill of ``engine`` (a packed engine; -1: the stream's automatic choice)."""
    cdef fs_stream st
    cdef Py_ssize_t i
    c = np.asarray(counter, dtype=np.uint64)
    fs_stream_init(&st, key0, key1, c[0], c[1], c[2], c[3])
    if engine >= 0:
        fs_stream_set_refill(&st, fs_engine_decode(engine).stream_isa)
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


cdef void _floor_item(const fs_engine *eng, int kind, int fam, const double *consts, Py_ssize_t nc,
                      uint64_t key0, uint64_t key1, int64_t n, int64_t item, int64_t n_chunks,
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
    _start_stream(eng, &st, &bg, key0, key1, c, b)
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < blk else blk
        if kind == FS_KIND_MEASURE:
            _measure_draw(fam, &bg, consts + b * nc, nc, xbuf, blk, 1, cnt)
        else:
            _draw(eng, fam, &bg, consts + b * nc, nc, E, xbuf, E, cnt, tbuf, E)
        done += cnt
    free(xbuf)


def sampling_floor(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                   int64_t n, Py_ssize_t E, int n_threads, int kind=FS_KIND_SCORE, *,
                   long engine):
    """Draw the estimators' samples block by block and do nothing else.

    The benchmarks' floor: the cost of numpy's C sampler on the same Philox
    streams, with the same chunking and threads as the fused loop.  With
    ``kind`` the measure-valued kernel id, the samples and their coupled
    points (that estimator's draws).
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
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
            _floor_item(eng, kind, fam, cp, nc, key0, key1, n, k, n_chunks, E)


def measure_samples(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                    int64_t n, *, long engine=-1):
    """The measure-valued draws (Q, n, batch_size): each sample's points, then any
    weights.  For tests against the NumPy twins.  ``engine``: a packed engine (-1,
    every bit set: the CPU's best ISAs, everything fused)."""
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
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
            _start_stream(eng, &st, &bg, key0, key1, c, b)
            _measure_draw(fam, &bg, &consts[b, 0], nc, &ov[0, c * CHUNK, b], n * batch, batch, m)
    return out


def rebar_samples(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                  int64_t n, Py_ssize_t E, *, long engine=-1):
    """REBAR's draws for tests: f-points (2, n, batch, E), f'-points (2, n, batch, E)
    and aux values (n, batch, E + 2), chunk by chunk as the estimator draws them.
    ``engine``: as measure_samples."""
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
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
            _start_stream(eng, &st, &bg, key0, key1, c, b)
            _rebar_draw(fam, &bg, &consts[b, 0], E, &fv[0, c * CHUNK, b, 0],
                        &gv[0, c * CHUNK, b, 0], n * batch * E, batch * E,
                        &av[c * CHUNK, b, 0], batch * (E + 2), m)
    return fpts, gpts, aux
