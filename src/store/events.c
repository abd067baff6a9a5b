/*
 * events.c — the data side of the store: logged prediction events, labels
 * joined to them by (model, event id) with the idempotence rules of issue 4
 * (same label again = idempotent, a different one = conflict unless
 * overwrite), replay of labels after a snapshot, and retention of
 * unlabelled events (tide/store.h).
 *
 * Labels form an append-only log with a global AUTOINCREMENT seq: an
 * overwrite appends a new row instead of editing the old one, so replaying
 * "labels with seq > snapshot seq" reproduces exactly what the learner saw.
 * The current label of an event is its row with the highest seq.
 */
#include "store/store_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QERR(err) ((err) ? (err)->code : TIDE_ERR_IO)

const char *tide_label_status_name(int status)
{
    switch (status) {
    case TIDE_LABEL_JOINED: return "joined";
    case TIDE_LABEL_IDEMPOTENT: return "idempotent";
    case TIDE_LABEL_CONFLICT: return "conflict";
    case TIDE_LABEL_UNKNOWN_ID: return "unknown-id";
    case TIDE_LABEL_OVERWRITTEN: return "overwritten";
    default: return "?";
    }
}

/* ---- events ---------------------------------------------------------------- */

/* 128 random bits as 32 hex digits: collisions are not a practical concern. */
static void gen_id(char out[TIDE_STORE_ID_MAX])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, TIDE_STORE_ID_MAX, r, sizeof r);
}

int tide_store_events_log(tide_store *st, const char *model, tide_store_event *ev, size_t n,
                          tide_err *err)
{
    sqlite3_stmt *s = NULL;
    int64_t mid, now = store_now_ms();
    int rc, mode;
    size_t i;
    if (n > 0 && !ev)
        return tide_err_set(err, TIDE_ERR_ARG, "events: NULL array of %zu items", n);
    /* Validate everything first: a bad item fails the batch before any write. */
    for (i = 0; i < n; i++) {
        ev[i].status = TIDE_OK;
        ev[i].out_id[0] = '\0';
        if ((ev[i].id && *ev[i].id && (rc = store_check_id(ev[i].id, err))) ||
            (rc = store_check_text("features", ev[i].features, TIDE_STORE_JSON_MAX, 1, err)) ||
            (rc = store_check_text("prediction", ev[i].prediction, TIDE_STORE_JSON_MAX, 0, err))) {
            tide_err_prefix(err, "event %zu of %zu", i, n);
            return rc;
        }
        if (ev[i].version < 0 || ev[i].time < 0)
            return tide_err_set(err, TIDE_ERR_ARG, "event %zu of %zu: negative version or time", i,
                                n);
    }
    /* same reasoning as for labels: one event in an open transaction is a
     * single INSERT and needs no savepoint */
    if (n == 1 && !sqlite3_get_autocommit(st->db))
        mode = 0;
    else if ((rc = store_txn_start(st, &mode, err)))
        return rc;
    if ((rc = store_model_id(st, model, &mid, err)))
        goto done;
    if (!(s = store_stmt(st, Q_EVENT_INSERT, err))) {
        rc = QERR(err);
        goto done;
    }
    for (i = 0; i < n; i++) {
        tide_store_event *e = &ev[i];
        if (e->id && *e->id)
            snprintf(e->out_id, sizeof e->out_id, "%s", e->id);
        else
            gen_id(e->out_id);
        sqlite3_bind_int64(s, 1, mid);
        sqlite3_bind_text(s, 2, e->out_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, e->time ? e->time : now);
        sqlite3_bind_text(s, 4, e->features, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, e->version);
        store_bind_text(s, 6, e->prediction);
        if ((rc = store_step_done(st, s, "logging an event", err))) {
            tide_err_prefix(err, "event %zu ('%s')", i, e->out_id);
            goto done;
        }
        if (sqlite3_changes(st->db) == 0)
            e->status = TIDE_ERR_CONFLICT;
    }
done:
    return store_txn_end(st, mode, rc, err);
}

/* ---- labels ------------------------------------------------------------------ */
void tide_store_labels_clear(tide_store_label *lb, size_t n)
{
    if (!lb)
        return;
    for (size_t i = 0; i < n; i++) {
        free(lb[i].features);
        free(lb[i].prediction);
        free(lb[i].previous);
        lb[i].features = lb[i].prediction = lb[i].previous = NULL;
    }
}

static void reset_label_out(tide_store_label *l)
{
    l->status = 0;
    l->seq = 0;
    l->delay = 0;
    l->version = 0;
    l->features = l->prediction = l->previous = NULL;
}

/* Joins one label; hard errors return < 0, item outcomes go in l->status. */
static int insert_one(tide_store *st, tide_store_label *l, int64_t now, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t row, etime, mid, time = l->time ? l->time : now;
    int rc, oom = 0;
    /* 1. find the event (and its model) */
    if (!(s = store_stmt(st, l->want_event ? Q_EVENT_FIND_FULL : Q_EVENT_FIND, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, l->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, l->event_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        store_done(s);
        /* unknown model is an error of the request, unknown id an outcome */
        if ((rc = store_model_id(st, l->model, &mid, err)))
            return rc;
        l->status = TIDE_LABEL_UNKNOWN_ID;
        return TIDE_OK;
    }
    if (rc != SQLITE_ROW) {
        rc = store_sqlerr(st, "joining a label", err);
        store_done(s);
        return rc;
    }
    row = sqlite3_column_int64(s, 0);
    etime = sqlite3_column_int64(s, 1);
    l->version = sqlite3_column_int64(s, 2);
    mid = sqlite3_column_int64(s, 3);
    l->delay = time - etime;
    if (l->want_event) {
        l->features = store_col_dup(s, 4, &oom);
        l->prediction = store_col_dup(s, 5, &oom);
    }
    store_done(s);
    if (oom)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory joining label for '%s'",
                            l->event_id);
    /* 2. the event's current label, if any */
    if (!(s = store_stmt(st, Q_LABEL_LAST, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, row);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(s, 1);
        l->seq = sqlite3_column_int64(s, 0);
        if (old && !strcmp(old, l->label)) {
            store_done(s);
            l->status = TIDE_LABEL_IDEMPOTENT;
            return TIDE_OK;
        }
        l->previous = store_col_dup(s, 1, &oom);
        store_done(s);
        if (oom)
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        if (!l->overwrite) {
            l->status = TIDE_LABEL_CONFLICT;
            return TIDE_OK;
        }
        l->status = TIDE_LABEL_OVERWRITTEN;
    } else if (rc == SQLITE_DONE) {
        store_done(s);
        l->status = TIDE_LABEL_JOINED;
    } else {
        rc = store_sqlerr(st, "reading a label", err);
        store_done(s);
        return rc;
    }
    /* 3. append */
    if (!(s = store_stmt(st, Q_LABEL_INSERT, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, row);
    sqlite3_bind_text(s, 3, l->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, time);
    sqlite3_bind_int64(s, 5, l->delay);
    if ((rc = store_step_done(st, s, "storing a label", err)))
        return rc;
    l->seq = sqlite3_last_insert_rowid(st->db);
    return TIDE_OK;
}

int tide_store_labels_insert(tide_store *st, tide_store_label *lb, size_t n, tide_err *err)
{
    int64_t now = store_now_ms();
    int rc = TIDE_OK, mode;
    size_t i;
    if (n > 0 && !lb)
        return tide_err_set(err, TIDE_ERR_ARG, "labels: NULL array of %zu items", n);
    for (i = 0; i < n; i++) {
        reset_label_out(&lb[i]);
        if ((rc = store_check_name("model", lb[i].model, err)) ||
            (rc = store_check_id(lb[i].event_id, err)) ||
            (rc = store_check_text("label", lb[i].label, TIDE_STORE_LABEL_MAX, 1, err))) {
            tide_err_prefix(err, "label %zu of %zu", i, n);
            return rc;
        }
        if (lb[i].time < 0)
            return tide_err_set(err, TIDE_ERR_ARG, "label %zu of %zu: negative time", i, n);
    }
    /* A single label inside the caller's transaction needs no savepoint:
     * its only write is one INSERT, atomic by itself, and the outer
     * transaction already serialises the read-check-insert. This keeps the
     * group-commit path (many one-label requests per commit) cheap. */
    if (n == 1 && !sqlite3_get_autocommit(st->db))
        mode = 0;
    else if ((rc = store_txn_start(st, &mode, err)))
        return rc;
    for (i = 0; i < n; i++) {
        if ((rc = insert_one(st, &lb[i], now, err))) {
            tide_err_prefix(err, "label %zu of %zu (model '%s', id '%s')", i, n, lb[i].model,
                            lb[i].event_id);
            break;
        }
    }
    rc = store_txn_end(st, mode, rc, err);
    if (rc) {
        /* nothing was stored: do not report per-item outcomes */
        tide_store_labels_clear(lb, n);
        for (i = 0; i < n; i++)
            reset_label_out(&lb[i]);
    }
    return rc;
}

int tide_store_labels_after(tide_store *st, const char *model, int64_t after_seq, size_t limit,
                            tide_store_label_cb cb, void *ctx, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid;
    int rc;
    if (!cb)
        return tide_err_set(err, TIDE_ERR_ARG, "labels_after: no callback");
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!(s = store_stmt(st, Q_LABELS_AFTER, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, after_seq);
    sqlite3_bind_int64(s, 3, limit ? (int64_t)limit : -1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        tide_store_label_row r;
        int stop;
        r.seq = sqlite3_column_int64(s, 0);
        r.event_id = (const char *)sqlite3_column_text(s, 1);
        r.label = (const char *)sqlite3_column_text(s, 2);
        r.time = sqlite3_column_int64(s, 3);
        r.event_time = sqlite3_column_int64(s, 4);
        r.delay = sqlite3_column_int64(s, 5);
        r.version = sqlite3_column_int64(s, 6);
        r.features = (const char *)sqlite3_column_text(s, 7);
        r.prediction = (const char *)sqlite3_column_text(s, 8);
        if (!r.event_id || !r.label || !r.features) {
            store_done(s);
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory reading label %lld",
                                (long long)r.seq);
        }
        if ((stop = cb(ctx, &r)) != 0) {
            store_done(s);
            return stop;
        }
    }
    rc = rc == SQLITE_DONE ? TIDE_OK : store_sqlerr(st, "reading labels", err);
    store_done(s);
    return rc;
}

static int scalar_for_model(tide_store *st, store_q q, int64_t mid, int64_t *out, tide_err *err)
{
    sqlite3_stmt *s = store_stmt(st, q, err);
    int rc;
    if (!s)
        return QERR(err);
    sqlite3_bind_int64(s, 1, mid);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = TIDE_OK;
    } else {
        rc = store_sqlerr(st, "counting", err);
    }
    store_done(s);
    return rc;
}

int tide_store_label_max_seq(tide_store *st, const char *model, int64_t *seq, tide_err *err)
{
    int64_t mid;
    int rc = store_model_id(st, model, &mid, err);
    return rc ? rc : scalar_for_model(st, Q_LABEL_MAX, mid, seq, err);
}

int tide_store_counts(tide_store *st, const char *model, int64_t *events, int64_t *labels,
                      tide_err *err)
{
    int64_t mid, e = 0, l = 0;
    int rc;
    if ((rc = store_model_id(st, model, &mid, err)) ||
        (rc = scalar_for_model(st, Q_COUNT_EVENTS, mid, &e, err)) ||
        (rc = scalar_for_model(st, Q_COUNT_LABELS, mid, &l, err)))
        return rc;
    if (events)
        *events = e;
    if (labels)
        *labels = l;
    return TIDE_OK;
}

/* ---- retention ------------------------------------------------------------------ */
int tide_store_retention_sweep(tide_store *st, const char *model, int64_t now, int64_t max_age,
                               int64_t *deleted, tide_err *err)
{
    sqlite3_stmt *s;
    int64_t mid = 0, cutoff;
    int rc;
    if (deleted)
        *deleted = 0;
    if (max_age < 0)
        return tide_err_set(err, TIDE_ERR_ARG, "retention: max age %lld ms is negative",
                            (long long)max_age);
    if (model && (rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (!now)
        now = store_now_ms();
    cutoff = now - max_age;
    if (!(s = store_stmt(st, model ? Q_RETENTION_MODEL : Q_RETENTION_ALL, err)))
        return QERR(err);
    if (model) {
        sqlite3_bind_int64(s, 1, mid);
        sqlite3_bind_int64(s, 2, cutoff);
    } else {
        sqlite3_bind_int64(s, 1, cutoff);
    }
    if ((rc = store_step_done(st, s, "expiring events", err)))
        return rc;
    if (deleted)
        *deleted = sqlite3_changes(st->db);
    return TIDE_OK;
}
