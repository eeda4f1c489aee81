#!/usr/bin/python3
"""Times the PyTorch reference CASP-Net (tests/torch_reference/caspnet_ref.py) per layer group.

  /usr/bin/python3 bench/pytorch_baseline.py [--weights W.safetensors | --random] [--seed S]
      [--size HxW] [--reps N] [--threads N] [--attention linear|quadratic]
      [--device cpu|cuda] [--tf32 on|off] [--json FILE]

The counterpart of `caspnet bench` (batch 1): one warm-up pass, then N timed passes of one
16 x H x W clip under torch.inference_mode, reporting min / median / max seconds per clip
and, per layer group, the median over the passes of the group's time. The groups are those
of `caspnet bench`, cut at the same places of the reference model:

  S3D.1..S3D.4   video.base layers 0-3, 4-6, 7-12, 13-15
  VGGish         model.audio
  ASPP.i         model.avim[i].aspp
  attention.i    the rest of model.avim[i] (audio_proj, k, q, v, the attention, out + residual)
  CPC            model.cpc
  decoder.k      model.dec[k]; decoder.1 also the head, final resize and sigmoid

Groups are timed with forward pre / post hooks on those submodules that read
time.perf_counter() (after torch.cuda.synchronize() on a GPU). Whatever falls outside every
group (the input check, Python glue) is shown as "(other)".

The model is the reference exactly as shipped and is not modified: its matrix products go
through 1x1 convolutions, because Debian's torch 1.13 links only the generic reference BLAS
while its oneDNN convolutions are ~10x faster. Weights: a caspnet safetensors file, or with
--random (also the default without --weights) random av weights initialised like
tests/torch_reference/make_weights.py (init_random, no calibration pass). The input is the seeded
synthetic clip + log-mel of make_weights.synthetic_inputs.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch_reference"))

import torch  # noqa: E402

import caspnet_ref as R  # noqa: E402
import make_weights as MW  # noqa: E402

S3D_STAGES = (("S3D.1", 0, 3), ("S3D.2", 4, 6), ("S3D.3", 7, 12), ("S3D.4", 13, 15))


def parse_size(s):
    try:
        h, w = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size '{s}' is not HxW")
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"--size '{s}': H and W must be positive multiples of 32")
    return h, w


class GroupTimer:
    """Forward pre / post hooks that accumulate seconds per group name for one pass."""

    def __init__(self, sync):
        self.sync = sync
        self.t = {}
        self.start = {}
        self.handles = []

    def now(self):
        self.sync()
        return time.perf_counter()

    def reset(self):
        self.t = {}
        self.start = {}

    def add(self, name, seconds):
        self.t[name] = self.t.get(name, 0.0) + seconds

    def span(self, name, first, last=None):
        """Times from the call of module `first` to the return of module `last` (default first)."""
        last = first if last is None else last

        def pre(_m, _args):
            self.start[name] = self.now()

        def post(_m, _args, _out):
            self.add(name, self.now() - self.start.pop(name))
        self.handles.append(first.register_forward_pre_hook(pre))
        self.handles.append(last.register_forward_hook(post))

    def install(self, model):
        base = model.video.base
        for name, a, b in S3D_STAGES:
            self.span(name, base[a], base[b])
        if model.variant == "av":
            self.span("VGGish", model.audio)
        for i in range(1, 5):
            avim = model.avim[str(i)]
            self.span(f"ASPP.{i}", avim.aspp)
            if model.variant == "av":
                self.span(f"avim.{i}", avim)   # attention.i = avim.i - ASPP.i
        if model.variant == "av":
            self.span("CPC", model.cpc)
        for k in (4, 3, 2, 1):
            self.span(f"decoder.{k}", model.dec[str(k)])

        # decoder.1 also covers the head, the final resize and the sigmoid: from the
        # return of dec[1] to the return of the whole model.
        def dec1_end(_m, _args, _out):
            self.start["tail"] = self.now()

        def model_end(_m, _args, _out):
            if "tail" in self.start:
                self.add("decoder.1", self.now() - self.start.pop("tail"))
        self.handles.append(model.dec["1"].register_forward_hook(dec1_end))
        self.handles.append(model.register_forward_hook(model_end))

    def groups(self, variant):
        """The pass's (name, seconds) in caspnet bench order."""
        t = dict(self.t)
        out = [(n, t.get(n, 0.0)) for n, _, _ in S3D_STAGES]
        if variant == "av":
            out.append(("VGGish", t.get("VGGish", 0.0)))
        for i in range(1, 5):
            out.append((f"ASPP.{i}", t.get(f"ASPP.{i}", 0.0)))
            if variant == "av":
                out.append((f"attention.{i}", t.get(f"avim.{i}", 0.0) - t.get(f"ASPP.{i}", 0.0)))
        if variant == "av":
            out.append(("CPC", t.get("CPC", 0.0)))
        for k in (4, 3, 2, 1):
            out.append((f"decoder.{k}", t.get(f"decoder.{k}", 0.0)))
        return out


def build_model(a):
    if a.weights:
        model, meta = R.load_model(a.weights)
        return model, os.path.abspath(a.weights)
    gen = torch.Generator().manual_seed(a.seed)
    model = R.CASPNet("av")
    MW.init_random(model, gen)
    model.eval()
    return model, f"random av (make_weights.init_random, seed {a.seed}, uncalibrated)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[6:]))
    w = p.add_mutually_exclusive_group()
    w.add_argument("--weights", help="caspnet safetensors weights file")
    w.add_argument("--random", action="store_true",
                   help="random av weights (make_weights.init_random, no calibration); the default")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and the input (0)")
    p.add_argument("--size", type=parse_size, default=(224, 384), help="HxW of the clip (224x384)")
    p.add_argument("--reps", type=int, default=5, help="timed passes after the warm-up (5)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (2)")
    p.add_argument("--attention", choices=["linear", "quadratic"], default="linear")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--tf32", choices=["on", "off"], default="off",
                   help="TF32 in cuDNN convolutions and CUDA matmuls (GPU only; default off)")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args(argv)
    if a.reps < 1:
        p.error("--reps must be at least 1")
    if a.threads < 1:
        p.error("--threads must be at least 1")
    torch.set_num_threads(a.threads)
    if a.device == "cuda":
        if not torch.cuda.is_available():
            print("pytorch_baseline: error: --device cuda but torch.cuda.is_available() is False "
                  f"(torch {torch.__version__})", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = a.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = a.tf32 == "on"
        torch.backends.cudnn.benchmark = False
        sync = torch.cuda.synchronize
        dev_name = torch.cuda.get_device_name(0)
    else:
        sync = lambda: None  # noqa: E731
        dev_name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        dev_name = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
    H, W = a.size
    try:
        t0 = time.perf_counter()
        model, wdesc = build_model(a)
        clip, mel = MW.synthetic_inputs(1, H, W, a.seed + 1)
        if model.variant != "av":
            mel = None
        model = model.to(a.device)
        clip = clip.to(a.device)
        mel = mel.to(a.device) if mel is not None else None
        t_load = time.perf_counter() - t0
    except (ValueError, OSError) as e:
        print(f"pytorch_baseline: error: {e}", file=sys.stderr)
        return 2
    timer = GroupTimer(sync)
    timer.install(model)
    walls, per_pass = [], []
    with torch.inference_mode():
        for r in range(a.reps + 1):   # pass 0 is the warm-up
            timer.reset()
            sync()
            t0 = time.perf_counter()
            sal = model(clip, mel, a.attention)
            sync()
            wall = time.perf_counter() - t0
            if r > 0:
                walls.append(wall)
                per_pass.append(timer.groups(model.variant))
    s = sal.float().cpu()
    finite = bool(torch.isfinite(s).all())
    names = [n for n, _ in per_pass[0]]
    gmed = {n: statistics.median(pp[i][1] for pp in per_pass) for i, n in enumerate(names)}
    other = statistics.median(wl - sum(v for _, v in pp) for wl, pp in zip(walls, per_pass))
    med, mn, mx = statistics.median(walls), min(walls), max(walls)
    tf32 = a.tf32 if a.device == "cuda" else "n/a"
    omp_wait = os.environ.get("OMP_WAIT_POLICY", "(unset)")
    print(f"== PyTorch {torch.__version__} on {a.device} ({dev_name}), {torch.get_num_threads()} threads, "
          f"attention {a.attention}, TF32 {tf32}, OMP_WAIT_POLICY {omp_wait}")
    print(f"weights: {wdesc}; load + input {t_load:.1f} s")
    print(f"batch 1, 16 x {H} x {W}: min {mn:.3f} s, median {med:.3f} s, max {mx:.3f} s per clip "
          f"({a.reps} passes after a warm-up); output finite: {finite}, "
          f"range [{float(s.min()):.4f}, {float(s.max()):.4f}]")
    total = sum(gmed.values()) + max(other, 0.0)
    print(f"{'layer group':<14} {'ms':>10} {'share':>7}")
    for n in names:
        print(f"{n:<14} {gmed[n] * 1e3:10.1f} {100 * gmed[n] / total:6.1f}%")
    print(f"{'(other)':<14} {other * 1e3:10.1f} {100 * max(other, 0.0) / total:6.1f}%")
    print(f"{'total':<14} {(sum(gmed.values()) + other) * 1e3:10.1f} {100.0:6.1f}%  "
          f"(sum of group medians + other; wall median {med * 1e3:.1f} ms)")
    if a.json:
        doc = {
            "framework": "pytorch",
            "torch_version": torch.__version__,
            "device": a.device,
            "device_name": dev_name,
            "threads": torch.get_num_threads(),
            "attention": a.attention,
            "tf32": tf32,
            "omp_wait_policy": omp_wait,
            "weights": wdesc,
            "height": H,
            "width": W,
            "reps": a.reps,
            "seconds_min": mn,
            "seconds_median": med,
            "seconds_max": mx,
            "seconds_all": walls,
            "output_finite": finite,
            "groups": [{"name": n, "seconds": gmed[n]} for n in names],
            "other_seconds": other,
        }
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
