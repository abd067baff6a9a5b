/*
 * jcache.c — the committer's join cache: for each event the committer
 * logged, what a label needs to join it (the event's row, time and serving
 * version, its current label) plus what the learner needs to learn from it
 * (the hashed feature vector and the logged class probabilities computed
 * when the prediction was served). A label that hits the cache costs one
 * INSERT on the single writer (tide_store_label.hint_*) and no JSON parse
 * on the learner; a miss (after a restart, an eviction, an event logged
 * without a vector) falls back to the SQL join and the stored JSON.
 *
 * Consistency rule: an entry present in the cache always equals the
 * COMMITTED state of its event in the store. Only the committer thread
 * touches a cache, and every change made inside an open transaction goes
 * to an undo log: jcache_commit() forgets the log after COMMIT succeeded,
 * jcache_undo() restores the state before the transaction when it was
 * rolled back. Removing an entry is always safe (a miss is just slower),
 * so out-of-memory while updating an entry invalidates it instead.
 * Entries leave in insertion order (FIFO) when the byte budget is
 * exceeded, and when retention may have deleted their event.
 *
 * Hash table: separate chaining, XXH3-64 of the id, doubled when the load
 * passes 1.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "serve/serve_int.h"

enum { UNDO_ADD = 1, UNDO_LABEL = 2 };

struct jundo {
    int kind;
    jentry *e;
    int64_t seq;      /* UNDO_LABEL: the previous label seq */
    char *label;      /* UNDO_LABEL: the previous label (owned by the log) */
};

void jcache_init(jcache *c, size_t max_bytes)
{
    memset(c, 0, sizeof *c);
    c->max_bytes = max_bytes;
}

static void entry_free(jentry *e)
{
    if (e) {
        free(e->label);
        free(e);
    }
}

void jcache_free(jcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nu; i++)
        if (c->u[i].kind == UNDO_LABEL)
            free(c->u[i].label);
    free(c->u);
    for (jentry *e = c->head; e;) {
        jentry *n = e->next;
        entry_free(e);
        e = n;
    }
    free(c->b);
    memset(c, 0, sizeof *c);
}

static uint64_t id_hash(const char *id, size_t len) { return XXH3_64bits(id, len); }

uint64_t jcache_hash(const char *id) { return id_hash(id, strlen(id)); }

void jcache_prefetch(const jcache *c, uint64_t h)
{
    if (c->nb)
        __builtin_prefetch(&c->b[h & (c->nb - 1)]);
}

jentry *jcache_get_h(jcache *c, const char *id, uint64_t h)
{
    size_t len;
    if (!c->nb || !id)
        return NULL;
    len = strlen(id);
    for (jentry *e = c->b[h & (c->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && e->idlen == len && !memcmp(jentry_id(e), id, len))
            return e->dead ? NULL : e;
    return NULL;
}

jentry *jcache_get(jcache *c, const char *id)
{
    size_t len;
    uint64_t h;
    if (!c->nb || !id)
        return NULL;
    len = strlen(id);
    h = id_hash(id, len);
    for (jentry *e = c->b[h & (c->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && e->idlen == len && !memcmp(jentry_id(e), id, len))
            return e->dead ? NULL : e;
    return NULL;
}

static int grow(jcache *c)
{
    size_t nb = c->nb ? c->nb * 2 : 1024;
    jentry **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (jentry *e = c->head; e; e = e->next) {
        size_t k = e->hash & (nb - 1);
        e->hnext = b[k];
        b[k] = e;
    }
    free(c->b);
    c->b = b;
    c->nb = nb;
    return 0;
}

/* Memory charged to the budget for e (its block and its label). */
static size_t entry_bytes(const jentry *e)
{
    return sizeof *e + e->nf * sizeof(tide_feat) + e->np * sizeof(double) + e->idlen + 1 +
           (e->label ? strlen(e->label) + 1 : 0);
}

/* Unlinks e from the table and the list and frees it. */
static void unlink_free(jcache *c, jentry *e)
{
    jentry **pp = &c->b[e->hash & (c->nb - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    c->bytes -= entry_bytes(e);
    c->n--;
    entry_free(e);
}

static int log_push(jcache *c, int kind, jentry *e, int64_t seq, char *label)
{
    if (c->nu == c->capu) {
        size_t cap = c->capu ? c->capu * 2 : 256;
        struct jundo *u = realloc(c->u, cap * sizeof *u);
        if (!u)
            return -1;
        c->u = u;
        c->capu = cap;
    }
    c->u[c->nu++] = (struct jundo){kind, e, seq, label};
    return 0;
}

int jcache_add(jcache *c, const char *id, int64_t row, int64_t time, int64_t version,
               const tide_feat *f, size_t nf, const double *p, size_t np)
{
    size_t len = strlen(id), sz;
    jentry *e;
    if (!c->max_bytes || nf > UINT32_MAX / 2 || np > TIDE_MAX_CLASSES || len >= UINT32_MAX ||
        jcache_get(c, id))
        return -1;
    if (c->n >= c->nb && grow(c))
        return -1;
    /* one block: entry, then the vector, the probabilities, the id */
    sz = sizeof *e + nf * sizeof(tide_feat) + np * sizeof(double) + len + 1;
    e = calloc(1, sz);
    if (!e)
        return -1;
    e->nf = (uint32_t)nf;
    e->np = (uint32_t)np;
    e->idlen = (uint32_t)len;
    if (nf)
        memcpy(jentry_f(e), f, nf * sizeof *f);
    if (np)
        memcpy(jentry_p(e), p, np * sizeof *p);
    memcpy(jentry_id(e), id, len + 1);
    e->row = row;
    e->time = time;
    e->version = version;
    e->hash = id_hash(id, len);
    if (log_push(c, UNDO_ADD, e, 0, NULL)) {
        free(e);
        return -1;
    }
    e->hnext = c->b[e->hash & (c->nb - 1)];
    c->b[e->hash & (c->nb - 1)] = e;
    e->prev = c->tail;
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
    c->n++;
    c->bytes += sz;
    return 0;
}

void jcache_set_label(jcache *c, jentry *e, int64_t seq, const char *label)
{
    char *copy = strdup(label);
    if (!copy || log_push(c, UNDO_LABEL, e, e->seq, e->label)) {
        /* cannot record the new state: the entry must not be used again */
        free(copy);
        e->dead = 1;
        c->n_dead_check = 1;
        return;
    }
    c->bytes -= entry_bytes(e);
    e->label = copy;
    c->bytes += entry_bytes(e);
    e->seq = seq;
}

static void trim(jcache *c);

void jcache_undo(jcache *c)
{
    if (!c->nu)
        return;
    while (c->nu) {
        struct jundo *u = &c->u[--c->nu];
        if (u->kind == UNDO_ADD) {
            unlink_free(c, u->e);
        } else {
            jentry *e = u->e;
            c->bytes -= entry_bytes(e);
            free(e->label);
            e->label = u->label;
            e->seq = u->seq;
            c->bytes += entry_bytes(e);
        }
    }
    c->undos++;
    trim(c);
}

/* Removes dead entries and evicts the oldest until the budget holds.
 * Only with an empty undo log (no pointer into the cache remains). */
static void trim(jcache *c)
{
    if (c->nu)
        return;
    for (jentry *e = c->head; e && c->bytes > c->max_bytes;) {
        jentry *n = e->next;
        unlink_free(c, e);
        c->evicted++;
        e = n;
    }
    if (c->n_dead_check) {
        for (jentry *e = c->head; e;) {
            jentry *n = e->next;
            if (e->dead)
                unlink_free(c, e);
            e = n;
        }
        c->n_dead_check = 0;
    }
}

void jcache_commit(jcache *c)
{
    for (size_t i = 0; i < c->nu; i++)
        if (c->u[i].kind == UNDO_LABEL)
            free(c->u[i].label);
    c->nu = 0;
    trim(c);
}

void jcache_expire(jcache *c, int64_t cutoff)
{
    if (c->nu)
        return;
    for (jentry *e = c->head; e;) {
        jentry *n = e->next;
        if (e->time < cutoff) {
            unlink_free(c, e);
            c->expired++;
        }
        e = n;
    }
}
