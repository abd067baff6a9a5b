/*
 * adwin.c — ADWIN, adaptive windowing change detector and mean estimator
 * (tide_adwin_* in tide/drift.h) and the "adwin" detector of the registry.
 *
 * Algorithm: A. Bifet, R. Gavaldà, "Learning from time-changing data with
 * adaptive windowing", SIAM SDM 2007 (ADWIN2). The window is kept as an
 * exponential histogram: row i holds buckets that each summarise 2^i
 * consecutive values (their sum and their sum of squared deviations). A
 * new value enters row 0 as a bucket of one; when a row holds M+1 buckets
 * its two oldest are merged into one bucket of the next row, so every row
 * holds at most M buckets and the memory is O(M log W) for a window of W.
 *
 * Reference semantics: MOA's ADWIN (moa.classifiers.core.driftdetection.
 * ADWIN, read to understand, not copied). What we do the same:
 *  - M = 5 buckets per row; the cut test runs every `clock` = 32 values and
 *    only once the window holds more than `grace` = 10 values;
 *  - every boundary between two buckets is a candidate cut, scanned from
 *    the oldest bucket to the newest; W0 = older part, W1 = newer part;
 *  - a boundary is tested only when both parts hold more than
 *    min_window + 1 values (MOA's `n > mintMinWinLength + 1`, i.e. >= 7 with
 *    the default min_window = 5);
 *  - cut when |mean(W0) - mean(W1)| > eps with
 *        m   = 1/(n0 - min_window + 1) + 1/(n1 - min_window + 1)
 *        dd  = ln(2 ln(W) / delta)
 *        eps = sqrt(2 m v dd) + (2/3) dd m,   v = variance of the whole window
 *  - on a cut the single oldest bucket is dropped and the scan starts again
 *    from the new oldest bucket, until no boundary is cut;
 *  - variance bookkeeping (Chan et al. merge of sums of squares) as MOA.
 * Where we differ, and why:
 *  - the window variance is clamped at 0 before the square root: floating
 *    error can drive the running sum of squares a hair below zero on a
 *    constant stream, where MOA would compute sqrt(negative) = NaN and so
 *    silently never cut; with the clamp the (2/3) dd m term still applies;
 *  - the per-boundary test is written without the square root, as
 *    a = |diff| - (2/3) dd m > 0 and a^2 > 2 m v dd, which is the same
 *    inequality (both sides non-negative) but ~2x faster; it can differ from
 *    MOA's sqrt form only when both sides agree to the last bit;
 *  - the window width and clock counter are 64-bit (MOA: int), so the
 *    estimator does not overflow on streams longer than 2^31 values;
 *  - the number of rows is bounded (64): a window cannot exceed 2^64 values.
 * No warning zone (MOA's ADWIN has none either).
 */
#include "drift/drift_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ADWIN_M 5                 /* max buckets per row (MOA MAXBUCKETS) */
#define ADWIN_MAX_ROWS 64         /* rows of 2^0 .. 2^63 values */
#define ADWIN_FORMAT 1            /* version byte of the saved state */

/* One row of the exponential histogram: buckets of 2^i values each, index 0
 * the oldest. One spare slot: a row may hold M+1 buckets for an instant,
 * inside insert, before compression merges the two oldest. */
typedef struct adwin_row {
    uint32_t n;                    /* buckets in use, <= ADWIN_M after insert */
    double total[ADWIN_M + 1];     /* sum of the values of each bucket */
    double var[ADWIN_M + 1];       /* sum of squared deviations of each bucket */
} adwin_row;

struct tide_adwin {
    double delta;        /* confidence of the cut test, (0, 1) */
    uint32_t clock;      /* test for cuts every `clock` values */
    uint32_t min_win;    /* MOA mintMinWinLength */
    uint32_t grace;      /* test only when width > grace (MOA: 10) */
    uint64_t time;       /* values seen since creation (clock counter) */
    uint64_t width;      /* values in the window = sum over rows n * 2^i */
    double total;        /* sum of the values in the window */
    double variance;     /* sum of squared deviations in the window */
    uint64_t detections; /* number of updates that shrank the window */
    uint32_t n_rows;     /* rows in use (row 0 always exists) */
    uint32_t cap_rows;   /* rows allocated */
    adwin_row *rows;     /* rows[0] newest (size 1), rows[n_rows-1] oldest */
};

static int adwin_alloc(tide_adwin **out, uint32_t cap)
{
    tide_adwin *a = calloc(1, sizeof *a);
    if (!a)
        return TIDE_ERR_NOMEM;
    a->rows = calloc(cap, sizeof *a->rows);
    if (!a->rows) {
        free(a);
        return TIDE_ERR_NOMEM;
    }
    a->cap_rows = cap;
    a->n_rows = 1;
    *out = a;
    return TIDE_OK;
}

int tide_adwin_new_ex(double delta, int clock, int min_window, int grace, tide_adwin **out)
{
    int rc;
    if (!out)
        return TIDE_ERR_ARG;
    *out = NULL;
    if (!(delta > 0 && delta < 1) || clock < 1 || min_window < 1 || grace < 0)
        return TIDE_ERR_ARG;
    rc = adwin_alloc(out, 8);
    if (rc)
        return rc;
    (*out)->delta = delta;
    (*out)->clock = (uint32_t)clock;
    (*out)->min_win = (uint32_t)min_window;
    (*out)->grace = (uint32_t)grace;
    return TIDE_OK;
}

int tide_adwin_new(double delta, tide_adwin **out)
{
    return tide_adwin_new_ex(delta, 32, 5, 10, out);
}

void tide_adwin_free(tide_adwin *a)
{
    if (!a)
        return;
    free(a->rows);
    free(a);
}

/* Empties the window, keeps parameters and the clock. */
void tide_adwin_reset(tide_adwin *a)
{
    a->width = 0;
    a->total = 0;
    a->variance = 0;
    a->n_rows = 1;
    memset(a->rows, 0, (size_t)a->cap_rows * sizeof *a->rows);
}

/* Appends a bucket at the newest end of row r. */
static inline void row_push(adwin_row *row, double total, double var)
{
    row->total[row->n] = total;
    row->var[row->n] = var;
    row->n++;
}

/* Removes the k oldest buckets of a row. */
static inline void row_drop(adwin_row *row, uint32_t k)
{
    uint32_t left = row->n - k;
    for (uint32_t j = 0; j < left; j++) {
        row->total[j] = row->total[j + k];
        row->var[j] = row->var[j + k];
    }
    row->n = left;
}

/* Drops the oldest bucket; returns its size. */
static uint64_t delete_oldest(tide_adwin *a)
{
    uint32_t r = a->n_rows - 1;
    adwin_row *row = &a->rows[r];
    uint64_t n1 = (uint64_t)1 << r;
    double t = row->total[0], v = row->var[0];
    a->width -= n1;
    a->total -= t;
    if (a->width > 0) {
        double w = (double)a->width, dn = (double)n1;
        double d = t / dn - a->total / w;
        a->variance -= v + dn * w * d * d / (dn + w);
    } else {
        a->total = 0;
        a->variance = 0;
    }
    row_drop(row, 1);
    if (row->n == 0 && a->n_rows > 1)
        a->n_rows--;
    return n1;
}

/* Merges the two oldest buckets of every full row into the next row. Can
 * fail only when a new row must be allocated. */
static int compress(tide_adwin *a)
{
    for (uint32_t i = 0; a->rows[i].n == ADWIN_M + 1; i++) {
        adwin_row *row;
        double n1, u1, u2, inc;
        if (i + 1 == a->n_rows) {
            if (a->n_rows == ADWIN_MAX_ROWS) {
                /* 2^63-value buckets full (never in practice): forget the
                 * oldest bucket so the row stays within its M+1 slots */
                delete_oldest(a);
                return TIDE_ERR_LIMIT;
            }
            if (a->n_rows == a->cap_rows) {
                uint32_t cap = a->cap_rows * 2;
                adwin_row *p;
                if (cap > ADWIN_MAX_ROWS)
                    cap = ADWIN_MAX_ROWS;
                p = realloc(a->rows, (size_t)cap * sizeof *p);
                if (!p)
                    return TIDE_ERR_NOMEM;
                memset(p + a->cap_rows, 0, (size_t)(cap - a->cap_rows) * sizeof *p);
                a->rows = p;
                a->cap_rows = cap;
            }
            a->rows[a->n_rows].n = 0;
            a->n_rows++;
        }
        row = &a->rows[i];
        n1 = ldexp(1.0, (int)i);
        u1 = row->total[0] / n1;
        u2 = row->total[1] / n1;
        /* two buckets of equal size n1: n1*n1*(u1-u2)^2/(n1+n1) */
        inc = n1 * (u1 - u2) * (u1 - u2) / 2.0;
        row_push(&a->rows[i + 1], row->total[0] + row->total[1],
                 row->var[0] + row->var[1] + inc);
        row_drop(row, 2);
    }
    return TIDE_OK;
}

static int insert(tide_adwin *a, double x)
{
    a->width++;
    row_push(&a->rows[0], x, 0.0);
    if (a->width > 1) {
        double w1 = (double)(a->width - 1);
        double d = x - a->total / w1;
        a->variance += w1 * d * d / (double)a->width;
    }
    a->total += x;
    return compress(a);
}

/* One pass over all boundaries, oldest first; on the first cut drops the
 * oldest bucket and returns 1, else 0. */
static int scan_once(tide_adwin *a)
{
    double n0 = 0, n1 = (double)a->width, u0 = 0, u1 = a->total;
    double v = a->variance / (double)a->width;
    double dd = log(2.0 * log((double)a->width) / a->delta);
    double mw = (double)a->min_win, need = mw + 1.0;
    if (v < 0)
        v = 0;
    for (int i = (int)a->n_rows - 1; i >= 0; i--) {
        const adwin_row *row = &a->rows[i];
        double sz = ldexp(1.0, i);
        for (uint32_t k = 0; k < row->n; k++) {
            double diff, m, lhs;
            n0 += sz;
            n1 -= sz;
            u0 += row->total[k];
            u1 -= row->total[k];
            if (i == 0 && k == row->n - 1)
                return 0;   /* newest bucket: no boundary after it */
            if (!(n1 > need && n0 > need))
                continue;
            diff = fabs(u0 / n0 - u1 / n1);
            m = 1.0 / (n0 - mw + 1.0) + 1.0 / (n1 - mw + 1.0);
            lhs = diff - (2.0 / 3.0) * dd * m;
            if (lhs > 0 && lhs * lhs > 2.0 * m * v * dd) {
                delete_oldest(a);
                return 1;
            }
        }
    }
    return 0;
}

int tide_adwin_update(tide_adwin *a, double x)
{
    int changed = 0;
    if (!isfinite(x))
        return 0;   /* ignored: one NaN would poison the window's sums */
    a->time++;
    if (insert(a, x) != TIDE_OK)
        return 0;   /* cannot happen below 2^63 values unless out of memory */
    if (a->time % a->clock == 0 && a->width > a->grace) {
        while (a->width > 0 && scan_once(a))
            changed = 1;
    }
    if (changed)
        a->detections++;
    return changed;
}

double tide_adwin_mean(const tide_adwin *a)
{
    return a->width ? a->total / (double)a->width : 0.0;
}

double tide_adwin_width(const tide_adwin *a) { return (double)a->width; }

double tide_adwin_variance(const tide_adwin *a)
{
    return a->width ? a->variance / (double)a->width : 0.0;
}

uint64_t tide_adwin_detections(const tide_adwin *a) { return a->detections; }

size_t tide_adwin_rows(const tide_adwin *a, uint32_t *counts, size_t max_rows)
{
    for (size_t i = 0; i < a->n_rows && i < max_rows; i++)
        counts[i] = a->rows[i].n;
    return a->n_rows;
}

int tide_adwin_clone(const tide_adwin *a, tide_adwin **out)
{
    tide_adwin *c;
    int rc;
    if (!out)
        return TIDE_ERR_ARG;
    *out = NULL;
    rc = adwin_alloc(&c, a->cap_rows);
    if (rc)
        return rc;
    {
        adwin_row *rows = c->rows;
        *c = *a;
        c->rows = rows;
    }
    memcpy(c->rows, a->rows, (size_t)a->cap_rows * sizeof *a->rows);
    *out = c;
    return TIDE_OK;
}

void tide_adwin_save(const tide_adwin *a, tide_wbuf *b)
{
    tide_wbuf_u8(b, ADWIN_FORMAT);
    tide_wbuf_f64(b, a->delta);
    tide_wbuf_u32(b, a->clock);
    tide_wbuf_u32(b, a->min_win);
    tide_wbuf_u32(b, a->grace);
    tide_wbuf_u64(b, a->time);
    tide_wbuf_u64(b, a->width);
    tide_wbuf_f64(b, a->total);
    tide_wbuf_f64(b, a->variance);
    tide_wbuf_u64(b, a->detections);
    tide_wbuf_u32(b, a->n_rows);
    for (uint32_t i = 0; i < a->n_rows; i++) {
        const adwin_row *row = &a->rows[i];
        tide_wbuf_u32(b, row->n);
        tide_wbuf_f64s(b, row->total, row->n);
        tide_wbuf_f64s(b, row->var, row->n);
    }
}

int tide_adwin_load(tide_rbuf *r, tide_adwin **out, tide_err *err)
{
    tide_adwin *a = NULL;
    uint8_t ver;
    double delta;
    uint32_t clock, min_win, grace, n_rows;
    uint64_t sum = 0;
    int rc;

    if (!out)
        return tide_err_set(err, TIDE_ERR_ARG, "adwin load: no output pointer");
    *out = NULL;
    ver = tide_rbuf_u8(r);
    if (!r->bad && ver != ADWIN_FORMAT)
        return tide_err_set(err, TIDE_ERR_VERSION,
                            "adwin state has format version %u, this build reads %u", ver,
                            ADWIN_FORMAT);
    delta = tide_rbuf_f64(r);
    clock = tide_rbuf_u32(r);
    min_win = tide_rbuf_u32(r);
    grace = tide_rbuf_u32(r);
    if (r->bad)
        goto truncated;
    if (!(delta > 0 && delta < 1) || clock < 1 || clock > INT32_MAX || min_win < 1 ||
        min_win > INT32_MAX || grace > INT32_MAX)
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "adwin state has bad parameters (delta %g, clock %u, min_window %u)",
                            delta, clock, min_win);
    rc = tide_adwin_new_ex(delta, (int)clock, (int)min_win, (int)grace, &a);
    if (rc)
        return tide_err_set(err, rc, "adwin load: out of memory");
    a->time = tide_rbuf_u64(r);
    a->width = tide_rbuf_u64(r);
    a->total = tide_rbuf_f64(r);
    a->variance = tide_rbuf_f64(r);
    a->detections = tide_rbuf_u64(r);
    n_rows = tide_rbuf_u32(r);
    if (r->bad)
        goto truncated;
    if (a->time > TIDE_DRIFT_MAX_COUNT || a->width > TIDE_DRIFT_MAX_COUNT ||
        a->detections > TIDE_DRIFT_MAX_COUNT) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "adwin state: impossible counts");
        goto fail;
    }
    if (n_rows < 1 || n_rows > ADWIN_MAX_ROWS) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "adwin state has %u bucket rows (1..%d allowed)",
                          n_rows, ADWIN_MAX_ROWS);
        goto fail;
    }
    if (n_rows > a->cap_rows) {
        adwin_row *p = realloc(a->rows, (size_t)n_rows * sizeof *p);
        if (!p) {
            rc = tide_err_set(err, TIDE_ERR_NOMEM, "adwin load: out of memory");
            goto fail;
        }
        memset(p, 0, (size_t)n_rows * sizeof *p);
        a->rows = p;
        a->cap_rows = n_rows;
    }
    a->n_rows = n_rows;
    for (uint32_t i = 0; i < n_rows; i++) {
        adwin_row *row = &a->rows[i];
        row->n = tide_rbuf_u32(r);
        if (r->bad)
            goto truncated;
        /* rows fill from row 0 up and only the last loses buckets (and is
         * dropped once empty), so only row 0 of a one-row window can be
         * empty: an empty row below the last would become the last and be
         * deleted from */
        if (row->n > ADWIN_M || (row->n == 0 && n_rows > 1)) {
            rc = tide_err_set(err, TIDE_ERR_FORMAT, "adwin state: row %u holds %u buckets", i,
                              row->n);
            goto fail;
        }
        if (!tide_rbuf_f64s(r, row->total, row->n) || !tide_rbuf_f64s(r, row->var, row->n))
            goto truncated;
        sum += (uint64_t)row->n << i;
    }
    if (sum != a->width) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT,
                          "adwin state: buckets hold %llu values but the width says %llu",
                          (unsigned long long)sum, (unsigned long long)a->width);
        goto fail;
    }
    *out = a;
    return TIDE_OK;
truncated:
    rc = tide_err_set(err, TIDE_ERR_FORMAT, "adwin state is truncated");
fail:
    tide_adwin_free(a);
    return rc;
}

size_t tide_adwin_memory(const tide_adwin *a)
{
    return sizeof *a + (size_t)a->cap_rows * sizeof *a->rows;
}

/* ---- the "adwin" detector ---------------------------------------------- */

static const tide_param_spec ADWIN_PARAMS[] = {
    {"delta", TIDE_PARAM_DOUBLE, "0.002", "1e-12..0.5",
     "confidence of the cut test: smaller = fewer false alarms, slower detection"},
    {"clock", TIDE_PARAM_INT, "32", "1..1000000", "test for a cut every this many values"},
    {"min_window_length", TIDE_PARAM_INT, "5", "1..1000000",
     "a sub-window must hold more than this + 1 values to be cut off"},
    {"grace_period", TIDE_PARAM_INT, "10", "0..1000000",
     "no test while the window holds this many values or fewer"},
};

typedef struct adwin_det {
    tide_detector base;
    tide_adwin *a;
} adwin_det;

static int adwin_det_create(const tide_params *p, tide_detector **out, tide_err *err)
{
    adwin_det *d = calloc(1, sizeof *d);
    int rc;
    if (!d)
        return tide_err_set(err, TIDE_ERR_NOMEM, "adwin: out of memory");
    rc = tide_adwin_new_ex(tide_params_num(p, "delta"), (int)tide_params_num(p, "clock"),
                           (int)tide_params_num(p, "min_window_length"),
                           (int)tide_params_num(p, "grace_period"), &d->a);
    if (rc) {
        free(d);
        return tide_err_set(err, rc, "adwin: cannot create the window (bad parameters?)");
    }
    d->base.vt = &tide_drift_adwin_vt;
    d->base.params = *p;
    *out = &d->base;
    return TIDE_OK;
}

static void adwin_det_destroy(tide_detector *d)
{
    adwin_det *s = (adwin_det *)d;
    tide_adwin_free(s->a);
    free(s);
}

static tide_drift_state adwin_det_update(tide_detector *d, double x)
{
    return tide_adwin_update(((adwin_det *)d)->a, x) ? TIDE_DRIFT_DETECTED : TIDE_DRIFT_NONE;
}

static void adwin_det_reset(tide_detector *d) { tide_adwin_reset(((adwin_det *)d)->a); }

static int adwin_det_clone(const tide_detector *d, tide_detector **out, tide_err *err)
{
    const adwin_det *s = (const adwin_det *)d;
    adwin_det *c = calloc(1, sizeof *c);
    if (!c || tide_adwin_clone(s->a, &c->a)) {
        free(c);
        return tide_err_set(err, TIDE_ERR_NOMEM, "adwin clone: out of memory");
    }
    c->base = s->base;
    *out = &c->base;
    return TIDE_OK;
}

static int adwin_det_save(const tide_detector *d, tide_wbuf *b)
{
    tide_adwin_save(((const adwin_det *)d)->a, b);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int adwin_det_load(tide_detector *d, tide_rbuf *r, tide_err *err)
{
    adwin_det *s = (adwin_det *)d;
    tide_adwin *a;
    int rc = tide_adwin_load(r, &a, err);
    if (rc)
        return rc;
    tide_adwin_free(s->a);
    s->a = a;
    return TIDE_OK;
}

static size_t adwin_det_memory(const tide_detector *d)
{
    return sizeof(adwin_det) + tide_adwin_memory(((const adwin_det *)d)->a);
}

static double adwin_det_estimate(const tide_detector *d)
{
    const adwin_det *s = (const adwin_det *)d;
    return s->a->width ? tide_adwin_mean(s->a) : NAN;
}

const tide_detector_vt tide_drift_adwin_vt = {
    .name = "adwin",
    .summary = "ADWIN (Bifet & Gavalda 2007): adaptive window, cuts when two sub-windows' means differ",
    .params = ADWIN_PARAMS,
    .n_params = sizeof ADWIN_PARAMS / sizeof ADWIN_PARAMS[0],
    .create = adwin_det_create,
    .destroy = adwin_det_destroy,
    .update = adwin_det_update,
    .reset = adwin_det_reset,
    .clone = adwin_det_clone,
    .save_state = adwin_det_save,
    .load_state = adwin_det_load,
    .memory = adwin_det_memory,
    .estimate = adwin_det_estimate,
};
