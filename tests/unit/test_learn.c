/* test_learn.c — learners and models (src/learn/linear.c, gnb.c, labels.c,
 * model.c, registry.c).
 *
 * Every expected number is worked out by hand (arithmetic in the comments)
 * or from the update rules cited in linear.c's header: plain SGD, AdaGrad
 * (Duchi et al. 2011), FTRL-Proximal (McMahan et al. 2013, Algorithm 1);
 * Gaussian naive Bayes with unbiased variances and Laplace-smoothed counts.
 * Weights are read back through predictions: with the logistic link,
 * logit(predict({i: 1})) - logit(predict({})) = w_i, and predict({}) gives
 * the intercept. The gradient is checked by finite differences of the log
 * loss computed by the learner's own predictions. */
#include "testutil.h"
#include "tide/io.h"
#include "tide/learn.h"
#include "learn/learners.h"   /* tide_linear_expneg, tide_linear_log1p01 */

#include <dirent.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

typedef struct vec {
    tide_feat f[16];
    tide_fvec v;
} vec;

/* vec of (idx, val) pairs; n pairs */
static vec mkvec(int n, const uint32_t *idx, const double *val)
{
    vec x;
    memset(&x, 0, sizeof x);
    for (int i = 0; i < n; i++) {
        x.f[i].idx = idx[i];
        x.f[i].val = (float)val[i];
    }
    x.v.f = x.f;
    x.v.n = x.v.cap = (size_t)n;
    return x;
}

/* The fvec of a vec must point into the vec itself (vecs are returned by value). */
#define V(x) (((x).v.f = (x).f), &(x).v)

static vec vec1(uint32_t idx, double val) { return mkvec(1, &idx, &val); }
static vec vec0(void) { return mkvec(0, NULL, NULL); }

static tide_learner *mk(const char *name, const char **kv, size_t n, int bits)
{
    tide_learner *l = NULL;
    tide_err e;
    tide_err_clear(&e);
    int rc = tide_learner_new(name, kv, n, bits, &l, &e);
    if (rc)
        fail_msg("%s: %s", name, e.msg);
    return l;
}

static void learn(tide_learner *l, vec x, double y)
{
    int rc = tide_learner_learn(l, V(x), y, 1.0);
    if (rc)
        fail_msg("learn_one: %s", tide_strerror(rc));
}

static void pred(const tide_learner *l, vec x, double *out)
{
    tide_learner_predict(l, V(x), out);
}

static int learn_rc(tide_learner *l, vec x, double y, double w)
{
    return tide_learner_learn(l, V(x), y, w);
}

static double p1(const tide_learner *l, vec x)
{
    double out[TIDE_MAX_CLASSES];
    tide_learner_predict(l, V(x), out);
    return out[1];
}

static double value(const tide_learner *l, vec x)
{
    double out[TIDE_MAX_CLASSES];
    tide_learner_predict(l, V(x), out);
    return out[0];
}

static double logit(double p) { return log(p / (1 - p)); }
static double sigm(double z) { return 1 / (1 + exp(-z)); }

/* Logistic weights read back through predictions. */
static double bias_of(const tide_learner *l) { return logit(p1(l, vec0())); }
static double weight_of(const tide_learner *l, uint32_t i)
{
    return logit(p1(l, vec1(i, 1))) - bias_of(l);
}

/* x = {3: 1, 7: 2}, the example of the hand computations */
static vec ex37(void)
{
    static const uint32_t idx[2] = {3, 7};
    static const double val[2] = {1, 2};
    return mkvec(2, idx, val);
}

/* ---- SGD / AdaGrad / FTRL hand computations --------------------------- */

static void test_sgd_logistic_steps(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=sgd", "power_t=0", "lr=0.1", "scale=false"};
    tide_learner *l = mk("logistic", kv, 4, 10);
    double out[2];
    pred(l, ex37(), out);
    /* zero weights: p0 = sigmoid(0) = 0.5 */
    assert_true(out[0] == 0.5 && out[1] == 0.5);
    assert_int_equal(tide_learner_classes(l), 2);
    /* step 1, y = 1: g = p - y = -0.5, step = lr / t^0 = 0.1
     * w3 = 0 - 0.1 * (-0.5) * 1 = 0.05, w7 = -0.1 * (-0.5) * 2 = 0.1, b = 0.05 */
    learn(l, ex37(), 1);
    assert_near(bias_of(l), 0.05, 1e-7);
    assert_near(weight_of(l, 3), 0.05, 1e-7);
    assert_near(weight_of(l, 7), 0.1, 1e-7);
    assert_near(weight_of(l, 5), 0.0, 1e-7); /* untouched bucket */
    /* predict after the step: z = 0.05*1 + 0.1*2 + 0.05 = 0.3, p = 0.574442516811659 */
    assert_near(p1(l, ex37()), 0.574442516811659, 1e-7);
    /* step 2, y = 0: g = 0.574442516811659
     * w3 = 0.05 - 0.1 * 0.5744425 = -0.00744425168, w7 = 0.1 - 0.2 * 0.5744425 = -0.0148885034,
     * b = -0.00744425168 */
    learn(l, ex37(), 0);
    assert_near(bias_of(l), 0.05 - 0.0574442516811659, 1e-7);
    assert_near(weight_of(l, 3), 0.05 - 0.0574442516811659, 1e-7);
    assert_near(weight_of(l, 7), 0.1 - 2 * 0.0574442516811659, 1e-7);
    tide_learner_free(l);
}

static void test_sgd_power_t_and_l2(void **st)
{
    (void)st;
    /* power_t = 0.5: step_t = lr / sqrt(t); l2 adds l2 * w to each weight's
     * gradient (not to the intercept). Squared loss so values are linear. */
    const char *kv[] = {"optimizer=sgd", "power_t=0.5", "lr=0.1", "l2=0.5"};
    tide_learner *l = mk("linear", kv, 4, 10);
    /* step 1: x = {1: 2}, y = 3, yhat = 0, g = -3, step = 0.1:
     * w1 = 0 - 0.1 * (-3 * 2 + 0.5 * 0) = 0.6, b = 0.3 */
    learn(l, vec1(1, 2), 3);
    assert_near(value(l, vec0()), 0.3, 1e-7);
    assert_near(value(l, vec1(1, 1)) - 0.3, 0.6, 1e-7);
    /* predict x: 0.6 * 2 + 0.3 = 1.5 */
    assert_near(value(l, vec1(1, 2)), 1.5, 1e-6);
    /* step 2: same x, y = 3: g = 1.5 - 3 = -1.5, step = 0.1/sqrt(2) = 0.0707106781
     * w1 = 0.6 - 0.0707106781 * (-1.5 * 2 + 0.5 * 0.6) = 0.6 + 0.0707106781 * 2.7 = 0.790918831
     * b = 0.3 + 0.0707106781 * 1.5 = 0.406066017 */
    learn(l, vec1(1, 2), 3);
    assert_near(value(l, vec0()), 0.3 + 1.5 * 0.1 / sqrt(2.0), 1e-6);
    assert_near(value(l, vec1(1, 1)) - value(l, vec0()), 0.6 + 2.7 * 0.1 / sqrt(2.0), 1e-6);
    tide_learner_free(l);
}

static void test_adagrad_steps(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=adagrad", "lr=0.5"};
    tide_learner *l = mk("logistic", kv, 2, 10);
    double w3, w7, b, p, eps = 1e-8;
    /* step 1, y = 1, g = -0.5:
     * coord 3: gi = -0.5, G = 0.25, w3 = 0.5 * 0.5 / (0.5 + 1e-8) = 0.49999999
     * coord 7: gi = -1,   G = 1,    w7 = 0.5 * 1 / (1 + 1e-8)     = 0.499999995
     * bias:    g = -0.5,  G = 0.25, b  = 0.49999999 */
    learn(l, ex37(), 1);
    w3 = 0.5 * 0.5 / (0.5 + eps);
    w7 = 0.5 * 1.0 / (1.0 + eps);
    b = w3;
    assert_near(bias_of(l), b, 1e-6);
    assert_near(weight_of(l, 3), w3, 1e-6);
    assert_near(weight_of(l, 7), w7, 1e-6);
    /* z = 0.5 + 2 * 0.5 + 0.5 = 2, p = sigmoid(2) = 0.880797077977882 */
    p = sigm(w3 + 2 * w7 + b);
    assert_near(p1(l, ex37()), 0.880797077977882, 1e-6);
    /* step 2, y = 0, g = p = 0.8807970780:
     * w3 = w3 - 0.5 * p / (sqrt(0.25 + p^2) + 1e-8) = 0.5 - 0.440399 / 1.012818 = 0.0651757
     * w7 = w7 - 0.5 * 2p / (sqrt(1 + 4 p^2) + 1e-8) = 0.5 - 0.880797 / 2.025636 = 0.0651757
     * b  = like w3 */
    learn(l, ex37(), 0);
    assert_near(weight_of(l, 3), w3 - 0.5 * p / (sqrt(0.25 + p * p) + eps), 1e-6);
    assert_near(weight_of(l, 7), w7 - 0.5 * 2 * p / (sqrt(1 + 4 * p * p) + eps), 1e-6);
    assert_near(bias_of(l), b - 0.5 * p / (sqrt(0.25 + p * p) + eps), 1e-6);
    assert_near(weight_of(l, 3), 0.0651757, 1e-6);
    tide_learner_free(l);
}

/* FTRL-Proximal weight from (z, n): 0 if |z| <= l1, else
 * -(z - sgn(z) l1) / ((beta + sqrt(n)) / alpha + l2). */
static double ftrl_w(double z, double n, double alpha, double beta, double l1, double l2)
{
    if (fabs(z) <= l1)
        return 0;
    return -(z - copysign(l1, z)) / ((beta + sqrt(n)) / alpha + l2);
}

static void test_ftrl_steps(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=ftrl", "lr=0.5", "beta=1"};
    tide_learner *l = mk("logistic", kv, 3, 10);
    const double a = 0.5, be = 1;
    double z3, n3, z7, n7, zb, nb, w3, w7, wb, p, s;
    /* step 1 from z = n = 0, y = 1, g = -0.5:
     * coord 3: gi = -0.5: sigma = (sqrt(0.25) - 0)/0.5 = 1, z3 = -0.5 - 1*0 = -0.5, n3 = 0.25
     * coord 7: gi = -1:   sigma = 1/0.5 = 2,               z7 = -1,             n7 = 1
     * bias:    g = -0.5:  zb = -0.5, nb = 0.25
     * w3 = 0.5 / ((1 + 0.5)/0.5) = 1/6, w7 = 1 / ((1 + 1)/0.5) = 1/4, b = 1/6 */
    learn(l, ex37(), 1);
    assert_near(weight_of(l, 3), 1.0 / 6, 1e-6);
    assert_near(weight_of(l, 7), 1.0 / 4, 1e-6);
    assert_near(bias_of(l), 1.0 / 6, 1e-6);
    /* z = 1/6 + 2/4 + 1/6 = 5/6 */
    assert_near(p1(l, ex37()), sigm(5.0 / 6), 1e-6);
    /* step 2, y = 0, g = p = sigmoid(5/6) = 0.697059 */
    z3 = -0.5, n3 = 0.25, z7 = -1, n7 = 1, zb = -0.5, nb = 0.25;
    w3 = 1.0 / 6, w7 = 0.25, wb = 1.0 / 6;
    p = sigm(5.0 / 6);
    s = (sqrt(n3 + p * p) - sqrt(n3)) / a;
    z3 += p - s * w3;
    n3 += p * p;
    s = (sqrt(n7 + 4 * p * p) - sqrt(n7)) / a;
    z7 += 2 * p - s * w7;
    n7 += 4 * p * p;
    s = (sqrt(nb + p * p) - sqrt(nb)) / a;
    zb += p - s * wb;
    nb += p * p;
    learn(l, ex37(), 0);
    assert_near(weight_of(l, 3), ftrl_w(z3, n3, a, be, 0, 0), 1e-6);
    assert_near(weight_of(l, 7), ftrl_w(z7, n7, a, be, 0, 0), 1e-6);
    assert_near(bias_of(l), ftrl_w(zb, nb, a, be, 0, 0), 1e-6);
    tide_learner_free(l);
}

static void test_ftrl_l1_l2(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=ftrl", "lr=0.5", "beta=1", "l1=0.6", "l2=1"};
    tide_learner *l = mk("logistic", kv, 5, 10);
    /* after step 1 (y = 1): z3 = -0.5, z7 = -1, zb = -0.5 (as in test_ftrl_steps)
     * |z3| = 0.5 <= l1 = 0.6 -> w3 = 0 exactly
     * w7 = -(-1 + 0.6) / ((1 + 1)/0.5 + 1) = 0.4 / 5 = 0.08
     * the intercept is unregularised: b = 0.5 / ((1 + 0.5)/0.5) = 1/6 */
    learn(l, ex37(), 1);
    assert_true(p1(l, vec1(3, 1)) == p1(l, vec0())); /* w3 is exactly zero */
    assert_near(weight_of(l, 7), 0.08, 1e-6);
    assert_near(bias_of(l), 1.0 / 6, 1e-6);
    tide_learner_free(l);
}

/* NAG (Ross, Mineiro & Langford 2013, Algorithm 2): s_i = max |x_i|,
 * N += sum_i x_i^2 / s_i^2 (+1 for the intercept), step = lr sqrt(t / N),
 * w_i -= step g_i / (s_i sqrt(G_i)), and w_i *= s_i^2 / x_i^2 when a larger
 * |x_i| arrives. */
static void test_nag_steps(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=nag", "lr=0.5"};
    tide_learner *l = mk("logistic", kv, 2, 10);
    double step, w7, b, p, g7, G7, Gb;
    /* step 1, x = {3: 1, 7: 2}, y = 1, g = -0.5: s3 = 1, s7 = 2,
     * N = 1 + 1/1 + 4/4 = 3, step = 0.5 sqrt(1/3) = 0.288675
     * w3 = step * 0.5 / (1 * sqrt(0.25)) = step, w7 = step * 1 / (2 * sqrt(1)) = step/2,
     * b = step * 0.5 / sqrt(0.25) = step: each input contributes the same, scale-free */
    learn(l, ex37(), 1);
    step = 0.5 * sqrt(1.0 / 3);
    assert_near(weight_of(l, 3), step, 1e-6);
    assert_near(weight_of(l, 7), step / 2, 1e-6);
    assert_near(bias_of(l), step, 1e-6);
    /* step 2, x = {7: 4}, y = 0: |4| > s7 = 2 -> w7 *= 2^2/4^2 = 1/4 = 0.0360844 first;
     * t = 2, N = 3 + 1 + 16/16 = 5, step = 0.5 sqrt(2/5) = 0.316228
     * p = sigmoid(b + 4 w7) = sigmoid(0.288675 + 0.144338) = 0.606594, g = p
     * g7 = 4p, G7 = 1 + g7^2, w7 -= step g7 / (4 sqrt(G7)) -> -0.037008
     * Gb = 0.25 + p^2, b -= step p / sqrt(Gb) -> 0.044659 */
    learn(l, vec1(7, 4), 0);
    w7 = step / 2 / 4;
    b = step;
    p = sigm(b + 4 * w7);
    step = 0.5 * sqrt(2.0 / 5);
    g7 = 4 * p;
    G7 = 1 + g7 * g7;
    Gb = 0.25 + p * p;
    w7 -= step * g7 / (4 * sqrt(G7));
    b -= step * p / sqrt(Gb);
    assert_near(weight_of(l, 7), w7, 1e-6);
    assert_near(bias_of(l), b, 1e-6);
    assert_near(weight_of(l, 7), -0.037008, 1e-5);
    assert_near(bias_of(l), 0.044659, 1e-5);
    assert_near(weight_of(l, 3), 0.5 * sqrt(1.0 / 3), 1e-6); /* not in the row: unchanged */
    tide_learner_free(l);
}

/* ---- gradient check by finite differences ---------------------------- */

/* Loss at w + h e_i is read through an extra bucket K whose weight is exactly
 * 1 (one SGD step from 0 with lr = 2, y = 1, no intercept: w_K = -2 * (0.5 - 1)
 * * 1 = 1): predict(x + {K: h x_i}) = sigmoid(w.x + h x_i). The learner's own
 * step, measured through predictions, must be -lr times that derivative. */
static void test_gradient_finite_difference(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=sgd", "power_t=0", "lr=2", "intercept=false"};
    const uint32_t K = 100;
    tide_learner *l = mk("logistic", kv, 4, 10), *c;
    tide_err e;
    uint64_t seed = 42;
    static const uint32_t xi[3] = {1, 2, 3};
    static const double xv[3] = {0.7, -1.3, 0.4};
    learn(l, vec1(K, 1), 1);
    assert_near(logit(p1(l, vec1(K, 1))), 1.0, 1e-12);
    /* a generic state on buckets 1..4 */
    for (int r = 0; r < 20; r++) {
        uint32_t idx[4] = {1, 2, 3, 4};
        double val[4];
        for (int j = 0; j < 4; j++)
            val[j] = tide_test_uniform(&seed) - 0.5;
        learn(l, mkvec(4, idx, val), tide_test_uniform(&seed) < 0.5);
    }
    for (int y = 0; y <= 1; y++) {
        double before[3], after[3];
        for (int i = 0; i < 3; i++)
            before[i] = logit(p1(l, vec1(xi[i], 1)));
        assert_int_equal(tide_learner_clone(l, &c, &e), TIDE_OK);
        learn(c, mkvec(3, xi, xv), y);
        for (int i = 0; i < 3; i++)
            after[i] = logit(p1(c, vec1(xi[i], 1)));
        for (int i = 0; i < 3; i++) {
            const double h = 1e-4;
            uint32_t idx[4] = {1, 2, 3, K};
            double val[4] = {xv[0], xv[1], xv[2], h * xv[i]}, lp, lm, num, step;
            double pp = p1(l, mkvec(4, idx, val));
            val[3] = -h * xv[i];
            double pm = p1(l, mkvec(4, idx, val));
            /* log loss: -log p if y = 1, -log(1 - p) if y = 0 */
            lp = y ? -log(pp) : -log(1 - pp);
            lm = y ? -log(pm) : -log(1 - pm);
            num = (lp - lm) / (2 * h);
            step = after[i] - before[i];
            if (fabs(step - (-2 * num)) > 1e-4 * (1 + fabs(step)))
                fail_msg("y=%d coord %d: step %.9g, -lr * dL/dw (finite diff) %.9g", y, i, step,
                         -2 * num);
        }
        tide_learner_free(c);
    }
    tide_learner_free(l);
}

/* ---- softmax ----------------------------------------------------------- */

static void test_softmax_grows_classes(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=sgd", "power_t=0", "lr=1"};
    tide_learner *l = mk("softmax", kv, 3, 10);
    double out[TIDE_MAX_CLASSES], sum = 0;
    assert_int_equal(tide_learner_classes(l), 2);
    /* the first label is class 5 -> 6 classes; one SGD step from zero:
     * p_k = 1/6, g_5 = 1/6 - 1 = -5/6, g_k = 1/6 (k != 5); x = {1: 1}, lr = 1:
     * w_5 = b_5 = 5/6, w_k = b_k = -1/6; on x: z_5 = 5/3, z_k = -1/3
     * p_5 = e^(5/3) / (e^(5/3) + 5 e^(-1/3)) = 1 / (1 + 5 e^-2) = 0.596423 */
    learn(l, vec1(1, 1), 5);
    assert_int_equal(tide_learner_classes(l), 6);
    pred(l, vec1(1, 1), out);
    for (int k = 0; k < 6; k++)
        sum += out[k];
    assert_near(sum, 1.0, 1e-12);
    assert_near(out[5], 1.0 / (1.0 + 5.0 * exp(-2.0)), 1e-6);
    for (int k = 0; k < 5; k++)
        assert_near(out[k], exp(-2.0) / (1.0 + 5.0 * exp(-2.0)), 1e-6);
    /* class 7 -> 8 classes, still a distribution */
    learn(l, vec1(2, 1), 7);
    assert_int_equal(tide_learner_classes(l), 8);
    pred(l, vec1(2, 1), out);
    sum = 0;
    for (int k = 0; k < 8; k++) {
        assert_true(out[k] > 0 && out[k] < 1);
        sum += out[k];
    }
    assert_near(sum, 1.0, 1e-12);
    assert_true(out[7] > out[0]);
    /* logistic refuses class 2 */
    tide_learner_free(l);
    l = mk("logistic", NULL, 0, 10);
    assert_int_equal(learn_rc(l, vec1(1, 1), 2, 1), TIDE_ERR_ARG);
    assert_int_equal(learn_rc(l, vec1(1, 1), 0.5, 1), TIDE_ERR_ARG);
    assert_int_equal(learn_rc(l, vec1(1, 1), 1, 0), TIDE_ERR_ARG);
    assert_int_equal(learn_rc(l, vec1(1, 1), 1, NAN), TIDE_ERR_ARG);
    tide_learner_free(l);
}

static void test_softmax_auto_sums_to_one(void **st)
{
    (void)st;
    tide_learner *l = mk("softmax", NULL, 0, 10);
    uint64_t seed = 7;
    double out[TIDE_MAX_CLASSES];
    int correct = 0;
    /* 3 well separated classes: x = {k: 1, 10: noise}; after 300 rows the
     * argmax is right on clean points */
    for (int r = 0; r < 600; r++) {
        int k = (int)(tide_test_rand(&seed) % 3);
        uint32_t idx[2] = {(uint32_t)k, 10};
        double val[2] = {1, tide_test_uniform(&seed)};
        if (r >= 300) {
            double sum = 0;
            int best = 0;
            pred(l, mkvec(2, idx, val), out);
            for (int j = 0; j < tide_learner_classes(l); j++) {
                sum += out[j];
                if (out[j] > out[best])
                    best = j;
            }
            assert_near(sum, 1.0, 1e-9);
            correct += best == k;
        }
        learn(l, mkvec(2, idx, val), k);
    }
    assert_int_equal(tide_learner_classes(l), 3);
    assert_true(correct >= 295);
    tide_learner_free(l);
}

/* ---- convergence ------------------------------------------------------- */

/* y = 2 x0 - 3 x1 + 1 on noiseless data: the squared-loss learner must
 * recover the function. */
static void converge(const char **kv, size_t n, int rows)
{
    tide_learner *l = mk("linear", kv, n, 10);
    uint64_t seed = 1;
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        uint32_t idx[2] = {1, 2};
        double val[2] = {2 * tide_test_uniform(&seed) - 1, 2 * tide_test_uniform(&seed) - 1};
        learn(l, mkvec(2, idx, val), 2 * val[0] - 3 * val[1] + 1);
    }
    for (int r = 0; r < 50; r++) {
        uint32_t idx[2] = {1, 2};
        double val[2] = {2 * tide_test_uniform(&seed) - 1, 2 * tide_test_uniform(&seed) - 1};
        double err = fabs(value(l, mkvec(2, idx, val)) - (2 * val[0] - 3 * val[1] + 1));
        if (err > worst)
            worst = err;
    }
    if (!(worst < 1e-3))
        fail_msg("%s: worst error %g after %d rows", n ? kv[0] : "default", worst, rows);
    tide_learner_free(l);
}

static void test_linear_converges(void **st)
{
    (void)st;
    const char *sgd[] = {"optimizer=sgd", "power_t=0", "lr=0.1"};
    const char *aut[] = {"optimizer=auto"};
    const char *nag[] = {"optimizer=nag", "lr=0.5"};
    const char *ada[] = {"optimizer=adagrad", "lr=0.5"};
    converge(sgd, 3, 3000);
    converge(nag, 2, 3000);
    converge(ada, 2, 3000);
    /* auto re-standardises its inputs every row, which moves the fitted
     * function by O(1/t): measured max errors 1.4e-3 at 3000 rows, 9e-4 at
     * 21000, 3e-4 at 30000 (sgd/nag/adagrad are below 1e-5 at 2000) */
    converge(aut, 1, 30000);
    converge(NULL, 0, 30000); /* the default is auto */
}

/* auto: on a stationary, linearly separable stream the mixture must reach
 * high progressive accuracy (it weights the copies by discounted loss). */
static void test_auto_logistic_accuracy(void **st)
{
    (void)st;
    tide_learner *l = mk("logistic", NULL, 0, 10);
    uint64_t seed = 3;
    int correct = 0;
    for (int r = 0; r < 3000; r++) {
        uint32_t idx[3] = {1, 2, 3};
        double val[3] = {tide_test_uniform(&seed) * 4 - 2, tide_test_uniform(&seed) * 100,
                         tide_test_uniform(&seed)};
        /* label: x0 + (x1 - 50)/25 > 0 -- very different feature scales */
        int y = val[0] + (val[1] - 50) / 25 > 0;
        double p = p1(l, mkvec(3, idx, val));
        if (r >= 2000)
            correct += (p > 0.5) == y;
        learn(l, mkvec(3, idx, val), y);
    }
    if (correct < 960)
        fail_msg("auto logistic: %d / 1000 correct on separable data", correct);
    tide_learner_free(l);
}

/* ---- params ------------------------------------------------------------ */

static void test_invalid_params(void **st)
{
    (void)st;
    static const struct {
        const char *name, *kv, *key;
        int code;
    } cases[] = {
        {"logistic", "lr=-1", "lr", TIDE_ERR_ARG},
        {"logistic", "lr=abc", "lr", TIDE_ERR_ARG},
        {"logistic", "optimizer=adam", "optimizer", TIDE_ERR_ARG},
        {"logistic", "nosuchkey=1", "nosuchkey", TIDE_ERR_ARG},
        {"logistic", "power_t=2", "power_t", TIDE_ERR_ARG},
        {"softmax", "intercept=maybe", "intercept", TIDE_ERR_ARG},
        {"linear", "l1=0.1", "l1", TIDE_ERR_ARG},        /* l1 without ftrl */
        {"linear", "memory=0", "memory", TIDE_ERR_ARG},
        {"gnb", "alpha=-0.5", "alpha", TIDE_ERR_ARG},
        {"gnb", "lr=0.1", "lr", TIDE_ERR_ARG},           /* not a gnb key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tide_learner *l = (tide_learner *)&cases;
        tide_err e;
        const char *kv[1] = {cases[i].kv};
        tide_err_clear(&e);
        int rc = tide_learner_new(cases[i].name, kv, 1, 10, &l, &e);
        if (rc != cases[i].code)
            fail_msg("%s %s: rc %s", cases[i].name, cases[i].kv, tide_strerror(rc));
        assert_null(l);
        if (!strstr(e.msg, cases[i].key))
            fail_msg("%s %s: message does not name '%s': %s", cases[i].name, cases[i].kv,
                     cases[i].key, e.msg);
    }
    {
        const char *kv[2] = {"optimizer=ftrl", "l1=0.1"}; /* l1 with ftrl is fine */
        tide_learner_free(mk("logistic", kv, 2, 10));
    }
    {
        tide_learner *l;
        tide_err e;
        assert_int_equal(tide_learner_new("nosuch", NULL, 0, 10, &l, &e), TIDE_ERR_NOTFOUND);
        assert_non_null(strstr(e.msg, "nosuch"));
        assert_non_null(strstr(e.msg, "logistic")); /* lists the known ones */
        assert_int_equal(tide_learner_new("logistic", NULL, 0, 0, &l, &e), TIDE_ERR_ARG);
        assert_int_equal(tide_learner_new("logistic", NULL, 0, TIDE_BITS_MAX + 1, &l, &e),
                         TIDE_ERR_ARG);
    }
    assert_non_null(tide_learner_find("logistic"));
    assert_non_null(tide_learner_find("softmax"));
    assert_non_null(tide_learner_find("linear"));
    assert_non_null(tide_learner_find("gnb"));
    assert_null(tide_learner_find("nosuch"));
    assert_null(tide_learner_at(tide_learner_count()));
    tide_learner_free(NULL);
}

/* ---- Gaussian naive Bayes ---------------------------------------------- */

static void test_gnb_gaussian_posterior(void **st)
{
    (void)st;
    tide_learner *l = mk("gnb", NULL, 0, 10);
    double out[TIDE_MAX_CLASSES], j0, j1;
    /* class 0: x = 1, 2, 3 -> mean 2, unbiased var ((1)+(0)+(1))/2 = 1
     * class 1: x = 6, 8    -> mean 7, unbiased var ((1)+(1))/1 = 2
     * priors 3/5, 2/5. Query x = 4:
     * log j0 = log 0.6 - 0.5 log(2 pi 1) - (4-2)^2/(2*1) = log 0.6 - 0.5 log 2pi - 2
     * log j1 = log 0.4 - 0.5 log(2 pi 2) - (4-7)^2/(2*2) = log 0.4 - 0.5 log 4pi - 2.25
     * j1 - j0 = -0.405465 - 0.346574 - 0.25 = -1.002039; P(0 | 4) = 1/(1 + e^-1.002039) = 0.731460 */
    learn(l, vec1(9, 1), 0);
    learn(l, vec1(9, 6), 1);
    learn(l, vec1(9, 2), 0);
    learn(l, vec1(9, 8), 1);
    learn(l, vec1(9, 3), 0);
    pred(l, vec1(9, 4), out);
    j0 = log(0.6) - 0.5 * log(2 * M_PI) - 2;
    j1 = log(0.4) - 0.5 * log(4 * M_PI) - 2.25;
    assert_near(out[0], 1 / (1 + exp(j1 - j0)), 1e-9);
    assert_near(out[0], 0.731460, 1e-6);
    assert_near(out[0] + out[1], 1.0, 1e-12);
    /* an absent feature contributes nothing: posterior = prior 3/5 */
    pred(l, vec0(), out);
    assert_near(out[0], 0.6, 1e-12);
    /* a numeric bucket seen only once with class 1 is skipped: still the prior */
    learn(l, vec1(11, 0.5), 0);
    learn(l, vec1(11, 1.5), 0);
    learn(l, vec1(11, 4.0), 1);
    /* priors now 5/8, 3/8 */
    pred(l, vec1(11, 4.0), out);
    assert_near(out[0], 5.0 / 8, 1e-12);
    tide_learner_free(l);
}

static void test_gnb_indicator_laplace(void **st)
{
    (void)st;
    const char *kv[1] = {"alpha=0.5"};
    tide_learner *l = mk("gnb", NULL, 0, 10), *m = mk("gnb", kv, 1, 10);
    double out[TIDE_MAX_CLASSES];
    /* class 0: 4 rows, indicator 10 present in 3; class 1: 2 rows, never present.
     * alpha = 1: P(10|0) = (3+1)/(4+2) = 2/3, P(10|1) = (0+1)/(2+2) = 1/4
     * priors 4/6, 2/6: j0 = 2/3 * 2/3 = 4/9, j1 = 1/3 * 1/4 = 1/12
     * P(0 | 10) = (4/9) / (4/9 + 1/12) = 16/19 = 0.842105
     * alpha = 0.5: P(10|0) = 3.5/5 = 0.7, P(10|1) = 0.5/3 = 1/6
     * j0 = 2/3 * 0.7 = 7/15, j1 = 1/3 * 1/6 = 1/18; P(0 | 10) = (7/15)/(7/15 + 1/18) = 42/47 */
    for (int i = 0; i < 2; i++) {
        tide_learner *t = i ? m : l;
        learn(t, vec1(10, 1), 0);
        learn(t, vec1(10, 1), 0);
        learn(t, vec0(), 0);
        learn(t, vec0(), 1);
        learn(t, vec1(10, 1), 0);
        learn(t, vec0(), 1);
    }
    pred(l, vec1(10, 1), out);
    assert_near(out[0], 16.0 / 19, 1e-12);
    pred(m, vec1(10, 1), out);
    assert_near(out[0], 42.0 / 47, 1e-12);
    tide_learner_free(l);
    tide_learner_free(m);
}

static void test_gnb_unseen_class(void **st)
{
    (void)st;
    tide_learner *l = mk("gnb", NULL, 0, 10);
    double out[TIDE_MAX_CLASSES];
    /* no data: uniform */
    pred(l, vec1(1, 1), out);
    assert_near(out[0], 0.5, 1e-12);
    /* classes 0 and 2 only: class 1 exists (3 classes) but was never seen */
    learn(l, vec1(1, 1), 0);
    learn(l, vec1(1, 2), 0);
    learn(l, vec1(1, 5), 2);
    learn(l, vec1(1, 6), 2);
    assert_int_equal(tide_learner_classes(l), 3);
    pred(l, vec1(1, 1.5), out);
    assert_true(out[1] == 0.0);
    assert_near(out[0] + out[2], 1.0, 1e-12);
    assert_true(out[0] > 0.99); /* 1.5 is the mean of class 0, 4 sd from class 2 */
    tide_learner_free(l);
}

/* Importance weights are frequency weights: learning (x, w = 2) equals
 * learning x twice for naive Bayes (weighted Welford, West 1979), and scales
 * the SGD gradient by w. */
static void test_importance_weights(void **st)
{
    (void)st;
    const char *kv[] = {"optimizer=sgd", "power_t=0", "lr=0.1"};
    tide_learner *a = mk("gnb", NULL, 0, 10), *b = mk("gnb", NULL, 0, 10), *l;
    double pa[TIDE_MAX_CLASSES], pb[TIDE_MAX_CLASSES];
    vec x;
    x = vec1(4, 1);
    assert_int_equal(tide_learner_learn(a, V(x), 0, 2.0), TIDE_OK);
    learn(b, vec1(4, 1), 0);
    learn(b, vec1(4, 1), 0);
    learn(a, vec1(4, 3), 0);
    learn(b, vec1(4, 3), 0);
    x = vec1(4, 7);
    assert_int_equal(tide_learner_learn(a, V(x), 1, 3.0), TIDE_OK);
    for (int i = 0; i < 3; i++)
        learn(b, vec1(4, 7), 1);
    learn(a, vec1(4, 9), 1);
    learn(b, vec1(4, 9), 1);
    /* class 0: {1, 1, 3}: mean 5/3, var 4/3; class 1: {7, 7, 7, 9}: mean 7.5, var 1;
     * priors 3/7, 4/7 -- the same statistics either way */
    for (double q = 0; q <= 10; q += 0.5) {
        pred(a, vec1(4, q), pa);
        pred(b, vec1(4, q), pb);
        assert_near(pa[0], pb[0], 1e-12);
    }
    pred(a, vec1(4, 5), pa);
    {
        double j0 = log(3.0 / 7) - 0.5 * log(2 * M_PI * 4.0 / 3) - pow(5 - 5.0 / 3, 2) / (2 * 4.0 / 3);
        double j1 = log(4.0 / 7) - 0.5 * log(2 * M_PI * 1.0) - pow(5 - 7.5, 2) / 2;
        assert_near(pa[0], 1 / (1 + exp(j1 - j0)), 1e-9);
    }
    tide_learner_free(a);
    tide_learner_free(b);
    /* SGD: w = 2 from zero weights: w3 = -0.1 * 2 * (0.5 - 1) * 1 = 0.1 (twice the w = 1 step) */
    l = mk("logistic", kv, 3, 10);
    x = ex37();
    assert_int_equal(tide_learner_learn(l, V(x), 1, 2.0), TIDE_OK);
    assert_near(weight_of(l, 3), 0.1, 1e-7);
    assert_near(weight_of(l, 7), 0.2, 1e-7);
    assert_near(bias_of(l), 0.1, 1e-7);
    tide_learner_free(l);
}

/* ---- labels ------------------------------------------------------------ */

static int lab(tide_labels *d, const char *s)
{
    int idx = -1;
    tide_err e;
    int rc = tide_labels_index(d, s, strlen(s), &idx, &e);
    if (rc)
        fail_msg("label '%s': %s", s, e.msg);
    return idx;
}

static void test_labels_binary(void **st)
{
    (void)st;
    tide_labels *d;
    tide_err e;
    int idx;
    assert_int_equal(tide_labels_new(TIDE_TASK_BINARY, &d), TIDE_OK);
    assert_int_equal(lab(d, "true"), 1);
    assert_int_equal(lab(d, "1"), 1);
    assert_int_equal(lab(d, "+1"), 1);
    assert_int_equal(lab(d, "yes"), 1);
    assert_int_equal(lab(d, "YES"), 1);
    assert_int_equal(lab(d, "2.5"), 1);
    assert_int_equal(lab(d, "0"), 0);
    assert_int_equal(lab(d, "-1"), 0);
    assert_int_equal(lab(d, "false"), 0);
    assert_int_equal(lab(d, "no"), 0);
    assert_int_equal(lab(d, "0.0"), 0);
    assert_int_equal(tide_labels_count(d), 2);
    /* the first spelling seen is the printed name */
    assert_string_equal(tide_labels_name(d, 1), "true");
    assert_string_equal(tide_labels_name(d, 0), "0");
    assert_null(tide_labels_name(d, 2));
    assert_int_equal(tide_labels_positive(d), 1);
    /* a non-binary word cannot be a third class */
    assert_int_equal(tide_labels_index(d, "maybe", 5, &idx, &e), TIDE_ERR_PARSE);
    assert_non_null(strstr(e.msg, "maybe"));
    assert_int_equal(tide_labels_index(d, "", 0, &idx, &e), TIDE_ERR_PARSE);
    tide_labels_free(d);

    /* other strings by first appearance, at most two */
    assert_int_equal(tide_labels_new(TIDE_TASK_BINARY, &d), TIDE_OK);
    assert_int_equal(lab(d, "spam"), 0);
    assert_int_equal(lab(d, "ham"), 1);
    assert_int_equal(lab(d, "spam"), 0);
    assert_int_equal(tide_labels_index(d, "eggs", 4, &idx, &e), TIDE_ERR_PARSE);
    assert_non_null(strstr(e.msg, "eggs"));
    assert_non_null(strstr(e.msg, "third"));
    assert_int_equal(tide_labels_lookup(d, "ham", 3, &idx), TIDE_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(tide_labels_lookup(d, "eggs", 4, &idx), TIDE_ERR_NOTFOUND);
    assert_string_equal(tide_labels_name(d, 0), "spam");
    tide_labels_free(d);
    tide_labels_free(NULL);

    /* "1", then a word (takes the free slot 0), then "0": "0" must not
     * silently merge with the word */
    assert_int_equal(tide_labels_new(TIDE_TASK_BINARY, &d), TIDE_OK);
    assert_int_equal(lab(d, "1"), 1);
    assert_int_equal(lab(d, "spam"), 0);
    assert_int_equal(tide_labels_index(d, "0", 1, &idx, &e), TIDE_ERR_PARSE);
    assert_non_null(strstr(e.msg, "spam"));
    tide_labels_free(d);
}

static void test_labels_multiclass(void **st)
{
    (void)st;
    tide_labels *d, *d2;
    tide_wbuf b;
    tide_rbuf r;
    tide_err e;
    int idx;
    char big[300];
    assert_int_equal(tide_labels_new(TIDE_TASK_MULTICLASS, &d), TIDE_OK);
    assert_int_equal(lab(d, "b"), 0);
    assert_int_equal(lab(d, "a"), 1);
    assert_int_equal(lab(d, "c"), 2);
    assert_int_equal(lab(d, "a"), 1);
    assert_int_equal(lab(d, "1"), 3); /* numbers are names here */
    assert_int_equal(tide_labels_count(d), 4);
    assert_string_equal(tide_labels_name(d, 2), "c");
    assert_int_equal(tide_labels_lookup(d, "z", 1, &idx), TIDE_ERR_NOTFOUND);
    memset(big, 'x', sizeof big);
    assert_int_equal(tide_labels_index(d, big, 257, &idx, &e), TIDE_ERR_LIMIT);
    assert_int_equal(tide_labels_count(d), 4);
    /* save / load */
    tide_wbuf_init(&b);
    tide_labels_save(d, &b);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_labels_load(&r, &d2, &e), TIDE_OK);
    assert_int_equal(r.pos, b.len);
    assert_int_equal(tide_labels_count(d2), 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(tide_labels_name(d2, i), tide_labels_name(d, i));
    assert_int_equal(lab(d2, "e"), 4);
    for (size_t n = 0; n < b.len; n++) {
        tide_labels *t = NULL;
        tide_rbuf_init(&r, b.data, n);
        assert_int_equal(tide_labels_load(&r, &t, &e), TIDE_ERR_FORMAT);
        assert_null(t);
    }
    tide_wbuf_free(&b);
    tide_labels_free(d2);
    tide_labels_free(d);
}

static void test_labels_positive(void **st)
{
    (void)st;
    tide_labels *d;
    /* two-class problem learnt by a multiclass-capable learner: the positive
     * class is the one with a positive spelling */
    assert_int_equal(tide_labels_new(TIDE_TASK_MULTICLASS, &d), TIDE_OK);
    lab(d, "yes");
    lab(d, "no");
    assert_int_equal(tide_labels_positive(d), 0);
    tide_labels_free(d);
    assert_int_equal(tide_labels_new(TIDE_TASK_MULTICLASS, &d), TIDE_OK);
    lab(d, "0");
    lab(d, "1");
    assert_int_equal(tide_labels_positive(d), 1);
    tide_labels_free(d);
    assert_int_equal(tide_labels_new(TIDE_TASK_MULTICLASS, &d), TIDE_OK);
    lab(d, "true");
    lab(d, "false");
    assert_int_equal(tide_labels_positive(d), 0);
    tide_labels_free(d);
    assert_int_equal(tide_labels_new(TIDE_TASK_MULTICLASS, &d), TIDE_OK);
    lab(d, "cat");
    lab(d, "dog");
    assert_int_equal(tide_labels_positive(d), 1); /* none positive: 1 */
    tide_labels_free(d);
}

/* ---- every learner: save -> load -> predict, clone ---------------------- */

#define SYN_BITS 12

typedef struct synth {
    uint64_t seed;
    tide_field f[3];
    char cat[2];
} synth;

/* Row r of a seeded stream: x0, x1 in [-1, 1], a categorical c in {r, g, b}.
 * Classes: 0/1 (binary) or 0/1/2; regression target 2 x0 - 3 x1 + [c=='g']. */
static void synth_row(synth *s, tide_row *row, int n_classes, double *y)
{
    static const char cats[3] = {'r', 'g', 'b'};
    double x0 = 2 * tide_test_uniform(&s->seed) - 1, x1 = 2 * tide_test_uniform(&s->seed) - 1;
    int c = (int)(tide_test_rand(&s->seed) % 3);
    memset(s->f, 0, sizeof s->f);
    memset(row, 0, sizeof *row);
    s->cat[0] = cats[c];
    s->f[0].ns = s->f[1].ns = s->f[2].ns = "";
    s->f[0].name = "x0";
    s->f[1].name = "x1";
    s->f[2].name = "c";
    s->f[0].name_len = s->f[1].name_len = 2;
    s->f[2].name_len = 1;
    s->f[0].num = x0;
    s->f[1].num = x1;
    s->f[2].kind = TIDE_VAL_CAT;
    s->f[2].str = s->cat;
    s->f[2].str_len = 1;
    for (int i = 0; i < 3; i++)
        s->f[i].col = i;
    row->fields = s->f;
    row->n_fields = 3;
    row->weight = 1;
    row->has_target = 1;
    if (n_classes == 0)
        *y = 2 * x0 - 3 * x1 + (c == 1) + 0.1 * (tide_test_uniform(&s->seed) - 0.5);
    else if (n_classes == 2)
        *y = (x0 + x1 + (c == 1) * 0.5 + 0.3 * (tide_test_uniform(&s->seed) - 0.5)) > 0;
    else
        *y = x0 > 0.3 ? 2 : (x1 + (c == 2)) > 0.5 ? 1 : 0;
}

static int n_classes_for(const tide_learner_vt *vt)
{
    return vt->task == TIDE_TASK_REGRESSION ? 0 : vt->task == TIDE_TASK_BINARY ? 2 : 3;
}

static tide_model *trained_model(const char *name, int rows, uint64_t seed)
{
    const tide_learner_vt *vt = tide_learner_find(name);
    tide_feat_opts fo;
    tide_featurizer *fz;
    tide_learner *l = mk(name, NULL, 0, SYN_BITS);
    tide_model *m;
    tide_fvec x;
    tide_err e;
    synth s = {.seed = seed};
    int K = n_classes_for(vt);
    tide_feat_opts_init(&fo);
    fo.bits = SYN_BITS;
    assert_int_equal(tide_featurizer_new(&fo, &fz, &e), TIDE_OK);
    assert_int_equal(tide_model_new(fz, l, &m, &e), TIDE_OK);
    if (m->labels && K > 2) /* class names "0", "1", "2" in index order */
        for (int k = 0; k < K; k++) {
            char t[2] = {(char)('0' + k), 0};
            assert_int_equal(lab(m->labels, t), k);
        }
    tide_fvec_init(&x);
    for (int r = 0; r < rows; r++) {
        tide_row row;
        double y;
        synth_row(&s, &row, K, &y);
        assert_int_equal(tide_featurize(m->fz, &row, &x, &e), TIDE_OK);
        if (m->labels) {
            char t[2] = {(char)('0' + (int)y), 0};
            int cls = lab(m->labels, t);
            assert_int_equal(cls, (int)y);
        }
        int rc = tide_learner_learn(m->learner, &x, y, 1.0);
        if (rc)
            fail_msg("%s: learn row %d: %s", name, r, tide_strerror(rc));
    }
    tide_fvec_free(&x);
    return m;
}

/* Predictions of m on `rows` further rows of the stream (seed), as one array
 * of rows * K doubles. */
static double *predictions(const tide_model *m, int rows, uint64_t seed, int *k_out)
{
    int K = m->learner->vt->task == TIDE_TASK_REGRESSION ? 1 : tide_learner_classes(m->learner);
    double *out = calloc((size_t)rows * (size_t)K + TIDE_MAX_CLASSES, sizeof *out);
    tide_fvec x;
    tide_err e;
    synth s = {.seed = seed};
    tide_fvec_init(&x);
    for (int r = 0; r < rows; r++) {
        tide_row row;
        double y, buf[TIDE_MAX_CLASSES];
        synth_row(&s, &row, n_classes_for(m->learner->vt), &y);
        assert_int_equal(tide_featurize(m->fz, &row, &x, &e), TIDE_OK);
        tide_learner_predict(m->learner, &x, buf);
        memcpy(out + (size_t)r * (size_t)K, buf, (size_t)K * sizeof *buf);
    }
    tide_fvec_free(&x);
    *k_out = K;
    return out;
}

static void learn_more(tide_model *m, int rows, uint64_t seed)
{
    tide_fvec x;
    tide_err e;
    synth s = {.seed = seed};
    tide_fvec_init(&x);
    for (int r = 0; r < rows; r++) {
        tide_row row;
        double y;
        synth_row(&s, &row, n_classes_for(m->learner->vt), &y);
        assert_int_equal(tide_featurize(m->fz, &row, &x, &e), TIDE_OK);
        assert_int_equal(tide_learner_learn(m->learner, &x, y, 1.0), TIDE_OK);
    }
    tide_fvec_free(&x);
}

/* tide_learner_learn_predict is the progressive step in one call: for every
 * learner (and every optimizer of the linear ones) it must answer what
 * predict answers and leave the state learn leaves, bit for bit. */
static void check_learn_predict(const char *name, const char **kv, size_t nkv)
{
    const tide_learner_vt *vt = tide_learner_find(name);
    tide_learner *a = mk(name, kv, nkv, SYN_BITS), *b = mk(name, kv, nkv, SYN_BITS);
    tide_feat_opts fo;
    tide_featurizer *fz;
    tide_fvec x;
    tide_wbuf wa, wb;
    tide_err e;
    synth s = {.seed = 4242};
    int K = n_classes_for(vt);
    tide_feat_opts_init(&fo);
    fo.bits = SYN_BITS;
    assert_int_equal(tide_featurizer_new(&fo, &fz, &e), TIDE_OK);
    tide_fvec_init(&x);
    for (int r = 0; r < 600; r++) {
        tide_row row;
        double y, pa[TIDE_MAX_CLASSES], pb[TIDE_MAX_CLASSES];
        int n;
        synth_row(&s, &row, K, &y);
        assert_int_equal(tide_featurize(fz, &row, &x, &e), TIDE_OK);
        if (vt->task != TIDE_TASK_REGRESSION && (int)y + 1 > tide_learner_classes(a))
            tide_learner_grow_classes(a, (int)y + 1);
        n = vt->task == TIDE_TASK_REGRESSION ? 1 : tide_learner_classes(a);
        tide_learner_predict(a, &x, pa);
        assert_int_equal(tide_learner_learn(a, &x, y, r % 7 == 3 ? 2.5 : 1.0), TIDE_OK);
        assert_int_equal(tide_learner_learn_predict(b, &x, y, r % 7 == 3 ? 2.5 : 1.0, pb),
                         TIDE_OK);
        if (memcmp(pa, pb, (size_t)n * sizeof *pa))
            fail_msg("%s: row %d: learn_predict answered %.17g, predict %.17g", name, r, pb[0],
                     pa[0]);
    }
    /* the same state: same bytes saved */
    tide_wbuf_init(&wa);
    tide_wbuf_init(&wb);
    assert_int_equal(tide_learner_save(a, &wa), TIDE_OK);
    assert_int_equal(tide_learner_save(b, &wb), TIDE_OK);
    assert_int_equal(wa.len, wb.len);
    if (memcmp(wa.data, wb.data, wa.len))
        fail_msg("%s: state after learn_predict differs from predict + learn", name);
    /* an invalid target is refused before anything happens */
    if (vt->task == TIDE_TASK_BINARY) {
        double p[2];
        assert_int_equal(tide_learner_learn_predict(b, &x, 2.0, 1.0, p), TIDE_ERR_ARG);
    }
    tide_wbuf_free(&wa);
    tide_wbuf_free(&wb);
    tide_fvec_free(&x);
    tide_featurizer_free(fz);
    tide_learner_free(a);
    tide_learner_free(b);
}

static void test_every_learner_learn_predict(void **st)
{
    static const char *opts[] = {"optimizer=sgd", "optimizer=adagrad", "optimizer=ftrl",
                                 "optimizer=nag", "optimizer=auto"};
    static const char *lin[] = {"logistic", "softmax", "linear"};
    (void)st;
    for (size_t i = 0; i < tide_learner_count(); i++)
        check_learn_predict(tide_learner_at(i)->name, NULL, 0);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 5; j++)
            check_learn_predict(lin[i], &opts[j], 1);
}

static void test_every_learner_save_load_clone(void **st)
{
    (void)st;
    for (size_t i = 0; i < tide_learner_count(); i++) {
        const tide_learner_vt *vt = tide_learner_at(i);
        tide_model *m = trained_model(vt->name, 500, 1000 + i), *m2 = NULL, *mc = NULL;
        tide_learner *lc = NULL;
        tide_wbuf b, b2;
        tide_err e;
        double *pa, *pb, *pc, *pd;
        int K, K2, Kc, Kd, changed = 0;
        tide_wbuf_init(&b);
        tide_wbuf_init(&b2);
        assert_int_equal(tide_model_save_buf(m, &b), TIDE_OK);
        if (tide_model_load_buf(b.data, b.len, &m2, &e) != TIDE_OK)
            fail_msg("%s: load: %s", vt->name, e.msg);
        assert_int_equal(tide_learner_classes(m2->learner), tide_learner_classes(m->learner));
        assert_int_equal(tide_model_task(m2), tide_model_task(m));
        pa = predictions(m, 100, 77, &K);
        pb = predictions(m2, 100, 77, &K2);
        assert_int_equal(K, K2);
        if (memcmp(pa, pb, 100 * (size_t)K * sizeof *pa))
            fail_msg("%s: predictions differ after save -> load", vt->name);
        /* saving the loaded model gives the same bytes */
        assert_int_equal(tide_model_save_buf(m2, &b2), TIDE_OK);
        assert_int_equal(b2.len, b.len);
        if (memcmp(b.data, b2.data, b.len))
            fail_msg("%s: re-saved model differs", vt->name);
        /* a loaded model keeps learning like the original */
        learn_more(m, 50, 555);
        learn_more(m2, 50, 555);
        free(pb);
        free(pa);
        pa = predictions(m, 100, 77, &K);
        pb = predictions(m2, 100, 77, &K2);
        if (memcmp(pa, pb, 100 * (size_t)K * sizeof *pa))
            fail_msg("%s: predictions differ after learning on from a loaded copy", vt->name);
        /* clone: same predictions, then independent both ways */
        assert_int_equal(tide_learner_clone(m->learner, &lc, &e), TIDE_OK);
        assert_int_equal(tide_model_clone(m, &mc, &e), TIDE_OK);
        tide_learner_free(mc->learner);
        mc->learner = lc;
        pc = predictions(mc, 100, 77, &Kc);
        assert_int_equal(Kc, K);
        if (memcmp(pa, pc, 100 * (size_t)K * sizeof *pa))
            fail_msg("%s: clone predicts differently", vt->name);
        learn_more(m, 200, 999); /* the original moves on */
        free(pc);
        pc = predictions(mc, 100, 77, &Kc);
        if (memcmp(pa, pc, 100 * (size_t)K * sizeof *pa))
            fail_msg("%s: learning on the original changed the clone", vt->name);
        pd = predictions(m, 100, 77, &Kd);
        changed = memcmp(pa, pd, 100 * (size_t)K * sizeof *pa) != 0;
        if (!changed)
            fail_msg("%s: 200 more rows did not change any prediction (test is void)", vt->name);
        free(pd);
        {
            /* and the clone learns without touching the original */
            double *pe = predictions(m, 100, 77, &Kd);
            learn_more(mc, 200, 4242);
            pd = predictions(m, 100, 77, &Kd);
            assert_memory_equal(pe, pd, 100 * (size_t)K * sizeof *pe);
            free(pe);
        }
        assert_true(tide_learner_memory(m->learner) > 0);
        free(pa);
        free(pb);
        free(pc);
        free(pd);
        tide_wbuf_free(&b);
        tide_wbuf_free(&b2);
        tide_model_free(m);
        tide_model_free(m2);
        tide_model_free(mc);
    }
}

/* ---- model file format ------------------------------------------------- */

static void small_model_bytes(const char *name, tide_wbuf *b)
{
    tide_model *m = trained_model(name, 30, 5);
    tide_wbuf_init(b);
    assert_int_equal(tide_model_save_buf(m, b), TIDE_OK);
    tide_model_free(m);
}

static void fix_checksum(uint8_t *d, size_t len)
{
    uint64_t s = tide_checksum(d, len - 8);
    for (int i = 0; i < 8; i++)
        d[len - 8 + (size_t)i] = (uint8_t)(s >> (8 * i));
}

static void test_model_header_layout(void **st)
{
    (void)st;
    tide_wbuf b;
    uint64_t n = 0, sum = 0;
    small_model_bytes("logistic", &b);
    /* magic "TIDEMDL\0", version 1, payload length, xxh64 trailer */
    assert_memory_equal(b.data, "TIDEMDL\0", 8);
    assert_int_equal(b.data[8] | b.data[9] << 8 | b.data[10] << 16 | b.data[11] << 24, 1);
    for (int i = 0; i < 8; i++) {
        n |= (uint64_t)b.data[12 + i] << (8 * i);
        sum |= (uint64_t)b.data[b.len - 8 + (size_t)i] << (8 * i);
    }
    assert_int_equal(n + 28, b.len);
    assert_true(sum == tide_checksum(b.data, b.len - 8));
    tide_wbuf_free(&b);
}

static void test_model_every_byte_flip(void **st)
{
    (void)st;
    static const char *names[] = {"logistic", "gnb", "linear"};
    for (size_t k = 0; k < 3; k++) {
        tide_wbuf b;
        uint8_t *c;
        small_model_bytes(names[k], &b);
        c = malloc(b.len);
        for (size_t pos = 0; pos < b.len; pos++)
            for (int bit = 0; bit < 8; bit += 7) {
                tide_model *m = (tide_model *)&b;
                tide_err e;
                int rc;
                memcpy(c, b.data, b.len);
                c[pos] ^= (uint8_t)(1u << bit);
                tide_err_clear(&e);
                rc = tide_model_load_buf(c, b.len, &m, &e);
                if (rc != TIDE_ERR_CHECKSUM && rc != TIDE_ERR_FORMAT && rc != TIDE_ERR_VERSION)
                    fail_msg("%s: flipping bit %d of byte %zu: rc %s", names[k], bit, pos,
                             tide_strerror(rc));
                assert_null(m);
                assert_true(e.msg[0] != '\0');
            }
        free(c);
        tide_wbuf_free(&b);
    }
}

static void test_model_every_truncation(void **st)
{
    (void)st;
    tide_wbuf b;
    tide_err e;
    small_model_bytes("gnb", &b);
    for (size_t n = 0; n < b.len; n++) {
        tide_model *m = NULL;
        int rc = tide_model_load_buf(b.data, n, &m, &e);
        if (rc != TIDE_ERR_FORMAT && rc != TIDE_ERR_CHECKSUM)
            fail_msg("truncated to %zu of %zu bytes: rc %s", n, b.len, tide_strerror(rc));
        assert_null(m);
    }
    /* and a trailing byte */
    {
        tide_model *m = NULL;
        uint8_t *c = malloc(b.len + 1);
        memcpy(c, b.data, b.len);
        c[b.len] = 0;
        assert_int_equal(tide_model_load_buf(c, b.len + 1, &m, &e), TIDE_ERR_FORMAT);
        free(c);
    }
    tide_wbuf_free(&b);
}

static void test_model_newer_version(void **st)
{
    (void)st;
    tide_wbuf b;
    tide_model *m = NULL;
    tide_err e;
    small_model_bytes("logistic", &b);
    b.data[8] = 2; /* format version 2, checksum recomputed: a valid file of a newer tide */
    fix_checksum(b.data, b.len);
    assert_int_equal(tide_model_load_buf(b.data, b.len, &m, &e), TIDE_ERR_VERSION);
    assert_null(m);
    assert_non_null(strstr(e.msg, "2"));
    b.data[8] = 1; /* back to 1 with the checksum of version 2: corrupt */
    assert_int_equal(tide_model_load_buf(b.data, b.len, &m, &e), TIDE_ERR_CHECKSUM);
    fix_checksum(b.data, b.len);
    assert_int_equal(tide_model_load_buf(b.data, b.len, &m, &e), TIDE_OK);
    tide_model_free(m);
    /* a foreign file */
    assert_int_equal(tide_model_load_buf("PK\3\4 not a model at all....", 27, &m, &e),
                     TIDE_ERR_FORMAT);
    tide_wbuf_free(&b);
}

/* Every payload byte flipped with the checksum repaired: the parsers behind
 * the checksum must reject or accept cleanly (ASan/UBSan watch), and a model
 * that loads must predict without crashing. */
static void test_model_payload_corruption(void **st)
{
    (void)st;
    static const char *names[] = {"logistic", "gnb", "softmax", "linear"};
    for (size_t k = 0; k < 4; k++) {
        tide_wbuf b;
        uint8_t *c;
        small_model_bytes(names[k], &b);
        c = malloc(b.len);
        for (size_t pos = 20; pos + 8 < b.len; pos++) {
            tide_model *m = NULL;
            tide_err e;
            int rc;
            memcpy(c, b.data, b.len);
            c[pos] ^= 0xFF;
            fix_checksum(c, b.len);
            tide_err_clear(&e);
            rc = tide_model_load_buf(c, b.len, &m, &e);
            if (rc == TIDE_OK) {
                double out[TIDE_MAX_CLASSES];
                vec x = vec1(1, 0.5);
                assert_true(tide_learner_classes(m->learner) <= TIDE_MAX_CLASSES);
                tide_learner_predict(m->learner, V(x), out);
                tide_model_free(m);
            } else {
                assert_true(rc < 0);
                assert_null(m);
                if (!e.msg[0])
                    fail_msg("%s: byte %zu: error %s without a message", names[k], pos,
                             tide_strerror(rc));
            }
        }
        free(c);
        tide_wbuf_free(&b);
    }
}

static void test_model_file_round_trip(void **st)
{
    (void)st;
    char dir[] = "/tmp/tide-test-learn-XXXXXX", path[256];
    tide_model *m = trained_model("softmax", 200, 9), *m2 = NULL;
    tide_wbuf b, b2;
    tide_err e;
    DIR *d;
    struct dirent *de;
    int files = 0;
    double *pa, *pb;
    int K, K2;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.tide", dir);
    assert_int_equal(tide_model_save_file(m, path, &e), TIDE_OK);
    assert_int_equal(tide_model_save_file(m, path, &e), TIDE_OK); /* overwrite */
    assert_int_equal(tide_model_load_file(path, &m2, &e), TIDE_OK);
    tide_wbuf_init(&b);
    tide_wbuf_init(&b2);
    tide_model_save_buf(m, &b);
    tide_model_save_buf(m2, &b2);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    assert_int_equal(tide_model_task(m2), TIDE_TASK_MULTICLASS);
    assert_int_equal(tide_labels_count(m2->labels), 3);
    pa = predictions(m, 50, 3, &K);
    pb = predictions(m2, 50, 3, &K2);
    assert_memory_equal(pa, pb, 50 * (size_t)K * sizeof *pa);
    free(pa);
    free(pb);
    /* no temporary file left behind */
    d = opendir(dir);
    assert_non_null(d);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            files++;
    closedir(d);
    assert_int_equal(files, 1);
    tide_model_free(m2);
    m2 = NULL;
    /* errors name the path */
    snprintf(path, sizeof path, "%s/missing.tide", dir);
    assert_int_equal(tide_model_load_file(path, &m2, &e), TIDE_ERR_IO);
    assert_non_null(strstr(e.msg, "missing.tide"));
    assert_int_equal(tide_model_load_file(dir, &m2, &e), TIDE_ERR_IO);
    snprintf(path, sizeof path, "%s/nodir/model.tide", dir);
    assert_int_equal(tide_model_save_file(m, path, &e), TIDE_ERR_IO);
    /* a garbage file */
    snprintf(path, sizeof path, "%s/garbage.tide", dir);
    {
        FILE *f = fopen(path, "wb");
        fputs("TIDEMDL garbage", f);
        fclose(f);
    }
    assert_true(tide_model_load_file(path, &m2, &e) < 0);
    assert_non_null(strstr(e.msg, "garbage.tide"));
    unlink(path);
    snprintf(path, sizeof path, "%s/model.tide", dir);
    unlink(path);
    rmdir(dir);
    tide_wbuf_free(&b);
    tide_wbuf_free(&b2);
    tide_model_free(m);
}

static void test_model_new_checks(void **st)
{
    (void)st;
    tide_feat_opts fo;
    tide_featurizer *fz;
    tide_model *m = NULL;
    tide_err e;
    tide_feat_opts_init(&fo);
    fo.bits = 8;
    assert_int_equal(tide_featurizer_new(&fo, &fz, &e), TIDE_OK);
    assert_int_equal(tide_model_new(fz, mk("linear", NULL, 0, 8), &m, &e), TIDE_OK);
    assert_null(m->labels);
    assert_int_equal(tide_model_task(m), TIDE_TASK_REGRESSION);
    tide_model_free(m);
    tide_model_free(NULL);
    /* gnb with two labels is a binary model, with three multiclass */
    m = trained_model("gnb", 20, 1);
    assert_int_equal(tide_model_task(m), TIDE_TASK_MULTICLASS);
    tide_model_free(m);
}

/* The auto optimizer's own exp(x) (x <= 0) and log(1 + e) (e in [0, 1])
 * against libm: relative error below 1e-12 and 1e-10 on dense grids and at
 * the ends; x below -700 counts as -700; NaN passes. */
static void test_auto_exp_log(void **st)
{
    (void)st;
    double worst = 0;
    for (int i = 0; i <= 700000; i++) {
        double x = -i * 1e-3, want = exp(x), got = tide_linear_expneg(x);
        double rel = fabs(got - want) / want;
        if (rel > worst)
            worst = rel;
    }
    assert_true(worst < 1e-12);
    for (int i = 0; i < 64; i++) {   /* around the reduction's k steps */
        double x = -i * 0.6931471805599453 + 1e-9 * (i % 3 - 1);
        if (x > 0)
            x = 0;
        assert_true(fabs(tide_linear_expneg(x) - exp(x)) <= 1e-12 * exp(x));
    }
    assert_true(tide_linear_expneg(0.0) == 1.0);
    assert_true(tide_linear_expneg(-800.0) == tide_linear_expneg(-700.0));
    assert_true(tide_linear_expneg(-INFINITY) == tide_linear_expneg(-700.0));
    assert_true(tide_linear_expneg(-700.0) > 0);
    assert_true(isnan(tide_linear_expneg(NAN)));
    worst = 0;
    for (int i = 0; i <= 1000000; i++) {
        double e = i * 1e-6, want = log1p(e), got = tide_linear_log1p01(e);
        double rel = e > 0 ? fabs(got - want) / want : fabs(got);
        if (rel > worst)
            worst = rel;
    }
    assert_true(worst < 1e-10);
    assert_true(tide_linear_log1p01(0.0) == 0.0);
    assert_true(isnan(tide_linear_log1p01(NAN)));
}

/* ---- linear state version 2 ----------------------------------------------
 * Version 2 of the linear learners' state ran five auto copies (lr 0.01,
 * 0.03, 0.1, 0.3, 1); version 3 runs four (the 0.03 copy dropped) and loads
 * a version-2 state as the four copies it keeps, with the mixture weights
 * recomputed from the copies' losses. */
static void save_learner(const tide_learner *l, tide_wbuf *b)
{
    tide_wbuf_init(b);
    assert_int_equal(tide_learner_save(l, b), TIDE_OK);
}

static uint32_t fixture_state_version(const char *path, const char *learner)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[1 << 16];
    size_t n, L = strlen(learner);
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t i = 4; i + L + 4 <= n; i++)   /* name as u32 length + bytes, then the version */
        if (buf[i - 4] == L && !buf[i - 3] && !buf[i - 2] && !buf[i - 1] &&
            !memcmp(buf + i, learner, L))
            return (uint32_t)buf[i + L] | (uint32_t)buf[i + L + 1] << 8 |
                   (uint32_t)buf[i + L + 2] << 16 | (uint32_t)buf[i + L + 3] << 24;
    fail_msg("%s: no learner block '%s'", path, learner);
    return 0;
}

/* Exact: a version-3 auto state, rewritten by hand into the version-2
 * layout with a fifth copy (arbitrary values) inserted as copy 1 in every
 * per-copy array, loads back as the version-3 state byte for byte. The
 * state is the one a logistic or softmax model has after ROWS rows, ROWS - 1
 * a multiple of the mixture's refresh period (8): the last row refreshed the
 * mixture weights from the losses, which is what the loader recomputes.
 * Layout of an auto state (linear.c auto_save): t, qsum (f64), k (u32),
 * aloss[M], api[M], ab[k][M] (f64), used (u64), then per bucket idx (u32),
 * kind (u8), sum, sumsq (f64), hot[2 + k M] (f32). */
static void v2_from_v3(const uint8_t *v3, size_t len, size_t head, tide_wbuf *out)
{
    const uint8_t *p = v3 + head;
    uint32_t k;
    uint64_t used;
    size_t at;
    tide_wbuf_init(out);
    tide_wbuf_put(out, v3, head);
    tide_wbuf_put(out, p, 16);   /* t, qsum */
    memcpy(&k, p + 16, 4);
    tide_wbuf_put(out, p + 16, 4);
    at = head + 20;
    for (uint32_t blk = 0; blk < 2 + k; blk++) {   /* aloss, api, then each class's ab */
        tide_wbuf_put(out, v3 + at, 8);
        tide_wbuf_f64(out, 12345.678 + blk);      /* the dropped copy */
        tide_wbuf_put(out, v3 + at + 8, 24);
        at += 32;
    }
    memcpy(&used, v3 + at, 8);
    tide_wbuf_put(out, v3 + at, 8);
    at += 8;
    for (uint64_t u = 0; u < used; u++) {
        tide_wbuf_put(out, v3 + at, 4 + 1 + 16 + 8);   /* idx, kind, sums, hot[0..1] */
        at += 29;
        for (uint32_t c = 0; c < k; c++) {
            tide_wbuf_put(out, v3 + at, 4);
            tide_wbuf_f32(out, -77.5f - (float)c);
            tide_wbuf_put(out, v3 + at + 4, 12);
            at += 16;
        }
    }
    assert_int_equal(at, len);
    /* the state version follows the name (u32 length + bytes) */
    {
        uint32_t nl;
        memcpy(&nl, v3, 4);
        assert_int_equal(out->data[4 + nl], 3);
        out->data[4 + nl] = 2;
    }
}

static void test_linear_v2_state_exact(void **st)
{
    (void)st;
    static const char *names[] = {"logistic", "softmax"};
    for (int q = 0; q < 2; q++) {
        const tide_learner_vt *vt = tide_learner_find(names[q]);
        tide_learner *l = mk(names[q], NULL, 0, SYN_BITS), *e = mk(names[q], NULL, 0, SYN_BITS),
                     *back;
        tide_fvec x;
        tide_feat_opts fo;
        tide_featurizer *fz;
        tide_wbuf b3, b0, b2, bb;
        tide_rbuf r;
        tide_err err;
        synth s = {.seed = 99};
        int K = n_classes_for(vt);
        size_t head;
        tide_feat_opts_init(&fo);
        fo.bits = SYN_BITS;
        assert_int_equal(tide_featurizer_new(&fo, &fz, &err), TIDE_OK);
        tide_fvec_init(&x);
        for (int row = 0; row < 8 * 50 + 1; row++) {
            tide_row rw;
            double y;
            synth_row(&s, &rw, K, &y);
            assert_int_equal(tide_featurize(fz, &rw, &x, &err), TIDE_OK);
            assert_int_equal(tide_learner_learn(l, &x, y, 1.0), TIDE_OK);
        }
        save_learner(l, &b3);
        /* the header's length: an empty learner's block minus its state
         * (t, qsum, k, aloss, api, ab for k = 1 or 2 classes, used = 0) */
        save_learner(e, &b0);
        head = b0.len - (20 + 2 * 32 + (size_t)(q ? 2 : 1) * 32 + 8);
        v2_from_v3(b3.data, b3.len, head, &b2);
        tide_rbuf_init(&r, b2.data, b2.len);
        if (tide_learner_load(&r, &back, &err))
            fail_msg("%s: %s", names[q], err.msg);
        assert_int_equal(r.pos, b2.len);
        save_learner(back, &bb);
        assert_int_equal(bb.len, b3.len);
        assert_memory_equal(bb.data, b3.data, b3.len);
        /* a truncated version-2 state fails cleanly */
        for (size_t cut = head; cut < b2.len; cut++) {
            tide_learner *t = NULL;
            tide_rbuf_init(&r, b2.data, cut);
            assert_true(tide_learner_load(&r, &t, &err) < 0);
            assert_null(t);
        }
        tide_learner_free(back);
        tide_learner_free(l);
        tide_learner_free(e);
        tide_wbuf_free(&b3);
        tide_wbuf_free(&b0);
        tide_wbuf_free(&b2);
        tide_wbuf_free(&bb);
        tide_fvec_free(&x);
        tide_featurizer_free(fz);
    }
}

/* Real files: tests/fixtures/<learner>-v2-<stream>-<rows>.tide were saved by
 * `tide replay --max-rows ROWS --save` at commit bea0bd2 (state version 2,
 * five copies, libm's expf/logf). Each must load, and then predict and learn
 * through the rest of its stream like a model this build trains on the same
 * rows: the copies kept are the same learners, so the two differ only by the
 * rounding of the exp and log they were trained with. The nag fixture (a
 * layout that did not change) must match exactly. */
static void test_linear_v2_state_loads(void **st)
{
    static const struct {
        const char *file, *learner, *data, *args;
        int rows, exact;
    } fx[] = {
        {"logistic-v2-elec2-2001.tide", "logistic", "elec2.csv", "", 2001, 0},
        {"logistic-nag-v2-elec2-2001.tide", "logistic", "elec2.csv", "--param optimizer=nag", 2001,
         1},
        {"softmax-v2-image_segments-1001.tide", "softmax", "image_segments.csv",
         "--learner softmax", 1001, 0},
        {"linear-v2-trump_approval-505.tide", "linear", "trump_approval.csv", "--learner linear",
         505, 0},
    };
    const char *tide = getenv("TIDE"), *data = getenv("TIDE_DATA");
    char dir[] = "/tmp/tide-v2-XXXXXX";
    (void)st;
    if (!tide)   /* tests/run.sh sets both; these are its defaults from the top */
        tide = "build/tide";
    if (!data)
        data = "../shared/data";
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
        char v2[512], v3[512], csv[512], cmd[2048];
        tide_model *m2, *m3;
        tide_reader *rd;
        tide_reader_opts ro;
        tide_row row;
        tide_fvec x2, x3;
        tide_wbuf b2, b3;
        tide_err e;
        int rc, n = 0, more = 0;
        double maxdiff = 0, err2 = 0, err3 = 0;
        snprintf(v2, sizeof v2, "tests/fixtures/%s", fx[i].file);
        snprintf(v3, sizeof v3, "%s/v3-%zu.tide", dir, i);
        snprintf(csv, sizeof csv, "%s/%s", data, fx[i].data);
        assert_int_equal(fixture_state_version(v2, fx[i].learner), 2);
        snprintf(cmd, sizeof cmd, "'%s' replay '%s' %s --max-rows %d --save '%s' --json >/dev/null",
                 tide, csv, fx[i].args, fx[i].rows, v3);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(fixture_state_version(v3, fx[i].learner), 3);
        if (tide_model_load_file(v2, &m2, &e))
            fail_msg("%s: %s", v2, e.msg);
        assert_int_equal(tide_model_load_file(v3, &m3, &e), TIDE_OK);
        if (fx[i].exact) {
            save_learner(m2->learner, &b2);
            save_learner(m3->learner, &b3);
            assert_int_equal(b2.len, b3.len);
            assert_memory_equal(b2.data + 4 + strlen(fx[i].learner) + 4,
                                b3.data + 4 + strlen(fx[i].learner) + 4,
                                b2.len - 4 - strlen(fx[i].learner) - 4);
            tide_wbuf_free(&b2);
            tide_wbuf_free(&b3);
        }
        /* both go on through the rest of the stream, progressively */
        tide_reader_opts_init(&ro);
        assert_int_equal(tide_reader_open(csv, &ro, &rd, &e), TIDE_OK);
        tide_fvec_init(&x2);
        tide_fvec_init(&x3);
        while ((rc = tide_reader_next(rd, &row, &e)) == TIDE_OK) {
            double y, o2[TIDE_MAX_CLASSES], o3[TIDE_MAX_CLASSES];
            int K = 1;
            if (++n <= fx[i].rows)
                continue;
            assert_int_equal(tide_featurize(m2->fz, &row, &x2, &e), TIDE_OK);
            assert_int_equal(tide_featurize(m3->fz, &row, &x3, &e), TIDE_OK);
            if (m2->labels) {
                int c2, c3;
                assert_int_equal(tide_labels_index(m2->labels, row.target, row.target_len, &c2, &e),
                                 TIDE_OK);
                assert_int_equal(tide_labels_index(m3->labels, row.target, row.target_len, &c3, &e),
                                 TIDE_OK);
                assert_int_equal(c2, c3);
                y = c2;
                tide_learner_grow_classes(m2->learner, tide_labels_count(m2->labels));
                tide_learner_grow_classes(m3->learner, tide_labels_count(m3->labels));
                K = tide_learner_classes(m2->learner);
            } else {
                y = row.target_num;
            }
            assert_int_equal(tide_learner_learn_predict(m2->learner, &x2, y, 1.0, o2), TIDE_OK);
            assert_int_equal(tide_learner_learn_predict(m3->learner, &x3, y, 1.0, o3), TIDE_OK);
            for (int k = 0; k < K; k++) {
                double d = fabs(o2[k] - o3[k]) / (m2->labels ? 1.0 : fabs(o3[k]) + 1.0);
                if (d > maxdiff)
                    maxdiff = d;
            }
            if (fx[i].exact && memcmp(o2, o3, (size_t)K * sizeof o2[0]))
                fail_msg("%s: row %d: %.17g against %.17g", fx[i].file, n, o2[0], o3[0]);
            if (!m2->labels) {
                err2 += fabs(o2[0] - y);
                err3 += fabs(o3[0] - y);
            }
            more++;
        }
        assert_int_equal(rc, TIDE_EOF);
        assert_true(more >= 100);
        /* the same model up to the rounding it was trained with */
        if (maxdiff > 1e-3)
            fail_msg("%s: predictions differ by up to %g from a model trained anew", fx[i].file,
                     maxdiff);
        if (!m2->labels && fabs(err2 - err3) > 1e-3 * err3)
            fail_msg("%s: MAE %g against %g", fx[i].file, err2 / more, err3 / more);
        tide_fvec_free(&x2);
        tide_fvec_free(&x3);
        tide_reader_free(rd);
        tide_model_free(m2);
        tide_model_free(m3);
        unlink(v3);
    }
    rmdir(dir);
}

static void test_model_new_bits_mismatch(void **st)
{
    (void)st;
    tide_feat_opts fo;
    tide_featurizer *fz;
    tide_model *m = NULL;
    tide_err e;
    /* found by this test under ASan (message read fz/learner after freeing
     * them), fixed in dfa3f27 */
    tide_feat_opts_init(&fo);
    fo.bits = 8;
    assert_int_equal(tide_featurizer_new(&fo, &fz, &e), TIDE_OK);
    /* bits differ: refused, both parts are freed by the call, the message
     * names both sizes (ASan checks the freeing and the message) */
    assert_int_equal(tide_model_new(fz, mk("logistic", NULL, 0, 10), &m, &e), TIDE_ERR_ARG);
    assert_null(m);
    assert_non_null(strstr(e.msg, "(8)"));
    assert_non_null(strstr(e.msg, "(10)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_logistic_steps),
        cmocka_unit_test(test_sgd_power_t_and_l2),
        cmocka_unit_test(test_adagrad_steps),
        cmocka_unit_test(test_ftrl_steps),
        cmocka_unit_test(test_ftrl_l1_l2),
        cmocka_unit_test(test_nag_steps),
        cmocka_unit_test(test_gradient_finite_difference),
        cmocka_unit_test(test_softmax_grows_classes),
        cmocka_unit_test(test_softmax_auto_sums_to_one),
        cmocka_unit_test(test_linear_converges),
        cmocka_unit_test(test_auto_logistic_accuracy),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_gnb_gaussian_posterior),
        cmocka_unit_test(test_gnb_indicator_laplace),
        cmocka_unit_test(test_gnb_unseen_class),
        cmocka_unit_test(test_importance_weights),
        cmocka_unit_test(test_labels_binary),
        cmocka_unit_test(test_labels_multiclass),
        cmocka_unit_test(test_labels_positive),
        cmocka_unit_test(test_every_learner_save_load_clone),
        cmocka_unit_test(test_every_learner_learn_predict),
        cmocka_unit_test(test_model_header_layout),
        cmocka_unit_test(test_model_every_byte_flip),
        cmocka_unit_test(test_model_every_truncation),
        cmocka_unit_test(test_model_newer_version),
        cmocka_unit_test(test_model_payload_corruption),
        cmocka_unit_test(test_model_file_round_trip),
        cmocka_unit_test(test_model_new_checks),
        cmocka_unit_test(test_model_new_bits_mismatch),
        cmocka_unit_test(test_linear_v2_state_exact),
        cmocka_unit_test(test_linear_v2_state_loads),
        cmocka_unit_test(test_auto_exp_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
