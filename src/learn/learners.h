/*
 * learners.h — private to src/learn: the vtables of every learner, listed
 * in the registry table in registry.c. Adding a learner = one extern here and
 * one row in that table.
 */
#ifndef TIDE_LEARNERS_H
#define TIDE_LEARNERS_H

#include "tide/learn.h"

extern const tide_learner_vt tide_logistic_vt;    /* linear.c */
extern const tide_learner_vt tide_softmax_vt;     /* linear.c */
extern const tide_learner_vt tide_linreg_vt;      /* linear.c */
extern const tide_learner_vt tide_gnb_vt;         /* gnb.c */
/* trees and ensembles (issue 3): declare here */
extern const tide_learner_vt tide_ht_vt;         /* ht.c */
extern const tide_learner_vt tide_htr_vt;        /* htr.c */
extern const tide_learner_vt tide_hat_vt;        /* hat.c */
extern const tide_learner_vt tide_arf_vt;        /* arf.c */
extern const tide_learner_vt tide_bagging_vt;    /* bagging.c */
extern const tide_learner_vt tide_arfr_vt;       /* arfr.c */

/* Shared helper for learners: fills the common header after create. */
void tide_learner_init_base(tide_learner *l, const tide_learner_vt *vt,
                            const tide_params *p, int bits);

/* linear.c's exp(x) for x <= 0 and log(1 + e) for e in [0, 1], for tests. */
double tide_linear_expneg(double x);
double tide_linear_log1p01(double e);

#endif
