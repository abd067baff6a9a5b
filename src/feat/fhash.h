/*
 * fhash.h — private to src/feat and src/io: the one definition of the
 * feature hash (tide/feat.h), as inline functions, so the featurizer
 * (feat.c) and the VW reader's fused path (io/vw.c, tide_reader_next_hashed)
 * compute the same buckets from one source.
 *
 *     h(ns)       = XXH3_64(ns)
 *     h(ns, name) = XXH3_64_withSeed(name, h(ns))
 *     bucket      = h(ns, name) & mask     (mask = 2^bits - 1)
 *
 * Header-only xxHash (XXH_INLINE_ALL): short names hash inline, with no call
 * into the shared library; the values are libxxhash's.
 */
#ifndef TIDE_FHASH_H
#define TIDE_FHASH_H

#include <stddef.h>
#include <stdint.h>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* h(ns); "" (the default namespace) included. */
static inline uint64_t tide_fhash_ns(const char *ns, size_t len)
{
    return XXH3_64bits(ns, len);
}

/* h(ns, name) from h(ns). */
static inline uint64_t tide_fhash_name(const char *name, size_t len, uint64_t h_ns)
{
    return XXH3_64bits_withSeed(name, len, h_ns);
}

#endif
