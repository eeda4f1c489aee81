/* The audio-visual saliency datasets in the STAViS release layout: fold lists, file paths, fixation (.mat) and map (image) readers. */
#ifndef CASPNET_DATASET_H
#define CASPNET_DATASET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Layout under a dataset root (the STAViS release; <DB> is e.g. DIEM, AVAD,
 * Coutrot_db1, Coutrot_db2, ETMD_av, SumMe; frames count from 1):
 *   video_frames/<DB>/<video>/img_%05d.jpg
 *   video_audio/<DB>/<video>/<video>.wav
 *   annotations/<DB>/<video>/maps/eyeMap_%05d.jpg      dense maps
 *   annotations/<DB>/<video>/fixMap_%05d.mat           variable eyeMap, non-zero = fixated
 *   fold_lists/<DB>_list_{train,test}_<K>_fps.txt      K = 1, 2, 3
 *   fold_lists/<DB>_list_{train,test}_fps.txt          a dataset with one split (DIEM)
 * Fold-list lines are "<video> <nframes> <fps>" separated by blanks; blank
 * lines are ignored. Predictions mirror video_frames: <pred>/<DB>/<video>/img_%05d.png. */

#define CN_DATASET_NAME_MAX 256 /* video names, including the NUL */
#define CN_DATASET_MAX_SPLITS 3

typedef struct cn_dataset_video {
    char name[CN_DATASET_NAME_MAX];
    int nframes; /* >= 1 */
    double fps;  /* > 0 */
} cn_dataset_video;

/* One fold list: the videos in file order. */
typedef struct cn_dataset_list {
    int split;        /* 1..3, or 0 for a dataset's single unnumbered split */
    char path[4096];  /* the list file it came from */
    int count;
    cn_dataset_video *videos;
} cn_dataset_list;

/* Parses a fold list. Errors name the file and line: CN_ERR_IO when it cannot
 * be read, CN_ERR_FORMAT for a line without exactly three fields, a name that
 * is too long or contains '/' (it becomes a directory name), nframes not an
 * integer in [1, 10^7], fps not a number in (0, 1000], a video listed twice,
 * or a list with no video. On failure *out is zeroed. */
int cn_dataset_read_list(const char *path, cn_dataset_list *out);
void cn_dataset_list_free(cn_dataset_list *l);

/* The list of split `split` (1..3, or 0 = the unnumbered list) of kind
 * "test" or "train" for db under root. Split 1 falls back to the unnumbered
 * list when the numbered one does not exist (DIEM ships only that). */
int cn_dataset_load_split(const char *root, const char *db, const char *kind, int split,
                          cn_dataset_list *out);

/* Which test splits exist: writes 1..3 for each numbered list present, or
 * the single 0 when none is but the unnumbered list is; CN_ERR_IO naming the
 * expected files when there is none at all. */
int cn_dataset_test_splits(const char *root, const char *db, int splits[CN_DATASET_MAX_SPLITS],
                           int *count);

/* Paths (CN_ERR_ARG when one does not fit in cap bytes). */
int cn_dataset_frame_path(char *out, size_t cap, const char *root, const char *db, const char *video,
                          int frame);
int cn_dataset_wav_path(char *out, size_t cap, const char *root, const char *db, const char *video);
int cn_dataset_map_path(char *out, size_t cap, const char *root, const char *db, const char *video,
                        int frame);
int cn_dataset_fix_path(char *out, size_t cap, const char *root, const char *db, const char *video,
                        int frame);
/* A prediction: <pred_root>/<DB>/<video>/img_%05d.png (the frame's stem). */
int cn_dataset_pred_path(char *out, size_t cap, const char *pred_root, const char *db,
                         const char *video, int frame);
int cn_dataset_list_path(char *out, size_t cap, const char *root, const char *db, const char *kind,
                         int split);

/* Reads variable `var` (NULL: "eyeMap") of a MAT file (v4, v5 or v7.3 as
 * matio supports): a real 2-D numeric or logical array of any class, returned
 * row-major (MATLAB stores columns first) as a malloc'd h*w float array.
 * Errors naming the file: CN_ERR_IO (missing or unreadable), CN_ERR_FORMAT
 * (not a MAT file, no such variable, not 2-D, complex, sparse, cell/struct,
 * non-finite values, or data that cannot be read). */
int cn_dataset_read_mat(const char *path, const char *var, float **data, int *h, int *w);

/* Reads an image (JPEG, PNG, ... as stb_image decodes) as one grey channel:
 * 8-bit images give 0..255, 16-bit PNGs 0..65535; colour images are reduced
 * by stb_image's luma weights. CN_ERR_IO when missing, CN_ERR_FORMAT when it
 * does not decode; both name the file. */
int cn_dataset_read_gray(const char *path, float **data, int *h, int *w);

#ifdef __cplusplus
}
#endif
#endif
