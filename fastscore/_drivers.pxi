# The fused loops (included by _kernels.pyx): inline f, Python f, sampling.
#
# A work item is one chunk of one batch element.  It starts its own Philox
# stream (counter [0, 0, chunk, batch element]), draws blocks of samples
# into a buffer, evaluates f on each block and folds the block's per-sample
# terms into its own accumulator row.  Rows are merged into the totals in
# chunk order, which keeps a result independent of the number of threads.
#
# Buffers live on the heap, never on the stack: one scratch arena per thread
# and call (_item_scratch doubles), so that a kernel call runs on a thread
# with a small stack (musl's 128 KiB default, OMP_STACKSIZE=128K; issue 24).
# Long items are cut into spans of whole blocks between interrupt checks,
# with the chunk's stream and row kept between spans: the same blocks, so
# the same bits.
#
# The engine (fastscore._engine: ISAs, fused paths) arrives at each entry
# point as ``engine=`` (packed), is decoded once into an fs_engine (_isa.h)
# and goes down every loop as its first argument, ``const fs_engine *eng``:
# the streams take eng.stream_isa, the folds and block loops eng.reduce_isa.
# Nothing here is global or mutable, so calls with different engines may run
# at the same time.

# The estimator kind (FS_KIND_*, a row of fastscore/_specs.py's KIND_BLOCKS)
# chooses each block's step: what is drawn (samples, or samples with their
# coupled points), what is evaluated (f, f') and which per-sample terms are
# folded into which blocks of the row.  Its steps are its own file,
# fastscore/kinds/<kind>.pxi, reached through the dispatchers the template
# generates from the table (_kind_block, _window_draw, _row_width, ...).

cdef inline Py_ssize_t _acc_stride(int kind, Py_ssize_t P) noexcept nogil:
    cdef Py_ssize_t A = _row_width(kind, P)
    return ((A + ACC_ALIGN - 1) // ACC_ALIGN) * ACC_ALIGN


cdef inline void _start_stream(const fs_engine *eng, fs_stream *st, bitgen_t *bg, uint64_t key0,
                               uint64_t key1, int64_t c, int64_t b) noexcept nogil:
    fs_stream_init(st, key0, key1, 0, 0, <uint64_t>c, <uint64_t>b)
    fs_stream_set_refill(st, eng.stream_isa)
    fs_stream_bitgen(bg, st)


cdef inline Py_ssize_t _block_size(Py_ssize_t E) noexcept nogil:
    """Samples per block: BLOCK, fewer when events are large."""
    cdef Py_ssize_t blk = BUF_DOUBLES // E
    return BLOCK if blk > BLOCK else blk


cdef inline Py_ssize_t _al(Py_ssize_t k) noexcept nogil:
    """k doubles rounded up to whole 64-byte cache lines."""
    return (k + 7) & ~(<Py_ssize_t>7)


cdef inline Py_ssize_t _terms_stride(Py_ssize_t m) noexcept nogil:
    """The stride ts of a step's per-sample terms (terms[j * ts + i]) for m samples:
    a sub-block holds at most BLOCK of them, and a step of fewer samples keeps
    its P components' terms together (MultivariateNormal's P is ~D^2 / 2)."""
    return BLOCK if m > BLOCK else (m if m > 0 else 1)


cdef Py_ssize_t _acc_scratch(int kind, Py_ssize_t P, Py_ssize_t E, Py_ssize_t ts) noexcept nogil:
    """Doubles of scratch an accumulate step of at most ts samples per sub-block
    needs: d = f - shift (ts), then the per-sample terms and their scratch."""
    return _al(ts) + _al(_kind_scratch(kind, P, E, ts))


cdef inline void _fold_mean_block(const fs_engine *eng, double *row, const double *dbuf,
                                  double *terms, Py_ssize_t ts, Py_ssize_t cnt, Py_ssize_t P,
                                  bint first) noexcept nogil:
    """Fold a sub-block of d = f - shift and of terms[j * ts + i] into a mean-block row.

    ``first``: the row's very first sub-block, whose first terms become the
    blocks' shifts.
    """
    cdef Py_ssize_t j
    cdef double *blk
    fs_fold_value(eng.reduce_isa, dbuf, cnt, row)
    for j in range(P):
        blk = row + FS_HEAD_WIDTH + FS_MEAN_WIDTH * j
        if first:
            blk[FS_TERM_SHIFT] = terms[j * ts]
        fs_fold_mean(eng.reduce_isa, terms + j * ts, cnt, blk)


cdef inline bint _any_nonfinite(const fs_engine *eng, const double *x,
                                Py_ssize_t m) noexcept nogil:
    """Is one of x[0..m) inf or nan?  (_rowops.h: a vectorised OR-reduced compare.)"""
    return fs_row_nonfinite(eng.reduce_isa, x, m)


cdef inline void _flag(int64_t *bad, int64_t b) noexcept nogil:
    """Note batch element b's non-finite draw in a thread's slot (the first one)."""
    if bad[0] == 0:
        bad[0] = b + 1


cdef object _raise_overflow(int64_t *bad, int count):
    """Raise SampleOverflowError for the smallest element flagged in bad[0..count)."""
    cdef int t
    cdef int64_t first = 0
    for t in range(count):
        if bad[t] != 0 and (first == 0 or bad[t] < first):
            first = bad[t]
    if first != 0:
        raise _SampleOverflowError(first - 1)


cdef inline int64_t _sample_cost(int kind, int fam, Py_ssize_t E, Py_ssize_t P) noexcept nogil:
    """Work of one sample of an estimator step, in units of a scalar draw: its
    draws, and a quarter per score or pathwise component (a fold of five sums
    runs at about four per draw).  Sizes the waves between interrupt checks."""
    return _draw_cost(fam, E) * _points(kind, fam) + P // 4


cdef Py_ssize_t _item_scratch(int kind, int fam, Py_ssize_t E, Py_ssize_t P) noexcept nogil:
    """Doubles of heap scratch _inline_span needs (one arena per thread)."""
    cdef Py_ssize_t blk = _block_size(E * _values(kind, fam))
    cdef Py_ssize_t aux = _kind_aux(kind, blk, E)
    return 3 * BUF_DOUBLES + _al(BLOCK * MAX_POINTS) + aux + _acc_scratch(kind, P, E, blk)


cdef void _inline_span(const fs_engine *eng, int kind, int fam, const double *cb, Py_ssize_t nc,
                       bitgen_t *bg, int64_t b, int64_t m, Py_ssize_t E, Py_ssize_t P,
                       const FSpec *f, const FSpec *g, double *row, double *scratch, int64_t *bad,
                       int64_t first) noexcept nogil:
    """Draw, evaluate f (and f') and accumulate the next m samples of a chunk of
    batch element b (constants cb, stream bg), block by block.

    A chunk's blocks start at its first sample, so a chunk cut into spans of
    whole blocks gives the same bits as one span.  ``scratch``: _item_scratch
    doubles.  A sample f would see that is not a finite double (the
    parameters put draws beyond the float64 range) flags b in *bad and ends
    the span: the caller raises SampleOverflowError.  ``first``: the span's
    first sample's index in the batch element's stream (cv's folds).
    """
    cdef Py_ssize_t blk = _block_size(E * _values(kind, fam)), cnt
    cdef int64_t done = 0
    cdef double *xbuf = scratch                 # samples; points [q][i] (measure); f-points (rebar)
    cdef double *tbuf = xbuf + BUF_DOUBLES      # what f sees (families with an f input); f'-points
    cdef double *gbuf = tbuf + BUF_DOUBLES      # f' (pathwise, rebar)
    cdef double *fbuf = gbuf + BUF_DOUBLES      # f: BLOCK * MAX_POINTS
    cdef double *aux = fbuf + _al(BLOCK * MAX_POINTS)   # the kind's aux draws (rebar)
    cdef double *acc = aux + _kind_aux(kind, blk, E)
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < blk else blk
        # the kind's step (fastscore/kinds/<kind>.pxi), inline
        if not _kind_block(eng, kind, fam, cb, nc, bg, b, cnt, blk, E, P, f, g, row, xbuf, tbuf,
                           gbuf, fbuf, aux, acc, first + done):
            _flag(bad, b)
            return
        done += cnt


cdef void _inline_item(const fs_engine *eng, int kind, int fam, const double *consts,
                       Py_ssize_t nc, uint64_t key0, uint64_t key1, int64_t n, int64_t item,
                       int64_t b0, int64_t c0, int64_t ncr, Py_ssize_t E, Py_ssize_t P,
                       const FSpec *f, const FSpec *g, double *row, double *scratch, fs_stream *st,
                       bitgen_t *bg, int64_t lo, int64_t span, int64_t *bad) noexcept nogil:
    """Samples [lo, lo + span) of item k: chunk c0 + k % ncr of batch element b0 + k // ncr.

    The chunk's stream is (st, bg), started at lo = 0 and kept between its
    spans; st NULL: a stream of this call (the whole chunk in one span).
    ``scratch`` NULL (no memory) makes the row NaN: a non-finite result,
    never wrong numbers.
    """
    cdef int64_t b = b0 + item // ncr, c = c0 + item % ncr
    cdef int64_t m = n - c * CHUNK
    cdef fs_stream own
    cdef bitgen_t own_bg
    if m > CHUNK:
        m = CHUNK
    if lo >= m:
        return
    if scratch == NULL:
        row[FS_N] = NAN
        return
    if st == NULL:
        st, bg = &own, &own_bg
    if lo == 0:
        _start_stream(eng, st, bg, key0, key1, c, b)
    if m - lo > span:
        m = lo + span
    if bad[0] != 0:
        return   # an overflow was seen: the call raises
    _inline_span(eng, kind, fam, consts + b * nc, nc, bg, b, m - lo, E, P, f, g, row, scratch, bad,
                 c * CHUNK + lo)


cdef inline double *_arena(double **arenas, int t, Py_ssize_t size) noexcept nogil:
    """Thread t's scratch arena, allocated on its first use (NULL: no memory)."""
    if arenas[t] == NULL:
        arenas[t] = <double *>malloc(size * sizeof(double))
    return arenas[t]


cdef void _free_arenas(double **arenas, int count) noexcept nogil:
    cdef int t
    if arenas != NULL:
        for t in range(count):
            free(arenas[t])
        free(arenas)


cdef inline int64_t _span_for(int64_t cost, Py_ssize_t blk) noexcept nogil:
    """Samples of one item per wave: WAVE_SAMPLES units of work, in whole blocks."""
    cdef int64_t span = (WAVE_UNITS // cost) // blk * blk
    return span if span > blk else blk


def _chunk_start(int64_t chunk_start, int64_t n_chunks):
    if chunk_start < 0 or chunk_start > n_chunks:
        raise ValueError("chunk_start must be in [0, %d], got %d" % (n_chunks, chunk_start))
    return chunk_start


def _range(str what, int64_t lo, int64_t hi, int64_t size):
    """[lo, hi) within [0, size]; hi < 0 means size."""
    if hi < 0:
        hi = size
    if lo < 0 or lo > hi or hi > size:
        raise ValueError("%s range [%d, %d) must lie within [0, %d]" % (what, lo, hi, size))
    return lo, hi


def merge_chunk_rows(int kind, double[:, ::1] tot, const double[:, :, ::1] rows, Py_ssize_t P):
    """Fold per-chunk rows (batch, chunks, row width) into tot (batch, row width), in chunk order.

    The merge the kernels do as chunks complete: a run's rows from
    ``per_chunk=True`` pieces, folded in order, give its merged result bit for bit.
    """
    cdef Py_ssize_t B = rows.shape[0], k = rows.shape[1], A = _row_width(kind, P), b, c
    if tot.shape[0] != B or tot.shape[1] != A or rows.shape[2] != A:
        raise ValueError("tot must be (%d, %d) and rows (%d, chunks, %d)" % (B, A, B, A))
    with nogil:
        for b in range(B):
            for c in range(k):
                _merge_rows(kind, &tot[b, 0], &rows[b, c, 0], P)


def score_sums(int kind, int fam, const double[:, ::1] consts, const double[:, :, ::1] x,
               const double[:, ::1] fx, Py_ssize_t P, int n_threads, *, long engine):
    """Moment sums of given samples: the score-function step (kind FS_KIND_SCORE, or
    FS_KIND_SCORE_FOLDS for cv) of x (m, batch, E) and f values fx (m, batch), a
    chunk of CHUNK samples at a time, merged in chunk order per batch element:
    the sums an estimate with a Python f gives on the same samples, bit for bit
    (its windows cut chunks into whole blocks, which change nothing).  Any
    n_threads gives the same bits (batch elements are independent rows).
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
    if kind != FS_KIND_SCORE and kind != FS_KIND_SCORE_FOLDS:
        raise ValueError("score_sums takes the score-function kinds only")
    cdef Py_ssize_t m = x.shape[0], batch = x.shape[1], E = x.shape[2], nc = consts.shape[1]
    if fx.shape[0] != m or fx.shape[1] != batch or consts.shape[0] != batch:
        raise ValueError("x (m, batch, E), fx (m, batch) and consts (batch, n) disagree")
    if m == 0 or batch == 0:
        return np.zeros((batch, _row_width(kind, P)), dtype=np.float64)
    _check_inputs(fam, consts, m, E, P, kind)
    cdef Py_ssize_t A = _row_width(kind, P), stride = _acc_stride(kind, P)
    cdef Py_ssize_t size = _acc_scratch(kind, P, E, _terms_stride(CHUNK)) + stride
    cdef int slots = n_threads if n_threads > 1 else 1, nt, t
    cdef int64_t n_chunks = (m + CHUNK - 1) // CHUNK, b, c, mc
    tot = np.zeros((batch, A), dtype=np.float64)
    cdef double *tp = <double *>cnp.PyArray_DATA(tot)
    cdef double *sc
    cdef double *acc
    cdef bint oom = False
    cdef const double *cp = &consts[0, 0]
    cdef double **arenas = <double **>calloc(slots, sizeof(double *))
    if arenas == NULL:
        raise MemoryError()
    nt = fs_threads_for(n_threads, batch * m * (P // 4 + E), batch)
    try:
        with nogil:
            for b in prange(batch, num_threads=nt, schedule="static"):
                t = threadid()
                sc = _arena(arenas, t, size)
                if sc == NULL:
                    oom = True
                    continue
                acc = sc + size - stride   # the chunk's row, after the step's scratch
                for c in range(n_chunks):
                    mc = m - c * CHUNK if m - c * CHUNK < CHUNK else CHUNK
                    memset(acc, 0, stride * sizeof(double))
                    if kind == FS_KIND_SCORE:
                        _accumulate_score(eng, fam, cp + b * nc, &x[c * CHUNK, b, 0], batch * E,
                                          &fx[c * CHUNK, b], batch, mc, acc, P, E, sc)
                    else:
                        _accumulate_score_folds(eng, fam, cp + b * nc, &x[c * CHUNK, b, 0],
                                                batch * E, &fx[c * CHUNK, b], batch, mc, acc,
                                                P, E, c * CHUNK, sc)
                    _merge_rows(kind, tp + b * A, acc, P)
    finally:
        _free_arenas(arenas, slots)
    if oom:
        raise MemoryError()
    return tot


def _start_array(start, shape, dtype, bint touch=False):
    """A fresh accumulator array: zeros, or a copy of the sums so far.

    ``touch`` writes its pages here, on the calling thread: faulted in by the
    threads of a parallel loop that does little per row (counting a few
    samples), a batched policy gradient's (1e5, 8) counts and finish took up
    to 2x longer on 2 cores; rows that cost a chunk of samples each do not
    gain from it.
    """
    if start is None:
        if not touch:
            return np.zeros(shape, dtype=dtype)
        arr = np.empty(shape, dtype=dtype)
        arr.fill(0)
        return arr
    arr = np.array(start, dtype=dtype, order="C", copy=True)
    if arr.shape != shape:
        raise ValueError("start must have shape %s, got %s" % (shape, arr.shape))
    return arr


def _check_inputs(int fam, const double[:, ::1] consts, int64_t n, Py_ssize_t E,
                  Py_ssize_t P=-1, int kind=FS_KIND_SCORE):
    if fam < 0 or fam >= N_FAMILIES:
        raise ValueError("no kernel family with id %d" % fam)
    if P >= 0:
        slot = KIND_FAMILIES.get(kind)
        if slot is None:
            raise ValueError("no estimator kind with id %d" % kind)
        if fam not in slot:
            raise ValueError("kernel family %d has no compiled slot for estimator kind %d"
                             % (fam, kind))
        if P < 1 or P > (1 << 22):   # MultivariateNormal's largest event (2048) has 2,100,224
            raise ValueError("gradient components per sample: %d, out of the range 1..%d"
                             % (P, 1 << 22))
    if consts.shape[0] < 1:
        raise ValueError("empty batch")
    if n < 1:
        raise ValueError("n must be >= 1")
    if E < 1 or E > BUF_DOUBLES // 2:
        raise ValueError("event size %d not supported (1..%d)" % (E, BUF_DOUBLES // 2))


def run_inline(int kind, int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
               int64_t n, Py_ssize_t E, Py_ssize_t P, FunctionSpec fspec, FunctionSpec gspec,
               int n_threads, progress=None, int64_t chunk_start=0, start=None,
               int64_t chunk_stop=-1, int64_t batch_start=0, int64_t batch_stop=-1,
               bint per_chunk=False, *, long engine):
    """Moment sums (batch_size, row width) with f (and f') evaluated inline in the kernel.

    ``kind`` is the estimator kind's kernel id; ``gspec`` the f' of the
    pathwise kind (None for the others).  Samples [chunk_start * CHUNK_SIZE,
    n) are folded, in chunk order, into ``start`` (the sums of the samples
    before them) or into zeros, so a run continued wave by wave equals one
    run over all n samples.

    A piece of a run: chunks [chunk_start, chunk_stop) of batch elements
    [batch_start, batch_stop) (-1: to the end; the streams and f's batch
    index are the elements' own).  ``per_chunk`` returns every chunk's row
    unmerged, (elements, chunks, row width); merge_chunk_rows folds them in
    order into exactly what one run gives.
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
    _check_inputs(fam, consts, n, E, P, kind)
    if kind in GRAD_KINDS and gspec is None:
        raise ValueError("kernel kind %d evaluates f' and needs gspec" % kind)
    if per_chunk and start is not None:
        raise ValueError("per_chunk rows start from nothing (start must be None)")
    cdef Py_ssize_t nc = consts.shape[1]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef int64_t c0 = _chunk_start(chunk_start, n_chunks), c1, b0, b1
    c0, c1 = _range("chunk", c0, chunk_stop, n_chunks)
    b0, b1 = _range("batch", batch_start, batch_stop, consts.shape[0])
    cdef Py_ssize_t batch = b1 - b0
    cdef int64_t ncr = c1 - c0
    cdef int64_t total = batch * ncr
    cdef int64_t per_item = n if n < CHUNK else CHUNK
    cdef Py_ssize_t blk = _block_size(E * _values(kind, fam))
    cdef int64_t cost = _sample_cost(kind, fam, E, P)
    cdef int64_t span = _span_for(cost, blk), wave, lo, work
    cdef bint split = span < per_item
    cdef Py_ssize_t A = _row_width(kind, P), stride = _acc_stride(kind, P)
    cdef Py_ssize_t size = _item_scratch(kind, fam, E, P)
    cdef int64_t w0, k, cnt, item
    cdef int nt, t, slots = n_threads if n_threads > 1 else 1
    cdef const FSpec *f = &fspec.spec
    cdef const FSpec *g = &gspec.spec if gspec is not None else NULL
    cdef const double *cp = &consts[0, 0]
    if split:
        # a chunk is more than a wave's work: a wave is a span of `slots` items
        wave = slots
    else:
        span = per_item
        wave = WAVE_UNITS // (per_item * cost)
        if wave < 1:
            wave = 1
    if wave > total:
        wave = total
    if per_chunk:
        tot = np.zeros((batch, ncr, A), dtype=np.float64)
    else:
        tot = _start_array(start, (batch, A), np.float64)
    if total == 0:
        return tot
    cdef double *tp = <double *>cnp.PyArray_DATA(tot)
    cdef double *accs = <double *>calloc(wave * stride, sizeof(double))
    cdef double **arenas = <double **>calloc(slots, sizeof(double *))
    cdef int64_t *bad = <int64_t *>calloc(slots, sizeof(int64_t))   # per thread: overflows
    cdef fs_stream *sts = NULL
    cdef bitgen_t *bgs = NULL
    if split:
        sts = <fs_stream *>calloc(wave, sizeof(fs_stream))
        bgs = <bitgen_t *>calloc(wave, sizeof(bitgen_t))
    if accs == NULL or arenas == NULL or bad == NULL or (split and (sts == NULL or bgs == NULL)):
        free(accs); free(arenas); free(bad); free(sts); free(bgs)
        raise MemoryError()
    try:
        w0 = 0
        while w0 < total:
            cnt = total - w0 if total - w0 < wave else wave
            memset(accs, 0, cnt * stride * sizeof(double))
            lo = 0
            while lo < per_item:
                work = cnt * per_item if not split else cnt * span * cost
                nt = fs_threads_for(n_threads, work, cnt)
                with nogil:
                    for k in prange(cnt, num_threads=nt, schedule="dynamic"):
                        t = threadid()
                        _inline_item(eng, kind, fam, cp, nc, key0, key1, n, w0 + k, b0, c0, ncr, E,
                                     P, f, g, accs + k * stride, _arena(arenas, t, size),
                                     &sts[k] if split else NULL, &bgs[k] if split else NULL,
                                     lo, span, &bad[t])
                lo += span
                _raise_overflow(bad, slots)
                PyErr_CheckSignals()
                if progress is not None and lo < per_item:
                    progress(w0 * per_item + cnt * lo, total * per_item)
            with nogil:
                for k in range(cnt):
                    item = w0 + k
                    if per_chunk:  # rows in (element, chunk) order: item's own slot
                        memcpy(tp + item * A, accs + k * stride, A * sizeof(double))
                    else:
                        _merge_rows(kind, tp + (item // ncr) * A, accs + k * stride, P)
            w0 += cnt
            if progress is not None:
                progress(w0, total)
    finally:
        free(accs); free(sts); free(bgs); free(bad)
        _free_arenas(arenas, slots)
    return tot


cdef object _wave_buffer(tuple shape):
    """An uninitialised float64 array of ``shape`` starting on a 64-byte boundary: what a
    Python f gets of it (a JAX f through DLPack, which wants that alignment to share
    memory instead of copying) starts there too."""
    cdef Py_ssize_t size = 1, k
    for k in shape:
        size *= k
    raw = np.empty(size + 8, dtype=np.float64)
    cdef Py_ssize_t off = ((-<Py_ssize_t>cnp.PyArray_DATA(raw)) & 63) // 8
    return raw[off:off + size].reshape(shape)


def run_python(int kind, int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
               int64_t n, Py_ssize_t E, Py_ssize_t P, call_f, call_grad, int n_threads,
               int64_t budget, progress=None, int64_t chunk_start=0, start=None,
               int64_t chunk_stop=-1, bint per_chunk=False, *, long engine):
    """Moment sums with f (and f') computed in Python on waves of samples.

    Each wave holds `window` samples of every batch element (a power of two
    chosen from `budget`, the number of doubles one wave may hold), aligned
    so that a window lies inside one chunk or covers whole chunks.  A chunk's
    stream and accumulator persist across windows, so the sums are those of
    the inline path on the same samples.  call_f(x) gets x of shape
    (m, batch_size, E) and returns f as float64 (m, batch_size); for the
    measure-valued kind x holds every sample's points, point-major (m = Q
    window).  call_grad(x) (the pathwise kind) returns f' as float64 (m,
    batch_size, E).  chunk_start and start continue a run as in run_inline;
    chunk_stop and per_chunk give a piece of a run as there (f sees the whole
    batch, so a piece spans every batch element).
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
    _check_inputs(fam, consts, n, E, P, kind)
    if kind in GRAD_KINDS and call_grad is None:
        raise ValueError("kernel kind %d evaluates f' and needs call_grad" % kind)
    if per_chunk and start is not None:
        raise ValueError("per_chunk rows start from nothing (start must be None)")
    cdef Py_ssize_t batch = consts.shape[0], nc = consts.shape[1]
    cdef Py_ssize_t Q = _points(kind, fam), Qv = _values(kind, fam), W = _aux_width(kind, E)
    cdef int64_t window = 1, cpw, n_items, s0, m_w, k, b, it, c, off, clen, cnt, row
    cdef Py_ssize_t A = _row_width(kind, P), stride = _acc_stride(kind, P)
    cdef Py_ssize_t qstride, size, gs0 = 0, gs1 = 0, fs0 = 0
    cdef int nt, t, slots = n_threads if n_threads > 1 else 1
    cdef const double *cp = &consts[0, 0]
    cdef double *sc
    cdef int64_t c0 = _chunk_start(chunk_start, (n + CHUNK - 1) // CHUNK), c1, s_end
    c0, c1 = _range("chunk", c0, chunk_stop, (n + CHUNK - 1) // CHUNK)
    s_end = c1 * CHUNK if c1 * CHUNK < n else n
    while window * 2 * batch * E * Qv <= budget and window < n:
        window *= 2
    if window >= CHUNK:
        window = (window // CHUNK) * CHUNK
    cpw = window // CHUNK if window >= CHUNK else 1
    n_items = batch * cpw
    if per_chunk:
        tot = np.zeros((batch, c1 - c0, A), dtype=np.float64)
    else:
        tot = _start_array(start, (batch, A), np.float64)
    cdef double *tp = <double *>cnp.PyArray_DATA(tot)
    # the window's draws: samples, or points (then weights), or REBAR's f-points
    xw = _wave_buffer((Qv, window, batch, E))
    cdef double[:, :, :, ::1] xv = xw
    # the kind's second buffer: what f sees where the family has an f input; REBAR's
    # f'-points
    tw = xw
    cdef bint separate = _window_t(kind, fam, cp, E)
    if separate:
        tw = _wave_buffer((Qv, window, batch, E))
    cdef double[:, :, :, ::1] tv = tw
    # the kind's aux values per sample (REBAR's), if any
    aw = np.empty((window, batch, W), dtype=np.float64) if W > 0 \
        else np.empty((1, 1, 1), dtype=np.float64)
    cdef double[:, :, ::1] av = aw
    cdef const double[:, ::1] fv  # f may hand back its (read-only) input
    cdef const double[:, :, ::1] gv
    cdef const double *fp
    cdef const double *gp = NULL
    cdef double *accs = <double *>calloc(n_items * stride, sizeof(double))
    cdef fs_stream *states = <fs_stream *>calloc(n_items, sizeof(fs_stream))
    cdef bitgen_t *bgs = <bitgen_t *>calloc(n_items, sizeof(bitgen_t))
    cdef int64_t *item_off = <int64_t *>calloc(n_items, sizeof(int64_t))
    cdef int64_t *item_cnt = <int64_t *>calloc(n_items, sizeof(int64_t))
    cdef int64_t *item_row = <int64_t *>calloc(n_items, sizeof(int64_t))
    cdef double **arenas = <double **>calloc(slots, sizeof(double *))
    # an accumulate step's scratch: one arena per thread, for the most samples of a step
    size = _acc_scratch(kind, P, E, _terms_stride(window if window < CHUNK else CHUNK))
    # spans and item groups of about WAVE_UNITS of work between interrupt checks
    cdef int64_t maxcnt = window if window < CHUNK else CHUNK, g0, g1, lo, r, sn
    cdef int64_t dcost = _draw_cost(fam, E) * Qv, acost = P // 4 + E * Q
    cdef int64_t dspan = _span_for(dcost, _block_size(E * Qv)), aspan = _span_for(acost, BLOCK)
    if dspan > maxcnt:
        dspan = maxcnt
    if aspan > maxcnt:
        aspan = maxcnt
    cdef int64_t dgroup = WAVE_UNITS // (dspan * dcost), agroup = WAVE_UNITS // (aspan * acost)
    if dgroup < slots:
        dgroup = slots
    if agroup < slots:
        agroup = slots
    if accs == NULL or states == NULL or bgs == NULL or item_off == NULL or item_cnt == NULL or item_row == NULL or arenas == NULL:
        free(accs); free(states); free(bgs); free(item_off); free(item_cnt); free(item_row)
        free(arenas)
        raise MemoryError()
    try:
        s0 = c0 * CHUNK
        while s0 < s_end:
            m_w = s_end - s0 if s_end - s0 < window else window
            if s0 > c0 * CHUNK and eng.fresh_windows:
                # Fresh arrays for every window after the first: a Python f that
                # keeps its (read-only) argument keeps that window's samples,
                # never finds them overwritten by the next window's.
                xw = _wave_buffer((Qv, window, batch, E))
                xv = xw
                if separate:
                    tw = _wave_buffer((Qv, window, batch, E))
                else:
                    tw = xw
                tv = tw
            # Plan the items of this window: item (b, k) covers chunk c, offset off.
            for b in range(batch):
                for k in range(cpw):
                    it = b * cpw + k
                    if window >= CHUNK:
                        c = s0 // CHUNK + k
                        off = 0
                        row = k * CHUNK
                        cnt = n - c * CHUNK
                        if cnt > CHUNK:
                            cnt = CHUNK
                        if cnt < 0 or c >= c1:
                            cnt = 0
                    else:
                        c = s0 // CHUNK
                        off = s0 % CHUNK
                        row = 0
                        cnt = m_w
                    item_off[it] = off
                    item_cnt[it] = cnt
                    item_row[it] = row
                    if cnt > 0 and off == 0:
                        _start_stream(eng, &states[it], &bgs[it], key0, key1, c, b)
                        memset(accs + it * stride, 0, stride * sizeof(double))
            # The window's draws, then its accumulate steps, each in spans of
            # whole blocks (draws: the estimator's blocks; steps: their
            # sub-blocks of BLOCK samples) over groups of items, with an
            # interrupt check between spans: the same calls' bits.
            g0 = 0
            while g0 < n_items:
                g1 = g0 + dgroup if n_items - g0 > dgroup else n_items
                lo = 0
                while lo < maxcnt:
                    nt = fs_threads_for(n_threads, (g1 - g0) * dspan * dcost, g1 - g0)
                    with nogil:
                        for it in prange(g0, g1, num_threads=nt, schedule="static"):
                            if item_cnt[it] > lo:
                                r = item_row[it] + lo
                                sn = item_cnt[it] - lo
                                if sn > dspan:
                                    sn = dspan
                                # the kind's draw (fastscore/kinds/<kind>.pxi)
                                _window_draw(eng, kind, fam, &bgs[it], cp + (it // cpw) * nc, nc,
                                             E, &xv[0, r, it // cpw, 0], &tv[0, r, it // cpw, 0],
                                             window * batch * E, batch * E,
                                             &av[r, it // cpw, 0] if W > 0 else NULL,
                                             batch * W, sn)
                    lo += dspan
                    PyErr_CheckSignals()
                g0 = g1
            # the kind's f (and f') of the window, in Python
            fo, go, qstride = _window_eval(eng, kind, xw, tw, Q, m_w, batch, E, call_f, call_grad)
            fv = fo
            fp, fs0 = &fv[0, 0], fv.strides[0] // sizeof(double)
            if go is not None:
                gv = go
                gp, gs0, gs1 = &gv[0, 0, 0], gv.strides[0] // sizeof(double), \
                    gv.strides[1] // sizeof(double)
            g0 = 0
            while g0 < n_items:
                g1 = g0 + agroup if n_items - g0 > agroup else n_items
                lo = 0
                while lo < maxcnt:
                    nt = fs_threads_for(n_threads, (g1 - g0) * aspan * acost, g1 - g0)
                    with nogil:
                        for it in prange(g0, g1, num_threads=nt, schedule="static"):
                            t = threadid()
                            sc = _arena(arenas, t, size)
                            if item_cnt[it] > lo and sc == NULL:
                                accs[it * stride + FS_N] = NAN  # no memory: a non-finite result
                            elif item_cnt[it] > lo:
                                r = item_row[it] + lo
                                sn = item_cnt[it] - lo
                                if sn > aspan:
                                    sn = aspan
                                # the kind's fold (fastscore/kinds/<kind>.pxi); the
                                # window's first sample is s0, its k-th chunk's k CHUNK
                                # later (item_row), this span's lo later
                                _window_step(eng, kind, fam, cp + (it // cpw) * nc, E, P,
                                             &xv[0, r, it // cpw, 0], &tv[0, r, it // cpw, 0],
                                             &av[r, it // cpw, 0] if W > 0 else NULL,
                                             window * batch * E, batch * E, batch * W,
                                             fp + r * fs0 + it // cpw, qstride, batch,
                                             gp + r * gs0 + (it // cpw) * gs1 if gp != NULL
                                             else NULL, batch * E, sn, accs + it * stride,
                                             s0 + item_row[it] + lo, sc)
                    lo += aspan
                    PyErr_CheckSignals()
                g0 = g1
            # Merge the chunks this window completed, in chunk order.
            for b in range(batch):
                for k in range(cpw):
                    it = b * cpw + k
                    if item_cnt[it] > 0:
                        c = (s0 // CHUNK + k) if window >= CHUNK else s0 // CHUNK
                        clen = n - c * CHUNK
                        if clen > CHUNK:
                            clen = CHUNK
                        if item_off[it] + item_cnt[it] >= clen:
                            if per_chunk:
                                memcpy(tp + (b * (c1 - c0) + c - c0) * A, accs + it * stride,
                                       A * sizeof(double))
                            else:
                                _merge_rows(kind, tp + b * A, accs + it * stride, P)
            s0 += m_w
            PyErr_CheckSignals()
            if progress is not None:
                progress(s0, s_end)
    finally:
        free(accs); free(states); free(bgs); free(item_off); free(item_cnt); free(item_row)
        _free_arenas(arenas, slots)
    return tot


cdef void _draw_item(const fs_engine *eng, int fam, const double *consts, Py_ssize_t nc,
                     uint64_t key0, uint64_t key1, int64_t n, int64_t b, int64_t c, Py_ssize_t E,
                     double *out, Py_ssize_t row_stride, fs_stream *st, bitgen_t *bg, int64_t lo,
                     int64_t span, int64_t *bad) noexcept nogil:
    """Samples [lo, lo + span) of chunk c of batch element b, sample i to
    out[i * row_stride] (out: the chunk's sample 0).

    The chunk's stream is (st, bg), started at lo = 0 and kept between its
    spans (lo a multiple of the block size, as the estimators draw); st NULL:
    a stream of this call (the whole chunk in one span).  A draw that is not
    a finite double flags b in *bad (the caller raises SampleOverflowError).
    """
    cdef int64_t m = n - c * CHUNK, i
    cdef fs_stream own
    cdef bitgen_t own_bg
    if m > CHUNK:
        m = CHUNK
    if lo >= m:
        return
    if st == NULL:
        st, bg = &own, &own_bg
    if lo == 0:
        _start_stream(eng, st, bg, key0, key1, c, b)
    if m - lo > span:
        m = lo + span
    _draw(eng, fam, bg, consts + b * nc, nc, E, out + lo * row_stride, row_stride, m - lo, NULL, 0)
    if row_stride == E:
        if _any_nonfinite(eng, out + lo * E, (m - lo) * E):
            _flag(bad, b)
        return
    for i in range(lo, m):
        if _any_nonfinite(eng, out + i * row_stride, E):
            _flag(bad, b)
            return


def draw_samples(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                 int64_t n, Py_ssize_t E, int n_threads, int64_t chunk_start=0,
                 int64_t chunk_stop=-1, int64_t batch_start=0, int64_t batch_stop=-1, *,
                 long engine):
    """Samples (n, batch_size, E) exactly as the estimators draw them.

    A piece: samples [chunk_start * CHUNK_SIZE, min(n, chunk_stop * CHUNK_SIZE))
    of batch elements [batch_start, batch_stop), shape (samples, elements, E).
    Drawn in waves of about WAVE_SAMPLES units of work, with an interrupt
    check between them (a chunk of costly events in spans of whole blocks).
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
    _check_inputs(fam, consts, n, E)
    cdef Py_ssize_t nc = consts.shape[1]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK, c0, c1, b0, b1
    c0, c1 = _range("chunk", chunk_start, chunk_stop, n_chunks)
    b0, b1 = _range("batch", batch_start, batch_stop, consts.shape[0])
    cdef Py_ssize_t batch = b1 - b0
    cdef int64_t ncr = c1 - c0, total = batch * ncr, k, b, c, w0, cnt, lo
    cdef int64_t first = c0 * CHUNK, last = c1 * CHUNK if c1 * CHUNK < n else n
    cdef int64_t per_item = n if n < CHUNK else CHUNK
    cdef int64_t cost = _draw_cost(fam, E)
    cdef int64_t span = _span_for(cost, _block_size(E)), wave
    cdef bint split = span < per_item
    cdef int nt, t, slots = n_threads if n_threads > 1 else 1
    cdef const double *cp = &consts[0, 0]
    out = np.empty((max(last - first, 0), batch, E), dtype=np.float64)
    if total == 0:
        return out
    if split:
        wave = slots
    else:
        span = per_item
        wave = WAVE_UNITS // (per_item * cost)
        if wave < 1:
            wave = 1
    if wave > total:
        wave = total
    cdef double[:, :, ::1] ov = out
    cdef double *op = &ov[0, 0, 0]
    cdef fs_stream *sts = NULL
    cdef bitgen_t *bgs = NULL
    cdef int64_t *bad = <int64_t *>calloc(slots, sizeof(int64_t))   # per thread: overflows
    if split:
        sts = <fs_stream *>calloc(wave, sizeof(fs_stream))
        bgs = <bitgen_t *>calloc(wave, sizeof(bitgen_t))
    if bad == NULL or (split and (sts == NULL or bgs == NULL)):
        free(sts); free(bgs); free(bad)
        raise MemoryError()
    try:
        w0 = 0
        while w0 < total:
            cnt = total - w0 if total - w0 < wave else wave
            lo = 0
            while lo < per_item:
                nt = fs_threads_for(n_threads, cnt * (span if split else per_item) * cost, cnt)
                with nogil:
                    for k in prange(cnt, num_threads=nt, schedule="static"):
                        t = threadid()
                        b = (w0 + k) // ncr
                        c = c0 + (w0 + k) % ncr
                        _draw_item(eng, fam, cp, nc, key0, key1, n, b0 + b, c, E,
                                   op + ((c - c0) * CHUNK * batch + b) * E, batch * E,
                                   &sts[k] if split else NULL, &bgs[k] if split else NULL,
                                   lo, span, &bad[t])
                lo += span
                _raise_overflow(bad, slots)
                PyErr_CheckSignals()
            w0 += cnt
    finally:
        free(sts); free(bgs); free(bad)
    return out
