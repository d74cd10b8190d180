/* Retrieval metrics (src/eval/retrieval.c) on hand-checkable similarity matrices, and against
 * an independent reference (sort the gallery, ties ordered non-relevant first) on random
 * matrices with many ties. */
#include "testutil.h"
#include "eval/retrieval.h"

static const float *g_s;
static const int *g_rel;
static int cmp_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    float si = isnan(g_s[i]) ? -INFINITY : g_s[i], sj = isnan(g_s[j]) ? -INFINITY : g_s[j];
    if (si != sj) return si > sj ? -1 : 1;
    if (g_rel[i] != g_rel[j]) return g_rel[i] - g_rel[j];   /* pessimistic: non-relevant first */
    return i - j;
}

/* Rank of the first relevant item in the sorted gallery minus the relevant ones before it (0). */
static int ref_rank(const float *s, int G, const int *rel) {
    int order[64];
    for (int g = 0; g < G; g++) order[g] = g;
    g_s = s; g_rel = rel;
    qsort(order, G, sizeof(int), cmp_desc);
    for (int p = 0; p < G; p++) if (rel[order[p]]) return p;
    return -1;
}

int main(void) {
    /* 1. a 4 x 4 matrix checked by hand */
    const float sim[16] = {
        0.9f, 0.1f, 0.5f, 0.2f,    /* q0, class 0: relevant g0 (0.9), g3; nothing scores >= 0.9 -> 0 */
        0.3f, 0.2f, 0.8f, 0.25f,   /* q1, class 1: relevant g1 (0.2); g0, g2, g3 are >= 0.2 -> 3 */
        0.5f, 0.5f, 0.5f, 0.5f,    /* q2, class 2: all tied; the three others count -> 3 */
        0.1f, 0.2f, 0.3f, 0.4f};   /* q3, class 3: no relevant item -> -1 */
    const int qlab[4] = {0, 1, 2, 3}, glab[4] = {0, 1, 2, 0};
    int rank[4];
    retrieval_ranks(sim, 4, 4, qlab, glab, rank);
    CHECK(rank[0] == 0 && rank[1] == 3 && rank[2] == 3 && rank[3] == -1, "ranks %d %d %d %d", rank[0], rank[1], rank[2], rank[3]);
    CHECK(retrieval_recall_at(rank, 4, 1) == 0.25, "R@1 %g", retrieval_recall_at(rank, 4, 1));
    CHECK(retrieval_recall_at(rank, 4, 3) == 0.25, "R@3 %g", retrieval_recall_at(rank, 4, 3));
    CHECK(retrieval_recall_at(rank, 4, 4) == 0.75, "R@4 %g", retrieval_recall_at(rank, 4, 4));
    CHECK(retrieval_recall_at(rank, 4, 10) == 0.75, "R@10 %g", retrieval_recall_at(rank, 4, 10));
    CHECK(retrieval_recall_at(rank, 0, 1) == 0.0, "Q = 0");

    /* 2. relevant items tied with each other do not push each other down */
    const float s2[3] = {0.5f, 0.5f, 0.1f};
    const int q2[1] = {7}, g2[3] = {7, 7, 1};
    retrieval_ranks(s2, 1, 3, q2, g2, rank);
    CHECK(rank[0] == 0, "tied relevant items: rank %d", rank[0]);
    /* a relevant item below a tie: exactly the items >= it count */
    const float s3[4] = {0.7f, 0.4f, 0.4f, 0.4f};
    const int g3[4] = {1, 7, 1, 1};
    retrieval_ranks(s3, 1, 4, q2, g3, rank);
    CHECK(rank[0] == 3, "tie at the relevant score: rank %d", rank[0]);

    /* 3. NaN is -infinity */
    const float s4[6] = {NAN, 0.1f, 0.1f, NAN, NAN, NAN};
    const int q4[2] = {0, 0}, g4[3] = {0, 1, 1};
    retrieval_ranks(s4, 2, 3, q4, g4, rank);
    CHECK(rank[0] == 2, "NaN relevant: rank %d", rank[0]);
    CHECK(rank[1] == 2, "all NaN: rank %d", rank[1]);
    const float s5[2] = {0.1f, NAN};
    const int g5[2] = {0, 1};
    retrieval_ranks(s5, 1, 2, q4, g5, rank);
    CHECK(rank[0] == 0, "NaN non-relevant: rank %d", rank[0]);

    /* 4. similarity matrices */
    const float a[4] = {0, 0, 1, 1}, b[4] = {1, 0, 3, 4};
    float out[4];
    retrieval_neg_sqdist(a, 2, b, 2, 2, out);
    CHECK(out[0] == -1 && out[1] == -25 && out[2] == -1 && out[3] == -13, "neg_sqdist %g %g %g %g", out[0], out[1], out[2], out[3]);
    retrieval_dot(a, 2, b, 2, 2, out);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 1 && out[3] == 7, "dot %g %g %g %g", out[0], out[1], out[2], out[3]);

    /* 5. random matrices with many ties (scores from 4 levels) against the reference */
    uint64_t x = 12345;
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        int Q = 1 + trial % 7, G = 1 + (trial * 13) % 40;
        float s[7 * 40];
        int ql[7], gl[40], rk[7], rel[40];
        for (int i = 0; i < Q * G; i++) { x = x * 6364136223846793005ull + 1442695040888963407ull; s[i] = (float)((x >> 33) % 4); }
        for (int q = 0; q < Q; q++) { x = x * 6364136223846793005ull + 1; ql[q] = (int)((x >> 40) % 5); }
        for (int g = 0; g < G; g++) { x = x * 6364136223846793005ull + 1; gl[g] = (int)((x >> 40) % 5); }
        retrieval_ranks(s, Q, G, ql, gl, rk);
        for (int q = 0; q < Q; q++) {
            for (int g = 0; g < G; g++) rel[g] = gl[g] == ql[q];
            if (rk[q] != ref_rank(s + q * G, G, rel)) bad++;
        }
    }
    CHECK(bad == 0, "%d random queries disagree with the reference", bad);
    TEST_END();
}
