/*
 * tide/learn.h — the learner interface and the model (featurizer + label
 * dictionary + learner) with its versioned file format.
 *
 * A learner sees hashed sparse vectors (tide/feat.h) and a target that is a
 * class index 0..K-1 (classifiers) or a real value (regressors). It never
 * sees strings, files or the store. Every learner is reached through one
 * vtable, registered in a static table (src/learn/registry.c) that also
 * drives `tide learners`.
 *
 * Ownership: tide_learner_new/clone return a learner the caller frees with
 * tide_learner_free (NULL is a no-op). Learners are not thread-safe: the
 * serving layer predicts on immutable clones (snapshots).
 */
#ifndef TIDE_LEARN_H
#define TIDE_LEARN_H

#include "tide/common.h"
#include "tide/feat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TIDE_TASK_BINARY = 1,      /* classes {0,1}; proba of class 1 */
    TIDE_TASK_MULTICLASS = 2,  /* classes 0..K-1, K grows as labels appear */
    TIDE_TASK_REGRESSION = 3,
    TIDE_TASK_CLASSIFY = 4     /* learner handles binary and multiclass */
} tide_task;

const char *tide_task_name(tide_task t);

#define TIDE_MAX_CLASSES 1024

typedef struct tide_learner tide_learner;
typedef struct tide_learner_vt tide_learner_vt;

struct tide_learner_vt {
    const char *name;            /* command-line name: "logistic" */
    tide_task task;
    const char *summary;         /* one line for `tide learners` */
    const tide_param_spec *params;
    size_t n_params;
    /* Allocate a learner of this kind; p was validated against params.
     * bits: the featurizer's hash bits (index range 2^bits). */
    int (*create)(const tide_params *p, int bits, tide_learner **out, tide_err *err);
    void (*destroy)(tide_learner *l);
    /* y: class index (classifiers) or value (regression); w > 0. */
    int (*learn_one)(tide_learner *l, const tide_fvec *x, double y, double w);
    /* Classifiers: fills proba[0..n_classes-1] (sums to 1), n_classes =
     * tide_learner_classes(l) (>= 2 for binary). Regressors: proba[0] = value. */
    void (*predict)(const tide_learner *l, const tide_fvec *x, double *out);
    int (*clone)(const tide_learner *l, tide_learner **out, tide_err *err); /* deep copy */
    int (*save_state)(const tide_learner *l, tide_wbuf *b);
    int (*load_state)(tide_learner *l, tide_rbuf *r, tide_err *err);
    size_t (*memory)(const tide_learner *l);   /* bytes in use */
    /* Optional: start over with the same parameters (NULL = create anew). */
    void (*reset)(tide_learner *l);
    /* Layout version of save_state; bump it whenever the layout changes, so
     * old files are refused as "unsupported version", not as corrupt (or
     * read by load_old_state, below). 0 and 1 are the same (the first layout). */
    uint32_t state_version;
    /* Optional: the progressive step in one call — writes to out what
     * predict would answer for x now, then learns (x, y, w). The result and
     * the state after it equal predict() then learn_one() bit for bit; a
     * learner provides it when the two share work (NULL = those two calls). */
    int (*learn_predict)(tide_learner *l, const tide_fvec *x, double y, double w, double *out);
    /* Optional: reads a state saved with an older layout, of a version in
     * min_state_version..state_version-1 (NULL: older layouts are refused).
     * Parameters the older file lacks hold their defaults when it runs. */
    uint32_t min_state_version;
    int (*load_old_state)(tide_learner *l, tide_rbuf *r, uint32_t version, tide_err *err);
};

/* Every learner struct starts with this header. */
struct tide_learner {
    const tide_learner_vt *vt;
    tide_params params;
    int bits;
    int n_classes;     /* classifiers: classes seen so far (>= 2); regressors: 1 */
    uint64_t n_seen;   /* learn_one calls */
};

/* Registry */
size_t tide_learner_count(void);
const tide_learner_vt *tide_learner_at(size_t i);
const tide_learner_vt *tide_learner_find(const char *name);

/* Creates by name with "k=v" settings applied over the defaults. */
int tide_learner_new(const char *name, const char **kv, size_t n_kv, int bits,
                     tide_learner **out, tide_err *err);
void tide_learner_free(tide_learner *l);
int tide_learner_learn(tide_learner *l, const tide_fvec *x, double y, double w);
void tide_learner_predict(const tide_learner *l, const tide_fvec *x, double *out);
/* Progressive validation's step: grows the classes to hold y, predicts x
 * into out (room for the classes after growth), then learns (x, y, w). Same
 * answer and same state as tide_learner_predict then tide_learner_learn. On
 * an invalid y nothing is predicted or learned. */
int tide_learner_learn_predict(tide_learner *l, const tide_fvec *x, double y, double w,
                               double *out);
int tide_learner_clone(const tide_learner *l, tide_learner **out, tide_err *err);
size_t tide_learner_memory(const tide_learner *l);
int tide_learner_classes(const tide_learner *l);
/* A classifier must call this when class index k is first seen (k+1 classes). */
void tide_learner_grow_classes(tide_learner *l, int n_classes);

/* Serialise kind + params + state (no header/checksum: see tide_model). */
int tide_learner_save(const tide_learner *l, tide_wbuf *b);
int tide_learner_load(tide_rbuf *r, tide_learner **out, tide_err *err);
/* Same, refusing a learner whose hash bits differ from expect_bits (0 = any)
 * before it allocates anything. */
int tide_learner_load_bits(tide_rbuf *r, int expect_bits, tide_learner **out, tide_err *err);

/* ---- label dictionary --------------------------------------------------
 * Maps target text to class indices. Binary: "1", "true", "yes", "+1" and
 * any number > 0 -> 1; "0", "-1", "false", "no" and numbers <= 0 -> 0; other
 * strings by first appearance (at most two). Multiclass: first appearance. */
typedef struct tide_labels tide_labels;
int tide_labels_new(tide_task task, tide_labels **out);
void tide_labels_free(tide_labels *d);
/* Index of a label, adding it if new. TIDE_ERR_LIMIT / TIDE_ERR_PARSE with a
 * message when it cannot be a class of this task. */
int tide_labels_index(tide_labels *d, const char *s, size_t len, int *idx, tide_err *err);
/* Index without adding: TIDE_ERR_NOTFOUND if unseen. */
int tide_labels_lookup(const tide_labels *d, const char *s, size_t len, int *idx);
const char *tide_labels_name(const tide_labels *d, int idx);  /* NULL if out of range */
int tide_labels_count(const tide_labels *d);
/* TIDE_TASK_BINARY or TIDE_TASK_MULTICLASS (the task it was made for). */
tide_task tide_labels_task(const tide_labels *d);
/* Index of the positive class of a two-class problem: the class whose name
 * is a positive spelling ("1", "true", "yes", ...); 1 when none is. Metrics
 * report F1 of this class. */
int tide_labels_positive(const tide_labels *d);
void tide_labels_save(const tide_labels *d, tide_wbuf *b);
int tide_labels_load(tide_rbuf *r, tide_labels **out, tide_err *err);

/* ---- model: what a model file holds ------------------------------------ */
typedef struct tide_model {
    tide_featurizer *fz;   /* owned */
    tide_labels *labels;   /* owned; NULL for regression */
    tide_learner *learner; /* owned */
} tide_model;

/* Builds an empty model; the model takes ownership of fz and learner even
 * on failure. */
int tide_model_new(tide_featurizer *fz, tide_learner *learner, tide_model **out, tide_err *err);
void tide_model_free(tide_model *m);
tide_task tide_model_task(const tide_model *m);
/* Deep copy (snapshots for serving). */
int tide_model_clone(const tide_model *m, tide_model **out, tide_err *err);

/*
 * Model file format v1 (all integers little-endian):
 *   0  8  magic "TIDEMDL\0"
 *   8  4  format version (1)
 *  12  8  payload length N
 *  20  N  payload: featurizer config, label dictionary (flag + entries),
 *         learner kind name, params ("k=v" strings), learner state
 *  20+N 8 xxh64 of bytes [0, 20+N)
 * Loading checks magic, version, length and checksum before touching the
 * payload, so a truncated, corrupt or foreign file fails with a message.
 */
int tide_model_save_buf(const tide_model *m, tide_wbuf *out);
int tide_model_load_buf(const void *data, size_t len, tide_model **out, tide_err *err);
/* Atomic save: temp file, fsync, rename, fsync directory. */
int tide_model_save_file(const tide_model *m, const char *path, tide_err *err);
int tide_model_load_file(const char *path, tide_model **out, tide_err *err);

#ifdef __cplusplus
}
#endif
#endif
