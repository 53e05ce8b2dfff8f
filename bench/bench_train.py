"""Trainer overhead: kitlib.train.fit against a bare hand-written torch loop, same model and data.

The sentiment MLP (512 -> 256 -> 256 -> 3) on 5,000 rows, batch 128, AdamW, 8 epochs, CPU. Both loops
run alternately three times in this process; the median time of each is compared.
Target (issue 2): fit's overhead at most 5% (ratio <= 1.05).
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

from kitlib import train
from kitlib.competitions.sentiment_classification import build_mlp, make_embeddings

EPOCHS, BATCH = 8, 128


def bare_loop(X, y):
    torch.manual_seed(0)
    model = build_mlp(512, 256, 2, 0.2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = train.tensor_loader(X, y, batch_size=BATCH, shuffle=True, seed=0)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(EPOCHS):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    return model


def kit_fit(X, y):
    torch.manual_seed(0)
    model = build_mlp(512, 256, 2, 0.2)
    train.fit(model, train.tensor_loader(X, y, batch_size=BATCH, shuffle=True, seed=0), loss_fn=nn.CrossEntropyLoss(),
              epochs=EPOCHS, lr=1e-3, schedule="cosine", warmup=0.05, device="cpu", progress=True)
    return model


def main() -> int:
    X, y = make_embeddings(5000, seed=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    bare, kit = [], []
    for _ in range(3):
        for fn, times in ((bare_loop, bare), (kit_fit, kit)):
            start = time.perf_counter()
            fn(X, y)
            times.append(time.perf_counter() - start)
    t_bare, t_kit = statistics.median(bare), statistics.median(kit)
    ratio = t_kit / t_bare
    print(f"bare torch loop : {t_bare:6.2f} s  (median of 3; {EPOCHS} epochs x {len(X) // BATCH + 1} batches)")
    print(f"kitlib.train.fit: {t_kit:6.2f} s  ratio {ratio:.3f}  (target <= 1.05)")
    print("PASS" if ratio <= 1.05 else "ABOVE TARGET")
    return 0 if ratio <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())
