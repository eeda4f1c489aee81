/* Audio front end (spec section 1): decode, mono mix, resample to 16 kHz, and the VGGish log-mel of one clip. */
#ifndef CASPNET_AUDIO_H
#define CASPNET_AUDIO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_AUDIO_RATE 16000
#define CN_LOGMEL_SAMPLES 15600 /* 0.975 s: 96 frames of 400 with hop 160 */
#define CN_LOGMEL_FRAMES 96
#define CN_LOGMEL_BANDS 64

/* Mono signal at 16 kHz. samples is malloc'd and owned by the struct; free
 * it with cn_audio_free. After a successful read samples is never NULL (at
 * least one float is allocated) even when n is 0. */
typedef struct cn_audio {
    float *samples;
    int64_t n;
    double rate; /* always 16000 after the calls below */
} cn_audio;

/* Reads any file libsndfile decodes (WAV PCM 8/16/24/32-bit and float, FLAC,
 * OGG, ...; any channel count and rate): channels averaged to mono, then
 * resampled to 16 kHz with libsamplerate (SRC_SINC_BEST_QUALITY) unless it is
 * already 16 kHz. Integer PCM is scaled to [-1, 1) (16-bit: v / 32768).
 * Errors name the file: missing or unreadable -> CN_ERR_IO; not audio (or a
 * truncated header) -> CN_ERR_FORMAT. A file with zero frames is silence
 * (n = 0), not an error. On failure *out is zeroed (nothing to free). */
int cn_audio_read(const char *path, cn_audio *out);

/* The same mono mix and resampling from `frames` interleaved frames of
 * `channels` floats at `rate` Hz in memory (e.g. a decoder's output). The
 * input is not modified or kept. On failure *out is zeroed. */
int cn_audio_from_pcm(const float *interleaved, int64_t frames, int channels, double rate,
                      cn_audio *out);

/* Frees the samples and zeroes *a; NULL or an already freed struct is fine. */
void cn_audio_free(cn_audio *a);

/* Sample encodings for cn_audio_write (WAV unless noted). */
typedef enum cn_audio_format {
    CN_AUDIO_PCM_U8 = 0,
    CN_AUDIO_PCM_16,
    CN_AUDIO_PCM_24,
    CN_AUDIO_PCM_32,
    CN_AUDIO_FLOAT,
    CN_AUDIO_FLAC_16, /* FLAC container, 16-bit */
    CN_AUDIO_OGG      /* Ogg Vorbis (lossy) */
} cn_audio_format;

/* Writes `frames` interleaved frames of `channels` floats in [-1, 1] (values
 * outside are clipped for integer formats) at integer `rate` Hz to path, via
 * libsndfile. Used by tests and the bundled-sample generator. Written to a
 * temporary name and renamed, so a failure leaves no partial file. */
int cn_audio_write(const char *path, const float *interleaved, int64_t frames, int channels,
                   int rate, cn_audio_format fmt);

/* Log-mel of the clip covering video frames first..last (0 <= first < last)
 * at fps frames per second, spec section 1 steps 3-6: the window is centred
 * at c = (first + last + 1) / (2 fps) seconds, i.e. centre sample
 * round((first + last + 1) * 8000 / fps) (ties away from zero), and covers
 * samples [centre - 7800, centre + 7800), zeros outside the signal. A
 * time-reversed clip uses the same window as the forward clip over the same
 * frames, so callers pass the forward range. a->rate must be 16000.
 * out: caller-owned 96 x 64 floats (time x band), row-major. Thread-safe. */
int cn_logmel_clip(const cn_audio *a, int64_t first, int64_t last, double fps, float *out);

/* The same from exactly 15 600 samples at 16 kHz (caller-owned, not
 * modified): STFT 400 / hop 160 without padding, periodic Hann, 512-point
 * FFT magnitude, 64 HTK mel bands 125-7500 Hz, log(mel + 0.01). Thread-safe. */
int cn_logmel_window(const float *samples15600, float *out);

/* First sample of the window cn_logmel_clip uses (centre - 7800); may be
 * negative or past the end of the signal. Fails on bad first/last/fps. */
int cn_logmel_window_start(int64_t first, int64_t last, double fps, int64_t *start);

#ifdef __cplusplus
}
#endif
#endif
