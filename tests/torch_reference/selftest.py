#!/usr/bin/python3
"""Self-test of the PyTorch reference (tests/torch_reference): run as /usr/bin/python3 selftest.py.

1. the CPC adjoint check (test_cpc_autograd.py);
2. the model's state_dict keys / shapes equal spec_keys() (derived separately from the
   spec) for both variants, without num_batches_tracked; parameter counts;
3. safetensors round trips in F32, F16 and BF16 (checked against torch's own conversions);
4. make_weights.py for av (--calib 16x64x96,2x128x192) and v (--calib 24x64x96);
5. caspnet_ref.py on a batch of 2 clips of 16x64x96, both variants, both attention modes:
   output shape, finiteness, at least half the pixels in (0.01, 0.99), dump files and
   their shapes, linear != quadratic (av), linear == quadratic (v, no attention),
   zeroed and silent (log 0.01) log-mel change the av map, F_i == V_i and F4p == V4 (v);
6. clear errors for a bad clip size and a missing log-mel.
Exits non-zero on the first failure. Prints timings.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import caspnet_ref as R  # noqa: E402
import st_io  # noqa: E402

PY = sys.executable
N, H, W = 2, 64, 96
T0 = time.time()


def step(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        print(f"selftest: FAIL: {msg}", flush=True)
        sys.exit(1)
    print(f"  ok  {msg}", flush=True)


def run(args, expect_rc=0):
    t = time.time()
    p = subprocess.run([PY] + args, capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    if p.returncode != expect_rc:
        print(out)
        check(False, f"{os.path.basename(args[0])} exited {p.returncode}, expected {expect_rc}: {' '.join(args[1:])}")
    return out, time.time() - t


def make_inputs(path_clip, path_mel, seed=7):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 16)[None, None, :, None, None]
    y = np.linspace(-1, 1, H)[None, None, None, :, None]
    x = np.linspace(-1, 1, W)[None, None, None, None, :]
    ph = rng.uniform(0, 2 * np.pi, size=(N, 3, 1, 1, 1))
    clip = 0.5 * np.sin(3 * x - 2 * y + 5 * t + ph) + 0.4 * rng.uniform(-1, 1, size=(N, 3, 16, H, W))
    np.save(path_clip, np.clip(clip, -1, 1).astype(np.float32))
    np.save(path_mel, rng.normal(-2.0, 1.5, size=(N, 1, 96, 64)).astype(np.float32))


def informative(s):
    return float(((s > 0.01) & (s < 0.99)).mean())


def main():
    torch.set_num_threads(2)
    wd = tempfile.mkdtemp(prefix="caspnet_selftest_")
    try:
        return body(wd)
    finally:
        for root, dirs, files in os.walk(wd, topdown=False):
            for f in files:
                os.remove(os.path.join(root, f))
            for d in dirs:
                os.rmdir(os.path.join(root, d))
        os.rmdir(wd)


def body(wd):
    step("CPC adjoint (autograd, float64)")
    out, _ = run([os.path.join(HERE, "test_cpc_autograd.py")])
    check(True, out.splitlines()[-1])

    step("weight keys")
    counts = {}
    for variant in ("av", "v"):
        m = R.CASPNet(variant)
        got = R.state_keys(m)
        want = R.spec_keys(variant)
        first = next((f"{a} vs {b}" for a, b in zip(got, want) if a != b), None)
        check(got == want, f"{variant}: state_dict keys/shapes equal spec_keys ({len(want)} tensors)"
              + (f"; first difference {first}" if first else ""))
        check(not any("num_batches_tracked" in k for k, _ in got), f"{variant}: no num_batches_tracked")
        counts[variant] = (sum(p.numel() for p in m.parameters()),
                           sum(int(np.prod(s)) for _, s in want))
        del m
    names = {k for k, _ in R.spec_keys("av")}
    for k in ("video.base.0.conv_s.weight", "video.base.0.bn_s.running_mean", "video.base.5.branch1.1.conv_t.weight",
              "video.base.15.branch3.1.bn.running_var", "audio.features.0.weight", "audio.embeddings.0.weight",
              "avim.1.aspp.b0.conv.weight", "avim.1.aspp.pool.bn.bias", "avim.1.aspp.proj.conv.weight",
              "avim.1.audio_proj.weight", "avim.1.q.weight", "cpc.phi1.weight", "cpc.theta1.weight",
              "cpc.audio_proj.weight", "dec.4.dense.0.bn.weight", "dec.4.dense.0.conv.weight", "dec.4.trans.conv.weight",
              "dec.4.gen.bn.weight", "dec.4.gen.conv.bias", "dec.1.head.weight", "dec.1.head.bias"):
        if k not in names:
            check(False, f"key {k} present")
    check(True, "example keys from the brief all present")
    print(f"  parameters: av {counts['av'][0]:,} learnable, {counts['av'][1]:,} stored; "
          f"v {counts['v'][0]:,} learnable, {counts['v'][1]:,} stored")

    step("safetensors round trips")
    g = torch.Generator().manual_seed(0)
    ts = {"a": torch.randn(3, 5, generator=g) * 100, "b": torch.tensor([0.0, -0.0, 1e-8, 65504.0, -3.5, 1.0 / 3]),
          "c": torch.randn(2, 1, 1, 3, 3, generator=g), "d": torch.zeros(0)}
    for dt, conv in (("F32", lambda x: x), ("F16", lambda x: x.half().float()), ("BF16", lambda x: x.bfloat16().float())):
        p = os.path.join(wd, f"rt_{dt}.safetensors")
        st_io.save(p, ts, {"format": "caspnet", "version": "1", "variant": "av"}, dt)
        back, meta = st_io.load(p)
        same = list(back) == list(ts) and all(torch.equal(back[k], conv(ts[k])) for k in ts)
        check(same and meta == {"format": "caspnet", "version": "1", "variant": "av"},
              f"{dt}: values equal torch's rounding, keys, order and metadata kept")
        with open(p, "rb") as f:
            hl = int.from_bytes(f.read(8), "little")
        check(hl % 8 == 0, f"{dt}: header length {hl} is a multiple of 8")

    step("make_weights.py")
    wav = os.path.join(wd, "av.safetensors")
    wv = os.path.join(wd, "v.safetensors")
    # small two-size calibration: exercises the lock-step path at a fraction of the default's cost
    out, dt_av = run([os.path.join(HERE, "make_weights.py"), "--variant", "av", "--seed", "3", "--out", wav,
                      "--calib", "16x64x96,2x128x192"])
    print("  " + out.replace("\n", "\n  "))
    out, dt_v = run([os.path.join(HERE, "make_weights.py"), "--variant", "v", "--seed", "3", "--out", wv,
                     "--calib", "24x64x96"])
    print("  " + out.replace("\n", "\n  "))
    print(f"  make_weights: av {dt_av:.1f}s, v {dt_v:.1f}s")
    tensors, meta = st_io.load(wav)
    check(meta == {"format": "caspnet", "version": "1", "variant": "av"}, f"av metadata {meta}")
    check([(k, tuple(v.shape)) for k, v in tensors.items()] == R.spec_keys("av"), "av file keys equal spec_keys")
    rv = [v for k, v in tensors.items() if k.endswith("running_var")]
    check(all(float(v.min()) > 0 for v in rv), "all running_var positive")
    p16 = os.path.join(wd, "av_bf16.safetensors")
    st_io.save(p16, tensors, meta, "BF16")
    b16, _ = st_io.load(p16)
    check(all(torch.equal(b16[k], tensors[k].bfloat16().float()) for k in tensors), "av weights survive a BF16 round trip")
    del tensors, b16
    os.remove(p16)

    step("caspnet_ref.py at 2 x 3 x 16 x 64 x 96")
    clip, mel = os.path.join(wd, "clip.npy"), os.path.join(wd, "mel.npy")
    make_inputs(clip, mel)
    zero, silent = os.path.join(wd, "zero.npy"), os.path.join(wd, "silent.npy")
    np.save(zero, np.zeros((N, 1, 96, 64), np.float32))
    np.save(silent, np.full((N, 1, 96, 64), np.log(0.01), np.float32))
    ref = os.path.join(HERE, "caspnet_ref.py")
    maps = {}
    runs = [("av-linear", wav, mel, "linear", True), ("av-quadratic", wav, mel, "quadratic", True),
            ("av-zero", wav, zero, "linear", False), ("av-silent", wav, silent, "linear", False),
            ("v-linear", wv, None, "linear", True), ("v-quadratic", wv, None, "quadratic", False)]
    for tag, wf, m, att, dump in runs:
        args = [ref, "--weights", wf, "--clip", clip, "--out", os.path.join(wd, f"{tag}.npy"), "--attention", att,
                "--threads", "2"]
        if m:
            args += ["--logmel", m]
        if dump:
            args += ["--dump-dir", os.path.join(wd, f"dump-{tag}")]
        out, dt = run(args)
        s = np.load(os.path.join(wd, f"{tag}.npy"))
        maps[tag] = s
        print(f"  {tag}: {dt:.1f}s  {out.splitlines()[-1]}")
        check(s.shape == (N, 1, H, W) and s.dtype == np.float32, f"{tag}: map shape {s.shape} {s.dtype}")
        check(bool(np.isfinite(s).all()) and float(s.min()) >= 0 and float(s.max()) <= 1, f"{tag}: finite, in [0, 1]")
        frac = informative(s)
        check(frac >= 0.5, f"{tag}: {frac:.3f} of pixels in (0.01, 0.99)")

    expect = {"X1": (192, 8, 16, 24), "X2": (480, 8, 8, 12), "X3": (832, 4, 4, 6), "X4": (1024, 2, 2, 3),
              "fA": (128,), "V1": (256, 8, 16, 24), "V2": (256, 8, 8, 12), "V3": (256, 4, 4, 6), "V4": (256, 2, 2, 3),
              "F1": (256, 8, 16, 24), "F2": (256, 8, 8, 12), "F3": (256, 4, 4, 6), "F4": (256, 2, 2, 3),
              "F4p": (256, 2, 2, 3), "sal": (1, H, W)}
    for tag in ("av-linear", "av-quadratic", "v-linear"):
        d = os.path.join(wd, f"dump-{tag}")
        present = sorted(f[:-4] for f in os.listdir(d))
        want = sorted(k for k in expect if not (tag.startswith("v") and k == "fA"))
        check(present == want, f"{tag}: dump files {present}")
        bad = [k for k in want if np.load(os.path.join(d, f"{k}.npy")).shape != (N,) + expect[k]]
        check(not bad, f"{tag}: dump shapes as expected" + (f" (wrong: {bad})" if bad else ""))
        check(np.array_equal(np.load(os.path.join(d, "sal.npy")), maps[tag]), f"{tag}: sal.npy equals --out")
    dv = os.path.join(wd, "dump-v-linear")
    same = all(np.array_equal(np.load(f"{dv}/F{i}.npy"), np.load(f"{dv}/V{i}.npy")) for i in range(1, 5))
    check(same and np.array_equal(np.load(f"{dv}/F4p.npy"), np.load(f"{dv}/V4.npy")), "v: F_i == V_i and F4p == V4")
    da = os.path.join(wd, "dump-av-linear")
    dq = os.path.join(wd, "dump-av-quadratic")
    check(all(np.array_equal(np.load(f"{da}/{k}.npy"), np.load(f"{dq}/{k}.npy")) for k in ("X4", "fA", "V1")),
          "av: encoders and ASPP do not depend on the attention mode")

    d = float(np.abs(maps["av-linear"] - maps["av-quadratic"]).max())
    check(d > 1e-3, f"av: linear vs quadratic maps differ (max {d:.3e})")
    d = float(np.abs(maps["v-linear"] - maps["v-quadratic"]).max())
    check(d == 0.0, f"v: attention mode has no effect (max {d:.3e})")
    for tag in ("av-zero", "av-silent"):
        d = float(np.abs(maps["av-linear"] - maps[tag]).max())
        check(d > 1e-3, f"av: {tag.split('-')[1]} log-mel changes the map (max {d:.3e})")

    step("input errors")
    bad = os.path.join(wd, "bad.npy")
    np.save(bad, np.zeros((1, 3, 16, 80, 96), np.float32))
    out, _ = run([ref, "--weights", wv, "--clip", bad, "--out", os.path.join(wd, "x.npy")], expect_rc=2)
    check("multiples of 32" in out, f"H = 80 rejected: {out.splitlines()[-1]}")
    np.save(bad, np.zeros((1, 3, 8, 64, 96), np.float32))
    out, _ = run([ref, "--weights", wv, "--clip", bad, "--out", os.path.join(wd, "x.npy")], expect_rc=2)
    check("N x 3 x 16" in out, f"8 frames rejected: {out.splitlines()[-1]}")
    out, _ = run([ref, "--weights", wav, "--clip", clip, "--out", os.path.join(wd, "x.npy")], expect_rc=2)
    check("logmel" in out, f"av without log-mel rejected: {out.splitlines()[-1]}")

    step(f"selftest: PASS in {time.time() - T0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
