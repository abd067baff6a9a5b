/*
 * server_int.h — private to src/serve: the server, its live models, learner
 * jobs and group-commit items (server.c: HTTP; models.c: learning, commits).
 */
#ifndef TIDE_SERVER_INT_H
#define TIDE_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve/serve_int.h"
#include "tide/store.h"

#define SERVE_MAX_VERSIONS_METRICS 256
#define SERVE_MAX_MODELS 1024
/* Bound on logged predictions waiting for the committer: beyond it new
 * predictions are answered but not logged (counted in
 * tide_events_dropped_total), so memory stays bounded under overload. */
#define SERVE_MAX_PENDING_EVENTS 500000
#define SERVE_SWEEP_SECONDS 60.0   /* retention sweep period */
/* Logged events per committer transaction, about (a request's events are
 * never split): bounds the size of the WAL. */
#define SERVE_COMMIT_MAX_EVENTS 8192


struct tide_server;
typedef struct tide_server tide_server;

/* A job for a model's learner thread. */
enum { LJ_LABEL = 1, LJ_REPLACE, LJ_FLUSH };
typedef struct ljob {
    struct ljob *next;
    int kind;
    int64_t seq;           /* LJ_LABEL: label seq in the store */
    int64_t version;       /* version that served the event / LJ_REPLACE: new base */
    double t_commit;       /* monotonic time the label was committed */
    char *features, *prediction, *label;   /* owned */
    tide_feat *f;          /* LJ_LABEL from the join cache instead of features/prediction:
                            * nf hashed features then np logged probabilities (p), one
                            * owned block */
    double *p;
    uint32_t nf, np;
    int packed;            /* f, p and label live in the job's own block */
    tide_model *replace;   /* LJ_REPLACE: new working model (owned) */
    int persist;           /* LJ_FLUSH: also write the snapshot */
    int sync, done, rc;    /* control jobs: a waiter blocks until done */
    char msg[TIDE_ERR_MSG_MAX];
} ljob;

typedef struct smodel {
    tide_server *srv;
    char name[TIDE_STORE_NAME_MAX];
    tide_task task;
    char learner[TIDE_STORE_NAME_MAX];
    char *params_txt;                  /* as stored: "k=v k=v" (bits=N included) */
    int bits;
    char *kv[TIDE_PARAMS_MAX];         /* learner settings */
    size_t n_kv;
    _Atomic(tide_schema *) schema;     /* NULL until declared or inferred; then immutable */
    int schema_done;                   /* learner thread: no more inference */
    int schema_new;                    /* learner thread: inferred, not yet stored */
    tide_schema_infer *infer;
    _Atomic(serve_snap *) live;        /* what predictions read */
    serve_retired retired;
    pthread_mutex_t pub_mu;            /* serialises publishers */
    _Atomic int64_t base_version;      /* registry version the live state descends from */
    /* learner thread */
    pthread_t th;
    int th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    ljob *qh, *qt;
    size_t qn;
    int stop;
    int behind;                        /* queue was full: catch up from the store */
    double oldest_behind;              /* commit time of the first label not queued */
    _Atomic int deleted;
    int64_t store_id;                  /* the model's row id in the store */
    jcache jc;                         /* committer thread: join cache of logged events */
    tide_model *work;                  /* the learner's private copy */
    int64_t work_seq;                  /* last label seq applied to work */
    uint64_t work_labels;
    uint64_t pending;                  /* applied since the last publish */
    uint64_t since_persist;
    uint64_t replayed;                 /* labels replayed at startup */
    double last_pub, oldest_pending;   /* monotonic seconds */
    tide_fvec fv;
    double *scratch_p, *scratch_q;
    /* progressive validation per version */
    pthread_mutex_t met_mu;
    struct vmet { int64_t version; struct tide_metrics *m; } *vm;
    size_t n_vm;
    /* counters */
    _Atomic uint64_t n_pred, n_learn, n_publish, n_apply_errors, n_events_dup, n_catchups;
    _Atomic uint64_t n_lab[6];         /* by tide_label_status */
    _Atomic uint64_t n_jc_hits, n_jc_misses;   /* labels joined through the cache / by SQL */
    _Atomic uint64_t jc_bytes, jc_entries;     /* the cache's size after the last commit */
    _Atomic int64_t stale_last_us, stale_max_us;
    prom_hist delay_hist, stale_hist;
    struct smodel *grave_next;
} smodel;

/* What the predict path hands the join cache with a logged event: the
 * hashed features and the probabilities it served (one owned block). */
typedef struct evpay {
    tide_feat *f;
    double *p;
    uint32_t nf, np;
    int packed;            /* f, p and label live in the job's own block */
} evpay;

/* A unit of work for the committer (one request, or async event logging). */
enum { CI_EVENTS = 1, CI_LABELS, CI_LEARN };
typedef struct citem {
    struct citem *next;
    int kind;
    smodel *m;
    tide_store_event *ev;      /* nev events (strings owned) */
    struct evpay *pay;         /* NULL or nev payloads for the join cache */
    size_t nev;
    tide_store_label *lb;      /* nlb labels (event_id, label owned) */
    jentry **lje;              /* committer: the cache entry each label joined through */
    char *strs;                /* NULL, or one block holding every event_id and label of lb */
    size_t nlb;
    int rc;
    char msg[TIDE_ERR_MSG_MAX];
    void (*done_fn)(tide_server *s, struct citem *c);   /* NULL: free after commit */
    void *req;                 /* the waiting request */
    char actor[TIDE_STORE_NAME_MAX];   /* token name for the audit entry */
    const char *audit_action;  /* non-NULL: audited in the same commit (one entry per
                                  action, actor and model of the group) */
    int audited;               /* committer: already counted in an entry */
} citem;

typedef struct tide_server_opts_int tide_server_opts_int;

struct tide_server {
    tide_server_opts o;
    int fastjson;               /* predict bodies through fastjson.cpp first (0 when the
                                   environment has TIDE_SERVE_NO_FASTJSON: tests compare) */
    char *data_dir, *config_path;
    char host[64];
    int port;
    char addr[96];
    struct MHD_Daemon *d;
    int lfd;                            /* thread pool: our listen socket (-1 = none) */
    pthread_t ath;                      /* thread pool: the acceptor */
    int ath_started;
    _Atomic int astop;                  /* acceptor: stop accepting */
    int suspend_ok;                     /* thread pool: suspend/resume connections */
    tide_store *wst;                    /* committer's handle */
    tide_store *mst;                    /* main thread's handle (startup, reload) */
    pthread_key_t st_key;               /* per-thread reader handles */
    int st_key_ok;
    /* models */
    pthread_rwlock_t mlock;
    smodel *models[SERVE_MAX_MODELS];
    size_t n_models;
    smodel *grave;                      /* deleted models, freed at shutdown */
    pthread_mutex_t admin_mu;           /* serialises create/delete/registry writes */
    /* committer */
    pthread_t cth;
    int cth_started;
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    citem *ch, *ct;
    size_t cn;
    int cstop;
    _Atomic int64_t pending_events;     /* logged predictions not yet committed */
    _Atomic uint64_t events_dropped;    /* predictions not logged (queue full) */
    _Atomic uint64_t body_fast, body_jansson;   /* predict bodies parsed by fastjson.cpp / by jansson */
    _Atomic uint64_t events_expired;    /* unlabelled events deleted by retention */
    _Atomic uint64_t next_event_id;     /* next generated event id (server.c gen_id) */
    uint64_t item_stamp;                /* committer: numbers the items it joins */
    uint64_t n_commits;                 /* committer: transactions attempted */
    /* waiting requests in thread-per-connection mode */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    /* auth */
    _Atomic int64_t tokens_checked_ms;
    _Atomic int64_t n_tokens;
    /* state */
    _Atomic int ready, draining, stopped;
    _Atomic int64_t inflight;
    double started;
    serve_prom prom;
};

/* models.c */
double serve_now(void);
int64_t serve_wall_ms(void);
int smodel_build(const smodel *m, tide_model **out, tide_err *err);
int smodel_set_params(smodel *m, const char *params, tide_err *err);
smodel *smodel_new(tide_server *s, const tide_store_model *sm, tide_err *err);
int smodel_start(smodel *m, tide_store *st, int64_t base_version, tide_err *err);
void smodel_stop(smodel *m);
void smodel_free(smodel *m);
int smodel_apply(smodel *m, const char *features, const char *label, const char *prediction,
                 int64_t version, tide_err *err);
int smodel_publish(smodel *m, tide_err *err);
int smodel_persist(smodel *m, tide_store *st, tide_err *err);
void smodel_enqueue(smodel *m, ljob *j);
void smodel_enqueue_labels(smodel *m, ljob *head, ljob *tail, size_t n, int lost,
                           double t_commit);
int smodel_sync(smodel *m, ljob *j);
json_t *smodel_metrics_json(smodel *m, int64_t only_version);
void smodel_prom(smodel *m, sbuf *b);
void citem_free(citem *c);
/* 0 when queued; -1 when the committer has stopped: c is then freed if it
 * has no done_fn, else it stays the caller's (see models.c). */
int committer_push(tide_server *s, citem *c);
int committer_start(tide_server *s, tide_err *err);
void committer_stop(tide_server *s);

#endif
