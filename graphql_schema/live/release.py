"""Giving freed memory back to the system after many subscriptions closed.

A thousand subscriptions take about 25 MiB of small objects in a server process (connection,
operation, tasks, coroutines). Closed, part of them wait for a full garbage collection (they
refer to one another), and what is freed is not returned: Python's own allocator (pymalloc)
keeps every 1 MiB arena that still holds one live object, and the objects created while the
subscriptions were open (database connections, caches, log records) are spread over all of
them. Under ``PYTHONMALLOC=malloc`` the objects live in glibc's heap instead, whose free pages
`malloc_trim` hands back to the kernel; measured in docs/performance.md ("Fan-out").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)  # glibc only (not musl, not macOS)
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Collect the cycles closed connections leave (tasks, coroutines, frames and exceptions
    that refer to one another wait for a full collection otherwise), then return the C heap's
    free pages to the system; False where there is no `malloc_trim` (collected all the same)."""
    started = time.perf_counter()
    collected = gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    log.info(
        "after many subscriptions closed: %d objects collected, free memory %s in %.0f ms",
        collected,
        "returned to the system" if trim is not None else "kept (no malloc_trim here)",
        1000 * (time.perf_counter() - started),
    )
    return trim is not None
