/*
 * fs_stream: a Philox4x64-10 word stream, bit for bit the 64-bit output of
 * numpy.random.Philox(key=key, counter=ctr), generated several blocks at a
 * time so that the samplers of _samplers.h can draw without an indirect
 * call per word.
 *
 * numpy's Philox increments its 256-bit counter (with carry) before each
 * block of four words and serves the words in order; a double is the top
 * 53 bits of one word times 2^-53; a 32-bit draw takes the low half of a
 * fresh word and keeps the high half for the next 32-bit draw (has_uint32),
 * independently of the 64-bit draws in between.  fs_stream serves the same
 * sequence: a refill computes the blocks of counters ctr+1 .. ctr+n at once
 * (independent of each other, so their multiplies overlap instead of
 * waiting on one block's 10-round dependency chain) into buf, and each draw
 * checks one index against the end of buf.
 *
 * Refill sizes: the first refills of a stream make 1, 1, 2, 4 and 8 blocks
 * (4 words each), so that a stream which draws only a few words (a chunk of
 * a few samples) pays for about the words it draws; every later refill
 * makes FS_STREAM_BLOCKS blocks.  (A full second refill made the batched
 * policy gradient, 8 words per stream, 2x slower: measured.)
 * Measured (AMD Zen 4, AVX-512 refill): starting a stream and drawing 4
 * words takes 17 ns this way against 111 ns with a full first refill.  The
 * sizes change when words are computed, never which words are served.
 *
 * Three implementations of a refill compute the same bits: portable C
 * (64x64->128-bit multiplies, one block after another), and on x86-64 with
 * GCC or clang an AVX2 one (4 blocks per vector) and an AVX-512F one (8
 * blocks per vector), whose 64-bit high products are built from 32-bit
 * ones.  Each
 * stream holds the refill it uses (s->isa): fs_stream_init leaves it to the
 * best the CPU has (capped by FS_STREAM_ISA_DEFAULT), fs_stream_set_refill
 * chooses one (the kernels: their engine's stream_isa, _isa.h).  No global
 * state: streams of one process may use different refills at once.  Build
 * flags need not enable AVX: the vector refills carry target attributes.
 *
 * Measured cost of the words (AMD EPYC Zen 4, one thread, 16-block refills):
 * portable 2.7 ns per word, AVX2 1.8, AVX-512 1.7; numpy's own Philox
 * (one block at a time, through its bitgen_t) about 4.  The automatic
 * choice is the best the CPU has, capped by FS_STREAM_ISA_DEFAULT (define
 * it to FS_ISA_AVX2 where AVX-512 measures slower, e.g. CPUs that lower
 * their clock for 512-bit work; bench/samplers/bench_samplers.py compares
 * the three).
 */
#ifndef FASTSCORE_STREAM_H
#define FASTSCORE_STREAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_isa.h"

#if defined(__GNUC__) || defined(__clang__)
#define FS_LIKELY(x) __builtin_expect(!!(x), 1)
#define FS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FS_NOINLINE __attribute__((noinline))
#define FS_UNUSED __attribute__((unused))
#else
#define FS_UNUSED
#define FS_LIKELY(x) (x)
#define FS_UNLIKELY(x) (x)
#define FS_NOINLINE
#endif

#if FS_ISA_X86 && !defined(FS_STREAM_NO_SIMD)
#define FS_STREAM_X86_SIMD 1
#include <immintrin.h>
#else
#define FS_STREAM_X86_SIMD 0
#endif

/* Philox4x64 multipliers and Weyl key increments (Salmon et al., SC'11). */
#define FS_PHILOX_MUL0 0xD2E7470EE14C6C93ULL
#define FS_PHILOX_MUL1 0xCA5A826395121157ULL
#define FS_PHILOX_BUMP0 0x9E3779B97F4A7C15ULL
#define FS_PHILOX_BUMP1 0xBB67AE8584CAA73BULL
#define FS_PHILOX_ROUNDS 10

/* Blocks (of 4 words) per full refill: two AVX-512 vectors of counters,
 * four AVX2 ones (see the x86 SIMD section). */
#define FS_STREAM_BLOCKS 16
#define FS_STREAM_WORDS (4 * FS_STREAM_BLOCKS)

/* (The refills' ISA indices FS_ISA_PORTABLE, FS_ISA_AVX2, FS_ISA_AVX512 are _isa.h's.) */

#ifndef FS_STREAM_ISA_DEFAULT
#define FS_STREAM_ISA_DEFAULT FS_ISA_AVX512
#endif

/* Plain alignment (no 64-byte attribute), so that streams may live in
 * malloc'd arrays: the vector refills store unaligned (measured no slower). */
typedef struct {
    uint64_t buf[FS_STREAM_WORDS];  /* words buf[pos..end) are next */
    uint64_t ctr[4];     /* counter of the last block computed */
    uint64_t key[2];
    int pos, end;
    int full;            /* refills so far, up to 5 (their sizes ramp up to the full one) */
    int has_uint32;      /* numpy's 32-bit half-word buffer */
    int isa;             /* the refill: an FS_ISA_* the CPU has, or FS_STREAM_ISA_AUTO */
    uint32_t uinteger;
} fs_stream;

/* s->isa before its first full refill: the best the CPU has, capped by
 * FS_STREAM_ISA_DEFAULT (resolved then, once per stream). */
#define FS_STREAM_ISA_AUTO (-1)

/* ------------------------------------------------------------ portable */

static inline uint64_t fs_mulhilo(uint64_t a, uint64_t b, uint64_t *hi)
{
#if defined(__SIZEOF_INT128__)
    __uint128_t p = (__uint128_t)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    /* From four 32x32->64 partial products, as the vector refills do
     * (see fs_mulhilo_avx2 for why nothing overflows). */
    uint64_t al = a & 0xFFFFFFFFULL, ah = a >> 32, bl = b & 0xFFFFFFFFULL, bh = b >> 32;
    uint64_t p0 = al * bl, t = al * bh + (p0 >> 32), u = ah * bl + (t & 0xFFFFFFFFULL);
    *hi = ah * bh + (t >> 32) + (u >> 32);
    return (u << 32) | (p0 & 0xFFFFFFFFULL);
#endif
}

/* One Philox round on lane (a, b, c, d) with round key (k0, k1). */
#define FS_PHILOX_ROUND(a, b, c, d, k0, k1)                                          \
    do {                                                                             \
        uint64_t hi0_, hi1_;                                                         \
        uint64_t lo0_ = fs_mulhilo(FS_PHILOX_MUL0, a, &hi0_);                        \
        uint64_t lo1_ = fs_mulhilo(FS_PHILOX_MUL1, c, &hi1_);                        \
        a = hi1_ ^ b ^ (k0);                                                         \
        b = lo1_;                                                                    \
        c = hi0_ ^ d ^ (k1);                                                         \
        d = lo0_;                                                                    \
    } while (0)

/* One block from counter x[0..3] into out[0..3]. */
static inline void fs_philox_block1(const uint64_t x[4], const uint64_t key[2], uint64_t *out)
{
    uint64_t a = x[0], b = x[1], c = x[2], d = x[3], k0 = key[0], k1 = key[1];
    int r;
    for (r = 0; r < FS_PHILOX_ROUNDS; r++) {
        FS_PHILOX_ROUND(a, b, c, d, k0, k1);
        k0 += FS_PHILOX_BUMP0;
        k1 += FS_PHILOX_BUMP1;
    }
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
}

/* Counter + 1 with carry across the four words, as numpy does. */
static inline void fs_ctr_increment(uint64_t c[4])
{
    if (++c[0] == 0 && ++c[1] == 0 && ++c[2] == 0)
        ++c[3];
}

/* Blocks ctr+1 .. ctr+n into out; ctr advances by n.  Handles any carry,
 * so the vector refills defer to it near one. */
FS_UNUSED static void fs_philox_blocks_portable(uint64_t ctr[4], const uint64_t key[2], int n, uint64_t *out)
{
    /* One block after another: the blocks are independent, so out-of-order
     * execution overlaps consecutive ones.  (Explicitly interleaved lanes
     * measured slower with GCC on x86-64: the 128-bit multiplies' fixed
     * registers make it spill the lanes' state.) */
    int j;
    for (j = 0; j < n; j++) {
        fs_ctr_increment(ctr);
        fs_philox_block1(ctr, key, out + 4 * j);
    }
}

/* ------------------------------------------------------------ x86 SIMD */
#if FS_STREAM_X86_SIMD

/* Both vector refills compute FS_STREAM_BLOCKS = 16 blocks, ctr+1 .. ctr+16,
 * with block j in lane j % W of vector group j / W (W = 4 for AVX2, 8 for
 * AVX-512).  The groups are interleaved round by round (4 for AVX2, 2 for
 * AVX-512) because one group alone waits on its multiply latency: measured
 * on AMD Zen 4, 1 -> 2 AVX-512 groups took 2.1 -> 1.7 ns per word, 2 -> 4
 * AVX2 groups 2.1 -> 1.9.  Only word 0 of the counter differs between the
 * lanes: the caller makes sure that it does not wrap. */

/* 64x64 -> 128-bit products of every lane of a with the constant m, from
 * the 32x32 -> 64 products of vpmuludq:
 *   a*m = p0 + (p1 + p2) 2^32 + p3 2^64,  p0 = al ml, p1 = al mh, p2 = ah ml,
 *   p3 = ah mh.  t = p1 + hi32(p0) and u = p2 + lo32(t) cannot overflow, and
 *   then a*m = lo32(p0) + lo32(u) 2^32 + (p3 + hi32(t) + hi32(u)) 2^64. */
__attribute__((target("avx2")))
static inline __m256i fs_mulhilo_avx2(__m256i a, __m256i ml, __m256i mh, __m256i *lo)
{
    const __m256i mask = _mm256_set1_epi64x(0xFFFFFFFFLL);
    __m256i ah = _mm256_srli_epi64(a, 32);
    __m256i p0 = _mm256_mul_epu32(a, ml), p1 = _mm256_mul_epu32(a, mh);
    __m256i p2 = _mm256_mul_epu32(ah, ml), p3 = _mm256_mul_epu32(ah, mh);
    __m256i t = _mm256_add_epi64(p1, _mm256_srli_epi64(p0, 32));
    __m256i u = _mm256_add_epi64(p2, _mm256_and_si256(t, mask));
    *lo = _mm256_blend_epi32(p0, _mm256_slli_epi64(u, 32), 0xAA);
    return _mm256_add_epi64(_mm256_add_epi64(p3, _mm256_srli_epi64(t, 32)),
                            _mm256_srli_epi64(u, 32));
}

__attribute__((target("avx512f")))
static inline __m512i fs_mulhilo_avx512(__m512i a, __m512i ml, __m512i mh, __m512i *lo)
{
    const __m512i mask = _mm512_set1_epi64(0xFFFFFFFFLL);
    __m512i ah = _mm512_srli_epi64(a, 32);
    __m512i p0 = _mm512_mul_epu32(a, ml), p1 = _mm512_mul_epu32(a, mh);
    __m512i p2 = _mm512_mul_epu32(ah, ml), p3 = _mm512_mul_epu32(ah, mh);
    __m512i t = _mm512_add_epi64(p1, _mm512_srli_epi64(p0, 32));
    __m512i u = _mm512_add_epi64(p2, _mm512_and_si512(t, mask));
    *lo = _mm512_mask_blend_epi32((__mmask16)0xAAAA, p0, _mm512_slli_epi64(u, 32));
    return _mm512_add_epi64(_mm512_add_epi64(p3, _mm512_srli_epi64(t, 32)),
                            _mm512_srli_epi64(u, 32));
}

/* One round on a group (lane j of a, b, c, d is one block), for vector
 * type T with its mulhilo and three-way xor; the multiplier halves m0l,
 * m0h, m1l, m1h are in scope. */
#define FS_PHILOX_ROUND_VEC(T, MULHILO, XOR3, a, b, c, d, k0v, k1v)                  \
    do {                                                                             \
        T lo0_, lo1_;                                                                \
        T hi0_ = MULHILO(a, m0l, m0h, &lo0_);                                        \
        T hi1_ = MULHILO(c, m1l, m1h, &lo1_);                                        \
        a = XOR3(hi1_, b, k0v);                                                      \
        b = lo1_;                                                                    \
        c = XOR3(hi0_, d, k1v);                                                      \
        d = lo0_;                                                                    \
    } while (0)

#define FS_XOR3_AVX2(x, y, z) _mm256_xor_si256(_mm256_xor_si256(x, y), z)
/* 0x96: the truth table of a three-way xor, in one instruction */
#define FS_XOR3_AVX512(x, y, z) _mm512_ternarylogic_epi64(x, y, z, 0x96)

/* Group of 4 lane-per-block vectors -> blocks in order (4x4 transpose). */
__attribute__((target("avx2")))
static inline void fs_store_blocks_avx2(__m256i c0, __m256i c1, __m256i c2, __m256i c3, uint64_t *out)
{
    __m256i t0 = _mm256_unpacklo_epi64(c0, c1), t1 = _mm256_unpackhi_epi64(c0, c1);
    __m256i t2 = _mm256_unpacklo_epi64(c2, c3), t3 = _mm256_unpackhi_epi64(c2, c3);
    _mm256_storeu_si256((__m256i *)(out + 0), _mm256_permute2x128_si256(t0, t2, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 4), _mm256_permute2x128_si256(t1, t3, 0x20));
    _mm256_storeu_si256((__m256i *)(out + 8), _mm256_permute2x128_si256(t0, t2, 0x31));
    _mm256_storeu_si256((__m256i *)(out + 12), _mm256_permute2x128_si256(t1, t3, 0x31));
}

/* Group of 4 vectors of 8 lanes -> 8 blocks in order.  After the unpacks,
 * 128-bit lane q of t0 / t2 holds words 0,1 / 2,3 of block 2q, of t1 / t3
 * those of block 2q+1; two rounds of 128-bit shuffles put them together. */
__attribute__((target("avx512f")))
static inline void fs_store_blocks_avx512(__m512i c0, __m512i c1, __m512i c2, __m512i c3, uint64_t *out)
{
    __m512i t0 = _mm512_unpacklo_epi64(c0, c1), t1 = _mm512_unpackhi_epi64(c0, c1);
    __m512i t2 = _mm512_unpacklo_epi64(c2, c3), t3 = _mm512_unpackhi_epi64(c2, c3);
    __m512i a = _mm512_shuffle_i64x2(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m512i b = _mm512_shuffle_i64x2(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m512i c = _mm512_shuffle_i64x2(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m512i d = _mm512_shuffle_i64x2(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    _mm512_storeu_si512((void *)(out + 0), _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512((void *)(out + 8), _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_storeu_si512((void *)(out + 16), _mm512_shuffle_i64x2(c, d, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_si512((void *)(out + 24), _mm512_shuffle_i64x2(c, d, _MM_SHUFFLE(3, 1, 3, 1)));
}

#define FS_AVX2_ROUND(a, b, c, d) \
    FS_PHILOX_ROUND_VEC(__m256i, fs_mulhilo_avx2, FS_XOR3_AVX2, a, b, c, d, k0v, k1v)
#define FS_AVX512_ROUND(a, b, c, d) \
    FS_PHILOX_ROUND_VEC(__m512i, fs_mulhilo_avx512, FS_XOR3_AVX512, a, b, c, d, k0v, k1v)

/* The 16 blocks after ctr (ctr[0] + 16 must not wrap); ctr advances. */
__attribute__((target("avx2")))
FS_UNUSED static void fs_philox_blocks16_avx2(uint64_t ctr[4], const uint64_t key[2], uint64_t *out)
{
    const __m256i m0l = _mm256_set1_epi64x((long long)(FS_PHILOX_MUL0 & 0xFFFFFFFFULL));
    const __m256i m0h = _mm256_set1_epi64x((long long)(FS_PHILOX_MUL0 >> 32));
    const __m256i m1l = _mm256_set1_epi64x((long long)(FS_PHILOX_MUL1 & 0xFFFFFFFFULL));
    const __m256i m1h = _mm256_set1_epi64x((long long)(FS_PHILOX_MUL1 >> 32));
    const __m256i base = _mm256_set1_epi64x((long long)ctr[0]);
    __m256i a0 = _mm256_add_epi64(base, _mm256_set_epi64x(4, 3, 2, 1));
    __m256i a1 = _mm256_add_epi64(base, _mm256_set_epi64x(8, 7, 6, 5));
    __m256i a2 = _mm256_add_epi64(base, _mm256_set_epi64x(12, 11, 10, 9));
    __m256i a3 = _mm256_add_epi64(base, _mm256_set_epi64x(16, 15, 14, 13));
    __m256i b0 = _mm256_set1_epi64x((long long)ctr[1]), b1 = b0, b2 = b0, b3 = b0;
    __m256i c0 = _mm256_set1_epi64x((long long)ctr[2]), c1 = c0, c2 = c0, c3 = c0;
    __m256i d0 = _mm256_set1_epi64x((long long)ctr[3]), d1 = d0, d2 = d0, d3 = d0;
    uint64_t k0 = key[0], k1 = key[1];
    int r;
    for (r = 0; r < FS_PHILOX_ROUNDS; r++) {
        __m256i k0v = _mm256_set1_epi64x((long long)k0), k1v = _mm256_set1_epi64x((long long)k1);
        FS_AVX2_ROUND(a0, b0, c0, d0);
        FS_AVX2_ROUND(a1, b1, c1, d1);
        FS_AVX2_ROUND(a2, b2, c2, d2);
        FS_AVX2_ROUND(a3, b3, c3, d3);
        k0 += FS_PHILOX_BUMP0;
        k1 += FS_PHILOX_BUMP1;
    }
    fs_store_blocks_avx2(a0, b0, c0, d0, out);
    fs_store_blocks_avx2(a1, b1, c1, d1, out + 16);
    fs_store_blocks_avx2(a2, b2, c2, d2, out + 32);
    fs_store_blocks_avx2(a3, b3, c3, d3, out + 48);
    ctr[0] += 16;
}

__attribute__((target("avx512f")))
FS_UNUSED static void fs_philox_blocks16_avx512(uint64_t ctr[4], const uint64_t key[2], uint64_t *out)
{
    const __m512i m0l = _mm512_set1_epi64((long long)(FS_PHILOX_MUL0 & 0xFFFFFFFFULL));
    const __m512i m0h = _mm512_set1_epi64((long long)(FS_PHILOX_MUL0 >> 32));
    const __m512i m1l = _mm512_set1_epi64((long long)(FS_PHILOX_MUL1 & 0xFFFFFFFFULL));
    const __m512i m1h = _mm512_set1_epi64((long long)(FS_PHILOX_MUL1 >> 32));
    const __m512i base = _mm512_set1_epi64((long long)ctr[0]);
    __m512i a0 = _mm512_add_epi64(base, _mm512_set_epi64(8, 7, 6, 5, 4, 3, 2, 1));
    __m512i a1 = _mm512_add_epi64(base, _mm512_set_epi64(16, 15, 14, 13, 12, 11, 10, 9));
    __m512i b0 = _mm512_set1_epi64((long long)ctr[1]), b1 = b0;
    __m512i c0 = _mm512_set1_epi64((long long)ctr[2]), c1 = c0;
    __m512i d0 = _mm512_set1_epi64((long long)ctr[3]), d1 = d0;
    uint64_t k0 = key[0], k1 = key[1];
    int r;
    for (r = 0; r < FS_PHILOX_ROUNDS; r++) {
        __m512i k0v = _mm512_set1_epi64((long long)k0), k1v = _mm512_set1_epi64((long long)k1);
        FS_AVX512_ROUND(a0, b0, c0, d0);
        FS_AVX512_ROUND(a1, b1, c1, d1);
        k0 += FS_PHILOX_BUMP0;
        k1 += FS_PHILOX_BUMP1;
    }
    fs_store_blocks_avx512(a0, b0, c0, d0, out);
    fs_store_blocks_avx512(a1, b1, c1, d1, out + 32);
    ctr[0] += 16;
}

#endif /* FS_STREAM_X86_SIMD */

/* The best refill this CPU and build have. */
FS_UNUSED static int fs_stream_isa_max(void)
{
#if FS_STREAM_X86_SIMD
    return fs_isa_max();
#else
    return FS_ISA_PORTABLE;
#endif
}

/* ------------------------------------------------------------ stream */

/* Start a stream exactly as numpy.random.Philox(key=[k0, k1],
 * counter=[c0, c1, c2, c3]) starts (before its first draw). */
static inline void fs_stream_init(fs_stream *s, uint64_t k0, uint64_t k1,
                                  uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3)
{
    s->key[0] = k0; s->key[1] = k1;
    s->ctr[0] = c0; s->ctr[1] = c1; s->ctr[2] = c2; s->ctr[3] = c3;
    s->pos = s->end = 0;
    s->full = 0;
    s->has_uint32 = 0;
    s->uinteger = 0;
    s->isa = FS_STREAM_ISA_AUTO;
}

/* Use refill isa for s from now on (after fs_stream_init; isa one the CPU
 * has, fs_stream_isa_max() at most, as fs_engine_decode caps it).  Every
 * refill gives the same words. */
static inline void fs_stream_set_refill(fs_stream *s, int isa)
{
    s->isa = isa;
}

/* The refill s uses (FS_STREAM_ISA_AUTO until its first full refill). */
static inline int fs_stream_get_refill(const fs_stream *s)
{
    return s->isa;
}

/* Compute the next blocks into buf (called when buf is used up). */
FS_UNUSED static FS_NOINLINE void fs_stream_refill(fs_stream *s)
{
    /* 1, 1, 2, 4, 8 blocks, then FS_STREAM_BLOCKS: a stream that draws a few
     * words (a chunk of a few samples: a policy row of 8 draws 8 words)
     * computes about the words it draws; a long one soon refills 16 at once. */
    int n = s->full < 2 ? 1 : (s->full < 5 ? 1 << (s->full - 1) : FS_STREAM_BLOCKS);
    if (s->full < 5)
        s->full++;
#if FS_STREAM_X86_SIMD
    /* The vector refills vary word 0 of the counter only: near a carry,
     * the portable refill (which carries) takes over. */
    if (n == FS_STREAM_BLOCKS && s->ctr[0] <= UINT64_MAX - (uint64_t)FS_STREAM_BLOCKS) {
        if (FS_UNLIKELY(s->isa == FS_STREAM_ISA_AUTO)) {
            int top = fs_stream_isa_max();
            s->isa = top < FS_STREAM_ISA_DEFAULT ? top : FS_STREAM_ISA_DEFAULT;
        }
        if (s->isa == FS_ISA_AVX512) {
            fs_philox_blocks16_avx512(s->ctr, s->key, s->buf);
            goto done;
        }
        if (s->isa == FS_ISA_AVX2) {
            fs_philox_blocks16_avx2(s->ctr, s->key, s->buf);
            goto done;
        }
    }
#endif
    fs_philox_blocks_portable(s->ctr, s->key, n, s->buf);
#if FS_STREAM_X86_SIMD
done:
#endif
    s->pos = 0;
    s->end = 4 * n;
}

static inline uint64_t fs_next64(fs_stream *s)
{
    if (FS_UNLIKELY(s->pos == s->end))
        fs_stream_refill(s);
    return s->buf[s->pos++];
}

/* numpy's next_double: the top 53 bits, scaled to [0, 1). */
static inline double fs_word_to_double(uint64_t w)
{
    return (double)(w >> 11) * (1.0 / 9007199254740992.0);
}

static inline double fs_next_double(fs_stream *s)
{
    return fs_word_to_double(fs_next64(s));
}

/* numpy's next_uint32: low half of a word now, the high half next time. */
static inline uint32_t fs_next32(fs_stream *s)
{
    uint64_t w;
    if (s->has_uint32) {
        s->has_uint32 = 0;
        return s->uinteger;
    }
    w = fs_next64(s);
    s->has_uint32 = 1;
    s->uinteger = (uint32_t)(w >> 32);
    return (uint32_t)(w & 0xFFFFFFFFULL);
}

/* Block access for the speculative sampler paths: the next words as an
 * array (at least one; refills if buf is used up).  Read *avail words at
 * most from the result, then fs_stream_consume() those actually used: the
 * stream continues after them. */
static inline const uint64_t *fs_stream_peek(fs_stream *s, int *avail)
{
    if (FS_UNLIKELY(s->pos == s->end))
        fs_stream_refill(s);
    *avail = s->end - s->pos;
    return s->buf + s->pos;
}

static inline void fs_stream_consume(fs_stream *s, int k)
{
    s->pos += k;
}

/* m raw words / m standard uniforms (numpy's random_raw / random()). */
static inline void fs_fill_raw(fs_stream *s, uint64_t *out, int64_t m)
{
    int64_t i = 0;
    while (i < m) {
        int avail, n;
        const uint64_t *w = fs_stream_peek(s, &avail);
        n = (int64_t)avail < m - i ? avail : (int)(m - i);
        memcpy(out + i, w, (size_t)n * sizeof(uint64_t));
        fs_stream_consume(s, n);
        i += n;
    }
}

static inline void fs_fill_uniform(fs_stream *s, double *out, int64_t m)
{
    int64_t i = 0;
    while (i < m) {
        int avail, j, n;
        const uint64_t *w = fs_stream_peek(s, &avail);
        n = (int64_t)avail < m - i ? avail : (int)(m - i);
        for (j = 0; j < n; j++)
            out[i + j] = fs_word_to_double(w[j]);
        fs_stream_consume(s, n);
        i += n;
    }
}

#endif /* FASTSCORE_STREAM_H */
