"""Sharing the CPU: a trainer limits its BLAS threads to its share of the cores while others run."""
import os
import subprocess
import sys
import time

import pytest

from minigan.train import sharing

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def _hold(path):
    """Another process holding a registry entry, as a running trainer does; returns it once it holds it."""
    code = ("import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


@pytest.mark.skipif(sharing.fcntl is None, reason="no advisory locks on this system")
def test_the_share_follows_the_running_trainers_and_a_dead_ones_file_does_not_count(tmp_path):
    said = []
    share = sharing.CpuShare(said.append, cores=2, folder=tmp_path)
    share.ceiling = 2                                                 # whatever this machine's BLAS started with
    before = _blas_threads()
    try:
        (tmp_path / "99999999.lock").write_text("")                   # left by a trainer that was killed
        share.adjust()
        assert share.running() == 1 and share.threads == 2 and said == []
        other = _hold(tmp_path / "12345.lock")
        try:
            share.adjust()
            assert share.running() == 2 and share.threads == 1
            assert said == ["minigan: 2 minigan trainers share this machine's 2 cores: this one now uses 1 BLAS "
                            "thread (more would spin against each other)"]
            if before:
                assert _blas_threads() == [1] * len(before)
        finally:
            other.kill()
            other.wait()
            other.stdout.close()
        share.adjust()
        assert share.threads == 2 and said[-1] == "minigan: no other minigan trainer runs now: this one uses 2 BLAS threads again"
    finally:
        share.close()
    assert not (tmp_path / f"{os.getpid()}.lock").exists() and _blas_threads() == before


def test_the_registry_can_be_turned_off_and_is_never_another_users_or_a_link(tmp_path, monkeypatch):
    monkeypatch.setenv(sharing.ENV, "off")
    assert sharing.registry() is None and sharing.CpuShare(print).running() == 1
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    monkeypatch.setenv(sharing.ENV, str(tmp_path / "link"))
    assert sharing.registry() is None
    monkeypatch.setenv(sharing.ENV, str(tmp_path / "mine"))
    assert sharing.registry() == tmp_path / "mine" and oct((tmp_path / "mine").stat().st_mode & 0o777) == "0o700"


@pytest.mark.skipif(sharing.fcntl is None, reason="no advisory locks on this system")
def test_a_run_never_gets_more_threads_than_blas_started_with(tmp_path):
    said = []
    share = sharing.CpuShare(said.append, cores=4, folder=tmp_path)
    share.ceiling = 1                                                 # OPENBLAS_NUM_THREADS=1, or a sweep's child
    try:
        share.adjust()
        assert share.threads == 1 and said == []
    finally:
        share.close()
