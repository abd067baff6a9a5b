/*
 * snap.c — immutable model snapshots behind an atomic pointer, reclaimed with
 * hazard pointers (M. M. Michael, "Hazard Pointers: Safe Memory Reclamation
 * for Lock-Free Objects", IEEE TPDS 15(6), 2004).
 *
 * Every thread that reads snapshots owns one hazard slot in a process-wide
 * table (taken on first use, given back when the thread exits through a
 * pthread key destructor). Reader: p = load(ptr); slot = p; if load(ptr) != p
 * retry. From then on p is protected: a publisher frees a retired snapshot
 * only after a scan of all slots finds nobody naming it. All atomics are
 * sequentially consistent, which is what the argument needs (the slot store
 * must be visible before the re-check load, and the publisher's swap before
 * its scan). Readers never block; publishers never wait for readers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

#define HP_SLOTS 4096

static _Atomic(serve_snap *) hp_slot[HP_SLOTS];
static atomic_int hp_used[HP_SLOTS];
static atomic_int hp_high;              /* slots ever taken: scan bound */
static pthread_key_t hp_key;
static pthread_once_t hp_once = PTHREAD_ONCE_INIT;
static _Thread_local int hp_mine = -1;

static void hp_release_slot(void *p)
{
    int i = (int)(intptr_t)p - 1;
    if (i >= 0 && i < HP_SLOTS) {
        atomic_store(&hp_slot[i], NULL);
        atomic_store(&hp_used[i], 0);
    }
}

static void hp_init(void) { (void)pthread_key_create(&hp_key, hp_release_slot); }

static _Atomic(serve_snap *) *my_slot(void)
{
    if (hp_mine >= 0)
        return &hp_slot[hp_mine];
    pthread_once(&hp_once, hp_init);
    for (int i = 0; i < HP_SLOTS; i++) {
        int z = 0;
        if (atomic_load(&hp_used[i]) == 0 && atomic_compare_exchange_strong(&hp_used[i], &z, 1)) {
            int h = atomic_load(&hp_high);
            while (h < i + 1 && !atomic_compare_exchange_weak(&hp_high, &h, i + 1))
                ;
            hp_mine = i;
            (void)pthread_setspecific(hp_key, (void *)(intptr_t)(i + 1));
            return &hp_slot[i];
        }
    }
    return NULL;
}

void serve_snap_free(serve_snap *s)
{
    if (!s)
        return;
    tide_model_free(s->m);
    free(s);
}

serve_snap *serve_snap_acquire(_Atomic(serve_snap *) *p)
{
    _Atomic(serve_snap *) *slot = my_slot();
    serve_snap *s;
    if (!slot)
        return NULL;
    do {
        s = atomic_load(p);
        atomic_store(slot, s);
    } while (s != atomic_load(p));
    return s;
}

void serve_snap_release(void)
{
    if (hp_mine >= 0)
        atomic_store(&hp_slot[hp_mine], NULL);
}

static int held(const serve_snap *s)
{
    int hi = atomic_load(&hp_high);
    for (int i = 0; i < hi; i++)
        if (atomic_load(&hp_slot[i]) == s)
            return 1;
    return 0;
}

void serve_snap_scan(serve_retired *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (held(r->v[i]))
            r->v[k++] = r->v[i];
        else
            serve_snap_free(r->v[i]);
    }
    r->n = k;
}

void serve_snap_publish(_Atomic(serve_snap *) *p, serve_snap *s, serve_retired *r)
{
    serve_snap *old = atomic_exchange(p, s);
    if (old) {
        if (r->n == r->cap) {
            size_t nc = r->cap ? r->cap * 2 : 8;
            serve_snap **nv = realloc(r->v, nc * sizeof *nv);
            if (nv) {
                r->v = nv;
                r->cap = nc;
            }
        }
        if (r->n < r->cap) {
            r->v[r->n++] = old;
        } else {
            /* cannot remember it: wait until no reader holds it (rare, OOM only) */
            while (held(old))
                ;
            serve_snap_free(old);
        }
    }
    serve_snap_scan(r);
}

void serve_snap_retired_free(serve_retired *r)
{
    for (size_t i = 0; i < r->n; i++)
        serve_snap_free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}
