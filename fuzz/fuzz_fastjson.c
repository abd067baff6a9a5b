/*
 * fuzz_fastjson.c — libFuzzer harness for the simdjson fast path of
 * predict bodies (src/serve/fastjson.cpp), differential against the
 * jansson path (tide_instances_parse in src/serve/req.c): whenever the fast
 * path accepts a body, jansson must accept it too and give the same rows
 * (count, batch form, ids, weights, and per field the name's bytes, kind,
 * the number's bits and the string's bytes), and each instance's
 * "features" span must be JSON equal to jansson's "features" object. A
 * declined body is fine (jansson answers it). Also: serve_fmt_g17 writes
 * what snprintf("%.17g") writes, for the doubles found in the input.
 * Build and run: make fuzz (corpus in fuzz/corpus/fuzz_fastjson/).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tide/serve.h"
#include "serve/fastjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SCHEMA[] =
    "{\"x\":\"number\",\"y\":{\"type\":\"number\",\"required\":false},\"c\":\"category\","
    "\"d\":{\"type\":\"category\",\"required\":false},"
    "\"\\u00e9\":{\"type\":\"number\",\"required\":false}}";

static int same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || !memcmp(a, b, an));
}

static void compare(const char *body, size_t len, const tide_schema *sc, tide_instances *fast)
{
    tide_instances ref;
    tide_reqerr e;
    json_t *doc;
    json_error_t je;
    if (tide_instances_parse(body, len, sc, 0, &ref, &e)) {
        fprintf(stderr, "fast path accepted, jansson refused: %s\n", e.reason);
        abort();
    }
    if (ref.n != fast->n || ref.batch != fast->batch)
        abort();
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        abort();
    for (size_t i = 0; i < ref.n; i++) {
        const tide_row *a = &ref.rows[i], *b = &fast->rows[i];
        json_t *inst = ref.batch ? json_array_get(json_object_get(doc, "instances"), i) : doc;
        json_t *span;
        if (a->n_fields != b->n_fields || a->weight != b->weight || a->line != b->line)
            abort();
        if (!ref.ids[i] != !fast->ids[i] || (ref.ids[i] && strcmp(ref.ids[i], fast->ids[i])))
            abort();
        if (!same_bytes(a->tag, a->tag_len, b->tag, b->tag_len))
            abort();
        for (size_t f = 0; f < a->n_fields; f++) {
            const tide_field *x = &a->fields[f], *y = &b->fields[f];
            if (x->kind != y->kind || !same_bytes(x->name, x->name_len, y->name, y->name_len) ||
                x->col != y->col || x->ns_len != y->ns_len)
                abort();
            if (x->kind == TIDE_VAL_NUM && memcmp(&x->num, &y->num, sizeof x->num))
                abort();
            if (x->kind == TIDE_VAL_CAT && !same_bytes(x->str, x->str_len, y->str, y->str_len))
                abort();
        }
        span = json_loadb(body + fast->fspan_[2 * i], fast->fspan_[2 * i + 1],
                          JSON_REJECT_DUPLICATES, &je);
        if (!span || !json_equal(span, json_object_get(inst, "features")))
            abort();
        json_decref(span);
    }
    json_decref(doc);
    tide_instances_free(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tide_schema *sc;
    tide_reqerr e;
    tide_instances in;
    char *buf;
    int rc;
    if (!sc && tide_schema_parse(SCHEMA, sizeof SCHEMA - 1, &sc, &e))
        abort();
    if (size > (1u << 20))
        return 0;
    /* the body with the padding the server gives it (garbage after it) */
    buf = malloc(size + SERVE_BODY_PADDING);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    memset(buf + size, '"', SERVE_BODY_PADDING);
    rc = serve_fast_instances(buf, size, size + SERVE_BODY_PADDING, sc, &in, NULL, 0);
    if (rc == SERVE_FAST_OK) {
        compare(buf, size, sc, &in);
        serve_fast_recycle(&in);   /* the next input reuses the arrays */
        tide_instances_free(&in);
    } else if (rc != SERVE_FAST_DECLINE && rc != SERVE_FAST_NOMEM) {
        abort();
    }
    /* the number formatter against printf, on the input's first bytes */
    if (size >= 8) {
        double v;
        char a[SERVE_FMT_G17_MAX + 1], b[48];
        size_t n;
        memcpy(&v, data, sizeof v);
        n = serve_fmt_g17(a, v);
        a[n] = '\0';
        snprintf(b, sizeof b, "%.17g", v);
        if (v == v && strcmp(a, b))
            abort();
    }
    free(buf);
    return 0;
}
