#!/usr/bin/python3
"""Which disc of the bundled sample do saliency maps pick out? Per frame, the share of the map's mass near the orange disc against near the teal one.

Usage: /usr/bin/python3 tests/sample_attention.py FRAMES MAPS [--expect orange|teal|none] [--min-frames F] [--min-share S]
FRAMES is `caspnet make-sample`'s frames/ folder (000001.png ...), MAPS the
`caspnet predict` output for it (the same names, at the frame's size).
The discs are found by their colours (the scene has no other orange or teal
pixels); mass "near" a disc is the map's sum within RADIUS_FACTOR radii of its
centre. Frames whose discs are closer than twice that radius are skipped (the
two windows would overlap). With --expect D, exits 1 unless the disc D gets
the larger share in at least --min-frames of the frames and its mean share is
at least --min-share; --expect none only prints.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

COLOURS = {"orange": (235, 95, 40), "teal": (40, 175, 165)}
COLOUR_TOL = 60          # sum of absolute RGB differences; shading and video compression stay within it
RADIUS_FACTOR = 2.0      # a window of two disc radii: the model's 32x64 maps are 6 px per cell at 384 wide


def disc(frame, rgb):
    """Centre (x, y) and radius of the disc of colour rgb, or None when it is not in the frame."""
    m = np.abs(frame[..., :3].astype(int) - np.array(rgb)).sum(-1) < COLOUR_TOL
    n = int(m.sum())
    if n < 20:
        return None
    ys, xs = np.nonzero(m)
    return xs.mean(), ys.mean(), float(np.sqrt(n / np.pi))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("frames")
    p.add_argument("maps")
    p.add_argument("--expect", choices=("orange", "teal", "none"), default="none")
    p.add_argument("--min-frames", type=float, default=0.8, help="fraction of the frames (default 0.8)")
    p.add_argument("--min-share", type=float, default=0.7, help="mean share of the expected disc (default 0.7)")
    a = p.parse_args()
    names = sorted(f for f in os.listdir(a.frames) if f.endswith(".png"))
    if not names:
        print(f"sample_attention: no PNG frames in {a.frames}", file=sys.stderr)
        return 2
    shares, skipped = [], 0
    for name in names:
        path = os.path.join(a.maps, name)
        if not os.path.exists(path):
            print(f"sample_attention: {path}: no map for frame {name}", file=sys.stderr)
            return 2
        frame = np.asarray(Image.open(os.path.join(a.frames, name)).convert("RGB"))
        sal = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
        if sal.shape != frame.shape[:2]:
            print(f"sample_attention: {path} is {sal.shape[1]}x{sal.shape[0]}, the frame "
                  f"{frame.shape[1]}x{frame.shape[0]}", file=sys.stderr)
            return 2
        d = {c: disc(frame, rgb) for c, rgb in COLOURS.items()}
        if None in d.values():
            print(f"sample_attention: {name}: a disc is not visible", file=sys.stderr)
            return 2
        r = RADIUS_FACTOR * max(d["orange"][2], d["teal"][2])
        (ox, oy, _), (tx, ty, _) = d["orange"], d["teal"]
        if np.hypot(ox - tx, oy - ty) < 2 * r:
            skipped += 1
            continue
        yy, xx = np.mgrid[0:sal.shape[0], 0:sal.shape[1]]
        near = {c: sal[(xx - x) ** 2 + (yy - y) ** 2 <= r * r].sum() for c, (x, y, _) in d.items()}
        total = near["orange"] + near["teal"]
        shares.append(near["orange"] / total if total > 0 else 0.5)
    if not shares:
        print("sample_attention: the discs overlap in every frame", file=sys.stderr)
        return 2
    s = np.array(shares)
    print(f"sample_attention: {len(s)} frames ({skipped} skipped, discs close): orange gets the larger share "
          f"in {(s > 0.5).sum()}, teal in {(s < 0.5).sum()}; mean share orange {s.mean():.3f}, teal {1 - s.mean():.3f}")
    if a.expect == "none":
        return 0
    mine = s if a.expect == "orange" else 1 - s
    frac, mean = float((mine > 0.5).mean()), float(mine.mean())
    if frac < a.min_frames or mean < a.min_share:
        print(f"sample_attention: FAIL: the {a.expect} disc leads in {frac:.2f} of the frames (need {a.min_frames}) "
              f"with mean share {mean:.3f} (need {a.min_share})", file=sys.stderr)
        return 1
    print(f"sample_attention: ok: the {a.expect} disc leads in {frac:.2f} of the frames, mean share {mean:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
