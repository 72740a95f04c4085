"""What a long run shows and how it stops: a progress bar, and stop requests from signals.

The bar is tqdm's (``tqdm.auto``, a widget in Jupyter, where ipywidgets is installed; otherwise
a line that fits the terminal, with the steps per second and the time left), drawn only where someone watches
(a terminal or a notebook). Log lines go through ``ProgressBar.write`` so they never tear it.

``StopRequest`` turns Ctrl-C (SIGINT), SIGTERM (what ``timeout``, ``docker stop`` and job
schedulers send) and SIGHUP (a closed terminal or SSH session) into a request to stop after the
current step; the trainer then saves a checkpoint and exits with 130, 143 or 129. A second
signal stops at once.
"""
import importlib.util
import signal
import sys

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143,
              **({signal.SIGHUP: 129} if hasattr(signal, "SIGHUP") else {})}     # no SIGHUP on Windows


def count_text(n, noun):
    """'1 epoch', '2 epochs': a count and its noun, for the lines a run or a sweep shows."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


class StopRequest:
    """A context manager: ``requested`` becomes the signal number once SIGINT, SIGTERM or SIGHUP arrives."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def __enter__(self):
        for signum in EXIT_CODES:
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:                     # not the main thread: no signal handling
                pass
        return self

    def _handle(self, signum, frame):
        if self.requested is not None:             # a second signal stops at once
            raise KeyboardInterrupt
        self.requested = signum

    @property
    def exit_code(self):
        """130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP (the shell's 128 + signal number), None when not stopped."""
        return EXIT_CODES.get(self.requested)

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


class ProgressBar:
    """One bar over a run's steps, the epoch in its title and the live numbers after it.

    Parameters
    ----------
    total : int
        Steps in the whole run.
    initial : int
        Steps already done (a resumed run).
    log : callable
        Where ``write`` sends a line; it is called with the bar cleared.
    enabled : bool or None
        None: draw only on a terminal or in a notebook.
    file : stream
        Where the bar is drawn (default: stderr).
    every_s : float
        The least time between redraws.
    """

    def __init__(self, total, initial=0, log=print, enabled=None, file=None, every_s=0.2):
        if importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm           # a widget in a notebook, the text bar elsewhere
        else:
            from tqdm import tqdm                # tqdm.auto would warn in a notebook without ipywidgets
        self.log = log
        self._bar = tqdm(total=total, initial=initial, disable=None if enabled is None else not enabled,
                         file=file if file is not None else sys.stderr, dynamic_ncols=True, leave=False,
                         unit="step", mininterval=every_s)

    def update(self, epoch, epochs, text):
        """Advance one step; ``text`` is shown after the bar."""
        self._bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
        self._bar.set_postfix_str(text, refresh=False)
        self._bar.update(1)

    def write(self, line):
        """Log ``line`` without tearing the bar."""
        if self._bar.disable:
            self.log(line)
            return
        with self._bar.external_write_mode():
            self.log(line)

    def close(self):
        self._bar.close()
