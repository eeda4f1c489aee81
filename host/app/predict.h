/* Whole-video prediction (spec section 0): sliding-window clips through the engine, maps written as PNGs, overlays, a video and a .npy. */
#ifndef CASPNET_PREDICT_H
#define CASPNET_PREDICT_H

#include <signal.h>
#include <stdint.h>

#include "model/engine.h"
#include "io/video.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_CLIP_LEN 16

/* The frames of the clip whose map frame t gets, oldest first (idx[15] == t),
 * in a video of nframes frames (nframes >= 16, 0 <= t < nframes):
 * t >= 15: t-15 .. t; t < 15: the time-reversed clip t+15 .. t. When t+15 is
 * past the end (videos of 16..29 frames) the reversed clip starts with copies
 * of the last frame: idx[k] = min(t+15-k, nframes-1). *first / *last get the
 * frame range whose audio window the clip uses (the forward clip over the
 * same frames: t-15..t, or t..t+15 for reversed clips, nominal even where
 * clamped; the window is then partly past the signal and zero-filled).
 * Returns 1 for a reversed clip, 0 for a forward one, -1 on bad arguments.
 * Pure: no state, no allocation. */
int cn_predict_clip_frames(int64_t t, int64_t nframes, int64_t idx[CN_CLIP_LEN], int64_t *first,
                           int64_t *last);

/* Output file name of a frame: "<stem>.png" (stem as cn_video_read gives it;
 * an empty stem becomes the 1-based frame number as %06d). */
void cn_predict_frame_name(const char *stem, int64_t t, char *out, size_t cap);

/* Default clips per forward pass for an H x W model on a device with
 * global_mem bytes: about 700 MB per 224 x 384 clip (scaled by H*W) after
 * weight_bytes, using 80 % of the memory, in 1..8. */
int cn_predict_default_batch(uint64_t global_mem, uint64_t weight_bytes, int H, int W);

/* Progress report, called from the writer thread after each frame is written. */
typedef struct cn_predict_progress {
    int64_t done;    /* frames written */
    int64_t total;   /* frames in the input, -1 when not known in advance */
    double seconds;  /* since the first frame was decoded */
} cn_predict_progress;

typedef struct cn_predict_opts {
    int H, W;                /* model size; 0: 224 x 384; multiples of 32 */
    int batch;               /* clips per forward pass; 0: cn_predict_default_batch */
    double blur_sigma;       /* Gaussian blur of the output maps, output pixels; 0: none */
    int overlay;             /* also write DIR/overlay/NAME.png */
    const char *video_out;   /* also write the overlay as this video (ffmpeg), NULL: no */
    int npy;                 /* also write DIR/maps.npy: N x H x W float32 at model size,
                                frames in order, maps exactly as the engine returned them */
    int force;               /* allow an out folder that already has files (same names are replaced) */
    int no_audio;            /* av weights: feed the log-mel of silence (log 0.01) */
    cn_video_opts video;     /* fps / audio_path for folders; no_audio is set as needed */
    void (*progress)(void *user, const cn_predict_progress *p);
    void *progress_user;
    void (*note)(void *user, const char *msg); /* "fps assumed 30", "feeding silence", ... */
    void *note_user;
    volatile sig_atomic_t *cancel; /* polled; non-zero stops the run (CN_ERR_ARG "interrupted") */
} cn_predict_opts;

typedef struct cn_predict_result {
    int64_t frames;       /* frames read and written */
    int batch;            /* clips per forward pass used */
    int width, height;    /* of the input frames */
    double fps;
    double seconds;       /* wall time of the whole run */
    double device_seconds; /* time inside cn_engine_run_rgb8 */
} cn_predict_result;

/* Runs the loaded engine over every frame of input (a video file or a folder
 * of frames, host/io/video.h) and writes one 8-bit grayscale PNG per frame into
 * out_dir (created if missing; must be empty unless o->force; must not be the
 * input), named by cn_predict_frame_name at the frame's own size (map resized
 * back bilinearly, optionally blurred, scaled to a maximum of 255).
 * Decoding and resizing run on one thread, the engine on the caller's, and
 * output writing on a third, through bounded queues. Every file is written to
 * a temporary name and renamed. On failure (bad input, fewer than 16 frames,
 * no audio track for av weights without o->no_audio, ...) the message names
 * the file and the problem, and if this call created out_dir, what it wrote is
 * removed again. An interrupted run (o->cancel) keeps the files completed so
 * far and removes the temporaries. res may be NULL. */
int cn_predict_video(cn_engine *e, const char *input, const char *out_dir, const cn_predict_opts *o,
                     cn_predict_result *res);

#ifdef __cplusplus
}
#endif
#endif
