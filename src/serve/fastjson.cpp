/*
 * fastjson.cpp — the fast path of `tide serve`'s predict bodies: walks
 * {"instances": [{"id"?, "weight"?, "features": {name: value, ...}}, ...]}
 * (or the single {"id"?, "weight"?, "features": {...}}) with simdjson's
 * On-Demand API straight into the rows (tide_row/tide_field) that the
 * jansson path of req.c builds, without a document tree, per-value
 * allocations or strtod (simdjson parses numbers exactly, correctly rounded
 * like strtod).
 *
 * Parser: simdjson 3.0.1 (Debian's libsimdjson-dev). G. Langdale and
 * D. Lemire, "Parsing Gigabytes of JSON per Second", VLDB Journal 28(6),
 * 2019; J. Keiser and D. Lemire, "On-Demand JSON: A Better Way to Parse
 * Documents?", Software: Practice and Experience 54(6), 2024.
 *
 * Contract (fastjson.h): either the rows are exactly those the jansson path
 * gives for the same body, or the function declines and the caller runs the
 * jansson path, which then answers (and words every error) as before. So it
 * declines on anything it is not sure jansson accepts identically: no
 * schema yet, any name not in the schema, a duplicate key, a type the
 * schema refuses, a null or absent required feature, booleans, nested
 * values, "label", unknown keys, integers outside int64 (jansson refuses
 * them), \u escapes of surrogates (jansson refuses lone ones; simdjson's
 * handling is not relied on), NUL in a string, strings or names over the
 * limits, trailing text, and every simdjson error. tests/cli/
 * test_serve_batch_fast.sh and fuzz/fuzz_fastjson.c check the equivalence.
 *
 * Also here: serve_fmt_g17, printf's "%.17g" through C++17's std::to_chars
 * (libstdc++ implements it with Ryu printf: U. Adams, "Ryu revisited:
 * printf floating point conversion", OOPSLA 2019): the same characters in
 * about 60 instead of 140 ns on this VM.
 *
 * Only simdjson's error-code API is used: nothing here throws, and the
 * output arrays are malloc'd (tide_instances_free frees them), so no C++
 * exception or allocator crosses the C interface.
 */
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "serve/fastjson.h"
#include "tide/io.h"

namespace od = simdjson::ondemand;

static_assert(SERVE_BODY_PADDING >= simdjson::SIMDJSON_PADDING, "SERVE_BODY_PADDING below simdjson's");

/* Bodies up to this size use the thread's parser (kept between calls). */
constexpr size_t PARSER_KEEP_MAX = (size_t)1 << 20;

namespace {

/* The output arrays of one call, with their capacities. */
struct arrays {
    tide_row *rows;
    const char **ids;
    size_t *fspan;
    size_t rows_cap;
    tide_field *fields;
    size_t fields_cap;
    char *strs;
    size_t strs_cap;
};

void arrays_free(arrays &a)
{
    free(a.rows);
    free(a.ids);
    free(a.fspan);
    free(a.fields);
    free(a.strs);
    a = arrays{};
}

/* Per thread: the parser (its buffers are reused from one body to the
 * next), a stamp per schema entry to find duplicate names, and the arrays
 * of the last answer once serve_fast_recycle gave them back (a batch of
 * 100 needs ~350 kB: fresh each time, their pages faulted in on every
 * request, ~10 % of the worker's time). */
struct tls_state {
    od::parser parser;
    uint32_t *stamp = nullptr;
    size_t nstamp = 0;
    uint32_t cur = 0;
    int32_t guess[64] = {};   /* schema index of the j-th feature of the last object, + 1 */
    arrays spare = {};        /* owned, ready for the next call */
    arrays lent = {};         /* handed out by the last call (not owned) */
    tls_state() = default;
    tls_state(const tls_state &) = delete;
    tls_state &operator=(const tls_state &) = delete;
    ~tls_state()
    {
        free(stamp);
        arrays_free(spare);
    }
};
thread_local tls_state tls;

struct walk {
    const char *body;
    const tide_schema *schema;
    size_t n_required;
    tide_instances *out;
    size_t rows_cap, nf, nf_cap;
    char *sp;          /* next free byte of out->strs_ */
    char *why;
    size_t why_n;
};

int decline(walk &w, const char *what)
{
    if (w.why && w.why_n)
        snprintf(w.why, w.why_n, "%s", what);
    return SERVE_FAST_DECLINE;
}

/* p: just after the opening quote of a string simdjson has validated
 * (stage 1 found its closing quote, checked its UTF-8 and refused raw
 * control characters). Sets *len to its raw length and *esc when it holds
 * a backslash; false when it holds a \u escape of a surrogate (D800-DFFF).
 * Without a backslash the raw bytes are the string. */
inline bool scan_str(const char *p, size_t *len, bool *esc)
{
    const char *q = p;
    *esc = false;
    for (;; q++) {
        if (*q == '"') {
            *len = (size_t)(q - p);
            return true;
        }
        if (*q == '\\') {
            *esc = true;
            q++;
            if (*q == 'u' && (q[1] == 'd' || q[1] == 'D') &&
                ((q[2] >= '8' && q[2] <= '9') || (q[2] >= 'a' && q[2] <= 'f') ||
                 (q[2] >= 'A' && q[2] <= 'F')))
                return false;
        }
    }
}

bool no_surrogate_escape(const char *p)
{
    size_t len;
    bool esc;
    return scan_str(p, &len, &esc);
}

/* A copy of s, NUL-terminated, in the output's string block (sized so that
 * every string of the body fits: unescaping never lengthens one). */
const char *keep(walk &w, std::string_view s)
{
    char *d = w.sp;
    memcpy(d, s.data(), s.size());
    d[s.size()] = '\0';
    w.sp += s.size() + 1;
    return d;
}

const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                          1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

inline bool digit(char c) { return (unsigned)(c - '0') < 10u; }

/* tok (a number's raw token, maybe followed by whitespace) as jansson reads
 * it: an integer token (no fraction, no exponent) is an int64 converted to
 * double (jansson refuses those beyond int64: declined); a real is the
 * correctly rounded double (strtod's). The token's JSON grammar
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? is checked here: simdjson's
 * own number parsing is not used, its 3.0.1 values are wrong past 19
 * significant digits (get_number gives 0 for "1.00000000000000000000001",
 * get_double 1.79e-36 for the 55-digit decimal of 0.1; found by
 * fuzz_fastjson). Values: Clinger's exact fast path (W. D. Clinger, "How to
 * Read Floating Point Numbers Accurately", PLDI 1990: a mantissa of at most
 * 2^53 and a power of ten of at most 22 are both exact doubles, so one
 * multiplication or division rounds correctly), else tide_parse_double
 * (strtod), as jansson's strtod. */
int number(walk &w, std::string_view tok, double *out)
{
    const char *s = tok.data(), *p = s, *e = s + tok.size();
    uint64_t m = 0;
    int nd = 0, dropped = 0, isint = 1, neg = 0;
    int64_t exp10 = 0;
    if (p < e && *p == '-') {
        neg = 1;
        p++;
    }
    if (p == e || !digit(*p))
        return decline(w, "a number");
    if (*p == '0') {
        p++;
    } else {
        for (; p < e && digit(*p); p++) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            } else {
                dropped = 1;
                exp10++;
            }
        }
    }
    if (p < e && *p == '.') {
        isint = 0;
        p++;
        if (p == e || !digit(*p))
            return decline(w, "a number");
        for (; p < e && digit(*p); p++) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd += m != 0;   /* leading zeros of 0.000x are not significant */
                exp10--;
            } else {
                dropped = 1;
            }
        }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        int64_t x = 0;
        isint = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == e || !digit(*p))
            return decline(w, "a number");
        for (; p < e && digit(*p); p++)
            if (x < 1000000)
                x = x * 10 + (*p - '0');
        exp10 += eneg ? -x : x;
    }
    size_t len = (size_t)(p - s);
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p != e)
        return decline(w, "a number followed by other text");
    if (isint) {
        if (dropped || m > (uint64_t)INT64_MAX + (uint64_t)neg)
            return decline(w, "an integer outside int64");
        *out = m == 0 ? 0.0 : neg ? -(double)m : (double)m;   /* jansson: -0 is the integer 0 */
        return 0;
    }
    if (!dropped && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    if (tide_parse_double(s, len, out) != TIDE_OK || !std::isfinite(*out))
        return decline(w, "a real that overflows");
    return 0;
}

int grow_fields(walk &w)
{
    size_t nc = w.nf_cap ? w.nf_cap * 2 : 64;
    tide_field *nf = static_cast<tide_field *>(realloc(w.out->fields_, nc * sizeof *nf));
    if (!nf)
        return SERVE_FAST_NOMEM;
    w.out->fields_ = nf;
    w.nf_cap = nc;
    return 0;
}

int grow_rows(walk &w)
{
    tide_instances *o = w.out;
    size_t nc = w.rows_cap ? w.rows_cap * 2 : 8;
    tide_row *r;
    const char **ids;
    size_t *sp;
    if (nc > TIDE_SERVE_MAX_BATCH)
        nc = TIDE_SERVE_MAX_BATCH;
    r = static_cast<tide_row *>(realloc(o->rows, nc * sizeof *r));
    if (!r)
        return SERVE_FAST_NOMEM;
    o->rows = r;
    ids = static_cast<const char **>(realloc(o->ids, nc * sizeof *ids));
    if (!ids)
        return SERVE_FAST_NOMEM;
    o->ids = ids;
    sp = static_cast<size_t *>(realloc(o->fspan_, 2 * nc * sizeof *sp));
    if (!sp)
        return SERVE_FAST_NOMEM;
    o->fspan_ = sp;
    w.rows_cap = nc;
    return 0;
}

/* The "features" object of row ri. */
int features(walk &w, od::value fv, size_t ri)
{
    tide_row *r = &w.out->rows[ri];
    std::string_view tok;
    od::object o;
    const char *start, *end;
    size_t nreq = 0, pos = 0;
    uint32_t cur;
    int rc;
    tok = fv.raw_json_token();
    if (tok.empty() || tok[0] != '{')
        return decline(w, "\"features\" is not an object");
    start = tok.data();
    end = start + 1;
    if (fv.get_object().get(o))
        return decline(w, "\"features\"");
    cur = ++tls.cur;
    if (cur == 0) {   /* wrapped: forget every stamp */
        memset(tls.stamp, 0, tls.nstamp * sizeof *tls.stamp);
        cur = tls.cur = 1;
    }
    for (auto fr : o) {
        od::field f;
        std::string_view k, vt;
        od::json_type t;
        unsigned flags = 0;
        long idx;
        tide_field *fd;
        size_t kl;
        bool kesc;
        if (std::move(fr).get(f))
            return decline(w, "a feature");
        if (!scan_str(f.key().raw(), &kl, &kesc))
            return decline(w, "a feature name with a surrogate escape");
        if (!kesc) {
            k = std::string_view(f.key().raw(), kl);   /* the body's bytes */
        } else if (f.unescaped_key().get(k) || memchr(k.data(), 0, k.size())) {
            return decline(w, "a feature name");
        }
        if (k.empty() || k.size() > TIDE_SERVE_MAX_NAME)
            return decline(w, "a feature name's length");
        idx = serve_schema_lookup(w.schema, k.data(), k.size(),
                                  pos < 64 ? (long)tls.guess[pos] - 1 : -1, &flags);
        if (pos < 64)
            tls.guess[pos] = (int32_t)(idx + 1);
        pos++;
        if (idx < 0 || (size_t)idx >= tls.nstamp)
            return decline(w, "a feature not in the schema");
        if (tls.stamp[idx] == cur)
            return decline(w, "a duplicate feature");
        tls.stamp[idx] = cur;
        if (w.nf == w.nf_cap && (rc = grow_fields(w)) != 0)
            return rc;
        fd = &w.out->fields_[w.nf];
        memset(fd, 0, sizeof *fd);
        fd->ns = "";
        fd->col = -1;
        od::value v = f.value();
        if (v.type().get(t))
            return decline(w, "a feature value");
        vt = v.raw_json_token();
        end = vt.data() + vt.size();
        switch (t) {
        case od::json_type::number:
            if (!(flags & SERVE_SF_NUM))
                return decline(w, "a number where the schema wants a string");
            if ((rc = number(w, vt, &fd->num)) != 0)
                return rc;
            fd->kind = TIDE_VAL_NUM;
            break;
        case od::json_type::string: {
            std::string_view s;
            size_t sl;
            bool sesc;
            if (flags & SERVE_SF_NUM)
                return decline(w, "a string where the schema wants a number");
            if (!scan_str(vt.data() + 1, &sl, &sesc))
                return decline(w, "a string with a surrogate escape");
            if (!sesc) {
                fd->str = vt.data() + 1;   /* the body's bytes */
            } else {
                if (v.get_string().get(s) || memchr(s.data(), 0, s.size()))
                    return decline(w, "a string value");
                fd->str = keep(w, s);
                sl = s.size();
            }
            if (sl > TIDE_SERVE_MAX_STR)
                return decline(w, "a long string");
            fd->str_len = sl;
            fd->kind = TIDE_VAL_CAT;
            break;
        }
        case od::json_type::null: {
            bool isnull = false;
            if (v.is_null().get(isnull) || !isnull || (flags & SERVE_SF_REQUIRED))
                return decline(w, "a null");
            fd->kind = TIDE_VAL_MISSING;
            break;
        }
        default:
            return decline(w, "a boolean or nested value");
        }
        fd->name = kesc ? keep(w, k) : k.data();
        fd->name_len = k.size();
        if ((flags & SERVE_SF_REQUIRED) && fd->kind != TIDE_VAL_MISSING)
            nreq++;
        w.nf++;
        r->n_fields++;
    }
    if (nreq < w.n_required)
        return decline(w, "a required feature is missing");
    /* the object's text ends at the first '}' after its last token (only
     * whitespace may sit between them) */
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end != '}')
        return decline(w, "the end of \"features\"");
    w.out->fspan_[2 * ri] = (size_t)(start - w.body);
    w.out->fspan_[2 * ri + 1] = (size_t)(end + 1 - start);
    return 0;
}

/* Per-instance state while its keys are read. */
struct inst {
    size_t ri;
    int seen_id, seen_feat, seen_weight;
};

/* One key of an instance object. */
int inst_field(walk &w, inst &in, std::string_view key, od::value v)
{
    tide_row *r = &w.out->rows[in.ri];
    if (key == "features") {
        if (in.seen_feat++)
            return decline(w, "a duplicate \"features\"");
        return features(w, v, in.ri);
    }
    if (key == "id") {
        od::json_type t;
        if (in.seen_id++)
            return decline(w, "a duplicate \"id\"");
        if (v.type().get(t))
            return decline(w, "\"id\"");
        if (t == od::json_type::null) {
            bool isnull = false;
            if (v.is_null().get(isnull) || !isnull)
                return decline(w, "\"id\"");
            return 0;
        }
        std::string_view tok, s;
        if (t != od::json_type::string || (tok = v.raw_json_token()).empty() ||
            !no_surrogate_escape(tok.data() + 1) || v.get_string().get(s) ||
            !serve_id_ok(s.data(), s.size()) || serve_id_reserved(s.data(), s.size()))
            return decline(w, "\"id\"");
        w.out->ids[in.ri] = keep(w, s);
        r->tag = w.out->ids[in.ri];
        r->tag_len = s.size();
        return 0;
    }
    if (key == "weight") {
        od::json_type t;
        std::string_view tok;
        double d = 0;
        int rc;
        if (in.seen_weight++)
            return decline(w, "a duplicate \"weight\"");
        if (v.type().get(t) || t != od::json_type::number)
            return decline(w, "\"weight\"");
        tok = v.raw_json_token();
        if ((rc = number(w, tok, &d)) != 0)
            return rc;
        if (!(d > 0) || !std::isfinite(d))
            return decline(w, "\"weight\"");
        r->weight = d;
        return 0;
    }
    return decline(w, "an instance key other than id, weight, features");
}

/* Starts row ri (grows the arrays). */
int new_row(walk &w, size_t ri)
{
    int rc;
    if (ri >= TIDE_SERVE_MAX_BATCH)
        return decline(w, "too many instances");
    if (ri == w.rows_cap && (rc = grow_rows(w)) != 0)
        return rc;
    tide_row *r = &w.out->rows[ri];
    memset(r, 0, sizeof *r);
    r->weight = 1.0;
    r->line = ri + 1;
    w.out->ids[ri] = nullptr;
    return 0;
}

int instance_obj(walk &w, od::value v, size_t ri)
{
    od::object o;
    inst in = {ri, 0, 0, 0};
    int rc;
    if (v.get_object().get(o))
        return decline(w, "an instance that is not an object");
    if ((rc = new_row(w, ri)) != 0)
        return rc;
    for (auto fr : o) {
        od::field f;
        std::string_view k;
        if (std::move(fr).get(f) || !no_surrogate_escape(f.key().raw()) || f.unescaped_key().get(k))
            return decline(w, "an instance key");
        if ((rc = inst_field(w, in, k, f.value())) != 0)
            return rc;
    }
    if (!in.seen_feat)
        return decline(w, "an instance without \"features\"");
    return 0;
}

int run(walk &w, od::parser &parser, const char *body, size_t len, size_t cap)
{
    od::document doc;
    od::object top;
    size_t n = 0;
    int batch = -1, rc;
    inst one = {0, 0, 0, 0};
    if (parser.iterate(body, len, cap).get(doc) || doc.get_object().get(top))
        return decline(w, "the body");
    for (auto fr : top) {
        od::field f;
        std::string_view k;
        if (std::move(fr).get(f) || !no_surrogate_escape(f.key().raw()) || f.unescaped_key().get(k))
            return decline(w, "a top-level key");
        if (batch == -1)
            batch = k == "instances";
        else if (batch == 1 || k == "instances")
            return decline(w, "\"instances\" with other keys");
        if (batch) {
            od::array arr;
            if (f.value().get_array().get(arr))
                return decline(w, "\"instances\" is not an array");
            for (auto er : arr) {
                od::value ev;
                if (std::move(er).get(ev))
                    return decline(w, "an instance");
                if ((rc = instance_obj(w, ev, n)) != 0)
                    return rc;
                n++;
            }
        } else {
            if (n == 0) {
                if ((rc = new_row(w, 0)) != 0)
                    return rc;
                n = 1;
            }
            if ((rc = inst_field(w, one, k, f.value())) != 0)
                return rc;
        }
    }
    if (n == 0)
        return decline(w, "no instance");
    if (batch == 0 && !one.seen_feat)
        return decline(w, "no \"features\"");
    {
        const char *loc;   /* in bounds = a token after the object */
        if (doc.current_location().get(loc) == simdjson::SUCCESS)
            return decline(w, "text after the body");
    }
    w.out->n = n;
    w.out->batch = batch == 1;
    return 0;
}

} // namespace

extern "C" int serve_fast_instances(const char *body, size_t len, size_t cap,
                                    const tide_schema *schema, tide_instances *out, char *why,
                                    size_t why_n)
{
    walk w{};
    size_t ns = tide_schema_count(schema), off = 0, strs_cap = 0;
    int rc;
    memset(out, 0, sizeof *out);
    tls.lent = arrays{};
    w.body = body;
    w.schema = schema;
    w.out = out;
    w.why = why;
    w.why_n = why_n;
    if (why && why_n)
        why[0] = '\0';
    if (!schema || ns == 0 || len == 0 || cap < len + simdjson::SIMDJSON_PADDING)
        return decline(w, "no schema, an empty body or no padding");
    w.n_required = serve_schema_required(schema);
    if (tls.nstamp < ns) {
        uint32_t *st = static_cast<uint32_t *>(realloc(tls.stamp, ns * sizeof *st));
        if (!st)
            return SERVE_FAST_NOMEM;
        memset(st + tls.nstamp, 0, (ns - tls.nstamp) * sizeof *st);
        tls.stamp = st;
        tls.nstamp = ns;
    }
    /* the spare arrays, if any, become this call's */
    out->rows = tls.spare.rows;
    out->ids = tls.spare.ids;
    out->fspan_ = tls.spare.fspan;
    w.rows_cap = tls.spare.rows_cap;
    out->fields_ = tls.spare.fields;
    w.nf_cap = tls.spare.fields_cap;
    strs_cap = tls.spare.strs_cap;
    out->strs_ = tls.spare.strs;
    tls.spare = arrays{};
    tls.lent = arrays{};
    if (strs_cap < len + 1) {
        free(out->strs_);
        strs_cap = len + 1;
        out->strs_ = static_cast<char *>(malloc(strs_cap));
        if (!out->strs_) {
            rc = SERVE_FAST_NOMEM;
            goto fail;
        }
    }
    w.sp = out->strs_;
    if (len <= PARSER_KEEP_MAX) {
        rc = run(w, tls.parser, body, len, cap);
    } else {
        /* a big body gets a parser of its own: the thread's would keep
         * ~6 bytes per byte of it allocated for good (nothing of the
         * output points into a parser: escaped strings are copied) */
        od::parser big;
        rc = run(w, big, body, len, cap);
    }
    if (rc)
        goto fail;
    for (size_t i = 0; i < out->n; i++) {   /* the rows' fields, now that they stay put */
        out->rows[i].fields = out->fields_ + off;
        off += out->rows[i].n_fields;
    }
    if (!out->fields_ && !(out->fields_ = static_cast<tide_field *>(calloc(1, sizeof(tide_field))))) {
        rc = SERVE_FAST_NOMEM;
        goto fail;
    }
    tls.lent = arrays{out->rows, out->ids, out->fspan_, w.rows_cap, out->fields_, w.nf_cap,
                      out->strs_, strs_cap};
    return SERVE_FAST_OK;
fail:   /* the arrays stay with the thread */
    tls.spare = arrays{out->rows, out->ids, out->fspan_, w.rows_cap, out->fields_, w.nf_cap,
                       out->strs_, strs_cap};
    memset(out, 0, sizeof *out);
    return rc;
}

extern "C" void serve_fast_recycle(tide_instances *in)
{
    arrays &l = tls.lent;
    /* only what this thread's last call handed out, and not the arrays of
     * a huge batch (they would stay allocated with the thread) */
    if (!in || !in->rows || in->rows != l.rows || in->fields_ != l.fields ||
        in->strs_ != l.strs || l.fields_cap > 65536 || l.strs_cap > ((size_t)4 << 20)) {
        tls.lent = arrays{};
        return;
    }
    arrays_free(tls.spare);
    tls.spare = l;
    tls.lent = arrays{};
    in->rows = nullptr;
    in->ids = nullptr;
    in->fspan_ = nullptr;
    in->fields_ = nullptr;
    in->strs_ = nullptr;
}

extern "C" size_t serve_fmt_g17(char *buf, double v)
{
    std::to_chars_result r = std::to_chars(buf, buf + SERVE_FMT_G17_MAX, v,
                                           std::chars_format::general, 17);
    return r.ec == std::errc() ? (size_t)(r.ptr - buf) : 0;
}
