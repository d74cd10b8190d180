/* clip embed: not built yet (see the issue that owns it). */
#include <stdio.h>
#include "cli.h"

int cmd_embed(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "clip embed: not implemented yet\n");
    return EXIT_USAGE;
}
