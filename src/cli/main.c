/*
 * main.c — entry point of the `tide` command: finds the sub-command in the
 * table below and runs it. Every command prints its own usage with --help.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "tide/common.h"

static const struct {
    const char *name;
    tide_cmd_fn fn;
    const char *help;
} COMMANDS[] = {
    {"replay", cmd_replay, "progressive validation of a learner over a recorded stream"},
    {"predict", cmd_predict, "score a file with a saved model"},
    {"learners", cmd_learners, "list learners, their parameters and defaults"},
    {"serve", cmd_serve, "run the HTTP JSON API over a data directory (models, labels, registry)"},
    {"token", cmd_token, "create, list and revoke access tokens of a data directory"},
    {"audit", cmd_audit, "verify and list the tamper-evident audit log of a data directory"},
    {"drift", cmd_drift, "run a drift detector over a column of a stream and list its alarms"},
    {"detectors", cmd_detectors, "list drift detectors, their parameters and defaults"},
    /* one line per command; keep sorted by workflow, not alphabet */
};

static void usage(FILE *f)
{
    fprintf(f, "tide %s — continual-learning model server\n\nusage: tide COMMAND [ARGS]\n\n",
            TIDE_VERSION_STRING);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\nRun 'tide COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tide %s\n", TIDE_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(argv[1], COMMANDS[i].name))
            return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tide: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
