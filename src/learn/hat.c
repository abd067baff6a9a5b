/*
 * hat.c — Hoeffding adaptive tree classifier (`hat`).
 *
 * A. Bifet, R. Gavaldà, "Adaptive learning from evolving data streams",
 * IDA 2009 (HAT-ADWIN); behaviour follows MOA/River's HoeffdingAdaptiveTree
 * (read to understand, not copied). The tree is the ht core (tree.h) with:
 *  - an ADWIN (delta = adwin_delta) at every node on the learning path,
 *    fed 1/0 = whether the node's subtree (for a leaf: the leaf) predicted
 *    the row wrong, before the row is learned;
 *  - when a branch's ADWIN detects a change and its error estimate went
 *    up, an alternate subtree (a fresh leaf) starts growing beside it on
 *    the same rows;
 *  - once both windows hold more than drift_window rows, with e_o, e_a the
 *    estimated error rates of the node and its alternate and
 *    bound = sqrt(2 e_o (1 - e_o) ln(2 / switch_significance) (1/w_a + 1/w_o)),
 *    the alternate replaces the node when e_o - e_a > bound and is pruned
 *    when e_a - e_o > bound;
 *  - leaves learn with a Poisson(1) bootstrap weight k (bootstrap=true,
 *    from the seeded generator); a draw of 0 keeps weight 1, as River
 *    does. Measured on the shared streams, skipping the row on k = 0
 *    (textbook online bagging) lost 1-3 points of accuracy
 *    (phishing/bananas/elec2 0.862/0.615/0.817 against 0.886/0.666/0.836);
 *  - prediction sums the normalised distributions of the leaf reached and of
 *    the leaves reached in the alternates met on the way (MOA's
 *    filterInstanceToLeaves), then normalises.
 * A leaf that splits starts a fresh ADWIN as a branch (the subtree whose
 * error it tracked is new).
 */
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"
#include "learn/tree.h"

#define HAT_MAX_LEAVES_PRED 64   /* alternates consulted per prediction */

typedef struct hat_learner {
    tide_learner base;
    tt_tree t;
    double adwin_delta, switch_sig;
    int drift_window, bootstrap;
    uint64_t n_alt, n_switch, n_prune;   /* counters (explanations, tests) */
} hat_learner;

static const tide_param_spec HAT_PARAMS[] = {
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
    {"adwin_delta", TIDE_PARAM_DOUBLE, "0.002", "1e-300..1",
     "confidence of the ADWIN error estimator at every node"},
    {"drift_window", TIDE_PARAM_INT, "300", "0..100000000",
     "rows both windows need before an alternate can replace or be pruned"},
    {"switch_significance", TIDE_PARAM_DOUBLE, "0.05", "1e-300..1",
     "significance of the replace/prune test"},
    {"bootstrap", TIDE_PARAM_BOOL, "true", NULL, "Poisson(1) weights at the leaves"},
    {"seed", TIDE_PARAM_INT, "42", "0..4294967295", "seed of the bootstrap draws"},
};

static int node_error(hat_learner *h, tt_node *n, int wrong)
{
    if (!n->adw && tide_adwin_new(h->adwin_delta, &n->adw))
        return TIDE_ERR_NOMEM;
    double old = tide_adwin_mean(n->adw);
    int change = tide_adwin_update(n->adw, wrong ? 1.0 : 0.0);
    return change && tide_adwin_mean(n->adw) > old;
}

/* wrong: whether the leaf x reaches from *slot predicts y wrong, or -1 if
 * not computed yet (every node on one path shares that leaf, so it is
 * computed once per path); nbp: that leaf's NB argmax hint (tree.h). */
static int learn_node(hat_learner *h, tt_node **slot, const tt_x *x, int y, double w, int wrong,
                      int nbp)
{
    tt_node *n = *slot;
    int rc;
    if (wrong < 0)
        wrong = tt_leaf_class(&h->t, tt_sort(n, x), x, &nbp) != y;
    if (n->feat == TT_LEAF) {
        int ch = node_error(h, n, wrong);
        if (ch < 0)
            return ch;
        double lw = w;
        if (h->bootstrap) {
            int k = tt_poisson(&h->t.rng, 1.0);
            if (k > 0)
                lw = w * k;
        }
        rc = tt_leaf_learn_hint(&h->t, n, x, y, lw, nbp);
        if (n->feat != TT_LEAF) {   /* just split: new subtree, new estimator */
            tide_adwin_free(n->adw);
            n->adw = NULL;
        }
        return rc;
    }
    int ch = node_error(h, n, wrong);
    if (ch < 0)
        return ch;
    if (ch && !n->alt) {
        n->alt = tt_leaf_new(h->t.K, n->depth, NULL, 0);
        if (!n->alt)
            return TIDE_ERR_NOMEM;
        h->n_alt++;
    } else if (n->alt && n->alt->adw && tide_adwin_width(n->alt->adw) > h->drift_window &&
               tide_adwin_width(n->adw) > h->drift_window) {
        double eo = tide_adwin_mean(n->adw), ea = tide_adwin_mean(n->alt->adw);
        double fn = 1.0 / tide_adwin_width(n->alt->adw) + 1.0 / tide_adwin_width(n->adw);
        double bound = sqrt(2.0 * eo * (1.0 - eo) * log(2.0 / h->switch_sig) * fn);
        if (bound < eo - ea) {
            tt_node *alt = n->alt;
            n->alt = NULL;
            tt_node_free(n);
            *slot = alt;
            h->n_switch++;
            return learn_node(h, slot, x, y, w, -1, TT_NB_UNKNOWN);
        } else if (bound < ea - eo) {
            tt_node_free(n->alt);
            n->alt = NULL;
            h->n_prune++;
        }
    }
    if (n->alt && (rc = learn_node(h, &n->alt, x, y, w, -1, TT_NB_UNKNOWN)))
        return rc;
    int k = tt_x_get(x, n->feat) <= n->thr ? 0 : 1;
    return learn_node(h, &n->kid[k], x, y, w, wrong, nbp);
}

/* Adds the normalised distributions of the leaves x reaches in n and in the
 * alternates met on the way. cls (NULL: not wanted) receives the class of
 * the leaf reached in n itself and *nbp its NB hint (tree.h), or -1 / left
 * alone when the budget ran out before it. */
static void collect(const hat_learner *h, const tt_tree *t, const tt_node *n, const tt_x *x,
                    double *acc, int *budget, int *cls, int *nbp)
{
    double d[TIDE_MAX_CLASSES];
    while (n->feat != TT_LEAF) {
        if (n->alt && *budget > 0)
            collect(h, t, n->alt, x, acc, budget, NULL, NULL);
        n = n->kid[tt_x_get(x, n->feat) <= n->thr ? 0 : 1];
    }
    if (*budget <= 0)
        return;
    (*budget)--;
    if (cls)
        *cls = tt_leaf_dist_class(t, n, x, d, nbp);
    else
        tt_leaf_predict(t, n, x, d);
    for (int c = 0; c < t->K; c++)
        acc[c] += d[c];
}

static int hat_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    hat_learner *h = calloc(1, sizeof *h);
    tt_cfg c;
    *out = NULL;
    if (!h)
        return tide_err_set(err, TIDE_ERR_NOMEM, "hat: out of memory");
    tt_cfg_from_params(&c, p);
    h->adwin_delta = tide_params_num(p, "adwin_delta");
    h->switch_sig = tide_params_num(p, "switch_significance");
    h->drift_window = (int)tide_params_num(p, "drift_window");
    h->bootstrap = tide_params_num(p, "bootstrap") != 0;
    if (tt_tree_init(&h->t, &c, (uint64_t)tide_params_num(p, "seed"))) {
        free(h);
        return tide_err_set(err, TIDE_ERR_NOMEM, "hat: out of memory");
    }
    *out = &h->base;
    return TIDE_OK;
}

static void hat_destroy(tide_learner *l)
{
    hat_learner *h = (hat_learner *)l;
    if (!h)
        return;
    tt_tree_free(&h->t);
    free(h);
}

/* Learns the prepared row px (frees it); wrong and nbp as learn_node's. Every
 * 1000 rows the leaves are counted and the memory limit enforced. */
static int learn_row(hat_learner *h, tt_x *px, int y, double w, int wrong, int nbp)
{
    int rc = learn_node(h, &h->t.root, px, y, w, wrong, nbp);
    tt_x_free(px);
    if (++h->t.n_learn % 1000 == 0) {
        tt_tree_count(&h->t);
        tt_tree_enforce_memory(&h->t);
    }
    return rc;
}

static int hat_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    hat_learner *h = (hat_learner *)l;
    tt_x px;
    int rc;
    if ((rc = tt_tree_begin(&h->t, l->n_classes, x, w, &px)))
        return rc;
    return learn_row(h, &px, (int)y, w, -1, TT_NB_UNKNOWN);
}

static void hat_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const hat_learner *h = (const hat_learner *)l;
    tt_tree t = h->t;
    tt_x px;
    int budget = HAT_MAX_LEAVES_PRED;
    double s = 0;
    t.K = l->n_classes;
    for (int c = 0; c < t.K; c++)
        out[c] = 0;
    if (tt_x_prep(&px, x) == TIDE_OK) {
        collect(h, &t, t.root, &px, out, &budget, NULL, NULL);
        tt_x_free(&px);
    }
    for (int c = 0; c < t.K; c++)
        s += out[c];
    for (int c = 0; c < t.K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / t.K;
}

/* The progressive step: the answer's evaluation of the main path's leaf
 * also gives learn_node its error and NB hint (one naive Bayes less);
 * bit-identical to hat_predict then hat_learn. */
static int hat_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                             double *out)
{
    hat_learner *h = (hat_learner *)l;
    tt_x px;
    int rc, budget = HAT_MAX_LEAVES_PRED, cls = -1, nbp = TT_NB_UNKNOWN;
    double s = 0;
    if ((rc = tt_tree_begin(&h->t, l->n_classes, x, w, &px))) {
        hat_predict(l, x, out);
        return rc;
    }
    for (int c = 0; c < h->t.K; c++)
        out[c] = 0;
    collect(h, &h->t, h->t.root, &px, out, &budget, &cls, &nbp);
    for (int c = 0; c < h->t.K; c++)
        s += out[c];
    for (int c = 0; c < h->t.K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / h->t.K;
    return learn_row(h, &px, (int)y, w, cls < 0 ? -1 : cls != (int)y,
                     cls < 0 ? TT_NB_UNKNOWN : nbp);
}

static int hat_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const hat_learner *h = (const hat_learner *)l;
    hat_learner *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "hat: out of memory while cloning");
    *c = *h;
    if (tt_tree_clone(&h->t, &c->t)) {
        tt_tree_free(&c->t);
        free(c);
        return tide_err_set(err, TIDE_ERR_NOMEM, "hat: out of memory while cloning");
    }
    *out = &c->base;
    return TIDE_OK;
}

static int hat_save(const tide_learner *l, tide_wbuf *b)
{
    const hat_learner *h = (const hat_learner *)l;
    tide_wbuf_u64(b, h->n_alt);
    tide_wbuf_u64(b, h->n_switch);
    tide_wbuf_u64(b, h->n_prune);
    tt_tree_save(&h->t, b, 1);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int hat_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    hat_learner *h = (hat_learner *)l;
    h->n_alt = tide_rbuf_u64(r);
    h->n_switch = tide_rbuf_u64(r);
    h->n_prune = tide_rbuf_u64(r);
    return tt_tree_load(&h->t, r, 1, err);
}

static size_t hat_memory(const tide_learner *l)
{
    const hat_learner *h = (const hat_learner *)l;
    return sizeof *h - sizeof h->t + tt_tree_memory(&h->t);
}

void tt_hat_counters(const tide_learner *l, uint64_t *n_alt, uint64_t *n_switch,
                     uint64_t *n_prune)
{
    const hat_learner *h = (const hat_learner *)l;
    *n_alt = h->n_alt;
    *n_switch = h->n_switch;
    *n_prune = h->n_prune;
}

const tide_learner_vt tide_hat_vt = {
    .name = "hat",
    .task = TIDE_TASK_CLASSIFY,
    .summary = "Hoeffding adaptive tree (Bifet & Gavalda 2009): ADWIN at every node, alternate subtrees",
    .params = HAT_PARAMS,
    .n_params = sizeof HAT_PARAMS / sizeof HAT_PARAMS[0],
    .create = hat_create,
    .destroy = hat_destroy,
    .learn_one = hat_learn,
    .predict = hat_predict,
    .clone = hat_clone,
    .save_state = hat_save,
    .load_state = hat_load,
    .memory = hat_memory,
    /* 2: tree leaves carry sums of squared weights (tree.h) */
    .state_version = 2,
    .learn_predict = hat_learn_predict,
};
