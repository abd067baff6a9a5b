/*
 * fuzz_model.c — libFuzzer harness for the model file loader
 * (tide_model_load_buf, src/learn/model.c and every learner's load_state).
 *
 * Each input is tried twice:
 *  1. as is: magic, version, length and checksum checks must reject it
 *     cleanly (random bytes almost never get further);
 *  2. "repaired": magic, version 1, payload length and xxh64 trailer are
 *     rewritten so the payload parsers behind the checksum (featurizer,
 *     labels, learner header, params, learner state) see the fuzzed bytes.
 * When a model loads, it must be usable: featurize a fixed row with the
 * loaded featurizer (quadratic pairs included), predict, clone, learn one
 * row on the clone, predict again, and save it again; a saved-then-reloaded
 * model must give the same bytes (the format is canonical).
 *
 * Inputs whose featurizer or learner declares more than 2^12 hash buckets
 * are skipped: dense learners legitimately allocate O(2^bits) memory (up to
 * several GB at bits = 28, times the class count for softmax), which
 * libFuzzer would report as out-of-memory; 2^12 buckets x 1024 classes x 4
 * auto copies x 4 bytes = 64 MB stays under the default limits (5 copies in
 * a loaded version-2 state are read one at a time).
 *
 * Build with -DTIDE_FUZZ_GEN_SEEDS to get a program that writes the seed
 * corpus (small valid models of every learner) into the directory given as
 * argv[1]: fuzz/corpus/fuzz_model/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/learn.h"

#define MAX_FUZZ_BITS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Undefined behaviour is a finding: stop at the first report (the unit test
 * builds use -fno-sanitize-recover for the same reason). */
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

/* A fixed row: numeric a, b, categorical c, and a namespaced feature. */
static void fixed_row(tide_row *row, tide_field *f)
{
    memset(f, 0, 4 * sizeof *f);
    memset(row, 0, sizeof *row);
    f[0].ns = "";
    f[0].name = "a";
    f[0].name_len = 1;
    f[0].num = 0.5;
    f[0].col = 0;
    f[1].ns = "";
    f[1].name = "b";
    f[1].name_len = 1;
    f[1].num = -2.25;
    f[1].col = 1;
    f[2].ns = "";
    f[2].name = "c";
    f[2].name_len = 1;
    f[2].kind = TIDE_VAL_CAT;
    f[2].str = "red";
    f[2].str_len = 3;
    f[2].col = 2;
    f[3].ns = "A";
    f[3].ns_len = 1;
    f[3].name = "x";
    f[3].name_len = 1;
    f[3].num = 3;
    f[3].col = -1;
    row->fields = f;
    row->n_fields = 4;
    row->weight = 1;
    row->has_target = 1;
    row->line = 1;
}

/* Bits declared by the featurizer and by the learner header of a payload;
 * 0 when the payload is too broken to tell (the loader then fails early). */
static void declared_bits(const uint8_t *p, size_t n, uint32_t *fbits, uint32_t *lbits)
{
    tide_rbuf r;
    uint32_t np;
    char *s;
    *fbits = *lbits = 0;
    tide_rbuf_init(&r, p, n);
    *fbits = tide_rbuf_u32(&r);
    np = tide_rbuf_u32(&r);
    if (r.bad || np > 64)
        return;
    for (uint32_t i = 0; i < 2 * np; i++) {
        s = tide_rbuf_str(&r, 4096);
        if (!s)
            return;
        free(s);
    }
    if (tide_rbuf_u8(&r)) {
        uint32_t n_lab;
        (void)tide_rbuf_u32(&r);
        n_lab = tide_rbuf_u32(&r);
        if (r.bad || n_lab > TIDE_MAX_CLASSES)
            return;
        for (uint32_t i = 0; i < n_lab; i++)
            if (tide_rbuf_u8(&r)) {
                s = tide_rbuf_str(&r, 256);
                if (!s)
                    return;
                free(s);
            }
    }
    s = tide_rbuf_str(&r, 64);
    if (!s)
        return;
    free(s);
    *lbits = tide_rbuf_u32(&r);
    if (r.bad)
        *lbits = 0;
}

static void exercise(tide_model *m)
{
    static double out[TIDE_MAX_CLASSES];
    tide_field f[4];
    tide_row row;
    tide_fvec x;
    tide_err e;
    tide_model *c = NULL, *m2 = NULL;
    tide_wbuf b, b2;
    int K = tide_learner_classes(m->learner);
    if (K < 1 || K > TIDE_MAX_CLASSES)
        __builtin_trap();
    tide_fvec_init(&x);
    fixed_row(&row, f);
    if (tide_featurize(m->fz, &row, &x, &e) == TIDE_OK) {
        uint32_t lim = 1u << tide_featurizer_bits(m->fz);
        for (size_t i = 0; i < x.n; i++)
            if (x.f[i].idx >= lim)
                __builtin_trap();
        tide_learner_predict(m->learner, &x, out);
        if (tide_model_clone(m, &c, &e) == TIDE_OK) {
            double y = m->learner->vt->task == TIDE_TASK_REGRESSION ? 1.5 : (double)(K - 1);
            (void)tide_learner_learn(c->learner, &x, y, 1.0);
            tide_learner_predict(c->learner, &x, out);
            tide_learner_predict(m->learner, &x, out);
            tide_model_free(c);
        }
    }
    tide_wbuf_init(&b);
    tide_wbuf_init(&b2);
    if (tide_model_save_buf(m, &b) == TIDE_OK &&
        tide_model_load_buf(b.data, b.len, &m2, &e) == TIDE_OK) {
        /* a model written by tide reloads to the same bytes */
        if (tide_model_save_buf(m2, &b2) != TIDE_OK || b2.len != b.len ||
            memcmp(b.data, b2.data, b.len))
            __builtin_trap();
        tide_model_free(m2);
    }
    tide_wbuf_free(&b);
    tide_wbuf_free(&b2);
    tide_fvec_free(&x);
}

static void try_load(const uint8_t *data, size_t size)
{
    tide_model *m = NULL;
    tide_err e;
    int rc;
    tide_err_clear(&e);
    rc = tide_model_load_buf(data, size, &m, &e);
    if (rc == TIDE_OK) {
        if (!m)
            __builtin_trap();
        exercise(m);
        tide_model_free(m);
    } else if (m || rc > 0 || !e.msg[0]) {
        __builtin_trap(); /* errors leave *out NULL and say why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *c;
    uint64_t n, sum;
    uint32_t fbits, lbits;
    if (size > (1u << 20))
        return 0;
    if (size >= 20) {
        /* bits as declared in an intact file: skip the huge ones (see top) */
        declared_bits(data + 20, size - 20, &fbits, &lbits);
        if (fbits > MAX_FUZZ_BITS || lbits > MAX_FUZZ_BITS)
            goto repaired;
    }
    try_load(data, size);
repaired:
    if (size < 28)
        return 0;
    c = malloc(size);
    if (!c)
        return 0;
    memcpy(c, data, size);
    memcpy(c, "TIDEMDL", 8);
    c[8] = 1, c[9] = c[10] = c[11] = 0;
    n = size - 28;
    for (int i = 0; i < 8; i++)
        c[12 + i] = (uint8_t)(n >> (8 * i));
    declared_bits(c + 20, (size_t)n, &fbits, &lbits);
    if (fbits <= MAX_FUZZ_BITS && lbits <= MAX_FUZZ_BITS) {
        sum = tide_checksum(c, size - 8);
        for (int i = 0; i < 8; i++)
            c[size - 8 + (size_t)i] = (uint8_t)(sum >> (8 * i));
        try_load(c, size);
    }
    free(c);
    return 0;
}

#ifdef TIDE_FUZZ_GEN_SEEDS
/* Seed generator: clang ... -DTIDE_FUZZ_GEN_SEEDS -o gen fuzz/fuzz_model.c
 * src/(all but cli)/... ; ./gen fuzz/corpus/fuzz_model */
int main(int argc, char **argv);
int main(int argc, char **argv)
{
    static const char *quad[2] = {"a:b", "A:A"};
    uint64_t seed = 12345;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < tide_learner_count(); i++) {
        const tide_learner_vt *vt = tide_learner_at(i);
        for (int variant = 0; variant < 2; variant++) {
            const char *kv[2] = {"optimizer=ftrl", "scale=true"};
            int linear = !strcmp(vt->name, "logistic") || !strcmp(vt->name, "softmax") ||
                         !strcmp(vt->name, "linear");
            tide_feat_opts fo;
            tide_featurizer *fz;
            tide_learner *l;
            tide_model *m;
            tide_fvec x;
            tide_err e;
            tide_wbuf b;
            char path[4096];
            FILE *f;
            int K = vt->task == TIDE_TASK_BINARY ? 2 : 3;
            if (variant && !linear && vt->task == TIDE_TASK_REGRESSION)
                continue;
            tide_feat_opts_init(&fo);
            fo.bits = 5;
            fo.quadratic = quad;
            fo.n_quadratic = variant ? 2 : 0;
            if (tide_featurizer_new(&fo, &fz, &e) ||
                tide_learner_new(vt->name, kv, variant && linear ? 2 : 0, 5, &l, &e) ||
                tide_model_new(fz, l, &m, &e)) {
                fprintf(stderr, "%s: %s\n", vt->name, e.msg);
                return 1;
            }
            tide_fvec_init(&x);
            for (int r = 0; r < 12; r++) {
                tide_field fl[4];
                tide_row row;
                char lab[8];
                int cls = 0;
                double y;
                fixed_row(&row, fl);
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                fl[0].num = (double)(seed >> 40) / (1 << 24);
                fl[1].num = (double)((seed >> 20) & 0xfffff) / (1 << 20) - 0.5;
                cls = (int)((seed >> 33) % (uint64_t)K);
                if (tide_featurize(m->fz, &row, &x, &e))
                    return 1;
                y = fl[0].num * 2 - fl[1].num;
                if (m->labels) {
                    snprintf(lab, sizeof lab, "%s", K == 2 ? (cls ? "yes" : "no")
                                                            : (cls == 0 ? "cat" : cls == 1 ? "dog" : "eel"));
                    if (tide_labels_index(m->labels, lab, strlen(lab), &cls, &e))
                        return 1;
                    y = cls;
                }
                if (tide_learner_learn(m->learner, &x, y, 1.0))
                    return 1;
            }
            tide_wbuf_init(&b);
            if (tide_model_save_buf(m, &b))
                return 1;
            snprintf(path, sizeof path, "%s/%s-%d.tide", argv[1], vt->name, variant);
            f = fopen(path, "wb");
            if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f))
                return 1;
            printf("%s: %zu bytes\n", path, b.len);
            tide_wbuf_free(&b);
            tide_fvec_free(&x);
            tide_model_free(m);
        }
    }
    return 0;
}
#endif
