"""What a run records about the project it ran in, so that two runs differing by an edit can be told apart: the
git state of the project folder (and of the kit's own checkout when that is another one), the competition's spec
file and the features the run used.

- :func:`git_fields`: ``git_commit`` and ``git_dirty`` of the project folder (``KIT_PROJECT_DIR``, where ``kit new``
  writes; :func:`kitlib.runtime.project_dir`). Dirty means a tracked file changed below it, or an untracked file
  the competitor made there: ``competitions/*`` (specs, features modules) or ``notebooks/*.ipynb``; ``runs/`` and
  ``submissions/`` never count, other untracked files neither. A folder outside git records ``None`` for both.
  When the kit's checkout is a git repository other than the project's, its state is added as ``kit_git_commit``
  and ``kit_git_dirty`` (tracked files only, as before).
- :func:`spec_record`: ``{path, sha256}`` of a spec file; :func:`features_record`: the feature lists the models
  used (``categorical``, ``numeric``), the columns they left out with the reason (``unused``) and the features
  code (``code: {source, sha256}``). :meth:`kitlib.run.Run.log_provenance` writes both into the manifest, and
  ``kit runs`` shows a change of either under "differs" (:func:`feature_digest`).

Not to be confused with :mod:`kitlib.provenance`, the rule deciding which files may be uploaded.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from .runtime import ROOT, project_dir

COUNTED_UNTRACKED = (":(glob)competitions/*", ":(glob)notebooks/*.ipynb")  # relative to the project folder
NEVER_COUNTED = (":(exclude)runs", ":(exclude)submissions")
GIT_TIMEOUT_S = 30.0


def _git(args: list[str], cwd: Path) -> str | None:
    """The output of ``git <args>`` run in ``cwd``; ``None`` when git is missing, ``cwd`` is no folder or not in a
    git repository, or the command fails."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                              timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _toplevel(folder: Path) -> str | None:
    out = _git(["rev-parse", "--show-toplevel"], folder)
    return out.strip() if out else None


def checkout_state(folder: Path = ROOT) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout holding ``folder``, counting changed tracked files only;
    ``(None, None)`` outside git."""
    commit = _git(["rev-parse", "HEAD"], folder)
    status = _git(["status", "--porcelain", "--untracked-files=no"], folder) if commit else None
    if commit is None or status is None:
        return None, None
    return commit.strip(), bool(status.strip())


def project_state(folder: Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the project folder (``folder``, default :func:`kitlib.runtime.project_dir`): dirty
    when a tracked file below it changed, or an untracked ``competitions/*`` or ``notebooks/*.ipynb`` file is there
    (``runs/`` and ``submissions/`` never count); ``(None, None)`` outside git."""
    folder = Path(folder) if folder is not None else project_dir()
    commit = _git(["rev-parse", "HEAD"], folder)
    if commit is None:
        return None, None
    tracked = _git(["status", "--porcelain", "--untracked-files=no", "--", ".", *NEVER_COUNTED], folder)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "--", *COUNTED_UNTRACKED], folder)
    if tracked is None or untracked is None:
        return commit.strip(), None
    return commit.strip(), bool(tracked.strip() or untracked.strip())


def git_fields() -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the project folder (:func:`project_state`), and ``kit_git_commit`` and
    ``kit_git_dirty`` of the kit's checkout when that is a git repository other than the project folder's."""
    folder = project_dir()
    commit, dirty = project_state(folder)
    fields: dict[str, Any] = {"git_commit": commit, "git_dirty": dirty}
    kit_top = _toplevel(ROOT)
    if kit_top is not None and kit_top != _toplevel(folder):
        fields["kit_git_commit"], fields["kit_git_dirty"] = checkout_state(ROOT)
    return fields


def spec_record(spec_path: str | Path | None) -> dict[str, str] | None:
    """``{path, sha256}`` of the spec file ``spec_path`` (absolute path); ``None`` for none (a built-in competition)
    or a file that cannot be read."""
    if not spec_path:
        return None
    path = Path(spec_path).absolute()
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return {"path": str(path), "sha256": hashlib.sha256(data).hexdigest()}


def features_record(feature_code: Any, problem: Any) -> dict[str, Any]:
    """``{categorical, numeric, unused, code}``: the resolved feature lists of ``problem`` (a
    :class:`kitlib.tasks.tabular.Problem` from :func:`kitlib.tasks.tabular.load`), the columns it leaves out with
    the reason, and ``feature_code``'s ``{source, sha256}`` (a :class:`kitlib.tasks.tabular.FeatureCode`; ``None``:
    no features step)."""
    code = None if feature_code is None else {"source": str(feature_code.source), "sha256": str(feature_code.sha256)}
    return {"categorical": list(problem.categorical), "numeric": list(problem.numeric),
            "unused": {str(k): str(v) for k, v in dict(problem.unused).items()}, "code": code}


def feature_digest(record: Any) -> str | None:
    """Eight hex digits standing for a manifest's ``features`` record (the lists and the code's sha256, not the
    reasons' wording), for ``kit runs``' "differs"; ``None`` for a record that is not a table or is empty."""
    if not isinstance(record, dict) or not record:
        return None
    code = record.get("code") if isinstance(record.get("code"), dict) else {}
    unused = record.get("unused")
    key = [record.get("categorical"), record.get("numeric"), sorted(map(str, unused)) if isinstance(unused, dict)
           else None, code.get("sha256")]
    return hashlib.sha256(json.dumps(key, default=str, sort_keys=True).encode()).hexdigest()[:8]
