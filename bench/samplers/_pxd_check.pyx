# cython: language_level=3, boundscheck=False, wraparound=False
"""Draws through fastscore/_samplers.pxd, as a kernel would cimport it: the
test compares them with numpy, which checks the declarations."""

from libc.stdint cimport uint64_t, int64_t
from libc.string cimport memset
import numpy as np
from numpy.random cimport bitgen_t
from numpy.random.c_distributions cimport binomial_t, random_binomial, random_vonmises
from fastscore._samplers cimport (
    fs_stream_bitgen,
    fs_stream, fs_stream_init, fs_fill_normal, fs_fill_exponential, fs_gamma_t,
    fs_gamma_setup, fs_fill_gamma, fs_beta_t, fs_beta_setup, fs_beta_draw,
    fs_poisson_t, fs_poisson_setup, fs_fill_poisson, fs_geometric, fs_negative_binomial,
    fs_standard_normal, fs_next64, fs_next_double,
)


def draw(str what, key, counter, int64_t n, double a=0.0, double b=0.0):
    """n draws of `what` (normal, exponential, gamma, beta, poisson,
    geometric, negative_binomial; binomial+normal and vonmises through numpy's
    C samplers on the bitgen_t view) from Philox(key, counter); then the next
    4 raw words."""
    cdef fs_stream st
    cdef fs_gamma_t g
    cdef fs_beta_t bt
    cdef fs_poisson_t pp
    cdef bitgen_t bg
    cdef binomial_t bin_state
    cdef double[::1] out = np.empty(n)
    cdef uint64_t[::1] after = np.empty(4, dtype=np.uint64)
    cdef int64_t i
    k = np.asarray(key, dtype=np.uint64)
    c = np.asarray(counter, dtype=np.uint64)
    fs_stream_init(&st, k[0], k[1], c[0], c[1], c[2], c[3])
    if what == "normal":
        fs_fill_normal(&st, a, b, &out[0], n)
    elif what == "exponential":
        fs_fill_exponential(&st, a, &out[0], n)
    elif what == "gamma":
        fs_gamma_setup(&g, a)
        fs_fill_gamma(&st, &g, b, &out[0], n)
    elif what == "beta":
        fs_beta_setup(&bt, a, b)
        for i in range(n):
            out[i] = fs_beta_draw(&st, &bt)
    elif what == "poisson":
        fs_poisson_setup(&pp, a)
        fs_fill_poisson(&st, &pp, &out[0], n)
    elif what == "geometric":
        for i in range(n):
            out[i] = <double>fs_geometric(&st, a)
    elif what == "negative_binomial":
        for i in range(n):
            out[i] = <double>fs_negative_binomial(&st, a, b)
    elif what == "binomial+normal":
        # numpy's own C sampler through the bitgen_t view, interleaved with
        # an inline sampler on the same stream
        fs_stream_bitgen(&bg, &st)
        memset(&bin_state, 0, sizeof(binomial_t))
        for i in range(0, n, 2):
            out[i] = <double>random_binomial(&bg, a, <int64_t>b, &bin_state)
            if i + 1 < n:
                out[i + 1] = fs_standard_normal(&st)
    elif what == "vonmises":
        fs_stream_bitgen(&bg, &st)
        for i in range(n):
            out[i] = random_vonmises(&bg, a, b)
    else:
        raise ValueError(what)
    for i in range(4):
        after[i] = fs_next64(&st)
    return np.asarray(out), np.asarray(after)


# ---------------------------------------------------------------- baseline
# How the kernels drew before the inline samplers: numpy's C samplers on a
# bitgen_t (one indirect call per word), here on fs_stream lent as a bitgen_t
# (_stream_bitgen.h): the benchmark's middle column.

from numpy.random.c_distributions cimport (
    random_standard_normal, random_standard_exponential, random_standard_gamma,
    random_beta, random_poisson, random_geometric, random_negative_binomial,
    random_lognormal, random_normal,
)


cdef class BitgenStream:
    """numpy's C samplers on an fs_stream behind numpy's bitgen_t."""
    cdef fs_stream st
    cdef bitgen_t bg

    def __cinit__(self, key, counter):
        k = np.asarray(key, dtype=np.uint64)
        c = np.asarray(counter, dtype=np.uint64)
        fs_stream_init(&self.st, k[0], k[1], c[0], c[1], c[2], c[3])
        fs_stream_bitgen(&self.bg, &self.st)

    def draw_into(self, str what, double[::1] out not None, double a=0.0, double b=0.0):
        """Fill out with numpy's C sampler `what` (the names of
        bench_samplers.CASES), 256 draws per block into a stack buffer."""
        cdef int64_t n = out.shape[0], done = 0, cnt, i
        cdef double buf[256]
        cdef int fam = ["uniform", "standard_normal", "normal", "lognormal",
                        "standard_exponential", "exponential", "standard_gamma", "gamma",
                        "beta", "chisquare", "poisson", "negative_binomial",
                        "geometric"].index(what)
        with nogil:
            while done < n:
                cnt = n - done if n - done < 256 else 256
                for i in range(cnt):
                    if fam == 0:
                        buf[i] = fs_next_double(&self.st)
                    elif fam == 1:
                        buf[i] = random_standard_normal(&self.bg)
                    elif fam == 2:
                        buf[i] = random_normal(&self.bg, a, b)
                    elif fam == 3:
                        buf[i] = random_lognormal(&self.bg, a, b)
                    elif fam == 4:
                        buf[i] = random_standard_exponential(&self.bg)
                    elif fam == 5:
                        buf[i] = a * random_standard_exponential(&self.bg)
                    elif fam == 6:
                        buf[i] = random_standard_gamma(&self.bg, a)
                    elif fam == 7:
                        buf[i] = b * random_standard_gamma(&self.bg, a)
                    elif fam == 8:
                        buf[i] = random_beta(&self.bg, a, b)
                    elif fam == 9:
                        buf[i] = 2.0 * random_standard_gamma(&self.bg, a / 2.0)
                    elif fam == 10:
                        buf[i] = <double>random_poisson(&self.bg, a)
                    elif fam == 11:
                        buf[i] = <double>random_negative_binomial(&self.bg, a, b)
                    else:
                        buf[i] = <double>random_geometric(&self.bg, a)
                for i in range(cnt):
                    out[done + i] = buf[i]
                done += cnt


def constant_parameters(key, counter, int64_t n):
    """Draws whose parameters are compile-time constants (gamma 0.5, beta
    0.5/0.5, poisson 3, geometric 0.1), which the optimiser could fold into
    libm calls were the set-ups not to hide them (fs_opaque): one row each."""
    cdef fs_stream st
    cdef fs_gamma_t g
    cdef fs_beta_t bt
    cdef fs_poisson_t pp
    cdef double[:, ::1] out = np.empty((4, n))
    cdef int64_t i
    k = np.asarray(key, dtype=np.uint64)
    c = np.asarray(counter, dtype=np.uint64)
    fs_stream_init(&st, k[0], k[1], c[0], c[1], c[2], c[3])
    fs_gamma_setup(&g, 0.5)
    fs_fill_gamma(&st, &g, 1.0, &out[0, 0], n)
    fs_stream_init(&st, k[0], k[1], c[0], c[1], c[2], c[3])
    fs_beta_setup(&bt, 0.5, 0.5)
    for i in range(n):
        out[1, i] = fs_beta_draw(&st, &bt)
    fs_stream_init(&st, k[0], k[1], c[0], c[1], c[2], c[3])
    fs_poisson_setup(&pp, 3.0)
    fs_fill_poisson(&st, &pp, &out[2, 0], n)
    fs_stream_init(&st, k[0], k[1], c[0], c[1], c[2], c[3])
    for i in range(n):
        out[3, i] = <double>fs_geometric(&st, 0.1)
    return np.asarray(out)
