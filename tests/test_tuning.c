/* The tuner and the tuning lookup: the model's problems from its dry run, a tiny tuning run whose file a second context picks up (packed layout included), the lookup order (CASPNET_TUNING=PATH, the user file, the shipped database, defaults) and its fallbacks (stale kernel hash, another device, corrupt JSON, another schema, bad class strings, CASPNET_TUNING=off), and the shipped database's entries. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "model/model_problems.h"
#include "model/modelspec.h"
#include "testutil.h"

static char user_file[1200];

static cn_ctx *fresh_ctx(int profiling)
{
    cn_ctx_opts o = {0};
    o.profiling = profiling;
    cn_ctx *ctx = NULL;
    if (cn_ctx_create(&o, &ctx) != CN_OK) {
        TU_CHECK(0, "context: %s", cn_last_error());
        return NULL;
    }
    return ctx;
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* A context with its lookup done; its sources and notes printed. */
static cn_ctx *looked_up(const char *what)
{
    cn_ctx *ctx = fresh_ctx(0);
    if (!ctx)
        return NULL;
    TU_OK(cn_tuning_ensure(ctx));
    printf("%s: gemm from %s; conv from %s\n", what, cn_tuning_source(ctx, CN_TF_GEMM),
           cn_tuning_source(ctx, CN_TF_CONV));
    if (cn_tuning_notes(ctx)[0])
        printf("  notes: %s", cn_tuning_notes(ctx));
    return ctx;
}

/* The model's problems: every class has some, and their FLOPs are what the
 * model counts for its forward pass, plus the output projection of the
 * closed form (a C x C matrix times one vector per clip and stage), which it
 * runs but does not count. */
static void check_problems(void)
{
    cn_ctx *ctx = fresh_ctx(0);
    if (!ctx)
        return;
    cn_tune_problem *p = NULL;
    int np = 0;
    TU_OK(cn_model_problems(ctx, "av", 2, 64, 96, &p, &np));
    int per[CN_TC_COUNT] = {0};
    double sum = 0;
    for (int i = 0; i < np; i++) {
        int also;
        per[cn_tune_problem_class(ctx, &p[i], &also)]++;
        if (also >= 0)
            per[also]++;
        sum += p[i].flops * p[i].count;
        TU_CHECK(p[i].count >= 1 && p[i].flops > 0, "problem %s: count %d, %g FLOP", p[i].tag,
                 p[i].count, p[i].flops);
    }
    for (int c = 0; c < CN_TC_COUNT; c++)
        TU_CHECK(per[c] > 0, "no problem of class %s at 64 x 96", cn_tune_classes[c].name);
    cn_weights *w = NULL;
    cn_model *m = NULL;
    double total = 0;
    TU_OK(cn_weights_new("av", &w));
    if (w)
        TU_OK(cn_model_create(ctx, w, &m));
    if (m)
        TU_OK(cn_model_flops(m, 2, 64, 96, 0, &total, NULL));
    total += CN_SPEC_STAGES * 2.0 * 2 * CN_SPEC_C * CN_SPEC_C * 1e-9; /* N = 2 */
    printf("%d problems, %.6f GFLOP recorded, the model counts %.6f GFLOP with the projections\n",
           np, sum * 1e-9, total);
    TU_CHECK(fabs(sum * 1e-9 - total) <= 1e-9 * total, "recorded %.6f GFLOP, the model counts "
             "%.6f", sum * 1e-9, total);
    cn_model_destroy(m);
    cn_weights_free(w);
    free(p);
    cn_ctx_destroy(ctx);
}

static void log_line(void *user, const char *line)
{
    (void)user;
    printf("  | %s\n", line);
}

/* A tiny tuning run, its file, and a second context that uses it. */
static void check_tuner(void)
{
    cn_ctx *ctx = fresh_ctx(1);
    if (!ctx)
        return;
    cn_tune_problem *p = NULL;
    int np = 0, nres = 0;
    cn_tune_result res[CN_TC_COUNT];
    TU_OK(cn_model_problems(ctx, "av", 1, 32, 32, &p, &np));
    cn_tune_run_opts o = {.mode = CN_TUNE_RAPID, .budget = 3, .only_cls = -1, .log = log_line};
    TU_OK(cn_tune_run(ctx, p, np, &o, res, &nres));
    TU_CHECK(nres == CN_TC_COUNT, "%d of %d classes tuned", nres, CN_TC_COUNT);
    for (int i = 0; i < nres; i++) {
        const char *name = cn_tune_classes[res[i].cls].name;
        TU_CHECK(res[i].opts[0] && res[i].tried >= 1 && res[i].seconds > 0 &&
                     res[i].default_seconds > 0, "%s: '%s', %d timed, %g s", name, res[i].opts,
                 res[i].tried, res[i].seconds);
        /* the default is a candidate: the choice is within the tie margin of it or faster */
        TU_CHECK(res[i].seconds <= 1.03 * res[i].default_seconds, "%s: chose %g s over the "
                 "default's %g s", name, res[i].seconds, res[i].default_seconds);
        TU_CHECK(strcmp(cn_tuning_get(ctx, res[i].cls) ? cn_tuning_get(ctx, res[i].cls) : "",
                        res[i].opts) == 0, "%s: the context runs the choice", name);
    }
    TU_OK(cn_tuning_write(ctx, user_file, res, nres, "test_tuning", "a test run"));
    cn_ctx_destroy(ctx);
    free(p);

    size_t n = 0;
    char *text = (char *)tu_read_file(user_file, &n);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    TU_CHECK(j != NULL, "%s is not JSON", user_file);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "classes");
    TU_CHECK(cJSON_GetArraySize(cls) == nres, "the file holds %d classes", cJSON_GetArraySize(cls));
    cJSON_Delete(j);
    free(text);

    cn_ctx *b = looked_up("second context");
    if (!b)
        return;
    for (int f = 0; f < CN_TF_COUNT; f++)
        TU_CHECK(starts(cn_tuning_source(b, f), "user file"), "%s from %s",
                 cn_tune_families[f].name, cn_tuning_source(b, f));
    for (int i = 0; i < nres; i++) {
        const char *got = cn_tuning_get(b, res[i].cls);
        TU_CHECK(got && strcmp(got, res[i].opts) == 0, "%s: read back '%s', wrote '%s'",
                 cn_tune_classes[res[i].cls].name, got ? got : "(none)", res[i].opts);
    }
    cn_ctx_destroy(b);
}

static int wrong_lines;
static void log_wrong(void *user, const char *line)
{
    (void)user;
    printf("  | %s\n", line);
    wrong_lines += strstr(line, "wrong") != NULL;
}

/* The tuner on half operands (caspnet tune --precision fp16): every class
 * tuned, and no candidate that is right in float judged wrong in half
 * (which a half bound too tight for another summation order would do). */
static void check_tuner_half(void)
{
    cn_ctx *ctx = fresh_ctx(1);
    if (!ctx)
        return;
    cn_tune_problem *p = NULL;
    int np = 0, nres = 0;
    cn_tune_result res[CN_TC_COUNT];
    TU_OK(cn_model_problems(ctx, "av", 1, 32, 32, &p, &np));
    cn_tune_run_opts o = {.mode = CN_TUNE_RAPID, .budget = 3, .only_cls = -1, .log = log_wrong,
                          .storage = CN_F16};
    wrong_lines = 0;
    TU_OK(cn_tune_run(ctx, p, np, &o, res, &nres));
    TU_CHECK(nres == CN_TC_COUNT, "half: %d of %d classes tuned", nres, CN_TC_COUNT);
    TU_CHECK(wrong_lines == 0, "half: %d candidates judged wrong", wrong_lines);
    cn_ctx_destroy(ctx);
    free(p);
}

/* A file of known, non-default content, as JSON to modify. */
static cJSON *known_file(void)
{
    cn_ctx *ctx = fresh_ctx(0);
    if (!ctx)
        return NULL;
    cn_tune_result r[3] = {
        {.cls = CN_TC_GEMM_GENERAL, .opts = "-DGEMM_LOCAL=0 -DGEMM_VW=8 -DGEMM_NV=2 -DGEMM_WM=6"},
        {.cls = CN_TC_CONV_S3, .opts = "-DCONV_VARIANT=direct -DVW=8 -DR_RM=16 -DR_NR=2 -DR_NV=1"},
        {.cls = CN_TC_CONV_T3, .opts = "-DCONV_VARIANT=direct -DVW=16 -DR_RM=8 -DR_NR=4 -DR_NV=1"}};
    TU_OK(cn_tuning_write(ctx, user_file, r, 3, "test_tuning", ""));
    cn_ctx_destroy(ctx);
    size_t n;
    char *text = (char *)tu_read_file(user_file, &n);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    TU_CHECK(j != NULL, "cannot read back %s", user_file);
    return j;
}

static void write_json(const char *path, const cJSON *j)
{
    char *t = cJSON_Print(j);
    if (t)
        tu_write_file(path, t, strlen(t));
    free(t);
}

static int64_t k133[5] = {64, 48, 1, 3, 3}, k311[5] = {64, 48, 3, 1, 1}, k333[5] = {64, 48, 3, 3, 3};

static int same_opts(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* Whether ctx runs the shipped database's (or the defaults') string for every
 * class of family f, as the db context does: what a fallback lands on. */
static int falls_back(const cn_ctx *ctx, const cn_ctx *db, int f)
{
    for (int c = 0; c < CN_TC_COUNT; c++)
        if (cn_tune_classes[c].family == f && !same_opts(cn_tuning_get(ctx, c), cn_tuning_get(db, c)))
            return 0;
    return 1;
}

static void check_lookup(const char *dir)
{
    cJSON *j = known_file();
    if (!j)
        return;
    const int R = cn_conv_pack_block(NULL); /* the built-in block */
    /* what the lookup gives without the user file: the fallbacks below land there */
    setenv("CASPNET_TUNING", "db", 1);
    cn_ctx *db = looked_up("CASPNET_TUNING=db");
    unsetenv("CASPNET_TUNING");
    if (!db) {
        cJSON_Delete(j);
        return;
    }
    const int Rdb = cn_conv_pack_block_of(db, 5, k133);

    /* the user file: its classes, the packed layout follows them */
    cn_ctx *c = looked_up("user file");
    char buf[600];
    TU_CHECK(c && starts(cn_tuning_source(c, CN_TF_CONV), "user file") &&
                 strstr(cn_gemm_tuning(c, buf, sizeof buf), "-DGEMM_VW=8 "),
             "user file not used (gemm %s)", c ? buf : "");
    if (c) {
        /* the file's classes, and for those it lacks the next layer's */
        const int Rk3 = cn_conv_pack_block_of(db, 5, k333);
        TU_CHECK(cn_conv_pack_block_of(c, 5, k133) == 16 && cn_conv_pack_block_of(c, 5, k311) == 8 &&
                     cn_conv_pack_block_of(c, 5, k333) == Rk3 && cn_conv_pack_block_of(c, 4, k133 + 1) == 16,
                 "pack blocks %d %d %d (want 16 8 %d; 2D 3x3 is conv.s3's)", cn_conv_pack_block_of(c, 5, k133),
                 cn_conv_pack_block_of(c, 5, k311), cn_conv_pack_block_of(c, 5, k333), Rk3);
        TU_CHECK(same_opts(cn_tuning_get(c, CN_TC_CONV_K3), cn_tuning_get(db, CN_TC_CONV_K3)) &&
                     same_opts(cn_tuning_get(c, CN_TC_GEMM_SKINNY), cn_tuning_get(db, CN_TC_GEMM_SKINNY)),
                 "classes the file lacks come from the next layer");
        /* the dilated class keeps its own macros but reads conv.s3's layout */
        const int k[3] = {1, 3, 3}, s[3] = {1, 1, 1}, d2[3] = {1, 2, 2};
        const char *dil = cn_tuning_conv_opts(c, k, s, d2);
        TU_CHECK(dil && strstr(dil, "-DR_RM=16"), "dilated: %s", dil);
    }
    cn_ctx_destroy(c);

    /* CASPNET_TUNING=off: the built-in defaults, whatever the files say */
    setenv("CASPNET_TUNING", "off", 1);
    c = looked_up("CASPNET_TUNING=off");
    for (int k = 0; c && k < CN_TC_COUNT; k++)
        TU_CHECK(cn_tuning_get(c, k) == NULL, "off: %s is set", cn_tune_classes[k].name);
    TU_CHECK(c && cn_conv_pack_block_of(c, 5, k133) == R, "off: pack block");
    cn_ctx_destroy(c);

    /* CASPNET_TUNING=db: the user file is not read */
    TU_CHECK(!strstr(cn_tuning_source(db, CN_TF_CONV), "user file") &&
                 !strstr(cn_tuning_source(db, CN_TF_GEMM), "user file"), "db read the user file");

    /* CASPNET_TUNING=PATH instead of the user file */
    char other[1300];
    tu_path(other, sizeof other, dir, "given.json");
    write_json(other, j);
    remove(user_file);
    setenv("CASPNET_TUNING", other, 1);
    c = looked_up("CASPNET_TUNING=PATH");
    TU_CHECK(c && starts(cn_tuning_source(c, CN_TF_CONV), "CASPNET_TUNING file"), "PATH unused");
    cn_ctx_destroy(c);
    unsetenv("CASPNET_TUNING");

    /* no file: no note about it, the db's tuning */
    c = looked_up("no user file");
    TU_CHECK(c && !strstr(cn_tuning_notes(c), "user file") && falls_back(c, db, CN_TF_CONV) &&
                 falls_back(c, db, CN_TF_GEMM), "a missing file is not a note");
    cn_ctx_destroy(c);

    /* stale conv kernels: conv falls back, gemm still from the file */
    cJSON *s = cJSON_Duplicate(j, 1);
    cJSON *kern = cJSON_GetObjectItemCaseSensitive(s, "kernels");
    cJSON_ReplaceItemInObjectCaseSensitive(kern, "conv", cJSON_CreateString("0000000000000001"));
    write_json(user_file, s);
    cJSON_Delete(s);
    c = looked_up("stale conv hash");
    TU_CHECK(c && starts(cn_tuning_source(c, CN_TF_GEMM), "user file") &&
                 !strstr(cn_tuning_source(c, CN_TF_CONV), "user file") &&
                 strstr(cn_tuning_notes(c), "conv kernels changed") && falls_back(c, db, CN_TF_CONV) &&
                 cn_conv_pack_block_of(c, 5, k133) == Rdb, "stale hash not handled");
    cn_ctx_destroy(c);

    /* another device, another schema, bad JSON: notes and fallbacks */
    static const char *const broken[] = {"other device", "schema 99", "corrupt", "not ours"};
    static const char *const expect[] = {"not this device", "schema version 99",
                                         "not valid JSON", "not a caspnet tuning file"};
    for (int b = 0; b < 4; b++) {
        s = cJSON_Duplicate(j, 1);
        if (b == 0)
            cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "device"),
                                                   "name", cJSON_CreateString("another device"));
        if (b == 1)
            cJSON_ReplaceItemInObjectCaseSensitive(s, "version", cJSON_CreateNumber(99));
        if (b == 3)
            cJSON_ReplaceItemInObjectCaseSensitive(s, "schema", cJSON_CreateString("x"));
        if (b == 2)
            tu_write_file(user_file, "{\"schema\": \"caspnet-tuning\", ", 29);
        else
            write_json(user_file, s);
        cJSON_Delete(s);
        c = looked_up(broken[b]);
        TU_CHECK(c && strstr(cn_tuning_notes(c), expect[b]) &&
                     !strstr(cn_tuning_source(c, CN_TF_GEMM), "user file") &&
                     !strstr(cn_tuning_source(c, CN_TF_CONV), "user file") &&
                     falls_back(c, db, CN_TF_GEMM) && falls_back(c, db, CN_TF_CONV),
                 "%s: notes '%s'", broken[b], c ? cn_tuning_notes(c) : "");
        cn_ctx_destroy(c);
    }

    /* a bad class string: that class falls back, the rest is used */
    static const char *const bad[] = {"-DVW=3", "-DNOPE=1", "VW=8"};
    for (int b = 0; b < 3; b++) {
        s = cJSON_Duplicate(j, 1);
        cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "classes"),
                                                    "conv.s3");
        cJSON_ReplaceItemInObjectCaseSensitive(o, "options", cJSON_CreateString(bad[b]));
        write_json(user_file, s);
        cJSON_Delete(s);
        c = looked_up(bad[b]);
        TU_CHECK(c && strstr(cn_tuning_notes(c), "conv.s3 not used") &&
                     same_opts(cn_tuning_get(c, CN_TC_CONV_S3), cn_tuning_get(db, CN_TC_CONV_S3)) &&
                     cn_tuning_get(c, CN_TC_CONV_T3) &&
                     strstr(cn_tuning_get(c, CN_TC_CONV_T3), "-DR_NR=4") &&
                     starts(cn_tuning_source(c, CN_TF_CONV), "user file"),
                 "bad string %s", bad[b]);
        cn_ctx_destroy(c);
    }
    cJSON_Delete(j);
    cn_ctx_destroy(db);
    remove(user_file);
}

/* Every shipped entry is a valid tuning file of known classes and macros. */
static void check_shipped(void)
{
    printf("shipped database: %d entries\n", cn_tuning_db_source_count);
    for (int i = 0; i < cn_tuning_db_source_count; i++) {
        const char *name = cn_tuning_db_sources[i].name;
        cJSON *j = cJSON_Parse(cn_tuning_db_sources[i].text);
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "classes");
        const cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "device");
        const cJSON *notes = cJSON_GetObjectItemCaseSensitive(j, "notes");
        TU_CHECK(j && cJSON_IsObject(cls) && cJSON_IsObject(dev) && cJSON_IsString(notes),
                 "%s: not a tuning file", name);
        const cJSON *e;
        cJSON_ArrayForEach(e, cls) {
            const int c = cn_tune_class_by_name(e->string);
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "options");
            char norm[256];
            TU_CHECK(c >= 0 && cJSON_IsString(o) &&
                         cn_tune_normalize(o->valuestring, cn_tune_classes[c].family, norm,
                                           sizeof norm) == CN_OK &&
                         strcmp(norm, o->valuestring) == 0,
                     "%s: class %s", name, e->string);
        }
        printf("  %s: %s, %d classes\n", name,
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dev, "name")),
               cJSON_GetArraySize(cls));
        cJSON_Delete(j);
    }
}

int main(void)
{
    char dir[512];
    if (tu_tmpdir_make(dir, sizeof dir, "caspnet-tuning-") != 0)
        return 1;
    /* the test's own cache folder, so no user file of $HOME is read */
    setenv("CASPNET_CACHE_DIR", dir, 1);
    unsetenv("CASPNET_TUNING");
    unsetenv("CASPNET_CONV_VARIANT");
    cn_ctx *ctx = fresh_ctx(0);
    if (!ctx)
        return tu_finish("test_tuning");
    cn_tuning_user_file(ctx, user_file, sizeof user_file);
    printf("device: %s; user file %s\n", cn_ctx_device(ctx)->name, user_file);
    cn_ctx_destroy(ctx);
    check_shipped();
    check_problems();
    check_tuner();
    check_tuner_half();
    check_lookup(dir);
    tu_tmpdir_remove(dir);
    return tu_finish("test_tuning");
}
