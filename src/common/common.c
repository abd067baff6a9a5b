/*
 * common.c — status names, error buffers, little-endian byte buffers,
 * typed key=value parameters and the xxh64 checksum (tide/common.h).
 */
#include "tide/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

const char *tide_strerror(int code)
{
    switch (code) {
    case TIDE_OK: return "TIDE_OK";
    case TIDE_EOF: return "TIDE_EOF";
    case TIDE_ERR_IO: return "TIDE_ERR_IO";
    case TIDE_ERR_PARSE: return "TIDE_ERR_PARSE";
    case TIDE_ERR_NOMEM: return "TIDE_ERR_NOMEM";
    case TIDE_ERR_ARG: return "TIDE_ERR_ARG";
    case TIDE_ERR_FORMAT: return "TIDE_ERR_FORMAT";
    case TIDE_ERR_CHECKSUM: return "TIDE_ERR_CHECKSUM";
    case TIDE_ERR_VERSION: return "TIDE_ERR_VERSION";
    case TIDE_ERR_UNSUPPORTED: return "TIDE_ERR_UNSUPPORTED";
    case TIDE_ERR_LIMIT: return "TIDE_ERR_LIMIT";
    case TIDE_ERR_NOTFOUND: return "TIDE_ERR_NOTFOUND";
    case TIDE_ERR_CONFLICT: return "TIDE_ERR_CONFLICT";
    case TIDE_ERR_STATE: return "TIDE_ERR_STATE";
    default: return "TIDE_ERR_UNKNOWN";
    }
}

int tide_err_set(tide_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void tide_err_prefix(tide_err *err, const char *fmt, ...)
{
    char pre[TIDE_ERR_MSG_MAX], old[TIDE_ERR_MSG_MAX];
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", pre, old);
}

void tide_err_clear(tide_err *err)
{
    if (err) {
        err->code = TIDE_OK;
        err->msg[0] = '\0';
    }
}

/* ---- write buffer ------------------------------------------------------ */

void tide_wbuf_init(tide_wbuf *b) { memset(b, 0, sizeof *b); }

void tide_wbuf_free(tide_wbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int wbuf_reserve(tide_wbuf *b, size_t n)
{
    size_t need, cap;
    uint8_t *p;
    if (b->oom)
        return -1;
    if (n > SIZE_MAX - b->len) {
        b->oom = 1;
        return -1;
    }
    need = b->len + n;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void tide_wbuf_put(tide_wbuf *b, const void *p, size_t n)
{
    if (n == 0 || wbuf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void tide_wbuf_u8(tide_wbuf *b, uint8_t v) { tide_wbuf_put(b, &v, 1); }

void tide_wbuf_u32(tide_wbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    tide_wbuf_put(b, x, 4);
}

void tide_wbuf_u64(tide_wbuf *b, uint64_t v)
{
    tide_wbuf_u32(b, (uint32_t)v);
    tide_wbuf_u32(b, (uint32_t)(v >> 32));
}

void tide_wbuf_f32(tide_wbuf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    tide_wbuf_u32(b, u);
}

void tide_wbuf_f64(tide_wbuf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    tide_wbuf_u64(b, u);
}

void tide_wbuf_str(tide_wbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {   /* cannot be represented: poison the buffer */
        b->oom = 1;
        return;
    }
    tide_wbuf_u32(b, (uint32_t)n);
    tide_wbuf_put(b, s, n);
}

void tide_wbuf_f32s(tide_wbuf *b, const float *v, size_t n)
{
    if (n == 0 || n > SIZE_MAX / 4 || wbuf_reserve(b, n * 4))
        return;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(b->data + b->len, v, n * 4);
    b->len += n * 4;
#else
    for (size_t i = 0; i < n; i++)
        tide_wbuf_f32(b, v[i]);
#endif
}

void tide_wbuf_f64s(tide_wbuf *b, const double *v, size_t n)
{
    if (n == 0 || n > SIZE_MAX / 8 || wbuf_reserve(b, n * 8))
        return;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(b->data + b->len, v, n * 8);
    b->len += n * 8;
#else
    for (size_t i = 0; i < n; i++)
        tide_wbuf_f64(b, v[i]);
#endif
}

/* ---- read cursor ------------------------------------------------------- */

void tide_rbuf_init(tide_rbuf *r, const void *data, size_t len)
{
    r->data = data;
    r->len = len;
    r->pos = 0;
    r->bad = 0;
}

int tide_rbuf_has(const tide_rbuf *r, size_t n)
{
    return !r->bad && n <= r->len - r->pos;
}

int tide_rbuf_get(tide_rbuf *r, void *p, size_t n)
{
    if (!tide_rbuf_has(r, n)) {
        r->bad = 1;
        if (n)
            memset(p, 0, n);
        return -1;
    }
    if (n)
        memcpy(p, r->data + r->pos, n);
    r->pos += n;
    return 0;
}

uint8_t tide_rbuf_u8(tide_rbuf *r)
{
    uint8_t v;
    tide_rbuf_get(r, &v, 1);
    return v;
}

uint32_t tide_rbuf_u32(tide_rbuf *r)
{
    uint8_t x[4];
    tide_rbuf_get(r, x, 4);
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

uint64_t tide_rbuf_u64(tide_rbuf *r)
{
    uint64_t lo = tide_rbuf_u32(r);
    uint64_t hi = tide_rbuf_u32(r);
    return lo | hi << 32;
}

float tide_rbuf_f32(tide_rbuf *r)
{
    uint32_t u = tide_rbuf_u32(r);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

double tide_rbuf_f64(tide_rbuf *r)
{
    uint64_t u = tide_rbuf_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

char *tide_rbuf_str(tide_rbuf *r, size_t maxlen)
{
    uint32_t n = tide_rbuf_u32(r);
    char *s;
    if (r->bad || n > maxlen || !tide_rbuf_has(r, n)) {
        r->bad = 1;
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    tide_rbuf_get(r, s, n);
    s[n] = '\0';
    return s;
}

int tide_rbuf_f32s(tide_rbuf *r, float *v, size_t n)
{
    if (n == 0)
        return !r->bad;
    if (n > SIZE_MAX / 4 || !tide_rbuf_has(r, n * 4)) {
        r->bad = 1;
        return 0;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, r->data + r->pos, n * 4);
    r->pos += n * 4;
#else
    for (size_t i = 0; i < n; i++)
        v[i] = tide_rbuf_f32(r);
#endif
    return 1;
}

int tide_rbuf_f64s(tide_rbuf *r, double *v, size_t n)
{
    if (n == 0)
        return !r->bad;
    if (n > SIZE_MAX / 8 || !tide_rbuf_has(r, n * 8)) {
        r->bad = 1;
        return 0;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(v, r->data + r->pos, n * 8);
    r->pos += n * 8;
#else
    for (size_t i = 0; i < n; i++)
        v[i] = tide_rbuf_f64(r);
#endif
    return 1;
}

/* ---- parameters -------------------------------------------------------- */

static int spec_index(const tide_params *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->spec[i].name) == len && !strncmp(p->spec[i].name, name, len))
            return (int)i;
    return -1;
}

/* Index of word in a '|'-separated list, or -1. */
static int choice_index(const char *choices, const char *w)
{
    int i = 0;
    size_t wl = strlen(w);
    const char *s = choices ? choices : "";
    while (s && *s) {
        const char *e = strchr(s, '|');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == wl && !strncmp(s, w, l))
            return i;
        i++;
        s = e ? e + 1 : NULL;
    }
    return -1;
}

static int choice_word(const char *choices, int idx, char *out, size_t outlen)
{
    const char *s = choices;
    for (int i = 0; s && *s; i++) {
        const char *e = strchr(s, '|');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (i == idx) {
            snprintf(out, outlen, "%.*s", (int)l, s);
            return 0;
        }
        s = e ? e + 1 : NULL;
    }
    snprintf(out, outlen, "?");
    return -1;
}

static int set_value(tide_params *p, int i, const char *v, tide_err *err)
{
    const tide_param_spec *s = &p->spec[i];
    char *end;
    double x;
    switch (s->type) {
    case TIDE_PARAM_ENUM: {
        int c = choice_index(s->choices, v);
        if (c < 0)
            return tide_err_set(err, TIDE_ERR_ARG, "parameter '%s': '%s' is not one of %s",
                                s->name, v, s->choices ? s->choices : "(none)");
        p->choice[i] = c;
        return TIDE_OK;
    }
    case TIDE_PARAM_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
            p->num[i] = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
            p->num[i] = 0;
        else
            return tide_err_set(err, TIDE_ERR_ARG,
                                "parameter '%s': '%s' is not a boolean (true|false)", s->name, v);
        return TIDE_OK;
    case TIDE_PARAM_DOUBLE:
    case TIDE_PARAM_INT:
        errno = 0;
        x = strtod(v, &end);
        if (end == v || *end || errno == ERANGE || !isfinite(x))
            return tide_err_set(err, TIDE_ERR_ARG, "parameter '%s': '%s' is not a finite number",
                                s->name, v);
        if (s->type == TIDE_PARAM_INT && (x != floor(x) || fabs(x) > 1e15))
            return tide_err_set(err, TIDE_ERR_ARG, "parameter '%s': '%s' is not an integer",
                                s->name, v);
        if (s->choices) {
            const char *dots = strstr(s->choices, "..");
            double lo = dots ? strtod(s->choices, NULL) : -INFINITY;
            double hi = dots ? strtod(dots + 2, NULL) : INFINITY;
            if (x < lo || x > hi)
                return tide_err_set(err, TIDE_ERR_ARG,
                                    "parameter '%s': %s is outside its range %s", s->name, v,
                                    s->choices);
        }
        p->num[i] = x;
        return TIDE_OK;
    }
    return tide_err_set(err, TIDE_ERR_ARG, "parameter '%s': bad type", s->name);
}

int tide_params_init(tide_params *p, const tide_param_spec *spec, size_t n, tide_err *err)
{
    memset(p, 0, sizeof *p);
    if (n > TIDE_PARAMS_MAX)
        return tide_err_set(err, TIDE_ERR_LIMIT, "too many parameters (%zu)", n);
    p->spec = spec;
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        int rc = set_value(p, (int)i, spec[i].def, err);
        if (rc)
            return rc;
    }
    return TIDE_OK;
}

int tide_params_set(tide_params *p, const char *kv, tide_err *err)
{
    const char *eq = strchr(kv, '=');
    int i;
    if (!eq || eq == kv)
        return tide_err_set(err, TIDE_ERR_ARG, "parameter '%s' is not of the form key=value", kv);
    i = spec_index(p, kv, (size_t)(eq - kv));
    if (i < 0) {
        char names[400] = "";
        size_t o = 0;
        for (size_t j = 0; j < p->n && o < sizeof names - 1; j++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", j ? ", " : "",
                                  p->spec[j].name);
        return tide_err_set(err, TIDE_ERR_ARG, "unknown parameter '%.*s' (known: %s)",
                            (int)(eq - kv), kv, p->n ? names : "none");
    }
    return set_value(p, i, eq + 1, err);
}

double tide_params_num(const tide_params *p, const char *name)
{
    int i = spec_index(p, name, strlen(name));
    return i < 0 ? NAN : p->num[i];
}

int tide_params_enum(const tide_params *p, const char *name)
{
    int i = spec_index(p, name, strlen(name));
    return i < 0 ? -1 : p->choice[i];
}

/* A formatted "k=v" never exceeds PARAM_KV_MAX: names and enum words are
 * short static strings, numbers take at most 24 characters with %.17g. */
#define PARAM_KV_MAX 256
static void format_one(const tide_params *p, size_t i, char *out, size_t outlen)
{
    const tide_param_spec *s = &p->spec[i];
    switch (s->type) {
    case TIDE_PARAM_ENUM: {
        char w[64];
        choice_word(s->choices, p->choice[i], w, sizeof w);
        snprintf(out, outlen, "%s=%s", s->name, w);
        break;
    }
    case TIDE_PARAM_BOOL:
        snprintf(out, outlen, "%s=%s", s->name, p->num[i] != 0 ? "true" : "false");
        break;
    case TIDE_PARAM_INT:
        snprintf(out, outlen, "%s=%.0f", s->name, p->num[i]);
        break;
    default:
        snprintf(out, outlen, "%s=%.17g", s->name, p->num[i]);
        break;
    }
}

void tide_params_format(const tide_params *p, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen)
        out[0] = '\0';
    for (size_t i = 0; i < p->n && o + 1 < outlen; i++) {
        char one[PARAM_KV_MAX];
        format_one(p, i, one, sizeof one);
        o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? " " : "", one);
    }
}

void tide_params_save(const tide_params *p, tide_wbuf *b)
{
    tide_wbuf_u32(b, (uint32_t)p->n);
    for (size_t i = 0; i < p->n; i++) {
        char one[PARAM_KV_MAX];
        format_one(p, i, one, sizeof one);
        tide_wbuf_str(b, one);
    }
}

int tide_params_load(tide_params *p, const tide_param_spec *spec, size_t n, tide_rbuf *r,
                     tide_err *err)
{
    uint32_t k;
    int rc = tide_params_init(p, spec, n, err);
    if (rc)
        return rc;
    k = tide_rbuf_u32(r);
    if (r->bad || k > TIDE_PARAMS_MAX)
        return tide_err_set(err, TIDE_ERR_FORMAT, "parameter block is truncated or corrupt");
    for (uint32_t i = 0; i < k; i++) {
        char *kv = tide_rbuf_str(r, 256);
        if (!kv)
            return tide_err_set(err, TIDE_ERR_FORMAT, "parameter block is truncated or corrupt");
        rc = tide_params_set(p, kv, err);
        free(kv);
        if (rc)
            return rc;
    }
    return TIDE_OK;
}

uint64_t tide_checksum(const void *data, size_t len)
{
    return (uint64_t)XXH64(data, len, 0);
}
