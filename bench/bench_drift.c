/*
 * bench_drift.c — throughput of every drift detector (values/s) over one
 * 10,000,000-value Bernoulli stream with a few abrupt changes, plus the
 * direct ADWIN API (tide_adwin_update, no vtable) and the number of drifts
 * each raised; then the same detectors on a continuous stream (N(mu, 1)
 * with the mean moving between segments), where KSWIN cannot use its 0/1
 * shortcut. Usage: build/bench/bench_drift [N_VALUES] [REPEATS]
 * The stream is generated once into memory (splitmix64, seed 1) so that
 * the timing covers only the detectors. Time is the process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID, single thread), which is less disturbed than
 * wall time by other jobs on a shared machine; each detector takes the best of
 * REPEATS runs (default 3) to damp the noise of a shared machine; the load
 * average at the start and at the end is printed with the tables.
 * Figures and commands: docs/bench/drift.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tide/drift.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints the 1-minute load average (Linux /proc/loadavg), or nothing. */
static void print_load(const char *when)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l1;
    if (!f)
        return;
    if (fscanf(f, "%lf", &l1) == 1)
        printf("load average (1 min) %s: %.2f\n", when, l1);
    fclose(f);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Every registered detector over x[0..n-1]: best of reps, one table row each. */
static int run_all(const double *x, size_t n, int reps, double adwin_rate)
{
    for (size_t k = 0; k < tide_detector_count(); k++) {
        const char *name = tide_detector_at(k)->name;
        double best = 1e30;
        uint64_t drifts = 0;
        for (int r = 0; r < reps; r++) {
            tide_detector *d;
            tide_err e;
            double t0, t;
            if (tide_detector_new(name, NULL, 0, &d, &e) != TIDE_OK) {
                fprintf(stderr, "%s\n", e.msg);
                return 1;
            }
            drifts = 0;
            t0 = now();
            for (size_t i = 0; i < n; i++)
                drifts += tide_detector_update(d, x[i]) == TIDE_DRIFT_DETECTED;
            t = now() - t0;
            if (t < best)
                best = t;
            tide_detector_free(d);
        }
        printf("%-22s %12.3e %10.2f %8llu %10.2f\n", name, (double)n / best,
               best * 1e9 / (double)n, (unsigned long long)drifts,
               ((double)n / best) / adwin_rate);
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 10000000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    /* error rate by segment: a few abrupt changes */
    static const double P[] = {0.2, 0.5, 0.1, 0.3, 0.6, 0.2};
    const size_t nseg = sizeof P / sizeof P[0];
    double *x = malloc(n * sizeof *x);
    uint64_t s = 1;
    double adwin_rate = 0;
    if (!x || n == 0 || reps < 1) {
        fprintf(stderr, "usage: bench_drift [N_VALUES > 0] [REPEATS >= 1]\n");
        free(x);
        return 2;
    }
    print_load("at start");
    for (size_t i = 0; i < n; i++) {
        double p = P[i * nseg / n];
        x[i] = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0) < p ? 1.0 : 0.0;
    }
    printf("stream: %zu Bernoulli values, %zu segments (p = 0.2 0.5 0.1 0.3 0.6 0.2), best of %d\n",
           n, nseg, reps);
    printf("%-22s %12s %10s %8s %10s\n", "detector", "values/s", "ns/value", "drifts", "vs adwin");
    /* direct ADWIN API */
    {
        double best = 1e30;
        uint64_t drifts = 0;
        for (int r = 0; r < reps; r++) {
            tide_adwin *a;
            double t0, t;
            if (tide_adwin_new(0.002, &a) != TIDE_OK)
                return 1;
            drifts = 0;
            t0 = now();
            for (size_t i = 0; i < n; i++)
                drifts += (uint64_t)tide_adwin_update(a, x[i]);
            t = now() - t0;
            if (t < best)
                best = t;
            tide_adwin_free(a);
        }
        adwin_rate = (double)n / best;
        printf("%-22s %12.3e %10.2f %8llu %10.2f\n", "tide_adwin (direct)", adwin_rate,
               best * 1e9 / (double)n, (unsigned long long)drifts, 1.0);
    }
    if (run_all(x, n, reps, adwin_rate))
        return 1;
    /* continuous stream: N(mu, 1), mu by segment */
    for (size_t i = 0; i < n; i++) {
        double u = ((double)(splitmix(&s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
        double v = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
        x[i] = sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v) + 2.0 * P[i * nseg / n];
    }
    printf("\nstream: %zu N(mu, 1) values, same segments (mu = 2p), best of %d\n", n, reps);
    printf("%-22s %12s %10s %8s %10s\n", "detector", "values/s", "ns/value", "drifts", "vs adwin");
    if (run_all(x, n, reps, adwin_rate))
        return 1;
    print_load("at end");
    free(x);
    return 0;
}
