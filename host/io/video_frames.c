/* Folders of JPEG/PNG frames: listing in natural order and decoding with stb_image. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/imagecheck.h"
#include "runtime/status.h"
#include "io/video_internal.h"

/* The library's one compiled copy of stb_image (all its formats, since
 * dataset.c decodes with it too); other files include the header only. */
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

int cn_natural_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            /* compare digit runs as numbers: skip leading zeros, longer run is larger */
            const char *za = a, *zb = b;
            while (*za == '0')
                za++;
            while (*zb == '0')
                zb++;
            const char *ea = za, *eb = zb;
            while (isdigit((unsigned char)*ea))
                ea++;
            while (isdigit((unsigned char)*eb))
                eb++;
            if (ea - za != eb - zb)
                return ea - za < eb - zb ? -1 : 1;
            int c = strncmp(za, zb, (size_t)(ea - za));
            if (c)
                return c;
            /* equal values: fewer leading zeros first, so the order is total */
            if ((za - a) != (zb - b))
                return (za - a) < (zb - b) ? -1 : 1;
            a = ea;
            b = eb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

static int cmp_names(const void *x, const void *y)
{
    return cn_natural_cmp(*(char *const *)x, *(char *const *)y);
}

static int is_frame_name(const char *name)
{
    if (name[0] == '.')
        return 0; /* hidden files and editor leftovers, not frames */
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
            strcasecmp(dot, ".png") == 0);
}

/* Length of the stem: the name without its extension. */
static size_t stem_len(const char *name)
{
    return (size_t)(strrchr(name, '.') - name);
}

static int cmp_stems(const void *x, const void *y)
{
    const char *a = *(char *const *)x, *b = *(char *const *)y;
    size_t la = stem_len(a), lb = stem_len(b);
    int c = strncmp(a, b, la < lb ? la : lb);
    return c ? c : la < lb ? -1 : la > lb ? 1 : 0;
}

void cn_video_frames_free(cn_video *v)
{
    for (int64_t i = 0; i < v->nfiles; i++)
        free(v->files[i]);
    free(v->files);
    v->files = NULL;
    v->nfiles = 0;
}

/* "dir/name" for frame i, malloc'd. */
static char *frame_path(const cn_video *v, int64_t i)
{
    size_t n = strlen(v->path) + strlen(v->files[i]) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", v->path, v->files[i]);
    return p;
}

/* Decodes frame i to rgb8; *w and *h get its size. The pixels are the
 * caller's (stbi_image_free). */
static int load_frame(const cn_video *v, int64_t i, unsigned char **px, int *w, int *h)
{
    char *p = frame_path(v, i);
    if (!p)
        return cn_fail(CN_ERR_OOM, "%s: out of memory", v->path);
    FILE *f = fopen(p, "rb");
    if (!f) {
        int st = cn_fail(CN_ERR_IO, "%s: cannot open: %s", p, strerror(errno));
        free(p);
        return st;
    }
    int c, pre = cn_image_precheck(f, p);
    if (pre != CN_OK) {
        fclose(f);
        free(p);
        return pre;
    }
    *px = stbi_load_from_file(f, w, h, &c, 3);
    int read_err = ferror(f);
    fclose(f);
    int st = CN_OK;
    if (!*px)
        st = read_err ? cn_fail(CN_ERR_IO, "%s: read error", p)
                      : cn_fail(CN_ERR_FORMAT, "%s: not a readable JPEG or PNG image (%s)", p,
                                stbi_failure_reason());
    free(p);
    return st;
}

int cn_video_frames_open(cn_video *v, const cn_video_opts *o)
{
    DIR *d = opendir(v->path);
    if (!d)
        return cn_fail(CN_ERR_IO, "%s: cannot open the folder: %s", v->path, strerror(errno));
    int64_t cap = 0;
    int st = CN_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!is_frame_name(e->d_name))
            continue;
        if (v->nfiles == cap) {
            cap = cap ? cap * 2 : 256;
            char **t = realloc(v->files, (size_t)cap * sizeof *t);
            if (!t) {
                st = cn_fail(CN_ERR_OOM, "%s: out of memory listing frames", v->path);
                break;
            }
            v->files = t;
        }
        if (!(v->files[v->nfiles] = strdup(e->d_name))) {
            st = cn_fail(CN_ERR_OOM, "%s: out of memory listing frames", v->path);
            break;
        }
        v->nfiles++;
    }
    if (st == CN_OK && errno)
        st = cn_fail(CN_ERR_IO, "%s: cannot list the folder: %s", v->path, strerror(errno));
    closedir(d);
    if (st != CN_OK)
        return st;
    if (v->nfiles == 0)
        return cn_fail(CN_ERR_FORMAT, "%s: no frames in this folder (expected *.jpg, *.jpeg or *.png)",
                       v->path);
    qsort(v->files, (size_t)v->nfiles, sizeof *v->files, cmp_names);
    /* maps are written as STEM.png: two frames with one stem would overwrite
     * each other; sorting a copy by stem puts any such pair side by side */
    char **by_stem = malloc((size_t)v->nfiles * sizeof *by_stem);
    if (!by_stem)
        return cn_fail(CN_ERR_OOM, "%s: out of memory listing frames", v->path);
    memcpy(by_stem, v->files, (size_t)v->nfiles * sizeof *by_stem);
    qsort(by_stem, (size_t)v->nfiles, sizeof *by_stem, cmp_stems);
    for (int64_t i = 1; i < v->nfiles && st == CN_OK; i++)
        if (cmp_stems(&by_stem[i - 1], &by_stem[i]) == 0)
            st = cn_fail(CN_ERR_FORMAT, "%s: frames %s and %s have the same name", v->path,
                         by_stem[i - 1], by_stem[i]);
    free(by_stem);
    if (st != CN_OK)
        return st;
    /* the size of every frame is the size of the first */
    unsigned char *px;
    int w, h;
    CN_TRY(load_frame(v, 0, &px, &w, &h));
    stbi_image_free(px);
    v->info.width = w;
    v->info.height = h;
    v->info.is_folder = 1;
    v->info.nframes = v->nfiles;
    v->info.fps = o && o->fps > 0 ? o->fps : 30;
    v->info.fps_assumed = !(o && o->fps > 0);
    return CN_OK;
}

int cn_video_frames_read(cn_video *v, uint8_t *rgb, char *name, size_t name_cap)
{
    if (v->index >= v->nfiles)
        return 0;
    unsigned char *px;
    int w, h;
    CN_TRY(load_frame(v, v->index, &px, &w, &h));
    const char *f = v->files[v->index];
    if (w != v->info.width || h != v->info.height) {
        stbi_image_free(px);
        return cn_fail(CN_ERR_FORMAT, "%s/%s: frame is %dx%d but the first frame (%s) is %dx%d",
                       v->path, f, w, h, v->files[0], v->info.width, v->info.height);
    }
    memcpy(rgb, px, (size_t)w * (size_t)h * 3);
    stbi_image_free(px);
    if (name && name_cap)
        snprintf(name, name_cap, "%.*s", (int)stem_len(f), f);
    return 1;
}
