/*
 * model.c — a model = featurizer + label dictionary + learner, and its
 * versioned, checksummed file format (layout in tide/learn.h).
 * Saving is atomic: temp file in the same directory, fsync, rename, fsync
 * of the directory (as Redis does for RDB files).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tide/learn.h"

#define MODEL_MAGIC "TIDEMDL"   /* + NUL = 8 bytes */
#define MODEL_FORMAT 1
#define MODEL_HEADER 20
#define MODEL_MAX_BYTES ((uint64_t)4 << 30)

tide_task tide_model_task(const tide_model *m)
{
    tide_task t = m->learner->vt->task;
    if (t == TIDE_TASK_CLASSIFY && m->labels)
        return tide_labels_count(m->labels) > 2 ? TIDE_TASK_MULTICLASS : TIDE_TASK_BINARY;
    return t;
}

int tide_model_new(tide_featurizer *fz, tide_learner *learner, tide_model **out, tide_err *err)
{
    tide_model *m;
    int fb = tide_featurizer_bits(fz), lb = learner->bits;
    *out = NULL;
    if (fb != lb) {
        tide_featurizer_free(fz);
        tide_learner_free(learner);
        return tide_err_set(err, TIDE_ERR_ARG, "featurizer bits (%d) differ from learner bits (%d)",
                            fb, lb);
    }
    m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    m->fz = fz;
    m->learner = learner;
    if (learner->vt->task != TIDE_TASK_REGRESSION) {
        tide_task t = learner->vt->task == TIDE_TASK_BINARY ? TIDE_TASK_BINARY : TIDE_TASK_MULTICLASS;
        if (tide_labels_new(t, &m->labels))
            goto nomem;
    }
    *out = m;
    return TIDE_OK;
nomem:
    if (m) {
        m->fz = fz;
        m->learner = learner;
        tide_model_free(m);
    } else {
        tide_featurizer_free(fz);
        tide_learner_free(learner);
    }
    return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
}

void tide_model_free(tide_model *m)
{
    if (!m)
        return;
    tide_featurizer_free(m->fz);
    tide_labels_free(m->labels);
    tide_learner_free(m->learner);
    free(m);
}

static void payload(const tide_model *m, tide_wbuf *b, int *rc)
{
    tide_featurizer_save(m->fz, b);
    tide_wbuf_u8(b, m->labels ? 1 : 0);
    if (m->labels)
        tide_labels_save(m->labels, b);
    *rc = tide_learner_save(m->learner, b);
}

int tide_model_save_buf(const tide_model *m, tide_wbuf *out)
{
    size_t start = out->len, len_pos;
    uint64_t n;
    int rc;
    tide_wbuf_put(out, MODEL_MAGIC, 8);
    tide_wbuf_u32(out, MODEL_FORMAT);
    len_pos = out->len;
    tide_wbuf_u64(out, 0);
    payload(m, out, &rc);
    if (rc)
        return rc;
    if (out->oom)
        return TIDE_ERR_NOMEM;
    n = out->len - len_pos - 8;
    for (int i = 0; i < 8; i++)
        out->data[len_pos + (size_t)i] = (uint8_t)(n >> (8 * i));
    tide_wbuf_u64(out, tide_checksum(out->data + start, out->len - start));
    return out->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

int tide_model_load_buf(const void *data, size_t len, tide_model **out, tide_err *err)
{
    const uint8_t *p = data;
    tide_rbuf r;
    uint32_t fmt;
    uint64_t n, sum;
    tide_model *m = NULL;
    tide_featurizer *fz = NULL;
    tide_labels *labels = NULL;
    tide_learner *learner = NULL;
    int rc;
    *out = NULL;
    if (len < 8 || memcmp(p, MODEL_MAGIC, 8))
        return tide_err_set(err, TIDE_ERR_FORMAT, "not a tide model file (bad magic)");
    tide_rbuf_init(&r, p, len);
    r.pos = 8;
    fmt = tide_rbuf_u32(&r);
    n = tide_rbuf_u64(&r);
    if (r.bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "model file is truncated (%zu bytes)", len);
    if (fmt != MODEL_FORMAT)
        return tide_err_set(err, TIDE_ERR_VERSION,
                            "model format version %u is not supported (this tide reads %d)", fmt,
                            MODEL_FORMAT);
    if (n > MODEL_MAX_BYTES || n + MODEL_HEADER + 8 != len)
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "model file is truncated or has trailing bytes (payload %llu, file %zu)",
                            (unsigned long long)n, len);
    {
        tide_rbuf t;
        tide_rbuf_init(&t, p + MODEL_HEADER + n, 8);
        sum = tide_rbuf_u64(&t);
    }
    if (sum != tide_checksum(p, MODEL_HEADER + n))
        return tide_err_set(err, TIDE_ERR_CHECKSUM, "model file is corrupt (checksum mismatch)");
    tide_rbuf_init(&r, p + MODEL_HEADER, n);
    rc = tide_featurizer_load(&r, &fz, err);
    if (rc)
        goto fail;
    if (tide_rbuf_u8(&r)) {
        rc = tide_labels_load(&r, &labels, err);
        if (rc)
            goto fail;
    }
    rc = tide_learner_load_bits(&r, tide_featurizer_bits(fz), &learner, err);
    if (rc)
        goto fail;
    if (r.pos != r.len || (!labels) != (learner->vt->task == TIDE_TASK_REGRESSION) ||
        learner->bits != tide_featurizer_bits(fz)) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "model payload is inconsistent");
        goto fail;
    }
    if (labels) {
        /* the dictionary is the one tide_model_new made for this learner,
         * and the learner never has more classes than the dictionary names
         * (at least 2): else predictions index classes with no name */
        int binary = learner->vt->task == TIDE_TASK_BINARY, nl = tide_labels_count(labels);
        if (tide_labels_task(labels) != (binary ? TIDE_TASK_BINARY : TIDE_TASK_MULTICLASS) ||
            tide_learner_classes(learner) > (nl > 2 ? nl : 2)) {
            rc = tide_err_set(err, TIDE_ERR_FORMAT,
                              "model payload is inconsistent: a %s learner with %d classes "
                              "and a %s label dictionary of %d",
                              tide_task_name(learner->vt->task), tide_learner_classes(learner),
                              tide_task_name(tide_labels_task(labels)), nl);
            goto fail;
        }
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->fz = fz;
    m->labels = labels;
    m->learner = learner;
    if (labels)
        tide_learner_grow_classes(learner, tide_labels_count(labels));
    *out = m;
    return TIDE_OK;
fail:
    tide_featurizer_free(fz);
    tide_labels_free(labels);
    tide_learner_free(learner);
    return rc;
}

int tide_model_clone(const tide_model *m, tide_model **out, tide_err *err)
{
    tide_wbuf b;
    int rc;
    /* Featurizer and labels are small: round-trip them; the learner clones
     * itself without serialising its (possibly large) state. */
    tide_model *c = calloc(1, sizeof *c);
    tide_rbuf r;
    *out = NULL;
    if (!c)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    tide_wbuf_init(&b);
    tide_featurizer_save(m->fz, &b);
    if (m->labels)
        tide_labels_save(m->labels, &b);
    if (b.oom) {
        rc = tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    tide_rbuf_init(&r, b.data, b.len);
    rc = tide_featurizer_load(&r, &c->fz, err);
    if (!rc && m->labels)
        rc = tide_labels_load(&r, &c->labels, err);
    if (!rc)
        rc = tide_learner_clone(m->learner, &c->learner, err);
    if (rc)
        goto fail;
    tide_wbuf_free(&b);
    *out = c;
    return TIDE_OK;
fail:
    tide_wbuf_free(&b);
    tide_model_free(c);
    return rc;
}

int tide_model_save_file(const tide_model *m, const char *path, tide_err *err)
{
    tide_wbuf b;
    char tmp[4096], dirbuf[4096];
    int fd = -1, rc;
    size_t off = 0;
    tide_wbuf_init(&b);
    rc = tide_model_save_buf(m, &b);
    if (rc) {
        tide_wbuf_free(&b);
        return tide_err_set(err, rc, "cannot serialise model: %s", tide_strerror(rc));
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= sizeof tmp) {
        tide_wbuf_free(&b);
        return tide_err_set(err, TIDE_ERR_ARG, "path too long: %s", path);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = tide_err_set(err, TIDE_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = tide_err_set(err, TIDE_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd)) {
        fd = -1;
        rc = tide_err_set(err, TIDE_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path)) {
        rc = tide_err_set(err, TIDE_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        goto done;
    }
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    fd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
        fd = -1;
    }
    rc = TIDE_OK;
done:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    tide_wbuf_free(&b);
    return rc;
}

int tide_model_load_file(const char *path, tide_model **out, tide_err *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *data = NULL;
    int rc;
    *out = NULL;
    if (!f)
        return tide_err_set(err, TIDE_ERR_IO, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return tide_err_set(err, TIDE_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MODEL_MAX_BYTES + 64) {
        fclose(f);
        return tide_err_set(err, TIDE_ERR_LIMIT, "%s: model file too large", path);
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        fclose(f);
        return tide_err_set(err, TIDE_ERR_NOMEM, "%s: out of memory", path);
    }
    if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fclose(f);
        free(data);
        return tide_err_set(err, TIDE_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    rc = tide_model_load_buf(data, (size_t)st.st_size, out, err);
    free(data);
    if (rc)
        tide_err_prefix(err, "%s", path);
    return rc;
}
