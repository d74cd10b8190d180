/* The inference layout of the weights: every Linear weight matrix is repacked in place into the
 * GEMM kernel's panels, so the forward pass calls matmul_prepacked and never packs B again.
 * Packed and plain sizes are equal for every CLIP width, so this costs no memory; training and
 * saving need the plain layout back (model_unpack). */
#include "model/model.h"
#include "core/error.h"
#include "core/gemm_avx512.h" /* GEMM_NR */
#include "core/gemm_bf16.h"
#include "core/gemm_int8.h"
#include <stdlib.h>
#include <string.h>

/* One matrix the forward multiplies by: op(B)[K,N] stored at w; q8: int8 takes it (the blocks'
 * Linears and the patch embedding; not the final projections). */
typedef struct { float *w; int transB, K, N, q8; } mat;

/* A tower's block matrices, each kind over all layers (the order bind_views expects). */
static int list_tower(mat *mats, int n, const tf_weights *t, int L, int W) {
    for (int l = 0; l < L; l++, n++) if (mats) mats[n] = (mat){t->qkv_w + (size_t)l * 3 * W * W, 1, W, 3 * W, 1};
    for (int l = 0; l < L; l++, n++) if (mats) mats[n] = (mat){t->proj_w + (size_t)l * W * W, 1, W, W, 1};
    for (int l = 0; l < L; l++, n++) if (mats) mats[n] = (mat){t->fc_w + (size_t)l * 4 * W * W, 1, W, 4 * W, 1};
    for (int l = 0; l < L; l++, n++) if (mats) mats[n] = (mat){t->fcp_w + (size_t)l * 4 * W * W, 1, 4 * W, W, 1};
    return n;
}

/* The model's matrices in descriptor order; returns how many (mats may be NULL to count). */
static int list_mats(clip_model *m, mat *mats) {
    const clip_config *c = &m->cfg;
    clip_params *p = &m->p;
    int n = 0;
    if (c->vision_kind == CLIP_VISION_VIT) {
        int W = c->vision_width, P = c->patch_size;
        if (mats) { mats[0] = (mat){p->v_conv1, 1, 3 * P * P, W, 1}; mats[1] = (mat){p->v_proj, 0, W, c->embed_dim, 0}; }
        n = list_tower(mats, 2, &p->v_tf, c->vision_layers, W);
    }
    if (c->text_width) {
        if (mats) mats[n] = (mat){p->t_proj, 0, c->text_width, c->embed_dim, 0};
        n = list_tower(mats, n + 1, &p->t_tf, c->text_layers, c->text_width);
    }
    return n;
}

/* Points the tower views at the descriptors (same order as list_mats). */
static void bind_views(clip_model *m) {
    const clip_config *c = &m->cfg;
    matmul_packed_b *d = m->pk;
    memset(&m->vtf, 0, sizeof m->vtf);
    memset(&m->ttf, 0, sizeof m->ttf);
    m->v_conv1_pk = m->v_proj_pk = m->t_proj_pk = NULL;
    if (c->vision_kind == CLIP_VISION_VIT) {
        int L = c->vision_layers;
        m->v_conv1_pk = d++;
        m->v_proj_pk = d++;
        m->vtf.qkv = d; m->vtf.proj = d + L; m->vtf.fc = d + 2 * L; m->vtf.fcp = d + 3 * L;
        d += 4 * L;
    }
    if (c->text_width) {
        int L = c->text_layers;
        m->t_proj_pk = d++;
        m->ttf.qkv = d; m->ttf.proj = d + L; m->ttf.fc = d + 2 * L; m->ttf.fcp = d + 3 * L;
    }
}

/* The matrices to convert (malloc'd), their packed views (m->pk, bound to the towers), and, when
 * tmp_out is not NULL, a scratch buffer the size of the largest. Returns the count (0: none,
 * nothing allocated), or a negative status. */
static int open_mats(clip_model *m, mat **mats_out, float **tmp_out, clip_error *err) {
    int n = list_mats(m, NULL);
    *mats_out = NULL;
    if (tmp_out) *tmp_out = NULL;
    if (!n) return 0;
    mat *mats = malloc(n * sizeof *mats);
    if (!m->pk) m->pk = calloc(n, sizeof *m->pk);
    if (!mats || !m->pk) { free(mats); return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    m->npk = n;
    list_mats(m, mats);
    bind_views(m);
    *mats_out = mats;
    if (!tmp_out) return n;
    size_t big = 0;
    for (int i = 0; i < n; i++) if ((size_t)mats[i].K * mats[i].N > big) big = (size_t)mats[i].K * mats[i].N;
    *tmp_out = malloc(big * sizeof(float));
    if (!*tmp_out) { free(mats); *mats_out = NULL; return clip_fail(err, CLIP_ERR_NOMEM, "out of memory"); }
    return n;
}

int model_pack(clip_model *m, clip_error *err) {
    if (m->packed) return 0;
    if (m->precision != CLIP_PRECISION_FP32) return 0; /* already in its final form */
    mat *mats;
    float *tmp;
    int n = open_mats(m, &mats, &tmp, err);
    if (n <= 0) return n;
    int any = 0;
    for (int i = 0; i < n; i++) {
        /* fp16-exact matrices (OpenAI's checkpoints) as fp16 panels: same products, half the bytes */
        if (!matmul_pack_b_inplace_f16(m->pk + i, mats[i].transB, mats[i].K, mats[i].N, mats[i].w, tmp)) any = 1;
        else if (!matmul_pack_b_inplace(m->pk + i, mats[i].transB, mats[i].K, mats[i].N, mats[i].w, tmp)) any = 1;
    }
    free(tmp);
    free(mats);
    m->packed = any;
    return 0;
}

int model_unpack(clip_model *m, clip_error *err) {
    if (m->precision != CLIP_PRECISION_FP32) {
        const char *p = m->precision == CLIP_PRECISION_INT8 ? "int8" : "bf16";
        return clip_fail(err, CLIP_ERR_UNSUPPORTED,
                         "this model was loaded with %s weights (precision %s): its fp32 weights are gone, so it "
                         "cannot be trained or saved; load it in fp32 for that", p, p);
    }
    if (!m->packed) return 0;
    mat *mats;
    float *tmp;
    int n = open_mats(m, &mats, &tmp, err);
    if (n < 0) return n;
    for (int i = 0; i < n; i++) { /* into the block: fp16 panels mapped from a packed file lie outside it */
        matmul_packed_b *d = m->pk + i;
        if (!d->data || d->owned || (d->layout != 0 && d->layout != 4)) continue;
        matmul_unpack_b_to(d, mats[i].transB, mats[i].w, tmp);
        memset(d, 0, sizeof *d);
    }
    free(tmp);
    free(mats);
    m->packed = 0;
    return 0;
}

/* Converts the Linear weights in place to bf16 or int8 (prec). int8 covers the blocks' Linears
 * and the patch embedding (~99.9% of the products; a patch's pixels quantize to about their own
 * 8-bit resolution). The final projections write the features themselves and are few FLOPs:
 * int8 there tripled the golden image error, so they keep fp32 (docs/performance.md, "int8"). */
static int pack_reduced(clip_model *m, int prec, clip_error *err) {
    if (m->precision == prec) return 0;
    int q8 = prec == CLIP_PRECISION_INT8;
    const char *name = q8 ? "int8" : "bf16";
    if (!(q8 ? matmul_int8_kernel() : matmul_bf16_kernel()))
        return clip_fail(err, CLIP_ERR_UNSUPPORTED, "precision %s needs a CPU with %s (and AVX-512); this one has neither: use fp32",
                         name, q8 ? "AMX-INT8 or AVX512_VNNI" : "AMX-BF16 or AVX512_BF16");
    int rc = model_unpack(m, err); /* from the checkpoint layout */
    if (rc) return rc;
    mat *mats;
    float *tmp;
    int n = open_mats(m, &mats, &tmp, err);
    if (n < 0) return n;
    for (int i = 0; i < n && !rc; i++) {
        const mat *x = &mats[i];
        if (!q8) rc = matmul_pack_b_bf16_inplace(m->pk + i, x->transB, x->K, x->N, x->w, tmp);
        else if (x->q8) rc = matmul_pack_b_int8_inplace(m->pk + i, x->transB, x->K, x->N, x->w, tmp);
        else /* fp32 panels where the kernel takes them; else the forward uses the plain matrix */
            (void)matmul_pack_b_inplace(m->pk + i, x->transB, x->K, x->N, x->w, tmp);
    }
    free(tmp);
    free(mats);
    /* on failure (out of memory) some matrices may already be converted: the model is unusable */
    if (rc) return clip_fail(err, rc, "out of memory converting the weights to %s", name);
    m->packed = n > 0;
    m->precision = prec;
    return 0;
}

int model_pack_bf16(clip_model *m, clip_error *err) { return pack_reduced(m, CLIP_PRECISION_BF16, err); }
int model_pack_int8(clip_model *m, clip_error *err) { return pack_reduced(m, CLIP_PRECISION_INT8, err); }

int clip_precision_from_name(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "fp32")) return CLIP_PRECISION_FP32;
    if (!strcmp(name, "bf16")) return CLIP_PRECISION_BF16;
    if (!strcmp(name, "int8")) return CLIP_PRECISION_INT8;
    return -1;
}

int clip_model_precision(const clip_model *m) { return m->precision; }

int clip_model_fp16_matrices(const clip_model *m, int *total) {
    int n = list_mats((clip_model *)m, NULL), h = 0;
    for (int i = 0; m->packed && m->pk && i < m->npk; i++) h += m->pk[i].data && m->pk[i].layout == 4;
    if (total) *total = n;
    return h;
}

/* ---- packed model files (model/native.c): which matrices are packed, and binding a block that
 * already holds them packed (mapped from a file) without touching its pages. */
int model_pack_count(clip_model *m) { return list_mats(m, NULL); }

int model_packed_mask(const clip_model *m, char *mask) {
    int n = list_mats((clip_model *)m, NULL);
    for (int i = 0; i < n; i++) mask[i] = m->packed && m->pk && i < m->npk && m->pk[i].data && m->pk[i].layout == 0 ? '1' : '0';
    mask[n] = 0;
    return n;
}

int model_bind_packed(clip_model *m, const char *mask, int panel_width, const void *origin, clip_error *err) {
    int n = list_mats(m, NULL);
    if ((int)strlen(mask) != n) return clip_fail(err, CLIP_ERR_FORMAT, "the packed-matrix list has %d entries; the architecture has %d matrices", (int)strlen(mask), n);
    mat *mats;
    if ((n = open_mats(m, &mats, NULL, err)) <= 0) return n;
    int any = 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        memset(m->pk + i, 0, sizeof m->pk[i]);
        if (mask[i] == '0') continue;
        if (mask[i] != '1' || mats[i].N % panel_width || ((uintptr_t)((const char *)mats[i].w - (const char *)origin) & 63))
            rc = clip_fail(err, CLIP_ERR_FORMAT, "matrix %d (%d x %d) cannot be in the packed layout", i, mats[i].K, mats[i].N);
        else {
            m->pk[i] = (matmul_packed_b){.K = mats[i].K, .N = mats[i].N, .layout = 0, .owned = 0, .data = mats[i].w,
                                         .bytes = (size_t)mats[i].K * mats[i].N * sizeof(float)};
            any = 1;
        }
    }
    free(mats);
    m->packed = rc ? 0 : any;
    return rc;
}

/* ---- packed bf16 / int8 files (model/native.c, version 2): where each matrix lies in the
 * block, and binding packed matrices that lie elsewhere (in the file's own tensors). */
int model_mats_info(clip_model *m, model_mat_info *out) {
    int n = list_mats(m, NULL);
    if (!out || !n) return n;
    mat *mats = malloc(n * sizeof *mats);
    if (!mats) return -1;
    list_mats(m, mats);
    for (int i = 0; i < n; i++)
        out[i] = (model_mat_info){(size_t)(mats[i].w - m->params), mats[i].K, mats[i].N, mats[i].q8};
    free(mats);
    return n;
}

char model_mat_code(const clip_model *m, int i) {
    const matmul_packed_b *d = m->pk && i < m->npk ? m->pk + i : NULL;
    if (!d || !d->data) return '0';
    return d->layout == 0 ? '1' : d->layout == 2 ? 'b' : d->layout == 3 ? 'q' : d->layout == 4 ? 'h' : '0';
}

int model_bind_quant(clip_model *m, const char *mask, int precision, const model_mat_info *info, void *const *data,
                     clip_error *err) {
    int n = list_mats(m, NULL);
    if ((int)strlen(mask) != n) return clip_fail(err, CLIP_ERR_FORMAT, "the packed-matrix list has %d entries; the architecture has %d matrices", (int)strlen(mask), n);
    if (!n) { m->precision = precision; return 0; }
    if (!m->pk) m->pk = calloc(n, sizeof *m->pk);
    if (!m->pk) return clip_fail(err, CLIP_ERR_NOMEM, "out of memory");
    m->npk = n;
    bind_views(m);
    for (int i = 0; i < n; i++) {
        const model_mat_info *t = info + i;
        /* exactly what model_pack_bf16 / model_pack_int8 make of this matrix */
        /* (matmul_pack_b_inplace takes a width a multiple of the panel, lying 64-byte aligned) */
        char want = precision == CLIP_PRECISION_BF16 ? 'b' : precision == CLIP_PRECISION_INT8 && t->q8 ? 'q'
                  : t->N % GEMM_NR == 0 && !((t->off * sizeof(float)) & 63) ? '1' : '0';
        /* fp32: fp16-exact matrices are fp16 panels ('h'), as model_pack makes them */
        if (precision == CLIP_PRECISION_FP32 && want == '1' && mask[i] == 'h') want = 'h';
        memset(m->pk + i, 0, sizeof m->pk[i]);
        if (mask[i] != want) {
            m->packed = 0;
            return clip_fail(err, CLIP_ERR_FORMAT, "matrix %d (%d x %d) is marked '%c'; at precision %s it is '%c'", i, t->K, t->N,
                             mask[i], precision == CLIP_PRECISION_BF16 ? "bf16" : precision == CLIP_PRECISION_INT8 ? "int8" : "fp32", want);
        }
        if (want == '1')
            m->pk[i] = (matmul_packed_b){.K = t->K, .N = t->N, .layout = 0, .data = m->params + t->off,
                                         .bytes = (size_t)t->K * t->N * sizeof(float)};
        else if (want == 'b')
            m->pk[i] = (matmul_packed_b){.K = t->K, .N = t->N, .layout = 2, .data = data[i], .bytes = gemm_bf16_packed_bytes(t->K, t->N)};
        else if (want == 'q')
            m->pk[i] = (matmul_packed_b){.K = t->K, .N = t->N, .layout = 3, .data = data[i], .bytes = gemm_int8_packed_bytes(t->K, t->N)};
        else if (want == 'h')
            m->pk[i] = (matmul_packed_b){.K = t->K, .N = t->N, .layout = 4, .data = data[i], .bytes = (size_t)t->K * t->N * sizeof(uint16_t)};
    }
    m->packed = 1;
    m->precision = precision;
    return 0;
}
