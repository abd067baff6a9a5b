/*
 * tide/eval.h — streaming metrics for progressive (prequential) validation.
 *
 * One tide_metrics object accumulates a task's metrics cumulatively and over
 * a sliding window of the last `window` examples (window 0 = cumulative
 * only). Classification: accuracy, log loss, F1 (class 1 for binary, macro
 * over classes seen for multiclass, as River's MacroF1), ROC AUC (binary
 * only, NaN for multiclass; ties count 1/2; the score is proba[1]).
 * Windowed AUC is exact over the window (computed in get() by sorting the
 * window: adds O(1), get O(window)). Cumulative AUC (K sorted distinct
 * scores + a buffer of about K/2 examples merged when full, O(1) amortised
 * per add) is exact until TIDE_METRICS_AUC_EXACT_KEYS distinct scores were
 * seen; then it switches to a histogram over a 2^-15 grid (O(1) adds, get
 * O(2^15)): new pairs whose scores lie in the same 2^-15-wide bin count as
 * ties (error <= 1/2 of the weight share of such pairs).
 * Log loss clips probabilities to [1e-15, 1 - 1e-15].
 * Regression: MAE, RMSE, R² (1 - SS_res/SS_tot, weighted Welford; NaN until
 * two weighted examples and while the target is constant).
 * Weights multiply each example's contribution. Values with a zero
 * denominator are NaN. Definitions in full: src/eval/metrics.c.
 *
 * Thread safety: no locks inside. get, save and kind only read the object
 * (safe to run concurrently with each other); add, reset and free must not
 * overlap any other call on the same object.
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

#define TIDE_METRICS_MAX_WINDOW (1u << 20)     /* longest sliding window */
#define TIDE_METRICS_MAX_CLASSES 65536         /* largest class index + 1 */
#define TIDE_METRICS_AUC_EXACT_KEYS (1u << 16) /* cumulative AUC exact up to this many distinct scores */

/* CONSTRUCTOR. window: sliding window length (0 = none, at most
 * TIDE_METRICS_MAX_WINDOW). Memory: 32 bytes per window slot, plus 48 bytes
 * per distinct cumulative score (<= 3.5 MB, then a 512 KB grid histogram)
 * and a 192 KB buffer (classification). Free with tide_metrics_free (NULL is a no-op). */
int tide_metrics_new(tide_metric_kind kind, size_t window, tide_metrics **out);
void tide_metrics_free(tide_metrics *m);

/* Classification: y_true class index, proba[0..n_classes-1] predicted
 * distribution (the predicted class is its argmax; ties -> lowest index).
 * n_classes may grow over time; y_true may exceed n_classes - 1 (a class
 * the model has not seen: probability 0). Binary while every n_classes and
 * y_true + 1 seen so far is <= 2. w >= 0, finite. Returns TIDE_ERR_ARG on a
 * bad argument (NaN probability, negative weight), TIDE_ERR_STATE on a
 * regression object. No allocation except when new classes appear or the
 * cumulative AUC tree grows (amortised). */
int tide_metrics_add_class(tide_metrics *m, int y_true, const double *proba, int n_classes, double w);
/* Regression: finite y_true, y_pred; w >= 0. */
int tide_metrics_add_reg(tide_metrics *m, double y_true, double y_pred, double w);

typedef struct tide_metric_values {
    uint64_t n;          /* examples scored */
    double accuracy, log_loss, f1, roc_auc;   /* classification (NaN if undefined) */
    double mae, rmse, r2;                     /* regression (NaN if undefined) */
} tide_metric_values;

/* cumulative (windowed = 0) or over the window (windowed = 1; all NaN and
 * n = 0 when the object has no window). Cost: O(classes) plus the AUC:
 * cumulative, a sort of up to 32768 buffered scores and a pass over the
 * distinct ones (~0.1-1 ms); windowed, a sort of the window (O(window):
 * ~60 us for 1,000, ~0.15 s for 2^20). The sorted copy (48 bytes a slot)
 * is allocated and freed here (AUC NaN if that fails); the object is not
 * modified. Windowed values equal the
 * cumulative values of a fresh object fed only the window's examples (the
 * binary/multiclass mode is the object's, decided over its whole history). */
void tide_metrics_get(const tide_metrics *m, int windowed, tide_metric_values *out);
tide_metric_kind tide_metrics_kind(const tide_metrics *m);
void tide_metrics_reset(tide_metrics *m);

/* Persist (the store keeps metrics per version): appends a versioned,
 * checksummed little-endian block to b (format 4); load reads one back
 * from r (formats 3 and 4; caller frees *out) and refuses truncated,
 * corrupt or foreign data. */
int tide_metrics_save(const tide_metrics *m, tide_wbuf *b);
int tide_metrics_load(tide_rbuf *r, tide_metrics **out, tide_err *err);

#ifdef __cplusplus
}
#endif
#endif
