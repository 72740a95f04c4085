"""A run folder belongs to one run: unique default names, no silent overwrites, one writer at a time.

``RunFolder(path).check_writable()`` only looks (it writes nothing), so a run checks its folder
with everything else before it writes a byte. ``claim()`` then creates the folder, takes an
exclusive lock (``fcntl.flock`` on ``.minigan.lock``, released by the operating system even when
the process is killed), and refuses a folder that already holds a run unless told to
``overwrite`` it, in which case it removes that run's own files and nothing else. It refuses a
folder whose ``config.json`` is not a minigan run's (files minigan did not write are never
removed), and a folder where any name minigan writes is a symbolic link (minigan never writes
through a link, which could point anywhere outside the folder).
"""
import errno
import json
import os
import pathlib
import time

from ..errors import RunFolderError

# Every file a run writes: the only files --overwrite removes.
OWN_FILES = ("config.json", "checkpoint.npz", "checkpoint.npz.tmp", "metrics.jsonl", "samples.png",
             "real_samples.png", "curves.png", "progress.gif")
OWN_PATTERNS = ("grid_epoch_*.png", "generator_epoch_*.npz", "generator_epoch_*.npz.tmp", "*.json.tmp")
LOCK_NAME = ".minigan.lock"
# The settings every minigan run's config.json holds: how --overwrite recognises a run it wrote.
RUN_KEYS = {"model", "loss", "epochs", "seed", "z_dim"}


def new_run_path(root="runs"):
    """A fresh folder ``<root>/<date>-<time>`` (``-2``, ``-3``... on a clash), created here and now.

    Creating it is what makes the name unique: ``mkdir`` succeeds for exactly one process.
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        path = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunFolderError(f"{root}: could not find a free run folder name for {stamp} (pass --out DIR)")


class LockedFolder:
    """A folder that one minigan process holds at a time: the ``lock_name`` file under ``path``, locked
    while held (``exclusive_lock``); ``holder`` says who else would hold it in the refusal."""

    lock_name, holder = None, None

    def _acquire_lock(self):
        self._lock = exclusive_lock(self.path / self.lock_name, self.holder)

    def release(self):
        """Give up the lock and remove its file (the process's exit gives up the lock too)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class RunFolder(LockedFolder):
    """The folder of one run; see the module docstring."""

    lock_name, holder = LOCK_NAME, "another minigan process"

    def __init__(self, path=None, root="runs"):
        self.given = path is not None                   # False: a new folder under root, named at claim()
        self.path = pathlib.Path(path) if self.given else pathlib.Path(root)
        self._lock = None

    def __truediv__(self, name):
        return self.path / name

    def own_files(self):
        """The files of a run in this folder (what --overwrite would remove), sorted."""
        if not self.path.is_dir():
            return []
        found = {self.path / name for name in OWN_FILES if (self.path / name).exists()}
        for pattern in OWN_PATTERNS:
            found.update(self.path.glob(pattern))
        return sorted(found)

    def holds_run(self):
        return bool(self.own_files())

    def is_minigan_run(self):
        """Whether config.json is a minigan run's: a JSON object with the settings every run writes."""
        try:
            settings = json.loads((self.path / "config.json").read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            return False
        return isinstance(settings, dict) and RUN_KEYS <= set(settings)

    def check_no_links(self):
        """RunFolderError naming the first name minigan writes that is a symbolic link here."""
        names = [self.path / LOCK_NAME, *(self.path / name for name in OWN_FILES)]
        for pattern in OWN_PATTERNS:
            names += self.path.glob(pattern)
        refuse_links(names)

    def check_writable(self):
        """RunFolderError unless the folder exists and is writable, or could be created; writes nothing."""
        if self.path.exists() and not self.given:
            if not self.path.is_dir() or not os.access(self.path, os.W_OK | os.X_OK):
                raise RunFolderError(f"{self.path} is not a writable folder for new runs (pass --out DIR)")
            return
        if self.path.exists():
            if not self.path.is_dir():
                raise RunFolderError(f"--out {self.path} is a file, not a folder (choose another --out)")
            if not os.access(self.path, os.W_OK | os.X_OK):
                raise RunFolderError(f"--out {self.path} is not writable (choose another --out)")
            return
        parent = self.path.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise RunFolderError(f"--out {self.path} cannot be created: {parent} is not a writable folder "
                                 "(choose another --out)")

    def claim(self, overwrite=False, resuming=False):
        """Create the folder, lock it, and make sure it holds no other run (see the module docstring)."""
        try:
            if not self.given:
                self.path, self.given = new_run_path(self.path), True
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunFolderError(f"--out {self.path} cannot be created: {error.strerror} (choose another --out)")
        self.check_no_links()
        self._acquire_lock()
        if resuming or not self.holds_run():
            return self
        if not overwrite:
            self.release()
            if (self.path / "checkpoint.npz").is_file():
                raise RunFolderError(
                    f"{self.path} already holds a run (continue it with --resume {self.path}, "
                    "replace it with --overwrite, or choose another --out)")
            raise RunFolderError(
                f"{self.path} already holds a run that stopped before its first checkpoint, so it cannot be "
                "continued (start it again with --overwrite, or choose another --out)")
        if not self.is_minigan_run():
            self.release()
            raise RunFolderError(
                f"--overwrite: {self.path} holds files that no minigan run wrote (its config.json is missing or "
                "not a minigan run's); minigan replaces only its own runs (choose another --out)")
        for path in self.own_files():
            path.unlink()
        return self

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        """Used as ``with folder.claim(): ...``: the lock is kept, unless the block failed."""
        if kind is not None:
            self.release()


def refuse_links(paths):
    """RunFolderError naming the first of ``paths`` that is a symbolic link: minigan never writes through one."""
    for path in paths:
        if path.is_symlink():
            raise RunFolderError(f"{path} is a symbolic link; minigan never writes through a link "
                                 "(remove it, or choose another --out)")


def exclusive_lock(path, holder):
    """A ``FolderLock`` holding an exclusive ``flock`` on ``path`` (created if need be; never through a link).

    RunFolderError, naming the folder and ``holder`` ("another minigan process"), when it is held
    already. The operating system releases it when the process ends, even by kill -9. None where
    the system has no advisory locks (Windows: one writer is on trust).
    """
    try:
        import fcntl
    except ImportError:
        return None
    while True:
        try:                                            # O_NOFOLLOW: never create a link's target
            handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644), "a+")
        except OSError as error:
            raise RunFolderError(f"{path} cannot be opened as minigan's lock ({error.strerror}; remove it, or "
                                 "choose another --out)") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunFolderError(f"{path.parent} is in use by {holder} "
                                     "(wait for it to finish, or choose another --out)") from None
            raise
        if _same_file(handle, path):                     # not removed by its last holder while we waited
            return FolderLock(path, handle)
        handle.close()


def _same_file(handle, path):
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path, follow_symlinks=False))
    except OSError:
        return False


class FolderLock:
    """A held lock file; ``release()`` removes the file, then gives up the lock, so a finished run
    leaves no lock behind (a process that opened the file meanwhile sees it gone and opens a new one)."""

    def __init__(self, path, handle):
        self.path, self.handle = path, handle

    def release(self):
        if self.handle is None:
            return
        try:
            if _same_file(self.handle, self.path):
                self.path.unlink()
        except OSError:                                  # a folder made read-only: the empty file stays
            pass
        finally:
            self.handle.close()
            self.handle = None
