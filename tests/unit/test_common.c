/* test_common.c — byte buffers, params and checksum (src/common). */
#include "testutil.h"
#include "tide/common.h"

static const tide_param_spec SPEC[] = {
    {"lr", TIDE_PARAM_DOUBLE, "0.5", "0..100", "learning rate"},
    {"passes", TIDE_PARAM_INT, "1", "1..10", "passes"},
    {"opt", TIDE_PARAM_ENUM, "norm", "sgd|adagrad|ftrl|norm", "optimizer"},
    {"flag", TIDE_PARAM_BOOL, "false", NULL, "a flag"},
};

static void test_buf_roundtrip(void **st)
{
    (void)st;
    tide_wbuf b;
    tide_rbuf r;
    tide_wbuf_init(&b);
    tide_wbuf_u32(&b, 0xA1B2C3D4u);
    tide_wbuf_u64(&b, 0x0102030405060708ull);
    tide_wbuf_f64(&b, -1.25);
    tide_wbuf_str(&b, "hello");
    assert_int_equal(b.len, 4 + 8 + 8 + 4 + 5);
    /* little-endian on disk */
    assert_int_equal(b.data[0], 0xD4);
    assert_int_equal(b.data[4], 0x08);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_rbuf_u32(&r), 0xA1B2C3D4u);
    assert_true(tide_rbuf_u64(&r) == 0x0102030405060708ull);
    assert_true(tide_rbuf_f64(&r) == -1.25);
    char *s = tide_rbuf_str(&r, 100);
    assert_string_equal(s, "hello");
    free(s);
    assert_false(r.bad);
    /* reading past the end is sticky-bad, never out of bounds */
    (void)tide_rbuf_u32(&r);
    assert_true(r.bad);
    tide_wbuf_free(&b);
}

static void test_rbuf_str_too_long(void **st)
{
    (void)st;
    uint8_t bytes[8] = {0xff, 0xff, 0xff, 0x7f, 'a', 'b', 'c', 'd'};
    tide_rbuf r;
    tide_rbuf_init(&r, bytes, sizeof bytes);
    assert_null(tide_rbuf_str(&r, 1 << 20));
    assert_true(r.bad);
}

static void test_params(void **st)
{
    (void)st;
    tide_params p;
    tide_err e;
    assert_int_equal(tide_params_init(&p, SPEC, 4, &e), TIDE_OK);
    assert_true(tide_params_num(&p, "lr") == 0.5);
    assert_int_equal(tide_params_enum(&p, "opt"), 3);
    assert_int_equal(tide_params_set(&p, "opt=ftrl", &e), TIDE_OK);
    assert_int_equal(tide_params_enum(&p, "opt"), 2);
    assert_int_equal(tide_params_set(&p, "lr=200", &e), TIDE_ERR_ARG);
    assert_non_null(strstr(e.msg, "outside its range"));
    assert_int_equal(tide_params_set(&p, "passes=1.5", &e), TIDE_ERR_ARG);
    assert_int_equal(tide_params_set(&p, "nope=1", &e), TIDE_ERR_ARG);
    assert_non_null(strstr(e.msg, "unknown parameter 'nope'"));
    assert_int_equal(tide_params_set(&p, "lr=nan", &e), TIDE_ERR_ARG);
    assert_int_equal(tide_params_set(&p, "flag=yes", &e), TIDE_OK);
    assert_true(tide_params_num(&p, "flag") == 1);

    /* save -> load keeps every value */
    tide_wbuf b;
    tide_wbuf_init(&b);
    assert_int_equal(tide_params_set(&p, "lr=0.125", &e), TIDE_OK);
    tide_params_save(&p, &b);
    tide_rbuf r;
    tide_rbuf_init(&r, b.data, b.len);
    tide_params q;
    assert_int_equal(tide_params_load(&q, SPEC, 4, &r, &e), TIDE_OK);
    assert_true(tide_params_num(&q, "lr") == 0.125);
    assert_int_equal(tide_params_enum(&q, "opt"), 2);
    assert_true(tide_params_num(&q, "flag") == 1);
    char txt[256];
    tide_params_format(&q, txt, sizeof txt);
    assert_string_equal(txt, "lr=0.125 passes=1 opt=ftrl flag=true");
    tide_wbuf_free(&b);
}

static void test_checksum(void **st)
{
    (void)st;
    /* xxh64("", seed 0) is a published constant of the xxHash spec */
    assert_true(tide_checksum("", 0) == 0xEF46DB3751D8E999ull);
    assert_true(tide_checksum("a", 1) != tide_checksum("b", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_roundtrip),
        cmocka_unit_test(test_rbuf_str_too_long),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
