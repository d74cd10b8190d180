/* A small deterministic RNG (xoshiro256**) with normal and uniform draws. Its whole state is
 * four words, so checkpoints can store it and a resumed run draws the same numbers. */
#ifndef CLIP_CORE_RNG_H
#define CLIP_CORE_RNG_H
#include <stdint.h>

typedef struct clip_rng { uint64_t s[4]; } clip_rng;

void rng_seed(clip_rng *r, uint64_t seed);
uint64_t rng_u64(clip_rng *r);
double rng_uniform(clip_rng *r);               /* [0, 1) */
double rng_normal(clip_rng *r);                /* N(0, 1), Box-Muller */
uint32_t rng_below(clip_rng *r, uint32_t n);   /* uniform in [0, n) without modulo bias */
#endif
