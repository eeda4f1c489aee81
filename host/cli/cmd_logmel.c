/* caspnet logmel: the VGGish log-mel of one clip's audio window, written as NumPy, for comparison with other implementations. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/audio.h"
#include "cli.h"
#include "io/npy.h"
#include "runtime/status.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet logmel --wav AUDIO --fps R --frames A:B --out MEL.npy [--reversed] [--quiet]\n\n"
            "Writes the log-mel spectrogram (spec section 1) of the audio window of the clip\n"
            "covering video frames A..B (0 <= A < B) at R frames per second, as a float32\n"
            "1 x 1 x 96 x 64 array (time x band), the shape `caspnet forward --logmel` reads.\n"
            "AUDIO is any file libsndfile decodes (WAV PCM 8/16/24/32-bit or float, FLAC,\n"
            "OGG; any channels and rate): channels are averaged and the signal resampled to\n"
            "16 kHz. The window is 15600 samples centred at (A+B+1)/(2R) seconds, with zeros\n"
            "where it falls outside the signal.\n"
            "--reversed is accepted for the time-reversed clips of a video's first frames:\n"
            "they use the same window as the forward clip over the same frames, so the\n"
            "output is identical (pass the forward range A < B).\n"
            "A summary line (window position, signal length) goes to stdout unless --quiet.\n");
}

/* "A:B" with 0 <= A < B; prints the error itself. */
static int parse_frames(const char *s, int64_t *a, int64_t *b)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end != ':')
        goto bad;
    const char *s2 = end + 1;
    long long y = strtoll(s2, &end, 10);
    if (errno || end == s2 || *end || x < 0 || y <= x || y > (1LL << 40))
        goto bad;
    *a = x;
    *b = y;
    return 1;
bad:
    cli_error("logmel: --frames '%s' must be A:B with integers 0 <= A < B", s);
    return 0;
}

int cmd_logmel(int argc, char **argv)
{
    const char *wav = NULL, *fps_s = NULL, *frames = NULL, *out = NULL;
    int quiet = 0;
    int reversed = 0; /* same window as the forward clip: nothing to change */
    const cli_opt opts[] = {CLI_VALUE("--wav", &wav),       CLI_VALUE("--fps", &fps_s),
                            CLI_VALUE("--frames", &frames), CLI_VALUE("--out", &out),
                            CLI_FLAG("--reversed", &reversed), CLI_FLAG("--quiet", &quiet), CLI_END};
    const cli_cmd cmd = {.name = "logmel", .usage = usage, .opts = opts, .style = CLI_UNKNOWN};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    if (!wav || !fps_s || !frames || !out) {
        cli_error("logmel: --wav, --fps, --frames and --out are required (see caspnet logmel --help)");
        return 2;
    }
    char *end;
    errno = 0;
    double fps = strtod(fps_s, &end);
    if (errno || end == fps_s || *end || !(fps > 0.0) || !isfinite(fps)) {
        cli_error("logmel: --fps '%s' is not a positive number", fps_s);
        return 2;
    }
    int64_t a, b, start;
    if (!parse_frames(frames, &a, &b))
        return 2;
    if (cli_same_file(out, wav)) {
        cli_error("logmel: --out %s is the input; refusing to overwrite it", out);
        return 2;
    }
    cn_audio au;
    if (cn_audio_read(wav, &au) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 1;
    }
    float mel[CN_LOGMEL_FRAMES * CN_LOGMEL_BANDS];
    int64_t shape[4] = {1, 1, CN_LOGMEL_FRAMES, CN_LOGMEL_BANDS};
    int rc = 1;
    if (cn_logmel_window_start(a, b, fps, &start) != CN_OK ||
        cn_logmel_clip(&au, a, b, fps, mel) != CN_OK || cn_npy_write(out, mel, 4, shape) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    if (!quiet) {
        int inside = start >= 0 && start + CN_LOGMEL_SAMPLES <= au.n;
        printf("%s: frames %" PRId64 ":%" PRId64 " at %g fps -> samples [%" PRId64 ", %" PRId64
               ") of %" PRId64 " at 16 kHz%s\n",
               out, a, b, fps, start, start + CN_LOGMEL_SAMPLES, au.n,
               inside ? "" : " (partly outside the signal: zeros there)");
    }
    rc = 0;
done:
    cn_audio_free(&au);
    return rc;
}
