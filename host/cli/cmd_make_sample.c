/* caspnet make-sample: writes the bundled synthetic sample clip (frames, WAV, mp4). */
#include <stdio.h>
#include <string.h>

#include "caspnet.h"
#include "cli.h"
#include "app/sample.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet make-sample [--frames N] [--force] OUTDIR\n\n"
            "Writes the project's own sample clip, %dx%d at %d fps (default %d frames):\n"
            "  OUTDIR/frames/000001.png ...  the frames\n"
            "  OUTDIR/audio.wav              its sound, 16 kHz mono 16-bit\n"
            "  OUTDIR/sample.mp4             both, muxed by ffmpeg (H.264 + AAC)\n"
            "An orange disc bounces on the floor and knocks (a short decaying tone) at\n"
            "exactly each contact, t = %.2f + %.2f k s; a teal disc circles silently above.\n"
            "These are the rules of the synthetic knock task that weights/train.py trains on\n"
            "(weights/knockdata.py: two discs, each with its own knock, orange 523 Hz and\n"
            "teal 1319 Hz; exactly one sounds, and only it is salient).\n"
            "Everything is drawn and synthesised by this program; no third-party media.\n"
            "OUTDIR must not exist or be empty unless --force (which replaces only these\n"
            "entries). Needs the ffmpeg program on PATH.\n",
            CN_SAMPLE_WIDTH, CN_SAMPLE_HEIGHT, CN_SAMPLE_FPS, CN_SAMPLE_FRAMES, CN_SAMPLE_FIRST_BOUNCE,
            CN_SAMPLE_BOUNCE_PERIOD);
}

int cmd_make_sample(int argc, char **argv)
{
    const char *out = NULL, *frames_s = NULL;
    int force = 0;
    const cli_opt opts[] = {CLI_VALUE("--frames", &frames_s), CLI_FLAG("--force", &force), CLI_END};
    const cli_cmd cmd = {.name = "make-sample", .usage = usage, .opts = opts, .style = CLI_UNEXPECTED,
                         .pos = &out, .max_pos = 1};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    if (!out) {
        usage(stderr);
        cli_error("make-sample: the output folder is required");
        return 2;
    }
    long nframes = CN_SAMPLE_FRAMES;
    if (frames_s && !cli_int("--frames", frames_s, 1, 100000, &nframes))
        return 2;
    if (cn_sample_write(out, (int)nframes, force) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 1;
    }
    printf("sample written to %s (frames/, audio.wav, sample.mp4)\n", out);
    return 0;
}
