/* clip zeroshot: not built yet (see the issue that owns it). */
#include <stdio.h>
#include "cli.h"

int cmd_zeroshot(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "clip zeroshot: not implemented yet\n");
    return EXIT_USAGE;
}
