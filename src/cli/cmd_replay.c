/*
 * cmd_replay.c — `tide replay FILE`: progressive validation of a learner
 * over a recorded stream. For every labelled row: predict, score, and learn
 * once the label is revealed (immediately, or --delay N rows later, as the
 * ground truth of production arrives late). Optional drift detectors watch
 * the model's error stream and report alarms with their row numbers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "tide/drift.h"
#include "tide/eval.h"
#include "tide/io.h"
#include "tide/learn.h"

#define MAX_LIST 64

typedef struct replay_opts {
    const char *file;
    const char *learner;
    const char *params[MAX_LIST];
    size_t n_params;
    const char *ignore[MAX_LIST];
    size_t n_ignore;
    const char *quadratic[MAX_LIST];
    size_t n_quadratic;
    const char *detectors[MAX_LIST];
    size_t n_detectors;
    const char *target;
    const char *save;
    const char *report;   /* --report FILE.html */
    tide_format format;
    long delay, every, window, bits;
    long long max_rows;
    int json, skip_bad, quiet;
} replay_opts;

/* A label waiting to be revealed (--delay). */
typedef struct pending {
    tide_fvec x;
    double y, w;
    uint64_t line;   /* input line of the row, for error messages */
} pending;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tide replay FILE [options]\n"
            "  Progressive validation: each row is predicted, scored, then learned.\n\n"
            "  --learner NAME       learner (default logistic; see `tide learners`)\n"
            "  --param K=V          learner parameter (repeatable)\n"
            "  --target COL         target column/key (default: last CSV column)\n"
            "  --ignore COL         drop a column (repeatable)\n"
            "  --format F           csv|jsonl|vw (default: from the extension)\n"
            "  --bits B             hash bits (default 18)\n"
            "  --quadratic A:B      cross namespaces/columns A and B (repeatable)\n"
            "  --delay N            reveal each label N rows after its prediction\n"
            "  --every N            print a metrics line every N rows\n"
            "  --window N           sliding-window length for windowed metrics (default 1000)\n"
            "  --detector NAME[,..] drift detectors on the error stream (see `tide detectors`)\n"
            "  --max-rows N         stop after N rows\n"
            "  --skip-bad           count and skip malformed rows instead of stopping\n"
            "  --save FILE          write the final model (load with `tide predict --model`)\n"
            "  --json               print the final summary as one JSON object\n"
            "  --report FILE        write an HTML report: metrics over the stream and drift\n"
            "                       alarms drawn as SVG charts\n");
}

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x;
    errno = 0;
    x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "tide replay: %s expects an integer in [%ld, %ld], got '%s'\n", opt, lo, hi,
                v);
        return -1;
    }
    *out = x;
    return 0;
}

static int push_list(const char **list, size_t *n, const char *v, const char *opt)
{
    if (*n == MAX_LIST) {
        fprintf(stderr, "tide replay: too many %s options (max %d)\n", opt, MAX_LIST);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

static int parse_args(int argc, char **argv, replay_opts *o)
{
    memset(o, 0, sizeof *o);
    o->learner = "logistic";
    o->window = 1000;
    o->bits = 18;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                                              \
    do {                                                                     \
        if (!v) {                                                            \
            fprintf(stderr, "tide replay: %s needs a value\n", a);           \
            return -1;                                                       \
        }                                                                    \
        i++;                                                                 \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--learner")) {
            NEEDV();
            o->learner = v;
        } else if (!strcmp(a, "--param") || !strcmp(a, "-p")) {
            NEEDV();
            if (push_list(o->params, &o->n_params, v, a))
                return -1;
        } else if (!strcmp(a, "--ignore")) {
            NEEDV();
            if (push_list(o->ignore, &o->n_ignore, v, a))
                return -1;
        } else if (!strcmp(a, "--quadratic") || !strcmp(a, "-q")) {
            NEEDV();
            if (push_list(o->quadratic, &o->n_quadratic, v, a))
                return -1;
        } else if (!strcmp(a, "--detector")) {
            char *s;
            NEEDV();
            for (s = strtok(argv[i], ","); s; s = strtok(NULL, ","))
                if (push_list(o->detectors, &o->n_detectors, s, a))
                    return -1;
        } else if (!strcmp(a, "--target")) {
            NEEDV();
            o->target = v;
        } else if (!strcmp(a, "--save")) {
            NEEDV();
            o->save = v;
        } else if (!strcmp(a, "--report")) {
            NEEDV();
            o->report = v;
        } else if (!strcmp(a, "--format")) {
            NEEDV();
            if (!strcmp(v, "csv"))
                o->format = TIDE_FMT_CSV;
            else if (!strcmp(v, "jsonl") || !strcmp(v, "json"))
                o->format = TIDE_FMT_JSONL;
            else if (!strcmp(v, "vw"))
                o->format = TIDE_FMT_VW;
            else {
                fprintf(stderr, "tide replay: --format must be csv, jsonl or vw, got '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--delay")) {
            NEEDV();
            if (parse_long(a, v, 0, 10000000, &o->delay))
                return -1;
        } else if (!strcmp(a, "--every")) {
            NEEDV();
            if (parse_long(a, v, 1, 1L << 40, &o->every))
                return -1;
        } else if (!strcmp(a, "--window")) {
            NEEDV();
            if (parse_long(a, v, 0, TIDE_METRICS_MAX_WINDOW, &o->window))
                return -1;
        } else if (!strcmp(a, "--bits")) {
            NEEDV();
            if (parse_long(a, v, 1, TIDE_BITS_MAX, &o->bits))
                return -1;
        } else if (!strcmp(a, "--max-rows")) {
            long x;
            NEEDV();
            if (parse_long(a, v, 1, 1L << 62, &x))
                return -1;
            o->max_rows = x;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--skip-bad")) {
            o->skip_bad = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tide replay: unknown option '%s' (see tide replay --help)\n", a);
            return -1;
        } else if (!o->file) {
            o->file = a;
        } else {
            fprintf(stderr, "tide replay: unexpected argument '%s'\n", a);
            return -1;
        }
#undef NEEDV
    }
    if (!o->file) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void print_metrics_line(FILE *f, uint64_t rows, const tide_metrics *m, int windowed)
{
    tide_metric_values v;
    tide_metrics_get(m, windowed, &v);
    /* the window line counts the rows inside the window */
    fprintf(f, "%s%llu rows", windowed ? "  window: " : "",
            (unsigned long long)(windowed ? v.n : rows));
    if (tide_metrics_kind(m) == TIDE_METRIC_CLASSIFY)
        fprintf(f, "  accuracy %.6f  f1 %.6f  log_loss %.6f  roc_auc %.6f\n", v.accuracy, v.f1,
                v.log_loss, v.roc_auc);
    else
        fprintf(f, "  mae %.6f  rmse %.6f  r2 %.6f\n", v.mae, v.rmse, v.r2);
}

static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *metrics_json(const tide_metrics *m, int windowed)
{
    tide_metric_values v;
    tide_metrics_get(m, windowed, &v);
    if (tide_metrics_kind(m) == TIDE_METRIC_CLASSIFY)
        return json_pack("{s:I, s:o, s:o, s:o, s:o}", "n", (json_int_t)v.n, "accuracy",
                         jnum(v.accuracy), "f1", jnum(v.f1), "log_loss", jnum(v.log_loss),
                         "roc_auc", jnum(v.roc_auc));
    return json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)v.n, "mae", jnum(v.mae), "rmse",
                     jnum(v.rmse), "r2", jnum(v.r2));
}

/* CSV: each side of every --quadratic pair must name a column of the
 * header (else the pair silently crosses nothing). Other formats name
 * namespaces that only the rows reveal. Returns 0, or -1 after a message. */
static int check_quadratic(const replay_opts *o, const tide_reader *rd)
{
    size_t nc;
    const char *const *cols = tide_reader_columns(rd, &nc);
    if (!cols)
        return 0;
    for (size_t i = 0; i < o->n_quadratic; i++) {
        const char *q = o->quadratic[i], *colon = strchr(q, ':');
        for (int side = 0; colon && side < 2; side++) {
            const char *name = side ? colon + 1 : q;
            size_t len = side ? strlen(colon + 1) : (size_t)(colon - q), j;
            for (j = 0; j < nc; j++)
                if (strlen(cols[j]) == len && !memcmp(cols[j], name, len))
                    break;
            if (j == nc) {
                fprintf(stderr, "tide replay: %s: --quadratic '%s': column '%.*s' is not in the "
                        "header; columns:", o->file, q, (int)len, name);
                for (j = 0; j < nc; j++)
                    fprintf(stderr, "%s %s", j ? "," : "", cols[j]);
                fputc('\n', stderr);
                return -1;
            }
        }
    }
    return 0;
}

/* The prediction of a row; with no label delay the row is also learned, in
 * the same call (one pass over the row for learners that can share it). */
static int step(tide_learner *l, const tide_fvec *x, double y, double w, long delay,
                double *proba)
{
    if (delay) {
        tide_learner_predict(l, x, proba);
        return TIDE_OK;
    }
    return tide_learner_learn_predict(l, x, y, w, proba);
}

/* A row the learner could not learn (out of memory: targets and weights
 * were checked before) ends the replay; its metrics would be stale. */
/* --report: the summary printed at the end, as the report's text. */
static int write_report(cli_report *rep, const replay_opts *o, const tide_model *model,
                        const tide_metrics *metrics, uint64_t rows, double secs,
                        uint64_t n_alarms, tide_err *err)
{
    char params[1024], title[512], *txt = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&txt, &len);
    int rc;
    if (!f)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory for the report");
    tide_params_format(&model->learner->params, params, sizeof params);
    fprintf(f, "%s: %s (%s)\n", o->file, model->learner->vt->name, params);
    print_metrics_line(f, rows, metrics, 0);
    if (o->window)
        print_metrics_line(f, rows, metrics, 1);
    fprintf(f, "%llu rows in %.3f s (%.0f rows/s)", (unsigned long long)rows, secs,
            secs > 0 ? (double)rows / secs : 0.0);
    if (o->delay)
        fprintf(f, ", labels %ld rows late", o->delay);
    if (o->n_detectors) {
        fprintf(f, "\n%llu drift alarm(s) from", (unsigned long long)n_alarms);
        for (size_t i = 0; i < o->n_detectors; i++)
            fprintf(f, " %s", o->detectors[i]);
    }
    if (fclose(f)) {
        free(txt);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory for the report");
    }
    snprintf(title, sizeof title, "tide replay: %s, %s", o->file, model->learner->vt->name);
    rc = cli_report_write(rep, o->report, title, txt ? txt : "", err);
    free(txt);
    return rc;
}

static int learn_failed(int rc, const char *file, uint64_t line)
{
    fprintf(stderr, "tide replay: %s:%llu: learning failed: %s\n", file, (unsigned long long)line,
            tide_strerror(rc));
    return 1;
}

int cmd_replay(int argc, char **argv)
{
    replay_opts o;
    tide_reader_opts ro;
    tide_feat_opts fo;
    tide_reader *rd = NULL;
    tide_featurizer *fz = NULL;
    tide_learner *learner = NULL;
    tide_model *model = NULL;
    tide_metrics *metrics = NULL;
    cli_report *report = NULL;
    tide_detector *det[MAX_LIST] = {0};
    json_t *alarms = NULL;
    pending *ring = NULL;        /* labels in flight; grows while it fills */
    size_t ring_n = 0, ring_head = 0, ring_cap = 0;
    tide_fvec x;
    tide_row row;
    tide_err err;
    cli_progress prog;
    double *proba = NULL;
    uint64_t rows = 0, skipped = 0, unlabelled = 0, n_alarms = 0;
    double t0, secs;
    int rc, status = 1;
    tide_task task;

    tide_fvec_init(&x);
    rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : 2;

    tide_reader_opts_init(&ro);
    ro.format = o.format;
    ro.target = o.target;
    ro.ignore = o.ignore;
    ro.n_ignore = o.n_ignore;
    tide_feat_opts_init(&fo);
    fo.bits = (int)o.bits;
    fo.quadratic = o.quadratic;
    fo.n_quadratic = o.n_quadratic;

    if (tide_learner_new(o.learner, o.params, o.n_params, (int)o.bits, &learner, &err) ||
        tide_featurizer_new(&fo, &fz, &err)) {
        fprintf(stderr, "tide replay: %s\n", err.msg);
        status = 2;
        goto done;
    }
    rc = tide_model_new(fz, learner, &model, &err);
    fz = NULL;
    learner = NULL;
    if (rc) {
        fprintf(stderr, "tide replay: %s\n", err.msg);
        goto done;
    }
    task = model->learner->vt->task;
    for (size_t i = 0; i < o.n_detectors; i++)
        if (tide_detector_new(o.detectors[i], NULL, 0, &det[i], &err)) {
            fprintf(stderr, "tide replay: %s\n", err.msg);
            status = 2;
            goto done;
        }
    alarms = json_array();
    if (tide_metrics_new(task == TIDE_TASK_REGRESSION ? TIDE_METRIC_REGRESS : TIDE_METRIC_CLASSIFY,
                         (size_t)o.window, &metrics) ||
        !(proba = calloc(TIDE_MAX_CLASSES, sizeof *proba))) {
        fprintf(stderr, "tide replay: out of memory\n");
        goto done;
    }
    if (o.report && cli_report_new(task == TIDE_TASK_REGRESSION ? CLI_REPORT_REGRESS
                                                                : CLI_REPORT_CLASSIFY,
                                   (size_t)o.window, &report)) {
        fprintf(stderr, "tide replay: out of memory\n");
        goto done;
    }
    if (tide_reader_open(o.file, &ro, &rd, &err)) {
        fprintf(stderr, "tide replay: %s\n", err.msg);
        status = 2;
        goto done;
    }

    if (check_quadratic(&o, rd)) {
        status = 2;
        goto done;
    }

    cli_progress_start(&prog, "replay", tide_reader_bytes_total(rd));
    t0 = cli_now();
    for (;;) {
        double y, w;
        int cls = 0, k;
        if (o.max_rows && (long long)rows >= o.max_rows)
            break;
        /* read + featurize (a fused pass for VW input: tide/feat.h) */
        rc = tide_featurize_next(model->fz, rd, &row, &x, &err);
        if (rc == TIDE_EOF)
            break;
        if (rc == TIDE_OK && row.has_target) {
            if (task == TIDE_TASK_REGRESSION) {
                if (!row.target_is_num)
                    rc = tide_err_set(&err, TIDE_ERR_PARSE,
                                      "%s:%llu: target '%s' is not a number (regression)", o.file,
                                      (unsigned long long)row.line, row.target);
            } else {
                rc = tide_labels_index(model->labels, row.target, row.target_len, &cls, &err);
                if (rc)
                    tide_err_prefix(&err, "%s:%llu", o.file, (unsigned long long)row.line);
            }
        }
        if (rc != TIDE_OK) {
            if (rc == TIDE_ERR_PARSE || rc == TIDE_ERR_LIMIT) {
                if (o.skip_bad) {
                    skipped++;
                    continue;
                }
                fprintf(stderr, "tide replay: %s\n", err.msg);
                if (!o.json)
                    fprintf(stderr, "(use --skip-bad to skip malformed rows)\n");
                status = 2;
                goto done;
            }
            fprintf(stderr, "tide replay: %s\n", err.msg);
            if (rc == TIDE_ERR_FORMAT) /* corrupt or truncated gzip: bad input */
                status = 2;
            goto done;
        }
        if (!row.has_target) {
            unlabelled++;
            continue;
        }
        w = row.weight > 0 ? row.weight : 1.0;
        rows++;
        /* predict, then score */
        if (task == TIDE_TASK_REGRESSION) {
            y = row.target_num;
            if ((rc = step(model->learner, &x, y, w, o.delay, proba))) {
                status = learn_failed(rc, o.file, row.line);
                goto done;
            }
            tide_metrics_add_reg(metrics, y, proba[0], w);
            if (report)
                cli_report_reg(report, y, proba[0], w);
        } else {
            int K, pos;
            y = cls;
            tide_learner_grow_classes(model->learner, tide_labels_count(model->labels));
            K = tide_learner_classes(model->learner);
            if ((rc = step(model->learner, &x, y, w, o.delay, proba))) {
                status = learn_failed(rc, o.file, row.line);
                goto done;
            }
            if (report)
                cli_report_class(report, cls, proba, K, w);
            pos = tide_labels_positive(model->labels);
            if (K == 2 && pos == 0) { /* metrics report F1 of index 1: swap */
                double t = proba[0];
                proba[0] = proba[1];
                proba[1] = t;
                tide_metrics_add_class(metrics, 1 - cls, proba, K, w);
                t = proba[0];
                proba[0] = proba[1];
                proba[1] = t;
            } else {
                tide_metrics_add_class(metrics, cls, proba, K, w);
            }
        }
        if (o.n_detectors) {
            double e;
            if (task == TIDE_TASK_REGRESSION) {
                e = fabs(proba[0] - y);
            } else {
                int best = 0, K = tide_learner_classes(model->learner);
                for (k = 1; k < K; k++)
                    if (proba[k] > proba[best])
                        best = k;
                e = best == cls ? 0.0 : 1.0;
            }
            for (size_t i = 0; i < o.n_detectors; i++) {
                tide_drift_state s = tide_detector_update(det[i], e);
                if (s != TIDE_DRIFT_NONE) {
                    if (s == TIDE_DRIFT_DETECTED)
                        n_alarms++;
                    json_array_append_new(
                        alarms, json_pack("{s:s, s:s, s:I, s:I}", "detector", o.detectors[i],
                                          "kind", s == TIDE_DRIFT_DETECTED ? "drift" : "warning",
                                          "row", (json_int_t)(rows - 1), "line",
                                          (json_int_t)row.line));
                    if (report)
                        cli_report_alarm(report, rows - 1, o.detectors[i],
                                         s == TIDE_DRIFT_DETECTED);
                    if (!o.json && s == TIDE_DRIFT_DETECTED)
                        printf("drift: %s at row %llu (line %llu)\n", o.detectors[i],
                               (unsigned long long)(rows - 1), (unsigned long long)row.line);
                }
            }
        }
        /* without delay the row was learned with its prediction (step);
         * otherwise it is learned when its label is revealed */
        if (o.delay) {
            pending *p;
            if (ring_n == ring_cap && ring_cap < (size_t)o.delay) {
                /* still filling (head is 0, nothing popped yet): grow by
                 * doubling, so a long delay costs memory only for the rows
                 * the stream really has */
                size_t nc = ring_cap ? ring_cap * 2 : 1024;
                pending *nr;
                if (nc > (size_t)o.delay)
                    nc = (size_t)o.delay;
                nr = realloc(ring, nc * sizeof *ring);
                if (!nr) {
                    fprintf(stderr, "tide replay: out of memory (--delay %ld)\n", o.delay);
                    goto done;
                }
                memset(nr + ring_cap, 0, (nc - ring_cap) * sizeof *nr);
                ring = nr;
                ring_cap = nc;
            }
            p = &ring[(ring_head + ring_n) % (size_t)o.delay];
            if (ring_n == (size_t)o.delay) {
                pending *old = &ring[ring_head];
                if ((rc = tide_learner_learn(model->learner, &old->x, old->y, old->w))) {
                    status = learn_failed(rc, o.file, old->line);
                    goto done;
                }
                ring_head = (ring_head + 1) % (size_t)o.delay;
                ring_n--;
                p = old;
            }
            if (p->x.cap < x.n) {
                tide_fvec_free(&p->x);
                if (tide_fvec_copy(&p->x, &x)) {
                    fprintf(stderr, "tide replay: out of memory\n");
                    goto done;
                }
            } else {
                if (x.n)
                    memcpy(p->x.f, x.f, x.n * sizeof *x.f);
                p->x.n = x.n;
            }
            p->y = y;
            p->w = w;
            p->line = row.line;
            ring_n++;
        }
        if (o.every && rows % (uint64_t)o.every == 0 && !o.json) {
            if (prog.enabled)
                cli_progress_end(&prog);
            print_metrics_line(stdout, rows, metrics, 0);
            fflush(stdout);
        }
        if ((rows & 1023) == 0)
            cli_progress_update(&prog, rows, tide_reader_bytes_read(rd));
    }
    /* the labels still in flight arrive after the stream ends */
    while (ring_n) {
        pending *p = &ring[ring_head];
        if ((rc = tide_learner_learn(model->learner, &p->x, p->y, p->w))) {
            status = learn_failed(rc, o.file, p->line);
            goto done;
        }
        ring_head = (ring_head + 1) % (size_t)o.delay;
        ring_n--;
    }
    secs = cli_now() - t0;
    cli_progress_end(&prog);

    if (o.save && tide_model_save_file(model, o.save, &err)) {
        fprintf(stderr, "tide replay: %s\n", err.msg);
        goto done;
    }
    if (report && write_report(report, &o, model, metrics, rows, secs, n_alarms, &err)) {
        fprintf(stderr, "tide replay: %s\n", err.msg);
        goto done;
    }
    if (o.json) {
        json_t *out = json_pack(
            "{s:s, s:s, s:I, s:f, s:f, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:I}", "file", o.file,
            "learner", model->learner->vt->name, "rows", (json_int_t)rows, "seconds", secs,
            "rows_per_second", secs > 0 ? (double)rows / secs : 0.0, "skipped",
            (json_int_t)skipped, "unlabelled", (json_int_t)unlabelled, "delay",
            (json_int_t)o.delay, "metrics", metrics_json(metrics, 0), "window_metrics",
            metrics_json(metrics, 1), "model_bytes",
            (json_int_t)tide_learner_memory(model->learner), "alarms", alarms, "drifts",
            (json_int_t)n_alarms);
        char *s;
        alarms = NULL;
        s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(10));
        puts(s);
        free(s);
        json_decref(out);
    } else {
        char params[1024];
        tide_params_format(&model->learner->params, params, sizeof params);
        printf("%s: %s (%s)\n", o.file, model->learner->vt->name, params);
        print_metrics_line(stdout, rows, metrics, 0);
        if (o.window)
            print_metrics_line(stdout, rows, metrics, 1);
        printf("%llu rows in %.3f s (%.0f rows/s), %llu skipped, %llu unlabelled, model %zu bytes\n",
               (unsigned long long)rows, secs, secs > 0 ? (double)rows / secs : 0.0,
               (unsigned long long)skipped, (unsigned long long)unlabelled,
               tide_learner_memory(model->learner));
        if (o.n_detectors)
            printf("%llu drift alarm(s)\n", (unsigned long long)n_alarms);
        if (skipped)
            fprintf(stderr, "tide replay: skipped %llu malformed row(s)\n",
                    (unsigned long long)skipped);
    }
    status = 0;
done:
    for (size_t i = 0; i < ring_cap; i++)
        tide_fvec_free(&ring[i].x);
    free(ring);
    for (size_t i = 0; i < o.n_detectors; i++)
        tide_detector_free(det[i]);
    json_decref(alarms);
    free(proba);
    tide_fvec_free(&x);
    tide_reader_free(rd);
    tide_metrics_free(metrics);
    cli_report_free(report);
    tide_model_free(model);
    tide_featurizer_free(fz);
    tide_learner_free(learner);
    return status;
}
