/*
 * serve_int.h — private to src/serve: the pieces shared by the request
 * validator (req.c), the snapshot scheme (snap.c), the Prometheus registry
 * (prom.c) and the server (server.c, models.c).
 */
#ifndef TIDE_SERVE_INT_H
#define TIDE_SERVE_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "tide/feat.h"
#include "tide/learn.h"
#include "tide/serve.h"
#include "serve/fastjson.h"

/* ---- req.c ---------------------------------------------------------------- */
int serve_schema_from_json(const json_t *obj, tide_schema **out, tide_reqerr *e);
json_t *serve_schema_json(const tide_schema *s);
int serve_label_ok(const json_t *lab);
const char *serve_label_text(const json_t *lab, char *buf, size_t n, size_t *len);
int serve_instances_from_doc(json_t *doc, const tide_schema *schema, int need_label,
                             tide_instances *out, tide_reqerr *e);
json_t *serve_json_load(const char *body, size_t len, json_error_t *je);

/* ---- snap.c: immutable snapshots behind an atomic pointer ------------------
 * Scheme: hazard pointers (M. M. Michael, "Hazard Pointers: Safe Memory
 * Reclamation for Lock-Free Objects", IEEE TPDS 15(6), 2004). Each thread
 * owns one hazard slot. A reader loads the model's pointer, publishes it in
 * its slot and re-reads the pointer: if unchanged, the snapshot cannot be
 * freed until the slot is cleared. The (single) publisher of a model swaps
 * the pointer, retires the old snapshot, and frees every retired snapshot
 * that no slot names. Readers never block and never wait for the publisher;
 * the publisher never waits for readers (retired snapshots just stay
 * allocated until a later scan). */
typedef struct serve_snap {
    tide_model *m;          /* owned, immutable while published */
    int64_t seq;            /* last label seq learned into it */
    uint64_t labels;        /* labels learned in total */
    int64_t created_ms;     /* when it was published */
} serve_snap;

typedef struct serve_retired {
    serve_snap **v;
    size_t n, cap;
} serve_retired;

void serve_snap_free(serve_snap *s);
/* Reader side: returns the current snapshot protected by this thread's
 * hazard slot (NULL if none or no slot could be taken); call
 * serve_snap_release() when done. One snapshot per thread at a time. */
serve_snap *serve_snap_acquire(_Atomic(serve_snap *) *p);
void serve_snap_release(void);
/* Publisher side (one publisher per pointer, serialised by the caller):
 * installs s, retires the previous one and frees what no reader holds. */
void serve_snap_publish(_Atomic(serve_snap *) *p, serve_snap *s, serve_retired *r);
/* Frees all retired snapshots that no reader holds (called by publish). */
void serve_snap_scan(serve_retired *r);
/* Frees everything (no readers may remain). */
void serve_snap_retired_free(serve_retired *r);

/* ---- arena.c: per-thread bump allocator for jansson on the predict path ----
 * begin: jansson allocations of this thread come from the arena; end: all of
 * them are reclaimed at once (documents parsed in between must be released
 * before, on this thread, and must not escape). set(0)/set(prev) suspends
 * it, e.g. around json_dumps whose result outlives the request. */
void serve_arena_setup(void);
void serve_arena_begin(void);
int serve_arena_set(int on);
void serve_arena_end(void);

/* ---- jcache.c: the committer's join cache (see the file's header) ---------
 * One per model, used by the committer thread only. An entry equals the
 * committed state of its event; changes inside a transaction are undone by
 * jcache_undo() (rolled back) or kept by jcache_commit() (committed). */
typedef struct jentry {
    struct jentry *hnext;        /* hash chain */
    struct jentry *prev, *next;  /* insertion order, oldest first */
    uint64_t hash;               /* XXH3 of the id */
    int64_t row, time, version;  /* the event as stored */
    int64_t seq;                 /* its current label's seq, 0 = none */
    char *label;                 /* its current label (owned), NULL = none */
    uint64_t stamp;              /* committer: last item that joined through it */
    uint32_t nf, np, idlen;      /* sizes of what follows the struct: */
    int dead;                    /* invalidated (out of memory): a miss, freed later */
    /* tide_feat f[nf]: hashed features at serving time; double p[np]: the
     * logged probabilities; char id[idlen + 1] (jentry_f/_p/_id) */
} jentry;
static inline tide_feat *jentry_f(const jentry *e) { return (tide_feat *)(uintptr_t)(e + 1); }
static inline double *jentry_p(const jentry *e) { return (double *)(void *)(jentry_f(e) + e->nf); }
static inline char *jentry_id(const jentry *e) { return (char *)(jentry_p(e) + e->np); }

typedef struct jcache {
    jentry **b;                  /* buckets (nb, a power of two) */
    size_t nb, n;
    jentry *head, *tail;
    size_t bytes, max_bytes;     /* max_bytes 0 = disabled */
    struct jundo *u;             /* undo log of the open transaction */
    size_t nu, capu;
    int n_dead_check;            /* some entry is dead: sweep at the next trim */
    uint64_t evicted, expired, undos;   /* counters (committer thread) */
} jcache;

void jcache_init(jcache *c, size_t max_bytes);
void jcache_free(jcache *c);
/* The live entry for id, or NULL. */
jentry *jcache_get(jcache *c, const char *id);
/* The same in two steps, so a batch can prefetch every bucket first:
 * h = jcache_hash(id); jcache_prefetch(c, h); ... jcache_get_h(c, id, h). */
uint64_t jcache_hash(const char *id);
void jcache_prefetch(const jcache *c, uint64_t h);
jentry *jcache_get_h(jcache *c, const char *id, uint64_t h);
/* Adds a freshly logged event (undo-logged). -1 when not added (disabled,
 * out of memory, id present): always safe, later labels just miss. */
int jcache_add(jcache *c, const char *id, int64_t row, int64_t time, int64_t version,
               const tide_feat *f, size_t nf, const double *p, size_t np);
/* Records a newly stored label of e (undo-logged). */
void jcache_set_label(jcache *c, jentry *e, int64_t seq, const char *label);
/* The transaction committed: forget the undo log, evict to the budget. */
void jcache_commit(jcache *c);
/* The transaction rolled back: restore every change since the last commit. */
void jcache_undo(jcache *c);
/* Drops entries whose event time < cutoff (retention may have deleted the
 * event). No-op while a transaction's changes are pending. */
void jcache_expire(jcache *c, int64_t cutoff);

/* ---- prom.c: Prometheus registry ------------------------------------------ */
enum {
    EP_MODELS_LIST, EP_MODEL_CREATE, EP_MODEL_GET, EP_MODEL_DELETE, EP_PREDICT, EP_LABELS,
    EP_LABELS_EXPORT, EP_LEARN, EP_MODEL_METRICS, EP_VERSION_CREATE, EP_VERSIONS_LIST,
    EP_VERSION_GET, EP_ARTIFACT, EP_ALIAS, EP_ROLLBACK, EP_PROM, EP_HEALTHZ, EP_READYZ,
    EP_OTHER, EP_COUNT
};
extern const char *const SERVE_EP_NAMES[EP_COUNT];

#define PROM_NBUCKETS 14
typedef struct prom_hist {
    _Atomic uint64_t b[PROM_NBUCKETS + 1];  /* last = +Inf */
    _Atomic uint64_t sum_us;                /* sum in microseconds */
    _Atomic uint64_t count;
} prom_hist;

#define PROM_NSTATUS 13
typedef struct serve_prom {
    _Atomic uint64_t req[EP_COUNT][PROM_NSTATUS];
    prom_hist lat[EP_COUNT];               /* request latency */
    prom_hist commit;                      /* store commit latency */
    _Atomic uint64_t commit_batches, commit_items;
} serve_prom;

void prom_observe(prom_hist *h, const double *bounds, double v_seconds);
extern const double PROM_LAT_BOUNDS[PROM_NBUCKETS];     /* seconds, for latencies */
extern const double PROM_DELAY_BOUNDS[PROM_NBUCKETS];   /* seconds, for label delays */
void prom_count_request(serve_prom *p, int ep, int status, double seconds);
/* Appends the exposition of a histogram (name{labels}) to a growing string. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_put(sbuf *b, const char *s, size_t n);
/* Makes room for n more bytes (an estimate: sb_put still grows). */
void sb_reserve(sbuf *b, size_t n);
/* JSON string literal (quoted, escaped) of s[0..n). */
void sb_json_str(sbuf *b, const char *s, size_t n);
/* A double as printf's %.17g (exact round trip), an integer in decimal. */
void sb_double(sbuf *b, double v);
void sb_int(sbuf *b, long long v);
void prom_hist_write(sbuf *b, const char *name, const char *labels, const prom_hist *h,
                     const double *bounds);
void prom_write_requests(sbuf *b, const serve_prom *p);

#endif
