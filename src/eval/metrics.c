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
 *    Windowed: computed when asked. get() copies the window's scores,
 *    sorts them with a radix sort on their bits and sums the pairs in one
 *    pass, so the value is exact over the window, adds stay O(1), and get()
 *    costs O(window) time and 48 bytes per window slot of transient memory.
 *    (Commit 2540710 kept an order-statistics treap instead: O(log window)
 *    per add, O(1) get, but it cost ~12 % of a whole `tide replay`.)
 *    Cumulative: a sorted array of K distinct scores with their positive /
 *    negative weights, plus a buffer of the last examples, about K/2 of them
 *    (4096 to 32768). When the buffer is full it is radix-sorted and merged
 *    in one pass: O(1) amortised per add (a merge visits the K keys once
 *    per K/2 adds). The pair sum is not kept: get() computes it in one pass
 *    over the keys and a sorted copy of the buffer (O(K)).
 *    The cumulative AUC is exact until the array holds more than
 *    TIDE_METRICS_AUC_EXACT_KEYS distinct scores. The object then switches
 *    once to a dense histogram of the weights per cell of a 1/2^15 grid
 *    (2^15 + 1 cells, 512 KB; the keys and most of the buffer are freed),
 *    remembering the exact pair sum of the examples so far and their pair
 *    sum on the grid. An add is then a cell index and one addition (made
 *    8 adds later, after a prefetch: grid_add); get() sums the histogram's
 *    pairs in one pass. Pairs between two examples
 *    from before the switch stay exact; a pair with a later example
 *    counts as a tie when both scores fall in the same 2^-15-wide cell, so
 *    the error is at most ½ · (weight of such pairs) / (W+ · W-). (The same
 *    value as format 3's design, which merged the later examples as grid
 *    keys; the bits: see the cumulative AUC section below.)
 *    Memory: 48 bytes per distinct score (array + merge scratch), at most
 *    ~3.5 MB, plus the buffer (48 bytes per slot with its sort scratch:
 *    192 KB, growing to at most 1.5 MB with the keys) until the switch;
 *    then 512 KB + 192 KB.
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

#define LOGLOSS_EPS 1e-15
#define AUC_QUANT_GRID 32768.0       /* 2^15 bins after the exact budget */
#define AUC_CELLS 32769u             /* grid cells 0 .. 2^15 (score 1 is the last) */
#define R2_CONST_REL 1e-12
#define METRICS_MAGIC 0x54454d54u    /* "TMET" little-endian */
#define METRICS_FORMAT 4u            /* 3 still loads */

/* Cumulative AUC state (see the cumulative AUC section below): the pending
 * buffer holds between CUM_PEND_MIN and CUM_PEND_MAX examples, about half
 * the number of merged keys (cum_limit). */
#define CUM_PEND_MIN 4096u
#define CUM_PEND_MAX 32768u

typedef struct ckey {
    double key;      /* score, strictly increasing along the array */
    double wp, wn;   /* weight of positives / negatives with this score */
} ckey;

typedef struct cpend {
    double s;        /* score */
    double w;        /* weight */
    int32_t pos;     /* 1 = class 1 */
    int32_t pad;
} cpend;

/* A grid add waiting to be applied: hist[idx] += w (see grid_add). */
#define GRID_LAG 8u   /* adds between the prefetch of a cell and its update */
typedef struct glag {
    uint32_t idx;    /* 2 * cell + (1 = negative) */
    uint32_t pad;
    double w;
} glag;

typedef struct cumauc {
    /* exact phase */
    ckey *keys;      /* n sorted distinct keys, cap allocated, owned */
    ckey *tmp;       /* merge scratch of cap entries, owned */
    uint32_t n, cap;
    uint32_t max_keys;   /* exact budget, then the 2^-15 grid */
    cpend *pend;     /* pcap slots + pcap of sort scratch, owned */
    uint32_t npend, pcap;
    /* grid phase (quant): */
    double *hist;    /* 2 * AUC_CELLS: [2c] positive, [2c + 1] negative weight
                      * of grid cell c, every example so far; owned */
    double conc;     /* exact pair sum of the examples merged before the switch */
    double snap;     /* the same examples' pair sum on the grid */
    glag lag[GRID_LAG];  /* the last nlag adds, not yet in hist (a ring) */
    uint32_t nlag, lagpos;   /* lagpos: adds so far (mod 2^32); the oldest
                              * waiting add is at (lagpos - nlag) % GRID_LAG */
    int quant;       /* 1 once the budget is spent: examples go to hist */
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
    cstats cc;              /* classification: cumulative */
    rstats rc;              /* regression: cumulative */
    cumauc tc;              /* AUC: cumulative (windowed AUC: sorted from the ring) */
    wentry *ring;           /* window entries, owned */
    size_t head;            /* index of the oldest entry */
    size_t count;           /* entries in the ring */
    double *cls_mem;        /* one block for the 5 per-class arrays, owned */
};

/* ---- cumulative AUC: sorted keys + pending buffer, then a grid histogram -- */

/* Grid cell of a score in [0, 1]: floor(s * 2^15) (s * 2^15 is exact and
 * non-negative, so the conversion truncates to the floor). */
static inline uint32_t grid_cell(double s)
{
    return (uint32_t)(s * AUC_QUANT_GRID);
}

/* Exact phase. The pair sum is a function of the multiset of (score, class,
 * weight), so it is not kept up to date: examples wait in a buffer of
 * cum_limit (about K/2) slots; a full buffer is radix-sorted and merged into
 * a sorted array of K distinct keys with their positive / negative weights
 * in one sequential pass (O(1) amortised per add, without the cache misses
 * of a tree descent). get() sums the pairs in one pass over the keys and a
 * sorted copy of the buffer (O(K)).
 *
 * Grid phase. The merge that takes the array past max_keys distinct scores
 * switches the object to a dense histogram of (Σw+, Σw-) over the 2^15 + 1
 * cells of the 2^-15 grid: conc = the exact pair sum of the examples merged
 * so far, snap = their pair sum on the grid. Afterwards an add is a cell
 * index and one addition, and get() is
 *     conc + (pairs of the histogram - snap)
 * in one pass over the cells: pairs between two earlier examples stay
 * exact, every pair with a later example counts on the grid (same cell =
 * tie). This is the value the earlier design (later examples quantised and
 * merged into grid keys, 2^-15 ties) gave; with weights whose products and
 * sums are exact in binary64 (unit weights, small integers or halves, below
 * 2^52 in total) the bits are the same, other weights are rounded in
 * another order. */
static void cum_clear(cumauc *c)
{
    c->n = 0;
    c->npend = 0;
    c->conc = c->snap = 0;
    c->nlag = c->lagpos = 0;
    c->quant = 0;
    free(c->hist);
    c->hist = NULL;
}

static int cum_init(cumauc *c, uint32_t max_keys, int active)
{
    memset(c, 0, sizeof *c);
    c->max_keys = max_keys;
    if (active) {
        if (!(c->pend = malloc(2 * CUM_PEND_MIN * sizeof *c->pend)))   /* + radix scratch */
            return TIDE_ERR_NOMEM;
        c->pcap = CUM_PEND_MIN;
    }
    return TIDE_OK;
}

/* Examples buffered before a merge: about half the merged keys (a merge
 * costs O(keys + buffer), so this keeps it O(1) amortised per add), within
 * [CUM_PEND_MIN, CUM_PEND_MAX]. A function of the saved key count only, so
 * a reloaded object merges (and switches to the grid) at the same points as
 * the original. */
static uint32_t cum_limit_n(uint32_t n_keys)
{
    uint32_t lim = CUM_PEND_MIN;
    while (lim < CUM_PEND_MAX && lim < n_keys / 2)
        lim *= 2;
    return lim;
}

static uint32_t cum_limit(const cumauc *c)
{
    return cum_limit_n(c->n);
}

/* Grows the pending buffer (and its sort scratch) to hold cum_limit. */
static int cum_pend_reserve(cumauc *c)
{
    uint32_t lim = cum_limit(c);
    cpend *p;
    if (lim <= c->pcap)
        return TIDE_OK;
    if (!(p = malloc(2 * (size_t)lim * sizeof *p)))
        return TIDE_ERR_NOMEM;
    if (c->npend)
        memcpy(p, c->pend, c->npend * sizeof *p);
    free(c->pend);
    c->pend = p;
    c->pcap = lim;
    return TIDE_OK;
}

static void cum_free(cumauc *c)
{
    free(c->keys);
    free(c->tmp);
    free(c->pend);
    free(c->hist);
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

/* Pair sum Σ_{pos i, neg j} w_i w_j ([s_i > s_j] + ½[s_i = s_j]) of the
 * union of the sorted keys k[0..n) and the sorted examples p[0..np), in one
 * ascending pass over the distinct scores; *wp, *wn receive the positive and
 * negative weights. */
static double pairs_sorted(const ckey *k, uint32_t n, const cpend *p, uint32_t np, double *wp,
                           double *wn)
{
    double conc = 0, nb = 0, pw = 0;
    uint32_t i = 0, j = 0;
    while (i < np || j < n) {
        double s, gp = 0, gn = 0;
        if (j < n && (i >= np || k[j].key <= p[i].s)) {
            s = k[j].key;
            gp = k[j].wp;
            gn = k[j].wn;
            j++;
        } else {
            s = p[i].s;
        }
        for (; i < np && p[i].s == s; i++) {
            if (p[i].pos)
                gp += p[i].w;
            else
                gn += p[i].w;
        }
        conc += gp * (nb + 0.5 * gn);
        nb += gn;
        pw += gp;
    }
    *wp = pw;
    *wn = nb;
    return conc;
}

/* Grid adds are applied GRID_LAG adds late: an add prefetches its cell and
 * applies the add made GRID_LAG adds before it, whose cell has arrived in
 * the cache by then. (Applied at once, the update waited on a cache miss
 * in most rows of a replay: the 512 KB histogram does not stay cached next
 * to the learner's weights.) Each cell still receives its adds in arrival
 * order, so the sums are the same bits. */
static inline void grid_add(cumauc *c, uint32_t idx, double w)
{
    glag *g = &c->lag[c->lagpos % GRID_LAG];
    __builtin_prefetch(&c->hist[idx], 1);
    if (c->nlag == GRID_LAG)
        c->hist[g->idx] += g->w;
    else
        c->nlag++;
    g->idx = idx;
    g->w = w;
    c->lagpos++;
}

/* The waiting adds, oldest first, stably sorted by index (insertion sort of
 * at most GRID_LAG): so a reader can apply them in arrival order per cell. */
static uint32_t lag_sorted(const cumauc *c, glag *out)
{
    uint32_t n = c->nlag;
    for (uint32_t k = 0; k < n; k++) {
        glag g = c->lag[(c->lagpos - n + k) % GRID_LAG];
        uint32_t j = k;
        for (; j > 0 && out[j - 1].idx > g.idx; j--)
            out[j] = out[j - 1];
        out[j] = g;
    }
    return n;
}

/* Weights of grid cell `cell` with the waiting adds applied; *li walks the
 * sorted lag lg[0..nl) along increasing cells. */
static inline void cell_weights(const cumauc *c, uint32_t cell, const glag *lg, uint32_t nl,
                                uint32_t *li, double *wp, double *wn)
{
    double p = c->hist[2 * cell], n = c->hist[2 * cell + 1];
    for (; *li < nl && lg[*li].idx >> 1 == cell; ++*li) {
        if (lg[*li].idx & 1)
            n += lg[*li].w;
        else
            p += lg[*li].w;
    }
    *wp = p;
    *wn = n;
}

/* The same pair sum over the grid histogram (cells in score order). */
static double pairs_hist(const cumauc *c, double *wp, double *wn)
{
    glag lg[GRID_LAG];
    uint32_t nl = lag_sorted(c, lg), li = 0;
    double conc = 0, nb = 0, pw = 0;
    for (uint32_t k = 0; k < AUC_CELLS; k++) {
        double gp, gn;
        cell_weights(c, k, lg, nl, &li, &gp, &gn);
        conc += gp * (nb + 0.5 * gn);
        nb += gn;
        pw += gp;
    }
    *wp = pw;
    *wn = nb;
    return conc;
}

/* The exact budget is spent: the merged keys become the grid histogram
 * (c->hist, zeroed, is allocated by the caller). The keys and the merge
 * scratch are freed and the buffer shrinks back to its minimum. */
static void cum_to_grid(cumauc *c)
{
    double wp, wn;
    cpend *p;
    c->conc = pairs_sorted(c->keys, c->n, NULL, 0, &wp, &wn);
    for (uint32_t k = 0; k < c->n; k++) {
        uint32_t cell = grid_cell(c->keys[k].key);
        c->hist[2 * cell] += c->keys[k].wp;
        c->hist[2 * cell + 1] += c->keys[k].wn;
    }
    c->nlag = c->lagpos = 0;
    c->snap = pairs_hist(c, &wp, &wn);
    free(c->keys);
    free(c->tmp);
    c->keys = c->tmp = NULL;
    c->n = c->cap = 0;
    c->npend = 0;
    if (c->pcap > CUM_PEND_MIN && (p = realloc(c->pend, 2 * CUM_PEND_MIN * sizeof *p))) {
        c->pend = p;
        c->pcap = CUM_PEND_MIN;
    }
    c->quant = 1;
}

/* Sorts and merges the pending buffer into the keys; switches to the grid
 * when they exceed the budget. */
static int cum_flush(cumauc *c)
{
    uint32_t np = c->npend, i = 0, j = 0, m = 0;
    cpend *p = c->pend;
    int rc;
    if (np == 0)
        return TIDE_OK;
    if ((rc = cum_reserve(c, c->n + np)) != TIDE_OK)
        return rc;
    if (c->n + np > c->max_keys && !c->hist &&
        !(c->hist = calloc(2 * (size_t)AUC_CELLS, sizeof *c->hist)))
        return TIDE_ERR_NOMEM;   /* before any change: the add can be retried */
    sort_pend(p, c->pend + c->pcap, np);
    while (i < np || j < c->n) {
        if (j < c->n && (i >= np || c->keys[j].key < p[i].s)) {
            c->tmp[m++] = c->keys[j++];
            continue;
        }
        ckey e = {p[i].s, 0, 0};
        if (j < c->n && c->keys[j].key == p[i].s)
            e = c->keys[j++];
        for (double s = p[i].s; i < np && p[i].s == s; i++) {
            if (p[i].pos)
                e.wp += p[i].w;
            else
                e.wn += p[i].w;
        }
        c->tmp[m++] = e;
    }
    ckey *sw = c->keys;
    c->keys = c->tmp;
    c->tmp = sw;
    c->n = m;
    c->npend = 0;
    if (c->n > c->max_keys)
        cum_to_grid(c);
    return TIDE_OK;
}

static int cum_add_exact(cumauc *c, double s, int pos, double w)
{
    if (c->npend >= cum_limit(c)) {
        int rc = cum_flush(c);
        if (rc == TIDE_OK && !c->quant)
            rc = cum_pend_reserve(c);
        if (rc)
            return rc;
        if (c->quant) {
            grid_add(c, 2 * grid_cell(s) + !pos, w);
            return TIDE_OK;
        }
    }
    c->pend[c->npend].s = s;
    c->pend[c->npend].w = w;
    c->pend[c->npend].pos = pos;
    c->pend[c->npend].pad = 0;
    c->npend++;
    return TIDE_OK;
}

/* s in [0, 1] (+0.0 for zero), w >= 0 and finite. */
static inline int cum_add(cumauc *c, double s, int pos, double w)
{
    if (c->quant) {
        grid_add(c, 2 * grid_cell(s) + !pos, w);
        return TIDE_OK;
    }
    return cum_add_exact(c, s, pos, w);
}

static double cum_auc(const cumauc *c)
{
    double conc, wp, wn;
    if (c->quant) {
        conc = c->conc + (pairs_hist(c, &wp, &wn) - c->snap);
    } else {
        cpend *p = NULL;
        if (c->npend) {
            if (!(p = malloc(2 * (size_t)c->npend * sizeof *p)))
                return NAN;
            memcpy(p, c->pend, c->npend * sizeof *p);
            sort_pend(p, p + c->npend, c->npend);
        }
        conc = pairs_sorted(c->keys, c->n, p, c->npend, &wp, &wn);
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
    cstats oc = m->cc;
    if (need > TIDE_METRICS_MAX_CLASSES)
        return TIDE_ERR_LIMIT;
    while (cap < need)
        cap *= 2;
    if (cap > TIDE_METRICS_MAX_CLASSES)
        cap = TIDE_METRICS_MAX_CLASSES;
    mem = calloc((size_t)cap * 5, sizeof *mem);
    if (!mem)
        return TIDE_ERR_NOMEM;
    cstats_bind(&m->cc, mem, cap);
    if (m->class_cap) {
        size_t n = (size_t)m->class_cap;
        memcpy(m->cc.tp, oc.tp, n * sizeof(double));
        memcpy(m->cc.tw, oc.tw, n * sizeof(double));
        memcpy(m->cc.pw, oc.pw, n * sizeof(double));
        memcpy(m->cc.tn, oc.tn, n * sizeof(uint64_t));
        memcpy(m->cc.pn, oc.pn, n * sizeof(uint64_t));
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

static void cstats_add(cstats *s, const wentry *e)
{
    double w = e->w;
    s->n++;
    s->w += w;
    s->loss += w * e->a;
    s->tw[e->y] += w;
    s->pw[e->pred] += w;
    s->tn[e->y]++;
    s->pn[e->pred]++;
    if (e->y == e->pred) {
        s->correct += w;
        s->tp[e->y] += w;
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
    if (cum_init(&m->tc, TIDE_METRICS_AUC_EXACT_KEYS, kind == TIDE_METRIC_CLASSIFY))
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
    memset(&m->rc, 0, sizeof m->rc);
    cum_clear(&m->tc);
    m->n_classes = 0;
    m->binary = 1;
    m->head = m->count = 0;
}

/* ---- adding ------------------------------------------------------------- */

/* Rebuilds the window sums from the ring (called every `window` evictions). */
/* The window's sums, computed when asked from the ring, oldest first (the
 * same order every time, so the same bits for the same window): an add only
 * writes its ring slot. (Sums kept up to date on every add, with a rebuild
 * every `window` evictions against rounding drift, cost three class-sum
 * updates per add: ~2 % of a whole `tide replay`.) *mem receives the
 * per-class arrays (caller frees); NOMEM if they cannot be allocated. */
static int window_class_stats(const tide_metrics *m, cstats *s, double **mem)
{
    *mem = calloc((size_t)m->class_cap * 5, sizeof **mem);
    if (!*mem)
        return TIDE_ERR_NOMEM;
    cstats_bind(s, *mem, m->class_cap);
    s->n = 0;
    s->w = s->correct = s->loss = 0;
    for (size_t i = 0; i < m->count; i++)
        cstats_add(s, &m->ring[(m->head + i) % m->window]);
    return TIDE_OK;
}

static void window_reg_stats(const tide_metrics *m, rstats *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < m->count; i++) {
        const wentry *e = &m->ring[(m->head + i) % m->window];
        rstats_add(s, e->a, e->b, e->w);
    }
}

/* Makes one ring slot free (evicting the oldest entry) and returns it. */
static wentry *window_slot(tide_metrics *m)
{
    if (m->count == m->window) {
        m->head = (m->head + 1) % m->window;
        m->count--;
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
    if (n_classes == 2 && (unsigned)y_true <= 1u && m->binary && proba) {
        /* a binary task: the general path below without its class loop and
         * class-count updates (2 classes fit, binary stays 1) */
        double p0 = proba[0], p1 = proba[1];
        if (isnan(p0) || isnan(p1) || !(w >= 0) || !isfinite(w))
            return TIDE_ERR_ARG;
        if (m->n_classes < 2)
            m->n_classes = 2;
        pred = p1 > p0;
        score = p1;
        py = score < LOGLOSS_EPS ? LOGLOSS_EPS : score > 1 - LOGLOSS_EPS ? 1 - LOGLOSS_EPS : score;
        py = y_true == 1 ? py : 1 - py;
        goto scored;
    }
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
scored:
    score = score > 0 ? (score < 1 ? score : 1.0) : 0.0;   /* also -0.0 -> +0.0 (radix sort) */
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
    cstats_add(&m->cc, &e);
    if (m->window) {
        wentry *slot = window_slot(m);
        *slot = e;
        m->count++;
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
    }
    return TIDE_OK;
}

/* Windowed AUC, exact: the window's scores are copied, radix-sorted and
 * scanned once (O(window)); adds stay O(1). NaN if the copy cannot be
 * allocated. */
static double window_auc(const tide_metrics *m)
{
    cpend *p;
    double wp = 0, wn = 0, conc, swp, swn;
    uint32_t n = (uint32_t)m->count;
    if (n == 0)
        return NAN;
    p = malloc(2 * (size_t)n * sizeof *p);
    if (!p)
        return NAN;
    for (uint32_t i = 0; i < n; i++) {
        const wentry *e = &m->ring[(m->head + i) % m->window];
        p[i].s = e->b;
        p[i].w = e->w;
        p[i].pos = e->y == 1;
        p[i].pad = 0;
        if (p[i].pos)
            wp += e->w;
        else
            wn += e->w;
    }
    sort_pend(p, p + n, n);
    conc = pairs_sorted(NULL, 0, p, n, &swp, &swn);   /* wp, wn: summed in ring order */
    free(p);
    if (!(wp > 0) || !(wn > 0))
        return NAN;
    return conc / (wp * wn);
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
        cstats ws;
        double *wmem = NULL;
        const cstats *s = &m->cc;
        if (windowed) {
            if (window_class_stats(m, &ws, &wmem))
                return;
            s = &ws;
        }
        out->n = s->n;
        if (s->n == 0) {
            free(wmem);
            return;
        }
        if (s->w > 0) {
            out->accuracy = s->correct / s->w;
            out->log_loss = s->loss / s->w;
        }
        if (m->binary) {
            out->f1 = m->n_classes >= 2 ? f1_of(s, 1) : 0.0;
            out->roc_auc = windowed ? window_auc(m) : cum_auc(&m->tc);
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
        free(wmem);
    } else {
        rstats ws;
        const rstats *s = &m->rc;
        if (windowed) {
            window_reg_stats(m, &ws);
            s = &ws;
        }
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

/* Format 4: u8 grid flag; exact phase: u32 keys, u32 pending, the keys
 * (f64 score, f64 w+, f64 w-) and the pending examples (f64 score, f64 w,
 * u8 positive); grid phase: f64 conc, f64 snap, u32 non-empty cells, each
 * as u32 cell, f64 w+, f64 w- (cells increasing). */
static void save_cum(const cumauc *c, tide_wbuf *b)
{
    tide_wbuf_u8(b, (uint8_t)c->quant);
    if (c->quant) {
        /* the waiting adds applied (in arrival order per cell, as they will
         * be): the loaded object continues with the same sums */
        glag lg[GRID_LAG];
        uint32_t nz = 0, nl = lag_sorted(c, lg), li = 0;
        double wp, wn;
        tide_wbuf_f64(b, c->conc);
        tide_wbuf_f64(b, c->snap);
        for (uint32_t k = 0; k < AUC_CELLS; k++) {
            cell_weights(c, k, lg, nl, &li, &wp, &wn);
            nz += wp != 0 || wn != 0;
        }
        tide_wbuf_u32(b, nz);
        li = 0;
        for (uint32_t k = 0; k < AUC_CELLS; k++) {
            cell_weights(c, k, lg, nl, &li, &wp, &wn);
            if (wp == 0 && wn == 0)
                continue;
            tide_wbuf_u32(b, k);
            tide_wbuf_f64(b, wp);
            tide_wbuf_f64(b, wn);
        }
        return;
    }
    tide_wbuf_u32(b, c->n);
    tide_wbuf_u32(b, c->npend);
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

static int weight_ok(double w)
{
    return w >= 0 && isfinite(w);
}

/* Keys (sorted, distinct, in [0, 1]) and pending examples of the exact
 * phase; for format 3 also its grid-phase keys. */
static int load_keys(cumauc *c, tide_rbuf *r, uint32_t n, tide_err *err)
{
    if (cum_reserve(c, n))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory loading the cumulative AUC");
    for (uint32_t i = 0; i < n; i++) {
        c->keys[i].key = tide_rbuf_f64(r);
        c->keys[i].wp = tide_rbuf_f64(r);
        c->keys[i].wn = tide_rbuf_f64(r);
        if (!(c->keys[i].key >= 0 && c->keys[i].key <= 1) ||
            (i > 0 && !(c->keys[i].key > c->keys[i - 1].key)))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: cumulative AUC key %u is out of order", i);
        if (!weight_ok(c->keys[i].wp) || !weight_ok(c->keys[i].wn))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: cumulative AUC key %u has a bad weight", i);
    }
    c->n = n;
    return TIDE_OK;
}

static int load_pend(cumauc *c, tide_rbuf *r, uint32_t np, tide_err *err)
{
    if (cum_pend_reserve(c))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory loading the cumulative AUC");
    for (uint32_t i = 0; i < np; i++) {
        c->pend[i].s = tide_rbuf_f64(r);
        c->pend[i].w = tide_rbuf_f64(r);
        c->pend[i].pos = tide_rbuf_u8(r) != 0;
        c->pend[i].pad = 0;
        if (c->pend[i].s == 0)
            c->pend[i].s = 0.0;   /* -0.0 would sort last by its bits */
        if (!(c->pend[i].s >= 0 && c->pend[i].s <= 1) || !weight_ok(c->pend[i].w))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: pending AUC example %u is out of range", i);
    }
    c->npend = np;
    return TIDE_OK;
}

static int alloc_hist(cumauc *c, tide_err *err)
{
    if (!(c->hist = calloc(2 * (size_t)AUC_CELLS, sizeof *c->hist)))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory loading the cumulative AUC");
    return TIDE_OK;
}

static int load_cum(cumauc *c, tide_rbuf *r, tide_err *err)
{
    uint8_t quant = tide_rbuf_u8(r);
    int rc;
    if (r->bad || quant > 1)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot: bad cumulative AUC block");
    if (quant) {
        double conc = tide_rbuf_f64(r), snap = tide_rbuf_f64(r);
        uint32_t nz = tide_rbuf_u32(r);
        if (r->bad || nz > AUC_CELLS || !tide_rbuf_has(r, (size_t)nz * 20) ||
            !weight_ok(conc) || !weight_ok(snap))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: cumulative AUC grid of %u cells exceeds the "
                                "bounds (%u) or the data", nz, AUC_CELLS);
        if ((rc = alloc_hist(c, err)) != TIDE_OK)
            return rc;
        for (uint32_t i = 0, prev = 0; i < nz; i++) {
            uint32_t k = tide_rbuf_u32(r);
            double wp = tide_rbuf_f64(r), wn = tide_rbuf_f64(r);
            if (k >= AUC_CELLS || (i > 0 && k <= prev) || !weight_ok(wp) || !weight_ok(wn))
                return tide_err_set(err, TIDE_ERR_FORMAT,
                                    "metrics snapshot: cumulative AUC cell %u is out of range", i);
            c->hist[2 * k] = wp;
            c->hist[2 * k + 1] = wn;
            prev = k;
        }
        c->conc = conc;
        c->snap = snap;
        c->quant = 1;
        return TIDE_OK;
    }
    uint32_t n = tide_rbuf_u32(r), np = tide_rbuf_u32(r);
    if (r->bad || n > c->max_keys || np > cum_limit_n(n) ||
        !tide_rbuf_has(r, (size_t)n * 24 + (size_t)np * 17))
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "metrics snapshot: cumulative AUC of %u keys and %u pending exceeds "
                            "the bounds (%u, %u) or the data", n, np, c->max_keys,
                            cum_limit_n(n));
    if ((rc = load_keys(c, r, n, err)) != TIDE_OK)
        return rc;
    return load_pend(c, r, np, err);
}

/* Format 3: u32 keys, u32 pending, u8 grid flag, f64 pair sum of the
 * merged examples, f64 their positive and negative weight, keys, pending.
 * Exact phase: the sums are derived state (dropped). Grid phase: the keys
 * lie on the grid and the pair sum counts every merged pair (the exact ones
 * before the switch, the later ones on the grid), so they become the
 * histogram with conc = that sum and snap = the keys' grid pair sum; the
 * pending examples are then added to the histogram. */
static int load_cum_v3(cumauc *c, tide_rbuf *r, tide_err *err)
{
    uint32_t n = tide_rbuf_u32(r), np = tide_rbuf_u32(r);
    uint8_t quant = tide_rbuf_u8(r);
    double conc, wp, wn;
    int rc;
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot is truncated");
    if (n > c->max_keys || np > cum_limit_n(n) || quant > 1 ||
        !tide_rbuf_has(r, 24 + (size_t)n * 24 + (size_t)np * 17))
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "metrics snapshot: cumulative AUC of %u keys and %u pending exceeds "
                            "the bounds (%u, %u) or the data", n, np, c->max_keys,
                            cum_limit_n(n));
    conc = tide_rbuf_f64(r);
    (void)tide_rbuf_f64(r);   /* merged weights: derived */
    (void)tide_rbuf_f64(r);
    if ((rc = load_keys(c, r, n, err)) != TIDE_OK)
        return rc;
    if (!quant)
        return load_pend(c, r, np, err);
    if (!weight_ok(conc))
        return tide_err_set(err, TIDE_ERR_FORMAT, "metrics snapshot: bad cumulative AUC sum");
    if ((rc = alloc_hist(c, err)) != TIDE_OK)
        return rc;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t cell = grid_cell(c->keys[k].key);
        c->hist[2 * cell] += c->keys[k].wp;
        c->hist[2 * cell + 1] += c->keys[k].wn;
    }
    c->conc = conc;
    c->snap = pairs_hist(c, &wp, &wn);
    free(c->keys);
    free(c->tmp);
    c->keys = c->tmp = NULL;
    c->n = c->cap = 0;
    c->quant = 1;
    for (uint32_t i = 0; i < np; i++) {
        double s = tide_rbuf_f64(r), w = tide_rbuf_f64(r);
        int pos = tide_rbuf_u8(r) != 0;
        if (s == 0)
            s = 0.0;
        if (!(s >= 0 && s <= 1) || !weight_ok(w))
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "metrics snapshot: pending AUC example %u is out of range", i);
        c->hist[2 * grid_cell(s) + !pos] += w;
    }
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

/* Reads past a class-sums block (the saved window sums, derived state). */
static void skip_cstats(int nc, tide_rbuf *r)
{
    for (int i = 0; i < 4 + 5 * nc; i++)
        (void)tide_rbuf_u64(r);
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
 * Layout (format 4, little-endian): u32 magic "TMET", u32 format, u8 kind,
 * u64 window, u32 n_classes, u8 binary, u64 count, u64 evicted (written 0,
 * ignored: it dates from window sums kept incrementally);
 * classification: cumulative and windowed class sums (the windowed ones
 * are recomputed from the ring on load), cumulative AUC (save_cum: sorted
 * keys + pending buffer, or the grid histogram; format 3: load_cum_v3);
 * regression: cumulative and windowed sums (the same);
 * then the ring, oldest first (count entries of 3 f64 + 2 u32); then
 * u64 xxh64 of everything from the magic on. The state is written verbatim
 * so a loaded object continues bit for bit like the saved one (a format-3
 * object too, when its weights are exact in binary64: see cum_to_grid).
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
    tide_wbuf_u64(b, 0);   /* "evicted" of the incremental window sums (unused) */
    if (m->kind == TIDE_METRIC_CLASSIFY) {
        save_cstats(&m->cc, m->n_classes, b);
        cstats ws;
        double *wmem;
        if (window_class_stats(m, &ws, &wmem))
            return TIDE_ERR_NOMEM;
        save_cstats(&ws, m->n_classes, b);
        free(wmem);
        save_cum(&m->tc, b);
    } else {
        save_rstats(&m->rc, b);
        rstats ws;
        window_reg_stats(m, &ws);
        save_rstats(&ws, b);
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
    if (format != METRICS_FORMAT && format != 3)
        return tide_err_set(err, TIDE_ERR_VERSION,
                            "metrics snapshot format %u is not supported (this build reads 3 "
                            "and %u)", format, METRICS_FORMAT);
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
        skip_cstats(m->n_classes, r);   /* window sums: recomputed from the ring when asked */
        if ((rc = (format == 3 ? load_cum_v3 : load_cum)(&m->tc, r, err)) != TIDE_OK)
            goto fail;
    } else {
        load_rstats(&m->rc, r);
        rstats ws;
        load_rstats(&ws, r);   /* recomputed from the ring when asked */
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
        if (kind == TIDE_METRIC_CLASSIFY && e->b == 0)
            e->b = 0.0;   /* -0.0 would sort last by its bits */
        if (!(e->w >= 0) || !isfinite(e->w) || !isfinite(e->a) || !isfinite(e->b) ||
            (kind == TIDE_METRIC_CLASSIFY &&
             (e->y < 0 || e->y >= (int)nc || e->pred < 0 || e->pred >= (int)nc ||
              !(e->b >= 0 && e->b <= 1)))) {
            rc = tide_err_set(err, TIDE_ERR_FORMAT,
                              "metrics snapshot: window entry %zu is out of range", i);
            goto fail;
        }
    }
    m->count = (size_t)count;
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
