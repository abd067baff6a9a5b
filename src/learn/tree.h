/*
 * tree.h — private to src/learn: the Hoeffding tree classifier core shared
 * by ht.c (VFDT), hat.c (Hoeffding adaptive tree) and arf.c (adaptive random
 * forest), plus small helpers (PRNG, Poisson draws, sorted feature vectors).
 *
 * Algorithms: P. Domingos, G. Hulten, "Mining high-speed data streams",
 * KDD 2000 (VFDT: Hoeffding bound split test, grace period, tie threshold,
 * memory management by deactivating the least promising leaves); numeric
 * attributes as per-class Gaussians with candidate thresholds between the
 * observed min and max, as in MOA/River's Gaussian splitter (read to
 * understand, not copied); adaptive naive Bayes leaves as in MOA's
 * "NBAdaptive" (G. Holmes, R. Kirkby, B. Pfahringer 2005).
 *
 * Feature identity is the hash bucket (tide_feat.idx). A feature absent from
 * x has value 0. Observers keep explicit statistics of the values they saw;
 * the rows of a leaf in which the feature was absent are implicit zeros,
 * counted exactly as (rows of class c seen at the leaf) - (observer's
 * weight of class c), because an observer is created the first time its
 * feature appears at that leaf.
 */
#ifndef TIDE_TREE_H
#define TIDE_TREE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "tide/drift.h"
#include "tide/learn.h"

#define TT_LEAF UINT32_MAX
#define TT_DEPTH_MAX 100        /* hard cap on depth (load recursion bound) */
#define TT_XINL 64              /* inline capacity of a prepared vector */

/* ---- PRNG (splitmix64) and Poisson draws -------------------------------- */
static inline uint64_t tt_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline double tt_unif(uint64_t *s)
{
    return (double)(tt_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}
/* Knuth's multiplication method; fine for the small lambdas used (1, 6).
 * tt_poisson_l takes l = exp(-lambda), for a caller drawing many. */
static inline int tt_poisson_l(uint64_t *s, double l)
{
    double p = 1.0;
    int k = 0;
    do {
        k++;
        p *= tt_unif(s);
    } while (p > l && k < 1000);
    return k - 1;
}
static inline int tt_poisson(uint64_t *s, double lambda)
{
    return tt_poisson_l(s, exp(-lambda));
}

/* ---- prepared input: sorted by bucket, duplicates summed ---------------- */
typedef struct tt_x {
    uint32_t n;
    uint32_t *idx;
    double *v;
    uint32_t ibuf[TT_XINL];
    double vbuf[TT_XINL];
} tt_x;

int tt_x_prep(tt_x *p, const tide_fvec *x);   /* TIDE_ERR_NOMEM on failure */
void tt_x_free(tt_x *p);
static inline double tt_x_get_bisect(const tt_x *p, uint32_t feat)
{
    uint32_t lo = 0, hi = p->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->idx[mid] < feat)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n && p->idx[lo] == feat ? p->v[lo] : 0.0;
}

/* x[feat], 0 when absent, both: tt_x_get bisects (a lone tree's descent,
 * whose branches the CPU learns); tt_x_get_flat counts through a short
 * vector (a CSV row's few features) without branches, the position of feat
 * being the number of smaller buckets (idx is strictly increasing): for
 * interleaved descents of many trees (arf's sort_block), where the
 * bisection's branches are not predictable (Elec2 arf ~+10 %, ht -20 %
 * with it). */
static inline double tt_x_get_flat(const tt_x *p, uint32_t feat)
{
    uint32_t lo = 0, n = p->n;
    if (n > 16)
        return tt_x_get_bisect(p, feat);
    for (uint32_t i = 0; i < n; i++)
        lo += p->idx[i] < feat;
    return lo < n && p->idx[lo] == feat ? p->v[lo] : 0.0;
}

static inline double tt_x_get(const tt_x *p, uint32_t feat)
{
    return tt_x_get_bisect(p, feat);
}

/* Opens a gap at position at of the array a of *n elements of size bytes
 * (capacity *cap, doubled when full, first first_cap): elements at.. move
 * up one, *n grows by one; the gap is not initialised. Returns the array
 * (it may have moved), NULL when out of memory (a, *n, *cap unchanged). */
static inline void *tt_arr_insert(void *a, uint32_t *n, uint32_t *cap, uint32_t at,
                                   size_t size, uint32_t first_cap)
{
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : first_cap;
        void *g = realloc(a, (size_t)nc * size);
        if (!g)
            return NULL;
        a = g;
        *cap = nc;
    }
    memmove((char *)a + (size_t)(at + 1) * size, (char *)a + (size_t)at * size,
            (size_t)(*n - at) * size);
    (*n)++;
    return a;
}

/* ---- classifier tree ---------------------------------------------------- */
/* Per-class observer statistics, TT_OS doubles per class. OS_N is the sum
 * of the weights w, OS_W2 the sum of w^2, OS_IV 1/variance or 0.
 *
 * Variance of weighted values: M2 / (W - sum(w^2)/W) (reliability weights),
 * not M2 / (W - 1). A row learned with weight k (ARF's Poisson(6) and
 * HAT's Poisson(1) bootstrap weights) is one observation repeated k
 * times, not k independent ones: with W - 1, three rows of weight 6 count
 * as 18 draws and the variance comes out ~2.4x too small, so naive Bayes
 * leaves are overconfident and the Gaussian split estimates too sharp.
 * With unit weights sum(w^2) = W and the formula is the usual W - 1. */
enum { OS_N, OS_MEAN, OS_M2, OS_MIN, OS_MAX, OS_IV, OS_W2, TT_OS };
/* Per-class naive Bayes prior statistics of a new leaf (tt_node.prs). */
enum { PR_N, PR_MEAN, PR_VAR, TT_PR };

/* What an observer knows of its feature's explicit values at the leaf
 * (tt_cfg.split_prior; implicit zeros are not counted): */
enum {
    TT_VS_NONE = 0,   /* not recorded (split_prior off, or a state saved without) */
    TT_VS_FEW,        /* at most TT_NVAL distinct values so far, none repeated */
    TT_VS_REP,        /* at most TT_NVAL distinct values, one of them repeated */
    TT_VS_MANY        /* more than TT_NVAL distinct values */
};
#define TT_NVAL 11
/* Continuous at this leaf: no value repeated, or too many to be a code. */
#define TT_VS_CONTINUOUS(vs) ((vs) == TT_VS_FEW || (vs) == TT_VS_MANY)
/* Recording: the observer holds its values. */
#define TT_VS_HOLDS(vs) ((vs) == TT_VS_FEW || (vs) == TT_VS_REP)

/* Doubles of room behind an observer's statistics for TT_NVAL floats. The
 * values are kept as float: they arrive as float (tide_feat.val), so only
 * a sum of duplicate buckets (tt_x_prep) can be rounded, which can only
 * make two values equal: a feature then looks discrete (no truncation). */
#define TT_VROOM ((TT_NVAL + 1) / 2)

typedef struct tt_obs {
    uint32_t feat;   /* bucket */
    uint8_t vs;      /* TT_VS_* */
    uint8_t nv;      /* distinct values recorded (TT_VS_HOLDS) */
    double *st;      /* K * TT_OS doubles, then (TT_VS_HOLDS) TT_VROOM doubles
                      * holding the nv distinct values as floats, in arrival
                      * order (tt_obs_vals()); owned */
} tt_obs;

static inline float *tt_obs_vals(const tt_obs *o, int K)
{
    return (float *)(o->st + (size_t)K * TT_OS);
}

typedef struct tt_node tt_node;
struct tt_node {
    uint32_t feat;     /* split bucket; TT_LEAF for a leaf */
    int depth;         /* root = 0 */
    double thr;        /* branch: x[feat] <= thr goes to kid[0] */
    tt_node *kid[2];   /* branch children, owned */
    /* leaf state (NULL/0 for branches) */
    int K;             /* classes allocated in cls/seen/observers */
    int active;        /* 0: deactivated (no observers, no splits) */
    double *cls;       /* K class weights: estimate at creation + learned */
    double *seen;      /* K weights learned here (implicit-zero accounting) */
    double *seen2;     /* K sums of squared weights learned here (same) */
    tt_obs *ob;        /* observers sorted by feat */
    uint32_t nob, cob;
    uint32_t nvt;      /* observers holding values (TT_VS_HOLDS) */
    double last_try;   /* sum(seen) at the last split attempt */
    double mc_ok, nb_ok;  /* weight predicted right by MC / NB (nba) */
    /* naive Bayes prior of a leaf made by a split (tt_cfg.nb_prior): for
     * each of npr features (prf, sorted) and prK classes, TT_PR doubles of
     * prs (pseudo-weight, mean, variance) taken from the parent; used only
     * by the leaf's naive Bayes, never by its split decisions. Owned. */
    uint32_t *prf;
    double *prs;
    uint32_t npr;
    int prK;
    /* Hoeffding adaptive tree only */
    tide_adwin *adw;   /* error estimator of this node's subtree, owned */
    tt_node *alt;      /* alternate subtree, owned */
};

enum { TT_CRIT_INFO = 0, TT_CRIT_GINI = 1 };
enum { TT_PRED_MC = 0, TT_PRED_NB = 1, TT_PRED_NBA = 2 };

typedef struct tt_cfg {
    int crit;           /* TT_CRIT_* */
    int grace;          /* weight between split attempts at a leaf */
    double delta;       /* split confidence */
    double tau;         /* tie threshold */
    int leaf_pred;      /* TT_PRED_* */
    int max_depth;      /* leaves at this depth are deactivated */
    int n_splits;       /* candidate thresholds per numeric feature */
    double max_bytes;   /* memory limit; 0 = none */
    int subspace;       /* ARF: 0 all features, 1 sqrt(m), 2 log2(m)+1 */
    double nb_prior;    /* cap of a new leaf's NB prior pseudo-weight; 0 = none */
    int split_prior;    /* with nb_prior: observers record their values (tt_obs.vs)
                         * and a continuous split feature's truncated Gaussian
                         * joins the children's prior (child_prior() in ht.c) */
    int grid_var;       /* with split_prior: naive Bayes gives a class whose rows
                         * all had one value of a feature with recorded values
                         * the variance h^2/12 of the values' grid (grid_var()
                         * in ht.c), not NB_VAR_SMOOTH of the largest one */
} tt_cfg;

/* Flags of tt_tree_save/tt_node_save/..._load (the with_hat argument):
 * TT_SAVE_HAT: HAT's adwin/alternate per node; TT_SAVE_PRIOR: leaves carry
 * their naive Bayes prior (arf state version 3); TT_SAVE_VALS: observers
 * carry what they know of their values (tt_obs.vs, arf state version 4;
 * loaded without it, observers are TT_VS_NONE). */
#define TT_SAVE_HAT 1
#define TT_SAVE_PRIOR 2
#define TT_SAVE_VALS 4
#define TT_SAVE_GRID 8   /* the tree's tt_fvals (arf state version 5) */

/* What a tree knows of a feature's explicit values over all the rows it
 * learned (tt_cfg.grid_var): the TT_VS_* rule of tt_obs, for the tree's
 * whole stream instead of one leaf. A feature is discrete for the tree
 * when one of its values repeated and it took at most TT_NVAL values
 * (TT_VS_REP); a young leaf of a continuous feature can look discrete (a
 * date repeats within a day), its tree's stream does not. */
typedef struct tt_fvals {
    uint32_t feat;          /* bucket */
    uint8_t vs;             /* TT_VS_FEW, TT_VS_REP or TT_VS_MANY */
    uint8_t nv;             /* distinct values in v (FEW/REP) */
    float v[TT_NVAL];
} tt_fvals;

typedef struct tt_tree {
    tt_cfg c;
    tt_node *root;
    int K;              /* classes known to the tree */
    uint64_t rng;       /* feature subsampling (ARF) */
    uint64_t n_learn;   /* learn calls (memory check period) */
    uint32_t n_leaves, n_inactive;
    tt_fvals *fv;       /* sorted by feat, owned (tt_cfg.grid_var; else NULL) */
    uint32_t nfv, cfv;
} tt_tree;

int tt_tree_init(tt_tree *t, const tt_cfg *c, uint64_t seed);
void tt_tree_free(tt_tree *t);
int tt_tree_clone(const tt_tree *src, tt_tree *dst);
size_t tt_tree_memory(const tt_tree *t);
void tt_tree_save(const tt_tree *t, tide_wbuf *b, int with_hat);
int tt_tree_load(tt_tree *t, tide_rbuf *r, int with_hat, tide_err *err);

/* The start of a learner's step on tree t: checks the weight w (> 0,
 * finite: else TIDE_ERR_ARG), raises t->K to n_classes and prepares x into
 * px (TIDE_ERR_NOMEM). px is to be freed only when this returned TIDE_OK. */
int tt_tree_begin(tt_tree *t, int n_classes, const tide_fvec *x, double w, tt_x *px);
/* Learn one example (sorted x) on the plain tree; y < t->K required. */
int tt_tree_learn(tt_tree *t, const tt_x *x, int y, double w);
/* Distribution over t->K classes (sums to 1). */
void tt_tree_predict(const tt_tree *t, const tt_x *x, double *out);

/* Predicted class (argmax of tt_leaf_predict / tt_tree_predict) without
 * normalising. *nbp receives the leaf's naive Bayes argmax when it was
 * computed (-1: leaf without weight), else TT_NB_UNKNOWN; passing it to the
 * _hint learners spares the NB-adaptive bookkeeping a second evaluation,
 * valid only while the leaf has not changed in between. */
#define TT_NB_UNKNOWN (-2)
int tt_leaf_class(const tt_tree *t, const tt_node *leaf, const tt_x *x, int *nbp);
int tt_tree_class(const tt_tree *t, const tt_x *x, int *nbp);
/* Both at once, for a progressive step: out = tt_leaf_predict's
 * distribution, returns tt_leaf_class's class, *nbp as there. */
int tt_leaf_dist_class(const tt_tree *t, const tt_node *leaf, const tt_x *x, double *out,
                       int *nbp);
int tt_tree_dist_class(const tt_tree *t, const tt_x *x, double *out, int *nbp);
int tt_leaf_learn_hint(tt_tree *t, tt_node *leaf, const tt_x *x, int y, double w, int nbp);
int tt_tree_learn_hint(tt_tree *t, const tt_x *x, int y, double w, int nbp);
/* Same, given the leaf x sorts to (tt_sort(t->root, x)): a learner that
 * just predicted x on t passes the leaf it found, t unchanged since. */
int tt_tree_learn_at(tt_tree *t, tt_node *leaf, const tt_x *x, int y, double w, int nbp);

/* Node-level operations (HAT builds its own descent on these). */
tt_node *tt_leaf_new(int K, int depth, const double *init, int kinit);
void tt_node_free(tt_node *n);
int tt_node_clone(const tt_node *n, tt_node **out);
tt_node *tt_sort(tt_node *n, const tt_x *x);
void tt_leaf_predict(const tt_tree *t, const tt_node *leaf, const tt_x *x, double *out);
int tt_leaf_learn(tt_tree *t, tt_node *leaf, const tt_x *x, int y, double w);
void tt_node_save(const tt_node *n, tide_wbuf *b, int with_hat);
int tt_node_load(tide_rbuf *r, int depth, int with_hat, tt_node **out);
size_t tt_node_memory(const tt_node *n);
/* Hoeffding bound sqrt(R^2 ln(1/delta) / (2n)). */
double tt_hoeffding_bound(double range, double delta, double n);
double tt_entropy(const double *d, int k);     /* bits */
double tt_gini(const double *d, int k);
/* merit of splitting pre into the two distributions l, r (k classes);
 * -INFINITY when fewer than two branches hold >= 1% of the weight. */
double tt_merit(int crit, const double *l, const double *r, int k);
/* Deactivates the least promising leaves while the tree exceeds max_bytes. */
void tt_tree_enforce_memory(tt_tree *t);
/* hat: alternates started, swapped in, pruned. */
void tt_hat_counters(const tide_learner *l, uint64_t *n_alt, uint64_t *n_switch,
                     uint64_t *n_prune);
/* arf: warnings (background trees started) and drifts (trees replaced). */
void tt_arf_counters(const tide_learner *l, uint64_t *n_warnings, uint64_t *n_drifts);
/* arf (tests): foreground tree i (NULL when out of range); sets member i's
 * score (rows predicted right / rows predicted since it was started). */
tt_tree *tt_arf_tree(tide_learner *l, int i);
void tt_arf_set_score(tide_learner *l, int i, double correct, double seen);
/* arfr: warnings (background trees started) and drifts (trees replaced). */
void tt_arfr_counters(const tide_learner *l, uint64_t *n_warnings, uint64_t *n_drifts);
/* bagging: member i (NULL when out of range). */
const tide_learner *tt_bagging_member(const tide_learner *l, int i);
/* Counts the leaves/inactive leaves (after load or clone). */
void tt_tree_count(tt_tree *t);
/* The tree inside an `ht` learner (tests, explanations). */
const tt_tree *tt_ht_tree(const tide_learner *l);
/* htr: variance reduction of a split whose sides have (n, mean, sample
 * variance) nl, ml, vl and nr, mr, vr (tests). */
double tt_htr_vr(double nl, double ml, double vl, double nr, double mr, double vr);
/* Reads the shared ht parameters into c (names as in ht's spec table). */
void tt_cfg_from_params(tt_cfg *c, const tide_params *p);

/* ---- adaptive random forests' members (forest.c) --------------------------
 * What arf and arfr share. Each member has a foreground tree, an optional
 * background tree and a warning/drift pair of ADWINs fed the member's
 * error, which signal only when the error estimate ROSE across the cut
 * (MOA's ADWINChangeDetector, used by Gomes et al. 2017): ADWIN also cuts
 * when the error falls, which for a young tree is its learning curve. A
 * tree is the learner's own type, handled through its tt_forest_ops. */
typedef struct tt_detpair {
    tide_adwin *warn;    /* owned */
    tide_adwin *drift;   /* owned */
} tt_detpair;

#define TT_FSCORE 3      /* doubles of a member's score */

typedef struct tt_fmember {
    void *t;                    /* foreground tree, owned */
    void *bg;                   /* background tree, owned; NULL when none */
    tt_detpair det;             /* warning and drift detectors */
    double score[TT_FSCORE];    /* the learner's statistics of t; zeroed when t is replaced */
} tt_fmember;

typedef struct tt_forest tt_forest;

typedef struct tt_forest_ops {
    const char *name;   /* the learner's, in messages */
    int n_score;        /* doubles of score saved per member (<= TT_FSCORE) */
    /* A fresh tree seeded from f->rng; TIDE_ERR_NOMEM. */
    int (*tree_new)(tt_forest *f, void **out);
    void (*tree_free)(void *t);
    void *(*tree_clone)(const void *t);   /* NULL: out of memory */
    int (*tree_save)(const void *t, tide_wbuf *b);
    /* Reads the tree of member i (err set on failure, *out untouched). */
    int (*tree_load)(tt_forest *f, tide_rbuf *r, int i, void **out, tide_err *err);
    size_t (*tree_memory)(const void *t);   /* including the tree's own struct */
    /* Whether a loaded score is valid (NULL: any is). */
    int (*score_ok)(const double *score);
} tt_forest_ops;

struct tt_forest {
    const tt_forest_ops *ops;
    void *owner;          /* the learner, for the ops */
    int n;                /* members */
    double lambda;        /* Poisson rate of the bagging weights */
    double warn_delta, drift_delta;
    uint64_t rng;         /* bagging weights and the trees' seeds */
    uint64_t n_warnings;  /* background trees started */
    uint64_t n_drifts;    /* trees replaced */
    tt_fmember *m;        /* n, owned */
};

/* Creates n members (ops, owner, deltas and rng set by the caller);
 * TIDE_ERR_NOMEM: call tt_forest_free. */
int tt_forest_init(tt_forest *f, int n);
void tt_forest_free(tt_forest *f);
/* Feeds the error x (in [0, 1]) to m's detectors: a warning starts a new
 * background tree, a drift replaces the tree by it (or by a new tree) and
 * zeroes the score. TIDE_ERR_NOMEM leaves m as it was before the signal. */
int tt_forest_signal(tt_forest *f, tt_fmember *m, double x);
/* d = a deep copy of s for the learner owner; TIDE_ERR_NOMEM: call
 * tt_forest_free(d). */
int tt_forest_clone(const tt_forest *s, tt_forest *d, void *owner);
/* Layout: u64 rng, n_warnings, n_drifts, u32 n, then per member: tree,
 * u8 has_bg [tree], adwin warn, adwin drift, f64 score[n_score]. */
int tt_forest_save(const tt_forest *f, tide_wbuf *b);
/* Each member is replaced only once it has loaded whole. */
int tt_forest_load(tt_forest *f, tide_rbuf *r, tide_err *err);
/* The members, their trees and detectors (not the tt_forest itself). */
size_t tt_forest_memory(const tt_forest *f);

#endif
