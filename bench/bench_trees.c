/*
 * bench_trees.c — progressive validation (predict, then learn, every row in
 * stream order, no delay) of the tree learners on the shared data streams,
 * with in-memory throughput and peak model memory.
 *
 * Rows are parsed (all-numeric CSV, target in the last column) and turned
 * into sparse vectors before timing (column j -> bucket j, every value
 * kept, zeros included); only the progressive step (tide_learner_learn_predict:
 * predict, then learn) is timed. Peak memory is the
 * largest tide_learner_memory() sampled every 500 rows and at the end
 * (sampling is outside the timed region). Time is the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID): the machine is shared, and wall time would
 * count the time other jobs hold the core.
 *
 * usage: bench_trees [-d DATA_DIR] [-r REPEATS] [-c ROW,ROW,...] [learner[:k=v,k=v] ...]
 *   default learners: ht hat arf htr; classifiers run on phishing, bananas
 *   and elec2, regressors on trump_approval. Prints one markdown row per
 *   (learner, stream): metric, rows/s (best of REPEATS), peak bytes.
 *   -c: classifiers also print the rows predicted right among the first
 *   ROW rows for each ROW given (learning curve: how fast a model becomes
 *   accurate, e.g. a young forest on Bananas).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tide/learn.h"

typedef struct stream {
    size_t n, d;
    float *x;    /* n * d */
    double *y;
} stream;

static int load_csv(const char *path, stream *s)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    size_t cap = 0;
    memset(s, 0, sizeof *s);
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    for (char *p = line; *p; p++)
        s->d += *p == ',';
    while (fgets(line, sizeof line, f)) {
        char *p = line, *e;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 1024;
            s->x = realloc(s->x, cap * s->d * sizeof *s->x);
            s->y = realloc(s->y, cap * sizeof *s->y);
            if (!s->x || !s->y) {
                fclose(f);
                return -1;
            }
        }
        for (size_t j = 0; j < s->d; j++) {
            s->x[s->n * s->d + j] = strtof(p, &e);
            p = *e == ',' ? e + 1 : e;
        }
        s->y[s->n] = strtod(p, NULL);
        s->n++;
    }
    fclose(f);
    return 0;
}

#define MAX_CP 32
static size_t g_cp[MAX_CP];   /* -c checkpoints (rows), g_ncp of them */
static int g_ncp;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Creates "name:k=v,k=v". */
static int make_learner(const char *spec, tide_learner **out, tide_err *err)
{
    char buf[512], *kv[32], *name;
    size_t nkv = 0;
    snprintf(buf, sizeof buf, "%s", spec);
    name = buf;
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        for (char *t = strtok(colon + 1, ","); t && nkv < 32; t = strtok(NULL, ","))
            kv[nkv++] = t;
    }
    return tide_learner_new(name, (const char **)kv, nkv, 18, out, err);
}

static void run(const char *spec, const char *file, const stream *s, int repeats)
{
    double best = 0, metric = 0;
    size_t peak = 0;
    tide_feat *fs = malloc(s->n * s->d * sizeof *fs);
    tide_fvec *v = malloc(s->n * sizeof *v);
    if (!fs || !v) {
        free(fs);
        free(v);
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        v[i].f = fs + i * s->d;
        v[i].n = v[i].cap = s->d;
        for (size_t j = 0; j < s->d; j++) {
            fs[i * s->d + j].idx = (uint32_t)j;
            fs[i * s->d + j].val = s->x[i * s->d + j];
        }
    }
    for (int rep = 0; rep < repeats; rep++) {
        tide_learner *l = NULL;
        tide_err err;
        double out[TIDE_MAX_CLASSES], t = 0, sum = 0, cp_sum[MAX_CP];
        if (make_learner(spec, &l, &err)) {
            fprintf(stderr, "%s: %s\n", spec, err.msg);
            break;
        }
        int reg = l->vt->task == TIDE_TASK_REGRESSION;
        for (size_t i = 0; i < s->n; i += 500) {
            size_t end = i + 500 < s->n ? i + 500 : s->n;
            double t0 = now();
            for (size_t k = i; k < end; k++) {
                /* the progressive step (predict, then learn) in one call:
                 * what tide replay runs; a learner that shares work between
                 * the two provides learn_predict */
                tide_learner_learn_predict(l, &v[k], s->y[k], 1.0, out);
                if (reg) {
                    sum += fabs(out[0] - s->y[k]);
                } else {
                    int K = tide_learner_classes(l), b = 0;
                    for (int c = 1; c < K; c++)
                        if (out[c] > out[b])
                            b = c;
                    sum += b == (int)s->y[k];
                    for (int c = 0; c < g_ncp; c++)
                        if (g_cp[c] == k + 1)
                            cp_sum[c] = sum;
                }
            }
            t += now() - t0;
            size_t m = tide_learner_memory(l);
            if (m > peak)
                peak = m;
        }
        metric = sum / (double)s->n;
        if (rep == repeats - 1 && !reg && g_ncp) {
            printf("| %s | %s | right of the first", spec, file);
            for (int c = 0; c < g_ncp && g_cp[c] <= s->n; c++)
                printf(" %zu: %.0f%s", g_cp[c], cp_sum[c], c + 1 < g_ncp ? "," : "");
            printf(" | | |\n");
        }
        if (s->n / t > best)
            best = (double)s->n / t;
        tide_learner_free(l);
    }
    printf("| %s | %s | %s %.6f | %.0f | %zu |\n", spec, file,
           strstr(file, "trump") ? "MAE" : "acc", metric, best, peak);
    fflush(stdout);
    free(fs);
    free(v);
}

int main(int argc, char **argv)
{
    const char *dir = getenv("TIDE_DATA");
    const char *defaults[] = {"ht", "hat", "arf", "htr"};
    const char **names = defaults;
    int nnames = 4, repeats = 1, i = 1;
    if (!dir)
        dir = "../shared/data";
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            for (char *t = strtok(argv[++i], ","); t && g_ncp < MAX_CP; t = strtok(NULL, ","))
                if (strtoul(t, NULL, 10) > 0)
                    g_cp[g_ncp++] = strtoul(t, NULL, 10);
    }
    if (i < argc) {
        names = (const char **)argv + i;
        nnames = argc - i;
    }
    const char *cls_files[] = {"phishing.csv", "bananas.csv", "elec2.csv"};
    const char *reg_files[] = {"trump_approval.csv"};
    printf("| learner | stream | metric | rows/s | peak bytes |\n|---|---|---|---:|---:|\n");
    for (int k = 0; k < nnames; k++) {
        tide_learner *l;
        tide_err err;
        if (make_learner(names[k], &l, &err)) {
            fprintf(stderr, "%s: %s\n", names[k], err.msg);
            return 2;
        }
        int reg = l->vt->task == TIDE_TASK_REGRESSION;
        tide_learner_free(l);
        const char **files = reg ? reg_files : cls_files;
        int nf = reg ? 1 : 3;
        for (int f = 0; f < nf; f++) {
            char path[1024];
            stream s;
            snprintf(path, sizeof path, "%s/%s", dir, files[f]);
            if (load_csv(path, &s)) {
                fprintf(stderr, "cannot read %s\n", path);
                return 1;
            }
            run(names[k], files[f], &s, repeats);
            free(s.x);
            free(s.y);
        }
    }
    return 0;
}
