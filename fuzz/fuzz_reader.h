/*
 * fuzz_reader.h — the body shared by the reader harnesses (fuzz_csv.c,
 * fuzz_jsonl.c, fuzz_vw.c): each defines FMT and NAME, then includes this.
 * It opens the input with tide_reader_open_mem and reads every row,
 * checking the row invariants. The first byte picks options: bits 0-1 the
 * target name (none, "y", "target", "b"), bit 2 ignore "a", bit 3 a tiny
 * max_line (48 bytes), bit 4 infer_rows 1, bit 5 ';' as the CSV delimiter,
 * bit 6 differential mode: the same bytes are also read as a file (memfd)
 * with a 48-byte max_line, so the buffer is tiny and every record crosses
 * refills; both runs must return the same statuses, lines and values.
 * With FUZZ_FUSED defined (fuzz_vw.c), every input is also read through
 * tide_featurize_next's fused path and through tide_reader_next +
 * tide_featurize: statuses, messages, vectors and the row's line, target,
 * weight and tag must be the same, with the fast lane converting numbers
 * four at a time and one at a time.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "tide/io.h"
#ifdef FUZZ_FUSED
#include "tide/feat.h"
#include "io/io_priv.h"   /* tide_vw_force_wide */
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stop at the first UBSan report (the build does not pass
 * -fno-sanitize-recover), so undefined behaviour is a crash, not a log line. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h * 0x100000001B3ULL;
}

/* Reads every row, checks invariants, returns a hash of what came out. */
static uint64_t run(tide_reader *r)
{
    tide_err e;
    tide_row row;
    uint64_t h = 1;
    int rc, guard = 0;
    while ((rc = tide_reader_next(r, &row, &e)) != TIDE_EOF) {
        h = mix(h, (uint64_t)(int64_t)rc);
        if (rc == TIDE_OK) {
            /* touch every byte handed out: ASan flags anything out of bounds */
            h = mix(h, row.line);
            h = mix(h, row.n_fields);
            for (size_t i = 0; i < row.n_fields; i++) {
                const tide_field *f = &row.fields[i];
                uint64_t bits;
                for (size_t k = 0; k < f->name_len; k++)
                    h = mix(h, (unsigned char)f->name[k]);
                for (size_t k = 0; k < f->ns_len; k++)
                    h = mix(h, (unsigned char)f->ns[k]);
                if (f->kind == TIDE_VAL_CAT)
                    for (size_t k = 0; k < f->str_len; k++)
                        h = mix(h, (unsigned char)f->str[k]);
                if (f->kind == TIDE_VAL_NUM && f->num != f->num)
                    abort(); /* NaN must never come out */
                memcpy(&bits, &f->num, sizeof bits);
                h = mix(h, f->kind == TIDE_VAL_NUM ? bits : (uint64_t)f->kind);
            }
            if (row.has_target && (!row.target || row.target[row.target_len] != '\0'))
                abort();
            h = mix(h, (uint64_t)row.has_target);
            for (size_t k = 0; k < row.tag_len; k++)
                h = mix(h, (unsigned char)row.tag[k]);
        } else if (rc != TIDE_ERR_PARSE && rc != TIDE_ERR_LIMIT) {
            abort(); /* no I/O errors, no others expected */
        } else if (!e.msg[0]) {
            abort();
        }
        if (++guard > 10000000)
            abort(); /* no progress: a hang */
    }
    return h;
}

#ifdef FUZZ_FUSED
/* The fused VW path against reader + featurizer on the same bytes. */
static void fused_check(const uint8_t *data, size_t size, const tide_reader_opts *o)
{
    tide_feat_opts fo;
    tide_featurizer *fz = NULL;
    tide_reader *ra = NULL, *rb = NULL;
    tide_row a, b;
    tide_fvec va, vb;
    tide_err ea, eb;
    tide_feat_opts_init(&fo);
    fo.bits = 12;
    if (tide_featurizer_new(&fo, &fz, &ea) != TIDE_OK)
        abort();
    if (tide_reader_open_mem(data, size, NAME, o, &ra, &ea) != TIDE_OK ||
        tide_reader_open_mem(data, size, NAME, o, &rb, &eb) != TIDE_OK ||
        !tide_featurizer_fused(fz, rb))
        abort();
    tide_fvec_init(&va);
    tide_fvec_init(&vb);
    for (;;) {
        int rca = tide_reader_next(ra, &a, &ea), rcb;
        if (rca == TIDE_OK && a.has_target)
            rca = tide_featurize(fz, &a, &va, &ea);
        rcb = tide_featurize_next(fz, rb, &b, &vb, &eb);
        if (rca != rcb)
            abort();
        if (rca == TIDE_EOF)
            break;
        if (rca != TIDE_OK) {
            if (strcmp(ea.msg, eb.msg))
                abort();
            continue;
        }
        if (a.line != b.line || a.has_target != b.has_target)
            abort();
        /* what replay reads from the row besides the vector */
        if (a.weight != b.weight || a.target_len != b.target_len ||
            (a.target_len && memcmp(a.target, b.target, a.target_len)) ||
            a.target_is_num != b.target_is_num ||
            (a.target_is_num && memcmp(&a.target_num, &b.target_num, sizeof a.target_num)) ||
            a.tag_len != b.tag_len || (a.tag_len && memcmp(a.tag, b.tag, a.tag_len)))
            abort();
        if (a.has_target && (va.n != vb.n || (va.n && memcmp(va.f, vb.f, va.n * sizeof *va.f))))
            abort();
    }
    tide_fvec_free(&va);
    tide_fvec_free(&vb);
    tide_reader_free(ra);
    tide_reader_free(rb);
    tide_featurizer_free(fz);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *targets[] = {NULL, "y", "target", "b"};
    static const char *ign[] = {"a"};
    tide_reader_opts o;
    tide_reader *r = NULL;
    tide_err e;
    uint8_t opt = size ? data[0] : 0;
    uint64_t h1;

    tide_reader_opts_init(&o);
    o.format = FMT;
    o.target = targets[opt & 3];
    if (opt & 4) {
        o.ignore = ign;
        o.n_ignore = 1;
    }
    if (opt & 8 || opt & 64)
        o.max_line = 48;
    if (opt & 16)
        o.infer_rows = 1;
    if (opt & 32)
        o.delimiter = ';';
    if (size)
        data++, size--;
    if (tide_reader_open_mem(data, size, NAME, &o, &r, &e) != TIDE_OK) {
        if (r || !e.msg[0])
            abort();
        return 0;
    }
    h1 = run(r);
    tide_reader_free(r);
#ifdef FUZZ_FUSED
    /* the lane's numbers four at a time (AVX-512 CPUs), then one at a time */
    tide_vw_force_wide(-1);
    fused_check(data, size, &o);
    tide_vw_force_wide(0);
    fused_check(data, size, &o);
    tide_vw_force_wide(-1);
#endif
    if (opt & 64) {
        char path[64];
        int fd = memfd_create("fuzz", 0);
        if (fd < 0)
            return 0;
        if (size && write(fd, data, size) != (ssize_t)size)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        r = NULL;
        if (tide_reader_open(path, &o, &r, &e) != TIDE_OK)
            abort(); /* memory open succeeded, so must this */
        if (run(r) != h1)
            abort(); /* streaming through a tiny buffer changed the result */
        tide_reader_free(r);
        close(fd);
    }
    return 0;
}
