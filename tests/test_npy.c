/* .npy tests: round trips, versions, dtype conversion, hostile headers, truncation, numpy. */
#include "io/npy.h"
#include "io/safetensors.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];

/* A .npy file with the given version and header text (padded to 64 with a
 * newline like numpy) followed by n raw data bytes. */
static void make_npy(const char *path, int major, const char *hdr, const void *data, size_t n)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(hdr);
    size_t total = pre + hl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t len = hl + pad + 1;
    unsigned char *b = malloc(pre + len + n);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major, b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (unsigned char)(len >> (8 * i));
    memcpy(b + pre, hdr, hl);
    memset(b + pre + hl, ' ', pad);
    b[pre + len - 1] = '\n';
    if (n)
        memcpy(b + pre + len, data, n);
    tu_write_file(path, b, pre + len + n);
    free(b);
}

static void expect_fail(const char *path, int want, const char *needle, const char *what)
{
    float *d = (float *)&d; /* poison: must come back NULL */
    int nd = -1;
    int64_t sh[6];
    cn_clear_error();
    int st = cn_npy_read(path, &d, &nd, sh);
    tu_check_failure(what, st, want, d == NULL, path, needle);
    if (st == CN_OK)
        free(d);
}

/* Reads path and checks shape and values exactly. */
static void expect_read(const char *path, int ndim, const int64_t *shape, const float *want,
                        const char *what)
{
    float *d = NULL;
    int nd = -1;
    int64_t sh[6];
    int st = cn_npy_read(path, &d, &nd, sh);
    TU_CHECK(st == CN_OK, "%s: %s", what, cn_last_error());
    if (st != CN_OK)
        return;
    TU_CHECK(nd == ndim, "%s: ndim %d want %d", what, nd, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim && nd == ndim; i++) {
        TU_CHECK(sh[i] == shape[i], "%s: shape[%d] %lld", what, i, (long long)sh[i]);
        n *= shape[i];
    }
    int bad = 0;
    for (int64_t i = 0; i < n && nd == ndim; i++)
        bad += isnan(want[i]) ? !isnan(d[i]) : memcmp(&d[i], &want[i], 4) != 0;
    TU_CHECK(bad == 0, "%s: %d values differ", what, bad);
    free(d);
}

static void test_round_trip(void)
{
    char p[600];
    tu_path(p, sizeof p, g_dir, "rt.npy");
    tu_rng r = tu_seed(11);
    float *v = tu_rand_array(&r, 720, -5, 5);
    v[0] = -0.0f, v[1] = INFINITY, v[2] = NAN, v[3] = 1e-40f;
    int64_t shapes[][6] = {{2, 3, 4}, {5}, {0, 3}, {2, 3, 1, 2, 5, 6}, {1}};
    int ndims[] = {3, 1, 2, 6, 1};
    for (int k = 0; k < 5; k++) {
        TU_OK(cn_npy_write(p, v, ndims[k], shapes[k]));
        expect_read(p, ndims[k], shapes[k], v, "round trip");
        size_t n = 0;
        unsigned char *b = tu_read_file(p, &n);
        size_t hl = b ? (size_t)(b[8] | b[9] << 8) : 0;
        TU_CHECK(b && b[6] == 1 && (10 + hl) % 64 == 0 && b[10 + hl - 1] == '\n',
                 "v1 header padded to 64 bytes ending in newline");
        free(b);
    }
    TU_OK(cn_npy_write(p, v, 0, NULL));
    expect_read(p, 0, NULL, v, "0-d");
    int64_t s23[2] = {2, 3};
    TU_OK(cn_npy_write(p, v, 2, s23));
    size_t n = 0;
    unsigned char *b = tu_read_file(p, &n);
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    TU_CHECK(b && n == 128 + 24 && memcmp(b + 10, want, strlen(want)) == 0, "header text");
    free(b);
    int64_t s1[1] = {7};
    TU_OK(cn_npy_write(p, v, 1, s1));
    b = tu_read_file(p, &n);
    TU_CHECK(b && strstr((const char *)b + 10, "'shape': (7,), }") != NULL, "1-d tuple comma");
    free(b);
    free(v);
}

static void test_dtypes(void)
{
    char p[600];
    tu_path(p, sizeof p, g_dir, "dt.npy");
    int64_t s3[1] = {3}, s22[2] = {2, 2};
    const float w3[3] = {1.5f, -2.25f, INFINITY};
    double d3[3] = {1.5, -2.25, 1e300};
    unsigned char le8[24];
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        memcpy(&u, &d3[i], 8);
        for (int k = 0; k < 8; k++)
            le8[8 * i + k] = (unsigned char)(u >> (8 * k));
    }
    make_npy(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", le8, 24);
    expect_read(p, 1, s3, w3, "<f8");
    unsigned char be8[24];
    for (int i = 0; i < 24; i++)
        be8[i] = le8[(i / 8) * 8 + 7 - i % 8];
    make_npy(p, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", be8, 24);
    expect_read(p, 1, s3, w3, ">f8");

    unsigned char u1[4] = {0, 7, 128, 255};
    const float wu[4] = {0, 7, 128, 255};
    make_npy(p, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", u1, 4);
    expect_read(p, 2, s22, wu, "|u1");

    unsigned char h2[6] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc}; /* 1.0, 2^-24, -Inf */
    const float wh[3] = {1.0f, 0x1p-24f, -INFINITY};
    make_npy(p, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", h2, 6);
    expect_read(p, 1, s3, wh, "<f2");

    unsigned char be4[12] = {0x3f, 0x80, 0, 0, 0xc0, 0x10, 0, 0, 0x7f, 0x80, 0, 0};
    const float wb[3] = {1.0f, -2.25f, INFINITY};
    make_npy(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", be4, 12);
    expect_read(p, 1, s3, wb, ">f4");

    /* Versions 2 and 3 differ only in the 4-byte header length. */
    unsigned char le4[12] = {0, 0, 0x80, 0x3f, 0, 0, 0x10, 0xc0, 0, 0, 0x80, 0x7f};
    make_npy(p, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", le4, 12);
    expect_read(p, 1, s3, wb, "v2 header");
    make_npy(p, 3, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}", le4, 12);
    expect_read(p, 1, s3, wb, "v3 header, double quotes, any key order");
    make_npy(p, 1, "{'descr':'<f4','fortran_order':False,'shape':(3L,)}", le4, 12);
    expect_read(p, 1, s3, wb, "compact header, Python 2 long suffix");
}

static void test_hostile(void)
{
    char p[600];
    tu_path(p, sizeof p, g_dir, "bad.npy");
    unsigned char z[64] = {0};
    struct {
        int major;
        const char *hdr;
        size_t data;
        const char *needle;
    } bad[] = {
        {1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 12, "'<i4'"},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", 12, "fortran_order"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 12, "truncated"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, "trailing"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12, "not a tuple"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,,), }", 12, "shape"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", 12, "shape[0]"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4), }", 12, "malformed"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 12,
         "overflows"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 12,
         "overflows"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1), }", 4, "6 dims"},
        {1, "{'descr': '<f4', 'fortran_order': False}", 12, "'shape'"},
        {1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 12, "twice"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 12, "'x'"},
        {1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", 12, "fortran_order"},
        {1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", 12, "descr"},
        {1, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (3,)}", 12, "descr"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} junk", 12, "after the dict"},
        {1, "['descr', '<f4']", 12, "'{'"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", 12, "','"},
        {1, "{'descr': '<f4", 12, "descr"},
        {1, "{'descr'", 12, "':'"},
        {1, "{", 12, "key"},
        {1, "", 12, "'{'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_npy(p, bad[i].major, bad[i].hdr, z, bad[i].data);
        char what[48];
        snprintf(what, sizeof what, "hostile npy %zu", i);
        expect_fail(p, CN_ERR_FORMAT, bad[i].needle, what);
    }
    /* Truncated data names both byte counts. */
    make_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", z, 12);
    expect_fail(p, CN_ERR_FORMAT, "data is 12 bytes", "truncated: actual count");
    expect_fail(p, CN_ERR_FORMAT, "need 16", "truncated: expected count");

    /* Preamble attacks. */
    unsigned char pre[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '}'};
    tu_write_file(p, pre, 12);
    expect_fail(p, CN_ERR_FORMAT, "beyond the end", "v1 header length past EOF");
    pre[6] = 2, pre[10] = 0xff, pre[11] = 0xff; /* v2: 4 GiB header */
    tu_write_file(p, pre, 16);
    expect_fail(p, CN_ERR_FORMAT, "header length 4294967295", "absurd v2 header length");
    pre[6] = 4;
    tu_write_file(p, pre, 16);
    expect_fail(p, CN_ERR_FORMAT, "version 4.0", "unknown version");
    pre[6] = 1, pre[0] = 0x92;
    tu_write_file(p, pre, 16);
    expect_fail(p, CN_ERR_FORMAT, "bad magic", "bad magic");
    tu_write_file(p, "\x93NUM", 4);
    expect_fail(p, CN_ERR_FORMAT, "preamble", "4-byte file");
    tu_write_file(p, "\x93NUMPY\x02\x00\x00\x00", 10);
    expect_fail(p, CN_ERR_FORMAT, "preamble", "v2 file cut in the length field");

    tu_path(p, sizeof p, g_dir, "missing.npy");
    expect_fail(p, CN_ERR_IO, NULL, "missing file");
    expect_fail(g_dir, CN_ERR_IO, NULL, "directory");
}

/* Every proper prefix of a valid file fails; random header corruption never crashes. */
static void test_cuts_and_flips(void)
{
    char p[600];
    tu_path(p, sizeof p, g_dir, "cut.npy");
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    TU_OK(cn_npy_write(p, v, 2, s));
    size_t n = 0;
    unsigned char *good = tu_read_file(p, &n);
    if (!good)
        return;
    int wrong = 0;
    for (size_t cut = 0; cut < n; cut++) {
        tu_write_file(p, good, cut);
        float *d = NULL;
        int nd;
        int64_t sh[6];
        int st = cn_npy_read(p, &d, &nd, sh);
        wrong += st != CN_ERR_FORMAT || d != NULL || !strstr(cn_last_error(), p);
        free(d);
    }
    TU_CHECK(wrong == 0, "truncation: %d cuts not rejected properly", wrong);

    unsigned char *b = malloc(n);
    tu_rng r = tu_seed(99);
    int ok = 0, rej = 0, bad = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(b, good, n);
        for (int k = tu_int(&r, 1, 3); k > 0; k--)
            b[tu_next(&r) % 128] = (unsigned char)tu_next(&r); /* preamble + whole header */
        tu_write_file(p, b, n);
        float *d = NULL;
        int nd = 0;
        int64_t sh[6];
        cn_clear_error();
        int st = cn_npy_read(p, &d, &nd, sh);
        if (st == CN_OK) {
            ok++;
            int64_t m = 1;
            for (int i = 0; i < nd; i++)
                m *= sh[i];
            volatile float sum = 0; /* touch every value: ASan checks the size */
            for (int64_t i = 0; i < m; i++)
                sum += d[i];
            bad += nd < 0 || nd > 6;
        } else {
            rej++;
            bad += st != CN_ERR_FORMAT || d != NULL || !strstr(cn_last_error(), p);
        }
        free(d);
    }
    printf("npy byte flips: %d accepted, %d rejected\n", ok, rej);
    TU_CHECK(bad == 0, "byte flips: %d bad outcomes", bad);
    free(b);
    free(good);
}

static void test_writer_failures(void)
{
    char p[600], nodir[700];
    tu_path(p, sizeof p, g_dir, "keep.npy");
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/a.npy", g_dir);
    float v[3] = {1, 2, 3};
    int64_t s[1] = {3}, neg[1] = {-3};
    TU_FAILS(CN_ERR_IO, cn_npy_write(nodir, v, 1, s));
    TU_CHECK(strstr(cn_last_error(), nodir) != NULL, "message names the path");
    TU_OK(cn_npy_write(p, v, 1, s));
    TU_FAILS(CN_ERR_ARG, cn_npy_write(p, v, 1, neg));
    TU_FAILS(CN_ERR_ARG, cn_npy_write(p, NULL, 1, s));
    TU_FAILS(CN_ERR_ARG, cn_npy_write(p, v, 7, s));
    expect_read(p, 1, s, v, "file kept after rejected writes");
    TU_CHECK(tu_count_matching(g_dir, ".tmp.") == 0, "temporary files left behind");
}

/* Rows appended one at a time; the target appears only at close, with the
 * final row count in a header of unchanged length; abort leaves nothing. */
static void test_stream(void)
{
    char p[600], q[600], nodir[700];
    tu_path(p, sizeof p, g_dir, "stream.npy");
    tu_path(q, sizeof q, g_dir, "aborted.npy");
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/s.npy", g_dir);
    const int64_t row[2] = {3, 5}; /* odd sizes */
    float d[7 * 15];
    tu_rng r = tu_seed(11);
    for (int i = 0; i < 7 * 15; i++)
        d[i] = (float)tu_uniform(&r, -2, 2);
    cn_npy_stream *s = NULL;
    TU_OK(cn_npy_stream_open(p, 2, row, &s));
    TU_CHECK(tu_count_matching(g_dir, "stream.npy") == 1, "only the temporary exists while writing");
    if (s) {
        TU_OK(cn_npy_stream_append(s, d, 2));
        for (int i = 2; i < 7; i++)
            TU_OK(cn_npy_stream_append(s, d + i * 15, 1));
        TU_OK(cn_npy_stream_close(s));
    }
    const int64_t full[3] = {7, 3, 5};
    expect_read(p, 3, full, d, "streamed rows");
    struct stat st;
    TU_CHECK(stat(p, &st) == 0 && st.st_size == 192 + 7 * 15 * 4, "data starts at byte 192 (a multiple of 64)");
    s = NULL;
    TU_OK(cn_npy_stream_open(q, 2, row, &s));
    if (s) {
        TU_OK(cn_npy_stream_append(s, d, 3));
        cn_npy_stream_abort(s);
    }
    TU_CHECK(access(q, F_OK) != 0, "aborted stream leaves no file");
    s = (cn_npy_stream *)&s;
    TU_FAILS(CN_ERR_IO, cn_npy_stream_open(nodir, 2, row, &s));
    TU_CHECK(s == NULL && strstr(cn_last_error(), nodir) != NULL, "open failure names the path");
    /* an empty stream is a valid (0, 3, 5) array */
    TU_OK(cn_npy_stream_open(q, 2, row, &s));
    if (s)
        TU_OK(cn_npy_stream_close(s));
    const int64_t none[3] = {0, 3, 5};
    expect_read(q, 3, none, d, "empty stream");
    TU_CHECK(tu_count_matching(g_dir, ".tmp.") == 0, "temporary files left behind");
}

/* numpy must read what we write, and we must read what numpy writes,
 * including its float16 rounding, which must agree with ours bit for bit. */
static void test_numpy(void)
{
    if (!tu_have_numpy("interop check"))
        return;
    char ours[600], script[600], cmd[2000];
    tu_path(ours, sizeof ours, g_dir, "ours.npy");
    tu_path(script, sizeof script, g_dir, "interop.py");
    float a[24];
    for (int i = 0; i < 24; i++)
        a[i] = (float)i * 0.5f - 3.0f;
    int64_t s[3] = {2, 3, 4};
    TU_OK(cn_npy_write(ours, a, 3, s));
    /* Values that stress float16 rounding: ties, subnormals, overflow. */
    tu_rng r = tu_seed(5);
    float sp[4096];
    for (int i = 0; i < 4096; i++) {
        uint32_t u = (uint32_t)tu_next(&r);
        u = (u & 0x80000000u) | (0x33000000u + u % (0x47800000u - 0x33000000u));
        if (i % 4 == 0)
            u = (u & ~0x1fffu) | 0x1000u; /* exact f16 tie for normals */
        memcpy(&sp[i], &u, 4);
    }
    char spp[600];
    tu_path(spp, sizeof spp, g_dir, "f16in.npy");
    int64_t ns[1] = {4096};
    TU_OK(cn_npy_write(spp, sp, 1, ns));
    static const char py[] =
        "import sys, numpy as np\n"
        "d = sys.argv[1]\n"
        "a = np.load(d + '/ours.npy')\n"
        "assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)\n"
        "assert (a == np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3).all()\n"
        "m = np.load(d + '/stream.npy')\n"
        "assert m.dtype == np.float32 and m.shape == (7, 3, 5), (m.dtype, m.shape)\n"
        "b = np.arange(12, dtype=np.float64).reshape(3, 4) / 8 - 1\n"
        "np.save(d + '/f8.npy', b)\n"
        "np.save(d + '/u1.npy', np.arange(250, 256, dtype=np.uint8).reshape(2, 3))\n"
        "np.save(d + '/be.npy', (b[0] * 3).astype('>f4'))\n"
        "np.save(d + '/f0.npy', np.float32(2.5))\n"
        "with open(d + '/v2.npy', 'wb') as f:\n"
        "    np.lib.format.write_array(f, b.astype(np.float32), version=(2, 0))\n"
        "x = np.load(d + '/f16in.npy')\n"
        "np.save(d + '/f16out.npy', x.astype(np.float16))\n"
        "print('python: numpy interop files written')\n";
    tu_write_file(script, py, sizeof py - 1);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, g_dir);
    int rc = system(cmd);
    TU_CHECK(rc == 0, "python interop script failed (%d)", rc);
    if (rc != 0)
        return;
    char p[600];
    float b[12], u[6], be[4], f0 = 2.5f;
    for (int i = 0; i < 12; i++)
        b[i] = (float)i / 8 - 1;
    for (int i = 0; i < 6; i++)
        u[i] = (float)(250 + i);
    for (int i = 0; i < 4; i++)
        be[i] = b[i] * 3;
    int64_t s34[2] = {3, 4}, s23[2] = {2, 3}, s4[1] = {4};
    tu_path(p, sizeof p, g_dir, "f8.npy");
    expect_read(p, 2, s34, b, "numpy <f8");
    tu_path(p, sizeof p, g_dir, "u1.npy");
    expect_read(p, 2, s23, u, "numpy |u1");
    tu_path(p, sizeof p, g_dir, "be.npy");
    expect_read(p, 1, s4, be, "numpy >f4");
    tu_path(p, sizeof p, g_dir, "f0.npy");
    expect_read(p, 0, NULL, &f0, "numpy 0-d");
    tu_path(p, sizeof p, g_dir, "v2.npy");
    expect_read(p, 2, s34, b, "numpy v2.0 header");
    for (int i = 0; i < 4096; i++)
        sp[i] = cn_f16_to_f32(cn_f32_to_f16(sp[i]));
    tu_path(p, sizeof p, g_dir, "f16out.npy");
    expect_read(p, 1, ns, sp, "numpy float16 rounding matches ours");
}

int main(void)
{
    if (tu_tmpdir_make(g_dir, sizeof g_dir, "cn_npy_") != 0)
        return 1;
    test_round_trip();
    test_dtypes();
    test_hostile();
    test_cuts_and_flips();
    test_writer_failures();
    test_stream();
    test_numpy();
    tu_tmpdir_remove(g_dir);
    return tu_finish("test_npy");
}
