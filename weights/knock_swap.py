#!/usr/bin/python3
"""Does an AV model use the sound? Held-out metrics of the knock task with each video's own audio and with the audio of a held-out video in which the other disc knocks.

Usage: /usr/bin/python3 weights/knock_swap.py DATA W.safetensors [--size HxW] [--split K] [--stride N]
DATA is a knockdata.py folder (STAViS layout, its knock.txt says which disc knocks in each video).
Frames: every --stride-th frame from frame 16 on (forward clips), as train.py's per-epoch validation.
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch_reference"))
sys.path.insert(0, HERE)
import caspnet_ref as R  # noqa: E402
import train as T  # noqa: E402
import traindata as td  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data")
    p.add_argument("weights")
    p.add_argument("--size", type=T.parse_size, default=(32, 64))
    p.add_argument("--split", type=int, default=1)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--db", default="Knock")
    a = p.parse_args()
    loud = dict(l.split() for l in open(os.path.join(a.data, "knock.txt")) if not l.startswith("#"))
    vids = td.stavis_videos(a.data, [a.db], "test", a.split)
    by = {c: [v for v in vids if loud[v.name] == c] for c in ("orange", "teal")}
    if not by["orange"] or not by["teal"]:
        print("knock_swap: the held-out videos need both sounding discs", file=sys.stderr)
        return 2
    model, meta = R.load_model(a.weights)
    if meta["variant"] != "av":
        print("knock_swap: the weights are not of variant av", file=sys.stderr)
        return 2
    for swap in (False, True):
        vs = []
        for i, v in enumerate(vids):
            other = by["teal" if loud[v.name] == "orange" else "orange"]
            wav = other[i % len(other)].wav if swap else v.wav
            vs.append(td.Video(v.db, v.name, v.nframes, v.fps, v._frame, v._dense, v._fix, wav))
        r = T.evaluate(model, td.ClipSource(vs, a.size, True), vs, torch.device("cpu"), "linear", 8,
                       stride=a.stride, forward_only=True)
        m = r["mean"]
        print(f"{'other disc' if swap else 'own'} audio: CC {m['cc']:.4f} NSS {m['nss']:.4f} "
              f"AUC-J {m['auc_judd']:.4f} SIM {m['sim']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
