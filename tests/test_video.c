/* Video input tests: frame folders (natural order, JPEG/PNG, bad frames), video files made here with ffmpeg (frames, rate, audio), missing ffmpeg, child reaping, the sample. */
#include "io/audio.h"
#include "io/imageout.h"
#include "app/sample.h"
#include "testutil.h"
#include "io/video.h"
#include "io/video_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FW 40
#define FH 24

static char g_ffmpeg[4096];

/* Removes a scratch tree (test files only; nothing here follows links). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Frame k: a colour of its own with a horizontal ramp, so order and channel mix-ups show. */
static void make_frame(int k, int w, int h, uint8_t *px)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(20 + 40 * (k % 5));
            p[1] = (uint8_t)(200 - 30 * (k % 6));
            p[2] = (uint8_t)(60 + 2 * x + 3 * (k / 5));
        }
}

/* Runs ffmpeg with the given arguments after the program name; 1 on success. */
static int run_ffmpeg(const char *const *args)
{
    const char *argv[64] = {g_ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"};
    int n = 6;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    cn_proc p;
    if (cn_proc_start(argv, 0, 0, 1, &p) != CN_OK)
        return 0;
    int rc = cn_proc_wait(&p);
    if (rc != 0)
        fprintf(stderr, "ffmpeg failed (%d): %s\n", rc, cn_proc_last_error(&p));
    return rc == 0;
}

static void write_frame(const char *dir, const char *name, int k, int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    char p[1024];
    make_frame(k, w, h, px);
    tu_path(p, sizeof p, dir, name);
    const char *ext = strrchr(name, '.');
    int ok;
    if (strcmp(ext, ".png") == 0)
        ok = cn_png_write(p, px, w, h, 3) == CN_OK;
    else {
        /* JPEG through ffmpeg: stb_image_write's JPEG encoder shifts negative
         * ints, which the sanitizer build rejects */
        char png[1100];
        snprintf(png, sizeof png, "%s.src.png", p);
        const char *args[] = {"-i", png, "-q:v", "2", p, NULL};
        ok = cn_png_write(png, px, w, h, 3) == CN_OK && run_ffmpeg(args);
        unlink(png);
    }
    TU_CHECK(ok, "writing %s", p);
    free(px);
}

/* Largest channel difference between a frame read back and frame k. */
static int frame_diff(const uint8_t *got, int k, int w, int h)
{
    uint8_t *want = malloc((size_t)w * h * 3);
    make_frame(k, w, h, want);
    int worst = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        int d = abs((int)got[i] - (int)want[i]);
        worst = d > worst ? d : worst;
    }
    free(want);
    return worst;
}

static int no_children(void)
{
    errno = 0;
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

static void test_natural_order(void)
{
    TU_CHECK(cn_natural_cmp("img_2", "img_10") < 0, "img_2 < img_10");
    TU_CHECK(cn_natural_cmp("img_10", "img_9") > 0, "img_10 > img_9");
    TU_CHECK(cn_natural_cmp("a1b2", "a1b10") < 0, "a1b2 < a1b10");
    TU_CHECK(cn_natural_cmp("007", "7") > 0 && cn_natural_cmp("7", "007") < 0, "zeros break ties");
    TU_CHECK(cn_natural_cmp("frame", "frame1") < 0, "prefix first");
    TU_CHECK(cn_natural_cmp("x.png", "x.png") == 0, "equal");
}

static void test_folder(void)
{
    char dir[512], p[1024];
    if (tu_tmpdir_make(dir, sizeof dir, "cnvid_folder") != 0)
        return;
    write_frame(dir, "img_10.png", 2, FW, FH);
    const char *second = g_ffmpeg[0] ? "img_2.jpg" : "img_2.png";
    write_frame(dir, second, 1, FW, FH);
    write_frame(dir, "img_1.png", 0, FW, FH);
    tu_path(p, sizeof p, dir, "notes.txt");
    tu_write_file(p, "not a frame", 11);
    tu_path(p, sizeof p, dir, ".hidden.png");
    tu_write_file(p, "junk", 4);

    cn_video *v = NULL;
    TU_OK(cn_video_open(dir, NULL, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        TU_CHECK(in.width == FW && in.height == FH, "size %dx%d", in.width, in.height);
        TU_CHECK(in.nframes == 3 && in.is_folder && !in.has_audio, "nframes %lld folder %d audio %d",
                 (long long)in.nframes, in.is_folder, in.has_audio);
        TU_CHECK(in.fps == 30 && in.fps_assumed == 1, "fps %g assumed %d", in.fps, in.fps_assumed);
        TU_CHECK(cn_video_audio(v) == NULL, "no audio");
        static const char *names[] = {"img_1", "img_2", "img_10"};
        const int tol[] = {0, g_ffmpeg[0] ? 12 : 0, 0}; /* the JPEG is lossy */
        uint8_t px[FW * FH * 3];
        char name[64];
        for (int k = 0; k < 3; k++) {
            int r = cn_video_read(v, px, name, sizeof name);
            TU_CHECK(r == 1, "frame %d: %d %s", k, r, cn_last_error());
            TU_CHECK(strcmp(name, names[k]) == 0, "frame %d named %s, want %s", k, name, names[k]);
            int d = frame_diff(px, k, FW, FH);
            TU_CHECK(d <= tol[k], "frame %s differs by %d", names[k], d);
        }
        TU_CHECK(cn_video_read(v, px, name, sizeof name) == 0, "end after 3 frames");
        TU_CHECK(cn_video_read(v, px, name, sizeof name) == 0, "end stays");
        cn_video_close(v);
    }
    cn_video_opts o = {.fps = 12.5};
    TU_OK(cn_video_open(dir, &o, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        TU_CHECK(in.fps == 12.5 && !in.fps_assumed, "--fps: %g assumed %d", in.fps, in.fps_assumed);
        cn_video_close(v);
    }

    /* audio beside the frames: 1 s at 44.1 kHz stereo comes back as 16 kHz mono */
    float *st = malloc(44100 * 2 * sizeof *st);
    for (int i = 0; i < 44100 * 2; i++)
        st[i] = (float)(0.3 * sin(i * 0.05));
    char wav[1024];
    tu_path(wav, sizeof wav, dir, "sound.wav");
    TU_OK(cn_audio_write(wav, st, 44100, 2, 44100, CN_AUDIO_PCM_16));
    free(st);
    o = (cn_video_opts){.audio_path = wav};
    TU_OK(cn_video_open(dir, &o, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        const cn_audio *a = cn_video_audio(v);
        TU_CHECK(in.has_audio && a && a->rate == 16000 && llabs(a->n - 16000) <= 2,
                 "folder audio: has %d n %lld", in.has_audio, a ? (long long)a->n : -1LL);
        cn_video_close(v);
    }
    o.no_audio = 1;
    TU_OK(cn_video_open(dir, &o, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        TU_CHECK(in.has_audio && !cn_video_audio(v), "no_audio: has_audio reported, nothing decoded");
        cn_video_close(v);
    }
    tu_path(p, sizeof p, dir, "missing.wav");
    o = (cn_video_opts){.audio_path = p};
    v = (cn_video *)&v;
    int s = cn_video_open(dir, &o, &v);
    tu_check_failure("missing audio file", s, CN_ERR_IO, v == NULL, p, NULL);
    o.audio_path = dir; /* a folder is not audio */
    v = (cn_video *)&v;
    s = cn_video_open(dir, &o, &v);
    TU_CHECK(s != CN_OK && v == NULL && strstr(cn_last_error(), dir), "folder as audio: %s",
             cn_last_error());
    tu_path(p, sizeof p, dir, "notes.txt");
    o.audio_path = p;
    v = (cn_video *)&v;
    s = cn_video_open(dir, &o, &v);
    tu_check_failure("text as audio", s, CN_ERR_FORMAT, v == NULL, p, NULL);

    /* a frame of another size, then a corrupt one: errors naming the file, and they stick */
    write_frame(dir, "img_11.png", 3, FW - 8, FH);
    TU_OK(cn_video_open(dir, NULL, &v));
    if (v) {
        uint8_t px[FW * FH * 3];
        char name[64];
        int r = 1;
        for (int k = 0; k < 4 && r == 1; k++)
            r = cn_video_read(v, px, name, sizeof name);
        tu_path(p, sizeof p, dir, "img_11.png");
        tu_check_failure("frame size mismatch", r, CN_ERR_FORMAT, 1, p, "32x24");
        r = cn_video_read(v, px, name, sizeof name);
        tu_check_failure("error sticks", r, CN_ERR_FORMAT, 1, p, NULL);
        cn_video_close(v);
    }
    unlink(p);
    tu_path(p, sizeof p, dir, "img_3.png");
    tu_write_file(p, "\x89PNG\r\n\x1a\nthis is not a png", 25);
    TU_OK(cn_video_open(dir, NULL, &v));
    if (v) {
        uint8_t px[FW * FH * 3];
        char name[64];
        int r = 1, k = 0;
        while (r == 1 && k < 5)
            r = cn_video_read(v, px, name, sizeof name), k++;
        TU_CHECK(k == 3, "corrupt frame is the third (%d)", k);
        tu_check_failure("corrupt frame", r, CN_ERR_FORMAT, 1, p, NULL);
        cn_video_close(v);
    }
    /* a corrupt first frame fails at open; two frames with one stem too */
    tu_path(p, sizeof p, dir, "img_0.png");
    tu_write_file(p, "garbage", 7);
    v = (cn_video *)&v;
    s = cn_video_open(dir, NULL, &v);
    tu_check_failure("corrupt first frame", s, CN_ERR_FORMAT, v == NULL, p, NULL);
    /* a 60-byte PNG whose second IDAT claims 2 GiB: refused before stb
     * allocates for it (found by cmake/fuzz.sh as an out-of-memory input) */
    static const uint8_t huge_idat[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
        0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 64, 0, 0, 0, 64, 8, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 3, 'I', 'D', 'A', 'T', 0x78, 0x01, 0x00, 0, 0, 0, 0,
        0x7F, 0xFF, 0xFF, 0xF0, 'I', 'D', 'A', 'T', 0x00, 0, 0, 0, 0};
    tu_write_file(p, huge_idat, sizeof huge_idat);
    v = (cn_video *)&v;
    s = cn_video_open(dir, NULL, &v);
    tu_check_failure("PNG chunk longer than the file", s, CN_ERR_FORMAT, v == NULL, p, "IDAT chunk at byte 48 claims");
    /* a 600 MB frame (sparse: it costs no disk) is refused before it is read */
    if (truncate(p, 600L << 20) == 0) {
        v = (cn_video *)&v;
        s = cn_video_open(dir, NULL, &v);
        tu_check_failure("image file over the size limit", s, CN_ERR_FORMAT, v == NULL, p, "byte limit");
    }
    unlink(p);
    tu_path(p, sizeof p, dir, "img_1.jpeg");
    tu_write_file(p, "same stem", 9);
    v = (cn_video *)&v;
    s = cn_video_open(dir, NULL, &v);
    tu_check_failure("same stem", s, CN_ERR_FORMAT, v == NULL, dir, "same name");
    rm_tree(dir);

    /* empty folder, and one without frames */
    if (tu_tmpdir_make(dir, sizeof dir, "cnvid_empty") != 0)
        return;
    v = (cn_video *)&v;
    s = cn_video_open(dir, NULL, &v);
    tu_check_failure("empty folder", s, CN_ERR_FORMAT, v == NULL, dir, "no frames");
    tu_path(p, sizeof p, dir, "readme.txt");
    tu_write_file(p, "x", 1);
    s = cn_video_open(dir, NULL, &v);
    tu_check_failure("folder without frames", s, CN_ERR_FORMAT, v == NULL, dir, "no frames");
    rm_tree(dir);
}

/* Opens a video made here and checks what the probe and the reader say. */
static void check_video(const char *path, int64_t nframes, double fps, int audio, int exact,
                        int64_t nframes_probe)
{
    cn_video *v = NULL;
    TU_OK(cn_video_open(path, NULL, &v));
    if (!v)
        return;
    cn_video_info in;
    cn_video_info_get(v, &in);
    TU_CHECK(in.width == FW * 2 && in.height == FH * 2 && !in.is_folder, "%s: size %dx%d", path,
             in.width, in.height);
    TU_CHECK(fabs(in.fps - fps) < 1e-6 && !in.fps_assumed, "%s: fps %g", path, in.fps);
    TU_CHECK(in.nframes == nframes_probe, "%s: probe says %lld frames, want %lld", path,
             (long long)in.nframes, (long long)nframes_probe);
    TU_CHECK(in.has_audio == audio, "%s: has_audio %d", path, in.has_audio);
    const cn_audio *a = cn_video_audio(v);
    if (audio) {
        /* AAC adds priming and padding of up to a frame of 1024 samples at 48 kHz */
        double want = (double)nframes / fps * 16000;
        TU_CHECK(a && a->rate == 16000 && fabs((double)a->n - want) <= 400, "%s: %lld samples, want %.0f",
                 path, a ? (long long)a->n : -1LL, want);
        double e = 0;
        for (int64_t i = 0; a && i < a->n; i++)
            e += (double)a->samples[i] * a->samples[i];
        TU_CHECK(a && e / (double)(a->n ? a->n : 1) > 0.004, "%s: the tone (amplitude 1/8) is there (power %g)", path,
                 a ? e / (double)(a->n ? a->n : 1) : 0);
    } else
        TU_CHECK(a == NULL, "%s: no audio track, no audio", path);
    uint8_t *px = malloc((size_t)FW * FH * 12), *small = malloc((size_t)FW * FH * 3);
    char name[64], want[16];
    int64_t k = 0;
    int r;
    while ((r = cn_video_read(v, px, name, sizeof name)) == 1) {
        snprintf(want, sizeof want, "%06lld", (long long)k + 1);
        TU_CHECK(strcmp(name, want) == 0, "%s: frame %lld named %s", path, (long long)k, name);
        /* frames were upscaled 2x with nearest neighbour: sample every other pixel */
        for (int y = 0; y < FH; y++)
            for (int x = 0; x < FW; x++)
                memcpy(small + ((size_t)y * FW + x) * 3, px + ((size_t)(2 * y) * FW * 2 + 2 * x) * 3, 3);
        int d = frame_diff(small, (int)k, FW, FH);
        TU_CHECK(d <= (exact ? 0 : 24), "%s: frame %lld differs by %d", path, (long long)k, d);
        k++;
    }
    TU_CHECK(r == 0 && k == nframes, "%s: read %lld frames (%d: %s), want %lld", path, (long long)k,
             r, r < 0 ? cn_last_error() : "", (long long)nframes);
    free(px);
    free(small);
    cn_video_close(v);
    TU_CHECK(no_children(), "%s: ffmpeg reaped", path);
}

static void test_files(void)
{
    char dir[512], pat[1024], mp4[1024], mp4a[1024], mkv[1024], p[1024];
    if (tu_tmpdir_make(dir, sizeof dir, "cnvid_files") != 0)
        return;
    int n = 30;
    for (int k = 0; k < n; k++) {
        char name[32];
        snprintf(name, sizeof name, "f%03d.png", k + 1);
        write_frame(dir, name, k, FW, FH);
    }
    snprintf(pat, sizeof pat, "%s/f%%03d.png", dir);
    tu_path(mp4, sizeof mp4, dir, "plain.mp4");
    tu_path(mp4a, sizeof mp4a, dir, "with audio.mp4"); /* a space: no shell anywhere */
    tu_path(mkv, sizeof mkv, dir, "lossless.mkv");
    const char *a1[] = {"-framerate", "24", "-i", pat, "-vf", "scale=iw*2:ih*2:flags=neighbor",
                        "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", mp4, NULL};
    const char *a2[] = {"-framerate", "24", "-i", pat, "-f", "lavfi", "-i", "sine=frequency=440:duration=1.25",
                        "-vf", "scale=iw*2:ih*2:flags=neighbor", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", mp4a, NULL};
    const char *a3[] = {"-framerate", "25", "-i", pat, "-vf", "scale=iw*2:ih*2:flags=neighbor",
                        "-c:v", "ffv1", "-pix_fmt", "bgr0", mkv, NULL};
    TU_CHECK(run_ffmpeg(a1) && run_ffmpeg(a2) && run_ffmpeg(a3), "making the test videos");
    check_video(mp4, n, 24, 0, 0, n);
    check_video(mp4a, n, 24, 1, 0, n);
    check_video(mkv, n, 25, 0, 1, n); /* mkv has no frame count: the packets are counted */

    /* no_audio; and audio from a file replacing the track */
    cn_video_opts o = {.no_audio = 1};
    cn_video *v = NULL;
    TU_OK(cn_video_open(mp4a, &o, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        TU_CHECK(in.has_audio == 1 && cn_video_audio(v) == NULL, "no_audio on a video with sound");
        cn_video_close(v);
    }

    /* closing in the middle kills and reaps the decoder */
    TU_OK(cn_video_open(mp4, NULL, &v));
    if (v) {
        uint8_t *px = malloc((size_t)FW * FH * 12);
        char name[16];
        TU_CHECK(cn_video_read(v, px, name, sizeof name) == 1, "first frame");
        cn_video_close(v);
        free(px);
        TU_CHECK(no_children(), "decoder reaped after an early close");
    }

    /* not a video; a missing file; ffmpeg not installed */
    tu_path(p, sizeof p, dir, "fake.mp4");
    tu_write_file(p, "this is text, not a video\n", 26);
    v = (cn_video *)&v;
    int s = cn_video_open(p, NULL, &v);
    tu_check_failure("not a video", s, CN_ERR_FORMAT, v == NULL, p, "not a video");
    tu_path(p, sizeof p, dir, "tone.wav");
    const char *a4[] = {"-f", "lavfi", "-i", "sine=duration=0.5", p, NULL};
    TU_CHECK(run_ffmpeg(a4), "making a WAV");
    s = cn_video_open(p, NULL, &v);
    tu_check_failure("audio only", s, CN_ERR_FORMAT, v == NULL, p, "no video stream");
    tu_path(p, sizeof p, dir, "nothing.mp4");
    s = cn_video_open(p, NULL, &v);
    tu_check_failure("missing file", s, CN_ERR_IO, v == NULL, p, "No such file");
    if (geteuid() != 0) {
        chmod(mp4, 0);
        s = cn_video_open(mp4, NULL, &v);
        tu_check_failure("unreadable file", s, CN_ERR_IO, v == NULL, mp4, "cannot read");
        chmod(mp4, 0644);
    }
    const char *path = getenv("PATH");
    char *saved = strdup(path ? path : "");
    char empty[512];
    tu_tmpdir_make(empty, sizeof empty, "cnvid_nopath");
    setenv("PATH", empty, 1);
    s = cn_video_open(mp4, NULL, &v);
    tu_check_failure("ffmpeg not installed", s, CN_ERR_UNSUPPORTED, v == NULL, mp4, "ffmpeg not found on PATH");
    TU_OK(cn_video_open(dir, NULL, &v)); /* folders need no ffmpeg */
    cn_video_close(v);
    setenv("PATH", saved, 1);
    free(saved);
    rmdir(empty);

    /* a truncated file fails or ends early, but never hangs or leaves a child */
    size_t len;
    unsigned char *bytes = tu_read_file(mp4a, &len);
    if (bytes) {
        tu_path(p, sizeof p, dir, "cut.mp4");
        tu_write_file(p, bytes, len / 2);
        free(bytes);
        s = cn_video_open(p, NULL, &v);
        if (s == CN_OK) {
            uint8_t *px = malloc((size_t)FW * FH * 12);
            char name[16];
            int r, k = 0;
            while ((r = cn_video_read(v, px, name, sizeof name)) == 1)
                k++;
            TU_CHECK(k < n, "truncated file gave %d frames", k);
            if (r < 0)
                TU_CHECK(strstr(cn_last_error(), p) != NULL, "names the file: %s", cn_last_error());
            free(px);
            cn_video_close(v);
        } else
            TU_CHECK(strstr(cn_last_error(), p) != NULL, "names the file: %s", cn_last_error());
        TU_CHECK(no_children(), "no child after a truncated file");
    }
    rm_tree(dir);
}

/* Writing to a child that has exited is an error, not a SIGPIPE death. */
static void test_proc_sigpipe(void)
{
    char tru[4096];
    if (cn_find_program("true", tru, sizeof tru) != CN_OK) {
        printf("note: no 'true' program; SIGPIPE check skipped\n");
        return;
    }
    const char *argv[] = {tru, NULL};
    cn_proc p;
    TU_OK(cn_proc_start(argv, 1, 0, 0, &p));
    struct timespec nap = {0, 100000000};
    nanosleep(&nap, NULL);
    static char buf[1 << 20];
    int s = cn_proc_write(&p, buf, sizeof buf, "true");
    TU_CHECK(s == CN_ERR_IO, "write to an exited child: %s", cn_status_name(s));
    TU_CHECK(cn_proc_wait(&p) == 0 && no_children(), "child reaped");
    TU_FAILS(CN_ERR_UNSUPPORTED, cn_find_program("no-such-program-caspnet", tru, sizeof tru));
}

static void test_sample(void)
{
    char dir[512], out[1024], p[1200];
    if (tu_tmpdir_make(dir, sizeof dir, "cnvid_sample") != 0)
        return;
    tu_path(out, sizeof out, dir, "s");
    TU_OK(cn_sample_write(out, 20, 0));
    snprintf(p, sizeof p, "%s/frames", out);
    cn_video *v = NULL;
    TU_OK(cn_video_open(p, NULL, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        TU_CHECK(in.nframes == 20 && in.width == CN_SAMPLE_WIDTH && in.height == CN_SAMPLE_HEIGHT,
                 "sample frames: %lld of %dx%d", (long long)in.nframes, in.width, in.height);
        uint8_t *px = malloc((size_t)CN_SAMPLE_WIDTH * CN_SAMPLE_HEIGHT * 3),
                *want = malloc((size_t)CN_SAMPLE_WIDTH * CN_SAMPLE_HEIGHT * 3);
        char name[64];
        TU_CHECK(cn_video_read(v, px, name, sizeof name) == 1 && !strcmp(name, "000001"), "first: %s", name);
        cn_sample_frame(0, want);
        TU_CHECK(!memcmp(px, want, (size_t)CN_SAMPLE_WIDTH * CN_SAMPLE_HEIGHT * 3), "PNG is the frame");
        free(px);
        free(want);
        cn_video_close(v);
    }
    snprintf(p, sizeof p, "%s/sample.mp4", out);
    TU_OK(cn_video_open(p, NULL, &v));
    if (v) {
        cn_video_info in;
        cn_video_info_get(v, &in);
        const cn_audio *a = cn_video_audio(v);
        TU_CHECK(in.nframes == 20 && in.fps == CN_SAMPLE_FPS && in.has_audio && a,
                 "sample.mp4: %lld frames at %g, audio %d", (long long)in.nframes, in.fps, in.has_audio);
        if (a) {
            /* the knock at 0.25 s is loud; the 0.1 s before it is near silence */
            double on = 0, off = 0;
            for (int64_t i = 4000; i < 4800 && i < a->n; i++)
                on += (double)a->samples[i] * a->samples[i];
            for (int64_t i = 2200; i < 3800 && i < a->n; i++)
                off += (double)a->samples[i] * a->samples[i];
            TU_CHECK(on / 800 > 100 * (off / 1600), "bounce energy %g vs before %g", on / 800, off / 1600);
        }
        cn_video_close(v);
    }
    int s = cn_sample_write(out, 20, 0);
    tu_check_failure("sample into a non-empty folder", s, CN_ERR_IO, 1, out, "not empty");
    snprintf(p, sizeof p, "%s/mine.txt", out);
    tu_write_file(p, "keep", 4);
    TU_OK(cn_sample_write(out, 16, 1));
    snprintf(p, sizeof p, "%s/frames", out);
    TU_CHECK(tu_count_matching(p, ".png") == 16, "--force replaced the frames (%d)", tu_count_matching(p, ".png"));
    snprintf(p, sizeof p, "%s/mine.txt", out);
    TU_CHECK(access(p, F_OK) == 0, "--force keeps other files");
    TU_CHECK(tu_count_matching(dir, ".tmp") == 0, "no temporary folder left");
    rm_tree(dir);
}

int main(void)
{
    if (cn_find_program("ffmpeg", g_ffmpeg, sizeof g_ffmpeg) != CN_OK)
        g_ffmpeg[0] = '\0';
    test_natural_order();
    test_proc_sigpipe();
    test_folder();
    if (g_ffmpeg[0]) {
        test_files();
        test_sample();
    } else
        printf("note: ffmpeg not installed; video file tests skipped\n");
    return tu_finish("test_video");
}
