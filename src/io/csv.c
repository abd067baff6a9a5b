/*
 * csv.c — streaming CSV reader (RFC 4180, "Common Format and MIME Type for
 * Comma-Separated Values Files"): quoted fields with "" escapes, delimiters
 * and line breaks inside quotes, CRLF or LF records, a required header row
 * and a configurable delimiter.
 *
 * Records are parsed in place in the reader's buffer. A record without any
 * quote (the common case) is found with memchr and split on the delimiter;
 * a record with quotes is first delimited by a small state machine (cell
 * start / unquoted / quoted / quote-seen-inside-quotes) that never writes,
 * so it can resume after more input is read, then split and unescaped.
 *
 * Column types are inferred from the first infer_rows records (buffered in
 * an owned store, at most TIDE_IO_INFER_BYTES of memory): a column is numeric
 * when every non-empty cell parses as a finite number. A later non-numeric
 * cell in a numeric column is a parse error; empty cells are missing values.
 */
#include "io/io_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELLS_MAX (TIDE_IO_MAX_COLS + 1)

enum { ST_START, ST_UNQ, ST_Q, ST_QQ };

/* Appends a cell; counts (but does not store) cells beyond CELLS_MAX. */
static int cell_add_slow(tide_reader *r, size_t *n, char *s, size_t len, uint32_t line_off,
                         uint32_t col, tide_err *err)
{
    if (*n >= r->cells_cap && r->cells_cap < CELLS_MAX) {
        size_t cap = r->cells_cap ? r->cells_cap * 2 : 64;
        csv_cell *c;
        if (cap > CELLS_MAX)
            cap = CELLS_MAX;
        c = realloc(r->cells, cap * sizeof *c);
        if (!c)
            return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory for %zu cells", r->name,
                                cap);
        r->cells = c;
        r->cells_cap = cap;
    }
    if (*n < r->cells_cap) {
        csv_cell *c = &r->cells[*n];
        c->s = s;
        c->len = len;
        c->line_off = line_off;
        c->col = col;
    }
    (*n)++;
    return TIDE_OK;
}

static inline int cell_add(tide_reader *r, size_t *n, char *s, size_t len, uint32_t line_off,
                           uint32_t col, tide_err *err)
{
    if (*n < r->cells_cap) {
        csv_cell *c = &r->cells[(*n)++];
        c->s = s;
        c->len = len;
        c->line_off = line_off;
        c->col = col;
        return TIDE_OK;
    }
    return cell_add_slow(r, n, s, len, line_off, col, err);
}

/* Runs the record state machine over [p, e). Returns the '\n' that ends the
 * record, or NULL when e is reached first; *st and *nls (line breaks inside
 * quotes) carry over between calls. */
static const char *csv_machine(const char *p, const char *e, char delim, int *st, uint64_t *nls)
{
    int s = *st;
    for (; p < e; p++) {
        char c = *p;
        switch (s) {
        case ST_START:
            if (c == '"')
                s = ST_Q;
            else if (c == '\n')
                goto done;
            else if (c != delim)
                s = ST_UNQ;
            break;
        case ST_UNQ:
            if (c == delim)
                s = ST_START;
            else if (c == '\n')
                goto done;
            break;
        case ST_Q:
            if (c == '"')
                s = ST_QQ;
            else if (c == '\n')
                (*nls)++;
            break;
        default: /* ST_QQ */
            if (c == '"')
                s = ST_Q;
            else if (c == delim)
                s = ST_START;
            else if (c == '\n')
                goto done;
            else
                s = ST_UNQ;
            break;
        }
    }
    *st = s;
    return NULL;
done:
    *st = ST_START;
    return p;
}

/* Discards the record starting at pos (it exceeded max_line). */
static int csv_skip(tide_reader *r, tide_err *err)
{
    int st = ST_START, rc;
    uint64_t nls = 0;
    for (;;) {
        const char *t = csv_machine(r->buf + r->pos, r->buf + r->len, r->delim, &st, &nls);
        if (t) {
            r->pos = (size_t)(t - r->buf) + 1;
            r->line += nls + 1;
            return TIDE_OK;
        }
        r->pos = r->len;
        if (r->eof) {
            r->line += nls + 1;
            return TIDE_OK;
        }
        rc = tide_io_fill(r, err);
        if (rc < 0)
            return rc;
    }
}

/* Splits a quote-free record [p, e) on the delimiter. */
static int split_fast(tide_reader *r, char *p, char *e, size_t *ncells, tide_err *err)
{
    const char d = r->delim;
    const uint64_t dd = 0x0101010101010101ULL * (unsigned char)d;
    char *q = p;
    size_t n = 0;
    int rc;
    if (e > p && e[-1] == '\r')
        e--;
    for (;;) {
        char *c0 = q;
        /* find the delimiter eight bytes at a time: a zero byte of w ^ dd
         * marks it (the "determine if a word has a zero byte" trick from
         * S. E. Anderson's "Bit Twiddling Hacks"; only bytes above the first
         * match can be flagged falsely, so the lowest flag is exact) */
        while (e - q >= 8) {
            uint64_t w, m;
            memcpy(&w, q, 8);
            w ^= dd;
            m = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
            if (m) {
                q += __builtin_ctzll(m) >> 3;
                goto found;
            }
            q += 8;
        }
        while (q < e && *q != d)
            q++;
    found:
        rc = cell_add(r, &n, c0, (size_t)(q - c0), 0, (uint32_t)(c0 - p + 1), err);
        if (rc)
            return rc;
        if (q >= e) {
            *q = '\0';
            break;
        }
        *q++ = '\0';
    }
    *ncells = n;
    return TIDE_OK;
}

/* Splits and unescapes a record with quotes, [p, e) (e is its '\n' or the
 * end of input). */
static int split_slow(tide_reader *r, char *p, char *e, uint64_t lineno, size_t *ncells,
                      tide_err *err)
{
    const char d = r->delim;
    char *q = p, *line_start = p;
    uint32_t line_off = 0;
    size_t n = 0;
    int rc;

    for (;;) {
        char *c0 = q;
        uint32_t col = (uint32_t)(q - line_start + 1), lo = line_off;
        if (q < e && *q == '"') {
            char *out = q;
            q++;
            for (;;) {
                if (q >= e)
                    return tide_err_set(err, TIDE_ERR_PARSE,
                                        "%s:%llu:%u: unterminated quoted field (no closing '\"' "
                                        "before the end of input)", r->name,
                                        (unsigned long long)(lineno + lo), col);
                if (*q == '"') {
                    if (q + 1 < e && q[1] == '"') {
                        *out++ = '"';
                        q += 2;
                        continue;
                    }
                    q++;
                    break;
                }
                if (*q == '\n') {
                    line_off++;
                    line_start = q + 1;
                }
                *out++ = *q++;
            }
            if (q < e && *q == '\r' && q + 1 == e)
                q++;
            if (q < e && *q != d) {
                unsigned char ch = (unsigned char)*q;
                return tide_err_set(err, TIDE_ERR_PARSE,
                                    ch >= 0x20 && ch < 0x7f
                                        ? "%s:%llu:%u: unexpected character '%c' after a closing "
                                          "quote (a quote inside a field must be doubled)"
                                        : "%s:%llu:%u: unexpected byte 0x%02x after a closing "
                                          "quote (a quote inside a field must be doubled)",
                                    r->name, (unsigned long long)(lineno + line_off),
                                    (unsigned)(q - line_start + 1), ch);
            }
            *out = '\0';
            rc = cell_add(r, &n, c0, (size_t)(out - c0), lo, col, err);
            if (rc)
                return rc;
            if (q >= e)
                break;
            q++;
        } else {
            char *ce;
            while (q < e && *q != d)
                q++;
            ce = q;
            if (q >= e && ce > c0 && ce[-1] == '\r')
                ce--;
            rc = cell_add(r, &n, c0, (size_t)(ce - c0), lo, col, err);
            if (rc)
                return rc;
            if (q >= e) {
                *ce = '\0';
                break;
            }
            *q++ = '\0';
        }
    }
    *ncells = n;
    return TIDE_OK;
}

/* Reads the next record into r->cells. Blank lines are skipped (unless the
 * file has a single column). */
static int csv_read_record(tide_reader *r, size_t *ncells, uint64_t *lineno, tide_err *err)
{
    size_t scan = 0;
    int st = ST_START, slow = 0, rc;
    uint64_t nls = 0;

    for (;;) {
        char *p = r->buf + r->pos, *end = r->buf + r->len;
        size_t avail = r->len - r->pos;

        if (!slow) {
            char *nl = memchr(p + scan, '\n', avail - scan);
            char *lim = nl ? nl : (r->eof ? end : NULL);
            if (lim) {
                size_t L = (size_t)(lim - p);
                if (!memchr(p, '"', L)) {
                    if (L == 0 && !nl)
                        return TIDE_EOF;
                    *lineno = r->line++;
                    r->pos = nl ? (size_t)(nl - r->buf) + 1 : r->len;
                    if (L > r->max_line)
                        return tide_err_set(err, TIDE_ERR_LIMIT,
                                            "%s:%llu:1: record longer than max_line (%zu > %zu "
                                            "bytes); skipped", r->name,
                                            (unsigned long long)*lineno, L, r->max_line);
                    if (r->ncols != 1 && (L == 0 || (L == 1 && *p == '\r'))) {
                        scan = 0;
                        continue;
                    }
                    return split_fast(r, p, lim, ncells, err);
                }
                slow = 1;
                scan = 0;
            } else {
                scan = avail;
            }
        }
        if (slow) {
            const char *t = csv_machine(p + scan, end, r->delim, &st, &nls);
            char *rec_end = t ? p + (t - p) : (r->eof ? end : NULL);
            if (rec_end) {
                size_t L = (size_t)(rec_end - p);
                *lineno = r->line;
                r->line += nls + 1;
                r->pos = rec_end == end ? r->len : (size_t)(rec_end - r->buf) + 1;
                if (L > r->max_line)
                    return tide_err_set(err, TIDE_ERR_LIMIT,
                                        "%s:%llu:1: record longer than max_line (%zu > %zu "
                                        "bytes); skipped", r->name,
                                        (unsigned long long)*lineno, L, r->max_line);
                return split_slow(r, p, rec_end, *lineno, ncells, err);
            }
            scan = avail;
        }
        if (avail > r->max_line) {
            uint64_t ln = r->line;
            rc = csv_skip(r, err);
            if (rc < 0)
                return rc;
            return tide_err_set(err, TIDE_ERR_LIMIT,
                                "%s:%llu:1: record longer than max_line (%zu bytes); skipped",
                                r->name, (unsigned long long)ln, r->max_line);
        }
        rc = tide_io_fill(r, err);
        if (rc < 0)
            return rc;
    }
}

/* Whole cell as a finite number, ignoring surrounding spaces and tabs. Cells
 * are NUL-terminated; [s, lim) is initialised memory (see tide_io_num_nul). */
static int cell_num(const char *s, size_t len, const char *lim, double *v)
{
    const char *e = s + len, *end;
    if (len && *s != ' ' && *s != '\t' && e[-1] != ' ' && e[-1] != '\t')
        return tide_io_num_nul(s, e, lim && lim > e ? lim : e, v) == e;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (s == e)
        return 0;
    end = tide_io_num(s, e, v);
    return end == e;
}

static int build_row(tide_reader *r, const csv_cell *cells, size_t n, uint64_t lineno,
                     const char *lim, tide_row *row, tide_err *err)
{
    size_t k = 0;
    if (n != r->ncols)
        return tide_err_set(err, TIDE_ERR_PARSE,
                            "%s:%llu:1: expected %zu cells (one per header column) but found %zu",
                            r->name, (unsigned long long)lineno, r->ncols, n);
    for (size_t i = 0; i < n; i++) {
        const csv_cell *c = &cells[i];
        tide_field *f;
        switch (r->role[i]) {
        case CSV_TARGET:
            if (c->len) {
                double v;
                row->has_target = 1;
                row->target = c->s;
                row->target_len = c->len;
                if (cell_num(c->s, c->len, lim, &v)) {
                    row->target_is_num = 1;
                    row->target_num = v;
                }
            }
            continue;
        case CSV_IGNORED:
            continue;
        default:
            break;
        }
        f = &r->fields[k++];
        f->ns = "";
        f->ns_len = 0;
        f->name = r->cols[i];
        f->name_len = r->col_len[i];
        f->str = NULL;
        f->str_len = 0;
        f->num = 0;
        f->col = (int)i;
        if (c->len == 0) {
            f->kind = TIDE_VAL_MISSING;
        } else if (r->role[i] == CSV_NUM) {
            f->kind = TIDE_VAL_NUM;
            if (!cell_num(c->s, c->len, lim, &f->num))
                return tide_err_set(err, TIDE_ERR_PARSE,
                                    "%s:%llu:%u: column '%s' (%zu) was inferred numeric from the "
                                    "first %d rows but holds '%.*s', which is not a finite number",
                                    r->name, (unsigned long long)(lineno + c->line_off), c->col,
                                    r->cols[i], i + 1, r->infer_rows,
                                    (int)(c->len > 40 ? 40 : c->len), c->s);
        } else {
            f->kind = TIDE_VAL_CAT;
            f->str = c->s;
            f->str_len = c->len;
        }
    }
    row->fields = r->fields;
    row->n_fields = k;
    row->line = lineno;
    row->source = r->name;
    return TIDE_OK;
}

/* "a, b, c" (truncated) for error messages. */
static void list_columns(const tide_reader *r, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->ncols; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", r->cols[i]);
        if (w < 0 || (size_t)w >= outlen - used) {
            if (outlen > 4)
                memcpy(out + outlen - 4, "...", 4);
            return;
        }
        used += (size_t)w;
    }
}

static ptrdiff_t find_col(const tide_reader *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (!strcmp(r->cols[i], name))
            return (ptrdiff_t)i;
    return -1;
}

static int cmp_col(const void *a, const void *b, void *ctx)
{
    char *const *cols = ctx;
    return strcmp(cols[*(const size_t *)a], cols[*(const size_t *)b]);
}

static int check_duplicates(tide_reader *r, tide_err *err)
{
    size_t *idx = malloc((r->ncols ? r->ncols : 1) * sizeof *idx);
    int rc = TIDE_OK;
    if (!idx)
        return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", r->name);
    for (size_t i = 0; i < r->ncols; i++)
        idx[i] = i;
    qsort_r(idx, r->ncols, sizeof *idx, cmp_col, r->cols);
    for (size_t i = 1; i < r->ncols; i++) {
        if (!strcmp(r->cols[idx[i - 1]], r->cols[idx[i]])) {
            size_t a = idx[i - 1] < idx[i] ? idx[i - 1] : idx[i];
            size_t b = idx[i - 1] < idx[i] ? idx[i] : idx[i - 1];
            rc = tide_err_set(err, TIDE_ERR_PARSE,
                              "%s:1:1: duplicate column name '%s' (columns %zu and %zu)", r->name,
                              r->cols[a], a + 1, b + 1);
            break;
        }
    }
    free(idx);
    return rc;
}

/* Grows *p (elements of size sz, capacity *cap) to hold need elements. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    size_t c = *cap ? *cap : 16;
    void *np;
    if (need <= *cap)
        return 0;
    while (c < need) {
        if (c > SIZE_MAX / 2 / sz)
            return -1;
        c *= 2;
    }
    np = realloc(*p, c * sz);
    if (!np)
        return -1;
    *p = np;
    *cap = c;
    return 0;
}

/* Keeps a record read during inference (cells or its error) for later. */
static int hold(tide_reader *r, int code, const char *msg, size_t n, uint64_t lineno,
                tide_err *err)
{
    csv_held *h;
    if (grow((void **)&r->held, &r->held_cap, r->n_held + 1, sizeof *r->held))
        goto nomem;
    h = &r->held[r->n_held];
    memset(h, 0, sizeof *h);
    h->code = code;
    h->line = lineno;
    h->ncells = n;
    h->cell0 = r->n_held_cells;
    r->held_bytes += sizeof *h;
    if (code != TIDE_OK) {
        size_t L = strlen(msg) + 1;
        h->msg = malloc(L);
        if (!h->msg)
            goto nomem;
        memcpy(h->msg, msg, L);
        r->held_bytes += L;
    } else if (n == r->ncols) {
        size_t text = 0;
        for (size_t i = 0; i < n; i++)
            text += r->cells[i].len + 1;
        if (grow((void **)&r->held_cells, &r->held_cells_cap, r->n_held_cells + n,
                 sizeof *r->held_cells) ||
            grow((void **)&r->held_text, &r->held_text_cap, r->held_text_len + text, 1))
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            csv_held_cell *c = &r->held_cells[r->n_held_cells++];
            c->off = r->held_text_len;
            c->len = r->cells[i].len;
            c->line_off = r->cells[i].line_off;
            c->col = r->cells[i].col;
            if (c->len)
                memcpy(r->held_text + c->off, r->cells[i].s, c->len);
            r->held_text[c->off + c->len] = '\0';
            r->held_text_len += c->len + 1;
        }
        r->held_bytes += text + n * sizeof *r->held_cells;
    }
    r->n_held++;
    return TIDE_OK;
nomem:
    return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory buffering rows for type "
                        "inference", r->name);
}

static void free_held(tide_reader *r)
{
    for (size_t i = 0; i < r->n_held; i++)
        free(r->held[i].msg);
    free(r->held);
    free(r->held_cells);
    free(r->held_text);
    r->held = NULL;
    r->held_cells = NULL;
    r->held_text = NULL;
    r->n_held = r->held_next = r->n_held_cells = r->held_text_len = r->held_bytes = 0;
    r->held_cap = r->held_cells_cap = r->held_text_cap = 0;
}

int tide_csv_open(tide_reader *r, tide_err *err)
{
    size_t n = 0;
    uint64_t lineno = 0;
    int rc;
    char cols[300];

    rc = csv_read_record(r, &n, &lineno, err);
    if (rc == TIDE_EOF)
        return tide_err_set(err, TIDE_ERR_PARSE, "%s:1:1: empty input: a CSV header row is "
                            "required", r->name);
    if (rc)
        return rc;
    if (n > TIDE_IO_MAX_COLS)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s:%llu:1: header has more than %zu columns",
                            r->name, (unsigned long long)lineno, TIDE_IO_MAX_COLS);
    r->cols = calloc(n, sizeof *r->cols);
    r->col_len = calloc(n, sizeof *r->col_len);
    r->role = calloc(n, 1);
    if (!r->cols || !r->col_len || !r->role)
        return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", r->name);
    r->ncols = n;
    for (size_t i = 0; i < n; i++) {
        r->cols[i] = malloc(r->cells[i].len + 1);
        if (!r->cols[i])
            return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", r->name);
        memcpy(r->cols[i], r->cells[i].s, r->cells[i].len);
        r->cols[i][r->cells[i].len] = '\0';
        r->col_len[i] = strlen(r->cols[i]);
    }
    rc = check_duplicates(r, err);
    if (rc)
        return rc;
    if (r->target_name) {
        ptrdiff_t t = find_col(r, r->target_name);
        if (t < 0) {
            list_columns(r, cols, sizeof cols);
            return tide_err_set(err, TIDE_ERR_NOTFOUND,
                                "%s: target column '%s' is not in the header; columns: %s",
                                r->name, r->target_name, cols);
        }
        r->target_col = (size_t)t;
    } else {
        r->target_col = n - 1;
    }
    r->role[r->target_col] = CSV_TARGET;
    for (size_t i = 0; i < r->n_ignore; i++) {
        ptrdiff_t t = find_col(r, r->ignore[i]);
        if (t < 0) {
            list_columns(r, cols, sizeof cols);
            return tide_err_set(err, TIDE_ERR_NOTFOUND,
                                "%s: ignored column '%s' is not in the header; columns: %s",
                                r->name, r->ignore[i], cols);
        }
        if ((size_t)t == r->target_col)
            return tide_err_set(err, TIDE_ERR_ARG, "%s: column '%s' is both the target and "
                                "ignored", r->name, r->ignore[i]);
        r->role[t] = CSV_IGNORED;
    }
    rc = tide_io_fields_reserve(r, n, err);
    if (rc)
        return rc;

    /* Type inference: buffer up to infer_rows records. */
    for (int k = 0; k < r->infer_rows && r->held_bytes < TIDE_IO_INFER_BYTES; k++) {
        tide_err le;
        tide_err_clear(&le);
        rc = csv_read_record(r, &n, &lineno, &le);
        if (rc == TIDE_EOF)
            break;
        if (rc == TIDE_ERR_NOMEM)
            return tide_err_set(err, rc, "%s", le.msg);
        rc = hold(r, rc, le.msg, rc == TIDE_OK ? n : 0, lineno, err);
        if (rc)
            return rc;
        if (r->held[r->n_held - 1].code != TIDE_OK || n != r->ncols)
            continue;
        for (size_t i = 0; i < n; i++) {
            double v;
            if (r->role[i] == CSV_NUM && r->cells[i].len &&
                !cell_num(r->cells[i].s, r->cells[i].len, r->buf + r->len, &v))
                r->role[i] = CSV_CAT;
        }
    }
    return TIDE_OK;
}

int tide_csv_next(tide_reader *r, tide_row *row, tide_err *err)
{
    size_t n = 0;
    uint64_t lineno = 0;
    int rc;

    if (r->held_next < r->n_held) {
        const csv_held *h = &r->held[r->held_next++];
        if (h->code != TIDE_OK)
            return tide_err_set(err, h->code, "%s", h->msg);
        if (h->ncells == r->ncols) {
            for (size_t i = 0; i < h->ncells; i++) {
                const csv_held_cell *c = &r->held_cells[h->cell0 + i];
                r->cells[i].s = r->held_text + c->off;
                r->cells[i].len = c->len;
                r->cells[i].line_off = c->line_off;
                r->cells[i].col = c->col;
            }
        }
        /* held_text is NULL when every held record was an error */
        return build_row(r, r->cells, h->ncells, h->line,
                         r->held_text ? r->held_text + r->held_text_len : NULL, row, err);
    }
    if (r->held)
        free_held(r);
    rc = csv_read_record(r, &n, &lineno, err);
    if (rc)
        return rc;
    return build_row(r, r->cells, n, lineno, r->buf + r->len, row, err);
}

void tide_csv_free(tide_reader *r)
{
    if (r->cols)
        for (size_t i = 0; i < r->ncols; i++)
            free(r->cols[i]);
    free(r->cols);
    free(r->col_len);
    free(r->role);
    free(r->cells);
    free_held(r);
    r->cols = NULL;
    r->cells = NULL;
}
