/* test_serve_fast.c — the simdjson fast path of predict bodies
 * (src/serve/fastjson.cpp) against hand-computed values and against the
 * jansson path, and serve_fmt_g17 against printf's "%.17g". */
#include "testutil.h"
#include "tide/serve.h"
#include "serve/fastjson.h"

static const char SCHEMA[] =
    "{\"x\":\"number\",\"y\":{\"type\":\"number\",\"required\":false},\"c\":\"category\","
    "\"d\":{\"type\":\"category\",\"required\":false}}";

static tide_schema *schema(void)
{
    tide_schema *s = NULL;
    tide_reqerr e;
    assert_int_equal(tide_schema_parse(SCHEMA, sizeof SCHEMA - 1, &s, &e), 0);
    return s;
}

/* Runs the fast path on a padded copy of body (freed with *buf). */
static int fast(const char *body, const tide_schema *s, tide_instances *in, char **buf)
{
    size_t n = strlen(body);
    *buf = malloc(n + SERVE_BODY_PADDING);
    assert_non_null(*buf);
    memcpy(*buf, body, n);
    memset(*buf + n, ' ', SERVE_BODY_PADDING);
    return serve_fast_instances(*buf, n, n + SERVE_BODY_PADDING, s, in, NULL, 0);
}

static void test_values(void **st)
{
    (void)st;
    tide_schema *s = schema();
    tide_instances in;
    char *buf;
    const char *body =
        "{\"instances\":[{\"id\":\"a\\u0041\",\"features\":{\"x\":-2.5e2,\"c\":\"r\\u00e9d\","
        "\"d\":null}},{\"weight\":2,\"features\":{\"c\":\"blue\",\"x\":-0,\"y\":"
        "0.1000000000000000055511151231257827021181583404541015625}}]}";
    assert_int_equal(fast(body, s, &in, &buf), SERVE_FAST_OK);
    assert_int_equal(in.n, 2);
    assert_true(in.batch);
    assert_string_equal(in.ids[0], "aA");            /* \u0041 unescaped */
    assert_null(in.ids[1]);
    assert_int_equal(in.rows[0].n_fields, 3);
    assert_true(in.rows[0].fields[0].num == -250.0);
    assert_int_equal(in.rows[0].fields[1].kind, TIDE_VAL_CAT);
    assert_int_equal(in.rows[0].fields[1].str_len, 4);   /* r, é (2 bytes), d */
    assert_memory_equal(in.rows[0].fields[1].str, "r\xc3\xa9" "d", 4);
    assert_int_equal(in.rows[0].fields[2].kind, TIDE_VAL_MISSING);
    assert_true(in.rows[1].weight == 2.0);
    assert_int_equal(in.rows[1].fields[1].name_len, 1);
    assert_memory_equal(in.rows[1].fields[1].name, "x", 1);
    /* -0 is an integer token: jansson reads it as the integer 0 */
    assert_true(in.rows[1].fields[1].num == 0.0 && !signbit(in.rows[1].fields[1].num));
    assert_true(in.rows[1].fields[2].num == 0.1);   /* 0.1's exact decimal */
    /* the features' text of instance 1, as sent */
    assert_int_equal(in.fspan_[3], strlen("{\"c\":\"blue\",\"x\":-0,\"y\":"
                                          "0.1000000000000000055511151231257827021181583404541015625}"));
    assert_memory_equal(buf + in.fspan_[2], "{\"c\":\"blue\"", 11);
    tide_instances_free(&in);
    free(buf);
    tide_schema_free(s);
}

/* Whatever jansson would refuse (or words differently), the fast path
 * leaves to it. */
static void test_declines(void **st)
{
    (void)st;
    static const char *const bodies[] = {
        "{\"features\":{\"x\":1,\"c\":\"a\",\"z\":1}}",         /* unknown feature */
        "{\"features\":{\"x\":1,\"x\":2,\"c\":\"a\"}}",         /* duplicate */
        "{\"features\":{\"x\":\"1\",\"c\":\"a\"}}",             /* wrong type */
        "{\"features\":{\"x\":true,\"c\":\"a\"}}",              /* boolean */
        "{\"features\":{\"c\":\"a\"}}",                         /* missing required */
        "{\"features\":{\"x\":null,\"c\":\"a\"}}",              /* null required */
        "{\"features\":{\"x\":1e999,\"c\":\"a\"}}",             /* overflow */
        "{\"features\":{\"x\":9223372036854775808,\"c\":\"a\"}}", /* beyond int64 */
        "{\"features\":{\"x\":1,\"c\":\"\\ud800\"}}",           /* lone surrogate */
        "{\"features\":{\"x\":1,\"c\":\"a\\u0000\"}}",          /* NUL */
        "{\"features\":{\"x\":1,\"c\":\"a\"}} x",               /* trailing text */
        "{\"features\":{\"x\":1,\"c\":\"a\"},\"label\":1}",     /* label */
        "{\"instances\":[]}",
        "{\"instances\":[{\"features\":{\"x\":1,\"c\":\"a\"}}],\"id\":\"x\"}",
        "{\"features\":{\"x\":01,\"c\":\"a\"}}",                /* leading zero */
        "{\"features\":{\"x\":1.,\"c\":\"a\"}}",
        "",
    };
    tide_schema *s = schema();
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        tide_instances in;
        char *buf;
        int rc = fast(bodies[i], s, &in, &buf);
        if (rc != SERVE_FAST_DECLINE)
            fail_msg("body %zu (%s): %d, expected a decline", i, bodies[i], rc);
        free(buf);
    }
    {   /* no room for simdjson's padding: declined, not read past */
        tide_instances in;
        const char body[] = "{\"features\":{\"x\":1,\"c\":\"a\"}}";
        assert_int_equal(serve_fast_instances(body, sizeof body - 1, sizeof body, s, &in, NULL, 0),
                         SERVE_FAST_DECLINE);
        /* and without a schema */
        char *buf;
        assert_int_equal(fast(body, NULL, &in, &buf), SERVE_FAST_DECLINE);
        free(buf);
    }
    tide_schema_free(s);
}

/* Random bodies of valid instances: the same rows as jansson's. */
static void test_same_as_jansson(void **st)
{
    (void)st;
    tide_schema *s = schema();
    uint64_t seed = 7;
    for (int round = 0; round < 200; round++) {
        char body[4096];
        size_t n = 0;
        int k = 1 + (int)(tide_test_rand(&seed) % 5);
        tide_instances a, b;
        tide_reqerr e;
        char *buf;
        n += (size_t)snprintf(body + n, sizeof body - n, "{\"instances\":[");
        for (int i = 0; i < k; i++) {
            double x = (tide_test_uniform(&seed) - 0.5) * pow(10, (double)(tide_test_rand(&seed) % 40) - 20);
            n += (size_t)snprintf(body + n, sizeof body - n,
                                  "%s{\"features\":{\"x\":%.*g,\"c\":\"v%d\",\"y\":%lld}}",
                                  i ? "," : "", 1 + (int)(tide_test_rand(&seed) % 25), x, i,
                                  (long long)(tide_test_rand(&seed) >> 1) - (1LL << 62));
        }
        n += (size_t)snprintf(body + n, sizeof body - n, "]}");
        assert_int_equal(fast(body, s, &a, &buf), SERVE_FAST_OK);
        assert_int_equal(tide_instances_parse(body, n, s, 0, &b, &e), 0);
        assert_int_equal(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
            assert_int_equal(a.rows[i].n_fields, b.rows[i].n_fields);
            for (size_t f = 0; f < a.rows[i].n_fields; f++) {
                const tide_field *p = &a.rows[i].fields[f], *q = &b.rows[i].fields[f];
                assert_int_equal(p->kind, q->kind);
                assert_int_equal(p->name_len, q->name_len);
                assert_memory_equal(p->name, q->name, p->name_len);
                if (p->kind == TIDE_VAL_NUM && memcmp(&p->num, &q->num, sizeof p->num))
                    fail_msg("%s: %a != %a", body, p->num, q->num);
            }
        }
        serve_fast_recycle(&a);   /* the next round reuses its arrays */
        assert_null(a.rows);
        tide_instances_free(&a);
        tide_instances_free(&b);
        free(buf);
    }
    tide_schema_free(s);
}

/* A body over 1 MiB (parsed with a parser of its own, not the thread's):
 * 40,000 instances, each x = its index, c = "c" + index mod 7. */
static void test_big_body(void **st)
{
    (void)st;
    tide_schema *s = schema();
    size_t cap = 40000 * 48 + 64, n = 0;
    char *body = malloc(cap), *buf;
    tide_instances in;
    assert_non_null(body);
    n += (size_t)snprintf(body + n, cap - n, "{\"instances\":[");
    for (int i = 0; i < 40000; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s{\"features\":{\"x\":%d,\"c\":\"c%d\"}}",
                              i ? "," : "", i, i % 7);
    n += (size_t)snprintf(body + n, cap - n, "]}");
    assert_true(n > ((size_t)1 << 20));
    assert_int_equal(fast(body, s, &in, &buf), SERVE_FAST_OK);
    assert_int_equal(in.n, 40000);
    for (size_t i = 0; i < in.n; i += 997) {
        char want[8];
        snprintf(want, sizeof want, "c%zu", i % 7);
        assert_true(in.rows[i].fields[0].num == (double)i);
        assert_int_equal(in.rows[i].fields[1].str_len, strlen(want));
        assert_memory_equal(in.rows[i].fields[1].str, want, strlen(want));
    }
    serve_fast_recycle(&in);   /* too big to keep: freed */
    tide_instances_free(&in);
    free(buf);
    free(body);
    tide_schema_free(s);
}

static void test_fmt_g17(void **st)
{
    (void)st;
    static const double fixed[] = {0.0, -0.0, 0.5, 0.1, 1.0 / 3, 1e308, 4.9e-324, 2.2250738585072014e-308,
                                   1e21, 1e22, 123456789012345678.0, -1.5e-7, 0.73105857863000490};
    uint64_t seed = 3;
    char a[SERVE_FMT_G17_MAX + 1], b[48];
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed + 100000; i++) {
        double v;
        size_t n;
        if (i < sizeof fixed / sizeof *fixed) {
            v = fixed[i];
        } else {
            uint64_t bits = tide_test_rand(&seed);
            memcpy(&v, &bits, sizeof v);
            if (isnan(v) || isinf(v))
                continue;
        }
        n = serve_fmt_g17(a, v);
        a[n] = '\0';
        snprintf(b, sizeof b, "%.17g", v);
        if (strcmp(a, b))
            fail_msg("%a: '%s', printf says '%s'", v, a, b);
    }
    assert_int_equal(serve_fmt_g17(a, 0.5), 3);
    assert_memory_equal(a, "0.5", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_declines),
        cmocka_unit_test(test_same_as_jansson),
        cmocka_unit_test(test_big_body),
        cmocka_unit_test(test_fmt_g17),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
