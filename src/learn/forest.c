/*
 * forest.c — the warning/drift detector pair of an adaptive random forest's
 * member, shared by `arf` (arf.c) and `arfr` (arfr.c).
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
#include "learn/tree.h"

int tt_detpair_init(tt_detpair *p, double warn_delta, double drift_delta)
{
    p->warn = p->drift = NULL;
    if (tide_adwin_new(warn_delta, &p->warn) || tide_adwin_new(drift_delta, &p->drift)) {
        tt_detpair_free(p);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

void tt_detpair_free(tt_detpair *p)
{
    tide_adwin_free(p->warn);
    tide_adwin_free(p->drift);
    p->warn = p->drift = NULL;
}

void tt_detpair_update(tt_detpair *p, double x, int *warned, int *drifted)
{
    double warn_before = tide_adwin_mean(p->warn), drift_before = tide_adwin_mean(p->drift);
    *warned = tide_adwin_update(p->warn, x) && tide_adwin_mean(p->warn) > warn_before;
    *drifted = tide_adwin_update(p->drift, x) && tide_adwin_mean(p->drift) > drift_before;
}

int tt_detpair_reset_warn(tt_detpair *p, double warn_delta)
{
    tide_adwin *w = NULL;
    if (tide_adwin_new(warn_delta, &w))
        return TIDE_ERR_NOMEM;
    tide_adwin_free(p->warn);
    p->warn = w;
    return TIDE_OK;
}

int tt_detpair_clone(const tt_detpair *s, tt_detpair *d)
{
    d->warn = d->drift = NULL;
    if (tide_adwin_clone(s->warn, &d->warn) || tide_adwin_clone(s->drift, &d->drift)) {
        tt_detpair_free(d);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

void tt_detpair_save(const tt_detpair *p, tide_wbuf *b)
{
    tide_adwin_save(p->warn, b);
    tide_adwin_save(p->drift, b);
}

int tt_detpair_load(tt_detpair *p, tide_rbuf *r, tide_err *err)
{
    tt_detpair n = {NULL, NULL};
    int rc = tide_adwin_load(r, &n.warn, err);
    if (rc == TIDE_OK)
        rc = tide_adwin_load(r, &n.drift, err);
    if (rc) {
        tt_detpair_free(&n);
        return rc;
    }
    tt_detpair_free(p);
    *p = n;
    return TIDE_OK;
}

size_t tt_detpair_memory(const tt_detpair *p)
{
    return tide_adwin_memory(p->warn) + tide_adwin_memory(p->drift);
}
