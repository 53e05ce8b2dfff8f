"""The text template's run: the models in order under a time budget, every model's out-of-fold and test predictions
kept, and the ensemble.

:func:`run_models` cross-validates the models of ``settings.models`` in :data:`MODELS` order, the cheap ones first:

1. ``tfidf``: word and character n-gram TF-IDF with linear heads (:mod:`.linear`); seconds on any set;
2. ``embeddings``: the kit's embedder (:func:`kitlib.embed.embed_texts`, cached) with linear heads; its
   ``max_length`` shortened, or the model skipped, when a timed sample says the texts would not fit its share of
   what is left (:func:`~.planning.plan_embedding`);
3. ``transformer``: the fine-tuned encoder (:mod:`.transformer`) under the plan that fits what is left after
   keeping ``settings.reserve_s`` for the ensemble and the submission (:func:`~.planning.plan_fine_tuning`:
   fewer epochs, folds merged into two groups, shorter texts, fewer rows), or skipped.

Every cut goes into the budget's record (the manifest's ``cut``) and is printed. Each model's CV is scored over the
run's folds (a model trained on merged folds is scored on each original fold too), so the models, the ensemble and
other runs with the same ``fold_seed`` compare fold by fold. :func:`choose_final` runs the ensemble (hill climbing,
nested CV) and keeps it when its nested CV beats the best single model's CV mean.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ...budget import Budget
from ...errors import ParameterError
from ...folds import CVResult, cross_validate
from ..tabular.problem import Problem
from .data import TextData
from .linear import embedding_fold, hashed_counts, tfidf_fold
from .planning import INFER_PADDING, measure_speed, merge_folds, plan_embedding, plan_fine_tuning
from .settings import MODELS, Deadline, TextSettings

__all__ = ["MODELS", "TextSettings", "TextModels", "parse_models", "run_models", "rescore", "Final", "choose_final",
           "final_metrics", "model_tables", "model_records"]

EMBED_SHARE = 0.4  # of what is left when the embeddings start


def parse_models(text: str) -> tuple[str, ...]:
    """``"tfidf,transformer"`` -> the models in :data:`MODELS` order; ``ParameterError`` naming an unknown one."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ParameterError(f"models {text!r}: unknown {unknown or 'nothing given'}; expected a comma-separated "
                             f"choice of {list(MODELS)}")
    return tuple(m for m in MODELS if m in names)


def rescore(cv: CVResult, folds: np.ndarray, score: Callable[[np.ndarray, np.ndarray], float]) -> CVResult:
    """``cv`` scored over the run's ``folds`` (one score per fold id with predictions), the pooled score as is."""
    ids = [k for k in sorted(set(folds[folds >= 0].tolist())) if np.isfinite(cv.oof[folds == k]).all()]
    scores = [float(score(np.flatnonzero(folds == k), cv.oof[folds == k])) for k in ids]
    return replace(cv, fold_scores=scores, folds=folds, fold_ids=ids)


def _embedding_vectors(texts: list[str], settings: TextSettings, budget: Budget, say: Callable) -> np.ndarray | None:
    """The texts' embeddings at the longest ``max_length`` (float, else int8 on the CPU) whose estimate from a
    timed sample fits the embeddings' share of the budget, or ``None`` (recorded) when none does."""
    from ...embed import embed_texts, load_model
    from ...runtime import resolve_device

    encoder = load_model(settings.embed_model, settings.device)
    lengths = np.array([len(ids) for ids in encoder.tokenizer(texts, add_special_tokens=True)["input_ids"]])
    rng = np.random.default_rng(settings.seed)
    sample = [texts[i] for i in rng.choice(len(texts), min(64, len(texts)), replace=False)]
    tokens = np.minimum([len(t) for t in encoder.tokenizer(sample)["input_ids"]], settings.max_length).sum()
    kwargs = dict(model=settings.embed_model, device=settings.device, progress=False)
    speeds = {}
    for quantize in (False, True) if resolve_device(settings.device).type == "cpu" and budget.limited else (False,):
        embed_texts(sample[:4], max_length=settings.max_length, quantize=quantize, **kwargs)  # warm-up
        started = time.perf_counter()
        embed_texts(sample, max_length=settings.max_length, quantize=quantize, **kwargs)
        speeds[quantize] = (time.perf_counter() - started) / max(1, tokens)
    share = budget.remaining() * EMBED_SHARE if budget.limited else float("inf")
    length, quantize, estimate = plan_embedding(speeds, lengths, settings.max_length, share)
    if length is None:
        budget.cut("embeddings", f"estimated {estimate:.0f} s even at 64 tokens in int8; its share of the budget is "
                                 f"{share:.0f} s")
        say(f"embeddings: skipped (estimated {estimate:.0f} s, share {share:.0f} s)")
        return None
    cuts = [f"texts cut to {length} tokens (not {settings.max_length})"] if length < settings.max_length else []
    cuts += ["int8 (dynamically quantised) encoder"] if quantize else []
    if cuts:
        budget.cut("embeddings", f"{', '.join(cuts)} to fit {share:.0f} s (estimated {estimate:.0f} s)")
    say(f"embeddings: {len(texts)} texts at up to {length} tokens{' in int8' if quantize else ''}, estimated "
        f"{estimate:.0f} s")
    return embed_texts(texts, max_length=length, cache_dir=settings.cache_dir, quantize=quantize, **kwargs)


def _transformer(problem: Problem, data: TextData, folds: np.ndarray, settings: TextSettings, budget: Budget,
                 say: Callable) -> tuple[Callable, np.ndarray] | None:
    """The transformer's fold function and the folds it runs over, or ``None`` when the budget cannot hold it."""
    from .transformer import load_text_model, model_limit, tokenize, transformer_fold

    texts = [*data.texts, *data.test_texts]
    tuning, recipe = settings.tuning, settings.tuning.recipe
    width = len(problem.columns) if problem.classification else len(problem.targets)
    net, tokenizer, _ = load_text_model(tuning.model, width, settings.seed)
    limit = min(settings.max_length, model_limit(net.base_model, tokenizer))
    tokens = tokenize(tokenizer, texts, 100_000)
    lengths = np.array([len(t) for t in tokens[:len(data.texts)]])
    n_folds = len(set(folds[folds >= 0].tolist()))
    plan, why = None, "no time limit"
    if budget.limited:
        rng = np.random.default_rng(settings.seed)
        sample = [tokens[i][:limit] for i in rng.choice(len(data.texts), min(5 * recipe.batch_size, len(data.texts)),
                                                        replace=False)]
        speed = measure_speed(net, sample, tokenizer.pad_token_id or 0, recipe.batch_size, settings.device)
        seconds = budget.remaining() - settings.reserve_s
        plan, why = plan_fine_tuning(speed, lengths, len(data.texts), len(data.test_texts), n_folds, recipe.epochs,
                                     limit, seconds)
        say(f"transformer: measured {1 / max(speed.train, 1e-12):.0f} training and {1 / max(speed.infer, 1e-12):.0f} "
            f"inference tokens/s; {why}")
        if plan is None:
            budget.cut("transformer", f"skipped: {why}")
            return None
        for cut in plan.cuts(n_folds, recipe.epochs, limit):
            budget.cut("transformer", f"{cut} ({why})")
        limit = plan.max_length
    del net
    tokens = [t if len(t) <= limit else np.asarray(tokenize(tokenizer, [texts[i]], limit)[0])
              for i, t in enumerate(tokens)]
    groups = plan.groups if plan is not None else n_folds
    deadline = None
    if plan is not None:
        per_text = float(np.minimum(lengths, limit).mean()) * INFER_PADDING * speed.infer
        deadline = Deadline(budget, settings.reserve_s, per_text * (len(data.texts) / groups + len(data.test_texts)),
                            groups)
    tuned = replace(tuning, recipe=replace(recipe, epochs=plan.epochs if plan else recipe.epochs, seed=settings.seed),
                    max_rows=plan.max_rows if plan else tuning.max_rows, deadline=deadline)
    fit_fold = transformer_fold(problem, tokens, data.y, len(data.texts), tokenizer.pad_token_id or 0, tuned)
    return fit_fold, merge_folds(folds, groups)


@dataclass
class TextModels:
    """What :func:`run_models` ran: each model's :class:`~kitlib.folds.CVResult` over the run's folds, its
    seconds, and the models the budget skipped."""

    cvs: dict[str, CVResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def run_models(problem: Problem, data: TextData, folds: np.ndarray, settings: TextSettings, budget: Budget,
               say: Callable[[str], None] = print) -> TextModels:
    """Cross-validate ``settings.models`` over ``folds`` (module docstring) within ``budget``; return
    :class:`TextModels`. Raises ``ParameterError`` for an unknown model; whatever a model raises."""
    y, n_train = data.y, len(data.texts)
    texts = [*data.texts, *data.test_texts]

    def score(idx: np.ndarray, pred: np.ndarray) -> float:
        return problem.score(y[idx], pred)

    done = TextModels()
    for name in parse_models(",".join(settings.models)):
        started = time.perf_counter()
        if budget.exhausted:
            budget.cut(name, "time budget spent before it started")
            done.skipped.append(name)
            continue
        run_folds = folds
        if name == "tfidf":
            fit_fold = tfidf_fold(problem, hashed_counts(texts, settings.tfidf), y, n_train, settings.tfidf,
                                  settings.seed)
        elif name == "embeddings":
            vectors = _embedding_vectors(texts, settings, budget, say)
            if vectors is None:
                done.skipped.append(name)
                continue
            fit_fold = embedding_fold(problem, vectors, y, n_train, settings.embed_C, settings.seed)
        else:
            planned = _transformer(problem, data, folds, settings, budget, say)
            if planned is None:
                done.skipped.append(name)
                continue
            fit_fold, run_folds = planned
        cv = cross_validate(fit_fold, run_folds, score=score)
        done.cvs[name] = rescore(cv, folds, score)
        done.seconds[name] = time.perf_counter() - started
        say(f"{name}: {problem.metric} {done.cvs[name].mean:.4f} +- {done.cvs[name].std:.4f} over the folds, out of "
            f"fold {cv.score:.4f} ({done.seconds[name]:.0f} s)")
    return done


@dataclass
class Final:
    """The run's final prediction: ``kind`` ``"model"`` or ``"ensemble"``, ``model`` (the best single model),
    ``weights`` (the ensemble's, by model; empty for a model), ``oof``/``test`` (the ensemble's nested out-of-fold
    and test blends, or the model's), ``cv`` (the manifest's record: the model's CV, or the ensemble's nested CV),
    ``table`` (every model's CV and the ensemble's, best first)."""

    kind: str
    model: str
    weights: dict[str, float]
    oof: np.ndarray
    test: np.ndarray
    cv: dict
    table: pd.DataFrame

    def record(self) -> dict:
        """The manifest's ``final``: ``{kind, model}`` or ``{kind, weights}``."""
        return {"kind": self.kind, "model": self.model} if self.kind == "model" else \
            {"kind": self.kind, "weights": self.weights}


def choose_final(problem: Problem, cvs: dict[str, CVResult], folds: np.ndarray, y: np.ndarray, metric: str,
                 mode: str) -> Final:
    """The best single model (by CV mean), or the hill-climbing ensemble of every model when its nested CV mean
    beats it (``metric``: the run's metric key, ``mode`` its direction). Raises ``ParameterError`` without a
    model."""
    from ...comparison import cv_table
    from ...ensemble import metric_scorer, nested_cv

    table = cv_table(cvs, mode=mode)
    best = str(table.index[0])
    chosen = Final("model", best, {}, cvs[best].oof, cvs[best].test, cvs[best].summary(metric), table)
    if len(cvs) < 2 or len(set(folds[folds >= 0].tolist())) < 2:
        return chosen
    names = list(cvs)
    scorer = metric_scorer(problem.metric, problem.score)
    target = y[:, 0] if y.shape[1] == 1 else y
    result = nested_cv("hill", np.stack([cvs[n].oof for n in names]), target, folds, scorer)
    row = pd.DataFrame({"cv mean": [result.cv.mean], "cv std": [result.cv.std], "out of fold": [result.cv.score]},
                       index=["ensemble (nested)"])
    table = pd.concat([table, row]).sort_values("cv mean", ascending=mode == "min", kind="stable")
    better = result.cv.mean > cvs[best].mean if mode == "max" else result.cv.mean < cvs[best].mean
    if not better:
        return replace(chosen, table=table)
    weights = {n: float(w) for n, w in zip(names, result.final.weights) if w > 0}
    test = result.predict(np.stack([cvs[n].test for n in names]))
    return Final("ensemble", best, weights, result.oof, test, result.summary(metric), table)


def model_tables(problem: Problem, data: TextData, folds: np.ndarray, values: np.ndarray,
                 test: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(oof, test)`` prediction tables (:func:`kitlib.predictions.frame`): keys, fold and targets for the
    out-of-fold rows, keys for the test rows; columns as ``problem.columns``."""
    from ... import predictions

    oof = predictions.frame(data.keys, values, problem.columns, fold=folds,
                            target={t: data.targets[t].to_numpy() for t in problem.targets})
    return oof, predictions.frame(data.test_keys, test, problem.columns)


def final_metrics(metric: str, final: Final, cvs: dict[str, CVResult]) -> dict[str, float]:
    """The run record's metrics: the final prediction's out-of-fold score (``metric``: the run's score), its CV
    mean and std (an ensemble's nested CV), and every model's out-of-fold score and CV mean
    (``<metric>_<model>``, ``<metric>_<model>_cv_mean``)."""
    from ...comparison import metric_key

    out = {metric: float(final.cv["score"]), f"{metric}_cv_mean": float(final.cv["mean"]),
           f"{metric}_cv_std": float(final.cv["std"])}
    for name, cv in cvs.items():
        out[f"{metric}_{metric_key(name)}"] = float(cv.score)
        out[f"{metric}_{metric_key(name)}_cv_mean"] = float(cv.mean)
    return out


def model_records(cvs: dict[str, CVResult], seconds: dict[str, float], metric: str) -> dict[str, dict]:
    """The manifest's ``models``: ``{model: {cv, score, seconds}}``."""
    return {n: {"cv": cv.summary(metric), "score": cv.score, "seconds": round(seconds.get(n, 0.0), 3)}
            for n, cv in cvs.items()}
