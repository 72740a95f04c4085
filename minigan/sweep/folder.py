"""A sweep folder belongs to one sweep: locked while the sweep runs, and a rerun of the same sweep resumes it.

``SweepFolder(path).claim(grid)`` creates the folder, takes an exclusive lock (``fcntl.flock`` on
``.minigan-sweep.lock``, released by the operating system even when the process is killed: a
second sweep into the folder is refused while the first runs), and records the grid in
``sweep.json``. A folder that holds another sweep (a ``sweep.json`` with another grid, or a
sweep's results without one) is refused, so no run and no table of an earlier sweep is ever
replaced. ``plan(config)`` then says what each run needs: "train" (nothing saved yet), "resume"
(an interrupted run of the same settings: its checkpoint), or "done" (a finished one, kept as it
is); a run folder holding a run of other settings is refused, naming both.
"""
import dataclasses
import json
import pathlib

from ..data.formats import write_atomically
from ..errors import RunFolderError
from ..train import checkpoint
from ..train.config import flag
from ..train.folder import LockedFolder, refuse_links

LOCK_NAME = ".minigan-sweep.lock"
GRID_NAME = "sweep.json"
RESULTS = ("sweep.csv", "sweep.md", "sweep.png")
PER_PROCESS = ("out", "backend", "max_steps")          # settings that do not make two runs different


class SweepFolder(LockedFolder):
    """The folder of one sweep; see the module docstring."""

    lock_name, holder = LOCK_NAME, "another minigan sweep"

    def __init__(self, path):
        self.path = path
        self._lock = None

    def claim(self, grid):
        """Create and lock the folder for ``grid`` (a ``Grid``); RunFolderError if it holds another sweep."""
        self.path.mkdir(parents=True, exist_ok=True)
        refuse_links(self.path / name for name in (LOCK_NAME, GRID_NAME, *RESULTS))
        self._acquire_lock()
        settings = json.loads(json.dumps(dataclasses.asdict(grid)))     # tuples as lists, as read back
        try:
            self._check_same_sweep(settings, json.loads(json.dumps(dataclasses.asdict(type(grid)()))))
        except RunFolderError:
            self.release()
            raise
        text = json.dumps(settings, indent=2) + "\n"
        write_atomically(self.path / GRID_NAME, lambda f: f.write(text.encode()))
        return self

    def _check_same_sweep(self, settings, defaults):
        """RunFolderError unless the folder is new or holds this grid's sweep (a setting an older sweep.json
        lacks counts as its default, ``defaults``: a sweep begun before the setting existed resumes)."""
        grid_file = self.path / GRID_NAME
        if grid_file.exists():
            try:
                before = json.loads(grid_file.read_text())
            except (OSError, ValueError, UnicodeDecodeError):
                before = None
            if isinstance(before, dict):
                before = {**{k: v for k, v in defaults.items() if k not in before}, **before}
            if before != settings:
                raise RunFolderError(f"{self.path} holds another sweep (its grid differs in "
                                     f"{_differences(before, settings)}); a sweep folder belongs to one sweep "
                                     "(rerun that sweep, with the options that give its grid, to resume it, or "
                                     "choose another --out)")
        elif any((self.path / name).exists() for name in RESULTS):
            raise RunFolderError(f"{self.path} holds a sweep's results but no {GRID_NAME} to say which sweep; "
                                 "minigan does not replace them (choose another --out)")

    def plan(self, config):
        """"train", "resume" or "done" for the run of ``config``; RunFolderError if its folder holds another run."""
        path = pathlib.Path(config.out) / "checkpoint.npz"
        if not path.exists():
            return "train"
        saved = checkpoint.load_checkpoint(path)
        old = checkpoint.config_of(saved)
        ours, theirs = _settings(config), _settings(old)
        if ours != theirs:
            changed = ", ".join(f"{k} {theirs[k]!r} there, {ours[k]!r} here" for k in sorted(ours)
                                if ours[k] != theirs.get(k))
            raise RunFolderError(f"{config.out} holds a run of other settings ({changed}); a sweep folder belongs "
                                 "to one sweep (choose another --out)")
        meta = saved["meta"]
        return "done" if meta["epoch"] >= config.epochs and meta["batch"] == 0 else "resume"



def _settings(config):
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in PER_PROCESS}


def _differences(before, settings):
    """Each setting that differs, as its option with both values: '--ema (0 there, 0.999 here)'."""
    if not isinstance(before, dict):
        return "its format"
    changed = [k for k in sorted(settings) if before.get(k) != settings[k]]
    return ", ".join(f"{flag(k)} ({_shown(before.get(k))} there, {_shown(settings[k])} here)"
                     for k in changed) or "its format"


def _shown(value):
    """A grid setting's value as its option takes it: lists space-separated, floats exactly (repr),
    "none" for no spectral norm or augmentation, "not given" for an option left out."""
    if isinstance(value, bool):
        return "given" if value else "not given"
    if value is None:
        return "not given"
    if isinstance(value, list):
        return " ".join(_shown(v) for v in value) or "[]"
    if value == "":
        return "none"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)
