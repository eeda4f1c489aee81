#!/usr/bin/python3
"""Writes a spec-conformant, calibrated random CASP-Net weights file, entirely in Python.

  /usr/bin/python3 tests/torch_reference/make_weights.py --variant av|v --seed S --out F.safetensors
      [--dtype F32|F16|BF16] [--calib 24x64x96,2x224x384] [--res-scale 0.1] [--head-std 1.0]

Initialisation (MODEL.md section 9):
  * convolutions and linear layers: He-normal, std sqrt(2 / fan_in) (fan_in = inputs per
    output; C_in * k^3 for ConvTranspose3d); their biases ~ N(0, 0.05);
  * BatchNorm weight ~ U(0.5, 1.5), bias ~ N(0, 0.1);
  * cpc.theta1 / theta2 weights x0.1 and biases ~ N(0, 0.01) (small top-down residual);
  * calibration pass (linear attention) on synthetic clips + log-mels (see synthetic_inputs):
    every BatchNorm's running_mean / running_var become the per-channel batch mean /
    (biased) variance of its actual input, layer by layer in forward order (the ASPP
    image-pool BN uses the statistics of its 1x1x1 conv over all positions, since the
    pooled input has a single value per clip); each avim.{i}.out weight is scaled so
    the residual out(A) has res_scale times the standard deviation of V_i; the head is
    scaled and biased so the calibration logits have mean 0 and std head_std.
    By default the pass runs on 24 clips of 16x64x96 and, in lock-step, 2 clips of
    16x224x384, pooling each layer's statistics with equal weight per size: the ASPP
    dilations (up to 6) on the small stage-3/4 maps see mostly padding at 64x96 but not at
    224x384, so statistics from one size alone mis-normalise the other and saturate the
    map there. `--calib 24x64x96` calibrates at 64x96 only (faster; fine for 64x96 runs).
The file is written with metadata format=caspnet, version=1, variant=..., in F32 by
default, or the same tensors rounded to F16 / BF16.
"""
import argparse
import math
import os
import sys
import threading
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import caspnet_ref as R  # noqa: E402
import st_io  # noqa: E402


def synthetic_inputs(n, h, w, seed):
    """A diverse batch of synthetic clips in [-1, 1] (N x 3 x 16 x h x w) and log-mels
    (N x 1 x 96 x 64). Per clip: a random brightness offset, 1-3 moving sinusoidal gratings
    of random frequency, a smooth random texture (uniform noise on a coarse grid of random
    scale, trilinearly upsampled) and uniform pixel noise, each with a random strength (from
    absent to dominant), clipped to [-1, 1]. Log-mel: a random level, a smooth time / band
    pattern and Gaussian noise of random strength."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 16)[:, None, None]
    y = np.linspace(-1, 1, h)[None, :, None]
    x = np.linspace(-1, 1, w)[None, None, :]
    clip = np.zeros((n, 3, 16, h, w), np.float64)
    for i in range(n):
        a_wave, a_tex, a_noise = rng.uniform(0.0, 0.8), rng.uniform(0.0, 0.8), rng.uniform(0.02, 1.0)
        waves = [(rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-8, 8)) for _ in range(rng.integers(1, 4))]
        offset = rng.uniform(-0.3, 0.3)
        cell = rng.uniform(2.0, 24.0)  # texture grain in pixels
        gt, gh, gw = int(rng.integers(2, 9)), max(2, int(round(h / cell))), max(2, int(round(w / cell)))
        coarse = torch.from_numpy(rng.uniform(-1, 1, size=(1, 3, gt, gh, gw)))
        tex = F.interpolate(coarse, size=(16, h, w), mode="trilinear", align_corners=False)[0].numpy()
        tex /= max(float(np.abs(tex).max()), 1e-6)
        for c in range(3):
            s = np.zeros((16, h, w))
            for fx, fy, ft in waves:
                s += np.sin(fx * x + fy * y + ft * t + rng.uniform(0, 2 * np.pi)) / len(waves)
            clip[i, c] = offset + a_wave * s + a_tex * tex[c] + a_noise * rng.uniform(-1, 1, size=(16, h, w))
    clip = np.clip(clip, -1, 1).astype(np.float32)
    tt = np.linspace(0, 1, 96)[:, None]
    bb = np.linspace(0, 1, 64)[None, :]
    mel = np.zeros((n, 1, 96, 64))
    for i in range(n):
        mel[i, 0] = (rng.uniform(-4.0, 0.0)
                     + rng.uniform(0, 1.5) * np.sin(rng.uniform(2, 12) * tt + rng.uniform(0, 6.3))
                     * np.cos(rng.uniform(2, 12) * bb) + rng.uniform(0.2, 2.0) * rng.normal(size=(96, 64)))
    return torch.from_numpy(clip), torch.from_numpy(mel.astype(np.float32))


def init_random(model, gen):
    def normal(t, std):
        with torch.no_grad():
            t.copy_(torch.randn(t.shape, generator=gen) * std)

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            fan_in = m.weight[0].numel()
            normal(m.weight, math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                normal(m.bias, 0.05)
        elif isinstance(m, nn.ConvTranspose3d):
            w = m.weight  # C_in x C_out x k x k x k: each output sums C_in * k^3 inputs
            fan_in = w.shape[0] * w[0, 0].numel()
            normal(w, 0.1 * math.sqrt(2.0 / fan_in))
            normal(m.bias, 0.01)
        elif isinstance(m, R.BN):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)


def calibrate(model, batches, res_scale, head_std):
    """One calibration pass per (clip, logmel) batch, in lock-step threads when there are
    several (e.g. different sizes), pooling statistics with equal weight per batch."""
    errors = []
    with R.Calibration(res_scale, head_std, groups=len(batches)) as cal:
        def run(i, clip, mel):
            cal.local.index = i
            try:
                with torch.no_grad():
                    model(clip, mel if model.variant == "av" else None, "linear")
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)
                if cal.barrier is not None:
                    cal.barrier.abort()
        if len(batches) == 1:
            run(0, *batches[0])
        else:
            threads = [threading.Thread(target=run, args=(i, c, m)) for i, (c, m) in enumerate(batches)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    if errors:
        raise errors[0]
    missing = [name for name, m in model.named_modules() if isinstance(m, R.BN) and id(m) not in cal.done]
    if missing:
        raise RuntimeError(f"calibration never reached BatchNorm(s) {missing[:5]}")
    return cal


def informative_fraction(s):
    s = s.numpy() if isinstance(s, torch.Tensor) else s
    return float(((s > 0.01) & (s < 0.99)).mean())


def make(variant, seed, calib=((24, 64, 96), (2, 224, 384)), res_scale=0.1, head_std=1.0, verbose=True):
    """Random, calibrated model. calib lists (clips, H, W) calibration batches."""
    gen = torch.Generator().manual_seed(seed)
    model = R.CASPNet(variant)
    init_random(model, gen)
    model.eval()
    batches = [synthetic_inputs(n, h, w, seed + 1000 + 17 * i) for i, (n, h, w) in enumerate(calib)]
    cal = calibrate(model, batches, res_scale, head_std)
    if verbose:
        # check on fresh inputs (different seed) that the map is informative
        n, h, w = calib[0]
        clip2, mel2 = synthetic_inputs(2, h, w, seed + 2000)
        with torch.inference_mode():
            s = model(clip2, mel2 if variant == "av" else None, "linear")
        small = min(float(m.running_var.min()) for m in model.modules() if isinstance(m, R.BN))
        print(f"make_weights: variant {variant} seed {seed}: calibrated {len(cal.done)} layers on "
              f"{', '.join(f'{n}x{h}x{w}' for n, h, w in calib)}; smallest running_var {small:.3e}; "
              f"fresh {h}x{w} map in (0.01,0.99): {informative_fraction(s):.3f}, "
              f"range [{float(s.min()):.4f}, {float(s.max()):.4f}]")
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", choices=["av", "v"], default="av")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    p.add_argument("--calib", default="24x64x96,2x224x384",
                   help="calibration batches NxHxW, comma-separated (several run in lock-step and "
                        "are pooled with equal weight, e.g. 24x64x96,1x224x384)")
    p.add_argument("--res-scale", type=float, default=0.1)
    p.add_argument("--head-std", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(max(1, a.threads))
    calib = []
    for item in a.calib.split(","):
        try:
            n, h, w = (int(v) for v in item.lower().split("x"))
        except ValueError:
            p.error(f"--calib item '{item}' is not NxHxW")
        if n < 1 or h <= 0 or w <= 0 or h % 32 or w % 32:
            p.error(f"--calib item '{item}': N >= 1, H and W positive multiples of 32")
        calib.append((n, h, w))
    t0 = time.time()
    model = make(a.variant, a.seed, calib, a.res_scale, a.head_std)
    sd = R.weights_dict(model)
    if [(k, tuple(v.shape)) for k, v in sd.items()] != R.spec_keys(a.variant):
        raise RuntimeError("internal error: model keys differ from spec_keys")
    st_io.save(a.out, sd, {"format": "caspnet", "version": "1", "variant": a.variant}, a.dtype)
    n = sum(v.numel() for v in sd.values())
    print(f"make_weights: wrote {a.out} ({len(sd)} tensors, {n} values, {a.dtype}) in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
