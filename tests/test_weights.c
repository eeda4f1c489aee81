/* Weights tests: spec key list against the Python reference, save/load round trips, and every validation failure. */
#include "model/modelspec.h"
#include "io/safetensors.h"
#include "runtime/status.h"
#include "testutil.h"
#include "model/weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[512];

static int64_t numel_of(const cn_spec_key *k)
{
    int64_t e = 1;
    for (int d = 0; d < k->ndim; d++)
        e *= k->shape[d];
    return e;
}

/* Deterministic per (tensor, element), so the expected values can be rebuilt
 * after the source weights are freed (the av model is 380 MB as float32, and
 * keeping two copies besides the loader's own would triple peak memory).
 * Magnitudes span ~1e-4..10 with both signs, exercising F16 subnormals. */
static float pattern(int ti, int64_t i)
{
    uint64_t h = ((uint64_t)ti << 40) ^ (uint64_t)i;
    h = (h ^ (h >> 31)) * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    double m = (double)(h & 0xFFFFF) / 1048576.0;      /* [0,1) mantissa-ish */
    int e = (int)((h >> 20) % 18) - 14;                 /* 2^-14 .. 2^3 */
    double v = ldexp(0.5 + 0.5 * m, e);
    return (float)((h >> 40) & 1 ? -v : v);
}

static void fill_pattern(cn_weights *w)
{
    for (int t = 0; t < w->count; t++)
        for (int64_t i = 0; i < w->w[t].numel; i++)
            w->w[t].data[i] = pattern(t, i);
}

/* Largest error a stored value may have: half an ulp of the format's
 * mantissa, or half the smallest subnormal for F16 near zero. */
static double tol_of(cn_st_dtype dt, float x)
{
    double a = fabs((double)x);
    if (dt == CN_ST_F32)
        return 0.0;
    if (dt == CN_ST_BF16)
        return ldexp(a, -8);
    return fmax(ldexp(a, -11), ldexp(1.0, -25));
}

/* Checks a loaded model against `pattern` for the given storage dtype. */
static void check_pattern(const cn_weights *w, cn_st_dtype dt, const char *what)
{
    int64_t bad = 0;
    for (int t = 0; t < w->count; t++)
        for (int64_t i = 0; i < w->w[t].numel; i++) {
            float want = pattern(t, i), got = w->w[t].data[i];
            int ok = dt == CN_ST_F32 ? memcmp(&want, &got, sizeof got) == 0
                                     : fabs((double)got - want) <= tol_of(dt, want);
            if (!ok && bad++ == 0)
                TU_CHECK(0, "%s: %s[%lld] = %.9g, want %.9g", what, w->w[t].name, (long long)i,
                         got, want);
        }
    TU_CHECK(bad == 0, "%s: %lld values off", what, (long long)bad);
}

/* Every load failure must carry the file's path and `needle` (a key name). */
static void expect_load_fail(const char *path, int want, const char *needle, const char *what)
{
    cn_weights *w = (cn_weights *)&w; /* poison: the loader must reset it */
    cn_clear_error();
    int st = cn_weights_load(path, &w);
    tu_check_failure(what, st, want, w == NULL, path, needle);
    if (st == CN_OK)
        cn_weights_free(w);
}

/* The tensors of w as writer input, so files can be built with keys dropped,
 * added or reshaped without going through cn_weights_save. */
static cn_st_out *outs_of(const cn_weights *w, int extra)
{
    cn_st_out *o = calloc((size_t)(w->count + extra), sizeof *o);
    for (int i = 0; i < w->count; i++) {
        o[i].name = w->w[i].name;
        o[i].ndim = w->w[i].ndim;
        o[i].shape = w->w[i].shape;
        o[i].data = w->w[i].data;
    }
    return o;
}

static const char *const META_V[] = {"format", "caspnet", "version", "1", "variant", "v"};

/* ---- (a) key list ---------------------------------------------------- */

static void test_spec_counts(void)
{
    cn_spec_key *av = NULL, *v = NULL;
    int nav = 0, nv = 0;
    TU_OK(cn_spec_keys("av", &av, &nav));
    TU_OK(cn_spec_keys("v", &v, &nv));
    TU_CHECK(nav == 679, "av has %d keys, want 679", nav);
    /* v drops audio.* (18), avim.i.{audio_proj,q,k,v,out} (4 x 10) and cpc.* (10). */
    TU_CHECK(nv == 611, "v has %d keys, want 611", nv);
    int64_t tav = 0, tv = 0;
    for (int i = 0; i < nav; i++)
        tav += numel_of(&av[i]);
    for (int i = 0; i < nv; i++)
        tv += numel_of(&v[i]);
    TU_CHECK(tav == 94652225, "av holds %lld values, want 94652225", (long long)tav);
    TU_CHECK(tv == 14214337, "v holds %lld values, want 14214337", (long long)tv);
    /* v must be av with the audio-dependent keys removed, order kept. */
    int j = 0;
    for (int i = 0; i < nav && j < nv; i++)
        if (strcmp(av[i].name, v[j].name) == 0) {
            TU_CHECK(av[i].ndim == v[j].ndim &&
                         memcmp(av[i].shape, v[j].shape, sizeof(int64_t) * (size_t)v[j].ndim) == 0,
                     "%s: shapes differ between av and v", v[j].name);
            j++;
        } else {
            TU_CHECK(strncmp(av[i].name, "audio.", 6) == 0 || strncmp(av[i].name, "cpc.", 4) == 0 ||
                         strstr(av[i].name, ".audio_proj.") || strstr(av[i].name, ".q.") ||
                         strstr(av[i].name, ".k.") || strstr(av[i].name, ".v.") ||
                         strstr(av[i].name, ".out."),
                     "av key %s missing from v but is not audio-dependent", av[i].name);
        }
    TU_CHECK(j == nv, "v is not an ordered subset of av (matched %d of %d)", j, nv);
    for (int i = 0; i < nav; i++)
        for (int k = i + 1; k < nav; k++)
            if (strcmp(av[i].name, av[k].name) == 0)
                TU_CHECK(0, "duplicate key %s", av[i].name);
    cn_spec_key *x = NULL;
    int nx = -1;
    TU_FAILS(CN_ERR_ARG, cn_spec_keys("x", &x, &nx));
    free(x);
    free(av);
    free(v);
}

/* Runs the reference's spec_keys() and compares "name d0,d1,..." line by line.
 * The source dir comes from __FILE__ because the build passes no path to the
 * test; the dir travels in the environment so no shell quoting is involved. */
static void test_spec_vs_python(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("note: /usr/bin/python3 absent; skipping the comparison with caspnet_ref.py\n");
        return;
    }
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
        printf("note: /usr/bin/python3 lacks torch; skipping the comparison with caspnet_ref.py\n");
        return;
    }
    char dir[1024];
    const char *here = __FILE__, *slash = strrchr(here, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s/torch_reference", (int)(slash - here), here);
    else
        snprintf(dir, sizeof dir, "torch_reference");
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/caspnet_ref.py", dir);
    TU_CHECK(access(probe, R_OK) == 0, "cannot find %s", probe);
    if (access(probe, R_OK) != 0)
        return;
    setenv("CN_TEST_REF_DIR", dir, 1);
    /* One interpreter for both variants: importing torch costs ~2 s. Each
     * variant's lines follow a "= variant" marker line. */
    FILE *p = popen("/usr/bin/python3 -c \"import os,sys; "
                    "sys.path.insert(0, os.environ['CN_TEST_REF_DIR']); import caspnet_ref as R\n"
                    "for v in ('av', 'v'):\n"
                    "    print('=', v)\n"
                    "    [print(k, ','.join(str(d) for d in s)) for k, s in R.spec_keys(v)]\"",
                    "r");
    TU_CHECK(p != NULL, "popen python3");
    if (!p)
        return;
    cn_spec_key *keys = NULL;
    int n = 0, i = 0, bad = 0, sections = 0;
    char variant[8] = "", line[512], want[512];
    for (int more = 1; more;) {
        more = fgets(line, sizeof line, p) != NULL;
        line[strcspn(line, "\r\n")] = '\0';
        if (!more || strncmp(line, "= ", 2) == 0) {
            if (keys) { /* close the previous variant */
                TU_CHECK(i == n, "%s: python gives %d keys, C %d", variant, i, n);
                TU_CHECK(bad == 0, "%s: %d keys differ from the reference", variant, bad);
                free(keys);
                keys = NULL;
            }
            if (more) {
                snprintf(variant, sizeof variant, "%s", line + 2);
                TU_OK(cn_spec_keys(variant, &keys, &n));
                i = bad = 0;
                sections++;
            }
            continue;
        }
        if (keys && i < n) {
            int k = snprintf(want, sizeof want, "%s ", keys[i].name);
            for (int d = 0; d < keys[i].ndim; d++)
                k += snprintf(want + k, sizeof want - (size_t)k, d ? ",%lld" : "%lld",
                              (long long)keys[i].shape[d]);
            if (strcmp(line, want) != 0 && bad++ < 5)
                TU_CHECK(0, "%s key %d: python '%s', C '%s'", variant, i, line, want);
        }
        i++;
    }
    int rc = pclose(p);
    TU_CHECK(rc == 0, "python spec_keys exited with %d", rc);
    TU_CHECK(sections == 2, "python printed %d variants, want 2", sections);
}

/* ---- (b) round trips ------------------------------------------------- */

static void test_new_and_lookup(void)
{
    cn_weights *w = NULL;
    TU_OK(cn_weights_new("v", &w));
    if (!w)
        return;
    TU_CHECK(strcmp(w->variant, "v") == 0 && w->count == 611 && w->total == 14214337,
             "new v: variant %s count %d total %lld", w->variant, w->count, (long long)w->total);
    int zero = 1;
    for (int64_t i = 0; i < w->total; i++)
        zero &= w->block[i] == 0.0f;
    TU_CHECK(zero, "cn_weights_new must zero-fill");
    /* Tensors tile the block in order with no gaps, as the device upload assumes. */
    int64_t off = 0;
    for (int i = 0; i < w->count; i++) {
        TU_CHECK(w->w[i].data == w->block + off, "%s not at offset %lld", w->w[i].name,
                 (long long)off);
        off += w->w[i].numel;
    }
    cn_weight *t = cn_weights_get(w, "dec.1.head.bias");
    TU_CHECK(t && t->ndim == 1 && t->shape[0] == 1, "dec.1.head.bias lookup");
    TU_CHECK(cn_weights_get(w, "cpc.phi1.weight") == NULL, "v must lack cpc.phi1.weight");
    cn_weight *f = NULL;
    TU_OK(cn_weights_find(w, &f, "avim.%d.aspp.b%d.conv.weight", 3, 2));
    TU_CHECK(f && f->shape[1] == 832 && f->shape[3] == 3, "avim.3.aspp.b2.conv.weight shape");
    TU_FAILS(CN_ERR_MISMATCH, cn_weights_find(w, &f, "avim.%d.q.weight", 1));
    TU_CHECK(f == NULL, "find leaves NULL on failure");
    cn_weights_free(w);
    cn_weights *x = (cn_weights *)&x;
    TU_FAILS(CN_ERR_ARG, cn_weights_new("x", &x));
    TU_CHECK(x == NULL, "new(x) leaves NULL");
    cn_weights_free(NULL);
}

static void round_trip(const char *variant, cn_st_dtype dt)
{
    char path[1024], what[64];
    snprintf(what, sizeof what, "%s %s round trip", variant, cn_st_dtype_name(dt));
    snprintf(path, sizeof path, "%s/rt_%s_%s.safetensors", g_dir, variant, cn_st_dtype_name(dt));
    double t0 = cn_seconds();
    cn_weights *w = NULL;
    TU_OK(cn_weights_new(variant, &w));
    if (!w)
        return;
    fill_pattern(w);
    int count = w->count;
    int64_t total = w->total;
    TU_OK(cn_weights_save(w, path, dt));
    cn_weights_free(w); /* the pattern is rebuilt for the comparison */
    cn_weights *r = NULL;
    TU_OK(cn_weights_load(path, &r));
    if (r) {
        TU_CHECK(strcmp(r->variant, variant) == 0 && r->count == count && r->total == total,
                 "%s: variant %s count %d total %lld", what, r->variant, r->count,
                 (long long)r->total);
        TU_CHECK(r->nonfinite == 0, "%s: %d non-finite tensors", what, r->nonfinite);
        check_pattern(r, dt, what);
        cn_weights_free(r);
    }
    /* The stored dtype must be the one asked for, not silently F32 (v only:
     * re-reading the av file would double this case's time). */
    cn_st_file *f = NULL;
    if (strcmp(variant, "v") == 0) {
        TU_OK(cn_st_read(path, &f));
        if (f) {
            int same = f->count == count;
            for (int i = 0; same && i < f->count; i++)
                same = f->tensors[i].dtype == dt;
            TU_CHECK(same, "%s: stored dtype", what);
            TU_CHECK(cn_st_meta(f, "format") && strcmp(cn_st_meta(f, "format"), "caspnet") == 0 &&
                         cn_st_meta(f, "version") && strcmp(cn_st_meta(f, "version"), "1") == 0 &&
                         cn_st_meta(f, "variant") &&
                         strcmp(cn_st_meta(f, "variant"), variant) == 0,
                     "%s: metadata", what);
            cn_st_free(f);
        }
    }
    remove(path);
    printf("%s: %.2f s\n", what, cn_seconds() - t0);
}

/* ---- (c) validation failures ---------------------------------------- */

static void test_failures_v(void)
{
    cn_weights *w = NULL;
    TU_OK(cn_weights_new("v", &w));
    if (!w)
        return;
    fill_pattern(w);
    char path[1024];
    cn_st_out *o = outs_of(w, 1);
    /* F16 halves the bytes written; these cases test the key checks, not precision. */
    const cn_st_dtype dt = CN_ST_F16;

    /* Missing key: the middle of the list, the first and the last. */
    const int drops[3] = {w->count / 2, 0, w->count - 1};
    for (int k = 0; k < 3; k++) {
        int d = drops[k];
        cn_st_out *m = outs_of(w, 0);
        memmove(&m[d], &m[d + 1], sizeof *m * (size_t)(w->count - d - 1));
        tu_path(path, sizeof path, g_dir, "missing.safetensors");
        TU_OK(cn_st_write(path, m, w->count - 1, dt, META_V, 3));
        char what[128];
        snprintf(what, sizeof what, "missing %s", w->w[d].name);
        expect_load_fail(path, CN_ERR_MISMATCH, w->w[d].name, what);
        free(m);
    }

    /* Unexpected extra key: one unknown name, then an av-only name in a v file. */
    static const float extra_data[4] = {1, 2, 3, 4};
    static const int64_t extra_shape[1] = {4};
    const char *extras[2] = {"video.base.99.conv.weight", "cpc.phi1.bias"};
    for (int k = 0; k < 2; k++) {
        o[w->count] = (cn_st_out){extras[k], 1, extra_shape, extra_data};
        tu_path(path, sizeof path, g_dir, "extra.safetensors");
        TU_OK(cn_st_write(path, o, w->count + 1, dt, META_V, 3));
        expect_load_fail(path, CN_ERR_MISMATCH, extras[k], "extra key");
    }

    /* Mis-shaped key: one dim smaller (so the data pointer stays valid), one
     * dim permuted (same numel: only the shape check can catch it), and one
     * dim dropped. */
    {
        int ti = -1;
        for (int i = 0; i < w->count; i++)
            if (strcmp(w->w[i].name, "avim.2.aspp.b1.conv.weight") == 0)
                ti = i;
        TU_CHECK(ti >= 0, "avim.2.aspp.b1.conv.weight in v");
        if (ti >= 0) {
            const cn_weight *t = &w->w[ti];
            int64_t s[3][5];
            int nd[3] = {t->ndim, t->ndim, t->ndim - 1};
            for (int k = 0; k < 3; k++)
                memcpy(s[k], t->shape, sizeof s[k]);
            s[0][1] -= 1;                                     /* 64x479x1x3x3 */
            s[1][0] = t->shape[1], s[1][1] = t->shape[0];     /* 480x64x1x3x3 */
            memmove(&s[2][2], &s[2][3], 2 * sizeof(int64_t)); /* 64x480x3x3 */
            for (int k = 0; k < 3; k++) {
                cn_st_out *m = outs_of(w, 0);
                m[ti].ndim = nd[k];
                m[ti].shape = s[k];
                tu_path(path, sizeof path, g_dir, "shape.safetensors");
                TU_OK(cn_st_write(path, m, w->count, dt, META_V, 3));
                expect_load_fail(path, CN_ERR_MISMATCH, t->name, "mis-shaped key");
                free(m);
            }
        }
    }

    /* Wrong metadata: the message must name the metadata key at fault. */
    {
        const char *bad_fmt[] = {"format", "safetensors", "version", "1", "variant", "v"};
        const char *bad_ver[] = {"format", "caspnet", "version", "2", "variant", "v"};
        const char *bad_var[] = {"format", "caspnet", "version", "1", "variant", "x"};
        const char *no_var[] = {"format", "caspnet", "version", "1"};
        const char *no_ver[] = {"format", "caspnet", "variant", "v"};
        const char *no_fmt[] = {"version", "1", "variant", "v"};
        struct {
            const char *const *kv;
            int pairs;
            const char *needle;
        } cases[] = {{bad_fmt, 3, "format"}, {bad_ver, 3, "version"}, {bad_var, 3, "variant"},
                     {no_var, 2, "variant"}, {no_ver, 2, "version"}, {no_fmt, 2, "format"},
                     {NULL, 0, "format"}};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            tu_path(path, sizeof path, g_dir, "meta.safetensors");
            TU_OK(cn_st_write(path, o, w->count, dt, cases[k].kv, cases[k].pairs));
            char what[64];
            snprintf(what, sizeof what, "metadata case %zu", k);
            expect_load_fail(path, CN_ERR_MISMATCH, cases[k].needle, what);
        }
    }

    /* A v file labelled av: the first av-only key is reported missing. */
    {
        const char *meta_av[] = {"format", "caspnet", "version", "1", "variant", "av"};
        tu_path(path, sizeof path, g_dir, "v_as_av.safetensors");
        TU_OK(cn_st_write(path, o, w->count, dt, meta_av, 3));
        expect_load_fail(path, CN_ERR_MISMATCH, "audio.features.0.weight", "v file labelled av");
    }

    /* Truncated file: cut inside the length prefix, the header, at the start
     * of the data and inside it, and one byte short. */
    {
        tu_path(path, sizeof path, g_dir, "whole.safetensors");
        TU_OK(cn_st_write(path, o, w->count, dt, META_V, 3));
        size_t got = 0;
        unsigned char *buf = tu_read_file(path, &got);
        TU_CHECK(buf != NULL, "reopen %s", path);
        long size = (long)got;
        if (buf) {
            uint64_t hl = 0;
            for (int i = 0; i < 8; i++)
                hl |= (uint64_t)buf[i] << (8 * i);
            const long cuts[] = {1, 7, 8, 8 + (long)hl / 2, 8 + (long)hl, 8 + (long)hl + 1000,
                                 size / 2, size - 2, size - 1};
            for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
                tu_path(path, sizeof path, g_dir, "cut.safetensors");
                tu_write_file(path, buf, (size_t)cuts[k]);
                char what[64];
                snprintf(what, sizeof what, "cut at %ld of %ld", cuts[k], size);
                expect_load_fail(path, CN_ERR_FORMAT, NULL, what);
            }
            /* Appended bytes are as malformed as missing ones. */
            tu_path(path, sizeof path, g_dir, "long.safetensors");
            tu_write_file(path, buf, (size_t)size + 1); /* tu_read_file's trailing NUL */
            expect_load_fail(path, CN_ERR_FORMAT, NULL, "one byte appended");
            free(buf);
        }
        tu_path(path, sizeof path, g_dir, "whole.safetensors");
        remove(path);
    }

    /* Not a safetensors file at all, an empty one, and one that does not exist. */
    {
        tu_path(path, sizeof path, g_dir, "garbage.safetensors");
        static const char text[] = "this is not a weights file, just some text long enough\n";
        tu_write_file(path, text, sizeof text - 1);
        expect_load_fail(path, CN_ERR_FORMAT, NULL, "garbage file");
        tu_path(path, sizeof path, g_dir, "empty.safetensors");
        tu_write_file(path, "", 0);
        expect_load_fail(path, CN_ERR_FORMAT, NULL, "empty file");
        tu_path(path, sizeof path, g_dir, "absent.safetensors");
        expect_load_fail(path, CN_ERR_IO, NULL, "absent file");
    }

    /* NaN in one weight: loads, with a warning count naming the tensor; Inf in
     * a second tensor counts too but the first stays the one named. */
    {
        cn_weight *t = cn_weights_get(w, "avim.1.aspp.proj.bn.running_var");
        cn_weight *u = cn_weights_get(w, "dec.2.gen.conv.bias");
        TU_CHECK(t && u, "NaN targets exist");
        if (t && u) {
            t->data[7] = NAN;
            tu_path(path, sizeof path, g_dir, "nan.safetensors");
            TU_OK(cn_weights_save(w, path, CN_ST_F32));
            cn_weights *r = NULL;
            TU_OK(cn_weights_load(path, &r));
            if (r) {
                TU_CHECK(r->nonfinite == 1, "NaN: nonfinite %d, want 1", r->nonfinite);
                TU_CHECK(strcmp(r->nonfinite_first, t->name) == 0, "NaN: first '%s', want '%s'",
                         r->nonfinite_first, t->name);
                cn_weight *rt = cn_weights_get(r, t->name);
                TU_CHECK(rt && isnan(rt->data[7]) && rt->data[6] == t->data[6],
                         "NaN: value not kept");
                cn_weights_free(r);
            }
            u->data[0] = -INFINITY;
            TU_OK(cn_weights_save(w, path, CN_ST_BF16));
            TU_OK(cn_weights_load(path, &r));
            if (r) {
                TU_CHECK(r->nonfinite == 2, "NaN+Inf (BF16): nonfinite %d, want 2", r->nonfinite);
                TU_CHECK(strcmp(r->nonfinite_first, t->name) == 0, "NaN+Inf: first '%s', want '%s'",
                         r->nonfinite_first, t->name);
                cn_weights_free(r);
            }
            remove(path);
        }
    }
    free(o);
    cn_weights_free(w);
}

/* An av model written under the v label must fail on the first av-only key.
 * Costly (the whole av model, BF16 = 190 MB), so done once. */
static void test_av_labelled_v(void)
{
    cn_weights *w = NULL;
    TU_OK(cn_weights_new("av", &w));
    if (!w)
        return;
    char path[1024];
    tu_path(path, sizeof path, g_dir, "av_as_v.safetensors");
    cn_st_out *o = outs_of(w, 0);
    TU_OK(cn_st_write(path, o, w->count, CN_ST_BF16, META_V, 3));
    free(o);
    cn_weights_free(w);
    expect_load_fail(path, CN_ERR_MISMATCH, "audio.features.0.weight", "av file labelled v");
    remove(path);
}

int main(void)
{
    double t0 = cn_seconds();
    if (tu_tmpdir_make(g_dir, sizeof g_dir, "caspnet-weights-") != 0)
        return 1;
    test_spec_counts();
    double tp = cn_seconds();
    test_spec_vs_python();
    printf("key list vs caspnet_ref.py: %.2f s\n", cn_seconds() - tp);
    test_new_and_lookup();
    round_trip("v", CN_ST_F32);
    round_trip("v", CN_ST_F16);
    round_trip("v", CN_ST_BF16);
    double t1 = cn_seconds();
    test_failures_v();
    printf("v validation failures: %.2f s\n", cn_seconds() - t1);
    /* The full-size model once: catches anything sized by the v variant only. */
    round_trip("av", CN_ST_BF16);
    t1 = cn_seconds();
    test_av_labelled_v();
    printf("av labelled v: %.2f s\n", cn_seconds() - t1);
    tu_tmpdir_remove(g_dir);
    printf("total %.1f s\n", cn_seconds() - t0);
    return tu_finish("test_weights");
}
