/* main.c — the `tide` command: dispatches sub-commands (src/cli/). */
#include <stdio.h>
#include <string.h>
#include "tide/common.h"
int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("tide %s\n", TIDE_VERSION_STRING);
        return 0;
    }
    fprintf(stderr, "usage: tide COMMAND ...\n");
    return 2;
}
