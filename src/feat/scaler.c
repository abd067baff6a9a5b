/*
 * scaler.c — online standard scaling per hashed bucket (Welford's running
 * mean and variance, Welford 1962). Statistics live in an open-addressing
 * table keyed by bucket, so memory follows the features actually seen.
 *
 * As River's preprocessing.StandardScaler does in a pipeline: learning
 * updates the statistics with the row and then scales it; prediction scales
 * with the statistics learned so far. A bucket with zero variance scales
 * to 0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tide/feat.h"

typedef struct slot {
    uint32_t key;    /* bucket + 1; 0 = empty */
    float pad;
    double n, mean, m2;
} slot;

struct tide_scaler {
    int bits;
    slot *t;
    size_t cap;      /* power of two */
    size_t used;
};

static size_t probe(const tide_scaler *s, uint32_t key)
{
    size_t m = s->cap - 1, i = (key * 2654435761u) & m;
    while (s->t[i].key && s->t[i].key != key)
        i = (i + 1) & m;
    return i;
}

static int rehash(tide_scaler *s, size_t cap)
{
    slot *old = s->t;
    size_t oldcap = s->cap;
    slot *t = calloc(cap, sizeof *t);
    if (!t)
        return TIDE_ERR_NOMEM;
    s->t = t;
    s->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            s->t[probe(s, old[i].key)] = old[i];
    free(old);
    return TIDE_OK;
}

int tide_scaler_new(int bits, tide_scaler **out)
{
    tide_scaler *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return TIDE_ERR_NOMEM;
    s->bits = bits;
    if (rehash(s, 64)) {
        free(s);
        return TIDE_ERR_NOMEM;
    }
    *out = s;
    return TIDE_OK;
}

void tide_scaler_free(tide_scaler *s)
{
    if (!s)
        return;
    free(s->t);
    free(s);
}

static slot *get_slot(tide_scaler *s, uint32_t idx)
{
    uint32_t key = idx + 1;
    size_t i;
    if ((s->used + 1) * 4 > s->cap * 3 && rehash(s, s->cap * 2))
        return NULL;
    i = probe(s, key);
    if (!s->t[i].key) {
        s->t[i].key = key;
        s->used++;
    }
    return &s->t[i];
}

static float scale_one(const slot *e, float x)
{
    double var;
    if (!e || e->n < 1)
        return 0.0f;
    var = e->m2 / e->n;
    return var > 0 ? (float)((x - e->mean) / sqrt(var)) : 0.0f;
}

static int out_reserve(tide_fvec *out, size_t n)
{
    out->n = 0;
    if (n > out->cap) {
        tide_feat *f = realloc(out->f, n * sizeof *f);
        if (!f)
            return TIDE_ERR_NOMEM;
        out->f = f;
        out->cap = n;
    }
    return TIDE_OK;
}

int tide_scaler_learn(tide_scaler *s, const tide_fvec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        slot *e = get_slot(s, v->f[i].idx);
        double d;
        if (!e)
            return TIDE_ERR_NOMEM;
        e->n += 1;
        d = v->f[i].val - e->mean;
        e->mean += d / e->n;
        e->m2 += d * (v->f[i].val - e->mean);
    }
    return TIDE_OK;
}

float tide_scaler_scale(const tide_scaler *s, uint32_t idx, float val)
{
    const slot *e = &s->t[probe(s, idx + 1)];
    return scale_one(e->key ? e : NULL, val);
}

int tide_scaler_clone(const tide_scaler *s, tide_scaler **out)
{
    tide_scaler *c = malloc(sizeof *c);
    *out = NULL;
    if (!c)
        return TIDE_ERR_NOMEM;
    *c = *s;
    c->t = malloc(s->cap * sizeof *c->t);
    if (!c->t) {
        free(c);
        return TIDE_ERR_NOMEM;
    }
    memcpy(c->t, s->t, s->cap * sizeof *c->t);
    *out = c;
    return TIDE_OK;
}

int tide_scaler_learn_transform(tide_scaler *s, const tide_fvec *v, tide_fvec *out)
{
    if (out_reserve(out, v->n) || tide_scaler_learn(s, v))
        return TIDE_ERR_NOMEM;
    for (size_t i = 0; i < v->n; i++) {
        const slot *e = &s->t[probe(s, v->f[i].idx + 1)];
        out->f[i].idx = v->f[i].idx;
        out->f[i].val = scale_one(e, v->f[i].val);
    }
    out->n = v->n;
    return TIDE_OK;
}

int tide_scaler_transform(const tide_scaler *s, const tide_fvec *v, tide_fvec *out)
{
    if (out_reserve(out, v->n))
        return TIDE_ERR_NOMEM;
    for (size_t i = 0; i < v->n; i++) {
        const slot *e = &s->t[probe(s, v->f[i].idx + 1)];
        out->f[i].idx = v->f[i].idx;
        out->f[i].val = scale_one(e->key ? e : NULL, v->f[i].val);
    }
    out->n = v->n;
    return TIDE_OK;
}

void tide_scaler_save(const tide_scaler *s, tide_wbuf *b)
{
    tide_wbuf_u64(b, s->used);
    for (size_t i = 0; i < s->cap; i++)
        if (s->t[i].key) {
            tide_wbuf_u32(b, s->t[i].key - 1);
            tide_wbuf_f64(b, s->t[i].n);
            tide_wbuf_f64(b, s->t[i].mean);
            tide_wbuf_f64(b, s->t[i].m2);
        }
}

int tide_scaler_load(tide_scaler *s, tide_rbuf *r, tide_err *err)
{
    uint64_t n = tide_rbuf_u64(r);
    if (r->bad || !tide_rbuf_has(r, n * 28) || n > (1ULL << TIDE_BITS_MAX))
        return tide_err_set(err, TIDE_ERR_FORMAT, "scaler state is truncated or corrupt");
    for (uint64_t i = 0; i < n; i++) {
        uint32_t idx = tide_rbuf_u32(r);
        slot *e;
        if (s->bits < 32 && idx >> s->bits)
            return tide_err_set(err, TIDE_ERR_FORMAT, "scaler bucket %u out of range", idx);
        e = get_slot(s, idx);
        if (!e)
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        e->n = tide_rbuf_f64(r);
        e->mean = tide_rbuf_f64(r);
        e->m2 = tide_rbuf_f64(r);
    }
    return r->bad ? tide_err_set(err, TIDE_ERR_FORMAT, "scaler state is truncated") : TIDE_OK;
}

size_t tide_scaler_memory(const tide_scaler *s)
{
    return sizeof *s + s->cap * sizeof(slot);
}
