/*
 * arf.c — adaptive random forest classifier (`arf`).
 *
 * H. M. Gomes, A. Bifet, J. Read, J. P. Barddal, F. Enembreck,
 * B. Pfahringer, G. Holmes, T. Abdessalem, "Adaptive random forests for
 * evolving data stream classification", Machine Learning 106, 2017; defaults
 * as River's ARFClassifier (read to understand, not copied).
 *
 * n_models Hoeffding trees (the ht core, tree.h) with grace period 50,
 * delta 0.01 and NB-adaptive leaves. Each tree evaluates, at every split
 * attempt, a fresh random subset of max_features of the features its leaf
 * has seen (sqrt(m) by default). Per row and tree:
 *   1. the tree predicts; its accuracy so far is updated;
 *   2. k ~ Poisson(lambda) (online bagging, Oza & Russell 2001); if k > 0
 *      the tree (and its background tree, if any) learns the row with
 *      weight k, then its two ADWIN detectors see the 0/1 error of the
 *      prediction of step 1. A detector signals only when its error
 *      estimate rose across the cut (MOA's ADWINChangeDetector, which
 *      Gomes et al. used; River also signals falls): the warning detector
 *      (delta warning_delta) starts a new background tree; the drift
 *      detector (delta drift_delta) replaces the tree by its background
 *      tree (or a new tree) and resets its accuracy.
 * Weighted rows reach the leaves' class weights, Gaussians (with the
 * bootstrap-aware variance of tree.h) and NB-adaptive counters.
 * A leaf made by a split starts its naive Bayes from its parent's
 * class-conditional Gaussians of the other features, worth at most
 * grace_period weight per class (nb_prior, prior_term() in ht.c; issue 3:
 * a young leaf otherwise predicts its class prior until it has rows).
 * With split_prior, the split feature joins that prior as the parent's
 * Gaussian truncated to the child's side of the threshold, for a feature
 * that is continuous at the parent: none of its values repeated there, or
 * more than 11 distinct ones (child_prior() in ht.c; seeds 1..50 Bananas
 * +0.2 point, Phishing unchanged: docs/bench/trees.md, fifth pass).
 * With grid_var, a class whose rows at a leaf all had the same value of a
 * feature discrete over the tree's rows (a value repeated, at most 11
 * distinct: tt_fvals) gets the variance h^2/12 of the grid of the leaf's
 * values (Sheppard's correction; grid_var() in ht.c) in the leaf's naive
 * Bayes instead of a near-zero one (seeds 1..50 Phishing +0.27 point,
 * Bananas unchanged, Elec2 -0.01: trees.md, sixth pass).
 * learn_predict computes each tree's answer once for the vote and for the
 * tree's accuracy, detectors and NB-adaptive bookkeeping.
 * Prediction: sum of the trees' distributions, each weighted by the tree's
 * accuracy (weighted_vote=true; a tree with accuracy 0 votes with weight
 * 1, as River does), normalised. All randomness comes from one splitmix64
 * generator seeded by `seed`, so a run is reproducible.
 */
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"
#include "learn/tree.h"

#define ARF_MAX_MODELS 1000

/* tt_fmember.score of a member: rows predicted right / predicted since
 * its tree was (re)started */
enum { SC_CORRECT, SC_SEEN };

typedef struct arf_learner {
    tide_learner base;
    tt_cfg c;
    int weighted;
    int load_flags;   /* TT_SAVE_* of the trees of the state being loaded */
    tt_forest f;      /* members: tt_tree trees (forest.c) */
} arf_learner;

/* The trees carry their leaves' priors, their observers' values (state
 * version 4) and their own record of each feature's values (version 5);
 * version 3 had no values (TT_SAVE_PRIOR only). */
#define ARF_SAVE (TT_SAVE_PRIOR | TT_SAVE_VALS | TT_SAVE_GRID)

static const tide_param_spec ARF_PARAMS[] = {
    {"n_models", TIDE_PARAM_INT, "10", "1..1000", "number of trees"},
    {"lambda", TIDE_PARAM_DOUBLE, "6", "0.01..100", "Poisson rate of the online bagging weights"},
    {"max_features", TIDE_PARAM_ENUM, "sqrt", "sqrt|log2|all",
     "features evaluated per split attempt, of the m a leaf has seen"},
    {"split_criterion", TIDE_PARAM_ENUM, "info_gain", "info_gain|gini",
     "split merit: information gain (bits) or Gini decrease"},
    {"grace_period", TIDE_PARAM_INT, "50", "1..1000000",
     "weight a leaf learns between split attempts"},
    {"delta", TIDE_PARAM_DOUBLE, "0.01", "1e-300..1", "split confidence of the Hoeffding bound"},
    {"tau", TIDE_PARAM_DOUBLE, "0.05", "0..1", "tie threshold: split when the bound is below it"},
    {"leaf_prediction", TIDE_PARAM_ENUM, "nba", "mc|nb|nba",
     "majority class, naive Bayes, or per-leaf best of the two"},
    {"max_depth", TIDE_PARAM_INT, "100", "1..100", "leaves at this depth stop splitting"},
    {"n_splits", TIDE_PARAM_INT, "10", "1..1000", "candidate thresholds per numeric feature"},
    {"max_size", TIDE_PARAM_DOUBLE, "100", "0..1e6", "memory limit per tree in MiB (0 = none)"},
    {"warning_delta", TIDE_PARAM_DOUBLE, "0.01", "1e-300..1",
     "ADWIN confidence of the warning detector (starts a background tree)"},
    {"drift_delta", TIDE_PARAM_DOUBLE, "0.001", "1e-300..1",
     "ADWIN confidence of the drift detector (replaces the tree)"},
    {"weighted_vote", TIDE_PARAM_BOOL, "true", NULL, "weight each tree's vote by its accuracy"},
    {"nb_prior", TIDE_PARAM_BOOL, "true", NULL,
     "a split's new leaves start their naive Bayes from the parent's Gaussians (worth at most grace_period)"},
    {"split_prior", TIDE_PARAM_BOOL, "true", NULL,
     "with nb_prior: a continuous split feature (no value repeated at the leaf, or over 11 distinct) "
     "gives the new leaves its Gaussian truncated to their side of the threshold"},
    {"grid_var", TIDE_PARAM_BOOL, "true", NULL,
     "with split_prior: naive Bayes gives a class whose rows at a leaf all had one value of a "
     "discrete feature (a value repeated, at most 11 distinct in the tree's rows) the variance "
     "h^2/12 of the grid of the leaf's values (h: their smallest gap), not a near-zero one"},
    {"seed", TIDE_PARAM_INT, "42", "0..4294967295", "seed of bagging weights and feature subsets"},
};

/* ---- the members' trees (tt_forest_ops) ---------------------------------- */

static int arf_tree_new(tt_forest *f, void **out)
{
    const arf_learner *a = f->owner;
    uint64_t seed = tt_rand(&f->rng);
    tt_tree *t = malloc(sizeof *t);
    if (!t)
        return TIDE_ERR_NOMEM;
    if (tt_tree_init(t, &a->c, seed)) {
        tt_tree_free(t);
        free(t);
        return TIDE_ERR_NOMEM;
    }
    if (t->K < a->base.n_classes)
        t->K = a->base.n_classes;
    *out = t;
    return TIDE_OK;
}

static void arf_tree_free(void *t)
{
    tt_tree_free(t);
    free(t);
}

static void *arf_tree_clone(const void *s)
{
    tt_tree *d = malloc(sizeof *d);
    if (d && tt_tree_clone(s, d)) {
        arf_tree_free(d);
        return NULL;
    }
    return d;
}

static int arf_tree_save(const void *t, tide_wbuf *b)
{
    tt_tree_save(t, b, ARF_SAVE);
    return TIDE_OK;
}

static int arf_tree_load(tt_forest *f, tide_rbuf *r, int i, void **out, tide_err *err)
{
    const arf_learner *a = f->owner;
    tt_tree *t = malloc(sizeof *t);
    int rc;
    if (!t || tt_tree_init(t, &a->c, 0)) {
        if (t)
            arf_tree_free(t);
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf state: out of memory");
    }
    if ((rc = tt_tree_load(t, r, a->load_flags, err))) {
        arf_tree_free(t);
        return rc;
    }
    *out = t;
    return TIDE_OK;
}

static size_t arf_tree_memory(const void *t)
{
    return tt_tree_memory(t);
}

static const tt_forest_ops ARF_OPS = {
    .name = "arf",
    .n_score = 2,
    .tree_new = arf_tree_new,
    .tree_free = arf_tree_free,
    .tree_clone = arf_tree_clone,
    .tree_save = arf_tree_save,
    .tree_load = arf_tree_load,
    .tree_memory = arf_tree_memory,
};

/* ---- the learner ---------------------------------------------------------- */

static void arf_destroy(tide_learner *l)
{
    arf_learner *a = (arf_learner *)l;
    if (!a)
        return;
    tt_forest_free(&a->f);
    free(a);
}

static int arf_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    arf_learner *a = calloc(1, sizeof *a);
    int n;
    *out = NULL;
    if (!a)
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory");
    tt_cfg_from_params(&a->c, p);
    int mf = tide_params_enum(p, "max_features");
    a->c.subspace = mf == 0 ? 1 : mf == 1 ? 2 : 0;
    /* see prior_term() in ht.c; the pseudo-weight cap is the grace period */
    a->c.nb_prior = tide_params_num(p, "nb_prior") != 0 ? a->c.grace : 0;
    /* the observers record their values only when the prior will use them */
    a->c.split_prior = tide_params_num(p, "split_prior") != 0 && a->c.nb_prior > 0 &&
                       a->c.leaf_pred != TT_PRED_MC;
    /* it reads the values the observers record for split_prior */
    a->c.grid_var = tide_params_num(p, "grid_var") != 0 && a->c.split_prior;
    n = (int)tide_params_num(p, "n_models");
    a->f.ops = &ARF_OPS;
    a->f.owner = a;
    a->f.lambda = tide_params_num(p, "lambda");
    a->f.warn_delta = tide_params_num(p, "warning_delta");
    a->f.drift_delta = tide_params_num(p, "drift_delta");
    a->weighted = tide_params_num(p, "weighted_vote") != 0;
    a->f.rng = (uint64_t)tide_params_num(p, "seed");
    a->base.n_classes = 2;
    if (n < 1 || n > ARF_MAX_MODELS) {
        free(a);
        return tide_err_set(err, TIDE_ERR_ARG, "arf: n_models must be in 1..%d", ARF_MAX_MODELS);
    }
    if (tt_forest_init(&a->f, n)) {
        arf_destroy(&a->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory");
    }
    *out = &a->base;
    return TIDE_OK;
}

static void arf_predict(const tide_learner *l, const tide_fvec *x, double *out);

/* Vote weight of member m: its accuracy since it was (re)started, 1 while
 * that is 0 (River's rule: a tree with no right answer yet votes at full
 * weight, else a fresh forest would not vote at all). */
static double vote_weight(const arf_learner *a, const tt_fmember *m)
{
    double acc = m->score[SC_SEEN] > 0 ? m->score[SC_CORRECT] / m->score[SC_SEEN] : 0;
    return a->weighted && acc > 0 ? acc : 1.0;
}

/* Sum_i w_i d_i / Sum_c Sum_i w_i d_i[c]; uniform when that is 0. */
static void vote_normalise(double *out, int K)
{
    double s = 0;
    for (int c = 0; c < K; c++)
        s += out[c];
    for (int c = 0; c < K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / K;
}

/* lv[k] = the leaf x sorts to in the tree of member i + k, for the nb
 * members of the block of ARF_BLOCK from i (returned), lv[nb + k] in its
 * background tree (NULL when none): the trees are descended a level at a
 * time, all of them together, so that the memory reads of the nodes of
 * different trees overlap instead of queueing one descent after the
 * other. Member i + k's tree changes only when member i + k learns, after
 * its leaf is used (tt_forest_signal replaces that member's tree only). */
#define ARF_BLOCK 32
static int sort_block(const arf_learner *a, int i, const tt_x *x, tt_node **lv)
{
    int nb = a->f.n - i < ARF_BLOCK ? a->f.n - i : ARF_BLOCK, more = 1;
    for (int k = 0; k < nb; k++) {
        const tt_tree *bg = a->f.m[i + k].bg;
        lv[k] = ((tt_tree *)a->f.m[i + k].t)->root;
        lv[nb + k] = bg ? bg->root : NULL;
    }
    while (more) {
        more = 0;
        for (int k = 0; k < 2 * nb; k++) {
            tt_node *n = lv[k];
            if (n && n->feat != TT_LEAF) {
                lv[k] = n->kid[tt_x_get_flat(x, n->feat) <= n->thr ? 0 : 1];
                more = 1;
            }
        }
    }
    return nb;
}

/* One progressive step; out (NULL: learn only) receives what arf_predict
 * would answer before the row is learned, computed from the same per-tree
 * evaluations as the learning (one descent and one naive Bayes per tree
 * instead of two). */
static int arf_step(tide_learner *l, const tide_fvec *x, double yd, double w, double *out)
{
    arf_learner *a = (arf_learner *)l;
    int y = (int)yd, rc = TIDE_OK, K = l->n_classes;
    double d[TIDE_MAX_CLASSES];
    tt_x px;
    if (!(w > 0) || !isfinite(w) || (rc = tt_x_prep(&px, x))) {
        if (out)
            arf_predict(l, x, out);
        return rc ? rc : TIDE_ERR_ARG;
    }
    for (int c = 0; out && c < K; c++)
        out[c] = 0;
    double el = exp(-a->f.lambda);   /* the Poisson draws' exp(-lambda) */
    tt_node *lv[2 * ARF_BLOCK];
    int nb = 0;
    for (int i = 0; i < a->f.n && rc == TIDE_OK; i++) {
        if (i % ARF_BLOCK == 0)
            nb = sort_block(a, i, &px, lv);
        tt_fmember *m = &a->f.m[i];
        tt_tree *t = m->t, *bg = m->bg;
        if (t->K < K)
            t->K = K;
        if (bg && bg->K < K)
            bg->K = K;
        int nbp, pred;
        tt_node *leaf = lv[i % ARF_BLOCK];   /* t's leaf until t learns x */
        if (out) {
            double wt = vote_weight(a, m);
            pred = tt_leaf_dist_class(t, leaf, &px, d, &nbp);
            for (int c = 0; c < K; c++)
                out[c] += wt * d[c];
        } else {
            pred = tt_leaf_class(t, leaf, &px, &nbp);
        }
        int wrong = pred != y;
        m->score[SC_CORRECT] += wrong ? 0 : 1;
        m->score[SC_SEEN] += 1;
        int k = tt_poisson_l(&a->f.rng, el);
        if (k == 0)
            continue;
        if (bg && (rc = tt_tree_learn_at(bg, lv[nb + i % ARF_BLOCK], &px, y, w * k,
                                         TT_NB_UNKNOWN)))
            break;
        if ((rc = tt_tree_learn_at(t, leaf, &px, y, w * k, nbp)))
            break;
        /* the detectors signal a RISE of the error only (forest.c) */
        rc = tt_forest_signal(&a->f, m, wrong);
    }
    tt_x_free(&px);
    if (out && rc != TIDE_OK)
        arf_predict(l, x, out);   /* out of memory midway: the state's answer */
    else if (out)
        vote_normalise(out, K);
    return rc;
}

static int arf_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    return arf_step(l, x, y, w, NULL);
}

static int arf_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                             double *out)
{
    return arf_step(l, x, y, w, out);
}

static void arf_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const arf_learner *a = (const arf_learner *)l;
    int K = l->n_classes;
    double d[TIDE_MAX_CLASSES];
    tt_x px;
    for (int c = 0; c < K; c++)
        out[c] = 0;
    if (tt_x_prep(&px, x) == TIDE_OK) {
        for (int i = 0; i < a->f.n; i++) {
            tt_tree t = *(const tt_tree *)a->f.m[i].t;   /* view with the learner's class count */
            double wt = vote_weight(a, &a->f.m[i]);
            t.K = K;
            tt_tree_predict(&t, &px, d);
            for (int c = 0; c < K; c++)
                out[c] += wt * d[c];
        }
        tt_x_free(&px);
    }
    vote_normalise(out, K);
}

static int arf_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const arf_learner *a = (const arf_learner *)l;
    arf_learner *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory while cloning");
    *c = *a;
    if (tt_forest_clone(&a->f, &c->f, c)) {
        arf_destroy(&c->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory while cloning");
    }
    *out = &c->base;
    return TIDE_OK;
}

/* Layout (tt_forest_save): u64 rng, n_warnings, n_drifts, u32 n_models, then
 * per tree: tree, u8 has_bg [tree], adwin warn, adwin drift, f64 correct,
 * seen. */
static int arf_save(const tide_learner *l, tide_wbuf *b)
{
    return tt_forest_save(&((const arf_learner *)l)->f, b);
}

static int arf_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    arf_learner *a = (arf_learner *)l;
    a->load_flags = ARF_SAVE;
    return tt_forest_load(&a->f, r, err);
}

/* State version 4 (before grid_var; trees without their tt_fvals): the model
 * goes on as it was trained, with grid_var off. Version 3 (before
 * split_prior): its observers recorded no values, so split_prior is off
 * too. Both are saved as such from now on. */
static int arf_load_old(tide_learner *l, tide_rbuf *r, uint32_t version, tide_err *err)
{
    arf_learner *a = (arf_learner *)l;
    int rc;
    if (version != 3 && version != 4)
        return tide_err_set(err, TIDE_ERR_VERSION, "arf: state version %u is not supported",
                            version);
    if ((rc = tide_params_set(&l->params, "grid_var=false", err)))
        return rc;
    a->c.grid_var = 0;   /* the loaded trees and every later one copy a->c */
    a->load_flags = TT_SAVE_PRIOR | TT_SAVE_VALS;
    if (version == 3) {
        if ((rc = tide_params_set(&l->params, "split_prior=false", err)))
            return rc;
        a->c.split_prior = 0;
        a->load_flags = TT_SAVE_PRIOR;
    }
    return tt_forest_load(&a->f, r, err);
}

static size_t arf_memory(const tide_learner *l)
{
    const arf_learner *a = (const arf_learner *)l;
    return sizeof *a + tt_forest_memory(&a->f);
}

void tt_arf_counters(const tide_learner *l, uint64_t *n_warnings, uint64_t *n_drifts)
{
    const arf_learner *a = (const arf_learner *)l;
    *n_warnings = a->f.n_warnings;
    *n_drifts = a->f.n_drifts;
}

tt_tree *tt_arf_tree(tide_learner *l, int i)
{
    arf_learner *a = (arf_learner *)l;
    return i >= 0 && i < a->f.n ? a->f.m[i].t : NULL;
}

void tt_arf_set_score(tide_learner *l, int i, double correct, double seen)
{
    arf_learner *a = (arf_learner *)l;
    if (i >= 0 && i < a->f.n) {
        a->f.m[i].score[SC_CORRECT] = correct;
        a->f.m[i].score[SC_SEEN] = seen;
    }
}

const tide_learner_vt tide_arf_vt = {
    .name = "arf",
    .task = TIDE_TASK_CLASSIFY,
    .summary = "adaptive random forest (Gomes et al. 2017): Poisson(6) bagging, random subspaces, ADWIN warning/drift",
    .params = ARF_PARAMS,
    .n_params = sizeof ARF_PARAMS / sizeof ARF_PARAMS[0],
    .create = arf_create,
    .destroy = arf_destroy,
    .learn_one = arf_learn,
    .predict = arf_predict,
    .clone = arf_clone,
    .save_state = arf_save,
    .load_state = arf_load,
    .memory = arf_memory,
    /* 2: tree leaves carry sums of squared weights (tree.h);
     * 3: and their naive Bayes prior (nb_prior);
     * 4: and their observers' values (split_prior);
     * 5: and each tree's record of its features' values (grid_var);
     * 3 and 4 still load */
    .state_version = 5,
    .learn_predict = arf_learn_predict,
    .min_state_version = 3,
    .load_old_state = arf_load_old,
};
