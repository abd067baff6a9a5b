/*
 * params.c — prints parameter spec tables (learners, detectors) as text
 * lines or as a JSON array, so `tide learners` and `tide detectors` show
 * parameters the same way.
 */
#include "cli/cli.h"

static const char *type_name(tide_param_type t)
{
    switch (t) {
    case TIDE_PARAM_DOUBLE: return "float";
    case TIDE_PARAM_INT: return "int";
    case TIDE_PARAM_BOOL: return "bool";
    case TIDE_PARAM_ENUM: return "choice";
    }
    return "?";
}

json_t *cli_params_json(const tide_param_spec *spec, size_t n)
{
    json_t *ps = json_array();
    for (size_t j = 0; ps && j < n; j++) {
        const tide_param_spec *p = &spec[j];
        json_array_append_new(ps, json_pack("{s:s, s:s, s:s, s:s?, s:s}", "name", p->name, "type",
                                            type_name(p->type), "default", p->def, "range",
                                            p->choices, "help", p->help));
    }
    return ps;
}

void cli_params_print(FILE *f, const tide_param_spec *spec, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        const tide_param_spec *p = &spec[j];
        fprintf(f, "    %-18s %-6s default %-8s range %-22s %s\n", p->name, type_name(p->type),
                p->def, p->choices ? p->choices : "-", p->help);
    }
}
