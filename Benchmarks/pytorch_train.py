"""PyTorch CPU training throughput under the conditions of `modelsmith-bench train`, to run in the same
session (load) as it: samples/s over whole epochs (shuffle, batch gather, forward, loss, backward,
Adam step), batch 64, digits (1437 training samples), timed as in ../shared/peers/step3b_kd.py.

    python pytorch_train.py [--data Examples/digits/digits.npz] [--epochs 5] [--threads 1,2] [--repeats 3]

Rows: 64-512-512-10 on cross-entropy; 64-64-10 distilled (T 4, alpha 0.9) from a 64-512-512-10
teacher run online per batch under no_grad (as the peer did; ModelSmith's distill caches teacher
logits instead); the small CNN on cross-entropy. Needs torch and numpy (not a test dependency).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(*sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = torch.flatten(F.max_pool2d(x, 2), 1)
        return self.fc2(F.relu(self.fc1(x)))


def run(make, x, y, epochs, teacher=None, T=4.0, alpha=0.9):
    torch.manual_seed(0)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    n = len(x)
    total = 0.0
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, 64):
            idx = perm[i:i + 64]
            xb, yb = x[idx], y[idx]
            s = model(xb)
            if teacher is not None:
                with torch.no_grad():
                    tl = teacher(xb)
                soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(tl / T, dim=1), reduction="batchmean") * (T * T)
                loss = alpha * soft + (1 - alpha) * F.cross_entropy(s, yb)
            else:
                loss = F.cross_entropy(s, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        total += time.perf_counter() - t0
    return n * epochs / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="Examples/digits/digits.npz")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    d = np.load(args.data)
    x, img, y = (torch.from_numpy(d[k]) for k in ("x_train", "x_train_img", "y_train"))
    y = y.long()
    torch.manual_seed(1)
    teacher = mlp(64, 512, 512, 10).eval()
    rows = []
    for name, make, inputs, t in [("64-512-512-10", lambda: mlp(64, 512, 512, 10), x, None),
                                  ("64-64-10 KD", lambda: mlp(64, 64, 10), x, teacher),
                                  ("small-cnn", SmallCNN, img, None)]:
        for threads in [int(v) for v in args.threads.split(",")]:
            torch.set_num_threads(threads)
            rates = [run(make, inputs, y, args.epochs, teacher=t) for _ in range(args.repeats)]
            rate = float(np.median(rates))
            rows.append({"model": name, "threads": threads, "samplesPerSecond": rate})
            print(f"{name:14s} threads {threads}  {rate:8.0f} samples/s  (torch {torch.__version__}, median of {args.repeats}, load {os.getloadavg()[0]:.1f})")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
