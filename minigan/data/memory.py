"""How much memory there is, and how much is free, so that a file's declared size (or a network too
large for the machine) can be refused before anything is allocated.

A small file can declare gigabytes (a gzip of zeros, a zip member's stated size); minigan's
readers compare what a file says it holds with ``available_memory()`` first, and refuse in one
line, with ``size_text`` giving both figures. Host-side: it reads /proc/meminfo.
"""
import math
import os


def available_memory():
    """Bytes of memory the system can still give this process (Linux's MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None          # -1: the system does not say


def short_of(needed):
    """The free memory in bytes when ``needed`` bytes exceed it, else None (also when it is unknown):
    the one test behind every "declares more than the free memory" refusal."""
    available = available_memory()
    return available if available is not None and needed > available else None


def physical_memory():
    """This machine's memory in bytes (infinite where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return math.inf


def size_text(n):
    """Bytes as a short figure: '7.84 GB', '392 kB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
