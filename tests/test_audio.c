/* Audio front end without a device: log-mel against a double-precision direct-DFT reference, window placement, mono mixing, resampling, file formats and bad files. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/audio.h"
#include "runtime/status.h"
#include "testutil.h"

#define PI 3.14159265358979323846
#define NS CN_LOGMEL_SAMPLES
#define NMEL (CN_LOGMEL_FRAMES * CN_LOGMEL_BANDS)

/* ------------------------------------------------- reference (double) */

/* The spec's steps written out as plainly as possible: a direct DFT (no FFT)
 * over the 400 windowed samples (the 112 zeros of the padding add nothing),
 * the mel triangles from their three edges, all in double. */
static void ref_logmel(const double *x, double *out)
{
    static double cs[512], sn[512], w[257][64];
    static int ready;
    if (!ready) {
        for (int i = 0; i < 512; i++) {
            cs[i] = cos(2 * PI * i / 512);
            sn[i] = sin(2 * PI * i / 512);
        }
        double mlo = 1127 * log(1 + 125.0 / 700), mhi = 1127 * log(1 + 7500.0 / 700);
        for (int k = 0; k < 257; k++) {
            double f = 1127 * log(1 + (k * 8000.0 / 256) / 700);
            for (int m = 0; m < 64; m++) {
                double e0 = mlo + m * (mhi - mlo) / 65, e1 = mlo + (m + 1) * (mhi - mlo) / 65,
                       e2 = mlo + (m + 2) * (mhi - mlo) / 65;
                double v = 0;
                if (f > e0 && f <= e1)
                    v = (f - e0) / (e1 - e0);
                else if (f > e1 && f < e2)
                    v = (e2 - f) / (e2 - e1);
                w[k][m] = k == 0 ? 0 : v;
            }
        }
        ready = 1;
    }
    for (int t = 0; t < 96; t++) {
        double fr[400], mag[257];
        for (int n = 0; n < 400; n++)
            fr[n] = x[t * 160 + n] * (0.5 - 0.5 * cos(2 * PI * n / 400));
        for (int k = 0; k < 257; k++) {
            double re = 0, im = 0;
            for (int n = 0; n < 400; n++) {
                int i = (k * n) % 512; /* exact angle index, no drift */
                re += fr[n] * cs[i];
                im -= fr[n] * sn[i];
            }
            mag[k] = sqrt(re * re + im * im);
        }
        for (int m = 0; m < 64; m++) {
            double s = 0;
            for (int k = 0; k < 257; k++)
                s += w[k][m] * mag[k];
            out[t * 64 + m] = log(s + 0.01);
        }
    }
}

/* ------------------------------------------------- signals */

static void add_sine(double *x, int64_t n, double rate, double f, double amp, double phase)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += amp * sin(2 * PI * f * (double)i / rate + phase);
}

/* Vowel-like speech: a ~120 Hz glottal pulse train with vibrato through three
 * formant resonators (700, 1220, 2600 Hz), syllable-rate amplitude
 * modulation, and high-passed noise bursts standing in for fricatives. */
static void speech_like(double *x, int64_t n, double rate, uint64_t seed)
{
    tu_rng r = tu_seed(seed);
    static const double F[3] = {700, 1220, 2600}, B[3] = {80, 90, 120}, G[3] = {1.0, 0.6, 0.25};
    double y1[3] = {0}, y2[3] = {0}, phase = 0, prev_noise = 0, peak = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        double f0 = 120 * (1 + 0.06 * sin(2 * PI * 2.5 * t));
        phase += f0 / rate;
        double src = 0;
        if (phase >= 1) { /* one glottal closure per period */
            phase -= 1;
            src = 1;
        }
        double v = 0;
        for (int j = 0; j < 3; j++) {
            double rr = exp(-PI * B[j] / rate), a1 = 2 * rr * cos(2 * PI * F[j] / rate);
            double y = src + a1 * y1[j] - rr * rr * y2[j];
            y2[j] = y1[j];
            y1[j] = y;
            v += G[j] * y;
        }
        v *= 0.55 + 0.45 * sin(2 * PI * 4 * t);
        double nz = tu_normal(&r);
        if (fmod(t, 0.45) < 0.08) /* burst: first difference tilts the noise upward */
            v += 6 * (nz - prev_noise);
        prev_noise = nz;
        x[i] = v;
        if (fabs(v) > peak)
            peak = fabs(v);
    }
    for (int64_t i = 0; i < n; i++)
        x[i] *= 0.7 / peak;
}

static float *to_float(const double *x, int64_t n)
{
    float *f = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    return f;
}

/* cn_logmel_window on x (float-rounded) against the reference on the same
 * float samples. Bound 1e-5: the C path is double throughout, so the only
 * difference is the final rounding of |log| < 8 to float (<= 4.8e-7) plus
 * FFT-vs-DFT rounding (~1e-13 relative, times 1/(mel+0.01) <= 100). */
static double check_window(const char *what, const double *x)
{
    float *xf = to_float(x, NS), got[NMEL];
    double *xd = malloc(NS * sizeof(double)), want[NMEL], worst = 0;
    for (int i = 0; i < NS; i++)
        xd[i] = xf[i];
    ref_logmel(xd, want);
    TU_OK(cn_logmel_window(xf, got));
    tu_compare(what, got, want, NMEL, 1e-5, 0);
    for (int i = 0; i < NMEL; i++)
        worst = fmax(worst, fabs(got[i] - want[i]));
    free(xf);
    free(xd);
    return worst;
}

/* ------------------------------------------------- (a) against the reference */

static void test_reference(void)
{
    printf("(a) log-mel against the double-precision reference\n");
    static const double freqs[] = {125, 140.625, 1000, 3999, 7490, 7500, 7800, 60, 8000 - 1e-3};
    double *x = malloc(NS * sizeof(double)), worst = 0;
    char what[96];
    for (size_t i = 0; i < sizeof freqs / sizeof freqs[0]; i++) {
        memset(x, 0, NS * sizeof(double));
        add_sine(x, NS, 16000, freqs[i], 0.9, 0.3);
        snprintf(what, sizeof what, "sine %g Hz", freqs[i]);
        worst = fmax(worst, check_window(what, x));
    }
    memset(x, 0, NS * sizeof(double));
    add_sine(x, NS, 16000, 250, 0.3, 0);
    add_sine(x, NS, 16000, 2000, 0.3, 1);
    add_sine(x, NS, 16000, 7300, 0.3, 2);
    worst = fmax(worst, check_window("three sines", x));
    memset(x, 0, NS * sizeof(double));
    add_sine(x, NS, 16000, 1000, 1e-5, 0); /* near the log offset: sensitivity 1/(mel+0.01) */
    worst = fmax(worst, check_window("quiet sine", x));
    speech_like(x, NS, 16000, 11);
    worst = fmax(worst, check_window("speech-like", x));
    memset(x, 0, NS * sizeof(double));
    worst = fmax(worst, check_window("silence", x));
    float z[NS] = {0}, got[NMEL];
    TU_OK(cn_logmel_window(z, got));
    int exact = 1;
    for (int i = 0; i < NMEL; i++)
        exact &= got[i] == (float)log(0.01);
    TU_CHECK(exact, "silence is not exactly log(0.01) everywhere");
    printf("  worst |C - reference| over (a): %.3g\n", worst);
    free(x);
}

/* ------------------------------------------------- (b) window placement */

static void test_placement(void)
{
    printf("(b) window placement\n");
    int64_t s;
    TU_OK(cn_logmel_window_start(0, 15, 30, &s)); /* 16*8000/30 = 4266.67 -> 4267 */
    TU_CHECK(s == 4267 - 7800, "start(0:15 @30) = %lld", (long long)s);
    TU_OK(cn_logmel_window_start(15, 30, 25, &s)); /* 46*8000/25 = 14720 exactly */
    TU_CHECK(s == 14720 - 7800, "start(15:30 @25) = %lld", (long long)s);
    TU_OK(cn_logmel_window_start(0, 1, 6400, &s)); /* 2.5: ties go away from zero */
    TU_CHECK(s == 3 - 7800, "start(0:1 @6400) = %lld", (long long)s);
    TU_OK(cn_logmel_window_start(100, 115, 30000.0 / 1001, &s));
    TU_CHECK(s == (int64_t)floor(216 * 8000 / (30000.0 / 1001) + 0.5) - 7800, "start @29.97");
    TU_FAILS(CN_ERR_ARG, cn_logmel_window_start(5, 5, 30, &s));
    TU_FAILS(CN_ERR_ARG, cn_logmel_window_start(-1, 5, 30, &s));
    TU_FAILS(CN_ERR_ARG, cn_logmel_window_start(0, 5, 0, &s));
    TU_FAILS(CN_ERR_ARG, cn_logmel_window_start(0, 5, NAN, &s));

    /* a click at a known sample lands in exactly the STFT frames whose
     * (non-zero) Hann window covers it: window offset o is inside frame t
     * when 0 < o - 160 t < 400 (w[0] = 0) */
    int64_t n = 5 * 16000, click = 2 * 16000 + 37;
    float *sig = calloc((size_t)n, sizeof(float));
    sig[click] = 1.0f;
    cn_audio a = {sig, n, 16000};
    int64_t first = 52, last = 67; /* centre round(120*8000/30) = 32000 */
    float got[NMEL];
    TU_OK(cn_logmel_window_start(first, last, 30, &s));
    TU_OK(cn_logmel_clip(&a, first, last, 30, got));
    int64_t o = click - s;
    int bad = 0, hits = 0, expected = 0;
    for (int t = 0; t < 96; t++) {
        int expect = o - 160 * t > 0 && o - 160 * t < 400;
        expected += expect;
        int seen = 0;
        for (int m = 0; m < 64; m++)
            seen |= got[t * 64 + m] > (float)log(0.01) + 1e-6f;
        bad += expect != seen;
        hits += seen;
    }
    TU_CHECK(bad == 0 && hits == expected && expected == 2,
             "click at window offset %lld: %d frames disagree, %d lit, %d expected", (long long)o, bad,
             hits, expected);

    /* zeros outside the signal: the clip equals the window of an explicitly
     * zero-padded buffer, bit for bit, at both ends and entirely outside */
    tu_rng r = tu_seed(5);
    for (int64_t i = 0; i < n; i++)
        sig[i] = (float)tu_uniform(&r, -0.5, 0.5);
    static const int64_t ranges[][2] = {{0, 15}, {0, 1}, {130, 145}, {148, 149}, {400, 415}};
    for (size_t c = 0; c < sizeof ranges / sizeof ranges[0]; c++) {
        float pad[NS], want[NMEL];
        TU_OK(cn_logmel_window_start(ranges[c][0], ranges[c][1], 30, &s));
        for (int i = 0; i < NS; i++)
            pad[i] = s + i >= 0 && s + i < n ? sig[s + i] : 0.0f;
        TU_OK(cn_logmel_window(pad, want));
        TU_OK(cn_logmel_clip(&a, ranges[c][0], ranges[c][1], 30, got));
        TU_CHECK(memcmp(got, want, sizeof got) == 0, "clip %lld:%lld differs from zero-padded window",
                 (long long)ranges[c][0], (long long)ranges[c][1]);
    }
    TU_OK(cn_logmel_clip(&a, 400, 415, 30, got)); /* 13.8 s into a 5 s signal */
    int silent = 1;
    for (int i = 0; i < NMEL; i++)
        silent &= got[i] == (float)log(0.01);
    TU_CHECK(silent, "window past the end is not silence");
    cn_audio empty = {sig, 0, 16000};
    TU_OK(cn_logmel_clip(&empty, 0, 15, 30, got));
    TU_CHECK(got[0] == (float)log(0.01), "empty signal is not silence");
    cn_audio wrong = {sig, n, 44100};
    TU_FAILS(CN_ERR_ARG, cn_logmel_clip(&wrong, 0, 15, 30, got));
    TU_FAILS(CN_ERR_ARG, cn_logmel_clip(&a, 15, 0, 30, got));
    free(sig);
}

/* ------------------------------------------------- files */

static char dir[512];

static void write_file(const char *name, const double *x, int64_t frames, int ch, int rate,
                       cn_audio_format fmt, char *path, size_t cap)
{
    tu_path(path, cap, dir, name);
    float *f = to_float(x, frames * ch);
    TU_OK(cn_audio_write(path, f, frames, ch, rate, fmt));
    free(f);
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double d = 0;
    for (int64_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* (c) stereo with different channels averages to their mean */
static void test_mono(void)
{
    printf("(c) mono mixing\n");
    int64_t n = 16000;
    double *x = malloc((size_t)n * 2 * sizeof(double));
    tu_rng r = tu_seed(9);
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = 0.6 * sin(2 * PI * 500 * i / 16000.0);
        x[2 * i + 1] = tu_uniform(&r, -0.3, 0.3);
    }
    char path[600];
    cn_audio a;
    write_file("stereo.wav", x, n, 2, 16000, CN_AUDIO_FLOAT, path, sizeof path);
    TU_OK(cn_audio_read(path, &a));
    TU_CHECK(a.n == n && a.rate == 16000, "stereo: n %lld rate %g", (long long)a.n, a.rate);
    double d = 0;
    for (int64_t i = 0; i < n && a.n == n; i++) /* float inputs: the mean is exact to 1 ulp */
        d = fmax(d, fabs(a.samples[i] - ((float)x[2 * i] + (double)(float)x[2 * i + 1]) / 2));
    TU_CHECK(d <= 6e-8, "stereo float mix off by %g", d);
    printf("  stereo float WAV: max |mix - (L+R)/2| %.3g\n", d);
    cn_audio_free(&a);
    write_file("stereo16.wav", x, n, 2, 16000, CN_AUDIO_PCM_16, path, sizeof path);
    TU_OK(cn_audio_read(path, &a));
    d = 0;
    for (int64_t i = 0; i < n && a.n == n; i++)
        d = fmax(d, fabs(a.samples[i] - (x[2 * i] + x[2 * i + 1]) / 2));
    TU_CHECK(a.n == n && d <= 1.0 / 32768, "stereo 16-bit mix off by %g (quantisation 3.05e-5)", d);
    printf("  stereo 16-bit WAV: max |mix - (L+R)/2| %.3g\n", d);
    cn_audio_free(&a);
    /* three channels from memory; the left channel alone would differ */
    float pcm[3 * 100];
    for (int i = 0; i < 300; i++)
        pcm[i] = (float)(i % 3) - 0.5f * (float)(i % 7) / 7;
    TU_OK(cn_audio_from_pcm(pcm, 100, 3, 16000, &a));
    d = 0;
    for (int i = 0; i < 100 && a.n == 100; i++)
        d = fmax(d, fabs(a.samples[i] - ((double)pcm[3 * i] + pcm[3 * i + 1] + pcm[3 * i + 2]) / 3));
    TU_CHECK(a.n == 100 && d <= 1.2e-7, "3-channel mix off by %g", d);
    cn_audio_free(&a);
    free(x);
}

/* (d) band-limited resampling and the sample formats */
static void test_resample(void)
{
    printf("(d) resampling and formats\n");
    int64_t n16 = 3 * 16000;
    double *ideal = calloc((size_t)n16, sizeof(double));
    add_sine(ideal, n16, 16000, 1000, 0.5, 0);
    float *idf = to_float(ideal, n16), want[NMEL], got[NMEL];
    cn_audio ia = {idf, n16, 16000};
    TU_OK(cn_logmel_clip(&ia, 30, 45, 30, want)); /* centre 1.53 s, well inside */
    static const int rates[] = {44100, 48000, 8000, 22050};
    char path[600], name[64];
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        int rate = rates[i];
        int64_t n = 3 * (int64_t)rate;
        double *x = calloc((size_t)n, sizeof(double));
        add_sine(x, n, rate, 1000, 0.5, 0);
        snprintf(name, sizeof name, "sine%d.wav", rate);
        write_file(name, x, n, 1, rate, CN_AUDIO_FLOAT, path, sizeof path);
        cn_audio a;
        TU_OK(cn_audio_read(path, &a));
        TU_CHECK(a.rate == 16000 && llabs(a.n - n16) <= 1, "%d Hz: %lld samples, want %lld", rate,
                 (long long)a.n, (long long)n16);
        /* interior samples: libsamplerate's best sinc has no delay and a
         * passband ripple far below 1e-4 */
        double ds = a.n >= n16 - 1 ? max_diff(a.samples + 2000, idf + 2000, n16 - 4000) : 1;
        TU_OK(cn_logmel_clip(&a, 30, 45, 30, got));
        double dm = max_diff(got, want, NMEL);
        /* 5e-4 on log values: what remains is the resampler's own error
         * (libsamplerate quotes 97 dB SNR for its best converter), which in
         * the far bands sits next to the 0.01 offset; measured ~5e-5 */
        printf("  1 kHz sine at %d Hz: %lld samples, max sample error %.3g, max log-mel error %.3g\n", rate,
               (long long)a.n, ds, dm);
        TU_CHECK(ds < 1e-4 && dm < 5e-4, "%d Hz resampled sine: samples %g, log-mel %g", rate, ds, dm);
        cn_audio_free(&a);
        free(x);
    }
    /* timing: an impulse at 0.5 s stays at 0.5 s (no resampler latency) */
    double *imp = calloc(44100, sizeof(double));
    imp[22050] = 1;
    float *impf = to_float(imp, 44100);
    cn_audio a;
    TU_OK(cn_audio_from_pcm(impf, 44100, 1, 44100, &a));
    int64_t arg = 0;
    for (int64_t i = 0; i < a.n; i++)
        if (fabs(a.samples[i]) > fabs(a.samples[arg]))
            arg = i;
    TU_CHECK(arg == 8000, "impulse at 0.5 s resampled to sample %lld, want 8000", (long long)arg);
    cn_audio_free(&a);
    free(imp);
    free(impf);

    /* the same 16 kHz signal in every format: tones over a white-noise floor
     * so no band sits near the 0.01 offset, where quantisation noise would
     * dominate the comparison */
    tu_rng r = tu_seed(21);
    double *x = calloc((size_t)n16, sizeof(double));
    add_sine(x, n16, 16000, 1000, 0.3, 0);
    add_sine(x, n16, 16000, 300, 0.2, 1);
    for (int64_t i = 0; i < n16; i++)
        x[i] += tu_uniform(&r, -0.05, 0.05);
    float *xf = to_float(x, n16), ref[NMEL];
    cn_audio ra = {xf, n16, 16000};
    TU_OK(cn_logmel_clip(&ra, 30, 45, 30, ref));
    /* Tolerances from the quantisation noise: one step s of white noise
     * gives about s/sqrt(12) * sqrt(sum w^2) = 3.5 s per STFT bin, against
     * about 0.35 per bin of the signal's noise floor; the narrowest (lowest)
     * bands see a few times that ratio. 16-bit: ~1e-4 relative, a few 1e-3
     * in the log at worst -> 1e-2. 8-bit: 8% per bin, up to ~0.4 in the
     * weakest band -> max 0.75, mean 0.05. 24/32-bit and float: no
     * audible quantisation, 1e-5 (a float rounding of the log is 4.8e-7). */
    static const struct {
        cn_audio_format f;
        const char *name;
        double sample_tol, mel_max, mel_mean;
    } fm[] = {
        {CN_AUDIO_PCM_U8, "u8.wav", 1.0 / 128, 0.75, 0.05},
        {CN_AUDIO_PCM_16, "s16.wav", 1.0 / 32768, 1e-2, 1e-3},
        {CN_AUDIO_PCM_24, "s24.wav", 1.0 / 8388608, 1e-4, 1e-5},
        {CN_AUDIO_PCM_32, "s32.wav", 1e-7, 1e-5, 1e-6},
        {CN_AUDIO_FLOAT, "f32.wav", 0, 1e-7, 1e-7},
        {CN_AUDIO_FLAC_16, "s16.flac", 1.0 / 32768, 1e-2, 1e-3},
    };
    for (size_t i = 0; i < sizeof fm / sizeof fm[0]; i++) {
        write_file(fm[i].name, x, n16, 1, 16000, fm[i].f, path, sizeof path);
        TU_OK(cn_audio_read(path, &a));
        double ds = a.n == n16 ? max_diff(a.samples, xf, n16) : 1, mean = 0;
        TU_OK(cn_logmel_clip(&a, 30, 45, 30, got));
        double dm = max_diff(got, ref, NMEL);
        for (int k = 0; k < NMEL; k++)
            mean += fabs(got[k] - ref[k]) / NMEL;
        printf("  %-9s max sample error %.3g (step %.3g), log-mel error max %.3g mean %.3g\n",
               fm[i].name, ds, fm[i].sample_tol, dm, mean);
        TU_CHECK(ds <= fm[i].sample_tol + 1e-7 && dm <= fm[i].mel_max && mean <= fm[i].mel_mean,
                 "%s: sample %g, log-mel max %g mean %g", fm[i].name, ds, dm, mean);
        cn_audio_free(&a);
    }
    /* Ogg Vorbis is lossy: it must decode to the right length and roughly
     * the right spectrum (mean, not max, over the clip: the codec drops
     * what its psychoacoustic model calls inaudible, measured 0.24) */
    tu_path(path, sizeof path, dir, "v.ogg");
    if (cn_audio_write(path, xf, n16, 1, 16000, CN_AUDIO_OGG) == CN_OK) {
        TU_OK(cn_audio_read(path, &a));
        double mean = 0;
        TU_OK(cn_logmel_clip(&a, 30, 45, 30, got));
        for (int i = 0; i < NMEL; i++)
            mean += fabs(got[i] - ref[i]) / NMEL;
        printf("  v.ogg     %lld samples, mean log-mel error %.3g\n", (long long)a.n, mean);
        TU_CHECK(llabs(a.n - n16) <= 1 && mean < 0.5, "ogg: n %lld, mean log-mel %g", (long long)a.n,
                 mean);
        cn_audio_free(&a);
    } else {
        printf("  note: this libsndfile cannot write Ogg Vorbis, skipped (%s)\n", cn_last_error());
    }
    /* an empty file is silence, not an error */
    write_file("empty.wav", x, 0, 1, 44100, CN_AUDIO_PCM_16, path, sizeof path);
    TU_OK(cn_audio_read(path, &a));
    TU_CHECK(a.n == 0 && a.samples != NULL && a.rate == 16000, "empty WAV: n %lld", (long long)a.n);
    cn_audio_free(&a);
    free(x);
    free(xf);
    free(ideal);
    free(idf);
}

/* (e) files that are not audio fail with CN_ERR_FORMAT / CN_ERR_IO naming the file */
static void test_bad_files(void)
{
    printf("(e) bad files\n");
    char path[600];
    int st;
    cn_audio a;
    unsigned char junk[4096];
    tu_rng r = tu_seed(3);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)tu_next(&r);
    tu_path(path, sizeof path, dir, "random.wav");
    tu_write_file(path, junk, sizeof junk);
    st = cn_audio_read(path, &a);
    tu_check_failure("random bytes", st, CN_ERR_FORMAT, a.samples == NULL, path,
                     "not an audio file");
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                        'I', 'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0};
    tu_path(path, sizeof path, dir, "image.png");
    tu_write_file(path, png, sizeof png);
    st = cn_audio_read(path, &a);
    tu_check_failure("PNG", st, CN_ERR_FORMAT, a.samples == NULL, path, NULL);
    tu_path(path, sizeof path, dir, "zero.wav");
    tu_write_file(path, "", 0);
    st = cn_audio_read(path, &a);
    tu_check_failure("0-byte file", st, CN_ERR_FORMAT, a.samples == NULL, path,
                     NULL);
    /* a real WAV cut inside its header */
    double x[64] = {0};
    write_file("full.wav", x, 64, 1, 16000, CN_AUDIO_PCM_16, path, sizeof path);
    size_t len;
    unsigned char *w = tu_read_file(path, &len);
    tu_path(path, sizeof path, dir, "cut.wav");
    if (w)
        tu_write_file(path, w, 20);
    free(w);
    st = cn_audio_read(path, &a);
    tu_check_failure("truncated header", st, CN_ERR_FORMAT, a.samples == NULL,
                     path, NULL);
    tu_path(path, sizeof path, dir, "missing.wav");
    st = cn_audio_read(path, &a);
    tu_check_failure("missing file", st, CN_ERR_IO, a.samples == NULL, path,
                     "No such file");
    st = cn_audio_read(dir, &a);
    tu_check_failure("directory", st, CN_ERR_IO, a.samples == NULL, dir,
                     "directory");
    /* NaN in a float WAV would poison every clip touching it */
    float nanx[32] = {0};
    nanx[17] = NAN;
    tu_path(path, sizeof path, dir, "nan.wav");
    TU_OK(cn_audio_write(path, nanx, 32, 1, 16000, CN_AUDIO_FLOAT));
    st = cn_audio_read(path, &a);
    tu_check_failure("NaN sample", st, CN_ERR_FORMAT, a.samples == NULL, path,
                     "sample 17");
    /* a 42-byte FLAC whose STREAMINFO claims 2^35 - 1 samples and holds none:
     * silence, read without reserving 128 GiB for the claim (which failed as
     * out of memory here, and aborted the fuzzer under ASan) */
    static const unsigned char flac[42] = {
        'f', 'L', 'a', 'C', 0x80, 0, 0, 34, 0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0,
        0x03, 0xE8, 0x00, 0xF7, 0xFF, 0xFF, 0xFF, 0xFF};
    tu_path(path, sizeof path, dir, "claims.flac");
    tu_write_file(path, flac, sizeof flac);
    st = cn_audio_read(path, &a);
    TU_CHECK(st == CN_OK && a.n == 0, "FLAC claiming 2^35 samples: status %d, %lld samples (%s)", st,
             (long long)a.n, st ? cn_last_error() : "");
    cn_audio_free(&a);
    float one = 0;
    TU_FAILS(CN_ERR_ARG, cn_audio_from_pcm(&one, 1, 0, 16000, &a));
    TU_FAILS(CN_ERR_ARG, cn_audio_from_pcm(&one, 1, 1, 0, &a));
    TU_FAILS(CN_ERR_ARG, cn_audio_from_pcm(NULL, 5, 1, 16000, &a));
    TU_FAILS(CN_ERR_UNSUPPORTED, cn_audio_from_pcm(&one, 1, 1, 10, &a)); /* ratio 1600 */
    cn_audio_free(&a); /* zeroed by every failure: freeing is harmless */
    cn_audio_free(NULL);
}

/* ------------------------------------------------- threads */

typedef struct job {
    const float *x;
    float out[NMEL];
    int st;
} job;

static void *run_job(void *p)
{
    job *j = p;
    j->st = cn_logmel_window(j->x, j->out);
    return NULL;
}

/* predict computes log-mels on worker threads; concurrent calls (including
 * the very first, which builds the tables) must give the serial result */
static void test_threads(void)
{
    printf("threads\n");
    double *x = malloc(NS * sizeof(double));
    speech_like(x, NS, 16000, 4);
    float *xf = to_float(x, NS), serial[NMEL];
    enum { NT = 6 };
    static job jobs[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        jobs[i].x = xf;
        TU_CHECK(pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    TU_OK(cn_logmel_window(xf, serial));
    int same = 1;
    for (int i = 0; i < NT; i++)
        same &= jobs[i].st == CN_OK && memcmp(jobs[i].out, serial, sizeof serial) == 0;
    TU_CHECK(same, "threaded log-mel differs from serial");
    free(x);
    free(xf);
}

int main(void)
{
    test_threads(); /* first, so the threads race to build the tables */
    test_reference();
    test_placement();
    if (tu_tmpdir_make(dir, sizeof dir, "caspnet-audio") != 0)
        return 1;
    test_mono();
    test_resample();
    test_bad_files();
    tu_tmpdir_remove(dir);
    return tu_finish("test_audio");
}
