/* test_eval.c — streaming metrics (src/eval): hand-computed values, windowed
 * = fresh object over the window, AUC against an O(n^2) pairwise reference,
 * the cumulative AUC's grid phase (by hand and against a brute-force grid
 * reference), weights, clipping, R² edge cases, save/load round trips
 * (across the grid switch) and format-3 snapshots. */
#include "testutil.h"
#include "tide/eval.h"
#include "eval_v3_fixtures.h"

#define TOL 1e-12

static tide_metrics *mk(tide_metric_kind kind, size_t window)
{
    tide_metrics *m = NULL;
    assert_int_equal(tide_metrics_new(kind, window, &m), TIDE_OK);
    assert_non_null(m);
    return m;
}

static void add_bin(tide_metrics *m, int y, double p1, double w)
{
    double pr[2] = {1 - p1, p1};
    assert_int_equal(tide_metrics_add_class(m, y, pr, 2, w), TIDE_OK);
}

/* The hand example below: (y, p1) = (1,.8) (0,.6) (1,.3) (0,.1) (1,.6). */
static void add_hand_example(tide_metrics *m)
{
    add_bin(m, 1, .8, 1);
    add_bin(m, 0, .6, 1);
    add_bin(m, 1, .3, 1);
    add_bin(m, 0, .1, 1);
    add_bin(m, 1, .6, 1);
}

/* Binary sequence (y, p1): (1,.8) (0,.6) (1,.3) (0,.1) (1,.6).
 * Predictions (argmax): 1 1 0 0 1 -> correct: yes no no yes yes.
 *  accuracy = 3/5 = 0.6
 *  log loss = -ln(.8 * .4 * .3 * .9 * .6) / 5 = -ln(0.05184)/5 = 0.5919186453876235
 *  F1(class 1): TP = 2 (#1, #5), FP = 1 (#2), FN = 1 (#3) -> 2*2/(2*2+1+1) = 2/3
 *  AUC: pos {.8,.3,.6} x neg {.6,.1}: (.8,.6)=1 (.8,.1)=1 (.3,.6)=0 (.3,.1)=1
 *       (.6,.6)=1/2 (.6,.1)=1 -> 4.5/6 = 0.75
 * Window 3 = last three (1,.3) (0,.1) (1,.6):
 *  accuracy 2/3; log loss = -ln(.3 * .9 * .6)/3 = 0.6067196479165843;
 *  F1: TP 1, FP 0, FN 1 -> 2/3; AUC: pos {.3,.6} > neg {.1} -> 1. */
static void test_binary_hand(void **st)
{
    (void)st;
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 3);
    tide_metric_values v;
    assert_int_equal(tide_metrics_kind(m), TIDE_METRIC_CLASSIFY);
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 0);
    assert_true(isnan(v.accuracy) && isnan(v.log_loss) && isnan(v.f1) && isnan(v.roc_auc));
    add_hand_example(m);
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 5);
    assert_near(v.accuracy, 0.6, TOL);
    assert_near(v.log_loss, 0.5919186453876235, TOL);
    assert_near(v.f1, 2.0 / 3.0, TOL);
    assert_near(v.roc_auc, 0.75, TOL);
    assert_true(isnan(v.mae) && isnan(v.rmse) && isnan(v.r2));
    tide_metrics_get(m, 1, &v);
    assert_int_equal(v.n, 3);
    assert_near(v.accuracy, 2.0 / 3.0, TOL);
    assert_near(v.log_loss, 0.6067196479165843, TOL);
    assert_near(v.f1, 2.0 / 3.0, TOL);
    assert_near(v.roc_auc, 1.0, TOL);
    /* reset empties both views */
    tide_metrics_reset(m);
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 0);
    assert_true(isnan(v.accuracy));
    tide_metrics_get(m, 1, &v);
    assert_int_equal(v.n, 0);
    add_bin(m, 0, .2, 1);
    tide_metrics_get(m, 0, &v);
    assert_near(v.accuracy, 1.0, TOL);
    /* only negatives so far: AUC undefined; no positive anywhere: F1 = 0 */
    assert_true(isnan(v.roc_auc));
    assert_near(v.f1, 0.0, TOL);
    tide_metrics_free(m);
}

/* Same sequence with weights (2,1,1,1,3):
 *  accuracy = (2 + 1 + 3)/8 = 0.75
 *  log loss = (2(-ln .8) - ln .4 - ln .3 - ln .9 + 3(-ln .6))/8 = 0.5255485032230386
 *  F1: TP = 2+3 = 5, FP = 1, FN = 1 -> 10/12
 *  AUC: W+ = 6, W- = 2; concordant = 2(1+1) + 1(0+1) + 3(1/2+1) = 9.5 -> 9.5/12
 * A zero-weight example changes n but no value. */
static void test_weights(void **st)
{
    (void)st;
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
    tide_metric_values v;
    add_bin(m, 1, .8, 2);
    add_bin(m, 0, .6, 1);
    add_bin(m, 1, .3, 1);
    add_bin(m, 0, .1, 1);
    add_bin(m, 1, .6, 3);
    add_bin(m, 0, .99, 0);
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 6);
    assert_near(v.accuracy, 0.75, TOL);
    assert_near(v.log_loss, 0.5255485032230386, TOL);
    assert_near(v.f1, 10.0 / 12.0, TOL);
    assert_near(v.roc_auc, 9.5 / 12.0, TOL);
    /* windowed view of a window-less object is empty */
    tide_metrics_get(m, 1, &v);
    assert_int_equal(v.n, 0);
    assert_true(isnan(v.accuracy));
    tide_metrics_free(m);

    /* weight k == the same example added k times (random stream) */
    uint64_t s = 99;
    tide_metrics *a = mk(TIDE_METRIC_CLASSIFY, 0), *b = mk(TIDE_METRIC_CLASSIFY, 0);
    tide_metrics *ra = mk(TIDE_METRIC_REGRESS, 0), *rb = mk(TIDE_METRIC_REGRESS, 0);
    for (int i = 0; i < 300; i++) {
        int k = (int)(tide_test_rand(&s) % 4);
        int y = (int)(tide_test_rand(&s) % 2);
        double p = floor(tide_test_uniform(&s) * 20) / 20;
        double ty = tide_test_uniform(&s) * 10, py = ty + tide_test_uniform(&s) - 0.5;
        add_bin(a, y, p, k);
        assert_int_equal(tide_metrics_add_reg(ra, ty, py, k), TIDE_OK);
        for (int j = 0; j < k; j++) {
            add_bin(b, y, p, 1);
            assert_int_equal(tide_metrics_add_reg(rb, ty, py, 1), TIDE_OK);
        }
    }
    tide_metric_values va, vb;
    tide_metrics_get(a, 0, &va);
    tide_metrics_get(b, 0, &vb);
    assert_near(va.accuracy, vb.accuracy, 1e-12);
    assert_near(va.log_loss, vb.log_loss, 1e-12);
    assert_near(va.f1, vb.f1, 1e-12);
    assert_near(va.roc_auc, vb.roc_auc, 1e-12);
    tide_metrics_get(ra, 0, &va);
    tide_metrics_get(rb, 0, &vb);
    assert_near(va.mae, vb.mae, 1e-12);
    assert_near(va.rmse, vb.rmse, 1e-12);
    assert_near(va.r2, vb.r2, 1e-10);
    tide_metrics_free(a);
    tide_metrics_free(b);
    tide_metrics_free(ra);
    tide_metrics_free(rb);
}

/* Clipping: p(y) = 0 -> -ln(1e-15) = 34.538776394910684;
 * p(y) = 1 -> -ln(1 - 1e-15) ~ 1e-15 (not 0); a label the model has never
 * seen (y = 2 with n_classes = 2) has probability 0 -> 34.5387..., and makes
 * the stream multiclass (AUC NaN). */
static void test_logloss_clip(void **st)
{
    (void)st;
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
    tide_metric_values v;
    double p0[2] = {1.0, 0.0};
    assert_int_equal(tide_metrics_add_class(m, 1, p0, 2, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.log_loss, 34.538776394910684, 1e-9);
    assert_true(isfinite(v.log_loss));
    tide_metrics_reset(m);
    assert_int_equal(tide_metrics_add_class(m, 0, p0, 2, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_true(v.log_loss > 0);
    assert_near(v.log_loss, 1e-15, 1e-17);
    /* y = 0 with p(1) = 1: as River/sklearn, clip p(1) to 1 - 1e-15, which
     * is 1 - 9.992007221626409e-16 in binary64, so the loss is
     * -ln(9.992007221626409e-16) = 34.53957599234088 */
    tide_metrics_reset(m);
    double p1[2] = {0.0, 1.0};
    assert_int_equal(tide_metrics_add_class(m, 0, p1, 2, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.log_loss, 34.53957599234088, 1e-9);
    /* multiclass: the true class's probability itself is clipped */
    tide_metrics_reset(m);
    double p3[3] = {0.0, 1.0, 0.0};
    assert_int_equal(tide_metrics_add_class(m, 0, p3, 3, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.log_loss, 34.538776394910684, 1e-9);
    tide_metrics_reset(m);
    assert_int_equal(tide_metrics_add_class(m, 2, p0, 2, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.log_loss, 34.538776394910684, 1e-9);
    assert_true(isnan(v.roc_auc));
    tide_metrics_free(m);
}

/* Multiclass, 3 classes (n_classes = 4 passed: class 3 never occurs, so it is
 * not "seen" and not averaged). (y, pred): (0,0) (1,1) (2,1) (0,2) (1,1) (2,2)
 *  class 0: TP 1, #true 2, #pred 1 -> F1 = 2/(2+1) = 2/3
 *  class 1: TP 2, #true 2, #pred 3 -> 4/5
 *  class 2: TP 1, #true 2, #pred 2 -> 2/4
 *  macro F1 = (2/3 + 4/5 + 1/2)/3 = 0.6555...; accuracy = 4/6.
 * Window 3 = (0,2) (1,1) (2,2): class 0: TP 0 -> 0; class 1: 2/2 = 1;
 *  class 2: TP 1, #true 1, #pred 2 -> 2/3; macro = (0 + 1 + 2/3)/3. */
static void test_multiclass_hand(void **st)
{
    (void)st;
    static const int ys[6] = {0, 1, 2, 0, 1, 2}, preds[6] = {0, 1, 1, 2, 1, 2};
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 3);
    tide_metric_values v;
    for (int i = 0; i < 6; i++) {
        double pr[4] = {0.1, 0.1, 0.1, 0.0};
        pr[preds[i]] = 0.7;
        assert_int_equal(tide_metrics_add_class(m, ys[i], pr, 4, 1), TIDE_OK);
    }
    tide_metrics_get(m, 0, &v);
    assert_near(v.accuracy, 4.0 / 6.0, TOL);
    assert_near(v.f1, (2.0 / 3.0 + 0.8 + 0.5) / 3.0, TOL);
    assert_near(v.log_loss, -(4 * log(0.7) + 2 * log(0.1)) / 6, TOL);
    assert_true(isnan(v.roc_auc));
    tide_metrics_get(m, 1, &v);
    assert_near(v.accuracy, 2.0 / 3.0, TOL);
    assert_near(v.f1, (0.0 + 1.0 + 2.0 / 3.0) / 3.0, TOL);
    tide_metrics_free(m);

    /* classes appear over time: start with 2-class probabilities, then 3 */
    m = mk(TIDE_METRIC_CLASSIFY, 0);
    double p2[2] = {0.3, 0.7}, p3[3] = {0.2, 0.2, 0.6};
    assert_int_equal(tide_metrics_add_class(m, 1, p2, 2, 1), TIDE_OK);   /* (1,1) */
    tide_metrics_get(m, 0, &v);
    assert_near(v.f1, 1.0, TOL);                                       /* binary: class 1 */
    assert_int_equal(tide_metrics_add_class(m, 2, p3, 3, 1), TIDE_OK);   /* (2,2) */
    assert_int_equal(tide_metrics_add_class(m, 0, p3, 3, 1), TIDE_OK);   /* (0,2) */
    /* class 0: TP0 -> 0; class 1: 1; class 2: TP1 #true1 #pred2 -> 2/3 */
    tide_metrics_get(m, 0, &v);
    assert_near(v.f1, (0 + 1 + 2.0 / 3.0) / 3.0, TOL);
    assert_near(v.accuracy, 2.0 / 3.0, TOL);
    tide_metrics_free(m);
}

/* sklearn's r2_score doc example, by hand: y = 3, -0.5, 2, 7; ŷ = 2.5, 0, 2, 8
 *  residuals 0.5, -0.5, 0, -1 -> MAE = 2/4 = 0.5, MSE = 1.5/4 = 0.375
 *  ȳ = 11.5/4 = 2.875; SS_tot = .125² + 3.375² + .875² + 4.125² = 29.1875
 *  R² = 1 - 1.5/29.1875 = 0.9486081370449679
 * Weighted: y = 1 (w 1), 3 (w 2), ŷ = 2, 2 -> MAE = 3/3 = 1, RMSE = 1;
 *  ȳ_w = 7/3, SS_tot = (4/3)² + 2(2/3)² = 8/3, SS_res = 3 -> R² = 1 - 9/8. */
static void test_regression_hand(void **st)
{
    (void)st;
    tide_metrics *m = mk(TIDE_METRIC_REGRESS, 2);
    tide_metric_values v;
    static const double y[4] = {3, -0.5, 2, 7}, p[4] = {2.5, 0.0, 2, 8};
    assert_int_equal(tide_metrics_add_reg(m, y[0], p[0], 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.mae, 0.5, TOL);
    assert_true(isnan(v.r2));   /* one example: SS_tot undefined */
    for (int i = 1; i < 4; i++)
        assert_int_equal(tide_metrics_add_reg(m, y[i], p[i], 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 4);
    assert_near(v.mae, 0.5, TOL);
    assert_near(v.rmse, sqrt(0.375), TOL);
    assert_near(v.r2, 0.9486081370449679, TOL);
    assert_true(isnan(v.accuracy) && isnan(v.roc_auc));
    /* window 2 = (2, 2) (7, 8): MAE 0.5, RMSE sqrt(1/2); ȳ 4.5, SS_tot 12.5 */
    tide_metrics_get(m, 1, &v);
    assert_near(v.mae, 0.5, TOL);
    assert_near(v.rmse, sqrt(0.5), TOL);
    assert_near(v.r2, 1 - 1.0 / 12.5, TOL);
    tide_metrics_free(m);

    m = mk(TIDE_METRIC_REGRESS, 0);
    assert_int_equal(tide_metrics_add_reg(m, 1, 2, 1), TIDE_OK);
    assert_int_equal(tide_metrics_add_reg(m, 3, 2, 2), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.mae, 1.0, TOL);
    assert_near(v.rmse, 1.0, TOL);
    assert_near(v.r2, -0.125, TOL);
    tide_metrics_free(m);
}

/* R² edge cases: constant target -> NaN (SS_tot = 0); zero weights do not
 * count towards the two examples R² needs; all-zero weights -> NaN values. */
static void test_r2_edges(void **st)
{
    (void)st;
    tide_metrics *m = mk(TIDE_METRIC_REGRESS, 3);
    tide_metric_values v;
    for (int i = 0; i < 5; i++)
        assert_int_equal(tide_metrics_add_reg(m, 5.0, 4.0 + i, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_true(isnan(v.r2));
    assert_near(v.mae, (1 + 0 + 1 + 2 + 3) / 5.0, TOL);
    tide_metrics_get(m, 1, &v);
    assert_true(isnan(v.r2));
    /* a different y makes it defined: y = 5,5,5,5,5,8; ȳ = 5.5, SS_tot = 5(.25) + 6.25 = 7.5
     * residuals 1,0,-1,-2,-3,0 -> SS_res = 15 -> R² = 1 - 15/7.5 = -1 */
    assert_int_equal(tide_metrics_add_reg(m, 8.0, 8.0, 1), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.r2, -1.0, TOL);
    /* window: (5,7) (5,8) (8,8): ȳ = 6, SS_tot = 1 + 1 + 4 = 6, SS_res = 4 + 9 = 13 */
    tide_metrics_get(m, 1, &v);
    assert_near(v.r2, 1 - 13.0 / 6.0, TOL);
    /* the window turns constant again after evicting the 8: NaN again */
    for (int i = 0; i < 3; i++)
        assert_int_equal(tide_metrics_add_reg(m, 5.0, 5.0, 1), TIDE_OK);
    tide_metrics_get(m, 1, &v);
    assert_true(isnan(v.r2));
    assert_near(v.mae, 0.0, TOL);
    tide_metrics_free(m);

    m = mk(TIDE_METRIC_REGRESS, 0);
    assert_int_equal(tide_metrics_add_reg(m, 1, 2, 0), TIDE_OK);
    assert_int_equal(tide_metrics_add_reg(m, 3, 2, 0), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 2);
    assert_true(isnan(v.mae) && isnan(v.rmse) && isnan(v.r2));
    assert_int_equal(tide_metrics_add_reg(m, 1, 1, 1), TIDE_OK);
    assert_int_equal(tide_metrics_add_reg(m, 2, 1, 0), TIDE_OK);
    tide_metrics_get(m, 0, &v);
    assert_near(v.mae, 0.0, TOL);
    assert_true(isnan(v.r2));   /* one weighted example */
    tide_metrics_free(m);
}

/* ---- random streams ------------------------------------------------------ */

typedef struct ex {
    int y, nc;
    double p[3];
    double w;
    double ty, py;
} ex;

/* Scores on a coarse grid half of the time so ties are common. */
static void rand_ex(uint64_t *s, int ncls, ex *e)
{
    double u = tide_test_uniform(s);
    double p1 = u < 0.5 ? floor(tide_test_uniform(s) * 10) / 10 : tide_test_uniform(s);
    int y = (int)(tide_test_rand(s) % (uint64_t)ncls);
    if (ncls == 2 && tide_test_uniform(s) < 0.3)
        y = p1 > 0.5;   /* some signal */
    e->y = y;
    e->nc = ncls;
    if (ncls == 2) {
        e->p[0] = 1 - p1;
        e->p[1] = p1;
    } else {
        double a = tide_test_uniform(s), b = tide_test_uniform(s) * (1 - a);
        e->p[0] = floor(a * 4) / 4;
        e->p[1] = floor(b * 4) / 4;
        e->p[2] = 1 - e->p[0] - e->p[1];
    }
    double r = tide_test_uniform(s);
    e->w = r < 0.1 ? 0.0 : r < 0.3 ? 2.5 : 1.0;
    e->ty = floor(tide_test_uniform(s) * 8);
    e->py = e->ty + floor((tide_test_uniform(s) - 0.5) * 6);
}

static void feed(tide_metrics *m, const ex *e)
{
    if (tide_metrics_kind(m) == TIDE_METRIC_CLASSIFY)
        assert_int_equal(tide_metrics_add_class(m, e->y, e->p, e->nc, e->w), TIDE_OK);
    else
        assert_int_equal(tide_metrics_add_reg(m, e->ty, e->py, e->w), TIDE_OK);
}

static void same_or_nan(double a, double b, double tol, const char *what)
{
    if (isnan(a) || isnan(b)) {
        if (!(isnan(a) && isnan(b)))
            fail_msg("%s: %.17g vs %.17g", what, a, b);
        return;
    }
    if (!(fabs(a - b) <= tol * (1 + fabs(b))))
        fail_msg("%s: %.17g vs %.17g", what, a, b);
}

static void compare_values(const tide_metric_values *a, const tide_metric_values *b, double tol)
{
    assert_int_equal(a->n, b->n);
    same_or_nan(a->accuracy, b->accuracy, tol, "accuracy");
    same_or_nan(a->log_loss, b->log_loss, tol, "log_loss");
    same_or_nan(a->f1, b->f1, tol, "f1");
    same_or_nan(a->roc_auc, b->roc_auc, tol, "roc_auc");
    same_or_nan(a->mae, b->mae, tol, "mae");
    same_or_nan(a->rmse, b->rmse, tol, "rmse");
    same_or_nan(a->r2, b->r2, tol, "r2");
}

/* Windowed values == cumulative values of a fresh object fed the last
 * `window` examples, for several seeds, window lengths and both kinds,
 * checked at many points (including many window rebuilds). */
static void test_window_equals_fresh(void **st)
{
    (void)st;
    static const size_t windows[] = {1, 7, 64, 250};
    enum { N = 1500 };
    ex *hist = malloc(N * sizeof *hist);
    assert_non_null(hist);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        for (size_t wi = 0; wi < sizeof windows / sizeof *windows; wi++) {
            for (int kind = 0; kind < 3; kind++) {
                size_t W = windows[wi];
                uint64_t s = seed * 1000 + W;
                int ncls = kind == 1 ? 3 : 2;
                tide_metric_kind k = kind == 2 ? TIDE_METRIC_REGRESS : TIDE_METRIC_CLASSIFY;
                tide_metrics *m = mk(k, W);
                for (int i = 0; i < N; i++) {
                    rand_ex(&s, ncls, &hist[i]);
                    feed(m, &hist[i]);
                    if (i % 113 == 0 || i == N - 1) {
                        tide_metrics *f = mk(k, 0);
                        size_t lo = (size_t)i + 1 > W ? (size_t)i + 1 - W : 0;
                        for (size_t j = lo; j <= (size_t)i; j++)
                            feed(f, &hist[j]);
                        tide_metric_values vw, vf;
                        tide_metrics_get(m, 1, &vw);
                        tide_metrics_get(f, 0, &vf);
                        compare_values(&vw, &vf, 1e-9);
                        tide_metrics_free(f);
                    }
                }
                tide_metrics_free(m);
            }
        }
    }
    free(hist);
}

/* Weighted pairwise AUC, O(n^2), ties 1/2. */
static double auc_ref(const double *sc, const int *y, const double *w, size_t n)
{
    double num = 0, wp = 0, wn = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 1)
            wp += w[i];
        else
            wn += w[i];
        if (y[i] != 1)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (y[j] == 1)
                continue;
            num += w[i] * w[j] * (sc[i] > sc[j] ? 1.0 : sc[i] == sc[j] ? 0.5 : 0.0);
        }
    }
    return wp > 0 && wn > 0 ? num / (wp * wn) : NAN;
}

static void test_auc_pairwise(void **st)
{
    (void)st;
    enum { N = 700, W = 90 };
    double *sc = malloc(N * sizeof *sc), *w = malloc(N * sizeof *w);
    int *y = malloc(N * sizeof *y);
    assert_true(sc && w && y);
    for (uint64_t seed = 11; seed < 16; seed++) {
        uint64_t s = seed;
        tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, W);
        for (size_t i = 0; i < N; i++) {
            ex e;
            rand_ex(&s, 2, &e);
            sc[i] = e.p[1];
            y[i] = e.y;
            w[i] = seed == 11 ? 1.0 : e.w;   /* seed 11: unweighted */
            add_bin(m, y[i], sc[i], w[i]);
            if (i % 50 == 49 || i == N - 1) {
                tide_metric_values v;
                tide_metrics_get(m, 0, &v);
                same_or_nan(v.roc_auc, auc_ref(sc, y, w, i + 1), 1e-12, "cumulative auc");
                size_t lo = i + 1 > W ? i + 1 - W : 0;
                tide_metrics_get(m, 1, &v);
                same_or_nan(v.roc_auc, auc_ref(sc + lo, y + lo, w + lo, i + 1 - lo), 1e-12,
                            "windowed auc");
            }
        }
        tide_metrics_free(m);
    }
    /* -0.0 is the score 0 (the radix sort orders by bits): pos at 0 vs
     * neg at 0 ties (1/2), vs neg at 0.5 loses (0) -> 0.5/2 = 0.25 */
    {
        tide_metrics *z = mk(TIDE_METRIC_CLASSIFY, 8);
        tide_metric_values vz;
        double pz[2] = {1.0, -0.0};
        assert_int_equal(tide_metrics_add_class(z, 1, pz, 2, 1), TIDE_OK);
        add_bin(z, 0, 0.0, 1);
        add_bin(z, 0, 0.5, 1);
        tide_metrics_get(z, 0, &vz);
        assert_near(vz.roc_auc, 0.25, TOL);
        tide_metrics_get(z, 1, &vz);
        assert_near(vz.roc_auc, 0.25, TOL);
        tide_metrics_free(z);
    }
    /* all scores tied -> 0.5; perfectly ranked -> 1; reversed -> 0 */
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
    tide_metric_values v;
    for (int i = 0; i < 10; i++)
        add_bin(m, i % 2, 0.5, 1);
    tide_metrics_get(m, 0, &v);
    assert_near(v.roc_auc, 0.5, TOL);
    tide_metrics_reset(m);
    for (int i = 0; i < 10; i++)
        add_bin(m, i % 2, i % 2 ? 0.9 - i * 0.01 : 0.1 + i * 0.01, 1);
    tide_metrics_get(m, 0, &v);
    assert_near(v.roc_auc, 1.0, TOL);
    tide_metrics_reset(m);
    for (int i = 0; i < 10; i++)
        add_bin(m, i % 2, i % 2 ? 0.1 : 0.9, 1);
    tide_metrics_get(m, 0, &v);
    assert_near(v.roc_auc, 0.0, TOL);
    tide_metrics_free(m);
    free(sc);
    free(w);
    free(y);
}

static int cmp_pair(const void *a, const void *b)
{
    const double *x = a, *z = b;
    return (x[0] > z[0]) - (x[0] < z[0]);
}

/* Pair sum of (sc, y, w)[0..n), exactly (sorted, ties 1/2). */
static double pairs_exact(const double *sc, const int *y, const double *w, size_t n)
{
    double *t = malloc(3 * n * sizeof *t), nb = 0, conc = 0;
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        t[3 * i] = sc[i];
        t[3 * i + 1] = y[i] == 1;
        t[3 * i + 2] = w[i];
    }
    qsort(t, n, 3 * sizeof *t, cmp_pair);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double gp = 0, gn = 0;
        for (; j < n && t[3 * j] == t[3 * i]; j++) {
            if (t[3 * j + 1] > 0)
                gp += t[3 * j + 2];
            else
                gn += t[3 * j + 2];
        }
        conc += gp * (nb + 0.5 * gn);
        nb += gn;
        i = j;
    }
    free(t);
    return conc;
}

/* Weighted AUC by sorting (rank sums over tie groups), O(n log n). */
static double auc_sorted_ref(const double *sc, const int *y, const double *w, size_t n)
{
    double wp = 0, wn = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 1)
            wp += w[i];
        else
            wn += w[i];
    }
    return wp > 0 && wn > 0 ? pairs_exact(sc, y, w, n) / (wp * wn) : NAN;
}

/* Long streams cross the cumulative AUC's merge points (the buffer holds
 * 4096 adds while fewer than 8192 distinct scores are merged, then grows
 * with them, up to 32768): checked against the sorted reference at 52
 * points, itself checked against the pairwise one on a prefix. */
static void test_auc_long_stream(void **st)
{
    (void)st;
    enum { N = 75000 };
    size_t at[52];
    for (size_t i = 0; i < 50; i++)
        at[i] = 1499 * (i + 1);
    at[50] = 74999;
    at[51] = N;
    double *sc = malloc(N * sizeof *sc), *w = malloc(N * sizeof *w);
    int *y = malloc(N * sizeof *y);
    uint64_t s = 4242;
    size_t k = 0;
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
    assert_true(sc && w && y);
    for (size_t i = 0; i < N; i++) {
        ex e;
        rand_ex(&s, 2, &e);
        sc[i] = e.p[1];
        y[i] = e.y;
        w[i] = e.w;
        add_bin(m, y[i], sc[i], w[i]);
        if (k < sizeof at / sizeof *at && i + 1 == at[k]) {
            tide_metric_values v;
            tide_metrics_get(m, 0, &v);
            same_or_nan(v.roc_auc, auc_sorted_ref(sc, y, w, i + 1), 1e-12, "long auc");
            k++;
        }
    }
    same_or_nan(auc_sorted_ref(sc, y, w, 1500), auc_ref(sc, y, w, 1500), 1e-12, "refs agree");
    tide_metrics_free(m);
    free(sc);
    free(w);
    free(y);
}

/* Beyond TIDE_METRICS_AUC_EXACT_KEYS distinct scores the cumulative AUC
 * switches to a 2^-15 grid for new pairs; on these continuous scores it stays
 * within 1e-6 of the exact value (computed here by sorting: rank sum). */
static void test_auc_beyond_exact_budget(void **st)
{
    (void)st;
    const size_t n = TIDE_METRICS_AUC_EXACT_KEYS + 40000;
    double *pairs = malloc(2 * n * sizeof *pairs);
    uint64_t s = 5;
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
    assert_non_null(pairs);
    for (size_t i = 0; i < n; i++) {
        int y = tide_test_uniform(&s) < 0.4;
        double p = tide_test_uniform(&s);
        p = y ? sqrt(p) : p;   /* positives score higher: AUC 2/3 in expectation */
        pairs[2 * i] = p;
        pairs[2 * i + 1] = y;
        add_bin(m, y, p, 1);
    }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_pair);
    double neg_below = 0, conc = 0, np = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double tp = 0, tn = 0;
        while (j < n && pairs[2 * j] == pairs[2 * i]) {
            if (pairs[2 * j + 1] > 0)
                tp++;
            else
                tn++;
            j++;
        }
        conc += tp * (neg_below + 0.5 * tn);
        neg_below += tn;
        np += tp;
        i = j;
    }
    double ref = conc / (np * neg_below);
    tide_metric_values v;
    tide_metrics_get(m, 0, &v);
    assert_near(v.roc_auc, ref, 1e-6);
    assert_near(v.roc_auc, 2.0 / 3.0, 0.01);
    tide_metrics_free(m);
    free(pairs);
}

/* ---- the grid regime of the cumulative AUC ----------------------------------- */

/* Examples whose distinct scores spend the exact budget: the merges come
 * after 4096, 8192, 12288, 20480, 36864 and 69632 distinct scores (the
 * buffer is about half the merged keys), so with all scores distinct the
 * switch to the 2^-15 grid is at the merge before example 69633. */
#define GRID_SWITCH 69632

/* Hand-computed. Before the switch: negatives at 0.25 + i 2^-40 (i < 69631,
 * all in grid cell 8192) and one positive above them at 0.25 + 69631 2^-40:
 * 69631 exact concordant pairs (on the grid they would be ties). After:
 *  P1 (weight wp1) at 0.25 + 2^-20: same cell as the 69631 negatives ->
 *     ties, wp1 * 69631 / 2 (exactly it would be above them);
 *  P2 at 0.5: above all of them -> 69631;
 *  N1 at 0.25 + 2^-14 (cell 8194): below P2 -> 1, above the first positive
 *     and P1 -> 0.
 * W+ = 2 + wp1, W- = 69632. */
static void test_auc_grid_hand(void **st)
{
    (void)st;
    for (int wp1 = 1; wp1 <= 2; wp1++) {
        tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
        tide_metric_values v;
        for (int i = 0; i < GRID_SWITCH; i++)
            add_bin(m, i == GRID_SWITCH - 1, 0.25 + i * 0x1p-40, 1);
        tide_metrics_get(m, 0, &v);
        assert_true(v.roc_auc == 1.0);
        add_bin(m, 1, 0.25 + 0x1p-20, wp1);   /* the first example after the switch */
        tide_metrics_get(m, 0, &v);
        assert_true(v.roc_auc == (69631 + wp1 * 69631 / 2.0) / ((1.0 + wp1) * 69631));
        add_bin(m, 1, 0.5, 1);
        add_bin(m, 0, 0.25 + 0x1p-14, 1);
        tide_metrics_get(m, 0, &v);
        assert_int_equal(v.n, GRID_SWITCH + 3);
        if (!(v.roc_auc == (69631 + wp1 * 69631 / 2.0 + 69631 + 1) / ((2.0 + wp1) * 69632)))
            fail_msg("wp1 %d: %.17g = %.17g / %.17g", wp1, v.roc_auc, v.roc_auc * (2.0 + wp1) * 69632,
                     (2.0 + wp1) * 69632);
        /* reset: exact again (the hand example of test_binary_hand) */
        tide_metrics_reset(m);
        add_hand_example(m);
        tide_metrics_get(m, 0, &v);
        assert_true(v.roc_auc == 0.75);
        tide_metrics_free(m);
    }
}


/* After the switch: the value is the exact pair sum of the examples before
 * it plus, by brute force O(n m), every pair with a later example compared
 * on the grid (floor(s 2^15), same cell = tie). Weights 0, 1, 2.5: every
 * sum is exact in binary64, so the values must be equal, not just close. */
static void test_auc_grid_bruteforce(void **st)
{
    (void)st;
    enum { POST = 2500 };
    const size_t n = GRID_SWITCH + POST;
    double *sc = malloc(n * sizeof *sc), *w = malloc(n * sizeof *w);
    int *y = malloc(n * sizeof *y);
    uint32_t *cell = malloc(n * sizeof *cell);
    uint64_t s = 2026;
    double conc, wp = 0, wn = 0;
    tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, 0);
    assert_true(sc && w && y && cell);
    for (size_t i = 0; i < n; i++) {
        double u = tide_test_uniform(&s), r = tide_test_uniform(&s);
        if (i < GRID_SWITCH) {
            sc[i] = (i + u) / GRID_SWITCH;   /* distinct */
        } else {
            int kind = (int)(tide_test_rand(&s) % 5);
            sc[i] = kind == 0 ? u
                  : kind == 1 ? floor(u * 20) / 20                      /* ties */
                  : kind == 2 ? floor(u * 32768) / 32768                 /* cell starts */
                  : kind == 3 ? (floor(u * 32768) + 1) / 32768 - 0x1p-52 /* cell ends */
                  : (tide_test_rand(&s) & 1) ? 1.0 : 0.0;
        }
        y[i] = tide_test_uniform(&s) < 0.2 + 0.6 * sc[i];
        w[i] = r < 0.1 ? 0.0 : r < 0.3 ? 2.5 : 1.0;
        cell[i] = (uint32_t)floor(sc[i] * 32768);
        add_bin(m, y[i], sc[i], w[i]);
        if (y[i] == 1)
            wp += w[i];
        else
            wn += w[i];
    }
    conc = pairs_exact(sc, y, w, GRID_SWITCH);
    for (size_t i = GRID_SWITCH; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (y[i] == y[j])
                continue;
            size_t a = y[i] == 1 ? i : j, b = y[i] == 1 ? j : i;   /* a positive */
            conc += w[a] * w[b] * (cell[a] > cell[b] ? 1.0 : cell[a] == cell[b] ? 0.5 : 0.0);
        }
    }
    tide_metric_values v;
    tide_metrics_get(m, 0, &v);
    if (!(v.roc_auc == conc / (wp * wn)))
        fail_msg("grid auc %.17g, brute force %.17g", v.roc_auc, conc / (wp * wn));
    /* and the exact value differs: the test sees the grid */
    assert_true(fabs(v.roc_auc - pairs_exact(sc, y, w, n) / (wp * wn)) > 1e-9);
    tide_metrics_free(m);
    free(sc);
    free(w);
    free(y);
    free(cell);
}

/* ---- persistence ---------------------------------------------------------- */

static void bitwise_equal(const tide_metric_values *a, const tide_metric_values *b)
{
    assert_int_equal(a->n, b->n);
    const double *x = &a->accuracy, *z = &b->accuracy;
    for (int i = 0; i < 7; i++)
        if (memcmp(&x[i], &z[i], sizeof(double)) != 0 && !(isnan(x[i]) && isnan(z[i])))
            fail_msg("value %d differs after load: %.17g vs %.17g", i, x[i], z[i]);
}

static void roundtrip_kind_n(int kind, size_t W, int n_before, int n_after)
{
    uint64_t s = 77 + (uint64_t)kind;
    int ncls = kind == 1 ? 3 : 2;
    tide_metric_kind k = kind == 2 ? TIDE_METRIC_REGRESS : TIDE_METRIC_CLASSIFY;
    tide_metrics *m = mk(k, W), *l = NULL;
    tide_wbuf b;
    tide_rbuf r;
    tide_err err;
    ex e;
    for (int i = 0; i < n_before; i++) {
        rand_ex(&s, ncls, &e);
        feed(m, &e);
    }
    tide_wbuf_init(&b);
    tide_wbuf_u32(&b, 0xdeadbeef);   /* the block may follow other data */
    assert_int_equal(tide_metrics_save(m, &b), TIDE_OK);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_rbuf_u32(&r), 0xdeadbeef);
    assert_int_equal(tide_metrics_load(&r, &l, &err), TIDE_OK);
    assert_int_equal(r.pos, b.len);
    assert_int_equal(tide_metrics_kind(l), k);
    /* continue both with the same stream (across a merge of the pending
     * AUC buffer): identical bit for bit */
    for (int i = 0; i <= n_after; i++) {
        tide_metric_values va, vb;
        for (int win = 0; win < 2 && (i % 97 == 0 || i == n_after); win++) {
            tide_metrics_get(m, win, &va);
            tide_metrics_get(l, win, &vb);
            bitwise_equal(&va, &vb);
        }
        rand_ex(&s, ncls, &e);
        feed(m, &e);
        feed(l, &e);
    }
    /* every truncation fails cleanly; a flipped byte fails the checksum */
    for (size_t cut = 4; cut < b.len; cut += (b.len > 4000 ? 37 : 1)) {
        tide_metrics *t = (tide_metrics *)1;
        tide_rbuf_init(&r, b.data + 4, cut - 4);
        assert_true(tide_metrics_load(&r, &t, &err) < 0);
        assert_null(t);
    }
    for (size_t at = 4; at < b.len; at += 53) {
        tide_metrics *t = NULL;
        b.data[at] ^= 0x5a;
        tide_rbuf_init(&r, b.data + 4, b.len - 4);
        assert_true(tide_metrics_load(&r, &t, &err) < 0);
        assert_null(t);
        assert_true(err.msg[0] != '\0');
        b.data[at] ^= 0x5a;
    }
    tide_wbuf_free(&b);
    tide_metrics_free(m);
    tide_metrics_free(l);
}

static void roundtrip_kind(int kind, size_t W, int n_before)
{
    roundtrip_kind_n(kind, W, n_before, 4200);
}

static void test_save_load(void **st)
{
    (void)st;
    for (int kind = 0; kind < 3; kind++) {
        roundtrip_kind(kind, 0, 333);
        roundtrip_kind(kind, 50, 333);
        roundtrip_kind(kind, 50, 5000);   /* merged AUC keys + pending */
        roundtrip_kind(kind, 7, 4096);    /* AUC buffer exactly full */
    }
    /* a grown AUC buffer, saved part full, continued across merges */
    roundtrip_kind_n(0, 50, 40000, 20000);
    /* foreign data and newer versions are refused with a sentence */
    uint8_t junk[64] = "not a metrics block at all........";
    tide_rbuf r;
    tide_err err;
    tide_metrics *t = NULL;
    tide_rbuf_init(&r, junk, sizeof junk);
    assert_int_equal(tide_metrics_load(&r, &t, &err), TIDE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "magic"));
    tide_wbuf b;
    tide_wbuf_init(&b);
    tide_wbuf_u32(&b, 0x54454d54u);
    tide_wbuf_u32(&b, 99);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_metrics_load(&r, &t, &err), TIDE_ERR_VERSION);
    assert_non_null(strstr(err.msg, "99"));
    tide_wbuf_free(&b);
}

/* Distinct scores (the grid switch at GRID_SWITCH), weights 0, 1, 2.5. */
static void distinct_ex(uint64_t *s, size_t i, int *y, double *p, double *w)
{
    double u = tide_test_uniform(s), r = tide_test_uniform(s);
    *p = (double)((i * 7919) % GRID_SWITCH + u) / GRID_SWITCH;
    *y = tide_test_uniform(s) < 0.2 + 0.6 * *p;
    *w = r < 0.1 ? 0.0 : r < 0.3 ? 2.5 : 1.0;
}

static tide_metrics *save_load(const tide_metrics *m)
{
    tide_wbuf b;
    tide_rbuf r;
    tide_err err;
    tide_metrics *l = NULL;
    tide_wbuf_init(&b);
    assert_int_equal(tide_metrics_save(m, &b), TIDE_OK);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_metrics_load(&r, &l, &err), TIDE_OK);
    assert_int_equal(r.pos, b.len);
    /* some truncations and flipped bytes fail cleanly */
    for (size_t k = 0; k < 64; k++) {
        tide_metrics *t = (tide_metrics *)1;
        size_t at = k * (b.len / 64) + (k % 7);
        tide_rbuf_init(&r, b.data, at);
        assert_true(tide_metrics_load(&r, &t, &err) < 0);
        assert_null(t);
        b.data[at] ^= 0x24;
        tide_rbuf_init(&r, b.data, b.len);
        assert_true(tide_metrics_load(&r, &t, &err) < 0);
        assert_null(t);
        b.data[at] ^= 0x24;
    }
    tide_wbuf_free(&b);
    return l;
}

/* Saved before the switch (it happens after the load), exactly at it (full
 * buffer: the switch is the next add) and after it (the grid histogram),
 * then continued: the same bits as the object that was never saved. */
static void test_save_load_grid(void **st)
{
    (void)st;
    static const size_t at[] = {50000, GRID_SWITCH, GRID_SWITCH + 1, 80000};
    for (size_t a = 0; a < sizeof at / sizeof *at; a++) {
        uint64_t s = 99 + a;
        int y;
        double p, w;
        tide_metrics *m = mk(TIDE_METRIC_CLASSIFY, a == 3 ? 10 : 0), *l;
        for (size_t i = 0; i < at[a]; i++) {
            distinct_ex(&s, i, &y, &p, &w);
            add_bin(m, y, p, w);
        }
        l = save_load(m);
        for (size_t i = at[a]; i < 90000; i++) {
            if (i % 4999 == 0 || i == 89999) {
                tide_metric_values va, vb;
                for (int win = 0; win < 2; win++) {
                    tide_metrics_get(m, win, &va);
                    tide_metrics_get(l, win, &vb);
                    bitwise_equal(&va, &vb);
                }
            }
            distinct_ex(&s, i, &y, &p, &w);
            add_bin(m, y, p, w);
            add_bin(l, y, p, w);
        }
        tide_metrics_free(m);
        tide_metrics_free(l);
    }
}

static size_t unhex(const char *h, uint8_t **out)
{
    size_t n = strlen(h) / 2;
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    *out = b;
    return n;
}

static void expect_bits(const tide_metrics *m, const uint64_t *e)
{
    tide_metric_values v, vw;
    tide_metrics_get(m, 0, &v);
    tide_metrics_get(m, 1, &vw);
    double x[8] = {v.accuracy, v.log_loss, v.f1, v.roc_auc,
                   vw.accuracy, vw.log_loss, vw.f1, vw.roc_auc};
    for (int k = 0; k < 8; k++) {
        uint64_t u;
        memcpy(&u, &x[k], 8);
        if (u != e[1 + k])
            fail_msg("after %llu more examples, value %d: %a, format 3 build: %a",
                     (unsigned long long)e[0], k, x[k], *(const double *)(const void *)&e[1 + k]);
    }
}

/* Format-3 snapshots (eval_v3_fixtures.h) load, and continue with the bits
 * the format-3 build reported; so does their format-4 re-save. */
static void test_load_format3(void **st)
{
    (void)st;
    for (int q = 0; q < 2; q++) {
        const char *hex = q ? v3_quant_hex : v3_exact_hex;
        const uint64_t(*want)[9] = q ? v3_quant_expect : v3_exact_expect;
        uint64_t s = q ? 4711 : 31337;
        uint8_t *buf;
        size_t len = unhex(hex, &buf);
        tide_rbuf r;
        tide_err err;
        tide_metrics *m = NULL, *m4;
        double p, w;
        int y;
        assert_int_equal(buf[4], 3);   /* format 3 */
        tide_rbuf_init(&r, buf, len);
        assert_int_equal(tide_metrics_load(&r, &m, &err), TIDE_OK);
        assert_int_equal(r.pos, len);
        m4 = save_load(m);
        for (int i = 0; i < (q ? GRID_SWITCH + 4146 : 4100); i++)
            fx_example(&s, q && i >= GRID_SWITCH, &p, &y, &w);   /* the saved part */
        for (int i = 1, k = 0; i <= 9000; i++) {
            fx_example(&s, q, &p, &y, &w);
            add_bin(m, y, p, w);
            add_bin(m4, y, p, w);
            if (i % 1000 == 0) {
                assert_int_equal(want[k][0], i);
                expect_bits(m, want[k]);
                expect_bits(m4, want[k]);
                k++;
            }
        }
        /* a truncated or corrupted format-3 block fails cleanly */
        for (size_t at = 8; at < len; at += 41) {
            tide_metrics *t = (tide_metrics *)1;
            tide_rbuf_init(&r, buf, at);
            assert_true(tide_metrics_load(&r, &t, &err) < 0);
            assert_null(t);
            buf[at] ^= 0x11;
            tide_rbuf_init(&r, buf, len);
            assert_true(tide_metrics_load(&r, &t, &err) < 0);
            assert_null(t);
            buf[at] ^= 0x11;
        }
        free(buf);
        tide_metrics_free(m);
        tide_metrics_free(m4);
    }
}

static void test_bad_args(void **st)
{
    (void)st;
    tide_metrics *m = NULL;
    double pr[2] = {0.5, NAN};
    assert_int_equal(tide_metrics_new(TIDE_METRIC_CLASSIFY, TIDE_METRICS_MAX_WINDOW + 1, &m),
                     TIDE_ERR_LIMIT);
    assert_null(m);
    assert_int_equal(tide_metrics_new((tide_metric_kind)7, 0, &m), TIDE_ERR_ARG);
    m = mk(TIDE_METRIC_CLASSIFY, 4);
    assert_int_equal(tide_metrics_add_class(m, 0, pr, 2, 1), TIDE_ERR_ARG);
    pr[1] = 0.5;
    assert_int_equal(tide_metrics_add_class(m, 0, pr, 2, -1), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_class(m, 0, pr, 2, INFINITY), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_class(m, -1, pr, 2, 1), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_class(m, 0, pr, 0, 1), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_class(m, 0, NULL, 2, 1), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_class(m, TIDE_METRICS_MAX_CLASSES, pr, 2, 1), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_reg(m, 1, 1, 1), TIDE_ERR_STATE);
    /* ties in argmax go to the lowest index: (0.5, 0.5) predicts 0 */
    assert_int_equal(tide_metrics_add_class(m, 0, pr, 2, 1), TIDE_OK);
    tide_metric_values v;
    tide_metrics_get(m, 0, &v);
    assert_int_equal(v.n, 1);
    assert_near(v.accuracy, 1.0, TOL);
    tide_metrics_free(m);
    m = mk(TIDE_METRIC_REGRESS, 0);
    assert_int_equal(tide_metrics_add_reg(m, NAN, 1, 1), TIDE_ERR_ARG);
    assert_int_equal(tide_metrics_add_class(m, 0, pr, 2, 1), TIDE_ERR_STATE);
    tide_metrics_free(m);
    tide_metrics_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_hand),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_logloss_clip),
        cmocka_unit_test(test_multiclass_hand),
        cmocka_unit_test(test_regression_hand),
        cmocka_unit_test(test_r2_edges),
        cmocka_unit_test(test_window_equals_fresh),
        cmocka_unit_test(test_auc_pairwise),
        cmocka_unit_test(test_auc_long_stream),
        cmocka_unit_test(test_auc_beyond_exact_budget),
        cmocka_unit_test(test_auc_grid_hand),
        cmocka_unit_test(test_auc_grid_bruteforce),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_save_load_grid),
        cmocka_unit_test(test_load_format3),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
