/*
 * tide/eval.h — streaming metrics for progressive (prequential) validation.
 *
 * One tide_metrics object accumulates a task's metrics cumulatively and over
 * a sliding window of the last `window` examples (window 0 = cumulative
 * only). Classification: accuracy, log loss, F1 (class 1 for binary, macro
 * over classes seen for multiclass), ROC AUC (binary: exact, from the sorted
 * scores — windowed AUC is exact over the window; cumulative AUC uses a
 * fixed-bin histogram of 2^12 score bins per class, error < 1e-3).
 * Regression: MAE, RMSE, R².
 */
#ifndef TIDE_EVAL_H
#define TIDE_EVAL_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TIDE_METRIC_CLASSIFY = 1,
    TIDE_METRIC_REGRESS = 2
} tide_metric_kind;

typedef struct tide_metrics tide_metrics;

/* CONSTRUCTOR. window: sliding window length (0 = none). */
int tide_metrics_new(tide_metric_kind kind, size_t window, tide_metrics **out);
void tide_metrics_free(tide_metrics *m);

/* Classification: y_true class index, proba[0..n_classes-1] predicted
 * distribution (the predicted class is its argmax; ties -> lowest index).
 * n_classes may grow over time. */
int tide_metrics_add_class(tide_metrics *m, int y_true, const double *proba, int n_classes, double w);
/* Regression. */
int tide_metrics_add_reg(tide_metrics *m, double y_true, double y_pred, double w);

typedef struct tide_metric_values {
    uint64_t n;          /* examples scored */
    double accuracy, log_loss, f1, roc_auc;   /* classification (NaN if undefined) */
    double mae, rmse, r2;                     /* regression (NaN if undefined) */
} tide_metric_values;

/* cumulative (windowed = 0) or over the window (windowed = 1). */
void tide_metrics_get(const tide_metrics *m, int windowed, tide_metric_values *out);
tide_metric_kind tide_metrics_kind(const tide_metrics *m);
void tide_metrics_reset(tide_metrics *m);

/* Persist (the store keeps metrics per version). */
int tide_metrics_save(const tide_metrics *m, tide_wbuf *b);
int tide_metrics_load(tide_rbuf *r, tide_metrics **out, tide_err *err);

#ifdef __cplusplus
}
#endif
#endif
