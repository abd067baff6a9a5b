/*
 * gen_synth.c — deterministic synthetic binary-classification stream, written
 * twice with identical values: PREFIX.csv (header n0..n19,c0..c4,y; y in
 * {0,1}) and PREFIX.vw (`1 |n n0:0.123 ... |c c0=v17 ...`, label +1/-1).
 *
 *   usage: gen_synth [ROWS=1000000] [PREFIX=/tmp/synth]
 *
 * Model: 20 numeric features x_i ~ N(0,1) and 5 categorical features with
 * 100 values each (v0..v99, uniform). The label is drawn from a fixed
 * logistic model: P(y=1) = sigmoid(w.x + sum_j b_j[c_j]), with the weights w
 * and category effects b drawn once from the same seeded PRNG and scaled so
 * the logit has standard deviation ~4.5, which puts the Bayes accuracy at
 * ~0.88 (label noise comes from the Bernoulli draw). Numbers are written with
 * 6 significant digits. PRNG: splitmix64 (Steele, Lea, Flood, "Fast
 * splittable pseudorandom number generators", OOPSLA 2014); normals by the
 * Box-Muller transform.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNUM 20
#define NCAT 5
#define NVAL 100
#define SEED 20240601ULL
#define LOGIT_SD 4.5

static uint64_t rng_state = SEED;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double rng_uniform(void) { return ((double)(rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double rng_normal(void)
{
    double u1 = rng_uniform(), u2 = rng_uniform();
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    const char *prefix = argc > 2 ? argv[2] : "/tmp/synth";
    double w[NNUM], b[NCAT][NVAL], var_num = 0, var_cat = 0, scale_n, scale_c;
    char path[4096];
    FILE *fc = NULL, *fv = NULL;
    long pos = 0;
    int rc = 1;

    if (rows <= 0 || rows > 1000000000L) {
        fprintf(stderr, "gen_synth: ROWS must be in 1..1e9\n");
        return 2;
    }
    /* fixed model, drawn from the seeded PRNG before any row */
    for (int i = 0; i < NNUM; i++) {
        w[i] = rng_normal();
        var_num += w[i] * w[i];
    }
    for (int j = 0; j < NCAT; j++)
        for (int v = 0; v < NVAL; v++) {
            b[j][v] = rng_normal();
            var_cat += b[j][v] * b[j][v] / NVAL;
        }
    /* 80 % of the logit variance from numeric features, 20 % categorical */
    scale_n = sqrt(0.8 * LOGIT_SD * LOGIT_SD / var_num);
    scale_c = sqrt(0.2 * LOGIT_SD * LOGIT_SD / var_cat);
    for (int i = 0; i < NNUM; i++)
        w[i] *= scale_n;
    for (int j = 0; j < NCAT; j++)
        for (int v = 0; v < NVAL; v++)
            b[j][v] *= scale_c;

    snprintf(path, sizeof path, "%s.csv", prefix);
    fc = fopen(path, "w");
    if (!fc) {
        perror(path);
        goto done;
    }
    snprintf(path, sizeof path, "%s.vw", prefix);
    fv = fopen(path, "w");
    if (!fv) {
        perror(path);
        goto done;
    }
    setvbuf(fc, NULL, _IOFBF, 1 << 20);
    setvbuf(fv, NULL, _IOFBF, 1 << 20);
    for (int i = 0; i < NNUM; i++)
        fprintf(fc, "n%d,", i);
    for (int j = 0; j < NCAT; j++)
        fprintf(fc, "c%d,", j);
    fputs("y\n", fc);

    for (long r = 0; r < rows; r++) {
        char num[NNUM][32], line_c[1024], line_v[1024];
        int cat[NCAT], kc = 0, kv;
        double z = 0;
        for (int i = 0; i < NNUM; i++) {
            double x = rng_normal();
            snprintf(num[i], sizeof num[i], "%.6g", x);
            z += w[i] * x;
        }
        for (int j = 0; j < NCAT; j++) {
            cat[j] = (int)(rng_next() % NVAL);
            z += b[j][cat[j]];
        }
        int y = rng_uniform() < 1.0 / (1.0 + exp(-z));
        pos += y;
        kv = snprintf(line_v, sizeof line_v, "%s |n", y ? "1" : "-1");
        for (int i = 0; i < NNUM; i++) {
            kc += snprintf(line_c + kc, sizeof line_c - (size_t)kc, "%s,", num[i]);
            kv += snprintf(line_v + kv, sizeof line_v - (size_t)kv, " n%d:%s", i, num[i]);
        }
        kv += snprintf(line_v + kv, sizeof line_v - (size_t)kv, " |c");
        for (int j = 0; j < NCAT; j++) {
            kc += snprintf(line_c + kc, sizeof line_c - (size_t)kc, "v%d,", cat[j]);
            kv += snprintf(line_v + kv, sizeof line_v - (size_t)kv, " c%d=v%d", j, cat[j]);
        }
        kc += snprintf(line_c + kc, sizeof line_c - (size_t)kc, "%d\n", y);
        kv += snprintf(line_v + kv, sizeof line_v - (size_t)kv, "\n");
        fwrite(line_c, 1, (size_t)kc, fc);
        fwrite(line_v, 1, (size_t)kv, fv);
    }
    if (ferror(fc) || ferror(fv)) {
        fprintf(stderr, "gen_synth: write error\n");
        goto done;
    }
    fprintf(stderr, "gen_synth: %ld rows, %.4f positive -> %s.csv, %s.vw\n", rows,
            (double)pos / (double)rows, prefix, prefix);
    rc = 0;
done:
    if (fc && fclose(fc))
        rc = 1;
    if (fv && fclose(fv))
        rc = 1;
    return rc;
}
