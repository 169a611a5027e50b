# cython: language_level=3
"""Cython declarations of fastscore/_stream.h and fastscore/_samplers.h.

    from fastscore._samplers cimport fs_stream, fs_stream_init, fs_fill_standard_normal

The headers are inline C (nothing to link); the including extension needs
fastscore/ and the directory of the generated _ziggurat_tables.h on its
include path.  Everything is nogil and noexcept.  Parameters must be valid
(as numpy's Python layer checks them before its C code runs).
"""

from libc.stdint cimport uint64_t, uint32_t, int64_t
from numpy.random cimport bitgen_t

cdef extern from "_stream.h" nogil:
    # Philox4x64-10 stream equal to numpy.random.Philox(key=[k0, k1],
    # counter=[c0, c1, c2, c3]); opaque but for its size (allocate it on
    # the stack or inside a struct).
    ctypedef struct fs_stream:
        pass

    enum:
        FS_ISA_PORTABLE
        FS_ISA_AVX2
        FS_ISA_AVX512

    void fs_stream_init(fs_stream *s, uint64_t k0, uint64_t k1,
                        uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3)
    uint64_t fs_next64(fs_stream *s)
    double fs_next_double(fs_stream *s)
    uint32_t fs_next32(fs_stream *s)
    void fs_fill_raw(fs_stream *s, uint64_t *out, int64_t m)
    void fs_fill_uniform(fs_stream *s, double *out, int64_t m)
    # The Philox refill of a stream (FS_ISA_*; every one gives the same words):
    # fs_stream_init leaves it to the CPU's best (FS_STREAM_ISA_AUTO), set_refill
    # chooses one the CPU has (at most fs_stream_isa_max()), per stream.
    enum:
        FS_STREAM_ISA_AUTO
        FS_STREAM_ISA_DEFAULT   # the build's cap of the automatic choice
    void fs_stream_set_refill(fs_stream *s, int isa)
    int fs_stream_get_refill(const fs_stream *s)
    int fs_stream_isa_max()

cdef extern from "_samplers.h" nogil:
    ctypedef struct fs_gamma_t:
        double shape
    ctypedef struct fs_beta_t:
        double a
        double b
    ctypedef struct fs_poisson_t:
        double lam
    ctypedef struct fs_negbin_t:
        pass
    ctypedef struct fs_geometric_t:
        double p

    # per-parameter set-up, once per parameter value
    void fs_gamma_setup(fs_gamma_t *g, double shape)
    void fs_beta_setup(fs_beta_t *p, double a, double b)
    void fs_poisson_setup(fs_poisson_t *p, double lam)
    void fs_negbin_setup(fs_negbin_t *q, double n, double p)
    void fs_geometric_setup(fs_geometric_t *g, double p)

    # one draw (numpy's function of the same name, without "fs_" / "random_")
    double fs_uniform(fs_stream *s)
    double fs_standard_normal(fs_stream *s)
    double fs_normal(fs_stream *s, double loc, double scale)
    double fs_lognormal(fs_stream *s, double mean, double sigma)
    double fs_standard_exponential(fs_stream *s)
    double fs_exponential(fs_stream *s, double scale)
    double fs_standard_gamma_draw(fs_stream *s, const fs_gamma_t *g)
    double fs_standard_gamma(fs_stream *s, double shape)
    double fs_gamma(fs_stream *s, double shape, double scale)
    double fs_chisquare(fs_stream *s, double df)
    double fs_beta_draw(fs_stream *s, const fs_beta_t *p)
    double fs_beta(fs_stream *s, double a, double b)
    int64_t fs_poisson_draw(fs_stream *s, const fs_poisson_t *p)
    int64_t fs_poisson(fs_stream *s, double lam)
    int64_t fs_negbin_draw(fs_stream *s, const fs_negbin_t *q)
    int64_t fs_negative_binomial(fs_stream *s, double n, double p)
    int64_t fs_geometric_draw(fs_stream *s, const fs_geometric_t *g)
    int64_t fs_geometric(fs_stream *s, double p)

    # m draws into out[0..m) (integer families as doubles)
    void fs_fill_standard_normal(fs_stream *s, double *out, int64_t m)
    void fs_fill_normal(fs_stream *s, double loc, double scale, double *out, int64_t m)
    void fs_fill_lognormal(fs_stream *s, double mean, double sigma, double *out, int64_t m)
    void fs_fill_standard_exponential(fs_stream *s, double *out, int64_t m)
    void fs_fill_exponential(fs_stream *s, double scale, double *out, int64_t m)
    void fs_fill_standard_gamma(fs_stream *s, const fs_gamma_t *g, double *out, int64_t m)
    void fs_fill_gamma(fs_stream *s, const fs_gamma_t *g, double scale, double *out, int64_t m)
    void fs_fill_chisquare(fs_stream *s, const fs_gamma_t *g, double *out, int64_t m)
    void fs_fill_beta(fs_stream *s, const fs_beta_t *p, double *out, int64_t m)
    void fs_fill_poisson(fs_stream *s, const fs_poisson_t *p, double *out, int64_t m)
    void fs_fill_negative_binomial(fs_stream *s, const fs_negbin_t *q, double *out, int64_t m)
    void fs_fill_geometric(fs_stream *s, const fs_geometric_t *g, double *out, int64_t m)
    # m draws of K standard gammas (g[k] set up with alpha_k), row-major
    void fs_fill_dirichlet_gammas(fs_stream *s, const fs_gamma_t *g, int64_t K,
                                  double *out, int64_t m)

cdef extern from "_stream_bitgen.h" nogil:
    # bg draws from s: numpy's C samplers (numpy.random.c_distributions) on
    # the same stream, for the families not re-implemented here
    void fs_stream_bitgen(bitgen_t *bg, fs_stream *s)
