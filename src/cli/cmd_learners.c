/*
 * cmd_learners.c — `tide learners [--json]`: every learner with its task,
 * meaning, parameters, defaults and ranges (from the registry's specs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "tide/learn.h"

int cmd_learners(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tide learners [--json]\n  Lists every learner, its task, its "
                   "parameters (type, default, range) and their meaning.\n");
            return 0;
        } else {
            fprintf(stderr, "tide learners: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < tide_learner_count(); i++) {
            const tide_learner_vt *vt = tide_learner_at(i);
            json_t *ps = cli_params_json(vt->params, vt->n_params);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}", "name", vt->name, "task",
                                                 tide_task_name(vt->task), "summary", vt->summary,
                                                 "params", ps));
        }
        char *s = json_dumps(arr, JSON_INDENT(2));
        puts(s);
        free(s);
        json_decref(arr);
        return 0;
    }
    for (size_t i = 0; i < tide_learner_count(); i++) {
        const tide_learner_vt *vt = tide_learner_at(i);
        printf("%-10s [%s] %s\n", vt->name, tide_task_name(vt->task), vt->summary);
        cli_params_print(stdout, vt->params, vt->n_params);
    }
    return 0;
}
