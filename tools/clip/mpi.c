/* MPI glue for `clip train --mpi` (the library itself links no MPI): the two collectives of
 * clip_dist over MPI_COMM_WORLD. Built only by `make mpi` (CLIP_MPI); elsewhere --mpi says how. */
#include "cli.h"
#include "mpi_glue.h"
#include <limits.h>
#include <stdio.h>

#ifdef CLIP_MPI
#include <mpi.h>

/* MPI counts are ints: large buffers go in pieces */
#define PIECE ((size_t)1 << 28)

static int gather(void *ud, const float *send, float *recv, size_t n) {
    (void)ud;
    if (n > INT_MAX) return -1;
    return MPI_Allgather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

/* Reduce to rank 0, then broadcast: every rank gets the very same bits (an all-reduce may sum
 * in a different order on different ranks, and the models would drift apart). */
static int reduce(void *ud, float *buf, size_t n) {
    int rank;
    (void)ud;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (size_t o = 0; o < n; o += PIECE) {
        int c = (int)(n - o < PIECE ? n - o : PIECE);
        if (MPI_Reduce(rank ? buf + o : MPI_IN_PLACE, buf + o, c, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
        if (MPI_Bcast(buf + o, c, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
    }
    return 0;
}

int cli_mpi_start(int *argc, char ***argv, clip_dist *d) {
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok && MPI_Init(argc, argv) != MPI_SUCCESS) return cli_fail("train", "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->allgather = gather;
    d->allreduce_sum = reduce;
    d->ud = NULL;
    return 0;
}

void cli_mpi_stop(int failed) {
    if (failed) MPI_Abort(MPI_COMM_WORLD, 1);   /* the other ranks would wait forever */
    MPI_Finalize();
}
#else
int cli_mpi_start(int *argc, char ***argv, clip_dist *d) {
    (void)argc; (void)argv; (void)d;
    return cli_fail("train", "--mpi needs the MPI build: make mpi, then mpirun -np N build-mpi/clip train --mpi ...");
}
void cli_mpi_stop(int failed) { (void)failed; }
#endif
