"""The competitions the kit carries: an explicit table of the built-in ones (:mod:`.built_in`), each defined in its
own module or package, and the project's own, declared in ``competitions/<name>.toml`` (``kit new`` writes
them; see :mod:`.specfile`).

``kit run``, ``kit submit`` and ``kit runs`` read :data:`COMPETITIONS` (a :class:`~.registry.Registry`); adding a
built-in competition is one module or package here (defining ``COMPETITION``, in a package's
``competition.py``), one notebook, one test module, its demo data and a line in the table of :mod:`.built_in`.
Spec files are read when asked for (an error names the file and the key); a built-in name wins. Importing this
package imports only numpy and pandas: each module keeps torch, transformers and Keras inside
the functions that need them.
"""
from __future__ import annotations

from ..errors import ParameterError
from ..runtime import ROOT, project_dir
from .built_in import BUILT_IN, BUILT_IN_NAMES
from .registry import Registry
from .spec import Competition, Predictions, SubmissionSpec, competition_name

__all__ = ["ROOT", "Competition", "Predictions", "SubmissionSpec", "COMPETITIONS", "BUILT_IN", "BUILT_IN_NAMES",
           "get_competition", "competition_name", "project_dir", "Registry"]

COMPETITIONS: Registry = Registry(BUILT_IN)


def get_competition(name: str | Competition) -> Competition:
    """Return the competition called ``name`` (a :class:`Competition` is returned as it is); raise
    ``ParameterError`` listing the known ones, or naming the spec file and key that is wrong."""
    if isinstance(name, Competition):
        return name
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise ParameterError(f"Unknown competition {name!r}; expected one of {sorted(COMPETITIONS)}") from None
