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
