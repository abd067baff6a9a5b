/*
 * report.c — the HTML report of `tide replay --report FILE`: the progressive
 * metrics over the stream, cumulative and over the sliding window, drawn as
 * inline SVG line charts, with the drift alarms of the --detector run drawn
 * where they were raised. One self-contained file (no script, no external
 * asset); the series are also embedded as JSON (<script id="tide-data"
 * type="application/json">) for tools and tests.
 *
 * `tide drift --report` uses the same file for one column of values: its
 * mean (cumulative and over the window) with the detector's alarms.
 *
 * The report keeps its own running sums of the per-row outcome (correct or
 * not and log loss for classification, absolute and squared error for
 * regression, the value and its square for a column): asking the metrics object (src/eval) every few rows would
 * recompute its AUC each time. They are the same quantities as the
 * accuracy / log loss / MAE / RMSE of `tide replay`, cumulative and over the
 * last `window` rows.
 *
 * Points: one every `stride` rows, stride doubling (and every other point
 * dropped) whenever REPORT_MAX_POINTS are held, so a stream of any length
 * gives between REPORT_MAX_POINTS / 2 and REPORT_MAX_POINTS points in
 * O(REPORT_MAX_POINTS) memory, plus the ring of the window.
 */
#include "cli/cli.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_POINTS 1024
#define REPORT_MAX_ALARMS 10000
#define LOG_EPS 1e-15   /* as src/eval: probabilities clipped before the log */

typedef struct rpoint {
    uint64_t row;
    double cum[2], win[2];   /* classification: accuracy, log loss; regression: MAE, RMSE */
} rpoint;

typedef struct ralarm {
    uint64_t row, end;       /* a drift: end = row; warnings: a run of rows */
    int drift;               /* 1 drift, 0 warning */
    char det[32];
} ralarm;

struct cli_report {
    int kind;                /* CLI_REPORT_* */
    size_t window;
    /* running sums: weight, then the two per-row quantities */
    double w, s0, s1;
    double *rw, *r0, *r1;    /* ring of the last `window` rows */
    size_t rn, rhead;
    double ww, ws0, ws1;     /* sums over the ring's finite terms */
    size_t rbad;             /* rows of the ring with an inf or NaN term */
    uint64_t rows, stride;
    uint64_t prev, cur;      /* the scored rows before and at the last add (UINT64_MAX: none) */
    rpoint *pt;
    size_t npt;
    ralarm *al;
    size_t nal;
    uint64_t al_dropped;
};

int cli_report_new(int kind, size_t window, cli_report **out)
{
    cli_report *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return TIDE_ERR_NOMEM;
    r->kind = kind;
    r->window = window;
    r->stride = 1;
    r->prev = r->cur = UINT64_MAX;
    r->pt = malloc(REPORT_MAX_POINTS * sizeof *r->pt);
    if (window && (!(r->rw = calloc(window, sizeof *r->rw)) ||
                   !(r->r0 = calloc(window, sizeof *r->r0)) ||
                   !(r->r1 = calloc(window, sizeof *r->r1))))
        goto fail;
    if (!r->pt)
        goto fail;
    *out = r;
    return TIDE_OK;
fail:
    cli_report_free(r);
    return TIDE_ERR_NOMEM;
}

void cli_report_free(cli_report *r)
{
    if (!r)
        return;
    free(r->rw);
    free(r->r0);
    free(r->r1);
    free(r->pt);
    free(r->al);
    free(r);
}

static void values(const cli_report *r, double w, double s0, double s1, double out[2])
{
    if (!(w > 0)) {
        out[0] = out[1] = NAN;
        return;
    }
    if (s1 < 0)   /* a sum of squares a subtraction left a rounding below 0 */
        s1 = 0;
    out[0] = s0 / w;
    out[1] = r->kind != CLI_REPORT_CLASSIFY ? sqrt(s1 / w) : s1 / w;
}

static void take_point(cli_report *r)
{
    rpoint *p;
    if (r->npt == REPORT_MAX_POINTS) {   /* keep the rows on the doubled stride */
        size_t m = 0;
        r->stride *= 2;
        for (size_t i = 0; i < r->npt; i++)
            if (r->pt[i].row % r->stride == 0)
                r->pt[m++] = r->pt[i];
        r->npt = m;
        if (r->rows % r->stride)
            return;
    }
    p = &r->pt[r->npt++];
    p->row = r->rows;
    values(r, r->w, r->s0, r->s1, p->cum);
    if (r->window && !r->rbad)
        values(r, r->ww, r->ws0, r->ws1, p->win);
    else   /* no window, or an inf or NaN in it */
        p->win[0] = p->win[1] = NAN;
}

/* Whether a row's terms are all finite (a regression error may overflow
 * to inf; a column's square may): the window sums hold only such rows, and
 * count the others, since inf - inf would leave a NaN for good. */
static int finite_row(double w, double a, double b)
{
    return isfinite(w) && isfinite(w * a) && isfinite(w * b);
}

/* The window's sums added again from the ring. */
static void window_resum(cli_report *r)
{
    r->ww = r->ws0 = r->ws1 = 0;
    r->rbad = 0;
    for (size_t k = 0; k < r->rn; k++) {
        size_t j = (r->rhead + k) % r->window;
        if (!finite_row(r->rw[j], r->r0[j], r->r1[j])) {
            r->rbad++;
            continue;
        }
        r->ww += r->rw[j];
        r->ws0 += r->rw[j] * r->r0[j];
        r->ws1 += r->rw[j] * r->r1[j];
    }
}

/* Whether taking t >= 0 out of a sum of terms >= 0 left s to rounding:
 * the rest is below what the subtraction can resolve (or not a number). */
static int cancelled(double s, double t)
{
    return !(s >= t * 1e-9);
}

/* One scored row: a = correct (0/1) and b = log loss (classification), or
 * a = |error| and b = error^2 (regression); w its weight. */
static void add(cli_report *r, double a, double b, double w)
{
    r->w += w;
    r->s0 += w * a;
    r->s1 += w * b;
    if (r->window) {
        size_t i;
        if (r->rn == r->window) {   /* the oldest row leaves the window */
            i = r->rhead;
            r->rhead = (r->rhead + 1) % r->window;
            r->rn--;
            if (!finite_row(r->rw[i], r->r0[i], r->r1[i])) {
                r->rbad--;
            } else {
                double t0 = r->rw[i] * r->r0[i], t1 = r->rw[i] * r->r1[i];
                r->ww -= r->rw[i];
                r->ws0 -= t0;
                r->ws1 -= t1;
                /* a term that held nearly all of a sum of terms >= 0: the
                 * rest would be rounding (a window accuracy above 1, a
                 * negative sum of squares), so it is added again; as is a
                 * sum that overflowed. The mean of a column may cancel to 0
                 * honestly: its s0 is not watched. */
                if (cancelled(r->ww, r->rw[i]) || cancelled(r->ws1, t1) ||
                    (r->kind != CLI_REPORT_VALUES && cancelled(r->ws0, t0)) ||
                    !isfinite(r->ws0) || !isfinite(r->ws1))
                    window_resum(r);
            }
        }
        i = (r->rhead + r->rn) % r->window;
        r->rw[i] = w;
        r->r0[i] = a;
        r->r1[i] = b;
        r->rn++;
        if (finite_row(w, a, b)) {
            r->ww += w;
            r->ws0 += w * a;
            r->ws1 += w * b;
        } else {
            r->rbad++;
        }
        if (r->rn == r->window && r->rows % (1u << 16) == 0)
            /* re-add the window now and then: the running subtraction
             * drifts by rounding over millions of rows */
            window_resum(r);
    }
    r->prev = r->cur;
    r->cur = r->rows;
    r->rows++;
    if (r->rows % r->stride == 0)
        take_point(r);
}

void cli_report_class(cli_report *r, int y, const double *proba, int k, double w)
{
    int best = 0;
    double p;
    for (int c = 1; c < k; c++)
        if (proba[c] > proba[best])
            best = c;
    p = y >= 0 && y < k ? proba[y] : 0.0;
    add(r, best == y ? 1.0 : 0.0, -log(p > LOG_EPS ? p : LOG_EPS), w);
}

void cli_report_reg(cli_report *r, double y, double pred, double w)
{
    double e = pred - y;
    add(r, fabs(e), e * e, w);
}

void cli_report_value(cli_report *r, double v)
{
    add(r, v, v * v, 1.0);
}

void cli_report_skip(cli_report *r)
{
    r->rows++;
}

void cli_report_alarm(cli_report *r, uint64_t row, const char *detector, int drift)
{
    ralarm *a;
    char det[sizeof a->det];
    /* a registry name; anything else is masked, as it is written raw into
     * the JSON block and the SVG title */
    snprintf(det, sizeof det, "%s", detector ? detector : "?");
    for (char *c = det; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            *c = '?';
    if (!drift) {
        /* a warning on the scored row after a warning run of the same
         * detector extends it (rows without a value in between, which the
         * detector did not see, do not end the run: `tide drift` lists the
         * run's onset once) */
        for (size_t i = r->nal, k = 0; i > 0 && k < 16; i--, k++) {
            ralarm *w = &r->al[i - 1];
            if (!w->drift && (w->end + 1 == row || (row == r->cur && w->end == r->prev)) &&
                !strcmp(w->det, det)) {
                w->end = row;
                return;
            }
        }
    }
    if (r->nal == REPORT_MAX_ALARMS) {
        r->al_dropped++;
        return;
    }
    if (r->nal % 64 == 0) {
        ralarm *n = realloc(r->al, (r->nal + 64) * sizeof *n);
        if (!n) {
            r->al_dropped++;
            return;
        }
        r->al = n;
    }
    a = &r->al[r->nal++];
    a->row = a->end = row;
    a->drift = drift;
    memcpy(a->det, det, sizeof det);
}

/* ---- writing ------------------------------------------------------------------ */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for a span. */
static double tick_step(double span, int want)
{
    double raw = span / want, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

#define CW 760.0   /* chart area */
#define CH 240.0
#define ML 64.0    /* margins */
#define MT 16.0
#define MB 36.0

/* One chart of series s (0 or 1) of the points: cumulative and windowed
 * lines, axes with ticks, the alarms as vertical lines. */
static void chart(FILE *f, const cli_report *r, int s, const char *title)
{
    double lo = INFINITY, hi = -INFINITY, xmax = r->npt ? (double)r->pt[r->npt - 1].row : 1;
    double step, mag, nice_lo, nice_hi;
    int nticks, digits;
    fprintf(f, "<h2>%s</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
               "height=\"%.0f\" class=\"chart\" data-series=\"%d\">\n",
            title, CW + ML + 16, CH + MT + MB, s);
    for (size_t i = 0; i < r->npt; i++)
        for (int t = 0; t < 2; t++) {
            double v = t ? r->pt[i].win[s] : r->pt[i].cum[s];
            if (isfinite(v)) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    }
    /* A flat series gets a span around it, relative to its size: a fixed
     * +-0.5 vanishes into the rounding of 1e16 and a span of 0 left no tick
     * step (and an axis y = NaN). */
    mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= 1e-9 * fmax(1.0, mag)) {
        double pad = fmax(0.5, mag * 1e-6);
        lo = lo - pad > -DBL_MAX ? lo - pad : -DBL_MAX;
        hi = hi + pad < DBL_MAX ? hi + pad : DBL_MAX;
    }
    /* Ticks at a nice step, counted rather than stepped by adding (lo +
     * step == lo at 1e16 with a step of 0.5: that loop never ended). When
     * the nice range is not representable (a span beyond DBL_MAX, a step
     * below the values' resolution) the axis has ticks at lo and hi. */
    step = isfinite(hi - lo) ? tick_step(hi - lo, 5) : tick_step(hi * 0.5 - lo * 0.5, 5) * 2;
    nice_lo = floor(lo / step) * step;
    nice_hi = ceil(hi / step) * step;
    nticks = 1;
    if (isfinite(step) && step > 0 && isfinite(nice_lo) && isfinite(nice_hi) &&
        nice_lo + step > nice_lo && nice_hi - step < nice_hi) {
        double n = floor((nice_hi - nice_lo) / step + 0.5);
        if (n >= 1 && n <= 40) {
            lo = nice_lo;
            hi = nice_hi;
            nticks = (int)n;
        }
    }
    if (nticks == 1)
        step = hi * 0.5 - lo * 0.5;   /* halved: hi - lo may overflow */
    /* enough digits that neighbouring ticks differ (3e+15 five times did not) */
    mag = fmax(fabs(lo), fabs(hi));
    digits = mag > 0 && step > 0 ? (int)ceil(log10(mag / step)) + 2 : 4;
    digits = digits < 4 ? 4 : digits > 17 ? 17 : digits;
    if (xmax < 1)
        xmax = 1;
#define X(row) (ML + (double)(row) / xmax * CW)
#define Y(v) (MT + (hi * 0.5 - (v) * 0.5) / (hi * 0.5 - lo * 0.5) * CH)
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n",
            ML, MT, CW, CH);
    for (int k = 0; k <= nticks; k++) {
        double v = k == nticks ? hi : nticks == 1 ? lo : lo + k * step;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" class=\"grid\"/>"
                   "<text x=\"%.1f\" y=\"%.2f\" class=\"ytick\">%.*g</text>\n",
                ML, Y(v), ML + CW, Y(v), ML - 6, Y(v) + 4, digits, v);
    }
    {
        double xs = fmax(1.0, tick_step(xmax, 6));   /* rows are whole */
        for (double x = 0; x <= xmax + xs / 2; x += xs)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xtick\">%.0f</text>\n", X(x),
                    MT + CH + 16, x);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xlabel\">rows</text>\n", ML + CW,
                MT + CH + 32);
    }
    for (size_t i = 0; i < r->nal; i++) {   /* warnings first: drift lines on top */
        const ralarm *a = &r->al[i];
        if (a->drift)
            continue;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                   "class=\"warning\" data-row=\"%llu\" data-end=\"%llu\"><title>%s warning, "
                   "rows %llu-%llu</title></rect>\n",
                X(a->row), MT, X(a->end + 1) - X(a->row), CH, (unsigned long long)a->row,
                (unsigned long long)a->end, a->det, (unsigned long long)a->row,
                (unsigned long long)a->end);
    }
    for (size_t i = 0; i < r->nal; i++) {   /* x = rows scored: row i's alarm is at i + 1 */
        const ralarm *a = &r->al[i];
        if (!a->drift)
            continue;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" class=\"drift\" "
                   "data-row=\"%llu\"><title>%s drift at row %llu</title></line>\n",
                X(a->row + 1), MT, X(a->row + 1), MT + CH, (unsigned long long)a->row, a->det,
                (unsigned long long)a->row);
    }
    for (int t = 0; t < 2; t++) {
        int open = 0;
        if (t && !r->window)
            break;
        for (size_t i = 0; i < r->npt; i++) {
            double v = t ? r->pt[i].win[s] : r->pt[i].cum[s];
            if (!isfinite(v))
                continue;
            if (!open) {
                fprintf(f, "<polyline class=\"%s\" points=\"", t ? "win" : "cum");
                open = 1;
            }
            fprintf(f, "%.2f,%.2f ", X(r->pt[i].row), Y(v));
        }
        if (open)
            fputs("\"/>\n", f);
    }
#undef X
#undef Y
    fputs("</svg>\n", f);
}

static void jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

int cli_report_write(cli_report *r, const char *path, const char *title, const char *summary,
                     tide_err *err)
{
    static const char *const NAMES[3][2] = {
        {"accuracy", "log loss"}, {"MAE", "RMSE"}, {"mean", "root mean square"}};
    const char *m0 = NAMES[r->kind][0], *m1 = NAMES[r->kind][1];
    FILE *f;
    if (r->npt == 0 || r->pt[r->npt - 1].row != r->rows) {   /* the last row, always */
        if (r->npt == REPORT_MAX_POINTS)
            r->npt--;   /* replaces the last sampled point */
        if (r->rows)
            take_point(r);
    }
    f = fopen(path, "w");
    if (!f)
        return tide_err_set(err, TIDE_ERR_IO, "%s: cannot write the report: %s", path,
                            strerror(errno));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\n<title>", f);
    esc(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:system-ui,sans-serif;margin:24px;color:#222}\n"
          "svg .frame{fill:#fafafa;stroke:#999}\nsvg .grid{stroke:#e4e4e4}\n"
          "svg text{font-size:11px;fill:#555}\nsvg .ytick{text-anchor:end}\n"
          "svg .xtick{text-anchor:middle}\nsvg .xlabel{text-anchor:end}\n"
          "svg .cum{fill:none;stroke:#1f5fbf;stroke-width:2}\n"
          "svg .win{fill:none;stroke:#e08a1e;stroke-width:1.2}\n"
          "svg .drift{stroke:#c62828;stroke-width:1.2}\n"
          "svg .warning{fill:#f2b33d;fill-opacity:0.25;stroke:none}\n"
          ".key span{display:inline-block;width:18px;height:3px;margin:0 6px 3px 14px;"
          "vertical-align:middle}\n"
          "</style></head><body>\n<h1>", f);
    esc(f, title);
    fputs("</h1>\n<pre>", f);
    esc(f, summary);
    fputs("</pre>\n<p class=\"key\"><span style=\"background:#1f5fbf\"></span>cumulative", f);
    if (r->window)
        fprintf(f, "<span style=\"background:#e08a1e\"></span>last %zu rows", r->window);
    if (r->nal)
        fputs("<span style=\"background:#c62828\"></span>drift alarm"
              "<span style=\"background:#f2b33d\"></span>warning zone", f);
    fputs("</p>\n", f);
    chart(f, r, 0, m0);
    if (r->kind != CLI_REPORT_VALUES)
        chart(f, r, 1, m1);
    if (r->al_dropped)
        fprintf(f, "<p>%llu more alarms not drawn.</p>\n", (unsigned long long)r->al_dropped);
    /* the data, for tools */
    fprintf(f, "<script id=\"tide-data\" type=\"application/json\">{\"metrics\":[\"%s\",\"%s\"],"
               "\"window\":%zu,\"rows\":%llu,\"points\":[",
            m0, m1, r->window, (unsigned long long)r->rows);
    for (size_t i = 0; i < r->npt; i++) {
        const rpoint *p = &r->pt[i];
        fprintf(f, "%s[%llu,", i ? "," : "", (unsigned long long)p->row);
        jnum(f, p->cum[0]);
        fputc(',', f);
        jnum(f, p->cum[1]);
        fputc(',', f);
        jnum(f, p->win[0]);
        fputc(',', f);
        jnum(f, p->win[1]);
        fputc(']', f);
    }
    fputs("],\"alarms\":[", f);
    for (size_t i = 0; i < r->nal; i++) {
        fprintf(f, "%s{\"row\":%llu,\"end\":%llu,\"kind\":\"%s\",\"detector\":\"%s\"}",
                i ? "," : "", (unsigned long long)r->al[i].row,
                (unsigned long long)r->al[i].end, r->al[i].drift ? "drift" : "warning",
                r->al[i].det);
    }
    fputs("]}</script>\n</body></html>\n", f);
    if (ferror(f) | fclose(f))
        return tide_err_set(err, TIDE_ERR_IO, "%s: error writing the report", path);
    return TIDE_OK;
}
