/* clip.c's int8 GEMM: C = act(alpha * op(A) * Bq + beta * C + bias) with Bq a constant matrix
 * quantized once to int8 per output column (symmetric: scale = max|column| / 127), op(A)
 * quantized on the fly per row (symmetric, scale = max|row| / 127), exact int32 sums and an
 * fp32 epilogue: C = act(alpha * sa[row] * sb[col] * sum + beta * C + bias). Kernels, chosen at
 * run time: AMX tiles (TDPBSSD), AVX512_VNNI (VPDPBUSD on A + 128, with the column sums of B
 * subtracted), and plain loops. Used by core/matmul.c; nothing else should call it directly. */
#ifndef CLIP_CORE_GEMM_INT8_H
#define CLIP_CORE_GEMM_INT8_H
#include <stddef.h>
#include <stdint.h>

#define GEMM_INT8_NR 32 /* columns per packed panel */
#define GEMM_INT8_KP 64 /* K is zero padded to a multiple of this (one AMX tile's depth) */

enum { GEMM_INT8_NONE = 0, GEMM_INT8_AMX = 1, GEMM_INT8_VNNI = 2, GEMM_INT8_SCALAR = 3 };

/* 1 if the CPU has AMX-TILE + AMX-INT8 (and AVX-512) and Linux granted this process the tile
 * state (arch_prctl ARCH_REQ_XCOMP_PERM); checked once. */
int gemm_int8_amx_available(void);
/* 1 if the CPU has AVX512_VNNI (with AVX-512 F/BW/VL); checked once. */
int gemm_int8_vnni_available(void);

/* Bytes a packed op(B)[K,N] takes: Np = N rounded up to 32, Kp = K rounded up to 64;
 * Np * Kp int8 in 32-column panels, then Np float scales, then Np int32 column sums.
 * Panel layout (VNNI 4-byte groups): element (k, n) of a panel is at [(k/4) * 128 + 4n + k%4]. */
size_t gemm_int8_packed_bytes(int K, int N);
/* Quantizes and packs op(B) (K x N; transB: B is stored N x K) into dst (64-byte aligned). */
void gemm_int8_pack_b(int transB, int K, int N, const float *B, int ldb, void *dst);

/* C[M,N] = act(alpha * op(A)[M,K] * Bq + beta * C + bias) with kernel one of GEMM_INT8_*
 * (GEMM_INT8_SCALAR: plain loops, for tests). nthreads >= 1. */
void gemm_int8(int kernel, int transA, int M, int N, int K, float alpha, const float *A, int lda,
               const void *Bq, float beta, float *C, int ldc, const float *bias, int act, int nthreads);
#endif
