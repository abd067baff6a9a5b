/*
 * cmd_drift.c — `tide drift FILE --column COL --detector NAME`: runs a
 * drift detector over one numeric column of a stream and lists its alarms;
 * `tide detectors [--json]`: every detector with its parameters, defaults,
 * ranges and meaning (from the registry's tide_param_spec tables).
 *
 * Row numbers are 0-based data rows (the header is not a row): an alarm at
 * row i was raised by the update with row i's value. Rows whose cell is
 * empty are skipped (they keep their number). Warnings are reported at
 * their onset: a row that returned WARNING after a row that did not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "tide/drift.h"
#include "tide/io.h"

#define MAX_PARAMS 32

/* ---- tide detectors -------------------------------------------------------- */

int cmd_detectors(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tide detectors [--json]\n  Lists every drift detector, its parameters "
                   "(type, default, range) and their meaning.\n");
            return 0;
        } else {
            fprintf(stderr, "tide detectors: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (json) {
        json_t *arr = json_array();
        char *s;
        for (size_t i = 0; i < tide_detector_count(); i++) {
            const tide_detector_vt *vt = tide_detector_at(i);
            json_t *ps = cli_params_json(vt->params, vt->n_params);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "name", vt->name, "summary",
                                                 vt->summary, "params", ps));
        }
        s = json_dumps(arr, JSON_INDENT(2));
        if (!s) {
            json_decref(arr);
            fprintf(stderr, "tide detectors: out of memory\n");
            return 1;
        }
        puts(s);
        free(s);
        json_decref(arr);
        return 0;
    }
    for (size_t i = 0; i < tide_detector_count(); i++) {
        const tide_detector_vt *vt = tide_detector_at(i);
        printf("%-13s %s\n", vt->name, vt->summary);
        cli_params_print(stdout, vt->params, vt->n_params);
    }
    return 0;
}

/* ---- tide drift ------------------------------------------------------------- */

static void drift_usage(FILE *f)
{
    fprintf(f,
            "usage: tide drift FILE --column COL --detector NAME [--param K=V ...] [--json]\n"
            "  Runs a drift detector over the numeric column COL of FILE (CSV, JSON Lines;\n"
            "  '-' = stdin) and lists its alarms by 0-based data row.\n\n"
            "  --column COL      column (CSV header name / JSON key) to monitor\n"
            "  --detector NAME   adwin, page_hinkley, ddm, eddm, kswin (see `tide detectors`)\n"
            "  --param K=V       detector parameter (repeatable)\n"
            "  --format F        csv|jsonl (default: from the extension)\n"
            "  --json            print {\"detections\": [row, ...], \"warnings\": [row, ...]}\n"
            "  --skip-bad        count and skip malformed rows (they keep their row number)\n"
            "  --report FILE     write an HTML report: the column's mean (cumulative and over\n"
            "                    the last --window rows) with the alarms, as an SVG chart\n"
            "  --window N        window of the report's moving mean (default 100)\n"
            "Empty cells are skipped; warnings are listed at their onset.\n");
}

/* Growable list of row numbers. */
typedef struct rowlist {
    uint64_t *v;
    size_t n, cap;
} rowlist;

static int rowlist_push(rowlist *l, uint64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint64_t *p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return -1;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

static void print_json_list(const rowlist *l)
{
    putchar('[');
    for (size_t i = 0; i < l->n; i++)
        printf("%s%llu", i ? ", " : "", (unsigned long long)l->v[i]);
    putchar(']');
}

int cmd_drift(int argc, char **argv)
{
    const char *file = NULL, *column = NULL, *detector = NULL, *report_path = NULL;
    long window = 100;
    cli_report *report = NULL;
    const char *kv[MAX_PARAMS];
    size_t n_kv = 0;
    int json = 0, rc = 2, prev_warning = 0, skip_bad = 0;
    tide_reader_opts opts;
    tide_reader *rd = NULL;
    tide_detector *det = NULL;
    tide_err err;
    tide_row row;
    rowlist drifts = {0}, warnings = {0};
    uint64_t rowno = 0, used = 0, skipped = 0, bad = 0;
    char pbuf[1024];

    tide_err_clear(&err);
    tide_reader_opts_init(&opts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            drift_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--skip-bad")) {
            skip_bad = 1;
        } else if (!strcmp(a, "--report") && has_val) {
            report_path = argv[++i];
        } else if (!strcmp(a, "--window") && has_val) {
            char *end;
            const char *v = argv[++i];
            window = strtol(v, &end, 10);
            if (*v == '\0' || *end || window < 1 || window > 1000000) {
                fprintf(stderr, "tide drift: --window must be an integer in 1..1000000, got '%s'\n",
                        v);
                return 2;
            }
        } else if (!strcmp(a, "--column") && has_val) {
            column = argv[++i];
        } else if (!strcmp(a, "--detector") && has_val) {
            detector = argv[++i];
        } else if (!strcmp(a, "--param") && has_val) {
            if (n_kv == MAX_PARAMS) {
                fprintf(stderr, "tide drift: at most %d --param options\n", MAX_PARAMS);
                return 2;
            }
            kv[n_kv++] = argv[++i];
        } else if (!strcmp(a, "--format") && has_val) {
            const char *f = argv[++i];
            if (!strcmp(f, "csv"))
                opts.format = TIDE_FMT_CSV;
            else if (!strcmp(f, "jsonl"))
                opts.format = TIDE_FMT_JSONL;
            else {
                fprintf(stderr, "tide drift: --format must be csv or jsonl, got '%s'\n", f);
                return 2;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "tide drift: unknown option '%s' or missing value (try --help)\n", a);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "tide drift: unexpected argument '%s' (one FILE only)\n", a);
            return 2;
        }
    }
    if (!file || !column || !detector) {
        fprintf(stderr, "tide drift: %s is required\n\n",
                !file ? "FILE" : !column ? "--column" : "--detector");
        drift_usage(stderr);
        return 2;
    }
    if (tide_detector_new(detector, kv, n_kv, &det, &err) != TIDE_OK) {
        fprintf(stderr, "tide drift: %s\n", err.msg);
        return err.code == TIDE_ERR_NOMEM ? 1 : 2;
    }
    if (report_path && cli_report_new(CLI_REPORT_VALUES, (size_t)window, &report)) {
        fprintf(stderr, "tide drift: out of memory\n");
        rc = 1;
        goto cleanup;
    }
    /* the monitored column is read as the reader's target: its value comes
     * back as row.target_num whatever its position */
    opts.target = column;
    if (tide_reader_open(file, &opts, &rd, &err) != TIDE_OK) {
        /* the reader calls the column a "target" column: not here */
        char *t = strstr(err.msg, "target column '");
        if (t)
            memmove(t, t + 7, strlen(t + 7) + 1);
        fprintf(stderr, "tide drift: %s\n", err.msg);
        rc = err.code == TIDE_ERR_NOMEM ? 1 : 2;
        goto cleanup;
    }
    for (;;) {
        tide_drift_state s;
        int r = tide_reader_next(rd, &row, &err);
        if (r == TIDE_EOF)
            break;
        if (r != TIDE_OK) {
            if (skip_bad && (r == TIDE_ERR_PARSE || r == TIDE_ERR_LIMIT)) {
                bad++; /* a malformed row keeps its number */
                rowno++;
                if (report)
                    cli_report_skip(report);
                continue;
            }
            fprintf(stderr, "tide drift: %s\n", err.msg);
            if (r == TIDE_ERR_PARSE || r == TIDE_ERR_LIMIT)
                fprintf(stderr, "(use --skip-bad to skip malformed rows)\n");
            rc = r == TIDE_ERR_NOMEM ? 1 : 2;
            goto cleanup;
        }
        if (!row.has_target || (!row.target_is_num && skip_bad)) {
            if (row.has_target)
                bad++;
            else
                skipped++;
            rowno++;
            if (report)
                cli_report_skip(report);
            continue;
        }
        if (!row.target_is_num) {
            fprintf(stderr, "tide drift: %s:%llu: column '%s' holds '%.*s', not a number\n", file,
                    (unsigned long long)row.line, column, (int)(row.target_len > 40 ? 40 : row.target_len),
                    row.target);
            rc = 2;
            goto cleanup;
        }
        s = tide_detector_update(det, row.target_num);
        used++;
        if (report) {
            cli_report_value(report, row.target_num);
            if (s != TIDE_DRIFT_NONE)
                cli_report_alarm(report, rowno, detector, s == TIDE_DRIFT_DETECTED);
        }
        if (s == TIDE_DRIFT_DETECTED) {
            if (rowlist_push(&drifts, rowno))
                goto nomem;
        } else if (s == TIDE_DRIFT_WARNING && !prev_warning) {
            if (rowlist_push(&warnings, rowno))
                goto nomem;
        }
        prev_warning = s == TIDE_DRIFT_WARNING;
        rowno++;
    }
    if (bad)
        fprintf(stderr, "tide drift: skipped %llu malformed row(s)\n", (unsigned long long)bad);
    if (report) {
        char title[512], summary[1024];
        tide_params_format(&det->params, pbuf, sizeof pbuf);
        snprintf(title, sizeof title, "tide drift: %s, column %s, %s", file, column, detector);
        snprintf(summary, sizeof summary,
                 "detector %s (%s)\n%llu values, %llu rows without one\n%zu drifts, %zu warnings "
                 "(at their onset)", detector, pbuf, (unsigned long long)used,
                 (unsigned long long)(skipped + bad), drifts.n, warnings.n);
        if (cli_report_write(report, report_path, title, summary, &err)) {
            fprintf(stderr, "tide drift: %s\n", err.msg);
            rc = 1;
            goto cleanup;
        }
    }
    if (json) {
        printf("{\"detections\": ");
        print_json_list(&drifts);
        printf(", \"warnings\": ");
        print_json_list(&warnings);
        printf("}\n");
    } else {
        tide_params_format(&det->params, pbuf, sizeof pbuf);
        printf("detector %s (%s) on %s column '%s': %llu values", detector, pbuf, file, column,
               (unsigned long long)used);
        if (skipped)
            printf(", %llu empty cells skipped", (unsigned long long)skipped);
        printf("\n");
        {
            size_t i = 0, j = 0;
            while (i < drifts.n || j < warnings.n) {
                if (j >= warnings.n || (i < drifts.n && drifts.v[i] <= warnings.v[j]))
                    printf("  drift    at row %llu\n", (unsigned long long)drifts.v[i++]);
                else
                    printf("  warning  at row %llu\n", (unsigned long long)warnings.v[j++]);
            }
        }
        printf("%zu drift%s, %zu warning%s\n", drifts.n, drifts.n == 1 ? "" : "s", warnings.n,
               warnings.n == 1 ? "" : "s");
    }
    rc = 0;
    goto cleanup;
nomem:
    fprintf(stderr, "tide drift: out of memory\n");
    rc = 1;
cleanup:
    free(drifts.v);
    free(warnings.v);
    cli_report_free(report);
    tide_reader_free(rd);
    tide_detector_free(det);
    return rc;
}
