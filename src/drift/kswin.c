/*
 * kswin.c — KSWIN, Kolmogorov-Smirnov windowing drift detector (the
 * "kswin" detector of the registry).
 *
 * C. Raab, M. Heusinger, F.-M. Schleif, "Reactive soft prototype computing
 * for concept drift streams", Neurocomputing 416 (2020). Semantics and
 * defaults of River's drift.KSWIN (read to understand, not copied):
 *  - a sliding window of the last window_size values (100);
 *  - once it is full, at every value: R = the newest stat_size values (30),
 *    W = stat_size values drawn uniformly without replacement from the
 *    window_size - stat_size older ones; two-sample KS test of W vs R with
 *    the exact p-value; DRIFT when p <= alpha (0.005) and D > 0.1;
 *  - after DRIFT the detector is reset to its initial state (empty window,
 *    generator re-seeded), as River's next update does.
 * Implementation notes: both samples have stat_size values, so D is a
 * multiple of 1/stat_size and the exact p-value (stattest.c) depends only
 * on that multiple: the smallest k with p(k/stat_size) <= alpha and
 * k/stat_size > 0.1 is found once at creation, and each update only
 * compares the integer k = stat_size * D with it. Equivalent to testing
 * p <= alpha at every step, without the O(stat_size^2) p-value per value.
 * 0/1 streams (a model's errors, the common case) take a shortcut with the
 * same decisions: while every value in the window is 0 or 1, D is
 * |ones in W - ones in R| / stat, and ones in W can only lie in
 * [max(0, stat - zeros of the older part), min(stat, ones of the older
 * part)]. When no value of that range reaches kstar no draw can, so none is
 * made; otherwise ones in W is drawn from its hypergeometric distribution
 * (one uniform against a precomputed CDF table) — the law of the count in
 * a uniform draw of stat older values, so the test keeps its distribution.
 * Counts are kept per step in O(1); the sorted lists are rebuilt only when
 * a value other than 0/1 enters the window. Windows too large for the table
 * (more than KSWIN_HCDF_MAX entries) take the general path on 0/1 values
 * too, so their lists are kept up to date at every value.
 * Differences to River: the sampler is splitmix64 with parameter `seed`
 * (River: Python's random.Random), so the drawn subsets differ; the
 * statistics are the same. No warning zone.
 */
#include "drift/drift_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KSWIN_FORMAT 1
#define KSWIN_MAX_WINDOW 100000
#define KSWIN_MAX_STAT 2000

static const tide_param_spec KSWIN_PARAMS[] = {
    {"alpha", TIDE_PARAM_DOUBLE, "0.005", "1e-12..0.5",
     "drift when the KS test's p-value is at most this (and D > 0.1)"},
    {"window_size", TIDE_PARAM_INT, "100", "4..100000", "values in the sliding window"},
    {"stat_size", TIDE_PARAM_INT, "30", "2..2000",
     "values in each tested sample (newest ones vs a random draw of the older ones)"},
    {"seed", TIDE_PARAM_INT, "42", "0..1000000000000", "seed of the sampler"},
};

typedef struct kswin_det {
    tide_detector base;
    double alpha;
    uint32_t win, stat;   /* window_size, stat_size */
    uint64_t seed;
    uint32_t kstar;       /* drift when stat * D >= kstar; stat+1 = never */
    uint32_t count;       /* values in the window, <= win */
    uint32_t head;        /* ring index of the oldest value */
    uint64_t rng;         /* splitmix64 state */
    double *ring;         /* win values */
    uint32_t *perm;       /* permutation of 0..win-stat-1 (sampler state) */
    double *wbuf;         /* scratch: the drawn older sample, sorted */
    uint32_t *ord_old;    /* ring indices of the older win-stat values, by value */
    uint32_t *ord_new;    /* ring indices of the newest stat values, by value */
    uint8_t *mark;        /* per ring index: drawn into W this step */
    /* 0/1 shortcut (derived state, never saved) */
    double *hcdf;         /* (older+1) x (stat+1) hypergeometric CDFs, or NULL */
    uint32_t nonbin;      /* values in the window other than 0 and 1 */
    uint32_t ones_old;    /* ones in the older part (window full) */
    uint32_t ones_new;    /* ones in the newest stat values (window full) */
    int ord_valid;        /* ord_old/ord_new describe the ring */
} kswin_det;

/* Hypergeometric tables are kept when they are this small (the default
 * window 100 / stat 30 needs 71 x 31). */
#define KSWIN_HCDF_MAX 65536

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)next_u64(s) * n) >> 64);
}

static void kswin_reset(tide_detector *d)
{
    kswin_det *s = (kswin_det *)d;
    s->count = 0;
    s->head = 0;
    s->rng = s->seed;
    s->nonbin = 0;
    s->ord_valid = 0;
    for (uint32_t i = 0; i < s->win - s->stat; i++)
        s->perm[i] = i;
}

static void kswin_destroy(tide_detector *d)
{
    kswin_det *s = (kswin_det *)d;
    if (!s)
        return;
    free(s->ring);
    free(s->perm);
    free(s->wbuf);
    free(s->ord_old);
    free(s->ord_new);
    free(s->mark);
    free(s->hcdf);
    free(s);
}

/* CDF tables of the number of ones in a uniform draw of `stat` values
 * without replacement among `older` values of which c are ones, for every
 * c: row c holds P(ones <= w), w = 0..stat (pmf through lgamma, then summed
 * and normalised so the last entry is exactly 1). */
static double *hyper_cdfs(uint32_t older, uint32_t stat)
{
    double *t = malloc((size_t)(older + 1) * (stat + 1) * sizeof *t);
    double lall;
    if (!t)
        return NULL;
    lall = lgamma(older + 1.0) - lgamma(stat + 1.0) - lgamma((double)(older - stat) + 1.0);
    for (uint32_t c = 0; c <= older; c++) {
        double *row = t + (size_t)c * (stat + 1), acc = 0;
        for (uint32_t w = 0; w <= stat; w++) {
            double pm = 0;
            if (w <= c && stat - w <= older - c)
                pm = exp(lgamma(c + 1.0) - lgamma(w + 1.0) - lgamma((double)(c - w) + 1.0) +
                         lgamma((double)(older - c) + 1.0) - lgamma((double)(stat - w) + 1.0) -
                         lgamma((double)(older - c - (stat - w)) + 1.0) - lall);
            acc += pm;
            row[w] = acc;
        }
        for (uint32_t w = 0; w <= stat; w++)
            row[w] /= acc;
        row[stat] = 1.0;
    }
    return t;
}

static double *copy_cdfs(const double *t, uint32_t older, uint32_t stat)
{
    size_t n = (size_t)(older + 1) * (stat + 1);
    double *c = malloc(n * sizeof *c);
    if (c)
        memcpy(c, t, n * sizeof *c);
    return c;
}

static int is_bin(double v) { return v == 0.0 || v == 1.0; }

/* Recomputes the derived counts from a full ring. */
static void recount(kswin_det *s)
{
    uint32_t older = s->win - s->stat;
    s->nonbin = s->ones_old = s->ones_new = 0;
    for (uint32_t t = 0; t < s->win; t++) {
        double v = s->ring[(s->head + t) % s->win];
        s->nonbin += !is_bin(v);
        if (v == 1.0) {
            if (t < older)
                s->ones_old++;
            else
                s->ones_new++;
        }
    }
}

/* Allocates a detector with parameters from p (state reset). */
static int kswin_alloc(const tide_params *p, const double *hcdf_src, kswin_det **out,
                       tide_err *err)
{
    kswin_det *s;
    double a = tide_params_num(p, "alpha");
    uint32_t win = (uint32_t)tide_params_num(p, "window_size");
    uint32_t stat = (uint32_t)tide_params_num(p, "stat_size");
    *out = NULL;
    if (win > KSWIN_MAX_WINDOW || stat > KSWIN_MAX_STAT || 2 * stat > win)
        return tide_err_set(err, TIDE_ERR_ARG,
                            "kswin: stat_size (%u) must be at most half of window_size (%u)", stat,
                            win);
    s = calloc(1, sizeof *s);
    if (!s)
        return tide_err_set(err, TIDE_ERR_NOMEM, "kswin: out of memory");
    s->base.vt = &tide_drift_kswin_vt;
    s->base.params = *p;
    s->alpha = a;
    s->win = win;
    s->stat = stat;
    s->seed = (uint64_t)tide_params_num(p, "seed");
    s->ring = calloc(win, sizeof *s->ring);
    s->perm = calloc(win - stat, sizeof *s->perm);
    s->wbuf = calloc((size_t)stat + 1, sizeof *s->wbuf);
    s->ord_old = calloc(win - stat, sizeof *s->ord_old);
    s->ord_new = calloc(stat, sizeof *s->ord_new);
    s->mark = calloc(win, sizeof *s->mark);
    if (!s->ring || !s->perm || !s->wbuf || !s->ord_old || !s->ord_new || !s->mark) {
        kswin_destroy(&s->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "kswin: out of memory");
    }
    /* smallest k with exact p(k/stat) <= alpha and k/stat > 0.1; p falls
     * as k grows, so binary search */
    {
        uint32_t lo = (uint32_t)floor(0.1 * stat) + 1, hi = stat + 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            double pv = tide_ks_exact_pvalue((double)mid / stat, stat, stat);
            if (pv <= a)
                hi = mid;
            else
                lo = mid + 1;
        }
        s->kstar = lo;
    }
    if ((size_t)(win - stat + 1) * (stat + 1) <= KSWIN_HCDF_MAX &&
        !(s->hcdf = hcdf_src ? copy_cdfs(hcdf_src, win - stat, stat)
                             : hyper_cdfs(win - stat, stat))) {
        kswin_destroy(&s->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "kswin: out of memory");
    }
    kswin_reset(&s->base);
    *out = s;
    return TIDE_OK;
}

static int kswin_create(const tide_params *p, tide_detector **out, tide_err *err)
{
    kswin_det *s;
    int rc = kswin_alloc(p, NULL, &s, err);
    if (rc)
        return rc;
    *out = &s->base;
    return TIDE_OK;
}

/* Sorts ring indices idx[0..n-1] by their value (insertion sort). */
static void sort_idx(const double *ring, uint32_t *idx, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = idx[i], j = i;
        while (j > 0 && ring[idx[j - 1]] > ring[x]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

/* Removes ring index k from the sorted list ord (n entries). */
static void ord_remove(uint32_t *ord, uint32_t n, uint32_t k)
{
    uint32_t i = 0;
    while (i < n && ord[i] != k)
        i++;
    if (i < n)
        memmove(ord + i, ord + i + 1, (n - 1 - i) * sizeof *ord);
}

/* Inserts ring index k into the sorted list ord (n entries, room for n+1). */
static void ord_insert(const double *ring, uint32_t *ord, uint32_t n, uint32_t k)
{
    uint32_t lo = 0, hi = n;
    double v = ring[k];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ring[ord[mid]] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(ord + lo + 1, ord + lo, (n - lo) * sizeof *ord);
    ord[lo] = k;
}

/* Rebuilds the two sorted index lists from the ring (window full). */
static void rebuild_order(kswin_det *s)
{
    uint32_t older = s->win - s->stat;
    for (uint32_t t = 0; t < older; t++)
        s->ord_old[t] = (s->head + t) % s->win;
    for (uint32_t t = 0; t < s->stat; t++)
        s->ord_new[t] = (s->head + older + t) % s->win;
    sort_idx(s->ring, s->ord_old, older);
    sort_idx(s->ring, s->ord_new, s->stat);
}

/* One value. The window's older part and newest part are kept as index
 * lists sorted by value, updated in O(window) per value, so the drawn
 * sample W comes out sorted by a scan of the older list (no sort). */
static tide_drift_state kswin_update(tide_detector *d, double x)
{
    kswin_det *s = (kswin_det *)d;
    uint32_t older = s->win - s->stat, i = 0, j = 0, kmax = 0, nw = 0;
    if (s->count < s->win) {
        s->ring[(s->head + s->count) % s->win] = x;
        s->count++;
        if (s->count < s->win)
            return TIDE_DRIFT_NONE;
        recount(s);
        s->ord_valid = 0;
    } else {
        uint32_t h = s->head, mid = s->head + older >= s->win ? s->head + older - s->win
                                                              : s->head + older;
        double out = s->ring[h], moved = s->ring[mid];
        s->nonbin += (uint32_t)!is_bin(x) - (uint32_t)!is_bin(out);
        s->ones_old += (uint32_t)(moved == 1.0) - (uint32_t)(out == 1.0);
        s->ones_new += (uint32_t)(x == 1.0) - (uint32_t)(moved == 1.0);
        if (s->ord_valid && (s->nonbin || !s->hcdf)) {
            /* (kept while the general path will read them: always without
             * a CDF table) oldest value leaves, the oldest of the newest
             * part joins the older part, x takes the freed slot h */
            ord_remove(s->ord_old, older, h);
            ord_remove(s->ord_new, s->stat, mid);
            ord_insert(s->ring, s->ord_old, older - 1, mid);
            s->ring[h] = x;
            ord_insert(s->ring, s->ord_new, s->stat - 1, h);
        } else {
            s->ring[h] = x;
            s->ord_valid = 0;
        }
        s->head = h + 1 == s->win ? 0 : h + 1;
    }
    if (!s->nonbin && s->hcdf) {
        /* 0/1 window: stat * D = |ones in W - ones in R| */
        uint32_t zeros_old = older - s->ones_old, stat = s->stat;
        uint32_t lo = zeros_old >= stat ? 0 : stat - zeros_old;
        uint32_t hi = s->ones_old < stat ? s->ones_old : stat, r = s->ones_new, w;
        uint32_t reach = hi > r ? hi - r : r - hi, reach_lo = lo > r ? lo - r : r - lo;
        const double *cdf = s->hcdf + (size_t)s->ones_old * (stat + 1);
        double u;
        if (reach_lo > reach)
            reach = reach_lo;
        if (reach < s->kstar)
            return TIDE_DRIFT_NONE;   /* no draw could reach kstar */
        u = (double)(next_u64(&s->rng) >> 11) * 0x1p-53;
        for (w = lo; w < hi && cdf[w] <= u; w++)
            ;
        kmax = w > r ? w - r : r - w;
        if (kmax >= s->kstar) {
            kswin_reset(d);
            return TIDE_DRIFT_DETECTED;
        }
        return TIDE_DRIFT_NONE;
    }
    if (!s->ord_valid) {
        rebuild_order(s);
        s->ord_valid = 1;
    }
    /* W: partial Fisher-Yates draw of stat indices among the older ones */
    {   /* locals: stores through uint8_t* would force reloads of s->... */
        uint32_t *perm = s->perm, stat = s->stat, head = s->head, win = s->win;
        uint8_t *mark = s->mark;
        uint64_t rng = s->rng;
        for (uint32_t t = 0; t < stat; t++) {
            uint32_t r = t + below(&rng, older - t), tmp = perm[t], k;
            perm[t] = perm[r];
            perm[r] = tmp;
            k = head + perm[t];
            mark[k >= win ? k - win : k] = 1;
        }
        s->rng = rng;
    }
    {   /* branch-free: the draw is random, a branch would mispredict */
        const uint32_t *ord = s->ord_old;
        const double *ring = s->ring;
        uint8_t *mark = s->mark;
        double *wb = s->wbuf;   /* stat + 1 slots: the last is a dump */
        for (uint32_t t = 0; t < older; t++) {
            uint32_t k = ord[t];
            wb[nw] = ring[k];
            nw += mark[k];
            mark[k] = 0;
        }
    }
    /* stat * D = max over distinct values of |#W <= v - #R <= v| */
    while (i < s->stat && j < s->stat) {
        double wv = s->wbuf[i], rv = s->ring[s->ord_new[j]], v = wv < rv ? wv : rv;
        uint32_t diff;
        while (i < s->stat && s->wbuf[i] <= v)
            i++;
        while (j < s->stat && s->ring[s->ord_new[j]] <= v)
            j++;
        diff = i > j ? i - j : j - i;
        if (diff > kmax)
            kmax = diff;
    }
    if (kmax >= s->kstar) {
        kswin_reset(d);
        return TIDE_DRIFT_DETECTED;
    }
    return TIDE_DRIFT_NONE;
}

static int kswin_clone(const tide_detector *d, tide_detector **out, tide_err *err)
{
    const kswin_det *s = (const kswin_det *)d;
    kswin_det *c;
    /* a clone copies the CDF table instead of recomputing it (lgamma) */
    int rc = kswin_alloc(&s->base.params, s->hcdf, &c, err);
    if (rc)
        return rc;
    c->base.n_seen = s->base.n_seen;
    c->count = s->count;
    c->head = s->head;
    c->rng = s->rng;
    memcpy(c->ring, s->ring, s->win * sizeof *s->ring);
    memcpy(c->perm, s->perm, (s->win - s->stat) * sizeof *s->perm);
    if (c->count == c->win)
        recount(c);
    *out = &c->base;
    return TIDE_OK;
}

static int kswin_save(const tide_detector *d, tide_wbuf *b)
{
    const kswin_det *s = (const kswin_det *)d;
    tide_wbuf_u8(b, KSWIN_FORMAT);
    tide_wbuf_u32(b, s->count);
    tide_wbuf_u32(b, s->head);
    tide_wbuf_u64(b, s->rng);
    tide_wbuf_u32(b, s->win);
    tide_wbuf_f64s(b, s->ring, s->win);
    for (uint32_t i = 0; i < s->win - s->stat; i++)
        tide_wbuf_u32(b, s->perm[i]);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int kswin_load(tide_detector *d, tide_rbuf *r, tide_err *err)
{
    kswin_det *s = (kswin_det *)d;
    uint32_t older = s->win - s->stat, count, head, win;
    uint64_t rng;
    uint8_t ver = tide_rbuf_u8(r);
    if (!r->bad && ver != KSWIN_FORMAT)
        return tide_err_set(err, TIDE_ERR_VERSION, "kswin state: unknown format version %u", ver);
    count = tide_rbuf_u32(r);
    head = tide_rbuf_u32(r);
    rng = tide_rbuf_u64(r);
    win = tide_rbuf_u32(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state is truncated");
    if (win != s->win || count > s->win || head >= s->win)
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "kswin state does not match its parameters (window %u vs %u)", win,
                            s->win);
    if (!tide_rbuf_f64s(r, s->ring, s->win))
        return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state is truncated");
    /* update() never stores NaN/inf; one in the window would stall the KS
     * scan (found by fuzz_detector) */
    for (uint32_t i = 0; i < s->win; i++)
        if (!isfinite(s->ring[i]))
            return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state: window value %u is not finite",
                                i);
    /* a permutation: each entry below older and none twice (mark, all 0
     * between updates, serves as the seen-set and is cleared again) */
    for (uint32_t i = 0; i < older; i++) {
        s->perm[i] = tide_rbuf_u32(r);
        if (r->bad || s->perm[i] >= older || s->mark[s->perm[i]]) {
            memset(s->mark, 0, s->win);
            return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state: bad sampler permutation");
        }
        s->mark[s->perm[i]] = 1;
    }
    memset(s->mark, 0, s->win);
    s->count = count;
    s->head = head;
    s->rng = rng;
    s->ord_valid = 0;
    if (s->count == s->win)
        recount(s);
    return TIDE_OK;
}

static size_t kswin_memory(const tide_detector *d)
{
    const kswin_det *s = (const kswin_det *)d;
    return sizeof *s + s->win * (sizeof(double) + 1) +
           2 * (s->win - s->stat) * sizeof(uint32_t) + s->stat * (sizeof(double) + sizeof(uint32_t)) +
           (s->hcdf ? (size_t)(s->win - s->stat + 1) * (s->stat + 1) * sizeof(double) : 0);
}

const tide_detector_vt tide_drift_kswin_vt = {
    .name = "kswin",
    .summary = "KSWIN (Raab et al. 2020): KS test of the newest values vs a random draw of older ones",
    .params = KSWIN_PARAMS,
    .n_params = sizeof KSWIN_PARAMS / sizeof KSWIN_PARAMS[0],
    .create = kswin_create,
    .destroy = kswin_destroy,
    .update = kswin_update,
    .reset = kswin_reset,
    .clone = kswin_clone,
    .save_state = kswin_save,
    .load_state = kswin_load,
    .memory = kswin_memory,
    .estimate = NULL,
};
