/* test_drift.c — drift detectors (ADWIN, Page-Hinkley, DDM, EDDM, KSWIN)
 * and two-sample tests (KS, PSI, chi-square) of src/drift. */
#include "testutil.h"
#include "tide/drift.h"

/* ---- ADWIN -------------------------------------------------------------- */

/* 1..10 into ADWIN (no cut test before value 32): width 10, mean 5.5,
 * population variance sum((i-5.5)^2)/10 = 82.5/10 = 8.25. With M = 5 the
 * histogram is, by hand: after 6 values row0 = {3,4,5,6}, row1 = {1+2};
 * after 8: row0 {5..8}, row1 {1+2, 3+4}; after 10: row0 {7..10},
 * row1 {1+2, 3+4, 5+6} -> counts {4, 3}. */
static void test_adwin_small_stream(void **st)
{
    (void)st;
    tide_adwin *a;
    uint32_t counts[8];
    assert_int_equal(tide_adwin_new(0.002, &a), TIDE_OK);
    for (int i = 1; i <= 10; i++)
        assert_int_equal(tide_adwin_update(a, i), 0);
    assert_near(tide_adwin_width(a), 10, 0);
    assert_near(tide_adwin_mean(a), 5.5, 1e-12);
    assert_near(tide_adwin_variance(a), 8.25, 1e-12);
    assert_int_equal(tide_adwin_rows(a, counts, 8), 2);
    assert_int_equal(counts[0], 4);
    assert_int_equal(counts[1], 3);
    tide_adwin_free(a);
    tide_adwin_free(NULL);
    assert_int_equal(tide_adwin_new(0, &a), TIDE_ERR_ARG);
    assert_null(a);
    assert_int_equal(tide_adwin_new(1.5, &a), TIDE_ERR_ARG);
}

/* 1000 zeros then ones. The first test after the change is at value 1024
 * (clock 32), with 24 ones at the new end. Hand check of the cut there at
 * the boundary n0 = 1000 zeros | n1 = 24 ones: W = 1024,
 * dd = ln(2 ln 1024 / 0.002) = 8.84, v = 1000*24/1024^2 = 0.0229,
 * m = 1/996 + 1/20 = 0.051, eps = sqrt(2 m v dd) + 2/3 dd m = 0.144 + 0.301
 * = 0.445 < |0 - 1| = 1: cut. No earlier detection is possible (constant
 * stream: every difference is 0). */
static void test_adwin_step(void **st)
{
    (void)st;
    tide_adwin *a;
    int first = -1;
    assert_int_equal(tide_adwin_new(0.002, &a), TIDE_OK);
    for (int i = 0; i < 2000; i++) {
        int c = tide_adwin_update(a, i < 1000 ? 0.0 : 1.0);
        if (c && first < 0) {
            first = i;
            /* everything older than the ones is dropped but buckets that
             * straddle nothing: window shrinks well below 1024 */
            assert_true(tide_adwin_width(a) < 100);
            assert_true(tide_adwin_width(a) >= 24);
            assert_true(tide_adwin_mean(a) > 0.4);
        }
    }
    assert_int_equal(first, 1023);
    assert_near(tide_adwin_mean(a), 1.0, 0.05);
    assert_true(tide_adwin_detections(a) >= 1);
    tide_adwin_free(a);
}

/* Exponential histogram invariants on a long noisy stream with changes:
 * every row holds at most M = 5 buckets and sum(count_i * 2^i) = width;
 * on a stream without cuts the width is the number of values. */
static void test_adwin_invariants(void **st)
{
    (void)st;
    tide_adwin *a;
    uint64_t s = 7;
    uint32_t counts[64];
    assert_int_equal(tide_adwin_new(0.002, &a), TIDE_OK);
    for (int i = 0; i < 50000; i++) {
        double p = (i / 10000) % 2 ? 0.7 : 0.2;
        tide_adwin_update(a, tide_test_uniform(&s) < p ? 1.0 : 0.0);
        if (i % 97 == 0 || i > 49000) {
            size_t rows = tide_adwin_rows(a, counts, 64);
            uint64_t sum = 0;
            assert_true(rows >= 1 && rows <= 64);
            for (size_t r = 0; r < rows; r++) {
                assert_true(counts[r] <= 5);
                sum += (uint64_t)counts[r] << r;
            }
            assert_true((double)sum == tide_adwin_width(a));
        }
    }
    assert_true(tide_adwin_detections(a) >= 4);
    tide_adwin_free(a);

    /* constant stream: never cut, width = n, O(log n) rows */
    assert_int_equal(tide_adwin_new(0.002, &a), TIDE_OK);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(tide_adwin_update(a, 0.5), 0);
    assert_near(tide_adwin_width(a), 100000, 0);
    assert_near(tide_adwin_mean(a), 0.5, 1e-12);
    assert_near(tide_adwin_variance(a), 0, 1e-12);
    /* 100000 values in rows of at most 5 buckets of 2^i: rows <= 16 */
    assert_true(tide_adwin_rows(a, counts, 64) <= 16);
    assert_true(tide_adwin_memory(a) < 4096);
    tide_adwin_free(a);
}

/* Save mid-stream, load, feed both the same values: identical outputs. */
static void test_adwin_save_load(void **st)
{
    (void)st;
    tide_adwin *a, *b = NULL, *c = NULL;
    tide_wbuf w;
    tide_rbuf r;
    tide_err e;
    uint64_t s = 11;
    assert_int_equal(tide_adwin_new(0.01, &a), TIDE_OK);
    for (int i = 0; i < 3000; i++)
        tide_adwin_update(a, tide_test_uniform(&s) < 0.3);
    tide_wbuf_init(&w);
    tide_adwin_save(a, &w);
    tide_rbuf_init(&r, w.data, w.len);
    assert_int_equal(tide_adwin_load(&r, &b, &e), TIDE_OK);
    assert_int_equal(r.pos, w.len);
    assert_int_equal(tide_adwin_clone(a, &c), TIDE_OK);
    for (int i = 0; i < 5000; i++) {
        double x = tide_test_uniform(&s) < (i < 2000 ? 0.3 : 0.8);
        int ca = tide_adwin_update(a, x);
        assert_int_equal(tide_adwin_update(b, x), ca);
        assert_int_equal(tide_adwin_update(c, x), ca);
    }
    assert_true(tide_adwin_detections(a) > 0);
    assert_true(tide_adwin_mean(a) == tide_adwin_mean(b));
    assert_true(tide_adwin_width(a) == tide_adwin_width(b));
    assert_true(tide_adwin_variance(a) == tide_adwin_variance(b));
    assert_true(tide_adwin_mean(a) == tide_adwin_mean(c));
    /* truncated state fails cleanly */
    for (size_t cut = 0; cut < w.len; cut += 7) {
        tide_adwin *t = (tide_adwin *)1;
        tide_rbuf_init(&r, w.data, cut);
        assert_true(tide_adwin_load(&r, &t, &e) < 0);
        assert_null(t);
    }
    tide_wbuf_free(&w);
    tide_adwin_free(a);
    tide_adwin_free(b);
    tide_adwin_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adwin_small_stream),
        cmocka_unit_test(test_adwin_step),
        cmocka_unit_test(test_adwin_invariants),
        cmocka_unit_test(test_adwin_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
