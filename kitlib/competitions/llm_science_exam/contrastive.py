"""Approach b of the LLM Science Exam notebook: ``OptionScorer``, a contrastive prompt -> option network,
trained per fold (:func:`contrastive_fold`, saved with ``checkpoints``) or predicting again from saved networks
(:func:`contrastive_checkpoint_fold`). torch is imported on first use."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ParameterError
from ...fitting import Recipe

# OptionScorer is made by the module's __getattr__ on first access (no torch at import)
__all__ = ["OptionScorer", "CONTRASTIVE_RECIPE", "contrastive_fold", "contrastive_checkpoint_fold"]  # noqa: F822

# what contrastive_fold trains with unless given a recipe: ten epochs of AdamW at 1e-3, cosine decay, no bar
CONTRASTIVE_RECIPE = Recipe(epochs=10, lr=1e-3, batch_size=16, weight_decay=0.01, seed=0, progress=False)


def __getattr__(name: str) -> Any:
    """``OptionScorer`` is built on first access so that importing this module does not import torch."""
    if name == "OptionScorer":
        cls = _build_option_scorer()
        globals()["OptionScorer"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_option_scorer():
    import torch
    from torch import nn

    class OptionScorer(nn.Module):
        """Score five options against a question: ``forward(question (b, d), options (b, 5, d)) -> (b, 5)``.

        Both sides get a residual MLP (``x + W2 gelu(W1 x)``) whose last layer starts at zero, so an untrained
        scorer ranks exactly like the zero-shot cosine; the logits are ``scale x cos(q', o')`` with a learned
        scale (start 20). Train it with ``nn.CrossEntropyLoss`` on the answer index: the contrastive loss over
        the five options that the starter's ``sum(pred - target)`` regression lacked.
        """

        def __init__(self, dim: int, hidden: int = 256, dropout: float = 0.1, scale: float = 20.0):
            super().__init__()
            self.question = self._residual(dim, hidden, dropout)
            self.option = self._residual(dim, hidden, dropout)
            self.log_scale = nn.Parameter(torch.tensor(float(np.log(scale))))

        @staticmethod
        def _residual(dim: int, hidden: int, dropout: float) -> nn.Sequential:
            last = nn.Linear(hidden, dim)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), last)

        def forward(self, question: torch.Tensor, options: torch.Tensor) -> torch.Tensor:
            q = nn.functional.normalize(question + self.question(question), dim=-1)
            o = nn.functional.normalize(options + self.option(options), dim=-1)
            return self.log_scale.exp() * torch.einsum("bd,bkd->bk", q, o)

    OptionScorer.__module__ = __name__
    OptionScorer.__qualname__ = "OptionScorer"
    return OptionScorer


def contrastive_fold(Q: np.ndarray, O: np.ndarray, y: np.ndarray, Q_test: np.ndarray, O_test: np.ndarray, *,  # noqa: E741
                     recipe: Recipe = CONTRASTIVE_RECIPE, n_seeds: int = 1,
                     extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                     checkpoints: str | Path | None = None):
    """A fold function for :func:`kitlib.folds.cross_validate`: on each fold's training questions (question
    vectors ``Q`` ``(n, d)``, option vectors ``O`` ``(n, 5, d)``, answer indices ``y``) it trains ``n_seeds``
    ``OptionScorer`` networks (seeds ``recipe.seed`` (0 when None), ``+ 1``, ...: initialisation and shuffling)
    with cross-entropy over the five options as ``recipe`` says (default :data:`CONTRASTIVE_RECIPE`; handed to
    :func:`kitlib.train.fit` with each network's seed, ``batch_size`` questions per batch, ``device`` for the
    predictions too), and returns their logits averaged over the seeds for the fold's validation questions
    (never trained on) and for ``Q_test``/``O_test``.

    ``extra`` = ``(Q_extra, O_extra, y_extra)`` of external questions joins every fold's training questions.
    With ``checkpoints`` each network is saved as ``checkpoints/fold<k>/contrastive/seed<t>.pt`` (its
    ``state_dict``) beside a ``settings.json``; :func:`contrastive_checkpoint_fold` predicts from them again.
    """
    import torch

    from ... import train
    from ...folds import FoldResult
    from ...runtime import seed_everything

    scorer = __getattr__("OptionScorer")
    seed, device = (recipe.seed if recipe.seed is not None else 0), recipe.device

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        Qt, Ot, yt = Q[tr], O[tr], y[tr]
        if extra is not None and len(extra[0]):
            Qt, Ot, yt = (np.concatenate([Qt, extra[0]]), np.concatenate([Ot, extra[1]]),
                          np.concatenate([yt, extra[2]]))
        folder = Path(checkpoints) / f"fold{k}" / "contrastive" if checkpoints is not None else None
        val, test = 0.0, 0.0
        for s in range(n_seeds):
            seed_everything(seed + s)
            net = scorer(Q.shape[1])
            loader = train.tensor_loader(Qt, Ot, yt, batch_size=recipe.batch_size, shuffle=True, seed=seed + s)
            train.fit(net, loader, loss_fn=torch.nn.CrossEntropyLoss(), recipe=replace(recipe, seed=seed + s))
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                torch.save({k_: v.detach().cpu() for k_, v in net.state_dict().items()}, folder / f"seed{seed + s}.pt")
            v, t = _contrastive_scores(net, Q[va], O[va], Q_test, O_test, device)
            val, test = val + v / n_seeds, test + t / n_seeds
        if folder is not None:
            from ...pretrained import save_tokenizer_and_settings

            save_tokenizer_and_settings(folder, None, {"task": "contrastive", "dim": int(Q.shape[1]), "fold": k,
                                                       "seeds": [seed + s for s in range(n_seeds)],
                                                       "extra_questions": 0 if extra is None else int(len(extra[0]))})
        return FoldResult(val=val, test=test)

    return fit_fold


def _contrastive_scores(net, Qv, Ov, Q_test, O_test, device):
    from ... import train

    val = train.predict(net, train.tensor_loader(Qv, Ov, np.zeros(len(Qv))), device=device)
    test = train.predict(net, train.tensor_loader(Q_test, O_test, np.zeros(len(Q_test))), device=device)
    return val, test


def contrastive_checkpoint_fold(checkpoints: str | Path, Q: np.ndarray, O: np.ndarray, Q_test: np.ndarray,  # noqa: E741
                                O_test: np.ndarray, *, device: str = "auto"):
    """A fold function that trains nothing: fold k's saved ``OptionScorer`` networks (written by
    :func:`contrastive_fold` with ``checkpoints``) score its validation questions and the test questions,
    seeds averaged, each read with ``torch.load(weights_only=True)`` (the run may be a stranger's). Raises
    ``ParameterError`` when the fold has no saved network, ``DataError`` naming a file that holds more than
    tensors."""
    from ...folds import FoldResult
    from ...pretrained import read_settings
    from ...train.checkpoint import load_safely

    scorer = __getattr__("OptionScorer")

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        folder = Path(checkpoints) / f"fold{k}" / "contrastive"
        seeds = read_settings(folder).get("seeds") or []
        if not seeds or not all((folder / f"seed{t}.pt").is_file() for t in seeds):
            raise ParameterError(f"{folder}: no saved contrastive network (settings.json and seed<t>.pt); expected "
                                 "the checkpoints of a run that trained this fold")
        val, test = 0.0, 0.0
        for t in seeds:
            net = scorer(int(read_settings(folder)["dim"]))
            net.load_state_dict(load_safely(folder / f"seed{t}.pt"))
            v, te = _contrastive_scores(net, Q[va], O[va], Q_test, O_test, device)
            val, test = val + v / len(seeds), test + te / len(seeds)
        return FoldResult(val=val, test=test, info={"models": [str(folder / f"seed{t}.pt") for t in seeds]})

    return fit_fold
