#!/usr/bin/python3
"""Checks with autograd (float64) that the CPC adjoint used by the reference is right.

MODEL.md section 5: thetaT_j(e) = Conv3d(e, W_theta_j, pad 1, no bias) is the adjoint of
the linear part of theta_j = ConvTranspose3d(W_theta_j, stride 1, pad 1) and the gradient
of 0.5*||target - theta_j(mu)||^2 with respect to mu up to sign; the update
mu + alpha*thetaT(target - theta(mu)) must be a descent step, i.e.
    -grad_mu 0.5*||target - theta(mu)||^2 == thetaT(target - theta(mu)).
Also checks against central finite differences, the inner-product identity <theta_lin(x), y> == <x, thetaT(y)> and that a
small step of the update lowers the error. Random shapes, channel counts that differ
between mu and target, bias included. Exits non-zero on failure; prints the max errors.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from caspnet_ref import theta_adjoint  # noqa: E402


def main():
    torch.manual_seed(1234)
    worst_grad = worst_inner = worst_fd = 0.0
    ok = True
    for trial in range(12):
        g = torch.Generator().manual_seed(trial)

        def ri(lo, hi):
            return int(torch.randint(lo, hi + 1, (1,), generator=g))
        n, c_mu, c_t = ri(1, 3), ri(1, 9), ri(1, 9)
        t, h, w = ri(1, 5), ri(1, 7), ri(1, 8)
        weight = torch.randn(c_mu, c_t, 3, 3, 3, generator=g, dtype=torch.float64)  # ConvTranspose3d: C_in x C_out
        bias = torch.randn(c_t, generator=g, dtype=torch.float64)
        mu = torch.randn(n, c_mu, t, h, w, generator=g, dtype=torch.float64, requires_grad=True)
        target = torch.randn(n, c_t, t, h, w, generator=g, dtype=torch.float64)

        def theta(x):
            return F.conv_transpose3d(x, weight, bias, stride=1, padding=1)

        pred = theta(mu)
        assert pred.shape == target.shape, (pred.shape, target.shape)
        loss = 0.5 * ((target - pred) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, mu)
        with torch.no_grad():
            e = target - theta(mu)
            step = theta_adjoint(e, weight)
            err = float((step + grad).abs().max()) / max(float(grad.abs().max()), 1e-30)
            worst_grad = max(worst_grad, err)

            # adjoint identity on the linear part
            x = torch.randn(n, c_mu, t, h, w, generator=g, dtype=torch.float64)
            y = torch.randn(n, c_t, t, h, w, generator=g, dtype=torch.float64)
            lhs = float((F.conv_transpose3d(x, weight, None, 1, 1) * y).sum())
            rhs = float((x * theta_adjoint(y, weight)).sum())
            inner = abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-30)
            worst_inner = max(worst_inner, inner)

            # a small step along thetaT(e) lowers the error (descent direction)
            alpha = 1e-4 / max(float(weight.abs().sum()) / weight.shape[0], 1.0)
            mu2 = mu + alpha * step
            loss2 = 0.5 * ((target - theta(mu2)) ** 2).sum()
            descent = float(loss2) < float(loss)

            # finite differences (independent of autograd's backward formula):
            # d/ds L(mu + s*d) at s = 0 equals -<thetaT(e), d>
            d = torch.randn(n, c_mu, t, h, w, generator=g, dtype=torch.float64)
            eps = 1e-5

            def L(m):
                return 0.5 * float(((target - theta(m)) ** 2).sum())
            fd = (L(mu + eps * d) - L(mu - eps * d)) / (2 * eps)
            an = -float((step * d).sum())
            fderr = abs(fd - an) / max(abs(an), 1e-30)
            worst_fd = max(worst_fd, fderr)
        good = err < 1e-10 and inner < 1e-10 and fderr < 1e-6 and descent
        ok = ok and good
        print(f"{'ok  ' if good else 'FAIL'} trial {trial:2d} mu {tuple(mu.shape)} target {tuple(target.shape)}: "
              f"rel |thetaT(e) + grad| {err:.2e}, adjoint identity {inner:.2e}, "
              f"finite difference {fderr:.2e}, descent {descent}")
    print(f"test_cpc_autograd: max relative gradient error {worst_grad:.3e}, "
          f"max adjoint-identity error {worst_inner:.3e}, max finite-difference error {worst_fd:.3e}: "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
