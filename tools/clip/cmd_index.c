/* clip index: not built yet (see the issue that owns it). */
#include <stdio.h>
#include "cli.h"

int cmd_index(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "clip index: not implemented yet\n");
    return EXIT_USAGE;
}
