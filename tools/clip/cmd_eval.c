/* clip eval: not built yet (see the issue that owns it). */
#include <stdio.h>
#include "cli.h"

int cmd_eval(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "clip eval: not implemented yet\n");
    return EXIT_USAGE;
}
