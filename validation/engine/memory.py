"""glibc malloc settings for an inference process: keep freed memory for the next batch.

Every batch allocates and frees the same large blocks (the input, each layer's activations).
By default glibc serves blocks over 128 KiB to 32 MiB with fresh mmap'd pages, or trims the
heap once 128 KiB are free at its top, so each batch faults its memory back in page by page:
on the demo model that was ~10,000 page faults and ~25 % of a CPU forward's time. With these
settings those blocks come from the heap and stay there for reuse.

The resident size then stays near the run's peak, which the batch size bounds; an RQ work horse
is a process per job, so it is all given back when the job ends.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

TRIM_THRESHOLD = 1 << 30  # give memory back only when 1 GiB is free at the heap's top
TOP_PAD = 64 << 20  # grow the heap 64 MiB at a time
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit for this setting


def keep_freed_memory() -> bool:
    """Apply the settings; False (and nothing changed) where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
    )
    return all(mallopt(param, value) == 1 for param, value in settings)
