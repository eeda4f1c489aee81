/* Video files through the ffmpeg program: child processes with pipes, the ffprobe probe, raw rgb24 frames and 16 kHz mono audio. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pipe2: close-on-exec from the start */
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/status.h"
#include "io/video_internal.h"

extern char **environ;

int cn_find_program(const char *name, char *buf, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* an empty PATH entry means the current directory, as in execvp */
        int n = len ? snprintf(buf, cap, "%.*s/%s", (int)len, p, name) : snprintf(buf, cap, "./%s", name);
        struct stat st;
        if (n > 0 && (size_t)n < cap && stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
            access(buf, X_OK) == 0)
            return CN_OK;
        if (!end)
            break;
        p = end + 1;
    }
    buf[0] = '\0';
    return cn_fail(CN_ERR_UNSUPPORTED,
                   "%s not found on PATH: video files are decoded by the ffmpeg program "
                   "(Debian: apt-get install ffmpeg)",
                   name);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Close-on-exec pipes, so one child never holds another's pipe open (its
 * reader would then wait forever for the end of the stream). pipe2 sets the
 * flag atomically even when another thread spawns at the same moment. */
static int cloexec_pipe(int fds[2])
{
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

int cn_proc_start(const char *const *argv, int pipe_in, int pipe_out, int pipe_err, cn_proc *p)
{
    memset(p, 0, sizeof *p);
    p->in_fd = p->out_fd = p->err_fd = -1;
    int fin[2] = {-1, -1}, fout[2] = {-1, -1}, ferr[2] = {-1, -1};
    int st = CN_OK;
    if ((pipe_in && cloexec_pipe(fin)) || (pipe_out && cloexec_pipe(fout)) ||
        (pipe_err && cloexec_pipe(ferr))) {
        st = cn_fail(CN_ERR_IO, "%s: cannot create a pipe: %s", argv[0], strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    if (pipe_in)
        posix_spawn_file_actions_adddup2(&fa, fin[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (pipe_out)
        posix_spawn_file_actions_adddup2(&fa, fout[1], 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (pipe_err)
        posix_spawn_file_actions_adddup2(&fa, ferr[1], 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* the caller may ignore SIGPIPE or block signals; the child must not inherit that */
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int e = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e != 0) {
        st = cn_fail(CN_ERR_IO, "%s: cannot start: %s", argv[0], strerror(e));
        goto done;
    }
    p->pid = pid;
    p->in_fd = fin[1];
    fin[1] = -1;
    p->out_fd = fout[0];
    fout[0] = -1;
    p->err_fd = ferr[0];
    ferr[0] = -1;
done:
    for (int i = 0; i < 2; i++) {
        close_fd(&fin[i]);
        close_fd(&fout[i]);
        close_fd(&ferr[i]);
    }
    return st;
}

/* Keeps the tail of the child's stderr: only the last message matters. */
static void drain_err(cn_proc *p, int block)
{
    char tmp[sizeof p->err / 2];
    while (p->err_fd >= 0) {
        if (!block) {
            struct pollfd pf = {p->err_fd, POLLIN, 0};
            if (poll(&pf, 1, 0) <= 0)
                return;
        }
        ssize_t r = read(p->err_fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close_fd(&p->err_fd);
            return;
        }
        /* tmp is smaller than err, so a chunk always fits after dropping old bytes */
        size_t keep = sizeof p->err - 1, n = (size_t)r;
        if (p->err_len + n > keep) {
            size_t drop = p->err_len + n - keep;
            memmove(p->err, p->err + drop, p->err_len - drop);
            p->err_len -= drop;
        }
        memcpy(p->err + p->err_len, tmp, n);
        p->err_len += n;
        p->err[p->err_len] = '\0';
    }
}

int64_t cn_proc_read(cn_proc *p, void *buf, size_t n, const char *what)
{
    size_t got = 0;
    while (got < n && p->out_fd >= 0) {
        struct pollfd pf[2] = {{p->out_fd, POLLIN, 0}, {p->err_fd, POLLIN, 0}};
        int np = p->err_fd >= 0 ? 2 : 1;
        if (poll(pf, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            return cn_fail(CN_ERR_IO, "%s: poll: %s", what, strerror(errno));
        }
        if (np == 2 && pf[1].revents)
            drain_err(p, 0);
        if (!pf[0].revents)
            continue;
        ssize_t r = read(p->out_fd, (char *)buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return cn_fail(CN_ERR_IO, "%s: reading from ffmpeg: %s", what, strerror(errno));
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

int cn_proc_write(cn_proc *p, const void *buf, size_t n, const char *what)
{
    if (p->in_fd < 0)
        return cn_fail(CN_ERR_IO, "%s: the child's input is closed", what);
    /* Block SIGPIPE for this thread only, so a dead reader gives EPIPE; a
     * SIGPIPE raised meanwhile is pending on the thread and consumed below. */
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int st = CN_OK, saw_epipe = 0;
    size_t done = 0;
    while (done < n) {
        drain_err(p, 0);
        ssize_t w = write(p->in_fd, (const char *)buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            saw_epipe = errno == EPIPE;
            st = cn_fail(CN_ERR_IO, "%s: writing to ffmpeg: %s%s%s", what, strerror(errno),
                         p->err_len ? ": " : "", cn_proc_last_error(p));
            break;
        }
        done += (size_t)w;
    }
    if (saw_epipe) {
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return st;
}

static int reap(cn_proc *p)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid(p->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    p->pid = 0;
    if (r < 0)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int cn_proc_wait(cn_proc *p)
{
    close_fd(&p->in_fd);
    close_fd(&p->out_fd); /* a child still writing gets EPIPE and ends */
    drain_err(p, 1);
    if (p->pid <= 0)
        return -1;
    return reap(p);
}

void cn_proc_kill(cn_proc *p)
{
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        reap(p);
    }
}

const char *cn_proc_last_error(cn_proc *p)
{
    /* trailing newlines off, then the last line */
    while (p->err_len && (p->err[p->err_len - 1] == '\n' || p->err[p->err_len - 1] == '\r'))
        p->err[--p->err_len] = '\0';
    char *nl = strrchr(p->err, '\n');
    return nl ? nl + 1 : p->err;
}

/* ---- probe ---- */

/* "file:" keeps ffmpeg from reading a path as a protocol ("a:b.mp4") or an option ("-x.mp4"). */
static char *file_url(const char *path)
{
    size_t n = strlen(path) + 6;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "file:%s", path);
    return u;
}

static double parse_rate(const char *s)
{
    double a = 0, b = 0;
    if (sscanf(s, "%lf/%lf", &a, &b) == 2)
        return b > 0 ? a / b : 0;
    return a;
}

typedef struct probe_stream {
    int index, is_video, is_audio, attached, width, height, rotation;
    double avg_rate, r_rate;
    int64_t nb_frames, nb_packets;
} probe_stream;

#define MAX_STREAMS 64

/* Parses ffprobe's "flat" output: streams.stream.N.key=value lines. */
static void parse_probe(char *text, probe_stream *s, int *ns, double *duration)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *val = eq + 1;
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        if (strcmp(line, "format.duration") == 0) {
            *duration = atof(val);
            continue;
        }
        int idx;
        char key[128];
        if (sscanf(line, "streams.stream.%d.%127s", &idx, key) != 2 || idx < 0 || idx >= MAX_STREAMS)
            continue;
        if (idx >= *ns) {
            for (int i = *ns; i <= idx; i++) {
                memset(&s[i], 0, sizeof s[i]);
                s[i].index = i;
                s[i].nb_frames = s[i].nb_packets = -1;
            }
            *ns = idx + 1;
        }
        probe_stream *q = &s[idx];
        if (strcmp(key, "codec_type") == 0) {
            q->is_video = strcmp(val, "video") == 0;
            q->is_audio = strcmp(val, "audio") == 0;
        } else if (strcmp(key, "width") == 0)
            q->width = atoi(val);
        else if (strcmp(key, "height") == 0)
            q->height = atoi(val);
        else if (strcmp(key, "avg_frame_rate") == 0)
            q->avg_rate = parse_rate(val);
        else if (strcmp(key, "r_frame_rate") == 0)
            q->r_rate = parse_rate(val);
        else if (strcmp(key, "nb_frames") == 0 && val[0] >= '0' && val[0] <= '9')
            q->nb_frames = atoll(val);
        else if (strcmp(key, "nb_read_packets") == 0 && val[0] >= '0' && val[0] <= '9')
            q->nb_packets = atoll(val);
        else if (strcmp(key, "disposition.attached_pic") == 0)
            q->attached = atoi(val);
        else if (strcmp(key, "tags.rotate") == 0 ||
                 (strncmp(key, "side_data_list.", 15) == 0 && strstr(key, ".rotation")))
            q->rotation = atoi(val);
    }
}

/* Runs ffprobe and returns its whole stdout (malloc'd) or NULL after cn_fail. */
static char *run_probe(cn_video *v, const char *ffprobe, int count_packets)
{
    char *url = file_url(v->path);
    if (!url) {
        cn_fail(CN_ERR_OOM, "%s: out of memory", v->path);
        return NULL;
    }
    const char *argv[] = {ffprobe, "-v", "error", "-show_entries",
                          "stream=index,codec_type,width,height,avg_frame_rate,r_frame_rate,nb_frames,"
                          "nb_read_packets:stream_disposition=attached_pic:stream_tags=rotate:"
                          "stream_side_data=rotation:format=duration",
                          "-of", "flat", count_packets ? "-count_packets" : "-hide_banner", url, NULL};
    cn_proc p;
    if (cn_proc_start(argv, 0, 1, 1, &p) != CN_OK) {
        free(url);
        return NULL;
    }
    size_t cap = 1 << 14, len = 0;
    char *text = malloc(cap);
    int64_t r = 1;
    while (text && r > 0) {
        if (len + 4096 + 1 > cap) {
            char *t = realloc(text, cap *= 2);
            if (!t) {
                free(text);
                text = NULL;
                break;
            }
            text = t;
        }
        r = cn_proc_read(&p, text + len, 4096, v->path);
        if (r > 0)
            len += (size_t)r;
    }
    int rc = cn_proc_wait(&p);
    free(url);
    if (!text) {
        cn_fail(CN_ERR_OOM, "%s: out of memory", v->path);
        return NULL;
    }
    text[len] = '\0';
    if (r < 0 || rc != 0) {
        const char *why = cn_proc_last_error(&p);
        /* ffprobe's message starts with the URL it was given; skip our "file:path: " */
        size_t pre = strlen(v->path) + 7;
        if (strncmp(why, "file:", 5) == 0 && strlen(why) >= pre)
            why += pre;
        cn_fail(CN_ERR_FORMAT, "%s: not a video file ffmpeg can read (%s)", v->path,
                why[0] ? why : "ffprobe failed");
        free(text);
        return NULL;
    }
    return text;
}

int cn_video_ffmpeg_open(cn_video *v, const cn_video_opts *o)
{
    char ffprobe[4096];
    const char *missing = cn_find_program("ffmpeg", v->ffmpeg, sizeof v->ffmpeg) != CN_OK ? "ffmpeg"
                          : cn_find_program("ffprobe", ffprobe, sizeof ffprobe) != CN_OK ? "ffprobe"
                                                                                        : NULL;
    if (missing)
        return cn_fail(CN_ERR_UNSUPPORTED,
                       "%s: %s not found on PATH (video files are decoded by the ffmpeg program; "
                       "Debian: apt-get install ffmpeg)",
                       v->path, missing);
    probe_stream s[MAX_STREAMS];
    int ns = 0;
    double duration = 0;
    char *text = run_probe(v, ffprobe, 0);
    if (!text)
        return CN_ERR_FORMAT;
    parse_probe(text, s, &ns, &duration);
    free(text);
    int vi = -1, has_audio = 0;
    for (int i = 0; i < ns; i++) {
        if (s[i].is_video && !s[i].attached && vi < 0)
            vi = i;
        has_audio |= s[i].is_audio;
    }
    if (vi < 0)
        return cn_fail(CN_ERR_FORMAT, "%s: no video stream in this file", v->path);
    probe_stream *q = &s[vi];
    if (q->width <= 0 || q->height <= 0)
        return cn_fail(CN_ERR_FORMAT, "%s: the video stream has no frame size", v->path);
    if (q->nb_frames < 0) {
        /* mkv and webm do not store a frame count: count the packets (demuxing only) */
        text = run_probe(v, ffprobe, 1);
        if (!text)
            return CN_ERR_FORMAT;
        ns = 0;
        parse_probe(text, s, &ns, &duration);
        free(text);
        if (vi < ns)
            q->nb_frames = s[vi].nb_packets;
    }
    /* ffmpeg rotates frames upright by default: a quarter turn swaps the size */
    int rot = ((q->rotation % 360) + 360) % 360;
    int swap = rot == 90 || rot == 270;
    v->stream_index = q->index;
    v->info.width = swap ? q->height : q->width;
    v->info.height = swap ? q->width : q->height;
    double fps = q->avg_rate > 0 ? q->avg_rate : q->r_rate;
    if (o && o->fps > 0)
        fps = o->fps;
    v->info.fps = fps > 0 ? fps : 30;
    v->info.fps_assumed = !(fps > 0);
    v->info.nframes = q->nb_frames;
    v->info.has_audio = has_audio;
    (void)duration;
    return CN_OK;
}

static int start_decoder(cn_video *v)
{
    char *url = file_url(v->path);
    char map[32], size[64];
    snprintf(map, sizeof map, "0:%d", v->stream_index);
    snprintf(size, sizeof size, "%dx%d", v->info.width, v->info.height);
    if (!url)
        return cn_fail(CN_ERR_OOM, "%s: out of memory", v->path);
    /* passthrough: one output frame per decoded frame, none duplicated or
     * dropped, so frame numbers match the file's; the scale to the probed size
     * is a no-op that guards against a size the probe got wrong */
    const char *argv[] = {v->ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error",
                          "-i", url, "-map", map, "-an", "-sn", "-dn", "-vsync", "passthrough",
                          "-s", size, "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1", NULL};
    int st = cn_proc_start(argv, 0, 1, 1, &v->proc);
    free(url);
    return st;
}

int cn_video_ffmpeg_read(cn_video *v, uint8_t *rgb)
{
    if (v->proc.pid == 0 && v->index == 0)
        CN_TRY(start_decoder(v));
    size_t n = (size_t)v->info.width * (size_t)v->info.height * 3;
    int64_t got = cn_proc_read(&v->proc, rgb, n, v->path);
    if (got < 0)
        return CN_ERR_IO;
    if ((size_t)got == n)
        return 1;
    int rc = cn_proc_wait(&v->proc);
    if (rc != 0) {
        const char *why = cn_proc_last_error(&v->proc);
        return cn_fail(CN_ERR_FORMAT, "%s: ffmpeg failed after %lld frames (%s)", v->path,
                       (long long)v->index, why[0] ? why : "no message");
    }
    if (got > 0)
        return cn_fail(CN_ERR_FORMAT, "%s: frame %lld is truncated (%lld of %zu bytes)", v->path,
                       (long long)v->index + 1, (long long)got, n);
    return 0;
}

int cn_video_ffmpeg_audio(cn_video *v)
{
    char *url = file_url(v->path);
    if (!url)
        return cn_fail(CN_ERR_OOM, "%s: out of memory", v->path);
    /* ffmpeg's resampler makes 16 kHz mono float; the first audio stream */
    const char *argv[] = {v->ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error",
                          "-i", url, "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", "16000",
                          "-f", "f32le", "pipe:1", NULL};
    cn_proc p;
    int st = cn_proc_start(argv, 0, 1, 1, &p);
    free(url);
    if (st != CN_OK)
        return st;
    size_t cap = 1 << 16, n = 0; /* in floats */
    float *buf = malloc(cap * sizeof *buf);
    int64_t r = 1;
    while (buf && r > 0) {
        if (n + 4096 > cap) {
            float *t = realloc(buf, (cap *= 2) * sizeof *buf);
            if (!t) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = t;
        }
        r = cn_proc_read(&p, buf + n, 4096 * sizeof *buf, v->path);
        if (r > 0)
            n += (size_t)r / sizeof *buf;
    }
    if (!buf) {
        cn_proc_kill(&p);
        return cn_fail(CN_ERR_OOM, "%s: out of memory for the audio track", v->path);
    }
    int rc = cn_proc_wait(&p);
    if (r < 0 || rc != 0) {
        free(buf);
        const char *why = cn_proc_last_error(&p);
        return cn_fail(CN_ERR_FORMAT, "%s: the audio track will not decode (%s)", v->path,
                       why[0] ? why : "ffmpeg failed");
    }
    st = cn_audio_from_pcm(buf, (int64_t)n, 1, 16000, &v->audio);
    free(buf);
    if (st != CN_OK)
        return st;
    v->have_audio = 1;
    return CN_OK;
}
