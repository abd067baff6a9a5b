/*
 * bench_store.c — durable label throughput of the embedded store
 * (src/store), with synchronous=FULL as the server runs it:
 *   - one label per call, each its own transaction (1 fsync each);
 *   - K one-label calls between tide_store_begin/commit: what the server's
 *     writer thread does with K concurrent requests (group commit);
 *   - batches of 100 labels per call, 1, 20 or 100 calls per commit;
 * plus event logging in batches of 100, token verification, and the raw
 * cost of one 4 KiB write+fdatasync on the same disk as the reference for
 * what a per-commit fsync costs here.
 * Then event logging as `tide serve` does it under a batch-predict load:
 * the 25-feature body of bench/serve, 8192 events per commit, with the
 * server's increasing generated ids and with random ids; and, as the floor
 * any per-event layout in SQLite stands on, the same bytes written as one
 * blob row per 100 events into a table with no index.
 * usage: bench_store [--dir DIR] [--seconds S]   (DIR default: a temp dir)
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tide/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* user + system CPU seconds of this process: less sensitive than wall time
 * to the other jobs sharing the machine */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static tide_store *st;
static tide_err err;
static long next_event;   /* events e0..e(next_event-1) exist */
static long next_label;   /* first event without a label */

static void log_events(long n)
{
    tide_store_event ev[100];
    char ids[100][32];
    for (long done = 0; done < n;) {
        int k = n - done < 100 ? (int)(n - done) : 100;
        for (int i = 0; i < k; i++) {
            snprintf(ids[i], sizeof ids[i], "e%ld", next_event + i);
            memset(&ev[i], 0, sizeof ev[i]);
            ev[i].id = ids[i];
            ev[i].features = "{\"f0\":0.25,\"f1\":1.5,\"f2\":-3,\"f3\":\"red\",\"f4\":12}";
            ev[i].prediction = "{\"p\":0.73}";
            ev[i].version = 1;
        }
        if (tide_store_events_log(st, "m", ev, (size_t)k, &err))
            DIE("events: %s", err.msg);
        next_event += k;
        done += k;
    }
}

static void fill(tide_store_label *l, int k, char ids[][32])
{
    for (int i = 0; i < k; i++) {
        snprintf(ids[i], 32, "e%ld", next_label + i);
        memset(&l[i], 0, sizeof l[i]);
        l[i].model = "m";
        l[i].event_id = ids[i];
        l[i].label = (next_label + i) % 3 ? "1" : "0";
    }
}

static void check_joined(tide_store_label *l, int k)
{
    for (int i = 0; i < k; i++)
        if (l[i].status != TIDE_LABEL_JOINED)
            DIE("label %s: %s", l[i].event_id, tide_label_status_name(l[i].status));
}

/* Labels in commits of `calls` calls of `per_call` labels each; a
 * transaction is opened explicitly when calls > 1 (group commit). */
static double run(int calls, int per_call, double seconds, long *count, double *cpu_rate)
{
    double c0 = cpu_s();
    static tide_store_label l[100];
    static char ids[100][32];
    long n = 0;
    double t0 = now_s(), t;
    do {
        if (next_label + (long)calls * per_call > next_event)
            DIE("ran out of events");
        if (calls > 1 && tide_store_begin(st, &err))
            DIE("begin: %s", err.msg);
        for (int c = 0; c < calls; c++) {
            fill(l, per_call, ids);
            if (tide_store_labels_insert(st, l, (size_t)per_call, &err))
                DIE("labels: %s", err.msg);
            check_joined(l, per_call);
            next_label += per_call;
            n += per_call;
        }
        if (calls > 1 && tide_store_commit(st, &err))
            DIE("commit: %s", err.msg);
        t = now_s() - t0;
    } while (t < seconds);
    *count = n;
    *cpu_rate = (double)n / (cpu_s() - c0);
    return (double)n / t;
}

/* The features of bench/serve/body.json: what one logged event carries. */
static const char BODY25[] =
    "{\"n00\":-2.1938,\"n01\":2.0846,\"n02\":1.5826,\"n03\":-1.4696,\"n04\":-0.0274,"
    "\"n05\":-0.3031,\"n06\":0.9096,\"n07\":1.7323,\"n08\":-2.4368,\"n09\":-2.8299,"
    "\"n10\":2.0146,\"n11\":-0.4034,\"n12\":1.5737,\"n13\":-2.9874,\"n14\":-0.3277,"
    "\"n15\":1.3292,\"n16\":-1.6274,\"n17\":2.6716,\"n18\":2.4086,\"n19\":-2.8165,"
    "\"c0\":\"red\",\"c1\":\"black\",\"c2\":\"red\",\"c3\":\"cyan\",\"c4\":\"green\"}";
static const char PRED[] = "{\"p\":[0.26894142136999510,0.73105857863000490]}";

/* n events of the server's shape in commits of 8192, ids "ev-" + 16 hex
 * digits, increasing (as the server generates them) or random. Returns
 * events per second; *cpu_us gets CPU microseconds per event. */
static double serve_events(const char *model, long n, int random_ids, double *cpu_us)
{
    static tide_store_event ev[8192];
    static char ids[8192][24];
    uint64_t ctr = (uint64_t)time(NULL) << 30, rng = 0x9E3779B97F4A7C15ULL;
    double t0 = now_s(), c0 = cpu_s();
    for (long done = 0; done < n;) {
        int k = n - done < 8192 ? (int)(n - done) : 8192;
        for (int i = 0; i < k; i++) {
            uint64_t z = ctr++;
            if (random_ids) {   /* splitmix64 */
                z = (rng += 0x9E3779B97F4A7C15ULL);
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
                z ^= z >> 31;
            }
            snprintf(ids[i], sizeof ids[i], "ev-%016llx", (unsigned long long)z);
            memset(&ev[i], 0, sizeof ev[i]);
            ev[i].id = ids[i];
            ev[i].features = BODY25;
            ev[i].prediction = PRED;
            ev[i].version = 1;
        }
        if (tide_store_events_log(st, model, ev, (size_t)k, &err))
            DIE("events: %s", err.msg);
        done += k;
    }
    *cpu_us = (cpu_s() - c0) / (double)n * 1e6;
    return (double)n / (now_s() - t0);
}

/* The floor: the same bytes per event (id, time, version, features,
 * prediction), 100 events per blob row, 8192 events per commit, in a
 * database of its own with the store's settings (WAL, synchronous=FULL). */
static double blob_floor(const char *dir, long n, double *cpu_us)
{
    char path[4200];
    sqlite3 *db;
    sqlite3_stmt *ins;
    size_t per = strlen(BODY25) + strlen(PRED) + 19 + 8 + 8 + 8, nb = 100 * per;
    unsigned char *blob = malloc(nb);
    double t0, c0;
    if (!blob)
        DIE("out of memory");
    for (size_t i = 0; i < 100; i++) {   /* bytes of the same kind, not zeros */
        unsigned char *b = blob + i * per;
        snprintf((char *)b, 20, "ev-%016zx", i);
        memcpy(b + 43, BODY25, strlen(BODY25));
        memcpy(b + 43 + strlen(BODY25), PRED, strlen(PRED));
    }
    snprintf(path, sizeof path, "%s/floor.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                         "PRAGMA cache_size=-65536; CREATE TABLE b(row INTEGER PRIMARY KEY, "
                         "t INTEGER, n INTEGER, data BLOB)", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO b(t, n, data) VALUES(?1, 100, ?2)", -1, &ins, NULL) !=
            SQLITE_OK)
        DIE("floor db: %s", sqlite3_errmsg(db));
    t0 = now_s();
    c0 = cpu_s();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (long done = 0; done < n; done += 100) {
        sqlite3_bind_int64(ins, 1, done);
        sqlite3_bind_blob(ins, 2, blob, (int)nb, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            DIE("floor insert: %s", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        if ((done + 100) % 8192 < 100) {
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        DIE("floor commit: %s", sqlite3_errmsg(db));
    *cpu_us = (cpu_s() - c0) / (double)n * 1e6;
    t0 = (double)n / (now_s() - t0);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    free(blob);
    return t0;
}

static double fsync_cost(const char *dir, int reps)
{
    char path[4200], buf[4096];
    int fd;
    double t0;
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0)
        DIE("open %s", path);
    memset(buf, 'x', sizeof buf);
    t0 = now_s();
    for (int i = 0; i < reps; i++) {
        if (pwrite(fd, buf, sizeof buf, (off_t)i * 4096) != (ssize_t)sizeof buf || fdatasync(fd))
            DIE("write/fdatasync failed");
    }
    t0 = now_s() - t0;
    close(fd);
    unlink(path);
    return t0 / reps;
}

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/tide-bench-store-XXXXXX", dir[4096];
    const char *user_dir = NULL;
    double seconds = 2.0, r;
    long n;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            user_dir = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else
            DIE("usage: bench_store [--dir DIR] [--seconds S]");
    }
    if (!user_dir && !mkdtemp(tmp))
        DIE("mkdtemp failed");
    snprintf(dir, sizeof dir, "%s/data", user_dir ? user_dir : tmp);
    if (tide_store_open(dir, &st, &err))
        DIE("open: %s", err.msg);
    if (tide_store_model_create(st, "m", "binary", "logistic", "", NULL, &err))
        DIE("model: %s", err.msg);

    printf("store bench: %s, synchronous=FULL, WAL, %.1f s per case\n", dir, seconds);
    printf("fdatasync of 4 KiB on this disk: %.3f ms\n", 1e3 * fsync_cost(dir, 200));
    double t0 = now_s();
    log_events(100000);
    printf("events, 1 batch of 100 per commit:       %10.0f events/s\n", 100000 / (now_s() - t0));
    static const struct { int calls, per_call; const char *what; } CASES[] = {
        {1, 1, "1 label per commit (single)"},
        {100, 1, "100 one-label calls per commit"},
        {1, 100, "1 batch of 100 per commit"},
        {20, 100, "20 batches of 100 per commit"},
        {100, 100, "100 batches of 100 per commit"},
    };
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        long need = (long)(seconds * 400000) + 10000;
        if (next_event - next_label < need)
            log_events(need - (next_event - next_label));
        double cr;
        r = run(CASES[c].calls, CASES[c].per_call, seconds, &n, &cr);
        printf("labels, %-32s %10.0f labels/s  (%ld labels; %.0f labels per CPU-second)\n",
               CASES[c].what, r, n, cr);
    }

    /* events as the server logs them, and the floor under them */
    {
        long ne = (long)(seconds * 150000) + 50000;
        double cpu, rate;
        if (tide_store_model_create(st, "inc", "binary", "logistic", "", NULL, &err) ||
            tide_store_model_create(st, "rnd", "binary", "logistic", "", NULL, &err))
            DIE("model: %s", err.msg);
        rate = serve_events("inc", ne, 0, &cpu);
        printf("server events, 25 features, increasing ids: %8.0f events/s  (%.2f CPU us each, %ld events)\n",
               rate, cpu, ne);
        rate = serve_events("rnd", ne, 1, &cpu);
        printf("server events, 25 features, random ids:     %8.0f events/s  (%.2f CPU us each)\n",
               rate, cpu);
        rate = blob_floor(dir, ne, &cpu);
        printf("floor: same bytes, 1 blob row per 100:      %8.0f events/s  (%.2f CPU us each)\n",
               rate, cpu);
    }

    /* token verification cost (per request) */
    char secret[TIDE_STORE_SECRET_MAX], name[TIDE_STORE_NAME_MAX];
    int role;
    if (tide_store_token_create(st, "bench", TIDE_ROLE_LABEL, secret, &err))
        DIE("token: %s", err.msg);
    t0 = now_s();
    for (int i = 0; i < 20000; i++)
        if (tide_store_token_verify(st, secret, name, &role, &err))
            DIE("verify: %s", err.msg);
    printf("token verify:                            %10.2f us each\n", (now_s() - t0) / 20000 * 1e6);
    tide_store_close(st);
    if (!user_dir)
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
