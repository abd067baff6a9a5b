/*
 * feat.c — feature hashing: rows of named values -> sparse vectors of
 * (bucket, value), with optional quadratic namespace interactions.
 *
 * Hashes are XXH3-64 (libxxhash): h(ns) = XXH3(ns), h(ns,name) =
 * XXH3_withSeed(name, h(ns)), h(ns,name,value) = XXH3_withSeed(value,
 * h(ns,name)). The bucket is the low `bits` bits. Crossing two features
 * (VW's -q, Weinberger et al. 2009 "Feature hashing for large scale multitask
 * learning") mixes their full 64-bit hashes: (ha * FNV64_PRIME) ^ hb.
 *
 * Quadratic pair "A:B": a feature belongs to group A when its namespace is A,
 * or, for sources without namespaces (CSV, JSON Lines: namespace ""), when
 * its name is A. So `--quadratic nswprice:vicprice` crosses two CSV columns.
 *
 * tide_featurize_next reads and featurizes in one call. For VW input without
 * quadratic pairs it takes the reader's fused path (tide_reader_next_hashed,
 * io/vw.c): each name is hashed where the parser finds it and {bucket,
 * value} goes straight into the vector, with no tide_field in between. Both
 * sides hash through feat/fhash.h, so the vectors are the same bit for bit
 * (tests/unit/test_feat.c compares them; why this split: docs/DESIGN.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "feat/fhash.h"   /* the hash, shared with io/vw.c's fused path */
#include "tide/feat.h"

#define FNV64_PRIME 0x100000001b3ULL
#define MAX_PAIRS 32   /* two group flags per pair in one uint64_t */

typedef struct col_cache {
    char *name;       /* owned copy, to validate the cache entry */
    size_t len;
    uint64_t h;       /* h("", name) */
} col_cache;

typedef struct qpair {
    char *a, *b;      /* owned group names */
    size_t alen, blen;
} qpair;

struct tide_featurizer {
    int bits;
    uint32_t mask;
    uint64_t h_empty_ns;     /* XXH3("") */
    qpair pairs[MAX_PAIRS];
    size_t n_pairs;
    col_cache *cols;         /* by CSV column index */
    size_t n_cols;
};

/* Per-call scratch for interactions: full hash and group flags (bit 2p: in
 * pair p's A group, bit 2p+1: in its B group) of each feature. On the stack
 * for ordinary rows, so tide_featurize keeps no state in the featurizer for
 * rows without CSV columns (see the thread-safety note in tide/feat.h). */
#define SCRATCH_STACK 256

void tide_fvec_init(tide_fvec *v) { memset(v, 0, sizeof *v); }

void tide_fvec_free(tide_fvec *v)
{
    free(v->f);
    memset(v, 0, sizeof *v);
}

static int fvec_grow(tide_fvec *v, size_t need)
{
    size_t cap = v->cap ? v->cap : 32;
    tide_feat *f;
    while (cap < need)
        cap *= 2;
    f = realloc(v->f, cap * sizeof *f);
    if (!f)
        return TIDE_ERR_NOMEM;
    v->f = f;
    v->cap = cap;
    return TIDE_OK;
}

int tide_fvec_reserve(tide_fvec *v, size_t n)
{
    return n > v->cap ? fvec_grow(v, n) : TIDE_OK;
}

int tide_fvec_push(tide_fvec *v, uint32_t idx, float val)
{
    if (v->n == v->cap && fvec_grow(v, v->n + 1))
        return TIDE_ERR_NOMEM;
    v->f[v->n].idx = idx;
    v->f[v->n].val = val;
    v->n++;
    return TIDE_OK;
}

int tide_fvec_copy(tide_fvec *dst, const tide_fvec *src)
{
    tide_fvec_init(dst);
    if (src->n && fvec_grow(dst, src->n))
        return TIDE_ERR_NOMEM;
    if (src->n)
        memcpy(dst->f, src->f, src->n * sizeof *src->f);
    dst->n = src->n;
    return TIDE_OK;
}

void tide_feat_opts_init(tide_feat_opts *o)
{
    memset(o, 0, sizeof *o);
    o->bits = TIDE_BITS_DEFAULT;
}

static int add_pair(tide_featurizer *fz, const char *spec, tide_err *err)
{
    const char *colon = strchr(spec, ':');
    qpair *p;
    if (!colon)
        return tide_err_set(err, TIDE_ERR_ARG,
                            "quadratic pair '%s' must be of the form A:B (namespace or column names)",
                            spec);
    if (fz->n_pairs == MAX_PAIRS)
        return tide_err_set(err, TIDE_ERR_LIMIT, "at most %d quadratic pairs", MAX_PAIRS);
    p = &fz->pairs[fz->n_pairs];
    p->alen = (size_t)(colon - spec);
    p->blen = strlen(colon + 1);
    p->a = strndup(spec, p->alen);
    p->b = strdup(colon + 1);
    if (!p->a || !p->b) {
        free(p->a);
        free(p->b);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    }
    fz->n_pairs++;
    return TIDE_OK;
}

int tide_featurizer_new(const tide_feat_opts *o, tide_featurizer **out, tide_err *err)
{
    tide_featurizer *fz;
    int rc;
    *out = NULL;
    if (o->bits < 1 || o->bits > TIDE_BITS_MAX)
        return tide_err_set(err, TIDE_ERR_ARG, "hash bits must be in 1..%d, got %d",
                            TIDE_BITS_MAX, o->bits);
    fz = calloc(1, sizeof *fz);
    if (!fz)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    fz->bits = o->bits;
    fz->mask = o->bits == 32 ? 0xffffffffu : ((1u << o->bits) - 1u);
    fz->h_empty_ns = tide_fhash_ns("", 0);
    for (size_t i = 0; i < o->n_quadratic; i++) {
        rc = add_pair(fz, o->quadratic[i], err);
        if (rc) {
            tide_featurizer_free(fz);
            return rc;
        }
    }
    *out = fz;
    return TIDE_OK;
}

void tide_featurizer_free(tide_featurizer *fz)
{
    if (!fz)
        return;
    for (size_t i = 0; i < fz->n_pairs; i++) {
        free(fz->pairs[i].a);
        free(fz->pairs[i].b);
    }
    for (size_t i = 0; i < fz->n_cols; i++)
        free(fz->cols[i].name);
    free(fz->cols);
    free(fz);
}

int tide_featurizer_bits(const tide_featurizer *fz) { return fz->bits; }

static inline uint64_t hash_ns(const tide_featurizer *fz, const char *ns, size_t len)
{
    return len ? tide_fhash_ns(ns, len) : fz->h_empty_ns;
}

uint32_t tide_feat_index(const tide_featurizer *fz, const char *ns, size_t ns_len,
                         const char *name, size_t name_len)
{
    return (uint32_t)tide_fhash_name(name, name_len, hash_ns(fz, ns, ns_len)) & fz->mask;
}

uint32_t tide_feat_index_cat(const tide_featurizer *fz, const char *ns, size_t ns_len,
                             const char *name, size_t name_len, const char *val, size_t val_len)
{
    uint64_t h = tide_fhash_name(name, name_len, hash_ns(fz, ns, ns_len));
    return (uint32_t)XXH3_64bits_withSeed(val, val_len, h) & fz->mask;
}

/* h(ns) of consecutive fields of one namespace (VW rows): computed once. */
typedef struct ns_cache {
    const char *ns;
    size_t len;
    uint64_t h;
} ns_cache;

/* h(ns, name) for a field, through the per-column cache when possible. */
static uint64_t name_hash(tide_featurizer *fz, const tide_field *f, ns_cache *nc)
{
    if (f->col >= 0 && f->ns_len == 0) {
        size_t c = (size_t)f->col;
        if (c < fz->n_cols && fz->cols[c].name && fz->cols[c].len == f->name_len &&
            !memcmp(fz->cols[c].name, f->name, f->name_len))
            return fz->cols[c].h;
        if (c < 100000) {
            uint64_t h = tide_fhash_name(f->name, f->name_len, fz->h_empty_ns);
            if (c >= fz->n_cols) {
                size_t n = c + 1 > fz->n_cols * 2 ? c + 1 : fz->n_cols * 2;
                col_cache *cc = realloc(fz->cols, n * sizeof *cc);
                if (!cc)
                    return h;
                memset(cc + fz->n_cols, 0, (n - fz->n_cols) * sizeof *cc);
                fz->cols = cc;
                fz->n_cols = n;
            }
            free(fz->cols[c].name);
            fz->cols[c].name = strndup(f->name, f->name_len);
            fz->cols[c].len = f->name_len;
            fz->cols[c].h = h;
            return h;
        }
    }
    if (f->ns != nc->ns || f->ns_len != nc->len) {
        nc->ns = f->ns;
        nc->len = f->ns_len;
        nc->h = hash_ns(fz, f->ns, f->ns_len);
    }
    return tide_fhash_name(f->name, f->name_len, nc->h);
}

static int in_group(const tide_field *f, const char *g, size_t glen)
{
    if (f->ns_len)
        return f->ns_len == glen && !memcmp(f->ns, g, glen);
    return f->name_len == glen && !memcmp(f->name, g, glen);
}

int tide_featurize(tide_featurizer *fz, const tide_row *row, tide_fvec *v, tide_err *err)
{
    size_t n = row->n_fields;
    ns_cache nc = {NULL, (size_t)-1, 0};
    uint64_t fh_local[SCRATCH_STACK], groups_local[SCRATCH_STACK];
    uint64_t *fh = fh_local, *groups = groups_local;
    int rc = TIDE_OK;
    v->n = 0;
    if (n > v->cap && fvec_grow(v, n))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    if (fz->n_pairs && n > SCRATCH_STACK) {
        fh = malloc(n * sizeof *fh);
        groups = malloc(n * sizeof *groups);
        if (!fh || !groups) {
            rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const tide_field *f = &row->fields[i];
        uint64_t h;
        float val;
        if (f->kind == TIDE_VAL_MISSING)
            continue;
        h = name_hash(fz, f, &nc);
        if (f->kind == TIDE_VAL_CAT) {
            h = XXH3_64bits_withSeed(f->str, f->str_len, h);
            val = 1.0f;
        } else {
            /* one test for NaN, infinities and doubles beyond a float */
            val = (float)f->num;
            if (!isfinite(val)) {
                /* FILE:LINE: for rows of a reader, "line N: " for other
                 * numbered rows, nothing for a request's instance */
                char at[320] = "";
                if (row->source)
                    snprintf(at, sizeof at, "%s:%llu: ", row->source,
                             (unsigned long long)row->line);
                else if (row->line)
                    snprintf(at, sizeof at, "line %llu: ", (unsigned long long)row->line);
                if (!isfinite(f->num))
                    rc = tide_err_set(err, TIDE_ERR_PARSE, "%sfeature '%.*s' is %s", at,
                                      (int)f->name_len, f->name, isnan(f->num) ? "NaN" : "infinite");
                else
                    rc = tide_err_set(err, TIDE_ERR_PARSE, "%sfeature '%.*s' = %g overflows a float",
                                      at, (int)f->name_len, f->name, f->num);
                goto done;
            }
        }
        if (fz->n_pairs) {
            uint64_t g = 0;
            for (size_t p = 0; p < fz->n_pairs; p++) {
                if (in_group(f, fz->pairs[p].a, fz->pairs[p].alen))
                    g |= 1ULL << (2 * p);
                if (in_group(f, fz->pairs[p].b, fz->pairs[p].blen))
                    g |= 1ULL << (2 * p + 1);
            }
            fh[v->n] = h;
            groups[v->n] = g;
        }
        v->f[v->n].idx = (uint32_t)h & fz->mask;
        v->f[v->n].val = val;
        v->n++;
    }
    if (fz->n_pairs) {
        size_t base_n = v->n;
        for (size_t p = 0; p < fz->n_pairs; p++) {
            int self = fz->pairs[p].alen == fz->pairs[p].blen &&
                       !memcmp(fz->pairs[p].a, fz->pairs[p].b, fz->pairs[p].alen);
            for (size_t i = 0; i < base_n; i++) {
                if (!(groups[i] >> (2 * p) & 1))
                    continue;
                for (size_t j = self ? i : 0; j < base_n; j++) {
                    if (!(groups[j] >> (2 * p + 1) & 1))
                        continue;
                    uint64_t h = (fh[i] * FNV64_PRIME) ^ fh[j];
                    if (v->n == v->cap && fvec_grow(v, v->n + 1)) {
                        rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
                        goto done;
                    }
                    v->f[v->n].idx = (uint32_t)h & fz->mask;
                    v->f[v->n].val = v->f[i].val * v->f[j].val;
                    v->n++;
                }
            }
        }
    }
    done:
    if (fh != fh_local)
        free(fh);
    if (groups != groups_local)
        free(groups);
    return rc;
}

int tide_featurizer_fused(const tide_featurizer *fz, const tide_reader *r)
{
    return fz->n_pairs == 0 && tide_reader_format(r) == TIDE_FMT_VW;
}

int tide_featurize_next(tide_featurizer *fz, tide_reader *r, tide_row *row, tide_fvec *v,
                        tide_err *err)
{
    int rc;
    /* the fused path: what it does not do (crossing) sends rows here */
    if (tide_featurizer_fused(fz, r))
        return tide_reader_next_hashed(r, row, fz->mask, v, err);
    rc = tide_reader_next(r, row, err);
    if (rc == TIDE_OK && row->has_target)
        rc = tide_featurize(fz, row, v, err);
    return rc;
}

void tide_featurizer_save(const tide_featurizer *fz, tide_wbuf *b)
{
    tide_wbuf_u32(b, (uint32_t)fz->bits);
    tide_wbuf_u32(b, (uint32_t)fz->n_pairs);
    for (size_t i = 0; i < fz->n_pairs; i++) {
        tide_wbuf_str(b, fz->pairs[i].a);
        tide_wbuf_str(b, fz->pairs[i].b);
    }
}

int tide_featurizer_load(tide_rbuf *r, tide_featurizer **out, tide_err *err)
{
    tide_feat_opts o;
    tide_featurizer *fz;
    uint32_t np;
    int rc;
    *out = NULL;
    tide_feat_opts_init(&o);
    o.bits = (int)tide_rbuf_u32(r);
    np = tide_rbuf_u32(r);
    if (r->bad || np > MAX_PAIRS)
        return tide_err_set(err, TIDE_ERR_FORMAT, "featurizer block is truncated or corrupt");
    rc = tide_featurizer_new(&o, &fz, err);
    if (rc)
        return rc == TIDE_ERR_ARG ? TIDE_ERR_FORMAT : rc;
    for (uint32_t i = 0; i < np; i++) {
        char *a = tide_rbuf_str(r, 4096), *b = a ? tide_rbuf_str(r, 4096) : NULL;
        if (!a || !b) {
            free(a);
            tide_featurizer_free(fz);
            return tide_err_set(err, TIDE_ERR_FORMAT, "featurizer block is truncated or corrupt");
        }
        fz->pairs[i].a = a;
        fz->pairs[i].alen = strlen(a);
        fz->pairs[i].b = b;
        fz->pairs[i].blen = strlen(b);
        fz->n_pairs++;
    }
    *out = fz;
    return TIDE_OK;
}
