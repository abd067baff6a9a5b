/* test_feat.c — feature hashing (src/feat/feat.c) and the online standard
 * scaler (src/feat/scaler.c).
 *
 * Expected buckets are recomputed here from the scheme documented in
 * feat.c's header (XXH3-64: h(ns) = XXH3(ns), h(ns,name) =
 * XXH3_withSeed(name, h(ns)), h(ns,name,value) = XXH3_withSeed(value,
 * h(ns,name)), crossing = (ha * FNV64_PRIME) ^ hb, bucket = low `bits` bits),
 * not copied from the program's output. Scaler values are Welford statistics
 * worked out by hand in the comments. */
#include "testutil.h"
#include "tide/feat.h"
#include "tide/io.h"
#include "io/io_priv.h"   /* tide_vw_force_wide */
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <xxhash.h>

#define FNV64_PRIME 0x100000001b3ULL

/* ---- helpers ------------------------------------------------------------ */

static tide_field fnum(const char *ns, const char *name, double v)
{
    tide_field f;
    memset(&f, 0, sizeof f);
    f.ns = ns;
    f.ns_len = strlen(ns);
    f.name = name;
    f.name_len = strlen(name);
    f.num = v;
    f.kind = TIDE_VAL_NUM;
    f.col = -1;
    return f;
}

static tide_field fcat(const char *ns, const char *name, const char *val)
{
    tide_field f = fnum(ns, name, 0);
    f.kind = TIDE_VAL_CAT;
    f.str = val;
    f.str_len = strlen(val);
    return f;
}

static tide_row mkrow(tide_field *f, size_t n)
{
    tide_row r;
    memset(&r, 0, sizeof r);
    r.fields = f;
    r.n_fields = n;
    r.weight = 1;
    r.line = 7;
    return r;
}

static tide_featurizer *new_fz(int bits, const char **quad, size_t nq)
{
    tide_feat_opts o;
    tide_featurizer *fz = NULL;
    tide_err e;
    tide_feat_opts_init(&o);
    o.bits = bits;
    o.quadratic = quad;
    o.n_quadratic = nq;
    if (tide_featurizer_new(&o, &fz, &e) != TIDE_OK)
        fail_msg("featurizer_new: %s", e.msg);
    return fz;
}

static void featurize_ok(tide_featurizer *fz, tide_field *f, size_t n, tide_fvec *v)
{
    tide_row r = mkrow(f, n);
    tide_err e;
    tide_err_clear(&e);
    if (tide_featurize(fz, &r, v, &e) != TIDE_OK)
        fail_msg("featurize: %s", e.msg);
}

/* Full 64-bit hashes following the documented scheme. */
static uint64_t h_name(const char *ns, const char *name)
{
    return XXH3_64bits_withSeed(name, strlen(name), XXH3_64bits(ns, strlen(ns)));
}
static uint64_t h_cat(const char *ns, const char *name, const char *val)
{
    return XXH3_64bits_withSeed(val, strlen(val), h_name(ns, name));
}
static uint32_t mask_of(int bits) { return (uint32_t)((1ULL << bits) - 1); }

/* ---- hashing ------------------------------------------------------------ */

static void test_same_name_same_bucket(void **st)
{
    (void)st;
    tide_featurizer *a = new_fz(18, NULL, 0), *b = new_fz(18, NULL, 0);
    tide_fvec v1, v2;
    tide_field f1[2] = {fnum("", "price", 2.5), fnum("", "qty", -1)};
    tide_field f2[2] = {fnum("", "qty", 4), fnum("", "price", 0.25)};
    tide_fvec_init(&v1);
    tide_fvec_init(&v2);
    featurize_ok(a, f1, 2, &v1);
    featurize_ok(b, f2, 2, &v2);
    assert_int_equal(v1.n, 2);
    assert_int_equal(v2.n, 2);
    /* same name in another featurizer / another position -> same bucket */
    assert_int_equal(v1.f[0].idx, v2.f[1].idx);
    assert_int_equal(v1.f[1].idx, v2.f[0].idx);
    /* numeric value is carried as is */
    assert_true(v1.f[0].val == 2.5f);
    assert_true(v2.f[1].val == 0.25f);
    /* and the bucket is the documented hash */
    assert_int_equal(v1.f[0].idx, (uint32_t)h_name("", "price") & mask_of(18));
    assert_int_equal(tide_feat_index(a, "", 0, "price", 5), v1.f[0].idx);
    tide_fvec_free(&v1);
    tide_fvec_free(&v2);
    tide_featurizer_free(a);
    tide_featurizer_free(b);
}

static void test_numeric_vs_categorical(void **st)
{
    (void)st;
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_fvec v;
    tide_field f[3] = {fnum("", "color", 3), fcat("", "color", "red"), fcat("", "color", "blue")};
    tide_fvec_init(&v);
    featurize_ok(fz, f, 3, &v);
    assert_int_equal(v.n, 3);
    assert_int_not_equal(v.f[0].idx, v.f[1].idx);
    assert_int_not_equal(v.f[1].idx, v.f[2].idx);
    /* one-hot: categorical value 1 in h(ns,name,value) */
    assert_true(v.f[1].val == 1.0f && v.f[2].val == 1.0f);
    assert_int_equal(v.f[1].idx, (uint32_t)h_cat("", "color", "red") & mask_of(18));
    assert_int_equal(tide_feat_index_cat(fz, "", 0, "color", 5, "blue", 4), v.f[2].idx);
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

static void test_namespace_changes_bucket(void **st)
{
    (void)st;
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_fvec v;
    tide_field f[3] = {fnum("user", "x", 1), fnum("item", "x", 1), fnum("", "x", 1)};
    tide_fvec_init(&v);
    featurize_ok(fz, f, 3, &v);
    assert_int_equal(v.n, 3);
    assert_int_not_equal(v.f[0].idx, v.f[1].idx);
    assert_int_not_equal(v.f[0].idx, v.f[2].idx);
    assert_int_not_equal(v.f[1].idx, v.f[2].idx);
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("user", "x") & mask_of(18));
    assert_int_equal(v.f[2].idx, (uint32_t)h_name("", "x") & mask_of(18));
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

static void test_bits_masking(void **st)
{
    (void)st;
    static const int bits[] = {1, 2, 4, 7, 12, 18, 28};
    char names[200][12];
    tide_field f[200];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        f[i] = (i % 3) ? fnum(i % 2 ? "ns" : "", names[i], i) : fcat("", names[i], "v");
    }
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        tide_featurizer *fz = new_fz(bits[b], NULL, 0);
        tide_fvec v;
        uint32_t seen_or = 0;
        tide_fvec_init(&v);
        featurize_ok(fz, f, 200, &v);
        assert_int_equal(v.n, 200);
        assert_int_equal(tide_featurizer_bits(fz), bits[b]);
        for (size_t i = 0; i < v.n; i++) {
            if (v.f[i].idx >= (1u << bits[b]))
                fail_msg("bits=%d: index %u >= 2^bits", bits[b], v.f[i].idx);
            seen_or |= v.f[i].idx;
        }
        /* 200 hashed features use the top bit of the range (not a constant mask
         * of fewer bits): P(no index has bit b-1 set) = 2^-200 */
        assert_true(seen_or >> (bits[b] - 1) & 1);
        tide_fvec_free(&v);
        tide_featurizer_free(fz);
    }
}

static void test_bad_options(void **st)
{
    (void)st;
    tide_feat_opts o;
    tide_featurizer *fz = (tide_featurizer *)&o;
    tide_err e;
    const char *q[1] = {"nocolon"};
    tide_feat_opts_init(&o);
    assert_int_equal(o.bits, TIDE_BITS_DEFAULT);
    o.bits = 0;
    assert_int_equal(tide_featurizer_new(&o, &fz, &e), TIDE_ERR_ARG);
    assert_null(fz);
    o.bits = TIDE_BITS_MAX + 1;
    assert_int_equal(tide_featurizer_new(&o, &fz, &e), TIDE_ERR_ARG);
    assert_non_null(strstr(e.msg, "29"));
    o.bits = 10;
    o.quadratic = q;
    o.n_quadratic = 1;
    assert_int_equal(tide_featurizer_new(&o, &fz, &e), TIDE_ERR_ARG);
    assert_non_null(strstr(e.msg, "nocolon"));
    tide_featurizer_free(NULL);
}

static void test_missing_skipped(void **st)
{
    (void)st;
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_fvec v;
    tide_field f[4] = {fnum("", "a", 1), fnum("", "b", 2), fcat("", "c", "x"), fnum("", "d", 4)};
    f[1].kind = TIDE_VAL_MISSING;
    f[2].kind = TIDE_VAL_MISSING;
    tide_fvec_init(&v);
    featurize_ok(fz, f, 4, &v);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("", "a") & mask_of(18));
    assert_int_equal(v.f[1].idx, (uint32_t)h_name("", "d") & mask_of(18));
    assert_true(v.f[1].val == 4.0f);
    /* a row of only missing values is an empty vector, not an error */
    f[0].kind = f[3].kind = TIDE_VAL_MISSING;
    featurize_ok(fz, f, 4, &v);
    assert_int_equal(v.n, 0);
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

static void test_nonfinite_is_error(void **st)
{
    (void)st;
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_fvec v;
    tide_err e;
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    tide_fvec_init(&v);
    for (int i = 0; i < 3; i++) {
        tide_field f[2] = {fnum("", "ok", 1), fnum("", "temperature", bad[i])};
        tide_row r = mkrow(f, 2);
        tide_err_clear(&e);
        assert_int_equal(tide_featurize(fz, &r, &v, &e), TIDE_ERR_PARSE);
        if (!strstr(e.msg, "temperature"))
            fail_msg("message does not name the field: '%s'", e.msg);
        assert_non_null(strstr(e.msg, "7")); /* the row's line */
        assert_non_null(strstr(e.msg, i == 0 ? "NaN" : "infinite"));   /* the reason */
    }
    {
        /* finite as a double but not as a float: also refused */
        tide_field f[1] = {fnum("", "huge", 1e300)};
        tide_row r = mkrow(f, 1);
        assert_int_equal(tide_featurize(fz, &r, &v, &e), TIDE_ERR_PARSE);
        assert_non_null(strstr(e.msg, "huge"));
        assert_non_null(strstr(e.msg, "overflows a float"));
    }
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

/* ---- quadratic interactions ------------------------------------------- */

static int find_idx(const tide_fvec *v, size_t from, uint32_t idx, float val)
{
    for (size_t i = from; i < v->n; i++)
        if (v->f[i].idx == idx && v->f[i].val == val)
            return (int)i;
    return -1;
}

static void test_quadratic_cross(void **st)
{
    (void)st;
    const char *q[1] = {"A:B"};
    tide_featurizer *fz = new_fz(20, q, 1);
    tide_fvec v;
    /* |A| = 2, |B| = 3, one feature in C (not crossed) */
    tide_field f[6] = {fnum("A", "a1", 2), fnum("B", "b1", 3), fnum("A", "a2", -0.5),
                       fcat("B", "b2", "k"), fnum("B", "b3", 10), fnum("C", "c", 7)};
    const int ia[2] = {0, 2}, ib[3] = {1, 3, 4};
    const float va[2] = {2, -0.5f}, vb[3] = {3, 1, 10};
    uint64_t ha[2], hb[3];
    tide_fvec_init(&v);
    featurize_ok(fz, f, 6, &v);
    /* 6 base features + |A|*|B| = 2*3 = 6 crosses */
    assert_int_equal(v.n, 12);
    ha[0] = h_name("A", "a1");
    ha[1] = h_name("A", "a2");
    hb[0] = h_name("B", "b1");
    hb[1] = h_cat("B", "b2", "k");
    hb[2] = h_name("B", "b3");
    (void)ia;
    (void)ib;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            uint32_t idx = (uint32_t)((ha[i] * FNV64_PRIME) ^ hb[j]) & mask_of(20);
            /* value = product: 2*3=6, 2*1=2, 2*10=20, -0.5*3=-1.5, -0.5*1=-0.5, -0.5*10=-5 */
            if (find_idx(&v, 6, idx, va[i] * vb[j]) < 0)
                fail_msg("cross %d x %d (bucket %u, value %g) missing", i, j, idx,
                         (double)(va[i] * vb[j]));
        }
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

static void test_quadratic_self_pair(void **st)
{
    (void)st;
    const char *q[1] = {"A:A"};
    tide_featurizer *fz = new_fz(20, q, 1);
    tide_fvec v;
    tide_field f[4] = {fnum("A", "x", 2), fnum("A", "y", 3), fnum("B", "z", 5), fnum("A", "w", -1)};
    const uint64_t h[3] = {h_name("A", "x"), h_name("A", "y"), h_name("A", "w")};
    const float val[3] = {2, 3, -1};
    tide_fvec_init(&v);
    featurize_ok(fz, f, 4, &v);
    /* |A| = 3: pairs i <= j -> 3*4/2 = 6 crosses (x*x=4, x*y=6, x*w=-2,
     * y*y=9, y*w=-3, w*w=1), never both (i,j) and (j,i) */
    assert_int_equal(v.n, 4 + 6);
    for (int i = 0; i < 3; i++)
        for (int j = i; j < 3; j++) {
            uint32_t idx = (uint32_t)((h[i] * FNV64_PRIME) ^ h[j]) & mask_of(20);
            if (find_idx(&v, 4, idx, val[i] * val[j]) < 0)
                fail_msg("self cross %d x %d missing", i, j);
        }
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

static void test_quadratic_csv_columns(void **st)
{
    (void)st;
    /* without namespaces, a group is a column name */
    const char *q[1] = {"nswprice:vicprice"};
    tide_featurizer *fz = new_fz(18, q, 1);
    tide_fvec v;
    tide_field f[3] = {fnum("", "nswprice", 0.5), fnum("", "vicprice", 0.25), fnum("", "x", 3)};
    tide_fvec_init(&v);
    for (int i = 0; i < 3; i++)
        f[i].col = i;
    featurize_ok(fz, f, 3, &v);
    assert_int_equal(v.n, 4);
    assert_int_equal(v.f[3].idx,
                     (uint32_t)((h_name("", "nswprice") * FNV64_PRIME) ^ h_name("", "vicprice")) &
                         mask_of(18));
    assert_true(v.f[3].val == 0.125f); /* 0.5 * 0.25 */
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

/* Groups are flagged with two bits per pair in one 64-bit word, so at most
 * 32 pairs: the last one (pair 31, bits 62 and 63) must cross only its own
 * groups, and a 33rd pair is refused (it used to alias pair 0 through an
 * over-wide shift -- found by this test, fixed in dfa3f27). */
static void test_quadratic_many_pairs(void **st)
{
    (void)st;
    const char *q[33];
    char buf[33][16];
    tide_featurizer *fz;
    tide_feat_opts o;
    tide_fvec v;
    tide_err e;
    tide_wbuf b;
    tide_rbuf r;
    tide_field f[4] = {fnum("a", "x", 2), fnum("b", "x", 3), fnum("c", "x", 5), fnum("d", "x", 7)};
    for (int i = 0; i < 33; i++) {
        snprintf(buf[i], sizeof buf[i], "u%d:v%d", i, i);
        q[i] = buf[i];
    }
    q[0] = "a:b";
    q[31] = "c:d";
    fz = new_fz(18, q, 32);
    tide_fvec_init(&v);
    featurize_ok(fz, f, 4, &v);
    /* 4 base + a*b (= 2*3 = 6) + c*d (= 5*7 = 35) */
    assert_int_equal(v.n, 6);
    assert_true(v.f[4].val == 6.0f);
    assert_true(v.f[5].val == 35.0f);
    /* a saved block claiming 33 pairs is refused */
    tide_wbuf_init(&b);
    tide_featurizer_save(fz, &b);
    b.data[4] = 33;
    for (int i = 0; i < 2; i++)
        tide_wbuf_str(&b, "w:w");
    tide_rbuf_init(&r, b.data, b.len);
    tide_featurizer_free(fz);
    fz = NULL;
    assert_int_equal(tide_featurizer_load(&r, &fz, &e), TIDE_ERR_FORMAT);
    assert_null(fz);
    tide_wbuf_free(&b);
    /* and so is a 33rd pair */
    tide_feat_opts_init(&o);
    o.quadratic = q;
    o.n_quadratic = 33;
    assert_int_equal(tide_featurizer_new(&o, &fz, &e), TIDE_ERR_LIMIT);
    assert_null(fz);
    assert_non_null(strstr(e.msg, "32"));
    tide_fvec_free(&v);
}

/* ---- CSV column cache --------------------------------------------------- */

static void test_column_cache(void **st)
{
    (void)st;
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_fvec v;
    tide_field f[2] = {fnum("", "alpha", 1), fnum("", "beta", 2)};
    tide_fvec_init(&v);
    f[0].col = 0;
    f[1].col = 1;
    featurize_ok(fz, f, 2, &v); /* fills the cache: col 0 = alpha, col 1 = beta */
    featurize_ok(fz, f, 2, &v); /* served from the cache */
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("", "alpha") & mask_of(18));
    assert_int_equal(v.f[1].idx, (uint32_t)h_name("", "beta") & mask_of(18));
    /* another file: column 0 now carries "gamma", column 1 "alpha" */
    f[0].name = "gamma";
    f[0].name_len = 5;
    f[1].name = "alpha";
    f[1].name_len = 5;
    featurize_ok(fz, f, 2, &v);
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("", "gamma") & mask_of(18));
    assert_int_equal(v.f[1].idx, (uint32_t)h_name("", "alpha") & mask_of(18));
    /* same length, different bytes ("alpha" vs "alphb") */
    f[1].name = "alphb";
    featurize_ok(fz, f, 2, &v);
    assert_int_equal(v.f[1].idx, (uint32_t)h_name("", "alphb") & mask_of(18));
    /* a column index far beyond the cache, and a categorical cell */
    f[0] = fcat("", "delta", "on");
    f[0].col = 5000;
    featurize_ok(fz, f, 1, &v);
    assert_int_equal(v.f[0].idx, (uint32_t)h_cat("", "delta", "on") & mask_of(18));
    /* a VW-like field with a namespace is never served from column 0's cache */
    f[0] = fnum("ns", "gamma", 1);
    f[0].col = 0;
    featurize_ok(fz, f, 1, &v);
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("ns", "gamma") & mask_of(18));
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

/* ---- save / load -------------------------------------------------------- */

static void test_featurizer_save_load(void **st)
{
    (void)st;
    const char *q[2] = {"A:B", "A:A"};
    tide_featurizer *fz = new_fz(11, q, 2), *fz2 = NULL;
    tide_fvec v1, v2;
    tide_wbuf b;
    tide_rbuf r;
    tide_err e;
    tide_field f[4] = {fnum("A", "x", 2), fnum("B", "y", 3), fcat("B", "z", "q"), fnum("", "w", 1)};
    tide_fvec_init(&v1);
    tide_fvec_init(&v2);
    tide_wbuf_init(&b);
    tide_featurizer_save(fz, &b);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_featurizer_load(&r, &fz2, &e), TIDE_OK);
    assert_int_equal(r.pos, b.len);
    assert_int_equal(tide_featurizer_bits(fz2), 11);
    featurize_ok(fz, f, 4, &v1);
    featurize_ok(fz2, f, 4, &v2);
    /* 4 base + A:B 1*2 + A:A 1 = 7 */
    assert_int_equal(v1.n, 7);
    assert_int_equal(v2.n, v1.n);
    assert_memory_equal(v1.f, v2.f, v1.n * sizeof *v1.f);
    /* every truncation of the block fails cleanly */
    for (size_t n = 0; n < b.len; n++) {
        tide_featurizer *t = NULL;
        tide_rbuf_init(&r, b.data, n);
        assert_int_equal(tide_featurizer_load(&r, &t, &e), TIDE_ERR_FORMAT);
        assert_null(t);
    }
    tide_wbuf_free(&b);
    tide_fvec_free(&v1);
    tide_fvec_free(&v2);
    tide_featurizer_free(fz);
    tide_featurizer_free(fz2);
}

static void test_fvec_basics(void **st)
{
    (void)st;
    tide_fvec v, c;
    tide_fvec_init(&v);
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(tide_fvec_push(&v, i, (float)i * 0.5f), TIDE_OK);
    assert_int_equal(v.n, 1000);
    assert_int_equal(tide_fvec_copy(&c, &v), TIDE_OK);
    v.f[3].val = -1;
    assert_true(c.f[3].val == 1.5f);
    assert_int_equal(c.f[999].idx, 999);
    tide_fvec_free(&v);
    tide_fvec_free(&c);
    assert_int_equal(v.n, 0);
}

/* ---- scaler ------------------------------------------------------------- */

static tide_fvec vec1(uint32_t idx, float val)
{
    tide_fvec v;
    tide_fvec_init(&v);
    tide_fvec_push(&v, idx, val);
    return v;
}

static void test_scaler_welford(void **st)
{
    (void)st;
    tide_scaler *s;
    tide_fvec v, out;
    const float xs[4] = {2, 4, 4, 6};
    tide_fvec_init(&out);
    assert_int_equal(tide_scaler_new(10, &s), TIDE_OK);
    /* learn_transform updates first, then scales:
     * row 1: x=2, n=1, mean=2, var=0 -> zero variance scales to 0 */
    v = vec1(5, xs[0]);
    assert_int_equal(tide_scaler_learn_transform(s, &v, &out), TIDE_OK);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.f[0].idx, 5);
    assert_true(out.f[0].val == 0.0f);
    /* row 2: x=4, n=2, mean=3, M2 = 0 + (4-2)*(4-3) = 2, var = M2/n = 1 -> (4-3)/1 = 1 */
    v.f[0].val = xs[1];
    assert_int_equal(tide_scaler_learn_transform(s, &v, &out), TIDE_OK);
    assert_near(out.f[0].val, 1.0, 1e-6);
    /* row 3: x=4, n=3, mean=10/3, M2 = 2 + (4-3)*(4-10/3) = 8/3, var = 8/9, sd = 0.942809;
     * (4 - 10/3)/sd = (2/3)/(0.942809) = 0.707107 */
    v.f[0].val = xs[2];
    assert_int_equal(tide_scaler_learn_transform(s, &v, &out), TIDE_OK);
    assert_near(out.f[0].val, 0.70710678, 1e-6);
    /* row 4 (learn only): x=6, n=4, mean=4, population var = ((2-4)^2+0+0+(6-4)^2)/4 = 2 */
    v.f[0].val = xs[3];
    assert_int_equal(tide_scaler_learn(s, &v), TIDE_OK);
    /* scale(7) = (7-4)/sqrt(2) = 2.1213203; scale(4) = 0 */
    assert_near(tide_scaler_scale(s, 5, 7), 3.0 / sqrt(2.0), 1e-6);
    assert_near(tide_scaler_scale(s, 5, 4), 0.0, 1e-7);
    /* transform never updates: twice the same answer */
    v.f[0].val = 1;
    assert_int_equal(tide_scaler_transform(s, &v, &out), TIDE_OK);
    assert_near(out.f[0].val, -3.0 / sqrt(2.0), 1e-6); /* (1-4)/sqrt 2 */
    assert_int_equal(tide_scaler_transform(s, &v, &out), TIDE_OK);
    assert_near(out.f[0].val, -3.0 / sqrt(2.0), 1e-6);
    assert_true(tide_scaler_memory(s) > 0);
    tide_fvec_free(&v);
    tide_fvec_free(&out);
    tide_scaler_free(s);
    tide_scaler_free(NULL);
}

static void test_scaler_unseen_and_many(void **st)
{
    (void)st;
    tide_scaler *s;
    tide_fvec v, out;
    tide_fvec_init(&v);
    tide_fvec_init(&out);
    assert_int_equal(tide_scaler_new(16, &s), TIDE_OK);
    /* unseen bucket scales to 0, whatever its value */
    assert_true(tide_scaler_scale(s, 123, 42.0f) == 0.0f);
    v = vec1(9, 5);
    assert_int_equal(tide_scaler_transform(s, &v, &out), TIDE_OK);
    assert_true(out.f[0].val == 0.0f);
    tide_fvec_free(&v);
    /* 3000 buckets (forces several rehashes): bucket i sees values i and i+2
     * -> mean i+1, population var 1 -> scale(i+3) = 2 */
    for (uint32_t i = 0; i < 3000; i++) {
        tide_fvec_push(&v, i * 7, (float)i);
    }
    assert_int_equal(tide_scaler_learn(s, &v), TIDE_OK);
    for (uint32_t i = 0; i < 3000; i++)
        v.f[i].val = (float)i + 2;
    assert_int_equal(tide_scaler_learn(s, &v), TIDE_OK);
    for (uint32_t i = 0; i < 3000; i += 37)
        assert_near(tide_scaler_scale(s, i * 7, (float)i + 3), 2.0, 1e-3);
    assert_true(tide_scaler_scale(s, 1, 5) == 0.0f); /* 1 is not a multiple of 7 */
    tide_fvec_free(&v);
    tide_fvec_free(&out);
    tide_scaler_free(s);
}

static void test_scaler_clone_independent(void **st)
{
    (void)st;
    tide_scaler *s, *c;
    tide_fvec v;
    assert_int_equal(tide_scaler_new(8, &s), TIDE_OK);
    v = vec1(3, 1);
    tide_scaler_learn(s, &v);
    v.f[0].val = 3;
    tide_scaler_learn(s, &v); /* mean 2, var 1 */
    assert_int_equal(tide_scaler_clone(s, &c), TIDE_OK);
    assert_near(tide_scaler_scale(c, 3, 4), 2.0, 1e-6);
    /* update the original: values 1,3,11 -> mean 5, var ((16+4+36)/3) = 56/3 */
    v.f[0].val = 11;
    tide_scaler_learn(s, &v);
    assert_near(tide_scaler_scale(s, 3, 5), 0.0, 1e-6);
    assert_near(tide_scaler_scale(c, 3, 4), 2.0, 1e-6); /* clone unchanged */
    /* and the clone's updates do not reach the original */
    v.f[0].val = 2;
    tide_scaler_learn(c, &v); /* 1,3,2: mean 2, var 2/3 */
    assert_near(tide_scaler_scale(c, 3, 3), 1.0 / sqrt(2.0 / 3.0), 1e-5);
    assert_near(tide_scaler_scale(s, 3, 5 + sqrt(56.0 / 3.0)), 1.0, 1e-5);
    tide_fvec_free(&v);
    tide_scaler_free(s);
    tide_scaler_free(c);
}

static void test_scaler_save_load(void **st)
{
    (void)st;
    tide_scaler *s, *t;
    tide_fvec v;
    tide_wbuf b;
    tide_rbuf r;
    tide_err e;
    tide_fvec_init(&v);
    assert_int_equal(tide_scaler_new(12, &s), TIDE_OK);
    for (uint32_t i = 0; i < 100; i++)
        tide_fvec_push(&v, i * 31 % 4096, (float)(i % 5));
    tide_scaler_learn(s, &v);
    for (uint32_t i = 0; i < 100; i++)
        v.f[i].val = (float)(i % 7) - 1;
    tide_scaler_learn(s, &v);
    tide_wbuf_init(&b);
    tide_scaler_save(s, &b);
    assert_int_equal(tide_scaler_new(12, &t), TIDE_OK);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_scaler_load(t, &r, &e), TIDE_OK);
    assert_int_equal(r.pos, b.len);
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t idx = i * 31 % 4096;
        assert_true(tide_scaler_scale(s, idx, 2.5f) == tide_scaler_scale(t, idx, 2.5f));
    }
    tide_scaler_free(t);
    /* a bucket outside 2^bits is refused */
    assert_int_equal(tide_scaler_new(4, &t), TIDE_OK);
    tide_rbuf_init(&r, b.data, b.len);
    assert_int_equal(tide_scaler_load(t, &r, &e), TIDE_ERR_FORMAT);
    tide_scaler_free(t);
    /* truncated */
    assert_int_equal(tide_scaler_new(12, &t), TIDE_OK);
    tide_rbuf_init(&r, b.data, b.len - 1);
    assert_int_equal(tide_scaler_load(t, &r, &e), TIDE_ERR_FORMAT);
    tide_scaler_free(t);
    tide_wbuf_free(&b);
    tide_fvec_free(&v);
    tide_scaler_free(s);
}


/* ---- fused VW path (tide_featurize_next) ------------------------------- */

/* Lines the fused path must treat exactly as the generic one: namespaces
 * with a scale, features without a value, categorical-looking names,
 * repeated and empty namespaces, '|' directly followed by a name, tabs,
 * CRLF, importance and tag, unlabelled rows, blank lines, exponents and
 * 20-digit values (the strtod path), a namespace without features, values
 * that overflow a float (an error only with a target, and only when the
 * reader finds nothing wrong later in the line), bad values, a scale that
 * makes a value infinite. */
static const char FUSED_VW[] =
    "1 |n:0.5 a:2 b c:-1.25\n"
    "0 |c c0=v12 c1=v84 c2=v90\n"
    "1 |a x:1 |b y:2 |a z:3\n"
    "1 | x:1 y\n"
    "0 |x:1 y:2\n"
    "1\t|a\tx:1\t\ty:2 \t\n"
    "1 2.5 'tag|a x:1\n"
    "-1 0.5 0.1 |a x:-4\n"
    "|a x:1 y\n"
    "\n"
    "   \n"
    "1 |a x:1e2 y:.5 z:-0.0 w:12345678901234567890 v:+3 u:1.5E-3\n"
    "1 |a x:1\r\n"
    "0 |a\n"
    "1 |a huge:1e300 ok:1\n"
    "|a huge:1e300\n"
    "1 |a:1e30 x:1e10\n"
    "1 |a huge:1e300 bad:xyz\n"
    "1 |a x:abc\n"
    "1 |a:1e200 x:1e200\n"
    "1 |a x:1 |\n"
    "0 |b y:2 |a\n"
    "1 |a x:2\n";

/* Reads data twice, through tide_reader_next + tide_featurize and through
 * tide_featurize_next, and checks every status, message, row and (for rows
 * with a target) vector is the same, bit for bit. Returns the number of
 * vectors compared; *errors gets the number of error statuses. */
/* With gz_file = 1 (plain) or 2 (gzip), the fused path reads a file
 * "t.vw" written from data instead, through the reader's buffer and its
 * refills (lines cut at a buffer's end); with 3, a pipe that a child
 * process writes data into. */
static size_t compare_paths_as(tide_featurizer *fz, const char *data, size_t len,
                               const tide_reader_opts *o, int want_fused, size_t *errors,
                               int gz_file)
{
    tide_reader *ra = NULL, *rb = NULL;
    tide_row a, b;
    tide_fvec va, vb;
    tide_err ea, eb;
    size_t compared = 0;
    char path[64] = "t.vw";
    int pfd[2] = {-1, -1};
    pid_t child = -1;
    *errors = 0;
    tide_fvec_init(&va);
    tide_fvec_init(&vb);
    if (gz_file == 3) {
        /* a pipe fed in uneven chunks: reads come back short, so the
         * buffer ends in the middle of lines, with old bytes after them */
        assert_int_equal(pipe(pfd), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            uint64_t x = 88172645463325252ULL;
            close(pfd[0]);
            for (size_t off = 0; off < len;) {
                size_t k;
                ssize_t w;
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                k = 1 + (size_t)(x % 9000);
                if (k > len - off)
                    k = len - off;
                w = write(pfd[1], data + off, k);
                if (w <= 0)
                    _exit(1);
                off += (size_t)w;
            }
            _exit(0);
        }
        close(pfd[1]);
        snprintf(path, sizeof path, "/dev/fd/%d", pfd[0]);
        assert_int_equal(tide_reader_open(path, o, &rb, &eb), TIDE_OK);
    }
    assert_int_equal(tide_reader_open_mem(data, len, path, o, &ra, &ea), TIDE_OK);
    if (gz_file == 1 || gz_file == 2) {
        /* the reader names errors after its path: write "t.vw" in a fresh
         * directory, so the messages match the memory reader's */
        char dir[] = "/tmp/tide_fusedXXXXXX";
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/t.vw", dir);
        if (gz_file == 2) {
            gzFile g = gzopen(path, "wb");
            assert_non_null(g);
            assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
            assert_int_equal(gzclose(g), Z_OK);
        } else {
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(data, 1, len, f), len);
            assert_int_equal(fclose(f), 0);
        }
        int cwd = open(".", O_RDONLY | O_DIRECTORY);
        assert_true(cwd >= 0);
        assert_int_equal(chdir(dir), 0);
        assert_int_equal(tide_reader_open("t.vw", o, &rb, &eb), TIDE_OK);
        assert_int_equal(unlink("t.vw"), 0);
        assert_int_equal(fchdir(cwd), 0);
        close(cwd);
        assert_int_equal(rmdir(dir), 0);
    } else if (gz_file == 0) {
        assert_int_equal(tide_reader_open_mem(data, len, "t.vw", o, &rb, &eb), TIDE_OK);
    }
    assert_int_equal(tide_featurizer_fused(fz, rb), want_fused);
    for (;;) {
        int rca, rcb;
        tide_err_clear(&ea);
        tide_err_clear(&eb);
        rca = tide_reader_next(ra, &a, &ea);
        if (rca == TIDE_OK && a.has_target)
            rca = tide_featurize(fz, &a, &va, &ea);
        rcb = tide_featurize_next(fz, rb, &b, &vb, &eb);
        assert_int_equal(rca, rcb);
        if (rca == TIDE_EOF)
            break;
        if (rca != TIDE_OK) {
            assert_string_equal(ea.msg, eb.msg);
            (*errors)++;
            continue;
        }
        assert_int_equal(a.line, b.line);
        assert_int_equal(a.has_target, b.has_target);
        assert_true(a.weight == b.weight);
        assert_int_equal(a.tag_len, b.tag_len);
        if (a.tag_len)
            assert_memory_equal(a.tag, b.tag, a.tag_len);
        /* the fused path hands out no fields */
        assert_int_equal(b.n_fields, want_fused ? 0 : a.n_fields);
        if (!a.has_target)
            continue;
        assert_string_equal(a.target, b.target);
        assert_int_equal(a.target_len, b.target_len);
        assert_int_equal(a.target_is_num, b.target_is_num);
        if (a.target_is_num)
            assert_memory_equal(&a.target_num, &b.target_num, sizeof a.target_num);
        if (va.n != vb.n)
            fail_msg("line %llu: %zu vs %zu entries", (unsigned long long)a.line, va.n, vb.n);
        for (size_t i = 0; i < va.n; i++) {
            uint32_t x, y;
            assert_int_equal(va.f[i].idx, vb.f[i].idx);
            memcpy(&x, &va.f[i].val, 4);
            memcpy(&y, &vb.f[i].val, 4);
            if (x != y)
                fail_msg("line %llu entry %zu: value %a vs %a", (unsigned long long)a.line, i,
                         (double)va.f[i].val, (double)vb.f[i].val);
        }
        compared++;
    }
    tide_reader_free(ra);
    tide_reader_free(rb);
    tide_fvec_free(&va);
    tide_fvec_free(&vb);
    if (child > 0) {
        int status = -1;
        close(pfd[0]);
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return compared;
}

static size_t compare_paths(tide_featurizer *fz, const char *data, size_t len,
                            const tide_reader_opts *o, int want_fused, size_t *errors)
{
    return compare_paths_as(fz, data, len, o, want_fused, errors, 0);
}

static void test_fused_same_as_generic(void **st)
{
    (void)st;
    static const char *ign[] = {"b", "y"};
    tide_featurizer *fz = new_fz(18, NULL, 0), *small = new_fz(3, NULL, 0);
    tide_reader_opts o;
    size_t errors, n;
    char *big;
    size_t len = 0;
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_VW;
    n = compare_paths(fz, FUSED_VW, sizeof FUSED_VW - 1, &o, 1, &errors);
    /* 23 lines: 2 blank, 2 unlabelled (one with 1e300, not an error), 5
     * errors (2 float overflows, 3 reader errors) */
    assert_int_equal(n, 14);
    assert_int_equal(errors, 5);
    n = compare_paths(small, FUSED_VW, sizeof FUSED_VW - 1, &o, 1, &errors);
    assert_int_equal(n, 14);
    /* --ignore is the reader's: same on both paths */
    o.ignore = ign;
    o.n_ignore = 2;
    n = compare_paths(fz, FUSED_VW, sizeof FUSED_VW - 1, &o, 1, &errors);
    assert_int_equal(n, 14);
    o.ignore = NULL;
    o.n_ignore = 0;
    /* many features per row: the vector grows inside the parser */
    big = malloc(200000);
    assert_non_null(big);
    for (int r = 0; r < 3; r++) {
        len += (size_t)sprintf(big + len, "%d |a", r & 1);
        for (int i = 0; i < 2000 * (r + 1) / 3; i++)
            len += (size_t)sprintf(big + len, " f%d:%d.%d", i, i - 500, i % 7);
        len += (size_t)sprintf(big + len, " |b g h:2\n");
    }
    n = compare_paths(fz, big, len, &o, 1, &errors);
    assert_int_equal(n, 3);
    assert_int_equal(errors, 0);
    free(big);
    tide_featurizer_free(fz);
    tide_featurizer_free(small);
}

/* The fused vector against the documented hash, worked out here. */
static void test_fused_by_hand(void **st)
{
    (void)st;
    static const char line[] = "1 |a:2 x:1.5 y\t|b z:-3 c0=v7 | w:0.25\n";
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_reader *r = NULL;
    tide_reader_opts o;
    tide_row row;
    tide_fvec v;
    tide_err e;
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_VW;
    tide_fvec_init(&v);
    assert_int_equal(tide_reader_open_mem(line, sizeof line - 1, "h.vw", &o, &r, &e), TIDE_OK);
    assert_int_equal(tide_featurize_next(fz, r, &row, &v, &e), TIDE_OK);
    assert_int_equal(v.n, 5);
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("a", "x") & mask_of(18));
    assert_true(v.f[0].val == 3.0f);   /* 1.5 x scale 2 */
    assert_int_equal(v.f[1].idx, (uint32_t)h_name("a", "y") & mask_of(18));
    assert_true(v.f[1].val == 2.0f);   /* no value: 1 x scale 2 */
    assert_int_equal(v.f[2].idx, (uint32_t)h_name("b", "z") & mask_of(18));
    assert_true(v.f[2].val == -3.0f);
    assert_int_equal(v.f[3].idx, (uint32_t)h_name("b", "c0=v7") & mask_of(18));
    assert_true(v.f[3].val == 1.0f);
    assert_int_equal(v.f[4].idx, (uint32_t)h_name("", "w") & mask_of(18));
    assert_true(v.f[4].val == 0.25f);
    assert_int_equal(tide_featurize_next(fz, r, &row, &v, &e), TIDE_EOF);
    tide_reader_free(r);
    tide_fvec_free(&v);
    tide_featurizer_free(fz);
}

/* Where the fused path does not apply, tide_featurize_next falls back to
 * reader + featurizer: quadratic pairs, and every format but VW. */
static void test_fused_fallback(void **st)
{
    (void)st;
    const char *q[] = {"a:b"};
    static const char csv[] = "x,c,y\n1.5,red,1\n-2,blue,0\n";
    tide_featurizer *plain = new_fz(18, NULL, 0), *quad = new_fz(18, q, 1);
    tide_reader *r = NULL;
    tide_reader_opts o;
    tide_row row;
    tide_fvec v;
    tide_err e;
    size_t n, errors;
    tide_fvec_init(&v);
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_VW;
    /* with a pair: the generic path, crossings included */
    n = compare_paths(quad, FUSED_VW, sizeof FUSED_VW - 1, &o, 0, &errors);
    assert_int_equal(n, 14);
    assert_int_equal(errors, 5);
    {
        static const char line[] = "1 |a x:2 |b y:3\n";
        assert_int_equal(tide_reader_open_mem(line, sizeof line - 1, "q.vw", &o, &r, &e),
                         TIDE_OK);
        assert_int_equal(tide_featurizer_fused(quad, r), 0);
        assert_int_equal(tide_featurize_next(quad, r, &row, &v, &e), TIDE_OK);
        assert_int_equal(row.n_fields, 2);
        assert_int_equal(v.n, 3); /* x, y and x*y */
        assert_int_equal(v.f[2].idx,
                         (uint32_t)((h_name("a", "x") * FNV64_PRIME) ^ h_name("b", "y")) &
                             mask_of(18));
        assert_true(v.f[2].val == 6.0f);
        tide_reader_free(r);
    }
    /* CSV: the generic path (column cache, categorical values) */
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_CSV;
    assert_int_equal(tide_reader_open_mem(csv, sizeof csv - 1, "t.csv", &o, &r, &e), TIDE_OK);
    assert_int_equal(tide_featurizer_fused(plain, r), 0);
    assert_int_equal(tide_reader_next_hashed(r, &row, mask_of(18), &v, &e), TIDE_ERR_UNSUPPORTED);
    assert_int_equal(tide_featurize_next(plain, r, &row, &v, &e), TIDE_OK);
    assert_int_equal(row.n_fields, 2);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.f[0].idx, (uint32_t)h_name("", "x") & mask_of(18));
    assert_true(v.f[0].val == 1.5f);
    assert_int_equal(v.f[1].idx, (uint32_t)h_cat("", "c", "red") & mask_of(18));
    tide_reader_free(r);
    tide_fvec_free(&v);
    tide_featurizer_free(plain);
    tide_featurizer_free(quad);
}

/* ---- the fused path's fast lane (io/vw.c vw_fast) ----------------------- */

static uint64_t lane_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Appends a random token likely to sit at an edge of the lane: plain
 * decimals of every length, signs, exponents, missing digits. */
static size_t lane_value(char *o, uint64_t *s)
{
    static const char *odd[] = {"-", "+1", ".5", "5.", "1e5", "00.5", "-0.0", "0", "-0",
                                "12345678", "1234567.12345678", "1234567.123456789",
                                "12345678.5", "1.5.5", "1-2", "0x10", "inf", "nan", "1:2",
                                "99999999", "9999999.99999999", "0.00000001", "-.5", "1e-3"};
    uint64_t r = lane_rng(s);
    if (r % 512 == 0)
        return (size_t)sprintf(o, "%s", odd[(r >> 8) % (sizeof odd / sizeof *odd)]);
    {
        int ni = 1 + (int)((r >> 8) % 8), nf = (int)((r >> 12) % 10);
        size_t n = 0;
        if ((r >> 16) & 1)
            o[n++] = '-';
        for (int i = 0; i < ni; i++)
            o[n++] = (char)('0' + lane_rng(s) % 10);
        if (nf) {
            o[n++] = '.';
            for (int i = 0; i < nf; i++)
                o[n++] = (char)('0' + lane_rng(s) % 10);
        }
        o[n] = '\0';
        return n;
    }
}

static size_t lane_name(char *o, uint64_t *s)
{
    static const char alpha[] = "abcxyz019_=-.\x80\xc3\xa9";
    uint64_t r = lane_rng(s);
    size_t n = 1 + (size_t)(r % 12);
    if (r % 64 == 1)
        n = 8 + (size_t)((r >> 8) % 3);   /* around the memo's 8 bytes */
    for (size_t i = 0; i < n; i++)
        o[i] = alpha[lane_rng(s) % (sizeof alpha - 1)];
    o[n] = '\0';
    return n;
}

/* Random VW lines, mostly regular (the lane's case) with rare oddities:
 * every line through the fused path must equal the generic path. */
static void lane_matches(void)
{
    tide_featurizer *fz = new_fz(18, NULL, 0), *small = new_fz(4, NULL, 0);
    tide_reader_opts o;
    size_t cap = 4 << 20, len = 0, errors, n, lines = 0;
    char *buf = malloc(cap);
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    assert_non_null(buf);
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_VW;
    while (len < cap - 4096) {
        uint64_t r = lane_rng(&s);
        int nns = 1 + (int)(r % 3);
        {   /* labels: 0/1, -1/1, the odd longer or signed one */
            static const char *lab[] = {"0", "1", "-1", "1", "-0", "10", "+1", "a", "0.5"};
            len += (size_t)sprintf(buf + len, "%s", lab[(r >> 8) % 9]);
        }
        if ((r >> 10) % 97 == 0)
            len += (size_t)sprintf(buf + len, " 2.5");
        for (int k = 0; k < nns; k++) {
            uint64_t q = lane_rng(&s);
            int nf = (int)(q % 30);
            buf[len++] = (q >> 8) % 53 == 0 ? '\t' : ' ';
            buf[len++] = '|';
            if ((q >> 16) % 4)   /* a named namespace, sometimes with a scale */
                len += lane_name(buf + len, &s);
            if ((q >> 20) % 89 == 0)
                len += (size_t)sprintf(buf + len, ":2");
            for (int i = 0; i < nf; i++) {
                uint64_t t = lane_rng(&s);
                buf[len++] = t % 211 == 0 ? '\t' : ' ';
                if (t % 307 == 1)
                    buf[len++] = ' ';
                len += lane_name(buf + len, &s);
                if ((t >> 12) % 4) {
                    buf[len++] = ':';
                    len += lane_value(buf + len, &s);
                }
            }
        }
        if (lane_rng(&s) % 13 == 0)
            buf[len++] = ' ';
        buf[len++] = '\n';
        lines++;
    }
    n = compare_paths(fz, buf, len, &o, 1, &errors);
    assert_true(n + errors == lines);
    assert_true(n > lines * 3 / 4);   /* mostly regular lines */
    assert_true(errors > 0);          /* and the bad ones seen as bad */
    /* through files: 4 MB against a 1 MB buffer, so lines are cut at the
     * buffer's end, where the lane meets the NUL past the data */
    for (int gz = 1; gz <= 3; gz++) {
        size_t e2;
        assert_int_equal(compare_paths_as(fz, buf, len, &o, 1, &e2, gz), n);
        assert_int_equal(e2, errors);
    }
    n = compare_paths(small, buf, len, &o, 1, &errors);
    assert_true(n + errors == lines);
    /* the same 50 names in 300 namespaces: memo slots shared by one name
     * under different namespace seeds */
    len = lines = 0;
    for (int k = 0; k < 3000; k++) {
        len += (size_t)sprintf(buf + len, "1 |ns%d", (int)(lane_rng(&s) % 300));
        for (int i = 0; i < 50; i++)
            len += (size_t)sprintf(buf + len, " f%d:%d", i, i);
        buf[len++] = '\n';
        lines++;
    }
    n = compare_paths(fz, buf, len, &o, 1, &errors);
    assert_int_equal(n, lines);
    free(buf);
    tide_featurizer_free(fz);
    tide_featurizer_free(small);
}

/* Both ways the lane converts numbers (four at a time with AVX-512, one at
 * a time) must equal the generic path. */
static int lane_modes(int mode)
{
    int wide = tide_vw_force_wide(mode);
    if (!mode)
        assert_int_equal(wide, 0);
#if defined(__x86_64__) && defined(__GNUC__)
    else   /* the default takes the wide path where the CPU can */
        assert_int_equal(wide, __builtin_cpu_supports("avx512f") &&
                                   __builtin_cpu_supports("avx512bw") &&
                                   __builtin_cpu_supports("avx512dq") &&
                                   __builtin_cpu_supports("avx512vl") &&
                                   __builtin_cpu_supports("avx512cd"));
#endif
    return wide;
}

/* fn with the wide path where the CPU has it, then forced off */
static void both_lane_modes(void (*fn)(void))
{
    for (int mode = -1; mode <= 0; mode++) {
        lane_modes(mode);
        fn();
    }
    tide_vw_force_wide(-1);
}

static void test_vw_fast_lane_matches(void **st)
{
    (void)st;
    both_lane_modes(lane_matches);
}

/* The lane's vector conversion itself (tide_vw_num_group_test), against
 * strtod rounded to a float: groups of eight and four random plain
 * decimals (sign, 1-15 digits, a point anywhere or none) must come out with
 * the same bits. Those of at most 7 digits must come from the vector path
 * itself: only a value within 4 ulp of a point where double-to-float
 * rounding changes direction sends a group to the scalar code (which
 * divides), and for 7 digits that is about 1e-8 a number (for more digits
 * it is common: an integer of 25+ bits with low bits 10 is such a point).
 * A group with one number the lane does not take (16 digits, two points, a
 * letter, a bare sign, 17 bytes) goes to the scalar code or is refused,
 * never converted wrong. */
static void test_vw_num_group_direct(void **st)
{
    (void)st;
    enum { GROUPS = 20000 };
    static char buf[8 * 40 + 64];
    const char *a[8], *b[8];
    float out[8];
    uint64_t s = 4242;
    int vec = 0, short_plain = 0, refused = 0;
    for (int g = 0; g < GROUPS; g++) {
        const int eight = g & 1, n = eight ? 8 : 4, odd = g % 10 == 9 ? (int)(lane_rng(&s) % n) : -1;
        size_t len = 0;
        int rc;
        memset(buf, 0, sizeof buf);
        for (int j = 0; j < n; j++) {
            int nd = 1 + (int)(lane_rng(&s) % (g % 4 < 2 ? 7 : 15));
            int pt = (int)(lane_rng(&s) % (nd + 1));
            int point = pt < nd && (lane_rng(&s) & 3);
            a[j] = buf + len;
            if ((lane_rng(&s) & 1) && nd + point < 16)   /* at most 16 bytes */
                buf[len++] = '-';
            for (int d = 0; d < nd; d++) {
                if (d == pt && point)
                    buf[len++] = '.';
                buf[len++] = (char)('0' + lane_rng(&s) % 10);
            }
            if (j == odd) {
                static const char *bad[] = {"1234567890123456", "1.2.3", "12a4", "-",
                                            "-1234567.89012345"};
                int k = (int)(lane_rng(&s) % 5);
                len = (size_t)(a[j] - buf);
                len += (size_t)sprintf(buf + len, "%s", bad[k]);
            }
            b[j] = buf + len;
            buf[len++] = ' ';
        }
        rc = tide_vw_num_group_test(a, b, eight, out);
        if (rc < 0) {   /* no AVX-512: the lane never takes this path */
            assert_int_equal(tide_vw_force_wide(-1), 0);
            return;
        }
        assert_true(rc <= 2);
        if (rc == 0) {
            assert_true(odd >= 0);
            refused++;
            continue;
        }
        if (odd < 0 && g % 4 < 2) {   /* plain, at most 7 digits */
            short_plain++;
            if (rc != 2)
                fail_msg("group %d: a plain group of short numbers left the vector path", g);
        }
        vec += rc == 2;
        for (int j = 0; j < n; j++) {
            char t[64];
            float want;
            memcpy(t, a[j], (size_t)(b[j] - a[j]));
            t[b[j] - a[j]] = '\0';
            want = (float)strtod(t, NULL);
            if (memcmp(&want, &out[j], sizeof want))
                fail_msg("group %d number %d '%s': %a, want %a (rc %d)", g, j, t, (double)out[j],
                         (double)want, rc);
        }
    }
    /* plain groups come from the vector path, but for rounding points */
    assert_true(short_plain > GROUPS / 3);
    assert_true(vec > GROUPS / 2);
    assert_true(refused > 0);
}

/* The lane finds a line's end itself when the line starts "D |": every
 * way a line can end (a '\n' after a value, a name, a namespace, a space;
 * a CR; the file's end without a '\n'; a NUL inside; a line longer than
 * max_line) must read as on the generic path, from memory and from files. */
static void test_vw_fused_line_ends(void **st)
{
    (void)st;
    static const char data[] =
        "1 |a x:1\n1 |a x\n1 |a\n1 |\n1 | \n1 |a x:1 \n1 |a x:1 |\n-1 |a x:2\r\n"
        "0 |a x:1\0y:2\n1 |a x:1e3\n1 |a y:-0.5 |b z:2\n"
        "1 |a aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1\n"
        "1 |a x:1 y:2 z:3 w:4 v:5 u:6 t:7 s:8 r:9 q:10 p:11 o:12 n:13 m:14 l:15\n"
        "0 |a x:3";   /* no '\n' at the end */
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_reader_opts o;
    size_t errors, n, e2;
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_VW;
    n = compare_paths(fz, data, sizeof data - 1, &o, 1, &errors);
    assert_int_equal(n, 14);   /* a NUL separates like a space, on both paths */
    assert_int_equal(errors, 0);
    for (int gz = 1; gz <= 3; gz++) {
        assert_int_equal(compare_paths_as(fz, data, sizeof data - 1, &o, 1, &e2, gz), n);
        assert_int_equal(e2, errors);
    }
    /* 1.3 MB of regular lines, the last without its '\n': read from a
     * file, after a refill the buffer holds bytes of earlier lines past the
     * data's end, '\n's among them, where the lane must not go (8 shapes
     * of the last line, so the old bytes meet it at different points) */
    for (int k = 0; k < 9; k++) {   /* k = 8: the same with CRLF line ends */
        size_t cap = 1300000 + 4096 * (size_t)(k & 7), len = 0;
        char *big = malloc(cap);
        uint64_t s = 7 + (uint64_t)k;
        assert_non_null(big);
        while (len < cap - 200) {
            len += (size_t)sprintf(big + len, "1 |a");
            for (int i = 0; i < 10; i++)
                len += (size_t)sprintf(big + len, " f%d:%d.%d", i, (int)(lane_rng(&s) % 100),
                                       (int)(lane_rng(&s) % 1000));
            if (k == 8)
                big[len++] = '\r';
            big[len++] = '\n';
        }
        len += (size_t)sprintf(big + len, "1 |a x:1.5 %.*s", k & 7, "yyyyyyy");
        n = compare_paths(fz, big, len, &o, 1, &errors);
        assert_int_equal(errors, 0);
        for (int gz = 1; gz <= 3; gz++) {
            assert_int_equal(compare_paths_as(fz, big, len, &o, 1, &e2, gz), n);
            assert_int_equal(e2, 0);
        }
        free(big);
    }
    /* the two long lines are errors, on both paths (from memory only: a
     * file reader's buffer is then cut to max_line, which words its
     * message differently, on both paths alike) */
    o.max_line = 60;
    n = compare_paths(fz, data, sizeof data - 1, &o, 1, &errors);
    assert_int_equal(n, 12);
    assert_int_equal(errors, 2);
    tide_featurizer_free(fz);
}

/* Decimals at and next to the points where rounding a double to a float
 * changes direction (the midpoints between two floats in [2^16, 2^23),
 * whose decimal expansions have at most 15 digits): the lane's product with
 * a reciprocal must give the float of the correctly rounded quotient. */
static void lane_midpoints(void)
{
    tide_featurizer *fz = new_fz(18, NULL, 0);
    tide_reader_opts o;
    size_t cap = 2 << 20, len = 0, errors, n, lines = 0;
    char *buf = malloc(cap);
    uint64_t s = 12345;
    assert_non_null(buf);
    tide_reader_opts_init(&o);
    o.format = TIDE_FMT_VW;
    while (len < cap - 1024) {
        /* three midpoints a line, 15 numbers: the lane converts eight, four,
         * then three one at a time (AVX-512), each way meeting midpoints */
        len += (size_t)sprintf(buf + len, "1 |m");
        for (int g = 0; g < 3; g++) {
            int e = 16 + (int)(lane_rng(&s) % 7), f = 24 - e;   /* fraction digits */
            uint64_t M = (1u << 23) + lane_rng(&s) % (1u << 23), p5 = 1, p10 = 1, N;
            for (int i = 0; i < f; i++) {
                p5 *= 5;
                p10 *= 10;
            }
            /* (2M + 1) 2^(e - 24) = (2M + 1) 5^f / 10^f, exactly */
            N = (2 * M + 1) * p5;
            for (int d = -2; d <= 2; d++) {
                uint64_t x = N + (uint64_t)(int64_t)d;
                len += (size_t)sprintf(buf + len, " v%d:%s%llu.%0*llu", 5 * g + d + 2,
                                       d & 1 ? "-" : "", (unsigned long long)(x / p10), f,
                                       (unsigned long long)(x % p10));
            }
        }
        buf[len++] = '\n';
        lines++;
    }
    n = compare_paths(fz, buf, len, &o, 1, &errors);
    assert_int_equal(n, lines);
    assert_int_equal(errors, 0);
    free(buf);
    tide_featurizer_free(fz);
}

static void test_vw_fast_lane_midpoints(void **st)
{
    (void)st;
    both_lane_modes(lane_midpoints);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_name_same_bucket),
        cmocka_unit_test(test_numeric_vs_categorical),
        cmocka_unit_test(test_namespace_changes_bucket),
        cmocka_unit_test(test_bits_masking),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_missing_skipped),
        cmocka_unit_test(test_nonfinite_is_error),
        cmocka_unit_test(test_quadratic_cross),
        cmocka_unit_test(test_quadratic_self_pair),
        cmocka_unit_test(test_quadratic_csv_columns),
        cmocka_unit_test(test_quadratic_many_pairs),
        cmocka_unit_test(test_column_cache),
        cmocka_unit_test(test_featurizer_save_load),
        cmocka_unit_test(test_fused_same_as_generic),
        cmocka_unit_test(test_fused_by_hand),
        cmocka_unit_test(test_fused_fallback),
        cmocka_unit_test(test_vw_fast_lane_matches),
        cmocka_unit_test(test_vw_fused_line_ends),
        cmocka_unit_test(test_vw_fast_lane_midpoints),
        cmocka_unit_test(test_vw_num_group_direct),
        cmocka_unit_test(test_fvec_basics),
        cmocka_unit_test(test_scaler_welford),
        cmocka_unit_test(test_scaler_unseen_and_many),
        cmocka_unit_test(test_scaler_clone_independent),
        cmocka_unit_test(test_scaler_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
