#include "core/scratch.h"
#include <pthread.h>
#include <stdlib.h>

typedef struct { void *p[SCRATCH_SLOTS]; size_t cap[SCRATCH_SLOTS]; } scratch_set;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void release(void *v) {
    scratch_set *s = v;
    for (int i = 0; i < SCRATCH_SLOTS; i++) free(s->p[i]);
    free(s);
}

static void make_key(void) { pthread_key_create(&key, release); }

void *thread_scratch(int slot, size_t bytes) {
    if (slot < 0 || slot >= SCRATCH_SLOTS) return NULL;
    pthread_once(&once, make_key);
    scratch_set *s = pthread_getspecific(key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(key, s)) { free(s); return NULL; }
    }
    if (bytes > s->cap[slot]) {
        free(s->p[slot]);
        size_t b = (bytes + 63) & ~(size_t)63;
        s->p[slot] = aligned_alloc(64, b);
        s->cap[slot] = s->p[slot] ? b : 0;
    }
    return s->p[slot];
}
