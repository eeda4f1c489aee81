#!/usr/bin/python3
"""Builds a CASP-Net weights file (safetensors) from public S3D / VGGish checkpoints and CASP-Net state dicts.

Sources, applied in command-line order (a later source overrides an earlier
one key by key, and each override is reported):

  --s3d FILE     the public S3D Kinetics-400 checkpoint: a PyTorch state dict
                 with keys base.N.... (possibly under 'state_dict', possibly
                 prefixed module.); base.* becomes video.base.*, the
                 classifier (fc.*) is ignored.
  --vggish FILE  the PyTorch port of VGGish: features.N.* and embeddings.N.*
                 become audio.*; the post-processor (pproc.*, PCA) is ignored.
                 Variant av only.
  --full FILE    a whole CASP-Net state dict of the reference model
                 (tests/torch_reference/caspnet_ref.py; keys as its spec_keys, possibly
                 prefixed module.), taken as is. A .safetensors file is read
                 directly.

Every key is checked against the spec's shape; num_batches_tracked is dropped.
A file is written only when every key of the variant is present, unless
--fill supplies the rest: BatchNorm weight 1, bias 0, running_mean 0,
running_var 1, and every other tensor He-normal (--fill random; biases 0) or
zeros (--fill zeros). Filled parts are UNTRAINED: a model with them gives
meaningless saliency maps until it is trained.

Output metadata: format=caspnet, version=1, variant=av|v (MODEL.md section 8).
Needs /usr/bin/python3 with torch; never needed to build or test the engine.
"""
import argparse
import collections
import math
import os
import pickle
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The reference defines the key list and the writer; importing them (instead
# of a copy) keeps this tool from drifting from what the engine accepts.
sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch_reference"))

import torch  # noqa: E402

import caspnet_ref as R  # noqa: E402
import st_io  # noqa: E402

BN_STATS = ("weight", "bias", "running_mean", "running_var")


class ConvertError(Exception):
    pass


class SourceAction(argparse.Action):
    """Collects --s3d / --vggish / --full in the order given, since order decides overrides."""

    def __call__(self, parser, namespace, values, option_string=None):
        lst = list(getattr(namespace, "sources", None) or [])
        lst.append((self.dest, values))
        namespace.sources = lst


def module_of(key):
    """video, audio, avim.1..4, cpc or dec (as cn_spec_module in the engine)."""
    parts = key.split(".")
    return ".".join(parts[:2]) if parts[0] == "avim" else parts[0]


def is_bn(key):
    """BatchNorm tensors are the ones under a .bn / .bn_s / .bn_t module."""
    parts = key.split(".")
    return len(parts) >= 2 and parts[-2] in ("bn", "bn_s", "bn_t") and parts[-1] in BN_STATS


def load_checkpoint(path, trust_pickle):
    """A flat {key: tensor} from a .safetensors file or a torch.save'd checkpoint."""
    if not os.path.isfile(path):
        raise ConvertError(f"{path}: no such file")
    if path.endswith(".safetensors"):
        try:
            tensors, _ = st_io.load(path)
        except st_io.SafetensorsError as e:
            raise ConvertError(str(e)) from None
        return tensors
    try:
        if trust_pickle:
            obj = torch.load(path, map_location="cpu")
        else:
            # Checkpoints are pickles; the restricted loader refuses anything
            # but tensors and plain containers, so a hostile file cannot run code.
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch too old for weights_only
        if not trust_pickle:
            raise ConvertError(f"{path}: this torch cannot load checkpoints safely; "
                               "pass --trust-pickle if you trust the file") from None
        obj = torch.load(path, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        hint = "" if trust_pickle else " (if the file holds more than tensors and you trust it, add --trust-pickle)"
        raise ConvertError(f"{path}: cannot load checkpoint: {msg}{hint}") from None
    return flatten_state(obj, path)


def flatten_state(obj, path):
    """Unwraps {'state_dict': ...} (or 'model' / 'state') and strips DataParallel's module. prefix."""
    for _ in range(3):
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            for name in ("state_dict", "model", "state", "model_state_dict"):
                if isinstance(obj.get(name), dict):
                    obj = obj[name]
                    break
            else:
                break
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: not a state dict (a {type(obj).__name__})")
    out = collections.OrderedDict()
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            continue  # epoch counters, optimizer settings and the like
        k = str(k)
        while k.startswith("module."):
            k = k[len("module."):]
        out[k] = v
    if not out:
        raise ConvertError(f"{path}: holds no tensors")
    return out


def map_keys(kind, tensors, variant, path):
    """Returns ({spec key: tensor}, [ignored keys]) for one source."""
    mapped, ignored, unknown = collections.OrderedDict(), [], []
    for k, v in tensors.items():
        if k.endswith("num_batches_tracked"):
            ignored.append(k)
            continue
        if kind == "s3d":
            if k.startswith("fc."):  # the Kinetics classifier, not part of CASP-Net
                ignored.append(k)
                continue
            if not k.startswith("base."):
                unknown.append(k)
                continue
            mapped["video." + k] = v
        elif kind == "vggish":
            if k.startswith(("pproc.", "pca", "_pca")):
                ignored.append(k)
                continue
            if not k.startswith(("features.", "embeddings.")):
                unknown.append(k)
                continue
            mapped["audio." + k] = v
        else:
            mapped[k] = v
    if unknown:
        raise ConvertError(f"{path}: {len(unknown)} key(s) this {kind} converter does not know, e.g. "
                           + ", ".join(unknown[:5]) + " (is this the right checkpoint for --" + kind + "?)")
    return mapped, ignored


def check_source(mapped, spec, variant, path):
    """Every mapped key must be a spec key of this variant with the spec's shape."""
    av_keys = dict(R.spec_keys("av"))
    errors = []
    for k, v in mapped.items():
        if k not in spec:
            why = " (an av-only key; this is --variant v)" if variant == "v" and k in av_keys else ""
            errors.append(f"unexpected key '{k}'{why}")
        elif tuple(v.shape) != spec[k]:
            errors.append(f"key '{k}' has shape {list(v.shape)}, expected {list(spec[k])}")
        elif not v.is_floating_point():
            errors.append(f"key '{k}' has dtype {v.dtype}, expected a floating-point tensor")
    if errors:
        shown = errors[:20] + ([f"... and {len(errors) - 20} more"] if len(errors) > 20 else [])
        raise ConvertError(f"{path}: {len(errors)} key(s) do not fit variant {variant}:\n  " + "\n  ".join(shown))


def fill_tensor(key, shape, how, gen):
    """The value of a key no source provides (see the module docstring)."""
    if is_bn(key):
        stat = key.rsplit(".", 1)[1]
        return torch.ones(shape) if stat in ("weight", "running_var") else torch.zeros(shape)
    if how == "zeros" or len(shape) < 2:
        return torch.zeros(shape)
    # He-normal over the inputs each output sees: C_in * kernel for Conv and
    # Linear (shape[1] is C_in), C_in * kernel for ConvTranspose3d whose
    # weight is C_in x C_out x k (the two are both 256 for cpc.theta*).
    fan_in = shape[0] if ".theta" in key else shape[1]
    fan_in *= math.prod(shape[2:])
    return torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)


def group_missing(keys):
    """{module: [sub-module prefixes in order]} for a compact missing-key report."""
    groups = collections.OrderedDict()
    for k in keys:
        m = module_of(k)
        rest = k[len(m) + 1:].rsplit(".", 1)[0]
        # BN and conv of one block share a prefix one level up; report the block.
        if rest.endswith((".bn", ".bn_s", ".bn_t", ".conv", ".conv_s", ".conv_t")):
            rest = rest.rsplit(".", 1)[0]
        lst = groups.setdefault(m, [[], 0])
        lst[1] += 1
        if rest not in lst[0]:
            lst[0].append(rest)
    return groups


def convert(a):
    spec = collections.OrderedDict(R.spec_keys(a.variant))
    merged, origin = collections.OrderedDict(), {}
    n_over = 0
    for kind, path in a.sources:
        if kind == "vggish" and a.variant == "v":
            raise ConvertError("--vggish: variant v (visual-only) has no audio encoder; drop --vggish or use --variant av")
        tensors = load_checkpoint(path, a.trust_pickle)
        mapped, ignored = map_keys(kind, tensors, a.variant, path)
        check_source(mapped, spec, a.variant, path)
        print(f"{path} (--{kind}): {len(mapped)} tensors used"
              + (f", {len(ignored)} ignored ({', '.join(ignored[:4])}{', ...' if len(ignored) > 4 else ''})"
                 if ignored else ""))
        for k, v in mapped.items():
            if k in merged:
                n_over += 1
                print(f"  override: {k} from {origin[k]} replaced by {path}")
            merged[k] = v.detach().to("cpu", torch.float32).contiguous()
            origin[k] = path
    if n_over:
        print(f"{n_over} tensors overridden by later sources")

    missing = [k for k in spec if k not in merged]
    if missing:
        n_vals = sum(math.prod(spec[k]) for k in missing)
        print(f"missing {len(missing)} of {len(spec)} keys ({n_vals:,} values), by module:")
        for m, (subs, n) in group_missing(missing).items():
            shown = ", ".join(subs[:8]) + (f", ... ({len(subs)} blocks)" if len(subs) > 8 else "")
            print(f"  {m}: {n} keys ({shown})")
        if a.list_missing:
            for k in missing:
                print(f"    {k} {list(spec[k])}")
        if not a.fill:
            raise ConvertError("refusing to write an incomplete weights file; give the missing sources or "
                               "--fill random|zeros to fill them with UNTRAINED values")
        gen = torch.Generator().manual_seed(a.seed)
        for k in missing:  # spec order, so a seed always gives the same file
            merged[k] = fill_tensor(k, spec[k], a.fill, gen)
        mods = ", ".join(group_missing(missing).keys())
        print(f"WARNING: filled {len(missing)} tensors ({n_vals:,} values; modules {mods}) with UNTRAINED values "
              f"(--fill {a.fill}{f', seed {a.seed}' if a.fill == 'random' else ''}; BatchNorm as identity). These parts carry no learned features: "
              "saliency maps from this file are meaningless until the model is trained.")

    bad = [k for k in spec if not torch.isfinite(merged[k]).all()]
    if bad:
        print(f"warning: {len(bad)} tensors hold NaN or Inf, first '{bad[0]}'")

    out = collections.OrderedDict((k, merged[k]) for k in spec)
    meta = {"format": "caspnet", "version": "1", "variant": a.variant}
    # Write beside the target and rename, so an interrupted run never leaves a
    # truncated file under the requested name.
    tmp = f"{a.out}.tmp.{os.getpid()}"
    try:
        st_io.save(tmp, out, meta, a.dtype)
        os.replace(tmp, a.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    total = sum(math.prod(s) for s in spec.values())
    print(f"wrote {a.out}: variant {a.variant}, {len(spec)} tensors, {total:,} values, {a.dtype}"
          + (f", {len(missing)} tensors UNTRAINED (filled)" if missing else ", complete"))


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__,
        epilog="Example: convert.py --out s3d_v.safetensors --variant v --s3d S3D_kinetics400.pt --fill zeros",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--variant", required=True, choices=["av", "v"],
                   help="av (audio-visual) or v (visual-only, CASP-Net(V))")
    p.add_argument("--s3d", action=SourceAction, dest="s3d", metavar="S3D.pt",
                   help="public S3D Kinetics-400 checkpoint (base.* -> video.base.*)")
    p.add_argument("--vggish", action=SourceAction, dest="vggish", metavar="VGGISH.pth",
                   help="PyTorch VGGish checkpoint (features.*, embeddings.* -> audio.*); av only")
    p.add_argument("--full", action=SourceAction, dest="full", metavar="STATE.pt",
                   help="whole CASP-Net state dict of the reference model (or .safetensors), keys as is")
    p.add_argument("--fill", choices=["random", "zeros"],
                   help="fill missing keys (BN as identity; others He-normal or zeros): UNTRAINED")
    p.add_argument("--seed", type=int, default=0, help="seed for --fill random (default 0)")
    p.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"], help="stored dtype (default F32)")
    p.add_argument("--list-missing", action="store_true", help="print every missing key with its shape")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow checkpoints that hold arbitrary Python objects (runs their pickle code)")
    p.set_defaults(sources=[])
    a = p.parse_args(argv)
    if not a.sources and not a.fill:
        p.error("give at least one of --s3d, --vggish, --full (or --fill for an all-untrained file)")
    try:
        convert(a)
    except ConvertError as e:
        print(f"convert.py: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"convert.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
