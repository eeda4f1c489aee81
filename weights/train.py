#!/usr/bin/python3
"""Trains CASP-Net with the paper's recipe in PyTorch and exports a weights file that caspnet loads.

The model is the project's PyTorch reference (tests/torch_reference/caspnet_ref.py,
the spec's exact function) imported, not copied. Loss KL - 0.1 CC - 0.1 SIM
against the dense maps, Adam, 16-frame clips normalised as spec section 0,
log-mels computed as the engine computes them (weights/traindata.py). CUDA when
present, else CPU.

Typical runs (weights/README.md has the full commands):
  # audio-visual training on the STAViS layout, fold 1
  train.py --data STAVIS --layout stavis --db DIEM,Coutrot_db1,... --split 1 --variant av \
      --init init.safetensors --ckpt-dir runs/av --export caspnet-av.safetensors
  # the paper's second strategy: CASP-Net(V) on DHF1K, then AV fine-tuning
  train.py --data DHF1K --layout dhf1k --variant v --init init-v.safetensors --export v.safetensors
  train.py --data STAVIS --layout stavis --db ... --variant av --init init.safetensors --init v.safetensors ...
  # held-out metrics of a weights file with the protocol of caspnet eval
  train.py --eval-only --data STAVIS --db Knock --split 1 --init W.safetensors --json out.json

BatchNorm runs in inference mode from its running statistics (the engine folds
them into the convolutions); its scale and shift are trained, its statistics
come from the --init files (caspnet init-weights calibrates them).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch_reference"))
sys.path.insert(0, HERE)
import caspnet_ref as ref  # noqa: E402
import metrics_ref  # noqa: E402
import st_io  # noqa: E402
import traindata as td  # noqa: E402
from knockdata import parse_size  # noqa: E402  (HxW, multiples of 32)


def build_parser():
    p = argparse.ArgumentParser(prog="train.py", description=__doc__.split("\n")[0],
                                epilog="\n".join(__doc__.split("\n")[2:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--data", required=True, help="dataset root")
    g.add_argument("--layout", default="stavis", choices=["stavis", "dhf1k"],
                   help="stavis: fold_lists/, video_frames/, annotations/ (host/eval/dataset.h); "
                        "dhf1k: train/ and val/ of <video>/{images,maps,fixation}/ (default stavis)")
    g.add_argument("--db", default="Knock",
                   help="comma-separated databases of the STAViS layout (default Knock); e.g. "
                        "DIEM,Coutrot_db1,Coutrot_db2,AVAD,ETMD_av,SumMe")
    g.add_argument("--split", type=int, default=1, choices=[0, 1, 2, 3],
                   help="fold: train on its train list, validate on its test list (0: the unnumbered lists)")
    g.add_argument("--size", type=parse_size, default=(224, 384), help="model size HxW (default 224x384)")
    g.add_argument("--cache-mb", type=int, default=2048, help="memory for decoded frames (default 2048)")
    g = p.add_argument_group("model and optimisation")
    g.add_argument("--variant", default="av", choices=["av", "v"])
    g.add_argument("--init", action="append", default=[], metavar="W.safetensors",
                   help="start from these weights files, applied in order (a later file overrides "
                        "an earlier one key by key): caspnet init-weights output, weights/convert.py "
                        "output with the S3D/VGGish checkpoints, a CASP-Net(V) file for fine-tuning. "
                        "Keys of the other variant are skipped")
    g.add_argument("--freeze", default="", help="comma-separated key prefixes not trained, e.g. video,audio")
    g.add_argument("--attention", default="linear", choices=["linear", "quadratic"])
    g.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4, the paper's)")
    g.add_argument("--warmup", type=int, default=100,
                   help="steps of linear learning-rate warm-up (default 100): Adam's first steps move every "
                        "weight by the full rate, which without warm-up made the maps diverge in measurements")
    g.add_argument("--batch", type=int, default=8, help="clips per step (default 8, the paper's)")
    g.add_argument("--epochs", type=int, default=10,
                   help="passes over every (video, frame >= 15) clip of the train list (default 10)")
    g.add_argument("--steps", type=int, default=0, help="stop after this many steps in all (0: --epochs decides)")
    g.add_argument("--seed", type=int, default=0, help="seed of the clip order and of torch (default 0)")
    g.add_argument("--device", default="auto", help="auto (cuda when present), cpu, cuda, cuda:N")
    g.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    g = p.add_argument_group("checkpoints, validation, export")
    g.add_argument("--ckpt-dir", help="write DIR/last.pt (trained tensors, optimiser, step) every --ckpt-every steps")
    g.add_argument("--ckpt-every", type=int, default=100)
    g.add_argument("--resume", action="store_true", help="continue from --ckpt-dir/last.pt (the step count continues)")
    g.add_argument("--val-stride", type=int, default=4,
                   help="per-epoch validation: every Nth frame of the validation videos (default 4; 0: none)")
    g.add_argument("--log", help="append one JSON line per step and per validation to this file")
    g.add_argument("--export", metavar="OUT.safetensors", help="the whole model, F32, for caspnet")
    g.add_argument("--export-trained", metavar="OUT.safetensors",
                   help="only the trained tensors and the BatchNorm statistics, F16 (a delta that "
                        "weights/convert.py merges over a file made by the same caspnet init-weights seed)")
    g = p.add_argument_group("evaluation")
    g.add_argument("--eval-only", action="store_true",
                   help="no training: held-out metrics of --init with the protocol of caspnet eval "
                        "(every frame of the test list, 8-bit maps, blur sigma 2, CC/SIM vs dense maps, "
                        "NSS/AUC-J vs fixations; mean over frames, videos, splits)")
    g.add_argument("--json", help="with --eval-only: write the metrics here")
    g.add_argument("--write-calib", nargs=2, metavar=("CLIP.npy", "MEL.npy"),
                   help="no training: write --calib-clips clips of the train list (and their log-mels) "
                        "for caspnet init-weights --calib-clip/--calib-logmel, so its BatchNorm statistics "
                        "are measured on the data to be trained on")
    g.add_argument("--calib-clips", type=int, default=4, help="clips for --write-calib (default 4)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


# ---------------------------------------------------------------------------
# Model set-up
# ---------------------------------------------------------------------------
def load_inits(model, paths):
    """Applies the --init files in order; returns the keys no file supplied."""
    sd = model.state_dict()
    got = set()
    for path in paths:
        tensors, meta = st_io.load(path)
        if meta.get("format") != "caspnet":
            raise td.DataError(f"{path}: metadata format is {meta.get('format')!r}, expected 'caspnet'")
        used = 0
        with torch.no_grad():
            for k, v in tensors.items():
                if k not in sd:
                    continue
                if tuple(v.shape) != tuple(sd[k].shape):
                    raise td.DataError(f"{path}: key '{k}' has shape {list(v.shape)}, expected {list(sd[k].shape)}")
                sd[k].copy_(v)
                got.add(k)
                used += 1
        print(f"train: init {path}: {used} tensors (variant {meta.get('variant')})", file=sys.stderr)
    return [k for k in sd if k not in got]


def set_trainable(model, freeze):
    prefixes = [f.strip().rstrip(".") + "." for f in freeze.split(",") if f.strip()]
    names = []
    for k, prm in model.named_parameters():
        prm.requires_grad_(not any(k.startswith(pfx) for pfx in prefixes))
        if prm.requires_grad:
            names.append(k)
    frozen_enc = all(not prm.requires_grad for k, prm in model.named_parameters()
                     if k.startswith("video.") or k.startswith("audio."))
    return names, frozen_enc


def predict(model, x, mel, attention, frozen_enc):
    if frozen_enc:
        with torch.no_grad():
            X, fa = model.encode(x, mel)
    else:
        X, fa = model.encode(x, mel)
    return model.decode(X, fa, x.shape[-2:], attention)


# ---------------------------------------------------------------------------
# Evaluation (the protocol of caspnet eval, with metrics_ref.py's definitions)
# ---------------------------------------------------------------------------
def nanmean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


@torch.no_grad()
def evaluate(model, src, videos, dev, attention, batch, stride=1, forward_only=False, bar=None):
    """Per-video and mean CC, NSS, AUC-J, SIM of the maps of every stride-th frame."""
    keys = ("cc", "nss", "auc_judd", "sim")
    per_video = []
    for v in videos:
        frames = [t for t in range(0, v.nframes, stride) if not forward_only or t >= td.CLIP_T - 1]
        rows = []
        for i in range(0, len(frames), batch):
            ts = frames[i:i + batch]
            x, mel, _ = src.batch([(v, t) for t in ts])
            sal = model(x.to(dev), mel.to(dev) if mel is not None else None, attention)
            for t, s in zip(ts, sal[:, 0].float().cpu().numpy()):
                q = td.read_gray(v.dense_path(t))
                fix = v.read_fix(t)
                pm = metrics_ref.prepare(td.quantize_png(s).astype(np.float64), *q.shape)
                rows.append((metrics_ref.cc(pm, q), metrics_ref.nss(pm, fix),
                             metrics_ref.auc_judd(pm, fix), metrics_ref.sim(pm, q)))
            if bar:
                bar(len(ts))
        per_video.append({"video": f"{v.db}/{v.name}", "frames": len(rows),
                          **{k: nanmean([r[j] for r in rows]) for j, k in enumerate(keys)}})
    mean = {k: nanmean([pv[k] for pv in per_video]) for k in keys}
    return {"mean": mean, "videos": per_video}


# ---------------------------------------------------------------------------
# Progress, checkpoints, export
# ---------------------------------------------------------------------------
class Progress:
    def __init__(self, total, quiet, label):
        self.total, self.quiet, self.label = total, quiet, label
        self.t0, self.done, self.tty = time.time(), 0, sys.stderr.isatty()
        self.last = self.printed = 0.0

    def update(self, n, extra=""):
        self.done += n
        if self.quiet:
            return
        now = time.time()
        if now - self.last < 0.5 and self.done < self.total:
            return
        self.last = now
        el = now - self.t0
        rate = self.done / el if el > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
        line = (f"{self.label} [{bar}] {self.done}/{self.total} {extra} "
                f"left {int(left // 60)}m{int(left % 60):02d}s")
        if self.tty:
            print("\r" + line, end="\n" if self.done >= self.total else "", file=sys.stderr, flush=True)
        elif self.done >= self.total or self.done == n or now - self.printed >= 30:
            self.printed = now
            print(line, file=sys.stderr, flush=True)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export(model, path, names=None, dtype="F32"):
    sd = model.state_dict()
    keys = [k for k, _ in ref.spec_keys(model.variant)]
    if names is not None:
        # every BatchNorm's running statistics too (36k values): the base file they are merged
        # over may then be calibrated on any clips (caspnet init-weights' default included)
        keys = [k for k in keys if k in set(names) or k.endswith((".running_mean", ".running_var"))]
    tensors = {k: sd[k].detach().float().cpu().contiguous() for k in keys}
    meta = {"format": "caspnet", "version": "1", "variant": model.variant}
    if names is not None:
        meta["content"] = "trained tensors only; merge over the --init file with weights/convert.py"
    tmp = path + ".tmp"
    st_io.save(tmp, tensors, meta, dtype)
    os.replace(tmp, path)
    print(f"train: exported {len(tensors)} tensors ({dtype}) to {path}", file=sys.stderr)


def log_line(path, rec):
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def main(argv=None):
    a = build_parser().parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if a.device == "auto" else a.device))
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    dbs = [d for d in a.db.split(",") if d]
    try:
        if a.layout == "stavis":
            train_v = [] if a.eval_only else td.stavis_videos(a.data, dbs, "train", a.split)
            val_v = td.stavis_videos(a.data, dbs, "test", a.split)
        else:
            train_v = [] if a.eval_only else td.dhf1k_videos(a.data, "train")
            val_v = td.dhf1k_videos(a.data, "val")
        model = ref.CASPNet(a.variant)
        if not a.init and not a.write_calib:
            print("train: note: no --init file: every tensor starts from PyTorch's default "
                  "initialisation with identity BatchNorm statistics (see weights/README.md)", file=sys.stderr)
        missing = load_inits(model, a.init)
    except (td.DataError, OSError, ValueError) as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2
    if missing and a.init:
        print(f"train: note: {len(missing)} tensors are in no --init file and keep PyTorch's default "
              f"initialisation (first: {missing[0]})", file=sys.stderr)
    model.to(dev)
    model.eval()   # evaluation: BatchNorm from running statistics, as the engine folds it
    audio = a.variant == "av"
    src_val = td.ClipSource(val_v, a.size, audio, a.cache_mb // 4)

    if a.eval_only:
        bar = Progress(sum(v.nframes for v in val_v), a.quiet, "eval")
        try:
            r = evaluate(model, src_val, val_v, dev, a.attention, a.batch, bar=lambda n: bar.update(n, "frames"))
        except td.DataError as e:
            print(f"train: error: {e}", file=sys.stderr)
            return 2
        r["weights"], r["split"] = a.init, a.split
        m = r["mean"]
        print(f"held-out ({len(val_v)} videos): CC {m['cc']:.4f} NSS {m['nss']:.4f} "
              f"AUC-J {m['auc_judd']:.4f} SIM {m['sim']:.4f}")
        if a.json:
            with open(a.json + ".tmp", "w") as f:
                json.dump(r, f, indent=1)
            os.replace(a.json + ".tmp", a.json)
        return 0

    if a.write_calib:
        rng = random.Random(a.seed)
        src = td.ClipSource(train_v, a.size, True, a.cache_mb)
        pick = [(v, rng.randrange(td.CLIP_T - 1, v.nframes)) for v in
                [train_v[i % len(train_v)] for i in rng.sample(range(max(len(train_v), a.calib_clips)), a.calib_clips)]]
        x, mel, _ = src.batch(pick)
        st_io.save_npy(a.write_calib[0], x)
        st_io.save_npy(a.write_calib[1], mel)
        print(f"train: wrote {a.calib_clips} clips {tuple(x.shape)} and log-mels to {a.write_calib[0]}, "
              f"{a.write_calib[1]}", file=sys.stderr)
        return 0

    names, frozen_enc = set_trainable(model, a.freeze)
    # the running statistics that train mode updates travel with the trained parameters
    for mname, mod in model.named_modules():
        if isinstance(mod, ref.BN) and mod.weight.requires_grad and mod.batch_stats:
            names += [f"{mname}.running_mean", f"{mname}.running_var"]

    def train_mode():
        """Batch statistics (and running-statistics updates) in the BatchNorms of modules that
        train; a module whose parameters are all frozen keeps its statistics too."""
        model.train()
        for mod in model.modules():
            if isinstance(mod, ref.BN) and not mod.weight.requires_grad:
                mod.eval()
    params = [prm for prm in model.parameters() if prm.requires_grad]
    if not params:
        print("train: error: --freeze leaves nothing to train", file=sys.stderr)
        return 2
    opt = torch.optim.Adam(params, lr=a.lr)
    src = td.ClipSource(train_v, a.size, audio, a.cache_mb)
    items = [(v, t) for v in train_v for t in range(td.CLIP_T - 1, v.nframes)]
    if not items:
        print("train: error: no training clip (every video is shorter than 16 frames)", file=sys.stderr)
        return 2
    per_epoch = max(1, len(items) // a.batch)
    total = a.steps if a.steps > 0 else per_epoch * a.epochs
    step = 0
    ck = os.path.join(a.ckpt_dir, "last.pt") if a.ckpt_dir else None
    if a.resume:
        if not ck or not os.path.exists(ck):
            print(f"train: error: --resume needs --ckpt-dir with last.pt ({ck or 'no --ckpt-dir'})", file=sys.stderr)
            return 2
        state = torch.load(ck, map_location=dev)
        if state["variant"] != a.variant or sorted(state["trained"]) != sorted(names):
            print(f"train: error: {ck} was written for another variant or --freeze", file=sys.stderr)
            return 2
        with torch.no_grad():
            sd = model.state_dict()
            for k, v in state["trained"].items():
                sd[k].copy_(v)
        opt.load_state_dict(state["opt"])
        step = state["step"]
        print(f"train: resumed {ck} at step {step}", file=sys.stderr)
    if a.ckpt_dir:
        os.makedirs(a.ckpt_dir, exist_ok=True)
    n_tr = sum(prm.numel() for prm in params)
    print(f"train: {a.variant} on {dev}, {len(train_v)} train / {len(val_v)} validation videos, "
          f"{len(items)} clips per epoch ({per_epoch} steps of {a.batch}), {total} steps, "
          f"{n_tr:,} trained values{' (encoders frozen)' if frozen_enc else ''}", file=sys.stderr)

    def save_ckpt():
        if ck:
            sd = model.state_dict()
            atomic_save({"variant": a.variant, "step": step, "opt": opt.state_dict(),
                         "trained": {k: sd[k].detach().cpu() for k in names}}, ck)

    bar = Progress(total - step, a.quiet, "train")
    ema = None
    train_mode()
    while step < total:
        epoch, pos = divmod(step, per_epoch)
        order = list(range(len(items)))
        random.Random(a.seed * 1000003 + epoch).shuffle(order)
        for b in range(pos, per_epoch):
            if step >= total:
                break
            batch = [items[i] for i in order[b * a.batch:(b + 1) * a.batch]]
            try:
                x, mel, q = src.batch(batch)
            except td.DataError as e:
                print(f"\ntrain: error: {e}", file=sys.stderr)
                save_ckpt()
                return 2
            torch.manual_seed(a.seed * 7919 + step)
            sal = predict(model, x.to(dev), mel.to(dev) if mel is not None else None, a.attention, frozen_enc)
            loss, used = td.saliency_loss(sal, q.to(dev))
            step += 1
            skip = None
            if loss is None:
                skip = "no target map with mass"
            elif not torch.isfinite(loss):
                skip = f"the loss is {float(loss)} (a learning rate too high for this model?)"
            else:
                for grp in opt.param_groups:
                    grp["lr"] = a.lr * min(1.0, step / a.warmup) if a.warmup > 0 else a.lr
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if not all(torch.isfinite(prm.grad).all() for prm in params if prm.grad is not None):
                    skip = "non-finite gradient"
            if skip:
                print(f"\ntrain: warning: step {step}: {skip}; step skipped", file=sys.stderr)
                log_line(a.log, {"step": step, "epoch": epoch + 1, "skipped": skip})
            else:
                opt.step()
                lv = float(loss)
                ema = lv if ema is None else 0.9 * ema + 0.1 * lv
                log_line(a.log, {"step": step, "epoch": epoch + 1, "loss": lv})
            bar.update(1, f"step {step} loss {ema if ema is not None else float('nan'):.4f} "
                          f"{(bar.done + 1) * a.batch / max(1e-9, time.time() - bar.t0):.2f} clips/s,")
            if ck and step % a.ckpt_every == 0:
                save_ckpt()
        if step % per_epoch == 0 and a.val_stride > 0:
            model.eval()
            r = evaluate(model, src_val, val_v, dev, a.attention, a.batch, stride=a.val_stride, forward_only=True)
            train_mode()
            m = r["mean"]
            print(f"\ntrain: epoch {step // per_epoch} step {step}: validation CC {m['cc']:.4f} "
                  f"SIM {m['sim']:.4f}", file=sys.stderr)
            log_line(a.log, {"step": step, "epoch": step // per_epoch, "val_cc": m["cc"], "val_sim": m["sim"]})
    save_ckpt()
    if a.export:
        export(model, a.export)
    if a.export_trained:
        export(model, a.export_trained, names, "F16")
    return 0


if __name__ == "__main__":
    sys.exit(main())
