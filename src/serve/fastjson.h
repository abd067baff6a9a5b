/*
 * fastjson.h — private to src/serve: the C interface of fastjson.cpp, the
 * simdjson fast path for predict bodies (included by serve_int.h and by the
 * C++ file itself, so it holds nothing but C declarations).
 *
 * The fast path either produces exactly the rows the jansson path
 * (serve_instances_from_doc in req.c) would produce for the same body, or it
 * declines and the caller runs the jansson path, which then gives every
 * answer and error message as before. It never reports a request error of
 * its own.
 */
#ifndef TIDE_SERVE_FASTJSON_H
#define TIDE_SERVE_FASTJSON_H

#include <stddef.h>

#include "tide/serve.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Readable bytes the fast parser needs after the end of a body (simdjson's
 * SIMDJSON_PADDING; checked at compile time in fastjson.cpp). */
#define SERVE_BODY_PADDING 64

/* req.c, used by both parsers: index of name in s, or -1; the same with
 * the entry's flags, trying entry guess first (-1: none); the number of required entries; event ids are 1..127
 * bytes of printable ASCII without spaces (the store's rule). */
enum { SERVE_SF_NUM = 1, SERVE_SF_REQUIRED = 2 };
long serve_schema_find(const tide_schema *s, const char *name, size_t len);
long serve_schema_lookup(const tide_schema *s, const char *name, size_t len, long guess,
                         unsigned *flags);
size_t serve_schema_required(const tide_schema *s);
int serve_id_ok(const char *id, size_t len);
/* The shape of the ids the server generates ("ev-" and 16 lowercase hex
 * digits; server.c gen_id): refused as a caller's id, so a caller cannot
 * take an id before the server hands it out. */
int serve_id_reserved(const char *id, size_t len);

enum {
    SERVE_FAST_OK = 0,        /* *out filled; free with tide_instances_free */
    SERVE_FAST_DECLINE = 1,   /* not handled: use the jansson path (why says where) */
    SERVE_FAST_NOMEM = -1     /* out of memory */
};

/* Parses a predict body {"id"?, "weight"?, "features": {...}} or
 * {"instances": [{...}, ...]} against schema (required: without a schema
 * the fast path declines). body[0, cap) must be readable with
 * cap >= len + SERVE_BODY_PADDING. On SERVE_FAST_OK the rows' names and
 * strings point into body where they hold no escape (body must outlive
 * *out), else to copies owned by *out; ids are copies (NUL-terminated),
 * and out->fspan_ gives each instance's
 * "features" text as an offset and length in body. why (may be NULL)
 * receives a short note naming the input that made it decline. */
int serve_fast_instances(const char *body, size_t len, size_t cap, const tide_schema *schema,
                         tide_instances *out, char *why, size_t why_n);

/* Before tide_instances_free on the thread that parsed in: gives the
 * arrays of a SERVE_FAST_OK result back to the thread for its next call
 * (no-op for anything else). in stays valid to free, but its rows are gone. */
void serve_fast_recycle(tide_instances *in);

/* v as printf's "%.17g" would write it (an exact round trip) into buf
 * (SERVE_FMT_G17_MAX bytes, no NUL added); returns the length. */
#define SERVE_FMT_G17_MAX 32
size_t serve_fmt_g17(char *buf, double v);

#ifdef __cplusplus
}
#endif
#endif
