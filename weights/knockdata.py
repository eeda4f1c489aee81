#!/usr/bin/python3
"""The "knock" task: synthetic audio-visual saliency data in which only the sound tells which object is salient.

Usage:
  /usr/bin/python3 weights/knockdata.py --out DIR [--layout stavis|dhf1k] [--videos N]
      [--frames F] [--size HxW] [--fps R] [--seed S] [--db NAME] [--force]

Every video shows the bundled sample's room (caspnet make-sample: a wall, a
wooden floor) with two discs, an orange one (its knock: a 523.25 Hz tone
with two overtones) and a teal one (its knock: 1318.5 Hz). Each disc either
bounces on the floor or circles above it, chosen at random for each disc and
video; exactly one disc sounds in each video, chosen at random independently
of the motions, and it knocks once per period of its motion (at its floor
contacts when it bounces). The dense maps (a Gaussian on the sounding disc)
and the fixations (points drawn around it) follow the sounding disc only, so
a model that sees but does not hear can at best split its bets between the
two discs. The bundled sample obeys the same rules: the orange disc bounces
and knocks, the teal one circles silently.

Layouts (frames are written at --size, the model size, so no resize enters
between a trainer and the engine; frames and maps are stored losslessly, as
PNG data also under the STAViS layout's .jpg names, so that every decoder
reads the same pixels):
  stavis  the STAViS release layout that `caspnet predict --dataset` and
          `caspnet eval` read (host/eval/dataset.h), as database --db
          (default Knock): video_frames/<DB>/<v>/img_%05d.jpg,
          video_audio/<DB>/<v>/<v>.wav, annotations/<DB>/<v>/maps/eyeMap_%05d.jpg,
          annotations/<DB>/<v>/fixMap_%05d.mat and three folds in fold_lists/
          (fold K tests every third video starting at video K).
  dhf1k   the DHF1K layout (visual only): <split>/<vvvv>/images/%04d.png,
          maps/%04d.png, fixation/%04d.png (255 = fixated) for splits train
          (the first 3/4 of the videos) and val; audio.wav is also written
          into each video folder but DHF1K-style training ignores it.

Deterministic for a seed. Writes into DIR.tmp-* first and renames at the end.
"""
import argparse
import math
import os
import shutil
import struct
import sys
import tempfile
import wave
import zlib

import numpy as np
from PIL import Image

SAMPLE_W, SAMPLE_H = 384, 224   # the scene's own coordinates (the bundled sample's size)
FLOOR_Y = 188.0
BOUNCE_HEIGHT = 110.0
RATE = 16000
ORANGE = dict(name="orange", rgb=(235, 95, 40), r=20.0, tone=523.25)
TEAL = dict(name="teal", rgb=(40, 175, 165), r=16.0, tone=1318.5)
FIX_PER_FRAME = 8


def parse_size(s):
    try:
        h, w = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size '{s}' is not HxW")
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"size {h}x{w}: height and width must be positive multiples of 32")
    return h, w


def hash01(x, y):
    """Integer hash of uint32 arrays to [0, 1): the same texture on every machine."""
    x = np.asarray(x, np.uint64) & 0xFFFFFFFF
    y = np.asarray(y, np.uint64) & 0xFFFFFFFF
    m = np.uint64(0xFFFFFFFF)
    h = ((x * np.uint64(0x8DA6B343)) & m) ^ ((y * np.uint64(0xD8163841)) & m) ^ np.uint64(0x9E3779B9)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & m
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & m
    h ^= h >> np.uint64(15)
    return (h >> np.uint64(8)).astype(np.float64) / 16777216.0


def value_noise(x, y):
    fx, fy = x / 16, y / 16
    ix, iy = np.floor(fx), np.floor(fy)
    tx, ty = fx - ix, fy - iy
    tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
    ix, iy = ix.astype(np.int64), iy.astype(np.int64)
    a, b = hash01(ix, iy), hash01(ix + 1, iy)
    c, d = hash01(ix, iy + 1), hash01(ix + 1, iy + 1)
    return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty


class Scene:
    """Pixel-centre coordinates of an H x W frame in the scene's 384 x 224 units, and the static room."""

    def __init__(self, h, w):
        self.h, self.w = h, w
        ys = (np.arange(h) + 0.5) * SAMPLE_H / h
        xs = (np.arange(w) + 0.5) * SAMPLE_W / w
        self.y, self.x = np.meshgrid(ys, xs, indexing="ij")
        self.pix = max(SAMPLE_H / h, SAMPLE_W / w)   # one output pixel in scene units (anti-aliasing width)
        x, y = self.x, self.y
        n = value_noise(x, y)
        g = y / FLOOR_Y
        stripe = 6 * np.sin((x + y) * 0.21)
        wall = np.stack([150 + 40 * g + 30 * (n - 0.5) + stripe,
                         165 + 30 * g + 30 * (n - 0.5) + stripe,
                         195 - 10 * g + 25 * (n - 0.5) + stripe], -1)
        board = ((x // 64).astype(np.int64) + (y > 205)) % 2
        grain = 10 * np.sin(x * 0.09 + 3 * n) + np.where(board == 1, 8.0, -8.0)
        floor = np.stack([120 + grain + 20 * (n - 0.5), 85 + grain * 0.8 + 15 * (n - 0.5),
                          55 + grain * 0.5 + 10 * (n - 0.5)], -1)
        self.room = np.where((y < FLOOR_Y)[..., None], wall, floor)

    def render(self, discs):
        """discs: list of (x, y, r, rgb, height above floor); drawn in order, shadows first."""
        px = self.room.copy()
        x, y = self.x, self.y
        on_floor = (y >= FLOOR_Y)[..., None]
        for cx, cy, r, _, hgt in discs:
            rx = r * (1.3 - 0.5 * min(hgt, BOUNCE_HEIGHT) / BOUNCE_HEIGHT)
            ry = rx * 0.25
            q = ((x - cx) / rx) ** 2 + ((y - (FLOOR_Y + 4)) / ry) ** 2
            a = np.where(q < 1, (1 - q) * 0.45 * (1 - 0.6 * min(hgt, BOUNCE_HEIGHT) / BOUNCE_HEIGHT), 0.0)
            px = np.where(on_floor, px * (1 - a[..., None]), px)
        for cx, cy, r, rgb, _ in discs:
            dx, dy = x - cx, y - cy
            dist = np.sqrt(dx * dx + dy * dy)
            cover = np.clip((r - dist) / self.pix + 0.5, 0, 1)[..., None]
            nx, ny = dx / r, dy / r
            nz = np.sqrt(np.maximum(0, 1 - nx * nx - ny * ny))
            lit = 0.55 + 0.6 * np.maximum(0, -0.45 * nx - 0.55 * ny + 0.70 * nz)
            col = np.minimum(255, np.asarray(rgb, float) * lit[..., None])
            px = px * (1 - cover) + col * cover
        return np.clip(np.rint(px), 0, 255).astype(np.uint8)


def make_motion(rng, disc, slot):
    """A disc's path: bounce (floor contacts every period) or circle; knocks once per period."""
    r = disc["r"]
    if rng.random() < 0.5:
        period = rng.uniform(0.38, 0.6)
        return dict(kind="bounce", period=period, phase=rng.uniform(0, period),
                    speed=rng.uniform(50, 150) * rng.choice([-1, 1]), x0=rng.uniform(0, 2 * (SAMPLE_W - 80)),
                    lo=40.0, hi=SAMPLE_W - 40.0, r=r)
    period = rng.uniform(0.38, 0.6)
    return dict(kind="circle", period=period, phase=rng.uniform(0, period), turn=rng.uniform(1.2, 2.0),
                cx=rng.uniform(0.2, 0.45) * SAMPLE_W + slot * 0.35 * SAMPLE_W, cy=rng.uniform(55, 80),
                ax=rng.uniform(40, 80), ay=rng.uniform(15, 28), r=r)


def position(m, t):
    """(x, y, height above the floor) at time t seconds."""
    if m["kind"] == "bounce":
        ph = (t - m["phase"]) % m["period"]
        s = 2 * ph / m["period"] - 1
        h = BOUNCE_HEIGHT * (1 - s * s)
        span = m["hi"] - m["lo"]
        p = (m["x0"] + m["speed"] * t) % (2 * span)
        x = m["lo"] + (p if p < span else 2 * span - p)
        return x, FLOOR_Y - m["r"] - h, h
    a = 2 * math.pi * t / m["turn"]
    x, y = m["cx"] + m["ax"] * math.cos(a), m["cy"] + m["ay"] * math.sin(a)
    return x, y, FLOOR_Y - (y + m["r"])


def knock_audio(rng, n, tone, period, phase):
    """A quiet noise floor plus a knock (click + decaying tone with two overtones) every period."""
    s = 0.004 * (rng.random(n) - 0.5)
    t0 = phase % period
    while t0 * RATE < n:
        k0 = int(round(t0 * RATE))
        k1 = min(n, k0 + RATE * 3 // 10)
        u = np.arange(k1 - k0) / RATE
        wave_ = (np.sin(2 * math.pi * tone * u) + 0.5 * np.sin(2 * math.pi * 2 * tone * u + 0.3)
                 + 0.25 * np.sin(2 * math.pi * 3 * tone * u + 0.7))
        click = 2 * rng.random(k1 - k0) - 1
        s[k0:k1] += 0.45 * np.exp(-u / 0.035) * wave_ + 0.35 * np.exp(-u / 0.004) * click
        t0 += period
    return s


def write_wav(path, s):
    pcm = np.clip(np.rint(s * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def mat5_logical(path, fix):
    """A MAT v5 file holding the logical uint8 matrix eyeMap (zlib-compressed, column-major)."""
    h, w = fix.shape

    def element(dtype, payload):
        pad = (-len(payload)) % 8
        return struct.pack("<II", dtype, len(payload)) + payload + b"\0" * pad
    flags = struct.pack("<II", 9 | 0x200, 0)              # mxUINT8_CLASS, logical
    body = (element(6, flags) + element(5, struct.pack("<ii", h, w)) + element(1, b"eyeMap")
            + element(2, np.asfortranarray(fix.astype(np.uint8)).tobytes(order="F")))
    matrix = struct.pack("<II", 14, len(body)) + body     # miMATRIX
    comp = zlib.compress(matrix)
    text = b"MATLAB 5.0 MAT-file, written by caspnet weights/knockdata.py"
    header = text.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    with open(path, "wb") as f:
        f.write(header + struct.pack("<II", 15, len(comp)) + comp)


def video(rng, scene, nframes, fps):
    """One video: frames (F x H x W x 3 uint8), dense maps (F x H x W uint8), fixations (F x H x W bool), audio."""
    first = rng.random() < 0.5                      # which disc is drawn in front
    order = [ORANGE, TEAL] if first else [TEAL, ORANGE]
    motions = {d["name"]: make_motion(rng, d, slot) for slot, d in enumerate([ORANGE, TEAL])}
    loud = ORANGE if rng.random() < 0.5 else TEAL
    m = motions[loud["name"]]
    # knocks at the floor contacts of a bouncing disc (height 0 at t = phase + k period)
    audio = knock_audio(rng, int(math.ceil(nframes / fps * RATE)), loud["tone"], m["period"], m["phase"])
    H, W = scene.h, scene.w
    frames = np.empty((nframes, H, W, 3), np.uint8)
    dense = np.empty((nframes, H, W), np.uint8)
    fix = np.zeros((nframes, H, W), bool)
    for f in range(nframes):
        t = f / fps
        pos = {d["name"]: position(motions[d["name"]], t) for d in order}
        frames[f] = scene.render([(*pos[d["name"]][:2], d["r"], d["rgb"], pos[d["name"]][2]) for d in order])
        lx, ly, _ = pos[loud["name"]]
        sig = loud["r"] * 0.9
        g = np.exp(-((scene.x - lx) ** 2 + (scene.y - ly) ** 2) / (2 * sig * sig))
        v = 255.0 * g
        dense[f] = np.where(v < 1.0, 0, np.floor(v + 0.5)).astype(np.uint8)
        for _ in range(FIX_PER_FRAME):
            fx = lx + rng.normal() * loud["r"] * 0.5
            fy = ly + rng.normal() * loud["r"] * 0.5
            xi = min(W - 1, max(0, int(fx * W / SAMPLE_W)))
            yi = min(H - 1, max(0, int(fy * H / SAMPLE_H)))
            fix[f, yi, xi] = True
    return frames, dense, fix, audio, loud["name"]


def write_stavis(tmp, a, rng, scene):
    db = a.db
    names = [f"k{i + 1:03d}" for i in range(a.videos)]
    loud = {}
    for name in names:
        frames, dense, fix, audio, loud[name] = video(rng, scene, a.frames, a.fps)
        fdir = os.path.join(tmp, "video_frames", db, name)
        mdir = os.path.join(tmp, "annotations", db, name, "maps")
        adir = os.path.join(tmp, "video_audio", db, name)
        for d in (fdir, mdir, adir):
            os.makedirs(d, exist_ok=True)
        for f in range(a.frames):
            # PNG data under the layout's .jpg names (both readers detect the format from the
            # bytes): JPEG decoders differ by a grey level here and there, and the trainer (PIL)
            # and the engine (stb_image) must see the same pixels for their metrics to agree
            Image.fromarray(frames[f]).save(os.path.join(fdir, f"img_{f + 1:05d}.jpg"), format="PNG")
            Image.fromarray(dense[f]).save(os.path.join(mdir, f"eyeMap_{f + 1:05d}.jpg"), format="PNG")
            mat5_logical(os.path.join(tmp, "annotations", db, name, f"fixMap_{f + 1:05d}.mat"), fix[f])
        write_wav(os.path.join(adir, f"{name}.wav"), audio)
        progress(name, len(loud), a.videos)
    os.makedirs(os.path.join(tmp, "fold_lists"))
    fps = f"{a.fps:g}"
    for k in (1, 2, 3):
        test = names[k - 1::3]
        for kind, vids in (("test", test), ("train", [n for n in names if n not in test])):
            with open(os.path.join(tmp, "fold_lists", f"{db}_list_{kind}_{k}_fps.txt"), "w") as f:
                f.writelines(f"{n} {a.frames} {fps}\n" for n in vids)
    return loud


def write_dhf1k(tmp, a, rng, scene):
    loud = {}
    ntrain = max(1, (a.videos * 3) // 4)
    for i in range(a.videos):
        name = f"{i + 1:04d}"
        split = "train" if i < ntrain else "val"
        frames, dense, fix, audio, loud[name] = video(rng, scene, a.frames, a.fps)
        base = os.path.join(tmp, split, name)
        for sub in ("images", "maps", "fixation"):
            os.makedirs(os.path.join(base, sub))
        for f in range(a.frames):
            Image.fromarray(frames[f]).save(os.path.join(base, "images", f"{f + 1:04d}.png"))
            Image.fromarray(dense[f]).save(os.path.join(base, "maps", f"{f + 1:04d}.png"))
            Image.fromarray(fix[f].astype(np.uint8) * 255).save(os.path.join(base, "fixation", f"{f + 1:04d}.png"))
        write_wav(os.path.join(base, "audio.wav"), audio)
        with open(os.path.join(base, "fps.txt"), "w") as fo:
            fo.write(f"{a.fps:g}\n")
        progress(name, i + 1, a.videos)
    return loud


def progress(name, done, total):
    if sys.stderr.isatty():
        print(f"\rknockdata: {done}/{total} videos", end="" if done < total else "\n", file=sys.stderr)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (must not exist unless --force)")
    p.add_argument("--layout", default="stavis", choices=["stavis", "dhf1k"])
    p.add_argument("--videos", type=int, default=24, help="number of videos (default 24)")
    p.add_argument("--frames", type=int, default=48, help="frames per video (default 48, at least 16)")
    p.add_argument("--size", type=parse_size, default=(64, 96), help="frame size HxW, multiples of 32 (default 64x96)")
    p.add_argument("--fps", type=float, default=24.0, help="frame rate (default 24, as the bundled sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--db", default="Knock", help="database name in the STAViS layout (default Knock)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    a = p.parse_args(argv)
    if a.videos < 3 and a.layout == "stavis":
        p.error("--videos must be at least 3 for the STAViS layout's three folds")
    if a.videos < 2:
        p.error("--videos must be at least 2")
    if a.frames < 16:
        p.error("--frames must be at least 16 (one clip)")
    if not (0 < a.fps <= 1000):
        p.error("--fps must be in (0, 1000]")
    if "/" in a.db or not a.db:
        p.error("--db must be a plain name")
    out = a.out.rstrip("/") or a.out
    if os.path.exists(out) and not a.force:
        print(f"knockdata: error: {out} exists (use --force to replace it)", file=sys.stderr)
        return 2
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out) + ".tmp-", dir=parent)
    try:
        rng = np.random.default_rng(a.seed)
        scene = Scene(*a.size)
        loud = (write_stavis if a.layout == "stavis" else write_dhf1k)(tmp, a, rng, scene)
        with open(os.path.join(tmp, "knock.txt"), "w") as f:
            f.write(f"# knockdata.py --layout {a.layout} --videos {a.videos} --frames {a.frames} "
                    f"--size {a.size[0]}x{a.size[1]} --fps {a.fps:g} --seed {a.seed}\n")
            f.writelines(f"{k} {v}\n" for k, v in loud.items())
        if os.path.exists(out):
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    n = sum(v == "orange" for v in loud.values())
    print(f"knockdata: wrote {out} ({a.layout}, {a.videos} videos of {a.frames} frames at "
          f"{a.size[0]}x{a.size[1]}; orange sounds in {n}, teal in {a.videos - n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
