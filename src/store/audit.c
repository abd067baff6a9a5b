/*
 * audit.c — the tamper-evident audit log and the access tokens of the store
 * (tide/store.h), both on libsodium.
 *
 * Audit: a hash chain in the manner of Haber & Stornetta, "How to
 * time-stamp a digital document" (J. Cryptology 3(2), 1991): entry i stores
 * h_i = BLAKE2b-256(h_{i-1} || canonical(entry_i)) with h_0 = 32 zero bytes
 * (BLAKE2b: RFC 7693, libsodium crypto_generichash). canonical() is the
 * little-endian, length-prefixed encoding of (seq, time, actor, action,
 * model, detail), so no two different entries encode alike. Verification
 * walks the chain in seq order and reports the first entry whose stored
 * prev_hash, recomputed hash or seq continuity does not hold.
 *
 * Tokens: a secret is "tide_" + 12 hex digits of public id + "_" + 32 random
 * bytes in unpadded base64url. The store keeps the id, a 16-byte random salt
 * and BLAKE2b-256 keyed with the salt over the whole secret, and compares
 * with crypto_verify_32 (constant time). Why not crypto_pwhash_str
 * (Argon2)? Password hashing is slow on purpose (tens of ms and many MiB
 * per call) to make guessing low-entropy passwords expensive; these secrets
 * have 256 random bits, so guessing is hopeless anyway, and the server must
 * check a token on every request in microseconds. The salt makes equal
 * secrets hash differently and rules out precomputed tables; the public id
 * lets verification find the row without scanning, so timing reveals
 * nothing about the secret part.
 */
#include "store/store_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QERR(err) ((err) ? (err)->code : TIDE_ERR_IO)
#define TID_HEX 12        /* 6 random bytes */
#define SECRET_RAW 32
#define SALT_BYTES 16

/* ---- roles ----------------------------------------------------------------- */
const char *tide_role_name(int role)
{
    switch (role) {
    case TIDE_ROLE_PREDICT: return "predict";
    case TIDE_ROLE_LABEL: return "label";
    case TIDE_ROLE_ADMIN: return "admin";
    default: return "?";
    }
}

int tide_role_parse(const char *s)
{
    if (!s)
        return 0;
    if (!strcmp(s, "predict"))
        return TIDE_ROLE_PREDICT;
    if (!strcmp(s, "label"))
        return TIDE_ROLE_LABEL;
    if (!strcmp(s, "admin"))
        return TIDE_ROLE_ADMIN;
    return 0;
}

/* ---- audit ------------------------------------------------------------------ */
static int audit_hash(const uint8_t prev[TIDE_AUDIT_HASH_BYTES], int64_t seq, int64_t time,
                      const char *actor, const char *action, const char *model,
                      const char *detail, uint8_t out[TIDE_AUDIT_HASH_BYTES])
{
    tide_wbuf b;
    crypto_generichash_state h;
    int rc = TIDE_OK;
    tide_wbuf_init(&b);
    tide_wbuf_u64(&b, (uint64_t)seq);
    tide_wbuf_u64(&b, (uint64_t)time);
    tide_wbuf_str(&b, actor);
    tide_wbuf_str(&b, action);
    tide_wbuf_str(&b, model);
    tide_wbuf_str(&b, detail);
    if (b.oom) {
        rc = TIDE_ERR_NOMEM;
        goto done;
    }
    crypto_generichash_init(&h, NULL, 0, TIDE_AUDIT_HASH_BYTES);
    crypto_generichash_update(&h, prev, TIDE_AUDIT_HASH_BYTES);
    crypto_generichash_update(&h, b.data, b.len);
    crypto_generichash_final(&h, out, TIDE_AUDIT_HASH_BYTES);
done:
    tide_wbuf_free(&b);
    return rc;
}

int tide_store_audit_append(tide_store *st, const char *actor, const char *action,
                            const char *model, const char *detail, int64_t *seq_out,
                            tide_err *err)
{
    uint8_t prev[TIDE_AUDIT_HASH_BYTES] = {0}, hash[TIDE_AUDIT_HASH_BYTES];
    sqlite3_stmt *s;
    int64_t seq = 0, now = store_now_ms();
    int rc, mode;
    if (!actor)
        actor = "";
    if (!model)
        model = "";
    if (!detail)
        detail = "";
    if ((rc = store_check_text("audit actor", actor, TIDE_STORE_NAME_MAX - 1, 1, err)) ||
        (rc = store_check_text("audit model", model, TIDE_STORE_NAME_MAX - 1, 1, err)) ||
        (rc = store_check_text("audit detail", detail, TIDE_STORE_JSON_MAX, 1, err)))
        return rc;
    if (!action || !*action || strlen(action) >= TIDE_STORE_NAME_MAX)
        return tide_err_set(err, TIDE_ERR_ARG, "audit action is empty or too long");
    if ((rc = store_txn_start(st, &mode, err)))
        return rc;
    if (!(s = store_stmt(st, Q_AUDIT_LAST, err))) {
        rc = QERR(err);
        goto done;
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == TIDE_AUDIT_HASH_BYTES)
        memcpy(prev, sqlite3_column_blob(s, 0), TIDE_AUDIT_HASH_BYTES);
    rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? TIDE_OK
                                                 : store_sqlerr(st, "reading the audit log", err);
    store_done(s);
    if (rc)
        goto done;
    /* next seq = past the highest ever used, so deleting the tail and
     * appending again leaves a visible gap */
    if (!(s = store_stmt(st, Q_AUDIT_NEXT_SEQ, err))) {
        rc = QERR(err);
        goto done;
    }
    if (sqlite3_step(s) == SQLITE_ROW)
        seq = sqlite3_column_int64(s, 0);
    store_done(s);
    if (seq <= 0) {
        rc = store_sqlerr(st, "numbering an audit entry", err);
        goto done;
    }
    if ((rc = audit_hash(prev, seq, now, actor, action, model, detail, hash))) {
        tide_err_set(err, rc, "out of memory hashing an audit entry");
        goto done;
    }
    if (!(s = store_stmt(st, Q_AUDIT_INSERT, err))) {
        rc = QERR(err);
        goto done;
    }
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_text(s, 3, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, prev, sizeof prev, SQLITE_STATIC);
    sqlite3_bind_blob(s, 8, hash, sizeof hash, SQLITE_STATIC);
    if ((rc = store_step_done(st, s, "appending to the audit log", err)))
        goto done;
    if (seq_out)
        *seq_out = seq;
done:
    return store_txn_end(st, mode, rc, err);
}

/* Fills r from a Q_AUDIT_SCAN row; 0 when both hashes have the right size. */
static int read_audit(sqlite3_stmt *s, tide_store_audit_row *r)
{
    const char *t;
    int ok = 1;
    r->seq = sqlite3_column_int64(s, 0);
    r->time = sqlite3_column_int64(s, 1);
    r->actor = (t = (const char *)sqlite3_column_text(s, 2)) ? t : "";
    r->action = (t = (const char *)sqlite3_column_text(s, 3)) ? t : "";
    r->model = (t = (const char *)sqlite3_column_text(s, 4)) ? t : "";
    r->detail = (t = (const char *)sqlite3_column_text(s, 5)) ? t : "";
    memset(r->prev_hash, 0, sizeof r->prev_hash);
    memset(r->hash, 0, sizeof r->hash);
    if (sqlite3_column_bytes(s, 6) == TIDE_AUDIT_HASH_BYTES)
        memcpy(r->prev_hash, sqlite3_column_blob(s, 6), TIDE_AUDIT_HASH_BYTES);
    else
        ok = 0;
    if (sqlite3_column_bytes(s, 7) == TIDE_AUDIT_HASH_BYTES)
        memcpy(r->hash, sqlite3_column_blob(s, 7), TIDE_AUDIT_HASH_BYTES);
    else
        ok = 0;
    return ok ? 0 : -1;
}

int tide_store_audit_verify(tide_store *st, int64_t *first_broken, int64_t *checked,
                            tide_err *err)
{
    uint8_t expect[TIDE_AUDIT_HASH_BYTES] = {0}, h[TIDE_AUDIT_HASH_BYTES];
    sqlite3_stmt *s;
    int64_t last = 0, n = 0, broken = 0;
    int rc;
    if (!(s = store_stmt(st, Q_AUDIT_SCAN, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, INT64_MIN);
    sqlite3_bind_int64(s, 2, -1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        tide_store_audit_row r;
        int shape = read_audit(s, &r);
        if (shape != 0) {
            broken = r.seq;
            tide_err_set(err, TIDE_ERR_CHECKSUM, "audit entry %lld: a stored hash is malformed",
                         (long long)r.seq);
            break;
        }
        if (r.seq != last + 1) {
            broken = r.seq;
            tide_err_set(err, TIDE_ERR_CHECKSUM,
                         "audit entry %lld follows entry %lld: entries are missing", (long long)r.seq,
                         (long long)last);
            break;
        }
        if (sodium_memcmp(r.prev_hash, expect, sizeof expect) != 0) {
            broken = r.seq;
            tide_err_set(err, TIDE_ERR_CHECKSUM,
                         "audit entry %lld: its prev_hash does not match the hash of entry %lld",
                         (long long)r.seq, (long long)last);
            break;
        }
        if (audit_hash(r.prev_hash, r.seq, r.time, r.actor, r.action, r.model, r.detail, h)) {
            store_done(s);
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory verifying the audit log");
        }
        if (sodium_memcmp(h, r.hash, sizeof h) != 0) {
            broken = r.seq;
            tide_err_set(err, TIDE_ERR_CHECKSUM,
                         "audit entry %lld: its content does not match its hash (edited)",
                         (long long)r.seq);
            break;
        }
        memcpy(expect, r.hash, sizeof expect);
        last = r.seq;
        n++;
    }
    if (!broken && rc != SQLITE_DONE) {
        rc = store_sqlerr(st, "reading the audit log", err);
        store_done(s);
        return rc;
    }
    store_done(s);
    if (first_broken)
        *first_broken = broken;
    if (checked)
        *checked = n;
    return broken ? TIDE_ERR_CHECKSUM : TIDE_OK;
}

int tide_store_audit_list(tide_store *st, int64_t after_seq, size_t limit,
                          tide_store_audit_cb cb, void *ctx, tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    if (!cb)
        return tide_err_set(err, TIDE_ERR_ARG, "audit_list: no callback");
    if (!(s = store_stmt(st, Q_AUDIT_SCAN, err)))
        return QERR(err);
    sqlite3_bind_int64(s, 1, after_seq);
    sqlite3_bind_int64(s, 2, limit ? (int64_t)limit : -1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        tide_store_audit_row r;
        int stop;
        read_audit(s, &r);
        if ((stop = cb(ctx, &r)) != 0) {
            store_done(s);
            return stop;
        }
    }
    rc = rc == SQLITE_DONE ? TIDE_OK : store_sqlerr(st, "reading the audit log", err);
    store_done(s);
    return rc;
}

/* ---- tokens -------------------------------------------------------------------- */
static void token_hash(const uint8_t salt[SALT_BYTES], const char *secret, uint8_t out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)secret, strlen(secret), salt, SALT_BYTES);
}

int tide_store_token_create(tide_store *st, const char *name, int role,
                            char secret[TIDE_STORE_SECRET_MAX], tide_err *err)
{
    unsigned char tid_raw[TID_HEX / 2], raw[SECRET_RAW], salt[SALT_BYTES];
    uint8_t hash[32];
    char tid[TID_HEX + 1], b64[sodium_base64_ENCODED_LEN(SECRET_RAW,
                                                         sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sqlite3_stmt *s;
    int rc;
    if (secret)
        secret[0] = '\0';
    if ((rc = store_check_name("token", name, err)))
        return rc;
    if (!secret)
        return tide_err_set(err, TIDE_ERR_ARG, "token '%s': no buffer for the secret", name);
    if (role < TIDE_ROLE_PREDICT || role > TIDE_ROLE_ADMIN)
        return tide_err_set(err, TIDE_ERR_ARG, "token '%s': role %d is not predict|label|admin",
                            name, role);
    randombytes_buf(tid_raw, sizeof tid_raw);
    randombytes_buf(raw, sizeof raw);
    randombytes_buf(salt, sizeof salt);
    sodium_bin2hex(tid, sizeof tid, tid_raw, sizeof tid_raw);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(secret, TIDE_STORE_SECRET_MAX, "tide_%s_%s", tid, b64);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(b64, sizeof b64);
    token_hash(salt, secret, hash);
    if (!(s = store_stmt(st, Q_TOKEN_INSERT, err))) {
        rc = QERR(err);
        goto fail;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, tid, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, role);
    sqlite3_bind_blob(s, 4, salt, sizeof salt, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, hash, sizeof hash, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, store_now_ms());
    if ((rc = store_step_done(st, s, "storing a token", err)))
        goto fail;
    if (sqlite3_changes(st->db) == 0) {
        rc = tide_err_set(err, TIDE_ERR_CONFLICT, "a token named '%s' already exists", name);
        goto fail;
    }
    return TIDE_OK;
fail:
    sodium_memzero(secret, TIDE_STORE_SECRET_MAX);
    return rc;
}

int tide_store_token_verify(tide_store *st, const char *secret, char *name, int *role,
                            tide_err *err)
{
    char tid[TID_HEX + 1];
    uint8_t h[32];
    sqlite3_stmt *s;
    size_t n;
    int rc;
    if (name)
        name[0] = '\0';
    if (role)
        *role = 0;
    n = secret ? strnlen(secret, TIDE_STORE_SECRET_MAX) : 0;
    /* shape: tide_ + 12 hex + _ + 43 base64url */
    if (n != 5 + TID_HEX + 1 + 43 || strncmp(secret, "tide_", 5) != 0 ||
        secret[5 + TID_HEX] != '_')
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "malformed token");
    for (size_t i = 0; i < TID_HEX; i++) {
        char c = secret[5 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return tide_err_set(err, TIDE_ERR_NOTFOUND, "malformed token");
    }
    memcpy(tid, secret + 5, TID_HEX);
    tid[TID_HEX] = '\0';
    if (!(s = store_stmt(st, Q_TOKEN_FIND, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, tid, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "unknown token");
    } else if (rc != SQLITE_ROW) {
        rc = store_sqlerr(st, "looking up a token", err);
    } else if (sqlite3_column_bytes(s, 2) != SALT_BYTES || sqlite3_column_bytes(s, 3) != 32) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "token row for id %s is malformed", tid);
    } else {
        token_hash(sqlite3_column_blob(s, 2), secret, h);
        if (crypto_verify_32(h, sqlite3_column_blob(s, 3)) != 0) {
            rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "wrong token secret");
        } else if (sqlite3_column_int64(s, 4) != 0) {
            rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "token '%s' was revoked",
                              (const char *)sqlite3_column_text(s, 0));
        } else {
            if (name)
                store_col_copy(s, 0, name, TIDE_STORE_NAME_MAX);
            if (role)
                *role = sqlite3_column_int(s, 1);
            rc = TIDE_OK;
        }
    }
    store_done(s);
    return rc;
}

int tide_store_token_list(tide_store *st, tide_store_token **out, size_t *n, tide_err *err)
{
    sqlite3_stmt *s;
    tide_store_token *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!(s = store_stmt(st, Q_TOKEN_LIST, err)))
        return QERR(err);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 8;
            tide_store_token *p = realloc(arr, nc * sizeof *p);
            if (!p) {
                store_done(s);
                free(arr);
                return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory listing tokens");
            }
            arr = p;
            cap = nc;
        }
        store_col_copy(s, 0, arr[len].name, sizeof arr[len].name);
        arr[len].role = sqlite3_column_int(s, 1);
        arr[len].created = sqlite3_column_int64(s, 2);
        arr[len].revoked = sqlite3_column_int64(s, 3);
        len++;
    }
    if (rc != SQLITE_DONE) {
        rc = store_sqlerr(st, "listing tokens", err);
        store_done(s);
        free(arr);
        return rc;
    }
    store_done(s);
    *out = arr;
    *n = len;
    return TIDE_OK;
}

int tide_store_token_revoke(tide_store *st, const char *name, tide_err *err)
{
    sqlite3_stmt *s;
    int rc;
    if ((rc = store_check_name("token", name, err)))
        return rc;
    if (!(s = store_stmt(st, Q_TOKEN_REVOKE, err)))
        return QERR(err);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, store_now_ms());
    if ((rc = store_step_done(st, s, "revoking a token", err)))
        return rc;
    if (sqlite3_changes(st->db) == 0)
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "no active token named '%s'", name);
    return TIDE_OK;
}

static int token_count_q(tide_store *st, store_q q, int64_t *n, tide_err *err)
{
    sqlite3_stmt *s = store_stmt(st, q, err);
    int rc;
    if (!s)
        return QERR(err);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *n = sqlite3_column_int64(s, 0);
        rc = TIDE_OK;
    } else {
        rc = store_sqlerr(st, "counting tokens", err);
    }
    store_done(s);
    return rc;
}

int tide_store_token_count(tide_store *st, int64_t *n, tide_err *err)
{
    return token_count_q(st, Q_TOKEN_COUNT, n, err);
}

int tide_store_token_count_all(tide_store *st, int64_t *n, tide_err *err)
{
    return token_count_q(st, Q_TOKEN_COUNT_ALL, n, err);
}
