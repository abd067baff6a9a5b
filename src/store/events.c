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
        ev[i].out_row = 0;
        ev[i].out_time = 0;
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
        e->out_time = e->time ? e->time : now;
        sqlite3_bind_int64(s, 3, e->out_time);
        sqlite3_bind_text(s, 4, e->features, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, e->version);
        store_bind_text(s, 6, e->prediction);
        if ((rc = store_step_done(st, s, "logging an event", err))) {
            tide_err_prefix(err, "event %zu ('%s')", i, e->out_id);
            goto done;
        }
        if (sqlite3_changes(st->db) == 0)
            e->status = TIDE_ERR_CONFLICT;
        else
            e->out_row = sqlite3_last_insert_rowid(st->db);
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

void tide_store_verify_hints(tide_store *st, int on)
{
    if (st)
        st->verify_hints = on;
}

/* The event a label joins and its current label, as found by SQL. */
typedef struct join {
    int64_t row, time, version, mid;
    int64_t seq;      /* current label, 0 = none */
    char *label;      /* malloc'd current label text */
} join;

/* Looks the event up by (model name, id). *found = 0 when there is none. */
static int join_sql(tide_store *st, tide_store_label *l, join *j, int *found, tide_err *err)
{
    sqlite3_stmt *s;
    int rc, oom = 0;
    *found = 0;
    memset(j, 0, sizeof *j);
    if (!(s = store_stmt(st, l->want_event ? Q_EVENT_FIND_FULL : Q_EVENT_FIND, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, l->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, l->event_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        store_done(s);
        /* unknown model is an error of the request, unknown id an outcome */
        return store_model_id(st, l->model, &j->mid, err);
    }
    if (rc != SQLITE_ROW) {
        rc = store_sqlerr(st, "joining a label", err);
        store_done(s);
        return rc;
    }
    j->row = sqlite3_column_int64(s, 0);
    j->time = sqlite3_column_int64(s, 1);
    j->version = sqlite3_column_int64(s, 2);
    j->mid = sqlite3_column_int64(s, 3);
    if (l->want_event) {
        l->features = store_col_dup(s, 4, &oom);
        l->prediction = store_col_dup(s, 5, &oom);
    }
    store_done(s);
    if (oom)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory joining label for '%s'",
                            l->event_id);
    /* the event's current label, if any */
    if (!(s = store_stmt(st, Q_LABEL_LAST, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, j->row);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        j->seq = sqlite3_column_int64(s, 0);
        j->label = store_col_dup(s, 1, &oom);
        store_done(s);
        if (oom || !j->label)
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        store_done(s);
    } else {
        rc = store_sqlerr(st, "reading a label", err);
        store_done(s);
        return rc;
    }
    *found = 1;
    return TIDE_OK;
}

/* Checking mode: the caller's hint must say what SQL says. */
static int verify_hint(tide_store *st, tide_store_label *l, tide_err *err)
{
    join j;
    int found, rc, want = l->want_event;
    l->want_event = 0;
    rc = join_sql(st, l, &j, &found, err);
    l->want_event = want;
    if (rc)
        return rc;
    if (!found)
        rc = tide_err_set(err, TIDE_ERR_STATE, "hint for event '%s' names row %lld, the store has "
                          "no such event", l->event_id, (long long)l->hint_row);
    else if (j.row != l->hint_row || j.time != l->hint_time || j.version != l->hint_version ||
             j.mid != l->hint_model || j.seq != l->hint_seq ||
             (j.seq && (!l->hint_label || strcmp(j.label, l->hint_label))))
        rc = tide_err_set(err, TIDE_ERR_STATE,
                          "hint for event '%s' disagrees with the store: row %lld/%lld, time "
                          "%lld/%lld, version %lld/%lld, label seq %lld/%lld ('%s'/'%s')",
                          l->event_id, (long long)l->hint_row, (long long)j.row,
                          (long long)l->hint_time, (long long)j.time,
                          (long long)l->hint_version, (long long)j.version,
                          (long long)l->hint_seq, (long long)j.seq,
                          l->hint_label ? l->hint_label : "", j.label ? j.label : "");
    free(j.label);
    return rc;
}

/* Joins one label; hard errors return < 0, item outcomes go in l->status.
 * The join comes from the caller's hint when it gives one, else from SQL
 * (event by (model, id), then its last label). */
static int insert_one(tide_store *st, tide_store_label *l, int64_t now, int *deferred,
                      tide_err *err)
{
    sqlite3_stmt *s;
    int64_t row, mid, cur_seq, time = l->time ? l->time : now;
    const char *cur;
    join j = {0};
    int rc = TIDE_OK;
    if (l->hint_row > 0) {
        if (st->verify_hints && (rc = verify_hint(st, l, err)))
            return rc;
        row = l->hint_row;
        mid = l->hint_model;
        l->version = l->hint_version;
        l->delay = time - l->hint_time;
        cur_seq = l->hint_seq;
        cur = l->hint_seq > 0 ? l->hint_label : NULL;
        if (cur_seq > 0 && !cur)
            return tide_err_set(err, TIDE_ERR_ARG, "hint for event '%s': label seq without label",
                                l->event_id);
    } else {
        int found;
        if ((rc = join_sql(st, l, &j, &found, err)))
            goto out;
        if (!found) {
            l->status = TIDE_LABEL_UNKNOWN_ID;
            goto out;
        }
        row = j.row;
        mid = j.mid;
        l->version = j.version;
        l->delay = time - j.time;
        cur_seq = j.seq;
        cur = j.label;
    }
    if (cur_seq > 0) {
        l->seq = cur_seq;
        if (!strcmp(cur, l->label)) {
            l->status = TIDE_LABEL_IDEMPOTENT;
            goto out;
        }
        if (!(l->previous = strdup(cur))) {
            rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!l->overwrite) {
            l->status = TIDE_LABEL_CONFLICT;
            goto out;
        }
        l->status = TIDE_LABEL_OVERWRITTEN;
    } else {
        l->status = TIDE_LABEL_JOINED;
    }
    /* append: a hinted label joins the caller's multi-row INSERT (flush_run) */
    if (deferred && l->hint_row > 0) {
        l->seq = 0;   /* set by flush_run */
        *deferred = 1;
        goto out;
    }
    if (!(s = store_stmt(st, Q_LABEL_INSERT, err))) {
        rc = QERR(err);
        goto out;
    }
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_int64(s, 2, row);
    sqlite3_bind_text(s, 3, l->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, time);
    sqlite3_bind_int64(s, 5, l->delay);
    if ((rc = store_step_done(st, s, "storing a label", err)))
        goto out;
    l->seq = sqlite3_last_insert_rowid(st->db);
out:
    free(j.label);
    return rc;
}

/* INSERT of k labels in one statement; RETURNING gives each row's seq. */
static sqlite3_stmt *multi_stmt(tide_store *st, size_t k, tide_err *err)
{
    static const char head[] = "INSERT INTO labels(model_id, event_row, label, time, delay) VALUES ";
    static const char row[] = "(?,?,?,?,?),";
    static const char tail[] = "";
    char sql[sizeof head + STORE_MULTI_MAX * (sizeof row - 1) + sizeof tail];
    size_t n = sizeof head - 1;
    if (st->qmulti[k])
        return st->qmulti[k];
    memcpy(sql, head, n);
    for (size_t i = 0; i < k; i++, n += sizeof row - 1)
        memcpy(sql + n, row, sizeof row - 1);
    memcpy(sql + n - 1, tail, sizeof tail);   /* over the last comma */
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->qmulti[k], NULL) !=
        SQLITE_OK) {
        store_sqlerr(st, "preparing a statement", err);
        st->qmulti[k] = NULL;
    }
    return st->qmulti[k];
}

/* Verify mode: each seq given by flush_run holds its label's event. */
static int verify_seqs(tide_store *st, const tide_store_label *lb, const size_t *idx, size_t m,
                       tide_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = TIDE_OK;
    if (sqlite3_prepare_v2(st->db, "SELECT event_row, label FROM labels WHERE seq = ?1", -1, &s,
                           NULL) != SQLITE_OK)
        return store_sqlerr(st, "preparing a check", err);
    for (size_t j = 0; !rc && j < m; j++) {
        const tide_store_label *l = &lb[idx[j]];
        sqlite3_bind_int64(s, 1, l->seq);
        if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int64(s, 0) != l->hint_row ||
            strcmp((const char *)sqlite3_column_text(s, 1), l->label))
            rc = tide_err_set(err, TIDE_ERR_STATE, "label seq %lld is not the label of '%s'",
                              (long long)l->seq, l->event_id);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return rc;
}

/* Appends the deferred (hinted) labels lb[idx[0..k)] in item order, up to
 * STORE_MULTI_MAX per statement, and gives each its new seq: one statement
 * instead of one per label (one sqlite_sequence update, one VDBE program). */
static int flush_run(tide_store *st, tide_store_label *lb, const size_t *idx, size_t k,
                     int64_t now, tide_err *err)
{
    while (k) {
        size_t m = k < STORE_MULTI_MAX ? k : STORE_MULTI_MAX;
        sqlite3_stmt *s = multi_stmt(st, m, err);
        int rc;
        if (!s)
            return QERR(err);
        for (size_t j = 0; j < m; j++) {
            tide_store_label *l = &lb[idx[j]];
            int b = (int)j * 5;
            sqlite3_bind_int64(s, b + 1, l->hint_model);
            sqlite3_bind_int64(s, b + 2, l->hint_row);
            sqlite3_bind_text(s, b + 3, l->label, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, b + 4, l->time ? l->time : now);
            sqlite3_bind_int64(s, b + 5, l->delay);
        }
        rc = sqlite3_step(s);
        store_done(s);
        if (rc != SQLITE_DONE)
            return store_sqlerr(st, "storing labels", err);
        /* One statement inserts its VALUES rows in order, and AUTOINCREMENT
         * gives each the largest seq ever used + 1: the m rows hold the m
         * consecutive seqs ending at the last insert rowid (checked against
         * the table in verify mode). RETURNING would say the same at the
         * price of an ephemeral table per statement. */
        if (sqlite3_changes(st->db) != (int)m)
            return tide_err_set(err, TIDE_ERR_STATE, "multi-row label insert stored %d of %zu rows",
                                sqlite3_changes(st->db), m);
        {
            int64_t last = sqlite3_last_insert_rowid(st->db);
            for (size_t j = 0; j < m; j++)
                lb[idx[j]].seq = last - (int64_t)(m - 1 - j);
        }
        if (st->verify_hints && (rc = verify_seqs(st, lb, idx, m, err)))
            return rc;
        idx += m;
        k -= m;
    }
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
    /* Hinted labels to append are deferred into runs; a run is flushed
     * before any label joined by SQL (which must see it) and at the end,
     * so seqs still follow item order. */
    {
        size_t run_buf[STORE_MULTI_MAX], *run = n > STORE_MULTI_MAX ? malloc(n * sizeof *run)
                                                                    : run_buf;
        size_t k = 0;
        if (!run)
            rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        for (i = 0; !rc && i < n; i++) {
            int deferred = 0;
            if (k && (lb[i].hint_row <= 0 || st->verify_hints) &&
                (rc = flush_run(st, lb, run, k, now, err)))
                break;
            if (lb[i].hint_row <= 0 || st->verify_hints)
                k = 0;
            if ((rc = insert_one(st, &lb[i], now, &deferred, err))) {
                tide_err_prefix(err, "label %zu of %zu (model '%s', id '%s')", i, n, lb[i].model,
                                lb[i].event_id);
                break;
            }
            if (deferred)
                run[k++] = i;
        }
        if (!rc && k)
            rc = flush_run(st, lb, run, k, now, err);
        if (run != run_buf)
            free(run);
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

int tide_store_events_max_hex_id(tide_store *st, const char *model, const char *prefix,
                                 int ndig, uint64_t *out, tide_err *err)
{
    /* The (model_id, ext_id) index is walked backwards from the top of the
     * [prefix 0..0, prefix f..f] range; the GLOB skips caller ids of another
     * shape that sort inside it, so the first row is the answer. */
    /* pat: a prefix of up to 32 bytes, 8 bytes ("[0-9a-f]") per digit, NUL */
    char lo[80], hi[80], pat[32 + 16 * 8 + 1];
    size_t pl = prefix ? strlen(prefix) : 0;
    sqlite3_stmt *s = NULL;
    int64_t mid;
    int rc;
    *out = 0;
    if (ndig < 1 || ndig > 16 || pl > 32 || strpbrk(prefix ? prefix : "", "*?[]"))
        return tide_err_set(err, TIDE_ERR_ARG, "events: bad generated-id shape");
    snprintf(lo, sizeof lo, "%s%.*s", prefix ? prefix : "", ndig, "0000000000000000");
    snprintf(hi, sizeof hi, "%s%.*s", prefix ? prefix : "", ndig, "ffffffffffffffff");
    snprintf(pat, sizeof pat, "%s", prefix ? prefix : "");
    for (int i = 0; i < ndig; i++)
        strcat(pat, "[0-9a-f]");
    if ((rc = store_model_id(st, model, &mid, err)))
        return rc;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT ext_id FROM events WHERE model_id = ?1 AND ext_id BETWEEN ?2 "
                           "AND ?3 AND ext_id GLOB ?4 ORDER BY ext_id DESC LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK)
        return store_sqlerr(st, "finding the largest generated event id", err);
    sqlite3_bind_int64(s, 1, mid);
    sqlite3_bind_text(s, 2, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hi, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, pat, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        *out = id ? strtoull(id + pl, NULL, 16) : 0;
        rc = TIDE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = TIDE_OK;
    } else {
        rc = store_sqlerr(st, "finding the largest generated event id", err);
    }
    sqlite3_finalize(s);
    return rc;
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
