/*
 * store_int.h — internals shared by the files of the store module
 * (the .c files of src/store): the handle, the prepared-statement cache, transaction
 * helpers and input validation. Not a public API (see tide/store.h).
 */
#ifndef TIDE_STORE_INT_H
#define TIDE_STORE_INT_H

#include <sqlite3.h>

#include "tide/store.h"

/* Every SQL statement the store runs more than once, prepared on first use
 * and kept for the life of the handle (no per-row re-prepare). */
typedef enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q_MODEL_ID,
    Q_MODEL_INSERT,
    Q_MODEL_GET,
    Q_MODEL_LIST,
    Q_MODEL_SET_SCHEMA,
    Q_MODEL_DELETE,
    Q_SNAP_SAVE,
    Q_SNAP_LOAD,
    Q_MODEL_KIND,
    Q_VER_MAX,
    Q_VER_EXISTS,
    Q_VER_INSERT,
    Q_VER_LIST,
    Q_VER_GET,
    Q_VER_ARTIFACT,
    Q_ALIAS_SET,
    Q_ALIAS_GET,
    Q_ALIAS_DELETE,
    Q_ALIAS_LIST,
    Q_EVENT_INSERT,
    Q_EVENT_FIND,
    Q_EVENT_FIND_FULL,
    Q_LABEL_LAST,
    Q_LABEL_INSERT,
    Q_LABELS_AFTER,
    Q_LABEL_MAX,
    Q_COUNT_EVENTS,
    Q_COUNT_LABELS,
    Q_RETENTION_MODEL,
    Q_RETENTION_ALL,
    Q_METRICS_SAVE,
    Q_METRICS_LOAD,
    Q_AUDIT_LAST,
    Q_AUDIT_NEXT_SEQ,
    Q_AUDIT_INSERT,
    Q_AUDIT_SCAN,
    Q_TOKEN_INSERT,
    Q_TOKEN_FIND,
    Q_TOKEN_LIST,
    Q_TOKEN_REVOKE,
    Q_TOKEN_COUNT,
    Q_TOKEN_COUNT_ALL,
    Q__COUNT
} store_q;

/* Hinted labels are appended by one multi-row INSERT of up to this many rows. */
#define STORE_MULTI_MAX 64

struct tide_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];   /* prepared lazily, finalised on close */
    sqlite3_stmt *qmulti[STORE_MULTI_MAX + 1];   /* INSERT of k labels, k = 1..MAX */
    int explicit_txn;            /* tide_store_begin is open */
    int verify_hints;            /* tide_store_verify_hints: check hinted joins by SQL */
    char path[4096];             /* DIR/tide.db as given (for messages) */
};

/* Returns the cached statement (reset, bindings cleared) or NULL with err. */
sqlite3_stmt *store_stmt(tide_store *st, store_q which, tide_err *err);
/* Resets a statement after use so it releases read locks. */
void store_done(sqlite3_stmt *s);
/* Maps the connection's last SQLite error to a TIDE_ERR_* with "what: msg". */
int store_sqlerr(tide_store *st, const char *what, tide_err *err);
/* Runs a statement that returns no row (or ignores rows). */
int store_step_done(tide_store *st, sqlite3_stmt *s, const char *what, tide_err *err);

/* Atomic section: BEGIN IMMEDIATE when no transaction is open, else a
 * SAVEPOINT inside the caller's transaction. *mode records which. */
int store_txn_start(tide_store *st, int *mode, tide_err *err);
/* Commits/releases when rc == TIDE_OK, else rolls back; returns the final
 * status (a failed COMMIT turns TIDE_OK into an error). */
int store_txn_end(tide_store *st, int mode, int rc, tide_err *err);

int64_t store_now_ms(void);
/* Validation: names [A-Za-z0-9._-]{1,127}; ids printable ASCII {1,127}. */
int store_check_name(const char *what, const char *s, tide_err *err);
int store_check_id(const char *s, tide_err *err);
int store_check_text(const char *what, const char *s, size_t max, int required, tide_err *err);
/* Model name -> row id; unknown -> TIDE_ERR_NOTFOUND. */
int store_model_id(tide_store *st, const char *name, int64_t *id, tide_err *err);
/* malloc'd copy of a text column (NULL when the column is NULL); sets *oom
 * when allocation fails. */
char *store_col_dup(sqlite3_stmt *s, int col, int *oom);
/* Copies a text column into a fixed buffer (truncating). */
void store_col_copy(sqlite3_stmt *s, int col, char *out, size_t outlen);
/* Binds text (NULL binds SQL NULL). */
int store_bind_text(sqlite3_stmt *s, int idx, const char *txt);

#endif
