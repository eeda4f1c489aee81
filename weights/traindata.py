"""Data for weights/train.py: the STAViS and DHF1K layouts, clips as the engine builds them, the engine's log-mel, and the evaluation protocol of `caspnet eval`."""
import math
import os
import struct
import wave
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CLIP_T = 16
RATE = 16000
WIN = 15600          # samples of one log-mel window (spec section 1)


class DataError(Exception):
    """A dataset file that is missing or malformed; the message names it."""


# ---------------------------------------------------------------------------
# Audio: WAV reading and the log-mel of spec section 1
# ---------------------------------------------------------------------------
def read_wav(path):
    """Mono float64 samples at 16 kHz. PCM 8/16/24/32-bit WAV through the wave module; other
    rates are resampled band-limited (FFT, i.e. an ideal low-pass), which is close to but not
    bit-identical with the engine's resampler: convert real datasets' audio to 16 kHz first
    (weights/README.md) to train on exactly what the engine computes."""
    try:
        with wave.open(path, "rb") as w:
            ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (OSError, wave.Error, EOFError) as e:
        raise DataError(f"{path}: cannot read as WAV: {e}")
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float64) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / (1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0
    else:
        raise DataError(f"{path}: {8 * width}-bit samples are not supported")
    x = x.reshape(-1, ch).mean(axis=1)
    if rate != RATE:
        m = int(round(len(x) * RATE / rate))
        spec = np.fft.rfft(x)
        keep = m // 2 + 1
        out = np.zeros(keep, complex)
        out[:min(keep, len(spec))] = spec[:min(keep, len(spec))]
        x = np.fft.irfft(out, m) * (m / len(x))
    return x


def _mel_matrix():
    """257 x 64 triangular weights, HTK mel, 125..7500 Hz, computed in the mel domain."""
    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)
    bins = mel(np.arange(257) * 8000.0 / 256)
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    rise = (bins[:, None] - lo) / (mid - lo)
    fall = (hi - bins[:, None]) / (hi - mid)
    m = np.maximum(0.0, np.minimum(rise, fall))
    m[0, :] = 0.0
    return m


MEL = _mel_matrix()
HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)


def window_start(first, last, fps):
    """First sample of the clip's window: centre round((first+last+1)*8000/fps), ties up."""
    return int(math.floor((first + last + 1) * 8000.0 / fps + 0.5)) - WIN // 2


def logmel_clip(samples, first, last, fps):
    """96 x 64 float32 log-mel of the clip over frames first..last (forward range)."""
    s0 = window_start(first, last, fps)
    w = np.zeros(WIN)
    a, b = max(s0, 0), min(s0 + WIN, len(samples))
    if b > a:
        w[a - s0:b - s0] = samples[a:b]
    idx = np.arange(96)[:, None] * 160 + np.arange(400)[None, :]
    mag = np.abs(np.fft.rfft(w[idx] * HANN, 512, axis=1))
    return np.log(mag @ MEL + 0.01).astype(np.float32)


# ---------------------------------------------------------------------------
# Images and MAT files
# ---------------------------------------------------------------------------
def read_rgb(path, size):
    """H x W x 3 uint8 at size (bilinear resize when the file differs; the engine's own resize
    is used when the frames already have the model size, as knockdata.py writes them)."""
    try:
        im = Image.open(path).convert("RGB")
    except OSError as e:
        raise DataError(f"{path}: cannot read the frame: {e}")
    if im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(im, np.uint8)


def read_gray(path):
    try:
        return np.asarray(Image.open(path).convert("L"), np.float64)
    except OSError as e:
        raise DataError(f"{path}: cannot read the map: {e}")


def read_mat(path, var="eyeMap"):
    """A 2-D real numeric or logical variable of a MAT v5 file (zlib-compressed or not), row-major."""
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}")
    if len(raw) < 128 or raw[126:128] != b"IM":
        raise DataError(f"{path}: not a little-endian MAT v5 file")
    dtypes = {1: "i1", 2: "u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 9: "<f8", 12: "<i8", 13: "<u8"}

    def elements(buf):
        off = 0
        while off + 8 <= len(buf):
            t, n = struct.unpack_from("<II", buf, off)
            if t >> 16:                       # small data element: 4 bytes inline
                yield t & 0xFFFF, buf[off + 4:off + 4 + (t >> 16)]
                off += 8
            else:
                yield t, buf[off + 8:off + 8 + n]
                off += 8 + n + ((-n) % 8 if t != 15 else 0)

    for t, data in elements(raw[128:]):
        if t == 15:
            try:
                data = zlib.decompress(data)
            except zlib.error as e:
                raise DataError(f"{path}: corrupt compressed element: {e}")
            t, data = next(elements(data))
        if t != 14:
            continue
        sub = list(elements(data))
        if len(sub) < 4:
            continue
        name = sub[2][1].decode("latin-1")
        if name != var:
            continue
        dims = np.frombuffer(sub[1][1], "<i4")
        if len(dims) != 2:
            raise DataError(f"{path}: {var} is not 2-D")
        if sub[0][1] and struct.unpack_from("<I", sub[0][1])[0] & 0x800:
            raise DataError(f"{path}: {var} is complex")
        dt, payload = sub[3]
        if dt not in dtypes:
            raise DataError(f"{path}: {var} has data type {dt}, which is not supported")
        a = np.frombuffer(payload, dtypes[dt]).astype(np.float64)
        if a.size != dims[0] * dims[1]:
            raise DataError(f"{path}: {var} holds {a.size} values for {dims[0]} x {dims[1]}")
        return a.reshape(dims[1], dims[0]).T
    raise DataError(f"{path}: no variable {var}")


# ---------------------------------------------------------------------------
# Layouts
# ---------------------------------------------------------------------------
class Video:
    """One video: frame, dense-map and fixation paths (1-based names), fps, audio path or None."""

    def __init__(self, db, name, nframes, fps, frame, dense, fix, wav):
        self.db, self.name, self.nframes, self.fps = db, name, nframes, fps
        self._frame, self._dense, self._fix, self.wav = frame, dense, fix, wav

    def frame_path(self, t):
        return self._frame(t + 1)

    def dense_path(self, t):
        return self._dense(t + 1)

    def fix_path(self, t):
        return self._fix(t + 1)

    def read_fix(self, t):
        p = self.fix_path(t)
        return read_mat(p) if p.endswith(".mat") else read_gray(p)


def read_fold_list(path):
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        raise DataError(f"{path}: cannot read the fold list: {e}")
    out = []
    for i, line in enumerate(lines, 1):
        f = line.split()
        if not f:
            continue
        try:
            if len(f) != 3:
                raise ValueError
            n, fps = int(f[1]), float(f[2])
            if n < 1 or not 0 < fps <= 1000:
                raise ValueError
        except ValueError:
            raise DataError(f"{path}:{i}: expected '<video> <nframes> <fps>', got '{line}'")
        out.append((f[0], n, fps))
    if not out:
        raise DataError(f"{path}: the fold list has no video")
    return out


def stavis_videos(root, dbs, kind, split):
    """Videos of the fold list of kind train/test, split 1..3 (0: the unnumbered list), for each
    database; split 1 falls back to the unnumbered list as the engine does (DIEM)."""
    vids = []
    for db in dbs:
        numbered = os.path.join(root, "fold_lists", f"{db}_list_{kind}_{split}_fps.txt")
        plain = os.path.join(root, "fold_lists", f"{db}_list_{kind}_fps.txt")
        path = numbered if split and os.path.exists(numbered) else plain
        if (split > 1 and path == plain) or not os.path.exists(path):
            raise DataError(f"{numbered if split else plain}: missing"
                            + (f" (nor is there {plain})" if split == 1 else "")
                            + f"; is {root} a dataset root in the STAViS layout with database {db}?")
        for name, n, fps in read_fold_list(path):
            base = os.path.join(root, "annotations", db, name)
            vids.append(Video(
                db, name, n, fps,
                lambda i, db=db, name=name: os.path.join(root, "video_frames", db, name, f"img_{i:05d}.jpg"),
                lambda i, base=base: os.path.join(base, "maps", f"eyeMap_{i:05d}.jpg"),
                lambda i, base=base: os.path.join(base, f"fixMap_{i:05d}.mat"),
                os.path.join(root, "video_audio", db, name, f"{name}.wav")))
    return vids


def dhf1k_videos(root, split, fps=30.0):
    """DHF1K layout: <root>/<split>/<video>/{images,maps,fixation}/%04d.png (split train or val);
    the frame rate from <video>/fps.txt when present, else fps (DHF1K is 30 fps)."""
    d = os.path.join(root, split)
    try:
        names = sorted(n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n)))
    except OSError as e:
        raise DataError(f"{d}: cannot list the {split} videos: {e}")
    if not names:
        raise DataError(f"{d}: no video folders")
    vids = []
    for name in names:
        base = os.path.join(d, name)
        n = len([f for f in os.listdir(os.path.join(base, "images")) if f.endswith(".png")])
        r = fps
        if os.path.exists(os.path.join(base, "fps.txt")):
            r = float(open(os.path.join(base, "fps.txt")).read().split()[0])
        wav = os.path.join(base, "audio.wav")
        vids.append(Video(
            "DHF1K", name, n, r,
            lambda i, base=base: os.path.join(base, "images", f"{i:04d}.png"),
            lambda i, base=base: os.path.join(base, "maps", f"{i:04d}.png"),
            lambda i, base=base: os.path.join(base, "fixation", f"{i:04d}.png"),
            wav if os.path.exists(wav) else None))
    return vids


# ---------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------
def clip_frames(t, nframes):
    """Frame indices of the clip whose map is frame t, and the forward range of its audio
    window: the sliding window of spec section 0 (time-reversed for t < 15, clamped to the
    video's last frame as the engine does for videos shorter than 30 frames)."""
    if t >= CLIP_T - 1:
        return list(range(t - CLIP_T + 1, t + 1)), (t - CLIP_T + 1, t)
    idx = [min(t + CLIP_T - 1 - k, nframes - 1) for k in range(CLIP_T)]
    return idx, (t, t + CLIP_T - 1)   # the audio window is not clamped (host/app/predict.c)


class ClipSource:
    """Clips, log-mels and targets of a list of videos at one model size, with decoded frames,
    maps and audio cached in memory (bounded by cache_mb)."""

    def __init__(self, videos, size, audio, cache_mb=2048):
        self.videos, self.size, self.audio = videos, size, audio
        self.cache, self.bytes, self.cap = {}, 0, cache_mb << 20

    def _get(self, key, make):
        v = self.cache.get(key)
        if v is None:
            v = make()
            if self.bytes + v.nbytes <= self.cap:
                self.cache[key] = v
                self.bytes += v.nbytes
        return v

    def frame(self, v, t):
        return self._get(("f", v.db, v.name, t), lambda: read_rgb(v.frame_path(t), self.size))

    def samples(self, v):
        if v.wav is None:
            raise DataError(f"{v.db}/{v.name}: no audio file, but the av variant needs one")
        return self._get(("a", v.db, v.name), lambda: read_wav(v.wav))

    def clip(self, v, t):
        """(3 x 16 x H x W float32 normalised as spec section 0, 1 x 96 x 64 log-mel or None)."""
        idx, (a, b) = clip_frames(t, v.nframes)
        x = np.stack([self.frame(v, i) for i in idx])                 # 16 x H x W x 3
        x = torch.from_numpy(x).permute(3, 0, 1, 2).float() * (2.0 / 255.0) - 1.0
        mel = None
        if self.audio:
            mel = torch.from_numpy(logmel_clip(self.samples(v), a, b, v.fps))[None]
        return x, mel

    def target(self, v, t):
        """The dense map of frame t at the model size (bilinear when the file differs), float32."""
        q = self._get(("d", v.db, v.name, t), lambda: read_gray(v.dense_path(t)).astype(np.float32))
        q = torch.from_numpy(q)
        if tuple(q.shape) != tuple(self.size):
            q = F.interpolate(q[None, None], size=self.size, mode="bilinear", align_corners=False)[0, 0]
        return q

    def batch(self, items):
        xs, mels, qs = [], [], []
        for v, t in items:
            x, m = self.clip(v, t)
            xs.append(x)
            mels.append(m)
            qs.append(self.target(v, t))
        return (torch.stack(xs), torch.stack(mels) if self.audio else None, torch.stack(qs)[:, None])


# ---------------------------------------------------------------------------
# The paper's loss and the evaluation protocol
# ---------------------------------------------------------------------------
EPS = 2.2204e-16


def saliency_loss(p, q):
    """KL - 0.1 CC - 0.1 SIM per map (spec section 7), averaged over the maps whose target has
    mass; p, q: N x 1 x H x W. Returns (loss, number of maps used)."""
    # float64, and a floor far below any sigmoid output that matters, so a map whose logits all
    # underflow gives a finite loss instead of 0/0
    p = p.flatten(1).double().clamp_min(1e-30)
    q = q.flatten(1).double()
    ok = q.sum(1) > 0
    if not ok.any():
        return None, 0
    p, q = p[ok], q[ok]
    pn = p / p.sum(1, keepdim=True)
    qn = q / q.sum(1, keepdim=True)
    kl = (qn * torch.log(EPS + qn / (pn + EPS))).sum(1)
    a = p - p.mean(1, keepdim=True)
    b = q - q.mean(1, keepdim=True)
    # the 1e-12 keeps CC and its gradient finite and moderate when a map is (nearly) constant;
    # a map that varies at all has a sum of squared deviations many orders of magnitude larger
    cc = (a * b).sum(1) / (torch.sqrt((a * a).sum(1) + 1e-12) * torch.sqrt((b * b).sum(1)))
    sim = torch.minimum(pn, qn).sum(1)
    return (kl - 0.1 * cc - 0.1 * sim).mean().float(), int(ok.sum())


def quantize_png(sal):
    """The map as the engine writes its PNG (host/io/imageout.c): float32 scale 255/max, +0.5, truncated."""
    s = sal.astype(np.float32)
    mx = s.max()
    k = np.float32(255.0) / mx if mx > 0 else np.float32(0)
    v = s * k
    return np.where(v > 255, 255, np.floor(v + np.float32(0.5))).astype(np.uint8)
