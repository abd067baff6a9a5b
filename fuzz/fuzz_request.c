/*
 * fuzz_request.c — libFuzzer harness for the request-body path of
 * `tide serve` (src/serve/req.c): JSON text -> instances -> schema checks ->
 * rows -> hashed feature vectors, with and without a declared schema, with
 * and without labels; plus schema parsing and schema inference. No HTTP.
 * Build and run: make fuzz (corpus in fuzz/corpus/fuzz_request/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tide/feat.h"
#include "tide/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SCHEMA[] =
    "{\"x\":\"number\",\"y\":{\"type\":\"number\",\"required\":false},\"c\":\"category\"}";

static void exercise(const char *body, size_t len, const tide_schema *sc, int need_label,
                     tide_featurizer *fz, tide_schema_infer *si)
{
    tide_instances in;
    tide_reqerr e;
    tide_fvec v;
    tide_err err;
    if (tide_instances_parse(body, len, sc, need_label, &in, &e)) {
        /* a refusal must carry a status and a reason */
        if (e.status < 400 || e.status > 599 || !e.reason[0])
            abort();
        return;
    }
    tide_fvec_init(&v);
    for (size_t i = 0; i < in.n; i++) {
        if (sc && tide_schema_check(sc, &in.rows[i], &e))
            abort();   /* parse accepted what the check refuses */
        (void)tide_featurize(fz, &in.rows[i], &v, &err);
        if (need_label && !in.rows[i].target)
            abort();
        if (si)
            (void)tide_schema_infer_add(si, &in.rows[i]);
    }
    tide_fvec_free(&v);
    tide_instances_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tide_schema *sc;
    static tide_featurizer *fz;
    tide_schema_infer *si = NULL;
    tide_schema *parsed = NULL, *inferred = NULL;
    tide_reqerr e;
    const char *body = (const char *)data;
    if (!sc) {
        tide_feat_opts fo;
        if (tide_schema_parse(SCHEMA, sizeof SCHEMA - 1, &sc, &e))
            abort();
        tide_feat_opts_init(&fo);
        fo.bits = 16;
        if (tide_featurizer_new(&fo, &fz, NULL))
            abort();
    }
    tide_schema_infer_new(&si);
    exercise(body, size, NULL, 0, fz, si);
    exercise(body, size, sc, 0, fz, NULL);
    exercise(body, size, NULL, 1, fz, NULL);
    exercise(body, size, sc, 1, fz, NULL);
    if (si && tide_schema_infer_rows(si) && !tide_schema_infer_build(si, &inferred)) {
        char *txt = tide_schema_to_json(inferred);
        tide_schema *back = NULL;
        /* an inferred schema survives its JSON round trip */
        if (txt && tide_schema_parse(txt, strlen(txt), &back, &e))
            abort();
        if (back && tide_schema_count(back) != tide_schema_count(inferred))
            abort();
        tide_schema_free(back);
        free(txt);
    }
    if (!tide_schema_parse(body, size, &parsed, &e))
        exercise(body, size, parsed, 0, fz, NULL);
    tide_schema_free(parsed);
    tide_schema_free(inferred);
    tide_schema_infer_free(si);
    return 0;
}
