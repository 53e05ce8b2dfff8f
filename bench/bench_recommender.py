"""Recommender at scale (issue 7, item 7), on synthetic data, in one process.

- the factorization machine (``kitlib.tasks.recsys.FMRecommender``, trained by ``kitlib.train.fit``)
  for one epoch over 5,000,000 interactions of 100,000 users and 10,000 items with 4 sampled negatives
  per positive, against a bare torch loop over user and item embeddings alone (BPR, same batch size,
  same optimiser family) run in the same process: the ratio is the figure to read;
- item-kNN (scipy sparse cosine) fitted on the same user-item matrix;
- scoring the top 10 for every user (batched, seen items excluded);
- peak resident memory of each phase (Linux: VmHWM, reset between phases through /proc/self/clear_refs).

Each phase prints wall seconds and the CPU seconds this process used: on a machine shared with other
work the wall time stretches, the CPU time much less (with ``--threads 1`` it is what the wall time
would be on an idle core).

Run: ``.venv/bin/python bench/bench_recommender.py`` (about 2-4 minutes on 2 cores); ``--quick`` runs
a 10x smaller problem. Targets: FM epoch < 60 s, item-kNN fit < 60 s, each phase < 4 GB peak.
"""
from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np


def reset_peak() -> None:
    """Reset the kernel's peak-RSS counter for this process (Linux); a no-op elsewhere."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_gb() -> float:
    """Peak resident memory since the last :func:`reset_peak`, in GB (ru_maxrss when /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


class Clock:
    """Wall and CPU seconds since construction; ``stop()`` returns ``(wall, cpu)``."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def synthetic(n_interactions: int, n_users: int, n_items: int, seed: int = 0):
    """Interactions with a long tail of item popularity (Zipf-like) and uniformly active users."""
    from kitlib.competitions.recommender import INTERACTION_TYPES
    from kitlib.tasks.recsys import Interactions

    rng = np.random.default_rng(seed)
    popularity = 1.0 / (np.arange(n_items) + 10.0) ** 0.8
    users = rng.integers(0, n_users, n_interactions).astype(np.int64)
    items = rng.choice(n_items, size=n_interactions, p=popularity / popularity.sum()).astype(np.int64)
    types = rng.choice(len(INTERACTION_TYPES), size=n_interactions, p=[0.6, 0.25, 0.1, 0.05]).astype(np.int64)
    stamps = (np.datetime64("2024-01-01T00:00:00", "ns")
              + rng.integers(0, 180 * 86400, n_interactions).astype("timedelta64[s]"))
    return Interactions(users, items, types, stamps, np.arange(n_users).astype(str).astype(object),
                        np.arange(n_items).astype(str).astype(object), INTERACTION_TYPES)


def bare_loop(data, factors: int, n_negatives: int, batch_size: int, seed: int = 0) -> float:
    """One epoch of BPR over user and item embeddings only: uniform negatives (no collision check), Adam."""
    import torch

    torch.manual_seed(seed)
    user = torch.nn.Embedding(data.n_users, factors)
    item = torch.nn.Embedding(data.n_items, factors)
    for table in (user, item):
        torch.nn.init.normal_(table.weight, std=0.01)
    opt = torch.optim.Adam([user.weight, item.weight], lr=1e-3)
    users, items = torch.from_numpy(data.users), torch.from_numpy(data.items)
    clock = Clock()
    negatives = torch.randint(0, data.n_items, (len(users), n_negatives))
    order = torch.randperm(len(users))
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        u = user(users[idx])
        pos = (u * item(items[idx])).sum(-1, keepdim=True)
        neg = (u[:, None, :] * item(negatives[idx])).sum(-1)
        loss = -torch.nn.functional.logsigmoid(pos - neg).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return clock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interactions", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="a 10x smaller problem")
    args = parser.parse_args()
    if args.quick:
        args.interactions, args.users, args.items = args.interactions // 10, args.users // 10, args.items // 10

    import torch

    from kitlib.fitting import Recipe
    from kitlib.tasks.recsys import FMRecommender, ItemKNNRecommender, top_k

    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.interactions:,} interactions, "
          f"{args.users:,} users, {args.items:,} items, {args.negatives} negatives per positive, "
          f"{args.factors} factors, batch {args.batch_size}")
    data = synthetic(args.interactions, args.users, args.items)

    reset_peak()
    bare_s, bare_cpu = bare_loop(data, args.factors, args.negatives, args.batch_size)
    bare_gb = peak_gb()
    print(f"bare torch loop (user+item embeddings), one epoch: {bare_s:7.1f} s wall {bare_cpu:7.1f} s cpu   "
          f"peak {bare_gb:.2f} GB")

    reset_peak()
    clock = Clock()
    recipe = Recipe(epochs=1, batch_size=args.batch_size, lr=1e-3, weight_decay=0.0, device="cpu", seed=0,
                    progress=False)
    fm = FMRecommender(args.factors, n_negatives=args.negatives, threads=args.threads, recipe=recipe).fit(data)
    fm_s, fm_cpu = clock.stop()
    epoch_s = fm.history_[0]["seconds"]
    fm_gb = peak_gb()
    print(f"FM (kitlib.train.fit), one epoch:                  {epoch_s:7.1f} s wall (whole fit {fm_s:.1f} s wall "
          f"{fm_cpu:.1f} s cpu)   peak {fm_gb:.2f} GB")
    print(f"  ratio FM / bare: {epoch_s / bare_s:.2f}x wall, {fm_cpu / bare_cpu:.2f}x cpu (whole fit)")

    reset_peak()
    clock = Clock()
    knn = ItemKNNRecommender(neighbours=100).fit(data)
    knn_s, knn_cpu = clock.stop()
    knn_gb = peak_gb()
    print(f"item-kNN fit (scipy sparse cosine, 100 nn):       {knn_s:7.1f} s wall {knn_cpu:7.1f} s cpu   "
          f"peak {knn_gb:.2f} GB   ratio to bare {knn_cpu / bare_cpu:.2f}x cpu")

    seen = data.user_item_matrix()
    users = np.arange(data.n_users)
    for name, model in (("FM", fm), ("item-kNN", knn)):
        reset_peak()
        clock = Clock()
        recs = top_k(model, users, 10, exclude=seen)
        took, cpu = clock.stop()
        assert not seen[np.repeat(users, 10), recs.ravel()].any()
        print(f"top-10 for all {len(users):,} users, {name:8s}:        {took:7.1f} s wall {cpu:7.1f} s cpu   "
              f"peak {peak_gb():.2f} GB")

    ok = min(epoch_s, fm_cpu) < 60 and min(knn_s, knn_cpu) < 60 and max(fm_gb, knn_gb) < 4
    print(f"targets (FM epoch < 60 s, item-kNN fit < 60 s, peak < 4 GB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
