/* Safetensors tests: half conversions, round trips, hostile headers, truncation, atomic writes. */
#define _XOPEN_SOURCE 700 /* setrlimit and SIGXFSZ for the interrupted-write test */
#include "io/safetensors.h"
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char g_dir[512];

/* cn_st_read must fail with `want`, return no file, and name the path. */
static void expect_fail(const char *path, int want, const char *must_contain, const char *what)
{
    cn_st_file *f = (cn_st_file *)&f; /* poison: the reader must reset it */
    cn_clear_error();
    int st = cn_st_read(path, &f);
    tu_check_failure(what, st, want, f == NULL, path, must_contain);
    if (st == CN_OK)
        cn_st_free(f);
}

/* A file with the given header text and data_len data bytes holding the
 * floats 0, 1, 2, ... (little-endian), so layout tests can check values. */
static void make_st(const char *path, const char *json, size_t data_len)
{
    size_t hl = strlen(json);
    unsigned char *b = calloc(1, 8 + hl + data_len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    for (size_t i = 0; i + 4 <= data_len; i += 4) {
        float v = (float)(i / 4);
        uint32_t u;
        memcpy(&u, &v, 4);
        for (int k = 0; k < 4; k++)
            b[8 + hl + i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    tu_write_file(path, b, 8 + hl + data_len);
    free(b);
}

static double f16_ref(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_conversions(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cn_f16_to_f32((uint16_t)h);
        int e = (h >> 10) & 31;
        if (e == 31) {
            int nan = (h & 1023) != 0;
            bad += nan ? !isnan(f) : !(isinf(f) && (signbit(f) != 0) == ((h & 0x8000) != 0));
            uint16_t back = cn_f32_to_f16(f);
            bad += nan ? !(((back >> 10) & 31) == 31 && (back & 1023) &&
                           (back & 0x8000) == (h & 0x8000))
                       : back != h;
            continue;
        }
        bad += (double)f != f16_ref((uint16_t)h) || !signbit(f) != !signbit(f16_ref((uint16_t)h));
        bad += cn_f32_to_f16(f) != h;
        /* Midpoint to the next larger magnitude: ties to even, and one float
         * either side rounds to the nearer neighbour. */
        if ((h & 0x7fff) < 0x7bff) {
            float g = cn_f16_to_f32((uint16_t)(h + 1));
            float mid = (float)(((double)f + (double)g) / 2);
            bad += (double)mid != ((double)f + (double)g) / 2; /* exact in float */
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            bad += cn_f32_to_f16(mid) != even;
            bad += cn_f32_to_f16(nextafterf(mid, 0.0f)) != h;
            bad += cn_f32_to_f16(nextafterf(mid, (h & 0x8000) ? -INFINITY : INFINITY)) != h + 1;
        }
    }
    TU_CHECK(bad == 0, "f16 exhaustive: %d mismatches", bad);

    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cn_bf16_to_f32((uint16_t)h);
        bad += bits_of(f) != h << 16;
        if (isnan(f)) {
            uint16_t b = cn_f32_to_bf16(f);
            bad += !isnan(cn_bf16_to_f32(b)) || (b & 0x8000) != (h & 0x8000);
            continue;
        }
        bad += cn_f32_to_bf16(f) != h;
        if ((h & 0x7fff) < 0x7f7f) {
            uint32_t mid = (h << 16) + 0x8000u; /* exactly halfway to h + 1 */
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            bad += cn_f32_to_bf16(from_bits(mid)) != even;
            bad += cn_f32_to_bf16(from_bits(mid - 1)) != h;
            bad += cn_f32_to_bf16(from_bits(mid + 1)) != h + 1;
        }
    }
    TU_CHECK(bad == 0, "bf16 exhaustive: %d mismatches", bad);

    /* Hand-picked rounding cases, readable on their own. */
    TU_CHECK(cn_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00, "1+2^-11 ties down to even 1.0");
    TU_CHECK(cn_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02, "1+3*2^-11 ties up to even");
    TU_CHECK(cn_f32_to_f16(65504.0f) == 0x7bff, "max half");
    TU_CHECK(cn_f32_to_f16(65519.0f) == 0x7bff, "65519 rounds down to max half");
    TU_CHECK(cn_f32_to_f16(65520.0f) == 0x7c00, "65520 ties to Inf (even)");
    TU_CHECK(cn_f32_to_f16(1e10f) == 0x7c00 && cn_f32_to_f16(-1e10f) == 0xfc00, "overflow");
    TU_CHECK(cn_f32_to_f16(0x1p-25f) == 0x0000, "2^-25 ties to zero");
    TU_CHECK(cn_f32_to_f16(nextafterf(0x1p-25f, 1.0f)) == 0x0001, "just above 2^-25");
    TU_CHECK(cn_f32_to_f16(3 * 0x1p-25f) == 0x0002, "1.5 subnormal ulps ties to 2");
    TU_CHECK(cn_f32_to_f16(-0.0f) == 0x8000, "negative zero");
    TU_CHECK(cn_f32_to_f16(1e-45f) == 0, "float subnormal to zero");
    TU_CHECK(cn_f32_to_f16(from_bits(0x7f800001u)) == 0x7e00, "signalling NaN stays NaN");
    TU_CHECK(cn_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80, "bf16 tie down to even");
    TU_CHECK(cn_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82, "bf16 tie up to even");
    TU_CHECK(cn_f32_to_bf16(from_bits(0x7f7fffffu)) == 0x7f80, "bf16 overflow to Inf");
    TU_CHECK(cn_f32_to_bf16(from_bits(0x7f800001u)) == 0x7fc0, "bf16 NaN stays NaN");
    TU_CHECK(f16_ref(1) == 0x1p-24 && cn_f16_to_f32(0x0001) == 0x1p-24f, "smallest subnormal");
}

static const char *META[] = {"format",  "caspnet", "version",       "1",
                             "variant", "av",      "odd \"k\"\\\n", "\xc3\xa9t\xc3\xa9"};

static void test_round_trip(cn_st_dtype dt)
{
    char path[600];
    tu_path(path, sizeof path, g_dir, "rt.safetensors");
    tu_rng r = tu_seed(7 + (uint64_t)dt);
    int64_t sa[2] = {2, 3}, sd[5] = {4, 3, 1, 7, 7}, sc[2] = {0, 5}, ss[1] = {12};
    float *a = tu_rand_array(&r, 6, -3, 3), *d = tu_rand_array(&r, 588, -1, 1), b = 0.25f;
    float sp[12] = {0.0f,  -0.0f,    1.0f,      -2.5f, 65504.0f,        1e-7f,
                    3e-5f, INFINITY, -INFINITY, NAN,   1.0f + 0x1p-11f, 1e30f};
    cn_st_out outs[5] = {{"a", 2, sa, a},
                         {"b", 0, NULL, &b},
                         {"c", 2, sc, NULL},
                         {"video.base.0.conv_s.weight", 5, sd, d},
                         {"special", 1, ss, sp}};
    TU_OK(cn_st_write(path, outs, 5, dt, META, 4));
    TU_CHECK(tu_count_matching(g_dir, ".tmp.") == 0, "temp file left after a good write");
    size_t n = 0;
    unsigned char *raw = tu_read_file(path, &n);
    uint64_t hl = 0;
    for (int i = 7; raw && n >= 8 && i >= 0; i--)
        hl = hl << 8 | raw[i];
    TU_CHECK(raw && (8 + hl) % 8 == 0, "data section not 8-byte aligned (header %llu)",
             (unsigned long long)hl);
    free(raw);

    cn_st_file *f = NULL;
    TU_OK(cn_st_read(path, &f));
    if (!f)
        goto out;
    TU_CHECK(f->count == 5, "count %d", f->count);
    for (int i = 0; i < 5 && i < f->count; i++) {
        const cn_st_tensor *t = &f->tensors[i];
        TU_CHECK(strcmp(t->name, outs[i].name) == 0, "order: %s at %d", t->name, i);
        TU_CHECK(t->dtype == dt && t->ndim == outs[i].ndim && t->data, "%s dtype/ndim", t->name);
        for (int k = 0; k < t->ndim; k++)
            TU_CHECK(t->shape[k] == outs[i].shape[k], "%s shape[%d]", t->name, k);
        int64_t m = cn_st_numel(t);
        int bad = 0;
        for (int64_t k = 0; k < m; k++) {
            float x = outs[i].data[k];
            float want = dt == CN_ST_F32   ? x
                         : dt == CN_ST_F16 ? cn_f16_to_f32(cn_f32_to_f16(x))
                                           : cn_bf16_to_f32(cn_f32_to_bf16(x));
            bad += isnan(want) ? !isnan(t->data[k]) : bits_of(t->data[k]) != bits_of(want);
        }
        TU_CHECK(bad == 0, "%s (%s): %d values differ", t->name, cn_st_dtype_name(dt), bad);
    }
    const cn_st_tensor *s = cn_st_find(f, "special");
    if (s) {
        TU_CHECK(cn_st_count_nonfinite(s) == (dt == CN_ST_F16 ? 4 : 3), "nonfinite %d",
                 cn_st_count_nonfinite(s));
        TU_CHECK(s->data[4] == (dt == CN_ST_BF16 ? 65536.0f : 65504.0f) && signbit(s->data[1]) &&
                     s->data[8] == -INFINITY,
                 "special values");
        if (dt == CN_ST_F16)
            TU_CHECK(s->data[10] == 1.0f && s->data[5] == f16_ref(cn_f32_to_f16(1e-7f)) &&
                         s->data[6] == (float)f16_ref(0x01f7),
                     "f16 rounding of 1+2^-11, 1e-7, 3e-5: %g %g %g", s->data[10], s->data[5],
                     s->data[6]);
    }
    TU_CHECK(cn_st_find(f, "missing") == NULL, "find of an absent name");
    for (int i = 0; i < 4; i++)
        TU_CHECK(cn_st_meta(f, META[2 * i]) &&
                     strcmp(cn_st_meta(f, META[2 * i]), META[2 * i + 1]) == 0,
                 "metadata %s", META[2 * i]);
    TU_CHECK(f->meta_count == 4 && cn_st_meta(f, "nope") == NULL, "metadata count");
    cn_st_free(f);
out:
    free(a);
    free(d);
}

static void test_layouts(void)
{
    char p[600];
    tu_path(p, sizeof p, g_dir, "h.safetensors");
    struct {
        const char *json;
        size_t data;
        const char *needle;
    } bad[] = {
        {"{abc", 0, "not valid JSON"},
        {"[1,2]", 0, "not an object"},
        {"{\"a\":5}", 0, "'a'"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "'x'"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "twice"},
        {"{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "I32"},
        {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "7 dims"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
         "overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
         "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,4]}}", 4,
         "shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e400],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "[4, 0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "do not match"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "beyond"},
        {"{\"video.base.0.conv_s.weight\":{\"dtype\":\"F32\",\"shape\":[64,3,1,7,7],"
         "\"data_offsets\":[0,100]}}",
         100,
         "tensor 'video.base.0.conv_s.weight': data_offsets [0, 100] do not match shape "
         "64x3x1x7x7 (F32 = 37632 bytes)"},
        /* overlap, gap, trailing bytes */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
         8, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "belong to no tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "trailing"},
        {"{}", 4, "trailing"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "'a' appears twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "'k'"},
        {"{\"__metadata__\":[\"k\"]}", 0, "__metadata__"},
        {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "'k'"},
        {"{}   x", 0, "after the JSON"},
        {"{\"a\x01\":{}}", 0, "control"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_st(p, bad[i].json, bad[i].data);
        char what[64];
        snprintf(what, sizeof what, "hostile header %zu", i);
        expect_fail(p, CN_ERR_FORMAT, bad[i].needle, what);
    }
    /* A NUL inside the header (strlen above cannot express it). */
    {
        unsigned char b[8 + 6] = {6, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', 0, ' ', ' '};
        tu_write_file(p, b, sizeof b);
        expect_fail(p, CN_ERR_FORMAT, "control character 0x00", "NUL in header");
    }

    /* Accepted layouts: out-of-order offsets, empty tensors, padding, no tensors. */
    cn_st_file *f = NULL;
    make_st(p,
            "{\"late\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
            "\"early\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"empty\":{\"dtype\":\"BF16\",\"shape\":[3,0],\"data_offsets\":[16,16]}}    ",
            16);
    TU_OK(cn_st_read(p, &f));
    if (f) {
        TU_CHECK(f->count == 3 && strcmp(f->tensors[0].name, "late") == 0, "header order kept");
        const cn_st_tensor *l = cn_st_find(f, "late"), *e = cn_st_find(f, "early");
        TU_CHECK(l && e && l->data[0] == 2.0f && l->data[1] == 3.0f && e->data[0] == 0.0f &&
                     e->data[1] == 1.0f,
                 "out-of-order offsets read the right bytes");
        const cn_st_tensor *z = cn_st_find(f, "empty");
        TU_CHECK(z && z->data && cn_st_numel(z) == 0 && z->ndim == 2, "empty tensor");
        cn_st_free(f);
        f = NULL;
    }
    make_st(p, "{}", 0);
    TU_OK(cn_st_read(p, &f));
    TU_CHECK(f && f->count == 0 && f->meta_count == 0, "empty file");
    cn_st_free(f);
    f = NULL;
    make_st(p,
            "{\"__metadata__\":{\"format\":\"caspnet\"},\"s\":{\"dtype\":\"F32\",\"shape\":[],"
            "\"data_offsets\":[0,4]}}",
            4);
    TU_OK(cn_st_read(p, &f));
    TU_CHECK(f && f->count == 1 && f->tensors[0].ndim == 0 && cn_st_numel(&f->tensors[0]) == 1,
             "scalar");
    cn_st_free(f);

    /* Header length field itself. */
    unsigned char b[32] = {0};
    memcpy(b + 8, "{}", 2);
    tu_write_file(p, b, 5);
    expect_fail(p, CN_ERR_FORMAT, "shorter than the 8-byte", "5-byte file");
    b[0] = 100; /* 100-byte header in a 10-byte file */
    tu_write_file(p, b, 10);
    expect_fail(p, CN_ERR_FORMAT, "beyond the end", "header length past EOF");
    memset(b, 0, 8);
    b[5] = 1; /* 2^40 */
    tu_write_file(p, b, 10);
    expect_fail(p, CN_ERR_FORMAT, "header length", "absurd header length");
    memset(b, 0xff, 8);
    tu_write_file(p, b, 10);
    expect_fail(p, CN_ERR_FORMAT, "header length", "2^64-1 header length");
    memset(b, 0, 8);
    tu_write_file(p, b, 10);
    expect_fail(p, CN_ERR_FORMAT, "too small", "zero header length");

    /* Unreadable inputs are I/O errors, not format errors. */
    tu_path(p, sizeof p, g_dir, "does-not-exist.safetensors");
    expect_fail(p, CN_ERR_IO, NULL, "missing file");
    expect_fail(g_dir, CN_ERR_IO, NULL, "directory");
}

/* Every proper prefix and one appended byte must be rejected: the data
 * section must be tiled exactly, so no cut can look complete. */
static void test_truncation(const char *path, const unsigned char *good, size_t n)
{
    int wrong = 0, nopath = 0;
    for (size_t cut = 0; cut < n; cut++) {
        tu_write_file(path, good, cut);
        cn_st_file *f = NULL;
        int st = cn_st_read(path, &f);
        wrong += st != CN_ERR_FORMAT || f != NULL;
        nopath += strstr(cn_last_error(), path) == NULL;
        if (st == CN_OK)
            cn_st_free(f);
    }
    TU_CHECK(wrong == 0 && nopath == 0, "truncation: %d cuts not CN_ERR_FORMAT, %d without path",
             wrong, nopath);
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, good, n);
    longer[n] = 0;
    tu_write_file(path, longer, n + 1);
    expect_fail(path, CN_ERR_FORMAT, "trailing", "one appended byte");
    free(longer);
}

static void test_byte_flips(const char *path, const unsigned char *good, size_t n, size_t span)
{
    unsigned char *b = malloc(n);
    tu_rng r = tu_seed(2024);
    int ok = 0, failed = 0, bad = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(b, good, n);
        int flips = tu_int(&r, 1, 3);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(tu_next(&r) % span);
            b[at] = (it & 1) ? (unsigned char)tu_next(&r)
                             : (unsigned char)(b[at] ^ (1u << tu_int(&r, 0, 7)));
        }
        tu_write_file(path, b, n);
        cn_st_file *f = NULL;
        cn_clear_error();
        int st = cn_st_read(path, &f);
        if (st == CN_OK) {
            ok++;
            for (int i = 0; i < f->count; i++) /* touch every value: ASan checks the sizes */
                bad += f->tensors[i].data == NULL ||
                       cn_st_count_nonfinite(&f->tensors[i]) > cn_st_numel(&f->tensors[i]);
            cn_st_free(f);
        } else {
            failed++;
            bad += (st != CN_ERR_FORMAT) || f != NULL || !strstr(cn_last_error(), path);
            if (st != CN_ERR_FORMAT && bad < 5)
                fprintf(stderr, "flip %d: %s %s\n", it, cn_status_name(st), cn_last_error());
        }
    }
    printf("byte flips: %d accepted, %d rejected\n", ok, failed);
    TU_CHECK(bad == 0, "byte flips: %d bad outcomes", bad);
    free(b);
}

static int same_file(const char *path, const unsigned char *want, size_t n)
{
    size_t m = 0;
    unsigned char *got = tu_read_file(path, &m);
    int same = got && m == n && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

static void test_writer_failures(void)
{
    char p[600], nodir[700];
    tu_path(p, sizeof p, g_dir, "keep.safetensors");
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/w.safetensors", g_dir);
    float v[4] = {1, 2, 3, 4};
    int64_t s4[1] = {4}, sneg[1] = {-1};
    cn_st_out one = {"w", 1, s4, v};
    cn_clear_error();
    TU_FAILS(CN_ERR_IO, cn_st_write(nodir, &one, 1, CN_ST_F32, NULL, 0));
    TU_CHECK(strstr(cn_last_error(), nodir) != NULL, "message names the path: %s", cn_last_error());

    TU_OK(cn_st_write(p, &one, 1, CN_ST_F32, NULL, 0));
    size_t n = 0;
    unsigned char *orig = tu_read_file(p, &n);
    cn_st_out dup[2] = {{"w", 1, s4, v}, {"w", 1, s4, v}};
    cn_st_out nul = {"w", 1, s4, NULL}, neg = {"w", 1, sneg, v}, meta = {"__metadata__", 1, s4, v};
    cn_st_out deep = {"w", 7, s4, v};
    const char *kv[4] = {"k", "a", "k", "b"};
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, dup, 2, CN_ST_F32, NULL, 0));
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, &nul, 1, CN_ST_F32, NULL, 0));
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, &neg, 1, CN_ST_F32, NULL, 0));
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, &meta, 1, CN_ST_F32, NULL, 0));
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, &deep, 1, CN_ST_F32, NULL, 0));
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, &one, 1, CN_ST_F32, kv, 2));
    TU_FAILS(CN_ERR_ARG, cn_st_write(p, &one, 1, (cn_st_dtype)9, NULL, 0));
    TU_CHECK(orig && same_file(p, orig, n), "rejected writes left the file alone");

    /* A write that fails half-way (file size limit -> EFBIG) must leave the
     * old file intact and no temporary behind. */
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
        int64_t big = 1 << 20;
        float *z = calloc((size_t)big, sizeof *z);
        cn_st_out large = {"big", 1, &big, z};
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        lim = old;
        lim.rlim_cur = 65536;
        if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
            TU_FAILS(CN_ERR_IO, cn_st_write(p, &large, 1, CN_ST_F32, NULL, 0));
            setrlimit(RLIMIT_FSIZE, &old);
            TU_CHECK(same_file(p, orig, n), "interrupted write replaced the file");
        } else {
            printf("note: setrlimit unavailable, interrupted-write case skipped\n");
        }
        signal(SIGXFSZ, prev);
        free(z);
    }
    TU_CHECK(tu_count_matching(g_dir, ".tmp.") == 0, "temporary files left behind");

    float v2[4] = {5, 6, 7, 8};
    cn_st_out two = {"w", 1, s4, v2};
    TU_OK(cn_st_write(p, &two, 1, CN_ST_BF16, NULL, 0));
    cn_st_file *f = NULL;
    TU_OK(cn_st_read(p, &f));
    TU_CHECK(f && f->count == 1 && f->tensors[0].dtype == CN_ST_BF16 && f->tensors[0].data[3] == 8,
             "replacement visible");
    cn_st_free(f);
    free(orig);
}

/* An independent parser (Python json + numpy) must read what we wrote. */
static void test_python(void)
{
    if (!tu_have_numpy("compatibility check"))
        return;
    char p[600], script[700], cmd[1600];
    tu_path(p, sizeof p, g_dir, "py.safetensors");
    tu_path(script, sizeof script, g_dir, "check.py");
    float v[6] = {1.5f, -2.0f, 0.1f, 65504.0f, 1e-6f, 3.0f};
    int64_t s[2] = {2, 3};
    cn_st_out o[2] = {{"x", 2, s, v}, {"y.z", 1, s + 1, v + 3}};
    const char *kv[2] = {"format", "caspnet"};
    static const char py[] =
        "import json, struct, sys, numpy as np\n"
        "want = np.array([1.5, -2.0, 0.1, 65504.0, 1e-6, 3.0], np.float32)\n"
        "for path, dt in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    b = open(path, 'rb').read()\n"
        "    n = struct.unpack('<Q', b[:8])[0]\n"
        "    h = json.loads(b[8:8 + n]); d = b[8 + n:]\n"
        "    assert h['__metadata__'] == {'format': 'caspnet'}, h\n"
        "    x, y = h['x'], h['y.z']\n"
        "    assert x['dtype'] == dt and x['shape'] == [2, 3] and y['shape'] == [3], h\n"
        "    def get(e):\n"
        "        raw = d[e['data_offsets'][0]:e['data_offsets'][1]]\n"
        "        if dt == 'BF16':\n"
        "            return (np.frombuffer(raw, '<u2').astype(np.uint32) << 16).view(np.float32)\n"
        "        return np.frombuffer(raw, {'F32': '<f4', 'F16': '<f2'}[dt]).astype(np.float32)\n"
        "    ref = want if dt == 'F32' else want.astype(np.float16).astype(np.float32)\n"
        "    if dt != 'BF16':\n"
        "        assert (get(x) == ref).all() and (get(y) == ref[3:]).all(), (get(x), ref)\n"
        "    else:\n"
        "        assert np.allclose(get(x), want, rtol=1/128), get(x)\n"
        "    assert x['data_offsets'][1] <= y['data_offsets'][0] or y['data_offsets'][1] <= "
        "x['data_offsets'][0]\n"
        "    assert len(d) == 9 * {'F32': 4, 'F16': 2, 'BF16': 2}[dt], len(d)\n"
        "print('python: safetensors files verified')\n";
    tu_write_file(script, py, sizeof py - 1);
    char f32[620], f16[620], bf16[620];
    snprintf(f32, sizeof f32, "%s.f32", p);
    snprintf(f16, sizeof f16, "%s.f16", p);
    snprintf(bf16, sizeof bf16, "%s.bf16", p);
    TU_OK(cn_st_write(f32, o, 2, CN_ST_F32, kv, 1));
    TU_OK(cn_st_write(f16, o, 2, CN_ST_F16, kv, 1));
    TU_OK(cn_st_write(bf16, o, 2, CN_ST_BF16, kv, 1));
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' F32 '%s' F16 '%s' BF16", script, f32, f16,
             bf16);
    TU_CHECK(system(cmd) == 0, "python could not verify our safetensors files");
}

int main(void)
{
    if (tu_tmpdir_make(g_dir, sizeof g_dir, "cn_st_") != 0)
        return 1;
    test_conversions();
    test_round_trip(CN_ST_F32);
    test_round_trip(CN_ST_F16);
    test_round_trip(CN_ST_BF16);
    test_layouts();

    /* A small but complete file for the structural attacks. */
    char p[600];
    tu_path(p, sizeof p, g_dir, "small.safetensors");
    float v[5] = {1, 2, 3, 4, 5};
    int64_t s2[2] = {1, 2}, s3[1] = {3};
    cn_st_out outs[3] = {{"a.weight", 2, s2, v}, {"b", 1, s3, v + 2}, {"c", 0, NULL, v}};
    const char *kv[2] = {"format", "caspnet"};
    TU_OK(cn_st_write(p, outs, 3, CN_ST_F16, kv, 1));
    size_t n = 0;
    unsigned char *good = tu_read_file(p, &n);
    if (good && n > 8) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | good[i];
        test_truncation(p, good, n);
        test_byte_flips(p, good, n, (size_t)(8 + hl));
    }
    free(good);
    test_writer_failures();
    test_python();
    tu_tmpdir_remove(g_dir);
    return tu_finish("test_safetensors");
}
