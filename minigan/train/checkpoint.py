"""Checkpoints: both networks, both optimizers, the random generators and the position in the data.

A checkpoint is one ``.npz`` file (NumPy's zip of arrays, read back with ``allow_pickle=False``):
the arrays ``G/<name>``, ``D/<name>`` (parameters and BatchNorm running statistics),
``opt_g/<i>/<key>``, ``opt_d/<i>/<key>`` (optimizer state), optionally ``perm`` (the current
epoch's data order), and ``meta``, a JSON document with the format tag, the run's config,
the epoch, batch and step counters, the random generators' states and the optimizers'
hyperparameters. A generator snapshot (``save_generator``) is the same format with ``G/``
arrays only and ``"kind": "generator"`` in its meta.

Writing goes to a temporary file that is renamed over the old one, so a crash mid-write never
leaves a half-written checkpoint; a failed write (a full disk) removes the temporary file.
Reading checks the archive and its meta before anything is used, and ``restore`` checks every
array against the models and optimizers before it changes any of them.
"""
import json
import pathlib
import zipfile

import numpy as np

from ..checks import is_int
from .config import TrainConfig
from ..data.formats import CHECKPOINT as FORMAT, CLASSIFIER as CLASSIFIER_FORMAT, DAMAGED_NPZ, read_archive, write_atomically
from ..errors import UserError

_META_TYPES = {"config": dict, "epoch": int, "batch": int, "step": int}
_RUN_META_TYPES = {"data_rng": dict, "noise_rng": dict, "optimizers": dict}


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file."""


def _nonfinite(arrays):
    """The names of the float arrays holding a NaN or an infinity, sorted."""
    return sorted(k for k, v in arrays.items() if v.dtype.kind == "f" and not np.isfinite(v).all())


def _write_atomically(path, arrays):
    path = pathlib.Path(path)
    bad = _nonfinite(arrays)
    if bad:
        raise CheckpointError(f"{path}: refusing to save non-finite arrays {bad}")
    write_atomically(path, lambda f: np.savez(f, **arrays))


def save_checkpoint(path, G, D, opt_g, opt_d, meta, perm=None, G_average=None):
    """Write the run's state to ``path`` atomically (temporary file, fsync, rename).

    ``G_average``: the moving average of G's weights (``ema.WeightAverage.model``), saved as ``E/<name>``.
    """
    arrays = {f"G/{k}": v for k, v in G.state_dict().items()}
    if G_average is not None:
        arrays.update({f"E/{k}": v for k, v in G_average.state_dict().items()})
    arrays.update({f"D/{k}": v for k, v in D.state_dict().items()})
    optimizers = {}
    for name, opt in (("opt_g", opt_g), ("opt_d", opt_d)):
        state = opt.state_dict()
        optimizers[name] = {"type": state["type"], "hyperparameters": state["hyperparameters"], "t": state["t"]}
        for i, entry in enumerate(state["state"]):
            arrays.update({f"{name}/{i}/{key}": value for key, value in entry.items()})
    if perm is not None:
        arrays["perm"] = np.asarray(perm, dtype=np.int64)
    arrays["meta"] = np.array(json.dumps(dict(meta, format=FORMAT, kind="run", optimizers=optimizers)))
    _write_atomically(path, arrays)


def save_generator(path, G, meta):
    """Write G's weights alone (a few MB): a snapshot that ``minigan sample`` reads like a checkpoint."""
    arrays = {f"G/{k}": v for k, v in G.state_dict().items()}
    arrays["meta"] = np.array(json.dumps(dict(meta, format=FORMAT, kind="generator")))
    _write_atomically(path, arrays)


CHECKPOINT_NAME = "checkpoint.npz"         # a run folder's checkpoint


def resolve(path):
    """The checkpoint file that ``path`` names: itself, or a run folder's checkpoint.npz."""
    path = pathlib.Path(path)
    if path.is_dir():
        if not (path / CHECKPOINT_NAME).is_file():
            raise CheckpointError(f"{path}: a folder with no {CHECKPOINT_NAME} (give a run folder or a checkpoint file)")
        return path / CHECKPOINT_NAME
    return path


def load_checkpoint(path):
    """Read a checkpoint into ``{"meta": dict, "arrays": {name: ndarray}}``; CheckpointError if unreadable.

    ``path``: a checkpoint or generator snapshot file, or a run folder (its checkpoint.npz).
    """
    path = resolve(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a minigan checkpoint (not an .npz archive)")
    try:
        arrays, meta = read_archive(path)
    except DAMAGED_NPZ as error:
        raise CheckpointError(f"{path}: not a readable minigan checkpoint ({type(error).__name__}: {error})") from None
    _check_meta(meta, path)
    bad = _nonfinite(arrays)
    if bad:                                        # minigan never saves such a state (save_checkpoint refuses)
        raise CheckpointError(f"{path}: holds NaN or infinite values ({', '.join(bad[:3])}"
                              f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}): not a state minigan "
                              "saved (use an earlier checkpoint or generator snapshot)")
    return {"meta": meta, "arrays": arrays, "path": str(path)}


def _check_meta(meta, path):
    found = meta.get("format") if isinstance(meta, dict) else meta
    if found == CLASSIFIER_FORMAT:
        raise CheckpointError(f"{path}: a classifier of minigan train-classifier, not a checkpoint "
                              "(give it to --classifier)")
    if not isinstance(meta, dict) or found != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {found!r}, expected {FORMAT!r}")
    types = dict(_META_TYPES, **(_RUN_META_TYPES if meta.get("kind", "run") == "run" else {}))
    for key, kind in types.items():
        value = meta.get(key)
        if not (is_int(value, 0) if kind is int else isinstance(value, kind)):
            expected = "an int >= 0" if kind is int else f"a {kind.__name__}"
            raise CheckpointError(f"{path}: malformed metadata: {key} must be {expected}, got {value!r}")


def config_of(checkpoint):
    """The run's TrainConfig saved in a loaded checkpoint; CheckpointError when it is malformed."""
    try:
        return TrainConfig.from_dict(checkpoint["meta"]["config"])
    except ValueError as error:
        raise CheckpointError(f"{checkpoint.get('path', 'checkpoint')}: malformed config: {error}") from None


def is_generator_only(checkpoint):
    """True for a generator snapshot (G's weights only), False for a full checkpoint."""
    return checkpoint["meta"].get("kind") == "generator"


def has_average(checkpoint):
    """True when a checkpoint holds a moving average of G's weights (``E/`` arrays)."""
    return any(name.startswith("E/") for name in checkpoint["arrays"])


def restore(checkpoint, G, D=None, opt_g=None, opt_d=None, G_average=None, sampler=False):
    """Load the networks' (and optionally the optimizers') state from a loaded checkpoint into the objects.

    ``G_average`` receives the ``E/`` arrays. ``sampler=True`` loads into G the generator that
    samples are drawn from: the average when the checkpoint has one, else G.
    Everything is checked first: a checkpoint that does not fit changes none of the objects.
    """
    path, arrays = checkpoint.get("path", "checkpoint"), checkpoint["arrays"]
    g_prefix = "E/" if sampler and has_average(checkpoint) else "G/"
    models = [(G, g_prefix)] + ([(D, "D/")] if D is not None else [])
    models += [(G_average, "E/")] if G_average is not None else []
    optimizers = [(o, name) for o, name in ((opt_g, "opt_g"), (opt_d, "opt_d")) if o is not None]
    if (D is not None or optimizers) and is_generator_only(checkpoint):
        raise CheckpointError(f"{path}: a generator snapshot holds G alone; resume from checkpoint.npz instead")
    try:
        model_states = [(m, {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)}) for m, p in models]
        opt_states = [(o, _optimizer_state(checkpoint, o, name)) for o, name in optimizers]
        for model, state in model_states:
            model.check_state_dict(state)
        for opt, state in opt_states:
            opt.check_state_dict(state)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: does not fit this model and optimizer: {error}") from None
    for model, state in model_states:
        model.load_state_dict(state)
    for opt, state in opt_states:
        opt.load_state_dict(state)


def _optimizer_state(checkpoint, opt, name):
    saved = checkpoint["meta"]["optimizers"].get(name)
    if not isinstance(saved, dict):
        raise ValueError(f"the metadata has no optimizer {name!r}")
    prefix = f"{name}/"
    entries = [{key: checkpoint["arrays"][f"{prefix}{i}/{key}"] for key in opt.state_names()
                if f"{prefix}{i}/{key}" in checkpoint["arrays"]} for i in range(len(opt.params))]
    return dict(saved, state=entries)
