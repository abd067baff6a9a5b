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

typedef struct arf_member {
    tt_tree t;            /* foreground tree */
    tt_tree bg;           /* background tree, valid when has_bg */
    int has_bg;
    tt_detpair det;       /* warning and drift detectors (forest.c) */
    double correct, seen; /* accuracy since the tree was (re)started */
} arf_member;

typedef struct arf_learner {
    tide_learner base;
    tt_cfg c;
    int n_models, weighted;
    double lambda, warn_delta, drift_delta;
    uint64_t rng;
    uint64_t n_warnings, n_drifts;
    arf_member *m;   /* n_models */
} arf_learner;

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
    {"seed", TIDE_PARAM_INT, "42", "0..4294967295", "seed of bagging weights and feature subsets"},
};

static void member_free(arf_member *m)
{
    tt_tree_free(&m->t);
    if (m->has_bg)
        tt_tree_free(&m->bg);
    m->has_bg = 0;
    tt_detpair_free(&m->det);
}

static int new_tree(arf_learner *a, tt_tree *t)
{
    int rc = tt_tree_init(t, &a->c, tt_rand(&a->rng));
    if (rc == TIDE_OK && t->K < a->base.n_classes)
        t->K = a->base.n_classes;
    return rc;
}

static int member_init(arf_learner *a, arf_member *m)
{
    memset(m, 0, sizeof *m);
    if (new_tree(a, &m->t))
        return TIDE_ERR_NOMEM;
    if (tt_detpair_init(&m->det, a->warn_delta, a->drift_delta)) {
        member_free(m);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

static void arf_destroy(tide_learner *l)
{
    arf_learner *a = (arf_learner *)l;
    if (!a)
        return;
    for (int i = 0; a->m && i < a->n_models; i++)
        member_free(&a->m[i]);
    free(a->m);
    free(a);
}

static int arf_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    arf_learner *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a)
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory");
    tt_cfg_from_params(&a->c, p);
    int mf = tide_params_enum(p, "max_features");
    a->c.subspace = mf == 0 ? 1 : mf == 1 ? 2 : 0;
    /* see prior_term() in ht.c; the pseudo-weight cap is the grace period */
    a->c.nb_prior = tide_params_num(p, "nb_prior") != 0 ? a->c.grace : 0;
    a->n_models = (int)tide_params_num(p, "n_models");
    a->lambda = tide_params_num(p, "lambda");
    a->warn_delta = tide_params_num(p, "warning_delta");
    a->drift_delta = tide_params_num(p, "drift_delta");
    a->weighted = tide_params_num(p, "weighted_vote") != 0;
    a->rng = (uint64_t)tide_params_num(p, "seed");
    a->base.n_classes = 2;
    if (a->n_models < 1 || a->n_models > ARF_MAX_MODELS) {
        free(a);
        return tide_err_set(err, TIDE_ERR_ARG, "arf: n_models must be in 1..%d", ARF_MAX_MODELS);
    }
    a->m = calloc((size_t)a->n_models, sizeof *a->m);
    if (!a->m) {
        free(a);
        return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory");
    }
    for (int i = 0; i < a->n_models; i++) {
        if (member_init(a, &a->m[i])) {
            a->n_models = i;
            arf_destroy(&a->base);
            return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory");
        }
    }
    *out = &a->base;
    return TIDE_OK;
}

static void arf_predict(const tide_learner *l, const tide_fvec *x, double *out);

/* Vote weight of member m: its accuracy since it was (re)started, 1 while
 * that is 0 (River's rule: a tree with no right answer yet votes at full
 * weight, else a fresh forest would not vote at all). */
static double vote_weight(const arf_learner *a, const arf_member *m)
{
    double acc = m->seen > 0 ? m->correct / m->seen : 0;
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
    for (int i = 0; i < a->n_models && rc == TIDE_OK; i++) {
        arf_member *m = &a->m[i];
        if (m->t.K < l->n_classes)
            m->t.K = l->n_classes;
        if (m->has_bg && m->bg.K < l->n_classes)
            m->bg.K = l->n_classes;
        int nbp, pred;
        if (out) {
            double wt = vote_weight(a, m);
            pred = tt_tree_dist_class(&m->t, &px, d, &nbp);
            for (int c = 0; c < K; c++)
                out[c] += wt * d[c];
        } else {
            pred = tt_tree_class(&m->t, &px, &nbp);
        }
        int wrong = pred != y;
        m->correct += wrong ? 0 : 1;
        m->seen += 1;
        int k = tt_poisson(&a->rng, a->lambda);
        if (k == 0)
            continue;
        if (m->has_bg && (rc = tt_tree_learn(&m->bg, &px, y, w * k)))
            break;
        if ((rc = tt_tree_learn_hint(&m->t, &px, y, w * k, nbp)))
            break;
        /* the detectors signal a RISE of the error only (forest.c) */
        int warned, drifted;
        tt_detpair_update(&m->det, wrong, &warned, &drifted);
        if (warned) {
            if (m->has_bg)
                tt_tree_free(&m->bg);
            m->has_bg = 0;
            if ((rc = new_tree(a, &m->bg)))
                break;
            m->has_bg = 1;
            if ((rc = tt_detpair_reset_warn(&m->det, a->warn_delta)))
                break;
            a->n_warnings++;
        }
        if (drifted) {
            tt_detpair nd;
            if ((rc = tt_detpair_init(&nd, a->warn_delta, a->drift_delta)))
                break;
            tt_tree_free(&m->t);
            if (m->has_bg) {
                m->t = m->bg;
                m->has_bg = 0;
            } else if ((rc = new_tree(a, &m->t))) {
                tt_detpair_free(&nd);
                break;
            }
            tt_detpair_free(&m->det);
            m->det = nd;
            m->correct = m->seen = 0;
            a->n_drifts++;
        }
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
        for (int i = 0; i < a->n_models; i++) {
            tt_tree t = a->m[i].t;   /* view with the learner's class count */
            double wt = vote_weight(a, &a->m[i]);
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
    c->n_models = 0;
    c->m = calloc((size_t)a->n_models, sizeof *c->m);
    if (!c->m)
        goto fail;
    for (int i = 0; i < a->n_models; i++) {
        const arf_member *s = &a->m[i];
        arf_member *d = &c->m[i];
        c->n_models = i + 1;
        *d = *s;
        d->has_bg = 0;
        d->det.warn = d->det.drift = NULL;
        d->t.root = NULL;
        if (tt_tree_clone(&s->t, &d->t))
            goto fail;
        if (s->has_bg) {
            if (tt_tree_clone(&s->bg, &d->bg)) {
                tt_tree_free(&d->bg);
                goto fail;
            }
            d->has_bg = 1;
        }
        if (tt_detpair_clone(&s->det, &d->det))
            goto fail;
    }
    *out = &c->base;
    return TIDE_OK;
fail:
    arf_destroy(&c->base);
    return tide_err_set(err, TIDE_ERR_NOMEM, "arf: out of memory while cloning");
}

/* Layout: u64 rng, n_warnings, n_drifts, u32 n_models, then per tree: tree,
 * u8 has_bg [tree], adwin warn, adwin drift, f64 correct, seen. */
static int arf_save(const tide_learner *l, tide_wbuf *b)
{
    const arf_learner *a = (const arf_learner *)l;
    tide_wbuf_u64(b, a->rng);
    tide_wbuf_u64(b, a->n_warnings);
    tide_wbuf_u64(b, a->n_drifts);
    tide_wbuf_u32(b, (uint32_t)a->n_models);
    for (int i = 0; i < a->n_models; i++) {
        const arf_member *m = &a->m[i];
        tt_tree_save(&m->t, b, TT_SAVE_PRIOR);
        tide_wbuf_u8(b, (uint8_t)m->has_bg);
        if (m->has_bg)
            tt_tree_save(&m->bg, b, TT_SAVE_PRIOR);
        tt_detpair_save(&m->det, b);
        tide_wbuf_f64(b, m->correct);
        tide_wbuf_f64(b, m->seen);
    }
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int arf_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    arf_learner *a = (arf_learner *)l;
    int rc;
    a->rng = tide_rbuf_u64(r);
    a->n_warnings = tide_rbuf_u64(r);
    a->n_drifts = tide_rbuf_u64(r);
    if (tide_rbuf_u32(r) != (uint32_t)a->n_models || r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "arf state: tree count does not match n_models");
    for (int i = 0; i < a->n_models; i++) {
        arf_member *m = &a->m[i];
        if ((rc = tt_tree_load(&m->t, r, TT_SAVE_PRIOR, err)))
            return rc;
        if (m->has_bg) {
            tt_tree_free(&m->bg);
            m->has_bg = 0;
        }
        if (tide_rbuf_u8(r)) {
            if (tt_tree_init(&m->bg, &a->c, 0))
                return tide_err_set(err, TIDE_ERR_NOMEM, "arf state: out of memory");
            m->has_bg = 1;
            if ((rc = tt_tree_load(&m->bg, r, TT_SAVE_PRIOR, err)))
                return rc;
        }
        if (tt_detpair_load(&m->det, r, err))
            return tide_err_set(err, TIDE_ERR_FORMAT, "arf state: detector of tree %d is corrupt",
                                i);
        m->correct = tide_rbuf_f64(r);
        m->seen = tide_rbuf_f64(r);
        if (r->bad)
            return tide_err_set(err, TIDE_ERR_FORMAT, "arf state is truncated");
    }
    return TIDE_OK;
}

static size_t arf_memory(const tide_learner *l)
{
    const arf_learner *a = (const arf_learner *)l;
    size_t s = sizeof *a + (size_t)a->n_models * sizeof *a->m;
    for (int i = 0; i < a->n_models; i++) {
        const arf_member *m = &a->m[i];
        s += tt_tree_memory(&m->t) - sizeof m->t;
        if (m->has_bg)
            s += tt_tree_memory(&m->bg) - sizeof m->bg;
        s += tt_detpair_memory(&m->det);
    }
    return s;
}

void tt_arf_counters(const tide_learner *l, uint64_t *n_warnings, uint64_t *n_drifts)
{
    const arf_learner *a = (const arf_learner *)l;
    *n_warnings = a->n_warnings;
    *n_drifts = a->n_drifts;
}

tt_tree *tt_arf_tree(tide_learner *l, int i)
{
    arf_learner *a = (arf_learner *)l;
    return i >= 0 && i < a->n_models ? &a->m[i].t : NULL;
}

void tt_arf_set_score(tide_learner *l, int i, double correct, double seen)
{
    arf_learner *a = (arf_learner *)l;
    if (i >= 0 && i < a->n_models) {
        a->m[i].correct = correct;
        a->m[i].seen = seen;
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
     * 3: and their naive Bayes prior (nb_prior) */
    .state_version = 3,
    .learn_predict = arf_learn_predict,
};
