/*
 * tide/io.h — streaming readers: CSV, JSON Lines and Vowpal Wabbit text
 * format, plain or gzip-compressed, turned into rows of named values.
 *
 * A reader never loads the whole file: it reads through zlib's gzread (which
 * passes uncompressed files through unchanged) into a bounded buffer, and
 * hands out one row at a time. The strings in a row point into the reader's
 * own buffers and stay valid only until the next tide_reader_next() call.
 *
 * Errors name the place: "FILE:LINE:COL: reason". Line and column are 1-based.
 * Not thread-safe: one reader per thread.
 */
#ifndef TIDE_IO_H
#define TIDE_IO_H

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TIDE_FMT_AUTO = 0,   /* from the file extension (.csv, .jsonl/.json/.ndjson, .vw; .gz stripped) */
    TIDE_FMT_CSV,
    TIDE_FMT_JSONL,
    TIDE_FMT_VW
} tide_format;

typedef enum {
    TIDE_VAL_NUM = 0,    /* numeric value in num */
    TIDE_VAL_CAT,        /* categorical value: text in str/str_len */
    TIDE_VAL_MISSING     /* present column, empty cell: the feature is absent */
} tide_val_kind;

/* One named value. Pointers are borrowed (see file comment). */
typedef struct tide_field {
    const char *ns;        /* namespace name ("" = default); CSV/JSONL: "" */
    size_t ns_len;
    const char *name;      /* feature name (column header, JSON key, VW name) */
    size_t name_len;
    const char *str;       /* TIDE_VAL_CAT: category text */
    size_t str_len;
    double num;            /* TIDE_VAL_NUM: value */
    tide_val_kind kind;
    int col;               /* CSV: 0-based column index (stable across rows,
                              lets featurizers cache name hashes); else -1 */
} tide_field;

/* One example. */
typedef struct tide_row {
    tide_field *fields;    /* borrowed, n_fields entries (target excluded) */
    size_t n_fields;
    int has_target;        /* 0: unlabelled row (VW without label, empty target cell) */
    const char *target;    /* target text as written (borrowed), NUL-terminated */
    size_t target_len;
    double target_num;     /* numeric target if target_is_num */
    int target_is_num;
    double weight;         /* importance weight, default 1 (VW: [weight]) */
    const char *tag;       /* VW tag / JSONL "id" field if present, else NULL */
    size_t tag_len;
    uint64_t line;         /* 1-based physical line of the row in the input */
    const char *source;    /* the input's name (path, or "-"), set by the readers, for
                            * messages; NULL for rows built elsewhere (serve requests) */
} tide_row;

typedef struct tide_reader_opts {
    tide_format format;       /* TIDE_FMT_AUTO by default */
    const char *target;       /* target column/key; NULL = last CSV column,
                                 "target" for JSONL (or "label"/"y" if present) */
    const char **ignore;      /* names of columns/keys to drop (VW: features
                                 whose name or namespace is listed) */
    size_t n_ignore;
    char delimiter;           /* CSV: 0 = ',' */
    int infer_rows;           /* CSV: rows used to infer column types (default 1000) */
    size_t max_line;          /* hard limit on a line/record, default 16 MiB */
} tide_reader_opts;

void tide_reader_opts_init(tide_reader_opts *o);

typedef struct tide_reader tide_reader;

/* CONSTRUCTOR. path "-" reads standard input. On error *out is NULL. */
int tide_reader_open(const char *path, const tide_reader_opts *opts,
                     tide_reader **out, tide_err *err);
/* CONSTRUCTOR from memory (fuzzers, tests). The data is copied. name is used
 * in error messages. */
int tide_reader_open_mem(const void *data, size_t len, const char *name,
                         const tide_reader_opts *opts, tide_reader **out,
                         tide_err *err);
/* DESTRUCTOR; NULL is a no-op. */
void tide_reader_free(tide_reader *r);

/* Next row: TIDE_OK (row filled), TIDE_EOF, or an error (TIDE_ERR_PARSE
 * with "FILE:LINE:COL: reason"). After a parse error the reader has skipped
 * the bad record and the next call continues with the following one.
 * Corrupt or truncated gzip data is TIDE_ERR_FORMAT (bad input that cannot
 * be skipped: the stream ends there); a failed read is TIDE_ERR_IO. */
int tide_reader_next(tide_reader *r, tide_row *row, tide_err *err);

/* VW only: the fused path behind tide_featurize_next (tide/feat.h), which is
 * how to use it. Reads the next row like tide_reader_next, but hashes each
 * feature as it is parsed, with the featurizer's hash of tide/feat.h (no
 * quadratic pairs), straight into v (bucket = hash & mask, value as a
 * float); row->fields is left empty. For a row with a target, a value that
 * overflows a float is then TIDE_ERR_PARSE with tide_featurize's message;
 * other errors are tide_reader_next's. TIDE_ERR_UNSUPPORTED for other
 * formats. */
struct tide_fvec;
int tide_reader_next_hashed(tide_reader *r, tide_row *row, uint32_t mask, struct tide_fvec *v,
                            tide_err *err);

/* Bytes consumed from the underlying file so far (compressed bytes for
 * gzip) and the file's size (0 if unknown, e.g. stdin): for progress/ETA. */
uint64_t tide_reader_bytes_read(const tide_reader *r);
uint64_t tide_reader_bytes_total(const tide_reader *r);
tide_format tide_reader_format(const tide_reader *r);
/* CSV: header names (NULL for other formats). Valid for the reader's life. */
const char *const *tide_reader_columns(const tide_reader *r, size_t *n);

/* Parses s[0, len) (not necessarily NUL-terminated) as a finite decimal
 * number [+-]digits[.digits][(e|E)[+-]digits] into *out (may be NULL). The
 * result is bit-identical to strtod's (Clinger's fast path, strtod for the
 * rest). Returns TIDE_OK, or TIDE_ERR_PARSE when the whole span is not such a
 * number or its value is not finite. No leading/trailing spaces, hex, inf
 * or nan. */
int tide_parse_double(const char *s, size_t len, double *out);

#ifdef __cplusplus
}
#endif
#endif
