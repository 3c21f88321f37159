#!/usr/bin/python3
"""torch_resnet_peer.py — PyTorch peer of `ferc bench` for the residual net of
issue 12: training steps (Adam lr 1e-3, softmax cross-entropy) of
"spec:44:conv64 bn relu res64 res64 res128s2 res128 res256s2 res256 res512s2
res512 gap dense7" (a ResNet-18-like net for 44 px: a 3x3 stem without
downsampling, eight standard basic blocks, global average pooling) on random
data of shape (N, 1, 44, 44), timed as ../shared/bench/torch_peer.py times
its nets: --warmup untimed batches, then --images images in batches of
--batch. Convs carry biases and BatchNorm uses eps 1e-3, momentum 0.01, as
ferc's do. Prints one JSON line.

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_resnet_peer.py --threads 2 --batch 64
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1), bn(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1), bn(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0), bn(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (self.sc(x) if self.sc is not None else x))


def net():
    layers = [nn.Conv2d(1, 64, 3, 1, 1), bn(64), nn.ReLU()]
    cin = 64
    for c, s in ((64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)):
        layers.append(Block(cin, c, s))
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 7)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    m = net().train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 1, 44, 44)
    y = torch.randint(0, 7, (a.batch,))

    def step():
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    nb = max(1, a.images // a.batch)
    t0 = time.perf_counter()
    for _ in range(nb):
        step()
    secs = time.perf_counter() - t0
    print(json.dumps({"framework": "torch " + torch.__version__, "arch": "resnet44", "mode": "train",
                      "batch": a.batch, "threads": a.threads, "images": nb * a.batch, "seconds": secs,
                      "images_per_s": nb * a.batch / secs}))


if __name__ == "__main__":
    main()
