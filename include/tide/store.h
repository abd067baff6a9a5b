/*
 * tide/store.h — the embedded store behind `tide serve`: one SQLite database
 * (DIR/tide.db, WAL) holding models, live snapshots, immutable versions and
 * their aliases, logged prediction events, labels joined to them, per-version
 * metrics, access tokens and a tamper-evident audit log.
 *
 * The store never interprets a model: artifacts and snapshots are bytes
 * (produced by tide_model_save_buf, tide/learn.h). It checksums them (xxh64,
 * tide_checksum) and refuses to hand back bytes whose checksum changed.
 *
 * ---- durability ---------------------------------------------------------
 * journal_mode=WAL, synchronous=FULL: when a write call (or
 * tide_store_commit) returns TIDE_OK the data is on disk ("acknowledged
 * means durable"). Every write call that is made outside an explicit
 * transaction is its own transaction. Batch calls (events, labels) run in
 * ONE transaction: either every item's effect is committed or, on a hard
 * error (bad argument, I/O), none is. Per-item outcomes that are not errors
 * of the batch (a duplicate event id, a conflicting label) are reported in
 * the item's status field and do not abort the batch.
 *
 * ---- group commit -------------------------------------------------------
 * tide_store_begin / tide_store_commit wrap any number of write calls in
 * one transaction (one fsync). Inside such a transaction each batch call is
 * still atomic on its own (a SAVEPOINT; a single item needs none, its one
 * INSERT is atomic). Nothing written inside
 * is durable until tide_store_commit returns TIDE_OK; on any error the
 * caller calls tide_store_rollback and reports failure for every request of
 * the group.
 *
 * ---- thread-safety contract ---------------------------------------------
 * A tide_store handle is ONE SQLite connection plus its cached prepared
 * statements. It must be used by one thread at a time (no internal locking).
 * The intended server layout:
 *   - one writer handle, used only by the single writer thread, which makes
 *     every write (group commit of concurrent requests' events and labels);
 *   - one handle per reading thread (tide_store_open on the same DIR),
 *     used for gets/lists/artifact downloads. WAL lets readers run while
 *     the writer writes; a reader sees the last committed state.
 * Several writer handles on one DIR are safe (SQLite locks) but they
 * serialise and may wait up to the busy timeout (5 s) -> TIDE_ERR_IO.
 *
 * ---- portability --------------------------------------------------------
 * No absolute path is stored: a stopped DIR can be copied (tide.db plus any
 * tide.db-wal) and opened elsewhere. Schema changes are numbered migrations
 * (PRAGMA user_version + table schema_migrations), each applied in its own
 * transaction on open; a database written by a NEWER tide is refused
 * (TIDE_ERR_VERSION) instead of being damaged.
 *
 * ---- conventions --------------------------------------------------------
 * Times are milliseconds since the Unix epoch (int64). A time argument of 0
 * means "now". Names (models, tokens, aliases) are 1..TIDE_STORE_NAME_MAX-1
 * bytes of [A-Za-z0-9._-]. Event ids are 1..TIDE_STORE_ID_MAX-1 bytes of
 * printable ASCII (no spaces). JSON arguments are stored verbatim (the
 * store does not parse them; the server validates them).
 * Every call returns TIDE_OK or a negative TIDE_ERR_* and fills err.
 */
#ifndef TIDE_STORE_H
#define TIDE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tide/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TIDE_STORE_SCHEMA_VERSION 3   /* newest migration this build knows */
#define TIDE_STORE_NAME_MAX 128       /* names incl. NUL */
#define TIDE_STORE_ID_MAX 128         /* event ids incl. NUL */
#define TIDE_STORE_TASK_MAX 32
#define TIDE_STORE_TRIGGER_MAX 256
#define TIDE_STORE_SECRET_MAX 96      /* token secret incl. NUL */
#define TIDE_STORE_JSON_MAX (4u << 20)        /* features, params, metrics… */
#define TIDE_STORE_LABEL_MAX 4096             /* label text */
#define TIDE_STORE_BLOB_MAX (512u << 20)      /* artifact / snapshot bytes */

typedef struct tide_store tide_store;

/* ---- open / close --------------------------------------------------------- */

/* Opens (creating if needed) DIR and DIR/tide.db, sets WAL, synchronous=FULL,
 * foreign keys, a 5 s busy timeout, and applies pending migrations.
 * *out is NULL on error. A db whose user_version is newer than
 * TIDE_STORE_SCHEMA_VERSION fails with TIDE_ERR_VERSION. */
int tide_store_open(const char *dir, tide_store **out, tide_err *err);
/* Like tide_store_open but migrates only up to target_version (1..latest).
 * For migration tests and tools; a server uses tide_store_open. */
int tide_store_open_at(const char *dir, int target_version, tide_store **out, tide_err *err);
/* Finalises statements and closes the connection. NULL is a no-op. */
void tide_store_close(tide_store *st);
/* Schema version of the open db (PRAGMA user_version). */
int tide_store_schema_version(tide_store *st);

/* ---- transactions (group commit) ----------------------------------------- */
/* BEGIN IMMEDIATE: takes the write lock now. Nesting is an error
 * (TIDE_ERR_STATE). */
int tide_store_begin(tide_store *st, tide_err *err);
/* COMMIT: durable when it returns TIDE_OK. On failure the transaction is
 * rolled back. */
int tide_store_commit(tide_store *st, tide_err *err);
/* ROLLBACK; no-op outside a transaction. */
void tide_store_rollback(tide_store *st);
/* 1 while an explicit transaction is open. */
int tide_store_in_txn(const tide_store *st);

/* ---- models --------------------------------------------------------------- */
typedef struct tide_store_model {
    int64_t id;                          /* internal row id */
    char name[TIDE_STORE_NAME_MAX];
    char task[TIDE_STORE_TASK_MAX];      /* "binary" | "multiclass" | "regression" */
    char learner[TIDE_STORE_NAME_MAX];   /* learner kind, e.g. "logistic" */
    char *params;                        /* owned: "k=v k=v" text, never NULL */
    char *schema;                        /* owned: JSON text, NULL when none */
    int64_t created;                     /* ms */
    int64_t snapshot_seq;                /* label seq the live snapshot includes (0 = none) */
    int has_snapshot;                    /* 1 when a live snapshot is stored */
} tide_store_model;

/* Frees the owned fields (not m itself). */
void tide_store_model_clear(tide_store_model *m);
/* Frees an array returned by tide_store_model_list. NULL is a no-op. */
void tide_store_models_free(tide_store_model *arr, size_t n);

/* Creates a model. params may be NULL (""), schema may be NULL.
 * Existing name -> TIDE_ERR_CONFLICT. */
int tide_store_model_create(tide_store *st, const char *name, const char *task,
                            const char *learner, const char *params, const char *schema,
                            tide_err *err);
/* Fills *out (clear it with tide_store_model_clear). Unknown -> TIDE_ERR_NOTFOUND. */
int tide_store_model_get(tide_store *st, const char *name, tide_store_model *out, tide_err *err);
/* All models ordered by name; *out owned by caller (tide_store_models_free). */
int tide_store_model_list(tide_store *st, tide_store_model **out, size_t *n, tide_err *err);
/* Replaces the declared schema (e.g. inferred from the first rows). */
int tide_store_model_set_schema(tide_store *st, const char *name, const char *schema,
                                tide_err *err);
/* Deletes the model and everything that belongs to it (snapshot, versions,
 * aliases, events, labels, metrics). Audit entries are kept. */
int tide_store_model_delete(tide_store *st, const char *name, tide_err *err);

/* ---- live snapshot ---------------------------------------------------------- */
/* Stores the model's live state and the label seq it includes (every label
 * with seq <= label_seq has been learned). Replaces the previous snapshot. */
int tide_store_snapshot_save(tide_store *st, const char *model, const void *blob, size_t len,
                             int64_t label_seq, tide_err *err);
/* *blob is malloc'd (caller frees). No snapshot -> TIDE_ERR_NOTFOUND;
 * checksum mismatch -> TIDE_ERR_CHECKSUM. */
int tide_store_snapshot_load(tide_store *st, const char *model, void **blob, size_t *len,
                             int64_t *label_seq, tide_err *err);

/* ---- versions (immutable) ------------------------------------------------ */
typedef struct tide_store_version_new {
    int64_t parent;          /* parent version (lineage), 0 = none */
    const char *trigger;     /* why it was made: "api", "drift:adwin", … (NULL = "") */
    const char *learner;     /* NULL = the model's learner */
    const char *params;      /* NULL = the model's params */
    int64_t first_seq;       /* data range: first and last label seq trained on */
    int64_t last_seq;        /* (0, 0 = none) */
    int64_t labels_seen;     /* labels learned in total */
    const char *metrics;     /* JSON at creation, NULL = none */
} tide_store_version_new;

typedef struct tide_store_version {
    int64_t version;                      /* 1, 2, … per model */
    int64_t parent;                       /* 0 = none */
    int64_t created;                      /* ms */
    char trigger[TIDE_STORE_TRIGGER_MAX];
    char learner[TIDE_STORE_NAME_MAX];
    char *params;                         /* owned, never NULL */
    int64_t first_seq, last_seq;
    int64_t labels_seen;
    uint64_t checksum;                    /* xxh64 of the artifact */
    size_t artifact_len;
    char *metrics;                        /* owned JSON, NULL when none */
} tide_store_version;

void tide_store_version_clear(tide_store_version *v);
void tide_store_versions_free(tide_store_version *arr, size_t n);

/* Appends a version: number = previous max + 1 (*version_out). A parent that
 * does not exist for this model -> TIDE_ERR_NOTFOUND. */
int tide_store_version_create(tide_store *st, const char *model, const tide_store_version_new *spec,
                              const void *artifact, size_t len, int64_t *version_out,
                              tide_err *err);
/* Versions in ascending order (metadata only, no artifact). */
int tide_store_version_list(tide_store *st, const char *model, tide_store_version **out,
                            size_t *n, tide_err *err);
int tide_store_version_get(tide_store *st, const char *model, int64_t version,
                           tide_store_version *out, tide_err *err);
/* *artifact malloc'd; verified against the stored checksum
 * (TIDE_ERR_CHECKSUM on mismatch). */
int tide_store_version_artifact(tide_store *st, const char *model, int64_t version,
                                void **artifact, size_t *len, tide_err *err);

/* ---- aliases ("champion" -> 3) --------------------------------------------- */
typedef struct tide_store_alias {
    char alias[TIDE_STORE_NAME_MAX];
    int64_t version;
    int64_t updated;   /* ms */
} tide_store_alias;

/* Creates or moves the alias; the version must exist (TIDE_ERR_NOTFOUND). */
int tide_store_alias_set(tide_store *st, const char *model, const char *alias, int64_t version,
                         tide_err *err);
/* Unknown alias -> TIDE_ERR_NOTFOUND. */
int tide_store_alias_resolve(tide_store *st, const char *model, const char *alias,
                             int64_t *version, tide_err *err);
int tide_store_alias_delete(tide_store *st, const char *model, const char *alias, tide_err *err);
/* *out malloc'd array (free()), ordered by alias. */
int tide_store_alias_list(tide_store *st, const char *model, tide_store_alias **out, size_t *n,
                          tide_err *err);

/* ---- events (logged predictions) ------------------------------------------- */
typedef struct tide_store_event {
    /* in */
    const char *id;          /* caller's id; NULL or "" = generate one */
    int64_t time;            /* ms, 0 = now */
    const char *features;    /* JSON object text (required) */
    int64_t version;         /* version that served it, 0 = live/unversioned */
    const char *prediction;  /* JSON text, NULL = none */
    /* out */
    char out_id[TIDE_STORE_ID_MAX];  /* the effective id (caller's or generated) */
    int status;              /* TIDE_OK, or TIDE_ERR_CONFLICT: id already logged (not stored) */
    int64_t out_row;         /* the stored event's row (for tide_store_label.hint_row);
                              * 0 when not stored */
    int64_t out_time;        /* the effective time (ms) */
} tide_store_event;

/* Logs n events of one model in one transaction. A bad item (missing
 * features, bad id, oversized JSON) fails the whole batch with its index in
 * the message and nothing is stored. Unknown model -> TIDE_ERR_NOTFOUND. */
int tide_store_events_log(tide_store *st, const char *model, tide_store_event *ev, size_t n,
                          tide_err *err);

/* ---- labels ---------------------------------------------------------------- */
typedef enum {
    TIDE_LABEL_JOINED = 1,       /* first label for this event: stored, new seq */
    TIDE_LABEL_IDEMPOTENT = 2,   /* same label as the current one: nothing stored (seq = old) */
    TIDE_LABEL_CONFLICT = 3,     /* a different label exists and overwrite = 0: nothing stored */
    TIDE_LABEL_UNKNOWN_ID = 4,   /* no such event (never logged, or expired) */
    TIDE_LABEL_OVERWRITTEN = 5   /* different label with overwrite = 1: stored, new seq */
} tide_label_status;

const char *tide_label_status_name(int status);   /* "joined", "conflict", … */

typedef struct tide_store_label {
    /* in */
    const char *model;       /* model name (items of a batch may differ) */
    const char *event_id;
    const char *label;       /* label text, e.g. "1", "cat", "3.25" */
    int64_t time;            /* ms, 0 = now */
    int overwrite;
    int want_event;          /* 1: fill features/prediction below (malloc'd) */
    /* in, optional: the join as the caller already knows it. A single writer
     * may cache the committed state of the events it logged (row, time,
     * version, current label); with hint_row > 0 the store trusts these and
     * runs only the INSERT (no event lookup, no last-label lookup, nothing
     * read for want_event). A stale hint is the caller's bug: a deleted
     * event or model fails the batch (foreign keys); a wrong current label
     * is not detected unless tide_store_verify_hints() is on. */
    int64_t hint_model;      /* model row id (tide_store_model.id) */
    int64_t hint_row;        /* event row (tide_store_event.out_row); 0 = no hint */
    int64_t hint_time;       /* event time (ms) */
    int64_t hint_version;    /* version that served the event */
    int64_t hint_seq;        /* seq of the event's current label, 0 = none */
    const char *hint_label;  /* its text (when hint_seq > 0) */
    /* out */
    int status;              /* tide_label_status */
    int64_t seq;             /* label seq (new for JOINED/OVERWRITTEN, existing for
                              * IDEMPOTENT/CONFLICT, 0 for UNKNOWN_ID) */
    int64_t delay;           /* ms between the event and this label (join delay) */
    int64_t version;         /* version that served the event */
    char *features;          /* owned when want_event (free with tide_store_label_clear) */
    char *prediction;        /* owned when want_event, may stay NULL */
    char *previous;          /* owned: the earlier label for CONFLICT/OVERWRITTEN, else NULL */
} tide_store_label;

/* Frees the out strings of n items (not the array). */
void tide_store_labels_clear(tide_store_label *lb, size_t n);

/* Inserts n labels in one transaction, each joined by (model, event_id) with
 * its logged event; per-item status as above. Hard errors (unknown model,
 * bad argument, I/O) fail the whole batch and nothing is stored. */
int tide_store_labels_insert(tide_store *st, tide_store_label *lb, size_t n, tide_err *err);

/* Checking mode for tests: with on = 1 every hinted label is also joined
 * through SQL and a hint that disagrees with the store fails the batch with
 * TIDE_ERR_STATE naming the event. */
void tide_store_verify_hints(tide_store *st, int on);

/* One stored label joined with its event; pointers valid during the callback. */
typedef struct tide_store_label_row {
    int64_t seq;
    const char *event_id;
    const char *label;
    int64_t time;            /* label time */
    int64_t event_time;
    int64_t delay;
    int64_t version;         /* version that served the event */
    const char *features;    /* JSON */
    const char *prediction;  /* JSON or NULL */
} tide_store_label_row;

/* Return 0 to continue, anything else stops the iteration and is returned.
 * The callback may call other store functions on the same handle, except
 * the iteration it is called from (use a second handle for nested scans). */
typedef int (*tide_store_label_cb)(void *ctx, const tide_store_label_row *row);

/* Calls cb for the model's labels with seq > after_seq in ascending seq
 * order, at most limit rows (0 = all). Used to replay after a crash:
 * snapshot + labels after snapshot_seq = the state before the crash.
 * Overwritten labels appear twice (old then new), as they were learned. */
int tide_store_labels_after(tide_store *st, const char *model, int64_t after_seq, size_t limit,
                            tide_store_label_cb cb, void *ctx, tide_err *err);
/* Highest label seq stored for the model (0 = none). */
int tide_store_label_max_seq(tide_store *st, const char *model, int64_t *seq, tide_err *err);
/* Largest event id of the model that is `prefix` followed by exactly `ndig`
 * lowercase hex digits (the server's generated ids), as a number in *out;
 * 0 when there is none. ndig is 1..16. */
int tide_store_events_max_hex_id(tide_store *st, const char *model, const char *prefix,
                                 int ndig, uint64_t *out, tide_err *err);
/* Counts (for metrics/tests): events logged and labels stored for the model. */
int tide_store_counts(tide_store *st, const char *model, int64_t *events, int64_t *labels,
                      tide_err *err);

/* ---- retention ------------------------------------------------------------- */
/* Deletes events that have no label and whose time < now - max_age
 * (now = 0: current time). model NULL = every model. */
int tide_store_retention_sweep(tide_store *st, const char *model, int64_t now, int64_t max_age,
                               int64_t *deleted, tide_err *err);

/* ---- per-version metrics --------------------------------------------------- */
/* Upserts the live metrics JSON of (model, version) — version 0 = the live
 * unversioned model. Distinct from the immutable metrics at creation. */
int tide_store_metrics_save(tide_store *st, const char *model, int64_t version, const char *json,
                            tide_err *err);
/* *json malloc'd. None -> TIDE_ERR_NOTFOUND. */
int tide_store_metrics_load(tide_store *st, const char *model, int64_t version, char **json,
                            tide_err *err);

/* ---- audit log (tamper-evident hash chain) ---------------------------------- */
/* Entry i stores hash_i = BLAKE2b-256(hash_{i-1} || canonical(entry_i)),
 * hash_0 = 32 zero bytes; canonical() is the little-endian length-prefixed
 * encoding of (seq, time, actor, action, model, detail). Editing, deleting
 * or reordering any entry but the last breaks the chain at that entry.
 * (Truncating the tail is not detectable without an external anchor: keep
 * the last hash elsewhere if that matters.) */
#define TIDE_AUDIT_HASH_BYTES 32

typedef struct tide_store_audit_row {
    int64_t seq;
    int64_t time;
    const char *actor;       /* token name, "" = anonymous/local */
    const char *action;      /* "model.create", "label", "alias.set", … */
    const char *model;       /* "" when none */
    const char *detail;      /* JSON text, "" when none */
    uint8_t prev_hash[TIDE_AUDIT_HASH_BYTES];
    uint8_t hash[TIDE_AUDIT_HASH_BYTES];
} tide_store_audit_row;

typedef int (*tide_store_audit_cb)(void *ctx, const tide_store_audit_row *row);

/* Appends one entry (actor/model/detail may be NULL). */
int tide_store_audit_append(tide_store *st, const char *actor, const char *action,
                            const char *model, const char *detail, int64_t *seq_out,
                            tide_err *err);
/* Walks the whole chain. Intact: TIDE_OK, *first_broken = 0. Broken:
 * TIDE_ERR_CHECKSUM, *first_broken = seq of the first entry whose link does
 * not verify, message says why. *checked = entries verified before it. */
int tide_store_audit_verify(tide_store *st, int64_t *first_broken, int64_t *checked,
                            tide_err *err);
/* Entries with seq > after_seq ascending, at most limit (0 = all). */
int tide_store_audit_list(tide_store *st, int64_t after_seq, size_t limit,
                          tide_store_audit_cb cb, void *ctx, tide_err *err);

/* ---- tokens ------------------------------------------------------------------ */
/* Roles are ordered: admin may do what label may, label what predict may. */
typedef enum {
    TIDE_ROLE_PREDICT = 1,
    TIDE_ROLE_LABEL = 2,
    TIDE_ROLE_ADMIN = 3
} tide_role;

const char *tide_role_name(int role);   /* "predict" | "label" | "admin" | "?" */
int tide_role_parse(const char *s);     /* role, or 0 when unknown */

typedef struct tide_store_token {
    char name[TIDE_STORE_NAME_MAX];
    int role;             /* tide_role */
    int64_t created;      /* ms */
    int64_t revoked;      /* ms, 0 = active */
} tide_store_token;

/* Creates a token and writes its secret ("tide_<id>_<random>") into
 * secret (TIDE_STORE_SECRET_MAX bytes). The secret is returned only here:
 * the store keeps a salted BLAKE2b hash of it. Existing name ->
 * TIDE_ERR_CONFLICT (also for revoked names). */
int tide_store_token_create(tide_store *st, const char *name, int role,
                            char secret[TIDE_STORE_SECRET_MAX], tide_err *err);
/* Checks a presented secret in constant time (a few µs). On success fills
 * name (TIDE_STORE_NAME_MAX bytes, may be NULL) and *role. Malformed,
 * unknown, wrong or revoked -> TIDE_ERR_NOTFOUND (message says which; a
 * server answers 401 for all of them). */
int tide_store_token_verify(tide_store *st, const char *secret, char *name, int *role,
                            tide_err *err);
/* *out malloc'd (free()), ordered by name, revoked ones included. */
int tide_store_token_list(tide_store *st, tide_store_token **out, size_t *n, tide_err *err);
/* Unknown or already revoked -> TIDE_ERR_NOTFOUND. */
int tide_store_token_revoke(tide_store *st, const char *name, tide_err *err);
/* Number of active tokens. */
int tide_store_token_count(tide_store *st, int64_t *n, tide_err *err);
/* Number of tokens ever created, revoked ones included. A server runs open
 * only while this is 0: revoking the last token must not open it. */
int tide_store_token_count_all(tide_store *st, int64_t *n, tide_err *err);

#ifdef __cplusplus
}
#endif
#endif
