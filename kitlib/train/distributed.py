"""Several processes on one machine: :func:`kitlib.train.fit` with ``recipe.processes=N`` runs DDP.

``fit(..., recipe=Recipe(processes=2))`` hands itself to :func:`fit_in_processes`, which forks ``N`` workers
from the calling process (a papermill kernel, a Jupyter kernel or a script: fork is what lets a model, loaders
and functions defined in notebook cells reach the workers, which ``spawn`` would have to pickle), joins them in
a ``torch.distributed`` group on loopback (gloo on the CPU, nccl with one GPU per process), and each trains the
same model wrapped in ``DistributedDataParallel``. Every worker walks the caller's training loader in the same
order and takes its share of each batch (rows ``rank::N``), so a step sees exactly the batch one process would
see and the gradients DDP averages are those of that global batch (each share's loss is weighted by its size,
so a short last batch counts as in one process). The result matches one process with the same batch size up
to floating-point reduction order. Each worker validates on the whole validation set (identical weights
give identical scores, so best weights and early stopping agree without communication); only rank 0
draws progress bars and writes checkpoints, and it hands the trained weights and the history back to the
caller, whose ``model`` then holds them as after a one-process fit.

The launcher is handed the function to run (it imports no training loop): each worker calls
``fit_fn(**kwargs)`` with its share of the loader and, on CUDA, its own GPU in the recipe. Once CUDA is
initialised in the calling process (an embedder ran on the GPU before training, as in the Science Exam
notebook), forked workers could not use it, so the workers are spawned instead: the function (by reference:
a module-level one such as ``kitlib.train.loop.fit``) and everything ``fit`` is given are then pickled to
them, which the kit's own models, datasets, collators and metrics allow (a model class or function defined in
a notebook cell does not: define it in a module, or train before touching the GPU). Limits: ``N`` may not
exceed the GPUs; the data loading of every batch is repeated in each worker (cheap next to a transformer's
forward and backward); callbacks run in the workers, so their state does not come back to the caller.

Two files pass objects between the caller and its workers, both in a private temporary folder this process makes
(``tempfile.TemporaryDirectory``, readable by its user only) and deletes when the workers are done: the spawned
workers' arguments (the model, loaders, loss and metric functions: objects, not tensors) and rank 0's result (the
weights and the :class:`~kitlib.fitting.FitResult` fields). They are read with ``torch.load(weights_only=False)``,
the one place the kit unpickles objects: ``weights_only=True`` cannot rebuild a model or a function, and nothing
from outside the kit's own processes is ever read there. Checkpoints, which may come from elsewhere, are read
safely (:func:`kitlib.train.checkpoint.load_safely`).
"""
from __future__ import annotations

import os
import pickle
import socket
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..errors import ParameterError

__all__ = ["RankShare", "fit_in_processes", "share_of_batch", "distributed_world"]


def distributed_world() -> int:
    """The size of the initialised ``torch.distributed`` group (1 when there is none)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _rows(batch: Any) -> int | None:
    """The batch size: the first dimension of the first tensor found in ``batch``."""
    if isinstance(batch, torch.Tensor):
        return batch.shape[0] if batch.dim() else None
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for part in batch:
            rows = _rows(part)
            if rows is not None:
                return rows
    return None


def _take(batch: Any, index: torch.Tensor, rows: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch[index] if batch.dim() and batch.shape[0] == rows else batch
    if isinstance(batch, dict):
        return type(batch)({k: _take(v, index, rows) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple
        return type(batch)(*(_take(v, index, rows) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_take(v, index, rows) for v in batch)
    return batch


def share_of_batch(batch: Any, rank: int, world: int) -> tuple[Any, float]:
    """Rank ``rank``'s share of ``batch`` (rows ``rank::world`` of every tensor whose first dimension is
    the batch size) and the weight of its loss, ``world * share / rows``, that makes the average DDP takes
    over the ranks the mean over the whole batch. A rank left without rows (a batch smaller than
    ``world``) gets row 0 with weight 0, so it still joins the gradient exchange."""
    rows = _rows(batch)
    if rows is None:
        raise ParameterError("processes > 1 needs batches holding tensors with the batch as first dimension")
    index = torch.arange(rank, rows, world)
    if len(index) == 0:
        return _take(batch, torch.zeros(1, dtype=torch.long), rows), 0.0
    return _take(batch, index, rows), world * len(index) / rows


class RankShare(Iterable):
    """``loader`` as one rank sees it: the same batches in the same order, each cut to this rank's share.
    ``loss_weight`` is the weight of the share last yielded. The loader's generator and samplers are
    reached through this object, so checkpoints save and restore them as for the loader itself."""

    def __init__(self, loader: Iterable, rank: int, world: int):
        self.loader, self.rank, self.world = loader, rank, world
        self.loss_weight = 1.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        for batch in self.loader:
            share, self.loss_weight = share_of_batch(batch, self.rank, self.world)
            yield share

    def __getattr__(self, name: str):  # generator, sampler, batch_sampler, dataset ...
        if name == "loader":
            raise AttributeError(name)
        return getattr(self.loader, name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, fit_fn: Callable, world: int, port: int, backend: str, threads: int, kwargs: dict | str,
            result: str) -> None:
    import torch.distributed as dist

    if isinstance(kwargs, str):  # spawned: the arguments come through a file (no shared-memory tensors)
        kwargs = torch.load(kwargs, map_location="cpu", weights_only=False)

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))  # as torchrun sets them
    torch.set_num_threads(threads)
    if backend == "nccl":  # pragma: no cover - GPU only
        torch.cuda.set_device(rank)
        kwargs["recipe"] = replace(kwargs["recipe"], device=f"cuda:{rank}")
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        kwargs["train"] = RankShare(kwargs["train"], rank, world)
        try:
            fitted = fit_fn(**kwargs)
        except BaseException:  # noted first, so the caller names the rank that failed, not one it took down
            Path(result).with_name(f"rank{rank}.error").write_text(traceback.format_exc())
            raise
        if rank == 0:
            torch.save({"state": {k: v.detach().cpu() for k, v in fitted.model.state_dict().items()},
                        "history": fitted.history, "best_epoch": fitted.best_epoch, "best_step": fitted.best_step,
                        "best_score": fitted.best_score, "monitor": fitted.monitor, "seconds": fitted.seconds},
                       result)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _first_failure(folder: Path, rank: int, message: str) -> tuple[int, str]:
    """The rank whose error was written first (the others' are their lost connections to it) and its traceback."""
    notes = sorted(folder.glob("rank*.error"), key=lambda p: p.stat().st_mtime_ns)
    if not notes:
        return rank, message
    return int(notes[0].stem[len("rank"):]), notes[0].read_text()


def start_method(cuda: bool) -> str:
    """``"fork"`` (what a notebook's own classes and functions survive), or ``"spawn"`` where forking cannot
    work: on CUDA once this process initialised it, or on a platform without fork."""
    import torch.multiprocessing as mp

    if (cuda and torch.cuda.is_initialized()) or "fork" not in mp.get_all_start_methods():
        return "spawn"
    return "fork"


def fit_in_processes(fit_fn: Callable, processes: int, kwargs: dict):
    """Run ``fit_fn(**kwargs)`` in ``processes`` DDP workers (forked, or spawned once CUDA is initialised here;
    see the module docstring).

    ``kwargs`` holds at least ``model``, ``train`` (the loader every worker cuts its share from) and ``recipe``
    (a :class:`~kitlib.fitting.Recipe` with ``processes=1``: its ``device`` picks gloo or nccl, and each worker
    gets its own GPU in it). ``fit_fn`` returns a :class:`~kitlib.fitting.FitResult`; a spawned worker gets it
    by reference (define it at module level). Out: rank 0's result with its weights loaded into
    ``kwargs["model"]``. Raises ``ParameterError`` inside an initialised group, for more processes than GPUs,
    a bad device, or arguments that cannot be sent to spawned workers; ``RuntimeError`` naming the rank that
    failed first, with its traceback.
    """
    import torch.multiprocessing as mp

    from ..fitting import FitResult
    from ..runtime import resolve_device

    if distributed_world() > 1:
        raise ParameterError("processes > 1 inside an initialised torch.distributed group (torchrun?): "
                             "call fit with processes=1 there; the launcher already made the processes")
    device = kwargs["recipe"].device
    cuda = str(device).startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:  # pragma: no cover - GPU only
        if processes > torch.cuda.device_count():
            raise ParameterError(f"processes={processes} needs as many GPUs; this machine has "
                                 f"{torch.cuda.device_count()}")
    else:
        resolve_device(device)  # a bad name fails here, once, not in every worker
    backend = "nccl" if cuda else "gloo"
    threads = max(1, torch.get_num_threads() // processes)
    model = kwargs["model"]
    with tempfile.TemporaryDirectory(prefix="kit-ddp-") as tmp:
        result = str(Path(tmp) / "rank0.pt")
        method = start_method(cuda)
        arguments: dict | str = kwargs
        if method == "spawn":
            arguments = str(Path(tmp) / "fit.pt")
            try:
                torch.save(kwargs, arguments)
            except (AttributeError, TypeError, pickle.PicklingError) as exc:
                raise ParameterError(f"processes > 1 spawns its workers here (CUDA was already initialised in this "
                                     f"process), and what fit was given cannot be sent to them: {exc}. Define it in "
                                     "a module instead of a notebook cell, or train before anything uses the GPU"
                                     ) from None
        try:
            mp.start_processes(_worker, args=(fit_fn, processes, _free_port(), backend, threads, arguments, result),
                               nprocs=processes, join=True, start_method=method)
        except mp.ProcessRaisedException as exc:
            rank, message = _first_failure(Path(tmp), exc.error_index, exc.msg)
            raise RuntimeError(f"training process {rank} of {processes} failed:\n{message}") from None
        except mp.ProcessExitedException as exc:
            raise RuntimeError(f"training process {exc.error_index} of {processes} died ({exc.msg}); "
                               "out of memory? try fewer processes or a smaller batch") from None
        saved = torch.load(result, map_location="cpu", weights_only=False)
    model.load_state_dict(saved.pop("state"))
    return FitResult(model=model, **saved)
