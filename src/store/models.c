/*
 * models.c — the model side of the store: models, live snapshots,
 * immutable versions (artifact + xxh64 checksum + lineage + data range),
 * aliases and per-version live metrics (tide/store.h). Artifacts and
 * snapshots are opaque bytes here; only their checksum is interpreted.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QERR(err) ((err) ? (err)->code : TIDE_ERR_IO)

/* ---- models ------------------------------------------------------------------ */
void tide_store_model_clear(tide_store_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->schema);
    memset(m, 0, sizeof *m);
}

void tide_store_models_free(tide_store_model *arr, size_t n)
{
    if (!arr)
        return;
    for (size_t i = 0; i < n; i++)
        tide_store_model_clear(&arr[i]);
    free(arr);
}

static int check_task(const char *task, tide_err *err)
{
    size_t n;
    if (!task || !*task)
        return tide_err_set(err, TIDE_ERR_ARG, "model task is empty");
    n = strlen(task);
    if (n >= TIDE_STORE_TASK_MAX)
        return tide_err_set(err, TIDE_ERR_LIMIT, "model task '%.40s' is too long", task);
    for (size_t i = 0; i < n; i++)
        if (task[i] < 'a' || task[i] > 'z')
            return tide_err_set(err, TIDE_ERR_ARG, "model task '%s' is not a lowercase word",
                                task);
    return TIDE_OK;
}

int tide_store_model_create(tide_store *st, const char *name, const char *task,
                            const char *learner, const char *params, const char *schema,
                            tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    if ((rc = store_check_name("model", name, err)) || (rc = check_task(task, err)) ||
        (rc = store_check_name("learner", learner, err)) ||
        (rc = store_check_text("model params", params, TIDE_STORE_JSON_MAX, 0, err)) ||
        (rc = store_check_text("model schema", schema, TIDE_STORE_JSON_MAX, 0, err)))
        return rc;
    if (!(s = store_stmt(st, Q_MODEL_INSERT, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, task, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, learner, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, params ? params : "", -1, SQLITE_STATIC);
    store_bind_text(s, 5, schema);
    sqlite3_bind_int64(s, 6, store_now_ms());
    if ((rc = store_step_done(st, s, "creating a model", err)))
        return rc;
    if (sqlite3_changes(st->db) == 0)
        return tide_err_set(err, TIDE_ERR_CONFLICT, "a model named '%s' already exists", name);
    return TIDE_OK;
}

/* Row of Q_MODEL_GET / Q_MODEL_LIST -> m. */
static int read_model(sqlite3_stmt *s, tide_store_model *m)
{
    int oom = 0;
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(s, 0);
    store_col_copy(s, 1, m->name, sizeof m->name);
    store_col_copy(s, 2, m->task, sizeof m->task);
    store_col_copy(s, 3, m->learner, sizeof m->learner);
    m->params = store_col_dup(s, 4, &oom);
    if (!m->params && !oom)
        m->params = calloc(1, 1);
    if (!m->params)
        oom = 1;
    m->schema = store_col_dup(s, 5, &oom);
    m->created = sqlite3_column_int64(s, 6);
    m->snapshot_seq = sqlite3_column_int64(s, 7);
    m->has_snapshot = sqlite3_column_int(s, 8);
    if (oom) {
        tide_store_model_clear(m);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

int tide_store_model_get(tide_store *st, const char *name, tide_store_model *out, tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = store_check_name("model", name, err)))
        return rc;
    if (!(s = store_stmt(st, Q_MODEL_GET, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        rc = read_model(s, out);
        if (rc)
            tide_err_set(err, rc, "out of memory reading model '%s'", name);
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "no model named '%s'", name);
    } else {
        rc = store_sqlerr(st, "reading a model", err);
    }
    store_done(s);
    return rc;
}

/* Steps s to the end, reading each row with read() into a growing array of
 * elem-byte records; on failure frees what was read with free_arr. Shared
 * by the listing calls. */
typedef int (*row_reader)(sqlite3_stmt *s, void *rec);
typedef void (*rows_freer)(void *arr, size_t n);

static int collect_rows(tide_store *st, sqlite3_stmt *s, size_t elem, row_reader read,
                        rows_freer free_arr, const char *what, void **out, size_t *n,
                        tide_err *err)
{
    char *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char *p = realloc(arr, nc * elem);
            if (!p) {
                rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory %s", what);
                goto fail;
            }
            arr = p;
            cap = nc;
        }
        if (read(s, arr + len * elem)) {
            rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory %s", what);
            goto fail;
        }
        len++;
    }
    if (rc != SQLITE_DONE) {
        rc = store_sqlerr(st, what, err);
        goto fail;
    }
    store_done(s);
    *out = arr;
    *n = len;
    return TIDE_OK;
fail:
    store_done(s);
    free_arr(arr, len);
    return rc;
}

static int read_model_rec(sqlite3_stmt *s, void *rec) { return read_model(s, rec); }
static void free_models_rec(void *arr, size_t n) { tide_store_models_free(arr, n); }

int tide_store_model_list(tide_store *st, tide_store_model **out, size_t *n, tide_err *err)
{
    sqlite3_stmt *s;
    void *arr;
    int rc;
    *out = NULL;
    *n = 0;
    if (!(s = store_stmt(st, Q_MODEL_LIST, err)))
        return QERR(err);
    rc = collect_rows(st, s, sizeof **out, read_model_rec, free_models_rec, "listing models",
                      &arr, n, err);
    if (rc == TIDE_OK)
        *out = arr;
    return rc;
}

int tide_store_model_set_schema(tide_store *st, const char *name, const char *schema,
                                tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    if ((rc = store_check_name("model", name, err)) ||
        (rc = store_check_text("model schema", schema, TIDE_STORE_JSON_MAX, 0, err)))
        return rc;
    if (!(s = store_stmt(st, Q_MODEL_SET_SCHEMA, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    store_bind_text(s, 2, schema);
    if ((rc = store_step_done(st, s, "setting a schema", err)))
        return rc;
    if (sqlite3_changes(st->db) == 0)
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "no model named '%s'", name);
    return TIDE_OK;
}

int tide_store_model_delete(tide_store *st, const char *name, tide_err *err)
{
    sqlite3_stmt *s;
    int rc, mode;
    if ((rc = store_check_name("model", name, err)))
        return rc;
    if ((rc = store_txn_start(st, &mode, err)))
        return rc;
    if (!(s = store_stmt(st, Q_MODEL_DELETE, err))) {
        rc = QERR(err);
        goto done;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st, s, "deleting a model", err)))
        goto done;
    if (sqlite3_changes(st->db) == 0)
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "no model named '%s'", name);
done:
    return store_txn_end(st, mode, rc, err);
}

/* ---- blobs ---------------------------------------------------------------------- */
static int bind_blob(sqlite3_stmt *s, int idx, const void *p, size_t len)
{
    return sqlite3_bind_blob64(s, idx, p, (sqlite3_uint64)len, SQLITE_STATIC);
}

/* Copies a blob column, checking it against a stored xxh64. */
static int copy_checked_blob(sqlite3_stmt *s, int col, uint64_t want, const char *what,
                             void **blob, size_t *len, tide_err *err)
{
    const void *p = sqlite3_column_blob(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    void *c;
    if (!p || n == 0)
        return tide_err_set(err, TIDE_ERR_FORMAT, "%s is empty", what);
    if (tide_checksum(p, n) != want)
        return tide_err_set(err, TIDE_ERR_CHECKSUM,
                            "%s (%zu bytes) does not match its stored checksum %016llx", what, n,
                            (unsigned long long)want);
    c = malloc(n);
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory copying %s (%zu bytes)", what, n);
    memcpy(c, p, n);
    *blob = c;
    *len = n;
    return TIDE_OK;
}

static int check_blob(const char *what, const void *p, size_t len, tide_err *err)
{
    if (!p || len == 0)
        return tide_err_set(err, TIDE_ERR_ARG, "%s is empty", what);
    if (len > TIDE_STORE_BLOB_MAX)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s of %zu bytes exceeds the %u-byte limit", what,
                            len, TIDE_STORE_BLOB_MAX);
    return TIDE_OK;
}

/* ---- live snapshot ---------------------------------------------------------------- */
int tide_store_snapshot_save(tide_store *st, const char *model, const void *blob, size_t len,
                             int64_t label_seq, tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    if ((rc = store_check_name("model", model, err)) ||
        (rc = check_blob("snapshot", blob, len, err)))
        return rc;
    if (label_seq < 0)
        return tide_err_set(err, TIDE_ERR_ARG, "snapshot label seq %lld is negative",
                            (long long)label_seq);
    if (!(s = store_stmt(st, Q_SNAP_SAVE, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    bind_blob(s, 2, blob, len);
    sqlite3_bind_int64(s, 3, (int64_t)tide_checksum(blob, len));
    sqlite3_bind_int64(s, 4, label_seq);
    sqlite3_bind_int64(s, 5, store_now_ms());
    if ((rc = store_step_done(st, s, "saving a snapshot", err)))
        return rc;
    if (sqlite3_changes(st->db) == 0)
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "no model named '%s'", model);
    return TIDE_OK;
}

int tide_store_snapshot_load(tide_store *st, const char *model, void **blob, size_t *len,
                             int64_t *label_seq, tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    *blob = NULL;
    *len = 0;
    if ((rc = store_check_name("model", model, err)))
        return rc;
    if (!(s = store_stmt(st, Q_SNAP_LOAD, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
            rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "model '%s' has no snapshot yet", model);
        } else {
            char what[TIDE_STORE_NAME_MAX + 32];
            snprintf(what, sizeof what, "snapshot of model '%s'", model);
            rc = copy_checked_blob(s, 0, (uint64_t)sqlite3_column_int64(s, 1), what, blob, len,
                                   err);
            if (rc == TIDE_OK && label_seq)
                *label_seq = sqlite3_column_int64(s, 2);
        }
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "no model named '%s'", model);
    } else {
        rc = store_sqlerr(st, "loading a snapshot", err);
    }
    store_done(s);
    return rc;
}

/* ---- versions ------------------------------------------------------------------------ */
void tide_store_version_clear(tide_store_version *v)
{
    if (!v)
        return;
    free(v->params);
    free(v->metrics);
    memset(v, 0, sizeof *v);
}

void tide_store_versions_free(tide_store_version *arr, size_t n)
{
    if (!arr)
        return;
    for (size_t i = 0; i < n; i++)
        tide_store_version_clear(&arr[i]);
    free(arr);
}

static int version_exists(tide_store *st, int64_t model_id, int64_t version, int *exists,
                          tide_err *err)
{
    sqlite3_stmt *s = store_stmt(st, Q_VER_EXISTS, err);
    int rc;
    if (!s)
        return QERR(err);
    sqlite3_bind_int64(s, 1, model_id);
    sqlite3_bind_int64(s, 2, version);
    rc = sqlite3_step(s);
    *exists = rc == SQLITE_ROW;
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? TIDE_OK
                                                 : store_sqlerr(st, "looking up a version", err);
    store_done(s);
    return rc;
}

int tide_store_version_create(tide_store *st, const char *model, const tide_store_version_new *spec,
                              const void *artifact, size_t len, int64_t *version_out,
                              tide_err *err)
{
    static const tide_store_version_new none;
    sqlite3_stmt *s;
    int64_t mid, next = 0;
    char *learner = NULL, *params = NULL;
    int rc, mode, oom = 0, exists;
    if (!spec)
        spec = &none;
    if ((rc = store_check_name("model", model, err)) ||
        (rc = check_blob("version artifact", artifact, len, err)) ||
        (rc = store_check_text("version trigger", spec->trigger, TIDE_STORE_TRIGGER_MAX - 1, 0,
                               err)) ||
        (spec->learner && (rc = store_check_name("learner", spec->learner, err))) ||
        (rc = store_check_text("version params", spec->params, TIDE_STORE_JSON_MAX, 0, err)) ||
        (rc = store_check_text("version metrics", spec->metrics, TIDE_STORE_JSON_MAX, 0, err)))
        return rc;
    if (spec->parent < 0 || spec->first_seq < 0 || spec->last_seq < spec->first_seq ||
        spec->labels_seen < 0)
        return tide_err_set(err, TIDE_ERR_ARG,
                            "version of '%s': bad lineage/range (parent %lld, seq %lld..%lld, "
                            "labels %lld)",
                            model, (long long)spec->parent, (long long)spec->first_seq,
                            (long long)spec->last_seq, (long long)spec->labels_seen);
    if ((rc = store_txn_start(st, &mode, err)))
        return rc;
    if ((rc = store_model_id(st, model, &mid, err)))
        goto done;
    if (!(s = store_stmt(st, Q_MODEL_KIND, err))) {
        rc = QERR(err);
        goto done;
    }
    sqlite3_bind_int64(s, 1, mid);
    if (sqlite3_step(s) == SQLITE_ROW) {
        learner = store_col_dup(s, 0, &oom);
        params = store_col_dup(s, 1, &oom);
    }
    store_done(s);
    if (oom || !learner || !params) {
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory reading model '%s'", model);
        goto done;
    }
    if (spec->parent > 0) {
        if ((rc = version_exists(st, mid, spec->parent, &exists, err)))
            goto done;
        if (!exists) {
            rc = tide_err_set(err, TIDE_ERR_NOTFOUND,
                              "parent version %lld of model '%s' does not exist",
                              (long long)spec->parent, model);
            goto done;
        }
    }
    if (!(s = store_stmt(st, Q_VER_MAX, err))) {
        rc = QERR(err);
        goto done;
    }
    sqlite3_bind_int64(s, 1, mid);
    if (sqlite3_step(s) == SQLITE_ROW)
        next = sqlite3_column_int64(s, 0) + 1;
    store_done(s);
    if (next <= 0) {
        rc = store_sqlerr(st, "numbering a version", err);
        goto done;
    }
    if (!(s = store_stmt(st, Q_VER_INSERT, err))) {
        rc = QERR(err);
        goto done;
    }
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, next);
    sqlite3_bind_int64(s, 3, spec->parent);
    sqlite3_bind_int64(s, 4, store_now_ms());
    sqlite3_bind_text(s, 5, spec->trigger ? spec->trigger : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, spec->learner ? spec->learner : learner, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, spec->params ? spec->params : params, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, spec->first_seq);
    sqlite3_bind_int64(s, 9, spec->last_seq);
    sqlite3_bind_int64(s, 10, spec->labels_seen);
    sqlite3_bind_int64(s, 11, (int64_t)tide_checksum(artifact, len));
    sqlite3_bind_int64(s, 12, (int64_t)len);
    store_bind_text(s, 13, spec->metrics);
    bind_blob(s, 14, artifact, len);
    if ((rc = store_step_done(st, s, "storing a version", err)))
        goto done;
    if (version_out)
        *version_out = next;
done:
    free(learner);
    free(params);
    return store_txn_end(st, mode, rc, err);
}

static int read_version(sqlite3_stmt *s, tide_store_version *v)
{
    int oom = 0;
    memset(v, 0, sizeof *v);
    v->version = sqlite3_column_int64(s, 0);
    v->parent = sqlite3_column_int64(s, 1);
    v->created = sqlite3_column_int64(s, 2);
    store_col_copy(s, 3, v->trigger, sizeof v->trigger);
    store_col_copy(s, 4, v->learner, sizeof v->learner);
    v->params = store_col_dup(s, 5, &oom);
    v->first_seq = sqlite3_column_int64(s, 6);
    v->last_seq = sqlite3_column_int64(s, 7);
    v->labels_seen = sqlite3_column_int64(s, 8);
    v->checksum = (uint64_t)sqlite3_column_int64(s, 9);
    v->artifact_len = (size_t)sqlite3_column_int64(s, 10);
    v->metrics = store_col_dup(s, 11, &oom);
    if (oom || !v->params) {
        tide_store_version_clear(v);
        return TIDE_ERR_NOMEM;
    }
    return TIDE_OK;
}

static int read_version_rec(sqlite3_stmt *s, void *rec) { return read_version(s, rec); }
static void free_versions_rec(void *arr, size_t n) { tide_store_versions_free(arr, n); }

int tide_store_version_list(tide_store *st, const char *model, tide_store_version **out,
                            size_t *n, tide_err *err)
{
    sqlite3_stmt *s;
    void *arr;
    int64_t mid;
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_VER_LIST, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    rc = collect_rows(st, s, sizeof **out, read_version_rec, free_versions_rec,
                      "listing versions", &arr, n, err);
    if (rc == TIDE_OK)
        *out = arr;
    return rc;
}

int tide_store_version_get(tide_store *st, const char *model, int64_t version,
                           tide_store_version *out, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_VER_GET, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, version);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        if ((rc = read_version(s, out)))
            tide_err_set(err, rc, "out of memory reading a version");
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "model '%s' has no version %lld", model,
                          (long long)version);
    } else {
        rc = store_sqlerr(st, "reading a version", err);
    }
    store_done(s);
    return rc;
}

int tide_store_version_artifact(tide_store *st, const char *model, int64_t version,
                                void **artifact, size_t *len, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc;
    *artifact = NULL;
    *len = 0;
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_VER_ARTIFACT, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, version);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        char what[TIDE_STORE_NAME_MAX + 64];
        snprintf(what, sizeof what, "artifact of model '%s' version %lld", model,
                 (long long)version);
        rc = copy_checked_blob(s, 0, (uint64_t)sqlite3_column_int64(s, 1), what, artifact, len,
                               err);
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "model '%s' has no version %lld", model,
                          (long long)version);
    } else {
        rc = store_sqlerr(st, "reading an artifact", err);
    }
    store_done(s);
    return rc;
}

/* ---- aliases ------------------------------------------------------------------------- */
int tide_store_alias_set(tide_store *st, const char *model, const char *alias, int64_t version,
                         tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc, mode, exists;
    if ((rc = store_check_name("alias", alias, err)))
        return rc;
    if ((rc = store_txn_start(st, &mode, err)))
        return rc;
    if ((rc = store_model_id(st, model, &mid, err)) ||
        (rc = version_exists(st, mid, version, &exists, err)))
        goto done;
    if (!exists) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND,
                          "alias '%s': model '%s' has no version %lld", alias, model,
                          (long long)version);
        goto done;
    }
    if (!(s = store_stmt(st, Q_ALIAS_SET, err))) {
        rc = QERR(err);
        goto done;
    }
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_text(s, 2, alias, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, version);
    sqlite3_bind_int64(s, 4, store_now_ms());
    rc = store_step_done(st, s, "setting an alias", err);
done:
    return store_txn_end(st, mode, rc, err);
}

int tide_store_alias_resolve(tide_store *st, const char *model, const char *alias,
                             int64_t *version, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc;
    if ((rc = store_check_name("alias", alias, err)) ||
        (rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_ALIAS_GET, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_text(s, 2, alias, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(s, 0);
        rc = TIDE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "model '%s' has no alias '%s'", model, alias);
    } else {
        rc = store_sqlerr(st, "resolving an alias", err);
    }
    store_done(s);
    return rc;
}

int tide_store_alias_delete(tide_store *st, const char *model, const char *alias, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc;
    if ((rc = store_check_name("alias", alias, err)) ||
        (rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_ALIAS_DELETE, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_text(s, 2, alias, -1, SQLITE_STATIC);
    if ((rc = store_step_done(st, s, "deleting an alias", err)))
        return rc;
    if (sqlite3_changes(st->db) == 0)
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "model '%s' has no alias '%s'", model, alias);
    return TIDE_OK;
}

int tide_store_alias_list(tide_store *st, const char *model, tide_store_alias **out, size_t *n,
                          tide_err *err)
{
    sqlite3_stmt *s;
    tide_store_alias *arr = NULL;
    size_t len = 0, cap = 0;
    int64_t mid;
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_ALIAS_LIST, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 8;
            tide_store_alias *p = realloc(arr, nc * sizeof *p);
            if (!p) {
                store_done(s);
                free(arr);
                return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory listing aliases");
            }
            arr = p;
            cap = nc;
        }
        store_col_copy(s, 0, arr[len].alias, sizeof arr[len].alias);
        arr[len].version = sqlite3_column_int64(s, 1);
        arr[len].updated = sqlite3_column_int64(s, 2);
        len++;
    }
    if (rc != SQLITE_DONE) {
        rc = store_sqlerr(st, "listing aliases", err);
        store_done(s);
        free(arr);
        return rc;
    }
    store_done(s);
    *out = arr;
    *n = len;
    return TIDE_OK;
}

/* ---- per-version live metrics ------------------------------------------------------ */
int tide_store_metrics_save(tide_store *st, const char *model, int64_t version, const char *json,
                            tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc;
    if ((rc = store_check_text("metrics", json, TIDE_STORE_JSON_MAX, 1, err)) ||
        (rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (version < 0)
        return tide_err_set(err, TIDE_ERR_ARG, "metrics: version %lld is negative",
                            (long long)version);
    if (!(s = store_stmt(st, Q_METRICS_SAVE, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_int64(s, 3, store_now_ms());
    sqlite3_bind_text(s, 4, json, -1, SQLITE_STATIC);
    return store_step_done(st, s, "saving metrics", err);
}

int tide_store_metrics_load(tide_store *st, const char *model, int64_t version, char **json,
                            tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc, oom = 0;
    *json = NULL;
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_METRICS_LOAD, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, version);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *json = store_col_dup(s, 0, &oom);
        rc = (oom || !*json) ? tide_err_set(err, TIDE_ERR_NOMEM, "out of memory reading metrics")
                             : TIDE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "model '%s' has no metrics for version %lld",
                          model, (long long)version);
    } else {
        rc = store_sqlerr(st, "loading metrics", err);
    }
    store_done(s);
    return rc;
}
