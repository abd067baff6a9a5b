/*
 * bagging.c — online bagging over any classifier of the registry (`bagging`).
 *
 * N. C. Oza, S. Russell, "Online bagging and boosting", AISTATS 2001: the
 * bootstrap is simulated on a stream by showing each row to each of the
 * n_models members k ~ Poisson(1) times; here a member learns the row once
 * with weight w * k (every tide learner takes weights), and not at all when
 * k = 0. Prediction averages the members' class distributions (as River's
 * BaggingClassifier; Oza's paper uses a majority vote). Members are built
 * by name (`base`) with their default parameters; one splitmix64 generator
 * seeded by `seed` draws every k, so runs are reproducible.
 */
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"
#include "learn/tree.h"

#define BAG_MAX_MODELS 1000
#define BAG_BASES "ht|hat|arf|gnb|logistic|softmax"

typedef struct bag_learner {
    tide_learner base;
    int n_models;
    char kind[16];         /* base learner name */
    uint64_t rng;
    tide_learner **m;      /* n_models members, owned */
} bag_learner;

static const tide_param_spec BAG_PARAMS[] = {
    {"n_models", TIDE_PARAM_INT, "10", "1..1000", "number of members"},
    {"base", TIDE_PARAM_ENUM, "ht", BAG_BASES, "member learner (default parameters)"},
    {"seed", TIDE_PARAM_INT, "42", "0..4294967295", "seed of the Poisson(1) weights"},
};

static void bag_destroy(tide_learner *l)
{
    bag_learner *b = (bag_learner *)l;
    if (!b)
        return;
    for (int i = 0; b->m && i < b->n_models; i++)
        tide_learner_free(b->m[i]);
    free(b->m);
    free(b);
}

/* Word number idx of the '|'-separated list into out. */
static void base_name(int idx, char *out, size_t n)
{
    const char *s = BAG_BASES;
    for (int i = 0; i < idx && s; i++) {
        s = strchr(s, '|');
        if (s)
            s++;
    }
    if (!s || idx < 0)
        s = "ht";
    size_t len = strcspn(s, "|");
    if (len >= n)
        len = n - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

static int bag_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    bag_learner *b = calloc(1, sizeof *b);
    int rc;
    *out = NULL;
    if (!b)
        return tide_err_set(err, TIDE_ERR_NOMEM, "bagging: out of memory");
    b->n_models = (int)tide_params_num(p, "n_models");
    b->rng = (uint64_t)tide_params_num(p, "seed");
    base_name(tide_params_enum(p, "base"), b->kind, sizeof b->kind);
    if (b->n_models < 1 || b->n_models > BAG_MAX_MODELS) {
        free(b);
        return tide_err_set(err, TIDE_ERR_ARG, "bagging: n_models must be in 1..%d",
                            BAG_MAX_MODELS);
    }
    b->m = calloc((size_t)b->n_models, sizeof *b->m);
    if (!b->m) {
        free(b);
        return tide_err_set(err, TIDE_ERR_NOMEM, "bagging: out of memory");
    }
    for (int i = 0; i < b->n_models; i++) {
        if ((rc = tide_learner_new(b->kind, NULL, 0, bits, &b->m[i], err))) {
            tide_err_prefix(err, "bagging member %d", i);
            bag_destroy(&b->base);
            return rc;
        }
    }
    *out = &b->base;
    return TIDE_OK;
}

static int bag_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    bag_learner *b = (bag_learner *)l;
    if (!(w > 0) || !isfinite(w))
        return TIDE_ERR_ARG;
    for (int i = 0; i < b->n_models; i++) {
        int k = tt_poisson(&b->rng, 1.0), rc;
        if (k > 0 && (rc = tide_learner_learn(b->m[i], x, y, w * k)))
            return rc;
    }
    return TIDE_OK;
}

static void bag_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    const bag_learner *b = (const bag_learner *)l;
    int K = l->n_classes;
    double d[TIDE_MAX_CLASSES], s = 0;
    for (int c = 0; c < K; c++)
        out[c] = 0;
    for (int i = 0; i < b->n_models; i++) {
        int km = tide_learner_classes(b->m[i]);
        tide_learner_predict(b->m[i], x, d);
        for (int c = 0; c < km && c < K; c++)
            out[c] += d[c];
    }
    for (int c = 0; c < K; c++)
        s += out[c];
    for (int c = 0; c < K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / K;
}

/* The progressive step: a member that learns the row (k > 0) answers and
 * learns in one call (its learn_predict), the others only answer. A member
 * that has not seen class y yet answers before learning, as in bag_predict
 * (learn_predict would first grow its classes). Bit-identical to
 * bag_predict then bag_learn. */
static int bag_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                             double *out)
{
    bag_learner *b = (bag_learner *)l;
    int K = l->n_classes, rc = TIDE_OK;
    double d[TIDE_MAX_CLASSES], s = 0;
    if (!(w > 0) || !isfinite(w)) {
        bag_predict(l, x, out);
        return TIDE_ERR_ARG;
    }
    for (int c = 0; c < K; c++)
        out[c] = 0;
    for (int i = 0; i < b->n_models; i++) {
        tide_learner *m = b->m[i];
        int k = tt_poisson(&b->rng, 1.0), km = tide_learner_classes(m);
        if (k > 0 && (int)y < km) {
            rc = tide_learner_learn_predict(m, x, y, w * k, d);
        } else {
            tide_learner_predict(m, x, d);
            if (k > 0)
                rc = tide_learner_learn(m, x, y, w * k);
        }
        for (int c = 0; c < km && c < K; c++)
            out[c] += d[c];
        if (rc)
            break;
    }
    if (rc) {
        bag_predict(l, x, out);   /* failed midway: the state's answer */
        return rc;
    }
    for (int c = 0; c < K; c++)
        s += out[c];
    for (int c = 0; c < K; c++)
        out[c] = s > 0 ? out[c] / s : 1.0 / K;
    return TIDE_OK;
}

static int bag_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const bag_learner *b = (const bag_learner *)l;
    bag_learner *c = calloc(1, sizeof *c);
    int rc;
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "bagging: out of memory while cloning");
    *c = *b;
    c->m = calloc((size_t)b->n_models, sizeof *c->m);
    if (!c->m) {
        free(c);
        return tide_err_set(err, TIDE_ERR_NOMEM, "bagging: out of memory while cloning");
    }
    for (int i = 0; i < b->n_models; i++) {
        if ((rc = tide_learner_clone(b->m[i], &c->m[i], err))) {
            bag_destroy(&c->base);
            return rc;
        }
    }
    *out = &c->base;
    return TIDE_OK;
}

/* Layout: u64 rng, u32 n_models, then each member as tide_learner_save. */
static int bag_save(const tide_learner *l, tide_wbuf *b)
{
    const bag_learner *g = (const bag_learner *)l;
    int rc;
    tide_wbuf_u64(b, g->rng);
    tide_wbuf_u32(b, (uint32_t)g->n_models);
    for (int i = 0; i < g->n_models; i++)
        if ((rc = tide_learner_save(g->m[i], b)))
            return rc;
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int bag_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    bag_learner *g = (bag_learner *)l;
    int rc;
    g->rng = tide_rbuf_u64(r);
    if (tide_rbuf_u32(r) != (uint32_t)g->n_models || r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "bagging state: member count does not match n_models");
    for (int i = 0; i < g->n_models; i++) {
        tide_learner *m = NULL;
        if ((rc = tide_learner_load(r, &m, err)))
            return rc;
        if (strcmp(m->vt->name, g->kind) || m->bits != l->bits) {
            tide_learner_free(m);
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                "bagging state: member %d is not a '%s' learner", i, g->kind);
        }
        tide_learner_free(g->m[i]);
        g->m[i] = m;
    }
    return TIDE_OK;
}

static size_t bag_memory(const tide_learner *l)
{
    const bag_learner *b = (const bag_learner *)l;
    size_t s = sizeof *b + (size_t)b->n_models * sizeof *b->m;
    for (int i = 0; i < b->n_models; i++)
        s += tide_learner_memory(b->m[i]);
    return s;
}

const tide_learner *tt_bagging_member(const tide_learner *l, int i)
{
    const bag_learner *b = (const bag_learner *)l;
    return i >= 0 && i < b->n_models ? b->m[i] : NULL;
}

const tide_learner_vt tide_bagging_vt = {
    .name = "bagging",
    .task = TIDE_TASK_CLASSIFY,
    .summary = "online bagging (Oza & Russell 2001): Poisson(1) weights over n_models copies of a base classifier",
    .params = BAG_PARAMS,
    .n_params = sizeof BAG_PARAMS / sizeof BAG_PARAMS[0],
    .create = bag_create,
    .destroy = bag_destroy,
    .learn_one = bag_learn,
    .predict = bag_predict,
    .clone = bag_clone,
    .save_state = bag_save,
    .load_state = bag_load,
    .memory = bag_memory,
    .learn_predict = bag_learn_predict,
};
