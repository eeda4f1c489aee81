#!/usr/bin/python3
"""Which disc of the bundled sample do saliency maps pick out? Per frame, the share of the map's mass near the orange disc against near the teal one.

Usage: /usr/bin/python3 tests/sample_attention.py FRAMES MAPS [--expect orange|teal|none] [--min-frames F] [--min-share S]
           [--without MAPS2 --min-drop D]
FRAMES is `caspnet make-sample`'s frames/ folder (000001.png ...), MAPS the
`caspnet predict` output for it (the same names, at the frame's size).
The discs are found by their colours (the scene has no other orange or teal
pixels); mass "near" a disc is the map's sum within RADIUS_FACTOR radii of its
centre. Frames whose discs are closer than twice that radius are skipped (the
two windows would overlap). With --expect D, exits 1 unless the disc D gets
the larger share in at least --min-frames of the frames and its mean share is
at least --min-share; --expect none only prints. With --without MAPS2 (the
same frames' maps made without the sound), also exits 1 unless the expected
disc's mean share in MAPS2 is at least --min-drop lower.
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


def shares_of(frames, maps, names):
    """The orange disc's share of the map's mass near either disc, per frame whose discs are
    apart, and the number of frames skipped; SystemExit(2) on unusable input."""
    def fail(msg):
        print(f"sample_attention: {msg}", file=sys.stderr)
        raise SystemExit(2)
    shares, skipped = [], 0
    for name in names:
        path = os.path.join(maps, name)
        if not os.path.exists(path):
            fail(f"{path}: no map for frame {name}")
        frame = np.asarray(Image.open(os.path.join(frames, name)).convert("RGB"))
        sal = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
        if sal.shape != frame.shape[:2]:
            fail(f"{path} is {sal.shape[1]}x{sal.shape[0]}, the frame {frame.shape[1]}x{frame.shape[0]}")
        d = {c: disc(frame, rgb) for c, rgb in COLOURS.items()}
        if None in d.values():
            fail(f"{name}: a disc is not visible")
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
        fail("the discs overlap in every frame")
    return np.array(shares), skipped


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("frames")
    p.add_argument("maps")
    p.add_argument("--expect", choices=("orange", "teal", "none"), default="none")
    p.add_argument("--min-frames", type=float, default=0.8, help="fraction of the frames (default 0.8)")
    p.add_argument("--min-share", type=float, default=0.7, help="mean share of the expected disc (default 0.7)")
    p.add_argument("--without", metavar="MAPS2", help="maps of the same frames made without the sound")
    p.add_argument("--min-drop", type=float, default=0.2, help="with --without: how much lower the expected "
                   "disc's mean share must be there (default 0.2)")
    a = p.parse_args()
    names = sorted(f for f in os.listdir(a.frames) if f.endswith(".png"))
    if not names:
        print(f"sample_attention: no PNG frames in {a.frames}", file=sys.stderr)
        return 2
    runs = [("maps", a.maps)] + ([("without the sound", a.without)] if a.without else [])
    mean = {}
    for what, folder in runs:
        s, skipped = shares_of(a.frames, folder, names)
        print(f"sample_attention: {what}: {len(s)} frames ({skipped} skipped, discs close): orange gets the "
              f"larger share in {(s > 0.5).sum()}, teal in {(s < 0.5).sum()}; mean share orange "
              f"{s.mean():.3f}, teal {1 - s.mean():.3f}")
        mine = s if a.expect != "teal" else 1 - s
        mean[what] = float(mine.mean())
        if what == "maps":
            frac = float((mine > 0.5).mean())
    if a.expect == "none":
        return 0
    if frac < a.min_frames or mean["maps"] < a.min_share:
        print(f"sample_attention: FAIL: the {a.expect} disc leads in {frac:.2f} of the frames (need {a.min_frames}) "
              f"with mean share {mean['maps']:.3f} (need {a.min_share})", file=sys.stderr)
        return 1
    if a.without and mean["maps"] - mean["without the sound"] < a.min_drop:
        print(f"sample_attention: FAIL: without the sound the {a.expect} disc's mean share is "
              f"{mean['without the sound']:.3f}, not {a.min_drop} below {mean['maps']:.3f}", file=sys.stderr)
        return 1
    print(f"sample_attention: ok: the {a.expect} disc leads in {frac:.2f} of the frames, mean share "
          f"{mean['maps']:.3f}" + (f", {mean['without the sound']:.3f} without the sound" if a.without else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
