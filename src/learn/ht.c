/*
 * ht.c — Hoeffding tree classifier (VFDT) and the classifier tree core used
 * by hat.c and arf.c (declared in tree.h).
 *
 * P. Domingos, G. Hulten, "Mining high-speed data streams", KDD 2000.
 * Each leaf keeps class weights and, per feature seen at the leaf, a
 * Gaussian per class (weighted Welford mean/variance, min, max). Every
 * grace_period weight the leaf evaluates n_splits candidate thresholds per
 * feature, evenly spaced strictly between the feature's observed min and
 * max (MOA/River's Gaussian splitter idea): the weight of class c going left
 * of t is w_c * Phi((t - mean_c) / sd_c), clamped to all/none outside the
 * class's [min, max]. Merit is information gain (bits) or Gini decrease; the
 * leaf splits on `x <= t` when best - second_best > the Hoeffding bound
 * sqrt(R^2 ln(1/delta) / 2n) (R = log2(#classes) or 1) or the bound is below
 * tau; "no split" (merit 0) is always a candidate, so a split must beat it.
 * n is the leaf's total class weight, including the estimate a new leaf
 * inherits from its parent's split (as MOA/River do: measured on the shared
 * streams this beats using only the weight learned at the leaf).
 *
 * Weighted rows (bootstrap weights of hat/arf/bagging) enter the Gaussians
 * with the reliability-weight variance M2 / (W - sum(w^2)/W): see tree.h.
 *
 * Leaf prediction: majority class (class-weight ratios), naive Bayes
 * (class prior x product of the per-class Gaussian densities of every
 * feature observed at the leaf, absent features at 0), or adaptive
 * (MOA's NBAdaptive): whichever of MC/NB predicted more of the leaf's own
 * training rows right (ties go to NB). With tt_cfg.nb_prior (arf), a leaf
 * made by a split starts its naive Bayes from the parent's class Gaussians
 * of the other features, pooled with its own rows (prior_term()); with
 * tt_cfg.split_prior also from the split feature's Gaussian truncated to
 * the leaf's side of the threshold, when that feature is continuous at the
 * parent (child_prior()). With tt_cfg.grid_var (arf), a class constant at
 * the leaf in a feature discrete for the tree gets the variance of the
 * values' grid instead of NB_VAR_SMOOTH of the largest (grid_var()).
 *
 * Memory: every 1000 learn calls the tree measures itself; above max_size
 * MiB it deactivates the leaves with the lowest promise (weight seen minus
 * weight of the majority class, as in VFDT/MOA) until it fits. Deactivated
 * leaves drop their observers, keep counting classes and never split; they
 * are not reactivated.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"
#include "learn/tree.h"

#define MIN_BRANCH_FRAC 0.01
#define MEM_PERIOD 1000
#define ZERO_EPS 1e-9
#define VAR_DEN_EPS 1e-9   /* W - sum(w^2)/W below this: one distinct row */
#define NB_VAR_SMOOTH 1e-9 /* scikit-learn GaussianNB's default var_smoothing */

/* ---- prepared vectors --------------------------------------------------- */

int tt_x_prep(tt_x *p, const tide_fvec *x)
{
    size_t n = x ? x->n : 0;
    p->n = 0;
    p->idx = p->ibuf;
    p->v = p->vbuf;
    /* checked before anything is allocated: an early return must not leak */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x->f[i].val))
            return TIDE_ERR_ARG;   /* would poison every statistic */
    if (n > TT_XINL) {
        if (n > UINT32_MAX)
            return TIDE_ERR_LIMIT;
        p->idx = malloc(n * sizeof *p->idx);
        p->v = malloc(n * sizeof *p->v);
        if (!p->idx || !p->v) {
            free(p->idx == p->ibuf ? NULL : p->idx);
            free(p->v == p->vbuf ? NULL : p->v);
            p->idx = p->ibuf;
            p->v = p->vbuf;
            return TIDE_ERR_NOMEM;
        }
    }
    /* fast path: indices strictly increasing (a featurized CSV row) */
    size_t k = 0;
    while (k < n && (k == 0 || x->f[k].idx > x->f[k - 1].idx)) {
        p->idx[k] = x->f[k].idx;
        p->v[k] = x->f[k].val;
        k++;
    }
    if (k == n) {
        p->n = (uint32_t)n;
        return TIDE_OK;
    }
    /* insertion sort: rows hold few features */
    for (size_t i = 0; i < n; i++) {
        uint32_t id = x->f[i].idx;
        double v = x->f[i].val;
        uint32_t j = p->n;
        while (j > 0 && p->idx[j - 1] > id)
            j--;
        if (j > 0 && p->idx[j - 1] == id) {
            p->v[j - 1] += v;
            continue;
        }
        memmove(p->idx + j + 1, p->idx + j, (p->n - j) * sizeof *p->idx);
        memmove(p->v + j + 1, p->v + j, (p->n - j) * sizeof *p->v);
        p->idx[j] = id;
        p->v[j] = v;
        p->n++;
    }
    return TIDE_OK;
}

void tt_x_free(tt_x *p)
{
    if (p->idx != p->ibuf)
        free(p->idx);
    if (p->v != p->vbuf)
        free(p->v);
    p->idx = p->ibuf;
    p->v = p->vbuf;
    p->n = 0;
}

/* ---- criteria ----------------------------------------------------------- */

double tt_hoeffding_bound(double range, double delta, double n)
{
    return sqrt(range * range * log(1.0 / delta) / (2.0 * n));
}

double tt_entropy(const double *d, int k)
{
    double s = 0, h = 0;
    for (int i = 0; i < k; i++)
        s += d[i];
    if (s <= 0)
        return 0;
    for (int i = 0; i < k; i++)
        if (d[i] > 0)
            h -= d[i] / s * log2(d[i] / s);
    return h;
}

double tt_gini(const double *d, int k)
{
    double s = 0, g = 1;
    for (int i = 0; i < k; i++)
        s += d[i];
    if (s <= 0)
        return 0;
    for (int i = 0; i < k; i++)
        g -= (d[i] / s) * (d[i] / s);
    return g;
}

/* The last pre-split distribution of a split attempt and its impurity:
 * the candidates of one attempt mostly split the same class weights (the
 * leaf's), so merit() reuses it when l + r is bitwise the same. */
typedef struct merit_memo {
    double *pre;   /* k entries, owned by the caller */
    double h;      /* entropy or Gini of pre */
    int valid;
} merit_memo;

/* tt_merit; with mm (NULL: none) the same value at a third fewer
 * logarithms. */
static double merit(int crit, const double *l, const double *r, int k, merit_memo *mm)
{
    double wl = 0, wr = 0, pre[TIDE_MAX_CLASSES], hp;
    for (int i = 0; i < k; i++) {
        wl += l[i];
        wr += r[i];
        pre[i] = l[i] + r[i];
    }
    double w = wl + wr;
    if (w <= 0 || wl <= MIN_BRANCH_FRAC * w || wr <= MIN_BRANCH_FRAC * w)
        return -INFINITY;
    int same = mm && mm->valid;
    for (int i = 0; same && i < k; i++) {   /* bitwise, as memcmp (no call for a few classes) */
        uint64_t u, v;
        memcpy(&u, &pre[i], sizeof u);
        memcpy(&v, &mm->pre[i], sizeof v);
        same = u == v;
    }
    if (same) {
        hp = mm->h;
    } else {
        hp = crit == TT_CRIT_GINI ? tt_gini(pre, k) : tt_entropy(pre, k);
        if (mm) {
            memcpy(mm->pre, pre, (size_t)k * sizeof *pre);
            mm->h = hp;
            mm->valid = 1;
        }
    }
    if (crit == TT_CRIT_GINI)
        return hp - (wl / w) * tt_gini(l, k) - (wr / w) * tt_gini(r, k);
    return hp - (wl / w) * tt_entropy(l, k) - (wr / w) * tt_entropy(r, k);
}

double tt_merit(int crit, const double *l, const double *r, int k)
{
    return merit(crit, l, r, k, NULL);
}

/* ---- nodes -------------------------------------------------------------- */

tt_node *tt_leaf_new(int K, int depth, const double *init, int kinit)
{
    tt_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->feat = TT_LEAF;
    n->depth = depth;
    n->K = K;
    n->active = 1;
    n->cls = calloc((size_t)K, sizeof *n->cls);
    n->seen = calloc((size_t)K, sizeof *n->seen);
    n->seen2 = calloc((size_t)K, sizeof *n->seen2);
    if (!n->cls || !n->seen || !n->seen2) {
        tt_node_free(n);
        return NULL;
    }
    for (int i = 0; init && i < kinit && i < K; i++)
        n->cls[i] = init[i];
    return n;
}

static void leaf_drop_prior(tt_node *n)
{
    free(n->prf);
    free(n->prs);
    n->prf = NULL;
    n->prs = NULL;
    n->npr = 0;
    n->prK = 0;
}

/* Drops what a leaf's split decisions and naive Bayes need (deactivation,
 * or the leaf becoming a branch). */
static void leaf_drop_observers(tt_node *n)
{
    for (uint32_t i = 0; i < n->nob; i++)
        free(n->ob[i].st);
    free(n->ob);
    n->ob = NULL;
    n->nob = n->cob = n->nvt = 0;
    leaf_drop_prior(n);
}

void tt_node_free(tt_node *n)
{
    if (!n)
        return;
    tt_node_free(n->kid[0]);
    tt_node_free(n->kid[1]);
    tt_node_free(n->alt);
    tide_adwin_free(n->adw);
    leaf_drop_observers(n);
    free(n->cls);
    free(n->seen);
    free(n->seen2);
    free(n);
}

/* Doubles of an observer's st block: K * TT_OS statistics, then room for
 * TT_NVAL float values while it holds them. */
static size_t obs_doubles(int K, uint8_t vs)
{
    return (size_t)K * TT_OS + (TT_VS_HOLDS(vs) ? TT_VROOM : 0);
}

static double *dup_doubles(const double *src, size_t n)
{
    double *d;
    if (!src || n == 0)
        return NULL;
    d = malloc(n * sizeof *d);
    if (d)
        memcpy(d, src, n * sizeof *d);
    return d;
}

int tt_node_clone(const tt_node *n, tt_node **out)
{
    tt_node *c;
    *out = NULL;
    if (!n)
        return TIDE_OK;
    c = calloc(1, sizeof *c);
    if (!c)
        return TIDE_ERR_NOMEM;
    *c = *n;
    c->kid[0] = c->kid[1] = c->alt = NULL;
    c->adw = NULL;
    c->cls = c->seen = c->seen2 = NULL;
    c->ob = NULL;
    c->nob = c->cob = 0;   /* nvt: copied, the observers are */
    c->prf = NULL;
    c->prs = NULL;
    c->npr = 0;
    if (n->npr) {
        c->prf = malloc(n->npr * sizeof *c->prf);
        c->prs = dup_doubles(n->prs, (size_t)n->npr * (size_t)n->prK * TT_PR);
        if (!c->prf || !c->prs)
            goto fail;
        memcpy(c->prf, n->prf, n->npr * sizeof *c->prf);
        c->npr = n->npr;
    }
    if (n->cls) {
        c->cls = dup_doubles(n->cls, (size_t)n->K);
        c->seen = dup_doubles(n->seen, (size_t)n->K);
        c->seen2 = dup_doubles(n->seen2, (size_t)n->K);
        if (!c->cls || !c->seen || !c->seen2)
            goto fail;
    }
    if (n->nob) {
        c->ob = calloc(n->nob, sizeof *c->ob);
        if (!c->ob)
            goto fail;
        c->cob = n->nob;
        for (uint32_t i = 0; i < n->nob; i++) {
            c->ob[i].feat = n->ob[i].feat;
            c->ob[i].vs = n->ob[i].vs;
            c->ob[i].nv = n->ob[i].nv;
            c->ob[i].st = dup_doubles(n->ob[i].st, obs_doubles(n->K, n->ob[i].vs));
            if (!c->ob[i].st)
                goto fail;
            c->nob = i + 1;
        }
    }
    if (n->adw && tide_adwin_clone(n->adw, &c->adw))
        goto fail;
    if (tt_node_clone(n->kid[0], &c->kid[0]) || tt_node_clone(n->kid[1], &c->kid[1]) ||
        tt_node_clone(n->alt, &c->alt))
        goto fail;
    *out = c;
    return TIDE_OK;
fail:
    tt_node_free(c);
    return TIDE_ERR_NOMEM;
}

size_t tt_node_memory(const tt_node *n)
{
    size_t m;
    if (!n)
        return 0;
    m = sizeof *n + tt_node_memory(n->kid[0]) + tt_node_memory(n->kid[1]) +
        tt_node_memory(n->alt);
    if (n->cls)
        m += 3 * (size_t)n->K * sizeof(double);
    m += n->cob * sizeof(tt_obs) + n->nob * (size_t)n->K * TT_OS * sizeof(double);
    m += n->nvt * (size_t)TT_VROOM * sizeof(double);
    m += n->npr * (sizeof(uint32_t) + (size_t)n->prK * TT_PR * sizeof(double));
    if (n->adw)
        m += tide_adwin_memory(n->adw);
    return m;
}

tt_node *tt_sort(tt_node *n, const tt_x *x)
{
    while (n->feat != TT_LEAF)
        n = n->kid[tt_x_get(x, n->feat) <= n->thr ? 0 : 1];
    return n;
}

/* Grows a leaf's per-class arrays to K classes (new classes start at 0). */
static int leaf_grow(tt_node *n, int K)
{
    double *a, *b;
    if (K <= n->K)
        return TIDE_OK;
    a = realloc(n->cls, (size_t)K * sizeof *a);
    if (!a)
        return TIDE_ERR_NOMEM;
    n->cls = a;
    b = realloc(n->seen, (size_t)K * sizeof *b);
    if (!b)
        return TIDE_ERR_NOMEM;
    n->seen = b;
    double *b2 = realloc(n->seen2, (size_t)K * sizeof *b2);
    if (!b2)
        return TIDE_ERR_NOMEM;
    n->seen2 = b2;
    for (int i = n->K; i < K; i++)
        a[i] = b[i] = b2[i] = 0;
    for (uint32_t j = 0; j < n->nob; j++) {
        tt_obs *o = &n->ob[j];
        double *s = realloc(o->st, obs_doubles(K, o->vs) * sizeof *s);
        if (!s)
            return TIDE_ERR_NOMEM;   /* leaf stays consistent at old K for this observer */
        if (TT_VS_HOLDS(o->vs))      /* the values move behind the new classes */
            memmove(s + (size_t)K * TT_OS, s + (size_t)n->K * TT_OS, TT_VROOM * sizeof *s);
        memset(s + (size_t)n->K * TT_OS, 0, (size_t)(K - n->K) * TT_OS * sizeof *s);
        o->st = s;
    }
    n->K = K;
    return TIDE_OK;
}

/* Statistics of class c for one observer with the leaf's implicit zeros merged. */
typedef struct gstat {
    double n, mean, var, min, max;
    double den;   /* W - sum(w^2)/W: >= 1 once two distinct rows carry weight */
} gstat;

/* Variance of weighted values with sum of weights n, sum of squared
 * weights n2 (tree.h): 0 when fewer than two distinct rows carry weight. */
static double wvar(double m2, double n, double n2)
{
    double den = n > 0 ? n - n2 / n : 0;
    return den > VAR_DEN_EPS ? m2 / den : 0;
}

static double wden(double n, double n2)
{
    return n > 0 ? n - n2 / n : 0;
}

static inline __attribute__((always_inline)) void obs_class(const tt_node *leaf, const double *st,
                                                          int c, gstat *g)
{
    const double *s = st + (size_t)c * TT_OS;
    double n = s[OS_N], z = leaf->seen[c] - n;
    if (z > ZERO_EPS) {
        /* the zeros' weights: the leaf's rows of class c minus the observer's */
        double nt = n + z, mean = n * s[OS_MEAN] / nt;
        double m2 = s[OS_M2] + n * z / nt * s[OS_MEAN] * s[OS_MEAN];
        double z2 = leaf->seen2[c] - s[OS_W2];
        g->n = nt;
        g->mean = mean;
        g->var = wvar(m2, nt, s[OS_W2] + (z2 > 0 ? z2 : 0));
        g->den = wden(nt, s[OS_W2] + (z2 > 0 ? z2 : 0));
        g->min = n > 0 ? fmin(s[OS_MIN], 0) : 0;
        g->max = n > 0 ? fmax(s[OS_MAX], 0) : 0;
    } else {
        g->n = n;
        g->mean = s[OS_MEAN];
        g->var = wvar(s[OS_M2], n, s[OS_W2]);
        g->den = wden(n, s[OS_W2]);
        g->min = s[OS_MIN];
        g->max = s[OS_MAX];
    }
}

static void obs_update(double *st, int c, double v, double w)
{
    double *s = st + (size_t)c * TT_OS;
    double n = s[OS_N] + w, d = v - s[OS_MEAN];
    if (s[OS_N] <= 0) {
        s[OS_MIN] = s[OS_MAX] = v;
    } else {
        if (v < s[OS_MIN])
            s[OS_MIN] = v;
        if (v > s[OS_MAX])
            s[OS_MAX] = v;
    }
    s[OS_MEAN] += w * d / n;
    s[OS_M2] += w * d * (v - s[OS_MEAN]);
    if (s[OS_M2] < 0)
        s[OS_M2] = 0;
    s[OS_N] = n;
    s[OS_W2] += w * w;
    /* 1/variance = (W - sum w^2 / W) / M2, as wvar() with one division less */
    double den = n - s[OS_W2] / n;
    s[OS_IV] = den > VAR_DEN_EPS && s[OS_M2] > 0 ? den / s[OS_M2] : 0;
}

/* Records value v at observer o of leaf (TT_VS_HOLDS(o->vs)). Past
 * TT_NVAL distinct values they are dropped for good (TT_VS_MANY) and the
 * block shrinks to the statistics. */
static void obs_vals_add(tt_node *leaf, tt_obs *o, double v)
{
    float *vals = tt_obs_vals(o, leaf->K), fv = (float)v;
    for (uint32_t i = 0; i < o->nv; i++)
        if (vals[i] == fv) {
            o->vs = TT_VS_REP;
            return;
        }
    if (o->nv < TT_NVAL) {
        vals[o->nv++] = fv;
        return;
    }
    o->vs = TT_VS_MANY;
    o->nv = 0;
    leaf->nvt--;
    double *s = realloc(o->st, (size_t)leaf->K * TT_OS * sizeof *s);
    if (s)   /* else the block keeps its unused room */
        o->st = s;
}

static void mc_dist(const tt_node *leaf, int K, double *out)
{
    double s = 0;
    for (int c = 0; c < K; c++) {
        out[c] = c < leaf->K ? leaf->cls[c] : 0;
        s += out[c];
    }
    for (int c = 0; c < K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / K;
}

/* Naive Bayes posterior. For speed the Gaussian log densities are summed
 * as  -0.5 * sum d^2/var  +  0.5 * log(prod 1/var): one log per class
 * instead of one per feature (the product is renormalised with frexp so it
 * cannot overflow).
 * A class's Gaussian of one feature is used when its rows hold at least two
 * distinct rows' worth of weight (W - sum(w^2)/W >= 1). If they all had the
 * same value (variance 0: a 0/1 or 0/0.5/1 feature that is constant for
 * that class at this leaf) that is strong evidence, not none: the variance
 * becomes NB_VAR_SMOOTH x the largest variance of that feature among the
 * leaf's classes, as scikit-learn's GaussianNB var_smoothing does (River
 * skips such a feature; measured on Elec2, arf gains 0.7 point). A Gaussian
 * of fewer rows, or when no class of the feature has a variance, carries no
 * scale and is skipped. */
/* Adds one Gaussian term (d = x - mean, iv = 1/variance) to class c. */
static inline void nb_term(double *q, double *p, int *pe, int *used, int c, double d, double iv)
{
    q[c] += d * d * iv;
    p[c] *= iv;
    used[c]++;
    if (p[c] > 1e150 || p[c] < 1e-150) {
        int e;
        p[c] = frexp(p[c], &e);
        pe[c] += e;
    }
}

/* A new leaf's naive Bayes prior (tt_cfg.nb_prior). Under naive Bayes's
 * own assumption (features independent given the class), the parent's
 * class-conditional Gaussian of a feature other than the split feature is
 * an estimate of the same Gaussian at either child: the split selected
 * rows by another feature only. A child made by a split therefore starts
 * with, per class c and non-split feature, the parent's (mean, variance)
 * at a pseudo-weight n0 = min(the child's inherited weight of c,
 * nb_prior), so that its own rows dominate after about nb_prior weight.
 * For prediction the prior is pooled with the leaf's own statistics as two
 * samples: W = n0 + n, mean = (n0 m0 + n m) / W, and the variance
 * (n0 v0 + M2 + n0 n / W (m - m0)^2) / (n0 + den), den the leaf's own
 * W - sum(w^2)/W (the Bayesian update of a normal with a conjugate prior
 * worth n0 observations, e.g. Gelman et al., "Bayesian Data Analysis",
 * 3rd ed., sec. 3.3, with the prior's spread taken as v0). The split
 * observers never see it: a child must not split on its parent's rows.
 * Sets *d = x - mean and *iv = 1/variance (or -1: two rows' worth of
 * weight, all at one value; 0: no scale). Returns 0 when class c has no
 * weight for this feature. */
static int prior_term(const tt_node *leaf, const double *st, const double *pr, int c, double v,
                      double *d, double *iv)
{
    double n0 = 0, m0 = 0, v0 = 0, n, m, m2, den;
    if (c < leaf->prK) {
        const double *q = pr + (size_t)c * TT_PR;
        n0 = q[PR_N];
        m0 = q[PR_MEAN];
        v0 = q[PR_VAR];
    }
    if (st) {
        gstat g;
        obs_class(leaf, st, c, &g);
        n = g.n;
        m = g.mean;
        den = g.den;
        m2 = g.var * g.den;
    } else {   /* the feature was absent from every row of the leaf */
        n = leaf->seen[c];
        m = 0;
        m2 = 0;
        den = wden(leaf->seen[c], leaf->seen2[c]);
    }
    double W = n0 + n;
    if (!(W > 0))
        return 0;
    double mean = (n0 * m0 + n * m) / W;
    double M2 = n0 * v0 + m2 + (n0 > 0 && n > 0 ? n0 * n / W * (m - m0) * (m - m0) : 0);
    double D = n0 + (den > 0 ? den : 0);
    *d = v - mean;
    *iv = D > VAR_DEN_EPS && M2 > 0 ? D / M2 : D >= 1 ? -1 : 0;
    return 1;
}

/* Variance of a class whose rows at the leaf all had one value of a
 * feature that is discrete for the tree (tt_fvals TT_VS_REP), recorded by
 * the leaf's observer o (tt_cfg.grid_var): h^2 / 12, h the smallest
 * gap between the distinct values of the feature at the leaf (o's recorded
 * values, and 0 when some class has rows without the feature). A value read
 * on a grid of spacing h stands for an interval of width h, which adds
 * h^2/12 to the variance of a continuous quantity (Sheppard's correction:
 * W. F. Sheppard, "On the calculation of the most probable values of
 * frequency-constants, for data arranged according to equidistant
 * divisions of a scale", Proc. London Math. Soc. 29, 1898; e.g. Kendall
 * and Stuart, "The Advanced Theory of Statistics", vol. 1, sec. 3.18): a
 * class whose values never left one grid point has a variance of that order,
 * not 0. On a 0/0.5/1 code this is 1/48, a 0/1 flag 1/12: a class constant
 * over a few rows is evidence of a size a few rows can carry, where
 * NB_VAR_SMOOTH made it a near-certain veto (docs/bench/trees.md, sixth
 * pass). 0 when o holds no values (more than TT_NVAL distinct, or not
 * recorded) or the leaf has a single value: the caller then keeps the
 * NB_VAR_SMOOTH rule. */
static double grid_var(const tt_node *leaf, const tt_obs *o, int K)
{
    double gv[TT_NVAL + 1], h = INFINITY;
    int ng = 0, zeros = 0;
    if (!o || !TT_VS_HOLDS(o->vs))
        return 0;
    const float *vals = tt_obs_vals(o, leaf->K);
    for (uint32_t a = 0; a < o->nv; a++)
        gv[ng++] = vals[a];
    for (int c = 0; c < K && c < leaf->K; c++)
        zeros |= leaf->seen[c] - o->st[(size_t)c * TT_OS + OS_N] > ZERO_EPS;
    if (zeros)
        gv[ng++] = 0;
    for (int a = 0; a < ng; a++)
        for (int b = a + 1; b < ng; b++) {
            double g = fabs(gv[a] - gv[b]);
            if (g > 0 && g < h)
                h = g;
        }
    return h < INFINITY ? h * h / 12 : 0;
}

/* Whether feature feat is discrete over tree t's rows (tt_fvals). */
static int tree_discrete(const tt_tree *t, uint32_t feat)
{
    uint32_t lo = 0, hi = t->nfv;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (t->fv[mid].feat < feat)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->nfv && t->fv[lo].feat == feat && t->fv[lo].vs == TT_VS_REP;
}

/* Log posterior scores (up to a common constant) into out[0..K-1];
 * -INFINITY for classes without weight. Returns 0 when the leaf has no
 * weight at all (out untouched). gt: the leaf's tree when it applies
 * tt_cfg.grid_var, else NULL. */
static int nb_logpost(const tt_node *leaf, const tt_x *x, int K, double *out,
                      const tt_tree *gt)
{
    double tot = 0;
    double q[TIDE_MAX_CLASSES], p[TIDE_MAX_CLASSES];
    int pe[TIDE_MAX_CLASSES], live[TIDE_MAX_CLASSES], used[TIDE_MAX_CLASSES];
    int Kl = leaf->K < K ? leaf->K : K;
    for (int c = 0; c < leaf->K; c++)
        tot += leaf->cls[c];
    if (tot <= 0)
        return 0;
    for (int c = 0; c < Kl; c++) {
        q[c] = 0;
        p[c] = 1;
        pe[c] = 0;
        used[c] = 0;
        live[c] = leaf->cls[c] > 0 && (leaf->seen[c] > 0 || c < leaf->prK);
    }
    /* merge walk: every observer and every prior feature, value from x or 0 */
    uint32_t i = 0, j = 0, kp = 0;
    while (j < leaf->nob || kp < leaf->npr) {
        const double *st = NULL, *pr = NULL;
        const tt_obs *ob = NULL;
        uint32_t f;
        if (kp >= leaf->npr || (j < leaf->nob && leaf->ob[j].feat <= leaf->prf[kp]))
            f = leaf->ob[j].feat;
        else
            f = leaf->prf[kp];
        if (j < leaf->nob && leaf->ob[j].feat == f) {
            ob = &leaf->ob[j++];
            st = ob->st;
        }
        if (kp < leaf->npr && leaf->prf[kp] == f)
            pr = leaf->prs + (size_t)(kp++) * (size_t)leaf->prK * TT_PR;
        while (i < x->n && x->idx[i] < f)
            i++;
        double v = (i < x->n && x->idx[i] == f) ? x->v[i] : 0.0;
        /* each class's term at once; a class with variance 0 waits for
         * the largest variance of the feature (1/min_iv) */
        double dd[TIDE_MAX_CLASSES], min_iv = INFINITY;
        int deg[TIDE_MAX_CLASSES], ndeg = 0;
        for (int c = 0; c < Kl; c++) {
            const double *sc = st ? st + (size_t)c * TT_OS : NULL;
            double iv = 0, d;
            if (!live[c])
                continue;
            if (pr) {
                if (!prior_term(leaf, st, pr, c, v, &d, &iv))
                    continue;
            } else if (leaf->seen[c] - sc[OS_N] > ZERO_EPS) {
                gstat g;
                obs_class(leaf, st, c, &g);
                d = v - g.mean;
                if (g.var > 0)
                    iv = 1.0 / g.var;
                else if (g.den >= 1)
                    iv = -1;
            } else {
                d = v - sc[OS_MEAN];
                if (sc[OS_IV] > 0)
                    iv = sc[OS_IV];
                else if (wden(sc[OS_N], sc[OS_W2]) >= 1)
                    iv = -1;
            }
            if (iv > 0) {
                nb_term(q, p, pe, used, c, d, iv);
                if (iv < min_iv)
                    min_iv = iv;
            } else if (iv < 0) {
                deg[ndeg++] = c;
                dd[c] = d;
            }
        }
        /* grid_var(), at most the largest variance; else NB_VAR_SMOOTH of
         * the largest variance (none without one) */
        double hv = gt && ndeg && tree_discrete(gt, f) ? grid_var(leaf, ob, Kl) : 0, iv_deg;
        if (hv > 0)
            iv_deg = min_iv < INFINITY && 1 / hv < min_iv ? min_iv : 1 / hv;
        else
            iv_deg = ndeg && min_iv < INFINITY ? min_iv / NB_VAR_SMOOTH : 0;
        if (iv_deg > 0 && iv_deg < DBL_MAX)
            for (int k = 0; k < ndeg; k++)
                nb_term(q, p, pe, used, deg[k], dd[deg[k]], iv_deg);
    }
    /* log prior + sum log pdf = 0.5 log(cls^2 prod iv) - 0.5 q
     * - used * 0.5 log(2 pi) - log tot; the common - log tot is dropped, the
     * 2 pi term is not: a class whose observer of a feature is degenerate
     * skips that feature, so the classes sum different numbers of terms */
    for (int c = 0; c < K; c++) {
        if (c < Kl && leaf->cls[c] > 0)
            out[c] = 0.5 * (log(leaf->cls[c] * leaf->cls[c] * p[c]) +
                            pe[c] * 0.69314718055994530942 - q[c]) -
                     used[c] * 0.91893853320467274178;
        else
            out[c] = -INFINITY;
    }
    return 1;
}

static int argmax(const double *d, int k)
{
    int b = 0;
    for (int i = 1; i < k; i++)
        if (d[i] > d[b])
            b = i;
    return b;
}

/* Log posterior scores -> distribution; b = argmax(out). */
static void nb_normalise(double *out, int K, int b)
{
    double mx = out[b], s = 0;
    for (int c = 0; c < K; c++) {
        out[c] = c == b ? 1.0 : out[c] > -INFINITY ? exp(out[c] - mx) : 0;
        s += out[c];
    }
    for (int c = 0; c < K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / K;
}

static void nb_dist(const tt_node *leaf, const tt_x *x, int K, double *out, const tt_tree *gt)
{
    if (!nb_logpost(leaf, x, K, out, gt)) {
        mc_dist(leaf, K, out);
        return;
    }
    nb_normalise(out, K, argmax(out, K));
}

void tt_leaf_predict(const tt_tree *t, const tt_node *leaf, const tt_x *x, double *out)
{
    int nb = leaf->active && (leaf->nob > 0 || leaf->npr > 0) &&
             (t->c.leaf_pred == TT_PRED_NB ||
              (t->c.leaf_pred == TT_PRED_NBA && !(leaf->mc_ok > leaf->nb_ok)));
    if (nb)
        nb_dist(leaf, x, t->K, out, t->c.grid_var ? t : NULL);
    else
        mc_dist(leaf, t->K, out);
}

/* Scratch of one split attempt: K entries each, one allocation. */
typedef struct split_buf {
    gstat *g;
    double *l, *r, *bl, *br, *tl, *tr;
    merit_memo mm;   /* its pre: K entries of the same allocation */
} split_buf;

/* Best threshold of one observer; fills l/r (K each). */
static double best_threshold(const tt_tree *t, const tt_node *leaf, const tt_obs *o, double *thr,
                             double *bl, double *br, split_buf *sb)
{
    int K = leaf->K;
    gstat *g = sb->g;
    double lo = INFINITY, hi = -INFINITY, best = -INFINITY;
    double *l = sb->l, *r = sb->r;
    for (int c = 0; c < K; c++) {
        obs_class(leaf, o->st, c, &g[c]);
        if (g[c].n > 0) {
            lo = fmin(lo, g[c].min);
            hi = fmax(hi, g[c].max);
        }
    }
    if (!(lo < hi))
        return -INFINITY;
    for (int i = 0; i < t->c.n_splits; i++) {
        double th = lo + (hi - lo) * (i + 1) / (t->c.n_splits + 1);
        for (int c = 0; c < K; c++) {
            double left;
            if (g[c].n <= 0 || th < g[c].min)
                left = 0;
            else if (th >= g[c].max)
                left = g[c].n;
            else if (g[c].var <= 0)
                left = th >= g[c].mean ? g[c].n : 0;
            else
                left = g[c].n * 0.5 * erfc(-(th - g[c].mean) / sqrt(2 * g[c].var));
            l[c] = left;
            r[c] = g[c].n - left;
        }
        double m = merit(t->c.crit, l, r, K, &sb->mm);
        if (m > best) {
            best = m;
            *thr = th;
            memcpy(bl, l, (size_t)K * sizeof *l);
            memcpy(br, r, (size_t)K * sizeof *r);
        }
    }
    return best;
}

/* Mean and variance of N(mean, var) truncated to x <= thr (side 0) or
 * x > thr (side 1): with a = (thr - mean) / sd and r = phi(a) / P, P the
 * probability of the side, the mean moves by -sd r (side 0) or +sd r
 * (side 1) and the variance is var (1 - a r - r^2) or var (1 + a r - r^2)
 * (N. L. Johnson, S. Kotz, N. Balakrishnan, "Continuous Univariate
 * Distributions", vol. 1, 2nd ed., ch. 13, truncated normal). Returns 0 when there is
 * nothing sound to give: no spread, a side of probability under 1e-12, or
 * a variance lost to cancellation. */
static int trunc_gauss(double mean, double var, double thr, int side, double *m, double *v)
{
    double sd = sqrt(var);
    if (!(sd > 0))
        return 0;
    double a = (thr - mean) / sd;
    double phi = exp(-0.5 * a * a) * 0.39894228040143267794;   /* 1/sqrt(2 pi) */
    double P = 0.5 * erfc((side ? a : -a) * 0.70710678118654752440);
    if (!(P > 1e-12))
        return 0;
    double r = phi / P;
    *m = side ? mean + sd * r : mean - sd * r;
    *v = var * (side ? 1 + a * r - r * r : 1 - a * r - r * r);
    return *v > 0 && isfinite(*m) && isfinite(*v);
}

/* Gives the new leaf kid (side 0: x[sf] <= thr, 1: above) the naive Bayes
 * prior of prior_term(): the parent leaf's Gaussians of every feature but
 * the split feature sf, at pseudo-weight min(kid's inherited weight of
 * class c, nb_prior). A class whose parent Gaussian has under two rows'
 * worth of weight (no variance estimate) gets none.
 * With split_prior, the split feature joins them when it is continuous at
 * the parent (TT_VS_CONTINUOUS: no explicit value repeated among the
 * parent's rows, or more than TT_NVAL distinct values; a fixed rule, not
 * fitted to a stream): the rows a child receives are the parent's rows on
 * its side of thr, so its class-conditional distribution of sf is the
 * parent's restricted to that side, and its prior is the parent's Gaussian
 * truncated at thr (trunc_gauss()). A discrete feature (a 0/1 flag, a
 * weekday code) is left out: a Gaussian truncated between two of its
 * values describes no value the child will see. g: K scratch entries. */
static int child_prior(const tt_tree *t, const tt_node *leaf, uint32_t sf, int side, double thr,
                       tt_node *kid, const double *inh, gstat *g)
{
    int K = leaf->K;
    uint32_t n = 0;
    for (uint32_t j = 0; j < leaf->nob; j++)
        n += leaf->ob[j].feat != sf || (t->c.split_prior && TT_VS_CONTINUOUS(leaf->ob[j].vs));
    if (n == 0)
        return TIDE_OK;
    kid->prf = malloc(n * sizeof *kid->prf);
    kid->prs = malloc((size_t)n * (size_t)K * TT_PR * sizeof *kid->prs);
    if (!kid->prf || !kid->prs)
        return TIDE_ERR_NOMEM;   /* the caller frees kid */
    kid->npr = n;
    kid->prK = K;
    n = 0;
    for (uint32_t j = 0; j < leaf->nob; j++) {
        int trunc = leaf->ob[j].feat == sf;
        if (trunc && !(t->c.split_prior && TT_VS_CONTINUOUS(leaf->ob[j].vs)))
            continue;
        double *q = kid->prs + (size_t)n * (size_t)K * TT_PR;
        kid->prf[n++] = leaf->ob[j].feat;
        for (int c = 0; c < K; c++, q += TT_PR) {
            obs_class(leaf, leaf->ob[j].st, c, &g[c]);
            int ok = g[c].n > 0 && g[c].den >= 1;
            double mean = g[c].mean, var = g[c].var;
            if (ok && trunc)
                ok = trunc_gauss(g[c].mean, g[c].var, thr, side, &mean, &var);
            q[PR_N] = ok ? fmin(inh[c], t->c.nb_prior) : 0;
            q[PR_MEAN] = ok ? mean : 0;
            q[PR_VAR] = ok ? var : 0;
        }
    }
    return TIDE_OK;
}

static int attempt_split(tt_tree *t, tt_node *leaf)
{
    int K = leaf->K, nz = 0;
    double tot = 0, b1 = 0, b2 = 0, thr = 0, th = 0;
    uint32_t bf = TT_LEAF;
    uint32_t *pick = NULL, npick = leaf->nob;
    split_buf sb;
    double *bl, *br, *l, *r;

    for (int c = 0; c < K; c++) {
        tot += leaf->cls[c];
        nz += leaf->cls[c] > 0;
    }
    if (nz < 2)
        return TIDE_OK;   /* pure leaf */
    if (t->c.subspace && leaf->nob > 1) {
        double m = leaf->nob;
        uint32_t k = t->c.subspace == 1 ? (uint32_t)llround(sqrt(m))
                                         : (uint32_t)(floor(log2(m)) + 1);
        if (k < 1)
            k = 1;
        if (k < leaf->nob) {
            pick = malloc(leaf->nob * sizeof *pick);
            if (!pick)
                return TIDE_ERR_NOMEM;
            for (uint32_t i = 0; i < leaf->nob; i++)
                pick[i] = i;
            for (uint32_t i = 0; i < k; i++) {   /* partial Fisher-Yates */
                uint32_t j = i + (uint32_t)(tt_rand(&t->rng) % (leaf->nob - i));
                uint32_t s = pick[i];
                pick[i] = pick[j];
                pick[j] = s;
            }
            npick = k;
        }
    }
    sb.g = malloc((size_t)K * (sizeof(gstat) + 7 * sizeof(double)));
    if (!sb.g) {
        free(pick);
        return TIDE_ERR_NOMEM;
    }
    sb.l = (double *)(sb.g + K);
    sb.r = sb.l + K;
    sb.bl = sb.r + K;
    sb.br = sb.bl + K;
    sb.tl = sb.br + K;
    sb.tr = sb.tl + K;
    sb.mm.pre = sb.tr + K;
    sb.mm.valid = 0;
    sb.mm.h = 0;
    bl = sb.bl;
    br = sb.br;
    l = sb.tl;
    r = sb.tr;
    /* "no split" has merit 0: b1, b2 start there */
    for (uint32_t i = 0; i < npick; i++) {
        const tt_obs *o = &leaf->ob[pick ? pick[i] : i];
        double m = best_threshold(t, leaf, o, &th, l, r, &sb);
        if (m > b1) {
            b2 = b1;
            b1 = m;
            bf = o->feat;
            thr = th;
            memcpy(bl, l, (size_t)K * sizeof *l);
            memcpy(br, r, (size_t)K * sizeof *r);
        } else if (m > b2) {
            b2 = m;
        }
    }
    free(pick);
    double range = t->c.crit == TT_CRIT_GINI ? 1.0 : log2(nz > 2 ? nz : 2);
    double eps = tt_hoeffding_bound(range, t->c.delta, tot);
    if (bf == TT_LEAF || !(b1 - b2 > eps || eps < t->c.tau)) {
        free(sb.g);
        return TIDE_OK;
    }
    tt_node *a = tt_leaf_new(t->K, leaf->depth + 1, bl, K);
    tt_node *b = tt_leaf_new(t->K, leaf->depth + 1, br, K);
    int prc = TIDE_OK;
    if (a && b && t->c.nb_prior > 0 && t->c.leaf_pred != TT_PRED_MC)
        prc = child_prior(t, leaf, bf, 0, thr, a, bl, sb.g) ||
              child_prior(t, leaf, bf, 1, thr, b, br, sb.g);
    free(sb.g);
    if (!a || !b || prc) {
        tt_node_free(a);
        tt_node_free(b);
        return TIDE_ERR_NOMEM;
    }
    leaf_drop_observers(leaf);
    free(leaf->cls);
    free(leaf->seen);
    free(leaf->seen2);
    leaf->cls = leaf->seen = leaf->seen2 = NULL;
    leaf->K = 0;
    leaf->feat = bf;
    leaf->thr = thr;
    leaf->kid[0] = a;
    leaf->kid[1] = b;
    t->n_leaves++;
    return TIDE_OK;
}

/* Finds or inserts the observer of feat at position *pos (sorted). */
static tt_obs *leaf_observer(tt_node *leaf, uint32_t *pos, uint32_t feat, int split_prior)
{
    uint32_t j = *pos;
    while (j < leaf->nob && leaf->ob[j].feat < feat)
        j++;
    *pos = j;
    if (j < leaf->nob && leaf->ob[j].feat == feat)
        return &leaf->ob[j];
    uint8_t vs = split_prior ? TT_VS_FEW : TT_VS_NONE;
    double *st = calloc(obs_doubles(leaf->K, vs), sizeof *st);
    tt_obs *o = st ? tt_arr_insert(leaf->ob, &leaf->nob, &leaf->cob, j, sizeof *o, 8) : NULL;
    if (!o) {
        free(st);
        return NULL;
    }
    leaf->ob = o;
    o[j].feat = feat;
    o[j].vs = vs;
    o[j].nv = 0;
    o[j].st = st;
    leaf->nvt += TT_VS_HOLDS(vs);
    return &o[j];
}

int tt_leaf_learn(tt_tree *t, tt_node *leaf, const tt_x *x, int y, double w)
{
    return tt_leaf_learn_hint(t, leaf, x, y, w, TT_NB_UNKNOWN);
}

int tt_leaf_class(const tt_tree *t, const tt_node *leaf, const tt_x *x, int *nbp)
{
    double d[TIDE_MAX_CLASSES];
    int nb = leaf->active && (leaf->nob > 0 || leaf->npr > 0) &&
             (t->c.leaf_pred == TT_PRED_NB ||
              (t->c.leaf_pred == TT_PRED_NBA && !(leaf->mc_ok > leaf->nb_ok)));
    int K = t->K;
    *nbp = TT_NB_UNKNOWN;
    if (nb || (leaf->active && t->c.leaf_pred == TT_PRED_NBA)) {
        *nbp = nb_logpost(leaf, x, K, d, t->c.grid_var ? t : NULL) ? argmax(d, K) : -1;
        if (nb)
            return *nbp >= 0 ? *nbp : 0;
    }
    mc_dist(leaf, K, d);
    return argmax(d, K);
}

int tt_leaf_dist_class(const tt_tree *t, const tt_node *leaf, const tt_x *x, double *out,
                       int *nbp)
{
    int nb = leaf->active && (leaf->nob > 0 || leaf->npr > 0) &&
             (t->c.leaf_pred == TT_PRED_NB ||
              (t->c.leaf_pred == TT_PRED_NBA && !(leaf->mc_ok > leaf->nb_ok)));
    int K = t->K;
    *nbp = TT_NB_UNKNOWN;
    if (nb || (leaf->active && t->c.leaf_pred == TT_PRED_NBA)) {
        if (nb_logpost(leaf, x, K, out, t->c.grid_var ? t : NULL)) {
            *nbp = argmax(out, K);
            if (nb) {
                nb_normalise(out, K, *nbp);
                return *nbp;
            }
        } else {
            *nbp = -1;   /* no weight: the distribution is uniform, class 0 */
        }
    }
    mc_dist(leaf, K, out);
    return argmax(out, K);
}

int tt_tree_dist_class(const tt_tree *t, const tt_x *x, double *out, int *nbp)
{
    return tt_leaf_dist_class(t, tt_sort(t->root, x), x, out, nbp);
}

int tt_leaf_learn_hint(tt_tree *t, tt_node *leaf, const tt_x *x, int y, double w, int nbp)
{
    int rc;
    if (y >= leaf->K && (rc = leaf_grow(leaf, t->K > y ? t->K : y + 1)))
        return rc;
    if (leaf->active && t->c.leaf_pred == TT_PRED_NBA) {
        double d[TIDE_MAX_CLASSES];
        double tot = 0;
        for (int c = 0; c < leaf->K; c++)
            tot += leaf->cls[c];
        if (tot > 0) {
            if (argmax(leaf->cls, leaf->K) == y)
                leaf->mc_ok += w;
            if (nbp == TT_NB_UNKNOWN)
                nbp = nb_logpost(leaf, x, leaf->K, d, t->c.grid_var ? t : NULL) ? argmax(d, leaf->K)
                                                                             : -1;
            if (nbp == y)
                leaf->nb_ok += w;
        }
    }
    leaf->cls[y] += w;
    if (!leaf->active) {
        leaf->seen[y] += w;
        leaf->seen2[y] += w * w;
        return TIDE_OK;
    }
    uint32_t pos = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        tt_obs *o = leaf_observer(leaf, &pos, x->idx[i], t->c.split_prior);
        if (!o) {
            leaf->cls[y] -= w;
            return TIDE_ERR_NOMEM;
        }
        obs_update(o->st, y, x->v[i], w);
        if (TT_VS_HOLDS(o->vs))
            obs_vals_add(leaf, o, x->v[i]);
    }
    leaf->seen[y] += w;
    leaf->seen2[y] += w * w;
    double tot = 0;
    for (int c = 0; c < leaf->K; c++)
        tot += leaf->seen[c];
    if (leaf->depth >= t->c.max_depth) {
        leaf_drop_observers(leaf);
        leaf->active = 0;
        t->n_inactive++;
        return TIDE_OK;
    }
    if (tot - leaf->last_try >= t->c.grace) {
        leaf->last_try = tot;
        return attempt_split(t, leaf);
    }
    return TIDE_OK;
}

/* ---- memory management -------------------------------------------------- */

typedef struct leafref {
    tt_node *n;
    double promise;
} leafref;

static void collect_active(tt_node *n, leafref *a, size_t *k)
{
    if (n->feat != TT_LEAF) {
        collect_active(n->kid[0], a, k);
        collect_active(n->kid[1], a, k);
        return;
    }
    if (n->active && n->nob) {
        double tot = 0, mx = 0;
        for (int c = 0; c < n->K; c++) {
            tot += n->seen[c];
            if (n->cls[c] > mx)
                mx = n->cls[c];
        }
        a[*k].n = n;
        a[*k].promise = tot - mx;
        (*k)++;
    }
}

static int cmp_promise(const void *a, const void *b)
{
    double x = ((const leafref *)a)->promise, y = ((const leafref *)b)->promise;
    return x < y ? -1 : x > y;
}

void tt_tree_enforce_memory(tt_tree *t)
{
    size_t mem = tt_tree_memory(t), k = 0;
    leafref *a;
    if (t->c.max_bytes <= 0 || (double)mem <= t->c.max_bytes)
        return;
    a = malloc(((size_t)t->n_leaves + 1) * sizeof *a);
    if (!a)
        return;
    collect_active(t->root, a, &k);
    qsort(a, k, sizeof *a, cmp_promise);
    for (size_t i = 0; i < k && (double)mem > t->c.max_bytes; i++) {
        size_t before = tt_node_memory(a[i].n);
        leaf_drop_observers(a[i].n);
        a[i].n->active = 0;
        t->n_inactive++;
        mem -= before - tt_node_memory(a[i].n);
    }
    free(a);
}

/* ---- tree --------------------------------------------------------------- */

int tt_tree_init(tt_tree *t, const tt_cfg *c, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->c = *c;
    t->K = 2;
    t->rng = seed;
    t->root = tt_leaf_new(2, 0, NULL, 0);
    t->n_leaves = 1;
    return t->root ? TIDE_OK : TIDE_ERR_NOMEM;
}

void tt_tree_free(tt_tree *t)
{
    tt_node_free(t->root);
    t->root = NULL;
    free(t->fv);
    t->fv = NULL;
    t->nfv = t->cfv = 0;
}

/* Records the explicit values of x in t's tt_fvals (tt_cfg.grid_var). */
static int tree_vals_add(tt_tree *t, const tt_x *x)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < x->n; i++) {
        uint32_t feat = x->idx[i];
        while (j < t->nfv && t->fv[j].feat < feat)
            j++;
        if (j == t->nfv || t->fv[j].feat != feat) {
            tt_fvals *a = tt_arr_insert(t->fv, &t->nfv, &t->cfv, j, sizeof *a, 8);
            if (!a)
                return TIDE_ERR_NOMEM;
            t->fv = a;
            a[j].feat = feat;
            a[j].vs = TT_VS_FEW;
            a[j].nv = 0;
        }
        tt_fvals *e = &t->fv[j];
        float fv = (float)x->v[i];
        uint32_t k = 0;
        if (e->vs == TT_VS_MANY)
            continue;
        while (k < e->nv && e->v[k] != fv)
            k++;
        if (k < e->nv)
            e->vs = TT_VS_REP;
        else if (e->nv < TT_NVAL)
            e->v[e->nv++] = fv;
        else
            e->vs = TT_VS_MANY;
    }
    return TIDE_OK;
}

static void count_node(const tt_node *n, uint32_t *leaves, uint32_t *inactive)
{
    if (n->feat != TT_LEAF) {
        count_node(n->kid[0], leaves, inactive);
        count_node(n->kid[1], leaves, inactive);
        return;
    }
    (*leaves)++;
    *inactive += !n->active;
}

void tt_tree_count(tt_tree *t)
{
    t->n_leaves = t->n_inactive = 0;
    count_node(t->root, &t->n_leaves, &t->n_inactive);
}

int tt_tree_clone(const tt_tree *src, tt_tree *dst)
{
    *dst = *src;
    dst->root = NULL;
    dst->fv = NULL;
    dst->nfv = dst->cfv = 0;
    if (src->nfv) {
        dst->fv = malloc(src->nfv * sizeof *dst->fv);
        if (!dst->fv)
            return TIDE_ERR_NOMEM;
        memcpy(dst->fv, src->fv, src->nfv * sizeof *dst->fv);
        dst->nfv = dst->cfv = src->nfv;
    }
    return tt_node_clone(src->root, &dst->root);
}

size_t tt_tree_memory(const tt_tree *t)
{
    return sizeof *t + t->cfv * sizeof *t->fv + tt_node_memory(t->root);
}

int tt_tree_learn(tt_tree *t, const tt_x *x, int y, double w)
{
    return tt_tree_learn_hint(t, x, y, w, TT_NB_UNKNOWN);
}

int tt_tree_class(const tt_tree *t, const tt_x *x, int *nbp)
{
    return tt_leaf_class(t, tt_sort(t->root, x), x, nbp);
}

int tt_tree_learn_hint(tt_tree *t, const tt_x *x, int y, double w, int nbp)
{
    return tt_tree_learn_at(t, tt_sort(t->root, x), x, y, w, nbp);
}

int tt_tree_learn_at(tt_tree *t, tt_node *leaf, const tt_x *x, int y, double w, int nbp)
{
    int rc;
    if (y >= t->K)
        t->K = y + 1;
    if (t->c.grid_var && (rc = tree_vals_add(t, x)))
        return rc;
    rc = tt_leaf_learn_hint(t, leaf, x, y, w, nbp);
    if (++t->n_learn % MEM_PERIOD == 0)
        tt_tree_enforce_memory(t);
    return rc;
}

void tt_tree_predict(const tt_tree *t, const tt_x *x, double *out)
{
    tt_leaf_predict(t, tt_sort(t->root, x), x, out);
}

/* ---- state -------------------------------------------------------------- */
/* Node layout: u8 kind (0 leaf, 1 branch), u32 depth;
 *   branch: u32 feat, f64 thr, node kid0, node kid1
 *   leaf:   u32 K, u8 active, f64 cls[K], seen[K], seen2[K], last_try, mc_ok, nb_ok,
 *           u32 nob, nob x (u32 feat, f64 st[K*TT_OS]
 *                           [TT_SAVE_VALS: u8 vs [FEW/REP: u8 nv, f32 vals[nv]]]),
 *           [TT_SAVE_PRIOR: u32 npr [u32 prK, u32 prf[npr], f64 prs[npr*prK*TT_PR]]]
 *   HAT trees then: u8 has_adwin [adwin], u8 has_alt [node]. */
void tt_node_save(const tt_node *n, tide_wbuf *b, int with_hat)
{
    tide_wbuf_u8(b, n->feat == TT_LEAF ? 0 : 1);
    tide_wbuf_u32(b, (uint32_t)n->depth);
    if (n->feat != TT_LEAF) {
        tide_wbuf_u32(b, n->feat);
        tide_wbuf_f64(b, n->thr);
        tt_node_save(n->kid[0], b, with_hat);
        tt_node_save(n->kid[1], b, with_hat);
    } else {
        tide_wbuf_u32(b, (uint32_t)n->K);
        tide_wbuf_u8(b, (uint8_t)n->active);
        tide_wbuf_f64s(b, n->cls, (size_t)n->K);
        tide_wbuf_f64s(b, n->seen, (size_t)n->K);
        tide_wbuf_f64s(b, n->seen2, (size_t)n->K);
        tide_wbuf_f64(b, n->last_try);
        tide_wbuf_f64(b, n->mc_ok);
        tide_wbuf_f64(b, n->nb_ok);
        tide_wbuf_u32(b, n->nob);
        for (uint32_t i = 0; i < n->nob; i++) {
            tide_wbuf_u32(b, n->ob[i].feat);
            tide_wbuf_f64s(b, n->ob[i].st, (size_t)n->K * TT_OS);
            if (with_hat & TT_SAVE_VALS) {
                tide_wbuf_u8(b, n->ob[i].vs);
                if (TT_VS_HOLDS(n->ob[i].vs)) {
                    tide_wbuf_u8(b, n->ob[i].nv);
                    tide_wbuf_f32s(b, tt_obs_vals(&n->ob[i], n->K), n->ob[i].nv);
                }
            }
        }
        if (with_hat & TT_SAVE_PRIOR) {
            tide_wbuf_u32(b, n->npr);
            if (n->npr) {
                tide_wbuf_u32(b, (uint32_t)n->prK);
                for (uint32_t i = 0; i < n->npr; i++)
                    tide_wbuf_u32(b, n->prf[i]);
                tide_wbuf_f64s(b, n->prs, (size_t)n->npr * (size_t)n->prK * TT_PR);
            }
        }
    }
    if (with_hat & TT_SAVE_HAT) {
        tide_wbuf_u8(b, n->adw != NULL);
        if (n->adw)
            tide_adwin_save(n->adw, b);
        tide_wbuf_u8(b, n->alt != NULL);
        if (n->alt)
            tt_node_save(n->alt, b, with_hat);
    }
}

/* Observer o of leaf n (statistics read): tt_obs.vs [u8 nv, f32 values[nv]]
 * (TT_SAVE_VALS). The values must be finite and distinct, 1..TT_NVAL. */
static int obs_vals_load(tt_node *n, tt_obs *o, tide_rbuf *r)
{
    uint8_t vs = tide_rbuf_u8(r);
    if (r->bad || vs > TT_VS_MANY)
        return TIDE_ERR_FORMAT;
    if (!TT_VS_HOLDS(vs)) {
        o->vs = vs;
        return TIDE_OK;
    }
    uint8_t nv = tide_rbuf_u8(r);
    if (r->bad || nv < 1 || nv > TT_NVAL)
        return TIDE_ERR_FORMAT;
    double *s = realloc(o->st, obs_doubles(n->K, vs) * sizeof *s);
    if (!s)
        return TIDE_ERR_NOMEM;
    o->st = s;
    o->vs = vs;
    o->nv = nv;
    n->nvt++;
    float *vals = tt_obs_vals(o, n->K);
    tide_rbuf_f32s(r, vals, nv);
    if (r->bad)
        return TIDE_ERR_FORMAT;
    for (uint32_t i = 0; i < nv; i++) {
        if (!isfinite(vals[i]))
            return TIDE_ERR_FORMAT;
        for (uint32_t k = 0; k < i; k++)
            if (vals[k] == vals[i])
                return TIDE_ERR_FORMAT;
    }
    return TIDE_OK;
}

int tt_node_load(tide_rbuf *r, int depth, int with_hat, tt_node **out)
{
    tt_node *n = NULL;
    int rc = TIDE_ERR_FORMAT;
    uint8_t kind;
    uint32_t d;
    *out = NULL;
    if (depth > 2 * TT_DEPTH_MAX + 2)
        return TIDE_ERR_FORMAT;
    kind = tide_rbuf_u8(r);
    d = tide_rbuf_u32(r);
    if (r->bad || kind > 1 || d > TT_DEPTH_MAX)
        return TIDE_ERR_FORMAT;
    if (kind == 1) {
        n = calloc(1, sizeof *n);
        if (!n)
            return TIDE_ERR_NOMEM;
        n->depth = (int)d;
        n->feat = tide_rbuf_u32(r);
        n->thr = tide_rbuf_f64(r);
        if (r->bad || n->feat == TT_LEAF || isnan(n->thr))
            goto fail;
        if ((rc = tt_node_load(r, depth + 1, with_hat, &n->kid[0])) ||
            (rc = tt_node_load(r, depth + 1, with_hat, &n->kid[1])))
            goto fail;
    } else {
        uint32_t K = tide_rbuf_u32(r), nob;
        if (r->bad || K < 1 || K > TIDE_MAX_CLASSES)
            goto fail;
        n = tt_leaf_new((int)K, (int)d, NULL, 0);
        if (!n)
            return TIDE_ERR_NOMEM;
        n->active = tide_rbuf_u8(r) != 0;
        tide_rbuf_f64s(r, n->cls, K);
        tide_rbuf_f64s(r, n->seen, K);
        tide_rbuf_f64s(r, n->seen2, K);
        n->last_try = tide_rbuf_f64(r);
        n->mc_ok = tide_rbuf_f64(r);
        n->nb_ok = tide_rbuf_f64(r);
        nob = tide_rbuf_u32(r);
        /* each observer needs 4 + K*TT_OS*8 bytes: bound before allocating */
        if (r->bad || (uint64_t)nob * (4 + (uint64_t)K * TT_OS * 8) > r->len - r->pos)
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
            n->ob[i].feat = tide_rbuf_u32(r);
            n->ob[i].st = malloc((size_t)K * TT_OS * sizeof(double));
            if (!n->ob[i].st) {
                rc = TIDE_ERR_NOMEM;
                goto fail;
            }
            n->nob = i + 1;
            tide_rbuf_f64s(r, n->ob[i].st, (size_t)K * TT_OS);
            if (r->bad || (i > 0 && n->ob[i].feat <= n->ob[i - 1].feat))
                goto fail;
            if ((with_hat & TT_SAVE_VALS) && (rc = obs_vals_load(n, &n->ob[i], r)))
                goto fail;
        }
        if (r->bad)
            goto fail;
        if (with_hat & TT_SAVE_PRIOR) {
            uint32_t npr = tide_rbuf_u32(r), prK = 0;
            if (npr)
                prK = tide_rbuf_u32(r);
            /* each prior feature needs 4 + prK*TT_PR*8 bytes: bound first */
            if (r->bad || (npr && (prK < 1 || prK > K)) ||
                (uint64_t)npr * (4 + (uint64_t)prK * TT_PR * 8) > r->len - r->pos)
                goto fail;
            if (npr) {
                n->prf = malloc(npr * sizeof *n->prf);
                n->prs = malloc((size_t)npr * prK * TT_PR * sizeof *n->prs);
                if (!n->prf || !n->prs) {
                    rc = TIDE_ERR_NOMEM;
                    goto fail;
                }
                n->npr = npr;
                n->prK = (int)prK;
                for (uint32_t i = 0; i < npr; i++)
                    n->prf[i] = tide_rbuf_u32(r);
                tide_rbuf_f64s(r, n->prs, (size_t)npr * prK * TT_PR);
                if (r->bad)
                    goto fail;
                for (uint32_t i = 1; i < npr; i++)
                    if (n->prf[i] <= n->prf[i - 1])
                        goto fail;
                for (size_t i = 0; i < (size_t)npr * prK; i++) {
                    const double *q = n->prs + i * TT_PR;
                    if (!(q[PR_N] >= 0) || !isfinite(q[PR_N]) || !isfinite(q[PR_MEAN]) ||
                        !(q[PR_VAR] >= 0) || !isfinite(q[PR_VAR]))
                        goto fail;
                }
            }
        }
    }
    if (with_hat & TT_SAVE_HAT) {
        if (tide_rbuf_u8(r)) {
            if (tide_adwin_load(r, &n->adw, NULL)) {
                rc = TIDE_ERR_FORMAT;
                goto fail;
            }
        }
        if (tide_rbuf_u8(r)) {
            if ((rc = tt_node_load(r, depth + 1, with_hat, &n->alt)))
                goto fail;
        }
        if (r->bad)
            goto fail;
    }
    *out = n;
    return TIDE_OK;
fail:
    tt_node_free(n);
    return rc ? rc : TIDE_ERR_FORMAT;
}

void tt_tree_save(const tt_tree *t, tide_wbuf *b, int with_hat)
{
    tide_wbuf_u32(b, (uint32_t)t->K);
    tide_wbuf_u64(b, t->rng);
    tide_wbuf_u64(b, t->n_learn);
    tt_node_save(t->root, b, with_hat);
    if (with_hat & TT_SAVE_GRID) {   /* u32 nfv, nfv x (u32 feat, u8 vs [FEW/REP: u8 nv, f32 v[nv]]) */
        tide_wbuf_u32(b, t->nfv);
        for (uint32_t i = 0; i < t->nfv; i++) {
            tide_wbuf_u32(b, t->fv[i].feat);
            tide_wbuf_u8(b, t->fv[i].vs);
            if (t->fv[i].vs != TT_VS_MANY) {
                tide_wbuf_u8(b, t->fv[i].nv);
                tide_wbuf_f32s(b, t->fv[i].v, t->fv[i].nv);
            }
        }
    }
}

/* The tt_fvals block of a TT_SAVE_GRID state into t (empty before). */
static int tree_vals_load(tt_tree *t, tide_rbuf *r)
{
    uint32_t n = tide_rbuf_u32(r);
    if (r->bad || (uint64_t)n * 5 > r->len - r->pos)   /* 5 bytes each at least */
        return TIDE_ERR_FORMAT;
    if (n && !(t->fv = calloc(n, sizeof *t->fv)))
        return TIDE_ERR_NOMEM;
    t->cfv = n;
    for (uint32_t i = 0; i < n; i++) {
        tt_fvals *e = &t->fv[i];
        e->feat = tide_rbuf_u32(r);
        e->vs = tide_rbuf_u8(r);
        t->nfv = i + 1;
        if (r->bad || (i > 0 && e->feat <= t->fv[i - 1].feat) ||
            (e->vs != TT_VS_FEW && e->vs != TT_VS_REP && e->vs != TT_VS_MANY))
            return TIDE_ERR_FORMAT;
        if (e->vs == TT_VS_MANY)
            continue;
        e->nv = tide_rbuf_u8(r);
        if (r->bad || e->nv < 1 || e->nv > TT_NVAL || !tide_rbuf_f32s(r, e->v, e->nv))
            return TIDE_ERR_FORMAT;
        for (uint32_t a = 0; a < e->nv; a++)
            for (uint32_t b = a + 1; b < e->nv; b++)
                if (!(e->v[a] != e->v[b]))   /* distinct, not NaN */
                    return TIDE_ERR_FORMAT;
    }
    return TIDE_OK;
}

int tt_tree_load(tt_tree *t, tide_rbuf *r, int with_hat, tide_err *err)
{
    uint32_t K = tide_rbuf_u32(r);
    tt_node *root;
    int rc;
    if (r->bad || K < 2 || K > TIDE_MAX_CLASSES)
        return tide_err_set(err, TIDE_ERR_FORMAT, "tree state: class count is corrupt");
    t->rng = tide_rbuf_u64(r);
    t->n_learn = tide_rbuf_u64(r);
    rc = tt_node_load(r, 0, with_hat, &root);
    if (rc)
        return tide_err_set(err, rc, "tree state: node block is truncated or corrupt");
    free(t->fv);
    t->fv = NULL;
    t->nfv = t->cfv = 0;
    if ((with_hat & TT_SAVE_GRID) && (rc = tree_vals_load(t, r))) {
        tt_node_free(root);
        return tide_err_set(err, rc, rc == TIDE_ERR_NOMEM ? "tree state: out of memory"
                                                          : "tree state: value block is corrupt");
    }
    tt_node_free(t->root);
    t->root = root;
    t->K = (int)K;
    tt_tree_count(t);
    return TIDE_OK;
}

/* ---- the `ht` learner --------------------------------------------------- */

static const tide_param_spec HT_PARAMS[] = {
    {"split_criterion", TIDE_PARAM_ENUM, "info_gain", "info_gain|gini",
     "split merit: information gain (bits) or Gini decrease"},
    {"grace_period", TIDE_PARAM_INT, "200", "1..1000000",
     "weight a leaf learns between split attempts"},
    {"delta", TIDE_PARAM_DOUBLE, "1e-7", "1e-300..1", "split confidence of the Hoeffding bound"},
    {"tau", TIDE_PARAM_DOUBLE, "0.05", "0..1", "tie threshold: split when the bound is below it"},
    {"leaf_prediction", TIDE_PARAM_ENUM, "nba", "mc|nb|nba",
     "majority class, naive Bayes, or per-leaf best of the two"},
    {"max_depth", TIDE_PARAM_INT, "100", "1..100", "leaves at this depth stop splitting"},
    {"n_splits", TIDE_PARAM_INT, "10", "1..1000", "candidate thresholds per numeric feature"},
    {"max_size", TIDE_PARAM_DOUBLE, "100", "0..1e6",
     "memory limit in MiB (0 = none): least promising leaves are deactivated"},
};

void tt_cfg_from_params(tt_cfg *c, const tide_params *p)
{
    memset(c, 0, sizeof *c);
    c->crit = tide_params_enum(p, "split_criterion");
    c->grace = (int)tide_params_num(p, "grace_period");
    c->delta = tide_params_num(p, "delta");
    c->tau = tide_params_num(p, "tau");
    c->leaf_pred = tide_params_enum(p, "leaf_prediction");
    c->max_depth = (int)tide_params_num(p, "max_depth");
    c->n_splits = (int)tide_params_num(p, "n_splits");
    c->max_bytes = tide_params_num(p, "max_size") * 1024.0 * 1024.0;
    if (c->crit < 0)
        c->crit = TT_CRIT_INFO;
    if (c->leaf_pred < 0)
        c->leaf_pred = TT_PRED_NBA;
    if (c->n_splits < 1)
        c->n_splits = 10;
    if (c->max_depth < 1 || c->max_depth > TT_DEPTH_MAX)
        c->max_depth = TT_DEPTH_MAX;
    if (isnan(c->max_bytes))
        c->max_bytes = 0;
}

int tt_tree_begin(tt_tree *t, int n_classes, const tide_fvec *x, double w, tt_x *px)
{
    if (!(w > 0) || !isfinite(w))
        return TIDE_ERR_ARG;
    if (t->K < n_classes)
        t->K = n_classes;
    return tt_x_prep(px, x);
}

typedef struct ht_learner {
    tide_learner base;
    tt_tree t;
} ht_learner;

static int ht_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    ht_learner *h = calloc(1, sizeof *h);
    tt_cfg c;
    *out = NULL;
    if (!h)
        return tide_err_set(err, TIDE_ERR_NOMEM, "ht: out of memory");
    tt_cfg_from_params(&c, p);
    if (tt_tree_init(&h->t, &c, 0)) {
        free(h);
        return tide_err_set(err, TIDE_ERR_NOMEM, "ht: out of memory");
    }
    *out = &h->base;
    return TIDE_OK;
}

static void ht_destroy(tide_learner *l)
{
    ht_learner *h = (ht_learner *)l;
    if (!h)
        return;
    tt_tree_free(&h->t);
    free(h);
}

static int ht_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    ht_learner *h = (ht_learner *)l;
    tt_x px;
    int rc = tt_tree_begin(&h->t, l->n_classes, x, w, &px);
    if (rc == TIDE_OK) {
        rc = tt_tree_learn(&h->t, &px, (int)y, w);
        tt_x_free(&px);
    }
    return rc;
}

static void ht_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const ht_learner *h = (const ht_learner *)l;
    tt_tree t = h->t;   /* shallow view with the learner's class count */
    tt_x px;
    t.K = l->n_classes;
    if (tt_x_prep(&px, x)) {
        for (int c = 0; c < t.K; c++)
            out[c] = 1.0 / t.K;
        return;
    }
    tt_tree_predict(&t, &px, out);
    tt_x_free(&px);
}

/* The progressive step with one descent and one naive Bayes for both the
 * answer and the leaf's NB-adaptive bookkeeping (the _hint learner);
 * bit-identical to ht_predict then ht_learn. */
static int ht_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                            double *out)
{
    ht_learner *h = (ht_learner *)l;
    tt_x px;
    int rc, nbp;
    if ((rc = tt_tree_begin(&h->t, l->n_classes, x, w, &px))) {
        ht_predict(l, x, out);
        return rc;
    }
    (void)tt_tree_dist_class(&h->t, &px, out, &nbp);
    rc = tt_tree_learn_hint(&h->t, &px, (int)y, w, nbp);
    tt_x_free(&px);
    return rc;
}

static int ht_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const ht_learner *h = (const ht_learner *)l;
    ht_learner *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "ht: out of memory while cloning");
    c->base = h->base;
    if (tt_tree_clone(&h->t, &c->t)) {
        tt_tree_free(&c->t);
        free(c);
        return tide_err_set(err, TIDE_ERR_NOMEM, "ht: out of memory while cloning");
    }
    *out = &c->base;
    return TIDE_OK;
}

static int ht_save(const tide_learner *l, tide_wbuf *b)
{
    tt_tree_save(&((const ht_learner *)l)->t, b, 0);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int ht_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    return tt_tree_load(&((ht_learner *)l)->t, r, 0, err);
}

static size_t ht_memory(const tide_learner *l)
{
    const ht_learner *h = (const ht_learner *)l;
    return sizeof *h - sizeof h->t + tt_tree_memory(&h->t);
}

const tt_tree *tt_ht_tree(const tide_learner *l)
{
    return &((const ht_learner *)l)->t;
}

const tide_learner_vt tide_ht_vt = {
    .name = "ht",
    .task = TIDE_TASK_CLASSIFY,
    .summary = "Hoeffding tree classifier (VFDT, Domingos & Hulten 2000), Gaussian splits, NB-adaptive leaves",
    .params = HT_PARAMS,
    .n_params = sizeof HT_PARAMS / sizeof HT_PARAMS[0],
    .create = ht_create,
    .destroy = ht_destroy,
    .learn_one = ht_learn,
    .predict = ht_predict,
    .clone = ht_clone,
    .save_state = ht_save,
    .load_state = ht_load,
    .memory = ht_memory,
    /* 2: leaves carry seen2[K] and observers sum(w^2) (bootstrap variance) */
    .state_version = 2,
    .learn_predict = ht_learn_predict,
};
