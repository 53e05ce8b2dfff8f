"""``kitlib.platforms.upload``: the platform table, and the checks made before any client is called."""
from __future__ import annotations

from pathlib import Path

import pytest
from kaggle_stub import no_network, submission_file  # noqa: F401  (fixtures are used by name)

from kitlib.errors import ParameterError, UploadError
from kitlib.platforms import PLATFORMS, upload


def test_unknown_platform_lists_known_ones(tmp_path: Path) -> None:
    assert PLATFORMS == ("aicrowd", "kaggle")
    with pytest.raises(ParameterError, match=r"Unknown platform 'codalab'; expected one of \['aicrowd', 'kaggle'\]"):
        upload("codalab", submission_file(tmp_path), "x")


@pytest.mark.parametrize("platform", ["aicrowd", "kaggle"])
def test_missing_file_is_not_uploaded(platform: str, tmp_path: Path, no_network: list[object]) -> None:
    with pytest.raises(UploadError, match=r"missing\.csv is not an existing file; nothing was sent"):
        upload(platform, tmp_path / "missing.csv", "demo")
    assert no_network == []
