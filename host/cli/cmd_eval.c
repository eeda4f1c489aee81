/* caspnet eval: the papers' metrics on predicted maps over a dataset split in the STAViS layout; also writes the synthetic test dataset. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval/evalrun.h"
#include "runtime/status.h"
#include "eval/synthdata.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: caspnet eval --pred DIR --data ROOT --db NAME [--split K|all] [--frames all|valid]\n"
"                    [--json F] [--csv F] [--no-blur] [--skip-missing] [--seed S]\n"
"       caspnet eval --make-synthetic ROOT [--seed S]\n"
"\n"
"Scores predicted saliency maps against a dataset in the STAViS release layout:\n"
"  ROOT/fold_lists/<DB>_list_test_<K>_fps.txt     lines '<video> <nframes> <fps>'\n"
"  ROOT/fold_lists/<DB>_list_test_fps.txt         a dataset with one split (DIEM)\n"
"  ROOT/annotations/<DB>/<video>/maps/eyeMap_%%05d.jpg   dense maps\n"
"  ROOT/annotations/<DB>/<video>/fixMap_%%05d.mat        fixations, variable eyeMap\n"
"Predictions: DIR/<DB>/<video>/img_%%05d.png, one per frame 1..nframes, the\n"
"names of video_frames with .png (8- or 16-bit, grey or colour; any size).\n"
"\n"
"Protocol, per frame:\n"
"  1. the prediction is min-max normalised to [0, 1], blurred with a Gaussian\n"
"     (sigma 2 px, 9 taps, symmetric padding) at its own size, and resized\n"
"     bilinearly (pixel centres aligned) to the ground truth's size;\n"
"  2. the dense map and the fixation map (non-zero = fixated) must have the\n"
"     same size; CC and SIM are taken against the dense map; NSS, AUC-Judd\n"
"     and sAUC against the fixation map (KL and AUC-Borji too, in the files);\n"
"  3. sAUC negatives: the pixels fixated in any other frame of the same video\n"
"     and not in this frame; 100 splits; seed = FNV-1a 64 of '<video>:<frame>'\n"
"     XOR --seed (default 0); the same seed draws AUC-Borji's negatives.\n"
"  A metric that is undefined for a frame (a constant prediction: CC, NSS;\n"
"  no fixation: NSS, AUC-J, sAUC) is NaN and drops out of that metric's means.\n"
"Averaging: per video, the mean over its frames; per split, the mean over its\n"
"videos (a video with no defined frame is left out, with a warning); the\n"
"dataset, the mean over the splits. The JSON also has each split's mean over\n"
"all frames (frame_weighted_mean), as some published code averages.\n"
"\n"
"  --split K|all   one fold (1..3) or every test list present (default all);\n"
"                  split 1 of a one-split dataset is its unnumbered list\n"
"  --frames all    every frame 1..nframes of the fold list (default)\n"
"  --frames valid  only frames whose fixation map has at least one fixation;\n"
"                  the others are left out of every metric, CC and SIM too\n"
"  --json F, --csv F  per-frame, per-video, per-split and dataset numbers\n"
"                  (NaN is null in JSON, an empty field in CSV)\n"
"  --no-blur       skip the Gaussian (predictions already smoothed; checks)\n"
"  --skip-missing  a missing prediction, dense map or fixation map skips the\n"
"                  frame with a warning instead of stopping\n"
"Before scoring, every listed video's predictions are checked: the videos with\n"
"missing ones are named in one message (no folder, or how many frames are\n"
"missing) and eval stops with exit 1, or with --skip-missing warns and goes on.\n"
"Errors that always stop, naming the file: a missing or malformed fold list, a\n"
"missing file (without --skip-missing), a .mat that is corrupt or has no\n"
"2-D numeric eyeMap, an image that does not decode, a dense map whose size\n"
"differs from its fixation map, a fixation map whose size differs from the\n"
"video's first.\n"
"Output: a table with columns CC, NSS, AUC-J, SIM, sAUC (the paper's order),\n"
"one row per split and their mean.\n"
"\n"
"--make-synthetic ROOT writes a small dataset in this layout (SynthA: three\n"
"folds; SynthB: one split; --seed, default 1, draws the fixations), with\n"
"ROOT/pred_gt holding the dense maps as predictions, for tests:\n"
"caspnet eval --pred ROOT/pred_gt --data ROOT --db SynthA --no-blur scores\n"
"CC 1 and SIM 1.\n");
}

static void print_warning(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "caspnet: warning: %s\n", msg);
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-') {
        cli_error("--seed: '%s' is not a non-negative integer", s);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

int cmd_eval(int argc, char **argv)
{
    const char *pred = NULL, *data = NULL, *db = NULL, *split = "all", *frames = "all";
    const char *json = NULL, *csv = NULL, *synth = NULL, *seeds = NULL;
    int no_blur = 0, skip_missing = 0;
    const cli_opt opts[] = {CLI_FLAG("--no-blur", &no_blur),   CLI_FLAG("--skip-missing", &skip_missing),
                            CLI_VALUE("--pred", &pred),        CLI_VALUE("--data", &data),
                            CLI_VALUE("--db", &db),            CLI_VALUE("--split", &split),
                            CLI_VALUE("--frames", &frames),    CLI_VALUE("--json", &json),
                            CLI_VALUE("--csv", &csv),          CLI_VALUE("--seed", &seeds),
                            CLI_VALUE("--make-synthetic", &synth), CLI_END};
    const cli_cmd cmd = {.name = "eval", .usage = usage, .opts = opts, .style = CLI_UNEXPECTED};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    uint64_t seed = 0;
    if (seeds && !parse_seed(seeds, &seed))
        return 2;
    if (synth) {
        if (pred || data || db || json || csv) {
            cli_error("eval: --make-synthetic takes only --seed");
            return 2;
        }
        if (cn_synth_write(synth, seeds ? seed : 1) != CN_OK) {
            cli_error("%s", cn_last_error());
            return 1;
        }
        printf("synthetic dataset written to %s (SynthA, SynthB; ground truth as predictions in %s/pred_gt)\n",
               synth, synth);
        return 0;
    }
    if (!pred || !data || !db) {
        cli_error("eval: --pred, --data and --db are required (see --help)");
        return 2;
    }
    cn_eval_opts o = {0};
    o.pred_root = pred, o.data_root = data, o.db = db;
    o.no_blur = no_blur, o.skip_missing = skip_missing, o.seed = seed;
    o.warn = print_warning;
    long k = 0;
    if (strcmp(split, "all") != 0 && !cli_int("--split", split, 1, 3, &k))
        return 2;
    o.split = (int)k;
    if (!strcmp(frames, "valid"))
        o.valid_only = 1;
    else if (strcmp(frames, "all") != 0) {
        cli_error("--frames: '%s' is not 'all' or 'valid'", frames);
        return 2;
    }
    if ((json && csv && cli_same_file(json, csv)) || (json && csv && !strcmp(json, csv))) {
        cli_error("eval: --json and --csv name the same file");
        return 2;
    }
    /* whole videos missing (a shard not run, a job killed) are said at once, by name */
    char *miss = NULL, first[4096];
    int nmiss = 0, nvid = 0;
    if (cn_eval_missing(&o, &miss, &nmiss, &nvid, first, sizeof first) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 1;
    }
    if (nmiss && !skip_missing) {
        cli_error("eval: predictions of %d of %d %s video%s are missing in %s: %s; first missing file: %s "
                  "(caspnet predict --dataset runs only the videos not done; --skip-missing scores the rest)",
                  nmiss, nvid, db, nvid == 1 ? "" : "s", pred, miss, first);
        free(miss);
        return 1;
    }
    if (nmiss)
        fprintf(stderr, "caspnet: warning: predictions of %d of %d %s videos are missing in %s: %s; their "
                "frames are skipped\n", nmiss, nvid, db, pred, miss);
    free(miss);
    cn_eval_result *r;
    if (cn_eval_run(&o, &r) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 1;
    }
    cn_eval_print_table(r, stdout);
    int rc = 0;
    if (json && cn_eval_write_json(r, json) != CN_OK) {
        cli_error("%s", cn_last_error());
        rc = 1;
    }
    if (csv && cn_eval_write_csv(r, csv) != CN_OK) {
        cli_error("%s", cn_last_error());
        rc = 1;
    }
    cn_eval_result_free(r);
    return rc;
}
