# Finite supports, counted (included by _kernels.pyx).  For a family on a
# finite support, f and the score depend on x alone, so per-chunk counts of
# each support value are a sufficient statistic: the loop draws and counts,
# and the finish computes every moment exactly from the counts.

cdef void _count_above(fs_stream *st, const double *t, Py_ssize_t nt, int64_t m,
                       int64_t *above) noexcept nogil:
    # above[j] += #{u >= t[j]} over the next m uniforms u of the stream.  The
    # categorical index of u is the number of cdf entries <= u, so counts of
    # each category are differences of these: compare-and-add loops that
    # vectorise, with no per-sample store to a counter.
    cdef double ubuf[BLOCK]
    cdef double tj
    cdef Py_ssize_t i, j, cnt
    cdef int64_t done = 0, c
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < BLOCK else BLOCK
        for i in range(cnt):
            ubuf[i] = fs_next_double(st)
        for j in range(nt):
            tj = t[j]
            c = 0
            for i in range(cnt):
                c += ubuf[i] >= tj
            above[j] += c
        done += cnt


cdef void _count_item(const fs_engine *eng, int fam, const double *consts, Py_ssize_t nc,
                      uint64_t key0, uint64_t key1, int64_t n, int64_t item, int64_t b0,
                      int64_t c0, int64_t ncr, Py_ssize_t n_support,
                      int64_t *counts) noexcept nogil:
    cdef int64_t b = b0 + item // ncr, c = c0 + item % ncr
    cdef int64_t m = n - c * CHUNK, done = 0
    cdef Py_ssize_t cnt, i, v
    cdef fs_stream st
    cdef bitgen_t bg
    cdef double xbuf[BLOCK]
    cdef int64_t local[COUNT_LANES * LOCAL_COUNTS]
    cdef const double *cb = consts + b * nc
    if m > CHUNK:
        m = CHUNK
    _start_stream(eng, &st, &bg, key0, key1, c, b)
    if _count_by_threshold(fam, &st, cb, nc, m, counts, local):
        return
    if n_support > LOCAL_COUNTS:
        while done < m:
            cnt = <Py_ssize_t>(m - done) if m - done < BLOCK else BLOCK
            _draw(eng, fam, &bg, cb, nc, 1, xbuf, 1, cnt, NULL, 0)
            for i in range(cnt):
                counts[<Py_ssize_t>xbuf[i]] += 1
            done += cnt
        return
    # Count into private arrays and add them to the shared row once, so that
    # threads do not write to neighbouring counters sample after sample.
    # Consecutive samples go to different lanes: an increment then rarely
    # waits for the previous one to the same counter.
    memset(local, 0, COUNT_LANES * n_support * sizeof(int64_t))
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < BLOCK else BLOCK
        _draw(eng, fam, &bg, cb, nc, 1, xbuf, 1, cnt, NULL, 0)
        for i in range(cnt):
            local[(i % COUNT_LANES) * n_support + <Py_ssize_t>xbuf[i]] += 1
        done += cnt
    for i in range(COUNT_LANES):
        for v in range(n_support):
            counts[v] += local[i * n_support + v]


cdef void _count_item_folds(const fs_engine *eng, int fam, const double *consts, Py_ssize_t nc,
                            uint64_t key0, uint64_t key1, int64_t n, int64_t item, int64_t b0,
                            int64_t c0, int64_t ncr, Py_ssize_t n_support,
                            int64_t *counts) noexcept nogil:
    # Counts per fold (the cross-fitted cv): counts[k * n_support + v] counts
    # the samples equal to v whose index in the stream is k mod FS_CV_FOLDS.
    # The same draws as fs.sample (and as the counts by threshold).
    cdef int64_t b = b0 + item // ncr, c = c0 + item % ncr
    cdef int64_t m = n - c * CHUNK, done = 0
    cdef Py_ssize_t cnt, i
    cdef int k
    cdef fs_stream st
    cdef bitgen_t bg
    cdef double xbuf[BLOCK]
    cdef const double *cb = consts + b * nc
    if m > CHUNK:
        m = CHUNK
    _start_stream(eng, &st, &bg, key0, key1, c, b)
    k = <int>((c * CHUNK) % FS_CV_FOLDS)
    while done < m:
        cnt = <Py_ssize_t>(m - done) if m - done < BLOCK else BLOCK
        _draw(eng, fam, &bg, cb, nc, 1, xbuf, 1, cnt, NULL, 0)
        for i in range(cnt):
            counts[k * n_support + <Py_ssize_t>xbuf[i]] += 1
            k = k + 1
            if k == FS_CV_FOLDS:
                k = 0
        done += cnt


def run_counts(int fam, const double[:, ::1] consts, uint64_t key0, uint64_t key1,
               int64_t n, Py_ssize_t n_support, int n_threads, progress=None,
               int64_t chunk_start=0, start=None, int64_t chunk_stop=-1, int64_t batch_start=0,
               int64_t batch_stop=-1, bint folds=False, *, long engine):
    """Counts (batch_size, n_support) of each support value over all n samples.

    With ``folds`` (the score function's cross-fitted cv), counts per fold:
    (batch_size, FS_CV_FOLDS * n_support), fold k's counts at [k * n_support,
    (k + 1) * n_support), fold k holding the samples whose index in the
    stream is k mod FS_CV_FOLDS.

    Counts are integers, so their sum does not depend on the order of chunks.
    chunk_start and start continue a run as in run_inline; chunk_stop,
    batch_start and batch_stop count a piece of it (elements [batch_start,
    batch_stop), rows in that order).
    """
    cdef fs_engine engine_ = fs_engine_decode(engine)
    cdef const fs_engine *eng = &engine_   # the caller's engine, down every loop
    _check_inputs(fam, consts, n, 1)
    cdef Py_ssize_t nc = consts.shape[1]
    cdef int64_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef int64_t c0 = _chunk_start(chunk_start, n_chunks), c1, b0, b1
    c0, c1 = _range("chunk", c0, chunk_stop, n_chunks)
    b0, b1 = _range("batch", batch_start, batch_stop, consts.shape[0])
    cdef Py_ssize_t batch = b1 - b0
    cdef int64_t ncr = c1 - c0
    cdef int64_t total = batch * ncr
    cdef int64_t per_item = n if n < CHUNK else CHUNK
    cdef int64_t wave = WAVE_SAMPLES // per_item
    cdef int64_t w0, k, cnt, item, v
    cdef int nt
    cdef const double *cp = &consts[0, 0]
    cdef bint direct = ncr == 1
    cdef Py_ssize_t n_values = n_support
    if folds:
        n_support = n_support * FS_CV_FOLDS
    if wave < 1:
        wave = 1
    if wave > total:
        wave = total
    counts = _start_array(start, (batch, n_support), np.int64, n_threads != 1)
    if total == 0:
        return counts
    cdef int64_t[:, ::1] cv = counts
    cdef int64_t *out = &cv[0, 0]
    cdef int64_t *tmp = NULL
    if not direct:
        tmp = <int64_t *>calloc(wave * n_support, sizeof(int64_t))
        if tmp == NULL:
            raise MemoryError()
    try:
        w0 = 0
        while w0 < total:
            cnt = total - w0 if total - w0 < wave else wave
            nt = fs_threads_for(n_threads, cnt * per_item, cnt)
            with nogil:
                if direct:
                    # One chunk per batch element: count straight into its row.
                    for k in prange(cnt, num_threads=nt, schedule="static"):
                        if folds:
                            _count_item_folds(eng, fam, cp, nc, key0, key1, n, w0 + k, b0, c0, ncr,
                                              n_values, out + (w0 + k) * n_support)
                        else:
                            _count_item(eng, fam, cp, nc, key0, key1, n, w0 + k, b0, c0, ncr,
                                        n_support, out + (w0 + k) * n_support)
                else:
                    memset(tmp, 0, cnt * n_support * sizeof(int64_t))
                    for k in prange(cnt, num_threads=nt, schedule="dynamic"):
                        if folds:
                            _count_item_folds(eng, fam, cp, nc, key0, key1, n, w0 + k, b0, c0, ncr,
                                              n_values, tmp + k * n_support)
                        else:
                            _count_item(eng, fam, cp, nc, key0, key1, n, w0 + k, b0, c0, ncr,
                                        n_support, tmp + k * n_support)
                    for k in range(cnt):
                        item = w0 + k
                        for v in range(n_support):
                            out[(item // ncr) * n_support + v] += tmp[k * n_support + v]
            w0 += cnt
            PyErr_CheckSignals()
            if progress is not None:
                progress(w0, total)
    finally:
        free(tmp)
    return counts


