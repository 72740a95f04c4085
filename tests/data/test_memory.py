"""What the machine holds: the free memory from /proc/meminfo or sysconf, None when neither says."""
import builtins
import io

import pytest

from minigan.data import memory


def test_the_free_memory_is_a_positive_number_here():
    assert memory.available_memory() is None or memory.available_memory() > 0
    assert memory.physical_memory() > 0


def test_meminfo_is_read_in_kibibytes(monkeypatch):
    real_open = builtins.open
    fake = "MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:    2000000 kB\n"
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: io.StringIO(fake) if path == "/proc/meminfo"
                        else real_open(path, *a, **k))
    assert memory.available_memory() == 2_000_000 * 1024


@pytest.mark.parametrize("pages, size, expected", [(10, 4096, 40960), (-1, 4096, None), (10, -1, None)])
def test_without_meminfo_sysconf_answers_and_minus_one_means_unknown(monkeypatch, pages, size, expected):
    def no_meminfo(path, *args, **kwargs):
        raise FileNotFoundError(path)
    monkeypatch.setattr(builtins, "open", no_meminfo)
    monkeypatch.setattr(memory.os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": pages, "SC_PAGE_SIZE": size}[name])
    assert memory.available_memory() == expected


def test_sizes_read_as_short_figures():
    assert [memory.size_text(n) for n in (12, 392_000, 67_100_000, 7.84e9)] == ["12 bytes", "392 kB", "67.1 MB",
                                                                                "7.84 GB"]


def test_short_of_gives_the_free_memory_only_when_it_is_too_little(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    assert (memory.short_of(1001), memory.short_of(1000)) == (1000, None)
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory.short_of(10 ** 30) is None
