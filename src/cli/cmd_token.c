/*
 * cmd_token.c — `tide token create|list|revoke`: access tokens of a data
 * directory (tide/store.h). `create` prints the secret once on stdout; the
 * store keeps only a salted hash, so a lost secret cannot be recovered,
 * only revoked and replaced. Every change is appended to the audit log
 * with actor "cli" (a local operator, not a token).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "tide/store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: tide token create NAME --role predict|label|admin --data DIR\n"
               "       tide token list --data DIR\n"
               "       tide token revoke NAME --data DIR\n");
}

static void fmt_ms(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_token(int argc, char **argv)
{
    const char *sub = NULL, *name = NULL, *dir = NULL, *role_s = NULL;
    tide_store *st = NULL;
    tide_err err = {0};
    int status = 1, rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") && v) {
            dir = v;
            i++;
        } else if (!strcmp(a, "--role") && v) {
            role_s = v;
            i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "tide token: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!sub) {
            sub = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "tide token: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!sub || !dir) {
        fprintf(stderr, "tide token: %s is required\n", !sub ? "a sub-command" : "--data DIR");
        usage(stderr);
        return 2;
    }
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
        fprintf(stderr, "tide token: unknown sub-command '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    if (strcmp(sub, "list") && !name) {
        fprintf(stderr, "tide token %s: NAME is required\n", sub);
        usage(stderr);
        return 2;
    }
    if (!strcmp(sub, "create") && (!role_s || !tide_role_parse(role_s))) {
        fprintf(stderr, "tide token create: --role must be predict, label or admin (got '%s')\n",
                role_s ? role_s : "");
        return 2;
    }
    if ((rc = tide_store_open(dir, &st, &err)))
        goto fail;

    if (!strcmp(sub, "create")) {
        char secret[TIDE_STORE_SECRET_MAX];
        int role = tide_role_parse(role_s);
        /* token and its audit entry commit together */
        if ((rc = tide_store_begin(st, &err)))
            goto fail;
        if ((rc = tide_store_token_create(st, name, role, secret, &err)))
            goto fail;
        {
            char d[TIDE_STORE_NAME_MAX + 64];
            snprintf(d, sizeof d, "{\"token\":\"%s\",\"role\":\"%s\"}", name, tide_role_name(role));
            if ((rc = tide_store_audit_append(st, "cli", "token.create", NULL, d, NULL, &err)))
                goto fail;
        }
        if ((rc = tide_store_commit(st, &err)))
            goto fail;
        printf("%s\n", secret);
        fprintf(stderr, "token '%s' (%s) created; the secret above is shown only once\n", name,
                tide_role_name(role));
        memset(secret, 0, sizeof secret);
    } else if (!strcmp(sub, "revoke")) {
        char d[TIDE_STORE_NAME_MAX + 32];
        if ((rc = tide_store_begin(st, &err)) || (rc = tide_store_token_revoke(st, name, &err)))
            goto fail;
        snprintf(d, sizeof d, "{\"token\":\"%s\"}", name);
        if ((rc = tide_store_audit_append(st, "cli", "token.revoke", NULL, d, NULL, &err)) ||
            (rc = tide_store_commit(st, &err)))
            goto fail;
        printf("revoked %s\n", name);
    } else {
        tide_store_token *t = NULL;
        size_t n = 0;
        if ((rc = tide_store_token_list(st, &t, &n, &err)))
            goto fail;
        printf("%-24s %-8s %-20s %s\n", "name", "role", "created", "revoked");
        for (size_t i = 0; i < n; i++) {
            char c[32], r[32] = "-";
            fmt_ms(t[i].created, c, sizeof c);
            if (t[i].revoked)
                fmt_ms(t[i].revoked, r, sizeof r);
            printf("%-24s %-8s %-20s %s\n", t[i].name, tide_role_name(t[i].role), c, r);
        }
        free(t);
    }
    status = 0;
    goto done;
fail:
    fprintf(stderr, "tide token %s: %s\n", sub, err.msg[0] ? err.msg : tide_strerror(rc));
    status = (rc == TIDE_ERR_ARG || rc == TIDE_ERR_LIMIT) ? 2 : 1;
    tide_store_rollback(st);
done:
    tide_store_close(st);
    return status;
}
