/*
 * labels.c — the label dictionary: target text <-> class index.
 * Binary tasks recognise the usual spellings of the two classes (numbers
 * > 0, "true", "yes", "pos" are class 1); other strings are numbered by
 * first appearance. Names are kept so predictions can be printed as the
 * user wrote them.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tide/learn.h"

struct tide_labels {
    tide_task task;
    char **names;   /* names[i]: text of class i (NULL for an unnamed binary slot) */
    int n;          /* classes */
    /* the last LABEL_CACHE spellings resolved and their classes: streams
     * repeat a handful of spellings, so this saves a strtod or a scan per
     * row (len 0 = empty slot) */
    struct {
        char s[32];
        size_t len;
        int idx;
    } cache[4];
    unsigned next;  /* slot to replace next */
};

int tide_labels_new(tide_task task, tide_labels **out)
{
    tide_labels *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return TIDE_ERR_NOMEM;
    d->task = task;
    d->names = calloc(TIDE_MAX_CLASSES, sizeof *d->names);
    if (!d->names) {
        free(d);
        return TIDE_ERR_NOMEM;
    }
    *out = d;
    return TIDE_OK;
}

void tide_labels_free(tide_labels *d)
{
    if (!d)
        return;
    for (int i = 0; i < TIDE_MAX_CLASSES; i++)
        free(d->names[i]);
    free(d->names);
    free(d);
}

/* 1 / 0 for recognised binary spellings, -1 otherwise. */
static int binary_class(const char *s, size_t len)
{
    char buf[32], *end;
    double v;
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    v = strtod(buf, &end);
    if (end != buf && *end == '\0')
        return v > 0 ? 1 : 0;
    if (!strcasecmp(buf, "true") || !strcasecmp(buf, "yes") || !strcasecmp(buf, "pos") ||
        !strcasecmp(buf, "positive"))
        return 1;
    if (!strcasecmp(buf, "false") || !strcasecmp(buf, "no") || !strcasecmp(buf, "neg") ||
        !strcasecmp(buf, "negative"))
        return 0;
    return -1;
}

int tide_labels_lookup(const tide_labels *d, const char *s, size_t len, int *idx)
{
    if (d->task == TIDE_TASK_BINARY) {
        int b = binary_class(s, len);
        if (b >= 0) {
            *idx = b;
            return TIDE_OK;
        }
    }
    for (int i = 0; i < d->n; i++)
        if (d->names[i] && strlen(d->names[i]) == len && !memcmp(d->names[i], s, len)) {
            *idx = i;
            return TIDE_OK;
        }
    return TIDE_ERR_NOTFOUND;
}

static int labels_index_slow(tide_labels *d, const char *s, size_t len, int *idx, tide_err *err);

int tide_labels_index(tide_labels *d, const char *s, size_t len, int *idx, tide_err *err)
{
    int rc;
    for (unsigned i = 0; i < 4; i++)
        if (len && len == d->cache[i].len && s[0] == d->cache[i].s[0] &&
            (len == 1 || !memcmp(s + 1, d->cache[i].s + 1, len - 1))) {   /* 0/1: no call */
            *idx = d->cache[i].idx;
            return TIDE_OK;
        }
    rc = labels_index_slow(d, s, len, idx, err);
    if (rc == TIDE_OK && len && len < sizeof d->cache[0].s) {
        unsigned k = d->next++ & 3;
        memcpy(d->cache[k].s, s, len);
        d->cache[k].len = len;
        d->cache[k].idx = *idx;
    }
    return rc;
}

static int labels_index_slow(tide_labels *d, const char *s, size_t len, int *idx, tide_err *err)
{
    int b;
    if (tide_labels_lookup(d, s, len, idx) == TIDE_OK) {
        if (d->task == TIDE_TASK_BINARY && d->names[*idx] && binary_class(s, len) >= 0 &&
            binary_class(d->names[*idx], strlen(d->names[*idx])) != *idx)
            return tide_err_set(err, TIDE_ERR_PARSE,
                                "label '%.*s' would share class %d with label '%s' in a binary task",
                                (int)len, s, *idx, d->names[*idx]);
        if (d->task == TIDE_TASK_BINARY && !d->names[*idx] && binary_class(s, len) >= 0) {
            /* remember the first spelling of a recognised class for output */
            d->names[*idx] = strndup(s, len);
            if (d->n < 2)
                d->n = 2;
        }
        return TIDE_OK;
    }
    if (len == 0)
        return tide_err_set(err, TIDE_ERR_PARSE, "empty label");
    if (len > 256)
        return tide_err_set(err, TIDE_ERR_LIMIT, "label longer than 256 bytes");
    if (d->task == TIDE_TASK_BINARY) {
        b = -1;
        for (int i = 0; i < 2; i++)
            if (!d->names[i]) {
                b = i;
                break;
            }
        if (b < 0)
            return tide_err_set(err, TIDE_ERR_PARSE,
                                "label '%.*s' would be a third class of a binary task "
                                "(classes: '%s', '%s')",
                                (int)len, s, d->names[0], d->names[1]);
        d->names[b] = strndup(s, len);
        if (!d->names[b])
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        d->n = 2;
        *idx = b;
        return TIDE_OK;
    }
    if (d->n == TIDE_MAX_CLASSES)
        return tide_err_set(err, TIDE_ERR_LIMIT, "more than %d classes", TIDE_MAX_CLASSES);
    d->names[d->n] = strndup(s, len);
    if (!d->names[d->n])
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    *idx = d->n++;
    return TIDE_OK;
}

const char *tide_labels_name(const tide_labels *d, int idx)
{
    if (idx < 0 || idx >= TIDE_MAX_CLASSES)
        return NULL;
    if (d->names[idx])
        return d->names[idx];
    if (d->task == TIDE_TASK_BINARY && idx < 2)
        return idx ? "1" : "0";
    return NULL;
}

tide_task tide_labels_task(const tide_labels *d) { return d->task; }

int tide_labels_count(const tide_labels *d)
{
    return d->task == TIDE_TASK_BINARY ? 2 : d->n;
}

void tide_labels_save(const tide_labels *d, tide_wbuf *b)
{
    int n = d->task == TIDE_TASK_BINARY ? 2 : d->n;
    tide_wbuf_u32(b, (uint32_t)d->task);
    tide_wbuf_u32(b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        tide_wbuf_u8(b, d->names[i] ? 1 : 0);
        if (d->names[i])
            tide_wbuf_str(b, d->names[i]);
    }
}

int tide_labels_load(tide_rbuf *r, tide_labels **out, tide_err *err)
{
    uint32_t task = tide_rbuf_u32(r), n = tide_rbuf_u32(r);
    tide_labels *d;
    *out = NULL;
    if (r->bad || task < TIDE_TASK_BINARY || task > TIDE_TASK_CLASSIFY || n > TIDE_MAX_CLASSES)
        return tide_err_set(err, TIDE_ERR_FORMAT, "label dictionary is truncated or corrupt");
    if (tide_labels_new((tide_task)task, &d))
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        if (tide_rbuf_u8(r)) {
            d->names[i] = tide_rbuf_str(r, 256);
            if (!d->names[i]) {
                tide_labels_free(d);
                return tide_err_set(err, TIDE_ERR_FORMAT, "label dictionary is truncated");
            }
        }
    }
    d->n = (int)n;
    if (r->bad) {
        tide_labels_free(d);
        return tide_err_set(err, TIDE_ERR_FORMAT, "label dictionary is truncated");
    }
    *out = d;
    return TIDE_OK;
}

int tide_labels_positive(const tide_labels *d)
{
    if (d->task == TIDE_TASK_BINARY)
        return 1;
    for (int i = 0; i < d->n && i < 2; i++)
        if (d->names[i] && binary_class(d->names[i], strlen(d->names[i])) == 1)
            return i;
    return 1;
}
