/*
 * fuzz_detector.c — libFuzzer harness for the drift detectors' state loader
 * (tide_detector_load: kind name, params, then each detector's load_state
 * in src/drift/).
 *
 * Each input is loaded as is. When it loads, the detector must be usable:
 * update it with 300 values (0/1 and continuous, so KSWIN's 0/1 shortcut and
 * its general path both run), clone it, save it, and the saved bytes must
 * load again and save to the same bytes (the format is canonical), and the
 * reloaded copy must answer the next values exactly as the original.
 *
 * Build with -DTIDE_FUZZ_GEN_SEEDS to get a program that writes the seed
 * corpus (saved states of every detector, fresh, mid-window and after a
 * drift) into the directory given as argv[1]: fuzz/corpus/fuzz_detector/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tide/drift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Undefined behaviour is a finding: stop at the first report. */
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

/* The i-th value fed to a loaded detector: 0/1 first, then continuous. */
static double value(int i)
{
    if (i < 150)
        return (i * 7 % 10) < 3 ? 1.0 : 0.0;
    return (double)((i * 37) % 101) / 50.0 - 1.0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tide_rbuf r;
    tide_detector *d = NULL, *c = NULL, *d2 = NULL;
    tide_wbuf b, b2;
    tide_err e;
    tide_rbuf_init(&r, data, size);
    if (tide_detector_load(&r, &d, &e) != TIDE_OK) {
        if (d)
            abort();   /* a failed load must not hand out a detector */
        return 0;
    }
    tide_wbuf_init(&b);
    tide_wbuf_init(&b2);
    for (int i = 0; i < 300; i++)
        (void)tide_detector_update(d, value(i));
    (void)tide_detector_memory(d);
    (void)tide_detector_estimate(d);
    if (tide_detector_clone(d, &c, &e) == TIDE_OK)
        (void)tide_detector_update(c, 1.0);
    if (tide_detector_save(d, &b) == TIDE_OK) {
        tide_rbuf r2;
        tide_rbuf_init(&r2, b.data, b.len);
        if (tide_detector_load(&r2, &d2, &e) != TIDE_OK) {
            /* what we saved must load, unless the fuzzed counters were
             * loaded within 300 values of the 2^53 bound and crossed it */
            if (!strstr(e.msg, "impossible"))
                abort();
            goto done;
        }
        if (tide_detector_save(d2, &b2) != TIDE_OK || b2.len != b.len ||
            memcmp(b.data, b2.data, b.len))
            abort();   /* and save to the same bytes */
        for (int i = 0; i < 50; i++)
            if (tide_detector_update(d, value(i * 3)) != tide_detector_update(d2, value(i * 3)))
                abort();   /* and behave the same */
    }
done:
    tide_wbuf_free(&b);
    tide_wbuf_free(&b2);
    tide_detector_free(d2);
    tide_detector_free(c);
    tide_detector_free(d);
    return 0;
}

#ifdef TIDE_FUZZ_GEN_SEEDS
/* Seed generator: clang ... -DTIDE_FUZZ_GEN_SEEDS -o gen fuzz/fuzz_detector.c
 * src/(all but cli)/... ; ./gen fuzz/corpus/fuzz_detector */
int main(int argc, char **argv);
int main(int argc, char **argv)
{
    static const int steps[3] = {0, 60, 2000};
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (size_t k = 0; k < tide_detector_count(); k++) {
        const char *name = tide_detector_at(k)->name;
        for (int v = 0; v < 3; v++) {
            tide_detector *d;
            tide_err e;
            tide_wbuf b;
            char path[4096];
            FILE *f;
            if (tide_detector_new(name, NULL, 0, &d, &e)) {
                fprintf(stderr, "%s: %s\n", name, e.msg);
                return 1;
            }
            /* a 0.2 -> 0.6 error stream: the last variant has drifted */
            for (int i = 0; i < steps[v]; i++)
                (void)tide_detector_update(d, (i * 7 % 10) < (i < 1000 ? 2 : 6) ? 1.0 : 0.0);
            tide_wbuf_init(&b);
            if (tide_detector_save(d, &b)) {
                fprintf(stderr, "%s: save failed\n", name);
                return 1;
            }
            snprintf(path, sizeof path, "%s/%s-%d", argv[1], name, v);
            f = fopen(path, "wb");
            if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
                perror(path);
                return 1;
            }
            tide_wbuf_free(&b);
            tide_detector_free(d);
        }
    }
    return 0;
}
#endif
