"""Keep freed array memory in the process heap instead of handing it back to the OS.

Chain repricing allocates and frees dozens of 10-100 kB arrays per call. With glibc's default trim
threshold (128 kB) the heap top is returned to the kernel after each call, and the next call pays a
page fault for every fresh page: that doubles the cost of pricing a 10,000-contract chain. Raising
the trim threshold keeps those pages mapped; the memory stays reusable by the whole process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024

_applied = False


def keep_heap_warm() -> bool:
    """Raise glibc's heap trim threshold once per process; False where that does not apply."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _applied = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return _applied
