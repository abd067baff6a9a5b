/*
 * io_priv.h — private to src/io: the reader struct shared by the CSV, JSON
 * Lines and Vowpal Wabbit parsers, the bounded input buffer, and the inline
 * fast decimal-number parser.
 *
 * Buffer model: buf[pos, len) holds bytes read (through zlib's gzread, which
 * passes plain files through) but not yet consumed. A parser finds a record
 * with memchr, parses it in place (writing NULs and unescaping inside the
 * buffer) and advances pos. Only when a record is incomplete does
 * tide_io_fill() move the tail to the front and read more, so pointers handed
 * out in a row stay valid until the next tide_reader_next() call. buf always
 * has one spare byte past len so the last record can be NUL-terminated.
 *
 * Number parsing follows W. D. Clinger, "How to Read Floating Point Numbers
 * Accurately", PLDI 1990: when the decimal mantissa fits in 53 bits and the
 * power of ten is at most 22, both are exact doubles and one IEEE multiply or
 * divide gives the correctly rounded result. Everything else goes to strtod,
 * so results are bit-identical to strtod.
 */
#ifndef TIDE_IO_PRIV_H
#define TIDE_IO_PRIV_H

#include <stdint.h>
#include <stddef.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "tide/io.h"

#define TIDE_IO_DEFAULT_MAX_LINE ((size_t)16 << 20)
#define TIDE_IO_MAX_MAX_LINE ((size_t)1 << 30)    /* opts.max_line ceiling */
#define TIDE_IO_GZBUF ((size_t)256 << 10)          /* zlib's own buffer (gzbuffer) */
/* Initial reader buffer. zlib copies through its own buffer unless a read
 * asks for at least twice its size, so this is kept >= 4x TIDE_IO_GZBUF:
 * plain files are then read straight into our buffer. */
#define TIDE_IO_CHUNK ((size_t)1 << 20)
#define TIDE_IO_MAX_FIELDS ((size_t)1000000)       /* per row */
/* Zeroed bytes allocated past buf's cap: a line's NUL terminator is always
 * followed by at least this many readable bytes, so the VW fused path can
 * load whole 64-byte blocks and 8-byte words at any position in a line. */
#define TIDE_IO_SLACK ((size_t)64)
#define TIDE_IO_MAX_COLS ((size_t)100000)          /* CSV columns */
#define TIDE_IO_INFER_BYTES ((size_t)64 << 20)     /* CSV inference buffer cap */

/* CSV column roles. */
enum { CSV_NUM = 0, CSV_CAT, CSV_TARGET, CSV_IGNORED };

/* One CSV cell located in the buffer (or in the inference store). */
typedef struct csv_cell {
    char *s;             /* unescaped text, NUL-terminated */
    size_t len;
    uint32_t line_off;   /* physical lines after the record's first line */
    uint32_t col;        /* 1-based byte column on that line */
} csv_cell;

/* A record buffered during type inference: either cells or an error. */
typedef struct csv_held {
    int code;            /* TIDE_OK or the error to report */
    char *msg;           /* error message (owned) when code != TIDE_OK */
    uint64_t line;
    size_t cell0;        /* first cell in held_cells */
    size_t ncells;
} csv_held;

typedef struct csv_held_cell {
    size_t off, len;     /* text in held_text */
    uint32_t line_off, col;
} csv_held_cell;

struct tide_reader {
    char *name;                /* file name used in messages (owned) */
    tide_format fmt;
    char delim;
    size_t max_line;
    int infer_rows;
    char *target_name;         /* owned copy of opts.target or NULL */
    char **ignore;             /* owned copies of opts.ignore */
    size_t n_ignore;

    gzFile gz;                 /* NULL when reading from memory */
    uint64_t total;            /* file size, 0 if unknown */
    char *buf;                 /* input buffer, cap bytes (one spare) + TIDE_IO_SLACK */
    size_t cap, pos, len;
    int eof;                   /* no more bytes will be appended to buf */
    uint64_t line;             /* physical line number of buf[pos] */

    tide_field *fields;        /* row fields, reused */
    size_t fields_cap;

    /* CSV */
    char **cols;               /* header names (owned) */
    size_t *col_len;           /* strlen of each header name */
    size_t ncols;
    unsigned char *role;       /* CSV_NUM/CAT/TARGET/IGNORED per column */
    size_t target_col;         /* SIZE_MAX when none */
    csv_cell *cells;           /* cells of the current record, reused */
    size_t cells_cap;
    csv_held *held;            /* records buffered during inference */
    size_t n_held, held_cap, held_next;
    csv_held_cell *held_cells;
    size_t n_held_cells, held_cells_cap;
    char *held_text;
    size_t held_text_len, held_text_cap;
    size_t held_bytes;         /* all memory held for inference (bounded) */

    /* VW fused path (vw.c): memo of short-name hashes, made on first use */
    struct tide_vw_memo *vw_memo;
    int vw_nolane;             /* 1: the lane is not available (CPU, memory) */

    /* JSONL */
    void *json;                /* json_t of the current row (jansson) */
    char tbuf[64];             /* target text for non-string targets */
    char tagbuf[32];           /* integer id as text */
};

/* ---- buffer (reader.c) ---------------------------------------------- */

/* Makes room and reads more input: moves buf[pos, len) to the front, grows
 * the buffer when it is full (bounded by max_line) and reads. Returns 1 when
 * bytes were added, 0 at end of input, or a negative error. */
int tide_io_fill(tide_reader *r, tide_err *err);

/* Next physical line, without '\n' and a trailing '\r', NUL-terminated in
 * place. *lineno gets its 1-based line number. Lines longer than max_line
 * are skipped and reported as TIDE_ERR_LIMIT. */
int tide_io_next_line(tide_reader *r, char **s, size_t *n, uint64_t *lineno,
                      tide_err *err);

/* Grows r->fields to hold at least n entries (n <= TIDE_IO_MAX_FIELDS). */
int tide_io_fields_reserve(tide_reader *r, size_t n, tide_err *err);

/* 1 if name[0, len) is one of the ignored names. */
int tide_io_ignored(const tide_reader *r, const char *name, size_t len);

/* strtod on a bounded, not NUL-terminated span (slow path). */
double tide_io_strtod(const char *s, size_t n);

/* ---- formats ---------------------------------------------------------- */
int tide_csv_open(tide_reader *r, tide_err *err);
int tide_csv_next(tide_reader *r, tide_row *row, tide_err *err);
void tide_csv_free(tide_reader *r);
int tide_jsonl_next(tide_reader *r, tide_row *row, tide_err *err);
void tide_jsonl_free(tide_reader *r);
int tide_vw_next(tide_reader *r, tide_row *row, tide_err *err);
/* Tests: mode 0 makes readers opened from now on convert the fast lane's
 * numbers one at a time, -1 restores the default (eight and four at a time where the
 * CPU has AVX-512). Returns 1 when the four-at-a-time path will run. */
int tide_vw_force_wide(int mode);
/* Tests: the lane's vector conversion of eight (eight = 1) or four numbers
 * [a[j], b[j]) into out (each followed by 16 readable bytes): 2 when the
 * vector path gave every value, 1 when the group went to the scalar code, 0
 * when a number is not one the lane takes, -1 without AVX-512. */
int tide_vw_num_group_test(const char *const *a, const char *const *b, int eight, float *out);
/* The fused path of tide_reader_next_hashed (vw.c). */
int tide_vw_next_hashed(tide_reader *r, tide_row *row, uint32_t mask, struct tide_fvec *v,
                        tide_err *err);
void tide_vw_free(tide_reader *r);

/* ---- fast number parser ----------------------------------------------- */

static const double tide_io_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parses the longest prefix of [s, e) that matches the decimal grammar
 * [+-]digits[.digits][(e|E)[+-]digits] (at least one digit in the mantissa)
 * into *out. Returns the end of the number, or NULL when there is none or
 * its value is not finite. The value is bit-identical to strtod's. */
static inline const char *tide_io_num(const char *s, const char *e, double *out)
{
    const char *p = s;
    uint64_t m = 0;
    int nd = 0, neg = 0, dropped = 0;
    int64_t exp10 = 0;
    size_t ndig = 0;
    double v;

    if (p < e && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    while (p < e && (unsigned)(*p - '0') < 10u) {
        if (nd < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            nd += m != 0;
        } else {
            dropped = 1;
            exp10++;
        }
        p++;
        ndig++;
    }
    if (p < e && *p == '.') {
        p++;
        while (p < e && (unsigned)(*p - '0') < 10u) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd += m != 0;
                exp10--;
            } else {
                dropped = 1;
            }
            p++;
            ndig++;
        }
    }
    if (ndig == 0)
        return NULL;
    if (p < e && (*p | 0x20) == 'e') {
        const char *q = p + 1;
        int eneg = 0;
        int64_t x = 0;
        if (q < e && (*q == '-' || *q == '+')) {
            eneg = *q == '-';
            q++;
        }
        if (q < e && (unsigned)(*q - '0') < 10u) {
            while (q < e && (unsigned)(*q - '0') < 10u) {
                if (x < 1000000)
                    x = x * 10 + (*q - '0');
                q++;
            }
            exp10 += eneg ? -x : x;
            p = q;
        }
    }
    if (!dropped && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        v = (double)m;
        v = exp10 < 0 ? v / tide_io_pow10[-exp10] : v * tide_io_pow10[exp10];
        *out = neg ? -v : v;
        return p;
    }
    if (m == 0 && !dropped) {
        *out = neg ? -0.0 : 0.0;
        return p;
    }
    v = tide_io_strtod(s, (size_t)(p - s));
    if (!isfinite(v))
        return NULL;
    *out = v;
    return p;
}

/* Number of leading ASCII digits in the 8 bytes of w (first byte lowest),
 * branch-free: a byte is a non-digit exactly when b + 0x46 (b >= 0x3A) or
 * b - 0x30 (b < 0x30, or b >= 0xB0) sets its top bit. A carry or borrow
 * between bytes only starts at a non-digit byte and only disturbs the bytes
 * above it, so the lowest flagged byte is exact. */
static inline unsigned tide_io_swar_ndigits(uint64_t w)
{
    uint64_t bad = ((w + 0x4646464646464646ULL) | (w - 0x3030303030303030ULL)) &
                   0x8080808080808080ULL;
    return bad ? (unsigned)__builtin_ctzll(bad) >> 3 : 8u;
}

/* Value of the first n (1..8) digits in w. The digits are moved to the top
 * bytes (as if left-padded with zeros), then combined pairwise: 10*a+b in
 * 16-bit lanes, then the four pairs with one multiply each for two lanes
 * (technique described by D. Lemire, "Quickly parsing eight digits", 2018). */
static inline uint64_t tide_io_swar_value(uint64_t w, unsigned n)
{
    uint64_t x = (w - 0x3030303030303030ULL) << ((8 - n) * 8);
    x = x * 10 + (x >> 8);
    return (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
            (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
}

/* tide_io_num for the common case, faster: [-]digits[.digits] with at most
 * 15 digits in all (mantissa < 2^53, power of ten <= 15: Clinger's exact
 * case), with the fraction's digits read eight at a time. Preconditions: *e
 * is readable and is not a digit, '.', 'e' or 'E' (the readers' buffers put
 * a NUL or a separator there), so the digit loops need no bounds checks; and
 * [s, lim) with lim >= e is initialised memory (eight-byte loads stay in it;
 * bytes after e never change the result as *e stops the digits).
 * Anything else is handed to tide_io_num. Same result and end as
 * tide_io_num(s, e, out). */
static inline const char *tide_io_num_nul(const char *s, const char *e, const char *lim,
                                          double *out)
{
    static const uint64_t P10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                    100000000};
    const char *p = s, *d0;
    uint64_t m = 0, bits;
    size_t ni, nfr = 0;
    double v;
    p += *p == '-';
    d0 = p;
    while ((unsigned)(*p - '0') < 10u)
        m = m * 10 + (uint64_t)(*p++ - '0');
    ni = (size_t)(p - d0);
    if (*p == '.') {
        const char *f0 = ++p;
        if (lim - p >= 8) {
            uint64_t w;
            unsigned k;
            memcpy(&w, p, 8);
            k = tide_io_swar_ndigits(w);
            if (k) {
                m = m * P10[k] + tide_io_swar_value(w, k);
                p += k;
            }
        }
        while ((unsigned)(*p - '0') < 10u)
            m = m * 10 + (uint64_t)(*p++ - '0');
        nfr = (size_t)(p - f0);
    }
    if (ni + nfr - 1 > 14 || (*p | 0x20) == 'e')
        return tide_io_num(s, e, out);
    v = (double)m / tide_io_pow10[nfr];
    /* negate by flipping the sign bit: a data-dependent branch here would
     * mispredict on half of all values */
    memcpy(&bits, &v, sizeof bits);
    bits ^= (uint64_t)(*s == '-') << 63;
    memcpy(out, &bits, sizeof bits);
    return p;
}

#endif
