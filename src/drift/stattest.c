/*
 * stattest.c — two-sample tests on feature distributions (tide/drift.h):
 * Kolmogorov-Smirnov (statistic, asymptotic and exact p-values), PSI on
 * numeric samples and on category counts, chi-square on category counts.
 *
 * KS asymptotic p-value: as scipy.stats.ks_2samp(method="asymp") it is the
 * survival function of the ONE-sample Kolmogorov statistic D_n, evaluated
 * at n = round(en) with en = na*nb/(na+nb) (round half to even). D_n's
 * distribution is computed with the method selection of R. Simard and
 * P. L'Ecuyer, "Computing the two-sided Kolmogorov-Smirnov distribution",
 * J. Stat. Software 39(11), 2011, using:
 *  - the Durbin matrix algorithm in the form of G. Marsaglia, W. W. Tsang,
 *    J. Wang, "Evaluating Kolmogorov's distribution", J. Stat. Software
 *    8(18), 2003 (exact), also where Simard-L'Ecuyer use Pomeranz's
 *    recursion (both are exact; only the cost differs);
 *  - the Pelz-Good asymptotic series (W. Pelz, I. J. Good, J. R. Stat. Soc.
 *    B 38(2), 1976) for large n and small n x^2;
 *  - twice the exact one-sided Smirnov tail (Birnbaum-Tingey sum) in the
 *    upper tail, where the two one-sided events are practically disjoint;
 *  - the Ruben-Gambino closed forms at the two ends.
 * Difference to scipy: scipy's one-sided Smirnov for very large n may use
 * another evaluation; ours sums the exact series (in logs) up to n = 1e7
 * and falls back to exp(-2 n x^2) beyond. Values agree to ~1e-10 relative
 * on the cases tested (tests/unit/test_drift.c).
 *
 * KS exact p-value (for KSWIN): probability that a uniformly random lattice
 * path from (0,0) to (n,m) touches |i/n - j/m| >= d, by dynamic programming
 * over the path's first exit — the classical counting argument for the
 * two-sample Smirnov statistic (e.g. J. L. Hodges, "The significance
 * probability of the Smirnov two-sample test", Ark. Mat. 3, 1958). Exact
 * for untied data; with ties it is conservative, as scipy's "exact" mode.
 *
 * PSI (population stability index) = sum_i (c_i - r_i) ln(c_i / r_i) over
 * bins, r_i and c_i the reference and current proportions. Empty bins: a
 * proportion below PSI_EPS = 1e-4 is raised to 1e-4 (the usual convention:
 * a bin empty on one side then adds ~ p ln(p/1e-4) instead of infinity).
 * Numeric PSI bins on the reference's quantiles i/nbins (linear
 * interpolation between order statistics, numpy's default), duplicate
 * edges merged, bins right-closed: (e_{i-1}, e_i].
 *
 * Chi-square on counts: the test of homogeneity of the 2 x k table (ref
 * row, cur row), no continuity correction, categories empty in both rows
 * dropped; df = (categories kept) - 1; p = Q(df/2, stat/2), Q the
 * regularized upper incomplete gamma function (series for x < a+1,
 * Legendre's continued fraction evaluated by Lentz's method otherwise).
 */
#include "drift/drift_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PSI_EPS 1e-4
#define PSI_MAX_BINS 10000
#define KS_EXACT_MAX_CELLS 100000000.0   /* n*m bound of the exact path DP */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- KS statistic ------------------------------------------------------- */

double tide_drift_ks_stat_sorted(const double *a, size_t na, const double *b, size_t nb)
{
    size_t i = 0, j = 0;
    double d = 0;
    while (i < na && j < nb) {
        double v = a[i] < b[j] ? a[i] : b[j];
        double diff;
        while (i < na && a[i] <= v)
            i++;
        while (j < nb && b[j] <= v)
            j++;
        diff = fabs((double)i / (double)na - (double)j / (double)nb);
        if (diff > d)
            d = diff;
    }
    return d;
}

/* ---- Kolmogorov distribution of D_n (one sample, two-sided) ------------- */

/* C = A * B for m x m matrices. */
static void matmul(const double *A, const double *B, double *C, int m)
{
    for (int i = 0; i < m; i++) {
        double *c = C + (size_t)i * m;
        for (int j = 0; j < m; j++)
            c[j] = 0;
        for (int k = 0; k < m; k++) {
            double aik = A[(size_t)i * m + k];
            const double *b = B + (size_t)k * m;
            if (aik == 0)
                continue;
            for (int j = 0; j < m; j++)
                c[j] += aik * b[j];
        }
    }
}

static void rescale(double *M, int m, int *e)
{
    double mx = 0;
    for (int i = 0; i < m * m; i++)
        if (fabs(M[i]) > mx)
            mx = fabs(M[i]);
    if (mx > 0x1p128) {
        for (int i = 0; i < m * m; i++)
            M[i] = ldexp(M[i], -128);
        *e += 128;
    }
}

/* P(D_n <= d), Durbin matrix (Marsaglia-Tsang-Wang). NAN on no memory. */
static double kolm_cdf_durbin(long n, double d)
{
    double nd = (double)n * d, h, s, *H = NULL, *R = NULL, *T = NULL;
    int k, m, eH = 0, eR = 0;
    long p;
    if (d >= 1)
        return 1;
    if (nd <= 0.5)
        return 0;
    k = (int)ceil(nd);
    h = k - nd;
    m = 2 * k - 1;
    H = malloc(sizeof(double) * (size_t)m * m);
    R = malloc(sizeof(double) * (size_t)m * m);
    T = malloc(sizeof(double) * (size_t)m * m);
    if (!H || !R || !T) {
        s = NAN;
        goto cleanup;
    }
    /* H[i][j] = 1/(i-j+1)! for i-j+1 >= 0; boundary corrections on the
     * first column and last row. */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            int g = i - j + 1;
            double v = 0;
            if (g >= 0) {
                v = 1;
                for (int t = 2; t <= g; t++)
                    v /= t;
            }
            H[(size_t)i * m + j] = v;
        }
    for (int i = 0; i < m; i++) {
        double f = 1;
        for (int t = 2; t <= i + 1; t++)
            f /= t;
        H[(size_t)i * m] -= pow(h, i + 1) * f;                 /* first column */
        f = 1;
        for (int t = 2; t <= m - i; t++)
            f /= t;
        H[(size_t)(m - 1) * m + i] -= pow(h, m - i) * f;      /* last row */
    }
    if (2 * h - 1 > 0) {
        double f = 1;
        for (int t = 2; t <= m; t++)
            f /= t;
        H[(size_t)(m - 1) * m] += pow(2 * h - 1, m) * f;
    }
    /* R = H^n by squaring, with power-of-two scale exponents */
    for (int i = 0; i < m * m; i++)
        R[i] = 0;
    for (int i = 0; i < m; i++)
        R[(size_t)i * m + i] = 1;
    for (p = n; p > 0; p >>= 1) {
        if (p & 1) {
            matmul(R, H, T, m);
            memcpy(R, T, sizeof(double) * (size_t)m * m);
            eR += eH;
            rescale(R, m, &eR);
        }
        if (p > 1) {
            matmul(H, H, T, m);
            memcpy(H, T, sizeof(double) * (size_t)m * m);
            eH *= 2;
            rescale(H, m, &eH);
        }
    }
    s = R[(size_t)(k - 1) * m + (k - 1)];
    for (long i = 1; i <= n; i++) {     /* times n!/n^n */
        s = s * (double)i / (double)n;
        if (fabs(s) < 0x1p-128) {
            s = ldexp(s, 128);
            eR -= 128;
        }
    }
    s = ldexp(s, eR);
    if (s < 0)
        s = 0;
    if (s > 1)
        s = 1;
cleanup:
    free(H);
    free(R);
    free(T);
    return s;
}

/* One-sided Smirnov tail P(D_n^+ >= x), exact Birnbaum-Tingey sum:
 * x * sum_{j=0}^{floor(n(1-x))} C(n,j) (1-x-j/n)^(n-j) (x+j/n)^(j-1). */
static double smirnov_sf(long n, double x)
{
    double dn = (double)n, sum = 0, lc = 0, prev = 0;
    long jmax;
    if (x >= 1)
        return 0;
    if (x <= 0)
        return 1;
    if (n > 10000000L)
        return exp(-2.0 * dn * x * x);
    jmax = (long)floor(dn * (1.0 - x));
    if (jmax > n)
        jmax = n;
    for (long j = 0; j <= jmax; j++) {
        double a = 1.0 - x - (double)j / dn, b = x + (double)j / dn, t;
        if (j > 0)
            lc += log((dn - (double)j + 1.0) / (double)j);
        if (a <= 0) {
            if (n - j > 0)
                continue;   /* 0^(positive) */
            t = exp(lc + (double)(j - 1) * log(b));
        } else {
            t = exp(lc + (double)(n - j) * log(a) + (double)(j - 1) * log(b));
        }
        sum += t;
        if (j > 10 && t < prev && t < sum * 1e-18)
            break;          /* past the peak and negligible */
        prev = t;
    }
    return fmin(1.0, x * sum);
}

/* Pelz-Good series for P(D_n <= x) ~ K0 + K1/n^.5 + K2/n + K3/n^1.5,
 * z = x sqrt(n). */
static double kolm_cdf_pelz_good(long n, double x)
{
    const double PI2 = M_PI * M_PI, PI4 = PI2 * PI2, PI6 = PI4 * PI2;
    double dn = (double)n, z = sqrt(dn) * x, z2 = z * z;
    double k0 = 0, k1 = 0, k2 = 0, k3 = 0, e2 = 0, e3 = 0, w = sqrt(M_PI / 2);
    int kmax;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    if (-PI2 / (8 * z2) < -708)
        return 0;
    kmax = (int)ceil(16 * z / M_PI) + 1;
    for (int k = 1; k <= kmax; k++) {
        double h = (k - 0.5) * (k - 0.5);           /* (k-1/2)^2 */
        double e = exp(-PI2 * h / (2 * z2));
        double ek = exp(-PI2 * (double)k * k / (2 * z2));
        double kk = (double)k * k;
        k0 += e;
        k1 += (PI2 * h - z2) * e;
        k2 += (6 * z2 * z2 * z2 + 2 * z2 * z2 + PI2 * (2 * z2 * z2 - 5 * z2) * h +
               PI4 * (1 - 2 * z2) * h * h) * e;
        k3 += (-30 * z2 * z2 * z2 - 90 * z2 * z2 * z2 * z2 + PI2 * (135 * z2 * z2 - 96 * z2 * z2 * z2) * h +
               PI4 * (212 * z2 * z2 - 60 * z2) * h * h + PI6 * (5 - 30 * z2) * h * h * h) * e;
        e2 += PI2 * kk * ek;
        e3 += (3 * PI2 * kk * z2 - PI4 * kk * kk) * ek;
    }
    k0 *= 2 * w / z;                                   /* sqrt(2 pi)/z */
    k1 *= w / (3 * z2 * z2);
    k2 = k2 * w / (36 * pow(z, 7)) - e2 * w / (18 * z * z2);
    k3 = k3 * w / (3240 * pow(z, 10)) + e3 * w / (108 * z2 * z2 * z2);
    return k0 + k1 / sqrt(dn) + k2 / dn + k3 / (dn * sqrt(dn));
}

/* P(D_n >= x), the Kolmogorov survival function (scipy's kstwo.sf). */
static double kolm_sf(long n, double x)
{
    double t, nx2, cdf;
    if (n <= 0 || isnan(x))
        return NAN;
    if (x >= 1)
        return 0;
    if (x <= 0)
        return 1;
    t = (double)n * x;
    if (t <= 1) {       /* Ruben-Gambino: P(D_n <= x) = n!/n^n (2t-1)^n */
        double p = 1;
        if (t <= 0.5)
            return 1;
        for (long i = 1; i <= n; i++)
            p *= (double)i / (double)n * (2 * t - 1);
        return 1 - p;
    }
    if (t >= (double)n - 1)
        return fmin(1.0, 2 * pow(1 - x, (double)n));
    if (x >= 0.5)
        return fmin(1.0, 2 * smirnov_sf(n, x));
    nx2 = t * x;
    if (n <= 140) {
        if (nx2 <= 4)
            return fmax(0.0, 1 - kolm_cdf_durbin(n, x));
        return fmin(1.0, 2 * smirnov_sf(n, x));
    }
    if (nx2 >= 370)
        return 0;
    if (nx2 >= 2.2)
        return fmin(1.0, 2 * smirnov_sf(n, x));
    if (n <= 100000 && (double)n * pow(x, 1.5) <= 1.4)
        cdf = kolm_cdf_durbin(n, x);
    else
        cdf = kolm_cdf_pelz_good(n, x);
    return fmin(1.0, fmax(0.0, 1 - cdf));
}

int tide_ks_2samp(const double *a, size_t na, const double *b, size_t nb, double *stat,
                  double *pvalue)
{
    double *sa = NULL, *sb = NULL, d, en;
    int rc = TIDE_OK;
    if (!a || !b || na == 0 || nb == 0 || !stat || !pvalue)
        return TIDE_ERR_ARG;
    if (na > SIZE_MAX / sizeof(double) || nb > SIZE_MAX / sizeof(double))
        return TIDE_ERR_LIMIT;
    for (size_t i = 0; i < na; i++)
        if (isnan(a[i]))
            return TIDE_ERR_ARG;
    for (size_t i = 0; i < nb; i++)
        if (isnan(b[i]))
            return TIDE_ERR_ARG;
    sa = malloc(na * sizeof *sa);
    sb = malloc(nb * sizeof *sb);
    if (!sa || !sb) {
        rc = TIDE_ERR_NOMEM;
        goto cleanup;
    }
    memcpy(sa, a, na * sizeof *sa);
    memcpy(sb, b, nb * sizeof *sb);
    qsort(sa, na, sizeof *sa, cmp_double);
    qsort(sb, nb, sizeof *sb, cmp_double);
    d = tide_drift_ks_stat_sorted(sa, na, sb, nb);
    en = (double)na * (double)nb / ((double)na + (double)nb);
    *stat = d;
    *pvalue = kolm_sf((long)nearbyint(en) < 1 ? 1 : (long)nearbyint(en), d);
cleanup:
    free(sa);
    free(sb);
    return rc;
}

/* ---- exact two-sample p-value ------------------------------------------- */

double tide_ks_exact_pvalue(double d, size_t n, size_t m)
{
    double *cur, *next, pout = 0;
    int64_t h, ln = (int64_t)n, lm = (int64_t)m;
    if (n == 0 || m == 0 || (double)n * (double)m > KS_EXACT_MAX_CELLS)
        return NAN;
    if (d <= 0)
        return 1;
    h = (int64_t)llround(d * (double)n * (double)m);   /* outside: |i m - j n| >= h */
    cur = calloc(m + 1, sizeof *cur);
    next = calloc(m + 1, sizeof *next);
    if (!cur || !next) {
        free(cur);
        free(next);
        return NAN;
    }
    cur[0] = 1;
    for (int64_t i = 0; i <= ln; i++) {
        double right = 0;
        memset(next, 0, (m + 1) * sizeof *next);
        for (int64_t j = 0; j <= lm; j++) {
            double v = cur[j] + right, rem;
            right = 0;
            if (v == 0 || (i == ln && j == lm))
                continue;
            rem = (double)(ln - i + lm - j);
            if (i < ln) {
                double amt = v * (double)(ln - i) / rem;
                int64_t g = (i + 1) * lm - j * ln;
                if ((g < 0 ? -g : g) >= h)
                    pout += amt;
                else
                    next[j] += amt;
            }
            if (j < lm) {
                double amt = v * (double)(lm - j) / rem;
                int64_t g = i * lm - (j + 1) * ln;
                if ((g < 0 ? -g : g) >= h)
                    pout += amt;
                else
                    right = amt;
            }
        }
        {
            double *t = cur;
            cur = next;
            next = t;
        }
    }
    free(cur);
    free(next);
    return fmin(1.0, pout);
}

/* ---- PSI ------------------------------------------------------------------ */

static double psi_term(double r, double c)
{
    if (r < PSI_EPS)
        r = PSI_EPS;
    if (c < PSI_EPS)
        c = PSI_EPS;
    return (c - r) * log(c / r);
}

/* Number of edges strictly below v: the bin of v, bins right-closed. */
static size_t bin_of(const double *edges, size_t ne, double v)
{
    size_t lo = 0, hi = ne;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (edges[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double tide_psi_numeric(const double *ref, size_t nref, const double *cur, size_t ncur,
                        int nbins)
{
    double *s = NULL, *edges = NULL, *cr = NULL, *cc = NULL, psi = NAN;
    size_t ne = 0;
    if (!ref || !cur || nref == 0 || ncur == 0 || nbins < 1 || nbins > PSI_MAX_BINS ||
        nref > SIZE_MAX / sizeof(double))
        return NAN;
    for (size_t i = 0; i < nref; i++)
        if (isnan(ref[i]))
            return NAN;
    for (size_t i = 0; i < ncur; i++)
        if (isnan(cur[i]))
            return NAN;
    s = malloc(nref * sizeof *s);
    edges = malloc((size_t)nbins * sizeof *edges);
    cr = calloc((size_t)nbins, sizeof *cr);
    cc = calloc((size_t)nbins, sizeof *cc);
    if (!s || !edges || !cr || !cc)
        goto cleanup;
    memcpy(s, ref, nref * sizeof *s);
    qsort(s, nref, sizeof *s, cmp_double);
    for (int i = 1; i < nbins; i++) {
        double pos = (double)i / nbins * (double)(nref - 1), e;
        size_t lo = (size_t)floor(pos);
        double frac = pos - (double)lo;
        e = lo + 1 < nref ? s[lo] + frac * (s[lo + 1] - s[lo]) : s[lo];
        if (ne == 0 || e > edges[ne - 1])
            edges[ne++] = e;
    }
    for (size_t i = 0; i < nref; i++)
        cr[bin_of(edges, ne, ref[i])] += 1;
    for (size_t i = 0; i < ncur; i++)
        cc[bin_of(edges, ne, cur[i])] += 1;
    psi = 0;
    for (size_t i = 0; i <= ne; i++)
        psi += psi_term(cr[i] / (double)nref, cc[i] / (double)ncur);
cleanup:
    free(s);
    free(edges);
    free(cr);
    free(cc);
    return psi;
}

double tide_psi_counts(const double *ref, const double *cur, size_t k)
{
    double sr = 0, sc = 0, psi = 0;
    if (!ref || !cur || k == 0)
        return NAN;
    for (size_t i = 0; i < k; i++) {
        if (!(ref[i] >= 0) || !(cur[i] >= 0) || isinf(ref[i]) || isinf(cur[i]))
            return NAN;
        sr += ref[i];
        sc += cur[i];
    }
    if (sr <= 0 || sc <= 0)
        return NAN;
    for (size_t i = 0; i < k; i++)
        psi += psi_term(ref[i] / sr, cur[i] / sc);
    return psi;
}

/* ---- chi-square ------------------------------------------------------------ */

/* Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a). */
double tide_gamma_q(double a, double x)
{
    const double eps = 1e-16, tiny = 1e-300;
    if (isnan(a) || isnan(x) || a <= 0 || x < 0)
        return NAN;
    if (x == 0)
        return 1;
    if (isinf(x))
        return 0;
    if (x < a + 1) {    /* series for P, Q = 1 - P */
        double ap = a, del = 1.0 / a, sum = del;
        for (int i = 0; i < 100000; i++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * eps)
                break;
        }
        return fmax(0.0, 1.0 - sum * exp(-x + a * log(x) - lgamma(a)));
    } else {            /* continued fraction, modified Lentz */
        double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 100000; i++) {
            double an = -i * (i - a), del;
            b += 2;
            d = an * d + b;
            if (fabs(d) < tiny)
                d = tiny;
            c = b + an / c;
            if (fabs(c) < tiny)
                c = tiny;
            d = 1 / d;
            del = d * c;
            h *= del;
            if (fabs(del - 1) < eps)
                break;
        }
        return fmin(1.0, exp(-x + a * log(x) - lgamma(a)) * h);
    }
}

int tide_chi2_counts(const double *ref, const double *cur, size_t k, double *stat, double *pvalue)
{
    double sr = 0, sc = 0, n, x2 = 0;
    size_t kept = 0;
    if (!ref || !cur || k == 0 || !stat || !pvalue)
        return TIDE_ERR_ARG;
    for (size_t i = 0; i < k; i++) {
        if (!(ref[i] >= 0) || !(cur[i] >= 0) || isinf(ref[i]) || isinf(cur[i]))
            return TIDE_ERR_ARG;
        sr += ref[i];
        sc += cur[i];
    }
    if (sr <= 0 || sc <= 0)
        return TIDE_ERR_ARG;
    n = sr + sc;
    for (size_t i = 0; i < k; i++) {
        double col = ref[i] + cur[i], er, ec;
        if (col <= 0)
            continue;
        kept++;
        er = sr * col / n;
        ec = sc * col / n;
        x2 += (ref[i] - er) * (ref[i] - er) / er + (cur[i] - ec) * (cur[i] - ec) / ec;
    }
    *stat = x2;
    *pvalue = kept < 2 ? 1.0 : tide_gamma_q((double)(kept - 1) / 2.0, x2 / 2.0);
    return TIDE_OK;
}
