/* Shared by host/io/video.c, video_ffmpeg.c and video_frames.c: the cn_video object and its two backends. */
#ifndef CASPNET_VIDEO_INTERNAL_H
#define CASPNET_VIDEO_INTERNAL_H

#include "io/video.h"

struct cn_video {
    char *path;
    cn_video_info info;
    cn_audio audio; /* samples NULL when there is none */
    int have_audio; /* audio holds a decoded track */
    int error;      /* sticky: the status of a failed read, returned again */
    char errmsg[512]; /* ... with its message */
    int done;
    int64_t index;  /* frames returned so far */

    /* video file: the decoding child and what the probe found */
    cn_proc proc;
    int stream_index;
    char ffmpeg[4096];

    /* frame folder: sorted file names (owned) */
    char **files;
    int64_t nfiles;
};

/* video_ffmpeg.c: probes path (size, rate, frame count, audio), fills
 * v->info and v->stream_index; finds ffmpeg into v->ffmpeg. */
int cn_video_ffmpeg_open(cn_video *v, const cn_video_opts *o);
/* Starts the frame decoder (on the first read) and reads one frame. */
int cn_video_ffmpeg_read(cn_video *v, uint8_t *rgb);
/* Decodes the file's audio track to 16 kHz mono into v->audio. */
int cn_video_ffmpeg_audio(cn_video *v);

/* video_frames.c: lists and sorts the folder's frames, reads the first
 * one's size. */
int cn_video_frames_open(cn_video *v, const cn_video_opts *o);
int cn_video_frames_read(cn_video *v, uint8_t *rgb, char *name, size_t name_cap);
void cn_video_frames_free(cn_video *v);
/* Natural order of two names: digit runs compare as numbers (for tests). */
int cn_natural_cmp(const char *a, const char *b);

#endif
