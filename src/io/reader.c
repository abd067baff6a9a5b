/*
 * reader.c — the format-independent half of tide's streaming readers
 * (tide/io.h): options, opening files (plain or gzip through zlib), stdin and
 * memory sources, format detection by extension, the bounded input buffer
 * and line splitting, and dispatch to the CSV / JSON Lines / VW parsers.
 */
#include "io/io_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void tide_reader_opts_init(tide_reader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = TIDE_FMT_AUTO;
    o->delimiter = ',';
    o->infer_rows = 1000;
    o->max_line = TIDE_IO_DEFAULT_MAX_LINE;
}

double tide_io_strtod(const char *s, size_t n)
{
    char small[128];
    char *tmp = small;
    double v;
    if (n >= sizeof small) {
        tmp = malloc(n + 1);
        if (!tmp)
            return NAN;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    v = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    return v;
}

int tide_parse_double(const char *s, size_t len, double *out)
{
    double v;
    const char *end;
    if (!s)
        return TIDE_ERR_ARG;
    end = tide_io_num(s, s + len, &v);
    if (!end || end != s + len)
        return TIDE_ERR_PARSE;
    if (out)
        *out = v;
    return TIDE_OK;
}

/* ---- format detection --------------------------------------------------- */

static int ends_with(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && strncasecmp(s + n - k, suf, k) == 0;
}

static int detect_format(const char *name, tide_format *fmt, char *delim, tide_err *err)
{
    size_t n = strlen(name);
    if (ends_with(name, n, ".gz"))
        n -= 3;
    if (ends_with(name, n, ".csv") || ends_with(name, n, ".txt")) {
        *fmt = TIDE_FMT_CSV;
    } else if (ends_with(name, n, ".tsv")) {
        *fmt = TIDE_FMT_CSV;
        *delim = '\t';
    } else if (ends_with(name, n, ".jsonl") || ends_with(name, n, ".ndjson") ||
               ends_with(name, n, ".json")) {
        *fmt = TIDE_FMT_JSONL;
    } else if (ends_with(name, n, ".vw")) {
        *fmt = TIDE_FMT_VW;
    } else {
        return tide_err_set(err, TIDE_ERR_ARG,
                            "%s: cannot tell the format from the file name (known: .csv .tsv "
                            ".txt .jsonl .ndjson .json .vw, optionally .gz); pass a format "
                            "(csv, jsonl or vw)", name);
    }
    return TIDE_OK;
}

/* ---- construction ------------------------------------------------------- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Allocates a reader and copies the options; the source is set by callers. */
static int reader_new(const char *name, const tide_reader_opts *opts, tide_reader **out,
                      tide_err *err)
{
    tide_reader_opts def;
    tide_reader *r;
    int rc = TIDE_ERR_NOMEM;

    if (!opts) {
        tide_reader_opts_init(&def);
        opts = &def;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", name);
    r->target_col = SIZE_MAX;
    r->line = 1;
    r->name = dupstr(name);
    if (!r->name)
        goto fail;
    r->fmt = opts->format;
    r->delim = opts->delimiter ? opts->delimiter : ',';
    r->infer_rows = opts->infer_rows ? opts->infer_rows : 1000;
    r->max_line = opts->max_line ? opts->max_line : TIDE_IO_DEFAULT_MAX_LINE;
    if (opts->infer_rows < 0) {
        rc = tide_err_set(err, TIDE_ERR_ARG, "%s: infer_rows must be >= 0, got %d", name,
                          opts->infer_rows);
        goto fail;
    }
    if (r->max_line > TIDE_IO_MAX_MAX_LINE) {
        rc = tide_err_set(err, TIDE_ERR_ARG, "%s: max_line %zu exceeds the ceiling of %zu bytes",
                          name, r->max_line, TIDE_IO_MAX_MAX_LINE);
        goto fail;
    }
    if (opts->delimiter == '"' || opts->delimiter == '\n' || opts->delimiter == '\r') {
        rc = tide_err_set(err, TIDE_ERR_ARG, "%s: the delimiter cannot be a quote or a line break",
                          name);
        goto fail;
    }
    if (r->fmt == TIDE_FMT_AUTO) {
        rc = detect_format(name, &r->fmt, &r->delim, err);
        if (rc)
            goto fail;
        if (opts->delimiter && opts->delimiter != ',')
            r->delim = opts->delimiter;
    }
    if (r->fmt != TIDE_FMT_CSV && r->fmt != TIDE_FMT_JSONL && r->fmt != TIDE_FMT_VW) {
        rc = tide_err_set(err, TIDE_ERR_ARG, "%s: unknown format %d", name, (int)r->fmt);
        goto fail;
    }
    if (opts->target) {
        r->target_name = dupstr(opts->target);
        if (!r->target_name)
            goto nomem;
    }
    if (opts->n_ignore) {
        if (!opts->ignore) {
            rc = tide_err_set(err, TIDE_ERR_ARG, "%s: n_ignore is %zu but ignore is NULL", name,
                              opts->n_ignore);
            goto fail;
        }
        r->ignore = calloc(opts->n_ignore, sizeof *r->ignore);
        if (!r->ignore)
            goto nomem;
        r->n_ignore = opts->n_ignore;
        for (size_t i = 0; i < opts->n_ignore; i++) {
            if (!opts->ignore[i]) {
                rc = tide_err_set(err, TIDE_ERR_ARG, "%s: ignore[%zu] is NULL", name, i);
                goto fail;
            }
            r->ignore[i] = dupstr(opts->ignore[i]);
            if (!r->ignore[i])
                goto nomem;
        }
    }
    *out = r;
    return TIDE_OK;
nomem:
    rc = tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", name);
fail:
    tide_reader_free(r);
    return rc;
}

/* Format-specific set-up once the source is ready (CSV reads its header). */
static int reader_start(tide_reader *r, tide_err *err)
{
    /* A UTF-8 byte-order mark (spreadsheet exports) is not data. */
    while (r->len - r->pos < 3 && !r->eof) {
        int rc = tide_io_fill(r, err);
        if (rc < 0)
            return rc;
    }
    if (r->len - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
        r->pos += 3;
    /* VW has no named target (the label is the first token): opts.target is
     * unused there; JSONL resolves its target key per row. */
    if (r->fmt == TIDE_FMT_CSV)
        return tide_csv_open(r, err);
    return TIDE_OK;
}

int tide_reader_open(const char *path, const tide_reader_opts *opts, tide_reader **out,
                     tide_err *err)
{
    tide_reader *r = NULL;
    int rc, fd = -1;
    struct stat st;

    if (out)
        *out = NULL;
    if (!path || !out)
        return tide_err_set(err, TIDE_ERR_ARG, "tide_reader_open: path and out are required");
    rc = reader_new(path, opts, &r, err);
    if (rc)
        return rc;
    if (!strcmp(path, "-")) {
        fd = dup(STDIN_FILENO);
        if (fd < 0) {
            rc = tide_err_set(err, TIDE_ERR_IO, "-: cannot read standard input: %s",
                              strerror(errno));
            goto fail;
        }
    } else {
        if (stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                rc = tide_err_set(err, TIDE_ERR_IO, "%s: is a directory", path);
                goto fail;
            }
            if (S_ISREG(st.st_mode))
                r->total = (uint64_t)st.st_size;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = tide_err_set(err, TIDE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
    }
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "%s: cannot start zlib reader", path);
        goto fail;
    }
    gzbuffer(r->gz, (unsigned)TIDE_IO_GZBUF);
    /* Start with one chunk, or less when records are capped smaller (tiny
     * max_line values also exercise the refill path in tests and fuzzing). */
    r->cap = TIDE_IO_CHUNK + 1;
    if (r->max_line + 2 < r->cap)
        r->cap = r->max_line + 2;
    r->buf = calloc(1, r->cap + TIDE_IO_SLACK);
    if (!r->buf) {
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    rc = reader_start(r, err);
    if (rc)
        goto fail;
    *out = r;
    return TIDE_OK;
fail:
    tide_reader_free(r);
    return rc;
}

int tide_reader_open_mem(const void *data, size_t len, const char *name,
                         const tide_reader_opts *opts, tide_reader **out, tide_err *err)
{
    tide_reader *r = NULL;
    int rc;

    if (out)
        *out = NULL;
    if (!out || (!data && len))
        return tide_err_set(err, TIDE_ERR_ARG, "tide_reader_open_mem: data and out are required");
    if (!name)
        name = "<memory>";
    if (len > SIZE_MAX - 1 - TIDE_IO_SLACK)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s: input too large", name);
    rc = reader_new(name, opts, &r, err);
    if (rc)
        return rc;
    r->cap = len + 1;
    r->buf = malloc(r->cap + TIDE_IO_SLACK);
    if (!r->buf) {
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory (%zu bytes)", name, len);
        goto fail;
    }
    if (len)
        memcpy(r->buf, data, len);
    memset(r->buf + len, 0, 1 + TIDE_IO_SLACK);   /* the NUL and the slack */
    r->len = len;
    r->eof = 1;
    r->total = len;
    rc = reader_start(r, err);
    if (rc)
        goto fail;
    *out = r;
    return TIDE_OK;
fail:
    tide_reader_free(r);
    return rc;
}

void tide_reader_free(tide_reader *r)
{
    if (!r)
        return;
    tide_csv_free(r);
    tide_jsonl_free(r);
    tide_vw_free(r);
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    free(r->fields);
    if (r->ignore)
        for (size_t i = 0; i < r->n_ignore; i++)
            free(r->ignore[i]);
    free(r->ignore);
    free(r->target_name);
    free(r->name);
    free(r);
}

/* ---- buffer ------------------------------------------------------------- */

int tide_io_fill(tide_reader *r, tide_err *err)
{
    size_t want;
    int n;

    if (r->eof || !r->gz)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len + 1 >= r->cap) {
        size_t limit = r->max_line + 2, ncap;
        char *nb;
        if (r->cap >= limit)
            return tide_err_set(err, TIDE_ERR_LIMIT, "%s:%llu:1: record longer than %zu bytes",
                                r->name, (unsigned long long)r->line, r->max_line);
        ncap = r->cap > limit / 2 ? limit : r->cap * 2;
        nb = realloc(r->buf, ncap + TIDE_IO_SLACK);
        if (!nb)
            return tide_err_set(err, TIDE_ERR_NOMEM, "%s:%llu:1: out of memory growing the "
                                "buffer to %zu bytes", r->name, (unsigned long long)r->line, ncap);
        memset(nb + r->cap, 0, ncap - r->cap + TIDE_IO_SLACK);   /* defined bytes only */
        r->buf = nb;
        r->cap = ncap;
    }
    want = r->cap - 1 - r->len;
    if (want > (size_t)1 << 30)
        want = (size_t)1 << 30;
    n = gzread(r->gz, r->buf + r->len, (unsigned)want);
    if (n < 0) {
        int zerr;
        const char *m = gzerror(r->gz, &zerr);
        r->eof = 1;
        /* Z_ERRNO: the file could not be read; otherwise the compressed
         * data is corrupt: bad input (TIDE_ERR_FORMAT), not a failed read */
        return tide_err_set(err, zerr == Z_ERRNO ? TIDE_ERR_IO : TIDE_ERR_FORMAT,
                            "%s:%llu:1: read error: %s", r->name, (unsigned long long)r->line,
                            zerr == Z_ERRNO ? strerror(errno) : m);
    }
    if (n == 0) {
        int zerr = Z_OK;
        const char *m = gzerror(r->gz, &zerr);
        r->eof = 1;
        if (zerr != Z_OK && zerr != Z_STREAM_END)
            return tide_err_set(err, TIDE_ERR_FORMAT, "%s:%llu:1: read error: %s (truncated or "
                                "corrupt gzip?)", r->name, (unsigned long long)r->line, m);
        return 0;
    }
    r->len += (size_t)n;
    return 1;
}

/* Discards input up to and including the next '\n' (a line that is too long). */
static int skip_line(tide_reader *r, tide_err *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        int rc;
        if (nl) {
            r->pos = (size_t)(nl - r->buf) + 1;
            r->line++;
            return TIDE_OK;
        }
        r->pos = r->len;
        if (r->eof) {
            r->line++;
            return TIDE_OK;
        }
        rc = tide_io_fill(r, err);
        if (rc < 0)
            return rc;
    }
}

int tide_io_next_line(tide_reader *r, char **s, size_t *n, uint64_t *lineno, tide_err *err)
{
    for (;;) {
        char *p = r->buf + r->pos;
        size_t avail = r->len - r->pos, L;
        char *nl = memchr(p, '\n', avail);
        int rc;

        if (nl || (r->eof && avail)) {
            L = nl ? (size_t)(nl - p) : avail;
            *lineno = r->line++;
            r->pos += nl ? L + 1 : L;
            if (L > r->max_line)
                return tide_err_set(err, TIDE_ERR_LIMIT,
                                    "%s:%llu:1: line longer than max_line (%zu > %zu bytes); "
                                    "skipped", r->name, (unsigned long long)*lineno, L,
                                    r->max_line);
            if (L && p[L - 1] == '\r')
                L--;
            p[L] = '\0';
            *s = p;
            *n = L;
            return TIDE_OK;
        }
        if (r->eof)
            return TIDE_EOF;
        if (avail > r->max_line) {
            uint64_t ln = r->line;
            rc = skip_line(r, err);
            if (rc < 0)
                return rc;
            return tide_err_set(err, TIDE_ERR_LIMIT,
                                "%s:%llu:1: line longer than max_line (%zu bytes); skipped",
                                r->name, (unsigned long long)ln, r->max_line);
        }
        rc = tide_io_fill(r, err);
        if (rc < 0)
            return rc;
    }
}

int tide_io_fields_reserve(tide_reader *r, size_t n, tide_err *err)
{
    size_t cap;
    tide_field *f;
    if (n <= r->fields_cap)
        return TIDE_OK;
    if (n > TIDE_IO_MAX_FIELDS)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s: more than %zu fields in a row", r->name,
                            TIDE_IO_MAX_FIELDS);
    cap = r->fields_cap ? r->fields_cap : 64;
    while (cap < n)
        cap *= 2;
    if (cap > TIDE_IO_MAX_FIELDS)
        cap = TIDE_IO_MAX_FIELDS;
    f = realloc(r->fields, cap * sizeof *f);
    if (!f)
        return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory for %zu fields", r->name, cap);
    r->fields = f;
    r->fields_cap = cap;
    return TIDE_OK;
}

int tide_io_ignored(const tide_reader *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->n_ignore; i++)
        if (strlen(r->ignore[i]) == len && memcmp(r->ignore[i], name, len) == 0)
            return 1;
    return 0;
}

/* ---- rows --------------------------------------------------------------- */

int tide_reader_next(tide_reader *r, tide_row *row, tide_err *err)
{
    if (!r || !row)
        return tide_err_set(err, TIDE_ERR_ARG, "tide_reader_next: reader and row are required");
    memset(row, 0, sizeof *row);
    row->weight = 1.0;
    row->fields = r->fields;
    switch (r->fmt) {
    case TIDE_FMT_CSV: return tide_csv_next(r, row, err);
    case TIDE_FMT_JSONL: return tide_jsonl_next(r, row, err);
    case TIDE_FMT_VW: return tide_vw_next(r, row, err);
    default: return tide_err_set(err, TIDE_ERR_STATE, "%s: reader has no format", r->name);
    }
}

int tide_reader_next_hashed(tide_reader *r, tide_row *row, uint32_t mask, struct tide_fvec *v,
                            tide_err *err)
{
    if (!r || !row || !v)
        return tide_err_set(err, TIDE_ERR_ARG,
                            "tide_reader_next_hashed: reader, row and vector are required");
    if (r->fmt != TIDE_FMT_VW)
        return tide_err_set(err, TIDE_ERR_UNSUPPORTED, "%s: hashed reading is for VW input only",
                            r->name);
    memset(row, 0, sizeof *row);
    row->weight = 1.0;
    row->fields = r->fields;
    return tide_vw_next_hashed(r, row, mask, v, err);
}

uint64_t tide_reader_bytes_read(const tide_reader *r)
{
    z_off_t off;
    if (!r)
        return 0;
    if (!r->gz)
        return r->pos;
    off = gzoffset(r->gz);
    return off < 0 ? 0 : (uint64_t)off;
}

uint64_t tide_reader_bytes_total(const tide_reader *r) { return r ? r->total : 0; }

tide_format tide_reader_format(const tide_reader *r) { return r ? r->fmt : TIDE_FMT_AUTO; }

const char *const *tide_reader_columns(const tide_reader *r, size_t *n)
{
    if (!r || r->fmt != TIDE_FMT_CSV) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = r->ncols;
    return (const char *const *)r->cols;
}
