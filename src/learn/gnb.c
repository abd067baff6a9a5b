/*
 * gnb.c — naive Bayes for streams: Gaussian class-conditional densities for
 * numeric features and presence counts for indicator features.
 *
 * Per class c: weight W_c (prior W_c / sum W). Per hashed bucket i and class
 * c: weighted Welford statistics (n, mean, M2) of the values seen with c.
 * A bucket whose every observed value is exactly 1 is an indicator (a
 * one-hot categorical value or a VW name without a value); its likelihood is
 * the Laplace-smoothed presence rate P(i | c) = (n_ci + a) / (W_c + 2a).
 * Other buckets use N(x; mean_ci, var_ci) with the unbiased variance,
 * floored at var_smoothing * (largest variance seen) as scikit-learn does
 * (the floor in force when the bucket was last updated: the log-normaliser
 * and 1/(2 var) are cached then)
 * (GaussianNB's var_smoothing). A bucket not yet seen at least twice with
 * every class is skipped for all classes alike (its evidence is undefined).
 * Posteriors are exp-normalised log joint likelihoods (John & Langley 1995;
 * the streaming form follows River's naive_bayes.GaussianNB).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"

#define NS 5  /* doubles per (bucket, class) */

typedef struct entry {
    uint32_t key;      /* bucket + 1, 0 = empty */
    uint32_t pos;      /* index into the stats pool */
} entry;

typedef struct gnb {
    tide_learner base;
    double alpha, var_smoothing;
    int k_alloc;
    double *cw;        /* k_alloc class weights */
    entry *map;        /* open addressing */
    size_t map_cap, used;
    uint32_t *keys;    /* used entries: bucket per pool position */
    uint8_t *ind;      /* used entries: still an indicator (all values 1) */
    double *stats;     /* pool: used * k_alloc * NS (n, mean, m2, log-normaliser,
                          1/(2 var)); the last two are cached at learn time so a
                          prediction costs no log or division per feature */
    size_t pool_cap;
    double max_var;
} gnb;

static const tide_param_spec GNB_PARAMS[] = {
    {"alpha", TIDE_PARAM_DOUBLE, "1", "0..1e6", "Laplace smoothing of indicator-feature counts"},
    {"var_smoothing", TIDE_PARAM_DOUBLE, "1e-9", "0..1",
     "variance floor, as a fraction of the largest feature variance"},
};

static void gnb_destroy(tide_learner *l)
{
    gnb *m = (gnb *)l;
    if (!m)
        return;
    free(m->cw);
    free(m->map);
    free(m->keys);
    free(m->ind);
    free(m->stats);
    free(m);
}

static int gnb_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    gnb *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    m->alpha = tide_params_num(p, "alpha");
    m->var_smoothing = tide_params_num(p, "var_smoothing");
    m->k_alloc = 2;
    m->map_cap = 64;
    m->cw = calloc(2, sizeof *m->cw);
    m->map = calloc(m->map_cap, sizeof *m->map);
    if (!m->cw || !m->map) {
        gnb_destroy(&m->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    }
    *out = &m->base;
    return TIDE_OK;
}

static size_t map_probe(const entry *map, size_t cap, uint32_t key)
{
    size_t mask = cap - 1, i = (key * 2654435761u) & mask;
    while (map[i].key && map[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static int map_grow(gnb *m)
{
    size_t cap = m->map_cap * 2;
    entry *n = calloc(cap, sizeof *n);
    if (!n)
        return TIDE_ERR_NOMEM;
    for (size_t i = 0; i < m->map_cap; i++)
        if (m->map[i].key)
            n[map_probe(n, cap, m->map[i].key)] = m->map[i];
    free(m->map);
    m->map = n;
    m->map_cap = cap;
    return TIDE_OK;
}

/* Re-lays the pool for k classes per entry. */
static int grow_classes(gnb *m, int k)
{
    double *cw, *st;
    if (k <= m->k_alloc)
        return TIDE_OK;
    cw = realloc(m->cw, (size_t)k * sizeof *cw);
    if (!cw)
        return TIDE_ERR_NOMEM;
    memset(cw + m->k_alloc, 0, (size_t)(k - m->k_alloc) * sizeof *cw);
    m->cw = cw;
    st = calloc(m->pool_cap ? m->pool_cap : 1, (size_t)k * NS * sizeof *st);
    if (!st)
        return TIDE_ERR_NOMEM;
    for (size_t e = 0; e < m->used; e++)
        memcpy(st + e * (size_t)k * NS, m->stats + e * (size_t)m->k_alloc * NS,
               (size_t)m->k_alloc * NS * sizeof *st);
    free(m->stats);
    m->stats = st;
    m->k_alloc = k;
    return TIDE_OK;
}

/* Pool position of bucket idx, creating it when create != 0; -1 if absent. */
static long find_entry(gnb *m, uint32_t idx, int create)
{
    uint32_t key = idx + 1;
    size_t i;
    if (create && (m->used + 1) * 4 > m->map_cap * 3 && map_grow(m))
        return -2;
    i = map_probe(m->map, m->map_cap, key);
    if (m->map[i].key)
        return (long)m->map[i].pos;
    if (!create)
        return -1;
    if (m->used == m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 16;
        double *st = realloc(m->stats, cap * (size_t)m->k_alloc * NS * sizeof *st);
        uint32_t *keys;
        uint8_t *ind;
        if (!st)
            return -2;
        m->stats = st;
        keys = realloc(m->keys, cap * sizeof *keys);
        if (!keys)
            return -2;
        m->keys = keys;
        ind = realloc(m->ind, cap);
        if (!ind)
            return -2;
        m->ind = ind;
        m->pool_cap = cap;
    }
    memset(m->stats + m->used * (size_t)m->k_alloc * NS, 0, (size_t)m->k_alloc * NS * sizeof(double));
    m->keys[m->used] = idx;
    m->ind[m->used] = 1;
    m->map[i].key = key;
    m->map[i].pos = (uint32_t)m->used;
    return (long)m->used++;
}

static int gnb_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    gnb *m = (gnb *)l;
    int c = (int)y;
    if (!(w > 0) || !isfinite(w))
        return TIDE_ERR_ARG;
    if (m->base.n_classes > m->k_alloc && grow_classes(m, m->base.n_classes))
        return TIDE_ERR_NOMEM;
    m->cw[c] += w;
    for (size_t i = 0; i < x->n; i++) {
        long e = find_entry(m, x->f[i].idx, 1);
        double *s, v = x->f[i].val, d;
        if (e < 0)
            return TIDE_ERR_NOMEM;
        s = m->stats + ((size_t)e * (size_t)m->k_alloc + (size_t)c) * NS;
        if (v != 1.0)
            m->ind[e] = 0;
        /* weighted Welford (West 1979) */
        s[0] += w;
        d = v - s[1];
        s[1] += d * w / s[0];
        s[2] += w * d * (v - s[1]);
        if (s[0] > 1) {
            double var = s[2] / (s[0] - 1), fl = m->var_smoothing * m->max_var;
            if (var > m->max_var)
                m->max_var = var;
            if (var < fl)
                var = fl;
            if (var < 1e-12)
                var = 1e-12;
            s[3] = 2 * M_PI * var; /* its log is taken once per class at prediction */
            s[4] = 0.5 / var;
        }
    }
    return TIDE_OK;
}

static void gnb_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const gnb *m = (const gnb *)l;
    int K = m->base.n_classes, kk = K < m->k_alloc ? K : m->k_alloc;
    double total = 0, mx = -INFINITY, sum = 0;
    /* sum of -1/2 log(2 pi var) over the features = -1/2 log of their
     * product: one log per class, the product folded into prod_log before
     * it can leave double range */
    double prod[TIDE_MAX_CLASSES], prod_log[TIDE_MAX_CLASSES];
    for (int c = 0; c < kk; c++) {
        prod[c] = 1.0;
        prod_log[c] = 0.0;
    }
    for (int c = 0; c < kk; c++)
        total += m->cw[c];
    for (int c = 0; c < K; c++)
        out[c] = (c < kk && m->cw[c] > 0) ? log(m->cw[c] / total) : -INFINITY;
    if (total <= 0) {
        for (int c = 0; c < K; c++)
            out[c] = 1.0 / K;
        return;
    }
    for (size_t i = 0; i < x->n; i++) {
        long e = find_entry((gnb *)m, x->f[i].idx, 0);
        const double *s;
        double v = x->f[i].val;
        int ok = 1;
        if (e < 0)
            continue;
        s = m->stats + (size_t)e * (size_t)m->k_alloc * NS;
        if (m->ind[e]) {
            for (int c = 0; c < kk; c++)
                if (m->cw[c] > 0)
                    out[c] += log((s[c * NS] + m->alpha) / (m->cw[c] + 2 * m->alpha));
            continue;
        }
        for (int c = 0; c < kk; c++)
            if (m->cw[c] > 0 && s[c * NS] < 2)
                ok = 0;
        if (!ok)
            continue;
        for (int c = 0; c < kk; c++) {
            double d;
            if (!(m->cw[c] > 0))
                continue;
            d = v - s[c * NS + 1];
            out[c] -= d * d * s[c * NS + 4];
            prod[c] *= s[c * NS + 3];
            if (prod[c] > 1e150 || prod[c] < 1e-150) {
                prod_log[c] += log(prod[c]);
                prod[c] = 1.0;
            }
        }
    }
    for (int c = 0; c < kk; c++)
        out[c] -= 0.5 * (prod_log[c] + log(prod[c]));
    for (int c = 0; c < K; c++)
        if (out[c] > mx)
            mx = out[c];
    for (int c = 0; c < K; c++) {
        out[c] = isfinite(mx) && out[c] > -INFINITY ? exp(out[c] - mx) : 0.0;
        sum += out[c];
    }
    for (int c = 0; c < K; c++)
        out[c] = sum > 0 ? out[c] / sum : 1.0 / K;
}

static int gnb_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const gnb *m = (const gnb *)l;
    gnb *c = malloc(sizeof *c);
    size_t pool = m->pool_cap * (size_t)m->k_alloc * NS;
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    *c = *m;
    c->cw = malloc((size_t)m->k_alloc * sizeof *c->cw);
    c->map = malloc(m->map_cap * sizeof *c->map);
    c->keys = malloc((m->pool_cap ? m->pool_cap : 1) * sizeof *c->keys);
    c->ind = malloc(m->pool_cap ? m->pool_cap : 1);
    c->stats = malloc((pool ? pool : 1) * sizeof *c->stats);
    if (!c->cw || !c->map || !c->keys || !c->ind || !c->stats) {
        gnb_destroy(&c->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    }
    memcpy(c->cw, m->cw, (size_t)m->k_alloc * sizeof *c->cw);
    memcpy(c->map, m->map, m->map_cap * sizeof *c->map);
    if (m->used) {
        memcpy(c->keys, m->keys, m->used * sizeof *c->keys);
        memcpy(c->ind, m->ind, m->used);
        memcpy(c->stats, m->stats, m->used * (size_t)m->k_alloc * NS * sizeof *c->stats);
    }
    *out = &c->base;
    return TIDE_OK;
}

/* State: k_alloc, max_var, class weights, used, then per entry in pool
 * order: bucket, indicator flag, k_alloc * (n, mean, m2). */
static int gnb_save(const tide_learner *l, tide_wbuf *b)
{
    const gnb *m = (const gnb *)l;
    tide_wbuf_u32(b, (uint32_t)m->k_alloc);
    tide_wbuf_f64(b, m->max_var);
    tide_wbuf_f64s(b, m->cw, (size_t)m->k_alloc);
    tide_wbuf_u64(b, m->used);
    for (size_t e = 0; e < m->used; e++) {
        tide_wbuf_u32(b, m->keys[e]);
        tide_wbuf_u8(b, m->ind[e]);
        tide_wbuf_f64s(b, m->stats + e * (size_t)m->k_alloc * NS, (size_t)m->k_alloc * NS);
    }
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int gnb_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    gnb *m = (gnb *)l;
    uint32_t k = tide_rbuf_u32(r);
    uint64_t used;
    m->max_var = tide_rbuf_f64(r);
    if (r->bad || k < 2 || k > TIDE_MAX_CLASSES || !tide_rbuf_has(r, (size_t)k * 8))
        return tide_err_set(err, TIDE_ERR_FORMAT, "naive Bayes state header is corrupt");
    if (grow_classes(m, (int)k))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    tide_rbuf_f64s(r, m->cw, k);
    used = tide_rbuf_u64(r);
    if (r->bad || used > ((uint64_t)1 << m->base.bits) ||
        !tide_rbuf_has(r, used * (5 + (uint64_t)k * 8 * NS)))
        return tide_err_set(err, TIDE_ERR_FORMAT, "naive Bayes state is truncated or corrupt");
    for (uint64_t j = 0; j < used; j++) {
        uint32_t idx = tide_rbuf_u32(r);
        uint8_t ind = tide_rbuf_u8(r);
        long e;
        if (idx >> m->base.bits || find_entry(m, idx, 0) >= 0)
            return tide_err_set(err, TIDE_ERR_FORMAT, "naive Bayes state: bad bucket %u", idx);
        e = find_entry(m, idx, 1);
        if (e < 0)
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        m->ind[e] = ind ? 1 : 0;
        tide_rbuf_f64s(r, m->stats + (size_t)e * k * NS, (size_t)k * NS);
    }
    return r->bad ? tide_err_set(err, TIDE_ERR_FORMAT, "naive Bayes state is truncated") : TIDE_OK;
}

static size_t gnb_memory(const tide_learner *l)
{
    const gnb *m = (const gnb *)l;
    return sizeof *m + (size_t)m->k_alloc * sizeof(double) + m->map_cap * sizeof(entry) +
           m->pool_cap * (sizeof(uint32_t) + 1 + (size_t)m->k_alloc * NS * sizeof(double));
}

const tide_learner_vt tide_gnb_vt = {
    "gnb", TIDE_TASK_CLASSIFY,
    "naive Bayes: Gaussian for numeric features, smoothed counts for indicator features",
    GNB_PARAMS, sizeof GNB_PARAMS / sizeof GNB_PARAMS[0], gnb_create, gnb_destroy, gnb_learn,
    gnb_predict, gnb_clone, gnb_save, gnb_load, gnb_memory, NULL, 3, NULL, 0, NULL,
};
