/* A small synthetic audio-visual saliency dataset in the STAViS layout, generated for tests and demos. */
#ifndef CASPNET_SYNTHDATA_H
#define CASPNET_SYNTHDATA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes under root (created if needed; existing files are replaced):
 *   SynthA: 3 videos a1..a3 of 20 frames, 48 x 64, 25 fps, three folds
 *           (fold K tests video aK and trains on the other two); fixation
 *           maps stored as double.
 *   SynthB: 2 videos b1, b2 of 16 frames, 48 x 64, 29.97 fps, one unnumbered
 *           split (as DIEM); fixation maps stored as logical; frame 5 of b2
 *           has no fixation (a blink), for --frames valid.
 * Every frame shows one or two bright discs moving on straight paths; the
 * dense map (eyeMap_*.jpg, 8-bit grey) is a sum of Gaussians (sigma 5 px) on
 * those targets, zero away from them; 8 fixations per frame are drawn around
 * the targets (deterministic for a seed); the audio is a 16 kHz mono WAV of a
 * tone as long as the video. Also writes pred_gt/<DB>/<video>/img_%05d.png:
 * each dense map decoded again and stored as PNG, i.e. a prediction equal to
 * the ground truth as caspnet eval reads it. */
int cn_synth_write(const char *root, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
