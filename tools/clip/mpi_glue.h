/* `clip train --mpi`: data-parallel training over MPI ranks (tools/clip/mpi.c). */
#ifndef CLIP_TOOL_MPI_GLUE_H
#define CLIP_TOOL_MPI_GLUE_H
#include "clip.h"
/* Initialises MPI and fills d (rank, size, collectives). Returns 0 or an exit status. */
int cli_mpi_start(int *argc, char ***argv, clip_dist *d);
/* Finalises MPI; failed: abort the other ranks, which would otherwise wait. */
void cli_mpi_stop(int failed);
#endif
