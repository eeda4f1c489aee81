/* Dataset-scale prediction: the test videos of a STAViS-layout dataset, split into shards by name, resumable per video, spread over one worker per engine. */
#ifndef CASPNET_PREDICT_DATASET_H
#define CASPNET_PREDICT_DATASET_H

#include <stdint.h>

#include "app/predict.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the per-video completion marker, written last (temporary + rename)
 * into <out>/<DB>/<video>/. Its text: "caspnet-predict-done 1\nframes N\n
 * fingerprint HEX\n". */
#define CN_PREDICT_DONE_NAME ".done"

/* The shard (0..count-1) a video belongs to: FNV-1a 64 of "<DB>/<video>"
 * (the video's path relative to the output root) modulo count. It depends
 * on the name only, not on the fold lists' order or length, so N processes
 * with --shard 0/N .. N-1/N cover a dataset once, with no overlap. */
int cn_predict_shard_of(const char *db, const char *video, int count);

typedef struct cn_predict_dataset_opts {
    const char *root, *db;   /* dataset root (STAViS layout, eval/dataset.h) and <DB> */
    int split;               /* 1..3, or 0: every test split present */
    const char *out;         /* maps go to out/<DB>/<video>/<frame stem>.png */
    const char *weights;     /* the file the engines loaded: its bytes enter the fingerprint */
    const char *attention;   /* "linear" / "quadratic": enters the fingerprint */
    const char *precision;   /* "fp32" (or NULL), "fp16", "auto": as asked for; enters the
                                fingerprint unless fp32, so fp32 trees keep their markers */
    int shard_index, shard_count; /* count 0 or 1: every video */
    int force;               /* recompute videos that have a marker, also one of other weights */
    /* Per-video options: fps and audio_path are set from the fold list and
     * video_audio/; force is set per video; progress is forwarded only with one
     * engine (a per-frame bar of several workers would be garbled); note also
     * gets the per-video progress lines; cancel stops handing out videos and
     * interrupts the running ones. */
    cn_predict_opts base;
} cn_predict_dataset_opts;

typedef struct cn_predict_dataset_result {
    int listed;       /* distinct test videos of the split(s) */
    int in_shard;     /* of those, in this shard */
    int skipped;      /* complete already (consistent marker) */
    int partial;      /* outputs without a consistent marker: cleared and redone */
    int predicted;    /* run in this call */
    int64_t frames;   /* frames written in this call */
    int width, height, batch; /* of the last video predicted */
    double seconds, device_seconds;
} cn_predict_dataset_result;

/* Runs every test video of the split(s) that falls in the shard, one worker
 * thread per engine (each engine loaded with the same weights; one engine
 * runs on the caller's thread), videos handed out in fold-list order as
 * workers become free. A video whose marker is present with this run's
 * fingerprint (FNV-1a 64 of the weights file's bytes and of the options that
 * change the maps: size, blur, attention, precision, no_audio, overlay, npy) and as many
 * PNGs beside it as it records is skipped unless force. A video folder with
 * a marker of another fingerprint stops the run before any work (naming it)
 * unless force. Any other existing video folder is partial: its marker, the
 * PNGs, overlay/ PNGs, maps.npy and hidden temporaries are removed before it
 * is run again. After a failure the other workers finish their current video
 * and stop; the first error is returned. Test switch: with
 * CASPNET_TEST_ABORT_AFTER_FRAMES=K in the environment the process kills
 * itself (SIGKILL) once K frames have been written, as a killed job would
 * stop. res may be NULL. */
int cn_predict_dataset(cn_engine *const *engines, int nengines, const cn_predict_dataset_opts *o,
                       cn_predict_dataset_result *res);

#ifdef __cplusplus
}
#endif
#endif
