/*
 * bench_parse.c — parse-only throughput of tide's streaming readers: reads
 * every row of FILE (format from the extension) and prints one JSON line
 *   {"file","format","rows","fields","errors","seconds","rows_per_second","mb_per_second"}
 * for the best (fastest) of REPEAT runs (default 1).
 *
 *   usage: bench_parse FILE [REPEAT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tide/io.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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
    int repeat = argc > 2 ? atoi(argv[2]) : 1;
    double best = -1;
    unsigned long long rows = 0, fields = 0, errors = 0, bytes = 0;
    tide_format fmt = TIDE_FMT_AUTO;

    if (argc < 2 || repeat < 1) {
        fprintf(stderr, "usage: bench_parse FILE [REPEAT]\n");
        return 2;
    }
    for (int k = 0; k < repeat; k++) {
        tide_reader *r;
        tide_err e;
        tide_row row;
        int rc;
        double t0 = now(), dt;
        rows = fields = errors = 0;
        if (tide_reader_open(argv[1], NULL, &r, &e) != TIDE_OK) {
            fprintf(stderr, "bench_parse: %s\n", e.msg);
            return 1;
        }
        while ((rc = tide_reader_next(r, &row, &e)) != TIDE_EOF) {
            if (rc == TIDE_OK) {
                rows++;
                fields += row.n_fields;
            } else if (rc == TIDE_ERR_PARSE || rc == TIDE_ERR_LIMIT) {
                if (errors++ < 3)
                    fprintf(stderr, "bench_parse: %s\n", e.msg);
            } else {
                fprintf(stderr, "bench_parse: %s\n", e.msg);
                tide_reader_free(r);
                return 1;
            }
        }
        dt = now() - t0;
        bytes = tide_reader_bytes_total(r);
        fmt = tide_reader_format(r);
        tide_reader_free(r);
        if (best < 0 || dt < best)
            best = dt;
    }
    printf("{\"file\":\"%s\",\"format\":\"%s\",\"rows\":%llu,\"fields\":%llu,\"errors\":%llu,"
           "\"seconds\":%.4f,\"rows_per_second\":%.0f,\"mb_per_second\":%.1f}\n",
           argv[1], fmt_name(fmt), rows, fields, errors, best, (double)rows / best,
           (double)bytes / 1e6 / best);
    return 0;
}
