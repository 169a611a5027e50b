/*
 * The instruction sets the kernels' vector loops are compiled for, the CPU's
 * best of them, and the engine configuration that chooses among them.
 *
 * Every vector loop (the Philox refills of _stream.h, the folds of
 * _reduce.h, the block loops of _rowops.h and _foldsteps.h, the one-hot
 * finish of _onehot.h) is compiled once per ISA: portable (SSE2 on x86-64),
 * AVX2 and AVX-512F, each with a target attribute, so build flags need not
 * enable AVX.  All builds give the same bits.  Which one runs is an explicit
 * argument of the dispatching function (an `int isa`, from an fs_engine),
 * never a global: the kernels hold no mutable state, so two threads may run
 * with different engines at the same time.
 *
 * An fs_engine travels from Python (fastscore._engine.Engine) into each
 * kernel entry point as one packed int (fs_engine_decode below), and from
 * there down the loops as a `const fs_engine *` or one of its fields.
 * This header needs nothing generated (_stream.h, a public header, uses it).
 */
#ifndef FASTSCORE_ISA_H
#define FASTSCORE_ISA_H

#if defined(__GNUC__) || defined(__clang__)
#define FS__UNUSED __attribute__((unused))
#else
#define FS__UNUSED
#endif

/* The ISAs, by the index every dispatcher and fastscore._engine use. */
enum { FS_ISA_PORTABLE = 0, FS_ISA_AVX2 = 1, FS_ISA_AVX512 = 2 };

/* x86-64 with GCC or clang: the AVX2 and AVX-512F builds exist. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define FS_ISA_X86 1
#else
#define FS_ISA_X86 0
#endif

/* The reducer's (and the block loops') vector builds; FS_REDUCE_NO_SIMD
 * compiles the portable loops only. */
#if FS_ISA_X86 && !defined(FS_REDUCE_NO_SIMD)
#define FS_REDUCE_X86_SIMD 1
#else
#define FS_REDUCE_X86_SIMD 0
#endif

/* The best ISA this CPU has (0 portable, 1 AVX2, 2 AVX-512F).  Reads the
 * CPU's features as libgcc found them at load time: a few loads. */
FS__UNUSED static int fs_isa_max(void)
{
#if FS_ISA_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return FS_ISA_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return FS_ISA_AVX2;
#endif
    return FS_ISA_PORTABLE;
}

/* The best ISA the reducer's loops have here: fs_isa_max(), or portable in a
 * build without their vector loops (FS_REDUCE_NO_SIMD). */
static inline int fs_reduce_isa_max(void)
{
#if FS_REDUCE_X86_SIMD
    return fs_isa_max();
#else
    return FS_ISA_PORTABLE;
#endif
}

/* isa, capped at what the CPU has (and at least portable). */
static inline int fs_isa_cap(int isa)
{
    int top = fs_isa_max();
    return isa < 0 ? FS_ISA_PORTABLE : (isa < top ? isa : top);
}

/*
 * The engine configuration: which ISA the Philox refills and the reducer's
 * loops use, and which fused paths are on (each fused path gives the bits of
 * the steps it fuses; tests turn them off to compare).
 *   stream_isa     the Philox refill (_stream.h)
 *   reduce_isa     the folds, block loops and one-hot finish
 *   score_fold     the scalar families' fused score-function step (_foldsteps.h)
 *   pathwise_fold  their fused pathwise step
 *   mvn_fused      MultivariateNormal's fused loops for events of 2 to 4 (_rowops.h)
 *   fresh_windows  a Python f gets fresh sample arrays for every window (_drivers.pxi)
 */
typedef struct fs_engine {
    int stream_isa;
    int reduce_isa;
    int score_fold;
    int pathwise_fold;
    int mvn_fused;
    int fresh_windows;
} fs_engine;

/* The packed form, one int: two bits per ISA, one per switch. */
enum {
    FS_ENGINE_STREAM_ISA_SHIFT = 0,
    FS_ENGINE_REDUCE_ISA_SHIFT = 2,
    FS_ENGINE_SCORE_FOLD_BIT = 4,
    FS_ENGINE_PATHWISE_FOLD_BIT = 5,
    FS_ENGINE_MVN_FUSED_BIT = 6,
    FS_ENGINE_FRESH_WINDOWS_BIT = 7,
    FS_ENGINE_BITS = 8
};

/* The engine of a packed code, its ISAs capped at the CPU's (a code made
 * on another machine, a Dask worker's, never runs what this CPU lacks). */
static inline fs_engine fs_engine_decode(long code)
{
    fs_engine e;
    e.stream_isa = fs_isa_cap((int)((code >> FS_ENGINE_STREAM_ISA_SHIFT) & 3));
    e.reduce_isa = fs_isa_cap((int)((code >> FS_ENGINE_REDUCE_ISA_SHIFT) & 3));
    e.score_fold = (int)((code >> FS_ENGINE_SCORE_FOLD_BIT) & 1);
    e.pathwise_fold = (int)((code >> FS_ENGINE_PATHWISE_FOLD_BIT) & 1);
    e.mvn_fused = (int)((code >> FS_ENGINE_MVN_FUSED_BIT) & 1);
    e.fresh_windows = (int)((code >> FS_ENGINE_FRESH_WINDOWS_BIT) & 1);
    return e;
}

static inline long fs_engine_encode(const fs_engine *e)
{
    return ((long)e->stream_isa << FS_ENGINE_STREAM_ISA_SHIFT)
        | ((long)e->reduce_isa << FS_ENGINE_REDUCE_ISA_SHIFT)
        | ((long)(e->score_fold != 0) << FS_ENGINE_SCORE_FOLD_BIT)
        | ((long)(e->pathwise_fold != 0) << FS_ENGINE_PATHWISE_FOLD_BIT)
        | ((long)(e->mvn_fused != 0) << FS_ENGINE_MVN_FUSED_BIT)
        | ((long)(e->fresh_windows != 0) << FS_ENGINE_FRESH_WINDOWS_BIT);
}

/* The vector types of the lane loops: W doubles per native vector (GCC and
 * clang vector extensions; elsewhere W = 1, arrays of doubles). */
#if defined(__GNUC__) || defined(__clang__)
typedef double fs__v2 __attribute__((vector_size(16)));
typedef double fs__v4 __attribute__((vector_size(32)));
typedef double fs__v8 __attribute__((vector_size(64)));
#endif

/* Forced inlining, for the helpers the per-ISA loops (_rowops.h, _onehot.h)
 * inline with constant arguments, so that each case is a loop without
 * branches. */
#if defined(__GNUC__) || defined(__clang__)
#define FS__ALWAYS_INLINE __attribute__((always_inline)) static inline
#elif defined(_MSC_VER)
#define FS__ALWAYS_INLINE static __forceinline
#else
#define FS__ALWAYS_INLINE static inline
#endif

/* Before the loop whose iterations are the vector lanes, when loops nest
 * (otherwise the compiler may vectorise another one, or none). */
#if defined(_OPENMP) && (defined(__GNUC__) || defined(__clang__))
#define FS__LANE_LOOP _Pragma("omp simd")
#else
#define FS__LANE_LOOP
#endif

/* DEF(SUFFIX, ATTR) for every build of a loop: portable, and where the
 * compiler can target them, AVX2 and AVX-512F (what FS__DISPATCH chooses from). */
#if FS_REDUCE_X86_SIMD
#define FS__FOR_EACH_ISA(DEF)                                                           \
    DEF(portable, FS__UNUSED)                                                           \
    DEF(avx2, FS__UNUSED __attribute__((target("avx2"))))                               \
    DEF(avx512, FS__UNUSED __attribute__((target("avx512f"))))
#else
#define FS__FOR_EACH_ISA(DEF) DEF(portable, FS__UNUSED)
#endif

/* In a void function: call name##_avx512, _avx2 or _portable with args, by
 * the ISA isa (an fs_engine's reduce_isa), and return.  One branch per call. */
#if FS_REDUCE_X86_SIMD
#define FS__DISPATCH(isa, name, args)                                                   \
    do {                                                                                \
        int isa_ = (isa);                                                               \
        if (isa_ == FS_ISA_AVX512) { name##_avx512 args; return; }                      \
        if (isa_ == FS_ISA_AVX2) { name##_avx2 args; return; }                          \
        name##_portable args;                                                           \
    } while (0)
/* The same in a function that returns the chosen build's result. */
#define FS__DISPATCH_RETURN(isa, name, args)                                            \
    do {                                                                                \
        int isa_ = (isa);                                                               \
        if (isa_ == FS_ISA_AVX512) return name##_avx512 args;                           \
        if (isa_ == FS_ISA_AVX2) return name##_avx2 args;                               \
        return name##_portable args;                                                    \
    } while (0)
#else
#define FS__DISPATCH(isa, name, args) do { (void)(isa); name##_portable args; } while (0)
#define FS__DISPATCH_RETURN(isa, name, args)                                            \
    do { (void)(isa); return name##_portable args; } while (0)
#endif

#endif
