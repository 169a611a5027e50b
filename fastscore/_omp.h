/* The one place OpenMP runtime calls are made, so the package also builds
 * (and runs serially) with a compiler that has no OpenMP. */
#ifndef FASTSCORE_OMP_H
#define FASTSCORE_OMP_H
#ifdef _OPENMP
#include <omp.h>
#define FS_HAVE_OPENMP 1
static inline int fs_omp_max_threads(void) { return omp_get_max_threads(); }
#else
#define FS_HAVE_OPENMP 0
static inline int fs_omp_max_threads(void) { return 1; }
#endif
#include <stdint.h>

/* Threads for a parallel loop of `items` independent items and `work`
 * elementary operations.  Small work runs serially: OpenMP start-up would
 * cost more than it saves. */
static inline int fs_threads_for(int n_threads, int64_t work, int64_t items)
{
    if (work < 32768 || items < 2)
        return 1;
    if (n_threads > items)
        return (int)items;
    return n_threads > 0 ? n_threads : 1;
}

#ifndef FASTSCORE_COMPILE_FLAGS
#define FASTSCORE_COMPILE_FLAGS "unknown"
#endif
#ifndef FASTSCORE_BUILD_INFO
#define FASTSCORE_BUILD_INFO "unknown"
#endif
static const char *fs_compile_flags = FASTSCORE_COMPILE_FLAGS;
static const char *fs_build_info = FASTSCORE_BUILD_INFO;
#endif
