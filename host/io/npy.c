/* NumPy .npy reading with a bounded header parser and conversion to float32; atomic and streaming writing. */
#include "io/npy.h"
#include "io/fileio.h"
#include "io/safetensors.h" /* half conversions */
#include "runtime/status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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

static const unsigned char NPY_MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* Cursor over the header text; every access is checked against end, so the
 * header never needs a terminating NUL. */
typedef struct cur {
    const char *p, *end;
} cur;

static void skip_ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cur *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (numpy never writes any in the
 * three keys or plain descrs); copied into out[cap]. */
static int parse_str(cur *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || (unsigned char)*c->p < 0x20 || n + 1 >= cap)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int parse_word(cur *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* "(2, 3)", "(3,)" or "()": a Python tuple literal of non-negative ints.
 * "(3)" is an int in Python, not a tuple, so it is rejected like numpy does.
 * Returns 1, or 0 with why[] filled. */
static int parse_shape(cur *c, int *ndim, int64_t *shape, char *why, size_t wcap)
{
    if (!eat(c, '(')) {
        snprintf(why, wcap, "shape is not a tuple");
        return 0;
    }
    int n = 0, comma = 0;
    for (;;) {
        if (eat(c, ')'))
            break;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') {
            snprintf(why, wcap, "shape[%d] is not a non-negative integer", n);
            return 0;
        }
        if (n >= CN_NPY_MAX_DIMS) {
            snprintf(why, wcap, "shape has more than %d dims", CN_NPY_MAX_DIMS);
            return 0;
        }
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            int dgt = *c->p++ - '0';
            if (v > (INT64_MAX - dgt) / 10) {
                snprintf(why, wcap, "shape[%d] overflows int64", n);
                return 0;
            }
            v = v * 10 + dgt;
        }
        if (c->p < c->end && *c->p == 'L') /* Python 2 long suffix in old files */
            c->p++;
        shape[n++] = v;
        comma = eat(c, ',');
        if (!comma) {
            if (eat(c, ')'))
                break;
            snprintf(why, wcap, "shape tuple is malformed after shape[%d]", n - 1);
            return 0;
        }
    }
    if (n == 1 && !comma) {
        snprintf(why, wcap, "shape '(N)' is an int, not a tuple");
        return 0;
    }
    *ndim = n;
    return 1;
}

typedef struct npy_hdr {
    char descr[32];
    int fortran;
    int ndim;
    int64_t shape[CN_NPY_MAX_DIMS];
} npy_hdr;

/* Parses the header dict: exactly the keys 'descr', 'fortran_order' and
 * 'shape' once each, in any order, optional trailing comma, then only
 * whitespace. */
static int parse_header(const char *path, const char *text, size_t len, npy_hdr *h)
{
    cur c = {text, text + len};
    char key[32], why[96];
    int seen[3] = {0, 0, 0};
    if (!eat(&c, '{'))
        return cn_fail(CN_ERR_FORMAT, "%s: npy header does not start with '{'", path);
    for (;;) {
        if (eat(&c, '}'))
            break;
        if (!parse_str(&c, key, sizeof key))
            return cn_fail(CN_ERR_FORMAT, "%s: npy header: expected a quoted key at byte %td", path,
                           c.p - text);
        int k = strcmp(key, "descr") == 0           ? 0
                : strcmp(key, "fortran_order") == 0 ? 1
                : strcmp(key, "shape") == 0         ? 2
                                                    : -1;
        if (k < 0)
            return cn_fail(CN_ERR_FORMAT, "%s: npy header: unexpected key '%s'", path, key);
        if (seen[k]++)
            return cn_fail(CN_ERR_FORMAT, "%s: npy header: key '%s' appears twice", path, key);
        if (!eat(&c, ':'))
            return cn_fail(CN_ERR_FORMAT, "%s: npy header: expected ':' after '%s'", path, key);
        if (k == 0) {
            if (!parse_str(&c, h->descr, sizeof h->descr))
                return cn_fail(CN_ERR_FORMAT, "%s: npy header: descr is not a plain dtype string",
                               path);
        } else if (k == 1) {
            if (parse_word(&c, "True"))
                h->fortran = 1;
            else if (parse_word(&c, "False"))
                h->fortran = 0;
            else
                return cn_fail(CN_ERR_FORMAT, "%s: npy header: fortran_order is not True/False",
                               path);
        } else if (!parse_shape(&c, &h->ndim, h->shape, why, sizeof why)) {
            return cn_fail(CN_ERR_FORMAT, "%s: npy header: %s", path, why);
        }
        if (!eat(&c, ',')) {
            if (eat(&c, '}'))
                break;
            return cn_fail(CN_ERR_FORMAT, "%s: npy header: expected ',' or '}' after '%s'", path,
                           key);
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return cn_fail(CN_ERR_FORMAT, "%s: npy header: unexpected bytes after the dict (byte %td)",
                       path, c.p - text);
    if (!seen[0] || !seen[1] || !seen[2])
        return cn_fail(CN_ERR_FORMAT, "%s: npy header: missing key '%s'", path,
                       !seen[0]   ? "descr"
                       : !seen[1] ? "fortran_order"
                                  : "shape");
    return CN_OK;
}

/* Element decoding: kind 'f' or 'u', size in bytes, byte order. */
typedef struct npy_type {
    char kind;
    int size;
    int big;
} npy_type;

static int decode_descr(const char *d, npy_type *t)
{
    static const struct {
        const char *s;
        npy_type t;
    } ok[] = {{"<f4", {'f', 4, 0}}, {">f4", {'f', 4, 1}}, {"<f8", {'f', 8, 0}},
              {">f8", {'f', 8, 1}}, {"<f2", {'f', 2, 0}}, {">f2", {'f', 2, 1}},
              {"|u1", {'u', 1, 0}}, {"<u1", {'u', 1, 0}}, {">u1", {'u', 1, 0}}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(d, ok[i].s) == 0) {
            *t = ok[i].t;
            return 1;
        }
    return 0;
}

static float convert_one(const unsigned char *p, const npy_type *t)
{
    /* Assemble the integer from bytes in file order so the host's own
     * endianness never matters. */
    uint64_t u = 0;
    for (int i = 0; i < t->size; i++)
        u |= (uint64_t)p[t->big ? i : t->size - 1 - i] << (8 * (t->size - 1 - i));
    if (t->kind == 'u')
        return (float)u;
    if (t->size == 2)
        return cn_f16_to_f32((uint16_t)u);
    if (t->size == 4) {
        uint32_t v = (uint32_t)u;
        float f;
        memcpy(&f, &v, 4);
        return f;
    }
    double d;
    memcpy(&d, &u, 8);
    return (float)d;
}

int cn_npy_read(const char *path, float **data, int *ndim, int64_t shape[6])
{
    if (!data || !ndim || !shape)
        return cn_fail(CN_ERR_ARG, "cn_npy_read: NULL output argument");
    *data = NULL;
    if (!path)
        return cn_fail(CN_ERR_ARG, "cn_npy_read: path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cn_fail(CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int st = CN_OK;
    char *text = NULL;
    float *out = NULL;
    struct stat sb;
    unsigned char pre[12];
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        FAIL(CN_ERR_IO, "%s: not a regular file", path);
    uint64_t fsize = (uint64_t)sb.st_size;
    size_t got = fread(pre, 1, fsize < 12 ? (size_t)fsize : 12, fp);
    if (got < 10 || memcmp(pre, NPY_MAGIC, 6) != 0)
        FAIL(CN_ERR_FORMAT, "%s: not a .npy file (%s)", path,
             got >= 6 && memcmp(pre, NPY_MAGIC, 6) != 0 ? "bad magic"
                                                        : "shorter than the preamble");
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        FAIL(CN_ERR_FORMAT, "%s: unsupported npy version %d.%d", path, major, minor);
    size_t plen = major == 1 ? 10 : 12;
    if (got < plen)
        FAIL(CN_ERR_FORMAT, "%s: file ends inside the npy preamble", path);
    uint64_t hlen = major == 1 ? (uint64_t)pre[8] | (uint64_t)pre[9] << 8
                               : (uint64_t)pre[8] | (uint64_t)pre[9] << 8 |
                                     (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
    if (hlen > CN_NPY_MAX_HEADER || hlen > fsize - plen)
        FAIL(CN_ERR_FORMAT, "%s: npy header length %" PRIu64 " is %s (file is %" PRIu64 " bytes)",
             path, hlen, hlen > fsize - plen ? "beyond the end of the file" : "absurdly large",
             fsize);
    if (!(text = malloc((size_t)hlen + 1)))
        FAIL(CN_ERR_OOM, "%s: out of memory", path);
    if (fseek(fp, (long)plen, SEEK_SET) != 0 || fread(text, 1, (size_t)hlen, fp) != hlen)
        FAIL(CN_ERR_IO, "%s: cannot read the npy header", path);
    npy_hdr h = {0};
    npy_type ty;
    if ((st = parse_header(path, text, (size_t)hlen, &h)) != CN_OK)
        goto done;
    if (!decode_descr(h.descr, &ty))
        FAIL(CN_ERR_FORMAT,
             "%s: unsupported npy dtype '%s' (expected <f4, <f8, <f2, |u1 or big-endian >f4, >f8, "
             ">f2)",
             path, h.descr);
    if (h.fortran)
        FAIL(CN_ERR_FORMAT, "%s: fortran_order is True; only C-order arrays are supported", path);
    int64_t numel = 1;
    for (int i = 0; i < h.ndim; i++)
        if (h.shape[i] == 0)
            numel = 0;
    for (int i = 0; i < h.ndim && numel; i++) {
        if (numel > INT64_MAX / 8 / h.shape[i])
            FAIL(CN_ERR_FORMAT, "%s: npy shape overflows a 64-bit byte count", path);
        numel *= h.shape[i];
    }
    uint64_t want = (uint64_t)numel * (uint64_t)ty.size, have = fsize - plen - hlen;
    if (want != have)
        FAIL(CN_ERR_FORMAT,
             "%s: npy data is %" PRIu64 " bytes but shape and dtype '%s' need %" PRIu64 " (%s)",
             path, have, h.descr, want, have < want ? "truncated" : "trailing bytes");
    if (!(out = malloc((size_t)(numel > 0 ? numel : 1) * sizeof *out)))
        FAIL(CN_ERR_OOM, "%s: out of memory for %" PRId64 " floats", path, numel);
    /* Chunked so float64 input needs no second full-size buffer. */
    unsigned char buf[4096 * 8];
    for (int64_t i0 = 0; i0 < numel; i0 += 4096) {
        int64_t m = numel - i0 < 4096 ? numel - i0 : 4096;
        size_t nb = (size_t)m * (size_t)ty.size;
        if (fread(buf, 1, nb, fp) != nb)
            FAIL(CN_ERR_IO, "%s: read failed at element %" PRId64 " (file changed or I/O error)",
                 path, i0);
        for (int64_t i = 0; i < m; i++)
            out[i0 + i] = convert_one(buf + (size_t)i * (size_t)ty.size, &ty);
    }
    *ndim = h.ndim;
    for (int i = 0; i < CN_NPY_MAX_DIMS; i++)
        shape[i] = i < h.ndim ? h.shape[i] : 0;
    *data = out;
    out = NULL;
done:
    fclose(fp);
    free(text);
    free(out);
    return st;
}

typedef struct npy_job {
    const char *path;
    const float *data;
    int64_t numel;
    const char *hdr;
    size_t hlen;
} npy_job;

static int put(FILE *fp, const void *p, size_t n, const char *path)
{
    if (n && fwrite(p, 1, n, fp) != n)
        return cn_fail(CN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return CN_OK;
}

/* Writes n floats little-endian whatever the host, in bounded chunks. */
static int put_floats(FILE *fp, const float *data, int64_t n, const char *path)
{
    unsigned char buf[4096 * 4];
    for (int64_t i0 = 0; i0 < n; i0 += 4096) {
        int64_t m = n - i0 < 4096 ? n - i0 : 4096;
        for (int64_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &data[i0 + i], 4);
            for (int b = 0; b < 4; b++)
                buf[4 * i + b] = (unsigned char)(u >> (8 * b));
        }
        CN_TRY(put(fp, buf, (size_t)m * 4, path));
    }
    return CN_OK;
}

static int emit_npy(FILE *fp, void *arg)
{
    const npy_job *j = arg;
    CN_TRY(put(fp, j->hdr, j->hlen, j->path));
    return put_floats(fp, j->data, j->numel, j->path);
}

/* The preamble and header of a version 1.0 '<f4' file, padded with spaces and
 * ended by a newline so the data starts on a 64-byte boundary, as numpy does;
 * total > 0 pads to exactly that many bytes instead (a header rewritten in
 * place later must not change length). */
static int format_header(const char *path, int ndim, const int64_t *shape, size_t total, char *out,
                         size_t cap, size_t *len)
{
    char dims[CN_NPY_MAX_DIMS * 22 + 4] = "";
    size_t o = 0;
    for (int i = 0; i < ndim; i++)
        o += (size_t)snprintf(dims + o, sizeof dims - o, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (ndim == 1)
        snprintf(dims + o, sizeof dims - o, ",");
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    int n = snprintf(out + 10, cap - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    size_t l = 10 + (size_t)n;
    if (n < 0 || l + 1 > (total ? total : cap - 64))
        return cn_fail(CN_ERR_ARG, "%s: npy header too long", path);
    while (total ? l + 1 < total : (l + 1) % 64 != 0)
        out[l++] = ' ';
    out[l++] = '\n';
    out[8] = (char)((l - 10) & 0xff);
    out[9] = (char)((l - 10) >> 8);
    *len = l;
    return CN_OK;
}

int cn_npy_write(const char *path, const float *data, int ndim, const int64_t *shape)
{
    if (!path)
        return cn_fail(CN_ERR_ARG, "cn_npy_write: path is NULL");
    if (ndim < 0 || ndim > CN_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return cn_fail(CN_ERR_ARG, "%s: bad ndim %d", path, ndim);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return cn_fail(CN_ERR_ARG, "%s: shape[%d] = %" PRId64 " is negative", path, i,
                           shape[i]);
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            numel = 0;
    for (int i = 0; i < ndim && numel; i++) {
        if (numel > INT64_MAX / 4 / shape[i])
            return cn_fail(CN_ERR_ARG, "%s: shape is too large", path);
        numel *= shape[i];
    }
    if (numel > 0 && !data)
        return cn_fail(CN_ERR_ARG, "%s: data is NULL", path);
    char hdr[256];
    size_t len = 0;
    CN_TRY(format_header(path, ndim, shape, 0, hdr, sizeof hdr, &len));
    npy_job job = {path, data, numel, hdr, len};
    return cn_write_atomic(path, emit_npy, &job);
}

/* ------------------------------------------------------------ streaming */

/* Room for a 20-digit row count and up to five more dimensions. */
#define STREAM_HEADER 192

struct cn_npy_stream {
    FILE *fp;
    char *path, *tmp;
    int ndim; /* of one row */
    int64_t shape[CN_NPY_MAX_DIMS], rows, row_numel;
};

int cn_npy_stream_open(const char *path, int ndim, const int64_t *row_shape, cn_npy_stream **out)
{
    *out = NULL;
    if (ndim < 0 || ndim >= CN_NPY_MAX_DIMS)
        return cn_fail(CN_ERR_ARG, "%s: bad ndim %d", path, ndim);
    cn_npy_stream *s = calloc(1, sizeof *s);
    size_t pl = strlen(path);
    if (!s || !(s->path = strdup(path)) || !(s->tmp = malloc(pl + 16))) {
        cn_npy_stream_abort(s);
        return cn_fail(CN_ERR_OOM, "%s: out of memory", path);
    }
    s->ndim = ndim;
    s->row_numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (row_shape[i] < 0 || (row_shape[i] && s->row_numel > INT64_MAX / 4 / row_shape[i])) {
            cn_npy_stream_abort(s);
            return cn_fail(CN_ERR_ARG, "%s: bad row shape", path);
        }
        s->shape[i + 1] = row_shape[i];
        s->row_numel *= row_shape[i];
    }
    /* beside the target, so the final rename stays within one file system */
    snprintf(s->tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(s->tmp);
    if (fd < 0 || fchmod(fd, 0644) != 0 || !(s->fp = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(s->tmp);
        }
        s->tmp[0] = '\0';
        cn_npy_stream_abort(s);
        return cn_fail(CN_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    char h[STREAM_HEADER];
    size_t len;
    int st = format_header(path, ndim + 1, s->shape, STREAM_HEADER, h, sizeof h, &len);
    if (st == CN_OK)
        st = put(s->fp, h, len, path);
    if (st != CN_OK) {
        cn_npy_stream_abort(s);
        return st;
    }
    *out = s;
    return CN_OK;
}

int cn_npy_stream_append(cn_npy_stream *s, const float *rows, int64_t n)
{
    CN_TRY(put_floats(s->fp, rows, n * s->row_numel, s->path));
    s->rows += n;
    return CN_OK;
}

int cn_npy_stream_close(cn_npy_stream *s)
{
    char h[STREAM_HEADER];
    size_t len;
    s->shape[0] = s->rows;
    int st = format_header(s->path, s->ndim + 1, s->shape, STREAM_HEADER, h, sizeof h, &len);
    if (st == CN_OK) {
        int bad = fseek(s->fp, 0, SEEK_SET) != 0 || fwrite(h, 1, len, s->fp) != len;
        /* durable before the rename, as cn_write_atomic does */
        bad = bad || fflush(s->fp) != 0 || fsync(fileno(s->fp)) != 0;
        bad |= fclose(s->fp) != 0;
        s->fp = NULL;
        if (bad || rename(s->tmp, s->path) != 0)
            st = cn_fail(CN_ERR_IO, "%s: cannot write: %s", s->path, strerror(errno));
        else
            s->tmp[0] = '\0';
    }
    cn_npy_stream_abort(s);
    return st;
}

void cn_npy_stream_abort(cn_npy_stream *s)
{
    if (!s)
        return;
    if (s->fp)
        fclose(s->fp);
    if (s->tmp && s->tmp[0])
        unlink(s->tmp);
    free(s->tmp);
    free(s->path);
    free(s);
}
