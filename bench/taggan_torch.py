#!/usr/bin/env python3
"""The TagGAN training step in PyTorch (CPU), as the peer for bench/taggan.sh.

Same networks as TagGAN (Mirza & Osindero 2014 sizes, feature size a parameter), same
step: D on [real; fake] for the same images with BCE-from-logits, SGD with momentum 0.5
and lr 0.1, dropout 0.5 on every hidden layer; then G's non-saturating loss through the
updated D (D's parameters frozen for that pass, so no D weight gradients are computed).
Data are random tensors of the same shapes; only the speed is compared.

    python3 bench/taggan_torch.py --threads 2 --steps 100 [--shared-image-branch]

--shared-image-branch computes D's image branch once for the real and generated rows (as
TagGAN does) instead of on the repeated features.
Prints one JSON line: steps/s and the settings.
"""
import argparse
import json
import time

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(s, f, d, noise=100, hz=500, hx=2000, p=0.5):
        super().__init__()
        s.z = nn.Linear(noise, hz)
        s.x = nn.Linear(f, hx)
        s.out = nn.Linear(hz + hx, d)
        s.drop = nn.Dropout(p)

    def forward(s, z, x):
        a = s.drop(torch.relu(s.z(z)))
        b = s.drop(torch.relu(s.x(x)))
        return s.out(torch.cat([a, b], 1))


class Discriminator(nn.Module):
    def __init__(s, f, d, hw=500, hx=1200, units=1000, pieces=3, p=0.5):
        super().__init__()
        s.w = nn.Linear(d, hw)
        s.x = nn.Linear(f, hx)
        s.maxout = nn.Linear(hw + hx, units * pieces)
        s.out = nn.Linear(units, 1)
        s.units, s.pieces = units, pieces
        s.drop = nn.Dropout(p)

    def forward(s, w, x, shared):
        a = s.drop(torch.relu(s.w(w)))
        if shared:  # x holds each image once; w repeats them
            hx = torch.relu(s.x(x)).repeat(w.shape[0] // x.shape[0], 1)
        else:
            hx = torch.relu(s.x(x))
        b = s.drop(hx)
        h = s.maxout(torch.cat([a, b], 1)).view(-1, s.units, s.pieces).max(2).values
        return s.out(s.drop(h)).squeeze(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--features", type=int, default=1280)
    p.add_argument("--dim", type=int, default=200)
    p.add_argument("--shared-image-branch", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    g, d = Generator(a.features, a.dim), Discriminator(a.features, a.dim)
    og = torch.optim.SGD(g.parameters(), lr=0.1, momentum=0.5)
    od = torch.optim.SGD(d.parameters(), lr=0.1, momentum=0.5)
    bce = nn.BCEWithLogitsLoss()
    b = a.batch
    features = torch.relu(torch.randn(5400, a.features))
    vectors = nn.functional.normalize(torch.randn(2000, a.dim), dim=1)
    ones, zeros = torch.ones(b), torch.zeros(b)

    def step():
        idx = torch.randint(0, 5400, (b,))
        x = features[idx]
        real = vectors[torch.randint(0, 2000, (b,))]
        fake = g(torch.randn(b, 100), x)
        words = torch.cat([real, fake.detach()])
        cond = x if a.shared_image_branch else torch.cat([x, x])
        logits = d(words, cond, a.shared_image_branch)
        loss_d = bce(logits[:b], ones) + bce(logits[b:], zeros)
        od.zero_grad(set_to_none=True)
        loss_d.backward()
        od.step()
        for q in d.parameters():
            q.requires_grad_(False)
        loss_g = bce(d(fake, x, a.shared_image_branch), ones)
        og.zero_grad(set_to_none=True)
        loss_g.backward()
        og.step()
        for q in d.parameters():
            q.requires_grad_(True)
        return loss_d.item(), loss_g.item()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "steps": a.steps, "seconds": seconds, "steps_per_second": a.steps / seconds,
                      "shared_image_branch": a.shared_image_branch, "batch": b, "features": a.features}))


if __name__ == "__main__":
    main()
