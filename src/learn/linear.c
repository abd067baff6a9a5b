/*
 * linear.c — online linear models: logistic regression (binary), softmax
 * regression (multiclass) and least-squares regression, over hashed sparse
 * features, with four per-coordinate optimizers:
 *
 *  auto     (default) scale-invariant, normalized, adaptive: inputs are
 *           standardised online (mean and variance per bucket over all the
 *           rows BEFORE the current one, an absent feature counting as 0,
 *           the z-score clipped to sqrt(rows + 1) and a numeric bucket's
 *           first value entering as 0; indicator buckets that only ever held
 *           1 are left as they are — so a row's prediction and its learning
 *           step share one pass, see docs/DESIGN.md); the step is
 *           normalised by the mean squared norm of the scaled inputs (NLMS-like: w -= lr/E[1+|x|^2]
 *           * g * x, stable for lr < 2 on squared loss whatever the number of
 *           features; a per-row 1/(1+|x|^2) would reweight rows), and the
 *           step size is adapted online: AUTO_M copies learn in parallel with
 *           learning rates AUTO_LR, each scored progressively (predict first)
 *           with a discounted loss; classifiers predict the exponentially
 *           weighted mixture (Vovk's aggregating algorithm for log loss, with
 *           discounting so the choice can change when the stream drifts),
 *           regressors follow the copy with the least discounted squared
 *           error. Idea: MetaGrad (van Erven & Koolen, NeurIPS 2016) runs
 *           several learning rates in parallel; this is the simplest such
 *           scheme, cheap because the copies share the input pass.
 *  nag      Normalized Adaptive Gradient, "NAG" — Ross, Mineiro &
 *           Langford, "Normalized Online Learning", UAI 2013, Algorithm 2.
 *           Per coordinate: s_i = max |x_i| seen, G_i = sum of squared
 *           gradients; global N = sum_t sum_i x_ti^2 / s_i^2. When |x_i|
 *           exceeds s_i the weight is rescaled by s_i^2/x_i^2; the step is
 *           w_i -= lr * sqrt(t/N) * g_i / (s_i * sqrt(G_i)).
 *           Invariant to the scale of each feature, so no scaler is needed
 *           and one learning rate suits many streams.
 *  sgd      w_i -= lr / t^power_t * g_i (inverse scaling, as VW --sgd).
 *  adagrad  G_i += g_i^2; w_i -= lr * g_i / (sqrt(G_i) + 1e-8)
 *           (Duchi, Hazan & Singer, JMLR 2011).
 *  ftrl     FTRL-Proximal with L1/L2 (McMahan et al., "Ad Click Prediction:
 *           a View from the Trenches", KDD 2013, Algorithm 1); alpha = lr.
 *
 * g_i = dL/dw_i = g * x_i (+ l2 * w_i for sgd/adagrad/norm), with g = p - y
 * for the logistic and softmax losses and g = yhat - y for squared loss.
 * The intercept is a coordinate with x = 1 (s = 1), unregularised.
 *
 * Layout: class-major, state[k][bucket] = {w, G} (ftrl: {z, n}); s_i is
 * shared by the classes. Softmax grows its class block as labels appear.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learners.h"

enum { OPT_SGD = 0, OPT_ADAGRAD, OPT_FTRL, OPT_NORM, OPT_AUTO };

#define AUTO_M 4
static const double AUTO_LR[AUTO_M] = {0.01, 0.1, 0.3, 1.0};

/* Hot floats of a bucket, HOT(k): mean, 1/sd - 1 (as of the bucket's last
 * update, so predictions need no sqrt or division; stored minus one so that
 * zeroed memory, an unseen or indicator bucket, passes values through
 * unchanged and a fresh model touches no page it does not use), then the
 * weights [class][copy]. */
#define HOT(k) (2 + (size_t)(k) * AUTO_M)

/* Everything the auto optimizer keeps per bucket, in one record: a feature's
 * step reads and writes one cache line (one output: 48 bytes used of a
 * 64-byte, line-aligned record) instead of three arrays. */
typedef struct arec {
    double sum, sumsq;   /* weighted sums of the values (absent = 0) */
    uint32_t kind;       /* 0 unseen, 1 indicator (only 1s so far), 2 numeric */
    float hot[];         /* HOT(k) */
} arec;
#define AREC1 64 /* record bytes with one output */
_Static_assert(offsetof(arec, hot) + HOT(1) * sizeof(float) <= AREC1, "one-output record");

/* Bytes of a bucket's record with k outputs (a multiple of 16). */
static inline size_t arec_bytes(int k)
{
    size_t b = offsetof(arec, hot) + HOT(k) * sizeof(float);
    return k == 1 ? AREC1 : (b + 15) / 16 * 16;
}
#define AREC(m, i) ((arec *)((m)->rec + (size_t)(i) * (m)->rstride))
enum { LOSS_LOGISTIC = 0, LOSS_SOFTMAX, LOSS_SQUARED };

#define STRIDE 2

typedef struct linear {
    tide_learner base;
    int loss;
    int opt;
    double lr, power_t, l1, l2, beta;
    int intercept, scale;
    size_t nb;            /* buckets: 2^bits */
    int k_alloc;          /* output blocks allocated */
    float *st;            /* k_alloc * nb * STRIDE */
    float *smax;          /* nb: NAG's per-coordinate scale */
    double *bias;         /* k_alloc * 2: {w, G} or {z, n} of the intercept */
    double t;             /* weighted examples learned */
    double N;             /* NAG normaliser */
    tide_scaler *scaler;  /* when scale=true */
    tide_fvec scaled;     /* scratch for learn */
    double *g;            /* scratch: per-class gradient, k_alloc */
    /* auto optimizer */
    char *rec;            /* nb records of rstride bytes, 64-byte aligned */
    void *rec_mem;        /* rec's allocation */
    size_t rstride;       /* arec_bytes(k_alloc) */
    double *ab;           /* k_alloc * AUTO_M intercepts */
    double aloss[AUTO_M]; /* discounted progressive loss of each copy */
    double api[AUTO_M];   /* mixture weights derived from aloss */
    double discount;      /* per-row factor of aloss */
    double qsum;          /* sum over rows of 1 + |scaled x|^2 (NLMS normaliser) */
    float zclip;          /* bound on a scaled value: sqrt(rows learned + 1) */
    float *xs;            /* scratch: scaled values of the row, cap xs_cap */
    size_t xs_cap;
} linear;

static const tide_param_spec LINEAR_PARAMS[] = {
    {"optimizer", TIDE_PARAM_ENUM, "auto", "sgd|adagrad|ftrl|nag|auto",
     "update rule: auto (standardised inputs, normalised steps, step size chosen online), "
     "nag (normalized adaptive gradient), plain SGD, AdaGrad, FTRL-Proximal"},
    {"lr", TIDE_PARAM_DOUBLE, "0.5", "0..1000", "learning rate (FTRL: alpha; unused by auto)"},
    {"memory", TIDE_PARAM_DOUBLE, "1000", "1..1e9",
     "auto: rows over which the step-size choice remembers losses (discount 1-1/memory)"},
    {"power_t", TIDE_PARAM_DOUBLE, "0.5", "0..1", "sgd: step = lr / t^power_t"},
    {"l1", TIDE_PARAM_DOUBLE, "0", "0..1e6", "L1 penalty (ftrl only)"},
    {"l2", TIDE_PARAM_DOUBLE, "0", "0..1e6", "L2 penalty on weights (not the intercept)"},
    {"beta", TIDE_PARAM_DOUBLE, "1", "0..1e6", "ftrl: beta of the per-coordinate rate"},
    {"intercept", TIDE_PARAM_BOOL, "true", NULL, "learn an intercept (bias) term"},
    {"scale", TIDE_PARAM_BOOL, "false", NULL,
     "online standard scaling of inputs (useful for sgd/adagrad/ftrl; norm does not need it)"},
};
#define N_LINEAR_PARAMS (sizeof LINEAR_PARAMS / sizeof LINEAR_PARAMS[0])

static int lin_alloc_blocks(linear *m, int k)
{
    size_t per = m->opt == OPT_AUTO ? 1 : m->nb * STRIDE;
    float *st;
    double *b, *g;
    if (k <= m->k_alloc)
        return TIDE_OK;
    st = realloc(m->st, (size_t)k * per * sizeof *st);
    if (!st)
        return TIDE_ERR_NOMEM;
    m->st = st;
    memset(st + (size_t)m->k_alloc * per, 0, (size_t)(k - m->k_alloc) * per * sizeof *st);
    b = realloc(m->bias, (size_t)k * 2 * sizeof *b);
    if (!b)
        return TIDE_ERR_NOMEM;
    m->bias = b;
    memset(b + (size_t)m->k_alloc * 2, 0, (size_t)(k - m->k_alloc) * 2 * sizeof *b);
    g = realloc(m->g, (size_t)k * AUTO_M * sizeof *g);
    if (!g)
        return TIDE_ERR_NOMEM;
    m->g = g;
    if (m->opt == OPT_AUTO) {
        /* re-lay the records, [class][copy] weights, for k classes */
        size_t stride = arec_bytes(k);
        void *mem = calloc(m->nb * stride + 64, 1); /* calloc: untouched pages stay unmapped */
        char *rec = mem ? (char *)(((uintptr_t)mem + 63) & ~(uintptr_t)63) : NULL;
        double *ab = calloc((size_t)k * AUTO_M, sizeof *ab);
        if (!mem || !ab) {
            free(mem);
            free(ab);
            return TIDE_ERR_NOMEM;
        }
        if (m->rec)
            for (size_t i = 0; i < m->nb; i++)
                memcpy(rec + i * stride, AREC(m, i),
                       offsetof(arec, hot) + HOT(m->k_alloc) * sizeof(float));
        if (m->ab)
            memcpy(ab, m->ab, (size_t)m->k_alloc * AUTO_M * sizeof *ab);
        free(m->rec_mem);
        free(m->ab);
        m->rec_mem = mem;
        m->rec = rec;
        m->rstride = stride;
        m->ab = ab;
    }
    m->k_alloc = k;
    return TIDE_OK;
}

static void lin_destroy(tide_learner *l)
{
    linear *m = (linear *)l;
    if (!m)
        return;
    free(m->st);
    free(m->smax);
    free(m->bias);
    free(m->g);
    free(m->rec_mem);
    free(m->ab);
    free(m->xs);
    tide_scaler_free(m->scaler);
    tide_fvec_free(&m->scaled);
    free(m);
}

/* A standardised value that includes its own row is bounded by sqrt(n) for
 * n rows; the step scales a row with the statistics of the rows BEFORE it,
 * which is unbounded while few rows are in (two near-equal values give a
 * near-zero spread), and one huge value would inflate the step normaliser
 * for thousands of rows. So scaled values are clipped to sqrt(rows + 1). */
static inline void auto_set_clip(linear *m)
{
    m->zclip = sqrtf((float)m->t + 1.0f);
}

static int lin_create_loss(const tide_params *p, int bits, int loss, tide_learner **out,
                           tide_err *err)
{
    linear *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    m->loss = loss;
    m->opt = tide_params_enum(p, "optimizer");
    m->lr = tide_params_num(p, "lr");
    m->power_t = tide_params_num(p, "power_t");
    m->l1 = tide_params_num(p, "l1");
    m->l2 = tide_params_num(p, "l2");
    m->beta = tide_params_num(p, "beta");
    m->intercept = tide_params_num(p, "intercept") != 0;
    m->scale = tide_params_num(p, "scale") != 0;
    m->nb = (size_t)1 << bits;
    if (m->l1 > 0 && m->opt != OPT_FTRL) {
        free(m);
        return tide_err_set(err, TIDE_ERR_ARG, "l1 needs optimizer=ftrl");
    }
    m->discount = 1.0 - 1.0 / tide_params_num(p, "memory");
    auto_set_clip(m);
    for (int j = 0; j < AUTO_M; j++)
        m->api[j] = 1.0 / AUTO_M;
    if (m->opt == OPT_AUTO) {
        m->scale = 0; /* auto standardises by itself */
    }
    m->smax = calloc(m->opt == OPT_AUTO ? 1 : m->nb, sizeof *m->smax);
    if (!m->smax || lin_alloc_blocks(m, loss == LOSS_SOFTMAX ? 2 : 1) ||
        (m->scale && tide_scaler_new(bits, &m->scaler))) {
        lin_destroy(&m->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory (2^%d buckets)", bits);
    }
    *out = &m->base;
    return TIDE_OK;
}

static int logistic_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    return lin_create_loss(p, bits, LOSS_LOGISTIC, out, err);
}
static int softmax_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    return lin_create_loss(p, bits, LOSS_SOFTMAX, out, err);
}
static int linreg_create(const tide_params *p, int bits, tide_learner **out, tide_err *err)
{
    return lin_create_loss(p, bits, LOSS_SQUARED, out, err);
}

/* Effective weight of a coordinate (FTRL derives it from z and n). */
static inline double coord_w(const linear *m, const float *c)
{
    if (m->opt == OPT_FTRL) {
        double z = c[0], n = c[1];
        if (fabs(z) <= m->l1)
            return 0.0;
        return -(z - copysign(m->l1, z)) / ((m->beta + sqrt(n)) / m->lr + m->l2);
    }
    return c[0];
}

static inline double bias_w(const linear *m, int k)
{
    const double *b = m->bias + 2 * k;
    if (m->opt == OPT_FTRL) {
        if (b[0] == 0)
            return 0.0;
        return -b[0] / ((m->beta + sqrt(b[1])) / m->lr);
    }
    return b[0];
}

static inline float xval(const linear *m, const tide_feat *f)
{
    return m->scaler ? tide_scaler_scale(m->scaler, f->idx, f->val) : f->val;
}

/* Raw score of output k. x is already scaled when scaled != 0. */
static double dot(const linear *m, int k, const tide_fvec *x, int scaled)
{
    const float *blk;
    double s;
    if (k >= m->k_alloc)
        return 0.0;
    blk = m->st + (size_t)k * m->nb * STRIDE;
    s = m->intercept ? bias_w(m, k) : 0.0;
    if (m->opt == OPT_FTRL || (m->scaler && !scaled)) {
        for (size_t i = 0; i < x->n; i++) {
            const tide_feat *f = &x->f[i];
            float v = scaled ? f->val : xval(m, f);
            s += coord_w(m, blk + (size_t)f->idx * STRIDE) * v;
        }
    } else {
        for (size_t i = 0; i < x->n; i++)
            s += (double)blk[(size_t)x->f[i].idx * STRIDE] * x->f[i].val;
    }
    return s;
}

static inline double sigmoid(double z)
{
    if (z >= 0) {
        double e = exp(-z);
        return 1.0 / (1.0 + e);
    } else {
        double e = exp(z);
        return e / (1.0 + e);
    }
}

/* Fills out with class probabilities (or the regression value). */
static void predict_scaled(const linear *m, const tide_fvec *x, int scaled, double *out)
{
    int K = m->base.n_classes;
    if (m->loss == LOSS_LOGISTIC) {
        double p = sigmoid(dot(m, 0, x, scaled));
        out[0] = 1.0 - p;
        out[1] = p;
    } else if (m->loss == LOSS_SQUARED) {
        out[0] = dot(m, 0, x, scaled);
    } else {
        double mx = -INFINITY, sum = 0;
        for (int k = 0; k < K; k++) {
            out[k] = dot(m, k, x, scaled);
            if (out[k] > mx)
                mx = out[k];
        }
        for (int k = 0; k < K; k++) {
            out[k] = exp(out[k] - mx);
            sum += out[k];
        }
        for (int k = 0; k < K; k++)
            out[k] /= sum;
    }
}


/* ---- auto optimizer ------------------------------------------------------ */

/* Standardised value of one entry with the statistics of the rows learned
 * so far (t rows, absent = 0). */
static inline float auto_scale(const linear *m, uint32_t idx, float x)
{
    const float *h = AREC(m, idx)->hot;
    const float v = (x - h[0]) * (h[1] + 1.0f), c = m->zclip;
    return v > c ? c : v < -c ? -c : v;
}

/* The mixture weights move slowly once a stream is under way: after the
 * first AUTO_WARM rows they are recomputed on every AUTO_EVERY-th row only
 * (a deterministic schedule, so save/load and clones stay bit-identical),
 * which removes AUTO_M exps from most rows. The per-bucket statistics are
 * refreshed on every row: lagging them by even 8 rows cost 3.6 points of
 * accuracy on Elec2, whose date feature moves every row. */
#define AUTO_WARM 256
#define AUTO_EVERY 8
static inline int auto_refresh_due(const linear *m)
{
    return m->base.n_seen < AUTO_WARM || m->base.n_seen % AUTO_EVERY == 0;
}

/* Raw scores z[k*AUTO_M + j] of every copy j for every class k < K, and the
 * squared norm of the scaled input (+1 for the intercept) in *q. */
static void auto_scores(const linear *m, const tide_fvec *x, const float *xs, int K, double *z,
                        double *q)
{
    double qq = m->intercept ? 1.0 : 0.0;
    int kk = K < m->k_alloc ? K : m->k_alloc;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < AUTO_M; j++)
            z[k * AUTO_M + j] = (m->intercept && k < kk) ? m->ab[k * AUTO_M + j] : 0.0;
    if (kk == 1 && K == 1) {
        /* one output (binary, regression): the AUTO_M copies unrolled in
         * registers, one hot record per feature */
        double z0 = z[0], z1 = z[1], z2 = z[2], z3 = z[3];
        _Static_assert(AUTO_M == 4, "unrolled for 4 copies");
        for (size_t i = 0; i < x->n; i++) {
            const float *h = AREC(m, x->f[i].idx)->hot;
            const float v = xs ? xs[i] : auto_scale(m, x->f[i].idx, x->f[i].val);
            qq += (double)v * v;
            z0 += (double)h[2] * v;
            z1 += (double)h[3] * v;
            z2 += (double)h[4] * v;
            z3 += (double)h[5] * v;
        }
        z[0] = z0;
        z[1] = z1;
        z[2] = z2;
        z[3] = z3;
        *q = qq;
        return;
    }
    for (size_t i = 0; i < x->n; i++) {
        const float v = xs ? xs[i] : auto_scale(m, x->f[i].idx, x->f[i].val);
        const float *w = AREC(m, x->f[i].idx)->hot + 2;
        qq += (double)v * v;
        if (v == 0.0f)
            continue;
        for (int k = 0; k < kk; k++)
            for (int j = 0; j < AUTO_M; j++)
                z[k * AUTO_M + j] += (double)w[k * AUTO_M + j] * v;
    }
    *q = qq;
}

/* The copies' exp and log, four at a time (one per copy), written once with
 * GCC's generic vectors: one AVX2 vector in auto_step's AVX2 clone, two SSE2
 * halves in the default build, the same operations lane by lane, so the same
 * bits everywhere (no FMA contraction: -ffp-contract=off in the Makefile).
 * They replaced libm's expf and logf, whose eight calls a row made a long
 * serial chain at the end of every step (test_auto_exp_log checks them
 * against libm's exp and log1p). */
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));
typedef uint64_t v4u __attribute__((vector_size(32)));   /* shifts without overflow */
_Static_assert(AUTO_M == 4, "the copies' exp and log work on four lanes");

/* exp(x) for x <= 0 (the copies' x = -|z|): x = k ln2 + r with |r| <= ln2/2
 * (Cody & Waite's two-part ln2, as in fdlibm's exp), e^r by its Taylor
 * polynomial to r^10 (truncation below 3e-13 relative) in Estrin's scheme
 * (a short dependency chain, unlike Horner's), 2^k built in the exponent
 * bits; x below -700 counts as -700 (e^-700 ~ 1e-304: nothing downstream can
 * tell); NaN passes. */
static inline void auto_expneg4(const double *x, double *out)
{
    const v4d lo = {-700.0, -700.0, -700.0, -700.0},
              magic = {0x1.8p52, 0x1.8p52, 0x1.8p52, 0x1.8p52};
    v4d xv, xc, t, k, r, r2, r4, p;
    v4i below;
    v4u b;
    memcpy(&xv, x, sizeof xv);
    below = xv < lo;   /* NaN: false, passes */
    xc = (v4d)(((v4i)xv & ~below) | ((v4i)lo & below));
    t = xc * 0x1.71547652b82fep0 + magic;   /* k in t's low bits */
    k = t - magic;
    r = (xc - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33;
    r2 = r * r;
    r4 = r2 * r2;
    p = ((1.0 + r) + (0.5 + r * (1.0 / 6)) * r2) +
        (((1.0 / 24) + r * (1.0 / 120)) + ((1.0 / 720) + r * (1.0 / 5040)) * r2) * r4 +
        (((1.0 / 40320) + r * (1.0 / 362880)) + (1.0 / 3628800) * r2) * (r4 * r4);
    b = ((v4u)t + 1023) << 52;   /* 2^k: k + 1023 in [13, 1023] (NaN: any bits) */
    p = p * (v4d)b;
    memcpy(out, &p, sizeof p);
}

/* log(1 + e) for e in [0, 1]: with s = e / (2 + e) <= 1/3, log(1 + e) =
 * 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), to s^21 (truncation below 1e-11
 * relative), Estrin's scheme in w = s^2; NaN passes. */
static inline void auto_log1p4(const double *e, double *out)
{
    v4d ev, s, w, w2, w4, p;
    memcpy(&ev, e, sizeof ev);
    s = ev / (2.0 + ev);
    w = s * s;
    w2 = w * w;
    w4 = w2 * w2;
    p = ((1.0 + w * (1.0 / 3)) + ((1.0 / 5) + w * (1.0 / 7)) * w2) +
        (((1.0 / 9) + w * (1.0 / 11)) + ((1.0 / 13) + w * (1.0 / 15)) * w2) * w4 +
        (((1.0 / 17) + w * (1.0 / 19)) + (1.0 / 21) * w2) * (w4 * w4);
    p = 2.0 * s * p;
    memcpy(out, &p, sizeof p);
}

/* For tests: lane 0 of the four-lane functions (every lane computes alike). */
double tide_linear_expneg(double x)
{
    const double in[4] = {x, x, x, x};
    double o[4];
    auto_expneg4(in, o);
    return o[0];
}

double tide_linear_log1p01(double e)
{
    const double in[4] = {e, e, e, e};
    double o[4];
    auto_log1p4(in, o);
    return o[0];
}

/* The copies' sigmoid from z, with e = exp(-|z|) in e[] when it is not NULL.
 * The step reuses e for the log loss: -log p = log(1 + e) + max(-z, 0) for
 * y = 1, log(1 + e) + max(z, 0) for y = 0, exact where -log(p) would
 * overflow. */
static inline void auto_sigmoid4(double *z, double *e_out)
{
    double a[AUTO_M], e[AUTO_M];
    for (int j = 0; j < AUTO_M; j++)
        a[j] = -fabs(z[j]);
    auto_expneg4(a, e);
    for (int j = 0; j < AUTO_M; j++)
        z[j] = (z[j] >= 0 ? 1.0 : e[j]) / (1.0 + e[j]);
    if (e_out)
        memcpy(e_out, e, sizeof e);
}

/* Class probabilities (or values) of each copy from its raw scores, in place. */
static void auto_link(const linear *m, int K, double *z)
{
    if (m->loss == LOSS_LOGISTIC) {
        auto_sigmoid4(z, NULL);
    } else if (m->loss == LOSS_SOFTMAX) {
        for (int j = 0; j < AUTO_M; j++) {
            double mx = -INFINITY, sum = 0;
            for (int k = 0; k < K; k++)
                if (z[k * AUTO_M + j] > mx)
                    mx = z[k * AUTO_M + j];
            for (int k = 0; k < K; k++) {
                z[k * AUTO_M + j] = exp(z[k * AUTO_M + j] - mx);
                sum += z[k * AUTO_M + j];
            }
            for (int k = 0; k < K; k++)
                z[k * AUTO_M + j] /= sum;
        }
    }
}

/* Mixture weights of the copies from their discounted losses. */
static void auto_weights(const linear *m, double *pi)
{
    double mn = INFINITY, sum = 0;
    int best = 0;
    for (int j = 0; j < AUTO_M; j++)
        if (m->aloss[j] < mn) {
            mn = m->aloss[j];
            best = j;
        }
    if (m->loss == LOSS_SQUARED) {
        for (int j = 0; j < AUTO_M; j++)
            pi[j] = j == best ? 1.0 : 0.0;
        return;
    }
    for (int j = 0; j < AUTO_M; j++) {
        pi[j] = exp(-(m->aloss[j] - mn));
        sum += pi[j];
    }
    for (int j = 0; j < AUTO_M; j++)
        pi[j] /= sum;
}

static int auto_scratch(linear *m, size_t n)
{
    if (n > m->xs_cap) {
        size_t cap = n * 2;
        float *xs = realloc(m->xs, cap * sizeof *xs);
        if (!xs)
            return TIDE_ERR_NOMEM;
        m->xs = xs;
        m->xs_cap = cap;
    }
    return TIDE_OK;
}

#define AUTO_STACK 256

/* Adds one entry (bucket idx, value v, weight wt) to its bucket's sums and
 * refreshes the bucket's cached mean and 1/sd (inv_t = 1 / rows so far). A
 * bucket listed twice in a row ends with the record of its final sums. */
static inline void auto_stat_one(arec *c, double v, double wt, double inv_t)
{
    double mean, var;
    c->sum += wt * v;
    c->sumsq += wt * v * v;
    if (v != 1.0)
        c->kind = 2;
    else if (!c->kind)
        c->kind = 1;
    if (c->kind != 2)
        return;
    mean = c->sum * inv_t;
    var = c->sumsq * inv_t - mean * mean;
    c->hot[0] = (float)mean;
    c->hot[1] = (var > 1e-24 ? 1.0f / sqrtf((float)var) : 0.0f) - 1.0f;
}

/* Input statistics of the rows learned so far, updated with this row AFTER
 * its learning step: the step uses the scaling its prediction used, so a
 * progressive predict-then-learn needs one pass over the row (auto_step with
 * out != NULL), not two. */
static void auto_update_stats(linear *m, const tide_fvec *x, double wt)
{
    double inv_t = 1.0 / m->t;
    for (size_t i = 0; i < x->n; i++)
        auto_stat_one(AREC(m, x->f[i].idx), x->f[i].val, wt, inv_t);
}

/* Mixture of the copies' linked scores z into out (auto_predict's answer). */
static void auto_mix(const linear *m, int K, const double *z, double *out)
{
    if (m->loss == LOSS_LOGISTIC) {
        double p = 0;
        for (int j = 0; j < AUTO_M; j++)
            p += m->api[j] * z[j];
        out[0] = 1.0 - p;
        out[1] = p;
        return;
    }
    for (int k = 0; k < K; k++) {
        double v = 0;
        for (int j = 0; j < AUTO_M; j++)
            v += m->api[j] * z[k * AUTO_M + j];
        out[k] = v;
    }
}

static void auto_predict(const linear *m, const tide_fvec *x, double *out)
{
    int K = m->loss == LOSS_SOFTMAX ? m->base.n_classes : 1;
    double z_local[AUTO_STACK], q;
    double *z = (size_t)K * AUTO_M <= AUTO_STACK ? z_local : malloc((size_t)K * AUTO_M * sizeof *z);
    if (!z) {
        for (int k = 0; k < (m->loss == LOSS_SQUARED ? 1 : m->base.n_classes); k++)
            out[k] = m->loss == LOSS_SQUARED ? 0.0 : 1.0 / m->base.n_classes;
        return;
    }
    auto_scores(m, x, NULL, K, z, &q);
    auto_link(m, K, z);
    auto_mix(m, K, z, out);
    if (z != z_local)
        free(z);
}

/* The one-output scores of auto_step: scaling and the AUTO_M scores in one
 * pass, the same arithmetic as auto_scores (so the same bits as
 * auto_predict), plus the rule that a numeric bucket seen for the first time
 * enters as 0. Records are stride bytes apart (AREC1 when the model has one
 * output: a constant, so the address is a shift). */
static inline __attribute__((always_inline)) double
auto_scores1(const linear *m, const tide_fvec *x, size_t stride, float *restrict xs, double *z)
{
    const char *const base = m->rec;
    const tide_feat *const f = x->f;
    const size_t n = x->n;
    const float c = m->zclip, nc = -c;
    const int ic = m->intercept;
    double z0 = ic ? m->ab[0] : 0.0, z1 = ic ? m->ab[1] : 0.0, z2 = ic ? m->ab[2] : 0.0,
           z3 = ic ? m->ab[3] : 0.0, qq = ic ? 1.0 : 0.0;
    _Static_assert(AUTO_M == 4, "unrolled for 4 copies");
    for (size_t i = 0; i < n; i++) {
        const arec *r = (const arec *)(base + (size_t)f[i].idx * stride);
        const float val = f[i].val;
        float v;
        if (__builtin_expect(r->kind != 0, 1)) {
            /* auto_scale (c > 0: the bounds exclude each other; NaN passes) */
            v = (val - r->hot[0]) * (r->hot[1] + 1.0f);
            v = nc > v ? nc : v;
            v = c < v ? c : v;
        } else {
            /* an unseen bucket's record is all zeros: a 1 passes as 1 (c >= 1) */
            v = val == 1.0f ? 1.0f : 0.0f;
        }
        xs[i] = v;
        qq += (double)v * v;
        z0 += (double)r->hot[2] * v;
        z1 += (double)r->hot[3] * v;
        z2 += (double)r->hot[4] * v;
        z3 += (double)r->hot[5] * v;
    }
    z[0] = z0;
    z[1] = z1;
    z[2] = z2;
    z[3] = z3;
    return qq;
}

/* The one-output learning step (no l2): the weights of output 0 move by the
 * float steps s[j] * v, then the row's statistics (auto_stat_one's
 * arithmetic), in one pass over the records. */
static inline __attribute__((always_inline)) void
auto_update1(linear *m, const tide_fvec *x, size_t stride, const float *restrict xs,
             const double *z, double wt)
{
    char *const base = m->rec;
    const tide_feat *const f = x->f;
    const size_t n = x->n;
    const float s0 = (float)z[0], s1 = (float)z[1], s2 = (float)z[2], s3 = (float)z[3];
    const double inv_t = 1.0 / m->t;
    for (size_t i = 0; i < n; i++) {
        arec *r = (arec *)(base + (size_t)f[i].idx * stride);
        const float v = xs[i];
        const double val = f[i].val;
        uint32_t kind = r->kind;
        r->hot[2] += s0 * v;
        r->hot[3] += s1 * v;
        r->hot[4] += s2 * v;
        r->hot[5] += s3 * v;
        r->sum += wt * val;
        r->sumsq += wt * val * val;
        if (__builtin_expect(kind != 2, 0)) {
            /* 2 (numeric) once a value other than 1 is seen, else 1 */
            kind = val != 1.0 ? 2 : 1;
            r->kind = kind;
        }
        if (kind == 2) {
            const double mean = r->sum * inv_t, var = r->sumsq * inv_t - mean * mean;
            r->hot[0] = (float)mean;
            r->hot[1] = (var > 1e-24 ? 1.0f / sqrtf((float)var) : 0.0f) - 1.0f;
        }
    }
}

/* One learning step on (x, y, wt). With out != NULL, first writes there what
 * auto_predict would answer for x before the step (same arithmetic, so the
 * same bits): the scores of the prediction are the ones the step needs. */
/* Built twice, chosen at load time by the CPU (GCC function multiversioning):
 * with AVX2 the one-output loops run 4 doubles per instruction. No FMA in
 * the target, so no contraction: both builds give the same bits (checked:
 * identical --json metrics over the 1M-row synthetic stream; callgrind
 * -5 % instructions per row). */
__attribute__((target_clones("avx2", "default")))
static int auto_step(linear *m, const tide_fvec *x, double y, double wt, double *out)
{
    int K = m->loss == LOSS_SOFTMAX ? m->base.n_classes : 1, yc = (int)y;
    double z_local[AUTO_STACK], *z, q, qbar, margin[AUTO_M];
    double e[AUTO_M];
    if (K > m->k_alloc && lin_alloc_blocks(m, K))
        return TIDE_ERR_NOMEM;
    if (auto_scratch(m, x->n))
        return TIDE_ERR_NOMEM;
    z = (size_t)K * AUTO_M <= AUTO_STACK ? z_local : malloc((size_t)K * AUTO_M * sizeof *z);
    if (!z)
        return TIDE_ERR_NOMEM;
    m->t += wt;
    /* a numeric bucket seen for the first time has no spread yet: it enters
     * as 0 (its weight is 0, so the prediction is unchanged) */
    if (K == 1 && m->k_alloc == 1) {
        /* one output: a copy of auto_scores' one-output loop, inlined (going
         * through auto_scores measured 4-5 % slower on the in-memory Elec2
         * loop, A/B, same load) */
        q = auto_scores1(m, x, AREC1, m->xs, z);
    } else {
        for (size_t i = 0; i < x->n; i++) {
            uint32_t idx = x->f[i].idx;
            m->xs[i] = !AREC(m, idx)->kind && x->f[i].val != 1.0f
                           ? 0.0f
                           : auto_scale(m, idx, x->f[i].val);
        }
        double qk;   /* q's address is not taken: GCC kept it on the stack, a
                      * store-to-load chain through auto_scores1's loop */
        auto_scores(m, x, m->xs, K, z, &qk);
        q = qk;
    }
    /* q's last use, before any call: live across the libm calls below, GCC
     * kept it on the stack, a store-to-load chain through the loop above */
    m->qsum += wt * q;
    if (m->loss == LOSS_LOGISTIC) {
        /* auto_sigmoid and the log loss of the copies, in loops over the
         * copies (one vector in the AVX2 clone): the same operations on the
         * same values */
        double a[AUTO_M];
        for (int j = 0; j < AUTO_M; j++)
            margin[j] = y > 0.5 ? -z[j] : z[j];
        auto_sigmoid4(z, e);
        if (out)
            auto_mix(m, K, z, out);
        auto_log1p4(e, a);
        for (int j = 0; j < AUTO_M; j++) {
            double loss = a[j] + (margin[j] > 0 ? margin[j] : 0.0);
            if (!isfinite(loss))
                loss = 1e6;
            m->aloss[j] = m->aloss[j] * m->discount + wt * loss;
            z[j] = (z[j] - y) * wt;
        }
    } else {
        auto_link(m, K, z);
        if (out)
            auto_mix(m, K, z, out);
    }
    /* score each copy progressively, then turn z into gradients */
    for (int j = 0; j < AUTO_M && m->loss != LOSS_LOGISTIC; j++) {
        double loss;
        if (m->loss == LOSS_SQUARED) {
            double d = z[j] - y;
            loss = d * d;
            z[j] = d * wt;
        } else {
            double p = z[yc * AUTO_M + j];
            loss = -log(p > 1e-15 ? p : 1e-15);
            for (int k = 0; k < K; k++)
                z[k * AUTO_M + j] = (z[k * AUTO_M + j] - (k == yc ? 1.0 : 0.0)) * wt;
        }
        if (!isfinite(loss))
            loss = 1e6;
        m->aloss[j] = m->aloss[j] * m->discount + wt * loss;
    }
    if (auto_refresh_due(m))
        auto_weights(m, m->api);
    /* normalise by the mean squared norm of the rows so far, not the row's
     * own: a per-row 1/|x|^2 would reweight the examples and bias the fit */
    qbar = m->qsum / m->t;
    if (K == 1)
        for (int j = 0; j < AUTO_M; j++) {
            const double g = isfinite(z[j]) ? z[j] : 0.0;
            z[j] = -AUTO_LR[j] / qbar * g; /* step * gradient */
        }
    else for (int k = 0; k < K; k++)
        for (int j = 0; j < AUTO_M; j++) {
            double g = z[k * AUTO_M + j];
            if (!isfinite(g))
                z[k * AUTO_M + j] = 0;
            z[k * AUTO_M + j] = -AUTO_LR[j] / qbar * z[k * AUTO_M + j]; /* step * gradient */
        }
    if (K == 1 && !(m->l2 > 0)) {
        /* weights, then the row's statistics, in one pass (a softmax that
         * has seen one class has one output too, in wider records) */
        if (m->k_alloc == 1)
            auto_update1(m, x, AREC1, m->xs, z, wt);
        else
            auto_update1(m, x, m->rstride, m->xs, z, wt);
        if (m->intercept)
            for (int j = 0; j < AUTO_M; j++)
                m->ab[j] += z[j];
        goto done;
    } else for (size_t i = 0; i < x->n; i++) {
        const float v = m->xs[i];
        float *w = AREC(m, x->f[i].idx)->hot + 2;
        if (v != 0.0f)
            for (int k = 0; k < K; k++)
                for (int j = 0; j < AUTO_M; j++) {
                    double d = z[k * AUTO_M + j] * v;
                    if (m->l2 > 0)
                        d -= AUTO_LR[j] / qbar * m->l2 * w[k * AUTO_M + j];
                    w[k * AUTO_M + j] += (float)d;
                }
    }
    if (m->intercept)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < AUTO_M; j++)
                m->ab[k * AUTO_M + j] += z[k * AUTO_M + j];
    auto_update_stats(m, x, wt);
done:
    auto_set_clip(m);
    if (z != z_local)
        free(z);
    return TIDE_OK;
}


static int auto_bucket_used(const linear *m, size_t i)
{
    return AREC(m, i)->kind != 0;
}

static void lin_predict(const tide_learner *l, const tide_fvec *x, double *out)
{
    if (((const linear *)l)->opt == OPT_AUTO) {
        auto_predict((const linear *)l, x, out);
        return;
    }
    predict_scaled((const linear *)l, x, 0, out);
}

/* One coordinate update with gradient gi (already including x and l2). */
static inline void update_coord(linear *m, float *c, double gi, double step_norm, double s_i)
{
    switch (m->opt) {
    case OPT_NORM: {
        double G = c[1] + gi * gi;
        c[1] = (float)G;
        if (G > 0)
            c[0] -= (float)(step_norm * gi / (s_i * sqrt(G)));
        break;
    }
    case OPT_ADAGRAD: {
        double G = c[1] + gi * gi;
        c[1] = (float)G;
        c[0] -= (float)(m->lr * gi / (sqrt(G) + 1e-8));
        break;
    }
    case OPT_SGD:
        c[0] -= (float)(step_norm * gi);
        break;
    case OPT_FTRL: {
        double n = c[1], w = coord_w(m, c);
        double sigma = (sqrt(n + gi * gi) - sqrt(n)) / m->lr;
        c[0] += (float)(gi - sigma * w);
        c[1] = (float)(n + gi * gi);
        break;
    }
    }
}

static int lin_learn(tide_learner *l, const tide_fvec *x0, double y, double wt)
{
    linear *m = (linear *)l;
    const tide_fvec *x = x0;
    int K = m->loss == LOSS_SOFTMAX ? m->base.n_classes : 1;
    double probs_local[TIDE_MAX_CLASSES > 64 ? 64 : TIDE_MAX_CLASSES];
    double *probs = probs_local;
    double step = 0;
    int rc = TIDE_OK;

    if (!(wt > 0) || !isfinite(wt) || !isfinite(y))
        return TIDE_ERR_ARG;
    if (m->opt == OPT_AUTO)
        return auto_step(m, x0, y, wt, NULL);
    if (K > m->k_alloc && lin_alloc_blocks(m, K))
        return TIDE_ERR_NOMEM;
    if (m->scaler) {
        if (tide_scaler_learn_transform(m->scaler, x0, &m->scaled))
            return TIDE_ERR_NOMEM;
        x = &m->scaled;
    }
    m->t += wt;
    if (m->opt == OPT_NORM) {
        double sumsq = m->intercept ? 1.0 : 0.0;
        for (size_t i = 0; i < x->n; i++) {
            uint32_t idx = x->f[i].idx;
            double a = fabs(x->f[i].val), s = m->smax[idx];
            if (a > s) {
                if (s > 0) {
                    float r = (float)((s * s) / (a * a));
                    for (int k = 0; k < m->k_alloc; k++)
                        m->st[((size_t)k * m->nb + idx) * STRIDE] *= r;
                }
                m->smax[idx] = (float)a;
            }
        }
        for (size_t i = 0; i < x->n; i++) {
            double s = m->smax[x->f[i].idx];
            if (s > 0)
                sumsq += (double)x->f[i].val * x->f[i].val / (s * s);
        }
        m->N += wt * sumsq;
        step = m->N > 0 ? m->lr * sqrt(m->t / m->N) : 0;
    } else if (m->opt == OPT_SGD) {
        step = m->lr / pow(m->t, m->power_t);
    }

    if (K > 64) {
        probs = malloc((size_t)K * sizeof *probs);
        if (!probs)
            return TIDE_ERR_NOMEM;
    }
    predict_scaled(m, x, 1, probs);
    if (m->loss == LOSS_LOGISTIC)
        m->g[0] = (probs[1] - y) * wt;
    else if (m->loss == LOSS_SQUARED)
        m->g[0] = (probs[0] - y) * wt;
    else
        for (int k = 0; k < K; k++)
            m->g[k] = (probs[k] - (k == (int)y ? 1.0 : 0.0)) * wt;

    for (int k = 0; k < K; k++) {
        double g = m->g[k];
        float *blk = m->st + (size_t)k * m->nb * STRIDE;
        if (g == 0.0 || !isfinite(g))
            continue;
        for (size_t i = 0; i < x->n; i++) {
            const tide_feat *f = &x->f[i];
            float *c = blk + (size_t)f->idx * STRIDE;
            double gi = g * f->val;
            if (m->l2 > 0 && m->opt != OPT_FTRL) /* FTRL applies l2 in its closed form */
                gi += m->l2 * c[0];
            if (gi != 0.0)
                update_coord(m, c, gi, step, m->opt == OPT_NORM ? m->smax[f->idx] : 1.0);
        }
        if (m->intercept) {
            double *b = m->bias + 2 * k;
            switch (m->opt) {
            case OPT_NORM:
                b[1] += g * g;
                b[0] -= step * g / sqrt(b[1]);
                break;
            case OPT_ADAGRAD:
                b[1] += g * g;
                b[0] -= m->lr * g / (sqrt(b[1]) + 1e-8);
                break;
            case OPT_SGD:
                b[0] -= step * g;
                break;
            case OPT_FTRL: {
                double w = bias_w(m, k), sigma = (sqrt(b[1] + g * g) - sqrt(b[1])) / m->lr;
                b[0] += g - sigma * w;
                b[1] += g * g;
                break;
            }
            }
        }
    }
    if (probs != probs_local)
        free(probs);
    return rc;
}

/* Sizes (in elements) of the arrays a learner owns. */
static size_t st_len(const linear *m)
{
    return m->opt == OPT_AUTO ? (size_t)m->k_alloc : (size_t)m->k_alloc * m->nb * STRIDE;
}
static size_t smax_len(const linear *m) { return m->opt == OPT_AUTO ? 1 : m->nb; }

static void *dup_array(const void *p, size_t bytes)
{
    void *c = malloc(bytes ? bytes : 1);
    if (c && bytes)
        memcpy(c, p, bytes);
    return c;
}

static int lin_clone(const tide_learner *l, tide_learner **out, tide_err *err)
{
    const linear *m = (const linear *)l;
    linear *c = calloc(1, sizeof *c);
    int bad;
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    *c = *m;
    c->scaler = NULL;
    c->xs = NULL;
    c->xs_cap = 0;
    tide_fvec_init(&c->scaled);
    c->st = dup_array(m->st, st_len(m) * sizeof *m->st);
    c->smax = dup_array(m->smax, smax_len(m) * sizeof *m->smax);
    c->bias = dup_array(m->bias, (size_t)m->k_alloc * 2 * sizeof *m->bias);
    c->g = dup_array(m->g, (size_t)m->k_alloc * AUTO_M * sizeof *m->g);
    bad = !c->st || !c->smax || !c->bias || !c->g;
    if (m->opt == OPT_AUTO) {
        c->rec_mem = malloc(m->nb * m->rstride + 64);
        c->rec = c->rec_mem ? (char *)(((uintptr_t)c->rec_mem + 63) & ~(uintptr_t)63) : NULL;
        if (c->rec)
            memcpy(c->rec, m->rec, m->nb * m->rstride);
        c->ab = dup_array(m->ab, (size_t)m->k_alloc * AUTO_M * sizeof *m->ab);
        bad = bad || !c->rec || !c->ab;
    }
    if (bad || (m->scaler && tide_scaler_clone(m->scaler, &c->scaler))) {
        lin_destroy(&c->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    }
    *out = &c->base;
    return TIDE_OK;
}

/* State: t, N, k_alloc, bias[k_alloc*2], count of used buckets, then per
 * bucket: idx, smax, k_alloc*STRIDE floats; then the scaler if any.
 * auto: t, k_alloc, aloss[AUTO_M], intercepts, count of used buckets, then
 * per bucket: idx, kind, sum, sumsq, k_alloc*AUTO_M floats. */
static int bucket_used(const linear *m, size_t idx)
{
    if (m->smax[idx] != 0)
        return 1;
    for (int k = 0; k < m->k_alloc; k++) {
        const float *c = m->st + ((size_t)k * m->nb + idx) * STRIDE;
        if (c[0] != 0 || c[1] != 0)
            return 1;
    }
    return 0;
}

static int auto_save(const linear *m, tide_wbuf *b)
{
    size_t per = HOT(m->k_alloc);
    uint64_t used = 0;
    tide_wbuf_f64(b, m->t);
    tide_wbuf_f64(b, m->qsum);
    tide_wbuf_u32(b, (uint32_t)m->k_alloc);
    tide_wbuf_f64s(b, m->aloss, AUTO_M);
    tide_wbuf_f64s(b, m->api, AUTO_M);
    tide_wbuf_f64s(b, m->ab, (size_t)m->k_alloc * AUTO_M);
    for (size_t i = 0; i < m->nb; i++)
        used += (uint64_t)auto_bucket_used(m, i);
    tide_wbuf_u64(b, used);
    for (size_t i = 0; i < m->nb; i++) {
        if (!auto_bucket_used(m, i))
            continue;
        const arec *c = AREC(m, i);
        tide_wbuf_u32(b, (uint32_t)i);
        tide_wbuf_u8(b, (uint8_t)c->kind);
        tide_wbuf_f64(b, c->sum);
        tide_wbuf_f64(b, c->sumsq);
        tide_wbuf_f32s(b, c->hot, per);
    }
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

/* State version 2 ran five copies, lr {0.01, 0.03, 0.1, 0.3, 1}; version 3
 * dropped the 0.03 copy (measured equal or better on every stream in
 * ../shared/data, docs/DESIGN.md). A version-2 state loads as the four
 * copies it shares with version 3, each copy's weights, intercepts and
 * discounted loss unchanged; the mixture weights are recomputed from the
 * losses, as the next refresh (auto_refresh_due) would. The copies never
 * interact while learning, so the result is the model this build would have
 * trained on the same rows, up to the rounding of the copies' exp and log,
 * and exactly when the state was saved right after a refresh (the first 256
 * rows, then every 8th): otherwise the loaded mixture is the one the next
 * refresh, at most 7 rows later, would have computed (between refreshes
 * the mixture lags the losses). test_linear_v2_state_exact and
 * test_linear_v2_state_loads. */
#define AUTO_M_V2 5
static const int AUTO_FROM_V2[AUTO_M] = {0, 2, 3, 4};

/* saved copies -> copies: ms saved per output, copy j from saved from[j] */
static int auto_load_as(linear *m, tide_rbuf *r, int ms, const int *from, tide_err *err)
{
    uint32_t k;
    uint64_t used;
    size_t per, sper;
    double tmp[AUTO_M_V2 > AUTO_M ? AUTO_M_V2 : AUTO_M];
    int to[AUTO_M_V2 > AUTO_M ? AUTO_M_V2 : AUTO_M];   /* saved copy -> copy, or -1 */
    for (int j = 0; j < ms; j++)
        to[j] = -1;
    for (int j = 0; j < AUTO_M; j++)
        to[from[j]] = j;
    m->t = tide_rbuf_f64(r);
    m->qsum = tide_rbuf_f64(r);
    k = tide_rbuf_u32(r);
    if (r->bad || k < 1 || k > TIDE_MAX_CLASSES || (m->loss != LOSS_SOFTMAX && k != 1) ||
        !(m->t >= 0) || !(m->qsum >= 0))
        return tide_err_set(err, TIDE_ERR_FORMAT, "linear state header is corrupt");
    if (!tide_rbuf_has(r, 2 * (size_t)ms * 8 + (size_t)k * ms * 8))
        return tide_err_set(err, TIDE_ERR_FORMAT, "linear state is truncated");
    if (lin_alloc_blocks(m, (int)k))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    per = HOT(k);
    sper = 2 + (size_t)k * ms;
    tide_rbuf_f64s(r, tmp, (size_t)ms);
    for (int j = 0; j < AUTO_M; j++)
        m->aloss[j] = tmp[from[j]];
    tide_rbuf_f64s(r, tmp, (size_t)ms);
    if (ms == AUTO_M)
        memcpy(m->api, tmp, sizeof m->api);
    else
        auto_weights(m, m->api);
    for (uint32_t c = 0; c < k; c++) {
        tide_rbuf_f64s(r, tmp, (size_t)ms);
        for (int j = 0; j < AUTO_M; j++)
            m->ab[c * AUTO_M + j] = tmp[from[j]];
    }
    used = tide_rbuf_u64(r);
    if (r->bad || used > m->nb || !tide_rbuf_has(r, used * (21 + sper * 4)))
        return tide_err_set(err, TIDE_ERR_FORMAT, "linear state is truncated or corrupt");
    for (uint64_t j = 0; j < used; j++) {
        uint32_t i = tide_rbuf_u32(r);
        uint8_t kind = tide_rbuf_u8(r);
        if (i >= m->nb || kind < 1 || kind > 2)
            return tide_err_set(err, TIDE_ERR_FORMAT, "linear state: bad bucket record %u", i);
        arec *c = AREC(m, i);
        c->kind = kind;
        c->sum = tide_rbuf_f64(r);
        c->sumsq = tide_rbuf_f64(r);
        if (ms == AUTO_M) {
            tide_rbuf_f32s(r, c->hot, per);
            continue;
        }
        tide_rbuf_f32s(r, c->hot, 2);
        for (uint32_t o = 0; o < k; o++)
            for (int js = 0; js < ms; js++) {
                const float w = tide_rbuf_f32(r);
                if (to[js] >= 0)
                    c->hot[2 + o * AUTO_M + (uint32_t)to[js]] = w;
            }
    }
    auto_set_clip(m);
    return r->bad ? tide_err_set(err, TIDE_ERR_FORMAT, "linear state is truncated") : TIDE_OK;
}

static int auto_load(linear *m, tide_rbuf *r, tide_err *err)
{
    static const int same[AUTO_M] = {0, 1, 2, 3};
    return auto_load_as(m, r, AUTO_M, same, err);
}

static int lin_save(const tide_learner *l, tide_wbuf *b)
{
    const linear *m = (const linear *)l;
    uint64_t used = 0;
    if (m->opt == OPT_AUTO)
        return auto_save(m, b);
    tide_wbuf_f64(b, m->t);
    tide_wbuf_f64(b, m->N);
    tide_wbuf_u32(b, (uint32_t)m->k_alloc);
    tide_wbuf_f64s(b, m->bias, (size_t)m->k_alloc * 2);
    for (size_t i = 0; i < m->nb; i++)
        used += (uint64_t)bucket_used(m, i);
    tide_wbuf_u64(b, used);
    for (size_t i = 0; i < m->nb; i++) {
        if (!bucket_used(m, i))
            continue;
        tide_wbuf_u32(b, (uint32_t)i);
        tide_wbuf_f32(b, m->smax[i]);
        for (int k = 0; k < m->k_alloc; k++)
            tide_wbuf_f32s(b, m->st + ((size_t)k * m->nb + i) * STRIDE, STRIDE);
    }
    if (m->scaler)
        tide_scaler_save(m->scaler, b);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

/* The state of the other optimizers (the same layout in versions 2 and 3). */
static int lin_load_plain(linear *m, tide_rbuf *r, tide_err *err)
{
    uint32_t k;
    uint64_t used;
    m->t = tide_rbuf_f64(r);
    m->N = tide_rbuf_f64(r);
    k = tide_rbuf_u32(r);
    if (r->bad || k < 1 || k > TIDE_MAX_CLASSES || (m->loss != LOSS_SOFTMAX && k != 1) ||
        !(m->t >= 0) || !(m->N >= 0))
        return tide_err_set(err, TIDE_ERR_FORMAT, "linear state header is corrupt");
    if (!tide_rbuf_has(r, (size_t)k * 16))
        return tide_err_set(err, TIDE_ERR_FORMAT, "linear state is truncated");
    if (lin_alloc_blocks(m, (int)k))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    tide_rbuf_f64s(r, m->bias, (size_t)k * 2);
    used = tide_rbuf_u64(r);
    if (r->bad || used > m->nb || !tide_rbuf_has(r, used * (8 + (uint64_t)k * STRIDE * 4)))
        return tide_err_set(err, TIDE_ERR_FORMAT, "linear state is truncated or corrupt");
    for (uint64_t j = 0; j < used; j++) {
        uint32_t i = tide_rbuf_u32(r);
        if (i >= m->nb)
            return tide_err_set(err, TIDE_ERR_FORMAT, "linear state: bucket %u out of range", i);
        m->smax[i] = tide_rbuf_f32(r);
        for (uint32_t c = 0; c < k; c++)
            tide_rbuf_f32s(r, m->st + ((size_t)c * m->nb + i) * STRIDE, STRIDE);
    }
    if (m->scaler) {
        int rc = tide_scaler_load(m->scaler, r, err);
        if (rc)
            return rc;
    }
    auto_set_clip(m);
    return r->bad ? tide_err_set(err, TIDE_ERR_FORMAT, "linear state is truncated") : TIDE_OK;
}

static int lin_load(tide_learner *l, tide_rbuf *r, tide_err *err)
{
    linear *m = (linear *)l;
    return m->opt == OPT_AUTO ? auto_load(m, r, err) : lin_load_plain(m, r, err);
}

/* Version 2: auto ran five copies (AUTO_FROM_V2); the rest is unchanged. */
static int lin_load_old(tide_learner *l, tide_rbuf *r, uint32_t version, tide_err *err)
{
    linear *m = (linear *)l;
    (void)version; /* min_state_version = 2: version is 2 */
    return m->opt == OPT_AUTO ? auto_load_as(m, r, AUTO_M_V2, AUTO_FROM_V2, err)
                              : lin_load_plain(m, r, err);
}

static size_t lin_memory(const tide_learner *l)
{
    const linear *m = (const linear *)l;
    size_t s = sizeof *m + st_len(m) * sizeof(float) + smax_len(m) * sizeof(float) +
               (size_t)m->k_alloc * (2 + AUTO_M) * sizeof(double) +
               m->scaled.cap * sizeof(tide_feat) + m->xs_cap * sizeof(float);
    if (m->opt == OPT_AUTO)
        s += m->nb * m->rstride + 64 + (size_t)m->k_alloc * AUTO_M * sizeof(double);
    if (m->scaler)
        s += tide_scaler_memory(m->scaler);
    return s;
}

/* The progressive step: the auto optimizer's step already computes the
 * prediction (one pass over the row instead of two); the others predict,
 * then learn. */
static int lin_learn_predict(tide_learner *l, const tide_fvec *x, double y, double wt,
                             double *out)
{
    linear *m = (linear *)l;
    if (m->opt == OPT_AUTO && wt > 0 && isfinite(wt) && isfinite(y))
        return auto_step(m, x, y, wt, out);
    lin_predict(l, x, out);
    return lin_learn(l, x, y, wt);
}

const tide_learner_vt tide_logistic_vt = {
    "logistic", TIDE_TASK_BINARY,
    "logistic regression on hashed features (binary); default update: standardised, normalised, step size chosen online",
    LINEAR_PARAMS, N_LINEAR_PARAMS, logistic_create, lin_destroy, lin_learn, lin_predict,
    lin_clone, lin_save, lin_load, lin_memory, NULL, 3, lin_learn_predict, 2, lin_load_old,
};

const tide_learner_vt tide_softmax_vt = {
    "softmax", TIDE_TASK_MULTICLASS,
    "softmax (multinomial logistic) regression, one weight vector per class",
    LINEAR_PARAMS, N_LINEAR_PARAMS, softmax_create, lin_destroy, lin_learn, lin_predict,
    lin_clone, lin_save, lin_load, lin_memory, NULL, 3, lin_learn_predict, 2, lin_load_old,
};

const tide_learner_vt tide_linreg_vt = {
    "linear", TIDE_TASK_REGRESSION, "least-squares linear regression (squared loss)",
    LINEAR_PARAMS, N_LINEAR_PARAMS, linreg_create, lin_destroy, lin_learn, lin_predict,
    lin_clone, lin_save, lin_load, lin_memory, NULL, 3, lin_learn_predict, 2, lin_load_old,
};
