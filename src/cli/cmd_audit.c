/*
 * cmd_audit.c — `tide audit verify|list`: checks the tamper-evident audit
 * log of a data directory (a BLAKE2b hash chain, see src/store/audit.c) and
 * prints its entries. `verify` exits 0 when every link holds and 1 with the
 * seq of the first broken entry otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "tide/store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tide audit verify --data DIR\n"
               "       tide audit list --data DIR [--after SEQ] [--limit N] [--json]\n");
}

/* Writes s as a JSON string body (escapes quotes, backslashes, controls). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int print_row(void *ctx, const tide_store_audit_row *r)
{
    int json = *(const int *)ctx;
    char when[32], hex[2 * TIDE_AUDIT_HASH_BYTES + 1];
    time_t t = (time_t)(r->time / 1000);
    struct tm tm;
    static const char *digits = "0123456789abcdef";
    for (int i = 0; i < TIDE_AUDIT_HASH_BYTES; i++) {
        hex[2 * i] = digits[r->hash[i] >> 4];
        hex[2 * i + 1] = digits[r->hash[i] & 15];
    }
    hex[2 * TIDE_AUDIT_HASH_BYTES] = '\0';
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (json) {
        printf("{\"seq\":%lld,\"time\":\"%s\",\"actor\":", (long long)r->seq, when);
        json_str(stdout, r->actor);
        printf(",\"action\":");
        json_str(stdout, r->action);
        printf(",\"model\":");
        json_str(stdout, r->model);
        printf(",\"detail\":");
        json_str(stdout, r->detail);
        printf(",\"hash\":\"%s\"}\n", hex);
    } else {
        printf("%6lld %s %-12s %-16s %-16s %s\n", (long long)r->seq, when,
               r->actor[0] ? r->actor : "-", r->action, r->model[0] ? r->model : "-",
               r->detail[0] ? r->detail : "-");
    }
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    const char *sub = NULL, *dir = NULL;
    long long after = 0, limit = 0;
    int json = 0, status = 1, rc;
    tide_store *st = NULL;
    tide_err err = {0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && v) {
            dir = v;
            i++;
        } else if ((!strcmp(a, "--after") || !strcmp(a, "--limit")) && v) {
            long long x = strtoll(v, &end, 10);
            if (end == v || *end || x < 0) {
                fprintf(stderr, "tide audit: %s wants a non-negative integer, not '%s'\n", a, v);
                return 2;
            }
            if (!strcmp(a, "--after"))
                after = x;
            else
                limit = x;
            i++;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' || sub) {
            fprintf(stderr, "tide audit: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            sub = a;
        }
    }
    if (!sub || !dir || (strcmp(sub, "verify") && strcmp(sub, "list"))) {
        fprintf(stderr, "tide audit: %s\n",
                !sub ? "a sub-command (verify|list) is required"
                     : !dir ? "--data DIR is required" : "unknown sub-command");
        usage(stderr);
        return 2;
    }
    if ((rc = tide_store_open(dir, &st, &err))) {
        fprintf(stderr, "tide audit %s: %s\n", sub, err.msg);
        return 1;
    }
    if (!strcmp(sub, "verify")) {
        int64_t broken = 0, checked = 0;
        rc = tide_store_audit_verify(st, &broken, &checked, &err);
        if (rc == TIDE_OK) {
            printf("audit log OK: %lld entries verified\n", (long long)checked);
            status = 0;
        } else if (rc == TIDE_ERR_CHECKSUM) {
            printf("audit log BROKEN at entry %lld (%lld entries before it verified): %s\n",
                   (long long)broken, (long long)checked, err.msg);
        } else {
            fprintf(stderr, "tide audit verify: %s\n", err.msg);
        }
    } else {
        rc = tide_store_audit_list(st, (int64_t)after, (size_t)limit, print_row, &json, &err);
        if (rc)
            fprintf(stderr, "tide audit list: %s\n", err.msg);
        else
            status = 0;
    }
    tide_store_close(st);
    return status;
}
