"""Checkpoints: both networks, both optimizers, the random generators and the position in the data.

A checkpoint is one ``.npz`` file (NumPy's zip of arrays, read back with ``allow_pickle=False``):
the arrays ``G/<name>``, ``D/<name>`` (parameters and BatchNorm running statistics),
``opt_g/<i>/<key>``, ``opt_d/<i>/<key>`` (optimizer state), optionally ``perm`` (the current
epoch's data order), and ``meta``, a JSON document with the format tag, the run's config,
the epoch, batch and step counters, the random generators' states and the optimizers'
hyperparameters. It is written to a temporary file and renamed over the old one, so a crash
mid-write never leaves a half-written checkpoint.
"""
import json
import os
import pathlib
import zipfile

import numpy as np

FORMAT = "minigan-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file."""


def save_checkpoint(path, G, D, opt_g, opt_d, meta, perm=None):
    """Write the run's state to ``path`` atomically (temporary file, fsync, rename)."""
    path = pathlib.Path(path)
    arrays = {f"G/{k}": v for k, v in G.state_dict().items()}
    arrays.update({f"D/{k}": v for k, v in D.state_dict().items()})
    optimizers = {}
    for name, opt in (("opt_g", opt_g), ("opt_d", opt_d)):
        state = opt.state_dict()
        optimizers[name] = {"type": state["type"], "hyperparameters": state["hyperparameters"], "t": state["t"]}
        for i, entry in enumerate(state["state"]):
            arrays.update({f"{name}/{i}/{key}": value for key, value in entry.items()})
    if perm is not None:
        arrays["perm"] = np.asarray(perm, dtype=np.int64)
    document = dict(meta, format=FORMAT, optimizers=optimizers)
    arrays["meta"] = np.array(json.dumps(document))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path):
    """Read a checkpoint into ``{"meta": dict, "arrays": {name: ndarray}}``; CheckpointError if unreadable."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable minigan checkpoint ({type(error).__name__}: {error})") from error
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {meta.get('format')!r}, expected {FORMAT!r}")
    return {"meta": meta, "arrays": arrays}


def restore(checkpoint, G, D, opt_g=None, opt_d=None, path="checkpoint"):
    """Load the networks' (and optionally the optimizers') state from a loaded checkpoint into the objects."""
    arrays = checkpoint["arrays"]
    try:
        for prefix, model in (("G/", G), ("D/", D)):
            model.load_state_dict({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
        for name, opt in (("opt_g", opt_g), ("opt_d", opt_d)):
            if opt is None:
                continue
            saved = checkpoint["meta"]["optimizers"][name]
            entries = []
            for i in range(len(opt.params)):
                entries.append({key: arrays[f"{name}/{i}/{key}"] for key in opt._state_names
                                if f"{name}/{i}/{key}" in arrays})
            opt.load_state_dict(dict(saved, state=entries))
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: does not fit this model and optimizer: {error}") from error
