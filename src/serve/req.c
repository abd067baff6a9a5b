/*
 * req.c — request-body validation for `tide serve`: feature schemas
 * (declared or inferred from the first N learned rows) and the parser that
 * turns a JSON body ({"features": {...}} or {"instances": [...]}) into rows
 * of named values (tide/io.h) for the featurizer.
 *
 * Everything here treats the body as hostile: jansson parses it (duplicate
 * keys rejected, its built-in depth limit), counts are bounded before any
 * allocation, numbers must be finite, strings bounded, and a nested value
 * where a feature value is expected is refused. Errors carry the HTTP status,
 * a short error word, the offending field and a sentence.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "tide/serve.h"
#include "serve/serve_int.h"

int tide_reqerr_set(tide_reqerr *e, int status, const char *error, const char *field,
                    const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->status = status;
        snprintf(e->error, sizeof e->error, "%s", error ? error : "");
        snprintf(e->field, sizeof e->field, "%s", field ? field : "");
        va_start(ap, fmt);
        vsnprintf(e->reason, sizeof e->reason, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- schema: open-addressing hash of names --------------------------- */

typedef struct sentry {
    char *name;
    size_t len;
    tide_ftype type;
    int required;
} sentry;

struct tide_schema {
    sentry *e;          /* n entries in declaration order */
    size_t n;
    size_t n_required;
    uint32_t *slot;     /* hash slots: index+1 into e, 0 = empty */
    size_t mask;        /* slots - 1 (power of two) */
};

static uint64_t name_hash(const char *s, size_t n) { return XXH3_64bits(s, n); }

/* Index of name in s, or -1. */
long serve_schema_find(const tide_schema *s, const char *name, size_t len)
{
    size_t i;
    if (!s || !s->n)
        return -1;
    i = (size_t)name_hash(name, len) & s->mask;
    for (;;) {
        uint32_t v = s->slot[i];
        if (!v)
            return -1;
        if (s->e[v - 1].len == len && !memcmp(s->e[v - 1].name, name, len))
            return (long)(v - 1);
        i = (i + 1) & s->mask;
    }
}

long serve_schema_lookup(const tide_schema *s, const char *name, size_t len, long guess,
                         unsigned *flags)
{
    long k;
    if (guess >= 0 && (size_t)guess < s->n && s->e[guess].len == len &&
        !memcmp(s->e[guess].name, name, len))
        k = guess;   /* bodies tend to list the features in one order: no hash */
    else
        k = serve_schema_find(s, name, len);
    if (k >= 0)
        *flags = (s->e[k].type == TIDE_FTYPE_NUM ? SERVE_SF_NUM : 0u) |
                 (s->e[k].required ? SERVE_SF_REQUIRED : 0u);
    return k;
}

size_t serve_schema_required(const tide_schema *s) { return s ? s->n_required : 0; }

static int schema_index(tide_schema *s)
{
    size_t cap = 16;
    while (cap < s->n * 2 + 2)
        cap *= 2;
    s->slot = calloc(cap, sizeof *s->slot);
    if (!s->slot)
        return -1;
    s->mask = cap - 1;
    s->n_required = 0;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (size_t)name_hash(s->e[k].name, s->e[k].len) & s->mask;
        while (s->slot[i])
            i = (i + 1) & s->mask;
        s->slot[i] = (uint32_t)(k + 1);
        s->n_required += s->e[k].required ? 1 : 0;
    }
    return 0;
}

void tide_schema_free(tide_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].name);
    free(s->e);
    free(s->slot);
    free(s);
}

size_t tide_schema_count(const tide_schema *s) { return s ? s->n : 0; }

const char *tide_schema_entry(const tide_schema *s, size_t i, tide_ftype *type, int *required)
{
    if (!s || i >= s->n)
        return NULL;
    if (type)
        *type = s->e[i].type;
    if (required)
        *required = s->e[i].required;
    return s->e[i].name;
}

static int parse_type_word(const char *w, tide_ftype *t)
{
    if (!strcmp(w, "number") || !strcmp(w, "num") || !strcmp(w, "numeric"))
        *t = TIDE_FTYPE_NUM;
    else if (!strcmp(w, "category") || !strcmp(w, "cat") || !strcmp(w, "string") ||
             !strcmp(w, "categorical"))
        *t = TIDE_FTYPE_CAT;
    else
        return -1;
    return 0;
}

int serve_schema_from_json(const json_t *obj, tide_schema **out, tide_reqerr *e)
{
    tide_schema *s = NULL;
    const char *key;
    json_t *val;
    size_t n;
    *out = NULL;
    if (!json_is_object(obj))
        return tide_reqerr_set(e, 400, "bad_schema", "schema",
                               "schema must be an object mapping feature names to types");
    n = json_object_size(obj);
    if (n > TIDE_SERVE_MAX_FEATURES)
        return tide_reqerr_set(e, 400, "bad_schema", "schema",
                               "schema declares %zu features, more than the limit %d", n,
                               TIDE_SERVE_MAX_FEATURES);
    s = calloc(1, sizeof *s);
    if (!s || !(s->e = calloc(n ? n : 1, sizeof *s->e)))
        goto nomem;
    json_object_foreach((json_t *)obj, key, val) {
        sentry *en = &s->e[s->n];
        const char *tw = NULL;
        size_t kl = strlen(key);
        en->required = 1;
        if (kl == 0 || kl > TIDE_SERVE_MAX_NAME) {
            tide_reqerr_set(e, 400, "bad_schema", "schema",
                            "feature names must have 1..%d bytes", TIDE_SERVE_MAX_NAME);
            goto fail;
        }
        if (json_is_string(val)) {
            tw = json_string_value(val);
        } else if (json_is_object(val)) {
            json_t *t = json_object_get(val, "type"), *r = json_object_get(val, "required");
            tw = json_is_string(t) ? json_string_value(t) : NULL;
            if (r && !json_is_boolean(r)) {
                tide_reqerr_set(e, 400, "bad_schema", key,
                                "schema entry '%s': \"required\" must be true or false", key);
                goto fail;
            }
            if (r)
                en->required = json_is_true(r);
        }
        if (!tw || parse_type_word(tw, &en->type)) {
            tide_reqerr_set(e, 400, "bad_schema", key,
                            "schema entry '%s' must be \"number\" or \"category\" "
                            "(or {\"type\": ..., \"required\": bool})", key);
            goto fail;
        }
        if (!(en->name = strdup(key)))
            goto nomem;
        en->len = kl;
        s->n++;
    }
    if (schema_index(s))
        goto nomem;
    *out = s;
    return 0;
nomem:
    tide_reqerr_set(e, 500, "internal", "", "out of memory while reading the schema");
fail:
    tide_schema_free(s);
    return -1;
}

int tide_schema_parse(const char *json, size_t len, tide_schema **out, tide_reqerr *e)
{
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    int rc;
    *out = NULL;
    if (!doc)
        return tide_reqerr_set(e, 400, "malformed_json", "", "schema is not valid JSON: %s",
                               je.text);
    rc = serve_schema_from_json(doc, out, e);
    json_decref(doc);
    return rc;
}

json_t *serve_schema_json(const tide_schema *s)
{
    json_t *o = json_object();
    for (size_t i = 0; o && s && i < s->n; i++) {
        json_t *en = json_pack("{s:s,s:b}", "type",
                               s->e[i].type == TIDE_FTYPE_NUM ? "number" : "category",
                               "required", s->e[i].required);
        json_object_set_new(o, s->e[i].name, en);
    }
    return o;
}

char *tide_schema_to_json(const tide_schema *s)
{
    json_t *o = serve_schema_json(s);
    char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return txt;
}

/* ---- inference ---------------------------------------------------------- */

struct tide_schema_infer {
    sentry *e;
    size_t n, cap;
    size_t *count;     /* rows in which entry i appeared */
    size_t rows;
};

int tide_schema_infer_new(tide_schema_infer **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? TIDE_OK : TIDE_ERR_NOMEM;
}

void tide_schema_infer_free(tide_schema_infer *si)
{
    if (!si)
        return;
    for (size_t i = 0; i < si->n; i++)
        free(si->e[i].name);
    free(si->e);
    free(si->count);
    free(si);
}

size_t tide_schema_infer_rows(const tide_schema_infer *si) { return si ? si->rows : 0; }

int tide_schema_infer_add(tide_schema_infer *si, const tide_row *row)
{
    for (size_t f = 0; f < row->n_fields; f++) {
        const tide_field *fd = &row->fields[f];
        size_t i;
        if (fd->kind == TIDE_VAL_MISSING)
            continue;
        for (i = 0; i < si->n; i++)
            if (si->e[i].len == fd->name_len && !memcmp(si->e[i].name, fd->name, fd->name_len))
                break;
        if (i == si->n) {
            if (si->n >= TIDE_SERVE_MAX_FEATURES)
                return TIDE_ERR_LIMIT;
            if (si->n == si->cap) {
                size_t nc = si->cap ? si->cap * 2 : 32;
                sentry *ne = realloc(si->e, nc * sizeof *ne);
                size_t *cnt;
                if (!ne)
                    return TIDE_ERR_NOMEM;
                si->e = ne;
                cnt = realloc(si->count, nc * sizeof *cnt);
                if (!cnt)
                    return TIDE_ERR_NOMEM;
                si->count = cnt;
                si->cap = nc;
            }
            si->e[i].name = strndup(fd->name, fd->name_len);
            if (!si->e[i].name)
                return TIDE_ERR_NOMEM;
            si->e[i].len = fd->name_len;
            si->e[i].type = fd->kind == TIDE_VAL_NUM ? TIDE_FTYPE_NUM : TIDE_FTYPE_CAT;
            si->e[i].required = 0;
            si->count[i] = 0;
            si->n++;
        }
        si->count[i]++;
    }
    si->rows++;
    return TIDE_OK;
}

int tide_schema_infer_build(const tide_schema_infer *si, tide_schema **out)
{
    tide_schema *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->e = calloc(si->n ? si->n : 1, sizeof *s->e)))
        goto nomem;
    for (size_t i = 0; i < si->n; i++) {
        s->e[i] = si->e[i];
        s->e[i].required = si->count[i] == si->rows;
        if (!(s->e[i].name = strdup(si->e[i].name)))
            goto nomem;
        s->n++;
    }
    if (schema_index(s))
        goto nomem;
    *out = s;
    return TIDE_OK;
nomem:
    tide_schema_free(s);
    return TIDE_ERR_NOMEM;
}

/* ---- validation ---------------------------------------------------------- */

static const char *kind_word(tide_ftype t) { return t == TIDE_FTYPE_NUM ? "a number" : "a string"; }

int tide_schema_check(const tide_schema *s, const tide_row *row, tide_reqerr *e)
{
    size_t matched_required = 0;
    if (!s)
        return 0;
    for (size_t f = 0; f < row->n_fields; f++) {
        const tide_field *fd = &row->fields[f];
        long k = serve_schema_find(s, fd->name, fd->name_len);
        char nm[TIDE_SERVE_MAX_NAME + 1];
        snprintf(nm, sizeof nm, "%.*s", (int)fd->name_len, fd->name);
        if (k < 0)
            return tide_reqerr_set(e, 400, "unknown_feature", nm,
                                   "feature '%s' is not in the model's schema", nm);
        if (fd->kind == TIDE_VAL_MISSING) {
            if (s->e[k].required)
                return tide_reqerr_set(e, 400, "missing_feature", nm,
                                       "required feature '%s' is null", nm);
            continue;
        }
        if ((fd->kind == TIDE_VAL_NUM) != (s->e[k].type == TIDE_FTYPE_NUM))
            return tide_reqerr_set(e, 400, "bad_type", nm, "feature '%s' must be %s", nm,
                                   kind_word(s->e[k].type));
        if (fd->kind == TIDE_VAL_NUM && !isfinite(fd->num))
            return tide_reqerr_set(e, 400, "not_finite", nm, "feature '%s' is not finite", nm);
        matched_required += s->e[k].required ? 1 : 0;
    }
    if (matched_required < s->n_required) {
        /* name the first required feature that is absent */
        for (size_t k = 0; k < s->n; k++) {
            int found = 0;
            if (!s->e[k].required)
                continue;
            for (size_t f = 0; f < row->n_fields && !found; f++)
                found = row->fields[f].name_len == s->e[k].len &&
                        !memcmp(row->fields[f].name, s->e[k].name, s->e[k].len) &&
                        row->fields[f].kind != TIDE_VAL_MISSING;
            if (!found)
                return tide_reqerr_set(e, 400, "missing_feature", s->e[k].name,
                                       "required feature '%s' is missing", s->e[k].name);
        }
    }
    return 0;
}

/* ---- instances ------------------------------------------------------------ */

void tide_instances_free(tide_instances *in)
{
    if (!in)
        return;
    free(in->rows);
    free(in->ids);
    free(in->fields_);
    free(in->labtxt_);
    free(in->strs_);
    free(in->fspan_);
    json_decref((json_t *)in->doc_);
    memset(in, 0, sizeof *in);
}

/* Fills fields from a "features" object. */
static int fill_fields(json_t *feats, const char *where, tide_field *fields, size_t *nf,
                       tide_reqerr *e)
{
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(feats, key, v) {
        tide_field *fd = &fields[n];
        size_t kl = strlen(key);
        memset(fd, 0, sizeof *fd);
        fd->ns = "";
        fd->col = -1;
        if (kl == 0 || kl > TIDE_SERVE_MAX_NAME)
            return tide_reqerr_set(e, 400, "bad_feature", "features",
                                   "%sfeature names must have 1..%d bytes", where,
                                   TIDE_SERVE_MAX_NAME);
        fd->name = key;
        fd->name_len = kl;
        if (json_is_integer(v)) {
            fd->kind = TIDE_VAL_NUM;
            fd->num = (double)json_integer_value(v);
        } else if (json_is_real(v)) {
            fd->kind = TIDE_VAL_NUM;
            fd->num = json_real_value(v);
            if (!isfinite(fd->num))
                return tide_reqerr_set(e, 400, "not_finite", key, "%sfeature '%s' is not finite",
                                       where, key);
        } else if (json_is_string(v)) {
            fd->kind = TIDE_VAL_CAT;
            fd->str = json_string_value(v);
            fd->str_len = json_string_length(v);
            if (fd->str_len > TIDE_SERVE_MAX_STR)
                return tide_reqerr_set(e, 400, "bad_feature", key,
                                       "%sfeature '%s' is a string of %zu bytes, more than %d",
                                       where, key, fd->str_len, TIDE_SERVE_MAX_STR);
        } else if (json_is_null(v)) {
            fd->kind = TIDE_VAL_MISSING;
        } else if (json_is_object(v) || json_is_array(v)) {
            return tide_reqerr_set(e, 400, "bad_nesting", key,
                                   "%sfeature '%s' is %s; values must be numbers, strings or null",
                                   where, key, json_is_object(v) ? "an object" : "an array");
        } else {
            return tide_reqerr_set(e, 400, "bad_type", key,
                                   "%sfeature '%s' is a boolean; use a number or a string", where,
                                   key);
        }
        n++;
    }
    *nf = n;
    return 0;
}

static int check_instance(json_t *inst, const char *where, int need_label, size_t *nfeat,
                          tide_reqerr *e)
{
    json_t *feats, *id, *lab;
    const char *key;
    json_t *v;
    if (!json_is_object(inst))
        return tide_reqerr_set(e, 400, "bad_request", "instances",
                               "%sinstance must be an object", where);
    json_object_foreach(inst, key, v) {
        if (strcmp(key, "features") && strcmp(key, "id") && strcmp(key, "label") &&
            strcmp(key, "weight"))
            return tide_reqerr_set(e, 400, "unknown_field", key,
                                   "%sunknown field '%s' (expected id, features%s)", where, key,
                                   need_label ? ", label" : "");
    }
    feats = json_object_get(inst, "features");
    if (!feats)
        return tide_reqerr_set(e, 400, "missing_field", "features", "%s\"features\" is missing",
                               where);
    if (!json_is_object(feats))
        return tide_reqerr_set(e, 400, "bad_nesting", "features",
                               "%s\"features\" must be an object of name: value", where);
    if (json_object_size(feats) > TIDE_SERVE_MAX_FEATURES)
        return tide_reqerr_set(e, 400, "too_many_features", "features",
                               "%s%zu features, more than the limit %d", where,
                               json_object_size(feats), TIDE_SERVE_MAX_FEATURES);
    id = json_object_get(inst, "id");
    if (id && !json_is_null(id) &&
        (!json_is_string(id) || !serve_id_ok(json_string_value(id), json_string_length(id))))
        return tide_reqerr_set(e, 400, "bad_id", "id",
                               "%s\"id\" must be a string of 1..%d printable ASCII "
                               "characters without spaces", where, TIDE_SERVE_MAX_ID);
    if (id && json_is_string(id) && serve_id_reserved(json_string_value(id), json_string_length(id)))
        return tide_reqerr_set(e, 400, "bad_id", "id",
                               "%s\"id\" '%s' has the shape reserved for the ids tide generates "
                               "(ev- and 16 hex digits): leave it out to get one, or use another",
                               where, json_string_value(id));
    lab = json_object_get(inst, "label");
    if (need_label) {
        if (!lab)
            return tide_reqerr_set(e, 400, "missing_field", "label", "%s\"label\" is missing",
                                   where);
        if (!serve_label_ok(lab))
            return tide_reqerr_set(e, 400, "bad_label", "label",
                                   "%s\"label\" must be a string or a finite number", where);
    } else if (lab) {
        return tide_reqerr_set(e, 400, "unknown_field", "label",
                               "%s\"label\" is not accepted here (use /labels or /learn)", where);
    }
    v = json_object_get(inst, "weight");
    if (v && (!json_is_number(v) || !(json_number_value(v) > 0) ||
              !isfinite(json_number_value(v))))
        return tide_reqerr_set(e, 400, "bad_weight", "weight",
                               "%s\"weight\" must be a positive finite number", where);
    *nfeat = json_object_size(feats);
    return 0;
}

int serve_id_reserved(const char *id, size_t len)
{
    if (len != 19 || memcmp(id, "ev-", 3))
        return 0;
    for (size_t i = 3; i < 19; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

int serve_id_ok(const char *id, size_t len)
{
    if (len == 0 || len > TIDE_SERVE_MAX_ID)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] <= ' ' || id[i] > '~')
            return 0;
    return 1;
}

int serve_label_ok(const json_t *lab)
{
    if (json_is_string(lab))
        return json_string_length(lab) > 0 && json_string_length(lab) < 4096 &&
               strlen(json_string_value(lab)) == json_string_length(lab);
    if (json_is_integer(lab))
        return 1;
    if (json_is_real(lab))
        return isfinite(json_real_value(lab));
    return 0;
}

/* Text of a label value into buf (numbers printed shortest-exact). */
const char *serve_label_text(const json_t *lab, char *buf, size_t n, size_t *len)
{
    if (json_is_string(lab)) {
        *len = json_string_length(lab);
        return json_string_value(lab);
    }
    if (json_is_integer(lab))
        snprintf(buf, n, "%lld", (long long)json_integer_value(lab));
    else
        snprintf(buf, n, "%.17g", json_real_value(lab));
    *len = strlen(buf);
    return buf;
}

int serve_instances_from_doc(json_t *doc, const tide_schema *schema, int need_label,
                             tide_instances *out, tide_reqerr *e)
{
    json_t *arr = NULL, *one = NULL;
    size_t n, total = 0, off = 0;
    memset(out, 0, sizeof *out);
    if (!json_is_object(doc))
        return tide_reqerr_set(e, 400, "bad_request", "", "the body must be a JSON object");
    arr = json_object_get(doc, "instances");
    if (arr) {
        if (!json_is_array(arr))
            return tide_reqerr_set(e, 400, "bad_nesting", "instances",
                                   "\"instances\" must be an array");
        if (json_object_size(doc) != 1)
            return tide_reqerr_set(e, 400, "unknown_field", "",
                                   "a batch body holds only \"instances\"");
        n = json_array_size(arr);
        if (n == 0 || n > TIDE_SERVE_MAX_BATCH)
            return tide_reqerr_set(e, 400, "bad_batch", "instances",
                                   "\"instances\" must hold 1..%d entries, got %zu",
                                   TIDE_SERVE_MAX_BATCH, n);
    } else {
        one = doc;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        char where[48] = "";
        size_t nf = 0;
        if (arr)
            snprintf(where, sizeof where, "instances[%zu]: ", i);
        if (check_instance(arr ? json_array_get(arr, i) : one, where, need_label, &nf, e))
            return -1;
        total += nf;
    }
    out->rows = calloc(n, sizeof *out->rows);
    out->ids = calloc(n, sizeof *out->ids);
    out->fields_ = calloc(total ? total : 1, sizeof *out->fields_);
    out->labtxt_ = need_label ? calloc(n, 32) : NULL;
    if (!out->rows || !out->ids || !out->fields_ || (need_label && !out->labtxt_)) {
        tide_instances_free(out);
        return tide_reqerr_set(e, 500, "internal", "", "out of memory for %zu instances", n);
    }
    out->n = n;
    out->batch = arr != NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *inst = arr ? json_array_get(arr, i) : one;
        json_t *id = json_object_get(inst, "id"), *w = json_object_get(inst, "weight");
        tide_row *r = &out->rows[i];
        char where[48] = "";
        size_t nf = 0;
        if (arr)
            snprintf(where, sizeof where, "instances[%zu]: ", i);
        if (fill_fields(json_object_get(inst, "features"), where, out->fields_ + off, &nf, e))
            goto fail;
        r->fields = out->fields_ + off;
        r->n_fields = nf;
        r->weight = w ? json_number_value(w) : 1.0;
        r->line = i + 1;
        off += nf;
        if (json_is_string(id)) {
            out->ids[i] = json_string_value(id);
            r->tag = out->ids[i];
            r->tag_len = json_string_length(id);
        }
        if (need_label) {
            json_t *lab = json_object_get(inst, "label");
            size_t ll = 0;
            r->target = serve_label_text(lab, out->labtxt_ + 32 * i, 32, &ll);
            r->target_len = ll;
            r->has_target = 1;
            r->target_is_num = json_is_number(lab);
            r->target_num = r->target_is_num ? json_number_value(lab) : 0;
            if (!r->target_is_num) {
                char *end = NULL;
                double d = strtod(r->target, &end);
                if (end && end != r->target && *end == '\0' && isfinite(d)) {
                    r->target_is_num = 1;
                    r->target_num = d;
                }
            }
        }
        if (schema && tide_schema_check(schema, r, e)) {
            if (arr) {
                char tmp[sizeof e->reason];
                snprintf(tmp, sizeof tmp, "%s", e->reason);
                snprintf(e->reason, sizeof e->reason, "%s%s", where, tmp);
            }
            goto fail;
        }
    }
    out->doc_ = json_incref(doc);
    return 0;
fail:
    free(out->rows);
    free(out->ids);
    free(out->fields_);
    free(out->labtxt_);
    memset(out, 0, sizeof *out);
    return -1;
}

int tide_instances_parse(const char *body, size_t len, const tide_schema *schema, int need_label,
                         tide_instances *out, tide_reqerr *e)
{
    json_error_t je;
    json_t *doc;
    int rc;
    memset(out, 0, sizeof *out);
    doc = serve_json_load(body, len, &je);
    if (!doc)
        return tide_reqerr_set(e, 400, "malformed_json", "",
                               "body is not valid JSON (line %d, column %d): %s", je.line,
                               je.column, je.text);
    rc = serve_instances_from_doc(doc, schema, need_label, out, e);
    json_decref(doc);
    return rc;
}

json_t *serve_json_load(const char *body, size_t len, json_error_t *je)
{
    return json_loadb(body, len, JSON_REJECT_DUPLICATES, je);
}
