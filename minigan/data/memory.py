"""How much memory is free, so that a file's declared size can be refused before it is read.

A small file can declare gigabytes (a gzip of zeros, a zip member's stated size); minigan's
readers compare what a file says it holds with ``available_memory()`` first, and refuse in one
line, with ``size_text`` giving both figures. Host-side: it reads /proc/meminfo.
"""
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
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(n):
    """Bytes as a short figure: '7.84 GB', '392 kB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
