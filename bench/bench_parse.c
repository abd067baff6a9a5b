/*
 * bench_parse.c — parse-only throughput of tide's streaming readers: reads
 * every row of FILE (format from the extension) and prints one JSON line
 *   {"file","format","rows","fields","errors","seconds","cpu_seconds",
 *    "rows_per_second","mb_per_second"}
 * for the best (fastest wall-clock) of REPEAT runs (default 1). With --hashed
 * the rows go through tide_featurize_next (b=18): for VW input that is the
 * fused parse + hash path `tide replay` takes, and "fields" counts entries. cpu_seconds is
 * the process CPU time of the best-CPU run, which is less disturbed by other
 * jobs on a shared machine; the rates use wall time.
 *
 *   usage: bench_parse FILE [REPEAT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <string.h>

#include "tide/feat.h"
#include "tide/io.h"

static double now(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *fmt_name(tide_format f)
{
    switch (f) {
    case TIDE_FMT_CSV: return "csv";
    case TIDE_FMT_JSONL: return "jsonl";
    case TIDE_FMT_VW: return "vw";
    default: return "auto";
    }
}

int main(int argc, char **argv)
{
    int hashed = argc > 1 && strcmp(argv[1], "--hashed") == 0;
    argv += hashed;
    argc -= hashed;
    int repeat = argc > 2 ? atoi(argv[2]) : 1;
    double best = -1, best_cpu = -1;
    unsigned long long rows = 0, fields = 0, errors = 0, bytes = 0;
    tide_format fmt = TIDE_FMT_AUTO;

    if (argc < 2 || repeat < 1) {
        fprintf(stderr, "usage: bench_parse [--hashed] FILE [REPEAT]\n");
        return 2;
    }
    for (int k = 0; k < repeat; k++) {
        tide_reader *r;
        tide_err e;
        tide_row row;
        tide_featurizer *fz = NULL;
        tide_feat_opts fo;
        tide_fvec v;
        int rc;
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), dt, dc;
        rows = fields = errors = 0;
        if (tide_reader_open(argv[1], NULL, &r, &e) != TIDE_OK) {
            fprintf(stderr, "bench_parse: %s\n", e.msg);
            return 1;
        }
        tide_fvec_init(&v);
        tide_feat_opts_init(&fo);
        if (hashed && tide_featurizer_new(&fo, &fz, &e) != TIDE_OK) {
            fprintf(stderr, "bench_parse: %s\n", e.msg);
            return 1;
        }
        while ((rc = hashed ? tide_featurize_next(fz, r, &row, &v, &e)
                            : tide_reader_next(r, &row, &e)) != TIDE_EOF) {
            if (rc == TIDE_OK) {
                rows++;
                fields += hashed ? v.n : row.n_fields;
            } else if (rc == TIDE_ERR_PARSE || rc == TIDE_ERR_LIMIT) {
                if (errors++ < 3)
                    fprintf(stderr, "bench_parse: %s\n", e.msg);
            } else {
                fprintf(stderr, "bench_parse: %s\n", e.msg);
                tide_reader_free(r);
                return 1;
            }
        }
        dt = now(CLOCK_MONOTONIC) - t0;
        dc = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        bytes = tide_reader_bytes_total(r);
        fmt = tide_reader_format(r);
        tide_reader_free(r);
        tide_featurizer_free(fz);
        tide_fvec_free(&v);
        if (best < 0 || dt < best)
            best = dt;
        if (best_cpu < 0 || dc < best_cpu)
            best_cpu = dc;
    }
    printf("{\"file\":\"%s\",\"format\":\"%s\",\"rows\":%llu,\"fields\":%llu,\"errors\":%llu,"
           "\"seconds\":%.4f,\"cpu_seconds\":%.4f,\"rows_per_second\":%.0f,\"mb_per_second\":%.1f}\n",
           argv[1], fmt_name(fmt), rows, fields, errors, best, best_cpu, (double)rows / best,
           (double)bytes / 1e6 / best);
    return 0;
}
