/*
 * cli.h — sub-commands of the `tide` program and the helpers they share
 * (progress bar, option parsing). Each command lives in its own file
 * src/cli/cmd_<name>.c and is listed in the table in main.c.
 * Exit status: 0 success, 1 runtime failure, 2 bad usage or bad input.
 */
#ifndef TIDE_CLI_H
#define TIDE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tide/common.h"

typedef int (*tide_cmd_fn)(int argc, char **argv);   /* argv[0] = command name */

int cmd_replay(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_learners(int argc, char **argv);
/* commands added by other modules: declare them here */
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_detectors(int argc, char **argv);

/* ---- parameter tables (params.c) -------------------------------------- */
/* JSON array of {name, type, default, range, help}; caller owns it. */
json_t *cli_params_json(const tide_param_spec *spec, size_t n);
/* One indented line per parameter. */
void cli_params_print(FILE *f, const tide_param_spec *spec, size_t n);

/* ---- progress bar on stderr (only when stderr is a terminal) ---------- */
typedef struct cli_progress {
    int enabled;
    uint64_t total_bytes;   /* 0 = unknown */
    double t_start, t_last;
    const char *label;
} cli_progress;

double cli_now(void);   /* monotonic seconds */
void cli_progress_start(cli_progress *p, const char *label, uint64_t total_bytes);
/* Redraws at most ~10 times a second. */
void cli_progress_update(cli_progress *p, uint64_t rows, uint64_t bytes_done);
void cli_progress_end(cli_progress *p);

/* ---- HTML report of tide replay (report.c) ---------------------------- */
/* The progressive metrics over the stream as SVG charts, with the drift
 * alarms: accuracy and log loss (CLASSIFY), MAE and RMSE (REGRESS), or the
 * mean of a column's values (VALUES, tide drift), cumulative and over the
 * last `window` rows (0: none). */
enum { CLI_REPORT_CLASSIFY = 0, CLI_REPORT_REGRESS = 1, CLI_REPORT_VALUES = 2 };
typedef struct cli_report cli_report;
int cli_report_new(int kind, size_t window, cli_report **out);
void cli_report_free(cli_report *r);
/* One scored row (before it is learned): y its class, proba the predicted
 * distribution over k classes; or y and the predicted value. */
void cli_report_class(cli_report *r, int y, const double *proba, int k, double w);
void cli_report_reg(cli_report *r, double y, double pred, double w);
/* VALUES: the next row's value, or a row without one (it keeps its number). */
void cli_report_value(cli_report *r, double v);
void cli_report_skip(cli_report *r);
/* An alarm raised after 0-based scored row `row`; drift 1, warning 0. */
void cli_report_alarm(cli_report *r, uint64_t row, const char *detector, int drift);
/* Writes the self-contained HTML file; title and summary are plain text. */
int cli_report_write(cli_report *r, const char *path, const char *title, const char *summary,
                     tide_err *err);

#endif
