/*
 * models.c — the live models of `tide serve`: one learner thread per model,
 * the snapshot it publishes for readers, the group-commit thread that makes
 * labels durable before they are acknowledged, and crash recovery.
 *
 * Write path of a label (see docs/bench/serve.md for the measured bounds):
 *   request thread: validate, queue a commit item, suspend the connection
 *   committer thread: takes every queued item, BEGIN; events + labels of all
 *     of them (each joined by id in the store); COMMIT (one fsync); hands the
 *     newly stored labels, in seq order, to each model's learner queue; then
 *     resumes the waiting connections with their answers (group commit).
 *   learner thread: applies labels to its private copy (progressive
 *     validation first: the label is scored against the prediction logged
 *     for the version that served it), and publishes a clone every
 *     publish_every labels or publish_ms milliseconds; persists a snapshot
 *     with the last applied seq every persist_every labels and at shutdown.
 * Crash recovery = load the persisted snapshot, replay the labels with seq >
 * its seq in seq order (tide_store_labels_after): learning is exactly-once,
 * and the model equals an uninterrupted run over the same label sequence.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/server_int.h"
#include "tide/eval.h"
#include "tide/feat.h"

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t serve_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- model construction ---------------------------------------------------- */

int smodel_build(const smodel *m, tide_model **out, tide_err *err)
{
    tide_feat_opts fo;
    tide_featurizer *fz = NULL;
    tide_learner *l = NULL;
    int rc;
    *out = NULL;
    tide_feat_opts_init(&fo);
    fo.bits = m->bits;
    rc = tide_featurizer_new(&fo, &fz, err);
    if (rc)
        return rc;
    rc = tide_learner_new(m->learner, (const char **)m->kv, m->n_kv, m->bits, &l, err);
    if (rc) {
        tide_featurizer_free(fz);
        return rc;
    }
    return tide_model_new(fz, l, out, err);
}

/* Splits "k=v k=v" into learner settings (bits=N is the featurizer's). */
int smodel_set_params(smodel *m, const char *params, tide_err *err)
{
    char *copy = strdup(params ? params : ""), *save = NULL, *tok;
    if (!copy)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    m->bits = TIDE_BITS_DEFAULT;
    for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (!strncmp(tok, "bits=", 5)) {
            char *end;
            long b = strtol(tok + 5, &end, 10);
            if (*end || b < 1 || b > TIDE_BITS_MAX) {
                free(copy);
                return tide_err_set(err, TIDE_ERR_ARG, "bits must be an integer in 1..%d, got '%s'",
                                    TIDE_BITS_MAX, tok + 5);
            }
            m->bits = (int)b;
            continue;
        }
        if (m->n_kv >= TIDE_PARAMS_MAX) {
            free(copy);
            return tide_err_set(err, TIDE_ERR_LIMIT, "more than %d parameters", TIDE_PARAMS_MAX);
        }
        if (!(m->kv[m->n_kv] = strdup(tok))) {
            free(copy);
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        }
        m->n_kv++;
    }
    free(copy);
    free(m->params_txt);
    m->params_txt = strdup(params ? params : "");
    return m->params_txt ? TIDE_OK : tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
}

/* ---- metrics per version ------------------------------------------------------ */

static tide_metrics *vmetrics_get(smodel *m, int64_t version)
{
    tide_metrics *mt = NULL;
    for (size_t i = 0; i < m->n_vm; i++)
        if (m->vm[i].version == version)
            return m->vm[i].m;
    if (m->n_vm >= SERVE_MAX_VERSIONS_METRICS)
        return NULL;
    if (tide_metrics_new(m->task == TIDE_TASK_REGRESSION ? TIDE_METRIC_REGRESS
                                                         : TIDE_METRIC_CLASSIFY,
                         1000, &mt))
        return NULL;
    m->vm[m->n_vm].version = version;
    m->vm[m->n_vm].m = mt;
    m->n_vm++;
    return mt;
}

/* Reads the class probabilities logged with a prediction: {"p":[...]}. */
static int logged_proba(const char *pred, double *p, int cap)
{
    json_t *d, *a;
    int n = 0;
    if (!pred)
        return 0;
    d = json_loads(pred, 0, NULL);
    a = d ? json_object_get(d, "p") : NULL;
    if (json_is_array(a))
        for (size_t i = 0; i < json_array_size(a) && n < cap; i++)
            p[n++] = json_number_value(json_array_get(a, i));
    json_decref(d);
    return n;
}

/* ---- applying one label (learner thread and replay) ---------------------------- */

/* Scores (progressive validation) then learns one hashed example. logged:
 * the nlog probabilities served for it (nlog < 2 for classification or < 1
 * for regression: score with the model instead), copied into scratch
 * first. row: the parsed features, for schema inference (NULL when the
 * example comes from the join cache: only logged once a schema existed). */
static int apply_fv(smodel *m, const tide_fvec *fv, const tide_row *row, const char *label,
                    const double *logged_in, int nlog, int64_t version, tide_err *err)
{
    double y = 0, *proba = m->scratch_p, *logged = m->scratch_q;
    int rc;
    tide_metrics *mt;
    if (nlog > TIDE_MAX_CLASSES)
        nlog = TIDE_MAX_CLASSES;
    if (nlog > 0)
        memcpy(logged, logged_in, (size_t)nlog * sizeof *logged);
    if (m->task == TIDE_TASK_REGRESSION) {
        char *end;
        y = strtod(label, &end);
        if (*end || !isfinite(y))
            return tide_err_set(err, TIDE_ERR_PARSE, "label '%s' is not a number", label);
    } else {
        int idx;
        rc = tide_labels_index(m->work->labels, label, strlen(label), &idx, err);
        if (rc)
            return rc;
        y = idx;
    }
    /* progressive validation: score before learning, with the logged
     * prediction of the serving version when there is one */
    pthread_mutex_lock(&m->met_mu);
    mt = vmetrics_get(m, version);
    if (mt) {
        if (m->task == TIDE_TASK_REGRESSION) {
            double pv;
            if (nlog >= 1) {
                pv = logged[0];
            } else {
                tide_learner_predict(m->work->learner, fv, proba);
                pv = proba[0];
            }
            tide_metrics_add_reg(mt, y, pv, 1.0);
        } else {
            int k = tide_learner_classes(m->work->learner);
            const double *pp = logged;
            if (nlog < 2) {
                tide_learner_predict(m->work->learner, fv, proba);
                pp = proba;
                nlog = k;
            }
            if ((int)y >= nlog) {
                /* a class the serving version had never seen: probability 0 */
                for (int i = nlog; i <= (int)y && i < TIDE_MAX_CLASSES; i++)
                    logged[i] = 0;
                if (pp == proba)
                    memcpy(logged, proba, (size_t)nlog * sizeof *logged);
                pp = logged;
                nlog = (int)y + 1;
            }
            tide_metrics_add_class(mt, (int)y, pp, nlog, 1.0);
        }
    }
    pthread_mutex_unlock(&m->met_mu);
    rc = tide_learner_learn(m->work->learner, fv, y, row && row->weight > 0 ? row->weight : 1.0);
    if (rc)
        return tide_err_set(err, rc, "learner rejected the example");
    if (row && !m->schema_done && m->infer) {
        tide_schema_infer_add(m->infer, row);
        if (tide_schema_infer_rows(m->infer) >= m->srv->o.infer_rows) {
            tide_schema *s = NULL;
            if (!tide_schema_infer_build(m->infer, &s)) {
                atomic_store(&m->schema, s);
                m->schema_new = 1;
            }
            m->schema_done = 1;
        }
    }
    return TIDE_OK;
}

int smodel_apply(smodel *m, const char *features, const char *label, const char *prediction,
                 int64_t version, tide_err *err)
{
    json_error_t je;
    json_t *doc = json_loads(features, JSON_REJECT_DUPLICATES, &je);
    tide_instances in;
    tide_reqerr re;
    int rc, nlog;
    if (!doc)
        return tide_err_set(err, TIDE_ERR_PARSE, "stored features are not JSON: %s", je.text);
    {
        json_t *wrap = json_pack("{s:O}", "features", doc);
        json_decref(doc);
        doc = wrap;
    }
    if (!doc || serve_instances_from_doc(doc, NULL, 0, &in, &re)) {
        json_decref(doc);
        return tide_err_set(err, TIDE_ERR_PARSE, "stored features rejected: %s", re.reason);
    }
    json_decref(doc);
    rc = tide_featurize(m->work->fz, &in.rows[0], &m->fv, err);
    if (!rc) {
        nlog = logged_proba(prediction, m->scratch_q, TIDE_MAX_CLASSES);
        rc = apply_fv(m, &m->fv, &in.rows[0], label, m->scratch_q, nlog, version, err);
    }
    tide_instances_free(&in);
    return rc;
}

/* The join cache's form of a label: the features hashed when the
 * prediction was served (the same featurizer configuration, the same row:
 * the stored JSON re-parses to it exactly, so recovery from the store
 * learns the same thing) and the probabilities it logged. */
static int smodel_apply_cached(smodel *m, const ljob *j, tide_err *err)
{
    tide_fvec fv = {j->f, j->nf, j->nf};
    return apply_fv(m, &fv, NULL, j->label, j->p, (int)j->np, j->version, err);
}

/* ---- publish / persist ------------------------------------------------------------- */

int smodel_publish(smodel *m, tide_err *err)
{
    tide_model *c = NULL;
    serve_snap *s;
    int rc = tide_model_clone(m->work, &c, err);
    if (rc)
        return rc;
    s = calloc(1, sizeof *s);
    if (!s) {
        tide_model_free(c);
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    }
    s->m = c;
    s->seq = m->work_seq;
    s->labels = m->work_labels;
    s->created_ms = serve_wall_ms();
    pthread_mutex_lock(&m->pub_mu);
    serve_snap_publish(&m->live, s, &m->retired);
    pthread_mutex_unlock(&m->pub_mu);
    atomic_fetch_add(&m->n_publish, 1);
    if (m->oldest_pending > 0) {
        double st = serve_now() - m->oldest_pending;
        int64_t us = (int64_t)(st * 1e6);
        atomic_store(&m->stale_last_us, us);
        if (us > atomic_load(&m->stale_max_us))
            atomic_store(&m->stale_max_us, us);
        prom_observe(&m->stale_hist, PROM_LAT_BOUNDS, st);
    }
    m->oldest_pending = 0;
    m->pending = 0;
    m->last_pub = serve_now();
    return TIDE_OK;
}

int smodel_persist(smodel *m, tide_store *st, tide_err *err)
{
    tide_wbuf b;
    int rc;
    tide_wbuf_init(&b);
    rc = tide_model_save_buf(m->work, &b);
    if (!rc && b.oom)
        rc = TIDE_ERR_NOMEM;
    if (rc) {
        tide_wbuf_free(&b);
        return tide_err_set(err, rc, "cannot serialise model '%s'", m->name);
    }
    rc = tide_store_snapshot_save(st, m->name, b.data, b.len, m->work_seq, err);
    tide_wbuf_free(&b);
    if (!rc)
        m->since_persist = 0;
    if (!rc && m->schema_new) {
        tide_schema *s = atomic_load(&m->schema);
        char *txt = tide_schema_to_json(s);
        if (txt && !tide_store_model_set_schema(st, m->name, txt, NULL))
            m->schema_new = 0;
        free(txt);
    }
    return rc;
}

/* ---- learner thread ------------------------------------------------------------------- */

static void ljob_free(ljob *j)
{
    if (!j)
        return;
    free(j->features);
    free(j->prediction);
    if (!j->packed)
        free(j->label);
    free(j);
}

void smodel_enqueue(smodel *m, ljob *j)
{
    pthread_mutex_lock(&m->mu);
    j->next = NULL;
    if (m->qt)
        m->qt->next = j;
    else
        m->qh = j;
    m->qt = j;
    m->qn++;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Queues the committed labels of one request (a list of n jobs in seq
 * order) with one lock; when they do not all fit, or lost says a job could
 * not be built, none is queued: the learner is marked behind and re-reads
 * them from the store. */
void smodel_enqueue_labels(smodel *m, ljob *head, ljob *tail, size_t n, int lost,
                           double t_commit)
{
    int queued = 0;
    pthread_mutex_lock(&m->mu);
    if (!lost && !m->behind && m->qn + n <= m->srv->o.learn_queue) {
        tail->next = NULL;
        if (m->qt)
            m->qt->next = head;
        else
            m->qh = head;
        m->qt = tail;
        m->qn += n;
        queued = 1;
    } else {
        m->behind = 1;
        if (!m->oldest_behind)
            m->oldest_behind = t_commit;
    }
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (!queued)
        while (head) {
            ljob *next = head->next;
            ljob_free(head);
            head = next;
        }
}

/* Runs a control job on the learner thread and waits for it. A learner that
 * was told to stop (model deleted, server stopping) would never run it:
 * TIDE_ERR_NOTFOUND then, instead of waiting forever. A job queued before
 * the stop flag is still run (the learner drains its queue before exiting). */
int smodel_sync(smodel *m, ljob *j)
{
    j->sync = 1;
    j->next = NULL;
    pthread_mutex_lock(&m->mu);
    if (m->stop || !m->th_started) {
        pthread_mutex_unlock(&m->mu);
        j->rc = TIDE_ERR_NOTFOUND;
        snprintf(j->msg, sizeof j->msg, "model '%s' is being deleted or the server is stopping",
                 m->name);
        return j->rc;
    }
    if (m->qt)
        m->qt->next = j;
    else
        m->qh = j;
    m->qt = j;
    m->qn++;
    pthread_cond_signal(&m->cv);
    while (!j->done)
        pthread_cond_wait(&m->done_cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    return j->rc;
}

static void catch_up(smodel *m, tide_store *st, int force);

static void run_control(smodel *m, ljob *j, tide_store *st)
{
    tide_err err;
    tide_err_clear(&err);
    j->rc = TIDE_OK;
    if (j->kind == LJ_REPLACE) {
        tide_model_free(m->work);
        m->work = j->replace;
        j->replace = NULL;
        atomic_store(&m->base_version, j->version);
        j->rc = smodel_publish(m, &err);
        if (!j->rc && st)
            j->rc = smodel_persist(m, st, &err);
    } else if (j->kind == LJ_FLUSH) {
        /* every label acknowledged before the flush was queued before it
         * (applied by now) or, when the learner is behind, is in the store */
        if (st)
            catch_up(m, st, 1);
        if (m->pending || j->persist)
            j->rc = smodel_publish(m, &err);
        if (!j->rc && st && j->persist)
            j->rc = smodel_persist(m, st, &err);
    }
    snprintf(j->msg, sizeof j->msg, "%s", err.msg);
}

static int catch_up_cb(void *ctx, const tide_store_label_row *row)
{
    smodel *m = ctx;
    tide_err err;
    if (row->seq <= m->work_seq)
        return 0;
    if (smodel_apply(m, row->features, row->label, row->prediction, row->version, &err))
        atomic_fetch_add(&m->n_apply_errors, 1);
    m->work_seq = row->seq;
    m->work_labels++;
    m->pending++;
    m->since_persist++;
    if (m->pending >= m->srv->o.publish_every)
        smodel_publish(m, &err);
    return 0;
}

/* When the committer stopped queueing (queue full), re-read the labels after
 * work_seq from the store in seq order. The last read happens with the queue
 * lock held, so no label committed meanwhile can be skipped: the committer
 * queues it after we clear `behind` (and a label read twice is applied once,
 * by the seq check). */
static void catch_up(smodel *m, tide_store *st, int force)
{
    tide_err err;
    int behind;
    pthread_mutex_lock(&m->mu);
    /* force (a flush job): the labels queued before the job are applied, and
     * none is queued while `behind` is set, so the store holds the rest */
    behind = m->behind && (force || !m->qh);
    if (behind && !m->oldest_pending)
        m->oldest_pending = m->oldest_behind;
    pthread_mutex_unlock(&m->mu);
    if (!behind)
        return;
    atomic_fetch_add(&m->n_catchups, 1);
    for (;;) {
        int64_t before = m->work_seq;
        if (tide_store_labels_after(st, m->name, m->work_seq, 10000, catch_up_cb, m, &err))
            return;   /* retried on the next wake-up */
        if (m->work_seq - before < 5000)
            break;
    }
    pthread_mutex_lock(&m->mu);
    if (!tide_store_labels_after(st, m->name, m->work_seq, 0, catch_up_cb, m, &err)) {
        m->behind = 0;
        m->oldest_behind = 0;
    }
    pthread_mutex_unlock(&m->mu);
}

static void *learner_main(void *arg)
{
    smodel *m = arg;
    tide_server *s = m->srv;
    tide_store *st = NULL;
    tide_err err;
    if (tide_store_open(s->data_dir, &st, &err))
        fprintf(stderr, "tide serve: model '%s': cannot open the store for snapshots: %s\n",
                m->name, err.msg);
    for (;;) {
        ljob *q;
        int stop;
        pthread_mutex_lock(&m->mu);
        while (!m->qh && !m->stop && !m->behind) {
            if (m->pending) {
                double due = m->last_pub + s->o.publish_ms / 1000.0, now = serve_now();
                struct timespec ts;
                if (now >= due)
                    break;
                clock_gettime(CLOCK_REALTIME, &ts);
                {
                    double w = due - now;
                    ts.tv_sec += (time_t)w;
                    ts.tv_nsec += (long)((w - (double)(time_t)w) * 1e9);
                    if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                    }
                }
                pthread_cond_timedwait(&m->cv, &m->mu, &ts);
            } else {
                pthread_cond_wait(&m->cv, &m->mu);
            }
        }
        q = m->qh;
        m->qh = m->qt = NULL;
        m->qn = 0;
        stop = m->stop;
        pthread_mutex_unlock(&m->mu);
        while (q) {
            ljob *next = q->next;
            if (q->kind == LJ_LABEL) {
                tide_err_clear(&err);
                if (q->seq > m->work_seq) {  /* exactly-once: never twice */
                    if (q->f ? smodel_apply_cached(m, q, &err)
                             : smodel_apply(m, q->features, q->label, q->prediction, q->version,
                                            &err))
                        atomic_fetch_add(&m->n_apply_errors, 1);
                    m->work_seq = q->seq;
                    m->work_labels++;
                    m->pending++;
                    m->since_persist++;
                    if (!m->oldest_pending)
                        m->oldest_pending = q->t_commit;
                }
                ljob_free(q);
                if (m->pending >= s->o.publish_every)
                    smodel_publish(m, &err);
            } else {
                run_control(m, q, st);
                if (q->sync) {
                    pthread_mutex_lock(&m->mu);
                    q->done = 1;
                    pthread_cond_broadcast(&m->done_cv);
                    pthread_mutex_unlock(&m->mu);
                } else {
                    ljob_free(q);
                }
            }
            q = next;
        }
        if (st && !stop)
            catch_up(m, st, 0);
        if (st && m->schema_new) {
            /* an inferred schema is stored at once (predictions validate against it) */
            char *txt = tide_schema_to_json(atomic_load(&m->schema));
            if (txt && !tide_store_model_set_schema(st, m->name, txt, &err))
                m->schema_new = 0;
            free(txt);
        }
        if (m->pending && serve_now() - m->last_pub >= s->o.publish_ms / 1000.0)
            smodel_publish(m, &err);
        if (st && m->since_persist >= s->o.persist_every && !atomic_load(&m->deleted))
            if (smodel_persist(m, st, &err))
                fprintf(stderr, "tide serve: model '%s': snapshot failed: %s\n", m->name, err.msg);
        if (stop)
            break;
    }
    if (m->pending)
        smodel_publish(m, &err);
    if (st && !m->deleted && (m->since_persist || m->schema_new))
        if (smodel_persist(m, st, &err))
            fprintf(stderr, "tide serve: model '%s': final snapshot failed: %s\n", m->name,
                    err.msg);
    tide_store_close(st);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int replay_cb(void *ctx, const tide_store_label_row *row)
{
    smodel *m = ctx;
    tide_err err;
    if (smodel_apply(m, row->features, row->label, row->prediction, row->version, &err))
        atomic_fetch_add(&m->n_apply_errors, 1);
    m->work_seq = row->seq;
    m->work_labels++;
    return 0;
}

smodel *smodel_new(tide_server *s, const tide_store_model *sm, tide_err *err)
{
    smodel *m = calloc(1, sizeof *m);
    tide_task task;
    if (!m) {
        tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->srv = s;
    m->store_id = sm->id;
    jcache_init(&m->jc, (size_t)s->o.label_cache_mb << 20);
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->met_mu, NULL);
    pthread_mutex_init(&m->pub_mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    pthread_cond_init(&m->done_cv, NULL);
    tide_fvec_init(&m->fv);
    snprintf(m->name, sizeof m->name, "%s", sm->name);
    snprintf(m->learner, sizeof m->learner, "%s", sm->learner);
    if (!strcmp(sm->task, "binary"))
        task = TIDE_TASK_BINARY;
    else if (!strcmp(sm->task, "multiclass"))
        task = TIDE_TASK_MULTICLASS;
    else if (!strcmp(sm->task, "regression"))
        task = TIDE_TASK_REGRESSION;
    else {
        tide_err_set(err, TIDE_ERR_ARG, "model '%s': unknown task '%s'", sm->name, sm->task);
        goto fail;
    }
    m->task = task;
    if (smodel_set_params(m, sm->params, err))
        goto fail;
    if (sm->schema && *sm->schema) {
        tide_schema *sc = NULL;
        tide_reqerr re;
        if (tide_schema_parse(sm->schema, strlen(sm->schema), &sc, &re)) {
            tide_err_set(err, TIDE_ERR_FORMAT, "model '%s': stored schema: %s", sm->name,
                         re.reason);
            goto fail;
        }
        atomic_store(&m->schema, sc);
        m->schema_done = 1;
    } else if (tide_schema_infer_new(&m->infer)) {
        tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    m->scratch_p = calloc(TIDE_MAX_CLASSES + 1, sizeof(double));
    m->scratch_q = calloc(TIDE_MAX_CLASSES + 1, sizeof(double));
    m->vm = calloc(SERVE_MAX_VERSIONS_METRICS, sizeof *m->vm);
    if (!m->scratch_p || !m->scratch_q || !m->vm) {
        tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    return m;
fail:
    smodel_free(m);
    return NULL;
}

/* Loads the persisted snapshot (or builds an empty model), replays the
 * labels after it, publishes, and starts the learner thread. */
int smodel_start(smodel *m, tide_store *st, int64_t base_version, tide_err *err)
{
    void *blob = NULL;
    size_t len = 0;
    int64_t seq = 0;
    int rc = st ? tide_store_snapshot_load(st, m->name, &blob, &len, &seq, err) : TIDE_ERR_NOTFOUND;
    if (rc == TIDE_OK) {
        rc = tide_model_load_buf(blob, len, &m->work, err);
        free(blob);
        if (rc == TIDE_OK) {
            m->work_seq = seq;
        } else {
            /* every label is in the store: relearn them all from an empty
             * model, which gives the same state (learning is deterministic) */
            fprintf(stderr, "tide serve: model '%s': snapshot unreadable (%s); "
                            "relearning from all stored labels\n", m->name, err->msg);
            rc = TIDE_ERR_NOTFOUND;
        }
    }
    if (rc == TIDE_OK) {
        /* loaded */
    } else if (rc == TIDE_ERR_NOTFOUND) {
        rc = smodel_build(m, &m->work, err);
        if (rc)
            return rc;
        m->work_seq = 0;
    } else {
        return rc;
    }
    atomic_store(&m->base_version, base_version);
    if (st) {
        int64_t before = m->work_seq;
        rc = tide_store_labels_after(st, m->name, m->work_seq, 0, replay_cb, m, err);
        if (rc)
            return rc;
        m->replayed = (uint64_t)(m->work_seq - before);
    }
    rc = smodel_publish(m, err);
    if (rc)
        return rc;
    m->since_persist = m->replayed;
    if (pthread_create(&m->th, NULL, learner_main, m))
        return tide_err_set(err, TIDE_ERR_STATE, "cannot start the learner thread of '%s'",
                            m->name);
    m->th_started = 1;
    return TIDE_OK;
}

void smodel_stop(smodel *m)
{
    if (!m || !m->th_started)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->th, NULL);
    m->th_started = 0;
}

void smodel_free(smodel *m)
{
    ljob *q;
    if (!m)
        return;
    smodel_stop(m);
    for (q = m->qh; q;) {
        ljob *n = q->next;
        if (!q->sync)
            ljob_free(q);
        q = n;
    }
    serve_snap_free(atomic_load(&m->live));
    serve_snap_retired_free(&m->retired);
    tide_model_free(m->work);
    tide_schema_free(atomic_load(&m->schema));
    tide_schema_infer_free(m->infer);
    for (size_t i = 0; i < m->n_kv; i++)
        free(m->kv[i]);
    free(m->params_txt);
    for (size_t i = 0; i < m->n_vm; i++)
        tide_metrics_free(m->vm[i].m);
    free(m->vm);
    free(m->scratch_p);
    free(m->scratch_q);
    tide_fvec_free(&m->fv);
    jcache_free(&m->jc);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->met_mu);
    pthread_mutex_destroy(&m->pub_mu);
    pthread_cond_destroy(&m->cv);
    pthread_cond_destroy(&m->done_cv);
    free(m);
}

/* Metrics of every version as JSON: {"versions": [{version, cumulative, window}]}. */
static json_t *mv_json(const tide_metrics *mt, int windowed)
{
    tide_metric_values v;
    json_t *o;
    tide_metrics_get(mt, windowed, &v);
#define NUM(x) (isfinite(x) ? json_real(x) : json_null())
    if (tide_metrics_kind(mt) == TIDE_METRIC_REGRESS)
        o = json_pack("{s:I,s:o,s:o,s:o}", "n", (json_int_t)v.n, "mae", NUM(v.mae), "rmse",
                      NUM(v.rmse), "r2", NUM(v.r2));
    else
        o = json_pack("{s:I,s:o,s:o,s:o,s:o}", "n", (json_int_t)v.n, "accuracy",
                      NUM(v.accuracy), "log_loss", NUM(v.log_loss), "f1", NUM(v.f1), "roc_auc",
                      NUM(v.roc_auc));
#undef NUM
    return o;
}

json_t *smodel_metrics_json(smodel *m, int64_t only_version)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&m->met_mu);
    for (size_t i = 0; arr && i < m->n_vm; i++) {
        if (only_version >= 0 && m->vm[i].version != only_version)
            continue;
        json_array_append_new(arr, json_pack("{s:I,s:o,s:o}", "version",
                                             (json_int_t)m->vm[i].version, "cumulative",
                                             mv_json(m->vm[i].m, 0), "window",
                                             mv_json(m->vm[i].m, 1)));
    }
    pthread_mutex_unlock(&m->met_mu);
    return arr;
}

void smodel_prom(smodel *m, sbuf *b)
{
    char lab[200];
    snprintf(lab, sizeof lab, "model=\"%s\"", m->name);
    sb_printf(b, "tide_predictions_total{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_pred));
    sb_printf(b, "tide_labels_total{%s,status=\"joined\"} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_lab[1]));
    sb_printf(b, "tide_labels_total{%s,status=\"idempotent\"} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_lab[2]));
    sb_printf(b, "tide_labels_total{%s,status=\"conflict\"} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_lab[3]));
    sb_printf(b, "tide_labels_total{%s,status=\"unknown_id\"} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_lab[4]));
    sb_printf(b, "tide_labels_total{%s,status=\"overwritten\"} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_lab[5]));
    sb_printf(b, "tide_learn_total{%s} %llu\n", lab, (unsigned long long)atomic_load(&m->n_learn));
    sb_printf(b, "tide_snapshots_published_total{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_publish));
    sb_printf(b, "tide_snapshot_staleness_seconds{%s} %.6f\n", lab,
              (double)atomic_load(&m->stale_last_us) / 1e6);
    sb_printf(b, "tide_snapshot_staleness_max_seconds{%s} %.6f\n", lab,
              (double)atomic_load(&m->stale_max_us) / 1e6);
    sb_printf(b, "tide_learn_errors_total{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_apply_errors));
    sb_printf(b, "tide_learner_catchups_total{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_catchups));
    sb_printf(b, "tide_learner_seq{%s} %lld\n", lab, (long long)m->work_seq);
    sb_printf(b, "tide_label_cache_hits_total{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_jc_hits));
    sb_printf(b, "tide_label_cache_misses_total{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->n_jc_misses));
    sb_printf(b, "tide_label_cache_entries{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->jc_entries));
    sb_printf(b, "tide_label_cache_bytes{%s} %llu\n", lab,
              (unsigned long long)atomic_load(&m->jc_bytes));
    prom_hist_write(b, "tide_label_join_delay_seconds", lab, &m->delay_hist, PROM_DELAY_BOUNDS);
    prom_hist_write(b, "tide_snapshot_staleness_hist_seconds", lab, &m->stale_hist,
                    PROM_LAT_BOUNDS);
    pthread_mutex_lock(&m->met_mu);
    for (size_t i = 0; i < m->n_vm; i++) {
        tide_metric_values v;
        char vl[240];
        snprintf(vl, sizeof vl, "%s,version=\"%lld\"", lab, (long long)m->vm[i].version);
        for (int w = 0; w < 2; w++) {
            const char *wn = w ? "window" : "cumulative";
            tide_metrics_get(m->vm[i].m, w, &v);
            sb_printf(b, "tide_model_scored_total{%s,scope=\"%s\"} %llu\n", vl, wn,
                      (unsigned long long)v.n);
            if (tide_metrics_kind(m->vm[i].m) == TIDE_METRIC_REGRESS) {
                if (isfinite(v.mae))
                    sb_printf(b, "tide_model_mae{%s,scope=\"%s\"} %.9g\n", vl, wn, v.mae);
                if (isfinite(v.rmse))
                    sb_printf(b, "tide_model_rmse{%s,scope=\"%s\"} %.9g\n", vl, wn, v.rmse);
                if (isfinite(v.r2))
                    sb_printf(b, "tide_model_r2{%s,scope=\"%s\"} %.9g\n", vl, wn, v.r2);
            } else {
                if (isfinite(v.accuracy))
                    sb_printf(b, "tide_model_accuracy{%s,scope=\"%s\"} %.9g\n", vl, wn,
                              v.accuracy);
                if (isfinite(v.log_loss))
                    sb_printf(b, "tide_model_log_loss{%s,scope=\"%s\"} %.9g\n", vl, wn,
                              v.log_loss);
                if (isfinite(v.f1))
                    sb_printf(b, "tide_model_f1{%s,scope=\"%s\"} %.9g\n", vl, wn, v.f1);
                if (isfinite(v.roc_auc))
                    sb_printf(b, "tide_model_roc_auc{%s,scope=\"%s\"} %.9g\n", vl, wn, v.roc_auc);
            }
        }
    }
    pthread_mutex_unlock(&m->met_mu);
}

/* ---- committer thread (group commit) ------------------------------------------------------ */

void citem_free(citem *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nev; i++) {
        free((char *)c->ev[i].id);
        free((char *)c->ev[i].features);
        free((char *)c->ev[i].prediction);
    }
    if (c->pay)
        for (size_t i = 0; i < c->nev; i++)
            free(c->pay[i].f);
    free(c->pay);
    free(c->lje);
    free(c->ev);
    if (c->lb) {
        tide_store_labels_clear(c->lb, c->nlb);
        for (size_t i = 0; i < c->nlb && !c->strs; i++) {
            free((char *)c->lb[i].event_id);
            free((char *)c->lb[i].label);
        }
    }
    free(c->strs);
    free(c->lb);
    free(c);
}

/* Once the committer has been told to stop (shutdown), nothing queued would
 * ever be committed or answered: the item is refused. An item without
 * done_fn (logged predictions, never acknowledged as durable) is dropped
 * here and counted in tide_events_dropped_total; a request's item (done_fn)
 * stays the caller's, who answers 503. Everything queued before the stop is
 * committed and answered by committer_stop. */
int committer_push(tide_server *s, citem *c)
{
    pthread_mutex_lock(&s->cmu);
    if (s->cstop) {
        pthread_mutex_unlock(&s->cmu);
        if (c->done_fn)
            return -1;
        if (c->kind == CI_EVENTS) {
            atomic_fetch_sub(&s->pending_events, (int64_t)c->nev);
            atomic_fetch_add(&s->events_dropped, (uint64_t)c->nev);
        }
        citem_free(c);
        return -1;
    }
    c->next = NULL;
    if (s->ct)
        s->ct->next = c;
    else
        s->ch = c;
    s->ct = c;
    s->cn++;
    pthread_cond_signal(&s->ccv);
    pthread_mutex_unlock(&s->cmu);
    return 0;
}

/* The labels of a /learn request, after its events were logged. An instance
 * whose id was already taken (by a logged prediction, an earlier /learn, or
 * an earlier instance of the same batch) is a conflict and stores nothing:
 * joining its label to that other event would make the store (and so crash
 * recovery) learn the other event's features while the live learner learns
 * this request's. */
static int commit_learn_labels(tide_server *s, citem *c, tide_err *err)
{
    tide_store_label *fresh;
    size_t nf = 0, k = 0;
    int rc;
    for (size_t i = 0; i < c->nlb && i < c->nev; i++) {
        free((char *)c->lb[i].event_id);
        c->lb[i].event_id = strdup(c->ev[i].out_id);
        if (!c->lb[i].event_id)
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
        if (c->ev[i].status != TIDE_ERR_CONFLICT)
            nf++;
        if (c->ev[i].status == TIDE_OK && c->ev[i].out_row > 0 && !atomic_load(&c->m->deleted)) {
            /* the event was stored by this item a moment ago: its join is
             * known exactly (no label yet), the store only appends */
            tide_store_label *l = &c->lb[i];
            l->hint_model = c->m->store_id;
            l->hint_row = c->ev[i].out_row;
            l->hint_time = c->ev[i].out_time;
            l->hint_version = c->ev[i].version;
            l->hint_seq = 0;
            l->hint_label = NULL;
        }
    }
    if (nf == c->nlb)
        return tide_store_labels_insert(s->wst, c->lb, c->nlb, err);
    fresh = malloc((nf ? nf : 1) * sizeof *fresh);
    if (!fresh)
        return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->nlb; i++)
        if (c->ev[i].status != TIDE_ERR_CONFLICT)
            fresh[k++] = c->lb[i];
    rc = nf ? tide_store_labels_insert(s->wst, fresh, nf, err) : TIDE_OK;
    k = 0;
    for (size_t i = 0; i < c->nlb; i++) {
        if (c->ev[i].status != TIDE_ERR_CONFLICT) {
            c->lb[i] = fresh[k++];   /* outcomes (seq, status) and owned outputs */
        } else {
            c->lb[i].status = TIDE_LABEL_CONFLICT;
            c->lb[i].seq = 0;
        }
    }
    free(fresh);
    return rc;
}

/* ---- join cache (jcache.c) on the committer --------------------------------------------------
 * Adds, label updates and their undo all happen here, on the committer, in
 * step with the store: entries are added and labels recorded only after the
 * store call that wrote them succeeded inside the open transaction, and the
 * whole transaction's changes are undone when it rolls back. */

/* After an item's events were logged: caches those stored with a payload. */
static void cache_events(citem *c)
{
    smodel *m = c->m;
    if (!c->pay || !m->jc.max_bytes || atomic_load(&m->deleted))
        return;
    for (size_t i = 0; i < c->nev; i++) {
        const tide_store_event *e = &c->ev[i];
        if (e->status != TIDE_OK || e->out_row <= 0 || !c->pay[i].f)
            continue;
        jcache_add(&m->jc, e->out_id, e->out_row, e->out_time, e->version, c->pay[i].f,
                   c->pay[i].nf, c->pay[i].p, c->pay[i].np);
    }
}

/* Before an item's labels are stored: the join of each label whose event
 * is cached becomes a hint (the store then runs only the INSERT). A second
 * label of the same event in the same item gets no hint: the store joins
 * it by SQL and sees the first one (same transaction). */
static void hint_labels(tide_server *s, citem *c)
{
    smodel *m = c->m;
    uint64_t stamp = ++s->item_stamp, hits = 0, hbuf[128], *hs = NULL;
    if (!m->jc.n || atomic_load(&m->deleted))
        goto out;
    if (!c->lje && !(c->lje = calloc(c->nlb, sizeof *c->lje)))
        goto out;
    /* the buckets are random accesses in a large table: ask for all of them
     * first, then look up */
    hs = c->nlb <= sizeof hbuf / sizeof *hbuf ? hbuf : malloc(c->nlb * sizeof *hs);
    for (size_t i = 0; hs && i < c->nlb; i++) {
        hs[i] = jcache_hash(c->lb[i].event_id);
        jcache_prefetch(&m->jc, hs[i]);
    }
    for (size_t i = 0; i < c->nlb; i++) {
        tide_store_label *l = &c->lb[i];
        jentry *e = hs ? jcache_get_h(&m->jc, l->event_id, hs[i]) : jcache_get(&m->jc, l->event_id);
        if (!e || e->stamp == stamp)
            continue;
        e->stamp = stamp;
        c->lje[i] = e;
        l->hint_model = m->store_id;
        l->hint_row = e->row;
        l->hint_time = e->time;
        l->hint_version = e->version;
        l->hint_seq = e->seq;
        l->hint_label = e->label;
        l->want_event = 0;   /* the learner gets the cached vector */
        hits++;
    }
    if (hs != hbuf)
        free(hs);
out:
    atomic_fetch_add_explicit(&m->n_jc_hits, hits, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->n_jc_misses, c->nlb - hits, memory_order_relaxed);
}

/* After an item's labels were stored: every new label of a cached event
 * (hinted or joined by SQL) becomes its current label, in seq order. */
static void cache_labels(citem *c)
{
    smodel *m = c->m;
    if (!m->jc.n)
        return;
    for (size_t i = 0; i < c->nlb; i++) {
        tide_store_label *l = &c->lb[i];
        jentry *e;
        if (l->status != TIDE_LABEL_JOINED && l->status != TIDE_LABEL_OVERWRITTEN)
            continue;
        e = c->lje && c->lje[i] ? c->lje[i] : jcache_get(&m->jc, l->event_id);
        if (e)
            jcache_set_label(&m->jc, e, l->seq, l->label);
    }
}

/* Runs one item inside the open transaction. */
static void commit_one(tide_server *s, citem *c)
{
    tide_err err;
    tide_err_clear(&err);
    c->rc = TIDE_OK;
    if (c->nev) {
        c->rc = tide_store_events_log(s->wst, c->m->name, c->ev, c->nev, &err);
        if (c->rc)
            goto out;
        cache_events(c);
        for (size_t i = 0; i < c->nev; i++)
            if (c->ev[i].status == TIDE_ERR_CONFLICT)
                atomic_fetch_add(&c->m->n_events_dup, 1);
    }
    if (c->nlb && c->kind == CI_LEARN) {
        c->rc = commit_learn_labels(s, c, &err);
    } else if (c->nlb) {
        hint_labels(s, c);
        c->rc = tide_store_labels_insert(s->wst, c->lb, c->nlb, &err);
    }
    if (c->nlb && !c->rc)
        cache_labels(c);
out:
    snprintf(c->msg, sizeof c->msg, "%s", err.msg);
}

/* Logs the events of a run of consecutive CI_EVENTS items of one model in a
 * single store call (one SAVEPOINT instead of one per request). Returns the
 * item after the run; *n counts the extra items. */
static citem *commit_events_run(tide_server *s, citem *first, size_t *n)
{
    size_t total = 0, k = 0;
    citem *c, *end;
    tide_store_event *all;
    tide_err err;
    int rc;
    for (end = first; end && end->kind == CI_EVENTS && end->m == first->m && total < 100000;
         end = end->next)
        total += end->nev;
    all = malloc((total ? total : 1) * sizeof *all);
    if (!all) {   /* fall back to one call per item */
        for (c = first; c != end; c = c->next)
            commit_one(s, c);
        return end;
    }
    for (c = first; c != end; c = c->next) {
        memcpy(all + k, c->ev, c->nev * sizeof *all);
        k += c->nev;
    }
    tide_err_clear(&err);
    rc = tide_store_events_log(s->wst, first->m->name, all, total, &err);
    if (rc) {
        free(all);
        /* nothing of the run was written (the store validates first, and
         * rolls its savepoint back): one request's bad event (e.g. features
         * over TIDE_STORE_JSON_MAX) must not lose the other requests' events */
        for (c = first; c != end; c = c->next) {
            commit_one(s, c);
            if (c != first)
                (*n)++;
        }
        return end;
    }
    k = 0;
    for (c = first; c != end; c = c->next) {
        for (size_t i = 0; i < c->nev; i++, k++) {
            c->ev[i] = all[k];   /* the outcome (status, row, time; same owned strings) */
            if (all[k].status == TIDE_ERR_CONFLICT)
                atomic_fetch_add(&c->m->n_events_dup, 1);
        }
        cache_events(c);
        c->rc = rc;
        snprintf(c->msg, sizeof c->msg, "%s", err.msg);
        if (c != first)
            (*n)++;
    }
    free(all);
    return end;
}

/* After COMMIT: hands new labels to the learners (in seq order within the
 * batch: the store assigns seqs in insertion order, and items are processed
 * in queue order). */
static void feed_learners(citem *c, double t_commit)
{
    ljob *head = NULL, *tail = NULL;
    size_t n = 0;
    uint64_t learned = 0;
    int lost = 0;
    if (c->rc || !c->nlb)
        return;
    for (size_t i = 0; i < c->nlb; i++) {
        tide_store_label *l = &c->lb[i];
        ljob *j;
        if (c->kind == CI_LABELS && l->status >= 1 && l->status <= 5)
            atomic_fetch_add_explicit(&c->m->n_lab[l->status], 1, memory_order_relaxed);
        if (l->status != TIDE_LABEL_JOINED && l->status != TIDE_LABEL_OVERWRITTEN)
            continue;
        if (c->kind == CI_LEARN)
            learned++;   /* tide_learn_total: rows committed (not refused, not rolled back) */
        if (c->kind == CI_LABELS)
            prom_observe(&c->m->delay_hist, PROM_DELAY_BOUNDS, (double)l->delay / 1000.0);
        if (lost)
            continue;
        if ((c->lje && c->lje[i]) || (c->kind == CI_LEARN && c->pay && c->pay[i].f)) {
            /* joined through the cache (its vector and logged probabilities)
             * or learned through /learn (the vector hashed by the worker),
             * packed with the label in one block */
            const jentry *e = c->lje && c->lje[i] ? c->lje[i] : NULL;
            const tide_feat *vf = e ? jentry_f(e) : c->pay[i].f;
            const double *vp = e ? jentry_p(e) : c->pay[i].p;
            uint32_t nf = e ? e->nf : c->pay[i].nf, np = e ? e->np : c->pay[i].np;
            size_t ll = strlen(l->label);
            j = malloc(sizeof *j + nf * sizeof(tide_feat) + np * sizeof(double) + ll + 1);
            if (j) {
                memset(j, 0, sizeof *j);
                j->packed = 1;
                j->f = (tide_feat *)(j + 1);
                j->p = (double *)(j->f + nf);
                j->label = (char *)(j->p + np);
                if (nf)
                    memcpy(j->f, vf, nf * sizeof *j->f);
                if (np)
                    memcpy(j->p, vp, np * sizeof *j->p);
                memcpy(j->label, l->label, ll + 1);
                j->nf = nf;
                j->np = np;
            }
        } else if ((j = calloc(1, sizeof *j))) {
            j->label = strdup(l->label);
            if (c->kind == CI_LEARN) {
                j->features = strdup(c->ev[i].features);
            } else {
                j->features = l->features;
                j->prediction = l->prediction;
                l->features = NULL;
                l->prediction = NULL;
            }
            if (!j->features || !j->label) {
                ljob_free(j);
                j = NULL;
            }
        }
        if (!j) {
            /* the learner must not skip this seq: it re-reads from the store */
            lost = 1;
            continue;
        }
        j->kind = LJ_LABEL;
        j->seq = l->seq;
        j->version = c->kind == CI_LEARN ? atomic_load(&c->m->base_version) : l->version;
        j->t_commit = t_commit;
        if (tail)
            tail->next = j;
        else
            head = j;
        tail = j;
        n++;
    }
    if (learned)
        atomic_fetch_add_explicit(&c->m->n_learn, learned, memory_order_relaxed);
    if (n || lost)
        smodel_enqueue_labels(c->m, head, tail, n, lost, t_commit);
}

/* One audit entry per (action, actor, model) of a group commit, written in
 * the same transaction as the labels it describes: {"n": labels stored,
 * "ids": the first SERVE_AUDIT_IDS event ids, "more": how many not listed}.
 * One entry per request would double the rows written per label. */
#define SERVE_AUDIT_IDS 100
static int audit_batch(tide_server *s, citem *batch, tide_err *err)
{
    for (citem *c = batch; c; c = c->next) {
        sbuf b = {0};
        size_t n = 0, listed = 0;
        int rc;
        if (!c->audit_action || c->rc || c->audited)
            continue;
        sb_put(&b, "{\"ids\":[", 8);
        for (citem *d = c; d; d = d->next) {
            if (!d->audit_action || d->rc || d->audited || d->m != c->m ||
                strcmp(d->audit_action, c->audit_action) || strcmp(d->actor, c->actor))
                continue;
            d->audited = 1;
            for (size_t i = 0; i < d->nlb; i++) {
                if (d->lb[i].status != TIDE_LABEL_JOINED &&
                    d->lb[i].status != TIDE_LABEL_OVERWRITTEN)
                    continue;
                n++;
                if (listed < SERVE_AUDIT_IDS && d->lb[i].event_id) {
                    if (listed++)
                        sb_put(&b, ",", 1);
                    sb_json_str(&b, d->lb[i].event_id, strlen(d->lb[i].event_id));
                }
            }
        }
        sb_printf(&b, "],\"n\":%zu,\"more\":%zu}", n, n - listed);
        if (b.oom) {
            free(b.p);
            return tide_err_set(err, TIDE_ERR_NOMEM, "out of memory for the audit entry");
        }
        rc = n ? tide_store_audit_append(s->wst, c->actor, c->audit_action, c->m->name, b.p, NULL,
                                         err)
               : TIDE_OK;
        free(b.p);
        if (rc)
            return rc;
    }
    return TIDE_OK;
}

/* True when every label of a label item joins an event already committed
 * (found in the model's join cache, which holds committed events only). */
static int labels_joined_in_cache(citem *c)
{
    if (atomic_load(&c->m->deleted) || !c->m->jc.n)
        return 0;
    for (size_t i = 0; i < c->nlb; i++)
        if (!jcache_get(&c->m->jc, c->lb[i].event_id))
            return 0;
    return 1;
}

/* Called with the queue left after a transaction's cut (s->ch.., under
 * cmu): durable writes that wait only behind logged predictions join this
 * transaction, appended after its last item `last`. A label item may pass
 * queued events only if each of its labels joins an already committed
 * event (a queued event could otherwise be the one it names); /learn items
 * name no event. Neither passes another label or learn item: their order
 * is their order in the label log. So an acknowledged label is not held
 * behind a backlog of best-effort event logging (up to
 * SERVE_MAX_PENDING_EVENTS events, seconds of commits). */
static void overtake_events(tide_server *s, citem *last)
{
    citem *prev = NULL, *c = s->ch;
    for (size_t scanned = 0; c && scanned < 100000; scanned++) {
        citem *next = c->next;
        if (c->kind == CI_EVENTS) {
            prev = c;
            c = next;
            continue;
        }
        if (c->kind != CI_LEARN && !(c->kind == CI_LABELS && labels_joined_in_cache(c)))
            break;
        if (prev)   /* unlink */
            prev->next = next;
        else
            s->ch = next;
        if (s->ct == c)
            s->ct = prev;
        s->cn--;
        last->next = c;   /* append to the transaction */
        c->next = NULL;
        last = c;
        c = next;
    }
}

static void *committer_main(void *arg)
{
    tide_server *s = arg;
    double next_sweep = serve_now();   /* sweep once at startup, then periodically */
    for (;;) {
        citem *batch, *c;
        size_t n = 0;
        tide_err err;
        double t0, t1;
        int rc;
        pthread_mutex_lock(&s->cmu);
        while (!s->ch && !s->cstop && serve_now() < next_sweep) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->ccv, &s->cmu, &ts);
        }
        batch = s->ch;
        {   /* one transaction takes the queue's head up to about
             * SERVE_COMMIT_MAX_EVENTS logged events (FIFO order kept: a
             * label must see the events queued before it; the rest waits
             * for the next one): a backlog of predictions then commits in
             * WAL-sized steps instead of one transaction of hundreds of MB,
             * so the WAL stays small and is reused (measured: 7.8 MB instead
             * of 150 MB, backlog drained 1.6x faster) */
            citem *cut = batch;
            size_t nev = 0, kept = 0;
            while (cut && cut->next &&
                   (nev += cut->kind == CI_EVENTS ? cut->nev : 0) < SERVE_COMMIT_MAX_EVENTS) {
                cut = cut->next;
                kept++;
            }
            if (cut && cut->next) {
                s->ch = cut->next;
                cut->next = NULL;
                s->cn -= kept + 1;
                overtake_events(s, cut);
            } else {
                s->ch = s->ct = NULL;
                s->cn = 0;
            }
        }
        if (!batch && s->cstop) {
            pthread_mutex_unlock(&s->cmu);
            break;
        }
        pthread_mutex_unlock(&s->cmu);
        if (serve_now() >= next_sweep) {
            /* unlabelled events older than the retention expire */
            int64_t deleted = 0, now_ms = serve_wall_ms();
            int64_t max_age = (int64_t)s->o.retention_s * 1000;
            if (tide_store_retention_sweep(s->wst, NULL, now_ms, max_age, &deleted, &err))
                fprintf(stderr, "tide serve: retention sweep failed: %s\n", err.msg);
            /* the sweep may have deleted cached events: drop every entry it could have */
            pthread_rwlock_rdlock(&s->mlock);
            for (size_t i = 0; i < s->n_models; i++)
                jcache_expire(&s->models[i]->jc, now_ms - max_age);
            pthread_rwlock_unlock(&s->mlock);
            atomic_fetch_add(&s->events_expired, (uint64_t)deleted);
            next_sweep = serve_now() + (s->o.retention_s / 2.0 < SERVE_SWEEP_SECONDS
                                            ? (s->o.retention_s < 2 ? 1.0 : s->o.retention_s / 2.0)
                                            : SERVE_SWEEP_SECONDS);
            if (!batch)
                continue;
        }
        t0 = serve_now();
        rc = tide_store_begin(s->wst, &err);
        for (c = batch; !rc && c; n++) {
            if (c->kind == CI_EVENTS && c->next && c->next->kind == CI_EVENTS &&
                c->next->m == c->m) {
                c = commit_events_run(s, c, &n);   /* many predict requests, one call */
                continue;
            }
            commit_one(s, c);
            c = c->next;
        }
        if (!rc)
            rc = audit_batch(s, batch, &err);
        s->n_commits++;
        if (!rc && s->o.fault_commit_delay_ms) {
            /* tests: a stalled disk (the write lock is held meanwhile) */
            struct timespec ts = {(time_t)(s->o.fault_commit_delay_ms / 1000),
                                  (long)(s->o.fault_commit_delay_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) && errno == EINTR)
                ;
        }
        if (!rc && s->o.fault_commit_every && s->n_commits % s->o.fault_commit_every == 0) {
            /* tests: a transaction that fails at COMMIT */
            rc = tide_err_set(&err, TIDE_ERR_IO, "injected failure (fault_commit_every = %u)",
                              s->o.fault_commit_every);
            tide_store_rollback(s->wst);
        } else if (!rc) {
            rc = tide_store_commit(s->wst, &err);
        } else {
            tide_store_rollback(s->wst);
        }
        t1 = serve_now();
        /* the join caches follow the store: keep or undo this transaction's changes */
        for (c = batch; c; c = c->next)
            if (rc)
                jcache_undo(&c->m->jc);
            else
                feed_learners(c, t1);   /* before jcache_commit may evict entries it reads */
        for (c = batch; c; c = c->next) {
            if (!rc)
                jcache_commit(&c->m->jc);
            atomic_store_explicit(&c->m->jc_bytes, c->m->jc.bytes, memory_order_relaxed);
            atomic_store_explicit(&c->m->jc_entries, c->m->jc.n, memory_order_relaxed);
        }
        prom_observe(&s->prom.commit, PROM_LAT_BOUNDS, t1 - t0);
        atomic_fetch_add(&s->prom.commit_batches, 1);
        atomic_fetch_add(&s->prom.commit_items, n);
        for (c = batch; c;) {
            citem *next = c->next;
            if (rc) {
                c->rc = rc;
                snprintf(c->msg, sizeof c->msg, "store commit failed: %s", err.msg);
            }
            if (c->kind == CI_EVENTS)
                atomic_fetch_sub_explicit(&s->pending_events, (int64_t)c->nev,
                                          memory_order_relaxed);
            if (c->done_fn)
                c->done_fn(s, c);   /* answers the waiting request; owns c from here */
            else
                citem_free(c);
            c = next;
        }
    }
    return NULL;
}

int committer_start(tide_server *s, tide_err *err)
{
    if (pthread_create(&s->cth, NULL, committer_main, s))
        return tide_err_set(err, TIDE_ERR_STATE, "cannot start the committer thread");
    s->cth_started = 1;
    return TIDE_OK;
}

void committer_stop(tide_server *s)
{
    if (!s->cth_started)
        return;
    pthread_mutex_lock(&s->cmu);
    s->cstop = 1;
    pthread_cond_signal(&s->ccv);
    pthread_mutex_unlock(&s->cmu);
    pthread_join(s->cth, NULL);
    s->cth_started = 0;
}
