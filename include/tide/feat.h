/*
 * tide/feat.h — from rows of named values to sparse hashed feature vectors.
 *
 * Hashing (xxHash, XXH3 64-bit): a numeric feature "name" in namespace "ns"
 * lands in bucket h(ns, name) mod 2^bits with its value; a categorical value
 * lands in h(ns, name, value) with value 1 (one-hot, never materialised).
 * Optional quadratic interactions cross every feature of namespace A with
 * every feature of namespace B (VW's -q): bucket mix(ia, ib), value va*vb.
 * An optional constant feature (the intercept) is NOT added here: learners
 * own their bias term.
 *
 * The featurizer caches name hashes by CSV column, so CSV rows cost one hash
 * per categorical cell and none per numeric cell.
 */
#ifndef TIDE_FEAT_H
#define TIDE_FEAT_H

#include "tide/common.h"
#include "tide/io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TIDE_BITS_DEFAULT 18
#define TIDE_BITS_MAX 28

typedef struct tide_feat {
    uint32_t idx;   /* bucket in [0, 2^bits) */
    float val;
} tide_feat;

/* Sparse vector; entries may repeat an index (collisions are summed by
 * learners, as in VW). */
typedef struct tide_fvec {
    tide_feat *f;   /* owned */
    size_t n;
    size_t cap;
} tide_fvec;

void tide_fvec_init(tide_fvec *v);
void tide_fvec_free(tide_fvec *v);
int tide_fvec_push(tide_fvec *v, uint32_t idx, float val);   /* TIDE_ERR_NOMEM on failure */
/* Grows v to hold at least n entries (TIDE_ERR_NOMEM on failure). */
int tide_fvec_reserve(tide_fvec *v, size_t n);
/* Copy (dst is re-initialised, caller frees). */
int tide_fvec_copy(tide_fvec *dst, const tide_fvec *src);

typedef struct tide_feat_opts {
    int bits;                 /* 1..TIDE_BITS_MAX, default 18 */
    const char **quadratic;   /* "A:B" namespace pairs (names; "" = default ns) */
    size_t n_quadratic;
} tide_feat_opts;

void tide_feat_opts_init(tide_feat_opts *o);

typedef struct tide_featurizer tide_featurizer;

int tide_featurizer_new(const tide_feat_opts *o, tide_featurizer **out, tide_err *err);
void tide_featurizer_free(tide_featurizer *fz);
int tide_featurizer_bits(const tide_featurizer *fz);

/* Hashes row into v (v->n reset first). Non-finite numeric values are an
 * error naming the field (they would poison every learner).
 * Thread safety: the featurizer is only written to by rows whose fields
 * carry a CSV column (col >= 0: the name-hash cache). For rows with col = -1
 * (JSON Lines, VW, the server's requests) several threads may featurize with
 * one featurizer at once, each into its own v. */
int tide_featurize(tide_featurizer *fz, const tide_row *row, tide_fvec *v, tide_err *err);

/* Reads the next row of r and, if it has a target, featurizes it into v:
 * the same statuses, errors, row and vector as tide_reader_next() followed,
 * for rows with a target, by tide_featurize() (progressive validation's
 * loop). For rows without a target v is unspecified.
 * When tide_featurizer_fused(fz, r) (VW input, no quadratic pairs) it takes
 * the reader's fused path (tide_reader_next_hashed): names are hashed as
 * they are parsed, and row->fields is empty (n_fields 0). Otherwise it is
 * exactly those two calls. */
int tide_featurize_next(tide_featurizer *fz, tide_reader *r, tide_row *row, tide_fvec *v,
                        tide_err *err);
/* 1 when tide_featurize_next takes the fused path for r, else 0. */
int tide_featurizer_fused(const tide_featurizer *fz, const tide_reader *r);

/* Bucket of a named numeric feature / of a categorical value (for tests,
 * explanations and the server's schema). */
uint32_t tide_feat_index(const tide_featurizer *fz, const char *ns, size_t ns_len,
                         const char *name, size_t name_len);
uint32_t tide_feat_index_cat(const tide_featurizer *fz, const char *ns, size_t ns_len,
                             const char *name, size_t name_len,
                             const char *val, size_t val_len);

/* Persist the featurizer configuration (bits, quadratic pairs). */
void tide_featurizer_save(const tide_featurizer *fz, tide_wbuf *b);
int tide_featurizer_load(tide_rbuf *r, tide_featurizer **out, tide_err *err);

/* ---- online standard scaling (Welford), per bucket ---------------------
 * Used by learners whose update is not scale-invariant (plain SGD, AdaGrad,
 * FTRL with scale=1). Transforms x into (x - mean) / sd using statistics
 * learned so far. learn_transform updates with the row first (as River's
 * StandardScaler does in learn_one); transform never updates. */
typedef struct tide_scaler tide_scaler;
int tide_scaler_new(int bits, tide_scaler **out);
void tide_scaler_free(tide_scaler *s);
/* Update the statistics with v, then write the scaled copy into out. */
int tide_scaler_learn_transform(tide_scaler *s, const tide_fvec *v, tide_fvec *out);
/* Update the statistics only. */
int tide_scaler_learn(tide_scaler *s, const tide_fvec *v);
/* Scaled value of one entry with the current statistics (0 if unseen). */
float tide_scaler_scale(const tide_scaler *s, uint32_t idx, float val);
/* Deep copy. */
int tide_scaler_clone(const tide_scaler *s, tide_scaler **out);
/* Scale without updating. */
int tide_scaler_transform(const tide_scaler *s, const tide_fvec *v, tide_fvec *out);
void tide_scaler_save(const tide_scaler *s, tide_wbuf *b);
int tide_scaler_load(tide_scaler *s, tide_rbuf *r, tide_err *err);
size_t tide_scaler_memory(const tide_scaler *s);

#ifdef __cplusplus
}
#endif
#endif
