/*
 * tide/drift.h — change detectors on a stream of values (errors, losses,
 * 0/1 mistakes) and two-sample tests on feature distributions.
 *
 * Stream detectors share one interface: update(value) -> NONE / WARNING /
 * DRIFT, reset, save/load of state, memory in bytes. After DRIFT a detector
 * resets itself (as in the papers) so it can detect the next change.
 */
#ifndef TIDE_DRIFT_H
#define TIDE_DRIFT_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TIDE_DRIFT_NONE = 0,
    TIDE_DRIFT_WARNING = 1,
    TIDE_DRIFT_DETECTED = 2
} tide_drift_state;

typedef struct tide_detector tide_detector;
typedef struct tide_detector_vt tide_detector_vt;

struct tide_detector_vt {
    const char *name;            /* "adwin", "page_hinkley", "ddm", "eddm", "kswin" */
    const char *summary;         /* one line for `tide detectors` */
    const tide_param_spec *params;
    size_t n_params;
    int (*create)(const tide_params *p, tide_detector **out, tide_err *err);
    void (*destroy)(tide_detector *d);
    tide_drift_state (*update)(tide_detector *d, double x);
    void (*reset)(tide_detector *d);
    int (*clone)(const tide_detector *d, tide_detector **out, tide_err *err);
    int (*save_state)(const tide_detector *d, tide_wbuf *b);
    int (*load_state)(tide_detector *d, tide_rbuf *r, tide_err *err);
    size_t (*memory)(const tide_detector *d);
    /* Optional: current estimate of the stream mean (ADWIN), NAN if none. */
    double (*estimate)(const tide_detector *d);
};

struct tide_detector {
    const tide_detector_vt *vt;
    tide_params params;
    uint64_t n_seen;
};

/* Added note: tide_detector_update and tide_adwin_update ignore NaN and
 * infinite values (no state change, not counted in n_seen). */
size_t tide_detector_count(void);
const tide_detector_vt *tide_detector_at(size_t i);
const tide_detector_vt *tide_detector_find(const char *name);
int tide_detector_new(const char *name, const char **kv, size_t n_kv,
                      tide_detector **out, tide_err *err);
void tide_detector_free(tide_detector *d);
tide_drift_state tide_detector_update(tide_detector *d, double x);
void tide_detector_reset(tide_detector *d);
int tide_detector_clone(const tide_detector *d, tide_detector **out, tide_err *err);
size_t tide_detector_memory(const tide_detector *d);
double tide_detector_estimate(const tide_detector *d);
int tide_detector_save(const tide_detector *d, tide_wbuf *b);     /* kind + params + state */
int tide_detector_load(tide_rbuf *r, tide_detector **out, tide_err *err);

/* Direct ADWIN access for learners that need its window statistics
 * (Hoeffding adaptive tree, ARF). */
typedef struct tide_adwin tide_adwin;
int tide_adwin_new(double delta, tide_adwin **out);
void tide_adwin_free(tide_adwin *a);
/* Returns 1 when a change was detected (window shrunk). */
int tide_adwin_update(tide_adwin *a, double x);
double tide_adwin_mean(const tide_adwin *a);
double tide_adwin_width(const tide_adwin *a);
double tide_adwin_variance(const tide_adwin *a);
int tide_adwin_clone(const tide_adwin *a, tide_adwin **out);
void tide_adwin_save(const tide_adwin *a, tide_wbuf *b);
int tide_adwin_load(tide_rbuf *r, tide_adwin **out, tide_err *err);
size_t tide_adwin_memory(const tide_adwin *a);
/* Added by the drift module. As tide_adwin_new with MOA's other knobs:
 * test every `clock` values (32), sub-windows need more than min_window + 1
 * values (5), no test while the window holds <= grace values (10). */
int tide_adwin_new_ex(double delta, int clock, int min_window, int grace, tide_adwin **out);
/* Empties the window (parameters and clock kept). */
void tide_adwin_reset(tide_adwin *a);
/* Number of updates so far that shrank the window. */
uint64_t tide_adwin_detections(const tide_adwin *a);
/* Buckets in each row of the exponential histogram (row i holds buckets of
 * 2^i values): fills counts[0..min(rows, max_rows)-1], returns the rows. */
size_t tide_adwin_rows(const tide_adwin *a, uint32_t *counts, size_t max_rows);

/* ---- two-sample tests on feature distributions ------------------------ */
/* Kolmogorov-Smirnov: statistic D and asymptotic p-value (as scipy's
 * ks_2samp(method="asymp")). Inputs need not be sorted. */
int tide_ks_2samp(const double *a, size_t na, const double *b, size_t nb,
                  double *stat, double *pvalue);
/* PSI of numeric samples, binned on the reference's quantiles (nbins, 10). */
double tide_psi_numeric(const double *ref, size_t nref, const double *cur, size_t ncur, int nbins);
/* PSI / chi-square of categorical counts (same category order in both). */
double tide_psi_counts(const double *ref, const double *cur, size_t k);
int tide_chi2_counts(const double *ref, const double *cur, size_t k, double *stat, double *pvalue);
/* Added by the drift module. Notes on the functions above: inputs with NaN
 * or empty samples give TIDE_ERR_ARG (KS, chi2) or NAN (PSI); PSI raises
 * proportions below 1e-4 to 1e-4; chi2 is the 2 x k homogeneity test
 * without continuity correction (scipy chi2_contingency(correction=False)),
 * categories empty in both rows dropped. */
/* Exact two-sided p-value P(D >= d) of the two-sample KS statistic for
 * sample sizes n, m (lattice paths, as scipy's method="exact"); NAN when
 * n*m > 1e8 or out of memory. */
double tide_ks_exact_pvalue(double d, size_t n, size_t m);
/* Regularized upper incomplete gamma Q(a, x) = Gamma(a, x)/Gamma(a), a > 0,
 * x >= 0 (NAN otherwise); chi-square survival = Q(df/2, x/2). */
double tide_gamma_q(double a, double x);

#ifdef __cplusplus
}
#endif
#endif
