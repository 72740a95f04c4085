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
