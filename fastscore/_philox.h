/*
 * Philox4x64-10 counter-based generator (Salmon et al., SC'11), laid out so
 * that its output stream is bit-for-bit that of numpy.random.Philox created
 * with the same key and counter: the counter is incremented (with carry
 * across its four words) before each block of four outputs, doubles take
 * the top 53 bits, and 32-bit draws split one 64-bit word low half first.
 *
 * The state is wrapped in numpy's public bitgen_t so that numpy's C
 * distribution functions (libnpyrandom) draw from it unchanged.
 */
#ifndef FASTSCORE_PHILOX_H
#define FASTSCORE_PHILOX_H

#include <stdint.h>
#include "numpy/random/bitgen.h"

#define FS_PHILOX_M0 0xD2E7470EE14C6C93ULL
#define FS_PHILOX_M1 0xCA5A826395121157ULL
#define FS_PHILOX_W0 0x9E3779B97F4A7C15ULL
#define FS_PHILOX_W1 0xBB67AE8584CAA73BULL

typedef struct {
    uint64_t ctr[4];
    uint64_t key[2];
    uint64_t buffer[4];
    int buffer_pos;
    int has_uint32;
    uint32_t uinteger;
} fs_philox_state;

static inline void fs_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
#if defined(__SIZEOF_INT128__)
    __uint128_t p = (__uint128_t)a * (__uint128_t)b;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
#else
    /* Portable 64x64 -> 128 multiply from four 32-bit partial products. */
    uint64_t a_lo = a & 0xFFFFFFFFULL, a_hi = a >> 32;
    uint64_t b_lo = b & 0xFFFFFFFFULL, b_hi = b >> 32;
    uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
    uint64_t mid = (p0 >> 32) + (p1 & 0xFFFFFFFFULL) + (p2 & 0xFFFFFFFFULL);
    *lo = (mid << 32) | (p0 & 0xFFFFFFFFULL);
    *hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
#endif
}

static inline void fs_philox_block(const uint64_t ctr_in[4], const uint64_t key_in[2],
                                   uint64_t out[4])
{
    uint64_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint64_t k0 = key_in[0], k1 = key_in[1];
    int r;
    for (r = 0; r < 10; r++) {
        uint64_t hi0, lo0, hi1, lo1;
        if (r > 0) {
            k0 += FS_PHILOX_W0;
            k1 += FS_PHILOX_W1;
        }
        fs_mulhilo64(FS_PHILOX_M0, c0, &hi0, &lo0);
        fs_mulhilo64(FS_PHILOX_M1, c2, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* Start a stream exactly as numpy.random.Philox(key=key, counter=ctr). */
static inline void fs_philox_init(fs_philox_state *st, uint64_t key0, uint64_t key1,
                                  uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3)
{
    st->key[0] = key0; st->key[1] = key1;
    st->ctr[0] = c0; st->ctr[1] = c1; st->ctr[2] = c2; st->ctr[3] = c3;
    st->buffer[0] = st->buffer[1] = st->buffer[2] = st->buffer[3] = 0;
    st->buffer_pos = 4;
    st->has_uint32 = 0;
    st->uinteger = 0;
}

static inline uint64_t fs_philox_next64(fs_philox_state *st)
{
    if (st->buffer_pos < 4) {
        return st->buffer[st->buffer_pos++];
    }
    if (++st->ctr[0] == 0) {
        if (++st->ctr[1] == 0) {
            if (++st->ctr[2] == 0) {
                ++st->ctr[3];
            }
        }
    }
    fs_philox_block(st->ctr, st->key, st->buffer);
    st->buffer_pos = 1;
    return st->buffer[0];
}

static inline uint32_t fs_philox_next32(fs_philox_state *st)
{
    uint64_t next;
    if (st->has_uint32) {
        st->has_uint32 = 0;
        return st->uinteger;
    }
    next = fs_philox_next64(st);
    st->has_uint32 = 1;
    st->uinteger = (uint32_t)(next >> 32);
    return (uint32_t)(next & 0xFFFFFFFFULL);
}

static inline double fs_philox_next_double(fs_philox_state *st)
{
    return (double)(fs_philox_next64(st) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t fs_bitgen_next64(void *st) { return fs_philox_next64((fs_philox_state *)st); }
static uint32_t fs_bitgen_next32(void *st) { return fs_philox_next32((fs_philox_state *)st); }
static double fs_bitgen_next_double(void *st) { return fs_philox_next_double((fs_philox_state *)st); }

/* Point a bitgen_t at a Philox state so numpy's C samplers can use it. */
static inline void fs_bitgen_wrap(bitgen_t *bg, fs_philox_state *st)
{
    bg->state = st;
    bg->next_uint64 = fs_bitgen_next64;
    bg->next_uint32 = fs_bitgen_next32;
    bg->next_double = fs_bitgen_next_double;
    bg->next_raw = fs_bitgen_next64;
}

#endif /* FASTSCORE_PHILOX_H */
