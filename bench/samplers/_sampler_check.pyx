# cython: language_level=3, boundscheck=False, wraparound=False
"""Test and benchmark harness for fastscore/_stream.h and _samplers.h.

Exposes the inline samplers to Python so that tests can compare their
draws with numpy.random.Generator(numpy.random.Philox(...)), and times
them.  Built by bench/samplers/build.py with the project's flags.
"""

from libc.stdint cimport uint64_t, uint32_t, int64_t
from libc.stdlib cimport malloc, free
import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "_sampler_check_impl.h" nogil:
    ctypedef struct fs_stream:
        pass
    ctypedef struct fs_gamma_t:
        double shape
    ctypedef struct ck_family:
        int fam
        int64_t K
        fs_gamma_t *gk
    int64_t fs_check_counts[64]
    int64_t fs_check_levels[2][256]
    int FS_EV_COUNT
    void fs_stream_init(fs_stream *s, uint64_t k0, uint64_t k1,
                        uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3)
    uint64_t fs_next64(fs_stream *s)
    uint32_t fs_next32(fs_stream *s)
    void fs_fill_raw(fs_stream *s, uint64_t *out, int64_t m)
    void fs_stream_set_refill(fs_stream *s, int isa)
    int fs_stream_isa_max()
    int FS_STREAM_ISA_DEFAULT
    void fs_gamma_setup(fs_gamma_t *g, double shape)
    void ck_setup(ck_family *f, int fam, double p0, double p1)
    int64_t ck_width(const ck_family *f)
    void ck_draw(fs_stream *s, const ck_family *f, double *out, int64_t n, int64_t block,
                 int scalar)

FAMILIES = ["uniform", "standard_normal", "normal", "lognormal", "standard_exponential",
            "exponential", "standard_gamma", "gamma", "chisquare", "beta", "poisson",
            "negative_binomial", "geometric", "dirichlet"]
ISA_NAMES = ["portable", "avx2", "avx512"]
#: names of the branch events, in the order of _samplers.h's FS_EV_* enum
EVENTS = ["nor_tail", "nor_wedge_accept", "nor_wedge_reject",
          "exp_tail", "exp_wedge_accept", "exp_wedge_reject",
          "gamma_small_pow", "gamma_small_log", "gamma_small_reject",
          "gamma_mt_vneg", "gamma_mt_squeeze", "gamma_mt_log_accept", "gamma_mt_reject",
          "beta_tiny", "beta_johnk_accept", "beta_johnk_underflow", "beta_johnk_reject",
          "beta_gammas",
          "poisson_mult", "poisson_ptrs_quick", "poisson_ptrs_skip",
          "poisson_ptrs_log_accept", "poisson_ptrs_reject",
          "geom_search", "geom_search_long", "geom_inversion", "geom_clamp",
          "fill_fallback", "fill_straddle"]
assert len(EVENTS) == FS_EV_COUNT


# The refill this harness's streams use: the stream header holds no global
# choice (each fs_stream carries its own), so the harness keeps one and sets it
# on every stream it starts.  FASTSCORE_PHILOX_ISA (portable, avx2, avx512)
# caps the automatic choice, as it caps the package's default engine.
cdef int _refill = -1   # -1: each stream's automatic choice


def isa_max():
    """Best Philox refill this CPU has (0 portable, 1 AVX2, 2 AVX-512)."""
    return fs_stream_isa_max()


def get_isa():
    """The refill in use."""
    if _refill >= 0:
        return _refill
    return min(fs_stream_isa_max(), FS_STREAM_ISA_DEFAULT)


def set_isa(int isa):
    """Use this refill (clamped to what the CPU has); returns the one in use."""
    global _refill
    _refill = max(0, min(isa, fs_stream_isa_max()))
    return _refill


def _cap_from_environment():
    import os
    name = os.environ.get("FASTSCORE_PHILOX_ISA")
    if name in ISA_NAMES:
        set_isa(min(ISA_NAMES.index(name), get_isa()))


_cap_from_environment()


def counts():
    """Branch events counted since the last reset_counts(), by name."""
    return {name: fs_check_counts[i] for i, name in enumerate(EVENTS)}


def levels():
    """First tries per ziggurat level since the last reset_counts():
    array (2, 256), row 0 normal, row 1 exponential."""
    return np.array([[fs_check_levels[t][i] for i in range(256)] for t in range(2)])


def reset_counts():
    cdef int i
    for i in range(64):
        fs_check_counts[i] = 0
    for i in range(256):
        fs_check_levels[0][i] = 0
        fs_check_levels[1][i] = 0


cdef class Family:
    """One family with its parameters, set up once."""
    cdef ck_family f
    cdef fs_gamma_t *gk
    cdef readonly str name
    cdef readonly tuple params

    def __cinit__(self, str name, *params):
        cdef int64_t k
        self.name = name
        self.params = params
        self.gk = NULL
        fam = FAMILIES.index(name)
        if name == "dirichlet":
            alpha = np.ascontiguousarray(params[0], dtype=np.float64)
            ck_setup(&self.f, fam, 0.0, 0.0)
            self.gk = <fs_gamma_t *>malloc(len(alpha) * sizeof(fs_gamma_t))
            for k in range(len(alpha)):
                fs_gamma_setup(&self.gk[k], alpha[k])
            self.f.K = len(alpha)
            self.f.gk = self.gk
        else:
            p = list(params) + [0.0, 0.0]
            ck_setup(&self.f, fam, p[0], p[1])

    def __dealloc__(self):
        free(self.gk)

    @property
    def width(self):
        return ck_width(&self.f)


cdef class Stream:
    """fs_stream started as numpy.random.Philox(key=key, counter=counter)."""
    cdef fs_stream s

    def __cinit__(self, key, counter):
        k = np.asarray(key, dtype=np.uint64)
        c = np.asarray(counter, dtype=np.uint64)
        fs_stream_init(&self.s, k[0], k[1], c[0], c[1], c[2], c[3])
        if _refill >= 0:
            fs_stream_set_refill(&self.s, _refill)

    def raw(self, int64_t n, bint serial=False):
        """n words, by block copy (fs_fill_raw) or one by one (fs_next64)."""
        cdef cnp.ndarray[uint64_t] out = np.empty(n, dtype=np.uint64)
        cdef int64_t i
        cdef uint64_t *p = <uint64_t *>cnp.PyArray_DATA(out)
        with nogil:
            if serial:
                for i in range(n):
                    p[i] = fs_next64(&self.s)
            else:
                fs_fill_raw(&self.s, p, n)
        return out

    def next32(self, int64_t n):
        """n 32-bit draws (fs_next32, numpy's next_uint32)."""
        cdef cnp.ndarray[uint32_t] out = np.empty(n, dtype=np.uint32)
        cdef int64_t i
        for i in range(n):
            out[i] = fs_next32(&self.s)
        return out

    def draw(self, Family fam, int64_t n, int64_t block=256, bint scalar=False):
        """n draws of fam (array (n,) or (n, K)): block fills of `block` draws
        through a stack buffer (block <= 0: one fill into the result), or the
        scalar samplers one draw at a time."""
        w = fam.width
        out = np.empty((n, w) if fam.name == "dirichlet" else n, dtype=np.float64)
        self.draw_into(fam, out.reshape(-1), block, scalar)
        return out

    def draw_into(self, Family fam, double[::1] out not None, int64_t block=256,
                  bint scalar=False):
        """Fill a contiguous float64 array (len = n * width) with draws."""
        cdef int64_t n = out.shape[0] // fam.width
        with nogil:
            ck_draw(&self.s, &fam.f, &out[0], n, block, scalar)
