/*
 * fuzz_metrics.c — libFuzzer harness for the metrics snapshot loader
 * (tide_metrics_load, src/eval/metrics.c: formats 3 and 4, the cumulative
 * AUC's keys, pending buffer and grid histogram, the window ring).
 *
 * Each input is tried twice:
 *  1. as is: magic, format and checksum checks must reject it cleanly;
 *  2. "repaired": the last 8 bytes are rewritten as the xxh64 of the rest,
 *     so the parsers behind the checksum see the fuzzed bytes.
 * When a snapshot loads it must be usable: read both views, add examples
 * (binary or regression, for its kind), save, load the saved block and save
 * again: the two saved blocks must be the same bytes and the two objects
 * must report the same bits.
 *
 * Build with -DTIDE_FUZZ_GEN_SEEDS to get a program that writes the seed
 * corpus (snapshots of the exact and the grid phase, with and without a
 * window, regression) into the directory given as argv[1]:
 * fuzz/corpus/fuzz_metrics/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

static void same_values(const tide_metrics *a, const tide_metrics *b)
{
    for (int win = 0; win < 2; win++) {
        tide_metric_values va, vb;
        tide_metrics_get(a, win, &va);
        tide_metrics_get(b, win, &vb);
        if (va.n != vb.n)
            __builtin_trap();
        const double *x = &va.accuracy, *z = &vb.accuracy;
        for (int i = 0; i < 7; i++)
            if (memcmp(&x[i], &z[i], sizeof(double)) && !(x[i] != x[i] && z[i] != z[i]))
                __builtin_trap();
    }
}

static void add_some(tide_metrics *m)
{
    static const double ps[5] = {0.0, 0.25, 0.5 + 0x1p-30, 0.999, 1.0};
    for (int i = 0; i < 5; i++) {
        if (tide_metrics_kind(m) == TIDE_METRIC_CLASSIFY) {
            double pr[2] = {1 - ps[i], ps[i]};
            (void)tide_metrics_add_class(m, i & 1, pr, 2, i == 3 ? 2.5 : 1.0);
        } else {
            (void)tide_metrics_add_reg(m, ps[i], 1 - ps[i], 1.0);
        }
    }
}

static void exercise(tide_metrics *m)
{
    tide_metrics *m2 = NULL;
    tide_wbuf b, b2;
    tide_rbuf r;
    tide_err e;
    tide_metric_values v;
    tide_metrics_get(m, 0, &v);
    tide_metrics_get(m, 1, &v);
    add_some(m);
    tide_wbuf_init(&b);
    tide_wbuf_init(&b2);
    if (tide_metrics_save(m, &b) == TIDE_OK) {
        tide_rbuf_init(&r, b.data, b.len);
        if (tide_metrics_load(&r, &m2, &e) != TIDE_OK || r.pos != b.len)
            __builtin_trap();   /* what tide writes, it reads */
        if (tide_metrics_save(m2, &b2) != TIDE_OK || b2.len != b.len ||
            memcmp(b.data, b2.data, b.len))
            __builtin_trap();
        same_values(m, m2);
        add_some(m);
        add_some(m2);
        same_values(m, m2);
        tide_metrics_free(m2);
    }
    tide_wbuf_free(&b);
    tide_wbuf_free(&b2);
}

static void try_load(const uint8_t *data, size_t size)
{
    tide_metrics *m = NULL;
    tide_rbuf r;
    tide_err e;
    int rc;
    tide_err_clear(&e);
    tide_rbuf_init(&r, data, size);
    rc = tide_metrics_load(&r, &m, &e);
    if (rc == TIDE_OK) {
        if (!m)
            __builtin_trap();
        exercise(m);
        tide_metrics_free(m);
    } else if (m || rc > 0 || !e.msg[0]) {
        __builtin_trap();   /* errors leave *out NULL and say why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *c;
    uint64_t sum;
    if (size > (1u << 21))
        return 0;
    try_load(data, size);
    if (size < 16)
        return 0;
    c = malloc(size);
    if (!c)
        return 0;
    memcpy(c, data, size);
    sum = tide_checksum(c, size - 8);
    for (int i = 0; i < 8; i++)
        c[size - 8 + (size_t)i] = (uint8_t)(sum >> (8 * i));
    try_load(c, size);
    free(c);
    return 0;
}

#ifdef TIDE_FUZZ_GEN_SEEDS
/* Seed generator: clang -DTIDE_FUZZ_GEN_SEEDS -Iinclude -Isrc -o gen
 * fuzz/fuzz_metrics.c build/libtide.a (+ its libraries); ./gen DIR */
int main(int argc, char **argv);
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int kind;
        size_t window;
        long n;
        int grid;
    } seeds[] = {
        {"class-empty", TIDE_METRIC_CLASSIFY, 0, 0, 0},
        {"class-exact", TIDE_METRIC_CLASSIFY, 4, 5000, 0},
        {"class-grid", TIDE_METRIC_CLASSIFY, 0, 69700, 1},
        {"class-grid-window", TIDE_METRIC_CLASSIFY, 3, 69640, 1},
        {"class-3", TIDE_METRIC_CLASSIFY, 5, 40, 0},
        {"reg", TIDE_METRIC_REGRESS, 6, 30, 0},
    };
    uint64_t s = 1;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
        tide_metrics *m;
        tide_wbuf b;
        char path[4096];
        FILE *f;
        if (tide_metrics_new((tide_metric_kind)seeds[k].kind, seeds[k].window, &m))
            return 1;
        for (long i = 0; i < seeds[k].n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(s >> 11) * 0x1p-53;
            int y = (s >> 7) & 1;
            if (seeds[k].kind == TIDE_METRIC_REGRESS) {
                tide_metrics_add_reg(m, u, y ? u : 1 - u, 1.0);
            } else if (!strcmp(seeds[k].name, "class-3")) {
                double pr[3] = {u / 2, 0.5 - u / 2, 0.5};
                tide_metrics_add_class(m, (int)(s >> 20) % 3, pr, 3, 1.0);
            } else {
                /* grid: distinct scores in a few cells (a small snapshot) */
                double p = seeds[k].grid ? (i < 69632 ? 0.25 + (double)i * 0x1p-40
                                                      : (double)(s >> 40 & 7) / 8)
                                         : (double)(s >> 40 & 63) / 64;
                double pr[2] = {1 - p, p};
                tide_metrics_add_class(m, y, pr, 2, (s >> 9) & 1 ? 1.0 : 2.5);
            }
        }
        tide_wbuf_init(&b);
        if (tide_metrics_save(m, &b))
            return 1;
        snprintf(path, sizeof path, "%s/%s.tmet", argv[1], seeds[k].name);
        f = fopen(path, "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f))
            return 1;
        printf("%s: %zu bytes\n", path, b.len);
        tide_wbuf_free(&b);
        tide_metrics_free(m);
    }
    return 0;
}
#endif
