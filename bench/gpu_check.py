"""One short check of kitlib's GPU paths: `python bench/gpu_check.py` (a minute or two on a GPU).

On a CUDA machine it
1. checks the mixed-precision choice against the device: ``amp_dtype="auto"`` must be bf16 exactly where the GPU
   computes bf16 natively (compute capability 8.0 or more) and fp16 elsewhere (T4, P100, V100), and the layers
   inside ``kitlib.train.fit`` must really run in that dtype;
2. trains a small BERT-shaped encoder with ``kitlib.train.fit`` in fp32, fp16 (with the gradient scaler) and bf16,
   and prints each one's throughput against fp32 (bf16 on a GPU without it is emulated: expect it slow);
3. interrupts a fit (fp16, dropout, EMA, a checkpoint every few steps) and resumes it, and compares it with the
   uninterrupted fit;
4. embeds texts with ``kitlib.embed.embed_texts`` in fp32 and under autocast, and prints the agreement and the
   speed-up.
It exits 1 when a check fails. On a machine without CUDA it says so and exits 0.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # lets the resume check run deterministic kernels
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _encoder(seed: int = 0, dropout: float = 0.1):
    """A BERT-shaped sequence classifier (4 layers of 256) built from a config: no download."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=8000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=1024, max_position_embeddings=256, num_labels=3,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config)


def _batches(n: int, batch: int = 32, width: int = 128, seed: int = 0) -> list[dict]:
    import torch

    g = torch.Generator().manual_seed(seed)
    return [{"input_ids": torch.randint(0, 8000, (batch, width), generator=g),
             "labels": torch.randint(0, 3, (batch,), generator=g)} for _ in range(n)]


def check_choice(dev) -> tuple[bool, str]:
    import torch

    from kitlib.runtime import amp_dtype_name, native_bf16
    from kitlib.train import Recipe, fit

    major, minor = torch.cuda.get_device_capability(dev)
    expected = "bf16" if major >= 8 else "fp16"
    chosen = amp_dtype_name(dev, "auto")
    seen: set = set()
    model = _encoder()
    model.bert.encoder.layer[0].output.dense.register_forward_hook(lambda m, i, o: seen.add(o.dtype))
    fit(model, _batches(2), recipe=Recipe(epochs=1, device=str(dev), amp_dtype="auto", progress=False))
    ran = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}[seen.pop()]
    ok = chosen == expected == ran
    return ok, (f"{torch.cuda.get_device_name(dev)} (compute capability {major}.{minor}, native bf16: "
                f"{native_bf16(dev)}): auto -> {chosen}, layers ran in {ran}, expected {expected}")


def throughput(dev) -> tuple[bool, list[str]]:
    import math

    import torch

    from kitlib.train import Recipe, fit

    data = _batches(40)
    rates, lines, ok = {}, [], True
    for amp in ("off", "fp16", "bf16"):
        model = _encoder()
        recipe = Recipe(epochs=1, device=str(dev), amp_dtype=amp, progress=False)
        fit(model, data[:4], recipe=recipe)  # warm-up
        torch.cuda.synchronize(dev)
        start = time.perf_counter()
        result = fit(model, data, recipe=replace(recipe, max_grad_norm=1.0))
        torch.cuda.synchronize(dev)
        rates[amp] = len(data) * 32 / (time.perf_counter() - start)
        loss = result.history[-1]["train_loss"]
        ok &= math.isfinite(loss)
        lines.append(f"  {amp:4s}: {rates[amp]:8.0f} sequences/s  x{rates[amp] / rates['off']:.2f} of fp32  "
                     f"train_loss {loss:.4f}")
    return ok, lines


def resumed_fit(dev) -> tuple[bool, str]:
    import torch

    from kitlib.train import TRAIN_STATE, Recipe, fit

    data = _batches(12, batch=16, width=64, seed=1)

    class Stop(Exception):
        pass

    def run(folder, stop_at=None, resume=False):
        model = _encoder(dropout=0.1)
        calls = {"n": 0}

        def loss_fn(logits, labels):
            calls["n"] += 1
            if stop_at is not None and calls["n"] == stop_at:
                raise Stop()
            return torch.nn.functional.cross_entropy(logits, labels)

        recipe = Recipe(epochs=3, lr=1e-4, device=str(dev), amp_dtype="fp16", ema=0.9, checkpoint_every=5,
                        progress=False, seed=0)
        result = fit(model, data, val=data[:2], loss_fn=loss_fn, recipe=recipe, checkpoint_dir=folder, resume=resume)
        return model, result

    torch.use_deterministic_algorithms(True, warn_only=True)  # so that only resuming could make a difference
    with tempfile.TemporaryDirectory() as tmp:
        whole_model, whole = run(Path(tmp) / "whole")
        with contextlib.suppress(Stop):
            run(Path(tmp) / "cut", stop_at=20)
        saved = (Path(tmp) / "cut" / TRAIN_STATE).is_file()
        model, resumed = run(Path(tmp) / "cut", resume=True)
    torch.use_deterministic_algorithms(False)
    diff = max(float((a.float() - b.float()).abs().max()) for a, b in
               zip(whole_model.state_dict().values(), model.state_dict().values()))
    same_history = [round(h["train_loss"], 5) for h in whole.history] == [round(h["train_loss"], 5)
                                                                          for h in resumed.history]
    ok = saved and diff < 1e-4 and same_history
    return ok, f"state saved: {saved}; largest weight difference {diff:.2e}; same history: {same_history}"


def embedder(dev) -> tuple[bool, list[str]]:
    import numpy as np
    import torch

    from kitlib.embed import embed_texts
    from kitlib.pretrained import default_model_path

    try:
        model = default_model_path()
    except Exception:  # the offline MiniLM is not installed: a tiny random encoder of the test suite
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_checkpoints import build_checkpoint

        model = build_checkpoint("bert", Path(tempfile.mkdtemp()) / "bert")
    texts = [f"Question {i}: which organelle makes most of the ATP in a eukaryotic cell, and why? " * (1 + i % 4)
             for i in range(2000)]
    out, lines = {}, []
    for amp in ("off", "auto"):
        embed_texts(texts[:64], model, device=str(dev), amp_dtype=amp, progress=False)  # warm-up
        torch.cuda.synchronize(dev)
        start = time.perf_counter()
        out[amp] = embed_texts(texts, model, device=str(dev), amp_dtype=amp, progress=False)
        torch.cuda.synchronize(dev)
        lines.append(f"  {amp:4s}: {len(texts) / (time.perf_counter() - start):8.0f} texts/s")
    cosine = float(np.min(np.sum(out["off"] * out["auto"], axis=1)))
    lines.append(f"  lowest cosine between fp32 and autocast vectors: {cosine:.5f} (model {model})")
    return cosine > 0.99, lines


CHECKS = (
    ("dtype choice", check_choice),
    ("kitlib.train.fit throughput (BERT 4x256, 32 x 128 tokens)", throughput),
    ("interrupted then resumed fit (fp16, EMA, checkpoint every 5 steps)", resumed_fit),
    ("embed_texts, fp32 and autocast", embedder),
)


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print(f"no CUDA device here (torch {torch.__version__}): nothing to check; the CPU trains and embeds in fp32")
        return 0
    dev = torch.device("cuda")
    passed = []
    for title, check in CHECKS:
        ok, lines = check(dev)
        lines = [lines] if isinstance(lines, str) else lines
        passed.append(ok)
        print(f"[{'ok' if ok else 'FAIL'}] {title}: " + ("\n".join(["", *lines]) if len(lines) > 1 else lines[0]))
    print("PASS" if all(passed) else "FAIL")
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
