#!/usr/bin/env python3
"""Writes seeded random test inputs: a clip (N,3,16,H,W) in [-1,1] and a log-mel (N,1,96,64)."""
import argparse

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=2)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clip", required=True)
    p.add_argument("--logmel", required=True)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    # Smooth structure plus noise, so spatial features vary as in real video.
    t = np.linspace(0, 1, 16)[None, None, :, None, None]
    y = np.linspace(-1, 1, a.height)[None, None, None, :, None]
    x = np.linspace(-1, 1, a.width)[None, None, None, None, :]
    ph = rng.uniform(0, 6.28, size=(a.n, 3, 1, 1, 1))
    clip = 0.5 * np.sin(3 * x + 2 * y + 4 * t + ph) + 0.4 * rng.uniform(-1, 1, size=(a.n, 3, 16, a.height, a.width))
    clip = np.clip(clip, -1, 1).astype(np.float32)
    mel = (rng.normal(-2.0, 1.5, size=(a.n, 1, 96, 64))).astype(np.float32)
    np.save(a.clip, clip)
    np.save(a.logmel, mel)


if __name__ == "__main__":
    main()
