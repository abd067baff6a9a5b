/*
 * store.c — opening the embedded store (DIR/tide.db, SQLite in WAL mode with
 * synchronous=FULL), numbered schema migrations, the prepared-statement
 * cache, transactions (group commit) and shared helpers. The tables are
 * documented with the migrations below; the API in tide/store.h.
 *
 * Durability rests on SQLite's WAL guarantees: with synchronous=FULL the WAL
 * is fsync'd at every commit, so a commit that returned is on disk
 * (https://www.sqlite.org/wal.html, https://www.sqlite.org/pragma.html#pragma_synchronous).
 */
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- schema migrations ----------------------------------------------------
 * Migration N brings a database from user_version N-1 to N. Each runs in
 * its own transaction together with its schema_migrations row and the
 * user_version bump, so a crash leaves the db at N-1 or N, never between.
 * Append new migrations at the end; never edit a released one.
 *
 * Checksums (xxh64) are stored in INTEGER columns as the int64 bit pattern.
 * Times are ms since the epoch. Label and audit sequence numbers use
 * AUTOINCREMENT so a number is never reused, even after deletes. */
static const struct {
    const char *desc;
    const char *sql;
} MIGRATIONS[] = {
    {"models, versions, aliases, events, labels",
     "CREATE TABLE schema_migrations(\n"
     "  version INTEGER PRIMARY KEY, applied INTEGER NOT NULL, description TEXT NOT NULL);\n"
     "CREATE TABLE models(\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  name TEXT NOT NULL UNIQUE,\n"
     "  task TEXT NOT NULL,\n"
     "  learner TEXT NOT NULL,\n"
     "  params TEXT NOT NULL DEFAULT '',\n"
     "  schema_json TEXT,\n"
     "  created INTEGER NOT NULL,\n"
     "  snapshot BLOB,\n"                      /* live learner state */
     "  snapshot_checksum INTEGER,\n"
     "  snapshot_seq INTEGER NOT NULL DEFAULT 0,\n" /* label seq it includes */
     "  snapshot_time INTEGER);\n"
     "CREATE TABLE versions(\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
     "  version INTEGER NOT NULL,\n"
     "  parent INTEGER NOT NULL DEFAULT 0,\n"
     "  created INTEGER NOT NULL,\n"
     "  trig TEXT NOT NULL DEFAULT '',\n"
     "  learner TEXT NOT NULL,\n"
     "  params TEXT NOT NULL,\n"
     "  first_seq INTEGER NOT NULL DEFAULT 0,\n"
     "  last_seq INTEGER NOT NULL DEFAULT 0,\n"
     "  labels_seen INTEGER NOT NULL DEFAULT 0,\n"
     "  checksum INTEGER NOT NULL,\n"
     "  artifact_len INTEGER NOT NULL,\n"
     "  metrics TEXT,\n"
     "  artifact BLOB NOT NULL,\n"
     "  UNIQUE(model_id, version));\n"
     "CREATE TABLE aliases(\n"
     "  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
     "  alias TEXT NOT NULL,\n"
     "  version INTEGER NOT NULL,\n"
     "  updated INTEGER NOT NULL,\n"
     "  PRIMARY KEY(model_id, alias),\n"
     "  FOREIGN KEY(model_id, version) REFERENCES versions(model_id, version) ON DELETE CASCADE);\n"
     "CREATE TABLE events(\n"
     "  row INTEGER PRIMARY KEY,\n"
     "  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
     "  ext_id TEXT NOT NULL,\n"
     "  time INTEGER NOT NULL,\n"
     "  features TEXT NOT NULL,\n"
     "  version INTEGER NOT NULL DEFAULT 0,\n"
     "  prediction TEXT,\n"
     "  UNIQUE(model_id, ext_id));\n"
     "CREATE INDEX events_time ON events(model_id, time);\n"
     "CREATE TABLE labels(\n"
     "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
     "  event_row INTEGER NOT NULL REFERENCES events(row) ON DELETE CASCADE,\n"
     "  label TEXT NOT NULL,\n"
     "  time INTEGER NOT NULL,\n"
     "  delay INTEGER NOT NULL);\n"
     "CREATE INDEX labels_event ON labels(event_row, seq);\n"
     "CREATE INDEX labels_model ON labels(model_id, seq);\n"},
    {"audit log (hash chain) and access tokens",
     "CREATE TABLE audit(\n"
     "  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "  time INTEGER NOT NULL,\n"
     "  actor TEXT NOT NULL,\n"
     "  action TEXT NOT NULL,\n"
     "  model TEXT NOT NULL,\n"                /* a name, not a key: outlives the model */
     "  detail TEXT NOT NULL,\n"
     "  prev_hash BLOB NOT NULL,\n"
     "  hash BLOB NOT NULL);\n"
     "CREATE TABLE tokens(\n"
     "  name TEXT PRIMARY KEY,\n"
     "  tid TEXT NOT NULL UNIQUE,\n"           /* public lookup id inside the secret */
     "  role INTEGER NOT NULL,\n"
     "  salt BLOB NOT NULL,\n"
     "  hash BLOB NOT NULL,\n"
     "  created INTEGER NOT NULL,\n"
     "  revoked INTEGER NOT NULL DEFAULT 0);\n"},
    {"live metrics per version",
     "CREATE TABLE version_metrics(\n"
     "  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,\n"
     "  version INTEGER NOT NULL,\n"
     "  updated INTEGER NOT NULL,\n"
     "  metrics TEXT NOT NULL,\n"
     "  PRIMARY KEY(model_id, version));\n"},
};
#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))
_Static_assert(sizeof MIGRATIONS / sizeof MIGRATIONS[0] == TIDE_STORE_SCHEMA_VERSION,
               "TIDE_STORE_SCHEMA_VERSION must equal the number of migrations");

/* ---- statement cache --------------------------------------------------- */
static const char *const SQL[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT tide_batch",
    [Q_RELEASE] = "RELEASE tide_batch",
    [Q_ROLLBACK_TO] = "ROLLBACK TO tide_batch",
    [Q_MODEL_ID] = "SELECT id FROM models WHERE name = ?1",
    [Q_MODEL_INSERT] = "INSERT INTO models(name, task, learner, params, schema_json, created) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING",
    [Q_MODEL_GET] = "SELECT id, name, task, learner, params, schema_json, created, snapshot_seq, "
                    "snapshot IS NOT NULL FROM models WHERE name = ?1",
    [Q_MODEL_LIST] = "SELECT id, name, task, learner, params, schema_json, created, snapshot_seq, "
                     "snapshot IS NOT NULL FROM models ORDER BY name",
    [Q_MODEL_SET_SCHEMA] = "UPDATE models SET schema_json = ?2 WHERE name = ?1",
    [Q_MODEL_DELETE] = "DELETE FROM models WHERE name = ?1",
    [Q_SNAP_SAVE] = "UPDATE models SET snapshot = ?2, snapshot_checksum = ?3, snapshot_seq = ?4, "
                    "snapshot_time = ?5 WHERE name = ?1",
    [Q_SNAP_LOAD] = "SELECT snapshot, snapshot_checksum, snapshot_seq FROM models WHERE name = ?1",
    [Q_MODEL_KIND] = "SELECT learner, params FROM models WHERE id = ?1",
    [Q_VER_MAX] = "SELECT coalesce(max(version), 0) FROM versions WHERE model_id = ?1",
    [Q_VER_EXISTS] = "SELECT 1 FROM versions WHERE model_id = ?1 AND version = ?2",
    [Q_VER_INSERT] = "INSERT INTO versions(model_id, version, parent, created, trig, learner, "
                     "params, first_seq, last_seq, labels_seen, checksum, artifact_len, metrics, "
                     "artifact) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [Q_VER_LIST] = "SELECT version, parent, created, trig, learner, params, first_seq, last_seq, "
                   "labels_seen, checksum, artifact_len, metrics FROM versions "
                   "WHERE model_id = ?1 ORDER BY version",
    [Q_VER_GET] = "SELECT version, parent, created, trig, learner, params, first_seq, last_seq, "
                  "labels_seen, checksum, artifact_len, metrics FROM versions "
                  "WHERE model_id = ?1 AND version = ?2",
    [Q_VER_ARTIFACT] = "SELECT artifact, checksum FROM versions WHERE model_id = ?1 AND version = ?2",
    [Q_ALIAS_SET] = "INSERT INTO aliases(model_id, alias, version, updated) VALUES(?1, ?2, ?3, ?4) "
                    "ON CONFLICT(model_id, alias) DO UPDATE SET version = excluded.version, "
                    "updated = excluded.updated",
    [Q_ALIAS_GET] = "SELECT version FROM aliases WHERE model_id = ?1 AND alias = ?2",
    [Q_ALIAS_DELETE] = "DELETE FROM aliases WHERE model_id = ?1 AND alias = ?2",
    [Q_ALIAS_LIST] = "SELECT alias, version, updated FROM aliases WHERE model_id = ?1 ORDER BY alias",
    [Q_EVENT_INSERT] = "INSERT INTO events(model_id, ext_id, time, features, version, prediction) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(model_id, ext_id) DO NOTHING",
    [Q_EVENT_FIND] = "SELECT e.row, e.time, e.version, e.model_id FROM events e "
                     "JOIN models m ON m.id = e.model_id WHERE m.name = ?1 AND e.ext_id = ?2",
    [Q_EVENT_FIND_FULL] = "SELECT e.row, e.time, e.version, e.model_id, e.features, e.prediction "
                          "FROM events e JOIN models m ON m.id = e.model_id "
                          "WHERE m.name = ?1 AND e.ext_id = ?2",
    [Q_LABEL_LAST] = "SELECT seq, label FROM labels WHERE event_row = ?1 ORDER BY seq DESC LIMIT 1",
    [Q_LABEL_INSERT] = "INSERT INTO labels(model_id, event_row, label, time, delay) "
                       "VALUES(?1, ?2, ?3, ?4, ?5)",
    [Q_LABELS_AFTER] = "SELECT l.seq, e.ext_id, l.label, l.time, e.time, l.delay, e.version, "
                       "e.features, e.prediction FROM labels l JOIN events e ON e.row = l.event_row "
                       "WHERE l.model_id = ?1 AND l.seq > ?2 ORDER BY l.seq LIMIT ?3",
    [Q_LABEL_MAX] = "SELECT coalesce(max(seq), 0) FROM labels WHERE model_id = ?1",
    [Q_COUNT_EVENTS] = "SELECT count(*) FROM events WHERE model_id = ?1",
    [Q_COUNT_LABELS] = "SELECT count(*) FROM labels WHERE model_id = ?1",
    [Q_RETENTION_MODEL] = "DELETE FROM events WHERE model_id = ?1 AND time < ?2 AND NOT EXISTS "
                          "(SELECT 1 FROM labels l WHERE l.event_row = events.row)",
    [Q_RETENTION_ALL] = "DELETE FROM events WHERE time < ?1 AND NOT EXISTS "
                        "(SELECT 1 FROM labels l WHERE l.event_row = events.row)",
    [Q_METRICS_SAVE] = "INSERT INTO version_metrics(model_id, version, updated, metrics) "
                       "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(model_id, version) DO UPDATE SET "
                       "updated = excluded.updated, metrics = excluded.metrics",
    [Q_METRICS_LOAD] = "SELECT metrics FROM version_metrics WHERE model_id = ?1 AND version = ?2",
    [Q_AUDIT_LAST] = "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_NEXT_SEQ] = "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0), "
                         "coalesce((SELECT max(seq) FROM audit), 0)) + 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit(seq, time, actor, action, model, detail, prev_hash, hash) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_AUDIT_SCAN] = "SELECT seq, time, actor, action, model, detail, prev_hash, hash FROM audit "
                     "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens(name, tid, role, salt, hash, created) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    [Q_TOKEN_FIND] = "SELECT name, role, salt, hash, revoked FROM tokens WHERE tid = ?1",
    [Q_TOKEN_LIST] = "SELECT name, role, created, revoked FROM tokens ORDER BY name",
    [Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked = ?2 WHERE name = ?1 AND revoked = 0",
    [Q_TOKEN_COUNT] = "SELECT count(*) FROM tokens WHERE revoked = 0",
    [Q_TOKEN_COUNT_ALL] = "SELECT count(*) FROM tokens",
};

int store_sqlerr(tide_store *st, const char *what, tide_err *err)
{
    int rc = sqlite3_errcode(st->db);
    int code;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: code = TIDE_ERR_CONFLICT; break;
    case SQLITE_NOMEM: code = TIDE_ERR_NOMEM; break;
    case SQLITE_TOOBIG: code = TIDE_ERR_LIMIT; break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: code = TIDE_ERR_FORMAT; break;
    default: code = TIDE_ERR_IO; break;
    }
    return tide_err_set(err, code, "%s: %s (%s)", what, sqlite3_errmsg(st->db), st->path);
}

sqlite3_stmt *store_stmt(tide_store *st, store_q which, tide_err *err)
{
    if (!st->q[which]) {
        if (sqlite3_prepare_v3(st->db, SQL[which], -1, SQLITE_PREPARE_PERSISTENT, &st->q[which],
                               NULL) != SQLITE_OK) {
            store_sqlerr(st, "preparing a statement", err);
            st->q[which] = NULL;
            return NULL;
        }
    }
    return st->q[which];
}

void store_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

int store_step_done(tide_store *st, sqlite3_stmt *s, const char *what, tide_err *err)
{
    int rc = sqlite3_step(s);
    int out = TIDE_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        out = store_sqlerr(st, what, err);
    store_done(s);
    return out;
}

static int run_q(tide_store *st, store_q q, const char *what, tide_err *err)
{
    sqlite3_stmt *s = store_stmt(st, q, err);
    if (!s)
        return err ? err->code : TIDE_ERR_IO;
    return store_step_done(st, s, what, err);
}

/* ---- transactions -------------------------------------------------------- */
enum { TXN_NONE = 0, TXN_OWN = 1, TXN_SAVEPOINT = 2 };

int store_txn_start(tide_store *st, int *mode, tide_err *err)
{
    int rc;
    *mode = TXN_NONE;
    if (sqlite3_get_autocommit(st->db)) {
        rc = run_q(st, Q_BEGIN, "starting a transaction", err);
        if (rc == TIDE_OK)
            *mode = TXN_OWN;
    } else {
        rc = run_q(st, Q_SAVEPOINT, "starting a savepoint", err);
        if (rc == TIDE_OK)
            *mode = TXN_SAVEPOINT;
    }
    return rc;
}

int store_txn_end(tide_store *st, int mode, int rc, tide_err *err)
{
    if (mode == TXN_OWN) {
        if (rc == TIDE_OK) {
            rc = run_q(st, Q_COMMIT, "committing", err);
            if (rc != TIDE_OK && !sqlite3_get_autocommit(st->db))
                run_q(st, Q_ROLLBACK, "rolling back", NULL);
        } else if (!sqlite3_get_autocommit(st->db)) {
            run_q(st, Q_ROLLBACK, "rolling back", NULL);
        }
    } else if (mode == TXN_SAVEPOINT) {
        if (rc != TIDE_OK)
            run_q(st, Q_ROLLBACK_TO, "rolling back a savepoint", NULL);
        int r2 = run_q(st, Q_RELEASE, "releasing a savepoint", rc == TIDE_OK ? err : NULL);
        if (rc == TIDE_OK)
            rc = r2;
    }
    return rc;
}

int tide_store_begin(tide_store *st, tide_err *err)
{
    int rc;
    if (!st)
        return tide_err_set(err, TIDE_ERR_ARG, "tide_store_begin: NULL store");
    if (st->explicit_txn || !sqlite3_get_autocommit(st->db))
        return tide_err_set(err, TIDE_ERR_STATE, "a transaction is already open on %s", st->path);
    rc = run_q(st, Q_BEGIN, "starting a transaction", err);
    if (rc == TIDE_OK)
        st->explicit_txn = 1;
    return rc;
}

int tide_store_commit(tide_store *st, tide_err *err)
{
    int rc;
    if (!st || !st->explicit_txn)
        return tide_err_set(err, TIDE_ERR_STATE, "commit without an open transaction");
    st->explicit_txn = 0;
    rc = run_q(st, Q_COMMIT, "committing", err);
    if (rc != TIDE_OK && !sqlite3_get_autocommit(st->db))
        run_q(st, Q_ROLLBACK, "rolling back", NULL);
    return rc;
}

void tide_store_rollback(tide_store *st)
{
    if (!st)
        return;
    st->explicit_txn = 0;
    if (!sqlite3_get_autocommit(st->db))
        run_q(st, Q_ROLLBACK, "rolling back", NULL);
}

int tide_store_in_txn(const tide_store *st) { return st && st->explicit_txn; }

/* ---- helpers --------------------------------------------------------------- */
int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_check_name(const char *what, const char *s, tide_err *err)
{
    size_t n;
    if (!s || !*s)
        return tide_err_set(err, TIDE_ERR_ARG, "%s name is empty", what);
    n = strlen(s);
    if (n >= TIDE_STORE_NAME_MAX)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s name '%.40s…' is longer than %d bytes", what,
                            s, TIDE_STORE_NAME_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return tide_err_set(err, TIDE_ERR_ARG,
                                "%s name '%s' has a character outside [A-Za-z0-9._-] at byte %zu",
                                what, s, i);
    }
    return TIDE_OK;
}

int store_check_id(const char *s, tide_err *err)
{
    size_t n;
    if (!s || !*s)
        return tide_err_set(err, TIDE_ERR_ARG, "event id is empty");
    n = strlen(s);
    if (n >= TIDE_STORE_ID_MAX)
        return tide_err_set(err, TIDE_ERR_LIMIT, "event id '%.40s…' is longer than %d bytes", s,
                            TIDE_STORE_ID_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return tide_err_set(err, TIDE_ERR_ARG,
                                "event id '%.60s' has a non-printable or space byte at %zu", s, i);
    return TIDE_OK;
}

int store_check_text(const char *what, const char *s, size_t max, int required, tide_err *err)
{
    if (!s) {
        if (required)
            return tide_err_set(err, TIDE_ERR_ARG, "%s is missing", what);
        return TIDE_OK;
    }
    if (strnlen(s, max + 1) > max)
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s is longer than %zu bytes", what, max);
    return TIDE_OK;
}

int store_model_id(tide_store *st, const char *name, int64_t *id, tide_err *err)
{
    sqlite3_stmt *s;
    int rc = store_check_name("model", name, err);
    if (rc)
        return rc;
    if (!(s = store_stmt(st, Q_MODEL_ID, err)))
        return err ? err->code : TIDE_ERR_IO;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        rc = TIDE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "no model named '%s'", name);
    } else {
        rc = store_sqlerr(st, "looking up a model", err);
    }
    store_done(s);
    return rc;
}

char *store_col_dup(sqlite3_stmt *s, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    char *c;
    if (!t)
        return NULL;
    c = malloc((size_t)n + 1);
    if (!c) {
        *oom = 1;
        return NULL;
    }
    memcpy(c, t, (size_t)n);
    c[n] = '\0';
    return c;
}

void store_col_copy(sqlite3_stmt *s, int col, char *out, size_t outlen)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, outlen, "%s", t ? (const char *)t : "");
}

int store_bind_text(sqlite3_stmt *s, int idx, const char *txt)
{
    if (!txt)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, txt, -1, SQLITE_STATIC);
}

/* ---- open / migrate / close ------------------------------------------------ */
static int exec_sql(tide_store *st, const char *sql, const char *what, tide_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = store_sqlerr(st, what, err);
        sqlite3_free(msg);
        return rc;
    }
    return TIDE_OK;
}

static int read_user_version(tide_store *st, int *v, tide_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return store_sqlerr(st, "reading the schema version", err);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int(s, 0);
        rc = TIDE_OK;
    } else {
        rc = store_sqlerr(st, "reading the schema version", err);
    }
    sqlite3_finalize(s);
    return rc;
}

static int newer_error(tide_store *st, int v, tide_err *err)
{
    return tide_err_set(err, TIDE_ERR_VERSION,
                        "%s has schema version %d, newer than this tide understands (%d): "
                        "open it with a newer tide",
                        st->path, v, TIDE_STORE_SCHEMA_VERSION);
}

static int migrate(tide_store *st, int target, tide_err *err)
{
    int v, rc;
    char sql[160];
    rc = read_user_version(st, &v, err);
    if (rc)
        return rc;
    if (v > TIDE_STORE_SCHEMA_VERSION)
        return newer_error(st, v, err);
    for (int next = v + 1; next <= target; next++) {
        sqlite3_stmt *s = NULL;
        if ((rc = exec_sql(st, "BEGIN IMMEDIATE", "starting a migration", err)))
            return rc;
        /* Another process may have migrated while we waited for the lock. */
        if ((rc = read_user_version(st, &v, err)))
            goto fail;
        if (v > TIDE_STORE_SCHEMA_VERSION) {
            rc = newer_error(st, v, err);
            goto fail;
        }
        if (v >= next) {
            exec_sql(st, "COMMIT", "committing", NULL);
            next = v;
            continue;
        }
        if ((rc = exec_sql(st, MIGRATIONS[next - 1].sql, "applying a schema migration", err))) {
            tide_err_prefix(err, "migration %d (%s)", next, MIGRATIONS[next - 1].desc);
            goto fail;
        }
        if (sqlite3_prepare_v2(st->db,
                               "INSERT INTO schema_migrations(version, applied, description) "
                               "VALUES(?1, ?2, ?3)",
                               -1, &s, NULL) != SQLITE_OK) {
            rc = store_sqlerr(st, "recording a migration", err);
            goto fail;
        }
        sqlite3_bind_int(s, 1, next);
        sqlite3_bind_int64(s, 2, store_now_ms());
        sqlite3_bind_text(s, 3, MIGRATIONS[next - 1].desc, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? TIDE_OK
                                            : store_sqlerr(st, "recording a migration", err);
        sqlite3_finalize(s);
        if (rc)
            goto fail;
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", next);
        if ((rc = exec_sql(st, sql, "setting the schema version", err)))
            goto fail;
        if ((rc = exec_sql(st, "COMMIT", "committing a migration", err)))
            goto fail;
        continue;
    fail:
        if (!sqlite3_get_autocommit(st->db))
            exec_sql(st, "ROLLBACK", "rolling back", NULL);
        return rc;
    }
    return TIDE_OK;
}

/* Process-wide SQLite settings, applied once before the first connection:
 * no memory-usage statistics (each of SQLite's allocations would otherwise
 * take a global mutex: a few % of a label's insert). Harmless if SQLite was
 * initialised before (the call then fails and nothing changes). */
static void sqlite_once(void) { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int tide_store_open_at(const char *dir, int target, tide_store **out, tide_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    tide_store *st = NULL;
    int rc;
    struct stat sb;
    if (out)
        *out = NULL;
    if (!dir || !*dir || !out)
        return tide_err_set(err, TIDE_ERR_ARG, "store: no data directory given");
    if (target < 1 || target > TIDE_STORE_SCHEMA_VERSION)
        return tide_err_set(err, TIDE_ERR_ARG, "store: schema version %d is not in 1..%d", target,
                            TIDE_STORE_SCHEMA_VERSION);
    if (sodium_init() < 0)
        return tide_err_set(err, TIDE_ERR_IO, "store: libsodium failed to initialise");
    pthread_once(&once, sqlite_once);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return tide_err_set(err, TIDE_ERR_IO, "cannot create data directory '%s': %s", dir,
                            strerror(errno));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return tide_err_set(err, TIDE_ERR_IO, "data directory '%s' is not a directory", dir);
    st = calloc(1, sizeof *st);
    if (!st)
        return tide_err_set(err, TIDE_ERR_NOMEM, "store: out of memory");
    if ((size_t)snprintf(st->path, sizeof st->path, "%s/tide.db", dir) >= sizeof st->path) {
        rc = tide_err_set(err, TIDE_ERR_LIMIT, "data directory path '%.80s…' is too long", dir);
        goto fail;
    }
    if (sqlite3_open_v2(st->path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = st->db ? store_sqlerr(st, "opening the database", err)
                    : tide_err_set(err, TIDE_ERR_NOMEM, "store: out of memory opening %s", st->path);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 0);
    sqlite3_busy_timeout(st->db, 5000);
    /* journal_mode=WAL is persistent in the file; the others are per
     * connection. The first statement also detects a file that is not a
     * database (TIDE_ERR_FORMAT). */
    if ((rc = exec_sql(st, "PRAGMA journal_mode = WAL", "enabling WAL", err)) ||
        (rc = exec_sql(st, "PRAGMA synchronous = FULL", "setting synchronous=FULL", err)) ||
        (rc = exec_sql(st, "PRAGMA foreign_keys = ON", "enabling foreign keys", err)))
        goto fail;
    /* A label joins through three B-tree lookups (event by id, its last
     * label, the insert); with the default 2 MiB page cache a large events
     * index falls out of cache and every miss is a pread. 64 MiB of cache
     * plus memory-mapped reads keep the hot indexes in memory (measured in
     * docs/bench/store.md). Best effort: not fatal if refused. */
    exec_sql(st, "PRAGMA cache_size = -65536", "setting the cache size", NULL);
    exec_sql(st, "PRAGMA mmap_size = 268435456", "enabling mmap", NULL);
    if ((rc = migrate(st, target, err)))
        goto fail;
    *out = st;
    return TIDE_OK;
fail:
    tide_store_close(st);
    return rc;
}

int tide_store_open(const char *dir, tide_store **out, tide_err *err)
{
    return tide_store_open_at(dir, TIDE_STORE_SCHEMA_VERSION, out, err);
}

int tide_store_schema_version(tide_store *st)
{
    int v = -1;
    if (!st || read_user_version(st, &v, NULL))
        return -1;
    return v;
}

void tide_store_close(tide_store *st)
{
    if (!st)
        return;
    if (st->db && !sqlite3_get_autocommit(st->db))
        exec_sql(st, "ROLLBACK", "rolling back", NULL);
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(st->q[i]);
    for (int i = 0; i <= STORE_MULTI_MAX; i++)
        sqlite3_finalize(st->qmulti[i]);
    sqlite3_close(st->db);
    free(st);
}
