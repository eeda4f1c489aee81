/* The bundled sample: a synthetic clip with sound made by the project itself (two moving discs; only the one that bounces makes a sound). */
#ifndef CASPNET_SAMPLE_H
#define CASPNET_SAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_SAMPLE_WIDTH 384
#define CN_SAMPLE_HEIGHT 224
#define CN_SAMPLE_FPS 24
#define CN_SAMPLE_FRAMES 48 /* 2 s */
#define CN_SAMPLE_RATE 16000
/* The orange disc touches the floor at t = 0.25 + 0.5 k seconds (frames
 * 6, 18, 30, 42 counting from 0) and a decaying tone burst starts at exactly
 * that sample; the teal disc circles above and is silent. */
#define CN_SAMPLE_FIRST_BOUNCE 0.25
#define CN_SAMPLE_BOUNCE_PERIOD 0.5

/* Frame i (from 0) at time i / CN_SAMPLE_FPS into rgb (caller's,
 * CN_SAMPLE_WIDTH * CN_SAMPLE_HEIGHT * 3 bytes). Deterministic. */
void cn_sample_frame(int i, uint8_t *rgb);

/* The soundtrack of nframes frames: round(nframes / fps * 16000) samples in
 * [-1, 1] at 16 kHz mono, malloc'd (the caller frees); *n gets the count.
 * NULL when out of memory (cn_fail recorded). */
float *cn_sample_audio(int nframes, int64_t *n);

/* Writes into dir: frames/000001.png ... (nframes PNGs; 0 means
 * CN_SAMPLE_FRAMES), audio.wav (16 kHz mono 16-bit PCM) and sample.mp4 (the
 * frames and the sound muxed by the ffmpeg program: H.264, else MPEG-4 part
 * 2, with AAC). Everything is written to a hidden temporary folder beside
 * dir and renamed into place, so an interrupted run leaves no partial
 * sample. dir must not exist or be empty unless force, which replaces
 * the three entries above and leaves other files alone (a frames/ folder
 * holding anything but NNNNNN.png is an error). Errors: CN_ERR_IO naming the
 * path, CN_ERR_UNSUPPORTED when ffmpeg is not installed, CN_ERR_ARG. */
int cn_sample_write(const char *dir, int nframes, int force);

#ifdef __cplusplus
}
#endif
#endif
