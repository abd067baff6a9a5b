/* testutil.h — shared includes and helpers for cmocka unit tests. */
#ifndef TIDE_TESTUTIL_H
#define TIDE_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

/* Directory of the shared data streams (env TIDE_DATA or ../shared/data). */
static inline const char *tide_test_data_dir(void)
{
    const char *d = getenv("TIDE_DATA");
    return d && *d ? d : "../shared/data";
}

static inline void tide_test_data_path(char *out, size_t n, const char *file)
{
    snprintf(out, n, "%s/%s", tide_test_data_dir(), file);
}

#define assert_near(a, b, tol) do { double a_ = (a), b_ = (b); \
    if (!(fabs(a_ - b_) <= (tol))) fail_msg("%s = %.12g, expected %.12g (tol %g)", #a, a_, b_, (double)(tol)); } while (0)

/* Deterministic splitmix64 PRNG for tests. */
static inline uint64_t tide_test_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline double tide_test_uniform(uint64_t *s)
{
    return (double)(tide_test_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}
#endif
