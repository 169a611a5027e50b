# The fused loops (included by _kernels.pyx): inline f, Python f, sampling.
#
# A work item is one chunk of one batch element.  It starts its own Philox
# stream (counter [0, 0, chunk, batch element]), draws blocks of samples
# into a stack buffer, evaluates f on each block and folds the block's
# per-sample terms into its own accumulator row.  Rows are merged into the
# totals in chunk order, which keeps a result independent of the number of
# threads.

# The estimator kind (FS_KIND_SCORE, _PATHWISE, _MEASURE, named in
# fastscore/_specs.py) chooses each block's step: what is drawn (samples, or
# samples with their coupled points), what is evaluated (f, f') and which
# per-sample terms are folded into which blocks of the row.

cdef inline Py_ssize_t _row_width(int kind, Py_ssize_t P) noexcept nogil:
    if kind == FS_KIND_SCORE:
        return fs_score_row_width(P)
    if kind == FS_KIND_REBAR:
        return fs_cv_row_width(P)
    if kind == FS_KIND_SCORE_FOLDS:
        return fs_folds_row_width(P)
    return fs_mean_row_width(P)


cdef inline Py_ssize_t _acc_stride(int kind, Py_ssize_t P) noexcept nogil:
    cdef Py_ssize_t A = _row_width(kind, P)
    return ((A + ACC_ALIGN - 1) // ACC_ALIGN) * ACC_ALIGN


cdef inline void _merge_rows(int kind, double *tot, const double *a, Py_ssize_t P) noexcept nogil:
    if kind == FS_KIND_SCORE:
        fs_merge_score_rows(tot, a, P)
    elif kind == FS_KIND_REBAR:
        fs_merge_cv_rows(tot, a, P)
    elif kind == FS_KIND_SCORE_FOLDS:
        fs_merge_fold_rows(tot, a, P)
    else:
        fs_merge_mean_rows(tot, a, P)


cdef inline Py_ssize_t _points(int kind, int fam) noexcept nogil:
    """Points drawn (and f evaluations) per sample."""
    if kind == FS_KIND_MEASURE:
        return _measure_points(fam)
    return 2 if kind == FS_KIND_REBAR else 1


cdef inline Py_ssize_t _values(int kind, int fam) noexcept nogil:
    """Numbers per sample and event coordinate a block of draws holds."""
    if kind == FS_KIND_MEASURE:
        return _measure_points(fam) + (_measure_points(fam) - 1) // 2 * _measure_weighted(fam)
    return 2 if kind == FS_KIND_REBAR else 1


cdef inline void _start_stream(fs_stream *st, bitgen_t *bg, uint64_t key0, uint64_t key1,
                               int64_t c, int64_t b) noexcept nogil:
    fs_stream_init(st, key0, key1, 0, 0, <uint64_t>c, <uint64_t>b)
    fs_stream_bitgen(bg, st)


cdef inline Py_ssize_t _block_size(Py_ssize_t E) noexcept nogil:
    """Samples per block: BLOCK, fewer when events are large."""
    cdef Py_ssize_t blk = BUF_DOUBLES // E
    return BLOCK if blk > BLOCK else blk


cdef void _accumulate_score(int fam, const double *c, const double *x, Py_ssize_t xstride,
                            const double *fx, Py_ssize_t fstride, Py_ssize_t m,
                            double *row, Py_ssize_t P, Py_ssize_t E) noexcept nogil:
    """The score-function estimator's step: fold m samples into a row of sums.

    A sub-block at a time: d = f - shift into a buffer, the family's score
    components (its per-sample terms) into another, then the generic reducer
    (_reduce.h) folds each component into its five sums.
    """
    cdef double stack_work[WORK_DOUBLES]
    cdef double dbuf[BLOCK]
    cdef double *work = stack_work
    cdef Py_ssize_t need = P * BLOCK + P + E, i, j, i0, cnt
    cdef double shift
    if m <= 0:
        return
    if need > WORK_DOUBLES:
        work = <double *>malloc(need * sizeof(double))
        if work == NULL:
            row[FS_N] = NAN  # surfaces as a non-finite result, never as wrong numbers
            return
    if row[FS_N] == 0.0:
        row[FS_SHIFT] = fx[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        if xstride == 1 and fstride == 1 and _score_fold(fam, c, x + i0, fx + i0, shift, cnt,
                                                         row):
            i0 += cnt   # the steps below in one pass, the same bits
            continue
        for i in range(cnt):
            dbuf[i] = fx[(i0 + i) * fstride] - shift
        # terms: P * BLOCK, then the vector families' scratch s (P) and w (E)
        _score_terms(fam, c, E, x + i0 * xstride, xstride, cnt, P, work,
                     work + P * BLOCK, work + P * BLOCK + P)
        fs_fold_value(dbuf, cnt, row)
        for j in range(P):
            fs_fold_score(dbuf, work + j * BLOCK, cnt, row + FS_HEAD_WIDTH + FS_SCORE_WIDTH * j)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m
    if work != stack_work:
        free(work)


cdef void _accumulate_score_folds(int fam, const double *c, const double *x, Py_ssize_t xstride,
                                  const double *fx, Py_ssize_t fstride, Py_ssize_t m,
                                  double *row, Py_ssize_t P, Py_ssize_t E,
                                  int64_t first) noexcept nogil:
    """The cross-fitted score step (method="cv"): m samples, the first of which has
    index ``first`` in its batch element's stream, each folded into the score row
    of its fold (index mod FS_CV_FOLDS) by the score step on that fold's samples."""
    # Segments of the chunk's blocks of BLOCK samples, whatever the caller's
    # pieces (the inline loop's blocks, a Python f's windows): the same folds
    # of the same samples, so the same bits.
    cdef Py_ssize_t W = fs_score_row_width(P), k, i0, mk, seg, s0 = 0
    cdef int64_t pos
    while s0 < m:
        pos = (first + s0) % CHUNK
        seg = <Py_ssize_t>(BLOCK - pos % BLOCK)
        if seg > m - s0:
            seg = m - s0
        for k in range(FS_CV_FOLDS):
            # the segment's first sample in fold k, and how many of them are
            i0 = <Py_ssize_t>((k - (first + s0) % FS_CV_FOLDS + FS_CV_FOLDS) % FS_CV_FOLDS)
            if i0 >= seg:
                continue
            mk = (seg - i0 + FS_CV_FOLDS - 1) // FS_CV_FOLDS
            _accumulate_score(fam, c, x + (s0 + i0) * xstride, xstride * FS_CV_FOLDS,
                              fx + (s0 + i0) * fstride, fstride * FS_CV_FOLDS, mk, row + k * W,
                              P, E)
        s0 += seg


cdef inline void _fold_mean_block(double *row, const double *dbuf, double *terms,
                                  Py_ssize_t cnt, Py_ssize_t P, bint first) noexcept nogil:
    """Fold a sub-block of d = f - shift and of terms[j * BLOCK + i] into a mean-block row.

    ``first``: the row's very first sub-block, whose first terms become the
    blocks' shifts.
    """
    cdef Py_ssize_t j
    cdef double *blk
    fs_fold_value(dbuf, cnt, row)
    for j in range(P):
        blk = row + FS_HEAD_WIDTH + FS_MEAN_WIDTH * j
        if first:
            blk[FS_TERM_SHIFT] = terms[j * BLOCK]
        fs_fold_mean(terms + j * BLOCK, cnt, blk)


cdef double *_work(double *stack_work, Py_ssize_t need) noexcept nogil:
    """Scratch of ``need`` doubles: the stack buffer, or the heap beyond it (NULL if none)."""
    if need <= WORK_DOUBLES:
        return stack_work
    return <double *>malloc(need * sizeof(double))


cdef void _accumulate_pathwise(int fam, const double *c, const double *x, Py_ssize_t xstride,
                               const double *fx, Py_ssize_t fstride, const double *gp,
                               Py_ssize_t gstride, Py_ssize_t m, double *row, Py_ssize_t P,
                               Py_ssize_t E) noexcept nogil:
    """The pathwise estimator's step: value sums of f and, per component, the
    mean of the terms f'(x) dx/dtheta_j (the family's pathwise slot)."""
    cdef double stack_work[WORK_DOUBLES]
    cdef double dbuf[BLOCK]
    cdef double *work = _work(stack_work, P * BLOCK + P + 2 * E)
    cdef Py_ssize_t i, i0, cnt
    cdef double shift
    cdef bint first
    if m <= 0:
        return
    if work == NULL:
        row[FS_N] = NAN  # surfaces as a non-finite result, never as wrong numbers
        return
    first = row[FS_N] == 0.0
    if first:
        row[FS_SHIFT] = fx[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        if xstride == 1 and fstride == 1 and gstride == 1 and _pathwise_fold(
                fam, c, E, x + i0, fx + i0, gp + i0, shift, cnt, P, row, work,
                first and i0 == 0):
            i0 += cnt   # the steps below in one pass, the same bits
            continue
        for i in range(cnt):
            dbuf[i] = fx[(i0 + i) * fstride] - shift
        _pathwise_terms(fam, c, E, x + i0 * xstride, xstride, gp + i0 * gstride, gstride, cnt,
                        P, work, work + P * BLOCK, work + P * BLOCK + P)
        _fold_mean_block(row, dbuf, work, cnt, P, first and i0 == 0)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m
    if work != stack_work:
        free(work)


cdef void _accumulate_measure(const double *fq, Py_ssize_t qstride, Py_ssize_t fstride,
                              const double *w, Py_ssize_t wqstride, Py_ssize_t wstride,
                              Py_ssize_t m, double *row, Py_ssize_t P) noexcept nogil:
    """The measure-valued estimator's step, from f at each sample's points
    (fq[q * qstride + i * fstride]): value sums of f at the sample and, per
    component, the mean of f(x+) - f(x-) (the finish applies the constants c_j),
    times the draw's weight w[j * wqstride + i * wstride] where it has one."""
    cdef double stack_work[WORK_DOUBLES]
    cdef double dbuf[BLOCK]
    cdef double *work = _work(stack_work, P * BLOCK)
    cdef Py_ssize_t i, j, i0, cnt
    cdef double shift
    cdef bint first
    if m <= 0:
        return
    if work == NULL:
        row[FS_N] = NAN
        return
    first = row[FS_N] == 0.0
    if first:
        row[FS_SHIFT] = fq[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        for i in range(cnt):
            dbuf[i] = fq[(i0 + i) * fstride] - shift
        for j in range(P):
            for i in range(cnt):
                work[j * BLOCK + i] = (fq[(1 + 2 * j) * qstride + (i0 + i) * fstride]
                                       - fq[(2 + 2 * j) * qstride + (i0 + i) * fstride])
            if w != NULL:
                for i in range(cnt):
                    work[j * BLOCK + i] = w[j * wqstride + (i0 + i) * wstride] * work[j * BLOCK + i]
        _fold_mean_block(row, dbuf, work, cnt, P, first and i0 == 0)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m
    if work != stack_work:
        free(work)


cdef void _accumulate_rebar(int fam, const double *c, Py_ssize_t E, const double *fv,
                            Py_ssize_t fq, Py_ssize_t fi, const double *gv, Py_ssize_t gq,
                            Py_ssize_t gi, const double *y, Py_ssize_t yq, Py_ssize_t yi,
                            const double *aux, Py_ssize_t astride, Py_ssize_t m, double *row,
                            Py_ssize_t P) noexcept nogil:
    """REBAR's step: value sums of f at the hard sample and, per component, the
    control-variate sums of its terms A and C (the family's rebar slot).

    f at the two f-points is fv[{0, fq} + i * fi]; f' and the relaxed points
    (y, y~) of sample i are at gv and y + {0, gq or yq} + i * (gi or yi).
    """
    cdef double stack_work[WORK_DOUBLES]
    cdef double dbuf[BLOCK]
    cdef double *work = _work(stack_work, 2 * P * BLOCK + 2 * P)
    cdef double *Al
    cdef double *Cl
    cdef double *blk
    cdef Py_ssize_t i, j, i0, cnt
    cdef double shift
    cdef bint first
    if m <= 0:
        return
    if work == NULL:
        row[FS_N] = NAN
        return
    Al = work + 2 * P * BLOCK
    Cl = Al + P
    first = row[FS_N] == 0.0
    if first:
        row[FS_SHIFT] = fv[0]
    shift = row[FS_SHIFT]
    i0 = 0
    while i0 < m:
        cnt = m - i0 if m - i0 < BLOCK else BLOCK
        for i in range(cnt):
            dbuf[i] = fv[(i0 + i) * fi] - shift
            _rebar_terms(fam, c, E, fv[(i0 + i) * fi], fv[fq + (i0 + i) * fi],
                         gv + (i0 + i) * gi, gv + gq + (i0 + i) * gi,
                         y + (i0 + i) * yi, y + yq + (i0 + i) * yi,
                         aux + (i0 + i) * astride, Al, Cl)
            for j in range(P):
                work[j * BLOCK + i] = Al[j]
                work[(P + j) * BLOCK + i] = Cl[j]
        fs_fold_value(dbuf, cnt, row)
        for j in range(P):
            blk = row + FS_HEAD_WIDTH + FS_CV_WIDTH * j
            if first and i0 == 0:
                blk[FS_A_SHIFT] = work[j * BLOCK]
            fs_fold_cv(work + j * BLOCK, work + (P + j) * BLOCK, cnt, blk)
        i0 += cnt
    row[FS_N] = row[FS_N] + <double>m
    if work != stack_work:
        free(work)


cdef void _inline_item(int kind, int fam, const double *consts, Py_ssize_t nc, uint64_t key0,
                       uint64_t key1, int64_t n, int64_t item, int64_t b0, int64_t c0,
                       int64_t ncr, Py_ssize_t E, Py_ssize_t P, const FSpec *f, const FSpec *g,
                       double *row) noexcept nogil:
    """Draw, evaluate f (and f') and accumulate one whole chunk, block by block.

    Item k is chunk c0 + k % ncr of batch element b0 + k // ncr.
    """
    cdef int64_t b = b0 + item // ncr, c = c0 + item % ncr
    cdef int64_t m = n - c * CHUNK, done = 0
    cdef Py_ssize_t Q = _points(kind, fam), blk = _block_size(E * _values(kind, fam)), cnt, q
    cdef fs_stream st
    cdef bitgen_t bg
    cdef double xbuf[BUF_DOUBLES]       # samples; points [q][i] (measure); f-points (rebar)
    cdef double tbuf[BUF_DOUBLES]       # what f sees (families with an f input); f'-points
    cdef double fbuf[BLOCK * MAX_POINTS]
    cdef double gbuf[BUF_DOUBLES]       # f' (pathwise, rebar)
    cdef double *aux = NULL
    cdef const double *cb = consts + b * nc
    cdef const double *src
    cdef bint weighted = kind == FS_KIND_MEASURE and _measure_weighted(fam)
    if m > CHUNK:
        m = CHUNK
    if kind == FS_KIND_REBAR:
        aux = <double *>malloc(blk * (E + 2) * sizeof(double))
        if aux == NULL:
            row[FS_N] = NAN
            return
    _start_stream(&st, &bg, key0, key1, c, b)
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < blk else blk
        if kind == FS_KIND_MEASURE:
            _measure_draw(fam, &bg, cb, nc, xbuf, blk, 1, cnt)
            for q in range(Q):
                _eval_f(f, xbuf + q * blk, 1, cnt, b, fbuf + q * blk)
            _accumulate_measure(fbuf, blk, 1, xbuf + Q * blk if weighted else NULL, blk, 1,
                                cnt, row, P)
        elif kind == FS_KIND_REBAR:
            _rebar_draw(fam, &bg, cb, E, xbuf, tbuf, blk * E, E, aux, E + 2, cnt)
            for q in range(2):
                _eval_f(f, xbuf + q * blk * E, E, cnt, b, fbuf + q * blk)
                _eval_grad_f(g, tbuf + q * blk * E, E, cnt, b, gbuf + q * blk * E)
            _accumulate_rebar(fam, cb, E, fbuf, blk, 1, gbuf, blk * E, E, tbuf, blk * E, E,
                              aux, E + 2, cnt, row, P)
        else:
            _draw(fam, &bg, cb, nc, E, xbuf, E, cnt, tbuf, E)
            src = xbuf
            if _f_input(fam, cb, xbuf, E, E, cnt, tbuf, E):
                src = tbuf
            _eval_f(f, src, E, cnt, b, fbuf)
            if kind == FS_KIND_SCORE:
                _accumulate_score(fam, cb, xbuf, E, fbuf, 1, cnt, row, P, E)
            elif kind == FS_KIND_SCORE_FOLDS:
                _accumulate_score_folds(fam, cb, xbuf, E, fbuf, 1, cnt, row, P, E,
                                        c * CHUNK + done)
            else:
                _eval_grad_f(g, src, E, cnt, b, gbuf)
                _accumulate_pathwise(fam, cb, xbuf, E, fbuf, 1, gbuf, E, cnt, row, P, E)
        done += cnt
    free(aux)


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
        slot = {FS_KIND_SCORE: SCORE_FAMILIES, FS_KIND_SCORE_FOLDS: SCORE_FAMILIES,
                FS_KIND_PATHWISE: PATHWISE_FAMILIES,
                FS_KIND_MEASURE: MEASURE_POINTS, FS_KIND_REBAR: REBAR_FAMILIES}.get(kind)
        if slot is None:
            raise ValueError("no estimator kind with id %d" % kind)
        if fam not in slot:
            raise ValueError("kernel family %d has no compiled slot for estimator kind %d"
                             % (fam, kind))
        if P < 1 or P > (1 << 20):
            raise ValueError("score size %d out of range" % P)
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
               bint per_chunk=False):
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
    _check_inputs(fam, consts, n, E, P, kind)
    if (kind == FS_KIND_PATHWISE or kind == FS_KIND_REBAR) and gspec is None:
        raise ValueError("the pathwise and rebar kinds need gspec")
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
    cdef int64_t wave = WAVE_SAMPLES // (per_item * E * _points(kind, fam))
    cdef Py_ssize_t A = _row_width(kind, P), stride = _acc_stride(kind, P)
    cdef int64_t w0, k, cnt, item
    cdef int nt
    cdef const FSpec *f = &fspec.spec
    cdef const FSpec *g = &gspec.spec if gspec is not None else NULL
    cdef const double *cp = &consts[0, 0]
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
    if accs == NULL:
        raise MemoryError()
    try:
        w0 = 0
        while w0 < total:
            cnt = total - w0 if total - w0 < wave else wave
            memset(accs, 0, cnt * stride * sizeof(double))
            nt = fs_threads_for(n_threads, cnt * per_item, cnt)
            with nogil:
                for k in prange(cnt, num_threads=nt, schedule="dynamic"):
                    _inline_item(kind, fam, cp, nc, key0, key1, n, w0 + k, b0, c0, ncr, E, P, f,
                                 g, accs + k * stride)
                for k in range(cnt):
                    item = w0 + k
                    if per_chunk:  # rows in (element, chunk) order: item's own slot
                        memcpy(tp + item * A, accs + k * stride, A * sizeof(double))
                    else:
                        _merge_rows(kind, tp + (item // ncr) * A, accs + k * stride, P)
            w0 += cnt
            PyErr_CheckSignals()
            if progress is not None:
                progress(w0, total)
    finally:
        free(accs)
    return tot


def run_python(int kind, int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
               int64_t n, Py_ssize_t E, Py_ssize_t P, call_f, call_grad, int n_threads,
               int64_t budget, progress=None, int64_t chunk_start=0, start=None,
               int64_t chunk_stop=-1, bint per_chunk=False):
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
    _check_inputs(fam, consts, n, E, P, kind)
    if (kind == FS_KIND_PATHWISE or kind == FS_KIND_REBAR) and call_grad is None:
        raise ValueError("the pathwise and rebar kinds need call_grad")
    if per_chunk and start is not None:
        raise ValueError("per_chunk rows start from nothing (start must be None)")
    cdef Py_ssize_t batch = consts.shape[0], nc = consts.shape[1]
    cdef Py_ssize_t Q = _points(kind, fam), Qv = _values(kind, fam)
    cdef bint weighted = kind == FS_KIND_MEASURE and _measure_weighted(fam)
    cdef int64_t window = 1, cpw, n_items, s0, m_w, k, b, it, c, off, clen, cnt, row
    cdef Py_ssize_t A = _row_width(kind, P), stride = _acc_stride(kind, P)
    cdef Py_ssize_t qstride
    cdef int nt
    cdef const double *cp = &consts[0, 0]
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
    xw = np.empty((Qv, window, batch, E), dtype=np.float64)
    cdef double[:, :, :, ::1] xv = xw
    # what f sees where the family has an f input; REBAR's f'-points
    tw = xw
    cdef bint transform = kind != FS_KIND_MEASURE and kind != FS_KIND_REBAR and _f_input(
        fam, cp, NULL, 0, E, 0, NULL, 0)
    if transform or kind == FS_KIND_REBAR:
        tw = np.empty((Qv, window, batch, E), dtype=np.float64)
    cdef double[:, :, :, ::1] tv = tw
    aw = np.empty((window, batch, E + 2), dtype=np.float64) if kind == FS_KIND_REBAR \
        else np.empty((1, 1, 1), dtype=np.float64)
    cdef double[:, :, ::1] av = aw
    cdef const double[:, ::1] fv  # f may hand back its (read-only) input
    cdef const double[:, :, ::1] gv
    cdef double *accs = <double *>calloc(n_items * stride, sizeof(double))
    cdef fs_stream *states = <fs_stream *>calloc(n_items, sizeof(fs_stream))
    cdef bitgen_t *bgs = <bitgen_t *>calloc(n_items, sizeof(bitgen_t))
    cdef int64_t *item_off = <int64_t *>calloc(n_items, sizeof(int64_t))
    cdef int64_t *item_cnt = <int64_t *>calloc(n_items, sizeof(int64_t))
    cdef int64_t *item_row = <int64_t *>calloc(n_items, sizeof(int64_t))
    if accs == NULL or states == NULL or bgs == NULL or item_off == NULL or item_cnt == NULL or item_row == NULL:
        free(accs); free(states); free(bgs); free(item_off); free(item_cnt); free(item_row)
        raise MemoryError()
    try:
        s0 = c0 * CHUNK
        while s0 < s_end:
            m_w = s_end - s0 if s_end - s0 < window else window
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
                        _start_stream(&states[it], &bgs[it], key0, key1, c, b)
                        memset(accs + it * stride, 0, stride * sizeof(double))
            nt = fs_threads_for(n_threads, m_w * batch * Q, n_items)
            with nogil:
                for it in prange(n_items, num_threads=nt, schedule="static"):
                    if item_cnt[it] > 0:
                        if kind == FS_KIND_MEASURE:
                            _measure_draw(fam, &bgs[it], cp + (it // cpw) * nc, nc,
                                          &xv[0, item_row[it], it // cpw, 0], window * batch * E,
                                          batch * E, item_cnt[it])
                        elif kind == FS_KIND_REBAR:
                            _rebar_draw(fam, &bgs[it], cp + (it // cpw) * nc, E,
                                        &xv[0, item_row[it], it // cpw, 0],
                                        &tv[0, item_row[it], it // cpw, 0], window * batch * E,
                                        batch * E, &av[item_row[it], it // cpw, 0],
                                        batch * (E + 2), item_cnt[it])
                        else:
                            _draw(fam, &bgs[it], cp + (it // cpw) * nc, nc, E,
                                  &xv[0, item_row[it], it // cpw, 0], batch * E, item_cnt[it],
                                  &tv[0, item_row[it], it // cpw, 0], batch * E)
                            if transform:
                                _f_input(fam, cp + (it // cpw) * nc,
                                         &xv[0, item_row[it], it // cpw, 0], batch * E, E,
                                         item_cnt[it], &tv[0, item_row[it], it // cpw, 0],
                                         batch * E)
            if kind == FS_KIND_MEASURE or kind == FS_KIND_REBAR:
                # every point of the window's samples in one call, point-major
                fv = call_f(xw[:Q, :m_w].reshape(Q * m_w, batch, E))
                qstride = m_w * batch
                if kind == FS_KIND_REBAR:
                    gv = call_grad(tw[:, :m_w].reshape(2 * m_w, batch, E))
            else:
                fv = call_f(tw[0, :m_w])
                qstride = 0
                if kind == FS_KIND_PATHWISE:
                    gv = call_grad(tw[0, :m_w])
            with nogil:
                for it in prange(n_items, num_threads=nt, schedule="static"):
                    if item_cnt[it] > 0:
                        if kind == FS_KIND_SCORE:
                            _accumulate_score(fam, cp + (it // cpw) * nc,
                                              &xv[0, item_row[it], it // cpw, 0], batch * E,
                                              &fv[item_row[it], it // cpw], batch,
                                              item_cnt[it], accs + it * stride, P, E)
                        elif kind == FS_KIND_SCORE_FOLDS:
                            # the window's first sample is s0, its k-th chunk's k CHUNK later
                            _accumulate_score_folds(fam, cp + (it // cpw) * nc,
                                                    &xv[0, item_row[it], it // cpw, 0],
                                                    batch * E, &fv[item_row[it], it // cpw],
                                                    batch, item_cnt[it], accs + it * stride,
                                                    P, E, s0 + (it % cpw) * CHUNK)
                        elif kind == FS_KIND_PATHWISE:
                            _accumulate_pathwise(fam, cp + (it // cpw) * nc,
                                                 &xv[0, item_row[it], it // cpw, 0], batch * E,
                                                 &fv[item_row[it], it // cpw], batch,
                                                 &gv[item_row[it], it // cpw, 0], batch * E,
                                                 item_cnt[it], accs + it * stride, P, E)
                        elif kind == FS_KIND_MEASURE:
                            _accumulate_measure(&fv[item_row[it], it // cpw], qstride, batch,
                                                &xv[Q, item_row[it], it // cpw, 0] if weighted
                                                else NULL, window * batch * E, batch * E,
                                                item_cnt[it], accs + it * stride, P)
                        else:
                            _accumulate_rebar(fam, cp + (it // cpw) * nc, E,
                                              &fv[item_row[it], it // cpw], qstride, batch,
                                              &gv[item_row[it], it // cpw, 0], qstride * E,
                                              batch * E, &tv[0, item_row[it], it // cpw, 0],
                                              window * batch * E, batch * E,
                                              &av[item_row[it], it // cpw, 0], batch * (E + 2),
                                              item_cnt[it], accs + it * stride, P)
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
    return tot


cdef void _draw_item(int fam, const double *consts, Py_ssize_t nc, uint64_t key0,
                     uint64_t key1, int64_t n, int64_t b, int64_t c, Py_ssize_t E,
                     double *out, Py_ssize_t row_stride) noexcept nogil:
    """Chunk c of batch element b, to out[i * row_stride]."""
    cdef int64_t m = n - c * CHUNK
    cdef fs_stream st
    cdef bitgen_t bg
    if m > CHUNK:
        m = CHUNK
    _start_stream(&st, &bg, key0, key1, c, b)
    _draw(fam, &bg, consts + b * nc, nc, E, out, row_stride, m, NULL, 0)


def draw_samples(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
                 int64_t n, Py_ssize_t E, int n_threads, int64_t chunk_start=0,
                 int64_t chunk_stop=-1, int64_t batch_start=0, int64_t batch_stop=-1):
    """Samples (n, batch_size, E) exactly as the estimators draw them.

    A piece: samples [chunk_start * CHUNK_SIZE, min(n, chunk_stop * CHUNK_SIZE))
    of batch elements [batch_start, batch_stop), shape (samples, elements, E).
    """
    _check_inputs(fam, consts, n, E)
    cdef Py_ssize_t nc = consts.shape[1]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK, c0, c1, b0, b1
    c0, c1 = _range("chunk", chunk_start, chunk_stop, n_chunks)
    b0, b1 = _range("batch", batch_start, batch_stop, consts.shape[0])
    cdef Py_ssize_t batch = b1 - b0
    cdef int64_t ncr = c1 - c0, total = batch * ncr, k, b, c
    cdef int64_t first = c0 * CHUNK, last = c1 * CHUNK if c1 * CHUNK < n else n
    cdef int nt = fs_threads_for(n_threads, (last - first) * batch, total)
    cdef const double *cp = &consts[0, 0]
    out = np.empty((max(last - first, 0), batch, E), dtype=np.float64)
    if total == 0:
        return out
    cdef double[:, :, ::1] ov = out
    cdef double *op = &ov[0, 0, 0]
    with nogil:
        for k in prange(total, num_threads=nt, schedule="static"):
            b = k // ncr
            c = c0 + k % ncr
            _draw_item(fam, cp, nc, key0, key1, n, b0 + b, c, E,
                       op + ((c - c0) * CHUNK * batch + b) * E, batch * E)
    return out
