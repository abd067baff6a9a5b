/*
 * arfr.c — adaptive random forest regressor (`arfr`).
 *
 * H. M. Gomes, J. P. Barddal, L. E. B. Ferreira, A. Bifet, "Adaptive random
 * forests for data stream regression", ESANN 2018; the ensemble of arf.c
 * (Gomes et al. 2017) with regression trees. Defaults as River's
 * ARFRegressor (read to understand, not copied): n_models htr trees with
 * grace period 50, delta 0.01, tau 0.05, adaptive (mean/linear) leaves and
 * sqrt(m) random features per split attempt.
 *
 * Per row and tree:
 *   1. the tree predicts p (before learning); e = y - p;
 *   2. k ~ Poisson(lambda) (online bagging); if k > 0 the tree (and its
 *      background tree, if any) learns the row with weight k, then its two
 *      ADWIN detectors see the absolute error scaled to [0, 1],
 *      min(1, |e| / (3 sd)), sd the standard deviation of the tree's errors
 *      e since it was (re)started (River scales the signed error the same
 *      way, (e + 3 sd) / (6 sd); 0.5 while sd is unknown). As in arf.c a
 *      detector signals only when its estimate rose across the cut (the
 *      error grew): the warning detector starts a background tree, the
 *      drift detector replaces the tree by it (or by a new tree).
 * Prediction: the median (default, as River's ARFRegressor) or the mean of
 * the trees' predictions. Measured on TrumpApproval over seeds 1..10 the
 * median is better for every seed (MAE 0.408 against 0.424 on average):
 * a tree that has just split or been replaced can be far off, and the
 * median ignores it (docs/bench/trees.md).
 *
 * Members are `htr` learners built through the registry with the tree
 * parameters below and a seed drawn from the forest's splitmix64 generator
 * (seeded by `seed`), so a run is reproducible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"
#include "learn/tree.h"

#define ARFR_MAX_MODELS 1000
#define ARFR_KV 8

/* tt_fmember.score of a member: Welford statistics (n, mean, M2) of the
 * errors e of its tree since it was (re)started */
enum { SC_N, SC_MEAN, SC_M2 };

typedef struct arfr_learner {
    tide_learner base;
    int median;
    char kv[ARFR_KV][48];    /* tree parameters, "name=value"; the last is the seed */
    int nkv;
    tt_forest f;             /* members: htr learners (forest.c) */
} arfr_learner;

static const tide_param_spec ARFR_PARAMS[] = {
    {"n_models", TIDE_PARAM_INT, "10", "1..1000", "number of trees"},
    {"lambda", TIDE_PARAM_DOUBLE, "6", "0.01..100", "Poisson rate of the online bagging weights"},
    {"max_features", TIDE_PARAM_ENUM, "sqrt", "sqrt|log2|all",
     "features evaluated per split attempt, of the m a leaf has seen"},
    {"aggregation", TIDE_PARAM_ENUM, "median", "median|mean", "how the trees' predictions combine"},
    {"grace_period", TIDE_PARAM_INT, "50", "1..1000000",
     "weight a leaf learns between split attempts"},
    {"delta", TIDE_PARAM_DOUBLE, "0.01", "1e-300..1", "split confidence of the Hoeffding bound"},
    {"tau", TIDE_PARAM_DOUBLE, "0.05", "0..1", "tie threshold: split when the bound is below it"},
    {"leaf_model", TIDE_PARAM_ENUM, "adaptive", "mean|linear|adaptive",
     "leaf prediction: mean, SGD linear model, or per-leaf best of the two"},
    {"warning_delta", TIDE_PARAM_DOUBLE, "0.01", "1e-300..1",
     "ADWIN confidence of the warning detector (starts a background tree)"},
    {"drift_delta", TIDE_PARAM_DOUBLE, "0.001", "1e-300..1",
     "ADWIN confidence of the drift detector (replaces the tree)"},
    {"seed", TIDE_PARAM_INT, "42", "0..4294967295", "seed of bagging weights and feature subsets"},
};

/* ---- the members' trees (tt_forest_ops) ---------------------------------- */

/* A fresh tree with the next seed of the forest's generator. */
static int arfr_tree_new(tt_forest *f, void **out)
{
    arfr_learner *a = f->owner;
    const char *kv[ARFR_KV];
    tide_learner *t;
    tide_err err;
    for (int i = 0; i < a->nkv; i++)
        kv[i] = a->kv[i];
    snprintf(a->kv[a->nkv - 1], sizeof a->kv[0], "seed=%u", (unsigned)(tt_rand(&f->rng) >> 32));
    if (tide_learner_new("htr", kv, (size_t)a->nkv, a->base.bits, &t, &err))
        return TIDE_ERR_NOMEM;
    *out = t;
    return TIDE_OK;
}

static void arfr_tree_free(void *t)
{
    tide_learner_free(t);
}

static void *arfr_tree_clone(const void *s)
{
    tide_learner *d;
    tide_err err;
    return tide_learner_clone(s, &d, &err) ? NULL : d;
}

static int arfr_tree_save(const void *t, tide_wbuf *b)
{
    return tide_learner_save(t, b);
}

/* Loads one member tree and checks it is an htr of the forest's bits. */
static int arfr_tree_load(tt_forest *f, tide_rbuf *r, int i, void **out, tide_err *err)
{
    const arfr_learner *a = f->owner;
    tide_learner *t;
    int rc = tide_learner_load(r, &t, err);
    if (rc)
        return rc;
    if (strcmp(t->vt->name, "htr") || t->bits != a->base.bits) {
        tide_learner_free(t);
        return tide_err_set(err, TIDE_ERR_FORMAT, "arfr state: tree %d is not an 'htr' learner", i);
    }
    *out = t;
    return TIDE_OK;
}

static size_t arfr_tree_memory(const void *t)
{
    return tide_learner_memory(t);
}

static int arfr_score_ok(const double *s)
{
    return s[SC_N] >= 0 && isfinite(s[SC_MEAN]) && s[SC_M2] >= 0;
}

static const tt_forest_ops ARFR_OPS = {
    .name = "arfr",
    .n_score = 3,
    .tree_new = arfr_tree_new,
    .tree_free = arfr_tree_free,
    .tree_clone = arfr_tree_clone,
    .tree_save = arfr_tree_save,
    .tree_load = arfr_tree_load,
    .tree_memory = arfr_tree_memory,
    .score_ok = arfr_score_ok,
};

/* ---- the learner ---------------------------------------------------------- */

static void arfr_destroy(tide_learner *l)
{
    arfr_learner *a = (arfr_learner *)l;
    if (!a)
        return;
    tt_forest_free(&a->f);
    free(a);
}

static int arfr_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    static const char *MF[] = {"sqrt", "log2", "all"}, *LM[] = {"mean", "linear", "adaptive"};
    arfr_learner *a = calloc(1, sizeof *a);
    int mf, lm, n;
    *out = NULL;
    if (!a)
        return tide_err_set(err, TIDE_ERR_NOMEM, "arfr: out of memory");
    a->base.bits = bits;
    n = (int)tide_params_num(p, "n_models");
    a->f.ops = &ARFR_OPS;
    a->f.owner = a;
    a->f.lambda = tide_params_num(p, "lambda");
    a->median = tide_params_enum(p, "aggregation") != 1;
    a->f.warn_delta = tide_params_num(p, "warning_delta");
    a->f.drift_delta = tide_params_num(p, "drift_delta");
    a->f.rng = (uint64_t)tide_params_num(p, "seed");
    mf = tide_params_enum(p, "max_features");
    lm = tide_params_enum(p, "leaf_model");
    snprintf(a->kv[0], sizeof a->kv[0], "grace_period=%d", (int)tide_params_num(p, "grace_period"));
    snprintf(a->kv[1], sizeof a->kv[0], "delta=%.17g", tide_params_num(p, "delta"));
    snprintf(a->kv[2], sizeof a->kv[0], "tau=%.17g", tide_params_num(p, "tau"));
    snprintf(a->kv[3], sizeof a->kv[0], "leaf_model=%s", LM[lm >= 0 && lm < 3 ? lm : 2]);
    snprintf(a->kv[4], sizeof a->kv[0], "max_features=%s", MF[mf >= 0 && mf < 3 ? mf : 0]);
    a->nkv = 6;   /* kv[5]: the seed, written by arfr_tree_new */
    if (n < 1 || n > ARFR_MAX_MODELS) {
        free(a);
        return tide_err_set(err, TIDE_ERR_ARG, "arfr: n_models must be in 1..%d", ARFR_MAX_MODELS);
    }
    if (tt_forest_init(&a->f, n)) {
        arfr_destroy(&a->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "arfr: out of memory");
    }
    *out = &a->base;
    return TIDE_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Mean or median of the n predictions p (sorted in place for the median). */
static double aggregate(const arfr_learner *a, double *p, int n)
{
    double s = 0;
    if (a->median) {
        qsort(p, (size_t)n, sizeof *p, cmp_double);
        return n % 2 ? p[n / 2] : 0.5 * (p[n / 2 - 1] + p[n / 2]);
    }
    for (int i = 0; i < n; i++)
        s += p[i];
    return s / n;
}

static void arfr_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const arfr_learner *a = (const arfr_learner *)l;
    double pbuf[64], *p = a->f.n <= 64 ? pbuf : malloc((size_t)a->f.n * sizeof *p);
    int n = p ? a->f.n : 1;
    if (!p) {   /* out of memory for a large forest: the first tree answers */
        tide_learner_predict(a->f.m[0].t, x, out);
        return;
    }
    for (int i = 0; i < n; i++)
        tide_learner_predict(a->f.m[i].t, x, &p[i]);
    out[0] = aggregate(a, p, n);
    if (p != pbuf)
        free(p);
}

/* The detectors' input: |e| / (3 sd) in [0, 1], sd of the errors so far. */
static double drift_input(tt_fmember *m, double e)
{
    double *s = m->score, d = e - s[SC_MEAN];
    s[SC_N] += 1;
    s[SC_MEAN] += d / s[SC_N];
    s[SC_M2] += d * (e - s[SC_MEAN]);
    if (s[SC_N] < 2 || !(s[SC_M2] > 0))
        return 0.5;
    double sd = sqrt(s[SC_M2] / (s[SC_N] - 1)), v = fabs(e) / (3 * sd);
    return v < 1 ? v : 1;
}

/* One progressive step; out (NULL: learn only) receives what arfr_predict
 * would answer before the row is learned. */
static int arfr_step(tide_learner *l, const tide_fvec *x, double y, double w, double *out)
{
    arfr_learner *a = (arfr_learner *)l;
    double pbuf[64], *p = NULL;
    int rc = TIDE_OK;
    if (!(w > 0) || !isfinite(w) || !isfinite(y)) {
        if (out)
            arfr_predict(l, x, out);
        return TIDE_ERR_ARG;
    }
    p = a->f.n <= 64 ? pbuf : malloc((size_t)a->f.n * sizeof *p);
    if (!p)
        return TIDE_ERR_NOMEM;
    for (int i = 0; i < a->f.n && rc == TIDE_OK; i++) {
        tt_fmember *m = &a->f.m[i];
        tide_learner_predict(m->t, x, &p[i]);
        double e = y - p[i];
        int k = tt_poisson(&a->f.rng, a->f.lambda);
        if (k == 0)
            continue;
        if (m->bg && (rc = tide_learner_learn(m->bg, x, y, w * k)))
            break;
        if ((rc = tide_learner_learn(m->t, x, y, w * k)))
            break;
        rc = tt_forest_signal(&a->f, m, drift_input(m, e));
    }
    if (out && rc == TIDE_OK)
        out[0] = aggregate(a, p, a->f.n);
    else if (out)
        arfr_predict(l, x, out);   /* failed midway: the state's answer */
    if (p != pbuf)
        free(p);
    return rc;
}

static int arfr_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    return arfr_step(l, x, y, w, NULL);
}

static int arfr_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                              double *out)
{
    return arfr_step(l, x, y, w, out);
}

static int arfr_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const arfr_learner *a = (const arfr_learner *)l;
    arfr_learner *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "arfr: out of memory while cloning");
    *c = *a;
    if (tt_forest_clone(&a->f, &c->f, c)) {
        arfr_destroy(&c->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "arfr: out of memory while cloning");
    }
    *out = &c->base;
    return TIDE_OK;
}

/* Layout (tt_forest_save): u64 rng, n_warnings, n_drifts, u32 n_models, then
 * per tree: the tree (tide_learner_save), u8 has_bg [tree], adwin warn,
 * adwin drift, f64 en, emean, em2. */
static int arfr_save(const tide_learner *l, tide_wbuf *b)
{
    return tt_forest_save(&((const arfr_learner *)l)->f, b);
}

static int arfr_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    return tt_forest_load(&((arfr_learner *)l)->f, r, err);
}

static size_t arfr_memory(const tide_learner *l)
{
    const arfr_learner *a = (const arfr_learner *)l;
    return sizeof *a + tt_forest_memory(&a->f);
}

void tt_arfr_counters(const tide_learner *l, uint64_t *n_warnings, uint64_t *n_drifts)
{
    const arfr_learner *a = (const arfr_learner *)l;
    *n_warnings = a->f.n_warnings;
    *n_drifts = a->f.n_drifts;
}

const tide_learner_vt tide_arfr_vt = {
    .name = "arfr",
    .task = TIDE_TASK_REGRESSION,
    .summary = "adaptive random forest regressor (Gomes et al. 2018): Poisson(6) bagging of htr trees, random subspaces, ADWIN on the error",
    .params = ARFR_PARAMS,
    .n_params = sizeof ARFR_PARAMS / sizeof ARFR_PARAMS[0],
    .create = arfr_create,
    .destroy = arfr_destroy,
    .learn_one = arfr_learn,
    .predict = arfr_predict,
    .clone = arfr_clone,
    .save_state = arfr_save,
    .load_state = arfr_load,
    .memory = arfr_memory,
    .learn_predict = arfr_learn_predict,
};
