/*
 * vw.c — Vowpal Wabbit text format reader, following the input format
 * described in VW's wiki ("Input format", github.com/VowpalWabbit/
 * vowpal_wabbit/wiki/Input-format):
 *
 *     [label] [importance [initial]] ['tag]|ns[:scale] f[:v] f2 ... |ns2 ...
 *
 * A feature without ":v" has value 1. '|' followed by a space opens the
 * default namespace "". ":scale" multiplies every value of its namespace. The
 * tag is a token starting with ' before the first '|', or a non-numeric token
 * touching the '|'. The label may be any token (numeric labels also fill
 * target_num); a line without one is unlabelled. The initial/base value is
 * accepted and ignored.
 *
 * The hot path (one call per row) is a single pass over the line with a
 * byte-class table and the inline Clinger number parser; fields point into
 * the reader's buffer and the fields array is reused, so steady state does
 * not allocate.
 *
 * The same pass has a second, fused output (tide_reader_next_hashed, used by
 * tide_featurize_next when there are no quadratic pairs): instead of a
 * tide_field per feature (nine stores the featurizer then reads back), each
 * name is hashed where the scan ends (feat/fhash.h, the featurizer's own
 * hash; h(ns) once per namespace) and {bucket, float value} is written
 * straight into the caller's vector. One body, vw_parse_as(), serves both:
 * its `hashed` argument is a constant in each of the two callers, so each
 * gets its own specialised loop and the tokenizing cannot drift apart.
 */
#include "io/io_priv.h"

#include <string.h>

#include "feat/fhash.h"
#include "tide/feat.h"

enum { C_WS = 1, C_BAR = 2, C_COLON = 4 };

/* Every byte <= 0x20 (space and control characters) separates tokens. */
static const unsigned char CLS[256] = {
    [0] = C_WS, [1] = C_WS, [2] = C_WS, [3] = C_WS, [4] = C_WS, [5] = C_WS, [6] = C_WS, [7]
    = C_WS, [8] = C_WS, [9] = C_WS, [10] = C_WS, [11] = C_WS, [12] = C_WS, [13] = C_WS, [14]
    = C_WS, [15] = C_WS, [16] = C_WS, [17] = C_WS, [18] = C_WS, [19] = C_WS, [20] = C_WS,
    [21] = C_WS, [22] = C_WS, [23] = C_WS, [24] = C_WS, [25] = C_WS, [26] = C_WS, [27] =
    C_WS, [28] = C_WS, [29] = C_WS, [30] = C_WS, [31] = C_WS, [32] = C_WS, ['|'] = C_BAR,
    [':'] = C_COLON,
};

#define CL(c) CLS[(unsigned char)(c)]

static int vw_err(const tide_reader *r, uint64_t lineno, const char *s, const char *at,
                  tide_err *err, const char *what, const char *tok, const char *tok_end)
{
    return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:%zu: %s '%.*s'", r->name,
                        (unsigned long long)lineno, (size_t)(at - s) + 1, what,
                        (int)(tok_end - tok > 60 ? 60 : tok_end - tok), tok);
}

/* End of the token starting at t (whitespace or '|'). */
static const char *tok_end(const char *t, const char *e)
{
    while (t < e && !(CL(*t) & (C_WS | C_BAR)))
        t++;
    return t;
}

/* Parses one line into row: into r->fields, or (hashed) into hv as
 * buckets with mask. Always inlined into its two callers, which pass hashed
 * as a constant. */
static inline __attribute__((always_inline)) int
vw_parse_as(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row, const int hashed,
            tide_fvec *hv, uint32_t mask, tide_err *err)
{
    char *bar = memchr(s, '|', (size_t)(e - s));
    char *le = bar ? bar : e;
    char *tok[3], *tend[3], *p = s;
    size_t k = 0, nf = 0;
    double v = 0;

    /* label section: [label] [importance [initial]] ['tag] */
    for (;;) {
        char *t;
        while (p < le && (CL(*p) & C_WS))
            p++;
        if (p >= le)
            break;
        t = p;
        while (p < le && !(CL(*p) & C_WS))
            p++;
        if (*t == '\'' || (p == bar && !(tide_io_num(t, p, &v) == p))) {
            const char *q = t;
            while (q < le && (CL(*q) & C_WS) == 0)
                q++;
            while (q < le && (CL(*q) & C_WS))
                q++;
            if (q < le)
                return vw_err(r, lineno, s, t, err, "the tag must be the last token before the "
                              "first '|', found", t, p);
            row->tag = *t == '\'' ? t + 1 : t;
            row->tag_len = (size_t)(p - t) - (*t == '\'');
            break;
        }
        if (k == 3)
            return vw_err(r, lineno, s, t, err, "too many tokens before the first '|' (expected "
                          "[label] [importance] ['tag]), found", t, p);
        tok[k] = t;
        tend[k] = p;
        k++;
    }
    if (k >= 2) {
        if (tide_io_num(tok[1], tend[1], &v) != tend[1] || v < 0)
            return vw_err(r, lineno, s, tok[1], err, "the importance weight must be a finite "
                          "number >= 0, found", tok[1], tend[1]);
        row->weight = v;
    }
    if (k == 3 && tide_io_num(tok[2], tend[2], &v) != tend[2])
        return vw_err(r, lineno, s, tok[2], err, "the initial prediction must be a finite number, "
                      "found", tok[2], tend[2]);
    if (k >= 1) {
        row->has_target = 1;
        row->target = tok[0];
        row->target_len = (size_t)(tend[0] - tok[0]);
        if (tide_io_num(tok[0], tend[0], &v) == tend[0]) {
            row->target_is_num = 1;
            row->target_num = v;
        }
        *tend[0] = '\0'; /* may overwrite the '|' itself: bar is kept */
    }

    /* namespaces and features (reader fields cached in locals: the stores
     * below could otherwise alias them and force reloads) */
    tide_field *fields = r->fields;
    size_t fields_cap = r->fields_cap, n_ignore = r->n_ignore;
    /* hashed: the output vector, its usable capacity, h(ns) of the current
     * namespace, and the first value that overflows a float (an error only
     * for rows with a target, after the whole line parsed: the order of
     * tide_reader_next then tide_featurize) */
    tide_feat *hf = hashed ? hv->f : NULL;
    size_t hcap = hashed ? (hv->cap < TIDE_IO_MAX_FIELDS ? hv->cap : TIDE_IO_MAX_FIELDS) : 0;
    uint64_t nsh = 0;
    const char *ovf = NULL;
    size_t ovf_len = 0;
    double ovf_num = 0;
    p = bar;
    while (p && p < e) {
        const char *ns = ++p;
        size_t ns_len = 0;
        double scale = 1.0;
        if (p < e && !(CL(*p) & (C_WS | C_BAR))) {
            while (p < e && !CL(*p))
                p++;
            ns_len = (size_t)(p - ns);
            if (p < e && *p == ':') {
                const char *end = tide_io_num(p + 1, e, &scale);
                if (!end || (end < e && !(CL(*end) & (C_WS | C_BAR))))
                    return vw_err(r, lineno, s, p + 1, err, "namespace scale is not a finite "
                                  "number:", p + 1, tok_end(p + 1, e));
                p = (char *)end;
            }
        }
        if (hashed)
            nsh = tide_fhash_ns(ns, ns_len);
        for (;;) {
            const char *name;
            size_t name_len;
            tide_field *f;
            p += *p == ' '; /* the usual single separator */
            if (CL(*p) & C_WS)
                while (p < e && (CL(*p) & C_WS))
                    p++;
            if (p >= e || *p == '|')
                break;
            name = p;
            while (!CL(*p)) /* stops at the NUL at e at the latest */
                p++;
            name_len = (size_t)(p - name);
            v = 1.0;
            if (*p == ':' && p < e) {
                const char *end = tide_io_num_nul(p + 1, e, e, &v);
                if (!end || !(CL(*end) & (C_WS | C_BAR)))
                    return vw_err(r, lineno, s, p + 1, err, "feature value is not a finite "
                                  "number:", name, tok_end(p + 1, e));
                p = (char *)end;
            }
            if (n_ignore && (tide_io_ignored(r, ns, ns_len) ||
                             tide_io_ignored(r, name, name_len)))
                continue;
            if (hashed) {
                double num = v * scale;
                float val = (float)num;
                uint64_t h;
                if (scale != 1.0 && !isfinite(num))
                    return vw_err(r, lineno, s, name, err, "feature value times the namespace "
                                  "scale is not finite:", name, tok_end(name, e));
                if (!isfinite(val) && !ovf) {
                    ovf = name;
                    ovf_len = name_len;
                    ovf_num = num;
                }
                h = tide_fhash_name(name, name_len, nsh);
                if (nf == hcap) {
                    int rc = nf >= TIDE_IO_MAX_FIELDS ? TIDE_ERR_LIMIT
                                                      : tide_fvec_reserve(hv, nf + 1);
                    if (rc)
                        return tide_err_set(err, rc, "%s:%llu:%zu: more than %zu features in "
                                            "one example", r->name, (unsigned long long)lineno,
                                            (size_t)(name - s) + 1, TIDE_IO_MAX_FIELDS);
                    hf = hv->f;
                    hcap = hv->cap < TIDE_IO_MAX_FIELDS ? hv->cap : TIDE_IO_MAX_FIELDS;
                }
                hf[nf].idx = (uint32_t)h & mask;
                hf[nf].val = val;
                nf++;
                continue;
            }
            if (nf == fields_cap) {
                int rc = tide_io_fields_reserve(r, nf + 1, err);
                if (rc)
                    return tide_err_set(err, rc, "%s:%llu:%zu: more than %zu features in one "
                                        "example", r->name, (unsigned long long)lineno,
                                        (size_t)(name - s) + 1, TIDE_IO_MAX_FIELDS);
                fields = r->fields;
                fields_cap = r->fields_cap;
            }
            f = &fields[nf++];
            f->ns = ns;
            f->ns_len = ns_len;
            f->name = name;
            f->name_len = name_len;
            f->str = NULL;
            f->str_len = 0;
            f->num = v * scale;
            f->kind = TIDE_VAL_NUM;
            f->col = -1;
            if (scale != 1.0 && !isfinite(f->num))
                return vw_err(r, lineno, s, name, err, "feature value times the namespace scale "
                              "is not finite:", name, tok_end(name, e));
        }
    }
    row->line = lineno;
    row->source = r->name;
    if (hashed) {
        hv->n = nf;
        row->n_fields = 0;
        if (ovf && row->has_target) /* tide_featurize's message */
            return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu: feature '%.*s' = %g overflows "
                                "a float", r->name, (unsigned long long)lineno, (int)ovf_len, ovf,
                                ovf_num);
        return TIDE_OK;
    }
    row->fields = fields;
    row->n_fields = nf;
    return TIDE_OK;
}

static int vw_parse(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row,
                    tide_err *err)
{
    return vw_parse_as(r, s, e, lineno, row, 0, NULL, 0, err);
}

static int vw_parse_hashed(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row,
                           tide_fvec *hv, uint32_t mask, tide_err *err)
{
    return vw_parse_as(r, s, e, lineno, row, 1, hv, mask, err);
}

/* The next line that is not blank (TIDE_OK), or the reader's status. */
static int vw_line(tide_reader *r, char **s, size_t *n, uint64_t *lineno, tide_err *err)
{
    for (;;) {
        char *p;
        int rc = tide_io_next_line(r, s, n, lineno, err);
        if (rc)
            return rc;
        for (p = *s; p < *s + *n && (CL(*p) & C_WS); p++)
            ;
        if (p < *s + *n)
            return TIDE_OK;
    }
}

int tide_vw_next(tide_reader *r, tide_row *row, tide_err *err)
{
    char *s;
    size_t n;
    uint64_t lineno;
    int rc = vw_line(r, &s, &n, &lineno, err);
    return rc ? rc : vw_parse(r, s, s + n, lineno, row, err);
}

int tide_vw_next_hashed(tide_reader *r, tide_row *row, uint32_t mask, tide_fvec *v,
                        tide_err *err)
{
    char *s;
    size_t n;
    uint64_t lineno;
    int rc = vw_line(r, &s, &n, &lineno, err);
    return rc ? rc : vw_parse_hashed(r, s, s + n, lineno, row, v, mask, err);
}
