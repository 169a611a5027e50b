# Categorical's kernel functions, kernel families categorical (counted).
# Included once by _kernels.pyx, which the build generates from the family
# table (fastscore/_specs.py: the rows with unit="categorical"); the slots'
# signatures and the shared helpers are in _common.pxi.

cdef inline Py_ssize_t _categorical_index(double u, const double *cdf,
                                          Py_ssize_t k) noexcept nogil:
    # First index j with u < cdf[j]; cdf ends in exact ones, so j < k.
    cdef Py_ssize_t lo = 0, hi = k - 1, mid, j
    if k <= SCAN_CATEGORIES:
        # cdf is non-decreasing, so that index is the number of cdf[j] <= u:
        # counted without branches, as an early-exit scan mispredicts its
        # exit on almost every draw.
        for j in range(k - 1):
            lo += u >= cdf[j]
        return lo
    while lo < hi:
        mid = (lo + hi) >> 1
        if u < cdf[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline double categorical_draw(bitgen_t *bg, const double *c, Py_ssize_t nc,
                                    DrawState *ds) noexcept nogil:
    return <double>_categorical_index(_uniform(bg), c + CATEGORICAL_CDF, nc)


cdef inline bint categorical_count(fs_stream *st, const double *c, Py_ssize_t nc, int64_t m,
                                   int64_t *counts, int64_t *scratch) noexcept nogil:
    # x = #{j < K - 1: u >= cdf[j]} (see _categorical_index), so the count of
    # category v is #{u >= cdf[v-1]} - #{u >= cdf[v]}.  Beyond SCAN_CATEGORIES
    # the thresholds cost more than drawing and counting.
    cdef Py_ssize_t v
    if nc > SCAN_CATEGORIES:
        return False
    if nc == 1:
        counts[0] += m
        return True
    memset(scratch, 0, (nc - 1) * sizeof(int64_t))
    _count_above(st, c + CATEGORICAL_CDF, nc - 1, m, scratch)
    counts[0] += m - scratch[0]
    for v in range(1, nc - 1):
        counts[v] += scratch[v - 1] - scratch[v]
    counts[nc - 1] += scratch[nc - 2]
    return True
