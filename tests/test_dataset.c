/* Dataset layer: fold lists (good, bad lines, missing), MAT fixation maps (hand-made MAT v5 bytes: good, corrupt, wrong variable), paths, the synthetic dataset and an ideal evaluation on it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/dataset.h"
#include "eval/evalrun.h"
#include "runtime/status.h"
#include "eval/synthdata.h"
#include "testutil.h"

static char dir[1024];

static void write_text(const char *name, const char *text, char *path, size_t cap)
{
    tu_path(path, cap, dir, name);
    tu_write_file(path, text, strlen(text));
}

/* ---------------- fold lists ---------------- */

static void test_lists(void)
{
    char p[2048];
    cn_dataset_list l;
    write_text("good.txt", "clip_one 120 25\n\n  clip2\t7 29.97\r\nthird 1 30.0", p, sizeof p);
    TU_OK(cn_dataset_read_list(p, &l));
    TU_CHECK(l.count == 3, "good list: %d videos", l.count);
    if (l.count == 3) {
        TU_CHECK(!strcmp(l.videos[0].name, "clip_one") && l.videos[0].nframes == 120 && l.videos[0].fps == 25.0,
                 "first entry %s %d %g", l.videos[0].name, l.videos[0].nframes, l.videos[0].fps);
        TU_CHECK(!strcmp(l.videos[1].name, "clip2") && l.videos[1].nframes == 7 &&
                     fabs(l.videos[1].fps - 29.97) < 1e-12,
                 "tab/CRLF entry %s %d %g", l.videos[1].name, l.videos[1].nframes, l.videos[1].fps);
        TU_CHECK(!strcmp(l.videos[2].name, "third"), "last line without a newline");
    }
    cn_dataset_list_free(&l);

    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"a 10 25\nb 10\n", ":2: expected"},
        {"a 10 25 extra\n", ":1: expected"},
        {"a ten 25\n", "nframes 'ten'"},
        {"a 0 25\n", "nframes '0'"},
        {"a 5 -3\n", "fps '-3'"},
        {"a 5 25fps\n", "fps '25fps'"},
        {"a 5 25\nb 5 25\na 6 25\n", ":3: video 'a' is listed twice"},
        {"dir/a 5 25\n", "bad video name"},
        {"\n\n", "no video"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.txt", i);
        write_text(name, bad[i].text, p, sizeof p);
        cn_clear_error();
        int st = cn_dataset_read_list(p, &l);
        tu_check_failure(name, st, CN_ERR_FORMAT, l.videos == NULL && l.count == 0, p, bad[i].needle);
    }
    tu_path(p, sizeof p, dir, "absent.txt");
    int st = cn_dataset_read_list(p, &l);
    tu_check_failure("missing list", st, CN_ERR_IO, l.videos == NULL, p, "cannot open");
}

static void test_paths(void)
{
    char p[512];
    TU_OK(cn_dataset_frame_path(p, sizeof p, "/d", "AVAD", "V1", 7));
    TU_CHECK(!strcmp(p, "/d/video_frames/AVAD/V1/img_00007.jpg"), "frame path %s", p);
    TU_OK(cn_dataset_wav_path(p, sizeof p, "/d", "AVAD", "V1"));
    TU_CHECK(!strcmp(p, "/d/video_audio/AVAD/V1/V1.wav"), "wav path %s", p);
    TU_OK(cn_dataset_map_path(p, sizeof p, "/d", "AVAD", "V1", 12345));
    TU_CHECK(!strcmp(p, "/d/annotations/AVAD/V1/maps/eyeMap_12345.jpg"), "map path %s", p);
    TU_OK(cn_dataset_fix_path(p, sizeof p, "/d", "AVAD", "V1", 1));
    TU_CHECK(!strcmp(p, "/d/annotations/AVAD/V1/fixMap_00001.mat"), "fix path %s", p);
    TU_OK(cn_dataset_pred_path(p, sizeof p, "/out", "AVAD", "V1", 3));
    TU_CHECK(!strcmp(p, "/out/AVAD/V1/img_00003.png"), "prediction path %s", p);
    TU_OK(cn_dataset_list_path(p, sizeof p, "/d", "AVAD", "test", 2));
    TU_CHECK(!strcmp(p, "/d/fold_lists/AVAD_list_test_2_fps.txt"), "list path %s", p);
    TU_OK(cn_dataset_list_path(p, sizeof p, "/d", "DIEM", "train", 0));
    TU_CHECK(!strcmp(p, "/d/fold_lists/DIEM_list_train_fps.txt"), "unnumbered list path %s", p);
    char small[16];
    TU_FAILS(CN_ERR_ARG, cn_dataset_frame_path(small, sizeof small, "/d", "AVAD", "V1", 1));
    TU_FAILS(CN_ERR_ARG, cn_dataset_list_path(p, sizeof p, "/d", "AVAD", "test", 4));
}

/* ---------------- MAT files ---------------- */

/* A MAT v5 file with one uncompressed 2-D matrix, written byte by byte so
 * the reader is checked against the format, not against matio's writer. */
typedef struct mbuf {
    unsigned char b[8192];
    size_t n;
} mbuf;

static void put(mbuf *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put32(mbuf *m, uint32_t v)
{
    put(m, &v, 4); /* little-endian host, as the 'IM' marker says */
}

static void pad8(mbuf *m)
{
    while (m->n % 8)
        m->b[m->n++] = 0;
}

/* cls: 6 double, 9 uint8, 1 cell; payload in column-major order. */
static size_t make_mat(unsigned char *out, const char *var, int cls, int logical, int rows, int cols,
                       const void *payload, int elem_type, size_t elem_size)
{
    mbuf h = {0}, body = {0};
    char text[116];
    memset(text, ' ', sizeof text);
    memcpy(text, "MATLAB 5.0 MAT-file, test_dataset", 34);
    put(&h, text, 116);
    put32(&h, 0), put32(&h, 0); /* subsystem offset */
    uint16_t ver = 0x0100;
    put(&h, &ver, 2);
    put(&h, "IM", 2);
    put32(&body, 6), put32(&body, 8); /* array flags */
    put32(&body, (uint32_t)cls | (logical ? 0x200u : 0u)), put32(&body, 0);
    put32(&body, 5), put32(&body, 8); /* dimensions */
    put32(&body, (uint32_t)rows), put32(&body, (uint32_t)cols);
    put32(&body, 1), put32(&body, (uint32_t)strlen(var)); /* name */
    put(&body, var, strlen(var));
    pad8(&body);
    size_t bytes = (size_t)rows * (size_t)cols * elem_size;
    put32(&body, (uint32_t)elem_type), put32(&body, (uint32_t)bytes);
    put(&body, payload, bytes);
    pad8(&body);
    put32(&h, 14), put32(&h, (uint32_t)body.n); /* miMATRIX */
    put(&h, body.b, body.n);
    memcpy(out, h.b, h.n);
    return h.n;
}

static void test_mat(void)
{
    char p[2048];
    unsigned char file[8192];
    float *m;
    int h, w;
    /* A 3 x 5 map in column-major order: element (r, c) = 10 r + c. */
    double d[15];
    unsigned char u[15];
    for (int c = 0; c < 5; c++)
        for (int r = 0; r < 3; r++) {
            d[c * 3 + r] = 10 * r + c;
            u[c * 3 + r] = (unsigned char)(r == 1 && c == 3);
        }
    tu_path(p, sizeof p, dir, "double.mat");
    tu_write_file(p, file, make_mat(file, "eyeMap", 6, 0, 3, 5, d, 9, 8));
    TU_OK(cn_dataset_read_mat(p, NULL, &m, &h, &w));
    TU_CHECK(h == 3 && w == 5, "double map is %dx%d", h, w);
    if (m && h == 3 && w == 5) {
        int bad = 0;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 5; c++)
                bad += m[r * 5 + c] != (float)(10 * r + c);
        TU_CHECK(bad == 0, "double map: %d elements not transposed to row-major", bad);
    }
    free(m);

    tu_path(p, sizeof p, dir, "logical.mat");
    tu_write_file(p, file, make_mat(file, "eyeMap", 9, 1, 3, 5, u, 2, 1));
    TU_OK(cn_dataset_read_mat(p, "eyeMap", &m, &h, &w));
    if (m && h == 3 && w == 5) {
        float s = 0;
        for (int i = 0; i < 15; i++)
            s += m[i];
        TU_CHECK(s == 1.0f && m[1 * 5 + 3] == 1.0f, "logical map: the fixation is not at (1, 3)");
    }
    free(m);

    cn_clear_error();
    tu_path(p, sizeof p, dir, "wrongvar.mat");
    tu_write_file(p, file, make_mat(file, "fixations", 6, 0, 3, 5, d, 9, 8));
    int st = cn_dataset_read_mat(p, NULL, &m, &h, &w);
    tu_check_failure("wrong variable", st, CN_ERR_FORMAT, m == NULL, p, "no variable 'eyeMap'");

    size_t full = make_mat(file, "eyeMap", 6, 0, 3, 5, d, 9, 8);
    tu_path(p, sizeof p, dir, "truncated.mat");
    tu_write_file(p, file, full - 60);
    st = cn_dataset_read_mat(p, NULL, &m, &h, &w);
    tu_check_failure("truncated", st, CN_ERR_FORMAT, m == NULL, p, NULL);

    tu_path(p, sizeof p, dir, "garbage.mat");
    tu_write_file(p, "this is not a MAT file at all, just some words...", 49);
    st = cn_dataset_read_mat(p, NULL, &m, &h, &w);
    tu_check_failure("garbage", st, CN_ERR_FORMAT, m == NULL, p, NULL);

    tu_path(p, sizeof p, dir, "empty.mat");
    tu_write_file(p, "", 0);
    st = cn_dataset_read_mat(p, NULL, &m, &h, &w);
    tu_check_failure("empty", st, CN_ERR_FORMAT, m == NULL, p, NULL);

    double nan15[15];
    for (int i = 0; i < 15; i++)
        nan15[i] = i == 7 ? NAN : 0.0;
    tu_path(p, sizeof p, dir, "nan.mat");
    tu_write_file(p, file, make_mat(file, "eyeMap", 6, 0, 3, 5, nan15, 9, 8));
    st = cn_dataset_read_mat(p, NULL, &m, &h, &w);
    tu_check_failure("NaN in map", st, CN_ERR_FORMAT, m == NULL, p, "not finite");

    tu_path(p, sizeof p, dir, "absent.mat");
    st = cn_dataset_read_mat(p, NULL, &m, &h, &w);
    tu_check_failure("missing .mat", st, CN_ERR_IO, m == NULL, p, NULL);

    tu_path(p, sizeof p, dir, "notimage.png");
    tu_write_file(p, "\x89PNG but not really", 19);
    st = cn_dataset_read_gray(p, &m, &h, &w);
    tu_check_failure("bad image", st, CN_ERR_FORMAT, m == NULL, p, "cannot decode");
    tu_path(p, sizeof p, dir, "absent.png");
    st = cn_dataset_read_gray(p, &m, &h, &w);
    tu_check_failure("missing image", st, CN_ERR_IO, m == NULL, p, NULL);
}

/* ---------------- synthetic dataset ---------------- */

static void test_synthetic(void)
{
    char root[1200], p[2048], q[2048];
    snprintf(root, sizeof root, "%s/synth", dir);
    TU_OK(cn_synth_write(root, 1));

    int splits[3], ns;
    TU_OK(cn_dataset_test_splits(root, "SynthA", splits, &ns));
    TU_CHECK(ns == 3 && splits[0] == 1 && splits[2] == 3, "SynthA splits: %d", ns);
    TU_OK(cn_dataset_test_splits(root, "SynthB", splits, &ns));
    TU_CHECK(ns == 1 && splits[0] == 0, "SynthB: one unnumbered split, got %d (%d)", ns, splits[0]);
    TU_FAILS(CN_ERR_IO, cn_dataset_test_splits(root, "NoSuchDB", splits, &ns));

    cn_dataset_list l;
    TU_OK(cn_dataset_load_split(root, "SynthA", "test", 2, &l));
    TU_CHECK(l.split == 2 && l.count == 1 && !strcmp(l.videos[0].name, "a2") && l.videos[0].nframes == 20 &&
                 l.videos[0].fps == 25.0,
             "SynthA test split 2");
    cn_dataset_list_free(&l);
    TU_OK(cn_dataset_load_split(root, "SynthA", "train", 2, &l));
    TU_CHECK(l.count == 2, "SynthA train split 2 has %d videos", l.count);
    cn_dataset_list_free(&l);
    TU_OK(cn_dataset_load_split(root, "SynthB", "test", 1, &l));
    TU_CHECK(l.split == 0 && l.count == 2, "SynthB split 1 falls back to the unnumbered list");
    cn_dataset_list_free(&l);
    TU_FAILS(CN_ERR_IO, cn_dataset_load_split(root, "SynthB", "test", 2, &l));

    float *a = NULL, *b = NULL, *f = NULL;
    int h, w, h2, w2;
    TU_OK(cn_dataset_map_path(p, sizeof p, root, "SynthB", "b2", 3));
    TU_OK(cn_dataset_read_gray(p, &a, &h, &w));
    snprintf(q, sizeof q, "%s/pred_gt/SynthB/b2/img_00003.png", root);
    TU_OK(cn_dataset_read_gray(q, &b, &h2, &w2));
    TU_CHECK(h == 48 && w == 64 && h2 == h && w2 == w, "dense map %dx%d, its PNG %dx%d", h, w, h2, w2);
    if (a && b && h == h2 && w == w2) {
        int diff = 0;
        float lo = a[0];
        for (int i = 0; i < h * w; i++)
            diff += a[i] != b[i], lo = fminf(lo, a[i]);
        TU_CHECK(diff == 0, "pred_gt differs from the decoded dense map at %d pixels", diff);
        TU_CHECK(lo == 0.0f, "dense map background is %g, not 0", lo);
    }
    TU_OK(cn_dataset_fix_path(p, sizeof p, root, "SynthB", "b2", 5));
    TU_OK(cn_dataset_read_mat(p, NULL, &f, &h2, &w2));
    if (f) {
        int nfix = 0;
        for (int i = 0; i < h2 * w2; i++)
            nfix += f[i] != 0;
        TU_CHECK(h2 == 48 && w2 == 64 && nfix == 0, "SynthB b2 frame 5 is a blink: %d fixations", nfix);
    }
    free(a), free(b), free(f);
    TU_OK(cn_dataset_wav_path(p, sizeof p, root, "SynthA", "a1"));
    FILE *wav = fopen(p, "rb");
    TU_CHECK(wav != NULL, "no WAV at %s", p);
    if (wav)
        fclose(wav);

    /* Ground truth against itself, without blur: the ideal scores. */
    cn_eval_opts o = {0};
    snprintf(q, sizeof q, "%s/pred_gt", root);
    o.pred_root = q, o.data_root = root, o.db = "SynthA", o.no_blur = 1;
    cn_eval_result *r = NULL;
    TU_OK(cn_eval_run(&o, &r));
    if (r) {
        TU_CHECK(r->count == 3, "SynthA: %d splits evaluated", r->count);
        TU_CHECK(fabs(r->mean[CN_EV_CC] - 1) < 1e-6, "CC of GT vs GT: %.9f", r->mean[CN_EV_CC]);
        TU_CHECK(fabs(r->mean[CN_EV_SIM] - 1) < 1e-6, "SIM of GT vs GT: %.9f", r->mean[CN_EV_SIM]);
        TU_CHECK(fabs(r->mean[CN_EV_KL]) < 1e-6, "KL of GT vs GT: %.9g", r->mean[CN_EV_KL]);
        TU_CHECK(r->mean[CN_EV_NSS] > 2 && r->mean[CN_EV_AUCJ] > 0.9, "NSS %.3f, AUC-J %.3f",
                 r->mean[CN_EV_NSS], r->mean[CN_EV_AUCJ]);
        TU_CHECK(r->splits[0].videos[0].count == 20, "a1: %d frames", r->splits[0].videos[0].count);
    }
    cn_eval_result_free(r);
    /* --frames valid drops SynthB's blink frame, all frames keep it. */
    o.db = "SynthB";
    TU_OK(cn_eval_run(&o, &r));
    int all = r ? r->splits[0].videos[1].count : -1;
    cn_eval_result_free(r);
    o.valid_only = 1;
    TU_OK(cn_eval_run(&o, &r));
    int valid = r ? r->splits[0].videos[1].count : -1;
    cn_eval_result_free(r);
    TU_CHECK(all == 16 && valid == 15, "b2 frames: all %d, valid %d", all, valid);
}

int main(void)
{
    if (tu_tmpdir_make(dir, sizeof dir, "cn_dataset_") != 0)
        return 1;
    test_lists();
    test_paths();
    test_mat();
    test_synthetic();
    if (!tu_failures && !strchr(dir, '\'')) { /* keep the files of a failed run for a look */
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "note: could not remove %s\n", dir);
    } else {
        printf("files kept in %s\n", dir);
    }
    return tu_finish("test_dataset");
}
