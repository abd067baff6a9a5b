/*
 * tide/common.h — status codes, error reporting, byte buffers and learner
 * parameters shared by every tide module.
 *
 * Conventions (see docs/DESIGN.md):
 *  - Every fallible function returns an int status: TIDE_OK (0), TIDE_EOF (1,
 *    "no more input", not an error) or a negative TIDE_ERR_* code.
 *  - Details go into a caller-owned tide_err (may be NULL): a human sentence
 *    that names the offending input. There is no global error slot.
 *  - Codes are append-only: never renumber, never remove.
 *  - Binary formats are little-endian; tide_wbuf/tide_rbuf do the byte order.
 */
#ifndef TIDE_COMMON_H
#define TIDE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TIDE_VERSION_STRING "0.1.0"

enum {
    TIDE_OK = 0,
    TIDE_EOF = 1,               /* end of input: not an error */
    TIDE_ERR_IO = -1,           /* open/read/write failed (errno in message) */
    TIDE_ERR_PARSE = -2,        /* malformed input data */
    TIDE_ERR_NOMEM = -3,        /* allocation failed */
    TIDE_ERR_ARG = -4,          /* bad argument / parameter */
    TIDE_ERR_FORMAT = -5,       /* model/snapshot file malformed or foreign */
    TIDE_ERR_CHECKSUM = -6,     /* checksum mismatch */
    TIDE_ERR_VERSION = -7,      /* unsupported format version */
    TIDE_ERR_UNSUPPORTED = -8,  /* operation not supported by this object */
    TIDE_ERR_LIMIT = -9,        /* a hard limit was exceeded */
    TIDE_ERR_NOTFOUND = -10,    /* unknown name / id */
    TIDE_ERR_CONFLICT = -11,    /* conflicting write */
    TIDE_ERR_STATE = -12        /* object in the wrong state for this call */
};

/* Symbolic name of a status code ("TIDE_ERR_PARSE"), never NULL. */
const char *tide_strerror(int code);

/* Error details, owned by the caller. */
#define TIDE_ERR_MSG_MAX 512
typedef struct tide_err {
    int code;                      /* last status stored here */
    char msg[TIDE_ERR_MSG_MAX];    /* human sentence, "" when none */
} tide_err;

/* Stores code and a printf-formatted message in err (if not NULL);
 * returns code so callers can write `return tide_err_set(err, ...)`. */
int tide_err_set(tide_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (e.g. a file name). */
void tide_err_prefix(tide_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tide_err_clear(tide_err *err);

/* ---- growable write buffer (little-endian encoders) ------------------- */
typedef struct tide_wbuf {
    uint8_t *data;   /* owned; free with tide_wbuf_free */
    size_t len;
    size_t cap;
    int oom;         /* sticky: set when an allocation failed */
} tide_wbuf;

void tide_wbuf_init(tide_wbuf *b);
void tide_wbuf_free(tide_wbuf *b);
void tide_wbuf_put(tide_wbuf *b, const void *p, size_t n);
void tide_wbuf_u8(tide_wbuf *b, uint8_t v);
void tide_wbuf_u32(tide_wbuf *b, uint32_t v);
void tide_wbuf_u64(tide_wbuf *b, uint64_t v);
void tide_wbuf_f32(tide_wbuf *b, float v);
void tide_wbuf_f64(tide_wbuf *b, double v);
void tide_wbuf_str(tide_wbuf *b, const char *s);   /* u32 length + bytes */
/* Bulk arrays, written element by element in little-endian order. */
void tide_wbuf_f32s(tide_wbuf *b, const float *v, size_t n);
void tide_wbuf_f64s(tide_wbuf *b, const double *v, size_t n);

/* ---- bounds-checked read cursor --------------------------------------- */
typedef struct tide_rbuf {
    const uint8_t *data;  /* borrowed */
    size_t len;
    size_t pos;
    int bad;              /* sticky: set on any out-of-bounds read */
} tide_rbuf;

void tide_rbuf_init(tide_rbuf *r, const void *data, size_t len);
int tide_rbuf_get(tide_rbuf *r, void *p, size_t n);   /* 0 ok, -1 short */
uint8_t tide_rbuf_u8(tide_rbuf *r);
uint32_t tide_rbuf_u32(tide_rbuf *r);
uint64_t tide_rbuf_u64(tide_rbuf *r);
float tide_rbuf_f32(tide_rbuf *r);
double tide_rbuf_f64(tide_rbuf *r);
/* Reads a string written by tide_wbuf_str into a malloc'd NUL-terminated
 * copy (caller frees). Strings longer than maxlen mark the buffer bad. */
char *tide_rbuf_str(tide_rbuf *r, size_t maxlen);
/* Bulk array readers; false/bad if fewer than n elements remain. */
int tide_rbuf_f32s(tide_rbuf *r, float *v, size_t n);
int tide_rbuf_f64s(tide_rbuf *r, double *v, size_t n);
/* True when at least n more bytes remain (use before allocating n items). */
int tide_rbuf_has(const tide_rbuf *r, size_t n);

/* ---- parameters (key=value, typed by a spec table) --------------------- */
typedef enum {
    TIDE_PARAM_DOUBLE,
    TIDE_PARAM_INT,
    TIDE_PARAM_BOOL,
    TIDE_PARAM_ENUM      /* one of the '|'-separated words in choices */
} tide_param_type;

typedef struct tide_param_spec {
    const char *name;       /* e.g. "lr" */
    tide_param_type type;
    const char *def;        /* default, as text */
    const char *choices;    /* ENUM: "sgd|adagrad|ftrl|norm"; numbers: "min..max" or NULL */
    const char *help;       /* one line */
} tide_param_spec;

#define TIDE_PARAMS_MAX 48
typedef struct tide_params {
    const tide_param_spec *spec;  /* borrowed static table */
    size_t n;                     /* entries in spec */
    double num[TIDE_PARAMS_MAX];  /* DOUBLE/INT/BOOL values */
    int choice[TIDE_PARAMS_MAX];  /* ENUM: index into choices */
} tide_params;

/* Fills p with the spec's defaults. */
int tide_params_init(tide_params *p, const tide_param_spec *spec, size_t n, tide_err *err);
/* Applies "k=v"; unknown key, bad number, out-of-range or unknown enum word
 * fails with a message naming the key and the accepted values. */
int tide_params_set(tide_params *p, const char *kv, tide_err *err);
double tide_params_num(const tide_params *p, const char *name);
int tide_params_enum(const tide_params *p, const char *name);
/* Writes "k=v k=v" (all keys, canonical) into out. */
void tide_params_format(const tide_params *p, char *out, size_t outlen);
/* Serialise/deserialise as "k=v" strings (count + strings). */
void tide_params_save(const tide_params *p, tide_wbuf *b);
int tide_params_load(tide_params *p, const tide_param_spec *spec, size_t n,
                     tide_rbuf *r, tide_err *err);

/* xxh64 of a byte range (seed 0): the checksum of every tide file format. */
uint64_t tide_checksum(const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
