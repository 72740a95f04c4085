"""Phase 1 of a run: put it together, new (``new_run``) or from a checkpoint (``resumed_run``).

Both read top down, each step going once to the module that knows it, and nothing is written
until the folder is claimed in the last step:

1. the settings: the config checked; a resumed run's is the checkpoint's with the user's changes
   (``resumed_config``), which may not touch the networks' shapes;
2. the folder: writable, not yet claimed (``folder.RunFolder``);
3. the backend and the data (``parts.use_backend``, ``parts.load_data``);
4. the networks, optimizers, random generators and batches (``run.Run``, from ``parts``);
5. a resumed run only: the weights, BatchNorm statistics, optimizer moments and weight average
   (``restore_state``), then the position: random generators, epoch, batch, permutation
   (``restore_position``);
6. the folder claimed, and the run's files opened (``files.RunFiles``).
"""
import dataclasses
import pathlib

import numpy as np

from .. import backend, data
from ..errors import ConfigError
from ..gan.penalties import TERMS
from . import checkpoint, parts
from .config import FIXED_ON_RESUME, TrainConfig
from .files import RunFiles
from .folder import RunFolder
from .progress import count_text
from .run import Run

# Settings that belong to one invocation and are not taken over from a checkpoint.
PER_INVOCATION = ("backend", "max_steps")


def train(config, overwrite=False, log=print, verbose=False):
    """Train a GAN as ``config`` (a TrainConfig) says; returns the result dict of ``Run.train``.

    ``overwrite``: replace the run in ``config.out`` (its own files only) instead of refusing it.
    Raises ConfigError, RunFolderError, data.IdxError before anything is written, and
    TrainingDiverged when the run diverges (the last good checkpoint stays).
    """
    return new_run(config, overwrite=overwrite, log=log, verbose=verbose).train()


def resume(checkpoint_path, changes=None, overwrite=False, log=print, verbose=False):
    """Continue a run from its checkpoint; ``changes`` ({setting: value}) are applied and logged.

    The settings of ``FIXED_ON_RESUME`` (``model``, ``z_dim``, ``width``, ``spectral_norm``,
    ``conditional``: the networks' shapes) cannot change. ``epochs`` defaults to the checkpoint's
    own; ``out`` to the checkpoint's folder (another folder starts a branch of the run there, with
    the metrics so far).
    """
    return resumed_run(checkpoint_path, changes, overwrite=overwrite, log=log, verbose=verbose).train()


def new_run(config, overwrite=False, log=print, verbose=False):
    """A new Run, every setting, the data and the folder checked before the folder is claimed."""
    config = dataclasses.replace(config).validate()                     # step 1
    folder = RunFolder(config.out)                                       # step 2
    folder.check_writable()
    parts.use_backend(config.backend, log, verbose)                      # step 3
    run = Run(config, *parts.load_data(config), folder, log)             # step 4
    with folder.claim(overwrite=overwrite):                              # step 6
        run.files = RunFiles(folder, config, keep_until_step=None)
        run.files.write_real_samples(run.images, config.n_samples)
    return run


def resumed_run(path, changes=None, overwrite=False, log=print, verbose=False):
    """The Run saved in the checkpoint at ``path`` (or in the run folder ``path``), with ``changes`` applied,
    checked before anything is written."""
    path = checkpoint.resolve(path)
    saved = checkpoint.load_checkpoint(path)
    if checkpoint.is_generator_only(saved):
        raise checkpoint.CheckpointError(f"{path}: a generator snapshot cannot be resumed "
                                         "(resume from the run's checkpoint.npz)")
    old = checkpoint.config_of(saved)
    config = resumed_config(old, dict(changes or {}), path)             # step 1
    folder = RunFolder(config.out)                                       # step 2
    folder.check_writable()
    parts.use_backend(config.backend, log, verbose)                      # step 3
    run = Run(config, *parts.load_data(config), folder, log)             # step 4
    restore_state(run, saved)                                            # step 5
    restore_position(run, saved, old)
    home = pathlib.Path(path).parent
    same_folder = folder.path.resolve() == home.resolve()
    with folder.claim(overwrite=overwrite, resuming=same_folder):       # step 6
        run.files = RunFiles(folder, config, keep_until_step=run.step, copy_from=None if same_folder else home)
    for name, (before, after) in config.changes_from(old).items():
        if name not in PER_INVOCATION and not (name == "out" and same_folder):
            log(f"minigan: resuming with {name} {after} (was {before})")
    log(f"minigan: resumed from {path} at epoch {run.epoch + 1}, batch {run.batch}, step {run.step}")
    return run


def _is_permutation(perm, n):
    """Whether ``perm`` holds each of 0..n-1 once: the data order a checkpoint saved."""
    return (getattr(perm, "ndim", None) == 1 and perm.dtype.kind in ("i", "u") and len(perm) == n
            and np.array_equal(np.sort(perm), np.arange(n)))


def resumed_config(old, changes, path):
    """The checkpoint's config with the user's changes; refuses changes to the networks' shapes."""
    for name in FIXED_ON_RESUME:
        if name in changes and changes[name] != getattr(old, name):
            raise ConfigError(name, f"cannot change when resuming: the checkpoint {path} was trained with "
                                    f"{name} {getattr(old, name)!r} (start a new run for {changes[name]!r})")
    if "loss" in changes and "wgan-gp" in (old.loss, changes["loss"]) and changes["loss"] != old.loss:
        raise ConfigError("loss", f"cannot change to or from wgan-gp when resuming: its critic, penalty and "
                                  f"settings are its own (the checkpoint {path} was trained with {old.loss}; "
                                  "start a new run)")
    settings = dataclasses.asdict(old)
    settings.update(out=str(pathlib.Path(path).parent), max_steps=None, backend=backend.get_backend())
    settings.update(changes)
    config = TrainConfig(**settings).validate()
    if config.penalised != old.penalised:              # D is built with or without BatchNorm
        name = next(n for n in (*TERMS, "loss") if n in changes)
        raise ConfigError(name, f"is {getattr(config, name)!r}, but a gradient penalty cannot be "
                                f"{'added' if config.penalised else 'removed'} when resuming: a penalised run's D "
                                f"has no BatchNorm, and the checkpoint {path} was trained "
                                f"{'without' if config.penalised else 'with'} one (start a new run)")
    return config


def restore_state(run, saved):
    """Weights, statistics, optimizer moments and the weight average; the optimizers take the new settings."""
    config = run.config
    averaged = run.average is not None and checkpoint.has_average(saved)
    checkpoint.restore(saved, run.G, run.D, run.opt_g, run.opt_d, G_average=run.average.model if averaged else None)
    if run.average is not None:
        run.average.updates = int(saved["meta"].get("ema_updates", 0)) if averaged else 0
        if not averaged:                           # an average starts here, from G's current weights
            run.average.model.load_state_dict(run.G.state_dict())
    for opt, lr in ((run.opt_g, config.lr_g), (run.opt_d, config.lr_d)):
        opt.lr, opt.betas = lr, (config.beta1, config.beta2)
    run.opt_d.clip_value = parts.clip_value(config, run.loss)


def restore_position(run, saved, old):
    """Random generators and the place in the epoch, adjusted for a new seed, batch size or data.

    Refuses (ConfigError) a checkpoint that has already trained the epochs asked for.
    """
    meta, config = saved["meta"], run.config
    run.epoch, run.batch, run.step = meta["epoch"], meta["batch"], meta["step"]
    run.saved_step = run.step
    try:
        run.data_rng.bit_generator.state, run.noise_rng.bit_generator.state = meta["data_rng"], meta["noise_rng"]
    except (KeyError, TypeError, ValueError) as error:
        raise checkpoint.CheckpointError(f"{saved['path']}: malformed random generator state ({error})") from None
    run.perm = saved["arrays"].get("perm")
    if config.seed != old.seed:                    # fresh data order and noise from the new seed
        run.data_rng, run.noise_rng = parts.rngs(config.seed, run.step)
        run.batches.rng = run.data_rng
        if run.augment is not None:
            run.augment.rng = run.noise_rng
    if "data" in meta:
        changed = meta["data"] != data.fingerprint(run.images, run.labels)
    else:                                          # a checkpoint from before fingerprints: compare sizes
        changed = run.perm is not None and len(run.perm) != len(run.images)
        if config.limit is not None:
            run.log("minigan: this checkpoint predates --limit's class-balanced subsets (it took the first "
                    f"{config.limit} images); the run continues on the balanced subset")
    if changed and run.perm is not None:
        run.log(f"minigan: the training data changed; epoch {run.epoch + 1} starts again in a new order")
        run.perm, run.batch = None, 0
    elif run.perm is not None and not _is_permutation(run.perm, len(run.images)):
        raise checkpoint.CheckpointError(f"{saved['path']}: its data order (perm) is not an order of the "
                                         f"{len(run.images)} training images: not a checkpoint minigan saved "
                                         "(use another checkpoint, or start again with --overwrite)")
    elif config.batch_size != old.batch_size:      # same images seen so far, counted in the new batches
        run.batch = run.batch * old.batch_size // config.batch_size
    if run.epoch >= config.epochs:
        done = count_text(run.epoch, "epoch") + (f" and {run.batch} steps of the next" if run.batch else "")
        raise ConfigError("epochs", f"is {config.epochs}, but the checkpoint has already trained {done}: "
                                    f"nothing to do (ask for more, e.g. --epochs {run.epoch + 5})")
