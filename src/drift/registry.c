/*
 * registry.c — the table of stream drift detectors (tide_detector_count/
 * at/find/new) and the generic calls that dispatch through a detector's
 * vtable: update, reset, clone, memory, estimate, save and load.
 *
 * Saved form of a detector (tide_detector_save), little-endian:
 *   u32 magic "TDDT" | u8 format version | str kind name |
 *   params (tide_params_save) | u64 n_seen | detector-specific state
 * A container (model file, snapshot) adds its own checksum around it.
 */
#include "drift/drift_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DET_MAGIC 0x54444454u   /* "TDDT" little-endian */
#define DET_FORMAT 1

static const tide_detector_vt *const DETECTORS[] = {
    &tide_drift_adwin_vt,
    &tide_drift_page_hinkley_vt,
    &tide_drift_ddm_vt,
    &tide_drift_eddm_vt,
    &tide_drift_kswin_vt,
};

size_t tide_detector_count(void) { return sizeof DETECTORS / sizeof DETECTORS[0]; }

const tide_detector_vt *tide_detector_at(size_t i)
{
    return i < tide_detector_count() ? DETECTORS[i] : NULL;
}

const tide_detector_vt *tide_detector_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < tide_detector_count(); i++)
        if (!strcmp(DETECTORS[i]->name, name))
            return DETECTORS[i];
    return NULL;
}

static void known_names(char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < tide_detector_count() && o + 1 < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s", i ? ", " : "", DETECTORS[i]->name);
}

int tide_detector_new(const char *name, const char **kv, size_t n_kv, tide_detector **out,
                      tide_err *err)
{
    const tide_detector_vt *vt;
    tide_params p;
    int rc;
    if (!out)
        return tide_err_set(err, TIDE_ERR_ARG, "tide_detector_new: no output pointer");
    *out = NULL;
    vt = tide_detector_find(name);
    if (!vt) {
        char names[200];
        known_names(names, sizeof names);
        return tide_err_set(err, TIDE_ERR_NOTFOUND, "unknown detector '%s' (known: %s)",
                            name ? name : "(null)", names);
    }
    rc = tide_params_init(&p, vt->params, vt->n_params, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_kv; i++) {
        rc = tide_params_set(&p, kv[i], err);
        if (rc) {
            tide_err_prefix(err, "detector %s", vt->name);
            return rc;
        }
    }
    rc = vt->create(&p, out, err);
    if (rc)
        return rc;
    (*out)->n_seen = 0;
    return TIDE_OK;
}

void tide_detector_free(tide_detector *d)
{
    if (d)
        d->vt->destroy(d);
}

tide_drift_state tide_detector_update(tide_detector *d, double x)
{
    if (!isfinite(x))
        return TIDE_DRIFT_NONE;   /* NaN/inf would poison every statistic: ignored */
    d->n_seen++;
    return d->vt->update(d, x);
}

void tide_detector_reset(tide_detector *d)
{
    d->vt->reset(d);
}

int tide_detector_clone(const tide_detector *d, tide_detector **out, tide_err *err)
{
    if (!out)
        return tide_err_set(err, TIDE_ERR_ARG, "tide_detector_clone: no output pointer");
    *out = NULL;
    return d->vt->clone(d, out, err);
}

size_t tide_detector_memory(const tide_detector *d)
{
    return d->vt->memory(d);
}

double tide_detector_estimate(const tide_detector *d)
{
    return d->vt->estimate ? d->vt->estimate(d) : NAN;
}

int tide_detector_save(const tide_detector *d, tide_wbuf *b)
{
    int rc;
    tide_wbuf_u32(b, DET_MAGIC);
    tide_wbuf_u8(b, DET_FORMAT);
    tide_wbuf_str(b, d->vt->name);
    tide_params_save(&d->params, b);
    tide_wbuf_u64(b, d->n_seen);
    rc = d->vt->save_state(d, b);
    if (rc)
        return rc;
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

int tide_detector_load(tide_rbuf *r, tide_detector **out, tide_err *err)
{
    tide_detector *d = NULL;
    const tide_detector_vt *vt;
    tide_params p;
    uint32_t magic;
    uint8_t ver;
    char *name = NULL;
    uint64_t n_seen;
    int rc;

    if (!out)
        return tide_err_set(err, TIDE_ERR_ARG, "tide_detector_load: no output pointer");
    *out = NULL;
    magic = tide_rbuf_u32(r);
    ver = tide_rbuf_u8(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "detector state is truncated");
    if (magic != DET_MAGIC)
        return tide_err_set(err, TIDE_ERR_FORMAT, "not a saved detector (bad magic 0x%08x)",
                            magic);
    if (ver != DET_FORMAT)
        return tide_err_set(err, TIDE_ERR_VERSION,
                            "saved detector has format version %u, this build reads %u", ver,
                            DET_FORMAT);
    name = tide_rbuf_str(r, 64);
    if (!name)
        return tide_err_set(err, TIDE_ERR_FORMAT, "saved detector: kind name truncated or too long");
    vt = tide_detector_find(name);
    if (!vt) {
        rc = tide_err_set(err, TIDE_ERR_NOTFOUND, "saved detector has unknown kind '%s'", name);
        goto cleanup;
    }
    rc = tide_params_load(&p, vt->params, vt->n_params, r, err);
    if (rc) {
        tide_err_prefix(err, "saved detector %s", name);
        goto cleanup;
    }
    n_seen = tide_rbuf_u64(r);
    if (r->bad) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "saved detector %s is truncated", name);
        goto cleanup;
    }
    if (n_seen > TIDE_DRIFT_MAX_COUNT) {
        rc = tide_err_set(err, TIDE_ERR_FORMAT, "saved detector %s: %llu values is impossible",
                          name, (unsigned long long)n_seen);
        goto cleanup;
    }
    rc = vt->create(&p, &d, err);
    if (rc)
        goto cleanup;
    rc = vt->load_state(d, r, err);
    if (rc) {
        tide_err_prefix(err, "saved detector %s", name);
        goto cleanup;
    }
    d->n_seen = n_seen;
    *out = d;
    d = NULL;
cleanup:
    tide_detector_free(d);
    free(name);
    return rc;
}
