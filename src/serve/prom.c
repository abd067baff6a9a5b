/*
 * prom.c — the Prometheus text exposition of `tide serve` (format 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/): request
 * counters and latency histograms per endpoint, plus helpers shared by the
 * server to write histograms and JSON strings into a growing buffer.
 * Counters are relaxed atomics: a scrape sees a consistent-enough view.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

const char *const SERVE_EP_NAMES[EP_COUNT] = {
    "models_list", "model_create", "model_get", "model_delete", "predict", "labels",
    "labels_export", "learn", "model_metrics", "version_create", "versions_list",
    "version_get", "artifact", "alias", "rollback", "prometheus", "healthz", "readyz", "other"};

const double PROM_LAT_BOUNDS[PROM_NBUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                               1.0,     5.0};
const double PROM_DELAY_BOUNDS[PROM_NBUCKETS] = {0.01, 0.1,   1,     5,      10,     30,    60,
                                                 300,  900,   3600,  21600,  86400,  604800,
                                                 2592000};

static const int STATUS_CODES[PROM_NSTATUS] = {200, 201, 400, 401, 403, 404,
                                               405, 409, 413, 415, 500, 503, 0};

void prom_observe(prom_hist *h, const double *bounds, double v)
{
    int i = 0;
    while (i < PROM_NBUCKETS && v > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(v * 1e6 + 0.5), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void prom_count_request(serve_prom *p, int ep, int status, double seconds)
{
    int k = PROM_NSTATUS - 1;
    if (ep < 0 || ep >= EP_COUNT)
        ep = EP_OTHER;
    for (int i = 0; i < PROM_NSTATUS - 1; i++)
        if (STATUS_CODES[i] == status) {
            k = i;
            break;
        }
    atomic_fetch_add_explicit(&p->req[ep][k], 1, memory_order_relaxed);
    prom_observe(&p->lat[ep], PROM_LAT_BOUNDS, seconds);
}

static int sb_grow(sbuf *b, size_t need)
{
    size_t nc;
    char *np;
    if (b->oom)
        return -1;
    if (b->n + need + 1 <= b->cap)
        return 0;
    nc = b->cap ? b->cap : 256;
    while (nc < b->n + need + 1)
        nc *= 2;
    np = realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = nc;
    return 0;
}

void sb_reserve(sbuf *b, size_t n) { (void)sb_grow(b, n); }

void sb_put(sbuf *b, const char *s, size_t n)
{
    if (sb_grow(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int k;
    char tmp[256];
    va_start(ap, fmt);
    k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if ((size_t)k < sizeof tmp) {
        sb_put(b, tmp, (size_t)k);
        return;
    }
    if (sb_grow(b, (size_t)k))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void sb_json_str(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    if (sb_grow(b, n + 2))
        return;
    b->p[b->n++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        sb_put(b, s + run, i - run);   /* the plain bytes before it, in one copy */
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sb_put(b, e, 6);
        }
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

void sb_double(sbuf *b, double v)
{
    char t[SERVE_FMT_G17_MAX];
    /* the same characters as printf's %.17g (exact round trip), through
     * std::to_chars (fastjson.cpp): 60 instead of 140 ns per number */
    size_t k = serve_fmt_g17(t, v);
    sb_put(b, t, k);
}

void sb_int(sbuf *b, long long v)
{
    char t[24], *p = t + sizeof t;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    sb_put(b, p, (size_t)(t + sizeof t - p));
}

void prom_hist_write(sbuf *b, const char *name, const char *labels, const prom_hist *h,
                     const double *bounds)
{
    uint64_t cum = 0;
    const char *sep = labels && *labels ? "," : "";
    labels = labels ? labels : "";
    for (int i = 0; i <= PROM_NBUCKETS; i++) {
        cum += atomic_load_explicit(&h->b[i], memory_order_relaxed);
        if (i < PROM_NBUCKETS)
            sb_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i],
                      (unsigned long long)cum);
        else
            sb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                      (unsigned long long)cum);
    }
    sb_printf(b, "%s_sum{%s} %.6f\n", name, labels,
              (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    sb_printf(b, "%s_count{%s} %llu\n", name, labels,
              (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}

void prom_write_requests(sbuf *b, const serve_prom *p)
{
    sb_printf(b, "# HELP tide_http_requests_total HTTP requests by endpoint and status.\n"
                 "# TYPE tide_http_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++)
        for (int k = 0; k < PROM_NSTATUS; k++) {
            uint64_t v = atomic_load_explicit(&p->req[e][k], memory_order_relaxed);
            if (v)
                sb_printf(b, "tide_http_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                          SERVE_EP_NAMES[e], STATUS_CODES[k], (unsigned long long)v);
        }
    sb_printf(b, "# HELP tide_http_request_duration_seconds Request latency by endpoint.\n"
                 "# TYPE tide_http_request_duration_seconds histogram\n");
    for (int e = 0; e < EP_COUNT; e++) {
        char lab[64];
        if (!atomic_load_explicit(&p->lat[e].count, memory_order_relaxed))
            continue;
        snprintf(lab, sizeof lab, "endpoint=\"%s\"", SERVE_EP_NAMES[e]);
        prom_hist_write(b, "tide_http_request_duration_seconds", lab, &p->lat[e],
                        PROM_LAT_BOUNDS);
    }
    sb_printf(b, "# HELP tide_store_commit_seconds Group-commit latency (BEGIN..COMMIT).\n"
                 "# TYPE tide_store_commit_seconds histogram\n");
    prom_hist_write(b, "tide_store_commit_seconds", "", &p->commit, PROM_LAT_BOUNDS);
    sb_printf(b, "# TYPE tide_store_commit_batches_total counter\ntide_store_commit_batches_total %llu\n",
              (unsigned long long)atomic_load(&p->commit_batches));
    sb_printf(b, "# TYPE tide_store_commit_items_total counter\ntide_store_commit_items_total %llu\n",
              (unsigned long long)atomic_load(&p->commit_items));
}
