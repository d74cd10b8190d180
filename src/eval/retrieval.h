/* Retrieval metrics over a similarity matrix, as plain functions (docs/eval.md).
 * A query's relevant gallery items are those with the same class id. Ties are broken
 * pessimistically: every non-relevant item scoring >= the best relevant one ranks above it,
 * so a model that scores everything alike gets no credit for lucky ordering. NaN scores
 * count as -infinity. */
#ifndef CLIP_EVAL_RETRIEVAL_H
#define CLIP_EVAL_RETRIEVAL_H

/* sim [Q, G] (higher = more similar), qlab [Q], glab [G]. rank[q] gets the number of
 * non-relevant gallery items scoring >= the best relevant item: 0 means a hit at 1.
 * rank[q] = -1 when the gallery holds no relevant item for q. */
void retrieval_ranks(const float *sim, int Q, int G, const int *qlab, const int *glab, int *rank);
/* Recall@k: the fraction of the Q queries with 0 <= rank < k (rank -1 counts as a miss).
 * Zero-shot top-k accuracy is this, with the classes as the gallery. 0 when Q == 0. */
double retrieval_recall_at(const int *rank, int Q, int k);
/* sim [Q, G] = a [Q, D] . b [G, D]^T: cosine similarity for L2-normalised rows. */
void retrieval_dot(const float *a, int Q, const float *b, int G, int D, float *sim);
/* sim [Q, G] = -|a_q - b_g|^2: nearest neighbour in Euclidean distance as a similarity. */
void retrieval_neg_sqdist(const float *a, int Q, const float *b, int G, int D, float *sim);
#endif
