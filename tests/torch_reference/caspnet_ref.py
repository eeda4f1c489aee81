#!/usr/bin/python3
"""Independent PyTorch reference of CASP-Net, written from shared/spec/MODEL.md alone.

Usage:
  /usr/bin/python3 tests/torch_reference/caspnet_ref.py --weights W.safetensors --clip CLIP.npy \
      [--logmel MEL.npy] --out SAL.npy [--dump-dir D] [--attention linear|quadratic] [--threads K]

The variant ("av" or "v") comes from the weights file's metadata. With
--dump-dir the taps X1..X4, fA, V1..V4, F1..F4, F4p (CPC output) and sal are
written there as float32 .npy (variant v: no fA; F_i = V_i, F4p = V4).

Everything is plain PyTorch in float32 (float64 with --double); BatchNorm is applied unfused from its
running statistics (eps 1e-3 in S3D, 1e-5 elsewhere), never folded. weights/train.py trains this
same definition (encode / decode split, BatchNorm with batch statistics in train mode only).

Weight-key choices where the spec leaves a detail to interpretation (the most
literal reading was taken each time):
  * avim.{i}.q / k / v / out are Conv3d 1x1x1 -> weight 256x256x1x1x1 (5-D), bias 256.
  * avim.{i}.audio_proj and cpc.audio_proj are Linear -> weight 256x128, bias 256.
  * The ASPP image-pool branch is a CBR named `pool`: avim.{i}.aspp.pool.conv.weight
    (64 x C_i x 1x1x1) and avim.{i}.aspp.pool.bn.*; `proj` is avim.{i}.aspp.proj.conv.weight
    (256 x 320 x 1x1x1) + avim.{i}.aspp.proj.bn.*. b1..b3 convs are 64 x C_i x 1x3x3.
  * cpc.phi1 / phi2 are Conv3d (weight 256x256x3x3x3, bias); cpc.theta1 / theta2 are
    ConvTranspose3d (weight C_in x C_out x 3x3x3 = 256x256x3x3x3, bias).
  * Decoder: dec.{k}.dense.{j}.bn.* (256+32j channels) and dec.{k}.dense.{j}.conv.weight
    (32 x (256+32j) x 1x3x3); dec.{k}.trans.bn.* (352) and dec.{k}.trans.conv.weight
    (64x352x1x1x1); dec.{k}.gen.bn.* (64), dec.{k}.gen.conv.weight (64x64x1x3x3) and
    dec.{k}.gen.conv.bias; dec.1.head.weight (1x64x1x3x3) and dec.1.head.bias (1) exist for
    k = 1 only. k runs 1..4 in key order; the forward pass visits 4, 3, 2, 1.
  * The dense block appends each new 32-channel output after the running concatenation
    (torch.cat([x, new], 1)); trans = BRC(1x1x1) then mean over T (kept as T = 1).
  * BatchNorm keys are weight, bias, running_mean, running_var; no num_batches_tracked.
  * Key order (spec_keys): video, audio, avim.1..4 (aspp b0,b1,b2,b3,pool,proj, then
    audio_proj,q,k,v,out), cpc (audio_proj, phi1, phi2, theta1, theta2), dec.1..4.
    Loading is by name; the order only matters for the files this code writes.

Computation notes (not key names):
  * K = k(f_A-hat) is evaluated on the 1x1x1 audio vector and broadcast to all L rows,
    which equals applying the 1x1x1 conv at every position; both attention forms are
    then computed literally from the L x 256 matrices (no closed form exploited).
  * quadratic attention runs in blocks of query rows (at most 2^24 scores at a time).
  * Matrix products go through a 1x1 convolution (mm below) because this torch build
    links the generic reference BLAS; the arithmetic is the same float32 product.
  * Errors in the inputs or the weights file exit with status 2 and a one-line message.
"""
import argparse
import math
import os
import sys
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402

S3D_EPS = 1e-3
BN_EPS = 1e-5
C = 256
STAGE_CH = (192, 480, 832, 1024)
CPC_ITERS = 3
CPC_ALPHA = 0.1
TAP_NAMES = ["X1", "X2", "X3", "X4", "fA", "V1", "V2", "V3", "V4", "F1", "F2", "F3", "F4", "F4p", "sal"]

# Mixed blocks of S3D: index -> (in, a, b, c, d, e, f) for "a / b->c / d->e / pool->f"
MIXED = {
    5: (192, 64, 96, 128, 16, 32, 32),
    6: (256, 128, 128, 192, 32, 96, 64),
    8: (480, 192, 96, 208, 16, 48, 64),
    9: (512, 160, 112, 224, 24, 64, 64),
    10: (512, 128, 128, 256, 24, 64, 64),
    11: (512, 112, 144, 288, 32, 64, 64),
    12: (528, 256, 160, 320, 32, 128, 128),
    14: (832, 256, 160, 320, 32, 128, 128),
    15: (832, 384, 192, 384, 48, 128, 128),
}


# ---------------------------------------------------------------------------
# Calibration hook (used by make_weights.py only; inert during inference)
# ---------------------------------------------------------------------------
class Calibration:
    """Calibration hook for make_weights.py (inert during inference).

    While active, every BatchNorm sets its running stats from the per-channel mean and
    (biased) variance of its actual input (first visit only, so layer by layer in forward
    order), each AVIM output conv is scaled so its residual out(A) has res_scale times the
    standard deviation of V_i, and the head is scaled and biased so the logits have mean 0
    and standard deviation head_std.

    With groups > 1, that many forward passes (e.g. clips of different sizes) run in
    lock-step threads: at every calibrated layer each group contributes its statistics,
    and all use the equal-weight pooled statistics (mean of the group means; mean of
    group variance plus squared deviation of the group mean)."""

    current = None

    def __init__(self, res_scale=0.1, head_std=1.0, groups=1):
        self.res_scale = res_scale
        self.head_std = head_std
        self.groups = groups
        self.barrier = threading.Barrier(groups) if groups > 1 else None
        self.lock = threading.Lock()
        self.slots = {}
        self.local = threading.local()
        self.done = set()   # union over groups, for checks
        self.log = []

    def __enter__(self):
        Calibration.current = self
        return self

    def __exit__(self, *exc):
        if exc[0] is not None and self.barrier is not None:
            self.barrier.abort()
        Calibration.current = None
        return False

    # per-thread bookkeeping
    def _index(self):
        return getattr(self.local, "index", 0)

    def pending(self, obj):
        return id(obj) not in getattr(self.local, "done", set())

    def mark(self, obj):
        if not hasattr(self.local, "done"):
            self.local.done = set()
        self.local.done.add(id(obj))
        with self.lock:
            self.done.add(id(obj))

    def pooled(self, key, mean, var):
        """Pools per-channel (mean, var) float64 tensors over the groups (equal weights)."""
        if self.groups == 1:
            return mean, var
        with self.lock:
            self.slots.setdefault(key, [None] * self.groups)[self._index()] = (mean, var)
        self.barrier.wait()
        ms = [m for m, _ in self.slots[key]]
        vs = [v for _, v in self.slots[key]]
        m = sum(ms) / self.groups
        v = sum(vi + (mi - m) ** 2 for mi, vi in zip(ms, vs)) / self.groups
        return m, v

    def once(self, fn):
        """Runs fn in group 0 only, with every group waiting until it is done."""
        if self.groups == 1:
            fn()
            return
        self.barrier.wait()
        if self._index() == 0:
            fn()
        self.barrier.wait()


def channel_stats(x):
    """Per-channel (dim 1) mean and biased variance in float64."""
    dims = [d for d in range(x.dim()) if d != 1]
    x64 = x.double()
    return x64.mean(dims), x64.var(dims, unbiased=False)


def scalar_stats(x):
    x64 = x.double()
    return x64.mean().reshape(1), x64.var(unbiased=False).reshape(1)


class BN(nn.Module):
    """BatchNorm over dim 1 (no num_batches_tracked): from the running statistics in eval mode,
    the only mode inference and the parity tests use. In train mode (weights/train.py) it
    normalises with the batch's statistics and updates the running ones (momentum 0.1), so the
    exported file holds running statistics the engine folds like any others; batch_stats False
    (the ASPP image-pool branch: one value per clip) keeps the running statistics there too."""

    def __init__(self, c, eps):
        super().__init__()
        self.eps = eps
        self.batch_stats = True
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    @torch.no_grad()
    def calibrate_from(self, x):
        cal = Calibration.current
        m, v = cal.pooled(("bn", id(self)), *channel_stats(x))

        def write():
            self.running_mean.copy_(m.float())
            self.running_var.copy_(v.float())
        cal.once(write)
        cal.mark(self)

    def forward(self, x):
        cal = Calibration.current
        if cal is not None and cal.pending(self):
            self.calibrate_from(x)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training and self.batch_stats, 0.1, self.eps)


# ---------------------------------------------------------------------------
# S3D video encoder (video.base.N)
# ---------------------------------------------------------------------------
class BasicConv3d(nn.Module):
    def __init__(self, cin, cout, k=1, s=1, p=0):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, s, p, bias=False)
        self.bn = BN(cout, S3D_EPS)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class SepConv3d(nn.Module):
    def __init__(self, cin, cout, k, s=1, p=0):
        super().__init__()
        self.conv_s = nn.Conv3d(cin, cout, (1, k, k), (1, s, s), (0, p, p), bias=False)
        self.bn_s = BN(cout, S3D_EPS)
        self.conv_t = nn.Conv3d(cout, cout, (k, 1, 1), (s, 1, 1), (p, 0, 0), bias=False)
        self.bn_t = BN(cout, S3D_EPS)

    def forward(self, x):
        x = F.relu(self.bn_s(self.conv_s(x)))
        return F.relu(self.bn_t(self.conv_t(x)))


class Mixed(nn.Module):
    def __init__(self, cin, a, b, c, d, e, f):
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv3d(cin, a))
        self.branch1 = nn.Sequential(BasicConv3d(cin, b), SepConv3d(b, c, 3, 1, 1))
        self.branch2 = nn.Sequential(BasicConv3d(cin, d), SepConv3d(d, e, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), BasicConv3d(cin, f))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class S3D(nn.Module):
    TAPS = {3: "X1", 6: "X2", 12: "X3", 15: "X4"}

    def __init__(self):
        super().__init__()
        layers = []
        for i in range(16):
            if i == 0:
                layers.append(SepConv3d(3, 64, 7, 2, 3))
            elif i in (1, 4):
                layers.append(nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
            elif i == 2:
                layers.append(BasicConv3d(64, 64, 1))
            elif i == 3:
                layers.append(SepConv3d(64, 192, 3, 1, 1))
            elif i == 7:
                layers.append(nn.MaxPool3d((3, 3, 3), (2, 2, 2), (1, 1, 1)))
            elif i == 13:
                layers.append(nn.MaxPool3d((2, 2, 2), (2, 2, 2), (0, 0, 0)))
            else:
                layers.append(Mixed(*MIXED[i]))
        self.base = nn.Sequential(*layers)

    def forward(self, x):
        out = []
        for i, layer in enumerate(self.base):
            x = layer(x)
            if i in self.TAPS:
                out.append(x)
        return out  # X1, X2, X3, X4


# ---------------------------------------------------------------------------
# VGGish audio encoder (audio.features.N, audio.embeddings.N)
# ---------------------------------------------------------------------------
class VGGish(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),            # 0 1 2
            nn.Conv2d(64, 128, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),          # 3 4 5
            nn.Conv2d(128, 256, 3, 1, 1), nn.ReLU(),                             # 6 7
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),         # 8 9 10
            nn.Conv2d(256, 512, 3, 1, 1), nn.ReLU(),                             # 11 12
            nn.Conv2d(512, 512, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),         # 13 14 15
        )
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096), nn.ReLU(),                             # 0 1
            nn.Linear(4096, 4096), nn.ReLU(),                                    # 2 3
            nn.Linear(4096, 128), nn.ReLU(),                                     # 4 5
        )

    def forward(self, x):
        x = self.features(x)                       # N x 512 x 6 x 4
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # N x 6 x 4 x 512 -> N x 12288
        return self.embeddings(x)                  # fA: N x 128


# ---------------------------------------------------------------------------
# AVIM
# ---------------------------------------------------------------------------
class CBR(nn.Module):
    """Conv3d (no bias) + BN (eps 1e-5) + ReLU."""

    def __init__(self, cin, cout, k=(1, 1, 1), pad=(0, 0, 0), dil=(1, 1, 1)):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, 1, pad, dilation=dil, bias=False)
        self.bn = BN(cout, BN_EPS)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class ASPPPool(CBR):
    """mean over T, H, W -> CBR 1x1x1 -> broadcast back."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout)
        self.bn.batch_stats = False

    def forward(self, x):
        cal = Calibration.current
        if cal is not None and cal.pending(self.bn):
            # The pooled input has one value per clip; calibrate on the distribution of
            # the same 1x1x1 conv over all positions (same mean, meaningful variance).
            self.bn.calibrate_from(self.conv(x))
        p = x.mean(dim=(2, 3, 4), keepdim=True)
        y = F.relu(self.bn(self.conv(p)))
        return y.expand(-1, -1, x.shape[2], x.shape[3], x.shape[4])


class ASPP(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.b0 = CBR(cin, 64)
        self.b1 = CBR(cin, 64, (1, 3, 3), (0, 2, 2), (1, 2, 2))
        self.b2 = CBR(cin, 64, (1, 3, 3), (0, 4, 4), (1, 4, 4))
        self.b3 = CBR(cin, 64, (1, 3, 3), (0, 6, 6), (1, 6, 6))
        self.pool = ASPPPool(cin, 64)
        self.proj = CBR(320, C)

    def forward(self, x):
        y = torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x), self.pool(x)], 1)
        return self.proj(y)


def phi(x):
    return F.gelu(x) + 0.2  # exact (erf) GELU


def mm(a, b):
    """a @ b for 2-D float32 matrices, run as a 1x1 convolution: this Debian torch build has
    only the generic reference BLAS (a few GFLOP/s), while its oneDNN convolutions are ~10x
    faster. Same mathematics, float32 accumulation."""
    out = F.conv2d(a.t().unsqueeze(0).unsqueeze(3), b.t().unsqueeze(2).unsqueeze(3))
    return out[0, :, :, 0].t()


def quadratic_attention(Q, K, V, block_elems=1 << 24):
    """softmax_rows(Q K^T / L) V for Q, K, V of shape N x L x C, computed in blocks of query
    rows so that at most block_rows x L scores exist at once (never L x L)."""
    N, L, _ = Q.shape
    rows = max(1, min(L, block_elems // L))
    out = torch.empty_like(V)
    for n in range(N):
        Kt = K[n].t().contiguous()
        Vn = V[n].contiguous()
        for r0 in range(0, L, rows):
            r1 = min(L, r0 + rows)
            s = mm(Q[n, r0:r1], Kt) / L
            out[n, r0:r1] = mm(torch.softmax(s, dim=1), Vn)
    return out


def linear_attention(Q, K, V):
    """phi(Q) @ (phi(K)^T @ V) / L for N x L x C inputs."""
    L = Q.shape[1]
    out = torch.empty_like(V)
    for n in range(Q.shape[0]):
        kv = mm(phi(K[n]).t(), V[n])          # C x C
        out[n] = mm(phi(Q[n]), kv) / L
    return out


class AVIM(nn.Module):
    def __init__(self, cin, audio):
        super().__init__()
        self.has_audio = audio
        self.aspp = ASPP(cin)
        if audio:
            self.audio_proj = nn.Linear(128, C)
            self.q = nn.Conv3d(C, C, 1)
            self.k = nn.Conv3d(C, C, 1)
            self.v = nn.Conv3d(C, C, 1)
            self.out = nn.Conv3d(C, C, 1)

    def forward(self, x, fa, attention):
        vi = self.aspp(x)
        if not self.has_audio:
            return vi, vi
        N, _, T, h, w = vi.shape
        L = T * h * w
        fhat = self.audio_proj(fa)[:, :, None, None, None]           # f_A-hat, N x C x 1x1x1
        # k() of the broadcast f_A-hat equals k() of the 1x1x1 tensor broadcast (1x1x1 conv).
        K = self.k(fhat).expand(N, C, T, h, w).reshape(N, C, L).transpose(1, 2).contiguous()
        Q = self.q(vi).reshape(N, C, L).transpose(1, 2).contiguous()
        V = self.v(vi).reshape(N, C, L).transpose(1, 2).contiguous()
        if attention == "linear":
            A = linear_attention(Q, K, V)
        elif attention == "quadratic":
            A = quadratic_attention(Q, K, V)
        else:
            raise ValueError(f"unknown attention '{attention}' (linear or quadratic)")
        A = A.transpose(1, 2).reshape(N, C, T, h, w)
        cal = Calibration.current
        if cal is not None and cal.pending(self.out):
            _, var_o = cal.pooled(("out", id(self.out)), *scalar_stats(F.conv3d(A, self.out.weight)))
            _, var_v = cal.pooled(("vi", id(self.out)), *scalar_stats(vi))
            s = cal.res_scale * math.sqrt(float(var_v)) / max(math.sqrt(float(var_o)), 1e-12)

            def scale():
                with torch.no_grad():
                    self.out.weight.mul_(s)
                cal.log.append(("avim.out scale", s))
            cal.once(scale)
            cal.mark(self.out)
        return vi, vi + self.out(A)


# ---------------------------------------------------------------------------
# CPC
# ---------------------------------------------------------------------------
def theta_adjoint(e, weight):
    """thetaT(e): the adjoint of the linear part of ConvTranspose3d(weight, stride 1, pad 1),
    i.e. Conv3d of e with the same weight tensor, pad 1, no bias."""
    return F.conv3d(e, weight, None, 1, 1)


class CPC(nn.Module):
    def __init__(self):
        super().__init__()
        self.audio_proj = nn.Linear(128, C)
        self.phi1 = nn.Conv3d(C, C, 3, 1, 1)
        self.phi2 = nn.Conv3d(C, C, 3, 1, 1)
        self.theta1 = nn.ConvTranspose3d(C, C, 3, 1, 1)
        self.theta2 = nn.ConvTranspose3d(C, C, 3, 1, 1)

    def forward(self, v, fa, iters=CPC_ITERS, alpha=CPC_ALPHA):
        a = self.audio_proj(fa)[:, :, None, None, None].expand_as(v)
        mu1 = F.relu(self.phi1(v))
        mu2 = F.relu(self.phi2(mu1))
        for _ in range(iters):
            e0 = a - self.theta1(mu1)
            e1 = mu1 - self.theta2(mu2)
            mu1, mu2 = (F.relu(mu1 + alpha * theta_adjoint(e0, self.theta1.weight)),
                        F.relu(mu2 + alpha * theta_adjoint(e1, self.theta2.weight)))
        return v + self.theta1(mu1)


# ---------------------------------------------------------------------------
# SalDecoder
# ---------------------------------------------------------------------------
class BRC(nn.Module):
    """BN (eps 1e-5) + ReLU + Conv3d ("same" padding, no bias)."""

    def __init__(self, cin, cout, k, pad):
        super().__init__()
        self.bn = BN(cin, BN_EPS)
        self.conv = nn.Conv3d(cin, cout, k, 1, pad, bias=False)

    def forward(self, x):
        return self.conv(F.relu(self.bn(x)))


class Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = BN(64, BN_EPS)
        self.conv = nn.Conv3d(64, 64, (1, 3, 3), 1, (0, 1, 1), bias=True)

    def forward(self, x):
        return self.conv(F.relu(self.bn(x)))


def resize_hw(x, size):
    """Bilinear (align_corners=False) resize of N x C x 1 x h x w to the given (h, w)."""
    return F.interpolate(x[:, :, 0], size=tuple(size), mode="bilinear", align_corners=False).unsqueeze(2)


class DecBlock(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.dense = nn.ModuleList([BRC(C + 32 * j, 32, (1, 3, 3), (0, 1, 1)) for j in range(3)])
        self.trans = BRC(C + 96, 64, (1, 1, 1), (0, 0, 0))
        self.gen = Gen()
        if head:
            self.head = nn.Conv3d(64, 1, (1, 3, 3), 1, (0, 1, 1), bias=True)

    def forward(self, f, prev):
        x = f
        for layer in self.dense:
            x = torch.cat([x, layer(x)], 1)
        x = self.trans(x).mean(dim=2, keepdim=True)
        if prev is not None:
            x = x + resize_hw(prev, x.shape[-2:])
        return self.gen(x)

    def logits(self, g, size):
        cal = Calibration.current
        if cal is not None and cal.pending(self.head):
            z0 = F.conv3d(g, self.head.weight, None, 1, (0, 1, 1))
            mean, var = cal.pooled(("head", id(self.head)), *scalar_stats(z0))
            s = cal.head_std / max(math.sqrt(float(var)), 1e-12)

            def scale():
                with torch.no_grad():
                    self.head.weight.mul_(s)
                    self.head.bias.fill_(-float(mean) * s)
                cal.log.append(("head scale", s))
            cal.once(scale)
            cal.mark(self.head)
        z = self.head(g)
        return F.interpolate(z[:, :, 0], size=tuple(size), mode="bilinear", align_corners=False)


# ---------------------------------------------------------------------------
# The whole model
# ---------------------------------------------------------------------------
class CASPNet(nn.Module):
    def __init__(self, variant="av"):
        super().__init__()
        if variant not in ("av", "v"):
            raise ValueError(f"unknown variant '{variant}' (av or v)")
        self.variant = variant
        av = variant == "av"
        self.video = S3D()
        if av:
            self.audio = VGGish()
        self.avim = nn.ModuleDict({str(i + 1): AVIM(c, av) for i, c in enumerate(STAGE_CH)})
        if av:
            self.cpc = CPC()
        self.dec = nn.ModuleDict({str(k): DecBlock(k == 1) for k in range(1, 5)})
        # an inference model unless a trainer asks otherwise: BatchNorm from running statistics
        self.eval()

    def forward(self, clip, logmel=None, attention="linear", taps=None):
        check_inputs(clip, logmel, self.variant)
        t = {} if taps is None else taps
        X, fa = self.encode(clip, logmel, t)
        return self.decode(X, fa, clip.shape[-2:], attention, t)

    def encode(self, clip, logmel=None, taps=None):
        """The two encoders: (X1..X4, fA or None). Split from decode so a trainer with frozen
        encoders can run them without autograd."""
        t = {} if taps is None else taps
        X = self.video(clip)
        for i, x in enumerate(X):
            t[f"X{i + 1}"] = x
        fa = None
        if self.variant == "av":
            fa = self.audio(logmel)
            t["fA"] = fa
        return X, fa

    def decode(self, X, fa, size, attention="linear", taps=None):
        """AVIMs, CPC, decoder and head: the N x 1 x H x W map for clips of size (H, W)."""
        if attention not in ("linear", "quadratic"):
            raise ValueError(f"unknown attention '{attention}' (linear or quadratic)")
        t = {} if taps is None else taps
        H, W = size
        Fs = []
        for i, x in enumerate(X):
            vi, fi = self.avim[str(i + 1)](x, fa, attention)
            t[f"V{i + 1}"] = vi
            t[f"F{i + 1}"] = fi
            Fs.append(fi)
        f4p = self.cpc(Fs[3], fa) if self.variant == "av" else Fs[3]
        t["F4p"] = f4p
        ins = {1: Fs[0], 2: Fs[1], 3: Fs[2], 4: f4p}
        prev = None
        for k in (4, 3, 2, 1):
            prev = self.dec[str(k)](ins[k], prev)
        z = self.dec["1"].logits(prev, (H, W))
        sal = torch.sigmoid(z)
        t["sal"] = sal
        return sal


def check_inputs(clip, logmel, variant):
    if clip.dim() != 5 or clip.shape[1] != 3 or clip.shape[2] != 16:
        raise ValueError(f"clip must be N x 3 x 16 x H x W, got {tuple(clip.shape)}")
    N, _, _, H, W = clip.shape
    if N < 1 or H < 32 or W < 32 or H % 32 or W % 32:
        raise ValueError(f"clip height and width must be positive multiples of 32, got {H} x {W}")
    if variant == "av":
        if logmel is None:
            raise ValueError("the av variant needs a log-mel input (N x 1 x 96 x 64)")
        if tuple(logmel.shape) != (N, 1, 96, 64):
            raise ValueError(f"log-mel must be {N} x 1 x 96 x 64 to match the clip, got {tuple(logmel.shape)}")


# ---------------------------------------------------------------------------
# Keys, derived a second time directly from the spec text (cross-checked in selftest)
# ---------------------------------------------------------------------------
def spec_keys(variant="av"):
    """Ordered list of (key, shape) of a weights file of the given variant."""
    if variant not in ("av", "v"):
        raise ValueError(f"unknown variant '{variant}'")
    keys = []

    def add(k, *shape):
        keys.append((k, tuple(shape)))

    def bn(p, c):
        for s in ("weight", "bias", "running_mean", "running_var"):
            add(f"{p}.{s}", c)

    def basic(p, ci, co):
        add(f"{p}.conv.weight", co, ci, 1, 1, 1)
        bn(f"{p}.bn", co)

    def sep(p, ci, co, k):
        add(f"{p}.conv_s.weight", co, ci, 1, k, k)
        bn(f"{p}.bn_s", co)
        add(f"{p}.conv_t.weight", co, co, k, 1, 1)
        bn(f"{p}.bn_t", co)

    v = "video.base"
    sep(f"{v}.0", 3, 64, 7)
    basic(f"{v}.2", 64, 64)
    sep(f"{v}.3", 64, 192, 3)
    for i in (5, 6, 8, 9, 10, 11, 12, 14, 15):
        ci, a, b, c, d, e, f = MIXED[i]
        basic(f"{v}.{i}.branch0.0", ci, a)
        basic(f"{v}.{i}.branch1.0", ci, b)
        sep(f"{v}.{i}.branch1.1", b, c, 3)
        basic(f"{v}.{i}.branch2.0", ci, d)
        sep(f"{v}.{i}.branch2.1", d, e, 3)
        basic(f"{v}.{i}.branch3.1", ci, f)
    av = variant == "av"
    if av:
        for i, ci, co in ((0, 1, 64), (3, 64, 128), (6, 128, 256), (8, 256, 256), (11, 256, 512), (13, 512, 512)):
            add(f"audio.features.{i}.weight", co, ci, 3, 3)
            add(f"audio.features.{i}.bias", co)
        for i, ci, co in ((0, 12288, 4096), (2, 4096, 4096), (4, 4096, 128)):
            add(f"audio.embeddings.{i}.weight", co, ci)
            add(f"audio.embeddings.{i}.bias", co)
    for i, ci in enumerate(STAGE_CH, 1):
        p = f"avim.{i}"
        add(f"{p}.aspp.b0.conv.weight", 64, ci, 1, 1, 1)
        bn(f"{p}.aspp.b0.bn", 64)
        for b in ("b1", "b2", "b3"):
            add(f"{p}.aspp.{b}.conv.weight", 64, ci, 1, 3, 3)
            bn(f"{p}.aspp.{b}.bn", 64)
        add(f"{p}.aspp.pool.conv.weight", 64, ci, 1, 1, 1)
        bn(f"{p}.aspp.pool.bn", 64)
        add(f"{p}.aspp.proj.conv.weight", 256, 320, 1, 1, 1)
        bn(f"{p}.aspp.proj.bn", 256)
        if av:
            add(f"{p}.audio_proj.weight", 256, 128)
            add(f"{p}.audio_proj.bias", 256)
            for m in ("q", "k", "v", "out"):
                add(f"{p}.{m}.weight", 256, 256, 1, 1, 1)
                add(f"{p}.{m}.bias", 256)
    if av:
        add("cpc.audio_proj.weight", 256, 128)
        add("cpc.audio_proj.bias", 256)
        for m in ("phi1", "phi2", "theta1", "theta2"):
            add(f"cpc.{m}.weight", 256, 256, 3, 3, 3)
            add(f"cpc.{m}.bias", 256)
    for k in range(1, 5):
        p = f"dec.{k}"
        for j in range(3):
            bn(f"{p}.dense.{j}.bn", 256 + 32 * j)
            add(f"{p}.dense.{j}.conv.weight", 32, 256 + 32 * j, 1, 3, 3)
        bn(f"{p}.trans.bn", 352)
        add(f"{p}.trans.conv.weight", 64, 352, 1, 1, 1)
        bn(f"{p}.gen.bn", 64)
        add(f"{p}.gen.conv.weight", 64, 64, 1, 3, 3)
        add(f"{p}.gen.conv.bias", 64)
        if k == 1:
            add("dec.1.head.weight", 1, 64, 1, 3, 3)
            add("dec.1.head.bias", 1)
    return keys


def state_keys(model):
    """The model's (key, shape) list in state_dict order."""
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def load_state(model, tensors):
    """Strict load: fails naming the first missing, unexpected or mis-shaped key."""
    sd = model.state_dict()
    for k, v in sd.items():
        if k not in tensors:
            raise ValueError(f"weights file lacks key '{k}' (expected shape {list(v.shape)})")
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise ValueError(f"key '{k}' has shape {list(tensors[k].shape)}, expected {list(v.shape)}")
    for k in tensors:
        if k not in sd:
            raise ValueError(f"weights file has unexpected key '{k}'")
    with torch.no_grad():
        for k, v in sd.items():
            v.copy_(tensors[k])


def load_model(path):
    """Builds the model of the file's variant and loads it; returns (model, metadata)."""
    tensors, meta = st_io.load(path)
    if meta.get("format") != "caspnet":
        raise ValueError(f"{path}: metadata format is {meta.get('format')!r}, expected 'caspnet'")
    if meta.get("version") != "1":
        raise ValueError(f"{path}: metadata version is {meta.get('version')!r}, expected '1'")
    variant = meta.get("variant")
    if variant not in ("av", "v"):
        raise ValueError(f"{path}: metadata variant is {variant!r}, expected 'av' or 'v'")
    model = CASPNet(variant)
    load_state(model, tensors)
    model.eval()
    return model, meta


def weights_dict(model):
    """state_dict as an ordered dict of float32 tensors (no num_batches_tracked exists)."""
    return {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--clip", required=True)
    p.add_argument("--logmel")
    p.add_argument("--out", required=True)
    p.add_argument("--dump-dir")
    p.add_argument("--attention", default="linear", choices=["linear", "quadratic"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--double", action="store_true",
                   help="compute in float64 and write float64 .npy (the exact function, to judge a float32 engine)")
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    try:
        t0 = time.time()
        model, meta = load_model(a.weights)
        variant = meta["variant"]
        clip = st_io.load_npy(a.clip)
        logmel = None
        if variant == "av":
            if not a.logmel:
                raise ValueError("the weights are variant av: --logmel MEL.npy (N x 1 x 96 x 64) is required")
            logmel = st_io.load_npy(a.logmel)
        elif a.logmel:
            print("note: variant v ignores --logmel", file=sys.stderr)
        check_inputs(clip, logmel, variant)
        t1 = time.time()
        if a.double:
            model = model.double()
            clip = clip.double()
            logmel = logmel.double() if logmel is not None else None
        taps = {}
        with torch.inference_mode():
            sal = model(clip, logmel, a.attention, taps)
        t2 = time.time()
    except (ValueError, OSError) as e:
        print(f"caspnet_ref: error: {e}", file=sys.stderr)
        return 2
    dtype = torch.float64 if a.double else torch.float32
    st_io.save_npy(a.out, sal, dtype)
    if a.dump_dir:
        os.makedirs(a.dump_dir, exist_ok=True)
        for name in TAP_NAMES:
            if name in taps:
                st_io.save_npy(os.path.join(a.dump_dir, f"{name}.npy"), taps[name], dtype)
    s = sal.numpy()
    frac = float(((s > 0.01) & (s < 0.99)).mean())
    print(f"caspnet_ref: variant {variant} attention {a.attention} clip {tuple(clip.shape)} "
          f"load {t1 - t0:.2f}s forward {t2 - t1:.2f}s threads {torch.get_num_threads()} "
          f"map range [{s.min():.4f}, {s.max():.4f}] in (0.01,0.99): {frac:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
