/*
 * registry.c — the table of learners and the generic learner calls
 * (create by name, learn, predict, clone, save/load of kind + params +
 * state). Concrete learners only implement the vtable.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"

static const tide_learner_vt *const LEARNERS[] = {
    &tide_logistic_vt,
    &tide_softmax_vt,
    &tide_linreg_vt,
    &tide_gnb_vt,
    /* trees and ensembles (issue 3): add rows here */
    &tide_ht_vt,
    &tide_htr_vt,
    &tide_hat_vt,
    &tide_arf_vt,
    &tide_bagging_vt,
    &tide_arfr_vt,
};

#define N_LEARNERS (sizeof LEARNERS / sizeof LEARNERS[0])

const char *tide_task_name(tide_task t)
{
    switch (t) {
    case TIDE_TASK_BINARY: return "binary";
    case TIDE_TASK_MULTICLASS: return "multiclass";
    case TIDE_TASK_REGRESSION: return "regression";
    case TIDE_TASK_CLASSIFY: return "classification";
    }
    return "?";
}

size_t tide_learner_count(void) { return N_LEARNERS; }

const tide_learner_vt *tide_learner_at(size_t i)
{
    return i < N_LEARNERS ? LEARNERS[i] : NULL;
}

const tide_learner_vt *tide_learner_find(const char *name)
{
    for (size_t i = 0; i < N_LEARNERS; i++)
        if (!strcmp(LEARNERS[i]->name, name))
            return LEARNERS[i];
    return NULL;
}

void tide_learner_init_base(tide_learner *l, const tide_learner_vt *vt, const tide_params *p,
                            int bits)
{
    l->vt = vt;
    l->params = *p;
    l->bits = bits;
    l->n_classes = vt->task == TIDE_TASK_REGRESSION ? 1 : 2;
    l->n_seen = 0;
}

int tide_learner_new(const char *name, const char **kv, size_t n_kv, int bits,
                     tide_learner **out, tide_err *err)
{
    const tide_learner_vt *vt = tide_learner_find(name);
    tide_params p;
    int rc;
    *out = NULL;
    if (!vt) {
        char names[512] = "";
        size_t o = 0;
        for (size_t i = 0; i < N_LEARNERS && o < sizeof names - 1; i++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                                  LEARNERS[i]->name);
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "unknown learner '%s' (known: %s)", name,
                            names);
    }
    if (bits < 1 || bits > TIDE_BITS_MAX)
        return tide_err_set(err, TIDE_ERR_ARG, "hash bits must be in 1..%d, got %d",
                            TIDE_BITS_MAX, bits);
    rc = tide_params_init(&p, vt->params, vt->n_params, err);
    for (size_t i = 0; !rc && i < n_kv; i++)
        rc = tide_params_set(&p, kv[i], err);
    if (rc) {
        tide_err_prefix(err, "learner '%s'", name);
        return rc;
    }
    rc = vt->create(&p, bits, out, err);
    if (rc == TIDE_OK)
        tide_learner_init_base(*out, vt, &p, bits);
    return rc;
}

void tide_learner_free(tide_learner *l)
{
    if (l)
        l->vt->destroy(l);
}

/* Checks a target and grows the classes to hold it. The range is checked
 * before the cast ((int)y is undefined for NaN or 1e300). */
static int learner_target(tide_learner *l, double y)
{
    if (!isfinite(y))
        return TIDE_ERR_ARG;
    if (l->vt->task != TIDE_TASK_REGRESSION) {
        int k;
        if (!(y >= 0 && y < TIDE_MAX_CLASSES) || y != (double)(k = (int)y))
            return TIDE_ERR_ARG;
        if (l->vt->task == TIDE_TASK_BINARY && k > 1)
            return TIDE_ERR_ARG;
        if (k + 1 > l->n_classes)
            tide_learner_grow_classes(l, k + 1);
    }
    return TIDE_OK;
}

int tide_learner_learn(tide_learner *l, const tide_fvec *x, double y, double w)
{
    int rc = learner_target(l, y);
    if (rc == TIDE_OK)
        rc = l->vt->learn_one(l, x, y, w);
    if (rc == TIDE_OK)
        l->n_seen++;
    return rc;
}

int tide_learner_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                               double *out)
{
    int rc = learner_target(l, y);
    if (rc)
        return rc;
    if (l->vt->learn_predict) {
        rc = l->vt->learn_predict(l, x, y, w, out);
    } else {
        l->vt->predict(l, x, out);
        rc = l->vt->learn_one(l, x, y, w);
    }
    if (rc == TIDE_OK)
        l->n_seen++;
    return rc;
}

void tide_learner_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    l->vt->predict(l, x, out);
}

int tide_learner_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    return l->vt->clone(l, out, err);
}

size_t tide_learner_memory(const tide_learner *l) { return l->vt->memory(l); }

int tide_learner_classes(const tide_learner *l) { return l->n_classes; }

void tide_learner_grow_classes(tide_learner *l, int n_classes)
{
    if (n_classes > l->n_classes && n_classes <= TIDE_MAX_CLASSES)
        l->n_classes = n_classes;
}

static uint32_t state_version(const tide_learner_vt *vt)
{
    return vt->state_version ? vt->state_version : 1;
}

/* Layout: kind name, state version, bits, n_classes, n_seen, params, state. */
int tide_learner_save(const tide_learner *l, tide_wbuf *b)
{
    int rc;
    tide_wbuf_str(b, l->vt->name);
    tide_wbuf_u32(b, state_version(l->vt));
    tide_wbuf_u32(b, (uint32_t)l->bits);
    tide_wbuf_u32(b, (uint32_t)l->n_classes);
    tide_wbuf_u64(b, l->n_seen);
    tide_params_save(&l->params, b);
    rc = l->vt->save_state(l, b);
    if (rc == TIDE_OK && b->oom)
        rc = TIDE_ERR_NOMEM;
    return rc;
}

int tide_learner_load(tide_rbuf *r, tide_learner **out, tide_err *err)
{
    return tide_learner_load_bits(r, 0, out, err);
}

int tide_learner_load_bits(tide_rbuf *r, int expect_bits, tide_learner **out, tide_err *err)
{
    char *name = tide_rbuf_str(r, 64);
    const tide_learner_vt *vt;
    tide_params p;
    tide_learner *l = NULL;
    uint32_t bits, n_classes;
    uint64_t n_seen;
    uint32_t sv;
    int rc;
    *out = NULL;
    if (!name)
        return tide_err_set(err, TIDE_ERR_FORMAT, "learner block is truncated");
    vt = tide_learner_find(name);
    if (!vt) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "unknown learner kind '%s' in model", name);
        free(name);
        return rc;
    }
    free(name);
    sv = tide_rbuf_u32(r);
    if (!r->bad && sv != state_version(vt)) {
        uint32_t lo = vt->load_old_state && vt->min_state_version ? vt->min_state_version
                                                                   : state_version(vt);
        if (sv < lo || sv > state_version(vt)) {
            if (lo == state_version(vt))
                return tide_err_set(err, TIDE_ERR_VERSION,
                                    "learner '%s' state version %u is not supported (this tide reads %u)",
                                    vt->name, sv, state_version(vt));
            return tide_err_set(err, TIDE_ERR_VERSION,
                                "learner '%s' state version %u is not supported (this tide reads %u to %u)",
                                vt->name, sv, lo, state_version(vt));
        }
    }
    bits = tide_rbuf_u32(r);
    n_classes = tide_rbuf_u32(r);
    n_seen = tide_rbuf_u64(r);
    if (r->bad || bits < 1 || bits > TIDE_BITS_MAX || n_classes < 1 ||
        n_classes > TIDE_MAX_CLASSES)
        return tide_err_set(err, TIDE_ERR_FORMAT, "learner header is truncated or corrupt");
    /* checked before the learner allocates its 2^bits state */
    if (expect_bits && (int)bits != expect_bits)
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "learner hash bits (%u) differ from the featurizer's (%d)", bits,
                            expect_bits);
    rc = tide_params_load(&p, vt->params, vt->n_params, r, err);
    if (rc)
        return rc;
    rc = vt->create(&p, (int)bits, &l, err);
    if (rc)
        return rc;
    tide_learner_init_base(l, vt, &p, (int)bits);
    tide_learner_grow_classes(l, (int)n_classes);
    l->n_seen = n_seen;
    rc = sv == state_version(vt) ? vt->load_state(l, r, err) : vt->load_old_state(l, r, sv, err);
    if (rc == TIDE_OK && r->bad)
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "learner state is truncated");
    if (rc) {
        vt->destroy(l);
        return rc;
    }
    *out = l;
    return TIDE_OK;
}
