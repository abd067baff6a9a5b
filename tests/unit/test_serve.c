/* test_serve.c — the request validator (schemas, instances, inference) and
 * the hazard-pointer snapshot scheme of src/serve, without HTTP. */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>

#include "testutil.h"
#include "serve/serve_int.h"
#include "tide/serve.h"

static tide_schema *schema(const char *txt)
{
    tide_schema *s = NULL;
    tide_reqerr e;
    assert_int_equal(tide_schema_parse(txt, strlen(txt), &s, &e), 0);
    return s;
}

static void test_schema_parse(void **st)
{
    (void)st;
    tide_schema *s = schema("{\"x\":\"number\",\"c\":\"category\",\"o\":{\"type\":\"num\",\"required\":false}}");
    tide_ftype t;
    int req;
    assert_int_equal(tide_schema_count(s), 3);
    assert_string_equal(tide_schema_entry(s, 0, &t, &req), "x");
    assert_int_equal(t, TIDE_FTYPE_NUM);
    assert_true(req);
    assert_string_equal(tide_schema_entry(s, 1, &t, &req), "c");
    assert_int_equal(t, TIDE_FTYPE_CAT);
    assert_string_equal(tide_schema_entry(s, 2, &t, &req), "o");
    assert_false(req);
    assert_null(tide_schema_entry(s, 3, NULL, NULL));
    assert_int_equal(serve_schema_find(s, "c", 1), 1);
    assert_int_equal(serve_schema_find(s, "zz", 2), -1);
    tide_schema_free(s);

    tide_reqerr e;
    s = (tide_schema *)1;
    assert_int_equal(tide_schema_parse("{\"x\":\"float\"}", 13, &s, &e), -1);
    assert_null(s);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.field, "x");
    assert_int_equal(tide_schema_parse("{\"x\":{\"type\":\"number\",\"required\":1}}", 37, &s, &e), -1);
    assert_int_equal(tide_schema_parse("[1]", 3, &s, &e), -1);
    assert_int_equal(tide_schema_parse("{", 1, &s, &e), -1);
    assert_string_equal(e.error, "malformed_json");
    tide_schema_free(NULL);
}

static void test_instances_single_and_batch(void **st)
{
    (void)st;
    tide_instances in;
    tide_reqerr e;
    const char *b1 = "{\"id\":\"a1\",\"features\":{\"x\":1.5,\"c\":\"red\",\"n\":null,\"i\":-3}}";
    assert_int_equal(tide_instances_parse(b1, strlen(b1), NULL, 0, &in, &e), 0);
    assert_int_equal(in.n, 1);
    assert_false(in.batch);
    assert_string_equal(in.ids[0], "a1");
    assert_int_equal(in.rows[0].n_fields, 4);
    assert_int_equal(in.rows[0].fields[0].kind, TIDE_VAL_NUM);
    assert_true(in.rows[0].fields[0].num == 1.5);
    assert_int_equal(in.rows[0].fields[1].kind, TIDE_VAL_CAT);
    assert_int_equal(in.rows[0].fields[1].str_len, 3);
    assert_memory_equal(in.rows[0].fields[1].str, "red", 3);
    assert_int_equal(in.rows[0].fields[2].kind, TIDE_VAL_MISSING);
    assert_true(in.rows[0].fields[3].num == -3.0);
    assert_true(in.rows[0].weight == 1.0);
    tide_instances_free(&in);

    const char *b2 = "{\"instances\":[{\"features\":{\"x\":1},\"label\":3},"
                     "{\"id\":\"q\",\"features\":{\"x\":2},\"label\":2.5,\"weight\":4},"
                     "{\"features\":{},\"label\":\"cat\"}]}";
    assert_int_equal(tide_instances_parse(b2, strlen(b2), NULL, 1, &in, &e), 0);
    assert_int_equal(in.n, 3);
    assert_true(in.batch);
    assert_null(in.ids[0]);
    assert_string_equal(in.ids[1], "q");
    assert_string_equal(in.rows[0].target, "3");
    assert_true(in.rows[0].target_is_num && in.rows[0].target_num == 3.0);
    assert_string_equal(in.rows[1].target, "2.5");
    assert_true(in.rows[1].weight == 4.0);
    assert_string_equal(in.rows[2].target, "cat");
    assert_false(in.rows[2].target_is_num);
    assert_int_equal(in.rows[2].n_fields, 0);
    tide_instances_free(&in);
    tide_instances_free(NULL);
}

/* Each bad body: expected status, error word and field. */
static void test_instances_errors(void **st)
{
    (void)st;
    static const struct { const char *body; int need_label; int status; const char *error, *field; } C[] = {
        {"{\"features\":{\"x\":1,\"c\":\"a\",\"q\":2}}", 0, 400, "unknown_feature", "q"},
        {"{\"features\":{\"x\":\"1\",\"c\":\"a\"}}", 0, 400, "bad_type", "x"},
        {"{\"features\":{\"x\":1,\"c\":2}}", 0, 400, "bad_type", "c"},
        {"{\"features\":{\"x\":true,\"c\":\"a\"}}", 0, 400, "bad_type", "x"},
        {"{\"features\":{\"x\":1}}", 0, 400, "missing_feature", "c"},
        {"{\"features\":{\"x\":null,\"c\":\"a\"}}", 0, 400, "missing_feature", "x"},
        {"{\"features\":{\"x\":{\"a\":1},\"c\":\"a\"}}", 0, 400, "bad_nesting", "x"},
        {"{\"features\":{\"x\":[1],\"c\":\"a\"}}", 0, 400, "bad_nesting", "x"},
        {"{\"features\":[1]}", 0, 400, "bad_nesting", "features"},
        {"{\"id\":\"a\"}", 0, 400, "missing_field", "features"},
        {"{\"features\":{\"x\":1,\"c\":\"a\"},\"zz\":1}", 0, 400, "unknown_field", "zz"},
        {"{\"features\":{\"x\":1,\"c\":\"a\"},\"label\":\"1\"}", 0, 400, "unknown_field", "label"},
        {"{\"features\":{\"x\":1,\"c\":\"a\"}}", 1, 400, "missing_field", "label"},
        {"{\"features\":{\"x\":1,\"c\":\"a\"},\"label\":[1]}", 1, 400, "bad_label", "label"},
        {"{\"features\":{\"x\":1,\"c\":\"a\"},\"weight\":-1}", 0, 400, "bad_weight", "weight"},
        {"{\"id\":\"a b\",\"features\":{\"x\":1,\"c\":\"a\"}}", 0, 400, "bad_id", "id"},
        {"{\"id\":7,\"features\":{\"x\":1,\"c\":\"a\"}}", 0, 400, "bad_id", "id"},
        {"{\"instances\":[]}", 0, 400, "bad_batch", "instances"},
        {"{\"instances\":{}}", 0, 400, "bad_nesting", "instances"},
        {"{\"instances\":[{\"features\":{\"x\":1,\"c\":\"a\"}}],\"id\":\"x\"}", 0, 400, "unknown_field", ""},
        {"{\"features\":{\"x\":1,\"x\":2,\"c\":\"a\"}}", 0, 400, "malformed_json", ""},
        {"{\"features\":{\"x\":1e999,\"c\":\"a\"}}", 0, 400, "malformed_json", ""},
        {"{\"features\":{\"x\":NaN,\"c\":\"a\"}}", 0, 400, "malformed_json", ""},
        {"[]", 0, 400, "bad_request", ""},
        {"", 0, 400, "malformed_json", ""},
    };
    tide_schema *s = schema("{\"x\":\"number\",\"c\":\"category\"}");
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        tide_instances in;
        tide_reqerr e;
        memset(&e, 0, sizeof e);
        int rc = tide_instances_parse(C[i].body, strlen(C[i].body), s, C[i].need_label, &in, &e);
        if (rc != -1 || e.status != C[i].status || strcmp(e.error, C[i].error) ||
            strcmp(e.field, C[i].field))
            fail_msg("case %zu (%s): rc %d status %d error '%s' field '%s' reason '%s'", i,
                     C[i].body, rc, e.status, e.error, e.field, e.reason);
        assert_true(e.reason[0] != '\0');
        assert_null(in.rows);
    }
    tide_schema_free(s);
}

static void test_schema_infer(void **st)
{
    (void)st;
    const char *rows[] = {"{\"features\":{\"x\":1,\"c\":\"a\",\"y\":2}}",
                          "{\"features\":{\"x\":2,\"c\":\"b\"}}",
                          "{\"features\":{\"x\":3,\"c\":\"a\",\"y\":1,\"z\":\"k\"}}"};
    tide_schema_infer *si;
    tide_schema *s;
    tide_ftype t;
    int req;
    assert_int_equal(tide_schema_infer_new(&si), TIDE_OK);
    for (int i = 0; i < 3; i++) {
        tide_instances in;
        tide_reqerr e;
        assert_int_equal(tide_instances_parse(rows[i], strlen(rows[i]), NULL, 0, &in, &e), 0);
        assert_int_equal(tide_schema_infer_add(si, &in.rows[0]), TIDE_OK);
        tide_instances_free(&in);
    }
    assert_int_equal(tide_schema_infer_rows(si), 3);
    assert_int_equal(tide_schema_infer_build(si, &s), TIDE_OK);
    assert_int_equal(tide_schema_count(s), 4);
    /* x, c in every row -> required; y, z not */
    assert_string_equal(tide_schema_entry(s, 0, &t, &req), "x");
    assert_true(req && t == TIDE_FTYPE_NUM);
    assert_string_equal(tide_schema_entry(s, 1, &t, &req), "c");
    assert_true(req && t == TIDE_FTYPE_CAT);
    assert_string_equal(tide_schema_entry(s, 2, &t, &req), "y");
    assert_false(req);
    assert_string_equal(tide_schema_entry(s, 3, &t, &req), "z");
    assert_true(!req && t == TIDE_FTYPE_CAT);
    /* the inferred schema now refuses a new name and accepts a row without y */
    tide_instances in;
    tide_reqerr e;
    const char *ok_body = "{\"features\":{\"x\":1,\"c\":\"q\"}}";
    const char *bad_body = "{\"features\":{\"x\":1,\"c\":\"q\",\"w\":0}}";
    assert_int_equal(tide_instances_parse(ok_body, strlen(ok_body), s, 0, &in, &e), 0);
    tide_instances_free(&in);
    assert_int_equal(tide_instances_parse(bad_body, strlen(bad_body), s, 0, &in, &e), -1);
    assert_string_equal(e.field, "w");
    /* JSON round trip */
    char *txt = tide_schema_to_json(s);
    tide_schema *back = NULL;
    assert_int_equal(tide_schema_parse(txt, strlen(txt), &back, &e), 0);
    assert_int_equal(tide_schema_count(back), 4);
    assert_string_equal(tide_schema_entry(back, serve_schema_find(back, "y", 1), NULL, &req), "y");
    assert_false(req);
    free(txt);
    tide_schema_free(back);
    tide_schema_free(s);
    tide_schema_infer_free(si);
}

/* ---- hazard pointers ------------------------------------------------------ */

static serve_snap *mk(int64_t seq)
{
    serve_snap *s = calloc(1, sizeof *s);
    s->seq = seq;   /* m stays NULL: tide_model_free(NULL) is a no-op */
    return s;
}

static void test_snap_reclaim(void **st)
{
    (void)st;
    _Atomic(serve_snap *) p = NULL;
    serve_retired r = {0};
    serve_snap_publish(&p, mk(1), &r);
    assert_int_equal(r.n, 0);
    serve_snap *held = serve_snap_acquire(&p);
    assert_int_equal(held->seq, 1);
    serve_snap_publish(&p, mk(2), &r);
    /* a reader holds 1: it is retired, not freed */
    assert_int_equal(r.n, 1);
    assert_ptr_equal(r.v[0], held);
    assert_int_equal(held->seq, 1);
    serve_snap_release();
    serve_snap_scan(&r);
    assert_int_equal(r.n, 0);
    serve_snap_publish(&p, mk(3), &r);
    assert_int_equal(r.n, 0);   /* nobody held 2 */
    serve_snap_retired_free(&r);
    serve_snap_free(atomic_load(&p));
}

typedef struct stress {
    _Atomic(serve_snap *) p;
    atomic_int stop;
    atomic_long reads, bad;
} stress;

static void *reader(void *arg)
{
    stress *x = arg;
    int64_t last = 0;
    while (!atomic_load(&x->stop)) {
        serve_snap *s = serve_snap_acquire(&x->p);
        /* created_ms holds seq * 3: a freed-and-reused snapshot breaks it (and ASan sees it) */
        if (s->created_ms != s->seq * 3 || s->seq < last)
            atomic_fetch_add(&x->bad, 1);
        last = s->seq;
        serve_snap_release();
        atomic_fetch_add(&x->reads, 1);
    }
    return NULL;
}

static void test_snap_stress(void **st)
{
    (void)st;
    stress x;
    serve_retired r = {0};
    pthread_t th[3];
    atomic_init(&x.p, NULL);
    atomic_init(&x.stop, 0);
    atomic_init(&x.reads, 0);
    atomic_init(&x.bad, 0);
    serve_snap *s0 = mk(0);
    serve_snap_publish(&x.p, s0, &r);
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, &x);
    /* publish at least 20000 snapshots, and keep going until the readers (which a
     * loaded machine may schedule late) have read a few thousand times */
    for (int64_t k = 1; k <= 20000 || (atomic_load(&x.reads) < 3000 && k < 50000000); k++) {
        serve_snap *s = mk(k);
        s->created_ms = k * 3;
        serve_snap_publish(&x.p, s, &r);
        assert_true(r.n <= 3);   /* at most one held snapshot per reader stays retired */
    }
    atomic_store(&x.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&x.bad), 0);
    assert_true(atomic_load(&x.reads) > 0);
    serve_snap_scan(&r);
    assert_int_equal(r.n, 0);
    serve_snap_retired_free(&r);
    serve_snap_free(atomic_load(&x.p));
}

/* ---- jcache.c: the committer's join cache ------------------------------------ */

static void add_ev(jcache *c, const char *id, int64_t row, int64_t time)
{
    tide_feat f[2] = {{7, 1.5f}, {9, -2.0f}};
    double p[2] = {0.25, 0.75};
    assert_int_equal(jcache_add(c, id, row, time, 3, f, 2, p, 2), 0);
}

/* A transaction's adds and label changes vanish on undo and stay on commit;
 * the entry keeps what it was given. */
static void test_jcache_undo(void **st)
{
    (void)st;
    jcache c;
    jentry *e;
    jcache_init(&c, 1 << 20);
    add_ev(&c, "a", 1, 100);
    jcache_commit(&c);
    e = jcache_get(&c, "a");
    assert_non_null(e);
    assert_int_equal(e->row, 1);
    assert_int_equal(e->time, 100);
    assert_int_equal(e->version, 3);
    assert_int_equal(e->nf, 2);
    assert_int_equal(jentry_f(e)[1].idx, 9);
    assert_true(jentry_f(e)[1].val == -2.0f);
    assert_int_equal(e->np, 2);
    assert_true(jentry_p(e)[1] == 0.75);
    assert_int_equal(e->seq, 0);
    assert_null(e->label);
    assert_int_equal(jcache_add(&c, "a", 9, 9, 9, NULL, 0, NULL, 0), -1);   /* present */

    /* rolled back: a new event, a first label, then a second label */
    add_ev(&c, "b", 2, 101);
    jcache_set_label(&c, e, 10, "cat");
    jcache_set_label(&c, e, 11, "dog");
    assert_int_equal(e->seq, 11);
    assert_string_equal(e->label, "dog");
    assert_non_null(jcache_get(&c, "b"));
    jcache_undo(&c);
    assert_null(jcache_get(&c, "b"));
    assert_ptr_equal(jcache_get(&c, "a"), e);
    assert_int_equal(e->seq, 0);
    assert_null(e->label);
    assert_int_equal(c.n, 1);

    /* committed, then an overwrite rolled back */
    jcache_set_label(&c, e, 12, "cat");
    jcache_commit(&c);
    jcache_set_label(&c, e, 13, "dog");
    jcache_undo(&c);
    assert_int_equal(e->seq, 12);
    assert_string_equal(e->label, "cat");
    jcache_free(&c);
}

/* Byte budget: the oldest entries leave first, never during a transaction;
 * accounting returns to zero; expire drops old events; 0 bytes = disabled. */
static void test_jcache_budget(void **st)
{
    (void)st;
    jcache c;
    char id[32];
    size_t one;
    jcache_init(&c, 1 << 20);
    add_ev(&c, "x00", 1, 0);
    one = c.bytes;
    jcache_commit(&c);
    jcache_free(&c);

    jcache_init(&c, one * 10);   /* room for 10 entries */
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "x%02d", i);
        add_ev(&c, id, i + 1, 1000 + i);
    }
    assert_int_equal(c.n, 25);   /* not evicted while the transaction is open */
    jcache_commit(&c);
    assert_int_equal(c.n, 10);
    assert_int_equal(c.evicted, 15);
    assert_int_equal(c.bytes, 10 * one);
    assert_null(jcache_get(&c, "x14"));
    assert_non_null(jcache_get(&c, "x15"));
    assert_non_null(jcache_get(&c, "x24"));
    /* a label makes an entry bigger: the budget still holds after commit */
    jcache_set_label(&c, jcache_get(&c, "x24"), 5, "a-long-label-text");
    jcache_commit(&c);
    assert_true(c.bytes <= one * 10);
    assert_null(jcache_get(&c, "x15"));
    /* retention: events older than the cutoff leave */
    jcache_expire(&c, 1020);
    assert_null(jcache_get(&c, "x19"));
    assert_non_null(jcache_get(&c, "x20"));
    assert_int_equal(c.n, 5);
    jcache_expire(&c, 1 << 30);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.bytes, 0);
    /* many entries: the table grows and every one is still found */
    jcache_free(&c);
    jcache_init(&c, 64u << 20);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        add_ev(&c, id, i + 1, i);
    }
    jcache_commit(&c);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "ev-%d", i);
        jentry *e = jcache_get(&c, id);
        assert_non_null(e);
        assert_int_equal(e->row, i + 1);
    }
    assert_null(jcache_get(&c, "ev-5000"));
    jcache_free(&c);
    jcache_init(&c, 0);
    assert_int_equal(jcache_add(&c, "z", 1, 1, 0, NULL, 0, NULL, 0), -1);
    assert_null(jcache_get(&c, "z"));
    jcache_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_parse),
        cmocka_unit_test(test_instances_single_and_batch),
        cmocka_unit_test(test_instances_errors),
        cmocka_unit_test(test_schema_infer),
        cmocka_unit_test(test_snap_reclaim),
        cmocka_unit_test(test_snap_stress),
        cmocka_unit_test(test_jcache_undo),
        cmocka_unit_test(test_jcache_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
