/* clip.c's bf16 GEMM: C = act(alpha * op(A) * Bp + beta * C + bias) with op(A) fp32 (converted
 * to bf16 on the fly, round to nearest even), Bp a constant matrix pre-packed in bf16, fp32
 * accumulation and an fp32 epilogue. Two kernels, chosen at run time: AMX tiles (TDPBF16PS)
 * and AVX512_BF16 (VDPBF16PS). Used by core/matmul.c; nothing else should call it directly. */
#ifndef CLIP_CORE_GEMM_BF16_H
#define CLIP_CORE_GEMM_BF16_H
#include <stddef.h>
#include <stdint.h>

#define GEMM_BF16_NR 32 /* columns per packed panel */
#define GEMM_BF16_KP 32 /* K is zero padded to a multiple of this (one AMX tile's depth) */

enum { GEMM_BF16_NONE = 0, GEMM_BF16_AMX = 1, GEMM_BF16_AVX512 = 2, GEMM_BF16_SCALAR = 3 };

/* 1 if the CPU has AMX-TILE + AMX-BF16 (and AVX-512) and Linux granted this process the tile
 * state (arch_prctl ARCH_REQ_XCOMP_PERM); checked once. */
int gemm_bf16_amx_available(void);
/* 1 if the CPU has AVX512_BF16 (with AVX-512 F/BW/VL); checked once. */
int gemm_bf16_avx512_available(void);

/* Bytes a packed op(B)[K,N] takes: ceil(N/32) panels of (K rounded up to 32) x 32 bf16.
 * Panel layout (VNNI pairs): element (k, n) of a panel is at [(k/2) * 64 + 2n + k%2]. */
size_t gemm_bf16_packed_bytes(int K, int N);
/* Packs op(B) (K x N; transB: B is stored N x K) as bf16 into dst (64-byte aligned). */
void gemm_bf16_pack_b(int transB, int K, int N, const float *B, int ldb, uint16_t *dst);
/* fp32 -> bf16, round to nearest even (NaN stays NaN). */
uint16_t gemm_bf16_round(float x);

/* C[M,N] = act(alpha * op(A)[M,K] * Bp + beta * C + bias) with kernel one of GEMM_BF16_*
 * (GEMM_BF16_SCALAR: plain loops, for tests). nthreads >= 1. */
void gemm_bf16(int kernel, int transA, int M, int N, int K, float alpha, const float *A, int lda,
               const uint16_t *Bp, float beta, float *C, int ldc, const float *bias, int act, int nthreads);
#endif
