"""Where an Optuna study lives: storage URLs (SQLite, a journal file, PostgreSQL), the storage objects with their
heartbeat, the lock held while a study is created or joined, and storage failures turned into one line.

:mod:`kitlib.hpo` re-exports these names; see its docstring for which storage to use when.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

from .errors import MissingDependencyError, ParameterError, StorageError
from .masking import mask
from .runtime import optuna_heartbeat

_ADVISORY_LOCK = 0x6B69746C6962  # "kitlib": the PostgreSQL advisory lock held while a study is created or joined


def storage_url(storage: str | None, run_dir: str | Path | None) -> str:
    """``storage`` when given, else SQLite in ``run_dir`` (``sqlite:///<run_dir>/optuna.db``)."""
    if storage:
        return storage
    if run_dir is None:
        raise ParameterError("give a storage URL or a run_dir to keep the study in")
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(run_dir).resolve() / 'optuna.db'}"


def storage_kind(url: str) -> str:
    """``sqlite``, ``journal``, ``postgresql`` or ``mysql`` for a storage URL; ``ParameterError`` otherwise."""
    for kind, prefixes in (("sqlite", ("sqlite:",)), ("journal", ("journal:",)),
                           ("postgresql", ("postgresql:", "postgresql+", "postgres:")),
                           ("mysql", ("mysql:", "mysql+"))):
        if url.startswith(prefixes):
            return kind
    raise ParameterError(f"Unknown Optuna storage {mask(url)!r}; expected sqlite:///PATH, journal:PATH or "
                         "postgresql://USER:PASSWORD@HOST:PORT/DB")


def is_shared(url: str) -> bool:
    """True for storages meant for several processes (journal, PostgreSQL, MySQL); SQLite is one process's."""
    return storage_kind(url) != "sqlite"


def database_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: a plain ``postgresql://`` (or ``postgres://``) URL names the installed
    driver, psycopg 3 (``postgresql+psycopg://``) else psycopg2. Raises ``MissingDependencyError`` with the
    install command when neither is installed."""
    import importlib.util

    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            for module, dialect in (("psycopg", "postgresql+psycopg://"), ("psycopg2", "postgresql+psycopg2://")):
                if importlib.util.find_spec(module) is not None:
                    return dialect + url[len(plain):]
            raise MissingDependencyError("no PostgreSQL driver is installed; run: pip install 'psycopg[binary]'")
    return url


def _storage_cause(exc: BaseException) -> BaseException | None:
    """The storage failure behind ``exc`` (a database or file error, possibly hidden behind Optuna's own errors such
    as the ``UnboundLocalError`` its trial loop raises when the database goes away mid-trial), else ``None``."""
    import sqlalchemy

    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        if isinstance(item, (sqlalchemy.exc.SQLAlchemyError, OSError)):
            return item
        item = item.__cause__ or item.__context__
    return None


def _first_line(exc: BaseException) -> str:
    """The driver's own first line for a database error, else the exception's."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return mask(text.splitlines()[0] if text else type(exc).__name__)[:300]


@contextlib.contextmanager
def storage_errors(url: str, what: str) -> Iterator[None]:
    """Turn a storage failure inside the block into one :class:`~kitlib.errors.StorageError` naming the storage
    (masked) and ``what`` was being done; any other exception passes through."""
    try:
        yield
    except (KeyboardInterrupt, ParameterError, StorageError):
        raise
    except Exception as exc:
        cause = _storage_cause(exc)
        if cause is None:
            raise
        raise StorageError(f"Optuna storage {mask(url)}: {what} failed: {type(cause).__name__}: "
                           f"{_first_line(cause)}") from None


def open_storage(url: str, *, heartbeat_s: int | None = None, grace_s: int | None = None):
    """The Optuna storage object for ``url`` (see the module docstring): an ``RDBStorage`` with a heartbeat every
    ``heartbeat_s`` seconds and stale trials failed after ``grace_s`` and retried once, or a ``JournalStorage``
    (defaults: :func:`kitlib.runtime.optuna_heartbeat`, ``KIT_OPTUNA_HEARTBEAT_S`` and ``KIT_OPTUNA_GRACE_S``).
    Raises ``ParameterError`` for an unknown kind of URL or a grace period not longer than the heartbeat,
    ``MissingDependencyError`` for a missing driver."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    kind = storage_kind(url)
    if kind == "journal":
        path = Path(url[len("journal:"):]).expanduser()
        if not str(path) or path.is_dir():
            raise ParameterError(f"journal storage {url!r}: expected journal:PATH naming a file")
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    beat, grace = optuna_heartbeat(heartbeat_s, grace_s)
    with warnings.catch_warnings():  # heartbeats are marked experimental; this scope only
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(database_url(url), heartbeat_interval=beat, grace_period=grace,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))


@contextlib.contextmanager
def _creation_lock(url: str) -> Iterator[None]:
    """Held while a study is created or joined: a PostgreSQL advisory lock (one worker creates the tables and
    the study, the others wait and join), a file lock beside a journal, nothing for SQLite (one process)."""
    kind = storage_kind(url)
    if kind == "journal":
        from filelock import FileLock

        path = Path(url[len("journal:"):]).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.kitlock"):
            yield
        return
    if kind != "postgresql":
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_url(url), poolclass=sqlalchemy.pool.NullPool)
    try:
        try:
            conn = engine.connect()
        except sqlalchemy.exc.OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise ParameterError(f"cannot open the Optuna storage {mask(url)}: {mask(reason)}") from None
        with conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK})
    finally:
        engine.dispose()
