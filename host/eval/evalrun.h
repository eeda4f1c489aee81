/* Dataset evaluation: predicted maps against a split's annotations with the documented protocol, and the table, JSON and CSV reports. */
#ifndef CASPNET_EVALRUN_H
#define CASPNET_EVALRUN_H

#include <stdint.h>
#include <stdio.h>

#include "eval/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metrics per frame, in the paper's column order first. */
enum { CN_EV_CC, CN_EV_NSS, CN_EV_AUCJ, CN_EV_SIM, CN_EV_SAUC, CN_EV_KL, CN_EV_AUCB, CN_EV_N };
/* "cc", "nss", "auc_judd", "sim", "sauc", "kl", "auc_borji" */
extern const char *const cn_eval_metric_keys[CN_EV_N];
/* "CC", "NSS", "AUC-J", "SIM", "sAUC", "KL", "AUC-B" */
extern const char *const cn_eval_metric_titles[CN_EV_N];

typedef struct cn_eval_opts {
    const char *pred_root; /* predictions: <pred_root>/<DB>/<video>/img_%05d.png */
    const char *data_root; /* dataset root in the STAViS layout (dataset.h) */
    const char *db;
    int split;        /* 1..3, or 0 for every test split present */
    int valid_only;   /* 1: only frames whose fixation map has a fixation */
    int no_blur;      /* 1: skip the protocol's Gaussian (checks, pre-smoothed maps) */
    int skip_missing; /* 1: a frame with a missing file is skipped with a warning */
    uint64_t seed;    /* XORed into every frame's seed for sAUC and AUC-Borji */
    /* Warnings (skipped frames, videos without a defined mean); may be NULL. */
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
} cn_eval_opts;

typedef struct cn_eval_frame {
    int frame; /* 1-based, as in the file names */
    int nfix;  /* fixated pixels */
    double m[CN_EV_N]; /* NaN where the metric is undefined */
} cn_eval_frame;

typedef struct cn_eval_video {
    cn_dataset_video info;
    int gh, gw;              /* ground-truth size */
    int count;               /* frames evaluated */
    int skipped;             /* frames skipped for missing files */
    cn_eval_frame *frames;
    double mean[CN_EV_N];    /* over frames where the metric is defined */
    int defined[CN_EV_N];    /* how many frames that is */
} cn_eval_video;

typedef struct cn_eval_split {
    int split; /* 0: the unnumbered list */
    char list[4096];
    int count;
    cn_eval_video *videos;
    double mean[CN_EV_N];           /* over videos whose mean is defined */
    double frame_weighted[CN_EV_N]; /* over all defined frames of the split */
} cn_eval_split;

typedef struct cn_eval_result {
    char db[CN_DATASET_NAME_MAX];
    int valid_only, no_blur, skip_missing;
    uint64_t seed;
    int count;
    cn_eval_split splits[CN_DATASET_MAX_SPLITS];
    double mean[CN_EV_N]; /* over splits whose mean is defined */
} cn_eval_result;

/* Evaluates every frame of every test video of the requested split(s).
 * Errors name the file: missing prediction, dense map or fixation map
 * (CN_ERR_IO, unless skip_missing), an unreadable or corrupt .mat or image
 * (CN_ERR_FORMAT), a dense map whose size differs from its fixation map or a
 * fixation map whose size differs from the video's first (CN_ERR_SHAPE).
 * *out is NULL on failure; free it with cn_eval_result_free. */
int cn_eval_run(const cn_eval_opts *o, cn_eval_result **out);
void cn_eval_result_free(cn_eval_result *r);

/* Which test videos of o's split(s) lack predictions (a video in several
 * splits counted once): *list gets a malloc'd text such as "a2 (no folder),
 * a3 (1 of 20 frames missing)" naming the first 20 (NULL when none is
 * missing), *missing how many, *videos how many were checked, and first
 * (when not NULL) the path of the first missing file. Errors: the fold
 * lists' (cn_dataset_load_split). */
int cn_eval_missing(const cn_eval_opts *o, char **list, int *missing, int *videos, char *first, size_t first_cap);

/* The seed of one frame: FNV-1a 64 of "<video>:<frame>" (frame in decimal)
 * XOR the option's seed. */
uint64_t cn_eval_frame_seed(const char *video, int frame, uint64_t seed);

/* Table in the paper's column order: one row per split and the mean. */
void cn_eval_print_table(const cn_eval_result *r, FILE *f);
/* Per-frame, per-video, per-split and dataset numbers; NaN as null (JSON)
 * or an empty field (CSV). Written to a temporary name, then renamed. */
int cn_eval_write_json(const cn_eval_result *r, const char *path);
int cn_eval_write_csv(const cn_eval_result *r, const char *path);

#ifdef __cplusplus
}
#endif
#endif
