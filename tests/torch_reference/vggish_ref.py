#!/usr/bin/env python3
"""Independent numpy reference for host/io/audio.c: the VGGish log-mel of one clip (spec section 1, steps 3-6).

Usage:
  vggish_ref.py --wav F.wav --fps R --frames A:B --out MEL.npy
  vggish_ref.py --raw16k SAMPLES.npy --fps R --frames A:B --out MEL.npy

F.wav must be 16-bit PCM at 16 kHz (read with Python's `wave`, channels
averaged, int16 / 32768 as AudioSet's vggish_input does); SAMPLES.npy is a
1-D array already at 16 kHz. Writes a 1 x 1 x 96 x 64 float32 array (the
shape `caspnet forward --logmel` reads); the computation itself is float64.

Written from the description of AudioSet's VGGish front end (mel_features.py:
framing without padding, periodic Hann, rfft magnitude at fft_length 512,
HTK mel matrix with bin 0 zeroed, log with offset 0.01) using whole-array
numpy operations, so that it shares no code or loop structure with the C.
"""
import argparse
import math
import sys
import wave

import numpy as np

RATE = 16000
WIN = 400          # 25 ms STFT frame
HOP = 160          # 10 ms hop
NFFT = 512         # next power of two above WIN
BANDS = 64
F_LO, F_HI = 125.0, 7500.0
OFFSET = 0.01
CLIP = 15600       # 96 frames: 400 + 95 * 160
HALF = CLIP // 2


def hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_weights():
    """257 x 64 triangular weights, computed in the mel domain over bin centres."""
    bins_mel = hz_to_mel(np.linspace(0.0, RATE / 2.0, NFFT // 2 + 1))
    edges = np.linspace(hz_to_mel(F_LO), hz_to_mel(F_HI), BANDS + 2)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lo[None, :]) / (mid - lo)[None, :]
    falling = (hi[None, :] - bins_mel[:, None]) / (hi - mid)[None, :]
    w = np.clip(np.minimum(rising, falling), 0.0, None)
    w[0, :] = 0.0  # the DC bin never contributes (VGGish convention)
    return w


def log_mel(samples):
    """96 x 64 log-mel of exactly 15 600 samples at 16 kHz, in float64."""
    x = np.asarray(samples, dtype=np.float64)
    assert x.shape == (CLIP,)
    n_frames = 1 + (len(x) - WIN) // HOP
    idx = HOP * np.arange(n_frames)[:, None] + np.arange(WIN)[None, :]
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WIN) / WIN)  # periodic
    mag = np.abs(np.fft.rfft(x[idx] * hann, n=NFFT, axis=1))
    return np.log(mag @ mel_weights() + OFFSET)


def window(signal, first, last, fps):
    """The 15 600 samples centred on the clip covering frames first..last, zero outside the signal."""
    # same operation order as the C (8000 = 16000 / 2), and ties rounded away from zero
    centre = int(math.floor((first + last + 1) * 8000.0 / fps + 0.5))
    start = centre - HALF
    out = np.zeros(CLIP, dtype=np.float64)
    lo, hi = max(start, 0), min(start + CLIP, len(signal))
    if hi > lo:
        out[lo - start:hi - start] = signal[lo:hi]
    return out


def read_wav16(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"{path}: only 16-bit PCM is supported here")
        if w.getframerate() != RATE:
            sys.exit(f"{path}: must be {RATE} Hz (this reference does not resample)")
        ch = w.getnchannels()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return raw.reshape(-1, ch).mean(axis=1) / 32768.0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--wav")
    src.add_argument("--raw16k")
    p.add_argument("--fps", type=float, required=True)
    p.add_argument("--frames", required=True, help="A:B, A < B")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    first, last = (int(v) for v in a.frames.split(":"))
    if not 0 <= first < last or not a.fps > 0:
        sys.exit("need 0 <= A < B and fps > 0")
    sig = read_wav16(a.wav) if a.wav else np.load(a.raw16k).astype(np.float64).ravel()
    mel = log_mel(window(sig, first, last, a.fps))
    np.save(a.out, mel.astype(np.float32).reshape(1, 1, 96, 64))


if __name__ == "__main__":
    main()
