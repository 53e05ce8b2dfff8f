"""Clock metrics: the common-sense error between two times on a 12-hour dial (tell the time)."""
from __future__ import annotations

__all__: list[str] = []
