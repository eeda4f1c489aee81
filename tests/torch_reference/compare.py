#!/usr/bin/env python3
"""Compares two directories of .npy taps (ours against the PyTorch reference) and fails on disagreement.

Tolerances: every tap must agree within a relative error of 1e-3 of its largest
magnitude (float32 through ~60 layers of sums over up to 27k products: measured
errors are around 1e-5 relative, so 1e-3 leaves margin yet catches any
structural mistake, which gives errors of order 1); the final map must agree
within 1e-4 absolute; and the map must be informative (at least half its
pixels in (0.01, 0.99)), else agreement would prove nothing.
"""
import argparse
import sys

import numpy as np

TAPS = ["X1", "X2", "X3", "X4", "fA", "V1", "V2", "V3", "V4", "F1", "F2", "F3", "F4", "F4p", "sal"]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("ours")
    p.add_argument("ref")
    p.add_argument("--label", default="")
    p.add_argument("--tap-rtol", type=float, default=1e-3)
    p.add_argument("--sal-atol", type=float, default=1e-4)
    a = p.parse_args()
    bad = 0
    seen = 0
    for name in TAPS:
        try:
            ref = np.load(f"{a.ref}/{name}.npy")
        except FileNotFoundError:
            continue
        seen += 1
        try:
            ours = np.load(f"{a.ours}/{name}.npy")
        except FileNotFoundError:
            print(f"FAIL {a.label} {name}: missing from our dump")
            bad += 1
            continue
        if ours.shape != ref.shape:
            print(f"FAIL {a.label} {name}: shape {ours.shape} vs reference {ref.shape}")
            bad += 1
            continue
        d = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
        scale = max(float(np.abs(ref).max()), 1e-12)
        mabs = float(d.max()) if d.size else 0.0
        rel = mabs / scale
        ok = np.isfinite(ours).all() and rel <= a.tap_rtol
        if name == "sal":
            ok = ok and mabs <= a.sal_atol
            frac = float(((ref > 0.01) & (ref < 0.99)).mean())
            ok = ok and frac >= 0.5
            extra = f"  informative pixels {frac:.3f}"
        else:
            extra = ""
        print(f"{'ok  ' if ok else 'FAIL'} {a.label} {name:4s} shape {str(ref.shape):24s} max abs err {mabs:.3e}  rel {rel:.3e}{extra}")
        bad += 0 if ok else 1
    if seen == 0:
        print(f"FAIL {a.label}: the reference wrote no taps")
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
