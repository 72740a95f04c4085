"""Sharing the CPU with other minigan processes: each gets its share of the cores for BLAS.

OpenBLAS starts one thread per core and keeps them spinning between products. Two processes that
each do so on the same cores spin against each other: two MLP runs side by side on a 2-core
machine took 3.1 s per epoch each, against 0.8 s alone, and 0.9-1.1 s each with one BLAS thread
apiece (bench/RESULTS.md). So every running minigan trainer registers itself (``CpuShare``: a file
in a per-user folder, held under an exclusive ``flock`` for the life of the process, so a crashed
one is never counted: its file stays, unlocked, and the next process of its pid takes it over), and
at the start and every few steps it counts the live ones and limits
its BLAS threads to its share, ``max(1, cores // running)`` (threadpoolctl), saying so once in
the log each time the share changes. A run alone keeps every core; no run ever gets more threads
than BLAS started with (``OPENBLAS_NUM_THREADS=1``, or a sweep's children, stay at one).

The thread count changes the order of a product's sums, so a run resumed beside another minigan
trainer is not bit-identical to one that ran alone (it is to one that ran beside it). The
registry is ``$MINIGAN_REGISTRY`` if set ("off": no sharing, BLAS keeps every core), else
``minigan-<uid>`` in ``$XDG_RUNTIME_DIR`` or the temporary folder; the tests give it a folder of their own.
"""
import os
import pathlib
import tempfile

from .progress import count_text

try:
    import fcntl
except ImportError:                                 # no advisory locks (Windows): no sharing, every core
    fcntl = None


ENV = "MINIGAN_REGISTRY"


def registry():
    """The per-user folder of running minigan processes, or None where it is turned off or cannot be made safely."""
    if os.environ.get(ENV) == "off":
        return None
    if os.environ.get(ENV):
        folder = pathlib.Path(os.environ[ENV])
    else:
        folder = pathlib.Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"minigan-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.stat(folder, follow_symlinks=False)
    except OSError:
        return None
    if not (os.path.isdir(folder) and not os.path.islink(folder) and info.st_uid == os.getuid()):
        return None                                 # another user's folder, or a link: not ours to use
    return folder


class CpuShare:
    """This process's entry among the running minigan trainers, and its share of the cores for BLAS."""

    def __init__(self, log, cores=None, folder=None):
        self.log, self.cores = log, cores or os.cpu_count() or 1
        self.folder = folder if folder is not None else (registry() if fcntl else None)
        self.threads, self._limits, self._handle = None, None, None
        self.ceiling = min(self.cores, _blas_threads() or self.cores)    # what BLAS started with
        if self.folder is not None:
            path = self.folder / f"{os.getpid()}.lock"
            try:
                handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600), "a+")
            except OSError:
                return                                   # not registered: this run keeps its threads
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return
            self._handle, self.path = handle, path

    def running(self):
        """How many minigan trainers run now, this one included: the registry's files whose lock is held."""
        if self._handle is None:
            return 1
        return 1 + sum(_held(entry) for entry in self.folder.glob("*.lock") if entry != self.path)

    def adjust(self):
        """Limit BLAS to this process's share of the cores; log a line when the share changes."""
        if self._handle is None:
            return
        running = self.running()
        threads = max(1, min(self.ceiling, self.cores // running))
        if threads == (self.threads or self.ceiling):
            self.threads = threads
            return
        from threadpoolctl import threadpool_limits
        if self._limits is not None:
            self._limits.restore_original_limits()
        self._limits = threadpool_limits(limits=threads, user_api="blas")
        threads_word = count_text(threads, "BLAS thread")
        if running > 1:
            self.log(f"minigan: {running} minigan trainers share this machine's {self.cores} cores: this one now "
                     f"uses {threads_word} (more would spin against each other)")
        else:
            self.log(f"minigan: no other minigan trainer runs now: this one uses {threads_word} again")
        self.threads = threads

    def close(self):
        """Leave the registry and give BLAS back its threads."""
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None
        if self._handle is not None:
            self.path.unlink(missing_ok=True)
            self._handle.close()
            self._handle = None


def _blas_threads():
    """The most threads any BLAS library loaded now uses (None when threadpoolctl sees none)."""
    from threadpoolctl import threadpool_info
    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=None)


def _held(path):
    """Whether another process holds the lock on ``path`` (a live minigan trainer)."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            return False
    except OSError:
        return False
