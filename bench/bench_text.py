"""Text inference throughput of the text template: batches sorted by length against unsorted batches and against
one text per forward pass.

Same model (the fine-tuned model's encoder and head: the offline all-MiniLM-L6-v2 with a fresh head), same texts
(generated reviews of mixed length: one to a dozen clauses each, as tests/text_sets.py writes them), same batch size,
CPU, one process. Each contender runs once to warm up, then they take turns ``--rounds`` times and the best time of
each is compared (the minimum: on a shared machine other work only ever adds time):

- ``predict_texts`` (the template's path: texts sorted by token length, each batch padded to its own longest);
- the same batches without sorting (each batch padded to its longest text, drawn at random);
- one ``forward`` per text (no padding at all, no batching), on every ``--loop-every``-th text.

Printed: texts/s of each and the ratios sorted / unsorted (target >= 1.2 on mixed lengths) and sorted / one at a
time (target >= 1.5). Run: ``python bench/bench_text.py [--n 1024] [--rounds 3] [--batch-size 64] [--threads T]``;
exit status 0 when both targets are met.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def mixed_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` generated reviews of one to a dozen clauses (a long tail of lengths, as real reviews have)."""
    from text_sets import TOPICS, review

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        topic = str(rng.choice(list(TOPICS)))
        parts = [review(rng, topic, float(rng.normal() * 1.5)) for _ in range(int(rng.geometric(0.35)))]
        out.append(" ".join(parts))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--loop-every", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    import torch

    from kitlib.tasks.text.transformer import PadCollator, load_text_model, predict_texts, tokenize

    if args.threads:
        torch.set_num_threads(args.threads)
    net, tokenizer, _ = load_text_model(None, 2, seed=0)
    net.eval()
    texts = mixed_texts(args.n)
    tokens = tokenize(tokenizer, texts, args.max_length)
    lengths = np.array([len(t) for t in tokens])
    pad = tokenizer.pad_token_id or 0
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(len(tokens))
    collate = PadCollator(pad)

    def sorted_batches():
        return predict_texts(net, tokens, pad, args.batch_size, device="cpu")

    def unsorted_batches():
        with torch.inference_mode():
            for i in range(0, len(shuffled), args.batch_size):
                batch = collate([(tokens[j], np.zeros(1)) for j in shuffled[i:i + args.batch_size]])
                net(batch["input_ids"], batch["attention_mask"])

    loop_rows = list(range(0, len(tokens), args.loop_every))

    def one_at_a_time():
        with torch.inference_mode():
            for j in loop_rows:
                ids = torch.as_tensor(tokens[j]).unsqueeze(0)
                net(ids, torch.ones_like(ids))

    contenders = {"sorted batches (predict_texts)": (sorted_batches, len(tokens)),
                  "unsorted batches": (unsorted_batches, len(tokens)),
                  "one text per forward": (one_at_a_time, len(loop_rows))}
    best = {name: float("inf") for name in contenders}
    for fn, _ in contenders.values():
        fn()  # warm-up
    for r in range(args.rounds):
        names = list(contenders)
        for name in names[r % len(names):] + names[:r % len(names)]:
            started = time.perf_counter()
            contenders[name][0]()
            best[name] = min(best[name], time.perf_counter() - started)
    rate = {name: contenders[name][1] / best[name] for name in contenders}
    print(f"{len(texts)} generated reviews, tokens per text: median {np.median(lengths):.0f}, p90 "
          f"{np.percentile(lengths, 90):.0f}, max {lengths.max()} (max_length {args.max_length}); batch "
          f"{args.batch_size}; torch threads {torch.get_num_threads()}")
    for name in contenders:
        print(f"  {name:32s} {rate[name]:8.1f} texts/s  (best of {args.rounds}: {best[name]:.2f} s)")
    sorted_vs_unsorted = rate["sorted batches (predict_texts)"] / rate["unsorted batches"]
    sorted_vs_loop = rate["sorted batches (predict_texts)"] / rate["one text per forward"]
    print(f"ratio sorted / unsorted batches: {sorted_vs_unsorted:.2f} (target >= 1.2)")
    print(f"ratio sorted / one text per forward: {sorted_vs_loop:.2f} (target >= 1.5)")
    return 0 if sorted_vs_unsorted >= 1.2 and sorted_vs_loop >= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
