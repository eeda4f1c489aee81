/* Replays every input the fuzzers ever crashed on (every file in tests/fuzz/regressions/TARGET/) through its reader: no crash, and either a clean error or a result that keeps the reader's promises. */
/* Usage: test_fuzz_regressions [ROOT [--all-valid]]. ROOT defaults to
 * tests/fuzz/regressions next to this source; --all-valid makes every file a
 * failure unless the reader accepts it (used to check a seed corpus). Under
 * cmake/sanitize.sh this runs with ASan and UBSan, which is where a replayed
 * out-of-bounds read shows up. */
#include <dirent.h>
#include <limits.h>

#include "fuzz/readers.c"

typedef struct target {
    const char *name; /* folder under ROOT, as cmake/fuzz.sh names it */
    int (*check)(const uint8_t *, size_t);
} target;

static const target targets[] = {
    {"safetensors", fz_safetensors},
    {"npy", fz_npy},
#ifdef FZ_HAVE_AUDIO
    {"wav", fz_audio},
#endif
#ifdef FZ_HAVE_VIDEO
    {"image", fz_frame},
#endif
};

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    uint8_t *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            uint8_t *q = realloc(p, cap * 2);
            if (!q) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    char root[PATH_MAX];
    if (argc > 1) {
        snprintf(root, sizeof root, "%s", argv[1]);
    } else {
        /* CMake compiles with the absolute source path, so __FILE__ finds the tree */
        snprintf(root, sizeof root, "%s", __FILE__);
        char *slash = strrchr(root, '/');
        snprintf(slash ? slash + 1 : root, sizeof root - (size_t)(slash ? slash + 1 - root : 0),
                 "fuzz/regressions");
    }
    int all_valid = argc > 2 && strcmp(argv[2], "--all-valid") == 0;
    int files = 0, failed = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[PATH_MAX + 64];
        snprintf(dir, sizeof dir, "%s/%s", root, targets[t].name);
        DIR *d = opendir(dir);
        if (!d)
            continue; /* no input has ever crashed this reader */
        char *names[4096];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < 4096)
            if (e->d_name[0] != '.' && strcmp(e->d_name, "README.md") != 0)
                names[n++] = strdup(e->d_name);
        closedir(d);
        qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (int i = 0; i < n; i++) {
            char path[PATH_MAX + 400];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            size_t size = 0;
            uint8_t *data = slurp(path, &size);
            if (!data) {
                printf("FAIL %s: cannot read\n", path);
                failed++;
            } else {
                /* a broken promise aborts inside the check, naming the file above it */
                printf("     %s/%s (%zu bytes)\n", targets[t].name, names[i], size);
                fflush(stdout);
                int rejected = targets[t].check(data, size);
                printf("  ok %s\n", rejected ? cn_last_error() : "accepted");
                if (all_valid && rejected) {
                    printf("FAIL %s: a valid file was rejected\n", path);
                    failed++;
                }
                free(data);
            }
            files++;
            free(names[i]);
        }
    }
    printf("test_fuzz_regressions: %d file(s) under %s, %d failed\n", files, root, failed);
    return failed ? 1 : 0;
}
