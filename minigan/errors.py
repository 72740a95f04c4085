"""The failures a user can cause and fix, as opposed to bugs.

Every exception that derives from ``UserError`` is an expected failure: a bad setting, a file
that is not what it claims to be, a run folder that belongs to another run. The command line
prints such an error as one line, ``minigan <command>: <what went wrong> (<what to do>)``, and
exits with status 2 (3 for a diverged run); anything else is a bug and keeps its traceback.
Each class also derives from the built-in exception a Python user would expect
(``ValueError``, ``RuntimeError``), so library callers can catch either.

It stands alone at the bottom of the package, below the backend, because every folder raises
these (the backend, the data, the metrics, the trainer) and the command line catches them.
"""


class UserError(Exception):
    """An expected failure with a message that says what went wrong and what to do."""


class ConfigError(UserError, ValueError):
    """A setting out of range or inconsistent with another; ``field`` names the setting.

    ``problem`` is the message without the owner, e.g. "must be a positive number, got -1.0",
    so the command line can name the flag (``--lr-d``) where the library names the field (``lr_d``).
    """

    def __init__(self, field, problem, owner="TrainConfig"):
        super().__init__(f"{owner}: {field} {problem}")
        self.field, self.problem = field, problem


class RunFolderError(UserError, RuntimeError):
    """A run folder that holds another run, is in use, or cannot be written."""


class TrainingDiverged(UserError, RuntimeError):
    """A loss, a gradient, a weight or an optimizer moment stopped being finite.

    The message says where it happened and which checkpoint is the last good one.
    """
