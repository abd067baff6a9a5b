/*
 * detectors.c — three statistics-only drift detectors of the registry:
 *
 *  page_hinkley  E. S. Page, "Continuous inspection schemes", Biometrika 41
 *                (1954); the forgetting-factor variant of H. Mouss et al.,
 *                "Test of Page-Hinckley, an approach for fault detection in
 *                an agro-alimentary production system" (2004). Semantics and
 *                defaults of River's drift.PageHinkley (two-sided form).
 *  ddm           J. Gama, P. Medas, G. Castillo, P. Rodrigues, "Learning
 *                with drift detection", SBIA 2004. River's drift.binary.DDM.
 *  eddm          M. Baena-Garcia, J. del Campo-Avila, R. Fidalgo, A. Bifet,
 *                R. Gavalda, R. Morales-Bueno, "Early drift detection
 *                method", 4th Int. Workshop on Knowledge Discovery from Data
 *                Streams, 2006. River's drift.binary.EDDM.
 *
 * State machines (all three): NONE --(statistic past warning level)-->
 * WARNING --(past drift level)--> DRIFT; the update that returns DRIFT
 * leaves the detector fully reset (River resets lazily at the start of the
 * next update, which is observably the same), so it can detect the next
 * change from scratch.
 */
#include "drift/drift_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATE_FORMAT 1

/* ---- Page-Hinkley -------------------------------------------------------
 * After each value x (n values since reset, running mean xbar including x):
 *   up   = alpha * up   + (x - xbar) - delta,   min_up   = min(min_up, up)
 *   down = alpha * down + (x - xbar) + delta,   max_down = max(max_down, down)
 * Once n >= min_instances: DRIFT if (mode up/both) up - min_up > threshold
 * or (mode down/both) max_down - down > threshold. No warning zone. */

static const tide_param_spec PH_PARAMS[] = {
    {"min_instances", TIDE_PARAM_INT, "30", "1..1000000000", "values seen before any alarm"},
    {"delta", TIDE_PARAM_DOUBLE, "0.005", "0..1e9",
     "tolerated change of the mean (subtracted from each deviation)"},
    {"threshold", TIDE_PARAM_DOUBLE, "50", "0..1e12",
     "alarm when the cumulative deviation exceeds this (lambda)"},
    {"alpha", TIDE_PARAM_DOUBLE, "0.9999", "0..1", "forgetting factor of the cumulative sums"},
    {"mode", TIDE_PARAM_ENUM, "both", "up|down|both",
     "detect increases of the mean, decreases, or both"},
};

enum { PH_UP = 0, PH_DOWN = 1, PH_BOTH = 2 };

typedef struct ph_det {
    tide_detector base;
    uint64_t min_n;     /* parameters */
    double delta, threshold, alpha;
    int mode;
    uint64_t n;         /* values since reset */
    double mean;        /* running mean since reset */
    double up, min_up;  /* increase statistic and its minimum */
    double down, max_down; /* decrease statistic and its maximum */
} ph_det;

static void ph_reset(tide_detector *d)
{
    ph_det *s = (ph_det *)d;
    s->n = 0;
    s->mean = 0;
    s->up = 0;
    s->down = 0;
    s->min_up = INFINITY;
    s->max_down = -INFINITY;
}

static int ph_create(const tide_params *p, tide_detector **out, tide_err *err)
{
    ph_det *s = calloc(1, sizeof *s);
    if (!s)
        return tide_err_set(err, TIDE_ERR_NOMEM, "page_hinkley: out of memory");
    s->base.vt = &tide_drift_page_hinkley_vt;
    s->base.params = *p;
    s->min_n = (uint64_t)tide_params_num(p, "min_instances");
    s->delta = tide_params_num(p, "delta");
    s->threshold = tide_params_num(p, "threshold");
    s->alpha = tide_params_num(p, "alpha");
    s->mode = tide_params_enum(p, "mode");
    ph_reset(&s->base);
    *out = &s->base;
    return TIDE_OK;
}

static tide_drift_state ph_update(tide_detector *d, double x)
{
    ph_det *s = (ph_det *)d;
    double dev;
    int drift = 0;
    s->n++;
    s->mean += (x - s->mean) / (double)s->n;
    dev = x - s->mean;
    s->up = s->alpha * s->up + dev - s->delta;
    s->down = s->alpha * s->down + dev + s->delta;
    if (s->up < s->min_up)
        s->min_up = s->up;
    if (s->down > s->max_down)
        s->max_down = s->down;
    if (s->n >= s->min_n) {
        if (s->mode != PH_DOWN && s->up - s->min_up > s->threshold)
            drift = 1;
        if (s->mode != PH_UP && s->max_down - s->down > s->threshold)
            drift = 1;
    }
    if (drift) {
        ph_reset(d);
        return TIDE_DRIFT_DETECTED;
    }
    return TIDE_DRIFT_NONE;
}

static int ph_save(const tide_detector *d, tide_wbuf *b)
{
    const ph_det *s = (const ph_det *)d;
    tide_wbuf_u8(b, STATE_FORMAT);
    tide_wbuf_u64(b, s->n);
    tide_wbuf_f64(b, s->mean);
    tide_wbuf_f64(b, s->up);
    tide_wbuf_f64(b, s->min_up);
    tide_wbuf_f64(b, s->down);
    tide_wbuf_f64(b, s->max_down);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int ph_load(tide_detector *d, tide_rbuf *r, tide_err *err)
{
    ph_det *s = (ph_det *)d;
    if (tide_rbuf_u8(r) != STATE_FORMAT && !r->bad)
        return tide_err_set(err, TIDE_ERR_VERSION, "page_hinkley state: unknown format version");
    s->n = tide_rbuf_u64(r);
    s->mean = tide_rbuf_f64(r);
    s->up = tide_rbuf_f64(r);
    s->min_up = tide_rbuf_f64(r);
    s->down = tide_rbuf_f64(r);
    s->max_down = tide_rbuf_f64(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "page_hinkley state is truncated");
    if (s->n > TIDE_DRIFT_MAX_COUNT)
        return tide_err_set(err, TIDE_ERR_FORMAT, "page_hinkley state: count %llu is impossible",
                            (unsigned long long)s->n);
    return TIDE_OK;
}

/* ---- DDM ----------------------------------------------------------------
 * Input: 1 = error, 0 = correct. After n values with error rate p_i,
 * s_i = sqrt(p_i (1 - p_i) / n). Once n > min_instances: remember (p_min,
 * s_min) where p_i + s_i was lowest; WARNING if p_i + s_i > p_min +
 * warning * s_min, DRIFT if p_i + s_i > p_min + drift * s_min. */

static const tide_param_spec DDM_PARAMS[] = {
    {"min_instances", TIDE_PARAM_INT, "30", "1..1000000000",
     "values seen before the error rate is tested (warm start)"},
    {"warning_threshold", TIDE_PARAM_DOUBLE, "2", "0..100",
     "warning when p+s exceeds p_min + this many s_min"},
    {"drift_threshold", TIDE_PARAM_DOUBLE, "3", "0..100",
     "drift when p+s exceeds p_min + this many s_min"},
};

typedef struct ddm_det {
    tide_detector base;
    uint64_t min_n;
    double warn_k, drift_k;
    uint64_t n;          /* values since reset */
    double p;            /* error rate since reset */
    double p_min, s_min, ps_min;
} ddm_det;

static void ddm_reset(tide_detector *d)
{
    ddm_det *s = (ddm_det *)d;
    s->n = 0;
    s->p = 0;
    s->p_min = s->s_min = s->ps_min = INFINITY;
}

static int ddm_create(const tide_params *p, tide_detector **out, tide_err *err)
{
    ddm_det *s = calloc(1, sizeof *s);
    if (!s)
        return tide_err_set(err, TIDE_ERR_NOMEM, "ddm: out of memory");
    s->base.vt = &tide_drift_ddm_vt;
    s->base.params = *p;
    s->min_n = (uint64_t)tide_params_num(p, "min_instances");
    s->warn_k = tide_params_num(p, "warning_threshold");
    s->drift_k = tide_params_num(p, "drift_threshold");
    if (s->warn_k > s->drift_k) {
        free(s);
        return tide_err_set(err, TIDE_ERR_ARG,
                            "ddm: warning_threshold (%g) must not exceed drift_threshold (%g)",
                            tide_params_num(p, "warning_threshold"),
                            tide_params_num(p, "drift_threshold"));
    }
    ddm_reset(&s->base);
    *out = &s->base;
    return TIDE_OK;
}

static tide_drift_state ddm_update(tide_detector *d, double x)
{
    ddm_det *s = (ddm_det *)d;
    double si, ps;
    s->n++;
    s->p += (x - s->p) / (double)s->n;
    if (s->n <= s->min_n)
        return TIDE_DRIFT_NONE;
    si = sqrt(fmax(s->p * (1.0 - s->p), 0.0) / (double)s->n);
    ps = s->p + si;
    if (ps <= s->ps_min) {
        s->p_min = s->p;
        s->s_min = si;
        s->ps_min = ps;
    }
    if (ps > s->p_min + s->drift_k * s->s_min) {
        ddm_reset(d);
        return TIDE_DRIFT_DETECTED;
    }
    if (ps > s->p_min + s->warn_k * s->s_min)
        return TIDE_DRIFT_WARNING;
    return TIDE_DRIFT_NONE;
}

static int ddm_save(const tide_detector *d, tide_wbuf *b)
{
    const ddm_det *s = (const ddm_det *)d;
    tide_wbuf_u8(b, STATE_FORMAT);
    tide_wbuf_u64(b, s->n);
    tide_wbuf_f64(b, s->p);
    tide_wbuf_f64(b, s->p_min);
    tide_wbuf_f64(b, s->s_min);
    tide_wbuf_f64(b, s->ps_min);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int ddm_load(tide_detector *d, tide_rbuf *r, tide_err *err)
{
    ddm_det *s = (ddm_det *)d;
    if (tide_rbuf_u8(r) != STATE_FORMAT && !r->bad)
        return tide_err_set(err, TIDE_ERR_VERSION, "ddm state: unknown format version");
    s->n = tide_rbuf_u64(r);
    s->p = tide_rbuf_f64(r);
    s->p_min = tide_rbuf_f64(r);
    s->s_min = tide_rbuf_f64(r);
    s->ps_min = tide_rbuf_f64(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "ddm state is truncated");
    if (s->n > TIDE_DRIFT_MAX_COUNT)
        return tide_err_set(err, TIDE_ERR_FORMAT, "ddm state: count %llu is impossible",
                            (unsigned long long)s->n);
    return TIDE_OK;
}

/* ---- EDDM ---------------------------------------------------------------
 * Input: a value > 0.5 is an error. At each error, the distance (in values)
 * since the previous error (or since the reset, for the first one) updates
 * a running mean p' and sample standard deviation s' of distances. Once
 * more than min_instances values were seen, m = p' + 2 s' is compared with
 * its maximum so far: a new maximum is recorded; otherwise, once more than
 * min_num_errors errors were seen, DRIFT if m / max < beta, WARNING if
 * m / max < alpha. (River's EDDM; one warm start governs both counts
 * there, here they are two parameters with the same default 30.) */

static const tide_param_spec EDDM_PARAMS[] = {
    {"min_instances", TIDE_PARAM_INT, "30", "1..1000000000",
     "values seen before the distance statistic is used"},
    {"min_num_errors", TIDE_PARAM_INT, "30", "1..1000000000",
     "errors seen before a warning or drift can be raised"},
    {"alpha", TIDE_PARAM_DOUBLE, "0.95", "0..1",
     "warning when (mean + 2 sd of error distance) falls below this fraction of its maximum"},
    {"beta", TIDE_PARAM_DOUBLE, "0.9", "0..1",
     "drift when (mean + 2 sd of error distance) falls below this fraction of its maximum"},
};

typedef struct eddm_det {
    tide_detector base;
    uint64_t min_n, min_err;
    double alpha, beta;
    uint64_t n;          /* values since reset */
    uint64_t n_err;      /* errors since reset */
    uint64_t last_err;   /* value index (1-based) of the last error, 0 = none */
    double mean, m2;     /* Welford mean and sum of squares of distances */
    double max_m2s;      /* maximum of mean + 2 sd so far, -1 = none */
} eddm_det;

static void eddm_reset(tide_detector *d)
{
    eddm_det *s = (eddm_det *)d;
    s->n = s->n_err = s->last_err = 0;
    s->mean = s->m2 = 0;
    s->max_m2s = -1;
}

static int eddm_create(const tide_params *p, tide_detector **out, tide_err *err)
{
    eddm_det *s = calloc(1, sizeof *s);
    if (!s)
        return tide_err_set(err, TIDE_ERR_NOMEM, "eddm: out of memory");
    s->base.vt = &tide_drift_eddm_vt;
    s->base.params = *p;
    s->min_n = (uint64_t)tide_params_num(p, "min_instances");
    s->min_err = (uint64_t)tide_params_num(p, "min_num_errors");
    s->alpha = tide_params_num(p, "alpha");
    s->beta = tide_params_num(p, "beta");
    if (s->alpha < s->beta) {
        free(s);
        return tide_err_set(err, TIDE_ERR_ARG, "eddm: alpha (%g) must be >= beta (%g)",
                            tide_params_num(p, "alpha"), tide_params_num(p, "beta"));
    }
    eddm_reset(&s->base);
    *out = &s->base;
    return TIDE_OK;
}

static tide_drift_state eddm_update(tide_detector *d, double x)
{
    eddm_det *s = (eddm_det *)d;
    tide_drift_state st = TIDE_DRIFT_NONE;
    double dist, delta, sd, m2s;
    s->n++;
    if (!(x > 0.5))
        return TIDE_DRIFT_NONE;
    s->n_err++;
    dist = (double)(s->n - s->last_err);
    delta = dist - s->mean;
    s->mean += delta / (double)s->n_err;
    s->m2 += delta * (dist - s->mean);
    s->last_err = s->n;
    if (s->n <= s->min_n)
        return TIDE_DRIFT_NONE;
    sd = s->n_err > 1 ? sqrt(fmax(s->m2, 0.0) / (double)(s->n_err - 1)) : 0.0;
    m2s = s->mean + 2.0 * sd;
    if (m2s > s->max_m2s) {
        s->max_m2s = m2s;
    } else if (s->n_err > s->min_err) {
        double level = m2s / s->max_m2s;
        if (level < s->beta)
            st = TIDE_DRIFT_DETECTED;
        else if (level < s->alpha)
            st = TIDE_DRIFT_WARNING;
    }
    if (st == TIDE_DRIFT_DETECTED)
        eddm_reset(d);
    return st;
}

static int eddm_save(const tide_detector *d, tide_wbuf *b)
{
    const eddm_det *s = (const eddm_det *)d;
    tide_wbuf_u8(b, STATE_FORMAT);
    tide_wbuf_u64(b, s->n);
    tide_wbuf_u64(b, s->n_err);
    tide_wbuf_u64(b, s->last_err);
    tide_wbuf_f64(b, s->mean);
    tide_wbuf_f64(b, s->m2);
    tide_wbuf_f64(b, s->max_m2s);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int eddm_load(tide_detector *d, tide_rbuf *r, tide_err *err)
{
    eddm_det *s = (eddm_det *)d;
    if (tide_rbuf_u8(r) != STATE_FORMAT && !r->bad)
        return tide_err_set(err, TIDE_ERR_VERSION, "eddm state: unknown format version");
    s->n = tide_rbuf_u64(r);
    s->n_err = tide_rbuf_u64(r);
    s->last_err = tide_rbuf_u64(r);
    s->mean = tide_rbuf_f64(r);
    s->m2 = tide_rbuf_f64(r);
    s->max_m2s = tide_rbuf_f64(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "eddm state is truncated");
    if (s->n > TIDE_DRIFT_MAX_COUNT)
        return tide_err_set(err, TIDE_ERR_FORMAT, "eddm state: count %llu is impossible",
                            (unsigned long long)s->n);
    if (s->n_err > s->n || s->last_err > s->n)
        return tide_err_set(err, TIDE_ERR_FORMAT, "eddm state is inconsistent (errors > values)");
    return TIDE_OK;
}

/* ---- shared plumbing ---------------------------------------------------- */

#define DEFINE_PLAIN_OPS(prefix, type)                                                     \
    static void prefix##_destroy(tide_detector *d) { free(d); }                            \
    static int prefix##_clone(const tide_detector *d, tide_detector **out, tide_err *err)  \
    {                                                                                      \
        type *c = malloc(sizeof *c);                                                       \
        if (!c)                                                                            \
            return tide_err_set(err, TIDE_ERR_NOMEM, #prefix " clone: out of memory");     \
        memcpy(c, d, sizeof *c);                                                           \
        *out = &c->base;                                                                   \
        return TIDE_OK;                                                                    \
    }                                                                                      \
    static size_t prefix##_memory(const tide_detector *d) { return sizeof(type); }

DEFINE_PLAIN_OPS(ph, ph_det)
DEFINE_PLAIN_OPS(ddm, ddm_det)
DEFINE_PLAIN_OPS(eddm, eddm_det)

static double ph_estimate(const tide_detector *d)
{
    const ph_det *s = (const ph_det *)d;
    return s->n ? s->mean : NAN;
}

static double ddm_estimate(const tide_detector *d)
{
    const ddm_det *s = (const ddm_det *)d;
    return s->n ? s->p : NAN;
}

const tide_detector_vt tide_drift_page_hinkley_vt = {
    .name = "page_hinkley",
    .summary = "Page-Hinkley (Page 1954): cumulative deviation from the running mean passes a threshold",
    .params = PH_PARAMS,
    .n_params = sizeof PH_PARAMS / sizeof PH_PARAMS[0],
    .create = ph_create,
    .destroy = ph_destroy,
    .update = ph_update,
    .reset = ph_reset,
    .clone = ph_clone,
    .save_state = ph_save,
    .load_state = ph_load,
    .memory = ph_memory,
    .estimate = ph_estimate,
};

const tide_detector_vt tide_drift_ddm_vt = {
    .name = "ddm",
    .summary = "DDM (Gama et al. 2004): 0/1 error rate rises past its best p+s by 2 (warning) / 3 (drift) sigma",
    .params = DDM_PARAMS,
    .n_params = sizeof DDM_PARAMS / sizeof DDM_PARAMS[0],
    .create = ddm_create,
    .destroy = ddm_destroy,
    .update = ddm_update,
    .reset = ddm_reset,
    .clone = ddm_clone,
    .save_state = ddm_save,
    .load_state = ddm_load,
    .memory = ddm_memory,
    .estimate = ddm_estimate,
};

const tide_detector_vt tide_drift_eddm_vt = {
    .name = "eddm",
    .summary = "EDDM (Baena-Garcia et al. 2006): distance between 0/1 errors shrinks below 95% / 90% of its peak",
    .params = EDDM_PARAMS,
    .n_params = sizeof EDDM_PARAMS / sizeof EDDM_PARAMS[0],
    .create = eddm_create,
    .destroy = eddm_destroy,
    .update = eddm_update,
    .reset = eddm_reset,
    .clone = eddm_clone,
    .save_state = eddm_save,
    .load_state = eddm_load,
    .memory = eddm_memory,
    .estimate = NULL,
};
