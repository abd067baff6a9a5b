/*
 * cmd_serve.c — `tide serve --data DIR [--listen HOST:PORT] [--config FILE]`:
 * runs the HTTP JSON API (src/serve) until SIGTERM/SIGINT (drain requests,
 * write snapshots, exit 0); SIGHUP re-reads the config file. The first line
 * on stdout is "listening on HOST:PORT" (the real port when 0 was asked), so
 * scripts can start it on an ephemeral port.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tide/serve.h"

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: tide serve --data DIR [--listen HOST:PORT] [--config FILE] [options]\n"
            "  --data DIR          data directory (SQLite store tide.db, created if missing)\n"
            "  --listen HOST:PORT  address to bind (default 127.0.0.1:8080; port 0 = any free)\n"
            "  --config FILE       JSON: {\"models\": [{name, task, learner, params, schema}],\n"
            "                      \"max_body\", \"publish_every\", \"publish_ms\", ...}\n"
            "  --threads N         HTTP worker threads (default 2 per core; 0 = one per\n"
            "                      connection)\n"
            "  --max-body BYTES    larger request bodies get 413 (default 8388608)\n"
            "  --publish-every N   learner publishes a snapshot every N labels (default 1000)\n"
            "  --publish-ms T      ... or every T ms while labels are pending (default 100)\n"
            "  --persist-every N   write the model snapshot every N labels (default 100000)\n"
            "  --infer-rows N      rows used to infer a schema when none is declared (default 100)\n"
            "  --retention S       unlabelled events expire after S seconds (default 604800)\n"
            "  --learn-queue N     labels queued per learner before it re-reads them from\n"
            "                      the store instead (default 100000; bounds memory)\n"
            "  --label-cache-mb M  per model: MiB of recent logged events kept in memory so\n"
            "                      labels join without reading the store (default 256, 0 = off)\n"
            "  --no-log-events     do not log predictions (labels then cannot join them)\n"
            "Signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the config.\n");
}

static int num_arg(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    long long x;
    if (!v) {
        fprintf(stderr, "tide serve: %s needs a value\n", opt);
        return -1;
    }
    x = strtoll(v, &end, 10);
    if (*end || end == v || x < lo || x > hi) {
        fprintf(stderr, "tide serve: %s must be an integer in %lld..%lld, got '%s'\n", opt, lo, hi,
                v);
        return -1;
    }
    *out = x;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    tide_server_opts o;
    tide_server *s = NULL;
    tide_err err;
    sigset_t set;
    int sig;
    tide_server_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            serve_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && v) {
            o.data_dir = v, i++;
        } else if (!strcmp(a, "--listen") && v) {
            o.listen = v, i++;
        } else if (!strcmp(a, "--config") && v) {
            o.config_path = v, i++;
        } else if (!strcmp(a, "--threads")) {
            if (num_arg(a, v, 0, 256, &x))
                return 2;
            o.threads = (int)x, i++;
        } else if (!strcmp(a, "--max-body")) {
            if (num_arg(a, v, 1024, 1LL << 30, &x))
                return 2;
            o.max_body = (size_t)x, i++;
        } else if (!strcmp(a, "--publish-every")) {
            if (num_arg(a, v, 1, 100000000, &x))
                return 2;
            o.publish_every = (uint32_t)x, i++;
        } else if (!strcmp(a, "--publish-ms")) {
            if (num_arg(a, v, 1, 3600000, &x))
                return 2;
            o.publish_ms = (uint32_t)x, i++;
        } else if (!strcmp(a, "--persist-every")) {
            if (num_arg(a, v, 1, 1000000000, &x))
                return 2;
            o.persist_every = (uint32_t)x, i++;
        } else if (!strcmp(a, "--infer-rows")) {
            if (num_arg(a, v, 1, 1000000, &x))
                return 2;
            o.infer_rows = (uint32_t)x, i++;
        } else if (!strcmp(a, "--retention")) {
            if (num_arg(a, v, 1, 1LL << 31, &x))
                return 2;
            o.retention_s = (uint32_t)x, i++;
        } else if (!strcmp(a, "--learn-queue")) {
            if (num_arg(a, v, 1, 100000000, &x))
                return 2;
            o.learn_queue = (uint32_t)x, i++;
        } else if (!strcmp(a, "--label-cache-mb")) {
            if (num_arg(a, v, 0, 1 << 20, &x))
                return 2;
            o.label_cache_mb = (uint32_t)x, i++;
        } else if (!strcmp(a, "--no-log-events")) {
            o.log_events = 0;
        } else {
            fprintf(stderr, "tide serve: unknown or incomplete option '%s'\n", a);
            serve_usage(stderr);
            return 2;
        }
    }
    if (!o.data_dir) {
        fprintf(stderr, "tide serve: --data DIR is required\n");
        serve_usage(stderr);
        return 2;
    }
    /* block the signals in every thread; this one waits for them */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (tide_server_new(&o, &s, &err)) {
        fprintf(stderr, "tide serve: %s\n", err.msg);
        return err.code == TIDE_ERR_ARG ? 2 : 1;
    }
    printf("listening on %s\n", tide_server_address(s));
    fflush(stdout);
    for (;;) {
        if (sigwait(&set, &sig))
            continue;
        if (sig == SIGHUP) {
            if (tide_server_reload(s, &err))
                fprintf(stderr, "tide serve: reload failed: %s\n", err.msg);
            else
                fprintf(stderr, "tide serve: config reloaded\n");
            continue;
        }
        break;
    }
    fprintf(stderr, "tide serve: stopping (draining requests, writing snapshots)\n");
    tide_server_stop(s, &err);
    tide_server_free(s);
    return 0;
}
