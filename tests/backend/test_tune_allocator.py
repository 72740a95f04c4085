import sys

import pytest

from minigan import backend


def test_tune_allocator_applies_on_glibc_and_is_harmless_elsewhere():
    applied = backend.tune_allocator(top_pad_mb=64)
    assert isinstance(applied, bool)
    if sys.platform.startswith("linux"):
        import platform
        if platform.libc_ver()[0] == "glibc":
            assert applied


@pytest.mark.parametrize("bad", [-1, "lots"])
def test_tune_allocator_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="top_pad_mb must be a non-negative int"):
        backend.tune_allocator(top_pad_mb=bad)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and /proc page-fault counts")
def test_tune_allocator_keeps_large_blocks_out_of_mmap_whatever_the_process_freed_before():
    """The worst case: glibc's mmap threshold still at its starting 128 KiB when tune_allocator runs.

    With M_TOP_PAD alone that froze it there, and every array of 1-16 MB came from a fresh mmap
    and page-faulted in again on each use (~250 faults per MB). A child process starts from that
    state, as a script that frees no large block before training does.
    """
    import platform
    import subprocess

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    code = """
import ctypes, resource, numpy as np
ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)      # M_MMAP_THRESHOLD at glibc's start value
from minigan import backend
assert backend.tune_allocator()
def faults_per_use(nbytes, uses=20):
    a = np.empty(nbytes // 4, np.float32); a[:] = 1.0; del a          # the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(uses):
        a = np.empty(nbytes // 4, np.float32); a[:] = 1.0; del a
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / uses
print(max(faults_per_use(mb << 20) for mb in (1, 4, 16)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 20, f"{out.stdout.strip()} page faults per use of a freshly allocated array"
