/* Video input: video files decoded by the ffmpeg program through pipes, or folders of JPEG/PNG frames plus optional audio; and the child-process helpers behind it. */
#ifndef CASPNET_VIDEO_H
#define CASPNET_VIDEO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "io/audio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cn_video cn_video;

typedef struct cn_video_opts {
    double fps;             /* frame folders: frames per second; 0 -> 30 (fps_assumed=1).
                               Video files: 0 keeps the file's rate, > 0 overrides it */
    const char *audio_path; /* optional audio file (any format host/io/audio.h reads); for a
                               video file it replaces the file's own track */
    int no_audio;           /* do not decode any audio */
} cn_video_opts;

typedef struct cn_video_info {
    int width, height;   /* of every frame (a video's display size, after rotation) */
    double fps;
    int fps_assumed;     /* 1 when fps is the default 30, not from the file or the caller */
    int64_t nframes;     /* -1 if unknown before reading */
    int has_audio;       /* an audio track was found (video file) or audio_path given;
                            reported even with no_audio */
    int is_folder;
} cn_video_info;

/* Opens a video file (mp4, mkv, avi, webm, anything ffmpeg reads; probed with
 * ffprobe for size, rate, frame count and audio) or a directory of frames
 * (*.jpg, *.jpeg, *.png in any letter case, natural order: img_2 before
 * img_10; other files are ignored). Unless o->no_audio, the audio (the file's
 * track, or o->audio_path) is decoded here, whole, to 16 kHz mono.
 * o may be NULL (defaults). On success *out is the caller's, freed with
 * cn_video_close; on failure *out is NULL and the status is one of:
 * CN_ERR_IO (missing or unreadable path), CN_ERR_UNSUPPORTED (ffmpeg or
 * ffprobe not on PATH), CN_ERR_FORMAT (not a video, no video stream, a folder
 * with no frames, two frames with the same stem, a first frame that will not
 * decode, audio that will not decode), CN_ERR_ARG, CN_ERR_OOM. Every message
 * names the path. */
int cn_video_open(const char *path, const cn_video_opts *o, cn_video **out);

void cn_video_info_get(const cn_video *v, cn_video_info *out);

/* Next frame as H x W x 3 rgb8 (the video's own size, row-major, R G B) into
 * rgb (W*H*3 bytes, caller's); name (name_cap bytes, caller's) gets the
 * output stem: "000001" counting from 1 for videos, the frame file's name
 * without extension for folders. Returns 1 when a frame was read, 0 at the
 * end, a negative status on error: a frame that will not decode, a frame of
 * another size than the first (CN_ERR_FORMAT naming the file), ffmpeg failing
 * mid-stream (its last message is quoted). After an error, further reads
 * return the same error. */
int cn_video_read(cn_video *v, uint8_t *rgb, char *name, size_t name_cap);

/* The whole audio track, 16 kHz mono, decoded at open; NULL when there is
 * none or no_audio was set. Owned by v (valid until cn_video_close). */
const cn_audio *cn_video_audio(const cn_video *v);

/* Kills and reaps a running ffmpeg child, frees everything. NULL is fine. */
void cn_video_close(cn_video *v);

/* ---- Child processes (used by the above; also for writing videos) ---- */

/* Full path of program `name` (e.g. "ffmpeg") found on $PATH (an unset PATH
 * means /usr/local/bin:/usr/bin:/bin) into buf. Returns CN_OK, or
 * CN_ERR_UNSUPPORTED with a message saying it is not installed. */
int cn_find_program(const char *name, char *buf, size_t cap);

/* A running child with optional pipes; fds are -1 when not piped. */
typedef struct cn_proc {
    pid_t pid;      /* 0 when not running / already reaped */
    int in_fd;      /* write end of the child's stdin */
    int out_fd;     /* read end of the child's stdout */
    int err_fd;     /* read end of the child's stderr */
    char err[1024]; /* the last stderr bytes seen (NUL-terminated) */
    size_t err_len;
} cn_proc;

/* Starts argv[0] (a full path, see cn_find_program) with argv, without a
 * shell. Each of stdin/stdout/stderr is a pipe when the flag says so, else
 * /dev/null. The child gets default SIGPIPE handling and an empty signal
 * mask. On failure nothing is left running and p->pid is 0. */
int cn_proc_start(const char *const *argv, int pipe_in, int pipe_out, int pipe_err, cn_proc *p);

/* Reads exactly n bytes from the child's stdout into buf, draining its
 * stderr meanwhile (so a chatty child never blocks). Returns the number of
 * bytes read (< n only at end of stream) or -1 (CN_ERR_IO recorded via
 * cn_fail naming `what`). */
int64_t cn_proc_read(cn_proc *p, void *buf, size_t n, const char *what);

/* Writes n bytes to the child's stdin. A child that has gone away gives
 * CN_ERR_IO (not SIGPIPE: the signal is blocked and discarded for this
 * thread during the write). */
int cn_proc_write(cn_proc *p, const void *buf, size_t n, const char *what);

/* Closes our pipe ends, waits for the child and drains its stderr first.
 * Returns the exit code (0..255), or 128+signal, or -1 when it was not
 * running. */
int cn_proc_wait(cn_proc *p);

/* Kills (SIGKILL) and reaps the child if it still runs; closes the pipes. */
void cn_proc_kill(cn_proc *p);

/* The child's last stderr line, trimmed ("" if none); points into p. */
const char *cn_proc_last_error(cn_proc *p);

#ifdef __cplusplus
}
#endif
#endif
