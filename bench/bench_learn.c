/*
 * bench_learn.c — in-memory progressive loop, as River's own benchmark
 * times it: the stream is read and featurized once, then the timed loop
 * only predicts and learns each row in order (best of R repetitions, fresh
 * learner each time). The rows are packed one after another in a single
 * array (CSR layout), so the loop reads them sequentially.
 *
 *   build/bench/bench_learn FILE LEARNER [k=v ...] [--reps R]
 * prints one JSON line: {"file","learner","rows","seconds","rows_per_second",
 * "accuracy"|"mae","model_bytes"}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/io.h"
#include "tide/learn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *kv[32];
    size_t nkv = 0, n = 0, cap = 0, nf = 0, fcap = 0;
    tide_feat *pool = NULL;
    int reps = 3;
    tide_fvec *xs = NULL;
    double *ys = NULL;
    tide_reader *rd;
    tide_reader_opts ro;
    tide_feat_opts fo;
    tide_featurizer *fz;
    tide_labels *labels = NULL;
    tide_row row;
    tide_err err;
    tide_fvec x;
    const tide_learner_vt *vt;
    double best = INFINITY, score = 0;
    size_t mem = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_learn FILE LEARNER [k=v ...] [--reps R]\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (nkv < 32)
            kv[nkv++] = argv[i];
    }
    vt = tide_learner_find(argv[2]);
    if (!vt) {
        fprintf(stderr, "unknown learner %s\n", argv[2]);
        return 2;
    }
    tide_reader_opts_init(&ro);
    tide_feat_opts_init(&fo);
    if (tide_reader_open(argv[1], &ro, &rd, &err) || tide_featurizer_new(&fo, &fz, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    if (vt->task != TIDE_TASK_REGRESSION)
        tide_labels_new(vt->task == TIDE_TASK_BINARY ? TIDE_TASK_BINARY : TIDE_TASK_MULTICLASS,
                        &labels);
    tide_fvec_init(&x);
    while (tide_reader_next(rd, &row, &err) == TIDE_OK) {
        int c = 0;
        if (!row.has_target || tide_featurize(fz, &row, &x, &err))
            continue;
        if (labels && tide_labels_index(labels, row.target, row.target_len, &c, &err))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            xs = realloc(xs, cap * sizeof *xs);
            ys = realloc(ys, cap * sizeof *ys);
            if (!xs || !ys) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
        }
        if (nf + x.n > fcap) {
            fcap = (nf + x.n) * 2;
            pool = realloc(pool, fcap * sizeof *pool);
            if (!pool) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
        }
        if (x.n)
            memcpy(pool + nf, x.f, x.n * sizeof *pool);
        xs[n].n = x.n;
        xs[n].cap = nf; /* offset into pool until the pool stops moving */
        nf += x.n;
        ys[n++] = labels ? (double)c : row.target_num;
    }
    for (size_t i = 0; i < n; i++) {
        xs[i].f = pool + xs[i].cap;
        xs[i].cap = xs[i].n;
    }
    for (int r = 0; r < reps; r++) {
        tide_learner *l;
        double out[TIDE_MAX_CLASSES], t0, t, sc = 0;
        if (tide_learner_new(argv[2], kv, nkv, fo.bits, &l, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        if (labels)
            tide_learner_grow_classes(l, tide_labels_count(labels));
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            /* predict, then learn: one call (tide_learner_learn_predict) */
            tide_learner_learn_predict(l, &xs[i], ys[i], 1.0, out);
            if (labels) {
                int K = tide_learner_classes(l), b = 0;
                for (int k = 1; k < K; k++)
                    if (out[k] > out[b])
                        b = k;
                sc += b == (int)ys[i];
            } else {
                sc += fabs(out[0] - ys[i]);
            }
        }
        t = now() - t0;
        if (t < best)
            best = t;
        score = sc / (double)n;
        mem = tide_learner_memory(l);
        tide_learner_free(l);
    }
    printf("{\"file\":\"%s\",\"learner\":\"%s\",\"rows\":%zu,\"seconds\":%.6f,"
           "\"rows_per_second\":%.0f,\"%s\":%.6f,\"model_bytes\":%zu}\n",
           argv[1], argv[2], n, best, (double)n / best, labels ? "accuracy" : "mae", score, mem);
    free(pool);
    free(xs);
    free(ys);
    tide_fvec_free(&x);
    tide_labels_free(labels);
    tide_featurizer_free(fz);
    tide_reader_free(rd);
    return 0;
}
