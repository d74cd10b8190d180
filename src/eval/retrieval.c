#include "eval/retrieval.h"
#include "core/matmul.h"
#include <math.h>
#include <stdlib.h>

static inline float score(float s) { return isnan(s) ? -INFINITY : s; }

void retrieval_ranks(const float *sim, int Q, int G, const int *qlab, const int *glab, int *rank) {
    for (int q = 0; q < Q; q++) {
        const float *s = sim + (size_t)q * G;
        int found = 0;
        float best = -INFINITY;
        for (int g = 0; g < G; g++)
            if (glab[g] == qlab[q]) { found = 1; if (score(s[g]) > best) best = score(s[g]); }
        if (!found) { rank[q] = -1; continue; }
        int r = 0;
        for (int g = 0; g < G; g++) r += glab[g] != qlab[q] && score(s[g]) >= best;
        rank[q] = r;
    }
}

double retrieval_recall_at(const int *rank, int Q, int k) {
    if (Q <= 0) return 0;
    int hits = 0;
    for (int q = 0; q < Q; q++) hits += rank[q] >= 0 && rank[q] < k;
    return (double)hits / Q;
}

void retrieval_dot(const float *a, int Q, const float *b, int G, int D, float *sim) {
    if (Q <= 0 || G <= 0) return;
    matmul(0, 1, Q, G, D, 1.0f, a, D, b, D, 0.0f, sim, G);
}

void retrieval_neg_sqdist(const float *a, int Q, const float *b, int G, int D, float *sim) {
    if (Q <= 0 || G <= 0) return;
    /* -|a|^2 - |b|^2 + 2 a.b: one GEMM, then the norms (in double) */
    matmul(0, 1, Q, G, D, 2.0f, a, D, b, D, 0.0f, sim, G);
    double *nb = malloc((size_t)G * sizeof(double));
    for (int g = 0; g < G; g++) {
        double t = 0;
        for (int d = 0; d < D; d++) t += (double)b[(size_t)g * D + d] * b[(size_t)g * D + d];
        if (nb) nb[g] = t;
    }
    for (int q = 0; q < Q; q++) {
        double na = 0;
        for (int d = 0; d < D; d++) na += (double)a[(size_t)q * D + d] * a[(size_t)q * D + d];
        for (int g = 0; g < G; g++) {
            double nbg = nb ? nb[g] : 0;
            if (!nb) for (int d = 0; d < D; d++) nbg += (double)b[(size_t)g * D + d] * b[(size_t)g * D + d];
            sim[(size_t)q * G + g] = (float)(sim[(size_t)q * G + g] - na - nbg);
        }
    }
    free(nb);
}
