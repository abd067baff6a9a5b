/*
 * tide/serve.h — the HTTP JSON API of `tide serve` (issue 4): a model
 * server over libmicrohttpd + jansson with an embedded SQLite store.
 *
 * Two layers are public:
 *  1. The request validator: JSON request bodies -> rows of named values,
 *     checked against a model's feature schema (declared or inferred). It
 *     needs no HTTP and no store, so the fuzzer and unit tests drive it
 *     directly (fuzz/fuzz_request.c).
 *  2. The server: tide_server_new() opens the data directory, loads every
 *     model (snapshot + replay of the labels after it), and starts serving;
 *     tide_server_stop() drains and writes snapshots; tide_server_free().
 *
 * Concurrency (see src/serve/snap.c and docs/bench/serve.md): predictions
 * read an immutable model snapshot through an atomic pointer protected by
 * hazard pointers, so reads never wait for writes; one learner thread per
 * model applies committed labels to its own copy and publishes a fresh clone
 * every N labels or T ms; one committer thread batches label writes into a
 * single SQLite transaction (group commit) before any label is acknowledged.
 */
#ifndef TIDE_SERVE_H
#define TIDE_SERVE_H

#include "tide/common.h"
#include "tide/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- request validation ------------------------------------------------ */

/* Hard limits on untrusted bodies (each violation is a 400/413). */
#define TIDE_SERVE_MAX_FEATURES 4096     /* features per instance */
#define TIDE_SERVE_MAX_NAME 256          /* bytes in a feature name */
#define TIDE_SERVE_MAX_STR 4096          /* bytes in a categorical value */
#define TIDE_SERVE_MAX_BATCH 100000      /* instances/labels per request */
#define TIDE_SERVE_MAX_ID 127            /* bytes in a caller's event id (store limit) */

/* Why a request was refused: becomes the JSON error body
 * {"error": error, "field": field, "reason": reason} with HTTP status. */
typedef struct tide_reqerr {
    int status;          /* HTTP status: 400, 401, 403, 404, 405, 409, 413, 415 */
    char error[48];      /* short machine word: "unknown_feature", "bad_type", ... */
    char field[TIDE_SERVE_MAX_NAME + 16];   /* offending field, "" if none */
    char reason[320];    /* human sentence naming the input */
} tide_reqerr;

/* Fills e and returns -1 (so handlers can `return tide_reqerr_set(...)`). */
int tide_reqerr_set(tide_reqerr *e, int status, const char *error, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A feature schema: names with a type (number or category) and a required
 * flag. Immutable once built; safe to share between threads. */
typedef struct tide_schema tide_schema;

typedef enum { TIDE_FTYPE_NUM = 1, TIDE_FTYPE_CAT = 2 } tide_ftype;

/* CONSTRUCTOR from JSON text of the form
 *   {"x": "number", "colour": "category", "z": {"type": "number", "required": false}}
 * ("number"/"num", "category"/"cat"/"string"; required defaults to true).
 * On failure *out is NULL and e says which entry is wrong (status 400). */
int tide_schema_parse(const char *json, size_t len, tide_schema **out, tide_reqerr *e);
void tide_schema_free(tide_schema *s);            /* NULL is a no-op */
size_t tide_schema_count(const tide_schema *s);
/* Entry i: name, type, required. Returns NULL name past the end. */
const char *tide_schema_entry(const tide_schema *s, size_t i, tide_ftype *type, int *required);
/* JSON text of the schema in the accepted input form (malloc'd, caller frees). */
char *tide_schema_to_json(const tide_schema *s);

/* Schema inference from the first N learned rows: feed rows, then build. */
typedef struct tide_schema_infer tide_schema_infer;
int tide_schema_infer_new(tide_schema_infer **out);
void tide_schema_infer_free(tide_schema_infer *si);
/* Adds a row's names and types; a name seen with two types becomes the
 * type seen first (the second then fails validation). */
int tide_schema_infer_add(tide_schema_infer *si, const tide_row *row);
size_t tide_schema_infer_rows(const tide_schema_infer *si);
/* Features seen in every row are required; the rest optional. */
int tide_schema_infer_build(const tide_schema_infer *si, tide_schema **out);

/* Parsed instances of a request body. The rows' strings point into the
 * parsed document and live as long as the tide_instances. */
typedef struct tide_instances {
    size_t n;
    tide_row *rows;      /* n rows (fields owned by this struct) */
    const char **ids;    /* n caller ids, NULL where absent */
    int batch;           /* 1 when the body used {"instances": [...]} */
    void *doc_;          /* private: the parsed JSON document */
    tide_field *fields_; /* private: storage of every row's fields */
    char *labtxt_;       /* private: text of numeric labels */
    char *strs_;         /* private: the fast parser's copies of names, strings, ids */
    size_t *fspan_;      /* private: fast parser: offset and length in the body of
                            each instance's "features" object (2 per instance) */
} tide_instances;

/* Parses a predict/learn body: {"id"?: "...", "features": {...}} or
 * {"instances": [{...}, ...]}. With need_label, each instance must also
 * carry "label" (string or number), stored in row->target. schema may be
 * NULL (no schema yet: any names, types still checked). On failure returns
 * -1 with e filled (nothing allocated in *out). */
int tide_instances_parse(const char *body, size_t len, const tide_schema *schema,
                         int need_label, tide_instances *out, tide_reqerr *e);
void tide_instances_free(tide_instances *in);

/* Validates one row against a schema (unknown feature, wrong type, NaN/Inf,
 * missing required feature). Returns 0 or -1 with e filled. */
int tide_schema_check(const tide_schema *s, const tide_row *row, tide_reqerr *e);

/* ---- server -------------------------------------------------------------- */

typedef struct tide_server_opts {
    const char *data_dir;        /* required: holds tide.db and snapshots */
    const char *listen;          /* "HOST:PORT", default "127.0.0.1:8080"; port 0 = ephemeral */
    const char *config_path;     /* optional JSON config (models, limits) */
    int threads;                 /* HTTP worker threads (default 2 per online core, at
                                    most 64; 0 = thread per connection) */
    size_t max_body;             /* bytes, default 8 MiB; larger bodies get 413 */
    uint32_t publish_every;      /* learner publishes a snapshot every N labels (default 1000) */
    uint32_t publish_ms;         /* ... or every T ms when labels are pending (default 100) */
    uint32_t persist_every;      /* snapshot to disk every N labels (default 100000) */
    uint32_t infer_rows;         /* rows used to infer a schema (default 100) */
    uint32_t retention_s;        /* unlabelled events expire after this (default 7 days) */
    int log_events;              /* log every prediction as an event (default 1) */
    uint32_t learn_queue;        /* committed labels queued per learner before it
                                    switches to re-reading them from the store
                                    (default 100000; bounds memory) */
    uint32_t label_cache_mb;     /* per model: join cache of logged events (ids, rows,
                                    current labels, hashed features) so labels join
                                    in memory; MiB, default 256, 0 = off (config
                                    key "label_cache_mb") */
    /* for tests (config keys of the same names): */
    int verify_label_cache;      /* 1: the store re-checks every cached join by SQL */
    uint32_t fault_commit_every; /* N > 0: every Nth group commit is rolled back
                                    instead of committed (its requests get 500) */
    uint32_t fault_commit_delay_ms; /* each group commit sleeps this long before
                                    COMMIT, write lock held (a stalled disk) */
    uint32_t drain_ms;           /* shutdown: how long in-flight requests are waited
                                    for before the committer is drained (default
                                    10000; config key "drain_ms") */
} tide_server_opts;

void tide_server_opts_init(tide_server_opts *o);

typedef struct tide_server tide_server;

/* CONSTRUCTOR: opens the store, loads the models and starts listening.
 * On error *out is NULL. */
int tide_server_new(const tide_server_opts *o, tide_server **out, tide_err *err);
/* "HOST:PORT" actually bound (port resolved when 0 was asked). */
const char *tide_server_address(const tide_server *s);
/* Re-reads the config file (models declared there are created if missing). */
int tide_server_reload(tide_server *s, tide_err *err);
/* Stops accepting, drains in-flight requests and labels, writes snapshots. */
int tide_server_stop(tide_server *s, tide_err *err);
/* DESTRUCTOR (stops first if needed); NULL is a no-op. */
void tide_server_free(tide_server *s);

#ifdef __cplusplus
}
#endif
#endif
