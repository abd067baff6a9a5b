/* test_kswin.c — KSWIN's general (continuous-value) path, src/drift/kswin.c.
 *
 * The detector keeps one merged sorted order of the window (windows up to
 * 128 values; AVX-512 or portable functions) or the older part sorted with
 * per-rank counts of the newest part (larger windows) and reads the KS
 * statistic off them; these tests hold it to a straightforward KSWIN
 * written here:
 *  - same decisions at every value as the reference (the older values at
 *    the positions drawn by the documented sampler against the newest ones,
 *    D counted by brute force, exact p-value <= alpha and D > 0.1; for
 *    windows up to 128 the no-alarm shortcut before the draw's changes
 *    recomputed by brute force), the same generator state after every
 *    value and the same drawn positions at every finished draw, on normal
 *    streams with mean shifts up and down, uniform streams, heavy ties,
 *    normal values with exact copies of recent ones (a first tie in a
 *    window without ties) and copies one unit in the last place away (the
 *    same float, another double: the float counts' exactness check),
 *    with the default window and windows that take the other code paths
 *    (binary search, bitmap in memory, tiny windows, bits added or many
 *    removed), on the AVX-512, the AVX2 and the portable functions;
 *  - the exact p-value falls as D grows (what the precomputed threshold
 *    relies on);
 *  - the alarm rate on fresh i.i.d. windows equals the exact p-value of the
 *    threshold (binomial bounds), and the long-run alarm count stays under
 *    (tests x that p-value);
 *  - a mean shift at a known row is found within the window;
 *  - save/load and clone mid-stream continue identically; format 1 states
 *    load, unknown versions are refused; NaN is ignored.
 */
#include "testutil.h"
#include "tide/drift.h"
#include "drift/drift_impl.h"

/* ---- the reference ------------------------------------------------------- */

/* The sampler as documented in kswin.c: splitmix64 seeded with `seed`;
 * windows of more than 128 values: a permutation of the older part's
 * positions 0..older-1, counted from the oldest value (identity after a
 * reset), per test
 * stat bounded draws older - t (t = 0..stat-1) in batches whose product of
 * bounds stays <= 2^50 (at most 64 per batch), each batch the mixed-radix
 * digits of one 64-bit word u (successive 64x64 -> 128-bit products),
 * redrawn when the final low word is below 2^64 mod (product); digit t
 * swaps perm[t] and perm[t + digit]. */
typedef struct ref_kswin {
    uint32_t win, stat, older;
    double alpha;
    uint64_t seed, rng;
    double *ring;       /* arrival order, count values */
    uint32_t count;
    uint32_t *perm;
    uint64_t nfinished;   /* merged path: draws finished (not settled before) */
    uint64_t wlast[2];    /* merged path: positions of the last finished draw */
    double pk[2001];    /* exact p-value of D = k / stat */
} ref_kswin;

static uint64_t ref_next(uint64_t *s)
{
    return tide_test_rand(s);
}

static void ref_reset(ref_kswin *r)
{
    r->count = 0;
    r->rng = r->seed;
    for (uint32_t i = 0; i < r->older; i++)
        r->perm[i] = i;
}

static void ref_init(ref_kswin *r, uint32_t win, uint32_t stat, double alpha, uint64_t seed)
{
    r->win = win;
    r->stat = stat;
    r->older = win - stat;
    r->alpha = alpha;
    r->seed = seed;
    r->nfinished = 0;
    r->wlast[0] = r->wlast[1] = 0;
    r->ring = calloc(win, sizeof *r->ring);
    r->perm = calloc(r->older, sizeof *r->perm);
    assert_non_null(r->ring);
    assert_non_null(r->perm);
    for (uint32_t k = 0; k <= stat; k++)
        r->pk[k] = tide_ks_exact_pvalue((double)k / stat, stat, stat);
    ref_reset(r);
}

static void ref_free(ref_kswin *r)
{
    free(r->ring);
    free(r->perm);
}

/* Windows of at most 128 values (the detector's merged path): a mask of the
 * older positions whose bits are independent with probability t/16 (t in
 * 1..15 making older t/16 closest to stat, the smallest t on a tie): 8
 * words r_0..r_7, position p (p < 64) in the mask when the nibble of bits
 * 8(p%8)..8(p%8)+3 of r_(p/8) is below t, position p >= 64 when bits
 * 8(q%8)+4..8(q%8)+7 of r_(q/8) are, q = p - 64. With m positions in the mask, m - stat of
 * them are then removed (or stat - m added), one digit each: digit j
 * (j = 0, 1, ...) has bound top - j with top = m (or older - m) and
 * removes the k-th position in the mask (adds the k-th outside it),
 * counted from the oldest. Digits come 8 per word: the bounds
 * max(top - j, 1) for the 8 digits j of the batch (also those past the
 * last change, drawn and unused), the mixed-radix digits of one word u,
 * redrawn when the final low word is below 2^64 mod (product) (computed
 * here with 128-bit arithmetic). Here with arrays of flags and scans. */
static void ref_digits8(ref_kswin *r, int top, uint32_t *dig)
{
    uint64_t prod = 1, x, thr;
    for (int j = 0; j < 8; j++)
        prod *= (uint64_t)(top - j > 1 ? top - j : 1);
    thr = (uint64_t)(((unsigned __int128)1 << 64) % prod);
    do {
        x = ref_next(&r->rng);
        for (int j = 0; j < 8; j++) {
            unsigned __int128 m = (unsigned __int128)x * (uint64_t)(top - j > 1 ? top - j : 1);
            dig[j] = (uint32_t)(m >> 64);
            x = (uint64_t)m;
        }
    } while (x < thr);
}

/* stat * D threshold: the smallest k with p(k / stat) <= alpha and
 * k / stat > 0.1 (stat + 1: none). */
static uint32_t ref_kstar(const ref_kswin *r)
{
    uint32_t k = 0;
    while (k <= r->stat && !(r->pk[k] <= r->alpha && (double)k / r->stat > 0.1))
        k++;
    return k;
}

/* The merged path's shortcut between the mask and its changes: with
 * T(v) = #(mask values <= v) - #(newest values <= v) over the window's
 * values v, Tmax = max(0, max T), Tmin = min(0, min T), and the changes
 * (d removals or d additions) able to move each count down by up to d (or
 * up by up to d): no drift is possible when Tmax (+ d if adding) < kstar
 * and Tmin (- d if removing) > -kstar; then no digits are drawn. Returns 1
 * in that case (perm not filled). */
static int ref_draw_small(ref_kswin *r)
{
    uint32_t older = r->older, dens = 0, m = 0, n = 0, dig[8];
    int in[128];
    uint64_t rw[8];
    double best = INFINITY;
    for (uint32_t k = 1; k <= 15; k++)
        if (fabs(older * (double)k / 16.0 - r->stat) < best) {
            best = fabs(older * (double)k / 16.0 - r->stat);
            dens = k;
        }
    for (uint32_t j = 0; j < 8; j++)
        rw[j] = ref_next(&r->rng);
    for (uint32_t p = 0; p < older; p++) {
        uint32_t q = p % 64, nib = (uint32_t)(rw[q / 8] >> (8 * (q % 8) + (p < 64 ? 0 : 4))) & 15;
        in[p] = nib < dens;
    }
    for (uint32_t p = 0; p < older; p++)
        m += (uint32_t)in[p];
    {
        int tmax = 0, tmin = 0, ks = (int)ref_kstar(r);
        int up = m < r->stat ? (int)(r->stat - m) : 0, down = m > r->stat ? (int)(m - r->stat) : 0;
        for (uint32_t i = 0; i < r->win; i++) {
            int t = 0;
            for (uint32_t p = 0; p < r->win; p++)
                if (r->ring[p] <= r->ring[i])
                    t += p >= older ? -1 : in[p];
            tmax = t > tmax ? t : tmax;
            tmin = t < tmin ? t : tmin;
        }
        if (tmax + up < ks && tmin - down > -ks)
            return 1;
    }
    if (m != r->stat) {
        int want = m > r->stat;   /* flags looked for: in the mask, or not */
        uint32_t d = m > r->stat ? m - r->stat : r->stat - m;
        int top = (int)(m > r->stat ? m : older - m);
        for (uint32_t i = 0; i < d; i++) {
            if (i % 8 == 0)
                ref_digits8(r, top - (int)i, dig);
            for (uint32_t p = 0, c = 0; p < older; p++)
                if (in[p] == want && c++ == dig[i % 8]) {
                    in[p] = !want;
                    break;
                }
        }
    }
    for (uint32_t p = 0; p < older; p++)
        if (in[p])
            r->perm[n++] = p;
    assert_int_equal(n, r->stat);
    r->nfinished++;
    r->wlast[0] = r->wlast[1] = 0;
    for (uint32_t p = 0; p < older; p++)
        if (in[p])
            r->wlast[p / 64] |= 1ULL << (p % 64);
    return 0;
}

/* Draws W into perm[0..stat-1]; 1 when the merged path's shortcut
 * decides there is no drift without finishing the draw. */
static int ref_draw(ref_kswin *r)
{
    if (r->win <= 128)
        return ref_draw_small(r);
    uint32_t t = 0, dig[64];
    while (t < r->stat) {
        uint64_t prod = 1, x, thr;
        uint32_t e = t;
        while (e < r->stat && e - t < 64 && (unsigned __int128)prod * (r->older - e) <= (1ULL << 50))
            prod *= r->older - e++;
        thr = (uint64_t)(((unsigned __int128)1 << 64) % prod);
        do {
            x = ref_next(&r->rng);
            for (uint32_t j = t; j < e; j++) {
                unsigned __int128 m = (unsigned __int128)x * (r->older - j);
                dig[j - t] = (uint32_t)(m >> 64);
                x = (uint64_t)m;
            }
        } while (x < thr);
        for (uint32_t j = t; j < e; j++) {
            uint32_t k = j + dig[j - t], tmp = r->perm[j];
            r->perm[j] = r->perm[k];
            r->perm[k] = tmp;
        }
        t = e;
    }
    return 0;
}

/* stat * D of two samples of n values, by counting at every value. */
static uint32_t ref_ks(const double *w, const double *r, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t s = 0; s < 2 * n; s++) {
        double v = s < n ? w[s] : r[s - n];
        uint32_t cw = 0, cr = 0, diff;
        for (uint32_t i = 0; i < n; i++) {
            cw += w[i] <= v;
            cr += r[i] <= v;
        }
        diff = cw > cr ? cw - cr : cr - cw;
        if (diff > best)
            best = diff;
    }
    return best;
}

/* One value; 1 on drift. The stream must never make an all-0/1 window
 * (that takes the detector's hypergeometric shortcut, another draw). */
static int ref_update(ref_kswin *r, double x)
{
    double *w, *nw;
    uint32_t k;
    int drift;
    if (isnan(x) || isinf(x))
        return 0;
    if (r->count < r->win) {
        r->ring[r->count++] = x;
        if (r->count < r->win)
            return 0;
    } else {
        memmove(r->ring, r->ring + 1, (r->win - 1) * sizeof *r->ring);
        r->ring[r->win - 1] = x;
    }
    w = malloc(r->stat * sizeof *w);
    nw = malloc(r->stat * sizeof *nw);
    assert_non_null(w);
    assert_non_null(nw);
    memcpy(nw, r->ring + r->older, r->stat * sizeof *nw);
    if (ref_draw(r)) {
        free(w);
        free(nw);
        return 0;
    }
    for (uint32_t t = 0; t < r->stat; t++)
        w[t] = r->ring[r->perm[t]];
    k = ref_ks(w, nw, r->stat);
    drift = r->pk[k] <= r->alpha && (double)k / r->stat > 0.1;
    free(w);
    free(nw);
    if (drift)
        ref_reset(r);
    return drift;
}

/* ---- streams -------------------------------------------------------------- */

enum { S_NORMAL_SHIFT, S_UNIFORM, S_TIES, S_NORMAL_DRIFTY, S_NORMAL_DOWN, S_NEAR, S_NKIND };

/* S_NEAR's last 16 values. */
static double near_hist[16];

static double normal(uint64_t *s)
{
    double u = tide_test_uniform(s), v = tide_test_uniform(s);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static double stream_value(int kind, int i, uint64_t *s)
{
    switch (kind) {
    case S_NORMAL_SHIFT:   /* N(0,1), N(1.5,1) from row 2000 */
        return normal(s) + (i >= 2000 ? 1.5 : 0.0);
    case S_UNIFORM:        /* U(0,1), U(0.3,1.3) from row 3000 */
        return tide_test_uniform(s) + (i >= 3000 ? 0.3 : 0.0);
    case S_TIES:           /* 4 values (never 0 or 1), shifting at 2500 */
        return floor(tide_test_uniform(s) * 4) + 2.5 + (i >= 2500 && tide_test_uniform(s) < 0.5);
    case S_NORMAL_DOWN:    /* N(0,1), then N(-1,1) for 250 rows in every 1000 */
        return normal(s) - (i % 1000 >= 600 && i % 1000 < 850 ? 1.0 : 0.0);
    case S_NEAR: {         /* N(0,1) (N(1,1) from row 2000), 4% of the values an
                            * exact copy of one of the last 16 (a first tie in
                            * a window without ties), 8% a copy moved by one
                            * unit in the last place (a different double, the
                            * same float: the float counts must check) */
        double u = tide_test_uniform(s), v;
        double old = near_hist[(uint32_t)(i + 15 - (int)(tide_test_uniform(s) * 16)) % 16];
        if (i >= 16 && u < 0.04)
            v = old;
        else if (i >= 16 && u < 0.12)
            v = nextafter(old, u < 0.08 ? INFINITY : -INFINITY);
        else
            v = normal(s) + (i >= 2000 ? 1.0 : 0.0);
        near_hist[i % 16] = v;
        return v;
    }
    default:               /* N(mu,1), mu a slow random walk: frequent alarms */
        return normal(s) + 0.5 * sin(i / 300.0);
    }
}

static tide_detector *make_kswin(uint32_t win, uint32_t stat, double alpha, uint64_t seed)
{
    char a[4][64];
    const char *kv[4] = {a[0], a[1], a[2], a[3]};
    tide_detector *d = NULL;
    tide_err e;
    snprintf(a[0], sizeof a[0], "window_size=%u", win);
    snprintf(a[1], sizeof a[1], "stat_size=%u", stat);
    snprintf(a[2], sizeof a[2], "alpha=%.17g", alpha);
    snprintf(a[3], sizeof a[3], "seed=%llu", (unsigned long long)seed);
    if (tide_detector_new("kswin", kv, 4, &d, &e) != TIDE_OK)
        fail_msg("kswin: %s", e.msg);
    return d;
}

/* ---- tests ---------------------------------------------------------------- */

/* The general path's generator state, from the saved state: KSWIN's part
 * is the last 1 + 20 + 8 win + 4 older + 8 bytes (test_kswin_state_versions)
 * and holds the format byte, count, head, then the state (little-endian). */
static uint64_t saved_rng(const tide_detector *d, uint32_t win, uint32_t older)
{
    tide_wbuf w;
    uint64_t v = 0;
    size_t off;
    tide_wbuf_init(&w);
    assert_int_equal(tide_detector_save(d, &w), TIDE_OK);
    off = w.len - (1 + 20 + 8 * (size_t)win + 4 * (size_t)older + 8) + 9;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)w.data[off + i] << (8 * i);
    tide_wbuf_free(&w);
    return v;
}

/* Decisions value by value against the reference, and the generator
 * state after every value (so that a draw taking other words than the
 * documented ones is caught even when no decision changes). Configurations: the
 * defaults (100/30/0.005: merged path, draw density 7/16); 12/4/0.3 (tiny,
 * many alarms, density 8/16); 128/20/0.05 (merged path with no padding
 * slot, density 3/16); 80/10/0.1 (older 70, density 2/16: bits mostly
 * added); 116/30/0.2 (older 86, density 6/16: sometimes 8 changes or more,
 * a low threshold: few tests settled before the changes); 300/60/0.05 (older 240: counting, bitmap of 4 words in memory);
 * 700/50/0.02 (older 650: binary search). The merged path runs three
 * times: with the best functions of this CPU (AVX-512 where it has them),
 * with the AVX2 ones and with the portable ones
 * (tide_drift_kswin_force_path); on a CPU with AVX2 the AVX2 run must
 * really take them. */
static void test_kswin_matches_reference(void **st)
{
    static const struct {
        uint32_t win, stat;
        double alpha;
        int n;
    } CFG[] = {{100, 30, 0.005, 6000}, {12, 4, 0.3, 6000},   {128, 20, 0.05, 4000},
               {80, 10, 0.1, 4000},    {116, 30, 0.2, 3000},  {300, 60, 0.05, 4000},
               {700, 50, 0.02, 3000}};
    const size_t NCFG = sizeof CFG / sizeof CFG[0];
    static const char *const PATH[] = {"default", "AVX2", "portable"};
    (void)st;
    for (size_t c = 0; c < 3 * NCFG; c++) {
        int drifts = 0;
        const char *path = PATH[c / NCFG];
        /* path 2: AVX2 functions; 1: portable */
        int have = tide_drift_kswin_force_path(c / NCFG == 1 ? 2 : c / NCFG == 2 ? 1 : 0);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        if (c / NCFG == 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
            __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))
            assert_true(have);
        /* the default on a CPU with every AVX-512 feature the step uses is
         * the AVX-512 step (else its check would silently send these runs
         * elsewhere) */
        const int avx512 = __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512dq") &&
                           __builtin_cpu_supports("avx512vbmi") &&
                           __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                           __builtin_cpu_supports("popcnt");
#else
        const int avx512 = 0;
#endif
        (void)have;
        for (int kind = 0; kind < S_NKIND; kind++) {
            uint64_t seed = 100 + (uint64_t)(c % NCFG) * 10 + (uint64_t)kind, s = seed * 7919;
            tide_detector *d = make_kswin(CFG[c % NCFG].win, CFG[c % NCFG].stat, CFG[c % NCFG].alpha, seed);
            ref_kswin r;
            /* the forced functions are the ones that run */
            if (CFG[c % NCFG].win <= 128 && c / NCFG > 0)
                assert_int_equal(tide_drift_kswin_path(d), c / NCFG == 2 ? 'p' : have ? '2' : 'p');
            if (CFG[c % NCFG].win <= 128 && c / NCFG == 0 && avx512)
                assert_int_equal(tide_drift_kswin_path(d), '5');
            ref_init(&r, CFG[c % NCFG].win, CFG[c % NCFG].stat, CFG[c % NCFG].alpha, seed);
            for (int i = 0; i < CFG[c % NCFG].n; i++) {
                double x = stream_value(kind, i, &s);
                int a = tide_detector_update(d, x) == TIDE_DRIFT_DETECTED, b = ref_update(&r, x);
                if (a != b)
                    fail_msg("kswin %u/%u/%g (%s), stream %d, value %d (%g): detector %d, "
                             "reference %d",
                             CFG[c % NCFG].win, CFG[c % NCFG].stat, CFG[c % NCFG].alpha,
                             path, kind, i, x, a, b);
                if (r.win <= 128) {   /* the drawn positions themselves */
                    uint64_t lo, hi, cnt;
                    assert_true(tide_drift_kswin_last_draw(d, &lo, &hi, &cnt));
                    if (cnt != r.nfinished)
                        fail_msg("kswin %u/%u (%s), stream %d, value %d: %llu draws finished, "
                                 "reference %llu",
                                 r.win, r.stat, path, kind, i, (unsigned long long)cnt,
                                 (unsigned long long)r.nfinished);
                    if (lo != r.wlast[0] || hi != r.wlast[1])
                        fail_msg("kswin %u/%u (%s), stream %d, value %d: drawn positions "
                                 "differ from the reference's",
                                 r.win, r.stat, path, kind, i);
                }
                if (saved_rng(d, r.win, r.older) != r.rng)
                    fail_msg("kswin %u/%u/%g (%s), stream %d, value %d: generator state "
                             "differs from the reference's",
                             CFG[c % NCFG].win, CFG[c % NCFG].stat, CFG[c % NCFG].alpha,
                             path, kind, i);
                drifts += a;
            }
            ref_free(&r);
            tide_detector_free(d);
        }
        /* the comparison must have seen both outcomes */
        if (drifts < 5)
            fail_msg("kswin %u/%u: only %d drifts over 6 streams", CFG[c % NCFG].win, CFG[c % NCFG].stat, drifts);
    }
    tide_drift_kswin_force_path(0);
}

/* The exact p-value of D = k/n for two samples of n falls (weakly) as k
 * grows, down to 2/C(2n,n) at k = n: the detector's threshold k_crit (smallest
 * k with p <= alpha) is then equivalent to testing p <= alpha. Also the
 * hand-computable ends: p(0) = 1, p(1) = 2 / C(2n, n) for D = 1. */
static void test_kswin_pvalue_monotone(void **st)
{
    static const uint32_t N[] = {2, 3, 4, 10, 30, 50, 100};
    (void)st;
    for (size_t t = 0; t < sizeof N / sizeof N[0]; t++) {
        uint32_t n = N[t];
        double prev = 2, c = 1;   /* C(2n, n) */
        for (uint32_t i = 1; i <= n; i++)
            c = c * (n + i) / i;
        for (uint32_t k = 0; k <= n; k++) {
            double p = tide_ks_exact_pvalue((double)k / n, n, n);
            if (!(p <= prev + 1e-12))
                fail_msg("n = %u: p(%u/n) = %.12g > p(%u/n) = %.12g", n, k, p, k - 1, prev);
            prev = p;
        }
        assert_near(tide_ks_exact_pvalue(0, n, n), 1.0, 1e-12);
        assert_near(tide_ks_exact_pvalue(1.0, n, n) * c / 2, 1.0, 1e-9);
    }
}

/* Smallest k with p(k/stat) <= alpha and k/stat > 0.1, and its p-value. */
static uint32_t kstar_of(uint32_t stat, double alpha, double *pk)
{
    for (uint32_t k = 0; k <= stat; k++) {
        double p = tide_ks_exact_pvalue((double)k / stat, stat, stat);
        if (p <= alpha && (double)k / stat > 0.1) {
            *pk = p;
            return k;
        }
    }
    *pk = 0;
    return stat + 1;
}

/* On a fresh window of i.i.d. continuous values, W (a uniform draw of the
 * older i.i.d. values) and R are independent i.i.d. samples, so the first
 * test (at the window_size-th value) alarms with probability exactly
 * P(stat D >= k_crit) = p(k_crit/stat). Trials: reset, window_size fresh N(0,1)
 * values, count alarms on the last. Bound: 5 binomial standard deviations.
 * 20000 trials of window 20 / stat 10 / alpha 0.1 and 6000 of the
 * defaults (p(14/30) = 0.00253). Measured: 1034 alarms (expected 1049,
 * p(6/10) = 0.0525) and 11 (expected 15.2). */
static void test_kswin_fresh_window_alarm_rate(void **st)
{
    static const struct {
        uint32_t win, stat;
        double alpha;
        int trials;
    } CFG[] = {{20, 10, 0.1, 20000}, {100, 30, 0.005, 6000}};
    (void)st;
    for (size_t c = 0; c < 2; c++) {
        double pk, mean, sd;
        uint32_t ks = kstar_of(CFG[c].stat, CFG[c].alpha, &pk);
        tide_detector *d = make_kswin(CFG[c].win, CFG[c].stat, CFG[c].alpha, 5 + c);
        uint64_t s = 2024 + c;
        int alarms = 0;
        assert_true(ks <= CFG[c].stat);
        for (int t = 0; t < CFG[c].trials; t++) {
            tide_detector_reset(d);
            for (uint32_t i = 0; i + 1 < CFG[c].win; i++)
                if (tide_detector_update(d, normal(&s)) != TIDE_DRIFT_NONE)
                    fail_msg("kswin alarmed before its window was full");
            alarms += tide_detector_update(d, normal(&s)) == TIDE_DRIFT_DETECTED;
        }
        mean = CFG[c].trials * pk;
        sd = sqrt(CFG[c].trials * pk * (1 - pk));
        if (fabs(alarms - mean) > 5 * sd + 1)
            fail_msg("kswin %u/%u/%g: %d alarms on %d fresh windows, expected %.1f +- %.1f "
                     "(k_crit = %u, p = %.5f)",
                     CFG[c].win, CFG[c].stat, CFG[c].alpha, alarms, CFG[c].trials, mean, 5 * sd,
                     ks, pk);
        tide_detector_free(d);
    }
}

/* Long stationary N(0,1) stream, defaults: the test at each value alarms
 * only if the KS statistic of its window (uniform draw, i.i.d. values)
 * reaches k_crit, an event of probability p(k_crit/30) = 0.00253, so the
 * expected number of alarms is at most (values tested) x 0.00253. 200,000
 * values: at most 506 expected, asserted <= 506 + 5 sqrt(506); and not
 * absurdly few (> 100: the tests do run). Measured: 251 (each alarm resets
 * the window: 99 values without a test, and tests after a quiet stretch
 * are conditioned on it). */
static void test_kswin_stationary_alarms(void **st)
{
    double pk;
    tide_detector *d = make_kswin(100, 30, 0.005, 9);
    uint64_t s = 77;
    int alarms = 0, n = 200000;
    (void)st;
    (void)kstar_of(30, 0.005, &pk);
    for (int i = 0; i < n; i++)
        alarms += tide_detector_update(d, normal(&s)) == TIDE_DRIFT_DETECTED;
    if (alarms > n * pk + 5 * sqrt(n * pk) || alarms < 100)
        fail_msg("kswin: %d alarms on %d stationary values (bound %.0f)", alarms, n,
                 n * pk + 5 * sqrt(n * pk));
    tide_detector_free(d);
}

/* Mean shift N(0,1) -> N(2,1) at row 1000, defaults, 40 seeds. Seeds
 * whose last false alarm is after row 900 start the change with a window
 * not yet full of pre-change values and are left out (p(k_crit/30) =
 * 0.00253 per test). For the others: once most of the newest 30 values are
 * post-change, W (pre-change) against R gives stat * D near
 * 30 x (2 Phi(1) - 1) = 20 > k_crit = 14, while the older part still holds
 * 70 pre-change values for 70 more values: the alarm must come within 100
 * values in every such seed, with a mean delay under 40 (about 15-20
 * post-change values make D reach 14/30), and within 10 values in at most
 * a quarter of them (10 shifted values of 30 move D by about
 * 10/30 x 0.68 = 0.23, 7 of the 14 needed: the rest is noise, sd ~3).
 * At least 20 seeds must qualify. Measured: 35 qualify, mean delay 13.9,
 * 3 within 10 values. */
static void test_kswin_mean_shift_delay(void **st)
{
    int eligible = 0, sum = 0, early = 0;
    (void)st;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        tide_detector *d = make_kswin(100, 30, 0.005, seed);
        uint64_t s = seed * 31337;
        int first = -1, last_false = -1000;
        for (int i = 0; i < 1200 && first < 0; i++) {
            double x = normal(&s) + (i >= 1000 ? 2.0 : 0.0);
            if (tide_detector_update(d, x) == TIDE_DRIFT_DETECTED) {
                if (i < 1000)
                    last_false = i;
                else
                    first = i - 1000;
            }
        }
        tide_detector_free(d);
        if (last_false > 900)
            continue;
        eligible++;
        if (first < 0 || first >= 100)
            fail_msg("kswin seed %llu: shift at 1000 found at delay %d", (unsigned long long)seed,
                     first);
        sum += first;
        early += first < 10;
    }
    if (eligible < 20 || sum >= 40 * eligible || early > eligible / 4)
        fail_msg("kswin: %d seeds qualified, mean delay %.1f, %d alarms within 10 values",
                 eligible, eligible ? (double)sum / eligible : 0.0, early);
}

/* Saves, reloads and clones at several points of a mixed stream (0/1
 * stretches, continuous, ties): every copy answers the next 2000 values as
 * the original, and the saved bytes after that are identical. */
static void test_kswin_save_load_clone_continue(void **st)
{
    static const int AT[] = {50, 99, 100, 101, 777, 2500};
    (void)st;
    for (size_t a = 0; a < sizeof AT / sizeof AT[0]; a++) {
        tide_detector *d = make_kswin(100, 30, 0.01, 3), *back = NULL, *cl = NULL;
        uint64_t s = 99;
        tide_wbuf w, w1, w2, w3;
        tide_rbuf r;
        tide_err e;
        int i = 0;
        for (; i < AT[a]; i++)
            (void)tide_detector_update(d, stream_value(S_NORMAL_DRIFTY, i, &s));
        tide_wbuf_init(&w);
        assert_int_equal(tide_detector_save(d, &w), TIDE_OK);
        tide_rbuf_init(&r, w.data, w.len);
        assert_int_equal(tide_detector_load(&r, &back, &e), TIDE_OK);
        assert_int_equal(tide_detector_clone(d, &cl, &e), TIDE_OK);
        for (int j = 0; j < 2000; j++, i++) {
            double x = (j / 200) % 3 == 0   ? (tide_test_uniform(&s) < 0.3 ? 1.0 : 0.0)
                       : (j / 200) % 3 == 1 ? stream_value(S_NORMAL_DRIFTY, i, &s)
                                            : stream_value(S_TIES, i, &s);
            tide_drift_state x0 = tide_detector_update(d, x), x1 = tide_detector_update(back, x),
                             x2 = tide_detector_update(cl, x);
            if (x0 != x1 || x0 != x2)
                fail_msg("kswin copy made at value %d: value %d gives %d (original), %d "
                         "(reloaded), %d (clone)",
                         AT[a], i, x0, x1, x2);
        }
        tide_wbuf_init(&w1);
        tide_wbuf_init(&w2);
        tide_wbuf_init(&w3);
        assert_int_equal(tide_detector_save(d, &w1), TIDE_OK);
        assert_int_equal(tide_detector_save(back, &w2), TIDE_OK);
        assert_int_equal(tide_detector_save(cl, &w3), TIDE_OK);
        assert_int_equal(w1.len, w2.len);
        assert_int_equal(w1.len, w3.len);
        assert_memory_equal(w1.data, w2.data, w1.len);
        assert_memory_equal(w1.data, w3.data, w1.len);
        tide_wbuf_free(&w);
        tide_wbuf_free(&w1);
        tide_wbuf_free(&w2);
        tide_wbuf_free(&w3);
        tide_detector_free(d);
        tide_detector_free(back);
        tide_detector_free(cl);
    }
}

/* The state starts with its format byte, followed by count, head, rng,
 * window (u32, u32, u64, u32), the window's doubles, the permutation
 * (u32 each) and rng01 (u64): its offset is len - (1 + 20 + 8 win + 4 older
 * + 8). Format 5 is written; formats 3 and 4 have the same layout and load;
 * formats 1 and 2 are the same without rng01 and load (and run); 6 is
 * refused with a message that names the version. */
static void test_kswin_state_versions(void **st)
{
    tide_detector *d = make_kswin(100, 30, 0.005, 1), *back = NULL;
    uint64_t s = 5;
    tide_wbuf w;
    tide_rbuf r;
    tide_err e;
    size_t off;
    (void)st;
    for (int i = 0; i < 150; i++)
        (void)tide_detector_update(d, normal(&s));
    tide_wbuf_init(&w);
    assert_int_equal(tide_detector_save(d, &w), TIDE_OK);
    off = w.len - (1 + 20 + 8 * 100 + 4 * 70 + 8);
    assert_int_equal(w.data[off], 5);
    for (int ver = 1; ver <= 4; ver++) {
        w.data[off] = (uint8_t)ver;
        tide_rbuf_init(&r, w.data, ver >= 3 ? w.len : w.len - 8);
        assert_int_equal(tide_detector_load(&r, &back, &e), TIDE_OK);
        for (int i = 0; i < 300; i++)
            (void)tide_detector_update(back, normal(&s));
        tide_detector_free(back);
        back = NULL;
    }
    w.data[off] = 6;
    tide_rbuf_init(&r, w.data, w.len);
    assert_int_equal(tide_detector_load(&r, &back, &e), TIDE_ERR_VERSION);
    assert_null(back);
    assert_non_null(strstr(e.msg, "version 6"));
    tide_wbuf_free(&w);
    tide_detector_free(d);
}

/* NaN and infinities are ignored (not counted, no state change): the
 * detector fed a stream with them interleaved decides as one fed the
 * stream without them. */
static void test_kswin_ignores_nan(void **st)
{
    tide_detector *a = make_kswin(100, 30, 0.05, 4), *b = make_kswin(100, 30, 0.05, 4);
    uint64_t s = 8;
    int drifts = 0;
    (void)st;
    for (int i = 0; i < 3000; i++) {
        double x = stream_value(S_NORMAL_DRIFTY, i, &s);
        tide_drift_state sa, sb;
        if (i % 7 == 0) {
            assert_int_equal(tide_detector_update(a, NAN), TIDE_DRIFT_NONE);
            assert_int_equal(tide_detector_update(a, INFINITY), TIDE_DRIFT_NONE);
        }
        sa = tide_detector_update(a, x);
        sb = tide_detector_update(b, x);
        assert_int_equal(sa, sb);
        drifts += sa == TIDE_DRIFT_DETECTED;
    }
    assert_true(a->n_seen == 3000);
    assert_true(drifts > 0);
    tide_detector_free(a);
    tide_detector_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kswin_matches_reference),
        cmocka_unit_test(test_kswin_pvalue_monotone),
        cmocka_unit_test(test_kswin_fresh_window_alarm_rate),
        cmocka_unit_test(test_kswin_stationary_alarms),
        cmocka_unit_test(test_kswin_mean_shift_delay),
        cmocka_unit_test(test_kswin_save_load_clone_continue),
        cmocka_unit_test(test_kswin_state_versions),
        cmocka_unit_test(test_kswin_ignores_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
