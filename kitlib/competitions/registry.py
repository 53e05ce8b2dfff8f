"""The registry of competitions: the built-in table first, then the project's spec files
(``competitions/<name>.toml``, read by :mod:`.specfile` when asked for)."""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from .spec import Competition

__all__ = ["Registry"]


class Registry(MutableMapping):
    """Name -> :class:`Competition`: the built-in table first, then the spec files of the project folder.

    Iterating lists names without parsing a spec; looking one up (``values()`` looks them all up) reads its
    file, so a broken spec is an error naming it only when it is used. Setting an item puts a competition
    in the table (tests replace a built-in one this way)."""

    def __init__(self, built_in: tuple[Competition, ...]):
        self._table = {c.name: c for c in built_in}

    def __getitem__(self, name: str) -> Competition:
        if isinstance(name, str) and name in self._table:
            return self._table[name]
        from .specfile import load_spec, spec_path

        if self._spec_exists(name):
            return load_spec(spec_path(name))
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return (isinstance(name, str) and name in self._table) or self._spec_exists(name)

    @staticmethod
    def _spec_exists(name: object) -> bool:
        """Whether ``competitions/<name>.toml`` is a file of the project folder, for a ``name`` that is a plain file
        name (no path separator or NUL, not too long for the file system: a name such as ``../x`` or 300 characters
        is no competition, never a path). :func:`.specfile.load_spec` then checks it is a competition name."""
        from .specfile import spec_path

        if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            return False
        if len(f"{name}.toml".encode("utf-8", "surrogatepass")) > 255:
            return False
        try:
            return spec_path(name).is_file()
        except (OSError, ValueError):
            return False

    def __setitem__(self, name: str, competition: Competition) -> None:
        self._table[name] = competition

    def __delitem__(self, name: str) -> None:
        del self._table[name]

    def __iter__(self) -> Iterator[str]:
        from .specfile import spec_names

        yield from self._table
        yield from (n for n in spec_names() if n not in self._table)

    def __len__(self) -> int:
        return sum(1 for _ in self)
