/*
 * vw.c — Vowpal Wabbit text format reader, following the input format
 * described in VW's wiki ("Input format", github.com/VowpalWabbit/
 * vowpal_wabbit/wiki/Input-format):
 *
 *     [label] [importance [initial]] ['tag]|ns[:scale] f[:v] f2 ... |ns2 ...
 *
 * A feature without ":v" has value 1. '|' followed by a space opens the
 * default namespace "". ":scale" multiplies every value of its namespace. The
 * tag is a token starting with ' before the first '|', or a non-numeric token
 * touching the '|'. The label may be any token (numeric labels also fill
 * target_num); a line without one is unlabelled. The initial/base value is
 * accepted and ignored.
 *
 * The hot path (one call per row) is a single pass over the line with a
 * byte-class table and the inline Clinger number parser; fields point into
 * the reader's buffer and the fields array is reused, so steady state does
 * not allocate.
 *
 * The same pass has a second, fused output (tide_reader_next_hashed, used by
 * tide_featurize_next when there are no quadratic pairs): instead of a
 * tide_field per feature (nine stores the featurizer then reads back), each
 * name is hashed where the scan ends (feat/fhash.h, the featurizer's own
 * hash; h(ns) once per namespace) and {bucket, float value} is written
 * straight into the caller's vector. One body, vw_parse_as(), serves both:
 * its `hashed` argument is a constant in each of the two callers, so each
 * gets its own specialised loop and the tokenizing cannot drift apart.
 */
#include "io/io_priv.h"

#include <stdlib.h>
#include <string.h>

#include "feat/fhash.h"
#include "tide/feat.h"

enum { C_WS = 1, C_BAR = 2, C_COLON = 4 };

/* Every byte <= 0x20 (space and control characters) separates tokens. */
static const unsigned char CLS[256] = {
    [0] = C_WS, [1] = C_WS, [2] = C_WS, [3] = C_WS, [4] = C_WS, [5] = C_WS, [6] = C_WS, [7]
    = C_WS, [8] = C_WS, [9] = C_WS, [10] = C_WS, [11] = C_WS, [12] = C_WS, [13] = C_WS, [14]
    = C_WS, [15] = C_WS, [16] = C_WS, [17] = C_WS, [18] = C_WS, [19] = C_WS, [20] = C_WS,
    [21] = C_WS, [22] = C_WS, [23] = C_WS, [24] = C_WS, [25] = C_WS, [26] = C_WS, [27] =
    C_WS, [28] = C_WS, [29] = C_WS, [30] = C_WS, [31] = C_WS, [32] = C_WS, ['|'] = C_BAR,
    [':'] = C_COLON,
};

#define CL(c) CLS[(unsigned char)(c)]

static int vw_err(const tide_reader *r, uint64_t lineno, const char *s, const char *at,
                  tide_err *err, const char *what, const char *tok, const char *tok_end)
{
    return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu:%zu: %s '%.*s'", r->name,
                        (unsigned long long)lineno, (size_t)(at - s) + 1, what,
                        (int)(tok_end - tok > 60 ? 60 : tok_end - tok), tok);
}

/* End of the token starting at t (whitespace or '|'). */
static const char *tok_end(const char *t, const char *e)
{
    while (t < e && !(CL(*t) & (C_WS | C_BAR)))
        t++;
    return t;
}

/* ---- the fused path's fast lane ---------------------------------------
 *
 * Most VW lines are regular: single spaces, `name:number` with a plain
 * decimal number, short names. For those the feature section is split by a
 * structural bitmap instead of byte loops (the idea of simdjson's first
 * stage: G. Langdale, D. Lemire, "Parsing gigabytes of JSON per second",
 * VLDB Journal 28, 2019): every 64-byte block of the line gives one 64-bit
 * word with a bit per separator (a byte <= 0x20, ':' or '|', the bytes with
 * a CLS class), computed with vector compares that depend on no earlier
 * feature. The separators are then consumed in order, one
 * count-trailing-zeros each, so a token's length is known without a
 * data-dependent loop exit. A number's digits (the point squeezed out by
 * one byte shuffle) are converted in one vector pass: pairs, then fours,
 * then eights, by multiply-adds (the SIMD form of the SWAR digit
 * conversion, D. Lemire, "Quickly parsing eight digits", 2018). Names of up
 * to 8 bytes are hashed through a memo (the name's bytes as one word + the
 * seed -> its XXH3 hash), which turns the repeated names of a stream into
 * one table lookup; the memo only ever holds true (key, hash) pairs, so a
 * miss just recomputes.
 * Anything the lane does not take (a tab or double space, a namespace
 * scale, an exponent, more than 15 digits, an empty name, --ignore, a full
 * vector) sends the whole feature section to the general loop below, which
 * is the reference: the lane's output equals the general loop's for every
 * line it accepts (test_vw_fast_lane_matches, test_vw_fast_lane_midpoints).
 * The lane is built for x86-64 with AVX2 and BMI2 (x86-64-v3) and taken
 * when the CPU has them; elsewhere every line takes the general loop. */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VW_LANE 1
#define VW_TARGET __attribute__((target("avx2,bmi,bmi2,popcnt")))
#define VW_MEMO_BITS 12

typedef struct vw_memo_ent {
    uint64_t w;      /* the name's bytes, zero above its length (names hold no NUL) */
    uint64_t seed;   /* h(ns) for a feature name, 0 for a namespace name */
    uint64_t h;      /* XXH3_64bits_withSeed(name, seed) */
} vw_memo_ent;

struct tide_vw_memo {
    vw_memo_ent e[1u << VW_MEMO_BITS];
    /* shuffle of a number's 16 bytes (minus '0') that right-aligns its n
     * digits and skips the point at byte k: index [n][k], 0 <= k <= n <= 15
     * (k = n: no point among the digits) */
    uint8_t shuf[16][16][16];
    int wide;   /* 1: numbers are converted eight and four at a time (AVX-512) */
};

/* Tests: -1 (default) converts numbers eight and four at a time where the CPU has
 * AVX-512 (F, BW, DQ, VL, CD), 0 never; read when a reader first uses the
 * lane (tide_vw_force_wide in io_priv.h). */
static int vw_force_wide = -1;

static int vw_wide_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd");
}

int tide_vw_force_wide(int mode)
{
    vw_force_wide = mode;
    return vw_wide_ok() && mode != 0;
}


/* NULL when the CPU lacks the lane's instructions or memory is short: then
 * every line takes the general loop. */
static struct tide_vw_memo *vw_memo_new(void)
{
    struct tide_vw_memo *m;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2") ||
        !__builtin_cpu_supports("bmi") || !__builtin_cpu_supports("popcnt"))
        return NULL;
    if (!(m = malloc(sizeof *m)))
        return NULL;
    m->wide = vw_wide_ok() && vw_force_wide != 0;
    /* every slot a true pair: the empty name with seed 0 */
    const uint64_t h0 = XXH3_64bits_withSeed("", 0, 0);
    for (size_t i = 0; i < (1u << VW_MEMO_BITS); i++)
        m->e[i] = (vw_memo_ent){0, 0, h0};
    for (int n = 0; n < 16; n++)
        for (int k = 0; k <= n; k++)
            for (int j = 0; j < 16; j++) {
                int t = j - (16 - n);   /* digit index, most significant first */
                m->shuf[n][k][j] = t < 0 ? 0x80 : (uint8_t)(t + (t >= k));
            }
    return m;
}

/* XXH3_64bits_withSeed(name, len, seed) for len <= 8, the name's bytes in w.
 * (XXH3_64bits(x) is the seed-0 case, so namespaces share the table.) */
static inline uint64_t vw_memo_hash(struct tide_vw_memo *m, uint64_t w, const char *name,
                                    size_t len, uint64_t seed)
{
    vw_memo_ent *x = &m->e[((w ^ seed) * 0x9E3779B97F4A7C15ULL) >> (64 - VW_MEMO_BITS)];
    if (x->w == w && x->seed == seed)
        return x->h;
    x->w = w;
    x->seed = seed;
    x->h = XXH3_64bits_withSeed(name, len, seed);
    return x->h;
}

/* The first len (0..8) bytes at p as a word, zero above. */
static inline VW_TARGET uint64_t vw_word(const char *p, size_t len)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return _bzhi_u64(w, (unsigned)(8 * len));
}

/* Separator bitmap of the 64 bytes at p (bit i: CLS[p[i]] != 0). */
static inline VW_TARGET uint64_t vw_sep64(const char *p)
{
    const __m256i sp = _mm256_set1_epi8(0x20), co = _mm256_set1_epi8(':'),
                  ba = _mm256_set1_epi8('|');
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)p),
            x1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
    __m256i t0 = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_min_epu8(x0, sp), x0),
                                 _mm256_or_si256(_mm256_cmpeq_epi8(x0, co),
                                                 _mm256_cmpeq_epi8(x0, ba)));
    __m256i t1 = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_min_epu8(x1, sp), x1),
                                 _mm256_or_si256(_mm256_cmpeq_epi8(x1, co),
                                                 _mm256_cmpeq_epi8(x1, ba)));
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(t0) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(t1) << 32;
}

static const double VW_INV10[16] = {1,     1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                    1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15};
static const double VW_SIGN[2] = {1.0, -1.0};

/* A plain decimal [-]D*[.D*] of 1 to 15 digits in [a, b) (b: the separator
 * after it) into *out as the general parser computes it (tide_io_num_nul
 * and tide_io_num: the correctly rounded double of m / 10^nfr, then rounded
 * to a float); 0 for anything else. Reads 16 bytes at a, inside the line's
 * slack. */
static inline VW_TARGET int vw_fast_num(const struct tide_vw_memo *mm, const char *a,
                                        const char *b, float *out)
{
    const uint64_t neg = *a == '-';
    const char *d = a + neg;
    const unsigned L = (unsigned)(b - d);   /* b >= d: '-' is no separator */
    __m128i x, y;
    unsigned k, n, nfr;
    uint64_t q, m, bits;
    double v;
    if (L - 1 >= 16)
        return 0;
    x = _mm_loadu_si128((const __m128i *)(const void *)d);
    /* the first point inside the span, or L */
    k = (unsigned)_tzcnt_u32((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.'))) |
                             (1u << L));
    nfr = L - k - (k < L);   /* digits after the point (0 without one) */
    n = k + nfr;
    if (n - 1 >= 15)   /* 1..15 digits: m < 10^15 < 2^53 */
        return 0;
    /* the digits, right-aligned, point skipped; every kept byte must be a digit */
    y = _mm_shuffle_epi8(_mm_sub_epi8(x, _mm_set1_epi8('0')),
                         _mm_loadu_si128((const __m128i *)(const void *)mm->shuf[n][k]));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8(9)), y)) != 0xFFFF)
        return 0;
    y = _mm_maddubs_epi16(y, _mm_set1_epi16(0x010A));           /* 10 a + b */
    y = _mm_madd_epi16(y, _mm_set1_epi32(0x00010064));          /* 100 ab + cd */
    y = _mm_packs_epi32(y, y);                                   /* <= 9999: 16 bits */
    y = _mm_madd_epi16(y, _mm_set1_epi32(0x00012710));          /* 10^4 abcd + efgh */
    q = (uint64_t)_mm_cvtsi128_si64(y);
    m = (q & 0xFFFFFFFFu) * 100000000u + (q >> 32);
    /* m / 10^nfr as a float, as the general path computes it: the correctly
     * rounded double quotient, then rounded to float. The product with the
     * rounded reciprocal is within 2 ulp of the quotient; unless that is
     * within 4 ulp of a float rounding point (a midpoint between two
     * floats: bits 28..0 of the double's significand = 1 << 28), both
     * round to the same float, so the division is made only near one. */
    v = (double)m * VW_INV10[nfr];
    memcpy(&bits, &v, sizeof bits);
    if (((bits & 0x1FFFFFFFULL) - ((1ULL << 28) - 4)) <= 8)
        v = (double)m / tide_io_pow10[nfr];
    *out = (float)(v * VW_SIGN[neg]);
    return 1;
}

/* Batch conversion (CPUs with AVX-512): up to VW_NB numbers of a line are
 * collected (start, end, feature slot) while the line is split, then
 * converted eight and four at a time, every step in vector registers, with
 * vw_fast_num's result bit for bit (test_vw_fast_lane_matches and
 * _midpoints run both ways, fuzz_vw too). Without AVX-512 each number is
 * converted where it is found: collecting costs more than it saves there. */
#define VW_NB 32

#define VW_TARGET512 __attribute__((target("avx2,bmi,bmi2,popcnt,avx512f,avx512bw,avx512dq,avx512vl,avx512cd")))

/* The masks of byte c in the four 16-byte lanes of X0 then of X1, lane j's
 * in the low 16 bits of 64-bit lane j (higher bits: the lanes after it). */
static inline __attribute__((always_inline)) VW_TARGET512 __m512i
vw_lane_masks(__m512i X0, __m512i X1, char c, __m512i sh16)
{
    const __m512i cv = _mm512_set1_epi8(c);
    return _mm512_srlv_epi64(
        _mm512_inserti64x4(_mm512_set1_epi64((long long)_mm512_cmpeq_epi8_mask(X0, cv)),
                           _mm256_set1_epi64x((long long)_mm512_cmpeq_epi8_mask(X1, cv)), 1),
        sh16);
}

/* The group one number at a time (vw_fast_num): 1, or 0 when one is not
 * plain. */
static inline __attribute__((always_inline)) VW_TARGET512 int
vw_group_scalar(const struct tide_vw_memo *mm, const char *const *a, const char *const *b,
                float *out, int n)
{
    for (int j = 0; j < n; j++)
        if (!vw_fast_num(mm, a[j], b[j], &out[j]))
            return 0;
    return 1;
}

/* Eight (or, with eight = 0, four) numbers [a[j], b[j]) into out[j],
 * vw_fast_num's result bit for bit, with every step in vector registers:
 * the bytes of four numbers in each 512-bit vector X0, X1 (number j in a
 * 128-bit lane, loaded at a[j], the '-' included), everything else in
 * 64-bit lane j of one vector (lanes 4-7 unused, and masked out of every
 * check, when eight = 0). 0 when a number is not a plain decimal of 1 to
 * 15 digits; a number of more than 16 bytes with its sign, or one near a
 * float rounding point, sends the group to the scalar code (which decides,
 * or divides): then 1, else 2 (the vector path gave every value). eight is
 * a constant in each of the two callers. */
static inline __attribute__((always_inline)) VW_TARGET512 int
vw_num_group(const struct tide_vw_memo *mm, const char *const *a, const char *const *b,
             float *out, const int eight)
{
#define VW_LOAD4(p)                                                                        \
    _mm512_inserti64x4(                                                                    \
        _mm512_castsi256_si512(_mm256_inserti128_si256(                                    \
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(p)[0])), \
            _mm_loadu_si128((const __m128i *)(const void *)(p)[1]), 1)),                   \
        _mm256_inserti128_si256(                                                           \
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(p)[2])), \
            _mm_loadu_si128((const __m128i *)(const void *)(p)[3]), 1),                    \
        1)
    const __mmask8 act = eight ? 0xFF : 0x0F;
    const __m512i L = eight ? _mm512_sub_epi64(_mm512_loadu_si512((const void *)b),
                                               _mm512_loadu_si512((const void *)a))
                            : _mm512_zextsi256_si512(_mm256_sub_epi64(
                                  _mm256_loadu_si256((const __m256i *)(const void *)b),
                                  _mm256_loadu_si256((const __m256i *)(const void *)a)));
    const __m512i one = _mm512_set1_epi64(1), sh16 = _mm512_set_epi64(48, 32, 16, 0, 48, 32, 16, 0),
                  m16 = _mm512_set1_epi64(0xFFFF);
    const __m512i X0 = VW_LOAD4(a), X1 = eight ? VW_LOAD4(a + 4) : X0;
#undef VW_LOAD4
    /* each number's 16-bit masks of '.' and '-' bytes, in its 64-bit lane */
    const __m512i dots = _mm512_and_si512(vw_lane_masks(X0, X1, '.', sh16), m16);
    const __m512i neg = _mm512_and_si512(vw_lane_masks(X0, X1, '-', sh16), one);
    /* ka: the first '.' before L, or L (tzcnt: 63 - lzcnt of the lowest bit) */
    __m512i t = _mm512_or_si512(dots, _mm512_sllv_epi64(one, L));
    t = _mm512_and_si512(t, _mm512_sub_epi64(_mm512_setzero_si512(), t));
    const __m512i ka = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(t));
    const __m512i kd = _mm512_sub_epi64(ka, neg), Ld = _mm512_sub_epi64(L, neg);
    const __m512i nfr = _mm512_mask_sub_epi64(_mm512_sub_epi64(Ld, kd),
                                              _mm512_cmplt_epi64_mask(kd, Ld),
                                              _mm512_sub_epi64(Ld, kd), one);
    const __m512i n = _mm512_add_epi64(kd, nfr);
    /* 1..16 bytes after the sign, 1..15 digits, all within the 16 loaded */
    if (_mm512_mask_cmpgt_epu64_mask(act, _mm512_sub_epi64(Ld, one), _mm512_set1_epi64(15)) |
        _mm512_mask_cmpgt_epu64_mask(act, _mm512_sub_epi64(n, one), _mm512_set1_epi64(14)) |
        _mm512_mask_cmpgt_epu64_mask(act, L, _mm512_set1_epi64(16))) {
        return vw_group_scalar(mm, a, b, out, eight ? 8 : 4);
    }
    /* n, kd, neg as bytes 0, 1, 2 of each 64-bit lane, spread over the
     * number's 128-bit lane below; output byte j of a lane takes digit
     * t = j - (16 - n) (none when t < 0: bit 7 set), found at byte
     * t + (t >= kd) + neg */
    const __m512i pk =
        _mm512_or_si512(n, _mm512_or_si512(_mm512_slli_epi64(kd, 8), _mm512_slli_epi64(neg, 16)));
    const __m512i Tj = _mm512_set_epi8(
        -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16, -1, -2, -3, -4, -5,
        -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10,
        -11, -12, -13, -14, -15, -16, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14,
        -15, -16);
    const __m512i zero = _mm512_setzero_si512(), b1 = _mm512_set1_epi8(1),
                  b2 = _mm512_set1_epi8(2), c0 = _mm512_set1_epi8('0'), c9 = _mm512_set1_epi8(9);
    __m512i Y[2];
    for (int h = 0; h < (eight ? 2 : 1); h++) {
        const __m512i P = _mm512_permutexvar_epi64(
            h ? _mm512_set_epi64(7, 7, 6, 6, 5, 5, 4, 4) : _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0),
            pk);
        const __m512i N = _mm512_shuffle_epi8(P, zero), K = _mm512_shuffle_epi8(P, b1),
                      G = _mm512_shuffle_epi8(P, b2);
        const __m512i T = _mm512_add_epi8(Tj, N);
        const __mmask64 pos = _mm512_cmpge_epi8_mask(T, zero);
        __m512i S = _mm512_mask_add_epi8(T, pos, T, G);
        S = _mm512_mask_add_epi8(S, pos & _mm512_cmpge_epi8_mask(T, K), S, b1);
        __m512i y = _mm512_shuffle_epi8(_mm512_sub_epi8(h ? X1 : X0, c0), S);
        if (_mm512_cmpgt_epu8_mask(y, c9))
            return 0;
        y = _mm512_maddubs_epi16(y, _mm512_set1_epi16(0x010A));         /* 10 a + b */
        y = _mm512_madd_epi16(y, _mm512_set1_epi32(0x00010064));        /* 100 ab + cd */
        y = _mm512_packs_epi32(y, y);                                    /* <= 9999: 16 bits */
        Y[h] = _mm512_madd_epi16(y, _mm512_set1_epi32(0x00012710));     /* 10^4 abcd + efgh */
    }
    if (!eight)
        Y[1] = Y[0];
    /* each lane's first 64 bits: the high eight digits' value, then the low */
    const __m512i q =
        _mm512_permutex2var_epi64(Y[0], _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), Y[1]);
    const __m512i m = _mm512_add_epi64(_mm512_mul_epu32(q, _mm512_set1_epi64(100000000)),
                                       _mm512_srli_epi64(q, 32));
    const __m512d inv = _mm512_permutex2var_pd(_mm512_loadu_pd(VW_INV10), nfr,
                                               _mm512_loadu_pd(VW_INV10 + 8));
    __m512d v = _mm512_mul_pd(_mm512_cvtepu64_pd(m), inv);
    const __m512i bits = _mm512_and_si512(_mm512_castpd_si512(v), _mm512_set1_epi64(0x1FFFFFFF));
    if (_mm512_mask_cmple_epu64_mask(act, _mm512_sub_epi64(bits, _mm512_set1_epi64((1 << 28) - 4)),
                                     _mm512_set1_epi64(8))) {
        return vw_group_scalar(mm, a, b, out, eight ? 8 : 4);
    }
    v = _mm512_castsi512_pd(
        _mm512_xor_si512(_mm512_castpd_si512(v), _mm512_slli_epi64(neg, 63)));
    if (eight)
        _mm256_storeu_ps(out, _mm512_cvtpd_ps(v));
    else
        _mm_storeu_ps(out, _mm256_castps256_ps128(_mm512_cvtpd_ps(v)));
    return 2;
}

static VW_TARGET512 int vw_num8(const struct tide_vw_memo *mm, const char *const *a,
                                const char *const *b, float *out)
{
    return vw_num_group(mm, a, b, out, 1);
}

static VW_TARGET512 int vw_num4(const struct tide_vw_memo *mm, const char *const *a,
                                const char *const *b, float *out)
{
    return vw_num_group(mm, a, b, out, 0);
}

int tide_vw_num_group_test(const char *const *a, const char *const *b, int eight, float *out)
{
    struct tide_vw_memo *mm;
    int rc;
    if (!vw_wide_ok() || !(mm = vw_memo_new()))
        return -1;
    rc = eight ? vw_num8(mm, a, b, out) : vw_num4(mm, a, b, out);
    free(mm);
    return rc;
}

/* The collected numbers into their slots' values; 0 when one is not plain
 * (the line then goes to the general loop). */
static inline VW_TARGET int vw_nums(const struct tide_vw_memo *mm, const char *const *a,
                                    const char *const *b, const uint32_t *slot, unsigned nn,
                                    tide_feat *hf)
{
    unsigned j = 0;
    float o[8];
    for (; j + 8 <= nn; j += 8) {
        if (!vw_num8(mm, a + j, b + j, o))
            return 0;
        for (int i = 0; i < 8; i++)
            hf[slot[j + i]].val = o[i];
    }
    for (; j + 4 <= nn; j += 4) {
        if (!vw_num4(mm, a + j, b + j, o))
            return 0;
        for (int i = 0; i < 4; i++)
            hf[slot[j + i]].val = o[i];
    }
    for (; j < nn; j++)
        if (!vw_fast_num(mm, a[j], b[j], &hf[slot[j]].val))
            return 0;
    return 1;
}

/* The feature section from bar (the first '|') into hv->f (n in *nf), up
 * to the first '\n', "\r\n" or NUL that ends a token, whose address goes
 * to *end
 * (the caller checks it is the line's end: the NUL the reader wrote at a
 * known end, or a '\n' when the lane itself finds the line in the buffer).
 * 0 when done, 1 when the line needs the general loop (nothing observable
 * was changed but hv's contents and capacity). */
static VW_TARGET int vw_fast(struct tide_vw_memo *mm, const char *bar, const char **end,
                             tide_fvec *hv, uint32_t mask, size_t *nf_out)
{
    const char *blk = bar, *p = bar;
    uint64_t cur = vw_sep64(blk) & ~1ULL;   /* bar itself is consumed */
    tide_feat *hf = hv->f;
    const int wide = mm->wide;
    const char *na[VW_NB], *nb[VW_NB];
    uint32_t nslot[VW_NB];
    unsigned nn = 0;
    size_t nf = 0, hcap = hv->cap < TIDE_IO_MAX_FIELDS ? hv->cap : TIDE_IO_MAX_FIELDS;
#define VW_POP(q)                                                                          \
    do {                                                                                   \
        while (!cur) {                                                                     \
            blk += 64;                                                                     \
            cur = vw_sep64(blk);                                                           \
        }                                                                                  \
        (q) = blk + _tzcnt_u64(cur);                                                       \
        cur = _blsr_u64(cur);                                                              \
    } while (0)
    for (;;) {   /* at a '|' */
        const char *ns = p + 1, *q;
        uint64_t nsh;
        size_t ns_len;
        VW_POP(q);
        ns_len = (size_t)(q - ns);
        if (*q == ':' || ns_len > 8)
            return 1;
        nsh = vw_memo_hash(mm, vw_word(ns, ns_len), ns, ns_len, 0);
        p = q;
        for (;;) {   /* at the separator that ended the last token */
            const char *name;
            size_t len;
            uint64_t h;
            float v = 1.0f;
            if (*p != ' ') {   /* the rarer cases: the end, a namespace, a tab... */
                if (*p == '\n' || *p == '\0' || (*p == '\r' && p[1] == '\n'))
                    goto done;
                if (*p == '|')
                    break;
                return 1;
            }
            name = p + 1;
            VW_POP(q);
            if (q == name) {
                p = q;
                if (*q == '\n' || *q == '\0' || (*q == '\r' && q[1] == '\n'))
                    goto done;
                if (*q != '|')
                    return 1;
                break;
            }
            len = (size_t)(q - name);
            if (*q == ':') {
                const char *ve;
                VW_POP(ve);
                if (*ve == ':')
                    return 1;
                if (!wide) {   /* one at a time, here (no AVX-512) */
                    if (!vw_fast_num(mm, q + 1, ve, &v))
                        return 1;
                } else {       /* collected, converted by eights and fours */
                    if (nn == VW_NB) {
                        if (!vw_nums(mm, na, nb, nslot, nn, hf))
                            return 1;
                        nn = 0;
                    }
                    na[nn] = q + 1;
                    nb[nn] = ve;
                    nslot[nn++] = (uint32_t)nf;
                }
                p = ve;
            } else {
                p = q;
            }
            h = len <= 8 ? vw_memo_hash(mm, vw_word(name, len), name, len, nsh)
                         : tide_fhash_name(name, len, nsh);
            if (nf == hcap)
                return 1;
            hf[nf].idx = (uint32_t)h & mask;
            hf[nf].val = v;
            nf++;
        }
    }
#undef VW_POP
done:
    if (nn && !vw_nums(mm, na, nb, nslot, nn, hf))
        return 1;
    *nf_out = nf;
    *end = p;
    return 0;
}
#else
#define VW_LANE 0
struct tide_vw_memo {
    char unused;
};
int tide_vw_force_wide(int mode)
{
    (void)mode;
    return 0;
}
int tide_vw_num_group_test(const char *const *a, const char *const *b, int eight, float *out)
{
    (void)a, (void)b, (void)eight, (void)out;
    return -1;
}
static struct tide_vw_memo *vw_memo_new(void)
{
    return NULL;
}
static int vw_fast(struct tide_vw_memo *mm, const char *bar, const char **end, tide_fvec *hv,
                   uint32_t mask, size_t *nf_out)
{
    (void)mm, (void)bar, (void)end, (void)hv, (void)mask, (void)nf_out;
    return 1;
}
#endif

void tide_vw_free(tide_reader *r)
{
    free(r->vw_memo);
    r->vw_memo = NULL;
}

/* The label of a line that starts "D |" or "-D |" (neg: the '-'; dig: D). */
static inline void vw_short_label(tide_row *row, char *s, unsigned neg, unsigned dig)
{
    row->has_target = 1;
    row->target = s;
    row->target_len = neg + 1;
    row->target_is_num = 1;
    row->target_num = neg ? -(double)dig : (double)dig;
    s[neg + 1] = '\0';
}

/* Parses one line into row: into r->fields, or (hashed) into hv as
 * buckets with mask. Always inlined into its two callers, which pass hashed
 * as a constant. */
static inline __attribute__((always_inline)) int
vw_parse_as(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row, const int hashed,
            tide_fvec *hv, uint32_t mask, tide_err *err)
{
    char *bar, *le;
    char *tok[3], *tend[3], *p = s;
    size_t k = 0, nf = 0;
    double v = 0;

    /* The commonest label section, "D |" or "-D |" with one digit D, read
     * directly (fused path only: test_feat compares it with the general
     * loop below, which the reader path keeps). The byte after the NUL at
     * e is in the buffer's slack. */
    if (hashed) {
        const unsigned neg = s[0] == '-', dig = (unsigned)((unsigned char)s[neg] - '0');
        if (dig < 10 && s[neg + 1] == ' ' && s[neg + 2] == '|') {
            vw_short_label(row, s, neg, dig);
            bar = s + neg + 2;
            goto features;
        }
    }
    bar = memchr(s, '|', (size_t)(e - s));
    le = bar ? bar : e;

    /* label section: [label] [importance [initial]] ['tag] */
    for (;;) {
        char *t;
        while (p < le && (CL(*p) & C_WS))
            p++;
        if (p >= le)
            break;
        t = p;
        while (p < le && !(CL(*p) & C_WS))
            p++;
        if (*t == '\'' || (p == bar && !(tide_io_num(t, p, &v) == p))) {
            const char *q = t;
            while (q < le && (CL(*q) & C_WS) == 0)
                q++;
            while (q < le && (CL(*q) & C_WS))
                q++;
            if (q < le)
                return vw_err(r, lineno, s, t, err, "the tag must be the last token before the "
                              "first '|', found", t, p);
            row->tag = *t == '\'' ? t + 1 : t;
            row->tag_len = (size_t)(p - t) - (*t == '\'');
            break;
        }
        if (k == 3)
            return vw_err(r, lineno, s, t, err, "too many tokens before the first '|' (expected "
                          "[label] [importance] ['tag]), found", t, p);
        tok[k] = t;
        tend[k] = p;
        k++;
    }
    if (k >= 2) {
        if (tide_io_num(tok[1], tend[1], &v) != tend[1] || v < 0)
            return vw_err(r, lineno, s, tok[1], err, "the importance weight must be a finite "
                          "number >= 0, found", tok[1], tend[1]);
        row->weight = v;
    }
    if (k == 3 && tide_io_num(tok[2], tend[2], &v) != tend[2])
        return vw_err(r, lineno, s, tok[2], err, "the initial prediction must be a finite number, "
                      "found", tok[2], tend[2]);
    if (k >= 1) {
        row->has_target = 1;
        row->target = tok[0];
        row->target_len = (size_t)(tend[0] - tok[0]);
        if (tide_io_num(tok[0], tend[0], &v) == tend[0]) {
            row->target_is_num = 1;
            row->target_num = v;
        }
        *tend[0] = '\0'; /* may overwrite the '|' itself: bar is kept */
    }

features:;   /* (a label cannot precede a declaration before C23) */
    /* namespaces and features (reader fields cached in locals: the stores
     * below could otherwise alias them and force reloads) */
    tide_field *fields = r->fields;
    size_t fields_cap = r->fields_cap, n_ignore = r->n_ignore;
    /* hashed: the output vector, its usable capacity, h(ns) of the current
     * namespace, and the first value that overflows a float (an error only
     * for rows with a target, after the whole line parsed: the order of
     * tide_reader_next then tide_featurize) */
    tide_feat *hf = hashed ? hv->f : NULL;
    size_t hcap = hashed ? (hv->cap < TIDE_IO_MAX_FIELDS ? hv->cap : TIDE_IO_MAX_FIELDS) : 0;
    uint64_t nsh = 0;
    const char *ovf = NULL;
    size_t ovf_len = 0;
    double ovf_num = 0;
    if (hashed && !n_ignore && bar && r->vw_memo) {
        const char *end;
        size_t nl;   /* nf stays 0 when the lane's line end is not e */
        if (vw_fast(r->vw_memo, bar, &end, hv, mask, &nl) == 0 && end == e) {
            nf = nl;
            goto parsed;
        }
    }
    p = bar;
    while (p && p < e) {
        const char *ns = ++p;
        size_t ns_len = 0;
        double scale = 1.0;
        if (p < e && !(CL(*p) & (C_WS | C_BAR))) {
            while (p < e && !CL(*p))
                p++;
            ns_len = (size_t)(p - ns);
            if (p < e && *p == ':') {
                const char *end = tide_io_num(p + 1, e, &scale);
                if (!end || (end < e && !(CL(*end) & (C_WS | C_BAR))))
                    return vw_err(r, lineno, s, p + 1, err, "namespace scale is not a finite "
                                  "number:", p + 1, tok_end(p + 1, e));
                p = (char *)end;
            }
        }
        if (hashed)
            nsh = tide_fhash_ns(ns, ns_len);
        for (;;) {
            const char *name;
            size_t name_len;
            tide_field *f;
            p += *p == ' '; /* the usual single separator */
            if (CL(*p) & C_WS)
                while (p < e && (CL(*p) & C_WS))
                    p++;
            if (p >= e || *p == '|')
                break;
            name = p;
            while (!CL(*p)) /* stops at the NUL at e at the latest */
                p++;
            name_len = (size_t)(p - name);
            v = 1.0;
            if (*p == ':' && p < e) {
                const char *end = tide_io_num_nul(p + 1, e, e, &v);
                if (!end || !(CL(*end) & (C_WS | C_BAR)))
                    return vw_err(r, lineno, s, p + 1, err, "feature value is not a finite "
                                  "number:", name, tok_end(p + 1, e));
                p = (char *)end;
            }
            if (n_ignore && (tide_io_ignored(r, ns, ns_len) ||
                             tide_io_ignored(r, name, name_len)))
                continue;
            if (hashed) {
                double num = v * scale;
                float val = (float)num;
                uint64_t h;
                if (scale != 1.0 && !isfinite(num))
                    return vw_err(r, lineno, s, name, err, "feature value times the namespace "
                                  "scale is not finite:", name, tok_end(name, e));
                if (!isfinite(val) && !ovf) {
                    ovf = name;
                    ovf_len = name_len;
                    ovf_num = num;
                }
                h = tide_fhash_name(name, name_len, nsh);
                if (nf == hcap) {
                    int rc = nf >= TIDE_IO_MAX_FIELDS ? TIDE_ERR_LIMIT
                                                      : tide_fvec_reserve(hv, nf + 1);
                    if (rc)
                        return tide_err_set(err, rc, "%s:%llu:%zu: more than %zu features in "
                                            "one example", r->name, (unsigned long long)lineno,
                                            (size_t)(name - s) + 1, TIDE_IO_MAX_FIELDS);
                    hf = hv->f;
                    hcap = hv->cap < TIDE_IO_MAX_FIELDS ? hv->cap : TIDE_IO_MAX_FIELDS;
                }
                hf[nf].idx = (uint32_t)h & mask;
                hf[nf].val = val;
                nf++;
                continue;
            }
            if (nf == fields_cap) {
                int rc = tide_io_fields_reserve(r, nf + 1, err);
                if (rc)
                    return tide_err_set(err, rc, "%s:%llu:%zu: more than %zu features in one "
                                        "example", r->name, (unsigned long long)lineno,
                                        (size_t)(name - s) + 1, TIDE_IO_MAX_FIELDS);
                fields = r->fields;
                fields_cap = r->fields_cap;
            }
            f = &fields[nf++];
            f->ns = ns;
            f->ns_len = ns_len;
            f->name = name;
            f->name_len = name_len;
            f->str = NULL;
            f->str_len = 0;
            f->num = v * scale;
            f->kind = TIDE_VAL_NUM;
            f->col = -1;
            if (scale != 1.0 && !isfinite(f->num))
                return vw_err(r, lineno, s, name, err, "feature value times the namespace scale "
                              "is not finite:", name, tok_end(name, e));
        }
    }
parsed:
    row->line = lineno;
    row->source = r->name;
    if (hashed) {
        hv->n = nf;
        row->n_fields = 0;
        if (ovf && row->has_target) /* tide_featurize's message */
            return tide_err_set(err, TIDE_ERR_PARSE, "%s:%llu: feature '%.*s' = %g overflows "
                                "a float", r->name, (unsigned long long)lineno, (int)ovf_len, ovf,
                                ovf_num);
        return TIDE_OK;
    }
    row->fields = fields;
    row->n_fields = nf;
    return TIDE_OK;
}

static int vw_parse(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row,
                    tide_err *err)
{
    return vw_parse_as(r, s, e, lineno, row, 0, NULL, 0, err);
}

static int vw_parse_hashed(tide_reader *r, char *s, char *e, uint64_t lineno, tide_row *row,
                           tide_fvec *hv, uint32_t mask, tide_err *err)
{
    return vw_parse_as(r, s, e, lineno, row, 1, hv, mask, err);
}

/* The next line that is not blank (TIDE_OK), or the reader's status. */
static int vw_line(tide_reader *r, char **s, size_t *n, uint64_t *lineno, tide_err *err)
{
    for (;;) {
        char *p;
        int rc = tide_io_next_line(r, s, n, lineno, err);
        if (rc)
            return rc;
        for (p = *s; p < *s + *n && (CL(*p) & C_WS); p++)
            ;
        if (p < *s + *n)
            return TIDE_OK;
    }
}

int tide_vw_next(tide_reader *r, tide_row *row, tide_err *err)
{
    char *s;
    size_t n;
    uint64_t lineno;
    int rc = vw_line(r, &s, &n, &lineno, err);
    return rc ? rc : vw_parse(r, s, s + n, lineno, row, err);
}

int tide_vw_next_hashed(tide_reader *r, tide_row *row, uint32_t mask, tide_fvec *v,
                        tide_err *err)
{
    char *s;
    size_t n;
    uint64_t lineno;
    int rc;
    if (!r->vw_memo && !r->vw_nolane) {
        r->vw_memo = vw_memo_new();   /* NULL: the general loop only */
        r->vw_nolane = !r->vw_memo;
    }
    if (r->vw_memo && !r->n_ignore) {
        /* The commonest line, "D |..." or "-D |..." wholly in the buffer
         * and taken by the lane, is found and parsed in one pass: the lane
         * stops at the '\n' (or "\r\n") that ends it, so the line needs no
         * memchr first. The byte at len is made a NUL, where the lane stops at the
         * latest: a line not yet wholly read, like anything else the lane
         * does not take, goes the general way below, from the start. */
        char *p = r->buf + r->pos;
        const unsigned neg = p[0] == '-', dig = (unsigned)((unsigned char)p[neg] - '0');
        const char *end;
        size_t nf;
        r->buf[r->len] = '\0';
        if (dig < 10 && p[neg + 1] == ' ' && p[neg + 2] == '|' &&
            vw_fast(r->vw_memo, p + neg + 2, &end, v, mask, &nf) == 0) {
            end += *end == '\r';   /* "\r\n": the lane stopped at the CR */
            if (*end == '\n' && (size_t)(end - p) <= r->max_line) {
                vw_short_label(row, p, neg, dig);
                row->line = r->line++;
                row->source = r->name;
                row->n_fields = 0;
                v->n = nf;
                r->pos += (size_t)(end - p) + 1;
                return TIDE_OK;
            }
        }
    }
    rc = vw_line(r, &s, &n, &lineno, err);
    return rc ? rc : vw_parse_hashed(r, s, s + n, lineno, row, v, mask, err);
}
