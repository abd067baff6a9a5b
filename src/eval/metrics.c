/*
 * metrics.c — streaming metrics for progressive (prequential) validation
 * (tide/eval.h).
 *
 * Progressive validation: every example is first scored, then learnt, so the
 * running score is an honest out-of-sample estimate (Blum, Kalai & Langford,
 * "Beating the hold-out: bounds for k-fold and progressive cross-validation",
 * COLT 1999; the same protocol as River's evaluate.progressive_val_score).
 *
 * What is kept, per object:
 *  - cumulative accumulators (weighted sums) since creation / reset;
 *  - when window > 0: a ring buffer of the last `window` examples and the
 *    same accumulators over the ring. Adding to a full ring evicts the oldest
 *    example by subtracting it. Subtraction in floating point drifts, so
 *    after every `window` evictions the window sums are recomputed from the
 *    ring (O(window) every `window` adds = O(1) amortised).
 *
 * Classification definitions (w = example weight, all sums weighted):
 *  - accuracy  = Σ w·[argmax proba == y] / Σ w;
 *  - log loss  = Σ w·(-ln clip(proba[y], 1e-15, 1-1e-15)) / Σ w, as River's
 *    CrossEntropy; a label beyond the predicted distribution has
 *    probability 0 (-> clipped to 1e-15). With two classes, as River's
 *    LogLoss and sklearn's log_loss (eps=1e-15): p = clip(proba[1]) and
 *    class 0 scores -ln(1 - p) (so p(1) = 1 costs -ln(9.992e-16), not
 *    -ln(1e-15): 1 - 1e-15 is not exact in binary64);
 *  - F1: binary (every n_classes and label seen so far ≤ 2): F1 of class 1,
 *    2·TP / (2·TP + FP + FN), 0 when that denominator is 0 (River and
 *    sklearn's zero_division=0). Multiclass: River's MacroF1 — the mean of
 *    per-class F1 over the classes that occur (as label or as prediction)
 *    among the examples counted (for the window: those in the window);
 *  - ROC AUC (binary only; NaN for multiclass): the score is proba[1]
 *    clamped to [0, 1], class 1 is positive, and
 *        AUC = Σ_{pos i, neg j} w_i w_j ([s_i > s_j] + ½[s_i = s_j]) / (W+ · W-)
 *    The pair sum is kept incrementally: an example adds w times the
 *    weight of the opposite class strictly on its "wrong" side plus half of
 *    it at its own score.
 *    Windowed: an order-statistics treap keyed by score (Seidel & Aragon,
 *    "Randomized search trees", Algorithmica 1996) whose nodes carry subtree
 *    sums of positive and negative weight; add and evict are O(log window),
 *    so windowed AUC is exact over the window at any time.
 *    Cumulative: a sorted array of distinct scores plus a buffer of the
 *    last CUM_PEND (4096) examples; a full buffer is radix-sorted and merged
 *    in one pass (O(K/4096 + 1) amortised per add for K keys); get() counts
 *    the buffer on a sorted copy (O(4096 + K)). Exact until the array holds
 *    TIDE_METRICS_AUC_EXACT_KEYS distinct scores; then the keys collapse
 *    once onto a grid of 1/2^15: pairs already counted stay exact, later
 *    pairs whose scores fall in the same 2^-15-wide bin count as ties, so
 *    the error is at most ½ · (weight of such pairs) / (W+ · W-). Memory:
 *    48 bytes per distinct score (array + merge scratch), at most ~3.5 MB.
 *
 * Regression definitions: MAE = Σ w|y-ŷ| / Σ w, RMSE = sqrt(Σ w(y-ŷ)² / Σ w),
 * R² = 1 - SS_res / SS_tot with SS_tot = Σ w (y - ȳ_w)² kept by the weighted
 * Welford recurrence (West, "Updating mean and variance estimates: an
 * improved method", CACM 1979), and its reverse for evictions. R² is NaN
 * until two examples with non-zero weight are counted and whenever
 * SS_tot ≤ 1e-12 · Σ w y² (a constant target, where R² is undefined; River
 * reports 0 there, sklearn 1 or 0).
 *
 * Every value is NaN while its denominator is zero (no examples, or all
 * weights zero).
 */
#include "tide/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define LOGLOSS_EPS 1e-15
#define AUC_QUANT_GRID 32768.0       /* 2^15 bins after the exact budget */
#define TREE_MAX_DEPTH 256           /* loaded trees deeper than this are refused */
#define R2_CONST_REL 1e-12
#define METRICS_MAGIC 0x54454d54u    /* "TMET" little-endian */
#define METRICS_FORMAT 2u

/* ---- order-statistics treap over scores ------------------------------- */

/* One cache line: everything a descent reads. Subtree sums are kept both
 * for the whole subtree (sp, sn: rotations and merges) and for the left
 * subtree (lp, ln), so a descent never touches the child it does not take:
 * going left it adds own + right = sp - lp positives, going right it adds
 * ln + wn negatives. */
typedef struct anode {
    double key;      /* score */
    double wp, wn;   /* weight of positives / negatives with exactly this key */
    double lp, ln;   /* sums of wp / wn over the left subtree */
    double sp, sn;   /* sums of wp / wn over the subtree, this node included */
    uint32_t l, r;   /* children, NIL when absent; l links the free list */
} anode;

_Static_assert(sizeof(anode) == 64, "anode must fill one cache line");

/* Colder per-node fields, in a parallel array. */
typedef struct ameta {
    uint32_t cp, cn; /* how many positives / negatives have this key */
    uint32_t prio;   /* heap priority: a parent's is >= its children's */
} ameta;

typedef struct auctree {
    anode *nodes;       /* pool of cap nodes, 64-byte aligned, owned */
    ameta *meta;        /* cap entries, owned */
    uint32_t cap;       /* allocated nodes */
    uint32_t used;      /* high-water mark of the pool */
    uint32_t root;      /* NIL when empty */
    uint32_t free_head; /* recycled nodes (window tree), linked by l */
    uint32_t n_keys;    /* nodes in the tree */
    uint64_t rng;       /* splitmix64 state for priorities */
    double conc;        /* Σ pairs w+ w- ([s+ > s-] + ½[s+ = s-]) */
    double wpos, wneg;  /* total positive / negative weight */
} auctree;

/* Cumulative AUC state (see the cumulative AUC section below). */
#define CUM_PEND 4096

typedef struct ckey {
    double key;      /* score, strictly increasing along the array */
    double wp, wn;   /* weight of positives / negatives with this score */
} ckey;

typedef struct cpend {
    double s;        /* score (quantised once the budget is spent) */
    double w;        /* weight */
    int32_t pos;     /* 1 = class 1 */
    int32_t pad;
} cpend;

typedef struct cumauc {
    ckey *keys;      /* n sorted distinct keys, cap allocated, owned */
    ckey *tmp;       /* merge scratch of cap entries, owned */
    uint32_t n, cap;
    uint32_t max_keys;   /* exact budget, then the 2^-15 grid */
    cpend *pend;     /* CUM_PEND slots + CUM_PEND of sort scratch, owned */
    uint32_t npend;
    double conc;     /* pair sum over the merged examples */
    double wpos, wneg;   /* merged positive / negative weight */
    int quant;       /* 1 once keys are rounded to the 2^-15 grid */
} cumauc;

/* ---- accumulators ----------------------------------------------------- */

typedef struct cstats {
    uint64_t n;      /* examples */
    double w;        /* Σ w */
    double correct;  /* Σ w·[pred == y] */
    double loss;     /* Σ w·logloss */
    double *tp;      /* per class: Σ w·[y == c && pred == c] */
    double *tw;      /* per class: Σ w·[y == c] */
    double *pw;      /* per class: Σ w·[pred == c] */
    uint64_t *tn;    /* per class: #[y == c] (decides "seen") */
    uint64_t *pn;    /* per class: #[pred == c] */
} cstats;

typedef struct rstats {
    uint64_t n;      /* examples */
    uint64_t nw;     /* examples with non-zero weight */
    double w;        /* Σ w */
    double abs;      /* Σ w|y - ŷ| */
    double sq;       /* Σ w(y - ŷ)² = SS_res */
    double mean;     /* weighted mean of y */
    double m2;       /* Σ w (y - mean)² = SS_tot */
} rstats;

/* One example in the window ring. */
typedef struct wentry {
    double a;        /* classification: log loss; regression: y */
    double b;        /* classification: score proba[1]; regression: ŷ */
    double w;        /* weight */
    int32_t y;       /* classification: label */
    int32_t pred;    /* classification: argmax */
} wentry;

struct tide_metrics {
    tide_metric_kind kind;
    size_t window;          /* ring capacity, 0 = cumulative only */
    int n_classes;          /* max over n_classes arguments and labels + 1 */
    int class_cap;          /* allocated per-class slots */
    int binary;             /* n_classes <= 2 so far: F1 of class 1 and AUC */
    cstats cc, cw;          /* classification: cumulative, windowed */
    rstats rc, rw;          /* regression: cumulative, windowed */
    cumauc tc;              /* AUC: cumulative */
    auctree tw;             /* AUC: windowed */
    wentry *ring;           /* window entries, owned */
    size_t head;            /* index of the oldest entry */
    size_t count;           /* entries in the ring */
    size_t evicted;         /* evictions since the window sums were rebuilt */
    double *cls_mem;        /* one block for the 10 per-class arrays, owned */
};

/* ---- treap ------------------------------------------------------------ */

static uint32_t next_prio(auctree *t)
{
    uint64_t z = (t->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static void tree_clear(auctree *t)
{
    t->used = 0;
    t->root = NIL;
    t->free_head = NIL;
    t->n_keys = 0;
    t->conc = 0;
    t->wpos = t->wneg = 0;
}

/* Grows (or first allocates) the pool to cap nodes; 0 or TIDE_ERR_NOMEM. */
static int tree_reserve(auctree *t, uint32_t cap)
{
    anode *n;
    ameta *m;
    if (cap <= t->cap)
        return TIDE_OK;
    n = aligned_alloc(64, (size_t)cap * sizeof *n);   /* sizeof(anode) == 64 */
    if (!n)
        return TIDE_ERR_NOMEM;
    m = realloc(t->meta, (size_t)cap * sizeof *m);
    if (!m) {
        free(n);
        return TIDE_ERR_NOMEM;
    }
    if (t->used)
        memcpy(n, t->nodes, (size_t)t->used * sizeof *n);
    free(t->nodes);
    t->nodes = n;
    t->meta = m;
    t->cap = cap;
    return TIDE_OK;
}

static int tree_init(auctree *t, uint32_t cap)
{
    memset(t, 0, sizeof *t);
    t->rng = 0x7469646541554321ULL;
    tree_clear(t);
    return tree_reserve(t, cap);
}

static void tree_free(auctree *t)
{
    free(t->nodes);
    free(t->meta);
    t->nodes = NULL;
    t->meta = NULL;
    t->cap = 0;
}

static void tr_pull(anode *a, uint32_t x)
{
    double lp = 0, ln = 0, rp = 0, rn = 0;
    if (a[x].l != NIL) {
        lp = a[a[x].l].sp;
        ln = a[a[x].l].sn;
    }
    if (a[x].r != NIL) {
        rp = a[a[x].r].sp;
        rn = a[a[x].r].sn;
    }
    a[x].lp = lp;
    a[x].ln = ln;
    a[x].sp = lp + a[x].wp + rp;
    a[x].sn = ln + a[x].wn + rn;
}

/* Splits subtree x into keys < key (*lo) and keys > key (*hi); key absent. */
static void tr_split(auctree *t, uint32_t x, double key, uint32_t *lo, uint32_t *hi)
{
    anode *a = t->nodes;
    if (x == NIL) {
        *lo = *hi = NIL;
        return;
    }
    if (a[x].key < key) {
        tr_split(t, a[x].r, key, &a[x].r, hi);
        *lo = x;
    } else {
        tr_split(t, a[x].l, key, lo, &a[x].l);
        *hi = x;
    }
    tr_pull(a, x);
}

static uint32_t tr_merge(auctree *t, uint32_t lo, uint32_t hi)
{
    anode *a = t->nodes;
    if (lo == NIL)
        return hi;
    if (hi == NIL)
        return lo;
    if (t->meta[lo].prio > t->meta[hi].prio) {
        a[lo].r = tr_merge(t, a[lo].r, hi);
        tr_pull(a, lo);
        return lo;
    }
    a[hi].l = tr_merge(t, lo, a[hi].l);
    tr_pull(a, hi);
    return hi;
}

static uint32_t tr_insert(auctree *t, uint32_t x, uint32_t nn)
{
    anode *a = t->nodes;
    if (x == NIL)
        return nn;
    if (t->meta[nn].prio > t->meta[x].prio) {
        tr_split(t, x, a[nn].key, &a[nn].l, &a[nn].r);
        tr_pull(a, nn);
        return nn;
    }
    if (a[nn].key < a[x].key)
        a[x].l = tr_insert(t, a[x].l, nn);
    else
        a[x].r = tr_insert(t, a[x].r, nn);
    tr_pull(a, x);
    return x;
}

/* Recursive fallback for paths deeper than PATH_DEPTH: adds (delta = +1) or
 * removes (delta = -1) one example of weight w at an existing key; a key
 * left with no example is unlinked and recycled. */
static uint32_t tr_adjust(auctree *t, uint32_t x, double key, int pos, double w, int delta)
{
    anode *a = t->nodes;
    ameta *mt = t->meta;
    if (key < a[x].key) {
        a[x].l = tr_adjust(t, a[x].l, key, pos, w, delta);
    } else if (key > a[x].key) {
        a[x].r = tr_adjust(t, a[x].r, key, pos, w, delta);
    } else {
        uint32_t *c = pos ? &mt[x].cp : &mt[x].cn;
        double *s = pos ? &a[x].wp : &a[x].wn;
        if (delta > 0) {
            if (*c < UINT32_MAX)
                (*c)++;
            *s += w;
        } else {
            (*c)--;
            *s = *c ? *s - w : 0.0;
        }
        if (mt[x].cp == 0 && mt[x].cn == 0) {
            uint32_t m = tr_merge(t, a[x].l, a[x].r);
            a[x].l = t->free_head;
            t->free_head = x;
            t->n_keys--;
            return m;
        }
    }
    tr_pull(a, x);
    return x;
}

static double quantise(double s)
{
    return floor(s * AUC_QUANT_GRID) / AUC_QUANT_GRID;
}

/* In-order: recomputes the pair sum from the node weights. */
static void tr_conc(const anode *a, uint32_t x, double *neg_below, double *conc)
{
    if (x == NIL)
        return;
    tr_conc(a, a[x].l, neg_below, conc);
    *conc += a[x].wp * (*neg_below + 0.5 * a[x].wn);
    *neg_below += a[x].wn;
    tr_conc(a, a[x].r, neg_below, conc);
}

/* Post-order: recomputes every subtree sum from the node weights. */
static void tr_repull(anode *a, uint32_t x)
{
    if (x == NIL)
        return;
    tr_repull(a, a[x].l);
    tr_repull(a, a[x].r);
    tr_pull(a, x);
}

/* Clears the rounding drift of incremental updates (window rebuilds). */
static void tree_recompute(auctree *t)
{
    double nb = 0, conc = 0;
    tr_repull(t->nodes, t->root);
    tr_conc(t->nodes, t->root, &nb, &conc);
    t->conc = conc;
    if (t->root != NIL) {
        t->wpos = t->nodes[t->root].sp;
        t->wneg = t->nodes[t->root].sn;
    } else {
        t->wpos = t->wneg = 0;
    }
}

static uint32_t tree_take(auctree *t)
{
    uint32_t x;
    if (t->free_head != NIL) {
        x = t->free_head;
        t->free_head = t->nodes[x].l;
        return x;
    }
    if (t->used == t->cap)
        return NIL;   /* cannot happen: a window holds <= cap keys */
    return t->used++;
}

/* Fills node x as a fresh leaf holding one example. */
static void tr_leaf(auctree *t, uint32_t x, double key, int pos, double w)
{
    anode *n = &t->nodes[x];
    n->key = key;
    n->wp = n->sp = pos ? w : 0.0;
    n->wn = n->sn = pos ? 0.0 : w;
    n->lp = n->ln = 0;
    n->l = n->r = NIL;
    t->meta[x].cp = pos ? 1 : 0;
    t->meta[x].cn = pos ? 0 : 1;
    t->meta[x].prio = next_prio(t);
}

/* Inserts a new key node (the key must be absent) by recursive descent. */
static int tree_new_key(auctree *t, double key, int pos, double w)
{
    uint32_t x = tree_take(t);
    if (x == NIL)
        return TIDE_ERR_NOMEM;
    tr_leaf(t, x, key, pos, w);
    t->root = tr_insert(t, t->root, x);
    t->n_keys++;
    return TIDE_OK;
}

/* Hangs new node x (key absent) as a leaf below the end of the descent
 * path, adds its weight to the path's sums, then rotates it up while its
 * priority beats its parent's (expected < 2 rotations; Seidel & Aragon). */
static void tree_link_leaf(auctree *t, uint32_t x, const uint32_t *path, int d, double key,
                           int pos, double w)
{
    anode *a = t->nodes;
    tr_leaf(t, x, key, pos, w);
    t->n_keys++;
    if (d == 0) {
        t->root = x;
        return;
    }
    for (int i = 0; i < d; i++) {
        anode *p = &a[path[i]];
        int left = key < p->key;
        if (pos) {
            p->sp += w;
            p->lp += left ? w : 0.0;
        } else {
            p->sn += w;
            p->ln += left ? w : 0.0;
        }
    }
    if (key < a[path[d - 1]].key)
        a[path[d - 1]].l = x;
    else
        a[path[d - 1]].r = x;
    for (int i = d - 1; i >= 0 && t->meta[x].prio > t->meta[path[i]].prio; i--) {
        uint32_t p = path[i];
        if (a[p].l == x) {
            a[p].l = a[x].r;
            a[x].r = p;
        } else {
            a[p].r = a[x].l;
            a[x].l = p;
        }
        tr_pull(a, p);
        tr_pull(a, x);
        if (i == 0)
            t->root = x;
        else if (a[path[i - 1]].l == p)
            a[path[i - 1]].l = x;
        else
            a[path[i - 1]].r = x;
    }
}

/* One descent from the root towards key: the weights around it (negatives
 * strictly below, positives strictly above, both at key) and the path taken
 * (path[0] = root). Returns the node holding key or NIL; *depth may exceed
 * PATH_DEPTH, in which case path holds only its first PATH_DEPTH nodes. */
#define PATH_DEPTH 128
static uint32_t tr_descend(const auctree *t, double key, uint32_t *path, int *depth,
                           double *nb, double *ne, double *pa, double *pe)
{
    const anode *a = t->nodes;
    uint32_t x = t->root;
    double neg_below = 0, pos_above = 0;
    int d = 0;
    *ne = *pe = 0;
    while (x != NIL) {
        const anode *n = &a[x];
        if (d < PATH_DEPTH)
            path[d] = x;
        d++;
        if (key < n->key) {
            pos_above += n->sp - n->lp;   /* this node and its right subtree */
            x = n->l;
        } else if (key > n->key) {
            neg_below += n->ln + n->wn;   /* left subtree and this node */
            x = n->r;
        } else {
            neg_below += n->ln;
            pos_above += n->sp - n->lp - n->wp;
            *ne = n->wn;
            *pe = n->wp;
            break;
        }
    }
    *nb = neg_below;
    *pa = pos_above;
    *depth = d;
    return x;
}

/* Adds dw (signed) to the path sums towards key; the last node holds key. */
static void tr_path_add(anode *a, const uint32_t *path, int d, double key, int pos, double dw)
{
    for (int i = 0; i < d; i++) {
        anode *p = &a[path[i]];
        int left = key < p->key;
        if (pos) {
            p->sp += dw;
            p->lp += left ? dw : 0.0;
        } else {
            p->sn += dw;
            p->ln += left ? dw : 0.0;
        }
    }
}

static int tree_add(auctree *t, double s, int pos, double w)
{
    uint32_t path[PATH_DEPTH];
    double nb, ne, pa, pe;
    int d;
    uint32_t x;
    x = tr_descend(t, s, path, &d, &nb, &ne, &pa, &pe);
    if (x == NIL && d > PATH_DEPTH) {
        int rc = tree_new_key(t, s, pos, w);
        if (rc)
            return rc;
    } else if (x == NIL) {
        if ((x = tree_take(t)) == NIL)
            return TIDE_ERR_NOMEM;
        tree_link_leaf(t, x, path, d, s, pos, w);
    } else if (d <= PATH_DEPTH) {
        /* existing key: the shape does not change, add w along the path */
        ameta *mt = &t->meta[x];
        if (pos) {
            if (mt->cp < UINT32_MAX)
                mt->cp++;
            t->nodes[x].wp += w;
        } else {
            if (mt->cn < UINT32_MAX)
                mt->cn++;
            t->nodes[x].wn += w;
        }
        tr_path_add(t->nodes, path, d, s, pos, w);
    } else {
        t->root = tr_adjust(t, t->root, s, pos, w, +1);
    }
    /* the example itself is never counted: a positive looks at negatives only */
    t->conc += pos ? w * (nb + 0.5 * ne) : w * (pa + 0.5 * pe);
    if (pos)
        t->wpos += w;
    else
        t->wneg += w;
    return TIDE_OK;
}

/* Removes one example previously added (window eviction). */
static void tree_remove(auctree *t, double s, int pos, double w)
{
    uint32_t path[PATH_DEPTH];
    double nb, ne, pa, pe;
    int d;
    uint32_t x = tr_descend(t, s, path, &d, &nb, &ne, &pa, &pe);
    anode *a = t->nodes;
    ameta *mt;
    if (x == NIL || (pos ? t->meta[x].cp : t->meta[x].cn) == 0)
        return;   /* only after loading an inconsistent snapshot */
    mt = &t->meta[x];
    t->conc -= pos ? w * (nb + 0.5 * ne) : w * (pa + 0.5 * pe);
    if (pos)
        t->wpos -= w;
    else
        t->wneg -= w;
    if (d > PATH_DEPTH) {
        t->root = tr_adjust(t, t->root, s, pos, w, -1);
    } else {
        if (pos) {
            mt->cp--;
            a[x].wp = mt->cp ? a[x].wp - w : 0.0;
        } else {
            mt->cn--;
            a[x].wn = mt->cn ? a[x].wn - w : 0.0;
        }
        tr_path_add(a, path, d, s, pos, -w);
        if (mt->cp == 0 && mt->cn == 0) {
            /* unlink: its children merge into its place; the ancestors'
             * sums already exclude it */
            uint32_t m = tr_merge(t, a[x].l, a[x].r);
            if (d == 1)
                t->root = m;
            else if (a[path[d - 2]].l == x)
                a[path[d - 2]].l = m;
            else
                a[path[d - 2]].r = m;
            a[x].l = t->free_head;
            t->free_head = x;
            t->n_keys--;
        }
    }
    if (t->n_keys == 0) {
        t->conc = 0;
        t->wpos = t->wneg = 0;
    }
}

static double tree_auc(const auctree *t)
{
    if (!(t->wpos > 0) || !(t->wneg > 0))
        return NAN;
    return t->conc / (t->wpos * t->wneg);
}

/* ---- cumulative AUC: sorted keys + pending buffer ------------------------ */

/* The cumulative view only grows, and asking for its value is rare, so
 * examples wait in a buffer of CUM_PEND; a full buffer is sorted and merged
 * into a sorted array of distinct keys in one sequential pass: O(K/CUM_PEND
 * + log CUM_PEND) amortised per add for K distinct keys, without the cache
 * misses of a tree descent. The pairs an example forms with everything
 * before it are counted exactly when it is merged; get() counts the buffer
 * on the fly on a sorted copy. */
static void cum_clear(cumauc *c)
{
    c->n = 0;
    c->npend = 0;
    c->conc = c->wpos = c->wneg = 0;
    c->quant = 0;
}

static int cum_init(cumauc *c, uint32_t max_keys, int active)
{
    memset(c, 0, sizeof *c);
    c->max_keys = max_keys;
    if (active && !(c->pend = malloc(2 * CUM_PEND * sizeof *c->pend)))   /* + radix scratch */
        return TIDE_ERR_NOMEM;
    return TIDE_OK;
}

static void cum_free(cumauc *c)
{
    free(c->keys);
    free(c->tmp);
    free(c->pend);
    memset(c, 0, sizeof *c);
}

static int cum_reserve(cumauc *c, uint32_t need)
{
    uint32_t cap;
    ckey *k, *t;
    if (need <= c->cap)
        return TIDE_OK;
    cap = c->cap ? c->cap : 1024;
    while (cap < need)
        cap *= 2;
    if (!(k = realloc(c->keys, (size_t)cap * sizeof *k)))
        return TIDE_ERR_NOMEM;
    c->keys = k;
    if (!(t = realloc(c->tmp, (size_t)cap * sizeof *t)))
        return TIDE_ERR_NOMEM;
    c->tmp = t;
    c->cap = cap;
    return TIDE_OK;
}

/* Sorts p[0..n) by score with an LSD radix sort on the bits of the score
 * (scores are in [0, 1], where the IEEE-754 bit patterns order like the
 * values), 11 bits per pass, skipping passes whose digit is constant; tmp
 * holds n entries. Stable, so merges are deterministic. */
#define RADIX_BITS 11
#define RADIX_PASSES 6
static void sort_pend(cpend *p, cpend *tmp, uint32_t n)
{
    uint32_t cnt[RADIX_PASSES][1u << RADIX_BITS];
    const uint64_t mask = (1u << RADIX_BITS) - 1;
    cpend *src = p, *dst = tmp;
    memset(cnt, 0, sizeof cnt);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &p[i].s, 8);
        for (int d = 0; d < RADIX_PASSES; d++)
            cnt[d][(u >> (d * RADIX_BITS)) & mask]++;
    }
    for (int d = 0; d < RADIX_PASSES; d++) {
        uint32_t sum = 0, *c = cnt[d];
        int trivial = 0;
        for (uint32_t b = 0; b <= mask; b++) {
            uint32_t k = c[b];
            if (k == n)
                trivial = 1;
            c[b] = sum;
            sum += k;
        }
        if (trivial)
            continue;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, &src[i].s, 8);
            dst[c[(u >> (d * RADIX_BITS)) & mask]++] = src[i];
        }
        cpend *t = src;
        src = dst;
        dst = t;
    }
    if (src != p)
        memcpy(p, src, (size_t)n * sizeof *p);
}

/* Pair sum of sorted pending examples p[0..np) among themselves and
 * against the merged keys. Ascending pass: each pending positive pairs with
 * the negatives below it (+ half at its score), pending or merged. Then
 * descending: each pending negative pairs with the merged positives above
 * it (+ half at its score); its pairs with pending positives were counted
 * by the first pass. */
static double cum_scan(const cumauc *c, const cpend *p, uint32_t np)
{
    double conc = 0, a_nb = 0, b_nb = 0, a_pa = 0;
    uint32_t j = 0;
    for (uint32_t i = 0; i < np;) {   /* ascending: positives */
        double s = p[i].s, gp = 0, gn = 0, a_ne = 0;
        uint32_t k = i;
        for (; k < np && p[k].s == s; k++) {
            if (p[k].pos)
                gp += p[k].w;
            else
                gn += p[k].w;
        }
        for (; j < c->n && c->keys[j].key < s; j++)
            a_nb += c->keys[j].wn;
        if (j < c->n && c->keys[j].key == s)
            a_ne = c->keys[j].wn;
        conc += gp * (a_nb + 0.5 * a_ne + b_nb + 0.5 * gn);
        b_nb += gn;
        i = k;
    }
    j = c->n;
    for (uint32_t i = np; i > 0;) {   /* descending: negatives */
        double s = p[i - 1].s, gn = 0, a_pe = 0;
        uint32_t k = i;
        for (; k > 0 && p[k - 1].s == s; k--)
            if (!p[k - 1].pos)
                gn += p[k - 1].w;
        for (; j > 0 && c->keys[j - 1].key > s; j--)
            a_pa += c->keys[j - 1].wp;
        if (j > 0 && c->keys[j - 1].key == s)
            a_pe = c->keys[j - 1].wp;
        conc += gn * (a_pa + 0.5 * a_pe);   /* pairs within p: counted above */
        i = k;
    }
    return conc;
}

/* Sorts and merges the pending buffer into the keys. */
static int cum_flush(cumauc *c)
{
    uint32_t np = c->npend, i = 0, j = 0, m = 0;
    cpend *p = c->pend;
    int rc;
    if (np == 0)
        return TIDE_OK;
    if ((rc = cum_reserve(c, c->n + np)) != TIDE_OK)
        return rc;
    if (c->quant)
        for (uint32_t k = 0; k < np; k++)
            p[k].s = quantise(p[k].s);
    sort_pend(p, c->pend + CUM_PEND, np);
    c->conc += cum_scan(c, p, np);
    while (i < np || j < c->n) {
        if (j < c->n && (i >= np || c->keys[j].key < p[i].s)) {
            c->tmp[m++] = c->keys[j++];
            continue;
        }
        ckey e = {p[i].s, 0, 0};
        if (j < c->n && c->keys[j].key == p[i].s)
            e = c->keys[j++];
        for (double s = p[i].s; i < np && p[i].s == s; i++) {
            if (p[i].pos) {
                e.wp += p[i].w;
                c->wpos += p[i].w;
            } else {
                e.wn += p[i].w;
                c->wneg += p[i].w;
            }
        }
        c->tmp[m++] = e;
    }
    ckey *sw = c->keys;
    c->keys = c->tmp;
    c->tmp = sw;
    c->n = m;
    c->npend = 0;
    if (c->n > c->max_keys && !c->quant) {
        /* budget spent: collapse onto the grid (<= 2^15 + 1 keys) */
        m = 0;
        for (uint32_t k = 0; k < c->n; k++) {
            double q = quantise(c->keys[k].key);
            if (m > 0 && c->keys[m - 1].key == q) {
                c->keys[m - 1].wp += c->keys[k].wp;
                c->keys[m - 1].wn += c->keys[k].wn;
            } else {
                c->keys[m] = c->keys[k];
                c->keys[m].key = q;
                m++;
            }
        }
        c->n = m;
        c->quant = 1;
    }
    return TIDE_OK;
}

static int cum_add(cumauc *c, double s, int pos, double w)
{
    if (c->npend == CUM_PEND) {
        int rc = cum_flush(c);
        if (rc)
            return rc;
    }
    c->pend[c->npend].s = s;
    c->pend[c->npend].w = w;
    c->pend[c->npend].pos = pos;
    c->pend[c->npend].pad = 0;
    c->npend++;
    return TIDE_OK;
}

static double cum_auc(const cumauc *c)
{
    double conc = c->conc, wp = c->wpos, wn = c->wneg;
    if (c->npend) {
        cpend *p = malloc(2 * (size_t)c->npend * sizeof *p);
        if (!p)
            return NAN;
        memcpy(p, c->pend, c->npend * sizeof *p);
        for (uint32_t k = 0; k < c->npend; k++) {
            if (c->quant)
                p[k].s = quantise(p[k].s);
            if (p[k].pos)
                wp += p[k].w;
            else
                wn += p[k].w;
        }
        sort_pend(p, p + c->npend, c->npend);
        conc += cum_scan(c, p, c->npend);
        free(p);
    }
    if (!(wp > 0) || !(wn > 0))
        return NAN;
    return conc / (wp * wn);
}

/* ---- per-class arrays --------------------------------------------------- */

static void cstats_bind(cstats *s, double *mem, int cap)
{
    size_t c = (size_t)cap;
    s->tp = mem;
    s->tw = mem + c;
    s->pw = mem + 2 * c;
    s->tn = (uint64_t *)(void *)(mem + 3 * c);
    s->pn = (uint64_t *)(void *)(mem + 4 * c);
}

/* Makes room for class indices < need (rare: only when classes appear). */
static int grow_classes(tide_metrics *m, int need)
{
    int cap = m->class_cap ? m->class_cap : 4;
    double *mem;
    cstats oc = m->cc, ow = m->cw;
    if (need > TIDE_METRICS_MAX_CLASSES)
        return TIDE_ERR_LIMIT;
    while (cap < need)
        cap *= 2;
    if (cap > TIDE_METRICS_MAX_CLASSES)
        cap = TIDE_METRICS_MAX_CLASSES;
    mem = calloc((size_t)cap * 10, sizeof *mem);
    if (!mem)
        return TIDE_ERR_NOMEM;
    cstats_bind(&m->cc, mem, cap);
    cstats_bind(&m->cw, mem + 5 * (size_t)cap, cap);
    if (m->class_cap) {
        size_t n = (size_t)m->class_cap;
        memcpy(m->cc.tp, oc.tp, n * sizeof(double));
        memcpy(m->cc.tw, oc.tw, n * sizeof(double));
        memcpy(m->cc.pw, oc.pw, n * sizeof(double));
        memcpy(m->cc.tn, oc.tn, n * sizeof(uint64_t));
        memcpy(m->cc.pn, oc.pn, n * sizeof(uint64_t));
        memcpy(m->cw.tp, ow.tp, n * sizeof(double));
        memcpy(m->cw.tw, ow.tw, n * sizeof(double));
        memcpy(m->cw.pw, ow.pw, n * sizeof(double));
        memcpy(m->cw.tn, ow.tn, n * sizeof(uint64_t));
        memcpy(m->cw.pn, ow.pn, n * sizeof(uint64_t));
    }
    free(m->cls_mem);
    m->cls_mem = mem;
    m->class_cap = cap;
    return TIDE_OK;
}

static void cstats_zero(cstats *s, int cap)
{
    size_t n = (size_t)cap;
    s->n = 0;
    s->w = s->correct = s->loss = 0;
    if (n) {
        memset(s->tp, 0, n * sizeof(double));
        memset(s->tw, 0, n * sizeof(double));
        memset(s->pw, 0, n * sizeof(double));
        memset(s->tn, 0, n * sizeof(uint64_t));
        memset(s->pn, 0, n * sizeof(uint64_t));
    }
}

static void cstats_add(cstats *s, const wentry *e, double sign)
{
    double w = sign * e->w;
    uint64_t d = sign > 0 ? 1u : (uint64_t)-1;   /* wraps to a decrement */
    s->n += d;
    s->w += w;
    s->loss += w * e->a;
    s->tw[e->y] += w;
    s->pw[e->pred] += w;
    s->tn[e->y] += d;
    s->pn[e->pred] += d;
    if (e->y == e->pred) {
        s->correct += w;
        s->tp[e->y] += w;
    }
    if (s->n == 0) {   /* window emptied: drop rounding residue */
        s->w = s->correct = s->loss = 0;
    }
}

/* ---- regression accumulators ------------------------------------------- */

static void rstats_add(rstats *s, double y, double yp, double w)
{
    double d = y - yp, nw, delta;
    s->n++;
    s->abs += w * fabs(d);
    s->sq += w * d * d;
    if (w == 0)
        return;
    s->nw++;
    nw = s->w + w;
    delta = y - s->mean;
    s->mean += delta * (w / nw);
    s->m2 += w * delta * (y - s->mean);
    s->w = nw;
}

static void rstats_remove(rstats *s, double y, double yp, double w)
{
    double d = y - yp, nw, delta;
    s->n--;
    s->abs -= w * fabs(d);
    s->sq -= w * d * d;
    if (w != 0) {
        s->nw--;
        if (s->nw == 0) {
            s->w = s->mean = s->m2 = 0;
        } else {
            nw = s->w - w;
            delta = y - s->mean;
            s->mean -= delta * (w / nw);
            s->m2 -= w * delta * (y - s->mean);
            if (s->m2 < 0)
                s->m2 = 0;
            s->w = nw;
        }
    }
    if (s->n == 0)
        memset(s, 0, sizeof *s);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int metrics_alloc(tide_metric_kind kind, size_t window, tide_metrics **out)
{
    tide_metrics *m;
    int rc = TIDE_ERR_NOMEM;
    *out = NULL;
    if (kind != TIDE_METRIC_CLASSIFY && kind != TIDE_METRIC_REGRESS)
        return TIDE_ERR_ARG;
    if (window > TIDE_METRICS_MAX_WINDOW)
        return TIDE_ERR_LIMIT;
    m = calloc(1, sizeof *m);
    if (!m)
        return TIDE_ERR_NOMEM;
    m->kind = kind;
    m->window = window;
    if (cum_init(&m->tc, TIDE_METRICS_AUC_EXACT_KEYS, kind == TIDE_METRIC_CLASSIFY) ||
        tree_init(&m->tw, kind == TIDE_METRIC_CLASSIFY ? (uint32_t)window : 0))
        goto fail;
    if (window) {
        m->ring = malloc(window * sizeof *m->ring);
        if (!m->ring)
            goto fail;
    }
    if (kind == TIDE_METRIC_CLASSIFY && (rc = grow_classes(m, 2)) != TIDE_OK)
        goto fail;
    m->binary = 1;
    *out = m;
    return TIDE_OK;
fail:
    tide_metrics_free(m);
    return rc;
}

int tide_metrics_new(tide_metric_kind kind, size_t window, tide_metrics **out)
{
    return metrics_alloc(kind, window, out);
}

void tide_metrics_free(tide_metrics *m)
{
    if (!m)
        return;
    cum_free(&m->tc);
    tree_free(&m->tw);
    free(m->ring);
    free(m->cls_mem);
    free(m);
}

tide_metric_kind tide_metrics_kind(const tide_metrics *m)
{
    return m->kind;
}

void tide_metrics_reset(tide_metrics *m)
{
    if (!m)
        return;
    cstats_zero(&m->cc, m->class_cap);
    cstats_zero(&m->cw, m->class_cap);
    memset(&m->rc, 0, sizeof m->rc);
    memset(&m->rw, 0, sizeof m->rw);
    cum_clear(&m->tc);
    tree_clear(&m->tw);
    m->n_classes = 0;
    m->binary = 1;
    m->head = m->count = m->evicted = 0;
}

/* ---- adding ------------------------------------------------------------- */

/* Rebuilds the window sums from the ring (called every `window` evictions). */
static void window_rebuild(tide_metrics *m)
{
    m->evicted = 0;
    if (m->kind == TIDE_METRIC_CLASSIFY) {
        cstats_zero(&m->cw, m->class_cap);
        for (size_t i = 0; i < m->count; i++)
            cstats_add(&m->cw, &m->ring[(m->head + i) % m->window], 1.0);
        if (m->binary)
            tree_recompute(&m->tw);
    } else {
        memset(&m->rw, 0, sizeof m->rw);
        for (size_t i = 0; i < m->count; i++) {
            const wentry *e = &m->ring[(m->head + i) % m->window];
            rstats_add(&m->rw, e->a, e->b, e->w);
        }
    }
}

/* Makes one ring slot free (evicting the oldest entry) and returns it. */
static wentry *window_slot(tide_metrics *m)
{
    wentry *e;
    if (m->count == m->window) {
        e = &m->ring[m->head];
        if (m->kind == TIDE_METRIC_CLASSIFY) {
            cstats_add(&m->cw, e, -1.0);
            if (m->binary)
                tree_remove(&m->tw, e->b, e->y == 1, e->w);
        } else {
            rstats_remove(&m->rw, e->a, e->b, e->w);
        }
        m->head = (m->head + 1) % m->window;
        m->count--;
        m->evicted++;
    }
    return &m->ring[(m->head + m->count) % m->window];
}

int tide_metrics_add_class(tide_metrics *m, int y_true, const double *proba, int n_classes,
                           double w)
{
    wentry e;
    int pred = 0, nc;
    double best, py, score;
    if (!m || m->kind != TIDE_METRIC_CLASSIFY)
        return TIDE_ERR_STATE;
    if (!proba || n_classes < 1 || n_classes > TIDE_METRICS_MAX_CLASSES || y_true < 0 ||
        y_true >= TIDE_METRICS_MAX_CLASSES || !(w >= 0) || !isfinite(w))
        return TIDE_ERR_ARG;
    best = proba[0];
    if (isnan(best))
        return TIDE_ERR_ARG;
    for (int c = 1; c < n_classes; c++) {
        if (isnan(proba[c]))
            return TIDE_ERR_ARG;
        if (proba[c] > best) {
            best = proba[c];
            pred = c;
        }
    }
    nc = n_classes > y_true + 1 ? n_classes : y_true + 1;
    if (nc > m->class_cap) {
        int rc = grow_classes(m, nc);
        if (rc)
            return rc;
    }
    if (nc > m->n_classes)
        m->n_classes = nc;
    if (m->n_classes > 2)
        m->binary = 0;

    score = n_classes > 1 ? proba[1] : 0.0;
    if (n_classes == 2 && y_true <= 1) {
        /* binary, as River's LogLoss and sklearn's log_loss: clip p(class 1),
         * then take 1 - p for class 0 */
        py = score < LOGLOSS_EPS ? LOGLOSS_EPS : score > 1 - LOGLOSS_EPS ? 1 - LOGLOSS_EPS : score;
        py = y_true == 1 ? py : 1 - py;
    } else {
        py = y_true < n_classes ? proba[y_true] : 0.0;
        py = py < LOGLOSS_EPS ? LOGLOSS_EPS : py > 1 - LOGLOSS_EPS ? 1 - LOGLOSS_EPS : py;
    }
    score = score < 0 ? 0 : score > 1 ? 1 : score;
    e.a = -log(py);
    e.b = score;
    e.w = w;
    e.y = y_true;
    e.pred = pred;

    if (m->binary) {
        int rc = cum_add(&m->tc, score, y_true == 1, w);
        if (rc)
            return rc;
    }
    cstats_add(&m->cc, &e, 1.0);
    if (m->window) {
        wentry *slot = window_slot(m);
        *slot = e;
        m->count++;
        cstats_add(&m->cw, &e, 1.0);
        if (m->binary)
            (void)tree_add(&m->tw, score, y_true == 1, w);   /* fits: <= window keys */
        if (m->evicted >= m->window)
            window_rebuild(m);
    }
    return TIDE_OK;
}

int tide_metrics_add_reg(tide_metrics *m, double y_true, double y_pred, double w)
{
    if (!m || m->kind != TIDE_METRIC_REGRESS)
        return TIDE_ERR_STATE;
    if (!isfinite(y_true) || !isfinite(y_pred) || !isfinite(w) || w < 0)
        return TIDE_ERR_ARG;
    rstats_add(&m->rc, y_true, y_pred, w);
    if (m->window) {
        wentry *slot = window_slot(m);
        slot->a = y_true;
        slot->b = y_pred;
        slot->w = w;
        slot->y = slot->pred = 0;
        m->count++;
        rstats_add(&m->rw, y_true, y_pred, w);
        if (m->evicted >= m->window)
            window_rebuild(m);
    }
    return TIDE_OK;
}

/* ---- reading ------------------------------------------------------------ */

static double f1_of(const cstats *s, int c)
{
    double d = s->tw[c] + s->pw[c];
    if (s->tn[c] + s->pn[c] == 0 || !(d > 0))
        return 0.0;
    return 2 * s->tp[c] / d;
}

void tide_metrics_get(const tide_metrics *m, int windowed, tide_metric_values *out)
{
    out->n = 0;
    out->accuracy = out->log_loss = out->f1 = out->roc_auc = NAN;
    out->mae = out->rmse = out->r2 = NAN;
    if (!m || (windowed && !m->window))
        return;
    if (m->kind == TIDE_METRIC_CLASSIFY) {
        const cstats *s = windowed ? &m->cw : &m->cc;
        out->n = s->n;
        if (s->n == 0)
            return;
        if (s->w > 0) {
            out->accuracy = s->correct / s->w;
            out->log_loss = s->loss / s->w;
        }
        if (m->binary) {
            out->f1 = m->n_classes >= 2 ? f1_of(s, 1) : 0.0;
            out->roc_auc = windowed ? tree_auc(&m->tw) : cum_auc(&m->tc);
        } else {
            double sum = 0;
            int seen = 0;
            for (int c = 0; c < m->n_classes; c++) {
                if (s->tn[c] + s->pn[c] == 0)
                    continue;
                seen++;
                sum += f1_of(s, c);
            }
            out->f1 = seen ? sum / seen : NAN;
        }
    } else {
        const rstats *s = windowed ? &m->rw : &m->rc;
        out->n = s->n;
        if (s->n == 0 || !(s->w > 0))
            return;
        out->mae = s->abs / s->w;
        out->rmse = sqrt(s->sq > 0 ? s->sq / s->w : 0.0);
        if (s->nw >= 2 && s->m2 > R2_CONST_REL * (s->m2 + s->w * s->mean * s->mean))
            out->r2 = 1.0 - s->sq / s->m2;
    }
}

/* ---- persistence -------------------------------------------------------- */

static void save_tree(const auctree *t, tide_wbuf *b)
{
    tide_wbuf_u32(b, t->used);
    tide_wbuf_u32(b, t->root);
    tide_wbuf_u32(b, t->free_head);
    tide_wbuf_u32(b, t->n_keys);
    tide_wbuf_u64(b, t->rng);
    tide_wbuf_f64(b, t->conc);
    tide_wbuf_f64(b, t->wpos);
    tide_wbuf_f64(b, t->wneg);
    for (uint32_t i = 0; i < t->used; i++) {
        const anode *n = &t->nodes[i];
        const ameta *mt = &t->meta[i];
        tide_wbuf_f64(b, n->key);
        tide_wbuf_f64(b, n->wp);
        tide_wbuf_f64(b, n->wn);
        tide_wbuf_f64(b, n->lp);
        tide_wbuf_f64(b, n->ln);
        tide_wbuf_f64(b, n->sp);
        tide_wbuf_f64(b, n->sn);
        tide_wbuf_u32(b, n->l);
        tide_wbuf_u32(b, n->r);
        tide_wbuf_u32(b, mt->cp);
        tide_wbuf_u32(b, mt->cn);
        tide_wbuf_u32(b, mt->prio);
    }
}

#define NODE_BYTES (7 * 8 + 5 * 4)

/* Checks a loaded pool: every link in range, the tree reachable from root
 * is a search tree (keys strictly increasing in order) no deeper than
 * TREE_MAX_DEPTH, and the rest of the pool is exactly the free list. */
static int check_tree(const auctree *t, tide_err *err)
{
    struct frame { uint32_t x; uint32_t depth; double lo, hi; } st[2 * TREE_MAX_DEPTH + 4];
    size_t sp = 0;
    uint32_t reach = 0, nfree = 0;
    uint8_t *mark = calloc(t->used ? t->used : 1, 1);
    int rc = TIDE_OK;
    if (!mark)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory checking an AUC tree");
    if (t->root != NIL)
        st[sp++] = (struct frame){t->root, 1, -INFINITY, INFINITY};
    while (sp > 0) {
        struct frame f = st[--sp];
        const anode *n;
        if (f.x >= t->used || mark[f.x] || f.depth > TREE_MAX_DEPTH) {
            rc = TIDE_ERR_FORMAT;
            goto done;
        }
        mark[f.x] = 1;
        reach++;
        n = &t->nodes[f.x];
        if (!(n->key > f.lo && n->key < f.hi) || (t->meta[f.x].cp == 0 && t->meta[f.x].cn == 0)) {
            rc = TIDE_ERR_FORMAT;
            goto done;
        }
        if (n->l != NIL)
            st[sp++] = (struct frame){n->l, f.depth + 1, f.lo, n->key};
        if (n->r != NIL)
            st[sp++] = (struct frame){n->r, f.depth + 1, n->key, f.hi};
    }
    for (uint32_t x = t->free_head; x != NIL; x = t->nodes[x].l) {
        if (x >= t->used || mark[x]) {
            rc = TIDE_ERR_FORMAT;
            goto done;
        }
        mark[x] = 1;
        nfree++;
    }
    if (reach != t->n_keys || reach + nfree != t->used)
        rc = TIDE_ERR_FORMAT;
done:
    free(mark);
    if (rc)
        tide_err_set(err, rc, "metrics snapshot: the AUC tree is corrupt");
    return rc;
}

static int load_tree(auctree *t, tide_rbuf *r, tide_err *err)
{
    uint32_t used = tide_rbuf_u32(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
    if (used > t->cap || !tide_rbuf_has(r, (size_t)used * NODE_BYTES))
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "metrics snapshot: AUC tree of %u nodes exceeds the window %u or the data",
                            used, t->cap);
    t->used = used;
    t->root = tide_rbuf_u32(r);
    t->free_head = tide_rbuf_u32(r);
    t->n_keys = tide_rbuf_u32(r);
    t->rng = tide_rbuf_u64(r);
    t->conc = tide_rbuf_f64(r);
    t->wpos = tide_rbuf_f64(r);
    t->wneg = tide_rbuf_f64(r);
    for (uint32_t i = 0; i < used; i++) {
        anode *n = &t->nodes[i];
        ameta *mt = &t->meta[i];
        n->key = tide_rbuf_f64(r);
        n->wp = tide_rbuf_f64(r);
        n->wn = tide_rbuf_f64(r);
        n->lp = tide_rbuf_f64(r);
        n->ln = tide_rbuf_f64(r);
        n->sp = tide_rbuf_f64(r);
        n->sn = tide_rbuf_f64(r);
        n->l = tide_rbuf_u32(r);
        n->r = tide_rbuf_u32(r);
        mt->cp = tide_rbuf_u32(r);
        mt->cn = tide_rbuf_u32(r);
        mt->prio = tide_rbuf_u32(r);
    }
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
    return check_tree(t, err);
}

static void save_cum(const cumauc *c, tide_wbuf *b)
{
    tide_wbuf_u32(b, c->n);
    tide_wbuf_u32(b, c->npend);
    tide_wbuf_u8(b, (uint8_t)c->quant);
    tide_wbuf_f64(b, c->conc);
    tide_wbuf_f64(b, c->wpos);
    tide_wbuf_f64(b, c->wneg);
    for (uint32_t i = 0; i < c->n; i++) {
        tide_wbuf_f64(b, c->keys[i].key);
        tide_wbuf_f64(b, c->keys[i].wp);
        tide_wbuf_f64(b, c->keys[i].wn);
    }
    for (uint32_t i = 0; i < c->npend; i++) {
        tide_wbuf_f64(b, c->pend[i].s);
        tide_wbuf_f64(b, c->pend[i].w);
        tide_wbuf_u8(b, (uint8_t)c->pend[i].pos);
    }
}

/* Keys strictly increasing (so merges stay sorted), counts within bounds. */
static int load_cum(cumauc *c, tide_rbuf *r, tide_err *err)
{
    uint32_t n = tide_rbuf_u32(r), np = tide_rbuf_u32(r);
    uint8_t quant = tide_rbuf_u8(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
    if (n > c->max_keys || np >= CUM_PEND || quant > 1 ||
        !tide_rbuf_has(r, 24 + (size_t)n * 24 + (size_t)np * 17))
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "metrics snapshot: cumulative AUC of %u keys and %u pending exceeds "
                            "the bounds (%u, %u) or the data", n, np, c->max_keys, CUM_PEND - 1);
    if (cum_reserve(c, n))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory loading the cumulative AUC");
    c->quant = quant;
    c->conc = tide_rbuf_f64(r);
    c->wpos = tide_rbuf_f64(r);
    c->wneg = tide_rbuf_f64(r);
    for (uint32_t i = 0; i < n; i++) {
        c->keys[i].key = tide_rbuf_f64(r);
        c->keys[i].wp = tide_rbuf_f64(r);
        c->keys[i].wn = tide_rbuf_f64(r);
        if (!(c->keys[i].key >= 0 && c->keys[i].key <= 1) ||
            (i > 0 && !(c->keys[i].key > c->keys[i - 1].key)))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: cumulative AUC key %u is out of order", i);
    }
    c->n = n;
    for (uint32_t i = 0; i < np; i++) {
        c->pend[i].s = tide_rbuf_f64(r);
        c->pend[i].w = tide_rbuf_f64(r);
        c->pend[i].pos = tide_rbuf_u8(r) != 0;
        c->pend[i].pad = 0;
        if (!(c->pend[i].s >= 0 && c->pend[i].s <= 1))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: pending AUC score %u is out of range", i);
    }
    c->npend = np;
    return TIDE_OK;
}

static void save_cstats(const cstats *s, int nc, tide_wbuf *b)
{
    tide_wbuf_u64(b, s->n);
    tide_wbuf_f64(b, s->w);
    tide_wbuf_f64(b, s->correct);
    tide_wbuf_f64(b, s->loss);
    for (int c = 0; c < nc; c++) {
        tide_wbuf_f64(b, s->tp[c]);
        tide_wbuf_f64(b, s->tw[c]);
        tide_wbuf_f64(b, s->pw[c]);
        tide_wbuf_u64(b, s->tn[c]);
        tide_wbuf_u64(b, s->pn[c]);
    }
}

static void load_cstats(cstats *s, int nc, tide_rbuf *r)
{
    s->n = tide_rbuf_u64(r);
    s->w = tide_rbuf_f64(r);
    s->correct = tide_rbuf_f64(r);
    s->loss = tide_rbuf_f64(r);
    for (int c = 0; c < nc; c++) {
        s->tp[c] = tide_rbuf_f64(r);
        s->tw[c] = tide_rbuf_f64(r);
        s->pw[c] = tide_rbuf_f64(r);
        s->tn[c] = tide_rbuf_u64(r);
        s->pn[c] = tide_rbuf_u64(r);
    }
}

static void save_rstats(const rstats *s, tide_wbuf *b)
{
    tide_wbuf_u64(b, s->n);
    tide_wbuf_u64(b, s->nw);
    tide_wbuf_f64(b, s->w);
    tide_wbuf_f64(b, s->abs);
    tide_wbuf_f64(b, s->sq);
    tide_wbuf_f64(b, s->mean);
    tide_wbuf_f64(b, s->m2);
}

static void load_rstats(rstats *s, tide_rbuf *r)
{
    s->n = tide_rbuf_u64(r);
    s->nw = tide_rbuf_u64(r);
    s->w = tide_rbuf_f64(r);
    s->abs = tide_rbuf_f64(r);
    s->sq = tide_rbuf_f64(r);
    s->mean = tide_rbuf_f64(r);
    s->m2 = tide_rbuf_f64(r);
}

/*
 * Layout (format 2, little-endian): u32 magic "TMET", u32 format, u8 kind,
 * u64 window, u32 n_classes, u8 binary, u64 count, u64 evicted;
 * classification: cumulative and windowed class sums, cumulative AUC
 * (sorted keys + pending buffer), windowed AUC treap pool (if window);
 * regression: cumulative and windowed sums;
 * then the ring, oldest first (count entries of 3 f64 + 2 u32); then
 * u64 xxh64 of everything from the magic on. The state is written verbatim
 * so a loaded object continues bit for bit like the saved one.
 */
int tide_metrics_save(const tide_metrics *m, tide_wbuf *b)
{
    size_t start = b->len;
    tide_wbuf_u32(b, METRICS_MAGIC);
    tide_wbuf_u32(b, METRICS_FORMAT);
    tide_wbuf_u8(b, (uint8_t)m->kind);
    tide_wbuf_u64(b, m->window);
    tide_wbuf_u32(b, (uint32_t)m->n_classes);
    tide_wbuf_u8(b, (uint8_t)m->binary);
    tide_wbuf_u64(b, m->count);
    tide_wbuf_u64(b, m->evicted);
    if (m->kind == TIDE_METRIC_CLASSIFY) {
        save_cstats(&m->cc, m->n_classes, b);
        save_cstats(&m->cw, m->n_classes, b);
        save_cum(&m->tc, b);
        if (m->window)
            save_tree(&m->tw, b);
    } else {
        save_rstats(&m->rc, b);
        save_rstats(&m->rw, b);
    }
    for (size_t i = 0; i < m->count; i++) {
        const wentry *e = &m->ring[(m->head + i) % m->window];
        tide_wbuf_f64(b, e->a);
        tide_wbuf_f64(b, e->b);
        tide_wbuf_f64(b, e->w);
        tide_wbuf_u32(b, (uint32_t)e->y);
        tide_wbuf_u32(b, (uint32_t)e->pred);
    }
    if (b->oom)
        return TIDE_ERR_NOMEM;
    tide_wbuf_u64(b, tide_checksum(b->data + start, b->len - start));
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

int tide_metrics_load(tide_rbuf *r, tide_metrics **out, tide_err *err)
{
    size_t start = r->pos, body;
    uint32_t magic, format, nc;
    uint8_t kind, binary;
    uint64_t window, count, evicted, sum;
    tide_metrics *m = NULL;
    int rc;
    *out = NULL;
    magic = tide_rbuf_u32(r);
    format = tide_rbuf_u32(r);
    if (r->bad || magic != METRICS_MAGIC)
        return tide_err_set(err, TIDE_ERR_FORMAT, "not a tide metrics snapshot (bad magic)");
    if (format != METRICS_FORMAT)
        return tide_err_set(err, TIDE_ERR_VERSION,
                            "metrics snapshot format %u is not supported (this build reads %u)",
                            format, METRICS_FORMAT);
    kind = tide_rbuf_u8(r);
    window = tide_rbuf_u64(r);
    nc = tide_rbuf_u32(r);
    binary = tide_rbuf_u8(r);
    count = tide_rbuf_u64(r);
    evicted = tide_rbuf_u64(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
    if (kind != TIDE_METRIC_CLASSIFY && kind != TIDE_METRIC_REGRESS)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot: unknown kind %u", kind);
    if (window > TIDE_METRICS_MAX_WINDOW || count > window || evicted > window ||
        nc > TIDE_METRICS_MAX_CLASSES || binary > 1 ||
        (kind == TIDE_METRIC_CLASSIFY && binary != (nc <= 2)))
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "metrics snapshot: window %llu, count %llu or %u classes out of bounds",
                            (unsigned long long)window, (unsigned long long)count, nc);
    rc = metrics_alloc((tide_metric_kind)kind, (size_t)window, &m);
    if (rc)
        return tide_err_set(err, rc, "out of memory loading metrics (window %llu)",
                            (unsigned long long)window);
    m->binary = binary;
    if (kind == TIDE_METRIC_CLASSIFY) {
        if ((int)nc > m->class_cap && (rc = grow_classes(m, (int)nc)) != TIDE_OK) {
            tide_err_set(err, rc, "out of memory loading metrics (%u classes)", nc);
            goto fail;
        }
        m->n_classes = (int)nc;
        if (!tide_rbuf_has(r, 2 * (32 + (size_t)nc * 40))) {
            rc = tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
            goto fail;
        }
        load_cstats(&m->cc, m->n_classes, r);
        load_cstats(&m->cw, m->n_classes, r);
        if ((rc = load_cum(&m->tc, r, err)) != TIDE_OK)
            goto fail;
        if (window && (rc = load_tree(&m->tw, r, err)) != TIDE_OK)
            goto fail;
    } else {
        load_rstats(&m->rc, r);
        load_rstats(&m->rw, r);
    }
    if (!tide_rbuf_has(r, (size_t)count * 32)) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        wentry *e = &m->ring[i];
        e->a = tide_rbuf_f64(r);
        e->b = tide_rbuf_f64(r);
        e->w = tide_rbuf_f64(r);
        e->y = (int32_t)tide_rbuf_u32(r);
        e->pred = (int32_t)tide_rbuf_u32(r);
        if (!(e->w >= 0) || !isfinite(e->w) ||
            (kind == TIDE_METRIC_CLASSIFY &&
             (e->y < 0 || e->y >= (int)nc || e->pred < 0 || e->pred >= (int)nc ||
              !(e->b >= 0 && e->b <= 1)))) {
            rc = tide_err_set(err, TIDE_ERR_FORMAT,
                              "metrics snapshot: window entry %zu is out of range", i);
            goto fail;
        }
    }
    m->count = (size_t)count;
    m->evicted = (size_t)evicted;
    body = r->pos - start;
    sum = tide_rbuf_u64(r);
    if (r->bad) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
        goto fail;
    }
    if (sum != tide_checksum(r->data + start, body)) {
        rc = tide_err_set(err, TIDE_ERR_CHECKSUM, "metrics snapshot checksum mismatch");
        goto fail;
    }
    *out = m;
    return TIDE_OK;
fail:
    tide_metrics_free(m);
    return rc;
}
