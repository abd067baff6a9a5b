/*
 * progress.c — a one-line progress bar on stderr for long commands: rows,
 * rows/s, percentage and ETA from the bytes consumed. Drawn only when
 * stderr is a terminal, so logs and pipes stay quiet.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *label, uint64_t total_bytes)
{
    p->enabled = isatty(STDERR_FILENO);
    p->total_bytes = total_bytes;
    p->t_start = cli_now();
    p->t_last = 0;
    p->label = label;
}

static void fmt_eta(double s, char *out, size_t n)
{
    if (s < 0 || s > 1e7)
        snprintf(out, n, "--:--");
    else if (s >= 3600)
        snprintf(out, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
    else
        snprintf(out, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

void cli_progress_update(cli_progress *p, uint64_t rows, uint64_t bytes_done)
{
    double now, el, frac = 0, rate;
    char eta[32];
    int width = 30, filled;
    if (!p->enabled)
        return;
    now = cli_now();
    if (now - p->t_last < 0.1)
        return;
    p->t_last = now;
    el = now - p->t_start;
    rate = el > 0 ? (double)rows / el : 0;
    if (p->total_bytes)
        frac = (double)bytes_done / (double)p->total_bytes;
    if (frac > 1)
        frac = 1;
    fmt_eta(frac > 0 ? el * (1 - frac) / frac : -1, eta, sizeof eta);
    filled = (int)(frac * width);
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    if (p->total_bytes)
        fprintf(stderr, "] %5.1f%% %llu rows %.0f rows/s ETA %s ", frac * 100,
                (unsigned long long)rows, rate, eta);
    else
        fprintf(stderr, "] %llu rows %.0f rows/s ", (unsigned long long)rows, rate);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->enabled && p->t_last > 0)
        fprintf(stderr, "\r\033[K");
}
