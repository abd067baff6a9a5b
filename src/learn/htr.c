/*
 * htr.c — Hoeffding tree regressor (`htr`).
 *
 * E. Ikonomovska, J. Gama, S. Dzeroski, "Learning model trees from evolving
 * data streams", DMKD 2011 (FIMT-DD), as adopted by River's
 * HoeffdingTreeRegressor: a leaf splits on `x <= t` when the variance
 * reduction VR = var(y) - (nl/n) var(y_l) - (nr/n) var(y_r) of the best
 * candidate beats the second best (another feature, or "no split" at 0) by
 * the ratio test  second / best < 1 - eps,  eps the Hoeffding bound with
 * range 1 and n the leaf's weight, or when eps < tau.
 *
 * Numeric observers: per feature and leaf, a bounded histogram of (x, count,
 * mean of y, M2 of y) bins kept sorted by x; when it exceeds max_bins the
 * two closest bins are merged (the streaming histogram of Ben-Haim &
 * Tom-Tov, JMLR 2010), so memory per observer is fixed. Candidate
 * thresholds are the midpoints between consecutive bins. A feature absent
 * from a row is an exact 0: those rows' y statistics are the leaf's minus
 * the observer's (Welford subtraction), added as one bin at x = 0.
 *
 * Leaf models (leaf_model=):
 *   mean     — mean of y at the leaf (inheriting the split estimate);
 *   linear   — (default) a linear model trained by SGD (learning rate lr)
 *              on standardised features and a standardised target, both
 *              with tree-wide running mean/sd (Welford, statistics before
 *              the row's own update are used, so no peeking); features
 *              absent from a row contribute 0. New leaves copy the parent's
 *              model, as River does;
 *   adaptive — per leaf, whichever of mean/linear has the lower faded
 *              absolute error (fading factor 0.95).
 * Memory limit (max_size MiB) deactivates leaves with the lowest sum of
 * squared deviations, as ht does with its promise measure.
 *
 * Random subspaces (max_features=sqrt|log2, for arfr's trees): each split
 * attempt evaluates a fresh random subset of the leaf's observed features
 * (sqrt(m) or log2(m)+1 of m), drawn from a splitmix64 generator seeded by
 * `seed`; the default `all` evaluates every feature and draws nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"
#include "learn/tree.h"

#define MEM_PERIOD 1000
#define FADE 0.95
#define MAX_BINS_CAP 4096

enum { LM_MEAN = 0, LM_LINEAR = 1, LM_ADAPTIVE = 2 };

typedef struct wstat {   /* weighted Welford */
    double n, mean, m2;
} wstat;

static void ws_add(wstat *s, double v, double w)
{
    double d = v - s->mean;
    s->n += w;
    s->mean += w * d / s->n;
    s->m2 += w * d * (v - s->mean);
}

static void ws_merge(wstat *a, const wstat *b)
{
    double n = a->n + b->n, d = b->mean - a->mean;
    if (b->n <= 0)
        return;
    if (a->n <= 0) {
        *a = *b;
        return;
    }
    a->mean += d * b->n / n;
    a->m2 += b->m2 + d * d * a->n * b->n / n;
    a->n = n;
}

/* a - b: statistics of the rows in a but not in b. */
static wstat ws_sub(const wstat *a, const wstat *b)
{
    wstat r = {0, 0, 0};
    r.n = a->n - b->n;
    if (r.n <= 1e-9)
        return (wstat){0, 0, 0};
    r.mean = (a->n * a->mean - b->n * b->mean) / r.n;
    double d = b->mean - r.mean;
    r.m2 = a->m2 - b->m2 - d * d * r.n * b->n / a->n;
    if (r.m2 < 0)
        r.m2 = 0;
    return r;
}

static double ws_var(const wstat *s)
{
    return s->n > 1 ? s->m2 / (s->n - 1) : 0;
}

typedef struct rbin {
    double x;
    wstat y;
} rbin;

typedef struct robs {
    uint32_t feat;
    uint32_t nb;   /* bins used (<= max_bins + 1) */
    rbin *b;       /* max_bins + 1 entries */
    wstat tot;     /* sum of the bins */
} robs;

typedef struct rnode rnode;
struct rnode {
    uint32_t feat;       /* TT_LEAF for leaves */
    int depth;
    double thr;
    rnode *kid[2];
    /* leaf */
    int active;
    wstat seen;          /* y at this leaf since creation */
    double init_n, init_mean;  /* estimate inherited from the split */
    double last_try;
    robs *ob;
    uint32_t nob, cob;
    uint32_t nw;         /* linear model: sparse weights sorted by feature */
    uint32_t *wf;
    double *w;
    double bias;
    double e_mean, e_lin;   /* faded absolute errors (adaptive) */
};

typedef struct fstat {
    uint32_t feat;
    wstat s;
} fstat;

typedef struct htr_learner {
    tide_learner base;
    int grace, max_depth, leaf_model, max_bins, min_samples;
    double delta, tau, lr, max_bytes;
    rnode *root;
    fstat *fs;        /* tree-wide feature statistics, sorted */
    uint32_t nfs, cfs;
    wstat ys;         /* tree-wide target statistics */
    uint64_t n_learn;
    uint32_t n_leaves;
    int subspace;     /* 0 all features, 1 sqrt(m), 2 log2(m)+1 per attempt */
    uint64_t rng;     /* subspace draws */
} htr_learner;

/* ---- nodes -------------------------------------------------------------- */

static void rnode_free(rnode *n)
{
    if (!n)
        return;
    rnode_free(n->kid[0]);
    rnode_free(n->kid[1]);
    for (uint32_t i = 0; i < n->nob; i++)
        free(n->ob[i].b);
    free(n->ob);
    free(n->wf);
    free(n->w);
    free(n);
}

static void drop_observers(rnode *n)
{
    for (uint32_t i = 0; i < n->nob; i++)
        free(n->ob[i].b);
    free(n->ob);
    n->ob = NULL;
    n->nob = n->cob = 0;
}

static rnode *rleaf_new(int depth, double init_n, double init_mean, const rnode *parent)
{
    rnode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->feat = TT_LEAF;
    n->depth = depth;
    n->active = 1;
    n->init_n = init_n;
    n->init_mean = init_mean;
    if (parent && parent->nw) {
        n->wf = malloc(parent->nw * sizeof *n->wf);
        n->w = malloc(parent->nw * sizeof *n->w);
        if (!n->wf || !n->w) {
            rnode_free(n);
            return NULL;
        }
        memcpy(n->wf, parent->wf, parent->nw * sizeof *n->wf);
        memcpy(n->w, parent->w, parent->nw * sizeof *n->w);
        n->nw = parent->nw;
    }
    if (parent) {
        n->bias = parent->bias;
        n->e_mean = parent->e_mean;
        n->e_lin = parent->e_lin;
    }
    return n;
}

static int rnode_clone(const rnode *n, int max_bins, rnode **out)
{
    rnode *c;
    *out = NULL;
    if (!n)
        return TIDE_OK;
    c = malloc(sizeof *c);
    if (!c)
        return TIDE_ERR_NOMEM;
    *c = *n;
    c->kid[0] = c->kid[1] = NULL;
    c->ob = NULL;
    c->nob = c->cob = 0;
    c->wf = NULL;
    c->w = NULL;
    c->nw = 0;
    if (n->nw) {
        c->wf = malloc(n->nw * sizeof *c->wf);
        c->w = malloc(n->nw * sizeof *c->w);
        if (!c->wf || !c->w)
            goto fail;
        memcpy(c->wf, n->wf, n->nw * sizeof *c->wf);
        memcpy(c->w, n->w, n->nw * sizeof *c->w);
        c->nw = n->nw;
    }
    if (n->nob) {
        c->ob = calloc(n->nob, sizeof *c->ob);
        if (!c->ob)
            goto fail;
        c->cob = n->nob;
        for (uint32_t i = 0; i < n->nob; i++) {
            c->ob[i] = n->ob[i];
            c->ob[i].b = malloc(((size_t)max_bins + 1) * sizeof(rbin));
            if (!c->ob[i].b)
                goto fail;
            c->nob = i + 1;
            memcpy(c->ob[i].b, n->ob[i].b, n->ob[i].nb * sizeof(rbin));
        }
    }
    if (rnode_clone(n->kid[0], max_bins, &c->kid[0]) ||
        rnode_clone(n->kid[1], max_bins, &c->kid[1]))
        goto fail;
    *out = c;
    return TIDE_OK;
fail:
    rnode_free(c);
    return TIDE_ERR_NOMEM;
}

static size_t rnode_memory(const rnode *n, int max_bins)
{
    if (!n)
        return 0;
    return sizeof *n + rnode_memory(n->kid[0], max_bins) + rnode_memory(n->kid[1], max_bins) +
           n->cob * sizeof(robs) + n->nob * ((size_t)max_bins + 1) * sizeof(rbin) +
           n->nw * (sizeof(uint32_t) + sizeof(double));
}

static rnode *rsort(rnode *n, const tt_x *x)
{
    while (n->feat != TT_LEAF)
        n = n->kid[tt_x_get(x, n->feat) <= n->thr ? 0 : 1];
    return n;
}

/* ---- standardisation and the linear leaf model -------------------------- */

static const fstat *fs_find(const htr_learner *h, uint32_t f)
{
    uint32_t lo = 0, hi = h->nfs;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (h->fs[mid].feat < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < h->nfs && h->fs[lo].feat == f ? &h->fs[lo] : NULL;
}

static double zscore(const htr_learner *h, uint32_t f, double v)
{
    const fstat *s = fs_find(h, f);
    double var;
    if (!s || (var = ws_var(&s->s)) <= 0)
        return 0;
    return (v - s->s.mean) / sqrt(var);
}

static int fs_update(htr_learner *h, const tt_x *x)
{
    for (uint32_t i = 0; i < x->n; i++) {
        uint32_t f = x->idx[i], lo = 0, hi = h->nfs;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (h->fs[mid].feat < f)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == h->nfs || h->fs[lo].feat != f) {
            fstat *a = tt_arr_insert(h->fs, &h->nfs, &h->cfs, lo, sizeof *a, 16);
            if (!a)
                return TIDE_ERR_NOMEM;
            h->fs = a;
            a[lo].feat = f;
            a[lo].s = (wstat){0, 0, 0};
        }
        ws_add(&h->fs[lo].s, x->v[i], 1.0);
    }
    return TIDE_OK;
}

static double lin_z(const htr_learner *h, const rnode *leaf, const tt_x *x)
{
    double s = leaf->bias;
    uint32_t j = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        while (j < leaf->nw && leaf->wf[j] < x->idx[i])
            j++;
        if (j < leaf->nw && leaf->wf[j] == x->idx[i])
            s += leaf->w[j] * zscore(h, x->idx[i], x->v[i]);
    }
    return s;
}

static double y_sd(const htr_learner *h)
{
    double v = ws_var(&h->ys);
    return v > 0 ? sqrt(v) : 1.0;
}

static double leaf_mean(const rnode *leaf)
{
    double n = leaf->init_n + leaf->seen.n;
    return n > 0 ? (leaf->init_n * leaf->init_mean + leaf->seen.n * leaf->seen.mean) / n : 0;
}

static double leaf_value(const htr_learner *h, const rnode *leaf, const tt_x *x)
{
    int lin = h->leaf_model == LM_LINEAR ||
              (h->leaf_model == LM_ADAPTIVE && leaf->e_lin < leaf->e_mean);
    if (!lin)
        return leaf_mean(leaf);
    return h->ys.mean + y_sd(h) * lin_z(h, leaf, x);
}

static int lin_learn(const htr_learner *h, rnode *leaf, const tt_x *x, double y, double w)
{
    double err = (y - h->ys.mean) / y_sd(h) - lin_z(h, leaf, x);
    double g = h->lr * err * w;
    uint32_t j = 0;
    if (!isfinite(g))
        return TIDE_OK;
    for (uint32_t i = 0; i < x->n; i++) {
        double z = zscore(h, x->idx[i], x->v[i]);
        while (j < leaf->nw && leaf->wf[j] < x->idx[i])
            j++;
        if (j == leaf->nw || leaf->wf[j] != x->idx[i]) {
            if (z == 0)
                continue;
            uint32_t *wf = realloc(leaf->wf, (leaf->nw + 1) * sizeof *wf);
            if (!wf)
                return TIDE_ERR_NOMEM;
            leaf->wf = wf;
            double *ww = realloc(leaf->w, (leaf->nw + 1) * sizeof *ww);
            if (!ww)
                return TIDE_ERR_NOMEM;
            leaf->w = ww;
            memmove(wf + j + 1, wf + j, (leaf->nw - j) * sizeof *wf);
            memmove(ww + j + 1, ww + j, (leaf->nw - j) * sizeof *ww);
            wf[j] = x->idx[i];
            ww[j] = 0;
            leaf->nw++;
        }
        leaf->w[j] += g * z;
    }
    leaf->bias += g;
    return TIDE_OK;
}

/* ---- observers ---------------------------------------------------------- */

static int obs_add(robs *o, int max_bins, double x, double y, double w)
{
    uint32_t lo = 0, hi = o->nb;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (o->b[mid].x < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    ws_add(&o->tot, y, w);
    if (lo < o->nb && o->b[lo].x == x) {
        ws_add(&o->b[lo].y, y, w);
        return TIDE_OK;
    }
    memmove(o->b + lo + 1, o->b + lo, (o->nb - lo) * sizeof *o->b);
    o->b[lo].x = x;
    o->b[lo].y = (wstat){0, 0, 0};
    ws_add(&o->b[lo].y, y, w);
    o->nb++;
    if (o->nb > (uint32_t)max_bins) {   /* merge the closest pair */
        uint32_t k = 0;
        double best = INFINITY;
        for (uint32_t i = 0; i + 1 < o->nb; i++)
            if (o->b[i + 1].x - o->b[i].x < best) {
                best = o->b[i + 1].x - o->b[i].x;
                k = i;
            }
        rbin *a = &o->b[k], *b = &o->b[k + 1];
        double n = a->y.n + b->y.n;
        a->x = n > 0 ? (a->x * a->y.n + b->x * b->y.n) / n : a->x;
        ws_merge(&a->y, &b->y);
        memmove(o->b + k + 1, o->b + k + 2, (o->nb - k - 2) * sizeof *o->b);
        o->nb--;
    }
    return TIDE_OK;
}

static double vr(const wstat *tot, const wstat *l, const wstat *r, double min_samples)
{
    if (l->n < min_samples || r->n < min_samples || tot->n <= 0)
        return -INFINITY;
    return ws_var(tot) - (l->n / tot->n) * ws_var(l) - (r->n / tot->n) * ws_var(r);
}

/* Best threshold of one observer, the leaf's implicit zeros included as a
 * bin at x = 0; -INFINITY when no candidate qualifies (or out of memory). */
static double obs_best(const htr_learner *h, const rnode *leaf, const robs *o, double *thr,
                       wstat *bl, wstat *br)
{
    wstat zero = ws_sub(&leaf->seen, &o->tot), left = {0, 0, 0};
    double best = -INFINITY;
    uint32_t m = 0, k = 0;
    rbin *v = malloc(((size_t)o->nb + 1) * sizeof *v);
    if (!v)
        return -INFINITY;
    for (uint32_t i = 0; i < o->nb; i++) {
        if (k == 0 && zero.n > 0 && o->b[i].x >= 0) {
            v[m].x = 0;
            v[m++].y = zero;
            k = 1;
        }
        v[m++] = o->b[i];
    }
    if (k == 0 && zero.n > 0) {
        v[m].x = 0;
        v[m++].y = zero;
    }
    for (uint32_t i = 0; i + 1 < m; i++) {
        ws_merge(&left, &v[i].y);
        if (!(v[i + 1].x > v[i].x))
            continue;
        wstat right = ws_sub(&leaf->seen, &left);
        double mr = vr(&leaf->seen, &left, &right, h->min_samples);
        if (mr > best) {
            best = mr;
            *thr = 0.5 * (v[i].x + v[i + 1].x);
            *bl = left;
            *br = right;
        }
    }
    free(v);
    return best;
}

/* Random subset of k of the n observers (partial Fisher-Yates) into pick;
 * returns k (n when subspaces are off). */
static uint32_t pick_features(htr_learner *h, uint32_t n, uint32_t *pick)
{
    uint32_t k = n;
    for (uint32_t i = 0; i < n; i++)
        pick[i] = i;
    if (h->subspace && n > 1) {
        k = h->subspace == 1 ? (uint32_t)llround(sqrt((double)n))
                             : (uint32_t)(floor(log2((double)n)) + 1);
        if (k < 1)
            k = 1;
        if (k > n)
            k = n;
        for (uint32_t i = 0; i < k && k < n; i++) {
            uint32_t j = i + (uint32_t)(tt_rand(&h->rng) % (n - i));
            uint32_t s = pick[i];
            pick[i] = pick[j];
            pick[j] = s;
        }
    }
    return k;
}

static int attempt_split(htr_learner *h, rnode *leaf)
{
    double b1 = 0, b2 = 0, thr = 0, th = 0;
    uint32_t bf = TT_LEAF, *pick, npick;
    wstat bl = {0, 0, 0}, br = {0, 0, 0}, l = {0, 0, 0}, r = {0, 0, 0};
    if (ws_var(&leaf->seen) <= 0 || leaf->nob == 0)
        return TIDE_OK;
    pick = malloc(leaf->nob * sizeof *pick);
    if (!pick)
        return TIDE_ERR_NOMEM;
    npick = pick_features(h, leaf->nob, pick);
    for (uint32_t i = 0; i < npick; i++) {
        const robs *o = &leaf->ob[pick[i]];
        double m = obs_best(h, leaf, o, &th, &l, &r);
        if (m > b1) {
            b2 = b1;
            b1 = m;
            bf = o->feat;
            thr = th;
            bl = l;
            br = r;
        } else if (m > b2) {
            b2 = m;
        }
    }
    free(pick);
    if (bf == TT_LEAF)
        return TIDE_OK;
    double eps = tt_hoeffding_bound(1.0, h->delta, leaf->seen.n + leaf->init_n);
    if (!(b2 / b1 < 1 - eps || eps < h->tau))
        return TIDE_OK;
    rnode *a = rleaf_new(leaf->depth + 1, bl.n, bl.mean, leaf);
    rnode *b = rleaf_new(leaf->depth + 1, br.n, br.mean, leaf);
    if (!a || !b) {
        rnode_free(a);
        rnode_free(b);
        return TIDE_ERR_NOMEM;
    }
    drop_observers(leaf);
    free(leaf->wf);
    free(leaf->w);
    leaf->wf = NULL;
    leaf->w = NULL;
    leaf->nw = 0;
    leaf->feat = bf;
    leaf->thr = thr;
    leaf->kid[0] = a;
    leaf->kid[1] = b;
    h->n_leaves++;
    return TIDE_OK;
}

static int leaf_learn(htr_learner *h, rnode *leaf, const tt_x *x, double y, double w)
{
    int rc;
    if (h->leaf_model != LM_MEAN) {
        double pm = leaf_mean(leaf), pl = h->ys.mean + y_sd(h) * lin_z(h, leaf, x);
        leaf->e_mean = FADE * leaf->e_mean + fabs(y - pm);
        leaf->e_lin = FADE * leaf->e_lin + fabs(y - pl);
        if ((rc = lin_learn(h, leaf, x, y, w)))
            return rc;
    }
    if (leaf->active) {
        uint32_t j = 0;
        for (uint32_t i = 0; i < x->n; i++) {
            uint32_t f = x->idx[i];
            while (j < leaf->nob && leaf->ob[j].feat < f)
                j++;
            if (j == leaf->nob || leaf->ob[j].feat != f) {
                rbin *b = malloc(((size_t)h->max_bins + 1) * sizeof *b);
                robs *o = b ? tt_arr_insert(leaf->ob, &leaf->nob, &leaf->cob, j, sizeof *o, 8)
                            : NULL;
                if (!o) {
                    free(b);
                    return TIDE_ERR_NOMEM;
                }
                leaf->ob = o;
                memset(&o[j], 0, sizeof o[j]);
                o[j].feat = f;
                o[j].b = b;
            }
            obs_add(&leaf->ob[j], h->max_bins, x->v[i], y, w);
        }
    }
    ws_add(&leaf->seen, y, w);
    if (!leaf->active)
        return TIDE_OK;
    if (leaf->depth >= h->max_depth) {
        drop_observers(leaf);
        leaf->active = 0;
        return TIDE_OK;
    }
    if (leaf->seen.n - leaf->last_try >= h->grace) {
        leaf->last_try = leaf->seen.n;
        return attempt_split(h, leaf);
    }
    return TIDE_OK;
}

typedef struct rref {
    rnode *n;
    double sse;
} rref;

static void collect(rnode *n, rref *a, size_t *k)
{
    if (n->feat != TT_LEAF) {
        collect(n->kid[0], a, k);
        collect(n->kid[1], a, k);
    } else if (n->active && n->nob) {
        a[*k].n = n;
        a[*k].sse = n->seen.m2;
        (*k)++;
    }
}

static int cmp_sse(const void *a, const void *b)
{
    double x = ((const rref *)a)->sse, y = ((const rref *)b)->sse;
    return x < y ? -1 : x > y;
}

static size_t htr_memory(const tide_learner *l);

static void enforce_memory(htr_learner *h)
{
    size_t mem = htr_memory(&h->base), k = 0;
    if (h->max_bytes <= 0 || (double)mem <= h->max_bytes)
        return;
    rref *a = malloc(((size_t)h->n_leaves + 1) * sizeof *a);
    if (!a)
        return;
    collect(h->root, a, &k);
    qsort(a, k, sizeof *a, cmp_sse);
    for (size_t i = 0; i < k && (double)mem > h->max_bytes; i++) {
        size_t before = rnode_memory(a[i].n, h->max_bins);
        drop_observers(a[i].n);
        a[i].n->active = 0;
        mem -= before - rnode_memory(a[i].n, h->max_bins);
    }
    free(a);
}

/* ---- vtable ------------------------------------------------------------- */

static const tide_param_spec HTR_PARAMS[] = {
    {"grace_period", TIDE_PARAM_INT, "200", "1..1000000",
     "weight a leaf learns between split attempts"},
    {"delta", TIDE_PARAM_DOUBLE, "1e-7", "1e-300..1", "split confidence of the Hoeffding bound"},
    {"tau", TIDE_PARAM_DOUBLE, "0.05", "0..1", "tie threshold: split when the bound is below it"},
    {"leaf_model", TIDE_PARAM_ENUM, "linear", "mean|linear|adaptive",
     "leaf prediction: mean, SGD linear model on standardised features, or per-leaf best"},
    {"lr", TIDE_PARAM_DOUBLE, "0.01", "0..10", "learning rate of the linear leaf models"},
    {"max_depth", TIDE_PARAM_INT, "100", "1..100", "leaves at this depth stop splitting"},
    {"max_bins", TIDE_PARAM_INT, "64", "2..4096", "histogram bins per feature and leaf"},
    {"min_samples", TIDE_PARAM_INT, "5", "1..1000000", "minimum weight on each side of a split"},
    {"max_size", TIDE_PARAM_DOUBLE, "100", "0..1e6",
     "memory limit in MiB (0 = none): leaves with the least variance stop growing"},
    {"max_features", TIDE_PARAM_ENUM, "all", "all|sqrt|log2",
     "features evaluated per split attempt (random subset: arfr's trees)"},
    {"seed", TIDE_PARAM_INT, "0", "0..4294967295", "seed of the random feature subsets"},
};

static int htr_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    htr_learner *h = calloc(1, sizeof *h);
    *out = NULL;
    if (!h)
        return tide_err_set(err, TIDE_ERR_NOMEM, "htr: out of memory");
    h->grace = (int)tide_params_num(p, "grace_period");
    h->delta = tide_params_num(p, "delta");
    h->tau = tide_params_num(p, "tau");
    h->leaf_model = tide_params_enum(p, "leaf_model");
    h->lr = tide_params_num(p, "lr");
    h->max_depth = (int)tide_params_num(p, "max_depth");
    h->max_bins = (int)tide_params_num(p, "max_bins");
    h->min_samples = (int)tide_params_num(p, "min_samples");
    h->max_bytes = tide_params_num(p, "max_size") * 1024.0 * 1024.0;
    h->subspace = tide_params_enum(p, "max_features");
    if (h->subspace < 0 || h->subspace > 2)
        h->subspace = 0;
    h->rng = (uint64_t)tide_params_num(p, "seed");
    if (h->max_bins < 2 || h->max_bins > MAX_BINS_CAP)
        h->max_bins = 64;
    if (h->max_depth < 1 || h->max_depth > TT_DEPTH_MAX)
        h->max_depth = TT_DEPTH_MAX;
    h->root = rleaf_new(0, 0, 0, NULL);
    h->n_leaves = 1;
    if (!h->root) {
        free(h);
        return tide_err_set(err, TIDE_ERR_NOMEM, "htr: out of memory");
    }
    *out = &h->base;
    return TIDE_OK;
}

static void htr_destroy(tide_learner *l)
{
    htr_learner *h = (htr_learner *)l;
    if (!h)
        return;
    rnode_free(h->root);
    free(h->fs);
    free(h);
}

static int htr_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    htr_learner *h = (htr_learner *)l;
    tt_x px;
    int rc;
    if (!isfinite(y) || !(w > 0))
        return TIDE_ERR_ARG;
    if ((rc = tt_x_prep(&px, x)))
        return rc;
    rc = leaf_learn(h, rsort(h->root, &px), &px, y, w);
    if (!rc)
        rc = fs_update(h, &px);
    ws_add(&h->ys, y, w);
    tt_x_free(&px);
    if (++h->n_learn % MEM_PERIOD == 0)
        enforce_memory(h);
    return rc;
}

static void htr_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const htr_learner *h = (const htr_learner *)l;
    tt_x px;
    if (tt_x_prep(&px, x)) {
        out[0] = h->ys.mean;
        return;
    }
    out[0] = leaf_value(h, rsort(h->root, &px), &px);
    tt_x_free(&px);
}

static int htr_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const htr_learner *h = (const htr_learner *)l;
    htr_learner *c = malloc(sizeof *c);
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "htr: out of memory while cloning");
    *c = *h;
    c->root = NULL;
    c->fs = NULL;
    if (h->nfs) {
        c->fs = malloc(h->nfs * sizeof *c->fs);
        if (!c->fs)
            goto fail;
        memcpy(c->fs, h->fs, h->nfs * sizeof *c->fs);
    }
    c->cfs = h->nfs;
    if (rnode_clone(h->root, h->max_bins, &c->root))
        goto fail;
    *out = &c->base;
    return TIDE_OK;
fail:
    htr_destroy(&c->base);
    return tide_err_set(err, TIDE_ERR_NOMEM, "htr: out of memory while cloning");
}

static void ws_save(tide_wbuf *b, const wstat *s)
{
    tide_wbuf_f64(b, s->n);
    tide_wbuf_f64(b, s->mean);
    tide_wbuf_f64(b, s->m2);
}

static void ws_load(tide_rbuf *r, wstat *s)
{
    s->n = tide_rbuf_f64(r);
    s->mean = tide_rbuf_f64(r);
    s->m2 = tide_rbuf_f64(r);
}

/* Node layout: u8 kind, u32 depth; branch: u32 feat, f64 thr, kids;
 * leaf: u8 active, wstat seen, f64 init_n, init_mean, last_try, bias,
 * e_mean, e_lin, u32 nw, nw x (u32, f64), u32 nob, nob x (u32 feat,
 * wstat tot, u32 nb, nb x (f64 x, wstat)). */
static void rnode_save(const rnode *n, tide_wbuf *b)
{
    tide_wbuf_u8(b, n->feat == TT_LEAF ? 0 : 1);
    tide_wbuf_u32(b, (uint32_t)n->depth);
    if (n->feat != TT_LEAF) {
        tide_wbuf_u32(b, n->feat);
        tide_wbuf_f64(b, n->thr);
        rnode_save(n->kid[0], b);
        rnode_save(n->kid[1], b);
        return;
    }
    tide_wbuf_u8(b, (uint8_t)n->active);
    ws_save(b, &n->seen);
    tide_wbuf_f64(b, n->init_n);
    tide_wbuf_f64(b, n->init_mean);
    tide_wbuf_f64(b, n->last_try);
    tide_wbuf_f64(b, n->bias);
    tide_wbuf_f64(b, n->e_mean);
    tide_wbuf_f64(b, n->e_lin);
    tide_wbuf_u32(b, n->nw);
    for (uint32_t i = 0; i < n->nw; i++) {
        tide_wbuf_u32(b, n->wf[i]);
        tide_wbuf_f64(b, n->w[i]);
    }
    tide_wbuf_u32(b, n->nob);
    for (uint32_t i = 0; i < n->nob; i++) {
        const robs *o = &n->ob[i];
        tide_wbuf_u32(b, o->feat);
        ws_save(b, &o->tot);
        tide_wbuf_u32(b, o->nb);
        for (uint32_t k = 0; k < o->nb; k++) {
            tide_wbuf_f64(b, o->b[k].x);
            ws_save(b, &o->b[k].y);
        }
    }
}

static int rnode_load(tide_rbuf *r, int max_bins, int depth, rnode **out)
{
    rnode *n;
    int rc = TIDE_ERR_FORMAT;
    *out = NULL;
    if (depth > TT_DEPTH_MAX + 1)
        return TIDE_ERR_FORMAT;
    uint8_t kind = tide_rbuf_u8(r);
    uint32_t d = tide_rbuf_u32(r);
    if (r->bad || kind > 1 || d > TT_DEPTH_MAX)
        return TIDE_ERR_FORMAT;
    n = rleaf_new((int)d, 0, 0, NULL);
    if (!n)
        return TIDE_ERR_NOMEM;
    if (kind == 1) {
        n->feat = tide_rbuf_u32(r);
        n->thr = tide_rbuf_f64(r);
        if (r->bad || n->feat == TT_LEAF || isnan(n->thr))
            goto fail;
        if ((rc = rnode_load(r, max_bins, depth + 1, &n->kid[0])) ||
            (rc = rnode_load(r, max_bins, depth + 1, &n->kid[1])))
            goto fail;
        *out = n;
        return TIDE_OK;
    }
    n->active = tide_rbuf_u8(r) != 0;
    ws_load(r, &n->seen);
    n->init_n = tide_rbuf_f64(r);
    n->init_mean = tide_rbuf_f64(r);
    n->last_try = tide_rbuf_f64(r);
    n->bias = tide_rbuf_f64(r);
    n->e_mean = tide_rbuf_f64(r);
    n->e_lin = tide_rbuf_f64(r);
    uint32_t nw = tide_rbuf_u32(r);
    if (r->bad || (uint64_t)nw * 12 > r->len - r->pos)
        goto fail;
    if (nw) {
        n->wf = malloc(nw * sizeof *n->wf);
        n->w = malloc(nw * sizeof *n->w);
        if (!n->wf || !n->w) {
            rc = TIDE_ERR_NOMEM;
            goto fail;
        }
        n->nw = nw;
        for (uint32_t i = 0; i < nw; i++) {
            n->wf[i] = tide_rbuf_u32(r);
            n->w[i] = tide_rbuf_f64(r);
            if (i && n->wf[i] <= n->wf[i - 1])
                goto fail;
        }
    }
    uint32_t nob = tide_rbuf_u32(r);
    if (r->bad || (uint64_t)nob * 32 > r->len - r->pos)
        goto fail;
    if (nob) {
        n->ob = calloc(nob, sizeof *n->ob);
        if (!n->ob) {
            rc = TIDE_ERR_NOMEM;
            goto fail;
        }
        n->cob = nob;
    }
    for (uint32_t i = 0; i < nob; i++) {
        robs *o = &n->ob[i];
        o->feat = tide_rbuf_u32(r);
        ws_load(r, &o->tot);
        o->nb = tide_rbuf_u32(r);
        if (r->bad || o->nb > (uint32_t)max_bins || (i && o->feat <= n->ob[i - 1].feat))
            goto fail;
        o->b = malloc(((size_t)max_bins + 1) * sizeof *o->b);
        if (!o->b) {
            rc = TIDE_ERR_NOMEM;
            goto fail;
        }
        n->nob = i + 1;
        for (uint32_t k = 0; k < o->nb; k++) {
            o->b[k].x = tide_rbuf_f64(r);
            ws_load(r, &o->b[k].y);
            if (k && !(o->b[k].x > o->b[k - 1].x))
                goto fail;
        }
    }
    if (r->bad)
        goto fail;
    *out = n;
    return TIDE_OK;
fail:
    rnode_free(n);
    return rc ? rc : TIDE_ERR_FORMAT;
}

static void count_leaves(const rnode *n, uint32_t *k)
{
    if (n->feat != TT_LEAF) {
        count_leaves(n->kid[0], k);
        count_leaves(n->kid[1], k);
    } else {
        (*k)++;
    }
}

static int htr_save(const tide_learner *l, tide_wbuf *b)
{
    const htr_learner *h = (const htr_learner *)l;
    ws_save(b, &h->ys);
    tide_wbuf_u64(b, h->n_learn);
    tide_wbuf_u64(b, h->rng);
    tide_wbuf_u32(b, h->nfs);
    for (uint32_t i = 0; i < h->nfs; i++) {
        tide_wbuf_u32(b, h->fs[i].feat);
        ws_save(b, &h->fs[i].s);
    }
    rnode_save(h->root, b);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int htr_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    htr_learner *h = (htr_learner *)l;
    rnode *root;
    int rc;
    ws_load(r, &h->ys);
    h->n_learn = tide_rbuf_u64(r);
    h->rng = tide_rbuf_u64(r);
    uint32_t nfs = tide_rbuf_u32(r);
    if (r->bad || (uint64_t)nfs * 28 > r->len - r->pos)
        return tide_err_set(err, TIDE_ERR_FORMAT, "htr state: feature statistics are corrupt");
    free(h->fs);
    h->fs = nfs ? malloc(nfs * sizeof *h->fs) : NULL;
    h->nfs = h->cfs = 0;
    if (nfs && !h->fs)
        return tide_err_set(err, TIDE_ERR_NOMEM, "htr state: out of memory");
    h->cfs = nfs;
    for (uint32_t i = 0; i < nfs; i++) {
        h->fs[i].feat = tide_rbuf_u32(r);
        ws_load(r, &h->fs[i].s);
        if (i && h->fs[i].feat <= h->fs[i - 1].feat)
            return tide_err_set(err, TIDE_ERR_FORMAT, "htr state: feature table is not sorted");
        h->nfs = i + 1;
    }
    rc = rnode_load(r, h->max_bins, 0, &root);
    if (rc)
        return tide_err_set(err, rc, "htr state: node block is truncated or corrupt");
    rnode_free(h->root);
    h->root = root;
    h->n_leaves = 0;
    count_leaves(root, &h->n_leaves);
    return TIDE_OK;
}

static size_t htr_memory(const tide_learner *l)
{
    const htr_learner *h = (const htr_learner *)l;
    return sizeof *h + h->cfs * sizeof(fstat) + rnode_memory(h->root, h->max_bins);
}

/* Variance reduction of two sides given as (n, mean, sample variance). */
double tt_htr_vr(double nl, double ml, double vl, double nr, double mr, double vr_)
{
    wstat l = {nl, ml, vl * (nl - 1)}, r = {nr, mr, vr_ * (nr - 1)}, t = l;
    ws_merge(&t, &r);
    return vr(&t, &l, &r, 1);
}

const tide_learner_vt tide_htr_vt = {
    .name = "htr",
    .task = TIDE_TASK_REGRESSION,
    .summary = "Hoeffding tree regressor (FIMT-style variance reduction), mean/linear/adaptive leaves",
    .params = HTR_PARAMS,
    .n_params = sizeof HTR_PARAMS / sizeof HTR_PARAMS[0],
    .create = htr_create,
    .destroy = htr_destroy,
    .learn_one = htr_learn,
    .predict = htr_predict,
    .clone = htr_clone,
    .save_state = htr_save,
    .load_state = htr_load,
    .memory = htr_memory,
    /* 2: u64 rng of the feature subsets after n_learn */
    .state_version = 2,
};
