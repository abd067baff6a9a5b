/*
 * kswin.c — KSWIN, Kolmogorov-Smirnov windowing drift detector (the
 * "kswin" detector of the registry).
 *
 * C. Raab, M. Heusinger, F.-M. Schleif, "Reactive soft prototype computing
 * for concept drift streams", Neurocomputing 416 (2020). Semantics and
 * defaults of River's drift.KSWIN (read to understand, not copied):
 *  - a sliding window of the last window_size values (100);
 *  - once it is full, at every value: R = the newest stat_size values (30),
 *    W = stat_size values drawn uniformly without replacement from the
 *    window_size - stat_size older ones; two-sample KS test of W vs R with
 *    the exact p-value; DRIFT when p <= alpha (0.005) and D > 0.1;
 *  - after DRIFT the detector is reset to its initial state (empty window,
 *    generator re-seeded), as River's next update does.
 * Implementation notes: both samples have stat_size values, so D is a
 * multiple of 1/stat_size and the exact p-value (stattest.c) depends only
 * on that multiple (and falls as it grows): the smallest k with
 * p(k/stat_size) <= alpha and k/stat_size > 0.1 is found once at creation,
 * and each update only compares the integer k = stat_size * D with it.
 * Equivalent to testing p <= alpha at every step, without the
 * O(stat_size^2) p-value per value.
 *
 * General path (any values). W is a uniform random stat-subset of the
 * older POSITIONS (as River draws window indices). (Drawing ranks directly
 * would have the same law averaged over seeds, but not for a fixed seed:
 * the generator is re-seeded at each reset, so the first tests after every
 * reset would reuse the same ranks — e.g. the 30 lowest — which is not a
 * random sample of the values. Positions are exchangeable, ranks are not.)
 * Two implementations by window size:
 *
 * Merged path (window_size <= 128: the default 100; since format 4). One
 * sorted order of all win values is kept as the ring index of each merged
 * slot (mg, bytes; ties in any order). A step moves one value: y's slot
 * found by a byte compare, x's slot = the number of ring values below x
 * (vector compares on the unsorted ring), mg moved by one byte permutation
 * (or memmove); a tie count (adjacent equal values) kept from the values
 * around the two slots. The test: each slot's position in the window
 * (ring index - head mod win) tells newest (position >= older) from older;
 * with W's positions as a bit mask, S_j = #W in slots <= j - #newest in
 * slots <= j (running sums over 128 bytes: +1, -1, 0 per slot) and
 *   stat * D = max |S_j| over the run ends j
 * (slots whose value differs from the next slot's; all slots without ties:
 * the empirical CDFs are compared only after a whole run of equal values).
 * The draw (draw_start/draw_finish): a mask M of the older positions whose
 * bits are independent with probability t/16 (position p in M when its
 * nibble of the next 8 random words is below t; t makes older t/16
 * closest to stat: t = 7 at the defaults, m = |M| ~ Binomial(70, 7/16),
 * mean 30.6; format 4 used the AND of e words, density 2^-e, mean 35).
 * Given m, M is a uniform m-subset; then d = |m - stat| bits are removed one at a time, each
 * uniform among those left (or added, each uniform among the positions not
 * in M): a uniform subset of a uniform m-subset is a uniform stat-subset,
 * so W is exactly uniform whatever m, and independent of the past. The
 * removal digits come 8 per 64-bit word: bounds n_j = max(top - j, 1),
 * the mixed-radix digits of floor(u P / 2^64) (successive 64x64->128
 * products, P = n_1 ... n_8 <= 2^56) are independent uniform draws below
 * each n_j exactly when the final low word passes the rejection test (D.
 * Lemire, "Fast random integer generation in an interval", ACM TOMACS
 * 29(1), 2019; batched as in N. Brackett-Rozinsky, D. Lemire, "Batched
 * ranged random integer generation", Softw. Pract. Exp. 2025); digits past
 * the d needed are left unused. A no-alarm certificate comes before the
 * removals: with T_j = S_j(M), every S_j(W) lies in [T_j - d, T_j] (W is M
 * less d values; [T_j, T_j + d] when adding), so when all these bands stay
 * within (-kstar, kstar) the test cannot alarm whatever the removals and
 * they are not drawn (about 97% of the tests on the benchmark's normal
 * stream with density 7/16; 88.5% with 1/2, whose m is 5 above stat on
 * average); the decision is the one of the full draw, and the words not
 * drawn are used by the next tests, which stay fresh and independent (the
 * number of words a test takes depends only on the past). AVX-512
 * (F/BW/DQ/VBMI + BMI2, chosen at run time; same results as the portable
 * functions, checked by the tests on both; kswin_update_avx512 has the
 * details): the order is kept as the age of each slot's value (= its
 * position in the draw's mask), x's slot counted on a float copy of the
 * ring (exact: checked at the one slot where rounding could tie), the 8
 * mask words made one test ahead by splitmix64 in 8 lanes (the same
 * words), the certificate taken on the order before x moves in (only its
 * last compares wait for x's slot), the mask spread into bytes and
 * gathered into merged order by vpermi2b; the removals map the
 * sequential digits to ranks among M's set bits (p_j = f_0(... f_{j-1}(dig
 * j)), f_i(p) = p + (p >= dig i)) and drop them with one pdep per word.
 * The AVX-512 certificate (since kswin5) gathers offset terms
 * 1 + [drawn] - [newest] (0, 1 or 2) by position from a per-detector table
 * (tbase) and sums them as non-negative bytes, inside each 8-byte word by
 * one multiply with 0x0101010101010101 and across words by shifted adds;
 * x's adjustment comes from loads of a step table; x's count is the
 * popcount of 7 compare masks (general registers, off the vector sum that
 * lengthened the step's longest chain).
 * AVX2 (AVX2 + BMI2, x86-64-v3 machines without AVX-512 VBMI; chosen at run
 * time, same results, checked by the tests): the portable order (mg, inv)
 * moved by whole-vector blends of three shifted copies (no byte stores or
 * memmove under the next step's vector loads), x counted on a float copy
 * of the ring (exact as above), the 8 mask words by splitmix64 in 4-lane
 * vectors (64-bit products from three 32 x 32 -> 64 ones) one test ahead,
 * the KS pass in position space: each slot's position from its ring index,
 * its drawn bit looked up by two byte shuffles, running sums inside 16-byte
 * lanes plus the lower lanes' totals, run ends as bytes when there are
 * ties; without ties the certificate is taken on the order before the move
 * as on the AVX-512 step (kswin_step_avx2).
 * Portable: an inverse map (slot of each ring index), nibble tables for the
 * running sums after a per-byte bound, sequential broadword selections
 * (S. Vigna, "Broadword implementation of rank/select queries", WEA 2008).
 *
 * Sorted-older path (window_size > 128). The older part O of the window
 * (older = window_size - stat_size values) is kept sorted, o[0..older-1],
 * with each o[r] two counts over the newest part R: le[r] = #R <= o[r] and
 * lt[r] = #R < o[r], and with the rank in o of every older ring slot (rk).
 * A value moves through the window in O(window) simple work (counting its
 * place, memory moves, one vector pass over le/lt and one over rk), no
 * sort. W: a partial Fisher-Yates shuffle of the permutation perm of the
 * older positions, kept between steps; rk turns it into a bitmap of ranks.
 * With the drawn ranks in increasing order s_0 < ... < s_{stat-1} (the
 * bitmap read with count-trailing-zeros), the KS statistic is, ties
 * included,
 *   stat * D = max(0, max_i (i + 1 - le[s_i]), max_i (lt[s_i] - i)):
 * F_W - F_R rises only at W's values (at o[s_i] it is at least
 * i + 1 - le[s_i], and exactly that at the last of a run of equal values)
 * and its minimum is reached just below a W value (there it is at most
 * i - lt[s_i], exactly at the first of a run). So one pass over the stat
 * drawn ranks decides, instead of a merge of two sorted samples with
 * unpredictable branches; a bound per block of 8 ranks (ks_reaches)
 * usually decides before it. The stat bounded draws come in batches from one
 * 64-bit word each (as above, with products of bounds <= 2^50).
 *
 * State formats: 5 = 4 = 3's layout (perm saved at every size; the merged
 * path leaves it as the identity). 4's merged path drew its first mask as
 * the AND of e words (density 2^-e), 5's from 8 words' nibbles (density
 * t/16); 3's merged-size windows drew by Fisher-Yates; both load here and
 * continue with the nibble masks (same law, other subsets).
 * Format 1 states have the same layout and meaning (perm over positions)
 * and load; from there on the draws differ from what a format-1 build
 * would make (one word per draw), with the same law.
 *
 * 0/1 streams (a model's errors, the common case) take a shortcut with the
 * same decisions in law: while every value in the window is 0 or 1, D is
 * |ones in W - ones in R| / stat, and ones in W can only lie in
 * [max(0, stat - zeros of the older part), min(stat, ones of the older
 * part)]. When no value of that range reaches kstar no draw can, so none is
 * made; otherwise ones in W is drawn from its hypergeometric distribution
 * (one uniform against a precomputed CDF table) — the law of the count in
 * a uniform draw of stat older values, so the test keeps its distribution.
 * Its uniforms come from a generator of their own (rng01), seeded at
 * creation and never at a reset: re-seeded, the j-th test after every reset
 * would reuse one uniform, and for a fixed seed the drawn count would be a
 * fixed quantile of its law rather than a draw from it (measured: a first
 * test after reset firing at 0.002 or 0.041 depending on the seed, where
 * the general path fires at 0.011-0.013 for every seed;
 * test_kswin_shortcut_fixed_seed).
 * Counts are kept per step in O(1); the sorted structures are rebuilt only
 * when a value other than 0/1 enters the window. Windows too large for the table
 * (more than KSWIN_HCDF_MAX entries) take the general path on 0/1 values
 * too, so their arrays are kept up to date at every value.
 * Differences to River: the sampler is splitmix64 with parameter `seed`
 * (River: Python's random.Random), so the drawn subsets differ; the
 * statistics are the same. No warning zone.
 */
#include "drift/drift_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KSWIN_X86_SIMD 1
#include <immintrin.h>
#else
#define KSWIN_X86_SIMD 0
#endif

/* the targets of the AVX-512 and AVX2 functions (checked at run time) */
#define KSWIN_AVX512 "avx512f,avx512bw,avx512dq,avx512vbmi,bmi,bmi2,popcnt"
#define KSWIN_AVX2 "avx2,bmi,bmi2,popcnt"

#define KSWIN_FORMAT 5     /* 4: merged-path first masks of density 2^-e;
                            * 3: general-path draws by Fisher-Yates at every size;
                            * 2: no rng01; 1: as 2, perm over window positions */
#define KSWIN_MAX_WINDOW 100000
#define KSWIN_MAX_STAT 2000
/* Windows up to this size take the merged path (one sorted order of all
 * values, masks of 128 bits). */
#define KSWIN_MERGED_MAX 128

static const tide_param_spec KSWIN_PARAMS[] = {
    {"alpha", TIDE_PARAM_DOUBLE, "0.005", "1e-12..0.5",
     "drift when the KS test's p-value is at most this (and D > 0.1)"},
    {"window_size", TIDE_PARAM_INT, "100", "4..100000", "values in the sliding window"},
    {"stat_size", TIDE_PARAM_INT, "30", "2..2000",
     "values in each tested sample (newest ones vs a random draw of the older ones)"},
    {"seed", TIDE_PARAM_INT, "42", "0..1000000000000", "seed of the sampler"},
};

typedef unsigned __int128 kswin_u128_t;

typedef struct kswin_det {
    tide_detector base;
    double alpha;
    uint32_t win, stat;   /* window_size, stat_size */
    uint64_t seed;
    uint32_t kstar;       /* drift when stat * D >= kstar; stat+1 = never */
    uint32_t count;       /* values in the window, <= win */
    uint32_t head;        /* ring index of the oldest value */
    uint64_t rng;         /* splitmix64 state of the general path's draws */
    uint64_t rng01;       /* splitmix64 state of the 0/1 shortcut's uniforms:
                           * seeded at creation only, never at a reset */
    double *ring;         /* win values */
    uint32_t *perm;       /* permutation of 0..win-stat-1, positions in the older
                           * part counted from the oldest (sampler state) */
    /* general path (derived state, never saved; valid when sorted_valid) */
    double *osort;        /* the older win-stat values, ascending */
    uint16_t *le, *lt;    /* per rank r of osort: newest values <= / < osort[r] */
    uint32_t *rk;         /* per ring index of the older part: its rank in osort
                           * (entries of the newest part: stale) */
    struct kswin_pair { double v; uint32_t k; } *pairs;   /* rebuild scratch (older) */
    double *rsort;        /* the newest stat values, ascending */
    uint64_t *mask;       /* bitmap of the drawn ranks; all 0 between updates */
    uint32_t nwords;      /* 64-bit words in mask */
    uint32_t nbatch;      /* batches of bounded draws per step (<= stat) */
    uint32_t *bend;       /* draws t < bend[k] come from batch k's word */
    uint64_t *bthr;       /* batch k: 2^64 mod (product of its bounds) */
    uint32_t *dig;        /* scratch: the stat drawn offsets of one step */
    int sorted_valid;     /* osort/le/lt/rsort describe the ring */
    /* 0/1 shortcut (derived state, never saved) */
    double *hcdf;         /* (older+1) x (stat+1) hypergeometric CDFs, or NULL */
    uint32_t nonbin;      /* values in the window other than 0 and 1 */
    uint32_t ones_old;    /* ones in the older part (window full) */
    uint32_t ones_new;    /* ones in the newest stat values (window full) */
    /* merged path (win <= KSWIN_MERGED_MAX; derived state, never saved;
     * valid when sorted_valid) */
    int merged;           /* this detector takes the merged path */
    int simd;             /* AVX-512 VBMI + BMI2 functions (same results) */
    int avx2;             /* AVX2 + BMI2 functions (not simd; same results) */
    uint32_t drawt;       /* the draw's first mask has bits of probability drawt/16 */
    uint8_t *mg;          /* 128: ring index of each merged slot (padding 127) */
    uint8_t *inv;         /* 128: merged slot of each ring index (portable path) */
    float *ringf;         /* AVX-512 path: the ring rounded to float (+inf past win,
                           * 128 + 16), valid when sorted_valid */
    uint8_t *tbase;       /* 128, AVX-512 path: the common step's terms by position
                           * before the draw: 0 at the positions of the newest
                           * after the step (older + 1 .. win - 1 before it),
                           * else 1 */
    uint8_t *age;         /* 128, AVX-512 path: the age of each merged slot's value
                           * (0 = oldest = position 0 of the draw's mask); 127
                           * past win */
    unsigned __int128 rnew;   /* merged slots holding the newest stat values */
    uint32_t nties;       /* adjacent equal pairs in merged order */
    int8_t (*nib)[3];     /* 256 nibble pairs (w, r): sum, max prefix, min prefix */
    uint64_t nrng, nlo, nhi;   /* AVX-512 path: the first mask draw_mask16 makes from
                                * generator state nrng (computed one test ahead) */
    uint64_t olo, ohi;    /* merged path: bits 0..older-1 (the older positions) */
    uint64_t vlo, vhi;    /* merged path: bits 0..win-1 (the valid slots) */
    kswin_u128_t wlast;   /* the last finished draw (positions; for the tests) */
    uint64_t nfinished;   /* draws finished since creation (for the tests) */
} kswin_det;

/* Hypergeometric tables are kept when they are this small (the default
 * window 100 / stat 30 needs 71 x 31). */
#define KSWIN_HCDF_MAX 65536

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Population counts of the bytes (no popcnt instruction is assumed). */
static const uint8_t POP8[256] = {
#define P2(n) n, n + 1, n + 1, n + 2
#define P4(n) P2(n), P2(n + 1), P2(n + 1), P2(n + 2)
#define P6(n) P4(n), P4(n + 1), P4(n + 1), P4(n + 2)
    P6(0), P6(1), P6(1), P6(2)
#undef P2
#undef P4
#undef P6
};

/* The shortcut's own generator, from the seed on a different stream. */
static uint64_t rng01_start(uint64_t seed)
{
    uint64_t z = seed ^ 0x6A09E667F3BCC908ULL;
    return next_u64(&z);
}

#if KSWIN_X86_SIMD
static const tide_detector_vt kswin_vt_avx512, kswin_vt_avx2;
#endif

static void kswin_reset(tide_detector *d)
{
    kswin_det *s = (kswin_det *)d;
    s->count = 0;
    s->head = 0;
    s->rng = s->seed;
    s->nonbin = 0;
    s->sorted_valid = 0;
    for (uint32_t i = 0; i < s->win - s->stat; i++)
        s->perm[i] = i;
}

static void kswin_destroy(tide_detector *d)
{
    kswin_det *s = (kswin_det *)d;
    if (!s)
        return;
    free(s->ring);
    free(s->perm);
    free(s->osort);
    free(s->le);
    free(s->lt);
    free(s->rk);
    free(s->pairs);
    free(s->rsort);
    free(s->mask);
    free(s->bend);
    free(s->bthr);
    free(s->dig);
    free(s->hcdf);
    free(s->mg);
    free(s->inv);
    free(s->age);
    free(s->tbase);
    free(s->ringf);
    free(s->nib);
    free(s);
}

/* CDF tables of the number of ones in a uniform draw of `stat` values
 * without replacement among `older` values of which c are ones, for every
 * c: row c holds P(ones <= w), w = 0..stat (pmf through lgamma, then summed
 * and normalised so the last entry is exactly 1). */
static double *hyper_cdfs(uint32_t older, uint32_t stat)
{
    double *t = malloc((size_t)(older + 1) * (stat + 1) * sizeof *t);
    double lall;
    if (!t)
        return NULL;
    lall = lgamma(older + 1.0) - lgamma(stat + 1.0) - lgamma((double)(older - stat) + 1.0);
    for (uint32_t c = 0; c <= older; c++) {
        double *row = t + (size_t)c * (stat + 1), acc = 0;
        for (uint32_t w = 0; w <= stat; w++) {
            double pm = 0;
            if (w <= c && stat - w <= older - c)
                pm = exp(lgamma(c + 1.0) - lgamma(w + 1.0) - lgamma((double)(c - w) + 1.0) +
                         lgamma((double)(older - c) + 1.0) - lgamma((double)(stat - w) + 1.0) -
                         lgamma((double)(older - c - (stat - w)) + 1.0) - lall);
            acc += pm;
            row[w] = acc;
        }
        for (uint32_t w = 0; w <= stat; w++)
            row[w] /= acc;
        row[stat] = 1.0;
    }
    return t;
}

static double *copy_cdfs(const double *t, uint32_t older, uint32_t stat)
{
    size_t n = (size_t)(older + 1) * (stat + 1);
    double *c = malloc(n * sizeof *c);
    if (c)
        memcpy(c, t, n * sizeof *c);
    return c;
}

static int is_bin(double v) { return v == 0.0 || v == 1.0; }

/* !is_bin(v) from v's bits: +-0 and 1 (integer compares, no branch). */
static inline uint32_t not_bin_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (uint32_t)((u << 1) != 0) & (uint32_t)(u != 0x3FF0000000000000ULL);
}

/* Recomputes the derived counts from a full ring. */
static void recount(kswin_det *s)
{
    uint32_t older = s->win - s->stat;
    s->nonbin = s->ones_old = s->ones_new = 0;
    for (uint32_t t = 0, k = s->head; t < s->win; t++, k = k + 1 == s->win ? 0 : k + 1) {
        double v = s->ring[k];   /* (no division per value: this runs after every reset) */
        s->nonbin += !is_bin(v);
        if (v == 1.0) {
            if (t < older)
                s->ones_old++;
            else
                s->ones_new++;
        }
    }
}

/* 0: the best functions this CPU runs; 1: portable; 2: AVX2 at most */
static int kswin_force_path;

void tide_drift_kswin_force_generic(int on) { kswin_force_path = on ? 1 : 0; }

static int kswin_have_avx2(void);

int tide_drift_kswin_force_path(int path)
{
    kswin_force_path = path == 1 || path == 2 ? path : 0;
    return path != 2 || kswin_have_avx2();
}

int tide_drift_kswin_last_draw(const tide_detector *d, uint64_t *lo, uint64_t *hi,
                               uint64_t *count)
{
    const kswin_det *s = (const kswin_det *)d;
    if (strcmp(d->vt->name, "kswin") || !s->merged)
        return 0;
    *lo = (uint64_t)s->wlast;
    *hi = (uint64_t)(s->wlast >> 64);
    *count = s->nfinished;
    return 1;
}

int tide_drift_kswin_path(const tide_detector *d)
{
    const kswin_det *s = (const kswin_det *)d;
    if (strcmp(d->vt->name, "kswin") || !s->merged)
        return 0;
    return s->simd ? '5' : s->avx2 ? '2' : 'p';
}

/* Whether this CPU runs the AVX-512 functions of the merged path. */
static int kswin_have_simd(void)
{
#if KSWIN_X86_SIMD
    __builtin_cpu_init();
    return !kswin_force_path && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

/* Whether this CPU runs the AVX2 functions of the merged path (whatever
 * is forced). */
static int kswin_have_avx2(void)
{
#if KSWIN_X86_SIMD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

static void nibble_table(int8_t (*nib)[3]);
static inline void draw_mask16(uint64_t *rng, uint32_t t, uint64_t *plo, uint64_t *phi);

/* Allocates a detector with parameters from p (state reset). */
static int kswin_alloc(const tide_params *p, const double *hcdf_src, kswin_det **out,
                       tide_err *err)
{
    kswin_det *s;
    double a = tide_params_num(p, "alpha");
    uint32_t win = (uint32_t)tide_params_num(p, "window_size");
    uint32_t stat = (uint32_t)tide_params_num(p, "stat_size");
    *out = NULL;
    if (win > KSWIN_MAX_WINDOW || stat > KSWIN_MAX_STAT || 2 * stat > win)
        return tide_err_set(err, TIDE_ERR_ARG,
                            "kswin: stat_size (%u) must be at most half of window_size (%u)", stat,
                            win);
    s = calloc(1, sizeof *s);
    if (!s)
        return tide_err_set(err, TIDE_ERR_NOMEM, "kswin: out of memory");
    s->base.vt = &tide_drift_kswin_vt;
    s->base.params = *p;
    s->alpha = a;
    s->win = win;
    s->stat = stat;
    s->seed = (uint64_t)tide_params_num(p, "seed");
    s->rng01 = rng01_start(s->seed);
    s->merged = win <= KSWIN_MERGED_MAX;
    s->simd = s->merged && kswin_have_simd();
    s->avx2 = s->merged && !s->simd && kswin_force_path != 1 && kswin_have_avx2();
#if KSWIN_X86_SIMD
    if (s->simd)
        s->base.vt = &kswin_vt_avx512;
    else if (s->avx2)
        s->base.vt = &kswin_vt_avx2;
#endif
    /* + 8: +inf, whole blocks (merged path: +inf up to 128 + 8) */
    s->ring = calloc((size_t)(s->merged ? KSWIN_MERGED_MAX : win) + 8, sizeof *s->ring);
    s->perm = calloc(win - stat, sizeof *s->perm);
    s->nwords = (win - stat + 63) / 64;
    s->mask = calloc(s->nwords, sizeof *s->mask);   /* (also load's seen-set) */
    if (s->merged) {
        s->mg = aligned_alloc(64, KSWIN_MERGED_MAX);   /* (AVX2: whole-vector moves) */
        s->inv = aligned_alloc(64, KSWIN_MERGED_MAX);
        if (s->mg && s->inv) {
            memset(s->mg, 127, KSWIN_MERGED_MAX);
            memset(s->inv, 0, KSWIN_MERGED_MAX);
        }
        s->nib = calloc(256, sizeof *s->nib);
        s->age = aligned_alloc(64, KSWIN_MERGED_MAX);
        s->tbase = aligned_alloc(64, KSWIN_MERGED_MAX);
        s->ringf = aligned_alloc(64, (KSWIN_MERGED_MAX + 16) * sizeof *s->ringf);
    } else {
        s->osort = calloc((size_t)(win - stat) + 8, sizeof *s->osort);   /* + 8: +inf */
        s->le = calloc((win - stat + 7) / 8 * 8, sizeof *s->le);   /* whole 8-lane chunks */
        s->lt = calloc((win - stat + 7) / 8 * 8, sizeof *s->lt);
        s->rk = calloc(win, sizeof *s->rk);
        s->pairs = calloc(win - stat, sizeof *s->pairs);
        s->rsort = calloc(stat, sizeof *s->rsort);
        s->bend = calloc(stat, sizeof *s->bend);
        s->bthr = calloc(stat, sizeof *s->bthr);
        s->dig = calloc(stat, sizeof *s->dig);
    }
    if (!s->ring || !s->perm || !s->mask ||
        (s->merged ? !s->mg || !s->inv || !s->nib || !s->age || !s->tbase || !s->ringf
                   : !s->osort || !s->le || !s->lt || !s->rk || !s->pairs || !s->rsort ||
                         !s->bend || !s->bthr || !s->dig)) {
        kswin_destroy(&s->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "kswin: out of memory");
    }
    /* smallest k with exact p(k/stat) <= alpha and k/stat > 0.1; p falls
     * as k grows, so binary search */
    {
        uint32_t lo = (uint32_t)floor(0.1 * stat) + 1, hi = stat + 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            double pv = tide_ks_exact_pvalue((double)mid / stat, stat, stat);
            if (pv <= a)
                hi = mid;
            else
                lo = mid + 1;
        }
        s->kstar = lo;
    }
    if ((size_t)(win - stat + 1) * (stat + 1) <= KSWIN_HCDF_MAX &&
        !(s->hcdf = hcdf_src ? copy_cdfs(hcdf_src, win - stat, stat)
                             : hyper_cdfs(win - stat, stat))) {
        kswin_destroy(&s->base);
        return tide_err_set(err, TIDE_ERR_NOMEM, "kswin: out of memory");
    }
    /* batches of the bounded draws older - t, t = 0..stat-1: as many as
     * keep the product of the bounds <= 2^50 (at most 64; a bound is at
     * most 10^5, so each batch takes at least 3) */
    if (s->merged) {
        /* the draw's density t/16: older t/16 closest to stat (the
         * smallest t on a tie) */
        double best = INFINITY;
        for (uint32_t t = 1; t <= 15; t++) {
            double dev = fabs((double)(win - stat) * t / 16.0 - stat);
            if (dev < best) {
                best = dev;
                s->drawt = t;
            }
        }
        nibble_table(s->nib);
        for (uint32_t q = 0; q < KSWIN_MERGED_MAX; q++)
            s->tbase[q] = (uint8_t)!(q > win - stat && q < win);
        s->nrng = 0;
        draw_mask16(&s->nrng, s->drawt, &s->nlo, &s->nhi);
        s->nrng = 0;
        s->olo = win - stat >= 64 ? ~0ULL : (1ULL << (win - stat)) - 1;
        s->ohi = win - stat <= 64 ? 0 : win - stat >= 128 ? ~0ULL : (1ULL << (win - stat - 64)) - 1;
        s->vlo = win >= 64 ? ~0ULL : (1ULL << win) - 1;
        s->vhi = win <= 64 ? 0 : win >= 128 ? ~0ULL : (1ULL << (win - 64)) - 1;
    }
    for (uint32_t t = 0, older = win - stat; !s->merged && t < stat;) {
        uint64_t prod = 1;
        uint32_t e = t;
        while (e < stat && e - t < 64 && prod <= (1ULL << 50) / (older - e))
            prod *= older - e++;
        s->bend[s->nbatch] = e;
        s->bthr[s->nbatch++] = (0 - prod) % prod;
        t = e;
    }
    for (uint32_t t = 0; !s->merged && t < 8; t++)
        s->osort[win - stat + t] = INFINITY;
    for (uint32_t t = win; t < (s->merged ? KSWIN_MERGED_MAX : win) + 8; t++)
        s->ring[t] = INFINITY;
    kswin_reset(&s->base);
    *out = s;
    return TIDE_OK;
}

static int kswin_create(const tide_params *p, tide_detector **out, tide_err *err)
{
    kswin_det *s;
    int rc = kswin_alloc(p, NULL, &s, err);
    if (rc)
        return rc;
    *out = &s->base;
    return TIDE_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* First index of the ascending a[0..n-1] whose value is >= v (branch-free
 * halving: the comparisons are unpredictable). */
static uint32_t lower_bound(const double *a, uint32_t n, double v)
{
    const double *b = a;
    if (n == 0)
        return 0;
    while (n > 1) {
        uint32_t half = n / 2;
        b += (size_t)half & (0 - (size_t)(b[half - 1] < v));   /* (?: became a branch) */
        n -= half;
    }
    return (uint32_t)(b - a) + (*b < v);
}

/* Windows up to this many older values find positions by counting (all
 * comparisons independent: two values per SSE2 instruction) rather than by
 * binary search (a chain of dependent loads and compares). */
#define KSWIN_COUNT_MAX 256

/* Number of values of the ascending a[0..n-1] below v, n <= KSWIN_COUNT_MAX,
 * a[n..n+7] = +inf: the full blocks of 8 below v (their last value is below
 * v; they form a prefix) and then the values below v in the next 8, all
 * comparisons independent and branch-free. */
static uint32_t count_below_2level(const double *a, uint32_t n, double v)
{
    uint32_t k = 0, c = 0;
    for (uint32_t j = 7; j < n; j += 8)
        k += a[j] < v;
    a += 8 * k;
    for (uint32_t i = 0; i < 8; i++)
        c += a[i] < v;
    return 8 * k + c;
}

/* *c0, *c1 = numbers of values of a[0..n-1] below v0, v1 (lower bounds in
 * an ascending array). */
static void count_below2(const double *a, uint32_t n, double v0, double v1, uint32_t *c0,
                         uint32_t *c1)
{
    uint32_t i = 0, n0 = 0, n1 = 0;
#if defined(__SSE2__)
    __m128d b0 = _mm_set1_pd(v0), b1 = _mm_set1_pd(v1);
    __m128i s0 = _mm_setzero_si128(), s1 = s0;
    int64_t l[2];
    for (; i + 2 <= n; i += 2) {   /* a true compare is all ones: -1 */
        __m128d x = _mm_loadu_pd(a + i);
        s0 = _mm_sub_epi64(s0, _mm_castpd_si128(_mm_cmplt_pd(x, b0)));
        s1 = _mm_sub_epi64(s1, _mm_castpd_si128(_mm_cmplt_pd(x, b1)));
    }
    _mm_storeu_si128((__m128i *)l, s0);
    n0 = (uint32_t)(l[0] + l[1]);
    _mm_storeu_si128((__m128i *)l, s1);
    n1 = (uint32_t)(l[0] + l[1]);
#endif
    for (; i < n; i++) {
        n0 += a[i] < v0;
        n1 += a[i] < v1;
    }
    *c0 = n0;
    *c1 = n1;
}

/* The end of the run of values equal to v in the ascending a[0..n-1] that
 * starts at or before `from` (from = that run's start or inside it): the
 * first index >= from whose value is not v. */
static uint32_t run_end(const double *a, uint32_t n, uint32_t from, double v)
{
    while (from < n && a[from] == v)
        from++;
    return from;
}

/* Adds +1 (up) or -1 to c[lo..hi-1]. */
static void range_add(uint16_t *c, uint32_t lo, uint32_t hi, int up)
{
    uint16_t d = up ? 1 : (uint16_t)0xFFFF;
    uint32_t r = lo;
#if defined(__SSE2__)
    __m128i dv = _mm_set1_epi16((short)d);
    for (; r + 8 <= hi; r += 8)
        _mm_storeu_si128((__m128i *)(c + r),
                         _mm_add_epi16(_mm_loadu_si128((const __m128i *)(c + r)), dv));
#endif
    for (; r < hi; r++)
        c[r] = (uint16_t)(c[r] + d);
}

/* le[r] += [r >= ax] - [r >= az] and lt[r] += [r >= ax2] - [r >= az2] for
 * every rank r < older: up to 32767 older values as one branch-free pass
 * over whole 8-lane chunks (the arrays are padded; the two ranges have
 * random ends, and loops over them mispredicted their exits), else as
 * loops over the ranges. */
static void counts_update(uint16_t *le, uint16_t *lt, uint32_t older, uint32_t ax, uint32_t az,
                          uint32_t ax2, uint32_t az2)
{
#if defined(__SSE2__)
    if (older <= 32767) {
        __m128i idx = _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7), eight = _mm_set1_epi16(8);
        __m128i vax = _mm_set1_epi16((short)((int)ax - 1)), vaz = _mm_set1_epi16((short)((int)az - 1));
        __m128i vax2 = _mm_set1_epi16((short)((int)ax2 - 1));
        __m128i vaz2 = _mm_set1_epi16((short)((int)az2 - 1));
        for (uint32_t r = 0; r < older; r += 8) {   /* a true compare is all ones: -1 */
            __m128i a = _mm_loadu_si128((const __m128i *)(le + r));
            __m128i b = _mm_loadu_si128((const __m128i *)(lt + r));
            a = _mm_add_epi16(_mm_sub_epi16(a, _mm_cmpgt_epi16(idx, vax)), _mm_cmpgt_epi16(idx, vaz));
            b = _mm_add_epi16(_mm_sub_epi16(b, _mm_cmpgt_epi16(idx, vax2)),
                              _mm_cmpgt_epi16(idx, vaz2));
            _mm_storeu_si128((__m128i *)(le + r), a);
            _mm_storeu_si128((__m128i *)(lt + r), b);
            idx = _mm_add_epi16(idx, eight);
        }
        return;
    }
#endif
    if (ax < az)
        range_add(le, ax, az, 1);
    else
        range_add(le, az, ax, 0);
    if (ax2 < az2)
        range_add(lt, ax2, az2, 1);
    else
        range_add(lt, az2, ax2, 0);
}

/* In the ascending array a of elements of sz bytes: drops index p and
 * inserts *v so that it lands at index q of the result (q counted after the
 * drop). Inlined with a constant sz at each call. */
static inline void move_elem(void *a, size_t sz, uint32_t p, uint32_t q, const void *v)
{
    char *c = a;
    if (q < p)
        memmove(c + (q + 1) * sz, c + q * sz, (p - q) * sz);
    else if (q > p)
        memmove(c + p * sz, c + (p + 1) * sz, (q - p) * sz);
    memcpy(c + q * sz, v, sz);
}

static int cmp_pair(const void *a, const void *b)
{
    const struct kswin_pair *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* Rebuilds the sorted older and newest parts, the ranks of the older ring
 * slots and le/lt from the ring (window full): two sorts and one merge. */
static void rebuild_sorted(kswin_det *s)
{
    uint32_t older = s->win - s->stat, jlt = 0, jle = 0;
    for (uint32_t t = 0; t < older; t++) {
        uint32_t k = (s->head + t) % s->win;
        s->pairs[t].v = s->ring[k];
        s->pairs[t].k = k;
    }
    for (uint32_t t = 0; t < s->stat; t++)
        s->rsort[t] = s->ring[(s->head + older + t) % s->win];
    qsort(s->pairs, older, sizeof *s->pairs, cmp_pair);
    qsort(s->rsort, s->stat, sizeof *s->rsort, cmp_double);
    for (uint32_t r = 0; r < older; r++) {
        double v = s->osort[r] = s->pairs[r].v;
        s->rk[s->pairs[r].k] = r;
        while (jlt < s->stat && s->rsort[jlt] < v)
            jlt++;
        if (jle < jlt)
            jle = jlt;
        while (jle < s->stat && s->rsort[jle] <= v)
            jle++;
        s->lt[r] = (uint16_t)jlt;
        s->le[r] = (uint16_t)jle;
    }
}

/* Ranks of the older ring slots after the slot at rank p left and one
 * entered at rank q (q counted after the removal): ranks above p fall by
 * one, then ranks >= q rise by one. Over the whole ring (the newest part's
 * entries are stale anyway; values stay below 2^31 for the signed compare). */
static void rerank(uint32_t *rk, uint32_t n, uint32_t p, uint32_t q)
{
    uint32_t k = 0;
#if defined(__SSE2__)
    __m128i pv = _mm_set1_epi32((int)p), qv = _mm_set1_epi32((int)q - 1);
    for (; k + 4 <= n; k += 4) {   /* a true compare is all ones: -1 */
        __m128i r = _mm_loadu_si128((const __m128i *)(rk + k));
        r = _mm_add_epi32(r, _mm_cmpgt_epi32(r, pv));
        r = _mm_sub_epi32(r, _mm_cmpgt_epi32(r, qv));
        _mm_storeu_si128((__m128i *)(rk + k), r);
    }
#endif
    for (; k < n; k++) {
        uint32_t r = rk[k];
        r -= r > p;
        r += r >= q;
        rk[k] = r;
    }
}

/* One step of the sorted parts: the oldest value (ring slot h) leaves the
 * older part, z (the oldest of the newest part, slot mid) moves to the
 * older part, x joins the newest part. */
static void slide_sorted(kswin_det *s, uint32_t h, uint32_t mid, double x)
{
    uint32_t older = s->win - s->stat, stat = s->stat, p = s->rk[h], q, c, lez, ltz, q2, az, ax,
             az2, ax2;
    double z = s->ring[mid];
    if (older <= KSWIN_COUNT_MAX) {
        az = count_below_2level(s->osort, older, z);
        ax = count_below_2level(s->osort, older, x);
        count_below2(s->rsort, stat, z, x, &q, &c);
    } else {
        az = lower_bound(s->osort, older, z);
        ax = lower_bound(s->osort, older, x);
        q = lower_bound(s->rsort, stat, z);
        c = lower_bound(s->rsort, stat, x);
    }
    az2 = run_end(s->osort, older, az, z);
    ax2 = run_end(s->osort, older, ax, x);
    /* R loses z and gains x: le[r] += [x <= o_r] - [z <= o_r] (ranks >= ax
     * resp. >= az), lt[r] += [x < o_r] - [z < o_r] (>= ax2 resp. az2);
     * y's entry changes too, harmlessly: it is dropped below */
    counts_update(s->le, s->lt, older, ax, az, ax2, az2);
    /* newest part: drop z, insert x after its equals */
    q2 = run_end(s->rsort, stat, q + 1, z);   /* (rsort[q] is z) */
    c = run_end(s->rsort, stat, c, x);
    move_elem(s->rsort, sizeof *s->rsort, q, c - (q < c), &x);
    /* z's counts over the new newest part: of the old one (z excluded), q
     * values were < z and q2 - 1 were <= z; then x */
    ltz = q + (x < z);
    lez = q2 - 1 + (x <= z);
    /* older part: drop y, insert z before its equals, with its counts */
    q = az - (p < az);
    {
        const uint16_t le16 = (uint16_t)lez, lt16 = (uint16_t)ltz;
        move_elem(s->osort, sizeof *s->osort, p, q, &z);
        move_elem(s->le, sizeof *s->le, p, q, &le16);
        move_elem(s->lt, sizeof *s->lt, p, q, &lt16);
    }
    rerank(s->rk, s->win, p, q);
    s->rk[mid] = q;
}

/* Fills perm[0..stat-1] with a uniform draw of stat distinct positions of
 * the older part (partial
 * Fisher-Yates shuffle), the bounded draws taken in batches from one 64-bit
 * word each (see the header comment). */
static void draw_ranks(kswin_det *s)
{
    uint32_t older = s->win - s->stat, t = 0, *perm = s->perm, *dig = s->dig;
    uint64_t rng = s->rng;
    /* the digits first: one multiply chain per batch, independent of each
     * other and of memory, so the batches overlap ... */
    for (uint32_t k = 0; k < s->nbatch; k++) {
        uint32_t e = s->bend[k];
        uint64_t x;
        do {   /* (redrawn when the mixed-radix value is biased: x < 2^64 mod P) */
            x = next_u64(&rng);
            for (uint32_t j = t; j < e; j++) {   /* high and low 64 bits of x n */
                uint64_t n = older - j;   /* (one 128-bit value: gcc kept it in memory) */
                dig[j] = (uint32_t)(((unsigned __int128)x * n) >> 64);
                x *= n;
            }
        } while (x < s->bthr[k]);
        t = e;
    }
    s->rng = rng;
    /* ... then the swaps, in order */
    for (uint32_t j = 0; j < s->stat; j++) {
        uint32_t r = j + dig[j], tmp = perm[j];
        perm[j] = perm[r];
        perm[r] = tmp;
    }
}

/* One drawn rank r with index i among the drawn ones in increasing order:
 * the larger of its two candidates for stat * D (header comment). */
#define KS_CAND(r)                                                       \
    do {                                                                 \
        int a_ = i - (int)le[r], b_ = (int)lt[r] - i;                    \
        besta = a_ > besta ? a_ : besta;                                 \
        bestb = b_ > bestb ? b_ : bestb;                                 \
        i++;                                                             \
    } while (0)


/* Whether stat * D >= kstar for the older positions perm[0..stat-1]
 * (through their ranks rk, in increasing order). Up to 128 older values the
 * rank bitmap lives in two registers (an OR into memory per draw is a
 * store-to-load chain) and a bound decides most steps first: for the drawn
 * ranks within a block of 8, with P drawn ranks below the block, c in it,
 * the first f and the last l, their indices i lie in [P, P + c - 1] and le,
 * lt grow with the rank, so their candidates are at most P + c - le[f] and
 * lt[l] - P. Only when a block's bound reaches kstar is the exact pass
 * made. Larger windows use s->mask (cleared again) and the exact pass. */
static int ks_reaches(kswin_det *s)
{
    const uint16_t *le = s->le, *lt = s->lt;
    const uint32_t *perm = s->perm, *rk = s->rk;
    uint32_t head = s->head, win = s->win;
    int besta = -1, bestb = 0, i = 0;   /* max of i - le, of lt - i (two chains) */
    int kstar = (int)s->kstar;
    if (s->nwords <= 2) {
        uint64_t lo = 0, hi = 0, w;
        int bound = 0, pre = 0, nb = (int)(win - s->stat + 7) / 8;
        for (uint32_t t = 0; t < s->stat; t++) {   /* masks: ?: became branches */
            uint32_t k = head + perm[t], r;
            uint64_t bit, m;
            k -= win & (0 - (uint32_t)(k >= win));
            r = rk[k];
            bit = 1ULL << (r & 63);
            m = 0 - (uint64_t)(r < 64);
            lo |= bit & m;
            hi |= bit & ~m;
        }
        for (int b = 0; b < nb; b++) {
            uint32_t byte = (uint32_t)((b < 8 ? lo >> (8 * b) : hi >> (8 * (b - 8))) & 0xFF);
            int c, f, l, a_, b_;
            if (!byte)
                continue;
            c = POP8[byte];
            f = 8 * b + __builtin_ctz(byte);
            l = 8 * b + 31 - __builtin_clz(byte);
            a_ = pre + c - (int)le[f];
            b_ = (int)lt[l] - pre;
            bound = a_ > bound ? a_ : bound;
            bound = b_ > bound ? b_ : bound;
            pre += c;
        }
        if (bound < kstar)
            return 0;
        for (w = lo; w; w &= w - 1)
            KS_CAND((uint32_t)__builtin_ctzll(w));
        for (w = hi; w; w &= w - 1)
            KS_CAND(64 + (uint32_t)__builtin_ctzll(w));
        return (besta + 1 > bestb ? besta + 1 : bestb) >= kstar;
    }
    for (uint32_t t = 0; t < s->stat; t++) {
        uint32_t k = head + perm[t], r;
        k -= win & (0 - (uint32_t)(k >= win));
        r = rk[k];
        s->mask[r >> 6] |= 1ULL << (r & 63);
    }
    for (uint32_t w = 0; w < s->nwords; w++) {
        uint64_t bits = s->mask[w];
        s->mask[w] = 0;
        while (bits) {
            uint32_t r = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            KS_CAND(r);
        }
    }
    return (besta + 1 > bestb ? besta + 1 : bestb) >= kstar;
}

/* ---- merged path (windows of at most KSWIN_MERGED_MAX values) ----------- */

typedef kswin_u128_t kswin_u128;

/* Bits 0..n-1 set, n <= 128. */
static inline kswin_u128 low_bits(uint32_t n)
{
    return n >= 128 ? ~(kswin_u128)0 : ((kswin_u128)1 << n) - 1;
}

/* Position of the k-th set bit (from 0) of x, k < popcount(x): the byte
 * counts and their running sums in one word, the byte found by one SWAR
 * comparison with k, then the bit inside the byte (broadword selection as
 * in S. Vigna, "Broadword implementation of rank/select queries", WEA 2008). */
static uint32_t select64(uint64_t x, uint32_t k)
{
    const uint64_t L8 = 0x0101010101010101ULL, H8 = 0x8080808080808080ULL;
    uint64_t b = x - ((x >> 1) & 0x5555555555555555ULL), le;
    uint32_t nb, sh, byte;
    b = (b & 0x3333333333333333ULL) + ((b >> 2) & 0x3333333333333333ULL);
    b = ((b + (b >> 4)) & 0x0F0F0F0F0F0F0F0FULL) * L8;   /* byte i: bits in bytes 0..i */
    /* high bit of byte i set when that running count is <= k (k < 64 and
     * counts <= 64: no borrow between bytes); these bytes form a prefix */
    le = (((uint64_t)k * L8 | H8) - b) & H8;
    nb = (uint32_t)(((le >> 7) * L8) >> 56);
    sh = 8 * nb;
    if (nb)
        k -= (uint32_t)(b >> (sh - 8)) & 0xFF;
    byte = (uint32_t)(x >> sh) & 0xFF;
    for (; k; k--)
        byte &= byte - 1;
    return sh + (uint32_t)__builtin_ctz(byte);
}

/* The k-th set bit of the 128-bit (lo, hi). */
static uint32_t select128(uint64_t lo, uint64_t hi, uint32_t k)
{
    uint32_t c = (uint32_t)__builtin_popcountll(lo);
    return k < c ? select64(lo, k) : 64 + select64(hi, k - c);
}


/* Eight independent exactly uniform digits: dig[i] on [0, max(top - i, 1)),
 * the mixed-radix digits of one 64-bit word (P = product of the 8 bounds
 * <= 128^8 = 2^56), the word redrawn when the final low word is below
 * 2^64 mod P (D. Lemire, "Fast random integer generation in an interval",
 * ACM TOMACS 29(1), 2019, batched as in N. Brackett-Rozinsky, D. Lemire,
 * "Batched ranged random integer generation", Softw. Pract. Exp. 2025;
 * the remainder is only computed when the low word is below P). Digits
 * beyond those needed are drawn and left unused: the 8 are independent, so
 * the used ones keep their law. */
static inline void draw_digits8(uint64_t *rng, int32_t top, uint32_t *dig)
{
    for (;;) {
        uint64_t x = next_u64(rng), prod = 1;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 8
#endif
        for (int32_t j = 0; j < 8; j++) {
            uint64_t b = (uint64_t)(top - j > 1 ? top - j : 1);
            dig[j] = (uint32_t)(((kswin_u128)x * b) >> 64);
            x *= b;
            prod *= b;
        }
        if (x >= prod || x >= (0 - prod) % prod)
            return;
    }
}

/* Removes from the set bits of (lo, hi) n <= 8 of them, one after the
 * other: the dig[i]-th (from 0) of those left. Portable: each found by a
 * selection. */
static void remove_seq(uint64_t *lo, uint64_t *hi, const uint32_t *dig, uint32_t n)
{
    uint64_t a = *lo, b = *hi;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = select128(a, b, dig[i]);
        uint64_t bit = 1ULL << (p & 63);
        a ^= bit & (0 - (uint64_t)(p < 64));
        b ^= bit & (0 - (uint64_t)(p >= 64));
    }
    *lo = a;
    *hi = b;
}

#if KSWIN_X86_SIMD
/* remove_seq with BMI2, same result without a chain of n selections: the
 * i-th removal takes rank dig[i] among those left, which is rank
 * f_0(f_1(... f_{i-1}(dig[i]))) among the original set bits with
 * f_j(p) = p + (p >= dig[j]) (removal j shifts the ranks at and above it);
 * the removed ranks then become a mask of ranks to keep, laid onto the set
 * bits by one pdep per word. */
__attribute__((target("bmi,bmi2,popcnt"))) static void remove_pdep(uint64_t *lo, uint64_t *hi,
                                                                  const uint32_t *dig, uint32_t n)
{
    uint64_t klo = ~0ULL, khi = ~0ULL;
    uint32_t c = (uint32_t)_mm_popcnt_u64(*lo);
    uint32_t p1 = dig[1], p2 = dig[2], p3 = dig[3], p4 = dig[4], p5 = dig[5], p6 = dig[6],
             p7 = dig[7];
    /* p_j = f_0(f_1(... f_{j-1}(dig[j]))): f_{j-1} first; written out so
     * that the p_j stay in registers (the lanes are independent chains) */
#define KSWIN_F(i) (dig[i])
    p7 += p7 >= KSWIN_F(6);
    p7 += p7 >= KSWIN_F(5), p6 += p6 >= KSWIN_F(5);
    p7 += p7 >= KSWIN_F(4), p6 += p6 >= KSWIN_F(4), p5 += p5 >= KSWIN_F(4);
    p7 += p7 >= KSWIN_F(3), p6 += p6 >= KSWIN_F(3), p5 += p5 >= KSWIN_F(3), p4 += p4 >= KSWIN_F(3);
    p7 += p7 >= KSWIN_F(2), p6 += p6 >= KSWIN_F(2), p5 += p5 >= KSWIN_F(2), p4 += p4 >= KSWIN_F(2),
        p3 += p3 >= KSWIN_F(2);
    p7 += p7 >= KSWIN_F(1), p6 += p6 >= KSWIN_F(1), p5 += p5 >= KSWIN_F(1), p4 += p4 >= KSWIN_F(1),
        p3 += p3 >= KSWIN_F(1), p2 += p2 >= KSWIN_F(1);
    p7 += p7 >= KSWIN_F(0), p6 += p6 >= KSWIN_F(0), p5 += p5 >= KSWIN_F(0), p4 += p4 >= KSWIN_F(0),
        p3 += p3 >= KSWIN_F(0), p2 += p2 >= KSWIN_F(0), p1 += p1 >= KSWIN_F(0);
#undef KSWIN_F
#define KSWIN_DROP(j, pj)                                                    \
    do {   /* (ranks past n: not removed) */                                \
        uint64_t bit_ = (1ULL << ((pj) & 63)) & (0 - (uint64_t)((j) < n));   \
        klo &= ~(bit_ & (0 - (uint64_t)((pj) < 64)));                        \
        khi &= ~(bit_ & (0 - (uint64_t)((pj) >= 64)));                       \
    } while (0)
    KSWIN_DROP(0, dig[0]);
    KSWIN_DROP(1, p1);
    KSWIN_DROP(2, p2);
    KSWIN_DROP(3, p3);
    KSWIN_DROP(4, p4);
    KSWIN_DROP(5, p5);
    KSWIN_DROP(6, p6);
    KSWIN_DROP(7, p7);
#undef KSWIN_DROP
    /* ranks c.. are the high word's: keep bits shifted down by c */
    khi = c == 64 ? khi : c == 0 ? klo : (klo >> c) | (khi << (64 - c));
    *lo = _pdep_u64(klo, *lo);
    *hi = _pdep_u64(khi, *hi);
}
#endif

typedef void (*kswin_remove_fn)(uint64_t *lo, uint64_t *hi, const uint32_t *dig, uint32_t n);

/* A uniform draw of stat of the older positions 0..older-1 (counted from
 * the oldest value), as a bit mask, in two parts. draw_start: a mask M
 * whose bits are independent with probability t/16 (drawt; older t/16
 * closest to stat): the 128 nibbles of the next 8 words r_0..r_7 (bits
 * 8i..8i+3 of r_j for position 8j + i, bits 8i+4..8i+7 for position
 * 64 + 8j + i), position p in M when its nibble is below t; given its
 * size m, M is a uniform m-subset. (With t/16 near stat/older, m is
 * within a few of stat: fewer changes, and fewer tests that the
 * certificate below cannot settle, than with the AND of random words,
 * density 2^-e: measured 2.9% against 11.5% of the tests at the defaults,
 * t = 7.) draw_finish: m - stat
 * of its bits removed one at a time, each uniform among those left (or
 * stat - m added, each uniform among the positions not in it), by `rem`:
 * a uniform subset of a uniform m-subset (or a uniform superset within the
 * positions) is a uniform stat-subset, for every m, so the draw is exactly
 * uniform and independent of everything before it. The digits come 8 per
 * word (draw_digits8, bounds m - j or older - m - j for the j-th change).
 * Between the two, the caller may find that no such change of M can make
 * an alarm and skip draw_finish (merged_reaches_*). */
typedef struct kswin_draw {
    uint64_t lo, hi;     /* M, complemented within the older positions when adding */
    uint64_t ilo, ihi;   /* that complement (all 0 when removing) */
    uint32_t d;          /* changes to make: |m - stat| */
    int32_t top;         /* bound of the first change's digit */
    int adding;          /* m < stat */
} kswin_draw;

/* The bits of the bytes' high bits of x (all other bits 0): bit i = bit
 * 8i + 7 (one multiply gathers them in the top byte). */
static inline uint64_t byte_signs(uint64_t x)
{
    return ((x >> 7) * 0x0102040810204080ULL) >> 56;
}

/* The first mask of draw_start (before it is cut to the older
 * positions): nibbles below t, portable (per byte: (n + 128 - t) has its
 * high bit clear exactly when n < t). */
static inline void draw_mask16(uint64_t *rng, uint32_t t, uint64_t *plo, uint64_t *phi)
{
    const uint64_t N4 = 0x0F0F0F0F0F0F0F0FULL, H8 = 0x8080808080808080ULL;
    const uint64_t bias = (uint64_t)(128 - t) * 0x0101010101010101ULL;
    uint64_t lo = 0, hi = 0;
    for (uint32_t j = 0; j < 8; j++) {
        uint64_t r = next_u64(rng);
        lo |= byte_signs(~((r & N4) + bias) & H8) << (8 * j);
        hi |= byte_signs(~(((r >> 4) & N4) + bias) & H8) << (8 * j);
    }
    *plo = lo;
    *phi = hi;
}

#if KSWIN_X86_SIMD
/* draw_mask16 with AVX-512: the 8 words are splitmix64's next 8 outputs
 * (state + j * gamma, j = 1..8, mixed in 8 lanes at once; the state then
 * moves by 8 gamma: the same words as 8 calls), the nibbles compared as
 * bytes. */
static const uint64_t KSWIN_GAMMA8[8] = {
    0x9E3779B97F4A7C15ULL * 1, 0x9E3779B97F4A7C15ULL * 2, 0x9E3779B97F4A7C15ULL * 3,
    0x9E3779B97F4A7C15ULL * 4, 0x9E3779B97F4A7C15ULL * 5, 0x9E3779B97F4A7C15ULL * 6,
    0x9E3779B97F4A7C15ULL * 7, 0x9E3779B97F4A7C15ULL * 8};

static inline __attribute__((always_inline, target(KSWIN_AVX512))) void
draw_mask16_avx512(uint64_t *rng, uint32_t t, uint64_t *plo, uint64_t *phi)
{
    __m512i z = _mm512_add_epi64(_mm512_set1_epi64((long long)*rng),
                                 _mm512_loadu_si512((const void *)KSWIN_GAMMA8));
    __m512i n4 = _mm512_set1_epi8(15), vt = _mm512_set1_epi8((char)t);
    *rng += 0x9E3779B97F4A7C15ULL * 8;
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ULL));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94D049BB133111EBULL));
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
    *plo = _mm512_cmplt_epu8_mask(_mm512_and_si512(z, n4), vt);
    *phi = _mm512_cmplt_epu8_mask(_mm512_and_si512(_mm512_srli_epi64(z, 4), n4), vt);
}
#endif

/* draw_start from the first mask (lo, hi). */
static inline __attribute__((always_inline)) void draw_start_mask(kswin_det *s, kswin_draw *w,
                                                                  uint64_t lo, uint64_t hi)
{
    uint32_t older = s->win - s->stat, stat = s->stat, m, dr, da;
    const uint64_t flo = older >= 64 ? ~0ULL : (1ULL << older) - 1;
    const uint64_t fhi = older <= 64 ? 0 : older >= 128 ? ~0ULL : (1ULL << (older - 64)) - 1;
    uint64_t add;
    lo &= flo;
    hi &= fhi;
    m = (uint32_t)(__builtin_popcountll(lo) + __builtin_popcountll(hi));
    /* (selections by masks: with m near stat, a branch on m < stat is
     * mispredicted about every other test) */
    add = 0 - (uint64_t)(m < stat);
    dr = m - stat;
    da = stat - m;
    w->adding = (int)(add & 1);
    w->d = dr ^ ((dr ^ da) & (uint32_t)add);
    w->top = (int32_t)(m ^ ((m ^ (older - m)) & (uint32_t)add));
    /* removals look for set bits, additions for clear ones (within older):
     * kept as the complement while adding */
    w->ilo = flo & add;
    w->ihi = fhi & add;
    w->lo = lo ^ w->ilo;
    w->hi = hi ^ w->ihi;
}

static inline __attribute__((always_inline)) void draw_start(kswin_det *s, kswin_draw *w)
{
    uint64_t lo, hi;
    draw_mask16(&s->rng, s->drawt, &lo, &hi);
    draw_start_mask(s, w, lo, hi);
}

#if KSWIN_X86_SIMD
static inline __attribute__((always_inline, target(KSWIN_AVX512))) void
draw_start_avx512(kswin_det *s, kswin_draw *w)
{
    uint64_t lo, hi;
    draw_mask16_avx512(&s->rng, s->drawt, &lo, &hi);
    draw_start_mask(s, w, lo, hi);
}

/* The draw's first mask (lo, hi) of this test, made one test ahead (the
 * body shared by the AVX-512 and AVX2 steps; MASK16 is the path's
 * draw_mask16): taken from the previous test when the generator state is
 * the one it expected, else made now; then the next test's is made from
 * the state after this test's 8 words. */
#define KSWIN_MASK_AHEAD(s, lo, hi, MASK16)                                            \
    do {                                                                               \
        uint64_t r_ = (s)->rng;                                                        \
        if (__builtin_expect((s)->nrng == r_, 1)) {                                    \
            (lo) = (s)->nlo;                                                           \
            (hi) = (s)->nhi;                                                           \
            (s)->rng = r_ + 0x9E3779B97F4A7C15ULL * 8;                                 \
        } else {                                                                       \
            MASK16(&(s)->rng, (s)->drawt, &(lo), &(hi));                               \
        }                                                                              \
        (s)->nrng = (s)->rng;                                                          \
        r_ = (s)->rng;                                                                 \
        MASK16(&r_, (s)->drawt, &(s)->nlo, &(s)->nhi);                                 \
    } while (0)

/* The first mask of draw_start_avx512 (cut to the older positions), one
 * test ahead: this test's mask was made by the previous one when the
 * generator state is the one it expected (it is, unless that test finished
 * its draw or the detector was reset), and this test makes the next one's
 * from the state after its own 8 words (so that the test does not wait
 * for the generator's multiplies). Same masks, same words. */
static inline __attribute__((always_inline, target(KSWIN_AVX512))) void
draw_mask_ahead(kswin_det *s, uint64_t *plo, uint64_t *phi)
{
    uint64_t lo, hi;
    KSWIN_MASK_AHEAD(s, lo, hi, draw_mask16_avx512);
    *plo = lo & s->olo;
    *phi = hi & s->ohi;
}
#endif

static inline kswin_u128 draw_mask_of(const kswin_draw *w)
{
    return (kswin_u128)(w->hi ^ w->ihi) << 64 | (w->lo ^ w->ilo);
}

static inline __attribute__((always_inline)) kswin_u128 draw_finish(kswin_det *s, kswin_draw *w,
                                                                    kswin_remove_fn rem)
{
    uint32_t dig[8];
    int32_t top = w->top;
    for (uint32_t t = 0; t < w->d; t += 8, top -= 8) {
        draw_digits8(&s->rng, top, dig);
        rem(&w->lo, &w->hi, dig, w->d - t < 8 ? w->d - t : 8);
    }
    return draw_mask_of(w);
}

/* A mask over positions from the oldest (head) turned into ring indices. */
static inline kswin_u128 to_ring(kswin_u128 p, uint32_t head, uint32_t win)
{
    if (!head)
        return p;
    return ((p << head) | (p >> (win - head))) & low_bits(win);
}

/* Run ends of the merged order: slot j when its value differs from slot
 * j + 1's, and the last slot (all slots when there are no ties). */
static kswin_u128 run_ends(const kswin_det *s)
{
    kswin_u128 e = (kswin_u128)1 << (s->win - 1);
    if (!s->nties)
        return low_bits(s->win);
    for (uint32_t j = 0; j + 1 < s->win; j++)
        e |= (kswin_u128)(s->ring[s->mg[j]] != s->ring[s->mg[j + 1]]) << j;
    return e;
}

/* Nibble table of the portable KS pass: for 4 slots with drawn bits w and
 * newest bits r (index w << 4 | r), the sum of w - r and the largest and
 * smallest running sum (with 0). */
static void nibble_table(int8_t (*nib)[3])
{
    for (uint32_t i = 0; i < 256; i++) {
        int sum = 0, mx = 0, mn = 0;
        for (uint32_t b = 0; b < 4; b++) {
            sum += (int)(i >> (4 + b) & 1) - (int)(i >> b & 1);
            mx = sum > mx ? sum : mx;
            mn = sum < mn ? sum : mn;
        }
        nib[i][0] = (int8_t)sum;
        nib[i][1] = (int8_t)mx;
        nib[i][2] = (int8_t)mn;
    }
}


/* Whether, for the older values at ring mask ring against the newest ones,
 * some running count S_j = #(them in slots <= j) - #(newest in slots <= j)
 * at a run end j of the merged order (ties: the empirical CDFs are compared
 * only after a whole run of equal values) is >= hi or <= lo (hi > 0 > lo),
 * portable: their merged slots (inv), then per 8 slots a bound (S stays
 * within [P - #newest, P + #drawn] of the block's start value P) and, when
 * a block could cross, the exact pass with nibble tables; with ties a pass
 * over the slots. */
static int merged_outside(const kswin_det *s, kswin_u128 ring, int lo, int hi)
{
    uint32_t win = s->win, j;
    kswin_u128 rn = s->rnew;
    uint64_t w[2] = {0, 0}, r[2] = {(uint64_t)rn, (uint64_t)(rn >> 64)};
    int sum = 0, mx = 0, mn = 0, cross = 0;
    for (uint64_t x = (uint64_t)ring; x; x &= x - 1) {
        uint32_t slot = s->inv[__builtin_ctzll(x)];
        w[slot >> 6] |= 1ULL << (slot & 63);
    }
    for (uint64_t x = (uint64_t)(ring >> 64); x; x &= x - 1) {
        uint32_t slot = s->inv[64 + __builtin_ctzll(x)];
        w[slot >> 6] |= 1ULL << (slot & 63);
    }
    if (s->nties) {
        kswin_u128 ends = run_ends(s);
        for (j = 0; j < win; j++) {
            sum += (int)(w[j >> 6] >> (j & 63) & 1) - (int)(r[j >> 6] >> (j & 63) & 1);
            if ((uint64_t)(ends >> j) & 1) {
                mx = sum > mx ? sum : mx;
                mn = sum < mn ? sum : mn;
            }
        }
        return mx >= hi || mn <= lo;
    }
    for (j = 0; j < win && !cross; j += 8) {
        int cw = POP8[(w[j >> 6] >> (j & 63)) & 0xFF], cr = POP8[(r[j >> 6] >> (j & 63)) & 0xFF];
        cross = sum + cw >= hi || sum - cr <= lo;
        sum += cw - cr;
    }
    if (!cross)
        return 0;
    sum = 0;
    for (uint32_t k = 0; k < 2; k++) {   /* each word, 4 slots at a time */
        uint64_t a = w[k], b = r[k];
        for (int n = (int)win - 64 * (int)k; n > 0; n -= 4, a >>= 4, b >>= 4) {
            const int8_t *e = s->nib[(a & 15) << 4 | (b & 15)];
            mx = sum + e[1] > mx ? sum + e[1] : mx;
            mn = sum + e[2] < mn ? sum + e[2] : mn;
            sum += e[0];
        }
    }
    return mx >= hi || mn <= lo;
}

/* Whether stat * D >= kstar for a fresh draw W against the newest values:
 * stat * D is the largest |S_j| (merged_outside) for W. First, for the
 * mask M of draw_start, T_j = S_j(M): W is M less d of its values (or plus
 * d others), so every S_j(W) lies in [T_j - d, T_j] (or [T_j, T_j + d]).
 * When these bands stay within (-kstar, kstar) no alarm is possible
 * whatever the changes: the test answers no without drawing them (its
 * decision is the one of the full draw; the words not drawn are simply
 * used by the next tests, which stay fresh and independent). Otherwise the
 * draw is finished and W tested. Portable. */
static int merged_reaches_generic(kswin_det *s)
{
    kswin_draw w;
    int k = (int)s->kstar, a, b;
    draw_start(s, &w);
    a = w.adding ? 0 : (int)w.d;
    b = w.adding ? (int)w.d : 0;
    if (a < k && b < k &&
        !merged_outside(s, to_ring(draw_mask_of(&w), s->head, s->win), a - k, k - b))
        return 0;
    s->wlast = draw_finish(s, &w, remove_seq);
    s->nfinished++;
    return merged_outside(s, to_ring(s->wlast, s->head, s->win), -k, k);
}

#if KSWIN_X86_SIMD
/* As merged_reaches_generic with AVX-512 (same draws, same result): the
 * ring mask spread into 128 bytes, gathered into merged order by the ring
 * indices (vpermi2b), +1 per drawn slot and -1 per newest slot, running
 * sums over 128 bytes (six shifted adds per 64, then the first half's
 * total), compared at the run ends with the bounds. */
static const uint8_t KSWIN_IOTA[64] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};

/* The running sums of the 128 bytes x0 (slots 0..63), x1 (64..127), in
 * place: inside each 16-byte lane (x[i] += x[i - k], k = 1, 2, 4, 8), then
 * each lane gets the totals of the lanes below it (lane totals broadcast in
 * their lanes, shifted up by 1, 2, 3 lanes), then the second half gets the
 * first half's total. */
static inline __attribute__((always_inline, target(KSWIN_AVX512)))
void running_sums128(__m512i *px0, __m512i *px1)
{
    __m512i x0 = *px0, x1 = *px1, zero = _mm512_setzero_si512();
#define KSWIN_LANE_STEP(k)                                       \
    do {                                                         \
        x0 = _mm512_add_epi8(x0, _mm512_bslli_epi128(x0, k));    \
        x1 = _mm512_add_epi8(x1, _mm512_bslli_epi128(x1, k));    \
    } while (0)
    KSWIN_LANE_STEP(1);
    KSWIN_LANE_STEP(2);
    KSWIN_LANE_STEP(4);
    KSWIN_LANE_STEP(8);
#undef KSWIN_LANE_STEP
    {
        __m512i b15 = _mm512_set1_epi8(15);
        __m512i t0 = _mm512_shuffle_epi8(x0, b15), t1 = _mm512_shuffle_epi8(x1, b15);
        __m512i c0 = _mm512_add_epi8(_mm512_add_epi8(_mm512_alignr_epi64(t0, zero, 6),
                                                     _mm512_alignr_epi64(t0, zero, 4)),
                                     _mm512_alignr_epi64(t0, zero, 2));
        __m512i c1 = _mm512_add_epi8(_mm512_add_epi8(_mm512_alignr_epi64(t1, zero, 6),
                                                     _mm512_alignr_epi64(t1, zero, 4)),
                                     _mm512_alignr_epi64(t1, zero, 2));
        /* first half's total: its top lane's total plus that lane's carry */
        __m512i tot = _mm512_add_epi8(t0, c0);
        x0 = _mm512_add_epi8(x0, c0);
        x1 = _mm512_add_epi8(_mm512_add_epi8(x1, c1), _mm512_shuffle_i64x2(tot, tot, 0xFF));
    }
    *px0 = x0;
    *px1 = x1;
}

/* The 128 slots' terms of the running counts for the older values at the
 * positions of mask pm (bit p: p-th oldest) against the newest ones: +1
 * where pos (each slot's position) is a bit of pm, -1 on the slots of rv,
 * 0 elsewhere and past win (valid: slots < win). */
static inline __attribute__((always_inline, target(KSWIN_AVX512)))
void slot_terms(kswin_u128 pm, __m512i pos0, __m512i pos1, __mmask64 rv0, __mmask64 rv1,
                __mmask64 valid0, __mmask64 valid1, __m512i *px0, __m512i *px1)
{
    __m512i tb0 = _mm512_movm_epi8((__mmask64)(uint64_t)pm);
    __m512i tb1 = _mm512_movm_epi8((__mmask64)(uint64_t)(pm >> 64));
    __m512i w0 = _mm512_permutex2var_epi8(tb0, pos0, tb1);
    __m512i w1 = _mm512_permutex2var_epi8(tb0, pos1, tb1);
    __m512i zero = _mm512_setzero_si512(), m1 = _mm512_set1_epi8(-1);
    /* +1 per drawn slot (w = -1 there), -1 per newest slot, 0 past win */
    *px0 = _mm512_mask_mov_epi8(_mm512_maskz_sub_epi8(valid0, zero, w0), rv0, m1);
    *px1 = _mm512_mask_mov_epi8(_mm512_maskz_sub_epi8(valid1, zero, w1), rv1, m1);
}

/* Whether some running count S_j at a run end is >= hi or <= lo (both
 * within -128..127) for the older values at the positions of mask pm (bit
 * p: p-th oldest). pos: each merged slot's position (its age), rv: slots
 * holding newest values, valid: slots < win. */
static inline __attribute__((always_inline, target(KSWIN_AVX512)))
int merged_outside_avx512(kswin_u128 pm, __m512i pos0, __m512i pos1, __mmask64 rv0,
                          __mmask64 rv1, __mmask64 valid0, __mmask64 valid1, kswin_u128 ends,
                          int lo, int hi)
{
    __m512i x0, x1, vhi = _mm512_set1_epi8((char)hi), vlo = _mm512_set1_epi8((char)lo);
    __mmask64 out;
    slot_terms(pm, pos0, pos1, rv0, rv1, valid0, valid1, &x0, &x1);
    running_sums128(&x0, &x1);
    out = _mm512_mask_cmpge_epi8_mask((__mmask64)(uint64_t)ends, x0, vhi) |
          _mm512_mask_cmple_epi8_mask((__mmask64)(uint64_t)ends, x0, vlo) |
          _mm512_mask_cmpge_epi8_mask((__mmask64)(uint64_t)(ends >> 64), x1, vhi) |
          _mm512_mask_cmple_epi8_mask((__mmask64)(uint64_t)(ends >> 64), x1, vlo);
    return out != 0;
}

/* Constants of cert_out_avx512 (64-byte aligned: plain loads). */
static const uint8_t KSWIN_QTOP[64] __attribute__((aligned(64))) = {
#define Q8(v) v, v, v, v, v, v, v, v
    Q8(7), Q8(15), Q8(7), Q8(15), Q8(7), Q8(15), Q8(7), Q8(15)
#undef Q8
};
/* KSWIN_J1[j] = j + 1, j = 0..127; KSWIN_STEP[i] = [i >= 128] (i < 256, so
 * that [j >= c] for j = 0..128 is KSWIN_STEP[128 - c + j]: one unaligned
 * load instead of a broadcast and a compare; 1 up to the end) */
#define KSWIN_R8(b) b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7
#define KSWIN_R64(b)                                                                      \
    KSWIN_R8(b), KSWIN_R8(b + 8), KSWIN_R8(b + 16), KSWIN_R8(b + 24), KSWIN_R8(b + 32),     \
        KSWIN_R8(b + 40), KSWIN_R8(b + 48), KSWIN_R8(b + 56)
static const uint8_t KSWIN_J1[128] __attribute__((aligned(64))) = {KSWIN_R64(1),
                                                                    KSWIN_R64(65)};
#undef KSWIN_R64
#undef KSWIN_R8
static const uint8_t KSWIN_STEP[320] __attribute__((aligned(64))) = {
    [128] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* The common step's certificate test (kswin_update_avx512) on offset
 * terms: x0, x1 hold 1 + [drawn] - [newest] per slot (0, 1 or 2; 1 past
 * win), so that their running sums S'_j = S_j + j + 1 are non-negative
 * and below 256 as unsigned bytes (S_j itself, -31..70, is taken as a
 * signed byte after the sums). Running sums: inside each 8-byte word
 * by one multiply with 0x0101010101010101 (no carries between bytes: a
 * word sums to at most 16), then each word's total (its top byte, spread
 * over the word) summed over the words below it in three shifted adds,
 * then the first half's total added to the second. With c = cnt and the
 * bands [P - a, P + b] of the certificate: slot j is out when
 * S_j - [j >= c] >= hi = k - b or S_j - [j >= c - 1] <= lo = a - k
 * ([j >= c] and [j + 1 >= c] as KSWIN_STEP loads). Returns the out slots
 * (any). */
static inline __attribute__((always_inline, target(KSWIN_AVX512))) uint64_t
cert_out_avx512(__m512i x0, __m512i x1, uint32_t cnt, int hi, int lo)
{
    const __m512i ones8 = _mm512_set1_epi64(0x0101010101010101LL), zero = _mm512_setzero_si512();
    const __m512i qtop = _mm512_load_si512((const void *)KSWIN_QTOP);
    __m512i p0 = _mm512_mullo_epi64(x0, ones8), p1 = _mm512_mullo_epi64(x1, ones8);
    __m512i t0 = _mm512_shuffle_epi8(p0, qtop), t1 = _mm512_shuffle_epi8(p1, qtop);
    __m512i c0 = _mm512_add_epi8(t0, _mm512_alignr_epi64(t0, zero, 7));
    __m512i c1 = _mm512_add_epi8(t1, _mm512_alignr_epi64(t1, zero, 7));
    __m512i s0, s1, vh = _mm512_set1_epi8((char)hi), vl = _mm512_set1_epi8((char)lo);
    const uint8_t *st = KSWIN_STEP + 128 - cnt;
    __mmask64 out0, out1;
    c0 = _mm512_add_epi8(c0, _mm512_alignr_epi64(c0, zero, 6));
    c1 = _mm512_add_epi8(c1, _mm512_alignr_epi64(c1, zero, 6));
    c0 = _mm512_add_epi8(c0, _mm512_alignr_epi64(c0, zero, 4));   /* inclusive word sums */
    c1 = _mm512_add_epi8(c1, _mm512_alignr_epi64(c1, zero, 4));
    /* S'_j, then S_j = S'_j - (j + 1) (signed: within -128..127) */
    s0 = _mm512_add_epi8(_mm512_sub_epi8(p0, t0), c0);
    s1 = _mm512_add_epi8(_mm512_add_epi8(_mm512_sub_epi8(p1, t1), c1),
                         _mm512_permutexvar_epi64(_mm512_set1_epi64(7), c0));
    s0 = _mm512_sub_epi8(s0, _mm512_load_si512((const void *)KSWIN_J1));
    s1 = _mm512_sub_epi8(s1, _mm512_load_si512((const void *)(KSWIN_J1 + 64)));
    out0 = _mm512_cmpge_epi8_mask(_mm512_sub_epi8(s0, _mm512_loadu_si512((const void *)st)), vh) |
           _mm512_cmple_epi8_mask(_mm512_sub_epi8(s0, _mm512_loadu_si512((const void *)(st + 1))),
                                  vl);
    out1 = _mm512_cmpge_epi8_mask(_mm512_sub_epi8(s1, _mm512_loadu_si512((const void *)(st + 64))),
                                  vh) |
           _mm512_cmple_epi8_mask(_mm512_sub_epi8(s1, _mm512_loadu_si512((const void *)(st + 65))),
                                  vl);
    return (uint64_t)out0 | (uint64_t)out1;
}

/* Run ends (as run_ends) of the AVX-512 path's merged order: the value of
 * slot j is ring[head + age[j] mod win]. */
static kswin_u128 run_ends_age(const kswin_det *s)
{
    uint32_t win = s->win, h = s->head;
    kswin_u128 e = (kswin_u128)1 << (win - 1);
    for (uint32_t j = 0; j + 1 < win; j++) {
        uint32_t k0 = h + s->age[j], k1 = h + s->age[j + 1];
        k0 -= k0 >= win ? win : 0;
        k1 -= k1 >= win ? win : 0;
        e |= (kswin_u128)(s->ring[k0] != s->ring[k1]) << j;
    }
    return e;
}

/* merged_reaches_generic with AVX-512 (same draws, same result) on the
 * merged order given as the age of each slot's value (a0: slots 0..63, a1:
 * 64..127), which is also its position in the draw's mask: the mask's
 * bytes gathered by the ages (merged_outside_avx512). */
__attribute__((always_inline, target(KSWIN_AVX512))) static inline int
merged_test_avx512(kswin_det *s, __m512i a0, __m512i a1)
{
    kswin_draw w;
    int k = (int)s->kstar, a, b, need;
    uint32_t win = s->win, older = win - s->stat;
    kswin_u128 ends = s->nties ? run_ends_age(s) : ~(kswin_u128)0, valid = low_bits(win);
    __m512i vo = _mm512_set1_epi8((char)older);
    __mmask64 valid0 = (__mmask64)(uint64_t)valid, valid1 = (__mmask64)(uint64_t)(valid >> 64);
    __mmask64 rv0 = _mm512_mask_cmpge_epu8_mask(valid0, a0, vo);
    __mmask64 rv1 = _mm512_mask_cmpge_epu8_mask(valid1, a1, vo);
    draw_start_avx512(s, &w);
    a = w.adding ? 0 : (int)w.d;
    b = w.adding ? (int)w.d : 0;
    /* the bands [T_j - a, T_j + b] (and 0's) within (-k, k): no alarm;
     * (evaluated whatever a and b: one branch) */
    need = (a >= k) | (b >= k) |
           merged_outside_avx512(draw_mask_of(&w), a0, a1, rv0, rv1, valid0, valid1, ends, a - k,
                                 k - b);
    if (__builtin_expect(!need, 1))
        return 0;
    s->wlast = draw_finish(s, &w, remove_pdep);
    s->nfinished++;
    return merged_outside_avx512(s->wlast, a0, a1, rv0, rv1, valid0, valid1, ends, -k, k);
}
#endif

/* Merged slots *pa, *pb of ring indices a and b in mg (128 bytes). */
static inline void find_slots(const uint8_t *g, uint32_t a, uint32_t b, uint32_t *pa, uint32_t *pb)
{
#if defined(__SSE2__)
    __m128i va = _mm_set1_epi8((char)a), vb = _mm_set1_epi8((char)b);
    uint64_t ma[2] = {0, 0}, mb[2] = {0, 0};
    for (uint32_t j = 0; j < KSWIN_MERGED_MAX; j += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(g + j));
        ma[j >> 6] |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, va)) << (j & 63);
        mb[j >> 6] |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vb)) << (j & 63);
    }
    *pa = ma[0] ? (uint32_t)__builtin_ctzll(ma[0]) : 64 + (uint32_t)__builtin_ctzll(ma[1]);
    *pb = mb[0] ? (uint32_t)__builtin_ctzll(mb[0]) : 64 + (uint32_t)__builtin_ctzll(mb[1]);
#else
    *pa = (uint32_t)((const uint8_t *)memchr(g, (int)a, KSWIN_MERGED_MAX) - g);
    *pb = (uint32_t)((const uint8_t *)memchr(g, (int)b, KSWIN_MERGED_MAX) - g);
#endif
}

/* Number of ring values below x (the ring is padded with +inf to whole
 * blocks of 8; x is finite). */
static uint32_t ring_count_below(const double *ring, uint32_t win, double x)
{
    uint32_t i = 0, n = 0;
#if defined(__SSE2__)
    __m128d b = _mm_set1_pd(x);
    __m128i acc = _mm_setzero_si128();
    int64_t l[2];
    for (; i < win; i += 2)   /* a true compare is all ones: -1 */
        acc = _mm_sub_epi64(acc, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(ring + i), b)));
    _mm_storeu_si128((__m128i *)l, acc);
    n = (uint32_t)(l[0] + l[1]);
#endif
    for (; i < win; i++)
        n += ring[i] < x;
    return n;
}

/* The inverse map after slot py left and ring index h entered at slot q
 * (q counted after the removal): slots above py fall by one, then slots
 * >= q rise by one (all 128 entries; slots < 128 compare as signed bytes). */
static void inv_move(uint8_t *inv, uint32_t py, uint32_t q, uint32_t h)
{
    uint32_t k = 0;
#if defined(__SSE2__)
    __m128i pv = _mm_set1_epi8((char)py), qv = _mm_set1_epi8((char)((int)q - 1));
    for (; k < KSWIN_MERGED_MAX; k += 16) {   /* a true compare is all ones: -1 */
        __m128i r = _mm_loadu_si128((const __m128i *)(inv + k));
        r = _mm_add_epi8(r, _mm_cmpgt_epi8(r, pv));
        r = _mm_sub_epi8(r, _mm_cmpgt_epi8(r, qv));
        _mm_storeu_si128((__m128i *)(inv + k), r);
    }
#endif
    for (; k < KSWIN_MERGED_MAX; k++) {
        uint32_t r = inv[k];
        r -= r > py;
        r += r >= q;
        inv[k] = (uint8_t)r;
    }
    inv[h] = (uint8_t)q;
}

/* The tie count after one step, before mg moves: y (merged slot py)
 * leaves, x enters at slot q of the order without y. The values of merged
 * slots are ring[mg[j]] (ring slot h still holds y); y's pairs with its
 * neighbours go and they may form one; x splits the pair around q and may
 * pair with either side. */
static inline __attribute__((always_inline)) void merged_ties(kswin_det *s, uint32_t py,
                                                              uint32_t q, double y, double x)
{
    const double *ring = s->ring;
    const uint8_t *g = s->mg;
    uint32_t win = s->win;
    if (py > 0 && py + 1 < win) {
        double a = ring[g[py - 1]], b = ring[g[py + 1]];
        s->nties += (uint32_t)(a == b) - (uint32_t)(a == y) - (uint32_t)(b == y);
    } else {
        s->nties -= (uint32_t)(py > 0 && ring[g[py - 1]] == y) +
                    (uint32_t)(py + 1 < win && ring[g[py + 1]] == y);
    }
    if (q > 0 && q + 1 < win) {   /* neighbours: slots q - 1 and q without y */
        double a = ring[g[q - 1 + (q - 1 >= py)]], b = ring[g[q + (q >= py)]];
        s->nties += (uint32_t)(a == x) + (uint32_t)(b == x) - (uint32_t)(a == b);
    } else if (q > 0) {
        s->nties += (uint32_t)(ring[g[q - 1 + (q - 1 >= py)]] == x);
    } else if (q + 1 < win) {
        s->nties += (uint32_t)(ring[g[q + (q >= py)]] == x);
    }
}

/* One step of the merged order: y (ring slot h, still there) leaves, z
 * (slot mid) moves from the newest part to the older one, x enters (into
 * ring slot h). x's slot: the values below it among the others. */
static void slide_merged(kswin_det *s, uint32_t h, uint32_t mid, double x)
{
    uint32_t py, pz, q;
    const uint8_t h8 = (uint8_t)h;
    double y = s->ring[h];
    kswin_u128 r, lo;
    find_slots(s->mg, h, mid, &py, &pz);
    q = ring_count_below(s->ring, s->win, x) - (y < x);
    merged_ties(s, py, q, y, x);
    move_elem(s->mg, 1, py, q, &h8);
    inv_move(s->inv, py, q, h);
    /* newest-part mask: z's bit cleared, y's slot removed, x's inserted */
    r = s->rnew & ~((kswin_u128)1 << pz);
    lo = low_bits(py);
    r = (r & lo) | ((r >> 1) & ~lo);
    lo = low_bits(q);
    s->rnew = (r & lo) | ((r & ~lo) << 1) | ((kswin_u128)1 << q);
}


#if KSWIN_X86_SIMD
/* ---- AVX2 functions of the merged path (x86-64-v3 machines without
 * AVX-512 VBMI; chosen at run time, same results as the portable ones,
 * which they replace where the portable path spends its time: the order
 * and the draw are the portable path's, mg/inv/rnew) ----------------- */

/* #(ring values < x) (the ring is padded with +inf to whole blocks of 8;
 * x is finite): 8 values per step in two accumulators. */
__attribute__((target(KSWIN_AVX2))) static inline uint32_t
ring_count_below_avx2(const double *ring, uint32_t win, double x)
{
    __m256d b = _mm256_set1_pd(x);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    __m128i t;
    for (uint32_t i = 0; i < win; i += 8) {   /* a true compare is all ones: -1 */
        acc0 = _mm256_sub_epi64(
            acc0, _mm256_castpd_si256(_mm256_cmp_pd(_mm256_loadu_pd(ring + i), b, _CMP_LT_OQ)));
        acc1 = _mm256_sub_epi64(acc1, _mm256_castpd_si256(_mm256_cmp_pd(_mm256_loadu_pd(ring + i + 4),
                                                                         b, _CMP_LT_OQ)));
    }
    acc0 = _mm256_add_epi64(acc0, acc1);
    t = _mm_add_epi64(_mm256_castsi256_si128(acc0), _mm256_extracti128_si256(acc0, 1));
    t = _mm_add_epi64(t, _mm_unpackhi_epi64(t, t));
    return (uint32_t)_mm_cvtsi128_si64(t);
}

/* The same count on the float copy of the ring (ringf, +inf past win), 8
 * values per compare, exact as ring_count_f: rounding to float keeps
 * order, so only a value whose float equals x's can be miscounted, and
 * the smallest value not counted (slot c of the order before the step,
 * ring index mg[c]) is the one to check; on a tie the doubles are
 * counted. */
__attribute__((target(KSWIN_AVX2))) static inline uint32_t ring_count_f_avx2(const kswin_det *s,
                                                                           double x)
{
    float xf = (float)x;
    __m256 b = _mm256_set1_ps(xf);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    __m128i t;
    uint32_t i = 0, c;
    for (; i + 8 < s->win; i += 16) {   /* a true compare is all ones: -1 */
        acc0 = _mm256_sub_epi32(
            acc0, _mm256_castps_si256(_mm256_cmp_ps(_mm256_load_ps(s->ringf + i), b, _CMP_LT_OQ)));
        acc1 = _mm256_sub_epi32(acc1, _mm256_castps_si256(_mm256_cmp_ps(
                                          _mm256_load_ps(s->ringf + i + 8), b, _CMP_LT_OQ)));
    }
    if (i < s->win)
        acc0 = _mm256_sub_epi32(
            acc0, _mm256_castps_si256(_mm256_cmp_ps(_mm256_load_ps(s->ringf + i), b, _CMP_LT_OQ)));
    acc0 = _mm256_add_epi32(acc0, acc1);
    t = _mm_add_epi32(_mm256_castsi256_si128(acc0), _mm256_extracti128_si256(acc0, 1));
    t = _mm_add_epi32(t, _mm_unpackhi_epi64(t, t));
    t = _mm_add_epi32(t, _mm_srli_epi64(t, 32));
    c = (uint32_t)_mm_cvtsi128_si32(t);
    if (c < s->win && __builtin_expect(s->ringf[s->mg[c]] == xf, 0))
        return ring_count_below_avx2(s->ring, s->win, x);
    return c;
}

/* The order after one step with AVX2, as move_elem and inv_move, in
 * registers and stored as whole vectors (so that the next step's vector
 * loads are forwarded from the stores: a byte store or a memmove under a
 * wider load makes it wait until the store leaves the store queue). mg:
 * new slot j takes old slot j - [j > q] + [j' >= py], j' = j - [j > q]
 * (its neighbour below, itself or its neighbour above: three shifted
 * copies blended), slot q takes h; inv: slots above py fall by one, then
 * slots >= q rise by one, ring index h takes q. */
__attribute__((target(KSWIN_AVX2))) static inline void order_move_avx2(kswin_det *s, uint32_t py,
                                                                       uint32_t q, uint32_t h)
{
    __m256i a[4], n[4];
    const __m256i vq = _mm256_set1_epi8((char)q), vp1 = _mm256_set1_epi8((char)((int)py - 1));
    const __m256i vh = _mm256_set1_epi8((char)h), vq1 = _mm256_set1_epi8((char)((int)q - 1));
    const __m256i vpy = _mm256_set1_epi8((char)py), v32 = _mm256_set1_epi8(32);
    __m256i slot = _mm256_loadu_si256((const __m256i *)KSWIN_IOTA);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (uint32_t i = 0; i < 4; i++)
        a[i] = _mm256_load_si256((const __m256i *)(s->mg + 32 * i));
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (uint32_t i = 0; i < 4; i++, slot = _mm256_add_epi8(slot, v32)) {   /* (signed: < 128) */
        __m256i zero = _mm256_setzero_si256();
        __m256i nxt = i < 3 ? a[i + 1] : zero, prv = i > 0 ? a[i - 1] : zero;
        /* old[j + 1] and old[j - 1] */
        __m256i down = _mm256_alignr_epi8(_mm256_permute2x128_si256(a[i], nxt, 0x21), a[i], 1);
        __m256i up = _mm256_alignr_epi8(a[i], _mm256_permute2x128_si256(prv, a[i], 0x21), 15);
        __m256i gtq = _mm256_cmpgt_epi8(slot, vq);
        __m256i ge = _mm256_cmpgt_epi8(_mm256_add_epi8(slot, gtq), vp1);
        __m256i r = _mm256_blendv_epi8(a[i], down, _mm256_andnot_si256(gtq, ge));
        r = _mm256_blendv_epi8(r, up, _mm256_andnot_si256(ge, gtq));
        n[i] = _mm256_blendv_epi8(r, vh, _mm256_cmpeq_epi8(slot, vq));
    }
    slot = _mm256_loadu_si256((const __m256i *)KSWIN_IOTA);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (uint32_t i = 0; i < 4; i++, slot = _mm256_add_epi8(slot, v32)) {
        __m256i r = _mm256_load_si256((const __m256i *)(s->inv + 32 * i));
        _mm256_store_si256((__m256i *)(s->mg + 32 * i), n[i]);
        r = _mm256_add_epi8(r, _mm256_cmpgt_epi8(r, vpy));   /* a true compare is -1 */
        r = _mm256_sub_epi8(r, _mm256_cmpgt_epi8(r, vq1));
        _mm256_store_si256((__m256i *)(s->inv + 32 * i),
                           _mm256_blendv_epi8(r, vq, _mm256_cmpeq_epi8(slot, vh)));
    }
}

/* slide_merged with AVX2: y's slot read from the inverse map (the portable
 * function searches mg, same slot), x's place counted on the float copy
 * (kept here: ringf[h] = x, as a store of its whole block of 8), rnew not
 * kept (the AVX2 KS pass tells the newest slots from their positions), the
 * tie count from one compare when there were no ties. */
__attribute__((always_inline, target(KSWIN_AVX2))) static inline void
slide_merged_avx2(kswin_det *s, uint32_t h, double x)
{
    uint32_t py = s->inv[h], c = ring_count_f_avx2(s, x), q = c - (s->ring[h] < x), jt;
    double y = s->ring[h];
    float *blk = s->ringf + (h & ~7u);
    /* without ties before, the only possible one after pairs x with the
     * smallest value >= x other than y: old slot c, or c + 1 when y is
     * there (what merged_ties would find) */
    jt = c + (py == c);
    if (__builtin_expect(s->nties == 0, 1))
        s->nties = jt < s->win && s->ring[s->mg[jt]] == x;
    else
        merged_ties(s, py, q, y, x);
    order_move_avx2(s, py, q, h);
    _mm256_store_ps(blk, _mm256_blendv_ps(_mm256_load_ps(blk), _mm256_set1_ps((float)x),
                                          _mm256_castsi256_ps(_mm256_cmpeq_epi32(
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                              _mm256_set1_epi32((int)(h & 7))))));
}

/* x * c for 64-bit lanes (AVX2 has no 64-bit low multiply): the low
 * product plus the two cross products shifted up. */
__attribute__((target(KSWIN_AVX2))) static inline __m256i mul64_avx2(__m256i x, __m256i c,
                                                                     __m256i chi)
{
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(x, 32), c),
                                     _mm256_mul_epu32(x, chi));
    return _mm256_add_epi64(_mm256_mul_epu32(x, c), _mm256_slli_epi64(cross, 32));
}

/* splitmix64 finaliser in 4 lanes. */
__attribute__((target(KSWIN_AVX2))) static inline __m256i mix_avx2(__m256i z)
{
    const __m256i c1 = _mm256_set1_epi64x((long long)0xBF58476D1CE4E5B9ULL);
    const __m256i c2 = _mm256_set1_epi64x((long long)0x94D049BB133111EBULL);
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 30));
    z = mul64_avx2(z, c1, _mm256_srli_epi64(c1, 32));
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 27));
    z = mul64_avx2(z, c2, _mm256_srli_epi64(c2, 32));
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/* draw_mask16 with AVX2: the 8 words are splitmix64's next 8 outputs
 * (state + j gamma, j = 1..8, mixed in two vectors of 4 lanes; the state
 * then moves by 8 gamma: the same words as 8 calls), byte 8j + i of the
 * words is position 8j + i, its high nibble position 64 + 8j + i, as
 * movemask bits. */
__attribute__((always_inline, target(KSWIN_AVX2))) static inline void
draw_mask16_avx2(uint64_t *rng, uint32_t t, uint64_t *plo, uint64_t *phi)
{
    __m256i st = _mm256_set1_epi64x((long long)*rng);
    __m256i v0 = mix_avx2(_mm256_add_epi64(st, _mm256_loadu_si256((const __m256i *)KSWIN_GAMMA8)));
    __m256i v1 =
        mix_avx2(_mm256_add_epi64(st, _mm256_loadu_si256((const __m256i *)(KSWIN_GAMMA8 + 4))));
    __m256i n4 = _mm256_set1_epi8(15), vt = _mm256_set1_epi8((char)t);
    *rng += 0x9E3779B97F4A7C15ULL * 8;
    *plo = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(vt, _mm256_and_si256(v0, n4))) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(vt, _mm256_and_si256(v1, n4)))
               << 32;
    *phi = (uint32_t)_mm256_movemask_epi8(
               _mm256_cmpgt_epi8(vt, _mm256_and_si256(_mm256_srli_epi16(v0, 4), n4))) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(
               _mm256_cmpgt_epi8(vt, _mm256_and_si256(_mm256_srli_epi16(v1, 4), n4)))
               << 32;
}

/* draw_start with AVX2, its first mask made one test ahead as in
 * draw_mask_ahead (nrng, nlo, nhi: the mask of generator state nrng; this
 * test's is taken when the state is the expected one, and the next test's
 * made from the state after this test's 8 words, so that the test does not
 * wait for the multiplies). Same masks, same words. */
__attribute__((always_inline, target(KSWIN_AVX2))) static inline void draw_start_avx2(kswin_det *s,
                                                                       kswin_draw *w)
{
    uint64_t lo, hi;
    KSWIN_MASK_AHEAD(s, lo, hi, draw_mask16_avx2);
    draw_start_mask(s, w, lo, hi);
}

/* 32 bytes, -1 where bit j of v is set (byte j). */
__attribute__((target(KSWIN_AVX2))) static inline __m256i bits_to_bytes_avx2(uint32_t v)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                            2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit8 = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i r = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(r, bit8), bit8);
}

/* merged_outside with AVX2 (same answer) for the older values at the
 * positions of mask pm (bit p: p-th oldest; the portable function takes
 * ring indices): per 32 merged slots, each slot's position from its ring
 * index (mg - head mod win), its drawn bit looked up by two byte shuffles
 * (its byte of the mask, its bit in the byte), newest when the position is
 * >= older, terms +1 (drawn) / -1 (newest) (0 past win), running sums
 * inside each 16-byte lane by four shifted adds, the lower lanes' totals
 * carried, the extremes (at the run ends when there are ties) compared
 * with the bounds. */
__attribute__((always_inline, target(KSWIN_AVX2))) static inline int
outside_avx2_body(const kswin_det *s, kswin_u128 pm, int lo, int hi, kswin_u128 ends,
                  int use_ends, int older_newest, int use_c, uint32_t c)
{
    const __m256i bit8 = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i n7 = _mm256_set1_epi8(7), n15 = _mm256_set1_epi8(15), zero = _mm256_setzero_si256();
    const __m256i vh = _mm256_set1_epi8((char)s->head), vw = _mm256_set1_epi8((char)s->win);
    const __m256i vo = _mm256_set1_epi8((char)(s->win - s->stat - 1 + older_newest));
    const __m256i vw1 = _mm256_set1_epi8((char)(s->win - 1)), v32 = _mm256_set1_epi8(32);
    const __m256i vc1 = _mm256_set1_epi8((char)((int)c - 1)), vc2 = _mm256_set1_epi8((char)((int)c - 2));
    __m256i mb = _mm256_broadcastsi128_si256(
        _mm_set_epi64x((long long)(uint64_t)(pm >> 64), (long long)(uint64_t)pm));
    __m256i slot = _mm256_loadu_si256((const __m256i *)KSWIN_IOTA);
    __m256i carry = zero, mx = zero, mn = zero;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (uint32_t i = 0; i < 4; i++, slot = _mm256_add_epi8(slot, v32)) {
        __m256i g = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(s->mg + 32 * i)), vh);
        __m256i byte, sel, w, x, t;
        g = _mm256_add_epi8(g, _mm256_and_si256(_mm256_cmpgt_epi8(zero, g), vw));   /* position */
        byte = _mm256_shuffle_epi8(mb, _mm256_and_si256(_mm256_srli_epi16(g, 3), n15));
        sel = _mm256_shuffle_epi8(bit8, _mm256_and_si256(g, n7));
        w = _mm256_cmpeq_epi8(_mm256_and_si256(byte, sel), sel);
        /* +1 drawn, -1 newest; 0 on the slots >= win (slot > win - 1:
         * signed, both < 128) */
        x = _mm256_andnot_si256(_mm256_cmpgt_epi8(slot, vw1),
                                _mm256_sub_epi8(_mm256_cmpgt_epi8(g, vo), w));
        x = _mm256_add_epi8(x, _mm256_slli_si256(x, 1));
        x = _mm256_add_epi8(x, _mm256_slli_si256(x, 2));
        x = _mm256_add_epi8(x, _mm256_slli_si256(x, 4));
        x = _mm256_add_epi8(x, _mm256_slli_si256(x, 8));
        t = _mm256_shuffle_epi8(x, n15);   /* each lane's total */
        x = _mm256_add_epi8(_mm256_add_epi8(x, carry), _mm256_permute2x128_si256(t, t, 0x08));
        carry = _mm256_add_epi8(carry, _mm256_add_epi8(t, _mm256_permute2x128_si256(t, t, 0x01)));
        if (use_ends)   /* 0 is within the bounds */
            x = _mm256_and_si256(x, bits_to_bytes_avx2((uint32_t)(ends >> (32 * i))));
        if (use_c) {   /* - [slot >= c] for the largest, - [slot >= c - 1] for the smallest */
            mx = _mm256_max_epi8(mx, _mm256_add_epi8(x, _mm256_cmpgt_epi8(slot, vc1)));
            mn = _mm256_min_epi8(mn, _mm256_add_epi8(x, _mm256_cmpgt_epi8(slot, vc2)));
        } else {
            mx = _mm256_max_epi8(mx, x);
            mn = _mm256_min_epi8(mn, x);
        }
    }
    return _mm256_movemask_epi8(
               _mm256_or_si256(_mm256_cmpgt_epi8(mx, _mm256_set1_epi8((char)(hi - 1))),
                               _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(lo + 1)), mn))) != 0;
}

__attribute__((target(KSWIN_AVX2))) static int merged_outside_avx2(const kswin_det *s,
                                                                   kswin_u128 pm, int lo, int hi)
{
    if (__builtin_expect(s->nties != 0, 0))
        return outside_avx2_body(s, pm, lo, hi, run_ends(s), 1, 0, 0, 0);
    return outside_avx2_body(s, pm, lo, hi, 0, 0, 0, 0, 0);
}

/* merged_reaches_generic with the AVX2 functions (same draws, same result). */
__attribute__((always_inline, target(KSWIN_AVX2))) static inline int
merged_reaches_avx2(kswin_det *s)
{
    kswin_draw w;
    int k = (int)s->kstar, a, b;
    draw_start_avx2(s, &w);
    a = w.adding ? 0 : (int)w.d;
    b = w.adding ? (int)w.d : 0;
    if (a < k && b < k && !merged_outside_avx2(s, draw_mask_of(&w), a - k, k - b))
        return 0;
    s->wlast = draw_finish(s, &w, remove_pdep);
    s->nfinished++;
    return merged_outside_avx2(s, s->wlast, -k, k);
}

/* merged_reaches_avx2 for kswin_update (after a rebuild). */
__attribute__((noinline, target(KSWIN_AVX2))) static int merged_reaches_avx2_call(kswin_det *s)
{
    return merged_reaches_avx2(s);
}
#endif

/* The merged order from the ring (window full): values inserted one at a
 * time into a sorted scratch copy (no comparison callbacks: this runs after
 * every reset). */
static void rebuild_merged(kswin_det *s)
{
    uint32_t win = s->win, older = win - s->stat;
    double m[KSWIN_MERGED_MAX + 8];
    kswin_u128 r = 0;
    for (uint32_t i = 0; i < KSWIN_MERGED_MAX + 8; i++)
        m[i] = INFINITY;
    memset(s->mg, 127, KSWIN_MERGED_MAX);
    for (uint32_t n = 0; n < win; n++) {
        uint32_t k = s->head + n < win ? s->head + n : s->head + n - win;
        double v = s->ring[k];
        uint32_t q = count_below_2level(m, n, v);
        memmove(m + q + 1, m + q, (n - q) * sizeof *m);
        memmove(s->mg + q + 1, s->mg + q, n - q);
        m[q] = v;
        s->mg[q] = (uint8_t)k;
    }
    s->nties = 0;
    for (uint32_t j = 0; j < win; j++) {
        uint32_t age = s->mg[j] >= s->head ? s->mg[j] - s->head : s->mg[j] + win - s->head;
        s->inv[s->mg[j]] = (uint8_t)j;
        r |= (kswin_u128)(age >= older) << j;
        s->nties += j + 1 < win && m[j] == m[j + 1];
    }
    s->rnew = r;
}

/* The test of a full window of 0s and 1s (with a CDF table): stat * D =
 * |ones in W - ones in R| (header comment). */
static tide_drift_state kswin_binary_test(kswin_det *s)
{
    uint32_t older = s->win - s->stat, kmax;
    uint32_t zeros_old = older - s->ones_old, stat = s->stat;
    uint32_t lo = zeros_old >= stat ? 0 : stat - zeros_old;
    uint32_t hi = s->ones_old < stat ? s->ones_old : stat, r = s->ones_new, w;
    uint32_t reach = hi > r ? hi - r : r - hi, reach_lo = lo > r ? lo - r : r - lo;
    const double *cdf = s->hcdf + (size_t)s->ones_old * (stat + 1);
    double u;
    if (reach_lo > reach)
        reach = reach_lo;
    if (reach < s->kstar)
        return TIDE_DRIFT_NONE;   /* no draw could reach kstar */
    u = (double)(next_u64(&s->rng01) >> 11) * 0x1p-53;
    for (w = lo; w < hi && cdf[w] <= u; w++)
        ;
    kmax = w > r ? w - r : r - w;
    if (kmax >= s->kstar) {
        kswin_reset(&s->base);
        return TIDE_DRIFT_DETECTED;
    }
    return TIDE_DRIFT_NONE;
}

#if KSWIN_X86_SIMD
/* The value of merged slot j of the AVX-512 path's order (ages relative to
 * ring slot h). */
static inline double age_val(const kswin_det *s, uint32_t j, uint32_t h)
{
    uint32_t k = h + s->age[j];
    return s->ring[k - (k >= s->win ? s->win : 0)];
}

/* merged_ties on the AVX-512 path's order (before it moves; ring slot h,
 * age 0, still holds y). */
static inline __attribute__((always_inline)) void age_ties(kswin_det *s, uint32_t h, uint32_t py,
                                                           uint32_t q, double y, double x)
{
    uint32_t win = s->win;
    if (py > 0 && py + 1 < win) {
        double a = age_val(s, py - 1, h), b = age_val(s, py + 1, h);
        s->nties += (uint32_t)(a == b) - (uint32_t)(a == y) - (uint32_t)(b == y);
    } else {
        s->nties -= (uint32_t)(py > 0 && age_val(s, py - 1, h) == y) +
                    (uint32_t)(py + 1 < win && age_val(s, py + 1, h) == y);
    }
    if (q > 0 && q + 1 < win) {   /* neighbours: slots q - 1 and q without y */
        double a = age_val(s, q - 1 + (q - 1 >= py), h), b = age_val(s, q + (q >= py), h);
        s->nties += (uint32_t)(a == x) + (uint32_t)(b == x) - (uint32_t)(a == b);
    } else if (q > 0) {
        s->nties += (uint32_t)(age_val(s, q - 1 + (q - 1 >= py), h) == x);
    } else if (q + 1 < win) {
        s->nties += (uint32_t)(age_val(s, q + (q >= py), h) == x);
    }
}

/* #(ring values < x), exactly (ring doubles compared 8 at a time). */
__attribute__((noinline, target(KSWIN_AVX512))) static uint32_t ring_count_d(const kswin_det *s,
                                                                             double x)
{
    __m512i c = _mm512_setzero_si512(), m1 = _mm512_set1_epi64(-1);
    __m512d vx = _mm512_set1_pd(x);
    for (uint32_t j = 0; j < s->win; j += 8)   /* (the ring is padded with +inf) */
        c = _mm512_mask_sub_epi64(c, _mm512_cmp_pd_mask(_mm512_loadu_pd(s->ring + j), vx,
                                                        _CMP_LT_OQ),
                                  c, m1);
    return (uint32_t)_mm512_reduce_add_epi64(c);
}

/* #(ring values < x) counted on the float copy, 16 at a time: rounding to
 * float keeps order (a < b gives f(a) <= f(b)), so the values whose floats
 * are below f(x) are below x and those whose floats are above are above;
 * the count is exact unless some float equals f(x), and the smallest value
 * not counted (merged slot c of the order before the step, ring slot h +
 * its age) is the one to check: its float above f(x) settles it, else the
 * doubles are counted. Each compare's mask is counted by popcnt (general
 * registers: the vector ports are the step's busy ones; 24.6 -> 23.2 ns
 * against masked subtractions and a vector sum). */
static inline __attribute__((always_inline, target(KSWIN_AVX512))) uint32_t
ring_count_f(const kswin_det *s, uint32_t h, double x)
{
    float xf = (float)x;
    __m512 vx = _mm512_set1_ps(xf);
    const float *rf = s->ringf;
    uint32_t c, k;
#define KSWIN_LT(j) _mm512_cmp_ps_mask(_mm512_load_ps(rf + 16 * (j)), vx, _CMP_LT_OQ)
    /* (7 blocks of 16 cover 112 values; an 8th past that) */
    c = (uint32_t)(_mm_popcnt_u32(KSWIN_LT(0)) + _mm_popcnt_u32(KSWIN_LT(1))) +
        (uint32_t)(_mm_popcnt_u32(KSWIN_LT(2)) + _mm_popcnt_u32(KSWIN_LT(3))) +
        (uint32_t)(_mm_popcnt_u32(KSWIN_LT(4)) + _mm_popcnt_u32(KSWIN_LT(5))) +
        (uint32_t)_mm_popcnt_u32(KSWIN_LT(6));
    if (s->win > 112)
        c += (uint32_t)_mm_popcnt_u32(KSWIN_LT(7));
#undef KSWIN_LT
    if (c >= s->win)
        return c;
    k = h + s->age[c];
    if (__builtin_expect(rf[k - (k >= s->win ? s->win : 0)] == xf, 0))
        return ring_count_d(s, x);
    return c;
}

/* The AVX-512 path's order after one step: y (slot py) leaves, x enters at
 * slot q of the order without y: slot j takes old slot j' + (j' >= py),
 * j' = j - (j > q), one byte permutation per 64 slots; slot q takes x (age
 * win - 1), every other age falls by one. Stored, and returned in *n0, *n1. */
static inline __attribute__((always_inline, target(KSWIN_AVX512)))
void age_move(kswin_det *s, __m512i a0, __m512i a1, uint32_t py, uint32_t q, __m512i *n0,
              __m512i *n1)
{
    __m512i one = _mm512_set1_epi8(1);
    __m512i i0 = _mm512_loadu_si512((const void *)KSWIN_IOTA);
    __m512i i1 = _mm512_add_epi8(i0, _mm512_set1_epi8(64));
    __m512i vq = _mm512_set1_epi8((char)q), vp = _mm512_set1_epi8((char)py);
    __m512i vn = _mm512_set1_epi8((char)(s->win - 1));
    __m512i j0 = _mm512_mask_sub_epi8(i0, _mm512_cmpgt_epu8_mask(i0, vq), i0, one);
    __m512i j1 = _mm512_mask_sub_epi8(i1, _mm512_cmpgt_epu8_mask(i1, vq), i1, one);
    j0 = _mm512_mask_add_epi8(j0, _mm512_cmpge_epu8_mask(j0, vp), j0, one);
    j1 = _mm512_mask_add_epi8(j1, _mm512_cmpge_epu8_mask(j1, vp), j1, one);
    j0 = _mm512_permutex2var_epi8(a0, j0, a1);
    j1 = _mm512_permutex2var_epi8(a0, j1, a1);
    j0 = _mm512_mask_sub_epi8(j0, (__mmask64)s->vlo, j0, one);   /* (slots < win) */
    j1 = _mm512_mask_sub_epi8(j1, (__mmask64)s->vhi, j1, one);
    j0 = _mm512_mask_mov_epi8(j0, _mm512_cmpeq_epi8_mask(i0, vq), vn);
    j1 = _mm512_mask_mov_epi8(j1, _mm512_cmpeq_epi8_mask(i1, vq), vn);
    _mm512_store_si512((void *)s->age, j0);
    _mm512_store_si512((void *)(s->age + 64), j1);
    *n0 = j0;
    *n1 = j1;
}

/* x into ring slot h as a store of its whole block of 8, so that the next
 * value's loads of that block are forwarded from the store (a narrower or
 * a masked store under a wider load waits until it leaves the store
 * queue); then the head moves. */
static inline __attribute__((always_inline, target(KSWIN_AVX512)))
void ring_put(kswin_det *s, uint32_t h, double x)
{
    double *blk = s->ring + (h & ~7u);
    __m512d v = _mm512_mask_mov_pd(_mm512_loadu_pd(blk), (__mmask8)(1u << (h & 7)),
                                   _mm512_set1_pd(x));
    float *blkf = s->ringf + (h & ~15u);
    __m512 vf = _mm512_mask_mov_ps(_mm512_load_ps(blkf), (__mmask16)(1u << (h & 15)),
                                   _mm512_set1_ps((float)x));
    __asm__("" : "+v"(v), "+v"(vf));   /* (else gcc makes them masked stores) */
    _mm512_storeu_pd(blk, v);
    _mm512_store_ps(blkf, vf);
    s->head = h + 1 == s->win ? 0 : h + 1;
}

/* The rest of an AVX-512 step when it is not the common one (ties before
 * or after it: the certificate on the new order at its run ends; or a
 * certificate that did not settle the test, need = 1): the order moved,
 * x stored, the certificate if not done, the draw finished and tested. */
__attribute__((noinline, target(KSWIN_AVX512))) static tide_drift_state
kswin_step_rest(kswin_det *s, double x, uint32_t py, uint32_t cnt, uint64_t mlo, uint64_t mhi,
                int cert_done, int need)
{
    kswin_draw dw, *w = &dw;
    uint32_t win = s->win, older = win - s->stat, h = s->head;
    int k = (int)s->kstar, a, b;
    double y = s->ring[h];
    uint32_t q = cnt - (y < x);
    kswin_u128 valid = low_bits(win), ends;
    __mmask64 valid0 = (__mmask64)(uint64_t)valid, valid1 = (__mmask64)(uint64_t)(valid >> 64);
    __mmask64 rv0, rv1;
    __m512i a0, a1, vo = _mm512_set1_epi8((char)older);
    draw_start_mask(s, w, mlo, mhi);
    a = w->adding ? 0 : (int)w->d;
    b = w->adding ? (int)w->d : 0;
    if (!cert_done)
        age_ties(s, h, py, q, y, x);
    age_move(s, _mm512_load_si512((const void *)s->age),
             _mm512_load_si512((const void *)(s->age + 64)), py, q, &a0, &a1);
    ring_put(s, h, x);
    rv0 = _mm512_mask_cmpge_epu8_mask(valid0, a0, vo);
    rv1 = _mm512_mask_cmpge_epu8_mask(valid1, a1, vo);
    ends = s->nties ? run_ends_age(s) : ~(kswin_u128)0;
    if (!cert_done)
        need = a >= k || b >= k ||
               merged_outside_avx512(draw_mask_of(w), a0, a1, rv0, rv1, valid0, valid1, ends,
                                     a - k, k - b);
    if (!need)
        return TIDE_DRIFT_NONE;
    s->wlast = draw_finish(s, w, remove_pdep);
    s->nfinished++;
    if (merged_outside_avx512(s->wlast, a0, a1, rv0, rv1, valid0, valid1, ends, -k, k)) {
        kswin_reset(&s->base);
        return TIDE_DRIFT_DETECTED;
    }
    return TIDE_DRIFT_NONE;
}

/* kswin_update for a full window whose merged order is valid, on the
 * AVX-512 functions (one call per value). The merged order is kept as the
 * ages of its slots' values: y (age 0) is found by a byte compare, x's
 * place by compares of 8 ring values at a time (the ring is padded with
 * +inf to 128 values), the order moved by age_move.
 * The certificate is taken on the order BEFORE the move, so that all of it
 * but its last step waits only for the draw and the old order (not for
 * x's place, the end of a long chain): without ties before and after the
 * step, with P_s the running counts over the old slots s of the mask
 * (positions after the step: old age - 1; y, age 0, counts 0) against the
 * newest values other than x, and c = #(ring values < x) (old slots
 * 0..c-1 hold the values below x), the running counts of the new order
 * are P_s - [s >= c] at every old slot but y's, and P_{c-1} - 1 at x (-1
 * when c = 0). So max S over the new order = max_s (P_s - [s >= c]) (x's
 * count is below slot c - 1's; y's slot repeats its left neighbour's, or
 * is 0 or -1 at slot 0, within the bands) and min S = min_s (P_s -
 * [s >= c - 1]) (slot c - 1 then carries x's count, the only one that can
 * undercut it; -1 checked apart when c = 0). Other steps: kswin_step_rest. */
__attribute__((always_inline, target(KSWIN_AVX512))) static inline tide_drift_state
kswin_update_avx512(kswin_det *s, double x)
{
    uint32_t win = s->win, h = s->head, py, t0, cnt, nt0, jt;
    int k = (int)s->kstar, a, b, need;
    double *ring = s->ring, y = ring[h];
    __m512i a0 = _mm512_load_si512((const void *)s->age);
    __m512i a1 = _mm512_load_si512((const void *)(s->age + 64));
    __m512i zero = _mm512_setzero_si512();
    uint64_t mlo, mhi;
    s->nonbin += not_bin_bits(x) - not_bin_bits(y);
    if (__builtin_expect(!s->nonbin, 0)) {   /* all 0/1 now: the shortcut (ones recounted) */
        s->sorted_valid = 0;
        ring[h] = x;
        s->head = h + 1 == win ? 0 : h + 1;
        recount(s);
        return kswin_binary_test(s);
    }
    /* py = y's slot, branch-free (tzcnt of 0 is 64) */
    t0 = (uint32_t)_tzcnt_u64(_mm512_cmpeq_epi8_mask(a0, zero));
    py = t0 + ((uint32_t)_tzcnt_u64(_mm512_cmpeq_epi8_mask(a1, zero)) & (0 - (t0 >> 6)));
    cnt = ring_count_f(s, h, x);
    draw_mask_ahead(s, &mlo, &mhi);
    /* without ties before, the only possible one after pairs x with the
     * smallest value >= x other than y: old slot cnt, or cnt + 1 when y
     * is there */
    nt0 = s->nties;
    jt = cnt + (py == cnt);
    if (__builtin_expect(nt0 != 0 || (jt < win && age_val(s, jt, h) == x), 0))
        return kswin_step_rest(s, x, py, cnt, mlo, mhi, 0, 0);
    /* removals a = m - stat or additions b = stat - m (no branch) */
    a = (int)(_mm_popcnt_u64(mlo) + _mm_popcnt_u64(mhi)) - (int)s->stat;
    b = a < 0 ? -a : 0;
    a = a < 0 ? 0 : a;
    {   /* the bands [T_j - a, T_j + b] (and 0's) within (-k, k): no alarm */
        kswin_u128 pm = ((kswin_u128)mhi << 64 | mlo) << 1;
        /* the terms by position (tbase, +1 on the drawn ones: 2, 1 or 0;
         * y, position 0, gets 1) gathered into merged order by the ages */
        __m512i tb0 = _mm512_sub_epi8(_mm512_load_si512((const void *)s->tbase),
                                      _mm512_movm_epi8((__mmask64)(uint64_t)pm));
        __m512i tb1 = _mm512_sub_epi8(_mm512_load_si512((const void *)(s->tbase + 64)),
                                      _mm512_movm_epi8((__mmask64)(uint64_t)(pm >> 64)));
        __m512i x0 = _mm512_permutex2var_epi8(tb0, a0, tb1);
        __m512i x1 = _mm512_permutex2var_epi8(tb0, a1, tb1);
        uint64_t out;
        out = cert_out_avx512(x0, x1, cnt, k - b, a - k);
        need = (a >= k) | (b >= k) | (out != 0) | ((cnt == 0) & (a - k >= -1));
    }
    if (__builtin_expect(need, 0))
        return kswin_step_rest(s, x, py, cnt, mlo, mhi, 1, 1);
    age_move(s, a0, a1, py, cnt - (y < x), &a0, &a1);
    ring_put(s, h, x);
    return TIDE_DRIFT_NONE;
}

/* merged_test_avx512 for kswin_update (after a rebuild). */
__attribute__((noinline, target(KSWIN_AVX512))) static int
merged_test_avx512_call(kswin_det *s)
{
    return merged_test_avx512(s, _mm512_load_si512((const void *)s->age),
                              _mm512_load_si512((const void *)(s->age + 64)));
}
#endif

#if KSWIN_X86_SIMD
/* The AVX-512 path's merged order (ages, nties) from the ring (window
 * full; ties may come in another order than the portable path's, which no
 * result depends on): each value's slot counted directly, the values below
 * it plus the equal ones at lower ring indices, 8 compares at a time, the
 * masks counted by popcnt (no insertion, no memory moves). */
__attribute__((target(KSWIN_AVX512))) static void
rebuild_merged_avx512(kswin_det *s)
{
    uint32_t win = s->win, h = s->head;
    const double *ring = s->ring;
    __m512i m1 = _mm512_set1_epi64(-1);
    uint64_t used[2] = {0, 0}, clash = 0;
    memset(s->age, 127, KSWIN_MERGED_MAX);
    for (uint32_t k = 0; k < KSWIN_MERGED_MAX + 16; k++)
        s->ringf[k] = k < win ? (float)ring[k] : INFINITY;
    /* first the values below each one (all different: that is its slot);
     * two values on one slot mean ties: then the equal ones at lower ring
     * indices are counted too */
    for (uint32_t k = 0; k < win; k++) {
        __m512d vx = _mm512_set1_pd(ring[k]);
        uint32_t q = 0;
        for (uint32_t j = 0; j < win; j += 8)   /* (the ring is padded with +inf) */
            q += (uint32_t)_mm_popcnt_u32(
                _mm512_cmp_pd_mask(_mm512_loadu_pd(ring + j), vx, _CMP_LT_OQ));
        clash |= used[q >> 6] >> (q & 63) & 1;
        used[q >> 6] |= 1ULL << (q & 63);
        s->age[q] = (uint8_t)(k >= h ? k - h : k + win - h);
    }
    for (uint32_t k = 0; clash && k < win; k++) {
        __m512d vx = _mm512_set1_pd(ring[k]);
        __m512i acc = _mm512_setzero_si512();
        for (uint32_t j = 0; j < win; j += 8) {
            __m512d b = _mm512_loadu_pd(ring + j);
            __mmask8 before = (__mmask8)(k <= j ? 0 : k - j >= 8 ? 0xFF : (1u << (k - j)) - 1);
            __mmask8 in = _mm512_cmp_pd_mask(b, vx, _CMP_LT_OQ) |
                          _mm512_mask_cmp_pd_mask(before, b, vx, _CMP_EQ_OQ);
            acc = _mm512_mask_sub_epi64(acc, in, acc, m1);
        }
        s->age[_mm512_reduce_add_epi64(acc)] = (uint8_t)(k >= h ? k - h : k + win - h);
    }
    s->nties = 0;
    for (uint32_t j = 0; j + 1 < win; j++)
        s->nties += age_val(s, j, h) == age_val(s, j + 1, h);
}
#endif

#if KSWIN_X86_SIMD
/* kswin_update_avx512 for kswin_update. */
__attribute__((noinline, target(KSWIN_AVX512))) static tide_drift_state
kswin_update_avx512_call(kswin_det *s, double x)
{
    return kswin_update_avx512(s, x);
}
#endif

#if KSWIN_X86_SIMD
static tide_drift_state kswin_step_avx2(kswin_det *s, double x);
#endif

/* One value. */
static tide_drift_state kswin_update(tide_detector *d, double x)
{
    kswin_det *s = (kswin_det *)d;
    uint32_t older = s->win - s->stat;
    int hit;
#if KSWIN_X86_SIMD
    if (s->simd && s->sorted_valid && s->count == s->win)
        return kswin_update_avx512_call(s, x);
    if (s->avx2 && s->sorted_valid && s->count == s->win)
        return kswin_step_avx2(s, x);
#endif
    if (s->count < s->win) {
        uint32_t k = s->head + s->count;   /* (< 2 win; no division) */
        s->ring[k >= s->win ? k - s->win : k] = x;
        s->count++;
        if (s->count < s->win)
            return TIDE_DRIFT_NONE;
        recount(s);
        s->sorted_valid = 0;
    } else {
        uint32_t h = s->head, mid = s->head + older >= s->win ? s->head + older - s->win
                                                              : s->head + older;
        double out = s->ring[h], moved = s->ring[mid];
        s->nonbin += (uint32_t)!is_bin(x) - (uint32_t)!is_bin(out);
        s->ones_old += (uint32_t)(moved == 1.0) - (uint32_t)(out == 1.0);
        s->ones_new += (uint32_t)(x == 1.0) - (uint32_t)(moved == 1.0);
        /* (kept while the general path will read them: always without a
         * CDF table) */
        if (s->sorted_valid && (s->nonbin || !s->hcdf)) {
            if (s->merged)   /* (AVX-512, AVX2 detectors: in their steps) */
                slide_merged(s, h, mid, x);
            else
                slide_sorted(s, h, mid, x);
        }
        else
            s->sorted_valid = 0;
        s->ring[h] = x;
        s->head = h + 1 == s->win ? 0 : h + 1;
    }
    if (!s->nonbin && s->hcdf)
        return kswin_binary_test(s);
    if (!s->sorted_valid) {
        if (s->merged) {
#if KSWIN_X86_SIMD
            if (s->simd)
                rebuild_merged_avx512(s);
            else
#endif
                rebuild_merged(s);
            for (uint32_t k = 0; s->avx2 && k < KSWIN_MERGED_MAX + 16; k++)   /* (AVX2) */
                s->ringf[k] = k < s->win ? (float)s->ring[k] : INFINITY;
        } else {
            rebuild_sorted(s);
        }
        s->sorted_valid = 1;
    }
    if (s->merged) {
#if KSWIN_X86_SIMD
        hit = s->simd   ? merged_test_avx512_call(s)
              : s->avx2 ? merged_reaches_avx2_call(s)
                        : merged_reaches_generic(s);
#else
        hit = merged_reaches_generic(s);
#endif
    } else {
        draw_ranks(s);
        hit = ks_reaches(s);
    }
    if (hit) {
        kswin_reset(d);
        return TIDE_DRIFT_DETECTED;
    }
    return TIDE_DRIFT_NONE;
}

#if KSWIN_X86_SIMD
/* The update of detectors that run the AVX-512 functions (their own
 * vtable, kswin_vt_avx512): a jump to the common step, or to kswin_update
 * for every other step (no AVX-512 target here, so that the 0/1 steps do
 * not pay the common step's prologue). */
static tide_drift_state kswin_update_simd(tide_detector *d, double x)
{
    kswin_det *s = (kswin_det *)d;
    if (__builtin_expect(s->sorted_valid && s->count == s->win, 1))
        return kswin_update_avx512_call(s, x);
    return kswin_update(d, x);
}
#endif

#if KSWIN_X86_SIMD
/* One value of a full window whose merged order is valid, on the AVX2
 * functions (one call per value): the 0/1 bookkeeping as the AVX-512 step
 * (only the count of other values; the ones are recounted when the window
 * turns all 0/1), the order moved, the test. */
__attribute__((noinline, target(KSWIN_AVX2))) static tide_drift_state
kswin_step_avx2(kswin_det *s, double x)
{
    uint32_t h = s->head, win = s->win, py, c, q, jt;
    int k = (int)s->kstar, a, b, need;
    double y = s->ring[h];
    float *blk = s->ringf + (h & ~7u);
    kswin_draw w;
    s->nonbin += not_bin_bits(x) - not_bin_bits(y);
    if (__builtin_expect(!s->nonbin, 0)) {   /* all 0/1 now: the shortcut (ones recounted) */
        s->sorted_valid = 0;
        s->ring[h] = x;
        s->head = h + 1 == win ? 0 : h + 1;
        recount(s);
        return kswin_binary_test(s);
    }
    py = s->inv[h];
    c = ring_count_f_avx2(s, x);
    q = c - (y < x);
    draw_start_avx2(s, &w);
    a = w.adding ? 0 : (int)w.d;
    b = w.adding ? (int)w.d : 0;
    /* without ties before, the only possible one after pairs x with the
     * smallest value >= x other than y: old slot c, or c + 1 when y is
     * there (what merged_ties would find) */
    jt = c + (py == c);
    if (__builtin_expect(s->nties == 0 && !(jt < win && s->ring[s->mg[jt]] == x), 1)) {
        /* no ties before or after: the certificate on the order before
         * the move (as the AVX-512 step: the mask shifted by one position,
         * the newest after the step at positions >= older + 1, then
         * - [slot >= c] for the largest count, - [slot >= c - 1] for the
         * smallest, x's own -1 apart when c = 0), so that it does not
         * wait for the move */
        need = (a >= k) | (b >= k) | ((c == 0) & (a - k >= -1)) ||
               outside_avx2_body(s, draw_mask_of(&w) << 1, a - k, k - b, 0, 0, 1, 1, c);
        order_move_avx2(s, py, q, h);
    } else {
        if (s->nties == 0)
            s->nties = 1;   /* (x pairs with the value at old slot jt) */
        else
            merged_ties(s, py, q, y, x);
        order_move_avx2(s, py, q, h);
        need = -1;
    }
    _mm256_store_ps(blk, _mm256_blendv_ps(_mm256_load_ps(blk), _mm256_set1_ps((float)x),
                                          _mm256_castsi256_ps(_mm256_cmpeq_epi32(
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                              _mm256_set1_epi32((int)(h & 7))))));
    s->ring[h] = x;
    s->head = h + 1 == win ? 0 : h + 1;
    if (need < 0)   /* (ties: the certificate on the new order, at its run ends) */
        need = a >= k || b >= k || merged_outside_avx2(s, draw_mask_of(&w), a - k, k - b);
    if (__builtin_expect(!need, 1))
        return TIDE_DRIFT_NONE;
    s->wlast = draw_finish(s, &w, remove_pdep);
    s->nfinished++;
    if (merged_outside_avx2(s, s->wlast, -k, k)) {
        kswin_reset(&s->base);
        return TIDE_DRIFT_DETECTED;
    }
    return TIDE_DRIFT_NONE;
}

/* The update of detectors on the AVX2 functions (their own vtable,
 * kswin_vt_avx2): the common step, or kswin_update for every other one. */
static tide_drift_state kswin_update_avx2(tide_detector *d, double x)
{
    kswin_det *s = (kswin_det *)d;
    if (__builtin_expect(s->sorted_valid && s->count == s->win, 1))
        return kswin_step_avx2(s, x);
    return kswin_update(d, x);
}
#endif

static int kswin_clone(const tide_detector *d, tide_detector **out, tide_err *err)
{
    const kswin_det *s = (const kswin_det *)d;
    kswin_det *c;
    /* a clone copies the CDF table instead of recomputing it (lgamma) */
    int rc = kswin_alloc(&s->base.params, s->hcdf, &c, err);
    if (rc)
        return rc;
    c->base.n_seen = s->base.n_seen;
    c->count = s->count;
    c->head = s->head;
    c->rng = s->rng;
    c->rng01 = s->rng01;
    memcpy(c->ring, s->ring, s->win * sizeof *s->ring);
    memcpy(c->perm, s->perm, (s->win - s->stat) * sizeof *s->perm);
    if (c->count == c->win)
        recount(c);
    *out = &c->base;
    return TIDE_OK;
}

static int kswin_save(const tide_detector *d, tide_wbuf *b)
{
    const kswin_det *s = (const kswin_det *)d;
    tide_wbuf_u8(b, KSWIN_FORMAT);
    tide_wbuf_u32(b, s->count);
    tide_wbuf_u32(b, s->head);
    tide_wbuf_u64(b, s->rng);
    tide_wbuf_u32(b, s->win);
    tide_wbuf_f64s(b, s->ring, s->win);
    for (uint32_t i = 0; i < s->win - s->stat; i++)
        tide_wbuf_u32(b, s->perm[i]);
    tide_wbuf_u64(b, s->rng01);
    return b->oom ? TIDE_ERR_NOMEM : TIDE_OK;
}

static int kswin_load(tide_detector *d, tide_rbuf *r, tide_err *err)
{
    kswin_det *s = (kswin_det *)d;
    uint32_t older = s->win - s->stat, count, head, win;
    uint64_t rng;
    uint8_t ver = tide_rbuf_u8(r);
    /* formats 3 and 4 are 5's layout (3's general-path draws were
     * Fisher-Yates at every window size, 4's merged-path masks had density
     * 2^-e; 5 draws nibble masks up to KSWIN_MERGED_MAX, same law);
     * formats 1 and 2 have the same layout without rng01 at the end (1's
     * perm indexed window positions; any permutation is a valid sampler
     * state); they get a fresh rng01 from the seed */
    if (!r->bad && (ver < 1 || ver > KSWIN_FORMAT))
        return tide_err_set(err, TIDE_ERR_VERSION,
                            "kswin state: unknown format version %u (this build reads 1 to %d)",
                            ver, KSWIN_FORMAT);
    count = tide_rbuf_u32(r);
    head = tide_rbuf_u32(r);
    rng = tide_rbuf_u64(r);
    win = tide_rbuf_u32(r);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state is truncated");
    if (win != s->win || count > s->win || head >= s->win)
        return tide_err_set(err, TIDE_ERR_FORMAT,
                            "kswin state does not match its parameters (window %u vs %u)", win,
                            s->win);
    if (!tide_rbuf_f64s(r, s->ring, s->win))
        return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state is truncated");
    /* update() never stores NaN/inf; one in the window would stall the KS
     * scan (found by fuzz_detector) */
    for (uint32_t i = 0; i < s->win; i++)
        if (!isfinite(s->ring[i]))
            return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state: window value %u is not finite",
                                i);
    /* a permutation: each entry below older and none twice (the rank
     * bitmap, all 0 between updates, serves as the seen-set and is cleared
     * again) */
    for (uint32_t i = 0; i < older; i++) {
        uint32_t v = s->perm[i] = tide_rbuf_u32(r);
        if (r->bad || v >= older || (s->mask[v >> 6] >> (v & 63) & 1)) {
            memset(s->mask, 0, s->nwords * sizeof *s->mask);
            return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state: bad sampler permutation");
        }
        s->mask[v >> 6] |= 1ULL << (v & 63);
    }
    memset(s->mask, 0, s->nwords * sizeof *s->mask);
    s->rng01 = ver >= 3 ? tide_rbuf_u64(r) : rng01_start(s->seed);
    if (r->bad)
        return tide_err_set(err, TIDE_ERR_FORMAT, "kswin state is truncated");
    s->count = count;
    s->head = head;
    s->rng = rng;
    s->sorted_valid = 0;
    if (s->count == s->win)
        recount(s);
    return TIDE_OK;
}

static size_t kswin_memory(const tide_detector *d)
{
    const kswin_det *s = (const kswin_det *)d;
    uint32_t older = s->win - s->stat;
    size_t path = s->merged ? 4 * KSWIN_MERGED_MAX + 256 * 3 +   /* mg, inv, age, tbase; nib */
                                  (KSWIN_MERGED_MAX + 16) * sizeof(float)   /* ringf */
                            : (size_t)older * (sizeof(uint32_t) + sizeof(double) +
                                               2 * sizeof(uint16_t) + sizeof(struct kswin_pair)) +
                                  s->win * sizeof(uint32_t) +
                                  s->stat * (sizeof(double) + 2 * sizeof(uint32_t) +
                                             sizeof(uint64_t));
    return sizeof *s + ((size_t)(s->merged ? KSWIN_MERGED_MAX : s->win) + 8) * sizeof(double) +
           (size_t)older * sizeof(uint32_t) + path +
           s->nwords * sizeof(uint64_t) +
           (s->hcdf ? (size_t)(older + 1) * (s->stat + 1) * sizeof(double) : 0);
}

/* The fields every KSWIN vtable shares; only the update differs. */
#define KSWIN_VT(update_fn)                                                                  \
    {                                                                                        \
        .name = "kswin",                                                                     \
        .summary = "KSWIN (Raab et al. 2020): KS test of the newest values vs a random draw "  \
                   "of older ones",                                                          \
        .params = KSWIN_PARAMS, .n_params = sizeof KSWIN_PARAMS / sizeof KSWIN_PARAMS[0],    \
        .create = kswin_create, .destroy = kswin_destroy, .update = (update_fn),             \
        .reset = kswin_reset, .clone = kswin_clone, .save_state = kswin_save,                \
        .load_state = kswin_load, .memory = kswin_memory, .estimate = NULL,                  \
    }

const tide_detector_vt tide_drift_kswin_vt = KSWIN_VT(kswin_update);

#if KSWIN_X86_SIMD
/* tide_drift_kswin_vt for detectors on the AVX-512 functions. */
static const tide_detector_vt kswin_vt_avx512 = KSWIN_VT(kswin_update_simd);
/* tide_drift_kswin_vt for detectors on the AVX2 functions. */
static const tide_detector_vt kswin_vt_avx2 = KSWIN_VT(kswin_update_avx2);
#endif
