/* test_review_session2.c — regressions from a review of the session's
 * learner and detector changes: tide_learner_learn_predict against
 * predict-then-learn in the paths the learners' own tests do not walk
 * (classes first seen mid-stream up to 5, weights != 1, l2 > 0, refused
 * rows, clones and reloads continued), and KSWIN's 0/1 shortcut (src/drift/
 * kswin.c): the lower end of the reachable count of ones, the sorted lists
 * across switches between the 0/1 path and the general path, and the cost
 * of a 0/1 stream when the window is too large for the CDF table. */
#include <time.h>

#include "testutil.h"
#include "tide/drift.h"
#include "tide/feat.h"
#include "tide/learn.h"

#define RV_BITS 10
#define RV_ROWS 700

/* ---- learn_predict == predict then learn ---------------------------------- */

/* Row r of a synthetic stream with target *y: a few numeric features (one
 * that only appears from row 200, one with a large scale), indicators that
 * depend on the class, classes 2..nk-1 available from rows 40, 80, ...
 * and class nk-1 forced at row 119 (classifiers), a noisy linear target
 * (regression). Every 5th row lists bucket 2 twice, the second time last. */
static void rv_row(uint64_t *s, int r, tide_task task, int nk, tide_fvec *x, double *y)
{
    int c = 0;
    double u = tide_test_uniform(s), g = tide_test_uniform(s) - 0.5;
    x->n = 0;
    if (task == TIDE_TASK_REGRESSION) {
        *y = 3.0 * u - 2.0 * g + 0.1 * tide_test_uniform(s);
    } else {
        int avail = task == TIDE_TASK_BINARY ? 2 : 2 + r / 40;
        if (avail > nk)
            avail = nk;
        c = r < 15 ? 0 : (int)(tide_test_rand(s) % (uint64_t)avail);
        if (r == 119)
            c = nk - 1;   /* the last class, first seen on a refused row */
        *y = c;
    }
    assert_int_equal(tide_fvec_push(x, 1, (float)(u + 0.5 * c)), TIDE_OK);
    assert_int_equal(tide_fvec_push(x, 2, (float)(1000.0 * g)), TIDE_OK);
    if (r >= 200)
        assert_int_equal(tide_fvec_push(x, 3, (float)(g * g + 0.1 * c)), TIDE_OK);
    assert_int_equal(tide_fvec_push(x, (uint32_t)(10 + c), 1.0f), TIDE_OK);
    if (r % 3 == 0)
        assert_int_equal(tide_fvec_push(x, 700, 1.0f), TIDE_OK);
    if (r % 5 == 0)   /* a hash collision: bucket 2 again, out of order */
        assert_int_equal(tide_fvec_push(x, 2, (float)(u - 0.5)), TIDE_OK);
}

static void rv_save(const tide_learner *l, tide_wbuf *b)
{
    tide_wbuf_init(b);
    assert_int_equal(tide_learner_save(l, b), TIDE_OK);
}

static void rv_same_state(const char *what, const tide_learner *a, const tide_learner *b, int r)
{
    tide_wbuf wa, wb;
    rv_save(a, &wa);
    rv_save(b, &wb);
    if (wa.len != wb.len || memcmp(wa.data, wb.data, wa.len))
        fail_msg("%s: states differ after row %d", what, r);
    tide_wbuf_free(&wa);
    tide_wbuf_free(&wb);
}

static const double RV_W[6] = {1.0, 2.5, 0.3, 1.0, 7.0, 1.0};

/* a: predict then learn; b: learn_predict; from row RV_ROWS/2 on also c (a
 * clone of b) and d (b saved and loaded), which continue with learn_predict.
 * Every row: the same answers bit for bit and the same return codes; rows
 * 77, 78 and 119 have invalid weights (0, NaN, 0; the last one brings the
 * last class, before any row learned it). */
static void rv_check(const char *name, const char **kv, size_t nkv, tide_task task, int nk)
{
    tide_learner *a, *b, *c = NULL, *d = NULL;
    tide_err e;
    tide_fvec x;
    uint64_t s = 99;
    char what[160];
    size_t o = (size_t)snprintf(what, sizeof what, "%s K=%d", name, nk);
    for (size_t k = 0; k < nkv && o < sizeof what; k++)
        o += (size_t)snprintf(what + o, sizeof what - o, " %s", kv[k]);
    assert_int_equal(tide_learner_new(name, kv, nkv, RV_BITS, &a, &e), TIDE_OK);
    assert_int_equal(tide_learner_new(name, kv, nkv, RV_BITS, &b, &e), TIDE_OK);
    tide_fvec_init(&x);
    for (int r = 0; r < RV_ROWS; r++) {
        double y, w = r == 77 || r == 119 ? 0.0 : r == 78 ? NAN : RV_W[r % 6];
        double pa[TIDE_MAX_CLASSES], pb[TIDE_MAX_CLASSES], pc[TIDE_MAX_CLASSES],
            pd[TIDE_MAX_CLASSES];
        int n, ra, rb;
        rv_row(&s, r, task, nk, &x, &y);
        if (r == RV_ROWS / 2) {
            tide_wbuf wb;
            tide_rbuf rb2;
            assert_int_equal(tide_learner_clone(b, &c, &e), TIDE_OK);
            rv_save(b, &wb);
            tide_rbuf_init(&rb2, wb.data, wb.len);
            assert_int_equal(tide_learner_load(&rb2, &d, &e), TIDE_OK);
            tide_wbuf_free(&wb);
        }
        if (task != TIDE_TASK_REGRESSION)
            tide_learner_grow_classes(a, (int)y + 1);
        n = task == TIDE_TASK_REGRESSION ? 1 : tide_learner_classes(a);
        tide_learner_predict(a, &x, pa);
        ra = tide_learner_learn(a, &x, y, w);
        rb = tide_learner_learn_predict(b, &x, y, w, pb);
        if (ra != rb)
            fail_msg("%s: row %d: learn returned %d, learn_predict %d", what, r, ra, rb);
        if (memcmp(pa, pb, (size_t)n * sizeof *pa))
            fail_msg("%s: row %d (y %g, w %g): predict %.17g, learn_predict %.17g", what, r, y,
                     w, pa[n - 1], pb[n - 1]);
        if (c) {
            assert_int_equal(tide_learner_learn_predict(c, &x, y, w, pc), rb);
            assert_int_equal(tide_learner_learn_predict(d, &x, y, w, pd), rb);
            if (memcmp(pb, pc, (size_t)n * sizeof *pb))
                fail_msg("%s: row %d: the clone answers %.17g, the original %.17g", what, r,
                         pc[n - 1], pb[n - 1]);
            if (memcmp(pb, pd, (size_t)n * sizeof *pb))
                fail_msg("%s: row %d: the reloaded copy answers %.17g, the original %.17g",
                         what, r, pd[n - 1], pb[n - 1]);
        }
    }
    rv_same_state(what, a, b, RV_ROWS);
    rv_same_state(what, b, c, RV_ROWS);
    rv_same_state(what, b, d, RV_ROWS);
    tide_fvec_free(&x);
    tide_learner_free(a);
    tide_learner_free(b);
    tide_learner_free(c);
    tide_learner_free(d);
}

static tide_task rv_task(const tide_learner_vt *vt)
{
    return vt->task == TIDE_TASK_CLASSIFY ? TIDE_TASK_MULTICLASS : vt->task;
}

/* Every learner with its defaults, binary and 5-class streams for the
 * classifiers that take both. */
static void test_learn_predict_every_learner(void **st)
{
    (void)st;
    for (size_t i = 0; i < tide_learner_count(); i++) {
        const tide_learner_vt *vt = tide_learner_at(i);
        tide_task t = rv_task(vt);
        rv_check(vt->name, NULL, 0, t, t == TIDE_TASK_MULTICLASS ? 5 : 2);
        if (vt->task == TIDE_TASK_CLASSIFY)
            rv_check(vt->name, NULL, 0, TIDE_TASK_BINARY, 2);
    }
}

/* The linear learners with every optimizer, with and without l2. */
static void test_learn_predict_linear_options(void **st)
{
    static const char *opt[] = {"optimizer=auto", "optimizer=sgd", "optimizer=adagrad",
                                "optimizer=ftrl", "optimizer=nag"};
    static const char *lin[] = {"logistic", "softmax", "linear"};
    (void)st;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 5; j++)
            for (int v = 0; v < 4; v++) {
                const char *kv[3] = {opt[j], v & 1 ? "l2=0.01" : "l2=0",
                                     v & 2 ? "intercept=false" : "intercept=true"};
                const tide_learner_vt *vt = tide_learner_find(lin[i]);
                rv_check(lin[i], kv, 3, vt->task, vt->task == TIDE_TASK_MULTICLASS ? 5 : 2);
            }
}

/* The trees' leaf predictions and ensembles' members. */
static void test_learn_predict_tree_options(void **st)
{
    static const char *leaf[] = {"leaf_prediction=mc", "leaf_prediction=nb",
                                 "leaf_prediction=nba"};
    static const char *trees[] = {"ht", "hat", "arf"};
    static const char *bases[] = {"base=ht", "base=hat", "base=gnb"};
    (void)st;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            const char *kv[2] = {leaf[j], "grace_period=20"};
            rv_check(trees[i], kv, 2, TIDE_TASK_MULTICLASS, 5);
            rv_check(trees[i], kv, 2, TIDE_TASK_BINARY, 2);
        }
    for (size_t j = 0; j < 3; j++) {
        const char *kv[1] = {bases[j]};
        rv_check("bagging", kv, 1, TIDE_TASK_MULTICLASS, 5);
    }
}

/* learn.h: "On an invalid y nothing is predicted or learned." A target
 * that is not finite (any task), not an integer, negative, or beyond the
 * class limit (classifiers) leaves out and the state as they were, and
 * learn refuses the same targets. (Before the fix regressors predicted
 * into out, and a classifier's target went through (int)y first, which is
 * undefined for NaN and 1e300.) */
static void test_learn_predict_invalid_target(void **st)
{
    static const double bad_any[] = {NAN, INFINITY, -INFINITY};
    static const double bad_cls[] = {-1.0, 2.5, 1e300, -1e300, TIDE_MAX_CLASSES};
    (void)st;
    for (size_t i = 0; i < tide_learner_count(); i++) {
        const tide_learner_vt *vt = tide_learner_at(i);
        tide_task t = rv_task(vt);
        int reg = t == TIDE_TASK_REGRESSION;
        tide_learner *l;
        tide_err e;
        tide_fvec x;
        tide_wbuf before, after;
        uint64_t s = 3;
        double y;
        assert_int_equal(tide_learner_new(vt->name, NULL, 0, RV_BITS, &l, &e), TIDE_OK);
        tide_fvec_init(&x);
        for (int r = 0; r < 60; r++) {
            rv_row(&s, r, t, 3, &x, &y);
            assert_int_equal(tide_learner_learn(l, &x, y, 1.0), TIDE_OK);
        }
        rv_save(l, &before);
        for (size_t k = 0; k < 3 + (reg ? 0 : 5); k++) {
            double out[TIDE_MAX_CLASSES];
            double yb = k < 3 ? bad_any[k] : bad_cls[k - 3];
            for (int c = 0; c < TIDE_MAX_CLASSES; c++)
                out[c] = -7.0;
            if (tide_learner_learn_predict(l, &x, yb, 1.0, out) != TIDE_ERR_ARG)
                fail_msg("%s: learn_predict accepted y = %g", vt->name, yb);
            for (int c = 0; c < TIDE_MAX_CLASSES; c++)
                if (out[c] != -7.0)
                    fail_msg("%s: learn_predict(y = %g) wrote out[%d] = %g", vt->name, yb, c,
                             out[c]);
            if (tide_learner_learn(l, &x, yb, 1.0) != TIDE_ERR_ARG)
                fail_msg("%s: learn accepted y = %g", vt->name, yb);
        }
        rv_save(l, &after);
        if (before.len != after.len || memcmp(before.data, after.data, before.len))
            fail_msg("%s: refused targets changed the state", vt->name);
        tide_wbuf_free(&before);
        tide_wbuf_free(&after);
        tide_fvec_free(&x);
        tide_learner_free(l);
    }
}

/* ---- KSWIN ------------------------------------------------------------------ */

static tide_detector *rv_kswin(const char *win, const char *stat, const char *alpha, int seed)
{
    char seedkv[32];
    const char *kv[4] = {win, stat, alpha, seedkv};
    tide_detector *d;
    tide_err e;
    snprintf(seedkv, sizeof seedkv, "seed=%d", seed);
    if (tide_detector_new("kswin", kv, 4, &d, &e))
        fail_msg("kswin: %s", e.msg);
    return d;
}

/* The shortcut's range of ones in W when the older part holds few zeros:
 * window 10, stat 3, older part {1,1,1,1,1,1,0}, newest {0,0,0}. W holds 2
 * or 3 ones (at least stat - 1 of its 3 values are ones); 3 with probability
 * C(6,3) / C(7,3) = 4/7. alpha = 0.1: for 3 vs 3 values the p-value of
 * D = 1 is 2/20 = 0.1 and of D = 2/3 is 12/20 (the paths within the band
 * |i - j| <= 1 are the 8 interleavings), so a drift needs D = 1: W all ones.
 * Over 7,000 seeds the rate must be 4/7 +- 0.03 (5 standard deviations). */
static void test_kswin_shortcut_low_end(void **st)
{
    const double xs[10] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    int fired = 0;
    (void)st;
    for (int seed = 1; seed <= 7000; seed++) {
        tide_detector *d = rv_kswin("window_size=10", "stat_size=3", "alpha=0.1", seed);
        for (int i = 0; i < 10; i++) {
            tide_drift_state s = tide_detector_update(d, xs[i]);
            if (i < 9 && s != TIDE_DRIFT_NONE)
                fail_msg("kswin fired at value %d before the window was full", i);
            fired += i == 9 && s == TIDE_DRIFT_DETECTED;
        }
        tide_detector_free(d);
    }
    assert_near(fired / 7000.0, 4.0 / 7.0, 0.03);
}

/* The sorted lists across switches between the 0/1 path and the general
 * path: a detector that runs through 0/1 stretches, continuous stretches and
 * single non-0/1 values entering and leaving the window must decide at
 * every value as a copy reloaded from its saved state just before (which
 * rebuilds everything from the ring). alpha 0.5 and stat 4 make decisions
 * that depend on the lists at nearly every value. */
static void test_kswin_switches_keep_lists(void **st)
{
    tide_detector *d = rv_kswin("window_size=12", "stat_size=4", "alpha=0.5", 7);
    uint64_t s = 5;
    int drifts = 0;
    (void)st;
    for (int i = 0; i < 6000; i++) {
        int phase = (i / 37) % 4;
        double u = tide_test_uniform(&s), v;
        tide_detector *back = NULL;
        tide_wbuf w;
        tide_rbuf r;
        tide_err e;
        tide_drift_state a, b;
        if (phase == 0 || phase == 2)
            v = u < (phase ? 0.7 : 0.2) ? 1.0 : 0.0;
        else if (phase == 1)
            v = i % 9 == 0 ? 0.5 : u < 0.4 ? 1.0 : 0.0;   /* rare non-0/1 */
        else
            v = floor(u * 4) / 2;   /* 0, 0.5, 1, 1.5 */
        tide_wbuf_init(&w);
        assert_int_equal(tide_detector_save(d, &w), TIDE_OK);
        tide_rbuf_init(&r, w.data, w.len);
        assert_int_equal(tide_detector_load(&r, &back, &e), TIDE_OK);
        a = tide_detector_update(d, v);
        b = tide_detector_update(back, v);
        if (a != b)
            fail_msg("kswin: value %d (%g, phase %d): running detector %d, reloaded copy %d", i,
                     v, phase, a, b);
        drifts += a == TIDE_DRIFT_DETECTED;
        tide_detector_free(back);
        tide_wbuf_free(&w);
    }
    if (drifts < 100)
        fail_msg("kswin: only %d drifts: the comparison tested little", drifts);
    tide_detector_free(d);
}

/* The sampler state must be a permutation of 0..older-1: with a repeated
 * entry the Fisher-Yates draw marks fewer than stat older values, and the
 * KS scan reads W's missing values from the previous step's scratch. A
 * state whose permutation repeats 0 is refused; the intact one loads. */
static void test_kswin_load_refuses_repeated_permutation(void **st)
{
    tide_detector *d = rv_kswin("window_size=10", "stat_size=3", "alpha=0.005", 1), *back = NULL;
    tide_wbuf w;
    tide_rbuf r;
    tide_err e;
    (void)st;
    for (int i = 0; i < 25; i++)
        (void)tide_detector_update(d, i * 0.1);
    tide_wbuf_init(&w);
    assert_int_equal(tide_detector_save(d, &w), TIDE_OK);
    tide_rbuf_init(&r, w.data, w.len);
    assert_int_equal(tide_detector_load(&r, &back, &e), TIDE_OK);
    tide_detector_free(back);
    back = NULL;
    memset(w.data + w.len - 7 * 4, 0, 7 * 4);   /* the 7 u32 entries, last in the state */
    tide_rbuf_init(&r, w.data, w.len);
    assert_int_equal(tide_detector_load(&r, &back, &e), TIDE_ERR_FORMAT);
    assert_null(back);
    assert_non_null(strstr(e.msg, "permutation"));
    tide_wbuf_free(&w);
    tide_detector_free(d);
}

/* A 0/1 stream through a window too large for the CDF table (window 4000,
 * stat 200: 3801 x 201 entries > 65536) takes the general path; it must
 * cost O(window) per value as before the shortcut, not a re-sort of the
 * window at every value. 6,000 tested values took 0.03 s of CPU with the
 * lists kept, 6 s with a rebuild per value (-O2); the bound is 1.5 s. */
static void test_kswin_binary_without_table_is_linear(void **st)
{
    tide_detector *d = rv_kswin("window_size=4000", "stat_size=200", "alpha=0.005", 3);
    uint64_t s = 11;
    clock_t t0 = clock();
    double secs;
    (void)st;
    for (int i = 0; i < 10000; i++)
        (void)tide_detector_update(d, tide_test_uniform(&s) < 0.3 ? 1.0 : 0.0);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (secs > 1.5)
        fail_msg("kswin: 6,000 values of a 0/1 stream took %.2f s of CPU", secs);
    tide_detector_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learn_predict_every_learner),
        cmocka_unit_test(test_learn_predict_linear_options),
        cmocka_unit_test(test_learn_predict_tree_options),
        cmocka_unit_test(test_learn_predict_invalid_target),
        cmocka_unit_test(test_kswin_shortcut_low_end),
        cmocka_unit_test(test_kswin_switches_keep_lists),
        cmocka_unit_test(test_kswin_load_refuses_repeated_permutation),
        cmocka_unit_test(test_kswin_binary_without_table_is_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
