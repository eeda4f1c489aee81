/* One checked call per file reader (safetensors, .npy, WAV, image frame), shared by the libFuzzer targets and tests/test_fuzz_regressions.c, which #include this file. */
/* Included rather than linked: tests/CMakeLists.txt makes one program from each
 * tests/test_*.c alone, and fuzz.cmake one from each tests/fuzz/fuzz_*.c. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "io/safetensors.h"
#include "runtime/status.h"

#if defined(__has_include)
#if __has_include("io/audio.h")
#include "io/audio.h"
#define FZ_HAVE_AUDIO 1
#endif
#if __has_include("io/video.h")
#include "io/video.h"
#define FZ_HAVE_VIDEO 1
#endif
#endif

/* Each including program uses some of the checks below, not all. */
#define FZ_CHECK static __attribute__((unused)) int

/* The readers take paths, so every input goes through one scratch file in a
 * private folder, on tmpfs when there is one (a disk write per run would cap
 * the fuzzer at a few hundred runs a second). */
static char fz_dir[256];

static void fz_cleanup(void)
{
    char p[320];
    const char *names[] = {"in.bin", "frames/f.png"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", fz_dir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/frames", fz_dir);
    rmdir(p);
    rmdir(fz_dir);
}

static const char *fz_scratch(void)
{
    if (fz_dir[0])
        return fz_dir;
    const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (!bases[i])
            continue;
        snprintf(fz_dir, sizeof fz_dir, "%s/caspnet-fuzz-XXXXXX", bases[i]);
        if (mkdtemp(fz_dir)) {
            char p[320];
            snprintf(p, sizeof p, "%s/frames", fz_dir);
            if (mkdir(p, 0700) != 0)
                break;
            atexit(fz_cleanup);
            return fz_dir;
        }
    }
    fprintf(stderr, "fuzz: cannot make a scratch folder: %s\n", strerror(errno));
    abort(); /* a harness that cannot write its input tests nothing */
}

/* Writes data to DIR/name and returns the path (static storage). */
static const char *fz_put(const char *name, const uint8_t *data, size_t size)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", fz_scratch(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t done = 0;
    while (fd >= 0 && done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (fd < 0 || done != size || close(fd) != 0) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

/* A broken promise of a reader: abort, so the fuzzer keeps the input and the
 * regression test fails loudly. */
#define FZ_REQUIRE(cond, ...)                                          \
    do {                                                               \
        if (!(cond)) {                                                 \
            fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                              \
            fputc('\n', stderr);                                       \
            abort();                                                   \
        }                                                              \
    } while (0)

/* A failed read must be a clean error: a file status and a message. */
static void fz_clean_error(int st, const char *what)
{
    FZ_REQUIRE(st == CN_ERR_FORMAT || st == CN_ERR_IO || st == CN_ERR_OOM ||
                   st == CN_ERR_UNSUPPORTED,
               "%s: unexpected status %d (%s)", what, st, cn_last_error());
    const char *m = cn_last_error();
    FZ_REQUIRE(m && m[0], "%s: failed without a message", what);
}

/* Sums every float so that ASan sees a read of the whole buffer the reader
 * says it filled; the volatile keeps the loop from being optimised away. */
static void fz_touch(const float *p, int64_t n)
{
    volatile float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += p[i];
    (void)s;
}

/* Returns 0 when the reader accepted the input, 1 for a clean error. */
FZ_CHECK fz_safetensors(const uint8_t *data, size_t size)
{
    const char *path = fz_put("in.bin", data, size);
    cn_st_file *f = NULL;
    int st = cn_st_read(path, &f);
    if (st != CN_OK) {
        FZ_REQUIRE(f == NULL, "safetensors: failed read left a file object");
        fz_clean_error(st, "safetensors");
        return 1;
    }
    FZ_REQUIRE(f && f->count >= 0, "safetensors: no file object");
    uint64_t covered = 0;
    for (int i = 0; i < f->count; i++) {
        const cn_st_tensor *t = &f->tensors[i];
        FZ_REQUIRE(t->name && t->data, "safetensors: tensor %d without name or data", i);
        FZ_REQUIRE(t->ndim >= 0 && t->ndim <= CN_ST_MAX_DIMS, "safetensors: ndim %d", t->ndim);
        int64_t n = cn_st_numel(t);
        uint64_t esz = t->dtype == CN_ST_F32 ? 4 : 2;
        FZ_REQUIRE(n >= 0 && t->end - t->begin == (uint64_t)n * esz,
                   "safetensors: %s: %lld elements in %llu bytes", t->name, (long long)n,
                   (unsigned long long)(t->end - t->begin));
        FZ_REQUIRE(cn_st_find(f, t->name) == t, "safetensors: %s not found by name", t->name);
        fz_touch(t->data, n);
        covered += t->end - t->begin;
    }
    FZ_REQUIRE(covered <= size, "safetensors: tensors cover %llu bytes of a %zu-byte file",
               (unsigned long long)covered, size);
    cn_st_free(f);
    return 0;
}

FZ_CHECK fz_npy(const uint8_t *data, size_t size)
{
    const char *path = fz_put("in.bin", data, size);
    float *x = NULL;
    int ndim = -1;
    int64_t shape[6];
    int st = cn_npy_read(path, &x, &ndim, shape);
    if (st != CN_OK) {
        FZ_REQUIRE(x == NULL, "npy: failed read returned data");
        fz_clean_error(st, "npy");
        return 1;
    }
    FZ_REQUIRE(x && ndim >= 0 && ndim <= CN_NPY_MAX_DIMS, "npy: data %p, ndim %d", (void *)x, ndim);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        FZ_REQUIRE(shape[d] >= 0, "npy: dim %d is %lld", d, (long long)shape[d]);
        n *= shape[d];
    }
    /* every element is at least one byte in the file */
    FZ_REQUIRE((uint64_t)n <= size, "npy: %lld elements from a %zu-byte file", (long long)n, size);
    fz_touch(x, n);
    free(x);
    return 0;
}

#ifdef FZ_HAVE_AUDIO
FZ_CHECK fz_audio(const uint8_t *data, size_t size)
{
    const char *path = fz_put("in.bin", data, size);
    cn_audio a;
    memset(&a, 0x5a, sizeof a); /* the reader must set every field, even on failure */
    int st = cn_audio_read(path, &a);
    if (st != CN_OK) {
        FZ_REQUIRE(a.samples == NULL && a.n == 0, "audio: failed read left samples");
        fz_clean_error(st, "audio");
        return 1;
    }
    FZ_REQUIRE(a.samples && a.n >= 0 && a.rate == CN_AUDIO_RATE, "audio: %lld samples at %g Hz",
               (long long)a.n, a.rate);
    for (int64_t i = 0; i < a.n; i++)
        FZ_REQUIRE(isfinite(a.samples[i]), "audio: sample %lld is %g", (long long)i, a.samples[i]);
    cn_audio_free(&a);
    FZ_REQUIRE(a.samples == NULL, "audio: cn_audio_free left samples");
    return 0;
}
#endif

#ifdef FZ_HAVE_VIDEO
/* The image entry point of the program: a frame folder with one frame, opened
 * and read as caspnet predict does (stb_image, every format it knows, since
 * the extension does not choose the decoder). */
FZ_CHECK fz_frame(const uint8_t *data, size_t size)
{
    fz_put("frames/f.png", data, size);
    char dir[320];
    snprintf(dir, sizeof dir, "%s/frames", fz_scratch());
    cn_video_opts o = {.fps = 0, .audio_path = NULL, .no_audio = 1};
    cn_video *v = NULL;
    int st = cn_video_open(dir, &o, &v);
    if (st != CN_OK) {
        FZ_REQUIRE(v == NULL, "frame: failed open returned a video");
        fz_clean_error(st, "frame");
        return 1;
    }
    cn_video_info info;
    cn_video_info_get(v, &info);
    FZ_REQUIRE(info.width > 0 && info.height > 0 && info.nframes == 1, "frame: %d x %d, %lld frames",
               info.width, info.height, (long long)info.nframes);
    size_t bytes = (size_t)info.width * (size_t)info.height * 3;
    uint8_t *rgb = malloc(bytes);
    FZ_REQUIRE(rgb != NULL, "frame: no memory for %zu bytes", bytes);
    char name[64];
    int r = cn_video_read(v, rgb, name, sizeof name);
    if (r == 1) {
        volatile unsigned s = 0;
        for (size_t i = 0; i < bytes; i++)
            s += rgb[i];
        (void)s;
        FZ_REQUIRE(strcmp(name, "f") == 0, "frame: name '%s'", name);
        FZ_REQUIRE(cn_video_read(v, rgb, name, sizeof name) == 0, "frame: a second frame");
    } else {
        /* the first frame decoded at open, so only a clean error may follow */
        FZ_REQUIRE(r < 0, "frame: read returned %d", r);
        fz_clean_error(r, "frame");
    }
    free(rgb);
    cn_video_close(v);
    return 0;
}
#endif
