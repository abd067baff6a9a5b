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
 */
#include "io/io_priv.h"

#include <string.h>

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

/* Number of leading ASCII digits in the 8 bytes of w (first byte lowest),
 * branch-free: a byte is a non-digit when b + 0x46 or b - 0x30 sets its top
 * bit; carries and borrows only disturb bytes after the first non-digit. */
static inline unsigned swar_ndigits(uint64_t w)
{
    uint64_t bad = ((w + 0x4646464646464646ULL) | (w - 0x3030303030303030ULL)) &
                   0x8080808080808080ULL;
    return bad ? (unsigned)__builtin_ctzll(bad) >> 3 : 8u;
}

/* Value of the first n (1..8) digits in w. The digits are moved to the top
 * bytes (as if left-padded with zeros), then combined pairwise: 10*a+b in
 * 16-bit lanes, then the four pairs with one multiply each for two lanes
 * (technique described by D. Lemire, "Quickly parsing eight digits", 2018). */
static inline uint64_t swar_value(uint64_t w, unsigned n)
{
    uint64_t x = (w - 0x3030303030303030ULL) << ((8 - n) * 8);
    x = x * 10 + (x >> 8);
    return (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
            (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
}

/* End of a feature or namespace name starting at p: the first byte that is
 * whitespace (any byte <= 0x20 counts, incl. the NUL at e), '|' or ':'.
 * Eight bytes at a time with the "has a byte less than n / equal to c" bit
 * tricks (S. E. Anderson, "Bit Twiddling Hacks"); a false positive can only
 * appear above a true match, so the lowest flagged byte is exact. */
static inline const char *name_end(const char *p, const char *e)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    while (e - p >= 8) {
        uint64_t w, bar, col, m;
        memcpy(&w, p, 8);
        bar = w ^ (ones * '|');
        col = w ^ (ones * ':');
        m = ((w - ones * 0x21) & ~w) | ((bar - ones) & ~bar) | ((col - ones) & ~col);
        m &= high;
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
    while (!CL(*p)) /* stops at the NUL at e at the latest */
        p++;
    return p;
}

/* Hot-path number parser for feature values: plain [-]digits[.digits] with at
 * most 15 digits in all (so the mantissa is < 2^53 and the power of ten is
 * <= 15: Clinger's exact case), read with the NUL at e as sentinel and
 * followed by whitespace or '|'. Anything else goes to tide_io_num. Returns
 * the end (a token boundary) or NULL when the token is not a finite number. */
static inline const char *vw_num(const char *s, const char *e, double *out)
{
    const char *p = s, *d0, *end;
    uint64_t m = 0;
    size_t ni, nfr = 0;
    double v;
    p += *p == '-';
    d0 = p;
    while ((unsigned)(*p - '0') < 10u)
        m = m * 10 + (uint64_t)(*p++ - '0');
    ni = (size_t)(p - d0);
    if (*p == '.') {
        const char *f0 = ++p;
        if (e - p >= 8) {
            static const uint64_t P10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000,
                                            10000000, 100000000};
            uint64_t w;
            unsigned k;
            memcpy(&w, p, 8);
            k = swar_ndigits(w);
            if (k) {
                m = m * P10[k] + swar_value(w, k);
                p += k;
            }
        }
        while ((unsigned)(*p - '0') < 10u)
            m = m * 10 + (uint64_t)(*p++ - '0');
        nfr = (size_t)(p - f0);
    }
    if (ni + nfr - 1 <= 14 && (CL(*p) & (C_WS | C_BAR))) {
        v = (double)m / tide_io_pow10[nfr];
        *out = *s == '-' ? -v : v;
        return p;
    }
    end = tide_io_num(s, e, out);
    if (!end || (end < e && !(CL(*end) & (C_WS | C_BAR))))
        return NULL;
    return end;
}

/* End of the token starting at t (whitespace or '|'). */
static const char *tok_end(const char *t, const char *e)
{
    while (t < e && !(CL(*t) & (C_WS | C_BAR)))
        t++;
    return t;
}

static int vw_parse(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row,
                    tide_err *err)
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

    /* namespaces and features */
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
        for (;;) {
            const char *name;
            size_t name_len;
            tide_field *f;
            while (p < e && (CL(*p) & C_WS))
                p++;
            if (p >= e || *p == '|')
                break;
            name = p;
            p = (char *)name_end(p, e);
            name_len = (size_t)(p - name);
            v = 1.0;
            if (*p == ':' && p < e) {
                const char *end = vw_num(p + 1, e, &v);
                if (!end)
                    return vw_err(r, lineno, s, p + 1, err, "feature value is not a finite "
                                  "number:", name, tok_end(p + 1, e));
                p = (char *)end;
            }
            if (r->n_ignore && (tide_io_ignored(r, ns, ns_len) ||
                                tide_io_ignored(r, name, name_len)))
                continue;
            if (nf == r->fields_cap) {
                int rc = tide_io_fields_reserve(r, nf + 1, err);
                if (rc)
                    return tide_err_set(err, rc, "%s:%llu:%zu: more than %zu features in one "
                                        "example", r->name, (unsigned long long)lineno,
                                        (size_t)(name - s) + 1, TIDE_IO_MAX_FIELDS);
            }
            f = &r->fields[nf++];
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
    row->fields = r->fields;
    row->n_fields = nf;
    row->line = lineno;
    return TIDE_OK;
}

int tide_vw_next(tide_reader *r, tide_row *row, tide_err *err)
{
    for (;;) {
        char *s, *p;
        size_t n;
        uint64_t lineno;
        int rc = tide_io_next_line(r, &s, &n, &lineno, err);
        if (rc)
            return rc;
        for (p = s; p < s + n && (CL(*p) & C_WS); p++)
            ;
        if (p == s + n)
            continue; /* blank line */
        return vw_parse(r, s, s + n, lineno, row, err);
    }
}
