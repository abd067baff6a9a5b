/*
 * server.c — the HTTP side of `tide serve`: libmicrohttpd daemon, routing of
 * the /v1 API, bearer-token authentication with roles, JSON answers and
 * errors, Prometheus exposition, startup (open store, load models, replay)
 * and shutdown (drain, snapshots).
 *
 * Threading: a pool of MHD worker threads (epoll) answers requests. Reads
 * (predict, GET) run entirely on the worker. Writes that must be durable
 * (labels, learn) are queued to the committer thread and the connection is
 * suspended (MHD_suspend_connection) until its group commit is done, so a
 * couple of workers can keep hundreds of label requests in flight and every
 * fsync is shared by all of them. With threads = 0 the daemon runs one
 * thread per connection and the worker blocks on a condition variable
 * instead. Each worker lazily opens its own store handle (SQLite WAL lets
 * readers run beside the committer).
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve/server_int.h"
#include "tide/eval.h"
#include "tide/feat.h"

#define ROLE_NONE 0
#define SERVE_LIVE_ALIAS "live"   /* alias naming the version the live state descends from */
#define JSON_CT "application/json"

typedef struct req {
    tide_server *s;
    struct MHD_Connection *conn;
    char *body;
    size_t len, cap;
    int too_big;
    double t0;
    int ep;
    int ready;                 /* response below is set */
    int waiting;               /* queued to the committer */
    int done;                  /* thread-per-connection: committer finished */
    int batch;                 /* the body was a batch: answer in batch form */
    int status;
    char *resp;                /* malloc'd body */
    size_t resp_len;
    const char *ctype;
    char hname[32], hval[128]; /* one extra header (Allow, Content-Disposition) */
    char actor[TIDE_STORE_NAME_MAX];
    _Atomic(citem *) item;     /* the committed item, handed back by the committer */
} req;

/* ---- responses ------------------------------------------------------------------ */

static void set_resp(req *r, int status, char *body, size_t len, const char *ctype)
{
    free(r->resp);
    r->status = status;
    r->resp = body;
    r->resp_len = len;
    r->ctype = ctype;
    r->ready = 1;
}

static void reply_json(req *r, int status, json_t *j)
{
    char *txt;
    int arena = serve_arena_set(0);   /* the answer outlives the request's arena */
    txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    serve_arena_set(arena);
    if (!txt) {
        static const char oom[] = "{\"error\":\"internal\",\"field\":\"\",\"reason\":\"out of memory\"}";
        txt = strdup(oom);
        status = 500;
    }
    set_resp(r, status, txt, txt ? strlen(txt) : 0, JSON_CT);
}

static void reply_err(req *r, const tide_reqerr *e)
{
    int arena = serve_arena_set(0);
    reply_json(r, e->status ? e->status : 400,
               json_pack("{s:s,s:s,s:s}", "error", e->error, "field", e->field, "reason",
                         e->reason));
    serve_arena_set(arena);
}

static void reply_errf(req *r, int status, const char *error, const char *field, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
static void reply_errf(req *r, int status, const char *error, const char *field, const char *fmt,
                       ...)
{
    tide_reqerr e;
    va_list ap;
    e.status = status;
    snprintf(e.error, sizeof e.error, "%s", error);
    snprintf(e.field, sizeof e.field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e.reason, sizeof e.reason, fmt, ap);
    va_end(ap);
    reply_err(r, &e);
}

static int status_of(int code)
{
    switch (code) {
    case TIDE_ERR_NOTFOUND: return 404;
    case TIDE_ERR_CONFLICT: return 409;
    case TIDE_ERR_ARG: case TIDE_ERR_PARSE: case TIDE_ERR_LIMIT: return 400;
    default: return 500;
    }
}

static void reply_tide_err(req *r, int code, const tide_err *err, const char *field)
{
    int st = status_of(code);
    reply_errf(r, st, st == 404 ? "not_found" : st == 409 ? "conflict" : st == 400 ? "bad_request"
                                                                                     : "internal",
               field, "%s", err->msg[0] ? err->msg : tide_strerror(code));
}

/* ---- per-thread store handles ------------------------------------------------------ */

static void close_store(void *p) { tide_store_close(p); }

static tide_store *thread_store(tide_server *s, tide_err *err)
{
    tide_store *st = pthread_getspecific(s->st_key);
    if (st)
        return st;
    if (tide_store_open(s->data_dir, &st, err))
        return NULL;
    pthread_setspecific(s->st_key, st);
    return st;
}

/* ---- models table ------------------------------------------------------------------- */

static smodel *find_model(tide_server *s, const char *name)
{
    smodel *m = NULL;
    pthread_rwlock_rdlock(&s->mlock);
    for (size_t i = 0; i < s->n_models; i++)
        if (!strcmp(s->models[i]->name, name)) {
            m = s->models[i];
            break;
        }
    pthread_rwlock_unlock(&s->mlock);
    return m;
}

static int name_ok(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l >= TIDE_STORE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < l; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ---- authentication ------------------------------------------------------------------ */

typedef struct tok_cache {
    uint64_t h;
    char secret[TIDE_STORE_SECRET_MAX];
    char name[TIDE_STORE_NAME_MAX];
    int role;
    double expires;
} tok_cache;
static _Thread_local tok_cache tl_tok[8];
static _Thread_local unsigned tl_tok_next;
static _Thread_local const tide_server *tl_tok_srv;

#define TOKEN_TTL 1.0   /* seconds a verified token (or the token count) is trusted */

/* The store could not say whether a token is valid (database locked,
 * corrupt, unreadable): 503, so a client does not take its valid token for
 * rejected. */
static int auth_store_failed(req *r, const char *what, const tide_err *err)
{
    reply_errf(r, 503, "unavailable", "Authorization",
               "the token store failed while %s, so the token could not be checked: %s", what,
               err->msg[0] ? err->msg : tide_strerror(err->code));
    return -1;
}

/* 0 if allowed; else the reply is set (401/403, or 503 when the store fails). */
static int check_auth(req *r, int need)
{
    tide_server *s = r->s;
    const char *h;
    char secret[TIDE_STORE_SECRET_MAX];
    int64_t now = serve_wall_ms();
    tide_err err;
    tide_store *st;
    uint64_t hh;
    double t = serve_now();
    if (need == ROLE_NONE)
        return 0;
    if (now - atomic_load(&s->tokens_checked_ms) > (int64_t)(TOKEN_TTL * 1000)) {
        /* on failure the count is not trusted (nor refreshed): every request
         * retries it, and none is let in on a stale count of 0 */
        int64_t n = 0;
        tide_err_clear(&err);
        st = thread_store(s, &err);
        if (!st || tide_store_token_count_all(st, &n, &err))
            return auth_store_failed(r, "counting the tokens", &err);
        atomic_store(&s->n_tokens, n);
        atomic_store(&s->tokens_checked_ms, now);
    }
    if (atomic_load(&s->n_tokens) == 0) {
        snprintf(r->actor, sizeof r->actor, "%s", "");
        return 0;
    }
    h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) || strlen(h + 7) == 0 ||
        strlen(h + 7) >= sizeof secret) {
        reply_errf(r, 401, "unauthorized", "Authorization",
                   "this server requires 'Authorization: Bearer <token>'");
        return -1;
    }
    snprintf(secret, sizeof secret, "%s", h + 7);
    hh = tide_checksum(secret, strlen(secret));
    if (tl_tok_srv != s) {
        memset(tl_tok, 0, sizeof tl_tok);
        tl_tok_srv = s;
    }
    for (int i = 0; i < 8; i++)
        if (tl_tok[i].h == hh && tl_tok[i].expires > t && !strcmp(tl_tok[i].secret, secret)) {
            snprintf(r->actor, sizeof r->actor, "%s", tl_tok[i].name);
            if (tl_tok[i].role < need)
                goto weak;
            return 0;
        }
    {
        char name[TIDE_STORE_NAME_MAX] = "";
        int role = 0;
        tok_cache *c;
        int vrc;
        tide_err_clear(&err);
        st = thread_store(s, &err);
        if (!st)
            return auth_store_failed(r, "opening the database", &err);
        vrc = tide_store_token_verify(st, secret, name, &role, &err);
        if (vrc == TIDE_ERR_NOTFOUND) {   /* unknown, malformed, wrong secret, revoked */
            reply_errf(r, 401, "unauthorized", "Authorization", "the bearer token is not valid");
            return -1;
        }
        if (vrc)
            return auth_store_failed(r, "verifying the token", &err);
        c = &tl_tok[tl_tok_next++ % 8];
        c->h = hh;
        snprintf(c->secret, sizeof c->secret, "%s", secret);
        snprintf(c->name, sizeof c->name, "%s", name);
        c->role = role;
        c->expires = t + TOKEN_TTL;
        snprintf(r->actor, sizeof r->actor, "%s", name);
        if (role < need)
            goto weak;
        return 0;
    }
weak:
    reply_errf(r, 403, "forbidden", "Authorization",
               "token '%s' may not do this: the %s role is required", r->actor,
               tide_role_name(need));
    return -1;
}

static void audit(req *r, const char *action, const char *model, json_t *detail)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    char *txt = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (!st || tide_store_audit_append(st, r->actor, action, model, txt, NULL, &err))
        fprintf(stderr, "tide serve: audit '%s' not recorded: %s\n", action, err.msg);
    free(txt);
}

/* ---- JSON helpers ------------------------------------------------------------------------ */

static json_t *load_body(req *r, int allow_empty)
{
    json_error_t je;
    json_t *doc;
    if (r->len == 0) {
        if (allow_empty)
            return json_object();
        reply_errf(r, 400, "malformed_json", "", "the request body is empty; a JSON object is expected");
        return NULL;
    }
    doc = serve_json_load(r->body, r->len, &je);
    if (!doc) {
        reply_errf(r, 400, "malformed_json", "", "body is not valid JSON (line %d, column %d): %s",
                   je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        reply_errf(r, 400, "bad_request", "", "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

static const char *class_name(const tide_model *m, int k, char *buf, size_t n)
{
    const char *nm = m->labels ? tide_labels_name(m->labels, k) : NULL;
    char t[12], *p = t + sizeof t;
    unsigned u = k < 0 ? 0u : (unsigned)k;
    if (nm)
        return nm;
    /* the class index in decimal (a model that has seen no label yet) */
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if ((size_t)(t + sizeof t - p) > n)
        return "?";
    memcpy(buf, p, (size_t)(t + sizeof t - p));
    return buf;
}

static json_t *model_json(smodel *m)
{
    serve_snap *sn;
    tide_schema *sc = atomic_load(&m->schema);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "name", m->name, "task",
                          tide_task_name(m->task), "learner", m->learner, "params",
                          m->params_txt ? m->params_txt : "", "bits", m->bits, "version",
                          (json_int_t)atomic_load(&m->base_version));
    json_object_set_new(o, "schema", sc ? serve_schema_json(sc) : json_null());
    sn = serve_snap_acquire(&m->live);
    if (sn) {
        json_object_set_new(o, "labels_seen", json_integer((json_int_t)sn->labels));
        json_object_set_new(o, "snapshot_seq", json_integer((json_int_t)sn->seq));
    }
    serve_snap_release();
    json_object_set_new(o, "predictions", json_integer((json_int_t)atomic_load(&m->n_pred)));
    return o;
}

/* ---- handlers ------------------------------------------------------------------------------ */

/* Per-thread scratch of the predict path, freed when the thread exits. */
typedef struct scratch {
    tide_fvec fv;
    double proba[TIDE_MAX_CLASSES + 1];
    sbuf cls;                            /* a request's class names as JSON strings, */
    size_t coff[TIDE_MAX_CLASSES + 1];   /* class c = cls.p[coff[c], coff[c + 1]) */
} scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local scratch *tl_scratch;

static void scratch_free(void *p)
{
    scratch *sc = p;
    if (sc) {
        tide_fvec_free(&sc->fv);
        free(sc->cls.p);
        free(sc);
    }
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

static scratch *my_scratch(void)
{
    if (tl_scratch)
        return tl_scratch;
    pthread_once(&scratch_once, scratch_init);
    tl_scratch = calloc(1, sizeof *tl_scratch);
    if (tl_scratch) {
        tide_fvec_init(&tl_scratch->fv);
        (void)pthread_setspecific(scratch_key, tl_scratch);
    }
    return tl_scratch;
}

/* A generated event id: "ev-" and 16 hex digits of the server's counter.
 * The counter starts above both the wall clock in ms << 20 and every
 * generated id already stored (serve_init_event_ids), so ids stay unique
 * across restarts even when the clock steps back, and are increasing:
 * each new event's key lands at the right edge of the store's
 * (model, ext_id) index instead of at a random leaf, which is what made
 * logging cost a page write per event (measured in docs/bench/serve.md). */
static void gen_id(tide_server *s, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t z;
    if (n < 20)
        return;
    z = atomic_fetch_add_explicit(&s->next_event_id, 1, memory_order_relaxed);
    /* "ev-" and 16 hex digits, as "ev-%016llx" but without printf */
    memcpy(out, "ev-", 3);
    for (int i = 0; i < 16; i++)
        out[3 + i] = hex[(z >> (60 - 4 * i)) & 15];
    out[19] = '\0';
}

static json_t *instance_features(const tide_instances *in, size_t i)
{
    json_t *doc = in->doc_;
    json_t *inst = in->batch ? json_array_get(json_object_get(doc, "instances"), i) : doc;
    return json_object_get(inst, "features");
}

static void h_predict_body(req *r, smodel *m);

/* The request's JSON lives in a per-thread arena (src/serve/arena.c). */
static void h_predict(req *r, smodel *m)
{
    serve_arena_begin();
    h_predict_body(r, m);
    serve_arena_end();
}

static void h_predict_body(req *r, smodel *m)
{
    tide_server *s = r->s;
    tide_instances in;
    tide_reqerr e;
    json_error_t je;
    json_t *doc;
    serve_snap *sn;
    sbuf b = {0};
    citem *ev = NULL;
    int64_t version = atomic_load(&m->base_version);
    const tide_schema *schema = atomic_load(&m->schema);
    tide_err err;
    scratch *sc;
    int fast, k;
    /* simdjson first (src/serve/fastjson.cpp): it gives the same rows or
     * declines, and then jansson answers as before */
    fast = s->fastjson ? serve_fast_instances(r->body, r->len, r->cap, schema, &in, NULL, 0)
                       : SERVE_FAST_DECLINE;
    if (fast == SERVE_FAST_NOMEM) {
        reply_errf(r, 500, "internal", "", "out of memory");
        return;
    }
    atomic_fetch_add_explicit(fast == SERVE_FAST_OK ? &s->body_fast : &s->body_jansson, 1,
                              memory_order_relaxed);
    if (fast == SERVE_FAST_DECLINE) {
        doc = serve_json_load(r->body, r->len, &je);
        if (!doc) {
            reply_errf(r, 400, "malformed_json", "",
                       "body is not valid JSON (line %d, column %d): %s", je.line, je.column,
                       je.text);
            return;
        }
        if (serve_instances_from_doc(doc, schema, 0, &in, &e)) {
            json_decref(doc);
            reply_err(r, &e);
            return;
        }
        json_decref(doc);
    }
    if (s->o.log_events &&
        atomic_load_explicit(&s->pending_events, memory_order_relaxed) + (int64_t)in.n >
            SERVE_MAX_PENDING_EVENTS) {
        atomic_fetch_add_explicit(&s->events_dropped, in.n, memory_order_relaxed);
    } else if (s->o.log_events) {
        ev = calloc(1, sizeof *ev);
        if (ev && !(ev->ev = calloc(in.n, sizeof *ev->ev))) {
            free(ev);
            ev = NULL;
        }
        if (ev) {
            ev->kind = CI_EVENTS;
            ev->m = m;
            /* the join cache takes the hashed features with the event, so a
             * label learns without re-parsing them; only once a schema
             * exists (before, the learner infers it from parsed rows) */
            if (schema && s->o.label_cache_mb)
                ev->pay = calloc(in.n, sizeof *ev->pay);
        }
    }
    sc = my_scratch();
    sn = sc ? serve_snap_acquire(&m->live) : NULL;
    if (!sn) {
        serve_fast_recycle(&in);
        tide_instances_free(&in);
        free(ev ? ev->ev : NULL);
        free(ev);
        reply_errf(r, 503, "unavailable", "", "model '%s' has no snapshot to serve", m->name);
        return;
    }
    /* once per request: the classes' names, written as JSON strings */
    k = 1;
    sc->cls.n = 0;
    if (m->task != TIDE_TASK_REGRESSION) {
        char nb[16];
        k = tide_learner_classes(sn->m->learner);
        if (k < 1)
            k = 1;
        if (k > TIDE_MAX_CLASSES)
            k = TIDE_MAX_CLASSES;
        for (int c = 0; c < k; c++) {
            const char *cn = class_name(sn->m, c, nb, sizeof nb);
            sc->coff[c] = sc->cls.n;
            sb_json_str(&sc->cls, cn, strlen(cn));
        }
        sc->coff[k] = sc->cls.n;
    }
    {   /* the answer's size, roughly (bounded: sb_put grows past it) */
        size_t est = in.n * (64 + (size_t)k * 32);
        sb_reserve(&b, est < ((size_t)1 << 22) ? est : (size_t)1 << 22);
    }
    if (in.batch)
        sb_put(&b, "{\"predictions\":[", 16);
    for (size_t i = 0; i < in.n; i++) {
        const tide_model *mo = sn->m;
        char idbuf[32];
        const char *id = in.ids[i];
        int best = 0;
        if (tide_featurize(mo->fz, &in.rows[i], &sc->fv, &err)) {
            int batch = in.batch;
            serve_snap_release();
            serve_fast_recycle(&in);
            tide_instances_free(&in);
            free(b.p);
            citem_free(ev);
            reply_errf(r, 400, "bad_feature", "features", "%s%s", batch ? "an instance: " : "",
                       err.msg);
            return;
        }
        tide_learner_predict(mo->learner, &sc->fv, sc->proba);
        sb_put(&b, i ? ",{\"id\":" : "{\"id\":", i ? 7 : 6);
        if (!id) {   /* "ev-" and 16 hex digits: nothing to escape */
            gen_id(s, idbuf, sizeof idbuf);
            id = idbuf;
            sb_put(&b, "\"", 1);
            sb_put(&b, idbuf, 19);
            sb_put(&b, "\"", 1);
        } else {
            sb_json_str(&b, id, strlen(id));
        }
        if (m->task == TIDE_TASK_REGRESSION) {
            sb_put(&b, ",\"prediction\":", 14);
            sb_double(&b, sc->proba[0]);
        } else {
            for (int c = 1; c < k; c++)
                if (sc->proba[c] > sc->proba[best])
                    best = c;
            sb_put(&b, ",\"prediction\":", 14);
            sb_put(&b, sc->cls.p + sc->coff[best], sc->coff[best + 1] - sc->coff[best]);
            sb_put(&b, ",\"proba\":{", 10);
            for (int c = 0; c < k; c++) {
                if (c)
                    sb_put(&b, ",", 1);
                sb_put(&b, sc->cls.p + sc->coff[c], sc->coff[c + 1] - sc->coff[c]);
                sb_put(&b, ":", 1);
                sb_double(&b, sc->proba[c]);
            }
            sb_put(&b, "}", 1);
        }
        sb_put(&b, ",\"version\":", 11);
        sb_int(&b, (long long)version);
        sb_put(&b, "}", 1);
        if (ev) {
            sbuf pb = {0};
            tide_store_event *e1 = &ev->ev[ev->nev];
            sb_put(&pb, "{\"p\":[", 6);
            for (int c = 0; c < k; c++) {
                if (c)
                    sb_put(&pb, ",", 1);
                sb_double(&pb, sc->proba[c]);
            }
            sb_put(&pb, "]}", 2);
            e1->id = strdup(id);
            {
                int arena = serve_arena_set(0);   /* the text outlives the request */
                /* the fast path gives the request's own text of the object */
                e1->features = in.fspan_ ? strndup(r->body + in.fspan_[2 * i], in.fspan_[2 * i + 1])
                                         : json_dumps(instance_features(&in, i), JSON_COMPACT);
                serve_arena_set(arena);
            }
            e1->prediction = pb.p;
            e1->version = version;
            if (ev->pay) {
                evpay *py = &ev->pay[ev->nev];
                py->f = malloc(sc->fv.n * sizeof *py->f + (size_t)k * sizeof *py->p + 1);
                if (py->f) {   /* without it the label joins by SQL: still correct */
                    py->p = (double *)(py->f + sc->fv.n);
                    memcpy(py->f, sc->fv.f, sc->fv.n * sizeof *py->f);
                    memcpy(py->p, sc->proba, (size_t)k * sizeof *py->p);
                    py->nf = (uint32_t)sc->fv.n;
                    py->np = (uint32_t)k;
                }
            }
            ev->nev++;
            if (!e1->id || !e1->features || !e1->prediction) {
                citem_free(ev);
                ev = NULL;
            }
        }
    }
    serve_snap_release();
    if (in.batch)
        sb_printf(&b, "],\"version\":%lld}", (long long)version);
    atomic_fetch_add_explicit(&m->n_pred, in.n, memory_order_relaxed);
    serve_fast_recycle(&in);   /* its arrays serve the thread's next body */
    tide_instances_free(&in);
    if (b.oom) {
        free(b.p);
        citem_free(ev);
        reply_errf(r, 500, "internal", "", "out of memory");
        return;
    }
    if (ev) {
        atomic_fetch_add_explicit(&s->pending_events, (int64_t)ev->nev, memory_order_relaxed);
        committer_push(s, ev);
    }
    set_resp(r, 200, b.p, b.n, JSON_CT);
}

/* Completion of a queued request (committer thread). */
static void wake(tide_server *s, req *r)
{
    if (s->suspend_ok) {
        MHD_resume_connection(r->conn);
    } else {
        pthread_mutex_lock(&s->wmu);
        r->done = 1;
        pthread_cond_broadcast(&s->wcv);
        pthread_mutex_unlock(&s->wmu);
    }
}

static const char *LABEL_STATUS[] = {"", "joined", "idempotent", "conflict", "unknown_id",
                                     "overwritten"};

/* Builds the answer of a committed label/learn request (worker thread:
 * the committer only hands the item back, so answers are formatted in
 * parallel on the workers, not on the single writer). Frees c. */
static void labels_reply(req *r, citem *c)
{
    if (c->rc) {
        tide_err err;
        snprintf(err.msg, sizeof err.msg, "%s", c->msg);
        reply_tide_err(r, c->rc, &err, "");
    } else if (c->nlb == 1 && c->kind == CI_LEARN && !r->batch &&
               c->lb[0].status == TIDE_LABEL_CONFLICT) {
        reply_errf(r, 409, "conflict", "id",
                   "event id '%s' is already used by another event of model '%s'; "
                   "/learn needs a new id (or none)", c->lb[0].event_id ? c->lb[0].event_id : "?",
                   c->m->name);
    } else if (c->nlb == 1 && c->kind == CI_LABELS && !r->batch) {
        tide_store_label *l = &c->lb[0];
        if (l->status == TIDE_LABEL_UNKNOWN_ID)
            reply_errf(r, 404, "unknown_id", "id",
                       "no prediction with id '%s' was logged for model '%s' (or it expired)",
                       l->event_id, c->m->name);
        else if (l->status == TIDE_LABEL_CONFLICT)
            reply_errf(r, 409, "conflict", "label",
                       "event '%s' already has label '%s'; send \"overwrite\": true to replace it",
                       l->event_id, l->previous ? l->previous : "?");
        else
            reply_json(r, 200, json_pack("{s:s,s:s,s:I}", "id", l->event_id, "status",
                                         LABEL_STATUS[l->status], "seq", (json_int_t)l->seq));
    } else if (c->kind == CI_LEARN && c->nlb == 1 && !r->batch) {
        reply_json(r, 200, json_pack("{s:s,s:I}", "id", c->lb[0].event_id, "seq",
                                     (json_int_t)c->lb[0].seq));
    } else {
        /* a batch: {"results":[{"id","status","seq"},...],"joined":n,...},
         * written directly (no document of 100s of small objects) */
        sbuf b = {0};
        size_t counts[6] = {0};
        sb_put(&b, "{\"results\":[", 12);
        for (size_t i = 0; i < c->nlb; i++) {
            tide_store_label *l = &c->lb[i];
            int stc = l->status >= 1 && l->status <= 5 ? l->status : 0;
            const char *id = l->event_id ? l->event_id : "";
            counts[stc]++;
            sb_put(&b, i ? ",{\"id\":" : "{\"id\":", i ? 7 : 6);
            sb_json_str(&b, id, strlen(id));
            sb_put(&b, ",\"status\":\"", 11);
            sb_put(&b, LABEL_STATUS[stc], strlen(LABEL_STATUS[stc]));
            sb_put(&b, "\",\"seq\":", 8);
            sb_int(&b, (long long)l->seq);
            sb_put(&b, "}", 1);
        }
        sb_printf(&b, "],\"joined\":%zu,\"idempotent\":%zu,\"conflict\":%zu,\"unknown_id\":%zu,"
                      "\"overwritten\":%zu}",
                  counts[1], counts[2], counts[3], counts[4], counts[5]);
        if (b.oom) {
            free(b.p);
            reply_errf(r, 500, "internal", "", "out of memory");
        } else {
            set_resp(r, 200, b.p, b.n, JSON_CT);
        }
    }
    citem_free(c);
}

/* Completion of a queued request (committer thread): hands the item back
 * to the request and wakes it; the worker formats the answer. */
static void labels_done(tide_server *s, citem *c)
{
    req *r = c->req;
    atomic_store(&r->item, c);
    wake(s, r);
}

/* The committer has stopped (shutdown): a request that passed the draining
 * check just before the flag was set gets the same 503. */
static void refused_stopping(req *r, citem *c)
{
    citem_free(c);
    reply_errf(r, 503, "unavailable", "", "the server is shutting down");
}

/* Queues c and either suspends the connection (thread pool) or blocks. */
static void enqueue_and_wait(req *r, citem *c)
{
    tide_server *s = r->s;
    c->req = r;
    c->done_fn = labels_done;
    r->waiting = 1;
    if (s->suspend_ok) {
        /* suspended before it is queued (the committer may answer at once) */
        MHD_suspend_connection(r->conn);
        if (committer_push(s, c)) {
            refused_stopping(r, c);
            MHD_resume_connection(r->conn);   /* answered on the next call */
        }
        return;
    }
    if (committer_push(s, c)) {
        r->waiting = 0;
        refused_stopping(r, c);
        return;
    }
    pthread_mutex_lock(&s->wmu);
    while (!r->done)
        pthread_cond_wait(&s->wcv, &s->wmu);
    pthread_mutex_unlock(&s->wmu);
    if ((c = atomic_exchange(&r->item, NULL)))
        labels_reply(r, c);
}

static int label_for_task(smodel *m, const json_t *lab, const char *field, req *r)
{
    if (!serve_label_ok(lab)) {
        reply_errf(r, 400, "bad_label", field, "\"label\" must be a string or a finite number");
        return -1;
    }
    if (m->task == TIDE_TASK_REGRESSION) {
        double d;
        char *end;
        if (json_is_number(lab))
            return 0;
        d = strtod(json_string_value(lab), &end);
        if (*end || end == json_string_value(lab) || !isfinite(d)) {
            reply_errf(r, 400, "bad_label", field,
                       "model '%s' is a regression: the label must be a finite number", m->name);
            return -1;
        }
    }
    return 0;
}

static void h_labels_body(req *r, smodel *m);

/* The request's JSON lives in the per-thread arena (src/serve/arena.c):
 * 100 labels are ~1000 small jansson allocations, all dropped together. */
static void h_labels(req *r, smodel *m)
{
    serve_arena_begin();
    h_labels_body(r, m);
    serve_arena_end();
}

static void h_labels_body(req *r, smodel *m)
{
    json_t *doc = load_body(r, 0), *arr, *one;
    citem *c = NULL;
    size_t n;
    if (!doc)
        return;
    arr = json_object_get(doc, "labels");
    if (arr) {
        if (!json_is_array(arr) || json_object_size(doc) != 1) {
            reply_errf(r, 400, "bad_nesting", "labels",
                       "a batch body is {\"labels\": [{\"id\": ..., \"label\": ...}, ...]}");
            goto out;
        }
        n = json_array_size(arr);
        if (n == 0 || n > TIDE_SERVE_MAX_BATCH) {
            reply_errf(r, 400, "bad_batch", "labels", "\"labels\" must hold 1..%d entries, got %zu",
                       TIDE_SERVE_MAX_BATCH, n);
            goto out;
        }
    } else {
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *key;
        json_t *v, *id, *lab, *ow;
        one = arr ? json_array_get(arr, i) : doc;
        if (!json_is_object(one)) {
            reply_errf(r, 400, "bad_request", "labels", "labels[%zu] must be an object", i);
            goto out;
        }
        json_object_foreach(one, key, v) {
            if (strcmp(key, "id") && strcmp(key, "label") && strcmp(key, "overwrite")) {
                reply_errf(r, 400, "unknown_field", key,
                           "unknown field '%s' (expected id, label, overwrite)", key);
                goto out;
            }
        }
        id = json_object_get(one, "id");
        lab = json_object_get(one, "label");
        ow = json_object_get(one, "overwrite");
        if (!id || !json_is_string(id) ||
            !serve_id_ok(json_string_value(id), json_string_length(id))) {
            reply_errf(r, 400, id ? "bad_id" : "missing_field", "id",
                       "%s\"id\" must be the id of a logged prediction (1..%d printable characters)",
                       arr ? "each label's " : "", TIDE_SERVE_MAX_ID);
            goto out;
        }
        if (!lab) {
            reply_errf(r, 400, "missing_field", "label", "\"label\" is missing");
            goto out;
        }
        if (label_for_task(m, lab, "label", r))
            goto out;
        if (ow && !json_is_boolean(ow)) {
            reply_errf(r, 400, "bad_type", "overwrite", "\"overwrite\" must be true or false");
            goto out;
        }
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->lb = calloc(n, sizeof *c->lb))) {
        free(c);
        reply_errf(r, 500, "internal", "", "out of memory");
        goto out;
    }
    c->kind = CI_LABELS;
    c->m = m;
    c->nlb = n;
    {
        /* every id and label text in one block (c->strs) */
        size_t total = 0, at = 0;
        char nb[40];
        for (size_t i = 0; i < n; i++) {
            size_t ll;
            one = arr ? json_array_get(arr, i) : doc;
            serve_label_text(json_object_get(one, "label"), nb, sizeof nb, &ll);
            total += json_string_length(json_object_get(one, "id")) + 1 + ll + 1;
        }
        if (!(c->strs = malloc(total))) {
            citem_free(c);
            reply_errf(r, 500, "internal", "", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *id;
            const char *lt;
            size_t ll, il;
            one = arr ? json_array_get(arr, i) : doc;
            id = json_object_get(one, "id");
            il = json_string_length(id);
            lt = serve_label_text(json_object_get(one, "label"), nb, sizeof nb, &ll);
            c->lb[i].model = m->name;
            c->lb[i].event_id = memcpy(c->strs + at, json_string_value(id), il + 1);
            at += il + 1;
            c->lb[i].label = memcpy(c->strs + at, lt, ll);
            c->strs[at + ll] = '\0';
            at += ll + 1;
            c->lb[i].overwrite = json_is_true(json_object_get(one, "overwrite"));
            c->lb[i].want_event = 1;
        }
    }
    r->batch = arr != NULL;   /* a batch of one still answers in batch form */
    json_decref(doc);
    c->audit_action = "label";
    snprintf(c->actor, sizeof c->actor, "%s", r->actor);
    enqueue_and_wait(r, c);
    return;
out:
    json_decref(doc);
}

/* /learn, once a schema exists: hashes each instance here (with the live
 * snapshot's featurizer, as predict does) so the learner gets the vector
 * instead of re-parsing the stored JSON. Weights are not used (the stored
 * features, which recovery replays, carry none). An instance the
 * featurizer refuses is a 400, as on predict. Returns -1 when answered. */
static int s_learn_vectors(req *r, smodel *m, citem *c, const tide_instances *in)
{
    scratch *sc = my_scratch();
    serve_snap *sn = sc ? serve_snap_acquire(&m->live) : NULL;
    tide_err err;
    if (!sn)
        return 0;   /* no payload: the learner parses the JSON */
    c->pay = calloc(in->n, sizeof *c->pay);
    for (size_t i = 0; c->pay && i < in->n; i++) {
        evpay *py = &c->pay[i];
        if (tide_featurize(sn->m->fz, &in->rows[i], &sc->fv, &err)) {
            serve_snap_release();
            reply_errf(r, 400, "bad_feature", "features", "%s%s", in->batch ? "an instance: " : "",
                       err.msg);
            return -1;
        }
        py->f = malloc(sc->fv.n * sizeof *py->f + 1);
        if (py->f) {
            memcpy(py->f, sc->fv.f, sc->fv.n * sizeof *py->f);
            py->nf = (uint32_t)sc->fv.n;
        }
    }
    serve_snap_release();
    return 0;
}

static void h_learn(req *r, smodel *m)
{
    tide_instances in;
    tide_reqerr e;
    citem *c;
    const tide_schema *schema = atomic_load(&m->schema);
    if (tide_instances_parse(r->body, r->len, schema, 1, &in, &e)) {
        reply_err(r, &e);
        return;
    }
    for (size_t i = 0; i < in.n; i++) {
        if (m->task == TIDE_TASK_REGRESSION && !in.rows[i].target_is_num) {
            reply_errf(r, 400, "bad_label", "label",
                       "model '%s' is a regression: the label must be a finite number", m->name);
            tide_instances_free(&in);
            return;
        }
    }
    c = calloc(1, sizeof *c);
    if (c) {
        c->ev = calloc(in.n, sizeof *c->ev);
        c->lb = calloc(in.n, sizeof *c->lb);
    }
    if (!c || !c->ev || !c->lb) {
        if (c) {
            free(c->ev);
            free(c->lb);
        }
        free(c);
        tide_instances_free(&in);
        reply_errf(r, 500, "internal", "", "out of memory");
        return;
    }
    c->kind = CI_LEARN;
    c->m = m;
    c->nev = c->nlb = in.n;
    for (size_t i = 0; i < in.n; i++) {
        c->ev[i].id = in.ids[i] ? strdup(in.ids[i]) : NULL;
        c->ev[i].features = json_dumps(instance_features(&in, i), JSON_COMPACT);
        c->ev[i].version = atomic_load(&m->base_version);
        c->lb[i].model = m->name;
        c->lb[i].label = strndup(in.rows[i].target, in.rows[i].target_len);
        c->lb[i].event_id = NULL;
        if (!c->ev[i].features || !c->lb[i].label || (in.ids[i] && !c->ev[i].id)) {
            citem_free(c);
            tide_instances_free(&in);
            reply_errf(r, 500, "internal", "", "out of memory");
            return;
        }
    }
    if (schema && s_learn_vectors(r, m, c, &in)) {
        citem_free(c);
        tide_instances_free(&in);
        return;
    }
    r->batch = in.batch;
    c->audit_action = "learn";
    snprintf(c->actor, sizeof c->actor, "%s", r->actor);
    tide_instances_free(&in);   /* n_learn is counted by the committer, after COMMIT */
    enqueue_and_wait(r, c);
}

static json_t *version_json(const tide_store_version *v)
{
    char ck[24];
    json_t *met = v->metrics ? json_loads(v->metrics, 0, NULL) : NULL;
    snprintf(ck, sizeof ck, "%016llx", (unsigned long long)v->checksum);
    return json_pack("{s:I,s:o,s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:I,s:o}", "version",
                     (json_int_t)v->version, "parent",
                     v->parent ? json_integer((json_int_t)v->parent) : json_null(), "created",
                     (json_int_t)v->created, "trigger", v->trigger, "learner", v->learner, "params",
                     v->params ? v->params : "", "first_seq", (json_int_t)v->first_seq, "last_seq",
                     (json_int_t)v->last_seq, "labels_seen", (json_int_t)v->labels_seen,
                     "checksum", ck, "artifact_bytes", (json_int_t)v->artifact_len, "metrics",
                     met ? met : json_null());
}

static void h_model_get(req *r, smodel *m)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    tide_store_version *vs = NULL;
    tide_store_alias *al = NULL;
    size_t nv = 0, na = 0;
    json_t *o, *varr, *aobj;
    if (!st) {
        reply_tide_err(r, TIDE_ERR_IO, &err, "");
        return;
    }
    o = model_json(m);
    varr = json_array();
    aobj = json_object();
    if (!tide_store_version_list(st, m->name, &vs, &nv, &err))
        for (size_t i = 0; i < nv; i++)
            json_array_append_new(varr, version_json(&vs[i]));
    tide_store_versions_free(vs, nv);
    if (!tide_store_alias_list(st, m->name, &al, &na, &err))
        for (size_t i = 0; i < na; i++)
            json_object_set_new(aobj, al[i].alias, json_integer((json_int_t)al[i].version));
    free(al);
    json_object_set_new(o, "versions", varr);
    json_object_set_new(o, "aliases", aobj);
    json_object_set_new(o, "metrics", smodel_metrics_json(m, atomic_load(&m->base_version)));
    reply_json(r, 200, o);
}

/* "params" in a create body: object {k: v}, array ["k=v"], or string "k=v k=v". */
static int params_text(json_t *p, char *out, size_t n, req *r)
{
    size_t o = 0;
    out[0] = '\0';
    if (!p || json_is_null(p))
        return 0;
    if (json_is_string(p)) {
        snprintf(out, n, "%s", json_string_value(p));
        return 0;
    }
    if (json_is_object(p)) {
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v) {
            char val[64];
            if (json_is_integer(v))
                snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
            else if (json_is_real(v))
                snprintf(val, sizeof val, "%.17g", json_real_value(v));
            else if (json_is_string(v) && !strchr(json_string_value(v), ' '))
                snprintf(val, sizeof val, "%s", json_string_value(v));
            else if (json_is_boolean(v))
                snprintf(val, sizeof val, "%s", json_is_true(v) ? "true" : "false");
            else {
                reply_errf(r, 400, "bad_param", k, "parameter '%s' must be a number, word or boolean",
                           k);
                return -1;
            }
            o += (size_t)snprintf(out + o, n - o, "%s%s=%s", o ? " " : "", k, val);
            if (o >= n) {
                reply_errf(r, 400, "bad_param", "params", "parameters are too long");
                return -1;
            }
        }
        return 0;
    }
    if (json_is_array(p)) {
        for (size_t i = 0; i < json_array_size(p); i++) {
            json_t *v = json_array_get(p, i);
            if (!json_is_string(v) || strchr(json_string_value(v), ' ')) {
                reply_errf(r, 400, "bad_param", "params", "params[%zu] must be a \"k=v\" string", i);
                return -1;
            }
            o += (size_t)snprintf(out + o, n - o, "%s%s", o ? " " : "", json_string_value(v));
            if (o >= n) {
                reply_errf(r, 400, "bad_param", "params", "parameters are too long");
                return -1;
            }
        }
        return 0;
    }
    reply_errf(r, 400, "bad_param", "params", "\"params\" must be an object, array or string");
    return -1;
}

/* Creates a model from a JSON spec (API or config file). On failure the
 * reply (or err for the config) is set. Returns the model or NULL. */
static smodel *create_model(tide_server *s, req *r, json_t *spec, tide_err *cerr)
{
    const char *name, *task, *learner, *key;
    json_t *v, *jp, *jsch, *jbits;
    char params[2048], full[2100];
    tide_schema *sc = NULL;
    tide_reqerr e;
    tide_err err;
    tide_store *st;
    tide_store_model sm;
    smodel *m = NULL, probe;
    tide_model *tm = NULL;
    char *schema_txt = NULL;
    int rc;
    const tide_learner_vt *vt;
    tide_task t;
    memset(&e, 0, sizeof e);
#define BAD(...) do { tide_reqerr_set(&e, 400, __VA_ARGS__); goto bad; } while (0)
    json_object_foreach(spec, key, v) {
        if (strcmp(key, "name") && strcmp(key, "task") && strcmp(key, "learner") &&
            strcmp(key, "params") && strcmp(key, "schema") && strcmp(key, "bits"))
            BAD("unknown_field", key, "unknown field '%s' (expected name, task, learner, params, "
                                      "schema, bits)", key);
    }
    name = json_string_value(json_object_get(spec, "name"));
    task = json_string_value(json_object_get(spec, "task"));
    learner = json_string_value(json_object_get(spec, "learner"));
    if (!name || !name_ok(name))
        BAD("bad_name", "name", "\"name\" must be 1..%d characters of [A-Za-z0-9._-]",
            TIDE_STORE_NAME_MAX - 1);
    if (!task)
        BAD("missing_field", "task", "\"task\" must be binary, multiclass or regression");
    if (!strcmp(task, "binary"))
        t = TIDE_TASK_BINARY;
    else if (!strcmp(task, "multiclass"))
        t = TIDE_TASK_MULTICLASS;
    else if (!strcmp(task, "regression"))
        t = TIDE_TASK_REGRESSION;
    else
        BAD("bad_task", "task", "task '%s' is not binary, multiclass or regression", task);
    if (!learner)
        learner = t == TIDE_TASK_REGRESSION ? "linear" : t == TIDE_TASK_BINARY ? "logistic"
                                                                                : "softmax";
    vt = tide_learner_find(learner);
    if (!vt)
        BAD("bad_learner", "learner", "unknown learner '%s' (see `tide learners`)", learner);
    if (!(vt->task == t || (vt->task == TIDE_TASK_CLASSIFY && t != TIDE_TASK_REGRESSION) ||
          (vt->task == TIDE_TASK_MULTICLASS && t == TIDE_TASK_BINARY)))
        BAD("bad_learner", "learner", "learner '%s' does %s, not %s", learner,
            tide_task_name(vt->task), task);
    jp = json_object_get(spec, "params");
    if (r) {
        if (params_text(jp, params, sizeof params, r))
            return NULL;
    } else if (jp && !json_is_object(jp) && !json_is_string(jp)) {
        BAD("bad_param", "params", "\"params\" must be an object or a string");
    } else {
        req tmp;
        memset(&tmp, 0, sizeof tmp);
        if (params_text(jp, params, sizeof params, &tmp)) {
            free(tmp.resp);
            BAD("bad_param", "params", "bad \"params\"");
        }
    }
    jbits = json_object_get(spec, "bits");
    if (jbits) {
        if (!json_is_integer(jbits) || json_integer_value(jbits) < 1 ||
            json_integer_value(jbits) > TIDE_BITS_MAX)
            BAD("bad_param", "bits", "\"bits\" must be an integer in 1..%d", TIDE_BITS_MAX);
        snprintf(full, sizeof full, "bits=%lld%s%s", (long long)json_integer_value(jbits),
                 params[0] ? " " : "", params);
    } else {
        snprintf(full, sizeof full, "%s", params);
    }
    jsch = json_object_get(spec, "schema");
    if (jsch && !json_is_null(jsch)) {
        if (serve_schema_from_json(jsch, &sc, &e))
            goto bad;
        schema_txt = tide_schema_to_json(sc);
        tide_schema_free(sc);
        sc = NULL;
    }
    /* validate learner params by building the model once */
    memset(&probe, 0, sizeof probe);
    snprintf(probe.learner, sizeof probe.learner, "%s", learner);
    tide_err_clear(&err);
    rc = smodel_set_params(&probe, full, &err);
    if (!rc)
        rc = smodel_build(&probe, &tm, &err);
    for (size_t i = 0; i < probe.n_kv; i++)
        free(probe.kv[i]);
    free(probe.params_txt);
    tide_model_free(tm);
    if (rc) {
        free(schema_txt);
        BAD("bad_param", "params", "%s", err.msg);
    }
    pthread_mutex_lock(&s->admin_mu);
    st = r ? thread_store(s, &err) : s->mst;
    if (!st) {
        rc = TIDE_ERR_IO;
        goto fail_locked;
    }
    if (find_model(s, name)) {
        rc = tide_err_set(&err, TIDE_ERR_CONFLICT, "model '%s' already exists", name);
        goto fail_locked;
    }
    if (s->n_models >= SERVE_MAX_MODELS) {
        rc = tide_err_set(&err, TIDE_ERR_LIMIT, "at most %d models", SERVE_MAX_MODELS);
        goto fail_locked;
    }
    rc = tide_store_model_create(st, name, task, learner, full, schema_txt, &err);
    if (rc)
        goto fail_locked;
    rc = tide_store_model_get(st, name, &sm, &err);
    if (rc)
        goto fail_locked;
    m = smodel_new(s, &sm, &err);
    tide_store_model_clear(&sm);
    if (!m || (rc = smodel_start(m, st, 0, &err))) {
        rc = rc ? rc : TIDE_ERR_NOMEM;
        smodel_free(m);
        m = NULL;
        tide_store_model_delete(st, name, NULL);
        goto fail_locked;
    }
    pthread_rwlock_wrlock(&s->mlock);
    s->models[s->n_models++] = m;
    pthread_rwlock_unlock(&s->mlock);
    pthread_mutex_unlock(&s->admin_mu);
    free(schema_txt);
    if (r)
        audit(r, "model.create", name,
              json_pack("{s:s,s:s,s:s}", "task", task, "learner", learner, "params", full));
    return m;
fail_locked:
    pthread_mutex_unlock(&s->admin_mu);
    free(schema_txt);
    if (r)
        reply_tide_err(r, rc, &err, rc == TIDE_ERR_CONFLICT ? "name" : "");
    else
        tide_err_set(cerr, rc, "%s", err.msg);
    return NULL;
bad:
    tide_schema_free(sc);
    if (r)
        reply_err(r, &e);
    else
        tide_err_set(cerr, TIDE_ERR_ARG, "%s: %s", e.field, e.reason);
    return NULL;
#undef BAD
}

static void h_model_create(req *r)
{
    json_t *doc = load_body(r, 0);
    smodel *m;
    if (!doc)
        return;
    m = create_model(r->s, r, doc, NULL);
    json_decref(doc);
    if (m)
        reply_json(r, 201, model_json(m));
}

/* Store first: the model leaves memory only once the store deleted it, so
 * a failed deletion changes nothing (before, the model left memory first: on
 * a store failure it answered 404 until a restart brought it back). While
 * the store deletes, m->deleted keeps the committer off its join cache and
 * the learner from writing snapshots (a request queued meanwhile may fail
 * against the deleted rows, as it would after the deletion); if the
 * deletion fails the flag is cleared again, which is safe: without the
 * cache the committer only skipped adding entries, and the labels of the
 * cached ones were still recorded (cache_labels), so every entry still
 * equals the committed state. */
static void h_model_delete(req *r, smodel *m)
{
    tide_server *s = r->s;
    tide_err err;
    tide_store *st = thread_store(s, &err);
    int rc, found = 0;
    if (!st) {
        reply_errf(r, 503, "unavailable", "", "the store cannot be opened: %s", err.msg);
        return;
    }
    pthread_mutex_lock(&s->admin_mu);   /* deletions and creations are serialised */
    pthread_rwlock_rdlock(&s->mlock);
    for (size_t i = 0; i < s->n_models; i++)
        found |= s->models[i] == m;
    pthread_rwlock_unlock(&s->mlock);
    if (!found) {
        /* a concurrent DELETE won (both found the model before either took
         * the lock): that one owns it now */
        pthread_mutex_unlock(&s->admin_mu);
        reply_errf(r, 404, "not_found", "model", "no model named '%s'", m->name);
        return;
    }
    atomic_store(&m->deleted, 1);   /* the committer stops using its join cache */
    tide_err_clear(&err);
    rc = tide_store_model_delete(st, m->name, &err);
    if (rc && rc != TIDE_ERR_NOTFOUND) {   /* NOTFOUND: already gone from the store */
        atomic_store(&m->deleted, 0);
        pthread_mutex_unlock(&s->admin_mu);
        reply_errf(r, rc == TIDE_ERR_IO ? 503 : 500, rc == TIDE_ERR_IO ? "unavailable" : "internal",
                   "model", "model '%s' was not deleted (it is still served): the store failed: %s",
                   m->name, err.msg[0] ? err.msg : tide_strerror(rc));
        return;
    }
    pthread_rwlock_wrlock(&s->mlock);
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i] == m) {
            s->models[i] = s->models[--s->n_models];
            break;
        }
    pthread_rwlock_unlock(&s->mlock);
    smodel_stop(m);
    m->grave_next = s->grave;
    s->grave = m;
    pthread_mutex_unlock(&s->admin_mu);
    audit(r, "model.delete", m->name, NULL);
    reply_json(r, 200, json_pack("{s:s}", "deleted", m->name));
}

/* Registry writes that read or replace the live state (snapshot, rollback)
 * run under admin_mu as a whole: interleaved, a rollback could land between
 * a snapshot's read of the live state and its recording as the live version
 * (the live alias and `version` would then name a state that is not live). */
static void h_version_create_locked(req *r, smodel *m);
static void h_rollback_locked(req *r, smodel *m);

static void h_version_create(req *r, smodel *m)
{
    pthread_mutex_lock(&r->s->admin_mu);
    h_version_create_locked(r, m);
    pthread_mutex_unlock(&r->s->admin_mu);
}

static void h_rollback(req *r, smodel *m)
{
    pthread_mutex_lock(&r->s->admin_mu);
    h_rollback_locked(r, m);
    pthread_mutex_unlock(&r->s->admin_mu);
}

static void h_version_create_locked(req *r, smodel *m)
{
    tide_server *s = r->s;
    tide_err err;
    tide_store *st = thread_store(s, &err);
    tide_store_version_new spec;
    serve_snap *sn;
    tide_wbuf b;
    json_t *doc = load_body(r, 1), *met;
    char *mtxt;
    int64_t v = 0, parent = atomic_load(&m->base_version);
    const char *trigger = "api";
    int rc;
    if (!doc)
        return;
    if (json_is_string(json_object_get(doc, "trigger")))
        trigger = json_string_value(json_object_get(doc, "trigger"));
    if (!st) {
        json_decref(doc);
        reply_tide_err(r, TIDE_ERR_IO, &err, "");
        return;
    }
    /* A version includes every label acknowledged before this request: the
     * learner applies (and publishes) them first. */
    {
        ljob job;
        memset(&job, 0, sizeof job);
        job.kind = LJ_FLUSH;
        rc = smodel_sync(m, &job);
        if (rc) {
            json_decref(doc);
            snprintf(err.msg, sizeof err.msg, "%s", job.msg);
            reply_tide_err(r, rc, &err, "");
            return;
        }
    }
    memset(&spec, 0, sizeof spec);
    tide_wbuf_init(&b);
    sn = serve_snap_acquire(&m->live);
    rc = sn ? tide_model_save_buf(sn->m, &b) : TIDE_ERR_STATE;
    if (!rc && b.oom)
        rc = TIDE_ERR_NOMEM;
    spec.parent = parent;
    spec.trigger = trigger;
    spec.last_seq = sn ? sn->seq : 0;
    spec.labels_seen = sn ? (int64_t)sn->labels : 0;
    serve_snap_release();
    met = smodel_metrics_json(m, parent);
    mtxt = json_dumps(met, JSON_COMPACT);
    json_decref(met);
    spec.metrics = mtxt;
    if (!rc) {
        /* the version and the alias recording it as live: both or neither */
        rc = tide_store_begin(st, &err);
        if (!rc)
            rc = tide_store_version_create(st, m->name, &spec, b.data, b.len, &v, &err);
        if (!rc)
            rc = tide_store_alias_set(st, m->name, SERVE_LIVE_ALIAS, v, &err);
        if (!rc)
            rc = tide_store_commit(st, &err);
        else if (tide_store_in_txn(st))
            tide_store_rollback(st);
        if (!rc)
            atomic_store(&m->base_version, v);
    } else {
        tide_err_set(&err, rc, "cannot serialise the live model");
    }
    tide_wbuf_free(&b);
    free(mtxt);
    if (rc) {
        json_decref(doc);
        reply_tide_err(r, rc, &err, "");
        return;
    }
    audit(r, "version.create", m->name,
          json_pack("{s:I,s:I,s:s}", "version", (json_int_t)v, "parent", (json_int_t)parent,
                    "trigger", trigger));
    json_decref(doc);
    {
        tide_store_version ver;
        if (!tide_store_version_get(st, m->name, v, &ver, &err)) {
            reply_json(r, 201, version_json(&ver));
            tide_store_version_clear(&ver);
        } else {
            reply_json(r, 201, json_pack("{s:I}", "version", (json_int_t)v));
        }
    }
}

static int parse_version(const char *txt, int64_t *v)
{
    char *end;
    long long x;
    if (!txt || !*txt)
        return -1;
    x = strtoll(txt, &end, 10);
    if (*end || x < 1)
        return -1;
    *v = x;
    return 0;
}

static void h_versions_list(req *r, smodel *m)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    tide_store_version *vs = NULL;
    size_t n = 0;
    json_t *arr;
    int rc = st ? tide_store_version_list(st, m->name, &vs, &n, &err) : TIDE_ERR_IO;
    if (rc) {
        reply_tide_err(r, rc, &err, "");
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, version_json(&vs[i]));
    tide_store_versions_free(vs, n);
    reply_json(r, 200, json_pack("{s:s,s:I,s:o}", "model", m->name, "live_version",
                                 (json_int_t)atomic_load(&m->base_version), "versions", arr));
}

static void h_version_get(req *r, smodel *m, const char *vtxt, int artifact)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    int64_t v;
    int rc;
    if (parse_version(vtxt, &v)) {
        reply_errf(r, 404, "not_found", "version", "'%s' is not a version number", vtxt);
        return;
    }
    if (!st) {
        reply_tide_err(r, TIDE_ERR_IO, &err, "");
        return;
    }
    if (artifact) {
        void *blob = NULL;
        size_t len = 0;
        rc = tide_store_version_artifact(st, m->name, v, &blob, &len, &err);
        if (rc) {
            reply_tide_err(r, rc, &err, "version");
            return;
        }
        set_resp(r, 200, blob, len, "application/octet-stream");
        snprintf(r->hname, sizeof r->hname, "Content-Disposition");
        snprintf(r->hval, sizeof r->hval, "attachment; filename=\"%s-v%lld.tide\"", m->name,
                 (long long)v);
        return;
    }
    {
        tide_store_version ver;
        json_t *o;
        rc = tide_store_version_get(st, m->name, v, &ver, &err);
        if (rc) {
            reply_tide_err(r, rc, &err, "version");
            return;
        }
        o = version_json(&ver);
        tide_store_version_clear(&ver);
        json_object_set_new(o, "live_metrics", smodel_metrics_json(m, v));
        reply_json(r, 200, o);
    }
}

static void h_alias(req *r, smodel *m, const char *alias)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    json_t *doc, *jv;
    int64_t v;
    int rc;
    if (!name_ok(alias)) {
        reply_errf(r, 400, "bad_name", "alias", "alias names are 1..%d characters of [A-Za-z0-9._-]",
                   TIDE_STORE_NAME_MAX - 1);
        return;
    }
    if (!strcmp(alias, SERVE_LIVE_ALIAS)) {
        /* moving it would desynchronise the live state from the version
         * recorded for it (and restored at the next start) */
        reply_errf(r, 400, "reserved_alias", "alias",
                   "the alias '%s' is reserved: it records the version the live state descends "
                   "from; use POST /v1/models/%s/rollback or /versions to change it",
                   SERVE_LIVE_ALIAS, m->name);
        return;
    }
    if (!(doc = load_body(r, 0)))
        return;
    jv = json_object_get(doc, "version");
    if (!json_is_integer(jv) || json_integer_value(jv) < 1) {
        json_decref(doc);
        reply_errf(r, 400, "bad_version", "version", "\"version\" must be a version number (>= 1)");
        return;
    }
    v = json_integer_value(jv);
    json_decref(doc);
    rc = st ? tide_store_alias_set(st, m->name, alias, v, &err) : TIDE_ERR_IO;
    if (rc) {
        reply_tide_err(r, rc, &err, "version");
        return;
    }
    audit(r, "alias.set", m->name, json_pack("{s:s,s:I}", "alias", alias, "version", (json_int_t)v));
    reply_json(r, 200, json_pack("{s:s,s:s,s:I}", "model", m->name, "alias", alias, "version",
                                 (json_int_t)v));
}

static void h_rollback_locked(req *r, smodel *m)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    json_t *doc = load_body(r, 1), *jv, *ja;
    int64_t cur = atomic_load(&m->base_version), target = 0;
    void *blob = NULL;
    size_t len = 0;
    tide_model *nm = NULL;
    ljob job;
    int rc;
    if (!doc)
        return;
    if (!st) {
        json_decref(doc);
        reply_tide_err(r, TIDE_ERR_IO, &err, "");
        return;
    }
    jv = json_object_get(doc, "version");
    ja = json_object_get(doc, "alias");
    if (jv) {
        if (!json_is_integer(jv) || json_integer_value(jv) < 1) {
            json_decref(doc);
            reply_errf(r, 400, "bad_version", "version", "\"version\" must be a version number");
            return;
        }
        target = json_integer_value(jv);
    } else if (ja) {
        if (!json_is_string(ja) ||
            tide_store_alias_resolve(st, m->name, json_string_value(ja), &target, &err)) {
            json_decref(doc);
            reply_errf(r, 404, "not_found", "alias", "unknown alias");
            return;
        }
    } else {
        tide_store_version ver;
        if (cur == 0 || tide_store_version_get(st, m->name, cur, &ver, &err)) {
            json_decref(doc);
            reply_errf(r, 409, "conflict", "version",
                       "model '%s' has no earlier version to roll back to; name one with "
                       "{\"version\": N}", m->name);
            return;
        }
        target = ver.parent;
        tide_store_version_clear(&ver);
        if (!target) {
            json_decref(doc);
            reply_errf(r, 409, "conflict", "version",
                       "version %lld has no parent to roll back to", (long long)cur);
            return;
        }
    }
    json_decref(doc);
    rc = tide_store_version_artifact(st, m->name, target, &blob, &len, &err);
    if (!rc)
        rc = tide_model_load_buf(blob, len, &nm, &err);
    free(blob);
    if (rc) {
        reply_tide_err(r, rc, &err, "version");
        return;
    }
    memset(&job, 0, sizeof job);
    job.kind = LJ_REPLACE;
    job.replace = nm;
    job.version = target;
    rc = smodel_sync(m, &job);
    tide_model_free(job.replace);
    if (!rc && tide_store_alias_set(st, m->name, SERVE_LIVE_ALIAS, target, &err))
        fprintf(stderr, "tide serve: model '%s': cannot record the live version: %s\n", m->name,
                err.msg);
    if (rc) {
        snprintf(err.msg, sizeof err.msg, "%s", job.msg);
        reply_tide_err(r, rc, &err, "");
        return;
    }
    audit(r, "rollback", m->name,
          json_pack("{s:I,s:I}", "from", (json_int_t)cur, "to", (json_int_t)target));
    reply_json(r, 200, json_pack("{s:s,s:I,s:I}", "model", m->name, "version", (json_int_t)target,
                                 "previous", (json_int_t)cur));
}

static void h_metrics(req *r, smodel *m)
{
    json_t *o = json_pack("{s:s,s:s,s:I,s:o}", "model", m->name, "task", tide_task_name(m->task),
                          "live_version", (json_int_t)atomic_load(&m->base_version), "versions",
                          smodel_metrics_json(m, -1));
    reply_json(r, 200, o);
}

typedef struct export_ctx {
    sbuf *b;
    size_t n;
} export_ctx;

static int export_cb(void *ctx, const tide_store_label_row *row)
{
    export_ctx *x = ctx;
    sbuf *b = x->b;
    sb_printf(b, "%s{\"seq\":%lld,\"id\":", x->n ? "," : "", (long long)row->seq);
    sb_json_str(b, row->event_id, strlen(row->event_id));
    sb_put(b, ",\"label\":", 9);
    sb_json_str(b, row->label, strlen(row->label));
    sb_printf(b, ",\"version\":%lld,\"delay_ms\":%lld,\"features\":%s}", (long long)row->version,
              (long long)row->delay, row->features ? row->features : "null");
    x->n++;
    return b->oom ? -1 : 0;
}

static void h_labels_export(req *r, smodel *m)
{
    tide_err err;
    tide_store *st = thread_store(r->s, &err);
    const char *a = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "after");
    const char *l = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
    long long after = a ? atoll(a) : 0, limit = l ? atoll(l) : 10000;
    sbuf b = {0};
    export_ctx x = {&b, 0};
    int rc;
    if (limit < 1 || limit > 1000000)
        limit = 10000;
    sb_put(&b, "{\"labels\":[", 11);
    rc = st ? tide_store_labels_after(st, m->name, after, (size_t)limit, export_cb, &x, &err)
            : TIDE_ERR_IO;
    sb_put(&b, "]}", 2);
    if (rc || b.oom) {
        free(b.p);
        reply_tide_err(r, rc ? rc : TIDE_ERR_NOMEM, &err, "");
        return;
    }
    set_resp(r, 200, b.p, b.n, JSON_CT);
}

static void h_prom(req *r)
{
    tide_server *s = r->s;
    sbuf b = {0};
    prom_write_requests(&b, &s->prom);
    sb_printf(&b, "# TYPE tide_up gauge\ntide_up 1\n# TYPE tide_uptime_seconds gauge\n"
                  "tide_uptime_seconds %.3f\n",
              serve_now() - s->started);
    sb_printf(&b, "# TYPE tide_commit_queue_length gauge\ntide_commit_queue_length %zu\n", s->cn);
    sb_printf(&b, "# TYPE tide_events_pending gauge\ntide_events_pending %lld\n",
              (long long)atomic_load(&s->pending_events));
    sb_printf(&b, "# TYPE tide_events_expired_total counter\ntide_events_expired_total %llu\n",
              (unsigned long long)atomic_load(&s->events_expired));
    sb_printf(&b, "# HELP tide_events_dropped_total Predictions answered but not logged (queue full).\n"
                  "# TYPE tide_events_dropped_total counter\ntide_events_dropped_total %llu\n",
              (unsigned long long)atomic_load(&s->events_dropped));
    sb_printf(&b, "# HELP tide_predict_bodies_total Predict bodies by the parser that read them "
                  "(simdjson fast path, or jansson for what it declines).\n"
                  "# TYPE tide_predict_bodies_total counter\n"
                  "tide_predict_bodies_total{parser=\"simdjson\"} %llu\n"
                  "tide_predict_bodies_total{parser=\"jansson\"} %llu\n",
              (unsigned long long)atomic_load(&s->body_fast),
              (unsigned long long)atomic_load(&s->body_jansson));
    sb_printf(&b, "# HELP tide_predictions_total Predictions served.\n# TYPE tide_predictions_total counter\n"
                  "# HELP tide_labels_total Labels received, by join outcome.\n# TYPE tide_labels_total counter\n"
                  "# HELP tide_label_join_delay_seconds Time from prediction to its label.\n"
                  "# TYPE tide_label_join_delay_seconds histogram\n"
                  "# HELP tide_snapshot_staleness_seconds Commit-to-visible delay of the last published snapshot.\n"
                  "# TYPE tide_snapshot_staleness_seconds gauge\n");
    pthread_rwlock_rdlock(&s->mlock);
    for (size_t i = 0; i < s->n_models; i++)
        smodel_prom(s->models[i], &b);
    pthread_rwlock_unlock(&s->mlock);
    if (b.oom) {
        free(b.p);
        reply_errf(r, 500, "internal", "", "out of memory");
        return;
    }
    set_resp(r, 200, b.p, b.n, "text/plain; version=0.0.4");
}

/* ---- routing ----------------------------------------------------------------------------- */

static void method_not_allowed(req *r, const char *allow)
{
    snprintf(r->hname, sizeof r->hname, "Allow");
    snprintf(r->hval, sizeof r->hval, "%s", allow);
    reply_errf(r, 405, "method_not_allowed", "", "this resource accepts %s", allow);
}

static void route(req *r, const char *url, const char *method)
{
    tide_server *s = r->s;
    char path[1024], *seg[8], *save = NULL, *t;
    int n = 0;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST"),
        put = !strcmp(method, "PUT"), del = !strcmp(method, "DELETE");
    smodel *m = NULL;
    if (strlen(url) >= sizeof path) {
        reply_errf(r, 404, "not_found", "", "no such resource");
        return;
    }
    snprintf(path, sizeof path, "%s", url);
    for (t = strtok_r(path, "/", &save); t && n < 8; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    if (t) {
        reply_errf(r, 404, "not_found", "", "no such resource");
        return;
    }
    if (n == 1 && !strcmp(seg[0], "healthz")) {
        r->ep = EP_HEALTHZ;
        if (!get)
            return method_not_allowed(r, "GET");
        reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (n == 1 && !strcmp(seg[0], "readyz")) {
        r->ep = EP_READYZ;
        if (!get)
            return method_not_allowed(r, "GET");
        if (atomic_load(&s->ready) && !atomic_load(&s->draining))
            reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
        else
            reply_json(r, 503, json_pack("{s:s,s:s,s:s}", "error", "not_ready", "field", "",
                                         "reason", atomic_load(&s->draining) ? "draining"
                                                                             : "starting"));
        return;
    }
    if (n == 1 && !strcmp(seg[0], "metrics")) {
        r->ep = EP_PROM;
        if (!get)
            return method_not_allowed(r, "GET");
        if (check_auth(r, TIDE_ROLE_PREDICT))
            return;
        h_prom(r);
        return;
    }
    if (n < 2 || strcmp(seg[0], "v1") || strcmp(seg[1], "models")) {
        reply_errf(r, 404, "not_found", "", "no such resource: %s", url);
        return;
    }
    if (n == 2) {
        if (get) {
            json_t *arr = json_array();
            r->ep = EP_MODELS_LIST;
            if (check_auth(r, TIDE_ROLE_PREDICT)) {
                json_decref(arr);
                return;
            }
            pthread_rwlock_rdlock(&s->mlock);
            for (size_t i = 0; i < s->n_models; i++)
                json_array_append_new(arr, model_json(s->models[i]));
            pthread_rwlock_unlock(&s->mlock);
            reply_json(r, 200, json_pack("{s:o}", "models", arr));
        } else if (post) {
            r->ep = EP_MODEL_CREATE;
            if (!check_auth(r, TIDE_ROLE_ADMIN))
                h_model_create(r);
        } else {
            method_not_allowed(r, "GET, POST");
        }
        return;
    }
    /* every other route names a model: authenticate before revealing whether it exists */
    {
        int need = TIDE_ROLE_PREDICT;
        const char *allow = NULL;
        int ep = EP_OTHER;
        const char *sub = n >= 4 ? seg[3] : "";
        if (n == 3) {
            ep = get ? EP_MODEL_GET : EP_MODEL_DELETE;
            need = get ? TIDE_ROLE_PREDICT : TIDE_ROLE_ADMIN;
            allow = get || del ? NULL : "GET, DELETE";
        } else if (n == 4 && !strcmp(sub, "predict")) {
            ep = EP_PREDICT;
            allow = post ? NULL : "POST";
        } else if (n == 4 && !strcmp(sub, "labels")) {
            ep = get ? EP_LABELS_EXPORT : EP_LABELS;
            need = get ? TIDE_ROLE_ADMIN : TIDE_ROLE_LABEL;
            allow = post || get ? NULL : "GET, POST";
        } else if (n == 4 && !strcmp(sub, "learn")) {
            ep = EP_LEARN;
            need = TIDE_ROLE_LABEL;
            allow = post ? NULL : "POST";
        } else if (n == 4 && !strcmp(sub, "metrics")) {
            ep = EP_MODEL_METRICS;
            allow = get ? NULL : "GET";
        } else if (n == 4 && !strcmp(sub, "versions")) {
            ep = post ? EP_VERSION_CREATE : EP_VERSIONS_LIST;
            need = post ? TIDE_ROLE_ADMIN : TIDE_ROLE_PREDICT;
            allow = post || get ? NULL : "GET, POST";
        } else if (n == 4 && !strcmp(sub, "rollback")) {
            ep = EP_ROLLBACK;
            need = TIDE_ROLE_ADMIN;
            allow = post ? NULL : "POST";
        } else if (n == 5 && !strcmp(sub, "versions")) {
            ep = EP_VERSION_GET;
            allow = get ? NULL : "GET";
        } else if (n == 6 && !strcmp(sub, "versions") && !strcmp(seg[5], "artifact")) {
            ep = EP_ARTIFACT;
            need = TIDE_ROLE_ADMIN;
            allow = get ? NULL : "GET";
        } else if (n == 5 && !strcmp(sub, "aliases")) {
            ep = EP_ALIAS;
            need = TIDE_ROLE_ADMIN;
            allow = put ? NULL : "PUT";
        } else {
            reply_errf(r, 404, "not_found", "", "no such resource: %s", url);
            return;
        }
        r->ep = ep;
        if (allow) {
            method_not_allowed(r, allow);
            return;
        }
        if (check_auth(r, need))
            return;
        m = find_model(s, seg[2]);
        if (!m) {
            reply_errf(r, 404, "not_found", "model", "no model named '%s'", seg[2]);
            return;
        }
        switch (ep) {
        case EP_MODEL_GET: h_model_get(r, m); break;
        case EP_MODEL_DELETE: h_model_delete(r, m); break;
        case EP_PREDICT: h_predict(r, m); break;
        case EP_LABELS: h_labels(r, m); break;
        case EP_LABELS_EXPORT: h_labels_export(r, m); break;
        case EP_LEARN: h_learn(r, m); break;
        case EP_MODEL_METRICS: h_metrics(r, m); break;
        case EP_VERSION_CREATE: h_version_create(r, m); break;
        case EP_VERSIONS_LIST: h_versions_list(r, m); break;
        case EP_VERSION_GET: h_version_get(r, m, seg[4], 0); break;
        case EP_ARTIFACT: h_version_get(r, m, seg[4], 1); break;
        case EP_ALIAS: h_alias(r, m, seg[4]); break;
        case EP_ROLLBACK: h_rollback(r, m); break;
        default: reply_errf(r, 404, "not_found", "", "no such resource"); break;
        }
        (void)put;
    }
}

/* ---- MHD callbacks ---------------------------------------------------------------------- */

static enum MHD_Result send_reply(req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    r->resp = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype ? r->ctype : JSON_CT);
    if (r->hname[0])
        MHD_add_response_header(resp, r->hname, r->hval);
    ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    prom_count_request(&r->s->prom, r->ep, r->status, serve_now() - r->t0);
    return ret;
}

static int json_content_type(struct MHD_Connection *c)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = strlen("application/json");
    if (!ct)
        return 0;
    return !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    tide_server *s = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->s = s;
        r->conn = conn;
        r->t0 = serve_now();
        r->ep = EP_OTHER;
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        if (!r->too_big && r->len + n > s->o.max_body) {
            r->too_big = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
        }
        if (!r->too_big) {
            /* + SERVE_BODY_PADDING: simdjson reads up to 64 bytes past the end */
            if (r->len + n + 1 + SERVE_BODY_PADDING > r->cap) {
                size_t nc = r->cap ? r->cap : 4096;
                char *nb;
                while (nc < r->len + n + 1 + SERVE_BODY_PADDING)
                    nc *= 2;
                nb = realloc(r->body, nc);
                if (!nb)
                    return MHD_NO;
                r->body = nb;
                r->cap = nc;
            }
            memcpy(r->body + r->len, upload_data, n);
            r->len += n;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    {
        citem *done = atomic_exchange(&r->item, NULL);   /* resumed: committed */
        if (done)
            labels_reply(r, done);
    }
    if (r->ready)
        return send_reply(r);
    if (r->waiting)   /* spurious call while suspended */
        return MHD_YES;
    if (r->too_big) {
        reply_errf(r, 413, "too_large", "", "the request body exceeds %zu bytes", s->o.max_body);
        return send_reply(r);
    }
    if (r->len && !json_content_type(conn)) {
        reply_errf(r, 415, "unsupported_media_type", "Content-Type",
                   "request bodies must be sent as 'Content-Type: application/json'");
        return send_reply(r);
    }
    if (atomic_load(&s->draining) && strcmp(method, "GET")) {
        reply_errf(r, 503, "unavailable", "", "the server is shutting down");
        return send_reply(r);
    }
    route(r, url, method);
    if (r->waiting && s->suspend_ok)
        return MHD_YES;   /* resumed by the committer; answered on the next call */
    if (!r->ready)
        reply_errf(r, 500, "internal", "", "no answer was produced");
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    tide_server *s = cls;
    req *r = *con_cls;
    if (!r)
        return;
    citem_free(atomic_exchange(&r->item, NULL));   /* closed before its answer was built */
    free(r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---- config ---------------------------------------------------------------------------------- */

static int load_config(tide_server *s, int apply_opts, int do_models, tide_err *err)
{
    json_error_t je;
    json_t *doc, *models, *v;
    int rc = TIDE_OK;
    if (!s->config_path)
        return TIDE_OK;
    doc = json_load_file(s->config_path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return tide_err_set(err, TIDE_ERR_PARSE, "%s:%d:%d: %s", s->config_path, je.line,
                            je.column, je.text);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return tide_err_set(err, TIDE_ERR_PARSE, "%s: the config must be a JSON object",
                            s->config_path);
    }
#define OPTU(key, field, lo, hi) do { v = json_object_get(doc, key); if (v) { \
        if (!json_is_integer(v) || json_integer_value(v) < (lo) || json_integer_value(v) > (hi)) { \
            rc = tide_err_set(err, TIDE_ERR_ARG, "%s: \"%s\" must be an integer in %lld..%lld", \
                              s->config_path, key, (long long)(lo), (long long)(hi)); goto out; } \
        s->o.field = (__typeof__(s->o.field))json_integer_value(v); } } while (0)
    OPTU("publish_every", publish_every, 1, 100000000);
    OPTU("publish_ms", publish_ms, 1, 3600000);
    OPTU("persist_every", persist_every, 1, 1000000000);
    if (apply_opts) {
        OPTU("max_body", max_body, 1024, 1LL << 30);
        OPTU("infer_rows", infer_rows, 1, 1000000);
        OPTU("learn_queue", learn_queue, 1, 100000000);
        OPTU("retention_s", retention_s, 1, 1LL << 31);
        OPTU("threads", threads, 0, 256);
        OPTU("label_cache_mb", label_cache_mb, 0, 1 << 20);
        OPTU("fault_commit_every", fault_commit_every, 0, 1000000);
        OPTU("fault_commit_delay_ms", fault_commit_delay_ms, 0, 600000);
        OPTU("drain_ms", drain_ms, 0, 3600000);
        v = json_object_get(doc, "verify_label_cache");
        if (v)
            s->o.verify_label_cache = json_is_true(v);
        v = json_object_get(doc, "log_events");
        if (v)
            s->o.log_events = json_is_true(v);
    }
#undef OPTU
    models = do_models ? json_object_get(doc, "models") : NULL;
    if (do_models && models && !json_is_array(models)) {
        rc = tide_err_set(err, TIDE_ERR_ARG, "%s: \"models\" must be an array", s->config_path);
        goto out;
    }
    for (size_t i = 0; models && i < json_array_size(models); i++) {
        json_t *spec = json_array_get(models, i);
        const char *name = json_string_value(json_object_get(spec, "name"));
        tide_err e2;
        if (!json_is_object(spec) || !name) {
            rc = tide_err_set(err, TIDE_ERR_ARG, "%s: models[%zu] needs a \"name\"", s->config_path,
                              i);
            goto out;
        }
        if (find_model(s, name))
            continue;   /* already there (created earlier or loaded from the store) */
        if (!create_model(s, NULL, spec, &e2)) {
            rc = tide_err_set(err, e2.code ? e2.code : TIDE_ERR_ARG, "%s: models[%zu]: %s",
                              s->config_path, i, e2.msg);
            goto out;
        }
    }
out:
    json_decref(doc);
    return rc;
}

/* ---- life cycle --------------------------------------------------------------------------- */

void tide_server_opts_init(tide_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    {
        /* two HTTP workers per core: a worker spends much of a request in
         * recv/send, and with one per core a core idles meanwhile (2 cores:
         * 4 workers served 67k-73k predict req/s against 60k-66k with 2;
         * docs/bench/serve.md) */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = ncpu < 1 ? 2 : ncpu > 32 ? 64 : (int)(2 * ncpu);
    }
    o->max_body = 8u << 20;
    o->publish_every = 1000;
    o->publish_ms = 100;
    o->persist_every = 100000;
    o->infer_rows = 100;
    o->retention_s = 7 * 86400;
    o->log_events = 1;
    o->learn_queue = 100000;
    o->label_cache_mb = 256;
    o->drain_ms = 10000;
}

const char *tide_server_address(const tide_server *s) { return s ? s->addr : ""; }

static int parse_listen(tide_server *s, const char *l, tide_err *err)
{
    const char *c = strrchr(l, ':');
    char *end;
    long p;
    if (!c || c == l || (size_t)(c - l) >= sizeof s->host)
        return tide_err_set(err, TIDE_ERR_ARG, "--listen '%s' must be HOST:PORT", l);
    memcpy(s->host, l, (size_t)(c - l));
    s->host[c - l] = '\0';
    p = strtol(c + 1, &end, 10);
    if (*end || end == c + 1 || p < 0 || p > 65535)
        return tide_err_set(err, TIDE_ERR_ARG, "--listen '%s': bad port", l);
    s->port = (int)p;
    return TIDE_OK;
}

/* The first generated event id (see gen_id): above the clock and above
 * every generated id of every model in the store. A stored id of
 * ev-ffffffffffffffff (a caller's: ids of that shape are accepted) has
 * nothing above it; top + 1 would wrap to 0 and every restart would hand
 * out ev-0000000000000000... again, duplicates of the last run's events.
 * Such a top is skipped: the clock alone then keeps runs apart, as in an
 * empty store. */
static int serve_init_event_ids(tide_server *s, tide_err *err)
{
    uint64_t next = (uint64_t)serve_wall_ms() << 20;
    for (size_t i = 0; i < s->n_models; i++) {
        uint64_t top = 0;
        int rc = tide_store_events_max_hex_id(s->mst, s->models[i]->name, "ev-", 16, &top, err);
        if (rc)
            return rc;
        if (top >= next && top != UINT64_MAX)
            next = top + 1;
    }
    atomic_store(&s->next_event_id, next);
    return TIDE_OK;
}

static int load_models(tide_server *s, tide_err *err)
{
    tide_store_model *ms = NULL;
    size_t n = 0;
    int rc = tide_store_model_list(s->mst, &ms, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        smodel *m = smodel_new(s, &ms[i], err);
        tide_store_version *vs = NULL;
        size_t nv = 0;
        int64_t base = 0;
        if (!m) {
            rc = err->code ? err->code : TIDE_ERR_NOMEM;
            break;
        }
        /* the alias "live" records the version the live state descends from */
        if (tide_store_alias_resolve(s->mst, ms[i].name, SERVE_LIVE_ALIAS, &base, NULL)) {
            base = 0;
            if (!tide_store_version_list(s->mst, ms[i].name, &vs, &nv, NULL) && nv)
                base = vs[nv - 1].version;
            tide_store_versions_free(vs, nv);
        }
        rc = smodel_start(m, s->mst, base, err);
        if (rc || s->n_models >= SERVE_MAX_MODELS) {
            smodel_free(m);
            rc = rc ? rc : tide_err_set(err, TIDE_ERR_LIMIT, "too many models");
            break;
        }
        s->models[s->n_models++] = m;
    }
    tide_store_models_free(ms, n);
    if (!rc)
        rc = serve_init_event_ids(s, err);
    return rc;
}

/* ---- acceptor -----------------------------------------------------------------------------
 * With the thread pool, connections are accepted here and handed to the
 * daemon with MHD_add_connection, which spreads them over its workers by
 * socket number. Left to the workers (each polling the shared listen
 * socket), one worker accepts up to 10 connections per wake-up, so a client
 * opening 8 connections at once often lands entirely on one worker and the
 * other stays idle (measured: batch predict with wrk -c8 ran on one thread). */
static void *acceptor_main(void *arg)
{
    tide_server *s = arg;
    while (!atomic_load(&s->astop)) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (atomic_load(&s->astop))
                break;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct timespec ts = {0, 10000000};   /* out of descriptors: back off */
                nanosleep(&ts, NULL);
            }
            continue;
        }
        /* MHD owns fd from here (closes it itself when it refuses it) */
        (void)MHD_add_connection(s->d, fd, (const struct sockaddr *)&ss, len);
    }
    return NULL;
}

static int listen_socket(tide_server *s, const struct sockaddr_in *sa, tide_err *err)
{
    int one = 1;
    struct sockaddr_in got;
    socklen_t gl = sizeof got;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return tide_err_set(err, TIDE_ERR_IO, "cannot create a socket: %s", strerror(errno));
    (void)setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->lfd, (const struct sockaddr *)sa, sizeof *sa) || listen(s->lfd, 1024))
        return tide_err_set(err, TIDE_ERR_IO, "cannot listen on %s:%d (in use?): %s", s->host,
                            s->port, strerror(errno));
    if (!getsockname(s->lfd, (struct sockaddr *)&got, &gl))
        s->port = ntohs(got.sin_port);
    return TIDE_OK;
}

int tide_server_new(const tide_server_opts *o, tide_server **out, tide_err *err)
{
    tide_server *s;
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *di;
    unsigned flags;
    int rc;
    *out = NULL;
    if (!o || !o->data_dir)
        return tide_err_set(err, TIDE_ERR_ARG, "tide serve needs --data DIR");
    s = calloc(1, sizeof *s);
    if (!s)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->fastjson = getenv("TIDE_SERVE_NO_FASTJSON") == NULL;
    s->lfd = -1;
    s->started = serve_now();
    pthread_rwlock_init(&s->mlock, NULL);
    pthread_mutex_init(&s->admin_mu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->ccv, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_cond_init(&s->wcv, NULL);
    s->data_dir = strdup(o->data_dir);
    s->config_path = o->config_path ? strdup(o->config_path) : NULL;
    if (!s->data_dir || (o->config_path && !s->config_path)) {
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    serve_arena_setup();   /* install jansson's hooks before any document exists */
    if (pthread_key_create(&s->st_key, close_store)) {
        rc = tide_err_set(err, TIDE_ERR_STATE, "cannot create a thread key");
        goto fail;
    }
    s->st_key_ok = 1;
    rc = parse_listen(s, o->listen ? o->listen : "127.0.0.1:8080", err);
    if (rc)
        goto fail;
    if ((rc = tide_store_open(s->data_dir, &s->mst, err)) ||
        (rc = tide_store_open(s->data_dir, &s->wst, err)))
        goto fail;
    rc = load_config(s, 1, 0, err);   /* options first; models once the stored ones are loaded */
    if (rc)
        goto fail;
    tide_store_verify_hints(s->wst, s->o.verify_label_cache);
    rc = load_models(s, err);
    if (rc)
        goto fail;
    rc = committer_start(s, err);
    if (rc)
        goto fail;
    rc = load_config(s, 0, 1, err);   /* models declared in the config but not in the store */
    if (rc)
        goto fail;
    {
        /* if the count fails here, the first request counts again (and
         * answers 503 while it fails): never open on an unknown count */
        int64_t nt = 0;
        if (!tide_store_token_count_all(s->mst, &nt, NULL)) {
            atomic_store(&s->n_tokens, nt);
            atomic_store(&s->tokens_checked_ms, serve_wall_ms());
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->port);
    if (inet_pton(AF_INET, s->host, &sa.sin_addr) != 1) {
        rc = tide_err_set(err, TIDE_ERR_ARG, "--listen: '%s' is not an IPv4 address", s->host);
        goto fail;
    }
    if (s->o.threads > 0) {
        s->suspend_ok = 1;
        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
        if ((rc = listen_socket(s, &sa, err)))
            goto fail;
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_THREAD_POOL_SIZE,
                                (unsigned)s->o.threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                s, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                                MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_END);
        if (s->d && pthread_create(&s->ath, NULL, acceptor_main, s)) {
            rc = tide_err_set(err, TIDE_ERR_STATE, "cannot start the acceptor thread");
            goto fail;
        }
        s->ath_started = s->d != NULL;
    } else {
        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
        s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                s, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    }
    if (!s->d) {
        rc = tide_err_set(err, TIDE_ERR_IO, "cannot listen on %s:%d (in use?)", s->host, s->port);
        goto fail;
    }
    di = s->lfd < 0 ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (di)
        s->port = di->port;
    snprintf(s->addr, sizeof s->addr, "%s:%d", s->host, s->port);
    atomic_store(&s->ready, 1);
    *out = s;
    return TIDE_OK;
fail:
    tide_server_free(s);
    return rc;
}

int tide_server_reload(tide_server *s, tide_err *err)
{
    return s ? load_config(s, 0, 1, err) : TIDE_OK;
}

/* Closes the door: the acceptor stops and the listen socket closes (thread
 * pool), or the daemon stops listening (thread per connection). */
static void stop_accepting(tide_server *s)
{
    if (s->ath_started) {
        atomic_store(&s->astop, 1);
        shutdown(s->lfd, SHUT_RDWR);   /* wakes accept() */
        pthread_join(s->ath, NULL);
        s->ath_started = 0;
    }
    if (s->lfd >= 0) {
        close(s->lfd);
        s->lfd = -1;
    } else if (s->d) {
        MHD_socket q = MHD_quiesce_daemon(s->d);
        if (q != MHD_INVALID_SOCKET)
            close(q);
    }
}

/* Waits (bounded) until no request is in flight. */
static void wait_inflight(tide_server *s, double seconds)
{
    double t0 = serve_now();
    while (atomic_load(&s->inflight) > 0 && serve_now() - t0 < seconds) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* Shutdown order. The committer is drained while the daemon still runs:
 * every queued label/learn item is committed (however long the disk takes)
 * and its suspended connection resumed with its answer; a request that
 * reaches committer_push after that is refused (503) and, if it was
 * suspended, resumed at once. Only then, once the answers had time to go out, does the
 * daemon stop: MHD_stop_daemon never sees a suspended connection (MHD
 * panics on one) and the committer never resumes a connection of a stopped
 * daemon (freed memory). */
int tide_server_stop(tide_server *s, tide_err *err)
{
    if (!s || atomic_exchange(&s->stopped, 1))
        return TIDE_OK;
    atomic_store(&s->draining, 1);
    stop_accepting(s);   /* new connections are refused; in-flight requests finish */
    wait_inflight(s, s->o.drain_ms / 1000.0);
    committer_stop(s);   /* commits and answers everything queued (events too) */
    wait_inflight(s, s->o.drain_ms / 1000.0);   /* resumed answers are sent */
    if (s->d) {
        MHD_stop_daemon(s->d);
        s->d = NULL;
    }
    for (size_t i = 0; i < s->n_models; i++)
        smodel_stop(s->models[i]);   /* applies queued labels, writes the snapshot */
    (void)err;
    return TIDE_OK;
}

void tide_server_free(tide_server *s)
{
    if (!s)
        return;
    tide_server_stop(s, NULL);
    for (size_t i = 0; i < s->n_models; i++)
        smodel_free(s->models[i]);
    while (s->grave) {
        smodel *n = s->grave->grave_next;
        smodel_free(s->grave);
        s->grave = n;
    }
    while (s->ch) {
        citem *n = s->ch->next;
        citem_free(s->ch);
        s->ch = n;
    }
    tide_store_close(s->wst);
    tide_store_close(s->mst);
    if (s->st_key_ok) {
        tide_store *st = pthread_getspecific(s->st_key);
        tide_store_close(st);
        pthread_setspecific(s->st_key, NULL);
        pthread_key_delete(s->st_key);
    }
    pthread_rwlock_destroy(&s->mlock);
    pthread_mutex_destroy(&s->admin_mu);
    pthread_mutex_destroy(&s->cmu);
    pthread_cond_destroy(&s->ccv);
    pthread_mutex_destroy(&s->wmu);
    pthread_cond_destroy(&s->wcv);
    free(s->data_dir);
    free(s->config_path);
    free(s);
}
