/*
 * cmd_predict.c — `tide predict --model FILE INPUT`: batch scoring of a
 * stream with a saved model. One output line per row: the prediction (and,
 * for classifiers, the probability of each class with --proba), as CSV or
 * JSON Lines. Rows that carry a target are also scored; the metrics go to
 * stderr at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tide/eval.h"
#include "tide/io.h"
#include "tide/learn.h"

#define MAX_LIST 64

/* Writes s as a JSON string literal (RFC 8259 escapes): labels come from
 * the training data and may hold quotes, backslashes or control bytes. */
static void put_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* Writes s as one CSV cell, quoted (RFC 4180) when it holds a delimiter,
 * a quote or a line break. */
static void put_csv_cell(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* A class's name; "?" for a class index the dictionary has no name for. */
static const char *label_name(const tide_labels *d, int k)
{
    const char *s = tide_labels_name(d, k);
    return s ? s : "?";
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tide predict --model FILE INPUT [--target COL] [--ignore COL] "
               "[--format csv|jsonl|vw] [--proba] [--json] [--skip-bad] [--output FILE]\n");
}

int cmd_predict(int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *target = NULL, *output = NULL;
    const char *ignore[MAX_LIST];
    size_t n_ignore = 0;
    int json = 0, with_proba = 0, skip_bad = 0, status = 1, rc;
    tide_format fmt = TIDE_FMT_AUTO;
    tide_model *m = NULL;
    tide_reader *rd = NULL;
    tide_reader_opts ro;
    tide_metrics *metrics = NULL;
    tide_fvec x;
    tide_row row;
    tide_err err;
    double *proba = NULL;
    FILE *out = stdout;
    uint64_t rows = 0, skipped = 0, unscored = 0;
    char first_unscored[512] = "";
    tide_task task;

    tide_fvec_init(&x);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") && v) {
            model_path = v;
            i++;
        } else if (!strcmp(a, "--target") && v) {
            target = v;
            i++;
        } else if (!strcmp(a, "--output") && v) {
            output = v;
            i++;
        } else if (!strcmp(a, "--ignore") && v) {
            if (n_ignore == MAX_LIST) {
                fprintf(stderr, "tide predict: too many --ignore options\n");
                return 2;
            }
            ignore[n_ignore++] = v;
            i++;
        } else if (!strcmp(a, "--format") && v) {
            fmt = !strcmp(v, "csv") ? TIDE_FMT_CSV : !strcmp(v, "vw") ? TIDE_FMT_VW
                  : (!strcmp(v, "jsonl") || !strcmp(v, "json")) ? TIDE_FMT_JSONL : TIDE_FMT_AUTO;
            if (fmt == TIDE_FMT_AUTO) {
                fprintf(stderr, "tide predict: --format must be csv, jsonl or vw\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--proba")) {
            with_proba = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--skip-bad")) {
            skip_bad = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tide predict: unknown option or missing value: '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!input) {
            input = a;
        } else {
            fprintf(stderr, "tide predict: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!model_path || !input) {
        usage(stderr);
        return 2;
    }
    if (tide_model_load_file(model_path, &m, &err)) {
        fprintf(stderr, "tide predict: %s\n", err.msg);
        return 2;
    }
    task = m->learner->vt->task;
    tide_reader_opts_init(&ro);
    ro.format = fmt;
    ro.target = target;
    ro.ignore = ignore;
    ro.n_ignore = n_ignore;
    if (tide_reader_open(input, &ro, &rd, &err)) {
        fprintf(stderr, "tide predict: %s\n", err.msg);
        status = 2;
        goto done;
    }
    if (output && !(out = fopen(output, "w"))) {
        fprintf(stderr, "tide predict: cannot write %s\n", output);
        out = stdout;
        goto done;
    }
    proba = calloc(TIDE_MAX_CLASSES, sizeof *proba);
    if (!proba || tide_metrics_new(task == TIDE_TASK_REGRESSION ? TIDE_METRIC_REGRESS
                                                                 : TIDE_METRIC_CLASSIFY,
                                   0, &metrics)) {
        fprintf(stderr, "tide predict: out of memory\n");
        goto done;
    }
    while ((rc = tide_reader_next(rd, &row, &err)) != TIDE_EOF) {
        int K = 1, best = 0;
        if (rc == TIDE_OK)
            rc = tide_featurize(m->fz, &row, &x, &err);
        if (rc) {
            if (skip_bad && (rc == TIDE_ERR_PARSE || rc == TIDE_ERR_LIMIT)) {
                skipped++;
                continue;
            }
            fprintf(stderr, "tide predict: %s\n", err.msg);
            status = 2;
            goto done;
        }
        rows++;
        tide_learner_predict(m->learner, &x, proba);
        if (task != TIDE_TASK_REGRESSION) {
            K = tide_learner_classes(m->learner);
            for (int k = 1; k < K; k++)
                if (proba[k] > proba[best])
                    best = k;
        }
        if (json) {
            fprintf(out, "{\"line\":%llu,\"prediction\":", (unsigned long long)row.line);
            if (task == TIDE_TASK_REGRESSION)
                fprintf(out, "%.10g", proba[0]);
            else
                put_json_str(out, label_name(m->labels, best));
            if (with_proba && task != TIDE_TASK_REGRESSION) {
                fprintf(out, ",\"proba\":{");
                for (int k = 0; k < K; k++) {
                    if (k)
                        fputc(',', out);
                    put_json_str(out, label_name(m->labels, k));
                    fprintf(out, ":%.10g", proba[k]);
                }
                fputc('}', out);
            }
            fprintf(out, "}\n");
        } else {
            if (task == TIDE_TASK_REGRESSION)
                fprintf(out, "%.10g", proba[0]);
            else
                put_csv_cell(out, label_name(m->labels, best));
            if (with_proba && task != TIDE_TASK_REGRESSION)
                for (int k = 0; k < K; k++)
                    fprintf(out, ",%.10g", proba[k]);
            fputc('\n', out);
        }
        if (row.has_target) {
            int cls;
            if (task == TIDE_TASK_REGRESSION && row.target_is_num)
                tide_metrics_add_reg(metrics, row.target_num, proba[0], 1.0);
            else if (task == TIDE_TASK_REGRESSION ||
                     tide_labels_lookup(m->labels, row.target, row.target_len, &cls) != TIDE_OK ||
                     cls >= K) {
                /* a label the model never learned (or a non-numeric target
                 * of a regressor) cannot be scored: count it, name the first */
                if (!unscored++)
                    snprintf(first_unscored, sizeof first_unscored, "%s:%llu: '%.*s'", input,
                             (unsigned long long)row.line,
                             (int)(row.target_len > 64 ? 64 : row.target_len), row.target);
            } else {
                int pos = tide_labels_positive(m->labels);
                if (K == 2 && pos == 0) {
                    double sw[2] = {proba[1], proba[0]};
                    tide_metrics_add_class(metrics, 1 - cls, sw, 2, 1.0);
                } else {
                    tide_metrics_add_class(metrics, cls, proba, K, 1.0);
                }
            }
        }
    }
    {
        tide_metric_values v;
        tide_metrics_get(metrics, 0, &v);
        if (v.n) {
            if (task == TIDE_TASK_REGRESSION)
                fprintf(stderr, "scored %llu labelled rows: mae %.6f rmse %.6f r2 %.6f\n",
                        (unsigned long long)v.n, v.mae, v.rmse, v.r2);
            else
                fprintf(stderr, "scored %llu labelled rows: accuracy %.6f f1 %.6f log_loss %.6f\n",
                        (unsigned long long)v.n, v.accuracy, v.f1, v.log_loss);
        }
        if (unscored)
            fprintf(stderr,
                    "tide predict: %llu labelled row(s) not scored: their target is not a %s "
                    "the model knows (first: %s)\n",
                    (unsigned long long)unscored,
                    task == TIDE_TASK_REGRESSION ? "number" : "class", first_unscored);
        if (skipped)
            fprintf(stderr, "tide predict: skipped %llu malformed row(s)\n",
                    (unsigned long long)skipped);
    }
    status = 0;
done:
    if (out != stdout && fclose(out)) {
        fprintf(stderr, "tide predict: write error on %s\n", output);
        status = 1;
    }
    free(proba);
    tide_fvec_free(&x);
    tide_metrics_free(metrics);
    tide_reader_free(rd);
    tide_model_free(m);
    return status;
}
