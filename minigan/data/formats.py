"""minigan's own files: the names of their formats, and how they are written (atomically).

Both kinds of file are .npz archives with a JSON ``meta`` entry whose ``"format"`` names the
kind; each reader recognises the other's format, so a file given in the wrong place is named as
what it is. Both are written by ``write_atomically``: a crash leaves the old file or the new one.
"""
import os
import pathlib

CHECKPOINT = "minigan-checkpoint-1"    # minigan train's checkpoints and generator snapshots (train/checkpoint.py)
CLASSIFIER = "minigan-classifier-1"    # minigan train-classifier's files (metrics/classifier.py)


def write_atomically(path, write):
    """Call ``write(binary file)`` on a temporary file, fsync it and rename it to ``path``.

    The temporary file ``<path>.tmp`` is one this call creates (anything already under that name,
    a symbolic link included, is removed first, never written through), so the rename replaces
    ``path`` itself, never a file a link points to. A crash leaves the old file or the new one,
    never half of one. On failure (a full disk) the temporary file is removed and an OSError
    without a file name gets ``path`` as its name.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644),
                       "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)                # a full disk: give the space back
        if isinstance(error, OSError) and error.filename is None:
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
