"""Memory the kit's large tables free goes back to the system.

glibc keeps freed memory for reuse rather than returning it, and raises its threshold for giving a large
allocation its own mapping each time one is freed; a process that reads a 1,000,000-row set and copies fold rows
from it then holds several times the set's size in memory nobody uses. :func:`release_memory`, called after the
steps that free large tables (reading a competition's files, each fold), fixes that threshold (allocations of
:data:`MMAP_THRESHOLD` bytes and more get their own mapping, returned when freed) and trims the heap. Elsewhere
than Linux with glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

MMAP_THRESHOLD = 1 << 20  # 1 MiB: an array of a few thousand numbers and up is mapped on its own
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


@functools.cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only (musl has none)
    except (OSError, AttributeError):
        return None
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)  # once: a fixed threshold stops the dynamic one rising
    return libc


def release_memory() -> bool:
    """Return the memory freed so far to the system (see the module docstring); whether it could."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
