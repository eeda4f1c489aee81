#!/usr/bin/python3
"""Exports the PyTorch reference CASP-Net to ONNX in the broadcast-key closed form, for bench/anchors.py.

  /usr/bin/python3 bench/anchors_export.py --weights W.safetensors --out-dir DIR
      [--size HxW] [--seed S] [--opset N] [--threads N]

Runs under Debian's /usr/bin/python3 (torch 1.13, whose torch.onnx needs no other package).
The model is tests/torch_reference/caspnet_ref.py, imported, with the weights file that
`caspnet bench --weights` reads. Only the AVIM attention is replaced, per instance, by the
closed form that MODEL.md section 4 allows and that the engine runs (host/model/model_av.c,
attention_closed): every key row is k(f_A-hat), so with phi(x) = gelu(x) + 0.2

    s_l = phi(q_l) . phi(k)            (q = q(V_i), a 1 x 256 by 256 x L product)
    A_l = s_l / L * sum_j v(V_i)_j = s_l * u,   u = v(mean over positions of V_i)
    F_i = V_i + out(A) = V_i + s (x) (W_out u) + b_out

so its FLOPs are the engine's (only the q convolution is L x 256 x 256); the literal
formula would add the v and out convolutions and the 256 x 256 products. Everything else
(S3D, VGGish, ASPP, CPC, decoder) is the reference's own code.

Writes to DIR: model.onnx (static shapes 1 x 3 x 16 x H x W and 1 x 1 x 96 x 64 -> 1 x 1 x H x W),
clip.npy and logmel.npy (make_weights.synthetic_inputs(1, H, W, seed + 1), the input
bench/pytorch_baseline.py times), ref_sal.npy (the unmodified reference, literal linear
attention, float32) and export.json. It fails (exit 1) if the closed form differs from the
literal reference by more than 1e-4 in the map, before anything is exported.
"""
import argparse
import hashlib
import json
import os
import sys
import time
import types
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch_reference"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import caspnet_ref as R  # noqa: E402
import make_weights as MW  # noqa: E402

TOL = 1e-4  # max abs map error allowed between the closed form and the literal reference


def closed_avim_forward(self, x, fa, attention="linear"):
    """AVIM.forward with the broadcast-key closed form of the linear attention (see the
    module docstring); the submodules are the reference's own."""
    if attention != "linear":
        raise ValueError("the export is of the linear attention only")
    vi = self.aspp(x)
    if not self.has_audio:
        return vi, vi
    N, C, T, h, w = vi.shape
    fhat = self.audio_proj(fa)[:, :, None, None, None]            # N x C x 1 x 1 x 1
    pk = R.phi(self.k(fhat)).reshape(N, 1, C)                      # phi(k), N x 1 x C
    pq = R.phi(self.q(vi)).reshape(N, C, T * h * w)                # phi(Q)^T, N x C x L
    s = torch.matmul(pk, pq).reshape(N, 1, T, h, w)                # s_l
    u = self.v(vi.mean(dim=(2, 3, 4), keepdim=True))               # v(mean V), N x C x 1 x 1 x 1
    wu = F.conv3d(u, self.out.weight)                              # W_out u
    return vi, vi + s * wu + self.out.bias.reshape(1, C, 1, 1, 1)


def use_closed_form(model):
    for avim in model.avim.values():
        avim.forward = types.MethodType(closed_avim_forward, avim)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_size(s):
    try:
        h, w = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size '{s}' is not HxW")
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"--size '{s}': H and W must be positive multiples of 32")
    return h, w


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--weights", required=True, help="caspnet safetensors weights file (variant av)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--size", type=parse_size, default=(224, 384), help="HxW of the clip (224x384)")
    p.add_argument("--seed", type=int, default=0, help="the input is synthetic_inputs(1, H, W, seed + 1) (0)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (17, the highest torch 1.13 writes)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    H, W = a.size
    t0 = time.perf_counter()
    try:
        model, meta = R.load_model(a.weights)
    except (ValueError, OSError) as e:
        print(f"anchors_export: error: {a.weights}: {e}", file=sys.stderr)
        return 2
    if meta["variant"] != "av":
        print(f"anchors_export: error: {a.weights} is variant {meta['variant']}; the anchors time av",
              file=sys.stderr)
        return 2
    clip, mel = MW.synthetic_inputs(1, H, W, a.seed + 1)
    with torch.inference_mode():
        ref = model(clip, mel, "linear")
    t_ref = time.perf_counter() - t0
    use_closed_form(model)
    with torch.inference_mode():
        closed = model(clip, mel, "linear")
    err = float((closed - ref).abs().max())
    s = ref.numpy()
    informative = float(((s > 0.01) & (s < 0.99)).mean())
    print(f"anchors_export: reference (literal) {t_ref:.1f} s; closed form vs literal: max abs map error "
          f"{err:.2e} (limit {TOL:g}); map range [{s.min():.4f}, {s.max():.4f}], "
          f"{100 * informative:.1f}% of pixels in (0.01, 0.99)")
    if not err <= TOL:
        print(f"anchors_export: error: the closed-form model differs from the reference by {err:.3e} "
              f"> {TOL:g}; nothing exported", file=sys.stderr)
        return 1
    os.makedirs(a.out_dir, exist_ok=True)
    for name, t in (("clip", clip), ("logmel", mel), ("ref_sal", ref)):
        tmp = os.path.join(a.out_dir, name + ".tmp.npy")
        np.save(tmp, t.numpy().astype(np.float32))
        os.replace(tmp, os.path.join(a.out_dir, name + ".npy"))
    onnx_path = os.path.join(a.out_dir, "model.onnx")
    tmp = onnx_path + ".tmp"
    t1 = time.perf_counter()
    # tracing warns at the reference's Python shape checks (constant for a static shape)
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
    with torch.no_grad():
        torch.onnx.export(model, (clip, mel), tmp, input_names=["clip", "logmel"], output_names=["sal"],
                          opset_version=a.opset, do_constant_folding=True)
    os.replace(tmp, onnx_path)
    doc = {
        "weights": os.path.abspath(a.weights),
        "weights_sha256": sha256(a.weights),
        "height": H,
        "width": W,
        "seed": a.seed,
        "opset": a.opset,
        "torch_version": torch.__version__,
        "attention": "linear, broadcast-key closed form",
        "closed_vs_literal_max_abs": err,
        "ref_informative_fraction": informative,
        "export_seconds": time.perf_counter() - t1,
        "script_sha256": sha256(os.path.abspath(__file__)),
    }
    tmp = os.path.join(a.out_dir, "export.json.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, os.path.join(a.out_dir, "export.json"))
    print(f"anchors_export: wrote {onnx_path} ({os.path.getsize(onnx_path) / 2**20:.1f} MiB, opset {a.opset}) "
          f"in {doc['export_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
