/*
 * drift_impl.h — private to src/drift: the detector vtables defined in each
 * detector's file, collected by the registry in registry.c, plus small
 * helpers shared by the detector files. Not a public header.
 */
#ifndef TIDE_DRIFT_IMPL_H
#define TIDE_DRIFT_IMPL_H

#include "tide/drift.h"

extern const tide_detector_vt tide_drift_adwin_vt;
extern const tide_detector_vt tide_drift_page_hinkley_vt;
extern const tide_detector_vt tide_drift_ddm_vt;
extern const tide_detector_vt tide_drift_eddm_vt;
extern const tide_detector_vt tide_drift_kswin_vt;

/* Saved counters above this (2^53 values) cannot have been reached; a
 * state claiming more is corrupt (and would wrap and contradict itself). */
#define TIDE_DRIFT_MAX_COUNT (1ULL << 53)

/* Two-sample KS statistic D of two already sorted arrays (stattest.c). */
double tide_drift_ks_stat_sorted(const double *a, size_t na, const double *b, size_t nb);

/* Tests only: KSWIN detectors created after on = 1 use the portable
 * functions even where the AVX-512 ones would run (same results). */
void tide_drift_kswin_force_generic(int on);

/* Tests only: the functions of the merged path for KSWIN detectors created
 * afterwards: 0 the best this CPU runs (AVX-512, else AVX2, else
 * portable), 1 portable, 2 AVX2 (portable where the CPU lacks it). Returns
 * 0 when 2 is asked and this CPU cannot run the AVX2 functions, else 1. */
int tide_drift_kswin_force_path(int path);

/* Tests only: the functions a KSWIN detector's merged path runs: 'p'
 * portable, '2' AVX2, '5' AVX-512; 0 for other detectors and windows. */
int tide_drift_kswin_path(const tide_detector *d);

/* Tests only: for a KSWIN detector on the merged path (window <= 128), the
 * older positions of its last finished draw (bit p: p-th oldest) and how
 * many draws it has finished since creation (tests settled before the
 * draw's changes do not finish it); 0 for other detectors. */
int tide_drift_kswin_last_draw(const tide_detector *d, uint64_t *lo, uint64_t *hi,
                               uint64_t *count);

#endif
