/*
 * An fs_stream (_stream.h) seen as numpy's public bitgen_t, so that numpy's
 * own C samplers (numpy/random/c_distributions.pxd, libnpyrandom) draw from
 * it: for the families _samplers.h does not re-implement (binomial, von
 * Mises, ...), on the same stream and interleaved with fs_* draws.  The
 * words, doubles and 32-bit halves it serves are those of fs_next64,
 * fs_next_double and fs_next32, i.e. numpy.random.Philox's.  Every draw
 * through it costs an indirect call, as it does in numpy.
 */
#ifndef FASTSCORE_STREAM_BITGEN_H
#define FASTSCORE_STREAM_BITGEN_H

#include "numpy/random/bitgen.h"
#include "_stream.h"

static uint64_t fs_bitgen_stream_next64(void *st) { return fs_next64((fs_stream *)st); }
static uint32_t fs_bitgen_stream_next32(void *st) { return fs_next32((fs_stream *)st); }
static double fs_bitgen_stream_next_double(void *st) { return fs_next_double((fs_stream *)st); }

/* Point bg at s (bg draws from s until s goes out of scope). */
static inline void fs_stream_bitgen(bitgen_t *bg, fs_stream *s)
{
    bg->state = s;
    bg->next_uint64 = fs_bitgen_stream_next64;
    bg->next_uint32 = fs_bitgen_stream_next32;
    bg->next_double = fs_bitgen_stream_next_double;
    bg->next_raw = fs_bitgen_stream_next64;
}

#endif /* FASTSCORE_STREAM_BITGEN_H */
