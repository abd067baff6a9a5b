/*
 * forest.c — what the adaptive random forests `arf` (arf.c) and `arfr`
 * (arfr.c) share: the members (a foreground tree, an optional background
 * tree, the warning/drift detector pair and the learner's score of the
 * tree), their creation, replacement on a warning or a drift, clone,
 * save/load and memory. The tree type is the learner's: a tt_tree for arf,
 * an htr learner for arfr, reached through the tt_forest_ops it passes.
 *
 * Gomes et al., "Adaptive random forests for evolving data stream
 * classification", Machine Learning 106 (2017): each tree has a warning
 * detector (ADWIN, delta warning_delta) whose signal starts a background
 * tree and a drift detector (ADWIN, delta drift_delta) whose signal
 * replaces the tree. As in MOA's ADWINChangeDetector (the implementation
 * the paper used), a detector signals only when its estimate of the error
 * went up across the cut: ADWIN also cuts when the error falls, which for
 * a young tree is just its learning curve (see docs/bench/trees.md).
 */
#include <stdlib.h>
#include <string.h>

#include "learn/tree.h"

static void detpair_free(tt_detpair *p);

/* ---- the warning/drift detector pair of a member ------------------------ */

static int detpair_init(tt_detpair *p, double warn_delta, double drift_delta)
{
    p->warn = p->drift = NULL;
    if (tide_adwin_new(warn_delta, &p->warn) || tide_adwin_new(drift_delta, &p->drift)) {
        detpair_free(p);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

static void detpair_free(tt_detpair *p)
{
    tide_adwin_free(p->warn);
    tide_adwin_free(p->drift);
    p->warn = p->drift = NULL;
}

static void detpair_update(tt_detpair *p, double x, int *warned, int *drifted)
{
    double warn_before = tide_adwin_mean(p->warn), drift_before = tide_adwin_mean(p->drift);
    *warned = tide_adwin_update(p->warn, x) && tide_adwin_mean(p->warn) > warn_before;
    *drifted = tide_adwin_update(p->drift, x) && tide_adwin_mean(p->drift) > drift_before;
}

static int detpair_reset_warn(tt_detpair *p, double warn_delta)
{
    tide_adwin *w = NULL;
    if (tide_adwin_new(warn_delta, &w))
        return TIDE_ERR_NOMEM;
    tide_adwin_free(p->warn);
    p->warn = w;
    return TIDE_OK;
}

static int detpair_clone(const tt_detpair *s, tt_detpair *d)
{
    d->warn = d->drift = NULL;
    if (tide_adwin_clone(s->warn, &d->warn) || tide_adwin_clone(s->drift, &d->drift)) {
        detpair_free(d);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

static void detpair_save(const tt_detpair *p, tide_wbuf *b)
{
    tide_adwin_save(p->warn, b);
    tide_adwin_save(p->drift, b);
}

static int detpair_load(tt_detpair *p, tide_rbuf *r, tide_err *err)
{
    tt_detpair n = {NULL, NULL};
    int rc = tide_adwin_load(r, &n.warn, err);
    if (rc == TIDE_OK)
        rc = tide_adwin_load(r, &n.drift, err);
    if (rc) {
        detpair_free(&n);
        return rc;
    }
    detpair_free(p);
    *p = n;
    return TIDE_OK;
}

static size_t detpair_memory(const tt_detpair *p)
{
    return tide_adwin_memory(p->warn) + tide_adwin_memory(p->drift);
}

/* ---- members -------------------------------------------------------------- */

static void member_free(const tt_forest *f, tt_fmember *m)
{
    if (m->t)
        f->ops->tree_free(m->t);
    if (m->bg)
        f->ops->tree_free(m->bg);
    detpair_free(&m->det);
    memset(m, 0, sizeof *m);
}

int tt_forest_init(tt_forest *f, int n)
{
    f->n = 0;
    f->m = calloc((size_t)n, sizeof *f->m);
    if (!f->m)
        return TIDE_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        tt_fmember *m = &f->m[i];
        f->n = i + 1;
        if (f->ops->tree_new(f, &m->t) || detpair_init(&m->det, f->warn_delta, f->drift_delta))
            return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

void tt_forest_free(tt_forest *f)
{
    for (int i = 0; f->m && i < f->n; i++)
        member_free(f, &f->m[i]);
    free(f->m);
    f->m = NULL;
    f->n = 0;
}

int tt_forest_signal(tt_forest *f, tt_fmember *m, double x)
{
    int warned, drifted, rc;
    detpair_update(&m->det, x, &warned, &drifted);
    if (warned) {   /* a new background tree, a fresh warning detector */
        void *bg = NULL;
        if ((rc = f->ops->tree_new(f, &bg)) ||
            (rc = detpair_reset_warn(&m->det, f->warn_delta))) {
            if (bg)
                f->ops->tree_free(bg);
            return rc;
        }
        if (m->bg)
            f->ops->tree_free(m->bg);
        m->bg = bg;
        f->n_warnings++;
    }
    if (drifted) {   /* the background tree (or a new one) replaces the tree */
        tt_detpair nd;
        void *t = m->bg;
        if (detpair_init(&nd, f->warn_delta, f->drift_delta))
            return TIDE_ERR_NOMEM;
        if (!t && (rc = f->ops->tree_new(f, &t))) {
            detpair_free(&nd);
            return rc;
        }
        f->ops->tree_free(m->t);
        detpair_free(&m->det);
        m->t = t;
        m->bg = NULL;
        m->det = nd;
        memset(m->score, 0, sizeof m->score);
        f->n_drifts++;
    }
    return TIDE_OK;
}

int tt_forest_clone(const tt_forest *s, tt_forest *d, void *owner)
{
    *d = *s;
    d->owner = owner;
    d->n = 0;
    d->m = calloc((size_t)s->n, sizeof *d->m);
    if (!d->m)
        return TIDE_ERR_NOMEM;
    for (int i = 0; i < s->n; i++) {
        const tt_fmember *sm = &s->m[i];
        tt_fmember *dm = &d->m[i];
        d->n = i + 1;
        memcpy(dm->score, sm->score, sizeof dm->score);
        if (!(dm->t = s->ops->tree_clone(sm->t)) || (sm->bg && !(dm->bg = s->ops->tree_clone(sm->bg))) ||
            detpair_clone(&sm->det, &dm->det))
            return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

int tt_forest_save(const tt_forest *f, tide_wbuf *b)
{
    int rc;
    tide_wbuf_u64(b, f->rng);
    tide_wbuf_u64(b, f->n_warnings);
    tide_wbuf_u64(b, f->n_drifts);
    tide_wbuf_u32(b, (uint32_t)f->n);
    for (int i = 0; i < f->n; i++) {
        const tt_fmember *m = &f->m[i];
        if ((rc = f->ops->tree_save(m->t, b)))
            return rc;
        tide_wbuf_u8(b, m->bg != NULL);
        if (m->bg && (rc = f->ops->tree_save(m->bg, b)))
            return rc;
        detpair_save(&m->det, b);
        for (int k = 0; k < f->ops->n_score; k++)
            tide_wbuf_f64(b, m->score[k]);
    }
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

int tt_forest_load(tt_forest *f, tide_rbuf *r, tide_err *err)
{
    const tt_forest_ops *o = f->ops;
    int rc;
    f->rng = tide_rbuf_u64(r);
    f->n_warnings = tide_rbuf_u64(r);
    f->n_drifts = tide_rbuf_u64(r);
    if (tide_rbuf_u32(r) != (uint32_t)f->n || r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "%s state: tree count does not match n_models",
                            o->name);
    for (int i = 0; i < f->n; i++) {
        tt_fmember nm;
        memset(&nm, 0, sizeof nm);
        if ((rc = o->tree_load(f, r, i, &nm.t, err)))
            return rc;
        if (tide_rbuf_u8(r) && (rc = o->tree_load(f, r, i, &nm.bg, err))) {
            member_free(f, &nm);
            return rc;
        }
        if (detpair_load(&nm.det, r, err)) {
            member_free(f, &nm);
            return tide_err_set(err, TIDE_ERR_FORMAT, "%s state: detector of tree %d is corrupt",
                                o->name, i);
        }
        for (int k = 0; k < o->n_score; k++)
            nm.score[k] = tide_rbuf_f64(r);
        if (r->bad || (o->score_ok && !o->score_ok(nm.score))) {
            member_free(f, &nm);
            return tide_err_set(err, TIDE_ERR_FORMAT,
                                o->score_ok ? "%s state is truncated or corrupt"
                                            : "%s state is truncated",
                                o->name);
        }
        member_free(f, &f->m[i]);
        f->m[i] = nm;
    }
    return TIDE_OK;
}

size_t tt_forest_memory(const tt_forest *f)
{
    size_t s = (size_t)f->n * sizeof *f->m;
    for (int i = 0; i < f->n; i++) {
        const tt_fmember *m = &f->m[i];
        s += f->ops->tree_memory(m->t) + detpair_memory(&m->det);
        if (m->bg)
            s += f->ops->tree_memory(m->bg);
    }
    return s;
}
