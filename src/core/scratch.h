/* Per-thread scratch buffers that grow and are kept between calls (so GEMM packing does not
 * page-fault on every product), freed when their thread exits (pthread key destructor), so
 * short-lived threads of the caller do not leak them. */
#ifndef CLIP_CORE_SCRATCH_H
#define CLIP_CORE_SCRATCH_H
#include <stddef.h>

enum { SCRATCH_GEMM_F32 = 0, SCRATCH_GEMM_BF16 = 1, SCRATCH_SLOTS = 4 };

/* At least bytes bytes, 64-byte aligned, owned by the calling thread; NULL when out of memory.
 * Contents are not kept when the buffer grows. */
void *thread_scratch(int slot, size_t bytes);
#endif
