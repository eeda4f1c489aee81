#!/usr/bin/env python3
"""Independent numpy reference for host/eval/metrics.c: saliency metrics, training loss and evaluation resize, printed as JSON.

Usage:
  metrics_ref.py P.npy Q.npy F.npy [--other IDX.npy] [--seed N] [--grad] [--autograd]
      all metrics of one frame (P prediction, Q dense ground truth, F fixation
      map, non-zero = fixated; IDX the other frames' fixated pixel indices)
  metrics_ref.py --prepare PRED.npy GH GW
      the evaluation protocol's resized map ("prepared", row-major)

The definitions are the ones documented in host/eval/metrics.h (MIT saliency
benchmark, with the documented tie rule for AUC-Judd and splitmix64 for the
random negatives). Written from those definitions with whole-array numpy
formulations rather than the C loops, so a shared mistake is unlikely. NaN
is printed as null (JSON has no NaN).
"""
import argparse
import json
import math
import sys

import numpy as np

EPS = 2.2204e-16
NSPLITS = 100
STEP = 0.1
M64 = (1 << 64) - 1


def cc(p, q):
    if p.min() == p.max() or q.min() == q.max():
        return math.nan
    return float(np.corrcoef(p.ravel(), q.ravel())[0, 1])


def sim(p, q):
    def norm(m):
        if not m.any():
            return m
        if m.min() == m.max():
            return None
        m = (m - m.min()) / (m.max() - m.min())
        return m / m.sum()

    a, b = norm(p), norm(q)
    if a is None or b is None:
        return math.nan
    return float(np.minimum(a, b).sum())


def kl(p, q):
    pn = p / p.sum() if p.any() else p
    qn = q / q.sum() if q.any() else q
    return float(np.sum(qn * np.log(EPS + qn / (pn + EPS))))


def nss(p, f):
    fix = f != 0
    if p.size < 2 or p.min() == p.max() or not fix.any():
        return math.nan
    z = (p - p.mean()) / p.std(ddof=1)
    return float(z[fix].mean())


def trapezoid(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def auc_judd(p, f):
    fix = (f != 0).ravel()
    s = p.ravel()
    nf, n = int(fix.sum()), s.size
    if nf == 0 or nf == n:
        return math.nan
    # One ROC point per distinct fixated value: every pixel tied at the
    # threshold is counted, which is the tie rule of metrics.h.
    thr = np.unique(s[fix])[::-1]
    pos_sorted = np.sort(s[fix])
    neg_sorted = np.sort(s[~fix])
    tp = (nf - np.searchsorted(pos_sorted, thr, side="left")) / nf
    fp = (neg_sorted.size - np.searchsorted(neg_sorted, thr, side="left")) / (n - nf)
    return trapezoid(np.r_[0, fp, 1], np.r_[0, tp, 1])


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def index(self, m):
        limit = (1 << 64) - ((1 << 64) % m)
        while True:
            z = self.next()
            if z < limit:
                return z % m


def range_norm(p):
    lo, hi = p.min(), p.max()
    return (p - lo) / (hi - lo) if hi > lo else np.zeros_like(p)


def step_auc(pos, neg):
    top = max(pos.max(), neg.max())
    ks = np.arange(int(math.floor(top / STEP + 1e-9)), -1, -1)
    t = ks * STEP
    tp = (pos[None, :] >= t[:, None]).mean(axis=1)
    fp = (neg[None, :] >= t[:, None]).mean(axis=1)
    return trapezoid(np.r_[0, fp, 1], np.r_[0, tp, 1])


def auc_borji(p, f, seed):
    fix = (f != 0).ravel()
    nf = int(fix.sum())
    if nf <= 1:
        return math.nan
    s = range_norm(p.ravel())
    rng = SplitMix64(seed)
    aucs = []
    for _ in range(NSPLITS):
        idx = np.array([rng.index(s.size) for _ in range(nf)])
        aucs.append(step_auc(s[fix], s[idx]))
    return float(np.mean(aucs))


def sauc(p, f, other, seed):
    fix = (f != 0).ravel()
    nf = int(fix.sum())
    pool = np.unique(np.asarray(other, dtype=np.int64))
    if nf == 0 or pool.size == 0:
        return math.nan
    if pool.min() < 0 or pool.max() >= p.size:
        raise SystemExit("metrics_ref: --other index outside the map")
    s = range_norm(p.ravel())
    k = min(nf, pool.size)
    rng = SplitMix64(seed)
    aucs = []
    for _ in range(NSPLITS):
        perm = pool.copy()
        for j in range(k):
            t = j + rng.index(pool.size - j)
            perm[j], perm[t] = perm[t], perm[j]
        aucs.append(step_auc(s[fix], s[perm[:k]]))
    return float(np.mean(aucs))


def loss_and_grad(p, q):
    """KL - 0.1 CC - 0.1 SIM (SIM without min-max) and d/dP, via explicit
    per-term derivatives assembled with the full quotient rule."""
    p, q = p.ravel(), q.ravel()
    n = p.size
    sp, sq = p.sum(), q.sum()
    pn, qn = p / sp, q / sq
    a, b = p - p.mean(), q - q.mean()
    saa, sbb, sab = a @ a, b @ b, a @ b
    c = sab / math.sqrt(saa * sbb)
    loss = float(np.sum(qn * np.log(EPS + qn / (pn + EPS))) - 0.1 * c - 0.1 * np.minimum(pn, qn).sum())
    # d KL / d pn_i, from KL_i = qn * log(EPS + qn * (pn + EPS)^-1)
    u = pn + EPS
    dkl = qn / (EPS + qn / u) * (-qn / u**2)
    dsim = np.where(pn < qn, 1.0, np.where(pn > qn, 0.0, 0.5))
    # dpn_i/dp_j = delta_ij / sp - p_i / sp^2, applied as a matrix-free product
    g = dkl - 0.1 * dsim
    gnorm = g / sp - (g @ p) / sp**2
    # d CC / d p_j with the centring matrix (I - 11^T/n) applied explicitly
    dnum = b - b.sum() / n
    dsaa = 2 * (a - a.sum() / n)
    dcc = dnum / math.sqrt(saa * sbb) - sab * dsaa / (2 * saa * math.sqrt(saa * sbb))
    return loss, gnorm - 0.1 * dcc


def loss_and_grad_autograd(p, q):
    """The same loss written as plain tensor operations and differentiated by
    PyTorch's autograd in float64: a check that shares no derivative algebra
    with loss_and_grad or the C code (torch.minimum splits a tie's gradient
    1/2 - 1/2, the convention metrics.h documents)."""
    import torch

    P = torch.tensor(p.ravel(), dtype=torch.float64, requires_grad=True)
    Q = torch.tensor(q.ravel(), dtype=torch.float64)
    Pn, Qn = P / P.sum(), Q / Q.sum()
    kl_t = (Qn * torch.log(EPS + Qn / (Pn + EPS))).sum()
    a, b = P - P.mean(), Q - Q.mean()
    cc_t = (a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())
    sim_t = torch.minimum(Pn, Qn).sum()
    loss = kl_t - 0.1 * cc_t - 0.1 * sim_t
    loss.backward()
    return float(loss.item()), P.grad.numpy().tolist()


def prepare(pred, gh, gw):
    pred = pred.astype(np.float64)
    x = range_norm(pred)
    r = 4
    t = np.arange(-r, r + 1)
    k = np.exp(-t**2 / (2 * 2.0**2))
    k /= k.sum()
    padded = np.pad(x, r, mode="symmetric")
    rows = sum(k[i] * padded[:, i:i + x.shape[1]] for i in range(2 * r + 1))
    blur = sum(k[i] * rows[i:i + x.shape[0], :] for i in range(2 * r + 1))

    def interp_matrix(n_in, n_out):
        m = np.zeros((n_out, n_in))
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        w = src - i0
        np.add.at(m, (np.arange(n_out), i0), 1 - w)
        np.add.at(m, (np.arange(n_out), i1), w)
        return m

    return interp_matrix(x.shape[0], gh) @ blur @ interp_matrix(x.shape[1], gw).T


def jsonable(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--other")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grad", action="store_true", help="also print the loss gradient")
    ap.add_argument("--autograd", action="store_true",
                    help="also print the loss and its gradient from PyTorch autograd (loss_torch, grad_torch)")
    ap.add_argument("--prepare", nargs=3, metavar=("PRED", "GH", "GW"))
    a = ap.parse_args()
    if a.prepare:
        out = prepare(np.load(a.prepare[0]), int(a.prepare[1]), int(a.prepare[2]))
        print(json.dumps({"prepared": out.ravel().tolist()}))
        return 0
    if len(a.files) != 3:
        ap.error("need P.npy Q.npy F.npy")
    p, q, f = (np.load(x).astype(np.float64) for x in a.files)
    if not (p.shape == q.shape == f.shape):
        ap.error(f"shapes differ: {p.shape} {q.shape} {f.shape}")
    res = {
        "cc": cc(p, q),
        "sim": sim(p, q),
        "kl": kl(p, q),
        "nss": nss(p, f),
        "auc_judd": auc_judd(p, f),
        "auc_borji": auc_borji(p, f, a.seed),
    }
    if a.other:
        res["sauc"] = sauc(p, f, np.load(a.other), a.seed)
    if p.min() != p.max() and q.min() != q.max() and p.min() >= 0 and q.min() >= 0:
        loss, grad = loss_and_grad(p, q)
        res["loss"] = loss
        if a.grad:
            res["grad"] = grad.tolist()
        if a.autograd:
            res["loss_torch"], res["grad_torch"] = loss_and_grad_autograd(p, q)
    print(json.dumps({k: jsonable(v) for k, v in res.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
