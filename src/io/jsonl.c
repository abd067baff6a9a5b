/*
 * jsonl.c — JSON Lines reader (jsonlines.org): one flat JSON object per
 * line, parsed with jansson (json_loadb, JSON_REJECT_DUPLICATES).
 *
 * number -> NUM, string -> CAT, true/false -> NUM 1/0, null -> MISSING; a
 * nested object or array is an error naming the key. The target key is
 * opts.target, else the first of "target", "label", "y" that is present; a
 * row without it is unlabelled. Key "id" (string or integer) becomes the row
 * tag. Blank lines are skipped. Strings point into the parsed json_t, which
 * is kept until the next call.
 */
#include "io/io_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

static const char *DEFAULT_TARGETS[] = {"target", "label", "y"};

/* Shortest %g form that reads back to the same double. */
static void fmt_double(char *out, size_t n, double v)
{
    snprintf(out, n, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, n, "%.17g", v);
}

static int jsonl_target(tide_reader *r, json_t *val, tide_row *row)
{
    switch (json_typeof(val)) {
    case JSON_NULL:
        return 0;
    case JSON_STRING:
        row->target = json_string_value(val);
        row->target_len = json_string_length(val);
        if (tide_parse_double(row->target, row->target_len, &row->target_num) == TIDE_OK)
            row->target_is_num = 1;
        break;
    case JSON_INTEGER:
        snprintf(r->tbuf, sizeof r->tbuf, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
        row->target = r->tbuf;
        row->target_len = strlen(r->tbuf);
        row->target_is_num = 1;
        row->target_num = (double)json_integer_value(val);
        break;
    case JSON_REAL:
        fmt_double(r->tbuf, sizeof r->tbuf, json_real_value(val));
        row->target = r->tbuf;
        row->target_len = strlen(r->tbuf);
        row->target_is_num = 1;
        row->target_num = json_real_value(val);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        row->target = json_is_true(val) ? "true" : "false";
        row->target_len = strlen(row->target);
        row->target_is_num = 1;
        row->target_num = json_is_true(val);
        break;
    default:
        return -1;
    }
    row->has_target = 1;
    return 0;
}

static int jsonl_parse(tide_reader *r, const char *s, size_t n, uint64_t lineno, tide_row *row,
                       tide_err *err)
{
    json_error_t je;
    json_t *obj, *val;
    const char *key, *tkey = r->target_name;
    size_t nf = 0, nkeys;
    int rc;

    obj = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (!obj)
        return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:%d: invalid JSON: %s", r->name,
                            (unsigned long long)lineno, je.position > 0 ? je.position : 1,
                            je.text);
    r->json = obj;
    if (!json_is_object(obj))
        return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:1: expected a JSON object per line",
                            r->name, (unsigned long long)lineno);
    nkeys = json_object_size(obj);
    if (nkeys > TIDE_IO_MAX_FIELDS)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s:%llu:1: more than %zu keys in one object",
                            r->name, (unsigned long long)lineno, TIDE_IO_MAX_FIELDS);
    rc = tide_io_fields_reserve(r, nkeys, err);
    if (rc)
        return rc;
    if (!tkey) {
        for (size_t i = 0; i < sizeof DEFAULT_TARGETS / sizeof *DEFAULT_TARGETS; i++)
            if (json_object_get(obj, DEFAULT_TARGETS[i])) {
                tkey = DEFAULT_TARGETS[i];
                break;
            }
    }
    json_object_foreach(obj, key, val) {
        size_t klen = strlen(key);
        tide_field *f;
        if (tkey && !strcmp(key, tkey)) {
            if (jsonl_target(r, val, row))
                return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:1: target key '%s' holds a "
                                    "nested %s; it must be a number, string, boolean or null",
                                    r->name, (unsigned long long)lineno, key,
                                    json_is_object(val) ? "object" : "array");
            continue;
        }
        if (!strcmp(key, "id")) {
            if (json_is_string(val)) {
                row->tag = json_string_value(val);
                row->tag_len = json_string_length(val);
            } else if (json_is_integer(val)) {
                snprintf(r->tagbuf, sizeof r->tagbuf, "%" JSON_INTEGER_FORMAT,
                         json_integer_value(val));
                row->tag = r->tagbuf;
                row->tag_len = strlen(r->tagbuf);
            } else if (!json_is_null(val)) {
                return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:1: key 'id' must be a string "
                                    "or an integer", r->name, (unsigned long long)lineno);
            }
            continue;
        }
        if (r->n_ignore && tide_io_ignored(r, key, klen))
            continue;
        f = &r->fields[nf];
        f->ns = "";
        f->ns_len = 0;
        f->name = key;
        f->name_len = klen;
        f->str = NULL;
        f->str_len = 0;
        f->num = 0;
        f->col = -1;
        switch (json_typeof(val)) {
        case JSON_INTEGER:
            f->kind = TIDE_VAL_NUM;
            f->num = (double)json_integer_value(val);
            break;
        case JSON_REAL:
            f->kind = TIDE_VAL_NUM;
            f->num = json_real_value(val);
            if (!isfinite(f->num))
                return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:1: key '%s' is not a finite "
                                    "number", r->name, (unsigned long long)lineno, key);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            f->kind = TIDE_VAL_NUM;
            f->num = json_is_true(val);
            break;
        case JSON_STRING:
            f->kind = TIDE_VAL_CAT;
            f->str = json_string_value(val);
            f->str_len = json_string_length(val);
            break;
        case JSON_NULL:
            f->kind = TIDE_VAL_MISSING;
            break;
        default:
            return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:1: key '%s' holds a nested %s; "
                                "only flat objects are supported", r->name,
                                (unsigned long long)lineno, key,
                                json_is_object(val) ? "object" : "array");
        }
        nf++;
    }
    row->fields = r->fields;
    row->n_fields = nf;
    row->line = lineno;
    row->source = r->name;
    return TIDE_OK;
}

int tide_jsonl_next(tide_reader *r, tide_row *row, tide_err *err)
{
    if (r->json) {
        json_decref((json_t *)r->json);
        r->json = NULL;
    }
    for (;;) {
        char *s, *p;
        size_t n;
        uint64_t lineno;
        int rc = tide_io_next_line(r, &s, &n, &lineno, err);
        if (rc)
            return rc;
        for (p = s; p < s + n && (*p == ' ' || *p == '\t' || *p == '\r'); p++)
            ;
        if (p == s + n)
            continue;
        return jsonl_parse(r, s, n, lineno, row, err);
    }
}

void tide_jsonl_free(tide_reader *r)
{
    if (r->json) {
        json_decref((json_t *)r->json);
        r->json = NULL;
    }
}
