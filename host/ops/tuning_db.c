/* Tuning files: the device identity and kernel hashes they are keyed by, JSON reading and atomic writing, and the lookup (CASPNET_TUNING, the user's file, the shipped database, per-kind defaults). */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/fileio.h"
#include "ops/tuning_internal.h"

#define SCHEMA "caspnet-tuning"
#define VERSION 1

/* ---- identity and hashes ---------------------------------------------------------------- */

static void host_isa(char *buf, size_t n)
{
    buf[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        snprintf(buf, n, "avx512f");
    else if (__builtin_cpu_supports("avx2"))
        snprintf(buf, n, "avx2");
    else if (__builtin_cpu_supports("avx"))
        snprintf(buf, n, "avx");
    else
        snprintf(buf, n, "sse");
#elif defined(__aarch64__)
    snprintf(buf, n, "aarch64");
#endif
}

void cn_tuning_identity(const cn_ctx *ctx, cn_tune_identity *id)
{
    const cn_device_info *d = cn_ctx_device(ctx);
    memset(id, 0, sizeof *id);
    snprintf(id->platform, sizeof id->platform, "%s", d->platform_name);
    snprintf(id->name, sizeof id->name, "%s", d->name);
    snprintf(id->vendor, sizeof id->vendor, "%s", d->vendor);
    snprintf(id->driver, sizeof id->driver, "%s", d->driver);
    id->compute_units = d->compute_units;
    id->local_mem = d->local_mem;
    /* Intel's CPU runtime names the CPU by its brand string, which does not
     * say whether it has AVX-512: the host's vector ISA does */
    if (!(d->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)))
        host_isa(id->host_isa, sizeof id->host_isa);
}

static int same_identity(const cn_tune_identity *a, const cn_tune_identity *b)
{
    return strcmp(a->platform, b->platform) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->vendor, b->vendor) == 0 && strcmp(a->driver, b->driver) == 0 &&
           a->compute_units == b->compute_units && a->local_mem == b->local_mem &&
           strcmp(a->host_isa, b->host_isa) == 0;
}

uint64_t cn_tuning_family_hash(int family)
{
    /* the prelude goes before every program, so it is part of each family's kernels */
    uint64_t h = cn_fnv1a(CN_FNV_OFFSET, cn_cl_prelude.text, cn_cl_prelude.len);
    const char *p = cn_tune_families[family].programs;
    while (*p) {
        size_t n = strcspn(p, " ");
        for (int i = 0; i < cn_cl_source_count; i++)
            if (strlen(cn_cl_sources[i].name) == n && strncmp(cn_cl_sources[i].name, p, n) == 0) {
                h = cn_fnv1a(h, p, n);
                h = cn_fnv1a(h, cn_cl_sources[i].text, cn_cl_sources[i].len);
            }
        p += n;
        p += *p == ' ';
    }
    return h;
}

const char *cn_tuning_user_file(const cn_ctx *ctx, char *buf, size_t n)
{
    const char *dir = cn_ctx_cache_dir(ctx);
    if (!dir[0]) {
        if (n)
            buf[0] = '\0';
        return buf;
    }
    cn_tune_identity id;
    cn_tuning_identity(ctx, &id);
    char cu[64];
    snprintf(cu, sizeof cu, "%u %llu", id.compute_units, id.local_mem);
    const char *parts[] = {id.platform, id.name, id.vendor, id.driver, cu, id.host_isa};
    uint64_t h = CN_FNV_OFFSET;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = cn_fnv1a(h, parts[i], strlen(parts[i]) + 1);
    snprintf(buf, n, "%s/tuning-%016llx.json", dir, (unsigned long long)h);
    return buf;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* One parsed tuning file (or shipped entry). */
typedef struct entry {
    char label[400];                /* how notes and sources name it */
    int ok;                         /* parsed, our schema and version */
    cn_tune_identity id;
    uint64_t hash[CN_TF_COUNT];     /* 0: absent */
    char opts[CN_TC_COUNT][256];    /* "" absent */
    int has[CN_TC_COUNT];
} entry;

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Parses text into e; on failure e->ok = 0 and why says what is wrong. */
static void parse_entry(const char *text, entry *e, char *why, size_t nwhy)
{
    e->ok = 0;
    cJSON *j = cJSON_Parse(text);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        snprintf(why, nwhy, "not valid JSON (near '%.20s')", at ? at : "?");
        return;
    }
    const char *schema = jstr(j, "schema");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "device");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "classes");
    if (!schema || strcmp(schema, SCHEMA) != 0 || !cJSON_IsNumber(ver)) {
        snprintf(why, nwhy, "not a caspnet tuning file (schema '%s')", schema ? schema : "none");
    } else if (ver->valueint != VERSION) {
        snprintf(why, nwhy, "schema version %d, this build reads %d", ver->valueint, VERSION);
    } else if (!cJSON_IsObject(dev) || !cJSON_IsObject(cls)) {
        snprintf(why, nwhy, "no \"device\" or \"classes\" object");
    } else {
        const char *f[4] = {jstr(dev, "platform"), jstr(dev, "name"), jstr(dev, "vendor"),
                            jstr(dev, "driver")};
        const cJSON *cu = cJSON_GetObjectItemCaseSensitive(dev, "compute_units");
        const cJSON *lm = cJSON_GetObjectItemCaseSensitive(dev, "local_mem");
        const char *isa = jstr(dev, "host_isa");
        if (!f[0] || !f[1] || !f[2] || !f[3] || !cJSON_IsNumber(cu) || !cJSON_IsNumber(lm)) {
            snprintf(why, nwhy, "the device object lacks a field");
        } else {
            snprintf(e->id.platform, sizeof e->id.platform, "%s", f[0]);
            snprintf(e->id.name, sizeof e->id.name, "%s", f[1]);
            snprintf(e->id.vendor, sizeof e->id.vendor, "%s", f[2]);
            snprintf(e->id.driver, sizeof e->id.driver, "%s", f[3]);
            e->id.compute_units = (unsigned)cu->valuedouble;
            e->id.local_mem = (unsigned long long)lm->valuedouble;
            snprintf(e->id.host_isa, sizeof e->id.host_isa, "%s", isa ? isa : "");
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "kernels");
            for (int fam = 0; fam < CN_TF_COUNT; fam++) {
                const char *h = cJSON_IsObject(k) ? jstr(k, cn_tune_families[fam].name) : NULL;
                e->hash[fam] = h ? strtoull(h, NULL, 16) : 0;
            }
            for (int c = 0; c < CN_TC_COUNT; c++) {
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(cls, cn_tune_classes[c].name);
                const char *s = cJSON_IsObject(o) ? jstr(o, "options") : NULL;
                e->has[c] = s != NULL;
                snprintf(e->opts[c], sizeof e->opts[c], "%s", s ? s : "");
            }
            e->ok = 1;
        }
    }
    cJSON_Delete(j);
}

/* The file at path; *missing = 1 when it does not exist. */
static void read_entry(const char *path, entry *e, int *missing, char *why, size_t nwhy)
{
    *missing = 0;
    e->ok = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = 1;
        snprintf(why, nwhy, "cannot open it");
        return;
    }
    char *text = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (1 << 22) &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1)) != NULL &&
        fread(text, 1, (size_t)len, f) == (size_t)len) {
        text[len] = '\0';
        parse_entry(text, e, why, nwhy);
    } else {
        snprintf(why, nwhy, len >= (1 << 22) ? "larger than 4 MiB" : "cannot read it");
    }
    free(text);
    fclose(f);
}

/* The shipped entry for this device (first in file-name order), noting
 * entries for the same device under another driver or core count. */
static int shipped_entry(cn_ctx *ctx, const cn_tune_identity *me, entry *out, int note)
{
    entry *e = malloc(sizeof *e);
    int found = 0;
    for (int i = 0; e && i < cn_tuning_db_source_count && !found; i++) {
        char why[200] = "";
        parse_entry(cn_tuning_db_sources[i].text, e, why, sizeof why);
        snprintf(e->label, sizeof e->label, "shipped database %s", cn_tuning_db_sources[i].name);
        if (!e->ok) {
            if (note)
                cn_tuning_note_(ctx, "%s: %s", e->label, why);
        } else if (same_identity(&e->id, me)) {
            *out = *e;
            found = 1;
        } else if (note && strcmp(e->id.name, me->name) == 0 &&
                   strcmp(e->id.platform, me->platform) == 0) {
            cn_tuning_note_(ctx, "%s is for this device under driver %s, %u compute units, "
                            "%llu B local memory, host ISA '%s'; here: %s, %u, %llu, '%s'",
                            e->label, e->id.driver, e->id.compute_units, e->id.local_mem,
                            e->id.host_isa, me->driver, me->compute_units, me->local_mem,
                            me->host_isa);
        }
    }
    free(e);
    return found;
}

/* ---- the lookup ------------------------------------------------------------------------- */

/* Sets each class of family fam from the first of the valid layers that
 * has it (a class string that does not parse or fit is a note and the next
 * layer), else the kind default. used[i] counts the classes layer i gave;
 * -1 when out of host memory, else how many classes got a kind default. */
static int apply_family(cn_ctx *ctx, int fam, const entry *const *layer, int nl, int kind,
                        int used[])
{
    int kinds = 0;
    for (int c = 0; c < CN_TC_COUNT; c++) {
        if (cn_tune_classes[c].family != fam)
            continue;
        int done = 0;
        for (int i = 0; i < nl && !done; i++) {
            if (!layer[i] || !layer[i]->has[c])
                continue;
            const int st = cn_tuning_set(ctx, c, layer[i]->opts[c]);
            if (st == CN_ERR_OOM)
                return -1;
            if (st == CN_OK)
                done = 1, used[i]++;
            else
                cn_tuning_note_(ctx, "%s: %s not used: %s", layer[i]->label,
                                cn_tune_classes[c].name, cn_last_error());
        }
        if (done)
            continue;
        const char *d = cn_tune_kind_default(c, kind);
        const int st = cn_tuning_set(ctx, c, d);
        if (st == CN_ERR_OOM)
            return -1;
        if (st != CN_OK) {
            cn_tuning_note_(ctx, "defaults for %s devices: %s not used: %s",
                            cn_tune_kind_name(kind), cn_tune_classes[c].name, cn_last_error());
            cn_tuning_set(ctx, c, NULL);
        } else {
            kinds += *d != '\0';
        }
    }
    return kinds;
}

int cn_tuning_ensure(cn_ctx *ctx)
{
    if (!ctx)
        return cn_fail(CN_ERR_ARG, "tuning: no context");
    if (cn_tuning_loaded_(ctx))
        return CN_OK;
    CN_TRY(cn_tuning_mark_loaded_(ctx));
    const char *env = getenv("CASPNET_TUNING");
    if (env && strcmp(env, "off") == 0) {
        for (int f = 0; f < CN_TF_COUNT; f++)
            cn_tuning_set_source_(ctx, f, "built-in defaults (CASPNET_TUNING=off)");
        return CN_OK;
    }
    const int db_only = env && strcmp(env, "db") == 0;
    const int given = env && *env && !db_only && strcmp(env, "auto") != 0;
    cn_tune_identity me;
    cn_tuning_identity(ctx, &me);
    const int kind = cn_tune_device_kind(cn_ctx_device(ctx));
    entry *src = calloc(2, sizeof *src); /* [0] the user's (or given) file, [1] shipped */
    if (!src)
        return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
    char path[1100] = "";
    if (given)
        snprintf(path, sizeof path, "%s", env);
    else if (!db_only)
        cn_tuning_user_file(ctx, path, sizeof path);
    if (path[0]) {
        int missing;
        char why[300] = "";
        read_entry(path, &src[0], &missing, why, sizeof why);
        snprintf(src[0].label, sizeof src[0].label, "%s %s", given ? "CASPNET_TUNING file" : "user file",
                 path);
        if (src[0].ok && !same_identity(&src[0].id, &me)) {
            src[0].ok = 0;
            snprintf(why, sizeof why, "it is for %s / %s (driver %s, %u compute units), not "
                     "this device", src[0].id.platform, src[0].id.name, src[0].id.driver,
                     src[0].id.compute_units);
        }
        if (!src[0].ok && (!missing || given)) {
            cn_tuning_note_(ctx, "%s not used: %s", src[0].label, why);
            fprintf(stderr, "caspnet: tuning file %s not used: %s (`caspnet tune` writes a new "
                    "one)\n", path, why);
        }
    }
    shipped_entry(ctx, &me, &src[1], 1);
    for (int f = 0; f < CN_TF_COUNT; f++) {
        const uint64_t want = cn_tuning_family_hash(f);
        const entry *use[2] = {NULL, NULL}; /* the layers valid for this family, in order */
        int used[2] = {0, 0};
        for (int i = 0; i < 2; i++) {
            if (!src[i].ok)
                continue;
            if (src[i].hash[f] == want) {
                use[i] = &src[i];
                continue;
            }
            cn_tuning_note_(ctx, "%s: the %s kernels changed since it was tuned (hash %016llx, "
                            "now %016llx): %s falls back", src[i].label, cn_tune_families[f].name,
                            (unsigned long long)src[i].hash[f], (unsigned long long)want,
                            cn_tune_families[f].name);
            if (i == 0)
                fprintf(stderr, "caspnet: tuning file %s is stale for the %s kernels (`caspnet "
                        "tune` writes a new one)\n", path, cn_tune_families[f].name);
        }
        const int kinds = apply_family(ctx, f, use, 2, kind, used);
        if (kinds < 0) {
            free(src);
            return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
        }
        char desc[900] = "";
        size_t len = 0;
        for (int i = 0; i < 2; i++)
            if (used[i])
                len += (size_t)snprintf(desc + len, sizeof desc - len, "%s%s", len ? " and " : "",
                                        src[i].label);
        if (kinds && len < sizeof desc)
            len += (size_t)snprintf(desc + len, sizeof desc - len, "%sdefaults for %s devices",
                                    len ? " and " : "", cn_tune_kind_name(kind));
        if (!len)
            snprintf(desc, sizeof desc, "built-in defaults (no tuning for this device)");
        cn_tuning_set_source_(ctx, f, "%s", desc);
    }
    free(src);
    return CN_OK;
}

int cn_tuning_previous(const cn_ctx *ctx, int cls, char *buf, size_t n)
{
    cn_tune_identity me;
    cn_tuning_identity(ctx, &me);
    entry *e = malloc(sizeof *e);
    if (!e)
        return 0;
    char path[1100], why[300];
    const char *env = getenv("CASPNET_TUNING");
    if (env && *env && strcmp(env, "off") && strcmp(env, "db") && strcmp(env, "auto"))
        snprintf(path, sizeof path, "%s", env);
    else
        cn_tuning_user_file(ctx, path, sizeof path);
    int missing, found = 0;
    if (path[0]) {
        read_entry(path, e, &missing, why, sizeof why);
        found = e->ok && same_identity(&e->id, &me) && e->has[cls];
    }
    if (!found)
        found = shipped_entry((cn_ctx *)ctx, &me, e, 0) && e->has[cls];
    if (found)
        snprintf(buf, n, "%s", e->opts[cls]);
    free(e);
    return found;
}

/* ---- writing ----------------------------------------------------------------------------- */

int cn_tuning_write(const cn_ctx *ctx, const char *path, const cn_tune_result *r, int n,
                    const char *command, const char *notes)
{
    cn_tune_identity id;
    cn_tuning_identity(ctx, &id);
    cJSON *j = cJSON_CreateObject(), *dev = cJSON_CreateObject(), *k = cJSON_CreateObject();
    cJSON *cls = cJSON_CreateObject();
    if (!j || !dev || !k || !cls) {
        cJSON_Delete(j), cJSON_Delete(dev), cJSON_Delete(k), cJSON_Delete(cls);
        return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
    }
    char created[64];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(created, sizeof created, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tmv));
    cJSON_AddStringToObject(j, "schema", SCHEMA);
    cJSON_AddNumberToObject(j, "version", VERSION);
    cJSON_AddStringToObject(dev, "platform", id.platform);
    cJSON_AddStringToObject(dev, "name", id.name);
    cJSON_AddStringToObject(dev, "vendor", id.vendor);
    cJSON_AddStringToObject(dev, "driver", id.driver);
    cJSON_AddNumberToObject(dev, "compute_units", id.compute_units);
    cJSON_AddNumberToObject(dev, "local_mem", (double)id.local_mem);
    cJSON_AddStringToObject(dev, "host_isa", id.host_isa);
    cJSON_AddItemToObject(j, "device", dev);
    for (int f = 0; f < CN_TF_COUNT; f++) {
        char h[20];
        snprintf(h, sizeof h, "%016llx", (unsigned long long)cn_tuning_family_hash(f));
        cJSON_AddStringToObject(k, cn_tune_families[f].name, h);
    }
    cJSON_AddItemToObject(j, "kernels", k);
    cJSON_AddStringToObject(j, "created", created);
    cJSON_AddStringToObject(j, "command", command ? command : "");
    cJSON_AddStringToObject(j, "notes", notes ? notes : "");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            continue;
        cJSON_AddStringToObject(o, "options", r[i].opts);
        cJSON_AddNumberToObject(o, "seconds", r[i].seconds);
        cJSON_AddNumberToObject(o, "default_seconds", r[i].default_seconds);
        cJSON_AddNumberToObject(o, "tried", r[i].tried);
        cJSON_AddNumberToObject(o, "dropped", r[i].dropped);
        cJSON_AddStringToObject(o, "shapes", r[i].shapes);
        cJSON_AddItemToObject(cls, cn_tune_classes[r[i].cls].name, o);
    }
    cJSON_AddItemToObject(j, "classes", cls);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
    /* the folder first: the default place is the cache, which may not exist yet */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        cn_mkdir_p(dir);
    }
    size_t len = strlen(text);
    char *withnl = realloc(text, len + 2);
    if (withnl) {
        text = withnl;
        text[len] = '\n', text[len + 1] = '\0';
    }
    int st = cn_write_text_atomic(path, text);
    free(text);
    return st;
}
