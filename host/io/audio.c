/* Audio front end: libsndfile decoding, mono mix, libsamplerate resampling to 16 kHz, VGGish log-mel (spec section 1). */
#include "io/audio.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/fft_kiss.h"
#include "runtime/status.h"

#define WIN 400
#define HOP 160
#define NFFT 512
#define NBINS (NFFT / 2 + 1)
#define MEL_LO_HZ 125.0
#define MEL_HI_HZ 7500.0
#define LOG_OFFSET 0.01
#define PI 3.14159265358979323846 /* M_PI is not in strict C11 */

/* ---------------------------------------------------------------- decoding */

/* Growable mono buffer filled while decoding. */
typedef struct mono_buf {
    float *p;
    int64_t n, cap;
} mono_buf;

static int mono_reserve(mono_buf *b, int64_t need, const char *what)
{
    if (need <= b->cap)
        return CN_OK;
    int64_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    if ((uint64_t)cap > SIZE_MAX / sizeof(float))
        return cn_fail(CN_ERR_OOM, "%s: %lld samples do not fit in memory", what, (long long)cap);
    float *p = realloc(b->p, (size_t)cap * sizeof(float));
    if (!p)
        return cn_fail(CN_ERR_OOM, "%s: out of memory for %lld samples", what, (long long)cap);
    b->p = p;
    b->cap = cap;
    return CN_OK;
}

/* Appends the channel average of `frames` interleaved frames. The sum is in
 * double so many-channel files do not lose precision; a NaN or infinity
 * (possible in float files) would poison every log-mel it touches, so it is
 * rejected here with its position. */
static int mono_append(mono_buf *b, const float *x, int64_t frames, int channels, const char *what)
{
    CN_TRY(mono_reserve(b, b->n + frames, what));
    for (int64_t i = 0; i < frames; i++) {
        double s = 0.0;
        for (int c = 0; c < channels; c++)
            s += x[i * channels + c];
        if (!isfinite(s))
            return cn_fail(CN_ERR_FORMAT, "%s: sample %lld is not a finite number", what,
                           (long long)(b->n + i));
        b->p[b->n + i] = (float)(s / channels);
    }
    b->n += frames;
    return CN_OK;
}

/* Turns the mono buffer at `rate` into out at 16 kHz; takes ownership of b. */
static int to_16k(mono_buf *b, double rate, const char *what, cn_audio *out)
{
    int st = CN_OK;
    if (!(rate > 0.0) || !isfinite(rate)) {
        st = cn_fail(CN_ERR_FORMAT, "%s: sample rate %g is not a positive number", what, rate);
        goto fail;
    }
    double ratio = CN_AUDIO_RATE / rate;
    if (rate != CN_AUDIO_RATE && b->n > 0) {
        if (!src_is_valid_ratio(ratio)) {
            st = cn_fail(CN_ERR_UNSUPPORTED, "%s: cannot resample from %g Hz to 16000 Hz (ratio %g is outside libsamplerate's range)",
                         what, rate, ratio);
            goto fail;
        }
        /* libsamplerate counts in long; a few spare frames absorb its rounding of the length */
        double want = ceil((double)b->n * ratio) + 64.0;
        if (b->n > (int64_t)(LONG_MAX / 2) || want > (double)(LONG_MAX / 2)) {
            st = cn_fail(CN_ERR_UNSUPPORTED, "%s: %lld samples are too many to resample", what,
                         (long long)b->n);
            goto fail;
        }
        mono_buf o = {0};
        if ((st = mono_reserve(&o, (int64_t)want, what)) != CN_OK)
            goto fail;
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = b->p;
        d.input_frames = (long)b->n;
        d.data_out = o.p;
        d.output_frames = (long)o.cap;
        d.end_of_input = 1;
        d.src_ratio = ratio;
        int e = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
        if (e != 0 || d.input_frames_used != d.input_frames) {
            free(o.p);
            st = cn_fail(CN_ERR_UNSUPPORTED, "%s: resampling from %g Hz failed: %s", what, rate,
                         e ? src_strerror(e) : "input not fully consumed");
            goto fail;
        }
        free(b->p);
        b->p = o.p;
        b->n = d.output_frames_gen;
    }
    if (!b->p && (st = mono_reserve(b, 1, what)) != CN_OK) /* never NULL on success */
        goto fail;
    out->samples = b->p;
    out->n = b->n;
    out->rate = CN_AUDIO_RATE;
    return CN_OK;
fail:
    free(b->p);
    memset(b, 0, sizeof *b);
    return st;
}

int cn_audio_read(const char *path, cn_audio *out)
{
    if (!out)
        return cn_fail(CN_ERR_ARG, "cn_audio_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path)
        return cn_fail(CN_ERR_ARG, "cn_audio_read: path is NULL");
    /* libsndfile's own message cannot tell "missing" from "not audio"; the
     * caller's user needs to know which, so check the file first */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cn_fail(CN_ERR_IO, "%s: cannot open audio file: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return cn_fail(CN_ERR_IO, "%s: is a directory, not an audio file", path);
    if (access(path, R_OK) != 0)
        return cn_fail(CN_ERR_IO, "%s: cannot read audio file: %s", path, strerror(errno));

    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        return cn_fail(CN_ERR_FORMAT, "%s: not an audio file libsndfile can decode (%s)", path,
                       sf_strerror(NULL));
    if (info.channels < 1 || info.samplerate < 1) {
        sf_close(f);
        return cn_fail(CN_ERR_FORMAT, "%s: invalid header (%d channels, %d Hz)", path,
                       info.channels, info.samplerate);
    }
    /* integer PCM read as float is scaled by 1/2^(bits-1) (default normalisation) */
    enum { CHUNK = 4096 };
    float *buf = malloc((size_t)CHUNK * (size_t)info.channels * sizeof(float));
    mono_buf b = {0};
    int st = buf ? CN_OK : cn_fail(CN_ERR_OOM, "%s: out of memory", path);
    /* the header's length is only a hint: a 42-byte FLAC can claim 2^35
     * samples; no format holds more frames than bytes before decoding grows it */
    if (st == CN_OK && info.frames > 0)
        st = mono_reserve(&b, info.frames < (int64_t)sb.st_size ? info.frames : (int64_t)sb.st_size, path);
    while (st == CN_OK) {
        sf_count_t got = sf_readf_float(f, buf, CHUNK);
        if (got <= 0)
            break;
        st = mono_append(&b, buf, got, info.channels, path);
    }
    if (st == CN_OK && sf_error(f) != SF_ERR_NO_ERROR)
        st = cn_fail(CN_ERR_FORMAT, "%s: decoding failed after %lld frames (%s)", path,
                     (long long)b.n, sf_strerror(f));
    free(buf);
    sf_close(f);
    if (st != CN_OK) {
        free(b.p);
        return st;
    }
    return to_16k(&b, (double)info.samplerate, path, out);
}

int cn_audio_from_pcm(const float *interleaved, int64_t frames, int channels, double rate,
                      cn_audio *out)
{
    if (!out)
        return cn_fail(CN_ERR_ARG, "cn_audio_from_pcm: out is NULL");
    memset(out, 0, sizeof *out);
    if (frames < 0 || channels < 1 || (frames > 0 && !interleaved) || !(rate > 0.0) || !isfinite(rate))
        return cn_fail(CN_ERR_ARG, "cn_audio_from_pcm: bad input (%lld frames, %d channels, %g Hz, data %s)",
                       (long long)frames, channels, rate, interleaved ? "given" : "NULL");
    mono_buf b = {0};
    int st = mono_append(&b, interleaved, frames, channels, "decoded audio");
    if (st != CN_OK) {
        free(b.p);
        return st;
    }
    return to_16k(&b, rate, "decoded audio", out);
}

void cn_audio_free(cn_audio *a)
{
    if (!a)
        return;
    free(a->samples);
    memset(a, 0, sizeof *a);
}

int cn_audio_write(const char *path, const float *interleaved, int64_t frames, int channels,
                   int rate, cn_audio_format fmt)
{
    static const int formats[] = {
        SF_FORMAT_WAV | SF_FORMAT_PCM_U8, SF_FORMAT_WAV | SF_FORMAT_PCM_16,
        SF_FORMAT_WAV | SF_FORMAT_PCM_24, SF_FORMAT_WAV | SF_FORMAT_PCM_32,
        SF_FORMAT_WAV | SF_FORMAT_FLOAT,  SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
        SF_FORMAT_OGG | SF_FORMAT_VORBIS,
    };
    if (!path || frames < 0 || channels < 1 || rate < 1 || (frames > 0 && !interleaved) ||
        (int)fmt < 0 || (size_t)fmt >= sizeof formats / sizeof formats[0])
        return cn_fail(CN_ERR_ARG, "cn_audio_write %s: bad arguments", path ? path : "(null)");
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = formats[fmt];
    if (!sf_format_check(&info))
        return cn_fail(CN_ERR_UNSUPPORTED, "%s: this libsndfile cannot write format 0x%x with %d channels at %d Hz",
                       path, info.format, channels, rate);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    SNDFILE *f = sf_open(tmp, SFM_WRITE, &info);
    if (!f)
        return cn_fail(CN_ERR_IO, "%s: cannot create: %s", tmp, sf_strerror(NULL));
    sf_command(f, SFC_SET_CLIPPING, NULL, SF_TRUE); /* clip, never wrap around */
    sf_count_t put = frames ? sf_writef_float(f, interleaved, frames) : 0;
    int bad = put != frames;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", sf_strerror(f));
    if (sf_close(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return cn_fail(CN_ERR_IO, "%s: write failed (%s)", path, bad ? msg : strerror(err));
    }
    return CN_OK;
}

/* ---------------------------------------------------------------- log-mel */

/* Tables shared by every call; built once, read-only afterwards. */
static struct {
    double hann[WIN];
    int k0[CN_LOGMEL_BANDS], k1[CN_LOGMEL_BANDS]; /* non-zero bins [k0, k1) */
    double w[CN_LOGMEL_BANDS][NBINS];
} tab;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static double hz_to_mel(double f)
{
    return 1127.0 * log(1.0 + f / 700.0);
}

static void tab_init(void)
{
    for (int n = 0; n < WIN; n++) /* periodic: the window's period is WIN, not WIN-1 */
        tab.hann[n] = 0.5 - 0.5 * cos(2.0 * PI * n / WIN);
    double lo = hz_to_mel(MEL_LO_HZ), hi = hz_to_mel(MEL_HI_HZ);
    double step = (hi - lo) / (CN_LOGMEL_BANDS + 1);
    for (int m = 0; m < CN_LOGMEL_BANDS; m++) {
        double left = lo + m * step, centre = lo + (m + 1) * step, right = lo + (m + 2) * step;
        tab.k0[m] = NBINS;
        tab.k1[m] = 0;
        for (int k = 1; k < NBINS; k++) { /* bin 0 (DC) stays 0, as VGGish does */
            double mk = hz_to_mel(k * (CN_AUDIO_RATE / 2.0) / (NBINS - 1));
            double up = (mk - left) / (centre - left), down = (right - mk) / (right - centre);
            double v = up < down ? up : down;
            tab.w[m][k] = v > 0.0 ? v : 0.0;
            if (v > 0.0) {
                if (k < tab.k0[m])
                    tab.k0[m] = k;
                tab.k1[m] = k + 1;
            }
        }
    }
}

int cn_logmel_window(const float *x, float *out)
{
    if (!x || !out)
        return cn_fail(CN_ERR_ARG, "cn_logmel_window: NULL %s", x ? "out" : "samples");
    if (pthread_once(&tab_once, tab_init) != 0)
        return cn_fail(CN_ERR_ARG, "cn_logmel_window: table initialisation failed");
    double frame[NFFT], mag[NBINS];
    for (int t = 0; t < CN_LOGMEL_FRAMES; t++) {
        const float *f = x + (size_t)t * HOP;
        for (int n = 0; n < NFFT; n++) /* zero-padded from WIN to the FFT length */
            frame[n] = n < WIN ? f[n] * tab.hann[n] : 0.0;
        if (io_fft512_magnitude(frame, mag) != 0)
            return cn_fail(CN_ERR_OOM, "cn_logmel_window: out of memory for the FFT tables");
        for (int m = 0; m < CN_LOGMEL_BANDS; m++) {
            double s = 0.0;
            for (int k = tab.k0[m]; k < tab.k1[m]; k++)
                s += tab.w[m][k] * mag[k];
            out[t * CN_LOGMEL_BANDS + m] = (float)log(s + LOG_OFFSET);
        }
    }
    return CN_OK;
}

int cn_logmel_window_start(int64_t first, int64_t last, double fps, int64_t *start)
{
    if (!start)
        return cn_fail(CN_ERR_ARG, "cn_logmel_window_start: start is NULL");
    if (first < 0 || last <= first || !(fps > 0.0) || !isfinite(fps))
        return cn_fail(CN_ERR_ARG, "log-mel clip: need 0 <= first < last and fps > 0 (got frames %lld:%lld at %g fps)",
                       (long long)first, (long long)last, fps);
    /* c*16000 = (first+last+1)*8000/fps; the same operations in the numpy
     * reference give the same double, and floor(x + 0.5) fixes the tie rule */
    double centre = floor((double)(first + last + 1) * 8000.0 / fps + 0.5);
    if (centre > 9.0e15)
        return cn_fail(CN_ERR_ARG, "log-mel clip: frames %lld:%lld at %g fps are too far into the signal",
                       (long long)first, (long long)last, fps);
    *start = (int64_t)centre - CN_LOGMEL_SAMPLES / 2;
    return CN_OK;
}

int cn_logmel_clip(const cn_audio *a, int64_t first, int64_t last, double fps, float *out)
{
    if (!a || !out || (a->n > 0 && !a->samples) || a->n < 0)
        return cn_fail(CN_ERR_ARG, "cn_logmel_clip: NULL or invalid argument");
    if (a->rate != CN_AUDIO_RATE)
        return cn_fail(CN_ERR_ARG, "cn_logmel_clip: audio is at %g Hz, must be resampled to 16000 first",
                       a->rate);
    int64_t start;
    CN_TRY(cn_logmel_window_start(first, last, fps, &start));
    /* heap, not stack: predict may call this from a thread with a small stack */
    float *w = calloc(CN_LOGMEL_SAMPLES, sizeof(float));
    if (!w)
        return cn_fail(CN_ERR_OOM, "cn_logmel_clip: out of memory");
    int64_t lo = start < 0 ? 0 : start;
    int64_t hi = start + CN_LOGMEL_SAMPLES < a->n ? start + CN_LOGMEL_SAMPLES : a->n;
    if (hi > lo)
        memcpy(w + (lo - start), a->samples + lo, (size_t)(hi - lo) * sizeof(float));
    int st = cn_logmel_window(w, out);
    free(w);
    return st;
}
