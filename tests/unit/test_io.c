/* test_io.c — streaming readers (src/io): CSV, JSON Lines, VW text, gzip,
 * error messages and recovery, limits, the shared data files, and the fast
 * number parser against strtod. */
#include "testutil.h"
#include "tide/io.h"

#include <unistd.h>
#include <zlib.h>

static tide_reader *open_str(const char *s, const char *name, const tide_reader_opts *o)
{
    tide_reader *r = NULL;
    tide_err e;
    tide_err_clear(&e);
    int rc = tide_reader_open_mem(s, strlen(s), name, o, &r, &e);
    if (rc != TIDE_OK)
        fail_msg("open %s: %s", name, e.msg);
    return r;
}

static const tide_field *field(const tide_row *row, const char *name)
{
    for (size_t i = 0; i < row->n_fields; i++)
        if (row->fields[i].name_len == strlen(name) &&
            !memcmp(row->fields[i].name, name, row->fields[i].name_len))
            return &row->fields[i];
    return NULL;
}

static double num(const tide_row *row, const char *name)
{
    const tide_field *f = field(row, name);
    assert_non_null(f);
    assert_int_equal(f->kind, TIDE_VAL_NUM);
    return f->num;
}

static int streq(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && !memcmp(s, want, n);
}

#define assert_str_n(s, n, want) do { \
    if (!streq((s), (n), (want))) fail_msg("got '%.*s', expected '%s'", (int)(n), (s), (want)); \
} while (0)

/* ---- number parser ---------------------------------------------------- */

static void check_num(const char *s)
{
    double a = 0, b;
    char *end;
    int rc = tide_parse_double(s, strlen(s), &a);
    b = strtod(s, &end);
    if (*end != '\0' || !isfinite(b)) {
        if (rc == TIDE_OK)
            fail_msg("'%s' accepted as %.17g but strtod does not parse it fully/finitely", s, a);
        return;
    }
    if (rc != TIDE_OK)
        fail_msg("'%s' rejected, strtod gives %.17g", s, b);
    if (memcmp(&a, &b, sizeof a) != 0)
        fail_msg("'%s': %.17g != strtod %.17g", s, a, b);
}

static void test_num_edges(void **st)
{
    (void)st;
    static const char *ok[] = {
        "0", "-0", "+0", "0.0", "-0.0", "1", "-1", "+1.5", ".5", "5.", "-.5", "00012.500",
        "0.1", "0.2", "0.3", "1e22", "1e23", "9007199254740992", "9007199254740993",
        "9007199254740991.5", "123456789012345678", "1234567890123456789",
        "12345678901234567890", "0.1000000000000000055511151231257827",
        "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9e-324", "5e-324",
        "2.4703282292062327e-324", "1.7976931348623157e308", "1.7976931348623158e308",
        "1e-22", "1e-23", "3.14159265358979323846", "1E5", "1e+5", "1e-5", "0e999",
        "0.000000000000000000000000000001", "1e-400", "123.456e-7", "8.98846567431158e307",
        "4503599627370497.5", "0.30000000000000004", "1.00000000000000011102230246251565"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double v;
        assert_int_equal(tide_parse_double(ok[i], strlen(ok[i]), &v), TIDE_OK);
        check_num(ok[i]);
    }
    static const char *bad[] = {"", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "abc", "1a",
                                " 1", "1 ", "inf", "nan", "-inf", "infinity", "0x10", "1e999",
                                "--1", "1,5", "1e5.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double v;
        if (tide_parse_double(bad[i], strlen(bad[i]), &v) == TIDE_OK)
            fail_msg("'%s' should not parse", bad[i]);
    }
    /* not NUL-terminated: only the span counts */
    double v;
    assert_int_equal(tide_parse_double("12345", 3, &v), TIDE_OK);
    assert_true(v == 123.0);
}

static void test_num_random_vs_strtod(void **st)
{
    (void)st;
    uint64_t s = 42;
    char buf[96];
    for (int i = 0; i < 300000; i++) {
        uint64_t x = tide_test_rand(&s);
        int kind = (int)(x % 4);
        if (kind == 0) {
            /* random double, printed with a random precision */
            uint64_t bits = tide_test_rand(&s);
            double d;
            memcpy(&d, &bits, sizeof d);
            if (!isfinite(d))
                continue;
            snprintf(buf, sizeof buf, "%.*g", 1 + (int)(tide_test_rand(&s) % 18), d);
        } else if (kind == 1) {
            /* short decimals like the data files: [-]ddd.dddddd */
            snprintf(buf, sizeof buf, "%s%d.%0*d", (x >> 8) & 1 ? "-" : "",
                     (int)((x >> 16) % 1000), 1 + (int)((x >> 40) % 8),
                     (int)((x >> 26) % 100000000));
        } else {
            /* random digit strings with a point and an exponent */
            int nd = 1 + (int)(tide_test_rand(&s) % 25), k = 0;
            int dot = (int)(tide_test_rand(&s) % (unsigned)(nd + 1));
            if (tide_test_rand(&s) & 1)
                buf[k++] = '-';
            for (int j = 0; j < nd; j++) {
                if (j == dot)
                    buf[k++] = '.';
                buf[k++] = (char)('0' + tide_test_rand(&s) % 10);
            }
            if (kind == 3)
                k += snprintf(buf + k, sizeof buf - (size_t)k, "e%d",
                              (int)(tide_test_rand(&s) % 700) - 350);
            buf[k] = '\0';
        }
        check_num(buf);
    }
}

/* ---- CSV ---------------------------------------------------------------- */

static void test_csv_basic_inference(void **st)
{
    (void)st;
    tide_reader *r = open_str("a,b,c,y\n1.5,x,7,1\n-2,yy,,0\n3e2,z,8,\n", "t.csv", NULL);
    tide_row row;
    tide_err e;
    size_t nc;
    const char *const *cols = tide_reader_columns(r, &nc);
    assert_int_equal(nc, 4);
    assert_string_equal(cols[1], "b");
    assert_int_equal(tide_reader_format(r), TIDE_FMT_CSV);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 2);
    assert_int_equal(row.n_fields, 3);
    assert_true(num(&row, "a") == 1.5);
    assert_int_equal(field(&row, "b")->kind, TIDE_VAL_CAT);
    assert_str_n(field(&row, "b")->str, field(&row, "b")->str_len, "x");
    assert_int_equal(field(&row, "b")->col, 1);
    assert_int_equal(field(&row, "c")->col, 2);
    assert_str_n(field(&row, "a")->ns, field(&row, "a")->ns_len, "");
    assert_true(row.has_target && row.target_is_num && row.target_num == 1.0);
    assert_string_equal(row.target, "1");
    assert_true(row.weight == 1.0);
    assert_null(row.tag);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(num(&row, "a") == -2.0);
    assert_int_equal(field(&row, "c")->kind, TIDE_VAL_MISSING);
    assert_true(row.has_target && row.target_num == 0.0);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(num(&row, "a") == 300.0);
    assert_int_equal(row.has_target, 0); /* empty target cell: unlabelled */
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);
}

static void test_csv_quoting(void **st)
{
    (void)st;
    const char *in = "id,text,y\n"
                     "1,\"hello, world\",a\n"
                     "2,\"she said \"\"hi\"\"\",b\n"
                     "3,\"two\nlines\",c\n"
                     "4,\"\",\"d\"\n"
                     "5,plain,e\n";
    tide_reader *r = open_str(in, "q.csv", NULL);
    tide_row row;
    tide_err e;
    const tide_field *f;

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    f = field(&row, "text");
    assert_int_equal(f->kind, TIDE_VAL_CAT);
    assert_str_n(f->str, f->str_len, "hello, world");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    f = field(&row, "text");
    assert_str_n(f->str, f->str_len, "she said \"hi\"");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    f = field(&row, "text");
    assert_str_n(f->str, f->str_len, "two\nlines");
    assert_int_equal(row.line, 4);
    assert_string_equal(row.target, "c");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 6); /* physical line after the embedded newline */
    assert_int_equal(field(&row, "text")->kind, TIDE_VAL_MISSING);
    assert_string_equal(row.target, "d");
    assert_int_equal(row.target_is_num, 0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 7);
    assert_true(num(&row, "id") == 5.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);
}

static void test_csv_crlf_and_no_final_newline(void **st)
{
    (void)st;
    tide_reader *r = open_str("a,b,y\r\n1,\"q\",1\r\n\r\n2,s,0", "crlf.csv", NULL);
    tide_row row;
    tide_err e;
    size_t nc;
    const char *const *cols = tide_reader_columns(r, &nc);
    assert_string_equal(cols[2], "y");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_string_equal(row.target, "1");
    assert_str_n(field(&row, "b")->str, field(&row, "b")->str_len, "q");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK); /* blank line skipped */
    assert_int_equal(row.line, 4);
    assert_string_equal(row.target, "0");
    assert_true(num(&row, "a") == 2.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);
}

static void test_csv_target_ignore_delimiter(void **st)
{
    (void)st;
    tide_reader_opts o;
    tide_reader *r;
    tide_row row;
    tide_err e;
    const char *ign[] = {"junk"};
    tide_reader_opts_init(&o);
    o.target = "label";
    o.ignore = ign;
    o.n_ignore = 1;
    o.delimiter = ';';
    r = open_str("label;x;junk;z\nspam;1,5;q;2\nham;3;r;\n", "semi.csv", &o);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_string_equal(row.target, "spam");
    assert_int_equal(row.target_is_num, 0);
    assert_int_equal(row.n_fields, 2);
    assert_null(field(&row, "junk"));
    /* "1,5" is not a number: x is categorical */
    assert_int_equal(field(&row, "x")->kind, TIDE_VAL_CAT);
    assert_true(num(&row, "z") == 2.0);
    assert_int_equal(field(&row, "z")->col, 3);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(field(&row, "z")->kind, TIDE_VAL_MISSING);
    tide_reader_free(r);

    /* a UTF-8 byte-order mark before the header is skipped */
    r = open_str("\xEF\xBB\xBF" "a,b\n1,2\n", "bom.csv", NULL);
    size_t nbom;
    assert_string_equal(tide_reader_columns(r, &nbom)[0], "a");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(num(&row, "a") == 1.0 && row.target_num == 2.0);
    tide_reader_free(r);

    /* .tsv means tab */
    r = open_str("a\tb\n1\t2\n", "t.tsv", NULL);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(num(&row, "a") == 1.0 && row.target_num == 2.0);
    tide_reader_free(r);

    /* unknown target / ignored names: errors naming them and listing columns */
    tide_reader_opts_init(&o);
    o.target = "nope";
    r = (tide_reader *)1;
    assert_int_equal(tide_reader_open_mem("a,b\n1,2\n", 8, "u.csv", &o, &r, &e),
                     TIDE_ERR_NOTFOUND);
    assert_null(r);
    assert_string_equal(e.msg, "u.csv: target column 'nope' is not in the header; columns: a, b");
    tide_reader_opts_init(&o);
    const char *ign2[] = {"zz"};
    o.ignore = ign2;
    o.n_ignore = 1;
    assert_int_equal(tide_reader_open_mem("a,b\n1,2\n", 8, "u.csv", &o, &r, &e),
                     TIDE_ERR_NOTFOUND);
    assert_string_equal(e.msg, "u.csv: ignored column 'zz' is not in the header; columns: a, b");
    /* duplicate header names, empty input */
    assert_int_equal(tide_reader_open_mem("a,b,a\n", 6, "d.csv", NULL, &r, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "d.csv:1:1: duplicate column name 'a' (columns 1 and 3)");
    assert_int_equal(tide_reader_open_mem("", 0, "empty.csv", NULL, &r, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "empty.csv:1:1: empty input: a CSV header row is required");
}

static void test_csv_errors_and_recovery(void **st)
{
    (void)st;
    tide_reader_opts o;
    tide_reader *r;
    tide_row row;
    tide_err e;
    tide_reader_opts_init(&o);
    o.infer_rows = 2;
    r = open_str("x,c,y\n"
                 "1,a,0\n"
                 "2,b,1\n"
                 "3,c\n"                 /* line 4: too few cells */
                 "oops,d,1\n"            /* line 5: x was inferred numeric */
                 "4,\"e\"f,1\n"          /* line 6: junk after a closing quote */
                 "5,\"multi\nline\"x,0\n" /* lines 7-8: junk after quote on line 8 */
                 "6,g,1\n"
                 "7,\"never closed,1\n",
                 "err.csv", &o);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "err.csv:4:1: expected 3 cells (one per header column) but found 2");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "err.csv:5:1: column 'x' (1) was inferred numeric from the first "
                               "2 rows but holds 'oops', which is not a finite number");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "err.csv:6:6: unexpected character 'f' after a closing quote (a "
                               "quote inside a field must be doubled)");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "err.csv:8:6: unexpected character 'x' after a closing quote (a "
                               "quote inside a field must be doubled)");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 9);
    assert_true(num(&row, "x") == 6.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "err.csv:10:3: unterminated quoted field (no closing '\"' before "
                               "the end of input)");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* fuzz regression (UBSan: zero offset applied to a NULL inference
     * buffer when every buffered record was an error) */
    r = open_str("a,b\n1\n", "fz.csv", NULL);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "fz.csv:2:1: expected 2 cells (one per header column) but found 1");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* the same errors while rows are still buffered for type inference */
    r = open_str("x,y\n1,0\n2\n3,1\n", "inf.csv", NULL);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "inf.csv:3:1: expected 2 cells (one per header column) but found 1");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(num(&row, "x") == 3.0);
    tide_reader_free(r);
}

static void test_csv_all_rows_infer(void **st)
{
    (void)st;
    /* a column numeric in its first 1000 rows stays numeric; a later text
     * cell is an error, and rows after the first 1000 stream normally */
    char *buf = malloc(64 * 1200 + 64);
    size_t n = (size_t)sprintf(buf, "v,w,y\n");
    for (int i = 0; i < 1200; i++)
        n += (size_t)sprintf(buf + n, "%d,%s,%d\n", i, i == 1100 ? "t" : "5", i & 1);
    tide_reader *r;
    tide_err e;
    tide_row row;
    assert_int_equal(tide_reader_open_mem(buf, n, "big.csv", NULL, &r, &e), TIDE_OK);
    double sum = 0;
    int rows = 0, errs = 0, rc;
    while ((rc = tide_reader_next(r, &row, &e)) != TIDE_EOF) {
        if (rc == TIDE_OK) {
            sum += num(&row, "v");
            rows++;
        } else {
            errs++;
            assert_string_equal(e.msg, "big.csv:1102:6: column 'w' (2) was inferred numeric from "
                                       "the first 1000 rows but holds 't', which is not a finite "
                                       "number");
        }
    }
    assert_int_equal(rows, 1199);
    assert_int_equal(errs, 1);
    assert_true(sum == 1199.0 * 1200 / 2 - 1100);
    tide_reader_free(r);
    free(buf);
}

static void test_csv_limit(void **st)
{
    (void)st;
    tide_reader_opts o;
    tide_reader *r;
    tide_row row;
    tide_err e;
    tide_reader_opts_init(&o);
    o.max_line = 10;
    r = open_str("a,y\n1,2\n12345678901,1\n\"a\nvery long quoted\",1\n3,4\n", "lim.csv", &o);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_LIMIT);
    assert_string_equal(e.msg, "lim.csv:3:1: record longer than max_line (13 > 10 bytes); skipped");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_LIMIT);
    assert_string_equal(e.msg, "lim.csv:4:1: record longer than max_line (22 > 10 bytes); skipped");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 6);
    assert_true(num(&row, "a") == 3.0);
    tide_reader_free(r);
}

static void test_edge_shapes(void **st)
{
    (void)st;
    tide_reader *r;
    tide_row row;
    tide_err e;
    size_t nc;

    /* header only: no rows */
    r = open_str("a,b\n", "h.csv", NULL);
    assert_non_null(tide_reader_columns(r, &nc));
    assert_int_equal(nc, 2);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* a single (target) column: a blank line is a row with an empty target */
    r = open_str("y\n1\n\n2\n", "one.csv", NULL);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.has_target && row.target_num == 1.0 && row.n_fields == 0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.has_target, 0);
    assert_int_equal(row.line, 3);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.target_num == 2.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* VW: a label with no features, a tag with no label, a trailing '|' */
    r = open_str("1\n'abc |f x\n-1 |\n", "s.vw", NULL);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.has_target && row.target_num == 1.0 && row.n_fields == 0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.has_target, 0);
    assert_str_n(row.tag, row.tag_len, "abc");
    assert_int_equal(row.n_fields, 1);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.target_num == -1.0 && row.n_fields == 0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* JSONL: a named target key that is absent leaves the row unlabelled */
    tide_reader_opts o;
    tide_reader_opts_init(&o);
    o.target = "score";
    r = open_str("{\"a\": 1}\n{\"score\": 0.5, \"a\": 2}\n", "t.ndjson", &o);
    assert_int_equal(tide_reader_format(r), TIDE_FMT_JSONL);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.has_target, 0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.has_target && row.target_num == 0.5);
    tide_reader_free(r);
}

/* ---- files: temp, gzip, streaming through a small buffer ----------------- */

static void temp_path(char *path, size_t n, const char *suffix)
{
    snprintf(path, n, "/tmp/tide_test_io_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    close(fd);
}

static void test_gzip_and_streaming(void **st)
{
    (void)st;
    char path[128], gzpath[128];
    temp_path(path, sizeof path, ".csv");
    temp_path(gzpath, sizeof gzpath, ".csv.gz");
    FILE *f = fopen(path, "w");
    gzFile gz = gzopen(gzpath, "wb");
    assert_non_null(f);
    assert_non_null(gz);
    /* ~3 MB: far more than the 256 KiB buffer, with quoted multi-line cells
     * that straddle refills */
    const char *hdr = "id,note,val,y\n";
    fputs(hdr, f);
    gzputs(gz, hdr);
    double want = 0;
    int nrows = 40000;
    uint64_t lines = 1;
    for (int i = 0; i < nrows; i++) {
        char line[256];
        int k;
        if (i % 7 == 3) {
            k = snprintf(line, sizeof line, "%d,\"note %d,\n\"\"quoted\"\" %040d\",%d.25,%d\n", i,
                         i, i, i % 100, i & 1);
            lines += 2;
        } else {
            k = snprintf(line, sizeof line, "%d,n%d,%d.25,%d\n", i, i % 13, i % 100, i & 1);
            lines += 1;
        }
        want += (i % 100) + 0.25;
        fwrite(line, 1, (size_t)k, f);
        gzwrite(gz, line, (unsigned)k);
    }
    fclose(f);
    gzclose(gz);

    for (int pass = 0; pass < 2; pass++) {
        tide_reader *r;
        tide_err e;
        tide_row row;
        int rc, rows = 0;
        double sum = 0;
        uint64_t last_line = 0;
        assert_int_equal(tide_reader_open(pass ? gzpath : path, NULL, &r, &e), TIDE_OK);
        assert_true(tide_reader_bytes_total(r) > 0);
        while ((rc = tide_reader_next(r, &row, &e)) == TIDE_OK) {
            sum += num(&row, "val");
            if (rows % 7 == 3) {
                const tide_field *nf = field(&row, "note");
                char exp[128];
                snprintf(exp, sizeof exp, "note %d,\n\"quoted\" %040d", rows, rows);
                assert_str_n(nf->str, nf->str_len, exp);
            }
            assert_true(num(&row, "id") == rows);
            last_line = row.line;
            rows++;
        }
        assert_int_equal(rc, TIDE_EOF);
        assert_int_equal(rows, nrows);
        assert_near(sum, want, 1e-6);
        assert_int_equal(last_line, lines - ((nrows - 1) % 7 == 3 ? 1 : 0));
        assert_int_equal(tide_reader_bytes_read(r), tide_reader_bytes_total(r));
        tide_reader_free(r);
    }
    /* a truncated gzip file is bad input (TIDE_ERR_FORMAT, so the CLI exits
     * with status 2), not silent success */
    {
        FILE *g = fopen(gzpath, "r+");
        assert_non_null(g);
        fseek(g, 0, SEEK_END);
        long sz = ftell(g);
        fclose(g);
        assert_int_equal(truncate(gzpath, sz / 2), 0);
        tide_reader *r;
        tide_err e;
        tide_row row;
        int rc;
        assert_int_equal(tide_reader_open(gzpath, NULL, &r, &e), TIDE_OK);
        while ((rc = tide_reader_next(r, &row, &e)) == TIDE_OK || rc == TIDE_ERR_PARSE)
            ;
        assert_int_equal(rc, TIDE_ERR_FORMAT);
        assert_non_null(strstr(e.msg, "read error"));
        tide_reader_free(r);
    }
    unlink(path);
    unlink(gzpath);
}

/* Records longer than the (tiny) buffer while streaming from a file: the
 * buffer starts at max_line + 2 bytes, so every record crosses a refill. */
static void test_stream_tiny_buffer_and_stdin(void **st)
{
    (void)st;
    char path[128];
    const char *csv = "a,y\n1,2\n12345678901,1\n\"a\nb\",1\n\"q\"\"\nz\",9\n3,4";
    temp_path(path, sizeof path, ".csv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(csv, f);
    fclose(f);
    tide_reader_opts o;
    tide_reader *r;
    tide_err e;
    tide_row row;
    tide_reader_opts_init(&o);
    o.max_line = 10;
    assert_int_equal(tide_reader_open(path, &o, &r, &e), TIDE_OK);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    /* column a holds text in its first rows: categorical */
    assert_str_n(field(&row, "a")->str, field(&row, "a")->str_len, "1");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_LIMIT);
    assert_non_null(strstr(e.msg, ":3:1: record longer than max_line (10 bytes); skipped"));
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 4);
    assert_str_n(field(&row, "a")->str, field(&row, "a")->str_len, "a\nb");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 6);
    assert_str_n(field(&row, "a")->str, field(&row, "a")->str_len, "q\"\nz");
    assert_string_equal(row.target, "9");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 8);
    assert_string_equal(row.target, "4");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* "-" reads standard input (format required: no extension to go by) */
    int saved = dup(0);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    assert_true(dup2(fileno(in), 0) == 0);
    assert_int_equal(tide_reader_open("-", NULL, &r, &e), TIDE_ERR_ARG);
    assert_non_null(strstr(e.msg, "pass a format"));
    o.format = TIDE_FMT_CSV;
    o.max_line = 0;
    assert_int_equal(tide_reader_open("-", &o, &r, &e), TIDE_OK);
    assert_int_equal(tide_reader_bytes_total(r), 0);
    int rows = 0, rc;
    while ((rc = tide_reader_next(r, &row, &e)) == TIDE_OK)
        rows++;
    assert_int_equal(rc, TIDE_EOF);
    assert_int_equal(rows, 5);
    tide_reader_free(r);
    dup2(saved, 0);
    close(saved);
    fclose(in);
    unlink(path);
}

static void test_open_errors(void **st)
{
    (void)st;
    tide_reader *r = (tide_reader *)1;
    tide_err e;
    assert_int_equal(tide_reader_open("/nonexistent/x.csv", NULL, &r, &e), TIDE_ERR_IO);
    assert_null(r);
    assert_non_null(strstr(e.msg, "/nonexistent/x.csv: cannot open"));
    assert_int_equal(tide_reader_open_mem("a", 1, "data.bin", NULL, &r, &e), TIDE_ERR_ARG);
    assert_non_null(strstr(e.msg, "data.bin: cannot tell the format"));
    assert_non_null(strstr(e.msg, "pass a format"));
    tide_reader_free(NULL);
}

/* ---- shared data files ------------------------------------------------- */

static void test_phishing(void **st)
{
    (void)st;
    char path[512];
    tide_reader_opts o;
    tide_reader *r;
    tide_err e;
    tide_row row;
    int rc, rows = 0, pos = 0;
    tide_test_data_path(path, sizeof path, "phishing.csv");
    tide_reader_opts_init(&o);
    o.target = "is_phishing";
    assert_int_equal(tide_reader_open(path, &o, &r, &e), TIDE_OK);
    while ((rc = tide_reader_next(r, &row, &e)) == TIDE_OK) {
        assert_int_equal(row.n_fields, 9);
        for (size_t i = 0; i < row.n_fields; i++)
            assert_int_equal(row.fields[i].kind, TIDE_VAL_NUM);
        assert_true(row.target_is_num);
        pos += row.target_num == 1.0;
        if (rows == 0) {
            assert_true(num(&row, "is_popular") == 0.5 && num(&row, "long_url") == 1.0);
        }
        rows++;
    }
    assert_int_equal(rc, TIDE_EOF);
    assert_int_equal(rows, 1250);
    assert_int_equal(pos, 548); /* README: 548 phishing rows */
    assert_int_equal(tide_reader_bytes_total(r), 42652);
    tide_reader_free(r);
}

static void test_elec2(void **st)
{
    (void)st;
    char path[512];
    tide_reader *r;
    tide_err e;
    tide_row row;
    int rc, rows = 0, up = 0;
    tide_test_data_path(path, sizeof path, "elec2.csv");
    assert_int_equal(tide_reader_open(path, NULL, &r, &e), TIDE_OK);
    while ((rc = tide_reader_next(r, &row, &e)) == TIDE_OK) {
        assert_int_equal(row.n_fields, 8);
        up += row.target_num == 1.0;
        rows++;
    }
    assert_int_equal(rc, TIDE_EOF);
    assert_int_equal(rows, 45312);
    assert_int_equal(up, 19237); /* README: 19,237 UP */
    tide_reader_free(r);
}

/* ---- VW ----------------------------------------------------------------- */

static void test_vw(void **st)
{
    (void)st;
    const char *in =
        "1 |n a:0.5 b c:-2e1 |c x=v17\n"
        "-1 2.5 'ex7|f:2 p:3 q\n"
        "0 | plain:4\n"
        "|u w\n"
        "\n"
        "3 1 0.5 tagged|ns a\n"
        "spam |s x:1.25\n";
    tide_reader *r = open_str(in, "t.vw", NULL);
    tide_row row;
    tide_err e;
    const tide_field *f;

    assert_int_equal(tide_reader_format(r), TIDE_FMT_VW);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.has_target && row.target_is_num && row.target_num == 1.0);
    assert_string_equal(row.target, "1");
    assert_true(row.weight == 1.0);
    assert_null(row.tag);
    assert_int_equal(row.n_fields, 4);
    f = &row.fields[0];
    assert_str_n(f->ns, f->ns_len, "n");
    assert_str_n(f->name, f->name_len, "a");
    assert_true(f->num == 0.5 && f->kind == TIDE_VAL_NUM && f->col == -1);
    assert_true(num(&row, "b") == 1.0);
    assert_true(num(&row, "c") == -20.0);
    f = field(&row, "x=v17");
    assert_non_null(f);
    assert_str_n(f->ns, f->ns_len, "c");
    assert_true(f->num == 1.0);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.target_num == -1.0 && row.weight == 2.5);
    assert_str_n(row.tag, row.tag_len, "ex7");
    assert_int_equal(row.n_fields, 2);
    assert_str_n(row.fields[0].ns, row.fields[0].ns_len, "f");
    assert_true(num(&row, "p") == 6.0); /* scale 2 */
    assert_true(num(&row, "q") == 2.0);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.has_target && row.target_num == 0.0);
    assert_str_n(row.fields[0].ns, row.fields[0].ns_len, ""); /* "| " = default namespace */
    assert_true(num(&row, "plain") == 4.0);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.has_target, 0);
    assert_int_equal(row.line, 4);
    assert_str_n(row.fields[0].ns, row.fields[0].ns_len, "u");

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK); /* blank line skipped */
    assert_int_equal(row.line, 6);
    assert_true(row.target_num == 3.0 && row.weight == 1.0);
    assert_str_n(row.tag, row.tag_len, "tagged"); /* non-numeric token touching '|' */

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.has_target && !row.target_is_num);
    assert_string_equal(row.target, "spam");
    assert_true(num(&row, "x") == 1.25);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);
}

static void test_vw_errors(void **st)
{
    (void)st;
    const char *in = "1 |f a:x\n"
                     "1 |f a:1\n"
                     "1 abc |f a\n"
                     "1 |f:q a\n"
                     "1 'tag 2 |f a\n"
                     "1 2 3 4 |f a\n"
                     "1 |f a:1e999\n"
                     "-1 |g b:2\n";
    tide_reader *r = open_str(in, "e.vw", NULL);
    tide_row row;
    tide_err e;
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.vw:1:8: feature value is not a finite number: 'a:x'");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 2);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.vw:3:3: the importance weight must be a finite number >= 0, "
                               "found 'abc'");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.vw:4:6: namespace scale is not a finite number: 'q'");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.vw:5:3: the tag must be the last token before the first '|', "
                               "found ''tag'");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.vw:6:7: too many tokens before the first '|' (expected [label] "
                               "[importance] ['tag]), found '4'");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.vw:7:8: feature value is not a finite number: 'a:1e999'");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.target_num == -1.0 && num(&row, "b") == 2.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);

    /* line limit: reported with its line number, reading continues */
    tide_reader_opts o;
    tide_reader_opts_init(&o);
    o.max_line = 12;
    r = open_str("1 |a b\n1 |a bbbbbbbbbbbbbbbbbbbb\n0 |c d\n", "l.vw", &o);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_LIMIT);
    assert_string_equal(e.msg, "l.vw:2:1: line longer than max_line (25 > 12 bytes); skipped");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 3);
    tide_reader_free(r);
}

/* VW values go through a separate hot-path parser (SWAR digits): it must
 * agree bit for bit with strtod too, at every length and near line ends. */
static void test_vw_values_vs_strtod(void **st)
{
    (void)st;
    uint64_t s = 7;
    enum { NV = 4000 };
    static char vals[NV][40];
    size_t cap = NV * 48 + 64, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int i = 0; i < NV; i++) {
        uint64_t x = tide_test_rand(&s);
        int kind = (int)(x % 5);
        if (kind == 0)
            snprintf(vals[i], sizeof vals[i], "%.*g", 1 + (int)((x >> 8) % 17),
                     (tide_test_uniform(&s) - 0.5) * pow(10, (double)((x >> 20) % 12) - 6));
        else if (kind == 1)
            snprintf(vals[i], sizeof vals[i], "%s%d.%0*llu", (x >> 7) & 1 ? "-" : "",
                     (int)((x >> 9) % 100), 1 + (int)((x >> 17) % 14),
                     (unsigned long long)((x >> 21) % 100000000000000ULL));
        else if (kind == 2)
            snprintf(vals[i], sizeof vals[i], "%lld", (long long)(x >> 3) - (long long)(x >> 4));
        else if (kind == 3)
            snprintf(vals[i], sizeof vals[i], ".%llu", (unsigned long long)((x >> 11) % 1000000000));
        else
            snprintf(vals[i], sizeof vals[i], "%.6g", tide_test_uniform(&s) * 4 - 2);
    }
    /* CSV cells take the same fast path (with eight-byte loads that may run
     * into the next cell): a numeric column of the same values, then one
     * row holding many of them */
    {
        size_t m = (size_t)snprintf(buf, cap, "x,y\n");
        for (int i = 0; i < NV; i++)
            m += (size_t)snprintf(buf + m, cap - m, "%s,%s\n", vals[i], vals[NV - 1 - i]);
        tide_reader *rc;
        tide_err ec;
        tide_row rowc;
        assert_int_equal(tide_reader_open_mem(buf, m, "v.csv", NULL, &rc, &ec), TIDE_OK);
        for (int i = 0; i < NV; i++) {
            assert_int_equal(tide_reader_next(rc, &rowc, &ec), TIDE_OK);
            double want = strtod(vals[i], NULL), want_y = strtod(vals[NV - 1 - i], NULL);
            if (memcmp(&rowc.fields[0].num, &want, sizeof want))
                fail_msg("csv '%s' -> %.17g, strtod %.17g", vals[i], rowc.fields[0].num, want);
            if (memcmp(&rowc.target_num, &want_y, sizeof want))
                fail_msg("csv target '%s' -> %.17g", vals[NV - 1 - i], rowc.target_num);
        }
        assert_int_equal(tide_reader_next(rc, &rowc, &ec), TIDE_EOF);
        tide_reader_free(rc);
    }
    /* one feature per line (value at the very end of the line) and many per line */
    n = 0;
    for (int i = 0; i < NV; i++)
        n += (size_t)snprintf(buf + n, cap - n, "1 |a f:%s\n", vals[i]);
    n += (size_t)snprintf(buf + n, cap - n, "1 |b");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(buf + n, cap - n, " g%d:%s", i, vals[i]);
    tide_reader *r;
    tide_err e;
    tide_row row;
    assert_int_equal(tide_reader_open_mem(buf, n, "v.vw", NULL, &r, &e), TIDE_OK);
    for (int i = 0; i < NV; i++) {
        assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
        double want = strtod(vals[i], NULL);
        if (memcmp(&row.fields[0].num, &want, sizeof want))
            fail_msg("'%s' -> %.17g, strtod %.17g", vals[i], row.fields[0].num, want);
    }
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.n_fields, 200);
    for (int i = 0; i < 200; i++) {
        double want = strtod(vals[i], NULL);
        if (memcmp(&row.fields[i].num, &want, sizeof want))
            fail_msg("'%s' -> %.17g, strtod %.17g", vals[i], row.fields[i].num, want);
    }
    tide_reader_free(r);
    free(buf);
}

static void test_vw_ignore(void **st)
{
    (void)st;
    tide_reader_opts o;
    const char *ign[] = {"drop", "b"};
    tide_reader_opts_init(&o);
    o.ignore = ign;
    o.n_ignore = 2;
    tide_reader *r = open_str("1 |drop x y |keep a b c\n", "i.vw", &o);
    tide_row row;
    tide_err e;
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.n_fields, 2);
    assert_non_null(field(&row, "a"));
    assert_non_null(field(&row, "c"));
    tide_reader_free(r);
}

/* ---- JSON Lines --------------------------------------------------------- */

static void test_jsonl(void **st)
{
    (void)st;
    const char *in =
        "{\"id\": \"u1\", \"age\": 31, \"city\": \"Oslo\", \"vip\": true, \"x\": null, \"label\": 1}\n"
        "\n"
        "{\"id\": 42, \"age\": 2.5, \"vip\": false, \"target\": \"cat\", \"label\": 0}\n"
        "{\"age\": 1}\n"
        "{\"y\": -3.25}\n";
    tide_reader *r = open_str(in, "t.jsonl", NULL);
    tide_row row;
    tide_err e;
    const tide_field *f;

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_str_n(row.tag, row.tag_len, "u1");
    assert_int_equal(row.n_fields, 4); /* age, city, vip, x; id and label excluded */
    assert_true(num(&row, "age") == 31.0);
    f = field(&row, "city");
    assert_int_equal(f->kind, TIDE_VAL_CAT);
    assert_str_n(f->str, f->str_len, "Oslo");
    assert_int_equal(f->col, -1);
    assert_true(num(&row, "vip") == 1.0);
    assert_int_equal(field(&row, "x")->kind, TIDE_VAL_MISSING);
    assert_true(row.has_target && row.target_is_num && row.target_num == 1.0);
    assert_string_equal(row.target, "1");

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 3);
    assert_str_n(row.tag, row.tag_len, "42");
    assert_string_equal(row.target, "cat"); /* "target" wins over "label" */
    assert_int_equal(row.target_is_num, 0);
    assert_true(num(&row, "label") == 0.0); /* then label is a feature */
    assert_true(num(&row, "vip") == 0.0);

    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.has_target, 0);
    assert_null(row.tag);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.target_num == -3.25);
    assert_string_equal(row.target, "-3.25");
    assert_int_equal(row.n_fields, 0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);
}

static void test_jsonl_errors(void **st)
{
    (void)st;
    tide_reader_opts o;
    tide_reader_opts_init(&o);
    o.target = "t";
    const char *in = "{\"a\": 1, \"t\": 0}\n"
                     "{\"a\": {\"b\": 1}, \"t\": 1}\n"
                     "{\"a\": [1], \"t\": 1}\n"
                     "{\"a\": 1, \"a\": 2}\n"
                     "[1, 2]\n"
                     "{\"a\": 1,\n"
                     "{\"a\": 1e999}\n"
                     "{\"a\": 3, \"t\": 1}\n";
    tide_reader *r = open_str(in, "e.jsonl", &o);
    tide_row row;
    tide_err e;
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_true(row.target_num == 0.0 && num(&row, "a") == 1.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.jsonl:2:1: key 'a' holds a nested object; only flat objects "
                               "are supported");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.jsonl:3:1: key 'a' holds a nested array; only flat objects are "
                               "supported");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_non_null(strstr(e.msg, "e.jsonl:4:"));
    assert_non_null(strstr(e.msg, "duplicate object key"));
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_string_equal(e.msg, "e.jsonl:5:1: expected a JSON object per line");
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_non_null(strstr(e.msg, "e.jsonl:6:"));
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_ERR_PARSE);
    assert_non_null(strstr(e.msg, "e.jsonl:7:"));
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_OK);
    assert_int_equal(row.line, 8);
    assert_true(num(&row, "a") == 3.0);
    assert_int_equal(tide_reader_next(r, &row, &e), TIDE_EOF);
    tide_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_edges),
        cmocka_unit_test(test_num_random_vs_strtod),
        cmocka_unit_test(test_csv_basic_inference),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_crlf_and_no_final_newline),
        cmocka_unit_test(test_csv_target_ignore_delimiter),
        cmocka_unit_test(test_csv_errors_and_recovery),
        cmocka_unit_test(test_csv_all_rows_infer),
        cmocka_unit_test(test_csv_limit),
        cmocka_unit_test(test_edge_shapes),
        cmocka_unit_test(test_gzip_and_streaming),
        cmocka_unit_test(test_stream_tiny_buffer_and_stdin),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_phishing),
        cmocka_unit_test(test_elec2),
        cmocka_unit_test(test_vw),
        cmocka_unit_test(test_vw_errors),
        cmocka_unit_test(test_vw_values_vs_strtod),
        cmocka_unit_test(test_vw_ignore),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_jsonl_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
