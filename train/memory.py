"""Keep freed memory in the process: the CPU engine's activations would otherwise page-fault.

A training step allocates and frees the same tens of megabytes of activations every minibatch.
glibc's malloc returns freed memory at the top of its heap to the kernel once more than
M_TRIM_THRESHOLD is free, and serves large requests with fresh mmap()s; either way the next
step touches new pages, and the kernel faults in and zeroes every 4 KiB page again. With a
stack of 8 LeNet5 that is ~15,000 page faults per step and ~30% of the step time on a 2-core
CPU (`dn bench`). Raising both thresholds keeps the pages in the process instead: the price
is that the resident memory stays at its peak until the process exits, which a training
process reaches anyway. Nothing is changed on non-glibc systems.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit systems (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int

@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds (once per process); True when they were set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):  # not glibc (musl, ...): leave malloc alone
        return False
