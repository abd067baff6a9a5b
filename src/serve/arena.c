/*
 * arena.c — a per-thread bump allocator for jansson on the predict path.
 *
 * Parsing a request with jansson costs ~3 mallocs per JSON value; on the
 * predict path (parse, validate, predict, drop the document) those nodes all
 * die together, so a worker thread can carve them out of one reusable chunk
 * and forget them at the end of the request. jansson's allocator hooks are
 * process-wide, so:
 *  - outside an active arena (every other thread, every other code path)
 *    the hooks are plain malloc/free, so strings from json_dumps etc. can
 *    still be released with free();
 *  - the free hook ignores pointers that lie inside the calling thread's
 *    arena chunks (they are reclaimed by serve_arena_end) and passes every
 *    other pointer to free().
 * Rule for callers: a document parsed while the arena is active must be
 * released on the same thread before serve_arena_end() and must not escape
 * the request (no json_dumps output, no reference kept elsewhere).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "serve/serve_int.h"

#define ARENA_CHUNK (64u << 10)

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char mem[];
} chunk;

typedef struct arena {
    chunk *head;     /* current chunk first; the last one is kept across requests */
    int active;
} arena;

static _Thread_local arena tl_arena;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void arena_release(void *p)
{
    arena *a = p;
    chunk *c = a ? a->head : NULL;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    if (a)
        a->head = NULL;
}

static void *hook_malloc(size_t n)
{
    arena *a = &tl_arena;
    chunk *c;
    if (!a->active)
        return malloc(n);
    n = (n + 15) & ~(size_t)15;
    c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->cap = cap;
        nc->used = 0;
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    c->used += n;
    return c->mem + c->used - n;
}

static int in_arena(const void *p)
{
    for (const chunk *c = tl_arena.head; c; c = c->next)
        if ((const unsigned char *)p >= c->mem && (const unsigned char *)p < c->mem + c->cap)
            return 1;
    return 0;
}

static void hook_free(void *p)
{
    if (p && !in_arena(p))
        free(p);
}

static void arena_init(void)
{
    (void)pthread_key_create(&arena_key, arena_release);
    json_set_alloc_funcs(hook_malloc, hook_free);
}

void serve_arena_setup(void) { pthread_once(&arena_once, arena_init); }

void serve_arena_begin(void)
{
    serve_arena_setup();
    if (!tl_arena.head)
        (void)pthread_setspecific(arena_key, &tl_arena);
    tl_arena.active = 1;
}

int serve_arena_set(int on)
{
    int was = tl_arena.active;
    tl_arena.active = on;
    return was;
}

void serve_arena_end(void)
{
    chunk *c = tl_arena.head, *keep = NULL;
    tl_arena.active = 0;
    /* keep one standard chunk for the next request, free the rest */
    while (c) {
        chunk *n = c->next;
        if (!keep && c->cap == ARENA_CHUNK)
            keep = c;
        else
            free(c);
        c = n;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    tl_arena.head = keep;
}
