/* Safetensors reading with full bounds checking, float16/bfloat16 conversion, and writing (atomic, through fileio.h). */
#include "io/safetensors.h"
#include "io/fileio.h"
#include "runtime/status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Records the failure and jumps to the function's single cleanup label. */
#define FAIL(...)                  \
    do {                           \
        st = cn_fail(__VA_ARGS__); \
        goto done;                 \
    } while (0)

/* JSON numbers arrive as doubles; above 2^53 they are no longer exact, and
 * no real shape or offset comes near it. */
#define CN_ST_MAX_INT 9007199254740992.0

/* ---------------------------------------------------------------- floats */

/* binary16 lives in runtime/half.c (the device tensors use it too). */

float cn_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t cn_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could clear every mantissa bit */
        return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* --------------------------------------------------------------- helpers */

static size_t elem_size(cn_st_dtype d) { return d == CN_ST_F32 ? 4 : 2; }

const char *cn_st_dtype_name(cn_st_dtype d)
{
    switch (d) {
    case CN_ST_F32: return "F32";
    case CN_ST_F16: return "F16";
    case CN_ST_BF16: return "BF16";
    }
    return "?";
}

/* Names come from untrusted files; control bytes would garble a terminal and
 * a huge name would push the useful part out of the message buffer. */
typedef struct {
    char s[160];
} msgstr;
static msgstr qn(const char *s)
{
    msgstr q;
    size_t o = 0, i = 0;
    for (; s && s[i] && o + 4 < sizeof q.s; i++)
        q.s[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (s && s[i])
        memcpy(q.s + o, "...", 3), o += 3;
    q.s[o] = '\0';
    return q;
}

/* "64x3x1x7x7" ("scalar" for ndim 0) for messages. */
static msgstr fmt_shape(int ndim, const int64_t *shape)
{
    msgstr r;
    size_t o = 0;
    r.s[0] = '\0';
    if (ndim == 0)
        snprintf(r.s, sizeof r.s, "scalar");
    for (int i = 0; i < ndim && o < sizeof r.s; i++) {
        int n = snprintf(r.s + o, sizeof r.s - o, "%s%" PRId64, i ? "x" : "", shape[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    return r;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name that occurs twice in names[0..n), or NULL. Sorting a copy keeps
 * this O(n log n) for hostile headers with millions of keys; if even that
 * copy cannot be allocated the quadratic scan is still correct. */
static const char *find_duplicate(const char *const *names, int n)
{
    const char **s = n > 1 ? malloc((size_t)n * sizeof *s) : NULL;
    const char *dup = NULL;
    if (s) {
        memcpy(s, names, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmp_strp);
        for (int i = 1; i < n && !dup; i++)
            if (strcmp(s[i - 1], s[i]) == 0)
                dup = s[i];
        free(s);
        return dup;
    }
    for (int i = 0; i < n && !dup; i++)
        for (int k = i + 1; k < n && !dup; k++)
            if (strcmp(names[i], names[k]) == 0)
                dup = names[i];
    return dup;
}

static int checked_numel(int ndim, const int64_t *shape, int64_t *out)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) {
            *out = 0; /* the product is exactly zero whatever the other dims are */
            return 1;
        }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || n > INT64_MAX / shape[i])
            return 0;
        n *= shape[i];
    }
    *out = n;
    return 1;
}

int64_t cn_st_numel(const cn_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

int cn_st_count_nonfinite(const cn_st_tensor *t)
{
    int64_t n = cn_st_numel(t);
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(t->data[i]))
            bad++;
    return bad;
}

/* ---------------------------------------------------------------- reader */

void cn_st_free(cn_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->count; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    free(f);
}

const cn_st_tensor *cn_st_find(const cn_st_file *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *cn_st_meta(const cn_st_file *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0)
            return f->meta_values[i];
    return NULL;
}

/* A JSON number that is an exact integer in [0, 2^53]. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= CN_ST_MAX_INT) || d != floor(d))
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/* Fills t from one header entry; data_len bounds the offsets. */
static int parse_entry(const char *path, const cJSON *e, cn_st_tensor *t, uint64_t data_len)
{
    msgstr nm = qn(t->name);
    if (!cJSON_IsObject(e))
        return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': header entry is not a JSON object", path,
                       nm.s);
    const cJSON *dt = NULL, *sh = NULL, *off = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const cJSON **slot = strcmp(c->string, "dtype") == 0          ? &dt
                             : strcmp(c->string, "shape") == 0        ? &sh
                             : strcmp(c->string, "data_offsets") == 0 ? &off
                                                                      : NULL;
        if (!slot)
            return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': unexpected field '%s'", path, nm.s,
                           qn(c->string).s);
        if (*slot)
            return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': field '%s' appears twice", path, nm.s,
                           c->string);
        *slot = c;
    }
    if (!dt || !sh || !off)
        return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", path, nm.s,
                       !dt   ? "dtype"
                       : !sh ? "shape"
                             : "data_offsets");

    if (!cJSON_IsString(dt))
        return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, nm.s);
    int k = CN_ST_F32;
    while (k <= CN_ST_BF16 && strcmp(dt->valuestring, cn_st_dtype_name((cn_st_dtype)k)) != 0)
        k++;
    t->dtype = (cn_st_dtype)k;
    if (k > CN_ST_BF16)
        return cn_fail(CN_ERR_FORMAT,
                       "%s: tensor '%s': unsupported dtype '%s' (expected F32, F16 or BF16)", path,
                       nm.s, qn(dt->valuestring).s);

    if (!cJSON_IsArray(sh))
        return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, nm.s);
    int nd = cJSON_GetArraySize(sh);
    if (nd > CN_ST_MAX_DIMS)
        return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': shape has %d dims, at most %d supported",
                       path, nm.s, nd, CN_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *d = sh->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, &v))
            return cn_fail(CN_ERR_FORMAT,
                           "%s: tensor '%s': shape[%d] is not a non-negative integer below 2^53",
                           path, nm.s, t->ndim);
        t->shape[t->ndim++] = (int64_t)v;
    }
    int64_t numel;
    msgstr ss = fmt_shape(t->ndim, t->shape);
    size_t es = elem_size(t->dtype);
    if (!checked_numel(t->ndim, t->shape, &numel) || numel > INT64_MAX / (int64_t)es)
        return cn_fail(CN_ERR_FORMAT, "%s: tensor '%s': shape %s overflows a 64-bit byte count",
                       path, nm.s, ss.s);

    uint64_t b, en;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &b) ||
        !json_uint(off->child->next, &en))
        return cn_fail(CN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets is not [begin, end] of non-negative integers",
                       path, nm.s);
    if (b > en)
        return cn_fail(CN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                       "] end before they begin",
                       path, nm.s, b, en);
    uint64_t want = (uint64_t)numel * es;
    if (en - b != want)
        return cn_fail(CN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                       "] do not match shape %s (%s = %" PRIu64 " bytes)",
                       path, nm.s, b, en, ss.s, cn_st_dtype_name(t->dtype), want);
    if (en > data_len)
        return cn_fail(CN_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                       "] reach beyond the %" PRIu64 "-byte data section",
                       path, nm.s, b, en, data_len);
    t->begin = b;
    t->end = en;
    return CN_OK;
}

static int parse_metadata(const char *path, const cJSON *m, cn_st_file *f)
{
    if (!cJSON_IsObject(m))
        return cn_fail(CN_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
    int n = cJSON_GetArraySize(m);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return cn_fail(CN_ERR_OOM, "%s: out of memory for metadata", path);
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return cn_fail(CN_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", path,
                           qn(c->string).s);
        f->meta_keys[f->meta_count] = strdup(c->string);
        f->meta_values[f->meta_count] = strdup(c->valuestring);
        f->meta_count++;
        if (!f->meta_keys[f->meta_count - 1] || !f->meta_values[f->meta_count - 1])
            return cn_fail(CN_ERR_OOM, "%s: out of memory for metadata", path);
    }
    const char *dup = find_duplicate((const char *const *)f->meta_keys, f->meta_count);
    if (dup)
        return cn_fail(CN_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice", path, qn(dup).s);
    return CN_OK;
}

typedef struct {
    uint64_t begin, end;
    int idx;
} range;
static int cmp_range(const void *a, const void *b)
{
    const range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Tensors must tile [0, data_len) exactly: see cn_st_read in the header. */
static int check_layout(const char *path, const cn_st_file *f, uint64_t data_len, range *r)
{
    for (int i = 0; i < f->count; i++)
        r[i] = (range){f->tensors[i].begin, f->tensors[i].end, i};
    qsort(r, (size_t)f->count, sizeof *r, cmp_range);
    uint64_t pos = 0;
    for (int i = 0; i < f->count; i++) {
        const cn_st_tensor *t = &f->tensors[r[i].idx];
        if (r[i].begin < pos)
            return cn_fail(CN_ERR_FORMAT,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                           "] overlap tensor '%s' [%" PRIu64 ", %" PRIu64 "]",
                           path, qn(t->name).s, t->begin, t->end,
                           qn(f->tensors[r[i - 1].idx].name).s, r[i - 1].begin, r[i - 1].end);
        if (r[i].begin > pos)
            return cn_fail(CN_ERR_FORMAT,
                           "%s: tensor '%s': data section bytes [%" PRIu64 ", %" PRIu64
                           ") before it belong to no tensor",
                           path, qn(t->name).s, pos, r[i].begin);
        pos = r[i].end;
    }
    if (pos != data_len)
        return cn_fail(CN_ERR_FORMAT,
                       "%s: %" PRIu64 " bytes after the last tensor (data section is %" PRIu64
                       " bytes, tensors end at %" PRIu64
                       "); file truncated in the header or has trailing garbage",
                       path, data_len - pos, data_len, pos);
    return CN_OK;
}

/* Reads t's bytes and converts them to host float32 in place. The raw data
 * goes into the float buffer itself and is converted from the end backwards:
 * the float for element i covers raw bytes of elements >= i only, all
 * already consumed (2-byte types expand, 4-byte ones stay put). */
static int load_tensor(const char *path, FILE *fp, uint64_t data_start, cn_st_tensor *t)
{
    int64_t n = cn_st_numel(t);
    size_t bytes = (size_t)(t->end - t->begin);
    /* The size check matters on 32-bit hosts, where size_t is narrower than the file. */
    t->data = (uint64_t)n < SIZE_MAX / sizeof(float) ? malloc((size_t)(n > 0 ? n : 1) * 4) : NULL;
    if (!t->data)
        return cn_fail(CN_ERR_OOM, "%s: tensor '%s': out of memory for %" PRId64 " floats", path,
                       qn(t->name).s, n);
    if (bytes == 0)
        return CN_OK;
    if (fseeko(fp, (off_t)(data_start + t->begin), SEEK_SET) != 0 ||
        fread(t->data, 1, bytes, fp) != bytes)
        return cn_fail(CN_ERR_IO,
                       "%s: tensor '%s': cannot read %zu bytes at offset %" PRIu64
                       " (file changed or I/O error)",
                       path, qn(t->name).s, bytes, data_start + t->begin);
    const unsigned char *raw = (const unsigned char *)t->data;
    size_t es = elem_size(t->dtype);
    for (int64_t i = n - 1; i >= 0; i--) {
        uint32_t u = 0; /* little-endian bytes assembled by hand: host order never matters */
        for (size_t b = es; b-- > 0;)
            u = u << 8 | raw[es * (size_t)i + b];
        if (t->dtype == CN_ST_F32)
            memcpy(&t->data[i], &u, 4);
        else
            t->data[i] =
                t->dtype == CN_ST_F16 ? cn_f16_to_f32((uint16_t)u) : cn_bf16_to_f32((uint16_t)u);
    }
    return CN_OK;
}

/* Validates the JSON header text (hdr[0..hlen)) into f. */
static int parse_header(const char *path, const char *hdr, uint64_t hlen, uint64_t data_len,
                        cn_st_file *f)
{
    /* JSON forbids raw control characters; rejecting them (NUL above all)
     * means nothing below can be fooled by an early string terminator. */
    for (uint64_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)hdr[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return cn_fail(CN_ERR_FORMAT, "%s: header byte %" PRIu64 " is control character 0x%02x",
                           path, i, c);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root)
        return cn_fail(CN_ERR_FORMAT,
                       "%s: header is not valid JSON (error near byte %td of %" PRIu64 ")", path,
                       end ? end - hdr : (ptrdiff_t)0, hlen);
    int st = CN_OK;
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            FAIL(CN_ERR_FORMAT,
                 "%s: header has non-blank bytes after the JSON object (byte %td of %" PRIu64 ")",
                 path, p - hdr, hlen);
    if (!cJSON_IsObject(root))
        FAIL(CN_ERR_FORMAT, "%s: header is JSON but not an object", path);
    const cJSON *meta = NULL;
    int n = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") != 0)
            n++;
        else if (meta)
            FAIL(CN_ERR_FORMAT, "%s: __metadata__ appears twice", path);
        else
            meta = c;
    }
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    if (!f->tensors)
        FAIL(CN_ERR_OOM, "%s: out of memory for %d tensor entries", path, n);
    if (meta && (st = parse_metadata(path, meta, f)) != CN_OK)
        goto done;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta)
            continue;
        cn_st_tensor *t = &f->tensors[f->count];
        if (!(t->name = strdup(c->string)))
            FAIL(CN_ERR_OOM, "%s: out of memory", path);
        f->count++; /* counted before parsing so cn_st_free releases the name */
        if ((st = parse_entry(path, c, t, data_len)) != CN_OK)
            goto done;
    }
    const char **names = malloc(((size_t)f->count + 1) * sizeof *names);
    if (!names)
        FAIL(CN_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < f->count; i++)
        names[i] = f->tensors[i].name;
    const char *dup = find_duplicate(names, f->count);
    if (dup)
        st = cn_fail(CN_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path, qn(dup).s);
    free(names);
done:
    cJSON_Delete(root);
    return st;
}

int cn_st_read(const char *path, cn_st_file **out)
{
    if (!out)
        return cn_fail(CN_ERR_ARG, "cn_st_read: out is NULL");
    *out = NULL;
    if (!path)
        return cn_fail(CN_ERR_ARG, "cn_st_read: path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cn_fail(CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int st = CN_OK;
    char *hdr = NULL;
    range *order = NULL;
    cn_st_file *f = calloc(1, sizeof *f);
    struct stat sb;
    if (!f || !(f->path = strdup(path)))
        FAIL(CN_ERR_OOM, "%s: out of memory", path);
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        FAIL(CN_ERR_IO, "%s: not a regular file", path);
    uint64_t fsize = (uint64_t)sb.st_size;
    unsigned char lb[8];
    if (fsize < 8)
        FAIL(CN_ERR_FORMAT,
             "%s: file is %" PRIu64 " bytes, shorter than the 8-byte header length field", path,
             fsize);
    if (fread(lb, 1, 8, fp) != 8)
        FAIL(CN_ERR_IO, "%s: cannot read the header length: %s", path, strerror(errno));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | lb[i];
    if (hlen > CN_ST_MAX_HEADER || hlen > fsize - 8 || hlen < 2)
        FAIL(CN_ERR_FORMAT,
             "%s: header length %" PRIu64 " is %s (file is %" PRIu64 " bytes, limit %" PRIu64 ")",
             path, hlen,
             hlen < 2           ? "too small for a JSON object"
             : hlen > fsize - 8 ? "beyond the end of the file"
                                : "absurdly large",
             fsize, CN_ST_MAX_HEADER);
    if (!(hdr = malloc((size_t)hlen + 1)))
        FAIL(CN_ERR_OOM, "%s: out of memory for a %" PRIu64 "-byte header", path, hlen);
    if (fread(hdr, 1, (size_t)hlen, fp) != (size_t)hlen)
        FAIL(CN_ERR_IO, "%s: cannot read the %" PRIu64 "-byte header", path, hlen);
    hdr[hlen] = '\0';
    uint64_t data_len = fsize - 8 - hlen;
    if ((st = parse_header(path, hdr, hlen, data_len, f)) != CN_OK)
        goto done;
    if (!(order = malloc(((size_t)f->count + 1) * sizeof *order)))
        FAIL(CN_ERR_OOM, "%s: out of memory", path);
    if ((st = check_layout(path, f, data_len, order)) != CN_OK)
        goto done;
    /* File order keeps the reads sequential. */
    for (int i = 0; i < f->count && st == CN_OK; i++)
        st = load_tensor(path, fp, 8 + hlen, &f->tensors[order[i].idx]);
done:
    fclose(fp);
    free(hdr);
    free(order);
    if (st != CN_OK) {
        cn_st_free(f);
        return st;
    }
    *out = f;
    return CN_OK;
}

/* ---------------------------------------------------------------- writer */

/* Growable text buffer for the JSON header; an allocation failure is
 * remembered and reported once at the end. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Short formatted pieces only (punctuation, numbers); strings go through sb_json. */
static void sb_fmt(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control bytes escaped;
 * other bytes (UTF-8) pass through unchanged. */
static void sb_json(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_fmt(b, "\\%c", c);
        else if (c < 0x20)
            sb_fmt(b, "\\u%04x", c);
        else
            sb_put(b, s, 1);
    }
    sb_put(b, "\"", 1);
}

typedef struct st_job {
    const char *path;
    const cn_st_out *t;
    const int64_t *numel;
    int count;
    cn_st_dtype dtype;
    const char *hdr;
    size_t hlen;
} st_job;

static int put_bytes(FILE *fp, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, fp) != n)
        return cn_fail(CN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return CN_OK;
}

/* Little-endian bytes regardless of the host, in bounded chunks so a large
 * tensor needs no second full-size copy. */
static int emit_st(FILE *fp, void *arg)
{
    const st_job *j = arg;
    unsigned char lb[8], buf[4096 * 4];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)(((uint64_t)j->hlen >> (8 * i)) & 0xffu);
    CN_TRY(put_bytes(fp, lb, 8, j->path));
    CN_TRY(put_bytes(fp, j->hdr, j->hlen, j->path));
    size_t es = elem_size(j->dtype);
    for (int k = 0; k < j->count; k++) {
        const float *d = j->t[k].data;
        for (int64_t i0 = 0; i0 < j->numel[k]; i0 += 4096) {
            int64_t m = j->numel[k] - i0 < 4096 ? j->numel[k] - i0 : 4096;
            for (int64_t i = 0; i < m; i++) {
                uint32_t u;
                if (j->dtype == CN_ST_F32)
                    memcpy(&u, &d[i0 + i], 4);
                else
                    u = j->dtype == CN_ST_F16 ? cn_f32_to_f16(d[i0 + i])
                                              : cn_f32_to_bf16(d[i0 + i]);
                for (size_t b = 0; b < es; b++)
                    buf[es * (size_t)i + b] = (unsigned char)(u >> (8 * b));
            }
            CN_TRY(put_bytes(fp, buf, es * (size_t)m, j->path));
        }
    }
    return CN_OK;
}

int cn_st_write(const char *path, const cn_st_out *t, int count, cn_st_dtype dtype,
                const char *const *meta_kv, int meta_pairs)
{
    if (!path)
        return cn_fail(CN_ERR_ARG, "cn_st_write: path is NULL");
    if (count < 0 || (count > 0 && !t) || meta_pairs < 0 || (meta_pairs > 0 && !meta_kv))
        return cn_fail(CN_ERR_ARG, "%s: bad tensor or metadata list (count %d, pairs %d)", path,
                       count, meta_pairs);
    if (dtype != CN_ST_F32 && dtype != CN_ST_F16 && dtype != CN_ST_BF16)
        return cn_fail(CN_ERR_ARG, "%s: unknown dtype %d", path, (int)dtype);
    size_t es = elem_size(dtype);
    int st = CN_OK;
    int64_t *numel = malloc(((size_t)count + 1) * sizeof *numel);
    const char **names = malloc(((size_t)count + (size_t)meta_pairs + 1) * sizeof *names);
    sbuf hb = {0};
    if (!numel || !names)
        FAIL(CN_ERR_OOM, "%s: out of memory", path);
    for (int i = 0; i < count; i++) {
        const cn_st_out *o = &t[i];
        if (!o->name || strcmp(o->name, "__metadata__") == 0)
            FAIL(CN_ERR_ARG, "%s: tensor %d has %s name", path, i,
                 o->name ? "the reserved" : "a NULL");
        if (o->ndim < 0 || o->ndim > CN_ST_MAX_DIMS || (o->ndim > 0 && !o->shape))
            FAIL(CN_ERR_ARG, "%s: tensor '%s': bad ndim %d", path, qn(o->name).s, o->ndim);
        for (int d = 0; d < o->ndim; d++)
            if (o->shape[d] < 0 || (double)o->shape[d] > CN_ST_MAX_INT)
                FAIL(CN_ERR_ARG, "%s: tensor '%s': bad shape[%d] = %" PRId64, path, qn(o->name).s,
                     d, o->shape[d]);
        if (!checked_numel(o->ndim, o->shape, &numel[i]) || numel[i] > INT64_MAX / (int64_t)es)
            FAIL(CN_ERR_ARG, "%s: tensor '%s': shape %s is too large", path, qn(o->name).s,
                 fmt_shape(o->ndim, o->shape).s);
        if (numel[i] > 0 && !o->data)
            FAIL(CN_ERR_ARG, "%s: tensor '%s': data is NULL", path, qn(o->name).s);
        names[i] = o->name;
    }
    const char *dup = find_duplicate(names, count);
    if (dup)
        FAIL(CN_ERR_ARG, "%s: tensor '%s' given twice", path, qn(dup).s);
    for (int i = 0; i < meta_pairs; i++) {
        if (!meta_kv[2 * i] || !meta_kv[2 * i + 1])
            FAIL(CN_ERR_ARG, "%s: metadata pair %d has a NULL string", path, i);
        names[i] = meta_kv[2 * i];
    }
    if ((dup = find_duplicate(names, meta_pairs)) != NULL)
        FAIL(CN_ERR_ARG, "%s: metadata key '%s' given twice", path, qn(dup).s);

    sb_fmt(&hb, "{");
    if (meta_pairs > 0) {
        sb_fmt(&hb, "\"__metadata__\":{");
        for (int i = 0; i < meta_pairs; i++) {
            sb_fmt(&hb, i ? "," : "");
            sb_json(&hb, meta_kv[2 * i]);
            sb_fmt(&hb, ":");
            sb_json(&hb, meta_kv[2 * i + 1]);
        }
        sb_fmt(&hb, count ? "}," : "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < count; i++) {
        sb_fmt(&hb, i ? "," : "");
        sb_json(&hb, t[i].name);
        sb_fmt(&hb, ":{\"dtype\":\"%s\",\"shape\":[", cn_st_dtype_name(dtype));
        for (int k = 0; k < t[i].ndim; k++)
            sb_fmt(&hb, "%s%" PRId64, k ? "," : "", t[i].shape[k]);
        uint64_t next = off + (uint64_t)numel[i] * es;
        sb_fmt(&hb, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, next);
        off = next;
    }
    sb_fmt(&hb, "}");
    /* Spaces up to a multiple of 8 keep the data section aligned, as the
     * reference writer does. */
    while ((8 + hb.n) % 8 != 0)
        sb_put(&hb, " ", 1);
    if (hb.oom)
        FAIL(CN_ERR_OOM, "%s: out of memory for the header", path);
    st_job job = {path, t, numel, count, dtype, hb.p, hb.n};
    st = cn_write_atomic(path, emit_st, &job);
done:
    free(numel);
    free(names);
    free(hb.p);
    return st;
}
