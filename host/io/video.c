/* cn_video: one reader over video files (video_ffmpeg.c) and frame folders (video_frames.c), with the audio that goes with them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/status.h"
#include "io/video_internal.h"

static int load_audio_file(cn_video *v, const char *path)
{
    int st = cn_audio_read(path, &v->audio);
    if (st != CN_OK)
        return st; /* its message names the audio file */
    v->have_audio = 1;
    v->info.has_audio = 1;
    return CN_OK;
}

int cn_video_open(const char *path, const cn_video_opts *o, cn_video **out)
{
    if (!out)
        return cn_fail(CN_ERR_ARG, "cn_video_open: out is NULL");
    *out = NULL;
    if (!path || !path[0])
        return cn_fail(CN_ERR_ARG, "cn_video_open: no input path");
    if (o && !(o->fps >= 0 && o->fps <= 1000))
        return cn_fail(CN_ERR_ARG, "%s: frame rate %g is not in (0, 1000]", path, o->fps);
    struct stat st;
    if (stat(path, &st) != 0)
        return cn_fail(CN_ERR_IO, "%s: %s", path, strerror(errno));
    int folder = S_ISDIR(st.st_mode);
    if (!folder && !S_ISREG(st.st_mode))
        return cn_fail(CN_ERR_IO, "%s: not a regular file or a folder", path);
    if (access(path, folder ? R_OK | X_OK : R_OK) != 0)
        return cn_fail(CN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    cn_video *v = calloc(1, sizeof *v);
    if (!v || !(v->path = strdup(path))) {
        free(v);
        return cn_fail(CN_ERR_OOM, "%s: out of memory", path);
    }
    v->proc.pid = 0;
    v->proc.in_fd = v->proc.out_fd = v->proc.err_fd = -1;
    int s = folder ? cn_video_frames_open(v, o) : cn_video_ffmpeg_open(v, o);
    const char *audio_path = o ? o->audio_path : NULL;
    if (s == CN_OK && audio_path && audio_path[0]) {
        v->info.has_audio = 1; /* reported even with no_audio */
        if (!o->no_audio)
            s = load_audio_file(v, audio_path);
    } else if (s == CN_OK && !folder && v->info.has_audio && !(o && o->no_audio))
        s = cn_video_ffmpeg_audio(v);
    if (s != CN_OK) {
        cn_video_close(v);
        return s;
    }
    *out = v;
    return CN_OK;
}

void cn_video_info_get(const cn_video *v, cn_video_info *out)
{
    *out = v->info;
}

int cn_video_read(cn_video *v, uint8_t *rgb, char *name, size_t name_cap)
{
    if (!v || !rgb)
        return cn_fail(CN_ERR_ARG, "cn_video_read: NULL argument");
    if (v->error)
        return cn_fail(v->error, "%s", v->errmsg);
    if (v->done)
        return 0;
    int r = v->info.is_folder ? cn_video_frames_read(v, rgb, name, name_cap)
                              : cn_video_ffmpeg_read(v, rgb);
    if (r < 0) {
        v->error = r;
        snprintf(v->errmsg, sizeof v->errmsg, "%s", cn_last_error());
        cn_proc_kill(&v->proc);
        return r;
    }
    if (r == 0) {
        v->done = 1;
        return 0;
    }
    v->index++;
    if (!v->info.is_folder && name && name_cap)
        snprintf(name, name_cap, "%06lld", (long long)v->index);
    return 1;
}

const cn_audio *cn_video_audio(const cn_video *v)
{
    return v && v->have_audio ? &v->audio : NULL;
}

void cn_video_close(cn_video *v)
{
    if (!v)
        return;
    cn_proc_kill(&v->proc);
    cn_video_frames_free(v);
    cn_audio_free(&v->audio);
    free(v->path);
    free(v);
}
